/*-------------------------------------------------------------------------
 *
 * util.h
 *	  Acting as the extension owner, calling pgetl's internal SQL functions,
 *	  and carrying an error from one process to another.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_UTIL_H
#define PGETL_UTIL_H

#include "pgetl.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "utils/elog.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/shm_mq.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

/* Saved identity and GUC nest level while acting as the extension owner */
typedef struct PgetlUserSwitch
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} PgetlUserSwitch;

extern Oid	pgetl_extension_owner(void);
extern void pgetl_become_owner(PgetlUserSwitch *sw);
extern void pgetl_restore_user(PgetlUserSwitch *sw);
extern void pgetl_restore_user_on_error(PgetlUserSwitch *sw);
extern void pgetl_pin_search_path(GucAction action);

extern Datum pgetl_call_internal(FunctionCallInfo fcinfo, const char *internal);
extern Datum pgetl_call_internal_args(const char *internal, int nargs, Oid *types,
									  Datum *values, bool *argnulls, Oid rettype,
									  bool *isnull);
extern Oid	pgetl_extension_schema(void);
extern uint64 pgetl_spi_as_owner(const char *sql, int nargs, Oid *types, Datum *values,
								 const char *nulls, bool read_only, long count);

extern void pgetl_strlcpy_clip(char *dst, const char *src, size_t size);
extern List *pgetl_jsonb_keys(JsonbContainer *c);
extern char *pgetl_config_unknown_keys(Jsonb *config, const char *const *known);

/*
 * Reading SPI results by column name, never by position, so that a column
 * added to a query or to a function's OUT parameters cannot shift another:
 * an ERROR names a column the result lacks.  pgetl_spi_getvalue's string is
 * palloc'd in the current context (NULL for SQL NULL).
 */
extern int	pgetl_spi_fnumber(TupleDesc desc, const char *name);
extern Datum pgetl_spi_getbinval(HeapTuple tup, TupleDesc desc, const char *name, bool *isnull);
extern char *pgetl_spi_getvalue(HeapTuple tup, TupleDesc desc, const char *name);

/*
 * Whether the installed catalog is at least 0.2 (has the pool's functions);
 * before ALTER EXTENSION pgetl UPDATE a 0.1 catalog runs with the 0.1
 * engine's functions (pgetl._task_begin, ...).  Needs a transaction.
 */
extern bool pgetl_catalog_has_pool(void);

/*
 * Registering one of pgetl's background workers: connected to a database,
 * started once recovery has finished.  Dynamic ones are never restarted.
 */
extern bool pgetl_bgworker_register(const char *function, const char *type, const char *name,
									Datum main_arg, const void *extra, Size extralen,
									bool dynamic, BackgroundWorkerHandle **handle);

/* One transaction with SPI connected and a snapshot pushed */
extern void pgetl_xact_begin(void);
extern void pgetl_xact_commit(void);

/*
 * An error carried from one process to another through a shm_mq in a
 * dynamic shared memory segment, as parallel workers carry theirs.
 */
#define PGETL_ERROR_QUEUE_SIZE	16384
extern shm_mq_handle *pgetl_error_queue_create(dsm_segment *seg, void *addr);
extern void pgetl_error_send_prepare(dsm_segment *seg, void *addr);
extern void pgetl_error_send(ErrorData *edata);
extern bool pgetl_error_receive(shm_mq_handle *mqh, bool keep_context);

#endif							/* PGETL_UTIL_H */
