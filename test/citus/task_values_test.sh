#!/usr/bin/env bash
# Task functions inside distributed queries (issue 14, part 1).  Citus
# ships a SELECT's STABLE functions to the workers inside the shard
# queries, where pgetl_logical_date()/pgetl_run_id() returned NULL and
# pgetl_param()/pgetl_result() raised 55000: tasks "succeeded" with wrong
# results.  Each of the four functions is used here in a router query, a
# multi-shard query, an INSERT ... SELECT into a distributed table and a
# CREATE TABLE AS, plus a check and an export task, run by an ordinary
# owner; every result must be the run's.  The data interval functions and
# a mapped task's pgetl_map_value()/pgetl_map_index() are used in
# multi-shard queries.  Outside a task, all of them raise 55000 on the
# coordinator and inside a shard query.
# Needs Citus (exit 77, skipped, without it).
cd "$(dirname "$0")/../.."
. test/citus/lib.sh
citus_require
citus_start
exp=$(mktemp -d /tmp/pgetl-citus-exp.XXXXXX)
chmod 1777 "$exp"
trap 'citus_stop; rm -rf "$exp"' EXIT

psql -X -q -p "$COORD" -v ON_ERROR_STOP=1 -v exp="$exp" >/dev/null <<'SQL'
CREATE ROLE etl LOGIN;
GRANT CREATE ON DATABASE citus TO etl;
GRANT CREATE, USAGE ON SCHEMA public TO etl;
GRANT pg_write_server_files TO etl;
SET ROLE etl;
CREATE TABLE ev (id integer, ts date, v integer);
SELECT create_distributed_table('ev', 'id');
-- 10 days of 100 rows; 2024-01-10 has ids 901..1000, v = id % 7
INSERT INTO ev SELECT i, DATE '2024-01-01' + (i - 1) / 100, i % 7 FROM generate_series(1, 1000) i;
CREATE TABLE ev_copy (id integer, ts date, v integer, tag text);
SELECT create_distributed_table('ev_copy', 'id', colocate_with => 'ev');
CREATE TABLE res (name text, n bigint);
SELECT pgetl_create_pipeline('p', params => '{"day": "2024-01-10", "id": 950}');
-- the upstream whose result the others read: {"min_v": 3}
SELECT pgetl_add_task('p', 'base', $$SELECT 3 AS min_v, 950 AS id$$);
-- multi-shard SELECT (its rows go into a coordinator table)
SELECT pgetl_add_task('p', 'ms_date', $$INSERT INTO res SELECT 'ms_date', count(*) FROM ev WHERE ts = pgetl_logical_date()$$, '{base}');
SELECT pgetl_add_task('p', 'ms_param', $$INSERT INTO res SELECT 'ms_param', count(*) FROM ev WHERE ts = pgetl_param('day')::date$$, '{base}');
SELECT pgetl_add_task('p', 'ms_result', $$INSERT INTO res SELECT 'ms_result', count(*) FROM ev WHERE ts = '2024-01-10' AND v >= (pgetl_result('base')->>'min_v')::int$$, '{base}');
SELECT pgetl_add_task('p', 'ms_run', $$INSERT INTO res SELECT 'ms_run', max(pgetl_run_id()) FROM ev$$, '{base}');
-- the data interval (an unscheduled pipeline's: [logical date, logical
-- date] at midnight UTC) and a mapped task's value and index, multi-shard
SELECT pgetl_add_task('p', 'ms_interval', $$INSERT INTO res SELECT 'ms_interval', count(*) FROM ev
    WHERE ts >= (pgetl_data_interval_start() AT TIME ZONE 'UTC')::date AND ts <= (pgetl_data_interval_end() AT TIME ZONE 'UTC')::date$$, '{base}');
SELECT pgetl_add_task('p', 'ms_mapped', $$INSERT INTO res SELECT 'ms_map_' || pgetl_map_value('d'), count(*) FROM ev
    WHERE ts = pgetl_map_value('d')::date AND pgetl_map_index() = (pgetl_map_value('i'))::int$$, '{base}',
    map_over => $$SELECT d, i FROM (VALUES ('2024-01-09', 0), ('2024-01-03', 1)) v(d, i)$$);
-- router (single shard) SELECT
SELECT pgetl_add_task('p', 'rt_date', $$INSERT INTO res SELECT 'rt_date', count(*) FROM ev WHERE id = 950 AND ts = pgetl_logical_date()$$, '{base}');
SELECT pgetl_add_task('p', 'rt_param', $$INSERT INTO res SELECT 'rt_param', count(*) FROM ev WHERE id = pgetl_param('id')::int$$, '{base}');
SELECT pgetl_add_task('p', 'rt_result', $$INSERT INTO res SELECT 'rt_result', count(*) FROM ev WHERE id = 950 AND v >= (pgetl_result('base')->>'min_v')::int - 3$$, '{base}');
SELECT pgetl_add_task('p', 'rt_run', $$INSERT INTO res SELECT 'rt_run', max(pgetl_run_id()) FROM ev WHERE id = 950$$, '{base}');
-- INSERT ... SELECT between co-located distributed tables (pushed down)
SELECT pgetl_add_task('p', 'is', $$
  INSERT INTO ev_copy SELECT id, ts, v, 'date' FROM ev WHERE ts = pgetl_logical_date();
  INSERT INTO ev_copy SELECT id, ts, v, 'param' FROM ev WHERE ts = pgetl_param('day')::date;
  INSERT INTO ev_copy SELECT id, ts, v, 'result' FROM ev WHERE ts = '2024-01-10' AND v >= (pgetl_result('base')->>'min_v')::int;
  INSERT INTO ev_copy SELECT id, ts, pgetl_run_id(), 'run' FROM ev WHERE ts = '2024-01-10'$$, '{base}');
-- CREATE TABLE AS from distributed queries
SELECT pgetl_add_task('p', 'ctas', $$
  CREATE TABLE ctas_date AS SELECT * FROM ev WHERE ts = pgetl_logical_date();
  CREATE TABLE ctas_param AS SELECT * FROM ev WHERE ts = pgetl_param('day')::date;
  CREATE TABLE ctas_result AS SELECT * FROM ev WHERE ts = '2024-01-10' AND v >= (pgetl_result('base')->>'min_v')::int;
  CREATE TABLE ctas_run AS SELECT id, pgetl_run_id() AS run FROM ev WHERE ts = '2024-01-10'$$, '{base}');
-- a check and an export
SELECT pgetl_add_task('p', 'chk', $$SELECT count(*) = 100 AS hundred FROM ev WHERE ts = pgetl_logical_date()$$, '{base}', kind => 'check');
SELECT pgetl_add_task('p', 'x', $$SELECT id FROM ev WHERE ts = pgetl_logical_date() AND pgetl_run_id() IS NOT NULL$$, '{base}',
                      kind => 'export', config => jsonb_build_object('path', :'exp' || '/x_{logical_date}.csv'));
SQL

run=$(psql -X -A -t -q -p "$COORD" -U etl -v ON_ERROR_STOP=1 -c "SELECT pgetl_run('p', logical_date => '2024-01-10')")
state=$(c "SELECT state FROM pgetl.pipeline_run WHERE run_id = $run")
if [ "$state" != success ]; then
    c "SELECT task, state, sqlstate, error, detail FROM pgetl.task_run WHERE run_id = $run AND state <> 'success'" >&2
    fail "run $run: $state"
fi
ok "a pipeline of distributed queries using the task functions succeeded (run $run)"

# what each query saw; expected: the run's values
expect() {   # NAME GOT WANT
    [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
    ok "$1 = $3"
}
res() { c "SELECT n FROM res WHERE name = '$1'"; }
# rows of 2024-01-10 with v = id % 7 >= 3
want_v3=$(c "SELECT count(*) FROM generate_series(901, 1000) i WHERE i % 7 >= 3")
expect "multi-shard, pgetl_logical_date()" "$(res ms_date)" 100
expect "multi-shard, pgetl_param()" "$(res ms_param)" 100
expect "multi-shard, pgetl_result()" "$(res ms_result)" "$want_v3"
expect "multi-shard, pgetl_run_id()" "$(res ms_run)" "$run"
expect "multi-shard, pgetl_data_interval_start()/_end()" "$(res ms_interval)" 100
expect "multi-shard, pgetl_map_value()/pgetl_map_index(), instance 0" "$(res ms_map_2024-01-09)" 100
expect "multi-shard, pgetl_map_value()/pgetl_map_index(), instance 1" "$(res ms_map_2024-01-03)" 100
expect "router, pgetl_logical_date()" "$(res rt_date)" 1
expect "router, pgetl_param()" "$(res rt_param)" 1
expect "router, pgetl_result()" "$(res rt_result)" 1
expect "router, pgetl_run_id()" "$(res rt_run)" "$run"
expect "INSERT ... SELECT, pgetl_logical_date()" "$(c "SELECT count(*) FROM ev_copy WHERE tag = 'date'")" 100
expect "INSERT ... SELECT, pgetl_param()" "$(c "SELECT count(*) FROM ev_copy WHERE tag = 'param'")" 100
expect "INSERT ... SELECT, pgetl_result()" "$(c "SELECT count(*) FROM ev_copy WHERE tag = 'result'")" "$want_v3"
expect "INSERT ... SELECT, pgetl_run_id()" "$(c "SELECT count(*) FROM ev_copy WHERE tag = 'run' AND v = $run")" 100
expect "CREATE TABLE AS, pgetl_logical_date()" "$(c "SELECT count(*) FROM ctas_date")" 100
expect "CREATE TABLE AS, pgetl_param()" "$(c "SELECT count(*) FROM ctas_param")" 100
expect "CREATE TABLE AS, pgetl_result()" "$(c "SELECT count(*) FROM ctas_result")" "$want_v3"
expect "CREATE TABLE AS, pgetl_run_id()" "$(c "SELECT count(*) FROM ctas_run WHERE run = $run")" 100
expect "export, rows" "$(c "SELECT rows FROM pgetl.task_run WHERE run_id = $run AND task = 'x'")" 100
expect "export, file" "$(($(wc -l < "$exp/x_2024-01-10.csv") - 1))" 100

# a call that cannot be folded (a non-constant argument) fails loudly on
# the worker instead of giving NULL
psql -X -q -p "$COORD" -U etl -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT pgetl_create_pipeline('q', params => '{"day": "2024-01-10"}');
SELECT pgetl_add_task('q', 'nonconst', $$INSERT INTO res SELECT 'nonconst', count(*) FROM ev WHERE ts::text = pgetl_param(CASE WHEN v > 100 THEN 'x' ELSE 'day' END)$$);
SQL
psql -X -A -t -q -p "$COORD" -U etl -c "SELECT pgetl_run('q', logical_date => '2024-01-10')" >/dev/null 2>&1 || true
run2=$(c "SELECT max(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'q'")
expect "a non-constant argument in a shard query: the task fails" \
    "$(c "SELECT state || ' ' || sqlstate FROM pgetl.task_run WHERE run_id = $run2 AND task = 'nonconst'")" "failed 55000"
expect "  ... with the message of the worker" \
    "$(c "SELECT error FROM pgetl.task_run WHERE run_id = $run2 AND task = 'nonconst'")" \
    "pgetl_param() can only be called inside a pipeline task"

# outside a task: 55000, on the coordinator and inside shard queries
for f in "pgetl_logical_date()" "pgetl_run_id()" "pgetl_param('day')" "pgetl_result('base')" \
         "pgetl_data_interval_start()" "pgetl_data_interval_end()" "pgetl_map_value('d')" "pgetl_map_index()"; do
    for sql in "SELECT $f" "SELECT count(*) FROM ev WHERE ($f)::text IS NOT NULL" \
               "SELECT count(*) FROM ev WHERE id = 950 AND ($f)::text IS NOT NULL"; do
        got=$(psql -X -A -t -q -p "$COORD" -U etl -v VERBOSITY=verbose -c "$sql" 2>&1 | sed -n 's/^ERROR:  \([0-9A-Z]*\): .*/\1/p' | head -n 1 || true)
        [ "$got" = 55000 ] || fail "outside a task, $sql: expected ERROR 55000, got '${got:-no error}'"
    done
    ok "outside a task, $f raises 55000 (plain, multi-shard, router)"
done
echo "all task-value checks passed"
