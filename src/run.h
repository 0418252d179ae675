/*-------------------------------------------------------------------------
 *
 * run.h
 *	  Starting, waiting for, resuming and cancelling runs (the caller's
 *	  side), and the request a caller hands to a run coordinator.
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
	PGETL_RUN_STARTING = 0,		/* coordinator not yet through its first
								 * transaction */
	PGETL_RUN_START_FAILED,		/* the run could not start: see error */
	PGETL_RUN_STARTED,			/* run_id is valid, run is going */
	PGETL_RUN_FINISHED			/* final_state is valid */
} PgetlRunPhase;

/*
 * The request, in a dynamic shared memory segment created by the caller
 * (pgetl_run or pgetl_resume) and attached by the coordinator.  The caller
 * fills the first part; the coordinator reports through the second, under
 * the spinlock, and sets the caller's latch.
 */
typedef struct PgetlRunRequest
{
	slock_t		mutex;

	/* set by the caller */
	Oid			dboid;
	Oid			caller;			/* role that called pgetl_run/pgetl_resume */
	Oid			extowner;		/* coordinator connects as this role */
	int			caller_procno;
	int64		resume_run_id;	/* 0: start a new run */
	bool		by_pg_cron;		/* the caller is a pg_cron job */
	DateADT		logical_date;
	int			params_offset;	/* into payload */
	int			slot;			/* run registry slot reserved by the caller */
	pid_t		caller_pid;
	TimestampTz reserved_at;	/* identifies the reservation */
	bool		abandoned;		/* the caller gave up before the run started:
								 * the coordinator must not start it */

	/* set by the coordinator */
	PgetlRunPhase phase;
	int64		run_id;
	PgetlRunState final_state;	/* NONE until the run has finished */
	char		failed_tasks[PGETL_ERRMSG_LEN];
	char		failure_detail[PGETL_ERRMSG_LEN * 2];
	PgetlErrorBuf error;

	/* pipeline name (empty for a resume), NUL, params as JSON text, NUL */
	char		payload[FLEXIBLE_ARRAY_MEMBER];
} PgetlRunRequest;

/* Arguments of a task worker, carried in BackgroundWorker.bgw_extra */
typedef struct PgetlTaskArgs
{
	Oid			dboid;
	Oid			owner;			/* pipeline owner: the task runs as this role */
	int64		task_run_id;
	int			coordinator_procno;
} PgetlTaskArgs;

#endif							/* PGETL_RUN_H */
