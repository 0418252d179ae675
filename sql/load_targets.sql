-- Load targets and modes: a partitioned table (rows routed), a table with
-- constraints, a foreign key and a trigger (each refused row rejected
-- alone), upsert and replace, and a load task inside a pipeline run.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgetl;

-- Partitioned: rows are routed; a row no partition accepts is rejected.
CREATE TABLE events (id integer, day date, what text) PARTITION BY RANGE (day);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
SELECT pgetl_define_load('events', 'events', '[{"name": "id"}, {"name": "day"}, {"name": "what"}]') > 0;
SELECT pgetl_stage('events.csv', convert_to(
'id,day,what
1,2024-03-01,a
2,2025-03-01,b
3,1999-01-01,too old
4,2025-12-31,c
', 'UTF8'));
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('events', 'events.csv');
SELECT tableoid::regclass AS partition, id, day FROM events ORDER BY id;
SELECT line_number, rule, sqlstate, message FROM pgetl.reject WHERE load_name = 'events';

-- Constraints, a foreign key and a trigger, each refusing one row.
CREATE TABLE customers (id integer PRIMARY KEY);
INSERT INTO customers VALUES (1), (2);
CREATE TABLE purchases (
    id integer PRIMARY KEY,
    customer integer REFERENCES customers,
    amount numeric NOT NULL CHECK (amount > 0),
    note text
);
CREATE FUNCTION no_secret() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.note = 'secret' THEN
        RAISE EXCEPTION 'notes must not be secret';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER no_secret BEFORE INSERT ON purchases FOR EACH ROW EXECUTE FUNCTION no_secret();
SELECT pgetl_define_load('purchases', 'purchases',
    '[{"name": "id"}, {"name": "customer"}, {"name": "amount"}, {"name": "note"}]') > 0;
SELECT pgetl_stage('purchases.csv', convert_to(
'id,customer,amount,note
1,1,10,ok
2,1,,no amount
3,1,-5,negative
4,9,5,no such customer
5,2,5,secret
1,2,7,duplicate id
6,2,8,ok too
', 'UTF8'));
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('purchases', 'purchases.csv');
SELECT * FROM purchases ORDER BY id;
SELECT line_number, column_name, rule, value, sqlstate, message
  FROM pgetl.reject WHERE load_name = 'purchases' ORDER BY line_number;

-- Upsert: update on conflict, or do nothing.
SELECT pgetl_define_load('purchases_up', 'purchases',
    '[{"name": "id"}, {"name": "customer"}, {"name": "amount"}, {"name": "note"}]',
    '{"mode": "upsert", "conflict_key": ["id"]}') > 0;
SELECT pgetl_stage('up.csv', convert_to(
'id,customer,amount,note
1,2,11,updated
7,1,3,new
7,1,4,new again
', 'UTF8'));
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('purchases_up', 'up.csv');
SELECT * FROM purchases ORDER BY id;
SELECT pgetl_define_load('purchases_keep', 'purchases',
    '[{"name": "id"}, {"name": "customer"}, {"name": "amount"}, {"name": "note"}]',
    '{"mode": "upsert", "conflict_key": ["id"], "on_conflict": "nothing"}') > 0;
SELECT pgetl_stage('keep.csv', convert_to(E'id,customer,amount,note\n1,1,99,ignored\n8,1,1,added\n', 'UTF8'));
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('purchases_keep', 'keep.csv');
SELECT * FROM purchases ORDER BY id;

-- Replace: truncate and load in one transaction; a failed load keeps the
-- old rows.
CREATE TABLE prices (sku text PRIMARY KEY, price numeric);
INSERT INTO prices VALUES ('old', 1);
SELECT pgetl_define_load('prices', 'prices', '[{"name": "sku"}, {"name": "price", "min": 0}]',
                         '{"mode": "replace", "max_rejects": 0}') > 0;
SELECT pgetl_stage('prices_bad.csv', convert_to(E'sku,price\na,1\nb,-1\n', 'UTF8'));
SELECT pgetl_load('prices', 'prices_bad.csv');
SELECT * FROM prices;
SELECT pgetl_stage('prices.csv', convert_to(E'sku,price\na,1\nb,2\n', 'UTF8'));
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('prices', 'prices.csv');
SELECT * FROM prices ORDER BY sku;

-- A load task in a pipeline: runs as the pipeline owner in a background
-- worker; its counts are the task's result, its rejects carry the run id.
SELECT pgetl_create_pipeline('nightly_load') > 0;
SELECT pgetl_add_task('nightly_load', 'load_purchases', NULL, kind => 'load',
                      config => '{"load": "purchases", "source": "nightly.csv"}') > 0;
SELECT pgetl_add_task('nightly_load', 'count', 'SELECT count(*) FROM purchases',
                      upstream => '{load_purchases}') > 0;
SELECT pgetl_stage('nightly.csv', convert_to(E'id,customer,amount,note\n20,1,5,night\n21,1,0,zero\n', 'UTF8'));
SELECT pgetl_run('nightly_load') > 0 AS ran;
SELECT task, state, result - 'load_id' - 'duration' AS result
  FROM pgetl.task_run WHERE pipeline = 'nightly_load' ORDER BY task;
SELECT r.run_id = t.run_id AS same_run, r.line_number, r.rule
  FROM pgetl.reject r JOIN pgetl.task_run t ON t.pipeline = 'nightly_load' AND t.task = 'load_purchases'
 WHERE r.source = 'nightly.csv';
SELECT id, note FROM purchases WHERE id >= 20;

-- A load task needs a load and a source, and a load the owner may use.
\i test/setup/regress.sql
SELECT pg_temp.fails($$SELECT pgetl_add_task('nightly_load', 't1', NULL, kind => 'load', config => '{}')$$);
SELECT pg_temp.fails($$SELECT pgetl_add_task('nightly_load', 't2', NULL, kind => 'load', config => '{"load": "nosuch", "source": "x"}')$$);
SELECT pg_temp.fails($$SELECT pgetl_add_task('nightly_load', 't3', NULL, kind => 'load', config => '{"load": "purchases", "source": "x", "extra": 1}')$$);
-- their hints, unknown keys in order, and an empty source
SELECT code, message, hint FROM pg_temp.try($$SELECT pgetl_add_task('nightly_load', 't4', NULL, kind => 'load', config => '{"load": 1, "source": "x"}')$$);
SELECT code, message, hint FROM pg_temp.try($$SELECT pgetl_add_task('nightly_load', 't5', NULL, kind => 'load', config => '{"load": "purchases", "source": "x", "zeta": 1, "alpha": {"beta": 2}}')$$);
SELECT code, message, hint FROM pg_temp.try($$SELECT pgetl_add_task('nightly_load', 't6', NULL, kind => 'load', config => '{"load": "purchases", "source": ""}')$$);
SELECT pgetl_drop_pipeline('nightly_load');

-- Duplicate keys on the fast path (a plain table without triggers), found
-- without a rollback: a key repeated in the file, one the table holds, one
-- of the second unique index, one of both (the first index's error), a
-- key taken again after the row that had it was refused (it loads), NULL
-- keys (no conflict) and a CHECK violation between them.  With an
-- expression index the duplicates are found by rolling back: same rejects.
CREATE TABLE dup_items (id integer PRIMARY KEY, code text UNIQUE, qty integer CHECK (qty > 0));
CREATE TABLE dup_items_expr (id integer PRIMARY KEY, code text UNIQUE, qty integer CHECK (qty > 0));
CREATE INDEX ON dup_items_expr (lower(code));
INSERT INTO dup_items VALUES (100, 'pre', 1);
INSERT INTO dup_items_expr VALUES (100, 'pre', 1);
SELECT pgetl_define_load('dup_items', 'dup_items', '[{"name": "id"}, {"name": "code"}, {"name": "qty"}]') > 0;
SELECT pgetl_define_load('dup_items_expr', 'dup_items_expr', '[{"name": "id"}, {"name": "code"}, {"name": "qty"}]') > 0;
SELECT pgetl_stage('dup_items.csv', convert_to(
'id,code,qty
1,a,1
2,b,1
1,c,1
100,d,1
3,a,1
2,b,1
4,e,0
5,c,1
6,,1
7,,1
5,f,1
8,pre,1
9,g,1
', 'UTF8'));
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('dup_items', 'dup_items.csv');
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('dup_items_expr', 'dup_items.csv');
SELECT * FROM dup_items ORDER BY id;
SELECT (SELECT array_agg(i ORDER BY id) FROM dup_items i) = (SELECT array_agg(i::text::dup_items ORDER BY id) FROM dup_items_expr i) AS same_rows;
SELECT line_number, rule, sqlstate, message FROM pgetl.reject WHERE load_name = 'dup_items' ORDER BY reject_id;
SELECT line_number, rule, sqlstate, message FROM pgetl.reject WHERE load_name = 'dup_items_expr' ORDER BY reject_id;
