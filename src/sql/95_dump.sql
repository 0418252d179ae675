-- What pg_dump keeps.  Every table that holds user definitions or history
-- is an extension configuration table, so that pg_dump dumps its rows (and
-- pg_restore brings them back) although the tables themselves are created
-- by CREATE EXTENSION; their identity sequences are registered too, so that
-- new ids continue after the restored ones.  Rows refer to roles and tables
-- by name (regrole, regclass), never by raw OID.  test/upgrade/dump_test.sh
-- checks that every table of schema pgetl is listed here but the state
-- transition tables (src/sql/20_history.sql), catalog data that CREATE
-- EXTENSION fills.
DO $$
DECLARE
    t regclass;
    seq text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'pgetl.pipeline', 'pgetl.task', 'pgetl.task_dependency',
        'pgetl.run_record', 'pgetl.task_run_record',
        'pgetl.load_spec',
        'pgetl.load_record', 'pgetl.reject_record',
        'pgetl.stage', 'pgetl.stage_chunk', 'pgetl.schedule',
        'pgetl.pipeline_version_record', 'pgetl.backfill_cancel', 'pgetl.task_pool']::regclass[]
    LOOP
        PERFORM pg_catalog.pg_extension_config_dump(t, '');
        FOR seq IN
            SELECT pg_catalog.pg_get_serial_sequence(t::text, a.attname)
              FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = t AND a.attidentity <> '' AND NOT a.attisdropped
        LOOP
            PERFORM pg_catalog.pg_extension_config_dump(seq::regclass, '');
        END LOOP;
    END LOOP;
END
$$;
