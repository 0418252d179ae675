-- pgetl 0.1 -> 0.2: the engine (src/sql/40_engine.sql).
-- New: pgetl._retryable (errors retries cannot fix are not retried),
-- pgetl._close_retries (a stopped run leaves no task up_for_retry),
-- pgetl._connect_error (why a task worker could not connect).
-- Changed: _recover, _stop_run (tasks waiting for a retry end cancelled),
-- _task_fail (no retry of 28xxx/42501), _check_runnable (the owner needs
-- CONNECT), _resume_run (tasks added after the run join it).


CREATE FUNCTION pgetl._retryable(p_sqlstate text) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT p_sqlstate IS NULL OR NOT (left(p_sqlstate, 2) = '28' OR p_sqlstate = '42501')
$$;

CREATE FUNCTION pgetl._close_retries(p_run_id bigint) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO pgetl.task_run_record (run_id, task_id, task, try_number, max_tries)
    SELECT run_id, task_id, task, try_number + 1, max_tries
      FROM pgetl._latest_tries(p_run_id) WHERE state = 'up_for_retry'
     ORDER BY task_id
$$;

CREATE FUNCTION pgetl._connect_error(p_task_run_id bigint,
    OUT error text, OUT sqlstate text, OUT detail text, OUT hint text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tr pgetl.task_run_record;
    own oid;
    role pg_roles;
BEGIN
    SELECT * INTO tr FROM pgetl.task_run_record WHERE task_run_id = p_task_run_id;
    IF NOT FOUND OR tr.state <> 'queued' THEN
        RETURN;
    END IF;
    SELECT r.owner INTO own FROM pgetl.run_record r WHERE r.run_id = tr.run_id;
    SELECT * INTO role FROM pg_roles WHERE oid = own;
    IF NOT FOUND THEN
        error := format('role with OID %s does not exist', own);
        sqlstate := '28000';
        detail := 'Task workers connect as the pipeline owner, which was dropped.';
    ELSIF NOT role.rolcanlogin THEN
        error := format('role "%s" is not permitted to log in', role.rolname);
        sqlstate := '28000';
        detail := 'Task workers connect as the pipeline owner, which needs the LOGIN attribute.';
        hint := format('Run ALTER ROLE %s LOGIN, then SELECT pgetl_resume(%s).',
                       quote_ident(role.rolname), tr.run_id);
    ELSIF NOT has_database_privilege(own, current_database(), 'CONNECT') THEN
        error := format('permission denied for database "%s"', current_database());
        sqlstate := '42501';
        detail := 'User does not have CONNECT privilege. Task workers connect as the pipeline owner.';
        hint := format('Run GRANT CONNECT ON DATABASE %s TO %s, then SELECT pgetl_resume(%s).',
                       quote_ident(current_database()), quote_ident(role.rolname), tr.run_id);
    ELSIF NOT (SELECT datallowconn FROM pg_database WHERE datname = current_database()) THEN
        error := format('database "%s" is not currently accepting connections', current_database());
        sqlstate := '55000';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgetl._recover() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    n integer := 0;
    why text;
    task_why text;
    epoch timestamptz := pgetl._epoch();
BEGIN
    FOR r IN SELECT run_id, server_epoch FROM pgetl.run_record
              WHERE state = 'running'
                AND NOT run_id = ANY (pgetl._live_runs())
                FOR UPDATE SKIP LOCKED
    LOOP
        IF r.server_epoch IS DISTINCT FROM epoch THEN
            why := 'server restarted';
            task_why := 'server restarted';
        ELSE
            why := 'run coordinator terminated unexpectedly';
            task_why := 'worker terminated unexpectedly';
            -- Task workers of the dead coordinator must not go on unseen.
            PERFORM pg_terminate_backend(a.pid)
               FROM pg_stat_activity a JOIN pgetl.task_run_record t ON t.pid = a.pid
              WHERE t.run_id = r.run_id AND t.state IN ('queued', 'running')
                AND a.backend_type = 'pgetl task';
        END IF;
        PERFORM pgetl._close_retries(r.run_id);
        UPDATE pgetl.task_run_record SET state = 'failed', error = task_why
         WHERE run_id = r.run_id AND state IN ('queued', 'running');
        UPDATE pgetl.task_run_record SET state = 'cancelled', error = 'run failed: ' || why
         WHERE run_id = r.run_id AND state = 'scheduled';
        UPDATE pgetl.run_record SET state = 'failed', reason = why WHERE run_id = r.run_id;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION pgetl._check_runnable(p pgetl.pipeline) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a pgetl.run_record;
BEGIN
    IF NOT p.enabled THEN
        RAISE EXCEPTION 'pipeline "%" is disabled', p.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Enable it with SELECT pgetl_alter_pipeline(%L, enabled => true).', p.name);
    END IF;
    SELECT * INTO a FROM pgetl.run_record
     WHERE pipeline_id = p.pipeline_id AND state = 'running';
    IF FOUND THEN
        RAISE EXCEPTION 'pipeline "%" already has an active run', p.name
            USING ERRCODE = 'object_in_use',
                  DETAIL = format('Run %s, started by %s, is %s.', a.run_id, a.started_by, a.state),
                  HINT = format('Wait for it to finish, or cancel it with SELECT pgetl_cancel(%s).', a.run_id);
    END IF;
    PERFORM pgetl._check_login(p.owner, 'run pipeline tasks');
    IF NOT has_database_privilege(p.owner, current_database(), 'CONNECT') THEN
        RAISE EXCEPTION 'role "%" cannot run pipeline tasks: permission denied for database "%"',
                p.owner, current_database()
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Tasks run in background workers that connect as the pipeline owner, which needs CONNECT on the database.',
                  HINT = format('Run GRANT CONNECT ON DATABASE %s TO %s.', quote_ident(current_database()), p.owner);
    END IF;
    IF NOT EXISTS (SELECT FROM pgetl.task WHERE pipeline_id = p.pipeline_id) THEN
        RAISE EXCEPTION 'pipeline "%" has no tasks', p.name
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Add tasks with pgetl_add_task().';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgetl._resume_run(caller oid, p_run_id bigint, coordinator_pid integer,
                                  p_rerun text[] DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r pgetl.run_record;
    p pgetl.pipeline;
    unknown text;
    rerun_ids bigint[];
BEGIN
    PERFORM pgetl._recover();
    r := pgetl._run_for(caller, p_run_id, 'resume', true);
    IF r.state = 'running' THEN
        RAISE EXCEPTION 'run % is still running', p_run_id
            USING ERRCODE = 'object_in_use',
                  HINT = format('Only finished runs can be resumed: wait, or cancel it with SELECT pgetl_cancel(%s).', p_run_id);
    END IF;
    IF r.state = 'success' THEN
        RAISE EXCEPTION 'run % succeeded: there is nothing to resume', p_run_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Start a new run with SELECT pgetl_run(%L).', r.pipeline);
    END IF;
    IF r.pipeline_id IS NULL THEN
        RAISE EXCEPTION 'pipeline "%" of run % was dropped', r.pipeline, p_run_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT * INTO p FROM pgetl.pipeline WHERE pipeline_id = r.pipeline_id FOR UPDATE;
    PERFORM pgetl._check_runnable(p);
    -- tasks to re-run although they succeeded, with everything downstream
    SELECT string_agg(coalesce(quote_ident(n), 'NULL'), ', ') INTO unknown FROM unnest(p_rerun) n
     WHERE n IS NULL OR NOT EXISTS (SELECT FROM pgetl.task t WHERE t.pipeline_id = p.pipeline_id AND t.name = n);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'task % does not exist in pipeline "%"', unknown, p.name
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Tasks of the pipeline: ' || (SELECT string_agg(name, ', ' ORDER BY task_id)
                                                          FROM pgetl.task WHERE pipeline_id = p.pipeline_id) || '.';
    END IF;
    WITH RECURSIVE down(task_id) AS (
        SELECT task_id FROM pgetl.task WHERE pipeline_id = p.pipeline_id AND name = ANY (p_rerun)
        UNION
        SELECT d.task_id FROM down JOIN pgetl.task_dependency d ON d.upstream_task_id = down.task_id
    )
    SELECT coalesce(array_agg(task_id), '{}') INTO rerun_ids FROM down;

    UPDATE pgetl.run_record SET state = 'running', reason = NULL, resumed = resumed + 1,
           server_epoch = pgetl._epoch(), coordinator_pid = _resume_run.coordinator_pid
     WHERE run_id = p_run_id;
    WITH RECURSIVE latest AS (SELECT * FROM pgetl._latest_tries(p_run_id)),
    rerun AS (
        SELECT task_id FROM latest WHERE state NOT IN ('success', 'skipped') OR task_id = ANY (rerun_ids)
        UNION
        SELECT l.task_id FROM rerun
          JOIN pgetl.task_dependency d ON d.upstream_task_id = rerun.task_id
          JOIN latest l ON l.task_id = d.task_id AND l.state = 'skipped'
    )
    INSERT INTO pgetl.task_run_record (run_id, task_id, task, try_number, max_tries)
    SELECT p_run_id, l.task_id, l.task, l.try_number + 1, l.try_number + 1 + t.retries
      FROM latest l JOIN pgetl.task t ON t.task_id = l.task_id
     WHERE l.task_id IN (SELECT task_id FROM rerun)
     ORDER BY l.task_id;
    -- As Airflow does for a cleared run, tasks added to the pipeline after
    -- the run started join it now, with their first try.
    INSERT INTO pgetl.task_run_record (run_id, task_id, task, try_number, max_tries)
    SELECT p_run_id, t.task_id, t.name, n.tries + 1, n.tries + 1 + t.retries
      FROM pgetl.task t,
           LATERAL (SELECT coalesce(max(tr.try_number), 0) AS tries FROM pgetl.task_run_record tr
                     WHERE tr.run_id = p_run_id AND tr.task = t.name) n
     WHERE t.pipeline_id = p.pipeline_id
       AND NOT EXISTS (SELECT FROM pgetl.task_run_record tr
                        WHERE tr.run_id = p_run_id AND tr.task_id = t.task_id)
     ORDER BY t.task_id;
    RETURN p_run_id;
END
$$;

CREATE OR REPLACE FUNCTION pgetl._task_fail(p_task_run_id bigint, p_error text, p_sqlstate text, p_detail text,
                                 p_hint text, p_context text)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st text;
BEGIN
    UPDATE pgetl.task_run_record
       SET state = CASE WHEN try_number < max_tries AND pgetl._retryable(p_sqlstate)
                        THEN 'up_for_retry'::pgetl.task_state ELSE 'failed' END,
           error = p_error, sqlstate = p_sqlstate, detail = p_detail, hint = p_hint, context = p_context
     WHERE task_run_id = p_task_run_id AND state IN ('queued', 'running')
    RETURNING state INTO st;
    RETURN st;
END
$$;

CREATE OR REPLACE FUNCTION pgetl._stop_run(p_run_id bigint, p_state text, p_reason text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pgetl._close_retries(p_run_id);
    UPDATE pgetl.task_run_record SET state = 'cancelled', error = p_reason
     WHERE run_id = p_run_id AND state IN ('scheduled', 'queued', 'running');
    UPDATE pgetl.run_record SET state = p_state::pgetl.run_state, reason = p_reason
     WHERE run_id = p_run_id AND state = 'running';
END
$$;

-- internal functions run as the extension owner only (src/sql/99_privileges.sql)
REVOKE ALL ON FUNCTION pgetl._retryable(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._close_retries(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._connect_error(bigint) FROM PUBLIC;
