#!/usr/bin/env bash
# A foreign table as load target: postgres_fdw to a second, throwaway local
# cluster.  Good rows arrive on the remote side; rows the remote refuses
# (its NOT NULL, its primary key) are rejected one by one with the remote
# SQLSTATE; a failed load leaves the remote table unchanged.
set -euo pipefail
bindir=/usr/lib/postgresql/${PGVER:-15}/bin
db=load_foreign_test
dir=$(mktemp -d /tmp/pgetl_fdw.XXXXXX)
port=$((20000 + RANDOM % 10000))
as_pg() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$*"; else bash -c "$*"; fi; }
cleanup() {
    as_pg "$bindir/pg_ctl -D $dir/data -m immediate stop" >/dev/null 2>&1 || true
    rm -rf "$dir"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
chmod 755 "$dir"
as_pg "$bindir/initdb -D $dir/data -A trust -U postgres" >/dev/null
as_pg "$bindir/pg_ctl -D $dir/data -l $dir/log -w -o \"-p $port -k $dir -c listen_addresses=''\" start" >/dev/null
remote() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres "$@"; }
remote -c "CREATE TABLE remote_items (id integer PRIMARY KEY, name text NOT NULL)" \
       -c "INSERT INTO remote_items VALUES (1, 'existing')"

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
q -c "CREATE EXTENSION pgetl" -c "CREATE EXTENSION postgres_fdw" \
  -c "CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '$dir', port '$port', dbname 'postgres')" \
  -c "CREATE USER MAPPING FOR CURRENT_USER SERVER remote OPTIONS (user 'postgres')" \
  -c "CREATE FOREIGN TABLE items (id integer, name text) SERVER remote OPTIONS (table_name 'remote_items')" \
  -c "SELECT pgetl_define_load('items', 'items', '[{\"name\": \"id\"}, {\"name\": \"name\"}]')" >/dev/null

result=$(q -c "SELECT pgetl_stage('items.csv', convert_to(E'id,name\n2,two\n1,duplicate\n3,\n4,four\n', 'UTF8'))" \
           -c "SELECT format('%s/%s/%s', rows_read, rows_loaded, rows_rejected) FROM pgetl_load('items', 'items.csv')" | tail -n 1)
[ "$result" = "4/2/2" ] || { echo "FAIL: read/loaded/rejected = $result, expected 4/2/2"; exit 1; }
echo "ok: read/loaded/rejected = $result"
rejects=$(q -c "SELECT string_agg(line_number || ':' || sqlstate, ' ' ORDER BY line_number) FROM pgetl.reject")
[ "$rejects" = "3:23505 4:23502" ] || { echo "FAIL: rejects $rejects"; exit 1; }
echo "ok: rejects $rejects"
rows=$(remote -c "SELECT string_agg(id || '=' || name, ' ' ORDER BY id) FROM remote_items")
[ "$rows" = "1=existing 2=two 4=four" ] || { echo "FAIL: remote holds $rows"; exit 1; }
echo "ok: remote holds $rows"

# replace mode truncates the remote table too, in the same transaction; a
# load that fails (max_rejects 0) leaves it as it was
q -c "SELECT pgetl_define_load('items', 'items', '[{\"name\": \"id\"}, {\"name\": \"name\"}]', '{\"mode\": \"replace\", \"max_rejects\": 0}')" \
  -c "SELECT pgetl_stage('bad.csv', convert_to(E'id,name\n5,five\n6,\n', 'UTF8'))" >/dev/null
if q -c "SELECT * FROM pgetl_load('items', 'bad.csv')" >/dev/null 2>&1; then
    echo "FAIL: the load with a reject past max_rejects succeeded"; exit 1
fi
rows=$(remote -c "SELECT string_agg(id || '=' || name, ' ' ORDER BY id) FROM remote_items")
[ "$rows" = "1=existing 2=two 4=four" ] || { echo "FAIL: after the failed load the remote holds $rows"; exit 1; }
echo "ok: failed load left the remote unchanged"
