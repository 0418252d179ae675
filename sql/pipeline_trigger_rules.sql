-- Every trigger rule, with Airflow's meaning.  Upstream tasks: ok (succeeds),
-- bad (fails), skip (skipped: its all_failed rule is not met).  Each rule is
-- tried against several mixes of upstream outcomes.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
RESET client_min_messages;
CREATE EXTENSION pgetl;

SELECT pgetl_create_pipeline('rules', max_parallel => 8);
SELECT pgetl_add_task('rules', 'ok', 'SELECT 1');
SELECT pgetl_add_task('rules', 'ok2', 'SELECT 1');
SELECT pgetl_add_task('rules', 'bad', 'SELECT 1/0');
SELECT pgetl_add_task('rules', 'bad2', 'SELECT 1/0');
SELECT pgetl_add_task('rules', 'skip', 'SELECT 1', '{ok}', trigger_rule => 'all_failed');

-- one downstream task per (rule, upstream mix)
SELECT count(pgetl_add_task('rules', rule || '__' || replace(ups, ',', '_'), 'SELECT 1',
                            string_to_array(ups, ','), trigger_rule => rule))
  FROM unnest(ARRAY['all_success', 'all_failed', 'all_done', 'one_success', 'one_failed',
                    'none_failed', 'none_failed_min_one_success', 'none_skipped', 'always']) AS rule,
       unnest(ARRAY['ok,ok2', 'ok,bad', 'bad,bad2', 'ok,skip', 'skip']) AS ups;
-- downstream of an upstream_failed task
SELECT pgetl_add_task('rules', 'after_upstream_failed', 'SELECT 1', '{all_success__ok_bad}');
SELECT pgetl_add_task('rules', 'cleanup', 'SELECT 1', '{after_upstream_failed}', trigger_rule => 'all_done');

SELECT pgetl_run('rules');

SELECT split_part(task, '__', 1) AS rule,
       string_agg(split_part(task, '__', 2) || '=' || state, ', ' ORDER BY split_part(task, '__', 2)) AS outcome
  FROM pgetl.task_run WHERE task LIKE '%\_\_%'
 GROUP BY 1 ORDER BY 1;
SELECT task, state FROM pgetl.task_run WHERE task NOT LIKE '%\_\_%' ORDER BY task;
-- the leaves decide the run's state, as in Airflow: 'cleanup' (all_done)
-- succeeded but other leaves failed
SELECT state, reason, tasks_success, tasks_failed, tasks_upstream_failed, tasks_skipped
  FROM pgetl.pipeline_run;

-- a failure followed by an all_done cleanup leaf: the run succeeds, as in Airflow
SELECT pgetl_create_pipeline('cleanup_leaf');
SELECT pgetl_add_task('cleanup_leaf', 'work', 'SELECT 1/0');
SELECT pgetl_add_task('cleanup_leaf', 'cleanup', 'SELECT 1', '{work}', trigger_rule => 'all_done');
SELECT pgetl_run('cleanup_leaf') IS NOT NULL AS ran;
SELECT task, state FROM pgetl.task_run WHERE pipeline = 'cleanup_leaf' ORDER BY task;
SELECT state FROM pgetl.pipeline_run WHERE pipeline = 'cleanup_leaf';

-- one_success does not wait for the other upstream tasks
SELECT pgetl_create_pipeline('eager');
SELECT pgetl_add_task('eager', 'fast', 'SELECT 1');
SELECT pgetl_add_task('eager', 'slow', 'SELECT pg_sleep(1)');
SELECT pgetl_add_task('eager', 'first', 'SELECT 1', '{fast,slow}', trigger_rule => 'one_success');
SELECT pgetl_run('eager') IS NOT NULL AS ran;
SELECT f.finished_at < s.finished_at AS first_did_not_wait
  FROM pgetl.task_run f, pgetl.task_run s
 WHERE f.pipeline = 'eager' AND f.task = 'first' AND s.pipeline = 'eager' AND s.task = 'slow';

-- the rules of Airflow >= 2.9 against the same mixes (all_done_setup_success:
-- pgetl has no setup tasks, so it is all_done)
SELECT pgetl_create_pipeline('rules29', max_parallel => 8);
SELECT pgetl_add_task('rules29', 'ok', 'SELECT 1');
SELECT pgetl_add_task('rules29', 'ok2', 'SELECT 1');
SELECT pgetl_add_task('rules29', 'bad', 'SELECT 1/0');
SELECT pgetl_add_task('rules29', 'bad2', 'SELECT 1/0');
SELECT pgetl_add_task('rules29', 'skip', 'SELECT 1', '{ok}', trigger_rule => 'all_failed');
SELECT count(pgetl_add_task('rules29', rule || '__' || replace(ups, ',', '_'), 'SELECT 1',
                            string_to_array(ups, ','), trigger_rule => rule))
  FROM unnest(ARRAY['one_done', 'all_skipped', 'all_done_min_one_success', 'all_done_setup_success']) AS rule,
       unnest(ARRAY['ok,ok2', 'ok,bad', 'bad,bad2', 'ok,skip', 'skip']) AS ups;
SELECT pgetl_run('rules29') IS NOT NULL AS ran;
SELECT split_part(task, '__', 1) AS rule,
       string_agg(split_part(task, '__', 2) || '=' || state, ', ' ORDER BY split_part(task, '__', 2)) AS outcome
  FROM pgetl.task_run WHERE pipeline = 'rules29' AND task LIKE '%\_\_%'
 GROUP BY 1 ORDER BY 1;

-- one_done does not wait for the other upstream tasks either (Airflow >= 2.9)
SELECT pgetl_create_pipeline('eager_done');
SELECT pgetl_add_task('eager_done', 'fast', 'SELECT 1/0');
SELECT pgetl_add_task('eager_done', 'slow', 'SELECT pg_sleep(1)');
SELECT pgetl_add_task('eager_done', 'first', 'SELECT 1', '{fast,slow}', trigger_rule => 'one_done');
SELECT pgetl_run('eager_done', wait => false) IS NOT NULL AS started;
DO $$ BEGIN
    WHILE EXISTS (SELECT FROM pgetl.pipeline_run WHERE pipeline = 'eager_done' AND state = 'running') LOOP
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT f.state, f.finished_at < s.finished_at AS first_did_not_wait
  FROM pgetl.task_run f, pgetl.task_run s
 WHERE f.pipeline = 'eager_done' AND f.task = 'first' AND s.pipeline = 'eager_done' AND s.task = 'slow';

-- the decisions of the new rules, upstream by upstream (total, success,
-- failed, skipped, done), as Airflow's trigger_rule_dep decides them
SELECT rule, n_up, n_success, n_failed, n_skipped, n_done,
       pgetl._trigger_decision(rule, n_up, n_success, n_failed, n_skipped, n_done) AS decision
  FROM unnest(ARRAY['one_done', 'all_skipped', 'all_done_min_one_success', 'all_done_setup_success']) AS rule,
       (VALUES (2, 0, 0, 0, 0), (2, 1, 0, 0, 1), (2, 0, 1, 0, 1), (2, 0, 0, 1, 1), (2, 0, 0, 2, 2),
               (2, 1, 1, 0, 2), (2, 0, 2, 0, 2), (2, 1, 0, 1, 2)) AS c(n_up, n_success, n_failed, n_skipped, n_done)
 ORDER BY rule, n_success, n_failed, n_skipped;
