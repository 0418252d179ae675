-- Data intervals and catchup (issue 11 §1 part 4), without waiting for a
-- clock: the cron evaluator (pgetl_schedule_intervals: 5-field schedules,
-- macros, day-of-month/day-of-week rules, time zones across daylight-saving
-- changes), the intervals a scheduled pipeline has due at a time
-- (pgetl_run_due with at in the past: what its cron job does when it
-- fires), catchup after a paused schedule (oldest first, within
-- max_active_runs, each missed interval exactly once), without catchup
-- only the latest interval, the interval values inside tasks
-- (pgetl_data_interval_start/_end, folded into constants by the planner
-- hook), manual runs' intervals, backfills that follow the
-- schedule, and bad input with SQLSTATE and hint.  The schedules of the
-- catchup part are written into pgetl.schedule directly, as pgetl_schedule
-- would record them, so that this output does not depend on pg_cron being
-- installed in the cron database (test/engine/schedule_test.sh runs
-- pgetl_schedule with pg_cron).  Dates are shown relative to today.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
RESET client_min_messages;
CREATE EXTENSION pgetl;
\i test/setup/regress.sql
SET TimeZone = 'UTC';

-- the evaluator: intervals end after from_time, at or before to_time
SELECT * FROM pgetl_schedule_intervals('15 2 * * *', '2026-03-01', '2026-03-04');
SELECT * FROM pgetl_schedule_intervals('@daily', '2026-03-01', '2026-03-03');
SELECT * FROM pgetl_schedule_intervals('*/20 9-10 * * *', '2026-03-01 09:00', '2026-03-02 00:00');
SELECT * FROM pgetl_schedule_intervals('@weekly', '2026-03-01', '2026-03-20');
SELECT * FROM pgetl_schedule_intervals('0 0 1 */3 *', '2026-01-01', '2026-12-31');
-- day of month and day of week both restricted: either matches (Vixie cron);
-- one of them '*': both must
SELECT logical_date, extract(dow FROM logical_date) AS dow
  FROM pgetl_schedule_intervals('0 0 13 * fri', '2026-01-01', '2026-04-01');
SELECT logical_date FROM pgetl_schedule_intervals('0 0 */10 * *', '2026-01-01', '2026-02-01');
SELECT logical_date FROM pgetl_schedule_intervals('0 0 * * 7', '2026-03-01', '2026-03-20');
SELECT logical_date FROM pgetl_schedule_intervals('0 0 29 feb *', '2026-01-01', '2032-12-31');
-- never fires: no interval
SELECT count(*) FROM pgetl_schedule_intervals('0 0 31 2 *', '2026-01-01', '2030-01-01');
-- a time zone: 02:30 in Paris, across the daylight-saving changes of 2026
-- (02:30 does not exist on March 29: it is taken as 03:30 summer time)
SELECT logical_date, data_interval_start, data_interval_end,
       data_interval_end AT TIME ZONE 'Europe/Paris' AS end_in_paris
  FROM pgetl_schedule_intervals('30 2 * * *', '2026-03-27', '2026-03-31', 'Europe/Paris');
SELECT logical_date, data_interval_end AT TIME ZONE 'Europe/Paris' AS end_in_paris,
       data_interval_end - data_interval_start AS length
  FROM pgetl_schedule_intervals('0 0 * * *', '2026-10-24', '2026-10-27', 'Europe/Paris');
-- the logical date is the start's date in the schedule's time zone
SELECT logical_date, data_interval_start
  FROM pgetl_schedule_intervals('0 23 * * *', '2026-05-01 12:00', '2026-05-03 00:00', 'America/New_York');

\x on
-- bad input: SQLSTATE, message, detail, hint
SELECT * FROM pg_temp.try($$SELECT * FROM pgetl_schedule_intervals('0 0 * *', '2026-01-01', '2026-01-02')$$);
SELECT * FROM pg_temp.try($$SELECT * FROM pgetl_schedule_intervals('0 0 * * *', '2026-01-01', '2026-01-02', 'Mars/Olympus')$$);
SELECT * FROM pg_temp.try($$SELECT * FROM pgetl_schedule_intervals('0 0 * * *', NULL, '2026-01-02')$$);
SELECT * FROM pg_temp.try($$SELECT * FROM pgetl_schedule_intervals('* * * * *', '2026-01-01', '2027-01-01')$$);
SELECT pgetl_create_pipeline('nightly');
SELECT pgetl_add_task('nightly', 'a', 'SELECT 1');
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule('nightly', '0 2 * * *', timezone => 'Mars/Olympus')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule('nightly', '0 2 * * *', timezone => NULL)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule('nightly', '0 2 * * *', timezone => ' ')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule('nightly', '0 2 * * *', catchup => NULL)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule('nightly', '30 seconds', catchup => true, start_date => '2026-01-01')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule('nightly', '0 2 * * *', catchup => true, start_date => '2999-01-01')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_schedule('nightly', '0 0 31 2 *')$$);
SELECT * FROM pg_temp.try($$SELECT * FROM pgetl_run_due('nightly')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_pause_schedule('nightly')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_unpause_schedule('nope')$$);
-- outside a task, the interval functions raise 55000 like the others
SELECT * FROM pg_temp.try($$SELECT pgetl_data_interval_start()$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_data_interval_end()$$);
\x off

-- A daily pipeline, scheduled with catchup from 6 days ago; its one task
-- records what it sees.  max_active_runs 2: the rest of a catchup waits
-- queued.
CREATE TABLE seen (pipeline text, logical_date date, s timestamptz, e timestamptz, run_id bigint);
GRANT ALL ON seen TO PUBLIC;
SELECT pgetl_create_pipeline('daily', max_active_runs => 2);
SELECT pgetl_add_task('daily', 'look', $$
    INSERT INTO seen SELECT 'daily', pgetl_logical_date(), pgetl_data_interval_start(),
                            pgetl_data_interval_end(), pgetl_run_id()$$);
INSERT INTO pgetl.schedule (pipeline_id, schedule, cron_jobname, cron_database, catchup, start_date)
SELECT pipeline_id, '0 0 * * *', 'daily@x', 'postgres', true, current_date - 6
  FROM pgetl.pipeline WHERE name = 'daily';
CREATE FUNCTION pg_temp.day(t timestamptz) RETURNS integer LANGUAGE sql AS $$
    SELECT (t AT TIME ZONE 'UTC')::date - current_date $$;

-- three days ago the schedule had run its intervals up to then, oldest first
SELECT logical_date - current_date AS day, pg_temp.day(data_interval_start) AS s,
       pg_temp.day(data_interval_end) AS e, run_id IS NULL AS dry
  FROM pgetl_run_due('daily', at => current_date - 3, dry_run => true);
SELECT count(*) AS runs FROM pgetl_run_due('daily', at => current_date - 3, wait => true);
SELECT pg_temp.day(last_interval_end) AS last_interval_end FROM pgetl.schedules WHERE pipeline = 'daily';
-- ... then it was paused: nothing runs (a notice says why)
SELECT pgetl_pause_schedule('daily');
SELECT paused FROM pgetl.schedules WHERE pipeline = 'daily';
SELECT count(*) FROM pgetl_run_due('daily');
-- unpaused, it catches up: the three missed days, oldest first
SELECT pgetl_unpause_schedule('daily');
SELECT logical_date - current_date AS day, pg_temp.day(data_interval_start) AS s,
       pg_temp.day(data_interval_end) AS e
  FROM pgetl_run_due('daily', wait => true) ORDER BY run_id;
-- each interval ran exactly once, in the order of its logical date; the
-- task saw its run's interval
SELECT logical_date - current_date AS day, pg_temp.day(data_interval_start) AS s,
       pg_temp.day(data_interval_end) AS e, state, started_by = current_user AS by_me
  FROM pgetl.pipeline_run WHERE pipeline = 'daily' ORDER BY run_id;
SELECT count(*) = 6 AS same FROM seen x JOIN pgetl.pipeline_run r USING (run_id)
 WHERE x.logical_date = r.logical_date AND x.s = r.data_interval_start AND x.e = r.data_interval_end;
SELECT bool_and(r.run_id < n.run_id) AS oldest_first
  FROM pgetl.pipeline_run r JOIN pgetl.pipeline_run n
    ON n.pipeline = r.pipeline AND n.logical_date > r.logical_date WHERE r.pipeline = 'daily';
-- again: nothing more (idempotent)
SELECT count(*) FROM pgetl_run_due('daily');
SELECT pg_temp.day(last_interval_end) AS last_interval_end FROM pgetl.schedules WHERE pipeline = 'daily';

-- max_active_runs: a catchup of 5 days with max_active_runs 2 queues the rest
SELECT pgetl_create_pipeline('capped', max_active_runs => 2);
SELECT pgetl_add_task('capped', 'slow', 'SELECT pg_sleep(0.3)');
INSERT INTO pgetl.schedule (pipeline_id, schedule, cron_jobname, cron_database, catchup, start_date)
SELECT pipeline_id, '0 0 * * *', 'capped@x', 'postgres', true, current_date - 5
  FROM pgetl.pipeline WHERE name = 'capped';
SELECT count(*) AS started FROM pgetl_run_due('capped');
SELECT count(*) FILTER (WHERE state = 'running') <= 2 AS at_most_2_running,
       count(*) FILTER (WHERE state = 'queued') >= 3 AS queued
  FROM pgetl.pipeline_run WHERE pipeline = 'capped';
SELECT count(*) FROM pgetl_run_due('capped');

-- without catchup, a paused schedule resumes with the latest interval only
SELECT pgetl_create_pipeline('latest');
SELECT pgetl_add_task('latest', 'a', 'SELECT 1');
INSERT INTO pgetl.schedule (pipeline_id, schedule, cron_jobname, cron_database, start_date, last_interval_end)
SELECT pipeline_id, '0 0 * * *', 'latest@x', 'postgres', current_date - 10,
       (current_date - 4)::timestamp AT TIME ZONE 'UTC'
  FROM pgetl.pipeline WHERE name = 'latest';
SELECT logical_date - current_date AS day, pg_temp.day(data_interval_start) AS s,
       pg_temp.day(data_interval_end) AS e
  FROM pgetl_run_due('latest', wait => true);
SELECT count(*) FROM pgetl_run_due('latest');
-- start_date: no interval before it
UPDATE pgetl.schedule SET start_date = current_date + 1, last_interval_end = NULL
 WHERE cron_jobname = 'latest@x';
SELECT count(*) FROM pgetl_run_due('latest', dry_run => true);

-- a time zone: the intervals of '0 2 * * *' in New York; the task sees them
SELECT pgetl_create_pipeline('ny');
SELECT pgetl_add_task('ny', 'look', $$
    INSERT INTO seen SELECT 'ny', pgetl_logical_date(), pgetl_data_interval_start(),
                            pgetl_data_interval_end(), pgetl_run_id()$$);
INSERT INTO pgetl.schedule (pipeline_id, schedule, cron_jobname, cron_database, catchup, start_date, timezone)
SELECT pipeline_id, '0 2 * * *', 'ny@x', 'postgres', true, current_date - 3, 'America/New_York'
  FROM pgetl.pipeline WHERE name = 'ny';
SELECT count(*) AS runs FROM pgetl_run_due('ny', at => (current_date - 1)::timestamp AT TIME ZONE 'America/New_York', wait => true);
SELECT logical_date - current_date AS day,
       (s AT TIME ZONE 'America/New_York')::time AS start_in_ny,
       (s AT TIME ZONE 'America/New_York')::date = logical_date AS starts_on_its_date,
       e - s AS length
  FROM seen WHERE pipeline = 'ny' ORDER BY logical_date;

-- several intervals a day: those of one logical date run one at a time (a
-- run is identified by its date): the due list stops at a date already
-- listed
SELECT pgetl_create_pipeline('hourly');
SELECT pgetl_add_task('hourly', 'a', 'SELECT 1');
INSERT INTO pgetl.schedule (pipeline_id, schedule, cron_jobname, cron_database, catchup, start_date)
SELECT pipeline_id, '0 */6 * * *', 'hourly@x', 'postgres', true, current_date - 2
  FROM pgetl.pipeline WHERE name = 'hourly';
SELECT logical_date - current_date AS day, data_interval_end - data_interval_start AS length
  FROM pgetl_run_due('hourly', at => current_date - 1, dry_run => true);
-- with wait (as the cron job calls it), the next ones start as those finish,
-- until every interval is run: the four of that day, one after the other
SELECT logical_date - current_date AS day, extract(hour FROM data_interval_start) AS from_hour,
       extract(hour FROM data_interval_end) AS to_hour
  FROM pgetl_run_due('hourly', at => current_date - 1, wait => true) ORDER BY run_id;
SELECT count(*) AS runs, count(DISTINCT data_interval_start) AS intervals, bool_and(state = 'success') AS ok
  FROM pgetl.pipeline_run WHERE pipeline = 'hourly';

-- manual runs: of a scheduled pipeline, the interval that starts first on
-- the logical date; of an unscheduled one, the empty interval at its
-- midnight (UTC)
SELECT pgetl_run('ny', logical_date => '2026-01-15') IS NOT NULL AS ran;
SELECT logical_date, data_interval_start, data_interval_end FROM pgetl.pipeline_run
 WHERE pipeline = 'ny' AND logical_date = '2026-01-15';
SELECT pgetl_run('nightly', logical_date => '2026-01-15') IS NOT NULL AS ran;
SELECT logical_date, data_interval_start, data_interval_end FROM pgetl.pipeline_run WHERE pipeline = 'nightly';
-- inside a task, the planner hook makes the interval functions constants
-- before planning (as pgetl_logical_date(): a distributed planner ships
-- values, not calls): the task's plan shows the values
CREATE FUNCTION explain_text(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    l text;
    acc text := '';
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q LOOP
        acc := acc || l || ' ';
    END LOOP;
    RETURN acc;
END
$f$;
SELECT pgetl_create_pipeline('folded');
SELECT pgetl_add_task('folded', 'plan',
    $$SELECT explain_text('SELECT pgetl_data_interval_start(), pgetl_data_interval_end()') AS plan$$);
SELECT pgetl_run('folded', logical_date => '2026-02-01') IS NOT NULL AS ran;
SELECT result->>'plan' NOT LIKE '%pgetl_data_interval%' AS folded,
       result->>'plan' LIKE '%2026-02-01 00:00:00%2026-02-01 00:00:00%' AS values_in_plan
  FROM pgetl.task_run WHERE pipeline = 'folded';

-- backfill follows the schedule: a weekly schedule backfills its Mondays,
-- each run with its week as interval
UPDATE pgetl.schedule SET schedule = '0 0 * * mon' WHERE cron_jobname = 'latest@x';
SELECT count(*) AS runs FROM pgetl_backfill('latest', '2026-03-01', '2026-03-20', wait => true);
SELECT logical_date, extract(dow FROM logical_date) AS dow, data_interval_start, data_interval_end
  FROM pgetl.pipeline_run WHERE pipeline = 'latest' AND logical_date < '2026-04-01' ORDER BY logical_date;

-- the capped catchup finishes, oldest first, all successful
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM pgetl.pipeline_run WHERE pipeline = 'capped' AND state IN ('queued', 'running'));
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT logical_date - current_date AS day, state FROM pgetl.pipeline_run
 WHERE pipeline = 'capped' ORDER BY started_at, run_id;
DROP TABLE seen;
DROP FUNCTION explain_text(text);
