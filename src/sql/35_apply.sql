-- Pipelines as code: pgetl_apply(definition) creates or updates a whole
-- pipeline from one JSON document, pgetl_definition(pipeline) returns it.
--
-- The document's keys are the argument names of the definition functions,
-- read from the catalog (pgetl._signature), never listed here: the top
-- level takes pgetl_create_pipeline's, each element of "tasks"
-- pgetl_add_task's (but "pipeline"), "schedule" pgetl_schedule's (but
-- "pipeline").  An argument added to one of those functions is a key of the
-- document at once, provided its value is kept in the column of the same
-- name (pgetl.pipeline, pgetl.task, pgetl.schedule); "upstream" is kept in
-- pgetl.task_dependency.  A key left out, or given as null, means the
-- argument's default.
--
-- Every rule on a value is checked by the function that owns it: a new
-- pipeline or task is made by _create_pipeline / _add_task, a changed
-- setting goes through _alter_pipeline, a changed task is first checked by
-- _add_task (under a scratch name, rolled back) and then updated in place
-- (its task_id, and so its history, stays), edges go through
-- _add_dependency, the schedule through pgetl_schedule itself
-- (src/apply.c).  pgetl_apply only adds the rules of the document: its
-- shape, and the path of the key at fault, prefixed to the error.
--
-- Intervals are written in IntervalStyle postgres ("00:05:00") whatever
-- the session's style (every function here pins it), so that a document,
-- and its hash, do not depend on who built it.
--
-- The document is the whole truth: tasks and edges it does not list are
-- dropped, and so is the schedule when it has none.

CREATE TABLE pgetl.pipeline_version_record (
    pipeline_id     bigint NOT NULL REFERENCES pgetl.pipeline ON DELETE CASCADE,
    version         integer NOT NULL CHECK (version > 0),
    definition      jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(definition) = 'object'),
    hash            text NOT NULL,
    -- the row versions (xmin) of the definition rows the document was
    -- built from: while they are the same, so is the document
    fingerprint     text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by      text NOT NULL,
    PRIMARY KEY (pipeline_id, version)
);
COMMENT ON TABLE pgetl.pipeline_version_record IS
'past definitions of pipelines (read it through the view pgetl.pipeline_version)';

CREATE VIEW pgetl.pipeline_version WITH (security_barrier) AS
SELECT p.name AS pipeline, v.version, v.definition, v.hash, v.created_at, v.created_by
  FROM pgetl.pipeline_version_record v
  JOIN pgetl.pipeline p USING (pipeline_id)
 WHERE pg_catalog.pg_has_role(p.owner, 'MEMBER');
COMMENT ON VIEW pgetl.pipeline_version IS
'definition versions of the pipelines you may see: the document each version had (pgetl_definition), its md5 hash, when and by whom it was recorded';
GRANT SELECT ON pgetl.pipeline_version TO PUBLIC;

-- The arguments of one of pgetl's functions, in order: name, type, and
-- the default as an SQL expression and as JSON (NULL: no default).
CREATE FUNCTION pgetl._signature(fname text)
RETURNS TABLE (arg text, argtype regtype, default_sql text, default_json jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET IntervalStyle = postgres AS $$
DECLARE
    fn oid;
    a record;
BEGIN
    SELECT p.oid INTO STRICT fn
      FROM pg_proc p
      JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                      AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
      JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgetl'
     WHERE p.proname = fname;
    FOR a IN SELECT s.name, s.typ, pg_get_function_arg_default(fn, s.pos::integer) AS def
               FROM pg_proc p, unnest(p.proargnames, p.proargtypes::oid[]) WITH ORDINALITY s(name, typ, pos)
              WHERE p.oid = fn ORDER BY s.pos
    LOOP
        arg := a.name;
        argtype := a.typ;
        default_sql := a.def;
        default_json := NULL;
        IF a.def IS NOT NULL THEN
            EXECUTE 'SELECT to_jsonb(' || a.def || ')' INTO default_json;
            default_json := coalesce(default_json, 'null');
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

-- Raise again an error caught while applying the key at path, prefixed
-- with the path; SQLSTATE, detail and hint are kept.
CREATE FUNCTION pgetl._apply_reraise(path text, st text, msg text, det text, hnt text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET IntervalStyle = postgres AS $$
BEGIN
    msg := CASE WHEN path = '' THEN msg ELSE path || ': ' || msg END;
    IF coalesce(det, '') <> '' AND coalesce(hnt, '') <> '' THEN
        RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det, HINT = hnt;
    ELSIF coalesce(det, '') <> '' THEN
        RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, DETAIL = det;
    ELSIF coalesce(hnt, '') <> '' THEN
        RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg, HINT = hnt;
    ELSE
        RAISE EXCEPTION USING ERRCODE = st, MESSAGE = msg;
    END IF;
END
$$;

-- Run one SQL statement of pgetl_apply (trusted text: built with %L and
-- %I); an error is raised again with the document path it concerns.
CREATE FUNCTION pgetl._apply_exec(path text, stmt text, caller oid DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET IntervalStyle = postgres AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    EXECUTE stmt USING caller;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    PERFORM pgetl._apply_reraise(path, st, msg, det, hnt);
END
$$;

-- One value of the document as an SQL expression of the argument's type
-- (%L-quoted, so safe to splice into a statement): JSON null is the
-- default; a string for text-like types, a number, a boolean, an array of
-- strings for text[], anything for jsonb.  The cast is tried here, so that
-- a bad value is reported at its path.
CREATE FUNCTION pgetl._apply_value(path text, v jsonb, t regtype, default_sql text)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET IntervalStyle = postgres AS $$
DECLARE
    want text := CASE
        WHEN t = 'jsonb'::regtype THEN NULL
        WHEN t = 'text[]'::regtype THEN 'array'
        WHEN t IN ('integer'::regtype, 'bigint'::regtype, 'smallint'::regtype, 'numeric'::regtype,
                   'double precision'::regtype, 'real'::regtype) THEN 'number'
        WHEN t = 'boolean'::regtype THEN 'boolean'
        ELSE 'string' END;
    expr text;
    i integer := 0;
    e jsonb;
BEGIN
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        RETURN coalesce(default_sql, 'NULL::' || t::text);
    END IF;
    IF want IS NOT NULL AND jsonb_typeof(v) <> want THEN
        RAISE EXCEPTION '%: must be a JSON %, not %', path,
                CASE want WHEN 'array' THEN 'array of strings' ELSE want END, jsonb_typeof(v)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The key is the argument %s of type %s.', regexp_replace(path, '^.*\.', ''), t);
    END IF;
    IF want = 'array' THEN
        FOR e IN SELECT jsonb_array_elements(v) LOOP
            IF jsonb_typeof(e) <> 'string' THEN
                RAISE EXCEPTION '%[%]: must be a JSON string, not %', path, i, jsonb_typeof(e)
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            i := i + 1;
        END LOOP;
        expr := format('%L::%s', ARRAY(SELECT jsonb_array_elements_text(v)), t);
    ELSIF want IS NULL THEN
        expr := format('%L::jsonb', v::text);
    ELSE
        expr := format('%L::%s', v #>> '{}', t);
    END IF;
    PERFORM pgetl._apply_exec(path, 'SELECT ' || expr);
    RETURN expr;
END
$$;

-- Refuse keys that are not arguments of fname (but those excepted).
CREATE FUNCTION pgetl._apply_keys(path text, doc jsonb, fname text, extra text[], excepted text[])
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET IntervalStyle = postgres AS $$
DECLARE
    known text[] := ARRAY(SELECT arg FROM pgetl._signature(fname) WHERE NOT arg = ANY (excepted)) || extra;
    bad text;
BEGIN
    SELECT k INTO bad FROM jsonb_object_keys(doc) k WHERE NOT k = ANY (known) ORDER BY k LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION '%: unknown key in a pipeline definition', path || CASE WHEN path = '' THEN '' ELSE '.' END || bad
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Keys here are the arguments of %s: %s.', fname, array_to_string(known, ', '));
    END IF;
END
$$;

-- The document of a pipeline (pgetl_definition): the arguments of its
-- definition calls, those with their default left out; tasks in the order
-- they were added.
CREATE FUNCTION pgetl._document(p_pipeline_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET IntervalStyle = postgres AS $$
DECLARE
    -- argument -> [default], or [] for none; read once
    task_args jsonb := (SELECT jsonb_object_agg(arg, CASE WHEN default_json IS NULL THEN '[]'
                                                          ELSE jsonb_build_array(default_json) END)
                          FROM pgetl._signature('pgetl_add_task') WHERE arg <> 'pipeline');
    doc jsonb;
    tasks jsonb;
    sched jsonb;
BEGIN
    -- a key is written when its argument has no default or its value
    -- differs from the default (a NULL default is JSON null)
    SELECT jsonb_object_agg(s.arg, coalesce(to_jsonb(p)->s.arg, 'null')) INTO doc
      FROM pgetl.pipeline p, pgetl._signature('pgetl_create_pipeline') s
     WHERE p.pipeline_id = p_pipeline_id
       AND (s.default_json IS NULL OR coalesce(to_jsonb(p)->s.arg, 'null') <> s.default_json);
    SELECT coalesce(jsonb_agg(t.doc ORDER BY t.task_id), '[]') INTO tasks
      FROM (SELECT tk.task_id,
                   (SELECT jsonb_object_agg(a.key, coalesce(r.j->a.key, 'null'))
                      FROM jsonb_each(task_args) a
                     WHERE a.value = '[]' OR jsonb_build_array(coalesce(r.j->a.key, 'null')) <> a.value) AS doc
              FROM pgetl.task tk
             CROSS JOIN LATERAL (SELECT to_jsonb(tk) || jsonb_build_object('upstream', coalesce(
                        (SELECT jsonb_agg(u.name ORDER BY u.task_id)
                           FROM pgetl.task_dependency d JOIN pgetl.task u ON u.task_id = d.upstream_task_id
                          WHERE d.task_id = tk.task_id), '[]')) AS j) r
             WHERE tk.pipeline_id = p_pipeline_id) t;
    doc := doc || jsonb_build_object('tasks', tasks);
    SELECT jsonb_object_agg(s.arg, coalesce(to_jsonb(sc)->s.arg, 'null')) INTO sched
      FROM pgetl.schedule sc, pgetl._signature('pgetl_schedule') s
     WHERE sc.pipeline_id = p_pipeline_id AND s.arg <> 'pipeline'
       AND (s.default_json IS NULL OR coalesce(to_jsonb(sc)->s.arg, 'null') <> s.default_json);
    IF sched IS NOT NULL THEN
        doc := doc || jsonb_build_object('schedule', sched);
    END IF;
    RETURN doc;
END
$$;

-- The pipeline's current definition version: the latest recorded, or a
-- new one when the document changed since (by pgetl_apply or by any other
-- definition function).  Called by pgetl_apply and when a run starts or
-- resumes: so that this costs one query while nothing changed, the
-- document is built only when a definition row was written since the
-- latest version (its fingerprint, of row versions, differs); a rewrite
-- that changed nothing (the same document) only updates the fingerprint.
CREATE FUNCTION pgetl._definition_version(p_pipeline_id bigint, who oid) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET IntervalStyle = postgres AS $$
DECLARE
    fp text;
    doc jsonb;
    h text;
    v pgetl.pipeline_version_record;
BEGIN
    SELECT md5(string_agg(x, ',' ORDER BY x)) INTO fp FROM (
        SELECT 'p' || xmin::text FROM pgetl.pipeline WHERE pipeline_id = p_pipeline_id
        UNION ALL SELECT 't' || task_id || ':' || xmin::text FROM pgetl.task WHERE pipeline_id = p_pipeline_id
        UNION ALL SELECT 'd' || task_id || '<' || upstream_task_id || ':' || xmin::text
                    FROM pgetl.task_dependency WHERE pipeline_id = p_pipeline_id
        UNION ALL SELECT 's' || xmin::text FROM pgetl.schedule WHERE pipeline_id = p_pipeline_id) f(x);
    SELECT * INTO v FROM pgetl.pipeline_version_record
     WHERE pipeline_id = p_pipeline_id ORDER BY version DESC LIMIT 1;
    IF v.version IS NOT NULL AND v.fingerprint IS NOT DISTINCT FROM fp THEN
        RETURN v.version;
    END IF;
    doc := pgetl._document(p_pipeline_id);
    h := md5(doc::text);
    IF v.version IS NOT NULL AND v.hash = h THEN
        UPDATE pgetl.pipeline_version_record SET fingerprint = fp
         WHERE pipeline_id = p_pipeline_id AND version = v.version;
        RETURN v.version;
    END IF;
    INSERT INTO pgetl.pipeline_version_record (pipeline_id, version, definition, hash, fingerprint, created_by)
    VALUES (p_pipeline_id, coalesce(v.version, 0) + 1, doc, h, fp,
            coalesce((SELECT rolname FROM pg_roles WHERE oid = who), who::text))
    RETURNING * INTO v;
    RETURN v.version;
END
$$;

CREATE FUNCTION pgetl._definition(caller oid, p_pipeline text) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET IntervalStyle = postgres AS $$
BEGIN
    RETURN pgetl._document((pgetl._pipeline_for(caller, p_pipeline)).pipeline_id);
END
$$;

-- A named argument list "p_a => expr, p_b => expr" for an internal
-- function, from a JSON object of argument name -> SQL expression.
CREATE FUNCTION pgetl._apply_args(exprs jsonb) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp SET IntervalStyle = postgres AS $$
    SELECT coalesce(string_agg(format('%I => %s', 'p_' || key, value #>> '{}'), ', '), '')
      FROM jsonb_each(exprs)
$$;

-- _add_task for one task of the document (exprs: argument -> SQL
-- expression), keeping the task or, when only checking it (keep false),
-- under a scratch name and rolled back.  On an error the key at fault is
-- found by setting the task's keys back to their default one at a time,
-- last argument first: the first whose default makes the error go away, or
-- change, is named in the path.
CREATE FUNCTION pgetl._apply_add_task(caller oid, p_pipeline text, p_task text, exprs jsonb,
                                      doc_task jsonb, path text, keep boolean)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET IntervalStyle = postgres AS $$
DECLARE
    scratch CONSTANT text := E'\x01pgetl_apply';
    stmt CONSTANT text := 'SELECT pgetl._add_task(caller => $1, p_pipeline => %L, p_name => %L, %s)';
    st text; msg text; det text; hnt text; msg2 text;
    k record;
    blame text;
BEGIN
    BEGIN
        EXECUTE format(stmt, p_pipeline, CASE WHEN keep THEN p_task ELSE scratch END,
                       pgetl._apply_args(exprs)) USING caller;
        IF NOT keep THEN
            RAISE EXCEPTION USING ERRCODE = 'PGE01';    -- checked: undo the scratch task
        END IF;
    EXCEPTION
        WHEN SQLSTATE 'PGE01' THEN NULL;
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                                    det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
            msg := replace(msg, scratch, p_task);
            FOR k IN SELECT s.arg, coalesce(s.default_sql, 'NULL') AS def
                       FROM pgetl._signature('pgetl_add_task') WITH ORDINALITY s(arg, argtype, default_sql, default_json, n)
                      WHERE doc_task ? s.arg AND s.arg NOT IN ('pipeline', 'name', 'upstream')
                      ORDER BY s.n DESC LOOP
                BEGIN
                    EXECUTE format(stmt, p_pipeline, scratch,
                                   pgetl._apply_args(exprs || jsonb_build_object(k.arg, k.def))) USING caller;
                    RAISE EXCEPTION USING ERRCODE = 'PGE01';
                EXCEPTION
                    WHEN SQLSTATE 'PGE01' THEN blame := k.arg;
                    WHEN OTHERS THEN
                        GET STACKED DIAGNOSTICS msg2 = MESSAGE_TEXT;
                        IF replace(msg2, scratch, p_task) <> msg THEN
                            blame := k.arg;
                        END IF;
                END;
                EXIT WHEN blame IS NOT NULL;
            END LOOP;
            PERFORM pgetl._apply_reraise(path || coalesce('.' || blame, ''), st, msg,
                                         replace(det, scratch, p_task), replace(hnt, scratch, p_task));
    END;
END
$$;

-- pgetl_apply, as the extension owner for the caller; src/apply.c runs
-- schedule_call (pgetl_schedule or pgetl_unschedule, as the caller) after
-- it, then records the version.
CREATE FUNCTION pgetl._apply(caller oid, doc jsonb, force boolean,
                             OUT result jsonb, OUT pipeline_id bigint, OUT schedule_call text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET IntervalStyle = postgres AS $$
DECLARE
    p pgetl.pipeline;
    pname text;
    active bigint;
    busy bigint;
    changes jsonb := '[]';
    s record;
    expr text;
    want jsonb;
    have jsonb;
    cur jsonb;
    exprs jsonb;
    wants jsonb;
    changed jsonb;
    tasks jsonb;
    t jsonb;
    i integer;
    j integer;
    tname text;
    tid bigint;
    u text;
    names text[] := '{}';
    extschema name;
BEGIN
    IF doc IS NULL OR jsonb_typeof(doc) <> 'object' THEN
        RAISE EXCEPTION 'a pipeline definition must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example: ''{"name": "nightly", "tasks": [{"name": "a", "command": "SELECT 1"}]}''; pgetl_definition(pipeline) returns one.';
    END IF;
    PERFORM pgetl._apply_keys('', doc, 'pgetl_create_pipeline', '{tasks,schedule}', '{}');
    IF jsonb_typeof(doc->'name') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'name: a pipeline definition needs the pipeline''s name, as a string'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    pname := doc->>'name';
    tasks := coalesce(doc->'tasks', '[]');
    IF jsonb_typeof(tasks) = 'null' THEN
        tasks := '[]';
    END IF;
    IF jsonb_typeof(tasks) <> 'array' THEN
        RAISE EXCEPTION 'tasks: must be a JSON array of task objects, not %', jsonb_typeof(tasks)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF doc ? 'schedule' AND jsonb_typeof(doc->'schedule') NOT IN ('object', 'null') THEN
        RAISE EXCEPTION 'schedule: must be a JSON object, not %', jsonb_typeof(doc->'schedule')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example: "schedule": {"schedule": "15 2 * * *"}.';
    END IF;

    -- the shape of every task, before anything changes
    FOR i IN 0 .. jsonb_array_length(tasks) - 1 LOOP
        t := tasks->i;
        IF jsonb_typeof(t) <> 'object' THEN
            RAISE EXCEPTION 'tasks[%]: must be a JSON object, not %', i, jsonb_typeof(t)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM pgetl._apply_keys(format('tasks[%s]', i), t, 'pgetl_add_task', '{}', '{pipeline}');
        IF jsonb_typeof(t->'name') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'tasks[%].name: a task needs a name, as a string', i
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF (t->>'name') = ANY (names) THEN
            RAISE EXCEPTION 'tasks[%].name: task "%" is defined twice', i, t->>'name'
                USING ERRCODE = 'duplicate_object', HINT = 'Task names are unique within a pipeline.';
        END IF;
        names := names || (t->>'name');
    END LOOP;

    -- the pipeline: created as pgetl_create_pipeline does, or checked and
    -- locked
    SELECT * INTO p FROM pgetl.pipeline WHERE name = pname;
    IF NOT FOUND THEN
        PERFORM pgetl._apply_exec('name', format('SELECT pgetl._create_pipeline(caller => $1, p_name => %L, %s)',
            pname, pgetl._apply_args((SELECT jsonb_object_agg(arg, coalesce(default_sql, 'NULL'))
                                        FROM pgetl._signature('pgetl_create_pipeline') WHERE arg <> 'name'))), caller);
        changes := changes || jsonb_build_object('object', 'pipeline', 'action', 'create');
    END IF;
    p := pgetl._pipeline_for(caller, pname, true);
    -- (an active run: running, or queued beyond max_active_runs; a
    -- pipeline may have several, of different logical dates)
    SELECT run_id INTO active FROM pgetl.run_record r
     WHERE r.pipeline_id = p.pipeline_id AND state IN ('queued', 'running') ORDER BY run_id LIMIT 1;
    IF NOT FOUND THEN
        active := NULL;
    ELSIF NOT coalesce(force, false) THEN
        RAISE EXCEPTION 'pipeline "%" has an active run', pname
            USING ERRCODE = 'object_in_use',
                  DETAIL = format('Run %s is still running.', active),
                  HINT = 'Wait for it to finish, cancel it with pgetl_cancel(), or apply with force => true (its tasks that have not started yet then run as the new definition says).';
    END IF;

    -- settings, one at a time through _alter_pipeline (a null means
    -- the default; _alter_pipeline reads NULL as "unchanged")
    FOR s IN SELECT * FROM pgetl._signature('pgetl_create_pipeline') WHERE arg <> 'name' LOOP
        expr := pgetl._apply_value(s.arg, doc->s.arg, s.argtype, s.default_sql);
        EXECUTE 'SELECT to_jsonb(' || expr || ')' INTO want;
        want := coalesce(want, 'null');
        SELECT coalesce(to_jsonb(pp)->s.arg, 'null') INTO have FROM pgetl.pipeline pp
         WHERE pp.pipeline_id = p.pipeline_id;
        CONTINUE WHEN want = have;
        IF want = 'null' THEN
            PERFORM pgetl._apply_exec(s.arg, format('UPDATE pgetl.pipeline SET %I = NULL WHERE pipeline_id = %s',
                                                    s.arg, p.pipeline_id));
        ELSE
            PERFORM pgetl._apply_exec(s.arg, format('SELECT pgetl._alter_pipeline(%s)',
                (SELECT string_agg(CASE a.arg WHEN 'caller' THEN '$1'
                                              WHEN 'p_name' THEN quote_literal(pname)
                                              WHEN 'p_' || s.arg THEN expr
                                              ELSE 'NULL' END, ', ')
                   FROM pgetl._signature('_alter_pipeline') a)), caller);
        END IF;
        IF NOT changes @> '[{"object": "pipeline", "action": "create"}]' THEN
            changes := changes || jsonb_build_object('object', 'pipeline', 'action', 'update',
                                                     'key', s.arg, 'from', have, 'to', want);
        END IF;
    END LOOP;

    -- tasks the document does not list are dropped (with their edges).
    -- With force, in the active runs: a dropped task that has not started is
    -- skipped (the run no longer waits for it); one that is queued,
    -- running, or waiting for a retry or its next poke (a sensor) cannot be
    -- dropped until the run ends.
    FOR tname, tid IN SELECT name, task_id FROM pgetl.task tk WHERE tk.pipeline_id = p.pipeline_id
                         AND NOT name = ANY (names) ORDER BY task_id LOOP
        IF active IS NOT NULL THEN
            SELECT ar.run_id INTO busy
              FROM pgetl.run_record ar CROSS JOIN LATERAL pgetl._latest_tries(ar.run_id) l
             WHERE ar.pipeline_id = p.pipeline_id AND ar.state IN ('queued', 'running')
               AND l.task_id = tid AND l.state IN ('queued', 'up_for_retry', 'up_for_reschedule')
             ORDER BY ar.run_id LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'task "%" of pipeline "%" cannot be dropped while run % is running it', tname, pname, busy
                    USING ERRCODE = 'object_in_use',
                          DETAIL = 'The task is queued, running, or waiting for a retry or its next poke in the active run.',
                          HINT = format('Wait for the run to finish, or cancel it with SELECT pgetl_cancel(%s).', busy);
            END IF;
            UPDATE pgetl.task_run_record tr SET state = 'skipped'
              FROM pgetl.run_record ar
             WHERE ar.pipeline_id = p.pipeline_id AND ar.state IN ('queued', 'running')
               AND tr.run_id = ar.run_id AND tr.task_id = tid AND tr.state = 'scheduled';
        END IF;
        DELETE FROM pgetl.task tk WHERE tk.task_id = tid;
        changes := changes || jsonb_build_object('object', 'task', 'name', tname, 'action', 'drop');
    END LOOP;

    -- each task: added by _add_task (without its edges, added below), or
    -- compared, checked by _add_task under a scratch name, and updated
    FOR i IN 0 .. jsonb_array_length(tasks) - 1 LOOP
        t := tasks->i;
        tname := t->>'name';
        exprs := '{}';
        wants := '{}';
        FOR s IN SELECT * FROM pgetl._signature('pgetl_add_task')
                  WHERE arg NOT IN ('pipeline', 'name') LOOP
            expr := pgetl._apply_value(format('tasks[%s].%s', i, s.arg), t->s.arg, s.argtype, s.default_sql);
            IF s.arg = 'upstream' THEN
                -- the edges, as the set of names (checked one by one below)
                EXECUTE 'SELECT coalesce(jsonb_agg(DISTINCT u ORDER BY u), ''[]'') FROM unnest(' || expr || ') u'
                    INTO want;
                -- NULL: _add_task then leaves the checks that need the
                -- edges (a teardown task's setup task) to the end
                expr := 'NULL::text[]';
            ELSE
                EXECUTE 'SELECT to_jsonb(' || expr || ')' INTO want;
            END IF;
            exprs := exprs || jsonb_build_object(s.arg, expr);
            wants := wants || jsonb_build_object(s.arg, coalesce(want, 'null'));
        END LOOP;
        SELECT task_id, to_jsonb(tk) || jsonb_build_object('upstream', coalesce(
                   (SELECT jsonb_agg(DISTINCT up.name ORDER BY up.name)
                      FROM pgetl.task_dependency d JOIN pgetl.task up ON up.task_id = d.upstream_task_id
                     WHERE d.task_id = tk.task_id), '[]'))
          INTO tid, cur
          FROM pgetl.task tk WHERE tk.pipeline_id = p.pipeline_id AND tk.name = tname;
        IF NOT FOUND THEN
            PERFORM pgetl._apply_add_task(caller, pname, tname, exprs, t, format('tasks[%s]', i), true);
            changes := changes || jsonb_build_object('object', 'task', 'name', tname, 'action', 'create');
            CONTINUE;
        END IF;
        SELECT jsonb_object_agg(w.key, jsonb_build_object('from', coalesce(cur->w.key, 'null'), 'to', w.value))
          INTO changed
          FROM jsonb_each(wants) w WHERE coalesce(cur->w.key, 'null') <> w.value;
        CONTINUE WHEN changed IS NULL;
        IF changed - 'upstream' <> '{}' THEN
            PERFORM pgetl._apply_add_task(caller, pname, tname, exprs, t, format('tasks[%s]', i), false);
            EXECUTE format('UPDATE pgetl.task SET (%s) = (SELECT %s FROM jsonb_populate_record(NULL::pgetl.task, $1)) WHERE task_id = $2',
                           (SELECT string_agg(format('%I', k), ', ') FROM jsonb_object_keys(changed - 'upstream') k),
                           (SELECT string_agg(format('%I', k), ', ') FROM jsonb_object_keys(changed - 'upstream') k))
                USING wants, tid;
        END IF;
        changes := changes || jsonb_build_object('object', 'task', 'name', tname, 'action', 'update',
                                                 'changed', changed);
    END LOOP;

    -- edges: those the document does not list go first (so that no stale
    -- edge makes a cycle), then the new ones, one by one
    DELETE FROM pgetl.task_dependency d USING pgetl.task tk, pgetl.task up
     WHERE d.pipeline_id = p.pipeline_id AND tk.task_id = d.task_id AND up.task_id = d.upstream_task_id
       AND NOT EXISTS (SELECT FROM jsonb_array_elements(tasks) e
                        WHERE e->>'name' = tk.name
                          AND jsonb_typeof(e->'upstream') = 'array' AND e->'upstream' ? up.name);
    FOR i IN 0 .. jsonb_array_length(tasks) - 1 LOOP
        t := tasks->i;
        CONTINUE WHEN jsonb_typeof(t->'upstream') IS DISTINCT FROM 'array';
        j := 0;
        FOR u IN SELECT jsonb_array_elements_text(t->'upstream') LOOP
            IF NOT EXISTS (SELECT FROM pgetl.task_dependency d
                             JOIN pgetl.task tk ON tk.task_id = d.task_id
                             JOIN pgetl.task up ON up.task_id = d.upstream_task_id
                            WHERE d.pipeline_id = p.pipeline_id AND tk.name = t->>'name' AND up.name = u) THEN
                PERFORM pgetl._apply_exec(format('tasks[%s].upstream[%s]', i, j),
                    format('SELECT pgetl._add_dependency($1, %L, %L, %L)', pname, t->>'name', ARRAY[u]), caller);
            END IF;
            j := j + 1;
        END LOOP;
    END LOOP;

    -- now that the edges are in: every teardown task has an upstream
    -- setup task (the rules of pgetl._check_setup_teardown)
    FOR i IN 0 .. jsonb_array_length(tasks) - 1 LOOP
        t := tasks->i;
        PERFORM pgetl._apply_exec(format('tasks[%s].upstream', i),
            format('SELECT pgetl._check_setup_teardown(tk.name, tk.setup, tk.teardown, tk.on_failure_fail_run, tk.trigger_rule, '
                   '(SELECT count(*) FROM pgetl.task_dependency d JOIN pgetl.task s ON s.task_id = d.upstream_task_id '
                   '  WHERE d.task_id = tk.task_id AND s.setup)) '
                   'FROM pgetl.task tk WHERE tk.pipeline_id = %s AND tk.name = %L AND tk.teardown',
                   p.pipeline_id, t->>'name'));
    END LOOP;

    -- the schedule: compared here, changed by src/apply.c through
    -- pgetl_schedule / pgetl_unschedule (the cron job is not touched when
    -- nothing changed)
    SELECT to_jsonb(sc) INTO cur FROM pgetl.schedule sc WHERE sc.pipeline_id = p.pipeline_id;
    IF jsonb_typeof(doc->'schedule') = 'object' THEN
        PERFORM pgetl._apply_keys('schedule', doc->'schedule', 'pgetl_schedule', '{}', '{pipeline}');
        IF jsonb_typeof(doc->'schedule'->'schedule') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'schedule.schedule: a schedule needs a cron schedule, as a string'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'For example: "schedule": {"schedule": "15 2 * * *"}.';
        END IF;
        PERFORM pgetl._apply_exec('schedule.schedule', format('SELECT pgetl._check_schedule(%L)',
                                                              doc->'schedule'->>'schedule'));
        exprs := '{}';
        wants := '{}';
        FOR s IN SELECT * FROM pgetl._signature('pgetl_schedule') WHERE arg <> 'pipeline' LOOP
            expr := pgetl._apply_value('schedule.' || s.arg, doc->'schedule'->s.arg, s.argtype, s.default_sql);
            EXECUTE 'SELECT to_jsonb(' || expr || ')' INTO want;
            exprs := exprs || jsonb_build_object(s.arg, expr);
            wants := wants || jsonb_build_object(s.arg, coalesce(want, 'null'));
        END LOOP;
        SELECT jsonb_object_agg(w.key, jsonb_build_object('from', coalesce(cur->w.key, 'null'), 'to', w.value))
          INTO changed
          FROM jsonb_each(wants) w WHERE cur IS NULL OR coalesce(cur->w.key, 'null') <> w.value;
        IF changed IS NOT NULL THEN
            SELECT n.nspname INTO extschema
              FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgetl';
            schedule_call := format('SELECT %I.pgetl_schedule(pipeline => %L, %s)', extschema, pname,
                                    (SELECT string_agg(format('%I => %s', key, value #>> '{}'), ', ')
                                       FROM jsonb_each(exprs)));
            changes := changes || jsonb_build_object('object', 'schedule',
                'action', CASE WHEN cur IS NULL THEN 'create' ELSE 'update' END, 'changed', changed);
        END IF;
    ELSIF cur IS NOT NULL THEN
        SELECT n.nspname INTO extschema
          FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgetl';
        schedule_call := format('SELECT %I.pgetl_unschedule(%L)', extschema, pname);
        changes := changes || jsonb_build_object('object', 'schedule', 'action', 'drop');
    END IF;

    pipeline_id := p.pipeline_id;
    result := jsonb_build_object('pipeline', pname, 'changed', changes <> '[]', 'changes', changes);
END
$$;

-- pgetl_apply, once the schedule is done: the version the pipeline is at.
CREATE FUNCTION pgetl._apply_finish(caller oid, p_pipeline_id bigint, result jsonb) RETURNS jsonb
LANGUAGE sql SET search_path = pg_catalog, pg_temp SET IntervalStyle = postgres AS $$
    SELECT result || jsonb_build_object('version', pgetl._definition_version(p_pipeline_id, caller))
$$;

CREATE FUNCTION @extschema@.pgetl_apply(definition jsonb, force boolean DEFAULT false)
RETURNS jsonb AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_apply(jsonb, boolean) IS
'creates or updates a whole pipeline (settings, tasks, dependencies, schedule) from one JSON document, as pgetl_definition returns it; tasks the document does not list are dropped; returns {"pipeline", "changed", "changes", "version"}';

CREATE FUNCTION @extschema@.pgetl_definition(pipeline text)
RETURNS jsonb AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pgetl_definition(text) IS
'the JSON document of a pipeline (settings, tasks, dependencies, schedule), such that pgetl_apply of it changes nothing';

COMMENT ON FUNCTION pgetl._signature(text) IS
'internal: the arguments of one of pgetl''s functions, with their types and defaults (the keys of pipeline documents)';
COMMENT ON FUNCTION pgetl._apply_reraise(text, text, text, text, text) IS
'internal: raises an error again, prefixed with its path in a pipeline document';
COMMENT ON FUNCTION pgetl._apply_exec(text, text, oid) IS
'internal: runs one statement of pgetl_apply, errors prefixed with their path in the document';
COMMENT ON FUNCTION pgetl._apply_value(text, jsonb, regtype, text) IS
'internal: a value of a pipeline document as an SQL expression of its argument''s type';
COMMENT ON FUNCTION pgetl._apply_keys(text, jsonb, text, text[], text[]) IS
'internal: refuses keys of a pipeline document that are not arguments of the function';
COMMENT ON FUNCTION pgetl._document(bigint) IS
'internal: the document of a pipeline';
COMMENT ON FUNCTION pgetl._definition_version(bigint, oid) IS
'internal: the pipeline''s definition version, recorded anew when its document changed';
COMMENT ON FUNCTION pgetl._definition(oid, text) IS
'internal: pgetl_definition';
COMMENT ON FUNCTION pgetl._apply_args(jsonb) IS
'internal: a named argument list for an internal definition function';
COMMENT ON FUNCTION pgetl._apply_add_task(oid, text, text, jsonb, jsonb, text, boolean) IS
'internal: _add_task for one task of a pipeline document, or its check; errors name the key at fault';
COMMENT ON FUNCTION pgetl._apply(oid, jsonb, boolean) IS
'internal: pgetl_apply but the schedule; returns the result, the pipeline id and the schedule call to run as the caller';
COMMENT ON FUNCTION pgetl._apply_finish(oid, bigint, jsonb) IS
'internal: pgetl_apply''s result with the definition version';
