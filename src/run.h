/*-------------------------------------------------------------------------
 *
 * run.h
 *	  Starting, waiting for, resuming and cancelling runs (the caller's
 *	  side), and the request a caller hands to its database's scheduler.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_RUN_H
#define PGETL_RUN_H

#include "pgetl.h"

#include "storage/spin.h"
#include "task_states.h"
#include "util.h"
#include "utils/date.h"

typedef enum PgetlRunPhase
{
	PGETL_RUN_STARTING = 0,		/* the scheduler has not started it yet */
	PGETL_RUN_START_FAILED,		/* the run could not start: the error comes
								 * through the error queue */
	PGETL_RUN_STARTED,			/* run_id is valid, run is going */
	PGETL_RUN_FINISHED			/* final_state is valid */
} PgetlRunPhase;

/*
 * The request, in a dynamic shared memory segment created by the caller
 * (pgetl_run or pgetl_resume) and attached by the scheduler.  The caller
 * fills the first part; the scheduler reports through the second, under
 * the spinlock, and sets the caller's latch.  An error that keeps the run
 * from starting comes through the error queue (a shm_mq at
 * error_queue_offset, src/util.c), whatever its size.
 */
typedef struct PgetlRunRequest
{
	slock_t		mutex;

	/* set by the caller */
	Oid			dboid;
	Oid			caller;			/* role that called pgetl_run/pgetl_resume */
	Oid			extowner;		/* the scheduler connects as this role */
	int			caller_procno;
	int64		resume_run_id;	/* 0: start a new run */
	bool		by_pg_cron;		/* the caller is a pg_cron job */
	DateADT		logical_date;
	bool		scheduled;		/* a run of a schedule's data interval: */
	TimestampTz data_interval_start;	/* ... this one */
	TimestampTz data_interval_end;
	int			params_offset;	/* into payload */
	Size		error_queue_offset; /* from the start of the request */
	bool		abandoned;		/* the caller gave up before the run started:
								 * the scheduler must not start it */

	/* set by the scheduler */
	pid_t		scheduler_pid;	/* when it took the request */
	PgetlRunPhase phase;
	int64		run_id;
	PgetlRunState final_state;	/* NONE until the run has finished */

	/* pipeline name (empty for a resume), NUL, params as JSON text, NUL */
	char		payload[FLEXIBLE_ARRAY_MEMBER];
} PgetlRunRequest;

extern void pgetl_scheduler_wake(void);

#endif							/* PGETL_RUN_H */
