-- Set-up for customer_pipeline, run once by a superuser in the target
-- database: the ordinary role that owns the pipeline and what it needs.
-- psql variable owner: the role name (default etl).
\set ON_ERROR_STOP 1
SELECT coalesce(:'owner', 'etl') AS owner \gset
SELECT format('CREATE ROLE %I LOGIN', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
-- tasks connect as the owner; it creates its schema, reads the CSV files
-- (COPY's rule: pg_read_server_files) and writes the export
SELECT format('GRANT CREATE ON DATABASE %I TO %I', current_database(), :'owner') \gexec
SELECT format('GRANT pg_read_server_files, pg_write_server_files TO %I', :'owner') \gexec
CREATE EXTENSION IF NOT EXISTS pgetl;
