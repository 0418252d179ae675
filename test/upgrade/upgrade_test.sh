#!/usr/bin/env bash
# Upgrades: a database made on the released 0.1 (with pipelines, runs, load
# specs, stages, loads and rejects), after ALTER EXTENSION pgetl UPDATE, has
# exactly the catalog of a fresh install (test/upgrade/catalog.sql: every
# member object, column, constraint, index, trigger, function body, view,
# privilege, comment and dumped table), keeps its data, and still runs.
source "$(dirname "$0")/../engine/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
up=pgetl_up_$$
fresh=pgetl_fresh_$$
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $up WITH (FORCE)" -c "DROP DATABASE IF EXISTS $fresh WITH (FORCE)" -c "DROP OWNED BY fx" -c "DROP ROLE IF EXISTS fx" >/dev/null 2>&1 || true' EXIT
psql -X -q -d postgres -c "CREATE DATABASE $up" -c "CREATE DATABASE $fresh" >/dev/null

latest=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$here/../../pgetl.control")
first=0.1
export PGDATABASE=$up
q "CREATE EXTENSION pgetl VERSION '$first'"
psql -X -q -v ON_ERROR_STOP=1 -f "$here/fixture.sql" > /tmp/fixture_$$.log 2>&1 \
    || { cat /tmp/fixture_$$.log; rm -f /tmp/fixture_$$.log; fail "fixture failed"; }
rm -f /tmp/fixture_$$.log
counts="SELECT (SELECT count(*) FROM pgetl.pipeline) || ' pipelines, ' || (SELECT count(*) FROM pgetl.task) || ' tasks, '
           || (SELECT count(*) FROM pgetl.run_record) || ' runs, ' || (SELECT count(*) FROM pgetl.task_run_record) || ' task runs, '
           || (SELECT count(*) FROM pgetl.load_spec) || ' specs, ' || (SELECT count(*) FROM pgetl.load_record) || ' loads, '
           || (SELECT count(*) FROM pgetl.reject_record) || ' rejects, ' || (SELECT count(*) FROM pgetl.stage) || ' stages'"
# a spec whose options set every setting 0.1 also kept in columns beside
# its document (dropped by 91_load_spec_doc.sql): the loader and pgetl.loads
# read them from the document after the update, defaults applied; a
# max_rejects with a fraction was rounded in 0.1's bigint column
q "SET ROLE fx; CREATE TABLE fx.dialect (id integer PRIMARY KEY, note text);
   SELECT pgetl_define_load('fx_dialect_load', 'fx.dialect', '[{\"name\": \"id\"}, {\"name\": \"note\"}]',
       '{\"delimiter\": \";\", \"quote\": \"''\", \"escape\": \"^\", \"header\": false, \"null\": \"NA\",
         \"encoding\": \"LATIN1\", \"mode\": \"upsert\", \"conflict_key\": [\"id\"], \"on_conflict\": \"nothing\",
         \"max_rejects\": 2.5, \"max_reject_ratio\": 0.25}')" >/dev/null
settings="SELECT string_agg(concat_ws('|', load, mode, header, delimiter, quote, escape, null_string, encoding,
                 conflict_key, on_conflict, max_rejects, max_reject_ratio), E'\n' ORDER BY load) FROM pgetl.loads"
settings_before=$(q "$settings")
grep -q '^fx_dialect_load|upsert|f|;|'"'"'|\^|NA|LATIN1|{id}|nothing|3|0.25$' <<<"$settings_before" \
    || fail "the dialect spec on $first: $settings_before"
before=$(q "$counts")
runs_before=$(q "SELECT string_agg(run_id || ':' || pipeline || ':' || state || ':' || tasks_success, ',' ORDER BY run_id) FROM pgetl.pipeline_run")
ok "made on $first: $before"

q "ALTER EXTENSION pgetl UPDATE"
[ "$(q "SELECT extversion FROM pg_extension WHERE extname = 'pgetl'")" = "$latest" ] || fail "not at $latest after the update"
PGDATABASE=$fresh q "CREATE EXTENSION pgetl"
psql -X -q -d "$up" -f "$here/catalog.sql" > /tmp/catalog_upgraded_$$.txt
psql -X -q -d "$fresh" -f "$here/catalog.sql" > /tmp/catalog_fresh_$$.txt
[ "$(wc -l < /tmp/catalog_fresh_$$.txt)" -gt 200 ] || fail "catalog description too short: $(wc -l < /tmp/catalog_fresh_$$.txt) lines"
if ! diff -u /tmp/catalog_fresh_$$.txt /tmp/catalog_upgraded_$$.txt > /tmp/catalog_diff_$$.txt; then
    head -c 6000 /tmp/catalog_diff_$$.txt
    rm -f /tmp/catalog_*_$$.txt
    fail "the catalog after ALTER EXTENSION pgetl UPDATE ($first -> $latest) differs from a fresh $latest (- fresh, + upgraded)"
fi
ok "catalog after $first -> $latest equals a fresh $latest install ($(wc -l < /tmp/catalog_fresh_$$.txt) lines compared)"
# control: the comparison sees a changed comment
PGDATABASE=$fresh q "COMMENT ON COLUMN pgetl.pipeline.name IS 'changed'"
psql -X -q -d "$fresh" -f "$here/catalog.sql" | diff -q - /tmp/catalog_upgraded_$$.txt >/dev/null \
    && fail "the catalog comparison does not see a changed comment"
rm -f /tmp/catalog_*_$$.txt

[ "$(q "$counts")" = "$before" ] || fail "data changed by the update: $(q "$counts")"
[ "$(q "SELECT string_agg(run_id || ':' || pipeline || ':' || state || ':' || tasks_success, ',' ORDER BY run_id) FROM pgetl.pipeline_run")" = "$runs_before" ] \
    || fail "run history changed: $(q "SELECT string_agg(run_id || ':' || pipeline || ':' || state || ':' || tasks_success, ',' ORDER BY run_id) FROM pgetl.pipeline_run")"
[ "$(q "$settings")" = "$settings_before" ] \
    || fail "specs' settings changed by the update: $(q "$settings") (before: $settings_before)"
ok "every row kept: $before"

run=$(q "SET ROLE fx; SELECT pgetl_run('fx_daily', logical_date => '2024-02-01')")
[ "$(q "SELECT state || ':' || tasks_success FROM pgetl.pipeline_run WHERE run_id = $run")" = "success:4" ] \
    || fail "run after upgrade: $(q "SELECT state, reason FROM pgetl.pipeline_run WHERE run_id = $run")"
[ "$(q "SET ROLE fx; SELECT rows_loaded || '/' || rows_rejected FROM pgetl_load('fx_sales_load', 'fx_sales')")" = "3/2" ] \
    || fail "load after upgrade"
ok "pipelines run and specs load after the update (run $run)"
# the dialect read from the document: ; delimited, ' quoted, no header, NA null
q "SET ROLE fx; SELECT pgetl_stage('fx_dialect', convert_to(E'1;''a;b''\\n2;NA\\n', 'LATIN1'))" >/dev/null
[ "$(q "SET ROLE fx; SELECT rows_loaded || '/' || rows_rejected FROM pgetl_load('fx_dialect_load', 'fx_dialect')")" = "2/0" ] \
    || fail "the dialect spec does not load after the update"
[ "$(q "SELECT string_agg(id || '=' || coalesce(note, 'NULL'), ',' ORDER BY id) FROM fx.dialect")" = "1=a;b,2=NULL" ] \
    || fail "the dialect spec loaded: $(q "SELECT string_agg(id || '=' || coalesce(note, 'NULL'), ',' ORDER BY id) FROM fx.dialect")"
ok "a spec's dialect is read from its document after the update"
