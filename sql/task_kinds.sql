-- check and export tasks, and pgetl_resume(rerun => ...): what a user sees
\getenv abs_srcdir PG_ABS_SRCDIR
\set out :abs_srcdir '/test/results/export'
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
DROP ROLE IF EXISTS pgetl_kinds_nowriter;
RESET client_min_messages;
CREATE EXTENSION pgetl;
\i test/setup/regress.sql
\x on
CREATE TABLE items AS SELECT g AS id, 'item, "no. ' || g || '"' AS label FROM generate_series(1, 3) g;

-- check: the first column decides; the row is the evidence
SELECT pgetl_create_pipeline('kinds');
SELECT pgetl_add_task('kinds', 'enough_items',
    'SELECT count(*) >= 3 AS enough, count(*) AS items FROM items', kind => 'check',
    config => '{"message": "too few items"}');
SELECT pgetl_add_task('kinds', 'export_items', 'SELECT * FROM items ORDER BY id;',
    '{enough_items}', kind => 'export',
    config => jsonb_build_object('path', :'out' || '/items_{pipeline}_{logical_date}_run{run_id}.csv'));
SELECT pgetl_run('kinds', logical_date => '2026-11-20') AS run_id \gset
SELECT task, state, result - 'path' AS result, rows FROM pgetl.task_run WHERE run_id = :run_id ORDER BY task;
SELECT replace(result->>'path', :'out', '<out>') AS path FROM pgetl.task_run
 WHERE run_id = :run_id AND task = 'export_items';
SELECT pg_read_file(result->>'path') AS file FROM pgetl.task_run
 WHERE run_id = :run_id AND task = 'export_items';
-- no temporary file is left beside it
SELECT count(*) AS temporary_files FROM pg_ls_dir(:'out') f WHERE f LIKE '.items%';

-- a failing check: its message, and the values it saw
DELETE FROM items WHERE id = 3;
-- (a logical date no earlier run of this test used: its file cannot be left over)
SELECT to_char(date '2000-01-01' + ((extract(epoch FROM clock_timestamp()) * 1000)::bigint % 2900000)::int,
               'YYYY-MM-DD') AS day2 \gset
SELECT * FROM pg_temp.try(format('SELECT pgetl_run(%L, logical_date => %L)', 'kinds', :'day2'));
SELECT task, state, error, detail FROM pgetl.task_run
 WHERE run_id = (SELECT max(run_id) FROM pgetl.pipeline_run) ORDER BY task;
SELECT pg_stat_file(:'out' || '/items_kinds_' || :'day2' || '_run2.csv', true) IS NULL AS no_file;

-- NULL, no row, not boolean; the default message
SELECT pgetl_create_pipeline('checks');
SELECT pgetl_add_task('checks', 'null_check', 'SELECT NULL::boolean AS ok, 42 AS answer', kind => 'check');
SELECT pgetl_add_task('checks', 'no_row', 'SELECT true WHERE false', kind => 'check');
SELECT pgetl_add_task('checks', 'not_bool', 'SELECT 1 AS one', kind => 'check');
SELECT * FROM pg_temp.try($$SELECT pgetl_run('checks')$$);
SELECT task, state, sqlstate, error, detail, hint FROM pgetl.task_run
 WHERE run_id = (SELECT max(run_id) FROM pgetl.pipeline_run) ORDER BY task;

-- an export whose query fails leaves neither the file nor its temporary file
SELECT pgetl_create_pipeline('bad_export');
SELECT pgetl_add_task('bad_export', 'boom', 'SELECT id / (id - 1) FROM items ORDER BY id', kind => 'export',
    config => jsonb_build_object('path', :'out' || '/boom.csv'));
SELECT pgetl_add_task('bad_export', 'nowhere', 'SELECT 1', kind => 'export',
    config => '{"path": "/nonexistent/dir/x.csv"}');
SELECT * FROM pg_temp.try($$SELECT pgetl_run('bad_export')$$);
SELECT task, state, sqlstate, error, hint FROM pgetl.task_run
 WHERE run_id = (SELECT max(run_id) FROM pgetl.pipeline_run) ORDER BY task;
SELECT count(*) AS files FROM pg_ls_dir(:'out') f WHERE f LIKE '%boom%';

-- bad definitions
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('kinds', 'x', NULL, kind => 'export', config => '{"path": "/tmp/x.csv"}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('kinds', 'x', 'SELECT 1', kind => 'export')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('kinds', 'x', 'SELECT 1', kind => 'export', config => '{"path": "out.csv"}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('kinds', 'x', 'SELECT 1', kind => 'export', config => '{"path": "/tmp/{day}.csv"}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('kinds', 'x', 'SELECT 1', kind => 'export', config => '{"path": "/tmp/x.csv", "delimiter": ";"}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('kinds', 'x', 'SELECT 1', kind => 'export', config => '{"path": "/tmp/x.csv", "header": "yes"}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('kinds', 'x', 'SELECT true', kind => 'check', config => '{"msg": "x"}')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('kinds', 'x', 'SELECT true', kind => 'check', config => '{"message": 1}')$$);
-- exporting needs pg_write_server_files, as COPY TO a file does
CREATE ROLE pgetl_kinds_nowriter LOGIN;
SET ROLE pgetl_kinds_nowriter;
SELECT pgetl_create_pipeline('nowriter');
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('nowriter', 'x', 'SELECT 1', kind => 'export', config => '{"path": "/tmp/x.csv"}')$$);
RESET ROLE;
CREATE ROLE "pgetl Kinds NoWriter" LOGIN;
SET ROLE "pgetl Kinds NoWriter";
SELECT pgetl_create_pipeline('nowriter2');
SELECT * FROM pg_temp.try($$SELECT pgetl_add_task('nowriter2', 'x', 'SELECT 1', kind => 'export', config => '{"path": "/tmp/x.csv"}')$$);
RESET ROLE;
SELECT pgetl_drop_pipeline('nowriter2');
DROP ROLE "pgetl Kinds NoWriter";
-- the one check of an export config (src/export.c: its keys, header, an
-- absolute path, the placeholders it may use, each in turn); the expected
-- output was made with the PL/pgSQL check it replaced (8520625)
SELECT pgetl_create_pipeline('export_configs');
\x off
SELECT c.cfg, t.*
  FROM (VALUES ('{"path": ""}'), ('{"path": 1}'), ('{"path": null}'), ('{}'), ('{"header": true}'),
               ('{"path": "/tmp/x.csv", "zeta": 1, "Alpha": 2, "beta": 3, "_x": 4}'),
               ('{"path": "x/{day}.csv", "header": 1, "zz": 1}'), ('{"path": "x/{day}.csv", "header": 1}'),
               ('{"path": "{run_id}/x.csv"}'), ('{"path": "x/{day}.csv"}'),
               ('{"path": "/tmp/{a}_{logical_date}_{B}_{b_c}{{run_id}}{pipeline}{}{x y}{ok}.csv"}'),
               ('{"path": "/tmp/{day}/{day}.csv"}'), ('{"path": "/tmp/{a{b}c}{d}}.csv"}'),
               ('{"path": "/tmp/x.csv", "header": null}'),
               ('{"path": "/tmp/{logical_date}_{run_id}_{pipeline}.csv", "header": false}'),
               ('{"path": "/"}')) c(cfg),
       LATERAL pg_temp.try(format($f$SELECT pgetl_add_task('export_configs', %L, 'SELECT 1', kind => 'export', config => %L)$f$,
                                  'x_' || md5(c.cfg), c.cfg)) t;
\x on
SELECT pgetl_drop_pipeline('export_configs');

-- resume with rerun: the named task and everything downstream run again
INSERT INTO items VALUES (3, 'item, "no. 3"');
SELECT * FROM pg_temp.try($$SELECT pgetl_resume(1)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_resume(2, rerun => '{no_such_task}')$$);
SELECT pgetl_resume(2, rerun => '{enough_items}') AS resumed;
SELECT task, try_number, state FROM pgetl.task_run WHERE run_id = 2 ORDER BY task, try_number;
\x off

SET client_min_messages = warning;
DROP EXTENSION pgetl CASCADE;
DROP ROLE pgetl_kinds_nowriter;
