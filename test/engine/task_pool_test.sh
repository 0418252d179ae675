#!/usr/bin/env bash
# Task pools, priority weights, max_active_tasks (issue 11 §2).
# 0. Default weights (priority_weight 1, weight_rule downstream), no pool:
#    the scheduler hands out per run, and still starts the ready task with
#    the most downstream tasks first, as Airflow's does, not task order.
# 1. A task pool of 1 slot shared by two pipelines of two owners: no two of
#    their tasks ever run at once (no two tries overlap in time, and
#    samples of pgetl.task_run and pgetl._running_tasks while they go never
#    see two), the pool was contended (pgetl.pools showed tries queued for
#    it while one ran), and all succeed.
# 2. Priority: with max_parallel 1, ready tasks start by effective weight
#    (absolute weights 1 and 10, and a downstream-weighted task of weight
#    1 whose downstream task weighs 5: 6), not in task order.
# 3. max_active_tasks 2 over two active runs of different logical dates
#    (max_parallel 4 each): never more than 2 of the pipeline's tasks run
#    at once, and 2 do.
# 4. The hand-out over all runs when task workers are short
#    (pgetl.max_workers = 1): tries in a roomy pool wait for a worker, the
#    run says so, one runs at a time, all succeed.
# 5. A run whose try waits for a full task pool says which in its reason
#    (pgetl.pipeline_run), the run holding the pool does not, and the
#    reason is cleared once the try starts.
source "$(dirname "$0")/lib.sh"
setup_db

# 0. default weights, per run: a (no downstream) and b (3 downstream: c,
# and e and f after c) are ready; b (effective weight 4) starts first; then
# c (3), released by b, goes before a (1), queued before it; then a, e, f
# (1 each, task order)
qq "SELECT pgetl_create_pipeline('dflt', max_parallel => 1)"
qq "SELECT pgetl_add_task('dflt', 'a', 'SELECT pg_sleep(0.2)')"
qq "SELECT pgetl_add_task('dflt', 'b', 'SELECT pg_sleep(0.2)')"
qq "SELECT pgetl_add_task('dflt', 'c', 'SELECT pg_sleep(0.2)', upstream => '{b}')"
qq "SELECT pgetl_add_task('dflt', 'e', 'SELECT pg_sleep(0.2)', upstream => '{c}')"
qq "SELECT pgetl_add_task('dflt', 'f', 'SELECT pg_sleep(0.2)', upstream => '{c}')"
[ "$(q "SELECT pgetl._hand_out_needed()")" = f ] || fail "the default settings need arbitration"
r=$(q "SELECT pgetl_run('dflt')")
order=$(q "SELECT string_agg(task, ',' ORDER BY started_at) FROM pgetl.task_run WHERE run_id = $r")
[ "$order" = "b,c,a,e,f" ] || fail "default priority order: $order (expected b (1+3 downstream), c (1+2), then a, e, f)"
ok "default weights, per-run hand-out: the task with the most downstream tasks started first ($order)"
alice=pgetl_pool_alice_$$
bob=pgetl_pool_bob_$$
carol=pgetl_pool_carol_$$
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" -c "DROP ROLE IF EXISTS $alice" -c "DROP ROLE IF EXISTS $bob" -c "DROP ROLE IF EXISTS $carol" >/dev/null 2>&1 || true' EXIT
q "CREATE ROLE $alice LOGIN; CREATE ROLE $bob LOGIN; CREATE ROLE $carol LOGIN"
as() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "SET ROLE $1" -c "$2"; }

# 1. one slot, two pipelines, two owners.  The first tasks in a pool are
# added, and both runs started, in one session right after a run without
# pools ends (the scheduler has just found that runs need no arbitration):
# the pool must hold from the new runs' first hand-out, not only once the
# scheduler reads that again (it used to, at most every second, and the
# tries of both runs all ran at once in between).
qq "SELECT pgetl_create_pool('one', 1, 'one at a time')"
qq "SELECT pgetl_create_pipeline('warm')"
qq "SELECT pgetl_add_task('warm', 'w', 'SELECT 1')"
for who in $alice $bob; do
    as $who "SELECT pgetl_create_pipeline('p_$who', max_parallel => 4)" >/dev/null
done
add_tasks() {
    for t in t1 t2 t3; do
        printf "SELECT pgetl_add_task('p_%s', '%s', 'SELECT pg_sleep(0.6)', pool => 'one') IS NULL;\n" "$1" "$t"
    done
}
ids=$( { echo "SELECT pgetl_run('warm') IS NULL;"
         echo "SET ROLE $alice;"; add_tasks $alice; echo "SELECT pgetl_run('p_$alice', wait => false);"
         echo "RESET ROLE; SET ROLE $bob;"; add_tasks $bob; echo "SELECT pgetl_run('p_$bob', wait => false);"
       } | psql -X -A -t -q -v ON_ERROR_STOP=1 | grep -v '^f$')
read -r ra rb <<<"$(echo $ids)"
[ -n "$ra" ] && [ -n "$rb" ] || fail "the two runs did not start: $ids"
max=0; maxw=0; contended=0
for ((i = 0; i < 400; i++)); do
    s=$(q "SELECT (SELECT count(*) FROM pgetl.task_run WHERE run_id IN ($ra, $rb) AND state = 'running')
             || ' ' || (SELECT count(*) FROM pgetl._running_tasks() w JOIN pgetl.task_run_record t USING (task_run_id)
                         WHERE t.run_id IN ($ra, $rb))
             || ' ' || (SELECT running || ':' || queued FROM pgetl.pools WHERE pool = 'one')
             || ' ' || (SELECT count(*) FROM pgetl.pipeline_run WHERE run_id IN ($ra, $rb) AND state IN ('queued', 'running'))")
    read -r n w pq active <<<"$s"
    [ "$n" -gt "$max" ] && max=$n
    [ "$w" -gt "$maxw" ] && maxw=$w
    [ "${pq%%:*}" = 1 ] && [ "${pq#*:}" -ge 1 ] && contended=1
    [ "$active" = 0 ] && break
    sleep 0.05
done
[ "$active" = 0 ] || fail "runs still active after 20 s"
[ "$max" -le 1 ] && [ "$maxw" -le 1 ] || fail "$max (task_run) / $maxw (_running_tasks) tries ran at once in a 1-slot pool"
[ "$max" = 1 ] || fail "never saw a try running"
[ "$contended" = 1 ] || fail "pgetl.pools never showed tries queued while one ran: the pool was not contended"
st=$(q "SELECT string_agg(DISTINCT state::text, ',') FROM pgetl.task_run WHERE run_id IN ($ra, $rb)")
[ "$st" = success ] || fail "tries ended: $st"
overlap=$(q "SELECT count(*) FROM pgetl.task_run x JOIN pgetl.task_run y ON x.task_run_id < y.task_run_id
              WHERE x.run_id IN ($ra, $rb) AND y.run_id IN ($ra, $rb)
                AND x.started_at < y.finished_at AND y.started_at < x.finished_at")
[ "$overlap" = 0 ] || fail "$overlap pairs of tries overlapped in time in a 1-slot pool"
[ "$(q "SELECT running || ':' || queued || ':' || open_slots FROM pgetl.pools WHERE pool = 'one'")" = "0:0:1" ] \
    || fail "pgetl.pools after the runs: $(q "SELECT * FROM pgetl.pools")"
ok "1-slot pool shared by two owners' pipelines: 6 tries, never two at once (max $max/$maxw), queued shown in pgetl.pools"

# 2. priority: max_parallel 1, three ready tasks and one downstream
qq "SELECT pgetl_create_pipeline('prio', max_parallel => 1)"
qq "SELECT pgetl_add_task('prio', 'low', 'SELECT pg_sleep(0.2)', priority_weight => 1, weight_rule => 'absolute')"
qq "SELECT pgetl_add_task('prio', 'high', 'SELECT pg_sleep(0.2)', priority_weight => 10, weight_rule => 'absolute')"
qq "SELECT pgetl_add_task('prio', 'x', 'SELECT pg_sleep(0.2)')"
qq "SELECT pgetl_add_task('prio', 'y', 'SELECT pg_sleep(0.2)', upstream => '{x}', priority_weight => 5)"
r=$(q "SELECT pgetl_run('prio')")
order=$(q "SELECT string_agg(task, ',' ORDER BY started_at) FROM pgetl.task_run WHERE run_id = $r")
[ "$order" = "high,x,y,low" ] || fail "priority order: $order (expected high (10), x (1+5), then y (5) before low (1))"
ok "max_parallel 1: tasks started by effective weight ($order)"

# 3. max_active_tasks across two active runs
qq "SELECT pgetl_create_pipeline('mat', max_parallel => 4, max_active_tasks => 2)"
for t in a b c; do qq "SELECT pgetl_add_task('mat', '$t', 'SELECT pg_sleep(0.7)')"; done
r1=$(q "SELECT pgetl_run('mat', logical_date => date '2024-01-01', wait => false)")
r2=$(q "SELECT pgetl_run('mat', logical_date => date '2024-01-02', wait => false)")
max=0; both=0
for ((i = 0; i < 400; i++)); do
    s=$(q "SELECT (SELECT count(*) FROM pgetl.task_run WHERE run_id IN ($r1, $r2) AND state = 'running')
             || ' ' || (SELECT count(*) FROM pgetl.pipeline_run WHERE run_id IN ($r1, $r2) AND state = 'running')
             || ' ' || (SELECT count(*) FROM pgetl.pipeline_run WHERE run_id IN ($r1, $r2) AND state IN ('queued', 'running'))")
    read -r n running active <<<"$s"
    [ "$n" -gt "$max" ] && max=$n
    [ "$running" = 2 ] && both=1
    [ "$active" = 0 ] && break
    sleep 0.05
done
[ "$active" = 0 ] || fail "mat runs still active after 20 s"
[ "$both" = 1 ] || fail "the two runs were never active at once"
[ "$max" -le 2 ] || fail "$max tasks of the pipeline ran at once with max_active_tasks 2"
[ "$max" = 2 ] || fail "never 2 tasks at once (max $max): the cap is not used"
overl=$(q "SELECT max(c) FROM (SELECT (SELECT count(*) FROM pgetl.task_run y WHERE y.run_id IN ($r1, $r2)
                                         AND y.started_at <= x.started_at AND x.started_at < y.finished_at) c
                                FROM pgetl.task_run x WHERE x.run_id IN ($r1, $r2)) s")
[ "$overl" -le 2 ] || fail "$overl tries overlapped in time with max_active_tasks 2"
[ "$(q "SELECT count(*) FROM pgetl.pipeline_run WHERE run_id IN ($r1, $r2) AND state = 'success'")" = 2 ] || fail "mat runs did not succeed"
ok "max_active_tasks 2 over two active runs: at most $max (overlap $overl) tasks at once"

# 4. short of task workers while arbitrating (pgetl.max_workers = 1; a
#    new owner, carol, so that no warm worker of hers exists: the cap
#    applies to starting workers, an idle worker of the same owner is
#    reused)
qq "ALTER SYSTEM SET pgetl.max_workers = 1"
qq "SELECT pg_reload_conf()"
sleep 0.5
qq "SELECT pgetl_create_pool('wide', 4)"
as $carol "SELECT pgetl_create_pipeline('few', max_parallel => 4)" >/dev/null
for t in a b c d; do as $carol "SELECT pgetl_add_task('few', '$t', 'SELECT pg_sleep(0.4)', pool => 'wide')" >/dev/null; done
r=$(as $carol "SELECT pgetl_run('few', wait => false)")
max=0; said=0
for ((i = 0; i < 400; i++)); do
    s=$(q "SELECT (SELECT count(*) FROM pgetl.task_run WHERE run_id = $r AND state = 'running') || ' '
             || (SELECT coalesce(reason LIKE '%wait for a free task worker%', false)::int || ' ' || (state IN ('queued', 'running'))::int
                   FROM pgetl.pipeline_run WHERE run_id = $r)")
    read -r n waiting active <<<"$s"
    [ "$n" -gt "$max" ] && max=$n
    [ "$waiting" = 1 ] && said=1
    [ "$active" = 0 ] && break
    sleep 0.05
done
qq "ALTER SYSTEM RESET pgetl.max_workers"
qq "SELECT pg_reload_conf()"
[ "$active" = 0 ] || fail "run 'few' still active after 20 s"
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $r")" = success ] || fail "run 'few' did not succeed"
[ "$max" -le 1 ] || fail "$max tries ran at once with pgetl.max_workers = 1"
[ "$said" = 1 ] || fail "the run never said its tries wait for a free task worker"
[ -z "$(q "SELECT reason FROM pgetl.pipeline_run WHERE run_id = $r")" ] || fail "reason left: $(q "SELECT reason FROM pgetl.pipeline_run WHERE run_id = $r")"
ok "pgetl.max_workers = 1 while arbitrating: tries waited for a worker (the run said so), all 4 succeeded"

# 5. a run whose tries wait for a full task pool says which (its reason),
#    and no longer once its try starts: a 1-slot pool "gate" held by the
#    task of pipeline 'holder' until the test lets it go (a row 1 in
#    pool_go); the task of 'waiter' in the same pool (held by a row 2)
qq "CREATE TABLE pool_go (x integer); GRANT SELECT ON pool_go TO PUBLIC"
qq "SELECT pgetl_create_pool('gate', 1)"
for p in 1:holder 2:waiter; do
    qq "SELECT pgetl_create_pipeline('${p#*:}')"
    qq "SELECT pgetl_add_task('${p#*:}', 'work', \$t\$DO \$d\$BEGIN WHILE NOT EXISTS (SELECT 1 FROM pool_go WHERE x = ${p%%:*}) LOOP PERFORM pg_sleep(0.05); END LOOP; END\$d\$\$t\$, pool => 'gate')"
done
rh=$(q "SELECT pgetl_run('holder', wait => false)")
wait_for "SELECT state = 'running' FROM pgetl.task_run WHERE run_id = $rh" 30 || fail "holder's task did not start"
rw=$(q "SELECT pgetl_run('waiter', wait => false)")
wait_for "SELECT reason IS NOT NULL FROM pgetl.pipeline_run WHERE run_id = $rw" 30 \
    || fail "the waiting run has no reason: $(q "SELECT state, reason FROM pgetl.pipeline_run WHERE run_id = $rw")"
reason=$(q "SELECT reason FROM pgetl.pipeline_run WHERE run_id = $rw")
[ "$reason" = 'tasks wait for free slots of task pool "gate" (1 slot)' ] || fail "the waiting run's reason: '$reason'"
[ "$(q "SELECT state FROM pgetl.task_run WHERE run_id = $rw")" = queued ] || fail "waiter's try is not queued"
[ -z "$(q "SELECT reason FROM pgetl.pipeline_run WHERE run_id = $rh")" ] \
    || fail "the run holding the pool has a reason: $(q "SELECT reason FROM pgetl.pipeline_run WHERE run_id = $rh")"
ok "a run waiting for a full task pool says so: $reason"
qq "INSERT INTO pool_go VALUES (1)"
wait_for "SELECT state = 'running' FROM pgetl.task_run WHERE run_id = $rw" 30 || fail "waiter's task did not start"
wait_for "SELECT reason IS NULL FROM pgetl.pipeline_run WHERE run_id = $rw" 30 \
    || fail "the reason stays once the try started: $(q "SELECT reason FROM pgetl.pipeline_run WHERE run_id = $rw")"
[ "$(q "SELECT state FROM pgetl.task_run WHERE run_id = $rw")" = running ] || fail "waiter's try is no longer running"
qq "INSERT INTO pool_go VALUES (2)"
wait_for "SELECT state = 'success' FROM pgetl.pipeline_run WHERE run_id = $rw" 30 || fail "waiter did not succeed"
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $rh")" = success ] || fail "holder did not succeed"
ok "the reason is cleared when the try starts; both runs succeed"
