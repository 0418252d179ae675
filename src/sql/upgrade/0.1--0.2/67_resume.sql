-- Loader v2 (0.2): a load with the option commit_every commits every N
-- records with a checkpoint, and resumes from it (pgetl_load's new argument
-- resume, created by 60_loader.sql); pgetl_reload_rejects replays the
-- rejects of a load.  pgetl.load_record keeps the checkpoint, the source's
-- identity, the header read and the load replayed; pgetl.reject_record
-- keeps which replay resolved a reject, and pgetl.reject shows it.  Older
-- loads keep NULL in the new columns (a load of 0.1 has no header: with a
-- header, its rejects cannot be replayed).

ALTER TABLE pgetl.load_record
    ADD COLUMN commit_every bigint,
    ADD COLUMN checkpoint_offset bigint,
    ADD COLUMN checkpoint_line bigint,
    ADD COLUMN source_size bigint,
    ADD COLUMN source_mtime timestamptz,
    ADD COLUMN source_hash bigint,
    ADD COLUMN header text,
    ADD COLUMN reload_of bigint;

ALTER TABLE pgetl.reject_record
    ADD COLUMN resolved_by bigint,
    ADD COLUMN resolved_at timestamptz;

COMMENT ON FUNCTION @extschema@.pgetl_load(text, text, boolean, boolean) IS
'loads a CSV source (an absolute server path, or the name of staged data) with a load spec, as the calling role; rejected records go to pgetl.reject; with commit_every, resume => true continues an interrupted load from its last checkpoint';

--@create @extschema@.pgetl_reload_rejects
COMMENT ON FUNCTION @extschema@.pgetl_reload_rejects(bigint) IS
'checks the unresolved rejects of a load again with its spec as it is now and loads those that pass, as a new load; their rejects are marked resolved_by it';
