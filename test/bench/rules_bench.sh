#!/usr/bin/env bash
# Loader rules benchmark: what the loader v2 rules cost on the loader
# benchmark's 1M-row purchases CSV (test/bench/gen_purchases.py), side by
# side with plain COPY (the anchor) and with the same load without them:
#   - the six rules of load_bench.sh (the baseline),
#   - plus "references" on customer_id (a 50,000-row customers table with
#     a primary key): one query per batch of 1,000 records,
#   - plus min_length, not_allowed, not_pattern on product,
#   - plus severity warn on every rule (1% bad rows: they load, warned),
#   - plus expectations (min_rows, unique id, not_null, freshness-free sql)
#     checked after the rows are in.
# Prints seconds, the ratio to COPY and to the baseline, and the machine's
# context (cores, fork cost).
#   ROWS=1000000 test/bench/rules_bench.sh   (PGHOST/PGPORT/... set)
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${ROWS:-1000000}
data=$PWD/test/bench/data
out=$PWD/test/bench/out
mkdir -p "$data" "$out"
db=pgetl_rules_bench
[ -f "$data/clean_$rows.csv" ] || python3 test/bench/gen_purchases.py "$rows" 0 "$data/clean_$rows.csv"
[ -f "$data/bad_$rows.csv" ] || python3 test/bench/gen_purchases.py "$rows" 0.01 "$data/bad_$rows.csv"
chmod 644 "$data"/*.csv
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION pgetl;
CREATE TABLE customers (id integer PRIMARY KEY, name text);
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 50000) g;
CREATE TABLE purchases (
    id bigint,
    customer_id integer NOT NULL,
    product text NOT NULL,
    price numeric(10,2) NOT NULL CHECK (price > 0),
    quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    ts timestamp NOT NULL);
CREATE FUNCTION pg_temp.spec(name text, extra jsonb, options jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE sql AS $$
    SELECT pgetl_define_load(name, 'purchases',
        (SELECT jsonb_agg(c || coalesce(extra->(c->>'name'), '{}') ORDER BY o)
           FROM jsonb_array_elements('[
             {"name": "id", "required": true},
             {"name": "customer_id", "min": 1},
             {"name": "product", "required": true, "max_length": 100},
             {"name": "price", "min": 10, "max_decimals": 2},
             {"name": "quantity", "min": 1, "max": 100},
             {"name": "ts"}]') WITH ORDINALITY AS x(c, o)), options)
$$;
SELECT pg_temp.spec('six', '{}');
SELECT pg_temp.spec('refs', '{"customer_id": {"references": {"table": "public.customers", "column": "id"}}}');
SELECT pg_temp.spec('more', '{"customer_id": {"references": {"table": "public.customers", "column": "id"}},
                              "product": {"min_length": 3, "not_allowed": ["N/A", "-"], "not_pattern": "^test"}}');
SELECT pg_temp.spec('warn', '{"id": {"severity": "warn"}, "customer_id": {"severity": "warn", "references": {"table": "public.customers", "column": "id"}},
                              "product": {"severity": "warn", "min_length": 3, "not_allowed": ["N/A", "-"], "not_pattern": "^test"},
                              "price": {"severity": "warn"}, "quantity": {"severity": "warn"}}');
SELECT pg_temp.spec('expect', '{"customer_id": {"references": {"table": "public.customers", "column": "id"}}}',
                    '{"expect": {"min_rows": 1, "unique": ["id"], "not_null": ["product", "price"],
                                 "sql": ["SELECT count(*) > 0 FROM public.purchases WHERE quantity > 50"]}}');
SQL

# seconds and loaded rows of one statement, in a fresh session after a
# TRUNCATE and CHECKPOINT
measure() {
    psql -X -q -At -d "$db" -c "TRUNCATE purchases" -c "CHECKPOINT" >/dev/null
    psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 <<SQL | tail -n 1
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
$1;
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 2) || ' ' || (SELECT count(*) FROM purchases);
SQL
}

results=()
read -r copy_s copy_rows < <(measure "COPY purchases FROM '$data/clean_$rows.csv' WITH (FORMAT csv, HEADER true)")
results+=("COPY FROM (anchor), clean|$copy_s|$copy_rows")
for f in clean bad; do
    for spec in six refs more warn expect; do
        [ "$f" = bad ] && [ "$spec" = expect ] && continue   # duplicate ids: unique fails, by design
        read -r s n < <(measure "SELECT * FROM pgetl_load('$spec', '$data/${f}_$rows.csv')")
        results+=("pgetl_load $spec, $f|$s|$n")
    done
done

cores=$(nproc)
fork_ms=$(python3 -c 'import subprocess,time
t=time.time()
for _ in range(200): subprocess.run(["/bin/true"])
print("%.2f" % ((time.time()-t)*1000/200))')
{
    echo "$(date -u +%F) PostgreSQL $(psql -X -At -d "$db" -c 'SHOW server_version') rows=$rows cores=$cores fork=${fork_ms}ms"
    echo "six = the 6 rules of load_bench.sh; refs = + references (customer_id); more = refs + min_length,"
    echo "not_allowed, not_pattern (product); warn = more, every rule severity warn; expect = refs + expectations"
    printf '%-32s %10s %8s %10s %10s\n' "method" "seconds" "x COPY" "x six" "rows"
    base_clean=; base_bad=
    for r in "${results[@]}"; do
        IFS='|' read -r name s n <<<"$r"
        case "$name" in
            "pgetl_load six, clean") base_clean=$s ;;
            "pgetl_load six, bad") base_bad=$s ;;
        esac
    done
    for r in "${results[@]}"; do
        IFS='|' read -r name s n <<<"$r"
        base=$base_clean
        [ "${name%bad}" != "$name" ] && base=$base_bad
        ratio=$(echo "$s / $copy_s" | bc -l | xargs printf '%.2f')
        rel=-
        [ "${name#pgetl}" != "$name" ] && rel=$(echo "$s / $base" | bc -l | xargs printf '%.2f')
        printf '%-32s %10s %8s %10s %10s\n' "$name" "$s" "$ratio" "$rel" "$n"
    done
} | tee "$out/rules_bench.txt"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db"
