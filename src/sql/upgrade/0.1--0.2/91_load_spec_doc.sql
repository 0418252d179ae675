-- One representation of a load spec (issue 15): its dialect and behaviour
-- (delimiter, quote, escape, header, null string, encoding, mode,
-- conflict_key, on_conflict, max_rejects, max_reject_ratio) were also
-- copied from the document into columns of pgetl.load_spec; the loader and
-- the view pgetl.loads now read them from the document (options), defaults
-- applied by load_columns.c's option_keys[] (pgetl._load_options).  Nothing
-- is moved: 0.1's _define_load derived every one of those columns from the
-- options it stored, with the same defaults.
-- (pgetl.loads reads the columns: 98_views.sql recreates it)
DROP VIEW pgetl.loads;
ALTER TABLE pgetl.load_spec
    DROP COLUMN delimiter,
    DROP COLUMN quote,
    DROP COLUMN escape,
    DROP COLUMN header,
    DROP COLUMN null_string,
    DROP COLUMN encoding,
    DROP COLUMN mode,
    DROP COLUMN conflict_key,
    DROP COLUMN on_conflict,
    DROP COLUMN max_rejects,
    DROP COLUMN max_reject_ratio;
--@create pgetl._load_options
--@comment pgetl._load_options

-- One validator of a spec (issue 15): the values of its options and
-- expectations are checked by the C validator too (load_columns.c's
-- option_keys[] and expect_keys[]: each key's JSON type and the check of
-- its value), with its name and target; _define_load only stores what
-- pgetl._load_check_spec accepted.
--@create pgetl._load_check_spec
--@comment pgetl._load_check_spec
--@function pgetl._define_load

-- One validator of an export task's config (issue 15): the checks of
-- pgetl_add_task and of the task worker were two (PL/pgSQL and C); both
-- now call src/export.c's pgetl_export_check_config.
--@function pgetl._check_export_task
