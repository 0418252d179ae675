/*-------------------------------------------------------------------------
 *
 * pool.h
 *	  The pool of warm task workers in shared memory: one slot per worker,
 *	  keyed by (database, owner), through which a run's scheduler hands a
 *	  task try to a worker and learns that it is done.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_POOL_H
#define PGETL_POOL_H

#include "pgetl.h"

#include "datatype/timestamp.h"
#include "postmaster/bgworker.h"

/* The life of a pool slot; one switch in pool.c names them */
typedef enum PgetlWorkerState
{
	PGETL_WORKER_FREE = 0,		/* no worker */
	PGETL_WORKER_STARTING,		/* registered, holds its first task */
	PGETL_WORKER_IDLE,			/* connected, waits for a task */
	PGETL_WORKER_BUSY,			/* runs task_run_id (or will, once reset) */
	PGETL_WORKER_CALLBACK,		/* done with its try (reported), runs the
								 * task's callback: takes no try meanwhile */
	PGETL_WORKER_RESETTING		/* done with its try, resets its session */
} PgetlWorkerState;

/* How a try ended, as its worker reports it (see pgetl_pool_outcome) */
typedef enum PgetlTryOutcome
{
	PGETL_TRY_UNKNOWN = 0,		/* not reported: the worker died, was
								 * cancelled, or gave the try back */
	PGETL_TRY_SUCCEEDED,		/* success committed */
	PGETL_TRY_RECORDED,			/* another outcome committed (failure...) */
	PGETL_TRY_NOT_RUN			/* the try was no longer queued */
} PgetlTryOutcome;

/*
 * A pipeline's callback for the end of a run is handed to a task worker
 * of the owner as a try of one of these ids (with the run's id): the run
 * ended success or failed (src/scheduler.c, src/task_worker.c).
 */
#define PGETL_CALLBACK_RUN_SUCCESS	((int64) -1)
#define PGETL_CALLBACK_RUN_FAILED	((int64) -2)

/* Downstream tries a success released that its worker reports by id */
#define PGETL_MAX_RELEASED	8

/* What a scheduler knows of a task try it handed to the pool */
typedef struct PgetlDispatch
{
	int64		task_run_id;
	int			slot;
	uint64		generation;		/* of the hand-over: tells a reused slot */
	BackgroundWorkerHandle *handle; /* when this dispatch started the worker */
	TimestampTz dispatched_at;
	TimestampTz started_at;		/* when the worker began it; 0: not seen */
	int64		timeout_ms;		/* -1: not looked up yet; 0: none */
	bool		timed_out;
	bool		cancelled;
} PgetlDispatch;

/* GUCs */
extern int	pgetl_max_workers;
extern int	pgetl_worker_idle_timeout;

extern Size pgetl_pool_shmem_size(void);
extern void pgetl_pool_shmem_init(void *area, bool found);

/* the scheduler's side */
extern bool pgetl_pool_dispatch(Oid dboid, Oid owner, int64 run_id, int64 task_run_id,
								PgetlDispatch *d);
extern bool pgetl_pool_is_running(PgetlDispatch *d);
extern void pgetl_pool_cancel(PgetlDispatch *d, bool terminate);
extern bool pgetl_pool_bounced(PgetlDispatch *d);
extern PgetlTryOutcome pgetl_pool_outcome(PgetlDispatch *d, int *released, int64 *ids);
extern int	pgetl_pool_idle_workers(void);
extern void pgetl_pool_release_database(Oid dboid);

/* the worker's side (src/task_worker.c) */
extern void pgetl_pool_worker_attach(int slot, Oid *dboid, Oid *owner);
extern int64 pgetl_pool_worker_next(int slot, long idle_timeout_ms, int64 *run_id);
extern void pgetl_pool_worker_ended(int slot, PgetlTryOutcome outcome, int released,
									const int64 *ids, bool callback);
extern void pgetl_pool_worker_callback_done(int slot);
extern void pgetl_pool_worker_done(int slot);
extern bool pgetl_pool_worker_cancelled(int slot);
extern void pgetl_pool_worker_bounce(int slot);

#endif							/* PGETL_POOL_H */
