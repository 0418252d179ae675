#!/usr/bin/env bash
# Sensor tasks (Airflow's sensors): a sensor in mode reschedule waits
# up_for_reschedule between pokes, holding no task worker (no running try,
# no backend of its run in pg_stat_activity), and succeeds in the same try
# once another session makes its condition true; in mode poke it keeps its
# worker (shown running throughout); past its timeout it fails (57014, not
# retried) or, with soft_fail, is skipped and its downstream tasks follow
# their trigger rules; a poke that raises an error is a failure that
# retries apply to; a cancel while it waits for its next poke cancels it.
source "$(dirname "$0")/lib.sh"
setup_db

qq "CREATE TABLE arrivals (day date)"

# the state of the latest try of a task of a run
state() { q "SELECT state FROM pgetl.task_run WHERE run_id = $1 AND task = '$2' ORDER BY try_number DESC LIMIT 1"; }
# backends working for a run (task workers show 'pgetl run <id> task run <id>')
run_backends() { q "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgetl run $1 task run %'"; }

# --- mode reschedule (the default) ---
qq "SELECT pgetl_create_pipeline('wait_r')"
qq "SELECT pgetl_add_task('wait_r', 's', 'SELECT EXISTS (SELECT FROM arrivals)', kind => 'sensor',
                          config => '{\"poke_interval\": \"1 second\"}', timeout => '2 minutes')"
qq "SELECT pgetl_add_task('wait_r', 'after', 'SELECT 1', '{s}')"
run=$(q "SELECT pgetl_run('wait_r', wait => false)")
wait_for "SELECT state = 'up_for_reschedule' FROM pgetl.task_run WHERE run_id = $run AND task = 's'" 30 \
    || fail "sensor never went up_for_reschedule: $(state $run s)"
[ "$(q "SELECT tasks_up_for_reschedule || ' ' || tasks_running || ' ' || state FROM pgetl.pipeline_run WHERE run_id = $run")" = "1 0 running" ] \
    || fail "pipeline_run counts: $(q "SELECT tasks_up_for_reschedule, tasks_running, state FROM pgetl.pipeline_run WHERE run_id = $run")"
# between pokes no worker holds it: watch for 3 seconds (3 pokes).  Each
# sample reads the catalog's state and the workers' hold in one statement;
# a poke that just recorded up_for_reschedule may hold its worker for the
# instant before it lets go, so one or two samples may catch that.
held=0
seen_resched=0
for i in $(seq 1 30); do
    got=$(q "SELECT t.state || ':' || (w.task_run_id IS NOT NULL) FROM pgetl.task_run_record t
              LEFT JOIN pgetl._running_tasks() w USING (task_run_id) WHERE t.run_id = $run AND t.task = 's'")
    [ "${got%:*}" = up_for_reschedule ] && seen_resched=$((seen_resched + 1))
    [ "$got" = up_for_reschedule:true ] && held=$((held + 1))
    sleep 0.1
done
[ "$seen_resched" -gt 10 ] || fail "sensor was up_for_reschedule only $seen_resched times of 30"
[ "$held" -le 2 ] || fail "a worker held the sensor's try while it was up_for_reschedule ($held of $seen_resched samples)"
# a moment with the sensor up_for_reschedule and no backend of the run in pg_stat_activity
wait_for "SELECT (SELECT state FROM pgetl.task_run WHERE run_id = $run AND task = 's') = 'up_for_reschedule'
             AND NOT EXISTS (SELECT FROM pg_stat_activity WHERE application_name LIKE 'pgetl run $run task run %')" 10 \
    || fail "no moment without a backend of run $run"
resched=$(q "SELECT reschedules FROM pgetl.task_run_record WHERE run_id = $run AND task = 's'")
[ "$resched" -ge 2 ] || fail "only $resched reschedules after 3 seconds"
# while it waits for its next poke, that poke is due within one poke
# interval (read while it waits: a sample taken while a poke is queued or
# running sees the due time of that poke, which may have just passed)
wait_for "SELECT state = 'up_for_reschedule' AND next_poke_at > now() - interval '100 milliseconds'
                 AND next_poke_at <= now() + interval '1 second' + interval '100 milliseconds'
            FROM pgetl.task_run_record WHERE run_id = $run AND task = 's'" 10 \
    || fail "next_poke_at is not within a poke interval: $(q "SELECT state, next_poke_at, now() FROM pgetl.task_run_record WHERE run_id = $run AND task = 's'")"
ok "mode reschedule: up_for_reschedule between pokes ($resched reschedules), no worker held, counted in pipeline_run"

qq "INSERT INTO arrivals VALUES (current_date)"
wait_for "SELECT state = 'success' FROM pgetl.pipeline_run WHERE run_id = $run" 30 \
    || fail "run $run did not succeed: $(q "SELECT state, reason FROM pgetl.pipeline_run WHERE run_id = $run")"
[ "$(q "SELECT string_agg(task || ':' || try_number || ':' || state, ' ' ORDER BY task, try_number) FROM pgetl.task_run WHERE run_id = $run")" \
    = "after:1:success s:1:success" ] || fail "tries: $(q "SELECT task, try_number, state FROM pgetl.task_run WHERE run_id = $run")"
[ "$(q "SELECT result::text FROM pgetl.task_run WHERE run_id = $run AND task = 's'")" = '{"exists": true}' ] \
    || fail "sensor result: $(q "SELECT result FROM pgetl.task_run WHERE run_id = $run AND task = 's'")"
# the try started at its first poke: its duration covers the wait
[ "$(q "SELECT duration >= interval '3 seconds' AND reschedules >= 3 FROM pgetl.task_run_record WHERE run_id = $run AND task = 's'")" = t ] \
    || fail "duration/reschedules: $(q "SELECT duration, reschedules FROM pgetl.task_run_record WHERE run_id = $run AND task = 's'")"
ok "mode reschedule: another session's insert makes it succeed in its first try, the wait counted in its duration"

# --- mode poke: the worker is kept ---
qq "TRUNCATE arrivals"
qq "SELECT pgetl_create_pipeline('wait_p')"
qq "SELECT pgetl_add_task('wait_p', 's', 'SELECT count(*) > 0 AS arrived FROM arrivals', kind => 'sensor',
                          config => '{\"poke_interval\": \"1 second\", \"mode\": \"poke\"}')"
run=$(q "SELECT pgetl_run('wait_p', wait => false)")
wait_for "SELECT state = 'running' FROM pgetl.task_run WHERE run_id = $run AND task = 's'" 30 || fail "poke sensor never ran"
for i in $(seq 1 25); do
    st=$(state $run s)
    [ "$st" = running ] || fail "poke sensor was $st, not running, after $i tenths of a second"
    sleep 0.1
done
[ "$(run_backends $run)" = 1 ] || fail "poke sensor's worker is not in pg_stat_activity"
qq "INSERT INTO arrivals VALUES (current_date)"
wait_for "SELECT state = 'success' FROM pgetl.pipeline_run WHERE run_id = $run" 30 || fail "poke run did not succeed"
[ "$(q "SELECT try_number || ' ' || reschedules FROM pgetl.task_run_record WHERE run_id = $run AND task = 's'")" = "1 0" ] \
    || fail "poke sensor tries/reschedules: $(q "SELECT try_number, reschedules FROM pgetl.task_run_record WHERE run_id = $run")"
ok "mode poke: running throughout with its worker, succeeds after the insert"

# --- timeout: failed, not retried, its on_failure callback runs (both modes) ---
qq "CREATE TABLE alerts (ctx jsonb)"
qq "GRANT ALL ON alerts TO PUBLIC"
for mode in reschedule poke; do
    qq "SELECT pgetl_create_pipeline('late_$mode')"
    qq "SELECT pgetl_add_task('late_$mode', 's', 'SELECT false', kind => 'sensor', retries => 2, retry_delay => '0',
                              timeout => '2 seconds', config => '{\"poke_interval\": \"1 second\", \"mode\": \"$mode\"}',
                              on_failure => 'INSERT INTO alerts SELECT pgetl_callback_context()',
                              on_retry => 'INSERT INTO alerts SELECT pgetl_callback_context()')"
    qq "SELECT pgetl_add_task('late_$mode', 'after', 'SELECT 1', '{s}')"
    run=$(q "SELECT pgetl_run('late_$mode', wait => false)")
    wait_for "SELECT state <> 'running' FROM pgetl.pipeline_run WHERE run_id = $run" 30 || fail "late_$mode did not end"
    got=$(q "SELECT string_agg(task || ':' || try_number || ':' || state || ':' || coalesce(sqlstate, ''), ' ' ORDER BY task, try_number)
               FROM pgetl.task_run WHERE run_id = $run")
    [ "$got" = "after:1:upstream_failed: s:1:failed:57014" ] || fail "late_$mode tries: $got"
    [ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" = failed ] || fail "late_$mode run did not fail"
    [ "$(q "SELECT duration >= interval '2 seconds' AND duration < interval '10 seconds' AND error LIKE 'sensor \"s\" timed out%'
              FROM pgetl.task_run WHERE run_id = $run AND task = 's'")" = t ] \
        || fail "late_$mode: $(q "SELECT duration, error FROM pgetl.task_run WHERE run_id = $run AND task = 's'")"
    # Airflow's AirflowSensorTimeout calls on_failure_callback (once; no retry, so no on_retry)
    wait_for "SELECT count(*) > 0 FROM alerts WHERE (ctx->>'run_id')::bigint = $run" 30 \
        || fail "late_$mode: the sensor's on_failure callback did not run"
    sleep 0.5
    got=$(q "SELECT string_agg(concat_ws(':', ctx->>'event', ctx->>'task', ctx->>'state', ctx->>'sqlstate'), ' ') FROM alerts WHERE (ctx->>'run_id')::bigint = $run")
    [ "$got" = "on_failure:s:failed:57014" ] || fail "late_$mode callbacks: $got"
done
ok "timeout: the sensor fails with 57014 after its timeout, not retried, on_failure runs, downstream upstream_failed"

# --- soft_fail: skipped, downstream by trigger rules ---
qq "SELECT pgetl_create_pipeline('soft')"
qq "SELECT pgetl_add_task('soft', 's', 'SELECT NULL::boolean', kind => 'sensor', timeout => '1 second',
                          config => '{\"poke_interval\": \"1 second\", \"soft_fail\": true}')"
qq "SELECT pgetl_add_task('soft', 'after', 'SELECT 1', '{s}')"
qq "SELECT pgetl_add_task('soft', 'cleanup', 'SELECT 1', '{s}', trigger_rule => 'all_done')"
run=$(q "SELECT pgetl_run('soft', wait => false)")
wait_for "SELECT state <> 'running' FROM pgetl.pipeline_run WHERE run_id = $run" 30 || fail "soft did not end"
got=$(q "SELECT string_agg(task || ':' || try_number || ':' || state, ' ' ORDER BY task, try_number) FROM pgetl.task_run WHERE run_id = $run")
[ "$got" = "after:1:skipped cleanup:1:success s:1:skipped" ] || fail "soft tries: $got"
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" = success ] || fail "soft run did not succeed"
ok "soft_fail: the sensor is skipped at its timeout; all_success downstream skipped, all_done runs"

# --- a poke that raises an error is a task failure: retries apply ---
qq "SELECT pgetl_create_pipeline('broken')"
qq "SELECT pgetl_add_task('broken', 's', 'SELECT 1 / 0 = 1', kind => 'sensor', retries => 1, retry_delay => '0',
                          config => '{\"poke_interval\": \"1 second\"}')"
run=$(q "SELECT pgetl_run('broken', wait => false)")
wait_for "SELECT state <> 'running' FROM pgetl.pipeline_run WHERE run_id = $run" 30 || fail "broken did not end"
got=$(q "SELECT string_agg(try_number || ':' || state || ':' || sqlstate, ' ' ORDER BY try_number) FROM pgetl.task_run WHERE run_id = $run")
[ "$got" = "1:up_for_retry:22012 2:failed:22012" ] || fail "broken tries: $got"
ok "a poke that raises an error fails the try, and is retried"

# --- the timeout counts from the start of the first try, across retries
# (the first poke divides by zero, the later ones are false) ---
qq "CREATE SEQUENCE pokes"
qq "SELECT pgetl_create_pipeline('retried')"
qq "SELECT pgetl_add_task('retried', 's', 'SELECT 1 / (nextval(''pokes'') - 1) < 0', kind => 'sensor',
                          retries => 1, retry_delay => '2 seconds', timeout => '4 seconds', config => '{\"poke_interval\": \"1 second\"}')"
run=$(q "SELECT pgetl_run('retried', wait => false)")
wait_for "SELECT state <> 'running' FROM pgetl.pipeline_run WHERE run_id = $run" 30 || fail "retried did not end"
got=$(q "SELECT string_agg(try_number || ':' || state || ':' || sqlstate, ' ' ORDER BY try_number) FROM pgetl.task_run WHERE run_id = $run")
[ "$got" = "1:up_for_retry:22012 2:failed:57014" ] || fail "retried tries: $got"
# try 2 timed out 4 s after try 1 began, so it waited less than 4 s itself
[ "$(q "SELECT t2.finished_at - t1.started_at >= interval '4 seconds' AND t2.duration < interval '4 seconds'
          FROM pgetl.task_run t1 JOIN pgetl.task_run t2 USING (run_id, task)
         WHERE t1.run_id = $run AND t1.try_number = 1 AND t2.try_number = 2")" = t ] \
    || fail "timeout not counted from the first try: $(q "SELECT try_number, started_at, finished_at, duration FROM pgetl.task_run WHERE run_id = $run")"
ok "the timeout counts from the start of the first try: a retry times out sooner"

# --- cancel while up_for_reschedule ---
qq "TRUNCATE arrivals"
run=$(q "SELECT pgetl_run('wait_r', wait => false)")
wait_for "SELECT state = 'up_for_reschedule' FROM pgetl.task_run WHERE run_id = $run AND task = 's'" 30 || fail "no reschedule to cancel"
[ "$(q "SELECT pgetl_cancel($run)")" = t ] || fail "pgetl_cancel($run) did not return true"
wait_for "SELECT state = 'cancelled' FROM pgetl.pipeline_run WHERE run_id = $run" 30 || fail "run $run not cancelled"
got=$(q "SELECT string_agg(task || ':' || state, ' ' ORDER BY task) FROM pgetl.task_run WHERE run_id = $run")
[ "$got" = "after:cancelled s:cancelled" ] || fail "cancelled run's tries: $got"
sleep 1.5
[ "$(state $run s)" = cancelled ] || fail "the cancelled sensor was poked again"
ok "cancel during reschedule: the sensor and its downstream end cancelled, and no poke follows"

# --- cancel of a poke sensor while its worker waits between pokes ---
qq "TRUNCATE arrivals"
run=$(q "SELECT pgetl_run('wait_p', wait => false)")
wait_for "SELECT state = 'running' FROM pgetl.task_run WHERE run_id = $run AND task = 's'" 30 || fail "poke sensor to cancel never ran"
sleep 1.5
start=$(date +%s%N)
[ "$(q "SELECT pgetl_cancel($run)")" = t ] || fail "pgetl_cancel($run) of a poke sensor did not return true"
wait_for "SELECT state = 'cancelled' FROM pgetl.pipeline_run WHERE run_id = $run" 30 || fail "poke run $run not cancelled"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 4000 ] || fail "the cancel of a waiting poke sensor took $ms ms (it must not wait for the grace period)"
[ "$(state $run s)" = cancelled ] || fail "cancelled poke sensor is $(state $run s)"
wait_for "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE application_name LIKE 'pgetl run $run task run %')" 10 \
    || fail "the poke sensor's worker still works for run $run"
ok "cancel during a poke sensor's wait: cancelled in $ms ms, its worker let go"

# --- crash recovery: a sensor up_for_reschedule when the server crashed ---
qq "TRUNCATE arrivals"
run=$(q "SELECT pgetl_run('wait_r', wait => false)")
wait_for "SELECT state = 'up_for_reschedule' FROM pgetl.task_run WHERE run_id = $run AND task = 's'" 30 || fail "no reschedule to recover"
sched=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgetl scheduler'")
kill -9 "$sched"
wait_for "SELECT true" 60 || fail "server did not come back"
wait_for "SELECT state = 'failed' FROM pgetl.pipeline_run WHERE run_id = $run" 60 \
    || fail "run $run not recovered: $(q "SELECT state, reason FROM pgetl.pipeline_run WHERE run_id = $run")"
[ "$(q "SELECT state || ':' || error FROM pgetl.task_run WHERE run_id = $run AND task = 's'")" = "cancelled:run failed: server restarted" ] \
    || fail "recovered sensor: $(q "SELECT state, error FROM pgetl.task_run WHERE run_id = $run AND task = 's'")"
qq "INSERT INTO arrivals VALUES (current_date)"
[ "$(q "SELECT pgetl_resume($run)")" = "$run" ] || fail "resume after recovery"
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" = success ] || fail "resumed run did not succeed"
ok "crash recovery: a sensor up_for_reschedule is cancelled with its run; resume finishes it"
