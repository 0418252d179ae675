/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  The registry of active runs in shared memory.
 *
 * Each run coordinator holds one slot for as long as it lives: the slot
 * says which run (in which database) it drives, and carries cancel
 * requests to it.  A run in state 'running' without a slot has lost its
 * coordinator, which is how pgetl._recover() finds runs to mark failed.
 * The epoch is the time shared memory was initialized: a run started under
 * another epoch was interrupted by a server restart.
 *
 * Background worker slots (max_worker_processes) are shared by the
 * coordinators and the task workers of all runs, and by other workers.
 * Coordinators that took every slot would wait forever for a slot for
 * their tasks; so a caller reserves a registry slot before it registers a
 * coordinator, and at most (slots left to dynamic workers) - 1 registry
 * slots may be taken: one background worker slot always remains for a
 * task (or frees up when another worker ends).  The coordinator takes
 * the reservation over when it starts; one it never takes (its worker
 * could not start) expires after PGETL_RESERVATION_TTL_MS.
 *
 *-------------------------------------------------------------------------
 */
#include "shmem.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/ilist.h"
#include "miscadmin.h"
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
	pid_t		pid;			/* 0: slot is free */
	int			procno;			/* coordinator's PGPROC number */
	bool		reserved;		/* by a caller (pid), for its coordinator */
	TimestampTz reserved_at;
	bool		cancel_requested;
	char		cancel_reason[NAMEDATALEN * 2];
} PgetlRunSlot;

typedef struct PgetlShared
{
	slock_t		mutex;
	TimestampTz epoch;
	int			nslots;
	int			static_workers; /* background workers registered at start */
	int			max_coordinators;	/* registry slots that may be taken */
	PgetlRunSlot slots[FLEXIBLE_ARRAY_MEMBER];
} PgetlShared;

static PgetlShared *shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
pgetl_shmem_size(void)
{
	return add_size(offsetof(PgetlShared, slots),
					mul_size(max_worker_processes, sizeof(PgetlRunSlot)));
}

static void
pgetl_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(pgetl_shmem_size());
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
#if PG_VERSION_NUM >= 180000
	dlist_iter	iter;
#else
	slist_iter	iter;
#endif

	if (IsUnderPostmaster)
		return 0;
#if PG_VERSION_NUM >= 180000
	dlist_foreach(iter, &BackgroundWorkerList)
		n++;
#else
	slist_foreach(iter, &BackgroundWorkerList)
		n++;
#endif
	return n;
}

static void
pgetl_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("pgetl", pgetl_shmem_size(), &found);
	if (!found)
	{
		memset(shared, 0, pgetl_shmem_size());
		SpinLockInit(&shared->mutex);
		shared->epoch = GetCurrentTimestamp();
		shared->nslots = max_worker_processes;
		shared->static_workers = count_static_workers();
		shared->max_coordinators = max_worker_processes - shared->static_workers - 1;
	}
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
#if PG_VERSION_NUM >= 170000
	return MyProcNumber;
#else
	return MyProc->pgprocno;
#endif
}

/* Wake the process with that PGPROC number (harmless if it has gone). */
void
pgetl_set_latch_of(int procno)
{
	SetLatch(&GetPGProcByNumber(procno)->procLatch);
}

/* Is registry slot i taken (by a coordinator or a live reservation)? */
static bool
slot_taken(PgetlRunSlot *s, TimestampTz now)
{
	if (s->pid == 0)
		return false;
	if (s->reserved &&
		TimestampDifferenceExceeds(s->reserved_at, now, PGETL_RESERVATION_TTL_MS))
		return false;
	return true;
}

/*
 * pgetl_max_coordinators - how many runs may be active at once in the
 * whole server: the background worker slots not held by workers
 * registered at server start, less one for a task.  Below 1, a run can
 * never get a coordinator and a task worker.
 */
int
pgetl_max_coordinators(void)
{
	check_shared();
	return shared->max_coordinators;
}

/* How many runs are active or starting in the whole server. */
int
pgetl_slots_taken(void)
{
	int			taken = 0;
	TimestampTz now = GetCurrentTimestamp();

	check_shared();
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < shared->nslots; i++)
		if (slot_taken(&shared->slots[i], now))
			taken++;
	SpinLockRelease(&shared->mutex);
	return taken;
}

/* The background workers registered at server start (see above). */
int
pgetl_static_workers(void)
{
	check_shared();
	return shared->static_workers;
}

/*
 * pgetl_slot_reserve - reserve a registry slot for the coordinator this
 * backend is about to register; -1 when pgetl_max_coordinators() runs are
 * active or starting.  *reserved_at identifies the reservation.
 */
int
pgetl_slot_reserve(TimestampTz *reserved_at)
{
	int			found = -1;
	int			taken = 0;
	TimestampTz now = GetCurrentTimestamp();

	check_shared();
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < shared->nslots; i++)
	{
		if (slot_taken(&shared->slots[i], now))
			taken++;
		else if (found < 0)
			found = i;
	}
	if (found >= 0 && taken < shared->max_coordinators)
	{
		memset(&shared->slots[found], 0, sizeof(PgetlRunSlot));
		shared->slots[found].pid = MyProcPid;
		shared->slots[found].dboid = MyDatabaseId;
		shared->slots[found].reserved = true;
		shared->slots[found].reserved_at = now;
		*reserved_at = now;
	}
	else
		found = -1;
	SpinLockRelease(&shared->mutex);
	return found;
}

/* Is that reservation still standing? */
static bool
is_reservation(int slot, pid_t pid, TimestampTz reserved_at)
{
	PgetlRunSlot *s = &shared->slots[slot];

	return slot >= 0 && slot < shared->nslots && s->pid == pid && s->reserved &&
		s->reserved_at == reserved_at;
}

/*
 * pgetl_slot_unreserve - give back a reservation no coordinator has taken
 * (nothing happens when one has).
 */
void
pgetl_slot_unreserve(int slot, TimestampTz reserved_at)
{
	check_shared();
	SpinLockAcquire(&shared->mutex);
	if (is_reservation(slot, MyProcPid, reserved_at))
		memset(&shared->slots[slot], 0, sizeof(PgetlRunSlot));
	SpinLockRelease(&shared->mutex);
}

/*
 * pgetl_slot_take - the coordinator takes over the slot its caller (pid)
 * reserved; false when the reservation has expired.
 */
bool
pgetl_slot_take(int slot, pid_t caller_pid, TimestampTz reserved_at)
{
	bool		ok;

	check_shared();
	SpinLockAcquire(&shared->mutex);
	ok = is_reservation(slot, caller_pid, reserved_at);
	if (ok)
	{
		/* the caller's database: the coordinator has not connected yet */
		Oid			dboid = shared->slots[slot].dboid;

		memset(&shared->slots[slot], 0, sizeof(PgetlRunSlot));
		shared->slots[slot].pid = MyProcPid;
		shared->slots[slot].dboid = dboid;
		shared->slots[slot].procno = pgetl_my_procno();
	}
	SpinLockRelease(&shared->mutex);
	return ok;
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
