/*-------------------------------------------------------------------------
 *
 * coordinator.h
 *	  The run coordinator: one dynamic background worker per active run.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_COORDINATOR_H
#define PGETL_COORDINATOR_H

#include "pgetl.h"

#include "fmgr.h"

extern PGDLLEXPORT void pgetl_coordinator_main(Datum main_arg);

#endif							/* PGETL_COORDINATOR_H */
