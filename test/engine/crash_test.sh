#!/usr/bin/env bash
# Crash safety: SIGKILL a task worker mid-run.  The postmaster restarts the
# whole server; when it is back, the run must be failed with the reason
# "server restarted", no task left running, the pipeline's on_failure
# callback runs once (the recovery worker starts a scheduler for it), and
# pgetl_resume() completes it, keeping the tasks that had succeeded.
source "$(dirname "$0")/lib.sh"
setup_db

q "CREATE TABLE cfg (slow boolean); INSERT INTO cfg VALUES (true); CREATE TABLE done_marks (task text)"
q "CREATE TABLE alerts (ctx jsonb); GRANT ALL ON alerts TO PUBLIC"
qq "SELECT pgetl_create_pipeline('crashy', max_parallel => 2, on_failure => 'INSERT INTO alerts SELECT pgetl_callback_context()')"
# the pipeline callbacks a run got: event:state:error
alerts() { q "SELECT string_agg(concat_ws(':', ctx->>'event', ctx->>'state', ctx->>'error'), ' ') FROM alerts WHERE (ctx->>'run_id')::bigint = $1"; }
qq "SELECT pgetl_add_task('crashy', 'first', \$\$INSERT INTO done_marks VALUES ('first')\$\$)"
qq "SELECT pgetl_add_task('crashy', 'victim', \$\$SELECT pg_sleep(CASE WHEN slow THEN 60 ELSE 0 END) FROM cfg; INSERT INTO done_marks VALUES ('victim')\$\$, '{first}')"
qq "SELECT pgetl_add_task('crashy', 'last', \$\$INSERT INTO done_marks VALUES ('last')\$\$, '{victim}')"
run=$(q "SELECT pgetl_run('crashy', wait => false)")
wait_for "SELECT EXISTS (SELECT FROM pgetl.task_run WHERE run_id = $run AND task = 'victim' AND state = 'running')" \
    || fail "victim never started"
pid=$(q "SELECT pid FROM pgetl.task_run WHERE run_id = $run AND task = 'victim'")
[ "$(q "SELECT backend_type FROM pg_stat_activity WHERE pid = $pid")" = "pgetl task" ] || fail "pid $pid is not a task worker"
# what every role sees of it in pg_stat_activity: ids, no names
app=$(q "SELECT application_name FROM pg_stat_activity WHERE pid = $pid")
[ "$app" = "pgetl run $run task run $(q "SELECT task_run_id FROM pgetl.task_run WHERE run_id = $run AND task = 'victim'")" ] \
    || fail "application_name of the task worker: $app"
ok "the task worker shows '$app' as application_name"
kill -9 "$pid"
ok "killed task worker $pid with SIGKILL"

# the postmaster reinitializes; wait until it accepts connections and the
# launcher has recovered the run
wait_for "SELECT true" 60 || fail "server did not come back"
wait_for "SELECT state = 'failed' FROM pgetl.pipeline_run WHERE run_id = $run" 60 \
    || fail "run $run not marked failed: $(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")"
reason=$(q "SELECT reason FROM pgetl.pipeline_run WHERE run_id = $run")
[ "$reason" = "server restarted" ] || fail "reason is '$reason'"
ok "run $run failed with reason '$reason'"
[ "$(q "SELECT count(*) FROM pgetl.task_run_record WHERE state IN ('running', 'queued')")" = 0 ] \
    || fail "tasks left running: $(q "SELECT task, state FROM pgetl.task_run WHERE state IN ('running','queued')")"
[ "$(q "SELECT state || ':' || error FROM pgetl.task_run WHERE run_id = $run AND task = 'victim'")" = "failed:server restarted" ] \
    || fail "victim: $(q "SELECT state, error FROM pgetl.task_run WHERE run_id = $run AND task = 'victim'")"
[ "$(q "SELECT state FROM pgetl.task_run WHERE run_id = $run AND task = 'last'")" = "cancelled" ] || fail "last not cancelled"
ok "no task left running; the killed task failed, the one after it is cancelled"
[ "$(q "SELECT string_agg(task, ',' ORDER BY task) FROM done_marks")" = "first" ] || fail "victim's work was not rolled back"
ok "the killed task's work was rolled back"
wait_for "SELECT count(*) > 0 FROM alerts WHERE (ctx->>'run_id')::bigint = $run" 60 \
    || fail "the pipeline's on_failure did not run after the restart: $(q "SELECT run_id, callback_pending, callback_error FROM pgetl.run_record") / $(q "SELECT * FROM pgetl._pending_callbacks()") / $(q "SELECT pid, backend_type FROM pg_stat_activity")"
sleep 1
[ "$(alerts $run)" = "on_failure:failed:server restarted" ] || fail "callbacks after the restart: $(alerts $run)"
[ "$(q "SELECT count(*) FROM pgetl.run_record WHERE callback_pending IS NOT NULL")" = 0 ] || fail "a callback is still pending"
ok "the pipeline's on_failure ran once after the restart, with the reason"

q "UPDATE cfg SET slow = false"
qq "SELECT pgetl_resume($run)" >/dev/null || fail "resume failed"
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" = success ] || fail "resumed run not success"
[ "$(q "SELECT string_agg(task || ':' || try_number || ':' || state, ',' ORDER BY task, try_number) FROM pgetl.task_run WHERE run_id = $run")" \
    = "first:1:success,last:1:cancelled,last:2:success,victim:1:failed,victim:2:success" ] \
    || fail "tries after resume: $(q "SELECT string_agg(task || ':' || try_number || ':' || state, ',' ORDER BY task, try_number) FROM pgetl.task_run WHERE run_id = $run")"
[ "$(q "SELECT string_agg(task, ',' ORDER BY task) FROM done_marks")" = "first,last,victim" ] || fail "work after resume"
ok "pgetl_resume completed the run, keeping the successful task"

# A scheduler terminated by an administrator stops its runs' tries and
# marks the runs failed with the reason; the run can be resumed.
q "UPDATE cfg SET slow = true; TRUNCATE done_marks"
run=$(q "SELECT pgetl_run('crashy', wait => false)")
wait_for "SELECT EXISTS (SELECT FROM pgetl.task_run WHERE run_id = $run AND task = 'victim' AND state = 'running')" \
    || fail "victim never started (2)"
sched=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgetl scheduler' AND datname = current_database()")
q "SELECT pg_terminate_backend($sched)" >/dev/null
wait_for "SELECT state = 'failed' FROM pgetl.pipeline_run WHERE run_id = $run" 30 || fail "run $run not failed after SIGTERM to its scheduler"
[ "$(q "SELECT reason FROM pgetl.pipeline_run WHERE run_id = $run")" = "pgetl scheduler was terminated" ] \
    || fail "reason: $(q "SELECT reason FROM pgetl.pipeline_run WHERE run_id = $run")"
[ "$(q "SELECT count(*) FROM pgetl._running_tasks()")" = 0 ] || fail "a task worker still runs the victim"
[ "$(q "SELECT state FROM pgetl.task_run WHERE run_id = $run AND task = 'victim'")" = cancelled ] || fail "victim not cancelled"
[ "$(q "SELECT count(*) FROM done_marks WHERE task = 'victim'")" = 0 ] || fail "victim's work was kept"
ok "SIGTERM to the scheduler: the task was stopped, its work rolled back, run failed with the reason"
q "UPDATE cfg SET slow = false"
q "SELECT pgetl_resume($run)" >/dev/null || fail "resume after scheduler termination failed"
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" = success ] || fail "resumed run not success (2)"
ok "and pgetl_resume completed it"
# the terminated scheduler left the run's on_failure pending: the next one ran it
wait_for "SELECT count(*) > 0 FROM alerts WHERE (ctx->>'run_id')::bigint = $run" 30 \
    || fail "the on_failure of the run whose scheduler was terminated never ran"
sleep 1
[ "$(alerts $run | cut -d: -f1,2)" = "on_failure:failed" ] || fail "callbacks after the scheduler's termination: $(alerts $run)"
ok "the on_failure the terminated scheduler could not run ran once, by the next scheduler"
