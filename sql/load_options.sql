-- The validation of a load spec's options and expectations: the keys and
-- the JSON types of their values (declared once, in src/load_columns.c's
-- option_keys[] and expect_keys[]), and the checks of their values after
-- them: every error with its SQLSTATE, message, detail and hint, and
-- which of two problems is reported first.  The expected output was made
-- with the PL/pgSQL validation this replaced (main 7f03874): the messages
-- did not change.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgetl;
\i test/setup/regress.sql
CREATE TABLE lo_t (a integer PRIMARY KEY, b text);
CREATE TABLE lo_cases (n serial, opts text);
INSERT INTO lo_cases (opts) VALUES
    (NULL), ('[]'), ('1'), ('"x"'), ('{}'),
    ('{"colour": 1}'), ('{"delimiter": 1, "colour": 1}'), ('{"delimiter": 1}'), ('{"header": "yes"}'),
    ('{"null": 1}'), ('{"mode": 1}'), ('{"delimiter": 1, "header": "x"}'), ('{"quote": [1], "escape": 1}'),
    ('{"max_rejects": "x"}'), ('{"checks": {}}'), ('{"expect": []}'), ('{"encoding": 8}'),
    ('{"unlisted_columns": "warn"}'), ('{"unlisted_columns": 1}'), ('{"unlisted_columns": "ignore"}'),
    ('{"unlisted_columns": "ignore", "header": false}'), ('{"unlisted_columns": null}'),
    ('{"delimiter": null, "quote": null, "escape": null, "encoding": null, "mode": null, "null": null}'),
    ('{"header": null}'), ('{"header": false}'), ('{"conflict_key": "a"}'), ('{"conflict_key": ["a"]}'),
    ('{"mode": "upsert", "conflict_key": ["a"]}'), ('{"mode": "upsert", "conflict_key": ["b"]}'),
    ('{"mode": "upsert"}'), ('{"mode": "upsert", "conflict_key": ["a"], "on_conflict": "x"}'),
    ('{"mode": "upsert", "conflict_key": ["a"], "on_conflict": 1}'), ('{"mode": "merge"}'),
    ('{"max_rejects": 2.5}'), ('{"max_rejects": -1}'), ('{"max_rejects": null}'),
    ('{"max_reject_ratio": 2}'), ('{"max_reject_ratio": "x"}'), ('{"max_reject_ratio": 0.5}'),
    ('{"commit_every": "x"}'), ('{"commit_every": 0}'), ('{"commit_every": 10, "expect": {"min_rows": 1}}'),
    ('{"require_final_newline": 1}'), ('{"require_final_newline": true}'), ('{"encoding": "nope"}'),
    ('{"delimiter": ";;"}'), ('{"delimiter": "\""}'), ('{"null": "NULL", "delimiter": ";"}'),
    ('{"checks": [1]}'), ('{"checks": [{"name": "c", "expression": "a > 0", "severity": "x"}]}'),
    ('{"checks": [{"name": "c", "expression": "a > 0"}, {"name": "c", "expression": "a > 1"}]}'),
    -- expectations
    ('{"expect": {"colour": 1}}'), ('{"expect": {"min_rows": "1"}}'), ('{"expect": {"min_rows": "1", "colour": 1}}'),
    ('{"expect": {"sql": "x"}}'), ('{"expect": {"unique": [], "freshness": 1}}'), ('{"expect": {"unique": ["a"], "freshness": 1}}'),
    ('{"expect": {"min_rows": -1}}'), ('{"expect": {"min_rows": 3, "max_rows": 2}}'), ('{"expect": null}'),
    ('{"expect": {"max_reject_ratio": "x"}}'), ('{"expect": {"not_null": ["zz"]}}'), ('{"expect": {}}'),
    ('{"expect": {"freshness": {"column": "a", "max_age": "1 day"}}}'), ('{"expect": {"min_rows": 1, "max_rows": 5}}');
SELECT n, opts, t.*
  FROM lo_cases, LATERAL pg_temp.try(format('SELECT pgetl_define_load(%L, %L, %L, %L)',
                                            'lo_' || n, 'lo_t', '[{"name": "a"}, {"name": "b"}]', opts)) t
 ORDER BY n;

-- The checks of the options' and expectations' values (load_columns.c: the
-- check of each key's entry in option_keys[] and expect_keys[]), and of the
-- name and target: each error, and which of two problems is told first.
-- The expected output was made with the PL/pgSQL checks of _define_load
-- they replaced (ef5f8c2): the messages did not change.
CREATE DOMAIN lo_day AS date;
CREATE DOMAIN lo_day2 AS lo_day;
CREATE TABLE lo_v (a integer, b text, d date, dd lo_day, d2 lo_day2, ts timestamptz, c integer);
CREATE UNIQUE INDEX ON lo_v (a) INCLUDE (b);
CREATE UNIQUE INDEX ON lo_v (c) WHERE c > 0;
CREATE UNIQUE INDEX ON lo_v (b, a);
CREATE VIEW lo_view AS SELECT 1 AS a;
CREATE TABLE lo_vcases (n serial, name text, target text, cols text, opts text);
INSERT INTO lo_vcases (name, target, cols, opts) VALUES
    -- name and target
    ('', 'lo_v', '[{"name": "a"}]', '{}'), (NULL, 'lo_v', '[{"name": "a"}]', '{}'),
    ('x', NULL, '[{"name": "a"}]', '{}'), ('x', 'lo_view', '[{"name": "a"}]', '{}'),
    ('x', 'pg_catalog.pg_class', '[{"name": "oid"}]', '{}'), ('x', 'pgetl.load_spec', '[{"name": "name"}]', '{}'),
    ('x', 'lo_v', NULL, '{}'), ('x', 'lo_v', '[{"name": "zz"}]', '{"max_rejects": -1}'),
    ('x', 'lo_v', '[{"name": "zz"}]', '{"checks": [1]}'), ('x', 'lo_v', '[{"name": "a", "colour": 1}]', '{"expect": {"min_rows": -1}}'),
    ('x', 'lo_v', '[{"name": "a", "allowed": [[1]]}]', '{"checks": [1]}'),
    ('x', 'lo_v', '[{"name": "a", "allowed": [[1]]}]', '{"expect": {"not_null": ["zz"]}}'),
    -- dialect
    ('x', 'lo_v', '[{"name": "a"}]', '{"delimiter": "\n"}'), ('x', 'lo_v', '[{"name": "a"}]', '{"quote": "\r"}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"delimiter": ";", "quote": ";"}'), ('x', 'lo_v', '[{"name": "a"}]', '{"escape": "ab"}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"delimiter": "é"}'), ('x', 'lo_v', '[{"name": "a"}]', '{"delimiter": "\t", "quote": "\t"}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"encoding": "latin1"}'), ('x', 'lo_v', '[{"name": "a"}]', '{"encoding": ""}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"delimiter": "", "encoding": "nope"}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"encoding": "nope", "mode": "merge"}'),
    -- mode, conflict_key, on_conflict
    ('x', 'lo_v', '[{"name": "a"}]', '{"mode": "replace", "on_conflict": "update"}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"mode": "append", "conflict_key": []}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"mode": "append", "conflict_key": [], "on_conflict": null}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"mode": "upsert", "conflict_key": []}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"mode": "upsert", "conflict_key": [null]}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"mode": "upsert", "conflict_key": [1]}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"mode": "upsert", "conflict_key": ["a", "a"]}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"mode": "upsert", "conflict_key": ["a", "b"]}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"mode": "upsert", "conflict_key": ["a"], "on_conflict": null}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"mode": "upsert", "conflict_key": ["a"], "on_conflict": "nothing"}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"mode": "upsert", "conflict_key": ["c"]}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"mode": "upsert", "conflict_key": ["b"], "on_conflict": "x"}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"mode": "upsert", "conflict_key": ["zz", "a"]}'),
    -- limits
    ('x', 'lo_v', '[{"name": "a"}]', '{"max_rejects": -0.4}'), ('x', 'lo_v', '[{"name": "a"}]', '{"max_rejects": -0.6}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"max_rejects": 1e30}'), ('x', 'lo_v', '[{"name": "a"}]', '{"max_rejects": 0}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"commit_every": 1.5}'), ('x', 'lo_v', '[{"name": "a"}]', '{"commit_every": -3}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"commit_every": 9223372036854775808}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"commit_every": 9223372036854775807}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"commit_every": null, "expect": null}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"commit_every": 0, "expect": null}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"commit_every": 5, "max_reject_ratio": 2}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"max_reject_ratio": -0.1}'), ('x', 'lo_v', '[{"name": "a"}]', '{"max_reject_ratio": 1.0000001}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"max_reject_ratio": 12345678901234567890}'), ('x', 'lo_v', '[{"name": "a"}]', '{"max_reject_ratio": 1}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"max_rejects": -1, "max_reject_ratio": 2}'),
    -- checks
    ('x', 'lo_v', '[{"name": "a"}]', '{"checks": [{"name": "c"}]}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"checks": [{"name": "c", "expression": "a > 0", "other": 1}]}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"checks": [{"name": 1, "expression": "a > 0"}]}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"checks": [{"name": "c", "expression": "a > 0", "severity": null}]}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"checks": [{"name": "c", "expression": "a > 0", "severity": ["warn"]}]}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"checks": [{"name": "c", "expression": "a > 0", "severity": "warn"}]}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"checks": [{"name": "c", "expression": "a > 0"}, {"name": "c", "expression": "x", "severity": 1}]}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"checks": null}'), ('x', 'lo_v', '[{"name": "a"}]', '{"checks": []}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"checks": [1], "expect": {"min_rows": -1}}'),
    -- expectations
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"min_rows": 1.5}}'), ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"max_rows": -2}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"max_rows": -2, "min_rows": -1}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"min_rows": 2, "max_rows": 2}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"min_rows": 2.0, "max_rows": 1}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"min_rows": 3, "max_rows": 2, "max_reject_ratio": 5}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"max_reject_ratio": 1.5}}'), ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"max_reject_ratio": -1e-9}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"max_reject_ratio": 2, "unique": []}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"unique": [""]}}'), ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"not_null": [1]}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"sql": []}}'), ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"sql": ["", "x"]}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"sql": [], "unique": [""]}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"sql": [], "freshness": {"column": 1}}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"unique": null}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"unique": ["a"], "not_null": null}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"unique": ["a", "zz"], "not_null": ["yy"]}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"not_null": ["b"], "freshness": {"column": "zz", "max_age": "1 day"}}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"freshness": {"column": "a"}}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"freshness": {"column": "a", "max_age": "1 day", "x": 1}}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"freshness": {"column": "d", "max_age": "x"}}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"freshness": {"column": "d", "max_age": "-1 day"}}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"freshness": {"column": "d", "max_age": "0"}}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"freshness": {"column": "d", "max_age": "99999999999 years"}}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"freshness": {"column": "d", "max_age": "1 day"}}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"freshness": {"column": "dd", "max_age": "P1D"}}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"freshness": {"column": "d2", "max_age": "1 day"}}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"freshness": {"column": "ts", "max_age": "36 hours"}}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"freshness": {"column": "b", "max_age": "1 day"}}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"freshness": {"column": "zz", "max_age": "x"}}}'),
    ('x', 'lo_v', '[{"name": "a"}]', '{"expect": {"freshness": null, "unique": ["a"]}}');
SELECT n, name, target, cols, opts, t.*
  FROM lo_vcases, LATERAL pg_temp.try(format('SELECT pgetl_define_load(%L, %L, %L, %L)',
                                             name, target, cols, opts)) t
 ORDER BY n;
-- nothing of what failed was stored; what passed is there
SELECT count(*) AS stored FROM pgetl.loads WHERE load = 'x';
