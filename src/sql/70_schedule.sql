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
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- data intervals (issue 11 §1): run the intervals missed while the
    -- server was down or the schedule paused; the first interval starts at
    -- or after start_date (midnight in timezone, the zone the schedule is
    -- read in); pgetl_pause_schedule sets paused; last_interval_end is the
    -- end of the latest interval a scheduled run was started for
    catchup         boolean NOT NULL DEFAULT false,
    start_date      date,
    timezone        text NOT NULL DEFAULT 'UTC',
    paused          boolean NOT NULL DEFAULT false,
    last_interval_end timestamptz
);
COMMENT ON TABLE pgetl.schedule IS 'pg_cron schedules of pipelines (read it through the view pgetl.schedules)';

-- pgetl_schedule(), before the cron job is created: the pipeline (locked
-- until the caller's transaction ends), its owner, the cron job's name and
-- the command it runs.  The owner must be able to connect to the cron
-- database: the worker that creates the job connects there as the owner.
CREATE FUNCTION pgetl._schedule_prepare(caller oid, p_pipeline text, p_schedule text, p_params jsonb,
                                        p_cron_database text, p_catchup boolean, p_start_date date,
                                        p_timezone text,
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
    IF p_catchup IS NULL THEN
        RAISE EXCEPTION 'catchup must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'true runs the intervals missed while the server was down or the schedule paused; false (the default) only the latest.';
    END IF;
    IF p_timezone IS NULL THEN
        RAISE EXCEPTION 'timezone must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Give a name from SELECT name FROM pg_timezone_names, e.g. ''UTC'' (the default) or ''Europe/Paris''.';
    END IF;
    IF btrim(p_timezone) = '' THEN
        RAISE EXCEPTION 'timezone must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a name from SELECT name FROM pg_timezone_names, e.g. ''UTC'' (the default) or ''Europe/Paris''.';
    END IF;
    IF p_start_date IS NOT NULL AND p_start_date > (now() AT TIME ZONE 'UTC')::date + 3660 THEN
        RAISE EXCEPTION 'start_date % is more than 10 years ahead', p_start_date
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'start_date is the day of the first data interval (in the schedule''s timezone); no run starts before it.';
    END IF;
    IF p_catchup AND p_schedule ~* '^\s*\d+\s+seconds?\s*$' THEN
        RAISE EXCEPTION 'catchup needs a cron schedule, not "%"', p_schedule
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A schedule in seconds has no data intervals to catch up; use catchup => false, or a cron schedule.';
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

-- pgetl_schedule(), once the cron job exists: record (or update) it.  A
-- schedule keeps its paused state and last interval when updated.
CREATE FUNCTION pgetl._schedule_record(p_pipeline_id bigint, p_schedule text, p_params jsonb,
                                       p_jobname text, p_cron_database text, p_jobid bigint,
                                       p_catchup boolean, p_start_date date, p_timezone text)
RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO pgetl.schedule (pipeline_id, schedule, params, cron_jobname, cron_database, jobid,
                                catchup, start_date, timezone)
    VALUES (p_pipeline_id, p_schedule, p_params, p_jobname, p_cron_database, p_jobid,
            p_catchup, p_start_date, p_timezone)
    ON CONFLICT (pipeline_id) DO UPDATE SET
        schedule = EXCLUDED.schedule, params = EXCLUDED.params,
        cron_jobname = EXCLUDED.cron_jobname, cron_database = EXCLUDED.cron_database,
        jobid = EXCLUDED.jobid, updated_at = pg_catalog.now(),
        catchup = EXCLUDED.catchup, start_date = EXCLUDED.start_date, timezone = EXCLUDED.timezone
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
       s.created_at, s.updated_at, s.catchup, s.start_date, s.timezone, s.paused,
       s.last_interval_end
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

CREATE FUNCTION @extschema@.pgetl_schedule(pipeline text, schedule text, params jsonb DEFAULT '{}',
                                           catchup boolean DEFAULT false, start_date date DEFAULT NULL,
                                           timezone text DEFAULT 'UTC')
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_schedule(text, text, jsonb, boolean, date, text) IS
'creates or updates the pg_cron job "<pipeline>@<database>" that runs the pipeline as its owner on a cron schedule read in timezone, one run per data interval (from one firing to the next) from start_date on; catchup: also the intervals missed while the server was down or the schedule paused; returns the cron job id';

CREATE FUNCTION @extschema@.pgetl_unschedule(pipeline text)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_unschedule(text) IS
'removes the pg_cron job of a pipeline scheduled with pgetl_schedule';

COMMENT ON FUNCTION pgetl._schedule_prepare(oid, text, text, jsonb, text, boolean, date, text) IS
'internal: checks a pgetl_schedule call and returns the cron job name and command';
COMMENT ON FUNCTION pgetl._schedule_record(bigint, text, jsonb, text, text, bigint, boolean, date, text) IS
'internal: records a pipeline''s cron job in pgetl.schedule';
COMMENT ON FUNCTION pgetl._unschedule_prepare(oid, text) IS
'internal: checks a pgetl_unschedule call and returns the cron job name';
COMMENT ON FUNCTION pgetl._unschedule_record(bigint) IS
'internal: forgets a pipeline''s cron job';
COMMENT ON FUNCTION pgetl._schedule_job(text) IS
'internal: the cron job of a scheduled pipeline, to recreate it for a new owner';
COMMENT ON FUNCTION pgetl._all_schedules() IS
'internal: every cron job of this database''s pipelines, removed by DROP EXTENSION pgetl';

-- ---- data intervals (issue 11 §1) ----
-- The cron evaluator (src/schedule.c): a schedule's first firing after t
-- (forward) or last firing before t, in a time zone; NULL: never.
CREATE FUNCTION pgetl._cron_step(schedule text, timezone text, t timestamptz, forward boolean)
RETURNS timestamptz AS 'MODULE_PATHNAME', 'pgetl_cron_step_sql' LANGUAGE C STABLE;
COMMENT ON FUNCTION pgetl._cron_step(text, text, timestamptz, boolean) IS
'internal: the first firing of a schedule after a time (forward) or its last firing before it, in a time zone; NULL when it never fires';

-- The schedule of the cron job: pg_cron 1.4 reads schedules in UTC, so a
-- schedule read in another time zone gets a job that fires every minute,
-- and pgetl starts a run when one of its intervals has ended.
CREATE FUNCTION pgetl._cron_schedule_of(p_schedule text, p_timezone text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN upper(p_timezone) IN ('UTC', 'ETC/UTC', 'GMT', 'ETC/GMT', 'UCT', 'ETC/UCT', 'ZULU', 'ETC/ZULU',
                                          'UNIVERSAL', 'ETC/UNIVERSAL', 'GMT0', 'ETC/GMT0')
                  OR p_schedule ~* '^\s*\d+\s+seconds?\s*$'
                THEN p_schedule ELSE '* * * * *' END
$$;
COMMENT ON FUNCTION pgetl._cron_schedule_of(text, text) IS
'internal: the schedule of a pipeline''s cron job: its own in UTC, every minute in another time zone';

-- The data intervals of a schedule that end after from_time and at or
-- before to_time, oldest first; the logical date of each is the date its
-- start falls on in the time zone.  Touches no table: SECURITY DEFINER
-- only to call the internal evaluator.
CREATE FUNCTION @extschema@.pgetl_schedule_intervals(schedule text, from_time timestamptz, to_time timestamptz,
                                                     timezone text DEFAULT 'UTC')
RETURNS TABLE (logical_date date, data_interval_start timestamptz, data_interval_end timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s timestamptz;
    e timestamptz;
    n integer := 0;
BEGIN
    IF schedule IS NULL OR from_time IS NULL OR to_time IS NULL OR timezone IS NULL THEN
        RAISE EXCEPTION 'schedule, from_time, to_time and timezone must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM pgetl._check_schedule(schedule);
    e := pgetl._cron_step(schedule, timezone, from_time, true);
    IF e IS NULL THEN
        RETURN;
    END IF;
    s := pgetl._cron_step(schedule, timezone, e, false);
    WHILE e <= to_time LOOP
        n := n + 1;
        IF n > 100000 THEN
            RAISE EXCEPTION 'more than 100000 data intervals from % to %', from_time, to_time
                USING ERRCODE = 'program_limit_exceeded', HINT = 'Ask for a shorter time range.';
        END IF;
        logical_date := (s AT TIME ZONE timezone)::date;
        data_interval_start := s;
        data_interval_end := e;
        RETURN NEXT;
        s := e;
        e := pgetl._cron_step(schedule, timezone, e, true);
        EXIT WHEN e IS NULL;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.pgetl_schedule_intervals(text, timestamptz, timestamptz, text) IS
'the data intervals of a cron schedule read in a time zone that end after from_time and at or before to_time, oldest first, with their logical dates (the date each starts on, in that zone)';

-- The data interval of a run not started by the schedule (pgetl_run,
-- pgetl_backfill) for a logical date: for a scheduled pipeline, the
-- schedule's interval that starts first on that date (in its time zone),
-- or, when none starts on it, the interval that date's midnight falls in;
-- for a pipeline without a schedule, [midnight UTC, same] (Airflow gives
-- an unscheduled run an empty interval at its logical date).
CREATE FUNCTION pgetl._date_interval(p_pipeline_id bigint, p_date date,
                                     OUT data_interval_start timestamptz, OUT data_interval_end timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    sc pgetl.schedule;
    m timestamptz;
BEGIN
    SELECT * INTO sc FROM pgetl.schedule WHERE pipeline_id = p_pipeline_id;
    IF NOT FOUND THEN
        data_interval_start := p_date::timestamp AT TIME ZONE 'UTC';
        data_interval_end := data_interval_start;
        RETURN;
    END IF;
    m := p_date::timestamp AT TIME ZONE sc.timezone;
    data_interval_start := pgetl._cron_step(sc.schedule, sc.timezone, m - interval '1 microsecond', true);
    IF data_interval_start IS NULL OR data_interval_start >= (p_date + 1)::timestamp AT TIME ZONE sc.timezone THEN
        data_interval_start := coalesce(pgetl._cron_step(sc.schedule, sc.timezone, m + interval '1 microsecond', false), m);
    END IF;
    data_interval_end := coalesce(pgetl._cron_step(sc.schedule, sc.timezone, data_interval_start, true),
                                  data_interval_start);
END
$$;
COMMENT ON FUNCTION pgetl._date_interval(bigint, date) IS
'internal: the data interval of a manual run or a backfill of a pipeline for a logical date';

-- The scheduler, in a run's first transaction: the run's data interval.
-- p_start NULL: a run not started by the schedule (pgetl._date_interval);
-- else a scheduled one, whose interval end becomes the schedule's
-- last_interval_end (catchup starts after it).
CREATE FUNCTION pgetl._set_run_interval(p_run_id bigint, p_start timestamptz, p_end timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r pgetl.run_record;
BEGIN
    SELECT * INTO r FROM pgetl.run_record WHERE run_id = p_run_id;
    IF p_start IS NULL THEN
        UPDATE pgetl.run_record rr SET data_interval_start = i.data_interval_start,
                                       data_interval_end = i.data_interval_end
          FROM pgetl._date_interval(r.pipeline_id, r.logical_date) i
         WHERE rr.run_id = p_run_id;
    ELSE
        UPDATE pgetl.run_record SET data_interval_start = p_start, data_interval_end = p_end
         WHERE run_id = p_run_id;
        UPDATE pgetl.schedule SET last_interval_end = greatest(last_interval_end, p_end)
         WHERE pipeline_id = r.pipeline_id;
    END IF;
END
$$;
COMMENT ON FUNCTION pgetl._set_run_interval(bigint, timestamptz, timestamptz) IS
'internal: records the data interval of a starting run (and the last scheduled interval of its pipeline)';

-- pgetl_run_due (and pgetl_run called by pg_cron for a scheduled
-- pipeline): the data intervals to start runs for at time p_at, oldest
-- first.  Without catchup, the latest interval that has ended; with it,
-- every interval that has ended since the lower bound: the end of the
-- last scheduled interval, or start_date, or else the interval the
-- schedule was created in.  Never before start_date; never an interval
-- that has a run already (any run of the pipeline with that
-- data_interval_start: catchup is idempotent).  The list stops before
-- the first interval whose logical date has an active run, or repeats
-- the date of an earlier one (a run is identified by its logical date:
-- the rest waits for the next firing).  Nothing while the schedule is
-- paused, or while another call holds the pipeline's schedule lock (then
-- p_busy).
CREATE FUNCTION pgetl._due_intervals(caller oid, p_pipeline text, p_at timestamptz)
RETURNS TABLE (logical_date date, data_interval_start timestamptz, data_interval_end timestamptz,
               params jsonb)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline := pgetl._pipeline_for(caller, p_pipeline);
    sc pgetl.schedule;
    lower_bound timestamptz;
    s timestamptz;
    e timestamptz;
    latest timestamptz;
    dates date[] := '{}';
    d date;
    n integer := 0;
BEGIN
    IF p_at IS NULL THEN
        RAISE EXCEPTION 'at must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_at > clock_timestamp() THEN
        RAISE EXCEPTION 'at % is in the future', p_at
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A data interval runs once it has ended; at defaults to now().';
    END IF;
    SELECT * INTO sc FROM pgetl.schedule sh WHERE sh.pipeline_id = p.pipeline_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pipeline "%" is not scheduled', p.name
            USING ERRCODE = 'undefined_object', HINT = 'Schedule it with pgetl_schedule().';
    END IF;
    IF sc.paused THEN
        RAISE NOTICE 'the schedule of pipeline "%" is paused', p.name
            USING HINT = format('Resume it with SELECT pgetl_unpause_schedule(%L).', p.name);
        RETURN;
    END IF;
    -- one caller at a time decides a pipeline's intervals (until its transaction ends)
    IF NOT pg_try_advisory_xact_lock(hashtext('pgetl.schedule'), (p.pipeline_id % 2147483648)::integer) THEN
        RAISE NOTICE 'another session is starting the due runs of pipeline "%"', p.name;
        RETURN;
    END IF;
    -- the latest interval that has ended by p_at
    latest := pgetl._cron_step(sc.schedule, sc.timezone, p_at + interval '1 microsecond', false);
    IF latest IS NULL THEN
        RETURN;
    END IF;
    lower_bound := greatest(sc.start_date::timestamp AT TIME ZONE sc.timezone, sc.last_interval_end);
    IF lower_bound IS NULL THEN
        lower_bound := pgetl._cron_step(sc.schedule, sc.timezone, sc.created_at + interval '1 microsecond', false);
    END IF;
    IF sc.catchup THEN
        s := pgetl._cron_step(sc.schedule, sc.timezone, lower_bound - interval '1 microsecond', true);
    ELSE
        s := pgetl._cron_step(sc.schedule, sc.timezone, latest, false);
        IF s < lower_bound THEN
            RETURN;
        END IF;
    END IF;
    WHILE s IS NOT NULL AND s < latest LOOP
        e := pgetl._cron_step(sc.schedule, sc.timezone, s, true);
        EXIT WHEN e IS NULL OR e > latest;
        n := n + 1;
        IF n > 10000 THEN
            RAISE NOTICE 'pipeline "%": more than 10000 intervals to catch up; the rest at the next firing', p.name;
            EXIT;
        END IF;
        d := (s AT TIME ZONE sc.timezone)::date;
        IF NOT EXISTS (SELECT FROM pgetl.run_record r
                        WHERE r.pipeline_id = p.pipeline_id AND r.data_interval_start = s) THEN
            EXIT WHEN d = ANY (dates) OR EXISTS (SELECT FROM pgetl.run_record r
                                                  WHERE r.pipeline_id = p.pipeline_id AND r.logical_date = d
                                                    AND r.state IN ('queued', 'running'));
            dates := dates || d;
            logical_date := d;
            data_interval_start := s;
            data_interval_end := e;
            params := sc.params;
            RETURN NEXT;
        END IF;
        s := e;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pgetl._due_intervals(oid, text, timestamptz) IS
'internal: the data intervals a scheduled pipeline has to start runs for at a time, oldest first (catchup, start_date, paused)';

-- Is the pipeline scheduled by pgetl_schedule?  (pgetl_run called by
-- pg_cron then starts the schedule's due intervals.)
CREATE FUNCTION pgetl._is_scheduled(p_pipeline text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT FROM pgetl.schedule s JOIN pgetl.pipeline p USING (pipeline_id) WHERE p.name = p_pipeline)
$$;
COMMENT ON FUNCTION pgetl._is_scheduled(text) IS
'internal: whether a pipeline has a schedule (pgetl_run called by pg_cron then runs its due intervals)';

CREATE FUNCTION @extschema@.pgetl_run_due(pipeline text, at timestamptz DEFAULT now(),
                                          dry_run boolean DEFAULT false, wait boolean DEFAULT false)
RETURNS TABLE (run_id bigint, logical_date date, data_interval_start timestamptz, data_interval_end timestamptz)
AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_run_due(text, timestamptz, boolean, boolean) IS
'starts a run for each data interval of a scheduled pipeline that is due at a time (what its cron job does when it fires): the latest interval that has ended, or with catchup every one missed since the last, oldest first; dry_run lists them without running; returns the runs';

-- Pausing a schedule (Airflow's paused DAG): the cron job stays and fires,
-- pgetl starts no run while paused; on unpause, a schedule with catchup
-- runs the intervals missed meanwhile at its next firing (or at once with
-- pgetl_run_due), one without catchup only the latest.
CREATE FUNCTION pgetl._set_schedule_paused(caller oid, p_pipeline text, p_paused boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pgetl.pipeline := pgetl._pipeline_for(caller, p_pipeline);
BEGIN
    UPDATE pgetl.schedule SET paused = p_paused, updated_at = now() WHERE pipeline_id = p.pipeline_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pipeline "%" is not scheduled', p.name
            USING ERRCODE = 'undefined_object', HINT = 'See SELECT * FROM pgetl.schedules for scheduled pipelines.';
    END IF;
END
$$;
COMMENT ON FUNCTION pgetl._set_schedule_paused(oid, text, boolean) IS
'internal: pauses or resumes a pipeline''s schedule (pgetl_pause_schedule, pgetl_unpause_schedule)';

CREATE FUNCTION @extschema@.pgetl_pause_schedule(pipeline text)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_pause_schedule(text) IS
'pauses a pipeline''s schedule: its cron job stays, but starts no run until pgetl_unpause_schedule';
CREATE FUNCTION @extschema@.pgetl_unpause_schedule(pipeline text)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_unpause_schedule(text) IS
'resumes a paused schedule: at its next firing (or pgetl_run_due), with catchup the intervals missed meanwhile run, oldest first; without, only the latest';
