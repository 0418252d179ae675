#!/usr/bin/env bash
# The C sources are laid out as pgindent lays out PostgreSQL's (`make
# indent`, test/setup/indent.sh --check): fails with the diff when a file
# is not.  The typedefs list comes from the objects' debug information, so
# the check builds a copy against PostgreSQL 15 (whose headers the layout
# was made with) and is skipped on the other versions' runs.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${PGVER:-15}" != 15 ]; then
    echo "skipped: the layout is checked on the PostgreSQL 15 run"
    exit 77
fi
if ! command -v pg_bsd_indent >/dev/null; then
    echo "skipped: pg_bsd_indent is missing (Debian package pg-bsd-indent, installed by make deps)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/test/setup"
cp -a "$src/Makefile" "$src/pgetl.control" "$src/src" "$src/sql" "$tmp/"
cp -a "$src/test/setup/indent.sh" "$tmp/test/setup/"
rm -f "$tmp"/src/*.o
make -s -C "$tmp" $(cd "$src" && ls src/*.c | sed 's/\.c$/.o/') \
    PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config >/dev/null || { echo "FAIL: build"; exit 1; }
if "$tmp/test/setup/indent.sh" --check; then
    echo "ok - src/*.c and src/*.h are laid out as pg_bsd_indent with pgindent's settings lays them out"
else
    echo "FAIL: run make indent (the diff above shows what it changes)"
    exit 1
fi
