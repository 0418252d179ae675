#!/usr/bin/env bash
# Security: an attacker's search_path never reaches code pgetl runs with
# elevated rights.
#
# mallory has LOGIN, owns a database and a schema of its own, nothing else.
# It creates, in its schema, a shadow of every pg_catalog function whose name
# appears in pgetl's sources (same name and argument types) and of every
# pg_catalog operator on the types pgetl's SQL uses; each shadow records
# current_user in a canary table, then does what the original does.  Its
# search_path puts its schema first three ways at once: ALTER DATABASE
# (the run coordinator and the recovery worker connect to this database as
# superusers), ALTER ROLE (task workers connect as mallory) and SET in its
# own sessions.  Then it calls every public pgetl function, runs pipelines
# with every task kind, loads, cancels, resumes, schedules, and crashes the
# server mid-run so that recovery runs.  The canary must hold rows written
# as mallory (the shadows were reachable) and none written as anyone else.
source "$(dirname "$0")/../engine/lib.sh"
export PGDATABASE=pgetl_sp_$$
src=${PGETL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}

psql -X -q -d postgres -v ON_ERROR_STOP=1 <<SQL
DROP ROLE IF EXISTS mallory;
CREATE ROLE mallory LOGIN PASSWORD 'mallory';
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE DATABASE $PGDATABASE OWNER mallory;
-- what pg_cron asks of a role that schedules (as in README's set-up)
GRANT USAGE ON SCHEMA cron TO mallory;
GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean) TO mallory;
-- task pools are managed by members of pgetl_pool_admin (not created by
-- the extension): mallory is one
DO \$\$ BEGIN CREATE ROLE pgetl_pool_admin NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$;
GRANT pgetl_pool_admin TO mallory;
SQL
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" -c "DELETE FROM cron.job WHERE username = '"'"'mallory'"'"'" -c "DROP OWNED BY mallory" -c "DROP ROLE IF EXISTS mallory" >/dev/null 2>&1 || true' EXIT
# This script's own queries (q, as the superuser) must not sing: they pin
# their search_path; mallory's sessions (m) do not.
export PGOPTIONS="-c search_path=public"
q "CREATE EXTENSION pgetl"
ext_owner=$(q "SELECT extowner::regrole FROM pg_extension WHERE extname = 'pgetl'")

# Every identifier followed by "(" in pgetl's SQL and C sources: the
# functions pgetl may call.
names=$(cat "$src"/src/*.c "$src"/src/sql/*.sql | grep -oE '[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\(' \
        | tr -d '( \t' | tr 'A-Z' 'a-z' | sort -u | paste -sd, -)

m() { PGPASSWORD=mallory PGOPTIONS="-c search_path=mallory,pg_catalog,public" psql -X -A -t -q -v ON_ERROR_STOP=1 -U mallory "$@"; }

m <<SQL
CREATE SCHEMA mallory;
CREATE TABLE mallory.canary (who name, what text, at timestamptz DEFAULT pg_catalog.clock_timestamp());
GRANT INSERT ON mallory.canary TO PUBLIC;
GRANT USAGE ON SCHEMA mallory TO PUBLIC;
CREATE FUNCTION mallory.sing(what text) RETURNS void LANGUAGE sql SECURITY INVOKER
    SET search_path = pg_catalog, pg_temp
    AS \$\$ INSERT INTO mallory.canary (who, what) VALUES (current_user, what) \$\$;

-- shadow functions: same name and argument types as pg_catalog's
SELECT pg_catalog.format(
    'CREATE FUNCTION mallory.%I(%s) RETURNS %s%s LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS %L',
    p.proname, pg_catalog.pg_get_function_arguments(p.oid),
    CASE WHEN p.proretset THEN 'SETOF ' ELSE '' END, p.prorettype::regtype,
    pg_catalog.format('BEGIN PERFORM mallory.sing(%L); %s pg_catalog.%I(%s); END',
        p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
        CASE WHEN p.proretset THEN 'RETURN QUERY SELECT * FROM' ELSE 'RETURN' END, p.proname,
        (SELECT pg_catalog.string_agg('\$' || i, ', ') FROM pg_catalog.generate_series(1, p.pronargs) i)))
  FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind = 'f'
   AND p.proname = ANY (pg_catalog.string_to_array('$names', ','))
   AND p.provariadic = 0 AND p.pronargdefaults = 0
   AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype, 'internal'::regtype,
                            'record'::regtype, 'void'::regtype, 'cstring'::regtype, 'language_handler'::regtype,
                            'anyelement'::regtype, 'anyarray'::regtype, 'anycompatible'::regtype,
                            'anycompatiblearray'::regtype, 'anyrange'::regtype, 'anymultirange'::regtype,
                            'anyenum'::regtype, 'anynonarray'::regtype, 'anycompatiblerange'::regtype,
                            'anycompatiblemultirange'::regtype, 'anycompatiblenonarray'::regtype)
   AND NOT EXISTS (SELECT FROM pg_catalog.unnest(p.proargtypes::oid[]) t(t)
                    JOIN pg_catalog.pg_type ty ON ty.oid = t.t WHERE ty.typtype = 'p')
   AND p.proname NOT IN ('sing')
\gexec

-- shadow operators on the types pgetl's SQL works with
SELECT pg_catalog.format(
    'CREATE FUNCTION mallory.%I(%s) RETURNS %s LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS %L; '
    'CREATE OPERATOR mallory.%s (%s FUNCTION = mallory.%I)',
    'op_' || o.oid, pg_catalog.concat_ws(', ', NULLIF(o.oprleft, 0)::regtype, o.oprright::regtype), o.oprresult::regtype,
    pg_catalog.format('BEGIN PERFORM mallory.sing(%L); RETURN pg_catalog.%I(%s); END',
        'operator ' || o.oprname || '(' || pg_catalog.concat_ws(', ', NULLIF(o.oprleft, 0)::regtype, o.oprright::regtype) || ')',
        pr.proname, CASE WHEN o.oprleft = 0 THEN '\$1' ELSE '\$1, \$2' END),
    o.oprname,
    CASE WHEN o.oprleft <> 0 THEN 'LEFTARG = ' || o.oprleft::regtype || ', ' ELSE '' END
        || 'RIGHTARG = ' || o.oprright::regtype || ',',
    'op_' || o.oid)
  FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_proc pr ON pr.oid = o.oprcode
 WHERE o.oprnamespace = 'pg_catalog'::regnamespace
   AND o.oprleft IN (0, 'int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'text'::regtype, 'jsonb'::regtype,
                     'timestamptz'::regtype, 'interval'::regtype, 'date'::regtype, 'bool'::regtype,
                     'oid'::regtype, 'numeric'::regtype, 'float8'::regtype, 'name'::regtype,
                     'bytea'::regtype, 'char'::regtype, 'regrole'::regtype)
   AND o.oprright IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'text'::regtype, 'jsonb'::regtype,
                      'timestamptz'::regtype, 'interval'::regtype, 'date'::regtype, 'bool'::regtype,
                      'oid'::regtype, 'numeric'::regtype, 'float8'::regtype, 'name'::regtype,
                      'bytea'::regtype, 'char'::regtype, 'text[]'::regtype, 'regrole'::regtype)
   AND o.oprresult <> 'internal'::regtype
   AND pr.pronamespace = 'pg_catalog'::regnamespace
\gexec
SQL
nf=$(q "SELECT count(*) FROM pg_proc WHERE pronamespace = 'mallory'::regnamespace")
no=$(q "SELECT count(*) FROM pg_operator WHERE oprnamespace = 'mallory'::regnamespace")
[ "$nf" -gt 300 ] && [ "$no" -gt 200 ] || fail "too few shadows: $nf functions, $no operators"
ok "mallory shadows $nf functions and $no operators of pg_catalog"

# The three ways a search_path reaches a session
q "ALTER ROLE mallory SET search_path = mallory, pg_catalog, public"
m -c "ALTER DATABASE $PGDATABASE SET search_path = mallory, pg_catalog, public"

# The canary can fail: a superuser session with mallory's search_path that
# calls an unqualified clock_timestamp() sings as that superuser.
[ "$(PGOPTIONS= psql -X -A -t -q -c "SELECT pg_catalog.current_setting('search_path')")" = "mallory, pg_catalog, public" ] \
    || fail "ALTER DATABASE search_path not in effect"
PGOPTIONS= psql -X -A -t -q -c "SELECT clock_timestamp() IS NOT NULL" >/dev/null
[ "$(q "SELECT count(*) FROM mallory.canary WHERE who <> 'mallory'")" -gt 0 ] || fail "the canary does not sing for a superuser"
q "DELETE FROM mallory.canary"
ok "the canary records an elevated caller of a shadow (control)"

psql -X -q -d postgres -c "GRANT CONNECT ON DATABASE postgres TO mallory" >/dev/null
# Everything mallory can do with pgetl, under its hostile search_path.
m > /dev/null <<'SQL'
\set ON_ERROR_STOP 0
CREATE TABLE mallory.tgt (a int, b text);
CREATE TABLE mallory.marks (task text, v text);
SELECT pgetl_stage('m_stage', convert_to(E'a,b\n1,x\n2,y\nbad,z\n3,\n', 'UTF8'));
SELECT pgetl_define_load('mspec', 'mallory.tgt',
    '[{"name": "a", "min": 0, "max": 100, "required": true}, {"name": "b", "max_length": 5, "pattern": "^[a-z]*$", "allowed": ["x","y","z"], "unique": true}]',
    '{"checks": [{"name": "positive", "expression": "a >= 0"}], "max_rejects": 10}');
SELECT * FROM pgetl_load('mspec', 'm_stage');
CREATE TABLE mallory.loaded (what text, n bigint);
INSERT INTO mallory.loaded SELECT 'replayed', rows_read
  FROM pgetl_reload_rejects((SELECT max(load_id) FROM pgetl.load_history WHERE load_name = 'mspec'));
-- a load that commits every record (in a background worker), stopped by a
-- reject, then resumed
SELECT pgetl_define_load('mspec_ce', 'mallory.tgt', '[{"name": "a", "min": 0}, {"name": "b"}]',
    '{"commit_every": 1, "max_rejects": 0, "checks": [{"name": "positive", "expression": "a >= 0"}]}');
SELECT * FROM pgetl_load('mspec_ce', 'm_stage');
SELECT pgetl_define_load('mspec_ce', 'mallory.tgt', '[{"name": "a", "min": 0}, {"name": "b"}]',
    '{"commit_every": 1, "max_rejects": 5, "checks": [{"name": "positive", "expression": "a >= 0"}]}');
INSERT INTO mallory.loaded SELECT 'resumed', rows_read FROM pgetl_load('mspec_ce', 'm_stage', resume => true);
SELECT pgetl_infer_load('m_stage', 10, '{"table": "inferred"}');
SELECT pgetl_define_load('mspec_up', 'mallory.tgt', '[{"name": "a"}, {"name": "b"}]',
    '{"mode": "replace"}');
SELECT * FROM pgetl_load('mspec_up', 'm_stage');
SELECT pgetl_create_pipeline('mp', description => 'hostile', max_parallel => 2, params => '{"k": "v"}');
SELECT pgetl_alter_pipeline('mp', description => 'still hostile', max_parallel => 3);
SELECT pgetl_add_task('mp', 'first', $$INSERT INTO mallory.marks SELECT 'first', pgetl_param('k') || pgetl_run_id() || pgetl_logical_date()$$,
                      retries => 1, retry_delay => '0 s', timeout => '1 min');
SELECT pgetl_add_task('mp', 'chk', 'SELECT count(*) > 0, count(*) FROM mallory.marks', '{first}', kind => 'check');
SELECT pgetl_add_task('mp', 'ld', NULL, '{chk}', kind => 'load', config => '{"load": "mspec", "source": "m_stage"}');
SELECT pgetl_add_task('mp', 'res', $$INSERT INTO mallory.marks SELECT 'res', pgetl_result('ld')::text$$, '{ld}');
SELECT pgetl_add_task('mp', 'mapped', $$INSERT INTO mallory.marks SELECT 'mapped', pgetl_map_value('v') || pgetl_map_index()$$,
                      '{first}', map_over => 'SELECT v FROM unnest(ARRAY[''a'', ''b'']) v');
SELECT pgetl_add_task('mp', 'exp', 'SELECT 1', '{res}', kind => 'export', config => '{"path": "/tmp/mallory_{run_id}.csv"}');
SELECT pgetl_add_task('mp', 'last', 'SELECT 1', trigger_rule => 'all_done');
SELECT pgetl_add_dependency('mp', 'last', '{res}');
SELECT pgetl_run('mp', params => '{"k": "w"}');
SELECT pgetl_run('mp', logical_date => '2024-01-02', wait => false);
SELECT pg_sleep(0.5);
-- a failing run, resumed
SELECT pgetl_create_pipeline('mfail');
SELECT pgetl_add_task('mfail', 'boom', 'SELECT 1/0', retries => 1, retry_delay => '0 s');
SELECT pgetl_add_task('mfail', 'after', 'SELECT 1', '{boom}');
SELECT pgetl_run('mfail');
SELECT pgetl_resume((SELECT max(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'mfail'));
SELECT pgetl_resume((SELECT max(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'mfail'), rerun => '{after}');
SELECT pgetl_set_task_state((SELECT max(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'mfail'), 'boom', 'success', 'by hand');
SELECT pgetl_set_note((SELECT max(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'mfail'), NULL, 'a note');
SELECT pgetl_clear((SELECT max(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'mfail'), '{after}');
-- branching, short circuit and a task that skips itself
SELECT pgetl_create_pipeline('mbranch');
SELECT pgetl_add_task('mbranch', 'pick', $$SELECT 'one'$$, kind => 'branch');
SELECT pgetl_add_task('mbranch', 'one', $$SELECT pgetl_skip('skipped')$$, '{pick}');
SELECT pgetl_add_task('mbranch', 'two', 'SELECT 1', '{pick}');
SELECT pgetl_add_task('mbranch', 'sc', 'SELECT false', kind => 'short_circuit');
SELECT pgetl_add_task('mbranch', 'after_sc', 'SELECT 1', '{sc}', trigger_rule => 'one_done');
SELECT pgetl_run('mbranch');
-- sensors: one rescheduled until its timeout (soft_fail: skipped), one
-- poking a file in mode poke
SELECT pgetl_create_pipeline('msensor');
SELECT pgetl_add_task('msensor', 'never', 'SELECT count(*) < 0 FROM mallory.marks', kind => 'sensor',
                      timeout => '2 s', config => '{"poke_interval": "1 second", "soft_fail": true}');
SELECT pgetl_add_task('msensor', 'file', $$SELECT pgetl_file_exists('/tmp')$$, kind => 'sensor',
                      timeout => '2 s', config => '{"poke_interval": 1, "mode": "poke", "soft_fail": true}');
SELECT pgetl_run('msensor');
SELECT pgetl_file_exists('/tmp');
-- a slow run, cancelled
SELECT pgetl_create_pipeline('mslow');
SELECT pgetl_add_task('mslow', 'nap', 'SELECT pg_sleep(30)');
SELECT pgetl_run('mslow', wait => false);
SELECT pg_sleep(1);
SELECT pgetl_cancel((SELECT max(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'mslow'));
-- callbacks of tasks (one that fails) and of the pipeline, and a run
-- failed past its run_timeout by the scheduler
SELECT pgetl_create_pipeline('mcb', on_failure => 'SELECT pgetl_callback_context()', run_timeout => '2 s');
SELECT pgetl_alter_pipeline('mcb', on_success => 'SELECT 1', run_timeout => '3 s');
SELECT pgetl_add_task('mcb', 'ok', 'SELECT 1', on_success => 'SELECT pgetl_callback_context()');
SELECT pgetl_add_task('mcb', 'flaky', 'SELECT 1/0', retries => 1, retry_delay => '0 s',
                      on_retry => 'SELECT pgetl_callback_context()', on_failure => 'SELECT 1/0');
SELECT pgetl_add_task('mcb', 'nap', 'SELECT pg_sleep(30)', '{ok}');
SELECT pgetl_run('mcb');
SELECT pgetl_callback_context();
-- a task pool, a pipeline using it (weights, a cap on its tasks), a
-- backfill of two dates (a dry run first) and its cancel
SELECT pgetl_create_pool('mpool', 1, 'mallory''s pool');
SELECT pgetl_alter_pool('mpool', slots => 2);
SELECT pgetl_create_pipeline('mbf', max_active_runs => 2, max_active_tasks => 1);
SELECT pgetl_add_task('mbf', 'a', 'SELECT pgetl_logical_date()', pool => 'mpool', priority_weight => 3,
                      weight_rule => 'absolute');
SELECT pgetl_add_task('mbf', 'b', 'SELECT 1', pool => 'mpool', depends_on_past => true);
SELECT count(*) FROM pgetl_backfill('mbf', '2024-01-01', '2024-01-02', dry_run => true);
SELECT count(*) FROM pgetl_backfill('mbf', '2024-01-01', '2024-01-02');
SELECT pgetl_cancel_backfill('mbf');
SELECT * FROM pgetl.pools;
SELECT pgetl_drop_pipeline('mbf');
SELECT pgetl_drop_pool('mpool');
-- pictures and statistics
SELECT pgetl_graph('mfail');
SELECT pgetl_graph('mp', NULL, 'dot');
SELECT pgetl_graph('mfail', format => 'mermaid');
SELECT * FROM pgetl_task_stats('1 day');
SELECT * FROM pgetl_pipeline_stats(NULL);
SELECT * FROM pgetl.task_stats, pgetl.pipeline_stats;
SELECT * FROM pgetl.metrics;
-- pipelines as code: settings, tasks, edges, a schedule (through
-- pgetl_schedule) and its removal, a bad document (the key at fault is
-- found by trying the defaults)
SELECT pgetl_apply(pgetl_definition('mp') || '{"description": "applied"}');
SELECT pgetl_apply(pgetl_definition('mp'));
SELECT pgetl_apply('{"name": "mapplied", "params": {"k": 1}, "tasks": [{"name": "a", "command": "SELECT 1", "retry_delay": "1 s"}, {"name": "b", "kind": "check", "command": "SELECT true", "upstream": ["a"], "config": {"message": "m"}}], "schedule": {"schedule": "0 3 * * *", "params": {"k": 2}}}');
SELECT pgetl_apply('{"name": "mapplied", "tasks": [{"name": "a", "command": "SELECT 2", "retries": 1}]}', force => true);
SELECT pgetl_apply('{"name": "mapplied", "tasks": [{"name": "a", "command": "SELECT 2", "kind": "bogus", "retries": 2}]}');
SELECT pgetl_schedule('mp', '0 4 * * *', '{"k": "cron"}');
SELECT pgetl_schedule('mp', '5 4 * * *');
SELECT pgetl_schedule('mp', '5 4 * * *', catchup => true, start_date => current_date - 2, timezone => 'UTC');
SELECT pgetl_pause_schedule('mp');
SELECT pgetl_unpause_schedule('mp');
SELECT * FROM pgetl_run_due('mp', dry_run => true);
SELECT * FROM pgetl_schedule_intervals('5 4 * * *', now() - interval '2 days', now(), 'Europe/Paris');
SELECT pgetl_unschedule('mp');
SELECT pgetl_purge_history('0 s');
SELECT pgetl_purge_loads('0 s');
SELECT pgetl_alter_pipeline('mfail', owner => 'mallory');
SELECT pgetl_reassign_owned('mallory', 'mallory');
SELECT pgetl_drop_load('mspec_up');
SELECT pgetl_stage('m_stage2', '\x610a310a');
SELECT pgetl_drop_stage('m_stage2');
SELECT pgetl_create_pipeline('mdrop');
SELECT pgetl_drop_pipeline('mdrop');
SELECT pgetl_param('x'), pgetl_result('x'), pgetl_run_id(), pgetl_logical_date();
SELECT pgetl_data_interval_start(), pgetl_data_interval_end();
SELECT pgetl_map_value('v'), pgetl_map_index();
SELECT pgetl_skip('outside a task');
SELECT pgetl_gantt(max(run_id)), pgetl_gantt(max(run_id), 'mermaid') FROM pgetl.pipeline_run WHERE pipeline = 'mfail';
SELECT pgetl_report(max(run_id)), pgetl_report(max(run_id), 'html') FROM pgetl.pipeline_run WHERE pipeline = 'mfail';
SELECT * FROM pgetl_state_colors();
SQL
wait_for "SELECT NOT EXISTS (SELECT FROM pgetl.pipeline_run WHERE state IN ('queued', 'running') AND pipeline <> 'mslow')" 60 \
    || fail "runs did not finish"
[ "$(q "SELECT string_agg(DISTINCT task, ',') FROM mallory.marks")" = "first,mapped,res" ] \
    || fail "mallory's pipeline did not run its tasks: $(q "SELECT string_agg(task, ',') FROM mallory.marks")"
[ "$(q "SELECT count(*) FROM mallory.tgt")" -ge 3 ] || fail "mallory's loads loaded nothing"
[ "$(q "SELECT string_agg(what || n, ',' ORDER BY what) FROM mallory.loaded")" = "replayed1,resumed4" ] \
    || fail "mallory's rejects were not replayed, or its load with commit_every not resumed: $(q "SELECT string_agg(what || n, ',') FROM mallory.loaded")"
[ "$(q "SELECT string_agg(t.name || ':' || t.command || ':' || t.retries, ',') || ':' || count(s.*)
          FROM pgetl.pipeline p JOIN pgetl.task t USING (pipeline_id) LEFT JOIN pgetl.schedule s USING (pipeline_id)
         WHERE p.name = 'mapplied'")" = "a:SELECT 2:1:0" ] || fail "mallory's pgetl_apply did not apply"
[ "$(m -c "SELECT pgetl_graph('mfail') LIKE '<?xml%</svg>%' AND pgetl_graph('mfail', format => 'dot') LIKE 'digraph%'")" = t ] \
    || fail "mallory could not draw its pipeline"
ok "mallory defined, loaded, ran, resumed, cancelled and scheduled under its search_path"

# Every public function was called above (a new one must be added here).
called=$(sed -n '/^m > \/dev\/null <<.SQL.$/,/^SQL$/p' "$0" | grep -oE 'pgetl_[a-z_]+\(' | tr -d '(' | sort -u | paste -sd, -)
missing=$(q "SELECT string_agg(proname, ', ' ORDER BY proname) FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid
              JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgetl'
             WHERE p.pronamespace = e.extnamespace AND NOT p.proname = ANY (string_to_array('$called', ','))")
[ -z "$missing" ] || fail "public functions not exercised by this test: $missing"
ok "every public function was called"

# A crash mid-run: the server restarts and the recovery worker (a
# superuser, connected to mallory's database) marks the run failed.
m -c "SELECT pgetl_create_pipeline('mcrash')" -c "SELECT pgetl_add_task('mcrash', 'victim', 'SELECT pg_sleep(60)')" >/dev/null
run=$(m -c "SELECT pgetl_run('mcrash', wait => false)")
wait_for "SELECT EXISTS (SELECT FROM pgetl.task_run WHERE run_id = $run AND state = 'running')" || fail "victim never ran"
kill -9 "$(q "SELECT pid FROM pgetl.task_run WHERE run_id = $run")"
wait_for "SELECT state = 'failed' FROM pgetl.pipeline_run WHERE run_id = $run" 60 || fail "crashed run not recovered"
ok "recovery ran in mallory's database after a crash"

[ "$(q "SELECT count(*) FROM mallory.canary WHERE who = 'mallory'")" -gt 0 ] \
    || fail "no shadow was ever reached, even as mallory: the sweep proves nothing"
elevated=$(q "SELECT string_agg(DISTINCT who || ' ran ' || what, '; ') FROM mallory.canary WHERE who <> 'mallory'")
[ -z "$elevated" ] || fail "attacker code ran elevated: $elevated"
[ "$(q "SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'")" = f ] || fail "mallory is a superuser"
ok "no shadow ran as $ext_owner or any role but mallory ($(q "SELECT count(*) FROM mallory.canary") calls, all as mallory)"
