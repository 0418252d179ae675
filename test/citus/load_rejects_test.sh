#!/usr/bin/env bash
# Per-row rejects on Citus tables (issue 14, parts 2 and 4).  Citus runs the
# loader's batch INSERT ... SELECT unnest(...) as a COPY into the shards and
# reports a worker's error with SQLSTATE XX000, which failed the whole load
# at the first duplicate key.  The same file is loaded into a plain table
# and into a distributed table, a distributed partitioned table and a
# reference table with the same constraints: the rejects (line, rule,
# column, SQLSTATE) and the rows loaded must be the same, the messages the
# workers'.  Also: a load task, upsert with on_conflict nothing
# (rows_loaded must count the rows stored, not sent), a broken shard (the
# load fails, not every row rejected), the Citus metadata check (no fast
# path into a shell table) and a table recreated by alter_distributed_table.
# Needs Citus (exit 77, skipped, without it).
cd "$(dirname "$0")/../.."
. test/citus/lib.sh
citus_require
citus_start
dir=$(mktemp -d /tmp/pgetl-citus-data.XXXXXX)
chmod 755 "$dir"
trap 'citus_stop; rm -rf "$dir"' EXIT

# 201 rows; bad ones: a duplicate id (line 11), a missing customer (line
# 21), a CHECK (line 31), a NULL name (line 41), a duplicate within the
# file far from its first (line 201 repeats id 150), an out-of-range
# partition key (line 61, day 2030)
python3 - "$dir/in.csv" <<'PY'
import sys
rows = ["id,cust,qty,name,day"]
for i in range(1, 201):
    cust, qty, name, day = i % 5 + 1, i % 9 + 1, f"n{i}", f"2024-01-{i % 28 + 1:02d}"
    rid = i
    if i == 10: rid, day = 9, "2024-01-10"  # line 11: duplicate of line 10
    if i == 20: cust = 99                # line 21: foreign key
    if i == 30: qty = 0                  # line 31: check
    if i == 40: name = ""                # line 41: not null
    if i == 60: day = "2030-01-01"       # line 61: no partition
    rows.append(f"{rid},{cust},{qty},{name},{day}")
rows.append("150,1,1,dup,2024-01-11")    # line 202: duplicate of id 150
open(sys.argv[1], "w").write("\n".join(rows) + "\n")
PY
chmod 644 "$dir/in.csv"

psql -X -q -p "$COORD" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE ROLE etl LOGIN;
GRANT CREATE, USAGE ON SCHEMA public TO etl;
GRANT pg_read_server_files TO etl;
SET ROLE etl;
CREATE TABLE cust (id integer PRIMARY KEY);
SELECT create_reference_table('cust');
INSERT INTO cust SELECT generate_series(1, 5);
CREATE TABLE plain_cust (id integer PRIMARY KEY);
INSERT INTO plain_cust SELECT generate_series(1, 5);
-- the same constraints four times: plain, distributed, partitioned, reference
CREATE TABLE plain (id integer, cust integer REFERENCES plain_cust, qty integer CHECK (qty > 0),
                    name text NOT NULL, day date, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE TABLE plain_2024 PARTITION OF plain FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
-- (foreign keys added once distributed)
CREATE TABLE dist (id integer PRIMARY KEY, cust integer, qty integer CHECK (qty > 0),
                   name text NOT NULL, day date CHECK (day < '2025-01-01'));
SELECT create_distributed_table('dist', 'id');
ALTER TABLE dist ADD FOREIGN KEY (cust) REFERENCES cust;
CREATE TABLE part (id integer, cust integer, qty integer CHECK (qty > 0),
                   name text NOT NULL, day date, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE TABLE part_2024 PARTITION OF part FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
SELECT create_distributed_table('part', 'id');
-- (Citus refuses the foreign key on the partitioned table; the partition takes it)
ALTER TABLE part_2024 ADD FOREIGN KEY (cust) REFERENCES cust;
CREATE TABLE ref (id integer PRIMARY KEY, cust integer, qty integer CHECK (qty > 0),
                  name text NOT NULL, day date CHECK (day < '2025-01-01'));
SELECT create_reference_table('ref');
ALTER TABLE ref ADD FOREIGN KEY (cust) REFERENCES cust;
SQL
cols='[{"name": "id"}, {"name": "cust"}, {"name": "qty"}, {"name": "name"}, {"name": "day"}]'
for t in plain dist part ref; do
    c "SET ROLE etl; SELECT pgetl_define_load('$t', '$t', '$cols')" >/dev/null
done

# load TABLE: prints "loaded rejected"
load() {
    psql -X -A -t -q -p "$COORD" -U etl -v ON_ERROR_STOP=1 \
        -c "SELECT rows_loaded || ' ' || rows_rejected FROM pgetl_load('$1', '$dir/in.csv')"
}
rejects() {   # the rejects of the last load of TABLE: line rule column sqlstate
    c "SELECT string_agg(line_number || ' ' || rule || ' ' || coalesce(column_name, '-') || ' ' || sqlstate, '; ' ORDER BY line_number)
         FROM pgetl.reject WHERE load_id = (SELECT max(load_id) FROM pgetl.load_history WHERE load_name = '$1')"
}
plain=$(load plain) || fail "the plain load failed"
want=$(rejects plain)
echo "plain table: loaded/rejected $plain; rejects: $want"
[ "$plain" = "195 6" ] || fail "plain: expected 195 loaded, 6 rejected, got $plain"
for t in dist part ref; do
    got=$(load "$t") || fail "the load into Citus table $t failed"
    [ "$got" = "$plain" ] || fail "$t: loaded/rejected $got, plain $plain"
    [ "$(rejects "$t")" = "$want" ] || fail "$t: rejects $(rejects "$t"), plain $want"
    [ "$(c "SELECT count(*) FROM $t")" = 195 ] || fail "$t: $(c "SELECT count(*) FROM $t") rows stored"
    ok "Citus table $t: $got loaded/rejected, the same rejects as the plain table (line, rule, column, SQLSTATE)"
done
# a duplicate key is skipped by the shards (ON CONFLICT DO NOTHING), not
# raised: its reject carries PostgreSQL's own error for it, naming the
# table's index as on a plain table (a worker would name its shard's); the
# other rows the shards refuse carry the worker's message
msg=$(c "SELECT message FROM pgetl.reject WHERE load_name = 'dist' AND line_number = 11")
[ "$msg" = 'duplicate key value violates unique constraint "dist_pkey": Key (id)=(9) already exists.' ] \
    || fail "line 11 of dist: message '$msg'"
msg=$(c "SELECT message FROM pgetl.reject WHERE load_name = 'dist' AND line_number = 31")
case $msg in
    "new row for relation \"dist_1"*"\" violates check constraint \"dist_qty_check\": Failing row contains (30, 1, 0, n30, 2024-01-03).") ;;
    *) fail "line 31 of dist: message '$msg'" ;;
esac
msg=$(c "SELECT message FROM pgetl.reject WHERE load_name = 'part' AND line_number = 11")
[ "$msg" = 'duplicate key value violates unique constraint "part_pkey": Key (id, day)=(9, 2024-01-10) already exists.' ] \
    || fail "line 11 of part: message '$msg'"
ok "messages: a duplicate key as on a plain table, a CHECK the worker's (of the shard)"
[ "$(c "SELECT count(*) FROM pgetl.reject WHERE load_name IN ('dist', 'part', 'ref') AND sqlstate = 'XX000'")" = 0 ] \
    || fail "a reject with Citus's XX000"

# the same through the parallel path (a reader process parses and checks,
# forced on for this small file), after a TRUNCATE
for t in dist part ref; do
    c "TRUNCATE $t" >/dev/null
    out=$(PGOPTIONS="-c pgetl.load_parallel=on -c client_min_messages=debug1" load "$t" 2>&1) \
        || fail "the parallel load into Citus table $t failed: $out"
    case $out in
        *"parallel (reader PID"*) ;;
        *) fail "$t: the load did not take the parallel path: $out" ;;
    esac
    got=$(tail -n 1 <<<"$out")
    [ "$got" = "$plain" ] || fail "$t, parallel: loaded/rejected $got, plain $plain"
    [ "$(rejects "$t")" = "$want" ] || fail "$t, parallel: rejects $(rejects "$t"), plain $want"
    [ "$(c "SELECT count(*) FROM $t")" = 195 ] || fail "$t, parallel: $(c "SELECT count(*) FROM $t") rows stored"
done
ok "parallel path (reader process): the same rows and rejects in dist, part and ref"

# the same file again, every key already in the table: each row is
# refused by the shards (the keys are then looked up in the table in one
# query per batch), with the same rejects as the plain table's
plain2=$(load plain) || fail "the second plain load failed"
want2=$(rejects plain)
for t in dist part ref; do
    got=$(load "$t") || fail "the second load into Citus table $t failed"
    [ "$got" = "$plain2" ] || fail "$t, again: loaded/rejected $got, plain $plain2"
    [ "$(rejects "$t")" = "$want2" ] || fail "$t, again: rejects $(rejects "$t"), plain $want2"
done
got=$(c "SELECT count(*) FILTER (WHERE message ~ '^duplicate key value violates unique constraint \"dist_pkey\": Key \\(id\\)=\\([0-9]+\\) already exists\\.$') || ' ' || count(*)
          FROM pgetl.reject WHERE load_id = (SELECT max(load_id) FROM pgetl.load_history WHERE load_name = 'dist') AND rule = 'unique_constraint'")
[ "$got" = "197 197" ] || fail "dist, again: of the duplicate keys' rejects, so many have PostgreSQL's message: $got"
ok "the file loaded again: $plain2 loaded/rejected in every Citus table, the same rejects as the plain table"

# one key three times: the first row refused by a foreign key the
# coordinator cannot foretell, so the second is stored and the third is the
# duplicate, as on the plain table
printf 'id,cust,qty,name,day\n700,99,1,a,2024-02-01\n700,1,1,b,2024-02-01\n700,2,1,c,2024-02-01\n' >"$dir/three.csv"
chmod 644 "$dir/three.csv"
three() {
    psql -X -A -t -q -p "$COORD" -U etl -v ON_ERROR_STOP=1 \
        -c "SELECT rows_loaded || ' ' || rows_rejected FROM pgetl_load('$1', '$dir/three.csv')" >/dev/null
    echo "$(rejects "$1") | $(c "SELECT string_agg(cust::text, ',') FROM $1 WHERE id = 700")"
}
want3=$(three plain)
[ "$want3" = "2 foreign_key - 23503; 4 unique_constraint - 23505 | 1" ] || fail "plain, one key three times: $want3"
for t in dist ref; do
    [ "$(three "$t")" = "$want3" ] || fail "$t, one key three times: $(three "$t"), plain $want3"
done
ok "one key three times, the first refused by a foreign key: the second stored, the third rejected, as on the plain table"

# twin NAME COLUMNS HOW SPEC FILE: table NAME made a Citus table by HOW
# (e.g. "create_reference_table('NAME')") and plain_NAME with the same
# COLUMNS, a load spec for each, FILE loaded into both
twin() {
    psql -X -q -p "$COORD" -U etl -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE TABLE $1 ($2);
SELECT $3;
CREATE TABLE plain_$1 ($2);
SELECT pgetl_define_load('$1', '$1', '$4');
SELECT pgetl_define_load('plain_$1', 'plain_$1', '$4');
SQL
    chmod 644 "$5"
    for t in "plain_$1" "$1"; do
        psql -X -A -t -q -p "$COORD" -U etl -v ON_ERROR_STOP=1 -c "SELECT rows_loaded FROM pgetl_load('$t', '$5')" >/dev/null
    done
}
# the rejects of load NAME, line and message (plain_NAME read as NAME)
messages() {
    c "SELECT string_agg(line_number || ' ' || replace(message, 'plain_$1', '$1'), '; ' ORDER BY line_number)
         FROM pgetl.reject WHERE load_name = '$2'"
}

# keys equal as the index compares them, not as text: 1.0 and 1.00 are one
# numeric key, skipped by the shards as on a plain table
printf 'k,v\n1.0,a\n1.00,b\n2,c\n' >"$dir/num.csv"
twin num "k numeric PRIMARY KEY, v text" "create_distributed_table('num', 'k')" \
    '[{"name": "k"}, {"name": "v"}]' "$dir/num.csv"
got=$(messages num num)
[ "$got" = "$(messages num plain_num)" ] || fail "numeric keys: rejects '$got', plain '$(messages num plain_num)'"
[ "$got" = '3 duplicate key value violates unique constraint "num_pkey": Key (k)=(1.00) already exists.' ] \
    || fail "numeric keys: rejects '$got'"
ok "keys equal by the index's ordering (1.0 and 1.00): the same reject as on a plain table"

# two unique keys (a reference table may have any): a duplicate of either
# or of both is rejected for the index a plain table names
printf 'id,name\n1,a\n2,b\n2,c\n3,a\n2,a\n4,d\n' >"$dir/two.csv"
twin two "id integer PRIMARY KEY, name text UNIQUE" "create_reference_table('two')" \
    '[{"name": "id"}, {"name": "name"}]' "$dir/two.csv"
got=$(messages two two)
[ "$got" = "$(messages two plain_two)" ] || fail "two unique keys: rejects '$got', plain '$(messages two plain_two)'"
[ "$(c "SELECT string_agg(id || name, ',' ORDER BY id) FROM two")" = "$(c "SELECT string_agg(id || name, ',' ORDER BY id) FROM plain_two")" ] \
    || fail "two unique keys: rows $(c "SELECT string_agg(id || name, ',' ORDER BY id) FROM two")"
ok "two unique keys: the same rejects and messages as the plain table ($got)"

# a role that may only INSERT into the table (no SELECT, so no RETURNING
# of the keys): duplicates are refused one at a time, the same rejects
psql -X -q -p "$COORD" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE ROLE ins LOGIN;
GRANT USAGE ON SCHEMA public TO ins;
GRANT pg_read_server_files TO ins;
SET ROLE etl;
CREATE TABLE dist_ins (id integer PRIMARY KEY, cust integer, qty integer CHECK (qty > 0),
                       name text NOT NULL, day date CHECK (day < '2025-01-01'));
SELECT create_distributed_table('dist_ins', 'id');
ALTER TABLE dist_ins ADD FOREIGN KEY (cust) REFERENCES cust;
GRANT INSERT ON dist_ins TO ins;
SQL
c "SET ROLE ins; SELECT pgetl_define_load('dist_ins', 'dist_ins', '$cols')" >/dev/null
got=$(psql -X -A -t -q -p "$COORD" -U ins -v ON_ERROR_STOP=1 \
    -c "SELECT rows_loaded || ' ' || rows_rejected FROM pgetl_load('dist_ins', '$dir/in.csv')" 2>&1) \
    || fail "the load into dist_ins by a role with INSERT only failed: $got"
[ "$got" = "$plain" ] || fail "dist_ins: loaded/rejected $got, plain $plain"
[ "$(rejects dist_ins)" = "$want" ] || fail "dist_ins: rejects $(rejects dist_ins), plain $want"
ok "a role with INSERT only: the same rejects, duplicates refused one at a time"

# with a row trigger on insert, a duplicate is not skipped (the trigger's
# work would stay) but refused by its shard, one row at a time: the same
# rejects, the worker's message
psql -X -q -p "$COORD" -U etl -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE TABLE dist_trg (id integer PRIMARY KEY, cust integer, qty integer CHECK (qty > 0),
                       name text NOT NULL, day date CHECK (day < '2025-01-01'));
SELECT create_distributed_table('dist_trg', 'id');
ALTER TABLE dist_trg ADD FOREIGN KEY (cust) REFERENCES cust;
CREATE FUNCTION upper_name() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.name := upper(NEW.name); RETURN NEW; END$$;
SQL
psql -X -q -p "$COORD" -v ON_ERROR_STOP=1 -c "SET citus.enable_unsafe_triggers = on" \
    -c "CREATE TRIGGER upper_name BEFORE INSERT ON dist_trg FOR EACH ROW EXECUTE FUNCTION upper_name()" >/dev/null
c "SET ROLE etl; SELECT pgetl_define_load('dist_trg', 'dist_trg', '$cols')" >/dev/null
got=$(load dist_trg) || fail "the load into dist_trg failed"
[ "$got" = "$plain" ] || fail "dist_trg: loaded/rejected $got, plain $plain"
[ "$(rejects dist_trg)" = "$want" ] || fail "dist_trg: rejects $(rejects dist_trg), plain $want"
[ "$(c "SELECT count(*) FROM dist_trg WHERE name = upper(name)")" = 195 ] || fail "dist_trg: the trigger did not run on every row"
msg=$(c "SELECT message FROM pgetl.reject WHERE load_name = 'dist_trg' AND line_number = 11")
case $msg in
    "duplicate key value violates unique constraint \"dist_trg_pkey_"*"Key (id)=(9) already exists.") ;;
    *) fail "line 11 of dist_trg: message '$msg'" ;;
esac
ok "a table with a row trigger on insert: the same rejects, each duplicate refused by its shard ($msg)"

# pgetl.citus_load_pool_size: Citus's pool size is the load's only during
# the load, restored after it (and after a failed one)
got=$(psql -X -A -t -q -p "$COORD" -U etl -v ON_ERROR_STOP=1 \
    -c "SET citus.max_adaptive_executor_pool_size = 4" \
    -c "SELECT rows_loaded FROM pgetl_load('ref', '$dir/in.csv')" \
    -c "SHOW citus.max_adaptive_executor_pool_size" \
    -c "SELECT pgetl_load('nonexistent_load', '$dir/in.csv')" 2>/dev/null; true)
[ "$(sed -n 2p <<<"$got")" = 4 ] || fail "citus.max_adaptive_executor_pool_size after a load: $got"
got=$(psql -X -A -t -q -p "$COORD" -U etl \
    -c "SET citus.max_adaptive_executor_pool_size = 4" \
    -c "SET pgetl.load_parallel = off" \
    -c "BEGIN" -c "SAVEPOINT a" \
    -c "SELECT pgetl_define_load('dist_strict', 'dist', '$cols', '{\"max_rejects\": 0}')" \
    -c "SELECT pgetl_load('dist_strict', '$dir/in.csv')" \
    -c "ROLLBACK TO SAVEPOINT a" \
    -c "SHOW citus.max_adaptive_executor_pool_size" -c "COMMIT" 2>/dev/null || true)
[ "$(tail -n 1 <<<"$got")" = 4 ] || fail "citus.max_adaptive_executor_pool_size after a failed load: $got"
ok "citus.max_adaptive_executor_pool_size is pgetl.citus_load_pool_size only during a load (restored after it, and after a failed one)"

# the Citus metadata check: a Citus table is never filled by the fast path
# (it would write into the coordinator's shell); the shell stays empty
for t in dist part ref; do
    [ "$(c "SELECT count(*) FROM ONLY $t" 2>/dev/null || echo x)" != x ] || true
done
c "SET citus.enable_ddl_propagation = off; SELECT 1" >/dev/null
shell=$(psql -X -A -t -q -p "$COORD" -c "SET citus.override_table_visibility = off" \
    -c "SELECT pg_relation_size('dist') + pg_relation_size('ref')")
# a reference table without a coordinator placement has an empty shell
[ "$shell" = 0 ] || fail "rows were written into a shell table ($shell bytes)"
# the check is Citus's metadata, not the truncate trigger Citus puts on a
# shell (which kept the fast path away before): without that trigger, the
# rows still go to the shards
c "CREATE TABLE bare (id integer, name text); SELECT create_distributed_table('bare', 'id')" >/dev/null
trg=$(c "SELECT tgname FROM pg_trigger WHERE tgrelid = 'bare'::regclass")
[ -n "$trg" ] && psql -X -q -p "$COORD" -v ON_ERROR_STOP=1 -c "SET citus.enable_ddl_propagation = off" -c "DROP TRIGGER $trg ON bare" >/dev/null
[ -z "$(c "SELECT tgname FROM pg_trigger WHERE tgrelid = 'bare'::regclass")" ] || fail "bare still has a trigger"
c "SELECT pgetl_define_load('bare', 'bare', '[{\"name\": \"id\"}, {\"name\": \"name\"}]', '{\"unlisted_columns\": \"ignore\"}')" >/dev/null
c "SELECT rows_loaded FROM pgetl_load('bare', '$dir/in.csv')" >/dev/null
shell=$(psql -X -A -t -q -p "$COORD" -c "SET citus.override_table_visibility = off" -c "SELECT pg_relation_size('bare')")
[ "$shell" = 0 ] || fail "a load wrote into the shell of a distributed table without triggers ($shell bytes)"
[ "$(c "SELECT count(*) FROM bare")" = 201 ] || fail "bare: $(c "SELECT count(*) FROM bare") rows in the shards"
ok "no rows written into the coordinator's shell tables (even one without Citus's truncate trigger)"

# upsert, on_conflict nothing: rows_loaded counts the rows stored
c "SET ROLE etl; SELECT pgetl_define_load('dist_up', 'dist', '$cols', '{\"mode\": \"upsert\", \"conflict_key\": [\"id\"], \"on_conflict\": \"nothing\"}')" >/dev/null
c "DELETE FROM dist WHERE id <= 50" >/dev/null
got=$(psql -X -A -t -q -p "$COORD" -U etl -v ON_ERROR_STOP=1 \
    -c "SELECT rows_loaded || ' ' || rows_rejected || ' ' || rows_skipped_on_conflict FROM pgetl_load('dist_up', '$dir/in.csv')")
# ids 1..50 come back (minus the rejected lines 21, 31, 41 and line 11's id
# 9 twice: the second is skipped on conflict); the rest conflict
stored=$(c "SELECT count(*) FROM dist WHERE id <= 50")
set -- $got
[ "$1" = $((stored)) ] || fail "upsert on_conflict nothing: rows_loaded $1, rows stored $stored ($got)"
ok "upsert on_conflict nothing on Citus: rows_loaded $1 = rows stored, $3 skipped on conflict"

# a broken target (a trigger on the shards raising an internal error) fails
# the load instead of rejecting every row
c "CREATE FUNCTION broken() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN RAISE EXCEPTION 'shard broken' USING ERRCODE = 'XX000'; END\$\$" >/dev/null
psql -X -q -p "$COORD" -v ON_ERROR_STOP=1 -c "SET citus.enable_unsafe_triggers = on" \
    -c "CREATE TRIGGER broken BEFORE INSERT ON dist FOR EACH ROW EXECUTE FUNCTION broken()" >/dev/null
c "TRUNCATE dist" >/dev/null
out=$(psql -X -A -t -q -p "$COORD" -U etl -v VERBOSITY=verbose -c "SELECT rows_loaded FROM pgetl_load('dist', '$dir/in.csv')" 2>&1 || true)
case $out in
    *"ERROR:  XX000: shard broken"*) ok "a broken shard fails the load (XX000 from the worker)" ;;
    *) fail "a broken shard: $out" ;;
esac
# the CONTEXT names the batch (the whole file here), not the line after it
case $out in
    *"pgetl load \"dist\", batch of lines 2 to 202 of"*) ok "the error's CONTEXT names the batch's lines 2 to 202" ;;
    *) fail "the CONTEXT of the broken shard's error: $out" ;;
esac
[ "$(c "SELECT count(*) FROM dist")" = 0 ] || fail "rows stayed after the failed load"
psql -X -q -p "$COORD" -v ON_ERROR_STOP=1 -c "SET citus.enable_unsafe_triggers = on" -c "DROP TRIGGER broken ON dist" >/dev/null

# a load task into a distributed table: rejects, not a failed (retried) task
psql -X -q -p "$COORD" -U etl -v ON_ERROR_STOP=1 -v f="$dir/in.csv" >/dev/null <<'SQL'
SELECT pgetl_create_pipeline('lp');
SELECT pgetl_add_task('lp', 'ld', NULL, kind => 'load', retries => 2, config => jsonb_build_object('load', 'dist', 'source', :'f'));
SQL
c "TRUNCATE dist" >/dev/null
run=$(psql -X -A -t -q -p "$COORD" -U etl -c "SELECT pgetl_run('lp')" 2>&1) || fail "the load task failed: $run"
[ "$(c "SELECT state || ' ' || try_number FROM pgetl.task_run WHERE run_id = $run")" = "success 1" ] \
    || fail "load task: $(c "SELECT state, try_number, error FROM pgetl.task_run WHERE run_id = $run")"
[ "$(c "SELECT count(*) FROM dist")" = 195 ] || fail "load task stored $(c "SELECT count(*) FROM dist") rows"
ok "a load task into a distributed table succeeds at the first try, 6 rows rejected"

# alter_distributed_table gives the table a new OID: the load spec explains
c "SELECT alter_distributed_table('dist', shard_count => 4, cascade_to_colocated => false)" >/dev/null
out=$(psql -X -A -t -q -p "$COORD" -U etl -c "SELECT rows_loaded FROM pgetl_load('dist', '$dir/in.csv')" 2>&1 || true)
case $out in
    *"42P01"*|*"no longer exists"*) ;;
    *) fail "load after alter_distributed_table: $out" ;;
esac
case $out in
    *"alter_distributed_table"*) ok "a load spec whose table Citus recreated says so and how to redefine it" ;;
    *) fail "load after alter_distributed_table does not explain: $out" ;;
esac
echo "all Citus load checks passed"
