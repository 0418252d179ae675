#!/usr/bin/env bash
# Background worker slots (issue 9): runs and tries wait, visibly, instead
# of failing or hanging.  Each case gets a cluster of its own with few
# max_worker_processes (test/setup/cluster.sh, PGETL_CLUSTER_OPTS); three
# of them are held for good by the workers registered at server start:
# pg_cron's launcher, pgetl's launcher, the logical replication launcher.
# The database's scheduler holds one more.
#   5 slots: run A's task holds the last one; runs B (max_parallel 1) and C
#            start, their tries wait queued and each run says why; both
#            finish once A's task has ended.
#   pool:    the same with room to spare but pgetl.max_workers = 1.
#   8 slots: 10 clients start 10 pipelines at once: all succeed, no 53400.
#   4 slots: never enough for a scheduler and a task: 53400 at once, with
#            a hint.
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
    local what=$1
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

    # B and C start; their tries wait queued for a task worker, and say why
    b=$(q "SELECT pgetl_run('b', wait => false)")
    c=$(PGOPTIONS="-c statement_timeout=5000" q "SELECT pgetl_run('c', wait => false)") \
        || fail "run C did not start at once"
    for r in $b $c; do
        wait_for "SELECT reason LIKE 'tasks wait for a free task worker%' FROM pgetl.pipeline_run WHERE run_id = $r" \
            || fail "run $r does not say that it waits for a worker: $(q "SELECT state || ' ' || coalesce(reason, '') FROM pgetl.pipeline_run WHERE run_id = $r")"
        [ "$(q "SELECT state FROM pgetl.task_run WHERE run_id = $r")" = queued ] || fail "run $r's try is not queued"
    done
    ok "$what: runs B and C started; their tries wait queued, and each run says why"

    # release A: then B and C get a worker and finish
    qq "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 9009 AND granted AND pid <> pg_backend_pid()"
    wait "$holder" 2>/dev/null || true
    for r in $a $b $c; do
        wait_for "SELECT state = 'success' FROM pgetl.pipeline_run WHERE run_id = $r" 60 \
            || fail "run $r hangs: $(q "SELECT state || ' ' || coalesce(reason, '') FROM pgetl.pipeline_run WHERE run_id = $r")"
    done
    [ "$(q "SELECT count(*) FROM pgetl.pipeline_run WHERE reason IS NOT NULL")" = 0 ] || fail "a run still has a reason"
    ok "$what: B and C finish once A's task has ended"
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
    grep -q 53400 <<<"$out" || fail "expected 53400"
    grep -q "HINT:  Raise max_worker_processes to at least 5" <<<"$out" || fail "no hint"
    ok "4 slots: 53400 at once, with a hint"
}

case "${1:-}" in
    minimal) case_minimal "5 slots" ;;
    pool) case_minimal "pgetl.max_workers = 1" ;;
    many) case_many ;;
    too_few) case_too_few ;;
    "")
        run_in_cluster "max_worker_processes=5" minimal || fail "5 slots"
        run_in_cluster "pgetl.max_workers=1" pool || fail "pool of 1"
        run_in_cluster "max_worker_processes=8" many || fail "8 slots"
        run_in_cluster "max_worker_processes=4" too_few || fail "4 slots"
        ;;
esac
