-- Runs per logical date (issue 11 §1): a run is identified by (pipeline,
-- logical_date); at most one active run per pipeline and logical date, and
-- at most max_active_runs (a new pipeline setting, default 16 as in
-- Airflow) active runs per pipeline across dates.  A run asked beyond the
-- cap waits in the new run state queued (first in the enum, as in a run's
-- life) until a place frees.  (pgetl_create_pipeline and
-- pgetl_alter_pipeline get the argument max_active_runs through
-- 81_signatures.sql.)  The enum value is created with the type, by
-- 25_states.sql: a value added by ALTER TYPE ADD VALUE cannot be used in
-- the transaction that added it (PostgreSQL 15: "unsafe use of new
-- value"), and the transitions and the index below use it.
ALTER TABLE pgetl.pipeline ADD COLUMN max_active_runs integer NOT NULL DEFAULT 16
    CHECK (max_active_runs BETWEEN 1 AND 1024);
INSERT INTO pgetl.run_state_transition (from_state, to_state) VALUES
    (NULL, 'queued'),
    ('queued', 'running'), ('queued', 'failed'), ('queued', 'cancelled'),
    ('failed', 'queued'), ('cancelled', 'queued'), ('success', 'queued');
DROP INDEX pgetl.run_record_one_active;
CREATE UNIQUE INDEX run_record_one_active ON pgetl.run_record (pipeline_id, logical_date)
    WHERE state IN ('queued', 'running');

--@function pgetl._run_before
--@function pgetl._check_max_active_runs
--@function pgetl._check_new_owner
--@function pgetl._drop_pipeline
--@function pgetl._recover
--@function pgetl._check_runnable
--@function pgetl._check_date_free
--@function pgetl._may_run
--@function pgetl._promote_queued
--@function pgetl._queued_reason
--@function pgetl._start_run
--@function pgetl._resume_run
--@function pgetl._set_task_state
--@function pgetl._dag_step
--@function pgetl._stop_run

-- depends_on_past (issue 11 §1): a task setting (the last argument of
-- pgetl_add_task, through 81_signatures.sql); the DAG step lets such a
-- task run only when its try in the previous logical date's run
-- succeeded or was skipped.
ALTER TABLE pgetl.task ADD COLUMN depends_on_past boolean NOT NULL DEFAULT false;
--@create pgetl._past_ok
-- (pgetl._evaluate, which calls it, is brought to its new form by
-- 88_setup_teardown.sql, once the columns it reads exist)

-- pgetl_backfill (issue 11 §1): one run per logical date of a range, at
-- most max_active_runs at a time (src/run.c); pgetl_cancel_backfill asks
-- the running backfills of a pipeline to stop (pgetl.backfill_cancel, a
-- configuration table: dumped).
CREATE TABLE pgetl.backfill_cancel (
    pipeline_id     bigint PRIMARY KEY REFERENCES pgetl.pipeline ON DELETE CASCADE,
    requested_at    timestamptz NOT NULL,
    requested_by    text NOT NULL
);
COMMENT ON TABLE pgetl.backfill_cancel IS 'the last request to stop the backfills of a pipeline (pgetl_cancel_backfill)';
SELECT pg_catalog.pg_extension_config_dump('pgetl.backfill_cancel', '');
--@function pgetl._schedule_step
--@function pgetl._backfill_dates
--@function pgetl._cancel_backfill
--@create @extschema@.pgetl_backfill
--@comment @extschema@.pgetl_backfill
--@create @extschema@.pgetl_cancel_backfill
--@comment @extschema@.pgetl_cancel_backfill
