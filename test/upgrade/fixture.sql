-- User data of every kind pgetl keeps, made through the public API as an
-- ordinary role (fx): pipelines with tasks of every kind and dependencies,
-- finished runs (one failed, resumed), load specs with rules and checks,
-- staged data, loads with rejects.  Used by test/upgrade/upgrade_test.sh
-- (made on 0.1, then upgraded) and test/upgrade/dump_test.sh (dumped and
-- restored).  Run by a superuser in a database with pgetl installed.
\set ON_ERROR_STOP 1
SELECT 'CREATE ROLE fx LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fx') \gexec
SELECT format('GRANT CREATE ON DATABASE %I TO fx', current_database()) \gexec
SET ROLE fx;
CREATE SCHEMA fx;
CREATE TABLE fx.sales (id integer PRIMARY KEY, region text NOT NULL, amount numeric(10,2), sold_on date);
CREATE TABLE fx.summary (region text, total numeric);
SELECT pgetl_stage('fx_sales', convert_to(
    E'id,region,amount,sold_on\n1,north,10.50,2024-01-01\n2,south,20,2024-01-02\n' ||
    E'3,east,-5,2024-01-03\nx,west,1,2024-01-04\n4,north,7.25,2024-01-05\n', 'UTF8')) AS staged;
SELECT pgetl_define_load('fx_sales_load', 'fx.sales',
    '[{"name": "id", "required": true, "unique": true},
      {"name": "region", "allowed": ["north", "south", "west"]},
      {"name": "amount", "min": 0, "max_decimals": 2},
      {"name": "sold_on", "format": "YYYY-MM-DD"}]',
    '{"checks": [{"name": "amount_known", "expression": "amount IS NOT NULL"}],
      "mode": "upsert", "conflict_key": ["id"], "max_rejects": 10}') AS spec;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('fx_sales_load', 'fx_sales');

SELECT pgetl_create_pipeline('fx_daily', 'daily sales summary', max_parallel => 2,
                             params => '{"min_total": 0}') AS pipeline;
SELECT pgetl_add_task('fx_daily', 'load', NULL, kind => 'load',
                      config => '{"load": "fx_sales_load", "source": "fx_sales"}', retries => 2,
                      retry_delay => '0 s') AS task;
SELECT pgetl_add_task('fx_daily', 'summarize', $$
    DELETE FROM fx.summary;
    INSERT INTO fx.summary SELECT region, sum(amount) FROM fx.sales GROUP BY region$$, '{load}',
    timeout => '5 min') AS task;
SELECT pgetl_add_task('fx_daily', 'check_total', $$
    SELECT sum(total) > (pgetl_param('min_total'))::numeric, sum(total) FROM fx.summary$$,
    '{summarize}', kind => 'check', config => '{"message": "no sales"}') AS task;
SELECT pgetl_add_task('fx_daily', 'notify', 'SELECT 1', '{check_total}', trigger_rule => 'all_done') AS task;
SELECT pgetl_run('fx_daily', logical_date => '2024-01-05') > 0 AS ran;

SELECT pgetl_create_pipeline('fx_flaky') AS pipeline;
CREATE TABLE fx.switch (ok boolean);
INSERT INTO fx.switch VALUES (false);
SELECT pgetl_add_task('fx_flaky', 'maybe', 'SELECT 1 / (SELECT ok::int FROM fx.switch)') AS task;
SELECT pgetl_add_task('fx_flaky', 'after', 'SELECT 2', '{maybe}') AS task;
\set ON_ERROR_STOP 0
SELECT pgetl_run('fx_flaky', logical_date => '2024-01-06');
\set ON_ERROR_STOP 1
UPDATE fx.switch SET ok = true;
SELECT pgetl_resume((SELECT max(run_id) FROM pgetl.pipeline_run WHERE pipeline = 'fx_flaky')) > 0 AS resumed;
RESET ROLE;
