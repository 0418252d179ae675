/*-------------------------------------------------------------------------
 *
 * define.c
 *	  User-facing functions that define pipelines.
 *
 * Each is a trampoline to the internal SQL function of the same name with
 * a leading underscore (src/sql/30_define.sql), called as the extension
 * owner with the calling role as first argument; see util.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pgetl.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "schedule.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "util.h"

#define PGETL_TRAMPOLINE(fn, internal) \
	PG_FUNCTION_INFO_V1(fn); \
	Datum fn(PG_FUNCTION_ARGS); \
	Datum \
	fn(PG_FUNCTION_ARGS) \
	{ \
		return pgetl_call_internal(fcinfo, internal); \
	}

PGETL_TRAMPOLINE(pgetl_create_pipeline, "_create_pipeline")
PGETL_TRAMPOLINE(pgetl_add_task, "_add_task")
PGETL_TRAMPOLINE(pgetl_add_dependency, "_add_dependency")
PGETL_TRAMPOLINE(pgetl_purge_history, "_purge_history")
PGETL_TRAMPOLINE(pgetl_purge_loads, "_purge_loads")
PGETL_TRAMPOLINE(pgetl_set_task_state, "_set_task_state")
PGETL_TRAMPOLINE(pgetl_set_note, "_set_note")
PGETL_TRAMPOLINE(pgetl_cancel_backfill, "_cancel_backfill")
/* task pools (Airflow's pools, not the pool of task workers of pool.c) */
PGETL_TRAMPOLINE(pgetl_create_pool, "_create_pool")
PGETL_TRAMPOLINE(pgetl_alter_pool, "_alter_pool")
PGETL_TRAMPOLINE(pgetl_drop_pool, "_drop_pool")

/*
 * set_schedule_paused - pgetl_pause_schedule(pipeline text) and
 * pgetl_unpause_schedule(pipeline text): pgetl._set_schedule_paused as the
 * extension owner, for the calling role.
 */
static Datum
set_schedule_paused(FunctionCallInfo fcinfo, bool paused)
{
	Oid			types[3] = {OIDOID, TEXTOID, BOOLOID};
	Datum		values[3];
	bool		nulls[3] = {false, PG_ARGISNULL(0), false};
	bool		isnull;

	values[0] = ObjectIdGetDatum(GetUserId());
	values[1] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	values[2] = BoolGetDatum(paused);
	(void) pgetl_call_internal_args("_set_schedule_paused", 3, types, values, nulls,
									VOIDOID, &isnull);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pgetl_pause_schedule);
Datum		pgetl_pause_schedule(PG_FUNCTION_ARGS);
Datum
pgetl_pause_schedule(PG_FUNCTION_ARGS)
{
	return set_schedule_paused(fcinfo, true);
}

PG_FUNCTION_INFO_V1(pgetl_unpause_schedule);
Datum		pgetl_unpause_schedule(PG_FUNCTION_ARGS);
Datum
pgetl_unpause_schedule(PG_FUNCTION_ARGS)
{
	return set_schedule_paused(fcinfo, false);
}

/*
 * pgetl_drop_pipeline(name text)
 *
 * Drops the pipeline, then removes its pg_cron job if it was scheduled
 * (src/schedule.c), else pg_cron would go on running a missing pipeline.
 * The job is removed after the drop succeeded, in the same statement: if
 * removing it fails, the drop is rolled back too.
 */
PG_FUNCTION_INFO_V1(pgetl_drop_pipeline);
Datum		pgetl_drop_pipeline(PG_FUNCTION_ARGS);
Datum
pgetl_drop_pipeline(PG_FUNCTION_ARGS)
{
	Oid			owner = InvalidOid;
	char	   *jobname = NULL;
	int64		jobid = 0;
	bool		scheduled;

	scheduled = pgetl_schedule_lookup(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0),
									  &owner, &jobname, &jobid);
	(void) pgetl_call_internal(fcinfo, "_drop_pipeline");
	if (scheduled)
		pgetl_cron_remove(owner, jobname, jobid);
	PG_RETURN_VOID();
}

/*
 * pgetl_alter_pipeline(name text, enabled boolean, description text,
 *						max_parallel integer, params jsonb, owner regrole,
 *						max_active_runs integer, on_failure text, on_success text,
 *						run_timeout interval, max_active_tasks integer)
 *
 * Changes the settings given (pgetl._alter_pipeline); when the owner
 * changes, the pipeline's cron job, if any, is recreated as the new owner
 * (tasks and cron jobs run as the owner).
 */
PG_FUNCTION_INFO_V1(pgetl_alter_pipeline);
Datum		pgetl_alter_pipeline(PG_FUNCTION_ARGS);
Datum
pgetl_alter_pipeline(PG_FUNCTION_ARGS)
{
	Oid			types[13] = {OIDOID, TEXTOID, BOOLOID, TEXTOID, INT4OID, JSONBOID, REGROLEOID,
	INT4OID, TEXTOID, TEXTOID, INTERVALOID, INT4OID, INT4OID};
	Datum		values[13];
	bool		nulls[13];
	bool		isnull;
	Datum		old_owner;

	values[0] = ObjectIdGetDatum(GetUserId());
	nulls[0] = false;
	/* (a catalog not yet updated to 0.2 passes fewer: NULL keeps a setting) */
	for (int i = 0; i < 12; i++)
	{
		nulls[i + 1] = i >= PG_NARGS() || PG_ARGISNULL(i);
		values[i + 1] = nulls[i + 1] ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	old_owner = pgetl_call_internal_args("_alter_pipeline", 13, types, values, nulls,
										 OIDOID, &isnull);
	if (!isnull)
		pgetl_cron_move(text_to_cstring(PG_GETARG_TEXT_PP(0)), DatumGetObjectId(old_owner),
						PG_GETARG_OID(5));
	PG_RETURN_VOID();
}

/*
 * pgetl_reassign_owned(old_role regrole, new_role regrole) returns bigint
 *
 * REASSIGN OWNED for pgetl in this database (pgetl._reassign_owned): the
 * pipelines, load specs, staged data and history of old_role become
 * new_role's, and the cron jobs of its scheduled pipelines are recreated
 * as new_role.  old_role may be a dropped role, given by OID (a superuser
 * only).  Returns the number of pipelines, load specs and staged data sets
 * reassigned.
 */
PG_FUNCTION_INFO_V1(pgetl_reassign_owned);
Datum		pgetl_reassign_owned(PG_FUNCTION_ARGS);
Datum
pgetl_reassign_owned(PG_FUNCTION_ARGS)
{
	Oid			types[3] = {OIDOID, OIDOID, OIDOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	int64		count = 0;
	Datum	   *names = NULL;
	int			nnames = 0;
	MemoryContext cxt = CurrentMemoryContext;

	values[0] = ObjectIdGetDatum(GetUserId());
	values[1] = PG_GETARG_DATUM(0);
	values[2] = PG_GETARG_DATUM(1);
	if (PG_ARGISNULL(0))
		nulls[1] = 'n';
	if (PG_ARGISNULL(1))
		nulls[2] = 'n';
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (pgetl_spi_as_owner("SELECT pipelines OPERATOR(pg_catalog.+) load_specs OPERATOR(pg_catalog.+) stages "
						   "AS count, scheduled FROM pgetl._reassign_owned($1, $2, $3)",
						   3, types, values, nulls, false, 1) == 1)
	{
		bool		isnull;
		Datum		d;

		count = DatumGetInt64(pgetl_spi_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												  "count", &isnull));
		d = pgetl_spi_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "scheduled", &isnull);
		if (!isnull)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			deconstruct_array(DatumGetArrayTypePCopy(d), TEXTOID, -1, false, TYPALIGN_INT,
							  &names, NULL, &nnames);
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	for (int i = 0; i < nnames; i++)
		pgetl_cron_move(TextDatumGetCString(names[i]), PG_GETARG_OID(0), PG_GETARG_OID(1));
	PG_RETURN_INT64(count);
}
