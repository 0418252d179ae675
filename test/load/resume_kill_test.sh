#!/usr/bin/env bash
# A load with commit_every killed with kill -9 at any moment resumes from
# its last checkpoint with no duplicate and no missing row: the backend
# doing the load (the load's background worker) is killed at several
# moments (early, in the middle, late, and during a resume), the cluster
# restarts after the crash, pgetl_load(..., resume => true) finishes the
# load, and the target equals that of a clean load of the same file in one
# transaction, row for row, with the same rejects (lines and rules).  The
# same after a cancel (statement_timeout of the caller).
set -euo pipefail
db=load_resume_kill_test
dir=$(mktemp -d /tmp/pgetl_resume_kill.XXXXXX)
trap 'rm -rf "$dir"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
chmod 755 "$dir"
rows=300000
python3 "$PGETL_SRC/test/bench/gen_purchases.py" $rows 0.01 "$dir/p.csv"
# CRLF line ends, so that offsets count two-byte breaks
sed -i 's/$/\r/' "$dir/p.csv"
chmod 644 "$dir/p.csv"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q() { psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 "$@"; }
q >/dev/null <<'SQL'
CREATE EXTENSION pgetl;
CREATE TABLE clean (id bigint, customer_id integer, product text, price numeric, quantity integer, ts timestamp);
CREATE TABLE p (LIKE clean);
SELECT pgetl_define_load('clean', 'clean', '[{"name": "id"}, {"name": "customer_id"}, {"name": "product", "required": true},
  {"name": "price", "min": 10}, {"name": "quantity", "max": 100}, {"name": "ts"}]', '{"max_rejects": 100000}');
SELECT pgetl_define_load('p', 'p', '[{"name": "id"}, {"name": "customer_id"}, {"name": "product", "required": true},
  {"name": "price", "min": 10}, {"name": "quantity", "max": 100}, {"name": "ts"}]',
  '{"max_rejects": 100000, "commit_every": 7000}');
SQL
q -c "SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('clean', '$dir/p.csv')" > "$dir/clean"
echo "clean load: $(cat "$dir/clean")"

# wait until the server accepts connections again (after a crash restart)
wait_up() {
    for _ in $(seq 1 300); do
        psql -X -q -At -d "$db" -c 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "FAIL: the server did not come back"; exit 1
}

# run the load (or a resume) in the background; once the history row shows
# at least $2 records read (committed), kill -9 the load's worker
load_and_kill() {
    local resume=$1 min_read=$2 pid=""
    psql -X -q -At -d "$db" -c "SELECT * FROM pgetl_load('p', '$dir/p.csv', resume => $resume)" \
        > "$dir/killed.out" 2>&1 &
    local loader=$!
    for _ in $(seq 1 1000); do
        pid=$(psql -X -At -d "$db" -c "SELECT a.pid FROM pg_stat_activity a
                WHERE a.backend_type = 'pgetl load' AND a.datname = current_database()
                  AND EXISTS (SELECT FROM pgetl.load_record l WHERE l.load_name = 'p'
                              AND l.finished_at IS NULL AND l.rows_read >= $min_read)" 2>/dev/null || true)
        [ -n "$pid" ] && break
        sleep 0.01
    done
    [ -n "$pid" ] || { echo "FAIL: no load worker past $min_read records"; cat "$dir/killed.out"; exit 1; }
    # a moment into the next stretch
    sleep 0.00$((RANDOM % 10))
    if ! kill -9 "$pid" 2>/dev/null; then
        # the load ended first (a fast machine): not a failure of pgetl
        wait $loader || true
        echo "the load ended before the kill after $min_read records: once more"
        return 2
    fi
    wait $loader || true
    wait_up
    local left
    left=$(q -c "SELECT rows_read || ' records committed, checkpoint at line ' || checkpoint_line
        FROM pgetl.load_record WHERE load_name = 'p' AND finished_at IS NULL")
    [ -n "$left" ] || { echo "FAIL: no interrupted load after the kill"; exit 1; }
    echo "killed worker $pid after $min_read records: $left"
}

check() {
    local what=$1
    local extra missing n rejects_p rejects_clean
    extra=$(q -c "SELECT count(*) FROM (SELECT * FROM p EXCEPT ALL SELECT * FROM clean) d")
    missing=$(q -c "SELECT count(*) FROM (SELECT * FROM clean EXCEPT ALL SELECT * FROM p) d")
    n=$(q -c "SELECT count(*) FROM p")
    rejects_p=$(q -c "SELECT count(*), md5(string_agg(line_number || rule, ',' ORDER BY line_number, rule))
        FROM pgetl.reject WHERE load_id = (SELECT max(load_id) FROM pgetl.load_history WHERE load_name = 'p')")
    rejects_clean=$(q -c "SELECT count(*), md5(string_agg(line_number || rule, ',' ORDER BY line_number, rule))
        FROM pgetl.reject WHERE load_name = 'clean'")
    echo "$what: $n rows, $extra extra, $missing missing; rejects $rejects_p (clean: $rejects_clean)"
    [ "$extra" = 0 ] && [ "$missing" = 0 ] || { echo "FAIL: $what: the target differs from the clean load"; exit 1; }
    [ "$rejects_p" = "$rejects_clean" ] || { echo "FAIL: $what: the rejects differ from the clean load's"; exit 1; }
}

for moment in 7000 100000 200000 resume; do
    for attempt in 1 2 3; do
        q -c "TRUNCATE p" >/dev/null
        if [ "$moment" = resume ]; then
            # killed once, then killed again during the resume
            load_and_kill false 30000 && load_and_kill true 150000 && break
        else
            load_and_kill false $moment && break
        fi
        [ "$attempt" -lt 3 ] || { echo "FAIL: the load always ended before the kill at $moment"; exit 1; }
    done
    result=$(q -c "SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('p', '$dir/p.csv', resume => true)")
    echo "resumed: $result"
    [ "$result" = "$(cat "$dir/clean")" ] || { echo "FAIL: resumed load counts $result, clean $(cat "$dir/clean")"; exit 1; }
    check "killed at $moment"
done
# cancelled (statement_timeout of the caller): the worker stops, the
# stretches it committed stay, and the load resumes from its checkpoint
# (a timeout short enough to land mid-load, long enough for a stretch to
# commit first: tried from the middle out, as machines differ)
cancelled=""
for ms in 300 150 600 1200 80; do
    q -c "TRUNCATE p" >/dev/null
    q -c "DELETE FROM pgetl.load_record WHERE load_name = 'p' AND finished_at IS NULL" >/dev/null
    out=$(PGOPTIONS="-c statement_timeout=$ms" psql -X -q -At -d "$db" \
            -c "SELECT * FROM pgetl_load('p', '$dir/p.csv')" 2>&1 || true)
    echo "cancelled after $ms ms: $out"
    case "$out" in *"canceling statement due to statement timeout"*) ;; *) continue;; esac
    for _ in $(seq 1 100); do
        [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgetl load'")" = 0 ] && break
        sleep 0.1
    done
    [ -n "$(q -c "SELECT rows_read FROM pgetl.load_record WHERE load_name = 'p' AND finished_at IS NULL AND rows_read > 0")" ] \
        && { cancelled=$ms; break; }
done
[ -n "$cancelled" ] || { echo "FAIL: no timeout landed mid-load with a committed stretch"; exit 1; }
for _ in $(seq 1 100); do
    [ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgetl load'")" = 0 ] && break
    sleep 0.1
done
[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgetl load'")" = 0 ] \
    || { echo "FAIL: the load worker still runs after the cancel"; exit 1; }
left=$(q -c "SELECT rows_read FROM pgetl.load_record WHERE load_name = 'p' AND finished_at IS NULL")
[ -n "$left" ] && [ "$left" -gt 0 ] || { echo "FAIL: no committed stretch before the cancel"; exit 1; }
result=$(q -c "SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('p', '$dir/p.csv', resume => true)")
[ "$result" = "$(cat "$dir/clean")" ] || { echo "FAIL: resumed load counts $result, clean $(cat "$dir/clean")"; exit 1; }
check "cancelled after $left records"
echo "ok: killed at 4 moments and cancelled once, resumed, equal to the clean load"
