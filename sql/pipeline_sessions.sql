-- A run and the caller's session: defining and running in one transaction,
-- the owner's statement_timeout, cancelling while a task waits for its
-- retry, resuming a run after tasks were added to its pipeline.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
DROP ROLE IF EXISTS pgetl_sessions_owner;
RESET client_min_messages;
CREATE EXTENSION pgetl;

-- Runs a statement and shows the error it raises, if any.
\i test/setup/regress.sql
-- Waits (up to 20 s) until the scheduler of this database is idle (it has
-- no request left to start).
CREATE FUNCTION pg_temp.scheduler_idle() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..400 LOOP
        IF NOT EXISTS (SELECT FROM pg_stat_activity
                        WHERE backend_type = 'pgetl scheduler' AND datname = current_database()
                          AND state <> 'idle') THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END
$$;
\pset null '<null>'

-- 1. The run works in transactions of its own: a transaction that changed
-- the pipeline cannot run it (waiting or not), at once, with a hint.
SELECT pgetl_create_pipeline('txn');
SELECT pgetl_add_task('txn', 'a', 'SELECT 1 AS one');
SELECT pgetl_add_task('txn', 'b', 'SELECT 2 AS two', '{a}');
\x on
BEGIN;
SELECT pgetl_add_task('txn', 'c', 'SELECT 3 AS three', '{b}');
SELECT * FROM pg_temp.try($$SELECT pgetl_run('txn', wait => false)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_run('txn')$$);
ROLLBACK;
BEGIN;
SELECT pgetl_alter_pipeline('txn', max_parallel => 2);
SELECT * FROM pg_temp.try($$SELECT pgetl_run('txn', wait => false)$$);
ROLLBACK;
BEGIN;
SELECT pgetl_create_pipeline('txn_new');
SELECT pgetl_add_task('txn_new', 'x', 'SELECT 1');
SELECT * FROM pg_temp.try($$SELECT pgetl_run('txn_new')$$);
ROLLBACK;
-- A transaction that only locked the pipeline (adding an edge that exists
-- changes nothing): the scheduler would wait for the lock; the caller
-- notices and gives up, and no run starts when the lock is released.
BEGIN;
SELECT pgetl_add_dependency('txn', 'b', '{a}');
SELECT * FROM pg_temp.try($$SELECT pgetl_run('txn', wait => false)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_run('txn')$$);
COMMIT;
\x off
SELECT pg_temp.scheduler_idle();
SELECT count(*) AS runs FROM pgetl.pipeline_run WHERE pipeline = 'txn';
-- Committed first, it runs; other writes in the caller's transaction do not
-- matter.
CREATE TABLE txn_note (note text);
BEGIN;
INSERT INTO txn_note VALUES ('before the run');
SELECT pgetl_run('txn') AS txn_run \gset
COMMIT;
SELECT state, tasks_success FROM pgetl.pipeline_run WHERE run_id = :txn_run;
-- Resuming follows the same rule.
CREATE TABLE txn_gate (open boolean);
INSERT INTO txn_gate VALUES (false);
SELECT pgetl_add_task('txn', 'gated', 'SELECT 1 / (SELECT open::int FROM txn_gate) AS ok', '{b}');
SELECT code, message FROM pg_temp.try($$SELECT pgetl_run('txn')$$);
SELECT run_id AS gated_run FROM pgetl.pipeline_run WHERE pipeline = 'txn' AND state = 'failed' \gset
UPDATE txn_gate SET open = true;
BEGIN;
SELECT pgetl_alter_pipeline('txn', description => 'changed');
\x on
SELECT * FROM pg_temp.try(format('SELECT pgetl_resume(%s)', :gated_run));
\x off
ROLLBACK;
SELECT pgetl_resume(:gated_run) = :gated_run AS resumed;
SELECT state FROM pgetl.pipeline_run WHERE run_id = :gated_run;

-- 2. The owner's statement_timeout (set for the role, for the role in this
-- database, or for the database) applies in its tasks as in its sessions;
-- a task's own timeout takes precedence.
CREATE ROLE pgetl_sessions_owner LOGIN;
SET ROLE pgetl_sessions_owner;
SELECT pgetl_create_pipeline('timeouts', max_parallel => 3);
SELECT pgetl_add_task('timeouts', 'long', 'SELECT pg_sleep(30)');
SELECT pgetl_add_task('timeouts', 'own_timeout', 'SELECT pg_sleep(1) IS NULL AS slept', timeout => '1 minute');
SELECT pgetl_add_task('timeouts', 'setting', 'SELECT current_setting(''statement_timeout'') AS statement_timeout');
RESET ROLE;
ALTER ROLE pgetl_sessions_owner SET statement_timeout = '300ms';
SELECT code, message FROM pg_temp.try($$SELECT pgetl_run('timeouts')$$);
SELECT run_id, task, state, sqlstate, error, duration < '10 seconds' AS stopped_early, result
  FROM pgetl.task_run WHERE pipeline = 'timeouts' ORDER BY run_id, task;
ALTER ROLE pgetl_sessions_owner RESET statement_timeout;
SELECT format('ALTER ROLE pgetl_sessions_owner IN DATABASE %I SET statement_timeout = %L',
              current_database(), '400ms') \gexec
SELECT code, message FROM pg_temp.try($$SELECT pgetl_run('timeouts')$$);
SELECT format('ALTER ROLE pgetl_sessions_owner IN DATABASE %I RESET statement_timeout', current_database()) \gexec
SELECT format('ALTER DATABASE %I SET statement_timeout = %L', current_database(), '500ms') \gexec
SELECT code, message FROM pg_temp.try($$SELECT pgetl_run('timeouts')$$);
SELECT format('ALTER DATABASE %I RESET statement_timeout', current_database()) \gexec
SELECT run_id, task, state, sqlstate, error, result
  FROM pgetl.task_run WHERE pipeline = 'timeouts'
   AND run_id > (SELECT min(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'timeouts')
 ORDER BY run_id, task;

-- 3. Cancelling a run while a task waits for its retry: the task ends
-- cancelled (as a cancelled next try), not up_for_retry; resume retries it.
CREATE SEQUENCE waits_attempts;
SELECT pgetl_create_pipeline('waits');
SELECT pgetl_add_task('waits', 'flaky', $$SELECT 1 / CASE WHEN nextval('waits_attempts') < 2 THEN 0 ELSE 1 END AS ok$$,
                      retries => 2, retry_delay => '1 hour');
SELECT pgetl_add_task('waits', 'after', 'SELECT 1', '{flaky}');
SELECT pgetl_run('waits', wait => false) AS waits_run \gset
DO $$
BEGIN
    FOR i IN 1..400 LOOP
        EXIT WHEN EXISTS (SELECT FROM pgetl.task_run WHERE pipeline = 'waits' AND state = 'up_for_retry');
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT pgetl_cancel(:waits_run);
SELECT state, reason, tasks_up_for_retry, tasks_cancelled FROM pgetl.pipeline_run WHERE run_id = :waits_run;
SELECT task, try_number, state, error FROM pgetl.task_run WHERE run_id = :waits_run ORDER BY task, try_number;
SELECT pgetl_resume(:waits_run) = :waits_run AS resumed;
SELECT task, try_number, state FROM pgetl.task_run WHERE run_id = :waits_run ORDER BY task, try_number;

-- 4. Resuming a run after tasks were added to its pipeline: as Airflow does
-- for a cleared run, they join it with their first try (named in rerun or
-- not), after their upstream tasks.
CREATE TABLE grows_gate (open boolean);
INSERT INTO grows_gate VALUES (false);
SELECT pgetl_create_pipeline('grows');
SELECT pgetl_add_task('grows', 'first', 'SELECT 1 / (SELECT open::int FROM grows_gate) AS ok');
SELECT pgetl_add_task('grows', 'second', 'SELECT 2 AS two', '{first}');
SELECT pgetl_add_task('grows', 'done', 'SELECT 1 AS done');
SELECT code, message FROM pg_temp.try($$SELECT pgetl_run('grows')$$);
SELECT run_id AS grows_run FROM pgetl.pipeline_run WHERE pipeline = 'grows' \gset
SELECT pgetl_add_task('grows', 'late_leaf', 'SELECT 3 AS three', '{second}');
SELECT pgetl_add_task('grows', 'late_alone', 'SELECT 4 AS four');
SELECT pgetl_add_task('grows', 'late_after_done', 'SELECT 5 AS five', '{done}');
UPDATE grows_gate SET open = true;
SELECT pgetl_resume(:grows_run, rerun => '{late_alone}') = :grows_run AS resumed;
SELECT task, try_number, state, result FROM pgetl.task_run WHERE run_id = :grows_run ORDER BY task, try_number;
SELECT state, tasks_total, tasks_success FROM pgetl.pipeline_run WHERE run_id = :grows_run;

SELECT pgetl_drop_pipeline('timeouts');
DROP ROLE pgetl_sessions_owner;
