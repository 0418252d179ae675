-- Dynamic task mapping (Airflow's .expand()): a task with map_over expands,
-- when ready, into one mapped instance per row of that query (run as the
-- pipeline owner, reading pgetl_result() of upstream tasks), in row order,
-- map_index 0..n-1; inside an instance pgetl_map_value(column) and
-- pgetl_map_index() answer (elsewhere 55000).  Each instance has its own
-- tries; downstream tasks see the mapped task as one task whose state the
-- instances add up to (a failed instance fails it; all skipped skips it),
-- and pgetl_result() of it is the array of the instances' results in
-- map_index order.  No row skips the task; more than max_map_length fails
-- it before any instance runs; a failing map_over query fails it with its
-- error.  pgetl_resume re-runs the failed instances only; pgetl_clear
-- expands again.  Definitions round-trip through pgetl_definition.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
DROP TABLE IF EXISTS map_log;
RESET client_min_messages;
CREATE EXTENSION pgetl;
\i test/setup/regress.sql
CREATE TABLE map_log (task text, map_index integer, value text);
GRANT ALL ON map_log TO PUBLIC;
CREATE TABLE map_fail (region text);
GRANT ALL ON map_fail TO PUBLIC;

-- (the pipeline for the interplay checks below is defined first: the
-- scheduler notices that a task uses a pool within a second, and by its
-- run it has long)
SELECT pgetl_create_pool('one_slot', 1);
CREATE TABLE map_spans (map_index integer, started timestamptz, ended timestamptz);
GRANT ALL ON map_spans TO PUBLIC;
SELECT pgetl_create_pipeline('interplay', max_parallel => 3);
SELECT pgetl_add_task('interplay', 'pooled',
    $q$DO $d$ DECLARE t0 timestamptz := clock_timestamp();
      BEGIN PERFORM pg_sleep(0.2); INSERT INTO map_spans VALUES (pgetl_map_index(), t0, clock_timestamp()); END $d$$q$,
    pool => 'one_slot', map_over => $$SELECT g FROM generate_series(1, 3) g$$);
SELECT pgetl_add_task('interplay', 'sensing', $$SELECT pgetl_map_value('ready')::boolean$$, kind => 'sensor',
    config => '{"mode": "poke", "poke_interval": "1 second"}', map_over => $$SELECT true AS ready UNION ALL SELECT true$$);
SELECT pgetl_add_task('interplay', 'gate', $$SELECT false$$, kind => 'short_circuit');
SELECT pgetl_add_task('interplay', 'gated', $$SELECT 1$$, '{gate}', map_over => $$SELECT 1 AS x$$);

-- mapping over rows of an upstream task's result: instances in row order,
-- each with its value and index; the results array in map_index order;
-- downstream tasks run once, after every instance
SELECT pgetl_create_pipeline('mapper', max_parallel => 3);
SELECT pgetl_add_task('mapper', 'regions', $$SELECT jsonb_build_array('north', 'south', 'east', 'west') AS regions$$);
SELECT pgetl_add_task('mapper', 'per_region',
    $$INSERT INTO map_log VALUES ('per_region', pgetl_map_index(), pgetl_map_value('region'));
      SELECT upper(pgetl_map_value('region')) AS name, pgetl_map_index() AS i, pgetl_map_value('n') AS n$$,
    '{regions}',
    map_over => $$SELECT r AS region, n FROM jsonb_array_elements_text(pgetl_result('regions') -> 'regions') WITH ORDINALITY x(r, n)$$);
SELECT pgetl_add_task('mapper', 'summary',
    $$INSERT INTO map_log VALUES ('summary', NULL, pgetl_result('per_region')::text)$$, '{per_region}');
SELECT pgetl_run('mapper') IS NOT NULL AS ran;
SELECT task, map_index, try_number, state, result FROM pgetl.task_run WHERE pipeline = 'mapper'
 ORDER BY task, map_index NULLS FIRST, try_number;
SELECT state, tasks_total, tasks_success, tasks_running FROM pgetl.pipeline_run WHERE pipeline = 'mapper';
SELECT task, map_index, value FROM map_log ORDER BY task, map_index;
TRUNCATE map_log;

-- zero rows: the mapped task is skipped (no instance); all_success
-- downstream is skipped, all_done runs
SELECT pgetl_create_pipeline('empty_map');
SELECT pgetl_add_task('empty_map', 'nothing', $$SELECT 1$$, map_over => $$SELECT 1 AS x WHERE false$$);
SELECT pgetl_add_task('empty_map', 'after', $$INSERT INTO map_log VALUES ('after')$$, '{nothing}');
SELECT pgetl_add_task('empty_map', 'always', $$INSERT INTO map_log VALUES ('always')$$, '{nothing}',
                      trigger_rule => 'all_done');
SELECT pgetl_run('empty_map') IS NOT NULL AS ran;
SELECT task, map_index, state, rows, error FROM pgetl.task_run WHERE pipeline = 'empty_map' ORDER BY task, map_index NULLS FIRST;
SELECT task FROM map_log ORDER BY task;
TRUNCATE map_log;

-- all instances skipped (pgetl_skip in each): the task is skipped; some
-- skipped, some succeeded: success, with null results for the skipped
SELECT pgetl_create_pipeline('skips');
SELECT pgetl_add_task('skips', 'all_skip', $$SELECT pgetl_skip('no ' || pgetl_map_value('x'))$$,
                      map_over => $$SELECT g AS x FROM generate_series(1, 2) g$$);
SELECT pgetl_add_task('skips', 'some_skip',
    $$SELECT CASE WHEN pgetl_map_index() = 0 THEN pgetl_skip()::text ELSE pgetl_map_value('x') END AS v$$,
    map_over => $$SELECT g AS x FROM generate_series(1, 2) g$$);
SELECT pgetl_run('skips') IS NOT NULL AS ran;
SELECT task, map_index, state, result, error FROM pgetl.task_run WHERE pipeline = 'skips' ORDER BY task, map_index NULLS FIRST;

-- more rows than max_map_length: the task fails before any instance runs
-- (54000, with a hint); raising the limit lets the same run resume
SELECT pgetl_create_pipeline('too_many', max_map_length => 3);
SELECT pgetl_add_task('too_many', 'wide', $$INSERT INTO map_log VALUES ('wide', pgetl_map_index())$$,
                      map_over => $$SELECT g FROM generate_series(1, 5) g$$);
\x on
SELECT * FROM pg_temp.try($$SELECT pgetl_run('too_many')$$);
SELECT task, map_index, state, error, sqlstate, detail, hint FROM pgetl.task_run WHERE pipeline = 'too_many';
\x off
SELECT count(*) AS instances_ran FROM map_log;
SELECT pgetl_alter_pipeline('too_many', max_map_length => 5);
SELECT pgetl_resume((SELECT run_id FROM pgetl.pipeline_run WHERE pipeline = 'too_many')) IS NOT NULL AS resumed;
SELECT task, map_index, try_number, state FROM pgetl.task_run WHERE pipeline = 'too_many' ORDER BY map_index NULLS FIRST, try_number;
TRUNCATE map_log;

-- a failing map_over query fails the task with its error
SELECT pgetl_create_pipeline('bad_map');
SELECT pgetl_add_task('bad_map', 'broken', $$SELECT 1$$, map_over => $$SELECT * FROM no_such_table$$);
SELECT code, message FROM pg_temp.try($$SELECT pgetl_run('bad_map')$$);
SELECT task, map_index, state, error, sqlstate FROM pgetl.task_run WHERE pipeline = 'bad_map';

-- a failing instance with retries: each instance retries on its own; the
-- one that keeps failing fails the mapped task (Airflow: a failed instance
-- fails the task), so all_success downstream is upstream_failed, while
-- one_failed and all_done downstream run; the failure report names it
INSERT INTO map_fail VALUES ('south');
SELECT pgetl_create_pipeline('flaky', max_parallel => 4);
SELECT pgetl_add_task('flaky', 'load',
    $$INSERT INTO map_log VALUES ('load', pgetl_map_index(), pgetl_map_value('region'));
      DO $d$ BEGIN
        IF EXISTS (SELECT FROM map_fail WHERE region = pgetl_map_value('region')) THEN
          RAISE EXCEPTION 'cannot load %', pgetl_map_value('region') USING ERRCODE = 'data_exception';
        END IF;
      END $d$;
      SELECT pgetl_map_value('region') AS loaded$$,
    map_over => $$SELECT * FROM (VALUES ('north'), ('south'), ('east')) v(region)$$, retries => 2, retry_delay => '0',
    on_retry => $$INSERT INTO map_log (task, map_index, value) SELECT 'retry', (pgetl_callback_context() ->> 'map_index')::integer, pgetl_callback_context() ->> 'event'$$);
SELECT pgetl_add_task('flaky', 'publish', $$INSERT INTO map_log VALUES ('publish')$$, '{load}');
SELECT pgetl_add_task('flaky', 'alert', $$INSERT INTO map_log VALUES ('alert')$$, '{load}', trigger_rule => 'one_failed');
SELECT pgetl_add_task('flaky', 'cleanup', $$INSERT INTO map_log VALUES ('cleanup')$$, '{load}', trigger_rule => 'all_done');
\x on
SELECT code, message, detail FROM pg_temp.try($$SELECT pgetl_run('flaky')$$);
\x off
SELECT task, map_index, try_number, state, error, sqlstate FROM pgetl.task_run WHERE pipeline = 'flaky'
 ORDER BY task, map_index NULLS FIRST, try_number;
SELECT task, map_index, value FROM map_log WHERE task IN ('retry', 'publish', 'alert', 'cleanup') ORDER BY task, map_index;
SELECT state, tasks_failed, tasks_upstream_failed, tasks_success FROM pgetl.pipeline_run WHERE pipeline = 'flaky';
TRUNCATE map_log;

-- resume re-runs the failed instance only (not north and east, which
-- succeeded, and without expanding again), then the downstream tasks
DELETE FROM map_fail;
SELECT pgetl_resume((SELECT run_id FROM pgetl.pipeline_run WHERE pipeline = 'flaky')) IS NOT NULL AS resumed;
SELECT task, map_index, try_number, state FROM pgetl.task_run WHERE pipeline = 'flaky'
 ORDER BY task, map_index NULLS FIRST, try_number;
SELECT task, map_index, value FROM map_log WHERE task IN ('load', 'publish') ORDER BY task, map_index;
SELECT state FROM pgetl.pipeline_run WHERE pipeline = 'flaky';
TRUNCATE map_log;

-- clear of a mapped task expands it again: every instance re-runs
SELECT pgetl_clear((SELECT run_id FROM pgetl.pipeline_run WHERE pipeline = 'flaky'), '{load}', downstream => false) IS NOT NULL AS cleared;
SELECT task, map_index, value FROM map_log ORDER BY task, map_index;
SELECT map_index, max(try_number) AS tries, (array_agg(state ORDER BY try_number DESC))[1] AS state
  FROM pgetl.task_run WHERE pipeline = 'flaky' AND task = 'load' GROUP BY map_index ORDER BY map_index NULLS FIRST;
TRUNCATE map_log;

-- interplay (pipeline defined at the top): instances of a task in a
-- one-slot pool run one at a time (each takes its pool_slots), though
-- max_parallel would allow three; a mapped sensor pokes per instance; a
-- mapped task downstream of a false short_circuit is skipped without
-- expanding
SELECT pgetl_run('interplay') IS NOT NULL AS ran;
SELECT task, map_index, state, error FROM pgetl.task_run WHERE pipeline = 'interplay' ORDER BY task, map_index NULLS FIRST;
SELECT count(*) AS spans, bool_and(ended > started) AS timed,
       bool_and(NOT EXISTS (SELECT FROM map_spans b WHERE b.map_index <> a.map_index
                             AND tstzrange(b.started, b.ended) && tstzrange(a.started, a.ended))) AS never_overlapped
  FROM map_spans a;

-- the graph shows a mapped task once, with its instances' count
SELECT pgetl_graph('mapper', format => 'mermaid') ~ 'mapped \[4\]' AS mapped_label,
       (SELECT count(*) FROM regexp_matches(pgetl_graph('mapper', format => 'mermaid'), 'per_region', 'g')) AS per_region_mentions;

-- the run report lists a mapped task once, by its own try; the Gantt
-- chart draws a bar per try of its instances too (load: 3 tries of its
-- own, 2 + 5 + 2 of its instances)
SELECT btrim(split_part(line, '|', 1)) AS task, btrim(split_part(line, '|', 2)) AS state,
       btrim(split_part(line, '|', 3)) AS try
  FROM regexp_split_to_table(pgetl_report((SELECT run_id FROM pgetl.pipeline_run WHERE pipeline = 'flaky')), E'\n') AS line
 WHERE line ~ '^ *(load|publish|alert|cleanup) ' ORDER BY 1;
SELECT (SELECT count(*) FROM regexp_matches(pgetl_gantt((SELECT run_id FROM pgetl.pipeline_run WHERE pipeline = 'flaky'), 'svg'),
                                            '<title>load: try', 'g')) AS load_bars;

-- definitions round-trip map_over and max_map_length
SELECT pgetl_definition('too_many') -> 'max_map_length' AS max_map_length,
       pgetl_definition('too_many') -> 'tasks' -> 0 -> 'map_over' AS map_over;
SELECT (pgetl_apply(pgetl_definition('mapper') || '{"name": "mapper_copy"}')) ->> 'changed' AS applied;
SELECT pgetl_definition('mapper_copy') - 'name' = pgetl_definition('mapper') - 'name' AS same;

-- bad inputs
\x on
SELECT * FROM pg_temp.try($$SELECT pgetl_map_value('x')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_map_index()$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('mapper', 'blank', 'SELECT 1', map_over => '  ')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('mapper', 'br', 'SELECT ''a''', kind => 'branch', map_over => 'SELECT 1')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('mapper', 'st', 'SELECT 1', setup => true, map_over => 'SELECT 1')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_create_pipeline('bad_len', max_map_length => 0)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_alter_pipeline('mapper', max_map_length => 100001)$$);
\x off
-- inside an unmapped task: 55000; an unknown column inside an instance: 42703
SELECT pgetl_create_pipeline('misuse');
SELECT pgetl_add_task('misuse', 'unmapped', $$SELECT pgetl_map_index()$$);
SELECT pgetl_add_task('misuse', 'unknown_column', $$SELECT pgetl_map_value('nope')$$, map_over => $$SELECT 1 AS x$$);
SELECT code FROM pg_temp.try($$SELECT pgetl_run('misuse')$$);
SELECT task, map_index, state, error, sqlstate FROM pgetl.task_run WHERE pipeline = 'misuse' ORDER BY task, map_index NULLS FIRST;
