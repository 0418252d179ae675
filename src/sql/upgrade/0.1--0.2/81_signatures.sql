-- The definition functions whose arguments 0.2 extends (setup/teardown,
-- logical dates, sensors, callbacks, ... each adds its arguments to the
-- install parts, src/sql/30_define.sql and 50_api.sql): their 0.1 forms
-- are dropped here, once, and created as the install parts define them now,
-- with their comments.  A feature that adds an argument changes no line
-- here.  (99_privileges.sql, appended, revokes PUBLIC's EXECUTE on the
-- internal ones.)
DROP FUNCTION @extschema@.pgetl_create_pipeline(text, text, integer, jsonb);
DROP FUNCTION pgetl._create_pipeline(oid, text, text, integer, jsonb);
DROP FUNCTION @extschema@.pgetl_alter_pipeline(text, boolean, text, integer, jsonb);
DROP FUNCTION pgetl._alter_pipeline(oid, text, boolean, text, integer, jsonb);
DROP FUNCTION @extschema@.pgetl_add_task(text, text, text, text[], text, integer, interval, interval,
                                         text, jsonb, boolean, interval);
DROP FUNCTION pgetl._add_task(oid, text, text, text, text[], text, integer, interval, interval,
                              text, jsonb, boolean, interval);

--@create pgetl._create_pipeline
--@create @extschema@.pgetl_create_pipeline
--@comment @extschema@.pgetl_create_pipeline

-- Returns the previous owner when the owner changed (the caller then moves
-- the pipeline's cron job), else NULL.
--@create pgetl._alter_pipeline
--@comment pgetl._alter_pipeline
--@create @extschema@.pgetl_alter_pipeline
--@comment @extschema@.pgetl_alter_pipeline

--@create pgetl._add_task
--@create @extschema@.pgetl_add_task
--@comment @extschema@.pgetl_add_task
