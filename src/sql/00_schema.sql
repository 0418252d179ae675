-- pgetl install script, assembled by the Makefile from src/sql/*.sql in name
-- order.  Catalog tables live in schema pgetl; user-facing functions are
-- created in the extension's schema (public unless CREATE EXTENSION ...
-- SCHEMA says otherwise) so that they resolve without qualification.

\echo Use "CREATE EXTENSION pgetl" to load this file. \quit

CREATE SCHEMA pgetl;
COMMENT ON SCHEMA pgetl IS 'pgetl catalog: pipelines, tasks, run history, load specs and rejects';
REVOKE ALL ON SCHEMA pgetl FROM PUBLIC;
-- Usage only, so that the filtered views below can be read; the tables
-- themselves grant nothing to PUBLIC.
GRANT USAGE ON SCHEMA pgetl TO PUBLIC;
