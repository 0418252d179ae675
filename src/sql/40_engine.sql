-- The engine's bookkeeping, called from C: by the scheduler (a background
-- worker per database, src/scheduler.c) and by task workers
-- (src/task_worker.c), always as the extension owner.

-- Latest try of every task of a run (a mapped task's own try, not its
-- mapped instances: pgetl._latest_instances reads those).
CREATE FUNCTION pgetl._latest_tries(p_run_id bigint) RETURNS SETOF pgetl.task_run_record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT DISTINCT ON (task) * FROM pgetl.task_run_record
     WHERE run_id = p_run_id AND map_index IS NULL ORDER BY task, try_number DESC
$$;

-- Latest try of every mapped instance of a run:
CREATE FUNCTION pgetl._latest_instances(p_run_id bigint) RETURNS SETOF pgetl.task_run_record
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT DISTINCT ON (task, map_index) * FROM pgetl.task_run_record
                  WHERE run_id = p_run_id AND map_index IS NOT NULL
                  ORDER BY task, map_index, try_number DESC;
END
$$;

-- Airflow's trigger rules: given the states of a task's upstream tasks,
-- decide whether it runs now ('run'), waits ('wait'), or will never run
-- ('upstream_failed' or 'skipped').  n_setup, n_setup_success and
-- n_setup_skipped count the upstream tasks that are setup tasks (for
-- all_done_setup_success, the rule of teardown tasks).
CREATE FUNCTION pgetl._trigger_decision(rule text, n_up bigint, n_success bigint, n_failed bigint,
                                        n_skipped bigint, n_done bigint, n_setup bigint DEFAULT 0,
                                        n_setup_success bigint DEFAULT 0, n_setup_skipped bigint DEFAULT 0)
RETURNS text LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN n_up = 0 OR rule = 'always' THEN 'run'
        WHEN rule = 'all_success' THEN CASE
            WHEN n_failed > 0 THEN 'upstream_failed'
            WHEN n_skipped > 0 THEN 'skipped'
            WHEN n_success = n_up THEN 'run' ELSE 'wait' END
        WHEN rule = 'all_failed' THEN CASE
            WHEN n_success > 0 OR n_skipped > 0 THEN 'skipped'
            WHEN n_failed = n_up THEN 'run' ELSE 'wait' END
        WHEN rule = 'all_done' THEN CASE WHEN n_done = n_up THEN 'run' ELSE 'wait' END
        WHEN rule = 'one_success' THEN CASE
            WHEN n_success > 0 THEN 'run'
            WHEN n_done < n_up THEN 'wait'
            WHEN n_failed > 0 THEN 'upstream_failed' ELSE 'skipped' END
        WHEN rule = 'one_failed' THEN CASE
            WHEN n_failed > 0 THEN 'run'
            WHEN n_done < n_up THEN 'wait' ELSE 'skipped' END
        WHEN rule = 'none_failed' THEN CASE
            WHEN n_failed > 0 THEN 'upstream_failed'
            WHEN n_done = n_up THEN 'run' ELSE 'wait' END
        WHEN rule = 'none_failed_min_one_success' THEN CASE
            WHEN n_failed > 0 THEN 'upstream_failed'
            WHEN n_done < n_up THEN 'wait'
            WHEN n_success > 0 THEN 'run' ELSE 'skipped' END
        WHEN rule = 'none_skipped' THEN CASE
            WHEN n_skipped > 0 THEN 'skipped'
            WHEN n_done = n_up THEN 'run' ELSE 'wait' END
        -- Airflow >= 2.9: one upstream succeeded or failed (does not wait)
        WHEN rule = 'one_done' THEN CASE
            WHEN n_success + n_failed > 0 THEN 'run'
            WHEN n_done = n_up THEN 'skipped' ELSE 'wait' END
        WHEN rule = 'all_skipped' THEN CASE
            WHEN n_success + n_failed > 0 THEN 'skipped'
            WHEN n_skipped = n_up THEN 'run' ELSE 'wait' END
        -- skipped upstream tasks are not "done" for this rule (Airflow)
        WHEN rule = 'all_done_min_one_success' THEN CASE
            WHEN n_skipped > 0 THEN 'skipped'
            WHEN n_done < n_up THEN 'wait'
            WHEN n_success > 0 THEN 'run' ELSE 'upstream_failed' END
        -- as Airflow's trigger_rule_dep: all done, then skipped when every
        -- upstream setup task was skipped, upstream_failed when none of
        -- them succeeded (without upstream setup tasks: as all_done)
        WHEN rule = 'all_done_setup_success' THEN CASE
            WHEN n_done < n_up THEN 'wait'
            WHEN n_setup > 0 AND n_setup_skipped >= n_setup THEN 'skipped'
            WHEN n_setup > 0 AND n_setup_success = 0 THEN 'upstream_failed' ELSE 'run' END
    END
$$;

-- Airflow's depends_on_past: may a task of a run start, as far as its
-- past goes?  Yes when the pipeline's previous run (the latest run of the
-- greatest earlier logical date, whatever its state) has no try of the
-- task (the first run has no past; a task added since has none either)
-- or its latest try there succeeded or was skipped; otherwise the task
-- waits (scheduled) until that try is (its run resumed or cleared, or
-- marked by hand).
CREATE FUNCTION pgetl._past_ok(p_run_id bigint, p_task_id bigint) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r pgetl.run_record;
    prev bigint;
    st pgetl.task_state;
BEGIN
    SELECT * INTO r FROM pgetl.run_record WHERE run_id = p_run_id;
    SELECT run_id INTO prev FROM pgetl.run_record
     WHERE pipeline_id = r.pipeline_id AND logical_date < r.logical_date
     ORDER BY logical_date DESC, run_id DESC LIMIT 1;
    IF prev IS NULL THEN
        RETURN true;
    END IF;
    SELECT state INTO st FROM pgetl.task_run_record
     WHERE run_id = prev AND task_id = p_task_id AND map_index IS NULL ORDER BY try_number DESC LIMIT 1;
    RETURN st IS NULL OR st IN ('success', 'skipped');
END
$$;

-- The setup tasks a task waits for besides its direct upstream tasks
-- (Airflow's setup constraint, for tasks that are not teardown tasks): the
-- setup tasks upstream of it, not directly, that have a teardown task
-- downstream of it, or none at all.  It runs at every step of every run:
-- a pipeline without setup tasks costs one index scan, and the recursive
-- query is planned once per session (PL/pgSQL) and not JIT-compiled (the
-- planner's estimates of recursive queries are high enough for that, which
-- costs seconds for a query of milliseconds).
CREATE FUNCTION pgetl._indirect_setups(p_pipeline_id bigint)
RETURNS TABLE (task_id bigint, setup_id bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET jit = off AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pgetl.task s WHERE s.pipeline_id = p_pipeline_id AND s.setup) THEN
        RETURN;
    END IF;
    RETURN QUERY
        WITH RECURSIVE setups AS (
            SELECT s.task_id FROM pgetl.task s WHERE s.pipeline_id = p_pipeline_id AND s.setup
        ), teardown_of(setup_id, teardown_id) AS (
            SELECT d.upstream_task_id, d.task_id FROM pgetl.task_dependency d
              JOIN setups s ON s.task_id = d.upstream_task_id
              JOIN pgetl.task td ON td.task_id = d.task_id AND td.teardown
        ), down(setup_id, task_id) AS (
            SELECT d.upstream_task_id, d.task_id FROM pgetl.task_dependency d
              JOIN setups s ON s.task_id = d.upstream_task_id
            UNION
            SELECT down.setup_id, d.task_id FROM down JOIN pgetl.task_dependency d ON d.upstream_task_id = down.task_id
        ), up(teardown_id, task_id) AS (
            SELECT d.task_id, d.upstream_task_id FROM pgetl.task_dependency d
             WHERE d.task_id IN (SELECT teardown_id FROM teardown_of)
            UNION
            SELECT up.teardown_id, d.upstream_task_id FROM up JOIN pgetl.task_dependency d ON d.task_id = up.task_id
        )
        SELECT down.task_id, down.setup_id
          FROM down JOIN pgetl.task t ON t.task_id = down.task_id AND NOT t.teardown
         WHERE NOT EXISTS (SELECT FROM pgetl.task_dependency d
                            WHERE d.task_id = down.task_id AND d.upstream_task_id = down.setup_id)
           AND (NOT EXISTS (SELECT FROM teardown_of o WHERE o.setup_id = down.setup_id)
                OR EXISTS (SELECT FROM teardown_of o JOIN up ON up.teardown_id = o.teardown_id
                            WHERE o.setup_id = down.setup_id AND up.task_id = down.task_id));
END
$$;
COMMENT ON FUNCTION pgetl._indirect_setups(bigint) IS
'internal: the setup tasks each task of a pipeline waits for besides its direct upstream tasks (Airflow''s setup constraint)';

-- Decision for every scheduled task of a run.  Failed, upstream_failed and
-- cancelled upstream tasks all count as failures.  A teardown task runs by
-- all_done_setup_success, whatever its trigger_rule column says.  As
-- Airflow's setup constraint, a task whose indirect setup task
-- (pgetl._indirect_setups) failed is upstream_failed, one whose indirect
-- setup task was skipped is skipped, whatever its trigger rule, and it
-- waits until they all succeeded.  A task that depends_on_past and whose
-- past is not done waits (pgetl._past_ok).
CREATE FUNCTION pgetl._evaluate(p_run_id bigint)
RETURNS TABLE (task_run_id bigint, task_id bigint, decision text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH latest AS (SELECT * FROM pgetl._latest_tries(p_run_id)),
    by_rule AS (
        SELECT l.task_run_id, l.task_id, t.depends_on_past,
               pgetl._trigger_decision(CASE WHEN t.teardown THEN 'all_done_setup_success' ELSE t.trigger_rule END,
                   count(d.upstream_task_id),
                   count(*) FILTER (WHERE u.state = 'success'),
                   count(*) FILTER (WHERE u.state IN ('failed', 'upstream_failed', 'cancelled')),
                   count(*) FILTER (WHERE u.state = 'skipped'),
                   count(*) FILTER (WHERE u.state IN ('success', 'failed', 'upstream_failed', 'skipped', 'cancelled')),
                   count(*) FILTER (WHERE s.setup),
                   count(*) FILTER (WHERE s.setup AND u.state = 'success'),
                   count(*) FILTER (WHERE s.setup AND u.state = 'skipped')) AS decision
          FROM latest l
          JOIN pgetl.task t ON t.task_id = l.task_id
          LEFT JOIN pgetl.task_dependency d ON d.task_id = l.task_id
          LEFT JOIN pgetl.task s ON s.task_id = d.upstream_task_id
          LEFT JOIN latest u ON u.task_id = d.upstream_task_id
         WHERE l.state = 'scheduled'
         GROUP BY l.task_run_id, l.task_id, t.trigger_rule, t.teardown, t.depends_on_past
    ), indirect AS (
        SELECT i.task_id, count(*) AS n,
               count(*) FILTER (WHERE u.state = 'success') AS n_success,
               count(*) FILTER (WHERE u.state IN ('failed', 'upstream_failed', 'cancelled')) AS n_failed,
               count(*) FILTER (WHERE u.state = 'skipped') AS n_skipped
          FROM pgetl._indirect_setups((SELECT r.pipeline_id FROM pgetl.run_record r WHERE r.run_id = p_run_id)) i
          LEFT JOIN latest u ON u.task_id = i.setup_id
         GROUP BY i.task_id
    )
    SELECT b.task_run_id, b.task_id,
           CASE WHEN i.n_failed > 0 THEN 'upstream_failed'
                WHEN i.n_skipped > 0 THEN 'skipped'
                WHEN b.decision = 'run' AND i.n_success < i.n THEN 'wait'
                WHEN b.decision = 'run' AND b.depends_on_past AND NOT pgetl._past_ok(p_run_id, b.task_id)
                THEN 'wait'
                ELSE b.decision END
      FROM by_rule b LEFT JOIN indirect i ON i.task_id = b.task_id
$$;

-- The wait before the next try of a task; base_delay (the run's
-- retry_delay param, if any) replaces the task's own retry_delay.
CREATE FUNCTION pgetl._retry_delay(t pgetl.task, failed_try integer, base_delay interval DEFAULT NULL)
RETURNS interval
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN NOT t.retry_exponential_backoff THEN coalesce(base_delay, t.retry_delay)
                ELSE least(coalesce(base_delay, t.retry_delay) * power(2, least(failed_try - 1, 30)),
                           coalesce(t.max_retry_delay, interval '1 day'))
           END
$$;

-- The run's retry_delay param (run params over pipeline defaults) as an
-- interval, or NULL; raises 22023 when it is not a non-negative interval.
CREATE FUNCTION pgetl._param_retry_delay(p_pipeline_id bigint, p_params jsonb) RETURNS interval
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v jsonb;
    d interval;
BEGIN
    SELECT coalesce(p_params, '{}') -> 'retry_delay' INTO v;
    IF v IS NULL THEN
        SELECT params -> 'retry_delay' INTO v FROM pgetl.pipeline WHERE pipeline_id = p_pipeline_id;
    END IF;
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        RETURN NULL;
    END IF;
    BEGIN
        d := (v #>> '{}')::interval;
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
        d := NULL;
    END;
    IF d IS NULL OR d < '0' THEN
        RAISE EXCEPTION 'param retry_delay must be a non-negative interval, not %', v
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example: params => ''{"retry_delay": "2 seconds"}''. It replaces the retry_delay of every task of the run.';
    END IF;
    RETURN d;
END
$$;

-- Whether a failed try may be retried.  Retries cannot fix a role that may
-- not log in or no longer exists (SQLSTATE class 28, e.g. 28000) nor a
-- missing privilege (42501, e.g. CONNECT on the database): such a try fails
-- at once, whatever tries are left.
CREATE FUNCTION pgetl._retryable(p_sqlstate text) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT p_sqlstate IS NULL OR NOT (left(p_sqlstate, 2) = '28' OR p_sqlstate = '42501')
$$;

-- A run that stops while tasks wait for their retry: each such task gets its
-- next try, recorded scheduled (the caller then marks it cancelled or
-- failed), so that no task of a finished run stays up_for_retry.  Finished
-- tries never change.
-- Mapped instances waiting for their retry too.
CREATE FUNCTION pgetl._close_retries(p_run_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO pgetl.task_run_record (run_id, task_id, task, try_number, max_tries, map_index, map_value)
    SELECT l.run_id, l.task_id, l.task, l.try_number + 1, l.max_tries, l.map_index, l.map_value
      FROM (SELECT * FROM pgetl._latest_tries(p_run_id)
            UNION ALL SELECT * FROM pgetl._latest_instances(p_run_id)) l
     WHERE l.state = 'up_for_retry'
     ORDER BY l.task_id, l.map_index NULLS FIRST;
END
$$;

-- Why a task worker could not connect, when its try ended before it began
-- (still queued): the checks PostgreSQL makes when the worker connects as
-- the pipeline owner, with PostgreSQL's own messages.  The connection
-- error itself only reaches the server log.  All NULL when none applies.
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

-- Runs that were active (running or queued) when their scheduler died are marked failed, with
-- the reason; their unfinished task tries are failed or cancelled, so that
-- nothing stays queued and pgetl_resume() can pick them up.  A run is
-- alive while its scheduler holds its slot in shared memory
-- (pgetl._live_runs(), read after this statement's snapshot was taken).
CREATE FUNCTION pgetl._recover() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    n integer := 0;
    why text;
    task_why text;
    epoch timestamptz := pgetl._epoch();
BEGIN
    FOR r IN SELECT run_id, server_epoch FROM pgetl.run_record
              WHERE state IN ('queued', 'running')
                AND NOT run_id = ANY (pgetl._live_runs())
                FOR UPDATE SKIP LOCKED
    LOOP
        IF r.server_epoch IS DISTINCT FROM epoch THEN
            why := 'server restarted';
            task_why := 'server restarted';
        ELSE
            why := 'pgetl scheduler terminated unexpectedly';
            task_why := 'worker terminated unexpectedly';
            -- Task workers running tries of the run must not go on unseen.
            PERFORM pg_terminate_backend(w.pid)
               FROM pgetl._running_tasks() w JOIN pgetl.task_run_record t USING (task_run_id)
              WHERE t.run_id = r.run_id;
        END IF;
        PERFORM pgetl._close_retries(r.run_id);
        UPDATE pgetl.task_run_record SET state = 'failed', error = task_why
         WHERE run_id = r.run_id AND state IN ('queued', 'running');
        -- a sensor waiting for its next poke (up_for_reschedule) held no
        -- worker: as a try not yet started
        UPDATE pgetl.task_run_record SET state = 'cancelled', error = 'run failed: ' || why
         WHERE run_id = r.run_id AND state IN ('scheduled', 'up_for_reschedule');
        -- the pipeline's on_failure runs when a scheduler next runs
        -- (the recovery worker starts one for it)
        UPDATE pgetl.run_record rr SET state = 'failed', reason = why,
               callback_pending = (SELECT 'failed'::pgetl.run_state FROM pgetl.pipeline p
                                    WHERE p.pipeline_id = rr.pipeline_id AND p.on_failure IS NOT NULL)
         WHERE rr.run_id = r.run_id;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

-- A run the caller may act on (as a member of the pipeline's owner).
CREATE FUNCTION pgetl._run_for(caller oid, p_run_id bigint, action text, lock_it boolean DEFAULT false)
RETURNS pgetl.run_record
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r pgetl.run_record;
BEGIN
    IF lock_it THEN
        SELECT * INTO r FROM pgetl.run_record WHERE run_id = p_run_id FOR UPDATE;
    ELSE
        SELECT * INTO r FROM pgetl.run_record WHERE run_id = p_run_id;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', coalesce(p_run_id::text, 'NULL')
            USING ERRCODE = 'undefined_object', HINT = 'See SELECT * FROM pgetl.pipeline_run for your runs.';
    END IF;
    IF NOT pg_has_role(caller, r.owner, 'MEMBER') THEN
        RAISE EXCEPTION 'must be owner of pipeline "%" to % run %', r.pipeline, action, p_run_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN r;
END
$$;

-- A pipeline may start (or resume) a run: enabled, an owner that can log
-- in, at least one task.  (pgetl._check_date_free: no other active run
-- of the logical date.)
CREATE FUNCTION pgetl._check_runnable(p pgetl.pipeline) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT p.enabled THEN
        RAISE EXCEPTION 'pipeline "%" is disabled', p.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Enable it with SELECT pgetl_alter_pipeline(%L, enabled => true).', p.name);
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
    -- a teardown task added with upstream => NULL got its edges later
    PERFORM pgetl._check_setup_teardown(t.name, t.setup, t.teardown, t.on_failure_fail_run, t.trigger_rule,
                (SELECT count(*) FROM pgetl.task_dependency d JOIN pgetl.task s ON s.task_id = d.upstream_task_id
                  WHERE d.task_id = t.task_id AND s.setup))
       FROM pgetl.task t WHERE t.pipeline_id = p.pipeline_id AND t.teardown;
END
$$;

-- A run is identified by (pipeline, logical_date): refuse a run of a
-- logical date that has an active (queued or running) run already,
-- other than p_except (a run being resumed).  The unique index
-- run_record_one_active enforces it; this says which run and what to do.
CREATE FUNCTION pgetl._check_date_free(p pgetl.pipeline, p_logical_date date, p_except bigint DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a pgetl.run_record;
BEGIN
    SELECT * INTO a FROM pgetl.run_record
     WHERE pipeline_id = p.pipeline_id AND logical_date = p_logical_date
       AND state IN ('queued', 'running') AND run_id IS DISTINCT FROM p_except;
    IF FOUND THEN
        RAISE EXCEPTION 'pipeline "%" already has an active run for logical date %', p.name, p_logical_date
            USING ERRCODE = 'object_in_use',
                  DETAIL = format('Run %s, started by %s, is %s.', a.run_id, a.started_by, a.state),
                  HINT = format('Wait for it to finish, or cancel it with SELECT pgetl_cancel(%s).', a.run_id);
    END IF;
END
$$;

-- Whether a run of the pipeline may run now rather than wait queued:
-- fewer than max_active_runs runs of it are running, and no other run of
-- it waits queued before (logical date, then run id) the run p_run_id
-- (NULL: a new run, which comes after every queued one).  Only the
-- database's scheduler moves runs to running, one at a time, so the count
-- cannot change under it.
CREATE FUNCTION pgetl._may_run(p pgetl.pipeline, p_run_id bigint DEFAULT NULL) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (SELECT count(*) FROM pgetl.run_record
             WHERE pipeline_id = p.pipeline_id AND state = 'running' AND run_id IS DISTINCT FROM p_run_id)
             < p.max_active_runs
       AND NOT EXISTS (SELECT FROM pgetl.run_record q
                        WHERE q.pipeline_id = p.pipeline_id AND q.state = 'queued'
                          AND q.run_id IS DISTINCT FROM p_run_id
                          AND (p_run_id IS NULL
                               OR (q.logical_date, q.run_id) < (SELECT me.logical_date, me.run_id
                                                                  FROM pgetl.run_record me
                                                                 WHERE me.run_id = p_run_id)))
$$;

-- The queued runs of a pipeline that may run now, oldest logical date
-- first, up to max_active_runs running: they become running (their
-- scheduler hands out their tasks at its next step).  Called when a run
-- of the pipeline finishes, and by the DAG step of a queued run.
-- Returns how many it started.
CREATE FUNCTION pgetl._promote_queued(p_pipeline_id bigint) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    WITH q AS (
        SELECT r.run_id FROM pgetl.run_record r JOIN pgetl.pipeline p USING (pipeline_id)
         WHERE r.pipeline_id = p_pipeline_id AND r.state = 'queued' AND p.enabled
         ORDER BY r.logical_date, r.run_id
         LIMIT greatest(0, (SELECT p.max_active_runs FROM pgetl.pipeline p WHERE p.pipeline_id = p_pipeline_id)
                           - (SELECT count(*) FROM pgetl.run_record
                               WHERE pipeline_id = p_pipeline_id AND state = 'running'))
    )
    UPDATE pgetl.run_record r SET state = 'running', reason = NULL FROM q WHERE r.run_id = q.run_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- The reason a queued run shows (pgetl.pipeline_run.reason).
CREATE FUNCTION pgetl._queued_reason(p pgetl.pipeline) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('waiting: pipeline "%s" has %s running run(s), max_active_runs is %s',
                  p.name, (SELECT count(*) FROM pgetl.run_record
                            WHERE pipeline_id = p.pipeline_id AND state = 'running'),
                  p.max_active_runs)
$$;

-- Start a run: called by the scheduler in the run's first transaction
-- (coordinator_pid: the scheduler's pid).
-- started_by is the caller's role name, unless p_started_by says otherwise
-- ('pg_cron' for a run started by a pg_cron job).
CREATE FUNCTION pgetl._start_run(caller oid, p_pipeline text, p_params jsonb, p_logical_date date,
                                 coordinator_pid integer, p_started_by text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline;
    rid bigint;
    st pgetl.run_state;
BEGIN
    PERFORM pgetl._recover();
    p := pgetl._pipeline_for(caller, p_pipeline, true);
    IF p_params IS NULL OR jsonb_typeof(p_params) <> 'object' THEN
        RAISE EXCEPTION 'run params must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_logical_date IS NULL THEN
        RAISE EXCEPTION 'logical_date must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM pgetl._check_runnable(p);
    PERFORM pgetl._check_date_free(p, p_logical_date);
    PERFORM pgetl._param_retry_delay(p.pipeline_id, p_params);
    -- beyond max_active_runs the run waits queued (its tries scheduled)
    st := CASE WHEN pgetl._may_run(p) THEN 'running' ELSE 'queued' END;
    INSERT INTO pgetl.run_record (pipeline_id, pipeline, owner, state, params, logical_date,
                                  started_by, server_epoch, coordinator_pid, definition_version, reason)
    VALUES (p.pipeline_id, p.name, p.owner, st, p_params, p_logical_date,
            coalesce(p_started_by, (SELECT rolname FROM pg_roles WHERE oid = caller)),
            pgetl._epoch(), coordinator_pid, pgetl._definition_version(p.pipeline_id, caller),
            CASE WHEN st = 'queued' THEN pgetl._queued_reason(p) END)
    RETURNING run_id INTO rid;
    INSERT INTO pgetl.task_run_record (run_id, task_id, task, try_number, max_tries)
    SELECT rid, task_id, name, 1, 1 + retries FROM pgetl.task
     WHERE pipeline_id = p.pipeline_id ORDER BY task_id;
    RETURN rid;
END
$$;

-- The tasks to re-run (p_task_ids) with the setup and teardown tasks that
-- Airflow clears with them: the setup tasks upstream of a task that have
-- a teardown task downstream of it (or no teardown task at all), with
-- all their teardown tasks; and the teardown tasks of a setup task.  A
-- task re-run inside a setup/teardown scope so gets its resources set up
-- again, and torn down after.  As pgetl._indirect_setups: cheap without
-- setup tasks, no JIT.
CREATE FUNCTION pgetl._with_setups_teardowns(p_task_ids bigint[]) RETURNS bigint[]
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET jit = off AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pgetl.task s
                    WHERE s.setup AND s.pipeline_id IN (SELECT t.pipeline_id FROM pgetl.task t
                                                         WHERE t.task_id = ANY (p_task_ids))) THEN
        RETURN p_task_ids;
    END IF;
    RETURN (
        WITH RECURSIVE up(task_id, up_id) AS (
            SELECT d.task_id, d.upstream_task_id FROM pgetl.task_dependency d WHERE d.task_id = ANY (p_task_ids)
            UNION
            SELECT up.task_id, d.upstream_task_id FROM up JOIN pgetl.task_dependency d ON d.task_id = up.up_id
        ), down(task_id, down_id) AS (
            SELECT d.upstream_task_id, d.task_id FROM pgetl.task_dependency d WHERE d.upstream_task_id = ANY (p_task_ids)
            UNION
            SELECT down.task_id, d.task_id FROM down JOIN pgetl.task_dependency d ON d.upstream_task_id = down.down_id
        ), teardown_of(setup_id, teardown_id) AS (
            SELECT d.upstream_task_id, d.task_id FROM pgetl.task_dependency d
              JOIN pgetl.task s ON s.task_id = d.upstream_task_id AND s.setup
              JOIN pgetl.task td ON td.task_id = d.task_id AND td.teardown
             WHERE d.pipeline_id IN (SELECT pipeline_id FROM pgetl.task WHERE task_id = ANY (p_task_ids))
        ), setups(setup_id) AS (
            SELECT up.up_id FROM up JOIN pgetl.task s ON s.task_id = up.up_id AND s.setup
             WHERE NOT EXISTS (SELECT FROM teardown_of o WHERE o.setup_id = up.up_id)
                OR EXISTS (SELECT FROM teardown_of o JOIN down ON down.down_id = o.teardown_id
                            WHERE o.setup_id = up.up_id AND down.task_id = up.task_id)
            UNION
            SELECT task_id FROM pgetl.task WHERE task_id = ANY (p_task_ids) AND setup
        )
        SELECT ARRAY(SELECT unnest(p_task_ids)
                     UNION SELECT setup_id FROM setups
                     UNION SELECT o.teardown_id FROM setups JOIN teardown_of o USING (setup_id)));
END
$$;
COMMENT ON FUNCTION pgetl._with_setups_teardowns(bigint[]) IS
'internal: tasks to re-run with the setup and teardown tasks Airflow clears with them';

-- Resume a finished run: failed, upstream_failed and cancelled tasks (and
-- skipped tasks downstream of them) get a new try; successful ones are kept.
-- p_rerun: tasks to re-run although they succeeded, with everything
-- downstream.  Clear (p_clear, pgetl_clear(), Airflow's clear): only the
-- tasks p_rerun names get a new try, with everything downstream when
-- p_downstream; the run may have succeeded.  Either way, a re-run task
-- inside a setup/teardown scope re-runs its setup and teardown tasks too
-- (pgetl._with_setups_teardowns).
CREATE FUNCTION pgetl._resume_run(caller oid, p_run_id bigint, coordinator_pid integer,
                                  p_rerun text[] DEFAULT NULL, p_clear boolean DEFAULT false,
                                  p_downstream boolean DEFAULT true)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r pgetl.run_record;
    p pgetl.pipeline;
    unknown text;
    rerun_ids bigint[];
    named_ids bigint[];
    partial_ids bigint[];
    verb text := CASE WHEN p_clear THEN 'clear' ELSE 'resume' END;
BEGIN
    PERFORM pgetl._recover();
    r := pgetl._run_for(caller, p_run_id, verb, true);
    IF r.state IN ('queued', 'running') THEN
        RAISE EXCEPTION 'run % is still %', p_run_id, r.state
            USING ERRCODE = 'object_in_use',
                  HINT = format('Only finished runs can be %s: wait, or cancel it with SELECT pgetl_cancel(%s).',
                                CASE WHEN p_clear THEN 'cleared' ELSE 'resumed' END, p_run_id);
    END IF;
    IF r.state = 'success' AND NOT p_clear THEN
        RAISE EXCEPTION 'run % succeeded: there is nothing to resume', p_run_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Start a new run with SELECT pgetl_run(%L), or re-run tasks of this one with SELECT pgetl_clear(%s, ARRAY[''task'']).',
                                r.pipeline, p_run_id);
    END IF;
    IF p_clear AND coalesce(cardinality(p_rerun), 0) = 0 THEN
        RAISE EXCEPTION 'tasks to clear must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Name the tasks to re-run, e.g. SELECT pgetl_clear(%s, ARRAY[''load'']); to re-run what failed, use pgetl_resume(%s).',
                                p_run_id, p_run_id);
    END IF;
    IF r.pipeline_id IS NULL THEN
        RAISE EXCEPTION 'pipeline "%" of run % was dropped', r.pipeline, p_run_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT * INTO p FROM pgetl.pipeline WHERE pipeline_id = r.pipeline_id FOR UPDATE;
    PERFORM pgetl._check_runnable(p);
    PERFORM pgetl._check_date_free(p, r.logical_date, p_run_id);
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
         WHERE coalesce(p_downstream, true)
    )
    SELECT coalesce(array_agg(task_id), '{}') INTO rerun_ids FROM down;
    named_ids := rerun_ids;

    -- beyond max_active_runs the resumed run waits queued, as a new one
    UPDATE pgetl.run_record SET state = (CASE WHEN pgetl._may_run(p, p_run_id) THEN 'running' ELSE 'queued' END)::pgetl.run_state,
           reason = CASE WHEN pgetl._may_run(p, p_run_id) THEN NULL ELSE pgetl._queued_reason(p) END,
           resumed = resumed + 1,
           server_epoch = pgetl._epoch(), coordinator_pid = _resume_run.coordinator_pid,
           definition_version = pgetl._definition_version(p.pipeline_id, caller)
     WHERE run_id = p_run_id;
    WITH RECURSIVE latest AS (SELECT * FROM pgetl._latest_tries(p_run_id)),
    rerun AS (
        SELECT task_id FROM latest
         WHERE (state NOT IN ('success', 'skipped') AND NOT p_clear) OR task_id = ANY (rerun_ids)
        UNION
        SELECT l.task_id FROM rerun
          JOIN pgetl.task_dependency d ON d.upstream_task_id = rerun.task_id
          JOIN latest l ON l.task_id = d.task_id AND l.state = 'skipped'
         WHERE NOT p_clear
    )
    SELECT coalesce(array_agg(task_id), '{}') INTO rerun_ids FROM rerun;
    rerun_ids := pgetl._with_setups_teardowns(rerun_ids);
    -- A mapped task that expanded (rows: its number of instances) and did
    -- not succeed is resumed without expanding again: its new try runs at
    -- once, and only its instances that neither succeeded nor were skipped
    -- get a new try (Airflow's clear of failed mapped task instances).
    -- Cleared, named, or downstream of a named task, it expands again.
    SELECT coalesce(array_agg(l.task_id), '{}') INTO partial_ids
      FROM pgetl._latest_tries(p_run_id) l JOIN pgetl.task t ON t.task_id = l.task_id
     WHERE NOT p_clear AND l.task_id = ANY (rerun_ids) AND NOT l.task_id = ANY (named_ids)
       AND t.map_over IS NOT NULL AND l.rows > 0 AND l.state IN ('failed', 'cancelled');
    INSERT INTO pgetl.task_run_record (run_id, task_id, task, try_number, max_tries, rows)
    SELECT p_run_id, l.task_id, l.task, l.try_number + 1, l.try_number + 1 + t.retries,
           CASE WHEN l.task_id = ANY (partial_ids) THEN l.rows END
      FROM pgetl._latest_tries(p_run_id) l JOIN pgetl.task t ON t.task_id = l.task_id
     WHERE l.task_id = ANY (rerun_ids)
     ORDER BY l.task_id;
    IF partial_ids <> '{}' THEN
        INSERT INTO pgetl.task_run_record (run_id, task_id, task, try_number, max_tries, map_index, map_value)
        SELECT p_run_id, i.task_id, i.task, i.try_number + 1, i.try_number + 1 + t.retries, i.map_index, i.map_value
          FROM pgetl._latest_instances(p_run_id) i
          JOIN pgetl.task t ON t.task_id = i.task_id
          JOIN pgetl._latest_tries(p_run_id) l ON l.task_id = i.task_id
         WHERE i.task_id = ANY (partial_ids) AND i.map_index < l.rows AND i.state NOT IN ('success', 'skipped')
         ORDER BY i.task_id, i.map_index;
        UPDATE pgetl.task_run_record SET state = 'queued'
         WHERE run_id = p_run_id AND task_id = ANY (partial_ids) AND map_index IS NULL AND state = 'scheduled';
        UPDATE pgetl.task_run_record SET state = 'running'
         WHERE run_id = p_run_id AND task_id = ANY (partial_ids) AND map_index IS NULL AND state = 'queued';
    END IF;
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

-- pgetl_set_task_state(): mark the latest try of a task of a finished run
-- success, failed or skipped by hand (Airflow's mark success / mark
-- failed), recording who and when, and the note if one is given.  Returns
-- the state it had.  Downstream tasks are not re-run: pgetl_clear() does.
CREATE FUNCTION pgetl._set_task_state(caller oid, p_run_id bigint, p_task text, p_state text, p_note text)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r pgetl.run_record;
    tr pgetl.task_run_record;
    marks text[] := '{success,failed,skipped}';
BEGIN
    IF p_state IS NULL OR NOT p_state = ANY (marks) THEN
        RAISE EXCEPTION 'a task can be marked success, failed or skipped, not %', coalesce(quote_literal(p_state), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example: SELECT pgetl_set_task_state(42, ''load'', ''success'', ''loaded by hand'').';
    END IF;
    r := pgetl._run_for(caller, p_run_id, 'mark tasks of', true);
    IF r.state IN ('queued', 'running') THEN
        RAISE EXCEPTION 'run % is still %', p_run_id, r.state
            USING ERRCODE = 'object_in_use',
                  HINT = format('Tasks of finished runs only can be marked: wait, or cancel it with SELECT pgetl_cancel(%s).', p_run_id);
    END IF;
    SELECT * INTO tr FROM pgetl.task_run_record
     WHERE run_id = p_run_id AND task = p_task AND map_index IS NULL ORDER BY try_number DESC LIMIT 1 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task % does not exist in run %', coalesce(quote_ident(p_task), 'NULL'), p_run_id
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Tasks of the run: ' || (SELECT string_agg(DISTINCT task, ', ') FROM pgetl.task_run_record
                                                     WHERE run_id = p_run_id) || '.';
    END IF;
    IF tr.state::text = p_state THEN
        RAISE EXCEPTION 'task "%" of run % is already %', p_task, p_run_id, p_state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE pgetl.task_run_record
       SET state = p_state::pgetl.task_state, note = coalesce(p_note, note),
           marked_by = (SELECT rolname FROM pg_roles WHERE oid = caller), marked_at = clock_timestamp()
     WHERE task_run_id = tr.task_run_id;
    RETURN tr.state::text;
END
$$;

-- pgetl_set_note(): a note on a run (p_task NULL) or on the latest try of
-- one of its tasks; NULL removes it.
CREATE FUNCTION pgetl._set_note(caller oid, p_run_id bigint, p_task text, p_note text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r pgetl.run_record := pgetl._run_for(caller, p_run_id, 'annotate', false);
    id bigint;
BEGIN
    IF p_task IS NULL THEN
        UPDATE pgetl.run_record SET note = p_note WHERE run_id = r.run_id;
        RETURN;
    END IF;
    SELECT task_run_id INTO id FROM pgetl.task_run_record
     WHERE run_id = p_run_id AND task = p_task AND map_index IS NULL ORDER BY try_number DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task % does not exist in run %', quote_ident(p_task), p_run_id
            USING ERRCODE = 'undefined_object',
                  HINT = 'Give task NULL for a note on the run itself.';
    END IF;
    UPDATE pgetl.task_run_record SET note = p_note WHERE task_run_id = id;
END
$$;

-- The failed tasks of a run (names, in task order) and their errors, for
-- the error pgetl_run() raises and the run's reason.
CREATE FUNCTION pgetl._failure_report(p_run_id bigint, OUT failed_tasks text, OUT failure_detail text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT string_agg(task, ', ' ORDER BY task_id),
           string_agg(format('Task "%s" (try %s) failed: %s%s', task, try_number, error,
                             coalesce(' [SQLSTATE ' || sqlstate || ']', '')), E'\n' ORDER BY task_id)
      FROM pgetl._latest_tries(p_run_id) WHERE state = 'failed'
$$;

-- One step of the scheduler over a run's DAG (the "DAG step"): schedule due retries, apply trigger rules,
-- queue every try that may start, and finish the run when every task is
-- done.  Returns the queued tries (those a worker holds are among them)
-- and the pipeline's max_parallel: the scheduler runs at most that many
-- at a time.
CREATE FUNCTION pgetl._dag_step(p_run_id bigint, OUT launch bigint[], OUT done boolean,
                                OUT run_state text, OUT next_wakeup timestamptz, OUT failed_tasks text,
                                OUT failure_detail text, OUT max_parallel integer)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r pgetl.run_record;
    now_ts timestamptz := clock_timestamp();
    any_failed_leaf boolean;
BEGIN
    done := false;
    SELECT * INTO r FROM pgetl.run_record WHERE run_id = p_run_id;
    -- a queued run waits for a place among max_active_runs
    IF r.state = 'queued' THEN
        PERFORM pgetl._promote_queued(r.pipeline_id);
        SELECT * INTO r FROM pgetl.run_record WHERE run_id = p_run_id;
        IF r.state = 'queued' THEN
            run_state := r.state;
            RETURN;
        END IF;
    END IF;
    IF r.state <> 'running' THEN
        done := true;
        run_state := r.state;
        RETURN;
    END IF;

    -- retries that are due get a new try; the others set the next wake-up
    -- (mapped instances too, each on its own)
    WITH due AS (
        SELECT l.*, l.finished_at + pgetl._retry_delay(t, l.try_number,
                                                       pgetl._param_retry_delay(r.pipeline_id, r.params)) AS due_at
          FROM (SELECT * FROM pgetl._latest_tries(p_run_id)
                UNION ALL SELECT * FROM pgetl._latest_instances(p_run_id)) l
          JOIN pgetl.task t ON t.task_id = l.task_id
         WHERE l.state = 'up_for_retry'
    ), ins AS (
        INSERT INTO pgetl.task_run_record (run_id, task_id, task, try_number, max_tries, map_index, map_value)
        SELECT run_id, task_id, task, try_number + 1, max_tries, map_index, map_value
          FROM due WHERE due_at <= now_ts
    )
    SELECT min(due_at) INTO next_wakeup FROM due WHERE due_at > now_ts;

    -- sensors whose next poke is due are queued again, in the same try (a
    -- reschedule is not a retry); the others set the next wake-up too
    UPDATE pgetl.task_run_record SET state = 'queued'
     WHERE run_id = p_run_id AND state = 'up_for_reschedule' AND next_poke_at <= now_ts;
    SELECT least(next_wakeup, min(tr.next_poke_at)) INTO next_wakeup
      FROM pgetl.task_run_record tr WHERE tr.run_id = p_run_id AND tr.state = 'up_for_reschedule';

    -- mapped instances that wait (their task expanded them, or a retry is
    -- due) are queued; a mapped task whose instances all finished takes
    -- the state they add up to, before the trigger rules read it
    UPDATE pgetl.task_run_record SET state = 'queued'
     WHERE run_id = p_run_id AND map_index IS NOT NULL AND state = 'scheduled';
    -- (a running try is its task's latest: a task gets a new try once finished)
    PERFORM pgetl._map_aggregate(x.task_run_id) FROM pgetl.task_run_record x
      WHERE x.run_id = p_run_id AND x.state = 'running' AND x.map_index IS NULL;

    -- trigger rules, until no task changes
    LOOP
        UPDATE pgetl.task_run_record tr SET state = e.decision::pgetl.task_state
          FROM pgetl._evaluate(p_run_id) e
         WHERE tr.task_run_id = e.task_run_id AND e.decision IN ('upstream_failed', 'skipped');
        EXIT WHEN NOT FOUND;
    END LOOP;

    -- every try that may run is queued: it waits for a worker, and the
    -- scheduler hands out at most max_parallel at a time
    UPDATE pgetl.task_run_record tr SET state = 'queued'
      FROM pgetl._evaluate(p_run_id) e
     WHERE tr.task_run_id = e.task_run_id AND e.decision = 'run';
    launch := pgetl._queued_in_order(p_run_id);
    SELECT p.max_parallel INTO max_parallel FROM pgetl.pipeline p WHERE p.pipeline_id = r.pipeline_id;

    IF NOT EXISTS (SELECT FROM pgetl._latest_tries(p_run_id)
                    WHERE state NOT IN ('success', 'failed', 'upstream_failed', 'skipped', 'cancelled')) THEN
        -- As in Airflow, the leaves decide: the run failed if a task without
        -- downstream tasks failed (or could not run because of a failure).
        -- Teardown tasks do not count, unless on_failure_fail_run: a task
        -- whose downstream tasks are all such teardown tasks is a leaf,
        -- and a teardown task is not (Airflow's _tis_for_dagrun_state);
        -- when no task is left, the tasks without downstream tasks are.
        WITH l AS (
            SELECT l.task_id, l.state,
                   coalesce(t.teardown AND NOT t.on_failure_fail_run, false) AS ignored,
                   NOT EXISTS (SELECT FROM pgetl.task_dependency d WHERE d.upstream_task_id = l.task_id) AS leaf,
                   NOT EXISTS (SELECT FROM pgetl.task_dependency d JOIN pgetl.task dt ON dt.task_id = d.task_id
                                WHERE d.upstream_task_id = l.task_id
                                  AND NOT (dt.teardown AND NOT dt.on_failure_fail_run)) AS only_ignored_down
              FROM pgetl._latest_tries(p_run_id) l LEFT JOIN pgetl.task t ON t.task_id = l.task_id
        )
        SELECT bool_or(l.state IN ('failed', 'upstream_failed', 'cancelled')) INTO any_failed_leaf
          FROM l
         WHERE CASE WHEN EXISTS (SELECT FROM l x WHERE NOT x.ignored AND x.only_ignored_down)
                    THEN NOT l.ignored AND l.only_ignored_down ELSE l.leaf END;
        SELECT f.failed_tasks, f.failure_detail INTO failed_tasks, failure_detail
          FROM pgetl._failure_report(p_run_id) f;
        run_state := CASE WHEN any_failed_leaf THEN 'failed' ELSE 'success' END;
        UPDATE pgetl.run_record SET state = run_state::pgetl.run_state,
               reason = CASE WHEN any_failed_leaf THEN 'task failed: ' || coalesce(failed_tasks, 'none') END
         WHERE run_id = p_run_id;
        -- its place among max_active_runs goes to the oldest queued run
        PERFORM pgetl._promote_queued(r.pipeline_id);
        done := true;
    END IF;
END
$$;

-- A task worker reads the task of its try, in the try's own transaction;
-- all NULL when the try is no longer queued (its run was stopped).  The
-- try stays queued: that a worker runs it is known from shared memory
-- (pgetl._running_tasks()), and its outcome is recorded when it ends.
CREATE FUNCTION pgetl._task_start(p_task_run_id bigint,
    OUT run_id bigint, OUT task text, OUT try_number integer, OUT kind text, OUT command text,
    OUT config jsonb, OUT timeout_ms bigint, OUT params jsonb, OUT logical_date date, OUT pipeline text,
    OUT on_success text, OUT on_failure text, OUT on_retry text,
    OUT map_over text, OUT map_index integer, OUT map_value jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- (map_over: a mapped task's own try expands it; an instance runs the
    -- command with its map_index and map_value)
    SELECT tr.run_id, tr.task, tr.try_number, t.kind, t.command, t.config,
           (extract(epoch FROM t.timeout) * 1000)::bigint,
           p.params || r.params, r.logical_date, r.pipeline,
           t.on_success, t.on_failure, t.on_retry,
           CASE WHEN tr.map_index IS NULL THEN t.map_over END, tr.map_index, tr.map_value
      INTO run_id, task, try_number, kind, command, config, timeout_ms, params, logical_date, pipeline,
           on_success, on_failure, on_retry, map_over, map_index, map_value
      FROM pgetl.task_run_record tr
      JOIN pgetl.run_record r ON r.run_id = tr.run_id
      JOIN pgetl.task t ON t.task_id = tr.task_id
      JOIN pgetl.pipeline p ON p.pipeline_id = t.pipeline_id
     WHERE tr.task_run_id = p_task_run_id AND tr.state = 'queued';
END
$$;

-- Dynamic task mapping (Airflow's .expand()).  A mapped task's own try
-- (map_index NULL) runs its map_over query in a task worker, as the
-- pipeline owner; pgetl._task_expand records what it returned (p_values:
-- a JSON array of its rows as objects, in row order), in that try's
-- transaction: no row skips the task; more than the pipeline's
-- max_map_length fails it (54000) before any instance runs; otherwise
-- the try goes running with rows = n, and n mapped instances (map_index
-- 0..n-1, each with its row in map_value and tries of its own) are
-- scheduled: the next DAG step queues them.  Returns the state recorded.
CREATE FUNCTION pgetl._task_expand(p_task_run_id bigint, p_values jsonb, p_started_at timestamptz,
                                   p_pid integer) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tr pgetl.task_run_record;
    p pgetl.pipeline;
    n integer := jsonb_array_length(p_values);
BEGIN
    SELECT * INTO tr FROM pgetl.task_run_record
     WHERE task_run_id = p_task_run_id AND state = 'queued' AND map_index IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task run % is no longer running', p_task_run_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The run was cancelled or failed while the task expanded.';
    END IF;
    SELECT pp.* INTO p FROM pgetl.run_record r JOIN pgetl.pipeline pp ON pp.pipeline_id = r.pipeline_id
     WHERE r.run_id = tr.run_id;
    IF n > p.max_map_length THEN
        RAISE EXCEPTION 'map_over of task "%" returned % rows, more than max_map_length (%)', tr.task, n, p.max_map_length
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'A mapped task expands into one mapped instance per row of its map_over query; no instance ran.',
                  HINT = format('Return fewer rows, or raise the limit: SELECT pgetl_alter_pipeline(%L, max_map_length => %s).',
                                p.name, n);
    END IF;
    IF n = 0 THEN
        UPDATE pgetl.task_run_record
           SET state = 'skipped', rows = 0, error = 'map_over returned no rows: no mapped instance to run',
               started_at = coalesce(started_at, p_started_at), pid = p_pid
         WHERE task_run_id = p_task_run_id;
        RETURN 'skipped';
    END IF;
    UPDATE pgetl.task_run_record SET state = 'running', rows = n, pid = p_pid
     WHERE task_run_id = p_task_run_id;
    -- an instance expanded again (pgetl_clear) gets its next try number
    INSERT INTO pgetl.task_run_record (run_id, task_id, task, try_number, max_tries, map_index, map_value)
    SELECT tr.run_id, tr.task_id, tr.task, k.tries + 1, k.tries + 1 + t.retries, v.ord - 1, v.value
      FROM jsonb_array_elements(p_values) WITH ORDINALITY v(value, ord)
      JOIN pgetl.task t ON t.task_id = tr.task_id
     CROSS JOIN LATERAL (SELECT coalesce(max(x.try_number), 0) AS tries FROM pgetl.task_run_record x
                          WHERE x.run_id = tr.run_id AND x.task = tr.task AND x.map_index = v.ord - 1) k
     ORDER BY v.ord;
    RETURN 'running';
END
$$;

-- A mapped task's try that runs its instances (p_task_run_id, running):
-- once the latest try of each of its instances (map_index < rows) has
-- finished, it takes the state they add up to, as Airflow sums up a
-- mapped task's instances: failed if one failed, else upstream_failed,
-- else cancelled, else success if one succeeded, else (all skipped)
-- skipped; its result is the JSON array of their results, in map_index
-- order (pgetl_result() of the task downstream), its error and SQLSTATE
-- those of its failed instances.  The trigger rules then read that one
-- state.  Returns it; NULL while instances are left (or the try is no
-- longer running).  Locks the try, so that the last two instances to end
-- at once do not both miss each other.
CREATE FUNCTION pgetl._map_aggregate(p_task_run_id bigint) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tr pgetl.task_run_record;
    st text;
    res jsonb;
    errs text;
    n_failed bigint;
    first_sqlstate text;
BEGIN
    SELECT * INTO tr FROM pgetl.task_run_record
     WHERE task_run_id = p_task_run_id AND state = 'running' AND map_index IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT CASE WHEN count(*) < tr.rows
                  OR bool_or(i.state NOT IN ('success', 'failed', 'upstream_failed', 'skipped', 'cancelled'))
                THEN NULL
                WHEN bool_or(i.state = 'failed') THEN 'failed'
                WHEN bool_or(i.state = 'upstream_failed') THEN 'upstream_failed'
                WHEN bool_or(i.state = 'cancelled') THEN 'cancelled'
                WHEN bool_or(i.state = 'success') THEN 'success'
                ELSE 'skipped' END,
           jsonb_agg(i.result ORDER BY i.map_index),
           string_agg(format('mapped instance %s: %s', i.map_index, i.error), E'\n' ORDER BY i.map_index)
               FILTER (WHERE i.state = 'failed'),
           count(*) FILTER (WHERE i.state = 'failed'),
           (array_agg(i.sqlstate ORDER BY i.map_index) FILTER (WHERE i.state = 'failed'))[1]
      INTO st, res, errs, n_failed, first_sqlstate
      FROM pgetl._latest_instances(tr.run_id) i
     WHERE i.task = tr.task AND i.map_index < tr.rows;
    IF st IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE pgetl.task_run_record
       SET state = st::pgetl.task_state, result = res,
           error = CASE st WHEN 'failed' THEN format('%s of %s mapped instances failed, first %s',
                                                     n_failed, tr.rows, split_part(errs, E'\n', 1))
                           WHEN 'skipped' THEN 'all mapped instances were skipped'
                           WHEN 'cancelled' THEN 'mapped instances were cancelled' END,
           detail = errs, sqlstate = first_sqlstate
     WHERE task_run_id = p_task_run_id;
    RETURN st;
END
$$;
-- Record a try's success, in the transaction of the task's own work, and
-- queue the downstream tasks it releases (those whose trigger rule now
-- says run), so that a serial chain needs one commit per task.  Returns
-- the tries it queued, in task order (the worker hands them to the
-- scheduler).  A downstream task whose other upstream task commits at the
-- same time may be seen by neither: the scheduler's next step
-- (pgetl._dag_step) queues it.
CREATE FUNCTION pgetl._task_succeed(p_task_run_id bigint, p_result jsonb, p_rows bigint,
                                    p_started_at timestamptz, p_pid integer) RETURNS bigint[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tr pgetl.task_run_record;
    st text;
    released bigint[] := '{}';
BEGIN
    -- a rescheduled sensor started at its first poke
    UPDATE pgetl.task_run_record SET state = 'success', result = p_result, rows = p_rows,
           started_at = coalesce(started_at, p_started_at), pid = p_pid
     WHERE task_run_id = p_task_run_id AND state = 'queued'
    RETURNING * INTO tr;
    IF NOT FOUND THEN
        SELECT state INTO st FROM pgetl.task_run_record WHERE task_run_id = p_task_run_id;
        RAISE EXCEPTION 'task run % is no longer running (state %)', p_task_run_id, st
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The run was cancelled or failed while the task ran; its work is rolled back.';
    END IF;
    -- a mapped instance: its task's try may be done with all of them
    IF tr.map_index IS NOT NULL AND pgetl._map_aggregate(
           (SELECT x.task_run_id FROM pgetl.task_run_record x
             WHERE x.run_id = tr.run_id AND x.task = tr.task AND x.map_index IS NULL
             ORDER BY x.try_number DESC LIMIT 1)) IS DISTINCT FROM 'success' THEN
        RETURN released;
    END IF;
    IF EXISTS (SELECT FROM pgetl.task_dependency d WHERE d.upstream_task_id = tr.task_id) THEN
        WITH q AS (
            UPDATE pgetl.task_run_record x SET state = 'queued'
              FROM pgetl._evaluate(tr.run_id) e
              JOIN pgetl.task_dependency d ON d.task_id = e.task_id AND d.upstream_task_id = tr.task_id
             WHERE x.task_run_id = e.task_run_id AND e.decision = 'run' AND x.state = 'scheduled'
            RETURNING x.task_run_id, x.task_id
        )
        SELECT coalesce(array_agg(task_run_id ORDER BY task_id), '{}') INTO released FROM q;
    END IF;
    RETURN released;
END
$$;

-- Record a failed try: up_for_retry while tries are left and the error is
-- one retries may fix (pgetl._retryable), else failed.  p_started_at and
-- p_pid: when and in which worker the try ran (NULL if it never began).
CREATE FUNCTION pgetl._task_fail(p_task_run_id bigint, p_error text, p_sqlstate text, p_detail text,
                                 p_hint text, p_context text, p_started_at timestamptz DEFAULT NULL,
                                 p_pid integer DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st text;
BEGIN
    UPDATE pgetl.task_run_record
       SET state = CASE WHEN try_number < max_tries AND pgetl._retryable(p_sqlstate)
                        THEN 'up_for_retry'::pgetl.task_state ELSE 'failed' END,
           error = p_error, sqlstate = p_sqlstate, detail = p_detail, hint = p_hint, context = p_context,
           started_at = coalesce(started_at, p_started_at), pid = coalesce(p_pid, pid)
     WHERE task_run_id = p_task_run_id AND state IN ('queued', 'running')
    RETURNING state INTO st;
    RETURN st;
END
$$;

-- Record a try that skipped itself (pgetl_skip(), after the rollback of
-- its work): skipped, never retried; the reason goes where a cancelled
-- try's reason goes, into error.  Returns the state recorded (NULL when
-- the try was no longer queued: its run was stopped).
CREATE FUNCTION pgetl._task_skip(p_task_run_id bigint, p_reason text, p_started_at timestamptz,
                                 p_pid integer)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st text;
BEGIN
    UPDATE pgetl.task_run_record
       SET state = 'skipped', error = coalesce(p_reason, 'skipped by pgetl_skip()'),
           started_at = coalesce(started_at, p_started_at), pid = coalesce(p_pid, pid)
     WHERE task_run_id = p_task_run_id AND state = 'queued'
    RETURNING state INTO st;
    RETURN st;
END
$$;

-- A sensor's poke interval: its config's poke_interval (an interval, or a
-- number of seconds), else 60 seconds (Airflow's default).  The config was
-- checked by pgetl._check_sensor_task.
CREATE FUNCTION pgetl._sensor_poke_interval(config jsonb) RETURNS interval
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE jsonb_typeof(config -> 'poke_interval')
               WHEN 'string' THEN (config ->> 'poke_interval')::interval
               WHEN 'number' THEN make_interval(secs => (config ->> 'poke_interval')::double precision)
               ELSE interval '60 seconds' END
$$;

-- A sensor's poke found its condition false (in the poke's transaction):
-- what comes next.  Past its timeout (the task's timeout, else 7 days as
-- Airflow's, counted from the start of the task's first try, across
-- reschedules and retries, as Airflow's) the try ends failed (57014, never
-- retried, as Airflow's AirflowSensorTimeout), or skipped with config
-- soft_fail; else in mode reschedule (the default) it goes
-- up_for_reschedule until next_poke_at, holding no worker; in mode poke the
-- worker waits wait_ms and pokes again.  outcome: failed, skipped,
-- up_for_reschedule or poke.
CREATE FUNCTION pgetl._sensor_poke(p_task_run_id bigint, p_started_at timestamptz, p_pid integer,
                                   OUT outcome text, OUT wait_ms bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tr pgetl.task_run_record;
    t pgetl.task;
    first_try integer;
    since timestamptz;
    limit_ interval;
    poke interval;
    now_ts timestamptz := clock_timestamp();
BEGIN
    SELECT * INTO tr FROM pgetl.task_run_record WHERE task_run_id = p_task_run_id AND state = 'queued';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task run % is no longer running', p_task_run_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The run was cancelled or failed while the sensor poked.';
    END IF;
    SELECT * INTO t FROM pgetl.task WHERE task_id = tr.task_id;
    -- the first try: after the last earlier try that was not retried
    -- (a resume or a clear starts anew, as Airflow's clear)
    SELECT coalesce(max(f.try_number), 0) + 1 INTO first_try FROM pgetl.task_run_record f
     WHERE f.run_id = tr.run_id AND f.task_id = tr.task_id AND f.try_number < tr.try_number
       AND f.map_index IS NOT DISTINCT FROM tr.map_index AND f.state <> 'up_for_retry';
    SELECT f.started_at INTO since FROM pgetl.task_run_record f
     WHERE f.run_id = tr.run_id AND f.task_id = tr.task_id AND f.try_number = first_try
       AND f.map_index IS NOT DISTINCT FROM tr.map_index AND f.try_number < tr.try_number;
    since := coalesce(since, tr.started_at, p_started_at);
    limit_ := coalesce(t.timeout, interval '7 days');
    poke := pgetl._sensor_poke_interval(t.config);
    IF now_ts >= since + limit_ THEN
        outcome := CASE WHEN (t.config ->> 'soft_fail')::boolean THEN 'skipped' ELSE 'failed' END;
        UPDATE pgetl.task_run_record
           SET state = outcome::pgetl.task_state,
               error = format('sensor "%s" timed out: its condition was not true within %s', tr.task, limit_),
               sqlstate = CASE outcome WHEN 'failed' THEN '57014' END,
               hint = CASE outcome WHEN 'failed' THEN 'Give the sensor a longer timeout, or soft_fail: true in its config to skip it instead.' END,
               next_poke_at = NULL,
               started_at = coalesce(started_at, p_started_at), pid = p_pid
         WHERE task_run_id = p_task_run_id;
    ELSIF coalesce(t.config ->> 'mode', 'reschedule') = 'reschedule' THEN
        outcome := 'up_for_reschedule';
        UPDATE pgetl.task_run_record
           SET state = 'up_for_reschedule', reschedules = reschedules + 1,
               next_poke_at = least(now_ts + poke, since + limit_),
               started_at = coalesce(started_at, p_started_at), pid = p_pid
         WHERE task_run_id = p_task_run_id;
    ELSE
        outcome := 'poke';
        wait_ms := greatest(ceil(extract(epoch FROM least(poke, since + limit_ - now_ts)) * 1000), 1)::bigint;
    END IF;
END
$$;

-- Mark tasks of a run skipped that have not started (their latest try
-- still scheduled), with the reason; for branch and short_circuit tasks,
-- in the transaction that records their success.
CREATE FUNCTION pgetl._skip_tasks(p_run_id bigint, p_task_ids bigint[], p_reason text) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    UPDATE pgetl.task_run_record SET state = 'skipped', error = p_reason
     WHERE run_id = p_run_id AND task_id = ANY (p_task_ids) AND state = 'scheduled';
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- A branch task's choice (Airflow's BranchSQLOperator): p_follow names
-- direct downstream tasks to follow; the other direct downstream tasks are
-- skipped, except those downstream of a followed task too (as Airflow's
-- skip_all_except).  A name that is not a direct downstream task fails the
-- branch task (22023), so its work and the skips roll back.
CREATE FUNCTION pgetl._task_branch(p_task_run_id bigint, p_follow text[]) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tr pgetl.task_run_record;
    direct text[];
    bad text;
    keep bigint[];
BEGIN
    SELECT * INTO tr FROM pgetl.task_run_record WHERE task_run_id = p_task_run_id;
    SELECT coalesce(array_agg(t.name ORDER BY t.name), '{}') INTO direct
      FROM pgetl.task_dependency d JOIN pgetl.task t ON t.task_id = d.task_id
     WHERE d.upstream_task_id = tr.task_id;
    SELECT string_agg(coalesce(quote_ident(f), 'NULL'), ', ') INTO bad
      FROM unnest(p_follow) f WHERE f IS NULL OR NOT f = ANY (direct);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'branch task "%" chose %, which is not a direct downstream task', tr.task, bad
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = CASE WHEN direct = '{}' THEN format('Task "%s" has no downstream tasks.', tr.task)
                           ELSE format('Direct downstream tasks of "%s": %s.', tr.task, array_to_string(direct, ', ')) END,
                  HINT = 'A branch task''s command returns the names of direct downstream tasks to follow, one per row or as a text[] in the first column; no row or NULL skips them all.';
    END IF;
    WITH RECURSIVE down(task_id) AS (
        SELECT t.task_id FROM pgetl.task_dependency d JOIN pgetl.task t ON t.task_id = d.task_id
         WHERE d.upstream_task_id = tr.task_id AND t.name = ANY (p_follow)
        UNION
        SELECT d.task_id FROM down JOIN pgetl.task_dependency d ON d.upstream_task_id = down.task_id
    )
    SELECT coalesce(array_agg(task_id), '{}') INTO keep FROM down;
    RETURN pgetl._skip_tasks(tr.run_id,
        ARRAY(SELECT d.task_id FROM pgetl.task_dependency d
               WHERE d.upstream_task_id = tr.task_id AND NOT d.task_id = ANY (keep)),
        format('skipped by branch task "%s"', tr.task));
END
$$;

-- A short_circuit task whose condition is false or NULL: every task
-- downstream of it is skipped, whatever its trigger rule (Airflow's
-- ShortCircuitOperator with ignore_downstream_trigger_rules).
CREATE FUNCTION pgetl._task_short_circuit(p_task_run_id bigint) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tr pgetl.task_run_record;
BEGIN
    SELECT * INTO tr FROM pgetl.task_run_record WHERE task_run_id = p_task_run_id;
    RETURN pgetl._skip_tasks(tr.run_id, ARRAY(
        WITH RECURSIVE down(task_id) AS (
            SELECT d.task_id FROM pgetl.task_dependency d WHERE d.upstream_task_id = tr.task_id
            UNION
            SELECT d.task_id FROM down JOIN pgetl.task_dependency d ON d.upstream_task_id = down.task_id
        ) SELECT task_id FROM down),
        format('skipped by short_circuit task "%s"', tr.task));
END
$$;

-- The interval between two logical dates of a backfill, as 0.2 first had
-- it: the pipeline's schedule's (pg_cron syntax), when it has one that
-- repeats daily or less often at a regular step, else a day.  Backfills
-- now follow the schedule's firings (pgetl._backfill_dates, with the cron
-- evaluator pgetl._cron_step); unused, kept for upgrade step 83.
CREATE FUNCTION pgetl._schedule_step(p_schedule text) RETURNS interval
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    f text[] := regexp_split_to_array(btrim(coalesce(p_schedule, '')), '\s+');
BEGIN
    CASE lower(coalesce(p_schedule, ''))
        WHEN '@yearly', '@annually' THEN RETURN '1 year';
        WHEN '@monthly' THEN RETURN '1 month';
        WHEN '@weekly' THEN RETURN '7 days';
        ELSE NULL;
    END CASE;
    IF cardinality(f) = 5 THEN
        IF f[3] ~ '^\d+$' AND f[4] = '*' AND f[5] = '*' THEN
            RETURN '1 month';
        ELSIF f[3] = '*' AND f[4] = '*' AND f[5] ~ '^\d+$' THEN
            RETURN '7 days';
        END IF;
    END IF;
    RETURN '1 day';
END
$$;

-- pgetl_backfill(): the logical dates to run, oldest first, as a JSON
-- array of {"date", "why"}, after checking the arguments.  reprocess:
-- 'none' leaves out the dates that have a run, 'failed' those whose
-- latest run succeeded, 'all' none; a date with an active run is always
-- left out (a notice says so).
CREATE FUNCTION pgetl._backfill_dates(caller oid, p_pipeline text, p_start date, p_end date,
                                      p_params jsonb, p_max_active_runs integer, p_reprocess text)
RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline := pgetl._pipeline_for(caller, p_pipeline);
    sc pgetl.schedule;
    d date;
    last pgetl.run_record;
    dates jsonb := '[]';
BEGIN
    IF p_start IS NULL OR p_end IS NULL THEN
        RAISE EXCEPTION 'start_date and end_date must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_start > p_end THEN
        RAISE EXCEPTION 'start_date % is after end_date %', p_start, p_end
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Backfill runs the logical dates from start_date to end_date, both included.';
    END IF;
    IF p_params IS NULL OR jsonb_typeof(p_params) <> 'object' THEN
        RAISE EXCEPTION 'run params must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_max_active_runs IS NULL OR p_max_active_runs NOT BETWEEN 1 AND 1024 THEN
        RAISE EXCEPTION 'max_active_runs must be between 1 and 1024, not %', coalesce(p_max_active_runs::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'It caps the runs of this backfill at once; the pipeline''s own max_active_runs applies too.';
    END IF;
    IF p_reprocess IS NULL OR p_reprocess NOT IN ('none', 'failed', 'all') THEN
        RAISE EXCEPTION 'reprocess must be none, failed or all, not %', coalesce(quote_literal(p_reprocess), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'none skips dates that have a run; failed re-runs the dates whose latest run did not succeed; all re-runs every date.';
    END IF;
    -- the dates the pipeline's schedule fires on (in its time zone): a
    -- run's logical date is the start of its data interval; every date
    -- without a schedule
    SELECT * INTO sc FROM pgetl.schedule WHERE pipeline_id = p.pipeline_id;
    FOR d IN SELECT g::date FROM generate_series(p_start::timestamp, p_end::timestamp, '1 day') g
              WHERE sc.pipeline_id IS NULL
                 OR pgetl._cron_step(sc.schedule, sc.timezone,
                                     (g AT TIME ZONE sc.timezone) - interval '1 microsecond', true)
                    < ((g + interval '1 day') AT TIME ZONE sc.timezone) LOOP
        SELECT * INTO last FROM pgetl.run_record
         WHERE pipeline_id = p.pipeline_id AND logical_date = d ORDER BY run_id DESC LIMIT 1;
        IF last.run_id IS NULL THEN
            dates := dates || jsonb_build_object('date', d, 'why', 'no run yet');
        ELSIF last.state IN ('queued', 'running') THEN
            RAISE NOTICE 'logical date % of pipeline "%" is left out: run % is %', d, p.name, last.run_id, last.state;
        ELSIF p_reprocess = 'all' OR (p_reprocess = 'failed' AND last.state <> 'success') THEN
            dates := dates || jsonb_build_object('date', d, 'why', format('run %s %s', last.run_id, last.state));
        END IF;
    END LOOP;
    RETURN dates;
END
$$;

-- pgetl_cancel_backfill(): ask the running backfills of a pipeline to stop.
CREATE FUNCTION pgetl._cancel_backfill(caller oid, p_pipeline text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline := pgetl._pipeline_for(caller, p_pipeline);
BEGIN
    INSERT INTO pgetl.backfill_cancel (pipeline_id, requested_at, requested_by)
    VALUES (p.pipeline_id, clock_timestamp(), (SELECT rolname FROM pg_roles WHERE oid = caller))
    ON CONFLICT (pipeline_id) DO UPDATE SET requested_at = EXCLUDED.requested_at,
                                            requested_by = EXCLUDED.requested_by;
END
$$;

-- Stop a run: unfinished tries become cancelled (sensors waiting for their
-- next poke too), tasks waiting for a retry too (as a cancelled next try),
-- and the run gets p_state.
CREATE FUNCTION pgetl._stop_run(p_run_id bigint, p_state text, p_reason text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pgetl._close_retries(p_run_id);
    UPDATE pgetl.task_run_record SET state = 'cancelled', error = p_reason
     WHERE run_id = p_run_id AND state IN ('scheduled', 'queued', 'running', 'up_for_reschedule');
    UPDATE pgetl.run_record SET state = p_state::pgetl.run_state, reason = p_reason
     WHERE run_id = p_run_id AND state IN ('queued', 'running');
    PERFORM pgetl._promote_queued(pipeline_id) FROM pgetl.run_record
      WHERE run_id = p_run_id AND pipeline_id IS NOT NULL;
END
$$;

-- pgetl_cancel(): the state of a run the caller may cancel.
CREATE FUNCTION pgetl._cancel_check(caller oid, p_run_id bigint) RETURNS text
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT (pgetl._run_for(caller, p_run_id, 'cancel')).state
$$;

-- pgetl_result(): an upstream task's recorded result in the current run.
CREATE FUNCTION pgetl._task_result(p_run_id bigint, p_task text) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tr pgetl.task_run_record;
BEGIN
    SELECT * INTO tr FROM pgetl.task_run_record
     WHERE run_id = p_run_id AND task = p_task AND map_index IS NULL ORDER BY try_number DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task "%" does not exist in run %', p_task, p_run_id
            USING ERRCODE = 'undefined_object';
    END IF;
    IF tr.state <> 'success' THEN
        RAISE EXCEPTION 'task "%" has no result in run %: it is %', p_task, p_run_id, tr.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'pgetl_result() reads tasks that succeeded; make the task an upstream of this one.';
    END IF;
    RETURN tr.result;
END
$$;

-- Callbacks (Airflow's on_failure_callback, on_success_callback,
-- on_retry_callback): SQL a task or a pipeline gives, run by a task worker
-- as the pipeline owner once the state it reports is committed, in a
-- transaction of its own (src/task_worker.c).

-- A task's callbacks are read with the task itself (pgetl._task_start).

-- The callback to run for what was committed, and what
-- pgetl_callback_context() returns inside it: of a task try
-- (p_task_run_id), by its state (success: on_success, failed: on_failure,
-- up_for_retry: on_retry), else of a run (p_run_id), by the state it
-- ended in, p_run_state, as the scheduler saw it (success: the pipeline's
-- on_success, failed: its on_failure), even if the run was resumed since.
-- command NULL: no callback for that state.  duration in seconds.
CREATE FUNCTION pgetl._callback_of(p_task_run_id bigint, p_run_id bigint, p_run_state text,
    OUT command text, OUT context jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tr pgetl.task_run_record;
    r pgetl.run_record;
    t pgetl.task;
    event text;
BEGIN
    IF p_task_run_id IS NOT NULL THEN
        SELECT * INTO tr FROM pgetl.task_run_record WHERE task_run_id = p_task_run_id;
        SELECT * INTO t FROM pgetl.task WHERE task_id = tr.task_id;
        SELECT * INTO r FROM pgetl.run_record WHERE run_id = tr.run_id;
        IF tr.task_run_id IS NULL OR t.task_id IS NULL THEN
            RETURN;
        END IF;
        event := CASE tr.state WHEN 'success' THEN 'on_success' WHEN 'failed' THEN 'on_failure'
                               WHEN 'up_for_retry' THEN 'on_retry' END;
        command := CASE event WHEN 'on_success' THEN t.on_success WHEN 'on_failure' THEN t.on_failure
                              WHEN 'on_retry' THEN t.on_retry END;
        context := jsonb_build_object('event', event, 'run_id', tr.run_id, 'pipeline', r.pipeline,
            'task', tr.task, 'task_run_id', tr.task_run_id, 'try_number', tr.try_number,
            'max_tries', tr.max_tries, 'state', tr.state, 'error', tr.error, 'sqlstate', tr.sqlstate,
            'logical_date', r.logical_date, 'duration', extract(epoch FROM tr.duration),
            'started_at', tr.started_at, 'finished_at', tr.finished_at, 'map_index', tr.map_index);
    ELSE
        -- the run's: error is its reason, sqlstate that of its first
        -- failed task (by task order), failed_tasks their names
        SELECT * INTO r FROM pgetl.run_record WHERE run_id = p_run_id;
        IF r.run_id IS NULL THEN
            RETURN;
        END IF;
        event := CASE p_run_state WHEN 'success' THEN 'on_success' WHEN 'failed' THEN 'on_failure' END;
        SELECT CASE event WHEN 'on_success' THEN p.on_success WHEN 'on_failure' THEN p.on_failure END
          INTO command FROM pgetl.pipeline p WHERE p.pipeline_id = r.pipeline_id;
        context := jsonb_build_object('event', event, 'run_id', r.run_id, 'pipeline', r.pipeline,
            'state', p_run_state, 'error', r.reason,
            'sqlstate', (SELECT l.sqlstate FROM pgetl._latest_tries(r.run_id) l
                          WHERE l.state = 'failed' ORDER BY l.task_id LIMIT 1),
            'failed_tasks', (SELECT coalesce(jsonb_agg(l.task ORDER BY l.task_id), '[]')
                               FROM pgetl._latest_tries(r.run_id) l WHERE l.state = 'failed'),
            'logical_date', r.logical_date, 'duration', extract(epoch FROM r.duration),
            'started_at', r.started_at, 'finished_at', r.finished_at);
    END IF;
END
$$;

-- In the transaction that ends a run: whether the pipeline has a callback
-- for the state it ended in (on_success, on_failure); if so the run keeps
-- it in callback_pending until a task worker of the owner has run it (the
-- scheduler hands it over; pgetl._callback_done clears it in the
-- callback's own transaction).
CREATE FUNCTION pgetl._run_callback_due(p_run_id bigint) RETURNS boolean
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH due AS (
        UPDATE pgetl.run_record r SET callback_pending = r.state
          FROM pgetl.pipeline p
         WHERE r.run_id = p_run_id AND p.pipeline_id = r.pipeline_id
           AND CASE r.state WHEN 'success' THEN p.on_success IS NOT NULL
                            WHEN 'failed' THEN p.on_failure IS NOT NULL ELSE false END
        RETURNING 1)
    SELECT EXISTS (SELECT FROM due)
$$;

-- The pipeline callbacks still to run (of runs that ended while no
-- scheduler could hand them over: a server restart, pgetl._recover, a
-- scheduler that exited first), oldest run first: what a scheduler
-- queues when it starts, and before it goes idle.
CREATE FUNCTION pgetl._pending_callbacks(OUT run_id bigint, OUT owner oid, OUT success boolean)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.run_id, r.owner::oid, r.callback_pending = 'success'
      FROM pgetl.run_record r
     WHERE r.callback_pending IS NOT NULL
       -- none without its pipeline (the callback is the pipeline's) or owner
       AND EXISTS (SELECT FROM pgetl.pipeline p WHERE p.pipeline_id = r.pipeline_id)
       AND EXISTS (SELECT FROM pg_catalog.pg_roles o WHERE o.oid = r.owner)
     ORDER BY r.run_id
$$;

-- The run timeout of a run's pipeline (Airflow's dagrun_timeout), read
-- when the run starts or resumes: as text (IntervalStyle postgres, for
-- the reason) and in milliseconds; NULL: none.
CREATE FUNCTION pgetl._run_timeout_of(p_run_id bigint, OUT run_timeout text, OUT timeout_ms bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET IntervalStyle = postgres AS $$
    SELECT p.run_timeout::text, (extract(epoch FROM p.run_timeout) * 1000)::bigint
      FROM pgetl.run_record r JOIN pgetl.pipeline p ON p.pipeline_id = r.pipeline_id
     WHERE r.run_id = p_run_id
$$;

-- A run past its run timeout (called by the scheduler once it stopped the
-- run's workers): the tries it had handed to workers (p_running) fail
-- with the reason (SQLSTATE 57014, as a task's own timeout), every task
-- that had not started (scheduled, queued, or waiting for a retry: its
-- next try) is skipped with it, as Airflow skips a timed-out DAG run's
-- unfinished tasks, and the run fails with it.
CREATE FUNCTION pgetl._run_timed_out(p_run_id bigint, p_reason text, p_running bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pgetl._close_retries(p_run_id);
    UPDATE pgetl.task_run_record SET state = 'failed', error = p_reason, sqlstate = '57014'
     WHERE run_id = p_run_id AND task_run_id = ANY (p_running) AND state IN ('queued', 'running');
    UPDATE pgetl.task_run_record SET state = 'skipped', error = p_reason
     WHERE run_id = p_run_id AND state IN ('scheduled', 'queued');
    -- a mapped task whose instances were running
    UPDATE pgetl.task_run_record SET state = 'failed', error = p_reason, sqlstate = '57014'
     WHERE run_id = p_run_id AND state = 'running';
    UPDATE pgetl.run_record SET state = 'failed', reason = p_reason
     WHERE run_id = p_run_id AND state = 'running';
END
$$;

-- Record how a callback ended: its error (NULL: it succeeded, recorded in
-- the callback's own transaction), on the try (p_task_run_id) or else on
-- the run (p_run_id), whose callback is then no longer pending.
CREATE FUNCTION pgetl._callback_done(p_task_run_id bigint, p_run_id bigint, p_error text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_task_run_id IS NOT NULL THEN
        UPDATE pgetl.task_run_record SET callback_error = p_error WHERE task_run_id = p_task_run_id;
    ELSE
        UPDATE pgetl.run_record SET callback_error = p_error, callback_pending = NULL WHERE run_id = p_run_id;
    END IF;
END
$$;

-- Task pools, priority weights and max_active_tasks (issue 11 §2).  The
-- scheduler (src/scheduler.c) hands queued tries to task workers.  While
-- no task of the database names a task pool or sets a priority weight or
-- weight rule, and no pipeline sets max_active_tasks, it does so per run,
-- up to the run's max_parallel, highest effective weight first
-- (pgetl._queued_in_order: with the defaults, the tasks with the most
-- downstream tasks), reading the catalog only when tries compete for its
-- places (pgetl._hand_out_needed says which).  Otherwise it does one
-- hand-out over all the runs of the database (hand_out_all): the tries of
-- pgetl._hand_out_order, highest effective weight first (then run, then
-- task order), each if its run's max_parallel, its pipeline's
-- max_active_tasks (over all its active runs) and its task pool's free
-- slots allow; a try that does not fit waits queued, the next may start.

-- Whether the scheduler must arbitrate between runs (see above).
CREATE FUNCTION pgetl._hand_out_needed() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT FROM pgetl.task
                    WHERE pool IS NOT NULL OR priority_weight <> 1 OR weight_rule <> 'downstream')
        OR EXISTS (SELECT FROM pgetl.pipeline WHERE max_active_tasks IS NOT NULL)
$$;

-- A run's queued tries in the order they start when they compete for its
-- max_parallel (the scheduler's hand-out per run; pgetl._dag_step, and
-- src/scheduler.c when tries released by workers outnumber the free
-- places): highest effective priority weight first, as Airflow's
-- scheduler does -- with the default priority_weight 1 and weight_rule
-- downstream, the task with the most downstream tasks -- then task order,
-- a mapped task's instances by map_index.
CREATE FUNCTION pgetl._queued_in_order(p_run_id bigint) RETURNS bigint[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT array_agg(q.task_run_id ORDER BY w.weight DESC NULLS LAST, q.task_id,
                                            q.map_index NULLS FIRST, q.task_run_id)
      FROM pgetl.task_run_record q
      LEFT JOIN pgetl._effective_weights(ARRAY(SELECT DISTINCT e.task_id FROM pgetl.task_run_record e
                                                WHERE e.run_id = p_run_id AND e.state = 'queued')) w
             ON w.task_id = q.task_id
     WHERE q.run_id = p_run_id AND q.state = 'queued'
$$;

-- Airflow's effective priority weights of tasks: each task's
-- priority_weight plus, by its weight_rule, the weights of all its
-- downstream tasks (downstream), of all its upstream tasks (upstream), or
-- nothing (absolute).  Set-based, for all the tasks at once (the
-- scheduler asks for every queued try at each hand-out); tasks that no
-- longer exist are left out.
CREATE FUNCTION pgetl._effective_weights(task_ids bigint[], OUT task_id bigint, OUT weight bigint)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE t AS (
        SELECT k.task_id, k.priority_weight, k.weight_rule FROM pgetl.task k
         WHERE k.task_id = ANY (task_ids)
    ), down(root, task_id) AS (
        SELECT t.task_id, d.task_id FROM t JOIN pgetl.task_dependency d ON d.upstream_task_id = t.task_id
         WHERE t.weight_rule = 'downstream'
        UNION
        SELECT down.root, d.task_id FROM down JOIN pgetl.task_dependency d ON d.upstream_task_id = down.task_id
    ), up(root, task_id) AS (
        SELECT t.task_id, d.upstream_task_id FROM t JOIN pgetl.task_dependency d ON d.task_id = t.task_id
         WHERE t.weight_rule = 'upstream'
        UNION
        SELECT up.root, d.upstream_task_id FROM up JOIN pgetl.task_dependency d ON d.task_id = up.task_id
    ), reach AS (
        SELECT root, task_id FROM down UNION SELECT root, task_id FROM up
    )
    SELECT t.task_id, t.priority_weight::bigint + coalesce(sum(x.priority_weight), 0)::bigint
      FROM t
      LEFT JOIN reach r ON r.root = t.task_id
      LEFT JOIN pgetl.task x ON x.task_id = r.task_id
     GROUP BY t.task_id, t.priority_weight
$$;

-- The effective weight of one task (NULL: no such task).
CREATE FUNCTION pgetl._effective_weight(p_task_id bigint) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT weight FROM pgetl._effective_weights(ARRAY[p_task_id])
$$;

-- The tries the scheduler holds (launched: handed to workers, first) and
-- those it may hand out (queued, in the order to try them), with what
-- limits them: run, pipeline and its max_active_tasks, task pool, its
-- slots and the slots the try takes.
CREATE FUNCTION pgetl._hand_out_order(queued bigint[], launched bigint[],
                                      OUT task_run_id bigint, OUT run_id bigint, OUT pipeline_id bigint,
                                      OUT max_active_tasks integer, OUT pool text, OUT pool_size integer,
                                      OUT pool_slots integer, OUT is_launched boolean, OUT weight bigint)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT tr.task_run_id, tr.run_id, r.pipeline_id, p.max_active_tasks, t.pool, tp.slots,
           coalesce(t.pool_slots, 1), l.is_launched, w.weight
      FROM pgetl.task_run_record tr
      JOIN pgetl.run_record r ON r.run_id = tr.run_id
      LEFT JOIN pgetl.pipeline p ON p.pipeline_id = r.pipeline_id
      LEFT JOIN pgetl.task t ON t.task_id = tr.task_id
      LEFT JOIN pgetl.task_pool tp ON tp.name = t.pool
      CROSS JOIN LATERAL (SELECT tr.task_run_id = ANY (launched) AS is_launched) l
      LEFT JOIN pgetl._effective_weights(ARRAY(SELECT q.task_id FROM pgetl.task_run_record q
                                                WHERE q.task_run_id = ANY (queued))) w
             ON w.task_id = tr.task_id AND NOT l.is_launched
     WHERE tr.task_run_id = ANY (queued || launched)
     ORDER BY l.is_launched DESC, w.weight DESC NULLS LAST, tr.run_id, tr.task_id
$$;

-- The task pools, with the tries that run in them now (running: tries;
-- occupied_slots: the slots they take), the tries that wait for them
-- (queued), and the slots left (open_slots).  Everyone may read it: pools
-- are shared by all pipelines; it shows counts only.
CREATE VIEW pgetl.pools AS
SELECT tp.name AS pool, tp.slots,
       coalesce(u.running, 0) AS running,
       coalesce(u.occupied_slots, 0) AS occupied_slots,
       coalesce(u.queued, 0) AS queued,
       GREATEST(tp.slots - coalesce(u.occupied_slots, 0), 0) AS open_slots,
       tp.description
  FROM pgetl.task_pool tp
  LEFT JOIN (SELECT t.pool,
                    count(*) FILTER (WHERE w.task_run_id IS NOT NULL) AS running,
                    sum(t.pool_slots) FILTER (WHERE w.task_run_id IS NOT NULL) AS occupied_slots,
                    count(*) FILTER (WHERE w.task_run_id IS NULL) AS queued
               FROM pgetl.task_run_record tr
               JOIN pgetl.run_record r ON r.run_id = tr.run_id AND r.state = 'running'
               JOIN pgetl.task t ON t.task_id = tr.task_id
               LEFT JOIN pgetl._running_tasks() w ON w.task_run_id = tr.task_run_id
              WHERE tr.state = 'queued' AND t.pool IS NOT NULL
              GROUP BY t.pool) u ON u.pool = tp.name;
COMMENT ON VIEW pgetl.pools IS
'task pools (Airflow''s pools): slots, tries running in them (running, occupied_slots), tries waiting for them (queued), open slots';
GRANT SELECT ON pgetl.pools TO PUBLIC;

COMMENT ON FUNCTION pgetl._hand_out_needed() IS
'internal: whether the scheduler hands out tries over all runs (task pools, priority weights or max_active_tasks in use)';
COMMENT ON FUNCTION pgetl._queued_in_order(bigint) IS
'internal: a run''s queued tries, highest effective priority weight first, then in task order';
COMMENT ON FUNCTION pgetl._effective_weights(bigint[]) IS
'internal: Airflow''s effective priority weights of tasks, by their weight_rule';
COMMENT ON FUNCTION pgetl._effective_weight(bigint) IS
'internal: Airflow''s effective priority weight of a task, by its weight_rule';
COMMENT ON FUNCTION pgetl._hand_out_order(bigint[], bigint[]) IS
'internal: the tries the scheduler holds and may hand out, with their limits, in hand-out order';

-- What this part's internal functions are for and who calls them (every
-- function has a COMMENT ON FUNCTION: test/style/sql_style_test.sh).
COMMENT ON FUNCTION pgetl._latest_tries(bigint) IS
'internal: the latest try of every task of a run (not of mapped instances); read by the engine''s functions and pgetl_run (run.c)';
COMMENT ON FUNCTION pgetl._latest_instances(bigint) IS
'internal: the latest try of every mapped instance of a run; read by the engine''s functions beside _latest_tries';
COMMENT ON FUNCTION pgetl._trigger_decision(text, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint) IS
'internal: Airflow''s trigger rules: from the states of a task''s upstream tasks, run, wait, upstream_failed or skipped; for _evaluate';
COMMENT ON FUNCTION pgetl._past_ok(bigint, bigint) IS
'internal: depends_on_past: may a task of a run start as far as its previous run goes; for _evaluate';
COMMENT ON FUNCTION pgetl._evaluate(bigint) IS
'internal: the decision (trigger rules, setup tasks, depends_on_past) for every scheduled task of a run; for _dag_step';
COMMENT ON FUNCTION pgetl._retry_delay(pgetl.task, integer, interval) IS
'internal: the wait before a task''s next try (retry_delay, exponential backoff, max_retry_delay); for _dag_step';
COMMENT ON FUNCTION pgetl._param_retry_delay(bigint, jsonb) IS
'internal: a run''s retry_delay param (run params over pipeline defaults) as an interval, or NULL; 22023 when it is not one; for _start_run and _dag_step';
COMMENT ON FUNCTION pgetl._retryable(text) IS
'internal: whether a failed try may be retried (not after SQLSTATE class 28 or 42501); for _task_fail';
COMMENT ON FUNCTION pgetl._close_retries(bigint) IS
'internal: gives the tasks of a stopping run that wait for a retry their next try, so that none stays up_for_retry; for _stop_run, _run_timed_out and _recover';
COMMENT ON FUNCTION pgetl._connect_error(bigint) IS
'internal: why a task worker could not connect as the pipeline owner, with PostgreSQL''s messages; called by the scheduler (scheduler.c) when a try ends before it began';
COMMENT ON FUNCTION pgetl._recover() IS
'internal: marks failed the runs whose scheduler died (no live slot in shared memory) and ends their unfinished tries; called by the recovery worker (maintenance.c), pgetl_cancel (run.c), _start_run and _resume_run';
COMMENT ON FUNCTION pgetl._run_for(oid, bigint, text, boolean) IS
'internal: a run the caller may act on (member of its pipeline''s owner); for the run control functions';
COMMENT ON FUNCTION pgetl._check_runnable(pgetl.pipeline) IS
'internal: refuses to start or resume a run of a pipeline that is disabled, has no task or an owner that cannot log in; for _start_run and _resume_run';
COMMENT ON FUNCTION pgetl._check_date_free(pgetl.pipeline, date, bigint) IS
'internal: refuses a run of a logical date that has an active run already, saying which; for _start_run and _resume_run';
COMMENT ON FUNCTION pgetl._may_run(pgetl.pipeline, bigint) IS
'internal: whether a run of the pipeline may run now rather than wait queued (max_active_runs, older queued runs); for _start_run and _resume_run';
COMMENT ON FUNCTION pgetl._promote_queued(bigint) IS
'internal: starts the queued runs of a pipeline that may run now, oldest logical date first; for _dag_step and _stop_run (a run that finishes)';
COMMENT ON FUNCTION pgetl._queued_reason(pgetl.pipeline) IS
'internal: the reason a queued run shows (pgetl.pipeline_run.reason); for _start_run and _resume_run';
COMMENT ON FUNCTION pgetl._start_run(oid, text, jsonb, date, integer, text) IS
'internal: records a new run and its first tries, in the run''s first transaction; called by the scheduler (scheduler.c) for pgetl_run';
COMMENT ON FUNCTION pgetl._resume_run(oid, bigint, integer, text[], boolean, boolean) IS
'internal: gives the failed (or, with clear, the named) tasks of a finished run a new try; called by the scheduler (scheduler.c) for pgetl_resume and pgetl_clear';
COMMENT ON FUNCTION pgetl._set_task_state(oid, bigint, text, text, text) IS
'internal: does the work of pgetl_set_task_state (define.c): marks the latest try of a task of a finished run by hand; returns the state it had';
COMMENT ON FUNCTION pgetl._set_note(oid, bigint, text, text) IS
'internal: does the work of pgetl_set_note (define.c): a note on a run or on the latest try of one of its tasks';
COMMENT ON FUNCTION pgetl._failure_report(bigint) IS
'internal: the failed tasks of a run and their errors, for the error pgetl_run raises (run.c) and the run''s reason';
COMMENT ON FUNCTION pgetl._dag_step(bigint) IS
'internal: one scheduler step over a run''s DAG: due retries, trigger rules, queued tries, the run''s end; called by the scheduler (scheduler.c)';
COMMENT ON FUNCTION pgetl._task_start(bigint) IS
'internal: the task of a queued try, read by its task worker (task_worker.c) in the try''s own transaction; all NULL when the try is no longer queued';
COMMENT ON FUNCTION pgetl._task_expand(bigint, jsonb, timestamptz, integer) IS
'internal: dynamic task mapping: records what a mapped task''s map_over query returned and schedules its mapped instances; called by the task worker (task_worker.c)';
COMMENT ON FUNCTION pgetl._map_aggregate(bigint) IS
'internal: the state a mapped task''s try takes once its instances have finished, and their results; for _task_succeed and _dag_step';
COMMENT ON FUNCTION pgetl._task_succeed(bigint, jsonb, bigint, timestamptz, integer) IS
'internal: records a try''s success in the task''s own transaction and queues the downstream tasks it releases; called by the task worker (task_worker.c)';
COMMENT ON FUNCTION pgetl._task_fail(bigint, text, text, text, text, text, timestamptz, integer) IS
'internal: records a failed try: up_for_retry while tries are left and a retry may help, else failed; called by the task worker and the scheduler';
COMMENT ON FUNCTION pgetl._task_skip(bigint, text, timestamptz, integer) IS
'internal: records a try that skipped itself (pgetl_skip); called by the task worker (task_worker.c)';
COMMENT ON FUNCTION pgetl._sensor_poke_interval(jsonb) IS
'internal: a sensor''s poke interval from its config, else 60 seconds; for _check_sensor_task and _sensor_poke';
COMMENT ON FUNCTION pgetl._sensor_poke(bigint, timestamptz, integer) IS
'internal: what comes after a sensor''s false poke (failed or skipped past its timeout, else rescheduled or poked again); called by the task worker (task_worker.c)';
COMMENT ON FUNCTION pgetl._skip_tasks(bigint, bigint[], text) IS
'internal: marks tasks of a run that have not started skipped, with the reason; for _task_branch and _task_short_circuit';
COMMENT ON FUNCTION pgetl._task_branch(bigint, text[]) IS
'internal: a branch task''s choice: skips the direct downstream tasks it does not follow; called by the task worker (task_worker.c)';
COMMENT ON FUNCTION pgetl._task_short_circuit(bigint) IS
'internal: a short_circuit task whose condition is false: skips every task downstream of it; called by the task worker (task_worker.c)';
COMMENT ON FUNCTION pgetl._schedule_step(text) IS
'internal: the interval between two logical dates of a backfill as 0.2 first had it; unused since backfills follow the schedule''s firings, kept for upgrade step 83';
COMMENT ON FUNCTION pgetl._backfill_dates(oid, text, date, date, jsonb, integer, text) IS
'internal: the logical dates pgetl_backfill (run.c) runs, oldest first, after checking its arguments';
COMMENT ON FUNCTION pgetl._cancel_backfill(oid, text) IS
'internal: does the work of pgetl_cancel_backfill (define.c): asks the running backfills of a pipeline to stop';
COMMENT ON FUNCTION pgetl._stop_run(bigint, text, text) IS
'internal: stops a run: its unfinished tries become cancelled and the run takes the given state; called by the scheduler (scheduler.c)';
COMMENT ON FUNCTION pgetl._cancel_check(oid, bigint) IS
'internal: the state of a run the caller may cancel; called by pgetl_cancel (run.c)';
COMMENT ON FUNCTION pgetl._task_result(bigint, text) IS
'internal: an upstream task''s recorded result in the current run; for pgetl_result (task_worker.c)';
COMMENT ON FUNCTION pgetl._callback_of(bigint, bigint, text) IS
'internal: the callback to run for a committed try or finished run, and the context pgetl_callback_context returns in it; called by the task worker (task_worker.c)';
COMMENT ON FUNCTION pgetl._run_callback_due(bigint) IS
'internal: whether a run that ends has a pipeline callback for its state (then kept pending until it has run); called by the scheduler (scheduler.c)';
COMMENT ON FUNCTION pgetl._pending_callbacks() IS
'internal: the pipeline callbacks still to run, oldest run first; read by the scheduler (scheduler.c) and maintenance (maintenance.c)';
COMMENT ON FUNCTION pgetl._run_timeout_of(bigint) IS
'internal: a run''s run timeout, as text and in milliseconds (NULL: none); read by the scheduler (scheduler.c)';
COMMENT ON FUNCTION pgetl._run_timed_out(bigint, text, bigint[]) IS
'internal: ends a run past its run timeout: its running tries fail, unstarted tasks are skipped, the run fails; called by the scheduler (scheduler.c)';
COMMENT ON FUNCTION pgetl._callback_done(bigint, bigint, text) IS
'internal: records how a callback ended (its error, or NULL) and that it is no longer pending; called by the task worker (task_worker.c)';
