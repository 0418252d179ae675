/*-------------------------------------------------------------------------
 *
 * task_worker.c
 *	  The task worker: a warm background worker of the pool (src/pool.c)
 *	  that runs task try after task try of one owner in one database.
 *
 * The worker connects to the pipeline's database as the pipeline owner
 * (never as a superuser the owner is not), so every task it runs has
 * exactly the owner's privileges.  For each try it is handed, it runs one
 * transaction: read the task (pgetl._task_start), run it with
 * statement_timeout set from the task's timeout (else the owner's own
 * statement_timeout, set for the role or the database, applies, as in a
 * session), and record its success, its result and the release of its
 * downstream tasks (pgetl._task_succeed).  The task's work and its
 * 'success' commit together or not at all: a try interrupted by a crash
 * is still 'queued' and runs again.  That the try is running is known from
 * shared memory (pgetl._running_tasks), not from a commit.  A failure is
 * recorded after the rollback, in one more transaction, with SQLSTATE,
 * detail, hint and context.  A task that calls pgetl_skip() ends with an
 * error of its own SQLSTATE (PGSKP): its work rolls back as a failure's
 * does, and the try is recorded skipped instead (pgetl._task_skip), never
 * retried.  Branch and short_circuit tasks record, with their success,
 * which downstream tasks they skip (pgetl._task_branch,
 * pgetl._task_short_circuit).  A sensor's command is poked: true records
 * its success; false asks pgetl._sensor_poke what comes next (up_for_reschedule,
 * recorded with the poke, after which the worker takes other tries; or, in
 * mode poke, a wait in the worker and another poke in a transaction of its
 * own; or the end of the sensor's timeout).  Recording is done as the
 * extension owner, through pgetl's internal functions.
 *
 * A task's callbacks (on_success, on_failure, on_retry; read with the
 * task) run in the same worker once the try's state is committed and the
 * scheduler was told (so downstream tasks may start meanwhile, as in
 * Airflow): in a transaction of their own, as the owner, in the try's
 * session (its search_path).  A pipeline's callbacks (on_success,
 * on_failure of the run) are handed to a worker of the owner by the
 * scheduler when the run ends, as a try of a negative id that says the
 * state the run ended in (pool.h).  A callback's error
 * is logged and recorded (callback_error), never changes the state it
 * reports.
 *
 * Between two tries the session is reset as DISCARD ALL resets a pooled
 * connection (session GUCs, role and session authorization, temporary
 * tables, prepared statements, cursors WITH HOLD, LISTEN, session advisory
 * locks, sequence state, cached plans).  A worker whose reset fails, or
 * whose memory grew past WORKER_MEMORY_LIMIT, exits instead of being
 * reused; a FATAL error ends it anyway.
 *
 *-------------------------------------------------------------------------
 */
#include "task_worker.h"

#include "commands/discard.h"
#include "pool.h"
#include "task_values.h"
#include "postmaster/interrupt.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "export.h"
#include "load.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "shmem.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/fmgroids.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "util.h"

/* What the running task may ask about itself (try_cxt) */
typedef struct TaskContext
{
	int64		run_id;
	int64		task_run_id;
	char	   *task;
	char	   *pipeline;
	Jsonb	   *params;			/* pipeline defaults overlaid by run params */
	DateADT		logical_date;
	int32		map_index;		/* a mapped instance's; -1: not one */
	Jsonb	   *map_value;		/* a mapped instance's row, as an object */
} TaskContext;

static TaskContext *current = NULL;

/*
 * The callbacks of the current try (try_cxt; NULL: none), read with its
 * task, and the one its outcome calls for (set when the outcome is
 * recorded, run after the try: run_callback).
 */
static char *cb_on_success = NULL;
static char *cb_on_failure = NULL;
static char *cb_on_retry = NULL;
static char *cb_pending = NULL;

/* What the running callback reports (try_cxt), for pgetl_callback_context() */
static Jsonb *callback_context = NULL;

/*
 * pgetl_skip() was called in the current try: its error (SQLSTATE
 * ERRCODE_PGETL_SKIP), if it reaches the worker, records the try skipped
 * with skip_reason (try_cxt; NULL: none given).  An error of that SQLSTATE
 * raised otherwise (RAISE ... USING ERRCODE = 'PGSKP') is a failure.
 */
#define ERRCODE_PGETL_SKIP	MAKE_SQLSTATE('P','G','S','K','P')
static bool skip_requested = false;
static char *skip_reason = NULL;

int64
pgetl_current_run_id(void)
{
	return current ? current->run_id : 0;
}

/* A worker whose memory grew past this exits after its try */
#define WORKER_MEMORY_LIMIT		((Size) 256 * 1024 * 1024)

/* The task's definition, as returned by pgetl._task_start */
typedef struct TaskSpec
{
	char	   *kind;
	char	   *command;
	Jsonb	   *config;
	int64		timeout_ms;
	char	   *map_over;		/* a mapped task's own try: expand it */
} TaskSpec;

/* Memory of the current try: the TaskContext, the TaskSpec; reset per try */
static MemoryContext try_cxt = NULL;

/* The catalog is at 0.2 or later (else: 0.1's functions; see util.c) */
static bool catalog_has_pool = true;

/* session_fingerprint() when the worker connected (TopMemoryContext) */
static char *connect_fingerprint = NULL;
static bool fresh_session = true;	/* no try ran in this session yet */

/* A column of an SPI result, by name, as a string in try_cxt. */
static char *
copy_text_col(HeapTuple tup, TupleDesc desc, const char *col)
{
	char	   *s = pgetl_spi_getvalue(tup, desc, col);

	return s ? MemoryContextStrdup(try_cxt, s) : NULL;
}

/* A jsonb column of an SPI result, by name, copied into try_cxt. */
static Jsonb *
copy_jsonb_col(HeapTuple tup, TupleDesc desc, const char *col)
{
	bool		isnull;
	Datum		d = pgetl_spi_getbinval(tup, desc, col, &isnull);
	Jsonb	   *j;
	Jsonb	   *copy;

	if (isnull)
		return NULL;
	j = DatumGetJsonbP(d);
	copy = MemoryContextAlloc(try_cxt, VARSIZE(j));
	memcpy(copy, j, VARSIZE(j));
	return copy;
}

/*
 * Read the task of a try, in the try's transaction.  False when the try is
 * no longer queued (the run was cancelled or stopped meanwhile): then
 * there is nothing to do.
 */
static bool
begin_task(int64 task_run_id, TaskSpec *spec)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	int			ret;
	PgetlUserSwitch sw;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	values[0] = Int64GetDatum(task_run_id);
	values[1] = Int32GetDatum(MyProcPid);
	pgetl_become_owner(&sw);
	catalog_has_pool = pgetl_catalog_has_pool();
	if (catalog_has_pool)
		ret = SPI_execute_with_args("SELECT * FROM pgetl._task_start($1)", 1, types, values,
									NULL, true, 1);
	else
		ret = SPI_execute_with_args("SELECT * FROM pgetl._task_begin($1, $2)", 2, types, values,
									NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read task run " INT64_FORMAT, task_run_id);
	pgetl_restore_user(&sw);
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	/* the OUT parameters of pgetl._task_start (0.1: _task_begin), by name */
	d = pgetl_spi_getbinval(tup, desc, "run_id", &isnull);
	if (isnull)
		return false;
	current = MemoryContextAllocZero(try_cxt, sizeof(TaskContext));
	current->run_id = DatumGetInt64(d);
	current->task_run_id = task_run_id;
	current->task = copy_text_col(tup, desc, "task");
	spec->kind = copy_text_col(tup, desc, "kind");
	spec->command = copy_text_col(tup, desc, "command");
	spec->config = copy_jsonb_col(tup, desc, "config");
	d = pgetl_spi_getbinval(tup, desc, "timeout_ms", &isnull);
	spec->timeout_ms = isnull ? 0 : DatumGetInt64(d);
	current->params = copy_jsonb_col(tup, desc, "params");
	current->logical_date = DatumGetDateADT(pgetl_spi_getbinval(tup, desc, "logical_date", &isnull));
	current->pipeline = copy_text_col(tup, desc, "pipeline");
	/* dynamic task mapping (none on a catalog without it) */
	current->map_index = -1;
	spec->map_over = NULL;
	if (SPI_fnumber(desc, "map_over") > 0)
	{
		spec->map_over = copy_text_col(tup, desc, "map_over");
		d = pgetl_spi_getbinval(tup, desc, "map_index", &isnull);
		if (!isnull)
		{
			current->map_index = DatumGetInt32(d);
			current->map_value = copy_jsonb_col(tup, desc, "map_value");
		}
	}
	/* its callbacks (none on a catalog without them: 0.1) */
	cb_on_success = cb_on_failure = cb_on_retry = NULL;
	if (SPI_fnumber(desc, "on_success") > 0)
	{
		cb_on_success = copy_text_col(tup, desc, "on_success");
		cb_on_failure = copy_text_col(tup, desc, "on_failure");
		cb_on_retry = copy_text_col(tup, desc, "on_retry");
	}
	if (!catalog_has_pool)
	{
		/* 0.1: running is a commit of its own, before the task's */
		pgetl_xact_commit();
		pgetl_xact_begin();
	}
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

/*
 * A branch task's choice, from the result of its command: the first
 * column of the first row when it is an array (NULL: none), else the first
 * column of every row (NULLs ignored).  Then pgetl._task_branch skips the
 * direct downstream tasks not chosen, or fails the task when a name is not
 * one of them.  Runs in the task's transaction, before its success is
 * recorded.
 */
static void
run_branch(int64 task_run_id)
{
	Oid			types[2] = {INT8OID, TEXTARRAYOID};
	Datum		values[2];
	TupleDesc	desc;
	PgetlUserSwitch sw;
	Datum	   *names = NULL;
	int			n = 0;
	int64		rows = (int64) SPI_processed;

	if (SPI_tuptable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("branch task \"%s\" returned no result set", current->task),
				 errhint("A branch task's command is a query returning the names of the direct downstream tasks to follow.")));
	desc = SPI_tuptable->tupdesc;
	if (type_is_array(SPI_gettypeid(desc, 1)))
	{
		char	   *lit = rows > 0 ? SPI_getvalue(SPI_tuptable->vals[0], desc, 1) : NULL;

		values[1] = lit ? OidInputFunctionCall(F_ARRAY_IN, lit, TEXTOID, -1) :
			PointerGetDatum(construct_empty_array(TEXTOID));
	}
	else
	{
		names = palloc(sizeof(Datum) * Max(rows, 1));
		for (int64 i = 0; i < rows; i++)
		{
			char	   *v = SPI_getvalue(SPI_tuptable->vals[i], desc, 1);

			if (v)
				names[n++] = CStringGetTextDatum(v);
		}
		values[1] = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
	}
	values[0] = Int64GetDatum(task_run_id);
	pgetl_become_owner(&sw);
	if (SPI_execute_with_args("SELECT pgetl._task_branch($1, $2)", 2, types, values, NULL, false, 1)
		!= SPI_OK_SELECT)
		elog(ERROR, "could not record the branch of task run " INT64_FORMAT, task_run_id);
	pgetl_restore_user(&sw);
}

/*
 * A short_circuit task: its command's first column (boolean) true lets the
 * downstream tasks run; false, NULL or no row skips all of them
 * (pgetl._task_short_circuit).  Another type fails the task (42804).
 * *result: the row it saw, as JSON (NULL: no row).
 */
static void
run_short_circuit(int64 task_run_id, Jsonb **result)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	TupleDesc	desc;
	bool		isnull = true;
	Datum		d = (Datum) 0;
	PgetlUserSwitch sw;

	if (SPI_tuptable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("short_circuit task \"%s\" returned no result set", current->task),
				 errhint("Make the first column the condition, e.g. SELECT count(*) > 0 AS has_rows FROM staging.")));
	desc = SPI_tuptable->tupdesc;
	if (SPI_gettypeid(desc, 1) != BOOLOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("first column of short_circuit task \"%s\" is of type %s, not boolean", current->task,
						format_type_be(SPI_gettypeid(desc, 1))),
				 errhint("Make the first column the condition, e.g. SELECT count(*) > 0 AS has_rows FROM staging.")));
	*result = NULL;
	if (SPI_processed > 0)
	{
		bool		rnull;
		Datum		r;

		d = SPI_getbinval(SPI_tuptable->vals[0], desc, 1, &isnull);
		/* the row it saw, before the next statement replaces SPI_tuptable */
		r = first_row_jsonb(&rnull);
		*result = rnull ? NULL : DatumGetJsonbP(r);
	}
	if (!isnull && DatumGetBool(d))
		return;
	values[0] = Int64GetDatum(task_run_id);
	pgetl_become_owner(&sw);
	if (SPI_execute_with_args("SELECT pgetl._task_short_circuit($1)", 1, types, values, NULL, false, 1)
		!= SPI_OK_SELECT)
		elog(ERROR, "could not record the short circuit of task run " INT64_FORMAT, task_run_id);
	pgetl_restore_user(&sw);
}

/*
 * sensor_condition - a sensor's poke: true when its command's first row
 * has a first column true; false, NULL or no row is false.  A first column
 * of another type fails the task (42804).
 */
static bool
sensor_condition(const char *task)
{
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	if (SPI_tuptable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("sensor task \"%s\" returned no result set", task),
				 errhint("A sensor's command is a query whose first column says whether to stop waiting, e.g. SELECT EXISTS (SELECT FROM batches WHERE day = current_date).")));
	desc = SPI_tuptable->tupdesc;
	if (SPI_gettypeid(desc, 1) != BOOLOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("first column of sensor task \"%s\" is of type %s, not boolean", task,
						format_type_be(SPI_gettypeid(desc, 1))),
				 errhint("A sensor's command is a query whose first column says whether to stop waiting, e.g. SELECT EXISTS (SELECT FROM batches WHERE day = current_date).")));
	if (SPI_processed == 0)
		return false;
	d = SPI_getbinval(SPI_tuptable->vals[0], desc, 1, &isnull);
	return !isnull && DatumGetBool(d);
}

/*
 * record_poke - a sensor's poke was false: pgetl._sensor_poke records, in
 * the poke's transaction, the try up_for_reschedule or its timeout (failed,
 * whose on_failure callback becomes cb_pending, or skipped), and returns
 * false; or, in mode poke, returns true with the milliseconds to wait
 * before the next poke in *wait_ms.
 */
static bool
record_poke(int64 task_run_id, TimestampTz started_at, int64 *wait_ms)
{
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, INT4OID};
	Datum		values[3];
	PgetlUserSwitch sw;
	bool		isnull;
	char	   *outcome;
	Datum		d;

	values[0] = Int64GetDatum(task_run_id);
	values[1] = TimestampTzGetDatum(started_at);
	values[2] = Int32GetDatum(MyProcPid);
	pgetl_become_owner(&sw);
	if (SPI_execute_with_args("SELECT * FROM pgetl._sensor_poke($1, $2, $3)", 3, types, values,
							  NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not record the poke of task run " INT64_FORMAT, task_run_id);
	pgetl_restore_user(&sw);
	outcome = pgetl_spi_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "outcome");
	/* a timeout is a failure (Airflow's AirflowSensorTimeout): on_failure */
	if (outcome != NULL && strcmp(outcome, "failed") == 0)
		cb_pending = cb_on_failure;
	if (outcome == NULL || strcmp(outcome, "poke") != 0)
		return false;
	d = pgetl_spi_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "wait_ms", &isnull);
	*wait_ms = isnull ? 1000 : DatumGetInt64(d);
	return true;
}

/*
 * sensor_wait - a sensor in mode poke waits for its next poke, outside a
 * transaction, keeping its worker.  A cancel from the scheduler (SIGUSR2)
 * or SIGTERM ends the wait as it would end a query.
 */
static void
sensor_wait(int slot, int64 wait_ms)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);

	pgstat_report_activity(STATE_IDLE, NULL);
	for (;;)
	{
		long		left;

		CHECK_FOR_INTERRUPTS();
		if (pgetl_pool_worker_cancelled(slot))
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("canceling the wait of sensor \"%s\": its run was stopped", current->task)));
		left = (long) ((until - GetCurrentTimestamp()) / 1000);
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Run a load task: SELECT * FROM <schema>.pgetl_load(load, source), its
 * config checked as pgetl_add_task checked it (load_task_check_config).
 */
static void
run_load(TaskSpec *spec)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char	   *load;
	char	   *source;
	char	   *schema = get_namespace_name(pgetl_extension_schema());

	load_task_check_config(spec->config);
	load = config_string(spec->config, "load");
	source = config_string(spec->config, "source");
	values[0] = CStringGetTextDatum(load);
	values[1] = CStringGetTextDatum(source);
	if (SPI_execute_with_args(psprintf("SELECT * FROM %s.pgetl_load($1, $2)", quote_identifier(schema)),
							  2, types, values, NULL, false, 0) < 0)
		elog(ERROR, "pgetl_load failed");
}

/*
 * Record success in the task's own transaction (so both commit together),
 * as the extension owner: pgetl._task_succeed also queues the downstream
 * tasks that may now run.  The result is the given one (given: even
 * NULL), or else the first row of the last statement; rows is the given count, or else the last
 * statement's.
 */
static int64 released_ids[PGETL_MAX_RELEASED];	/* of the last success */

static int
record_success(int64 task_run_id, bool given, Jsonb *result, int64 rows, TimestampTz started_at)
{
	bool		rnull;
	int			released = -1;

	Oid			types[5] = {INT8OID, JSONBOID, INT8OID, TIMESTAMPTZOID, INT4OID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	bool		isnull = false;
	PgetlUserSwitch sw;

	values[0] = Int64GetDatum(task_run_id);
	if (result)
		values[1] = JsonbPGetDatum(result);
	else if (given)
		isnull = true;
	else
		values[1] = first_row_jsonb(&isnull);
	if (isnull)
		nulls[1] = 'n';
	values[2] = Int64GetDatum(rows >= 0 ? rows : (int64) SPI_processed);
	values[3] = TimestampTzGetDatum(started_at);
	values[4] = Int32GetDatum(MyProcPid);
	pgetl_become_owner(&sw);
	if (SPI_execute_with_args(catalog_has_pool ? "SELECT pgetl._task_succeed($1, $2, $3, $4, $5)" :
							  "SELECT pgetl._task_succeed($1, $2, $3)", catalog_has_pool ? 5 : 3,
							  types, values, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not record the success of task run " INT64_FORMAT, task_run_id);
	/* 0.2: the downstream tries it queued; 0.1: nothing */
	if (catalog_has_pool && SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &rnull);

		if (!rnull)
		{
			Datum	   *ids;
			int			n;

			deconstruct_array(DatumGetArrayTypeP(d), INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
							  TYPALIGN_DOUBLE, &ids, NULL, &n);
			released = n;
			for (int i = 0; i < n && i < PGETL_MAX_RELEASED; i++)
				released_ids[i] = DatumGetInt64(ids[i]);
		}
	}
	pgetl_restore_user(&sw);
	return released;
}

/*
 * Record a failure (after the task's transaction was rolled back) in a new
 * transaction, as the extension owner.  pgetl._task_fail decides between
 * up_for_retry and failed; the callback for the state it recorded
 * (on_retry, on_failure) becomes cb_pending.
 */
static void
record_failure(int64 task_run_id, ErrorData *edata, TimestampTz started_at)
{
	Oid			types[8] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TIMESTAMPTZOID, INT4OID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
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
	values[6] = TimestampTzGetDatum(started_at);
	values[7] = Int32GetDatum(MyProcPid);
	pgetl_xact_begin();
	pgetl_become_owner(&sw);
	if (SPI_execute_with_args(catalog_has_pool ? "SELECT pgetl._task_fail($1, $2, $3, $4, $5, $6, $7, $8)" :
							  "SELECT pgetl._task_fail($1, $2, $3, $4, $5, $6)", catalog_has_pool ? 8 : 6, types,
							  values, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not record the failure of task run " INT64_FORMAT, task_run_id);
	pgetl_restore_user(&sw);
	if (SPI_processed == 1)
	{
		char	   *st = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (st && strcmp(st, "failed") == 0)
			cb_pending = cb_on_failure;
		else if (st && strcmp(st, "up_for_retry") == 0)
			cb_pending = cb_on_retry;
	}
	pgetl_xact_commit();
}

/*
 * Record a try that skipped itself (pgetl_skip()), after its transaction
 * was rolled back, in a new transaction, as the extension owner.
 */
static void
record_skip(int64 task_run_id, const char *reason, TimestampTz started_at)
{
	Oid			types[4] = {INT8OID, TEXTOID, TIMESTAMPTZOID, INT4OID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	PgetlUserSwitch sw;

	values[0] = Int64GetDatum(task_run_id);
	if (reason)
		values[1] = CStringGetTextDatum(reason);
	else
		nulls[1] = 'n';
	values[2] = TimestampTzGetDatum(started_at);
	values[3] = Int32GetDatum(MyProcPid);
	pgetl_xact_begin();
	pgetl_become_owner(&sw);
	if (SPI_execute_with_args("SELECT pgetl._task_skip($1, $2, $3, $4)", 4, types, values, nulls,
							  false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not record the skip of task run " INT64_FORMAT, task_run_id);
	pgetl_restore_user(&sw);
	pgetl_xact_commit();
}

/*
 * session_fingerprint - what a new connection of the owner would check and
 * apply, as of now: NULL when the owner could no longer connect (no LOGIN,
 * expired password, no CONNECT, database closed, role dropped); else a
 * digest of the settings ALTER ROLE / ALTER DATABASE ... SET give this
 * (role, database).  Read as the extension owner with search_path pinned,
 * in the current transaction; the result is palloc'd there.
 */
static char *
session_fingerprint(Oid owner)
{
	Oid			types[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(owner), ObjectIdGetDatum(MyDatabaseId)};
	PgetlUserSwitch sw;
	char	   *fp = NULL;

	pgetl_become_owner(&sw);
	if (SPI_execute_with_args("SELECT CASE WHEN (SELECT r.rolcanlogin AND (r.rolvaliduntil IS NULL "
							  "OR r.rolvaliduntil > now()) FROM pg_roles r WHERE r.oid = $1) "
							  "AND has_database_privilege($1, $2, 'CONNECT') "
							  "AND (SELECT d.datallowconn FROM pg_database d WHERE d.oid = $2) "
							  "THEN coalesce((SELECT md5(string_agg(s.setdatabase::text || '/' || s.setrole::text "
							  "|| '/' || s.setconfig::text, ';' ORDER BY s.setdatabase, s.setrole)) "
							  "FROM pg_db_role_setting s WHERE s.setdatabase IN (0, $2) "
							  "AND s.setrole IN (0, $1)), '') END",
							  2, types, values, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
		fp = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	pgetl_restore_user(&sw);
	return fp;
}

/*
 * expand_task - a mapped task's own try: run its map_over query (as the
 * owner, in the try's transaction: it may read pgetl_result() of upstream
 * tasks), then record its rows, as a JSON array of objects in row order,
 * with pgetl._task_expand as the extension owner, which schedules one
 * mapped instance per row (or skips the task for none, or fails it past
 * max_map_length).  A statement without a result set counts as no row.
 */
static void
expand_task(int64 task_run_id, const char *map_over, TimestampTz started_at)
{
	StringInfoData buf;
	Oid			types[4] = {INT8OID, JSONBOID, TIMESTAMPTZOID, INT4OID};
	Datum		values[4];
	PgetlUserSwitch sw;
	uint64		nrows;

	if (SPI_execute(map_over, false, 0) < 0)
		elog(ERROR, "SPI_execute failed");
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	nrows = SPI_tuptable ? SPI_processed : 0;
	if (nrows > 0)
	{
		TupleDesc	desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);

		BlessTupleDesc(desc);
		for (uint64 i = 0; i < nrows; i++)
		{
			Datum		composite = heap_copy_tuple_as_datum(SPI_tuptable->vals[i], desc);

			if (i > 0)
				appendStringInfoChar(&buf, ',');
			appendStringInfoString(&buf,
								   TextDatumGetCString(DirectFunctionCall1(row_to_json, composite)));
		}
	}
	appendStringInfoChar(&buf, ']');
	values[0] = Int64GetDatum(task_run_id);
	values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
	values[2] = TimestampTzGetDatum(started_at);
	values[3] = Int32GetDatum(MyProcPid);
	pgetl_become_owner(&sw);
	if (SPI_execute_with_args("SELECT pgetl._task_expand($1, $2, $3, $4)", 4, types, values,
							  NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not record the expansion of task run " INT64_FORMAT, task_run_id);
	pgetl_restore_user(&sw);
	pfree(buf.data);
}

/*
 * run_try - run one task try in one transaction (see the file header).
 * Errors are caught and recorded; a try its scheduler cancelled is left
 * for the scheduler to record as cancelled.
 */
static PgetlTryOutcome
run_try(int slot, int64 task_run_id, Oid owner, int *released_out)
{
	TaskSpec	spec;
	TimestampTz started_at = GetCurrentTimestamp();
	volatile bool begun = false;
	volatile int released = -1;
	volatile PgetlTryOutcome outcome = PGETL_TRY_UNKNOWN;
	volatile bool recorded = false; /* a sensor's poke recorded its try */

	/* a cancel meant for an earlier try must not hit this one */
	QueryCancelPending = false;
	*released_out = -1;
	if (pgetl_pool_worker_cancelled(slot))
		return PGETL_TRY_UNKNOWN;
	MemoryContextReset(try_cxt);
	current = NULL;
	skip_requested = false;
	skip_reason = NULL;
	cb_on_success = cb_on_failure = cb_on_retry = cb_pending = NULL;
	callback_context = NULL;

	PG_TRY();
	{
		pgetl_xact_begin();

		/*
		 * The try runs in this session only if a new connection would get the
		 * same: else it goes back to the scheduler, for a new worker.
		 */
		if (!fresh_session)
		{
			char	   *fp = session_fingerprint(owner);

			if (fp == NULL || strcmp(fp, connect_fingerprint) != 0)
			{
				pgetl_pool_worker_bounce(slot);
				proc_exit(0);
			}
		}
		fresh_session = false;
		begun = begin_task(task_run_id, &spec);
		if (begun)
		{
			/*
			 * application_name is visible to every role in pg_stat_activity:
			 * ids only, names are for those who may read the run
			 * (pgetl.task_run).
			 */
			pgstat_report_appname(psprintf("pgetl run " INT64_FORMAT " task run " INT64_FORMAT,
										   current->run_id, current->task_run_id));
			pgstat_report_activity(STATE_RUNNING, spec.command ? spec.command : spec.kind);
			/* a sensor's timeout is the time it may wait, not a statement's */
			if (spec.timeout_ms > 0 && strcmp(spec.kind, "sensor") != 0)
				SetConfigOption("statement_timeout",
								psprintf(INT64_FORMAT, Min(spec.timeout_ms, (int64) PG_INT32_MAX)),
								PGC_USERSET, PGC_S_SESSION);

			/*
			 * SPI does not arm the timer as the top-level query loop does:
			 * arm it for the task's timeout, else for the statement_timeout
			 * the session got when it connected as the owner (ALTER ROLE /
			 * ALTER DATABASE ... SET statement_timeout), as a session's would
			 * be.
			 */
			if (StatementTimeout > 0)
				enable_timeout_after(STATEMENT_TIMEOUT, StatementTimeout);
			if (spec.map_over != NULL)
			{
				/* a mapped task expands: its instances are its tries' work */
				expand_task(task_run_id, spec.map_over, started_at);
				disable_timeout(STATEMENT_TIMEOUT, false);
				recorded = true;
			}
			else if (strcmp(spec.kind, "load") == 0)
			{
				run_load(&spec);
				disable_timeout(STATEMENT_TIMEOUT, false);
				released = record_success(task_run_id, false, NULL, -1, started_at);
			}
			else if (strcmp(spec.kind, "export") == 0)
			{
				PgetlExportRun run = {current->run_id, current->logical_date, current->pipeline};
				PgetlExport exp;

				pgetl_export_write(spec.command, spec.config, &run, &exp);
				disable_timeout(STATEMENT_TIMEOUT, false);
				released = record_success(task_run_id, true, pgetl_export_result(&exp), (int64) exp.rows, started_at);
				/* renamed into place when this transaction has committed */
				pgetl_export_finish(&exp);
			}
			else if (strcmp(spec.kind, "sensor") == 0)
			{
				int64		wait_ms;

				for (;;)
				{
					if (SPI_execute(spec.command, false, 0) < 0)
						elog(ERROR, "SPI_execute failed");
					if (sensor_condition(current->task))
					{
						disable_timeout(STATEMENT_TIMEOUT, false);
						released = record_success(task_run_id, false, NULL, -1, started_at);
						break;
					}
					disable_timeout(STATEMENT_TIMEOUT, false);
					if (!record_poke(task_run_id, started_at, &wait_ms))
					{
						recorded = true;
						break;
					}
					/* mode poke: each poke in a transaction of its own */
					pgetl_xact_commit();
					sensor_wait(slot, wait_ms);
					pgetl_xact_begin();
					pgstat_report_activity(STATE_RUNNING, spec.command);
					if (StatementTimeout > 0)
						enable_timeout_after(STATEMENT_TIMEOUT, StatementTimeout);
				}
			}
			else
			{
				Jsonb	   *result = NULL;
				int64		rows = -1;
				bool		given = false;

				if (SPI_execute(spec.command, false, 0) < 0)
					elog(ERROR, "SPI_execute failed");

				if (strcmp(spec.kind, "check") == 0)
					check_first_row(current->task, spec.config);
				else if (strcmp(spec.kind, "branch") == 0)
				{
					bool		rnull;
					Datum		r;

					/* the row it saw, before the next statement replaces it */
					rows = (int64) SPI_processed;
					r = first_row_jsonb(&rnull);
					result = rnull ? NULL : DatumGetJsonbP(r);
					given = true;
					run_branch(task_run_id);
				}
				else if (strcmp(spec.kind, "short_circuit") == 0)
				{
					rows = (int64) SPI_processed;
					given = true;
					run_short_circuit(task_run_id, &result);
				}
				disable_timeout(STATEMENT_TIMEOUT, false);
				released = record_success(task_run_id, given, result, rows, started_at);
			}
		}
		pgetl_xact_commit();
		outcome = recorded ? PGETL_TRY_RECORDED : begun ? PGETL_TRY_SUCCEEDED : PGETL_TRY_NOT_RUN;
		/* (a sensor's recorded poke: none, or on_failure at its timeout) */
		if (begun && !recorded)
			cb_pending = cb_on_success;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		bool		skipped;

		MemoryContextSwitchTo(try_cxt);
		edata = CopyErrorData();
		skipped = skip_requested && edata->sqlerrcode == ERRCODE_PGETL_SKIP;
		HOLD_INTERRUPTS();
		disable_all_timeouts(false);
		if (!skipped)
			EmitErrorReport();
		AbortOutOfAnyTransaction();
		FlushErrorState();
		pgetl_export_abort();
		QueryCancelPending = false;
		RESUME_INTERRUPTS();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && pgetl_pool_worker_cancelled(slot))
			 /* the scheduler records it cancelled */ ;
		else
		{
			if (skipped)
				record_skip(task_run_id, skip_reason, started_at);
			else
				record_failure(task_run_id, edata, started_at);
			outcome = PGETL_TRY_RECORDED;
		}
	}
	PG_END_TRY();
	/* an export whose rename failed after the commit records that */
	if (begun)
		pgetl_export_report(task_run_id);
	current = NULL;
	pgetl_task_values_reset();
	pgstat_report_activity(STATE_IDLE, NULL);
	*released_out = released;
	return outcome;
}

/* The "event" of a callback's context (on_failure...), or "callback". */
static const char *
callback_event(Jsonb *context)
{
	JsonbValue	v;

	if (context && getKeyJsonValueFromContainer(&context->root, "event", 5, &v) &&
		v.type == jbvString)
		return pnstrdup(v.val.string.val, v.val.string.len);
	return "callback";
}

/*
 * run_callback - run the callback of what was just committed: of task try
 * task_run_id (> 0), else of run run_id, which ended in run_state, as
 * pgetl._callback_of() says (none: nothing to do).  It runs in a transaction of its own, as the
 * session's user (the owner), with statement_timeout as the try had it;
 * pgetl_callback_context() returns its context meanwhile.  Its success is
 * recorded in its own transaction (pgetl._callback_done, error NULL: a
 * run's callback is no longer pending once its work committed, so a crash
 * before that runs it again, never twice); its error is caught, logged and
 * recorded in a new one, and never reaches the state it reports.  Memory:
 * in try_cxt.
 */
static void
run_callback(int64 task_run_id, int64 run_id, const char *run_state)
{
	Oid			types[3] = {INT8OID, INT8OID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	char	   *volatile command = NULL;
	ErrorData  *volatile edata = NULL;
	const char *volatile event;
	char	   *volatile who;

	values[0] = Int64GetDatum(task_run_id);
	values[1] = Int64GetDatum(run_id);
	if (task_run_id <= 0)
		nulls[0] = 'n';
	if (run_state)
		values[2] = CStringGetTextDatum(run_state);
	else
		nulls[2] = 'n';
	MemoryContextSwitchTo(try_cxt);
	PG_TRY();
	{
		PgetlUserSwitch sw;

		pgetl_xact_begin();
		pgetl_become_owner(&sw);
		if (SPI_execute_with_args("SELECT * FROM pgetl._callback_of($1, $2, $3)", 3, types, values,
								  nulls, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the callback of run " INT64_FORMAT, run_id);
		pgetl_restore_user(&sw);
		if (SPI_processed == 1)
		{
			command = copy_text_col(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "command");
			callback_context = copy_jsonb_col(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "context");
		}
		if (command != NULL)
		{
			pgstat_report_appname(task_run_id > 0 ?
								  psprintf("pgetl run " INT64_FORMAT " task run " INT64_FORMAT " callback",
										   run_id, task_run_id) :
								  psprintf("pgetl run " INT64_FORMAT " callback", run_id));
			pgstat_report_activity(STATE_RUNNING, command);
			if (StatementTimeout > 0)
				enable_timeout_after(STATEMENT_TIMEOUT, StatementTimeout);
			if (SPI_execute(command, false, 0) < 0)
				elog(ERROR, "SPI_execute failed");
			disable_timeout(STATEMENT_TIMEOUT, false);
		}
		/* done, with its work: a run's is then no longer pending */
		if (command != NULL || task_run_id <= 0)
		{
			nulls[2] = 'n';
			pgetl_become_owner(&sw);
			if (SPI_execute_with_args("SELECT pgetl._callback_done($1, $2, $3)", 3, types, values,
									  nulls, false, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not record the callback of run " INT64_FORMAT, run_id);
			pgetl_restore_user(&sw);
		}
		pgetl_xact_commit();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(try_cxt);
		edata = CopyErrorData();
		HOLD_INTERRUPTS();
		disable_all_timeouts(false);
		AbortOutOfAnyTransaction();
		FlushErrorState();
		QueryCancelPending = false;
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	event = callback_event(callback_context);
	callback_context = NULL;
	if (edata == NULL)
		return;
	who = task_run_id > 0 ?
		psprintf("task run " INT64_FORMAT " of run " INT64_FORMAT, task_run_id, run_id) :
		psprintf("run " INT64_FORMAT, run_id);
	nulls[2] = ' ';
	if (edata != NULL)
	{
		ereport(LOG,
				(errmsg("pgetl: callback %s of %s failed: %s", event, who, edata->message),
				 errdetail("SQLSTATE %s. The state it reports stays as it was.",
						   unpack_sql_state(edata->sqlerrcode))));
		values[2] = CStringGetTextDatum(psprintf("%s [SQLSTATE %s]", edata->message,
												 unpack_sql_state(edata->sqlerrcode)));
	}
	PG_TRY();
	{
		PgetlUserSwitch sw;

		pgetl_xact_begin();
		pgetl_become_owner(&sw);
		if (SPI_execute_with_args("SELECT pgetl._callback_done($1, $2, $3)", 3, types, values,
								  nulls, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not record the callback of %s", who);
		pgetl_restore_user(&sw);
		pgetl_xact_commit();
	}
	PG_CATCH();
	{
		/* logged; the worker goes on */
		MemoryContextSwitchTo(try_cxt);
		HOLD_INTERRUPTS();
		EmitErrorReport();
		AbortOutOfAnyTransaction();
		FlushErrorState();
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();
}

/*
 * run_pipeline_callback - a pipeline's callback for the end of run run_id
 * in run_state, handed to this worker by the scheduler.  As for a try, a reused session
 * runs it only if a new connection would get the same session (else it is
 * given back and the worker exits).
 */
static void
run_pipeline_callback(int slot, int64 run_id, const char *run_state, Oid owner)
{
	MemoryContextReset(try_cxt);
	if (!fresh_session)
	{
		char	   *fp;
		bool		same;

		pgetl_xact_begin();
		fp = session_fingerprint(owner);
		same = fp != NULL && strcmp(fp, connect_fingerprint) == 0;
		pgetl_xact_commit();
		if (!same)
		{
			pgetl_pool_worker_bounce(slot);
			proc_exit(0);
		}
	}
	fresh_session = false;
	QueryCancelPending = false;
	run_callback(0, run_id, run_state);
}

/*
 * reset_session - leave nothing of the last try to the next: DISCARD ALL,
 * in a transaction of its own, as a connection pooler does.  False when
 * the worker must not be reused (the reset failed, or its memory grew too
 * large).
 */
static bool
reset_session(void)
{
	DiscardStmt stmt;
	volatile bool ok = true;

	memset(&stmt, 0, sizeof(stmt));
	stmt.type = T_DiscardStmt;
	stmt.target = DISCARD_ALL;
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		DiscardCommand(&stmt, true);
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		EmitErrorReport();
		AbortOutOfAnyTransaction();
		FlushErrorState();
		RESUME_INTERRUPTS();
		ok = false;
	}
	PG_END_TRY();
	if (MemoryContextMemAllocated(TopMemoryContext, true) > WORKER_MEMORY_LIMIT)
	{
		ereport(LOG,
				(errmsg("pgetl task worker exits: its memory grew past %zu MB",
						WORKER_MEMORY_LIMIT / (1024 * 1024))));
		ok = false;
	}
	pgstat_report_appname(PGETL_TASK_TYPE);
	return ok;
}

/*
 * pgetl_task_worker_main - entry point of a task worker; main_arg is its
 * slot in the pool, which says whom to connect as and holds its first try.
 */
void
pgetl_task_worker_main(Datum main_arg)
{
	int			slot = DatumGetInt32(main_arg);
	Oid			dboid;
	Oid			owner;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pgetl_pool_worker_attach(slot, &dboid, &owner);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, owner, 0);
	pgstat_report_appname(PGETL_TASK_TYPE);
	try_cxt = AllocSetContextCreate(TopMemoryContext, "pgetl task try", ALLOCSET_DEFAULT_SIZES);

	/* what the connection got, to tell when a reused session went stale */
	pgetl_xact_begin();
	connect_fingerprint = session_fingerprint(owner);
	connect_fingerprint = MemoryContextStrdup(TopMemoryContext,
											  connect_fingerprint ? connect_fingerprint : "");
	pgetl_xact_commit();

	for (;;)
	{
		int64		run_id;
		int64		task_run_id;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		task_run_id = pgetl_pool_worker_next(slot, pgetl_worker_idle_timeout, &run_id);
		if (task_run_id == 0)
			break;
		if (task_run_id < 0)
		{
			/* a pipeline's callback for the end of run run_id */
			run_pipeline_callback(slot, run_id,
								  task_run_id == PGETL_CALLBACK_RUN_SUCCESS ? "success" : "failed",
								  owner);
			pgetl_pool_worker_ended(slot, PGETL_TRY_RECORDED, -1, NULL, false);
		}
		else
		{
			int			released;
			PgetlTryOutcome outcome = run_try(slot, task_run_id, owner, &released);

			/*
			 * the scheduler goes on while the callback runs (and hands this
			 * worker no try meanwhile)
			 */
			pgetl_pool_worker_ended(slot, outcome, released, released_ids, cb_pending != NULL);
			if (cb_pending != NULL)
			{
				run_callback(task_run_id, run_id, NULL);
				pgetl_pool_worker_callback_done(slot);
			}
		}
		if (!reset_session())
			break;
		pgetl_pool_worker_done(slot);
	}
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
 * json_value_as_text - a JSON value as pgetl_param() and pgetl_map_value()
 * give it: a string without its quotes, JSON null as NULL (returned as a
 * NULL pointer), anything else as its JSON text.  The text is palloc'd in
 * the current memory context.
 */
static text *
json_value_as_text(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			return cstring_to_text_with_len(v->val.string.val, v->val.string.len);
		default:
			return cstring_to_text(JsonbToCString(NULL, &JsonbValueToJsonb(v)->root, 0));
	}
}

/* a jsonb document as text for a message, "{}" for none (palloc'd) */
static char *
jsonb_as_cstring(Jsonb *j)
{
	return j ? JsonbToCString(NULL, &j->root, VARSIZE(j)) : "{}";
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
	text	   *result;

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
						   jsonb_as_cstring(current->params)),
				 errhint("Pass it with pgetl_run(..., params => '{\"%s\": ...}') or give the pipeline a default.",
						 name)));
	result = json_value_as_text(&v);
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
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

/* Error out when called outside a mapped instance of a mapped task. */
static void
require_mapped(const char *fn)
{
	require_task(fn);
	if (current->map_index < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s can only be called inside a mapped instance of a mapped task", fn),
				 errdetail("Task \"%s\" is not a mapped instance: it has no map_index or map value.",
						   current->task),
				 errhint("Give the task a map_over query (pgetl_add_task(..., map_over => 'SELECT ...')): each of its rows runs the task once, as a mapped instance.")));
}

/*
 * pgetl_map_value(column text) returns text: inside a mapped instance, the
 * value of that column of its row of the task's map_over query (as
 * pgetl_param: JSON strings unquoted, other values as JSON text, JSON null
 * as NULL).  A column the row has not: 42703.
 */
PG_FUNCTION_INFO_V1(pgetl_map_value);
Datum
pgetl_map_value(PG_FUNCTION_ARGS)
{
	char	   *name;
	JsonbValue	v;
	text	   *result;

	require_mapped("pgetl_map_value()");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("column name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (current->map_value == NULL ||
		!getKeyJsonValueFromContainer(&current->map_value->root, name, strlen(name), &v))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" is not in the row of mapped instance %d of task \"%s\"",
						name, current->map_index, current->task),
				 errdetail("Its row: %s.",
						   jsonb_as_cstring(current->map_value)),
				 errhint("Name a column of the task's map_over query (its output name, e.g. SELECT region AS name ...).")));
	result = json_value_as_text(&v);
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}

/*
 * pgetl_map_index() returns integer: inside a mapped instance, its
 * map_index (0 for the first row of the map_over query).
 */
PG_FUNCTION_INFO_V1(pgetl_map_index);
Datum
pgetl_map_index(PG_FUNCTION_ARGS)
{
	require_mapped("pgetl_map_index()");
	PG_RETURN_INT32(current->map_index);
}

/*
 * data_interval - the start (or end) of the current run's data interval,
 * read from its record (NULL for a run started before the catalog had
 * data intervals); an error outside a task.
 */
static Datum
data_interval(FunctionCallInfo fcinfo, bool end)
{
	Oid			types[2] = {INT8OID, BOOLOID};
	Datum		values[2];
	bool		nulls[2] = {false, false};
	bool		isnull;
	Datum		result;

	require_task(end ? "pgetl_data_interval_end()" : "pgetl_data_interval_start()");
	values[0] = Int64GetDatum(current->run_id);
	values[1] = BoolGetDatum(end);
	result = pgetl_call_internal_args("_run_data_interval", 2, types, values, nulls,
									  TIMESTAMPTZOID, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/* pgetl_data_interval_start() returns timestamptz: the run's; an error outside a task. */
PG_FUNCTION_INFO_V1(pgetl_data_interval_start);
Datum
pgetl_data_interval_start(PG_FUNCTION_ARGS)
{
	return data_interval(fcinfo, false);
}

/* pgetl_data_interval_end() returns timestamptz: the run's; an error outside a task. */
PG_FUNCTION_INFO_V1(pgetl_data_interval_end);
Datum
pgetl_data_interval_end(PG_FUNCTION_ARGS)
{
	return data_interval(fcinfo, true);
}

/*
 * pgetl_skip(reason text DEFAULT NULL) returns void: end the current task
 * skipped (Airflow's AirflowSkipException).  It raises an error of its own
 * SQLSTATE (PGSKP), so the task's work rolls back; the worker then records
 * the try skipped, with the reason, instead of failed.  Outside a task:
 * 55000.
 */
PG_FUNCTION_INFO_V1(pgetl_skip);
Datum
pgetl_skip(PG_FUNCTION_ARGS)
{
	if (current == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgetl_skip() can only be called inside a pipeline task"),
				 errhint("Call it from the command of a task run by pgetl_run(), e.g. "
						 "DO $$ BEGIN IF NOT EXISTS (SELECT FROM staging) THEN PERFORM pgetl_skip('no new rows'); END IF; END $$. "
						 "To mark a finished task skipped, use pgetl_set_task_state().")));
	skip_reason = PG_ARGISNULL(0) ? NULL :
		MemoryContextStrdup(try_cxt, text_to_cstring(PG_GETARG_TEXT_PP(0)));
	skip_requested = true;
	ereport(ERROR,
			(errcode(ERRCODE_PGETL_SKIP),
			 errmsg("task \"%s\" skipped%s%s", current->task, skip_reason ? ": " : "",
					skip_reason ? skip_reason : ""),
			 errdetail("pgetl_skip() ends the task skipped; its work is rolled back.")));
	PG_RETURN_VOID();
}

/*
 * pgetl_callback_context() returns jsonb: inside a callback, what it
 * reports (pgetl._callback_of): event, run_id, pipeline, task, try_number,
 * state, error, sqlstate, logical_date, duration...  Elsewhere: 55000.
 */
PG_FUNCTION_INFO_V1(pgetl_callback_context);
Datum
pgetl_callback_context(PG_FUNCTION_ARGS)
{
	if (callback_context == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgetl_callback_context() can only be called inside a callback"),
				 errdetail("This session is not running a callback of a task or a pipeline."),
				 errhint("Call it from the SQL of a callback: pgetl_add_task(..., on_failure => ...), "
						 "pgetl_create_pipeline(..., on_failure => ...), on_success, on_retry.")));
	PG_RETURN_JSONB_P(callback_context);
}
