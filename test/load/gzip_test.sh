#!/usr/bin/env bash
# gzip-compressed sources load as their uncompressed CSV: the Superstore
# export, plain and gzipped (as a server file named .csv.gz, one named .csv,
# a file of two gzip members, and staged data), gives the same counts and
# the same rejects (line, column, rule, value) and loads the same rows.  A
# truncated or corrupt gzip file fails the load with 22P04 and loads nothing.
set -euo pipefail
db=load_gzip_test
shared=${PGETL_SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
csv=$shared/data/superstore.csv
[ -r "$csv" ] || { echo "FAIL: $csv is missing"; exit 1; }
dir=$(mktemp -d /tmp/pgetl_load_gzip.XXXXXX)
trap 'rm -rf "$dir"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
chmod 755 "$dir"
cp "$csv" "$dir/plain.csv"
gzip -9 -c "$csv" > "$dir/orders.csv.gz"
gzip -1 -c "$csv" > "$dir/looks_plain.csv"
# two members: the first 4000 lines, then the rest (as `cat a.gz b.gz`)
head -n 4000 "$csv" | gzip -c > "$dir/members.csv.gz"
tail -n +4001 "$csv" | gzip -c >> "$dir/members.csv.gz"
size=$(stat -c %s "$dir/orders.csv.gz")
head -c $((size / 2)) "$dir/orders.csv.gz" > "$dir/truncated.csv.gz"
# corrupt: a wrong CRC in the trailer (all the data inflates, the check
# at its end fails), an unknown compression method in the header.  (Bytes
# damaged in the middle inflate to garbage first, which COPY may refuse
# before zlib does: the load fails either way.)
cp "$dir/orders.csv.gz" "$dir/bad_crc.csv.gz"
printf '\xde\xad\xbe\xef' | dd of="$dir/bad_crc.csv.gz" bs=1 seek=$((size - 8)) conv=notrunc status=none
cp "$dir/orders.csv.gz" "$dir/bad_method.csv.gz"
printf '\x07' | dd of="$dir/bad_method.csv.gz" bs=1 seek=2 conv=notrunc status=none
chmod 644 "$dir"/*

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
q -c "CREATE EXTENSION pgetl" -c "
CREATE TABLE orders (
    row_id integer PRIMARY KEY, order_id text, order_date date, quantity integer,
    discount numeric(4,2), postal_code text, product_id text,
    UNIQUE (order_id, product_id))" -c "
SELECT pgetl_define_load('orders', 'orders', '[
  {\"name\": \"Row ID\", \"target\": \"row_id\", \"required\": true},
  {\"name\": \"Order ID\", \"target\": \"order_id\", \"pattern\": \"^US-\"},
  {\"name\": \"Order Date\", \"target\": \"order_date\", \"type\": \"date\", \"format\": \"DD/MM/YY\"},
  {\"name\": \"Quantity\", \"target\": \"quantity\", \"max\": 10},
  {\"name\": \"Discount\", \"target\": \"discount\", \"max\": 0.5},
  {\"name\": \"Postal Code\", \"target\": \"postal_code\", \"required\": true},
  {\"name\": \"Product ID\", \"target\": \"product_id\"}
]', '{\"unlisted_columns\": \"ignore\"}')" >/dev/null

# counts, rejects and loaded rows of one load of SOURCE (replace mode is
# not used: the table is emptied first)
result() {
    q -c "TRUNCATE orders" >/dev/null
    q -c "SELECT rows_read || ' read, ' || rows_loaded || ' loaded, ' || rows_rejected || ' rejected'
            FROM pgetl_load('orders', '$1')"
    q -c "SELECT line_number, column_name, rule, value FROM pgetl.reject
           WHERE load_id = (SELECT max(load_id) FROM pgetl.load_history) ORDER BY reject_id" | md5sum
    q -c "SELECT md5(string_agg(o::text, ';' ORDER BY row_id)) FROM orders o"
}
plain=$(result "$dir/plain.csv")
echo "plain: $(head -n 1 <<<"$plain")"
rejects=$(q -c "SELECT count(*) FROM pgetl.reject WHERE load_id = (SELECT max(load_id) FROM pgetl.load_history)")
[ "$rejects" -gt 10 ] || { echo "FAIL: the plain file should have rejects, has $rejects"; exit 1; }
case "$plain" in "10194 read, "*) ;; *) echo "FAIL: plain load: $plain"; exit 1 ;; esac

for f in orders.csv.gz looks_plain.csv members.csv.gz; do
    got=$(result "$dir/$f")
    [ "$got" = "$plain" ] || { echo "FAIL: $f gives"; echo "$got"; echo "instead of"; echo "$plain"; exit 1; }
    echo "ok: $f loads as the plain file ($rejects rejects, same lines and rules)"
done

q -c "SELECT pgetl_stage('orders_gz', pg_read_binary_file('$dir/orders.csv.gz'))" >/dev/null
got=$(result orders_gz)
[ "$got" = "$plain" ] || { echo "FAIL: staged gzip gives"; echo "$got"; exit 1; }
echo "ok: staged gzip data loads as the plain file"
# staged in 1000-byte chunks: the magic bytes and the stream span chunks
q -c "SELECT pgetl_drop_stage('orders_gz')" \
  -c "SELECT count(pgetl_stage('orders_gz', substring(d FROM o FOR 1000)))
        FROM (SELECT pg_read_binary_file('$dir/orders.csv.gz') d) x,
             generate_series(1, $size, 1000) o" >/dev/null
got=$(result orders_gz)
[ "$got" = "$plain" ] || { echo "FAIL: gzip staged in chunks gives"; echo "$got"; exit 1; }
echo "ok: gzip staged in 1000-byte chunks loads as the plain file"

# pgetl_infer_load samples the inflated content: the same proposal as for
# the plain file
spec_of() { q -c "SELECT (r->'columns')::text || (r->'options')::text FROM pgetl_infer_load('$1') r"; }
[ -n "$(spec_of "$dir/plain.csv")" ] && [ "$(spec_of "$dir/plain.csv")" = "$(spec_of "$dir/orders.csv.gz")" ] \
    || { echo "FAIL: pgetl_infer_load proposes another spec for the gzipped file"; exit 1; }
echo "ok: pgetl_infer_load proposes the same spec for the gzipped file"

for f in truncated.csv.gz bad_crc.csv.gz bad_method.csv.gz; do
    q -c "TRUNCATE orders" >/dev/null
    state=$(psql -X -At -d "$db" -c "DO \$\$ BEGIN PERFORM pgetl_load('orders', '$dir/$f');
        RAISE NOTICE 'ok'; EXCEPTION WHEN OTHERS THEN RAISE NOTICE '% %', SQLSTATE, SQLERRM; END \$\$" 2>&1 |
        sed -n 's/^NOTICE:  //p')
    case "$state" in
        "22P04 could not decompress gzip source"*) echo "ok: $f fails: $state" ;;
        *) echo "FAIL: $f gave '$state', expected 22P04"; exit 1 ;;
    esac
    [ "$(q -c "SELECT count(*) FROM orders")" = 0 ] || { echo "FAIL: $f loaded rows"; exit 1; }
done
