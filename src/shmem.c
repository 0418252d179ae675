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
 *-------------------------------------------------------------------------
 */
#include "shmem.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
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
	bool		cancel_requested;
	char		cancel_reason[NAMEDATALEN * 2];
} PgetlRunSlot;

typedef struct PgetlShared
{
	slock_t		mutex;
	TimestampTz epoch;
	int			nslots;
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

/*
 * pgetl_slot_claim - take a free slot for this coordinator; -1 if none.
 */
int
pgetl_slot_claim(void)
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
			shared->slots[i].dboid = MyDatabaseId;
			shared->slots[i].procno = pgetl_my_procno();
			found = i;
			break;
		}
	}
	SpinLockRelease(&shared->mutex);
	return found;
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
