/*-------------------------------------------------------------------------
 *
 * pgetl.c
 *	  Module entry point: shared memory and the crash-recovery launcher.
 *
 *-------------------------------------------------------------------------
 */
#include "pgetl.h"

#include "fmgr.h"
#include "launcher.h"
#include "miscadmin.h"
#include "shmem.h"

#if PG_VERSION_NUM >= 180000
/* name and version shown by pg_get_loaded_modules() */
PG_MODULE_MAGIC_EXT(.name = "pgetl",.version = PGETL_VERSION);
#else
PG_MODULE_MAGIC;
#endif

bool		pgetl_preloaded = false;

void		_PG_init(void);

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	pgetl_preloaded = true;
	pgetl_shmem_init();
	pgetl_register_launcher();
}

/*
 * pgetl_require_preload - pipelines need shared memory and background
 * workers, which only a preloaded library gets.
 */
void
pgetl_require_preload(void)
{
	if (!pgetl_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgetl must be loaded via shared_preload_libraries to run pipelines"),
				 errhint("Add pgetl to shared_preload_libraries in postgresql.conf and restart the server.")));
}
