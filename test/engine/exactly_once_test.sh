#!/usr/bin/env bash
# Exactly once under kill -9 (issue 9, item 4): a task's work commits with
# its success in one transaction, or not at all.  A chain of 40 tasks, each
# inserting its own row (with a short random sleep around the insert so
# that kills land before, during and after it), is killed with SIGKILL at
# random moments, alternately hitting the task worker and the database's
# scheduler; after every crash restart the run is resumed.  At the end
# every task succeeded once, and the table holds each row exactly once:
# no duplicate (work committed without its success would run again) and
# no missing row (a success committed without its work).
source "$(dirname "$0")/lib.sh"
setup_db

n=40
kills=${EXACTLY_ONCE_KILLS:-8}
q "CREATE TABLE rows_once (task text, run bigint, at timestamptz DEFAULT clock_timestamp())"
qq "SELECT pgetl_create_pipeline('once', max_parallel => 2)"
qq "SELECT pgetl_add_task('once', 't1', \$\$SELECT pg_sleep(random() * 0.05); INSERT INTO rows_once (task, run) VALUES ('t1', pgetl_run_id()); SELECT pg_sleep(random() * 0.05)\$\$)"
for ((i = 2; i <= n; i++)); do
    qq "SELECT pgetl_add_task('once', 't$i', \$\$SELECT pg_sleep(random() * 0.05); INSERT INTO rows_once (task, run) VALUES ('t$i', pgetl_run_id()); SELECT pg_sleep(random() * 0.05)\$\$, '{t$((i - 1))}')"
done
run=$(q "SELECT pgetl_run('once', wait => false)")

killed=0
for ((k = 1; k <= kills; k++)); do
    # a random moment: 50 to 550 ms into the (resumed) run
    sleep "0.$((RANDOM % 5 + 0))$((RANDOM % 10))"
    sleep 0.05
    if ((k % 2)); then type='pgetl task'; else type='pgetl scheduler'; fi
    pid=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = '$type' AND datname = current_database() LIMIT 1" || true)
    [ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" = success ] && break
    [ -n "$pid" ] || continue
    kill -9 "$pid" 2>/dev/null || continue
    killed=$((killed + 1))
    wait_for "SELECT true" 60 || fail "server did not come back after kill $k"
    wait_for "SELECT state <> 'running' FROM pgetl.pipeline_run WHERE run_id = $run" 60 \
        || fail "run $run still running after kill $k"
    if [ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" != success ]; then
        q "SELECT pgetl_resume($run, wait => false)" >/dev/null || fail "resume after kill $k failed"
    fi
done
ok "killed $killed process(es) with SIGKILL at random moments"

# let it finish, resuming once more if the last kill stopped it
wait_for "SELECT state <> 'running' FROM pgetl.pipeline_run WHERE run_id = $run" 120 || fail "run never finished"
if [ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" != success ]; then
    qq "SELECT pgetl_resume($run)" || fail "final resume failed"
fi
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" = success ] || fail "run did not succeed"
[ "$(q "SELECT count(*) FROM pgetl.task_run WHERE run_id = $run AND state = 'success'")" = "$n" ] \
    || fail "successful tries: $(q "SELECT count(*) FROM pgetl.task_run WHERE run_id = $run AND state = 'success'") of $n"
dups=$(q "SELECT string_agg(task || ' x' || c, ', ') FROM (SELECT task, count(*) c FROM rows_once GROUP BY task HAVING count(*) > 1) d")
[ -z "$dups" ] || fail "rows inserted more than once: $dups"
missing=$(q "SELECT string_agg('t' || i, ', ') FROM generate_series(1, $n) i WHERE NOT EXISTS (SELECT FROM rows_once WHERE task = 't' || i)")
[ -z "$missing" ] || fail "rows missing: $missing"
ok "each of the $n tasks succeeded once and its row is there exactly once"
# every try that did not succeed was interrupted, and left no row
[ "$(q "SELECT count(*) FROM pgetl.task_run WHERE run_id = $run AND state NOT IN ('success', 'failed', 'cancelled')")" = 0 ] \
    || fail "tries left unfinished"
ok "$(q "SELECT count(*) FROM pgetl.task_run WHERE run_id = $run AND state <> 'success'") interrupted tries, none left a row"
