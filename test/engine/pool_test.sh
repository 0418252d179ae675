#!/usr/bin/env bash
# Warm task workers (issue 9, item 3): nothing leaks from one task to the
# next in a reused worker.  A task of pipeline "dirty" leaves behind every
# kind of session state; a task of another pipeline of the same owner,
# run next by the same worker process (checked by pid), must find a fresh
# session.  Then the owner loses LOGIN: the warm worker must not run its
# next task (a new connection records 28000).  Then ALTER ROLE ... SET
# changes the owner's settings: the next task sees them, as a new session
# would.
source "$(dirname "$0")/lib.sh"
setup_db
owner=pgetl_pool_owner_$$
other=pgetl_pool_other_$$
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" -c "DROP ROLE IF EXISTS $owner" -c "DROP ROLE IF EXISTS $other" >/dev/null 2>&1 || true' EXIT
qq "CREATE ROLE $owner LOGIN; CREATE ROLE $other; GRANT $other TO $owner;
    GRANT CREATE, TEMPORARY ON DATABASE $PGDATABASE TO $owner;
    CREATE SCHEMA evil AUTHORIZATION $owner; CREATE SEQUENCE public.leak_seq; GRANT ALL ON public.leak_seq TO $owner;
    CREATE FUNCTION public.probe_currval() RETURNS text LANGUAGE plpgsql AS \$\$
    BEGIN RETURN currval('public.leak_seq')::text;
    EXCEPTION WHEN object_not_in_prerequisite_state THEN RETURN 'unset'; END \$\$;"
as_owner() { PGOPTIONS="-c role=$owner" q "$1"; }
as_owner "SELECT pgetl_create_pipeline('dirty', max_parallel => 1)" >/dev/null
as_owner "SELECT pgetl_add_task('dirty', 'leave_state', \$\$
    SET search_path = evil, public;
    SET statement_timeout = '4321s';
    SET work_mem = '7MB';
    CREATE TEMP TABLE leak_tmp (x int);
    PREPARE leak_stmt AS SELECT 1;
    DECLARE leak_cursor CURSOR WITH HOLD FOR SELECT 1;
    SELECT pg_advisory_lock(4242);
    SELECT nextval('public.leak_seq');
    SET ROLE $other;
    SELECT pg_backend_pid() AS pid, current_user AS role\$\$)" >/dev/null
as_owner "SELECT pgetl_create_pipeline('probe', max_parallel => 1)" >/dev/null
as_owner "SELECT pgetl_add_task('probe', 'look', \$\$
    SELECT pg_backend_pid() AS pid, current_user AS role, session_user AS session_role,
           current_setting('search_path') AS search_path,
           current_setting('statement_timeout') AS statement_timeout,
           current_setting('work_mem') AS work_mem,
           to_regclass('pg_temp.leak_tmp') IS NOT NULL AS temp_table,
           (SELECT count(*) FROM pg_prepared_statements) AS prepared,
           (SELECT count(*) FROM pg_cursors) AS cursors,
           (SELECT count(*) FROM pg_listening_channels()) AS listening,
           (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory_locks,
           public.probe_currval() AS currval\$\$)" >/dev/null

# LISTEN cannot even be made by a task (a background worker)
as_owner "SELECT pgetl_create_pipeline('refused')" >/dev/null
as_owner "SELECT pgetl_add_task('refused', 'listen', 'LISTEN leak_channel')" >/dev/null
as_owner "SELECT pgetl_run('refused')" >/dev/null 2>&1 && fail "a task could LISTEN"
[ "$(q "SELECT sqlstate FROM pgetl.task_run WHERE pipeline = 'refused'")" = 0A000 ] || fail "LISTEN did not fail with 0A000"
ok "a task cannot LISTEN: $(q "SELECT error FROM pgetl.task_run WHERE pipeline = 'refused'")"

dirty=$(as_owner "SELECT pgetl_run('dirty')")
dirty_pid=$(q "SELECT result->>'pid' FROM pgetl.task_run WHERE run_id = $dirty")
[ "$(q "SELECT result->>'role' FROM pgetl.task_run WHERE run_id = $dirty")" = "$other" ] || fail "the dirty task did not change role"
probe=$(as_owner "SELECT pgetl_run('probe')")
res=$(q "SELECT result FROM pgetl.task_run WHERE run_id = $probe")
echo "after the dirty task: $res"
[ "$(q "SELECT result->>'pid' FROM pgetl.task_run WHERE run_id = $probe")" = "$dirty_pid" ] \
    || fail "the probe ran in another worker (pid $dirty_pid, then $(q "SELECT result->>'pid' FROM pgetl.task_run WHERE run_id = $probe")): the test proves nothing"
ok "the same warm worker (pid $dirty_pid) ran both tasks, of two pipelines of one owner"
check() { # check KEY EXPECTED WHAT
    local got
    got=$(q "SELECT result->>'$1' FROM pgetl.task_run WHERE run_id = $probe")
    [ "$got" = "$2" ] || fail "$3 leaked: $1 is '$got', expected '$2'"
    ok "$3 did not leak ($1 = $got)"
}
check role "$owner" "SET ROLE"
check session_role "$owner" "session authorization"
check search_path '"$user", public' "search_path"
check statement_timeout 0 "a session setting (statement_timeout)"
check work_mem 4MB "a session setting (work_mem)"
check temp_table false "a temporary table"
check prepared 0 "a prepared statement"
check cursors 0 "a cursor WITH HOLD"
check listening 0 "LISTEN"
check advisory_locks 0 "a session advisory lock"
check currval unset "currval"

# the owner loses LOGIN while a run goes on: the warm worker that ran the
# first task must not run the second; a new connection fails and records why
as_owner "SELECT pgetl_create_pipeline('twostep', max_parallel => 1)" >/dev/null
as_owner "SELECT pgetl_add_task('twostep', 'first', 'SELECT pg_sleep(1.5)')" >/dev/null
as_owner "SELECT pgetl_add_task('twostep', 'second', 'SELECT pg_backend_pid() AS pid', '{first}')" >/dev/null
run=$(as_owner "SELECT pgetl_run('twostep', wait => false)")
wait_for "SELECT state = 'running' FROM pgetl.task_run WHERE run_id = $run AND task = 'first'" || fail "first never ran"
qq "ALTER ROLE $owner NOLOGIN"
wait_for "SELECT state <> 'running' FROM pgetl.pipeline_run WHERE run_id = $run" 60 || fail "run never finished"
[ "$(q "SELECT state || ' ' || coalesce(sqlstate, '') FROM pgetl.task_run WHERE run_id = $run AND task = 'second'")" = "failed 28000" ] \
    || fail "second: $(q "SELECT state, sqlstate, error, result FROM pgetl.task_run WHERE run_id = $run AND task = 'second'")"
ok "owner lost LOGIN mid-run: the warm worker did not run the next task; 28000 recorded ($(q "SELECT error FROM pgetl.task_run WHERE run_id = $run AND task = 'second'"))"
qq "ALTER ROLE $owner LOGIN"

# ALTER ROLE ... SET: the next task sees it, as a new session would
as_owner "SELECT pgetl_run('probe')" >/dev/null
qq "ALTER ROLE $owner SET work_mem = '5MB'"
probe=$(as_owner "SELECT pgetl_run('probe')")
[ "$(q "SELECT result->>'work_mem' FROM pgetl.task_run WHERE run_id = $probe")" = 5MB ] \
    || fail "ALTER ROLE ... SET work_mem made after the worker connected is not seen: $(q "SELECT result FROM pgetl.task_run WHERE run_id = $probe")"
ok "ALTER ROLE ... SET made after the worker connected: the next task sees it, as a new session would"

# DROP DATABASE (without FORCE) and ALTER DATABASE ... RENAME need a
# database without sessions: pgetl's idle scheduler and warm workers there
# leave when asked, instead of making the command fail
gone=pgetl_dropme_$$
psql -X -q -d postgres -c "CREATE DATABASE $gone"
PGDATABASE=$gone q "CREATE EXTENSION pgetl" >/dev/null
PGDATABASE=$gone q "SELECT pgetl_create_pipeline('x')" >/dev/null
PGDATABASE=$gone q "SELECT pgetl_add_task('x', 't', 'SELECT 1')" >/dev/null
PGDATABASE=$gone q "SELECT pgetl_run('x')" >/dev/null
[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = '$gone' AND backend_type IN ('pgetl scheduler', 'pgetl task')")" -ge 2 ] \
    || fail "no warm worker and scheduler were left in $gone"
psql -X -q -d postgres -c "ALTER DATABASE $gone RENAME TO ${gone}_renamed" || fail "ALTER DATABASE RENAME failed with pgetl's idle processes there"
PGDATABASE=${gone}_renamed q "SELECT pgetl_run('x')" >/dev/null
psql -X -q -d postgres -c "DROP DATABASE ${gone}_renamed" || fail "DROP DATABASE failed with pgetl's idle processes there"
ok "ALTER DATABASE RENAME and DROP DATABASE (no FORCE) succeed: pgetl's idle scheduler and workers left"
