#!/usr/bin/env bash
# Concurrency: the one-active-run guard holds between sessions that start
# the same pipeline at the same moment; when background worker slots run
# out, tasks wait for a slot instead of failing; NOTIFY pgetl_run reports
# every state change with a JSON payload.
source "$(dirname "$0")/lib.sh"
setup_db

# 1. eight sessions start the same pipeline at once: exactly one wins, the
#    others get SQLSTATE 55006
qq "SELECT pgetl_create_pipeline('race')"
qq "SELECT pgetl_add_task('race', 'nap', 'SELECT pg_sleep(1)')"
tmp=$(mktemp -d)
for i in 1 2 3 4 5 6 7 8; do
    psql -X -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "SELECT pgetl_run('race')" >"$tmp/$i.out" 2>&1 &
done
wait || true
won=$(grep -l "pgetl_run" "$tmp"/*.out | wc -l)
lost=$(grep -l "55006" "$tmp"/*.out | wc -l)
cat "$tmp"/*.out | grep -E "ERROR|55006" | sort | uniq -c
[ "$won" -eq 1 ] && [ "$lost" -eq 7 ] || fail "expected 1 winner and 7 refusals, got $won and $lost"
[ "$(q "SELECT count(*) FROM pgetl.pipeline_run WHERE pipeline = 'race'")" = 1 ] || fail "more than one run recorded"
ok "8 concurrent pgetl_run: one run, seven 55006 errors"

# 2. more parallel tasks than background worker slots: all succeed
slots=$(q "SHOW max_worker_processes")
n=$((slots + 16))
qq "SELECT pgetl_create_pipeline('wide', max_parallel => 1024)"
qq "SELECT count(pgetl_add_task('wide', 't' || i, 'SELECT pg_sleep(0.3)')) FROM generate_series(1, $n) i"
q "SELECT pgetl_run('wide')" >/dev/null || fail "wide run failed"
[ "$(q "SELECT tasks_success FROM pgetl.pipeline_run WHERE pipeline = 'wide'")" = "$n" ] || fail "not all $n tasks succeeded"
[ "$(q "SELECT count(*) FROM pgetl.task_run WHERE pipeline = 'wide' AND try_number > 1")" = 0 ] || fail "tasks were retried"
ok "$n tasks with only $slots worker slots: all waited their turn and succeeded"

# 3. NOTIFY pgetl_run, one per state change, JSON payload
qq "SELECT pgetl_create_pipeline('noisy')"
qq "SELECT pgetl_add_task('noisy', 'a', 'SELECT 1')"
qq "SELECT pgetl_add_task('noisy', 'b', 'SELECT 1', '{a}')"
psql -X -q <<'SQL' >"$tmp/listen.out" 2>&1
LISTEN pgetl_run;
SELECT pgetl_run('noisy');
SELECT pg_sleep(0.2);
SQL
payloads=$(sed -n 's/^Asynchronous notification "pgetl_run" with payload "\(.*\)" received from server process with PID [0-9]*\.$/\1/p' "$tmp/listen.out")
echo "$payloads"
count=$(echo "$payloads" | grep -c . || true)
# run: running, success; each task: scheduled, queued, success (running is
# not stored: a try's success commits with its work, from queued)
[ "$count" -eq 8 ] || fail "expected 8 notifications, got $count"
echo "$payloads" | while read -r p; do q "SELECT '$p'::jsonb ? 'state'" | grep -q t || fail "bad payload $p"; done
noisy_run=$(q "SELECT max(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'noisy'")
found=0
while read -r p; do
    [ "$(q "SELECT '$p'::jsonb @> '{\"state\": \"success\", \"run_id\": $noisy_run}' AND NOT '$p'::jsonb ? 'task_run_id'")" = t ] && found=1
    # every listener gets the payload: ids and states only, no names
    [ "$(q "SELECT '$p'::jsonb ?| '{pipeline,task,reason,error}'")" = f ] || fail "payload leaks a name: $p"
done <<<"$payloads"
[ "$found" = 1 ] || fail "no notification of the run's success"
grep -q '"old_state": "queued", "try_number": 1' <<<"$payloads" || fail "no task success notified from queued"
ok "NOTIFY pgetl_run: 8 JSON notifications for a 2-task run, ids and states only"

# pgetl.notify = runs: run state changes only (task commits never wait for
# one another's NOTIFY)
qq "ALTER SYSTEM SET pgetl.notify = 'runs'"
qq "SELECT pg_reload_conf()"
sleep 1
psql -X -q <<'SQL' >"$tmp/listen_runs.out" 2>&1
LISTEN pgetl_run;
SELECT pgetl_run('noisy');
SELECT pg_sleep(0.2);
SQL
runs_only=$(sed -n 's/^Asynchronous notification "pgetl_run" with payload "\(.*\)" received from server process with PID [0-9]*\.$/\1/p' "$tmp/listen_runs.out")
qq "ALTER SYSTEM RESET pgetl.notify"
qq "SELECT pg_reload_conf()"
echo "$runs_only"
[ "$(echo "$runs_only" | grep -c .)" -eq 2 ] || fail "pgetl.notify = runs: expected 2 notifications, got: $runs_only"
grep -q task_run_id <<<"$runs_only" && fail "pgetl.notify = runs: a task's change was notified"
ok "pgetl.notify = runs: 2 notifications (the run's), none for its tasks"
rm -rf "$tmp"
