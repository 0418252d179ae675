/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  The registry of active runs in shared memory: which coordinator runs
 *	  which run, cancel requests, and the epoch that tells a server restart.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_SHMEM_H
#define PGETL_SHMEM_H

#include "pgetl.h"

#include "datatype/timestamp.h"

/* A run slot reservation the coordinator has not taken by then is void */
#define PGETL_RESERVATION_TTL_MS	60000

extern void pgetl_shmem_init(void);

extern int	pgetl_max_coordinators(void);
extern int	pgetl_static_workers(void);
extern int	pgetl_slots_taken(void);
extern int	pgetl_slot_reserve(TimestampTz *reserved_at);
extern void pgetl_slot_unreserve(int slot, TimestampTz reserved_at);
extern bool pgetl_slot_take(int slot, pid_t caller_pid, TimestampTz reserved_at);
extern void pgetl_slot_set_run(int slot, int64 run_id);
extern void pgetl_slot_release(int slot);
extern bool pgetl_slot_cancel_requested(int slot, char *reason, int reasonlen);
extern bool pgetl_slot_request_cancel(Oid dboid, int64 run_id, const char *reason);
extern bool pgetl_slot_is_live(Oid dboid, int64 run_id);
extern TimestampTz pgetl_epoch(void);

extern int	pgetl_my_procno(void);
extern void pgetl_set_latch_of(int procno);

#endif							/* PGETL_SHMEM_H */
