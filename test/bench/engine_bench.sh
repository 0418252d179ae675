#!/usr/bin/env bash
# Engine benchmark, against the cluster in PGHOST/PGPORT/PGUSER:
#  (a) a 100-task serial chain of SELECT 1: wall time and overhead per task
#  (b) 8 independent pg_sleep(1) tasks with max_parallel 8: wall time
# Times are taken in the calling session, from the call of pgetl_run() to its
# return (start-up and bookkeeping included).  Targets (issue #2): <= 10 ms
# overhead per task (Airflow's is about 1 s between sequential tasks),
# fan-out <= 1.25 s.
set -euo pipefail
db=pgetl_bench_engine
runs=${BENCH_RUNS:-5}
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$db" <<<"$1"; }

q "CREATE EXTENSION pgetl;
   SELECT pgetl_create_pipeline('chain', max_parallel => 1);
   SELECT pgetl_add_task('chain', 't1', 'SELECT 1');
   SELECT count(pgetl_add_task('chain', 't' || i, 'SELECT 1', ARRAY['t' || (i - 1)])) FROM generate_series(2, 100) i;
   SELECT pgetl_create_pipeline('fanout', max_parallel => 8);
   SELECT count(pgetl_add_task('fanout', 's' || i, 'SELECT pg_sleep(1)')) FROM generate_series(1, 8) i;" >/dev/null

# timed PIPELINE: milliseconds from the call of pgetl_run to its return
timed() {
    q "SELECT clock_timestamp() AS t0 \\gset
       SELECT pgetl_run('$1') AS rid \\gset
       SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 1);"
}
min() { printf '%s\n' "$@" | sort -g | head -n 1; }

chain=()
for ((r = 1; r <= runs; r++)); do chain+=("$(timed chain)"); done
fan=()
for ((r = 1; r <= runs; r++)); do fan+=("$(timed fanout)"); done
best_chain=$(min "${chain[@]}")
best_fan=$(min "${fan[@]}")
in_task=$(q "SELECT round(avg(extract(epoch FROM duration)) * 1000, 2) FROM pgetl.task_run WHERE pipeline = 'chain'")
per_task=$(awk "BEGIN{printf \"%.2f\", $best_chain / 100}")
fan_s=$(awk "BEGIN{printf \"%.3f\", $best_fan / 1000}")

echo "== pgetl engine benchmark: best of $runs runs =="
echo "chain runs (ms): ${chain[*]}"
echo "fan-out runs (ms): ${fan[*]}"
printf '%-50s %10s\n' "100-task serial chain of SELECT 1, wall time" "$best_chain ms"
printf '%-50s %10s   %s\n' "  per task, all overhead included" "$per_task ms" "(target <= 10 ms; Airflow ~1000 ms)"
printf '%-50s %10s\n' "  of which the task's own transaction (avg)" "$in_task ms"
printf '%-50s %10s   %s\n' "8 x pg_sleep(1), max_parallel 8, wall time" "$fan_s s" "(target <= 1.25 s)"
