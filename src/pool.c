/*-------------------------------------------------------------------------
 *
 * pool.c
 *	  The pool of warm task workers: slots in shared memory, one per worker.
 *
 * A task worker (src/task_worker.c) connects to one database as one role,
 * the owner of the pipelines whose tasks it runs, and runs task after task
 * of that (database, owner) until it has been idle for
 * pgetl.worker_idle_timeout; at most pgetl.max_workers workers live at
 * once.  A scheduler hands a task try over by writing it into an idle
 * worker's slot and setting the worker's latch; when no idle worker of
 * that key exists it starts one (the slot then holds the first task), and
 * when the pool is full it asks an idle worker of another key to exit so
 * that the next try finds room.  The worker sets the latch of the
 * scheduler that handed it the try as soon as the try has ended, before
 * it resets its session (RESETTING): the scheduler's next step overlaps
 * the reset, and may already hand the worker its next try, which it takes
 * once reset.  A worker that runs the task's callback after the try
 * (CALLBACK) reports the try's end first, so that the scheduler goes on,
 * and takes no try until the callback is done.  Nothing polls.
 *
 * Each hand-over bumps the slot's generation, so a scheduler that looks at
 * a slot later can tell its own try from a later one.  A cancel names the
 * generation it is meant for (cancel_generation): the worker's SIGUSR2
 * handler cancels the running query only when that is still the try it
 * runs, so a cancel that arrives late never hits the next task.
 *
 * The slot array is guarded by one spinlock: every operation is a short
 * loop over at most max_worker_processes slots without a system call,
 * except the signal sent to the worker being cancelled, sent under the
 * lock so that the generation cannot change in between.
 *
 *-------------------------------------------------------------------------
 */
#include "pool.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "utils/guc.h"
#include "shmem.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/wait_event.h"
#include "util.h"

int			pgetl_max_workers = 8;
int			pgetl_worker_idle_timeout = 10000;

typedef struct PoolSlot
{
	PgetlWorkerState state;
	Oid			dboid;
	Oid			owner;
	pid_t		pid;			/* 0 until the worker has attached */
	int			procno;			/* -1 until the worker has attached */
	uint64		generation;		/* of the current (or last) hand-over */
	uint64		cancel_generation;	/* cancel the try of this generation */
	uint64		bounced_generation; /* the worker gave this try back */
	uint64		ended_generation;	/* the last try that ended... */
	PgetlTryOutcome ended_outcome;	/* ...how... */
	int			ended_released; /* ...and how many downstream tries its
								 * success queued (-1: unknown)... */
	int64		ended_ids[PGETL_MAX_RELEASED];	/* ...which, if that few */
	int64		task_run_id;	/* 0 when idle */
	int64		run_id;
	int			assigner_procno;	/* the scheduler to wake when done */
	TimestampTz started_at;		/* of the current try */
	bool		retire;			/* exit instead of taking another try */
} PoolSlot;

typedef struct Pool
{
	slock_t		mutex;
	int			nslots;
	uint64		next_generation;
	PoolSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} Pool;

static Pool *pool = NULL;

/* Shared memory for the pool: one slot per background worker slot. */
Size
pgetl_pool_shmem_size(void)
{
	return add_size(offsetof(Pool, slots), mul_size(max_worker_processes, sizeof(PoolSlot)));
}

/* Set up (found false) or attach to the pool; called under AddinShmemInitLock. */
void
pgetl_pool_shmem_init(void *area, bool found)
{
	pool = area;
	if (!found)
	{
		memset(pool, 0, pgetl_pool_shmem_size());
		SpinLockInit(&pool->mutex);
		pool->nslots = max_worker_processes;
		pool->next_generation = 1;
	}
}

static void
check_pool(void)
{
	if (pool == NULL)
		pgetl_require_preload();
}

/* Slots in use (not FREE); caller holds the mutex. */
static int
slots_in_use(void)
{
	int			n = 0;

	for (int i = 0; i < pool->nslots; i++)
		if (pool->slots[i].state != PGETL_WORKER_FREE)
			n++;
	return n;
}

/* Give slot s the try; caller holds the mutex. */
static void
assign(PoolSlot *s, int64 run_id, int64 task_run_id, PgetlDispatch *d, int slot)
{
	s->generation = pool->next_generation++;
	s->task_run_id = task_run_id;
	s->run_id = run_id;
	s->assigner_procno = pgetl_my_procno();
	s->started_at = 0;
	d->task_run_id = task_run_id;
	d->slot = slot;
	d->generation = s->generation;
	d->handle = NULL;
	d->dispatched_at = GetCurrentTimestamp();
	d->started_at = 0;
	d->timeout_ms = -1;
	d->timed_out = false;
	d->cancelled = false;
}

/*
 * pgetl_pool_dispatch - hand task try task_run_id of run run_id to a worker
 * of (dboid, owner): an idle one, else a new one.  Fills *d and returns
 * true; false when the pool is full or no background worker slot is free
 * (then an idle worker of another key, if any, is asked to exit, and the
 * caller tries again when woken or later).  A worker started here is
 * registered with the caller as bgw_notify_pid; its handle is in
 * d->handle, allocated in TopMemoryContext (freed by the caller).
 */
bool
pgetl_pool_dispatch(Oid dboid, Oid owner, int64 run_id, int64 task_run_id, PgetlDispatch *d)
{
	int			idle = -1;
	int			free_slot = -1;
	int			victim = -1;
	int			wake = -1;
	uint64		generation;
	MemoryContext old;
	bool		ok;
	char		name[BGW_MAXLEN];

	check_pool();
	SpinLockAcquire(&pool->mutex);
	for (int i = 0; i < pool->nslots; i++)
	{
		PoolSlot   *s = &pool->slots[i];

		if (s->state == PGETL_WORKER_FREE)
		{
			if (free_slot < 0)
				free_slot = i;
		}
		else if ((s->state == PGETL_WORKER_IDLE || s->state == PGETL_WORKER_RESETTING) &&
				 !s->retire)
		{
			if (s->dboid == dboid && s->owner == owner)
			{
				if (idle < 0)
					idle = i;
			}
			else if (victim < 0)
				victim = i;
		}
	}
	if (idle >= 0)
	{
		PoolSlot   *s = &pool->slots[idle];

		assign(s, run_id, task_run_id, d, idle);
		s->state = PGETL_WORKER_BUSY;
		wake = s->procno;
		SpinLockRelease(&pool->mutex);
		pgetl_set_latch_of(wake);
		return true;
	}
	if (free_slot < 0 || slots_in_use() >= Min(pgetl_max_workers, pool->nslots))
	{
		/* the pool is full: make room for the next try */
		if (victim >= 0)
		{
			pool->slots[victim].retire = true;
			wake = pool->slots[victim].procno;
		}
		SpinLockRelease(&pool->mutex);
		if (wake >= 0)
			pgetl_set_latch_of(wake);
		return false;
	}
	{
		PoolSlot   *s = &pool->slots[free_slot];

		PoolSlot	prev = *s;

		/* what its scheduler may not have read yet survives the reuse */
		memset(s, 0, sizeof(*s));
		s->bounced_generation = prev.bounced_generation;
		s->ended_generation = prev.ended_generation;
		s->ended_outcome = prev.ended_outcome;
		s->ended_released = prev.ended_released;
		memcpy(s->ended_ids, prev.ended_ids, sizeof(s->ended_ids));
		s->state = PGETL_WORKER_STARTING;
		s->dboid = dboid;
		s->owner = owner;
		s->procno = -1;
		assign(s, run_id, task_run_id, d, free_slot);
		generation = s->generation;
	}
	SpinLockRelease(&pool->mutex);

	/* the handle outlives the caller's current memory context */
	old = MemoryContextSwitchTo(TopMemoryContext);
	snprintf(name, sizeof(name), "pgetl task worker %d", free_slot);
	ok = pgetl_bgworker_register("pgetl_task_worker_main", PGETL_TASK_TYPE, name,
								 Int32GetDatum(free_slot), NULL, 0, true, &d->handle);
	MemoryContextSwitchTo(old);
	if (ok)
		return true;

	/* no background worker slot: give the slot back, make room */
	SpinLockAcquire(&pool->mutex);
	if (pool->slots[free_slot].generation == generation &&
		pool->slots[free_slot].state == PGETL_WORKER_STARTING)
		pool->slots[free_slot].state = PGETL_WORKER_FREE;
	if (victim >= 0 && pool->slots[victim].state == PGETL_WORKER_IDLE)
	{
		pool->slots[victim].retire = true;
		wake = pool->slots[victim].procno;
	}
	SpinLockRelease(&pool->mutex);
	if (wake >= 0)
		pgetl_set_latch_of(wake);
	d->handle = NULL;
	return false;
}

/*
 * pgetl_pool_is_running - does the worker still hold the try of *d?  False
 * once the worker is done with it (recorded or not: the catalog says), or
 * has exited.  A worker started for *d that never ran (its background
 * worker stopped before it attached) gives its slot back here.
 */
bool
pgetl_pool_is_running(PgetlDispatch *d)
{
	PoolSlot   *s;
	bool		running;
	bool		never_started = false;
	pid_t		pid;

	check_pool();
	if (d->handle != NULL && GetBackgroundWorkerPid(d->handle, &pid) == BGWH_STOPPED)
		never_started = true;
	s = &pool->slots[d->slot];
	SpinLockAcquire(&pool->mutex);
	running = s->generation == d->generation &&
		(s->state == PGETL_WORKER_BUSY || s->state == PGETL_WORKER_STARTING);
	if (running && s->started_at != 0)
		d->started_at = s->started_at;
	if (running && never_started && s->pid == 0)
	{
		/* its exit callback never ran: the process never got that far */
		s->state = PGETL_WORKER_FREE;
		running = false;
	}
	SpinLockRelease(&pool->mutex);
	if (!running && d->handle != NULL)
	{
		pfree(d->handle);
		d->handle = NULL;
	}
	return running;
}

/*
 * pgetl_pool_cancel - cancel the query of the worker running *d (SIGUSR2,
 * honoured only for this try: see the file header), or terminate the
 * worker (SIGTERM).  Nothing happens once the worker is done with *d.
 */
void
pgetl_pool_cancel(PgetlDispatch *d, bool terminate)
{
	PoolSlot   *s;

	check_pool();
	s = &pool->slots[d->slot];
	SpinLockAcquire(&pool->mutex);
	if (s->generation == d->generation && s->pid != 0 &&
		(s->state == PGETL_WORKER_BUSY || s->state == PGETL_WORKER_STARTING))
	{
		s->cancel_generation = d->generation;
		(void) kill(s->pid, terminate ? SIGTERM : SIGUSR2);
	}
	else if (s->generation == d->generation && s->state == PGETL_WORKER_STARTING)
		s->cancel_generation = d->generation;	/* seen when it attaches */
	SpinLockRelease(&pool->mutex);
}

/*
 * pgetl_pool_bounced - did the worker give the try of *d back without
 * running it (its session no longer matches a new connection: see
 * pgetl_pool_worker_bounce)?  Then the try is to be handed out again.
 */
bool
pgetl_pool_bounced(PgetlDispatch *d)
{
	bool		bounced;

	check_pool();
	SpinLockAcquire(&pool->mutex);
	bounced = pool->slots[d->slot].bounced_generation == d->generation;
	SpinLockRelease(&pool->mutex);
	return bounced;
}

/*
 * pgetl_pool_outcome - how the try of *d ended, as its worker reported it
 * (PGETL_TRY_UNKNOWN when it did not: then the catalog says).  For a
 * success, *released is the number of downstream tries it queued (-1:
 * unknown), and ids (room for PGETL_MAX_RELEASED) gets them when there
 * are that few.  Only meaningful once the try is no longer running.
 */
PgetlTryOutcome
pgetl_pool_outcome(PgetlDispatch *d, int *released, int64 *ids)
{
	PoolSlot   *s;
	PgetlTryOutcome outcome = PGETL_TRY_UNKNOWN;

	check_pool();
	s = &pool->slots[d->slot];
	*released = -1;
	SpinLockAcquire(&pool->mutex);
	if (s->ended_generation == d->generation)
	{
		outcome = s->ended_outcome;
		*released = s->ended_released;
		if (*released > 0 && *released <= PGETL_MAX_RELEASED)
			memcpy(ids, s->ended_ids, *released * sizeof(int64));
	}
	SpinLockRelease(&pool->mutex);
	return outcome;
}

/*
 * pgetl_pool_release_database - ask the idle workers of a database to
 * exit (DROP DATABASE and the like wait for its sessions to end).
 */
void
pgetl_pool_release_database(Oid dboid)
{
	int		   *wake;
	int			n = 0;

	if (pool == NULL)
		return;
	wake = palloc(sizeof(int) * pool->nslots);
	SpinLockAcquire(&pool->mutex);
	for (int i = 0; i < pool->nslots; i++)
	{
		PoolSlot   *s = &pool->slots[i];

		if (s->dboid == dboid &&
			(s->state == PGETL_WORKER_IDLE || s->state == PGETL_WORKER_RESETTING ||
			 s->state == PGETL_WORKER_CALLBACK))
		{
			s->retire = true;
			if (s->procno >= 0)
				wake[n++] = s->procno;
		}
	}
	SpinLockRelease(&pool->mutex);
	for (int i = 0; i < n; i++)
		pgetl_set_latch_of(wake[i]);
	pfree(wake);
}

/* Idle workers, of any key (for tests and the README's figures). */
int
pgetl_pool_idle_workers(void)
{
	int			n = 0;

	check_pool();
	SpinLockAcquire(&pool->mutex);
	for (int i = 0; i < pool->nslots; i++)
		if (pool->slots[i].state == PGETL_WORKER_IDLE)
			n++;
	SpinLockRelease(&pool->mutex);
	return n;
}

/* ---- the worker's side ---- */

static int	my_slot = -1;

/* At exit: give the slot back and wake the scheduler of an unfinished try. */
static void
worker_exit(int code, Datum arg)
{
	PoolSlot   *s = &pool->slots[my_slot];
	int			wake = -1;

	SpinLockAcquire(&pool->mutex);
	if (s->pid == MyProcPid)
	{
		if (s->state != PGETL_WORKER_IDLE)
			wake = s->assigner_procno;
		s->state = PGETL_WORKER_FREE;
		s->pid = 0;
		s->procno = -1;
		s->task_run_id = 0;
	}
	SpinLockRelease(&pool->mutex);
	if (wake >= 0)
		pgetl_set_latch_of(wake);
}

/*
 * SIGUSR2: the scheduler cancels the running query, if the cancel is meant
 * for this try.  (SIGINT stays PostgreSQL's: statement_timeout and
 * pg_cancel_backend() cancel a task's query as in any session.)
 */
static void
worker_cancel(SIGNAL_ARGS)
{
	int			save_errno = errno;
	PoolSlot   *s = &pool->slots[my_slot];

	if (s->cancel_generation == s->generation)
	{
		InterruptPending = true;
		QueryCancelPending = true;
	}
	SetLatch(MyLatch);
	errno = save_errno;
}

/*
 * pgetl_pool_worker_attach - a new worker takes its slot (before it
 * connects, so that a failure to connect gives the slot back) and learns
 * whom to connect as.
 */
void
pgetl_pool_worker_attach(int slot, Oid *dboid, Oid *owner)
{
	PoolSlot   *s;

	check_pool();
	s = &pool->slots[slot];
	my_slot = slot;
	SpinLockAcquire(&pool->mutex);
	s->pid = MyProcPid;
	s->procno = pgetl_my_procno();
	*dboid = s->dboid;
	*owner = s->owner;
	SpinLockRelease(&pool->mutex);
	before_shmem_exit(worker_exit, (Datum) 0);
	pqsignal(SIGUSR2, worker_cancel);
}

/*
 * pgetl_pool_worker_next - wait for the next try: its task_run_id (and
 * *run_id), or 0 when the worker should exit (idle for idle_timeout_ms,
 * or asked to retire).  A worker that exits for being idle first leaves
 * the pool under the lock, so nobody hands it a try it would not run.
 */
int64
pgetl_pool_worker_next(int slot, long idle_timeout_ms, int64 *run_id)
{
	PoolSlot   *s = &pool->slots[slot];
	TimestampTz idle_since = GetCurrentTimestamp();

	for (;;)
	{
		long		left;

		SpinLockAcquire(&pool->mutex);
		if (s->state == PGETL_WORKER_BUSY || s->state == PGETL_WORKER_STARTING)
		{
			int64		id = s->task_run_id;

			s->state = PGETL_WORKER_BUSY;
			s->started_at = GetCurrentTimestamp();
			*run_id = s->run_id;
			SpinLockRelease(&pool->mutex);
			return id;
		}
		left = idle_timeout_ms -
			(long) ((GetCurrentTimestamp() - idle_since) / 1000);
		if (s->retire || left <= 0)
		{
			s->state = PGETL_WORKER_FREE;
			s->pid = 0;
			SpinLockRelease(&pool->mutex);
			return 0;
		}
		SpinLockRelease(&pool->mutex);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		/* SIGHUP: the next try runs with the server's new settings */
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
}

/*
 * The worker's try has ended: say how (outcome; for a success, how many
 * downstream tries it queued, -1 if unknown), and wake its scheduler.
 * callback: the worker runs the task's callback next (CALLBACK, then
 * pgetl_pool_worker_callback_done), else it resets its session.
 */
void
pgetl_pool_worker_ended(int slot, PgetlTryOutcome outcome, int released, const int64 *ids,
						bool callback)
{
	PoolSlot   *s = &pool->slots[slot];
	int			wake;

	SpinLockAcquire(&pool->mutex);
	s->ended_generation = s->generation;
	s->ended_outcome = outcome;
	s->ended_released = released;
	if (released > 0 && released <= PGETL_MAX_RELEASED)
		memcpy(s->ended_ids, ids, released * sizeof(int64));
	s->state = callback ? PGETL_WORKER_CALLBACK : PGETL_WORKER_RESETTING;
	wake = s->assigner_procno;
	SpinLockRelease(&pool->mutex);
	pgetl_set_latch_of(wake);
}

/* The task's callback is done: the worker resets its session next. */
void
pgetl_pool_worker_callback_done(int slot)
{
	PoolSlot   *s = &pool->slots[slot];

	SpinLockAcquire(&pool->mutex);
	if (s->state == PGETL_WORKER_CALLBACK)
		s->state = PGETL_WORKER_RESETTING;
	SpinLockRelease(&pool->mutex);
}

/* The worker has reset its session: idle, unless handed a try meanwhile. */
void
pgetl_pool_worker_done(int slot)
{
	PoolSlot   *s = &pool->slots[slot];

	SpinLockAcquire(&pool->mutex);
	if (s->state == PGETL_WORKER_RESETTING)
	{
		s->state = PGETL_WORKER_IDLE;
		s->task_run_id = 0;
	}
	SpinLockRelease(&pool->mutex);
}

/*
 * pgetl_pool_worker_bounce - give the current try back unrun; the worker
 * exits next (its scheduler hands the try to a new worker).
 */
void
pgetl_pool_worker_bounce(int slot)
{
	PoolSlot   *s = &pool->slots[slot];

	SpinLockAcquire(&pool->mutex);
	s->bounced_generation = s->generation;
	SpinLockRelease(&pool->mutex);
}

/* Was the worker's current try cancelled by its scheduler? */
bool
pgetl_pool_worker_cancelled(int slot)
{
	PoolSlot   *s = &pool->slots[slot];
	bool		cancelled;

	SpinLockAcquire(&pool->mutex);
	cancelled = s->cancel_generation == s->generation;
	SpinLockRelease(&pool->mutex);
	return cancelled;
}

/*
 * pgetl._running_tasks() - the task tries that workers of this database
 * run now: task_run_id, pid, started_at.  The history views read the state
 * 'running' from here: a try is running while a worker holds it, which
 * no transaction records (its success commits with its work).
 */
PG_FUNCTION_INFO_V1(pgetl_running_tasks);
Datum
pgetl_running_tasks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			n = 0;
	struct
	{
		int64		task_run_id;
		pid_t		pid;
		TimestampTz started_at;
	}		   *rows;

	check_pool();
	InitMaterializedSRF(fcinfo, 0);
	rows = palloc(sizeof(*rows) * pool->nslots);
	SpinLockAcquire(&pool->mutex);
	for (int i = 0; i < pool->nslots; i++)
	{
		PoolSlot   *s = &pool->slots[i];

		if (s->state == PGETL_WORKER_BUSY && s->dboid == MyDatabaseId && s->started_at != 0)
		{
			rows[n].task_run_id = s->task_run_id;
			rows[n].pid = s->pid;
			rows[n].started_at = s->started_at;
			n++;
		}
	}
	SpinLockRelease(&pool->mutex);
	for (int i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = Int64GetDatum(rows[i].task_run_id);
		values[1] = Int32GetDatum(rows[i].pid);
		values[2] = TimestampTzGetDatum(rows[i].started_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
