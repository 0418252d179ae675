#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL 15 cluster configured for
# pgetl (pg_cron and pgetl preloaded).  The cluster lives in a temporary
# directory and is destroyed when the command exits.
#   test/setup/cluster.sh COMMAND [ARGS...]
# Inside COMMAND, PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE point at it and
# PGDATA names its data directory.
set -euo pipefail
# Build and install pgetl into a private directory the server loads it
# from (Debian's extension_destdir), so a test run neither needs nor
# touches the system-wide installation.
src=$(cd "$(dirname "$0")/../.." && pwd)
destdir=$(mktemp -d /tmp/pgetl-install.XXXXXX)
chmod 755 "$destdir"
trap 'rm -rf "$destdir"' EXIT
make -s -C "$src" install DESTDIR="$destdir" PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config >/dev/null
# Debian looks for extension scripts in the system directory before
# extension_destdir: keep a system-wide pgetl (if we may write there) the
# same as the one under test, so a stale one can never shadow it.
if [ "$(id -u)" = 0 ]; then
    make -s -C "$src" install PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config >/dev/null
fi
libdir=$(/usr/lib/postgresql/15/bin/pg_config --pkglibdir)
pg_virtualenv -t -v 15 \
    -o "extension_destdir=$destdir" \
    -o "dynamic_library_path=$destdir$libdir:$libdir" \
    -o "shared_preload_libraries=pg_cron,pgetl" \
    -o "cron.database_name=postgres" \
    -o "cron.use_background_workers=on" \
    -o "max_worker_processes=64" \
    -o "max_connections=100" \
    -o "log_min_messages=log" \
    -o "restart_after_crash=on" \
    -o "fsync=on" \
    "$@"
