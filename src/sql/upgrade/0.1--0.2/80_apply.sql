
-- Pipelines as code (src/sql/35_apply.sql, appended as a new install
-- part): runs record the definition version they ran.
--@function pgetl._start_run
