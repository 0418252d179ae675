/*-------------------------------------------------------------------------
 *
 * state_colors.h
 *	  The colour of each task run state in pgetl's pictures (the DAG of
 *	  pgetl_graph, the bars of pgetl_gantt, the HTML report).
 *
 * The one colour table of pgetl: C code includes this header, SQL code
 * reads the same table through pgetl_state_colors() (state_colors.c).
 * The colours are Airflow's (airflow/utils/state.py, State.state_color:
 * CSS colour keywords, written here as #RRGGBB), and so is the text colour
 * on them (white on green and red, black elsewhere: State.color_fg).  Airflow has no
 * "cancelled" state: pgetl draws it in the colour Airflow 1 gave its
 * "shutdown" state (a stop requested from outside), blue, with white
 * text.  A task without a try (no status) is light blue, as Airflow's
 * None; an unknown state white.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_STATE_COLORS_H
#define PGETL_STATE_COLORS_H

typedef struct PgetlStateColor
{
	const char *state;			/* task run state, as in pgetl.task_run */
	const char *fill;			/* background, #RRGGBB */
	const char *font;			/* text drawn on it, #RRGGBB */
} PgetlStateColor;

/*
 * In the order of legends.  Hex, not colour names: X11's "green" (Graphviz)
 * is CSS's "lime".
 */
static const PgetlStateColor pgetl_state_colors[] = {
	{"success", "#008000", "#FFFFFF"},	/* green */
	{"running", "#00FF00", "#000000"},	/* lime */
	{"failed", "#FF0000", "#FFFFFF"},	/* red */
	{"up_for_retry", "#FFD700", "#000000"},	/* gold */
	{"upstream_failed", "#FFA500", "#000000"},	/* orange */
	{"skipped", "#FF69B4", "#000000"},	/* hotpink */
	{"queued", "#808080", "#000000"},	/* gray */
	{"scheduled", "#D2B48C", "#000000"},	/* tan */
	{"cancelled", "#0000FF", "#FFFFFF"},	/* blue: Airflow 1's shutdown */
	{"no_status", "#ADD8E6", "#000000"},	/* lightblue: Airflow's None */
};

/* entries, the last one ("no_status") included */
#define PGETL_N_STATE_COLORS \
	((int) (sizeof(pgetl_state_colors) / sizeof(pgetl_state_colors[0])))

/* a state not in the table */
static const PgetlStateColor pgetl_unknown_state_color = {NULL, "#FFFFFF", "#000000"};

/*
 * pgetl_state_color - the colours of a state; NULL gives the "no_status"
 * colours, a state missing from the table white with black text.
 */
static inline PgetlStateColor
pgetl_state_color(const char *state)
{
	if (state == NULL)
		return pgetl_state_colors[PGETL_N_STATE_COLORS - 1];
	for (int i = 0; i < PGETL_N_STATE_COLORS; i++)
		if (strcmp(pgetl_state_colors[i].state, state) == 0)
			return pgetl_state_colors[i];
	return pgetl_unknown_state_color;
}

#endif							/* PGETL_STATE_COLORS_H */
