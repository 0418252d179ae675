-- The main job: customer_pipeline (test/customer_pipeline/pipeline.sql),
-- owned by an ordinary role, on the bundled seed CSVs, then on the
-- Superstore export.  Retries wait 1 second here (param retry_delay).
\getenv abs_srcdir PG_ABS_SRCDIR
\set data_dir :abs_srcdir '/test/customer_pipeline'
\set export_dir :abs_srcdir '/test/results/export'
\set superstore :abs_srcdir '/../shared/data/superstore.csv'
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
DROP SCHEMA IF EXISTS customer_etl CASCADE;
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgetl_customer_etl') THEN
        DROP OWNED BY pgetl_customer_etl;
        DROP ROLE pgetl_customer_etl;
    END IF;
END $$;
\set owner pgetl_customer_etl
\set ECHO none
\set QUIET 1
\i :abs_srcdir/test/customer_pipeline/setup.sql
\set QUIET 0
\set ECHO all
\set ON_ERROR_STOP 0
RESET client_min_messages;
SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = 'pgetl_customer_etl';

SET ROLE pgetl_customer_etl;
\set ECHO none
\o /dev/null
\i :abs_srcdir/test/customer_pipeline/pipeline.sql
\o
\set ECHO all
\set ON_ERROR_STOP 0
SELECT pipeline, owner, tasks, max_parallel, params - 'data_dir' AS params FROM pgetl.pipelines;
SELECT task, kind, upstream, retries, retry_delay FROM pgetl.tasks ORDER BY task;

-- 1. the seed data
SELECT pgetl_run('customer_pipeline', logical_date => '2026-11-20',
                 params => '{"retry_delay": "1 second"}') AS run_id \gset
SELECT task, state, try_number FROM pgetl.task_run WHERE run_id = :run_id ORDER BY task;
SELECT load_name, rows_read, rows_loaded, rows_rejected FROM pgetl.load_history
 WHERE run_id = :run_id ORDER BY load_id;
SELECT * FROM customer_etl.high_value_customers ORDER BY total_spent DESC;
SELECT task, replace(result->>'path', :'export_dir', '<export_dir>') AS path, result->'rows' AS rows
  FROM pgetl.task_run WHERE run_id = :run_id AND task = 'export_to_csv';
RESET ROLE;
SELECT pg_read_file(:'export_dir' || '/high_value_customers_2026-11-20.csv') AS exported_file;
SET ROLE pgetl_customer_etl;
SELECT * FROM customer_etl.customer_analytics;
SELECT * FROM customer_etl.customer_purchase_summary ORDER BY id;

-- 2. a rerun for the same logical date changes nothing: same rows, and no
--    row version of the customer tables is rewritten
-- (the pipeline drops and re-creates high_value_customers, so the snapshot
-- query is a psql variable, not a view)
\set snapshot 'SELECT ''customers'' AS t, id, xmin::text AS version, row_to_json(c)::text AS data FROM customer_etl.customers c UNION ALL SELECT ''purchases'', id, xmin::text, row_to_json(p)::text FROM customer_etl.customer_purchases p UNION ALL SELECT ''analytics'', logical_date::text, NULL, row_to_json(a)::text FROM customer_etl.customer_analytics a UNION ALL SELECT ''high_value'', id, NULL, row_to_json(h)::text FROM customer_etl.high_value_customers h'
CREATE TEMP TABLE before AS :snapshot;
RESET ROLE;
SELECT md5(pg_read_file(:'export_dir' || '/high_value_customers_2026-11-20.csv')) AS export_md5 \gset
SET ROLE pgetl_customer_etl;
SELECT pgetl_run('customer_pipeline', logical_date => '2026-11-20',
                 params => '{"retry_delay": "1 second"}') AS rerun_id \gset
SELECT state, tasks_success FROM pgetl.pipeline_run WHERE run_id = :rerun_id;
CREATE TEMP TABLE after AS :snapshot;
SELECT t, count(*) AS rows FROM after GROUP BY t ORDER BY t;
SELECT 'only before' AS side, * FROM (TABLE before EXCEPT TABLE after) x
UNION ALL
SELECT 'only after', * FROM (TABLE after EXCEPT TABLE before) y;
RESET ROLE;
SELECT md5(pg_read_file(:'export_dir' || '/high_value_customers_2026-11-20.csv')) = :'export_md5' AS same_export;
SET ROLE pgetl_customer_etl;
SELECT load_name, rows_read, rows_loaded, rows_rejected FROM pgetl.load_history
 WHERE run_id = :rerun_id ORDER BY load_id;

-- 3. failure: a purchases file with too few valid rows.  Start from empty
--    tables; the input files are written into the export directory.
SET client_min_messages = warning;
DROP SCHEMA customer_etl CASCADE;
RESET client_min_messages;
CREATE SCHEMA customer_etl;
RESET ROLE;
\set input_customers :export_dir '/customers.csv'
\set input_purchases :export_dir '/customer_purchases.csv'
COPY (SELECT l FROM regexp_split_to_table(pg_read_file(:'data_dir' || '/customers.csv'), E'\n') l WHERE l <> '')
  TO :'input_customers';
COPY (VALUES ('id,product,price,quantity,customer_id,purchase_date'),
             ('P001,Laptop,899.99,1,C001,2026-11-01'),
             ('P002,Wireless Mouse,24.99,2,C001,2026-11-01'),
             ('P004,Office Chair,149.00,1,C002,2026-11-02'),
             ('P007,Coffee Maker,79.99,1,C003,2026-11-03'),
             ('P010,Headphones,59.99,1,C004,2026-11-04'),
             ('P014,Backpack,45.00,1,C005,2026-11-07'),
             ('P017,Monitor,189.99,1,C006,2026-11-08'),
             ('P020,Coffee Grinder,45.00,1,C003,2026-11-20'),
             ('P021,Gift Card,-10.00,1,C001,2026-11-20'),
             ('P022,Desk,249.00,0,C002,2026-11-20'),
             ('P023,Chair,129.00,1,C099,2026-11-20'),
             ('P024,Lamp,19.999,1,C004,2026-11-20'),
             ('P025,Cable,abc,1,C004,2026-11-20'))
  TO :'input_purchases';
SET ROLE pgetl_customer_etl;
-- a logical date no earlier run of this test used, so that its export
-- file cannot be left over from one
SELECT to_char(date '2000-01-01' + ((extract(epoch FROM clock_timestamp()) * 1000)::bigint % 2900000)::int, 'YYYY-MM-DD') AS fail_date \gset
SELECT pgetl_run('customer_pipeline', logical_date => :'fail_date',
                 params => jsonb_build_object('retry_delay', '1 second', 'data_dir', :'export_dir'));
SELECT max(run_id) AS failed_run FROM pgetl.pipeline_run \gset
SELECT state, reason FROM pgetl.pipeline_run WHERE run_id = :failed_run;
SELECT task, try_number, state, error, detail FROM pgetl.task_run
 WHERE run_id = :failed_run AND task IN ('validate_data_quality', 'filter_high_value_customers',
                                         'export_to_csv', 'generate_analytics')
 ORDER BY task, try_number;
SELECT line_number, column_name, rule, message FROM pgetl.reject
 WHERE run_id = :failed_run ORDER BY line_number, column_name;
RESET ROLE;
SELECT pg_stat_file(:'export_dir' || '/high_value_customers_' || :'fail_date' || '.csv', true) IS NULL
       AS no_export_file;
-- fix the data: the complete purchases file, and re-run from its load
COPY (SELECT l FROM regexp_split_to_table(pg_read_file(:'data_dir' || '/customer_purchases.csv'), E'\n') l WHERE l <> '')
  TO :'input_purchases';
SET ROLE pgetl_customer_etl;
SELECT pgetl_resume(:failed_run, rerun => '{load_purchases}') = :failed_run AS resumed;
SELECT state, resumed FROM pgetl.pipeline_run WHERE run_id = :failed_run;
SELECT DISTINCT ON (task) task, try_number, state FROM pgetl.task_run
 WHERE run_id = :failed_run ORDER BY task, try_number DESC;
SELECT count(*) AS high_value_customers FROM customer_etl.high_value_customers;
RESET ROLE;
SELECT pg_read_file(:'export_dir' || '/high_value_customers_' || :'fail_date' || '.csv')
     = pg_read_file(:'export_dir' || '/high_value_customers_2026-11-20.csv') AS same_export_as_seed;

-- 4. real data: the Superstore export, through staging
SET ROLE pgetl_customer_etl;
SET client_min_messages = warning;
DROP SCHEMA customer_etl CASCADE;
RESET client_min_messages;
CREATE SCHEMA customer_etl;
SELECT pgetl_run('customer_pipeline', logical_date => '2026-11-21',
                 params => jsonb_build_object('retry_delay', '1 second', 'source', :'superstore')) AS ss_run \gset
SELECT task, state, try_number,
       CASE WHEN task = 'export_to_csv' THEN jsonb_set(result, '{path}', to_jsonb(replace(result->>'path', :'export_dir', '<export_dir>')))
            ELSE result - 'load_id' END AS result
  FROM pgetl.task_run
 WHERE run_id = :ss_run ORDER BY task;
SELECT load_name, rows_read, rows_loaded, rows_rejected,
       rows_read = rows_loaded + rows_rejected AS all_accounted
  FROM pgetl.load_history WHERE run_id = :ss_run ORDER BY load_id;
SELECT load_name, rule, column_name, count(*) AS rejects, min(value) AS example_value
  FROM pgetl.reject WHERE run_id = :ss_run
 GROUP BY load_name, rule, column_name ORDER BY load_name, rejects DESC, rule;
SELECT line_number, message FROM pgetl.reject
 WHERE run_id = :ss_run AND rule = 'unique_constraint' ORDER BY line_number LIMIT 3;
SELECT (SELECT count(*) FROM customer_etl.customers) AS customers,
       (SELECT count(*) FROM customer_etl.customer_purchases) AS purchases,
       (SELECT count(*) FROM customer_etl.customers WHERE email IS NULL) AS without_email,
       (SELECT count(*) FROM customer_etl.high_value_customers) AS high_value;
SELECT total_customers, total_purchases, total_revenue, high_value_customers,
       jsonb_pretty(segments) AS segments
  FROM customer_etl.customer_analytics WHERE logical_date = '2026-11-21';
RESET ROLE;
SELECT count(*) - 1 AS exported_rows
  FROM regexp_split_to_table(pg_read_file(:'export_dir' || '/high_value_customers_2026-11-21.csv'), E'\n') l
 WHERE l <> '';

RESET ROLE;
SET client_min_messages = warning;
DROP SCHEMA customer_etl CASCADE;
DROP EXTENSION pgetl CASCADE;
DROP OWNED BY pgetl_customer_etl;
DROP ROLE pgetl_customer_etl;
