#!/usr/bin/env bash
# Loader memory: the same load spec on a ~1 MB and a ~1 GB purchases CSV.
# The loading backend's private memory (RssAnon, sampled every 20 ms from
# /proc) must stay flat: the issue asks for a peak under ~100 MB above the
# 1 MB file's.  VmHWM is printed too; it also counts the shared buffers the
# backend touched, which grow with the data whatever the loader does.
#   MEM_BIG_ROWS=16000000 test/bench/memory_bench.sh   (PGHOST/PGPORT/... set)
set -euo pipefail
cd "$(dirname "$0")/../.."
small_rows=${MEM_SMALL_ROWS:-16000}
big_rows=${MEM_BIG_ROWS:-16000000}
data=$PWD/test/bench/data
mkdir -p "$data"
chmod 755 "$data"
db=pgetl_bench_memory
for n in "$small_rows" "$big_rows"; do
    [ -f "$data/clean_$n.csv" ] || python3 test/bench/gen_purchases.py "$n" 0 "$data/clean_$n.csv"
    chmod 644 "$data/clean_$n.csv"
done
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION pgetl;
CREATE UNLOGGED TABLE purchases (id bigint, customer_id integer, product text, price numeric(10,2),
                                 quantity integer, ts timestamp);
SELECT pgetl_define_load('purchases', 'purchases', '[
  {"name": "id", "required": true},
  {"name": "customer_id", "min": 1},
  {"name": "product", "required": true, "max_length": 100},
  {"name": "price", "min": 10, "max_decimals": 2},
  {"name": "quantity", "min": 1, "max": 100},
  {"name": "ts"}]');
SQL

# load FILE: prints "bytes seconds peak_rss_anon_kB vm_hwm_kB rows_loaded"
load() {
    local file=$1 fifo pid peak=0 hwm=0 v
    fifo=$(mktemp -u)
    mkfifo "$fifo"
    psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 <"$fifo" >"$fifo.out" 2>&1 &
    local psql_pid=$!
    exec 7>"$fifo"
    echo "TRUNCATE purchases; SELECT 'pid', pg_backend_pid();" >&7
    for ((i = 0; i < 100; i++)); do
        pid=$(sed -n 's/^pid|//p' "$fifo.out"); [ -n "$pid" ] && break; sleep 0.05
    done
    echo "SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset
          SELECT 'loaded', rows_loaded FROM pgetl_load('purchases', '$file');
          SELECT 'secs', round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 2);" >&7
    exec 7>&-
    while kill -0 "$psql_pid" 2>/dev/null; do
        v=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        [ -n "$v" ] && [ "$v" -gt "$peak" ] && peak=$v
        v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        [ -n "$v" ] && [ "$v" -gt "$hwm" ] && hwm=$v
        sleep 0.02
    done
    wait "$psql_pid" || { cat "$fifo.out"; exit 1; }
    echo "$(stat -c %s "$file") $(sed -n 's/^secs|//p' "$fifo.out") $peak $hwm $(sed -n 's/^loaded|//p' "$fifo.out")"
    rm -f "$fifo" "$fifo.out"
}
read -r sb ss sp sh sn < <(load "$data/clean_$small_rows.csv")
read -r bb bs bp bh bn < <(load "$data/clean_$big_rows.csv")
echo "== pgetl loader memory =="
printf '%-22s %10s %8s %16s %12s %12s\n' file bytes seconds "peak RssAnon" VmHWM rows
printf '%-22s %10s %8s %13s kB %9s kB %12s\n' "clean_$small_rows.csv" "$sb" "$ss" "$sp" "$sh" "$sn"
printf '%-22s %10s %8s %13s kB %9s kB %12s\n' "clean_$big_rows.csv" "$bb" "$bs" "$bp" "$bh" "$bn"
echo "private memory growth: $(( (bp - sp) / 1024 )) MB (limit ~100 MB)"
