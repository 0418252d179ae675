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

--@function pgetl._define_load

-- pgetl_load's new OUT column (rows_warned): 60_loader.sql creates the
-- function from its install definition, which has it.
