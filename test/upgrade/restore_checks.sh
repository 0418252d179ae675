#!/usr/bin/env bash
# The fresh-cluster half of test/upgrade/dump_test.sh (which starts this in
# a cluster of its own and passes what it dumped in DUMP_* variables).
set -uo pipefail
source "$(dirname "$0")/../engine/lib.sh"
export PGDATABASE=$DUMP_DB
psql -X -q -d postgres -f "$DUMP_WORK/globals.sql" >/dev/null 2>&1
psql -X -q -d postgres -c "CREATE DATABASE $DUMP_DB" >/dev/null
pg_restore --exit-on-error -d "$DUMP_DB" "$DUMP_WORK/db.dump" || fail "pg_restore failed"
ok "pg_restore into a fresh cluster succeeded"

after=$(q "$DUMP_DIGEST")
if [ "$after" != "$DUMP_BEFORE" ]; then
    diff <(echo "$DUMP_BEFORE") <(echo "$after")
    fail "pgetl tables differ after the restore (row counts and digests above: < dumped, > restored)"
fi
ok "every row of every pgetl table is back, unchanged"
[ "$(q "$DUMP_SEQS")" = "$DUMP_SEQ_BEFORE" ] || fail "sequences: $(q "$DUMP_SEQS") (were $DUMP_SEQ_BEFORE)"
ok "identity sequences continue where they were"

runs="SELECT string_agg(pipeline || ':' || state || ':' || tasks_success, ',' ORDER BY run_id) FROM pgetl.pipeline_run"
[ "$(q "$runs")" = "fx_daily:success:4,fx_flaky:success:2,fx_slow:running:0" ] || fail "restored runs: $(q "$runs")"
# the run that was going when the dump was taken has no coordinator here:
# the next pgetl_run recovers it (failed, "server restarted") and runs
q "UPDATE fx.nap SET seconds = 0" >/dev/null
slow=$(q "SET ROLE fx; SELECT pgetl_run('fx_slow')") || fail "fx_slow after restore"
[ "$(q "SELECT string_agg(state || ':' || coalesce(reason, ''), ',' ORDER BY run_id) FROM pgetl.pipeline_run WHERE pipeline = 'fx_slow'")" \
    = "failed:server restarted,success:" ] || fail "fx_slow runs: $(q "SELECT string_agg(state || ':' || coalesce(reason, ''), ',' ORDER BY run_id) FROM pgetl.pipeline_run WHERE pipeline = 'fx_slow'")"
ok "a run that was active in the dump is marked failed (server restarted) by the next run, which succeeds"
run=$(q "SET ROLE fx; SELECT pgetl_run('fx_daily', logical_date => '2024-03-01')") || fail "run after restore failed"
[ "$(q "SELECT state || ':' || tasks_success FROM pgetl.pipeline_run WHERE run_id = $run")" = "success:4" ] || fail "run $run"
[ "$run" -gt 4 ] || fail "new run id $run collides with restored ones"
qq "SET ROLE fx; SELECT pgetl_create_pipeline('fx_new')" || fail "a new pipeline after restore"
[ "$(q "SET ROLE fx; SELECT rows_loaded || '/' || rows_rejected FROM pgetl_load('fx_sales_load', 'fx_sales')")" = "3/2" ] \
    || fail "the restored spec and stage do not load"
[ "$(q "SELECT ref_relids::text FROM pgetl.load_spec WHERE name = 'fx_ref_load'")" = "{fx.region_list,NULL}" ] \
    || fail "ref_relids of fx_ref_load after restore: $(q "SELECT ref_relids::text FROM pgetl.load_spec WHERE name = 'fx_ref_load'")"
[ "$(q "SET ROLE fx; SELECT rows_loaded || '/' || rows_rejected FROM pgetl_load('fx_ref_load', 'fx_sales')")" = "4/1" ] \
    || fail "the restored spec with references does not load 4 rows and reject west"
[ "$(q "SELECT schedule FROM pgetl.schedules WHERE pipeline = 'fx_daily'")" = "0 3 * * *" ] || fail "schedule not restored"
ok "the restored pipeline runs (run $run), new definitions get new ids, the specs load the stage (references by the restored table), the schedule is kept"
