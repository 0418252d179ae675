-- Callbacks and run deadlines (issue 10 §5).  Callbacks: on_failure,
-- on_success, on_retry of a task, on_failure, on_success of a pipeline
-- (for a run's outcome), SQL run by a task worker as the pipeline owner
-- once the state they report is committed, in a transaction of their own
-- (src/task_worker.c).  A callback's error is kept apart, in
-- callback_error, shown by the new view pgetl.callback_failure; a run's
-- callback still to run is kept in callback_pending, so that one a
-- restart interrupted runs later (the views
-- pgetl.task_run and pgetl.pipeline_run are unchanged).  Run deadlines:
-- pgetl.pipeline.run_timeout (Airflow's dagrun_timeout), enforced by the
-- scheduler (pgetl._run_timed_out).  The new arguments of pgetl_add_task,
-- pgetl_create_pipeline and pgetl_alter_pipeline come with their install
-- parts (81_signatures.sql).
ALTER TABLE pgetl.task ADD COLUMN on_failure text CHECK (btrim(on_failure) <> ''),
                       ADD COLUMN on_success text CHECK (btrim(on_success) <> ''),
                       ADD COLUMN on_retry text CHECK (btrim(on_retry) <> '');
ALTER TABLE pgetl.pipeline ADD COLUMN on_failure text CHECK (btrim(on_failure) <> ''),
                           ADD COLUMN on_success text CHECK (btrim(on_success) <> ''),
                           ADD COLUMN run_timeout interval CHECK (run_timeout > '0');
ALTER TABLE pgetl.run_record ADD COLUMN callback_error text, ADD COLUMN callback_pending pgetl.run_state;
ALTER TABLE pgetl.task_run_record ADD COLUMN callback_error text;
CREATE INDEX ON pgetl.run_record (run_id) WHERE callback_pending IS NOT NULL;

--@create pgetl._check_callback
-- (pgetl._task_start, which reads the task's callbacks, is created by
-- 94_task_start.sql, once the columns of dynamic task mapping exist too)
--@create pgetl._callback_of
--@create pgetl._run_callback_due
--@create pgetl._pending_callbacks
--@create pgetl._callback_done
--@create @extschema@.pgetl_callback_context
--@comment @extschema@.pgetl_callback_context
--@create pgetl._run_timeout_of
--@create pgetl._run_timed_out
