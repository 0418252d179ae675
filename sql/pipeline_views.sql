-- The definition views show every setting: pgetl.pipelines has a column
-- for each column of pgetl.pipeline, pgetl.tasks one for each column of
-- pgetl.task (the settings 0.2 added at the end of each view, in the
-- tables' order), with the values pgetl_create_pipeline / pgetl_add_task
-- stored; and both still show a pipeline only to members of its owner.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
DROP ROLE IF EXISTS pgetl_views_owner;
DROP ROLE IF EXISTS pgetl_views_other;
RESET client_min_messages;
CREATE EXTENSION pgetl;
-- errors as SQLSTATE, message, detail and hint (no source location: it differs between versions)
\i test/setup/regress.sql
CREATE ROLE pgetl_views_owner LOGIN;
CREATE ROLE pgetl_views_other LOGIN;

-- no column of the tables is missing from the views (ids are internal;
-- name is shown as pipeline / task)
SELECT a.attname AS pipeline_column_not_in_pgetl_pipelines
  FROM pg_attribute a
 WHERE a.attrelid = 'pgetl.pipeline'::regclass AND a.attnum > 0 AND NOT a.attisdropped
   AND a.attname NOT IN ('pipeline_id', 'name')
EXCEPT
SELECT v.attname FROM pg_attribute v WHERE v.attrelid = 'pgetl.pipelines'::regclass;
SELECT a.attname AS task_column_not_in_pgetl_tasks
  FROM pg_attribute a
 WHERE a.attrelid = 'pgetl.task'::regclass AND a.attnum > 0 AND NOT a.attisdropped
   AND a.attname NOT IN ('task_id', 'pipeline_id', 'name')
EXCEPT
SELECT v.attname FROM pg_attribute v WHERE v.attrelid = 'pgetl.tasks'::regclass;
-- their columns, in order (the settings added in 0.2 at the end)
SELECT string_agg(attname, ', ' ORDER BY attnum) AS pipelines_columns
  FROM pg_attribute WHERE attrelid = 'pgetl.pipelines'::regclass AND attnum > 0;
SELECT string_agg(attname, ', ' ORDER BY attnum) AS tasks_columns
  FROM pg_attribute WHERE attrelid = 'pgetl.tasks'::regclass AND attnum > 0;

-- the values stored, set and defaulted
SELECT pgetl_create_pool('views_pool', 3);
SET ROLE pgetl_views_owner;
SELECT pgetl_create_pipeline('views_set', 'every setting', 2, '{"a": 1}', max_active_runs => 3,
    on_failure => 'SELECT 1', on_success => 'SELECT 2', run_timeout => '1 hour',
    max_active_tasks => 5, max_map_length => 50) IS NOT NULL AS created;
SELECT pgetl_create_pipeline('views_default') IS NOT NULL AS created;
SELECT pgetl_add_task('views_set', 'first', 'SELECT 1', depends_on_past => true,
    on_failure => 'SELECT 3', on_success => 'SELECT 4', on_retry => 'SELECT 5',
    pool => 'views_pool', pool_slots => 2, priority_weight => 7, weight_rule => 'absolute') IS NOT NULL AS added;
SELECT pgetl_add_task('views_set', 'mapped', 'SELECT pgetl_map_value()', '{first}',
    map_over => 'SELECT g FROM generate_series(1, 2) g') IS NOT NULL AS added;
SELECT pgetl_add_task('views_default', 'only', 'SELECT 1') IS NOT NULL AS added;
\x on
SELECT pipeline, max_active_runs, max_active_tasks, run_timeout, on_failure, on_success, max_map_length
  FROM pgetl.pipelines ORDER BY pipeline;
SELECT pipeline, task, depends_on_past, pool, pool_slots, priority_weight, weight_rule,
       on_failure, on_success, on_retry, map_over
  FROM pgetl.tasks ORDER BY pipeline, task;
\x off

-- who may see them: members of the owner (and superusers), no one else
SET ROLE pgetl_views_other;
SELECT count(*) AS pipelines_seen_by_other FROM pgetl.pipelines;
SELECT count(*) AS tasks_seen_by_other FROM pgetl.tasks;
RESET ROLE;
GRANT pgetl_views_owner TO pgetl_views_other;
SET ROLE pgetl_views_other;
SELECT count(*) AS pipelines_seen_by_member FROM pgetl.pipelines;
SELECT count(*) AS tasks_seen_by_member FROM pgetl.tasks;
RESET ROLE;
SELECT count(*) AS pipelines_seen_by_superuser FROM pgetl.pipelines;

SET client_min_messages = warning;
SELECT pgetl_drop_pipeline('views_set');
SELECT pgetl_drop_pipeline('views_default');
RESET client_min_messages;
DROP EXTENSION pgetl CASCADE;
DROP ROLE pgetl_views_other;
DROP ROLE pgetl_views_owner;
