-- pgetl install script, assembled by the Makefile from src/sql/*.sql in name
-- order.  Catalog tables live in schema pgetl; user-facing functions are
-- created in the extension's schema (public unless CREATE EXTENSION ...
-- SCHEMA says otherwise) so that they resolve without qualification.

\echo Use "CREATE EXTENSION pgetl" to load this file. \quit

CREATE SCHEMA pgetl;
COMMENT ON SCHEMA pgetl IS 'pgetl catalog: pipelines, tasks, run history, load specs and rejects';
REVOKE ALL ON SCHEMA pgetl FROM PUBLIC;
-- Usage only, so that the filtered views below can be read; the tables
-- themselves grant nothing to PUBLIC.
GRANT USAGE ON SCHEMA pgetl TO PUBLIC;
-- Pipeline definitions: pipelines, tasks and their dependencies.

CREATE TABLE pgetl.pipeline (
    pipeline_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (name <> ''),
    description     text,
    owner           regrole NOT NULL,
    max_parallel    integer NOT NULL DEFAULT 4 CHECK (max_parallel BETWEEN 1 AND 1024),
    params          jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(params) = 'object'),
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE pgetl.pipeline IS 'pipelines: named DAGs of tasks, run as their owner';

CREATE TABLE pgetl.task (
    task_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline_id     bigint NOT NULL REFERENCES pgetl.pipeline ON DELETE CASCADE,
    name            text NOT NULL CHECK (name <> ''),
    kind            text NOT NULL CHECK (kind IN ('sql', 'check', 'load', 'export')),
    command         text,
    config          jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(config) = 'object'),
    retries         integer NOT NULL DEFAULT 0 CHECK (retries >= 0),
    retry_delay     interval NOT NULL DEFAULT '5 minutes' CHECK (retry_delay >= '0'),
    retry_exponential_backoff boolean NOT NULL DEFAULT false,
    max_retry_delay interval CHECK (max_retry_delay >= '0'),
    timeout         interval CHECK (timeout > '0'),
    trigger_rule    text NOT NULL DEFAULT 'all_success' CHECK (trigger_rule IN (
                        'all_success', 'all_failed', 'all_done', 'one_success',
                        'one_failed', 'none_failed', 'none_failed_min_one_success',
                        'none_skipped', 'always')),
    UNIQUE (pipeline_id, name),
    UNIQUE (pipeline_id, task_id)
);
COMMENT ON TABLE pgetl.task IS 'tasks of pipelines: what to run, how often to retry, when to trigger';

CREATE TABLE pgetl.task_dependency (
    pipeline_id     bigint NOT NULL,
    task_id         bigint NOT NULL,
    upstream_task_id bigint NOT NULL,
    PRIMARY KEY (task_id, upstream_task_id),
    -- both ends in the same pipeline: cross-pipeline edges cannot exist
    FOREIGN KEY (pipeline_id, task_id) REFERENCES pgetl.task (pipeline_id, task_id) ON DELETE CASCADE,
    FOREIGN KEY (pipeline_id, upstream_task_id) REFERENCES pgetl.task (pipeline_id, task_id) ON DELETE CASCADE,
    CHECK (task_id <> upstream_task_id)
);
CREATE INDEX ON pgetl.task_dependency (upstream_task_id);
COMMENT ON TABLE pgetl.task_dependency IS 'edges of the pipeline DAG: task runs after upstream_task';

-- Refuse any edge that closes a cycle, whatever inserted it; the message
-- names the cycle.
CREATE FUNCTION pgetl._task_dependency_no_cycle() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cyc text;
BEGIN
    -- Walk upstream from the new edge's upstream; reaching the task itself
    -- closes a cycle.
    WITH RECURSIVE up(task_id, path) AS (
        SELECT NEW.upstream_task_id, ARRAY[NEW.task_id, NEW.upstream_task_id]
        UNION ALL
        SELECT d.upstream_task_id, up.path || d.upstream_task_id
          FROM up JOIN pgetl.task_dependency d ON d.task_id = up.task_id
         WHERE up.task_id <> NEW.task_id
           AND NOT d.upstream_task_id = ANY (up.path[2:])
    )
    SELECT string_agg(t.name, ' -> ' ORDER BY p.ord DESC) INTO cyc
      FROM (SELECT path FROM up WHERE task_id = NEW.task_id LIMIT 1) c,
           unnest(c.path) WITH ORDINALITY AS p(id, ord)
      JOIN pgetl.task t ON t.task_id = p.id;
    IF cyc IS NOT NULL THEN
        RAISE EXCEPTION 'dependency would create a cycle: %', cyc
            USING ERRCODE = 'invalid_object_definition',
                  DETAIL = format('Pipeline "%s" must stay a directed acyclic graph.',
                                  (SELECT name FROM pgetl.pipeline WHERE pipeline_id = NEW.pipeline_id)),
                  HINT = 'Remove one of the upstream references in the cycle.';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER task_dependency_no_cycle
    AFTER INSERT OR UPDATE ON pgetl.task_dependency
    FOR EACH ROW EXECUTE FUNCTION pgetl._task_dependency_no_cycle();
-- Run history: one row per run, one row per task try.  Triggers keep it
-- consistent: timestamps, durations, legal state changes, task counts rolled
-- up to the run, and NOTIFY pgetl_run on every state change.

CREATE TABLE pgetl.run_record (
    run_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline_id     bigint REFERENCES pgetl.pipeline ON DELETE SET NULL,
    pipeline        text NOT NULL,
    owner           regrole NOT NULL,
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'success', 'failed', 'cancelled')),
    params          jsonb NOT NULL DEFAULT '{}',
    logical_date    date NOT NULL,
    started_by      text NOT NULL,
    queued_at       timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    started_at      timestamptz,
    finished_at     timestamptz,
    duration        interval,
    reason          text,
    resumed         integer NOT NULL DEFAULT 0,
    server_epoch    timestamptz,
    coordinator_pid integer,
    tasks_scheduled integer NOT NULL DEFAULT 0,
    tasks_queued    integer NOT NULL DEFAULT 0,
    tasks_running   integer NOT NULL DEFAULT 0,
    tasks_success   integer NOT NULL DEFAULT 0,
    tasks_failed    integer NOT NULL DEFAULT 0,
    tasks_up_for_retry integer NOT NULL DEFAULT 0,
    tasks_upstream_failed integer NOT NULL DEFAULT 0,
    tasks_skipped   integer NOT NULL DEFAULT 0,
    tasks_cancelled integer NOT NULL DEFAULT 0
);
-- At most one active run per pipeline, enforced by the database.
CREATE UNIQUE INDEX run_record_one_active ON pgetl.run_record (pipeline_id)
    WHERE state IN ('queued', 'running');
CREATE INDEX ON pgetl.run_record (pipeline, run_id);
CREATE INDEX ON pgetl.run_record (pipeline_id);
CREATE INDEX ON pgetl.run_record (finished_at);
COMMENT ON TABLE pgetl.run_record IS 'pipeline runs (read it through the view pgetl.pipeline_run)';

CREATE TABLE pgetl.task_run_record (
    task_run_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          bigint NOT NULL REFERENCES pgetl.run_record ON DELETE CASCADE,
    task_id         bigint REFERENCES pgetl.task ON DELETE SET NULL,
    task            text NOT NULL,
    try_number      integer NOT NULL CHECK (try_number >= 1),
    max_tries       integer NOT NULL DEFAULT 1,
    state           text NOT NULL DEFAULT 'scheduled'
                    CHECK (state IN ('scheduled', 'queued', 'running', 'success', 'failed',
                                     'up_for_retry', 'upstream_failed', 'skipped', 'cancelled')),
    scheduled_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    queued_at       timestamptz,
    started_at      timestamptz,
    finished_at     timestamptz,
    duration        interval,
    pid             integer,
    result          jsonb,
    rows            bigint,
    error           text,
    sqlstate        text,
    detail          text,
    hint            text,
    context         text,
    UNIQUE (run_id, task, try_number)
);
CREATE INDEX ON pgetl.task_run_record (task_id);
COMMENT ON TABLE pgetl.task_run_record IS 'one row per task try (read it through the view pgetl.task_run)';

-- Task state machine.  Tries only move forward; a retry or a resume is a new
-- row with the next try_number.
CREATE FUNCTION pgetl._task_state_change_allowed(old_state text, new_state text)
RETURNS boolean LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE old_state
        WHEN 'scheduled' THEN new_state IN ('queued', 'upstream_failed', 'skipped', 'cancelled')
        WHEN 'queued' THEN new_state IN ('scheduled', 'running', 'failed', 'up_for_retry', 'cancelled')
        WHEN 'running' THEN new_state IN ('success', 'failed', 'up_for_retry', 'cancelled')
        ELSE false
    END
$$;

CREATE FUNCTION pgetl._task_run_before() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    now_ts timestamptz := clock_timestamp();
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.state <> 'scheduled' THEN
            RAISE EXCEPTION 'a task run starts in state scheduled, not %', NEW.state
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        NEW.scheduled_at := now_ts;
        RETURN NEW;
    END IF;
    IF NEW.state = OLD.state THEN
        RETURN NEW;
    END IF;
    IF NOT pgetl._task_state_change_allowed(OLD.state, NEW.state) THEN
        RAISE EXCEPTION 'illegal state change for task "%" (run %, try %): % -> %',
                OLD.task, OLD.run_id, OLD.try_number, OLD.state, NEW.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A task try moves scheduled -> queued -> running -> success, failed or up_for_retry; finished tries never change.',
                  HINT = 'Re-run finished tasks with pgetl_resume(run_id), which adds a new try.';
    END IF;
    CASE NEW.state
        WHEN 'queued' THEN NEW.queued_at := now_ts;
        WHEN 'scheduled' THEN NEW.queued_at := NULL;
        WHEN 'running' THEN NEW.started_at := now_ts;
        ELSE
            NEW.finished_at := now_ts;
            NEW.duration := now_ts - NEW.started_at;
    END CASE;
    RETURN NEW;
END
$$;
CREATE TRIGGER task_run_before BEFORE INSERT OR UPDATE OF state ON pgetl.task_run_record
    FOR EACH ROW EXECUTE FUNCTION pgetl._task_run_before();

-- Roll the counts of the latest try of each task up to the run, and notify.
CREATE FUNCTION pgetl._task_run_after() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    gone text;                  -- state no longer counted
    came text := NEW.state;     -- state now counted
    pipe text;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.state = OLD.state THEN
            RETURN NULL;
        END IF;
        gone := OLD.state;
    ELSIF NEW.try_number > 1 THEN
        SELECT state INTO gone FROM pgetl.task_run_record
         WHERE run_id = NEW.run_id AND task = NEW.task AND try_number = NEW.try_number - 1;
    END IF;
    UPDATE pgetl.run_record SET
        tasks_scheduled = tasks_scheduled + (came = 'scheduled')::int - (gone IS NOT DISTINCT FROM 'scheduled')::int,
        tasks_queued = tasks_queued + (came = 'queued')::int - (gone IS NOT DISTINCT FROM 'queued')::int,
        tasks_running = tasks_running + (came = 'running')::int - (gone IS NOT DISTINCT FROM 'running')::int,
        tasks_success = tasks_success + (came = 'success')::int - (gone IS NOT DISTINCT FROM 'success')::int,
        tasks_failed = tasks_failed + (came = 'failed')::int - (gone IS NOT DISTINCT FROM 'failed')::int,
        tasks_up_for_retry = tasks_up_for_retry + (came = 'up_for_retry')::int - (gone IS NOT DISTINCT FROM 'up_for_retry')::int,
        tasks_upstream_failed = tasks_upstream_failed + (came = 'upstream_failed')::int - (gone IS NOT DISTINCT FROM 'upstream_failed')::int,
        tasks_skipped = tasks_skipped + (came = 'skipped')::int - (gone IS NOT DISTINCT FROM 'skipped')::int,
        tasks_cancelled = tasks_cancelled + (came = 'cancelled')::int - (gone IS NOT DISTINCT FROM 'cancelled')::int
     WHERE run_id = NEW.run_id
    RETURNING pipeline INTO pipe;
    PERFORM pg_notify('pgetl_run', jsonb_build_object(
        'run_id', NEW.run_id, 'pipeline', pipe, 'task', NEW.task,
        'try_number', NEW.try_number, 'old_state', OLD.state, 'state', NEW.state)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER task_run_after AFTER INSERT OR UPDATE OF state ON pgetl.task_run_record
    FOR EACH ROW EXECUTE FUNCTION pgetl._task_run_after();

-- Run state machine; only pgetl_resume() moves a finished run back to running.
CREATE FUNCTION pgetl._run_state_change_allowed(old_state text, new_state text)
RETURNS boolean LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE old_state
        WHEN 'queued' THEN new_state IN ('running', 'failed', 'cancelled')
        WHEN 'running' THEN new_state IN ('success', 'failed', 'cancelled')
        WHEN 'failed' THEN new_state = 'running'
        WHEN 'cancelled' THEN new_state = 'running'
        ELSE false
    END
$$;

CREATE FUNCTION pgetl._run_before() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    now_ts timestamptz := clock_timestamp();
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.state = OLD.state THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND NOT pgetl._run_state_change_allowed(OLD.state, NEW.state) THEN
        RAISE EXCEPTION 'illegal state change for run %: % -> %', OLD.run_id, OLD.state, NEW.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A run moves queued -> running -> success, failed or cancelled; only failed or cancelled runs can run again.',
                  HINT = 'Start a new run with pgetl_run(), or resume a failed one with pgetl_resume().';
    END IF;
    IF TG_OP = 'INSERT' AND NEW.state NOT IN ('queued', 'running') THEN
        RAISE EXCEPTION 'a run starts in state queued or running, not %', NEW.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NEW.state = 'running' THEN
        NEW.started_at := coalesce(NEW.started_at, now_ts);
        NEW.finished_at := NULL;
        NEW.duration := NULL;
    ELSIF NEW.state IN ('success', 'failed', 'cancelled') THEN
        NEW.finished_at := now_ts;
        NEW.duration := now_ts - coalesce(NEW.started_at, NEW.queued_at);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER run_before BEFORE INSERT OR UPDATE OF state ON pgetl.run_record
    FOR EACH ROW EXECUTE FUNCTION pgetl._run_before();

CREATE FUNCTION pgetl._run_after() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.state = OLD.state THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('pgetl_run', jsonb_build_object(
        'run_id', NEW.run_id, 'pipeline', NEW.pipeline,
        'old_state', CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END,
        'state', NEW.state, 'reason', NEW.reason)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER run_after AFTER INSERT OR UPDATE OF state ON pgetl.run_record
    FOR EACH ROW EXECUTE FUNCTION pgetl._run_after();

-- What users read.  A role sees the runs of pipelines whose owner it is a
-- member of (superusers see all).
CREATE VIEW pgetl.pipeline_run WITH (security_barrier) AS
SELECT r.run_id, r.pipeline, r.state, r.params, r.logical_date,
       r.started_at, r.finished_at, r.duration, r.started_by, r.owner,
       r.reason, r.resumed,
       r.tasks_scheduled + r.tasks_queued + r.tasks_running + r.tasks_success
         + r.tasks_failed + r.tasks_up_for_retry + r.tasks_upstream_failed
         + r.tasks_skipped + r.tasks_cancelled AS tasks_total,
       r.tasks_scheduled, r.tasks_queued, r.tasks_running, r.tasks_success,
       r.tasks_failed, r.tasks_up_for_retry, r.tasks_upstream_failed,
       r.tasks_skipped, r.tasks_cancelled, r.queued_at
  FROM pgetl.run_record r
 WHERE pg_catalog.pg_has_role(r.owner, 'MEMBER');
COMMENT ON VIEW pgetl.pipeline_run IS 'pipeline runs you may see: state, timing, who started it, task counts by state';

CREATE VIEW pgetl.task_run WITH (security_barrier) AS
SELECT t.run_id, r.pipeline, t.task, t.try_number, t.state,
       t.scheduled_at, t.queued_at, t.started_at, t.finished_at, t.duration,
       t.pid, t.result, t.rows, t.error, t.sqlstate, t.detail, t.hint, t.context,
       t.task_run_id
  FROM pgetl.task_run_record t
  JOIN pgetl.run_record r USING (run_id)
 WHERE pg_catalog.pg_has_role(r.owner, 'MEMBER');
COMMENT ON VIEW pgetl.task_run IS 'task tries you may see: one row per try, with result or error';

CREATE VIEW pgetl.pipelines WITH (security_barrier) AS
SELECT p.name AS pipeline, p.owner, p.description, p.max_parallel, p.params,
       p.enabled, p.created_at,
       (SELECT count(*) FROM pgetl.task t WHERE t.pipeline_id = p.pipeline_id) AS tasks
  FROM pgetl.pipeline p
 WHERE pg_catalog.pg_has_role(p.owner, 'MEMBER');
COMMENT ON VIEW pgetl.pipelines IS 'pipelines you may see';

CREATE VIEW pgetl.tasks WITH (security_barrier) AS
SELECT p.name AS pipeline, t.name AS task, t.kind, t.command, t.config,
       ARRAY(SELECT u.name FROM pgetl.task_dependency d
               JOIN pgetl.task u ON u.task_id = d.upstream_task_id
              WHERE d.task_id = t.task_id ORDER BY u.name) AS upstream,
       t.trigger_rule, t.retries, t.retry_delay, t.retry_exponential_backoff,
       t.max_retry_delay, t.timeout
  FROM pgetl.task t JOIN pgetl.pipeline p USING (pipeline_id)
 WHERE pg_catalog.pg_has_role(p.owner, 'MEMBER');
COMMENT ON VIEW pgetl.tasks IS 'tasks of pipelines you may see, with their upstream tasks';

GRANT SELECT ON pgetl.pipeline_run, pgetl.task_run, pgetl.pipelines, pgetl.tasks TO PUBLIC;
-- Defining pipelines.  The public functions are C trampolines (src/api.c):
-- each passes the calling role, as PostgreSQL resolved it, to the internal
-- function of the same name with a leading underscore, which runs as the
-- extension owner.  The internal functions are not executable by PUBLIC, so
-- the caller's identity cannot be forged.

CREATE FUNCTION pgetl._pipeline_for(caller oid, p_name text, lock_it boolean DEFAULT false)
RETURNS pgetl.pipeline
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline;
BEGIN
    IF p_name IS NULL THEN
        RAISE EXCEPTION 'pipeline name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF lock_it THEN
        SELECT * INTO p FROM pgetl.pipeline WHERE name = p_name FOR UPDATE;
    ELSE
        SELECT * INTO p FROM pgetl.pipeline WHERE name = p_name;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pipeline "%" does not exist', p_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with pgetl_create_pipeline(), or list yours with SELECT * FROM pgetl.pipelines.';
    END IF;
    IF NOT pg_has_role(caller, p.owner, 'MEMBER') THEN
        RAISE EXCEPTION 'must be owner of pipeline "%"', p_name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only the owner of a pipeline, or members of the owner role, can change, run or inspect it.';
    END IF;
    RETURN p;
END
$$;

CREATE FUNCTION pgetl._check_login(role oid, action text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE oid = role AND rolcanlogin) THEN
        RAISE EXCEPTION 'role "%" cannot %: it does not have the LOGIN attribute',
                coalesce((SELECT rolname FROM pg_roles WHERE oid = role)::text, role::text), action
            USING ERRCODE = 'invalid_authorization_specification',
                  DETAIL = 'Tasks run in background workers that connect as the pipeline owner.',
                  HINT = format('Run ALTER ROLE %s LOGIN, or create the pipeline as a role that can log in.',
                                quote_ident(coalesce((SELECT rolname FROM pg_roles WHERE oid = role)::text, 'owner')));
    END IF;
END
$$;

CREATE FUNCTION pgetl._create_pipeline(caller oid, p_name text, p_description text,
                                       p_max_parallel integer, p_params jsonb)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    IF p_name IS NULL OR p_name = '' THEN
        RAISE EXCEPTION 'pipeline name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_max_parallel IS NULL OR p_max_parallel NOT BETWEEN 1 AND 1024 THEN
        RAISE EXCEPTION 'max_parallel must be between 1 and 1024, not %', coalesce(p_max_parallel::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_params IS NULL OR jsonb_typeof(p_params) <> 'object' THEN
        RAISE EXCEPTION 'params must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example: ''{"region": "EU"}''::jsonb';
    END IF;
    PERFORM pgetl._check_login(caller, 'own a pipeline');
    IF EXISTS (SELECT FROM pgetl.pipeline WHERE name = p_name) THEN
        RAISE EXCEPTION 'pipeline "%" already exists', p_name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Choose another name, or drop it first with pgetl_drop_pipeline().';
    END IF;
    INSERT INTO pgetl.pipeline (name, description, owner, max_parallel, params)
    VALUES (p_name, p_description, caller, p_max_parallel, p_params)
    RETURNING pipeline_id INTO id;
    RETURN id;
END
$$;

CREATE FUNCTION pgetl._alter_pipeline(caller oid, p_name text, p_enabled boolean, p_description text,
                                      p_max_parallel integer, p_params jsonb)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline := pgetl._pipeline_for(caller, p_name, true);
BEGIN
    IF p_max_parallel IS NOT NULL AND p_max_parallel NOT BETWEEN 1 AND 1024 THEN
        RAISE EXCEPTION 'max_parallel must be between 1 and 1024, not %', p_max_parallel
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_params IS NOT NULL AND jsonb_typeof(p_params) <> 'object' THEN
        RAISE EXCEPTION 'params must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE pgetl.pipeline SET
        enabled = coalesce(p_enabled, enabled),
        description = coalesce(p_description, description),
        max_parallel = coalesce(p_max_parallel, max_parallel),
        params = coalesce(p_params, params)
     WHERE pipeline_id = p.pipeline_id;
END
$$;

CREATE FUNCTION pgetl._drop_pipeline(caller oid, p_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline := pgetl._pipeline_for(caller, p_name, true);
    active bigint;
BEGIN
    SELECT run_id INTO active FROM pgetl.run_record
     WHERE pipeline_id = p.pipeline_id AND state IN ('queued', 'running');
    IF FOUND THEN
        RAISE EXCEPTION 'pipeline "%" has an active run', p_name
            USING ERRCODE = 'object_in_use',
                  DETAIL = format('Run %s is still running.', active),
                  HINT = format('Wait for it to finish, or cancel it with SELECT pgetl_cancel(%s).', active);
    END IF;
    -- Run history is kept (pipeline_id becomes NULL); purge it with
    -- pgetl_purge_history().
    DELETE FROM pgetl.pipeline WHERE pipeline_id = p.pipeline_id;
END
$$;

-- Resolve upstream task names of one pipeline to ids, with a precise error
-- for each way a name can be wrong.
CREATE FUNCTION pgetl._resolve_upstream(caller oid, p pgetl.pipeline, p_task text, upstream text[])
RETURNS bigint[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    u text;
    id bigint;
    ids bigint[] := '{}';
    other text;
BEGIN
    FOREACH u IN ARRAY coalesce(upstream, '{}') LOOP
        IF u IS NULL OR u = '' THEN
            RAISE EXCEPTION 'upstream task names must not be empty or null'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF u = p_task THEN
            RAISE EXCEPTION 'task "%" cannot depend on itself', p_task
                USING ERRCODE = 'invalid_object_definition',
                      HINT = 'Remove it from its own upstream list.';
        END IF;
        SELECT task_id INTO id FROM pgetl.task WHERE pipeline_id = p.pipeline_id AND name = u;
        IF NOT FOUND THEN
            -- "other_pipeline.task", or a task name that only exists elsewhere
            SELECT pp.name INTO other FROM pgetl.task t JOIN pgetl.pipeline pp USING (pipeline_id)
             WHERE pp.pipeline_id <> p.pipeline_id
               AND (t.name = u OR pp.name || '.' || t.name = u)
               AND pg_has_role(caller, pp.owner, 'MEMBER')
             LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'task "%" cannot depend on "%": it is a task of pipeline "%"', p_task, u, other
                    USING ERRCODE = 'invalid_object_definition',
                          DETAIL = 'Dependencies cannot cross pipelines.',
                          HINT = 'Run the other pipeline from a task (SELECT pgetl_run(...)) or move the task into this pipeline.';
            END IF;
            RAISE EXCEPTION 'upstream task "%" does not exist in pipeline "%"', u, p.name
                USING ERRCODE = 'undefined_object',
                      DETAIL = coalesce('Tasks of the pipeline: ' || (SELECT string_agg(name, ', ' ORDER BY task_id)
                                          FROM pgetl.task WHERE pipeline_id = p.pipeline_id) || '.',
                                        'The pipeline has no tasks yet.'),
                      HINT = 'Add upstream tasks before their downstream tasks, or add the edge later with pgetl_add_dependency().';
        END IF;
        IF NOT id = ANY (ids) THEN
            ids := ids || id;
        END IF;
    END LOOP;
    RETURN ids;
END
$$;

-- Refuse keys a task kind's config does not know (22023), naming them.
CREATE FUNCTION pgetl._check_config_keys(kind text, config jsonb, known text[], hint text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad text;
BEGIN
    SELECT string_agg(k, ', ' ORDER BY k) INTO bad FROM jsonb_object_keys(config) k WHERE NOT k = ANY (known);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'unknown key in % task config: %', kind, bad
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;
END
$$;

-- A check task's config: {"message": "..."} or nothing.
CREATE FUNCTION pgetl._check_check_task(config jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pgetl._check_config_keys('check', config, '{message}',
        'A check task config has one optional key, "message": the error raised when the check fails.');
    IF config ? 'message' AND jsonb_typeof(config->'message') <> 'string' THEN
        RAISE EXCEPTION 'check task config "message" must be a string'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- An export task's config: {"path": "/abs/file_{logical_date}.csv",
-- "header": true}; the pipeline owner must be able to write server files.
CREATE FUNCTION pgetl._check_export_task(owner oid, config jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad text;
BEGIN
    IF jsonb_typeof(config->'path') IS DISTINCT FROM 'string' OR config->>'path' = '' THEN
        RAISE EXCEPTION 'an export task needs config with a string key "path"'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example: config => ''{"path": "/srv/out/orders_{logical_date}.csv"}''';
    END IF;
    PERFORM pgetl._check_config_keys('export', config, '{path,header}',
        'An export task config has keys "path" and "header" (default true).');
    IF config ? 'header' AND jsonb_typeof(config->'header') <> 'boolean' THEN
        RAISE EXCEPTION 'export task config "header" must be true or false'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF left(config->>'path', 1) <> '/' THEN
        RAISE EXCEPTION 'export path "%" is not absolute', config->>'path'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give the full path of a file on the database server, starting with /.';
    END IF;
    SELECT string_agg(m[1], ', ') INTO bad
      FROM regexp_matches(config->>'path', '\{([a-z_]+)\}', 'g') m
     WHERE m[1] NOT IN ('logical_date', 'run_id', 'pipeline');
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'unknown placeholder in export path "%": %', config->>'path', bad
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Export paths may use {logical_date}, {run_id} and {pipeline}.';
    END IF;
    IF NOT pg_has_role(owner, 'pg_write_server_files', 'USAGE') THEN
        RAISE EXCEPTION 'role "%" cannot export to server files', owner::regrole
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Export tasks run COPY ... TO a file as the pipeline owner, which needs the privileges of pg_write_server_files.',
                  HINT = format('GRANT pg_write_server_files TO %s;', owner::regrole);
    END IF;
END
$$;

CREATE FUNCTION pgetl._add_task(caller oid, p_pipeline text, p_name text, p_command text,
                                p_upstream text[], p_kind text, p_retries integer,
                                p_retry_delay interval, p_timeout interval, p_trigger_rule text,
                                p_config jsonb, p_retry_exponential_backoff boolean,
                                p_max_retry_delay interval)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline := pgetl._pipeline_for(caller, p_pipeline, true);
    ups bigint[];
    id bigint;
    kinds text[] := '{sql,check,load,export}';
    rules text[] := '{all_success,all_failed,all_done,one_success,one_failed,none_failed,none_failed_min_one_success,none_skipped,always}';
BEGIN
    IF p_name IS NULL OR p_name = '' THEN
        RAISE EXCEPTION 'task name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM pgetl.task WHERE pipeline_id = p.pipeline_id AND name = p_name) THEN
        RAISE EXCEPTION 'task "%" already exists in pipeline "%"', p_name, p_pipeline
            USING ERRCODE = 'duplicate_object', HINT = 'Task names are unique within a pipeline.';
    END IF;
    IF p_kind IS NULL OR NOT p_kind = ANY (kinds) THEN
        RAISE EXCEPTION 'unknown task kind "%"', coalesce(p_kind, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Valid kinds: ' || array_to_string(kinds, ', ') || '.';
    END IF;
    IF p_trigger_rule IS NULL OR NOT p_trigger_rule = ANY (rules) THEN
        RAISE EXCEPTION 'unknown trigger rule "%"', coalesce(p_trigger_rule, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Valid trigger rules: ' || array_to_string(rules, ', ') || '.';
    END IF;
    IF p_retries IS NULL OR p_retries < 0 THEN
        RAISE EXCEPTION 'retries must be zero or more, not %', coalesce(p_retries::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_retry_delay IS NULL OR p_retry_delay < '0' THEN
        RAISE EXCEPTION 'retry_delay must not be negative, not %', coalesce(p_retry_delay::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_max_retry_delay < '0' THEN
        RAISE EXCEPTION 'max_retry_delay must not be negative, not %', p_max_retry_delay
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_timeout <= '0' THEN
        RAISE EXCEPTION 'timeout must be positive, not %', p_timeout
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use NULL for no timeout.';
    END IF;
    IF p_config IS NULL OR jsonb_typeof(p_config) <> 'object' THEN
        RAISE EXCEPTION 'config must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_kind IN ('sql', 'check', 'export') AND (p_command IS NULL OR btrim(p_command) = '') THEN
        RAISE EXCEPTION '% % task needs a command', CASE p_kind WHEN 'export' THEN 'an' ELSE 'a' END, p_kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = CASE p_kind WHEN 'sql' THEN 'Give the SQL to run, e.g. ''INSERT INTO t SELECT ...''.'
                         WHEN 'export' THEN 'Give the query whose rows to export, e.g. ''SELECT * FROM t ORDER BY id''.'
                         ELSE 'Give a query whose first column is the condition, e.g. ''SELECT count(*) > 0 AS has_rows FROM t''.' END;
    END IF;
    IF p_kind = 'load' THEN
        PERFORM pgetl._check_load_task(caller, p_config);
    ELSIF p_kind = 'check' THEN
        PERFORM pgetl._check_check_task(p_config);
    ELSIF p_kind = 'export' THEN
        PERFORM pgetl._check_export_task(p.owner, p_config);
    END IF;
    ups := pgetl._resolve_upstream(caller, p, p_name, p_upstream);
    INSERT INTO pgetl.task (pipeline_id, name, kind, command, config, retries, retry_delay,
                            retry_exponential_backoff, max_retry_delay, timeout, trigger_rule)
    VALUES (p.pipeline_id, p_name, p_kind, p_command, p_config, p_retries, p_retry_delay,
            coalesce(p_retry_exponential_backoff, false), p_max_retry_delay, p_timeout, p_trigger_rule)
    RETURNING task_id INTO id;
    INSERT INTO pgetl.task_dependency (pipeline_id, task_id, upstream_task_id)
    SELECT p.pipeline_id, id, u FROM unnest(ups) AS u;
    RETURN id;
END
$$;

CREATE FUNCTION pgetl._add_dependency(caller oid, p_pipeline text, p_task text, p_upstream text[])
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline := pgetl._pipeline_for(caller, p_pipeline, true);
    tid bigint;
BEGIN
    SELECT task_id INTO tid FROM pgetl.task WHERE pipeline_id = p.pipeline_id AND name = p_task;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task "%" does not exist in pipeline "%"', p_task, p_pipeline
            USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO pgetl.task_dependency (pipeline_id, task_id, upstream_task_id)
    SELECT p.pipeline_id, tid, u FROM unnest(pgetl._resolve_upstream(caller, p, p_task, p_upstream)) AS u
    ON CONFLICT DO NOTHING;
END
$$;

CREATE FUNCTION pgetl._purge_history(caller oid, p_older_than interval) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    IF p_older_than IS NULL OR p_older_than < '0' THEN
        RAISE EXCEPTION 'older_than must be a non-negative interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM pgetl.run_record
     WHERE state IN ('success', 'failed', 'cancelled')
       AND finished_at < clock_timestamp() - p_older_than
       AND pg_has_role(caller, owner, 'MEMBER');
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
-- The engine's bookkeeping, called from C: by the run coordinator (a
-- background worker per run, src/coordinator.c) and by task workers
-- (src/task_worker.c), always as the extension owner.

-- Latest try of every task of a run.
CREATE FUNCTION pgetl._latest_tries(p_run_id bigint) RETURNS SETOF pgetl.task_run_record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT DISTINCT ON (task) * FROM pgetl.task_run_record
     WHERE run_id = p_run_id ORDER BY task, try_number DESC
$$;

-- Airflow's trigger rules: given the states of a task's upstream tasks,
-- decide whether it runs now ('run'), waits ('wait'), or will never run
-- ('upstream_failed' or 'skipped').
CREATE FUNCTION pgetl._trigger_decision(rule text, n_up bigint, n_success bigint, n_failed bigint,
                                        n_skipped bigint, n_done bigint)
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
    END
$$;

-- Decision for every scheduled task of a run.  Failed, upstream_failed and
-- cancelled upstream tasks all count as failures.
CREATE FUNCTION pgetl._evaluate(p_run_id bigint)
RETURNS TABLE (task_run_id bigint, task_id bigint, decision text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH latest AS (SELECT * FROM pgetl._latest_tries(p_run_id))
    SELECT l.task_run_id, l.task_id,
           pgetl._trigger_decision(t.trigger_rule,
               count(d.upstream_task_id),
               count(*) FILTER (WHERE u.state = 'success'),
               count(*) FILTER (WHERE u.state IN ('failed', 'upstream_failed', 'cancelled')),
               count(*) FILTER (WHERE u.state = 'skipped'),
               count(*) FILTER (WHERE u.state IN ('success', 'failed', 'upstream_failed', 'skipped', 'cancelled')))
      FROM latest l
      JOIN pgetl.task t ON t.task_id = l.task_id
      LEFT JOIN pgetl.task_dependency d ON d.task_id = l.task_id
      LEFT JOIN latest u ON u.task_id = d.upstream_task_id
     WHERE l.state = 'scheduled'
     GROUP BY l.task_run_id, l.task_id, t.trigger_rule
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

-- Runs that were active when their coordinator died are marked failed, with
-- the reason; their unfinished task tries are failed or cancelled, so that
-- nothing stays 'running' and pgetl_resume() can pick them up.  A run is
-- alive while its coordinator holds its slot in shared memory
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
            why := 'run coordinator terminated unexpectedly';
            task_why := 'worker terminated unexpectedly';
            -- Task workers of the dead coordinator must not go on unseen.
            PERFORM pg_terminate_backend(a.pid)
               FROM pg_stat_activity a JOIN pgetl.task_run_record t ON t.pid = a.pid
              WHERE t.run_id = r.run_id AND t.state IN ('queued', 'running')
                AND a.backend_type = 'pgetl task';
        END IF;
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

-- A pipeline may start (or resume) a run: enabled, no active run, an
-- owner that can log in, at least one task.
CREATE FUNCTION pgetl._check_runnable(p pgetl.pipeline) RETURNS void
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
     WHERE pipeline_id = p.pipeline_id AND state IN ('queued', 'running');
    IF FOUND THEN
        RAISE EXCEPTION 'pipeline "%" already has an active run', p.name
            USING ERRCODE = 'object_in_use',
                  DETAIL = format('Run %s, started by %s, is %s.', a.run_id, a.started_by, a.state),
                  HINT = format('Wait for it to finish, or cancel it with SELECT pgetl_cancel(%s).', a.run_id);
    END IF;
    PERFORM pgetl._check_login(p.owner, 'run pipeline tasks');
    IF NOT EXISTS (SELECT FROM pgetl.task WHERE pipeline_id = p.pipeline_id) THEN
        RAISE EXCEPTION 'pipeline "%" has no tasks', p.name
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Add tasks with pgetl_add_task().';
    END IF;
END
$$;

-- Start a run: called by the coordinator in its first transaction.
-- started_by is the caller's role name, unless p_started_by says otherwise
-- ('pg_cron' for a run started by a pg_cron job).
CREATE FUNCTION pgetl._start_run(caller oid, p_pipeline text, p_params jsonb, p_logical_date date,
                                 coordinator_pid integer, p_started_by text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline;
    rid bigint;
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
    PERFORM pgetl._param_retry_delay(p.pipeline_id, p_params);
    INSERT INTO pgetl.run_record (pipeline_id, pipeline, owner, state, params, logical_date,
                                  started_by, server_epoch, coordinator_pid)
    VALUES (p.pipeline_id, p.name, p.owner, 'running', p_params, p_logical_date,
            coalesce(p_started_by, (SELECT rolname FROM pg_roles WHERE oid = caller)),
            pgetl._epoch(), coordinator_pid)
    RETURNING run_id INTO rid;
    INSERT INTO pgetl.task_run_record (run_id, task_id, task, try_number, max_tries)
    SELECT rid, task_id, name, 1, 1 + retries FROM pgetl.task
     WHERE pipeline_id = p.pipeline_id ORDER BY task_id;
    RETURN rid;
END
$$;

-- Resume a finished run: failed, upstream_failed and cancelled tasks (and
-- skipped tasks downstream of them) get a new try; successful ones are kept.
CREATE FUNCTION pgetl._resume_run(caller oid, p_run_id bigint, coordinator_pid integer,
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
    IF r.state IN ('queued', 'running') THEN
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
    RETURN p_run_id;
END
$$;

-- One step of the scheduler: schedule due retries, apply trigger rules,
-- queue what may start (up to max_parallel), and finish the run when every
-- task is done.  Returns the task runs to launch.
CREATE FUNCTION pgetl._schedule(p_run_id bigint, OUT launch bigint[], OUT done boolean,
                                OUT run_state text, OUT next_wakeup timestamptz, OUT failed_tasks text,
                                OUT failure_detail text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r pgetl.run_record;
    free integer;
    now_ts timestamptz := clock_timestamp();
    any_failed_leaf boolean;
BEGIN
    done := false;
    SELECT * INTO r FROM pgetl.run_record WHERE run_id = p_run_id;
    IF r.state <> 'running' THEN
        done := true;
        run_state := r.state;
        RETURN;
    END IF;

    -- retries that are due get a new try; the others set the next wake-up
    WITH due AS (
        SELECT l.*, l.finished_at + pgetl._retry_delay(t, l.try_number,
                                                       pgetl._param_retry_delay(r.pipeline_id, r.params)) AS due_at
          FROM pgetl._latest_tries(p_run_id) l JOIN pgetl.task t ON t.task_id = l.task_id
         WHERE l.state = 'up_for_retry'
    ), ins AS (
        INSERT INTO pgetl.task_run_record (run_id, task_id, task, try_number, max_tries)
        SELECT run_id, task_id, task, try_number + 1, max_tries FROM due WHERE due_at <= now_ts
    )
    SELECT min(due_at) INTO next_wakeup FROM due WHERE due_at > now_ts;

    -- trigger rules, until no task changes
    LOOP
        UPDATE pgetl.task_run_record tr SET state = e.decision
          FROM pgetl._evaluate(p_run_id) e
         WHERE tr.task_run_id = e.task_run_id AND e.decision IN ('upstream_failed', 'skipped');
        EXIT WHEN NOT FOUND;
    END LOOP;

    SELECT p.max_parallel - (SELECT count(*) FROM pgetl._latest_tries(p_run_id) l
                              WHERE l.state IN ('queued', 'running'))
      INTO free FROM pgetl.pipeline p WHERE p.pipeline_id = r.pipeline_id;
    IF coalesce(free, 0) > 0 THEN
        WITH ready AS (
            SELECT e.task_run_id FROM pgetl._evaluate(p_run_id) e
             WHERE e.decision = 'run' ORDER BY e.task_id LIMIT free
        )
        UPDATE pgetl.task_run_record tr SET state = 'queued'
          FROM ready WHERE tr.task_run_id = ready.task_run_id;
        SELECT array_agg(task_run_id ORDER BY task_id) INTO launch
          FROM pgetl.task_run_record WHERE run_id = p_run_id AND state = 'queued';
    END IF;

    IF NOT EXISTS (SELECT FROM pgetl._latest_tries(p_run_id)
                    WHERE state NOT IN ('success', 'failed', 'upstream_failed', 'skipped', 'cancelled')) THEN
        -- As in Airflow, the leaves decide: the run failed if a task without
        -- downstream tasks failed (or could not run because of a failure).
        SELECT bool_or(l.state IN ('failed', 'upstream_failed', 'cancelled')) INTO any_failed_leaf
          FROM pgetl._latest_tries(p_run_id) l
         WHERE NOT EXISTS (SELECT FROM pgetl.task_dependency d WHERE d.upstream_task_id = l.task_id);
        SELECT string_agg(task, ', ' ORDER BY task_id) INTO failed_tasks
          FROM pgetl._latest_tries(p_run_id) WHERE state = 'failed';
        SELECT string_agg(format('Task "%s" (try %s) failed: %s%s', task, try_number, error,
                                 coalesce(' [SQLSTATE ' || sqlstate || ']', '')), E'\n' ORDER BY task_id)
          INTO failure_detail
          FROM pgetl._latest_tries(p_run_id) WHERE state = 'failed';
        run_state := CASE WHEN any_failed_leaf THEN 'failed' ELSE 'success' END;
        UPDATE pgetl.run_record SET state = run_state,
               reason = CASE WHEN any_failed_leaf THEN 'task failed: ' || coalesce(failed_tasks, 'none') END
         WHERE run_id = p_run_id;
        done := true;
    END IF;
END
$$;

-- A task worker starts its try; NULL when the try is no longer queued.
CREATE FUNCTION pgetl._task_begin(p_task_run_id bigint, p_pid integer,
    OUT run_id bigint, OUT task text, OUT try_number integer, OUT kind text, OUT command text,
    OUT config jsonb, OUT timeout_ms bigint, OUT params jsonb, OUT logical_date date, OUT pipeline text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tr pgetl.task_run_record;
BEGIN
    UPDATE pgetl.task_run_record SET state = 'running', pid = p_pid
     WHERE task_run_id = p_task_run_id AND state = 'queued'
    RETURNING * INTO tr;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT tr.run_id, tr.task, tr.try_number, t.kind, t.command, t.config,
           (extract(epoch FROM t.timeout) * 1000)::bigint,
           p.params || r.params, r.logical_date, r.pipeline
      INTO run_id, task, try_number, kind, command, config, timeout_ms, params, logical_date, pipeline
      FROM pgetl.run_record r
      JOIN pgetl.task t ON t.task_id = tr.task_id
      JOIN pgetl.pipeline p ON p.pipeline_id = t.pipeline_id
     WHERE r.run_id = tr.run_id;
END
$$;

CREATE FUNCTION pgetl._task_succeed(p_task_run_id bigint, p_result jsonb, p_rows bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st text;
BEGIN
    UPDATE pgetl.task_run_record SET state = 'success', result = p_result, rows = p_rows
     WHERE task_run_id = p_task_run_id AND state = 'running';
    IF NOT FOUND THEN
        SELECT state INTO st FROM pgetl.task_run_record WHERE task_run_id = p_task_run_id;
        RAISE EXCEPTION 'task run % is no longer running (state %)', p_task_run_id, st
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The run was cancelled or failed while the task ran; its work is rolled back.';
    END IF;
END
$$;

-- Record a failed try: up_for_retry while tries are left, else failed.
CREATE FUNCTION pgetl._task_fail(p_task_run_id bigint, p_error text, p_sqlstate text, p_detail text,
                                 p_hint text, p_context text)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st text;
BEGIN
    UPDATE pgetl.task_run_record
       SET state = CASE WHEN try_number < max_tries THEN 'up_for_retry' ELSE 'failed' END,
           error = p_error, sqlstate = p_sqlstate, detail = p_detail, hint = p_hint, context = p_context
     WHERE task_run_id = p_task_run_id AND state IN ('queued', 'running')
    RETURNING state INTO st;
    RETURN st;
END
$$;

-- Stop a run: unfinished tries become cancelled (or failed), and the run too.
CREATE FUNCTION pgetl._stop_run(p_run_id bigint, p_state text, p_reason text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE pgetl.task_run_record SET state = 'cancelled', error = p_reason
     WHERE run_id = p_run_id AND state IN ('scheduled', 'queued', 'running');
    UPDATE pgetl.run_record SET state = p_state, reason = p_reason
     WHERE run_id = p_run_id AND state IN ('queued', 'running');
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
     WHERE run_id = p_run_id AND task = p_task ORDER BY try_number DESC LIMIT 1;
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
-- User-facing functions.  They live in the extension's schema (public by
-- default) so that they resolve without qualification.

CREATE FUNCTION pgetl._live_runs() RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'pgetl_live_runs' LANGUAGE C VOLATILE;
CREATE FUNCTION pgetl._epoch() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'pgetl_epoch_sql' LANGUAGE C STABLE;

CREATE FUNCTION @extschema@.pgetl_create_pipeline(
    name text, description text DEFAULT NULL, max_parallel integer DEFAULT 4,
    params jsonb DEFAULT '{}')
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_create_pipeline(text, text, integer, jsonb) IS
'creates a pipeline owned by the calling role (which must have LOGIN); returns its id';

CREATE FUNCTION @extschema@.pgetl_alter_pipeline(
    name text, enabled boolean DEFAULT NULL, description text DEFAULT NULL,
    max_parallel integer DEFAULT NULL, params jsonb DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_alter_pipeline(text, boolean, text, integer, jsonb) IS
'enables or disables a pipeline, or changes its description, max_parallel or default params (NULL keeps a setting)';

CREATE FUNCTION @extschema@.pgetl_drop_pipeline(name text)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_drop_pipeline(text) IS
'drops a pipeline and its tasks; its run history is kept';

CREATE FUNCTION @extschema@.pgetl_add_task(
    pipeline text, name text, command text, upstream text[] DEFAULT '{}',
    kind text DEFAULT 'sql', retries integer DEFAULT 0,
    retry_delay interval DEFAULT '5 minutes', timeout interval DEFAULT NULL,
    trigger_rule text DEFAULT 'all_success', config jsonb DEFAULT '{}',
    retry_exponential_backoff boolean DEFAULT false, max_retry_delay interval DEFAULT NULL)
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_add_task(text, text, text, text[], text, integer, interval, interval, text, jsonb, boolean, interval) IS
'adds a task to a pipeline, downstream of the named upstream tasks; returns its id';

CREATE FUNCTION @extschema@.pgetl_add_dependency(pipeline text, task text, upstream text[])
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_add_dependency(text, text, text[]) IS
'makes a task run after the named upstream tasks; refuses edges that close a cycle';

CREATE FUNCTION @extschema@.pgetl_run(
    pipeline text, params jsonb DEFAULT '{}', logical_date date DEFAULT CURRENT_DATE,
    wait boolean DEFAULT true)
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_run(text, jsonb, date, boolean) IS
'runs a pipeline in background workers and returns the run id; when waiting, raises an error if the run fails';

CREATE FUNCTION @extschema@.pgetl_resume(run_id bigint, wait boolean DEFAULT true,
                                         rerun text[] DEFAULT NULL)
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_resume(bigint, boolean, text[]) IS
're-runs the failed, upstream_failed and cancelled tasks of a finished run, keeping its successful tasks; tasks named in rerun, and everything downstream of them, are re-run too';

CREATE FUNCTION @extschema@.pgetl_cancel(run_id bigint)
RETURNS boolean AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_cancel(bigint) IS
'cancels an active run: terminates its task workers and marks unfinished tasks cancelled';

CREATE FUNCTION @extschema@.pgetl_purge_history(older_than interval DEFAULT '30 days')
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_purge_history(interval) IS
'deletes finished runs (and their task runs) older than the interval, of pipelines you own; returns the number of runs deleted';

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
'inside a task: the id of the current run; NULL elsewhere';

CREATE FUNCTION @extschema@.pgetl_logical_date()
RETURNS date AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pgetl_logical_date() IS
'inside a task: the logical date of the current run; NULL elsewhere';
-- The validated CSV loader: load specs and their rules, staged data, load
-- history and rejects.  The user-facing functions are C functions
-- (src/load*.c) that run as the caller; they call the internal functions
-- below as the extension owner to read and write these tables.

CREATE TABLE pgetl.load_spec (
    spec_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (name <> ''),
    owner           regrole NOT NULL,
    target          oid NOT NULL,
    target_name     text NOT NULL,
    delimiter       text NOT NULL DEFAULT ',',
    quote           text NOT NULL DEFAULT '"',
    escape          text,
    header          boolean NOT NULL DEFAULT true,
    null_string     text NOT NULL DEFAULT '',
    encoding        text NOT NULL DEFAULT 'UTF8',
    mode            text NOT NULL DEFAULT 'append' CHECK (mode IN ('append', 'upsert', 'replace')),
    conflict_key    text[],
    on_conflict     text CHECK (on_conflict IN ('update', 'nothing')),
    max_rejects     bigint CHECK (max_rejects >= 0),
    max_reject_ratio double precision CHECK (max_reject_ratio BETWEEN 0 AND 1),
    columns         jsonb NOT NULL,
    options         jsonb NOT NULL,
    defined_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE pgetl.load_spec IS 'load specs: target, CSV dialect and load behaviour (read it through the view pgetl.loads)';

CREATE TABLE pgetl.load_column (
    spec_id         bigint NOT NULL REFERENCES pgetl.load_spec ON DELETE CASCADE,
    ordinal         integer NOT NULL,
    name            text,
    target          text,
    type            text,
    required        boolean NOT NULL DEFAULT false,
    format          text,
    min             text,
    max             text,
    pattern         text,
    prefix          text,
    max_length      integer CHECK (max_length >= 0),
    max_decimals    integer CHECK (max_decimals >= 0),
    allowed         text[],
    is_unique       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (spec_id, ordinal)
);
COMMENT ON TABLE pgetl.load_column IS 'one row per CSV column of a load spec, with its rules';

CREATE TABLE pgetl.load_check (
    spec_id         bigint NOT NULL REFERENCES pgetl.load_spec ON DELETE CASCADE,
    ordinal         integer NOT NULL,
    name            text NOT NULL,
    expression      text NOT NULL,
    PRIMARY KEY (spec_id, ordinal),
    UNIQUE (spec_id, name)
);
COMMENT ON TABLE pgetl.load_check IS 'row-level checks of a load spec: SQL boolean expressions over the target columns';

CREATE TABLE pgetl.load_record (
    load_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    spec_id         bigint REFERENCES pgetl.load_spec ON DELETE SET NULL,
    load_name       text NOT NULL,
    owner           regrole NOT NULL,
    loaded_by       regrole NOT NULL,
    run_id          bigint,
    source          text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at     timestamptz,
    duration        interval,
    rows_read       bigint,
    rows_loaded     bigint,
    rows_rejected   bigint
);
CREATE INDEX ON pgetl.load_record (load_name, load_id);
COMMENT ON TABLE pgetl.load_record IS 'one row per successful load (read it through the view pgetl.load_history)';

CREATE TABLE pgetl.reject_record (
    reject_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    load_id         bigint NOT NULL REFERENCES pgetl.load_record ON DELETE CASCADE,
    run_id          bigint,
    load_name       text NOT NULL,
    owner           regrole NOT NULL,
    source          text NOT NULL,
    line_number     bigint NOT NULL,
    record          text,
    column_name     text,
    rule            text NOT NULL,
    value           text,
    message         text NOT NULL,
    sqlstate        text
);
CREATE INDEX ON pgetl.reject_record (load_id, line_number);
COMMENT ON TABLE pgetl.reject_record IS 'rejected records (read them through the view pgetl.reject)';

CREATE TABLE pgetl.stage (
    stage_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (name <> '' AND left(name, 1) <> '/'),
    owner           regrole NOT NULL,
    bytes           bigint NOT NULL DEFAULT 0,
    chunks          integer NOT NULL DEFAULT 0,
    staged_at       timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE pgetl.stage IS 'staged CSV data, loaded by name (read it through the view pgetl.stages)';

CREATE TABLE pgetl.stage_chunk (
    stage_id        bigint NOT NULL REFERENCES pgetl.stage ON DELETE CASCADE,
    chunk_no        integer NOT NULL,
    data            bytea NOT NULL,
    PRIMARY KEY (stage_id, chunk_no)
);
-- Uncompressed out-of-line storage, so that the loader can read a chunk in
-- slices without decompressing all of it.
ALTER TABLE pgetl.stage_chunk ALTER COLUMN data SET STORAGE EXTERNAL;
COMMENT ON TABLE pgetl.stage_chunk IS 'the bytes of staged data, in the order they were staged';

-- What users read: the specs, loads, rejects and stages of roles they are
-- members of (superusers see all).
CREATE VIEW pgetl.loads WITH (security_barrier) AS
SELECT s.name AS load, s.owner, s.target_name AS target, s.mode, s.header,
       s.delimiter, s.quote, s.escape, s.null_string, s.encoding,
       s.conflict_key, s.on_conflict, s.max_rejects, s.max_reject_ratio,
       s.columns, s.options, s.defined_at
  FROM pgetl.load_spec s
 WHERE pg_catalog.pg_has_role(s.owner, 'MEMBER');
COMMENT ON VIEW pgetl.loads IS 'load specs you may use: target, dialect, mode, columns and rules as defined';

CREATE VIEW pgetl.load_history WITH (security_barrier) AS
SELECT l.load_id, l.load_name, l.run_id, l.source, l.loaded_by, l.owner,
       l.started_at, l.finished_at, l.duration, l.rows_read, l.rows_loaded,
       l.rows_rejected
  FROM pgetl.load_record l
 WHERE pg_catalog.pg_has_role(l.owner, 'MEMBER');
COMMENT ON VIEW pgetl.load_history IS 'committed loads of specs you may use, with their counts';

CREATE VIEW pgetl.reject WITH (security_barrier) AS
SELECT r.load_id, r.run_id, r.load_name, r.source, r.line_number, r.record,
       r.column_name, r.rule, r.value, r.message, r.sqlstate, r.reject_id
  FROM pgetl.reject_record r
 WHERE pg_catalog.pg_has_role(r.owner, 'MEMBER');
COMMENT ON VIEW pgetl.reject IS 'rejected records of loads you may see: where, which column, which rule, and why';

CREATE VIEW pgetl.stages WITH (security_barrier) AS
SELECT s.name AS stage, s.owner, s.bytes, s.chunks, s.staged_at
  FROM pgetl.stage s
 WHERE pg_catalog.pg_has_role(s.owner, 'MEMBER');
COMMENT ON VIEW pgetl.stages IS 'staged data you may load';

GRANT SELECT ON pgetl.loads, pgetl.load_history, pgetl.reject, pgetl.stages TO PUBLIC;

-- The spec of that name, if the caller may use it (member of its owner).
CREATE FUNCTION pgetl._load_spec_for(caller oid, p_name text, lock_it boolean DEFAULT false)
RETURNS pgetl.load_spec
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s pgetl.load_spec;
BEGIN
    IF p_name IS NULL THEN
        RAISE EXCEPTION 'load name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF lock_it THEN
        SELECT * INTO s FROM pgetl.load_spec WHERE name = p_name FOR UPDATE;
    ELSE
        SELECT * INTO s FROM pgetl.load_spec WHERE name = p_name;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'load "%" does not exist', p_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Define it with pgetl_define_load(), or list yours with SELECT * FROM pgetl.loads.';
    END IF;
    IF NOT pg_has_role(caller, s.owner, 'MEMBER') THEN
        RAISE EXCEPTION 'must be owner of load "%"', p_name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only the owner of a load spec, or members of the owner role, can use, change or drop it.';
    END IF;
    RETURN s;
END
$$;

-- A JSON value as text when it is a string, number or boolean; an error
-- naming the key otherwise.
CREATE FUNCTION pgetl._load_scalar(v jsonb, what text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v) NOT IN ('string', 'number', 'boolean') THEN
        RAISE EXCEPTION '% must be a string, number or boolean, not %', what, jsonb_typeof(v)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN v #>> '{}';
END
$$;

CREATE FUNCTION pgetl._load_typed(v jsonb, what text, want text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' AND jsonb_typeof(v) <> want THEN
        RAISE EXCEPTION '% must be a %, not %', what, want, jsonb_typeof(v)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN CASE WHEN jsonb_typeof(v) = 'null' THEN NULL ELSE v END;
END
$$;

-- Store (or replace) a load spec.  Checks the shape of columns and options
-- and that target columns exist; pgetl_define_load (C) then compiles the
-- stored spec as the caller, which checks types, values, patterns and
-- check expressions, and rolls everything back on error.
CREATE FUNCTION pgetl._define_load(caller oid, p_name text, p_target oid,
                                   p_columns jsonb, p_options jsonb)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    col_keys constant text[] := '{name,target,required,type,format,min,max,pattern,prefix,max_length,max_decimals,allowed,unique}';
    opt_keys constant text[] := '{delimiter,quote,escape,header,"null",encoding,mode,conflict_key,on_conflict,max_rejects,max_reject_ratio,checks}';
    s pgetl.load_spec;
    rel record;
    c jsonb;
    k text;
    i integer := 0;
    id bigint;
    hdr boolean;
    tgt text;
    names text[] := '{}';
    targets text[] := '{}';
    ck jsonb;
    ck_names text[] := '{}';
    ckey text[];
    v_mode text;
    v_onc text;
    v_max bigint;
    v_ratio double precision;
    v_delim text;
    v_quote text;
    v_escape text;
    v_enc text;
BEGIN
    IF p_name IS NULL OR p_name = '' THEN
        RAISE EXCEPTION 'load name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_target IS NULL THEN
        RAISE EXCEPTION 'target table must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c2.oid, c2.relkind, format('%I.%I', n.nspname, c2.relname) AS qname
      INTO rel FROM pg_class c2 JOIN pg_namespace n ON n.oid = c2.relnamespace
     WHERE c2.oid = p_target;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', p_target USING ERRCODE = 'undefined_table';
    END IF;
    IF rel.qname ~ '^(pg_catalog|pg_toast|information_schema|pgetl)\.' THEN
        RAISE EXCEPTION 'cannot load into %', rel.qname
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'System catalogs and pgetl''s own tables are not load targets.';
    END IF;
    IF rel.relkind NOT IN ('r', 'p', 'f') THEN
        RAISE EXCEPTION '"%" is not a table', rel.qname
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'A load target must be a table, a partitioned table or a foreign table.';
    END IF;

    -- options
    IF p_options IS NULL OR jsonb_typeof(p_options) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example: ''{"delimiter": ";", "max_rejects": 100}''::jsonb';
    END IF;
    FOR k IN SELECT jsonb_object_keys(p_options) LOOP
        IF NOT k = ANY (opt_keys) THEN
            RAISE EXCEPTION 'unknown load option "%"', k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Valid options: ' || array_to_string(opt_keys, ', ') || '.';
        END IF;
    END LOOP;
    hdr := coalesce(pgetl._load_typed(p_options->'header', 'option header', 'boolean')::boolean, true);
    v_delim := coalesce(pgetl._load_typed(p_options->'delimiter', 'option delimiter', 'string') #>> '{}', ',');
    v_quote := coalesce(pgetl._load_typed(p_options->'quote', 'option quote', 'string') #>> '{}', '"');
    v_escape := pgetl._load_typed(p_options->'escape', 'option escape', 'string') #>> '{}';
    v_enc := coalesce(pgetl._load_typed(p_options->'encoding', 'option encoding', 'string') #>> '{}', 'UTF8');
    PERFORM pgetl._load_typed(p_options->'null', 'option null', 'string');
    IF octet_length(v_delim) <> 1 OR octet_length(v_quote) <> 1 OR octet_length(coalesce(v_escape, '"')) <> 1 THEN
        RAISE EXCEPTION 'delimiter, quote and escape must each be a single one-byte character'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_delim IN (E'\r', E'\n') OR v_quote IN (E'\r', E'\n') OR v_delim = v_quote THEN
        RAISE EXCEPTION 'invalid CSV dialect: delimiter %, quote %', to_json(v_delim), to_json(v_quote)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The delimiter and the quote must differ and cannot be a newline or carriage return.';
    END IF;
    IF pg_char_to_encoding(v_enc) < 0 THEN
        RAISE EXCEPTION 'unknown encoding "%"', v_enc
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example UTF8, LATIN1, WIN1252.';
    END IF;
    v_mode := coalesce(pgetl._load_typed(p_options->'mode', 'option mode', 'string') #>> '{}', 'append');
    IF v_mode NOT IN ('append', 'upsert', 'replace') THEN
        RAISE EXCEPTION 'unknown load mode "%"', v_mode
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Valid modes: append, upsert, replace.';
    END IF;
    v_onc := pgetl._load_typed(p_options->'on_conflict', 'option on_conflict', 'string') #>> '{}';
    IF pgetl._load_typed(p_options->'conflict_key', 'option conflict_key', 'array') IS NOT NULL THEN
        SELECT array_agg(e #>> '{}' ORDER BY o) INTO ckey
          FROM jsonb_array_elements(p_options->'conflict_key') WITH ORDINALITY AS x(e, o);
    END IF;
    IF v_mode = 'upsert' THEN
        IF ckey IS NULL OR cardinality(ckey) = 0 THEN
            RAISE EXCEPTION 'mode upsert needs a conflict_key'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Name the target columns of a unique index, e.g. "conflict_key": ["order_id"].';
        END IF;
        v_onc := coalesce(v_onc, 'update');
        IF v_onc NOT IN ('update', 'nothing') THEN
            RAISE EXCEPTION 'on_conflict must be update or nothing, not "%"', v_onc
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOREACH k IN ARRAY ckey LOOP
            IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = p_target AND attname = k
                           AND attnum > 0 AND NOT attisdropped) THEN
                RAISE EXCEPTION 'conflict_key column "%" does not exist in %', k, rel.qname
                    USING ERRCODE = 'undefined_column';
            END IF;
        END LOOP;
        IF rel.relkind <> 'f' AND NOT EXISTS (
            SELECT FROM pg_index x
             WHERE x.indrelid = p_target AND x.indisunique AND x.indpred IS NULL
               AND x.indnkeyatts = cardinality(ckey)
               AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text COLLATE "C")
                      FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS ik(attnum, o)
                      JOIN pg_attribute a ON a.attrelid = p_target AND a.attnum = ik.attnum
                     WHERE ik.o <= x.indnkeyatts)
                   = (SELECT array_agg(u ORDER BY u COLLATE "C") FROM unnest(ckey) u)) THEN
            RAISE EXCEPTION 'no unique index of % matches conflict_key (%)', rel.qname, array_to_string(ckey, ', ')
                USING ERRCODE = 'invalid_column_reference',
                      HINT = 'Create a unique index or primary key on exactly these columns.';
        END IF;
    ELSIF ckey IS NOT NULL OR v_onc IS NOT NULL THEN
        RAISE EXCEPTION 'conflict_key and on_conflict apply only to mode upsert'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_max := (pgetl._load_typed(p_options->'max_rejects', 'option max_rejects', 'number') #>> '{}')::numeric;
    IF v_max < 0 THEN
        RAISE EXCEPTION 'max_rejects must be zero or more, not %', v_max USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_ratio := (pgetl._load_typed(p_options->'max_reject_ratio', 'option max_reject_ratio', 'number') #>> '{}')::double precision;
    IF v_ratio NOT BETWEEN 0 AND 1 THEN
        RAISE EXCEPTION 'max_reject_ratio must be between 0 and 1, not %', v_ratio USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- columns
    IF p_columns IS NULL OR jsonb_typeof(p_columns) <> 'array' OR jsonb_array_length(p_columns) = 0 THEN
        RAISE EXCEPTION 'columns must be a non-empty JSON array of objects'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example: ''[{"name": "price", "type": "numeric", "min": 0}]''::jsonb';
    END IF;
    FOR c IN SELECT e FROM jsonb_array_elements(p_columns) e LOOP
        i := i + 1;
        IF jsonb_typeof(c) <> 'object' THEN
            RAISE EXCEPTION 'column % of the spec must be a JSON object, not %', i, jsonb_typeof(c)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOR k IN SELECT jsonb_object_keys(c) LOOP
            IF NOT k = ANY (col_keys) THEN
                RAISE EXCEPTION 'unknown key "%" in column %', k, coalesce(c->>'name', i::text)
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Valid keys: ' || array_to_string(col_keys, ', ') || '.';
            END IF;
        END LOOP;
        IF pgetl._load_typed(c->'name', 'name of column ' || i, 'string') IS NULL AND hdr THEN
            RAISE EXCEPTION 'column % has no name', i
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'With "header": true, each column needs the "name" of its CSV header.';
        END IF;
        IF c->>'name' = ANY (names) THEN
            RAISE EXCEPTION 'column "%" appears twice in the spec', c->>'name' USING ERRCODE = 'duplicate_column';
        END IF;
        names := names || (c->>'name');
        IF c ? 'target' THEN
            tgt := pgetl._load_typed(c->'target', 'target of column ' || coalesce(c->>'name', i::text), 'string') #>> '{}';
        ELSE
            tgt := c->>'name';
        END IF;
        IF tgt IS NOT NULL THEN
            IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = p_target AND attname = tgt
                           AND attnum > 0 AND NOT attisdropped) THEN
                RAISE EXCEPTION 'column "%" of relation % does not exist', tgt, rel.qname
                    USING ERRCODE = 'undefined_column',
                          HINT = 'Set "target" to the column to load it into, or to null to skip this CSV column.';
            END IF;
            IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = p_target AND attname = tgt AND attgenerated <> '') THEN
                RAISE EXCEPTION 'column "%" of relation % is a generated column', tgt, rel.qname
                    USING ERRCODE = 'generated_always';
            END IF;
            IF tgt = ANY (targets) THEN
                RAISE EXCEPTION 'target column "%" is loaded from two CSV columns', tgt USING ERRCODE = 'duplicate_column';
            END IF;
            targets := targets || tgt;
        END IF;
        IF tgt IS NULL AND (c ? 'min' OR c ? 'max' OR c ? 'format' OR c ? 'allowed') AND NOT c ? 'type' THEN
            RAISE EXCEPTION 'column "%" is not loaded, so its min, max, format and allowed need a "type"', coalesce(c->>'name', i::text)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM pgetl._load_typed(c->'required', 'required', 'boolean'),
                pgetl._load_typed(c->'unique', 'unique', 'boolean'),
                pgetl._load_typed(c->'type', 'type', 'string'),
                pgetl._load_typed(c->'format', 'format', 'string'),
                pgetl._load_typed(c->'pattern', 'pattern', 'string'),
                pgetl._load_typed(c->'prefix', 'prefix', 'string'),
                pgetl._load_typed(c->'max_length', 'max_length', 'number'),
                pgetl._load_typed(c->'max_decimals', 'max_decimals', 'number'),
                pgetl._load_typed(c->'allowed', 'allowed', 'array'),
                pgetl._load_scalar(c->'min', 'min'),
                pgetl._load_scalar(c->'max', 'max');
        IF (c->>'max_length')::numeric < 0 OR (c->>'max_decimals')::numeric < 0
           OR (c->>'max_length')::numeric <> trunc((c->>'max_length')::numeric)
           OR (c->>'max_decimals')::numeric <> trunc((c->>'max_decimals')::numeric) THEN
            RAISE EXCEPTION 'max_length and max_decimals of column "%" must be non-negative integers', coalesce(c->>'name', i::text)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF c ? 'pattern' THEN
            BEGIN
                PERFORM '' ~ (c->>'pattern');
            EXCEPTION WHEN invalid_regular_expression THEN
                RAISE EXCEPTION 'invalid pattern for column "%": %', coalesce(c->>'name', i::text), SQLERRM
                    USING ERRCODE = 'invalid_regular_expression',
                          HINT = 'Patterns are PostgreSQL regular expressions (POSIX ARE), as with the ~ operator.';
            END;
        END IF;
    END LOOP;

    -- checks
    IF pgetl._load_typed(p_options->'checks', 'option checks', 'array') IS NOT NULL THEN
        FOR ck IN SELECT e FROM jsonb_array_elements(p_options->'checks') e LOOP
            IF jsonb_typeof(ck) <> 'object' OR jsonb_typeof(ck->'name') IS DISTINCT FROM 'string'
               OR jsonb_typeof(ck->'expression') IS DISTINCT FROM 'string'
               OR EXISTS (SELECT FROM jsonb_object_keys(ck) kk WHERE kk NOT IN ('name', 'expression')) THEN
                RAISE EXCEPTION 'each check must be an object {"name": ..., "expression": ...}'
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'For example: {"name": "positive_total", "expression": "quantity * price > 0"}';
            END IF;
            IF ck->>'name' = ANY (ck_names) THEN
                RAISE EXCEPTION 'check "%" appears twice', ck->>'name' USING ERRCODE = 'duplicate_object';
            END IF;
            ck_names := ck_names || (ck->>'name');
        END LOOP;
    END IF;

    -- store, replacing a spec of the same name
    SELECT * INTO s FROM pgetl.load_spec WHERE name = p_name FOR UPDATE;
    IF FOUND THEN
        s := pgetl._load_spec_for(caller, p_name, true);
        DELETE FROM pgetl.load_column WHERE spec_id = s.spec_id;
        DELETE FROM pgetl.load_check WHERE spec_id = s.spec_id;
        UPDATE pgetl.load_spec SET
            target = p_target, target_name = rel.qname, delimiter = v_delim, quote = v_quote,
            escape = v_escape, header = hdr, null_string = coalesce(p_options->>'null', ''),
            encoding = v_enc, mode = v_mode, conflict_key = ckey, on_conflict = v_onc,
            max_rejects = v_max, max_reject_ratio = v_ratio, columns = p_columns,
            options = p_options, defined_at = now()
         WHERE spec_id = s.spec_id;
        id := s.spec_id;
    ELSE
        INSERT INTO pgetl.load_spec (name, owner, target, target_name, delimiter, quote, escape,
                                     header, null_string, encoding, mode, conflict_key,
                                     on_conflict, max_rejects, max_reject_ratio, columns, options)
        VALUES (p_name, caller, p_target, rel.qname, v_delim, v_quote, v_escape, hdr,
                coalesce(p_options->>'null', ''), v_enc, v_mode, ckey, v_onc, v_max, v_ratio,
                p_columns, p_options)
        RETURNING spec_id INTO id;
    END IF;
    INSERT INTO pgetl.load_column (spec_id, ordinal, name, target, type, required, format, min, max,
                                   pattern, prefix, max_length, max_decimals, allowed, is_unique)
    SELECT id, o::integer, e->>'name',
           CASE WHEN e ? 'target' THEN e->>'target' ELSE e->>'name' END,
           e->>'type', coalesce((e->>'required')::boolean, false), e->>'format',
           pgetl._load_scalar(e->'min', 'min'), pgetl._load_scalar(e->'max', 'max'),
           e->>'pattern', e->>'prefix', (e->>'max_length')::integer, (e->>'max_decimals')::integer,
           CASE WHEN jsonb_typeof(e->'allowed') = 'array'
                THEN ARRAY(SELECT pgetl._load_scalar(a, 'allowed value') FROM jsonb_array_elements(e->'allowed') a) END,
           coalesce((e->>'unique')::boolean, false)
      FROM jsonb_array_elements(p_columns) WITH ORDINALITY AS x(e, o);
    INSERT INTO pgetl.load_check (spec_id, ordinal, name, expression)
    SELECT id, o::integer, e->>'name', e->>'expression'
      FROM jsonb_array_elements(coalesce(p_options->'checks', '[]')) WITH ORDINALITY AS x(e, o);
    RETURN id;
END
$$;

CREATE FUNCTION pgetl._drop_load(caller oid, p_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s pgetl.load_spec := pgetl._load_spec_for(caller, p_name, true);
BEGIN
    DELETE FROM pgetl.load_spec WHERE spec_id = s.spec_id;
END
$$;

-- Called by pgetl_add_task for kind 'load'.
CREATE FUNCTION pgetl._check_load_task(caller oid, config jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF jsonb_typeof(config->'load') IS DISTINCT FROM 'string'
       OR jsonb_typeof(config->'source') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'a load task needs config with string keys "load" and "source"'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example: config => ''{"load": "sales", "source": "/srv/in/sales.csv"}''';
    END IF;
    PERFORM pgetl._check_config_keys('load', config, '{load,source}',
        'A load task config has keys "load" and "source".');
    IF config->>'source' = '' THEN
        RAISE EXCEPTION 'load task source must not be empty' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Give an absolute server path (starting with /) or the name of staged data.';
    END IF;
    PERFORM pgetl._load_spec_for(caller, config->>'load');
END
$$;

-- Staged data: append a chunk; returns the bytes staged under that name.
CREATE FUNCTION pgetl._stage(caller oid, p_name text, p_data bytea) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st pgetl.stage;
BEGIN
    IF p_name IS NULL OR p_name = '' OR left(p_name, 1) = '/' THEN
        RAISE EXCEPTION 'invalid stage name "%"', coalesce(p_name, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A source starting with / is a server file path; staged data needs another name.';
    END IF;
    IF p_data IS NULL THEN
        RAISE EXCEPTION 'data to stage must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO st FROM pgetl.stage WHERE name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO pgetl.stage (name, owner) VALUES (p_name, caller) RETURNING * INTO st;
    ELSIF NOT pg_has_role(caller, st.owner, 'MEMBER') THEN
        RAISE EXCEPTION 'must be owner of staged data "%"', p_name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Choose another name; staged data belongs to the role that staged it.';
    END IF;
    IF octet_length(p_data) > 0 THEN
        INSERT INTO pgetl.stage_chunk (stage_id, chunk_no, data) VALUES (st.stage_id, st.chunks + 1, p_data);
        UPDATE pgetl.stage SET bytes = bytes + octet_length(p_data), chunks = chunks + 1, staged_at = now()
         WHERE stage_id = st.stage_id RETURNING * INTO st;
    END IF;
    RETURN st.bytes;
END
$$;

CREATE FUNCTION pgetl._stage_for(caller oid, p_name text) RETURNS pgetl.stage
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st pgetl.stage;
BEGIN
    SELECT * INTO st FROM pgetl.stage WHERE name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'staged data "%" does not exist', p_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Stage data with pgetl_stage(name, data), or give an absolute server path starting with /.';
    END IF;
    IF NOT pg_has_role(caller, st.owner, 'MEMBER') THEN
        RAISE EXCEPTION 'must be owner of staged data "%"', p_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN st;
END
$$;

CREATE FUNCTION pgetl._stage_id(caller oid, p_name text) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT (pgetl._stage_for(caller, p_name)).stage_id
$$;

CREATE FUNCTION pgetl._drop_stage(caller oid, p_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st pgetl.stage := pgetl._stage_for(caller, p_name);
BEGIN
    DELETE FROM pgetl.stage WHERE stage_id = st.stage_id;
END
$$;

-- User-facing functions.
CREATE FUNCTION @extschema@.pgetl_define_load(name text, target regclass, columns jsonb,
                                              options jsonb DEFAULT '{}')
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_define_load(text, regclass, jsonb, jsonb) IS
'defines (or replaces) a load spec owned by the calling role: target table, CSV columns with their rules, dialect and behaviour; returns its id';

CREATE FUNCTION @extschema@.pgetl_drop_load(name text)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_drop_load(text) IS
'drops a load spec; its load history and rejects are kept';

CREATE FUNCTION @extschema@.pgetl_stage(name text, data bytea)
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_stage(text, bytea) IS
'appends CSV bytes to the staged data of that name (created if new); returns the total bytes staged';

CREATE FUNCTION @extschema@.pgetl_drop_stage(name text)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_drop_stage(text) IS
'drops staged data';

CREATE FUNCTION @extschema@.pgetl_load(load text, source text, purge boolean DEFAULT false,
    OUT load_id bigint, OUT rows_read bigint, OUT rows_loaded bigint,
    OUT rows_rejected bigint, OUT duration interval)
RETURNS SETOF record AS 'MODULE_PATHNAME' LANGUAGE C ROWS 1;
COMMENT ON FUNCTION @extschema@.pgetl_load(text, text, boolean) IS
'loads a CSV source (an absolute server path, or the name of staged data) with a load spec, as the calling role; rejected records go to pgetl.reject';
-- Scheduling pipelines with pg_cron (src/schedule.c).  pg_cron keeps its
-- jobs in one database (cron.database_name); pipelines live in any
-- database.  pgetl_schedule() checks the pipeline here, records the schedule
-- in pgetl.schedule, and has a short-lived background worker, connected to
-- the cron database as the pipeline owner, create the cron job there.

CREATE TABLE pgetl.schedule (
    pipeline_id     bigint PRIMARY KEY REFERENCES pgetl.pipeline ON DELETE CASCADE,
    schedule        text NOT NULL CHECK (schedule <> ''),
    params          jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(params) = 'object'),
    cron_jobname    text NOT NULL,
    cron_database   text NOT NULL,
    jobid           bigint,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE pgetl.schedule IS 'pg_cron schedules of pipelines (read it through the view pgetl.schedules)';

-- pgetl_schedule(), before the cron job is created: the pipeline (locked
-- until the caller's transaction ends), its owner, the cron job's name and
-- the command it runs.  The owner must be able to connect to the cron
-- database: the worker that creates the job connects there as the owner.
CREATE FUNCTION pgetl._schedule_prepare(caller oid, p_pipeline text, p_schedule text, p_params jsonb,
                                        p_cron_database text,
                                        OUT pipeline_id bigint, OUT owner oid, OUT jobname text,
                                        OUT command text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline := pgetl._pipeline_for(caller, p_pipeline, true);
    extschema name;
BEGIN
    IF p_schedule IS NULL OR btrim(p_schedule) = '' THEN
        RAISE EXCEPTION 'schedule must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a cron schedule of 5 fields (minute hour day-of-month month day-of-week), e.g. ''15 2 * * *''.';
    END IF;
    IF p_params IS NULL OR jsonb_typeof(p_params) <> 'object' THEN
        RAISE EXCEPTION 'params must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example: ''{"region": "EU"}''::jsonb';
    END IF;
    PERFORM pgetl._check_login(p.owner, 'run scheduled pipelines');
    IF NOT has_database_privilege(p.owner, p_cron_database, 'CONNECT') THEN
        RAISE EXCEPTION 'role "%" cannot connect to database "%", where pg_cron keeps its jobs',
                (SELECT rolname FROM pg_roles WHERE oid = p.owner), p_cron_database
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The cron job is created in the database named by cron.database_name, as the pipeline owner.',
                  HINT = format('As a superuser: GRANT CONNECT ON DATABASE %I TO %s.', p_cron_database, p.owner::regrole);
    END IF;
    SELECT n.nspname INTO extschema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pgetl';
    pipeline_id := p.pipeline_id;
    owner := p.owner;
    jobname := p.name || '@' || current_database();
    command := format('SELECT %I.pgetl_run(%L, params => %L::jsonb)', extschema, p.name, p_params);
END
$$;

-- pgetl_schedule(), once the cron job exists: record (or update) it.
CREATE FUNCTION pgetl._schedule_record(p_pipeline_id bigint, p_schedule text, p_params jsonb,
                                       p_jobname text, p_cron_database text, p_jobid bigint)
RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO pgetl.schedule (pipeline_id, schedule, params, cron_jobname, cron_database, jobid)
    VALUES (p_pipeline_id, p_schedule, p_params, p_jobname, p_cron_database, p_jobid)
    ON CONFLICT (pipeline_id) DO UPDATE SET
        schedule = EXCLUDED.schedule, params = EXCLUDED.params,
        cron_jobname = EXCLUDED.cron_jobname, cron_database = EXCLUDED.cron_database,
        jobid = EXCLUDED.jobid, updated_at = pg_catalog.now()
$$;

-- pgetl_unschedule(): the pipeline (locked), its owner, the cron job's name
-- and whether pgetl has a schedule for it.
CREATE FUNCTION pgetl._unschedule_prepare(caller oid, p_pipeline text,
                                          OUT pipeline_id bigint, OUT owner oid, OUT jobname text,
                                          OUT scheduled boolean)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline := pgetl._pipeline_for(caller, p_pipeline, true);
BEGIN
    pipeline_id := p.pipeline_id;
    owner := p.owner;
    SELECT s.cron_jobname INTO jobname FROM pgetl.schedule s WHERE s.pipeline_id = p.pipeline_id;
    scheduled := FOUND;
    jobname := coalesce(jobname, p.name || '@' || current_database());
END
$$;

-- pgetl_unschedule(), once the cron job is gone.
CREATE FUNCTION pgetl._unschedule_record(p_pipeline_id bigint) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    DELETE FROM pgetl.schedule WHERE pipeline_id = p_pipeline_id
$$;

-- pgetl_drop_pipeline(): the cron job to remove once the pipeline is
-- dropped (no row when it is not scheduled).  The drop itself checks the
-- caller's rights.
CREATE FUNCTION pgetl._schedule_of(p_pipeline text, OUT owner oid, OUT jobname text)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT p.owner::oid, s.cron_jobname
      FROM pgetl.schedule s JOIN pgetl.pipeline p USING (pipeline_id)
     WHERE p.name = p_pipeline
$$;

CREATE VIEW pgetl.schedules WITH (security_barrier) AS
SELECT p.name AS pipeline, p.owner, s.schedule, s.params, s.cron_jobname, s.cron_database,
       s.jobid, r.run_id AS last_run_id, r.state AS last_run_state,
       r.started_at AS last_run_started_at, r.started_by AS last_run_started_by,
       s.created_at, s.updated_at
  FROM pgetl.schedule s
  JOIN pgetl.pipeline p USING (pipeline_id)
  LEFT JOIN LATERAL (SELECT rr.run_id, rr.state, rr.started_at, rr.started_by
                       FROM pgetl.run_record rr
                      WHERE rr.pipeline_id = s.pipeline_id
                      ORDER BY rr.run_id DESC LIMIT 1) r ON true
 WHERE pg_catalog.pg_has_role(p.owner, 'MEMBER');
COMMENT ON VIEW pgetl.schedules IS 'pg_cron schedules of pipelines you may see, with the latest run of each pipeline';
GRANT SELECT ON pgetl.schedules TO PUBLIC;

CREATE FUNCTION @extschema@.pgetl_schedule(pipeline text, schedule text, params jsonb DEFAULT '{}')
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_schedule(text, text, jsonb) IS
'creates or updates the pg_cron job "<pipeline>@<database>" that runs the pipeline as its owner on a cron schedule; returns the cron job id';

CREATE FUNCTION @extschema@.pgetl_unschedule(pipeline text)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_unschedule(text) IS
'removes the pg_cron job of a pipeline scheduled with pgetl_schedule';

COMMENT ON FUNCTION pgetl._schedule_prepare(oid, text, text, jsonb, text) IS
'internal: checks a pgetl_schedule call and returns the cron job name and command';
COMMENT ON FUNCTION pgetl._schedule_record(bigint, text, jsonb, text, text, bigint) IS
'internal: records a pipeline''s cron job in pgetl.schedule';
COMMENT ON FUNCTION pgetl._unschedule_prepare(oid, text) IS
'internal: checks a pgetl_unschedule call and returns the cron job name';
COMMENT ON FUNCTION pgetl._unschedule_record(bigint) IS
'internal: forgets a pipeline''s cron job';
COMMENT ON FUNCTION pgetl._schedule_of(text) IS
'internal: the cron job of a pipeline about to be dropped';
-- Internal functions run as the extension owner only; user-facing functions
-- are executable by everyone and check rights themselves.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'pgetl'::regnamespace
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;
