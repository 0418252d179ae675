-- Task pools (Airflow's pools), priority weights and max_active_tasks
-- (issue 11 §2): their bad inputs (SQLSTATE, message, detail, hint), who
-- may manage pools (superusers and members of pgetl_pool_admin; anyone may
-- use one), the view pgetl.pools, Airflow's effective weights
-- (downstream, upstream, absolute), and that pgetl_definition and
-- pgetl_apply round-trip the new settings.  The scheduling itself is
-- tested by test/engine/task_pool_test.sh.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
DROP ROLE IF EXISTS pool_user;
DROP ROLE IF EXISTS pool_manager;
DROP ROLE IF EXISTS pgetl_pool_admin;
RESET client_min_messages;
CREATE EXTENSION pgetl;
-- errors as SQLSTATE, message, detail and hint (no source location: it differs between versions)
\i test/setup/regress.sql
CREATE ROLE pool_user LOGIN;
CREATE ROLE pool_manager LOGIN;
-- no pool, weight or max_active_tasks in use: the scheduler hands out per run
SELECT pgetl._hand_out_needed();

-- pools: create, bad inputs
SELECT pgetl_create_pool('db', 2, 'the warehouse');
SELECT * FROM pg_temp.try($$SELECT pgetl_create_pool('db', 3)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_create_pool('', 3)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_create_pool('zero', 0)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_create_pool('null', NULL)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_alter_pool('nope', 3)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_drop_pool('nope')$$);
SELECT pool, slots, running, occupied_slots, queued, open_slots, description FROM pgetl.pools;

-- using a pool needs no privilege: a plain role adds tasks to it
SET ROLE pool_user;
SELECT pgetl_create_pipeline('pooled', max_active_tasks => 3) > 0 AS created;
SELECT pgetl_add_task('pooled', 'one', 'SELECT 1', pool => 'db') > 0 AS added;
SELECT pgetl_add_task('pooled', 'two', 'SELECT 2', '{one}', pool => 'db', pool_slots => 2,
                      priority_weight => 7, weight_rule => 'upstream') > 0 AS added;
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('pooled', 'big', 'SELECT 1', pool => 'db', pool_slots => 3)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('pooled', 'zero', 'SELECT 1', pool => 'db', pool_slots => 0)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('pooled', 'ghost', 'SELECT 1', pool => 'ghost')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('pooled', 'rule', 'SELECT 1', weight_rule => 'sideways')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('pooled', 'noweight', 'SELECT 1', priority_weight => NULL)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_create_pipeline('mat0', max_active_tasks => 0)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_alter_pipeline('pooled', max_active_tasks => 2000)$$);
-- managing pools needs the privilege
SELECT * FROM pg_temp.try($$SELECT pgetl_create_pool('mine', 1)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_alter_pool('db', 5)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_drop_pool('db')$$);
-- the view is readable by everyone
SELECT pool, slots, open_slots FROM pgetl.pools;
RESET ROLE;

-- a member of pgetl_pool_admin manages pools
CREATE ROLE pgetl_pool_admin NOLOGIN;
GRANT pgetl_pool_admin TO pool_manager;
SET ROLE pool_manager;
SELECT pgetl_create_pool('small', 1);
SELECT pgetl_alter_pool('small', 4, 'bigger now');
-- fewer slots than a task takes: refused; a pool tasks use cannot be dropped
SELECT * FROM pg_temp.try($$SELECT pgetl_alter_pool('db', 1)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_drop_pool('db')$$);
SELECT pgetl_alter_pool('db', 3);
SELECT pgetl_drop_pool('small');
RESET ROLE;
SELECT pool, slots, description FROM pgetl.pools ORDER BY pool;

-- the settings, recorded; max_active_tasks 0 removes the cap
SELECT name, pool, pool_slots, priority_weight, weight_rule FROM pgetl.task ORDER BY task_id;
SELECT max_active_tasks FROM pgetl.pipeline WHERE name = 'pooled';

-- Airflow's effective weights: downstream (own + all downstream),
-- upstream (own + all upstream), absolute (own)
SELECT pgetl_create_pipeline('w') > 0;
SELECT pgetl_add_task('w', 'a', 'SELECT 1', priority_weight => 1) > 0;
SELECT pgetl_add_task('w', 'b', 'SELECT 1', '{a}', priority_weight => 10) > 0;
SELECT pgetl_add_task('w', 'c', 'SELECT 1', '{a}', priority_weight => 100) > 0;
SELECT pgetl_add_task('w', 'd', 'SELECT 1', '{b,c}', priority_weight => 1000, weight_rule => 'upstream') > 0;
SELECT pgetl_add_task('w', 'e', 'SELECT 1', '{d}', priority_weight => 5, weight_rule => 'absolute') > 0;
SELECT name, weight_rule, pgetl._effective_weight(task_id) FROM pgetl.task t
 WHERE pipeline_id = (SELECT pipeline_id FROM pgetl.pipeline WHERE name = 'w') ORDER BY name;

-- pgetl_definition shows the settings; pgetl_apply round-trips them
SELECT pgetl_definition('pooled')->'max_active_tasks' AS max_active_tasks,
       jsonb_path_query_array(pgetl_definition('pooled'), '$.tasks[*] ? (@.pool != null)') @> '[{"name": "two", "pool": "db", "pool_slots": 2, "priority_weight": 7, "weight_rule": "upstream"}]' AS task_settings;
SELECT (pgetl_apply(pgetl_definition('pooled'))->'changes') AS changes_none;
SELECT pgetl_apply(jsonb_set(jsonb_set(pgetl_definition('pooled'), '{max_active_tasks}', 'null'),
                             '{tasks,1,pool}', 'null'))->'changes' AS changes;
SELECT name, pool, pool_slots FROM pgetl.task WHERE pipeline_id = (SELECT pipeline_id FROM pgetl.pipeline WHERE name = 'pooled') ORDER BY name;
SELECT max_active_tasks FROM pgetl.pipeline WHERE name = 'pooled';
SELECT pgetl_alter_pipeline('pooled', max_active_tasks => 5);
SELECT pgetl_alter_pipeline('pooled', max_active_tasks => 0);
SELECT max_active_tasks FROM pgetl.pipeline WHERE name = 'pooled';

-- pools and weights in use: the scheduler hands out over all runs
SELECT pgetl._hand_out_needed();

SET client_min_messages = warning;
DROP EXTENSION pgetl CASCADE;
DROP ROLE pool_user;
DROP ROLE pool_manager;
DROP ROLE pgetl_pool_admin;
