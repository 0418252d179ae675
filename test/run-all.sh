#!/usr/bin/env bash
# The whole test suite, on a throwaway cluster (see README.md: `make test`,
# which installs dependencies and builds first).  The last line printed is
# "N passed, N failed"; the exit status is non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
test/setup/cluster.sh test/suite.sh 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
rm -f "$out"
if [ -z "$summary" ]; then
    echo "the test run ended before its summary (exit status $status)"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "$summary"
case "$summary" in
    *" 0 failed") [ "$status" -eq 0 ] || exit "$status"; exit 0 ;;
    *) exit 1 ;;
esac
