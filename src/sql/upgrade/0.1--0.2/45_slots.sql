-- Issue 9: a try queued when no background worker slot was free stays
-- queued and counts against max_parallel; pgetl._schedule() returned the
-- queued tries only while max_parallel left room, so with max_parallel 1
-- it was never launched and its run never ended.  It now returns every
-- queued try (src/sql/40_engine.sql).

-- One step of the scheduler: schedule due retries, apply trigger rules,
-- queue what may start (up to max_parallel), and finish the run when every
-- task is done.  Returns the task runs to launch: all queued ones.
--@function pgetl._schedule
