#!/usr/bin/env bash
# Engine benchmark (issue 9, "Engine v2"), against the cluster in
# PGHOST/PGPORT/PGUSER, with the cost of a fork and of a new backend
# connection on the same machine printed beside the figures:
#  (a) a 100-task serial chain of SELECT 1: wall time and overhead per task
#  (b) 1,000 independent SELECT 1 tasks, max_parallel 8: tasks per second
#  (c) 8 independent pg_sleep(1) tasks, max_parallel 8: wall time
#  (d) WAL written per task run over the 1,000-task run
#  (e) 50 pipelines started at once by 50 clients on a cluster of its own
#      with max_worker_processes = 16: all must succeed; total wall time
# Times are taken in the calling session, from the call of pgetl_run() to
# its return (start-up and bookkeeping included), best of BENCH_RUNS.
# Targets (issue 9): (a) <= 5 ms per task (aim 2 ms), (b) >= 300 tasks/s
# (aim 1,000), (c) <= 1.1 s, (d) <= 1.5 KB.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
db=pgetl_bench_engine
runs=${BENCH_RUNS:-5}

# (e) runs in a cluster of its own: this script, with the argument "many"
if [ "${1:-}" = many ]; then
    n=50
    psql -X -q -d postgres -c "CREATE DATABASE $db" 2>/dev/null
    q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$db" <<<"$1"; }
    q "CREATE EXTENSION pgetl" >/dev/null
    for ((i = 1; i <= n; i++)); do
        q "SELECT pgetl_create_pipeline('p$i');
           SELECT pgetl_add_task('p$i', 'a', 'SELECT 1');
           SELECT pgetl_add_task('p$i', 'b', 'SELECT pg_sleep(0.1)', '{a}');
           SELECT pgetl_add_task('p$i', 'c', 'SELECT 1', '{a}');
           SELECT pgetl_add_task('p$i', 'd', 'SELECT 1', '{b,c}');" >/dev/null
    done
    tmp=$(mktemp -d)
    t0=$(date +%s.%N)
    for ((i = 1; i <= n; i++)); do
        psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$db" -c "SELECT pgetl_run('p$i')" >"$tmp/$i.out" 2>&1 &
    done
    failed=0
    for job in $(jobs -p); do wait "$job" || failed=$((failed + 1)); done
    t1=$(date +%s.%N)
    ok=$(q "SELECT count(*) FROM pgetl.pipeline_run WHERE state = 'success'")
    errors=$(cat "$tmp"/*.out | grep -c ERROR || true)
    rm -rf "$tmp"
    printf '%-58s %10s   %s\n' "$n pipelines (4 tasks each) by $n clients at once, wall" \
        "$(awk "BEGIN{printf \"%.2f s\", $t1 - $t0}")" \
        "($ok of $n succeeded, $failed calls failed, $errors errors; max_worker_processes = $(q 'SHOW max_worker_processes'))"
    exit 0
fi

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$db" <<<"$1"; }

q "CREATE EXTENSION pgetl;
   SELECT pgetl_create_pipeline('chain', max_parallel => 1);
   SELECT pgetl_add_task('chain', 't1', 'SELECT 1');
   SELECT count(pgetl_add_task('chain', 't' || i, 'SELECT 1', ARRAY['t' || (i - 1)])) FROM generate_series(2, 100) i;
   SELECT pgetl_create_pipeline('wide', max_parallel => 8);
   SELECT count(pgetl_add_task('wide', 'w' || i, 'SELECT 1')) FROM generate_series(1, 1000) i;
   SELECT pgetl_create_pipeline('fanout', max_parallel => 8);
   SELECT count(pgetl_add_task('fanout', 's' || i, 'SELECT pg_sleep(1)')) FROM generate_series(1, 8) i;" >/dev/null

# machine context: a new backend connection (pgbench -C), a fork (perl)
pgbench -i -q -s 1 "$db" >/dev/null 2>&1
conn_ms=$(pgbench -n -C -S -T 5 -c 1 "$db" 2>/dev/null | sed -n 's/^average connection time = \([0-9.]*\) ms$/\1/p')
fork_ms=$(perl -MTime::HiRes=time -e 'my $n = 200; my $t = time; for (1 .. $n) { my $p = fork(); if (!$p) { exit 0 } waitpid($p, 0) } printf "%.3f", (time - $t) * 1000 / $n')

# timed PIPELINE: milliseconds from the call of pgetl_run to its return
timed() {
    q "SELECT clock_timestamp() AS t0 \\gset
       SELECT pgetl_run('$1') AS rid \\gset
       SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 1);"
}
min() { printf '%s\n' "$@" | sort -g | head -n 1; }

chain=()
for ((r = 1; r <= runs; r++)); do chain+=("$(timed chain)"); done
wide=()
wal=()
for ((r = 1; r <= runs; r++)); do
    lsn0=$(q "SELECT pg_current_wal_insert_lsn()")
    wide+=("$(timed wide)")
    wal+=("$(q "SELECT round(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$lsn0') / 1000)")")
done
fan=()
for ((r = 1; r <= runs; r++)); do fan+=("$(timed fanout)"); done
best_chain=$(min "${chain[@]}")
best_wide=$(min "${wide[@]}")
best_fan=$(min "${fan[@]}")
best_wal=$(min "${wal[@]}")
in_task=$(q "SELECT round(avg(extract(epoch FROM duration)) * 1000, 2) FROM pgetl.task_run WHERE pipeline = 'chain'")
per_task=$(awk "BEGIN{printf \"%.2f\", $best_chain / 100}")
wide_rate=$(awk "BEGIN{printf \"%.0f\", 1000 / ($best_wide / 1000)}")
fan_s=$(awk "BEGIN{printf \"%.3f\", $best_fan / 1000}")

echo "== pgetl engine benchmark: best of $runs runs, $(date -u +%Y-%m-%d), $(nproc) cores, PostgreSQL $(q 'SHOW server_version') =="
echo "machine: a new backend connection costs ${conn_ms:-?} ms (pgbench -C -S, average connection time); a fork of a small process ${fork_ms} ms (perl)"
echo "chain runs (ms): ${chain[*]}"
echo "1,000-task runs (ms): ${wide[*]}; WAL per task (bytes): ${wal[*]}"
echo "fan-out runs (ms): ${fan[*]}"
printf '%-58s %10s\n' "100-task serial chain of SELECT 1, wall time" "$best_chain ms"
printf '%-58s %10s   %s\n' "  per task, all overhead included" "$per_task ms" \
    "(target <= 5 ms; $(awk "BEGIN{printf \"%.2f\", $per_task / ${conn_ms:-1}}") x a connection)"
printf '%-58s %10s\n' "  of which the task's own transaction (avg)" "$in_task ms"
printf '%-58s %10s   %s\n' "1,000 independent SELECT 1, max_parallel 8" "$wide_rate tasks/s" "(target >= 300; wall $best_wide ms)"
printf '%-58s %10s   %s\n' "  WAL per task run" "$best_wal bytes" "(target <= 1536)"
printf '%-58s %10s   %s\n' "8 x pg_sleep(1), max_parallel 8, wall time" "$fan_s s" "(target <= 1.1 s)"

# (e) in a cluster of its own, unless this already is one made for it
if [ "${BENCH_SKIP_MANY:-}" != 1 ]; then
    PGETL_CLUSTER_OPTS="max_worker_processes=16" "$src/test/setup/cluster.sh" bash "$here/engine_bench.sh" many 2>&1 \
        | grep -v "^Creating\|^Dropping"
fi
