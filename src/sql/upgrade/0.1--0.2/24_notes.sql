-- Notes on runs and task runs, and who marked a task's state by hand and
-- when (pgetl_set_note, pgetl_set_task_state: 49_overrides.sql); the
-- history views show them (98_views.sql).
ALTER TABLE pgetl.run_record ADD COLUMN note text;
ALTER TABLE pgetl.task_run_record ADD COLUMN note text, ADD COLUMN marked_by text,
    ADD COLUMN marked_at timestamptz;
