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
\i test/setup/regress.sql
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

-- schedules are validated by pgetl, field by field, before pg_cron is
-- asked (pg_cron itself stores whatever follows the fifth field)
\x off
SELECT s AS schedule, e.code, e.message, e.detail
  FROM unnest(ARRAY[
    $s$0 4 * * *'); DROP TABLE x; --$s$,
    '0 4 * * * extra',
    '0 4 * *',
    '61 * * * *',
    '* 24 * * *',
    '* * 0 * *',
    '* * 32 * *',
    '* * * 13 *',
    '* * * * 8',
    '* * * foo *',
    '* * * * sunday',
    '1/5 * * * *',
    '*/0 * * * *',
    '*/61 * * * *',
    '5-1 * * * *',
    '1,,2 * * * *',
    '1- * * * *',
    '-1 * * * *',
    '1.5 * * * *',
    '@reboot',
    '@every_minute',
    '0 0 1 1 * *'
  ]) AS s, pg_temp.try(format('SELECT pgetl_schedule(%L, %L)', 'nightly', s)) AS e;
-- 'N seconds' is a schedule only for a pg_cron that takes it (1.5 and
-- later: PostgreSQL 17 and 18 here, not bookworm's 1.4.2 for 15): refused
-- with 22023 by the validator, or passed on to pg_cron (not installed in
-- this database: 55000)
SELECT s AS schedule,
       (pg_temp.try(format('SELECT pgetl_schedule(%L, %L)', 'nightly', s))).code
         = CASE WHEN (SELECT regexp_match(default_version, '^(\d+)\.(\d+)')::int[] >= '{1,5}'
                        FROM pg_available_extensions WHERE name = 'pg_cron')
                THEN '55000' ELSE '22023' END AS as_expected
  FROM unnest(ARRAY['30 seconds', '1 seconds', '59 seconds']) AS s;
SELECT s AS schedule, (pg_temp.try(format('SELECT pgetl_schedule(%L, %L)', 'nightly', s))).code
  FROM unnest(ARRAY['60 seconds', '0 seconds']) AS s;
-- each with the format in the hint
\x on
SELECT hint FROM pg_temp.try($$SELECT pgetl_schedule('nightly', '0 4 * * * extra')$$);
\x off
-- valid schedules pass the same validator (called directly: past it,
-- pgetl_schedule would ask pg_cron)
SELECT s AS schedule, (pg_temp.try(format('SELECT pgetl._check_schedule(%L)', s))).code
  FROM unnest(ARRAY['* * * * *', '*/5 * * * *', '15 2 * * *', '0 0 1,15 * *', '0 8-18/2 * * mon-fri',
                    '0 0 * JAN,jul SUN', '0 0 * * 7', '0-59/15 0-23 1-31 1-12 0-7', '  0   4 * * *  ',
                    '@hourly', '@daily', '@midnight', '@weekly', '@monthly', '@yearly', '@annually']) AS s;
\x on

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
