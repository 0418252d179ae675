-- Pipeline definitions: pipelines, tasks and their dependencies.

CREATE TABLE pgetl.pipeline (
    pipeline_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (name <> ''),
    description     text,
    owner           regrole NOT NULL,
    max_parallel    integer NOT NULL DEFAULT 4 CHECK (max_parallel BETWEEN 1 AND 1024),
    params          jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(params) = 'object'),
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- active (queued runs wait) runs of the pipeline at once, across
    -- logical dates; Airflow's max_active_runs (default 16, as Airflow's)
    max_active_runs integer NOT NULL DEFAULT 16 CHECK (max_active_runs BETWEEN 1 AND 1024),
    -- callbacks for the outcome of a run (Airflow's DAG on_failure_callback,
    -- on_success_callback): SQL run as the owner once it is committed
    on_failure      text CHECK (btrim(on_failure) <> ''),
    on_success      text CHECK (btrim(on_success) <> ''),
    -- a run past it (from its start or resume) is failed (Airflow's
    -- dagrun_timeout); NULL: none
    run_timeout     interval CHECK (run_timeout > '0'),
    -- running tasks of the pipeline at once, across all its active runs;
    -- Airflow's max_active_tasks (NULL: no cap but max_parallel per run)
    max_active_tasks integer CHECK (max_active_tasks BETWEEN 1 AND 1024),
    -- the most mapped instances a mapped task may expand into (Airflow's
    -- max_map_length); more fail the task before any instance runs
    max_map_length  integer NOT NULL DEFAULT 1024 CHECK (max_map_length BETWEEN 1 AND 100000)
);
COMMENT ON TABLE pgetl.pipeline IS 'pipelines: named DAGs of tasks, run as their owner';

-- The task kinds and trigger rules, in one place: pgetl_add_task checks
-- against these tables (its hints list them), pgetl.task references them,
-- and whatever else defines tasks (pipelines as code) reads them too.
-- Catalog data, filled by CREATE EXTENSION and not dumped.
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
    ('short_circuit', 6, true, 'a query whose first column, false or NULL, skips everything downstream'),
    ('sensor', 7, true, 'a query poked every poke_interval until its first column is true (config: poke_interval, mode, soft_fail)');

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
    ('all_done_setup_success', 13, 'all upstream finished, and one upstream setup task succeeded if it has any (the rule of teardown tasks)');

-- Airflow's pools, named "task pools" here ("pool" in the C code,
-- src/pool.c, means the pool of warm task WORKERS): a task that names a pool takes
-- pool_slots of its slots while it runs, across pipelines and owners; it
-- waits queued while the pool is full (src/scheduler.c, hand_out_all).
-- Managed by pgetl_create_pool/pgetl_alter_pool/pgetl_drop_pool
-- (superusers and members of the role pgetl_pool_admin); shown by the
-- view pgetl.pools.
CREATE TABLE pgetl.task_pool (
    name            text PRIMARY KEY CHECK (name <> ''),
    slots           integer NOT NULL CHECK (slots BETWEEN 1 AND 100000),
    description     text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE pgetl.task_pool IS 'task pools (Airflow''s pools): slots shared by the tasks that name the pool, across pipelines (read them through the view pgetl.pools)';

CREATE TABLE pgetl.task (
    task_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline_id     bigint NOT NULL REFERENCES pgetl.pipeline ON DELETE CASCADE,
    name            text NOT NULL CHECK (name <> ''),
    kind            text NOT NULL REFERENCES pgetl.task_kind,
    command         text,
    config          jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(config) = 'object'),
    retries         integer NOT NULL DEFAULT 0 CHECK (retries >= 0),
    retry_delay     interval NOT NULL DEFAULT '5 minutes' CHECK (retry_delay >= '0'),
    retry_exponential_backoff boolean NOT NULL DEFAULT false,
    max_retry_delay interval CHECK (max_retry_delay >= '0'),
    timeout         interval CHECK (timeout > '0'),
    trigger_rule    text NOT NULL DEFAULT 'all_success' REFERENCES pgetl.trigger_rule,
    UNIQUE (pipeline_id, name),
    UNIQUE (pipeline_id, task_id),
    -- Airflow's depends_on_past: runs only if its try in the previous
    -- logical date's run succeeded or was skipped (pgetl._past_ok)
    depends_on_past boolean NOT NULL DEFAULT false,
    -- callbacks (Airflow's on_failure_callback, ...): SQL run as the owner
    -- after the state they report is committed (src/task_worker.c)
    on_failure      text CHECK (btrim(on_failure) <> ''),
    on_success      text CHECK (btrim(on_success) <> ''),
    on_retry        text CHECK (btrim(on_retry) <> ''),
    -- Airflow's pool and pool_slots: the task pool whose slots the task
    -- takes while it runs (NULL: none, no limit but max_parallel)
    pool            text REFERENCES pgetl.task_pool,
    pool_slots      integer NOT NULL DEFAULT 1 CHECK (pool_slots >= 1),
    -- Airflow's priority_weight and weight_rule: among ready tries
    -- competing for slots, the higher effective weight starts first
    -- (pgetl._effective_weights)
    priority_weight integer NOT NULL DEFAULT 1,
    weight_rule     text NOT NULL DEFAULT 'downstream'
                    CHECK (weight_rule IN ('downstream', 'upstream', 'absolute')),
    -- setup and teardown tasks (Airflow's as_setup()/as_teardown()): a
    -- teardown task is paired with the setup tasks among its upstream
    -- tasks (pgetl._check_setup_teardown)
    setup           boolean NOT NULL DEFAULT false,
    teardown        boolean NOT NULL DEFAULT false,
    on_failure_fail_run boolean NOT NULL DEFAULT false,
    -- dynamic task mapping (Airflow's .expand()): a query run as the owner
    -- when the task is ready; one mapped instance per row (NULL: unmapped)
    map_over        text CHECK (btrim(map_over) <> '')
);
COMMENT ON TABLE pgetl.task IS 'tasks of pipelines: what to run, how often to retry, when to trigger';

CREATE TABLE pgetl.task_dependency (
    pipeline_id     bigint NOT NULL,
    task_id         bigint NOT NULL,
    upstream_task_id bigint NOT NULL,
    PRIMARY KEY (task_id, upstream_task_id),
    -- both ends in the same pipeline: cross-pipeline edges cannot exist
    FOREIGN KEY (pipeline_id, task_id) REFERENCES pgetl.task (pipeline_id, task_id) ON DELETE CASCADE,
    FOREIGN KEY (pipeline_id, upstream_task_id) REFERENCES pgetl.task (pipeline_id, task_id) ON DELETE CASCADE,
    CHECK (task_id <> upstream_task_id)
);
CREATE INDEX ON pgetl.task_dependency (upstream_task_id);
COMMENT ON TABLE pgetl.task_dependency IS 'edges of the pipeline DAG: task runs after upstream_task';

-- Refuse any edge that closes a cycle, whatever inserted it; the message
-- names the cycle.
CREATE FUNCTION pgetl._task_dependency_no_cycle() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cyc text;
BEGIN
    -- Walk upstream from the new edge's upstream; reaching the task itself
    -- closes a cycle.
    WITH RECURSIVE up(task_id, path) AS (
        SELECT NEW.upstream_task_id, ARRAY[NEW.task_id, NEW.upstream_task_id]
        UNION ALL
        SELECT d.upstream_task_id, up.path || d.upstream_task_id
          FROM up JOIN pgetl.task_dependency d ON d.task_id = up.task_id
         WHERE up.task_id <> NEW.task_id
           AND NOT d.upstream_task_id = ANY (up.path[2:])
    )
    SELECT string_agg(t.name, ' -> ' ORDER BY p.ord DESC) INTO cyc
      FROM (SELECT path FROM up WHERE task_id = NEW.task_id LIMIT 1) c,
           unnest(c.path) WITH ORDINALITY AS p(id, ord)
      JOIN pgetl.task t ON t.task_id = p.id;
    IF cyc IS NOT NULL THEN
        RAISE EXCEPTION 'dependency would create a cycle: %', cyc
            USING ERRCODE = 'invalid_object_definition',
                  DETAIL = format('Pipeline "%s" must stay a directed acyclic graph.',
                                  (SELECT name FROM pgetl.pipeline WHERE pipeline_id = NEW.pipeline_id)),
                  HINT = 'Remove one of the upstream references in the cycle.';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER task_dependency_no_cycle
    AFTER INSERT OR UPDATE ON pgetl.task_dependency
    FOR EACH ROW EXECUTE FUNCTION pgetl._task_dependency_no_cycle();

-- What this part's internal functions are for and who calls them (every
-- function has a COMMENT ON FUNCTION: test/style/sql_style_test.sh).
COMMENT ON FUNCTION pgetl._task_dependency_no_cycle() IS
'internal: constraint trigger on pgetl.task_dependency: refuses an edge that closes a cycle, naming the cycle';
