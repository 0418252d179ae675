#!/usr/bin/env bash
# Retention of history: pgetl_purge_history deletes old runs with their
# task runs, loads and rejects; pgetl_purge_loads deletes old loads with
# their rejects; a run deleted otherwise leaves its loads with run_id NULL
# (foreign key); and with pgetl.history_retention set low and a short
# pgetl.maintenance_naptime, the background purge deletes all of it.
source "$(dirname "$0")/lib.sh"
setup_db
dir=$(mktemp -d /tmp/pgetl-retention.XXXXXX)
chmod 755 "$dir"
printf 'id\n1\n2\nx\n' > "$dir/items.csv"
chmod 644 "$dir/items.csv"
restore() {
    psql -X -q -d postgres -c "ALTER SYSTEM RESET pgetl.history_retention" \
        -c "ALTER SYSTEM RESET pgetl.maintenance_naptime" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
    rm -rf "$dir"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" >/dev/null 2>&1 || true
}
trap restore EXIT
counts() { q "SELECT (SELECT count(*) FROM pgetl.run_record) || ' ' || (SELECT count(*) FROM pgetl.task_run_record)
                     || ' ' || (SELECT count(*) FROM pgetl.load_record) || ' ' || (SELECT count(*) FROM pgetl.reject_record)"; }

q "CREATE TABLE items (id int)"
qq "SELECT pgetl_define_load('items_csv', 'items', '[{\"name\": \"id\"}]')"
qq "SELECT pgetl_create_pipeline('nightly')"
qq "SELECT pgetl_add_task('nightly', 'load', NULL, kind => 'load', config => '{\"load\": \"items_csv\", \"source\": \"$dir/items.csv\"}')"
history() {
    qq "SELECT pgetl_run('nightly')"
    qq "SELECT * FROM pgetl_load('items_csv', '$dir/items.csv')"
}
history
[ "$(counts)" = "1 1 2 2" ] || fail "history: $(counts)"

# explicit purges: a run goes with its task runs, its loads and their rejects
[ "$(q "SELECT pgetl_purge_history('0')")" = 1 ] || fail "purge_history"
[ "$(counts)" = "0 0 1 1" ] || fail "after pgetl_purge_history: $(counts)"
[ "$(q "SELECT run_id IS NULL FROM pgetl.load_record")" = t ] || fail "the load left is not the direct one"
[ "$(q "SELECT pgetl_purge_loads('1 hour')")" = 0 ] || fail "purge_loads of recent loads"
[ "$(q "SELECT pgetl_purge_loads('0')")" = 1 ] || fail "purge_loads"
[ "$(counts)" = "0 0 0 0" ] || fail "after pgetl_purge_loads: $(counts)"
e=$(psql -X -A -t -q -v VERBOSITY=verbose -c "SELECT pgetl_purge_loads('-1 day')" 2>&1 || true)
case "$e" in *"22023: older_than must be a non-negative interval"*) ;; *) fail "negative interval: $e" ;; esac
ok "pgetl_purge_history deletes runs with their task runs, loads and rejects; pgetl_purge_loads deletes loads with their rejects"

# the foreign key: a run deleted otherwise leaves its loads, run_id NULL
history
q "DELETE FROM pgetl.run_record"
[ "$(q "SELECT count(*) || ' ' || count(run_id) FROM pgetl.load_record")" = "2 0" ] || fail "load_record.run_id after deleting runs"
q "DELETE FROM pgetl.load_record"
ok "load_record.run_id references the run (ON DELETE SET NULL)"

# bad settings are refused
e=$(psql -X -A -t -q -d postgres -c "ALTER SYSTEM SET pgetl.history_retention = 'forever'" 2>&1 || true)
case "$e" in *"invalid value for parameter \"pgetl.history_retention\""*) ;; *) fail "bad retention: $e" ;; esac

# the background purge
history
history
[ "$(counts)" = "2 2 4 4" ] || fail "history (2): $(counts)"
psql -X -q -d postgres -c "ALTER SYSTEM SET pgetl.history_retention = '1 second'" \
    -c "ALTER SYSTEM SET pgetl.maintenance_naptime = 1" -c "SELECT pg_reload_conf()" >/dev/null
wait_for "SELECT (SELECT count(*) FROM pgetl.run_record) + (SELECT count(*) FROM pgetl.task_run_record)
              + (SELECT count(*) FROM pgetl.load_record) + (SELECT count(*) FROM pgetl.reject_record) = 0" 60 \
    || fail "the background purge left: $(counts)"
ok "with pgetl.history_retention = '1 second', the background purge deleted runs, task runs, loads and rejects"
# the definitions stay
[ "$(q "SELECT (SELECT count(*) FROM pgetl.pipeline) || ' ' || (SELECT count(*) FROM pgetl.load_spec)")" = "1 1" ] \
    || fail "definitions purged"
ok "pipelines and load specs are kept"
