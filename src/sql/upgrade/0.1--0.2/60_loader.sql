-- Loader (0.2): a spec follows its target by OID (pgetl.loads shows the
-- target's current name); loads count the rows a BEFORE trigger dropped and
-- the rows an upsert with on_conflict nothing skipped (pgetl.load_record,
-- pgetl.load_history, pgetl_load's result), so that rows_read = rows_loaded
-- + rows_rejected + rows_skipped_by_trigger + rows_skipped_on_conflict.
-- Older loads keep NULL in the new columns.

ALTER TABLE pgetl.load_record
    ADD COLUMN rows_skipped_by_trigger bigint,
    ADD COLUMN rows_skipped_on_conflict bigint;

DROP VIEW pgetl.loads;
CREATE VIEW pgetl.loads WITH (security_barrier) AS
SELECT s.name AS load, s.owner,
       -- the target is kept by OID: show its name now (it may have been renamed)
       coalesce((SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
                   FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                  WHERE c.oid OPERATOR(pg_catalog.=) s.target), s.target_name) AS target,
       s.mode, s.header,
       s.delimiter, s.quote, s.escape, s.null_string, s.encoding,
       s.conflict_key, s.on_conflict, s.max_rejects, s.max_reject_ratio,
       s.columns, s.options, s.defined_at
  FROM pgetl.load_spec s
 WHERE pg_catalog.pg_has_role(s.owner, 'MEMBER');
COMMENT ON VIEW pgetl.loads IS 'load specs you may use: target, dialect, mode, columns and rules as defined';
GRANT SELECT ON pgetl.loads TO PUBLIC;

DROP VIEW pgetl.load_history;
CREATE VIEW pgetl.load_history WITH (security_barrier) AS
SELECT l.load_id, l.load_name, l.run_id, l.source, l.loaded_by, l.owner,
       l.started_at, l.finished_at, l.duration, l.rows_read, l.rows_loaded,
       l.rows_rejected, l.rows_skipped_by_trigger, l.rows_skipped_on_conflict
  FROM pgetl.load_record l
 WHERE pg_catalog.pg_has_role(l.owner, 'MEMBER');
COMMENT ON VIEW pgetl.load_history IS 'committed loads of specs you may use, with their counts: rows_read = rows_loaded + rows_rejected + rows_skipped_by_trigger + rows_skipped_on_conflict';
GRANT SELECT ON pgetl.load_history TO PUBLIC;

DROP FUNCTION @extschema@.pgetl_load(text, text, boolean);
--@create @extschema@.pgetl_load
-- (its COMMENT: 67_resume.sql)
