#!/usr/bin/env bash
# Hostile wide input: a header of 100,000 columns fails at once with the
# column limit (54011), and a load of records with a million fields each is
# cancellable: statement_timeout (57014) stops it within a short time.
set -euo pipefail
db=load_wide_input_test
dir=$(mktemp -d /tmp/pgetl_wide.XXXXXX)
trap 'rm -rf "$dir"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
chmod 755 "$dir"
python3 - "$dir" <<'PY'
import sys
d = sys.argv[1]
with open(d + '/header.csv', 'w') as f:
    f.write(','.join('c%d' % i for i in range(1, 100001)) + '\n1\n')
with open(d + '/fields.csv', 'w') as f:
    for _ in range(16):
        f.write('x,' * 999999 + 'x\n')
PY
chmod 644 "$dir"/*.csv
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION pgetl;
CREATE TABLE w (a text);
SELECT pgetl_define_load('w_header', 'w', '[{"name": "a"}]');
SELECT pgetl_define_load('w_fields', 'w', '[{"name": "a"}]', '{"header": false}');
SQL

# elapsed SQL: run SQL, print "<seconds> <sqlstate>: <message>"
elapsed() {
    psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 <<SQL
SET statement_timeout = '${2:-0}';
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS \$f\$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE q;
    RETURN round(extract(epoch FROM clock_timestamp() - t0), 2) || ' no error';
EXCEPTION WHEN OTHERS OR query_canceled THEN
    RETURN round(extract(epoch FROM clock_timestamp() - t0), 2) || ' ' || SQLSTATE || ': ' || SQLERRM;
END
\$f\$;
SELECT pg_temp.try(\$q\$$1\$q\$);
SQL
}

out=$(elapsed "SELECT pgetl_load('w_header', '$dir/header.csv')")
echo "100,000-column header: $out"
case "$out" in
    *" 54011: header has 100000 columns, more than the maximum of 1600") ;;
    *) echo "FAIL: expected the column limit error"; exit 1 ;;
esac
secs=${out%% *}
python3 -c "import sys; sys.exit(0 if float('$secs') < 2 else 1)" || { echo "FAIL: took $secs s"; exit 1; }

out=$(elapsed "SELECT pgetl_load('w_fields', '$dir/fields.csv')" 200ms)
echo "16 records of 1,000,000 fields, statement_timeout 200ms: $out"
case "$out" in
    *" 57014: canceling statement due to statement timeout") ;;
    *) echo "FAIL: expected the load to be cancelled"; exit 1 ;;
esac
secs=${out%% *}
python3 -c "import sys; sys.exit(0 if float('$secs') < 3 else 1)" || { echo "FAIL: cancelled only after $secs s"; exit 1; }
[ "$(psql -X -At -d "$db" -c "SELECT count(*) FROM w")" = 0 ] || { echo "FAIL: rows left"; exit 1; }
echo "ok"
