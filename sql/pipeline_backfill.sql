-- pgetl_backfill (Airflow's backfill): bad arguments are refused with
-- their SQLSTATE and a hint before anything runs; dry_run lists, one
-- notice per date, the logical dates a backfill would run (daily, or by
-- the pipeline's schedule's interval), as reprocess none / failed / all
-- chooses them, and runs nothing; a real backfill returns one run id per
-- date, and reprocess leaves out what it should; pgetl_cancel_backfill
-- records its request.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
RESET client_min_messages;
CREATE EXTENSION pgetl;
-- errors as SQLSTATE, message, detail and hint (no source location: it differs between versions)
\i test/setup/regress.sql

SELECT pgetl_create_pipeline('bf') > 0 AS created;
SELECT pgetl_add_task('bf', 'a', $$SELECT CASE WHEN pgetl_logical_date() = date '2024-01-02' THEN 1 / 0 END$$) > 0 AS added;

-- bad arguments
SELECT * FROM pg_temp.try($$SELECT pgetl_backfill('nope', '2024-01-01', '2024-01-03')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_backfill(NULL, '2024-01-01', '2024-01-03')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_backfill('bf', NULL, '2024-01-03')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_backfill('bf', '2024-01-03', '2024-01-01')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_backfill('bf', '2024-01-01', '2024-01-03', params => '[]')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_backfill('bf', '2024-01-01', '2024-01-03', max_active_runs => 0)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_backfill('bf', '2024-01-01', '2024-01-03', reprocess => 'some')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_backfill('bf', '2024-01-01', '2024-01-03', dry_run => NULL)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_cancel_backfill('nope')$$);

-- dry_run: a notice per date, no run, no row
SELECT count(*) AS rows FROM pgetl_backfill('bf', '2024-01-01', '2024-01-03', dry_run => true);
SELECT count(*) AS runs FROM pgetl.pipeline_run WHERE pipeline = 'bf';

-- a backfill: one run per date, oldest first; the failed date's run is
-- named in a warning
SELECT count(*) AS runs FROM pgetl_backfill('bf', '2024-01-01', '2024-01-03', max_active_runs => 2);
SELECT logical_date, state FROM pgetl.pipeline_run WHERE pipeline = 'bf' ORDER BY logical_date, run_id;

-- reprocess: none runs no date that has a run, failed the failed one, all every one
SELECT count(*) AS rows FROM pgetl_backfill('bf', '2024-01-01', '2024-01-04', reprocess => 'none', dry_run => true);
SELECT count(*) AS rows FROM pgetl_backfill('bf', '2024-01-01', '2024-01-04', reprocess => 'failed', dry_run => true);
SELECT count(*) AS rows FROM pgetl_backfill('bf', '2024-01-01', '2024-01-04', reprocess => 'all', dry_run => true);

-- by the schedule's interval: a weekly schedule steps 7 days
SELECT pgetl._schedule_step(s) AS step, s AS schedule
  FROM unnest(ARRAY['@weekly', '0 3 * * 1', '@monthly', '0 3 1 * *', '@yearly', '0 3 * * *', '*/5 * * * *', '@daily']) s;

-- pgetl_cancel_backfill records the request (a running backfill reads it)
SELECT pgetl_cancel_backfill('bf');
SELECT p.name, c.requested_by = current_user AS by_me FROM pgetl.backfill_cancel c JOIN pgetl.pipeline p USING (pipeline_id);
