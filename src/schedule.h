/*-------------------------------------------------------------------------
 *
 * schedule.h
 *	  Scheduling pipelines with pg_cron: pgetl_schedule, pgetl_unschedule,
 *	  and the short-lived worker that creates or removes a cron job in the
 *	  database where pg_cron keeps its jobs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_SCHEDULE_H
#define PGETL_SCHEDULE_H

#include "pgetl.h"

#include "fmgr.h"
#include "datatype/timestamp.h"

/* bgw_type of the background workers that run pg_cron jobs */
#define PG_CRON_JOB_TYPE		"pg_cron"

extern bool pgetl_called_by_pg_cron(void);
extern void pgetl_check_schedule(const char *schedule);
extern bool pgetl_cron_step(const char *schedule, const char *tzname, TimestampTz t, bool forward,
							TimestampTz *result);
extern bool pgetl_schedule_lookup(text *pipeline, Oid *owner, char **jobname, int64 *jobid);
extern void pgetl_cron_remove(Oid owner, const char *jobname, int64 jobid);
extern void pgetl_cron_move(const char *pipeline, Oid old_owner, Oid new_owner);

extern PGDLLEXPORT void pgetl_cron_worker_main(Datum main_arg);

#endif							/* PGETL_SCHEDULE_H */
