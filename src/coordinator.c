/*-------------------------------------------------------------------------
 *
 * coordinator.c
 *	  The run coordinator: one dynamic background worker per active run.
 *
 * The coordinator is the monitor of a run (as in Citus's background job
 * runner): in short transactions of its own it asks pgetl._schedule() what
 * may start, launches one task worker per task try (src/task_worker.c),
 * notices workers that stop, enforces timeouts, and carries out cancel
 * requests.  All decisions live in SQL (src/sql/40_engine.sql), so the
 * catalog tables are always the truth; the coordinator only keeps the
 * handles of the workers it launched.
 *
 * It connects as the extension owner: it writes history, it never runs
 * user code.  Task workers connect as the pipeline owner.
 *
 *-------------------------------------------------------------------------
 */
#include "coordinator.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "pgstat.h"
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

/* Grace period after a task's timeout before its worker is terminated */
#define TIMEOUT_GRACE_MS	5000
/*
 * lock_timeout of the coordinator's first transaction.  The caller notices
 * when the coordinator waits for a lock the caller's own transaction holds
 * (src/run.c); this bounds a wait for any other transaction, e.g. one that
 * changed the pipeline and has not ended.
 */
#define START_LOCK_TIMEOUT	"30s"
/* How long to sleep at most when nothing happens */
#define IDLE_WAIT_MS		1000
/*
 * Retry interval when no background worker slot was free for a task: from
 * the first, doubled at each failed retry up to the last (nothing wakes
 * the coordinator when another worker ends).
 */
#define NO_SLOT_WAIT_MS		20
#define NO_SLOT_MAX_WAIT_MS	1000

typedef struct LaunchedTask
{
	int64		task_run_id;
	BackgroundWorkerHandle *handle;
	TimestampTz launched_at;
	int64		timeout_ms;		/* -1: not looked up yet; 0: none */
	bool		timed_out;
} LaunchedTask;

static volatile sig_atomic_t got_sigterm = false;

static PgetlRunRequest *req;
static int	my_slot = -1;
static int64 run_id;
static Oid	run_owner;
static LaunchedTask *launched;
static int	nlaunched;
static int	maxlaunched;
static MemoryContext step_cxt;
static long no_slot_wait_ms = NO_SLOT_WAIT_MS;	/* next retry interval */
static bool waiting_for_slot = false;	/* the run's reason says so */

/* SIGTERM: stop the run (its workers, then the run itself) at the next loop */
static void
coordinator_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/* Give our slot in the run registry back (also at process exit). */
static void
release_slot(int code, Datum arg)
{
	if (my_slot >= 0)
		pgetl_slot_release(my_slot);
	my_slot = -1;
}

/* Tell the waiting caller something changed. */
static void
report(PgetlRunPhase phase)
{
	SpinLockAcquire(&req->mutex);
	req->phase = phase;
	SpinLockRelease(&req->mutex);
	pgetl_set_latch_of(req->caller_procno);
}

/*
 * begin_step / end_step - one short transaction with SPI connected and a
 * snapshot pushed; memory allocated in between is freed by SPI_finish or
 * at commit.
 */
static void
begin_step(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
end_step(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
}

/*
 * Start or resume the run in the first transaction.  The slot learns the
 * run id before the commit makes the run visible, so pgetl._recover() in
 * another backend can never take this run for abandoned.
 */
static void
start_run(void)
{
	Oid			types[6];
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	int			ret;

	begin_step();
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
		/* the tasks to re-run, as a JSON array in the params slot */
		types[3] = JSONBOID;
		values[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(req->payload + req->params_offset));
		ret = SPI_execute_with_args("SELECT pgetl._resume_run($1, $2, $3, "
									"CASE WHEN pg_catalog.jsonb_typeof($4) OPERATOR(pg_catalog.=) 'array' "
									"THEN ARRAY(SELECT pg_catalog.jsonb_array_elements_text($4)) END)",
									4, types, values, nulls, false, 1);
	}
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not start the run");
	run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	types[0] = INT8OID;
	values[0] = Int64GetDatum(run_id);
	ret = SPI_execute_with_args("SELECT owner::pg_catalog.oid FROM pgetl.run_record "
								"WHERE run_id OPERATOR(pg_catalog.=) $1",
								1, types, values, nulls, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "run " INT64_FORMAT " vanished", run_id);
	run_owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	/*
	 * A caller that gave up (it found us waiting for a lock its own
	 * transaction holds, src/run.c) has raised an error: the run must not
	 * start behind its back.  It set the flag while we were still waiting,
	 * so it is visible here.
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

	pgetl_slot_set_run(my_slot, run_id);
	end_step();

	SpinLockAcquire(&req->mutex);
	req->run_id = run_id;
	SpinLockRelease(&req->mutex);
}

/* Launch a task worker for one task try; false when no slot is free. */
static bool
launch_task(int64 task_run_id)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	PgetlTaskArgs args;
	MemoryContext old;
	bool		ok;

	StaticAssertStmt(sizeof(PgetlTaskArgs) <= BGW_EXTRALEN, "task args too large");
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, PGETL_LIBRARY, BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgetl_task_worker_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "pgetl task run " INT64_FORMAT " of run " INT64_FORMAT,
			 task_run_id, run_id);
	strlcpy(worker.bgw_type, PGETL_TASK_TYPE, BGW_MAXLEN);
	worker.bgw_notify_pid = MyProcPid;
	args.dboid = MyDatabaseId;
	args.owner = run_owner;
	args.task_run_id = task_run_id;
	args.coordinator_procno = pgetl_my_procno();
	memcpy(worker.bgw_extra, &args, sizeof(args));

	/* the handle outlives this step */
	old = MemoryContextSwitchTo(TopMemoryContext);
	ok = RegisterDynamicBackgroundWorker(&worker, &handle);
	MemoryContextSwitchTo(old);
	if (!ok)
		return false;

	if (nlaunched == maxlaunched)
	{
		maxlaunched *= 2;
		launched = repalloc(launched, maxlaunched * sizeof(LaunchedTask));
	}
	launched[nlaunched].task_run_id = task_run_id;
	launched[nlaunched].handle = handle;
	launched[nlaunched].launched_at = GetCurrentTimestamp();
	launched[nlaunched].timeout_ms = -1;
	launched[nlaunched].timed_out = false;
	nlaunched++;
	return true;
}

/* Did we launch a worker for this task try already? */
static bool
is_launched(int64 task_run_id)
{
	for (int i = 0; i < nlaunched; i++)
		if (launched[i].task_run_id == task_run_id)
			return true;
	return false;
}

/*
 * Record the end of a worker that stopped without recording its try (it
 * was terminated, or died): pgetl._task_fail() changes only unfinished
 * tries.  A worker that could not connect as the owner (no LOGIN, no
 * CONNECT) gets PostgreSQL's error through pgetl._connect_error(), which
 * a catalog not yet updated to 0.2 lacks: then the plain message.
 */
static void
record_lost_worker(LaunchedTask *t, int64 timeout_ms)
{
	Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', 'n', 'n', 'n'};
	Oid			argtypes[1] = {INT8OID};
	const char *sql = "SELECT pgetl._task_fail($1, $2, $3, $4, $5, $6)";

	values[0] = Int64GetDatum(t->task_run_id);
	if (t->timed_out)
	{
		values[1] = CStringGetTextDatum(psprintf("task exceeded its timeout of " INT64_FORMAT " ms and was terminated",
												 timeout_ms));
		values[2] = CStringGetTextDatum("57014");
	}
	else
	{
		values[1] = CStringGetTextDatum("worker terminated unexpectedly");
		nulls[2] = 'n';
		if (OidIsValid(LookupFuncName(list_make2(makeString("pgetl"), makeString("_connect_error")),
									  1, argtypes, true)))
			sql = "SELECT pgetl._task_fail($1, COALESCE(c.error, $2), c.sqlstate, c.detail, c.hint, $6) "
				"FROM pgetl._connect_error($1) c";
	}
	if (SPI_execute_with_args(sql, 6, types, values, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not record the end of task run " INT64_FORMAT, t->task_run_id);
}

/* The timeout of a task try in milliseconds, 0 for none. */
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
							  "WHERE tr.task_run_id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		return 0;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * note_waiting_for_slot - say in the run's reason whether tries wait
 * queued for a background worker slot (written when that changes).
 */
static void
note_waiting_for_slot(bool waiting)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	if (waiting == waiting_for_slot)
		return;
	values[0] = Int64GetDatum(run_id);
	if (waiting)
		values[1] = CStringGetTextDatum(psprintf("tasks wait for a free background worker slot "
												 "(max_worker_processes is %d)",
												 max_worker_processes));
	else
		nulls[1] = 'n';
	begin_step();
	if (SPI_execute_with_args("UPDATE pgetl.run_record SET reason = $2 "
							  "WHERE run_id OPERATOR(pg_catalog.=) $1 "
							  "AND state OPERATOR(pg_catalog.=) 'running'",
							  2, types, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update the reason of run " INT64_FORMAT, run_id);
	end_step();
	waiting_for_slot = waiting;
}

/*
 * One scheduling step: reap stopped workers, enforce timeouts, then let
 * pgetl._schedule() decide; launch what it queued.  Returns true when the
 * run has finished; *wait_ms says how long to sleep.
 */
static bool
step(long *wait_ms)
{
	bool		done;
	bool		isnull;
	Datum		d;
	ArrayType  *launch = NULL;
	TimestampTz now = GetCurrentTimestamp();
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	int			i;
	bool		no_slot = false;

	*wait_ms = IDLE_WAIT_MS;
	MemoryContextReset(step_cxt);
	begin_step();

	/* stopped workers; timeouts */
	for (i = 0; i < nlaunched;)
	{
		LaunchedTask *t = &launched[i];
		pid_t		pid;

		if (t->timeout_ms < 0)
			t->timeout_ms = task_timeout_ms(t->task_run_id);
		if (GetBackgroundWorkerPid(t->handle, &pid) == BGWH_STOPPED)
		{
			record_lost_worker(t, t->timeout_ms);
			pfree(t->handle);
			launched[i] = launched[--nlaunched];
			continue;
		}
		if (t->timeout_ms > 0 && !t->timed_out &&
			TimestampDifferenceExceeds(t->launched_at, now, t->timeout_ms + TIMEOUT_GRACE_MS))
		{
			ereport(LOG,
					(errmsg("pgetl: terminating task run " INT64_FORMAT " of run " INT64_FORMAT ": timeout exceeded",
							t->task_run_id, run_id)));
			TerminateBackgroundWorker(t->handle);
			t->timed_out = true;
		}
		i++;
	}

	if (SPI_execute_with_args("SELECT * FROM pgetl._schedule($1)", 1, types, values,
							  NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pgetl._schedule failed for run " INT64_FORMAT, run_id);

	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		MemoryContext old = MemoryContextSwitchTo(step_cxt);

		launch = DatumGetArrayTypePCopy(d);
		MemoryContextSwitchTo(old);
	}
	done = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull);
	if (!isnull)
	{
		long		secs;
		int			usecs;

		TimestampDifference(GetCurrentTimestamp(), DatumGetTimestampTz(d), &secs, &usecs);
		*wait_ms = Min(*wait_ms, secs * 1000 + usecs / 1000 + 1);
	}
	if (done)
	{
		char	   *s;

		SpinLockAcquire(&req->mutex);
		s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
		req->final_state = pgetl_run_state_from_name(s);
		s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
		pgetl_strlcpy_clip(req->failed_tasks, s ? s : "", sizeof(req->failed_tasks));
		s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6);
		pgetl_strlcpy_clip(req->failure_detail, s ? s : "", sizeof(req->failure_detail));
		SpinLockRelease(&req->mutex);
	}
	end_step();

	if (launch != NULL && !done)
	{
		Datum	   *ids;
		int			n;

		MemoryContextSwitchTo(step_cxt);
		deconstruct_array(launch, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
						  TYPALIGN_DOUBLE, &ids, NULL, &n);
		for (i = 0; i < n && !no_slot; i++)
		{
			int64		id = DatumGetInt64(ids[i]);

			/* no free worker slot: the try stays queued, try again soon */
			if (!is_launched(id) && !launch_task(id))
				no_slot = true;
		}
		MemoryContextSwitchTo(TopMemoryContext);
	}
	if (no_slot)
	{
		*wait_ms = Min(*wait_ms, no_slot_wait_ms);
		no_slot_wait_ms = Min(no_slot_wait_ms * 2, NO_SLOT_MAX_WAIT_MS);
	}
	else
		no_slot_wait_ms = NO_SLOT_WAIT_MS;
	if (!done)
		note_waiting_for_slot(no_slot);
	return done;
}

/* Terminate our task workers and wait until they have exited. */
static void
stop_workers(void)
{
	for (int i = 0; i < nlaunched; i++)
		TerminateBackgroundWorker(launched[i].handle);
	for (int i = 0; i < nlaunched; i++)
		(void) WaitForBackgroundWorkerShutdown(launched[i].handle);
}

/* Mark the run and its unfinished tries stopped, in a transaction. */
static void
stop_run(PgetlRunState state, const char *reason)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(pgetl_run_state_name(state));
	values[2] = CStringGetTextDatum(reason);
	begin_step();
	if (SPI_execute_with_args("SELECT pgetl._stop_run($1, $2, $3)", 3, types, values,
							  NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not stop run " INT64_FORMAT, run_id);
	end_step();
	SpinLockAcquire(&req->mutex);
	req->final_state = state;
	pgetl_strlcpy_clip(req->failure_detail, reason, sizeof(req->failure_detail));
	SpinLockRelease(&req->mutex);
}

/*
 * pgetl_coordinator_main - entry point of a run coordinator.
 *
 * main_arg is the handle of the request segment created by the caller.
 */
void
pgetl_coordinator_main(Datum main_arg)
{
	dsm_segment *seg;
	char		reason[NAMEDATALEN * 2];

	pqsignal(SIGTERM, coordinator_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	CurrentResourceOwner = ResourceOwnerCreate(NULL, "pgetl coordinator");
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgetl coordinator could not map its request segment"),
				 errdetail("The backend that asked for the run has gone.")));
	dsm_pin_mapping(seg);
	req = dsm_segment_address(seg);
	/* the run registry slot our caller reserved for us */
	if (pgetl_slot_take(req->slot, req->caller_pid, req->reserved_at))
	{
		my_slot = req->slot;
		before_shmem_exit(release_slot, (Datum) 0);
	}

	BackgroundWorkerInitializeConnectionByOid(req->dboid, req->extowner, 0);
	/* no ALTER DATABASE/ROLE ... SET search_path reaches the SQL run here */
	pgetl_pin_search_path(GUC_ACTION_SET);
	pgstat_report_appname(PGETL_COORDINATOR_TYPE);

	launched = MemoryContextAlloc(TopMemoryContext, 16 * sizeof(LaunchedTask));
	maxlaunched = 16;
	step_cxt = AllocSetContextCreate(TopMemoryContext, "pgetl coordinator step",
									 ALLOCSET_DEFAULT_SIZES);


	PG_TRY();
	{
		if (my_slot < 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("pgetl run coordinator started too late"),
					 errdetail("The caller's reservation of a run slot expired after it waited %d s for its coordinator to start.",
							   PGETL_RESERVATION_TTL_MS / 1000),
					 errhint("The server may be overloaded; try again.")));
		start_run();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		HOLD_INTERRUPTS();
		AbortOutOfAnyTransaction();
		FlushErrorState();
		RESUME_INTERRUPTS();
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
		{
			/* START_LOCK_TIMEOUT: say which lock and what to do */
			edata->message = psprintf("could not start the run: %s", req->resume_run_id ?
									  psprintf("run " INT64_FORMAT " or its pipeline is locked by another transaction",
											   req->resume_run_id) :
									  psprintf("pipeline \"%s\" is locked by another transaction",
											   req->payload));
			edata->detail = psprintf("The run coordinator waited %s for the lock.", START_LOCK_TIMEOUT);
			edata->hint = pstrdup("A transaction that changed the pipeline (pgetl_add_task, pgetl_alter_pipeline, "
								  "pgetl_schedule and the like) has not ended: commit or roll it back, then try again.");
		}
		SpinLockAcquire(&req->mutex);
		pgetl_error_save(&req->error, edata);
		SpinLockRelease(&req->mutex);
		report(PGETL_RUN_START_FAILED);
		proc_exit(0);
	}
	PG_END_TRY();
	report(PGETL_RUN_STARTED);
	pgstat_report_activity(STATE_RUNNING, psprintf("pgetl run " INT64_FORMAT, run_id));

	PG_TRY();
	{
		for (;;)
		{
			long		wait_ms;

			CHECK_FOR_INTERRUPTS();
			if (ConfigReloadPending)
			{
				ConfigReloadPending = false;
				ProcessConfigFile(PGC_SIGHUP);
			}
			if (got_sigterm)
			{
				stop_workers();
				stop_run(PGETL_RUN_STATE_FAILED, "run coordinator was terminated");
				break;
			}
			if (pgetl_slot_cancel_requested(my_slot, reason, sizeof(reason)))
			{
				stop_workers();
				stop_run(PGETL_RUN_STATE_CANCELLED, reason);
				break;
			}
			if (step(&wait_ms))
				break;
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 wait_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		HOLD_INTERRUPTS();
		EmitErrorReport();
		AbortOutOfAnyTransaction();
		FlushErrorState();
		RESUME_INTERRUPTS();
		stop_workers();
		stop_run(PGETL_RUN_STATE_FAILED, psprintf("run coordinator failed: %s", edata->message));
	}
	PG_END_TRY();

	report(PGETL_RUN_FINISHED);
	release_slot(0, (Datum) 0);
	proc_exit(0);
}
