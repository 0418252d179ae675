-- Loader v2 (0.2): pgetl_define_load accepts the options unlisted_columns
-- ("error" or "ignore": with a header, CSV columns the spec does not name
-- are skipped) and require_final_newline (a last record without a line
-- terminator is rejected).  The spec's options keep them; the table and
-- views are unchanged.  Same definition as src/sql/60_load.sql.

CREATE OR REPLACE FUNCTION pgetl._define_load(caller oid, p_name text, p_target oid,
                                   p_columns jsonb, p_options jsonb)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    col_keys constant text[] := '{name,target,required,type,format,min,max,pattern,prefix,max_length,max_decimals,allowed,unique}';
    -- the options, and the JSON type of each
    opt_types constant jsonb := '{"delimiter": "string", "quote": "string", "escape": "string",
        "header": "boolean", "null": "string", "encoding": "string", "mode": "string",
        "conflict_key": "array", "on_conflict": "string", "max_rejects": "number",
        "max_reject_ratio": "number", "checks": "array", "unlisted_columns": "string",
        "require_final_newline": "boolean"}';
    -- the values an option of a fixed set takes (the first is its default);
    -- mode and on_conflict are checked below, with their own messages
    opt_choices constant jsonb := '{"unlisted_columns": ["error", "ignore"]}';
    opt record;
    s pgetl.load_spec;
    rel record;
    c jsonb;
    k text;
    i integer := 0;
    id bigint;
    hdr boolean;
    tgt text;
    names text[] := '{}';
    targets text[] := '{}';
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

    -- options
    IF p_options IS NULL OR jsonb_typeof(p_options) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example: ''{"delimiter": ";", "max_rejects": 100}''::jsonb';
    END IF;
    FOR k IN SELECT jsonb_object_keys(p_options) LOOP
        IF NOT opt_types ? k THEN
            RAISE EXCEPTION 'unknown load option "%"', k
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Valid options: ' || (SELECT string_agg(o, ', ' ORDER BY o)
                                                     FROM jsonb_object_keys(opt_types) o) || '.';
        END IF;
    END LOOP;
    FOR opt IN SELECT t.key, t.value #>> '{}' AS want FROM jsonb_each(opt_types) t LOOP
        PERFORM pgetl._load_typed(p_options->opt.key, 'option ' || opt.key, opt.want);
    END LOOP;
    FOR opt IN SELECT t.key, t.value AS choices FROM jsonb_each(opt_choices) t LOOP
        IF jsonb_typeof(p_options->opt.key) = 'string' AND NOT opt.choices @> jsonb_build_array(p_options->opt.key) THEN
            RAISE EXCEPTION 'invalid value for option %: %', opt.key, p_options->opt.key
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Valid values: ' || (SELECT string_agg(v, ', ' ORDER BY o)
                                                    FROM jsonb_array_elements_text(opt.choices) WITH ORDINALITY AS x(v, o)) || '.';
        END IF;
    END LOOP;
    hdr := coalesce(pgetl._load_typed(p_options->'header', 'option header', 'boolean')::boolean, true);
    IF p_options->>'unlisted_columns' = 'ignore' AND NOT hdr THEN
        RAISE EXCEPTION 'option unlisted_columns "ignore" needs a header'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Without a header, CSV columns are matched to the spec by position.',
                  HINT = 'Set "header": true, or list every CSV column (with "target": null to skip one).';
    END IF;
    v_delim := coalesce(pgetl._load_typed(p_options->'delimiter', 'option delimiter', 'string') #>> '{}', ',');
    v_quote := coalesce(pgetl._load_typed(p_options->'quote', 'option quote', 'string') #>> '{}', '"');
    v_escape := pgetl._load_typed(p_options->'escape', 'option escape', 'string') #>> '{}';
    v_enc := coalesce(pgetl._load_typed(p_options->'encoding', 'option encoding', 'string') #>> '{}', 'UTF8');
    PERFORM pgetl._load_typed(p_options->'null', 'option null', 'string');
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
    v_mode := coalesce(pgetl._load_typed(p_options->'mode', 'option mode', 'string') #>> '{}', 'append');
    IF v_mode NOT IN ('append', 'upsert', 'replace') THEN
        RAISE EXCEPTION 'unknown load mode "%"', v_mode
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Valid modes: append, upsert, replace.';
    END IF;
    v_onc := pgetl._load_typed(p_options->'on_conflict', 'option on_conflict', 'string') #>> '{}';
    IF pgetl._load_typed(p_options->'conflict_key', 'option conflict_key', 'array') IS NOT NULL THEN
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
    v_max := (pgetl._load_typed(p_options->'max_rejects', 'option max_rejects', 'number') #>> '{}')::numeric;
    IF v_max < 0 THEN
        RAISE EXCEPTION 'max_rejects must be zero or more, not %', v_max USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_ratio := (pgetl._load_typed(p_options->'max_reject_ratio', 'option max_reject_ratio', 'number') #>> '{}')::double precision;
    IF v_ratio NOT BETWEEN 0 AND 1 THEN
        RAISE EXCEPTION 'max_reject_ratio must be between 0 and 1, not %', v_ratio USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- columns
    IF p_columns IS NULL OR jsonb_typeof(p_columns) <> 'array' OR jsonb_array_length(p_columns) = 0 THEN
        RAISE EXCEPTION 'columns must be a non-empty JSON array of objects'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example: ''[{"name": "price", "type": "numeric", "min": 0}]''::jsonb';
    END IF;
    FOR c IN SELECT e FROM jsonb_array_elements(p_columns) e LOOP
        i := i + 1;
        IF jsonb_typeof(c) <> 'object' THEN
            RAISE EXCEPTION 'column % of the spec must be a JSON object, not %', i, jsonb_typeof(c)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOR k IN SELECT jsonb_object_keys(c) LOOP
            IF NOT k = ANY (col_keys) THEN
                RAISE EXCEPTION 'unknown key "%" in column %', k, coalesce(c->>'name', i::text)
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Valid keys: ' || array_to_string(col_keys, ', ') || '.';
            END IF;
        END LOOP;
        IF pgetl._load_typed(c->'name', 'name of column ' || i, 'string') IS NULL AND hdr THEN
            RAISE EXCEPTION 'column % has no name', i
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'With "header": true, each column needs the "name" of its CSV header.';
        END IF;
        IF c->>'name' = ANY (names) THEN
            RAISE EXCEPTION 'column "%" appears twice in the spec', c->>'name' USING ERRCODE = 'duplicate_column';
        END IF;
        names := names || (c->>'name');
        IF c ? 'target' THEN
            tgt := pgetl._load_typed(c->'target', 'target of column ' || coalesce(c->>'name', i::text), 'string') #>> '{}';
        ELSE
            tgt := c->>'name';
        END IF;
        IF tgt IS NOT NULL THEN
            IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = p_target AND attname = tgt
                           AND attnum > 0 AND NOT attisdropped) THEN
                RAISE EXCEPTION 'column "%" of relation % does not exist', tgt, rel.qname
                    USING ERRCODE = 'undefined_column',
                          HINT = 'Set "target" to the column to load it into, or to null to skip this CSV column.';
            END IF;
            IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = p_target AND attname = tgt AND attgenerated <> '') THEN
                RAISE EXCEPTION 'column "%" of relation % is a generated column', tgt, rel.qname
                    USING ERRCODE = 'generated_always';
            END IF;
            IF tgt = ANY (targets) THEN
                RAISE EXCEPTION 'target column "%" is loaded from two CSV columns', tgt USING ERRCODE = 'duplicate_column';
            END IF;
            targets := targets || tgt;
        END IF;
        IF tgt IS NULL AND (c ? 'min' OR c ? 'max' OR c ? 'format' OR c ? 'allowed') AND NOT c ? 'type' THEN
            RAISE EXCEPTION 'column "%" is not loaded, so its min, max, format and allowed need a "type"', coalesce(c->>'name', i::text)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM pgetl._load_typed(c->'required', 'required', 'boolean'),
                pgetl._load_typed(c->'unique', 'unique', 'boolean'),
                pgetl._load_typed(c->'type', 'type', 'string'),
                pgetl._load_typed(c->'format', 'format', 'string'),
                pgetl._load_typed(c->'pattern', 'pattern', 'string'),
                pgetl._load_typed(c->'prefix', 'prefix', 'string'),
                pgetl._load_typed(c->'max_length', 'max_length', 'number'),
                pgetl._load_typed(c->'max_decimals', 'max_decimals', 'number'),
                pgetl._load_typed(c->'allowed', 'allowed', 'array'),
                pgetl._load_scalar(c->'min', 'min'),
                pgetl._load_scalar(c->'max', 'max');
        IF (c->>'max_length')::numeric < 0 OR (c->>'max_decimals')::numeric < 0
           OR (c->>'max_length')::numeric <> trunc((c->>'max_length')::numeric)
           OR (c->>'max_decimals')::numeric <> trunc((c->>'max_decimals')::numeric) THEN
            RAISE EXCEPTION 'max_length and max_decimals of column "%" must be non-negative integers', coalesce(c->>'name', i::text)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF c ? 'pattern' THEN
            BEGIN
                PERFORM '' ~ (c->>'pattern');
            EXCEPTION WHEN invalid_regular_expression THEN
                RAISE EXCEPTION 'invalid pattern for column "%": %', coalesce(c->>'name', i::text), SQLERRM
                    USING ERRCODE = 'invalid_regular_expression',
                          HINT = 'Patterns are PostgreSQL regular expressions (POSIX ARE), as with the ~ operator.';
            END;
        END IF;
    END LOOP;

    -- checks
    IF pgetl._load_typed(p_options->'checks', 'option checks', 'array') IS NOT NULL THEN
        FOR ck IN SELECT e FROM jsonb_array_elements(p_options->'checks') e LOOP
            IF jsonb_typeof(ck) <> 'object' OR jsonb_typeof(ck->'name') IS DISTINCT FROM 'string'
               OR jsonb_typeof(ck->'expression') IS DISTINCT FROM 'string'
               OR EXISTS (SELECT FROM jsonb_object_keys(ck) kk WHERE kk NOT IN ('name', 'expression')) THEN
                RAISE EXCEPTION 'each check must be an object {"name": ..., "expression": ...}'
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'For example: {"name": "positive_total", "expression": "quantity * price > 0"}';
            END IF;
            IF ck->>'name' = ANY (ck_names) THEN
                RAISE EXCEPTION 'check "%" appears twice', ck->>'name' USING ERRCODE = 'duplicate_object';
            END IF;
            ck_names := ck_names || (ck->>'name');
        END LOOP;
    END IF;

    -- store, replacing a spec of the same name
    SELECT * INTO s FROM pgetl.load_spec WHERE name = p_name FOR UPDATE;
    IF FOUND THEN
        s := pgetl._load_spec_for(caller, p_name, true);
        DELETE FROM pgetl.load_column WHERE spec_id = s.spec_id;
        DELETE FROM pgetl.load_check WHERE spec_id = s.spec_id;
        UPDATE pgetl.load_spec SET
            target = p_target, target_name = rel.qname, delimiter = v_delim, quote = v_quote,
            escape = v_escape, header = hdr, null_string = coalesce(p_options->>'null', ''),
            encoding = v_enc, mode = v_mode, conflict_key = ckey, on_conflict = v_onc,
            max_rejects = v_max, max_reject_ratio = v_ratio, columns = p_columns,
            options = p_options, defined_at = now()
         WHERE spec_id = s.spec_id;
        id := s.spec_id;
    ELSE
        INSERT INTO pgetl.load_spec (name, owner, target, target_name, delimiter, quote, escape,
                                     header, null_string, encoding, mode, conflict_key,
                                     on_conflict, max_rejects, max_reject_ratio, columns, options)
        VALUES (p_name, caller, p_target, rel.qname, v_delim, v_quote, v_escape, hdr,
                coalesce(p_options->>'null', ''), v_enc, v_mode, ckey, v_onc, v_max, v_ratio,
                p_columns, p_options)
        RETURNING spec_id INTO id;
    END IF;
    INSERT INTO pgetl.load_column (spec_id, ordinal, name, target, type, required, format, min, max,
                                   pattern, prefix, max_length, max_decimals, allowed, is_unique)
    SELECT id, o::integer, e->>'name',
           CASE WHEN e ? 'target' THEN e->>'target' ELSE e->>'name' END,
           e->>'type', coalesce((e->>'required')::boolean, false), e->>'format',
           pgetl._load_scalar(e->'min', 'min'), pgetl._load_scalar(e->'max', 'max'),
           e->>'pattern', e->>'prefix', (e->>'max_length')::integer, (e->>'max_decimals')::integer,
           CASE WHEN jsonb_typeof(e->'allowed') = 'array'
                THEN ARRAY(SELECT pgetl._load_scalar(a, 'allowed value') FROM jsonb_array_elements(e->'allowed') a) END,
           coalesce((e->>'unique')::boolean, false)
      FROM jsonb_array_elements(p_columns) WITH ORDINALITY AS x(e, o);
    INSERT INTO pgetl.load_check (spec_id, ordinal, name, expression)
    SELECT id, o::integer, e->>'name', e->>'expression'
      FROM jsonb_array_elements(coalesce(p_options->'checks', '[]')) WITH ORDINALITY AS x(e, o);
    RETURN id;
END
$$;
