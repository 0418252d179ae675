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

CREATE VIEW pgetl.schedules WITH (security_barrier) AS
SELECT p.name AS pipeline, p.owner, s.schedule, s.params, s.cron_jobname, s.cron_database,
       s.jobid, r.run_id AS last_run_id, r.state::text AS last_run_state,
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

-- The one schedule validator (src/schedule.c), for SQL.
CREATE FUNCTION pgetl._check_schedule(schedule text) RETURNS void
    AS 'MODULE_PATHNAME', 'pgetl_check_schedule_sql' LANGUAGE C;
COMMENT ON FUNCTION pgetl._check_schedule(text) IS
'internal: raises 22023 unless the text is a complete pg_cron schedule (5 fields, or a macro such as @daily)';

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
COMMENT ON FUNCTION pgetl._schedule_job(text) IS
'internal: the cron job of a scheduled pipeline, to recreate it for a new owner';
COMMENT ON FUNCTION pgetl._all_schedules() IS
'internal: every cron job of this database''s pipelines, removed by DROP EXTENSION pgetl';
