-- Inferring a load spec from a sample of a CSV source (pgetl_infer_load):
-- dialect, encoding, column types and formats, rules and a CREATE TABLE
-- statement, as jsonb whose columns and options pgetl_define_load takes.
-- Reading the source needs what loading it needs (src/load_source.c).
-- New in 0.2: the upgrade script runs this file as it is (Makefile).

CREATE FUNCTION @extschema@.pgetl_infer_load(source text, sample_rows integer DEFAULT 20000,
                                             options jsonb DEFAULT '{}')
RETURNS jsonb AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_infer_load(text, integer, jsonb) IS
'proposes a load spec for a CSV source (server file or staged data) from a sample of its records: dialect, encoding, per column a type, date format and rules, a CREATE TABLE statement; columns and options go straight to pgetl_define_load';
