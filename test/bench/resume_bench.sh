#!/usr/bin/env bash
# The cost of committing as it goes: the same 1M-row purchases CSV and spec
# as load_bench.sh, loaded by COPY (the anchor), by pgetl_load in one
# transaction, and with commit_every 100000 and 10000 (a background worker;
# each stretch commits, opens the file again and reads its stretch twice
# to find the next checkpoint).  Prints seconds, the ratio to COPY and to
# the load in one transaction, and the machine's context (cores, the cost
# of a fork+exec, as a background worker's start costs about one).
#   ROWS=1000000 test/bench/resume_bench.sh   (PGHOST/PGPORT/... set)
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${ROWS:-1000000}
data=$PWD/test/bench/data
out=$PWD/test/bench/out
mkdir -p "$data" "$out"
db=pgetl_resume_bench
[ -f "$data/clean_$rows.csv" ] || python3 test/bench/gen_purchases.py "$rows" 0 "$data/clean_$rows.csv"
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
SQL
define() {  # options
    psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT pgetl_define_load('purchases', 'purchases', '[
  {"name": "id", "required": true},
  {"name": "customer_id", "min": 1},
  {"name": "product", "required": true, "max_length": 100},
  {"name": "price", "min": 10, "max_decimals": 2},
  {"name": "quantity", "min": 1, "max": 100},
  {"name": "ts"}]', '$1');
SQL
}
# seconds and rows of one statement, after a TRUNCATE and CHECKPOINT
measure() {
    psql -X -q -At -d "$db" -c "TRUNCATE purchases" -c "CHECKPOINT" >/dev/null
    psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 <<SQL | tail -n 1
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
$1;
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 2) || ' ' || (SELECT count(*) FROM purchases);
SQL
}
read -r copy_s copy_n < <(measure "COPY purchases FROM '$data/clean_$rows.csv' WITH (FORMAT csv, HEADER true)")
define '{}'
read -r one_s one_n < <(measure "SELECT * FROM pgetl_load('purchases', '$data/clean_$rows.csv')")
define '{"commit_every": 100000}'
read -r c100k_s c100k_n < <(measure "SELECT * FROM pgetl_load('purchases', '$data/clean_$rows.csv')")
define '{"commit_every": 10000}'
read -r c10k_s c10k_n < <(measure "SELECT * FROM pgetl_load('purchases', '$data/clean_$rows.csv')")

t0=$(date +%s.%N)
for _ in $(seq 100); do /bin/true; done
t1=$(date +%s.%N)
fork_ms=$(echo "($t1 - $t0) * 10" | bc -l | xargs printf '%.2f')
{
    echo "$(date -u +%F) $(nproc) cores, fork+exec ${fork_ms} ms, $rows rows"
    printf '%-40s %8s %8s %10s %10s\n' "method" "seconds" "x COPY" "x one txn" "rows"
    line() { printf '%-40s %8s %8s %10s %10s\n' "$1" "$2" \
        "$(echo "$2 / $copy_s" | bc -l | xargs printf '%.2f')" \
        "$(echo "$2 / $one_s" | bc -l | xargs printf '%.2f')" "$3"; }
    line "COPY FROM (anchor)" "$copy_s" "$copy_n"
    line "pgetl_load, one transaction" "$one_s" "$one_n"
    line "pgetl_load, commit_every 100000" "$c100k_s" "$c100k_n"
    line "pgetl_load, commit_every 10000" "$c10k_s" "$c10k_n"
} | tee "$out/resume_bench.txt"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db"
