/*-------------------------------------------------------------------------
 *
 * export.h
 *	  The export task kind: COPY (query) TO a server file as CSV, written
 *	  under a temporary name and renamed into place when complete.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_EXPORT_H
#define PGETL_EXPORT_H

#include "pgetl.h"

#include "utils/date.h"
#include "utils/jsonb.h"

/*
 * What an export needs to know about the run it belongs to, for the
 * {logical_date}, {run_id} and {pipeline} placeholders of its path.
 */
typedef struct PgetlExportRun
{
	int64		run_id;
	DateADT		logical_date;
	const char *pipeline;
} PgetlExportRun;

/*
 * A finished export that is not yet in place: the rows are in temp_path;
 * pgetl_export_finish() has it renamed to path when the transaction
 * commits.
 */
typedef struct PgetlExport
{
	char	   *path;			/* final path, placeholders expanded */
	char	   *temp_path;		/* where COPY wrote the rows */
	uint64		rows;
} PgetlExport;

extern void pgetl_export_check_config(Jsonb *config, Oid owner);
extern char *pgetl_export_path(const char *pattern, const PgetlExportRun *run);
extern void pgetl_export_write(const char *query, Jsonb *config,
							   const PgetlExportRun *run, PgetlExport *out);
extern Jsonb *pgetl_export_result(const PgetlExport *exp);
extern void pgetl_export_finish(PgetlExport *exp);
extern void pgetl_export_abort(void);
extern void pgetl_export_report(int64 task_run_id);
extern int	pgetl_export_sweep(const char *dir);
extern int	pgetl_export_recover(void);

#endif							/* PGETL_EXPORT_H */
