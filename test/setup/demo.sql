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

-- A second pipeline: a validated load of a real retail export
-- (../shared/data/superstore.csv: BOM, quoted commas, UTF-8, dd/mm/yy
-- dates, duplicate order lines), then a summary and a quality check.
\set QUIET 1
CREATE TABLE orders (
    row_id integer PRIMARY KEY, order_id text NOT NULL, order_date date NOT NULL,
    ship_date date NOT NULL, customer_id text NOT NULL, country text NOT NULL,
    product_id text NOT NULL, product_name text NOT NULL, sales numeric(12,4) NOT NULL,
    quantity integer NOT NULL, UNIQUE (order_id, product_id));
\set QUIET 0
SELECT pgetl_define_load('superstore', 'orders', '[
  {"name": "Row ID", "target": "row_id", "required": true, "min": 1},
  {"name": "Order ID", "target": "order_id", "required": true, "pattern": "^(US|CA)-[0-9]{4}-[0-9]{6}$"},
  {"name": "Order Date", "target": "order_date", "type": "date", "format": "DD/MM/YY"},
  {"name": "Ship Date", "target": "ship_date", "type": "date", "format": "DD/MM/YY"},
  {"name": "Customer ID", "target": "customer_id", "pattern": "^[A-Z]{2}-[0-9]{5}$"},
  {"name": "Country/Region", "target": "country", "allowed": ["United States", "Canada"]},
  {"name": "Product ID", "target": "product_id", "required": true},
  {"name": "Product Name", "target": "product_name", "required": true, "max_length": 200},
  {"name": "Sales", "target": "sales", "min": 0},
  {"name": "Quantity", "target": "quantity", "min": 1, "max": 100},
  {"name": "Ship Mode", "target": null}, {"name": "Customer Name", "target": null},
  {"name": "Segment", "target": null}, {"name": "City", "target": null},
  {"name": "State/Province", "target": null}, {"name": "Postal Code", "target": null},
  {"name": "Region", "target": null}, {"name": "Category", "target": null},
  {"name": "Sub-Category", "target": null}, {"name": "Discount", "target": null},
  {"name": "Profit", "target": null}
]', '{"checks": [{"name": "ships_after_order", "expression": "ship_date >= order_date"}]}') AS load_spec;
SELECT pgetl_create_pipeline('superstore_orders');
SELECT pgetl_add_task('superstore_orders', 'load', NULL, kind => 'load',
                      config => jsonb_build_object('load', 'superstore',
                                                   'source', :'shared' || '/data/superstore.csv'));
SELECT pgetl_add_task('superstore_orders', 'by_country',
    $$SELECT count(*) FILTER (WHERE country = 'Canada') AS canada,
             count(*) FILTER (WHERE country = 'United States') AS us,
             round(sum(sales), 2) AS sales FROM orders$$, '{load}');
SELECT pgetl_add_task('superstore_orders', 'nothing_lost',
    $$SELECT (pgetl_result('load')->>'rows_read')::int
             = (SELECT count(*) FROM orders) + (pgetl_result('load')->>'rows_rejected')::int AS all_rows_accounted$$,
    '{load}', kind => 'check');

\echo '== running pipeline superstore_orders'
SELECT pgetl_run('superstore_orders') AS run_id;
SELECT task, state, duration, result FROM pgetl.task_run WHERE pipeline = 'superstore_orders' ORDER BY started_at;
\echo '== why rows were rejected'
SELECT rule, column_name, count(*), min(line_number) AS first_line, min(message) AS example
  FROM pgetl.reject GROUP BY 1, 2 ORDER BY 3 DESC;
