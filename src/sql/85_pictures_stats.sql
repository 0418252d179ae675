-- Statistics and metrics (issue 12).  Both read the history as the calling
-- role: the statistics through the user views (pgetl.task_run,
-- pgetl.pipeline_run), so a role sees the pipelines whose owner it is a
-- member of; the metrics view also shows everything to members of
-- pg_read_all_stats (a monitoring role with pg_monitor), as
-- pg_stat_activity does.

-- Per task over a lookback (NULL: all history): the task instances (one per
-- task and run) whose first try was scheduled in the lookback.
CREATE FUNCTION @extschema@.pgetl_task_stats(lookback interval DEFAULT '30 days')
RETURNS TABLE (pipeline text, task text, runs bigint, successes bigint, failures bigint,
               success_rate double precision, p50_duration interval, p95_duration interval,
               max_duration interval, mean_tries numeric, last_state text,
               last_run_id bigint, last_at timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH tries AS (
        SELECT t.run_id, t.pipeline, t.task, t.try_number, t.state, t.duration,
               coalesce(t.finished_at, t.started_at, t.queued_at, t.scheduled_at) AS at,
               min(t.scheduled_at) OVER (PARTITION BY t.run_id, t.task) AS first_scheduled
          FROM pgetl.task_run t
         WHERE t.map_index IS NULL  -- a mapped task: its own tries, not its instances'
    ), inst AS (
        SELECT DISTINCT ON (run_id, task) run_id, pipeline, task, try_number, state, at
          FROM tries
         WHERE lookback IS NULL OR first_scheduled >= pg_catalog.now() - lookback
         ORDER BY run_id, task, try_number DESC
    ), agg AS (
        SELECT i.pipeline, i.task, count(*) AS runs,
               count(*) FILTER (WHERE i.state = 'success') AS successes,
               count(*) FILTER (WHERE i.state IN ('failed', 'upstream_failed')) AS failures,
               count(*) FILTER (WHERE i.state IN ('success', 'failed', 'upstream_failed',
                                                  'skipped', 'cancelled')) AS finished,
               round(avg(i.try_number), 2) AS mean_tries
          FROM inst i GROUP BY i.pipeline, i.task
    ), dur AS (
        SELECT t.pipeline, t.task,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY t.duration) AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY t.duration) AS p95,
               max(t.duration) AS mx
          FROM tries t
         WHERE t.duration IS NOT NULL
           AND (lookback IS NULL OR t.first_scheduled >= pg_catalog.now() - lookback)
         GROUP BY t.pipeline, t.task
    ), last AS (
        SELECT DISTINCT ON (i.pipeline, i.task) i.pipeline, i.task, i.state, i.run_id, i.at
          FROM inst i ORDER BY i.pipeline, i.task, i.run_id DESC
    )
    SELECT a.pipeline, a.task, a.runs, a.successes, a.failures,
           CASE WHEN a.finished > 0 THEN a.successes::double precision / a.finished END,
           d.p50, d.p95, d.mx, a.mean_tries, l.state, l.run_id, l.at
      FROM agg a
      JOIN last l ON l.pipeline = a.pipeline AND l.task = a.task
      LEFT JOIN dur d ON d.pipeline = a.pipeline AND d.task = a.task
     ORDER BY a.pipeline, a.task
$$;
COMMENT ON FUNCTION @extschema@.pgetl_task_stats(interval) IS
'per pipeline and task, over the task instances first scheduled within lookback (NULL: all history) that you may see: runs, successes, failures, success rate of the finished ones, p50/p95/max duration of the tries that ran, mean tries, and the latest state';

-- Per pipeline over a lookback (NULL: all history): the runs queued in it.
CREATE FUNCTION @extschema@.pgetl_pipeline_stats(lookback interval DEFAULT '30 days')
RETURNS TABLE (pipeline text, runs bigint, successes bigint, failures bigint,
               success_rate double precision, p50_duration interval, p95_duration interval,
               max_duration interval, mean_tries numeric, last_state text,
               last_run_id bigint, last_at timestamptz, last_success_at timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH runs AS (
        SELECT r.run_id, r.pipeline, r.state, r.duration,
               coalesce(r.finished_at, r.started_at, r.queued_at) AS at, r.finished_at
          FROM pgetl.pipeline_run r
         WHERE lookback IS NULL OR r.queued_at >= pg_catalog.now() - lookback
    ), tries AS (
        SELECT t.run_id, t.task, max(t.try_number) AS tries
          FROM pgetl.task_run t
         WHERE t.run_id IN (SELECT run_id FROM runs)
         GROUP BY t.run_id, t.task
    ), agg AS (
        SELECT r.pipeline, count(*) AS runs,
               count(*) FILTER (WHERE r.state = 'success') AS successes,
               count(*) FILTER (WHERE r.state = 'failed') AS failures,
               count(*) FILTER (WHERE r.state IN ('success', 'failed', 'cancelled')) AS finished,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY r.duration) AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY r.duration) AS p95,
               max(r.duration) AS mx,
               max(r.finished_at) FILTER (WHERE r.state = 'success') AS last_success_at
          FROM runs r GROUP BY r.pipeline
    ), mt AS (
        SELECT r.pipeline, round(avg(t.tries), 2) AS mean_tries
          FROM tries t JOIN runs r ON r.run_id = t.run_id GROUP BY r.pipeline
    ), last AS (
        SELECT DISTINCT ON (r.pipeline) r.pipeline, r.state, r.run_id, r.at
          FROM runs r ORDER BY r.pipeline, r.run_id DESC
    )
    SELECT a.pipeline, a.runs, a.successes, a.failures,
           CASE WHEN a.finished > 0 THEN a.successes::double precision / a.finished END,
           a.p50, a.p95, a.mx, m.mean_tries, l.state, l.run_id, l.at, a.last_success_at
      FROM agg a
      JOIN last l ON l.pipeline = a.pipeline
      LEFT JOIN mt m ON m.pipeline = a.pipeline
     ORDER BY a.pipeline
$$;
COMMENT ON FUNCTION @extschema@.pgetl_pipeline_stats(interval) IS
'per pipeline, over the runs queued within lookback (NULL: all history) that you may see: runs, successes, failures, success rate of the finished ones, p50/p95/max run duration, mean tries per task, the latest state and the latest success';

CREATE VIEW pgetl.task_stats AS
SELECT * FROM @extschema@.pgetl_task_stats('30 days');
COMMENT ON VIEW pgetl.task_stats IS 'pgetl_task_stats over the last 30 days: per task of the pipelines you may see';

CREATE VIEW pgetl.pipeline_stats AS
SELECT * FROM @extschema@.pgetl_pipeline_stats('30 days');
COMMENT ON VIEW pgetl.pipeline_stats IS 'pgetl_pipeline_stats over the last 30 days: per pipeline you may see';

-- Prometheus metrics, one row per sample (src/monitoring/postgres_exporter.yaml
-- turns them into postgres_exporter custom queries).
CREATE VIEW pgetl.metrics WITH (security_barrier) AS
WITH vis_run AS (
    SELECT r.run_id, r.pipeline_id, r.pipeline, r.state, r.finished_at
      FROM pgetl.run_record r
     WHERE pg_catalog.pg_has_role(r.owner, 'MEMBER')
        OR pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER')
), vis_pipeline AS (
    SELECT p.pipeline_id, p.name
      FROM pgetl.pipeline p
     WHERE pg_catalog.pg_has_role(p.owner, 'MEMBER')
        OR pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER')
), run_states(state) AS (
    SELECT pg_catalog.unnest(pg_catalog.enum_range(NULL::pgetl.run_state))
), task_states(state) AS (
    SELECT pg_catalog.unnest(pg_catalog.enum_range(NULL::pgetl.task_state))
), history_pipeline AS (
    SELECT DISTINCT pipeline FROM vis_run
)
SELECT 'pgetl_runs_count'::text AS metric,
       pg_catalog.jsonb_build_object('pipeline', h.pipeline, 'state', s.state) AS labels,
       (SELECT pg_catalog.count(*) FROM vis_run r
         WHERE r.pipeline OPERATOR(pg_catalog.=) h.pipeline
           AND r.state OPERATOR(pg_catalog.=) s.state)::double precision AS value
  FROM history_pipeline h CROSS JOIN run_states s
UNION ALL
SELECT 'pgetl_task_runs_count',
       pg_catalog.jsonb_build_object('pipeline', h.pipeline, 'state', s.state),
       coalesce(c.n, 0)::double precision
  FROM history_pipeline h CROSS JOIN task_states s
  LEFT JOIN (SELECT r.pipeline, t.state, pg_catalog.count(*) AS n
               FROM pgetl.task_run_record t JOIN vis_run r ON r.run_id OPERATOR(pg_catalog.=) t.run_id
              GROUP BY r.pipeline, t.state) c
    ON c.pipeline OPERATOR(pg_catalog.=) h.pipeline AND c.state OPERATOR(pg_catalog.=) s.state
UNION ALL
SELECT 'pgetl_active_runs', pg_catalog.jsonb_build_object('pipeline', p.name),
       (SELECT pg_catalog.count(*) FROM vis_run r
         WHERE r.pipeline_id OPERATOR(pg_catalog.=) p.pipeline_id
           AND r.state OPERATOR(pg_catalog.=) 'running')::double precision
  FROM vis_pipeline p
UNION ALL
SELECT 'pgetl_queued_tasks', pg_catalog.jsonb_build_object('pipeline', p.name),
       (SELECT pg_catalog.count(*) FROM vis_run r
          JOIN pgetl.task_run_record t ON t.run_id OPERATOR(pg_catalog.=) r.run_id
         WHERE r.pipeline_id OPERATOR(pg_catalog.=) p.pipeline_id
           AND r.state OPERATOR(pg_catalog.=) 'running' AND t.state OPERATOR(pg_catalog.=) 'queued')::double precision
  FROM vis_pipeline p
UNION ALL
SELECT 'pgetl_last_success_age_seconds', pg_catalog.jsonb_build_object('pipeline', p.name),
       pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.max(r.finished_at))
  FROM vis_pipeline p JOIN vis_run r ON r.pipeline_id OPERATOR(pg_catalog.=) p.pipeline_id
 WHERE r.state OPERATOR(pg_catalog.=) 'success'
 GROUP BY p.name
UNION ALL
SELECT m.metric, pg_catalog.jsonb_build_object('load', l.load_name),
       pg_catalog.sum(CASE m.metric WHEN 'pgetl_rows_loaded' THEN l.rows_loaded
                                    ELSE l.rows_rejected END)::double precision
  FROM pgetl.load_record l
 CROSS JOIN (VALUES ('pgetl_rows_loaded'), ('pgetl_rows_rejected')) m(metric)
 WHERE pg_catalog.pg_has_role(l.owner, 'MEMBER')
    OR pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER')
 GROUP BY m.metric, l.load_name;
COMMENT ON VIEW pgetl.metrics IS 'Prometheus samples (metric, labels, value) of the pipelines and loads you may see (members of pg_read_all_stats see all): runs and task runs by state, active runs, queued tasks, seconds since the last success, rows loaded and rejected';

GRANT SELECT ON pgetl.task_stats, pgetl.pipeline_stats, pgetl.metrics TO PUBLIC;
