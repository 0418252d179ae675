/*-------------------------------------------------------------------------
 *
 * run.c
 *	  pgetl_run, pgetl_resume and pgetl_cancel: the caller's side of a run.
 *
 * The caller never writes run history itself: it hands the request to its
 * database's scheduler (a background worker, src/scheduler.c) through a
 * dynamic shared memory segment put into the scheduler's queue
 * (src/shmem.c), starts the scheduler if none runs, and waits on its
 * latch.  The scheduler records the run in its own transactions, so the
 * history and the work of the tasks are committed whatever becomes of the
 * caller's transaction.  Nothing here fails because the server is busy: a
 * full queue, or no background worker slot to start the scheduler, only
 * makes the caller wait (as long as its statement_timeout lets it).  The
 * one limit that fails a run is the server's run slots (src/shmem.c): a
 * run that finds them all held by active runs is not started (53400 from
 * the scheduler).  Catchups (pgetl_run_due, the cron job) and backfills
 * therefore start runs only as places free, and never take the last
 * quarter of the slots (wait_for_place).
 *
 *-------------------------------------------------------------------------
 */
#include "run.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "parser/parse_func.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "schedule.h"
#include "shmem.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

/* How often the caller looks whether the scheduler waits for it, while starting */
#define START_POLL_MS	20L
/* ... and while the run goes on */
#define RUN_POLL_MS		1000L
/*
 * How long to wait before trying again to queue the request or to start
 * the scheduler: from the first, doubled each time up to the last
 * (nothing wakes the caller when a background worker slot frees up).
 */
#define SLOT_POLL_MS		10L
#define SLOT_POLL_MAX_MS	1000L
/*
 * A caller that is a background worker itself (a pg_cron job) holds a
 * background worker slot while it waits: when such callers hold them
 * all, the scheduler can never start.  It gives up after waiting that
 * long for a slot.
 */
#define SLOT_STUCK_MS		60000L
/*
 * How often a catchup or a backfill looks whether a place freed for its
 * next run (wait_for_place): from the first, doubled up to the last.
 */
#define PLACE_POLL_MS		10L
#define PLACE_POLL_MAX_MS	200L

static const char *const commit_first_hint =
"Commit the definition first, then call pgetl_run() or pgetl_resume() in a new transaction.";

/* The coordinator's last report, read under the spinlock. */
static PgetlRunPhase
read_phase(PgetlRunRequest *req)
{
	PgetlRunPhase phase;

	SpinLockAcquire(&req->mutex);
	phase = req->phase;
	SpinLockRelease(&req->mutex);
	return phase;
}

/*
 * waits_for_me - is process 'pid' waiting, directly or through other
 * waiting processes, for a lock that this backend holds (a heavyweight
 * lock, or a row lock through our transaction id)?
 */
static bool
waits_for_me(pid_t pid)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "pgetl lock check",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	int			todo[64];
	int			ntodo = 0;
	int			nseen = 0;
	bool		found = false;

	todo[ntodo++] = pid;
	while (nseen < ntodo && !found)
	{
		ArrayType  *blockers;
		Datum	   *pids;
		bool	   *nulls;
		int			n;

		blockers = DatumGetArrayTypeP(DirectFunctionCall1(pg_blocking_pids,
														  Int32GetDatum(todo[nseen++])));
		deconstruct_array(blockers, INT4OID, sizeof(int32), true, TYPALIGN_INT, &pids, &nulls, &n);
		for (int i = 0; i < n && !found; i++)
		{
			int			b = DatumGetInt32(pids[i]);
			bool		seen = false;

			if (nulls[i])
				continue;
			found = (b == MyProcPid);
			for (int j = 0; j < ntodo && !seen; j++)
				seen = (todo[j] == b);
			if (!seen && ntodo < lengthof(todo))
				todo[ntodo++] = b;
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return found;
}

/*
 * start_scheduler - register the database's scheduler (it attaches to its
 * slot in shmem.c when it starts).  False when no background worker slot
 * is free: the caller tries again later.
 */
static bool
start_scheduler(Oid extowner)
{
	if (pgetl_bgworker_register("pgetl_scheduler_main", PGETL_SCHEDULER_TYPE,
								psprintf("pgetl scheduler of database %u", MyDatabaseId),
								ObjectIdGetDatum(MyDatabaseId), &extowner, sizeof(Oid),
								true, NULL))
		return true;
	pgetl_sched_start_failed(MyDatabaseId);
	return false;
}

/*
 * pgetl_scheduler_wake - start this database's scheduler unless one runs
 * (or is starting), with nothing asked of it: for the pipeline callbacks
 * the catalog holds (it queues them when it starts).  No slot free: the
 * next scheduler to start runs them.  In a transaction (it reads the
 * extension's owner).
 */
void
pgetl_scheduler_wake(void)
{
	if (pgetl_sched_ensure(MyDatabaseId))
		(void) start_scheduler(pgetl_extension_owner());
}

/*
 * submit - queue the request for the database's scheduler, starting the
 * scheduler if none runs, and waiting while the queue is full or no
 * background worker slot is free for the scheduler: the wait ends with
 * the request queued, or with an error when the caller's
 * statement_timeout expires or the query is cancelled.  Only a server
 * that can never run a scheduler and a task worker at once (too few
 * max_worker_processes) raises 53400, at once.
 */
static void
submit(dsm_segment *seg, Oid extowner)
{
	volatile long poll_ms = SLOT_POLL_MS;
	volatile TimestampTz stuck_since = 0;
	volatile bool queued = false;
	bool		must_start = false;

	if (pgetl_free_dynamic_workers() < 2)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("cannot run pipelines: max_worker_processes is too small"),
				 errdetail("max_worker_processes is %d, and %d background workers registered at server start "
						   "(such as the pg_cron and pgetl launchers) hold a slot each; "
						   "pgetl needs one for the database's scheduler and one per running task.",
						   max_worker_processes, pgetl_static_workers()),
				 errhint("Raise max_worker_processes to at least %d and restart the server.",
						 pgetl_static_workers() + 2)));
	for (;;)
	{
		if (!queued)
			queued = pgetl_sched_enqueue(MyDatabaseId, dsm_segment_handle(seg), &must_start);
		else
			must_start = pgetl_sched_ensure(MyDatabaseId);
		if (queued && (!must_start || start_scheduler(extowner)))
			return;
		if (MyBackendType == B_BG_WORKER)
		{
			TimestampTz now = GetCurrentTimestamp();

			if (stuck_since == 0)
				stuck_since = now;
			else if (TimestampDifferenceExceeds(stuck_since, now, SLOT_STUCK_MS))
			{
				(void) pgetl_sched_withdraw(MyDatabaseId, dsm_segment_handle(seg));
				ereport(ERROR,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("could not start the pgetl scheduler: no background worker slot is free"),
						 errdetail("No slot of max_worker_processes (%ld) freed up for %ld s; "
								   "this caller is a background worker, which holds a slot while it waits.",
								   (long) max_worker_processes, SLOT_STUCK_MS / 1000),
						 errhint("Raise max_worker_processes, or let fewer pg_cron jobs run at once (cron.max_running_jobs).")));
			}
		}

		/*
		 * the queue is full, or no slot for the scheduler: wait, as long as
		 * the caller lets us
		 */
		PG_TRY();
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 poll_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		PG_CATCH();
		{
			/* cancelled while waiting: the request must not run later */
			if (queued)
				(void) pgetl_sched_withdraw(MyDatabaseId, dsm_segment_handle(seg));
			PG_RE_THROW();
		}
		PG_END_TRY();
		poll_ms = Min(poll_ms * 2, SLOT_POLL_MAX_MS);
	}
}

/*
 * Wait until the scheduler reports a phase other than 'from'.  If the
 * scheduler that took the request exits without reporting, raise an
 * error; while no scheduler has taken it, start one when none runs.
 *
 * The scheduler works in transactions of its own: if it waits for a lock
 * held by the caller's transaction (which changed the pipeline, and waits
 * for the scheduler here), neither would ever go on.  The caller looks
 * for that whenever a wait times out and raises an error instead; before
 * the run has started it first tells the scheduler not to start it when
 * the lock is released.
 */
static PgetlRunPhase
wait_for_phase_change(dsm_segment *seg, PgetlRunRequest *req, Oid extowner, PgetlRunPhase from)
{
	bool		timed_out = false;

	for (;;)
	{
		PgetlRunPhase phase = read_phase(req);
		pid_t		taken_by;
		pid_t		running;
		int			rc;

		if (phase != from)
			return phase;
		SpinLockAcquire(&req->mutex);
		taken_by = req->scheduler_pid;
		SpinLockRelease(&req->mutex);
		running = pgetl_sched_pid(MyDatabaseId);
		if (taken_by != 0 && running == taken_by && timed_out && waits_for_me(taken_by))
		{
			if (from == PGETL_RUN_STARTING)
			{
				/*
				 * It cannot get past our lock before our transaction ends:
				 * tell it not to start the run, and cancel its wait (as
				 * pg_cancel_backend does).
				 */
				SpinLockAcquire(&req->mutex);
				req->abandoned = true;
				SpinLockRelease(&req->mutex);
				(void) kill(taken_by, SIGINT);
				ereport(ERROR,
						(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
						 errmsg("cannot start the run: the pgetl scheduler waits for a lock held by this transaction"),
						 errdetail("This transaction changed or locked the pipeline (with pgetl_add_task, pgetl_alter_pipeline, "
								   "pgetl_schedule or the like) and has not committed. The run was not started."),
						 errhint("%s", commit_first_hint)));
			}
			ereport(ERROR,
					(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
					 errmsg("run " INT64_FORMAT " waits for a lock held by this transaction", req->run_id),
					 errdetail("The run goes on once this transaction ends."),
					 errhint("Do not wait for a run in a transaction that holds locks the run needs.")));
		}
		if (taken_by != 0 && running != taken_by)
		{
			phase = read_phase(req);
			if (phase != from)
				return phase;
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("the pgetl scheduler exited unexpectedly"),
					 req->run_id > 0 ?
					 errdetail("Run " INT64_FORMAT " will be marked failed by the next pgetl call.", req->run_id) : 0,
					 errhint("See the server log; resume the run with pgetl_resume() once the cause is fixed.")));
		}
		if (taken_by == 0 && running == 0 && pgetl_sched_ensure(MyDatabaseId))
			(void) start_scheduler(extowner);
		PG_TRY();
		{
			rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						   from == PGETL_RUN_STARTING ? START_POLL_MS : RUN_POLL_MS,
						   PG_WAIT_EXTENSION);
			timed_out = (rc & WL_TIMEOUT) != 0;
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		PG_CATCH();
		{
			/* cancelled before the scheduler took the request: withdraw it */
			if (from == PGETL_RUN_STARTING &&
				!pgetl_sched_withdraw(MyDatabaseId, dsm_segment_handle(seg)))
			{
				SpinLockAcquire(&req->mutex);
				req->abandoned = true;
				SpinLockRelease(&req->mutex);
			}
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
}

/*
 * check_definition_committed - refuse to run (resume_run_id 0) or resume a
 * pipeline that the current transaction has created or changed, or whose
 * tasks, dependencies or schedule it has changed: the run works in
 * transactions of its own, which would not see these changes and would wait
 * for this transaction's locks.
 */
static void
check_definition_committed(const char *pipeline, int64 resume_run_id)
{
	Oid			types[1];
	Datum		values[1];
	char	   *sql;
	uint64		n;
	char	   *name = NULL;

	if (!TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return;					/* this transaction has written nothing */

	if (resume_run_id == 0)
	{
		types[0] = TEXTOID;
		values[0] = CStringGetTextDatum(pipeline);
		sql = "WITH p AS (SELECT pipeline_id, name, xmin FROM pgetl.pipeline "
			"WHERE name OPERATOR(pg_catalog.=) $1) ";
	}
	else
	{
		types[0] = INT8OID;
		values[0] = Int64GetDatum(resume_run_id);
		sql = "WITH p AS (SELECT pl.pipeline_id, pl.name, pl.xmin FROM pgetl.pipeline pl "
			"JOIN pgetl.run_record r ON r.pipeline_id OPERATOR(pg_catalog.=) pl.pipeline_id "
			"WHERE r.run_id OPERATOR(pg_catalog.=) $1) ";
	}
	sql = psprintf("%s"
				   "SELECT p.name, p.xmin FROM p "
				   "UNION ALL SELECT p.name, t.xmin FROM p JOIN pgetl.task t "
				   "ON t.pipeline_id OPERATOR(pg_catalog.=) p.pipeline_id "
				   "UNION ALL SELECT p.name, d.xmin FROM p JOIN pgetl.task_dependency d "
				   "ON d.pipeline_id OPERATOR(pg_catalog.=) p.pipeline_id "
				   "UNION ALL SELECT p.name, s.xmin FROM p JOIN pgetl.schedule s "
				   "ON s.pipeline_id OPERATOR(pg_catalog.=) p.pipeline_id", sql);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	n = pgetl_spi_as_owner(sql, 1, types, values, NULL, true, 0);
	for (uint64 i = 0; i < n && name == NULL; i++)
	{
		bool		isnull;
		Datum		xmin = pgetl_spi_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
											   "xmin", &isnull);

		if (!isnull && TransactionIdIsCurrentTransactionId(DatumGetTransactionId(xmin)))
			name = pstrdup(pgetl_spi_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, "name"));
	}
	SPI_finish();
	if (name == NULL)
		return;
	if (resume_run_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("cannot run pipeline \"%s\" in the transaction that changed it", name),
				 errdetail("The run works in transactions of its own, which cannot see uncommitted changes "
						   "to the pipeline and would wait for this transaction's locks."),
				 errhint("%s", commit_first_hint)));
	ereport(ERROR,
			(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
			 errmsg("cannot resume run " INT64_FORMAT " in the transaction that changed its pipeline \"%s\"",
					resume_run_id, name),
			 errdetail("The run works in transactions of its own, which cannot see uncommitted changes "
					   "to the pipeline and would wait for this transaction's locks."),
			 errhint("%s", commit_first_hint)));
}

/*
 * latest_run_state - the state of a run as last committed, whatever the
 * isolation level of the caller's transaction; NULL if there is no such
 * run.
 */
static char *
latest_run_state(int64 run_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	MemoryContext cxt = CurrentMemoryContext;
	PgetlUserSwitch sw;
	SPIPlanPtr	plan;
	char	   *state = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	pgetl_become_owner(&sw);
	plan = SPI_prepare("SELECT state FROM pgetl.run_record WHERE run_id OPERATOR(pg_catalog.=) $1",
					   1, types);
	if (plan == NULL ||
		SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the state of run " INT64_FORMAT, run_id);
	pgetl_restore_user(&sw);
	if (SPI_processed == 1)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		state = v ? MemoryContextStrdup(cxt, v) : NULL;
	}
	SPI_finish();
	return state;
}

/*
 * raise_run_failed - the error of a run that ended failed while its
 * caller waited: the failed tasks and their errors, read from the history
 * (pgetl._failure_report) as last committed.
 */
static void
raise_run_failed(int64 run_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	PgetlUserSwitch sw;
	SPIPlanPtr	plan;
	char	   *failed = NULL;
	char	   *detail = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	pgetl_become_owner(&sw);

	/*
	 * a 0.1 catalog (before ALTER EXTENSION pgetl UPDATE) has no
	 * _failure_report
	 */
	plan = SPI_prepare(pgetl_catalog_has_pool() ?
					   "SELECT failed_tasks, failure_detail FROM pgetl._failure_report($1)" :
					   "SELECT string_agg(task, ', ' ORDER BY task_id) AS failed_tasks, NULL AS failure_detail "
					   "FROM pgetl._latest_tries($1) "
					   "WHERE state OPERATOR(pg_catalog.=) 'failed'", 1, types);
	if (plan == NULL ||
		SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the failure of run " INT64_FORMAT, run_id);
	pgetl_restore_user(&sw);
	if (SPI_processed == 1)
	{
		failed = pgetl_spi_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "failed_tasks");
		detail = pgetl_spi_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "failure_detail");
	}
	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("run " INT64_FORMAT " failed (%s)", run_id,
					failed ? psprintf("failed tasks: %s", failed) : "a task could not run"),
			 detail ? errdetail_internal("%s", detail) : 0,
			 errhint("See SELECT * FROM pgetl.task_run WHERE run_id = " INT64_FORMAT
					 "; after fixing the cause, SELECT pgetl_resume(" INT64_FORMAT ").",
					 run_id, run_id)));
}

/*
 * launch_run - hand a new run (pipeline != NULL) or a resumed one to the
 * database's scheduler, wait for it to start and, if asked, to finish.
 * interval: a scheduled run's data interval (start, end), or NULL (the
 * scheduler gives the run the interval of its logical date).
 *
 * Returns the run id.  A run that ends failed or cancelled while we wait
 * raises an ERROR naming the run and its failed tasks.
 */
static int64
launch_run(const char *pipeline, Jsonb *params, DateADT logical_date,
		   int64 resume_run_id, bool wait, const TimestampTz *interval)
{
	const char *params_text = params ? JsonbToCString(NULL, &params->root, VARSIZE(params)) : "{}";
	Size		name_len = pipeline ? strlen(pipeline) + 1 : 1;
	Size		size = offsetof(PgetlRunRequest, payload) + name_len + strlen(params_text) + 1;
	Size		queue_offset = MAXALIGN(size);
	Oid			extowner;
	dsm_segment *seg;
	PgetlRunRequest *req;
	shm_mq_handle *errq;
	PgetlRunPhase phase;
	int64		run_id;
	PgetlRunState final_state;

	pgetl_require_preload();
	extowner = pgetl_extension_owner();
	check_definition_committed(pipeline, resume_run_id);

	seg = dsm_create(queue_offset + PGETL_ERROR_QUEUE_SIZE, 0);
	req = dsm_segment_address(seg);
	memset(req, 0, size);
	SpinLockInit(&req->mutex);
	req->dboid = MyDatabaseId;
	req->caller = GetUserId();
	req->extowner = extowner;
	req->caller_procno = pgetl_my_procno();
	req->resume_run_id = resume_run_id;
	req->by_pg_cron = pgetl_called_by_pg_cron();
	req->logical_date = logical_date;
	if (interval != NULL)
	{
		req->scheduled = true;
		req->data_interval_start = interval[0];
		req->data_interval_end = interval[1];
	}
	req->params_offset = name_len;
	req->error_queue_offset = queue_offset;
	if (pipeline)
		memcpy(req->payload, pipeline, name_len);
	strcpy(req->payload + name_len, params_text);
	req->phase = PGETL_RUN_STARTING;
	req->final_state = PGETL_RUN_STATE_NONE;
	errq = pgetl_error_queue_create(seg, (char *) req + queue_offset);

	submit(seg, extowner);

	phase = wait_for_phase_change(seg, req, extowner, PGETL_RUN_STARTING);
	if (phase == PGETL_RUN_START_FAILED)
	{
		(void) pgetl_error_receive(errq, false);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("the pgetl scheduler exited before it reported why the run could not start"),
				 errhint("See the server log.")));
	}
	run_id = req->run_id;
	if (!wait)
	{
		dsm_detach(seg);
		return run_id;
	}

	(void) wait_for_phase_change(seg, req, extowner, PGETL_RUN_STARTED);
	final_state = req->final_state;
	dsm_detach(seg);
	if (final_state == PGETL_RUN_STATE_FAILED)
		raise_run_failed(run_id);
	if (final_state == PGETL_RUN_STATE_CANCELLED)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("run " INT64_FORMAT " was cancelled", run_id),
				 errhint("Resume it with SELECT pgetl_resume(" INT64_FORMAT ").", run_id)));
	return run_id;
}

static int	backfill_states(const int64 *ids, int n, PgetlRunState *states, MemoryContext cxt);
static void backfill_nap(void);

/*
 * pipeline_max_active_runs - the pipeline's max_active_runs as committed
 * (read as the extension owner); INT_MAX when there is no such pipeline
 * (starting its run raises the error).
 */
static int
pipeline_max_active_runs(const char *pipeline)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	int			result = INT_MAX;

	values[0] = CStringGetTextDatum(pipeline);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (pgetl_spi_as_owner("SELECT max_active_runs FROM pgetl.pipeline WHERE name OPERATOR(pg_catalog.=) $1",
						   1, types, values, NULL, true, 1) == 1)
	{
		bool		isnull;
		Datum		d = pgetl_spi_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											"max_active_runs", &isnull);

		if (!isnull)
			result = DatumGetInt32(d);
	}
	SPI_finish();
	return result;
}

/*
 * wait_for_place - before a catchup or a backfill starts its next run:
 * wait while 'cap' of its runs so far (ids[0..n), their states kept in
 * states) are active, or while some are and the server's free run slots
 * are down to the reserve left to other runs (pgetl_slots_scarce).  So
 * such a caller never holds more than 'cap' run slots, never a queued run
 * beyond its pipeline's max_active_runs of its own, and never the last
 * slots: the runs it has not started yet wait here, as dates or intervals
 * still due, not in shared memory.  Each wait ends as its own runs end;
 * the caller's statement_timeout or a cancel ends it too.  stop, when not
 * NULL, is polled too: true ends the wait at once (and is returned).
 */
static bool
wait_for_place(const int64 *ids, PgetlRunState *states, int n, int cap,
			   MemoryContext cxt, bool (*stop) (const char *, TimestampTz),
			   const char *pipeline, TimestampTz since)
{
	long		nap_ms = PLACE_POLL_MS;

	for (;;)
	{
		int			active = backfill_states(ids, n, states, cxt);

		if (active < cap && (active == 0 || !pgetl_slots_scarce()))
			return false;
		if (stop != NULL && stop(pipeline, since))
			return true;
		/* nothing wakes us when a run ends: poll, soon at first */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 nap_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		nap_ms = Min(nap_ms * 2, PLACE_POLL_MAX_MS);
	}
}

/*
 * is_scheduled - does the pipeline have a pgetl_schedule schedule?  False
 * with a catalog still at 0.1 (no data intervals there).
 */
static bool
is_scheduled(text *pipeline)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		nulls[1] = {false};
	bool		isnull;
	Datum		result;

	if (!OidIsValid(LookupFuncName(list_make2(makeString("pgetl"), makeString("_is_scheduled")),
								   1, argtypes, true)))
		return false;
	values[0] = PointerGetDatum(pipeline);
	result = pgetl_call_internal_args("_is_scheduled", 1, argtypes, values, nulls, BOOLOID, &isnull);
	return !isnull && DatumGetBool(result);
}

/*
 * run_due_once - start a run for each data interval of a scheduled
 * pipeline that is due at 'at' (pgetl._due_intervals says which, oldest
 * first, as the caller; it takes the pipeline's schedule lock until the
 * end of the transaction), each as pgetl_run(..., wait => false) starts
 * one, with its interval; beyond max_active_runs they wait queued.  With
 * dry_run, start none.  Each interval goes into ts (run id NULL in a dry
 * run) when ts is not NULL.  With wait, wait until every run started has
 * finished and raise the error of the first that failed (so that pg_cron
 * records its job as failed, as for pgetl_run).  Returns the last run id,
 * or 0; *count: the number of intervals.
 */
static int64
run_due_once(const char *pipeline, TimestampTz at, bool dry_run, bool wait, ReturnSetInfo *ts,
			 uint64 *count)
{
	Oid			types[3] = {OIDOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext poll_cxt;
	uint64		n;
	DateADT    *dates;
	TimestampTz *intervals;
	Jsonb	  **params;
	int64	   *ids;
	PgetlRunState *states;
	int64		last = 0;
	int			cap = INT_MAX;

	values[0] = ObjectIdGetDatum(GetUserId());
	values[1] = CStringGetTextDatum(pipeline);
	values[2] = TimestampTzGetDatum(at);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	n = pgetl_spi_as_owner("SELECT logical_date, data_interval_start, data_interval_end, params "
						   "FROM pgetl._due_intervals($1, $2, $3)", 3, types, values, NULL, false, 0);
	dates = MemoryContextAlloc(cxt, sizeof(DateADT) * Max(n, 1));
	intervals = MemoryContextAlloc(cxt, sizeof(TimestampTz) * 2 * Max(n, 1));
	params = MemoryContextAlloc(cxt, sizeof(Jsonb *) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext old;

		dates[i] = DatumGetDateADT(pgetl_spi_getbinval(tup, desc, "logical_date", &isnull));
		intervals[2 * i] = DatumGetTimestampTz(pgetl_spi_getbinval(tup, desc, "data_interval_start", &isnull));
		intervals[2 * i + 1] = DatumGetTimestampTz(pgetl_spi_getbinval(tup, desc, "data_interval_end", &isnull));
		old = MemoryContextSwitchTo(cxt);
		params[i] = DatumGetJsonbPCopy(pgetl_spi_getbinval(tup, desc, "params", &isnull));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	*count = n;

	if (!dry_run && n > 0)
		pgetl_require_preload();
	ids = palloc0(sizeof(int64) * Max(n, 1));
	states = palloc(sizeof(PgetlRunState) * Max(n, 1));
	poll_cxt = AllocSetContextCreate(CurrentMemoryContext, "pgetl run_due poll", ALLOCSET_SMALL_SIZES);
	if (wait && !dry_run && n > 0)
		cap = pipeline_max_active_runs(pipeline);
	for (uint64 i = 0; i < n; i++)
	{
		Datum		row[4];
		bool		row_nulls[4] = {false, false, false, false};

		if (!dry_run && wait)
			(void) wait_for_place(ids, states, (int) i, cap, poll_cxt, NULL, NULL, 0);
		else if (!dry_run && i > 0 && pgetl_slots_scarce())
		{
			int			total;
			int			free_slots = pgetl_slots_free(&total);

			/* without waiting: leave the rest due for the next call */
			ereport(NOTICE,
					(errmsg("pipeline \"%s\": " UINT64_FORMAT " of " UINT64_FORMAT " due intervals not started, too few run slots are free",
							pipeline, n - i, n),
					 errdetail("%d of the server's %d run slots are free; a catchup leaves a quarter of them to other runs. "
							   "The intervals stay due.",
							   free_slots, total),
					 errhint("The schedule's next firing starts them, as does SELECT * FROM pgetl_run_due('%s', wait => true), "
							 "which starts each as a place among max_active_runs frees.", pipeline)));
			*count = i;
			break;
		}
		if (!dry_run)
		{
			ids[i] = launch_run(pipeline, params[i], dates[i], 0, false, &intervals[2 * i]);
			states[i] = PGETL_RUN_STATE_NONE;
			last = ids[i];
		}
		if (ts != NULL)
		{
			row[0] = Int64GetDatum(ids[i]);
			row_nulls[0] = dry_run;
			row[1] = DateADTGetDatum(dates[i]);
			row[2] = TimestampTzGetDatum(intervals[2 * i]);
			row[3] = TimestampTzGetDatum(intervals[2 * i + 1]);
			tuplestore_putvalues(ts->setResult, ts->setDesc, row, row_nulls);
		}
	}
	if (!wait || dry_run || n == 0)
	{
		MemoryContextDelete(poll_cxt);
		return last;
	}

	while (backfill_states(ids, (int) n, states, poll_cxt) > 0)
		backfill_nap();
	MemoryContextDelete(poll_cxt);
	for (uint64 i = 0; i < n; i++)
	{
		if (states[i] == PGETL_RUN_STATE_FAILED)
			raise_run_failed(ids[i]);
		if (states[i] == PGETL_RUN_STATE_CANCELLED)
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("run " INT64_FORMAT " was cancelled", ids[i]),
					 errhint("Resume it with SELECT pgetl_resume(" INT64_FORMAT ").", ids[i])));
	}
	return last;
}

/*
 * run_due - run_due_once; with wait (and not dry_run), again once its runs
 * have finished, until no interval is due at 'at': the intervals of one
 * logical date, which the list of one call stops at (a run is identified
 * by its date), so run one after the other, and a backlog of a schedule
 * that fires several times a day is worked off in one cron job.  It ends:
 * each round starts at least one of the finitely many intervals up to
 * 'at', or stops.  Returns the last run id, or 0.
 */
static int64
run_due(const char *pipeline, TimestampTz at, bool dry_run, bool wait, ReturnSetInfo *ts)
{
	int64		last = 0;

	for (;;)
	{
		uint64		n;
		int64		got = run_due_once(pipeline, at, dry_run, wait, ts, &n);

		if (got != 0)
			last = got;
		if (!wait || dry_run || n == 0)
			return last;
	}
}

/*
 * pgetl_run_due(pipeline text, at timestamptz, dry_run boolean,
 *				 wait boolean) returns table (run_id bigint, logical_date date,
 *				 data_interval_start timestamptz, data_interval_end timestamptz)
 *
 * What the pipeline's cron job does when it fires (run_due), callable at
 * any time: after pgetl_unpause_schedule, or a pgetl_schedule with catchup
 * and a start_date in the past, it starts the missed intervals now rather
 * than at the next firing.
 */
PG_FUNCTION_INFO_V1(pgetl_run_due);
Datum
pgetl_run_due(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline name must not be null")));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("at, dry_run and wait must not be null"),
				 errhint("at defaults to now(): the intervals that have ended by then are due.")));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	(void) run_due(text_to_cstring(PG_GETARG_TEXT_PP(0)), PG_GETARG_TIMESTAMPTZ(1),
				   PG_GETARG_BOOL(2), PG_GETARG_BOOL(3), rsinfo);
	return (Datum) 0;
}

/*
 * pgetl_run(pipeline text, params jsonb, logical_date date, wait boolean)
 */
PG_FUNCTION_INFO_V1(pgetl_run);
Datum
pgetl_run(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline name must not be null")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("logical_date must not be null")));
	/* pg_cron firing the job of a pipeline scheduled by pgetl_schedule */
	if (pgetl_called_by_pg_cron() && is_scheduled(PG_GETARG_TEXT_PP(0)))
	{
		int64		last = run_due(text_to_cstring(PG_GETARG_TEXT_PP(0)), GetCurrentTimestamp(),
								   false, PG_ARGISNULL(3) ? true : PG_GETARG_BOOL(3), NULL);

		if (last == 0)
			PG_RETURN_NULL();
		PG_RETURN_INT64(last);
	}
	PG_RETURN_INT64(launch_run(text_to_cstring(PG_GETARG_TEXT_PP(0)),
							   PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
							   PG_GETARG_DATEADT(2), 0,
							   PG_ARGISNULL(3) ? true : PG_GETARG_BOOL(3), NULL));
}

/*
 * pgetl_resume(run_id bigint, wait boolean)
 */
PG_FUNCTION_INFO_V1(pgetl_resume);
Datum
pgetl_resume(PG_FUNCTION_ARGS)
{
	Jsonb	   *rerun = NULL;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("run_id must not be null")));
	/* rerun text[]: handed to the scheduler as a JSON array */
	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
	{
		Datum		json = DirectFunctionCall1(array_to_json, PG_GETARG_DATUM(2));

		rerun = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												   CStringGetDatum(TextDatumGetCString(json))));
	}
	PG_RETURN_INT64(launch_run(NULL, rerun, 0, PG_GETARG_INT64(0),
							   PG_ARGISNULL(1) ? true : PG_GETARG_BOOL(1), NULL));
}

/*
 * pgetl_clear(run_id bigint, tasks text[], downstream boolean, wait boolean)
 *
 * Airflow's clear: the named tasks of a finished run (also a successful
 * one) get a new try, with their downstream tasks unless downstream is
 * false.  The run is resumed as pgetl_resume() resumes it (the scheduler
 * calls pgetl._resume_run with p_clear), the tasks handed over as a JSON
 * object {"clear": [...], "downstream": ...} in the params slot.
 */
PG_FUNCTION_INFO_V1(pgetl_clear);
Datum
pgetl_clear(PG_FUNCTION_ARGS)
{
	Datum		json;
	StringInfoData buf;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("run_id must not be null")));
	if (PG_ARGISNULL(1) || ArrayGetNItems(ARR_NDIM(PG_GETARG_ARRAYTYPE_P(1)),
										  ARR_DIMS(PG_GETARG_ARRAYTYPE_P(1))) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tasks to clear must not be empty"),
				 errhint("Name the tasks to re-run, e.g. SELECT pgetl_clear(" INT64_FORMAT
						 ", ARRAY['load']); to re-run what failed, use pgetl_resume(" INT64_FORMAT ").",
						 PG_GETARG_INT64(0), PG_GETARG_INT64(0))));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("downstream must not be null"),
				 errhint("true re-runs the tasks downstream of the cleared ones too (the default); false only the tasks named.")));
	json = DirectFunctionCall1(array_to_json, PG_GETARG_DATUM(1));
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"clear\": %s, \"downstream\": %s}", TextDatumGetCString(json),
					 PG_GETARG_BOOL(2) ? "true" : "false");
	PG_RETURN_INT64(launch_run(NULL,
							   DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data))),
							   0, PG_GETARG_INT64(0), PG_ARGISNULL(3) ? true : PG_GETARG_BOOL(3), NULL));
}

/*
 * pgetl_cancel(run_id bigint) returns boolean
 *
 * Asks the run's scheduler to stop its task workers and mark the run
 * cancelled, and waits (up to a minute) until it has.  True only when the
 * run ended cancelled; false, with a notice, when it had already finished,
 * finished before the coordinator saw the request, or is still stopping.
 */
PG_FUNCTION_INFO_V1(pgetl_cancel);
Datum
pgetl_cancel(PG_FUNCTION_ARGS)
{
	int64		run_id;
	Oid			types[2] = {OIDOID, INT8OID};
	Datum		values[2];
	bool		nulls[2] = {false, false};
	bool		isnull;
	char	   *state;
	char	   *reason;
	TimestampTz deadline;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("run_id must not be null")));
	run_id = PG_GETARG_INT64(0);
	pgetl_require_preload();

	values[0] = ObjectIdGetDatum(GetUserId());
	values[1] = Int64GetDatum(run_id);
	state = TextDatumGetCString(pgetl_call_internal_args("_cancel_check", 2, types, values,
														 nulls, TEXTOID, &isnull));
	/* a queued run (beyond max_active_runs) is active too */
	if (pgetl_run_state_from_name(state) != PGETL_RUN_STATE_RUNNING &&
		pgetl_run_state_from_name(state) != PGETL_RUN_STATE_QUEUED)
	{
		ereport(NOTICE,
				(errmsg("run " INT64_FORMAT " has already finished (%s)", run_id, state)));
		PG_RETURN_BOOL(false);
	}

	reason = psprintf("cancelled by %s", GetUserNameFromId(GetUserId(), false));
	if (!pgetl_slot_request_cancel(MyDatabaseId, run_id, reason))
	{
		/*
		 * Nobody drives the run any more: it has just finished, or its
		 * scheduler is gone (then mark it failed now).
		 */
		(void) pgetl_call_internal_args("_recover", 0, NULL, NULL, NULL, INT4OID, &isnull);
		/* (the on_failure of a run it failed: the scheduler runs it) */
		pgetl_scheduler_wake();
		state = latest_run_state(run_id);
		ereport(NOTICE,
				(errmsg("run " INT64_FORMAT " has already finished (%s)", run_id,
						state ? state : "dropped")));
		PG_RETURN_BOOL(false);
	}

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 60 * 1000);
	while (pgetl_slot_is_live(MyDatabaseId, run_id))
	{
		if (GetCurrentTimestamp() > deadline)
		{
			ereport(NOTICE,
					(errmsg("run " INT64_FORMAT " is still stopping", run_id),
					 errdetail("The cancel request stands; the run will end cancelled unless it finishes first.")));
			PG_RETURN_BOOL(false);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	/*
	 * True only if the run ended cancelled: its scheduler may have finished
	 * it before it saw the request.
	 */
	state = latest_run_state(run_id);
	if (pgetl_run_state_from_name(state) != PGETL_RUN_STATE_CANCELLED)
	{
		ereport(NOTICE,
				(errmsg("run " INT64_FORMAT " finished (%s) before it could be cancelled", run_id,
						state ? state : "dropped")));
		PG_RETURN_BOOL(false);
	}
	PG_RETURN_BOOL(true);
}

/*
 * backfill_cancel_requested - has pgetl_cancel_backfill() asked the
 * backfills of the pipeline to stop since 'since'?  Read as last
 * committed, whatever the isolation level of the caller's transaction.
 */
static bool
backfill_cancel_requested(const char *pipeline, TimestampTz since)
{
	Oid			types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		values[2];
	PgetlUserSwitch sw;
	SPIPlanPtr	plan;
	bool		found;

	values[0] = CStringGetTextDatum(pipeline);
	values[1] = TimestampTzGetDatum(since);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	pgetl_become_owner(&sw);
	plan = SPI_prepare("SELECT 1 FROM pgetl.backfill_cancel c JOIN pgetl.pipeline p "
					   "ON p.pipeline_id OPERATOR(pg_catalog.=) c.pipeline_id "
					   "WHERE p.name OPERATOR(pg_catalog.=) $1 "
					   "AND c.requested_at OPERATOR(pg_catalog.>=) $2", 2, types);
	if (plan == NULL ||
		SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the backfill cancel requests of pipeline \"%s\"", pipeline);
	pgetl_restore_user(&sw);
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

/*
 * backfill_states - the states of the backfill's runs as last committed
 * (states[i] for ids[i]); returns how many are active (queued or
 * running).  The names are palloc'd in 'cxt', which the caller resets.
 */
static int
backfill_states(const int64 *ids, int n, PgetlRunState *states, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	int			active = 0;

	for (int i = 0; i < n; i++)
	{
		/* a finished run stays finished while we wait: read it once */
		if (states[i] != PGETL_RUN_STATE_NONE && states[i] != PGETL_RUN_STATE_QUEUED &&
			states[i] != PGETL_RUN_STATE_RUNNING)
			continue;
		states[i] = pgetl_run_state_from_name(latest_run_state(ids[i]));
		if (states[i] == PGETL_RUN_STATE_QUEUED || states[i] == PGETL_RUN_STATE_RUNNING)
			active++;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(cxt);
	return active;
}

/* Sleep a little while a backfill waits, as long as the caller lets us. */
static void
backfill_nap(void)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 200L, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/*
 * backfill_stop - pgetl_cancel_backfill() was called: cancel the
 * backfill's runs that still wait queued (running ones finish).
 */
static void
backfill_stop(const char *pipeline, const int64 *ids, const PgetlRunState *states,
			  int n, int not_started)
{
	int			cancelled = 0;

	for (int i = 0; i < n; i++)
		if (states[i] == PGETL_RUN_STATE_QUEUED &&
			DatumGetBool(DirectFunctionCall1(pgetl_cancel, Int64GetDatum(ids[i]))))
			cancelled++;
	ereport(NOTICE,
			(errmsg("backfill of pipeline \"%s\" stopped by pgetl_cancel_backfill()", pipeline),
			 errdetail("%d logical date(s) not started, %d queued run(s) cancelled; running runs finish.",
					   not_started, cancelled)));
}

/*
 * pgetl_backfill(pipeline text, start_date date, end_date date,
 *				  params jsonb, max_active_runs integer, reprocess text,
 *				  dry_run boolean, wait boolean) returns setof bigint
 *
 * Airflow's backfill: one run per logical date of the range
 * (pgetl._backfill_dates says which, in order), each started as
 * pgetl_run(..., wait => false) starts one, at most max_active_runs of
 * them active at a time (the pipeline's own max_active_runs applies too:
 * beyond it a run waits queued).  Returns the run ids as they start.  With
 * wait, returns when every run has finished, with a warning naming the
 * runs that did not succeed; without, once the last date's run has
 * started.  dry_run: a notice per date that would run, no run, no row.
 * pgetl_cancel_backfill() stops it before its next date.
 */
PG_FUNCTION_INFO_V1(pgetl_backfill);
Datum
pgetl_backfill(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			types[7] = {OIDOID, TEXTOID, DATEOID, DATEOID, JSONBOID, INT4OID, TEXTOID};
	Datum		values[7];
	bool		nulls[7];
	bool		isnull;
	Datum		dates;
	char	   *pipeline;
	Jsonb	   *params;
	int			max_active;
	bool		dry_run;
	bool		wait;
	int			n;
	int64	   *ids;
	PgetlRunState *states;
	int			nids = 0;
	int			failed = 0;
	StringInfoData failed_ids;
	TimestampTz since = GetCurrentTimestamp();
	MemoryContext poll_cxt;
	int			cap = 0;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline name must not be null")));
	if (PG_ARGISNULL(6) || PG_ARGISNULL(7))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("dry_run and wait must not be null")));
	pipeline = text_to_cstring(PG_GETARG_TEXT_PP(0));
	dry_run = PG_GETARG_BOOL(6);
	wait = PG_GETARG_BOOL(7);

	/* the dates, after the arguments are checked (as the caller) */
	values[0] = ObjectIdGetDatum(GetUserId());
	nulls[0] = false;
	for (int i = 0; i < 6; i++)
	{
		values[i + 1] = PG_GETARG_DATUM(i);
		nulls[i + 1] = PG_ARGISNULL(i);
	}
	dates = pgetl_call_internal_args("_backfill_dates", 7, types, values, nulls, JSONBOID, &isnull);
	params = PG_GETARG_JSONB_P(3);
	max_active = PG_GETARG_INT32(4);

	/* SETOF bigint: a one-column tuple store */
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	n = DatumGetInt32(DirectFunctionCall1(jsonb_array_length, dates));
	if (!dry_run)
		pgetl_require_preload();
	ids = palloc0(sizeof(int64) * Max(n, 1));
	states = palloc(sizeof(PgetlRunState) * Max(n, 1));
	poll_cxt = AllocSetContextCreate(CurrentMemoryContext, "pgetl backfill poll",
									 ALLOCSET_SMALL_SIZES);
	for (int i = 0; i < n; i++)
	{
		Datum		el = DirectFunctionCall2(jsonb_array_element, dates, Int32GetDatum(i));
		char	   *date_s = TextDatumGetCString(DirectFunctionCall2(jsonb_object_field_text, el,
																	 CStringGetTextDatum("date")));
		char	   *why = TextDatumGetCString(DirectFunctionCall2(jsonb_object_field_text, el,
																  CStringGetTextDatum("why")));
		DateADT		date = DatumGetDateADT(DirectFunctionCall1(date_in, CStringGetDatum(date_s)));
		Datum		id;
		bool		id_null = false;

		if (dry_run)
		{
			ereport(NOTICE,
					(errmsg("backfill of pipeline \"%s\" would run logical date %s (%s)",
							pipeline, date_s, why)));
			continue;
		}

		/*
		 * a place among the backfill's max_active_runs and the pipeline's (a
		 * run beyond the pipeline's would only wait queued, holding a run
		 * slot), with run slots to spare
		 */
		if (cap == 0)
			cap = Min(max_active, pipeline_max_active_runs(pipeline));
		if (wait_for_place(ids, states, nids, cap, poll_cxt, backfill_cancel_requested,
						   pipeline, since) ||
			backfill_cancel_requested(pipeline, since))
		{
			(void) backfill_states(ids, nids, states, poll_cxt);
			backfill_stop(pipeline, ids, states, nids, n - i);
			wait = false;
			break;
		}
		ids[nids] = launch_run(pipeline, params, date, 0, false, NULL);
		states[nids] = PGETL_RUN_STATE_NONE;
		id = Int64GetDatum(ids[nids]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &id, &id_null);
		nids++;
	}

	if (wait)
	{
		bool		stopped = false;

		while (backfill_states(ids, nids, states, poll_cxt) > 0)
		{
			if (!stopped && backfill_cancel_requested(pipeline, since))
			{
				backfill_stop(pipeline, ids, states, nids, 0);
				stopped = true;
				continue;
			}
			backfill_nap();
		}
		initStringInfo(&failed_ids);
		for (int i = 0; i < nids; i++)
			if (states[i] != PGETL_RUN_STATE_SUCCESS)
				appendStringInfo(&failed_ids, "%s" INT64_FORMAT " (%s)", failed++ ? ", " : "",
								 ids[i], pgetl_run_state_name(states[i]) ? pgetl_run_state_name(states[i]) : "dropped");
		if (failed > 0)
			ereport(WARNING,
					(errmsg("backfill of pipeline \"%s\": %d of %d runs did not succeed", pipeline, failed, nids),
					 errdetail("Runs: %s.", failed_ids.data),
					 errhint("See SELECT * FROM pgetl.pipeline_run WHERE run_id IN (...); "
							 "pgetl_backfill(..., reprocess => 'failed') runs their dates again.")));
	}
	MemoryContextDelete(poll_cxt);
	return (Datum) 0;
}
