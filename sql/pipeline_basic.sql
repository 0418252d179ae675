-- Define -> run -> inspect history, for a diamond DAG; params, results,
-- logical date, check tasks.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
RESET client_min_messages;
CREATE EXTENSION pgetl;
CREATE TABLE diamond_log (task text, value int, run_id bigint, day date);

SELECT pgetl_create_pipeline('diamond', 'a diamond: extract -> (left, right) -> load',
                             max_parallel => 2, params => '{"factor": 10, "region": "EU"}');
SELECT pgetl_add_task('diamond', 'extract',
    $$INSERT INTO diamond_log VALUES ('extract', 1, pgetl_run_id(), pgetl_logical_date());
      SELECT 1 AS n, pgetl_param('region') AS region$$);
SELECT pgetl_add_task('diamond', 'left',
    $$INSERT INTO diamond_log SELECT 'left', (pgetl_result('extract')->>'n')::int * pgetl_param('factor')::int, pgetl_run_id();
      SELECT count(*) AS rows FROM diamond_log WHERE run_id = pgetl_run_id() AND task <> 'right'$$, '{extract}');
SELECT pgetl_add_task('diamond', 'right',
    $$INSERT INTO diamond_log VALUES ('right', 2, pgetl_run_id())$$, '{extract}');
SELECT pgetl_add_task('diamond', 'load',
    $$SELECT sum(value) AS total, pgetl_param('region') AS region FROM diamond_log WHERE run_id = pgetl_run_id()$$,
    '{left,right}');
SELECT pgetl_add_task('diamond', 'quality',
    $$SELECT count(*) = 3 AS three_rows, sum(value) AS total FROM diamond_log WHERE run_id = pgetl_run_id()$$,
    '{load}', kind => 'check');

SELECT pipeline, tasks, max_parallel, params FROM pgetl.pipelines;
SELECT task, kind, upstream, trigger_rule FROM pgetl.tasks ORDER BY task;

-- run params override pipeline defaults; the run waits and returns its id
SELECT pgetl_run('diamond', params => '{"region": "US"}', logical_date => '2026-01-31');

SELECT run_id, pipeline, state, params, logical_date, started_by = current_user AS by_me,
       finished_at >= started_at AS ordered, duration = finished_at - started_at AS duration_ok,
       tasks_total, tasks_success, tasks_failed, reason
  FROM pgetl.pipeline_run;

SELECT task, try_number, state, result, rows, error,
       started_at IS NOT NULL AND finished_at >= started_at AS timed,
       pid IS NOT NULL AS had_worker
  FROM pgetl.task_run ORDER BY task;

-- upstream tasks finished before their downstream tasks started
SELECT d.task, u.task AS upstream, u.finished_at <= d.started_at AS in_order
  FROM pgetl.task_run d
  JOIN pgetl.tasks t ON t.task = d.task
  CROSS JOIN LATERAL unnest(t.upstream) AS up(name)
  JOIN pgetl.task_run u ON u.task = up.name AND u.run_id = d.run_id
 ORDER BY 1, 2;

SELECT task, value, run_id, day FROM diamond_log ORDER BY task;

-- a task's work and the run's history commit on their own: they survive the
-- caller's rollback
BEGIN;
SELECT pgetl_run('diamond') AS run_id;
ROLLBACK;
SELECT run_id, state, tasks_success FROM pgetl.pipeline_run ORDER BY run_id;
SELECT run_id, count(*) AS log_rows FROM diamond_log GROUP BY run_id ORDER BY run_id;

-- a failing check fails its task, and the run, with the check's message; the
-- history is committed although the caller's transaction fails
SELECT pgetl_add_task('diamond', 'impossible',
    $$SELECT count(*) = 0 AS no_rows FROM diamond_log WHERE run_id = pgetl_run_id()$$,
    '{quality}', kind => 'check');
BEGIN;
SELECT pgetl_run('diamond');
ROLLBACK;
SELECT task, state, error, sqlstate, detail FROM pgetl.task_run WHERE run_id = 3 AND state <> 'success';
SELECT run_id, state, reason, tasks_success, tasks_failed FROM pgetl.pipeline_run ORDER BY run_id;

-- the functions a task uses, outside a task
SELECT pgetl_run_id();
SELECT pgetl_logical_date();
SELECT pgetl_param('region');
SELECT pgetl_result('extract');

-- no waiting: the id comes back at once; the run goes on
SELECT pgetl_drop_pipeline('diamond');
SELECT pgetl_create_pipeline('sleepy');
SELECT pgetl_add_task('sleepy', 'nap', 'SELECT pg_sleep(0.3)');
SELECT pgetl_run('sleepy', wait => false) AS run_id \gset
SELECT state FROM pgetl.pipeline_run WHERE run_id = :run_id;
SELECT pg_sleep(1);
SELECT state FROM pgetl.pipeline_run WHERE run_id = :run_id;

-- dropping a pipeline keeps its history; purge removes it
SELECT count(*) FROM pgetl.pipeline_run WHERE pipeline = 'diamond';
SELECT pgetl_purge_history(older_than => '0 seconds') >= 3 AS purged;
SELECT count(*) FROM pgetl.pipeline_run WHERE pipeline = 'diamond';
SELECT count(*) FROM pgetl.task_run_record WHERE run_id <= 3;
