#!/usr/bin/env bash
# Scheduling with pg_cron: a cron job runs pgetl_run every minute; a run
# that fails makes the cron job fail, with pgetl's message.  (pg_cron 1.4
# schedules by the minute: this test waits up to ~2 minutes.)
source "$(dirname "$0")/lib.sh"
setup_db
cron_db=$(psql -X -A -t -d postgres -c "SHOW cron.database_name")
psql -X -q -d "$cron_db" -c "CREATE EXTENSION IF NOT EXISTS pg_cron" >/dev/null

qq "SELECT pgetl_create_pipeline('cron_ok')"
qq "SELECT pgetl_add_task('cron_ok', 'stamp', 'SELECT now() AS at')"
qq "SELECT pgetl_create_pipeline('cron_bad')"
qq "SELECT pgetl_add_task('cron_bad', 'boom', 'SELECT 1/0')"
jobs=$(psql -X -A -t -q -d "$cron_db" -c "
    SELECT cron.schedule_in_database('pgetl_ok_$PGDATABASE', '* * * * *', \$\$SELECT pgetl_run('cron_ok')\$\$, '$PGDATABASE');
    SELECT cron.schedule_in_database('pgetl_bad_$PGDATABASE', '* * * * *', \$\$SELECT pgetl_run('cron_bad')\$\$, '$PGDATABASE');" | tr '\n' ',')
jobs=${jobs%,}
cleanup_cron() {
    psql -X -q -d "$cron_db" -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobid IN ($jobs)" >/dev/null 2>&1 || true
}
trap 'cleanup_cron; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
ok "scheduled cron jobs $jobs"

wait_for "SELECT count(*) >= 1 FROM pgetl.pipeline_run WHERE pipeline = 'cron_ok' AND state = 'success'" 130 \
    || fail "pg_cron did not run pipeline cron_ok"
ok "pg_cron ran pipeline cron_ok: $(q "SELECT state || ' started by ' || started_by FROM pgetl.pipeline_run WHERE pipeline = 'cron_ok' LIMIT 1")"

for ((i = 0; i < 300; i++)); do
    status=$(psql -X -A -t -d "$cron_db" -c "SELECT d.status || '|' || coalesce(d.return_message, '') FROM cron.job_run_details d
        WHERE d.jobid = (SELECT jobid FROM cron.job WHERE jobname = 'pgetl_bad_$PGDATABASE') AND d.status IN ('failed', 'succeeded') LIMIT 1")
    [ -n "$status" ] && break
    sleep 0.5
done
echo "cron job for cron_bad: $status"
case "$status" in
    failed*"run "*"failed (failed tasks: boom)"*) ok "the failed run made the cron job fail with pgetl's message" ;;
    *) fail "cron job of the failing pipeline: '$status'" ;;
esac
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE pipeline = 'cron_bad' LIMIT 1")" = failed ] || fail "cron_bad run not recorded failed"
ok "the failed run's history was committed"
