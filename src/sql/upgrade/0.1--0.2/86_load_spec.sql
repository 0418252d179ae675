-- One representation of a load spec (0.2): the spec's document (columns
-- and options, as given to pgetl_define_load) in pgetl.load_spec is what
-- the loader reads; 0.1 kept it there too, and also copied its rules into
-- pgetl.load_column and pgetl.load_check, which go.  Nothing is moved: the
-- rows of those tables were made from the document (0.1 has no rule that
-- must be resolved when the spec is defined, so ref_relids stays NULL).
-- Their pg_extension_config_dump entries go with them.

ALTER TABLE pgetl.load_spec
    ADD COLUMN ref_relids regclass[];

DROP TABLE pgetl.load_check;
DROP TABLE pgetl.load_column;

-- One validator of a spec's columns, options and expectations: their keys
-- are declared once, in C (load_columns.c: pgetl._load_check_spec, created
-- by 91_load_spec_doc.sql), which _define_load calls; 0.1's _load_scalar
-- and _load_typed go.
DROP FUNCTION pgetl._load_scalar(jsonb, text);
DROP FUNCTION pgetl._load_typed(jsonb, text, text);
