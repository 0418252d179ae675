/*-------------------------------------------------------------------------
 *
 * pgetl.c
 *	  Module entry point: shared memory and the crash-recovery launcher.
 *
 *-------------------------------------------------------------------------
 */
#include "pgetl.h"

#include <limits.h>

#include "fmgr.h"
#include "maintenance.h"
#include "load.h"
#include "miscadmin.h"
#include "pool.h"
#include "ownership.h"
#include "shmem.h"
#include "task_values.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

PGETL_MODULE_MAGIC;

bool		pgetl_preloaded = false;

/* GUCs (see README.md, "Retention") */
char	   *pgetl_history_retention = NULL;
int			pgetl_maintenance_naptime = 60;

void		_PG_init(void);

/*
 * check_history_retention - pgetl.history_retention must be an interval
 * PostgreSQL reads ('30 days', '12 hours', '0', '-1').
 */
static bool
check_history_retention(char **newval, void **extra, GucSource source)
{
	volatile bool ok = true;
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		(void) DirectFunctionCall3(interval_in, CStringGetDatum(*newval),
								   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		ok = false;
	}
	PG_END_TRY();
	if (!ok)
		GUC_check_errdetail("pgetl.history_retention must be an interval, e.g. '30 days'; 0 or -1 keeps history forever.");
	return ok;
}

/*
 * pgetl_retention_seconds - pgetl.history_retention in seconds; 0 when
 * history is kept forever (0 or a negative interval).
 */
double
pgetl_retention_seconds(void)
{
	Interval   *iv;
	double		secs;

	if (pgetl_history_retention == NULL)
		return 0;
	iv = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(pgetl_history_retention),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	secs = iv->time / 1000000.0 + iv->day * (double) SECS_PER_DAY +
		iv->month * (double) DAYS_PER_MONTH * SECS_PER_DAY;
	return secs > 0 ? secs : 0;
}

/* pgetl.notify */
#define PGETL_NOTIFY_ALL	0
#define PGETL_NOTIFY_RUNS	1
static int	pgetl_notify = PGETL_NOTIFY_ALL;
static const struct config_enum_entry notify_options[] = {
	{"all", PGETL_NOTIFY_ALL, false},
	{"runs", PGETL_NOTIFY_RUNS, false},
	{NULL, 0, false}
};

void
_PG_init(void)
{
	load_parallel_define_gucs();
	load_target_define_gucs();
	if (!process_shared_preload_libraries_in_progress)
		return;
	pgetl_preloaded = true;

	DefineCustomStringVariable("pgetl.history_retention",
							   "How long pgetl keeps finished runs, task runs, loads and rejects.",
							   "An interval; older history is deleted in the background. 0 or -1 keeps it forever.",
							   &pgetl_history_retention, "30 days", PGC_SIGHUP, 0,
							   check_history_retention, NULL, NULL);
	DefineCustomIntVariable("pgetl.maintenance_naptime",
							"Time between two background purges of old history in each database.",
							NULL, &pgetl_maintenance_naptime, 60, 1, 86400, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgetl.max_workers",
							"Maximum number of task workers (warm background workers that run tasks).",
							"Each holds a slot of max_worker_processes while it lives.",
							&pgetl_max_workers, 8, 1, 10000, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgetl.worker_idle_timeout",
							"How long a task worker waits for its next task before it exits.",
							NULL, &pgetl_worker_idle_timeout, 10000, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomEnumVariable("pgetl.notify",
							 "Which state changes pgetl announces with NOTIFY pgetl_run.",
							 "all: runs and task tries; runs: runs only (task commits then never wait for one another's NOTIFY).",
							 &pgetl_notify, PGETL_NOTIFY_ALL, notify_options, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	pgetl_shmem_init();
	pgetl_register_launcher();
	pgetl_ownership_init();
	pgetl_task_values_init();
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
