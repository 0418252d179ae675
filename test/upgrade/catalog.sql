-- A canonical description of every object of extension pgetl in the current
-- database: one line per object or per part of one (column, constraint,
-- index, trigger, function body, view body, privileges, comment, enum
-- label, state transition, and the tables pg_dump dumps).  Two databases whose outputs are equal have the
-- same pgetl catalog; test/upgrade/upgrade_test.sh compares an upgraded
-- database with a fresh install this way.  Dropped columns are left out and
-- columns are listed by position among the live ones.
\pset format unaligned
\pset tuples_only on
SET search_path = pg_catalog, pg_temp;
WITH ext AS (
    SELECT oid, extname, extversion, extconfig, extcondition FROM pg_extension WHERE extname = 'pgetl'
), member AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), rel AS (
    SELECT c.oid, c.oid::regclass::text AS name, c.relkind, c.relacl, c.reloptions
      FROM pg_class c JOIN member m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
), fn AS (
    SELECT p.oid FROM pg_proc p JOIN member m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
)
SELECT line FROM (
    SELECT 'member ' || pg_describe_object(classid, objid, 0) AS line FROM member
    UNION ALL
    SELECT format('relation %s kind %s acl %s options %s', name, relkind, relacl, reloptions) FROM rel
    UNION ALL
    SELECT format('column %s #%s %s %s %s default %s identity %s generated %s storage %s',
                  r.name, row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum), a.attname,
                  format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN 'not null' END,
                  pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated, a.attstorage)
      FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    UNION ALL
    SELECT format('constraint %s %s %s', r.name, c.conname, pg_get_constraintdef(c.oid))
      FROM rel r JOIN pg_constraint c ON c.conrelid = r.oid
    UNION ALL
    SELECT format('index %s', pg_get_indexdef(i.indexrelid))
      FROM rel r JOIN pg_index i ON i.indrelid = r.oid
    UNION ALL
    SELECT format('trigger %s', pg_get_triggerdef(t.oid))
      FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
    UNION ALL
    SELECT format('policy %s %s %s %s %s', r.name, p.polname, p.polcmd, pg_get_expr(p.polqual, p.polrelid),
                  pg_get_expr(p.polwithcheck, p.polrelid))
      FROM rel r JOIN pg_policy p ON p.polrelid = r.oid
    UNION ALL
    SELECT format('view %s %s', r.name, pg_get_viewdef(r.oid)) FROM rel r WHERE r.relkind = 'v'
    UNION ALL
    SELECT format('function %s acl %s', f.oid::regprocedure, p.proacl) || E'\n' || pg_get_functiondef(f.oid)
      FROM fn f JOIN pg_proc p ON p.oid = f.oid
    UNION ALL
    SELECT format('comment %s: %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description)
      FROM pg_description d JOIN member m ON m.classid = d.classoid AND m.objid = d.objoid
    UNION ALL
    SELECT format('schema %s acl %s', n.nspname, n.nspacl)
      FROM pg_namespace n JOIN member m ON m.classid = 'pg_namespace'::regclass AND m.objid = n.oid
    UNION ALL
    SELECT format('enum %s #%s %s', t.oid::regtype,
                  row_number() OVER (PARTITION BY t.oid ORDER BY e.enumsortorder), e.enumlabel)
      FROM pg_type t JOIN member m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
      JOIN pg_enum e ON e.enumtypid = t.oid
    UNION ALL
    -- the state machine's catalog data (src/sql/20_history.sql)
    SELECT format('run state transition %s -> %s', from_state, to_state) FROM pgetl.run_state_transition
    UNION ALL
    SELECT format('task state transition %s -> %s', from_state, to_state) FROM pgetl.task_state_transition
    UNION ALL
    SELECT format('config dump %s where %L', c.oid::regclass, ext.extcondition[i])
      FROM ext, generate_subscripts(ext.extconfig, 1) i JOIN pg_class c ON true
     WHERE c.oid = ext.extconfig[i]
) s
ORDER BY line COLLATE "C";
