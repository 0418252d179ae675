#!/usr/bin/env bash
# Backups: pg_dump of a database with pipelines, runs (one failed and
# resumed, one still running), load specs, staged data, loads with rejects and a schedule,
# restored with pg_restore into a fresh cluster (after pg_dumpall
# --globals-only, as a DBA moves a database), brings back every row of every
# pgetl table unchanged, new ids continue after the restored ones, and the
# pipeline runs and the spec loads there.
source "$(dirname "$0")/../engine/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/pgetl-dump.XXXXXX)
chmod 755 "$work"
export PGDATABASE=pgetl_dump_$$
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $PGDATABASE WITH (FORCE)" -c "DELETE FROM cron.job WHERE username = '"'"'fx'"'"'" -c "DROP OWNED BY fx" -c "DROP ROLE IF EXISTS fx" >/dev/null 2>&1; rm -rf "$work"' EXIT
psql -X -q -d postgres -c "CREATE DATABASE $PGDATABASE" -c "CREATE EXTENSION IF NOT EXISTS pg_cron" >/dev/null
q "CREATE EXTENSION pgetl"

# Every table of schema pgetl is dumped (src/sql/95_dump.sql), except the
# state machine's transition tables and the task kinds and trigger rules:
# catalog data that CREATE EXTENSION fills (src/sql/20_history.sql,
# src/sql/10_pipeline.sql), not user data
undumped=$(q "SELECT string_agg(c.oid::regclass::text, ', ') FROM pg_class c, pg_extension e
               WHERE e.extname = 'pgetl' AND c.relnamespace = 'pgetl'::regnamespace AND c.relkind IN ('r', 'p', 'S')
                 AND NOT c.oid = ANY (e.extconfig)
                 AND c.oid NOT IN ('pgetl.run_state_transition'::regclass, 'pgetl.task_state_transition'::regclass,
                                   'pgetl.task_kind'::regclass, 'pgetl.trigger_rule'::regclass)")
[ -z "$undumped" ] || fail "pgetl tables pg_dump would not dump: $undumped"
ok "every table and sequence of schema pgetl but the state transition tables, task kinds and trigger rules is an extension configuration table"

psql -X -q -v ON_ERROR_STOP=1 -f "$here/fixture.sql" > "$work/fixture.log" 2>&1 || { cat "$work/fixture.log"; fail "fixture failed"; }
# a spec with a rule resolved when it is defined: the table "references"
# names, kept by OID in pgetl.load_spec.ref_relids (by name in the dump)
qq "SET ROLE fx; CREATE TABLE fx.region_list (name text PRIMARY KEY);
    INSERT INTO fx.region_list VALUES ('north'), ('south'), ('east')"
qq "SET ROLE fx; SELECT pgetl_define_load('fx_ref_load', 'fx.summary',
    '[{\"name\": \"region\", \"references\": {\"table\": \"fx.region_list\", \"column\": \"name\"}},
      {\"name\": \"amount\", \"target\": \"total\"}]', '{\"unlisted_columns\": \"ignore\"}')"
[ "$(q "SELECT ref_relids::text FROM pgetl.load_spec WHERE name = 'fx_ref_load'")" = "{fx.region_list,NULL}" ] \
    || fail "ref_relids of fx_ref_load: $(q "SELECT ref_relids::text FROM pgetl.load_spec WHERE name = 'fx_ref_load'")"
[ "$(q "SET ROLE fx; SELECT rows_loaded || '/' || rows_rejected FROM pgetl_load('fx_ref_load', 'fx_sales')")" = "4/1" ] \
    || fail "fx_ref_load does not load 4 rows and reject west"
psql -X -q -d postgres -c "GRANT USAGE ON SCHEMA cron TO fx" \
    -c "GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean) TO fx" >/dev/null
qq "SET ROLE fx; SELECT pgetl_schedule('fx_daily', '0 3 * * *', '{\"min_total\": 1}')"
# a run still going when the dump is taken
q "CREATE TABLE fx.nap (seconds int); INSERT INTO fx.nap VALUES (600); GRANT SELECT ON fx.nap TO fx" >/dev/null
qq "SET ROLE fx; SELECT pgetl_create_pipeline('fx_slow'); SELECT pgetl_add_task('fx_slow', 'nap', 'SELECT pg_sleep(seconds) FROM fx.nap')"
# a task pool (user data) and a task that uses it: restored in an order the foreign key allows
qq "SELECT pgetl_create_pool('fx_pool', 3, 'kept by pg_dump')"
qq "SET ROLE fx; SELECT pgetl_create_pipeline('fx_pooled', max_active_tasks => 2); SELECT pgetl_add_task('fx_pooled', 'one', 'SELECT 1', pool => 'fx_pool', pool_slots => 2, priority_weight => 3)"
slow=$(q "SET ROLE fx; SELECT pgetl_run('fx_slow', wait => false)")
wait_for "SELECT EXISTS (SELECT FROM pgetl.task_run WHERE run_id = $slow AND state = 'running')" || fail "fx_slow never ran"

# A digest of every pgetl table, row by row, as text (roles and tables by name)
digest="SELECT string_agg(d, E'\n' ORDER BY d) FROM (
  SELECT c.relname || ' ' || x.n || ' ' || x.h AS d
    FROM pg_class c, pg_extension e,
         LATERAL (SELECT (xpath('/row/n/text()', query_to_xml(format(
             'SELECT count(*) AS n FROM %s', c.oid::regclass), false, true, '')))[1]::text AS n,
                 (xpath('/row/h/text()', query_to_xml(format(
             'SELECT md5(coalesce(string_agg(t::text, ''|'' ORDER BY t::text), '''')) AS h FROM %s t', c.oid::regclass),
             false, true, '')))[1]::text AS h) x
   WHERE e.extname = 'pgetl' AND c.oid = ANY (e.extconfig) AND c.relkind = 'r') s"
before=$(q "$digest")
echo "$before" | sed 's/^/  /'
[ "$(echo "$before" | awk '$2 > 0' | wc -l)" -ge 12 ] || fail "the fixture left pgetl tables empty"
seqs="SELECT string_agg(c.relname || '=' || s.last_value, ' ' ORDER BY c.relname) FROM pg_sequences s JOIN pg_class c ON c.relname = s.sequencename AND s.schemaname = 'pgetl'"
seq_before=$(q "$seqs")

# the roles, but not the superuser the fresh cluster was made with (and its password)
pg_dumpall --globals-only | grep -v -E "ROLE postgres( |;)" > "$work/globals.sql"
pg_dump -Fc -f "$work/db.dump" "$PGDATABASE"
cp "$here/fixture.sql" "$work/"
chmod -R a+rX "$work"
ok "dumped $(stat -c %s "$work/db.dump") bytes with pg_dump -Fc"
qq "SELECT pgetl_cancel($slow)"

# A fresh cluster (test/setup/cluster.sh, as make test starts one)
export DUMP_DIGEST="$digest" DUMP_BEFORE="$before" DUMP_SEQS="$seqs" DUMP_SEQ_BEFORE="$seq_before" DUMP_WORK="$work" DUMP_DB="$PGDATABASE"
"$src/test/setup/cluster.sh" bash "$here/restore_checks.sh" || fail "restore checks failed"
