-- Bad input: a clear error with an SQLSTATE and a hint, and nothing
-- half-created.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
RESET client_min_messages;
CREATE EXTENSION pgetl;

-- Runs a statement and shows the error it raises, if any.
\i test/setup/regress.sql
\x on
\pset null ''

SELECT pgetl_create_pipeline('p');
SELECT pgetl_add_task('p', 'a', 'SELECT 1');
SELECT pgetl_add_task('p', 'b', 'SELECT 2', '{a}');
SELECT pgetl_add_task('p', 'c', 'SELECT 3', '{b}');
SELECT pgetl_create_pipeline('other');
SELECT pgetl_add_task('other', 'x', 'SELECT 1');

-- definitions
SELECT * FROM pg_temp.try($$SELECT pgetl_create_pipeline('p')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_create_pipeline('')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_create_pipeline('q', max_parallel => 0)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_create_pipeline('q', params => '[1]')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('nope', 'a', 'SELECT 1')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('p', 'a', 'SELECT 1')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('p', 'd', 'SELECT 1', '{zz}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('p', 'd', 'SELECT 1', '{x}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('p', 'd', 'SELECT 1', '{other.x}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('p', 'd', 'SELECT 1', '{d}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('p', 'd', 'SELECT 1', kind => 'python')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('p', 'd', 'SELECT 1', trigger_rule => 'any_success')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('p', 'd', 'SELECT 1', retries => -1)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('p', 'd', 'SELECT 1', retry_delay => '-1 minute')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('p', 'd', 'SELECT 1', timeout => '-5 seconds')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('p', 'd', 'SELECT 1', timeout => '0')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('p', 'd', NULL)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('p', 'd', 'SELECT 1', config => '"x"')$$);
-- a cycle: the message names it
SELECT * FROM pg_temp.try($$SELECT pgetl_add_dependency('p', 'a', '{c}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_dependency('p', 'a', '{a}')$$);
-- nothing half-created
SELECT pipeline, task, upstream FROM pgetl.tasks ORDER BY 1, 2;
SELECT count(*) AS pipelines FROM pgetl.pipeline;

-- an owner that cannot log in
CREATE ROLE pgetl_test_nologin NOLOGIN;
GRANT pgetl_test_nologin TO current_user;
SET ROLE pgetl_test_nologin;
SELECT * FROM pg_temp.try($$SELECT pgetl_create_pipeline('nologin')$$);
RESET ROLE;
SELECT pgetl_create_pipeline('lost_login');
SELECT pgetl_add_task('lost_login', 't', 'SELECT 1');
UPDATE pgetl.pipeline SET owner = 'pgetl_test_nologin' WHERE name = 'lost_login';
SELECT * FROM pg_temp.try($$SELECT pgetl_run('lost_login')$$);
SELECT pgetl_drop_pipeline('lost_login');
DROP ROLE pgetl_test_nologin;

-- runs
SELECT * FROM pg_temp.try($$SELECT pgetl_run('nope')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_run(NULL)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_run('p', params => '"x"')$$);
SELECT pgetl_alter_pipeline('p', enabled => false);
SELECT * FROM pg_temp.try($$SELECT pgetl_run('p')$$);
SELECT pgetl_alter_pipeline('p', enabled => true);
SELECT pgetl_create_pipeline('empty');
SELECT * FROM pg_temp.try($$SELECT pgetl_run('empty')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_cancel(424242)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_resume(424242)$$);
SELECT pgetl_run('p') AS ok_run \gset
SELECT * FROM pg_temp.try($$SELECT pgetl_resume(1)$$);
SELECT pgetl_cancel(:ok_run);

-- one active run per pipeline, enforced by the database
SELECT pgetl_create_pipeline('slow');
SELECT pgetl_add_task('slow', 'sleep', 'SELECT pg_sleep(30)');
SELECT pgetl_run('slow', logical_date => '2024-01-01', wait => false) AS slow_run \gset
SELECT * FROM pg_temp.try($$SELECT pgetl_run('slow', logical_date => '2024-01-01')$$);
SELECT * FROM pg_temp.try(format('SELECT pgetl_resume(%s)', :slow_run));
SELECT * FROM pg_temp.try($$SELECT pgetl_drop_pipeline('slow')$$);
SELECT * FROM pg_temp.try($$INSERT INTO pgetl.run_record (pipeline_id, pipeline, owner, state, logical_date, started_by)
                              SELECT pipeline_id, name, owner, 'running', date '2024-01-01', 'x' FROM pgetl.pipeline WHERE name = 'slow'$$);
SELECT pgetl_cancel(:slow_run);
SELECT state, reason FROM pgetl.pipeline_run WHERE run_id = :slow_run;
SELECT task, state, error FROM pgetl.task_run WHERE run_id = :slow_run;

-- illegal state changes are refused by the history triggers
SELECT * FROM pg_temp.try($$UPDATE pgetl.task_run_record SET state = 'running' WHERE run_id = 1 AND task = 'a'$$);
SELECT * FROM pg_temp.try($$UPDATE pgetl.run_record SET state = 'failed' WHERE run_id = 1$$);
SELECT * FROM pg_temp.try($$INSERT INTO pgetl.task_run_record (run_id, task, try_number, state) VALUES (1, 'zz', 1, 'success')$$);
