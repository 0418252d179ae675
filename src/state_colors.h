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
 * None.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_STATE_COLORS_H
#define PGETL_STATE_COLORS_H

#include "task_states.h"

typedef struct PgetlStateColor
{
	PgetlTaskState state;		/* NONE: no status (a task without a try) */
	const char *fill;			/* background, #RRGGBB */
	const char *font;			/* text drawn on it, #RRGGBB */
} PgetlStateColor;

/*
 * In the order of legends.  Hex, not colour names: X11's "green" (Graphviz)
 * is CSS's "lime".
 */
static const PgetlStateColor pgetl_state_colors[] = {
	{PGETL_TASK_STATE_SUCCESS, "#008000", "#FFFFFF"},	/* green */
	{PGETL_TASK_STATE_RUNNING, "#00FF00", "#000000"},	/* lime */
	{PGETL_TASK_STATE_FAILED, "#FF0000", "#FFFFFF"},	/* red */
	{PGETL_TASK_STATE_UP_FOR_RETRY, "#FFD700", "#000000"},	/* gold */
	{PGETL_TASK_STATE_UP_FOR_RESCHEDULE, "#40E0D0", "#000000"}, /* turquoise */
	{PGETL_TASK_STATE_UPSTREAM_FAILED, "#FFA500", "#000000"},	/* orange */
	{PGETL_TASK_STATE_SKIPPED, "#FF69B4", "#000000"},	/* hotpink */
	{PGETL_TASK_STATE_QUEUED, "#808080", "#000000"},	/* gray */
	{PGETL_TASK_STATE_SCHEDULED, "#D2B48C", "#000000"}, /* tan */
	{PGETL_TASK_STATE_CANCELLED, "#0000FF", "#FFFFFF"}, /* blue: Airflow 1's
														 * shutdown */
	{PGETL_TASK_STATE_NONE, "#ADD8E6", "#000000"},	/* lightblue: Airflow's
													 * None */
};

/* entries, the last one ("no_status") included */
#define PGETL_N_STATE_COLORS \
	((int) (sizeof(pgetl_state_colors) / sizeof(pgetl_state_colors[0])))

/* the name of an entry: its state's, or "no_status" */
static inline const char *
pgetl_state_color_name(const PgetlStateColor *c)
{
	return c->state == PGETL_TASK_STATE_NONE ? "no_status" : pgetl_task_state_name(c->state);
}

/*
 * pgetl_state_color_index - the entry of a task state's name; NULL, and a
 * name that is no task state, give the last entry ("no_status").
 */
static inline int
pgetl_state_color_index(const char *state)
{
	PgetlTaskState s = pgetl_task_state_from_name(state);

	for (int i = 0; i < PGETL_N_STATE_COLORS - 1; i++)
		if (pgetl_state_colors[i].state == s)
			return i;
	return PGETL_N_STATE_COLORS - 1;
}

#endif							/* PGETL_STATE_COLORS_H */
