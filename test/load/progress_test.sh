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
# one polling session (a new connection per poll is too slow on a loaded
# machine to be sure to catch a short load): it reads the view every 5 ms,
# with a fresh statistics snapshot each time, until the load's statement
# ends; the first row with records in it is the sighting, and a later
# poll that finds no row while the load still runs is a gap (a rolled-back
# subtransaction, how a bad row is isolated, used to end the row until
# the batch's end)
watch=$(psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 2>&1 <<'SQL'
DO $$
DECLARE
    seen text;
    now_row text;
    active boolean;
    polls int := 0;
    gaps int := 0;
    deadline timestamptz := clock_timestamp() + interval '120 seconds';
BEGIN
    LOOP
        PERFORM pg_stat_clear_snapshot();
        SELECT concat_ws('|', relid::regclass, bytes_processed, bytes_total, tuples_processed, tuples_excluded,
                         (SELECT count(*) FROM pg_stat_progress_copy c WHERE c.datname = current_database()))
          INTO now_row
          FROM pg_stat_progress_copy WHERE datname = current_database() AND tuples_processed > 0;
        SELECT count(*) > 0 INTO active FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND state = 'active' AND query LIKE '%pgetl_load(%';
        IF seen IS NULL THEN
            seen := now_row;
            EXIT WHEN seen IS NULL AND NOT active AND clock_timestamp() > deadline - interval '110 seconds';
        ELSE
            EXIT WHEN NOT active;
            polls := polls + 1;
            IF now_row IS NULL THEN
                gaps := gaps + 1;
            END IF;
        END IF;
        EXIT WHEN clock_timestamp() > deadline;
        PERFORM pg_sleep(0.005);
    END LOOP;
    RAISE NOTICE 'watch:%:%:%', coalesce(seen, ''), polls, gaps;
END
$$;
SQL
)
wait $loader || { echo "FAIL: the load failed"; cat "$dir/result"; exit 1; }
line=$(grep -o 'watch:.*' <<<"$watch") || { echo "FAIL: the watching session failed: $watch"; exit 1; }
IFS=':' read -r _ seen polls gaps <<<"$line"
[ -n "$seen" ] || { echo "FAIL: no progress row seen while loading (load result: $(cat "$dir/result"))"; exit 1; }
IFS='|' read -r rel bytes total tuples excluded rows <<<"$seen"
echo "progress seen ($mode): relid=$rel bytes=$bytes/$total tuples=$tuples excluded=$excluded rows=$rows; later polls: $polls, without the row: $gaps"
# the load's end (after COPY's, before the statement's) may take a few polls
[ $((gaps * 10)) -le $((polls + 20)) ] || { echo "FAIL: the progress row was missing from $gaps of $polls polls while the load ran"; exit 1; }
[ "$rel" = "p" ] || { echo "FAIL: relid $rel"; exit 1; }
[ "$total" = "$size" ] || { echo "FAIL: bytes_total $total, file has $size"; exit 1; }
[ "$bytes" -gt 0 ] && [ "$bytes" -le "$total" ] || { echo "FAIL: bytes_processed $bytes"; exit 1; }
[ $((tuples % 1000)) -eq 0 ] || { echo "FAIL: tuples_processed $tuples is not a whole number of batches"; exit 1; }
[ "$rows" = 1 ] || { echo "FAIL: $rows rows in pg_stat_progress_copy for one load"; exit 1; }
IFS='|' read -r read rejected < "$dir/result"
[ "$read" = 400000 ] && [ "$rejected" -gt 0 ] || { echo "FAIL: result $read/$rejected"; exit 1; }
echo "ok: final read=$read rejected=$rejected ($mode)"
done
