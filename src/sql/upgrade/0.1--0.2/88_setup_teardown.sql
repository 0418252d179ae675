-- Setup and teardown tasks (issue 10 §2, Airflow >= 2.7): pgetl.task gets
-- setup, teardown and on_failure_fail_run (the arguments of
-- pgetl_add_task, whose new form 81_signatures.sql creates); a teardown
-- task runs by all_done_setup_success, which now reads the upstream setup
-- tasks (pgetl._trigger_decision gains their counts: 48_branching.sql
-- already created its new form, the 0.1 form is dropped here); the run's
-- outcome leaves teardown tasks out (pgetl._dag_step, from 45_slots.sql);
-- resume and clear re-run the setup and teardown tasks of a re-run task
-- (pgetl._resume_run, from 49_overrides.sql).  pgetl.tasks shows the new
-- columns (98_views.sql).
ALTER TABLE pgetl.task
    ADD COLUMN setup boolean NOT NULL DEFAULT false,
    ADD COLUMN teardown boolean NOT NULL DEFAULT false,
    ADD COLUMN on_failure_fail_run boolean NOT NULL DEFAULT false;

UPDATE pgetl.trigger_rule
   SET description = 'all upstream finished, and one upstream setup task succeeded if it has any (the rule of teardown tasks)'
 WHERE rule = 'all_done_setup_success';

DROP FUNCTION pgetl._trigger_decision(text, bigint, bigint, bigint, bigint, bigint);
--@function pgetl._trigger_decision
--@create pgetl._indirect_setups
--@comment pgetl._indirect_setups
--@function pgetl._evaluate

--@create pgetl._check_setup_teardown
--@comment pgetl._check_setup_teardown
--@create pgetl._with_setups_teardowns
--@comment pgetl._with_setups_teardowns

