-- Internal functions run as the extension owner only; user-facing functions
-- are executable by everyone and check rights themselves.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'pgetl'::regnamespace
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

-- The history views read which tries run now from shared memory.
GRANT EXECUTE ON FUNCTION pgetl._running_tasks() TO PUBLIC;

-- The view pgetl.loads shows a spec's options resolved by this (a pure
-- function of its argument).
GRANT EXECUTE ON FUNCTION pgetl._load_options(jsonb) TO PUBLIC;
