#!/usr/bin/env bash
# Runs every test against the cluster given by PGHOST/PGPORT/PGUSER (set up
# by test/setup/cluster.sh) and prints "N passed, N failed" last.
#   pg_regress   sql/*.sql against expected/*.out   (one test each)
#   pgTAP        test/tap/*.sql through pg_prove    (one test each file)
#   shell        test/*/*_test.sh                   (one test each script; exit
#                77 = skipped, its prerequisite is missing: listed, counted
#                neither passed nor failed)
set -uo pipefail
cd "$(dirname "$0")/.."
checkout=$PWD
shared=${PGETL_SHARED:-$(cd .. && pwd)/shared}
export PGVER=${PGVER:-15}

# The server runs as postgres and reads test files (CSV corpus, the shared
# Superstore export): run from a world-readable copy of the checkout, with
# ../shared beside it, so that a checkout in a private directory works too.
stage=$(mktemp -d /tmp/pgetl-suite.XXXXXX)
chmod 755 "$stage"
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/main"
tar -C "$checkout" --exclude=./.git --exclude=./.matrix --exclude=./test/bench/data \
    --exclude=./test/results --exclude='./test/results-*' -cf - . \
    | tar -C "$stage/main" -xf -
[ -d "$shared" ] && cp -a "$shared" "$stage/shared"
chmod -R a+rX "$stage"
cd "$stage/main"
export PGETL_SRC=$PWD
export PGETL_SHARED=$stage/shared
passed=0
failed=0
skipped=0
failures=()
skips=()

note() { printf '%-60s %s\n' "$1" "$2"; }

# --- pg_regress -------------------------------------------------------------
rm -rf test/results
mkdir -p test/results
# where the customer_pipeline test exports to (the server runs as postgres)
mkdir -m 1777 test/results/export
make -s installcheck PG_CONFIG=/usr/lib/postgresql/$PGVER/bin/pg_config \
    > test/results/pg_regress.log 2>&1
regress_status=$?
cat test/results/pg_regress.log
# Each test's outcome is read from its files, not from pg_regress's log
# (whose format changed in 16): a test passed when it left its result file
# (test/results/results/NAME.out) and regression.diffs has no diff of it
# (pg_regress writes there the diff of every failed test, against the
# expected file that matched best).
for f in sql/*.sql; do
    name=$(basename "$f" .sql)
    case "$name" in pgetl--*) continue ;; esac
    if [ -f "test/results/results/$name.out" ] &&
       ! grep -qs -- "/results/$name.out" test/results/regression.diffs; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("pg_regress $name")
    fi
done
# pg_regress failing with every test passed: it did not get to the end
if [ "$regress_status" -ne 0 ] && ! grep -qs -- '/results/' test/results/regression.diffs; then
    failed=$((failed + 1))
    failures+=("pg_regress exited with status $regress_status")
fi
if [ -f test/results/regression.diffs ]; then
    echo "---- regression.diffs ----"
    head -c 20000 test/results/regression.diffs
fi

# --- pgTAP ------------------------------------------------------------------
if ls test/tap/*.sql >/dev/null 2>&1; then
    for t in test/tap/*.sql; do
        db="tap_$(basename "$t" .sql)"
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
        psql -X -q -d "$db" -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION pgetl" >/dev/null
        if pg_prove -d "$db" "$t"; then
            passed=$((passed + 1)); note "$t" ok
        else
            failed=$((failed + 1)); failures+=("pgTAP $t"); note "$t" FAILED
        fi
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
    done
fi

# --- shell tests (crash, concurrency, loader corpus) ------------------------
for t in test/*/*_test.sh; do
    [ -e "$t" ] || continue
    log="test/results/$(basename "$t" .sh).log"
    status=0
    timeout 600 bash "$t" > "$log" 2>&1 || status=$?
    if [ "$status" -eq 0 ]; then
        passed=$((passed + 1)); note "$t" ok
    elif [ "$status" -eq 77 ]; then
        # exit 77: a test whose prerequisite is missing here (e.g. Citus)
        skipped=$((skipped + 1)); skips+=("$t: $(tail -n 1 "$log")"); note "$t" skipped
    else
        failed=$((failed + 1)); failures+=("shell $t"); note "$t" FAILED
        tail -n 40 "$log"
    fi
done

# keep the results in the checkout for inspection
rm -rf "$checkout/test/results"
cp -a test/results "$checkout/test/results" 2>/dev/null || true

if [ ${#skips[@]} -gt 0 ]; then
    echo "skipped ($skipped, counted neither passed nor failed):"
    printf '  %s\n' "${skips[@]}"
fi
if [ ${#failures[@]} -gt 0 ]; then
    echo "failed:"
    printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
