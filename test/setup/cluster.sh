#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster configured for
# pgetl (pg_cron and pgetl preloaded), of major version $PGVER (default 15;
# 17 and 18 run in Debian chroots: test/setup/chroot.sh).  The cluster
# lives in a temporary directory and is destroyed when the command exits.
#   test/setup/cluster.sh COMMAND [ARGS...]
# Inside COMMAND, PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE point at it and
# PGDATA names its data directory.  PGETL_CLUSTER_OPTS adds settings
# (name=value, separated by spaces) over the defaults below, e.g.
#   PGETL_CLUSTER_OPTS="max_worker_processes=6" test/setup/cluster.sh ...
set -euo pipefail
export PGVER=${PGVER:-15}
pg_config=/usr/lib/postgresql/$PGVER/bin/pg_config
if [ ! -x "$pg_config" ]; then
    echo "cluster.sh: PostgreSQL $PGVER is not installed ($pg_config is missing)" >&2
    exit 1
fi
# Build and install pgetl into a private directory the server loads it
# from (Debian's extension_destdir), so a test run neither needs nor
# touches the system-wide installation.
src=$(cd "$(dirname "$0")/../.." && pwd)
destdir=$(mktemp -d /tmp/pgetl-install.XXXXXX)
chmod 755 "$destdir"
trap 'rm -rf "$destdir"' EXIT
make -s -C "$src" install DESTDIR="$destdir" PG_CONFIG="$pg_config" >/dev/null
# Debian looks for extension scripts in the system directory before
# extension_destdir: remove a system-wide pgetl (if we may), so that a stale
# one can never shadow the one under test, and test runs of different
# checkouts on one machine never see each other's files.
sharedir=$("$pg_config" --sharedir)
if [ -w "$sharedir/extension" ]; then
    rm -f "$sharedir"/extension/pgetl.control "$sharedir"/extension/pgetl--*.sql
fi
if [ -e "$sharedir/extension/pgetl.control" ]; then
    echo "cluster.sh: a system-wide $sharedir/extension/pgetl.control would shadow the pgetl under test; remove it" >&2
    exit 1
fi
libdir=$("$pg_config" --pkglibdir)
# Debian's extension_destdir is gone in 18, which has extension_control_path
# (each entry gets "/extension" appended).
if [ "$PGVER" -ge 18 ]; then
    extension_opt="extension_control_path=$destdir$sharedir:\$system"
else
    extension_opt="extension_destdir=$destdir"
fi
extra_opts=()
for o in ${PGETL_CLUSTER_OPTS:-}; do
    extra_opts+=(-o "$o")
done
# (a nested cluster.sh must not pass the outer one's settings on)
unset PGETL_CLUSTER_OPTS
# A random free port rather than pg_createcluster's next free one, which
# races when several clusters start at once (tests that start a cluster of
# their own inside this one, or checkouts tested side by side).
pick_port() {
    for _ in $(seq 100); do
        PGPORT=$((20000 + RANDOM % 30000))
        [ -e "/var/run/postgresql/.s.PGSQL.$PGPORT" ] && continue
        (exec 3<>"/dev/tcp/127.0.0.1/$PGPORT") 2>/dev/null && continue
        break
    done
    export PGPORT
}
# The command runs once the cluster is up; a cluster that could not start
# (a port taken between the check and the start) is tried again on another
# port, at most three times.  The command's own failure is never retried.
started=$destdir/.started
for attempt in 1 2 3; do
    pick_port
    status=0
    pg_virtualenv -t -v "$PGVER" \
        -o "$extension_opt" \
        -o "dynamic_library_path=$destdir$libdir:$libdir" \
        -o "shared_preload_libraries=pg_cron,pgetl" \
        -o "cron.database_name=postgres" \
        -o "cron.use_background_workers=on" \
        -o "max_worker_processes=64" \
        -o "max_connections=100" \
        -o "log_min_messages=warning" \
        -o "restart_after_crash=on" \
        -o "fsync=on" \
        "${extra_opts[@]}" \
        bash -c 'touch "$1"; shift; exec "$@"' _ "$started" "$@" || status=$?
    [ "$status" -eq 0 ] || [ -e "$started" ] && exit "$status"
    echo "cluster.sh: the cluster did not start (attempt $attempt); trying another port" >&2
done
exit 1
