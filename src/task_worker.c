/*-------------------------------------------------------------------------
 *
 * task_worker.c
 *	  The task worker: one dynamic background worker per task try.
 *
 * The worker connects to the pipeline's database as the pipeline owner
 * (never as a superuser the owner is not), so the task has exactly the
 * owner's privileges.  It marks its try running in a short transaction,
 * then runs the task in a transaction of its own with statement_timeout
 * set from the task's timeout (else the owner's own statement_timeout, set
 * for the role or the database, applies, as in a session).  Success is recorded in that same
 * transaction: the task's work and its 'success' commit together or not at
 * all.  A failure is recorded after the rollback, with SQLSTATE, detail,
 * hint and context.  Recording is done as the extension owner, through
 * pgetl's internal functions.
 *
 *-------------------------------------------------------------------------
 */
#include "task_worker.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "export.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "run.h"
#include "shmem.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "util.h"

/* What the running task may ask about itself (TopMemoryContext) */
typedef struct TaskContext
{
	int64		run_id;
	int64		task_run_id;
	char	   *task;
	char	   *pipeline;
	Jsonb	   *params;			/* pipeline defaults overlaid by run params */
	DateADT		logical_date;
} TaskContext;

static TaskContext *current = NULL;

int64
pgetl_current_run_id(void)
{
	return current ? current->run_id : 0;
}

/* The task's definition, as returned by pgetl._task_begin */
typedef struct TaskSpec
{
	char	   *kind;
	char	   *command;
	Jsonb	   *config;
	int64		timeout_ms;
} TaskSpec;

/*
 * begin_xact / commit_xact - a transaction with SPI connected and a
 * snapshot pushed; SPI memory is freed by SPI_finish.
 */
static void
begin_xact(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
commit_xact(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* A column of an SPI result as a string in TopMemoryContext (never freed: the worker is short-lived). */
static char *
copy_text_col(HeapTuple tup, TupleDesc desc, int col)
{
	char	   *s = SPI_getvalue(tup, desc, col);

	return s ? MemoryContextStrdup(TopMemoryContext, s) : NULL;
}

/* A jsonb column of an SPI result, copied into TopMemoryContext. */
static Jsonb *
copy_jsonb_col(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	Jsonb	   *j;
	Jsonb	   *copy;

	if (isnull)
		return NULL;
	j = DatumGetJsonbP(d);
	copy = MemoryContextAlloc(TopMemoryContext, VARSIZE(j));
	memcpy(copy, j, VARSIZE(j));
	return copy;
}

/*
 * Mark the try running and read the task.  False when the try is no longer
 * queued (the run was cancelled meanwhile): then there is nothing to do.
 */
static bool
begin_task(int64 task_run_id, TaskSpec *spec)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	PgetlUserSwitch sw;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	values[0] = Int64GetDatum(task_run_id);
	values[1] = Int32GetDatum(MyProcPid);
	begin_xact();
	pgetl_become_owner(&sw);
	if (SPI_execute_with_args("SELECT * FROM pgetl._task_begin($1, $2)", 2, types, values,
							  NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pgetl._task_begin failed");
	pgetl_restore_user(&sw);
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	d = SPI_getbinval(tup, desc, 1, &isnull);
	if (isnull)
	{
		commit_xact();
		return false;
	}
	current = MemoryContextAllocZero(TopMemoryContext, sizeof(TaskContext));
	current->run_id = DatumGetInt64(d);
	current->task_run_id = task_run_id;
	current->task = copy_text_col(tup, desc, 2);
	spec->kind = copy_text_col(tup, desc, 4);
	spec->command = copy_text_col(tup, desc, 5);
	spec->config = copy_jsonb_col(tup, desc, 6);
	d = SPI_getbinval(tup, desc, 7, &isnull);
	spec->timeout_ms = isnull ? 0 : DatumGetInt64(d);
	current->params = copy_jsonb_col(tup, desc, 8);
	current->logical_date = DatumGetDateADT(SPI_getbinval(tup, desc, 9, &isnull));
	current->pipeline = copy_text_col(tup, desc, 10);
	commit_xact();
	return true;
}

/* First row of the last statement's result as json text, columns in order (NULL if no row). */
static char *
first_row_json(void)
{
	TupleDesc	desc;
	Datum		composite;

	if (SPI_tuptable == NULL || SPI_processed == 0)
		return NULL;
	desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
	BlessTupleDesc(desc);
	composite = heap_copy_tuple_as_datum(SPI_tuptable->vals[0], desc);
	return TextDatumGetCString(DirectFunctionCall1(row_to_json, composite));
}

/* First row of the last statement's result as jsonb (NULL if no row). */
static Datum
first_row_jsonb(bool *isnull)
{
	char	   *json = first_row_json();

	*isnull = (json == NULL);
	if (json == NULL)
		return (Datum) 0;
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
}

/* A string key of a task's config, palloc'd; NULL when absent. */
static char *
config_string(Jsonb *config, const char *key)
{
	JsonbValue	v;

	if (config && getKeyJsonValueFromContainer(&config->root, key, strlen(key), &v) &&
		v.type == jbvString)
		return pnstrdup(v.val.string.val, v.val.string.len);
	return NULL;
}

/*
 * A data-quality check passes when its query returns a row whose first
 * column is true.  False, NULL or no row fails the task (SQLSTATE 23514)
 * with config.message, if the task has one, and the whole row it saw as
 * JSON, so the other columns can carry the values that were checked:
 *   SELECT count(*) >= 5 AS enough, count(*) AS customers FROM customers
 */
static void
check_first_row(const char *task, Jsonb *config)
{
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	char	   *message = config_string(config, "message");

	if (message == NULL)
		message = psprintf("data quality check \"%s\" failed", task);
	if (SPI_tuptable == NULL || SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s", message),
				 errdetail("Check \"%s\" returned no rows.", task),
				 errhint("A check query must return one row whose first column is a boolean.")));
	desc = SPI_tuptable->tupdesc;
	if (SPI_gettypeid(desc, 1) != BOOLOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("first column of check \"%s\" is of type %s, not boolean", task,
						format_type_be(SPI_gettypeid(desc, 1))),
				 errhint("Make the first column the condition, e.g. SELECT count(*) >= 10 AS enough_rows, count(*) AS rows FROM t.")));
	d = SPI_getbinval(SPI_tuptable->vals[0], desc, 1, &isnull);
	if (isnull || !DatumGetBool(d))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("%s", message),
				 errdetail("Check \"%s\" returned %s for \"%s\": %s.", task,
						   isnull ? "NULL" : "false", SPI_fname(desc, 1), first_row_json())));
}

/* Run a load task: SELECT * FROM <schema>.pgetl_load(load, source). */
static void
run_load(TaskSpec *spec)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char	   *load = config_string(spec->config, "load");
	char	   *source = config_string(spec->config, "source");
	char	   *schema = get_namespace_name(pgetl_extension_schema());

	if (load == NULL || source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("load task needs config with \"load\" and \"source\"")));
	values[0] = CStringGetTextDatum(load);
	values[1] = CStringGetTextDatum(source);
	if (SPI_execute_with_args(psprintf("SELECT * FROM %s.pgetl_load($1, $2)", quote_identifier(schema)),
							  2, types, values, NULL, false, 0) < 0)
		elog(ERROR, "pgetl_load failed");
}

/*
 * Record success in the task's own transaction (so both commit together),
 * as the extension owner.  The result is the given one, or else the first
 * row of the last statement; rows is the given count, or else the last
 * statement's.
 */
static void
record_success(int64 task_run_id, Jsonb *result, int64 rows)
{
	Oid			types[3] = {INT8OID, JSONBOID, INT8OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		isnull = false;
	PgetlUserSwitch sw;

	values[0] = Int64GetDatum(task_run_id);
	if (result)
		values[1] = JsonbPGetDatum(result);
	else
		values[1] = first_row_jsonb(&isnull);
	if (isnull)
		nulls[1] = 'n';
	values[2] = Int64GetDatum(rows >= 0 ? rows : (int64) SPI_processed);
	pgetl_become_owner(&sw);
	if (SPI_execute_with_args("SELECT pgetl._task_succeed($1, $2, $3)", 3, types, values,
							  nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not record the success of task run " INT64_FORMAT, task_run_id);
	pgetl_restore_user(&sw);
}

/*
 * Record a failure (after the task's transaction was rolled back) in a new
 * transaction, as the extension owner.  pgetl._task_fail decides between
 * up_for_retry and failed.
 */
static void
record_failure(int64 task_run_id, ErrorData *edata)
{
	Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	const char *fields[5];
	PgetlUserSwitch sw;

	fields[0] = edata->message;
	fields[1] = unpack_sql_state(edata->sqlerrcode);
	fields[2] = edata->detail;
	fields[3] = edata->hint;
	fields[4] = edata->context;
	values[0] = Int64GetDatum(task_run_id);
	for (int i = 0; i < 5; i++)
	{
		if (fields[i])
			values[i + 1] = CStringGetTextDatum(fields[i]);
		else
			nulls[i + 1] = 'n';
	}
	begin_xact();
	pgetl_become_owner(&sw);
	if (SPI_execute_with_args("SELECT pgetl._task_fail($1, $2, $3, $4, $5, $6)", 6, types,
							  values, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not record the failure of task run " INT64_FORMAT, task_run_id);
	pgetl_restore_user(&sw);
	commit_xact();
}

/*
 * pgetl_task_worker_main - entry point of a task worker.  Its arguments
 * (PgetlTaskArgs) are in bgw_extra.
 */
void
pgetl_task_worker_main(Datum main_arg)
{
	PgetlTaskArgs args;
	TaskSpec	spec;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, args.owner, 0);
	pgstat_report_appname(PGETL_TASK_TYPE);

	if (!begin_task(args.task_run_id, &spec))
		proc_exit(0);

	/*
	 * application_name is visible to every role in pg_stat_activity: ids
	 * only, names are for those who may read the run (pgetl.task_run).
	 */
	pgstat_report_appname(psprintf("pgetl run " INT64_FORMAT " task run " INT64_FORMAT,
									current->run_id, current->task_run_id));
	PG_TRY();
	{
		begin_xact();
		pgstat_report_activity(STATE_RUNNING, spec.command ? spec.command : spec.kind);
		if (spec.timeout_ms > 0)
			SetConfigOption("statement_timeout",
							psprintf(INT64_FORMAT, Min(spec.timeout_ms, (int64) PG_INT32_MAX)),
							PGC_USERSET, PGC_S_SESSION);

		/*
		 * SPI does not arm the timer as the top-level query loop does: arm
		 * it for the task's timeout, else for the statement_timeout the
		 * session got when it connected as the owner (ALTER ROLE / ALTER
		 * DATABASE ... SET statement_timeout), as a session's would be.
		 */
		if (StatementTimeout > 0)
			enable_timeout_after(STATEMENT_TIMEOUT, StatementTimeout);
		if (strcmp(spec.kind, "load") == 0)
		{
			run_load(&spec);
			disable_timeout(STATEMENT_TIMEOUT, false);
			record_success(args.task_run_id, NULL, -1);
		}
		else if (strcmp(spec.kind, "export") == 0)
		{
			PgetlExportRun run = {current->run_id, current->logical_date, current->pipeline};
			PgetlExport exp;

			pgetl_export_write(spec.command, spec.config, &run, &exp);
			disable_timeout(STATEMENT_TIMEOUT, false);
			record_success(args.task_run_id, pgetl_export_result(&exp), (int64) exp.rows);
			/* renamed into place when this transaction has committed */
			pgetl_export_finish(&exp);
		}
		else
		{
			if (SPI_execute(spec.command, false, 0) < 0)
				elog(ERROR, "SPI_execute failed");
			if (strcmp(spec.kind, "check") == 0)
				check_first_row(current->task, spec.config);
			disable_timeout(STATEMENT_TIMEOUT, false);
			record_success(args.task_run_id, NULL, -1);
		}
		commit_xact();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		HOLD_INTERRUPTS();
		disable_all_timeouts(false);
		EmitErrorReport();
		AbortOutOfAnyTransaction();
		FlushErrorState();
		pgetl_export_abort();
		RESUME_INTERRUPTS();
		record_failure(args.task_run_id, edata);
	}
	PG_END_TRY();
	/* an export whose rename failed after the commit records that */
	pgetl_export_report(args.task_run_id);

	pgstat_report_activity(STATE_IDLE, NULL);
	/* wake the coordinator now rather than when the postmaster reaps us */
	pgetl_set_latch_of(args.coordinator_procno);
	proc_exit(0);
}

/* ---- the context a task sees ---- */

/* Error out when called outside a task worker. */
static void
require_task(const char *fn)
{
	if (current == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s can only be called inside a pipeline task", fn),
				 errdetail("This session is not running a task of a pipeline run: it has no run, logical date, parameters or results."),
				 errhint("Call it from the command of a task run by pgetl_run(). On a distributed cluster (Citus), a call that reached a worker node had a non-constant argument or sat inside a function: pass constants, or compute the value first (e.g. in a CTE or a subquery).")));
}

/*
 * pgetl_param(name text) returns text: the run's parameter, else the
 * pipeline's default.  JSON strings come back unquoted, other JSON values
 * as JSON text, JSON null as NULL.
 */
PG_FUNCTION_INFO_V1(pgetl_param);
Datum
pgetl_param(PG_FUNCTION_ARGS)
{
	char	   *name;
	JsonbValue	v;

	require_task("pgetl_param()");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("parameter name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (current->params == NULL ||
		!getKeyJsonValueFromContainer(&current->params->root, name, strlen(name), &v))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("parameter \"%s\" is not defined for this run of pipeline \"%s\"",
						name, current->pipeline),
				 errdetail("Parameters of this run: %s.",
						   current->params ? JsonbToCString(NULL, &current->params->root, VARSIZE(current->params)) : "{}"),
				 errhint("Pass it with pgetl_run(..., params => '{\"%s\": ...}') or give the pipeline a default.",
						 name)));
	switch (v.type)
	{
		case jbvNull:
			PG_RETURN_NULL();
		case jbvString:
			PG_RETURN_TEXT_P(cstring_to_text_with_len(v.val.string.val, v.val.string.len));
		default:
			PG_RETURN_TEXT_P(cstring_to_text(JsonbToCString(NULL, &JsonbValueToJsonb(&v)->root, 0)));
	}
}

/*
 * pgetl_result(task text) returns jsonb: the recorded result of a task of
 * the current run (first row of its last statement).
 */
PG_FUNCTION_INFO_V1(pgetl_result);
Datum
pgetl_result(PG_FUNCTION_ARGS)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	bool		nulls[2] = {false, false};
	bool		isnull;
	Datum		result;

	require_task("pgetl_result()");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("task name must not be null")));
	values[0] = Int64GetDatum(current->run_id);
	values[1] = PG_GETARG_DATUM(0);
	result = pgetl_call_internal_args("_task_result", 2, types, values, nulls, JSONBOID, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/* pgetl_run_id() returns bigint: the current run; an error outside a task. */
PG_FUNCTION_INFO_V1(pgetl_run_id);
Datum
pgetl_run_id(PG_FUNCTION_ARGS)
{
	require_task("pgetl_run_id()");
	PG_RETURN_INT64(current->run_id);
}

/* pgetl_logical_date() returns date: the run's; an error outside a task. */
PG_FUNCTION_INFO_V1(pgetl_logical_date);
Datum
pgetl_logical_date(PG_FUNCTION_ARGS)
{
	require_task("pgetl_logical_date()");
	PG_RETURN_DATEADT(current->logical_date);
}
