-- Loader safety (audit findings): a hostile header fails fast; a spec
-- follows its target by OID through a rename, TRUNCATE included; rows a
-- BEFORE trigger drops are counted; a broken target fails the load instead
-- of rejecting every row; check expressions run as the spec's owner.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgetl;
-- own schema, load and stage names: other tests share this database
CREATE SCHEMA safety;
SET search_path = safety, public;
\i test/setup/regress.sql

-- 1. Headers: more columns than a table can have (1,600) fail at once,
-- before any work per column; names are matched through a hash table.
CREATE TABLE wide (a integer);
SELECT pgetl_define_load('safety_wide', 'wide', '[{"name": "a"}]') > 0;
SELECT pgetl_stage('safety_wide.csv', convert_to(
    (SELECT string_agg('c' || i, ',') FROM generate_series(1, 100000) i) || E'\n1\n', 'UTF8')) > 0;
SET statement_timeout = '10s';
SELECT pgetl_load('safety_wide', 'safety_wide.csv');
SELECT pgetl_stage('safety_wide1601.csv', convert_to(
    (SELECT string_agg('c' || i, ',') FROM generate_series(1, 1601) i) || E'\n', 'UTF8')) > 0;
SELECT pg_temp.fails($$SELECT pgetl_load('safety_wide', 'safety_wide1601.csv')$$);
-- 1,600 columns are read; the last one repeats the first
SELECT pgetl_stage('safety_wide1600.csv', convert_to(
    (SELECT string_agg('c' || i, ',') FROM generate_series(1, 1599) i) || E',c1\n', 'UTF8')) > 0;
SELECT pg_temp.fails($$SELECT pgetl_load('safety_wide', 'safety_wide1600.csv')$$);
RESET statement_timeout;

-- 2. Replace mode after a table swap: the spec keeps its table by OID, so
-- the renamed table is truncated and loaded, and the new one of the old
-- name is left alone, on the COPY path and on the INSERT path alike.
CREATE TABLE sales (sku text, qty integer);
INSERT INTO sales VALUES ('old row', 1);
SELECT pgetl_define_load('safety_sales_replace', 'sales', '[{"name": "sku"}, {"name": "qty"}]',
                         '{"mode": "replace"}') > 0;
ALTER TABLE sales RENAME TO sales_2025;
CREATE TABLE sales (sku text, qty integer);
INSERT INTO sales VALUES ('new table', 2);
SELECT load, target FROM pgetl.loads WHERE load = 'safety_sales_replace';
SELECT pgetl_stage('safety_sales.csv', convert_to(E'sku,qty\na,1\nb,2\n', 'UTF8')) > 0;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('safety_sales_replace', 'safety_sales.csv');
SELECT * FROM sales_2025 ORDER BY sku;
SELECT * FROM sales ORDER BY sku;
-- with a trigger, rows go through an INSERT statement, which names the table
CREATE FUNCTION upper_sku() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.sku := upper(NEW.sku);
    RETURN NEW;
END
$$;
CREATE TRIGGER upper_sku BEFORE INSERT ON sales_2025 FOR EACH ROW EXECUTE FUNCTION upper_sku();
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('safety_sales_replace', 'safety_sales.csv');
SELECT * FROM sales_2025 ORDER BY sku;
SELECT * FROM sales ORDER BY sku;
-- messages name the table as it is called now
CREATE ROLE pgetl_safety_loader;
GRANT USAGE ON SCHEMA safety TO pgetl_safety_loader;
GRANT INSERT ON sales_2025 TO pgetl_safety_loader;
SET ROLE pgetl_safety_loader;
SELECT pgetl_define_load('safety_sales_mine', 'sales_2025', '[{"name": "sku"}, {"name": "qty"}]',
                         '{"mode": "replace"}') > 0;
RESET ROLE;
ALTER TABLE sales_2025 RENAME TO sales_archive;
SET ROLE pgetl_safety_loader;
SELECT pgetl_stage('safety_mine.csv', convert_to(E'sku,qty\nc,3\n', 'UTF8')) > 0;
SELECT pg_temp.fails($$SELECT pgetl_load('safety_sales_mine', 'safety_mine.csv')$$);
SELECT pgetl_drop_load('safety_sales_mine');
SELECT pgetl_drop_stage('safety_mine.csv');
RESET ROLE;
-- the table now called sales is nothing to the spec: dropping it changes nothing
DROP TABLE sales;
SELECT pg_temp.fails($$SELECT pgetl_load('safety_sales_replace', 'safety_sales.csv')$$);
SELECT * FROM sales_archive ORDER BY sku;

-- 3. Rows a BEFORE trigger drops (returns NULL) are counted as skipped:
-- rows_read = rows_loaded + rows_rejected + rows_skipped_by_trigger
-- (+ rows_skipped_on_conflict, for an upsert that does nothing on conflict).
CREATE TABLE notes (id integer PRIMARY KEY, note text);
CREATE FUNCTION drop_drafts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.note = 'draft' THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER drop_drafts BEFORE INSERT ON notes FOR EACH ROW EXECUTE FUNCTION drop_drafts();
SELECT pgetl_define_load('safety_notes', 'notes', '[{"name": "id"}, {"name": "note"}]') > 0;
SELECT pgetl_stage('safety_notes.csv', convert_to(E'id,note\n1,kept\n2,draft\nx,bad id\n3,draft\n4,kept\n', 'UTF8')) > 0;
SELECT rows_read, rows_loaded, rows_rejected, rows_skipped_by_trigger, rows_skipped_on_conflict
  FROM pgetl_load('safety_notes', 'safety_notes.csv');
SELECT * FROM notes ORDER BY id;
SELECT pgetl_define_load('safety_notes_keep', 'notes', '[{"name": "id"}, {"name": "note"}]',
                         '{"mode": "upsert", "conflict_key": ["id"], "on_conflict": "nothing"}') > 0;
SELECT pgetl_stage('safety_notes2.csv', convert_to(E'id,note\n1,conflict\n5,new\n', 'UTF8')) > 0;
SELECT rows_read, rows_loaded, rows_rejected, rows_skipped_by_trigger, rows_skipped_on_conflict
  FROM pgetl_load('safety_notes_keep', 'safety_notes2.csv');
SELECT load_name, rows_read, rows_loaded, rows_rejected, rows_skipped_by_trigger,
       rows_skipped_on_conflict,
       rows_read = rows_loaded + rows_rejected + rows_skipped_by_trigger + rows_skipped_on_conflict AS adds_up
  FROM pgetl.load_history WHERE load_name IN ('safety_notes', 'safety_notes_keep') ORDER BY load_id;

-- 4. A broken target is not bad data: a trigger failing with a schema error
-- (42P01, its audit table was dropped) fails the load as COPY would, and
-- nothing is loaded; a CHECK violation or a RAISE EXCEPTION in a trigger
-- (P0001) still rejects just that row.
CREATE TABLE orders (id integer, qty integer CHECK (qty > 0));
CREATE TABLE order_audit (id integer);
CREATE FUNCTION audit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = 13 THEN
        RAISE EXCEPTION 'order 13 is unlucky';
    END IF;
    INSERT INTO order_audit VALUES (NEW.id);
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_order BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION audit_order();
SELECT pgetl_define_load('safety_orders', 'orders', '[{"name": "id"}, {"name": "qty"}]') > 0;
SELECT pgetl_stage('safety_orders.csv', convert_to(E'id,qty\n1,5\n2,-1\n13,1\n4,2\n', 'UTF8')) > 0;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('safety_orders', 'safety_orders.csv');
SELECT line_number, rule, sqlstate, message FROM pgetl.reject WHERE load_name = 'safety_orders' ORDER BY line_number;
DROP TABLE order_audit;
SELECT pg_temp.fails($$SELECT pgetl_load('safety_orders', 'safety_orders.csv')$$);
SELECT count(*) AS orders, (SELECT count(*) FROM pgetl.load_history WHERE load_name = 'safety_orders') AS loads
  FROM orders;

-- 5. Check expressions are the spec owner's code and run as the owner, in
-- a restricted security context: a superuser running the owner's load does
-- not lend it superuser rights.  The canary records who runs it.
CREATE ROLE pgetl_safety_owner;
GRANT USAGE, CREATE ON SCHEMA safety TO pgetl_safety_owner;
SET ROLE pgetl_safety_owner;
CREATE TABLE canary_log (who text, restricted boolean);
CREATE TABLE canary_target (id integer);
CREATE FUNCTION canary(id integer) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    restricted boolean := false;
BEGIN
    BEGIN
        CREATE TEMP TABLE canary_probe (x integer);
    EXCEPTION WHEN insufficient_privilege THEN
        restricted := true;
    END;
    INSERT INTO canary_log VALUES (current_user, restricted);
    RETURN id > 0;
END
$$;
SELECT pgetl_define_load('safety_canary', 'canary_target', '[{"name": "id"}]',
    '{"checks": [{"name": "canary", "expression": "canary(id)"}]}') > 0;
RESET ROLE;
SELECT pgetl_stage('safety_canary.csv', convert_to(E'id\n1\n-1\n2\n', 'UTF8')) > 0;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('safety_canary', 'safety_canary.csv');
SELECT who, restricted, count(*) FROM canary_log GROUP BY who, restricted;
SELECT current_user = session_user AS back_to_caller;

-- clean up the roles (their objects go with them)
SELECT pgetl_drop_load('safety_canary');
DROP OWNED BY pgetl_safety_owner, pgetl_safety_loader;
DROP ROLE pgetl_safety_owner, pgetl_safety_loader;
RESET search_path;
