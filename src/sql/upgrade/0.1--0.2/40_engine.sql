-- pgetl 0.1 -> 0.2: the engine (src/sql/40_engine.sql).
-- New: pgetl._retryable (errors retries cannot fix are not retried),
-- pgetl._close_retries (a stopped run leaves no task up_for_retry),
-- pgetl._connect_error (why a task worker could not connect).
-- Changed: _recover, _stop_run (tasks waiting for a retry end cancelled),
-- _task_fail (no retry of 28xxx/42501), _check_runnable (the owner needs
-- CONNECT), _resume_run (tasks added after the run join it).


--@create pgetl._retryable

--@create pgetl._close_retries

--@create pgetl._connect_error

--@function pgetl._recover

--@function pgetl._check_runnable

--@function pgetl._resume_run

-- (and when and in which worker a failed try ran)
DROP FUNCTION pgetl._task_fail(bigint, text, text, text, text, text);
--@create pgetl._task_fail

--@function pgetl._stop_run

-- internal functions run as the extension owner only (src/sql/99_privileges.sql)
REVOKE ALL ON FUNCTION pgetl._retryable(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._close_retries(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._connect_error(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._task_fail(bigint, text, text, text, text, text, timestamptz, integer) FROM PUBLIC;
