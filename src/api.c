/*-------------------------------------------------------------------------
 *
 * api.c
 *	  User-facing functions that define pipelines.
 *
 * Each is a trampoline to the internal SQL function of the same name with
 * a leading underscore (src/sql/30_define.sql), called as the extension
 * owner with the calling role as first argument; see util.c.
 *
 *-------------------------------------------------------------------------
 */
#include "pgetl.h"

#include "fmgr.h"
#include "schedule.h"
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
PGETL_TRAMPOLINE(pgetl_alter_pipeline, "_alter_pipeline")
PGETL_TRAMPOLINE(pgetl_add_task, "_add_task")
PGETL_TRAMPOLINE(pgetl_add_dependency, "_add_dependency")
PGETL_TRAMPOLINE(pgetl_purge_history, "_purge_history")

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
	bool		scheduled;

	scheduled = pgetl_schedule_lookup(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0),
									  &owner, &jobname);
	(void) pgetl_call_internal(fcinfo, "_drop_pipeline");
	if (scheduled)
		pgetl_cron_remove(owner, jobname);
	PG_RETURN_VOID();
}
