#!/usr/bin/env bash
# The main job on a throwaway cluster: defines customer_pipeline from its
# document (pgetl_apply of test/customer_pipeline/pipeline.json, by
# test/customer_pipeline/apply.sql; pipeline.sql is the same pipeline as
# function calls) owned by an ordinary role, runs it
# with SELECT pgetl_run('customer_pipeline') and prints the run report
# (pgetl_report, test/customer_pipeline/report.sql).  The run's pictures
# stay after the cluster is gone: dag.svg (pgetl_graph), gantt.svg
# (pgetl_gantt) and report.html (pgetl_report, format html) are written to
# $DEMO_OUT, default test/results/demo/ (printed at the end).
#   test/setup/demo.sh                 the bundled seed CSVs
#   test/setup/demo.sh PATH            a Superstore-format export, e.g.
#                                      ../shared/data/superstore.csv
# (make demo SOURCE=PATH does the same.)
set -euo pipefail
cd "$(dirname "$0")/../.."
source=${1:-${SOURCE:-}}

# The server (OS user postgres) reads the inputs and writes the export:
# give it a world-readable copy of the data and a directory it can write.
work=$(mktemp -d /tmp/pgetl-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/data" "$work/export"
cp test/customer_pipeline/*.csv "$work/data/"
if [ -n "$source" ]; then
    [ -r "$source" ] || { echo "demo: cannot read $source" >&2; exit 2; }
    cp "$source" "$work/data/source.csv"
    source=$work/data/source.csv
fi
chmod -R a+rX "$work"
chmod 1777 "$work/export"
out=${DEMO_OUT:-test/results/demo}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/dag.svg" "$out/gantt.svg" "$out/report.html"
export DEMO_WORK=$work DEMO_SOURCE=$source DEMO_OUT=$out

status=0
test/setup/cluster.sh bash -c '
    set -uo pipefail
    psql -X -q -c "CREATE DATABASE pgetl_demo" || exit 1
    echo "== set-up: role etl (LOGIN, not superuser), pgetl in database pgetl_demo"
    psql -X -q -d pgetl_demo -v owner=etl -f test/customer_pipeline/setup.sql || exit 1
    echo "== defining customer_pipeline as etl: pgetl_apply(test/customer_pipeline/pipeline.json)"
    psql -X -q -d pgetl_demo -c "SET ROLE etl" -v data_dir="$DEMO_WORK/data" \
        -v export_dir="$DEMO_WORK/export" -f test/customer_pipeline/apply.sql >/dev/null || exit 1
    psql -X -d pgetl_demo -c "SELECT task, kind, upstream, retries FROM pgetl.tasks"
    params="{}"
    [ -n "$DEMO_SOURCE" ] && params="{\"source\": \"$DEMO_SOURCE\"}"
    echo "== SELECT pgetl_run('"'"'customer_pipeline'"'"', params => '"'"'$params'"'"')"
    psql -X -d pgetl_demo -c "SET ROLE etl" \
        -c "SELECT pgetl_run('"'"'customer_pipeline'"'"', params => '"'"'$params'"'"') AS run_id"
    status=$?
    run_id=$(psql -X -A -t -q -d pgetl_demo -c "SELECT max(run_id) FROM pgetl.pipeline_run")
    psql -X -q -d pgetl_demo -v run_id="$run_id" -f test/customer_pipeline/report.sql
    # the pictures, as the owner sees them
    pic() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d pgetl_demo -c "SET ROLE etl" -c "$1" -o "$DEMO_OUT/$2"; }
    pic "SELECT pgetl_graph('"'"'customer_pipeline'"'"', $run_id, '"'"'svg'"'"')" dag.svg \
        || echo "demo: no dag.svg (pgetl_graph failed)"
    pic "SELECT pgetl_gantt($run_id)" gantt.svg || status=1
    pic "SELECT pgetl_report($run_id, '"'"'html'"'"')" report.html || status=1
    # Scheduling: pg_cron lives in database postgres (cron.database_name);
    # the owner gets what pg_cron requires there.
    echo
    echo "== scheduling it nightly with pg_cron: SELECT pgetl_schedule('"'"'customer_pipeline'"'"', '"'"'0 2 * * *'"'"')"
    psql -X -q -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_cron" \
        -c "GRANT USAGE ON SCHEMA cron TO etl" \
        -c "GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean) TO etl" || exit 1
    psql -X -q -d pgetl_demo -c "SET ROLE etl" \
        -c "SELECT pgetl_schedule('"'"'customer_pipeline'"'"', '"'"'0 2 * * *'"'"') AS cron_jobid" \
        -c "SELECT pipeline, schedule, cron_jobname, cron_database, last_run_id, last_run_state FROM pgetl.schedules" || exit 1
    psql -X -d postgres -c "SELECT jobid, jobname, schedule, command, database, username FROM cron.job"
    exit $status
' || status=$?
echo
echo "== pictures of the run: $out"
ls -l "$out"
exit $status
