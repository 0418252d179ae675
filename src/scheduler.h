/*-------------------------------------------------------------------------
 *
 * scheduler.h
 *	  The scheduler: one background worker per database that drives every
 *	  active run of that database.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_SCHEDULER_H
#define PGETL_SCHEDULER_H

#include "pgetl.h"

#include "fmgr.h"

extern PGDLLEXPORT void pgetl_scheduler_main(Datum main_arg);

#endif							/* PGETL_SCHEDULER_H */
