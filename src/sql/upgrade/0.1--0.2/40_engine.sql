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

--@function pgetl._recover

--@function pgetl._check_runnable

--@function pgetl._resume_run

--@function pgetl._task_fail

--@function pgetl._stop_run

-- internal functions run as the extension owner only (src/sql/99_privileges.sql)
REVOKE ALL ON FUNCTION pgetl._retryable(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._close_retries(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._connect_error(bigint) FROM PUBLIC;
