#!/usr/bin/env bash
# `make bench`: every benchmark (test/bench/*_bench.sh) on one throwaway
# cluster.  Generated data goes to test/bench/data, results to test/bench/out
# (both ignored by git).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p test/bench/data test/bench/out
chmod 755 test/bench test/bench/data
exec test/setup/cluster.sh bash -c 'set -e; for b in test/bench/*_bench.sh; do echo "== $b"; bash "$b"; done'
