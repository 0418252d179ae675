#!/usr/bin/env bash
# Runs per logical date (issue 11 §1): a run is identified by (pipeline,
# logical_date).  Five dates asked at once of a pipeline with
# max_active_runs 2 never have more than 2 runs running (sampled from
# pgetl.pipeline_run while they go), the others wait queued and run oldest
# date first; all five succeed.  A date that has an active run (running or
# queued) is refused with 55006; wait => true beyond the cap blocks until
# the run ran; a queued run can be cancelled; pgetl_alter_pipeline changes
# the cap; the default (16) lets two dates run at once.
source "$(dirname "$0")/lib.sh"
setup_db

qq "SELECT pgetl_create_pipeline('dates', max_active_runs => 2)"
qq "SELECT pgetl_add_task('dates', 'nap', 'SELECT pg_sleep(2)')"
[ "$(q "SELECT max_active_runs FROM pgetl.pipeline WHERE name = 'dates'")" = 2 ] || fail "max_active_runs not recorded"

# 1. five dates at once, without waiting: two run, three wait queued
qq "SELECT pgetl_run('dates', logical_date => d::date, wait => false)
      FROM generate_series(date '2024-01-01', date '2024-01-05', '1 day') d ORDER BY d"
states=$(q "SELECT string_agg(logical_date || '=' || state, ' ' ORDER BY logical_date) FROM pgetl.pipeline_run WHERE pipeline = 'dates'")
echo "  just after asking: $states"
[ "$(q "SELECT count(*) FROM pgetl.pipeline_run WHERE pipeline = 'dates' AND state = 'queued'")" -ge 3 ] \
    || fail "expected at least 3 queued runs at first: $states"
reason=$(q "SELECT reason FROM pgetl.pipeline_run WHERE pipeline = 'dates' AND state = 'queued' LIMIT 1")
case "$reason" in *"max_active_runs is 2"*) ;; *) fail "queued run's reason: '$reason'" ;; esac
ok "five dates asked at once: queued beyond max_active_runs 2 ($reason)"

# 2. a date with an active run (queued or running) is refused with 55006
e=$(psql -X -q -v VERBOSITY=verbose -c "SELECT pgetl_run('dates', logical_date => date '2024-01-05', wait => false)" 2>&1 || true)
case "$e" in *55006*"already has an active run for logical date 2024-01-05"*) ;; *) fail "same date again: $e" ;; esac
ok "a logical date that has an active (queued) run: 55006"

# 3. sample while they run: never more than 2 running at once
max=0
for ((i = 0; i < 400; i++)); do
    n=$(q "SELECT count(*) FILTER (WHERE state = 'running') || ' ' || count(*) FILTER (WHERE state IN ('queued', 'running'))
             FROM pgetl.pipeline_run WHERE pipeline = 'dates'")
    running=${n% *}
    active=${n#* }
    [ "$running" -gt "$max" ] && max=$running
    [ "$active" = 0 ] && break
    sleep 0.05
done
[ "$active" = 0 ] || fail "runs still active after 20 s"
[ "$max" -le 2 ] || fail "$max runs ran at once with max_active_runs 2"
[ "$max" = 2 ] || fail "never 2 runs at once (max $max): the cap is not used"
[ "$(q "SELECT count(*) FROM pgetl.pipeline_run WHERE pipeline = 'dates' AND state = 'success'")" = 5 ] \
    || fail "not all 5 runs succeeded: $(q "SELECT string_agg(logical_date || '=' || state, ' ') FROM pgetl.pipeline_run WHERE pipeline = 'dates'")"
ok "at most $max runs ran at once; all 5 succeeded"

# queued runs started oldest logical date first
order=$(q "SELECT string_agg(extract(day FROM logical_date)::text, ',' ORDER BY started_at, logical_date) FROM pgetl.pipeline_run WHERE pipeline = 'dates'")
[ "$order" = "1,2,3,4,5" ] || fail "runs started in the order $order"
ok "queued runs started oldest logical date first ($order)"

# 4. wait => true beyond the cap blocks until the run ran
qq "SELECT pgetl_alter_pipeline('dates', max_active_runs => 1)"
[ "$(q "SELECT max_active_runs FROM pgetl.pipeline WHERE name = 'dates'")" = 1 ] || fail "alter did not change max_active_runs"
first=$(q "SELECT pgetl_run('dates', logical_date => date '2024-02-01', wait => false)")
second=$(q "SELECT pgetl_run('dates', logical_date => date '2024-02-02')")
st=$(q "SELECT string_agg(run_id || '=' || state, ' ' ORDER BY run_id) FROM pgetl.pipeline_run WHERE run_id IN ($first, $second)")
[ "$st" = "$first=success $second=success" ] || fail "after waiting: $st"
[ "$(q "SELECT (SELECT started_at FROM pgetl.pipeline_run WHERE run_id = $second) >= (SELECT finished_at FROM pgetl.pipeline_run WHERE run_id = $first)")" = t ] \
    || fail "with max_active_runs 1 the second run started before the first finished"
ok "wait => true beyond max_active_runs 1 waited queued, then ran after the first"

# 5. a queued run can be cancelled; the running one goes on
first=$(q "SELECT pgetl_run('dates', logical_date => date '2024-03-01', wait => false)")
queued=$(q "SELECT pgetl_run('dates', logical_date => date '2024-03-02', wait => false)")
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $queued")" = queued ] || fail "second run not queued"
[ "$(q "SELECT pgetl_cancel($queued)")" = t ] || fail "cancel of the queued run"
[ "$(q "SELECT state || ' ' || tasks_cancelled FROM pgetl.pipeline_run WHERE run_id = $queued")" = "cancelled 1" ] \
    || fail "cancelled queued run: $(q "SELECT state, tasks_cancelled FROM pgetl.pipeline_run WHERE run_id = $queued")"
wait_for "SELECT state = 'success' FROM pgetl.pipeline_run WHERE run_id = $first" 20 || fail "first run did not succeed"
ok "a queued run was cancelled; the running one succeeded"

# 5b. resumed beyond the cap, the cancelled run waits queued, then runs
first=$(q "SELECT pgetl_run('dates', logical_date => date '2024-04-01', wait => false)")
qq "SELECT pgetl_resume($queued, wait => false)"
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $queued")" = queued ] \
    || fail "resumed run beyond max_active_runs 1: $(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $queued")"
wait_for "SELECT bool_and(state = 'success') FROM pgetl.pipeline_run WHERE run_id IN ($first, $queued)" 20 \
    || fail "resumed queued run: $(q "SELECT string_agg(run_id || '=' || state, ' ') FROM pgetl.pipeline_run WHERE run_id IN ($first, $queued)")"
ok "a run resumed beyond max_active_runs waited queued, then succeeded"

# 6. the default max_active_runs (16) runs two dates at once
qq "SELECT pgetl_create_pipeline('wide_dates')"
qq "SELECT pgetl_add_task('wide_dates', 'nap', 'SELECT pg_sleep(1)')"
[ "$(q "SELECT max_active_runs FROM pgetl.pipeline WHERE name = 'wide_dates'")" = 16 ] || fail "default max_active_runs"
a=$(q "SELECT pgetl_run('wide_dates', logical_date => date '2024-01-01', wait => false)")
b=$(q "SELECT pgetl_run('wide_dates', logical_date => date '2024-01-02', wait => false)")
wait_for "SELECT bool_and(state = 'success') FROM pgetl.pipeline_run WHERE run_id IN ($a, $b)" 20 || fail "wide_dates runs"
# they overlapped: each started before the other finished
[ "$(q "SELECT x.started_at < y.finished_at AND y.started_at < x.finished_at
         FROM pgetl.pipeline_run x, pgetl.pipeline_run y WHERE x.run_id = $a AND y.run_id = $b")" = t ] \
    || fail "two dates with the default max_active_runs did not run at once"
ok "default max_active_runs 16: two logical dates ran at once"

# 7. bad max_active_runs: 22023
e=$(psql -X -q -v VERBOSITY=verbose -c "SELECT pgetl_alter_pipeline('dates', max_active_runs => 0)" 2>&1 || true)
case "$e" in *22023*"max_active_runs must be between 1 and 1024, not 0"*) ;; *) fail "max_active_runs 0: $e" ;; esac
ok "max_active_runs 0: 22023"

# 8. a 5-date backfill with max_active_runs 2 (the pipeline's cap is
#    higher): never more than 2 of its runs overlap, sampled while it runs
qq "SELECT pgetl_create_pipeline('bf', max_active_runs => 16)"
qq "SELECT pgetl_add_task('bf', 'nap', 'SELECT pg_sleep(1.5)')"
tmp=$(mktemp -d)
psql -X -A -t -q -v ON_ERROR_STOP=1 -c "SELECT * FROM pgetl_backfill('bf', '2024-01-01', '2024-01-05', max_active_runs => 2)" \
    >"$tmp/bf.out" 2>&1 &
bf=$!
max=0
for ((i = 0; i < 400; i++)); do
    n=$(q "SELECT count(*) FROM pgetl.pipeline_run WHERE pipeline = 'bf' AND state IN ('queued', 'running')")
    [ "$n" -gt "$max" ] && max=$n
    kill -0 $bf 2>/dev/null || break
    sleep 0.05
done
wait $bf || fail "backfill failed: $(cat "$tmp/bf.out")"
[ "$(wc -l <"$tmp/bf.out")" = 5 ] || fail "backfill returned: $(cat "$tmp/bf.out")"
[ "$max" -le 2 ] || fail "$max backfill runs overlapped with max_active_runs 2"
[ "$max" = 2 ] || fail "never 2 backfill runs at once (max $max)"
[ "$(q "SELECT string_agg(extract(day FROM logical_date)::text || '=' || state, ',' ORDER BY logical_date) FROM pgetl.pipeline_run WHERE pipeline = 'bf'")" \
    = "1=success,2=success,3=success,4=success,5=success" ] || fail "backfill runs: $(q "SELECT string_agg(logical_date || '=' || state, ',') FROM pgetl.pipeline_run WHERE pipeline = 'bf'")"
ok "5-date backfill, max_active_runs 2: at most $max runs overlapped, 5 run ids returned, all succeeded"

# 9. reprocess => 'none' runs nothing more; pgetl_cancel_backfill stops a
#    backfill before its next date
[ "$(q "SELECT count(*) FROM pgetl_backfill('bf', '2024-01-01', '2024-01-05', reprocess => 'none')")" = 0 ] || fail "reprocess none ran dates again"
psql -X -A -t -q -v ON_ERROR_STOP=1 -c "SELECT * FROM pgetl_backfill('bf', '2024-02-01', '2024-02-10')" >"$tmp/bf2.out" 2>&1 &
bf=$!
wait_for "SELECT count(*) > 0 FROM pgetl.pipeline_run WHERE pipeline = 'bf' AND logical_date >= '2024-02-01'" 20 || fail "second backfill did not start"
qq "SELECT pgetl_cancel_backfill('bf')"
wait $bf || fail "cancelled backfill: $(cat "$tmp/bf2.out")"
n=$(q "SELECT count(*) FROM pgetl.pipeline_run WHERE pipeline = 'bf' AND logical_date >= '2024-02-01'")
[ "$n" -le 2 ] || fail "$n runs of a backfill cancelled after its first date"
grep -q "stopped by pgetl_cancel_backfill" "$tmp/bf2.out" || fail "no notice of the stop: $(cat "$tmp/bf2.out")"
ok "pgetl_cancel_backfill stopped a 10-date backfill after $n run(s)"

# 10. pgetl_apply(force => true) while two logical dates run: a dropped
#     task that has not started is skipped in every active run, which
#     then finish
qq "SELECT pgetl_create_pipeline('two_dates')"
qq "SELECT pgetl_add_task('two_dates', 'first', 'SELECT pg_sleep(2)')"
qq "SELECT pgetl_add_task('two_dates', 'later', 'SELECT 1', '{first}')"
a=$(q "SELECT pgetl_run('two_dates', logical_date => date '2024-01-01', wait => false)")
b=$(q "SELECT pgetl_run('two_dates', logical_date => date '2024-01-02', wait => false)")
e=$(psql -X -q -v VERBOSITY=verbose -c "SELECT pgetl_apply('{\"name\": \"two_dates\", \"tasks\": [{\"name\": \"first\", \"command\": \"SELECT pg_sleep(2)\"}]}')" 2>&1 || true)
case "$e" in *55006*"has an active run"*) ;; *) fail "apply without force while two dates run: $e" ;; esac
qq "SELECT pgetl_apply('{\"name\": \"two_dates\", \"tasks\": [{\"name\": \"first\", \"command\": \"SELECT pg_sleep(2)\"}]}', force => true)"
wait_for "SELECT bool_and(state = 'success') FROM pgetl.pipeline_run WHERE run_id IN ($a, $b)" 20 \
    || fail "runs after apply: $(q "SELECT string_agg(run_id || '=' || state, ' ') FROM pgetl.pipeline_run WHERE run_id IN ($a, $b)")"
[ "$(q "SELECT string_agg(state, ',') FROM pgetl.task_run WHERE run_id IN ($a, $b) AND task = 'later'")" = "skipped,skipped" ] \
    || fail "the dropped task in the two runs: $(q "SELECT string_agg(run_id || ':' || state, ',') FROM pgetl.task_run WHERE run_id IN ($a, $b) AND task = 'later'")"
ok "pgetl_apply(force) while two dates run: the dropped task skipped in both, both succeeded"
rm -rf "$tmp"
