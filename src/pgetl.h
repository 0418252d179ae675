/*-------------------------------------------------------------------------
 *
 * pgetl.h
 *	  Declarations shared by every pgetl module: version guards, GUCs and
 *	  the names of pgetl's background workers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_H
#define PGETL_H

#include "postgres.h"

/* Supported: PostgreSQL 15 to 18 (tested on 15, 17 and 18: make test-matrix) */
#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 190000
#error "pgetl supports PostgreSQL 15 to 18"
#endif

#include "compat.h"

/* Names shown in pg_stat_activity.backend_type */
#define PGETL_SCHEDULER_TYPE	"pgetl scheduler"
#define PGETL_TASK_TYPE			"pgetl task"
#define PGETL_LAUNCHER_TYPE		"pgetl launcher"
#define PGETL_RECOVERY_TYPE		"pgetl recovery"
#define PGETL_MAINTENANCE_TYPE	"pgetl maintenance"
#define PGETL_CRON_TYPE			"pgetl cron"

/* Library name used in BackgroundWorker.bgw_library_name */
#define PGETL_LIBRARY			"pgetl"


/* True when pgetl was loaded through shared_preload_libraries */
extern bool pgetl_preloaded;

extern void pgetl_require_preload(void);

/* GUCs */
extern char *pgetl_history_retention;
extern int	pgetl_maintenance_naptime;
extern double pgetl_retention_seconds(void);

/* Rows deleted per transaction by the background purge */
#define PGETL_PURGE_BATCH		10000

#endif							/* PGETL_H */
