-- Loader v2 (0.2): pgetl_define_load accepts the options unlisted_columns
-- ("error" or "ignore": with a header, CSV columns the spec does not name
-- are skipped) and require_final_newline (a last record without a line
-- terminator is rejected).  The spec's options keep them; the table and
-- views are unchanged.  Same definition as src/sql/60_load.sql.

--@function pgetl._define_load
