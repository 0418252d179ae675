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

#include "access/xact.h"
#include "libpq/pqformat.h"
#include "libpq/pqmq.h"
#include "pgstat.h"
#include "storage/proc.h"
#include "utils/snapmgr.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/varlena.h"
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
 * pgetl_catalog_has_pool - does the catalog have pgetl._task_start(bigint),
 * i.e. is it at 0.2 or later?  A catalog still at 0.1 (the library was
 * updated, ALTER EXTENSION pgetl UPDATE not run yet) keeps running
 * pipelines with its own functions: a try is marked running in a
 * transaction of its own (pgetl._task_begin), as 0.1 did.
 */
bool
pgetl_catalog_has_pool(void)
{
	Oid			argtypes[1] = {INT8OID};

	return OidIsValid(LookupFuncName(list_make2(makeString("pgetl"), makeString("_task_start")),
									 1, argtypes, true));
}

/*
 * pgetl_bgworker_register - the one place that registers pgetl's
 * background workers (the launcher at server start; the scheduler, task,
 * recovery, maintenance and cron workers on demand).  Each connects to a
 * database and starts once recovery has finished; function is pgetl's
 * entry point, type its pg_stat_activity.backend_type, name its
 * bgw_name; extra (at most BGW_EXTRALEN bytes) goes to bgw_extra.  A
 * dynamic worker is never restarted and notifies this process of its
 * start and exit; it returns false when no background worker slot is
 * free, and its handle (if handle is not NULL) is palloc'd in the current
 * memory context.  A static one (dynamic false, while preloading) is
 * restarted 5 s after it exits.
 */
bool
pgetl_bgworker_register(const char *function, const char *type, const char *name,
						Datum main_arg, const void *extra, Size extralen,
						bool dynamic, BackgroundWorkerHandle **handle)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *h;

	Assert(extralen <= BGW_EXTRALEN);
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = dynamic ? BGW_NEVER_RESTART : 5;
	strlcpy(worker.bgw_library_name, PGETL_LIBRARY, BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, function, BGW_MAXLEN);
	strlcpy(worker.bgw_name, name, BGW_MAXLEN);
	strlcpy(worker.bgw_type, type, BGW_MAXLEN);
	worker.bgw_main_arg = main_arg;
	if (extra != NULL)
		memcpy(worker.bgw_extra, extra, extralen);
	if (!dynamic)
	{
		RegisterBackgroundWorker(&worker);
		return true;
	}
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &h))
		return false;
	if (handle != NULL)
		*handle = h;
	else
		pfree(h);
	return true;
}

/*
 * pgetl_xact_begin / pgetl_xact_commit - one short transaction with SPI
 * connected and a snapshot pushed, for background workers; memory
 * allocated in between is freed by SPI_finish or at commit.  On error the
 * caller aborts with AbortOutOfAnyTransaction(), which also ends SPI.
 */
void
pgetl_xact_begin(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
}

void
pgetl_xact_commit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
}

/*
 * pgetl_error_queue_create - make the queue at addr (PGETL_ERROR_QUEUE_SIZE
 * bytes in seg) and attach to it as its receiver: the process that waits
 * for another's report calls this when it creates the segment.
 */
shm_mq_handle *
pgetl_error_queue_create(dsm_segment *seg, void *addr)
{
	shm_mq	   *mq = shm_mq_create(addr, PGETL_ERROR_QUEUE_SIZE);

	shm_mq_set_receiver(mq, MyProc);
	return shm_mq_attach(mq, seg, NULL);
}

/* The sender's attachment, between prepare and send */
static dsm_segment *send_seg = NULL;
static shm_mq_handle *send_mqh = NULL;

/*
 * pgetl_error_send_prepare - attach to the queue at addr as its sender.
 * Called before telling the receiver that an error comes, so that the
 * receiver, which then waits for the whole message, learns if this
 * process dies before it has sent it.
 */
void
pgetl_error_send_prepare(dsm_segment *seg, void *addr)
{
	shm_mq	   *mq = (shm_mq *) addr;

	shm_mq_set_sender(mq, MyProc);
	send_seg = seg;
	send_mqh = shm_mq_attach(mq, seg, NULL);
}

/*
 * pgetl_error_send - send an error to the prepared queue: edata, or if
 * NULL the error being handled (the top of the error stack, in a PG_CATCH
 * block; the stack is flushed), as a parallel worker
 * sends its errors: the frontend protocol's ErrorResponse, whatever its
 * size (shm_mq streams it).  It is also logged as usual.  The redirection
 * ends when the segment is detached.
 */
void
pgetl_error_send(ErrorData *edata_in)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorData  *volatile edata = edata_in;

	Assert(send_mqh != NULL);
	if (edata == NULL)
	{
		edata = CopyErrorData();
		FlushErrorState();
	}
	pq_redirect_to_shm_mq(send_seg, send_mqh);

	/*
	 * The receiver reads the database encoding, as a parallel leader does: no
	 * conversion to this session's client_encoding (a load worker has its
	 * caller's).
	 */
	(void) SetClientEncoding(GetDatabaseEncoding());
	/* raised before the redirection, it was meant for the server log only */
	edata->output_to_client = true;
	PG_TRY();
	{
		ReThrowError(edata);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
	}
	PG_END_TRY();
	send_seg = NULL;
	send_mqh = NULL;
}

/*
 * pgetl_error_receive - wait for the error another process sends through
 * mqh and raise it here: its SQLSTATE, message, detail and hint, and its
 * context if keep_context (a load worker's says which line; a
 * scheduler's is pgetl's own SQL).  Returns false when the sender went
 * away without sending one (it detached, or exited: see
 * shm_mq_set_handle).
 */
bool
pgetl_error_receive(shm_mq_handle *mqh, bool keep_context)
{
	Size		nbytes;
	void	   *data;
	StringInfoData msg;
	ErrorData	edata;

	if (shm_mq_receive(mqh, &nbytes, &data, false) != SHM_MQ_SUCCESS)
		return false;
	initStringInfo(&msg);
	appendBinaryStringInfo(&msg, data, nbytes);
	if (pq_getmsgbyte(&msg) != 'E')
		elog(ERROR, "unexpected message in an error queue");
	memset(&edata, 0, sizeof(edata));
	pq_parse_errornotice(&msg, &edata);
	edata.elevel = ERROR;
	if (!keep_context)
		edata.context = NULL;
	edata.internalquery = NULL;
	edata.cursorpos = 0;
	edata.internalpos = 0;
	ThrowErrorData(&edata);
	return true;				/* not reached */
}

/*
 * pgetl_spi_fnumber - the number of column NAME of an SPI result (see
 * util.h: callers read by name so that no column can shift another).
 */
int
pgetl_spi_fnumber(TupleDesc desc, const char *name)
{
	int			col = SPI_fnumber(desc, name);

	if (col <= 0)
		elog(ERROR, "column \"%s\" is missing from the result", name);
	return col;
}

/* pgetl_spi_getbinval - SPI_getbinval of the column named NAME */
Datum
pgetl_spi_getbinval(HeapTuple tup, TupleDesc desc, const char *name, bool *isnull)
{
	return SPI_getbinval(tup, desc, pgetl_spi_fnumber(desc, name), isnull);
}

/* pgetl_spi_getvalue - SPI_getvalue of the column named NAME (palloc'd) */
char *
pgetl_spi_getvalue(HeapTuple tup, TupleDesc desc, const char *name)
{
	return SPI_getvalue(tup, desc, pgetl_spi_fnumber(desc, name));
}

/* two keys compared in the database's collation (as ORDER BY sorts them) */
static int
cmp_keys(const ListCell *a, const ListCell *b)
{
	const char *x = lfirst(a);
	const char *y = lfirst(b);

	return varstr_cmp(x, strlen(x), y, strlen(y), DEFAULT_COLLATION_OID);
}

/*
 * pgetl_jsonb_keys - the keys of JSON object c, in jsonb's order (that of
 * jsonb_object_keys), as a List of palloc'd strings in the current memory
 * context.
 */
List *
pgetl_jsonb_keys(JsonbContainer *c)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *keys = NIL;
	int			depth = 0;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			depth++;
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			depth--;
		else if (tok == WJB_KEY && depth == 1)
			keys = lappend(keys, pnstrdup(v.val.string.val, v.val.string.len));
	}
	return keys;
}

/*
 * pgetl_config_unknown_keys - the top-level keys of a task's config (a JSON
 * object) that are not among known[] (NULL-terminated), sorted in the
 * database's collation and separated by ", "; NULL when there is none.
 * The check of a task kind's config names them in its error.
 */
char *
pgetl_config_unknown_keys(Jsonb *config, const char *const *known)
{
	List	   *unknown = NIL;
	ListCell   *lc;
	StringInfoData bad;

	if (config == NULL || !JB_ROOT_IS_OBJECT(config))
		return NULL;
	foreach(lc, pgetl_jsonb_keys(&config->root))
	{
		char	   *key = lfirst(lc);
		bool		found = false;

		for (int i = 0; known[i] != NULL && !found; i++)
			found = strcmp(key, known[i]) == 0;
		if (!found)
			unknown = lappend(unknown, key);
	}
	if (unknown == NIL)
		return NULL;
	list_sort(unknown, cmp_keys);
	initStringInfo(&bad);
	foreach(lc, unknown)
		appendStringInfo(&bad, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 (char *) lfirst(lc));
	return bad.data;
}
