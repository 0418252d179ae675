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

#include "fmgr.h"
#include "utils/elog.h"
#include "utils/guc.h"

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

/*
 * An error flattened into fixed-size fields, so that it can travel through
 * shared memory from a background worker to the backend that waits for it.
 */
#define PGETL_ERRMSG_LEN 1024
typedef struct PgetlErrorBuf
{
	int			sqlerrcode;		/* 0: no error */
	char		message[PGETL_ERRMSG_LEN];
	char		detail[PGETL_ERRMSG_LEN];
	char		hint[PGETL_ERRMSG_LEN];
} PgetlErrorBuf;

extern void pgetl_strlcpy_clip(char *dst, const char *src, size_t size);
extern void pgetl_error_save(PgetlErrorBuf *buf, ErrorData *edata);
pg_noreturn extern void pgetl_error_rethrow(const PgetlErrorBuf *buf);

#endif							/* PGETL_UTIL_H */
