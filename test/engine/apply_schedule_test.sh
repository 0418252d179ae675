#!/usr/bin/env bash
# pgetl_apply and schedules: a document's "schedule" is applied through
# pgetl_schedule itself (the cron job is created as the pipeline owner in
# the cron database); applying the same document again does not touch
# pg_cron (the cron job and pgetl.schedule rows keep their row versions);
# a changed schedule updates the one job; a document without a schedule
# removes the job; an error of pg_cron is reported at the path "schedule".
source "$(dirname "$0")/lib.sh"
setup_db
cron_db=$(psql -X -A -t -d postgres -c "SHOW cron.database_name")
owner=pgetl_apply_sched_$$

qc() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$cron_db" -c "$1"; }
qo() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "SET ROLE $owner" -c "$1"; }
err_of() { psql -X -A -t -q -v VERBOSITY=verbose -c "SET ROLE $owner" -c "$1" 2>&1 >/dev/null || true; }

cleanup() {
    psql -X -q -d "$cron_db" -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE username = '$owner'" >/dev/null 2>&1 || true
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" >/dev/null 2>&1 || true
    psql -X -q -d "$cron_db" -c "DROP OWNED BY $owner" -c "DROP ROLE IF EXISTS $owner" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql -X -q -d postgres -c "CREATE ROLE $owner LOGIN"
[ "$(qc "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")" = 1 ] || qc "CREATE EXTENSION pg_cron"

doc() {  # doc SCHEDULE_JSON: the document, with that schedule (or none)
    echo "{\"name\": \"nightly\", \"tasks\": [{\"name\": \"a\", \"command\": \"SELECT 1\"}]${1:+, \"schedule\": $1}}"
}
job_state() {
    qc "SELECT jobid || ' ' || xmin || ' ' || schedule || ' ' || command FROM cron.job WHERE jobname = 'nightly@$PGDATABASE'"
}

# the owner may not use pg_cron yet: pg_cron's error, at the path "schedule",
# and nothing applied
e=$(err_of "SELECT pgetl_apply('$(doc '{"schedule": "0 2 * * *"}')')")
case "$e" in
    *"42501: schedule: permission denied for schema cron"*"GRANT USAGE ON SCHEMA cron TO $owner"*) ;;
    *) fail "apply without cron privileges: $e" ;;
esac
[ "$(q "SELECT count(*) FROM pgetl.pipeline")" = 0 ] || fail "a failed apply left a pipeline"
ok "a schedule pg_cron refuses: its 42501 at path schedule, nothing applied"
qc "GRANT USAGE ON SCHEMA cron TO $owner"
qc "GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean) TO $owner"

r=$(qo "SELECT pgetl_apply('$(doc '{"schedule": "0 2 * * *", "params": {"k": 1}}')')")
case "$r" in *'"changed": true'*'"action": "create", "object": "schedule"'*) ;; *) fail "first apply: $r" ;; esac
before=$(job_state)
case "$before" in *" 0 2 * * * SELECT "*"pgetl_run('nightly', params => '{\"k\": 1}'::jsonb)") ;; *) fail "cron job: $before" ;; esac
[ "$(qc "SELECT username FROM cron.job WHERE jobname = 'nightly@$PGDATABASE'")" = "$owner" ] || fail "job not owned by $owner"
[ "$(qo "SELECT pgetl_definition('nightly')->'schedule'")" = '{"params": {"k": 1}, "schedule": "0 2 * * *"}' ] \
    || fail "definition: $(qo "SELECT pgetl_definition('nightly')")"
ok "apply with a schedule: cron job created as $owner, in the definition"

sched_xmin=$(q "SELECT xmin FROM pgetl.schedule")
r=$(qo "SELECT pgetl_apply(pgetl_definition('nightly'))")
case "$r" in *'"changed": false'*) ;; *) fail "second apply: $r" ;; esac
r=$(qo "SELECT pgetl_apply('$(doc '{"schedule": "0 2 * * *", "params": {"k": 1}}')')")
case "$r" in *'"changed": false'*) ;; *) fail "third apply: $r" ;; esac
[ "$(job_state)" = "$before" ] || fail "the cron job was rewritten: $before -> $(job_state)"
[ "$(q "SELECT xmin FROM pgetl.schedule")" = "$sched_xmin" ] || fail "pgetl.schedule was rewritten"
ok "applying the same document again: changed false, cron job and schedule row untouched"

r=$(qo "SELECT pgetl_apply('$(doc '{"schedule": "30 3 * * *", "params": {"k": 1}}')')")
case "$r" in *'"action": "update", "object": "schedule"'*'"schedule": {"to": "30 3 * * *", "from": "0 2 * * *"}'*) ;; *) fail "schedule change: $r" ;; esac
after=$(job_state)
[ "${after%% *}" = "${before%% *}" ] || fail "a new cron job instead of the same one: $before -> $after"
case "$after" in *" 30 3 * * * "*) ;; *) fail "cron job not updated: $after" ;; esac
[ "$(qc "SELECT count(*) FROM cron.job WHERE username = '$owner'")" = 1 ] || fail "more than one cron job"
ok "a changed schedule updates the one cron job"

r=$(qo "SELECT pgetl_apply('$(doc)')")
case "$r" in *'"action": "drop", "object": "schedule"'*) ;; *) fail "schedule removal: $r" ;; esac
[ "$(qc "SELECT count(*) FROM cron.job WHERE username = '$owner'")" = 0 ] || fail "cron job left: $(job_state)"
[ "$(q "SELECT count(*) FROM pgetl.schedule")" = 0 ] || fail "pgetl.schedule row left"
ok "a document without a schedule removes the cron job"

# versions: the schedule is part of the definition
[ "$(q "SELECT string_agg(version || ':' || (definition ? 'schedule'), ',' ORDER BY version) FROM pgetl.pipeline_version")" = "1:true,2:true,3:false" ] \
    || fail "versions: $(q "SELECT string_agg(version || ':' || definition::text, E'\n') FROM pgetl.pipeline_version")"
ok "each applied schedule change is a definition version"

# the data interval settings (catchup, start_date, timezone) are keys too,
# and round-trip; a schedule read in another time zone than UTC gets a
# cron job that fires every minute (pg_cron 1.4 reads UTC)
r=$(qo "SELECT pgetl_apply('$(doc '{"schedule": "30 3 * * *", "params": {"k": 1}, "catchup": true, "start_date": "2026-01-01", "timezone": "Europe/Paris"}')')")
case "$r" in *'"action": "create", "object": "schedule"'*'"catchup": {"to": true, "from": null}'*) ;; *) fail "interval settings: $r" ;; esac
[ "$(qo "SELECT pgetl_definition('nightly')->'schedule'")" = '{"params": {"k": 1}, "catchup": true, "schedule": "30 3 * * *", "timezone": "Europe/Paris", "start_date": "2026-01-01"}' ] \
    || fail "definition with interval settings: $(qo "SELECT pgetl_definition('nightly')")"
r=$(qo "SELECT pgetl_apply(pgetl_definition('nightly'))")
case "$r" in *'"changed": false'*) ;; *) fail "apply of the definition with interval settings: $r" ;; esac
case "$(job_state)" in *" * * * * * SELECT "*) ;; *) fail "cron job of a Paris schedule: $(job_state)" ;; esac
[ "$(q "SELECT catchup || ' ' || start_date || ' ' || timezone FROM pgetl.schedules")" = "true 2026-01-01 Europe/Paris" ] \
    || fail "pgetl.schedules: $(q "SELECT * FROM pgetl.schedules")"
ok "catchup, start_date and timezone round-trip through pgetl_definition; the Paris schedule's job fires every minute"
