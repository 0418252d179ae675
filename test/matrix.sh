#!/usr/bin/env bash
# The whole test suite on several PostgreSQL major versions, one after the
# other (`make test-matrix`: 15 17 18).  15 runs on this machine (as
# `make test` does); the others in a Debian chroot built by
# test/setup/chroot.sh (debootstrap: the first run needs the network, and
# fails loudly without it).  Prints one line per version, then the sum
# "N passed, N failed" last; the exit status is non-zero when anything
# failed.
#   test/matrix.sh VERSION...
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- 15 17 18
passed=0
failed=0
lines=()
for v in "$@"; do
    start=$SECONDS
    out=$(mktemp)
    echo "==== PostgreSQL $v ===="
    if [ "$v" = 15 ]; then
        make -s all PGVER=15 && PGVER=15 test/run-all.sh
    else
        test/setup/chroot.sh run "$v" bash -c 'make -s all && test/run-all.sh'
    fi 2>&1 | tee "$out"
    status=${PIPESTATUS[0]}
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
    rm -f "$out"
    # no summary (could not build, no chroot): one failure for the version
    [ -n "$summary" ] || summary="0 passed, 1 failed"
    p=${summary%% passed*}
    f=${summary#* passed, }
    f=${f%% failed}
    [ "$status" -eq 0 ] || [ "$f" -gt 0 ] || f=1
    passed=$((passed + p))
    failed=$((failed + f))
    lines+=("PostgreSQL $v: $p passed, $f failed ($((SECONDS - start)) s)")
done
echo "==== summary ===="
printf '%s\n' "${lines[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
