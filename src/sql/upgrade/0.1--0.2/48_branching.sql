-- Skips and branching (issue 10): the task kinds and trigger rules become
-- catalog tables (pgetl.task_kind, pgetl.trigger_rule) that pgetl.task
-- references instead of CHECK lists, with the kinds branch and
-- short_circuit and the rules one_done, all_skipped,
-- all_done_min_one_success and all_done_setup_success; a try that calls
-- pgetl_skip() goes from queued to skipped.
CREATE TABLE pgetl.task_kind (
    kind            text PRIMARY KEY,
    position        integer NOT NULL UNIQUE,
    needs_command   boolean NOT NULL,
    description     text NOT NULL
);
COMMENT ON TABLE pgetl.task_kind IS 'the kinds of task pgetl runs (pgetl_add_task(kind => ...))';
INSERT INTO pgetl.task_kind (kind, position, needs_command, description) VALUES
    ('sql', 1, true, 'SQL statements, in one transaction'),
    ('check', 2, true, 'a data-quality query: first column true, or the task fails'),
    ('load', 3, false, 'a validated CSV load (config: load, source)'),
    ('export', 4, true, 'COPY (command) TO a server file as CSV (config: path, header)'),
    ('branch', 5, true, 'a query naming the direct downstream tasks to follow; the others are skipped'),
    ('short_circuit', 6, true, 'a query whose first column, false or NULL, skips everything downstream');

CREATE TABLE pgetl.trigger_rule (
    rule            text PRIMARY KEY,
    position        integer NOT NULL UNIQUE,
    description     text NOT NULL
);
COMMENT ON TABLE pgetl.trigger_rule IS 'Airflow''s trigger rules pgetl knows (pgetl_add_task(trigger_rule => ...)), decided by pgetl._trigger_decision';
INSERT INTO pgetl.trigger_rule (rule, position, description) VALUES
    ('all_success', 1, 'all upstream succeeded'),
    ('all_failed', 2, 'all upstream failed'),
    ('all_done', 3, 'all upstream finished'),
    ('one_success', 4, 'one upstream succeeded'),
    ('one_failed', 5, 'one upstream failed'),
    ('none_failed', 6, 'all upstream finished, none failed'),
    ('none_failed_min_one_success', 7, 'all upstream finished, none failed, one succeeded'),
    ('none_skipped', 8, 'all upstream finished, none skipped'),
    ('always', 9, 'at once'),
    ('one_done', 10, 'one upstream succeeded or failed'),
    ('all_skipped', 11, 'all upstream skipped'),
    ('all_done_min_one_success', 12, 'all upstream finished, one succeeded'),
    ('all_done_setup_success', 13, 'all upstream finished (setup tasks: as all_done)');

ALTER TABLE pgetl.task DROP CONSTRAINT task_kind_check,
    DROP CONSTRAINT task_trigger_rule_check,
    ADD FOREIGN KEY (kind) REFERENCES pgetl.task_kind,
    ADD FOREIGN KEY (trigger_rule) REFERENCES pgetl.trigger_rule;

INSERT INTO pgetl.task_state_transition (from_state, to_state) VALUES ('queued', 'skipped');

--@function pgetl._trigger_decision
--@create pgetl._task_skip
--@create pgetl._skip_tasks
--@create pgetl._task_branch
--@create pgetl._task_short_circuit

--@create @extschema@.pgetl_skip
COMMENT ON FUNCTION @extschema@.pgetl_skip(text) IS
'inside a task: ends the task skipped (its work rolls back, it is not retried) with the reason; downstream tasks follow their trigger rules';
