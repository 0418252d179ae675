-- Dynamic task mapping (issue 10 §3, Airflow's .expand()).  A task with
-- map_over (pgetl.task.map_over, the new last argument of pgetl_add_task,
-- whose new form 81_signatures.sql creates) expands, when it is ready,
-- into one mapped instance per row of that query, each a row of
-- pgetl.task_run_record with its map_index and its row (map_value), with
-- tries of its own; the task's own try (map_index NULL) is stored
-- running while they run, then takes the state they add up to
-- (pgetl._map_aggregate), which the trigger rules read as they read any
-- task's.  pgetl.pipeline.max_map_length (the new last argument of
-- pgetl_create_pipeline and pgetl_alter_pipeline) caps the instances.
-- A try is now unique per (run, task, map_index, try_number).  The view
-- pgetl.task_run shows map_index; pgetl.pipeline_run counts tasks by the
-- state of their own try, as pgetl._latest_tries now does (98_views.sql
-- recreates both).
ALTER TABLE pgetl.pipeline
    ADD COLUMN max_map_length integer NOT NULL DEFAULT 1024 CHECK (max_map_length BETWEEN 1 AND 100000);
ALTER TABLE pgetl.task ADD COLUMN map_over text CHECK (btrim(map_over) <> '');
ALTER TABLE pgetl.task_run_record
    ADD COLUMN map_index integer CHECK (map_index >= 0),
    ADD COLUMN map_value jsonb,
    DROP CONSTRAINT task_run_record_run_id_task_try_number_key,
    ADD UNIQUE NULLS NOT DISTINCT (run_id, task, map_index, try_number);

INSERT INTO pgetl.task_state_transition (from_state, to_state) VALUES
    ('queued', 'running'), ('running', 'success'), ('running', 'failed'), ('running', 'skipped'),
    ('running', 'upstream_failed'), ('running', 'cancelled');

--@function pgetl._latest_tries
--@create pgetl._latest_instances
--@create pgetl._task_expand
--@create pgetl._map_aggregate
--@function pgetl._past_ok
--@function pgetl._close_retries
--@function pgetl._resume_run
--@function pgetl._set_task_state
--@function pgetl._set_note
--@function pgetl._task_result
--@function pgetl._dag_step
--@function pgetl._task_succeed
--@function pgetl._sensor_poke
--@function pgetl._callback_of
--@function pgetl._run_timed_out

--@create pgetl._check_max_map_length
--@comment pgetl._check_max_map_length
--@create pgetl._check_map_over
--@comment pgetl._check_map_over

--@create @extschema@.pgetl_map_value
--@comment @extschema@.pgetl_map_value
--@create @extschema@.pgetl_map_index
--@comment @extschema@.pgetl_map_index

