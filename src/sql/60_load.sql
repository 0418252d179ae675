-- The validated CSV loader: load specs and their rules, staged data, load
-- history and rejects.  The user-facing functions are C functions
-- (src/load*.c) that run as the caller; they call the internal functions
-- below as the extension owner to read and write these tables.

CREATE TABLE pgetl.load_spec (
    spec_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (name <> ''),
    owner           regrole NOT NULL,
    target          regclass NOT NULL,   -- not a raw oid: pg_dump writes the name
    target_name     text NOT NULL,
    -- the spec's document, as given to pgetl_define_load (validated): the
    -- CSV columns with their rules, and the options (dialect, behaviour,
    -- checks, expectations); the loader reads the whole spec from here,
    -- options it does not give taking their defaults from load_columns.c
    -- (pgetl._load_options shows them resolved)
    columns         jsonb NOT NULL,
    options         jsonb NOT NULL,
    defined_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- (0.2) what the document names but must be resolved when the spec is
    -- defined, by the defining role: the table each column's "references"
    -- names (element i for column i, NULL for a column without it), kept
    -- by OID so that a rename follows
    ref_relids      regclass[]
);
COMMENT ON TABLE pgetl.load_spec IS 'load specs: target, CSV dialect and load behaviour (read it through the view pgetl.loads)';

CREATE TABLE pgetl.load_record (
    load_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    spec_id         bigint REFERENCES pgetl.load_spec ON DELETE SET NULL,
    load_name       text NOT NULL,
    owner           regrole NOT NULL,
    loaded_by       regrole NOT NULL,
    run_id          bigint,
    source          text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at     timestamptz,
    duration        interval,
    rows_read       bigint,
    rows_loaded     bigint,
    rows_rejected   bigint,
    -- (0.2) rows a BEFORE trigger of the target dropped (returned NULL), and
    -- rows an upsert with on_conflict nothing skipped; NULL for older loads
    rows_skipped_by_trigger bigint,
    rows_skipped_on_conflict bigint,
    -- (0.2) rows that passed with warnings (severity warn); NULL for older loads
    rows_warned     bigint,
    -- (0.2) a load with commit_every commits as it goes: its checkpoint
    -- (where the next stretch starts: byte offset in the source and physical
    -- line) and the identity of its source (size, modification time, hash
    -- of the first 64 kB); unfinished (finished_at NULL), it can be resumed
    commit_every    bigint,
    checkpoint_offset bigint,
    checkpoint_line bigint,
    source_size     bigint,
    source_mtime    timestamptz,
    source_hash     bigint,
    -- (0.2) the header record of the source, as read (a replay of rejects
    -- reads the rejected records under it); a replay names the load whose
    -- rejects it replayed
    header          text,
    reload_of       bigint
);
CREATE INDEX ON pgetl.load_record (load_name, load_id);
COMMENT ON TABLE pgetl.load_record IS 'one row per successful load (read it through the view pgetl.load_history)';

CREATE TABLE pgetl.reject_record (
    reject_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    load_id         bigint NOT NULL REFERENCES pgetl.load_record ON DELETE CASCADE,
    run_id          bigint,
    load_name       text NOT NULL,
    owner           regrole NOT NULL,
    source          text NOT NULL,
    line_number     bigint NOT NULL,
    record          text,
    column_name     text,
    rule            text NOT NULL,
    value           text,
    message         text NOT NULL,
    sqlstate        text,
    -- (0.2) warn: a rule of severity warn failed, and the row loaded
    severity        text NOT NULL DEFAULT 'error' CHECK (severity IN ('error', 'warn')),
    -- (0.2) the replay of rejects (pgetl_reload_rejects) that loaded the
    -- record, and when
    resolved_by     bigint,
    resolved_at     timestamptz
);
CREATE INDEX ON pgetl.reject_record (load_id, line_number);
COMMENT ON TABLE pgetl.reject_record IS 'rejected records (read them through the view pgetl.reject)';

CREATE TABLE pgetl.stage (
    stage_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (name <> '' AND left(name, 1) <> '/'),
    owner           regrole NOT NULL,
    bytes           bigint NOT NULL DEFAULT 0,
    chunks          integer NOT NULL DEFAULT 0,
    staged_at       timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE pgetl.stage IS 'staged CSV data, loaded by name (read it through the view pgetl.stages)';

CREATE TABLE pgetl.stage_chunk (
    stage_id        bigint NOT NULL REFERENCES pgetl.stage ON DELETE CASCADE,
    chunk_no        integer NOT NULL,
    data            bytea NOT NULL,
    PRIMARY KEY (stage_id, chunk_no)
);
-- Uncompressed out-of-line storage, so that the loader can read a chunk in
-- slices without decompressing all of it.
ALTER TABLE pgetl.stage_chunk ALTER COLUMN data SET STORAGE EXTERNAL;
COMMENT ON TABLE pgetl.stage_chunk IS 'the bytes of staged data, in the order they were staged';

-- The settings of a spec's options, defaults applied (load_columns.c's
-- option_keys[], which the loader reads the document through too): what
-- pgetl.loads shows.  Everyone may call it (99_privileges.sql).
CREATE FUNCTION pgetl._load_options(options jsonb,
    OUT mode text, OUT header boolean, OUT delimiter text, OUT quote text,
    OUT escape text, OUT null_string text, OUT encoding text,
    OUT conflict_key text[], OUT on_conflict text, OUT max_rejects bigint,
    OUT max_reject_ratio double precision)
RETURNS record AS 'MODULE_PATHNAME', 'pgetl_load_options' LANGUAGE C IMMUTABLE STRICT;
COMMENT ON FUNCTION pgetl._load_options(jsonb) IS
'the settings of a load spec''s options with their defaults applied (as the loader reads them): what pgetl.loads shows';

-- What users read: the specs, loads, rejects and stages of roles they are
-- members of (superusers see all).
CREATE VIEW pgetl.loads WITH (security_barrier) AS
SELECT s.name AS load, s.owner,
       -- the target is kept by OID: show its name now (it may have been renamed)
       coalesce((SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
                   FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                  WHERE c.oid OPERATOR(pg_catalog.=) s.target), s.target_name) AS target,
       -- the dialect and behaviour: the document's, defaults applied
       o.mode, o.header,
       o.delimiter, o.quote, o.escape, o.null_string, o.encoding,
       o.conflict_key, o.on_conflict, o.max_rejects, o.max_reject_ratio,
       s.columns, s.options, s.defined_at
  FROM pgetl.load_spec s CROSS JOIN LATERAL pgetl._load_options(s.options) o
 WHERE pg_catalog.pg_has_role(s.owner, 'MEMBER');
COMMENT ON VIEW pgetl.loads IS 'load specs you may use: target, dialect, mode, columns and rules as defined';

CREATE VIEW pgetl.load_history WITH (security_barrier) AS
SELECT l.load_id, l.load_name, l.run_id, l.source, l.loaded_by, l.owner,
       l.started_at, l.finished_at, l.duration, l.rows_read, l.rows_loaded,
       l.rows_rejected, l.rows_skipped_by_trigger, l.rows_skipped_on_conflict,
       l.rows_warned
  FROM pgetl.load_record l
 WHERE pg_catalog.pg_has_role(l.owner, 'MEMBER');
COMMENT ON VIEW pgetl.load_history IS 'committed loads of specs you may use, with their counts: rows_read = rows_loaded + rows_rejected + rows_skipped_by_trigger + rows_skipped_on_conflict; rows_warned of them passed with warnings';

CREATE VIEW pgetl.reject WITH (security_barrier) AS
SELECT r.load_id, r.run_id, r.load_name, r.source, r.line_number, r.record,
       r.column_name, r.rule, r.value, r.message, r.sqlstate, r.reject_id,
       r.severity, r.resolved_by, r.resolved_at
  FROM pgetl.reject_record r
 WHERE pg_catalog.pg_has_role(r.owner, 'MEMBER');
COMMENT ON VIEW pgetl.reject IS 'rejected records of loads you may see: where, which column, which rule, and why (severity warn: a warning, the record loaded); resolved_by: the replay that loaded the record';

CREATE VIEW pgetl.stages WITH (security_barrier) AS
SELECT s.name AS stage, s.owner, s.bytes, s.chunks, s.staged_at
  FROM pgetl.stage s
 WHERE pg_catalog.pg_has_role(s.owner, 'MEMBER');
COMMENT ON VIEW pgetl.stages IS 'staged data you may load';

GRANT SELECT ON pgetl.loads, pgetl.load_history, pgetl.reject, pgetl.stages TO PUBLIC;

-- The spec of that name, if the caller may use it (member of its owner).
CREATE FUNCTION pgetl._load_spec_for(caller oid, p_name text, lock_it boolean DEFAULT false)
RETURNS pgetl.load_spec
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s pgetl.load_spec;
BEGIN
    IF p_name IS NULL THEN
        RAISE EXCEPTION 'load name must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF lock_it THEN
        SELECT * INTO s FROM pgetl.load_spec WHERE name = p_name FOR UPDATE;
    ELSE
        SELECT * INTO s FROM pgetl.load_spec WHERE name = p_name;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'load "%" does not exist', p_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Define it with pgetl_define_load(), or list yours with SELECT * FROM pgetl.loads.';
    END IF;
    IF NOT pg_has_role(caller, s.owner, 'MEMBER') THEN
        RAISE EXCEPTION 'must be owner of load "%"', p_name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only the owner of a load spec, or members of the owner role, can use, change or drop it.';
    END IF;
    RETURN s;
END
$$;

-- Validates a load spec's document (load_columns.c: the keys of its
-- columns, options and expectations, each declared once in a table with
-- its JSON type and the check of its value), its name and its target;
-- an error with the first problem, else the target's qualified name.
CREATE FUNCTION pgetl._load_check_spec(p_name text, p_target oid, p_columns jsonb,
                                       p_options jsonb)
RETURNS text AS 'MODULE_PATHNAME', 'pgetl_load_check_spec' LANGUAGE C;
COMMENT ON FUNCTION pgetl._load_check_spec(text, oid, jsonb, jsonb) IS
'validates a load spec (name, target, columns, options, expectations) for pgetl._define_load; returns the target''s qualified name';

-- Store (or replace) a load spec, validated by pgetl._load_check_spec;
-- pgetl_define_load (C) then compiles the stored spec as the caller, which
-- checks types, values, patterns and check expressions, and rolls
-- everything back on error.
CREATE FUNCTION pgetl._define_load(caller oid, p_name text, p_target oid,
                                   p_columns jsonb, p_options jsonb)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s pgetl.load_spec;
    qname text := pgetl._load_check_spec(p_name, p_target, p_columns, p_options);
    id bigint;
BEGIN
    -- store the document, replacing a spec of the same name; the tables
    -- that "references" name are resolved by the C side, as the caller
    SELECT * INTO s FROM pgetl.load_spec WHERE name = p_name FOR UPDATE;
    IF FOUND THEN
        s := pgetl._load_spec_for(caller, p_name, true);
        UPDATE pgetl.load_spec SET
            target = p_target, target_name = qname, columns = p_columns,
            options = p_options, defined_at = now(), ref_relids = NULL
         WHERE spec_id = s.spec_id;
        id := s.spec_id;
    ELSE
        INSERT INTO pgetl.load_spec (name, owner, target, target_name, columns, options)
        VALUES (p_name, caller, p_target, qname, p_columns, p_options)
        RETURNING spec_id INTO id;
    END IF;
    IF EXISTS (SELECT FROM jsonb_array_elements(p_columns) e WHERE e ? 'references') THEN
        UPDATE pgetl.load_spec
           SET ref_relids = array_fill(NULL::regclass, ARRAY[jsonb_array_length(p_columns)])
         WHERE spec_id = id;
    END IF;
    RETURN id;
END
$$;

CREATE FUNCTION pgetl._drop_load(caller oid, p_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s pgetl.load_spec := pgetl._load_spec_for(caller, p_name, true);
BEGIN
    DELETE FROM pgetl.load_spec WHERE spec_id = s.spec_id;
END
$$;

-- A load task's config: {"load": "spec", "source": "/abs/file.csv" or
-- staged data}, and a spec of that name the caller may use.  One check of
-- the config (src/load_spec.c: load_task_check_config), which the task
-- worker makes again before it loads.
CREATE FUNCTION pgetl._check_load_task(caller oid, config jsonb) RETURNS void
AS 'MODULE_PATHNAME', 'pgetl_check_load_task' LANGUAGE C;

-- Staged data: append a chunk; returns the bytes staged under that name.
CREATE FUNCTION pgetl._stage(caller oid, p_name text, p_data bytea) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st pgetl.stage;
BEGIN
    IF p_name IS NULL OR p_name = '' OR left(p_name, 1) = '/' THEN
        RAISE EXCEPTION 'invalid stage name "%"', coalesce(p_name, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A source starting with / is a server file path; staged data needs another name.';
    END IF;
    IF p_data IS NULL THEN
        RAISE EXCEPTION 'data to stage must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO st FROM pgetl.stage WHERE name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO pgetl.stage (name, owner) VALUES (p_name, caller) RETURNING * INTO st;
    ELSIF NOT pg_has_role(caller, st.owner, 'MEMBER') THEN
        RAISE EXCEPTION 'must be owner of staged data "%"', p_name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Choose another name; staged data belongs to the role that staged it.';
    END IF;
    IF octet_length(p_data) > 0 THEN
        INSERT INTO pgetl.stage_chunk (stage_id, chunk_no, data) VALUES (st.stage_id, st.chunks + 1, p_data);
        UPDATE pgetl.stage SET bytes = bytes + octet_length(p_data), chunks = chunks + 1, staged_at = now()
         WHERE stage_id = st.stage_id RETURNING * INTO st;
    END IF;
    RETURN st.bytes;
END
$$;

CREATE FUNCTION pgetl._stage_for(caller oid, p_name text) RETURNS pgetl.stage
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st pgetl.stage;
BEGIN
    SELECT * INTO st FROM pgetl.stage WHERE name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'staged data "%" does not exist', p_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Stage data with pgetl_stage(name, data), or give an absolute server path starting with /.';
    END IF;
    IF NOT pg_has_role(caller, st.owner, 'MEMBER') THEN
        RAISE EXCEPTION 'must be owner of staged data "%"', p_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN st;
END
$$;

CREATE FUNCTION pgetl._stage_id(caller oid, p_name text) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT (pgetl._stage_for(caller, p_name)).stage_id
$$;

CREATE FUNCTION pgetl._drop_stage(caller oid, p_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    st pgetl.stage := pgetl._stage_for(caller, p_name);
BEGIN
    DELETE FROM pgetl.stage WHERE stage_id = st.stage_id;
END
$$;

-- User-facing functions.
CREATE FUNCTION @extschema@.pgetl_define_load(name text, target regclass, columns jsonb,
                                              options jsonb DEFAULT '{}')
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_define_load(text, regclass, jsonb, jsonb) IS
'defines (or replaces) a load spec owned by the calling role: target table, CSV columns with their rules, dialect and behaviour; returns its id';

CREATE FUNCTION @extschema@.pgetl_file_exists(path text)
RETURNS boolean AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION @extschema@.pgetl_file_exists(text) IS
'whether a file or directory exists at path on the database server (for sensor tasks); needs the privileges of pg_read_server_files';

CREATE FUNCTION @extschema@.pgetl_drop_load(name text)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_drop_load(text) IS
'drops a load spec; its load history and rejects are kept';

CREATE FUNCTION @extschema@.pgetl_stage(name text, data bytea)
RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_stage(text, bytea) IS
'appends CSV bytes to the staged data of that name (created if new); returns the total bytes staged';

CREATE FUNCTION @extschema@.pgetl_drop_stage(name text)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pgetl_drop_stage(text) IS
'drops staged data';

CREATE FUNCTION @extschema@.pgetl_load(load text, source text, purge boolean DEFAULT false,
    resume boolean DEFAULT false,
    OUT load_id bigint, OUT rows_read bigint, OUT rows_loaded bigint,
    OUT rows_rejected bigint, OUT duration interval,
    OUT rows_skipped_by_trigger bigint, OUT rows_skipped_on_conflict bigint,
    OUT rows_warned bigint)
RETURNS SETOF record AS 'MODULE_PATHNAME' LANGUAGE C ROWS 1;
COMMENT ON FUNCTION @extschema@.pgetl_load(text, text, boolean, boolean) IS
'loads a CSV source (an absolute server path, or the name of staged data) with a load spec, as the calling role; rejected records go to pgetl.reject; with commit_every, resume => true continues an interrupted load from its last checkpoint';

CREATE FUNCTION @extschema@.pgetl_reload_rejects(of_load bigint,
    OUT load_id bigint, OUT rows_read bigint, OUT rows_loaded bigint,
    OUT rows_rejected bigint, OUT duration interval,
    OUT rows_skipped_by_trigger bigint, OUT rows_skipped_on_conflict bigint)
RETURNS SETOF record AS 'MODULE_PATHNAME' LANGUAGE C ROWS 1;
COMMENT ON FUNCTION @extschema@.pgetl_reload_rejects(bigint) IS
'checks the unresolved rejects of a load again with its spec as it is now and loads those that pass, as a new load; their rejects are marked resolved_by it';

-- What this part's internal functions are for and who calls them (every
-- function has a COMMENT ON FUNCTION: test/style/sql_style_test.sh).
COMMENT ON FUNCTION pgetl._load_spec_for(oid, text, boolean) IS
'internal: the load spec of that name if the caller may use it (member of its owner); for the loader (load_spec.c), _define_load, _drop_load and _check_load_task';
COMMENT ON FUNCTION pgetl._define_load(oid, text, oid, jsonb, jsonb) IS
'internal: stores (or replaces) a load spec that _load_check_spec accepted; called by pgetl_define_load (load_spec.c), which then compiles it as the caller';
COMMENT ON FUNCTION pgetl._drop_load(oid, text) IS
'internal: does the work of pgetl_drop_load (load_spec.c): drops a load spec the caller may use';
COMMENT ON FUNCTION pgetl._check_load_task(oid, jsonb) IS
'internal: checks a load task''s config and that its spec exists for the caller; called by _add_task';
COMMENT ON FUNCTION pgetl._stage(oid, text, bytea) IS
'internal: does the work of pgetl_stage (load_spec.c): appends a chunk to staged data; returns the bytes staged under that name';
COMMENT ON FUNCTION pgetl._stage_for(oid, text) IS
'internal: the staged data of that name if the caller may use it (member of its owner); for _stage_id and _drop_stage';
COMMENT ON FUNCTION pgetl._stage_id(oid, text) IS
'internal: the id of staged data the caller may read; called by the loader (load_source.c)';
COMMENT ON FUNCTION pgetl._drop_stage(oid, text) IS
'internal: does the work of pgetl_drop_stage (load_spec.c), also called by a load with drop_stage (load.c): drops staged data';
