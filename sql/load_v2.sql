-- Loader v2 (issue 13): a \. line in multibyte encodings that embed ASCII,
-- the BOM of a non-UTF-8 source, blank lines of a one-column file,
-- require_final_newline, gzip-compressed sources, unlisted_columns.
-- Sources are staged bytes, so that every byte is visible here.
\getenv abs_srcdir PG_ABS_SRCDIR
\set superstore :abs_srcdir '/../shared/data/superstore.csv'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgetl;
-- errors as SQLSTATE: message
\i test/setup/regress.sql
-- stage the bytes (replacing a stage of that name), load them with spec
CREATE FUNCTION pg_temp.load_bytes(spec text, data bytea) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    r record;
BEGIN
    IF EXISTS (SELECT FROM pgetl.stages WHERE stage = 'v2') THEN
        PERFORM pgetl_drop_stage('v2');
    END IF;
    PERFORM pgetl_stage('v2', data);
    SELECT * INTO r FROM pgetl_load(spec, 'v2');
    RETURN format('read %s, loaded %s, rejected %s', r.rows_read, r.rows_loaded, r.rows_rejected);
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$f$;
-- the rejects of the last load of spec: line, rule, column
CREATE FUNCTION pg_temp.rejects(spec text) RETURNS TABLE (line_number bigint, record text, rule text, column_name text)
LANGUAGE sql AS $f$
    SELECT line_number, record, rule, column_name FROM pgetl.reject
     WHERE load_id = (SELECT max(load_id) FROM pgetl.load_history WHERE load_name = spec)
     ORDER BY reject_id
$f$;

-- 1. A \. line is data in every encoding.  In SJIS, BIG5, GBK and GB18030
-- the second byte of a character can be 0x5C (a backslash in ASCII); with
-- "escape": "\", such a character inside quotes must not escape the
-- closing quote, or the \. line after it ends the input.  Each source:
-- line 1 a quoted character ending in 0x5C, line 2 \., line 3 y,z.
CREATE TABLE v2_two (enc text, a text, b text);
CREATE FUNCTION pg_temp.mb_case(enc text, ch text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    res text;
BEGIN
    PERFORM pgetl_define_load('v2_mb', 'v2_two', '[{"name": "a"}, {"name": "b"}]',
                              jsonb_build_object('header', false, 'escape', E'\\', 'encoding', enc));
    TRUNCATE v2_two;
    res := pg_temp.load_bytes('v2_mb', convert_to(format(E'"%s",x\n\\.\ny,z\n', ch), enc));
    RETURN format('%s (0x%s): %s; loaded %s; rejected %s', enc, encode(convert_to(ch, enc), 'hex'), res,
                  (SELECT string_agg(a || '|' || b, ' ' ORDER BY a) FROM v2_two),
                  (SELECT string_agg(line_number || ' ' || record || ' ' || rule, ' ') FROM pg_temp.rejects('v2_mb')));
END
$f$;
SELECT pg_temp.mb_case(enc, ch)
  FROM (VALUES ('UTF8', '表'), ('SJIS', '表'), ('SHIFT_JIS_2004', '表'), ('BIG5', '許'),
               ('GBK', '乗'), ('GB18030', '乗'), ('EUC_JP', '表')) AS t(enc, ch);

-- The same with the character split between two staged chunks (the filter
-- gets its two bytes in two reads).
SELECT pgetl_drop_stage('v2');
SELECT pgetl_stage('v2', '\x2295'::bytea) > 0, pgetl_stage('v2', '\x5c222c780a5c2e0a792c7a0a'::bytea) > 0;
TRUNCATE v2_two;
SELECT pgetl_define_load('v2_mb', 'v2_two', '[{"name": "a"}, {"name": "b"}]',
                         '{"header": false, "escape": "\\", "encoding": "SJIS"}') > 0 AS defined;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('v2_mb', 'v2');
SELECT a, b FROM v2_two ORDER BY a;

-- 2. The UTF-8 byte order mark is dropped only when the encoding is UTF8:
-- in LATIN1, EF BB BF are the characters ï»¿ and load as COPY loads them.
CREATE TABLE v2_one (v text);
SELECT pgetl_define_load('v2_latin1', 'v2_one', '[{"name": "v"}]', '{"header": false, "encoding": "LATIN1"}') > 0 AS defined;
SELECT pg_temp.load_bytes('v2_latin1', '\xefbbbf610a'::bytea);
SELECT v, length(v) FROM v2_one;
TRUNCATE v2_one;
SELECT pgetl_define_load('v2_utf8', 'v2_one', '[{"name": "v"}]', '{"header": false}') > 0 AS defined;
SELECT pg_temp.load_bytes('v2_utf8', '\xefbbbf610a'::bytea);
SELECT v, length(v) FROM v2_one;

-- 3. In a file of one column, a blank line is a record: an empty unquoted
-- field, so NULL (with the default "null": ''), or rejected when required.
-- With more columns blank lines are still skipped.
TRUNCATE v2_one;
SELECT pg_temp.load_bytes('v2_utf8', convert_to(E'a\n\nb\n\n', 'UTF8'));
SELECT coalesce(v, '<null>') AS v FROM v2_one ORDER BY v NULLS LAST;
SELECT pgetl_define_load('v2_req', 'v2_one', '[{"name": "v", "required": true}]') > 0 AS defined;
SELECT pg_temp.load_bytes('v2_req', convert_to(E'v\r\na\r\n\r\nb\r\n', 'UTF8'));
SELECT * FROM pg_temp.rejects('v2_req');
SELECT pgetl_define_load('v2_null', 'v2_one', '[{"name": "v"}]', '{"header": false, "null": "NULL"}') > 0 AS defined;
TRUNCATE v2_one;
SELECT pg_temp.load_bytes('v2_null', convert_to(E'a\n\nNULL\n', 'UTF8'));
SELECT coalesce(v, '<null>') AS v FROM v2_one ORDER BY v NULLS LAST;
SELECT pgetl_define_load('v2_two', 'v2_two', '[{"name": "a"}, {"name": "b"}]', '{"header": false}') > 0 AS defined;
SELECT pg_temp.load_bytes('v2_two', convert_to(E'a,1\n\nb,2\n', 'UTF8'));

-- 4. require_final_newline: the last record without a line terminator (a
-- file still being written) is rejected (rule final_newline); by default it
-- loads, as with COPY.
SELECT pg_temp.load_bytes('v2_two', convert_to(E'a,1\nb,2', 'UTF8'));
SELECT pgetl_define_load('v2_nl', 'v2_two', '[{"name": "a"}, {"name": "b"}]',
                         '{"header": false, "require_final_newline": true}') > 0 AS defined;
SELECT pg_temp.load_bytes('v2_nl', convert_to(E'a,1\nb,2', 'UTF8'));
SELECT * FROM pg_temp.rejects('v2_nl');
SELECT pg_temp.load_bytes('v2_nl', convert_to(E'a,1\nb,2\n', 'UTF8')) AS terminated_lf,
       pg_temp.load_bytes('v2_nl', convert_to(E'a,1\r\nb,2\r\n', 'UTF8')) AS terminated_crlf,
       pg_temp.load_bytes('v2_nl', convert_to(E'a,1\rb,2\r', 'UTF8')) AS terminated_cr;
-- a quoted line break in the last record, a truncated one, \. last
SELECT pg_temp.load_bytes('v2_nl', convert_to(E'a,1\n"b\nc",2', 'UTF8'));
SELECT * FROM pg_temp.rejects('v2_nl');
SELECT pg_temp.load_bytes('v2_nl', convert_to(E'a,1\nb', 'UTF8'));
SELECT * FROM pg_temp.rejects('v2_nl');
SELECT pg_temp.load_bytes('v2_nl', convert_to(E'a,1\n\\.', 'UTF8'));
SELECT * FROM pg_temp.rejects('v2_nl');
SELECT pg_temp.fails($$SELECT pgetl_define_load('v2_nl', 'v2_two', '[{"name": "a"}]', '{"require_final_newline": "yes"}')$$);

-- 5. gzip: recognized by its magic bytes (1f 8b), whatever the name, and
-- inflated; members one after the other load as one file.  A corrupt or
-- truncated stream fails the load (22P04).
CREATE TABLE v2_gz (id integer, name text);
SELECT pgetl_define_load('v2_gz', 'v2_gz', '[{"name": "id", "required": true}, {"name": "name"}]') > 0 AS defined;
SELECT pg_temp.load_bytes('v2_gz', '\x1f8b0800000000000203cb4cd1c94bcc4de532d449e432d249e20200a5c2194d10000000'::bytea);
SELECT pg_temp.load_bytes('v2_gz', '\x1f8b0800000000000203cb4cd1c94bcc4de532d449e432d249e20200a5c2194d10000000'::bytea
                                   || '\x1f8b080000000000020333d649e60200ade6885c04000000'::bytea);
SELECT * FROM v2_gz ORDER BY id;
SELECT pg_temp.load_bytes('v2_gz', '\x1f8b0800000000000203cb4cd1c94bcc4de532d449e432d249e2'::bytea) AS truncated;
SELECT pg_temp.load_bytes('v2_gz', '\x1f8b0800000000000203cb4cd1c94bccffffffffffffffffe20200a5c2194d10000000'::bytea) AS corrupt;
SELECT pg_temp.load_bytes('v2_gz', '\x1f8b'::bytea) AS magic_only;
SELECT count(*) FROM v2_gz;

-- 6. unlisted_columns: with "ignore", header columns the spec does not
-- name are skipped: 3 columns of the 21 of the Superstore export.
CREATE TABLE v2_orders (row_id integer PRIMARY KEY, order_id text, sales numeric);
SELECT pgetl_define_load('v2_orders', 'v2_orders', '[
    {"name": "Row ID", "target": "row_id", "required": true},
    {"name": "Order ID", "target": "order_id", "pattern": "^(US|CA)-"},
    {"name": "Sales", "target": "sales", "min": 0}
]', '{"unlisted_columns": "ignore"}') > 0 AS defined;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('v2_orders', :'superstore');
SELECT count(*), count(DISTINCT order_id), sum(sales) > 0 AS sales FROM v2_orders;
-- the default, "error", fails as before
SELECT pgetl_define_load('v2_orders', 'v2_orders', '[{"name": "Row ID", "target": "row_id"}]',
                         '{"unlisted_columns": "error"}') > 0 AS defined;
SELECT left(pg_temp.fails(format('SELECT pgetl_load(%L, %L)', 'v2_orders', :'superstore')), 60);
-- ignored columns may repeat; a loaded one may not
SELECT pgetl_define_load('v2_unl', 'v2_two', '[{"name": "a"}]', '{"unlisted_columns": "ignore"}') > 0 AS defined;
SELECT pg_temp.load_bytes('v2_unl', convert_to(E'x,a,x,\n1,2,3,4\n5,6\n', 'UTF8'));
SELECT * FROM pg_temp.rejects('v2_unl');
SELECT pg_temp.load_bytes('v2_unl', convert_to(E'a,x,a\n1,2,3\n', 'UTF8'));
-- option values are checked at definition (22023)
SELECT pg_temp.fails($$SELECT pgetl_define_load('v2_unl', 'v2_two', '[{"name": "a"}]', '{"unlisted_columns": "skip"}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('v2_unl', 'v2_two', '[{"name": "a"}]', '{"unlisted_columns": true}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('v2_unl', 'v2_two', '[{"name": "a"}]', '{"header": false, "unlisted_columns": "ignore"}')$$);
-- the HINTs list the valid values, and the options
CREATE FUNCTION pg_temp.hint(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    h text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || h;
END
$f$;
SELECT pg_temp.hint($$SELECT pgetl_define_load('v2_unl', 'v2_two', '[{"name": "a"}]', '{"unlisted_columns": "skip"}')$$);
SELECT pg_temp.hint($$SELECT pgetl_define_load('v2_unl', 'v2_two', '[{"name": "a"}]', '{"unlisted": "ignore"}')$$);
SELECT options FROM pgetl.loads WHERE load = 'v2_unl';

SELECT pgetl_drop_stage('v2');
