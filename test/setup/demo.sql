-- The example pipeline: a small daily sales ETL, run by pgetl in background
-- workers.  extract -> (clean, dim_customers) -> daily_totals -> quality
\set QUIET 1
CREATE EXTENSION pgetl;
CREATE TABLE raw_sales (order_id int, customer text, amount text, sold_on date);
CREATE TABLE sales (order_id int PRIMARY KEY, customer text NOT NULL, amount numeric(10, 2) NOT NULL, sold_on date NOT NULL);
CREATE TABLE customers (customer text PRIMARY KEY, first_seen date);
CREATE TABLE daily_totals (day date PRIMARY KEY, orders int, revenue numeric);
\set QUIET 0

SELECT pgetl_create_pipeline('daily_sales', 'example: extract, clean, aggregate, check',
                             max_parallel => 2, params => '{"days": 7}');
SELECT pgetl_add_task('daily_sales', 'extract', $$
    INSERT INTO raw_sales
    SELECT i, 'customer ' || (i % 13), CASE WHEN i % 50 = 0 THEN 'n/a' ELSE (i * 1.37)::text END,
           pgetl_logical_date() - (i % pgetl_param('days')::int)
      FROM generate_series(1, 1000) i;
    SELECT count(*) AS extracted FROM raw_sales$$);
SELECT pgetl_add_task('daily_sales', 'clean', $$
    INSERT INTO sales SELECT order_id, customer, amount::numeric, sold_on
      FROM raw_sales WHERE amount ~ '^[0-9.]+$';
    SELECT count(*) AS kept, (SELECT count(*) FROM raw_sales) - count(*) AS dropped FROM sales$$,
    '{extract}', retries => 2, retry_delay => '1 second');
SELECT pgetl_add_task('daily_sales', 'dim_customers', $$
    INSERT INTO customers SELECT customer, min(sold_on) FROM raw_sales GROUP BY customer$$,
    '{extract}');
SELECT pgetl_add_task('daily_sales', 'daily_totals', $$
    INSERT INTO daily_totals SELECT sold_on, count(*), sum(amount) FROM sales GROUP BY sold_on;
    SELECT sum(revenue) AS revenue, (pgetl_result('clean')->>'kept')::int AS orders FROM daily_totals$$,
    '{clean,dim_customers}', timeout => '1 minute');
SELECT pgetl_add_task('daily_sales', 'quality', $$
    SELECT count(*) = (SELECT count(*) FROM sales) AS totals_match_orders FROM sales
     WHERE sold_on IN (SELECT day FROM daily_totals)$$,
    '{daily_totals}', kind => 'check');

\echo '== running pipeline daily_sales'
SELECT pgetl_run('daily_sales', logical_date => '2026-11-20') AS run_id;

\echo '== the run'
SELECT run_id, pipeline, state, logical_date, duration, tasks_total, tasks_success, tasks_failed
  FROM pgetl.pipeline_run;
\echo '== its tasks'
SELECT task, try_number, state, duration, result FROM pgetl.task_run ORDER BY started_at;
\echo '== the result'
SELECT * FROM daily_totals ORDER BY day;
