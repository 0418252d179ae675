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

-- Validates the columns of a load spec (load_columns.c: their keys, declared
-- once in its table column_keys[], the values' types, the target columns
-- they name); an error with the first problem.  The values that allowed and
-- not_allowed list are checked by the second, after the checks and
-- expectations (as 0.1 did).
CREATE FUNCTION pgetl._load_check_columns(p_target oid, p_target_name text, p_columns jsonb,
                                          p_header boolean)
RETURNS void AS 'MODULE_PATHNAME', 'pgetl_load_check_columns' LANGUAGE C;
CREATE FUNCTION pgetl._load_check_column_values(p_columns jsonb)
RETURNS void AS 'MODULE_PATHNAME', 'pgetl_load_check_column_values' LANGUAGE C STRICT;

-- Validates the options of a load spec, and its expectations (option
-- "expect"): known keys (load_columns.c's option_keys[] and expect_keys[])
-- of their JSON types; _define_load checks what the values mean.
CREATE FUNCTION pgetl._load_check_options(p_options jsonb)
RETURNS void AS 'MODULE_PATHNAME', 'pgetl_load_check_options' LANGUAGE C;
CREATE FUNCTION pgetl._load_check_expect(p_expect jsonb)
RETURNS void AS 'MODULE_PATHNAME', 'pgetl_load_check_expect' LANGUAGE C STRICT;

-- Store (or replace) a load spec.  Checks the shape of the options
-- (pgetl._load_check_options), of the columns (pgetl._load_check_columns)
-- and that target columns exist;
-- pgetl_define_load (C) then compiles the stored spec as the caller, which
-- checks types, values, patterns and check expressions, and rolls
-- everything back on error.
CREATE FUNCTION pgetl._define_load(caller oid, p_name text, p_target oid,
                                   p_columns jsonb, p_options jsonb)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    exp jsonb;
    s pgetl.load_spec;
    rel record;
    k text;
    id bigint;
    hdr boolean;
    ck jsonb;
    ck_names text[] := '{}';
    ckey text[];
    v_mode text;
    v_onc text;
    v_max bigint;
    v_ratio double precision;
    v_delim text;
    v_quote text;
    v_escape text;
    v_enc text;
BEGIN
    IF p_name IS NULL OR p_name = '' THEN
        RAISE EXCEPTION 'load name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_target IS NULL THEN
        RAISE EXCEPTION 'target table must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c2.oid, c2.relkind, format('%I.%I', n.nspname, c2.relname) AS qname
      INTO rel FROM pg_class c2 JOIN pg_namespace n ON n.oid = c2.relnamespace
     WHERE c2.oid = p_target;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', p_target USING ERRCODE = 'undefined_table';
    END IF;
    IF rel.qname ~ '^(pg_catalog|pg_toast|information_schema|pgetl)\.' THEN
        RAISE EXCEPTION 'cannot load into %', rel.qname
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'System catalogs and pgetl''s own tables are not load targets.';
    END IF;
    IF rel.relkind NOT IN ('r', 'p', 'f') THEN
        RAISE EXCEPTION '"%" is not a table', rel.qname
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'A load target must be a table, a partitioned table or a foreign table.';
    END IF;

    -- the options: known ones, of their JSON types (load_columns.c)
    PERFORM pgetl._load_check_options(p_options);
    hdr := coalesce((p_options->>'header')::boolean, true);
    IF p_options->>'unlisted_columns' = 'ignore' AND NOT hdr THEN
        RAISE EXCEPTION 'option unlisted_columns "ignore" needs a header'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Without a header, CSV columns are matched to the spec by position.',
                  HINT = 'Set "header": true, or list every CSV column (with "target": null to skip one).';
    END IF;
    v_delim := coalesce(p_options->>'delimiter', ',');
    v_quote := coalesce(p_options->>'quote', '"');
    v_escape := p_options->>'escape';
    v_enc := coalesce(p_options->>'encoding', 'UTF8');
    IF octet_length(v_delim) <> 1 OR octet_length(v_quote) <> 1 OR octet_length(coalesce(v_escape, '"')) <> 1 THEN
        RAISE EXCEPTION 'delimiter, quote and escape must each be a single one-byte character'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_delim IN (E'\r', E'\n') OR v_quote IN (E'\r', E'\n') OR v_delim = v_quote THEN
        RAISE EXCEPTION 'invalid CSV dialect: delimiter %, quote %', to_json(v_delim), to_json(v_quote)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The delimiter and the quote must differ and cannot be a newline or carriage return.';
    END IF;
    IF pg_char_to_encoding(v_enc) < 0 THEN
        RAISE EXCEPTION 'unknown encoding "%"', v_enc
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example UTF8, LATIN1, WIN1252.';
    END IF;
    v_mode := coalesce(p_options->>'mode', 'append');
    IF v_mode NOT IN ('append', 'upsert', 'replace') THEN
        RAISE EXCEPTION 'unknown load mode "%"', v_mode
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Valid modes: append, upsert, replace.';
    END IF;
    v_onc := p_options->>'on_conflict';
    IF jsonb_typeof(p_options->'conflict_key') = 'array' THEN
        SELECT array_agg(e #>> '{}' ORDER BY o) INTO ckey
          FROM jsonb_array_elements(p_options->'conflict_key') WITH ORDINALITY AS x(e, o);
    END IF;
    IF v_mode = 'upsert' THEN
        IF ckey IS NULL OR cardinality(ckey) = 0 THEN
            RAISE EXCEPTION 'mode upsert needs a conflict_key'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Name the target columns of a unique index, e.g. "conflict_key": ["order_id"].';
        END IF;
        v_onc := coalesce(v_onc, 'update');
        IF v_onc NOT IN ('update', 'nothing') THEN
            RAISE EXCEPTION 'on_conflict must be update or nothing, not "%"', v_onc
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOREACH k IN ARRAY ckey LOOP
            IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = p_target AND attname = k
                           AND attnum > 0 AND NOT attisdropped) THEN
                RAISE EXCEPTION 'conflict_key column "%" does not exist in %', k, rel.qname
                    USING ERRCODE = 'undefined_column';
            END IF;
        END LOOP;
        IF rel.relkind <> 'f' AND NOT EXISTS (
            SELECT FROM pg_index x
             WHERE x.indrelid = p_target AND x.indisunique AND x.indpred IS NULL
               AND x.indnkeyatts = cardinality(ckey)
               AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text COLLATE "C")
                      FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS ik(attnum, o)
                      JOIN pg_attribute a ON a.attrelid = p_target AND a.attnum = ik.attnum
                     WHERE ik.o <= x.indnkeyatts)
                   = (SELECT array_agg(u ORDER BY u COLLATE "C") FROM unnest(ckey) u)) THEN
            RAISE EXCEPTION 'no unique index of % matches conflict_key (%)', rel.qname, array_to_string(ckey, ', ')
                USING ERRCODE = 'invalid_column_reference',
                      HINT = 'Create a unique index or primary key on exactly these columns.';
        END IF;
    ELSIF ckey IS NOT NULL OR v_onc IS NOT NULL THEN
        RAISE EXCEPTION 'conflict_key and on_conflict apply only to mode upsert'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_max := (p_options->>'max_rejects')::numeric;
    IF v_max < 0 THEN
        RAISE EXCEPTION 'max_rejects must be zero or more, not %', v_max USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (p_options->>'commit_every')::numeric < 1
       OR (p_options->>'commit_every')::numeric <> trunc((p_options->>'commit_every')::numeric)
       OR (p_options->>'commit_every')::numeric > 9223372036854775807 THEN
        RAISE EXCEPTION 'commit_every must be a positive whole number of records, not %', p_options->'commit_every'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example: {"commit_every": 100000} commits every 100000 records.';
    END IF;
    -- expectations judge the whole load, which commit_every commits in
    -- stretches before they could be checked: the two do not combine
    IF p_options ? 'commit_every' AND p_options ? 'expect' THEN
        RAISE EXCEPTION 'options commit_every and expect cannot be combined'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Expectations are checked after the last row is in, in the load''s transaction, so that a failed one loads nothing; a load with commit_every has committed its earlier stretches by then.',
                  HINT = 'Drop commit_every to check expectations (write-audit-publish), or drop expect to commit as you go.';
    END IF;
    v_ratio := (p_options->>'max_reject_ratio')::double precision;
    IF v_ratio NOT BETWEEN 0 AND 1 THEN
        RAISE EXCEPTION 'max_reject_ratio must be between 0 and 1, not %', v_ratio USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- columns: their rules (load_columns.c)
    PERFORM pgetl._load_check_columns(p_target, rel.qname, p_columns, hdr);

    -- checks
    IF jsonb_typeof(p_options->'checks') = 'array' THEN
        FOR ck IN SELECT e FROM jsonb_array_elements(p_options->'checks') e LOOP
            IF jsonb_typeof(ck) <> 'object' OR jsonb_typeof(ck->'name') IS DISTINCT FROM 'string'
               OR jsonb_typeof(ck->'expression') IS DISTINCT FROM 'string'
               OR EXISTS (SELECT FROM jsonb_object_keys(ck) kk WHERE kk NOT IN ('name', 'expression', 'severity')) THEN
                RAISE EXCEPTION 'each check must be an object {"name": ..., "expression": ...}'
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'For example: {"name": "positive_total", "expression": "quantity * price > 0"}, optionally with "severity": "warn".';
            END IF;
            IF ck ? 'severity' AND (jsonb_typeof(ck->'severity') IS DISTINCT FROM 'string' OR ck->>'severity' NOT IN ('error', 'warn')) THEN
                RAISE EXCEPTION 'invalid severity for check "%": %', ck->>'name', ck->'severity'
                    USING ERRCODE = 'invalid_parameter_value', HINT = 'Valid values: error, warn.';
            END IF;
            IF ck->>'name' = ANY (ck_names) THEN
                RAISE EXCEPTION 'check "%" appears twice', ck->>'name' USING ERRCODE = 'duplicate_object';
            END IF;
            ck_names := ck_names || (ck->>'name');
        END LOOP;
    END IF;

    -- expectations: their shape, and the target columns they name; the
    -- types, privileges and sql queries are checked by the C side
    exp := p_options->'expect';
    IF exp IS NOT NULL AND jsonb_typeof(exp) <> 'null' THEN
        -- known expectations, of their JSON types (load_columns.c)
        PERFORM pgetl._load_check_expect(exp);
        FOREACH k IN ARRAY ARRAY['min_rows', 'max_rows'] LOOP
            IF (exp->>k)::numeric < 0 OR (exp->>k)::numeric <> trunc((exp->>k)::numeric) THEN
                RAISE EXCEPTION 'expectation % must be a non-negative integer, not %', k, exp->k
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
        END LOOP;
        IF (exp->>'min_rows')::numeric > (exp->>'max_rows')::numeric THEN
            RAISE EXCEPTION 'expectation min_rows % is greater than max_rows %', exp->'min_rows', exp->'max_rows'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF (exp->>'max_reject_ratio')::double precision NOT BETWEEN 0 AND 1 THEN
            RAISE EXCEPTION 'expectation max_reject_ratio must be between 0 and 1, not %', exp->'max_reject_ratio'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOREACH k IN ARRAY ARRAY['unique', 'not_null', 'sql'] LOOP
            IF jsonb_typeof(exp->k) = 'array' AND (jsonb_array_length(exp->k) = 0 OR EXISTS (
                   SELECT FROM jsonb_array_elements(exp->k) e WHERE jsonb_typeof(e) <> 'string' OR e #>> '{}' = '')) THEN
                RAISE EXCEPTION 'expectation % must be a non-empty array of non-empty strings', k
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = CASE k WHEN 'sql' THEN 'For example: "sql": ["SELECT count(*) > 0 FROM public.sales WHERE region = ''north''"]'
                                        ELSE 'Name target columns, e.g. "' || k || '": ["order_id"].' END;
            END IF;
        END LOOP;
        IF jsonb_typeof(exp->'freshness') = 'object' AND (
               jsonb_typeof(exp->'freshness'->'column') IS DISTINCT FROM 'string'
               OR jsonb_typeof(exp->'freshness'->'max_age') IS DISTINCT FROM 'string'
               OR EXISTS (SELECT FROM jsonb_object_keys(exp->'freshness') kk WHERE kk NOT IN ('column', 'max_age'))) THEN
            RAISE EXCEPTION 'expectation freshness must be an object {"column": ..., "max_age": ...}'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'For example: "freshness": {"column": "sold_on", "max_age": "2 days"}';
        END IF;
        IF exp->'freshness' ? 'max_age' THEN
            BEGIN
                IF (exp->'freshness'->>'max_age')::interval <= interval '0' THEN
                    RAISE EXCEPTION 'expectation freshness needs a positive max_age, not "%"', exp->'freshness'->>'max_age'
                        USING ERRCODE = 'invalid_parameter_value';
                END IF;
            EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
                RAISE EXCEPTION 'expectation freshness: invalid max_age "%"', exp->'freshness'->>'max_age'
                    USING ERRCODE = 'invalid_datetime_format',
                          HINT = 'Give an interval, e.g. "2 days" or "36 hours".';
            END;
        END IF;
        FOR k IN SELECT e #>> '{}' FROM jsonb_array_elements(coalesce(exp->'unique', '[]') || coalesce(exp->'not_null', '[]')) e
                 UNION ALL SELECT exp->'freshness'->>'column' WHERE exp->'freshness' ? 'column' LOOP
            IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = p_target AND attname = k
                           AND attnum > 0 AND NOT attisdropped) THEN
                RAISE EXCEPTION 'expectation names column "%", which relation % does not have', k, rel.qname
                    USING ERRCODE = 'undefined_column',
                          HINT = 'Expectations name columns of the target table.';
            END IF;
        END LOOP;
        IF exp->'freshness' ? 'column' AND NOT EXISTS (
               SELECT FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                WHERE a.attrelid = p_target AND a.attname = exp->'freshness'->>'column'
                  AND (CASE t.typtype WHEN 'd' THEN t.typbasetype ELSE t.oid END)
                      IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype)) THEN
            RAISE EXCEPTION 'expectation freshness needs a date, timestamp or timestamptz column, not "%"', exp->'freshness'->>'column'
                USING ERRCODE = 'datatype_mismatch';
        END IF;
    END IF;

    -- the values of allowed and not_allowed: strings, numbers or booleans
    PERFORM pgetl._load_check_column_values(p_columns);

    -- store the document, replacing a spec of the same name; the tables
    -- that "references" name are resolved by the C side, as the caller
    SELECT * INTO s FROM pgetl.load_spec WHERE name = p_name FOR UPDATE;
    IF FOUND THEN
        s := pgetl._load_spec_for(caller, p_name, true);
        UPDATE pgetl.load_spec SET
            target = p_target, target_name = rel.qname, columns = p_columns,
            options = p_options, defined_at = now(), ref_relids = NULL
         WHERE spec_id = s.spec_id;
        id := s.spec_id;
    ELSE
        INSERT INTO pgetl.load_spec (name, owner, target, target_name, columns, options)
        VALUES (p_name, caller, p_target, rel.qname, p_columns, p_options)
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

-- Called by pgetl_add_task for kind 'load'.
CREATE FUNCTION pgetl._check_load_task(caller oid, config jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF jsonb_typeof(config->'load') IS DISTINCT FROM 'string'
       OR jsonb_typeof(config->'source') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'a load task needs config with string keys "load" and "source"'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example: config => ''{"load": "sales", "source": "/srv/in/sales.csv"}''';
    END IF;
    PERFORM pgetl._check_config_keys('load', config, '{load,source}',
        'A load task config has keys "load" and "source".');
    IF config->>'source' = '' THEN
        RAISE EXCEPTION 'load task source must not be empty' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Give an absolute server path (starting with /) or the name of staged data.';
    END IF;
    PERFORM pgetl._load_spec_for(caller, config->>'load');
END
$$;

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
