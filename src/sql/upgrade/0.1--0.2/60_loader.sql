-- Loader (0.2): a spec follows its target by OID (pgetl.loads shows the
-- target's current name); loads count the rows a BEFORE trigger dropped and
-- the rows an upsert with on_conflict nothing skipped (pgetl.load_record,
-- pgetl.load_history, pgetl_load's result), so that rows_read = rows_loaded
-- + rows_rejected + rows_skipped_by_trigger + rows_skipped_on_conflict.
-- Older loads keep NULL in the new columns.

ALTER TABLE pgetl.load_record
    ADD COLUMN rows_skipped_by_trigger bigint,
    ADD COLUMN rows_skipped_on_conflict bigint;

DROP FUNCTION @extschema@.pgetl_load(text, text, boolean);
--@create @extschema@.pgetl_load
-- (its COMMENT: 67_resume.sql)
