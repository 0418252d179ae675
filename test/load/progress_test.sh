#!/usr/bin/env bash
# A running load reports progress in pg_stat_progress_copy: the target, the
# bytes read (of the total) and the records read and rejected so far; the
# same on the serial and the parallel path (one row, the loading backend's).
set -euo pipefail
db=load_progress_test
dir=$(mktemp -d /tmp/pgetl_progress.XXXXXX)
trap 'rm -rf "$dir"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
chmod 755 "$dir"
python3 "$PGETL_SRC/test/bench/gen_purchases.py" 400000 0.01 "$dir/p.csv"
chmod 644 "$dir/p.csv"
size=$(stat -c %s "$dir/p.csv")
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION pgetl;
CREATE TABLE p (id bigint, customer_id integer, product text, price numeric, quantity integer, ts timestamp);
SELECT pgetl_define_load('p', 'p', '[{"name": "id"}, {"name": "customer_id"}, {"name": "product", "required": true},
  {"name": "price", "min": 10}, {"name": "quantity", "max": 100}, {"name": "ts"}]');
SQL
# serial and parallel (a background reader parses while this backend
# inserts): the same progress, in one row, the loading backend's
for mode in off on; do
export PGOPTIONS="-c pgetl.load_parallel=$mode"
psql -X -q -At -d "$db" -c "SELECT rows_read, rows_rejected FROM pgetl_load('p', '$dir/p.csv')" > "$dir/result" 2>&1 &
loader=$!
seen=""
for _ in $(seq 1 400); do
    row=$(psql -X -At -d "$db" -c "SELECT relid::regclass, bytes_processed, bytes_total, tuples_processed, tuples_excluded,
                (SELECT count(*) FROM pg_stat_progress_copy c WHERE c.datname = current_database())
            FROM pg_stat_progress_copy WHERE datname = current_database() AND tuples_processed > 0")
    if [ -n "$row" ]; then seen=$row; break; fi
    sleep 0.02
done
wait $loader || { echo "FAIL: the load failed"; cat "$dir/result"; exit 1; }
[ -n "$seen" ] || { echo "FAIL: no progress row seen while loading (load result: $(cat "$dir/result"))"; exit 1; }
IFS='|' read -r rel bytes total tuples excluded rows <<<"$seen"
echo "progress seen ($mode): relid=$rel bytes=$bytes/$total tuples=$tuples excluded=$excluded rows=$rows"
[ "$rel" = "p" ] || { echo "FAIL: relid $rel"; exit 1; }
[ "$total" = "$size" ] || { echo "FAIL: bytes_total $total, file has $size"; exit 1; }
[ "$bytes" -gt 0 ] && [ "$bytes" -le "$total" ] || { echo "FAIL: bytes_processed $bytes"; exit 1; }
[ $((tuples % 1000)) -eq 0 ] || { echo "FAIL: tuples_processed $tuples is not a whole number of batches"; exit 1; }
[ "$rows" = 1 ] || { echo "FAIL: $rows rows in pg_stat_progress_copy for one load"; exit 1; }
IFS='|' read -r read rejected < "$dir/result"
[ "$read" = 400000 ] && [ "$rejected" -gt 0 ] || { echo "FAIL: result $read/$rejected"; exit 1; }
echo "ok: final read=$read rejected=$rejected ($mode)"
done
