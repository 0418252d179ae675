-- Loader v2 rules (0.2): per-column min_length, not_allowed, not_pattern,
-- references and severity, a severity per check (all kept in the spec's
-- document: 86_load_spec.sql), warnings kept in pgetl.reject_record with
-- severity 'warn' and counted in rows_warned (pgetl.load_record,
-- pgetl.load_history and pgetl_load's result), and whole-load expectations
-- ("expect", kept in the spec's options).  Older specs have no such rules;
-- older loads keep NULL in rows_warned and severity 'error' for their
-- rejects.

ALTER TABLE pgetl.load_record
    ADD COLUMN rows_warned bigint;
ALTER TABLE pgetl.reject_record
    ADD COLUMN severity text NOT NULL DEFAULT 'error' CHECK (severity IN ('error', 'warn'));

DROP VIEW pgetl.load_history;
CREATE VIEW pgetl.load_history WITH (security_barrier) AS
SELECT l.load_id, l.load_name, l.run_id, l.source, l.loaded_by, l.owner,
       l.started_at, l.finished_at, l.duration, l.rows_read, l.rows_loaded,
       l.rows_rejected, l.rows_skipped_by_trigger, l.rows_skipped_on_conflict,
       l.rows_warned
  FROM pgetl.load_record l
 WHERE pg_catalog.pg_has_role(l.owner, 'MEMBER');
COMMENT ON VIEW pgetl.load_history IS 'committed loads of specs you may use, with their counts: rows_read = rows_loaded + rows_rejected + rows_skipped_by_trigger + rows_skipped_on_conflict; rows_warned of them passed with warnings';
GRANT SELECT ON pgetl.load_history TO PUBLIC;

DROP VIEW pgetl.reject;
CREATE VIEW pgetl.reject WITH (security_barrier) AS
SELECT r.load_id, r.run_id, r.load_name, r.source, r.line_number, r.record,
       r.column_name, r.rule, r.value, r.message, r.sqlstate, r.reject_id,
       r.severity
  FROM pgetl.reject_record r
 WHERE pg_catalog.pg_has_role(r.owner, 'MEMBER');
COMMENT ON VIEW pgetl.reject IS 'rejected records of loads you may see: where, which column, which rule, and why (severity warn: a warning, the record loaded)';
GRANT SELECT ON pgetl.reject TO PUBLIC;

--@function pgetl._define_load

-- pgetl_load's new OUT column (rows_warned): 60_loader.sql creates the
-- function from its install definition, which has it.
