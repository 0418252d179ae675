-- Retries, backoff, timeouts, cancel and resume.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
RESET client_min_messages;
CREATE EXTENSION pgetl;
\pset null '<null>'

-- A task that fails twice, then succeeds: a sequence is not rolled back.
CREATE SEQUENCE attempts;
SELECT pgetl_create_pipeline('flaky');
SELECT pgetl_add_task('flaky', 'extract',
    $$SELECT 1 / CASE WHEN nextval('attempts') < 3 THEN 0 ELSE 1 END AS ok$$,
    retries => 3, retry_delay => '50 milliseconds');
SELECT pgetl_add_task('flaky', 'after', 'SELECT 1', '{extract}');
SELECT pgetl_run('flaky');
-- one row per try
SELECT task, try_number, state, error, sqlstate, finished_at IS NOT NULL AS finished
  FROM pgetl.task_run ORDER BY task, try_number;
-- each retry waited at least retry_delay after the failed try
SELECT bool_and(n.scheduled_at - p.finished_at >= '50 milliseconds') AS waited
  FROM pgetl.task_run p JOIN pgetl.task_run n
    ON n.task = p.task AND n.run_id = p.run_id AND n.try_number = p.try_number + 1;
SELECT state, tasks_success, tasks_up_for_retry, tasks_failed FROM pgetl.pipeline_run;

-- Out of retries: the run fails and says so.
SELECT setval('attempts', 1, false);
SELECT pgetl_create_pipeline('flakier');
SELECT pgetl_add_task('flakier', 'extract',
    $$SELECT 1 / CASE WHEN nextval('attempts') < 10 THEN 0 ELSE 1 END$$,
    retries => 1, retry_delay => '0');
SELECT pgetl_run('flakier');
SELECT task, try_number, state FROM pgetl.task_run WHERE pipeline = 'flakier' ORDER BY try_number;

-- Exponential backoff doubles the delay per try, up to max_retry_delay.
SELECT pgetl_add_task('flakier', 'backoff', 'SELECT 1', retry_delay => '10 seconds',
                      retry_exponential_backoff => true, max_retry_delay => '1 minute');
SELECT n AS failed_try, pgetl._retry_delay(t, n) AS delay
  FROM pgetl.task t, generate_series(1, 5) n WHERE t.name = 'backoff';

-- Timeout: statement_timeout is set from the task's timeout.
SELECT pgetl_create_pipeline('slow');
SELECT pgetl_add_task('slow', 'sleepy', 'SELECT pg_sleep(10)', timeout => '300 milliseconds');
SELECT pgetl_add_task('slow', 'show', 'SHOW statement_timeout', timeout => '2 minutes');
SELECT pgetl_run('slow');
SELECT task, state, error, sqlstate, duration < '5 seconds' AS stopped_early, result
  FROM pgetl.task_run WHERE pipeline = 'slow' ORDER BY task;

-- Cancel: the worker is terminated, unfinished tasks become cancelled.
SELECT pgetl_create_pipeline('long', max_parallel => 2);
SELECT pgetl_add_task('long', 'a', 'SELECT pg_sleep(60)');
SELECT pgetl_add_task('long', 'b', 'SELECT 1');
SELECT pgetl_add_task('long', 'c', 'SELECT 1', '{a}');
SELECT pgetl_run('long', wait => false) AS long_run \gset
-- wait until 'a' runs
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXIT WHEN EXISTS (SELECT FROM pgetl.task_run WHERE pipeline = 'long' AND task = 'a' AND state = 'running')
              AND EXISTS (SELECT FROM pgetl.task_run WHERE pipeline = 'long' AND task = 'b' AND state = 'success');
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT pgetl_cancel(:long_run);
SELECT state, reason, tasks_cancelled, tasks_success FROM pgetl.pipeline_run WHERE run_id = :long_run;
SELECT task, state, error, duration < '30 seconds' AS stopped_early FROM pgetl.task_run WHERE run_id = :long_run ORDER BY task;
DO $$
BEGIN
    FOR i IN 1..100 LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type IN ('pgetl scheduler', 'pgetl task')
                                 AND state <> 'idle');
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
-- the scheduler and the task workers may stay, idle (and warm)
SELECT count(*) AS leftover_workers FROM pg_stat_activity
 WHERE backend_type IN ('pgetl scheduler', 'pgetl task') AND state <> 'idle';
SELECT count(*) AS tasks_running FROM pgetl._running_tasks();
SELECT pgetl_cancel(:long_run);

-- Resume: the cancelled tasks run again (a new try each), successful ones are kept.
UPDATE pgetl.task SET command = 'SELECT 2 AS fixed' WHERE name = 'a';
SELECT pgetl_resume(:long_run) = :long_run AS same_run;
SELECT task, try_number, state, result FROM pgetl.task_run WHERE run_id = :long_run ORDER BY task, try_number;
SELECT state, resumed, tasks_total, tasks_success, tasks_cancelled FROM pgetl.pipeline_run WHERE run_id = :long_run;

-- Resume after a failure: fix the cause, resume, done.
SELECT pgetl_create_pipeline('needs_table');
SELECT pgetl_add_task('needs_table', 'prepare', 'SELECT 1 AS prepared');
SELECT pgetl_add_task('needs_table', 'fill', 'INSERT INTO needed VALUES (1)', '{prepare}', retries => 0);
SELECT pgetl_add_task('needs_table', 'report', 'SELECT count(*) AS n FROM needed', '{fill}');
SELECT pgetl_run('needs_table') AS failed_run;
SELECT run_id AS failed_run FROM pgetl.pipeline_run WHERE pipeline = 'needs_table' \gset
SELECT task, try_number, state, sqlstate FROM pgetl.task_run WHERE run_id = :failed_run ORDER BY task, try_number;
CREATE TABLE needed (x int);
SELECT pgetl_resume(:failed_run) = :failed_run AS resumed;
SELECT task, try_number, state, result FROM pgetl.task_run WHERE run_id = :failed_run ORDER BY task, try_number;
SELECT state, resumed, reason FROM pgetl.pipeline_run WHERE run_id = :failed_run;

-- A worker that dies (terminated by someone else) fails its try with the
-- reason, and is retried.
SELECT pgetl_create_pipeline('victim');
SELECT pgetl_add_task('victim', 'w', 'SELECT pg_sleep(CASE WHEN nextval(''attempts'') < 100 THEN 60 ELSE 0 END)',
                      retries => 1, retry_delay => '0');
SELECT setval('attempts', 99, false);
SELECT pgetl_run('victim', wait => false) AS victim_run \gset
DO $$
DECLARE
    p int;
BEGIN
    FOR i IN 1..200 LOOP
        -- running, and past its nextval (a worker shows a try running from
        -- the moment it takes it, before the task's first statement)
        SELECT pid INTO p FROM pgetl.task_run WHERE pipeline = 'victim' AND state = 'running'
           AND (SELECT is_called FROM attempts);
        EXIT WHEN p IS NOT NULL;
        PERFORM pg_sleep(0.05);
    END LOOP;
    PERFORM pg_terminate_backend(p);
    FOR i IN 1..200 LOOP
        EXIT WHEN EXISTS (SELECT FROM pgetl.pipeline_run WHERE pipeline = 'victim' AND state <> 'running');
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT task, try_number, state, error FROM pgetl.task_run WHERE run_id = :victim_run ORDER BY try_number;
SELECT state FROM pgetl.pipeline_run WHERE run_id = :victim_run;
