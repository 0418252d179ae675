-- Task pools, priority weights, max_active_tasks (issue 11 §2).  Airflow's
-- pools are called task pools here (pgetl.task_pool; "pool" in the C code
-- is the pool of warm task workers, src/pool.c): a task that names one
-- takes pool_slots of its slots while it runs, across pipelines and
-- owners.  Airflow's priority_weight and weight_rule order the ready tries
-- that compete for slots; max_active_tasks caps the running tasks of a
-- pipeline across its active runs.  (The new arguments of pgetl_add_task,
-- pgetl_create_pipeline and pgetl_alter_pipeline come through
-- 81_signatures.sql.)
CREATE TABLE pgetl.task_pool (
    name            text PRIMARY KEY CHECK (name <> ''),
    slots           integer NOT NULL CHECK (slots BETWEEN 1 AND 100000),
    description     text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE pgetl.task_pool IS 'task pools (Airflow''s pools): slots shared by the tasks that name the pool, across pipelines (read them through the view pgetl.pools)';
SELECT pg_catalog.pg_extension_config_dump('pgetl.task_pool', '');

ALTER TABLE pgetl.pipeline ADD COLUMN max_active_tasks integer
    CHECK (max_active_tasks BETWEEN 1 AND 1024);
ALTER TABLE pgetl.task ADD COLUMN pool text REFERENCES pgetl.task_pool;
ALTER TABLE pgetl.task ADD COLUMN pool_slots integer NOT NULL DEFAULT 1 CHECK (pool_slots >= 1);
ALTER TABLE pgetl.task ADD COLUMN priority_weight integer NOT NULL DEFAULT 1;
ALTER TABLE pgetl.task ADD COLUMN weight_rule text NOT NULL DEFAULT 'downstream'
    CHECK (weight_rule IN ('downstream', 'upstream', 'absolute'));

--@function pgetl._check_max_active_tasks
--@function pgetl._check_pool_admin
--@function pgetl._task_pool_for
--@function pgetl._check_pool_slots
--@function pgetl._create_pool
--@function pgetl._alter_pool
--@function pgetl._drop_pool
--@comment pgetl._check_pool_admin
--@comment pgetl._create_pool
--@comment pgetl._alter_pool
--@comment pgetl._drop_pool
--@create @extschema@.pgetl_create_pool
--@comment @extschema@.pgetl_create_pool
--@create @extschema@.pgetl_alter_pool
--@comment @extschema@.pgetl_alter_pool
--@create @extschema@.pgetl_drop_pool
--@comment @extschema@.pgetl_drop_pool

--@function pgetl._hand_out_needed
--@function pgetl._effective_weights
--@function pgetl._effective_weight
--@function pgetl._hand_out_order
--@comment pgetl._hand_out_needed
--@comment pgetl._effective_weights
--@comment pgetl._effective_weight
--@comment pgetl._hand_out_order
