-- Code health (issue 15): pgetl._schedule_of is unused since
-- pgetl_drop_pipeline reads the cron job with pgetl_schedule_lookup
-- (src/schedule.c: pgetl._unschedule_prepare).
DROP FUNCTION pgetl._schedule_of(text);
