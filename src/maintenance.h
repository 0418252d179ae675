/*-------------------------------------------------------------------------
 *
 * maintenance.h
 *	  Maintenance: crash recovery at server start and the background purge
 *	  of old history, by the pgetl launcher and its per-database workers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_MAINTENANCE_H
#define PGETL_MAINTENANCE_H

#include "pgetl.h"

#include "fmgr.h"

extern void pgetl_register_launcher(void);
extern PGDLLEXPORT void pgetl_launcher_main(Datum main_arg);
extern PGDLLEXPORT void pgetl_recovery_main(Datum main_arg);
extern PGDLLEXPORT void pgetl_maintenance_main(Datum main_arg);

#endif							/* PGETL_MAINTENANCE_H */
