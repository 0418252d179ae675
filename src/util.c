/*-------------------------------------------------------------------------
 *
 * util.c
 *	  Acting as the extension owner, calling pgetl's internal SQL functions,
 *	  and carrying an error from one process to another.
 *
 * pgetl's catalog tables grant nothing to PUBLIC.  User-facing functions are
 * C functions that are not SECURITY DEFINER: they see the calling role as
 * PostgreSQL resolved it (GetUserId()), then call an internal SQL function
 * as the extension owner, passing the caller along.  The internal functions
 * are not executable by PUBLIC, so nobody can claim to be someone else.
 *
 *-------------------------------------------------------------------------
 */
#include "util.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

/*
 * extension_row - owner and schema of the pgetl extension in the current
 * database; raises an error when it is not installed here.
 */
static void
extension_row(Oid *owner, Oid *schema)
{
	Oid			ext_oid = get_extension_oid("pgetl", true);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	if (!OidIsValid(ext_oid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"pgetl\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION pgetl.")));

	*owner = *schema = InvalidOid;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext_oid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		*owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
		*schema = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(*owner))
		elog(ERROR, "could not find extension \"pgetl\" in pg_extension");
}

/*
 * pgetl_extension_owner - the role that owns the pgetl extension in the
 * current database, and with it pgetl's catalog tables.
 */
Oid
pgetl_extension_owner(void)
{
	Oid			owner,
				schema;

	extension_row(&owner, &schema);
	return owner;
}

/*
 * pgetl_extension_schema - the schema of pgetl's user-facing functions.
 */
Oid
pgetl_extension_schema(void)
{
	Oid			owner,
				schema;

	extension_row(&owner, &schema);
	return schema;
}

/*
 * pgetl_become_owner - act as the extension owner, with search_path pinned
 * to "pg_catalog, pg_temp", until pgetl_restore_user.
 *
 * Like a SECURITY DEFINER function with SET search_path: the current user
 * id changes and a new GUC nest level holds the pinned search_path, so that
 * no SQL text run meanwhile can resolve a function, operator or type that
 * the caller created in a schema of its own (the caller's search_path,
 * however it was set -- SET, ALTER ROLE, ALTER DATABASE -- is not seen).
 * An error that aborts the (sub)transaction undoes both, as it does for a
 * SECURITY DEFINER function; code that catches an error without aborting
 * calls pgetl_restore_user_on_error.
 */
void
pgetl_become_owner(PgetlUserSwitch *sw)
{
	Oid			owner = pgetl_extension_owner();

	GetUserIdAndSecContext(&sw->save_userid, &sw->save_sec_context);
	sw->save_nestlevel = NewGUCNestLevel();
	pgetl_pin_search_path(GUC_ACTION_SAVE);
	SetUserIdAndSecContext(owner, sw->save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
pgetl_restore_user(PgetlUserSwitch *sw)
{
	AtEOXact_GUC(true, sw->save_nestlevel);
	SetUserIdAndSecContext(sw->save_userid, sw->save_sec_context);
}

/* the same, after an error caught while acting as the owner */
void
pgetl_restore_user_on_error(PgetlUserSwitch *sw)
{
	AtEOXact_GUC(false, sw->save_nestlevel);
	SetUserIdAndSecContext(sw->save_userid, sw->save_sec_context);
}

/*
 * pgetl_pin_search_path - set search_path to "pg_catalog, pg_temp".
 *
 * GUC_ACTION_SAVE: until the current GUC nest level ends (see
 * pgetl_become_owner).  GUC_ACTION_SET: for the rest of the session, which
 * is what a background worker that connects with elevated rights (the run
 * coordinator, the recovery and cron workers) does right after connecting,
 * since ALTER DATABASE/ROLE ... SET search_path apply to it as to any
 * session.
 */
void
pgetl_pin_search_path(GucAction action)
{
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET,
							 PGC_S_SESSION, action, true, 0, false);
}

/*
 * pgetl_spi_as_owner - run a query through SPI (already connected by the
 * caller) as the extension owner.  Errors keep their SQLSTATE, message,
 * detail and hint, but not pgetl's internal call stack as context (noise to
 * the user, unless it is a bug).  Returns SPI_processed; the result is in
 * SPI_tuptable, owned by SPI.
 */
uint64
pgetl_spi_as_owner(const char *sql, int nargs, Oid *types, Datum *values,
				   const char *nulls, bool read_only, long count)
{
	PgetlUserSwitch sw;
	MemoryContext cxt = CurrentMemoryContext;
	int			ret = 0;

	pgetl_become_owner(&sw);
	PG_TRY();
	{
		ret = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, count);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		pgetl_restore_user_on_error(&sw);
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_INTERNAL_ERROR)
			edata->context = NULL;
		ReThrowError(edata);
	}
	PG_END_TRY();
	pgetl_restore_user(&sw);
	if (ret < 0)
		elog(ERROR, "pgetl catalog query failed: %s", SPI_result_code_string(ret));
	return SPI_processed;
}

/*
 * pgetl_call_internal_args - SELECT pgetl.<internal>(args...) as the
 * extension owner and return its single result, copied into the caller's
 * memory context (*isnull tells a NULL result; rettype VOIDOID for none).
 */
Datum
pgetl_call_internal_args(const char *internal, int nargs, Oid *types,
						 Datum *values, bool *argnulls, Oid rettype, bool *isnull)
{
	char	   *nulls = palloc(nargs + 1);
	StringInfoData query;
	Datum		result = (Datum) 0;

	*isnull = true;
	initStringInfo(&query);
	appendStringInfo(&query, "SELECT pgetl.%s(", internal);
	for (int i = 0; i < nargs; i++)
	{
		nulls[i] = argnulls[i] ? 'n' : ' ';
		appendStringInfo(&query, "%s$%d", i > 0 ? ", " : "", i + 1);
	}
	appendStringInfoChar(&query, ')');

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (pgetl_spi_as_owner(query.data, nargs, types, values, nulls, false, 1) != 1)
		elog(ERROR, "pgetl.%s returned no row", internal);
	if (rettype != VOIDOID)
	{
		int16		typlen;
		bool		typbyval;

		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
		get_typlenbyval(rettype, &typlen, &typbyval);
		if (!*isnull)
			result = SPI_datumTransfer(result, typbyval, typlen);
	}
	SPI_finish();
	return result;
}

/*
 * pgetl_call_internal - the body of a user-facing trampoline: call
 * pgetl.<internal>(caller, args...) with the calling role's OID and the
 * arguments of the C function being called, with their declared types.
 */
Datum
pgetl_call_internal(FunctionCallInfo fcinfo, const char *internal)
{
	Oid		   *argtypes;
	int			nargs;
	Oid			rettype = get_func_signature(fcinfo->flinfo->fn_oid, &argtypes, &nargs);
	Oid		   *types = palloc((nargs + 1) * sizeof(Oid));
	Datum	   *values = palloc((nargs + 1) * sizeof(Datum));
	bool	   *nulls = palloc((nargs + 1) * sizeof(bool));
	bool		isnull;
	Datum		result;

	types[0] = OIDOID;
	values[0] = ObjectIdGetDatum(GetUserId());
	nulls[0] = false;
	for (int i = 0; i < nargs; i++)
	{
		types[i + 1] = argtypes[i];
		values[i + 1] = fcinfo->args[i].value;
		nulls[i + 1] = fcinfo->args[i].isnull;
	}
	result = pgetl_call_internal_args(internal, nargs + 1, types, values, nulls,
									  rettype, &isnull);
	if (rettype == VOIDOID)
		PG_RETURN_VOID();
	if (isnull)
		PG_RETURN_NULL();
	return result;
}

/*
 * pgetl_strlcpy_clip - strlcpy that never cuts a character in two: copies
 * the longest prefix of src (in the database encoding) that fits in size - 1
 * bytes and ends on a character boundary, and terminates dst.  A cut
 * multibyte character would make the whole text invalid in that encoding,
 * and a client using another encoding would get a conversion error instead
 * of the text.  The caller owns both buffers.
 */
void
pgetl_strlcpy_clip(char *dst, const char *src, size_t size)
{
	int			len = strlen(src);

	if (size == 0)
		return;
	if ((size_t) len >= size)
		len = pg_mbcliplen(src, len, size - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/*
 * pgetl_error_save - flatten an error into a fixed-size buffer (which lives
 * in shared memory; the caller owns both), each text cut on a character
 * boundary.
 */
void
pgetl_error_save(PgetlErrorBuf *buf, ErrorData *edata)
{
	buf->sqlerrcode = edata->sqlerrcode ? edata->sqlerrcode : ERRCODE_INTERNAL_ERROR;
	pgetl_strlcpy_clip(buf->message, edata->message ? edata->message : "unknown error", PGETL_ERRMSG_LEN);
	pgetl_strlcpy_clip(buf->detail, edata->detail ? edata->detail : "", PGETL_ERRMSG_LEN);
	pgetl_strlcpy_clip(buf->hint, edata->hint ? edata->hint : "", PGETL_ERRMSG_LEN);
}

/*
 * pgetl_error_rethrow - raise, in this process, an error saved by another.
 */
void
pgetl_error_rethrow(const PgetlErrorBuf *buf)
{
	ereport(ERROR,
			(errcode(buf->sqlerrcode),
			 errmsg_internal("%s", buf->message),
			 buf->detail[0] ? errdetail_internal("%s", buf->detail) : 0,
			 buf->hint[0] ? errhint("%s", buf->hint) : 0));
	pg_unreachable();
}
