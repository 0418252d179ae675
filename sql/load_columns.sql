-- The validation of a load spec's columns (pgetl._load_check_spec, from
-- the one table of column keys in src/load_columns.c): every error it
-- raises, with its SQLSTATE, message, detail and hint, and which of two
-- problems is reported first; and that the table a "references" rule
-- names is kept by OID (pgetl.load_spec.ref_relids): a rename is followed,
-- a drop fails the load.  The expected output was made with the PL/pgSQL
-- validation and the rows of pgetl.load_column this replaced (main
-- 7f03874): the messages and the behaviour did not change.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgetl;
\i test/setup/regress.sql
CREATE TABLE lc_t (a integer, b text, c numeric, g integer GENERATED ALWAYS AS (a * 2) STORED);
CREATE TABLE lc_ref (id integer PRIMARY KEY);
CREATE TABLE lc_cases (n serial, cols text, opts text DEFAULT '{}');
INSERT INTO lc_cases (cols) VALUES
    (NULL), ('{}'), ('[]'), ('"x"'), ('[1]'), ('[{"name": "a"}, "x"]'),
    -- keys
    ('[{"name": "a", "colour": 1}]'), ('[{"name": 12, "colour": 1}]'), ('[{"colour": 1}]'),
    ('[{"name": 12}]'), ('[{"name": {"x": 1}}]'), ('[{"name": null}]'), ('[{"type": "int"}]'),
    ('[{"name": "a"}, {"name": "a"}]'),
    -- targets
    ('[{"name": "a", "target": 1}]'), ('[{"target": 1}]'), ('[{"name": "zz"}]'),
    ('[{"name": "a", "target": "zz"}]'), ('[{"name": "g"}]'), ('[{"name": "a"}, {"name": "x", "target": "a"}]'),
    ('[{"name": "a", "target": null, "min": 1}]'), ('[{"name": "a", "target": null, "format": "YYYY"}]'),
    ('[{"name": "a", "target": null, "references": {"table": "lc_ref", "column": "id"}}]'),
    ('[{"name": "a", "target": null, "pattern": "x"}]'),
    ('[{"name": "a", "target": null, "min": 1, "type": "integer"}]'),
    -- value types, and which is told first
    ('[{"name": "a", "required": "yes"}]'), ('[{"name": "a", "type": 1}]'), ('[{"name": "a", "min": [1]}]'),
    ('[{"name": "a", "max": {"x": 1}}]'), ('[{"name": "a", "min": null, "max": null}]'),
    ('[{"name": "a", "allowed": "x"}]'), ('[{"name": "a", "references": "lc_ref"}]'),
    ('[{"name": "a", "max_length": "3"}]'), ('[{"name": "a", "unique": 1}]'),
    ('[{"name": "a", "required": "yes", "min": [1], "type": 1, "max_decimals": "x"}]'),
    ('[{"name": "a", "not_allowed": {"x": 1}, "pattern": 1}]'),
    -- counts
    ('[{"name": "b", "max_length": -1}]'), ('[{"name": "b", "max_length": 1.5}]'),
    ('[{"name": "c", "max_decimals": -2}]'), ('[{"name": "b", "min_length": -1}]'),
    ('[{"name": "b", "min_length": 2.50}]'), ('[{"name": "b", "min_length": 5, "max_length": 3}]'),
    ('[{"name": "b", "min_length": 3, "max_length": 3}]'), ('[{"name": "b", "max_length": 3.0}]'),
    -- patterns
    ('[{"name": "b", "pattern": "(x"}]'), ('[{"name": "b", "not_pattern": "[x"}]'),
    ('[{"name": "b", "pattern": null}]'), ('[{"name": "b", "pattern": "^a+$", "not_pattern": "*"}]'),
    -- references
    ('[{"name": "a", "references": null}]'), ('[{"name": "a", "references": {}}]'),
    ('[{"name": "a", "references": {"table": "lc_ref"}}]'),
    ('[{"name": "a", "references": {"table": "lc_ref", "column": "id", "on": 1}}]'),
    ('[{"name": "a", "references": {"table": 1, "column": "id"}}]'),
    -- severity
    ('[{"name": "a", "min": 1, "severity": "fatal"}]'), ('[{"name": "a", "min": 1, "severity": 1}]'),
    ('[{"name": "a", "min": 1, "severity": ["warn"]}]'), ('[{"name": "a", "min": 1, "severity": {"type": "warn"}}]'),
    ('[{"name": "a", "min": 1, "severity": {"max": "warn"}}]'), ('[{"name": "a", "min": 1, "severity": {"min": "x"}}]'),
    ('[{"name": "a", "min": 1, "severity": {"min": 1}}]'), ('[{"name": "a", "min": 1, "severity": null}]'),
    ('[{"name": "a", "min": 1, "severity": {"colour": "warn"}}]'), ('[{"name": "a", "min": 1, "severity": {"min": "warn"}}]'),
    -- allowed values
    ('[{"name": "b", "allowed": ["x", {"y": 1}]}]'), ('[{"name": "b", "not_allowed": [["y"]]}]'),
    ('[{"name": "b", "allowed": ["x", null, 1, true]}]'),
    -- several columns: the first problem in column order
    ('[{"name": "a", "min": "x"}, {"name": "zz"}]'), ('[{"name": "zz"}, {"name": "a", "colour": 1}]');
INSERT INTO lc_cases (cols, opts) VALUES
    ('[{"type": "int"}]', '{"header": false}'), ('[{"name": null}, {"name": "b"}]', '{"header": false}'),
    ('[{"name": "a", "allowed": [[1]]}]', '{"checks": [{"name": 1}]}');
SELECT n, cols, opts, t.*
  FROM lc_cases, LATERAL pg_temp.try(format('SELECT pgetl_define_load(%L, %L, %L, %L)',
                                            'lc_' || n, 'lc_t', cols, opts)) t
 ORDER BY n;

-- references: the table is resolved when the spec is defined, then kept by OID
CREATE TABLE lc_items (code text, cust integer);
INSERT INTO lc_ref VALUES (1);
SELECT pgetl_define_load('lc_refs', 'lc_items', '[{"name": "code"},
    {"name": "cust", "references": {"table": "lc_ref", "column": "id"}}]') > 0 AS defined;
ALTER TABLE lc_ref RENAME TO lc_ref_renamed;
SELECT pgetl_stage('lc_s', convert_to(E'code,cust\na,1\nb,2\n', 'UTF8')) > 0 AS staged;
SELECT rows_loaded, rows_rejected FROM pgetl_load('lc_refs', 'lc_s');
SELECT line_number, column_name, rule, value, message FROM pgetl.reject WHERE load_name = 'lc_refs';
DROP TABLE lc_ref_renamed;
SELECT * FROM pg_temp.try($$SELECT * FROM pgetl_load('lc_refs', 'lc_s')$$);
