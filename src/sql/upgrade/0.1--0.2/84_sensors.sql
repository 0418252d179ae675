-- Sensors (issue 10 §4): the task kind sensor, poked every poke_interval
-- until its condition is true or its timeout ends; in mode reschedule it
-- holds no worker between pokes, in the new task state up_for_reschedule.
-- pgetl_file_exists() for file sensors.
INSERT INTO pgetl.task_kind (kind, position, needs_command, description) VALUES
    ('sensor', 7, true, 'a query poked every poke_interval until its first column is true (config: poke_interval, mode, soft_fail)');

-- The task state up_for_reschedule, after up_for_retry as at install.
-- ALTER TYPE ... ADD VALUE cannot serve: the upgrade is one transaction,
-- and PostgreSQL 15 and 16 refuse to use an enum value added in the
-- transaction (the transition rows, the views below), even to a type the
-- same transaction created (25_states.sql).  So the type is made anew, as
-- 25_states.sql made it, and what depends on it is rebuilt.
DROP VIEW pgetl.task_run;
DROP VIEW pgetl.pipeline_run;
DROP TRIGGER task_run_before ON pgetl.task_run_record;
DROP TRIGGER task_run_after ON pgetl.task_run_record;
ALTER TYPE pgetl.task_state RENAME TO task_state_before_sensors;
CREATE TYPE pgetl.task_state AS ENUM ('scheduled', 'queued', 'running', 'success', 'failed',
                                      'up_for_retry', 'up_for_reschedule', 'upstream_failed',
                                      'skipped', 'cancelled');
COMMENT ON TYPE pgetl.task_state IS 'the state of a task try (pgetl.task_state_transition: its legal changes)';
ALTER TABLE pgetl.task_state_transition
    ALTER COLUMN from_state TYPE pgetl.task_state USING from_state::text::pgetl.task_state,
    ALTER COLUMN to_state TYPE pgetl.task_state USING to_state::text::pgetl.task_state;
ALTER TABLE pgetl.task_run_record ALTER COLUMN state DROP DEFAULT;
ALTER TABLE pgetl.task_run_record
    ALTER COLUMN state TYPE pgetl.task_state USING state::text::pgetl.task_state;
ALTER TABLE pgetl.task_run_record ALTER COLUMN state SET DEFAULT 'scheduled';
DROP TYPE pgetl.task_state_before_sensors;

-- A sensor between two pokes goes up_for_reschedule and back to queued in
-- the same try (a reschedule is not a retry); a stopped run cancels it.
INSERT INTO pgetl.task_state_transition (from_state, to_state) VALUES
    ('queued', 'up_for_reschedule'), ('up_for_reschedule', 'queued'), ('up_for_reschedule', 'cancelled');

-- sensors in mode reschedule: how often the try was rescheduled, and when
-- it is poked next
ALTER TABLE pgetl.task_run_record ADD COLUMN reschedules integer NOT NULL DEFAULT 0,
                                  ADD COLUMN next_poke_at timestamptz;

--@function pgetl._task_run_before
CREATE TRIGGER task_run_before BEFORE INSERT OR UPDATE OF state ON pgetl.task_run_record
    FOR EACH ROW EXECUTE FUNCTION pgetl._task_run_before();
CREATE TRIGGER task_run_after AFTER INSERT OR UPDATE OF state ON pgetl.task_run_record
    FOR EACH ROW EXECUTE FUNCTION pgetl._task_run_after();

-- the views, with the count of tasks up_for_reschedule
-- (as it is here, before the data intervals of 89_intervals.sql and the
-- mapped tasks of 89_mapping.sql, which brings it to the install parts' form)
CREATE VIEW pgetl.pipeline_run WITH (security_barrier) AS
SELECT r.run_id, r.pipeline, r.state::text AS state, r.params, r.logical_date,
       r.started_at, r.finished_at, r.duration, r.started_by, r.owner,
       r.reason, r.resumed,
       c.tasks_total, c.tasks_scheduled, c.tasks_queued, c.tasks_running, c.tasks_success,
       c.tasks_failed, c.tasks_up_for_retry, c.tasks_up_for_reschedule, c.tasks_upstream_failed,
       c.tasks_skipped, c.tasks_cancelled, r.queued_at, r.definition_version, r.note
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
                WHERE t.run_id = r.run_id
                ORDER BY t.task, t.try_number DESC) l) c
 WHERE pg_catalog.pg_has_role(r.owner, 'MEMBER');
COMMENT ON VIEW pgetl.pipeline_run IS 'pipeline runs you may see: state, timing, who started it, task counts by state, note';
-- (as it was before 89_mapping.sql, which adds map_index)
CREATE VIEW pgetl.task_run WITH (security_barrier) AS
SELECT t.run_id, r.pipeline, t.task, t.try_number,
       CASE WHEN w.task_run_id IS NOT NULL THEN 'running' ELSE t.state::text END AS state,
       t.scheduled_at, t.queued_at, coalesce(t.started_at, w.started_at) AS started_at,
       t.finished_at, t.duration,
       coalesce(t.pid, w.pid) AS pid, t.result, t.rows, t.error, t.sqlstate, t.detail, t.hint, t.context,
       t.task_run_id, t.note, t.marked_by, t.marked_at
  FROM pgetl.task_run_record t
  JOIN pgetl.run_record r USING (run_id)
  LEFT JOIN pgetl._running_tasks() w ON w.task_run_id = t.task_run_id AND t.state = 'queued'
 WHERE pg_catalog.pg_has_role(r.owner, 'MEMBER');
COMMENT ON VIEW pgetl.task_run IS 'task tries you may see: one row per try, with result or error, note, and who marked its state by hand';
GRANT SELECT ON pgetl.pipeline_run, pgetl.task_run TO PUBLIC;

-- the engine: sensors poke, reschedule and time out; stopped runs and
-- crash recovery cancel sensors waiting for their next poke; a
-- rescheduled sensor's try started at its first poke
--@create pgetl._check_sensor_task
--@create pgetl._sensor_poke_interval
--@create pgetl._sensor_poke
--@function pgetl._dag_step
--@function pgetl._stop_run
--@function pgetl._recover
--@function pgetl._task_succeed
--@function pgetl._task_fail
--@function pgetl._task_skip

--@create @extschema@.pgetl_file_exists
COMMENT ON FUNCTION @extschema@.pgetl_file_exists(text) IS
'whether a file or directory exists at path on the database server (for sensor tasks); needs the privileges of pg_read_server_files';
