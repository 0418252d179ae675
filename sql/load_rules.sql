-- Loader v2 rules (issue 13, section 5): min_length, not_allowed,
-- not_pattern, references (checked in batches, as the spec's owner),
-- severity warn (the row loads, the finding is kept), and whole-load
-- expectations checked after the rows are in (an unmet one fails the load:
-- nothing is loaded).  Sources are staged bytes.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgetl;
-- errors as SQLSTATE: message
\i test/setup/regress.sql
-- errors as SQLSTATE: message (HINT / DETAIL)
CREATE FUNCTION pg_temp.fails_hint(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    h text;
    d text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT, d = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' HINT: ' || nullif(h, ''), '')
           || coalesce(' DETAIL: ' || nullif(d, ''), '');
END
$f$;
-- stage the text (replacing a stage of that name), load it with spec
CREATE FUNCTION pg_temp.load_text(spec text, data text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    r record;
BEGIN
    IF EXISTS (SELECT FROM pgetl.stages WHERE stage = 'rules') THEN
        PERFORM pgetl_drop_stage('rules');
    END IF;
    PERFORM pgetl_stage('rules', convert_to(data, 'UTF8'));
    SELECT * INTO r FROM pgetl_load(spec, 'rules');
    RETURN format('read %s, loaded %s, rejected %s, warned %s', r.rows_read, r.rows_loaded,
                  r.rows_rejected, r.rows_warned);
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$f$;
-- the findings of the last load of spec
CREATE FUNCTION pg_temp.findings(spec text)
RETURNS TABLE (line_number bigint, severity text, rule text, column_name text, value text, message text)
LANGUAGE sql AS $f$
    SELECT line_number, severity, rule, column_name, value, message FROM pgetl.reject
     WHERE load_id = (SELECT max(load_id) FROM pgetl.load_history WHERE load_name = spec)
     ORDER BY reject_id
$f$;

CREATE TABLE r_items (code text, status text, qty integer, cust integer, note text);

-- 1. min_length (characters), not_allowed (exact text), not_pattern
SELECT pgetl_define_load('r_items', 'r_items', '[
    {"name": "code", "min_length": 3, "not_pattern": "^test"},
    {"name": "status", "not_allowed": ["N/A", "-"]},
    {"name": "qty", "not_allowed": [0]}
]') > 0 AS defined;
SELECT pg_temp.load_text('r_items', E'code,status,qty\nabc,ok,1\nab,ok,2\nééé,ok,3\ntest9,ok,4\nxyz,-,5\nxyw,N/A,0\nxyv,n/a,6\n');
SELECT * FROM pg_temp.findings('r_items');
SELECT code, status, qty FROM r_items ORDER BY qty;
TRUNCATE r_items;

-- 2. references: values must exist in the referenced column; NULL passes;
-- one query per batch of distinct values (a batch is 1,000 records)
CREATE TABLE r_cust (id integer PRIMARY KEY, name text);
INSERT INTO r_cust SELECT g, 'c' || g FROM generate_series(1, 10) g;
SELECT pgetl_define_load('r_items', 'r_items', '[
    {"name": "code"}, {"name": "cust", "references": {"table": "r_cust", "column": "id"}}
]') > 0 AS defined;
SELECT pg_temp.load_text('r_items', E'code,cust\na,1\nb,11\nc,\nd,2\ne,11\nf,+3\n');
SELECT * FROM pg_temp.findings('r_items');
SELECT code, cust FROM r_items ORDER BY code;
TRUNCATE r_items;
-- counted through a PL/pgSQL function behind a view: called once per query
CREATE FUNCTION r_cust_ids() RETURNS SETOF integer LANGUAGE plpgsql SET search_path = public AS $f$
BEGIN
    RETURN QUERY SELECT id FROM r_cust;
END
$f$;
CREATE VIEW r_cust_v AS SELECT id FROM r_cust_ids() AS id;
SELECT pgetl_define_load('r_items', 'r_items', '[
    {"name": "code"}, {"name": "cust", "references": {"table": "public.r_cust_v", "column": "id"}}
]') > 0 AS defined;
SET track_functions = 'pl';
BEGIN;
SELECT pg_temp.load_text('r_items', E'code,cust\n' ||
    (SELECT string_agg(g || ',' || (g % 12), E'\n') FROM generate_series(1, 2500) g) || E'\n');
SELECT pg_stat_get_xact_function_calls('r_cust_ids'::regproc) AS queries;
COMMIT;
RESET track_functions;
SELECT rule, count(*), min(value), max(value) FROM pg_temp.findings('r_items') GROUP BY rule;
SELECT count(*) FROM r_items;
TRUNCATE r_items;
-- the message names the table and column; identifiers are quoted
CREATE SCHEMA "R s";
CREATE TABLE "R s"."Cust Ref" ("Id" text);
INSERT INTO "R s"."Cust Ref" VALUES ('A'), ('B');
SELECT pgetl_define_load('r_items', 'r_items', '[
    {"name": "code", "references": {"table": "\"R s\".\"Cust Ref\"", "column": "Id"}}
]') > 0 AS defined;
SELECT pg_temp.load_text('r_items', E'code\nA\nC\nB\n');
SELECT * FROM pg_temp.findings('r_items');
TRUNCATE r_items;

-- 3. references are read as the spec's owner, whoever loads; the owner
-- needs SELECT on the referenced column (42501 at define and at load)
CREATE ROLE r_owner;
CREATE ROLE r_loader;
GRANT r_owner TO r_loader;
GRANT USAGE ON SCHEMA "R s" TO r_owner;
GRANT INSERT, SELECT ON r_items TO r_owner;
SET ROLE r_owner;
SELECT pg_temp.fails_hint($$SELECT pgetl_define_load('r_owned', 'r_items', '[{"name": "cust", "references": {"table": "r_cust", "column": "id"}}]')$$);
RESET ROLE;
GRANT SELECT (id) ON r_cust TO r_owner;
SET ROLE r_owner;
SELECT pgetl_define_load('r_owned', 'r_items', '[{"name": "cust", "references": {"table": "r_cust", "column": "id"}}]') > 0 AS defined;
RESET ROLE;
REVOKE SELECT (id) ON r_cust FROM r_owner;
-- a superuser loading the owner's spec does not lend it the right to read
SELECT pg_temp.load_text('r_owned', E'cust\n1\n');
GRANT SELECT (id) ON r_cust TO r_owner;
SELECT pg_temp.load_text('r_owned', E'cust\n1\n');
SELECT cust FROM r_items;
TRUNCATE r_items;

-- 4. severity warn: the row loads, the finding is kept with severity warn
-- and counted in rows_warned; the type rule always rejects
SELECT pgetl_define_load('r_items', 'r_items', '[
    {"name": "code", "required": true, "min_length": 2, "severity": "warn"},
    {"name": "status", "allowed": ["ok", "late"], "max_length": 4, "severity": {"allowed": "warn"}},
    {"name": "qty", "min": 1, "severity": {"min": "warn"}},
    {"name": "cust", "references": {"table": "r_cust", "column": "id"}, "unique": true, "severity": "warn"}
]', '{"checks": [{"name": "small", "expression": "qty < 100", "severity": "warn"},
                 {"name": "known", "expression": "status IS NOT NULL"}]}') > 0 AS defined;
SELECT pg_temp.load_text('r_items', E'code,status,qty,cust\n' ||
    E'ab,ok,1,1\n' ||        -- clean
    E'a,ok,2,2\n' ||         -- min_length warned
    E'  ,ok,3,3\n' ||        -- required warned (blank loads as is)
    E'cd,gone,4,4\n' ||      -- allowed warned
    E'ce,toolong,5,5\n' ||   -- max_length rejects (error)
    E'cf,ok,0,6\n' ||        -- min warned
    E'cg,ok,x,7\n' ||        -- type rejects, always
    E'ch,ok,200,8\n' ||      -- check small warned
    E'ci,,9,9\n' ||          -- check known rejects
    E'cj,ok,10,99\n' ||      -- references warned
    E'ck,ok,11,1\n' ||       -- unique warned
    E'c,gone,-1,98\n');      -- several warnings, one row
SELECT * FROM pg_temp.findings('r_items');
SELECT rows_read, rows_loaded, rows_rejected, rows_warned FROM pgetl.load_history
 WHERE load_name = 'r_items' ORDER BY load_id DESC LIMIT 1;
SELECT code, status, qty, cust FROM r_items ORDER BY cust;
TRUNCATE r_items;

-- in a pipeline run: the load task's result has rows_warned, and the run
-- report's reject reasons count rejects, not warnings
SELECT pgetl_drop_stage('rules');
SELECT pgetl_stage('rules', convert_to(E'code,status,qty,cust\nab,ok,1,1\na,ok,2,2\nce,toolong,5,5\n', 'UTF8')) > 0 AS staged;
SELECT pgetl_create_pipeline('r_pipe') > 0 AS created;
SELECT pgetl_add_task('r_pipe', 'load', NULL, kind => 'load', config => '{"load": "r_items", "source": "rules"}') > 0 AS added;
SELECT pgetl_run('r_pipe') AS r_run \gset
SELECT state, result - 'duration' - 'load_id' AS result FROM pgetl.task_run WHERE run_id = :r_run;
SELECT line_number, severity, rule FROM pgetl.reject WHERE run_id = :r_run ORDER BY reject_id;
SELECT line FROM regexp_split_to_table(pgetl_report(:r_run), E'\n') AS line WHERE line ~ '_length';
SELECT pgetl_drop_pipeline('r_pipe');
TRUNCATE r_items;

-- 5. expectations, met: the load commits
CREATE TABLE r_sales (id integer, region text, amount numeric, sold_on date);
SELECT pgetl_define_load('r_sales', 'r_sales', '[{"name": "id"}, {"name": "region"}, {"name": "amount"}, {"name": "sold_on"}]',
    '{"expect": {"min_rows": 2, "max_rows": 3, "max_reject_ratio": 0.5, "unique": ["id"],
                 "not_null": ["region", "amount"], "freshness": {"column": "sold_on", "max_age": "2 days"},
                 "sql": ["SELECT sum(amount) > 10 FROM public.r_sales",
                         "SELECT current_setting(''search_path'') = ''pg_catalog, pg_temp''"]}}') > 0 AS defined;
SELECT pg_temp.load_text('r_sales', format(E'id,region,amount,sold_on\n1,north,5,%s\n2,south,7,%s\nx,east,1,%s\n',
                                           current_date, current_date - 1, current_date));
SELECT id, region, amount FROM r_sales ORDER BY id;
-- 6. expectations, unmet: the load fails with 23514, naming the
-- expectation and the value seen; nothing is loaded, no history, no rejects
CREATE FUNCTION pg_temp.expect_case(expect jsonb, data text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    res text;
    loads bigint := (SELECT count(*) FROM pgetl.load_history WHERE load_name = 'r_sales');
    rejects bigint := (SELECT count(*) FROM pgetl.reject WHERE load_name = 'r_sales');
    rows bigint := (SELECT count(*) FROM r_sales);
BEGIN
    PERFORM pgetl_define_load('r_sales', 'r_sales', '[{"name": "id"}, {"name": "region"}, {"name": "amount"}, {"name": "sold_on"}]',
                              jsonb_build_object('expect', expect));
    res := pg_temp.load_text('r_sales', data);
    RETURN res || format(' | rows %s, loads %s, rejects %s', (SELECT count(*) FROM r_sales) - rows,
                         (SELECT count(*) FROM pgetl.load_history WHERE load_name = 'r_sales') - loads,
                         (SELECT count(*) FROM pgetl.reject WHERE load_name = 'r_sales') - rejects);
END
$f$;
TRUNCATE r_sales;
SELECT e AS expectation, pg_temp.expect_case(e::jsonb, E'id,region,amount,sold_on\n1,north,5,2024-01-01\n1,north,,2024-01-02\n3,,2,2024-01-02\ny,west,1,2024-01-03\n') AS result
  FROM (VALUES ('{"min_rows": 4}'), ('{"max_rows": 1}'), ('{"max_reject_ratio": 0.2}'),
               ('{"unique": ["id"]}'), ('{"unique": ["id", "region"]}'), ('{"not_null": ["region"]}'),
               ('{"freshness": {"column": "sold_on", "max_age": "2 days"}}'),
               ('{"sql": ["SELECT true", "SELECT count(*) = 0 FROM public.r_sales WHERE region IS NULL"]}'),
               ('{"sql": ["SELECT NULL::boolean"]}'), ('{"sql": ["SELECT true WHERE false"]}'),
               ('{"sql": ["SELECT 1/0 = 1"]}'),
               ('{"min_rows": 1, "unique": ["region"], "not_null": ["id"]}')) v(e);
-- the whole error: the first rejects in DETAIL, as past max_rejects
SELECT pgetl_define_load('r_sales', 'r_sales', '[{"name": "id"}, {"name": "region"}, {"name": "amount"}, {"name": "sold_on"}]',
    '{"expect": {"max_reject_ratio": 0.2}}') > 0 AS defined;
SELECT pgetl_drop_stage('rules');
SELECT pgetl_stage('rules', convert_to(E'id,region,amount,sold_on\n1,north,5,2024-01-01\ny,west,1,2024-01-03\nz,west,1,2024-01-03\n', 'UTF8')) > 0 AS staged;
SELECT pg_temp.fails_hint($$SELECT * FROM pgetl_load('r_sales', 'rules')$$);
-- met; then unmet by the rows of both loads (unique, not_null, freshness
-- and sql look at the target as the load leaves it)
TRUNCATE r_sales;
SELECT e AS expectation, pg_temp.expect_case(e::jsonb, E'id,region,amount,sold_on\n5,west,1,2024-01-01\n') AS result
  FROM (VALUES ('{"unique": ["id"], "min_rows": 1, "max_rows": 1}'), ('{"unique": ["region"]}')) v(e);
-- the sql runs as the spec's owner, never as the loading superuser
CREATE TABLE r_secret (x integer);
GRANT SELECT, INSERT ON r_sales TO r_owner;
SET ROLE r_owner;
SELECT pgetl_define_load('r_sales_owned', 'r_sales', '[{"name": "id"}]',
    '{"expect": {"sql": ["SELECT count(*) >= 0 FROM public.r_secret"]}}') > 0 AS defined;
RESET ROLE;
SELECT pg_temp.load_text('r_sales_owned', E'id\n1\n');
-- ... and may not write (a read-only query)
SELECT pg_temp.fails($$SELECT pgetl_define_load('r_sales', 'r_sales', '[{"name": "id"}]',
    '{"expect": {"sql": ["WITH d AS (DELETE FROM public.r_sales RETURNING 1) SELECT true"]}}')$$);
SELECT count(*) FROM r_sales;

-- 7. bad definitions: SQLSTATE, message and hint
SELECT d AS definition, pg_temp.fails_hint(format($$SELECT pgetl_define_load('r_bad', 'r_items', %L)$$, d)) AS error
  FROM (VALUES
    ('[{"name": "code", "min_length": -1}]'),
    ('[{"name": "code", "min_length": 1.5}]'),
    ('[{"name": "code", "min_length": "3"}]'),
    ('[{"name": "code", "min_length": 5, "max_length": 4}]'),
    ('[{"name": "code", "not_allowed": "x"}]'),
    ('[{"name": "qty", "not_allowed": ["x"]}]'),
    ('[{"name": "code", "not_pattern": "(unclosed"}]'),
    ('[{"name": "code", "not_pattern": 1}]'),
    ('[{"name": "cust", "references": "r_cust"}]'),
    ('[{"name": "cust", "references": {"table": "r_cust"}}]'),
    ('[{"name": "cust", "references": {"table": "r_cust", "column": "id", "on": "x"}}]'),
    ('[{"name": "cust", "references": {"table": "no_such_table", "column": "id"}}]'),
    ('[{"name": "cust", "references": {"table": "r_cust", "column": "no_such"}}]'),
    ('[{"name": "cust", "references": {"table": "r_cust", "column": "name"}}]'),
    ('[{"name": "x", "target": null, "references": {"table": "r_cust", "column": "id"}}]'),
    ('[{"name": "code", "severity": "fatal"}]'),
    ('[{"name": "code", "severity": 1}]'),
    ('[{"name": "qty", "min": 1, "severity": {"type": "warn"}}]'),
    ('[{"name": "qty", "min": 1, "severity": {"max": "warn"}}]'),
    ('[{"name": "qty", "min": 1, "severity": {"min": "info"}}]')) v(d);
SELECT o AS options, pg_temp.fails_hint(format($$SELECT pgetl_define_load('r_bad', 'r_sales', '[{"name": "id"}, {"name": "sold_on"}, {"name": "region"}]', %L)$$, o)) AS error
  FROM (VALUES
    ('{"checks": [{"name": "c", "expression": "true", "severity": "maybe"}]}'),
    ('{"expect": []}'),
    ('{"expect": {"max_rows_x": 1}}'),
    ('{"expect": {"min_rows": -1}}'),
    ('{"expect": {"min_rows": 2.5}}'),
    ('{"expect": {"min_rows": 5, "max_rows": 4}}'),
    ('{"expect": {"max_reject_ratio": 2}}'),
    ('{"expect": {"unique": []}}'),
    ('{"expect": {"unique": [1]}}'),
    ('{"expect": {"unique": ["nope"]}}'),
    ('{"expect": {"not_null": "id"}}'),
    ('{"expect": {"not_null": ["nope"]}}'),
    ('{"expect": {"freshness": {"column": "sold_on"}}}'),
    ('{"expect": {"freshness": {"column": "sold_on", "max_age": "soon"}}}'),
    ('{"expect": {"freshness": {"column": "sold_on", "max_age": "-1 day"}}}'),
    ('{"expect": {"freshness": {"column": "region", "max_age": "1 day"}}}'),
    ('{"expect": {"freshness": {"column": "nope", "max_age": "1 day"}}}'),
    ('{"expect": {"sql": "SELECT true"}}'),
    ('{"expect": {"sql": [""]}}'),
    ('{"expect": {"sql": ["SELEC true"]}}'),
    ('{"expect": {"sql": ["SELECT 1"]}}'),
    ('{"expect": {"sql": ["SELECT true, false"]}}'),
    ('{"expect": {"sql": ["SELECT true FROM r_sales"]}}'),
    ('{"expect": {"sql": ["SELECT true; SELECT true"]}}'),
    ('{"expect": {"sql": ["INSERT INTO public.r_sales VALUES (1) RETURNING true"]}}')) v(o);
-- expectations that read the target need the owner's SELECT on it
REVOKE SELECT ON r_sales FROM r_owner;
SET ROLE r_owner;
SELECT pg_temp.fails_hint($$SELECT pgetl_define_load('r_owned2', 'r_sales', '[{"name": "id"}]', '{"expect": {"unique": ["id"]}}')$$);
RESET ROLE;
SELECT count(*) AS bad_specs_stored FROM pgetl.loads WHERE load LIKE 'r_bad%' OR load = 'r_owned2';

-- clean up
SELECT pgetl_drop_load(load) FROM pgetl.loads WHERE load LIKE 'r\_%' ORDER BY load;
DROP TABLE r_items, r_sales, r_secret;
DROP VIEW r_cust_v;
DROP FUNCTION r_cust_ids();
DROP TABLE r_cust;
DROP SCHEMA "R s" CASCADE;
DROP OWNED BY r_owner;
DROP ROLE r_loader;
DROP ROLE r_owner;
