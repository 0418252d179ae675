/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  pgetl's registry in shared memory: the scheduler of each database,
 *	  with the run requests that wait for it, and the active runs.
 *
 * One scheduler (src/scheduler.c) drives every active run of a database.
 * A caller of pgetl_run() or pgetl_resume() puts its request (a dynamic
 * shared memory segment, src/run.c) into its database's queue here and
 * starts the scheduler if none runs; the scheduler takes requests from
 * the queue.  Each active run holds a run slot for as long as its
 * scheduler drives it: the slot says which run (in which database) and
 * carries cancel requests.  A run in state 'running' without a slot has
 * lost its scheduler, which is how pgetl._recover() finds runs to mark
 * failed.  The epoch is the time shared memory was initialized: a run
 * started under another epoch was interrupted by a server restart.
 *
 * Requests and runs wait here rather than fail: a full queue, all run
 * slots taken, or no background worker slot for the scheduler only make
 * the caller wait (src/run.c).
 *
 *-------------------------------------------------------------------------
 */
#include "shmem.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "pool.h"
#include "postmaster/bgworker_internals.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/timestamp.h"
#include "util.h"

typedef struct PgetlRunSlot
{
	int64		run_id;			/* 0: starting, not yet known */
	Oid			dboid;
	pid_t		pid;			/* its scheduler; 0: slot is free */
	int			procno;			/* the scheduler's PGPROC number */
	bool		cancel_requested;
	char		cancel_reason[NAMEDATALEN * 2];
} PgetlRunSlot;

typedef struct PgetlSchedulerSlot
{
	Oid			dboid;			/* InvalidOid: slot is free */
	pid_t		pid;			/* 0: no scheduler runs */
	int			procno;
	TimestampTz start_requested;	/* a caller registered one then */
	bool		release;		/* exit once idle: the database is to go */
	int			nrequests;
	dsm_handle	requests[PGETL_REQUEST_QUEUE];
} PgetlSchedulerSlot;

typedef struct PgetlShared
{
	slock_t		mutex;
	TimestampTz epoch;
	int			static_workers; /* background workers registered at start */
	int			nschedulers;
	int			nslots;
	/* nslots run slots, then nschedulers scheduler slots */
	PgetlRunSlot slots[FLEXIBLE_ARRAY_MEMBER];
} PgetlShared;

#define SCHEDULERS	((PgetlSchedulerSlot *) &shared->slots[shared->nslots])

static PgetlShared *shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Run slots: active runs of the whole server */
#define NRUNSLOTS	Max(PGETL_MIN_RUN_SLOTS, 16 * max_worker_processes)

static Size
pgetl_shmem_size(void)
{
	return add_size(add_size(offsetof(PgetlShared, slots),
							 mul_size(NRUNSLOTS, sizeof(PgetlRunSlot))),
					mul_size(max_worker_processes, sizeof(PgetlSchedulerSlot)));
}

static void
pgetl_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(pgetl_shmem_size());
	RequestAddinShmemSpace(pgetl_pool_shmem_size());
}

/*
 * count_static_workers - the background workers registered at server start
 * (pg_cron's launcher, pgetl's, the logical replication launcher...): each
 * holds its max_worker_processes slot for as long as the server runs.  The
 * postmaster knows them when it creates shared memory (it creates it again
 * at a crash restart, after forgetting the dynamic workers that are not
 * restarted); a backend (EXEC_BACKEND builds) does not: 0 there.
 */
static int
count_static_workers(void)
{
	int			n = 0;
	PGETL_BGWORKER_ITER iter;

	if (IsUnderPostmaster)
		return 0;
	pgetl_bgworker_foreach(iter)
		n++;
	return n;
}

static void
pgetl_shmem_startup(void)
{
	bool		found;
	void	   *pool_area;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("pgetl", pgetl_shmem_size(), &found);
	if (!found)
	{
		memset(shared, 0, pgetl_shmem_size());
		SpinLockInit(&shared->mutex);
		shared->epoch = GetCurrentTimestamp();
		shared->nslots = NRUNSLOTS;
		shared->nschedulers = max_worker_processes;
		shared->static_workers = count_static_workers();

	}
	pool_area = ShmemInitStruct("pgetl pool", pgetl_pool_shmem_size(), &found);
	pgetl_pool_shmem_init(pool_area, found);
	LWLockRelease(AddinShmemInitLock);
}

/*
 * pgetl_shmem_init - install the hooks; called from _PG_init while shared
 * libraries are preloaded.
 */
void
pgetl_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgetl_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgetl_shmem_startup;
}

static void
check_shared(void)
{
	if (shared == NULL)
		pgetl_require_preload();
}

/* This process's PGPROC number, to be woken through its latch. */
int
pgetl_my_procno(void)
{
	return PGETL_MY_PROC_NUMBER;
}

/* Wake the process with that PGPROC number (harmless if it has gone). */
void
pgetl_set_latch_of(int procno)
{
	SetLatch(&GetPGProcByNumber(procno)->procLatch);
}

/*
 * pgetl_free_dynamic_workers - background worker slots left to dynamic
 * workers: max_worker_processes less those registered at server start
 * (pg_cron's launcher, pgetl's, ...).  Below 2, no scheduler and task
 * worker can ever run at once.
 */
int
pgetl_free_dynamic_workers(void)
{
	check_shared();
	return max_worker_processes - shared->static_workers;
}

/* The background workers registered at server start (see above). */
int
pgetl_static_workers(void)
{
	check_shared();
	return shared->static_workers;
}

/* ---- schedulers ---- */

/* The scheduler slot of a database; caller holds the mutex. */
static PgetlSchedulerSlot *
scheduler_of(Oid dboid, bool create)
{
	PgetlSchedulerSlot *free_slot = NULL;

	for (int i = 0; i < shared->nschedulers; i++)
	{
		PgetlSchedulerSlot *s = &SCHEDULERS[i];

		if (s->dboid == dboid)
			return s;
		if (s->dboid == InvalidOid && free_slot == NULL)
			free_slot = s;
	}
	if (create && free_slot != NULL)
	{
		memset(free_slot, 0, sizeof(*free_slot));
		free_slot->dboid = dboid;
	}
	return create ? free_slot : NULL;
}

/*
 * pgetl_sched_enqueue - put a run request into its database's queue and
 * wake the scheduler.  False when the queue is full (the caller waits).
 * *must_start is set when no scheduler runs or is being started: then
 * the caller registers one (and calls pgetl_sched_start_failed() if it
 * could not).
 */
bool
pgetl_sched_enqueue(Oid dboid, dsm_handle handle, bool *must_start)
{
	PgetlSchedulerSlot *s;
	int			wake = -1;

	check_shared();
	*must_start = false;
	SpinLockAcquire(&shared->mutex);
	s = scheduler_of(dboid, true);
	if (s == NULL || s->nrequests >= PGETL_REQUEST_QUEUE)
	{
		SpinLockRelease(&shared->mutex);
		return false;
	}
	s->requests[s->nrequests++] = handle;
	if (s->pid != 0)
		wake = s->procno;
	else if (s->start_requested == 0 ||
			 TimestampDifferenceExceeds(s->start_requested, GetCurrentTimestamp(),
										PGETL_SCHEDULER_START_MS))
	{
		s->start_requested = GetCurrentTimestamp();
		*must_start = true;
	}
	SpinLockRelease(&shared->mutex);
	if (wake >= 0)
		pgetl_set_latch_of(wake);
	return true;
}

/*
 * pgetl_sched_ensure - after enqueueing: true when the caller must start
 * the database's scheduler (none runs, and no start is under way).
 */
bool
pgetl_sched_ensure(Oid dboid)
{
	PgetlSchedulerSlot *s;
	bool		must_start = false;

	check_shared();
	SpinLockAcquire(&shared->mutex);
	s = scheduler_of(dboid, true);
	if (s != NULL && s->pid == 0 &&
		(s->start_requested == 0 ||
		 TimestampDifferenceExceeds(s->start_requested, GetCurrentTimestamp(),
									PGETL_SCHEDULER_START_MS)))
	{
		s->start_requested = GetCurrentTimestamp();
		must_start = true;
	}
	SpinLockRelease(&shared->mutex);
	return must_start;
}

/* A caller could not register the scheduler it was to start. */
void
pgetl_sched_start_failed(Oid dboid)
{
	PgetlSchedulerSlot *s;

	check_shared();
	SpinLockAcquire(&shared->mutex);
	s = scheduler_of(dboid, false);
	if (s != NULL && s->pid == 0)
		s->start_requested = 0;
	SpinLockRelease(&shared->mutex);
}

/* Remove a request that was not taken (the caller gave up); true if it was there. */
bool
pgetl_sched_withdraw(Oid dboid, dsm_handle handle)
{
	PgetlSchedulerSlot *s;
	bool		found = false;

	check_shared();
	SpinLockAcquire(&shared->mutex);
	s = scheduler_of(dboid, false);
	for (int i = 0; s != NULL && i < s->nrequests; i++)
	{
		if (s->requests[i] == handle)
		{
			memmove(&s->requests[i], &s->requests[i + 1],
					(s->nrequests - i - 1) * sizeof(dsm_handle));
			s->nrequests--;
			found = true;
			break;
		}
	}
	SpinLockRelease(&shared->mutex);
	return found;
}

/* The pid of the database's scheduler, 0 when none runs. */
pid_t
pgetl_sched_pid(Oid dboid)
{
	PgetlSchedulerSlot *s;
	pid_t		pid = 0;

	check_shared();
	SpinLockAcquire(&shared->mutex);
	s = scheduler_of(dboid, false);
	if (s != NULL)
		pid = s->pid;
	SpinLockRelease(&shared->mutex);
	return pid;
}

/*
 * pgetl_sched_attach - a starting scheduler takes its database's slot;
 * false when another scheduler runs there (then this one exits).
 */
bool
pgetl_sched_attach(Oid dboid)
{
	PgetlSchedulerSlot *s;
	bool		ok = false;

	check_shared();
	SpinLockAcquire(&shared->mutex);
	s = scheduler_of(dboid, true);
	if (s != NULL && s->pid == 0)
	{
		s->pid = MyProcPid;
		s->procno = pgetl_my_procno();
		s->start_requested = 0;
		ok = true;
	}
	SpinLockRelease(&shared->mutex);
	return ok;
}

/* The scheduler takes the oldest request; DSM_HANDLE_INVALID when none. */
dsm_handle
pgetl_sched_dequeue(Oid dboid)
{
	PgetlSchedulerSlot *s;
	dsm_handle	h = DSM_HANDLE_INVALID;

	SpinLockAcquire(&shared->mutex);
	s = scheduler_of(dboid, false);
	if (s != NULL && s->pid == MyProcPid && s->nrequests > 0)
	{
		h = s->requests[0];
		memmove(&s->requests[0], &s->requests[1], (s->nrequests - 1) * sizeof(dsm_handle));
		s->nrequests--;
	}
	SpinLockRelease(&shared->mutex);
	return h;
}

/*
 * pgetl_sched_detach - the scheduler leaves its slot.  With only_if_idle,
 * only when no request waits (then it may exit: the next caller starts a
 * new one); returns whether it left.
 */
bool
pgetl_sched_detach(Oid dboid, bool only_if_idle)
{
	PgetlSchedulerSlot *s;
	bool		left = false;

	if (shared == NULL)
		return false;
	SpinLockAcquire(&shared->mutex);
	s = scheduler_of(dboid, false);
	if (s != NULL && s->pid == MyProcPid && (!only_if_idle || s->nrequests == 0))
	{
		s->pid = 0;
		if (s->nrequests == 0)
			s->dboid = InvalidOid;
		left = true;
	}
	SpinLockRelease(&shared->mutex);
	return left;
}

/*
 * pgetl_sched_release - ask the database's scheduler to exit as soon as it
 * has no run (DROP DATABASE and the like wait for its sessions to end).
 */
void
pgetl_sched_release(Oid dboid)
{
	PgetlSchedulerSlot *s;
	int			wake = -1;

	if (shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	s = scheduler_of(dboid, false);
	if (s != NULL && s->pid != 0)
	{
		s->release = true;
		wake = s->procno;
	}
	SpinLockRelease(&shared->mutex);
	if (wake >= 0)
		pgetl_set_latch_of(wake);
}

/* Was the scheduler asked to exit once idle? */
bool
pgetl_sched_release_requested(Oid dboid)
{
	PgetlSchedulerSlot *s;
	bool		release = false;

	SpinLockAcquire(&shared->mutex);
	s = scheduler_of(dboid, false);
	if (s != NULL && s->pid == MyProcPid)
		release = s->release;
	SpinLockRelease(&shared->mutex);
	return release;
}

/* ---- run slots ---- */

/* The scheduler takes a free run slot for a run it starts; -1 when none. */
int
pgetl_slot_take(Oid dboid)
{
	int			found = -1;

	check_shared();
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < shared->nslots; i++)
	{
		if (shared->slots[i].pid == 0)
		{
			memset(&shared->slots[i], 0, sizeof(PgetlRunSlot));
			shared->slots[i].pid = MyProcPid;
			shared->slots[i].dboid = dboid;
			shared->slots[i].procno = pgetl_my_procno();
			found = i;
			break;
		}
	}
	SpinLockRelease(&shared->mutex);
	return found;
}

/*
 * pgetl_slots_free - how many run slots of the server are free now (a
 * snapshot: others take and free them meanwhile); *total, when not NULL,
 * gets the number of run slots.
 */
int
pgetl_slots_free(int *total)
{
	int			n = 0;

	check_shared();
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < shared->nslots; i++)
		if (shared->slots[i].pid == 0)
			n++;
	if (total != NULL)
		*total = shared->nslots;
	SpinLockRelease(&shared->mutex);
	return n;
}

/*
 * pgetl_slots_scarce - are no more run slots free than the reserve that
 * catchups and backfills leave to others (PGETL_RUN_SLOT_RESERVE)?
 */
bool
pgetl_slots_scarce(void)
{
	int			total;
	int			free_slots = pgetl_slots_free(&total);

	return free_slots <= total / PGETL_RUN_SLOT_RESERVE;
}

/* Tell the registry which run our slot drives. */
void
pgetl_slot_set_run(int slot, int64 run_id)
{
	SpinLockAcquire(&shared->mutex);
	shared->slots[slot].run_id = run_id;
	SpinLockRelease(&shared->mutex);
}

/* Free our slot: the run no longer has a coordinator. */
void
pgetl_slot_release(int slot)
{
	SpinLockAcquire(&shared->mutex);
	if (shared->slots[slot].pid == MyProcPid)
		memset(&shared->slots[slot], 0, sizeof(PgetlRunSlot));
	SpinLockRelease(&shared->mutex);
}

/*
 * pgetl_slot_cancel_requested - has someone asked to cancel our run?  The
 * reason is copied to the caller's buffer.
 */
bool
pgetl_slot_cancel_requested(int slot, char *reason, int reasonlen)
{
	bool		requested;

	SpinLockAcquire(&shared->mutex);
	requested = shared->slots[slot].cancel_requested;
	if (requested)
		strlcpy(reason, shared->slots[slot].cancel_reason, reasonlen);
	SpinLockRelease(&shared->mutex);
	return requested;
}

/*
 * pgetl_slot_request_cancel - ask the coordinator of a run to cancel it and
 * wake it up.  False when no coordinator drives that run.
 */
bool
pgetl_slot_request_cancel(Oid dboid, int64 run_id, const char *reason)
{
	int			procno = -1;
	char		clipped[sizeof(((PgetlRunSlot *) NULL)->cancel_reason)];

	check_shared();
	/* cut a long reason on a character boundary, before taking the spinlock */
	pgetl_strlcpy_clip(clipped, reason, sizeof(clipped));
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < shared->nslots; i++)
	{
		PgetlRunSlot *s = &shared->slots[i];

		if (s->pid != 0 && s->dboid == dboid && s->run_id == run_id)
		{
			s->cancel_requested = true;
			strlcpy(s->cancel_reason, clipped, sizeof(s->cancel_reason));
			procno = s->procno;
			break;
		}
	}
	SpinLockRelease(&shared->mutex);
	if (procno >= 0)
		pgetl_set_latch_of(procno);
	return procno >= 0;
}

/* Does a coordinator drive that run now? */
bool
pgetl_slot_is_live(Oid dboid, int64 run_id)
{
	bool		live = false;

	check_shared();
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < shared->nslots; i++)
	{
		if (shared->slots[i].pid != 0 && shared->slots[i].dboid == dboid &&
			shared->slots[i].run_id == run_id)
		{
			live = true;
			break;
		}
	}
	SpinLockRelease(&shared->mutex);
	return live;
}

/* When shared memory was initialized: changes at every (re)start. */
TimestampTz
pgetl_epoch(void)
{
	check_shared();
	return shared->epoch;
}

/*
 * pgetl._live_runs() - the runs of this database that have a live
 * coordinator.  Used by pgetl._recover().
 */
PG_FUNCTION_INFO_V1(pgetl_live_runs);
Datum
pgetl_live_runs(PG_FUNCTION_ARGS)
{
	Datum	   *ids;
	int			n = 0;

	check_shared();
	ids = palloc(sizeof(Datum) * shared->nslots);
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < shared->nslots; i++)
	{
		if (shared->slots[i].pid != 0 && shared->slots[i].dboid == MyDatabaseId &&
			shared->slots[i].run_id > 0)
			ids[n++] = Int64GetDatum(shared->slots[i].run_id);
	}
	SpinLockRelease(&shared->mutex);
	PG_RETURN_ARRAYTYPE_P(construct_array(ids, n, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * pgetl._epoch() - when shared memory was last initialized (server start or
 * crash restart).
 */
PG_FUNCTION_INFO_V1(pgetl_epoch_sql);
Datum
pgetl_epoch_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(pgetl_epoch());
}
