#!/usr/bin/env bash
# Runs every benchmark (test/bench/*_bench.sh) against the cluster in
# PGHOST/PGPORT/PGUSER; `make bench` starts a throwaway one.
set -euo pipefail
cd "$(dirname "$0")"
for b in ./*_bench.sh; do
    echo "### $b"
    bash "$b"
    echo
done
