-- User-facing functions.  They live in the extension's schema (public by
-- default) so that they resolve without qualification.

CREATE FUNCTION pgetl._live_runs() RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'pgetl_live_runs' LANGUAGE C VOLATILE;
CREATE FUNCTION pgetl._epoch() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'pgetl_epoch_sql' LANGUAGE C STABLE;

CREATE FUNCTION @extschema@.pgetl_create_pipeline(
    name text, description text DEFAULT NULL, max_parallel integer DEFAULT 4,
    params jsonb DEFAULT '{}', max_active_runs integer DEFAULT 16, on_failure text DEFAULT NULL,
    on_success text DEFAULT NULL, run_timeout interval DEFAULT NULL, max_active_tasks integer DEFAULT NULL,
    max_map_length integer DEFAULT 1024)
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_create_pipeline(text, text, integer, jsonb, integer, text, text, interval, integer, integer) IS
'creates a pipeline owned by the calling role (which must have LOGIN); max_active_runs caps its active runs across logical dates (more wait queued), max_active_tasks its running tasks across those runs (NULL: no cap); with its callbacks (SQL run as the owner when a run fails or succeeds) and run timeout (a run past it fails); max_map_length caps the mapped instances of a mapped task; returns its id';

CREATE FUNCTION @extschema@.pgetl_alter_pipeline(
    name text, enabled boolean DEFAULT NULL, description text DEFAULT NULL,
    max_parallel integer DEFAULT NULL, params jsonb DEFAULT NULL, owner regrole DEFAULT NULL,
    max_active_runs integer DEFAULT NULL, on_failure text DEFAULT NULL, on_success text DEFAULT NULL,
    run_timeout interval DEFAULT NULL, max_active_tasks integer DEFAULT NULL,
    max_map_length integer DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_alter_pipeline(text, boolean, text, integer, jsonb, regrole, integer, text, text, interval, integer, integer) IS
'enables or disables a pipeline, or changes its description, max_parallel, default params, owner, max_active_runs, callbacks, run timeout, max_active_tasks or max_map_length (NULL keeps a setting; a callback given as '''' is removed, a run_timeout given as ''0'', a max_active_tasks given as 0); a new owner gets the pipeline''s cron job too';

CREATE FUNCTION @extschema@.pgetl_reassign_owned(old_role regrole, new_role regrole)
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_reassign_owned(regrole, regrole) IS
'like REASSIGN OWNED, for pgetl in this database: the pipelines (with their cron jobs), load specs, staged data and history of old_role (which may be a dropped role, given by OID) become new_role''s; returns the number of pipelines, load specs and staged data sets reassigned';

CREATE FUNCTION @extschema@.pgetl_drop_pipeline(name text)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_drop_pipeline(text) IS
'drops a pipeline and its tasks; its run history is kept';

CREATE FUNCTION @extschema@.pgetl_add_task(
    pipeline text, name text, command text, upstream text[] DEFAULT '{}',
    kind text DEFAULT 'sql', retries integer DEFAULT 0,
    retry_delay interval DEFAULT '5 minutes', timeout interval DEFAULT NULL,
    trigger_rule text DEFAULT 'all_success', config jsonb DEFAULT '{}',
    retry_exponential_backoff boolean DEFAULT false, max_retry_delay interval DEFAULT NULL,
    depends_on_past boolean DEFAULT false, on_failure text DEFAULT NULL, on_success text DEFAULT NULL,
    on_retry text DEFAULT NULL, setup boolean DEFAULT false, teardown boolean DEFAULT false,
    on_failure_fail_run boolean DEFAULT false, pool text DEFAULT NULL, pool_slots integer DEFAULT 1,
    priority_weight integer DEFAULT 1, weight_rule text DEFAULT 'downstream', map_over text DEFAULT NULL)
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_add_task(text, text, text, text[], text, integer, interval, interval, text, jsonb, boolean, interval, boolean, text, text, text, boolean, boolean, boolean, text, integer, integer, text, text) IS
'adds a task to a pipeline, downstream of the named upstream tasks (depends_on_past: only after its try in the previous logical date''s run succeeded or was skipped), with its callbacks (SQL run as the owner when a try fails, succeeds or is retried); a setup task, or a teardown task paired with its upstream setup tasks (Airflow''s setup >> work >> teardown); pool: it takes pool_slots of that task pool while it runs; priority_weight and weight_rule: the higher effective weight starts first; map_over: a query whose rows expand the task into one mapped instance each (Airflow''s .expand()); returns its id';

CREATE FUNCTION @extschema@.pgetl_create_pool(name text, slots integer, description text DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_create_pool(text, integer, text) IS
'creates a task pool (Airflow''s pool) of slots shared by the tasks that name it, across pipelines; superusers and members of pgetl_pool_admin only';

CREATE FUNCTION @extschema@.pgetl_alter_pool(name text, slots integer DEFAULT NULL, description text DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_alter_pool(text, integer, text) IS
'changes the slots or description of a task pool (NULL keeps a setting); superusers and members of pgetl_pool_admin only';

CREATE FUNCTION @extschema@.pgetl_drop_pool(name text)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_drop_pool(text) IS
'drops a task pool no task uses; superusers and members of pgetl_pool_admin only';

CREATE FUNCTION @extschema@.pgetl_add_dependency(pipeline text, task text, upstream text[])
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_add_dependency(text, text, text[]) IS
'makes a task run after the named upstream tasks; refuses edges that close a cycle';

CREATE FUNCTION @extschema@.pgetl_run(
    pipeline text, params jsonb DEFAULT '{}', logical_date date DEFAULT CURRENT_DATE,
    wait boolean DEFAULT true)
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_run(text, jsonb, date, boolean) IS
'runs a pipeline in background workers and returns the run id; when waiting, raises an error if the run fails; called by pg_cron for a pipeline scheduled with pgetl_schedule, starts the schedule''s due data intervals instead (pgetl_run_due)';

CREATE FUNCTION @extschema@.pgetl_resume(run_id bigint, wait boolean DEFAULT true,
                                         rerun text[] DEFAULT NULL)
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_resume(bigint, boolean, text[]) IS
're-runs the failed, upstream_failed and cancelled tasks of a finished run, keeping its successful tasks; tasks named in rerun, and everything downstream of them, are re-run too';

CREATE FUNCTION @extschema@.pgetl_cancel(run_id bigint)
RETURNS boolean AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_cancel(bigint) IS
'cancels an active run: terminates its task workers and marks unfinished tasks cancelled';

CREATE FUNCTION @extschema@.pgetl_backfill(
    pipeline text, start_date date, end_date date, params jsonb DEFAULT '{}',
    max_active_runs integer DEFAULT 1, reprocess text DEFAULT 'failed',
    dry_run boolean DEFAULT false, wait boolean DEFAULT true)
RETURNS SETOF bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_backfill(text, date, date, jsonb, integer, text, boolean, boolean) IS
'runs a pipeline once per logical date from start_date to end_date (daily, or by its schedule''s interval), at most max_active_runs at a time; reprocess none, failed or all says which dates that have runs run again; dry_run lists the dates (a notice each) without running; returns the run ids';

CREATE FUNCTION @extschema@.pgetl_cancel_backfill(pipeline text)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_cancel_backfill(text) IS
'stops the backfills of a pipeline that run now: they start no more dates and cancel their queued runs; running runs finish';

CREATE FUNCTION @extschema@.pgetl_purge_history(older_than interval DEFAULT '30 days')
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_purge_history(interval) IS
'deletes finished runs (with their task runs, loads and rejects) that ended more than the interval ago, of pipelines you are a member of the owner of; returns the number of runs deleted';

CREATE FUNCTION @extschema@.pgetl_param(name text)
RETURNS text AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pgetl_param(text) IS
'inside a task: the run parameter of that name, else the pipeline default';

CREATE FUNCTION @extschema@.pgetl_result(task text)
RETURNS jsonb AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pgetl_result(text) IS
'inside a task: the recorded result (first row of its last statement) of a task of the same run';

CREATE FUNCTION @extschema@.pgetl_run_id()
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pgetl_run_id() IS
'inside a task: the id of the current run (outside a task: error 55000)';

CREATE FUNCTION @extschema@.pgetl_logical_date()
RETURNS date AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pgetl_logical_date() IS
'inside a task: the logical date of the current run (outside a task: error 55000)';

CREATE FUNCTION @extschema@.pgetl_map_value("column" text)
RETURNS text AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pgetl_map_value(text) IS
'inside a mapped instance of a mapped task: the value of that column of its row of the task''s map_over query (elsewhere: error 55000)';

CREATE FUNCTION @extschema@.pgetl_map_index()
RETURNS integer AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pgetl_map_index() IS
'inside a mapped instance of a mapped task: its map_index, 0 for the first row of the task''s map_over query (elsewhere: error 55000)';

-- Read from the run's record: pgetl._run_data_interval.
CREATE FUNCTION pgetl._run_data_interval(p_run_id bigint, p_end boolean) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN p_end THEN data_interval_end ELSE data_interval_start END
      FROM pgetl.run_record WHERE run_id = p_run_id
$$;
COMMENT ON FUNCTION pgetl._run_data_interval(bigint, boolean) IS
'internal: the start or end of a run''s data interval, for pgetl_data_interval_start() and _end()';

CREATE FUNCTION @extschema@.pgetl_data_interval_start()
RETURNS timestamptz AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pgetl_data_interval_start() IS
'inside a task: the start of the current run''s data interval (outside a task: error 55000)';

CREATE FUNCTION @extschema@.pgetl_data_interval_end()
RETURNS timestamptz AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pgetl_data_interval_end() IS
'inside a task: the end of the current run''s data interval (outside a task: error 55000)';

CREATE FUNCTION @extschema@.pgetl_skip(reason text DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.pgetl_skip(text) IS
'inside a task: ends the task skipped (its work rolls back, it is not retried) with the reason; downstream tasks follow their trigger rules';

CREATE FUNCTION @extschema@.pgetl_clear(run_id bigint, tasks text[], downstream boolean DEFAULT true,
                                        wait boolean DEFAULT true)
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_clear(bigint, text[], boolean, boolean) IS
're-runs tasks of a finished run (also a successful one), with their downstream tasks unless downstream is false; other tasks keep their state; returns the run id';

CREATE FUNCTION @extschema@.pgetl_set_task_state(run_id bigint, task text, state text, note text DEFAULT NULL)
RETURNS text AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_set_task_state(bigint, text, text, text) IS
'marks the latest try of a task of a finished run success, failed or skipped by hand, recording who and when (and the note); returns the state it had';

CREATE FUNCTION @extschema@.pgetl_set_note(run_id bigint, task text, note text)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_set_note(bigint, text, text) IS
'sets the note of a run (task NULL) or of the latest try of one of its tasks, shown in pgetl.pipeline_run and pgetl.task_run; NULL removes it';

CREATE FUNCTION @extschema@.pgetl_callback_context()
RETURNS jsonb AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pgetl_callback_context() IS
'inside a callback (on_failure, on_success, on_retry): what it reports, as jsonb: event, run_id, pipeline, task, try_number, state, error, sqlstate, logical_date, duration in seconds (outside a callback: error 55000)';

-- What this part's internal functions are for and who calls them (every
-- function has a COMMENT ON FUNCTION: test/style/sql_style_test.sh).
COMMENT ON FUNCTION pgetl._live_runs() IS
'internal: the runs of this database whose scheduler is alive (shared memory, shmem.c); read by _recover';
COMMENT ON FUNCTION pgetl._epoch() IS
'internal: when pgetl''s shared memory was initialized (server start or crash restart), recorded with each run; read by _recover';
