-- pgetl_infer_load: a load spec proposed from a sample of a source
-- (dialect, encoding, types and formats, rules, CREATE TABLE), on small
-- crafted staged data and on the real Superstore export, with a round trip
-- infer -> CREATE TABLE -> pgetl_define_load -> pgetl_load.
\getenv abs_srcdir PG_ABS_SRCDIR
\set superstore :abs_srcdir '/../shared/data/superstore.csv'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgetl;
-- errors as SQLSTATE: message
\i test/setup/regress.sql
-- one line per proposed column
CREATE FUNCTION pg_temp.cols(r jsonb) RETURNS TABLE (name text, target text, type text,
    format text, required text, min text, max text, max_length text, allowed text, "unique" text)
LANGUAGE sql AS $f$
    SELECT c->>'name', c->>'target', c->>'type', c->>'format', c->>'required', c->>'min',
           c->>'max', c->>'max_length', c->>'allowed', c->>'unique'
      FROM jsonb_array_elements(r->'columns') WITH ORDINALITY AS e(c, n) ORDER BY n
$f$;
CREATE FUNCTION pg_temp.stage(name text, data bytea) RETURNS void LANGUAGE sql AS $f$
    SELECT pgetl_stage(name, data)
$f$;

-- Semicolons, quoted delimiters and doubled quotes; a unique id, a
-- numeric column, a date column and a column with few distinct values.
SELECT pg_temp.stage('semi', convert_to(
'id;name;amount;status;day
1;"Dupont; Jean";12.5;open;2024-01-05
2;"Martin ""Jr""";7;closed;2024-02-29
3;Durand;0.25;open;2024-03-15
4;"Petit";-3;open;2024-12-31
5;Roux;100;closed;2023-06-01
', 'UTF8'));
SELECT r->'options' AS options, r->'encoding' AS encoding, r->'bom' AS bom, r->'sample' AS sample,
       r->'unique' AS "unique", r->>'create_table' AS create_table
  FROM pgetl_infer_load('semi') AS r;
SELECT * FROM pg_temp.cols(pgetl_infer_load('semi'));
-- it loads: create the table, define with the result, load
CREATE TEMP TABLE inferred AS SELECT pgetl_infer_load('semi', options => '{"table": "semi_t"}') AS r;
DO $$ BEGIN EXECUTE (SELECT r->>'create_table' FROM inferred); END $$;
SELECT pgetl_define_load('semi', 'semi_t', r->'columns', r->'options') > 0 AS defined FROM inferred;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('semi', 'semi');
SELECT * FROM semi_t ORDER BY id;

-- Tab separated, no header: positional columns column_1..; a quoted line
-- break; a timestamp column.
SELECT pg_temp.stage('tabs', convert_to(E'1\tx\t2024-01-05 10:00:00\n2\t"two\nlines"\t2024-02-10 11:30:00\n3\tz\t2024-03-15 23:59:59\n', 'UTF8'));
SELECT r->'options' AS options, r->'sample' AS sample, r->>'create_table' AS create_table
  FROM pgetl_infer_load('tabs') AS r;
SELECT * FROM pg_temp.cols(pgetl_infer_load('tabs'));
CREATE TEMP TABLE inferred_tabs AS SELECT pgetl_infer_load('tabs') AS r;
DO $$ BEGIN EXECUTE (SELECT r->>'create_table' FROM inferred_tabs); END $$;
SELECT pgetl_define_load('tabs', 'tabs', r->'columns', r->'options') > 0 AS defined FROM inferred_tabs;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('tabs', 'tabs');
SELECT * FROM tabs ORDER BY column_1;

-- LATIN1 bytes (é = E9), and WIN1252 (€ = 80): names and values come back
-- in the database's encoding
SELECT pg_temp.stage('latin', '\x7072e96e6f6d2c76696c6c650a4a6f73e92c4f726ce9616e730a416e6e652c4f726ce9616e730a5a6fe92c50617269730a4ce9612c50617269730a'::bytea);
SELECT r->'encoding' AS encoding, r->'options'->'encoding' AS option FROM pgetl_infer_load('latin') AS r;
SELECT name, target, type, max_length, allowed FROM pg_temp.cols(pgetl_infer_load('latin'));
SELECT pg_temp.stage('win', '\x7072697820800a31300a'::bytea);
SELECT r->'encoding' AS encoding, r->'columns'->0->'name' AS name FROM pgetl_infer_load('win') AS r;
-- a quoted delimiter on every record: the quote keeps the fields together
SELECT pg_temp.stage('quoted', convert_to(E'a,b,c\n1,"x, y",2\n3,"p, q",4\n5,"s, t",6\n', 'UTF8'));
SELECT r->'options' AS options, r->>'create_table' AS create_table FROM pgetl_infer_load('quoted') AS r;
-- CRLF line ends
SELECT pg_temp.stage('crlf', convert_to(E'a|b\r\n1|x\r\n2|y\r\n\r\n3|x\r\n', 'UTF8'));
SELECT r->'options'->'delimiter' AS delimiter, r->'sample' AS sample, r->>'create_table' AS create_table
  FROM pgetl_infer_load('crlf') AS r;

-- A UTF-8 byte order mark; booleans; integers above integer's range;
-- codes with leading zeros stay text; empty values make a column optional
SELECT pg_temp.stage('bom', '\xefbbbf'::bytea || convert_to(
'flag,big,code,note
yes,1,007,
no,3000000000,010,x
YES,-5,123,y
off,42,000,
', 'UTF8'));
SELECT r->'bom' AS bom, r->'encoding' AS encoding, r->'sample' AS sample FROM pgetl_infer_load('bom') AS r;
SELECT * FROM pg_temp.cols(pgetl_infer_load('bom'));

-- Dates: day and month told apart by values above 12; when never above 12,
-- the first format of the table is taken and a note says so
SELECT pg_temp.stage('dates', convert_to(
'eu,us,short,ambiguous,dotted,stamp
13/01/2024,01/13/2024,31/12/99,01/02/2024,29.02.2024,05/01/2024 10:30
01/02/2024,02/01/2024,01/01/00,03/04/2024,01.03.2024,06/01/2024 08:05
', 'UTF8'));
SELECT * FROM pg_temp.cols(pgetl_infer_load('dates'));
SELECT r->'notes' AS notes FROM pgetl_infer_load('dates') AS r;

-- Options force the dialect; rules => false leaves only types and formats
SELECT * FROM pg_temp.cols(pgetl_infer_load('semi', 5, '{"delimiter": ";", "header": true, "rules": false}'));
SELECT r->'options' AS options, jsonb_array_length(r->'columns') AS columns
  FROM pgetl_infer_load('semi', options => '{"delimiter": ",", "quote": "''"}') AS r;
-- allowed_max: how few distinct values make an allowed list
SELECT name, allowed FROM pg_temp.cols(pgetl_infer_load('semi', options => '{"allowed_max": 1}'));

-- Only the sample is read: sample_rows records after the header
SELECT r->'sample' AS sample, r->'notes' AS notes FROM pgetl_infer_load('semi', 2) AS r;
SELECT name, min, max FROM pg_temp.cols(pgetl_infer_load('semi', 2)) WHERE name = 'id';

-- Errors
SELECT pg_temp.fails($$SELECT pgetl_infer_load('no_such_stage')$$);
SELECT pg_temp.fails($$SELECT pgetl_infer_load('/no/such/file.csv')$$);
SELECT pg_temp.fails($$SELECT pgetl_infer_load('')$$);
SELECT pg_temp.fails($$SELECT pgetl_infer_load(NULL)$$);
SELECT pg_temp.fails($$SELECT pgetl_infer_load('semi', 0)$$);
SELECT pg_temp.fails($$SELECT pgetl_infer_load('semi', options => '{"delimter": ";"}')$$);
SELECT pg_temp.fails($$SELECT pgetl_infer_load('semi', options => '{"delimiter": ";;"}')$$);
SELECT pg_temp.fails($$SELECT pgetl_infer_load('semi', options => '{"header": "yes"}')$$);
SELECT pg_temp.fails($$SELECT pgetl_infer_load('semi', options => '{"encoding": "klingon"}')$$);
SELECT pg_temp.fails($$SELECT pgetl_infer_load('semi', options => '{"allowed_max": -1}')$$);
SELECT pg_temp.fails($$SELECT pgetl_infer_load('semi', options => '[]')$$);
SELECT pg_temp.stage('blank', convert_to(E'\n\n', 'UTF8'));
SELECT pg_temp.fails($$SELECT pgetl_infer_load('blank')$$);

-- Privileges: those of loading the source
CREATE ROLE pgetl_infer_user;
GRANT CREATE ON SCHEMA public TO pgetl_infer_user;
SET ROLE pgetl_infer_user;
SELECT pg_temp.fails($$SELECT pgetl_infer_load('semi')$$);          -- someone else's stage
SELECT pg_temp.fails($$SELECT pgetl_infer_load('/no/such/file.csv')$$);  -- server file
SELECT pgetl_stage('mine', convert_to(E'a,b\n1,2\n', 'UTF8')) > 0 AS staged;
SELECT r->'options'->'header' AS header, r->>'create_table' AS create_table FROM pgetl_infer_load('mine') AS r;
SELECT pgetl_drop_stage('mine');
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM pgetl_infer_user;
DROP ROLE pgetl_infer_user;

-- The Superstore export (BOM, quoted commas, dd/mm/yy dates): 21 columns,
-- and the proposal loads it
CREATE TEMP TABLE store AS SELECT pgetl_infer_load(:'superstore', options => '{"table": "store_inferred"}') AS r;
SELECT r->'options' AS options, r->'bom' AS bom, r->'sample'->'complete' AS complete,
       r->'sample'->'rows' AS rows, r->'unique' AS "unique" FROM store;
SELECT name, target, type, format, required FROM pg_temp.cols((SELECT r FROM store));
SELECT name, type, format FROM pg_temp.cols((SELECT r FROM store))
 WHERE name IN ('Row ID', 'Quantity', 'Order Date', 'Ship Date', 'Sales', 'Discount', 'Profit');
DO $$ BEGIN EXECUTE (SELECT r->>'create_table' FROM store); END $$;
SELECT pgetl_define_load('store_inferred', 'store_inferred', r->'columns', r->'options') > 0 AS defined FROM store;
SELECT rows_read, rows_loaded, rows_rejected, rows_read = rows_loaded + rows_rejected AS all_counted
  FROM pgetl_load('store_inferred', :'superstore');
SELECT count(*), min(order_date), max(ship_date), sum(quantity) FROM store_inferred;
-- a smaller sample of a server file says so
SELECT r->'sample' AS sample FROM pgetl_infer_load(:'superstore', 100) AS r;

SELECT pgetl_drop_load(name) FROM unnest(ARRAY['semi', 'tabs', 'store_inferred']) AS name;
SELECT pgetl_drop_stage(name) FROM unnest(ARRAY['semi', 'tabs', 'latin', 'win', 'quoted', 'crlf', 'bom', 'dates', 'blank']) AS name;
