#!/usr/bin/env bash
# Scheduling with pg_cron: pgetl_schedule creates a cron job, in the cron
# database, as the pipeline owner (a role that is not a superuser); pg_cron
# really runs it, the run is recorded with started_by = pg_cron, a failing
# run makes the cron job fail with pgetl's message; rescheduling keeps one
# job; pgetl_unschedule and pgetl_drop_pipeline remove it.  One pipeline
# lives in the cron database itself (cron.schedule instead of
# cron.schedule_in_database).  pg_cron 1.4 schedules by the minute: this
# test waits for one minute boundary (up to ~2 minutes).
source "$(dirname "$0")/lib.sh"
setup_db
cron_db=$(psql -X -A -t -d postgres -c "SHOW cron.database_name")
owner=pgetl_sched_$$
same=same_$$
created_pgetl_in_cron_db=no

qc() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$cron_db" -c "$1"; }
# as the owner, in the test database (or the database given as $2)
qo() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "${2:-$PGDATABASE}" -c "SET ROLE $owner" -c "$1"; }
# the error of a statement run as the owner, with its SQLSTATE
err_of() { psql -X -A -t -q -v VERBOSITY=verbose -d "$PGDATABASE" -c "SET ROLE $owner" -c "$1" 2>&1 >/dev/null || true; }

cleanup() {
    psql -X -q -d "$cron_db" -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE username = '$owner'" >/dev/null 2>&1 || true
    if [ "$created_pgetl_in_cron_db" = yes ]; then
        psql -X -q -d "$cron_db" -c "DROP EXTENSION IF EXISTS pgetl" >/dev/null 2>&1 || true
    fi
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" >/dev/null 2>&1 || true
    psql -X -q -d "$cron_db" -c "DROP OWNED BY $owner" -c "DROP ROLE IF EXISTS $owner" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql -X -q -d postgres -c "CREATE ROLE $owner LOGIN"
qo "SELECT pgetl_create_pipeline('sched_ok')" >/dev/null
qo "SELECT pgetl_add_task('sched_ok', 'stamp', \$\$SELECT pgetl_param('x') AS x, current_user AS cu\$\$)" >/dev/null
qo "SELECT pgetl_create_pipeline('sched_bad')" >/dev/null
qo "SELECT pgetl_add_task('sched_bad', 'boom', 'SELECT 1/0')" >/dev/null

# pg_cron not created in the cron database yet (a fresh cluster): a clear error
if [ "$(qc "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")" = 0 ]; then
    e=$(err_of "SELECT pgetl_schedule('sched_ok', '* * * * *')")
    case "$e" in
        *"55000: extension \"pg_cron\" is not installed in database \"$cron_db\""*"HINT:"*"CREATE EXTENSION pg_cron in database \"$cron_db\""*)
            ok "pg_cron missing in the cron database: 55000 with a hint" ;;
        *) fail "pg_cron missing: $e" ;;
    esac
    qc "CREATE EXTENSION pg_cron"
else
    ok "pg_cron already created in $cron_db (the missing-extension error is not tested)"
fi

# the owner may not use pg_cron yet: pg_cron's privilege error, with the grants to make
e=$(err_of "SELECT pgetl_schedule('sched_ok', '* * * * *')")
case "$e" in
    *"42501: permission denied for schema cron"*"HINT:"*"GRANT USAGE ON SCHEMA cron TO $owner"*"GRANT EXECUTE ON FUNCTION cron.schedule_in_database"*)
        ok "owner without USAGE on schema cron: 42501 with the grants in the hint" ;;
    *) fail "no USAGE on schema cron: $e" ;;
esac
qc "GRANT USAGE ON SCHEMA cron TO $owner"
qc "GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean) TO $owner"
[ "$(q "SELECT count(*) FROM pgetl.schedule")" = 0 ] || fail "a failed pgetl_schedule left a row"

# pg_cron's own error for a bad schedule, SQLSTATE kept
e=$(err_of "SELECT pgetl_schedule('sched_ok', '61 * * * *')")
case "$e" in
    *"22023: invalid schedule: 61 * * * *"*"HINT:"*"5 fields"*) ok "bad schedule: pg_cron's 22023, with a hint" ;;
    *) fail "bad schedule: $e" ;;
esac

# schedule, then reschedule: one job, same id, new schedule and params
job1=$(qo "SELECT pgetl_schedule('sched_ok', '0 0 1 1 *')")
job2=$(qo "SELECT pgetl_schedule('sched_ok', '* * * * *', '{\"x\": 1}')")
[ "$job1" = "$job2" ] || fail "rescheduling changed the job id ($job1 -> $job2)"
[ "$(qc "SELECT count(*) || ' ' || min(schedule) || ' ' || min(username) || ' ' || min(database) FROM cron.job WHERE jobname = 'sched_ok@$PGDATABASE'")" \
    = "1 * * * * * $owner $PGDATABASE" ] || fail "cron job after rescheduling: $(qc "SELECT * FROM cron.job")"
ok "rescheduling updated the one cron job $job1 (owned by $owner, runs in $PGDATABASE)"
qo "SELECT pgetl_schedule('sched_bad', '* * * * *')" >/dev/null

# a pipeline in the cron database itself: cron.schedule, USAGE on cron suffices
if [ "$(qc "SELECT count(*) FROM pg_extension WHERE extname = 'pgetl'")" = 0 ]; then
    qc "CREATE EXTENSION pgetl"
    created_pgetl_in_cron_db=yes
fi
qo "SELECT pgetl_create_pipeline('$same')" "$cron_db" >/dev/null
qo "SELECT pgetl_add_task('$same', 't', 'SELECT 1 AS one')" "$cron_db" >/dev/null
qo "SELECT pgetl_schedule('$same', '* * * * *')" "$cron_db" >/dev/null
ok "scheduled $same in the cron database $cron_db ($(date +%T))"

# the main job, customer_pipeline, scheduled the same way: pg_cron runs the
# whole DAG as its owner (retries wait 1 second here)
src=${PGETL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
export_dir=$src/test/results/export
mkdir -p "$export_dir" && chmod 1777 "$export_dir"
psql -X -q -v ON_ERROR_STOP=1 -v owner="$owner" -f "$src/test/customer_pipeline/setup.sql" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -c "SET ROLE $owner" -v data_dir="$src/test/customer_pipeline" \
    -v export_dir="$export_dir" -f "$src/test/customer_pipeline/pipeline.sql" >/dev/null
qo "SELECT pgetl_schedule('customer_pipeline', '* * * * *', '{\"retry_delay\": \"1 second\"}')" >/dev/null
ok "scheduled customer_pipeline every minute ($(date +%T))"

wait_for "SELECT count(*) >= 1 FROM pgetl.pipeline_run WHERE pipeline = 'sched_ok' AND state = 'success'
          AND started_by = 'pg_cron'" 130 || fail "pg_cron did not run sched_ok: $(q "SELECT * FROM pgetl.pipeline_run")"
ok "pg_cron ran sched_ok ($(date +%T)): $(q "SELECT state || ', started by ' || started_by || ', params ' || params FROM pgetl.pipeline_run WHERE pipeline = 'sched_ok' ORDER BY run_id LIMIT 1")"
[ "$(q "SELECT (params->>'x') || ' ' || (SELECT result->>'x' || ' ' || (result->>'cu') FROM pgetl.task_run t WHERE t.run_id = r.run_id)
       FROM pgetl.pipeline_run r WHERE pipeline = 'sched_ok' ORDER BY run_id LIMIT 1")" = "1 1 $owner" ] \
    || fail "run params / task result: $(q "SELECT * FROM pgetl.task_run WHERE pipeline = 'sched_ok'")"
ok "the run carried params x=1 to its task, which ran as $owner"
# its data interval: the minute that ended when pg_cron fired, the logical
# date that minute's date (UTC, the schedule's time zone)
[ "$(q "SELECT data_interval_end - data_interval_start = interval '1 minute'
              AND date_trunc('minute', data_interval_end) = data_interval_end
              AND data_interval_end <= started_at
              AND logical_date = (data_interval_start AT TIME ZONE 'UTC')::date
       FROM pgetl.pipeline_run WHERE pipeline = 'sched_ok' ORDER BY run_id LIMIT 1")" = t ] \
    || fail "data interval of the pg_cron run: $(q "SELECT logical_date, data_interval_start, data_interval_end, started_at FROM pgetl.pipeline_run WHERE pipeline = 'sched_ok'")"
ok "the pg_cron run covers the minute that ended when it fired: $(q "SELECT data_interval_start || ' - ' || data_interval_end FROM pgetl.pipeline_run WHERE pipeline = 'sched_ok' ORDER BY run_id LIMIT 1")"
[ "$(q "SELECT last_run_state || ' ' || last_run_started_by || ' ' || jobid || ' ' || schedule || ' ' || (params->>'x') || ' ' || cron_database
       FROM pgetl.schedules WHERE pipeline = 'sched_ok' AND last_run_state = 'success'")" = "success pg_cron $job1 * * * * * 1 $cron_db" ] \
    || fail "pgetl.schedules: $(q "SELECT * FROM pgetl.schedules")"
ok "pgetl.schedules shows the schedule and its last run"
[ "$(qo "SELECT count(*) FROM pgetl.schedules WHERE pipeline LIKE 'sched%'")" = 2 ] || fail "the owner does not see its schedules"

wait_for "SELECT count(*) >= 1 FROM pgetl.pipeline_run WHERE pipeline = 'customer_pipeline'
          AND state IN ('success', 'failed') AND started_by = 'pg_cron'" 90 \
    || fail "pg_cron did not run customer_pipeline: $(q "SELECT * FROM pgetl.pipeline_run WHERE pipeline = 'customer_pipeline'")"
qo "SELECT pgetl_unschedule('customer_pipeline')" >/dev/null
r=$(q "SELECT run_id || ' ' || state || ' ' || tasks_success || ' ' || logical_date FROM pgetl.pipeline_run
       WHERE pipeline = 'customer_pipeline' AND started_by = 'pg_cron' ORDER BY run_id LIMIT 1")
set -- $r
[ "$2 $3" = "success 11" ] || fail "customer_pipeline run by pg_cron: $r; $(q "SELECT task, state, error FROM pgetl.task_run WHERE run_id = $1")"
[ "$(q "SELECT string_agg(DISTINCT state, ',') FROM pgetl.task_run WHERE run_id = $1")" = success ] || fail "task states of run $1"
[ -s "$export_dir/high_value_customers_$4.csv" ] || fail "no export file $export_dir/high_value_customers_$4.csv"
[ "$(wc -l < "$export_dir/high_value_customers_$4.csv")" = 5 ] || fail "export of run $1: $(cat "$export_dir/high_value_customers_$4.csv")"
ok "pg_cron ran customer_pipeline: run $1 success, 11 tasks succeeded, export with 4 high-value customers"

PGDATABASE=$cron_db wait_for "SELECT count(*) >= 1 FROM pgetl.pipeline_run WHERE pipeline = '$same' AND state = 'success'
          AND started_by = 'pg_cron'" 60 || fail "pg_cron did not run $same"
ok "pg_cron ran $same in the cron database"
qo "SELECT pgetl_unschedule('$same')" "$cron_db" >/dev/null
[ "$(qc "SELECT count(*) FROM cron.job WHERE jobname = '$same@$cron_db'")" = 0 ] || fail "$same still has a cron job"

# the failed run made the cron job fail, with pgetl's message
wait_for "SELECT count(*) >= 1 FROM pgetl.pipeline_run WHERE pipeline = 'sched_bad' AND state = 'failed'
          AND started_by = 'pg_cron'" 60 || fail "pg_cron did not run sched_bad"
# (a firing may also have found no interval due and succeeded: when pg_cron
# fired the job in the minute it was created, the interval that had ended
# started before the schedule existed; so look for the firing that failed)
for ((i = 0; i < 100; i++)); do
    status=$(qc "SELECT d.status || '|' || coalesce(d.return_message, '') FROM cron.job_run_details d
        JOIN cron.job j USING (jobid) WHERE j.jobname = 'sched_bad@$PGDATABASE' AND d.status = 'failed'
        ORDER BY d.runid LIMIT 1")
    [ -n "$status" ] && break
    sleep 0.2
done
case "$status" in
    failed*"run "*"failed (failed tasks: boom)"*) ok "the failed run made the cron job fail with pgetl's message" ;;
    *) fail "cron job of sched_bad: '$status'; its firings: $(qc "SELECT string_agg(d.status || '|' || coalesce(d.return_message, '') || '|' || d.start_time, '; ' ORDER BY d.runid)
        FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'sched_bad@$PGDATABASE'")" ;;
esac
# no firing made a run of it succeed
[ "$(q "SELECT count(*) FROM pgetl.pipeline_run WHERE pipeline = 'sched_bad' AND state = 'success'")" = 0 ] \
    || fail "sched_bad has a run that succeeded: $(q "SELECT * FROM pgetl.pipeline_run WHERE pipeline = 'sched_bad'")"

# unschedule removes the job; a second time is an error
qo "SELECT pgetl_unschedule('sched_ok')" >/dev/null
[ "$(qc "SELECT count(*) FROM cron.job WHERE jobname = 'sched_ok@$PGDATABASE'")" = 0 ] || fail "sched_ok still has a cron job"
[ "$(q "SELECT count(*) FROM pgetl.schedules WHERE pipeline = 'sched_ok'")" = 0 ] || fail "sched_ok still in pgetl.schedules"
e=$(err_of "SELECT pgetl_unschedule('sched_ok')")
case "$e" in *"42704: pipeline \"sched_ok\" is not scheduled"*) ;; *) fail "second unschedule: $e" ;; esac
ok "pgetl_unschedule removed the cron job; a second time: 42704"

# dropping a scheduled pipeline removes its job (retried if a cron run is active)
for ((i = 0; i < 20; i++)); do
    e=$(err_of "SELECT pgetl_drop_pipeline('sched_bad')")
    case "$e" in *55006*) sleep 0.5 ;; *) break ;; esac
done
[ -z "$e" ] || fail "drop of sched_bad: $e"
[ "$(qc "SELECT count(*) FROM cron.job WHERE jobname = 'sched_bad@$PGDATABASE'")" = 0 ] || fail "sched_bad still has a cron job"
[ "$(qc "SELECT count(*) FROM cron.job WHERE username = '$owner'")" = 0 ] || fail "cron jobs left: $(qc "SELECT * FROM cron.job")"
ok "pgetl_drop_pipeline removed the pipeline's cron job"
