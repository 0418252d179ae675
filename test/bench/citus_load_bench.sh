#!/usr/bin/env bash
# Loader benchmark on Citus (issue 14, part 3): a 3-node cluster on this
# machine (test/citus/lib.sh: a coordinator and two workers, 8 shards), the
# purchases table of load_bench.sh distributed by id.  Times COPY through
# Citus (the anchor) and pgetl_load with six rules on clean data and on 1%
# bad rows, each the median of RUNS runs (BAD_RUNS for the 1% bad file,
# which is slow) after a TRUNCATE; then the same with a foreign key
# (customer_id references a reference table of customers 1-50,000): COPY
# of the clean file (the anchor) and pgetl_load of a file where 1% of the
# rows name a missing customer.  Prints each time with its ratio to its
# COPY and the machine's context.  Skipped (exit 77)
# when citus.so is not installed.
#   ROWS=300000 RUNS=3 test/bench/citus_load_bench.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${ROWS:-300000}
runs=${RUNS:-3}
bad_runs=${BAD_RUNS:-$runs}
. test/citus/lib.sh
citus_require
data=$PWD/test/bench/data
out=$PWD/test/bench/out
mkdir -p "$data" "$out"
[ -f "$data/clean_$rows.csv" ] || python3 test/bench/gen_purchases.py "$rows" 0 "$data/clean_$rows.csv"
[ -f "$data/bad_$rows.csv" ] || python3 test/bench/gen_purchases.py "$rows" 0.01 "$data/bad_$rows.csv"
# 1% of the rows of the clean file with a customer that does not exist
[ -f "$data/fk_$rows.csv" ] || python3 - "$data/clean_$rows.csv" "$data/fk_$rows.csv" <<'PY'
import random, sys
rng = random.Random(7)
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as g:
    g.write(f.readline())
    for line in f:
        if rng.random() < 0.01:
            first, rest = line.split(",", 1)
            line = first + "," + str(100000 + rng.randint(1, 100000)) + rest[rest.index(","):]
        g.write(line)
PY
chmod 755 "$data"; chmod 644 "$data"/*.csv
citus_start "fsync = off" "synchronous_commit = off"
c "$(cat <<'SQL'
CREATE TABLE purchases (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL,
    product text NOT NULL,
    price numeric(10,2) NOT NULL CHECK (price > 0),
    quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    ts timestamp NOT NULL);
SELECT create_distributed_table('purchases', 'id');
CREATE TABLE customers (id integer PRIMARY KEY);
SELECT create_reference_table('customers');
INSERT INTO customers SELECT generate_series(1, 50000);
CREATE TABLE purchases_fk (LIKE purchases INCLUDING ALL);
SELECT create_distributed_table('purchases_fk', 'id');
SELECT pgetl_define_load('purchases', 'purchases', '[
  {"name": "id", "required": true},
  {"name": "customer_id", "min": 1},
  {"name": "product", "required": true, "max_length": 100},
  {"name": "price", "min": 10, "max_decimals": 2},
  {"name": "quantity", "min": 1, "max": 100},
  {"name": "ts"}]');
SQL
)" >/dev/null
c "ALTER TABLE purchases_fk ADD FOREIGN KEY (customer_id) REFERENCES customers" >/dev/null
# the same columns and rules as purchases
c "SELECT pgetl_define_load('purchases_fk', 'purchases_fk', columns) FROM pgetl.load_spec WHERE name = 'purchases'" >/dev/null

# seconds of one statement after a TRUNCATE of table (purchases unless
# TABLE is set), and the rows stored
measure1() {
    local t=${TABLE:-purchases}
    c "TRUNCATE $t" >/dev/null
    psql -X -q -At -p "$COORD" -v ON_ERROR_STOP=1 <<SQL
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
$1;
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 2) || ' ' || (SELECT count(*) FROM $t);
SQL
}
# the median of N runs of a statement (and its rows): measure N SQL
measure() {
    local all=() r n=$1
    shift
    for ((i = 0; i < n; i++)); do
        r=$(measure1 "$1" | tail -n 1)
        all+=("$r")
    done
    printf '%s\n' "${all[@]}" | sort -n | sed -n "$(((n + 1) / 2))p"
}
read -r copy_s copy_n < <(measure "$runs" "COPY purchases FROM '$data/clean_$rows.csv' WITH (FORMAT csv, HEADER true)")
read -r clean_s clean_n < <(measure "$runs" "SELECT * FROM pgetl_load('purchases', '$data/clean_$rows.csv')")
read -r bad_s bad_n < <(measure "$bad_runs" "SELECT * FROM pgetl_load('purchases', '$data/bad_$rows.csv')")
read -r fkcopy_s fkcopy_n < <(TABLE=purchases_fk measure "$runs" "COPY purchases_fk FROM '$data/clean_$rows.csv' WITH (FORMAT csv, HEADER true)")
read -r fk_s fk_n < <(TABLE=purchases_fk measure "$bad_runs" "SELECT * FROM pgetl_load('purchases_fk', '$data/fk_$rows.csv')")
{
    echo "Citus $(c "SELECT extversion FROM pg_extension WHERE extname = 'citus'") on PostgreSQL $(c "SHOW server_version"), coordinator + 2 workers on one machine, 8 shards; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $rows rows, median of $runs runs ($bad_runs for 1% bad); $(date -u +%Y-%m-%d)"
    printf '%-40s %10s %8s %10s\n' "method" "seconds" "x COPY" "rows"
    printf '%-40s %10s %8s %10s\n' "COPY through Citus (anchor)" "$copy_s" "1.00" "$copy_n"
    printf '%-40s %10s %8s %10s\n' "pgetl_load, 6 rules, clean" "$clean_s" "$(echo "$clean_s / $copy_s" | bc -l | xargs printf '%.2f')" "$clean_n"
    printf '%-40s %10s %8s %10s\n' "pgetl_load, 6 rules, 1% bad" "$bad_s" "$(echo "$bad_s / $copy_s" | bc -l | xargs printf '%.2f')" "$bad_n"
    printf '%-40s %10s %8s %10s\n' "COPY, with a foreign key (anchor)" "$fkcopy_s" "1.00" "$fkcopy_n"
    printf '%-40s %10s %8s %10s\n' "pgetl_load, 1% missing customer" "$fk_s" "$(echo "$fk_s / $fkcopy_s" | bc -l | xargs printf '%.2f')" "$fk_n"
} | tee "$out/citus_load_bench.txt"
