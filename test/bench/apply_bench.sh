#!/usr/bin/env bash
# Pipelines-as-code benchmark, against the cluster in PGHOST/PGPORT/PGUSER:
# what pgetl_apply and the definition version cost, side by side with the
# anchors they replace or add to, best of BENCH_RUNS:
#  (a) defining an N-task chain: pgetl_apply of its document vs the N
#      pgetl_add_task calls (plus pgetl_create_pipeline) it stands for
#  (b) a no-op pgetl_apply of the same document (nothing written)
#  (c) pgetl._definition_version, which every run start now calls (one
#      query on the definition rows' versions while nothing changed), in a
#      new session and in a warm one, vs a whole pgetl_run of the chain
# for N = 10 and 100.  Machine context (cores, cost of a fork) printed.
#   test/setup/cluster.sh test/bench/apply_bench.sh
set -euo pipefail
db=pgetl_bench_apply
runs=${BENCH_RUNS:-5}
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
q "CREATE EXTENSION pgetl"
fork_ms=$(perl -MTime::HiRes=time -e 'my $n = 200; my $t = time; for (1 .. $n) { my $p = fork(); if (!$p) { exit 0 } waitpid($p, 0) } printf "%.3f", (time - $t) * 1000 / $n')
echo "== pgetl_apply benchmark: best of $runs, $(date -u +%Y-%m-%d), $(nproc) cores, PostgreSQL $(q 'SHOW server_version') =="
echo "machine: a fork of a small process ${fork_ms} ms (perl)"

# best of $runs: milliseconds of one psql script (one session, timed inside)
best() {  # best SQL_BEFORE SQL_TIMED [SQL_UNTIMED_IN_THE_SAME_SESSION_FIRST]
    local b=""
    for ((r = 0; r < runs; r++)); do
        t=$(q "$1" >/dev/null; psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$db" <<SQL
${3:-}
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
$2
SELECT round(extract(epoch FROM clock_timestamp() - t) * 1000, 2) FROM t0;
SQL
)
        t=$(tail -1 <<<"$t")
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
    done
    echo "$b"
}

# the harness's own cost (temporary table, clock), subtracted below
base=$(best "SELECT 1" "SELECT 1;")
echo "harness overhead ${base} ms (subtracted from every figure)"
sub() { echo "scale=2; x = $1 - $base; if (x < 0) x = 0; x" | bc; }

for n in 10 100; do
    doc=$(q "SELECT jsonb_build_object('name', 'chain', 'tasks', jsonb_agg(jsonb_build_object('name', 't' || i,
               'command', 'SELECT ' || i, 'retries', 1,
               'upstream', CASE WHEN i > 1 THEN jsonb_build_array('t' || (i - 1)) ELSE '[]' END) ORDER BY i))
             FROM generate_series(1, $n) i")
    calls="SELECT pgetl_create_pipeline('chain');"
    for ((i = 1; i <= n; i++)); do
        calls+=" SELECT pgetl_add_task('chain', 't$i', 'SELECT $i', CASE WHEN $i > 1 THEN ARRAY['t$((i - 1))'] ELSE '{}' END, retries => 1);"
    done
    drop="SELECT pgetl_drop_pipeline(name) FROM pgetl.pipeline"
    t_calls=$(best "$drop" "$calls")
    t_apply=$(best "$drop" "SELECT pgetl_apply('$doc');")
    t_noop=$(best "SELECT 1" "SELECT pgetl_apply('$doc');")
    id=$(q "SELECT pipeline_id FROM pgetl.pipeline WHERE name = 'chain'")
    t_ver=$(best "SELECT 1" "SELECT pgetl._definition_version($id, 10);")
    t_ver_warm=$(best "SELECT 1" "SELECT pgetl._definition_version($id, 10);" "SELECT pgetl._definition_version($id, 10);")
    t_run=$(best "SELECT 1" "SELECT pgetl_run('chain');")
    t_calls=$(sub "$t_calls"); t_apply=$(sub "$t_apply"); t_noop=$(sub "$t_noop")
    t_ver=$(sub "$t_ver"); t_ver_warm=$(sub "$t_ver_warm"); t_run=$(sub "$t_run")
    printf '%4d tasks: define by calls %8s ms | pgetl_apply %8s ms (x%s) | no-op apply %8s ms (x%s of calls)\n' \
        "$n" "$t_calls" "$t_apply" "$(echo "scale=2; $t_apply / $t_calls" | bc)" \
        "$t_noop" "$(echo "scale=2; $t_noop / $t_calls" | bc)"
    printf '            definition version at run start %6s ms in a new session (%s ms in a warm one) = %s%% of a whole pgetl_run (%s ms)\n' \
        "$t_ver" "$t_ver_warm" "$(echo "scale=1; 100 * $t_ver / $t_run" | bc)" "$t_run"
done
