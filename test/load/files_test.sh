#!/usr/bin/env bash
# Server files the loader must refuse without hanging: a FIFO (no writer),
# a symlink to a FIFO, an unreadable file, a device; and a symlink to a
# regular file, which is resolved and loaded.
set -euo pipefail
db=load_files_test
dir=$(mktemp -d /tmp/pgetl_load_files.XXXXXX)
trap 'rm -rf "$dir"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
chmod 755 "$dir"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
q -c "CREATE EXTENSION pgetl" \
  -c "CREATE TABLE t (id integer, name text)" \
  -c "INSERT INTO t VALUES (0, 'before')" \
  -c "SELECT pgetl_define_load('t', 't', '[{\"name\": \"id\"}, {\"name\": \"name\"}]')" >/dev/null

# sqlstate of loading a path (or "ok"), within 20 seconds
load_state() {
    timeout 20 psql -X -At -d "$db" -c "DO \$\$ BEGIN PERFORM pgetl_load('t', '$1');
        RAISE NOTICE 'ok'; EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%', SQLSTATE; END \$\$" 2>&1 |
        sed -n 's/^NOTICE:  //p'
}
expect() {
    local got
    got=$(load_state "$1")
    if [ "$got" != "$2" ]; then
        echo "FAIL: loading $1 gave '${got:-timeout or nothing}', expected $2"
        exit 1
    fi
    echo "ok: $1 -> $2"
}

mkfifo "$dir/fifo.csv"
chmod 666 "$dir/fifo.csv"
expect "$dir/fifo.csv" 42809
ln -s "$dir/fifo.csv" "$dir/link_to_fifo.csv"
expect "$dir/link_to_fifo.csv" 42809
expect /dev/null 42809

printf 'id,name\n1,a\n' > "$dir/secret.csv"
chmod 000 "$dir/secret.csv"
expect "$dir/secret.csv" 42501

printf 'id,name\n1,a\n2,b\n' > "$dir/real.csv"
chmod 644 "$dir/real.csv"
ln -s "$dir/real.csv" "$dir/link.csv"
expect "$dir/link.csv" ok

# the failed loads changed nothing; the good one added its two rows
rows=$(q -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM t")
[ "$rows" = "0,1,2" ] || { echo "FAIL: target holds $rows"; exit 1; }
echo "ok: target holds $rows"
