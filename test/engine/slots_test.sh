#!/usr/bin/env bash
# Background worker slots (issue 9): runs queue for a slot instead of
# failing or hanging.  Each case gets a cluster of its own with few
# max_worker_processes (test/setup/cluster.sh, PGETL_CLUSTER_OPTS); three
# of them are held for good by the workers registered at server start:
# pg_cron's launcher, pgetl's launcher, the logical replication launcher.
#   6 slots: run A's task holds one, run B (max_parallel 1) gets its
#            coordinator but no task worker; B's try waits queued, the run
#            says why, and B finishes once A's task has ended.  A third
#            run waits for a slot until its statement_timeout (57014), not
#            53400.
#   8 slots: 10 clients start 10 pipelines at once: all succeed, no 53400.
#   4 slots: never enough for a coordinator and a task: 53400 at once,
#            with a hint.
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

# run_in_cluster SETTINGS CASE: this script's CASE in a cluster of its own
run_in_cluster() {
    PGETL_CLUSTER_OPTS="$1" "$src/test/setup/cluster.sh" bash "$here/slots_test.sh" "$2"
}

# psql that reports the SQLSTATE of an error
qv() { psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "$1"; }

case_minimal() {
    setup_db
    [ "$(q "SHOW max_worker_processes")" = 6 ] || fail "max_worker_processes is not 6"
    qq "CREATE TABLE gate (x int)"
    qq "SELECT pgetl_create_pipeline('a')"
    qq "SELECT pgetl_add_task('a', 'blocked', 'SELECT pg_advisory_lock(9009)')"
    qq "SELECT pgetl_create_pipeline('b', max_parallel => 1)"
    qq "SELECT pgetl_add_task('b', 'quick', 'SELECT 1')"
    qq "SELECT pgetl_create_pipeline('c')"
    qq "SELECT pgetl_add_task('c', 'quick', 'SELECT 1')"

    # A's task waits for an advisory lock this session holds
    psql -X -q -c "SELECT pg_advisory_lock(9009)" -c "SELECT pg_sleep(300)" >/dev/null 2>&1 &
    holder=$!
    wait_for "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND objid = 9009 AND granted)" \
        || fail "the lock holder did not start"
    a=$(q "SELECT pgetl_run('a', wait => false)")
    wait_for "SELECT state = 'running' FROM pgetl.task_run WHERE run_id = $a" || fail "A's task never ran"

    # B: its coordinator takes the last slot, its task waits queued
    b=$(q "SELECT pgetl_run('b', wait => false)")
    wait_for "SELECT reason LIKE 'tasks wait for a free background worker slot%' FROM pgetl.pipeline_run WHERE run_id = $b" \
        || fail "run B does not say that it waits for a slot: $(q "SELECT state || ' ' || coalesce(reason, '') FROM pgetl.pipeline_run WHERE run_id = $b")"
    [ "$(q "SELECT state FROM pgetl.task_run WHERE run_id = $b")" = queued ] || fail "B's try is not queued"
    ok "6 slots: run B's try waits queued, and the run says why"

    # C: no slot for a coordinator either; waits until statement_timeout
    out=$(PGOPTIONS="-c statement_timeout=1500" qv "SELECT pgetl_run('c', wait => false)" 2>&1) && fail "run C started: $out"
    echo "$out" | grep -q 57014 || fail "run C did not wait for a slot until statement_timeout: $out"
    echo "$out" | grep -q 53400 && fail "run C failed with 53400: $out"
    [ "$(q "SELECT count(*) FROM pgetl.pipeline_run WHERE pipeline = 'c'")" = 0 ] || fail "run C was recorded"
    ok "a run without a slot waits for one, until statement_timeout (57014, not 53400)"

    # release A: then B gets a worker and finishes, C runs
    qq "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 9009 AND granted AND pid <> pg_backend_pid()"
    wait "$holder" 2>/dev/null || true
    wait_for "SELECT state = 'success' FROM pgetl.pipeline_run WHERE run_id = $a" 60 || fail "run A did not finish"
    wait_for "SELECT state = 'success' FROM pgetl.pipeline_run WHERE run_id = $b" 60 \
        || fail "run B hangs: $(q "SELECT state || ' ' || coalesce(reason, '') FROM pgetl.pipeline_run WHERE run_id = $b")"
    [ "$(q "SELECT reason IS NULL FROM pgetl.pipeline_run WHERE run_id = $b")" = t ] || fail "run B still has a reason"
    c=$(timeout 60 psql -X -A -t -q -v ON_ERROR_STOP=1 -c "SELECT pgetl_run('c')") || fail "run C failed"
    [ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $c")" = success ] || fail "run C did not succeed"
    ok "6 slots: run B finishes once A's task has ended; run C runs then"
}

case_many() {
    setup_db
    local n=10 i tmp
    [ "$(q "SHOW max_worker_processes")" = 8 ] || fail "max_worker_processes is not 8"
    for i in $(seq $n); do
        qq "SELECT pgetl_create_pipeline('p$i')"
        qq "SELECT pgetl_add_task('p$i', 'first', 'SELECT pg_sleep(0.3)')"
        qq "SELECT pgetl_add_task('p$i', 'second', 'SELECT pg_sleep(0.3)', '{first}')"
        qq "SELECT pgetl_add_task('p$i', 'third', 'SELECT 1', '{first}')"
    done
    tmp=$(mktemp -d)
    for i in $(seq $n); do
        timeout 120 psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
            -c "SELECT pgetl_run('p$i')" >"$tmp/$i.out" 2>&1 &
    done
    local failed=0
    for job in $(jobs -p); do
        wait "$job" || failed=$((failed + 1))
    done
    cat "$tmp"/*.out | grep -E "ERROR|FATAL" | sort | uniq -c || true
    grep -l 53400 "$tmp"/*.out && fail "pgetl_run failed with 53400"
    rm -rf "$tmp"
    [ "$failed" = 0 ] || fail "$failed of $n pgetl_run calls failed or hung"
    [ "$(q "SELECT count(*) FROM pgetl.pipeline_run WHERE state = 'success'")" = $n ] \
        || fail "not all $n runs succeeded: $(q "SELECT string_agg(pipeline || ' ' || state, ', ') FROM pgetl.pipeline_run")"
    ok "8 slots: $n pipelines started at once by $n clients all succeed"
}

case_too_few() {
    setup_db
    qq "SELECT pgetl_create_pipeline('p')"
    qq "SELECT pgetl_add_task('p', 'quick', 'SELECT 1')"
    out=$(timeout 60 psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "SELECT pgetl_run('p', wait => false)" 2>&1) \
        && fail "the run started with 4 slots: $out"
    echo "$out"
    echo "$out" | grep -q 53400 || fail "expected 53400"
    echo "$out" | grep -q "HINT:  Raise max_worker_processes to at least 5" || fail "no hint"
    ok "4 slots: 53400 at once, with a hint"
}

case "${1:-}" in
    minimal) case_minimal ;;
    many) case_many ;;
    too_few) case_too_few ;;
    "")
        run_in_cluster "max_worker_processes=6" minimal || fail "6 slots"
        run_in_cluster "max_worker_processes=8" many || fail "8 slots"
        run_in_cluster "max_worker_processes=4" too_few || fail "4 slots"
        ;;
esac
