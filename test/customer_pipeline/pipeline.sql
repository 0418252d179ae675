-- customer_pipeline: the Airflow customer DAG, task for task, as a pgetl
-- pipeline that runs inside the database.
--
--   [create_customers_table, create_purchases_table] >> load_customers >> load_purchases
--   load_purchases >> [create_customer_summary, count_customers, count_purchases]
--   [count_customers, count_purchases] >> validate_data_quality
--   [create_customer_summary, validate_data_quality] >> filter_high_value_customers >> export_to_csv
--   export_to_csv >> generate_analytics
--
-- Run it with psql as the role that is to own the pipeline: an ordinary
-- role with LOGIN, CREATE on the database, pg_read_server_files (to load
-- the CSV files) and pg_write_server_files (to export), e.g.
--
--   CREATE ROLE etl LOGIN;
--   GRANT CREATE ON DATABASE mydb TO etl;
--   GRANT pg_read_server_files, pg_write_server_files TO etl;
--   psql -U etl -d mydb -v data_dir=/path/to/test/customer_pipeline \
--        -v export_dir=/srv/exports -f test/customer_pipeline/pipeline.sql
--
-- data_dir holds customers.csv and customer_purchases.csv; export_dir is a
-- directory the server can write to.  Both must be absolute paths on the
-- database server.  Then:
--
--   SELECT pgetl_run('customer_pipeline');                      -- bundled CSVs
--   SELECT pgetl_run('customer_pipeline', params => '{"source": "/data/superstore.csv"}');
--   SELECT pgetl_schedule('customer_pipeline', '0 2 * * *');    -- nightly, with pg_cron
--
-- Params (pipeline defaults; a run may override them):
--   source         ''  = the bundled CSVs in data_dir; else the path of a
--                  Superstore-format export to derive customers and
--                  purchases from
--   data_dir       directory of the bundled CSVs
--   min_spent      100.00: minimum total spent of a high-value customer
--   min_purchases  2: minimum number of purchases of a high-value customer
--   retry_delay    (unset) replaces every task's retry delay (5 minutes)
--                  for a run, e.g. '{"retry_delay": "1 second"}' in tests
\set ON_ERROR_STOP 1

SELECT pgetl_create_pipeline('customer_pipeline',
    description => 'Loads customers and their purchases from CSV, checks them, '
                   'exports high-value customers and builds customer analytics',
    max_parallel => 3,
    params => jsonb_build_object('source', '', 'data_dir', :'data_dir',
                                 'min_spent', 100.00, 'min_purchases', 2)) AS pipeline_id;

-- Schema for the pipeline's tables, owned by the pipeline owner.
CREATE SCHEMA IF NOT EXISTS customer_etl;

-- 1. Tables, each with the load specs (validation rules) of its data.
--    Both sources are loaded into staging tables first; only rows that pass
--    every rule, and the staging tables' constraints, reach the real tables.
--
--    The two create tasks run in parallel, as in the DAG, but purchases
--    reference customers: each task takes the same advisory lock first, so
--    they run one after the other, and whichever runs second adds the
--    foreign keys (this statement ends both tasks).
\set link_tables 'DO $fk$ BEGIN IF to_regclass(''customer_etl.customers'') IS NOT NULL AND to_regclass(''customer_etl.customer_purchases'') IS NOT NULL AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint WHERE conrelid = to_regclass(''customer_etl.customer_purchases'') AND contype = ''f'') THEN ALTER TABLE customer_etl.customer_purchases ADD FOREIGN KEY (customer_id) REFERENCES customer_etl.customers ON DELETE CASCADE; ALTER TABLE customer_etl.stg_purchases ADD FOREIGN KEY (customer_id) REFERENCES customer_etl.customers; END IF; END $fk$;'
SELECT pgetl_add_task('customer_pipeline', 'create_customers_table', $$
    SELECT pg_advisory_xact_lock(hashtext('customer_etl tables'));
    CREATE TABLE IF NOT EXISTS customer_etl.customers (
        id          text PRIMARY KEY,
        name        text NOT NULL,
        email       text UNIQUE,
        segment     text,
        created_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS customers_name_idx ON customer_etl.customers (name);
    CREATE TABLE IF NOT EXISTS customer_etl.stg_customers (
        id          text NOT NULL,
        name        text NOT NULL,
        email       text,
        segment     text,
        created_at  timestamptz,
        first_order date
    );
    -- customers.csv: id,name,email,segment,created_at
    SELECT pgetl_define_load('customers_csv', 'customer_etl.stg_customers', '[
        {"name": "id", "required": true, "pattern": "^[A-Z][A-Z0-9-]{1,15}$", "unique": true},
        {"name": "name", "required": true, "max_length": 100},
        {"name": "email", "pattern": "^[^@[:space:]]+@[^@[:space:]]+\\.[a-z]{2,}$", "unique": true},
        {"name": "segment", "allowed": ["Consumer", "Corporate", "Home Office"]},
        {"name": "created_at", "required": true}
    ]', '{"mode": "replace"}');
    -- a Superstore export, one line per order line: its customers
    SELECT pgetl_define_load('superstore_customers', 'customer_etl.stg_customers', '[
        {"name": "Customer ID", "target": "id", "required": true, "pattern": "^[A-Z]{2}-[0-9]{5}$"},
        {"name": "Customer Name", "target": "name", "required": true, "max_length": 100},
        {"name": "Segment", "target": "segment", "required": true,
         "allowed": ["Consumer", "Corporate", "Home Office"]},
        {"name": "Order Date", "target": "first_order", "required": true, "format": "DD/MM/YY"},
        {"name": "Row ID", "target": null}, {"name": "Order ID", "target": null},
        {"name": "Ship Date", "target": null}, {"name": "Ship Mode", "target": null},
        {"name": "Country/Region", "target": null}, {"name": "City", "target": null},
        {"name": "State/Province", "target": null}, {"name": "Postal Code", "target": null},
        {"name": "Region", "target": null}, {"name": "Product ID", "target": null},
        {"name": "Category", "target": null}, {"name": "Sub-Category", "target": null},
        {"name": "Product Name", "target": null}, {"name": "Sales", "target": null},
        {"name": "Quantity", "target": null}, {"name": "Discount", "target": null},
        {"name": "Profit", "target": null}
    ]', '{"mode": "replace"}');
    $$ || :'link_tables' || $$
    SELECT 'customer_etl.customers'::regclass AS customers_table$$,
    retries => 2);

SELECT pgetl_add_task('customer_pipeline', 'create_purchases_table', $$
    SELECT pg_advisory_xact_lock(hashtext('customer_etl tables'));
    CREATE TABLE IF NOT EXISTS customer_etl.customer_purchases (
        id            text PRIMARY KEY,
        product       text NOT NULL,
        price         numeric(10,2) NOT NULL CHECK (price > 0),
        quantity      integer NOT NULL CHECK (quantity > 0),
        customer_id   text NOT NULL,     -- REFERENCES customers ON DELETE CASCADE
        purchase_date date NOT NULL DEFAULT current_date
    );
    CREATE INDEX IF NOT EXISTS customer_purchases_customer_idx ON customer_etl.customer_purchases (customer_id);
    CREATE INDEX IF NOT EXISTS customer_purchases_date_idx ON customer_etl.customer_purchases (purchase_date);
    -- A purchase must name a loaded customer (the foreign key rejects it
    -- otherwise) and appear once: by id, and (Superstore) once per order
    -- and product.  price is the unit price; Superstore gives the line
    -- amount, divided by the quantity.
    CREATE TABLE IF NOT EXISTS customer_etl.stg_purchases (
        id            text NOT NULL UNIQUE,
        order_id      text,
        product_id    text,
        product       text NOT NULL,
        price         numeric(10,2),
        amount        numeric(12,4),
        quantity      integer NOT NULL CHECK (quantity > 0),
        customer_id   text NOT NULL,     -- REFERENCES customers
        purchase_date date NOT NULL,
        UNIQUE (order_id, product_id),
        CHECK (coalesce(price, round(amount / quantity, 2)) > 0)
    );
    -- customer_purchases.csv: id,product,price,quantity,customer_id,purchase_date
    SELECT pgetl_define_load('purchases_csv', 'customer_etl.stg_purchases', '[
        {"name": "id", "required": true, "pattern": "^[A-Z0-9][A-Z0-9-]{0,15}$"},
        {"name": "product", "required": true, "max_length": 200},
        {"name": "price", "required": true, "min": 0.01, "max": 99999999.99, "max_decimals": 2},
        {"name": "quantity", "required": true, "min": 1, "max": 10000},
        {"name": "customer_id", "required": true},
        {"name": "purchase_date", "required": true, "format": "YYYY-MM-DD"}
    ]', '{"mode": "replace"}');
    -- a Superstore export: one purchase per order line
    SELECT pgetl_define_load('superstore_purchases', 'customer_etl.stg_purchases', '[
        {"name": "Row ID", "target": "id", "required": true, "type": "integer", "min": 1},
        {"name": "Order ID", "target": "order_id", "required": true, "pattern": "^(US|CA)-[0-9]{4}-[0-9]{6}$"},
        {"name": "Order Date", "target": "purchase_date", "required": true, "format": "DD/MM/YY"},
        {"name": "Customer ID", "target": "customer_id", "required": true, "pattern": "^[A-Z]{2}-[0-9]{5}$"},
        {"name": "Product ID", "target": "product_id", "required": true,
         "pattern": "^(FUR|OFF|TEC)-[A-Z]{2}-[0-9]{8}$"},
        {"name": "Product Name", "target": "product", "required": true, "max_length": 200},
        {"name": "Sales", "target": "amount", "required": true, "min": 0.01},
        {"name": "Quantity", "target": "quantity", "required": true, "min": 1, "max": 10000},
        {"name": "Ship Date", "target": null}, {"name": "Ship Mode", "target": null},
        {"name": "Customer Name", "target": null}, {"name": "Segment", "target": null},
        {"name": "Country/Region", "target": null}, {"name": "City", "target": null},
        {"name": "State/Province", "target": null}, {"name": "Postal Code", "target": null},
        {"name": "Region", "target": null}, {"name": "Category", "target": null},
        {"name": "Sub-Category", "target": null}, {"name": "Discount", "target": null},
        {"name": "Profit", "target": null}
    ]', '{"mode": "replace"}');
    $$ || :'link_tables' || $$
    SELECT 'customer_etl.customer_purchases'::regclass AS purchases_table$$,
    retries => 2);

-- 2. Loads: the source through its load spec into staging (every rejected
--    line is kept in pgetl.reject), then an upsert on the key into the real
--    table that writes only rows that changed, so a rerun for the same
--    logical date changes nothing.
SELECT pgetl_add_task('customer_pipeline', 'load_customers', $$
    CREATE TEMP TABLE loaded ON COMMIT DROP AS
    SELECT * FROM pgetl_load(
        CASE WHEN pgetl_param('source') = '' THEN 'customers_csv' ELSE 'superstore_customers' END,
        CASE WHEN pgetl_param('source') = '' THEN pgetl_param('data_dir') || '/customers.csv'
             ELSE pgetl_param('source') END);
    -- one customer per id; a Superstore customer is created on their first order
    INSERT INTO customer_etl.customers AS c (id, name, email, segment, created_at)
    SELECT id, min(name), min(email), min(segment),
           coalesce(min(created_at), min(first_order)::timestamptz)
      FROM customer_etl.stg_customers GROUP BY id
    ON CONFLICT (id) DO UPDATE
       SET name = EXCLUDED.name, email = EXCLUDED.email, segment = EXCLUDED.segment,
           created_at = EXCLUDED.created_at
     WHERE (c.name, c.email, c.segment, c.created_at)
           IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.email, EXCLUDED.segment, EXCLUDED.created_at);
    SELECT l.load_id, l.rows_read, l.rows_loaded, l.rows_rejected,
           (SELECT count(DISTINCT id) FROM customer_etl.stg_customers) AS customers
      FROM loaded l$$,
    '{create_customers_table,create_purchases_table}', retries => 2);

SELECT pgetl_add_task('customer_pipeline', 'load_purchases', $$
    CREATE TEMP TABLE loaded ON COMMIT DROP AS
    SELECT * FROM pgetl_load(
        CASE WHEN pgetl_param('source') = '' THEN 'purchases_csv' ELSE 'superstore_purchases' END,
        CASE WHEN pgetl_param('source') = '' THEN pgetl_param('data_dir') || '/customer_purchases.csv'
             ELSE pgetl_param('source') END);
    INSERT INTO customer_etl.customer_purchases AS p (id, product, price, quantity, customer_id, purchase_date)
    SELECT id, product, coalesce(price, round(amount / quantity, 2)), quantity, customer_id, purchase_date
      FROM customer_etl.stg_purchases
    ON CONFLICT (id) DO UPDATE
       SET product = EXCLUDED.product, price = EXCLUDED.price, quantity = EXCLUDED.quantity,
           customer_id = EXCLUDED.customer_id, purchase_date = EXCLUDED.purchase_date
     WHERE (p.product, p.price, p.quantity, p.customer_id, p.purchase_date)
           IS DISTINCT FROM (EXCLUDED.product, EXCLUDED.price, EXCLUDED.quantity,
                             EXCLUDED.customer_id, EXCLUDED.purchase_date);
    SELECT l.load_id, l.rows_read, l.rows_loaded, l.rows_rejected FROM loaded l$$,
    '{load_customers}', retries => 2);

-- 3. The summary view and the counts the quality check reads.
SELECT pgetl_add_task('customer_pipeline', 'create_customer_summary', $$
    CREATE OR REPLACE VIEW customer_etl.customer_purchase_summary AS
    SELECT c.id, c.name, c.email, c.segment,
           count(p.id) AS purchases,
           coalesce(sum(p.price * p.quantity), 0) AS total_spent,
           round(avg(p.price), 2) AS average_price,
           max(p.purchase_date) AS last_purchase
      FROM customer_etl.customers c
      LEFT JOIN customer_etl.customer_purchases p ON p.customer_id = c.id
     GROUP BY c.id;
    SELECT count(*) AS customers_summarized FROM customer_etl.customer_purchase_summary$$,
    '{load_purchases}', retries => 2);

SELECT pgetl_add_task('customer_pipeline', 'count_customers',
    'SELECT count(*) AS customers FROM customer_etl.customers',
    '{load_purchases}', retries => 2);

SELECT pgetl_add_task('customer_pipeline', 'count_purchases',
    'SELECT count(*) AS purchases FROM customer_etl.customer_purchases',
    '{load_purchases}', retries => 2);

-- 4. Data quality: at least 5 customers and 10 purchases.
SELECT pgetl_add_task('customer_pipeline', 'validate_data_quality', $$
    SELECT (pgetl_result('count_customers')->>'customers')::bigint >= 5
           AND (pgetl_result('count_purchases')->>'purchases')::bigint >= 10 AS passed,
           (pgetl_result('count_customers')->>'customers')::bigint AS customers,
           (pgetl_result('count_purchases')->>'purchases')::bigint AS purchases$$,
    '{count_customers,count_purchases}', kind => 'check', retries => 2,
    config => '{"message": "data quality check failed: need at least 5 customers and 10 purchases"}');

-- 5. High-value customers, their export, and the analytics.
SELECT pgetl_add_task('customer_pipeline', 'filter_high_value_customers', $$
    DROP TABLE IF EXISTS customer_etl.high_value_customers;
    CREATE TABLE customer_etl.high_value_customers AS
    SELECT id, name, email, purchases, total_spent, average_price, last_purchase
      FROM customer_etl.customer_purchase_summary
     WHERE total_spent >= pgetl_param('min_spent')::numeric
       AND purchases >= pgetl_param('min_purchases')::integer;
    SELECT count(*) AS high_value_customers,
           coalesce(sum(total_spent), 0) AS their_total_spent
      FROM customer_etl.high_value_customers$$,
    '{create_customer_summary,validate_data_quality}', retries => 2);

SELECT pgetl_add_task('customer_pipeline', 'export_to_csv',
    'SELECT * FROM customer_etl.high_value_customers ORDER BY total_spent DESC, id',
    '{filter_high_value_customers}', kind => 'export', retries => 2,
    config => jsonb_build_object('path', :'export_dir' || '/high_value_customers_{logical_date}.csv'));

SELECT pgetl_add_task('customer_pipeline', 'generate_analytics', $$
    CREATE TABLE IF NOT EXISTS customer_etl.customer_analytics (
        logical_date         date PRIMARY KEY,
        total_customers      bigint NOT NULL,
        active_customers     bigint NOT NULL,
        total_purchases      bigint NOT NULL,
        total_revenue        numeric(14,2) NOT NULL,
        average_order_value  numeric(12,2),
        high_value_customers bigint NOT NULL,
        segments             jsonb NOT NULL
    );
    -- customers with purchases, by total spent: VIP >= 200, Regular >= 100
    WITH seg AS (
        SELECT CASE WHEN total_spent >= 200 THEN 'VIP'
                    WHEN total_spent >= 100 THEN 'Regular'
                    ELSE 'Occasional' END AS segment, total_spent
          FROM customer_etl.customer_purchase_summary WHERE purchases > 0
    ), segments AS (
        SELECT jsonb_object_agg(segment, jsonb_build_object('customers', n, 'revenue', revenue)) AS j
          FROM (SELECT segment, count(*) AS n, sum(total_spent) AS revenue FROM seg GROUP BY segment) s
    )
    INSERT INTO customer_etl.customer_analytics
    SELECT pgetl_logical_date(),
           (SELECT count(*) FROM customer_etl.customers),
           (SELECT count(DISTINCT customer_id) FROM customer_etl.customer_purchases),
           (SELECT count(*) FROM customer_etl.customer_purchases),
           (SELECT coalesce(sum(price * quantity), 0) FROM customer_etl.customer_purchases),
           (SELECT round(avg(price * quantity), 2) FROM customer_etl.customer_purchases),
           (SELECT count(*) FROM customer_etl.high_value_customers),
           coalesce((SELECT j FROM segments), '{}')
    ON CONFLICT (logical_date) DO UPDATE
       SET total_customers = EXCLUDED.total_customers, active_customers = EXCLUDED.active_customers,
           total_purchases = EXCLUDED.total_purchases, total_revenue = EXCLUDED.total_revenue,
           average_order_value = EXCLUDED.average_order_value,
           high_value_customers = EXCLUDED.high_value_customers, segments = EXCLUDED.segments;
    SELECT * FROM customer_etl.customer_analytics WHERE logical_date = pgetl_logical_date()$$,
    '{export_to_csv}', retries => 2);
