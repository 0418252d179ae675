# Helpers for the engine's shell tests (sourced).  The cluster comes from
# PGHOST/PGPORT/PGUSER (test/setup/cluster.sh).
set -euo pipefail
export PGDATABASE=${TEST_DB:-pgetl_shell_$$}

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
qq() { q "$1" >/dev/null; }

# wait_for SQL [SECONDS]: until SQL returns 't'
wait_for() {
    local sql=$1 secs=${2:-30} i
    for ((i = 0; i < secs * 10; i++)); do
        [ "$(q "$sql" 2>/dev/null || true)" = t ] && return 0
        sleep 0.1
    done
    return 1
}

setup_db() {
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE" -c "CREATE DATABASE $PGDATABASE"
    q "CREATE EXTENSION pgetl"
    trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
}
