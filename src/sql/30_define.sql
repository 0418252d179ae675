-- Defining pipelines.  The public functions are C trampolines (src/define.c):
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
    -- roles are global: DROP ROLE in any database can leave pgetl's objects
    -- owned by a role that no longer exists
    IF NOT EXISTS (SELECT FROM pg_roles WHERE oid = role) THEN
        RAISE EXCEPTION 'role with OID % cannot %: it was dropped', role, action
            USING ERRCODE = 'undefined_object',
                  DETAIL = 'Roles are dropped cluster-wide; the pgetl objects of a dropped owner stay until a superuser gives them a new owner or drops them.',
                  HINT = format('As a superuser: SELECT pgetl_reassign_owned(%L, ''new_owner''); or drop them.', role::text);
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE oid = role AND rolcanlogin) THEN
        RAISE EXCEPTION 'role "%" cannot %: it does not have the LOGIN attribute',
                (SELECT rolname FROM pg_roles WHERE oid = role), action
            USING ERRCODE = 'invalid_authorization_specification',
                  DETAIL = 'Tasks run in background workers that connect as the pipeline owner.',
                  HINT = format('Run ALTER ROLE %s LOGIN, or create the pipeline as a role that can log in.',
                                quote_ident((SELECT rolname FROM pg_roles WHERE oid = role)));
    END IF;
END
$$;

-- What a role owns in pgetl, in this database (NULL: nothing), for the
-- DROP ROLE guard and for messages.
CREATE FUNCTION pgetl._owned_by(role oid) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT nullif(concat_ws(', ',
        (SELECT count(*) || ' pipeline(s) (' || string_agg(quote_ident(name), ', ' ORDER BY name) || ')'
           FROM pgetl.pipeline WHERE owner = role HAVING count(*) > 0),
        (SELECT count(*) || ' load spec(s) (' || string_agg(quote_ident(name), ', ' ORDER BY name) || ')'
           FROM pgetl.load_spec WHERE owner = role HAVING count(*) > 0),
        (SELECT count(*) || ' staged data set(s) (' || string_agg(quote_ident(name), ', ' ORDER BY name) || ')'
           FROM pgetl.stage WHERE owner = role HAVING count(*) > 0)), '')
$$;

-- max_active_runs (pgetl_create_pipeline, pgetl_alter_pipeline): 1 to 1024.
CREATE FUNCTION pgetl._check_max_active_runs(n integer) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF n IS NULL OR n NOT BETWEEN 1 AND 1024 THEN
        RAISE EXCEPTION 'max_active_runs must be between 1 and 1024, not %', coalesce(n::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'It caps the active runs of the pipeline across logical dates; runs asked beyond it wait queued.';
    END IF;
END
$$;

-- max_active_tasks (pgetl_create_pipeline, pgetl_alter_pipeline): NULL
-- (no cap) or 1 to 1024.
CREATE FUNCTION pgetl._check_max_active_tasks(n integer) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF n NOT BETWEEN 1 AND 1024 THEN
        RAISE EXCEPTION 'max_active_tasks must be between 1 and 1024, not %', n
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'It caps the running tasks of the pipeline across all its active runs; NULL (pgetl_alter_pipeline: 0) means no cap.';
    END IF;
END
$$;

-- Task pools (Airflow's pools; "pool" alone means the pool of task workers
-- in the C code).  Managing them needs a privilege: superuser, or member
-- of the role pgetl_pool_admin (not created by the extension: roles are
-- cluster-wide; an administrator creates it NOLOGIN and grants it).
-- Using a pool (pgetl_add_task(pool => ...)) needs none, as in Airflow.
CREATE FUNCTION pgetl._check_pool_admin(caller oid, action text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE oid = caller)
       AND NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = 'pgetl_pool_admin'
                                              AND pg_has_role(caller, r.oid, 'MEMBER')) THEN
        RAISE EXCEPTION 'permission denied to % a task pool', action
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Task pools are shared by all pipelines of the database: only superusers and members of the role pgetl_pool_admin manage them.',
                  HINT = 'A superuser can run CREATE ROLE pgetl_pool_admin NOLOGIN; GRANT pgetl_pool_admin TO your_role;';
    END IF;
END
$$;

-- A pool by name, locked (FOR UPDATE to change it, FOR KEY SHARE to use it).
CREATE FUNCTION pgetl._task_pool_for(p_name text, for_update boolean) RETURNS pgetl.task_pool
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tp pgetl.task_pool;
BEGIN
    IF for_update THEN
        SELECT * INTO tp FROM pgetl.task_pool WHERE name = p_name FOR UPDATE;
    ELSE
        SELECT * INTO tp FROM pgetl.task_pool WHERE name = p_name FOR KEY SHARE;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task pool "%" does not exist', p_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'List the pools with SELECT * FROM pgetl.pools; a pool administrator creates one with pgetl_create_pool().';
    END IF;
    RETURN tp;
END
$$;

CREATE FUNCTION pgetl._check_pool_slots(p_slots integer) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_slots IS NULL OR p_slots NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'slots must be between 1 and 100000, not %', coalesce(p_slots::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

CREATE FUNCTION pgetl._create_pool(caller oid, p_name text, p_slots integer, p_description text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pgetl._check_pool_admin(caller, 'create');
    IF p_name IS NULL OR p_name = '' THEN
        RAISE EXCEPTION 'pool name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pgetl._check_pool_slots(p_slots);
    IF EXISTS (SELECT FROM pgetl.task_pool WHERE name = p_name) THEN
        RAISE EXCEPTION 'task pool "%" already exists', p_name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Change it with pgetl_alter_pool().';
    END IF;
    INSERT INTO pgetl.task_pool (name, slots, description) VALUES (p_name, p_slots, p_description);
END
$$;

-- Fewer slots than a task of the pool takes: refused.  Fewer slots than
-- are taken now: the running tries go on, new ones wait.
CREATE FUNCTION pgetl._alter_pool(caller oid, p_name text, p_slots integer DEFAULT NULL,
                                  p_description text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tp pgetl.task_pool;
    big text;
BEGIN
    PERFORM pgetl._check_pool_admin(caller, 'alter');
    tp := pgetl._task_pool_for(p_name, true);
    IF p_slots IS NOT NULL THEN
        PERFORM pgetl._check_pool_slots(p_slots);
        SELECT string_agg(format('%s.%s (%s)', p.name, t.name, t.pool_slots), ', ' ORDER BY p.name, t.name)
          INTO big
          FROM pgetl.task t JOIN pgetl.pipeline p USING (pipeline_id)
         WHERE t.pool = p_name AND t.pool_slots > p_slots;
        IF big IS NOT NULL THEN
            RAISE EXCEPTION 'task pool "%" cannot have % slots: tasks take more', p_name, p_slots
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'Tasks with their pool_slots: ' || big || '.',
                      HINT = 'Give the pool at least as many slots as its biggest task takes.';
        END IF;
    END IF;
    UPDATE pgetl.task_pool SET slots = coalesce(p_slots, slots),
                               description = coalesce(p_description, description)
     WHERE name = p_name;
END
$$;

CREATE FUNCTION pgetl._drop_pool(caller oid, p_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    users text;
BEGIN
    PERFORM pgetl._check_pool_admin(caller, 'drop');
    PERFORM pgetl._task_pool_for(p_name, true);
    SELECT string_agg(format('%s.%s', p.name, t.name), ', ' ORDER BY p.name, t.name) INTO users
      FROM pgetl.task t JOIN pgetl.pipeline p USING (pipeline_id)
     WHERE t.pool = p_name;
    IF users IS NOT NULL THEN
        RAISE EXCEPTION 'cannot drop task pool "%": tasks use it', p_name
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Tasks in the pool: ' || users || '.',
                  HINT = 'Redefine those tasks without the pool (pgetl_apply), or drop their pipelines, first.';
    END IF;
    DELETE FROM pgetl.task_pool WHERE name = p_name;
END
$$;

-- A pipeline's max_map_length: the most mapped instances a mapped task
-- may expand into (Airflow's max_map_length, default 1024).
CREATE FUNCTION pgetl._check_max_map_length(n integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF n IS NULL OR n NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'max_map_length must be between 1 and 100000, not %', coalesce(n::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'It caps the mapped instances a mapped task (pgetl_add_task(..., map_over => ...)) expands into; the default is 1024.';
    END IF;
END
$$;

-- A task's map_over (dynamic task mapping): NULL, or a query; not for
-- branch and short_circuit tasks (which skip downstream tasks: one
-- instance cannot decide for the others) nor for setup and teardown tasks.
CREATE FUNCTION pgetl._check_map_over(p_task text, p_map_over text, p_kind text, p_setup boolean,
                                      p_teardown boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_map_over IS NULL THEN
        RETURN;
    END IF;
    IF btrim(p_map_over, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'map_over of task "%" must not be empty', p_task
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a query with one row per mapped instance, e.g. ''SELECT region FROM regions ORDER BY region'', or NULL for an unmapped task.';
    END IF;
    IF p_kind IN ('branch', 'short_circuit') OR coalesce(p_setup, false) OR coalesce(p_teardown, false) THEN
        RAISE EXCEPTION 'task "%" cannot be mapped: it is a % task', p_task,
                CASE WHEN p_setup THEN 'setup' WHEN p_teardown THEN 'teardown' ELSE p_kind END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Branch, short_circuit, setup and teardown tasks decide for other tasks as one task; mapped instances cannot.',
                  HINT = 'Map a sql, check, sensor, load or export task downstream of it instead.';
    END IF;
END
$$;

CREATE FUNCTION pgetl._create_pipeline(caller oid, p_name text, p_description text,
                                       p_max_parallel integer, p_params jsonb,
                                       p_max_active_runs integer DEFAULT 16, p_on_failure text DEFAULT NULL,
                                       p_on_success text DEFAULT NULL, p_run_timeout interval DEFAULT NULL,
                                       p_max_active_tasks integer DEFAULT NULL,
                                       p_max_map_length integer DEFAULT 1024)
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
    PERFORM pgetl._check_max_active_runs(coalesce(p_max_active_runs, 0));
    PERFORM pgetl._check_callback('on_failure', p_on_failure);
    PERFORM pgetl._check_callback('on_success', p_on_success);
    IF p_run_timeout <= '0' THEN
        RAISE EXCEPTION 'run_timeout must be positive, not %', p_run_timeout
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use NULL for no run timeout.';
    END IF;
    PERFORM pgetl._check_max_active_tasks(p_max_active_tasks);
    PERFORM pgetl._check_max_map_length(coalesce(p_max_map_length, 0));
    PERFORM pgetl._check_login(caller, 'own a pipeline');
    IF EXISTS (SELECT FROM pgetl.pipeline WHERE name = p_name) THEN
        RAISE EXCEPTION 'pipeline "%" already exists', p_name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Choose another name, or drop it first with pgetl_drop_pipeline().';
    END IF;
    INSERT INTO pgetl.pipeline (name, description, owner, max_parallel, params, max_active_runs,
                                on_failure, on_success, run_timeout, max_active_tasks, max_map_length)
    VALUES (p_name, p_description, caller, p_max_parallel, p_params, p_max_active_runs,
            p_on_failure, p_on_success, p_run_timeout, p_max_active_tasks, p_max_map_length)
    RETURNING pipeline_id INTO id;
    RETURN id;
END
$$;

-- Returns the previous owner when the owner changed (the caller then moves
-- the pipeline's cron job), else NULL.
-- A callback given as '' (or blank) is removed, and so is a run_timeout
-- given as '0'; NULL keeps a setting.
CREATE FUNCTION pgetl._alter_pipeline(caller oid, p_name text, p_enabled boolean, p_description text,
                                      p_max_parallel integer, p_params jsonb, p_owner regrole,
                                      p_max_active_runs integer DEFAULT NULL, p_on_failure text DEFAULT NULL,
                                      p_on_success text DEFAULT NULL, p_run_timeout interval DEFAULT NULL,
                                      p_max_active_tasks integer DEFAULT NULL,
                                      p_max_map_length integer DEFAULT NULL)
RETURNS oid
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
    IF p_max_active_runs IS NOT NULL THEN
        PERFORM pgetl._check_max_active_runs(p_max_active_runs);
    END IF;
    IF p_run_timeout < '0' THEN
        RAISE EXCEPTION 'run_timeout must not be negative, not %', p_run_timeout
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Give ''0'' to remove the run timeout.';
    END IF;
    IF p_max_active_tasks IS NOT NULL AND p_max_active_tasks <> 0 THEN
        PERFORM pgetl._check_max_active_tasks(p_max_active_tasks);
    END IF;
    IF p_max_map_length IS NOT NULL THEN
        PERFORM pgetl._check_max_map_length(p_max_map_length);
    END IF;
    IF p_owner IS NOT NULL AND p_owner::oid <> p.owner::oid THEN
        PERFORM pgetl._check_new_owner(caller, p_owner, ARRAY[p.pipeline_id]);
    END IF;
    UPDATE pgetl.pipeline SET
        enabled = coalesce(p_enabled, enabled),
        description = coalesce(p_description, description),
        max_parallel = coalesce(p_max_parallel, max_parallel),
        params = coalesce(p_params, params),
        owner = coalesce(p_owner, owner),
        max_active_runs = coalesce(p_max_active_runs, max_active_runs),
        on_failure = CASE WHEN p_on_failure IS NULL THEN on_failure
                          WHEN btrim(p_on_failure, E' \t\r\n') = '' THEN NULL ELSE p_on_failure END,
        on_success = CASE WHEN p_on_success IS NULL THEN on_success
                          WHEN btrim(p_on_success, E' \t\r\n') = '' THEN NULL ELSE p_on_success END,
        run_timeout = CASE WHEN p_run_timeout IS NULL THEN run_timeout
                           WHEN p_run_timeout = '0' THEN NULL ELSE p_run_timeout END,
        -- 0 removes the cap
        max_active_tasks = CASE p_max_active_tasks WHEN 0 THEN NULL
                                ELSE coalesce(p_max_active_tasks, max_active_tasks) END,
        max_map_length = coalesce(p_max_map_length, max_map_length)
     WHERE pipeline_id = p.pipeline_id;
    RETURN CASE WHEN p_owner IS NOT NULL AND p_owner::oid <> p.owner::oid THEN p.owner::oid END;
END
$$;

-- May caller give these pipelines to new_owner?  Like ALTER ... OWNER:
-- the caller must be a member of the new owner (superusers are); the new
-- owner must exist and log in (tasks run as it), have the privileges of
-- pg_write_server_files if a pipeline exports, and no pipeline may have an
-- active run.
CREATE FUNCTION pgetl._check_new_owner(caller oid, new_owner oid, pipelines bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    busy text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE oid = new_owner) THEN
        RAISE EXCEPTION 'role with OID % does not exist', new_owner USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT pg_has_role(caller, new_owner, 'MEMBER') THEN
        RAISE EXCEPTION 'must be able to SET ROLE "%"', new_owner::regrole
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Only members of the new owner (and superusers) can give it pgetl objects, as with ALTER ... OWNER TO.';
    END IF;
    IF cardinality(pipelines) > 0 THEN
        PERFORM pgetl._check_login(new_owner, 'own a pipeline');
        IF EXISTS (SELECT FROM pgetl.task WHERE pipeline_id = ANY (pipelines) AND kind = 'export')
           AND NOT pg_has_role(new_owner, 'pg_write_server_files', 'USAGE') THEN
            RAISE EXCEPTION 'role "%" cannot own a pipeline with export tasks', new_owner::regrole
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'Export tasks run COPY ... TO a file as the pipeline owner, which needs the privileges of pg_write_server_files.',
                      HINT = format('GRANT pg_write_server_files TO %s;', new_owner::regrole);
        END IF;
        SELECT string_agg(format('%s (run %s)', pipeline, run_id), ', ') INTO busy
          FROM pgetl.run_record WHERE pipeline_id = ANY (pipelines) AND state IN ('queued', 'running');
        IF busy IS NOT NULL THEN
            RAISE EXCEPTION 'cannot change the owner of a pipeline with an active run'
                USING ERRCODE = 'object_in_use', DETAIL = 'Active: ' || busy || '.',
                      HINT = 'Wait for the runs to finish, or cancel them with pgetl_cancel().';
        END IF;
    END IF;
END
$$;

-- pgetl_reassign_owned(): everything old_owner owns in pgetl, in this
-- database, becomes new_owner's: pipelines, load specs, staged data, and
-- the history (runs, task runs, loads, rejects) that the old owner could
-- see.  Returns the pipelines whose cron job must move (scheduled ones),
-- and counts.  Privileges as REASSIGN OWNED: membership in both roles
-- (superusers: always; only they can name a dropped role).
CREATE FUNCTION pgetl._reassign_owned(caller oid, old_owner oid, new_owner oid,
                                      OUT pipelines bigint, OUT load_specs bigint, OUT stages bigint,
                                      OUT scheduled text[])
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ids bigint[];
BEGIN
    IF old_owner IS NULL OR new_owner IS NULL THEN
        RAISE EXCEPTION 'roles must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT pg_has_role(caller, old_owner, 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied to reassign objects of %',
                coalesce(quote_ident((SELECT rolname FROM pg_roles WHERE oid = old_owner)),
                         format('role with OID %s (dropped)', old_owner))
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Only roles with privileges of both roles (and superusers) can reassign objects, as with REASSIGN OWNED; only superusers can reassign the objects of a dropped role.';
    END IF;
    SELECT coalesce(array_agg(pipeline_id ORDER BY pipeline_id), '{}') INTO ids
      FROM (SELECT pipeline_id FROM pgetl.pipeline WHERE owner = old_owner FOR UPDATE) locked;
    PERFORM pgetl._check_new_owner(caller, new_owner, ids);
    UPDATE pgetl.pipeline SET owner = new_owner WHERE pipeline_id = ANY (ids);
    pipelines := cardinality(ids);
    UPDATE pgetl.load_spec SET owner = new_owner WHERE owner = old_owner;
    GET DIAGNOSTICS load_specs = ROW_COUNT;
    UPDATE pgetl.stage SET owner = new_owner WHERE owner = old_owner;
    GET DIAGNOSTICS stages = ROW_COUNT;
    UPDATE pgetl.run_record SET owner = new_owner WHERE owner = old_owner;
    UPDATE pgetl.load_record SET owner = new_owner WHERE owner = old_owner;
    UPDATE pgetl.reject_record SET owner = new_owner WHERE owner = old_owner;
    SELECT coalesce(array_agg(p.name ORDER BY p.name), '{}') INTO scheduled
      FROM pgetl.schedule s JOIN pgetl.pipeline p USING (pipeline_id) WHERE p.pipeline_id = ANY (ids);
END
$$;

CREATE FUNCTION pgetl._drop_pipeline(caller oid, p_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline := pgetl._pipeline_for(caller, p_name, true);
    active bigint;
BEGIN
    SELECT run_id INTO active FROM pgetl.run_record
     WHERE pipeline_id = p.pipeline_id AND state IN ('queued', 'running') ORDER BY run_id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'pipeline "%" has an active run', p_name
            USING ERRCODE = 'object_in_use',
                  DETAIL = format('Run %s is still running or queued.', active),
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
-- One check (src/export.c: pgetl_export_check_config, with the list of
-- placeholders), which the task worker makes again before it exports.
CREATE FUNCTION pgetl._check_export_task(owner oid, config jsonb) RETURNS void
AS 'MODULE_PATHNAME', 'pgetl_check_export_task' LANGUAGE C;

-- A sensor task's config: {"poke_interval": "30 seconds", "mode":
-- "reschedule", "soft_fail": false}, every key optional.  poke_interval is
-- a positive interval (or a number of seconds), mode poke or reschedule,
-- soft_fail true or false.
CREATE FUNCTION pgetl._check_sensor_task(config jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d interval;
BEGIN
    PERFORM pgetl._check_config_keys('sensor', config, '{poke_interval,mode,soft_fail}',
        'A sensor task config has the optional keys "poke_interval" (an interval, default "60 seconds"), "mode" ("reschedule", the default, or "poke") and "soft_fail" (true or false, default false).');
    IF config ? 'poke_interval' THEN
        BEGIN
            d := CASE WHEN jsonb_typeof(config -> 'poke_interval') IN ('string', 'number')
                      THEN pgetl._sensor_poke_interval(config) END;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow
                       OR numeric_value_out_of_range THEN
            d := NULL;
        END;
        IF d IS NULL OR d <= '0' THEN
            RAISE EXCEPTION 'sensor task config "poke_interval" must be a positive interval, not %', config -> 'poke_interval'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'For example: config => ''{"poke_interval": "30 seconds"}'' (a number counts seconds).';
        END IF;
    END IF;
    IF config ? 'mode' AND (jsonb_typeof(config -> 'mode') <> 'string' OR config ->> 'mode' NOT IN ('poke', 'reschedule')) THEN
        RAISE EXCEPTION 'sensor task config "mode" must be "poke" or "reschedule", not %', config -> 'mode'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'In mode "reschedule" (the default) the sensor holds no task worker between pokes; in mode "poke" it keeps its worker.';
    END IF;
    IF config ? 'soft_fail' AND jsonb_typeof(config -> 'soft_fail') <> 'boolean' THEN
        RAISE EXCEPTION 'sensor task config "soft_fail" must be true or false, not %', config -> 'soft_fail'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'With soft_fail true a sensor that times out is skipped instead of failed.';
    END IF;
END
$$;

-- A callback (on_failure, on_success, on_retry of a task or a pipeline):
-- NULL for none, else SQL that is not blank (22023).  Its syntax is
-- checked when it runs: an error then is recorded as the callback's
-- (callback_error), never as the task's.
CREATE FUNCTION pgetl._check_callback(what text, sql text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF sql IS NOT NULL AND btrim(sql, E' \t\r\n') = '' THEN
        RAISE EXCEPTION '% must not be empty', what
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Give the SQL to run, e.g. %s => ''INSERT INTO alerts SELECT pgetl_callback_context()'', or NULL for none.', what);
    END IF;
END
$$;

-- The rules of setup and teardown tasks (Airflow's as_setup() and
-- as_teardown()), in one place: _add_task, pgetl_apply (once a document's
-- edges are in) and the start of a run check a task with it.  p_setups:
-- the number of the task's direct upstream tasks that are setup tasks,
-- NULL while its edges are not known (pgetl_apply adds them after the
-- tasks; upstream => NULL).  NULL flags read as false.
CREATE FUNCTION pgetl._check_setup_teardown(p_task text, p_setup boolean, p_teardown boolean,
                                            p_on_failure_fail_run boolean, p_trigger_rule text,
                                            p_setups bigint)
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF coalesce(p_setup, false) AND coalesce(p_teardown, false) THEN
        RAISE EXCEPTION 'task "%" cannot be both a setup task and a teardown task', p_task
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Add two tasks: the setup task (setup => true), and the teardown task (teardown => true) with the setup task among its upstream tasks.';
    END IF;
    IF coalesce(p_on_failure_fail_run, false) AND NOT coalesce(p_teardown, false) THEN
        RAISE EXCEPTION 'task "%" is not a teardown task: on_failure_fail_run applies to teardown tasks only', p_task
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The failure of any other task that ends the pipeline fails the run already.',
                  HINT = 'Add teardown => true, or leave on_failure_fail_run out.';
    END IF;
    IF NOT coalesce(p_teardown, false) THEN
        RETURN;
    END IF;
    IF p_trigger_rule NOT IN ('all_success', 'all_done_setup_success') THEN
        RAISE EXCEPTION 'teardown task "%" cannot have trigger rule %', p_task, p_trigger_rule
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A teardown task runs by the trigger rule all_done_setup_success: once all its upstream tasks are done, if one of its setup tasks succeeded.',
                  HINT = 'Leave trigger_rule out (or give all_done_setup_success).';
    END IF;
    IF p_setups = 0 THEN
        RAISE EXCEPTION 'teardown task "%" has no upstream setup task', p_task
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A teardown task is paired with the setup tasks among its upstream tasks, as setup >> work >> teardown does in Airflow.',
                  HINT = 'Add the setup task first (setup => true) and name it in upstream, e.g. upstream => ARRAY[''create_scratch'', ''work''].';
    END IF;
END
$$;

CREATE FUNCTION pgetl._add_task(caller oid, p_pipeline text, p_name text, p_command text,
                                p_upstream text[], p_kind text, p_retries integer,
                                p_retry_delay interval, p_timeout interval, p_trigger_rule text,
                                p_config jsonb, p_retry_exponential_backoff boolean,
                                p_max_retry_delay interval, p_depends_on_past boolean DEFAULT false,
                                p_on_failure text DEFAULT NULL, p_on_success text DEFAULT NULL,
                                p_on_retry text DEFAULT NULL, p_setup boolean DEFAULT false,
                                p_teardown boolean DEFAULT false, p_on_failure_fail_run boolean DEFAULT false,
                                p_pool text DEFAULT NULL, p_pool_slots integer DEFAULT 1,
                                p_priority_weight integer DEFAULT 1, p_weight_rule text DEFAULT 'downstream',
                                p_map_over text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline := pgetl._pipeline_for(caller, p_pipeline, true);
    ups bigint[];
    id bigint;
    kinds text[] := ARRAY(SELECT kind FROM pgetl.task_kind ORDER BY position);
    rules text[] := ARRAY(SELECT rule FROM pgetl.trigger_rule ORDER BY position);
    tp pgetl.task_pool;
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
    PERFORM pgetl._check_callback('on_failure', p_on_failure);
    PERFORM pgetl._check_callback('on_success', p_on_success);
    PERFORM pgetl._check_callback('on_retry', p_on_retry);
    IF (SELECT needs_command FROM pgetl.task_kind k WHERE k.kind = p_kind)
       AND (p_command IS NULL OR btrim(p_command) = '') THEN
        RAISE EXCEPTION '% % task needs a command', CASE p_kind WHEN 'export' THEN 'an' ELSE 'a' END, p_kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = CASE p_kind WHEN 'sql' THEN 'Give the SQL to run, e.g. ''INSERT INTO t SELECT ...''.'
                         WHEN 'export' THEN 'Give the query whose rows to export, e.g. ''SELECT * FROM t ORDER BY id''.'
                         WHEN 'branch' THEN 'Give a query returning the names of the direct downstream tasks to follow, e.g. ''SELECT CASE WHEN count(*) > 0 THEN ''''load'''' ELSE ''''notify_empty'''' END FROM staging''.'
                         WHEN 'short_circuit' THEN 'Give a query whose first column says whether the downstream tasks run, e.g. ''SELECT count(*) > 0 FROM staging''.'
                         WHEN 'sensor' THEN 'Give a query whose first column says whether to stop waiting, e.g. ''SELECT EXISTS (SELECT FROM batches WHERE day = current_date)''.'
                         ELSE 'Give a query whose first column is the condition, e.g. ''SELECT count(*) > 0 AS has_rows FROM t''.' END;
    END IF;
    IF p_kind = 'load' THEN
        PERFORM pgetl._check_load_task(caller, p_config);
    ELSIF p_kind = 'check' THEN
        PERFORM pgetl._check_check_task(p_config);
    ELSIF p_kind = 'export' THEN
        PERFORM pgetl._check_export_task(p.owner, p_config);
    ELSIF p_kind = 'sensor' THEN
        PERFORM pgetl._check_sensor_task(p_config);
    ELSIF p_kind IN ('branch', 'short_circuit') THEN
        PERFORM pgetl._check_config_keys(p_kind, p_config, '{}',
            format('A %s task has no config: its command decides.', p_kind));
    END IF;
    IF p_pool_slots IS NULL OR p_pool_slots < 1 THEN
        RAISE EXCEPTION 'pool_slots must be 1 or more, not %', coalesce(p_pool_slots::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_pool IS NOT NULL THEN
        tp := pgetl._task_pool_for(p_pool, false);
        IF p_pool_slots > tp.slots THEN
            RAISE EXCEPTION 'task "%" cannot take % slots of task pool "%", which has %',
                    p_name, p_pool_slots, p_pool, tp.slots
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Give the task fewer pool_slots, or ask a pool administrator for more slots (pgetl_alter_pool).';
        END IF;
    END IF;
    IF p_priority_weight IS NULL THEN
        RAISE EXCEPTION 'priority_weight must not be null' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_weight_rule IS NULL OR p_weight_rule NOT IN ('downstream', 'upstream', 'absolute') THEN
        RAISE EXCEPTION 'unknown weight rule "%"', coalesce(p_weight_rule, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Valid weight rules: downstream, upstream, absolute.';
    END IF;
    PERFORM pgetl._check_map_over(p_name, p_map_over, p_kind, p_setup, p_teardown);
    ups := pgetl._resolve_upstream(caller, p, p_name, p_upstream);
    -- upstream NULL: the edges come later (pgetl_add_dependency, pgetl_apply)
    PERFORM pgetl._check_setup_teardown(p_name, p_setup, p_teardown, p_on_failure_fail_run, p_trigger_rule,
        CASE WHEN p_upstream IS NOT NULL THEN
             (SELECT count(*) FROM pgetl.task s WHERE s.task_id = ANY (ups) AND s.setup) END);
    INSERT INTO pgetl.task (pipeline_id, name, kind, command, config, retries, retry_delay,
                            retry_exponential_backoff, max_retry_delay, timeout, trigger_rule,
                            depends_on_past, on_failure, on_success, on_retry,
                            setup, teardown, on_failure_fail_run, pool, pool_slots, priority_weight, weight_rule,
                            map_over)
    VALUES (p.pipeline_id, p_name, p_kind, p_command, p_config, p_retries, p_retry_delay,
            coalesce(p_retry_exponential_backoff, false), p_max_retry_delay, p_timeout, p_trigger_rule,
            coalesce(p_depends_on_past, false), p_on_failure, p_on_success, p_on_retry,
            coalesce(p_setup, false), coalesce(p_teardown, false), coalesce(p_on_failure_fail_run, false),
            p_pool, p_pool_slots, p_priority_weight, p_weight_rule, p_map_over)
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
    ids bigint[];
BEGIN
    IF p_older_than IS NULL OR p_older_than < '0' THEN
        RAISE EXCEPTION 'older_than must be a non-negative interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(array_agg(run_id), '{}') INTO ids FROM pgetl.run_record
     WHERE state IN ('success', 'failed', 'cancelled')
       AND finished_at < clock_timestamp() - p_older_than
       AND pg_has_role(caller, owner, 'MEMBER');
    -- the loads of those runs (and their rejects) are part of their history
    DELETE FROM pgetl.load_record WHERE run_id = ANY (ids);
    -- task runs go with their run (ON DELETE CASCADE)
    DELETE FROM pgetl.run_record WHERE run_id = ANY (ids);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

COMMENT ON FUNCTION pgetl._check_login(oid, text) IS
'internal: raises an error unless the role exists (42704 naming the dropped role''s OID) and can log in (28000)';
COMMENT ON FUNCTION pgetl._owned_by(oid) IS
'internal: what a role owns in pgetl in this database, as text (NULL: nothing); for the DROP ROLE guard';
COMMENT ON FUNCTION pgetl._alter_pipeline(oid, text, boolean, text, integer, jsonb, regrole, integer, text, text, interval, integer, integer) IS
'internal: pgetl_alter_pipeline; returns the previous owner when the owner changed';
COMMENT ON FUNCTION pgetl._check_setup_teardown(text, boolean, boolean, boolean, text, bigint) IS
'internal: the rules of setup and teardown tasks (22023): not both, on_failure_fail_run for teardown tasks only, a teardown task''s trigger rule and upstream setup task';
COMMENT ON FUNCTION pgetl._check_new_owner(oid, oid, bigint[]) IS
'internal: may the caller give these pipelines to the new owner';
COMMENT ON FUNCTION pgetl._reassign_owned(oid, oid, oid) IS
'internal: pgetl_reassign_owned; returns the counts and the scheduled pipelines whose cron jobs must move';
COMMENT ON FUNCTION pgetl._check_pool_admin(oid, text) IS
'internal: raises 42501 unless the role is a superuser or a member of pgetl_pool_admin';
COMMENT ON FUNCTION pgetl._create_pool(oid, text, integer, text) IS 'internal: pgetl_create_pool';
COMMENT ON FUNCTION pgetl._alter_pool(oid, text, integer, text) IS 'internal: pgetl_alter_pool';
COMMENT ON FUNCTION pgetl._drop_pool(oid, text) IS 'internal: pgetl_drop_pool';
COMMENT ON FUNCTION pgetl._check_max_map_length(integer) IS
'internal: checks a pipeline''s max_map_length';
COMMENT ON FUNCTION pgetl._check_map_over(text, text, text, boolean, boolean) IS
'internal: checks a task''s map_over (dynamic task mapping)';

-- What this part's internal functions are for and who calls them (every
-- function has a COMMENT ON FUNCTION: test/style/sql_style_test.sh).
COMMENT ON FUNCTION pgetl._pipeline_for(oid, text, boolean) IS
'internal: the pipeline of that name if the caller may act on it (member of its owner), locked FOR UPDATE on request; called by the definition and schedule functions';
COMMENT ON FUNCTION pgetl._check_max_active_runs(integer) IS
'internal: checks max_active_runs (1 to 1024), for _create_pipeline and _alter_pipeline';
COMMENT ON FUNCTION pgetl._check_max_active_tasks(integer) IS
'internal: checks max_active_tasks (NULL or 1 to 1024), for _create_pipeline and _alter_pipeline';
COMMENT ON FUNCTION pgetl._task_pool_for(text, boolean) IS
'internal: a task pool by name, locked (FOR UPDATE to change it, FOR KEY SHARE to use it); for the pool functions and _add_task';
COMMENT ON FUNCTION pgetl._check_pool_slots(integer) IS
'internal: checks a task pool''s slots (1 to 100000), for _create_pool and _alter_pool';
COMMENT ON FUNCTION pgetl._create_pipeline(oid, text, text, integer, jsonb, integer, text, text, interval, integer, integer) IS
'internal: does the work of pgetl_create_pipeline (define.c) and of pgetl_apply: checks and stores a pipeline owned by the caller';
COMMENT ON FUNCTION pgetl._drop_pipeline(oid, text) IS
'internal: does the work of pgetl_drop_pipeline (define.c): drops a pipeline without an active run, keeping its run history';
COMMENT ON FUNCTION pgetl._resolve_upstream(oid, pgetl.pipeline, text, text[]) IS
'internal: upstream task names of a pipeline as ids, with an error for each way a name can be wrong; for _add_task and _add_dependency';
COMMENT ON FUNCTION pgetl._check_config_keys(text, jsonb, text[], text) IS
'internal: refuses (22023) the keys of a task config its kind does not know; for the task config checks of _add_task';
COMMENT ON FUNCTION pgetl._check_check_task(jsonb) IS
'internal: checks a check task''s config (an optional string "message"); called by _add_task';
COMMENT ON FUNCTION pgetl._check_export_task(oid, jsonb) IS
'internal: checks an export task''s config and that the pipeline owner may write server files (export.c, the check the task worker also makes); called by _add_task';
COMMENT ON FUNCTION pgetl._check_sensor_task(jsonb) IS
'internal: checks a sensor task''s config (poke_interval, mode, soft_fail); called by _add_task';
COMMENT ON FUNCTION pgetl._check_callback(text, text) IS
'internal: checks a callback (on_failure, on_success, on_retry): NULL or SQL that is not blank; for pipelines and tasks';
COMMENT ON FUNCTION pgetl._add_task(oid, text, text, text, text[], text, integer, interval, interval, text, jsonb, boolean, interval, boolean, text, text, text, boolean, boolean, boolean, text, integer, integer, text, text) IS
'internal: does the work of pgetl_add_task (define.c) and of pgetl_apply: checks a task, its kind''s config and its upstream tasks, and stores them';
COMMENT ON FUNCTION pgetl._add_dependency(oid, text, text, text[]) IS
'internal: does the work of pgetl_add_dependency (define.c) and of pgetl_apply: adds edges from upstream tasks to a task';
COMMENT ON FUNCTION pgetl._purge_history(oid, interval) IS
'internal: does the work of pgetl_purge_history (define.c): deletes the finished runs (and their loads) older than the interval that the caller may see; returns how many';
