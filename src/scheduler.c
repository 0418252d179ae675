/*-------------------------------------------------------------------------
 *
 * scheduler.c
 *	  The scheduler: one background worker per database that drives every
 *	  active run of that database.
 *
 * The scheduler is the monitor of the runs (as in Citus's background job
 * runner; the executors are the task workers of src/task_worker.c).  A
 * caller of pgetl_run() or pgetl_resume() (src/run.c) puts its request
 * into the database's queue in shared memory (src/shmem.c) and starts the
 * scheduler if none runs, as pg_cron's launcher starts a worker on demand.
 * The scheduler takes requests in order, starts each run in a transaction
 * of its own and reports to the caller; then, for every active run, in
 * short transactions, it asks pgetl._dag_step() what may start, hands up
 * to max_parallel tries at a time to the pool of warm task workers
 * (src/pool.c), notices tries that end (a worker sets our latch) or whose
 * worker died, enforces timeouts, and carries out cancel requests.  All
 * decisions live in SQL (src/sql/40_engine.sql), so the catalog is always
 * the truth; the scheduler only keeps the hand-overs of its runs.
 *
 * A run beyond its pipeline's max_active_runs is started queued: it holds
 * its run slot, and its DAG step (pgetl._dag_step) moves it to running
 * when a place frees (pgetl._promote_queued, also called when a run of the
 * pipeline finishes; then every run is stepped at once).  A run that
 * finds every run slot of the server taken fails to start (53400, to its
 * caller); catchups and backfills (src/run.c) start their runs only as
 * places free, leaving a reserve of slots, so they never get there.
 *
 * Nothing fails for want of a process: a run waits in the queue while
 * the scheduler starts, and a task try waits queued, with the reason in
 * its run, until a task worker is free.
 * The scheduler exits after pgetl.worker_idle_timeout without runs or
 * requests; the next caller starts it again.
 *
 * It connects as the extension owner: it writes history, it never runs
 * user code.  Task workers connect as the pipeline owner.  So a
 * pipeline's callback (on_success, on_failure) for a run that ended is
 * handed to a task worker of the owner too, as a try of id
 * PGETL_CALLBACK_RUN_SUCCESS or _FAILED (src/task_worker.c), once a
 * worker is free; the scheduler keeps it until the worker is done with
 * it.  The catalog keeps it too (pgetl.run_record.callback_pending, set
 * in the transaction that ends the run, cleared in the callback's), so
 * that one a restart or a scheduler's exit interrupted is run by the next
 * scheduler (load_pending_callbacks); the recovery worker starts one for
 * the runs it failed.
 *
 *-------------------------------------------------------------------------
 */
#include "scheduler.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "pool.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "run.h"
#include "shmem.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
#include "util.h"

#include <limits.h>

/* Grace period after a task's timeout, or a cancel, before its worker is terminated */
#define TIMEOUT_GRACE_MS	5000
/*
 * lock_timeout of a run's first transaction.  The caller notices when the
 * scheduler waits for a lock the caller's own transaction holds
 * (src/run.c); this bounds a wait for any other transaction, e.g. one that
 * changed the pipeline and has not ended.
 */
#define START_LOCK_TIMEOUT	"30s"
/* pgetl._dag_step() runs for each run at least this often */
#define FULL_STEP_MS		1000
/*
 * Retry interval when no task worker was free for a try: from the first,
 * doubled at each failed retry up to the last (a worker of another
 * database that frees its slot does not wake us).
 */
#define NO_SLOT_WAIT_MS		20
#define NO_SLOT_MAX_WAIT_MS	1000
/* A run whose steps fail this many times in a row is failed */
#define MAX_STEP_ERRORS		3

/* An active run and what the scheduler knows of it */
typedef struct ActiveRun
{
	int64		run_id;			/* 0 while starting */
	Oid			owner;			/* the pipeline owner: its tries' workers */
	int			slot;			/* run slot in the registry */
	dsm_segment *seg;			/* the caller's request */
	PgetlRunRequest *req;
	PgetlDispatch *launched;	/* tries handed to the pool, not yet ended */
	int			nlaunched;
	int			maxlaunched;
	int64	   *queued;			/* queued tries not handed out yet, in task
								 * order, as last read from the catalog */
	int			nqueued;
	int			maxqueued;
	int			max_parallel;	/* the pipeline's, as of the last full step */
	TimestampTz next_full_step; /* when pgetl._dag_step() runs next */
	TimestampTz next_dispatch;	/* when to look for a free worker again */
	long		no_slot_wait_ms;
	char	   *wait_reason;	/* what its reason says tries wait for (a task
								 * worker, a task pool), as written; NULL:
								 * nothing (TopMemoryContext) */
	StringInfo	pool_wait;		/* in hand_out_all: the task pools its tries
								 * wait for (step_cxt), NULL: none */
	int			step_errors;
	bool		callback_due;	/* its end calls for the pipeline's callback */
	TimestampTz deadline;		/* its run_timeout ends then; 0: none */
	char	   *run_timeout;	/* that run_timeout, as text */
	bool		finished;
} ActiveRun;

/* A pipeline's callback for a run that ended, to hand to a task worker */
typedef struct PendingCallback
{
	int64		run_id;
	Oid			owner;
	bool		success;		/* the run ended success, else failed */
	bool		dispatched;		/* d holds the hand-over */
	PgetlDispatch d;
} PendingCallback;

/* Wait before looking for a free worker again for a pending callback */
#define CALLBACK_WAIT_MS	100

static volatile sig_atomic_t got_sigterm = false;

static List *runs = NIL;		/* of ActiveRun *, in TopMemoryContext */
static List *callbacks = NIL;	/* of PendingCallback *, in TopMemoryContext */
static MemoryContext step_cxt;

/*
 * Arbitration between runs (task pools, priority weights,
 * max_active_tasks; src/sql/40_engine.sql).  "Task pool" is Airflow's
 * pool (pgetl.task_pool): not the pool of task workers of src/pool.c.
 * While arbitrate is false each run hands out its own queued tries in
 * task order (step); while true, hand_out_all does it for all runs at
 * once.  Read again from the catalog at most every FULL_STEP_MS, in a
 * full step's transaction.
 */
static bool arbitrate = false;
static TimestampTz arbitrate_checked = 0;

static void check_arbitrate(TimestampTz now);

/* after no task worker was free: when hand_out_all tries again, and the wait */
static TimestampTz hand_out_retry_at = 0;
static long hand_out_wait_ms = NO_SLOT_WAIT_MS;

/* SIGTERM: stop every run (its workers, then the run itself), then exit */
static void
scheduler_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/* At exit: give back the run slots and the database's scheduler slot. */
static void
scheduler_exit(int code, Datum arg)
{
	ListCell   *lc;

	foreach(lc, runs)
	{
		ActiveRun  *r = lfirst(lc);

		if (r->slot >= 0)
			pgetl_slot_release(r->slot);
		r->slot = -1;
	}
	(void) pgetl_sched_detach(MyDatabaseId, false);
}

/* Tell the waiting caller something changed. */
static void
report(ActiveRun *r, PgetlRunPhase phase)
{
	SpinLockAcquire(&r->req->mutex);
	r->req->phase = phase;
	SpinLockRelease(&r->req->mutex);
	pgetl_set_latch_of(r->req->caller_procno);
}

/*
 * read_run_timeout - in the transaction that starts or resumes run r: its
 * pipeline's run_timeout (Airflow's dagrun_timeout) sets its deadline,
 * from now (none on a catalog without run timeouts).
 */
static void
read_run_timeout(ActiveRun *r)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(r->run_id)};
	bool		isnull;
	Datum		d;

	r->deadline = 0;
	if (!OidIsValid(LookupFuncName(list_make2(makeString("pgetl"), makeString("_run_timeout_of")),
								   1, types, true)))
		return;
	if (SPI_execute_with_args("SELECT * FROM pgetl._run_timeout_of($1)", 1, types, values,
							  NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the run timeout of run " INT64_FORMAT, r->run_id);
	if (SPI_processed != 1)
		return;
	d = pgetl_spi_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "timeout_ms", &isnull);
	if (isnull)
		return;
	r->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), DatumGetInt64(d));
	r->run_timeout = MemoryContextStrdup(TopMemoryContext,
										 pgetl_spi_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
															"run_timeout"));
}

/*
 * catalog_has_intervals - does the catalog record data intervals
 * (pgetl._set_run_interval, 0.2)?  A catalog still at 0.1 does not.
 */
static bool
catalog_has_intervals(void)
{
	Oid			argtypes[3] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};

	return OidIsValid(LookupFuncName(list_make2(makeString("pgetl"), makeString("_set_run_interval")),
									 3, argtypes, true));
}

/*
 * start_run - start or resume a run in its first transaction.  The slot
 * learns the run id before the commit makes the run visible, so
 * pgetl._recover() in another backend can never take this run for
 * abandoned.
 */
static void
start_run(ActiveRun *r)
{
	PgetlRunRequest *req = r->req;
	Oid			types[6];
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	int			ret;

	pgetl_xact_begin();
	/* like SET LOCAL: undone at the end of this transaction */
	(void) set_config_option("lock_timeout", START_LOCK_TIMEOUT, PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	if (req->resume_run_id == 0)
	{
		types[0] = OIDOID;
		values[0] = ObjectIdGetDatum(req->caller);
		types[1] = TEXTOID;
		values[1] = CStringGetTextDatum(req->payload);
		types[2] = JSONBOID;
		values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(req->payload + req->params_offset));
		types[3] = DATEOID;
		values[3] = DateADTGetDatum(req->logical_date);
		types[4] = INT4OID;
		values[4] = Int32GetDatum(MyProcPid);
		/* started_by: the caller's role name, or pg_cron for a cron job */
		types[5] = TEXTOID;
		if (req->by_pg_cron)
			values[5] = CStringGetTextDatum("pg_cron");
		else
			nulls[5] = 'n';
		ret = SPI_execute_with_args("SELECT pgetl._start_run($1, $2, $3, $4, $5, $6)",
									6, types, values, nulls, false, 1);
	}
	else
	{
		types[0] = OIDOID;
		values[0] = ObjectIdGetDatum(req->caller);
		types[1] = INT8OID;
		values[1] = Int64GetDatum(req->resume_run_id);
		types[2] = INT4OID;
		values[2] = Int32GetDatum(MyProcPid);

		/*
		 * the tasks to re-run, as a JSON array in the params slot; for
		 * pgetl_clear() an object {"clear": [tasks], "downstream": bool}
		 * (only then the arguments 0.1's _resume_run lacks)
		 */
		types[3] = JSONBOID;
		values[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(req->payload + req->params_offset));
		if (strncmp(req->payload + req->params_offset, "{\"clear\"", 8) == 0)
			ret = SPI_execute_with_args("SELECT pgetl._resume_run($1, $2, $3, "
										"ARRAY(SELECT pg_catalog.jsonb_array_elements_text($4 OPERATOR(pg_catalog.->) 'clear')), "
										"true, ($4 OPERATOR(pg_catalog.->>) 'downstream')::pg_catalog.bool)",
										4, types, values, nulls, false, 1);
		else
			ret = SPI_execute_with_args("SELECT pgetl._resume_run($1, $2, $3, "
										"CASE WHEN pg_catalog.jsonb_typeof($4) OPERATOR(pg_catalog.=) 'array' "
										"THEN ARRAY(SELECT pg_catalog.jsonb_array_elements_text($4)) END)",
										4, types, values, nulls, false, 1);
	}
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not start the run");
	r->run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	/*
	 * a new run's data interval: the schedule's, or its logical date's (not
	 * with a catalog still at 0.1, which has no data intervals)
	 */
	if (req->resume_run_id == 0 && catalog_has_intervals())
	{
		types[0] = INT8OID;
		values[0] = Int64GetDatum(r->run_id);
		types[1] = TIMESTAMPTZOID;
		values[1] = TimestampTzGetDatum(req->data_interval_start);
		types[2] = TIMESTAMPTZOID;
		values[2] = TimestampTzGetDatum(req->data_interval_end);
		nulls[1] = nulls[2] = req->scheduled ? ' ' : 'n';
		if (SPI_execute_with_args("SELECT pgetl._set_run_interval($1, $2, $3)",
								  3, types, values, nulls, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not record the data interval of run " INT64_FORMAT, r->run_id);
		nulls[1] = nulls[2] = ' ';
	}

	types[0] = INT8OID;
	values[0] = Int64GetDatum(r->run_id);
	ret = SPI_execute_with_args("SELECT owner::pg_catalog.oid FROM pgetl.run_record "
								"WHERE run_id OPERATOR(pg_catalog.=) $1",
								1, types, values, nulls, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "run " INT64_FORMAT " vanished", r->run_id);
	r->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	read_run_timeout(r);

	/*
	 * A caller that gave up (it found us waiting for a lock its own
	 * transaction holds, src/run.c) has raised an error: the run must not
	 * start behind its back.  It set the flag while we were still waiting, so
	 * it is visible here.
	 */
	SpinLockAcquire(&req->mutex);
	if (req->abandoned)
	{
		SpinLockRelease(&req->mutex);
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("the caller of the run gave up before it started")));
	}
	SpinLockRelease(&req->mutex);

	/*
	 * Whether runs must be arbitrated, read again for every run that starts:
	 * a task pool, a priority or max_active_tasks set up just before this run
	 * (after the last check, which a full step makes at most every
	 * FULL_STEP_MS) must hold for its very first hand-out.
	 */
	check_arbitrate(GetCurrentTimestamp());

	pgetl_slot_set_run(r->slot, r->run_id);
	pgetl_xact_commit();

	SpinLockAcquire(&req->mutex);
	req->run_id = r->run_id;
	SpinLockRelease(&req->mutex);
}

/*
 * accept_request - take one request from the queue: attach its segment,
 * start the run, report to the caller.  A run that cannot start sends
 * its error to the caller (pgetl_error_send, src/util.c) and is
 * forgotten; the scheduler goes on with the other runs.
 */
static void
accept_request(dsm_handle h)
{
	ActiveRun  *r;
	dsm_segment *seg;
	MemoryContext old;
	ErrorData  *volatile lock_error = NULL;

	seg = dsm_attach(h);
	if (seg == NULL)
		return;					/* the caller has gone */
	pgstat_report_activity(STATE_RUNNING, "pgetl scheduler: starting a run");
	dsm_pin_mapping(seg);
	old = MemoryContextSwitchTo(TopMemoryContext);
	r = palloc0(sizeof(ActiveRun));
	r->seg = seg;
	r->req = dsm_segment_address(seg);
	r->slot = -1;
	r->maxlaunched = 16;
	r->launched = palloc(r->maxlaunched * sizeof(PgetlDispatch));
	r->max_parallel = 1;
	r->no_slot_wait_ms = NO_SLOT_WAIT_MS;
	MemoryContextSwitchTo(old);

	SpinLockAcquire(&r->req->mutex);
	r->req->scheduler_pid = MyProcPid;
	SpinLockRelease(&r->req->mutex);

	PG_TRY();
	{
		r->slot = pgetl_slot_take(MyDatabaseId);
		if (r->slot < 0)
		{
			int			total;

			(void) pgetl_slots_free(&total);
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("too many active pgetl runs"),
					 errdetail("All %d run slots of the server are taken: each active run holds one, "
							   "a run queued beyond its pipeline's max_active_runs too.", total),
					 errhint("Wait for runs to finish.  Catch up a schedule with pgetl_run_due(..., wait => true) "
							 "and backfill with pgetl_backfill(): they start runs only as places free.  "
							 "Raising max_worker_processes gives more run slots (16 per worker process, at least %d).",
							 PGETL_MIN_RUN_SLOTS)));
		}
		start_run(r);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(TopMemoryContext);
		if (geterrcode() == ERRCODE_LOCK_NOT_AVAILABLE)
		{
			/* START_LOCK_TIMEOUT: say which lock and what to do */
			ErrorData  *edata = CopyErrorData();

			FlushErrorState();
			edata->message = psprintf("could not start the run: %s", r->req->resume_run_id ?
									  psprintf("run " INT64_FORMAT " or its pipeline is locked by another transaction",
											   r->req->resume_run_id) :
									  psprintf("pipeline \"%s\" is locked by another transaction",
											   r->req->payload));
			edata->detail = psprintf("The pgetl scheduler waited %s for the lock.", START_LOCK_TIMEOUT);
			edata->hint = pstrdup("A transaction that changed the pipeline (pgetl_add_task, pgetl_alter_pipeline, "
								  "pgetl_schedule and the like) has not ended: commit or roll it back, then try again.");
			edata->context = NULL;
			edata->internalquery = NULL;
			edata->cursorpos = edata->internalpos = 0;
			lock_error = edata;
		}

		/*
		 * phase first, with the sender attached: the caller waits for all of
		 * it
		 */
		pgetl_error_send_prepare(seg, (char *) r->req + r->req->error_queue_offset);
		SpinLockAcquire(&r->req->mutex);
		r->req->phase = PGETL_RUN_START_FAILED;
		SpinLockRelease(&r->req->mutex);
		pgetl_set_latch_of(r->req->caller_procno);
		pgetl_error_send(lock_error);
		HOLD_INTERRUPTS();
		AbortOutOfAnyTransaction();
		FlushErrorState();
		RESUME_INTERRUPTS();
		if (r->slot >= 0)
			pgetl_slot_release(r->slot);
		dsm_detach(seg);
		pfree(r->launched);
		pfree(r);
		return;
	}
	PG_END_TRY();
	/* the run is started: the caller learns its id */
	runs = lappend(runs, r);
	report(r, PGETL_RUN_STARTED);
}

/*
 * callback_due - in the transaction that ended run r: does the pipeline
 * have a callback for its state (pgetl._run_callback_due)?  Never on a
 * catalog without callbacks.
 */
static bool
callback_due(ActiveRun *r)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(r->run_id)};
	bool		isnull;
	Datum		d;

	if (!OidIsValid(LookupFuncName(list_make2(makeString("pgetl"), makeString("_run_callback_due")),
								   1, types, true)))
		return false;
	/* not read-only: it must see the run's end, written by this transaction */
	if (SPI_execute_with_args("SELECT pgetl._run_callback_due($1)", 1, types, values,
							  NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the callbacks of run " INT64_FORMAT, r->run_id);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return !isnull && DatumGetBool(d);
}

/* Queue the pipeline's callback for the end of run r (callbacks). */
static void
queue_callback(ActiveRun *r)
{
	PendingCallback *cb;

	if (!r->callback_due)
		return;
	r->callback_due = false;
	cb = MemoryContextAllocZero(TopMemoryContext, sizeof(PendingCallback));
	cb->run_id = r->run_id;
	cb->owner = r->owner;
	SpinLockAcquire(&r->req->mutex);
	cb->success = r->req->final_state == PGETL_RUN_STATE_SUCCESS;
	SpinLockRelease(&r->req->mutex);
	callbacks = lappend(callbacks, cb);
}

/*
 * load_pending_callbacks - queue the pipeline callbacks the catalog still
 * holds (pgetl._pending_callbacks: runs failed by pgetl._recover, or whose
 * scheduler exited before a worker was free), unless already queued.
 * True when it queued any.  In a transaction of its own; never on a
 * catalog without the function.
 */
static bool
load_pending_callbacks(void)
{
	bool		any = false;

	pgetl_xact_begin();
	if (OidIsValid(LookupFuncName(list_make2(makeString("pgetl"), makeString("_pending_callbacks")),
								  0, NULL, true)))
	{
		if (SPI_execute("SELECT * FROM pgetl._pending_callbacks()", true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the pending pipeline callbacks");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			int64		run_id = DatumGetInt64(pgetl_spi_getbinval(tup, desc, "run_id", &isnull));
			ListCell   *lc;
			bool		queued = false;
			PendingCallback *cb;
			MemoryContext old;

			foreach(lc, callbacks)
				if (((PendingCallback *) lfirst(lc))->run_id == run_id)
				queued = true;
			if (queued)
				continue;
			cb = MemoryContextAllocZero(TopMemoryContext, sizeof(PendingCallback));
			cb->run_id = run_id;
			cb->owner = DatumGetObjectId(pgetl_spi_getbinval(tup, desc, "owner", &isnull));
			cb->success = DatumGetBool(pgetl_spi_getbinval(tup, desc, "success", &isnull));
			old = MemoryContextSwitchTo(TopMemoryContext);
			callbacks = lappend(callbacks, cb);
			MemoryContextSwitchTo(old);
			any = true;
		}
	}
	pgetl_xact_commit();
	MemoryContextSwitchTo(TopMemoryContext);
	return any;
}

/*
 * drive_callbacks - hand pending callbacks to task workers (when one is
 * free), and forget those a worker is done with; one a worker gave back
 * (its session went stale) is handed out again.
 */
static void
drive_callbacks(void)
{
	ListCell   *lc;
	List	   *still = NIL;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	foreach(lc, callbacks)
	{
		PendingCallback *cb = lfirst(lc);

		if (cb->dispatched && !pgetl_pool_is_running(&cb->d))
		{
			if (!pgetl_pool_bounced(&cb->d))
			{
				pfree(cb);
				continue;
			}
			cb->dispatched = false;
		}
		if (!cb->dispatched)
			cb->dispatched = pgetl_pool_dispatch(MyDatabaseId, cb->owner, cb->run_id,
												 cb->success ? PGETL_CALLBACK_RUN_SUCCESS :
												 PGETL_CALLBACK_RUN_FAILED, &cb->d);
		still = lappend(still, cb);
	}
	list_free(callbacks);
	callbacks = still;
	MemoryContextSwitchTo(old);
}

/*
 * Forget the pending callbacks (a dispatched one runs on; the others stay
 * pending in the catalog, for the next scheduler).
 */
static void
drop_callbacks(void)
{
	ListCell   *lc;

	foreach(lc, callbacks)
	{
		PendingCallback *cb = lfirst(lc);

		if (cb->dispatched && cb->d.handle != NULL)
			pfree(cb->d.handle);
		pfree(cb);
	}
	list_free(callbacks);
	callbacks = NIL;
}

/*
 * spi_column - a column of the first row of the last SPI result, by name,
 * so that a column added to a function's result cannot shift another.
 */
static Datum
spi_column(const char *name, bool *isnull)
{
	return pgetl_spi_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, name, isnull);
}

/* Hand one task try to the pool; false when no worker is free now. */
static bool
launch_task(ActiveRun *r, int64 task_run_id)
{
	PgetlDispatch d;

	if (!pgetl_pool_dispatch(MyDatabaseId, r->owner, r->run_id, task_run_id, &d))
		return false;
	if (r->nlaunched == r->maxlaunched)
	{
		r->maxlaunched *= 2;
		r->launched = repalloc(r->launched, r->maxlaunched * sizeof(PgetlDispatch));
	}
	r->launched[r->nlaunched++] = d;
	return true;
}

/* Did we hand this task try to the pool already? */
static bool
is_launched(ActiveRun *r, int64 task_run_id)
{
	for (int i = 0; i < r->nlaunched; i++)
		if (r->launched[i].task_run_id == task_run_id)
			return true;
	return false;
}

/*
 * The timeout of a task try in milliseconds, 0 for none.  A sensor's
 * timeout is how long it may wait for its condition, across pokes and
 * reschedules: its worker enforces it (pgetl._sensor_poke), not us.
 */
static int64
task_timeout_ms(int64 task_run_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(task_run_id)};
	bool		isnull;
	Datum		d;

	if (SPI_execute_with_args("SELECT (pg_catalog.extract('epoch', t.timeout) "
							  "OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8 "
							  "FROM pgetl.task_run_record tr JOIN pgetl.task t "
							  "ON t.task_id OPERATOR(pg_catalog.=) tr.task_id "
							  "WHERE tr.task_run_id OPERATOR(pg_catalog.=) $1 "
							  "AND t.kind OPERATOR(pg_catalog.<>) 'sensor'",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		return 0;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * Record the end of a try whose worker let go of it without recording it
 * (it was terminated, or died): pgetl._task_fail() changes only
 * unfinished tries.  A worker that could not connect as the owner (no
 * LOGIN, no CONNECT) gets PostgreSQL's error through
 * pgetl._connect_error().
 */
static void
record_lost_worker(PgetlDispatch *t)
{
	Oid			types[7] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', 'n', 'n', 'n', ' '};
	const char *sql = "SELECT pgetl._task_fail($1, $2, $3, $4, $5, $6, $7)";

	values[0] = Int64GetDatum(t->task_run_id);
	values[6] = TimestampTzGetDatum(t->started_at);
	if (t->started_at == 0)
		nulls[6] = 'n';
	if (t->timed_out)
	{
		if (t->timeout_ms < 0)
			t->timeout_ms = task_timeout_ms(t->task_run_id);
		values[1] = CStringGetTextDatum(psprintf("task exceeded its timeout of " INT64_FORMAT " ms and was terminated",
												 t->timeout_ms));
		values[2] = CStringGetTextDatum("57014");
	}
	else
	{
		values[1] = CStringGetTextDatum("worker terminated unexpectedly");
		nulls[2] = 'n';
		sql = "SELECT pgetl._task_fail($1, COALESCE(c.error, $2), c.sqlstate, c.detail, c.hint, $6, $7) "
			"FROM pgetl._connect_error($1) c";
	}
	/* a 0.1 catalog: _task_fail has six arguments, no _connect_error */
	if (!pgetl_catalog_has_pool())
		sql = "SELECT pgetl._task_fail($1, $2, $3, $4, $5, $6)";
	if (SPI_execute_with_args(sql, pgetl_catalog_has_pool() ? 7 : 6, types, values, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not record the end of task run " INT64_FORMAT, t->task_run_id);
}

/*
 * slot_wait_reason - the reason of a run whose tries wait queued for a
 * task worker; palloc'd in step_cxt.
 */
static char *
slot_wait_reason(void)
{
	return MemoryContextStrdup(step_cxt,
							   psprintf("tasks wait for a free task worker "
										"(pgetl.max_workers is %d, max_worker_processes is %d)",
										pgetl_max_workers, max_worker_processes));
}

/*
 * note_wait - say in the run's reason what its tries wait queued for
 * (reason: a task worker, a task pool; NULL: nothing, the reason is
 * cleared), written in a transaction of its own when that changes, and
 * only over a reason this scheduler wrote (r->wait_reason, which it
 * keeps a copy of in TopMemoryContext; the caller keeps reason).
 */
static void
note_wait(ActiveRun *r, const char *reason)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	if (reason == NULL && r->wait_reason == NULL)
		return;
	if (reason != NULL && r->wait_reason != NULL && strcmp(reason, r->wait_reason) == 0)
		return;
	values[0] = Int64GetDatum(r->run_id);
	if (reason != NULL)
		values[1] = CStringGetTextDatum(reason);
	else
		nulls[1] = 'n';
	pgetl_xact_begin();
	if (SPI_execute_with_args("UPDATE pgetl.run_record SET reason = $2 "
							  "WHERE run_id OPERATOR(pg_catalog.=) $1 "
							  "AND state OPERATOR(pg_catalog.=) 'running'",
							  2, types, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update the reason of run " INT64_FORMAT, r->run_id);
	pgetl_xact_commit();
	if (r->wait_reason != NULL)
		pfree(r->wait_reason);
	r->wait_reason = reason != NULL ? MemoryContextStrdup(TopMemoryContext, reason) : NULL;
}

/*
 * note_waiting_for_slot - say in the run's reason whether tries wait
 * queued for a task worker (note_wait).
 */
static void
note_waiting_for_slot(ActiveRun *r, bool waiting)
{
	note_wait(r, waiting ? slot_wait_reason() : NULL);
}

/*
 * ended_try - a try our worker let go of: if it is still queued, nobody
 * recorded it (its worker died, or timed out): record that now, unless
 * the worker gave it back unrun (then it is handed out again).  True when
 * the try did not end in success, so that trigger rules must be applied
 * again.
 */
static bool
ended_try(PgetlDispatch *t)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(t->task_run_id)};
	PgetlTaskState state;

	if (SPI_execute_with_args("SELECT state FROM pgetl.task_run_record "
							  "WHERE task_run_id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read task run " INT64_FORMAT, t->task_run_id);
	if (SPI_processed != 1)
		return true;
	state = pgetl_task_state_from_name(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));

	/*
	 * running: recorded by a 0.1 catalog's _task_begin; on a 0.2 catalog, a
	 * mapped task's try that expanded (its instances run): it ended
	 */
	if (state == PGETL_TASK_STATE_QUEUED ||
		(state == PGETL_TASK_STATE_RUNNING && !pgetl_catalog_has_pool()))
	{
		if (pgetl_pool_bounced(t))
			return false;
		record_lost_worker(t);
		return true;
	}
	return state != PGETL_TASK_STATE_SUCCESS;
}

/*
 * The run's queued tries, in the order they start (pgetl._queued_in_order:
 * highest effective priority weight first, then task order, a mapped
 * task's instances in map_index order; on a 0.1 catalog task order), as an
 * int8 array in step_cxt (NULL: none).
 */
static ArrayType *
queued_tries(ActiveRun *r)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(r->run_id)};
	bool		isnull;
	Datum		d;
	MemoryContext old;
	ArrayType  *a;

	if (SPI_execute_with_args(pgetl_catalog_has_pool() ?
							  "SELECT pgetl._queued_in_order($1)" :
							  "SELECT pg_catalog.array_agg(task_run_id ORDER BY task_id, task_run_id) "
							  "FROM pgetl.task_run_record WHERE run_id OPERATOR(pg_catalog.=) $1 "
							  "AND state OPERATOR(pg_catalog.=) 'queued'",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the queued tries of run " INT64_FORMAT, r->run_id);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return NULL;
	old = MemoryContextSwitchTo(step_cxt);
	a = DatumGetArrayTypePCopy(d);
	MemoryContextSwitchTo(old);
	return a;
}

/* The ids of an int8 array (palloc'd in step_cxt) and their number */
static int
array_ids(ArrayType *a, Datum **ids)
{
	int			n = 0;
	MemoryContext old;

	*ids = NULL;
	if (a == NULL)
		return 0;
	old = MemoryContextSwitchTo(step_cxt);
	deconstruct_array(a, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, ids, NULL, &n);
	MemoryContextSwitchTo(old);
	return n;
}

/*
 * needs_step - whether the run needs a step now, seen from shared memory
 * alone: a try of it ended, its full step or next dispatch is due.
 */
static bool
needs_step(ActiveRun *r, TimestampTz now)
{
	if (r->next_full_step == 0 || now >= r->next_full_step)
		return true;
	if (r->next_dispatch != 0 && now >= r->next_dispatch)
		return true;
	for (int i = 0; i < r->nlaunched; i++)
		if (!pgetl_pool_is_running(&r->launched[i]))
			return true;
	return false;
}

/* Remember the queued tries of an int8 array, less those handed out already. */
static void
set_queued(ActiveRun *r, ArrayType *a)
{
	Datum	   *ids;
	int			n = array_ids(a, &ids);

	r->nqueued = 0;
	if (n > r->maxqueued)
	{
		r->maxqueued = Max(n, 2 * r->maxqueued);
		r->queued = r->queued ? repalloc(r->queued, r->maxqueued * sizeof(int64)) :
			MemoryContextAlloc(TopMemoryContext, r->maxqueued * sizeof(int64));
	}
	for (int i = 0; i < n; i++)
		if (!is_launched(r, DatumGetInt64(ids[i])))
			r->queued[r->nqueued++] = DatumGetInt64(ids[i]);
}

/* Add tries a worker's success queued to the run's queued ones (once). */
static void
add_queued(ActiveRun *r, const int64 *ids, int n)
{
	for (int i = 0; i < n; i++)
	{
		bool		known = is_launched(r, ids[i]);

		for (int k = 0; k < r->nqueued && !known; k++)
			known = (r->queued[k] == ids[i]);
		if (known)
			continue;
		if (r->nqueued == r->maxqueued)
		{
			r->maxqueued = Max(16, 2 * r->maxqueued);
			r->queued = r->queued ? repalloc(r->queued, r->maxqueued * sizeof(int64)) :
				MemoryContextAlloc(TopMemoryContext, r->maxqueued * sizeof(int64));
		}
		r->queued[r->nqueued++] = ids[i];
	}
}

/*
 * check_arbitrate - read whether the runs must be arbitrated (task pools,
 * priority weights or max_active_tasks in use: pgetl._hand_out_needed),
 * inside the caller's transaction.  A catalog without it (not yet
 * updated) never arbitrates.
 */
static void
check_arbitrate(TimestampTz now)
{
	bool		isnull;
	bool		was = arbitrate;

	arbitrate_checked = now;
	if (SPI_execute("SELECT pg_catalog.to_regprocedure('pgetl._hand_out_needed()') IS NOT NULL AS known",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not look up pgetl._hand_out_needed()");
	if (!DatumGetBool(spi_column("known", &isnull)))
		arbitrate = false;
	else
	{
		if (SPI_execute("SELECT pgetl._hand_out_needed() AS needed", true, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "pgetl._hand_out_needed() failed");
		arbitrate = DatumGetBool(spi_column("needed", &isnull));
	}
	/* per run again: from a clean slate */
	if (was && !arbitrate)
	{
		ListCell   *lc;

		foreach(lc, runs)
			((ActiveRun *) lfirst(lc))->next_dispatch = 0;
	}
}

/* A run by id, NULL if none of ours (or finished) */
static ActiveRun *
run_by_id(int64 run_id)
{
	ListCell   *lc;

	foreach(lc, runs)
	{
		ActiveRun  *r = lfirst(lc);

		if (r->run_id == run_id && !r->finished)
			return r;
	}
	return NULL;
}

/* Forget a queued try that was handed out */
static void
unqueue(ActiveRun *r, int64 task_run_id)
{
	for (int k = 0; k < r->nqueued; k++)
		if (r->queued[k] == task_run_id)
		{
			memmove(r->queued + k, r->queued + k + 1, (r->nqueued - k - 1) * sizeof(int64));
			r->nqueued--;
			return;
		}
}

/* A counter of slots or tries in use, by pipeline id or task pool name */
typedef struct UseCount
{
	int64		pipeline_id;	/* 0 for a task pool */
	char	   *pool;			/* NULL for a pipeline */
	int			used;
} UseCount;

/* The counter for a pipeline or task pool, made (at 0) when new; in step_cxt */
static UseCount *
use_count(List **counts, int64 pipeline_id, const char *pool)
{
	ListCell   *lc;
	UseCount   *u;

	foreach(lc, *counts)
	{
		u = lfirst(lc);
		if (pool ? (u->pool && strcmp(u->pool, pool) == 0) : (!u->pool && u->pipeline_id == pipeline_id))
			return u;
	}
	u = MemoryContextAllocZero(step_cxt, sizeof(UseCount));
	u->pipeline_id = pipeline_id;
	u->pool = pool ? MemoryContextStrdup(step_cxt, pool) : NULL;
	*counts = lappend(*counts, u);
	return u;
}

/* One row of pgetl._hand_out_order */
typedef struct HandOutRow
{
	int64		task_run_id;
	int64		run_id;
	int64		pipeline_id;	/* 0: none (dropped) */
	int			max_active_tasks;	/* 0: no cap */
	char	   *pool;			/* NULL: no task pool */
	int			pool_size;
	int			pool_slots;
	bool		launched;
} HandOutRow;

/*
 * note_pool_wait - during hand_out_all: a try of run r stays queued
 * because its task pool (h->pool) has no free slots for it; add the pool
 * to r->pool_wait (in step_cxt), the reason hand_out_all gives the run,
 * once per pool, in hand-out order.
 */
static void
note_pool_wait(ActiveRun *r, HandOutRow *h)
{
	char	   *item;
	MemoryContext old = MemoryContextSwitchTo(step_cxt);

	item = psprintf("\"%s\" (%d slot%s)", h->pool, h->pool_size, h->pool_size == 1 ? "" : "s");
	if (r->pool_wait == NULL)
	{
		r->pool_wait = makeStringInfo();
		appendStringInfo(r->pool_wait, "tasks wait for free slots of task pool %s", item);
	}
	else if (strstr(r->pool_wait->data, psprintf("\"%s\" (", h->pool)) == NULL)
		appendStringInfo(r->pool_wait, ", %s", item);
	MemoryContextSwitchTo(old);
}

/*
 * hand_out_all - with arbitration, hand out the queued tries of all runs
 * at once: in the order of pgetl._hand_out_order (effective weight, run,
 * task order), each when its run's max_parallel, its pipeline's
 * max_active_tasks (counted over all the pipeline's runs) and its task
 * pool's free slots (counted over all runs of the database: this
 * scheduler holds every try of the database) allow it.  A try that does
 * not fit stays queued, and the next ones are tried; when no task worker
 * is free the hand-out stops and is tried again later.  Each run's reason
 * says what its queued tries wait for: a task worker, else the task pools
 * that had no free slots for them (note_pool_wait), else nothing.  Reads the
 * catalog in a transaction of its own; memory in step_cxt.
 */
static void
hand_out_all(TimestampTz now)
{
	ListCell   *lc;
	int			nq = 0;
	int			nl = 0;
	Datum	   *qids;
	Datum	   *lids;
	Oid			types[2] = {INT8ARRAYOID, INT8ARRAYOID};
	Datum		values[2];
	HandOutRow *rows;
	int			nrows;
	List	   *counts = NIL;
	bool		no_slot = false;

	if (hand_out_retry_at != 0 && now < hand_out_retry_at)
		return;
	foreach(lc, runs)
	{
		ActiveRun  *r = lfirst(lc);

		if (r->finished)
			continue;
		nq += r->nqueued;
		nl += r->nlaunched;
	}
	if (nq == 0)
	{
		/*
		 * nothing to hand out: no retry is due (a run's stale next_dispatch
		 * would make it look due at every turn)
		 */
		hand_out_retry_at = 0;
		hand_out_wait_ms = NO_SLOT_WAIT_MS;
		foreach(lc, runs)
		{
			ActiveRun  *r = lfirst(lc);

			r->next_dispatch = 0;
			if (!r->finished)
				note_waiting_for_slot(r, false);
		}
		return;
	}

	MemoryContextReset(step_cxt);
	qids = MemoryContextAlloc(step_cxt, nq * sizeof(Datum));
	lids = MemoryContextAlloc(step_cxt, Max(nl, 1) * sizeof(Datum));
	nq = nl = 0;
	foreach(lc, runs)
	{
		ActiveRun  *r = lfirst(lc);

		r->pool_wait = NULL;
		if (r->finished)
			continue;
		for (int k = 0; k < r->nqueued; k++)
			qids[nq++] = Int64GetDatum(r->queued[k]);
		for (int k = 0; k < r->nlaunched; k++)
			lids[nl++] = Int64GetDatum(r->launched[k].task_run_id);
	}

	pgetl_xact_begin();
	values[0] = PointerGetDatum(construct_array(qids, nq, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_array(lids, nl, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_execute_with_args("SELECT * FROM pgetl._hand_out_order($1, $2)", 2, types, values,
							  NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgetl._hand_out_order failed");
	nrows = (int) SPI_processed;
	rows = MemoryContextAllocZero(step_cxt, Max(nrows, 1) * sizeof(HandOutRow));
	for (int i = 0; i < nrows; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;
		char	   *pool;

		rows[i].task_run_id = DatumGetInt64(pgetl_spi_getbinval(tup, desc, "task_run_id", &isnull));
		rows[i].run_id = DatumGetInt64(pgetl_spi_getbinval(tup, desc, "run_id", &isnull));
		d = pgetl_spi_getbinval(tup, desc, "pipeline_id", &isnull);
		rows[i].pipeline_id = isnull ? 0 : DatumGetInt64(d);
		d = pgetl_spi_getbinval(tup, desc, "max_active_tasks", &isnull);
		rows[i].max_active_tasks = isnull ? 0 : DatumGetInt32(d);
		pool = pgetl_spi_getvalue(tup, desc, "pool");
		rows[i].pool = pool ? MemoryContextStrdup(step_cxt, pool) : NULL;
		d = pgetl_spi_getbinval(tup, desc, "pool_size", &isnull);
		rows[i].pool_size = isnull ? INT_MAX : DatumGetInt32(d);
		d = pgetl_spi_getbinval(tup, desc, "pool_slots", &isnull);
		rows[i].pool_slots = isnull ? 1 : DatumGetInt32(d);
		rows[i].launched = DatumGetBool(pgetl_spi_getbinval(tup, desc, "is_launched", &isnull));
	}
	pgetl_xact_commit();

	for (int i = 0; i < nrows; i++)
	{
		HandOutRow *h = &rows[i];
		ActiveRun  *r;
		UseCount   *pipe = h->pipeline_id != 0 ? use_count(&counts, h->pipeline_id, NULL) : NULL;
		UseCount   *pool = h->pool ? use_count(&counts, 0, h->pool) : NULL;

		if (!h->launched)
		{
			r = run_by_id(h->run_id);
			if (r == NULL || r->nlaunched >= r->max_parallel)
				continue;
			if (pipe && h->max_active_tasks > 0 && pipe->used >= h->max_active_tasks)
				continue;
			if (pool && pool->used + h->pool_slots > h->pool_size)
			{
				note_pool_wait(r, h);
				continue;
			}
			/* no free worker: the try stays queued, try again soon */
			if (!launch_task(r, h->task_run_id))
			{
				no_slot = true;
				break;
			}
			unqueue(r, h->task_run_id);
		}
		if (pipe)
			pipe->used++;
		if (pool)
			pool->used += h->pool_slots;
	}

	if (no_slot)
	{
		hand_out_retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), hand_out_wait_ms);
		hand_out_wait_ms = Min(hand_out_wait_ms * 2, NO_SLOT_MAX_WAIT_MS);
	}
	else
	{
		hand_out_retry_at = 0;
		hand_out_wait_ms = NO_SLOT_WAIT_MS;
	}
	foreach(lc, runs)
	{
		ActiveRun  *r = lfirst(lc);

		if (r->finished)
			continue;
		/* wake up for the retry (wait_ms); a try's end wakes us anyway */
		r->next_dispatch = no_slot && r->nqueued > 0 ? hand_out_retry_at : 0;
		/* a task worker first: without one no pool's slot helps */
		if (no_slot && r->nqueued > 0)
			note_waiting_for_slot(r, true);
		else
			note_wait(r, r->nqueued > 0 && r->pool_wait != NULL ? r->pool_wait->data : NULL);
		r->pool_wait = NULL;
	}
}

/*
 * step - one scheduling step of a run: note the tries that ended, then
 * hand out queued tries, up to max_parallel at a time.
 *
 * Most steps need no transaction.  A worker reports in shared memory how
 * its try ended and, for a success, how many downstream tries the success
 * queued (pgetl._task_succeed does that in the task's own transaction);
 * the scheduler keeps the run's queued tries as last read.  So a step
 * reads the catalog only when something it cannot know happened: a
 * success queued more tries than its worker could name (read the queued
 * ones again; up to PGETL_MAX_RELEASED come by id), a try ended
 * otherwise or unreported (pgetl._dag_step(): retries, trigger rules that
 * skip or fail, the end of the run; a try whose worker died is recorded
 * first), nothing is left to hand out, a timeout must be looked up, or
 * FULL_STEP_MS have passed.  Sets r->finished when the run has finished,
 * and reports it.
 */
static void
step(ActiveRun *r)
{
	bool		done = false;
	bool		isnull;
	Datum		d;
	TimestampTz now = GetCurrentTimestamp();
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(r->run_id)};
	int			i;
	int			k;
	bool		no_slot = false;
	bool		full = (r->next_full_step == 0 || now >= r->next_full_step);
	bool		reread = false;
	bool		added = false;
	bool		lookup = false;
	PgetlDispatch *lost = NULL;
	int			nlost = 0;

	MemoryContextReset(step_cxt);

	/* tries that ended, as their workers report them */
	for (i = 0; i < r->nlaunched;)
	{
		PgetlDispatch *t = &r->launched[i];
		int			released;
		int64		ids[PGETL_MAX_RELEASED];

		if (!pgetl_pool_is_running(t))
		{
			switch (pgetl_pool_outcome(t, &released, ids))
			{
				case PGETL_TRY_SUCCEEDED:

					/*
					 * the tries it released, if its worker could name them
					 * all
					 */
					if (released > 0 && released <= PGETL_MAX_RELEASED)
					{
						add_queued(r, ids, released);
						added = true;
					}
					else if (released != 0)
						reread = true;
					break;
				case PGETL_TRY_RECORDED:
				case PGETL_TRY_NOT_RUN:
					full = true;
					break;
				case PGETL_TRY_UNKNOWN:
					/* given back unrun, or lost: the catalog says */
					if (lost == NULL)
						lost = MemoryContextAlloc(step_cxt, r->nlaunched * sizeof(PgetlDispatch));
					lost[nlost++] = *t;
					break;
			}
			r->launched[i] = r->launched[--r->nlaunched];
			continue;
		}
		/* the worker enforces the timeout: look it up once the try runs long */
		if (t->timeout_ms < 0 && TimestampDifferenceExceeds(t->dispatched_at, now, TIMEOUT_GRACE_MS))
			lookup = true;
		i++;
	}
	if (nlost > 0)
		reread = true;

	/*
	 * Tries released by workers join the queue at its end: when they compete
	 * for the run's free places with others, read the queue again in its
	 * order (highest effective weight first).
	 */
	if (added && !arbitrate && r->nqueued > Max(r->max_parallel - r->nlaunched, 1))
		reread = true;
	if (!full && !reread && r->nqueued == 0 && r->nlaunched == 0)
		full = true;			/* nothing left to hand out: finished? */

	if (full || reread || lookup)
	{
		ArrayType  *launch = NULL;

		pgetl_xact_begin();
		for (i = 0; i < nlost; i++)
			if (ended_try(&lost[i]))
				full = true;
		for (i = 0; i < r->nlaunched; i++)
		{
			PgetlDispatch *t = &r->launched[i];

			if (t->timeout_ms < 0 && TimestampDifferenceExceeds(t->dispatched_at, now, TIMEOUT_GRACE_MS))
				t->timeout_ms = task_timeout_ms(t->task_run_id);
		}
		if (full)
		{
			/* (a 0.1 catalog names the DAG step pgetl._schedule) */
			if (SPI_execute_with_args(pgetl_catalog_has_pool() ?
									  "SELECT * FROM pgetl._dag_step($1)" :
									  "SELECT * FROM pgetl._schedule($1)", 1, types, values,
									  NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "pgetl._dag_step failed for run " INT64_FORMAT, r->run_id);

			/* its OUT parameters, read by name (src/sql/40_engine.sql) */
			d = spi_column("launch", &isnull);
			if (!isnull)
			{
				MemoryContext old = MemoryContextSwitchTo(step_cxt);

				launch = DatumGetArrayTypePCopy(d);
				MemoryContextSwitchTo(old);
			}
			done = DatumGetBool(spi_column("done", &isnull));
			/* a 0.1 catalog's DAG step queues at most max_parallel itself */
			if (SPI_fnumber(SPI_tuptable->tupdesc, "max_parallel") > 0)
			{
				d = spi_column("max_parallel", &isnull);
				r->max_parallel = isnull ? 1 : Max(DatumGetInt32(d), 1);
			}
			else
				r->max_parallel = INT_MAX;
			r->next_full_step = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), FULL_STEP_MS);
			d = spi_column("next_wakeup", &isnull);
			if (!isnull && DatumGetTimestampTz(d) < r->next_full_step)
				r->next_full_step = DatumGetTimestampTz(d);
			if (done)
			{
				d = spi_column("run_state", &isnull);
				SpinLockAcquire(&r->req->mutex);
				r->req->final_state = isnull ? PGETL_RUN_STATE_NONE :
					pgetl_run_state_from_name(TextDatumGetCString(d));
				SpinLockRelease(&r->req->mutex);
				r->callback_due = callback_due(r);
			}
			if (TimestampDifferenceExceeds(arbitrate_checked, now, FULL_STEP_MS))
				check_arbitrate(now);
		}
		else if (reread)
			launch = queued_tries(r);
		if (full || reread)
			set_queued(r, launch);
		pgetl_xact_commit();
	}

	if (done)
	{
		r->finished = true;
		queue_callback(r);
		report(r, PGETL_RUN_FINISHED);
		return;
	}

	/* timeouts the worker did not enforce: terminate it */
	for (i = 0; i < r->nlaunched; i++)
	{
		PgetlDispatch *t = &r->launched[i];

		if (t->timeout_ms > 0 && !t->timed_out &&
			TimestampDifferenceExceeds(t->dispatched_at, now, t->timeout_ms + TIMEOUT_GRACE_MS))
		{
			ereport(LOG,
					(errmsg("pgetl: terminating task run " INT64_FORMAT " of run " INT64_FORMAT ": timeout exceeded",
							t->task_run_id, r->run_id)));
			pgetl_pool_cancel(t, true);
			t->timed_out = true;
		}
	}

	/* with arbitration between runs, hand_out_all hands out */
	if (arbitrate)
		return;

	/* hand out queued tries, in their order, up to max_parallel */
	for (k = 0; k < r->nqueued && !no_slot && r->nlaunched < r->max_parallel; k++)
	{
		/* no free worker: the try stays queued, try again soon */
		if (!launch_task(r, r->queued[k]))
		{
			no_slot = true;
			break;
		}
	}
	if (k > 0)
	{
		memmove(r->queued, r->queued + k, (r->nqueued - k) * sizeof(int64));
		r->nqueued -= k;
	}
	if (no_slot)
	{
		r->next_dispatch = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), r->no_slot_wait_ms);
		r->no_slot_wait_ms = Min(r->no_slot_wait_ms * 2, NO_SLOT_MAX_WAIT_MS);
	}
	else
	{
		r->next_dispatch = 0;
		r->no_slot_wait_ms = NO_SLOT_WAIT_MS;
	}
	note_waiting_for_slot(r, no_slot);
}

/*
 * stop_workers - stop the tries our workers run for a run: cancel their
 * queries, then terminate the workers that have not let go after
 * TIMEOUT_GRACE_MS (a query that does not see the cancel), and wait until
 * none holds a try of the run.
 */
static void
stop_workers(ActiveRun *r)
{
	TimestampTz start = GetCurrentTimestamp();
	bool		terminated = false;

	for (int i = 0; i < r->nlaunched; i++)
		pgetl_pool_cancel(&r->launched[i], false);
	for (;;)
	{
		bool		any = false;

		for (int i = 0; i < r->nlaunched; i++)
			if (pgetl_pool_is_running(&r->launched[i]))
				any = true;
		if (!any)
			break;
		if (!terminated && TimestampDifferenceExceeds(start, GetCurrentTimestamp(), TIMEOUT_GRACE_MS))
		{
			for (int i = 0; i < r->nlaunched; i++)
				pgetl_pool_cancel(&r->launched[i], true);
			terminated = true;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * stop_run - stop a run: its workers first, then, in one transaction, the
 * run and its unfinished tries (with when the tries that ran had begun).
 * A run past its run_timeout (timed_out) is failed by
 * pgetl._run_timed_out: the tries its workers ran fail, those that had
 * not started are skipped; else pgetl._stop_run cancels them all.
 */
static void
stop_run(ActiveRun *r, PgetlRunState state, const char *reason, bool timed_out)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];

	stop_workers(r);
	values[0] = Int64GetDatum(r->run_id);
	values[1] = CStringGetTextDatum(pgetl_run_state_name(state));
	values[2] = CStringGetTextDatum(reason);
	pgetl_xact_begin();
	for (int i = 0; i < r->nlaunched; i++)
	{
		Oid			t[2] = {INT8OID, TIMESTAMPTZOID};
		Datum		v[2];

		if (r->launched[i].started_at == 0)
			continue;
		v[0] = Int64GetDatum(r->launched[i].task_run_id);
		v[1] = TimestampTzGetDatum(r->launched[i].started_at);
		if (SPI_execute_with_args("UPDATE pgetl.task_run_record SET started_at = $2 "
								  "WHERE task_run_id OPERATOR(pg_catalog.=) $1 AND started_at IS NULL "
								  "AND state OPERATOR(pg_catalog.=) 'queued'",
								  2, t, v, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not record when task run " INT64_FORMAT " began", r->launched[i].task_run_id);
	}
	if (timed_out)
	{
		Oid			t[3] = {INT8OID, TEXTOID, INT8ARRAYOID};
		Datum		v[3];
		Datum	   *ids = palloc(Max(r->nlaunched, 1) * sizeof(Datum));

		for (int i = 0; i < r->nlaunched; i++)
			ids[i] = Int64GetDatum(r->launched[i].task_run_id);
		v[0] = Int64GetDatum(r->run_id);
		v[1] = CStringGetTextDatum(reason);
		v[2] = PointerGetDatum(construct_array(ids, r->nlaunched, INT8OID, sizeof(int64),
											   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		if (SPI_execute_with_args("SELECT pgetl._run_timed_out($1, $2, $3)", 3, t, v,
								  NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not fail run " INT64_FORMAT " past its run_timeout", r->run_id);
	}
	else if (SPI_execute_with_args("SELECT pgetl._stop_run($1, $2, $3)", 3, types, values,
								   NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not stop run " INT64_FORMAT, r->run_id);
	r->callback_due = callback_due(r);
	pgetl_xact_commit();
	r->nlaunched = 0;
	SpinLockAcquire(&r->req->mutex);
	r->req->final_state = state;
	SpinLockRelease(&r->req->mutex);
	r->finished = true;
	queue_callback(r);
	report(r, PGETL_RUN_FINISHED);
}

/*
 * drive_run - one turn of a run: a cancel request, or a step when needed.
 * An error fails the step, not the scheduler: after MAX_STEP_ERRORS in a
 * row the run is stopped failed.
 */
static void
drive_run(ActiveRun *r, TimestampTz now)
{
	char		reason[NAMEDATALEN * 2];
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		if (pgetl_slot_cancel_requested(r->slot, reason, sizeof(reason)))
			stop_run(r, PGETL_RUN_STATE_CANCELLED, reason, false);
		else if (r->deadline != 0 && now >= r->deadline)
		{
			ereport(LOG,
					(errmsg("pgetl: run " INT64_FORMAT " exceeded its run_timeout of %s", r->run_id,
							r->run_timeout)));
			stop_run(r, PGETL_RUN_STATE_FAILED,
					 psprintf("run exceeded its run_timeout of %s", r->run_timeout), true);
		}
		else if (needs_step(r, now))
		{
			pgstat_report_activity(STATE_RUNNING, "pgetl scheduler: scheduling a run");
			step(r);
		}
		r->step_errors = 0;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		HOLD_INTERRUPTS();
		EmitErrorReport();
		AbortOutOfAnyTransaction();
		FlushErrorState();
		RESUME_INTERRUPTS();
		if (++r->step_errors >= MAX_STEP_ERRORS && !r->finished)
			stop_run(r, PGETL_RUN_STATE_FAILED, psprintf("pgetl scheduler failed: %s", edata->message), false);
		else
			r->next_full_step = 0;
	}
	PG_END_TRY();
}

/*
 * hand_out_all_guarded - hand_out_all, whose error is logged and does not
 * stop the scheduler (the tries stay queued; the next turn tries again).
 */
static void
hand_out_all_guarded(void)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		hand_out_all(GetCurrentTimestamp());
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		HOLD_INTERRUPTS();
		EmitErrorReport();
		AbortOutOfAnyTransaction();
		FlushErrorState();
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();
}

/* Forget a finished run: its slot, its request segment. */
static void
forget_run(ActiveRun *r)
{
	if (r->slot >= 0)
		pgetl_slot_release(r->slot);
	r->slot = -1;
	dsm_detach(r->seg);
	if (r->wait_reason)
		pfree(r->wait_reason);
	pfree(r->launched);
	if (r->queued)
		pfree(r->queued);
	if (r->run_timeout)
		pfree(r->run_timeout);
	pfree(r);
}

/* The soonest time a run needs a step, for the latch wait */
static long
wait_ms(TimestampTz now)
{
	long		ms = FULL_STEP_MS;
	ListCell   *lc;

	foreach(lc, runs)
	{
		ActiveRun  *r = lfirst(lc);
		TimestampTz due = r->next_full_step;

		if (r->next_dispatch != 0 && r->next_dispatch < due)
			due = r->next_dispatch;
		if (r->deadline != 0 && r->deadline < due)
			due = r->deadline;
		if (due <= now)
			return 0;
		ms = Min(ms, (long) ((due - now) / 1000) + 1);
	}
	if (callbacks != NIL)
		ms = Min(ms, CALLBACK_WAIT_MS);
	return ms;
}

/*
 * pgetl_scheduler_main - entry point of a database's scheduler.
 * main_arg is the database's OID; bgw_extra holds the extension owner's.
 */
void
pgetl_scheduler_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	Oid			extowner;
	TimestampTz idle_since;

	memcpy(&extowner, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	pqsignal(SIGTERM, scheduler_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	if (!pgetl_sched_attach(dboid))
		proc_exit(0);			/* another scheduler drives this database */
	before_shmem_exit(scheduler_exit, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(dboid, extowner, 0);
	/* no ALTER DATABASE/ROLE ... SET search_path reaches the SQL run here */
	pgetl_pin_search_path(GUC_ACTION_SET);
	pgstat_report_appname(PGETL_SCHEDULER_TYPE);
	step_cxt = AllocSetContextCreate(TopMemoryContext, "pgetl scheduler step",
									 ALLOCSET_DEFAULT_SIZES);
	idle_since = GetCurrentTimestamp();
	/* callbacks of runs that ended while no scheduler could run them */
	(void) load_pending_callbacks();

	for (;;)
	{
		dsm_handle	h;
		TimestampTz now;
		ListCell   *lc;
		List	   *still = NIL;
		bool		any_finished;
		bool		accepted;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (got_sigterm)
		{
			foreach(lc, runs)
			{
				ActiveRun  *r = lfirst(lc);

				if (!r->finished)
					stop_run(r, PGETL_RUN_STATE_FAILED, "pgetl scheduler was terminated", false);
			}
			if (callbacks != NIL)
				ereport(LOG,
						(errmsg("pgetl scheduler terminated: %d pipeline callbacks left for the next scheduler",
								list_length(callbacks))));
			proc_exit(0);
		}

		/* new runs, in the order they were asked for */
		accepted = false;
		while ((h = pgetl_sched_dequeue(dboid)) != DSM_HANDLE_INVALID)
		{
			CHECK_FOR_INTERRUPTS();
			accept_request(h);
			accepted = true;
		}
		/* starting them recovered abandoned runs (pgetl._recover) */
		if (accepted)
			(void) load_pending_callbacks();

		now = GetCurrentTimestamp();
		any_finished = false;
		foreach(lc, runs)
		{
			ActiveRun  *r = lfirst(lc);

			if (!r->finished)
				drive_run(r, now);
			if (r->finished)
			{
				forget_run(r);
				any_finished = true;
			}
			else
				still = lappend(still, r);
		}
		list_free(runs);
		runs = still;

		/* with arbitration: one hand-out over all runs */
		if (arbitrate && runs != NIL)
			hand_out_all_guarded();

		/*
		 * A run that finished gave its place among its pipeline's
		 * max_active_runs to a queued run (pgetl._promote_queued): step every
		 * run now, so that one starts at once.
		 */
		if (any_finished)
			foreach(lc, runs)
				((ActiveRun *) lfirst(lc))->next_full_step = 0;
		MemoryContextSwitchTo(TopMemoryContext);
		if (callbacks != NIL)
			drive_callbacks();

		now = GetCurrentTimestamp();

		/*
		 * Pending callbacks keep the scheduler, unless it is asked to let go
		 * of the database (then they are dropped, and logged).
		 */
		if (runs == NIL && callbacks != NIL && pgetl_sched_release_requested(dboid))
		{
			ereport(LOG,
					(errmsg("pgetl scheduler released: %d pipeline callbacks left for the next scheduler",
							list_length(callbacks))));
			drop_callbacks();
		}
		if (runs != NIL || callbacks != NIL)
			idle_since = now;
		else if (TimestampDifferenceExceeds(idle_since, now, pgetl_worker_idle_timeout) ||
				 pgetl_sched_release_requested(dboid))
		{
			/* not before the callbacks of runs that ended unseen by it */
			if (!pgetl_sched_release_requested(dboid) && load_pending_callbacks())
				idle_since = now;
			else if (pgetl_sched_detach(dboid, true))
				proc_exit(0);
		}
		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 (runs != NIL || callbacks != NIL) ? wait_ms(now) :
						 Max(pgetl_worker_idle_timeout, 1),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
