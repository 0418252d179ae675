#!/usr/bin/env bash
# Owners of pgetl objects, and DROP EXTENSION:
#   - DROP ROLE of an owner of pipelines, load specs or staged data fails in
#     the database that has them (2BP01, hint: pgetl_reassign_owned);
#   - dropped from another database (roles are global), the owner leaves
#     orphans: errors name the dropped role; a superuser can unschedule and
#     drop them, and pgetl_reassign_owned gives them (and their cron jobs)
#     a new owner;
#   - pgetl_alter_pipeline(owner => ...) moves the cron job too;
#   - DROP EXTENSION pgetl removes the pipelines' cron jobs.
source "$(dirname "$0")/lib.sh"
setup_db
cron_db=$(psql -X -A -t -d postgres -c "SHOW cron.database_name")
o1=pgetl_own1_$$
o2=pgetl_own2_$$
o3=pgetl_own3_$$
created_cron=no
qc() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$cron_db" -c "$1"; }
qo() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "SET ROLE $1" -c "$2"; }
err_of() { psql -X -A -t -q -v VERBOSITY=verbose -c "$1" 2>&1 >/dev/null || true; }
jobs_of() { qc "SELECT coalesce(string_agg(jobname || ':' || username, ' ' ORDER BY jobname), '') FROM cron.job WHERE jobname LIKE '%@$PGDATABASE'"; }
cleanup() {
    qc "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE '%@$PGDATABASE'" >/dev/null 2>&1 || true
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" >/dev/null 2>&1 || true
    for r in $o1 $o2 $o3; do
        psql -X -q -d "$cron_db" -c "DROP OWNED BY $r" -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1 || true
    done
    # leave the cron database as the suite found it (schedule_test.sh
    # tests pgetl_schedule without pg_cron created there first)
    [ "$created_cron" = yes ] && qc "DROP EXTENSION IF EXISTS pg_cron" >/dev/null 2>&1 || true
}
trap cleanup EXIT

if [ "$(qc "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")" = 0 ]; then
    qc "CREATE EXTENSION pg_cron"
    created_cron=yes
fi
for r in $o1 $o2 $o3; do
    psql -X -q -d postgres -c "CREATE ROLE $r LOGIN"
    qc "GRANT USAGE ON SCHEMA cron TO $r"
    qc "GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean) TO $r"
done
q "CREATE TABLE items (id int); GRANT INSERT ON items TO $o1"
for p in p1 p2 p3; do
    qo $o1 "SELECT pgetl_create_pipeline('$p')" >/dev/null
    qo $o1 "SELECT pgetl_add_task('$p', 't', 'SELECT current_user AS who')" >/dev/null
    qo $o1 "SELECT pgetl_schedule('$p', '0 0 1 1 *')" >/dev/null
done
qo $o1 "SELECT pgetl_define_load('items_csv', 'items', '[{\"name\": \"id\"}]')" >/dev/null
qo $o1 "SELECT pgetl_stage('items_upload', convert_to(E'id\\n1\\n', 'UTF8'))" >/dev/null
[ "$(jobs_of)" = "p1@$PGDATABASE:$o1 p2@$PGDATABASE:$o1 p3@$PGDATABASE:$o1" ] || fail "cron jobs: $(jobs_of)"

# DROP ROLE in the database where the role owns pgetl objects: refused
e=$(err_of "DROP ROLE $o1")
case "$e" in
    *"2BP01: role \"$o1\" cannot be dropped because it owns pgetl objects"*"3 pipeline(s) (p1, p2, p3), 1 load spec(s) (items_csv), 1 staged data set(s) (items_upload)"*"HINT:"*"pgetl_reassign_owned('$o1', 'new_owner')"*)
        ok "DROP ROLE of an owner is refused where it owns pgetl objects (2BP01, with the hint)" ;;
    *) fail "DROP ROLE $o1: $e" ;;
esac

# roles are global: dropped from another database, the owner leaves orphans
psql -X -q -d postgres -c "REVOKE ALL ON SCHEMA cron FROM $o1" 2>/dev/null || true
qc "DROP OWNED BY $o1"
psql -X -q -d "$PGDATABASE" -c "REVOKE ALL ON items FROM $o1"
oid1=$(q "SELECT owner::oid FROM pgetl.pipeline WHERE name = 'p1'")
psql -X -q -d postgres -c "DROP ROLE $o1"
ok "dropped $o1 (OID $oid1) from another database"

e=$(err_of "SELECT pgetl_run('p1')")
case "$e" in
    *"42704: role with OID $oid1 cannot run pipeline tasks: it was dropped"*"HINT:"*"pgetl_reassign_owned('$oid1', 'new_owner')"*) ok "running an orphan names the dropped role: 42704" ;;
    *) fail "run of an orphan: $e" ;;
esac

# a superuser can unschedule and drop orphans; their cron jobs go
q "SELECT pgetl_unschedule('p1')" >/dev/null || fail "superuser could not unschedule an orphan"
q "SELECT pgetl_drop_pipeline('p2')" >/dev/null || fail "superuser could not drop an orphan"
[ "$(jobs_of)" = "p3@$PGDATABASE:$o1" ] || fail "cron jobs after unschedule/drop of orphans: $(jobs_of)"
ok "a superuser unscheduled p1 and dropped p2, orphans: their cron jobs are gone"

# a non-superuser cannot reassign someone else's objects
e=$(err_of "SET ROLE $o2; SELECT pgetl_reassign_owned('$oid1', '$o2')")
case "$e" in *"42501: permission denied to reassign objects of role with OID $oid1 (dropped)"*) ;; *) fail "reassign by $o2: $e" ;; esac
# pgetl_reassign_owned by OID: pipelines (with the cron job), spec, stage
[ "$(q "SELECT pgetl_reassign_owned('$oid1', '$o2')")" = 4 ] || fail "reassign count"
[ "$(q "SELECT string_agg(name || ':' || owner, ' ' ORDER BY name) FROM pgetl.pipeline")" = "p1:$o2 p3:$o2" ] || fail "pipelines after reassign"
[ "$(q "SELECT owner FROM pgetl.load_spec")|$(q "SELECT owner FROM pgetl.stage")" = "$o2|$o2" ] || fail "spec/stage after reassign"
[ "$(jobs_of)" = "p3@$PGDATABASE:$o2" ] || fail "cron jobs after reassign: $(jobs_of)"
[ "$(q "SELECT jobid FROM pgetl.schedule s JOIN pgetl.pipeline p USING (pipeline_id) WHERE name = 'p3'")" \
    = "$(qc "SELECT jobid FROM cron.job WHERE jobname = 'p3@$PGDATABASE'")" ] || fail "recorded jobid"
r=$(qo $o2 "SELECT pgetl_run('p3')")
[ "$(q "SELECT result->>'who' FROM pgetl.task_run WHERE run_id = $r")" = "$o2" ] || fail "p3 did not run as $o2"
ok "pgetl_reassign_owned('$oid1', '$o2'): pipelines, load spec, stage and cron job moved; p3 runs as $o2"

# pgetl_alter_pipeline(owner => ...) by a superuser moves the cron job
q "SELECT pgetl_alter_pipeline('p3', owner => '$o3')" >/dev/null
[ "$(jobs_of)" = "p3@$PGDATABASE:$o3" ] || fail "cron job after alter owner: $(jobs_of)"
[ "$(q "SELECT owner FROM pgetl.pipelines WHERE pipeline = 'p3'")" = "$o3" ] || fail "owner after alter"
# by a member of the old owner who is not a member of the new one: refused
e=$(err_of "SET ROLE $o3; SELECT pgetl_alter_pipeline('p3', owner => '$o2')")
case "$e" in *"42501: must be able to SET ROLE \"$o2\""*) ;; *) fail "alter owner to a non-member role: $e" ;; esac
ok "pgetl_alter_pipeline(owner => $o3) moved the cron job; giving it away needs membership in the new owner"

# DROP EXTENSION pgetl removes the cron jobs of this database's pipelines
q "DROP EXTENSION pgetl"
[ -z "$(jobs_of)" ] || fail "cron jobs after DROP EXTENSION: $(jobs_of)"
ok "DROP EXTENSION pgetl removed the pipelines' cron jobs"
