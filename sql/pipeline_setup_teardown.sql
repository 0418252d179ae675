-- Setup and teardown tasks, with Airflow's (>= 2.7) meanings:
-- pgetl_add_task(..., setup => true) and (..., teardown => true, upstream
-- => ARRAY[setup, ...]) pair them as setup >> work >> teardown does.
-- Proves: a teardown task runs after its work failed, and the run still
-- fails (teardown tasks are not the leaves that decide it); a teardown's
-- failure does not fail the run unless on_failure_fail_run; a failed setup
-- task stops the work and its teardown (upstream_failed), a skipped one
-- skips them; resume and clear re-run the setup and teardown tasks of a
-- re-run task in their scope; every bad input is refused (22023, hint);
-- pgetl.tasks and pgetl_definition/pgetl_apply show the new settings.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
DROP TABLE IF EXISTS st_log, st_flag;
RESET client_min_messages;
CREATE EXTENSION pgetl;
-- errors as SQLSTATE, message, detail and hint (no source location: it differs between versions)
\i test/setup/regress.sql
CREATE TABLE st_log (n serial, task text);
CREATE TABLE st_flag (fail boolean);
INSERT INTO st_flag VALUES (true);
GRANT ALL ON st_log, st_flag TO PUBLIC;
GRANT ALL ON SEQUENCE st_log_n_seq TO PUBLIC;
-- the outcome of a run, its id masked
CREATE FUNCTION pg_temp.outcome(stmt text) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(code || ': ' || message, 'run [0-9]+', 'run N') FROM pg_temp.try(stmt)
$$;

-- the work fails: the teardown still runs (after it), the run fails
SELECT pgetl_create_pipeline('scratch');
SELECT pgetl_add_task('scratch', 'create_scratch', $$INSERT INTO st_log (task) VALUES ('create_scratch')$$,
                      setup => true);
SELECT pgetl_add_task('scratch', 'work',
    $$INSERT INTO st_log (task) VALUES ('work'); SELECT 1 / (NOT fail)::integer FROM st_flag$$,
    '{create_scratch}');
SELECT pgetl_add_task('scratch', 'drop_scratch', $$INSERT INTO st_log (task) VALUES ('drop_scratch')$$,
                      '{create_scratch,work}', teardown => true);
-- a task outside the scope
SELECT pgetl_add_task('scratch', 'report', $$INSERT INTO st_log (task) VALUES ('report')$$);
SELECT pipeline, task, upstream, trigger_rule, setup, teardown, on_failure_fail_run
  FROM pgetl.tasks WHERE pipeline = 'scratch' ORDER BY task;
SELECT pg_temp.outcome($$SELECT pgetl_run('scratch')$$);
SELECT task, try_number, state FROM pgetl.task_run WHERE pipeline = 'scratch' ORDER BY task, try_number;
SELECT state, reason FROM pgetl.pipeline_run WHERE pipeline = 'scratch';
SELECT task FROM st_log WHERE task <> 'report' ORDER BY n;
SELECT count(*) AS report_ran FROM st_log WHERE task = 'report';
TRUNCATE st_log;

-- resume: the failed work is re-run inside its scope, so its setup and
-- teardown tasks are re-run too (Airflow clears them with it)
UPDATE st_flag SET fail = false;
SELECT pg_temp.outcome($$SELECT pgetl_resume(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'scratch'$$);
SELECT task, try_number, state FROM pgetl.task_run WHERE pipeline = 'scratch' ORDER BY task, try_number;
SELECT state, reason FROM pgetl.pipeline_run WHERE pipeline = 'scratch';
SELECT task FROM st_log ORDER BY n;
TRUNCATE st_log;

-- clear, without downstream: the work alone is named, its setup and
-- teardown come along; a task outside the scope does not
SELECT pg_temp.outcome($$SELECT pgetl_clear(run_id, ARRAY['work'], downstream => false) FROM pgetl.pipeline_run WHERE pipeline = 'scratch'$$);
SELECT task, max(try_number) AS tries, (array_agg(state ORDER BY try_number DESC))[1] AS state
  FROM pgetl.task_run WHERE pipeline = 'scratch' GROUP BY task ORDER BY task;
SELECT task FROM st_log ORDER BY n;
TRUNCATE st_log;

-- clearing a setup task re-runs its teardown task too, not its work
SELECT pg_temp.outcome($$SELECT pgetl_clear(run_id, ARRAY['create_scratch'], downstream => false) FROM pgetl.pipeline_run WHERE pipeline = 'scratch'$$);
SELECT task FROM st_log ORDER BY n;
TRUNCATE st_log;

-- the teardown fails: the run succeeds all the same (the work succeeded)
SELECT pgetl_create_pipeline('leaky');
SELECT pgetl_add_task('leaky', 'setup', $$SELECT 1$$, setup => true);
SELECT pgetl_add_task('leaky', 'work', $$SELECT 1$$, '{setup}');
SELECT pgetl_add_task('leaky', 'teardown', $$SELECT 1/0$$, '{setup,work}', teardown => true);
SELECT pg_temp.outcome($$SELECT pgetl_run('leaky')$$);
SELECT task, state FROM pgetl.task_run WHERE pipeline = 'leaky' ORDER BY task;
SELECT state, reason FROM pgetl.pipeline_run WHERE pipeline = 'leaky';

-- ... unless on_failure_fail_run
SELECT pgetl_create_pipeline('strict');
SELECT pgetl_add_task('strict', 'setup', $$SELECT 1$$, setup => true);
SELECT pgetl_add_task('strict', 'work', $$SELECT 1$$, '{setup}');
SELECT pgetl_add_task('strict', 'teardown', $$SELECT 1/0$$, '{setup,work}', teardown => true,
                      on_failure_fail_run => true);
SELECT pg_temp.outcome($$SELECT pgetl_run('strict')$$);
SELECT task, state FROM pgetl.task_run WHERE pipeline = 'strict' ORDER BY task;
SELECT state, reason FROM pgetl.pipeline_run WHERE pipeline = 'strict';

-- a teardown task with a downstream task: that task is the leaf, and the
-- failed work upstream of the teardown still fails the run
SELECT pgetl_create_pipeline('chain');
SELECT pgetl_add_task('chain', 'setup', $$SELECT 1$$, setup => true);
SELECT pgetl_add_task('chain', 'work', $$SELECT 1/0$$, '{setup}');
SELECT pgetl_add_task('chain', 'teardown', $$SELECT 1$$, '{setup,work}', teardown => true);
SELECT pgetl_add_task('chain', 'notify', $$SELECT 1$$, '{teardown}');
SELECT pg_temp.outcome($$SELECT pgetl_run('chain')$$);
SELECT task, state FROM pgetl.task_run WHERE pipeline = 'chain' ORDER BY task;
SELECT state FROM pgetl.pipeline_run WHERE pipeline = 'chain';

-- the setup task fails: neither the work nor the teardown runs
-- (upstream_failed, as Airflow's all_done_setup_success decides), and
-- the run fails
SELECT pgetl_create_pipeline('nosetup');
SELECT pgetl_add_task('nosetup', 'setup', $$SELECT 1/0$$, setup => true);
SELECT pgetl_add_task('nosetup', 'work', $$INSERT INTO st_log (task) VALUES ('work')$$, '{setup}');
SELECT pgetl_add_task('nosetup', 'teardown', $$INSERT INTO st_log (task) VALUES ('teardown')$$,
                      '{setup,work}', teardown => true);
SELECT pg_temp.outcome($$SELECT pgetl_run('nosetup')$$);
SELECT task, state FROM pgetl.task_run WHERE pipeline = 'nosetup' ORDER BY task;
SELECT state, reason FROM pgetl.pipeline_run WHERE pipeline = 'nosetup';
SELECT count(*) AS ran FROM st_log;

-- the setup task skips itself: the work and the teardown are skipped, the
-- run succeeds
SELECT pgetl_create_pipeline('skipsetup');
SELECT pgetl_add_task('skipsetup', 'setup', $$SELECT pgetl_skip('nothing to set up')$$, setup => true);
SELECT pgetl_add_task('skipsetup', 'work', $$INSERT INTO st_log (task) VALUES ('work')$$, '{setup}');
SELECT pgetl_add_task('skipsetup', 'teardown', $$INSERT INTO st_log (task) VALUES ('teardown')$$,
                      '{setup,work}', teardown => true);
SELECT pg_temp.outcome($$SELECT pgetl_run('skipsetup')$$);
SELECT task, state FROM pgetl.task_run WHERE pipeline = 'skipsetup' ORDER BY task;
SELECT state FROM pgetl.pipeline_run WHERE pipeline = 'skipsetup';
SELECT count(*) AS ran FROM st_log;

-- the decisions of all_done_setup_success, with upstream setup tasks
-- (total, success, failed, skipped, done; setups, their successes and skips)
SELECT n_up, n_success, n_failed, n_skipped, n_done, n_setup, n_setup_success, n_setup_skipped,
       pgetl._trigger_decision('all_done_setup_success', n_up, n_success, n_failed, n_skipped, n_done,
                               n_setup, n_setup_success, n_setup_skipped) AS decision
  FROM (VALUES (2, 1, 0, 0, 1, 1, 1, 0), (2, 1, 1, 0, 2, 1, 1, 0), (2, 0, 1, 1, 2, 1, 0, 1),
               (2, 1, 1, 0, 2, 1, 0, 0), (3, 1, 1, 1, 3, 2, 0, 1), (3, 1, 1, 1, 3, 2, 1, 1),
               (2, 0, 0, 2, 2, 2, 0, 2)) AS c(n_up, n_success, n_failed, n_skipped, n_done,
                                               n_setup, n_setup_success, n_setup_skipped);

-- bad input: SQLSTATE, message, detail and hint
\x on
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('scratch', 'both', 'SELECT 1', setup => true, teardown => true)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('scratch', 'lonely', 'SELECT 1', '{work}', teardown => true)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('scratch', 'lonely', 'SELECT 1', teardown => true)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('scratch', 'strict_work', 'SELECT 1', '{work}', on_failure_fail_run => true)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('scratch', 'eager', 'SELECT 1', '{create_scratch}', teardown => true, trigger_rule => 'one_success')$$);
-- pgetl_apply checks the same rules, once the document's edges are in
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "doc", "tasks": [{"name": "t", "command": "SELECT 1", "teardown": true}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "doc", "tasks": [{"name": "t", "command": "SELECT 1", "setup": true, "teardown": true}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply(pgetl_definition('scratch') || '{"tasks": [{"name": "create_scratch", "command": "SELECT 1"}, {"name": "drop_scratch", "command": "SELECT 1", "upstream": ["create_scratch"], "teardown": true}]}')$$);
\x off
-- a teardown task added with upstream => NULL gets its edges later; a run
-- checks it has a setup task
SELECT pgetl_create_pipeline('late');
SELECT pgetl_add_task('late', 'setup', 'SELECT 1', setup => true);
SELECT pgetl_add_task('late', 'teardown', 'SELECT 1', NULL, teardown => true);
\x on
SELECT * FROM pg_temp.try($$SELECT pgetl_run('late')$$);
\x off
SELECT pgetl_add_dependency('late', 'teardown', '{setup}');
SELECT pg_temp.outcome($$SELECT pgetl_run('late')$$);

-- pipelines as code: the document has the new keys and round-trips
SELECT jsonb_pretty(pgetl_definition('strict') -> 'tasks');
SELECT pgetl_apply(pgetl_definition('strict')) ->> 'changed' AS changed;
SELECT pgetl_apply(jsonb_set(pgetl_definition('strict'), '{name}', '"strict_copy"')) ->> 'changed' AS changed;
SELECT pgetl_definition('strict_copy') - 'name' = pgetl_definition('strict') - 'name' AS same;
-- a task made a setup task by a document
SELECT pgetl_apply('{"name": "doc", "tasks": [{"name": "s", "command": "SELECT 1"}, {"name": "t", "command": "SELECT 1", "upstream": ["s"]}]}') -> 'changes';
SELECT pgetl_apply('{"name": "doc", "tasks": [{"name": "s", "command": "SELECT 1", "setup": true}, {"name": "t", "command": "SELECT 1", "upstream": ["s"], "teardown": true}]}') -> 'changes';
SELECT task, upstream, trigger_rule, setup, teardown FROM pgetl.tasks WHERE pipeline = 'doc' ORDER BY task;

-- pgetl_graph: setup and teardown tasks say so, and the edge from a setup
-- task to its teardown task is dashed
SELECT pgetl_graph('leaky', format => 'dot');
SELECT pgetl_graph('leaky', format => 'mermaid');

-- Airflow's setup constraint: a task in the scope of a setup task that is
-- not its direct upstream task does not run when that setup task failed,
-- whatever its trigger rule (all_done here); a task outside the scope
-- (its setup task's teardown is not downstream of it) follows its rule
SELECT pgetl_create_pipeline('deep');
SELECT pgetl_add_task('deep', 'setup', $$SELECT 1/0$$, setup => true);
SELECT pgetl_add_task('deep', 'a', $$SELECT 1$$, '{setup}');
SELECT pgetl_add_task('deep', 'b', $$SELECT 1$$, '{a}', trigger_rule => 'all_done');
SELECT pgetl_add_task('deep', 'teardown', $$SELECT 1$$, '{setup,b}', teardown => true);
SELECT pgetl_add_task('deep', 'after', $$SELECT 1$$, '{teardown}', trigger_rule => 'all_done');
SELECT pg_temp.outcome($$SELECT pgetl_run('deep')$$);
SELECT task, state FROM pgetl.task_run WHERE pipeline = 'deep' ORDER BY task;
SELECT b.task AS task, i.setup_id IS NOT NULL AS waits_for_setup
  FROM pgetl.tasks b
  LEFT JOIN pgetl._indirect_setups((SELECT pipeline_id FROM pgetl.pipeline WHERE name = 'deep')) i
    ON i.task_id = (SELECT task_id FROM pgetl.task t JOIN pgetl.pipeline p USING (pipeline_id)
                     WHERE p.name = 'deep' AND t.name = b.task)
 WHERE b.pipeline = 'deep' ORDER BY b.task;
