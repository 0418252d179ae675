#!/usr/bin/env bash
# Many runs at once never fail or hang for want of run slots.  The cluster
# has max_worker_processes = 8, so the server has PGETL_MIN_RUN_SLOTS (256)
# run slots (src/shmem.c); each active run, a queued one too, holds one.
#   1. At once:
#      - a catchup of a daily schedule by pgetl_run_due(..., wait => true)
#        of more dates than there are run slots (DAYS),
#      - a catchup by the command of the schedule's pg_cron job
#        (pgetl_schedule with catchup), run as pg_cron runs it
#        (application_name pg_cron), of SOME dates (time),
#      - a pgetl_backfill of SOME dates with max_active_runs 1024 (the
#        pipeline's is 2),
#      and meanwhile plain pgetl_run calls of another pipeline: none fails.
#      No pipeline ever has more than its max_active_runs (2) runs active,
#      queued ones included (they would hold run slots).  Every date then
#      has exactly one run, successful; runs started oldest date first;
#      never more than 2 tasks of a pipeline at once.
#   2. A catchup without waiting (wait => false) of more intervals than
#      slots, with slow tasks: it starts what fits, leaving a quarter of
#      the slots free (a notice says how many intervals stay due), and a
#      plain pgetl_run still starts.
# Before, each of them started one run per date at once, queued beyond
# max_active_runs, and the 257th failed with 53400 "too many active pgetl
# runs"; so did pgetl_run of another pipeline meanwhile.
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# more than the run slots; fewer for the cron job and the backfill (time)
DAYS=280
SOME=40

# psql that reports the SQLSTATE of an error
qv() { psql -X -A -t -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "$1"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# pipeline NAME TASK_SQL: max_active_runs 2, one task
pipeline() {
    qq "SELECT pgetl_create_pipeline('$1', max_active_runs => 2)"
    qq "SELECT pgetl_add_task('$1', 'a', \$\$$2\$\$)"
}

# check NAME N: every date of the last N days has exactly one run, successful;
# run ids (the order they started) follow the dates; at most 2 tasks of
# the pipeline ran at once
check() {
    local got days=$2
    got=$(q "SELECT count(*) || ' ' || count(DISTINCT logical_date) || ' ' || count(*) FILTER (WHERE state = 'success')
                    || ' ' || (min(logical_date) = current_date - $days) || ' ' || (max(logical_date) = current_date - 1)
               FROM pgetl.run_record WHERE pipeline = '$1'")
    [ "$got" = "$days $days $days true true" ] \
        || fail "$1: runs, dates, successes, first and last date: $got; states: $(q "SELECT string_agg(state || '=' || n, ' ') FROM (SELECT state, count(*) n FROM pgetl.run_record WHERE pipeline = '$1' GROUP BY 1) s")"
    got=$(q "SELECT count(*) FROM (SELECT logical_date, lag(logical_date) OVER (ORDER BY run_id) AS before
                                      FROM pgetl.run_record WHERE pipeline = '$1') s WHERE before > logical_date")
    [ "$got" = 0 ] || fail "$1: $got runs started before an older date's"
    got=$(q "SELECT max((SELECT count(*) FROM pgetl.task_run_record u JOIN pgetl.run_record ur USING (run_id)
                          WHERE ur.pipeline = '$1' AND u.started_at <= t.started_at AND u.finished_at > t.started_at))
               FROM pgetl.task_run_record t JOIN pgetl.run_record r USING (run_id) WHERE r.pipeline = '$1'")
    [ "$got" -le 2 ] || fail "$1: $got tasks ran at once, max_active_runs is 2"
    ok "$1: $days dates, one successful run each, oldest first, at most $got at once"
}

case_many() {
    setup_db
    [ "$(q "SHOW max_worker_processes")" = 8 ] || fail "max_worker_processes is not 8"
    pipeline due 'SELECT pg_sleep(0.01)'
    pipeline cron 'SELECT pg_sleep(0.01)'
    pipeline fill 'SELECT pg_sleep(0.01)'
    pipeline plain 'SELECT 1'
    qq "INSERT INTO pgetl.schedule (pipeline_id, schedule, cron_jobname, cron_database, catchup, start_date)
        SELECT pipeline_id, '0 0 * * *', 'due@x', 'postgres', true, current_date - $DAYS
          FROM pgetl.pipeline WHERE name = 'due'"
    psql -X -q -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_cron"
    qq "SELECT pgetl_schedule('cron', '0 0 * * *', catchup => true, start_date => current_date - $SOME)"

    local t0 dir pid_due pid_fill pid_cron p cmd
    dir=$(mktemp -d)
    t0=$(now)
    qv "SELECT count(*) FROM pgetl_run_due('due', wait => true)" >"$dir/due" 2>&1 &
    pid_due=$!
    qv "SELECT count(*) FROM pgetl_backfill('fill', current_date - $SOME, current_date - 1, max_active_runs => 1024)" \
        >"$dir/fill" 2>&1 &
    pid_fill=$!
    # the schedule's cron job fires now: its command, as pg_cron runs it
    # (application_name pg_cron; pg_cron 1.4 would wait for a minute)
    cmd=$(psql -X -A -t -d postgres -c "SELECT command FROM cron.job WHERE jobname = 'cron@$PGDATABASE'")
    grep -q "pgetl_run" <<<"$cmd" || fail "the cron job's command: $cmd"
    PGAPPNAME=pg_cron qv "$cmd" >"$dir/cron" 2>&1 &
    pid_cron=$!

    # meanwhile another pipeline's plain runs start and succeed
    local plain_max=0 t1 out
    for d in 1 2 3 4 5; do
        t1=$(now)
        out=$(qv "SELECT pgetl_run('plain', logical_date => date '2000-01-0$d')" 2>&1) \
            || fail "pgetl_run of another pipeline during the catchups: $out"
        plain_max=$(awk -v a="$plain_max" -v b="$(secs "$t1" "$(now)")" 'BEGIN { print (b > a ? b : a) }')
        sleep 0.5
    done
    ok "5 plain runs of another pipeline meanwhile: all succeeded, the slowest in ${plain_max} s"

    # a catchup or backfill holds no more run slots than its pipeline's
    # max_active_runs: the dates not started yet wait in the catalog
    local peak=0 n
    while kill -0 "$pid_due" 2>/dev/null || kill -0 "$pid_fill" 2>/dev/null || kill -0 "$pid_cron" 2>/dev/null; do
        n=$(q "SELECT max(n) FROM (SELECT count(*) AS n FROM pgetl.run_record
                                    WHERE state IN ('queued', 'running') GROUP BY pipeline) s")
        [ "${n:-0}" -gt "$peak" ] && peak=$n
        sleep 0.2
    done
    [ "$peak" -le 2 ] || fail "a pipeline had $peak active runs (queued or running) at once, max_active_runs is 2"
    ok "at most $peak active runs (queued or running) of a pipeline at once"

    for p in due fill cron; do
        pid=pid_$p
        wait "${!pid}" || fail "$p: $(cat "$dir/$p")"
    done
    grep -qx "$DAYS" "$dir/due" || fail "pgetl_run_due started $(cat "$dir/due") runs, not $DAYS"
    grep -qx "$SOME" "$dir/fill" || fail "pgetl_backfill started $(cat "$dir/fill") runs, not $SOME"
    [ "$(q "SELECT count(*) FROM pgetl.run_record WHERE pipeline = 'cron' AND started_by = 'pg_cron'")" = $SOME ] \
        || fail "the cron job's command: $(cat "$dir/cron")"
    ok "pgetl_run_due(wait => true) of $DAYS dates, the cron job's command and pgetl_backfill of $SOME each: no error ($(secs "$t0" "$(now)") s)"
    rm -rf "$dir"

    check due $DAYS
    check cron $SOME
    check fill $SOME
    [ "$(q "SELECT count(*) FROM pgetl.run_record WHERE pipeline = 'plain' AND state = 'success'")" = 5 ] \
        || fail "plain runs: $(q "SELECT string_agg(state::text, ' ') FROM pgetl.run_record WHERE pipeline = 'plain'")"
}

case_no_wait() {
    setup_db
    pipeline slow 'SELECT pg_sleep(0.5)'
    pipeline plain 'SELECT 1'
    qq "SELECT pgetl_alter_pipeline('slow', max_active_runs => 1)"
    qq "INSERT INTO pgetl.schedule (pipeline_id, schedule, cron_jobname, cron_database, catchup, start_date)
        SELECT pipeline_id, '0 0 * * *', 'slow@x', 'postgres', true, current_date - $DAYS
          FROM pgetl.pipeline WHERE name = 'slow'"
    local out started active t0
    t0=$(now)
    out=$(psql -X -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "SELECT count(*) FROM pgetl_run_due('slow')" 2>&1) \
        || fail "pgetl_run_due(wait => false) of $DAYS intervals: $out"
    sed 's/^/  /' <<<"$out"
    started=$(tail -n 1 <<<"$out")
    grep -q "NOTICE:  00000: pipeline \"slow\": $((DAYS - started)) of $DAYS due intervals not started, too few run slots are free" <<<"$out" \
        || fail "no notice of the intervals left due"
    grep -q "HINT:  .*pgetl_run_due('slow', wait => true)" <<<"$out" || fail "no hint"
    [ "$(q "SELECT count(*) FROM pgetl.run_record WHERE pipeline = 'slow'")" = "$started" ] \
        || fail "$started runs said started, $(q "SELECT count(*) FROM pgetl.run_record WHERE pipeline = 'slow'") recorded"
    active=$(q "SELECT count(*) FROM pgetl.run_record WHERE pipeline = 'slow' AND state IN ('queued', 'running')")
    # the reserve is a quarter of the 256 slots; some runs ended meanwhile
    [ "$active" -ge 128 ] && [ "$active" -le 192 ] || fail "$active runs active: not up to the reserve"
    ok "pgetl_run_due(wait => false) of $DAYS intervals: $started started in $(secs "$t0" "$(now)") s, the rest stay due, with a notice"
    out=$(qv "SELECT pgetl_run('plain')" 2>&1) || fail "pgetl_run of another pipeline with $active runs queued: $out"
    ok "a plain pgetl_run meanwhile succeeded (run $out)"
    [ "$(q "SELECT count(*) FROM pgetl_run_due('slow', dry_run => true)")" = $((DAYS - started)) ] \
        || fail "the intervals not started are not due any more"
    ok "the $((DAYS - started)) intervals not started are still due"
}

case "${1:-}" in
    many) case_many ;;
    no_wait) case_no_wait ;;
    "")
        PGETL_CLUSTER_OPTS="max_worker_processes=8" "$src/test/setup/cluster.sh" bash "$here/catchup_scale_test.sh" many \
            || fail "many"
        PGETL_CLUSTER_OPTS="max_worker_processes=8" "$src/test/setup/cluster.sh" bash "$here/catchup_scale_test.sh" no_wait \
            || fail "no_wait"
        ;;
esac
