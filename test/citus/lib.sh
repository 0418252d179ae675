# A Citus cluster of three nodes on this machine (a coordinator and two
# workers), each with citus and pgetl preloaded (citus first, as Citus
# requires), for the checks of test/citus/ (sourced).  Citus is not in
# Debian's registry: the checks run when citus.so is installed for the
# PostgreSQL under test and exit 77 ("skipped", see test/suite.sh)
# otherwise.  pgetl is installed into a private directory, as by
# test/setup/cluster.sh; the three servers run as postgres in a temporary
# directory, which is removed on exit.
#   . test/citus/lib.sh; citus_require; citus_start
#   psql -p "$COORD" ...   (PGHOST is the socket directory)
set -euo pipefail
export PGVER=${PGVER:-15}
citus_pg_config=/usr/lib/postgresql/$PGVER/bin/pg_config
citus_bin=$("$citus_pg_config" --bindir)
citus_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# exit 77 (skipped) unless Citus is installed for this PostgreSQL
citus_require() {
    if [ ! -f "$("$citus_pg_config" --pkglibdir)/citus.so" ]; then
        echo "skipped: citus.so is not installed for PostgreSQL $PGVER (Citus is not in Debian's registry; build it locally, see README \"Scale-out with Citus\")"
        exit 77
    fi
}

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

citus_free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 30000))
        [ -e "/var/run/postgresql/.s.PGSQL.$p" ] && continue
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
        echo "$p"
        return
    done
    return 1
}

citus_stop() {
    local d
    for d in "$CITUS_DIR"/node*; do
        [ -d "$d" ] && as_postgres "$citus_bin/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
    done
    rm -rf "$CITUS_DIR"
}

# citus_start [EXTRA_SETTING...]: the cluster, with database "citus" made
# and extensions citus (all nodes) and pgetl (created on the coordinator,
# propagated by Citus to the workers), workers registered; the coordinator
# too when CITUS_COORDINATOR_NODE=1.  Sets COORD,
# WORKER1, WORKER2 (ports) and PGHOST, PGUSER, PGDATABASE.
citus_start() {
    local libdir sharedir i port
    CITUS_DIR=$(mktemp -d /tmp/pgetl-citus.XXXXXX)
    chmod 755 "$CITUS_DIR"
    trap citus_stop EXIT
    make -s -C "$citus_src" install DESTDIR="$CITUS_DIR/install" PG_CONFIG="$citus_pg_config" >/dev/null
    libdir=$("$citus_pg_config" --pkglibdir)
    sharedir=$("$citus_pg_config" --sharedir)
    if [ -e "$sharedir/extension/pgetl.control" ]; then
        fail "a system-wide $sharedir/extension/pgetl.control would shadow the pgetl under test"
    fi
    chmod -R a+rX "$CITUS_DIR"
    mkdir "$CITUS_DIR/run"
    chown postgres "$CITUS_DIR/run" 2>/dev/null || true
    local ports=()
    for i in 0 1 2; do
        mkdir "$CITUS_DIR/node$i"
        chown postgres "$CITUS_DIR/node$i" 2>/dev/null || true
        as_postgres "$citus_bin/initdb" -D "$CITUS_DIR/node$i" -U postgres --auth=trust -E UTF8 \
            --locale=C.UTF-8 >/dev/null
        cat >> "$CITUS_DIR/node$i/postgresql.conf" <<CONF
listen_addresses = 'localhost'
unix_socket_directories = '$CITUS_DIR/run'
shared_preload_libraries = 'citus,pgetl'
extension_destdir = '$CITUS_DIR/install'
dynamic_library_path = '$CITUS_DIR/install$libdir:$libdir'
max_worker_processes = 64
max_connections = 200
log_min_messages = warning
citus.shard_count = 8
CONF
        for o in "$@"; do echo "$o" >> "$CITUS_DIR/node$i/postgresql.conf"; done
        # a free port, tried again when taken between the check and the start
        for attempt in 1 2 3 4; do
            port=$(citus_free_port)
            as_postgres "$citus_bin/pg_ctl" -D "$CITUS_DIR/node$i" -l "$CITUS_DIR/run/node$i.log" \
                -o "-p $port" -w start >/dev/null && break
            [ "$attempt" -lt 4 ] || { tail -n 20 "$CITUS_DIR/run/node$i.log" >&2; fail "node $i did not start"; }
        done
        ports+=("$port")
    done
    COORD=${ports[0]}; WORKER1=${ports[1]}; WORKER2=${ports[2]}
    export COORD WORKER1 WORKER2
    export PGHOST=$CITUS_DIR/run PGUSER=postgres PGDATABASE=citus
    unset PGPORT PGPASSWORD
    for port in "$COORD" "$WORKER1" "$WORKER2"; do
        psql -X -q -p "$port" -d postgres -c "CREATE DATABASE citus" >/dev/null
        psql -X -q -p "$port" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION citus" >/dev/null
    done
    # the classic topology (the coordinator is not in pg_dist_node) unless
    # CITUS_COORDINATOR_NODE=1 registers it (it then holds no shards)
    if [ "${CITUS_COORDINATOR_NODE:-0}" = 1 ]; then
        psql -X -q -p "$COORD" -v ON_ERROR_STOP=1 \
            -c "SELECT citus_set_coordinator_host('localhost', $COORD)" >/dev/null
    fi
    psql -X -q -p "$COORD" -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT citus_add_node('localhost', $WORKER1);
SELECT citus_add_node('localhost', $WORKER2);
CREATE EXTENSION pgetl;
SQL
}

# c SQL: run on the coordinator, unaligned, tuples only
c() { psql -X -A -t -q -v ON_ERROR_STOP=1 -p "$COORD" -c "$1"; }

# wait_run RUN_ID [SECONDS]: until the run has finished; prints its state
wait_run() {
    local id=$1 secs=${2:-60} s
    for ((i = 0; i < secs * 10; i++)); do
        s=$(c "SELECT state FROM pgetl.pipeline_run WHERE run_id = $id")
        case $s in queued|running) sleep 0.1 ;; *) echo "$s"; return 0 ;; esac
    done
    echo timeout
}
