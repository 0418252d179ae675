/*-------------------------------------------------------------------------
 *
 * graph.c
 *	  pgetl_graph: a pipeline's DAG as DOT, Mermaid or SVG, its tasks
 *	  coloured by the states of one run.
 *
 * The graph is read as the calling role, through the user views
 * (pgetl.pipelines, pgetl.tasks, pgetl.pipeline_run, pgetl.task_run), so
 * that it shows exactly what the role may see: a pipeline or run of an
 * owner it is not a member of does not exist for it.  The DOT text built
 * here is the one source of truth: format 'dot' returns it, format 'svg'
 * hands it to Graphviz in the separate module pgetl_graphviz (through the
 * internal function pgetl._graph_svg, src/graphviz.c), so that a backend
 * loads libgvc only when it draws an SVG.  Mermaid is produced from the
 * same in-memory graph.
 *
 * Colours are Airflow's (airflow/utils/state.py, State.state_color, as CSS
 * colours), with white text on green and red as Airflow does; pgetl's
 * cancelled, which Airflow has not, takes the colour of Airflow's shutdown.
 *
 *-------------------------------------------------------------------------
 */
#include "pgetl.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "state_colors.h"
#include "util.h"

/*
 * A state's colours: pgetl's one colour table (state_colors.h), in the order
 * of the legend; its last entry, "no_status", is for a task without a try
 * in the run.
 */
typedef PgetlStateColor StateStyle;
#define state_styles pgetl_state_colors
#define NSTATES lengthof(state_styles)
#define NO_STATUS (NSTATES - 1)
#define STATE_NAME(i) pgetl_state_color_name(&state_styles[i])

typedef struct GraphNode
{
	char	   *name;
	char	   *kind;
	char	   *trigger_rule;	/* NULL for the default, all_success, and for
								 * a teardown task (its rule is implied) */
	bool		setup;			/* a setup task */
	bool		teardown;		/* a teardown task */
	int			state;			/* index in state_styles; -1 without a run */
	int			try_number;		/* of the latest try; 0 without one */
	int			map_length;		/* a mapped task's instances; -1: not mapped */
	int			nupstream;
	char	  **upstream;
} GraphNode;

typedef struct GraphEdge
{
	int			from;			/* upstream node */
	int			to;				/* downstream node */
	bool		dashed;			/* from a setup task to its teardown task */
} GraphEdge;

typedef struct Graph
{
	char	   *pipeline;
	bool		has_run;
	int64		run_id;
	char	   *run_state;
	int			nnodes;
	GraphNode  *nodes;			/* sorted by name, byte order */
	int			nedges;
	GraphEdge  *edges;			/* sorted by (from, to) */
} Graph;


static int
node_cmp(const void *a, const void *b)
{
	return strcmp(((const GraphNode *) a)->name, ((const GraphNode *) b)->name);
}

static int
edge_cmp(const void *a, const void *b)
{
	const GraphEdge *x = a;
	const GraphEdge *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return x->to < y->to ? -1 : (x->to > y->to);
}

static int
node_find(Graph *g, const char *name)
{
	GraphNode	key;
	GraphNode  *n;

	key.name = (char *) name;
	n = bsearch(&key, g->nodes, g->nnodes, sizeof(GraphNode), node_cmp);
	return n ? (int) (n - g->nodes) : -1;
}

/*
 * spi_text - the column named col of row row of the last SPI result as a
 * palloc'd string in the caller's context, NULL for NULL.
 */
static char *
spi_text(MemoryContext cxt, int row, const char *col)
{
	char	   *v = pgetl_spi_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(cxt, v) : NULL;
}

/*
 * graph_read - read pipeline's tasks, dependencies and, for run_id (or, when
 * run_id_null, the pipeline's latest run, if any), the latest try of each
 * task, as the calling role.  Everything is palloc'd in the caller's memory
 * context.  Raises 42704 when the pipeline or the run is not visible.
 *
 * The queries name every object by schema, and run with search_path pinned
 * to pg_catalog (a GUC nest level undone before returning, or by the
 * error's abort): a search_path set by ALTER DATABASE or ALTER ROLE cannot
 * make a caller (a superuser, say) run another role's functions.
 */
static Graph *
graph_read(const char *pipeline, bool run_id_null, int64 run_id)
{
	MemoryContext cxt = CurrentMemoryContext;
	Graph	   *g = palloc0(sizeof(Graph));
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	int			nestlevel;
	int			ret;

	g->pipeline = pstrdup(pipeline);
	values[0] = CStringGetTextDatum(pipeline);
	values[1] = Int64GetDatum(run_id);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	nestlevel = NewGUCNestLevel();
	pgetl_pin_search_path(GUC_ACTION_SAVE);

	ret = SPI_execute_with_args("SELECT 1 FROM pgetl.pipelines p "
								"WHERE p.pipeline OPERATOR(pg_catalog.=) $1",
								1, types, values, nulls, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading pgetl.pipelines failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pipeline \"%s\" does not exist", pipeline),
				 errhint("Create it with pgetl_create_pipeline(), or list yours with SELECT * FROM pgetl.pipelines.")));

	if (run_id_null)
		ret = SPI_execute_with_args("SELECT r.run_id, r.state FROM pgetl.pipeline_run r "
									"WHERE r.pipeline OPERATOR(pg_catalog.=) $1 "
									"ORDER BY r.run_id DESC LIMIT 1",
									1, types, values, nulls, true, 1);
	else
		ret = SPI_execute_with_args("SELECT r.run_id, r.state FROM pgetl.pipeline_run r "
									"WHERE r.pipeline OPERATOR(pg_catalog.=) $1 "
									"AND r.run_id OPERATOR(pg_catalog.=) $2",
									2, types, values, nulls, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading pgetl.pipeline_run failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		bool		isnull;

		g->has_run = true;
		g->run_id = DatumGetInt64(pgetl_spi_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, "run_id", &isnull));
		g->run_state = spi_text(cxt, 0, "state");
	}
	else if (!run_id_null)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("run " INT64_FORMAT " of pipeline \"%s\" does not exist",
						run_id, pipeline),
				 errdetail("The run is not one of this pipeline's runs that you may see."),
				 errhint("List the pipeline's runs with SELECT * FROM pgetl.pipeline_run.")));

	values[1] = Int64GetDatum(g->run_id);
	nulls[1] = g->has_run ? ' ' : 'n';
	/* a mapped task is one node: its own try, "[n]" its instances */
	ret = SPI_execute_with_args("SELECT t.task, t.kind, t.trigger_rule, l.state, l.try_number, "
								"       t.upstream, t.setup, t.teardown, "
								"       CASE WHEN EXISTS (SELECT FROM pgetl.task_run i "
								"                          WHERE i.run_id OPERATOR(pg_catalog.=) $2 "
								"                            AND i.task OPERATOR(pg_catalog.=) t.task "
								"                            AND i.map_index IS NOT NULL) "
								"            THEN l.rows::integer END AS map_length "
								"  FROM pgetl.tasks t "
								"  LEFT JOIN (SELECT DISTINCT ON (r.task) r.task, r.state, r.try_number, r.rows "
								"               FROM pgetl.task_run r "
								"              WHERE r.run_id OPERATOR(pg_catalog.=) $2 AND r.map_index IS NULL "
								"              ORDER BY r.task, r.try_number DESC) l "
								"    ON l.task OPERATOR(pg_catalog.=) t.task "
								" WHERE t.pipeline OPERATOR(pg_catalog.=) $1",
								2, types, values, nulls, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading pgetl.tasks failed: %s", SPI_result_code_string(ret));

	g->nnodes = (int) SPI_processed;
	g->nodes = MemoryContextAllocZero(cxt, sizeof(GraphNode) * Max(g->nnodes, 1));
	for (int i = 0; i < g->nnodes; i++)
	{
		GraphNode  *n = &g->nodes[i];
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;
		char	   *rule;

		n->name = spi_text(cxt, i, "task");
		n->kind = spi_text(cxt, i, "kind");
		d = pgetl_spi_getbinval(tup, desc, "setup", &isnull);
		n->setup = !isnull && DatumGetBool(d);
		d = pgetl_spi_getbinval(tup, desc, "teardown", &isnull);
		n->teardown = !isnull && DatumGetBool(d);
		rule = spi_text(cxt, i, "trigger_rule");
		n->trigger_rule = (rule && strcmp(rule, "all_success") != 0 && !n->teardown) ? rule : NULL;
		if (!g->has_run)
			n->state = -1;
		else
		{
			char	   *state = spi_text(cxt, i, "state");

			n->state = pgetl_state_color_index(state);
		}
		d = pgetl_spi_getbinval(tup, desc, "try_number", &isnull);
		n->try_number = isnull ? 0 : DatumGetInt32(d);
		d = pgetl_spi_getbinval(tup, desc, "map_length", &isnull);
		n->map_length = isnull ? -1 : DatumGetInt32(d);
		d = pgetl_spi_getbinval(tup, desc, "upstream", &isnull);
		if (!isnull)
		{
			ArrayType  *arr = DatumGetArrayTypeP(d);
			Datum	   *elems;
			bool	   *enulls;
			int			nelems;
			MemoryContext old = MemoryContextSwitchTo(cxt);

			deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &enulls, &nelems);
			n->upstream = palloc(sizeof(char *) * Max(nelems, 1));
			for (int j = 0; j < nelems; j++)
				if (!enulls[j])
					n->upstream[n->nupstream++] = TextDatumGetCString(elems[j]);
			MemoryContextSwitchTo(old);
		}
	}

	AtEOXact_GUC(true, nestlevel);
	SPI_finish();

	/* nodes in byte order of their names; edges in order of their ends */
	qsort(g->nodes, g->nnodes, sizeof(GraphNode), node_cmp);
	for (int i = 0; i < g->nnodes; i++)
		g->nedges += g->nodes[i].nupstream;
	g->edges = palloc(sizeof(GraphEdge) * Max(g->nedges, 1));
	g->nedges = 0;
	for (int i = 0; i < g->nnodes; i++)
		for (int j = 0; j < g->nodes[i].nupstream; j++)
		{
			int			from = node_find(g, g->nodes[i].upstream[j]);

			if (from < 0)
				continue;		/* cannot happen: edges stay in one pipeline */
			g->edges[g->nedges].from = from;
			g->edges[g->nedges].to = i;
			g->edges[g->nedges].dashed = g->nodes[from].setup && g->nodes[i].teardown;
			g->nedges++;
		}
	qsort(g->edges, g->nedges, sizeof(GraphEdge), edge_cmp);
	return g;
}

/* the title: "<pipeline>", or "<pipeline>, run N: state" (ASCII: any encoding) */
static char *
graph_title(Graph *g)
{
	if (!g->has_run)
		return g->pipeline;
	return psprintf("%s, run " INT64_FORMAT ": %s", g->pipeline, g->run_id,
					g->run_state);
}

/* ---------------------------------------------------------------- DOT --- */

/*
 * dot_string - s as a DOT double-quoted string.  A quote is escaped; a
 * backslash is doubled, which Graphviz reads as one backslash in a label
 * (where \n, \N, ... would otherwise be escapes) but keeps doubled in an ID.
 * In a label, a newline becomes \n.
 */
static void
dot_string(StringInfo buf, const char *s, bool label)
{
	appendStringInfoChar(buf, '"');
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			appendStringInfoChar(buf, '\\');
		if (label && *s == '\n')
		{
			appendStringInfoString(buf, "\\n");
			continue;
		}
		if (label && *s == '\r')
			continue;
		appendStringInfoChar(buf, *s);
	}
	appendStringInfoChar(buf, '"');
}

/* s escaped for a Graphviz HTML-like label */
static void
html_text(StringInfo buf, const char *s)
{
	for (; *s; s++)
	{
		switch (*s)
		{
			case '&':
				appendStringInfoString(buf, "&amp;");
				break;
			case '<':
				appendStringInfoString(buf, "&lt;");
				break;
			case '>':
				appendStringInfoString(buf, "&gt;");
				break;
			case '"':
				appendStringInfoString(buf, "&quot;");
				break;
			case '\n':
			case '\r':
				appendStringInfoChar(buf, ' ');
				break;
			default:
				appendStringInfoChar(buf, *s);
		}
	}
}

/* the states present in the run, in legend order */
static void
graph_states_present(Graph *g, bool *present)
{
	memset(present, 0, sizeof(bool) * NSTATES);
	for (int i = 0; i < g->nnodes; i++)
		if (g->nodes[i].state >= 0)
			present[g->nodes[i].state] = true;
}

/*
 * the text under a node's name: kind (and setup or teardown), trigger rule,
 * state and try
 */
static List *
node_lines(GraphNode *n)
{
	List	   *lines = NIL;

	if (n->setup || n->teardown)
		lines = lappend(lines, psprintf("%s, %s", n->kind, n->setup ? "setup" : "teardown"));
	else if (n->map_length >= 0)
		lines = lappend(lines, psprintf("%s, mapped [%d]", n->kind, n->map_length));
	else
		lines = lappend(lines, n->kind);
	if (n->trigger_rule)
		lines = lappend(lines, psprintf("trigger: %s", n->trigger_rule));
	if (n->state >= 0 && n->state != NO_STATUS)
	{
		if (n->try_number > 1)
			lines = lappend(lines, psprintf("%s, try %d", STATE_NAME(n->state),
											n->try_number));
		else
			lines = lappend(lines, (char *) STATE_NAME(n->state));
	}
	return lines;
}

/*
 * graph_dot - the graph in DOT, palloc'd.  Nodes are quoted task names;
 * the legend (states present, with their colours) is the graph's label,
 * an HTML-like table, so that it adds no node that could clash with a task.
 */
static char *
graph_dot(Graph *g)
{
	StringInfoData buf;
	bool		present[NSTATES];
	int			npresent = 0;

	graph_states_present(g, present);
	for (int i = 0; i < (int) NSTATES; i++)
		npresent += present[i];

	initStringInfo(&buf);
	appendStringInfoString(&buf, "digraph ");
	dot_string(&buf, g->pipeline, false);
	appendStringInfoString(&buf, " {\n");
	appendStringInfoString(&buf, "\tgraph [rankdir=LR, fontname=\"Helvetica\", fontsize=10, labelloc=b, labeljust=l,\n"
						   "\t       label=<<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"2\" CELLPADDING=\"3\">");
	appendStringInfo(&buf, "<TR><TD BORDER=\"0\" COLSPAN=\"%d\">", Max(npresent, 1));
	html_text(&buf, graph_title(g));
	appendStringInfoString(&buf, "</TD></TR>");
	if (npresent > 0)
	{
		appendStringInfoString(&buf, "<TR>");
		for (int i = 0; i < (int) NSTATES; i++)
			if (present[i])
				appendStringInfo(&buf, "<TD BGCOLOR=\"%s\"><FONT COLOR=\"%s\">%s</FONT></TD>",
								 state_styles[i].fill, state_styles[i].font,
								 i == NO_STATUS ? "no status" : STATE_NAME(i));
		appendStringInfoString(&buf, "</TR>");
	}
	appendStringInfoString(&buf, "</TABLE>>];\n");
	appendStringInfoString(&buf, "\tnode [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10, "
						   "fillcolor=\"#FFFFFF\", color=\"#555555\"];\n");
	appendStringInfoString(&buf, "\tedge [color=\"#555555\", arrowsize=0.7];\n");

	for (int i = 0; i < g->nnodes; i++)
	{
		GraphNode  *n = &g->nodes[i];
		StringInfoData label;
		ListCell   *lc;

		initStringInfo(&label);
		appendStringInfoString(&label, n->name);
		foreach(lc, node_lines(n))
			appendStringInfo(&label, "\n%s", (char *) lfirst(lc));

		appendStringInfoChar(&buf, '\t');
		dot_string(&buf, n->name, false);
		appendStringInfoString(&buf, " [label=");
		dot_string(&buf, label.data, true);
		if (n->state >= 0)
			appendStringInfo(&buf, ", fillcolor=\"%s\", fontcolor=\"%s\"",
							 state_styles[n->state].fill, state_styles[n->state].font);
		appendStringInfoString(&buf, "];\n");
	}
	for (int i = 0; i < g->nedges; i++)
	{
		appendStringInfoChar(&buf, '\t');
		dot_string(&buf, g->nodes[g->edges[i].from].name, false);
		appendStringInfoString(&buf, " -> ");
		dot_string(&buf, g->nodes[g->edges[i].to].name, false);
		appendStringInfoString(&buf, g->edges[i].dashed ? " [style=dashed];\n" : ";\n");
	}
	appendStringInfoString(&buf, "}\n");
	return buf.data;
}

/* ------------------------------------------------------------ Mermaid --- */

/*
 * mermaid_text - s inside a Mermaid double-quoted label: characters that
 * Mermaid or the HTML it renders would read become entity codes
 * (#quot; #35; ...), a newline a line break.
 */
static void
mermaid_text(StringInfo buf, const char *s)
{
	for (; *s; s++)
	{
		switch (*s)
		{
			case '"':
				appendStringInfoString(buf, "#quot;");
				break;
			case '#':
				appendStringInfoString(buf, "#35;");
				break;
			case '&':
				appendStringInfoString(buf, "#amp;");
				break;
			case '<':
				appendStringInfoString(buf, "#lt;");
				break;
			case '>':
				appendStringInfoString(buf, "#gt;");
				break;
			case '\n':
				appendStringInfoString(buf, "<br/>");
				break;
			case '\r':
				break;
			default:
				appendStringInfoChar(buf, *s);
		}
	}
}

/* s as a YAML double-quoted scalar (Mermaid's front matter) */
static void
yaml_string(StringInfo buf, const char *s)
{
	appendStringInfoChar(buf, '"');
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			appendStringInfo(buf, "\\%c", *s);
		else if (*s == '\n')
			appendStringInfoString(buf, "\\n");
		else if ((unsigned char) *s < 0x20)
			appendStringInfo(buf, "\\x%02x", (unsigned char) *s);
		else
			appendStringInfoChar(buf, *s);
	}
	appendStringInfoChar(buf, '"');
}

/*
 * graph_mermaid - the graph as a Mermaid flowchart, palloc'd.  Node ids are
 * t1, t2, ... in name order (task names are labels, never ids, so no name
 * can clash with Mermaid's syntax); states are classes; the legend is a
 * subgraph of one node per state present.
 */
static char *
graph_mermaid(Graph *g)
{
	StringInfoData buf;
	bool		present[NSTATES];

	graph_states_present(g, present);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "---\ntitle: ");
	yaml_string(&buf, graph_title(g));
	appendStringInfoString(&buf, "\n---\nflowchart LR\n");
	for (int i = 0; i < g->nnodes; i++)
	{
		GraphNode  *n = &g->nodes[i];
		ListCell   *lc;

		appendStringInfo(&buf, "    t%d[\"", i + 1);
		mermaid_text(&buf, n->name);
		foreach(lc, node_lines(n))
		{
			appendStringInfoString(&buf, "<br/>");
			mermaid_text(&buf, (char *) lfirst(lc));
		}
		appendStringInfoString(&buf, "\"]");
		if (n->state >= 0)
			appendStringInfo(&buf, ":::%s", STATE_NAME(n->state));
		appendStringInfoChar(&buf, '\n');
	}
	for (int i = 0; i < g->nedges; i++)
		appendStringInfo(&buf, "    t%d %s t%d\n", g->edges[i].from + 1,
						 g->edges[i].dashed ? "-.->" : "-->", g->edges[i].to + 1);
	if (g->has_run)
	{
		bool		any = false;

		for (int i = 0; i < (int) NSTATES; i++)
			any |= present[i];
		if (any)
		{
			appendStringInfoString(&buf, "    subgraph legend[\"states\"]\n        direction LR\n");
			for (int i = 0; i < (int) NSTATES; i++)
				if (present[i])
					appendStringInfo(&buf, "        s_%s[\"%s\"]:::%s\n", STATE_NAME(i),
									 i == NO_STATUS ? "no status" : STATE_NAME(i),
									 STATE_NAME(i));
			appendStringInfoString(&buf, "    end\n");
		}
		for (int i = 0; i < (int) NSTATES; i++)
			if (present[i])
				appendStringInfo(&buf, "    classDef %s fill:%s,color:%s,stroke:#555555\n",
								 STATE_NAME(i), state_styles[i].fill, state_styles[i].font);
	}
	return buf.data;
}

/* ---------------------------------------------------------- pgetl_graph --- */

/*
 * pgetl_graph(pipeline text, run_id bigint DEFAULT NULL,
 *			   format text DEFAULT 'svg') RETURNS text
 *
 * The pipeline's DAG, left to right, with the states of run_id (default:
 * its latest run; none if it never ran).  Format svg (Graphviz's dot
 * layout), dot or mermaid.  The result is palloc'd in the caller's context.
 */
PG_FUNCTION_INFO_V1(pgetl_graph);
Datum		pgetl_graph(PG_FUNCTION_ARGS);
Datum
pgetl_graph(PG_FUNCTION_ARGS)
{
	char	   *pipeline;
	char	   *format;
	Graph	   *g;
	char	   *dot;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline name must not be null")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("graph format must not be null"),
				 errhint("Valid formats are svg, dot and mermaid.")));
	pipeline = text_to_cstring(PG_GETARG_TEXT_PP(0));
	format = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(format, "svg") != 0 && strcmp(format, "dot") != 0 &&
		strcmp(format, "mermaid") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown graph format \"%s\"", format),
				 errhint("Valid formats are svg, dot and mermaid.")));

	g = graph_read(pipeline, PG_ARGISNULL(1), PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1));
	if (strcmp(format, "mermaid") == 0)
		PG_RETURN_TEXT_P(cstring_to_text(graph_mermaid(g)));

	dot = graph_dot(g);
	if (strcmp(format, "dot") == 0)
		PG_RETURN_TEXT_P(cstring_to_text(dot));
	else
	{
		/* pgetl._graph_svg loads pgetl_graphviz on its first call */
		Oid			types[1] = {TEXTOID};
		Datum		values[1] = {CStringGetTextDatum(dot)};
		bool		nulls[1] = {false};
		bool		isnull;
		Datum		svg;

		svg = pgetl_call_internal_args("_graph_svg", 1, types, values, nulls,
									   TEXTOID, &isnull);
		if (isnull)
			elog(ERROR, "pgetl._graph_svg returned NULL");
		PG_RETURN_DATUM(svg);
	}
}
