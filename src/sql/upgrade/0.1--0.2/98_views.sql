-- The views 0.2 changes or adds, created once, here, in their install form
-- (with their comments and grants: expand.pl's --@view), after every step
-- that adds the columns, types and functions they read.  A step that must
-- change what a 0.1 view reads (a column's type, a dropped column) drops
-- the view itself and leaves it to this step: pgetl.pipeline_run
-- (20_history.sql), pgetl.task_run and pgetl.schedules (25_states.sql),
-- pgetl.loads (91_load_spec_doc.sql).  The others are dropped here.  No
-- step between such a drop and this step may create an SQL-language
-- function that reads the view (its body is checked when it is created);
-- the install parts new in 0.2 (Makefile's UPGRADE_PARTS) come after.
-- A view that reads another must be created after it.
DROP VIEW pgetl.pipelines;
DROP VIEW pgetl.tasks;
DROP VIEW pgetl.load_history;
DROP VIEW pgetl.reject;

--@view pgetl.pipeline_run
--@view pgetl.task_run
--@view pgetl.callback_failure
--@view pgetl.pipelines
--@view pgetl.tasks
--@view pgetl.pools
--@view pgetl.loads
--@view pgetl.load_history
--@view pgetl.reject
--@view pgetl.schedules
