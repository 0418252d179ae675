/*-------------------------------------------------------------------------
 *
 * task_states.h
 *	  The states of a pipeline run and of a task try, for C: one enum each,
 *	  in the order of the SQL enum types pgetl.run_state and
 *	  pgetl.task_state (src/sql/20_history.sql), and one switch each from a
 *	  state to its name (the name SQL prints), with the way back.
 *
 * C code compares and produces states only through this header.  Which
 * state changes are legal is not decided here: the history triggers
 * refuse every change that is not a row of pgetl.run_state_transition or
 * pgetl.task_state_transition.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_TASK_STATES_H
#define PGETL_TASK_STATES_H

typedef enum PgetlRunState
{
	PGETL_RUN_STATE_NONE = -1,	/* no state (yet), or not a run state's name */
	PGETL_RUN_STATE_QUEUED,		/* waits for a place among max_active_runs */
	PGETL_RUN_STATE_RUNNING,
	PGETL_RUN_STATE_SUCCESS,
	PGETL_RUN_STATE_FAILED,
	PGETL_RUN_STATE_CANCELLED
} PgetlRunState;

#define PGETL_N_RUN_STATES (PGETL_RUN_STATE_CANCELLED + 1)

typedef enum PgetlTaskState
{
	PGETL_TASK_STATE_NONE = -1, /* no try, or not a task state's name */
	PGETL_TASK_STATE_SCHEDULED,
	PGETL_TASK_STATE_QUEUED,
	PGETL_TASK_STATE_RUNNING,
	PGETL_TASK_STATE_SUCCESS,
	PGETL_TASK_STATE_FAILED,
	PGETL_TASK_STATE_UP_FOR_RETRY,
	PGETL_TASK_STATE_UP_FOR_RESCHEDULE, /* a sensor between two pokes */
	PGETL_TASK_STATE_UPSTREAM_FAILED,
	PGETL_TASK_STATE_SKIPPED,
	PGETL_TASK_STATE_CANCELLED
} PgetlTaskState;

#define PGETL_N_TASK_STATES (PGETL_TASK_STATE_CANCELLED + 1)

/* the name of a run state, as pgetl.run_state spells it; NULL for NONE */
static inline const char *
pgetl_run_state_name(PgetlRunState state)
{
	switch (state)
	{
		case PGETL_RUN_STATE_QUEUED:
			return "queued";
		case PGETL_RUN_STATE_RUNNING:
			return "running";
		case PGETL_RUN_STATE_SUCCESS:
			return "success";
		case PGETL_RUN_STATE_FAILED:
			return "failed";
		case PGETL_RUN_STATE_CANCELLED:
			return "cancelled";
		case PGETL_RUN_STATE_NONE:
			break;
	}
	return NULL;
}

/* the run state of a name; NONE for NULL or a name that is none */
static inline PgetlRunState
pgetl_run_state_from_name(const char *name)
{
	if (name != NULL)
		for (int s = 0; s < PGETL_N_RUN_STATES; s++)
			if (strcmp(pgetl_run_state_name((PgetlRunState) s), name) == 0)
				return (PgetlRunState) s;
	return PGETL_RUN_STATE_NONE;
}

/* the name of a task state, as pgetl.task_state spells it; NULL for NONE */
static inline const char *
pgetl_task_state_name(PgetlTaskState state)
{
	switch (state)
	{
		case PGETL_TASK_STATE_SCHEDULED:
			return "scheduled";
		case PGETL_TASK_STATE_QUEUED:
			return "queued";
		case PGETL_TASK_STATE_RUNNING:
			return "running";
		case PGETL_TASK_STATE_SUCCESS:
			return "success";
		case PGETL_TASK_STATE_FAILED:
			return "failed";
		case PGETL_TASK_STATE_UP_FOR_RETRY:
			return "up_for_retry";
		case PGETL_TASK_STATE_UP_FOR_RESCHEDULE:
			return "up_for_reschedule";
		case PGETL_TASK_STATE_UPSTREAM_FAILED:
			return "upstream_failed";
		case PGETL_TASK_STATE_SKIPPED:
			return "skipped";
		case PGETL_TASK_STATE_CANCELLED:
			return "cancelled";
		case PGETL_TASK_STATE_NONE:
			break;
	}
	return NULL;
}

/* the task state of a name; NONE for NULL or a name that is none */
static inline PgetlTaskState
pgetl_task_state_from_name(const char *name)
{
	if (name != NULL)
		for (int s = 0; s < PGETL_N_TASK_STATES; s++)
			if (strcmp(pgetl_task_state_name((PgetlTaskState) s), name) == 0)
				return (PgetlTaskState) s;
	return PGETL_TASK_STATE_NONE;
}

#endif							/* PGETL_TASK_STATES_H */
