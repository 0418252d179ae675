-- pgetl_run_id() and pgetl_logical_date() raise 55000 outside a task (they
-- returned NULL, which a distributed query turned into silently wrong
-- results); the C functions changed, their comments say so.
COMMENT ON FUNCTION @extschema@.pgetl_run_id() IS
'inside a task: the id of the current run (outside a task: error 55000)';
COMMENT ON FUNCTION @extschema@.pgetl_logical_date() IS
'inside a task: the logical date of the current run (outside a task: error 55000)';
