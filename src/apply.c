/*-------------------------------------------------------------------------
 *
 * apply.c
 *	  pgetl_apply and pgetl_definition: pipelines as code.
 *
 * pgetl_apply(definition jsonb, force boolean) brings a pipeline to what
 * one JSON document says, in three steps of the caller's transaction:
 *
 *	1. pgetl._apply (src/sql/35_apply.sql), as the extension owner with the
 *	   caller's OID like every definition function: checks the document,
 *	   creates or changes the pipeline's settings, tasks and dependencies
 *	   through the internal functions of pgetl_create_pipeline,
 *	   pgetl_alter_pipeline, pgetl_add_task and pgetl_add_dependency, and
 *	   compares the schedule.  When the schedule differs it returns the call
 *	   of pgetl_schedule (or pgetl_unschedule) to make, as SQL text it built
 *	   with every identifier and value quoted.
 *	2. That call, as the caller, with search_path pinned: the schedule goes
 *	   through the very code of pgetl_schedule (src/schedule.c), cron worker
 *	   and all; when the schedule did not change, pg_cron is not touched.
 *	3. pgetl._apply_finish, as the extension owner: records a new
 *	   definition version when the document changed and adds it to the
 *	   result.
 *
 * pgetl_definition(pipeline) is a trampoline to pgetl._definition.
 *
 *-------------------------------------------------------------------------
 */
#include "pgetl.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "util.h"

PG_FUNCTION_INFO_V1(pgetl_definition);
Datum		pgetl_definition(PG_FUNCTION_ARGS);
Datum
pgetl_definition(PG_FUNCTION_ARGS)
{
	return pgetl_call_internal(fcinfo, "_definition");
}

/*
 * run_as_caller - run one statement built by pgetl._apply, as the calling
 * role, with search_path pinned to pg_catalog, pg_temp for its duration
 * (the statement names everything with its schema).  An error ends the
 * transaction, which restores search_path.
 */
static void
run_as_caller(const char *sql)
{
	int			nestlevel = NewGUCNestLevel();

	pgetl_pin_search_path(GUC_ACTION_SAVE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, false, 0) < 0)
		elog(ERROR, "could not run \"%s\"", sql);
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);
}

/*
 * pgetl_apply(definition jsonb, force boolean) returns jsonb
 *
 * See the top of the file.  The result is palloc'd in the caller's
 * context: {"pipeline", "changed", "changes", "version"}.
 */
PG_FUNCTION_INFO_V1(pgetl_apply);
Datum		pgetl_apply(PG_FUNCTION_ARGS);
Datum
pgetl_apply(PG_FUNCTION_ARGS)
{
	Oid			types[3] = {OIDOID, JSONBOID, BOOLOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	MemoryContext cxt = CurrentMemoryContext;
	TupleDesc	tupdesc;
	HeapTuple	tup;
	bool		isnull;
	Jsonb	   *result;
	int64		pipeline_id;
	char	   *volatile schedule_call = NULL;
	Oid			ftypes[3] = {OIDOID, INT8OID, JSONBOID};
	Datum		fvalues[3];
	bool		fnulls[3] = {false, false, false};
	Datum		final;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline definition must not be null"),
				 errhint("Give a JSON document such as pgetl_definition(pipeline) returns.")));
	values[0] = ObjectIdGetDatum(GetUserId());
	values[1] = PG_GETARG_DATUM(0);
	values[2] = BoolGetDatum(!PG_ARGISNULL(1) && PG_GETARG_BOOL(1));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (pgetl_spi_as_owner("SELECT result, pipeline_id, schedule_call FROM pgetl._apply($1, $2, $3)",
						   3, types, values, nulls, false, 1) != 1)
		elog(ERROR, "pgetl._apply returned no row");
	tupdesc = SPI_tuptable->tupdesc;
	tup = SPI_tuptable->vals[0];
	/* jsonb as it is, copied out of SPI's memory (no text round trip) */
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		Datum		d = pgetl_spi_getbinval(tup, tupdesc, "result", &isnull);

		if (isnull)
			elog(ERROR, "pgetl._apply returned no result");
		result = DatumGetJsonbPCopy(d);
		MemoryContextSwitchTo(old);
	}
	pipeline_id = DatumGetInt64(pgetl_spi_getbinval(tup, tupdesc, "pipeline_id", &isnull));
	(void) pgetl_spi_getbinval(tup, tupdesc, "schedule_call", &isnull);
	if (!isnull)
		schedule_call = MemoryContextStrdup(cxt, pgetl_spi_getvalue(tup, tupdesc, "schedule_call"));
	SPI_finish();

	/* an error of pgetl_schedule is about the document's "schedule" */
	if (schedule_call != NULL)
	{
		PG_TRY();
		{
			run_as_caller(schedule_call);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			edata->message = psprintf("schedule: %s", edata->message);
			ReThrowError(edata);
		}
		PG_END_TRY();
	}

	fvalues[0] = ObjectIdGetDatum(GetUserId());
	fvalues[1] = Int64GetDatum(pipeline_id);
	fvalues[2] = JsonbPGetDatum(result);
	final = pgetl_call_internal_args("_apply_finish", 3, ftypes, fvalues, fnulls,
									 JSONBOID, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	return final;
}
