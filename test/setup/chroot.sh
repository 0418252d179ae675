#!/usr/bin/env bash
# PostgreSQL versions Debian bookworm does not ship, in a Debian chroot of
# the project's own (.matrix/<suite>, gitignored), built with debootstrap
# from the mirror this machine's apt already uses.  Run as root.
#   test/setup/chroot.sh build VERSION          build (or reuse) the chroot
#   test/setup/chroot.sh run VERSION CMD...     run CMD in it, as root, in a
#                                               copy of this checkout
# VERSION is a PostgreSQL major version: 17 (Debian trixie) or 18 (sid).
# `run` copies the checkout (without .git and build products) to
# /pgetl-run.XXXXXX/main in the chroot and ../shared beside it, mounts
# /proc and /dev for CMD, and unmounts them afterwards (everything happens
# in a private mount namespace, so nothing stays mounted even if killed).
# CMD's test/results are copied back to test/results-VERSION.
# A chroot that is already built is reused: a rerun needs no network.
# When the chroot cannot be built (no network, no mirror) this fails.
# PGETL_MIRROR=URL overrides the mirror.
set -euo pipefail
cd "$(dirname "$0")/../.."
checkout=$PWD
shared=${PGETL_SHARED:-$(cd .. && pwd)/shared}

usage() { echo "usage: $0 build|run VERSION [CMD...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1 ver=$2
shift 2
case "$ver" in
    17) suite=trixie ;;
    18) suite=sid ;;
    *) echo "chroot.sh: no Debian suite known for PostgreSQL $ver" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
    echo "chroot.sh: debootstrap and chroot need root" >&2
    exit 1
fi
root=$checkout/.matrix/$suite
pkgs=(make gcc libc6-dev zlib1g-dev procps ca-certificates
      postgresql-common "postgresql-$ver" "postgresql-server-dev-$ver"
      "postgresql-$ver-cron" "postgresql-$ver-pgtap"
      libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
      pkg-config libgraphviz-dev graphviz libxml2-utils
      chromium python3 python3-pil fonts-dejavu-core)
say() { echo "chroot.sh[$ver/$suite]: $*" >&2; }

# The first Debian mirror in this machine's apt sources (one-line or deb822),
# or $PGETL_MIRROR.
mirror() {
    local m=${PGETL_MIRROR:-}
    [ -z "$m" ] || { echo "$m"; return; }
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | sed -nE 's/^deb +(\[[^]]*\] +)?(https?:\/\/[^ ]*\/debian\/?) .*/\2/p' | head -n 1)
    [ -n "$m" ] || m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | sed -nE 's/^URIs: *(https?:\/\/[^ ]*\/debian\/?)( .*)?$/\1/p' | head -n 1)
    echo "${m:-http://deb.debian.org/debian}"
}

# in_ns CMD...: run CMD in a private mount namespace.
in_ns() { unshare --mount --propagation private "$@"; }

# in_chroot [VAR=VALUE...] CMD...: run CMD in the chroot, with a clean
# environment plus the VARs, /proc, /dev and a /dev/shm of its own
# (PostgreSQL's dynamic shared memory) mounted for it alone and unmounted
# when it ends.
in_chroot() {
    in_ns bash -c '
        set -e
        root=$1; shift
        mount -t proc proc "$root/proc"
        trap "umount \"$root/proc\"" EXIT
        mount --bind /dev "$root/dev"
        trap "umount \"$root/dev\" \"$root/proc\"" EXIT
        mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
        trap "umount \"$root/dev/shm\" \"$root/dev\" \"$root/proc\"" EXIT
        chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root LANG=C.UTF-8 TERM=dumb "$@"' _ "$root" "$@"
}

build() {
    if [ -f "$root/.pgetl-packages" ] && [ "$(cat "$root/.pgetl-packages")" = "${pkgs[*]}" ]; then
        return 0
    fi
    command -v debootstrap >/dev/null || {
        say "debootstrap is missing (test/setup/deps.sh installs it)"; exit 1; }
    local url
    url=$(mirror)
    if [ ! -f "$root/.pgetl-debootstrap" ]; then
        # A half-built chroot from an interrupted run is thrown away.  Its
        # mounts, if any, lived in a namespace that is gone, but refuse to
        # delete anything that is still a mount point.
        if [ -e "$root" ]; then
            if grep -q " $root/" /proc/self/mountinfo; then
                say "something is mounted under $root; unmount it first"; exit 1
            fi
            rm -rf "$root"
        fi
        mkdir -p "$root"
        say "debootstrap $suite from $url"
        local start=$SECONDS
        if ! in_ns debootstrap --variant=minbase "$suite" "$root" "$url" \
                > "$checkout/.matrix/debootstrap-$suite.log" 2>&1; then
            tail -n 20 "$checkout/.matrix/debootstrap-$suite.log" >&2
            say "debootstrap FAILED (see .matrix/debootstrap-$suite.log)"
            exit 1
        fi
        touch "$root/.pgetl-debootstrap"
        say "debootstrap done in $((SECONDS - start)) s"
    fi
    # No services in the chroot, and no default cluster: tests make their own.
    printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    mkdir -p "$root/etc/postgresql-common"
    echo "create_main_cluster = false" > "$root/etc/postgresql-common/createcluster.conf"
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    # sid's Release file is valid for a week only: a mirror that is a dated
    # snapshot (or a clock ahead of it) would stop apt; signatures are
    # still checked.
    echo 'Acquire::Check-Valid-Until "false";' > "$root/etc/apt/apt.conf.d/99pgetl"
    say "installing ${pkgs[*]}"
    local start=$SECONDS
    if ! in_chroot DEBIAN_FRONTEND=noninteractive bash -c '
            apt-get update -qq &&
            apt-get install -y -qq --no-install-recommends \
                -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
                "$@" && apt-get clean' _ "${pkgs[@]}" \
            > "$checkout/.matrix/install-$suite.log" 2>&1; then
        tail -n 20 "$checkout/.matrix/install-$suite.log" >&2
        say "package installation FAILED (see .matrix/install-$suite.log)"
        exit 1
    fi
    if [ ! -x "$root/usr/lib/postgresql/$ver/bin/pg_config" ]; then
        say "PostgreSQL $ver is not installed in the chroot"; exit 1
    fi
    echo "${pkgs[*]}" > "$root/.pgetl-packages"
    say "packages installed in $((SECONDS - start)) s"
}

run() {
    [ $# -gt 0 ] || usage
    # A fresh copy of the checkout, in a directory of this run's own: never
    # the host's objects (built for another major version), never its .git.
    local status=0
    dir=$(mktemp -d "$root/pgetl-run.XXXXXX")   # global: the EXIT trap needs it
    trap 'rm -rf "$dir"' EXIT
    mkdir "$dir/main"
    tar -C "$checkout" --exclude=./.git --exclude=./.matrix --exclude='./test/results*' \
        --exclude=./test/bench/data --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        -cf - . | tar -C "$dir/main" -xf -
    [ -d "$shared" ] && cp -a "$shared" "$dir/shared"
    chmod -R a+rX "$dir"
    in_chroot PGVER="$PGVER" PGETL_SHARED="/${dir##*/}/shared" \
        bash -c 'cd "$1" && shift && "$@"' _ "/${dir##*/}/main" "$@" || status=$?
    rm -rf "$checkout/test/results-$ver"
    [ ! -d "$dir/main/test/results" ] || cp -a "$dir/main/test/results" "$checkout/test/results-$ver"
    return "$status"
}

export PGVER=$ver
# one build at a time per chroot (concurrent runs share a built one)
mkdir -p "$checkout/.matrix"
exec 9> "$checkout/.matrix/$suite.lock"
flock 9
build
flock -u 9
exec 9>&-
case "$action" in
    build) ;;
    run) run "$@" ;;
    *) usage ;;
esac
