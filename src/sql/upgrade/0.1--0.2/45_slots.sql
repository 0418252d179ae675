-- Issue 9: a try queued when no background worker slot was free stays
-- queued and counts against max_parallel; pgetl._schedule() returned the
-- queued tries only while max_parallel left room, so with max_parallel 1
-- it was never launched and its run never ended.  It now returns every
-- queued try (src/sql/40_engine.sql).

-- Engine v2 (src/pool.c): every try that may run is queued, and the
-- scheduler hands at most max_parallel (a new OUT column) to task workers
-- at a time.
--@create pgetl._failure_report
REVOKE ALL ON FUNCTION pgetl._failure_report(bigint) FROM PUBLIC;
-- (0.2 also renames it pgetl._dag_step: src/schedule.c is the pg_cron code)
DROP FUNCTION pgetl._schedule(bigint);
--@create pgetl._dag_step
REVOKE ALL ON FUNCTION pgetl._dag_step(bigint) FROM PUBLIC;
