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
PGETL_TRAMPOLINE(pgetl_drop_pipeline, "_drop_pipeline")
PGETL_TRAMPOLINE(pgetl_add_task, "_add_task")
PGETL_TRAMPOLINE(pgetl_add_dependency, "_add_dependency")
PGETL_TRAMPOLINE(pgetl_purge_history, "_purge_history")
