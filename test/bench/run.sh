#!/usr/bin/env bash
# `make bench`: every benchmark (test/bench/*_bench.sh) on one throwaway
# cluster.  Generated data goes to test/bench/data, results to test/bench/out
# (both ignored by git).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p test/bench/data test/bench/out
chmod 755 test/bench test/bench/data
# (exit 77: a benchmark whose prerequisite is missing, e.g. Citus, skipped)
exec test/setup/cluster.sh bash -c 'set -e; for b in test/bench/*_bench.sh; do echo "== $b"; s=0; bash "$b" || s=$?; [ $s -eq 0 ] || [ $s -eq 77 ]; done'
