-- Issue 9: a try queued when no background worker slot was free stays
-- queued and counts against max_parallel; pgetl._schedule() returned the
-- queued tries only while max_parallel left room, so with max_parallel 1
-- it was never launched and its run never ended.  It now returns every
-- queued try (src/sql/40_engine.sql).

-- One step of the scheduler: schedule due retries, apply trigger rules,
-- queue what may start (up to max_parallel), and finish the run when every
-- task is done.  Returns the task runs to launch: all queued ones.
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
    END IF;
    -- every queued try, also those queued before whose worker could not be
    -- launched for want of a slot (they count against max_parallel): the
    -- coordinator launches those it has not launched yet
    SELECT array_agg(task_run_id ORDER BY task_id) INTO launch
      FROM pgetl.task_run_record WHERE run_id = p_run_id AND state = 'queued';

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
