-- Callbacks (Airflow's on_failure_callback, on_success_callback,
-- on_retry_callback): SQL a task gives, run by its task worker as the
-- pipeline owner once the state it reports is committed, in a transaction
-- of its own; a pipeline's on_failure, on_success (the DAG's callbacks)
-- for a run's outcome, run by a task worker of the owner too.  Proves:
-- each callback fires for its state and sees pgetl_callback_context();
-- pgetl_alter_pipeline sets and removes ('') a pipeline's callbacks (and
-- its run_timeout, with '0'); a callback does not hold up the DAG;
-- on_retry fires once per retry; a failing callback changes no state and
-- is recorded (pgetl.callback_failure); a callback runs as the owner (an
-- ordinary role cannot do superuser things in it); bad inputs and
-- pgetl_callback_context() outside a callback are errors with SQLSTATE
-- and hint.  (The run deadline itself: test/engine/run_timeout_test.sh.)
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
DROP TABLE IF EXISTS alerts;
DROP SEQUENCE IF EXISTS cb_attempts;
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgetl_cb_owner') THEN
        DROP OWNED BY pgetl_cb_owner;
        DROP ROLE pgetl_cb_owner;
    END IF;
END $$;
RESET client_min_messages;
CREATE EXTENSION pgetl;
-- errors as SQLSTATE, message, detail and hint (no source location: it differs between versions)
\i test/setup/regress.sql
\pset null '<null>'
CREATE TABLE alerts (id serial, ctx jsonb, who text DEFAULT current_user, at timestamptz DEFAULT clock_timestamp());
GRANT ALL ON alerts, alerts_id_seq TO PUBLIC;
-- wait until n alerts of a pipeline arrived (callbacks run after the
-- state they report is committed: pgetl_run() may return before them)
CREATE FUNCTION pg_temp.wait_alerts(p text, n integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..400 LOOP
        IF (SELECT count(*) FROM alerts WHERE ctx->>'pipeline' = p) >= n THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END
$$;
CREATE FUNCTION pg_temp.wait_callback_failure(p text, n integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..400 LOOP
        IF (SELECT count(*) FROM pgetl.callback_failure WHERE pipeline = p) >= n THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END
$$;

-- on_success fires after the task's success, on_failure after its
-- failure; downstream of the failure is upstream_failed, no callback
SELECT pgetl_create_pipeline('cb');
SELECT pgetl_add_task('cb', 'good', 'SELECT 1',
    on_success => 'INSERT INTO alerts (ctx) SELECT pgetl_callback_context()',
    on_failure => 'INSERT INTO alerts (ctx) VALUES (''{"pipeline": "cb", "wrong": true}'')');
SELECT pgetl_add_task('cb', 'bad', 'SELECT 1/0', '{good}',
    on_success => 'INSERT INTO alerts (ctx) VALUES (''{"pipeline": "cb", "wrong": true}'')',
    on_failure => 'INSERT INTO alerts (ctx) SELECT pgetl_callback_context()');
SELECT pgetl_add_task('cb', 'after', 'SELECT 1', '{bad}',
    on_failure => 'INSERT INTO alerts (ctx) SELECT pgetl_callback_context()');
SELECT pg_temp.fails($$SELECT pgetl_run('cb')$$) AS run_error;
SELECT pg_temp.wait_alerts('cb', 2);
SELECT pg_sleep(0.3);  -- no other callback comes
SELECT ctx->>'event' AS event, ctx->>'task' AS task, ctx->>'state' AS state, ctx->>'try_number' AS try,
       ctx->>'error' AS error, ctx->>'sqlstate' AS sqlstate,
       (ctx->>'run_id')::bigint = (SELECT max(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'cb') AS run_id_ok,
       (ctx->>'logical_date')::date = current_date AS logical_date_ok,
       jsonb_typeof(ctx->'duration') AS duration, ctx ? 'task_run_id' AS has_task_run_id,
       who = current_user AS as_owner
  FROM alerts ORDER BY ctx->>'task' DESC;  -- (callbacks of different workers: no order between them)
SELECT task, state FROM pgetl.task_run WHERE pipeline = 'cb' ORDER BY task;
TRUNCATE alerts;

-- a pipeline's callbacks: on_failure for a failed run, with its reason
-- and failed tasks; on_success set later by pgetl_alter_pipeline
SELECT pgetl_create_pipeline('pcb', on_failure => 'INSERT INTO alerts (ctx) SELECT pgetl_callback_context()');
SELECT pgetl_add_task('pcb', 'a', $$SELECT 1 / (SELECT count(*) FROM alerts WHERE ctx->>'event' = 'fix')::int$$);
SELECT pgetl_add_task('pcb', 'b', 'SELECT 1', '{a}');
SELECT pg_temp.fails($$SELECT pgetl_run('pcb')$$) AS run_error;
SELECT pg_temp.wait_alerts('pcb', 1);
SELECT ctx->>'event' AS event, ctx->'task' AS task, ctx->>'state' AS state, ctx->>'error' AS error,
       ctx->>'sqlstate' AS sqlstate, ctx->'failed_tasks' AS failed_tasks,
       (ctx->>'run_id')::bigint = (SELECT max(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'pcb') AS run_id_ok,
       jsonb_typeof(ctx->'duration') AS duration, who = current_user AS as_owner
  FROM alerts ORDER BY id;
SELECT pgetl_alter_pipeline('pcb', on_success => 'INSERT INTO alerts (ctx) SELECT pgetl_callback_context()');
INSERT INTO alerts (ctx) VALUES ('{"event": "fix"}');
SELECT pgetl_resume((SELECT max(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'pcb')) IS NOT NULL AS resumed;
SELECT pg_temp.wait_alerts('pcb', 2);
SELECT ctx->>'event' AS event, ctx->>'state' AS state, ctx->>'error' AS error, ctx->'failed_tasks' AS failed_tasks
  FROM alerts WHERE ctx->>'pipeline' = 'pcb' ORDER BY id;
-- NULL keeps a callback, '' removes it
SELECT pgetl_alter_pipeline('pcb', on_failure => NULL, description => 'kept');
SELECT pgetl_alter_pipeline('pcb', on_success => '');
SELECT description, on_failure IS NOT NULL AS has_on_failure, on_success IS NOT NULL AS has_on_success
  FROM pgetl.pipeline WHERE name = 'pcb';
SELECT pgetl_definition('pcb') - 'tasks' AS settings;
TRUNCATE alerts;

-- a callback does not hold up the DAG: the downstream task runs while
-- its upstream task's callback still sleeps
SELECT pgetl_create_pipeline('nohold');
SELECT pgetl_add_task('nohold', 'a', 'SELECT 1',
    on_success => $$SELECT pg_sleep(3); INSERT INTO alerts (ctx) VALUES ('{"pipeline": "nohold", "by": "callback of a"}')$$);
SELECT pgetl_add_task('nohold', 'b', $$INSERT INTO alerts (ctx) VALUES ('{"pipeline": "nohold", "by": "task b"}')$$, '{a}');
SELECT pgetl_run('nohold') IS NOT NULL AS ran;
SELECT pg_temp.wait_alerts('nohold', 2);
SELECT ctx->>'by' AS by FROM alerts ORDER BY id;
TRUNCATE alerts;

-- on_retry fires once per retry, then on_failure for the last try
CREATE SEQUENCE cb_attempts;
SELECT pgetl_create_pipeline('retrying');
SELECT pgetl_add_task('retrying', 'flaky', $$SELECT 1 / CASE WHEN nextval('cb_attempts') < 10 THEN 0 ELSE 1 END$$,
    retries => 2, retry_delay => '0',
    on_retry => 'INSERT INTO alerts (ctx) SELECT pgetl_callback_context()',
    on_failure => 'INSERT INTO alerts (ctx) SELECT pgetl_callback_context()');
SELECT pg_temp.fails($$SELECT pgetl_run('retrying')$$) AS run_error;
SELECT pg_temp.wait_alerts('retrying', 3);
SELECT ctx->>'event' AS event, ctx->>'try_number' AS try, ctx->>'max_tries' AS max_tries, ctx->>'state' AS state
  FROM alerts ORDER BY (ctx->>'try_number')::int;
TRUNCATE alerts;

-- a failing callback: the task's state stays success, the callback's
-- error is recorded (and logged), the run succeeds
SELECT pgetl_create_pipeline('cbfail');
SELECT pgetl_add_task('cbfail', 'ok', 'SELECT 1', on_success => 'SELECT 1/0');
SELECT pgetl_add_task('cbfail', 'syntax', 'SELECT 2', on_success => 'SELEKT oops');
SELECT pgetl_run('cbfail') IS NOT NULL AS ran;
SELECT pg_temp.wait_callback_failure('cbfail', 2);
SELECT task, state FROM pgetl.task_run WHERE pipeline = 'cbfail' ORDER BY task;
SELECT state FROM pgetl.pipeline_run WHERE pipeline = 'cbfail';
SELECT task, try_number, state, callback_error FROM pgetl.callback_failure WHERE pipeline = 'cbfail' ORDER BY task;

-- a callback runs as the pipeline owner: an ordinary role cannot do
-- superuser things in it (the attempt is its recorded error), what it
-- may do it does, as itself
CREATE ROLE pgetl_cb_owner LOGIN;
SET ROLE pgetl_cb_owner;
SELECT pgetl_create_pipeline('owned',
    on_success => 'INSERT INTO alerts (ctx) SELECT pgetl_callback_context(); CREATE ROLE pgetl_cb_sneaky SUPERUSER');
SELECT pgetl_add_task('owned', 't', 'SELECT 1',
    on_success => 'INSERT INTO alerts (ctx) SELECT pgetl_callback_context(); ALTER ROLE pgetl_cb_owner SUPERUSER');
SELECT pgetl_add_task('owned', 'u', 'SELECT 1',
    on_success => 'INSERT INTO alerts (ctx) SELECT pgetl_callback_context()');
SELECT pgetl_run('owned') IS NOT NULL AS ran;
SELECT pg_temp.wait_callback_failure('owned', 2);
SELECT pg_temp.wait_alerts('owned', 1);
-- (the SQLSTATE only: the message differs between versions)
SELECT task, state, substring(callback_error FROM '\[SQLSTATE \w+\]$') AS callback_error
  FROM pgetl.callback_failure WHERE pipeline = 'owned' ORDER BY task NULLS FIRST;
RESET ROLE;
SELECT ctx->>'task' AS task, who FROM alerts ORDER BY id;
SELECT rolsuper FROM pg_roles WHERE rolname = 'pgetl_cb_owner';
SELECT count(*) AS sneaky FROM pg_roles WHERE rolname = 'pgetl_cb_sneaky';
TRUNCATE alerts;

-- bad inputs
\x on
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('cb', 'blank', 'SELECT 1', on_failure => '  ')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('cb', 'empty', 'SELECT 1', on_retry => '')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_create_pipeline('empty_cb', on_success => E'\n')$$);
-- run_timeout (enforced: test/engine/run_timeout_test.sh): positive, or
-- NULL for none; pgetl_alter_pipeline removes it with '0'
SELECT * FROM pg_temp.try($$SELECT pgetl_create_pipeline('no_time', run_timeout => '0')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_alter_pipeline('cb', run_timeout => '-1 second')$$);
\x off
SELECT pgetl_alter_pipeline('cb', run_timeout => '90 minutes');
SELECT pgetl_definition('cb')->'run_timeout' AS run_timeout;
SELECT pgetl_alter_pipeline('cb', run_timeout => '0');
SELECT run_timeout FROM pgetl.pipeline WHERE name = 'cb';
\x on
-- pgetl_callback_context() outside a callback, and inside a task
SELECT * FROM pg_temp.try($$SELECT pgetl_callback_context()$$);
\x off
SELECT pgetl_create_pipeline('in_task');
SELECT pgetl_add_task('in_task', 't', 'SELECT pgetl_callback_context()');
SELECT pg_temp.fails($$SELECT pgetl_run('in_task')$$) AS run_error;
SELECT task, state, sqlstate, error FROM pgetl.task_run WHERE pipeline = 'in_task';

-- callbacks round-trip through pgetl_definition
SELECT t->>'name' AS task, t->>'on_success' AS on_success, t->>'on_failure' AS on_failure
  FROM jsonb_array_elements(pgetl_definition('cb')->'tasks') t ORDER BY 1;

SET client_min_messages = warning;
DROP EXTENSION pgetl CASCADE;
DROP OWNED BY pgetl_cb_owner;
DROP ROLE pgetl_cb_owner;
