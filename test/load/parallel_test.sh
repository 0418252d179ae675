#!/usr/bin/env bash
# The parallel path of pgetl_load (a background reader parses and checks
# while the backend inserts; src/load_parallel.c) gives what the serial
# path gives:
#   - the same target rows and the same rejects (line, record, column, rule,
#     value, message, SQLSTATE, in the same order) and counts, on generated
#     data with 1% bad rows (rule, type, CHECK and primary key rejects) and
#     on the Superstore export (patterns, formats, a check, a UNIQUE);
#   - the same error, context included, for a load that rejects too much
#     and for a malformed file (raised in the reader), and leaves nothing;
#   - a running parallel load shows one row in pg_stat_progress_copy (the
#     loading backend's); cancelled (pg_cancel_backend), it fails with
#     57014, leaves nothing and no reader behind;
#   - with no background worker slot (max_worker_processes reached, in a
#     cluster of its own) the load goes serial and succeeds;
#   - auto: a small file, staged data, a spec with a "unique" rule or in
#     replace mode go serial.
#   - features of main the reader does not carry go serial, with DEBUG1
#     saying why: references, severity warn (a rule's, a check's), a replay
#     of rejects; a load with commit_every gives the serial load's rows and
#     rejects even with pgetl.load_parallel = on for its worker;
#   - whole-load expectations are checked after a parallel load: met, the
#     same rows as serial; unmet, the same error (23514) and nothing left.
# Each load says which path it took at DEBUG1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# psql in the test database with pgetl.load_parallel = $1 and DEBUG1 shown
pq() {
    local mode=$1
    shift
    PGOPTIONS="${PGOPTIONS:-} -c pgetl.load_parallel=$mode -c client_min_messages=debug1" \
        psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 "$@"
}

# --- no worker slot: run inside a cluster of its own --------------------------
if [ "${1:-}" = no_slot ]; then
    db=load_parallel_noslot
    dir=$2
    psql -X -q -d postgres -c "CREATE DATABASE $db"
    psql -X -q -d "$db" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION pgetl;
CREATE TABLE purchases (id bigint PRIMARY KEY, customer_id integer, product text,
    price numeric(10,2), quantity integer, ts timestamp);
SELECT pgetl_define_load('purchases', 'purchases', '[{"name": "id"}, {"name": "customer_id"},
  {"name": "product"}, {"name": "price"}, {"name": "quantity"}, {"name": "ts"}]');
SQL
    # the three slots are held by pg_cron's, pgetl's and logical replication's launchers
    out=$(pq on -c "SELECT rows_read, rows_loaded FROM pgetl_load('purchases', '$dir/clean.csv')" 2>&1) \
        || fail "the load failed without a worker slot: $out"
    grep -q 'serial (no background worker slot' <<<"$out" || fail "not serial for want of a slot: $out"
    grep -q '^20000|20000$' <<<"$out" || fail "wrong result without a slot: $out"
    exit 0
fi

db=load_parallel_test
dir=$(mktemp -d /tmp/pgetl_parallel.XXXXXX)
trap 'rm -rf "$dir"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
chmod 755 "$dir"
python3 "$src/test/bench/gen_purchases.py" 200000 0.01 "$dir/bad.csv"
python3 "$src/test/bench/gen_purchases.py" 600000 0 "$dir/big.csv" 7
python3 "$src/test/bench/gen_purchases.py" 20000 0 "$dir/clean.csv"
# a quoted field that never ends, after 50,000 good records: COPY's error
{ sed -n '1,50001p' "$dir/bad.csv"; printf '999999999,1,"never closed,12.00,1,2024-01-01 00:00:00\n'; \
  sed -n '50002,51001p' "$dir/bad.csv"; } > "$dir/broken.csv"
superstore=${PGETL_SHARED:-$src/../shared}/data/superstore.csv
[ -r "$superstore" ] || fail "no $superstore"
chmod 644 "$dir"/*.csv

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION pgetl;
CREATE TABLE purchases (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL,
    product text NOT NULL,
    price numeric(10,2) NOT NULL CHECK (price > 0),
    quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 98),
    ts timestamp NOT NULL);
SELECT pgetl_define_load('purchases', 'purchases', '[
  {"name": "id", "required": true},
  {"name": "customer_id", "min": 1},
  {"name": "product", "required": true, "max_length": 100},
  {"name": "price", "min": 10, "max_decimals": 2},
  {"name": "quantity", "min": 1, "max": 100},
  {"name": "ts"}]', '{"checks": [{"name": "cheap_bulk", "expression": "price * quantity < 190000"}]}');
SELECT pgetl_define_load('strict', 'purchases', '[
  {"name": "id"}, {"name": "customer_id", "min": 1}, {"name": "product"},
  {"name": "price", "min": 10}, {"name": "quantity"}, {"name": "ts"}]', '{"max_rejects": 50}');
SELECT pgetl_define_load('uniq', 'purchases', '[
  {"name": "id", "unique": true}, {"name": "customer_id"}, {"name": "product"},
  {"name": "price"}, {"name": "quantity"}, {"name": "ts"}]');
-- for the cancel: no reject at all (a rolled-back subtransaction, how a
-- refused row is isolated, hides the progress row until the batch ends)
CREATE TABLE plain (id bigint PRIMARY KEY, customer_id integer, product text,
    price numeric(10,2), quantity integer, ts timestamp);
SELECT pgetl_define_load('plain', 'plain', '[
  {"name": "id", "required": true}, {"name": "customer_id", "min": 1}, {"name": "product"},
  {"name": "price", "min": 10}, {"name": "quantity", "max": 100}, {"name": "ts"}]');
CREATE TABLE customers (id integer PRIMARY KEY);
INSERT INTO customers SELECT g FROM generate_series(1, 40000) g;
SELECT pgetl_define_load('refs', 'purchases', '[
  {"name": "id"}, {"name": "customer_id", "references": {"table": "customers", "column": "id"}},
  {"name": "product"}, {"name": "price"}, {"name": "quantity"}, {"name": "ts"}]');
SELECT pgetl_define_load('warned', 'purchases', '[
  {"name": "id"}, {"name": "customer_id"}, {"name": "product"},
  {"name": "price"}, {"name": "quantity", "max": 50, "severity": "warn"}, {"name": "ts"}]');
SELECT pgetl_define_load('warncheck', 'purchases', '[
  {"name": "id"}, {"name": "customer_id"}, {"name": "product"},
  {"name": "price"}, {"name": "quantity"}, {"name": "ts"}]',
  '{"checks": [{"name": "small", "expression": "quantity < 50", "severity": "warn"}]}');
SELECT pgetl_define_load('exp_ok', 'purchases', '[
  {"name": "id", "required": true}, {"name": "customer_id", "min": 1}, {"name": "product"},
  {"name": "price", "min": 10}, {"name": "quantity", "max": 100}, {"name": "ts"}]',
  '{"expect": {"min_rows": 1000, "unique": ["id"], "not_null": ["product", "ts"],
                "max_reject_ratio": 0.05, "sql": ["SELECT count(*) > 0 FROM public.purchases"]}}');
SELECT pgetl_define_load('exp_fail', 'purchases', '[
  {"name": "id"}, {"name": "customer_id"}, {"name": "product"},
  {"name": "price"}, {"name": "quantity"}, {"name": "ts"}]', '{"expect": {"max_rows": 100}}');
SELECT pgetl_define_load('stretchy', 'purchases', '[
  {"name": "id", "required": true}, {"name": "customer_id", "min": 1}, {"name": "product", "required": true},
  {"name": "price", "min": 10, "max_decimals": 2}, {"name": "quantity", "min": 1, "max": 100},
  {"name": "ts"}]', '{"commit_every": 30000}');
SELECT pgetl_define_load('repl', 'purchases', '[
  {"name": "id"}, {"name": "customer_id"}, {"name": "product"},
  {"name": "price"}, {"name": "quantity"}, {"name": "ts"}]', '{"mode": "replace"}');

CREATE TABLE superstore_orders (
    row_id integer PRIMARY KEY, order_id text NOT NULL, order_date date NOT NULL,
    ship_date date NOT NULL, ship_mode text NOT NULL, customer_id text NOT NULL,
    customer_name text NOT NULL, segment text NOT NULL, country text NOT NULL,
    city text NOT NULL, state text NOT NULL, postal_code text, region text NOT NULL,
    product_id text NOT NULL, category text NOT NULL, sub_category text NOT NULL,
    product_name text NOT NULL, sales numeric(12,4) NOT NULL, quantity integer NOT NULL,
    discount numeric(4,2) NOT NULL, profit numeric(12,4) NOT NULL,
    UNIQUE (order_id, product_id));
SELECT pgetl_define_load('superstore', 'superstore_orders', '[
  {"name": "Row ID", "target": "row_id", "required": true, "min": 1},
  {"name": "Order ID", "target": "order_id", "required": true, "pattern": "^(US|CA)-[0-9]{4}-[0-9]{6}$"},
  {"name": "Order Date", "target": "order_date", "required": true, "type": "date", "format": "DD/MM/YY"},
  {"name": "Ship Date", "target": "ship_date", "required": true, "type": "date", "format": "DD/MM/YY"},
  {"name": "Ship Mode", "target": "ship_mode", "allowed": ["Standard Class", "Second Class", "First Class", "Same Day"]},
  {"name": "Customer ID", "target": "customer_id", "pattern": "^[A-Z]{2}-[0-9]{5}$"},
  {"name": "Customer Name", "target": "customer_name", "required": true, "max_length": 60},
  {"name": "Segment", "target": "segment", "allowed": ["Consumer", "Corporate", "Home Office"]},
  {"name": "Country/Region", "target": "country", "allowed": ["United States", "Canada"]},
  {"name": "City", "target": "city", "required": true},
  {"name": "State/Province", "target": "state", "required": true},
  {"name": "Postal Code", "target": "postal_code", "pattern": "^([0-9]{5}|[A-Z][0-9][A-Z]( ?[0-9][A-Z][0-9])?)$"},
  {"name": "Region", "target": "region", "allowed": ["Central", "East", "South", "West"]},
  {"name": "Product ID", "target": "product_id", "pattern": "^(FUR|OFF|TEC)-[A-Z]{2}-[0-9]{8}$"},
  {"name": "Category", "target": "category", "allowed": ["Furniture", "Office Supplies", "Technology"]},
  {"name": "Sub-Category", "target": "sub_category", "required": true},
  {"name": "Product Name", "target": "product_name", "required": true, "max_length": 200},
  {"name": "Sales", "target": "sales", "min": 0, "max_decimals": 4},
  {"name": "Quantity", "target": "quantity", "min": 1, "max": 13},
  {"name": "Discount", "target": "discount", "min": 0, "max": 0.7},
  {"name": "Profit", "target": "profit"}
]', '{"checks": [{"name": "ships_after_order", "expression": "ship_date >= order_date"},
                {"name": "not_too_dear", "expression": "sales < 5000"}]}');
SQL

# load MODE SPEC FILE TABLE OUT: load into an empty TABLE, write the counts,
# the table's rows and the load's rejects to OUT; the DEBUG1 lines to OUT.path
load() {
    local mode=$1 spec=$2 file=$3 table=$4 out=$5 res
    pq off -c "TRUNCATE $table" >/dev/null
    res=$(pq "$mode" -c "SELECT load_id, rows_read, rows_loaded, rows_rejected,
                                rows_skipped_by_trigger, rows_skipped_on_conflict
                           FROM pgetl_load('$spec', '$file')" 2> "$out.path") \
        || fail "$mode load of $file failed: $(cat "$out.path")"
    local id=${res%%|*}
    {
        echo "counts ${res#*|}"
        pq off -c "SELECT t::text FROM $table t ORDER BY t::text"
        pq off -c "SELECT concat_ws(' | ', line_number, record, column_name, rule, value, message, sqlstate, severity)
                     FROM pgetl.reject WHERE load_id = $id ORDER BY reject_id"
    } > "$out"
}

# same SPEC FILE TABLE WHAT: serial and parallel give the same
same() {
    local spec=$1 file=$2 table=$3 what=$4
    load off "$spec" "$file" "$table" "$dir/serial"
    load on "$spec" "$file" "$table" "$dir/parallel"
    grep -q 'serial (pgetl.load_parallel is off)' "$dir/serial.path" || fail "$what: off was not serial"
    grep -q 'parallel (reader PID' "$dir/parallel.path" || fail "$what: on was not parallel: $(cat "$dir/parallel.path")"
    if ! cmp -s "$dir/serial" "$dir/parallel"; then
        diff "$dir/serial" "$dir/parallel" | head -n 20 || true
        fail "$what: the parallel load differs from the serial one"
    fi
    echo "$what: $(head -n 1 "$dir/serial"), $(grep -c ' | ' "$dir/serial" || true) reject lines"
}

same purchases "$dir/bad.csv" purchases "generated, 1% bad"
# the comparison means something: every kind of reject is there
for rule in type min max max_decimals field_count required check check_constraint unique_constraint; do
    grep -q " | $rule | " "$dir/serial" || fail "generated: no reject by $rule"
done
# rejects are errors, not warnings (no rule of this spec has severity warn)
grep ' | ' "$dir/parallel" | grep -qv ' | error$' && fail "generated: a parallel reject is not of severity error"

ok "generated data with 1% bad rows: same rows, rejects (rules, types, checks, CHECK, primary key) and counts"
same superstore "$superstore" superstore_orders "Superstore"
for rule in pattern max check unique_constraint; do
    grep -q " | $rule | " "$dir/serial" || fail "Superstore: no reject by $rule"
done
ok "Superstore export: same rows, rejects and counts"

# err MODE SPEC FILE: the error of a failing load (with its context)
err() {
    local out
    out=$(pq "$1" -v VERBOSITY=default -c "SELECT * FROM pgetl_load('$2', '$3')" 2>&1) \
        && fail "the $1 load of $3 with $2 succeeded"
    echo "$out" | grep -v '^DEBUG:'
}
nothing_left() {
    local n
    n=$(pq off -c "SELECT (SELECT count(*) FROM purchases) + (SELECT count(*) FROM pgetl.load_record WHERE load_name = '$1')
                          + (SELECT count(*) FROM pgetl.reject_record WHERE load_name = '$1')")
    [ "$n" = 0 ] || fail "$2 left $n rows behind"
}
pq off -c "TRUNCATE purchases" >/dev/null
e_serial=$(err off strict "$dir/bad.csv")
e_parallel=$(err on strict "$dir/bad.csv")
grep -q 'rejected more than max_rejects (50)' <<<"$e_parallel" || fail "max_rejects: $e_parallel"
[ "$e_serial" = "$e_parallel" ] || fail "max_rejects: errors differ:
serial:   $e_serial
parallel: $e_parallel"
nothing_left strict "a load over max_rejects"
ok "too many rejects: the same error (context included) both ways, nothing left"

e_serial=$(err off purchases "$dir/broken.csv")
e_parallel=$(err on purchases "$dir/broken.csv")
grep -q 'unterminated CSV quoted field' <<<"$e_parallel" || fail "broken file: $e_parallel"
grep -q 'line 50002 of' <<<"$e_parallel" || fail "broken file: no line in the context: $e_parallel"
[ "$e_serial" = "$e_parallel" ] || fail "broken file: errors differ:
serial:   $e_serial
parallel: $e_parallel"
[ "$(pq off -c "SELECT (SELECT count(*) FROM purchases)
                      + (SELECT count(*) FROM pgetl.load_record WHERE source = '$dir/broken.csv')
                      + (SELECT count(*) FROM pgetl.reject_record WHERE source = '$dir/broken.csv')")" = 0 ] \
    || fail "a malformed file left rows behind"
ok "malformed file: the reader's error is the serial path's (context included), nothing left"

# cancel a parallel load while it runs
PGAPPNAME=parallel_cancel pq on -v VERBOSITY=verbose \
    -c "SELECT * FROM pgetl_load('plain', '$dir/big.csv')" > "$dir/cancel.out" 2>&1 &
loader=$!
seen=""
for _ in $(seq 1 300); do
    seen=$(pq off -c "SELECT p.pid FROM pg_stat_progress_copy p JOIN pg_stat_activity a USING (pid)
                       WHERE a.application_name = 'parallel_cancel' AND p.tuples_processed > 0")
    [ -n "$seen" ] && break
    sleep 0.02
done
[ -n "$seen" ] || fail "the parallel load was never seen running: $(cat "$dir/cancel.out")"
# the progress is the loading backend's alone (the reader shows none)
progress=$(pq off -c "SELECT count(*) FROM pg_stat_progress_copy WHERE datname = current_database()")
[ "$progress" = 1 ] || fail "$progress rows in pg_stat_progress_copy for one parallel load"
readers=$(pq off -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgetl load reader'")
[ "$readers" -ge 1 ] || fail "no reader while the parallel load runs"
pq off -c "SELECT pg_cancel_backend($seen)" >/dev/null
if wait $loader; then fail "the cancelled load succeeded: $(cat "$dir/cancel.out")"; fi
grep -q '57014' "$dir/cancel.out" || fail "cancel: $(cat "$dir/cancel.out")"
grep -q 'parallel (reader PID' "$dir/cancel.out" || fail "the cancelled load was not parallel"
[ "$(pq off -c "SELECT (SELECT count(*) FROM plain) + (SELECT count(*) FROM pgetl.load_record WHERE load_name = 'plain')")" = 0 ] \
    || fail "a cancelled load left rows"
for _ in $(seq 1 50); do
    readers=$(pq off -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgetl load reader'")
    [ "$readers" = 0 ] && break
    sleep 0.1
done
[ "$readers" = 0 ] || fail "a reader is left after the cancel"
ok "pg_cancel_backend stops a parallel load: 57014, nothing left, no reader left"

# auto: which loads go parallel
path_of() {  # MODE SPEC SOURCE
    pq "$1" -c "SELECT rows_read FROM pgetl_load('$2', '$3')" 2>&1 >/dev/null | grep -o '": [a-z]* (.*' || true
}
pq off -c "TRUNCATE purchases" >/dev/null
p=$(path_of auto purchases "$dir/clean.csv")
[[ "$p" == *"serial (the source is smaller than pgetl.load_parallel_min_size)"* ]] || fail "auto, small file: $p"
pq off -c "TRUNCATE purchases" >/dev/null
p=$(PGOPTIONS="-c pgetl.load_parallel_min_size=1MB" path_of auto purchases "$dir/clean.csv")
[[ "$p" == *"parallel (reader"* ]] || fail "auto, file over the size: $p"
pq off -c "TRUNCATE purchases" >/dev/null
p=$(path_of on uniq "$dir/clean.csv")
[[ "$p" == *"serial (a column has the unique rule)"* ]] || fail "unique rule: $p"
p=$(path_of on repl "$dir/clean.csv")
[[ "$p" == *"serial (the load is in replace mode)"* ]] || fail "replace: $p"
pq off -c "TRUNCATE purchases" >/dev/null
pq off -c "SELECT pgetl_stage('small', pg_read_binary_file('$dir/clean.csv'))" >/dev/null
p=$(path_of on purchases small)
[[ "$p" == *"serial (the source is staged data)"* ]] || fail "staged: $p"
ok "auto takes the parallel path for a file over pgetl.load_parallel_min_size only; unique, replace and staged loads are serial"

# features the reader does not carry: serial, with the reason
pq off -c "TRUNCATE purchases" >/dev/null
p=$(path_of on refs "$dir/clean.csv")
[[ "$p" == *"serial (a column has the references rule)"* ]] || fail "references: $p"
pq off -c "TRUNCATE purchases" >/dev/null
p=$(path_of on warned "$dir/clean.csv")
[[ "$p" == *"serial (a rule has severity warn)"* ]] || fail "severity warn: $p"
pq off -c "TRUNCATE purchases" >/dev/null
p=$(path_of on warncheck "$dir/clean.csv")
[[ "$p" == *"serial (a check has severity warn)"* ]] || fail "check with severity warn: $p"
pq off -c "TRUNCATE purchases" >/dev/null
id=$(pq on -c "SELECT load_id FROM pgetl_load('purchases', '$dir/bad.csv')" 2> "$dir/replay.path")
grep -q 'parallel (reader PID' "$dir/replay.path" || fail "the load to replay was not parallel"
p=$(pq on -c "SELECT rows_read FROM pgetl_reload_rejects($id)" 2>&1 >/dev/null | grep -o '": [a-z]* (.*' || true)
[[ "$p" == *"serial (a replay of rejects)"* ]] || fail "replay: $p"
ok "references, severity warn (rule, check) and a replay of rejects are serial, DEBUG1 says why"
# and give what the serial path gives: the warnings (reject rows with
# severity warn) and rows_warned, the references' rejects
for spec in refs warned warncheck; do
    for mode in off on; do
        load "$mode" "$spec" "$dir/bad.csv" purchases "$dir/$spec.$mode"
        pq off -c "SELECT rows_warned, (SELECT count(*) FROM pgetl.reject r WHERE r.load_id = h.load_id AND severity = 'warn')
                     FROM pgetl.load_history h WHERE load_name = '$spec' ORDER BY load_id DESC LIMIT 1" >> "$dir/$spec.$mode"
    done
    cmp -s "$dir/$spec.off" "$dir/$spec.on" || fail "$spec: pgetl.load_parallel = on differs: $(diff "$dir/$spec.off" "$dir/$spec.on" | head)"
done
[ "$(tail -n 1 "$dir/warned.on" | cut -d'|' -f1)" -gt 0 ] || fail "warned: no warning to compare"
[ "$(tail -n 1 "$dir/warncheck.on" | cut -d'|' -f1)" -gt 0 ] || fail "warncheck: no warning to compare"
grep -q ' | references | ' "$dir/refs.on" || fail "refs: no references reject to compare"
ok "references and severity warn with pgetl.load_parallel = on: the serial load's rows, rejects, warnings and rows_warned"

# commit_every: its worker reads the database's settings; the rows and
# rejects are the serial load's
pq off -c "ALTER DATABASE $db SET pgetl.load_parallel = on" >/dev/null
load on stretchy "$dir/bad.csv" purchases "$dir/stretch_on"
pq off -c "ALTER DATABASE $db SET pgetl.load_parallel = off" >/dev/null
load off stretchy "$dir/bad.csv" purchases "$dir/stretch_off"
pq off -c "ALTER DATABASE $db RESET pgetl.load_parallel" >/dev/null
grep -q 'parallel (reader PID' "$dir/stretch_on.path" && fail "a load with commit_every went parallel"
cmp -s "$dir/stretch_on" "$dir/stretch_off" || fail "commit_every with pgetl.load_parallel = on differs: $(diff "$dir/stretch_off" "$dir/stretch_on" | head)"
grep -q ' | min | ' "$dir/stretch_on" || fail "commit_every: no reject to compare"
ok "commit_every with pgetl.load_parallel = on: the serial load's rows, rejects and counts"

# expectations are checked at the end of a parallel load
same exp_ok "$dir/bad.csv" purchases "expectations met"
pq off -c "TRUNCATE purchases" >/dev/null
e_serial=$(err off exp_fail "$dir/clean.csv")
e_parallel=$(err on exp_fail "$dir/clean.csv")
grep -q 'max_rows' <<<"$e_parallel" || fail "unmet expectation: $e_parallel"
[ "$e_serial" = "$e_parallel" ] || fail "unmet expectation: errors differ:
serial:   $e_serial
parallel: $e_parallel"
[ "$(pq on -v VERBOSITY=verbose -c "SELECT * FROM pgetl_load('exp_fail', '$dir/clean.csv')" 2>&1 | grep -c 'parallel (reader PID\|23514')" = 2 ] \
    || fail "the unmet expectation was not checked after a parallel load (23514)"
nothing_left exp_fail "an unmet expectation"
ok "expectations: checked after a parallel load, met (same rows) and unmet (the same 23514 error, nothing left)"

# no worker slot: a cluster of its own where the launchers hold every slot
PGETL_CLUSTER_OPTS="max_worker_processes=3" "$src/test/setup/cluster.sh" \
    bash "$here/parallel_test.sh" no_slot "$dir" || fail "no worker slot"
ok "max_worker_processes reached: the load goes serial and succeeds"
