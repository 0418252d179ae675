-- Loader v2 (issue 13, section 6): pgetl_reload_rejects(load_id) checks the
-- unresolved rejects of a load again with its spec as it is now (after the
-- rules, the reference data or the target were fixed) and loads those that
-- pass; their rejects are marked resolved_by the replay.
-- In a database of its own, so that load ids (in messages) start at 1.
SELECT current_database() AS regress_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS pgetl_load_replay_test;
CREATE DATABASE pgetl_load_replay_test;
\c pgetl_load_replay_test
SET client_min_messages = warning;
CREATE EXTENSION pgetl;
CREATE TABLE country (code text PRIMARY KEY);
INSERT INTO country VALUES ('FR'), ('DE');
CREATE TABLE sale (id integer PRIMARY KEY, amount numeric, country text REFERENCES country,
                   note text CONSTRAINT not_held CHECK (note <> 'held'));
-- the header's order is not the spec's; a quoted field spans two lines
SELECT pgetl_stage('sales', convert_to(E'note,id,amount,country\n'
    'ok,1,10,FR\n'
    'too big,2,5000,FR\n'
    'unknown country,3,20,IT\n'
    '"two\nlines",4,7000,DE\n'
    'bad number,5,abc,FR\n'
    'ok,6,30,DE\n'
    'held,7,40,FR\n', 'UTF8'));
SELECT pgetl_define_load('sales', 'sale',
    '[{"name": "id"}, {"name": "amount", "max": 1000}, {"name": "country"}, {"name": "note"}]',
    '{"max_rejects": 10}') > 0 AS defined;
SELECT load_id AS first_load, rows_read, rows_loaded, rows_rejected FROM pgetl_load('sales', 'sales') \gset
SELECT :rows_read, :rows_loaded, :rows_rejected;
SELECT line_number, record, rule, resolved_by FROM pgetl.reject WHERE load_id = :first_load ORDER BY line_number;

-- nothing fixed yet: every record is rejected again, nothing resolved
SELECT load_id > :first_load AS new_load, rows_read, rows_loaded, rows_rejected
  FROM pgetl_reload_rejects(:first_load);
SELECT count(*) FILTER (WHERE resolved_by IS NOT NULL) AS resolved FROM pgetl.reject WHERE load_id = :first_load;
-- the replay's rejects keep the lines of the source, with today's reasons
SELECT r.line_number, r.rule, h.source, l.reload_of = :first_load AS replay_of_first
  FROM pgetl.reject r JOIN pgetl.load_history h USING (load_id) JOIN pgetl.load_record l USING (load_id)
 WHERE r.load_id = (SELECT max(load_id) FROM pgetl.load_history) ORDER BY r.line_number;

-- fix the rule: the two big amounts now pass
SELECT pgetl_define_load('sales', 'sale',
    '[{"name": "id"}, {"name": "amount", "max": 10000}, {"name": "country"}, {"name": "note"}]',
    '{"max_rejects": 10}') > 0 AS defined;
SELECT load_id AS second_load, rows_read, rows_loaded, rows_rejected FROM pgetl_reload_rejects(:first_load) \gset
SELECT :rows_read, :rows_loaded, :rows_rejected;
SELECT id, amount, country, note FROM sale ORDER BY id;
SELECT line_number, rule, resolved_by = :second_load AS by_second, resolved_at IS NOT NULL AS dated
  FROM pgetl.reject WHERE load_id = :first_load ORDER BY line_number;

-- fix the reference data: IT is a country now
INSERT INTO country VALUES ('IT');
SELECT load_id AS third_load, rows_read, rows_loaded, rows_rejected FROM pgetl_reload_rejects(:first_load) \gset
SELECT :rows_read, :rows_loaded, :rows_rejected;
-- the record's rejects are resolved in the first load and in the replays
-- that rejected it again
SELECT load_id = :first_load AS in_first, line_number, resolved_by = :third_load AS by_third
  FROM pgetl.reject WHERE line_number = 4 ORDER BY load_id;

-- fix the target: drop its check
ALTER TABLE sale DROP CONSTRAINT not_held;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_reload_rejects(:first_load);

-- fix the rules again: amount is read as text and not loaded
SELECT pgetl_define_load('sales', 'sale',
    '[{"name": "id"}, {"name": "amount", "type": "text", "target": null}, {"name": "country"}, {"name": "note"}]',
    '{"max_rejects": 10}') > 0 AS defined;
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_reload_rejects(:first_load);
SELECT count(*) FILTER (WHERE resolved_by IS NULL) AS unresolved FROM pgetl.reject WHERE load_id = :first_load;
SELECT id, amount, country, note FROM sale ORDER BY id;

-- bad input
SELECT * FROM pgetl_reload_rejects(:first_load);
SELECT * FROM pgetl_reload_rejects(:second_load);
SELECT * FROM pgetl_reload_rejects(-1);
SELECT * FROM pgetl_reload_rejects(NULL);
CREATE ROLE pgetl_replay_other;
SET ROLE pgetl_replay_other;
SELECT * FROM pgetl_reload_rejects(:first_load);
RESET ROLE;
DROP ROLE pgetl_replay_other;

-- a spec with a header and a load that kept none (a load of pgetl 0.1)
CREATE TABLE t2 (a integer);
SELECT pgetl_stage('t2', convert_to(E'a\nx\n', 'UTF8'));
SELECT pgetl_define_load('t2', 't2', '[{"name": "a"}]') > 0 AS defined;
SELECT load_id AS t2_load FROM pgetl_load('t2', 't2') \gset
UPDATE pgetl.load_record SET header = NULL WHERE load_id = :t2_load;
SELECT * FROM pgetl_reload_rejects(:t2_load);

-- a spec without a header, a record without a final newline
SELECT pgetl_stage('t3', convert_to(E'1\n2\nx', 'UTF8'));
SELECT pgetl_define_load('t3', 't2', '[{"name": "a"}]', '{"header": false, "require_final_newline": true}') > 0 AS defined;
SELECT load_id AS t3_load, rows_rejected FROM pgetl_load('t3', 't3') \gset
SELECT line_number, record, rule FROM pgetl.reject WHERE load_id = :t3_load;
-- with the same spec, it lacks a final newline again
SELECT rows_read, rows_loaded, rows_rejected FROM pgetl_reload_rejects(:t3_load);
SELECT line_number, rule FROM pgetl.reject WHERE load_id = (SELECT max(load_id) FROM pgetl.load_history) ORDER BY rule;

SELECT pgetl_drop_load(l) FROM unnest('{sales,t2,t3}'::text[]) l;
SELECT pgetl_drop_stage(s) FROM unnest('{sales,t2,t3}'::text[]) s;
DROP TABLE sale, country, t2;
\c :regress_db
DROP DATABASE pgetl_load_replay_test;
