-- Real data: the Superstore orders file (BOM, quoted commas and "",
-- UTF-8, dd/mm/yy dates, Canadian postal codes, duplicate order lines).
\getenv abs_srcdir PG_ABS_SRCDIR
\set superstore :abs_srcdir '/../shared/data/superstore.csv'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgetl;

CREATE TABLE superstore_orders (
    row_id        integer PRIMARY KEY,
    order_id      text NOT NULL,
    order_date    date NOT NULL,
    ship_date     date NOT NULL,
    ship_mode     text NOT NULL,
    customer_id   text NOT NULL,
    customer_name text NOT NULL,
    segment       text NOT NULL,
    country       text NOT NULL,
    city          text NOT NULL,
    state         text NOT NULL,
    postal_code   text,
    region        text NOT NULL,
    product_id    text NOT NULL,
    category      text NOT NULL,
    sub_category  text NOT NULL,
    product_name  text NOT NULL,
    sales         numeric(12,4) NOT NULL,
    quantity      integer NOT NULL,
    discount      numeric(4,2) NOT NULL,
    profit        numeric(12,4) NOT NULL,
    UNIQUE (order_id, product_id)   -- one line per product in an order
);

SELECT pgetl_define_load('superstore', 'superstore_orders', '[
  {"name": "Row ID", "target": "row_id", "required": true, "min": 1},
  {"name": "Order ID", "target": "order_id", "required": true, "pattern": "^(US|CA)-[0-9]{4}-[0-9]{6}$"},
  {"name": "Order Date", "target": "order_date", "required": true, "type": "date", "format": "DD/MM/YY"},
  {"name": "Ship Date", "target": "ship_date", "required": true, "type": "date", "format": "DD/MM/YY"},
  {"name": "Ship Mode", "target": "ship_mode", "allowed": ["Standard Class", "Second Class", "First Class", "Same Day"]},
  {"name": "Customer ID", "target": "customer_id", "pattern": "^[A-Z]{2}-[0-9]{5}$"},
  {"name": "Customer Name", "target": "customer_name", "required": true, "max_length": 60},
  {"name": "Segment", "target": "segment", "allowed": ["Consumer", "Corporate", "Home Office"]},
  {"name": "Country/Region", "target": "country", "allowed": ["United States", "Canada"]},
  {"name": "City", "target": "city", "required": true},
  {"name": "State/Province", "target": "state", "required": true},
  {"name": "Postal Code", "target": "postal_code", "pattern": "^([0-9]{5}|[A-Z][0-9][A-Z]( ?[0-9][A-Z][0-9])?)$"},
  {"name": "Region", "target": "region", "allowed": ["Central", "East", "South", "West"]},
  {"name": "Product ID", "target": "product_id", "pattern": "^(FUR|OFF|TEC)-[A-Z]{2}-[0-9]{8}$"},
  {"name": "Category", "target": "category", "allowed": ["Furniture", "Office Supplies", "Technology"]},
  {"name": "Sub-Category", "target": "sub_category", "required": true},
  {"name": "Product Name", "target": "product_name", "required": true, "max_length": 200},
  {"name": "Sales", "target": "sales", "min": 0, "max_decimals": 4},
  {"name": "Quantity", "target": "quantity", "min": 1, "max": 100},
  {"name": "Discount", "target": "discount", "min": 0, "max": 1},
  {"name": "Profit", "target": "profit"}
]', '{"checks": [{"name": "ships_after_order", "expression": "ship_date >= order_date"}]}') > 0 AS defined;

SELECT rows_read, rows_loaded, rows_rejected, rows_loaded + rows_rejected AS total
  FROM pgetl_load('superstore', :'superstore');

-- Every reject is explained: a rule or constraint, a message, the raw
-- record and the physical line (line 1 is the header).
SELECT rule, column_name, sqlstate, count(*)
  FROM pgetl.reject WHERE load_name = 'superstore'
 GROUP BY 1, 2, 3 ORDER BY 1, 2;
SELECT count(*) AS unexplained FROM pgetl.reject
 WHERE load_name = 'superstore' AND (message IS NULL OR record IS NULL OR line_number < 2);
-- a duplicate order line names the line it duplicates
SELECT line_number, split_part(record, ',', 1) AS row_id, message
  FROM pgetl.reject WHERE load_name = 'superstore' ORDER BY line_number LIMIT 3;

-- Values round-trip byte-exact: compare with PostgreSQL's own COPY of the
-- same file into text columns (the BOM only touches the header).
CREATE TEMP TABLE raw (row_id text, order_id text, order_date text, ship_date text,
    ship_mode text, customer_id text, customer_name text, segment text, country text,
    city text, state text, postal_code text, region text, product_id text, category text,
    sub_category text, product_name text, sales text, quantity text, discount text, profit text);
COPY raw FROM :'superstore' WITH (FORMAT csv, HEADER true);
SELECT count(*) AS mismatches
  FROM superstore_orders o JOIN raw r ON r.row_id::integer = o.row_id
 WHERE (o.order_id, o.customer_name, o.city, o.state, o.postal_code, o.product_name,
        o.sub_category, to_char(o.order_date, 'DD/MM/YY'), o.sales::text, o.profit::text)
    IS DISTINCT FROM
       (r.order_id, r.customer_name, r.city, r.state, r.postal_code, r.product_name,
        r.sub_category, r.order_date, r.sales::numeric(12,4)::text, r.profit::numeric(12,4)::text);
SELECT count(*) AS loaded_rows_missing_from_copy
  FROM superstore_orders o WHERE NOT EXISTS (SELECT FROM raw r WHERE r.row_id::integer = o.row_id);
-- sampled rows with quotes, commas and UTF-8
SELECT row_id, product_name, octet_length(product_name) AS bytes, postal_code, order_date
  FROM superstore_orders WHERE row_id IN (1, 5, 62, 112) ORDER BY row_id;
SELECT count(*) AS canadian_rows FROM superstore_orders WHERE country = 'Canada';
