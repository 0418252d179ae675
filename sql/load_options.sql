-- The validation of a load spec's options and expectations: the keys and
-- the JSON types of their values (declared once, in src/load_columns.c's
-- option_keys[] and expect_keys[]), and the checks _define_load makes
-- after them: every error with its SQLSTATE, message, detail and hint, and
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
