-- Engine v2: a pool of warm task workers (src/pool.c, src/task_worker.c).
-- A try costs one commit: the worker reads its task without writing
-- (_task_start replaces _task_begin, which marked it running), and records
-- its success, with when and where it ran, in the transaction of the
-- task's work, queueing the downstream tasks it releases (_task_succeed).
DROP FUNCTION pgetl._task_begin(bigint, integer);
-- (_task_start, which also reads the task's callbacks and its mapping, is
-- created by 94_task_start.sql, once their columns exist)
DROP FUNCTION pgetl._task_succeed(bigint, jsonb, bigint);
--@create pgetl._task_succeed
-- pgetl.notify = runs: no NOTIFY per task state change
--@function pgetl._task_run_after
-- room for HOT updates of a try's row (src/sql/20_history.sql)
ALTER TABLE pgetl.task_run_record SET (fillfactor = 50);
REVOKE ALL ON FUNCTION pgetl._task_succeed(bigint, jsonb, bigint, timestamptz, integer) FROM PUBLIC;
