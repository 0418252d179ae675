/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  pgetl's registry in shared memory: each database's scheduler with
 *	  the run requests waiting for it, the active runs with their cancel
 *	  requests, and the epoch that tells a server restart.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_SHMEM_H
#define PGETL_SHMEM_H

#include "pgetl.h"

#include "datatype/timestamp.h"
#include "storage/dsm.h"

/* Run requests that may wait for one database's scheduler */
#define PGETL_REQUEST_QUEUE		64
/* Run slots of the whole server: at least this many active runs */
#define PGETL_MIN_RUN_SLOTS		256
/*
 * A catchup (pgetl_run_due, a schedule's cron job) or a backfill that has
 * runs active starts no more while fewer than 1/PGETL_RUN_SLOT_RESERVE of
 * the run slots are free: they stay for pgetl_run and other pipelines.
 */
#define PGETL_RUN_SLOT_RESERVE	4
/* A scheduler registered but not attached by then is taken for lost */
#define PGETL_SCHEDULER_START_MS	10000

extern void pgetl_shmem_init(void);

extern int	pgetl_free_dynamic_workers(void);
extern int	pgetl_static_workers(void);

/* schedulers and their queues */
extern bool pgetl_sched_enqueue(Oid dboid, dsm_handle handle, bool *must_start);
extern bool pgetl_sched_ensure(Oid dboid);
extern void pgetl_sched_start_failed(Oid dboid);
extern bool pgetl_sched_withdraw(Oid dboid, dsm_handle handle);
extern pid_t pgetl_sched_pid(Oid dboid);
extern bool pgetl_sched_attach(Oid dboid);
extern dsm_handle pgetl_sched_dequeue(Oid dboid);
extern bool pgetl_sched_detach(Oid dboid, bool only_if_idle);
extern void pgetl_sched_release(Oid dboid);
extern bool pgetl_sched_release_requested(Oid dboid);

/* active runs */
extern int	pgetl_slot_take(Oid dboid);
extern int	pgetl_slots_free(int *total);
extern bool pgetl_slots_scarce(void);
extern void pgetl_slot_set_run(int slot, int64 run_id);
extern void pgetl_slot_release(int slot);
extern bool pgetl_slot_cancel_requested(int slot, char *reason, int reasonlen);
extern bool pgetl_slot_request_cancel(Oid dboid, int64 run_id, const char *reason);
extern bool pgetl_slot_is_live(Oid dboid, int64 run_id);
extern TimestampTz pgetl_epoch(void);

extern int	pgetl_my_procno(void);
extern void pgetl_set_latch_of(int procno);

#endif							/* PGETL_SHMEM_H */
