#!/usr/bin/env bash
# Run deadlines (Airflow's dagrun_timeout): a run of a pipeline with
# run_timeout 2 seconds whose task sleeps 60 seconds is failed by the
# scheduler with the reason "run exceeded its run_timeout of 00:00:02":
# the sleeping task is stopped (its worker lets go, the try fails with the
# reason, SQLSTATE 57014), its downstream task, which had not started, is
# skipped with the reason, a task that had finished keeps its state, and
# the pipeline's on_failure fires (as the owner) with the run's reason.
# Runs without a run_timeout, or within it, are untouched.
source "$(dirname "$0")/lib.sh"
setup_db

qq "CREATE TABLE alerts (id serial, ctx jsonb, who text DEFAULT current_user)"
qq "SELECT pgetl_create_pipeline('deadline', run_timeout => '2 seconds',
        on_failure => 'INSERT INTO alerts (ctx) SELECT pgetl_callback_context()')"
qq "SELECT pgetl_add_task('deadline', 'sleepy', 'SELECT pg_sleep(60)')"
qq "SELECT pgetl_add_task('deadline', 'after', 'SELECT 1', '{sleepy}')"
qq "SELECT pgetl_add_task('deadline', 'quick', 'SELECT 1')"
start=$(date +%s)
err=$(psql -X -A -t -q -c "SELECT pgetl_run('deadline')" 2>&1 || true)
elapsed=$(($(date +%s) - start))
run=$(q "SELECT max(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'deadline'")
grep -q "run $run failed (failed tasks: sleepy)" <<<"$err" || fail "pgetl_run's error: $err"
grep -q "run exceeded its run_timeout of 00:00:02" <<<"$err" || fail "pgetl_run's error has no reason: $err"
[ "$elapsed" -lt 15 ] || fail "the run took $elapsed s, its run_timeout is 2 s"
ok "pgetl_run raised the run's failure after $elapsed s: the run exceeded its run_timeout"

[ "$(q "SELECT state || ': ' || reason FROM pgetl.pipeline_run WHERE run_id = $run")" = \
  "failed: run exceeded its run_timeout of 00:00:02" ] || fail "run $run: $(q "SELECT state, reason FROM pgetl.pipeline_run WHERE run_id = $run")"
ok "run failed with reason: run exceeded its run_timeout of 00:00:02"

got=$(q "SELECT string_agg(task || '=' || state || coalesce('/' || sqlstate, '') || ':' || coalesce(error, ''), ', ' ORDER BY task)
           FROM pgetl.task_run WHERE run_id = $run")
want="after=skipped:run exceeded its run_timeout of 00:00:02, quick=success:, sleepy=failed/57014:run exceeded its run_timeout of 00:00:02"
[ "$got" = "$want" ] || fail "task states: $got (want $want)"
ok "the sleeping task failed (stopped), its downstream task skipped, the other task kept its success"

[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'")" = 0 ] \
    || fail "the sleeping task still runs"
ok "no worker still runs the sleeping task"

wait_for "SELECT count(*) = 1 FROM alerts" 30 || fail "on_failure did not fire"
got=$(q "SELECT ctx->>'event' || ' ' || (ctx->>'run_id') || ' ' || (ctx->>'state') || ' ' || (ctx->>'error') || ' ' || (ctx->'failed_tasks')::text || ' ' || (who = current_user) FROM alerts")
want="on_failure $run failed run exceeded its run_timeout of 00:00:02 [\"sleepy\"] true"
[ "$got" = "$want" ] || fail "on_failure's context: $got (want $want)"
ok "on_failure fired as the owner: $got"

# within its run_timeout a run is untouched; removing the run_timeout
# ('0') lets a longer run succeed
qq "SELECT pgetl_alter_pipeline('deadline', run_timeout => '0')"
qq "UPDATE pgetl.task SET command = 'SELECT pg_sleep(3)' WHERE name = 'sleepy'"
r2=$(q "SELECT pgetl_run('deadline')")
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $r2")" = success ] || fail "run $r2 without run_timeout did not succeed"
qq "SELECT pgetl_alter_pipeline('deadline', run_timeout => '1 minute')"
r3=$(q "SELECT pgetl_run('deadline')")
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $r3")" = success ] || fail "run $r3 within its run_timeout did not succeed"
ok "runs without a run_timeout, or within it, succeed"
