-- Sensor tasks (Airflow's sensors) and pgetl_file_exists: pgetl_add_task
-- refuses bad sensor configs (22023, with hints) and sensors without a
-- command; a sensor whose condition holds at its first poke succeeds with
-- the row it saw; a first column that is not boolean fails it (42804);
-- pgetl_file_exists runs as the caller and needs pg_read_server_files
-- (42501 with a hint), also inside a sensor, where it fails the poke.
-- Waiting, reschedules, poke mode, timeouts and cancels are in
-- test/engine/sensor_test.sh.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
DROP ROLE IF EXISTS regress_pgetl_sensor_owner;
RESET client_min_messages;
CREATE EXTENSION pgetl;
-- errors as SQLSTATE, message, detail and hint (no source location: it differs between versions)
\i test/setup/regress.sql

SELECT kind, needs_command, description FROM pgetl.task_kind WHERE kind = 'sensor';
SELECT pgetl_create_pipeline('sensors');

-- bad configs: unknown keys, poke_interval not a positive interval, mode
-- not poke or reschedule, soft_fail not a boolean; no command
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('sensors', 's', 'SELECT true', kind => 'sensor', config => '{"poke": "1 second", "timeout": 5}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('sensors', 's', 'SELECT true', kind => 'sensor', config => '{"poke_interval": "soon"}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('sensors', 's', 'SELECT true', kind => 'sensor', config => '{"poke_interval": "0 seconds"}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('sensors', 's', 'SELECT true', kind => 'sensor', config => '{"poke_interval": "-5 seconds"}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('sensors', 's', 'SELECT true', kind => 'sensor', config => '{"poke_interval": -1}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('sensors', 's', 'SELECT true', kind => 'sensor', config => '{"poke_interval": true}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('sensors', 's', 'SELECT true', kind => 'sensor', config => '{"poke_interval": null}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('sensors', 's', 'SELECT true', kind => 'sensor', config => '{"mode": "sometimes"}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('sensors', 's', 'SELECT true', kind => 'sensor', config => '{"mode": ["poke"]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('sensors', 's', 'SELECT true', kind => 'sensor', config => '{"soft_fail": "yes"}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('sensors', 's', NULL, kind => 'sensor')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('sensors', 's', '  ', kind => 'sensor')$$);
SELECT count(*) AS tasks_added FROM pgetl.tasks WHERE pipeline = 'sensors';

-- good configs: every key optional; a number of seconds is a poke_interval too
SELECT pgetl_add_task('sensors', 'ready', 'SELECT true AS ready, 42 AS batch', kind => 'sensor') > 0 AS added;
SELECT pgetl_add_task('sensors', 'all_keys', 'SELECT 1 = 1', '{ready}', kind => 'sensor',
                      config => '{"poke_interval": "1 second", "mode": "poke", "soft_fail": true}') > 0 AS added;
SELECT pgetl_add_task('sensors', 'seconds', 'SELECT EXISTS (SELECT FROM pg_class)', '{ready}', kind => 'sensor',
                      config => '{"poke_interval": 0.5, "mode": "reschedule", "soft_fail": false}') > 0 AS added;
SELECT task, kind, upstream, config FROM pgetl.tasks WHERE pipeline = 'sensors' ORDER BY task;

-- pipelines as code: the sensors' configs round-trip through
-- pgetl_definition and pgetl_apply (nothing changes); a bad sensor config
-- in a document is refused as by pgetl_add_task
SELECT pgetl_definition('sensors') -> 'tasks' @> '[{"name": "all_keys", "kind": "sensor", "config": {"poke_interval": "1 second", "mode": "poke", "soft_fail": true}}]' AS in_definition;
SELECT pgetl_apply(pgetl_definition('sensors')) -> 'changed' AS changed;
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "sensors_as_code", "tasks": [{"name": "s", "kind": "sensor", "command": "SELECT true", "config": {"mode": "eventually"}}]}')$$);
SELECT count(*) AS created FROM pgetl.pipelines WHERE pipeline = 'sensors_as_code';

-- conditions that hold at the first poke: success in the first try, with the row seen
SELECT pgetl_run('sensors') IS NOT NULL AS ran;
SELECT task, try_number, state, result FROM pgetl.task_run WHERE pipeline = 'sensors' ORDER BY task, try_number;
SELECT state, tasks_success, tasks_up_for_reschedule FROM pgetl.pipeline_run WHERE pipeline = 'sensors';

-- a first column that is not boolean fails the sensor (42804)
SELECT pgetl_create_pipeline('not_boolean');
SELECT pgetl_add_task('not_boolean', 's', 'SELECT 1', kind => 'sensor') > 0 AS added;
SELECT * FROM pg_temp.try($$SELECT pgetl_run('not_boolean')$$);
SELECT task, try_number, state, sqlstate, error, hint FROM pgetl.task_run WHERE pipeline = 'not_boolean';

-- pgetl_file_exists: files and directories exist (relative paths from the
-- data directory), missing ones do not, NULL gives NULL
SELECT pgetl_file_exists('PG_VERSION') AS file, pgetl_file_exists('base') AS directory,
       pgetl_file_exists(current_setting('data_directory') || '/PG_VERSION') AS absolute,
       pgetl_file_exists('no_such_file') AS missing,
       pgetl_file_exists('PG_VERSION/not_a_directory') AS under_a_file,
       pgetl_file_exists(NULL) IS NULL AS null_gives_null;

-- a file sensor
SELECT pgetl_create_pipeline('file_sensor');
SELECT pgetl_add_task('file_sensor', 'wait_for_file', $$SELECT pgetl_file_exists('PG_VERSION')$$,
                      kind => 'sensor', config => '{"poke_interval": "1 second"}') > 0 AS added;
SELECT pgetl_run('file_sensor') IS NOT NULL AS ran;
SELECT task, try_number, state, result FROM pgetl.task_run WHERE pipeline = 'file_sensor';

-- it runs as the caller: a role without pg_read_server_files is refused,
-- in a session and in a sensor of a pipeline it owns (a poke that raises
-- an error fails the task; a missing privilege is not retried)
CREATE ROLE regress_pgetl_sensor_owner LOGIN;
DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO regress_pgetl_sensor_owner', current_database()); END $$;
SET ROLE regress_pgetl_sensor_owner;
SELECT * FROM pg_temp.try($$SELECT pgetl_file_exists('PG_VERSION')$$);
SELECT pgetl_create_pipeline('owned_file_sensor');
SELECT pgetl_add_task('owned_file_sensor', 'wait_for_file', $$SELECT pgetl_file_exists('PG_VERSION')$$,
                      kind => 'sensor', retries => 2, retry_delay => '0') > 0 AS added;
SELECT * FROM pg_temp.try($$SELECT pgetl_run('owned_file_sensor')$$);
SELECT task, try_number, state, sqlstate, error, hint FROM pgetl.task_run WHERE pipeline = 'owned_file_sensor';
RESET ROLE;
GRANT pg_read_server_files TO regress_pgetl_sensor_owner;
SET ROLE regress_pgetl_sensor_owner;
SELECT pgetl_file_exists('PG_VERSION') AS granted;
SELECT pgetl_run('owned_file_sensor') IS NOT NULL AS ran;
SELECT task, try_number, state, result FROM pgetl.task_run WHERE pipeline = 'owned_file_sensor' ORDER BY run_id, try_number;
RESET ROLE;

SELECT pgetl_drop_pipeline('owned_file_sensor');
SELECT pgetl_purge_history('0');
DO $$ BEGIN EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM regress_pgetl_sensor_owner', current_database()); END $$;
DROP EXTENSION pgetl CASCADE;
DROP ROLE regress_pgetl_sensor_owner;
