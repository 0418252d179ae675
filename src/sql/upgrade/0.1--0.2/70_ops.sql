-- Operations (src/sql/70_schedule.sql, 30_define.sql, 50_api.sql,
-- 60_load.sql): schedule validation, ownership and reassignment, retention.

-- pgetl validates cron schedules itself (src/schedule.c).
CREATE FUNCTION pgetl._check_schedule(schedule text) RETURNS void
    AS 'MODULE_PATHNAME', 'pgetl_check_schedule_sql' LANGUAGE C;
COMMENT ON FUNCTION pgetl._check_schedule(text) IS
'internal: raises 22023 unless the text is a complete pg_cron schedule (5 fields, or a macro such as @daily)';
REVOKE ALL ON FUNCTION pgetl._check_schedule(text) FROM PUBLIC;
