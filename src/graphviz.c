/*-------------------------------------------------------------------------
 *
 * graphviz.c
 *	  The module pgetl_graphviz: DOT to SVG with Graphviz's dot layout.
 *
 * Built as a shared library of its own (pgetl_graphviz.so, see the
 * Makefile), linked with libgvc and libcgraph, and loaded only when the
 * internal function pgetl._graph_svg is first called, i.e. when a backend
 * asks pgetl_graph for an SVG: no other backend maps libgvc.  The only
 * Graphviz plugins used are the dot layout and the core SVG renderer,
 * linked in as built-in plugins (no plugin configuration is read and no
 * other plugin, e.g. cairo or pango, is loaded), so that the output does
 * not depend on which fonts or plugins a server has.
 *
 * Its input is DOT made by pgetl_graph (src/graph.c), never by a user:
 * pgetl._graph_svg is not executable by PUBLIC, since DOT can name files
 * (images, shape files) that Graphviz would read with the server's rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include <gvc.h>
#include <gvplugin.h>

PG_MODULE_MAGIC;

extern gvplugin_library_t gvplugin_dot_layout_LTX_library;
extern gvplugin_library_t gvplugin_core_LTX_library;

static const lt_symlist_t pgetl_graphviz_plugins[] = {
	{"gvplugin_dot_layout_LTX_library", &gvplugin_dot_layout_LTX_library},
	{"gvplugin_core_LTX_library", &gvplugin_core_LTX_library},
	{NULL, NULL}
};

/* One Graphviz context per backend, created on first use, never freed */
static GVC_t *gvc = NULL;

/*
 * Graphviz's error messages, collected by collect_error (which Graphviz
 * calls; it must not raise a PostgreSQL error, which would jump out of
 * Graphviz's code and leak what it allocated).  Lives in TopMemoryContext.
 */
static StringInfo gv_errors = NULL;

static int
collect_error(char *msg)
{
	if (gv_errors->len < 4000)
		appendStringInfoString(gv_errors, msg);
	return 0;
}

/*
 * pgetl_graphviz_svg(dot text) RETURNS text
 *
 * Lays out the graph with dot and renders it as SVG.  Everything Graphviz
 * allocates (graph, layout, rendered data) is freed here before returning
 * or raising; the result is palloc'd in the caller's context.  Raises XX000
 * with Graphviz's messages when it cannot read, lay out or render the graph.
 */
PG_FUNCTION_INFO_V1(pgetl_graphviz_svg);
Datum		pgetl_graphviz_svg(PG_FUNCTION_ARGS);
Datum
pgetl_graphviz_svg(PG_FUNCTION_ARGS)
{
	char	   *dot = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Agraph_t   *g;
	char	   *data = NULL;
#if PGETL_GV_MAJOR >= 3
	size_t		len = 0;		/* Graphviz 3.0 and later */
#else
	unsigned int len = 0;
#endif
	text	   *result = NULL;
	const char *failed = NULL;

	if (gv_errors == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		gv_errors = makeStringInfo();
		MemoryContextSwitchTo(old);
	}
	resetStringInfo(gv_errors);
	agseterrf(collect_error);
	agseterr(AGERR);			/* warnings are not errors */
	agreseterrors();
	if (gvc == NULL)
	{
		gvc = gvContextPlugins(pgetl_graphviz_plugins, 0);
		if (gvc == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not create a Graphviz context")));
	}

	g = agmemread(dot);
	if (g == NULL)
		failed = "read";
	else
	{
		if (gvLayout(gvc, g, "dot") != 0)
			failed = "lay out";
		else
		{
			if (gvRenderData(gvc, g, "svg", &data, &len) != 0 || data == NULL)
				failed = "render";
			else
				result = cstring_to_text_with_len(data, (int) len);
			if (data)
				gvFreeRenderData(data);
			gvFreeLayout(gvc, g);
		}
		agclose(g);
	}
	if (failed)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("graphviz could not %s the graph", failed),
				 gv_errors->len > 0 ? errdetail("Graphviz said: %s", gv_errors->data) : 0));
	PG_RETURN_TEXT_P(result);
}
