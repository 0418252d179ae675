-- Skips and branching, with Airflow's meanings: pgetl_skip() (Airflow's
-- AirflowSkipException), branch tasks (BranchSQLOperator), short_circuit
-- tasks (ShortCircuitOperator with ignore_downstream_trigger_rules).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
DROP TABLE IF EXISTS br_log;
RESET client_min_messages;
CREATE EXTENSION pgetl;
-- errors as SQLSTATE, message, detail and hint (no source location: it differs between versions)
\i test/setup/regress.sql
CREATE TABLE br_log (task text);
GRANT ALL ON br_log TO PUBLIC;

-- pgetl_skip: the task's work rolls back, it ends skipped with the reason,
-- is not retried; all_success downstream is skipped, all_done runs
SELECT pgetl_create_pipeline('skipper');
SELECT pgetl_add_task('skipper', 'maybe',
    $$INSERT INTO br_log VALUES ('maybe'); SELECT pgetl_skip('nothing new today')$$, retries => 3);
SELECT pgetl_add_task('skipper', 'after', $$INSERT INTO br_log VALUES ('after')$$, '{maybe}');
SELECT pgetl_add_task('skipper', 'cleanup', $$INSERT INTO br_log VALUES ('cleanup')$$, '{maybe}',
                      trigger_rule => 'all_done');
SELECT pgetl_add_task('skipper', 'default_reason', $$SELECT pgetl_skip()$$);
SELECT pgetl_run('skipper') IS NOT NULL AS ran;
SELECT task, try_number, state, error, sqlstate FROM pgetl.task_run WHERE pipeline = 'skipper' ORDER BY task, try_number;
SELECT state, tasks_skipped, tasks_success FROM pgetl.pipeline_run WHERE pipeline = 'skipper';
SELECT * FROM br_log ORDER BY task;
TRUNCATE br_log;

-- a task that catches the skip goes on and succeeds, as a Python task that
-- catches AirflowSkipException does; an error raised with PGSKP by other
-- means is a failure
SELECT pgetl_create_pipeline('caught');
SELECT pgetl_add_task('caught', 'catches',
    $q$DO $do$ BEGIN PERFORM pgetl_skip('no'); EXCEPTION WHEN OTHERS THEN NULL; END $do$$q$);
SELECT pgetl_add_task('caught', 'fake', $q$DO $do$ BEGIN RAISE EXCEPTION 'not a skip' USING ERRCODE = 'PGSKP'; END $do$$q$);
SELECT pgetl_run('caught', wait => true) IS NOT NULL AS ran;
SELECT task, state, error, sqlstate FROM pgetl.task_run WHERE pipeline = 'caught' ORDER BY task;

-- pgetl_skip outside a task: 55000 with a hint
\x on
SELECT * FROM pg_temp.try($q$SELECT pgetl_skip('x')$q$);
\x off

-- branch: rows of names; the other direct downstream tasks are skipped and
-- so is what follows them (all_success); a join task downstream of a
-- followed task is kept (Airflow's skip_all_except)
SELECT pgetl_create_pipeline('brancher', max_parallel => 8);
SELECT pgetl_add_task('brancher', 'pick', $$SELECT 'a' UNION ALL SELECT 'join'$$, kind => 'branch');
SELECT pgetl_add_task('brancher', 'a', $$INSERT INTO br_log VALUES ('a')$$, '{pick}');
SELECT pgetl_add_task('brancher', 'b', $$INSERT INTO br_log VALUES ('b')$$, '{pick}');
SELECT pgetl_add_task('brancher', 'after_b', $$INSERT INTO br_log VALUES ('after_b')$$, '{b}');
SELECT pgetl_add_task('brancher', 'join', $$INSERT INTO br_log VALUES ('join')$$, '{pick,a}');
SELECT pgetl_add_task('brancher', 'c', $$INSERT INTO br_log VALUES ('c')$$, '{pick}');
SELECT pgetl_add_task('brancher', 'after_any', $$INSERT INTO br_log VALUES ('after_any')$$, '{a,b,c}',
                      trigger_rule => 'none_failed_min_one_success');
SELECT pgetl_run('brancher') IS NOT NULL AS ran;
SELECT task, state, error FROM pgetl.task_run WHERE pipeline = 'brancher' ORDER BY task;
SELECT state FROM pgetl.pipeline_run WHERE pipeline = 'brancher';
SELECT * FROM br_log ORDER BY task;
TRUNCATE br_log;

-- branch: a text[] in the first column
SELECT pgetl_create_pipeline('brancher2');
SELECT pgetl_add_task('brancher2', 'pick', $$SELECT ARRAY['b', 'c']::varchar[], 'other column'$$, kind => 'branch');
SELECT pgetl_add_task('brancher2', 'a', 'SELECT 1', '{pick}');
SELECT pgetl_add_task('brancher2', 'b', 'SELECT 1', '{pick}');
SELECT pgetl_add_task('brancher2', 'c', 'SELECT 1', '{pick}');
SELECT pgetl_run('brancher2') IS NOT NULL AS ran;
SELECT task, state, result FROM pgetl.task_run WHERE pipeline = 'brancher2' ORDER BY task;

-- branch: NULL, or no row, skips every direct downstream task
SELECT pgetl_create_pipeline('brancher3');
SELECT pgetl_add_task('brancher3', 'pick_null', $$SELECT NULL::text[]$$, kind => 'branch');
SELECT pgetl_add_task('brancher3', 'x', 'SELECT 1', '{pick_null}');
SELECT pgetl_add_task('brancher3', 'pick_none', $$SELECT 'y' WHERE false$$, kind => 'branch');
SELECT pgetl_add_task('brancher3', 'y', 'SELECT 1', '{pick_none}');
SELECT pgetl_run('brancher3') IS NOT NULL AS ran;
SELECT task, state, result FROM pgetl.task_run WHERE pipeline = 'brancher3' ORDER BY task;
SELECT state FROM pgetl.pipeline_run WHERE pipeline = 'brancher3';

-- branch: a name that is not a direct downstream task fails the branch
-- task (22023) with the list in the detail; its work rolls back and its
-- downstream tasks are upstream_failed.  A command without a result set
-- fails it too (42804).
SELECT pgetl_create_pipeline('badbranch');
SELECT pgetl_add_task('badbranch', 'pick',
    $$INSERT INTO br_log VALUES ('pick'); SELECT unnest(ARRAY['a', 'far', NULL])$$, kind => 'branch');
SELECT pgetl_add_task('badbranch', 'a', 'SELECT 1', '{pick}');
SELECT pgetl_add_task('badbranch', 'b', 'SELECT 1', '{pick}');
SELECT pgetl_add_task('badbranch', 'far', 'SELECT 1', '{a}');
SELECT pgetl_add_task('badbranch', 'typo', $$SELECT 'A'$$, kind => 'branch');
SELECT pgetl_add_task('badbranch', 'noset', $$INSERT INTO br_log VALUES ('noset')$$, kind => 'branch');
SELECT pgetl_run('badbranch', wait => false) IS NOT NULL AS started;
DO $$ BEGIN
    WHILE EXISTS (SELECT FROM pgetl.pipeline_run WHERE pipeline = 'badbranch' AND state = 'running') LOOP
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT task, state, error, sqlstate, detail, hint FROM pgetl.task_run WHERE pipeline = 'badbranch' ORDER BY task;
SELECT count(*) AS rolled_back FROM br_log;

-- short_circuit: true lets everything run; false or NULL skips everything
-- downstream, whatever its trigger rule
SELECT pgetl_create_pipeline('circuit');
SELECT pgetl_add_task('circuit', 'yes', $$SELECT true AS go, 42 AS n$$, kind => 'short_circuit');
SELECT pgetl_add_task('circuit', 'after_yes', 'SELECT 1', '{yes}');
SELECT pgetl_add_task('circuit', 'no', $$SELECT count(*) > 0 AS has_rows, count(*) AS n FROM br_log$$,
                      kind => 'short_circuit');
SELECT pgetl_add_task('circuit', 'after_no', 'SELECT 1', '{no}');
SELECT pgetl_add_task('circuit', 'done_after_no', 'SELECT 1', '{after_no}', trigger_rule => 'all_done');
-- (an always task does not wait for its upstream tasks: it ran before)
SELECT pgetl_add_task('circuit', 'always_after_no', 'SELECT 1', '{after_no}', trigger_rule => 'always');
SELECT pgetl_add_task('circuit', 'unknown', $$SELECT NULL::boolean$$, kind => 'short_circuit');
SELECT pgetl_add_task('circuit', 'after_unknown', 'SELECT 1', '{unknown}', trigger_rule => 'all_skipped');
SELECT pgetl_add_task('circuit', 'norow', $$SELECT true WHERE false$$, kind => 'short_circuit');
SELECT pgetl_add_task('circuit', 'after_norow', 'SELECT 1', '{norow}');
SELECT pgetl_run('circuit') IS NOT NULL AS ran;
SELECT task, state, result, error FROM pgetl.task_run WHERE pipeline = 'circuit' ORDER BY task;
SELECT state FROM pgetl.pipeline_run WHERE pipeline = 'circuit';

-- short_circuit: a first column that is not boolean, or no result set,
-- fails the task (42804)
SELECT pgetl_create_pipeline('badcircuit');
SELECT pgetl_add_task('badcircuit', 'sc', $$SELECT 1$$, kind => 'short_circuit');
SELECT pgetl_add_task('badcircuit', 'after', 'SELECT 1', '{sc}');
SELECT pgetl_add_task('badcircuit', 'noset', $$INSERT INTO br_log VALUES ('noset')$$, kind => 'short_circuit');
SELECT pgetl_run('badcircuit', wait => false) IS NOT NULL AS started;
DO $$ BEGIN
    WHILE EXISTS (SELECT FROM pgetl.pipeline_run WHERE pipeline = 'badcircuit' AND state = 'running') LOOP
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT task, state, error, sqlstate, hint FROM pgetl.task_run WHERE pipeline = 'badcircuit' ORDER BY task;

-- bad definitions: a command is needed, no config keys
\x on
SELECT * FROM pg_temp.try($q$SELECT pgetl_add_task('circuit', 'nocmd', NULL, kind => 'branch')$q$);
SELECT * FROM pg_temp.try($q$SELECT pgetl_add_task('circuit', 'nocmd', ' ', kind => 'short_circuit')$q$);
SELECT * FROM pg_temp.try($q$SELECT pgetl_add_task('circuit', 'cfg', 'SELECT true', kind => 'short_circuit', config => '{"x": 1}')$q$);
SELECT * FROM pg_temp.try($q$SELECT pgetl_add_task('circuit', 'kind', 'SELECT 1', kind => 'branching')$q$);
SELECT * FROM pg_temp.try($q$SELECT pgetl_add_task('circuit', 'rule', 'SELECT 1', trigger_rule => 'one_finished')$q$);
\x off

-- the kinds and rules, in one place
SELECT kind, needs_command FROM pgetl.task_kind ORDER BY position;
SELECT rule FROM pgetl.trigger_rule ORDER BY position;
