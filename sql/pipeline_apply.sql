-- Pipelines as code: pgetl_apply(document) creates or updates a whole
-- pipeline, pgetl_definition(pipeline) returns its document; applying it
-- again changes nothing; every run records the definition version it ran.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgetl_apply_owner') THEN
        DROP OWNED BY pgetl_apply_owner; DROP ROLE pgetl_apply_owner;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgetl_apply_other') THEN
        DROP OWNED BY pgetl_apply_other; DROP ROLE pgetl_apply_other;
    END IF;
END $$;
RESET client_min_messages;
CREATE EXTENSION pgetl;
CREATE ROLE pgetl_apply_owner LOGIN;
CREATE ROLE pgetl_apply_other LOGIN;

-- Runs a statement and shows the error it raises, if any.
\i test/setup/regress.sql
-- The row versions of a pipeline's definition rows: an apply that changes
-- nothing must not write any of them.
CREATE FUNCTION pg_temp.versions(p text) RETURNS TABLE (tab text, id text, version xid)
LANGUAGE sql AS $$
    SELECT 'pipeline', name, xmin FROM pgetl.pipeline WHERE name = p
    UNION ALL SELECT 'task', t.name, t.xmin FROM pgetl.task t JOIN pgetl.pipeline USING (pipeline_id) WHERE pipeline.name = p
    UNION ALL SELECT 'edge', d.task_id || '<-' || d.upstream_task_id, d.xmin
                FROM pgetl.task_dependency d JOIN pgetl.pipeline USING (pipeline_id) WHERE pipeline.name = p
    UNION ALL SELECT 'version', v.version::text, v.xmin
                FROM pgetl.pipeline_version_record v JOIN pgetl.pipeline USING (pipeline_id) WHERE pipeline.name = p
$$;
\pset null ''

SET ROLE pgetl_apply_owner;

-- 1. a new pipeline, from one document; upstream may name tasks listed later
SELECT jsonb_pretty(pgetl_apply($$
{
  "name": "nightly",
  "description": "orders, nightly",
  "max_parallel": 2,
  "params": {"region": "EU"},
  "tasks": [
    {"name": "extract", "command": "SELECT 1 AS rows", "retries": 2, "retry_delay": "1 second"},
    {"name": "check", "command": "SELECT true", "kind": "check", "upstream": ["extract"],
     "config": {"message": "nothing extracted"}},
    {"name": "report", "command": "SELECT 3", "upstream": ["check", "cleanup"],
     "trigger_rule": "all_done", "timeout": "10 minutes", "retry_exponential_backoff": true},
    {"name": "cleanup", "command": "SELECT 4", "upstream": ["extract"]}
  ]
}$$));
SELECT pipeline, owner, tasks, max_parallel, params, description FROM pgetl.pipelines;
SELECT task, kind, upstream, retries, retry_delay, timeout, trigger_rule FROM pgetl.tasks ORDER BY task;
-- the document back: the arguments that differ from their default
SELECT jsonb_pretty(pgetl_definition('nightly'));

-- the document does not depend on the session's IntervalStyle (pg_regress
-- runs with postgres_verbose; task workers and pg_cron with postgres)
SHOW IntervalStyle;
SET IntervalStyle = iso_8601;
SELECT pgetl_definition('nightly') #> '{tasks,0,retry_delay}' AS retry_delay,
       pgetl_definition('nightly') = (SELECT definition FROM pgetl.pipeline_version WHERE version = 1) AS same_document;
RESET IntervalStyle;

-- 2. idempotence: the same document, and the definition, change nothing:
--    changed false, no row of the definition written (same xmin)
RESET ROLE;
CREATE TEMP TABLE before AS SELECT * FROM pg_temp.versions('nightly');
SET ROLE pgetl_apply_owner;
SELECT pgetl_apply(pgetl_definition('nightly'));
SELECT pgetl_apply(pgetl_definition('nightly') || '{"tasks": []}'::jsonb
                   || jsonb_build_object('tasks', pgetl_definition('nightly')->'tasks'));
-- the same, written with every default spelled out or as null, upstream in
-- another order, intervals in other words
SELECT pgetl_apply($$
{
  "name": "nightly", "description": "orders, nightly", "max_parallel": 2, "params": {"region": "EU"},
  "tasks": [
    {"name": "extract", "command": "SELECT 1 AS rows", "retries": 2, "retry_delay": "00:00:01",
     "kind": "sql", "upstream": [], "timeout": null, "config": {}},
    {"name": "check", "command": "SELECT true", "kind": "check", "upstream": ["extract"],
     "config": {"message": "nothing extracted"}, "trigger_rule": "all_success"},
    {"name": "report", "command": "SELECT 3", "upstream": ["cleanup", "check"],
     "trigger_rule": "all_done", "timeout": "600 seconds", "retry_exponential_backoff": true},
    {"name": "cleanup", "command": "SELECT 4", "upstream": ["extract"], "max_retry_delay": null}
  ]
}$$);
RESET ROLE;
SELECT count(*) AS rows_written FROM
    ((SELECT * FROM before EXCEPT SELECT * FROM pg_temp.versions('nightly'))
     UNION ALL (SELECT * FROM pg_temp.versions('nightly') EXCEPT SELECT * FROM before)) d;
SELECT count(*) AS definition_rows FROM before;
SET ROLE pgetl_apply_owner;

-- the document of a pipeline defined by function calls is the same
SELECT pgetl_create_pipeline('by_calls', description => 'orders, nightly', max_parallel => 2,
                             params => '{"region": "EU"}');
SELECT pgetl_add_task('by_calls', 'extract', 'SELECT 1 AS rows', retries => 2, retry_delay => '1 second');
SELECT pgetl_add_task('by_calls', 'check', 'SELECT true', '{extract}', kind => 'check',
                      config => '{"message": "nothing extracted"}');
SELECT pgetl_add_task('by_calls', 'cleanup', 'SELECT 4', '{extract}');
SELECT pgetl_add_task('by_calls', 'report', 'SELECT 3', '{check,cleanup}', trigger_rule => 'all_done',
                      timeout => '10 minutes', retry_exponential_backoff => true);
SELECT pgetl_apply(pgetl_definition('by_calls') || '{"name": "nightly"}') AS apply_calls_document;
SELECT pgetl_drop_pipeline('by_calls');

-- 3. one run, at version 1
SELECT pgetl_run('nightly', logical_date => '2026-11-30') AS run1 \gset
SELECT run_id = :run1 AS run1, state, definition_version FROM pgetl.pipeline_run WHERE run_id = :run1;

-- 4. a change: the document is the whole truth.  "cleanup" is not in it:
--    dropped, with its edges; "check" changes in place (its task_id and
--    history stay); "publish" is new; a setting goes back to its default
RESET ROLE;
SELECT task_id AS check_id FROM pgetl.task WHERE name = 'check' \gset
SET ROLE pgetl_apply_owner;
SELECT jsonb_pretty(pgetl_apply($$
{
  "name": "nightly",
  "description": "orders, nightly",
  "params": {"region": "EU"},
  "tasks": [
    {"name": "extract", "command": "SELECT 1 AS rows", "retries": 2, "retry_delay": "1 second"},
    {"name": "check", "command": "SELECT count(*) > 0 FROM (SELECT 1) s", "kind": "check",
     "upstream": ["extract"], "retries": 1},
    {"name": "report", "command": "SELECT 3", "upstream": ["check"],
     "trigger_rule": "all_done", "timeout": "10 minutes", "retry_exponential_backoff": true},
    {"name": "publish", "command": "SELECT 5", "upstream": ["report"]}
  ]
}$$));
RESET ROLE;
SELECT task_id = :check_id AS check_kept_its_id FROM pgetl.task WHERE name = 'check';
SET ROLE pgetl_apply_owner;
SELECT task, kind, upstream, retries FROM pgetl.tasks ORDER BY task;
SELECT pgetl_run('nightly', logical_date => '2026-12-01') AS run2 \gset
-- each run names the version it ran; the versions keep their documents
SELECT logical_date, state, definition_version FROM pgetl.pipeline_run ORDER BY run_id;
SELECT pipeline, version, created_by, jsonb_array_length(definition->'tasks') AS tasks,
       definition->'max_parallel' AS max_parallel, hash = md5(definition::text) AS hash_ok
  FROM pgetl.pipeline_version ORDER BY version;
SELECT v.definition = pgetl_definition('nightly') AS latest_is_current
  FROM pgetl.pipeline_version v WHERE version = 2;
-- a change made by a definition function makes a new version at the next run
SELECT pgetl_alter_pipeline('nightly', max_parallel => 3);
SELECT pgetl_run('nightly', logical_date => '2026-12-02') AS run3 \gset
SELECT definition_version FROM pgetl.pipeline_run WHERE run_id = :run3;
SELECT version, definition->'max_parallel' AS max_parallel FROM pgetl.pipeline_version ORDER BY version;
-- a rewrite that changes nothing is no new version
SELECT pgetl_alter_pipeline('nightly', max_parallel => 3);
SELECT pgetl_run('nightly', logical_date => '2026-12-03') AS run4 \gset
SELECT definition_version FROM pgetl.pipeline_run WHERE run_id = :run4;
SELECT count(*) AS versions FROM pgetl.pipeline_version;
-- putting the old document back is a change like any other
SELECT (pgetl_apply(definition))->'version' AS version FROM pgetl.pipeline_version WHERE version = 1;
SELECT pgetl_definition('nightly') = (SELECT definition FROM pgetl.pipeline_version WHERE version = 1) AS back_to_v1;

-- 5. bad documents fail as a whole, naming the path of the key at fault
RESET ROLE;
CREATE TEMP TABLE before_bad AS SELECT * FROM pg_temp.versions('nightly');
SET ROLE pgetl_apply_owner;
\x on
SELECT * FROM pg_temp.try($$SELECT pgetl_apply(NULL)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('[1]')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"tasks": []}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "owner": "x"}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "max_parallel": 0}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "params": [1]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": {"a": 1}}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [{"name": "a", "command": "SELECT 1"}, "b"]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [{"name": "a", "command": "SELECT 1", "depends": ["b"]}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [{"command": "SELECT 1"}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [{"name": "a", "command": "SELECT 1"}, {"name": "a", "command": "SELECT 2"}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [{"name": "a", "command": "SELECT 1", "retries": "3"}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [{"name": "a", "command": "SELECT 1", "retries": 1.5}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [{"name": "a", "command": "SELECT 1", "retry_delay": "soon"}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [{"name": "a", "command": "SELECT 1", "retries": -1}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [{"name": "extract", "command": "SELECT 1", "kind": "bash", "config": {}}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [{"name": "a", "kind": "check", "command": "SELECT true", "config": {"msg": "x"}}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [{"name": "a", "command": " "}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [{"name": "a", "command": "SELECT 1", "upstream": "b"}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [{"name": "a", "command": "SELECT 1", "upstream": [1]}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [
    {"name": "a", "command": "SELECT 1"}, {"name": "b", "command": "SELECT 1"}, {"name": "c", "command": "SELECT 1"},
    {"name": "d", "command": "SELECT 1", "upstream": ["a", "cleanup"]}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [{"name": "a", "command": "SELECT 1", "upstream": ["a"]}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": [
    {"name": "a", "command": "SELECT 1", "upstream": ["c"]}, {"name": "b", "command": "SELECT 1", "upstream": ["a"]},
    {"name": "c", "command": "SELECT 1", "upstream": ["b"]}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "schedule": "0 2 * * *"}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "schedule": {"cron": "0 2 * * *"}}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "schedule": {"schedule": "0 2 * *"}}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "schedule": {"schedule": "0 2 * * *", "params": "x"}}')$$);
-- a new pipeline is not left half-made either
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "half", "tasks": [{"name": "a", "command": "SELECT 1"}, {"name": "b", "kind": "nope"}]}')$$);
\x off
RESET ROLE;
SELECT count(*) AS rows_changed_by_bad_documents FROM
    ((SELECT * FROM before_bad EXCEPT SELECT * FROM pg_temp.versions('nightly'))
     UNION ALL (SELECT * FROM pg_temp.versions('nightly') EXCEPT SELECT * FROM before_bad)) d;
SET ROLE pgetl_apply_owner;
SELECT count(*) AS half_made FROM pgetl.pipelines WHERE pipeline = 'half';

-- 6. an active run: refused unless force; with force, a task the document
--    drops is skipped in the run if it has not started, and cannot be
--    dropped while it runs
SELECT pgetl_apply('{"name": "slow", "tasks": [{"name": "nap", "command": "SELECT pg_sleep(30)"},
                    {"name": "after", "command": "SELECT 1", "upstream": ["nap"]}]}') ->> 'changed' AS created;
SELECT pgetl_run('slow', wait => false) AS slow_run \gset
DO $$ BEGIN
    FOR i IN 1 .. 300 LOOP
        EXIT WHEN EXISTS (SELECT FROM pgetl.task_run WHERE pipeline = 'slow' AND task = 'nap' AND state IN ('queued', 'running'));
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
\x on
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "slow", "description": "zzz", "tasks": [{"name": "nap", "command": "SELECT pg_sleep(30)"}]}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "slow", "tasks": [{"name": "after", "command": "SELECT 1"}]}', force => true)$$);
\x off
SELECT pgetl_apply('{"name": "slow", "description": "zzz", "tasks": [{"name": "nap", "command": "SELECT pg_sleep(30)"}]}', force => true) -> 'changes' AS forced;
SELECT task, CASE WHEN state IN ('queued', 'running') THEN 'started' ELSE state END AS state
  FROM pgetl.task_run WHERE run_id = :slow_run ORDER BY task;
SELECT pgetl_cancel(:slow_run);
SELECT state, definition_version FROM pgetl.pipeline_run WHERE run_id = :slow_run;

-- 7. privileges: apply as a non-owner of an existing pipeline fails (42501);
--    a new pipeline belongs to whoever applies it, as with pgetl_create_pipeline
RESET ROLE;
SET ROLE pgetl_apply_other;
\x on
SELECT * FROM pg_temp.try($$SELECT pgetl_apply('{"name": "nightly", "tasks": []}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_definition('nightly')$$);
\x off
SELECT pgetl_apply('{"name": "theirs", "tasks": [{"name": "t", "command": "SELECT 1"}]}') ->> 'changed' AS created;
SELECT pipeline, owner FROM pgetl.pipelines ORDER BY pipeline;
SELECT count(*) AS versions_seen FROM pgetl.pipeline_version;
RESET ROLE;
SELECT pipeline, owner FROM pgetl.pipelines ORDER BY pipeline;

-- 8. make demo's customer_pipeline: its document (pipeline.json, applied by
--    apply.sql) is the pipeline that pipeline.sql defines by function calls
\getenv abs_srcdir PG_ABS_SRCDIR
\set data_dir '/srv/data'
\set export_dir '/srv/export'
\set json :abs_srcdir '/test/customer_pipeline/pipeline.json'
SET client_min_messages = warning;
\set ECHO none
\o /dev/null
\i :abs_srcdir/test/customer_pipeline/pipeline.sql
\o
\i :abs_srcdir/test/customer_pipeline/apply.sql
\set ON_ERROR_STOP 0
\set ECHO all
-- and it makes the same pipeline from nothing
SELECT pgetl_drop_pipeline('customer_pipeline');
\set ECHO none
\o /dev/null
\i :abs_srcdir/test/customer_pipeline/apply.sql
\o
\set ON_ERROR_STOP 0
\set ECHO all
SELECT task, kind, upstream, retries FROM pgetl.tasks WHERE pipeline = 'customer_pipeline' ORDER BY task;
SELECT params, config->>'path' AS export_path
  FROM pgetl.pipeline p JOIN pgetl.task t USING (pipeline_id) WHERE t.name = 'export_to_csv';
SELECT pgetl_drop_pipeline('customer_pipeline');
DROP SCHEMA customer_etl;
RESET client_min_messages;
