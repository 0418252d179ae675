-- Privileges: tasks run as the pipeline owner; roles see and run only the
-- pipelines of roles they are members of; nothing is granted to PUBLIC.
-- Not wrapped in a transaction: runs happen in background workers, which
-- only see committed roles and pipelines.
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;
DROP ROLE IF EXISTS pgetl_alice_member;
DROP ROLE IF EXISTS pgetl_alice;
DROP ROLE IF EXISTS pgetl_bob;
CREATE ROLE pgetl_alice LOGIN;
CREATE ROLE pgetl_bob LOGIN;
CREATE ROLE pgetl_alice_member LOGIN IN ROLE pgetl_alice;
GRANT CREATE ON SCHEMA public TO pgetl_alice;
RESET client_min_messages;

SELECT plan(29);

-- nothing for PUBLIC on pgetl's tables and sequences, TRIGGER included
SELECT is_empty(
    $$SELECT c.relname, a.privilege_type
        FROM pg_class c, aclexplode(c.relacl) a
       WHERE c.relnamespace = 'pgetl'::regnamespace AND c.relkind IN ('r', 'p', 'S')
         AND a.grantee = 0$$,
    'no privilege on pgetl tables is granted to PUBLIC');
SELECT is_empty(
    $$SELECT c.relname FROM pg_class c
       WHERE c.relnamespace = 'pgetl'::regnamespace AND c.relkind IN ('r', 'p')
         AND (has_table_privilege('pgetl_bob', c.oid, 'SELECT') OR has_table_privilege('pgetl_bob', c.oid, 'INSERT')
              OR has_table_privilege('pgetl_bob', c.oid, 'UPDATE') OR has_table_privilege('pgetl_bob', c.oid, 'DELETE')
              OR has_table_privilege('pgetl_bob', c.oid, 'TRUNCATE') OR has_table_privilege('pgetl_bob', c.oid, 'TRIGGER')
              OR has_table_privilege('pgetl_bob', c.oid, 'REFERENCES'))$$,
    'an ordinary role has no privilege at all on pgetl tables');
SELECT is_empty(
    $$SELECT p.oid::regprocedure FROM pg_proc p
       WHERE p.pronamespace = 'pgetl'::regnamespace AND has_function_privilege('pgetl_bob', p.oid, 'EXECUTE')
         AND p.oid NOT IN ('pgetl._running_tasks()'::regprocedure, 'pgetl._load_options(jsonb)'::regprocedure)$$,
    'internal functions are not executable by ordinary roles');
-- the two exceptions, read by views (a function in a view runs with the
-- caller's EXECUTE privilege): the history views read which tries run now
-- from pgetl._running_tasks() (ids, pids and start times, which
-- pg_stat_activity shows every role); pgetl.loads reads a spec's options
-- with their defaults from pgetl._load_options(jsonb) (immutable, reads
-- nothing but its argument)
SELECT results_eq(
    $$SELECT p.oid::regprocedure::text FROM pg_proc p
       WHERE p.pronamespace = 'pgetl'::regnamespace AND has_function_privilege('pgetl_bob', p.oid, 'EXECUTE')
       ORDER BY 1$$,
    $$VALUES ('pgetl._load_options(jsonb)'), ('pgetl._running_tasks()')$$,
    'the only internal functions every role may execute are pgetl._load_options(jsonb) and pgetl._running_tasks(), read by views');
SELECT ok(
    (SELECT provolatile = 'i' AND proisstrict AND NOT prosecdef FROM pg_proc
      WHERE oid = 'pgetl._load_options(jsonb)'::regprocedure),
    'pgetl._load_options(jsonb) is immutable, strict and not SECURITY DEFINER');
SELECT is_empty(
    $$SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid
       WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgetl')
         AND p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
         AND NOT coalesce(p.proconfig::text[] @> ARRAY['search_path=pg_catalog, pg_temp'], false)$$,
    'every SQL and PL/pgSQL function of pgetl pins search_path');
SELECT is_empty(
    $$SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid
       WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgetl')
         AND p.prosecdef AND NOT coalesce(array_to_string(p.proconfig, ',') LIKE '%search_path=%', false)$$,
    'SECURITY DEFINER functions pin search_path');

-- alice defines and runs a pipeline; its tasks run as alice
SET ROLE pgetl_alice;
SELECT lives_ok($$SELECT pgetl_create_pipeline('alice_pipe')$$, 'alice creates a pipeline');
SELECT lives_ok($$SELECT pgetl_add_task('alice_pipe', 'who', 'SELECT current_user AS cu, session_user AS su')$$,
                'alice adds a task');
SELECT lives_ok($$SELECT pgetl_run('alice_pipe')$$, 'alice runs her pipeline');
SELECT is((SELECT result->>'cu' FROM pgetl.task_run WHERE pipeline = 'alice_pipe' AND task = 'who'),
          'pgetl_alice', 'current_user inside the task is the owner');
SELECT is((SELECT result->>'su' FROM pgetl.task_run WHERE pipeline = 'alice_pipe' AND task = 'who'),
          'pgetl_alice', 'the task worker connected as the owner');
SELECT is((SELECT count(*)::int FROM pgetl.pipeline_run WHERE pipeline = 'alice_pipe'), 1,
          'alice sees her run');
SELECT throws_ok($$SELECT * FROM pgetl.run_record$$, '42501', NULL, 'alice cannot read the history table itself');
-- a task cannot reach pgetl's tables either
SELECT lives_ok($$SELECT pgetl_create_pipeline('alice_snoop')$$, 'alice creates a second pipeline');
SELECT lives_ok($$SELECT pgetl_add_task('alice_snoop', 'snoop', 'SELECT count(*) FROM pgetl.run_record')$$,
                'with a task that reads pgetl tables');
SELECT throws_ok($$SELECT pgetl_run('alice_snoop')$$, '38000', NULL, 'that run fails');
SELECT is((SELECT sqlstate FROM pgetl.task_run WHERE pipeline = 'alice_snoop'), '42501',
          'because the task, running as alice, has no privilege on pgetl tables');
RESET ROLE;

-- bob can neither see nor touch alice's pipeline
SELECT max(run_id) AS alice_run FROM pgetl.run_record \gset
SET ROLE pgetl_bob;
SELECT is((SELECT count(*)::int FROM pgetl.pipeline_run), 0, 'bob sees no runs of alice');
SELECT is((SELECT count(*)::int FROM pgetl.pipelines) + (SELECT count(*)::int FROM pgetl.tasks), 0,
          'bob sees no pipelines or tasks of alice');
SELECT throws_ok($$SELECT pgetl_run('alice_pipe')$$, '42501', 'must be owner of pipeline "alice_pipe"',
                 'bob cannot run alice''s pipeline');
SELECT throws_ok($$SELECT pgetl_add_task('alice_pipe', 'evil', 'DROP TABLE x')$$, '42501', NULL,
                 'bob cannot add tasks to it');
SELECT throws_ok($$SELECT pgetl_drop_pipeline('alice_pipe')$$, '42501', NULL, 'bob cannot drop it');
SELECT throws_ok(format('SELECT pgetl_resume(%s)', :alice_run), '42501', NULL, 'bob cannot resume alice''s run');
SELECT throws_ok(format('SELECT pgetl_cancel(%s)', :alice_run), '42501', NULL, 'bob cannot cancel alice''s run');
-- (every argument of _create_pipeline: its on_failure, on_success, run_timeout too)
SELECT throws_ok($$SELECT pgetl._create_pipeline('pgetl_alice'::regrole, 'forged', NULL, 1, '{}', NULL, NULL, NULL)$$, '42501', NULL,
                 'bob cannot call internal functions to act as alice');
RESET ROLE;

-- a member of alice's role sees and runs her pipelines
SET ROLE pgetl_alice_member;
SELECT is((SELECT count(*)::int FROM pgetl.pipelines WHERE pipeline = 'alice_pipe'), 1,
          'a member of the owner role sees the pipeline');
SELECT lives_ok($$SELECT pgetl_run('alice_pipe')$$, 'and runs it');
RESET ROLE;

-- a superuser starting alice's pipeline does not make its tasks superuser
SELECT pgetl_run('alice_pipe') AS su_run \gset
SELECT is((SELECT result->>'cu' FROM pgetl.task_run WHERE run_id = :su_run), 'pgetl_alice',
          'tasks run as the owner even when a superuser starts the run');

SELECT * FROM finish();

SET client_min_messages = warning;
SELECT pgetl_drop_pipeline('alice_pipe');
SELECT pgetl_drop_pipeline('alice_snoop');
DELETE FROM pgetl.run_record;
REVOKE CREATE ON SCHEMA public FROM pgetl_alice;
DROP ROLE pgetl_alice_member;
DROP ROLE pgetl_alice;
DROP ROLE pgetl_bob;
