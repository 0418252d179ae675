-- Data intervals and catchup (issue 11 §1 part 4): a run records its data
-- interval (Airflow's data_interval_start/_end; pgetl.pipeline_run shows
-- it, inside a task pgetl_data_interval_start() and _end() read it); a
-- schedule gets catchup, start_date and timezone (new arguments of
-- pgetl_schedule, whose signature changes: dropped and created again, with
-- its internal halves), can be paused (pgetl_pause_schedule,
-- pgetl_unpause_schedule) and remembers the end of its last scheduled
-- interval.  The cron evaluator (pgetl._cron_step, src/schedule.c) gives
-- the intervals (pgetl_schedule_intervals); pgetl_run called by pg_cron,
-- and pgetl_run_due, start the due ones (pgetl._due_intervals).  Backfills
-- follow the schedule's firings (pgetl._backfill_dates).
ALTER TABLE pgetl.run_record
    ADD COLUMN data_interval_start timestamptz,
    ADD COLUMN data_interval_end timestamptz;
ALTER TABLE pgetl.schedule
    ADD COLUMN catchup boolean NOT NULL DEFAULT false,
    ADD COLUMN start_date date,
    ADD COLUMN timezone text NOT NULL DEFAULT 'UTC',
    ADD COLUMN paused boolean NOT NULL DEFAULT false,
    ADD COLUMN last_interval_end timestamptz;

-- pgetl_schedule's new arguments
DROP FUNCTION @extschema@.pgetl_schedule(text, text, jsonb);
DROP FUNCTION pgetl._schedule_prepare(oid, text, text, jsonb, text);
DROP FUNCTION pgetl._schedule_record(bigint, text, jsonb, text, text, bigint);
--@create pgetl._schedule_prepare
--@comment pgetl._schedule_prepare
--@create pgetl._schedule_record
--@comment pgetl._schedule_record
--@create @extschema@.pgetl_schedule
--@comment @extschema@.pgetl_schedule

--@create pgetl._cron_step
--@comment pgetl._cron_step
--@create pgetl._cron_schedule_of
--@comment pgetl._cron_schedule_of
--@create @extschema@.pgetl_schedule_intervals
--@comment @extschema@.pgetl_schedule_intervals
--@create pgetl._date_interval
--@comment pgetl._date_interval
--@create pgetl._set_run_interval
--@comment pgetl._set_run_interval
--@create pgetl._due_intervals
--@comment pgetl._due_intervals
--@create pgetl._is_scheduled
--@comment pgetl._is_scheduled
--@create @extschema@.pgetl_run_due
--@comment @extschema@.pgetl_run_due
--@create pgetl._set_schedule_paused
--@comment pgetl._set_schedule_paused
--@create @extschema@.pgetl_pause_schedule
--@comment @extschema@.pgetl_pause_schedule
--@create @extschema@.pgetl_unpause_schedule
--@comment @extschema@.pgetl_unpause_schedule
--@create pgetl._run_data_interval
--@comment pgetl._run_data_interval
--@create @extschema@.pgetl_data_interval_start
--@comment @extschema@.pgetl_data_interval_start
--@create @extschema@.pgetl_data_interval_end
--@comment @extschema@.pgetl_data_interval_end

-- pgetl_run called by pg_cron for a scheduled pipeline (src/run.c)
--@comment @extschema@.pgetl_run

-- backfills: the dates the schedule fires on
--@function pgetl._backfill_dates
