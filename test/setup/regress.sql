\set ECHO none
-- Shared set-up of the pg_regress tests (sql/*.sql), included with
-- \i test/setup/regress.sql (pg_regress runs in the checkout); not echoed
-- into the expected outputs.
--   pg_temp.try(statement): runs it; its SQLSTATE ('00000' when it
--     succeeds), message ('no error'), detail and hint, as columns.
--   pg_temp.fails(statement): runs it; 'no error', or 'SQLSTATE: message'.
CREATE FUNCTION pg_temp.try(stmt text, OUT code text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    code := '00000';
    message := 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END
$$;
CREATE FUNCTION pg_temp.fails(q text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$f$;
\set ECHO all
