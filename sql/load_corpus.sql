-- The bad-input corpus (test/load/corpus): file-level errors fail the load
-- with COPY's SQLSTATE and leave the target unchanged; record-level
-- problems reject just that record.
\getenv abs_srcdir PG_ABS_SRCDIR
\set dir :abs_srcdir '/test/load/corpus/'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgetl;
\i test/setup/regress.sql
-- load a corpus file, or show the error; then what the target holds
CREATE FUNCTION pg_temp.try_load(spec text, file text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM pgetl_load(spec, current_setting('corpus.dir') || file);
    RETURN format('read %s, loaded %s, rejected %s', r.rows_read, r.rows_loaded, r.rows_rejected);
EXCEPTION WHEN OTHERS THEN
    RETURN replace(SQLSTATE || ': ' || SQLERRM, current_setting('corpus.dir'), '<corpus>/');
END
$f$;
-- the same, with the error's context (where in the file)
CREATE FUNCTION pg_temp.load_context(spec text, file text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    ctx text;
BEGIN
    PERFORM pgetl_load(spec, current_setting('corpus.dir') || file);
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS ctx = PG_EXCEPTION_CONTEXT;
    RETURN replace(SQLSTATE || ': ' || SQLERRM || ' / ' || split_part(ctx, E'\n', 1),
                   current_setting('corpus.dir'), '<corpus>/');
END
$f$;
SELECT set_config('corpus.dir', :'dir', false) IS NOT NULL AS dir_set;

CREATE TABLE corpus (id integer PRIMARY KEY, name text);
INSERT INTO corpus VALUES (100, 'before');
SELECT pgetl_define_load('corpus', 'corpus', '[{"name": "id", "required": true}, {"name": "name"}]') > 0;

-- File-level errors: the load fails, the target is unchanged.
SELECT pg_temp.try_load('corpus', 'unterminated_quote.csv');
SELECT pg_temp.try_load('corpus', 'bare_cr.csv');
SELECT pg_temp.try_load('corpus', 'invalid_utf8.csv');
SELECT pg_temp.try_load('corpus', 'nul_byte.csv');
SELECT pg_temp.try_load('corpus', 'empty.csv');
SELECT pg_temp.try_load('corpus', 'header_mismatch.csv');
SELECT pg_temp.try_load('corpus', 'no_such_file.csv');
SELECT pg_temp.fails($$SELECT pgetl_load('corpus', '/')$$);
SELECT * FROM corpus ORDER BY id;
SELECT count(*) AS history_of_failed_loads FROM pgetl.load_history WHERE load_name = 'corpus';

-- The error names the line where the bad record starts.
SELECT pg_temp.load_context('corpus', 'unterminated_quote.csv');
SELECT pg_temp.load_context('corpus', 'invalid_utf8.csv');
SELECT pg_temp.load_context('corpus', 'nul_byte.csv');

-- Record-level problems reject the record only.
SELECT pg_temp.try_load('corpus', 'extra_missing_fields.csv');
SELECT line_number, record, rule, message, sqlstate FROM pgetl.reject
 WHERE load_name = 'corpus' ORDER BY reject_id;
SELECT pg_temp.try_load('corpus', 'header_only.csv');
DELETE FROM corpus WHERE id < 100;
SELECT pg_temp.try_load('corpus', 'bom_header.csv');
-- (id 1 is loaded already: the target's primary key rejects it)
SELECT pg_temp.try_load('corpus', 'header_reordered.csv');
SELECT * FROM corpus ORDER BY id;

-- CRLF, quoted newlines and quotes; physical line numbers count the header
-- and the newline inside quotes; NULL is an unquoted empty field, "" is ''.
DELETE FROM corpus WHERE id < 100;
SELECT pg_temp.try_load('corpus', 'crlf_quoted.csv');
SELECT id, name, name IS NULL AS is_null, octet_length(name) AS bytes FROM corpus ORDER BY id;
SELECT line_number, record, column_name, rule FROM pgetl.reject
 WHERE load_name = 'corpus' AND source LIKE '%crlf_quoted.csv';

-- No header: fields in spec order; a BOM is dropped.
CREATE TABLE corpus_nohdr (id integer, name text);
SELECT pgetl_define_load('corpus_nohdr', 'corpus_nohdr', '[{"name": "id"}, {"name": "name"}]',
                         '{"header": false}') > 0;
SELECT pg_temp.try_load('corpus_nohdr', 'bom_no_header.csv');
SELECT * FROM corpus_nohdr ORDER BY id;
SELECT pg_temp.try_load('corpus_nohdr', 'empty.csv');

-- A line consisting of \. is data, not the end of the input.
CREATE TABLE corpus_names (name text);
SELECT pgetl_define_load('corpus_names', 'corpus_names', '[{"name": "name"}]') > 0;
SELECT pg_temp.try_load('corpus_names', 'backslash_dot.csv');
SELECT name FROM corpus_names;

-- A field over 1 MB loads whole.
SELECT pgetl_stage('big', convert_to('name' || chr(10) || repeat('x', 1500000) || chr(10) || 'small' || chr(10), 'UTF8'));
SELECT rows_read, rows_loaded FROM pgetl_load('corpus_names', 'big', purge => true);
SELECT octet_length(name) FROM corpus_names ORDER BY 1;

-- max_rejects: past it the load fails whole, listing the first reasons.
SELECT pgetl_define_load('corpus', 'corpus', '[{"name": "id", "required": true}, {"name": "name"}]',
                         '{"max_rejects": 1}') > 0;
DELETE FROM corpus WHERE id < 100;
SELECT pg_temp.try_load('corpus', 'extra_missing_fields.csv');
SELECT pgetl_define_load('corpus', 'corpus', '[{"name": "id", "required": true}, {"name": "name"}]',
                         '{"max_reject_ratio": 0.5}') > 0;
SELECT pg_temp.try_load('corpus', 'extra_missing_fields.csv');
SELECT * FROM corpus ORDER BY id;
SELECT pgetl_define_load('corpus', 'corpus', '[{"name": "id", "required": true}, {"name": "name"}]',
                         '{"max_reject_ratio": 0.7}') > 0;
SELECT pg_temp.try_load('corpus', 'extra_missing_fields.csv');

-- Without pg_read_server_files a role cannot load server files, but can
-- stage; without INSERT on the target it cannot load at all.
CREATE ROLE corpus_user;
GRANT INSERT ON corpus TO corpus_user;
SET ROLE corpus_user;
SELECT pgetl_define_load('mine', 'corpus', '[{"name": "id"}, {"name": "name"}]') > 0;
SELECT pg_temp.try_load('mine', 'bom_header.csv');
SELECT pg_temp.fails($$SELECT pgetl_load('corpus', 'x')$$);
SELECT pgetl_stage('mine', convert_to(E'id,name\n7,seven\n', 'UTF8'));
SELECT rows_loaded FROM pgetl_load('mine', 'mine');
RESET ROLE;
REVOKE INSERT ON corpus FROM corpus_user;
SET ROLE corpus_user;
SELECT pg_temp.fails($$SELECT pgetl_load('mine', 'mine')$$);
SELECT count(*) AS specs_visible FROM pgetl.loads;
RESET ROLE;
SELECT pgetl_drop_load('mine');
SELECT pgetl_drop_stage('mine');
DROP ROLE corpus_user;
