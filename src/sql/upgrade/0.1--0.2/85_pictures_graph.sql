-- Pictures (issue 12): pgetl_graph draws a pipeline's DAG, its tasks
-- coloured by the states of a run (src/graph.c).  SVG is laid out by
-- Graphviz in the separate module pgetl_graphviz (src/graphviz.c), loaded
-- only by a backend that draws an SVG: pgetl._graph_svg is its only entry.

CREATE FUNCTION pgetl._graph_svg(dot text) RETURNS text
    AS '$libdir/pgetl_graphviz', 'pgetl_graphviz_svg' LANGUAGE C STRICT;
COMMENT ON FUNCTION pgetl._graph_svg(text) IS
'internal: DOT made by pgetl_graph laid out with Graphviz''s dot and rendered as SVG (module pgetl_graphviz)';

CREATE FUNCTION @extschema@.pgetl_graph(pipeline text, run_id bigint DEFAULT NULL,
                                        format text DEFAULT 'svg')
RETURNS text AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.pgetl_graph(text, bigint, text) IS
'the pipeline''s DAG (left to right) as svg, dot or mermaid, each task coloured by its state in run_id (default: the latest run) with Airflow''s colours';

-- (src/sql/99_privileges.sql does this at install)
REVOKE ALL ON FUNCTION pgetl._graph_svg(text) FROM PUBLIC;
