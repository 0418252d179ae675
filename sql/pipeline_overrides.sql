-- Manual overrides, with Airflow's meanings: mark a task's state by hand
-- (pgetl_set_task_state), clear tasks of a finished run (pgetl_clear), and
-- notes on runs and task runs (pgetl_set_note).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
DROP TABLE IF EXISTS ov_log;
DROP ROLE IF EXISTS ov_other;
RESET client_min_messages;
CREATE EXTENSION pgetl;
-- errors as SQLSTATE, message, detail and hint (no source location: it differs between versions)
\i test/setup/regress.sql
CREATE TABLE ov_log (task text);
CREATE TABLE ov_switch (ok boolean);
INSERT INTO ov_switch VALUES (false);
CREATE ROLE ov_other;

-- extract fails; load and report are upstream_failed; the run fails
SELECT pgetl_create_pipeline('ov');
SELECT pgetl_add_task('ov', 'extract', $$INSERT INTO ov_log VALUES ('extract'); SELECT 1 / (SELECT ok::int FROM ov_switch)$$);
SELECT pgetl_add_task('ov', 'load', $$INSERT INTO ov_log VALUES ('load')$$, '{extract}');
SELECT pgetl_add_task('ov', 'report', $$INSERT INTO ov_log VALUES ('report')$$, '{load}');
SELECT pgetl_run('ov', wait => false) AS run_id \gset
DO $$ BEGIN
    WHILE EXISTS (SELECT FROM pgetl.pipeline_run WHERE pipeline = 'ov' AND state = 'running') LOOP
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT state FROM pgetl.pipeline_run WHERE run_id = :run_id;

-- mark extract success by hand (it was fixed outside pgetl), then clear
-- its downstream tasks: they run, the run succeeds
SELECT pgetl_set_task_state(:run_id, 'extract', 'success', 'extracted by hand, ticket 42');
SELECT task, try_number, state, note, marked_by = current_user AS by_me, marked_at IS NOT NULL AS marked,
       finished_at IS NOT NULL AS finished
  FROM pgetl.task_run WHERE run_id = :run_id ORDER BY task, try_number;
SELECT state FROM pgetl.pipeline_run WHERE run_id = :run_id;
SELECT pgetl_clear(:run_id, ARRAY['load']) = :run_id AS cleared;
SELECT task, try_number, state FROM pgetl.task_run WHERE run_id = :run_id ORDER BY task, try_number;
SELECT state FROM pgetl.pipeline_run WHERE run_id = :run_id;
SELECT task, count(*) FROM ov_log GROUP BY task ORDER BY task;
TRUNCATE ov_log;

-- a successful run can be cleared (pgetl_resume refuses it): only report,
-- without its downstream (it has none) ...
SELECT pgetl_clear(:run_id, ARRAY['report'], downstream => false) = :run_id AS cleared;
SELECT * FROM ov_log ORDER BY task;
TRUNCATE ov_log;
-- ... and load without downstream: report keeps its try
SELECT pgetl_clear(:run_id, ARRAY['load'], downstream => false) = :run_id AS cleared;
SELECT task, max(try_number) AS tries FROM pgetl.task_run WHERE run_id = :run_id GROUP BY task ORDER BY task;
SELECT * FROM ov_log ORDER BY task;
TRUNCATE ov_log;
-- clearing does not re-run failed tasks elsewhere (pgetl_resume does):
-- mark load failed, clear report: report is upstream_failed, the run fails
SELECT pgetl_set_task_state(:run_id, 'load', 'failed', 'bad data found later');
SELECT pgetl_clear(:run_id, ARRAY['report'], wait => false) = :run_id AS cleared;
DO $$ BEGIN
    WHILE EXISTS (SELECT FROM pgetl.pipeline_run WHERE pipeline = 'ov' AND state = 'running') LOOP
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT task, state FROM pgetl.task_run t
 WHERE run_id = :run_id AND try_number = (SELECT max(try_number) FROM pgetl.task_run u WHERE u.run_id = t.run_id AND u.task = t.task)
 ORDER BY task;
SELECT state FROM pgetl.pipeline_run WHERE run_id = :run_id;
SELECT count(*) AS nothing_ran FROM ov_log;
-- mark skipped
SELECT pgetl_set_task_state(:run_id, 'report', 'skipped');
SELECT state, marked_by IS NOT NULL AS marked FROM pgetl.task_run WHERE run_id = :run_id AND task = 'report'
 ORDER BY try_number DESC LIMIT 1;

-- notes on the run and on a task run
SELECT pgetl_set_note(:run_id, NULL, 'rerun after the outage');
SELECT pgetl_set_note(:run_id, 'load', 'checked by Ann');
SELECT note FROM pgetl.pipeline_run WHERE run_id = :run_id;
SELECT task, note FROM pgetl.task_run WHERE run_id = :run_id AND note IS NOT NULL ORDER BY task, try_number;
SELECT pgetl_set_note(:run_id, NULL, NULL);
SELECT note IS NULL AS removed FROM pgetl.pipeline_run WHERE run_id = :run_id;

-- bad inputs
\x on
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_set_task_state(%s, 'load', 'running')$q$, :run_id));
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_set_task_state(%s, 'load', NULL)$q$, :run_id));
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_set_task_state(%s, 'nope', 'success')$q$, :run_id));
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_set_task_state(%s, 'load', 'failed')$q$, :run_id));
SELECT * FROM pg_temp.try($q$SELECT pgetl_set_task_state(-1, 'load', 'success')$q$);
SELECT * FROM pg_temp.try($q$SELECT pgetl_set_note(-1, NULL, 'x')$q$);
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_set_note(%s, 'nope', 'x')$q$, :run_id));
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_clear(%s, '{}')$q$, :run_id));
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_clear(%s, NULL)$q$, :run_id));
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_clear(%s, ARRAY['load'], downstream => NULL)$q$, :run_id));
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_clear(%s, ARRAY['nope'])$q$, :run_id));
SELECT * FROM pg_temp.try($q$SELECT pgetl_clear(NULL, ARRAY['load'])$q$);
\x off
-- a running run can be neither marked nor cleared
SELECT pgetl_create_pipeline('slow');
SELECT pgetl_add_task('slow', 'sleep', 'SELECT pg_sleep(30)');
SELECT pgetl_run('slow', wait => false) AS slow_id \gset
\x on
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_set_task_state(%s, 'sleep', 'success')$q$, :slow_id));
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_clear(%s, ARRAY['sleep'])$q$, :slow_id));
\x off
SELECT pgetl_cancel(:slow_id);
-- another role may not touch the run
SET ROLE ov_other;
\x on
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_set_task_state(%s, 'load', 'success')$q$, :run_id));
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_set_note(%s, NULL, 'mine')$q$, :run_id));
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_clear(%s, ARRAY['load'])$q$, :run_id));
\x off
RESET ROLE;

-- a successful run: pgetl_resume points at pgetl_clear
SELECT pgetl_create_pipeline('fine');
SELECT pgetl_add_task('fine', 't', 'SELECT 1');
SELECT pgetl_run('fine') AS fine_id \gset
\x on
SELECT * FROM pg_temp.try(format($q$SELECT pgetl_resume(%s)$q$, :fine_id));
\x off
SELECT pgetl_clear(:fine_id, ARRAY['t']) = :fine_id AS cleared;
SELECT task, try_number, state FROM pgetl.task_run WHERE run_id = :fine_id ORDER BY try_number;

-- the changes only pgetl_set_task_state makes
SELECT state FROM pgetl.task_state_transition t JOIN LATERAL (SELECT t.from_state || ' -> ' || t.to_state AS state) x ON true
 WHERE t.from_state IN ('success', 'failed', 'upstream_failed', 'skipped', 'cancelled') ORDER BY t.from_state, t.to_state;
DROP TABLE ov_log, ov_switch;
DROP ROLE ov_other;
