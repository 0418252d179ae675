#!/usr/bin/env bash
# An Airflow DAG ported to pgetl, run end to end (issue 10 §7):
# test/airflow_port/regional_sales.sql holds the DAG's Python and the
# pipeline.  Three logical dates: a day with sales (the sensor waits until
# the batch arrives, the branch follows load_region, which maps over the
# day's two regions, the teardown drops the scratch table, no alert); a
# day without sales (the branch follows no_sales, the mapped task is
# skipped, summarize still runs by none_failed_min_one_success); a day
# with a bad region (its mapped instance fails after its retry, the other
# succeeds, the mapped task fails, summarize is upstream_failed, the
# teardown runs anyway, the run fails, and the on_failure alerts of the
# instance, with its map_index, and of the pipeline are written).
source "$(dirname "$0")/../engine/lib.sh"
setup_db
psql -X -q -v ON_ERROR_STOP=1 -f "$(dirname "$0")/regional_sales.sql" >/dev/null

# the final state of each task of a run, in task order: "name:state ..."
states() {
    q "SELECT string_agg(task || ':' || state, ' ' ORDER BY task_id)
         FROM pgetl._latest_tries($1)"
}
finished() { wait_for "SELECT state IN ('success', 'failed') FROM pgetl.pipeline_run WHERE run_id = $1" 60; }

# --- a day with sales: the sensor waits for its batch ---
qq "INSERT INTO raw_sales VALUES ('2026-01-01', 'north', 10), ('2026-01-01', 'north', 5), ('2026-01-01', 'south', 20)"
run=$(q "SELECT pgetl_run('regional_sales', logical_date => '2026-01-01', wait => false)")
wait_for "SELECT state = 'up_for_reschedule' FROM pgetl.task_run WHERE run_id = $run AND task = 'wait_for_batch'" 30 \
    || fail "the sensor never waited: $(states $run)"
[ "$(q "SELECT state FROM pgetl.task_run WHERE run_id = $run AND task = 'create_scratch'")" = scheduled ] \
    || fail "create_scratch started before the batch arrived: $(states $run)"
qq "INSERT INTO batches VALUES ('2026-01-01')"
finished "$run" || fail "run $run did not finish: $(states $run)"
got=$(states "$run")
want="wait_for_batch:success create_scratch:success choose:success load_region:success no_sales:skipped summarize:success drop_scratch:success"
[ "$got" = "$want" ] || fail "day with sales: $got"
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" = success ] || fail "run $run did not succeed"
got=$(q "SELECT string_agg(map_index || '=' || state || ':' || (map_value ->> 'region'), ' ' ORDER BY map_index)
           FROM pgetl.task_run_record WHERE run_id = $run AND task = 'load_region' AND map_index IS NOT NULL")
[ "$got" = "0=success:north 1=success:south" ] || fail "mapped instances: $got"
got=$(q "SELECT string_agg(region || '=' || total, ' ' ORDER BY region) FROM region_totals WHERE day = '2026-01-01'")
[ "$got" = "north=15 south=20" ] || fail "region totals: $got"
[ "$(q "SELECT to_regclass('scratch_sales') IS NULL")" = t ] || fail "the teardown did not drop scratch_sales"
[ "$(q "SELECT count(*) FROM alerts")" = 0 ] || fail "alerts on a good day: $(q "SELECT * FROM alerts")"
ok "day with sales: the sensor waited for the batch, load_region ran 2 mapped instances (north, south), the teardown dropped the scratch table, run $run succeeded without alert"

# --- a day without sales: the branch follows no_sales ---
qq "INSERT INTO batches VALUES ('2026-01-02')"
run=$(q "SELECT pgetl_run('regional_sales', logical_date => '2026-01-02', wait => false)")
finished "$run" || fail "run $run did not finish: $(states $run)"
got=$(states "$run")
want="wait_for_batch:success create_scratch:success choose:success load_region:skipped no_sales:success summarize:success drop_scratch:success"
[ "$got" = "$want" ] || fail "day without sales: $got"
[ "$(q "SELECT count(*) FROM pgetl.task_run WHERE run_id = $run AND map_index IS NOT NULL")" = 0 ] \
    || fail "a skipped mapped task expanded"
[ "$(q "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")" = success ] || fail "run $run did not succeed"
ok "day without sales: the branch skipped the mapped task, summarize ran (none_failed_min_one_success), run $run succeeded"

# --- a day with a bad region: one mapped instance fails, alerts are written ---
qq "INSERT INTO batches VALUES ('2026-01-03')"
qq "INSERT INTO raw_sales VALUES ('2026-01-03', 'north', 5), ('2026-01-03', 'south', -7)"
run=$(q "SELECT pgetl_run('regional_sales', logical_date => '2026-01-03', wait => false)")
finished "$run" || fail "run $run did not finish: $(states $run)"
got=$(states "$run")
want="wait_for_batch:success create_scratch:success choose:success load_region:failed no_sales:skipped summarize:upstream_failed drop_scratch:success"
[ "$got" = "$want" ] || fail "day with a bad region: $got"
[ "$(q "SELECT state || ' ' || reason FROM pgetl.pipeline_run WHERE run_id = $run")" = "failed task failed: load_region" ] \
    || fail "run $run: $(q "SELECT state, reason FROM pgetl.pipeline_run WHERE run_id = $run")"
got=$(q "SELECT string_agg(map_index || '/' || try_number || '=' || state || coalesce(':' || sqlstate, ''), ' ' ORDER BY map_index, try_number)
           FROM pgetl.task_run WHERE run_id = $run AND task = 'load_region' AND map_index IS NOT NULL")
[ "$got" = "0/1=success 1/1=up_for_retry:23514 1/2=failed:23514" ] || fail "mapped instances: $got"
[ "$(q "SELECT to_regclass('scratch_sales') IS NULL")" = t ] || fail "the teardown did not drop scratch_sales after the failure"
wait_for "SELECT count(*) = 2 FROM alerts" 30 || fail "alerts: $(q "SELECT * FROM alerts")"
got=$(q "SELECT string_agg(concat_ws('|', pipeline, task, map_index, event, error ~ 'scratch_sales_total_check'), ' ' ORDER BY map_index NULLS LAST)
           FROM alerts")
[ "$got" = "regional_sales|load_region|1|on_failure|t regional_sales|load_region|on_failure|f" ] || fail "alert rows: $got"
[ "$(q "SELECT error FROM alerts WHERE map_index IS NULL")" = "task failed: load_region" ] \
    || fail "the pipeline's alert: $(q "SELECT error FROM alerts WHERE map_index IS NULL")"
ok "day with a bad region: mapped instance 1 (south) failed after its retry (23514), load_region failed, summarize upstream_failed, the teardown still ran, run $run failed, and the instance's and the pipeline's on_failure alerts were written"
