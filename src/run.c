/*-------------------------------------------------------------------------
 *
 * run.c
 *	  pgetl_run, pgetl_resume and pgetl_cancel: the caller's side of a run.
 *
 * The caller never writes run history itself: it hands the request to a
 * run coordinator (a dynamic background worker, src/coordinator.c) through
 * a dynamic shared memory segment and waits on its latch.  The coordinator
 * records the run in its own transactions, so the history and the work of
 * the tasks are committed whatever becomes of the caller's transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "run.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "schedule.h"
#include "shmem.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/wait_event.h"

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
 * Wait until the coordinator reports a phase other than 'from'.  If the
 * coordinator exits without reporting, raise an error.
 */
static PgetlRunPhase
wait_for_phase_change(PgetlRunRequest *req, BackgroundWorkerHandle *handle,
					  PgetlRunPhase from)
{
	for (;;)
	{
		PgetlRunPhase phase = read_phase(req);
		pid_t		pid;

		if (phase != from)
			return phase;
		if (GetBackgroundWorkerPid(handle, &pid) == BGWH_STOPPED)
		{
			phase = read_phase(req);
			if (phase != from)
				return phase;
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("pgetl run coordinator exited unexpectedly"),
					 req->run_id > 0 ?
					 errdetail("Run " INT64_FORMAT " will be marked failed by the next pgetl call.", req->run_id) : 0,
					 errhint("See the server log; resume the run with pgetl_resume() once the cause is fixed.")));
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * launch_run - start a coordinator for a new run (pipeline != NULL) or a
 * resumed one, wait for it to start and, if asked, to finish.
 *
 * Returns the run id.  A run that ends failed or cancelled while we wait
 * raises an ERROR naming the run and its failed tasks.
 */
static int64
launch_run(const char *pipeline, Jsonb *params, DateADT logical_date,
		   int64 resume_run_id, bool wait)
{
	const char *params_text = params ? JsonbToCString(NULL, &params->root, VARSIZE(params)) : "{}";
	Size		name_len = pipeline ? strlen(pipeline) + 1 : 1;
	Size		size = offsetof(PgetlRunRequest, payload) + name_len + strlen(params_text) + 1;
	Oid			extowner;
	dsm_segment *seg;
	PgetlRunRequest *req;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	PgetlRunPhase phase;
	int64		run_id;

	pgetl_require_preload();
	extowner = pgetl_extension_owner();

	seg = dsm_create(size, 0);
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
	req->params_offset = name_len;
	if (pipeline)
		memcpy(req->payload, pipeline, name_len);
	strcpy(req->payload + name_len, params_text);
	req->phase = PGETL_RUN_STARTING;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, PGETL_LIBRARY, BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgetl_coordinator_main", BGW_MAXLEN);
	if (pipeline)
		snprintf(worker.bgw_name, BGW_MAXLEN, "pgetl run of pipeline %s", pipeline);
	else
		snprintf(worker.bgw_name, BGW_MAXLEN, "pgetl resume of run " INT64_FORMAT, resume_run_id);
	strlcpy(worker.bgw_type, PGETL_COORDINATOR_TYPE, BGW_MAXLEN);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start a pgetl run coordinator: no background worker slot is free"),
				 errdetail("max_worker_processes is %d; each active run uses one worker plus one per running task.",
						   max_worker_processes),
				 errhint("Raise max_worker_processes, or wait for other runs to finish.")));

	phase = wait_for_phase_change(req, handle, PGETL_RUN_STARTING);
	if (phase == PGETL_RUN_START_FAILED)
	{
		PgetlErrorBuf err = req->error;

		dsm_detach(seg);
		pgetl_error_rethrow(&err);
	}
	run_id = req->run_id;
	if (!wait)
	{
		dsm_detach(seg);
		return run_id;
	}

	(void) wait_for_phase_change(req, handle, PGETL_RUN_STARTED);
	if (strcmp(req->final_state, "failed") == 0)
	{
		char	   *failed = pstrdup(req->failed_tasks);
		char	   *detail = pstrdup(req->failure_detail);

		dsm_detach(seg);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("run " INT64_FORMAT " failed (%s)", run_id,
						failed[0] ? psprintf("failed tasks: %s", failed) : "a task could not run"),
				 detail[0] ? errdetail_internal("%s", detail) : 0,
				 errhint("See SELECT * FROM pgetl.task_run WHERE run_id = " INT64_FORMAT
						 "; after fixing the cause, SELECT pgetl_resume(" INT64_FORMAT ").",
						 run_id, run_id)));
	}
	if (strcmp(req->final_state, "cancelled") == 0)
	{
		dsm_detach(seg);
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("run " INT64_FORMAT " was cancelled", run_id),
				 errhint("Resume it with SELECT pgetl_resume(" INT64_FORMAT ").", run_id)));
	}
	dsm_detach(seg);
	return run_id;
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
	PG_RETURN_INT64(launch_run(text_to_cstring(PG_GETARG_TEXT_PP(0)),
							   PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
							   PG_GETARG_DATEADT(2), 0,
							   PG_ARGISNULL(3) ? true : PG_GETARG_BOOL(3)));
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
	/* rerun text[]: handed to the coordinator as a JSON array */
	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
	{
		Datum		json = DirectFunctionCall1(array_to_json, PG_GETARG_DATUM(2));

		rerun = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												   CStringGetDatum(TextDatumGetCString(json))));
	}
	PG_RETURN_INT64(launch_run(NULL, rerun, 0, PG_GETARG_INT64(0),
							   PG_ARGISNULL(1) ? true : PG_GETARG_BOOL(1)));
}

/*
 * pgetl_cancel(run_id bigint) returns boolean
 *
 * Asks the run's coordinator to stop its task workers and mark the run
 * cancelled, and waits (up to a minute) until it has.  False, with a
 * notice, when the run had already finished.
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
	if (strcmp(state, "queued") != 0 && strcmp(state, "running") != 0)
	{
		ereport(NOTICE,
				(errmsg("run " INT64_FORMAT " has already finished (%s)", run_id, state)));
		PG_RETURN_BOOL(false);
	}

	reason = psprintf("cancelled by %s", GetUserNameFromId(GetUserId(), false));
	if (!pgetl_slot_request_cancel(MyDatabaseId, run_id, reason))
	{
		/* Nobody drives the run any more: mark it failed now. */
		(void) pgetl_call_internal_args("_recover", 0, NULL, NULL, NULL, INT4OID, &isnull);
		ereport(NOTICE,
				(errmsg("run " INT64_FORMAT " had lost its coordinator and was marked failed", run_id)));
		PG_RETURN_BOOL(false);
	}

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 60 * 1000);
	while (pgetl_slot_is_live(MyDatabaseId, run_id))
	{
		if (GetCurrentTimestamp() > deadline)
		{
			ereport(NOTICE,
					(errmsg("run " INT64_FORMAT " is still stopping", run_id)));
			break;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	PG_RETURN_BOOL(true);
}
