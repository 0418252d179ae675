-- Manual overrides (issue 10): notes on runs and task runs, tasks marked by
-- hand (pgetl_set_task_state: a finished try of a finished run may become
-- success, failed or skipped, with who and when), and pgetl_clear, which
-- resumes a run (also a successful one) re-running only the tasks it names
-- (_resume_run gains p_clear and p_downstream: the upgrade step of
-- 40_engine.sql already created its new form).
-- (the columns: 24_notes.sql)
INSERT INTO pgetl.run_state_transition (from_state, to_state) VALUES ('success', 'running');
INSERT INTO pgetl.task_state_transition (from_state, to_state)
SELECT f, t FROM unnest('{success,failed,upstream_failed,skipped,cancelled}'::pgetl.task_state[]) f,
                 unnest('{success,failed,skipped}'::pgetl.task_state[]) t
 WHERE f <> t;

DROP FUNCTION pgetl._resume_run(oid, bigint, integer, text[]);
--@create pgetl._set_task_state
--@create pgetl._set_note

--@create @extschema@.pgetl_clear
COMMENT ON FUNCTION @extschema@.pgetl_clear(bigint, text[], boolean, boolean) IS
're-runs tasks of a finished run (also a successful one), with their downstream tasks unless downstream is false; other tasks keep their state; returns the run id';
--@create @extschema@.pgetl_set_task_state
COMMENT ON FUNCTION @extschema@.pgetl_set_task_state(bigint, text, text, text) IS
'marks the latest try of a task of a finished run success, failed or skipped by hand, recording who and when (and the note); returns the state it had';
--@create @extschema@.pgetl_set_note
COMMENT ON FUNCTION @extschema@.pgetl_set_note(bigint, text, text) IS
'sets the note of a run (task NULL) or of the latest try of one of its tasks, shown in pgetl.pipeline_run and pgetl.task_run; NULL removes it';
