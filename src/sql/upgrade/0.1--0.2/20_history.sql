
-- Run history: task counts computed by pgetl.pipeline_run instead of
-- trigger-maintained columns (restored history is counted once); restored
-- rows are accepted as they are; NOTIFY payloads carry ids and states only.
-- (pgetl.pipeline_run reads them: 98_views.sql recreates it)
DROP VIEW pgetl.pipeline_run;
ALTER TABLE pgetl.run_record
    DROP COLUMN tasks_scheduled, DROP COLUMN tasks_queued, DROP COLUMN tasks_running,
    DROP COLUMN tasks_success, DROP COLUMN tasks_failed, DROP COLUMN tasks_up_for_retry,
    DROP COLUMN tasks_upstream_failed, DROP COLUMN tasks_skipped, DROP COLUMN tasks_cancelled;
-- the definition version each run ran (pipelines as code, src/sql/35_apply.sql)
ALTER TABLE pgetl.run_record ADD COLUMN definition_version integer;
CREATE OR REPLACE FUNCTION pgetl._task_run_before() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    now_ts timestamptz := clock_timestamp();
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- A new try starts scheduled.  A row in another state is history
        -- being restored (pg_restore of pgetl's tables), kept as it is when
        -- its timestamps agree with its state.
        IF NEW.state = 'scheduled' THEN
            NEW.scheduled_at := now_ts;
        ELSIF (CASE NEW.state WHEN 'queued' THEN NEW.queued_at IS NULL
                              WHEN 'running' THEN NEW.started_at IS NULL
                              ELSE NEW.finished_at IS NULL END) THEN
            RAISE EXCEPTION 'a task run starts in state scheduled, not %', NEW.state
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'Only restored history, with the timestamps of its state, is inserted in another state.';
        END IF;
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

--@function pgetl._task_run_after

CREATE OR REPLACE FUNCTION pgetl._run_before() RETURNS trigger
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
        -- a finished run being restored (pg_restore) is kept as it is
        IF NEW.finished_at IS NULL THEN
            RAISE EXCEPTION 'a run starts in state queued or running, not %', NEW.state
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'Only restored history, with its finish time, is inserted in another state.';
        END IF;
        RETURN NEW;
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

--@function pgetl._run_after

