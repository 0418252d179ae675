#!/usr/bin/env bash
# pgetl_cancel returns true only when the run ended cancelled: a run whose
# coordinator finishes it before it sees the cancel request ends success,
# and then pgetl_cancel returns false (with a notice).  Cancels are sent at
# different moments of short runs, so that both outcomes happen; whatever
# the timing, the return value must match the final state.
source "$(dirname "$0")/lib.sh"
setup_db

qq "SELECT pgetl_create_pipeline('quick')"
qq "SELECT pgetl_add_task('quick', 'a', 'SELECT pg_sleep(0.05)')"
qq "SELECT pgetl_add_task('quick', 'b', 'SELECT 1', '{a}')"
n_true=0
n_false=0
for i in $(seq 0 29); do
    run=$(q "SELECT pgetl_run('quick', wait => false)")
    sleep "$(printf '0.%03d' $((i * 7)))"
    res=$(psql -X -A -t -q -c "SELECT pgetl_cancel($run)" 2>/dev/null)
    wait_for "SELECT state <> 'running' FROM pgetl.pipeline_run WHERE run_id = $run" 30 || fail "run $run did not end"
    state=$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")
    if [ "$res" = t ]; then
        [ "$state" = cancelled ] || fail "pgetl_cancel($run) returned true, but the run ended $state"
        n_true=$((n_true + 1))
    else
        [ "$res" = f ] || fail "pgetl_cancel($run) returned '$res'"
        [ "$state" != cancelled ] || fail "pgetl_cancel($run) returned false, but the run ended cancelled"
        n_false=$((n_false + 1))
    fi
    [ "$(q "SELECT count(*) FROM pgetl.task_run WHERE run_id = $run AND state IN ('scheduled', 'queued', 'running', 'up_for_retry')")" = 0 ] \
        || fail "run $run ended with unfinished tasks"
done
ok "30 cancels: $n_true returned true (run cancelled), $n_false false (run ended otherwise)"
