-- The state machine of runs and task tries has one source: the enum types
-- pgetl.run_state and pgetl.task_state hold exactly the documented states,
-- the history triggers allow exactly the changes listed in
-- pgetl.run_state_transition and pgetl.task_state_transition (every other
-- pair is refused with 55000), and no CHECK or helper function on state
-- text is left.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
RESET client_min_messages;
CREATE EXTENSION pgetl;

-- the states, in the order of their enum (README: Concepts)
SELECT enum_range(NULL::pgetl.run_state) AS run_states;
SELECT enum_range(NULL::pgetl.task_state) AS task_states;

-- the state columns are typed, and nothing else constrains them
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, pg_get_expr(d.adbin, d.adrelid) AS default
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = 'pgetl'::regnamespace AND c.relkind = 'r' AND a.attname IN ('state', 'from_state', 'to_state')
 ORDER BY 1, 2;
SELECT count(*) AS state_checks
  FROM pg_constraint
 WHERE conrelid IN ('pgetl.run_record'::regclass, 'pgetl.task_run_record'::regclass)
   AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%state%';
SELECT count(*) AS state_helper_functions
  FROM pg_proc WHERE pronamespace = 'pgetl'::regnamespace AND proname LIKE '%state_change%';
-- the partial index on active runs names the active state by the enum
SELECT pg_get_indexdef('pgetl.run_record_one_active'::regclass);

-- the transition tables
SELECT from_state, to_state FROM pgetl.run_state_transition ORDER BY from_state NULLS FIRST, to_state;
SELECT from_state, to_state FROM pgetl.task_state_transition ORDER BY from_state NULLS FIRST, to_state;

-- C names the same task states (src/task_states.h, read through the colour table)
SELECT array_agg(state ORDER BY state) FILTER (WHERE state <> 'no_status') AS c_task_states,
       array_agg(state ORDER BY state) FILTER (WHERE state <> 'no_status')
         = (SELECT array_agg(s::text ORDER BY s::text) FROM unnest(enum_range(NULL::pgetl.task_state)) s) AS same_as_sql
  FROM pgetl_state_colors();

-- Every pair of states, tried on a row restored in the first state (its
-- timestamps set): the change is allowed exactly when the pair is a row
-- of the transition table, refused with 55000 otherwise.
CREATE FUNCTION pg_temp.try_run(f pgetl.run_state, t pgetl.run_state) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    rid bigint;
BEGIN
    INSERT INTO pgetl.run_record (pipeline, owner, state, logical_date, started_by, started_at, finished_at)
    VALUES ('sm', current_user::regrole, f, '2024-01-01', 'test', now(), CASE WHEN f <> 'running' THEN now() END)
    RETURNING run_id INTO rid;
    BEGIN
        UPDATE pgetl.run_record SET state = t WHERE run_id = rid;
        RETURN 'allowed';
    EXCEPTION WHEN OTHERS THEN
        RETURN 'refused ' || SQLSTATE;
    END;
END
$$;
CREATE FUNCTION pg_temp.try_task(f pgetl.task_state, t pgetl.task_state) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    rid bigint;
    tid bigint;
BEGIN
    INSERT INTO pgetl.run_record (pipeline, owner, state, logical_date, started_by)
    VALUES ('sm', current_user::regrole, 'running', '2024-01-01', 'test')
    RETURNING run_id INTO rid;
    -- (no pipeline_id: the index of one active run per pipeline does not apply)
    INSERT INTO pgetl.task_run_record (run_id, task, try_number, state, queued_at, started_at, finished_at)
    VALUES (rid, 't', 1, f, now(), now(), now())
    RETURNING task_run_id INTO tid;
    BEGIN
        UPDATE pgetl.task_run_record SET state = t WHERE task_run_id = tid;
        RETURN 'allowed';
    EXCEPTION WHEN OTHERS THEN
        RETURN 'refused ' || SQLSTATE;
    END;
END
$$;

WITH pairs AS (
    SELECT f, t, pg_temp.try_run(f, t) AS outcome,
           EXISTS (SELECT FROM pgetl.run_state_transition x WHERE x.from_state = f AND x.to_state = t) AS listed
      FROM unnest(enum_range(NULL::pgetl.run_state)) f, unnest(enum_range(NULL::pgetl.run_state)) t
     WHERE f <> t
)
SELECT outcome, listed, count(*), string_agg(f || '->' || t, ' ' ORDER BY f, t) FILTER (WHERE listed) AS allowed
  FROM pairs GROUP BY outcome, listed ORDER BY outcome;

WITH pairs AS (
    SELECT f, t, pg_temp.try_task(f, t) AS outcome,
           EXISTS (SELECT FROM pgetl.task_state_transition x WHERE x.from_state = f AND x.to_state = t) AS listed
      FROM unnest(enum_range(NULL::pgetl.task_state)) f, unnest(enum_range(NULL::pgetl.task_state)) t
     WHERE f <> t
)
SELECT outcome, listed, count(*), string_agg(f || '->' || t, ' ' ORDER BY f, t) FILTER (WHERE listed) AS allowed
  FROM pairs GROUP BY outcome, listed ORDER BY outcome;

-- A new row starts in the state the table gives (from_state NULL); any
-- other state needs the timestamps of restored history.
\set VERBOSITY terse
INSERT INTO pgetl.run_record (pipeline, owner, state, logical_date, started_by)
VALUES ('sm', current_user::regrole, 'success', '2024-01-01', 'test');
INSERT INTO pgetl.task_run_record (run_id, task, try_number, state)
VALUES ((SELECT max(run_id) FROM pgetl.run_record), 'n', 1, 'running');
INSERT INTO pgetl.task_run_record (run_id, task, try_number)
VALUES ((SELECT max(run_id) FROM pgetl.run_record), 'n', 1) RETURNING state;
-- a state that is none is refused by its type
UPDATE pgetl.run_record SET state = 'waiting' WHERE run_id = (SELECT max(run_id) FROM pgetl.run_record);
UPDATE pgetl.task_run_record SET state = 'waiting' WHERE task = 'n';
\set VERBOSITY default
DELETE FROM pgetl.run_record WHERE pipeline = 'sm';
