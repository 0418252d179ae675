-- The report of a customer_pipeline run: psql variable run_id, default the
-- latest run.  Needs to read the exported file (pg_read_server_files).
\pset footer off
\if :{?run_id}
\else
SELECT max(run_id) AS run_id FROM pgetl.pipeline_run WHERE pipeline = 'customer_pipeline' \gset
\endif
\echo
\echo '== run' :run_id
SELECT run_id, pipeline, state, logical_date, started_by, duration,
       tasks_success AS succeeded, tasks_failed AS failed,
       tasks_upstream_failed AS upstream_failed, reason
  FROM pgetl.pipeline_run WHERE run_id = :run_id;

\echo '== tasks (the latest try of each)'
SELECT task, state, try, seconds, error FROM (
    SELECT DISTINCT ON (task) task, state, try_number AS try, started_at,
           round(extract(epoch FROM duration)::numeric, 3) AS seconds, coalesce(error, '') AS error
      FROM pgetl.task_run WHERE run_id = :run_id ORDER BY task, try_number DESC) t
 ORDER BY started_at NULLS LAST, task;

\echo '== loads: rows read = loaded + rejected'
SELECT load_name AS load, source, rows_read, rows_loaded, rows_rejected,
       rows_read = rows_loaded + rows_rejected AS all_accounted
  FROM pgetl.load_history WHERE run_id = :run_id ORDER BY load_id;

\echo '== top reject reasons per load'
SELECT load, rule, column_name, rejects, example FROM (
    SELECT load_name AS load, rule, coalesce(column_name, '') AS column_name, count(*) AS rejects,
           left(min(message), 110) AS example,
           row_number() OVER (PARTITION BY load_name ORDER BY count(*) DESC, rule, column_name) AS rank
      FROM pgetl.reject WHERE run_id = :run_id
     GROUP BY load_name, rule, column_name) r
 WHERE rank <= 5 ORDER BY load, rejects DESC, rule;

\echo '== export'
SELECT result->>'path' AS path, (result->>'rows')::bigint AS rows
  FROM pgetl.task_run WHERE run_id = :run_id AND task = 'export_to_csv' AND state = 'success'
 ORDER BY try_number DESC LIMIT 1 \gset export_
\if :{?export_path}
SELECT :'export_path' AS path, :export_rows AS rows;
\echo '-- the file, first lines'
SELECT line FROM regexp_split_to_table(pg_read_file(:'export_path'), E'\n') WITH ORDINALITY AS l(line, n)
 WHERE line <> '' AND n <= 11 ORDER BY n;
\else
\echo 'no export: export_to_csv did not succeed in this run'
\endif

\echo '== analytics'
SELECT a.logical_date, a.total_customers, a.active_customers, a.total_purchases, a.total_revenue,
       a.average_order_value, a.high_value_customers
  FROM customer_etl.customer_analytics a
  JOIN pgetl.pipeline_run r ON r.logical_date = a.logical_date AND r.run_id = :run_id;
SELECT s.key AS segment, (s.value->>'customers')::bigint AS customers, (s.value->>'revenue')::numeric AS revenue
  FROM customer_etl.customer_analytics a
  JOIN pgetl.pipeline_run r ON r.logical_date = a.logical_date AND r.run_id = :run_id,
       jsonb_each(a.segments) s
 ORDER BY (s.value->>'revenue')::numeric DESC;
