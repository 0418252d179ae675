-- An Airflow DAG ported to pgetl (issue 10 §7): the DAG below, in Python,
-- and the same pipeline in pgetl's calls after it.  It waits for the
-- day's batch (a sensor), sets up a scratch table (a setup task), branches
-- on whether the day has sales, loads each region of the day in a mapped
-- task instance (dynamic task mapping), sums up, drops the scratch table
-- (a teardown task, which runs even when a load failed), and alerts on
-- failure (a task's and the DAG's on_failure callback).
-- test/airflow_port/airflow_port_test.sh runs it end to end.
--
-- The Airflow DAG (Airflow >= 2.7):
--
--   from datetime import datetime
--   from airflow import DAG
--   from airflow.decorators import task
--   from airflow.operators.empty import EmptyOperator
--   from airflow.providers.common.sql.operators.sql import (
--       BranchSQLOperator, SQLExecuteQueryOperator)
--   from airflow.providers.common.sql.sensors.sql import SqlSensor
--   from airflow.providers.postgres.hooks.postgres import PostgresHook
--
--   def alert(context):
--       ti = context["task_instance"]
--       PostgresHook("warehouse").run(
--           "INSERT INTO alerts (pipeline, task, map_index, event, error)"
--           " VALUES (%s, %s, %s, 'on_failure', %s)",
--           parameters=(ti.dag_id, ti.task_id, ti.map_index, str(context.get("exception"))))
--
--   def dag_alert(context):
--       dr = context["dag_run"]
--       failed = ", ".join(t.task_id for t in dr.get_task_instances(state="failed"))
--       PostgresHook("warehouse").run(
--           "INSERT INTO alerts (pipeline, task, event, error) VALUES (%s, %s, 'on_failure', %s)",
--           parameters=(dr.dag_id, failed, context.get("reason")))
--
--   with DAG("regional_sales", schedule="@daily", start_date=datetime(2026, 1, 1),
--            catchup=False, on_failure_callback=dag_alert):
--       wait_for_batch = SqlSensor(
--           task_id="wait_for_batch", conn_id="warehouse",
--           sql="SELECT EXISTS (SELECT FROM batches WHERE day = '{{ ds }}')",
--           mode="reschedule", poke_interval=1, timeout=120)
--       create_scratch = SQLExecuteQueryOperator(
--           task_id="create_scratch", conn_id="warehouse",
--           sql="CREATE TABLE scratch_sales (region text PRIMARY KEY,"
--               " total numeric NOT NULL CHECK (total >= 0))")
--       choose = BranchSQLOperator(
--           task_id="choose", conn_id="warehouse",
--           sql="SELECT EXISTS (SELECT FROM raw_sales WHERE day = '{{ ds }}')",
--           follow_task_ids_if_true=["load_region"], follow_task_ids_if_false=["no_sales"])
--
--       @task
--       def regions(ds=None):
--           rows = PostgresHook("warehouse").get_records(
--               "SELECT DISTINCT region FROM raw_sales WHERE day = %s ORDER BY region", parameters=(ds,))
--           return [{"region": r[0], "day": ds} for r in rows]
--
--       load_region = SQLExecuteQueryOperator.partial(
--           task_id="load_region", conn_id="warehouse", retries=1, retry_delay=0,
--           on_failure_callback=alert,
--           sql="INSERT INTO scratch_sales SELECT %(region)s, sum(amount) FROM raw_sales"
--               " WHERE day = %(day)s AND region = %(region)s",
--       ).expand(parameters=regions())
--       no_sales = EmptyOperator(task_id="no_sales")
--       summarize = SQLExecuteQueryOperator(
--           task_id="summarize", conn_id="warehouse", trigger_rule="none_failed_min_one_success",
--           sql="INSERT INTO region_totals SELECT '{{ ds }}', region, total FROM scratch_sales")
--       drop_scratch = SQLExecuteQueryOperator(
--           task_id="drop_scratch", conn_id="warehouse", sql="DROP TABLE scratch_sales",
--       ).as_teardown(setups=create_scratch)
--
--       wait_for_batch >> create_scratch >> choose >> [load_region, no_sales] >> summarize >> drop_scratch
--
-- In pgetl: the sensor is a sensor task; `{{ ds }}` is pgetl_logical_date();
-- the branch's query returns the name of the task to follow; the mapped
-- task's rows come from its map_over query (the regions() task and the
-- .expand() are one argument), each instance reading its row with
-- pgetl_map_value(); the callbacks are SQL, their context
-- pgetl_callback_context().

CREATE TABLE batches (day date PRIMARY KEY);
CREATE TABLE raw_sales (day date NOT NULL, region text NOT NULL, amount numeric NOT NULL);
CREATE TABLE region_totals (day date NOT NULL, region text NOT NULL, total numeric NOT NULL);
CREATE TABLE alerts (alert_id bigint GENERATED ALWAYS AS IDENTITY, pipeline text, task text,
                     map_index integer, event text, error text);

SELECT pgetl_create_pipeline('regional_sales', max_parallel => 4,
    on_failure => $$INSERT INTO alerts (pipeline, task, event, error)
                    SELECT c ->> 'pipeline', (SELECT string_agg(t, ', ') FROM jsonb_array_elements_text(c -> 'failed_tasks') t),
                           c ->> 'event', c ->> 'error'
                      FROM (SELECT pgetl_callback_context() AS c) x$$);

SELECT pgetl_add_task('regional_sales', 'wait_for_batch',
    $$SELECT EXISTS (SELECT FROM batches WHERE day = pgetl_logical_date())$$,
    kind => 'sensor', timeout => '2 minutes',
    config => '{"mode": "reschedule", "poke_interval": "1 second"}');

SELECT pgetl_add_task('regional_sales', 'create_scratch',
    $$CREATE TABLE scratch_sales (region text PRIMARY KEY, total numeric NOT NULL CHECK (total >= 0))$$,
    '{wait_for_batch}', setup => true);

SELECT pgetl_add_task('regional_sales', 'choose',
    $$SELECT CASE WHEN EXISTS (SELECT FROM raw_sales WHERE day = pgetl_logical_date())
                  THEN 'load_region' ELSE 'no_sales' END$$,
    '{create_scratch}', kind => 'branch');

SELECT pgetl_add_task('regional_sales', 'load_region',
    $$INSERT INTO scratch_sales
      SELECT pgetl_map_value('region'), sum(amount) FROM raw_sales
       WHERE day = pgetl_logical_date() AND region = pgetl_map_value('region')$$,
    '{choose}', retries => 1, retry_delay => '0',
    map_over => $$SELECT DISTINCT region FROM raw_sales WHERE day = pgetl_logical_date() ORDER BY region$$,
    on_failure => $$INSERT INTO alerts (pipeline, task, map_index, event, error)
                    SELECT c ->> 'pipeline', c ->> 'task', (c ->> 'map_index')::integer, c ->> 'event', c ->> 'error'
                      FROM (SELECT pgetl_callback_context() AS c) x$$);

SELECT pgetl_add_task('regional_sales', 'no_sales', $$SELECT 'no sales today' AS note$$, '{choose}');

SELECT pgetl_add_task('regional_sales', 'summarize',
    $$INSERT INTO region_totals SELECT pgetl_logical_date(), region, total FROM scratch_sales$$,
    '{load_region,no_sales}', trigger_rule => 'none_failed_min_one_success');

SELECT pgetl_add_task('regional_sales', 'drop_scratch', $$DROP TABLE scratch_sales$$,
    '{create_scratch,summarize}', teardown => true);
