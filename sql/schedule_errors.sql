-- pgetl_schedule and pgetl_unschedule: bad input gets a clear error with an
-- SQLSTATE, checked before pg_cron is asked anything, so that this output
-- does not depend on whether pg_cron is installed in the cron database.
-- (What needs pg_cron, and the errors it raises, are tested in
-- test/engine/schedule_test.sh.)
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
DROP ROLE IF EXISTS pgetl_test_sched_other;
DROP ROLE IF EXISTS pgetl_test_sched_nologin;
RESET client_min_messages;
CREATE EXTENSION pgetl;

-- Runs a statement and shows the error it raises, if any.
CREATE FUNCTION pg_temp.try(stmt text, OUT code text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    code := '00000';
    message := 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END
$$;
\x on
\pset null ''

SELECT pgetl_create_pipeline('nightly');
SELECT pgetl_add_task('nightly', 'a', 'SELECT 1');

-- NULL and empty arguments, bad params, unknown pipeline
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule(NULL, '* * * * *')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule('nightly', NULL)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule('nightly', '  ')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule('nightly', '* * * * *', '[1]')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule('nightly', '* * * * *', '"x"')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule('nope', '* * * * *')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_unschedule(NULL)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_unschedule('nope')$$);
-- a pipeline that is not scheduled (pg_cron installed or not)
SELECT * FROM pg_temp.try($$SELECT pgetl_unschedule('nightly')$$);

-- not a member of the owner: no scheduling, and nothing to see
CREATE ROLE pgetl_test_sched_other LOGIN;
SET ROLE pgetl_test_sched_other;
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule('nightly', '* * * * *')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_unschedule('nightly')$$);
SELECT count(*) AS schedules_seen FROM pgetl.schedules;
SELECT * FROM pg_temp.try($$SELECT * FROM pgetl.schedule$$);
RESET ROLE;

-- an owner that cannot log in cannot be scheduled (the cron job, and the
-- worker that creates it, connect as the owner)
CREATE ROLE pgetl_test_sched_nologin NOLOGIN;
SELECT pgetl_create_pipeline('lost_login');
SELECT pgetl_add_task('lost_login', 't', 'SELECT 1');
UPDATE pgetl.pipeline SET owner = 'pgetl_test_sched_nologin' WHERE name = 'lost_login';
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule('lost_login', '0 3 * * *')$$);
SELECT pgetl_drop_pipeline('lost_login');

-- nothing was recorded
SELECT count(*) AS schedules FROM pgetl.schedule;

-- the view, and started_by is text (it holds a role name or 'pg_cron')
\x off
SELECT column_name, data_type FROM information_schema.columns
 WHERE table_schema = 'pgetl' AND table_name = 'schedules' ORDER BY ordinal_position;
SELECT data_type FROM information_schema.columns
 WHERE table_schema = 'pgetl' AND table_name = 'run_record' AND column_name = 'started_by';

-- dropping an unscheduled pipeline does not involve pg_cron
SELECT pgetl_drop_pipeline('nightly');

DROP ROLE pgetl_test_sched_other;
DROP ROLE pgetl_test_sched_nologin;
