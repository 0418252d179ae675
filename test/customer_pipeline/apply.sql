-- customer_pipeline as code: pgetl_apply of the document
-- test/customer_pipeline/pipeline.json, the same pipeline as the function
-- calls of pipeline.sql (the test pipeline_apply checks that they agree).
-- Run it with psql, from the top of the repository, as the role that is to
-- own the pipeline (see pipeline.sql for what that role needs):
--
--   psql -U etl -d mydb -v data_dir=/path/to/test/customer_pipeline \
--        -v export_dir=/srv/exports -f test/customer_pipeline/apply.sql
--
-- "${data_dir}" and "${export_dir}" in the document are replaced by the
-- psql variables of the same name; psql variable json names another
-- document.  Applying it again changes nothing; after an edit of the
-- document, applying it changes what was edited (tasks it no longer lists
-- are dropped), and the next run records the new definition version.
\set ON_ERROR_STOP 1
\if :{?json}
\else
\set json test/customer_pipeline/pipeline.json
\endif
\set definition `cat :'json'`
-- schema for the pipeline's tables, owned by the pipeline owner (as in
-- pipeline.sql: a schema is not part of a pipeline's definition)
CREATE SCHEMA IF NOT EXISTS customer_etl;
SELECT pgetl_apply(replace(replace(:'definition',
           '${data_dir}', btrim(to_json(:'data_dir'::text)::text, '"')),
           '${export_dir}', btrim(to_json(:'export_dir'::text)::text, '"'))::jsonb) AS applied;
