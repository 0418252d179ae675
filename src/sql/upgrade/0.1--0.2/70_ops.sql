-- Operations (0.2): schedule validation, owners that were dropped and
-- reassignment, DROP EXTENSION removing cron jobs (src/ownership.c),
-- exports renamed at commit (no SQL change), retention of history.
-- Fresh installs: src/sql/30_define.sql, 50_api.sql, 70_schedule.sql,
-- 80_retention.sql.

-- pgetl validates cron schedules itself (src/schedule.c).
CREATE FUNCTION pgetl._check_schedule(schedule text) RETURNS void
    AS 'MODULE_PATHNAME', 'pgetl_check_schedule_sql' LANGUAGE C;
COMMENT ON FUNCTION pgetl._check_schedule(text) IS
'internal: raises 22023 unless the text is a complete pg_cron schedule (5 fields, or a macro such as @daily)';

-- Owners: a dropped owner is named; reassignment.
--@function pgetl._check_login
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

DROP FUNCTION pgetl._alter_pipeline(oid, text, boolean, text, integer, jsonb);
-- Returns the previous owner when the owner changed (the caller then moves
-- the pipeline's cron job), else NULL.
CREATE FUNCTION pgetl._alter_pipeline(caller oid, p_name text, p_enabled boolean, p_description text,
                                      p_max_parallel integer, p_params jsonb, p_owner regrole)
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
    IF p_owner IS NOT NULL AND p_owner::oid <> p.owner::oid THEN
        PERFORM pgetl._check_new_owner(caller, p_owner, ARRAY[p.pipeline_id]);
    END IF;
    UPDATE pgetl.pipeline SET
        enabled = coalesce(p_enabled, enabled),
        description = coalesce(p_description, description),
        max_parallel = coalesce(p_max_parallel, max_parallel),
        params = coalesce(p_params, params),
        owner = coalesce(p_owner, owner)
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
          FROM pgetl.run_record WHERE pipeline_id = ANY (pipelines) AND state = 'running';
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

--@function pgetl._purge_history

COMMENT ON FUNCTION pgetl._check_login(oid, text) IS
'internal: raises an error unless the role exists (42704 naming the dropped role''s OID) and can log in (28000)';

COMMENT ON FUNCTION pgetl._owned_by(oid) IS
'internal: what a role owns in pgetl in this database, as text (NULL: nothing); for the DROP ROLE guard';

COMMENT ON FUNCTION pgetl._alter_pipeline(oid, text, boolean, text, integer, jsonb, regrole) IS
'internal: pgetl_alter_pipeline; returns the previous owner when the owner changed';

COMMENT ON FUNCTION pgetl._check_new_owner(oid, oid, bigint[]) IS
'internal: may the caller give these pipelines to the new owner';

COMMENT ON FUNCTION pgetl._reassign_owned(oid, oid, oid) IS
'internal: pgetl_reassign_owned; returns the counts and the scheduled pipelines whose cron jobs must move';


DROP FUNCTION @extschema@.pgetl_alter_pipeline(text, boolean, text, integer, jsonb);
CREATE FUNCTION @extschema@.pgetl_alter_pipeline(
    name text, enabled boolean DEFAULT NULL, description text DEFAULT NULL,
    max_parallel integer DEFAULT NULL, params jsonb DEFAULT NULL, owner regrole DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_alter_pipeline(text, boolean, text, integer, jsonb, regrole) IS
'enables or disables a pipeline, or changes its description, max_parallel, default params or owner (NULL keeps a setting); a new owner gets the pipeline''s cron job too';


CREATE FUNCTION @extschema@.pgetl_reassign_owned(old_role regrole, new_role regrole)
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_reassign_owned(regrole, regrole) IS
'like REASSIGN OWNED, for pgetl in this database: the pipelines (with their cron jobs), load specs, staged data and history of old_role (which may be a dropped role, given by OID) become new_role''s; returns the number of pipelines, load specs and staged data sets reassigned';

COMMENT ON FUNCTION @extschema@.pgetl_purge_history(interval) IS
'deletes finished runs (with their task runs, loads and rejects) that ended more than the interval ago, of pipelines you are a member of the owner of; returns the number of runs deleted';


-- Cron jobs of a new owner, and of a dropped extension.
-- A scheduled pipeline's cron job, to move it to a new owner (no row when
-- the pipeline is not scheduled).  The caller checked the rights.
CREATE FUNCTION pgetl._schedule_job(p_pipeline text, OUT pipeline_id bigint, OUT schedule text,
                                    OUT jobname text, OUT command text, OUT jobid bigint)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT p.pipeline_id, s.schedule, s.cron_jobname,
           format('SELECT %I.pgetl_run(%L, params => %L::jsonb)',
                  (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                    WHERE e.extname = 'pgetl'), p.name, s.params),
           s.jobid
      FROM pgetl.schedule s JOIN pgetl.pipeline p USING (pipeline_id)
     WHERE p.name = p_pipeline
$$;

-- DROP EXTENSION pgetl: the cron jobs to remove (src/ownership.c).
CREATE FUNCTION pgetl._all_schedules(OUT owner oid, OUT jobname text, OUT jobid bigint)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT p.owner::oid, s.cron_jobname, s.jobid
      FROM pgetl.schedule s JOIN pgetl.pipeline p USING (pipeline_id)
$$;

COMMENT ON FUNCTION pgetl._schedule_job(text) IS
'internal: the cron job of a scheduled pipeline, to recreate it for a new owner';

COMMENT ON FUNCTION pgetl._all_schedules() IS
'internal: every cron job of this database''s pipelines, removed by DROP EXTENSION pgetl';


-- Retention (src/sql/80_retention.sql).  Loads whose run was purged
-- before 0.2 lose their run_id, so that the foreign key holds.
UPDATE pgetl.load_record l SET run_id = NULL
 WHERE run_id IS NOT NULL AND NOT EXISTS (SELECT FROM pgetl.run_record r WHERE r.run_id = l.run_id);
ALTER TABLE pgetl.load_record ADD FOREIGN KEY (run_id) REFERENCES pgetl.run_record ON DELETE SET NULL;
CREATE INDEX ON pgetl.load_record (run_id);
CREATE INDEX ON pgetl.load_record (finished_at);

-- One batch of the background purge, as the extension owner: deletes up to
-- p_batch rows of one kind of history older than p_older_than, oldest
-- kinds first (the rejects of old loads, old loads, the task runs of old
-- runs, old runs); returns the number of rows deleted (0: nothing left).
CREATE FUNCTION pgetl._purge_expired(p_older_than interval, p_batch integer) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cutoff timestamptz := clock_timestamp() - p_older_than;
    n bigint;
BEGIN
    IF p_older_than IS NULL OR p_older_than <= '0' THEN
        RETURN 0;               -- keep forever
    END IF;
    DELETE FROM pgetl.reject_record WHERE reject_id IN (
        SELECT j.reject_id FROM pgetl.load_record l JOIN pgetl.reject_record j USING (load_id)
         WHERE l.finished_at < cutoff LIMIT p_batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN RETURN n; END IF;
    DELETE FROM pgetl.load_record WHERE load_id IN (
        SELECT load_id FROM pgetl.load_record WHERE finished_at < cutoff LIMIT p_batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN RETURN n; END IF;
    DELETE FROM pgetl.task_run_record WHERE task_run_id IN (
        SELECT t.task_run_id FROM pgetl.run_record r JOIN pgetl.task_run_record t USING (run_id)
         WHERE r.state IN ('success', 'failed', 'cancelled') AND r.finished_at < cutoff LIMIT p_batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN RETURN n; END IF;
    DELETE FROM pgetl.run_record WHERE run_id IN (
        SELECT run_id FROM pgetl.run_record
         WHERE state IN ('success', 'failed', 'cancelled') AND finished_at < cutoff LIMIT p_batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION pgetl._purge_expired(interval, integer) IS
'internal: one batch of the background purge of history older than pgetl.history_retention; returns the rows deleted';

CREATE FUNCTION pgetl._purge_loads(caller oid, p_older_than interval) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    IF p_older_than IS NULL OR p_older_than < '0' THEN
        RAISE EXCEPTION 'older_than must be a non-negative interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- rejects go with their load (ON DELETE CASCADE)
    DELETE FROM pgetl.load_record
     WHERE finished_at < clock_timestamp() - p_older_than
       AND pg_has_role(caller, owner, 'MEMBER');
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION pgetl._purge_loads(oid, interval) IS
'internal: pgetl_purge_loads';

CREATE FUNCTION @extschema@.pgetl_purge_loads(older_than interval DEFAULT '30 days')
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_purge_loads(interval) IS
'deletes loads (load history and their rejects) that finished more than the interval ago, of load specs you are a member of the owner of; returns the number of loads deleted';

REVOKE ALL ON FUNCTION pgetl._check_schedule(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._owned_by(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._alter_pipeline(oid, text, boolean, text, integer, jsonb, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._check_new_owner(oid, oid, bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._reassign_owned(oid, oid, oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._schedule_job(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._all_schedules() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._purge_expired(interval, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._purge_loads(oid, interval) FROM PUBLIC;
