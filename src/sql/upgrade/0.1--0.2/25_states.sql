
-- One typed state machine (src/sql/20_history.sql): run and task states
-- become the enum types pgetl.run_state and pgetl.task_state, their legal
-- changes the tables pgetl.run_state_transition and
-- pgetl.task_state_transition (read by the history triggers) instead of
-- CHECK constraints and the functions _run_state_change_allowed and
-- _task_state_change_allowed.  The run state queued, never entered (a run
-- starts running), and the task change queued -> scheduled, never taken,
-- are gone.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pgetl.run_record WHERE state = 'queued') THEN
        RAISE EXCEPTION 'a pgetl run is in state queued, which pgetl 0.2 does not have'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'pgetl never records a run as queued: check the runs in state queued and mark them failed before updating.';
    END IF;
END
$$;

-- ('queued': a run beyond its pipeline's max_active_runs, 83_logical_dates.sql;
-- created here, as PostgreSQL forbids using a value that ALTER TYPE ADD
-- VALUE added in the same transaction, which an upgrade is)
CREATE TYPE pgetl.run_state AS ENUM ('queued', 'running', 'success', 'failed', 'cancelled');
COMMENT ON TYPE pgetl.run_state IS 'the state of a pipeline run (pgetl.run_state_transition: its legal changes)';
CREATE TYPE pgetl.task_state AS ENUM ('scheduled', 'queued', 'running', 'success', 'failed',
                                      'up_for_retry', 'upstream_failed', 'skipped', 'cancelled');
COMMENT ON TYPE pgetl.task_state IS 'the state of a task try (pgetl.task_state_transition: its legal changes)';

CREATE TABLE pgetl.run_state_transition (
    from_state      pgetl.run_state,
    to_state        pgetl.run_state NOT NULL,
    UNIQUE NULLS NOT DISTINCT (from_state, to_state)
);
COMMENT ON TABLE pgetl.run_state_transition IS 'the legal state changes of a run (from_state NULL: the state a run starts in)';
-- Only pgetl_resume() moves a finished run back to running.
INSERT INTO pgetl.run_state_transition (from_state, to_state) VALUES
    (NULL, 'running'),
    ('running', 'success'), ('running', 'failed'), ('running', 'cancelled'),
    ('failed', 'running'), ('cancelled', 'running');

CREATE TABLE pgetl.task_state_transition (
    from_state      pgetl.task_state,
    to_state        pgetl.task_state NOT NULL,
    UNIQUE NULLS NOT DISTINCT (from_state, to_state)
);
COMMENT ON TABLE pgetl.task_state_transition IS 'the legal state changes of a task try (from_state NULL: the state a try starts in)';
-- Tries only move forward; a retry or a resume is a new row with the next
-- try_number.  A queued try waits for a task worker, whose one transaction
-- records its outcome; 'running' is never stored (the views read it from
-- shared memory).  Tries that 0.1 left running are failed first.
UPDATE pgetl.task_run_record SET state = 'failed', error = 'updated to pgetl 0.2 while running'
 WHERE state = 'running';
INSERT INTO pgetl.task_state_transition (from_state, to_state) VALUES
    (NULL, 'scheduled'),
    ('scheduled', 'queued'), ('scheduled', 'upstream_failed'), ('scheduled', 'skipped'),
    ('scheduled', 'cancelled'),
    ('queued', 'success'), ('queued', 'failed'), ('queued', 'up_for_retry'), ('queued', 'cancelled');

-- What depends on the state columns is rebuilt around their new type
-- (the views read them: 98_views.sql recreates them; pgetl.pipeline_run
-- is gone since 20_history.sql).
DROP VIEW pgetl.schedules;
DROP VIEW pgetl.task_run;
DROP TRIGGER run_before ON pgetl.run_record;
DROP TRIGGER run_after ON pgetl.run_record;
DROP TRIGGER task_run_before ON pgetl.task_run_record;
DROP TRIGGER task_run_after ON pgetl.task_run_record;
DROP INDEX pgetl.run_record_one_active;
ALTER TABLE pgetl.run_record DROP CONSTRAINT run_record_state_check;
ALTER TABLE pgetl.run_record ALTER COLUMN state DROP DEFAULT;
ALTER TABLE pgetl.run_record ALTER COLUMN state TYPE pgetl.run_state USING state::pgetl.run_state;
ALTER TABLE pgetl.run_record ALTER COLUMN state SET DEFAULT 'running';
ALTER TABLE pgetl.task_run_record DROP CONSTRAINT task_run_record_state_check;
ALTER TABLE pgetl.task_run_record ALTER COLUMN state DROP DEFAULT;
ALTER TABLE pgetl.task_run_record ALTER COLUMN state TYPE pgetl.task_state USING state::pgetl.task_state;
ALTER TABLE pgetl.task_run_record ALTER COLUMN state SET DEFAULT 'scheduled';
CREATE UNIQUE INDEX run_record_one_active ON pgetl.run_record (pipeline_id)
    WHERE state = 'running';

DROP FUNCTION pgetl._task_state_change_allowed(text, text);
DROP FUNCTION pgetl._run_state_change_allowed(text, text);
--@function pgetl._task_run_before
CREATE TRIGGER task_run_before BEFORE INSERT OR UPDATE OF state ON pgetl.task_run_record
    FOR EACH ROW EXECUTE FUNCTION pgetl._task_run_before();
CREATE TRIGGER task_run_after AFTER INSERT OR UPDATE OF state ON pgetl.task_run_record
    FOR EACH ROW EXECUTE FUNCTION pgetl._task_run_after();

--@function pgetl._run_before
CREATE TRIGGER run_before BEFORE INSERT OR UPDATE OF state ON pgetl.run_record
    FOR EACH ROW EXECUTE FUNCTION pgetl._run_before();
CREATE TRIGGER run_after AFTER INSERT OR UPDATE OF state ON pgetl.run_record
    FOR EACH ROW EXECUTE FUNCTION pgetl._run_after();

-- The views show a queued try a task worker holds as running (shared
-- memory, src/pool.c).
--@create pgetl._running_tasks
GRANT EXECUTE ON FUNCTION pgetl._running_tasks() TO PUBLIC;
-- Functions that compared runs with the state queued, or stored a state
-- held in text (src/sql/30_define.sql, 40_engine.sql; the others are
-- replaced by later steps).
--@function pgetl._drop_pipeline

CREATE OR REPLACE FUNCTION pgetl._schedule(p_run_id bigint, OUT launch bigint[], OUT done boolean,
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
        UPDATE pgetl.task_run_record tr SET state = e.decision::pgetl.task_state
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
        UPDATE pgetl.run_record SET state = run_state::pgetl.run_state,
               reason = CASE WHEN any_failed_leaf THEN 'task failed: ' || coalesce(failed_tasks, 'none') END
         WHERE run_id = p_run_id;
        done := true;
    END IF;
END
$$;
