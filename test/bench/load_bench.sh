#!/usr/bin/env bash
# Loader benchmark: one 1M-row purchases CSV (~60 MB), one target table with
# a primary key and CHECKs.  Times plain COPY (the anchor), pgetl_load with
# six rules on clean data and on 1% bad rows, serial (pgetl.load_parallel =
# off) and parallel (on: a background reader parses and checks while the
# backend inserts), two concurrent COPYs of the file's halves (what
# timescaledb-parallel-copy does; it is not packaged here), row-by-row INSERT
# on a 20k-row slice (scaled to 1M) and pgloader; prints each time, its
# ratio to COPY and the backend's peak memory (VmHWM; includes the shared
# buffers it touched; the parallel path's reader is another process, not
# counted).  COPY and the serial and parallel loads run side by side, RUNS
# rounds in turn; each one's best round is shown, with every round's time.
# Also the calling backend's CPU seconds: on a machine busy with other work
# wall times vary, while the backend's CPU time is what the parallel path
# takes off it; the parallel path's reader reports its own CPU seconds
# (DEBUG1), shown apart: it runs on the other core.  Every round is shown
# with the load average (1 min) at its end.
# Machine context first: cores, CPU, load average, connection cost.
#   ROWS=1000000 RUNS=3 test/bench/load_bench.sh   (PGHOST/PGPORT/... set)
# QUICK=1 measures only COPY, the serial and parallel loads and the two
# concurrent COPYs (no 100k-row load, row-by-row INSERT or pgloader).
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${ROWS:-1000000}
runs=${RUNS:-3}
data=$PWD/test/bench/data
out=$PWD/test/bench/out
mkdir -p "$data" "$out"
db=pgetl_bench
[ -f "$data/clean_$rows.csv" ] || python3 test/bench/gen_purchases.py "$rows" 0 "$data/clean_$rows.csv"
[ -f "$data/bad_$rows.csv" ] || python3 test/bench/gen_purchases.py "$rows" 0.01 "$data/bad_$rows.csv"
head -n 20001 "$data/clean_$rows.csv" > "$data/slice_20k.csv"
chmod 644 "$data"/*.csv
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" <<'SQL'
CREATE EXTENSION pgetl;
CREATE TABLE purchases (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL,
    product text NOT NULL,
    price numeric(10,2) NOT NULL CHECK (price > 0),
    quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    ts timestamp NOT NULL);
SELECT pgetl_define_load('purchases', 'purchases', '[
  {"name": "id", "required": true},
  {"name": "customer_id", "min": 1},
  {"name": "product", "required": true, "max_length": 100},
  {"name": "price", "min": 10, "max_decimals": 2},
  {"name": "quantity", "min": 1, "max": 100},
  {"name": "ts"}]');
SQL

# machine context: what the ratios depend on
conn_ms=-
if command -v pgbench >/dev/null; then
    conn_ms=$(pgbench -n -C -t 50 -f /dev/stdin "$db" <<<"SELECT 1" 2>/dev/null |
              sed -n 's/.*average connection time = \([0-9.]*\) ms.*/\1/p' || true)
    [ -n "$conn_ms" ] || conn_ms=-
fi
context="$(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)), load average $(cut -d' ' -f1-3 /proc/loadavg) at start, connection ${conn_ms} ms, PostgreSQL $(psql -X -At -d "$db" -c 'SHOW server_version'), $rows rows, $(du -m "$data/clean_$rows.csv" | cut -f1) MB"

# seconds, peak memory (kB), rows in the table and the backend's CPU
# seconds (user + system, from /proc: what the statement cost the calling
# backend alone, whatever else the machine runs) of one statement, in a
# fresh session after a TRUNCATE and CHECKPOINT (PGOPTIONS passes settings)
hz=$(getconf CLK_TCK)
measure() {
    psql -X -q -At -d "$db" -c "TRUNCATE purchases" -c "CHECKPOINT" >/dev/null 2>"$out/truncate.err"
    psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 2>"$out/measure.err" <<SQL
SELECT (s[12]::bigint + s[13]::bigint) AS c0
  FROM string_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ') s \gset
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
$1;
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 2)
       || ' ' || (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+)'))[1]
       || ' ' || (SELECT count(*) FROM purchases)
       || ' ' || round((s[12]::bigint + s[13]::bigint - :c0) / $hz.0, 2)
  FROM string_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ') s;
SQL
}

results=()
report() {  # name seconds kB rows [backend CPU seconds [reader CPU seconds]]
    results+=("$1|$2|$3|$4|${5:--}|${6:--}")
}
# side by side: COPY, serial and parallel loads, RUNS rounds in turn; the
# best round of each (seconds, its peak memory, rows) and all rounds' times
declare -A best all
side() {  # key mode statement
    local s kb n cpu rcpu
    read -r s kb n cpu < <(PGOPTIONS="-c pgetl.load_parallel=$2 -c client_min_messages=debug1" measure "$3" | tail -n 1)
    # the reader's CPU time, from its DEBUG1 report (parallel path only)
    rcpu=$(sed -n 's/.*which used \([0-9]*\) ms of CPU.*/\1/p' "$out/measure.err" | head -n 1)
    [ -n "$rcpu" ] && rcpu=$(echo "$rcpu / 1000" | bc -l | xargs printf '%.2f') || rcpu=-
    local extra=
    [ "$rcpu" != - ] && extra=", reader cpu $rcpu"
    all[$1]="${all[$1]:-}${all[$1]:+, }$s (cpu $cpu$extra, load $(cut -d' ' -f1 /proc/loadavg))"
    if [ -z "${best[$1]:-}" ] || [ "$(echo "$s < ${best[$1]%% *}" | bc -l)" = 1 ]; then
        best[$1]="$s $kb $n $cpu $rcpu"
    fi
}
for ((r = 1; r <= runs; r++)); do
    side copy off "COPY purchases FROM '$data/clean_$rows.csv' WITH (FORMAT csv, HEADER true)"
    side clean_serial off "SELECT * FROM pgetl_load('purchases', '$data/clean_$rows.csv')"
    side clean_parallel on "SELECT * FROM pgetl_load('purchases', '$data/clean_$rows.csv')"
    side bad_serial off "SELECT * FROM pgetl_load('purchases', '$data/bad_$rows.csv')"
    side bad_parallel on "SELECT * FROM pgetl_load('purchases', '$data/bad_$rows.csv')"
done
read -r copy_s copy_kb copy_rows copy_cpu _ <<<"${best[copy]}"
report "COPY FROM (anchor)" "$copy_s" "$copy_kb" "$copy_rows" "$copy_cpu"
for k in clean_serial clean_parallel bad_serial bad_parallel; do
    read -r s kb n cpu rcpu <<<"${best[$k]}"
    case $k in
        clean_serial) name="pgetl_load, 6 rules, clean, serial" ;;
        clean_parallel) name="pgetl_load, 6 rules, clean, parallel" ;;
        bad_serial) name="pgetl_load, 6 rules, 1% bad, serial" ;;
        bad_parallel) name="pgetl_load, 6 rules, 1% bad, parallel" ;;
    esac
    report "$name" "$s" "$kb" "$n" "$cpu" "$rcpu"
done

# two COPYs of the file's halves at once, as timescaledb-parallel-copy
# does with 2 workers (two transactions: not all-or-nothing)
tail -n +2 "$data/clean_$rows.csv" > "$data/noheader.csv"
split -n l/2 "$data/noheader.csv" "$data/half_"
rm -f "$data/noheader.csv"
chmod 644 "$data"/half_*
psql -X -q -d "$db" -c "TRUNCATE purchases" -c "CHECKPOINT"
t0=$(date +%s.%N)
for h in "$data"/half_*; do
    psql -X -q -d "$db" -c "COPY purchases FROM '$h' WITH (FORMAT csv)" &
done
wait
t1=$(date +%s.%N)
n=$(psql -X -At -d "$db" -c "SELECT count(*) FROM purchases")
report "2 concurrent COPYs of halves (no atomicity)" "$(echo "$t1 - $t0" | bc -l | xargs printf '%.2f')" "-" "$n"
rm -f "$data"/half_*
if [ -z "${QUICK:-}" ]; then
small=$((rows / 10))
head -n $((small + 1)) "$data/clean_$rows.csv" > "$data/clean_small.csv"; chmod 644 "$data/clean_small.csv"
read -r s kb n cpu < <(measure "SELECT * FROM pgetl_load('purchases', '$data/clean_small.csv')" | tail -n 1)
report "pgetl_load, clean, $small rows (memory)" "$s" "$kb" "$n" "$cpu"

# row-by-row INSERT from a client, one statement per row, on a 20k slice
python3 - "$data/slice_20k.csv" > "$data/inserts_20k.sql" <<'PY'
import csv, sys
rows = csv.reader(open(sys.argv[1], encoding="utf-8"))
next(rows)
q = lambda s: "'" + s.replace("'", "''") + "'"
for r in rows:
    print("INSERT INTO purchases VALUES (%s, %s, %s, %s, %s, %s);" % (r[0], r[1], q(r[2]), r[3], r[4], q(r[5])))
PY
psql -X -q -d "$db" -c "TRUNCATE purchases" -c "CHECKPOINT"
t0=$(date +%s.%N)
psql -X -q -d "$db" -f "$data/inserts_20k.sql" >/dev/null
t1=$(date +%s.%N)
s=$(echo "($t1 - $t0) * $rows / 20000" | bc -l | xargs printf '%.2f')
report "row-by-row INSERT, 20k slice x$((rows / 20000))" "$s" "-" "20000"

# pgloader (Debian package), same file and table
if command -v pgloader >/dev/null; then
    psql -X -q -d "$db" -c "TRUNCATE purchases" -c "CHECKPOINT"
    host=${PGHOST:-localhost}
    [ "${host#/}" != "$host" ] && host="unix:$host"
    cat > "$out/purchases.load" <<LOAD
LOAD CSV FROM '$data/clean_$rows.csv' (id, customer_id, product, price, quantity, ts)
     INTO postgresql://${PGUSER:-postgres}${PGPASSWORD:+:$PGPASSWORD}@$host:${PGPORT:-5432}/$db?purchases
     WITH skip header = 1, fields terminated by ',', fields optionally enclosed by '"',
          fields escaped by double-quote
      SET work_mem to '64MB';
LOAD
    t0=$(date +%s.%N)
    if pgloader --quiet "$out/purchases.load" > "$out/pgloader.log" 2>&1; then
        t1=$(date +%s.%N)
        n=$(psql -X -At -d "$db" -c "SELECT count(*) FROM purchases")
        report "pgloader" "$(echo "$t1 - $t0" | bc -l | xargs printf '%.2f')" "-" "$n"
    else
        report "pgloader (failed, see test/bench/out/pgloader.log)" "-" "-" "0"
    fi
fi
fi

{
    echo "machine: $context"
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    for k in copy clean_serial clean_parallel bad_serial bad_parallel; do
        echo "rounds ($k): ${all[$k]}"
    done
    printf '%-44s %10s %8s %14s %10s %10s %10s %10s\n' "method" "seconds" "x COPY" "peak mem (MB)" "rows" \
        "backend CPU s" "x COPY" "reader CPU s"
    for r in "${results[@]}"; do
        IFS='|' read -r name s kb n cpu rcpu <<<"$r"
        ratio=-; mb=-; cratio=-
        [ "$s" != "-" ] && ratio=$(echo "$s / $copy_s" | bc -l | xargs printf '%.2f')
        [ "$kb" != "-" ] && mb=$(echo "$kb / 1024" | bc -l | xargs printf '%.0f')
        [ "$cpu" != "-" ] && cratio=$(echo "$cpu / $copy_cpu" | bc -l | xargs printf '%.2f')
        printf '%-44s %10s %8s %14s %10s %10s %10s %10s\n' "$name" "$s" "$ratio" "$mb" "$n" "$cpu" "$cratio" "$rcpu"
    done
} | tee "$out/load_bench.txt"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db"
