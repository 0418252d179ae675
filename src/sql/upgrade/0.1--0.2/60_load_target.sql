
-- Load specs name their target table by regclass (pg_dump writes the name).
ALTER TABLE pgetl.load_spec ALTER COLUMN target TYPE regclass USING target::regclass;
