/*-------------------------------------------------------------------------
 *
 * state_colors.h
 *	  The colour of each task run state in pgetl's pictures (the DAG of
 *	  pgetl_graph, the bars of pgetl_gantt, the HTML report).
 *
 * The one colour table of pgetl: C code includes this header, SQL code
 * reads the same table through pgetl_state_colors() (state_colors.c).
 * The colours are Airflow's (airflow/utils/state.py, State.state_color),
 * as SVG/CSS colour keywords, and so is the text colour on them (white on
 * green and red, black elsewhere: State.color_fg).  Airflow has no
 * "cancelled" state: pgetl draws it in the colour Airflow 1 gave its
 * "shutdown" state (a stop requested from outside), blue, with white
 * text.  A task run without a state is light blue (Airflow's None), an
 * unknown state white.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_STATE_COLORS_H
#define PGETL_STATE_COLORS_H

typedef struct PgetlStateColor
{
	const char *state;			/* task run state, as in pgetl.task_run */
	const char *fill;			/* background: an SVG/CSS colour keyword */
	const char *text;			/* text drawn on it */
} PgetlStateColor;

static const PgetlStateColor pgetl_state_colors[] = {
	{"scheduled", "tan", "black"},
	{"queued", "gray", "black"},
	{"running", "lime", "black"},
	{"success", "green", "white"},
	{"failed", "red", "white"},
	{"up_for_retry", "gold", "black"},
	{"upstream_failed", "orange", "black"},
	{"skipped", "hotpink", "black"},
	{"cancelled", "blue", "white"},
};

#define PGETL_N_STATE_COLORS \
	((int) (sizeof(pgetl_state_colors) / sizeof(pgetl_state_colors[0])))

/* no state (NULL), and a state missing from the table */
#define PGETL_NO_STATE_FILL		"lightblue"
#define PGETL_UNKNOWN_STATE_FILL "white"

/*
 * pgetl_state_color - the entry of a state; NULL state gives the "no
 * state" colours, an unknown state white on which text is black.
 */
static inline PgetlStateColor
pgetl_state_color(const char *state)
{
	PgetlStateColor c = {state, PGETL_UNKNOWN_STATE_FILL, "black"};

	if (state == NULL)
	{
		c.fill = PGETL_NO_STATE_FILL;
		return c;
	}
	for (int i = 0; i < PGETL_N_STATE_COLORS; i++)
		if (strcmp(pgetl_state_colors[i].state, state) == 0)
			return pgetl_state_colors[i];
	return c;
}

#endif							/* PGETL_STATE_COLORS_H */
