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
-- 25_states.sql made it, and what depends on it is rebuilt (the views that
-- read it are gone since 25_states.sql: 98_views.sql recreates them).
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
