-- pgetl_graph: a pipeline's DAG as DOT and Mermaid (exact text), coloured
-- by a run's task states; bad input with its SQLSTATE; what another role
-- may see.  (SVG: test/pictures/graph_test.sh.)
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgetl CASCADE;
DROP ROLE IF EXISTS pgetl_graph_member;
DROP ROLE IF EXISTS pgetl_graph_other;
RESET client_min_messages;
CREATE EXTENSION pgetl;
\i test/setup/regress.sql

-- A diamond, extract -> {clean, enrich} -> report (all_done), and notify
-- after clean; names that need escaping in DOT and Mermaid.
SELECT pgetl_create_pipeline('dia"mond');
SELECT pgetl_add_task('dia"mond', 'extract', 'SELECT 1');
SELECT pgetl_add_task('dia"mond', 'clean', 'SELECT 1/0', '{extract}', retries => 2, retry_delay => '0 s');
SELECT pgetl_add_task('dia"mond', 'enrich "geo" #2 <b>&\x', 'SELECT true', '{extract}', kind => 'check');
SELECT pgetl_add_task('dia"mond', 'report', 'SELECT 1', ARRAY['clean', 'enrich "geo" #2 <b>&\x'],
                      trigger_rule => 'all_done');
SELECT pgetl_add_task('dia"mond', 'notify', 'SELECT 1', '{clean}');

-- Before any run: no colours, no legend.
SELECT pgetl_graph('dia"mond', format => 'dot');
SELECT pgetl_graph('dia"mond', format => 'mermaid');

-- A failed run: clean fails its three tries, notify is upstream_failed,
-- report (all_done) runs anyway.
SELECT code, message FROM pg_temp.try($$SELECT pgetl_run('dia"mond')$$);
SELECT task, try_number, state FROM pgetl.task_run ORDER BY task, try_number;
-- the latest run by default, or named
SELECT pgetl_graph('dia"mond', format => 'dot');
SELECT pgetl_graph('dia"mond', 1, 'mermaid');
SELECT pgetl_graph('dia"mond') = pgetl_graph('dia"mond', 1, 'svg') AS same_svg,
       pgetl_graph('dia"mond') LIKE '<?xml%</svg>%' AS is_svg;

-- Bad input
\x on
SELECT * FROM pg_temp.try($$SELECT pgetl_graph('dia"mond', format => 'png')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_graph('dia"mond', format => NULL)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_graph(NULL)$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_graph('nope')$$);
SELECT * FROM pg_temp.try($$SELECT pgetl_graph('dia"mond', 42, 'dot')$$);
\x off

-- Another pipeline: its graph has no run, and run 1 is not one of its runs.
SELECT pgetl_create_pipeline('other');
SELECT pgetl_add_task('other', 'only', 'SELECT 1');
SELECT pgetl_graph('other', format => 'mermaid');
SELECT code, message FROM pg_temp.try($$SELECT pgetl_graph('other', 1, 'dot')$$);

-- A role that is not a member of the owner sees neither the pipeline nor
-- its run, even from a pipeline of its own: 42704, as if they did not
-- exist.  A member of the owner of a pipeline sees its graph.
CREATE ROLE pgetl_graph_other LOGIN;
CREATE ROLE pgetl_graph_member LOGIN IN ROLE pgetl_graph_other;
SET ROLE pgetl_graph_other;
SELECT pgetl_create_pipeline('theirs');
SELECT pgetl_add_task('theirs', 'theirs', 'SELECT 1');
SELECT code, message FROM pg_temp.try($$SELECT pgetl_graph('dia"mond', format => 'dot')$$);
SELECT code, message FROM pg_temp.try($$SELECT pgetl_graph('dia"mond', 1, 'mermaid')$$);
SELECT code, message FROM pg_temp.try($$SELECT pgetl_graph('theirs', 1, 'dot')$$);
SET ROLE pgetl_graph_member;
SELECT pgetl_graph('theirs', format => 'mermaid');
SELECT code, message FROM pg_temp.try($$SELECT pgetl_graph('dia"mond', format => 'mermaid')$$);
RESET ROLE;
SELECT pgetl_drop_pipeline('theirs');
DROP ROLE pgetl_graph_member;
DROP ROLE pgetl_graph_other;
