#!/usr/bin/env bash
# A task whose COMMIT is slow (issue 9): a deferred trigger sleeps 75 s at
# the task's commit.  Another task of the same run times out meanwhile:
# its failure must be recorded at once, not when the slow commit ends (no
# commit of one task waits on a lock another task's commit holds); and
# pgetl_cancel must stop the slow commit, record the run cancelled and
# return true, within seconds.
source "$(dirname "$0")/lib.sh"
setup_db
qq "CREATE TABLE slow_rows (x int);
    CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS \$\$
    BEGIN PERFORM pg_sleep(75); RETURN NULL; END \$\$;
    CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON slow_rows
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();"
qq "SELECT pgetl_create_pipeline('slowc', max_parallel => 2)"
qq "SELECT pgetl_add_task('slowc', 'slow', 'INSERT INTO slow_rows VALUES (1)')"
qq "SELECT pgetl_add_task('slowc', 'timed', 'SELECT pg_sleep(30)', timeout => '1 second')"
run=$(q "SELECT pgetl_run('slowc', wait => false)")
start=$(date +%s)
wait_for "SELECT state = 'running' FROM pgetl.task_run WHERE run_id = $run AND task = 'slow'" || fail "slow never started"
wait_for "SELECT state = 'failed' FROM pgetl.task_run WHERE run_id = $run AND task = 'timed'" 20 \
    || fail "the timed-out task was not recorded while the other commits slowly: $(q "SELECT state FROM pgetl.task_run WHERE run_id = $run AND task = 'timed'")"
took=$(( $(date +%s) - start ))
[ "$(q "SELECT sqlstate FROM pgetl.task_run WHERE run_id = $run AND task = 'timed'")" = 57014 ] || fail "timed did not fail with 57014"
ok "a task's timeout is recorded after ${took} s while another task's COMMIT sleeps 75 s"
[ "$(q "SELECT state FROM pgetl.task_run WHERE run_id = $run AND task = 'slow'")" = running ] || fail "slow is no longer running"

t0=$(date +%s)
res=$(q "SELECT pgetl_cancel($run)")
took=$(( $(date +%s) - t0 ))
[ "$res" = t ] || fail "pgetl_cancel returned $res: $(q "SELECT state, reason FROM pgetl.pipeline_run WHERE run_id = $run")"
[ "$took" -le 15 ] || fail "pgetl_cancel took $took s"
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" = cancelled ] || fail "run not cancelled"
[ "$(q "SELECT state FROM pgetl.task_run WHERE run_id = $run AND task = 'slow'")" = cancelled ] || fail "slow not cancelled"
[ "$(q "SELECT count(*) FROM slow_rows")" = 0 ] || fail "the cancelled task's row was committed"
[ "$(q "SELECT count(*) FROM pgetl._running_tasks()")" = 0 ] || fail "a worker still holds a try"
ok "pgetl_cancel stopped the slow COMMIT in ${took} s: run cancelled, returned true, nothing committed"
