/*-------------------------------------------------------------------------
 *
 * task_worker.h
 *	  The task worker: one dynamic background worker per task try, and the
 *	  context a task sees (pgetl_param, pgetl_result, pgetl_run_id, ...).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_TASK_WORKER_H
#define PGETL_TASK_WORKER_H

#include "pgetl.h"

#include "fmgr.h"

extern PGDLLEXPORT void pgetl_task_worker_main(Datum main_arg);

/* The run this process executes a task of; 0 outside a task. */
extern int64 pgetl_current_run_id(void);

#endif							/* PGETL_TASK_WORKER_H */
