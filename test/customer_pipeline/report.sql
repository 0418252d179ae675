-- The report of a customer_pipeline run: psql variable run_id, default the
-- latest run.  pgetl_report(run_id) is the run (tasks, loads, rejects,
-- exports); the analytics row is this pipeline's own.  Run as a role that
-- may read the exported file (pg_read_server_files) to see its first lines.
\pset footer off
\if :{?run_id}
\else
SELECT max(run_id) AS run_id FROM pgetl.pipeline_run WHERE pipeline = 'customer_pipeline' \gset
\endif
\pset format unaligned
\pset tuples_only on
\echo
SELECT pgetl_report(:run_id);
\pset format aligned
\pset tuples_only off

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
