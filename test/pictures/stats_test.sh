#!/usr/bin/env bash
# Statistics (pgetl_task_stats, pgetl_pipeline_stats and their 30-day views)
# and Prometheus metrics (pgetl.metrics, src/monitoring/postgres_exporter.yaml)
# on a constructed history: exact counts, rates and mean tries, durations
# against pg_sleep and against the task runs, the window, and who sees what.
source "$(dirname "$0")/../engine/lib.sh"
setup_db
src=${PGETL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" -c "DROP ROLE IF EXISTS st_owner, st_viewer, st_member" >/dev/null 2>&1 || true' EXIT
psql -X -q -d postgres -c "DROP ROLE IF EXISTS st_owner, st_viewer, st_member" \
    -c "CREATE ROLE st_owner LOGIN" -c "CREATE ROLE st_viewer LOGIN" \
    -c "CREATE ROLE st_member LOGIN IN ROLE st_owner" >/dev/null
qq "CREATE SCHEMA s AUTHORIZATION st_owner"

# As st_owner: pipeline st (nap sleeps 0.2 s; flaky fails its first try
# once; boom fails both its tries; after is then upstream_failed), run 3
# times (each run fails); pipeline ok, run 3 times (each succeeds); a load
# of 3 records, 1 rejected.
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET ROLE st_owner;
CREATE SEQUENCE s.attempts;
CREATE TABLE s.tgt (a int, b text);
SELECT pgetl_create_pipeline('st');
SELECT pgetl_add_task('st', 'nap', 'SELECT pg_sleep(0.2)');
SELECT pgetl_add_task('st', 'flaky', $$SELECT 1 / (nextval('s.attempts') - 1)::int$$, retries => 1, retry_delay => '0 s');
SELECT pgetl_add_task('st', 'boom', 'SELECT 1/0', retries => 1, retry_delay => '0 s');
SELECT pgetl_add_task('st', 'after', 'SELECT 1', '{boom}');
SELECT pgetl_create_pipeline('ok');
SELECT pgetl_add_task('ok', 'a', 'SELECT 1');
SELECT pgetl_stage('st_stage', convert_to(E'a,b\n1,x\n2,y\nbad,z\n', 'UTF8'));
SELECT pgetl_define_load('st_load', 's.tgt', '[{"name": "a"}, {"name": "b"}]');
SELECT * FROM pgetl_load('st_load', 'st_stage');
SQL
for i in 1 2 3; do
    psql -X -q -c "SET ROLE st_owner" -c "SELECT pgetl_run('st')" >/dev/null 2>&1 || true
    psql -X -q -v ON_ERROR_STOP=1 -c "SET ROLE st_owner" -c "SELECT pgetl_run('ok')" >/dev/null
done
# the first run of ok is 40 days old: outside the 30-day window
qq "UPDATE pgetl.run_record SET queued_at = queued_at - interval '40 days' WHERE run_id = (SELECT min(run_id) FROM pgetl.run_record WHERE pipeline = 'ok')"
qq "UPDATE pgetl.task_run_record SET scheduled_at = scheduled_at - interval '40 days' WHERE run_id = (SELECT min(run_id) FROM pgetl.run_record WHERE pipeline = 'ok')"
[ "$(q "SELECT string_agg(pipeline || ':' || state, ',' ORDER BY run_id) FROM pgetl.pipeline_run")" \
    = "st:failed,ok:success,st:failed,ok:success,st:failed,ok:success" ] || fail "unexpected history: $(q "SELECT string_agg(pipeline || ':' || state, ',' ORDER BY run_id) FROM pgetl.pipeline_run")"

check() {  # check NAME SQL EXPECTED
    local got
    got=$(q "$2")
    [ "$got" = "$3" ] || fail "$1: got [$got], expected [$3]"
}

# task statistics, exact
check "task_stats" "SELECT string_agg(concat_ws(' ', pipeline, task, runs, successes, failures, success_rate, mean_tries, last_state,
                                                 last_run_id = (SELECT max(run_id) FROM pgetl.pipeline_run r WHERE r.pipeline = s.pipeline),
                                                 p50_duration IS NULL), E'\n' ORDER BY pipeline, task)
                      FROM pgetl.task_stats s" \
"ok a 2 2 0 1 1.00 success t f
st after 3 0 3 0 1.00 upstream_failed t t
st boom 3 0 3 0 2.00 failed t f
st flaky 3 3 0 1 1.33 success t f
st nap 3 3 0 1 1.00 success t f"
check "task stats over all history" "SELECT runs FROM pgetl_task_stats(NULL) WHERE pipeline = 'ok'" 3
check "task stats over 1 day = the view but for the old run" \
      "SELECT count(*) FROM (SELECT * FROM pgetl_task_stats('1 day') EXCEPT SELECT * FROM pgetl.task_stats) d" 0
# durations: nap slept 0.2 s; percentiles are those of its tries
check "nap durations" "SELECT p50_duration >= '0.2 s' AND p50_duration < '5 s' AND p50_duration <= p95_duration
                              AND p95_duration <= max_duration AND max_duration >= '0.2 s'
                         FROM pgetl.task_stats WHERE task = 'nap'" t
check "nap percentiles" "SELECT (s.p50_duration, s.p95_duration, s.max_duration) = (c.p50, c.p95, c.mx)
                           FROM pgetl.task_stats s,
                                (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration) AS p50,
                                        percentile_cont(0.95) WITHIN GROUP (ORDER BY duration) AS p95, max(duration) AS mx
                                   FROM pgetl.task_run WHERE task = 'nap') c
                          WHERE s.task = 'nap'" t
check "boom durations are of both tries" "SELECT s.max_duration = (SELECT max(duration) FROM pgetl.task_run WHERE task = 'boom')
                                             AND (SELECT count(duration) FROM pgetl.task_run WHERE task = 'boom') = 6
                                            FROM pgetl.task_stats s WHERE task = 'boom'" t
ok "task statistics: runs, successes, failures, success rate, mean tries, latest state, durations"

# pipeline statistics: st's mean tries are 16 tries / 12 task instances
check "pipeline_stats" "SELECT string_agg(concat_ws(' ', pipeline, runs, successes, failures, success_rate, mean_tries, last_state,
                                                     last_success_at IS NOT NULL, p50_duration >= '0.2 s'), E'\n' ORDER BY pipeline)
                          FROM pgetl.pipeline_stats" \
"ok 2 2 0 1 1.00 success t f
st 3 0 3 0 1.33 failed f t"
check "pipeline stats over all history" "SELECT runs FROM pgetl_pipeline_stats(NULL) WHERE pipeline = 'ok'" 3
check "pipeline durations" "SELECT (s.p50_duration, s.max_duration) = (c.p50, c.mx)
                             FROM pgetl.pipeline_stats s,
                                  (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration) AS p50, max(duration) AS mx
                                     FROM pgetl.pipeline_run WHERE pipeline = 'st') c
                            WHERE s.pipeline = 'st'" t
ok "pipeline statistics, and the 30-day window"

# metrics, exact
m="SELECT string_agg(metric || labels::text || '=' || value, E'\n' ORDER BY metric, labels::text COLLATE \"C\") FROM pgetl.metrics"
expected_metrics="pgetl_active_runs{\"pipeline\": \"ok\"}=0
pgetl_active_runs{\"pipeline\": \"st\"}=0
pgetl_queued_tasks{\"pipeline\": \"ok\"}=0
pgetl_queued_tasks{\"pipeline\": \"st\"}=0
pgetl_rows_loaded{\"load\": \"st_load\"}=2
pgetl_rows_rejected{\"load\": \"st_load\"}=1
pgetl_runs_count{\"state\": \"cancelled\", \"pipeline\": \"ok\"}=0
pgetl_runs_count{\"state\": \"cancelled\", \"pipeline\": \"st\"}=0
pgetl_runs_count{\"state\": \"failed\", \"pipeline\": \"ok\"}=0
pgetl_runs_count{\"state\": \"failed\", \"pipeline\": \"st\"}=3
pgetl_runs_count{\"state\": \"queued\", \"pipeline\": \"ok\"}=0
pgetl_runs_count{\"state\": \"queued\", \"pipeline\": \"st\"}=0
pgetl_runs_count{\"state\": \"running\", \"pipeline\": \"ok\"}=0
pgetl_runs_count{\"state\": \"running\", \"pipeline\": \"st\"}=0
pgetl_runs_count{\"state\": \"success\", \"pipeline\": \"ok\"}=3
pgetl_runs_count{\"state\": \"success\", \"pipeline\": \"st\"}=0
pgetl_task_runs_count{\"state\": \"cancelled\", \"pipeline\": \"ok\"}=0
pgetl_task_runs_count{\"state\": \"cancelled\", \"pipeline\": \"st\"}=0
pgetl_task_runs_count{\"state\": \"failed\", \"pipeline\": \"ok\"}=0
pgetl_task_runs_count{\"state\": \"failed\", \"pipeline\": \"st\"}=3
pgetl_task_runs_count{\"state\": \"queued\", \"pipeline\": \"ok\"}=0
pgetl_task_runs_count{\"state\": \"queued\", \"pipeline\": \"st\"}=0
pgetl_task_runs_count{\"state\": \"running\", \"pipeline\": \"ok\"}=0
pgetl_task_runs_count{\"state\": \"running\", \"pipeline\": \"st\"}=0
pgetl_task_runs_count{\"state\": \"scheduled\", \"pipeline\": \"ok\"}=0
pgetl_task_runs_count{\"state\": \"scheduled\", \"pipeline\": \"st\"}=0
pgetl_task_runs_count{\"state\": \"skipped\", \"pipeline\": \"ok\"}=0
pgetl_task_runs_count{\"state\": \"skipped\", \"pipeline\": \"st\"}=0
pgetl_task_runs_count{\"state\": \"success\", \"pipeline\": \"ok\"}=3
pgetl_task_runs_count{\"state\": \"success\", \"pipeline\": \"st\"}=6
pgetl_task_runs_count{\"state\": \"up_for_reschedule\", \"pipeline\": \"ok\"}=0
pgetl_task_runs_count{\"state\": \"up_for_reschedule\", \"pipeline\": \"st\"}=0
pgetl_task_runs_count{\"state\": \"up_for_retry\", \"pipeline\": \"ok\"}=0
pgetl_task_runs_count{\"state\": \"up_for_retry\", \"pipeline\": \"st\"}=4
pgetl_task_runs_count{\"state\": \"upstream_failed\", \"pipeline\": \"ok\"}=0
pgetl_task_runs_count{\"state\": \"upstream_failed\", \"pipeline\": \"st\"}=3"
check "metrics" "$m WHERE metric <> 'pgetl_last_success_age_seconds'" "$expected_metrics"
check "last success age" "SELECT string_agg(labels->>'pipeline', ',') || ' ' || bool_and(value >= 0 AND value < 120)::int
                            FROM pgetl.metrics WHERE metric = 'pgetl_last_success_age_seconds'" "ok 1"
check "age of the last success" "SELECT abs(value - extract(epoch FROM now() - (SELECT max(finished_at) FROM pgetl.pipeline_run
                                                                               WHERE pipeline = 'ok' AND state = 'success'))) < 0.001
                                   FROM pgetl.metrics WHERE metric = 'pgetl_last_success_age_seconds'" t
ok "metrics: runs and task runs by state, active runs, queued tasks, last success age, rows loaded and rejected"

# who sees what: a role that is not a member of st_owner sees nothing, a
# member sees it all, pg_read_all_stats sees the metrics (not the history)
as() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "SET ROLE $1" -c "$2"; }
# (ages change from one query to the next: compared by label)
mv="SELECT string_agg(metric || labels::text || CASE WHEN metric = 'pgetl_last_success_age_seconds' THEN '' ELSE '=' || value END,
                      E'\n' ORDER BY metric, labels::text COLLATE \"C\") FROM pgetl.metrics"
all_metrics=$(q "$mv")
for v in pgetl.task_stats pgetl.pipeline_stats pgetl.metrics "pgetl_task_stats(NULL)" "pgetl_pipeline_stats(NULL)"; do
    [ "$(as st_viewer "SELECT count(*) FROM $v")" = 0 ] || fail "st_viewer sees rows of $v"
    [ "$(as st_member "SELECT count(*) FROM $v")" = "$(q "SELECT count(*) FROM $v")" ] || fail "st_member does not see all of $v"
done
[ "$(as st_member "$mv")" = "$all_metrics" ] || fail "a member sees other metrics"
qq "GRANT pg_read_all_stats TO st_viewer"
[ "$(as st_viewer "$mv")" = "$all_metrics" ] || fail "pg_read_all_stats does not see all metrics"
[ "$(as st_viewer "SELECT count(*) FROM pgetl.task_stats")" = 0 ] || fail "pg_read_all_stats sees the task statistics"
ok "statistics and metrics show what the role may see; pg_read_all_stats sees all metrics"

# postgres_exporter's queries: each runs (as the monitoring role), and the
# metric names it makes (<key>_<gauge column>) are those of pgetl.metrics
yaml=$src/src/monitoring/postgres_exporter.yaml
names=$(awk '/^[a-z_]+:$/ { key = substr($1, 1, length($1) - 1) }
             /^    - [a-z_]+:$/ { col = substr($2, 1, length($2) - 1) }
             /usage: "GAUGE"/ { print key "_" col }' "$yaml" | sort | paste -sd, -)
[ "$names" = "$(q "SELECT string_agg(DISTINCT metric, ',' ORDER BY metric) FROM pgetl.metrics")" ] \
    || fail "the exporter's metrics ($names) are not those of pgetl.metrics"
nq=0
while IFS= read -r query; do
    out=$(as st_viewer "$query") || fail "query failed: $query"
    [ -n "$out" ] || fail "no sample from: $query"
    nq=$((nq + 1))
done < <(sed -n 's/^  query: "\(.*\)"$/\1/p' "$yaml")
[ "$nq" -eq 6 ] || fail "expected 6 queries in $yaml, found $nq"
[ "$(as st_viewer "$(sed -n 's/^  query: "\(.*\)"$/\1/p' "$yaml" | grep "'pgetl_rows_loaded'")")" = "st_load|2|1" ] \
    || fail "the rows query does not give loaded and rejected"
ok "postgres_exporter.yaml: $nq queries, metrics $names"
