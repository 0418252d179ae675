-- Retention of history (src/maintenance.c): runs, task runs, loads and
-- rejects older than pgetl.history_retention are deleted in the background,
-- in batches, by a maintenance worker per database; pgetl_purge_history and
-- pgetl_purge_loads do the same on demand.

-- A load's run: the run is the load's context, and the load is part of
-- that run's history (deleted with it by the purge functions); a run
-- deleted otherwise leaves the load with run_id NULL.  (pgetl.reject_record
-- keeps a copy of its load's run_id; rejects are deleted with their load.)
ALTER TABLE pgetl.load_record ADD FOREIGN KEY (run_id) REFERENCES pgetl.run_record ON DELETE SET NULL;
CREATE INDEX ON pgetl.load_record (run_id);
CREATE INDEX ON pgetl.load_record (finished_at);

-- One batch of the background purge, as the extension owner: deletes up to
-- p_batch rows of one kind of history older than p_older_than, oldest
-- kinds first (the rejects of old loads, old loads, the task runs of old
-- runs, old runs); returns the number of rows deleted (0: nothing left).
CREATE FUNCTION pgetl._purge_expired(p_older_than interval, p_batch integer) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cutoff timestamptz := clock_timestamp() - p_older_than;
    n bigint;
BEGIN
    IF p_older_than IS NULL OR p_older_than <= '0' THEN
        RETURN 0;               -- keep forever
    END IF;
    DELETE FROM pgetl.reject_record WHERE reject_id IN (
        SELECT j.reject_id FROM pgetl.load_record l JOIN pgetl.reject_record j USING (load_id)
         WHERE l.finished_at < cutoff LIMIT p_batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN RETURN n; END IF;
    DELETE FROM pgetl.load_record WHERE load_id IN (
        SELECT load_id FROM pgetl.load_record WHERE finished_at < cutoff LIMIT p_batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN RETURN n; END IF;
    DELETE FROM pgetl.task_run_record WHERE task_run_id IN (
        SELECT t.task_run_id FROM pgetl.run_record r JOIN pgetl.task_run_record t USING (run_id)
         WHERE r.state IN ('success', 'failed', 'cancelled') AND r.finished_at < cutoff LIMIT p_batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN RETURN n; END IF;
    DELETE FROM pgetl.run_record WHERE run_id IN (
        SELECT run_id FROM pgetl.run_record
         WHERE state IN ('success', 'failed', 'cancelled') AND finished_at < cutoff LIMIT p_batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION pgetl._purge_expired(interval, integer) IS
'internal: one batch of the background purge of history older than pgetl.history_retention; returns the rows deleted';

CREATE FUNCTION pgetl._purge_loads(caller oid, p_older_than interval) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    IF p_older_than IS NULL OR p_older_than < '0' THEN
        RAISE EXCEPTION 'older_than must be a non-negative interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- rejects go with their load (ON DELETE CASCADE)
    DELETE FROM pgetl.load_record
     WHERE finished_at < clock_timestamp() - p_older_than
       AND pg_has_role(caller, owner, 'MEMBER');
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION pgetl._purge_loads(oid, interval) IS
'internal: pgetl_purge_loads';

CREATE FUNCTION @extschema@.pgetl_purge_loads(older_than interval DEFAULT '30 days')
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_purge_loads(interval) IS
'deletes loads (load history and their rejects) that finished more than the interval ago, of load specs you are a member of the owner of; returns the number of loads deleted';
