#!/usr/bin/env bash
# depends_on_past (issue 11 §1, Airflow's meaning): a task with
# depends_on_past runs only if its try in the previous logical date's run
# succeeded or was skipped; otherwise it waits (scheduled) while the rest
# of its run goes on, and runs once the past is fixed (the previous run
# resumed).  The first run has no past; a skipped past counts as done; a
# task without depends_on_past never waits for the past.  pgetl_definition
# round-trips the setting.
source "$(dirname "$0")/lib.sh"
setup_db

qq "CREATE TABLE switch (ok boolean); INSERT INTO switch VALUES (false)"
qq "SELECT pgetl_create_pipeline('past')"
# 'load' fails while switch.ok is false; on 2024-01-03 it skips itself
qq "SELECT pgetl_add_task('past', 'load',
      \$\$SELECT CASE WHEN pgetl_logical_date() = date '2024-01-03' THEN pgetl_skip('no data') END;
         SELECT 1 / (SELECT ok::int FROM public.switch)\$\$, depends_on_past => true)"
qq "SELECT pgetl_add_task('past', 'report', 'SELECT 1', '{load}')"
qq "SELECT pgetl_add_task('past', 'free', 'SELECT 1')"
[ "$(q "SELECT pgetl_definition('past')->'tasks'->0->>'depends_on_past'")" = true ] || fail "definition lacks depends_on_past"
[ "$(q "SELECT pgetl_definition('past')->'tasks'->1 ? 'depends_on_past'")" = f ] || fail "definition writes the default depends_on_past"
ok "pgetl_add_task(depends_on_past => true) recorded; pgetl_definition writes it (not the default)"

# 1. the first run has no past: 'load' runs (and fails)
psql -X -q -c "SELECT pgetl_run('past', logical_date => date '2024-01-01')" >/dev/null 2>&1 || true
r1=$(q "SELECT run_id FROM pgetl.pipeline_run WHERE pipeline = 'past' AND logical_date = '2024-01-01'")
[ "$(q "SELECT state FROM pgetl.task_run WHERE run_id = $r1 AND task = 'load'")" = failed ] || fail "first run: load did not run"
ok "the first run has no past: load ran (and failed)"

# 2. the next date: 'load' waits for its past, 'free' runs
r2=$(q "SELECT pgetl_run('past', logical_date => date '2024-01-02', wait => false)")
wait_for "SELECT state = 'success' FROM pgetl.task_run WHERE run_id = $r2 AND task = 'free'" 20 || fail "free did not run"
sleep 2.5
st=$(q "SELECT string_agg(task || '=' || state, ' ' ORDER BY task) FROM pgetl.task_run WHERE run_id = $r2")
[ "$st" = "free=success load=scheduled report=scheduled" ] || fail "run 2 while its past failed: $st"
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $r2")" = running ] || fail "run 2 is not running"
ok "load waits (scheduled) while its previous try failed; free ran ($st)"

# 3. the past fixed (run 1 resumed): run 2's load runs
qq "UPDATE switch SET ok = true"
q "SELECT pgetl_resume($r1)" >/dev/null || fail "resume of run 1"
wait_for "SELECT state = 'success' FROM pgetl.pipeline_run WHERE run_id = $r2" 20 \
    || fail "run 2 after its past succeeded: $(q "SELECT string_agg(task || '=' || state, ' ') FROM pgetl.task_run WHERE run_id = $r2")"
[ "$(q "SELECT (SELECT min(started_at) FROM pgetl.task_run WHERE run_id = $r2 AND task = 'load')
              >= (SELECT max(finished_at) FROM pgetl.task_run WHERE run_id = $r1 AND task = 'load')")" = t ] \
    || fail "run 2's load started before run 1's load succeeded"
ok "once the previous try succeeded (run resumed), the waiting load ran and run 2 succeeded"

# 4. a skipped past counts as done
q "SELECT pgetl_run('past', logical_date => date '2024-01-03')" >/dev/null || fail "run 3"
[ "$(q "SELECT state FROM pgetl.task_run WHERE pipeline = 'past' AND task = 'load' AND run_id = (SELECT max(run_id) FROM pgetl.pipeline_run)")" = skipped ] \
    || fail "run 3's load did not skip"
q "SELECT pgetl_run('past', logical_date => date '2024-01-04')" >/dev/null || fail "run 4 after a skipped past"
ok "a skipped previous try lets the next date's load run"

# 5. the past is the previous logical date, not the previous run asked:
#    an earlier date run now (2023-12-31) has no past and runs
q "SELECT pgetl_run('past', logical_date => date '2023-12-31')" >/dev/null || fail "run of an earlier date"
ok "a run of an earlier logical date has no past: it ran"
