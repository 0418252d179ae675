-- Loader v2 (issue 13, section 4): commit_every commits a load every N
-- records with a checkpoint; pgetl_load(..., resume => true) continues an
-- interrupted load from it, and refuses a source that changed.  (A load
-- killed with kill -9 and resumed: test/load/resume_kill_test.sh.)
-- Sources are staged bytes.  A load with commit_every runs in a background
-- worker, so it is called here outside transaction blocks, and its errors
-- are shown as psql prints them, not caught in a PL/pgSQL block (a
-- subtransaction, which it refuses).
-- In a database of its own, so that load ids (in messages) start at 1.
SELECT current_database() AS regress_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS pgetl_load_resume_test;
CREATE DATABASE pgetl_load_resume_test;
\c pgetl_load_resume_test
SET client_min_messages = warning;
CREATE EXTENSION pgetl;
\i test/setup/regress.sql
CREATE TABLE rt (id integer PRIMARY KEY, v text);
-- ten records, the seventh bad
SELECT pgetl_stage('rs', convert_to(E'id,v\n1,a\n2,b\n3,c\n4,d\n5,e\n6,f\nx,g\n8,h\n9,i\n10,j\n', 'UTF8'));

-- bad values of commit_every
SELECT pg_temp.fails($$SELECT pgetl_define_load('rs', 'rt', '[{"name": "id"}, {"name": "v"}]', '{"commit_every": 0}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('rs', 'rt', '[{"name": "id"}, {"name": "v"}]', '{"commit_every": -5}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('rs', 'rt', '[{"name": "id"}, {"name": "v"}]', '{"commit_every": 2.5}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('rs', 'rt', '[{"name": "id"}, {"name": "v"}]', '{"commit_every": "3"}')$$);
-- expectations judge the whole load: not with commit_every
SELECT pg_temp.fails($$SELECT pgetl_define_load('rs', 'rt', '[{"name": "id"}, {"name": "v"}]', '{"commit_every": 3, "expect": {"min_rows": 1}}')$$);
SELECT pgetl_define_load('rs', 'rt', '[{"name": "id"}, {"name": "v"}]', '{"commit_every": 3, "max_rejects": 0}') > 0 AS defined;

-- inside a transaction block, a subtransaction or a function's block: refused
BEGIN;
SELECT * FROM pgetl_load('rs', 'rs');
ROLLBACK;
SELECT pg_temp.fails($$SELECT pgetl_load('rs', 'rs')$$);

-- the stretch of records 7-9 exceeds max_rejects: records 1-6 stay loaded,
-- the load is unfinished, with its checkpoint at line 8 (the header is line 1)
SELECT * FROM pgetl_load('rs', 'rs');
SELECT count(*), min(id), max(id) FROM rt;
SELECT load_name, source, rows_read, rows_loaded, rows_rejected, finished_at IS NULL AS unfinished
  FROM pgetl.load_history WHERE load_name = 'rs';
SELECT commit_every, checkpoint_offset, checkpoint_line, source_size, source_hash IS NOT NULL AS hashed, header
  FROM pgetl.load_record WHERE load_name = 'rs';

-- resume inside a transaction block: refused
BEGIN;
SELECT * FROM pgetl_load('rs', 'rs', resume => true);
ROLLBACK;

-- allow one reject, resume: records 7-10 are read, the bad one rejected
SELECT pgetl_define_load('rs', 'rt', '[{"name": "id"}, {"name": "v"}]', '{"commit_every": 3, "max_rejects": 1}') > 0 AS defined;
SELECT load_id = (SELECT min(load_id) FROM pgetl.load_history WHERE load_name = 'rs') AS same_load,
       rows_read, rows_loaded, rows_rejected
  FROM pgetl_load('rs', 'rs', resume => true);
SELECT count(*), count(DISTINCT id), min(id), max(id) FROM rt;
SELECT rows_read, rows_loaded, rows_rejected, finished_at IS NOT NULL AS finished
  FROM pgetl.load_history WHERE load_name = 'rs';
SELECT line_number, record, rule FROM pgetl.reject WHERE load_name = 'rs';

-- nothing left to resume
SELECT * FROM pgetl_load('rs', 'rs', resume => true);
SELECT * FROM pgetl_load('rs', 'nosuchstage', resume => true);

-- the source changed since the load was interrupted: refused
TRUNCATE rt;
SELECT pgetl_define_load('rs', 'rt', '[{"name": "id"}, {"name": "v"}]', '{"commit_every": 3, "max_rejects": 0}') > 0 AS defined;
SELECT * FROM pgetl_load('rs', 'rs');
SELECT pgetl_stage('rs', convert_to(E'11,k\n', 'UTF8'));
SELECT pgetl_define_load('rs', 'rt', '[{"name": "id"}, {"name": "v"}]', '{"commit_every": 3, "max_rejects": 1}') > 0 AS defined;
SELECT * FROM pgetl_load('rs', 'rs', resume => true);
SELECT count(*) FROM rt;

-- the spec no longer has commit_every: the interrupted load resumes with
-- its own (resume is refused in a transaction block all the same)
TRUNCATE rt;
SELECT pgetl_stage('rs2', convert_to(E'id,v\n1,a\n2,b\nx,c\n4,d\n5,e\n', 'UTF8'));
SELECT pgetl_define_load('rs2', 'rt', '[{"name": "id"}, {"name": "v"}]', '{"commit_every": 2, "max_rejects": 0}') > 0 AS defined;
SELECT * FROM pgetl_load('rs2', 'rs2');
SELECT pgetl_define_load('rs2', 'rt', '[{"name": "id"}, {"name": "v"}]', '{"max_rejects": 1}') > 0 AS defined;
BEGIN;
SELECT * FROM pgetl_load('rs2', 'rs2', resume => true);
ROLLBACK;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('rs2', 'rs2', resume => true);
SELECT count(*), min(id), max(id) FROM rt;
SELECT commit_every, rows_read, finished_at IS NOT NULL AS finished FROM pgetl.load_record WHERE load_name = 'rs2';

-- a clean load in stretches equals a load in one transaction: CRLF line
-- ends, quoted fields over several lines, blank lines, a BOM; commit_every
-- 1, 2 and 4 against none; the rejects have the same lines
CREATE TABLE rq (id integer, v text);
SELECT pgetl_stage('rq', '\xefbbbf'::bytea || convert_to(E'id,v\r\n1,"a\r\nb"\r\n\r\n2,c\r\n3,"d,""e"""\r\nbad,f\r\n4,"g\r\n\r\nh"\r\n5,i', 'UTF8'));
SELECT pgetl_define_load('rq1', 'rq', '[{"name": "id"}, {"name": "v"}]', '{"max_rejects": 5}') > 0 AS defined;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('rq1', 'rq');
CREATE TABLE rq_clean AS SELECT * FROM rq;
TRUNCATE rq;
SELECT pgetl_define_load('rq2', 'rq', '[{"name": "id"}, {"name": "v"}]', '{"max_rejects": 5, "commit_every": 1}') > 0 AS defined;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('rq2', 'rq');
SELECT (SELECT count(*) FROM (SELECT * FROM rq EXCEPT ALL SELECT * FROM rq_clean) d) AS extra,
       (SELECT count(*) FROM (SELECT * FROM rq_clean EXCEPT ALL SELECT * FROM rq) d) AS missing;
TRUNCATE rq;
SELECT pgetl_define_load('rq2', 'rq', '[{"name": "id"}, {"name": "v"}]', '{"max_rejects": 5, "commit_every": 2}') > 0 AS defined;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('rq2', 'rq');
SELECT (SELECT count(*) FROM (SELECT * FROM rq EXCEPT ALL SELECT * FROM rq_clean) d) AS extra,
       (SELECT count(*) FROM (SELECT * FROM rq_clean EXCEPT ALL SELECT * FROM rq) d) AS missing;
TRUNCATE rq;
SELECT pgetl_define_load('rq2', 'rq', '[{"name": "id"}, {"name": "v"}]', '{"max_rejects": 5, "commit_every": 4}') > 0 AS defined;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('rq2', 'rq');
SELECT (SELECT count(*) FROM (SELECT * FROM rq EXCEPT ALL SELECT * FROM rq_clean) d) AS extra,
       (SELECT count(*) FROM (SELECT * FROM rq_clean EXCEPT ALL SELECT * FROM rq) d) AS missing;
SELECT load_name, line_number, record FROM pgetl.reject WHERE load_name IN ('rq1', 'rq2') ORDER BY load_id;
SELECT checkpoint_line, checkpoint_offset FROM pgetl.load_record WHERE load_name = 'rq2' ORDER BY load_id;

-- mode replace truncates once, at the start, not at each stretch
SELECT pgetl_define_load('rq3', 'rq', '[{"name": "id"}, {"name": "v"}]', '{"max_rejects": 5, "commit_every": 2, "mode": "replace"}') > 0 AS defined;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('rq3', 'rq');
SELECT count(*) FROM rq;

-- a gzip-compressed source cannot be loaded with commit_every
SELECT pgetl_stage('rgz', decode('1f8b0800000000000003cb4cd129e332d449e402003dbb4d3809000000', 'hex'));
SELECT * FROM pgetl_load('rq2', 'rgz');

-- nor can a spec with a unique column
SELECT pgetl_define_load('rq4', 'rq', '[{"name": "id", "unique": true}, {"name": "v"}]', '{"commit_every": 2}') > 0 AS defined;
SELECT * FROM pgetl_load('rq4', 'rq');

-- the worker runs as the calling role: one without pg_read_server_files
-- cannot load a server file with commit_every either
CREATE ROLE pgetl_resume_nobody;
GRANT INSERT ON rq TO pgetl_resume_nobody;
SET ROLE pgetl_resume_nobody;
SELECT pgetl_define_load('rq5', 'rq', '[{"name": "id"}, {"name": "v"}]', '{"commit_every": 2}') > 0 AS defined;
SELECT * FROM pgetl_load('rq5', '/etc/passwd');
RESET ROLE;

-- the caller's settings reach the worker: DateStyle
CREATE TABLE rd (d date);
SELECT pgetl_stage('rd', convert_to(E'd\n03/04/2020\n', 'UTF8'));
SELECT pgetl_define_load('rd', 'rd', '[{"name": "d"}]', '{"commit_every": 1}') > 0 AS defined;
SET DateStyle = 'ISO, DMY';
SELECT rows_loaded FROM pgetl_load('rd', 'rd');
RESET DateStyle;
SELECT d FROM rd;

-- a load task of a pipeline: the worker's load carries the run's id
TRUNCATE rd;
SELECT pgetl_create_pipeline('resume_p') > 0 AS created;
SELECT pgetl_add_task('resume_p', 'ld', NULL, kind => 'load', config => '{"load": "rd", "source": "rd"}') > 0 AS added;
SELECT pgetl_run('resume_p') AS run_id \gset
SELECT task, state, result->'rows_loaded' AS rows_loaded FROM pgetl.task_run WHERE run_id = :run_id;
SELECT run_id = :run_id AS same_run, rows_loaded, finished_at IS NOT NULL AS finished
  FROM pgetl.load_history WHERE load_name = 'rd' ORDER BY load_id DESC LIMIT 1;
SELECT count(*) FROM rd;
SELECT pgetl_drop_pipeline('resume_p');

SELECT pgetl_drop_load(l) FROM unnest('{rs,rs2,rq1,rq2,rq3,rq4,rq5,rd}'::text[]) l;
SELECT pgetl_drop_stage(s) FROM unnest('{rs,rs2,rq,rgz,rd}'::text[]) s;
DROP TABLE rt, rq, rq_clean, rd;
DROP ROLE pgetl_resume_nobody;
\c :regress_db
DROP DATABASE pgetl_load_resume_test;
