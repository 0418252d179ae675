-- Run history: one row per run, one row per task try.  Triggers keep it
-- consistent: timestamps, durations, legal state changes, and NOTIFY
-- pgetl_run on every state change.  Task counts per run are computed by the
-- view pgetl.pipeline_run from the latest try of each task, not stored, so
-- that history restored by pg_restore (rows inserted as they were, see
-- test/upgrade/dump_test.sh) is counted once.

-- The state machine of runs and task tries, in one place: the states (enum
-- types, in the order of their life) and the only legal changes (the
-- tables pgetl.run_state_transition and pgetl.task_state_transition, read
-- by the triggers below; a row with from_state NULL is the state a new row
-- starts in).  src/task_states.h names the same states for the C code.
-- The transition tables are catalog data, filled by CREATE EXTENSION and
-- not dumped by pg_dump (not configuration tables).
CREATE TYPE pgetl.run_state AS ENUM ('queued', 'running', 'success', 'failed', 'cancelled');
COMMENT ON TYPE pgetl.run_state IS 'the state of a pipeline run (pgetl.run_state_transition: its legal changes)';
CREATE TYPE pgetl.task_state AS ENUM ('scheduled', 'queued', 'running', 'success', 'failed',
                                      'up_for_retry', 'up_for_reschedule', 'upstream_failed',
                                      'skipped', 'cancelled');
COMMENT ON TYPE pgetl.task_state IS 'the state of a task try (pgetl.task_state_transition: its legal changes)';

CREATE TABLE pgetl.run_state_transition (
    from_state      pgetl.run_state,
    to_state        pgetl.run_state NOT NULL,
    UNIQUE NULLS NOT DISTINCT (from_state, to_state)
);
COMMENT ON TABLE pgetl.run_state_transition IS 'the legal state changes of a run (from_state NULL: the state a run starts in)';
-- Only pgetl_resume() and pgetl_clear() move a finished run back to
-- running (pgetl_clear() also a successful one).  A run asked for while
-- its pipeline has max_active_runs active runs starts (or is resumed)
-- queued, and runs when one of them finishes; a queued run may be
-- cancelled, or failed when its scheduler dies.
INSERT INTO pgetl.run_state_transition (from_state, to_state) VALUES
    (NULL, 'queued'), (NULL, 'running'),
    ('queued', 'running'), ('queued', 'failed'), ('queued', 'cancelled'),
    ('running', 'success'), ('running', 'failed'), ('running', 'cancelled'),
    ('failed', 'running'), ('cancelled', 'running'), ('success', 'running'),
    ('failed', 'queued'), ('cancelled', 'queued'), ('success', 'queued');

CREATE TABLE pgetl.task_state_transition (
    from_state      pgetl.task_state,
    to_state        pgetl.task_state NOT NULL,
    UNIQUE NULLS NOT DISTINCT (from_state, to_state)
);
COMMENT ON TABLE pgetl.task_state_transition IS 'the legal state changes of a task try (from_state NULL: the state a try starts in)';
-- Tries only move forward; a retry or a resume is a new row with the next
-- try_number.  A queued try waits for a task worker; the worker's one
-- transaction records its outcome (success with the task's work; failed
-- or up_for_retry after a rollback; skipped after a rollback when the task
-- called pgetl_skip()).  'running' is stored only for a mapped task's
-- try whose instances run (see below); otherwise the views
-- show a queued try that a worker holds as running, from shared memory
-- (pgetl._running_tasks()), so that a try costs one commit.  A sensor
-- in mode reschedule whose poke was false goes up_for_reschedule, holding
-- no worker, and back to queued when its next poke is due (next_poke_at),
-- in the same try: a reschedule is not a retry (Airflow's).
INSERT INTO pgetl.task_state_transition (from_state, to_state) VALUES
    (NULL, 'scheduled'),
    ('scheduled', 'queued'), ('scheduled', 'upstream_failed'), ('scheduled', 'skipped'),
    ('scheduled', 'cancelled'),
    ('queued', 'success'), ('queued', 'failed'), ('queued', 'up_for_retry'), ('queued', 'cancelled'),
    ('queued', 'skipped'),
    ('queued', 'up_for_reschedule'), ('up_for_reschedule', 'queued'), ('up_for_reschedule', 'cancelled');
-- A mapped task's own try (map_index NULL) that expanded into mapped
-- instances is running (stored) while they run, then takes the state
-- they add up to (pgetl._map_aggregate).
INSERT INTO pgetl.task_state_transition (from_state, to_state) VALUES
    ('queued', 'running'), ('running', 'success'), ('running', 'failed'), ('running', 'skipped'),
    ('running', 'upstream_failed'), ('running', 'cancelled');
-- A finished try of a finished run changes only by hand
-- (pgetl_set_task_state(), Airflow's mark success / mark failed), which
-- records who and when in marked_by and marked_at.
INSERT INTO pgetl.task_state_transition (from_state, to_state)
SELECT f, t FROM unnest('{success,failed,upstream_failed,skipped,cancelled}'::pgetl.task_state[]) f,
                 unnest('{success,failed,skipped}'::pgetl.task_state[]) t
 WHERE f <> t;

CREATE TABLE pgetl.run_record (
    run_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline_id     bigint REFERENCES pgetl.pipeline ON DELETE SET NULL,
    pipeline        text NOT NULL,
    owner           regrole NOT NULL,
    state           pgetl.run_state NOT NULL DEFAULT 'running',
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
    -- the pipeline's definition version the run ran (of its last start or
    -- resume): pgetl.pipeline_version
    definition_version integer,
    note            text,
    -- the error of the pipeline's callback (on_failure, on_success) for
    -- the run's last outcome; NULL: none, or it succeeded
    callback_error  text,
    -- the outcome (success, failed) whose pipeline callback has yet to
    -- run: set in the transaction that ends the run, cleared in the
    -- callback's own; a server restart or a scheduler's exit leaves it
    -- for the next scheduler (pgetl._pending_callbacks)
    callback_pending pgetl.run_state,
    -- the run's data interval (Airflow's data_interval_start/_end): of a
    -- scheduled run, from one firing of the schedule to the next; of a
    -- manual run or a backfill, see pgetl._date_interval
    data_interval_start timestamptz,
    data_interval_end timestamptz
);
-- A run is identified by (pipeline, logical_date): at most one active
-- (queued or running) run per pipeline and logical date, enforced by the
-- database.  How many dates run at once is the pipeline's max_active_runs.
CREATE UNIQUE INDEX run_record_one_active ON pgetl.run_record (pipeline_id, logical_date)
    WHERE state IN ('queued', 'running');
CREATE INDEX ON pgetl.run_record (pipeline, run_id);
CREATE INDEX ON pgetl.run_record (pipeline_id);
CREATE INDEX ON pgetl.run_record (finished_at);
CREATE INDEX ON pgetl.run_record (run_id) WHERE callback_pending IS NOT NULL;
COMMENT ON TABLE pgetl.run_record IS 'pipeline runs (read it through the view pgetl.pipeline_run)';

-- pgetl_cancel_backfill(): when a backfill of the pipeline was last asked
-- to stop.  A running backfill (pgetl_backfill, src/run.c) reads it, as
-- last committed, before it starts each date: a request made after the
-- backfill began stops it.
CREATE TABLE pgetl.backfill_cancel (
    pipeline_id     bigint PRIMARY KEY REFERENCES pgetl.pipeline ON DELETE CASCADE,
    requested_at    timestamptz NOT NULL,
    requested_by    text NOT NULL
);
COMMENT ON TABLE pgetl.backfill_cancel IS 'the last request to stop the backfills of a pipeline (pgetl_cancel_backfill)';

CREATE TABLE pgetl.task_run_record (
    task_run_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          bigint NOT NULL REFERENCES pgetl.run_record ON DELETE CASCADE,
    task_id         bigint REFERENCES pgetl.task ON DELETE SET NULL,
    task            text NOT NULL,
    try_number      integer NOT NULL CHECK (try_number >= 1),
    max_tries       integer NOT NULL DEFAULT 1,
    state           pgetl.task_state NOT NULL DEFAULT 'scheduled',
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
    note            text,
    marked_by       text,
    marked_at       timestamptz,
    -- sensors in mode reschedule: how often the try was rescheduled (a
    -- reschedule is not a retry), and when it is poked next
    reschedules     integer NOT NULL DEFAULT 0,
    next_poke_at    timestamptz,
    -- the error of the task's callback for this try (on_failure,
    -- on_success, on_retry); NULL: none, or it succeeded
    callback_error  text,
    -- dynamic task mapping: a mapped instance's index (0..n-1) and the row
    -- of the task's map_over it runs with; NULL for the task's own tries
    -- (of a mapped task: its expansion, whose state sums up its instances)
    map_index       integer CHECK (map_index >= 0),
    map_value       jsonb,
    UNIQUE NULLS NOT DISTINCT (run_id, task, map_index, try_number)
);
CREATE INDEX ON pgetl.task_run_record (task_id);
COMMENT ON TABLE pgetl.task_run_record IS 'one row per task try (read it through the view pgetl.task_run)';
-- A try's row is updated once or twice after its insert (queued, then its
-- outcome), in the task's own transaction: room in its page lets the
-- updates be HOT (no index entries), which halves the WAL per try.
ALTER TABLE pgetl.task_run_record SET (fillfactor = 50);

CREATE FUNCTION pgetl._task_run_before() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    now_ts timestamptz := clock_timestamp();
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- A new try starts in the state pgetl.task_state_transition gives
        -- (scheduled).  A row in another state is history being restored
        -- (pg_restore of pgetl's tables), kept as it is when its timestamps
        -- agree with its state.
        IF EXISTS (SELECT FROM pgetl.task_state_transition
                    WHERE from_state IS NULL AND to_state = NEW.state) THEN
            NEW.scheduled_at := now_ts;
        ELSIF (CASE NEW.state WHEN 'scheduled' THEN false
                              WHEN 'queued' THEN NEW.queued_at IS NULL
                              WHEN 'running' THEN NEW.started_at IS NULL
                              WHEN 'up_for_reschedule' THEN NEW.started_at IS NULL
                              ELSE NEW.finished_at IS NULL END) THEN
            RAISE EXCEPTION 'a task run starts in state %, not %',
                    (SELECT string_agg(to_state::text, ' or ' ORDER BY to_state)
                       FROM pgetl.task_state_transition WHERE from_state IS NULL), NEW.state
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'Only restored history, with the timestamps of its state, is inserted in another state.';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.state = OLD.state THEN
        RETURN NEW;
    END IF;
    IF NOT EXISTS (SELECT FROM pgetl.task_state_transition
                    WHERE from_state = OLD.state AND to_state = NEW.state) THEN
        RAISE EXCEPTION 'illegal state change for task "%" (run %, try %): % -> %',
                OLD.task, OLD.run_id, OLD.try_number, OLD.state, NEW.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A task try moves scheduled -> queued -> running -> success, failed or up_for_retry; finished tries change only by pgetl_set_task_state().',
                  HINT = 'Re-run finished tasks with pgetl_resume(run_id), which adds a new try.';
    END IF;
    CASE NEW.state
        WHEN 'queued' THEN NEW.queued_at := now_ts;
        WHEN 'running' THEN NEW.started_at := now_ts;
        -- a sensor between two pokes has not finished
        WHEN 'up_for_reschedule' THEN NULL;
        ELSE
            -- a finished try marked by hand keeps when it finished
            IF OLD.finished_at IS NULL THEN
                NEW.finished_at := now_ts;
                NEW.duration := now_ts - NEW.started_at;
            END IF;
    END CASE;
    RETURN NEW;
END
$$;
CREATE TRIGGER task_run_before BEFORE INSERT OR UPDATE OF state ON pgetl.task_run_record
    FOR EACH ROW EXECUTE FUNCTION pgetl._task_run_before();

-- Notify listeners of every task state change, unless pgetl.notify is
-- 'runs' (the server's setting: run state changes only).  A NOTIFY
-- serializes the commits that send one (PostgreSQL holds a lock on the
-- notification queue until each such commit ends), so tasks that commit
-- in parallel wait for one another; 'runs' lifts that.
CREATE FUNCTION pgetl._task_run_after() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.state = OLD.state THEN
        RETURN NULL;
    END IF;
    IF current_setting('pgetl.notify', true) = 'runs' THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('pgetl_run', jsonb_build_object(
        'run_id', NEW.run_id, 'task_run_id', NEW.task_run_id, 'try_number', NEW.try_number,
        'old_state', CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END, 'state', NEW.state)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER task_run_after AFTER INSERT OR UPDATE OF state ON pgetl.task_run_record
    FOR EACH ROW EXECUTE FUNCTION pgetl._task_run_after();

CREATE FUNCTION pgetl._run_before() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    now_ts timestamptz := clock_timestamp();
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.state = OLD.state THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND NOT EXISTS (SELECT FROM pgetl.run_state_transition
                                         WHERE from_state = OLD.state AND to_state = NEW.state) THEN
        RAISE EXCEPTION 'illegal state change for run %: % -> %', OLD.run_id, OLD.state, NEW.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A run moves (queued ->) running -> success, failed or cancelled; a finished run runs again only through pgetl_resume() or pgetl_clear().',
                  HINT = 'Start a new run with pgetl_run(), resume a failed one with pgetl_resume(), or re-run tasks of a finished one with pgetl_clear().';
    END IF;
    IF TG_OP = 'INSERT' AND NOT EXISTS (SELECT FROM pgetl.run_state_transition
                                         WHERE from_state IS NULL AND to_state = NEW.state) THEN
        -- a finished run being restored (pg_restore) is kept as it is
        IF NEW.finished_at IS NULL THEN
            RAISE EXCEPTION 'a run starts in state %, not %',
                    (SELECT string_agg(to_state::text, ' or ' ORDER BY to_state)
                       FROM pgetl.run_state_transition WHERE from_state IS NULL), NEW.state
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'Only restored history, with its finish time, is inserted in another state.';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.state = 'running' THEN
        NEW.started_at := coalesce(NEW.started_at, now_ts);
        NEW.finished_at := NULL;
        NEW.duration := NULL;
    ELSIF NEW.state = 'queued' THEN
        -- waits for a free place among max_active_runs: not started yet
        -- (a resumed run keeps when it first started)
        NEW.finished_at := NULL;
        NEW.duration := NULL;
    ELSE
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
        'run_id', NEW.run_id,
        'old_state', CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END,
        'state', NEW.state)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER run_after AFTER INSERT OR UPDATE OF state ON pgetl.run_record
    FOR EACH ROW EXECUTE FUNCTION pgetl._run_after();

-- The task tries that task workers of this database hold now (shared
-- memory, src/pool.c): the views show them running.  Executable by every
-- role (src/sql/99_privileges.sql), as the views need: it shows ids, pids
-- and start times, which pg_stat_activity shows too.
CREATE FUNCTION pgetl._running_tasks(OUT task_run_id bigint, OUT pid integer, OUT started_at timestamptz)
RETURNS SETOF record AS 'MODULE_PATHNAME', 'pgetl_running_tasks' LANGUAGE C VOLATILE;

-- What users read.  A role sees the runs of pipelines whose owner it is a
-- member of (superusers see all).  States read as text, as they always
-- have (string_agg(state, ...), comparisons with text work as before).
CREATE VIEW pgetl.pipeline_run WITH (security_barrier) AS
SELECT r.run_id, r.pipeline, r.state::text AS state, r.params, r.logical_date,
       r.started_at, r.finished_at, r.duration, r.started_by, r.owner,
       r.reason, r.resumed,
       c.tasks_total, c.tasks_scheduled, c.tasks_queued, c.tasks_running, c.tasks_success,
       c.tasks_failed, c.tasks_up_for_retry, c.tasks_up_for_reschedule, c.tasks_upstream_failed,
       c.tasks_skipped, c.tasks_cancelled, r.queued_at, r.definition_version, r.note,
       r.data_interval_start, r.data_interval_end
  FROM pgetl.run_record r
 CROSS JOIN LATERAL (
       SELECT count(*)::integer AS tasks_total,
              count(*) FILTER (WHERE l.state = 'scheduled')::integer AS tasks_scheduled,
              count(*) FILTER (WHERE l.state = 'queued')::integer AS tasks_queued,
              count(*) FILTER (WHERE l.state = 'running')::integer AS tasks_running,
              count(*) FILTER (WHERE l.state = 'success')::integer AS tasks_success,
              count(*) FILTER (WHERE l.state = 'failed')::integer AS tasks_failed,
              count(*) FILTER (WHERE l.state = 'up_for_retry')::integer AS tasks_up_for_retry,
              count(*) FILTER (WHERE l.state = 'up_for_reschedule')::integer AS tasks_up_for_reschedule,
              count(*) FILTER (WHERE l.state = 'upstream_failed')::integer AS tasks_upstream_failed,
              count(*) FILTER (WHERE l.state = 'skipped')::integer AS tasks_skipped,
              count(*) FILTER (WHERE l.state = 'cancelled')::integer AS tasks_cancelled
         FROM (SELECT DISTINCT ON (t.task)
                      CASE WHEN w.task_run_id IS NOT NULL THEN 'running' ELSE t.state::text END AS state
                 FROM pgetl.task_run_record t
                 LEFT JOIN pgetl._running_tasks() w ON w.task_run_id = t.task_run_id AND t.state = 'queued'
                WHERE t.run_id = r.run_id AND t.map_index IS NULL
                ORDER BY t.task, t.try_number DESC) l) c
 WHERE pg_catalog.pg_has_role(r.owner, 'MEMBER');
COMMENT ON VIEW pgetl.pipeline_run IS 'pipeline runs you may see: state, timing, who started it, task counts by state, note';

-- A queued try that a task worker holds is shown running, with the
-- worker's pid and start time (shared memory: pgetl._running_tasks()).
CREATE VIEW pgetl.task_run WITH (security_barrier) AS
SELECT t.run_id, r.pipeline, t.task, t.try_number,
       CASE WHEN w.task_run_id IS NOT NULL THEN 'running' ELSE t.state::text END AS state,
       t.scheduled_at, t.queued_at, coalesce(t.started_at, w.started_at) AS started_at,
       t.finished_at, t.duration,
       coalesce(t.pid, w.pid) AS pid, t.result, t.rows, t.error, t.sqlstate, t.detail, t.hint, t.context,
       t.task_run_id, t.note, t.marked_by, t.marked_at, t.map_index
  FROM pgetl.task_run_record t
  JOIN pgetl.run_record r USING (run_id)
  LEFT JOIN pgetl._running_tasks() w ON w.task_run_id = t.task_run_id AND t.state = 'queued'
 WHERE pg_catalog.pg_has_role(r.owner, 'MEMBER');
COMMENT ON VIEW pgetl.task_run IS 'task tries you may see: one row per try, with result or error, note, who marked its state by hand, and the map_index of a mapped instance';

-- Callbacks that failed (the error of a task's or a pipeline's callback
-- never changes the state it reports: it is kept apart, here).  task NULL:
-- the pipeline's callback for the run's outcome.
CREATE VIEW pgetl.callback_failure WITH (security_barrier) AS
SELECT r.run_id, r.pipeline, NULL::text AS task, NULL::integer AS try_number, r.state::text AS state,
       r.finished_at, r.callback_error
  FROM pgetl.run_record r
 WHERE r.callback_error IS NOT NULL AND pg_catalog.pg_has_role(r.owner, 'MEMBER')
UNION ALL
SELECT t.run_id, r.pipeline, t.task, t.try_number, t.state::text, t.finished_at, t.callback_error
  FROM pgetl.task_run_record t
  JOIN pgetl.run_record r USING (run_id)
 WHERE t.callback_error IS NOT NULL AND pg_catalog.pg_has_role(r.owner, 'MEMBER');
COMMENT ON VIEW pgetl.callback_failure IS 'callbacks that failed, of runs you may see: the run or task try whose state they reported, and their error';
GRANT SELECT ON pgetl.callback_failure TO PUBLIC;

CREATE VIEW pgetl.pipelines WITH (security_barrier) AS
SELECT p.name AS pipeline, p.owner, p.description, p.max_parallel, p.params,
       p.enabled, p.created_at,
       (SELECT count(*) FROM pgetl.task t WHERE t.pipeline_id = p.pipeline_id) AS tasks,
       p.max_active_runs, p.max_active_tasks, p.run_timeout, p.on_failure, p.on_success,
       p.max_map_length
  FROM pgetl.pipeline p
 WHERE pg_catalog.pg_has_role(p.owner, 'MEMBER');
COMMENT ON VIEW pgetl.pipelines IS 'pipelines you may see, with their settings (caps on active runs and tasks, run timeout, callbacks, max_map_length)';

CREATE VIEW pgetl.tasks WITH (security_barrier) AS
SELECT p.name AS pipeline, t.name AS task, t.kind, t.command, t.config,
       ARRAY(SELECT u.name FROM pgetl.task_dependency d
               JOIN pgetl.task u ON u.task_id = d.upstream_task_id
              WHERE d.task_id = t.task_id ORDER BY u.name) AS upstream,
       CASE WHEN t.teardown THEN 'all_done_setup_success' ELSE t.trigger_rule END AS trigger_rule,
       t.retries, t.retry_delay, t.retry_exponential_backoff,
       t.max_retry_delay, t.timeout, t.setup, t.teardown, t.on_failure_fail_run,
       t.depends_on_past, t.pool, t.pool_slots, t.priority_weight, t.weight_rule,
       t.on_failure, t.on_success, t.on_retry, t.map_over
  FROM pgetl.task t JOIN pgetl.pipeline p USING (pipeline_id)
 WHERE pg_catalog.pg_has_role(p.owner, 'MEMBER');
COMMENT ON VIEW pgetl.tasks IS 'tasks of pipelines you may see, with their upstream tasks, the trigger rule they run by, whether they are setup or teardown tasks, and their other settings (depends_on_past, pool, priority weight, callbacks, map_over)';

GRANT SELECT ON pgetl.pipeline_run, pgetl.task_run, pgetl.pipelines, pgetl.tasks TO PUBLIC;

-- What this part's internal functions are for and who calls them (every
-- function has a COMMENT ON FUNCTION: test/style/sql_style_test.sh).
COMMENT ON FUNCTION pgetl._task_run_before() IS
'internal: BEFORE trigger on pgetl.task_run_record: refuses a state change pgetl.task_state_transition does not allow and sets the try''s timestamps';
COMMENT ON FUNCTION pgetl._task_run_after() IS
'internal: AFTER trigger on pgetl.task_run_record: NOTIFY pgetl_run of each task state change (unless pgetl.notify is runs)';
COMMENT ON FUNCTION pgetl._run_before() IS
'internal: BEFORE trigger on pgetl.run_record: refuses a state change pgetl.run_state_transition does not allow and sets the run''s timestamps';
COMMENT ON FUNCTION pgetl._run_after() IS
'internal: AFTER trigger on pgetl.run_record: NOTIFY pgetl_run of each state change';
COMMENT ON FUNCTION pgetl._running_tasks() IS
'internal: the task tries that task workers of this database hold now (shared memory, pool.c), for the views and the engine; executable by every role';
