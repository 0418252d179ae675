-- The validated CSV loader: the seed case, rejects, staged data, and the
-- errors a load spec is refused with at definition time.
\getenv abs_srcdir PG_ABS_SRCDIR
\set sales :abs_srcdir '/test/load/data/sales.csv'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgetl;
-- errors as SQLSTATE: message
\i test/setup/regress.sql

CREATE TABLE sales (product text, price numeric(10,2), quantity integer);
SELECT pgetl_define_load('sales', 'sales', '[
    {"name": "product", "required": true, "prefix": "Halal"},
    {"name": "price", "type": "numeric", "min": 10.0, "max_decimals": 2},
    {"name": "quantity", "type": "integer", "max": 100}
]') > 0 AS defined;
SELECT load, target, mode, header, delimiter FROM pgetl.loads WHERE load = 'sales';

-- The seed case: 3 rows loaded, 3 rejected, every failed rule kept.
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('sales', :'sales');
SELECT * FROM sales ORDER BY product;
SELECT line_number, record, column_name, rule, value, message, sqlstate
  FROM pgetl.reject WHERE load_name = 'sales' ORDER BY reject_id;
SELECT load_name, rows_read, rows_loaded, rows_rejected, source = :'sales' AS same_source
  FROM pgetl.load_history WHERE load_name = 'sales';

-- The same data, staged by a client without server file access.
TRUNCATE sales;
SELECT pgetl_stage('sales_upload', convert_to(E'product,price,quantity\nHalal Tea,12.50,3\n', 'UTF8'));
SELECT pgetl_stage('sales_upload', convert_to(E'Halal Rice,11,4\nHalal Oil,1,1\n', 'UTF8'));
SELECT stage, bytes, chunks FROM pgetl.stages WHERE stage = 'sales_upload';
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('sales', 'sales_upload');
SELECT * FROM sales ORDER BY product;
-- kept until dropped, or loaded with purge
SELECT stage FROM pgetl.stages WHERE stage = 'sales_upload';
SELECT rows_loaded FROM pgetl_load('sales', 'sales_upload', purge => true);
SELECT count(*) AS stages_left FROM pgetl.stages WHERE stage = 'sales_upload';
SELECT pg_temp.fails($$SELECT pgetl_load('sales', 'sales_upload')$$);
SELECT pg_temp.fails($$SELECT pgetl_stage('/etc/passwd', '\x41')$$);

-- Rows failing several rules list each failure; a check spans columns.
CREATE TABLE orders (id integer PRIMARY KEY, qty integer NOT NULL, price numeric,
                     code text, day date);
SELECT pgetl_define_load('orders', 'orders', '[
    {"name": "id", "unique": true},
    {"name": "qty", "min": 1},
    {"name": "price"},
    {"name": "code", "pattern": "^[A-Z]{2}-[0-9]+$", "max_length": 6, "allowed": ["AB-1", "CD-22", "EF-333", "GH-4444"]},
    {"name": "day", "type": "date", "format": "DD/MM/YY"}
]', '{"checks": [{"name": "positive_total", "expression": "qty * price > 0"}]}') > 0 AS defined;
SELECT pgetl_stage('orders1', convert_to(
'id,qty,price,code,day
1,2,3.5,AB-1,31/12/19
2,1,-1,CD-22,01/01/20
3,,5,EF-333,02/01/20
1,1,1,AB-1,03/01/20
4,1,1,ab-1,32/01/20
5,1,1,GH-4444,04/01/20
', 'UTF8'));
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('orders', 'orders1');
SELECT * FROM orders ORDER BY id;
SELECT line_number, column_name, rule, value, message, sqlstate
  FROM pgetl.reject WHERE load_name = 'orders' ORDER BY reject_id;

-- Definition errors, with their SQLSTATE: nothing is stored.
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "product", "colour": "red"}]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "price", "type": "nosuchtype"}]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "price", "type": "numeric(", "target": "price"}]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "nosuchcolumn"}]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "x", "target": "nosuchcolumn"}]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "product", "pattern": "(unclosed"}]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "price", "min": 10, "max": 5}]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "price", "min": "ten"}]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "price", "format": "DD/MM/YY"}]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'orders', '[{"name": "day", "format": "nothing here"}]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "quantity", "allowed": ["1", "two"]}]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "product"}]', '{"delimiter": ";;"}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "product"}]', '{"mode": "merge"}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "product"}]', '{"mode": "upsert"}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "product"}]', '{"mode": "upsert", "conflict_key": ["product"]}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "product"}]', '{"max_reject_ratio": 2}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "product"}]', '{"encoding": "KLINGON"}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "product"}]', '{"colour": "red"}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "quantity"}]', '{"checks": [{"name": "c", "expression": "nosuch > 0"}]}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "quantity"}]', '{"checks": [{"name": "c", "expression": "quantity > 0) FROM pg_authid WHERE (true"}]}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "quantity"}]', '{"checks": [{"name": "c", "expression": "(SELECT true)"}]}')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'pg_class', '[{"name": "relname"}]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'pgetl.loads', '[{"name": "load"}]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "product"}, {"name": "product", "target": "price"}]')$$);
SELECT pg_temp.fails($$SELECT pgetl_define_load('bad', 'sales', '[{"name": "product"}, {"name": "p2", "target": "product"}]')$$);
SELECT count(*) AS bad_specs FROM pgetl.loads WHERE load = 'bad';

-- Unknown loads and sources.
SELECT pg_temp.fails($$SELECT pgetl_load('nosuchload', '/tmp/sales.csv')$$);
SELECT pg_temp.fails($$SELECT pgetl_load('sales', 'nosuchstage')$$);
SELECT pg_temp.fails($$SELECT pgetl_drop_load('nosuchload')$$);

-- Re-defining replaces the rules; dropping keeps history and rejects.
SELECT pgetl_define_load('sales', 'sales', '[
    {"name": "product", "required": true},
    {"name": "price"},
    {"name": "quantity"}
]') > 0 AS redefined;
TRUNCATE sales;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_load('sales', :'sales');
SELECT pgetl_drop_load('sales');
SELECT count(*) AS loads FROM pgetl.loads WHERE load = 'sales';
SELECT count(*) > 0 AS rejects_kept FROM pgetl.reject WHERE load_name = 'sales';
