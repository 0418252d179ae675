-- Operations (0.2): schedule validation, owners that were dropped and
-- reassignment, DROP EXTENSION removing cron jobs (src/ownership.c),
-- exports renamed at commit (no SQL change), retention of history.
-- Fresh installs: src/sql/30_define.sql, 50_api.sql, 70_schedule.sql,
-- 80_retention.sql.

-- pgetl validates cron schedules itself (src/schedule.c).
--@create pgetl._check_schedule
COMMENT ON FUNCTION pgetl._check_schedule(text) IS
'internal: raises 22023 unless the text is a complete pg_cron schedule (5 fields, or a macro such as @daily)';

-- Owners: a dropped owner is named; reassignment.
--@function pgetl._check_login
-- What a role owns in pgetl, in this database (NULL: nothing), for the
-- DROP ROLE guard and for messages.
--@create pgetl._owned_by

-- May caller give these pipelines to new_owner?  Like ALTER ... OWNER:
-- the caller must be a member of the new owner (superusers are); the new
-- owner must exist and log in (tasks run as it), have the privileges of
-- pg_write_server_files if a pipeline exports, and no pipeline may have an
-- active run.
--@create pgetl._check_new_owner

-- pgetl_reassign_owned(): everything old_owner owns in pgetl, in this
-- database, becomes new_owner's: pipelines, load specs, staged data, and
-- the history (runs, task runs, loads, rejects) that the old owner could
-- see.  Returns the pipelines whose cron job must move (scheduled ones),
-- and counts.  Privileges as REASSIGN OWNED: membership in both roles
-- (superusers: always; only they can name a dropped role).
--@create pgetl._reassign_owned

--@function pgetl._purge_history

COMMENT ON FUNCTION pgetl._check_login(oid, text) IS
'internal: raises an error unless the role exists (42704 naming the dropped role''s OID) and can log in (28000)';

COMMENT ON FUNCTION pgetl._owned_by(oid) IS
'internal: what a role owns in pgetl in this database, as text (NULL: nothing); for the DROP ROLE guard';

COMMENT ON FUNCTION pgetl._check_new_owner(oid, oid, bigint[]) IS
'internal: may the caller give these pipelines to the new owner';

COMMENT ON FUNCTION pgetl._reassign_owned(oid, oid, oid) IS
'internal: pgetl_reassign_owned; returns the counts and the scheduled pipelines whose cron jobs must move';



--@create @extschema@.pgetl_reassign_owned
COMMENT ON FUNCTION @extschema@.pgetl_reassign_owned(regrole, regrole) IS
'like REASSIGN OWNED, for pgetl in this database: the pipelines (with their cron jobs), load specs, staged data and history of old_role (which may be a dropped role, given by OID) become new_role''s; returns the number of pipelines, load specs and staged data sets reassigned';

COMMENT ON FUNCTION @extschema@.pgetl_purge_history(interval) IS
'deletes finished runs (with their task runs, loads and rejects) that ended more than the interval ago, of pipelines you are a member of the owner of; returns the number of runs deleted';


-- Cron jobs of a new owner, and of a dropped extension.
-- A scheduled pipeline's cron job, to move it to a new owner (no row when
-- the pipeline is not scheduled).  The caller checked the rights.
--@create pgetl._schedule_job

-- DROP EXTENSION pgetl: the cron jobs to remove (src/ownership.c).
--@create pgetl._all_schedules

COMMENT ON FUNCTION pgetl._schedule_job(text) IS
'internal: the cron job of a scheduled pipeline, to recreate it for a new owner';

COMMENT ON FUNCTION pgetl._all_schedules() IS
'internal: every cron job of this database''s pipelines, removed by DROP EXTENSION pgetl';


-- Retention (src/sql/80_retention.sql).  Loads whose run was purged
-- before 0.2 lose their run_id, so that the foreign key holds.
UPDATE pgetl.load_record l SET run_id = NULL
 WHERE run_id IS NOT NULL AND NOT EXISTS (SELECT FROM pgetl.run_record r WHERE r.run_id = l.run_id);
ALTER TABLE pgetl.load_record ADD FOREIGN KEY (run_id) REFERENCES pgetl.run_record ON DELETE SET NULL;
CREATE INDEX ON pgetl.load_record (run_id);
CREATE INDEX ON pgetl.load_record (finished_at);

-- One batch of the background purge, as the extension owner: deletes up to
-- p_batch rows of one kind of history older than p_older_than, oldest
-- kinds first (the rejects of old loads, old loads, the task runs of old
-- runs, old runs); returns the number of rows deleted (0: nothing left).
--@create pgetl._purge_expired
COMMENT ON FUNCTION pgetl._purge_expired(interval, integer) IS
'internal: one batch of the background purge of history older than pgetl.history_retention; returns the rows deleted';

--@create pgetl._purge_loads
COMMENT ON FUNCTION pgetl._purge_loads(oid, interval) IS
'internal: pgetl_purge_loads';

--@create @extschema@.pgetl_purge_loads
COMMENT ON FUNCTION @extschema@.pgetl_purge_loads(interval) IS
'deletes loads (load history and their rejects) that finished more than the interval ago, of load specs you are a member of the owner of; returns the number of loads deleted';

REVOKE ALL ON FUNCTION pgetl._check_schedule(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._owned_by(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._check_new_owner(oid, oid, bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._reassign_owned(oid, oid, oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._schedule_job(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._all_schedules() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._purge_expired(interval, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgetl._purge_loads(oid, interval) FROM PUBLIC;
