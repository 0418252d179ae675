#!/usr/bin/env bash
# The pipeline owner loses LOGIN, or CONNECT on the database, while a run
# goes on: the task workers started after that cannot connect.  Their tries
# must fail with PostgreSQL's error (28000, 42501) recorded, not as "worker
# terminated unexpectedly", and must not be retried (retries cannot fix it);
# once the right is back, pgetl_resume() completes the run.  A run of an
# owner without CONNECT is refused at once (42501).
source "$(dirname "$0")/lib.sh"
setup_db
owner=pgetl_owner_test_$$
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" -c "DROP ROLE IF EXISTS $owner" >/dev/null 2>&1 || true' EXIT

q "CREATE ROLE $owner LOGIN; CREATE TABLE gate (open boolean); INSERT INTO gate VALUES (false); GRANT SELECT ON gate TO $owner"
# 'first' holds the run until the gate opens; 'second' starts after it
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET ROLE $owner;
SELECT pgetl_create_pipeline('p');
SELECT pgetl_add_task('p', 'first', \$t\$DO \$d\$ BEGIN
    FOR i IN 1..1200 LOOP EXIT WHEN (SELECT open FROM gate); PERFORM pg_sleep(0.05); END LOOP; END \$d\$\$t\$);
SELECT pgetl_add_task('p', 'second', 'SELECT 2 AS two', '{first}', retries => 3, retry_delay => '0');
SQL

# start_run ROLE-CHANGE: start a run, change the owner's rights while
# 'first' runs, open the gate, wait for the run to end; prints the run id
start_run() {
    local run
    q "UPDATE gate SET open = false"
    run=$(q "SELECT pgetl_run('p', wait => false)")
    wait_for "SELECT EXISTS (SELECT FROM pgetl.task_run WHERE run_id = $run AND task = 'first' AND state = 'running')" \
        || fail "first never started"
    q "$1"
    q "UPDATE gate SET open = true"
    wait_for "SELECT state <> 'running' FROM pgetl.pipeline_run WHERE run_id = $run" 60 || fail "run $run did not end"
    echo "$run"
}
tries() { q "SELECT string_agg(task || ':' || try_number || ':' || state || ':' || coalesce(sqlstate, '-'), ',' ORDER BY task, try_number) FROM pgetl.task_run WHERE run_id = $1"; }

# --- LOGIN
run=$(start_run "ALTER ROLE $owner NOLOGIN")
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" = failed ] || fail "run $run not failed"
[ "$(tries "$run")" = "first:1:success:-,second:1:failed:28000" ] || fail "tries: $(tries "$run")"
[ "$(q "SELECT error FROM pgetl.task_run WHERE run_id = $run AND task = 'second'")" = "role \"$owner\" is not permitted to log in" ] \
    || fail "error: $(q "SELECT error FROM pgetl.task_run WHERE run_id = $run AND task = 'second'")"
q "SELECT hint FROM pgetl.task_run WHERE run_id = $run AND task = 'second'" | grep -q "ALTER ROLE $owner LOGIN" || fail "no hint"
ok "owner lost LOGIN: the try failed with 28000 and PostgreSQL's message, not retried"
q "ALTER ROLE $owner LOGIN"
q "SELECT pgetl_resume($run)" >/dev/null || fail "resume after LOGIN is back failed"
[ "$(tries "$run")" = "first:1:success:-,second:1:failed:28000,second:2:success:-" ] || fail "after resume: $(tries "$run")"
ok "and pgetl_resume completed the run once LOGIN was back"

# --- CONNECT (through PUBLIC, as by default)
run=$(start_run "REVOKE CONNECT ON DATABASE $PGDATABASE FROM PUBLIC")
[ "$(tries "$run")" = "first:1:success:-,second:1:failed:42501" ] || fail "tries: $(tries "$run")"
[ "$(q "SELECT error || ' / ' || detail FROM pgetl.task_run WHERE run_id = $run AND task = 'second'")" \
  = "permission denied for database \"$PGDATABASE\" / User does not have CONNECT privilege. Task workers connect as the pipeline owner." ] \
    || fail "error: $(q "SELECT error, detail FROM pgetl.task_run WHERE run_id = $run AND task = 'second'")"
ok "owner lost CONNECT: the try failed with 42501 and PostgreSQL's message, not retried"
# a new run is refused at once
out=$(psql -X -A -t -q -c "SELECT pgetl_run('p')" 2>&1 || true)
grep -q "permission denied for database" <<<"$out" || fail "run without CONNECT: $out"
[ "$(q "SELECT count(*) FROM pgetl.pipeline_run WHERE state = 'running'")" = 0 ] || fail "a run started"
ok "a run of an owner without CONNECT is refused: $out"
q "GRANT CONNECT ON DATABASE $PGDATABASE TO PUBLIC"
q "SELECT pgetl_resume($run)" >/dev/null || fail "resume after CONNECT is back failed"
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" = success ] || fail "resumed run not success"
ok "and pgetl_resume completed the run once CONNECT was back"

# --- a task's own privilege error is not retried either
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET ROLE $owner;
SELECT pgetl_create_pipeline('priv');
SELECT pgetl_add_task('priv', 'read', 'SELECT open FROM gate', retries => 3, retry_delay => '0');
SQL
q "REVOKE SELECT ON gate FROM $owner"
psql -X -q -c "SELECT pgetl_run('priv')" >/dev/null 2>&1 && fail "run of priv did not fail"
run=$(q "SELECT max(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'priv'")
[ "$(tries "$run")" = "read:1:failed:42501" ] || fail "tries: $(tries "$run")"
ok "a task failing with 42501 (permission denied for table) is not retried"
