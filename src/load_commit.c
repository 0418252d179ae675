/*-------------------------------------------------------------------------
 *
 * load_commit.c
 *	  A load that commits every N records (the spec's option commit_every),
 *	  and the resumption of one that was interrupted.
 *
 * A function called by SELECT cannot commit, so pgetl_load hands such a
 * load to a background worker of its own and waits for it: the worker
 * connects to the same database as the caller's session user, takes the
 * caller's settings (GUCs) and current role, and runs the load in
 * stretches of commit_every records, each in a transaction of its own
 * (load_run_stretch).  Each stretch commits its rows, its rejects and the
 * load's history row with a checkpoint: the byte offset and the physical
 * line where the next stretch starts, beside the source's identity (size,
 * modification time, hash of its first 64 kB).  What a stretch did either
 * committed with its checkpoint or not at all, so a load killed at any
 * moment resumes (pgetl_load(..., resume => true)) from its last
 * checkpoint with no record loaded twice and none missed.
 *
 * Since the worker commits on its own, the caller must not be inside a
 * transaction block (as with VACUUM): its rollback could not undo the
 * committed stretches, and the worker could not see what it had not
 * committed.  Cancelling the caller stops the worker; the stretches
 * committed stay, and the load can be resumed.  The worker's error is
 * raised again by the caller (SQLSTATE, message, detail, hint, context).
 *
 *-------------------------------------------------------------------------
 */
#include "load_run.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "util.h"

#define PGETL_LOAD_TYPE "pgetl load"

/* What the caller hands to the worker, and the worker's answer */
typedef struct LoadJob
{
	Oid			dbid;
	Oid			session_user;
	Oid			outer_user;		/* the role set by SET ROLE */
	bool		outer_is_super;
	Oid			user;			/* the current user */
	int			sec_context;
	int64		run_id;
	bool		purge;
	bool		resume;
	char		load[NAMEDATALEN * 2];
	Size		source_off;		/* the source, after this struct */
	Size		guc_off;		/* the caller's settings (SerializeGUCState) */
	Size		guc_len;

	/* the answer */
	bool		finished;
	int64		load_id;
	int64		rows_read;
	int64		rows_loaded;
	int64		rows_rejected;
	int64		rows_skipped_by_trigger;
	int64		rows_skipped_on_conflict;
	int64		rows_warned;
	Size		error_queue_offset; /* the worker's error, if any (src/util.c) */
} LoadJob;

PGDLLEXPORT void pgetl_load_worker_main(Datum main_arg);

/*
 * refuse_transaction_block - a load that commits as it goes cannot be part
 * of the caller's transaction: refuse it inside a transaction block, a
 * subtransaction, or a transaction that has written (whose locks the
 * worker could wait for forever).
 */
static void
refuse_transaction_block(const char *load_name, Load *load, bool resume)
{
	if (!IsTransactionBlock() && !IsSubTransaction() &&
		!TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
			 load->commit_every > 0 ?
			 errmsg("load \"%s\" commits every " INT64_FORMAT " records, so pgetl_load cannot run inside a transaction block",
					load_name, load->commit_every) :
			 errmsg("pgetl_load with resume => true cannot run inside a transaction block"),
			 errdetail("Such a load commits as it goes, in a transaction of its own, which the transaction it is called from could not roll back."),
			 resume ?
			 errhint("Call it on its own, outside BEGIN ... COMMIT (in autocommit).") :
			 errhint("Call it on its own, outside BEGIN ... COMMIT (in autocommit), or redefine load \"%s\" without commit_every to load in the caller's transaction.",
					 load_name)));
}

/*
 * load_in_worker - run the load in a background worker and wait for it;
 * fills load's counts and load_id, or raises the worker's error.  On
 * cancel, the worker is stopped (its current stretch rolls back).
 */
void
load_in_worker(FunctionCallInfo fcinfo, const char *load_name, Load *load, bool purge,
			   bool resume)
{
	Size		srclen = strlen(load->source) + 1;
	Size		guclen = EstimateGUCStateSpace();
	Size		size = MAXALIGN(sizeof(LoadJob)) + MAXALIGN(srclen) + MAXALIGN(guclen) +
	PGETL_ERROR_QUEUE_SIZE;
	dsm_segment *seg;
	LoadJob    *job;
	BackgroundWorkerHandle *handle;
	shm_mq_handle *errq;
	Oid			user;
	int			sec_context;

	refuse_transaction_block(load_name, load, resume);
	seg = dsm_create(size, 0);
	job = dsm_segment_address(seg);
	memset(job, 0, sizeof(LoadJob));
	GetUserIdAndSecContext(&user, &sec_context);
	job->dbid = MyDatabaseId;
	job->session_user = GetSessionUserId();
	job->outer_user = GetOuterUserId();
	job->outer_is_super = superuser_arg(GetOuterUserId());
	job->user = user;
	job->sec_context = sec_context;
	job->run_id = load->run_id;
	job->purge = purge;
	job->resume = resume;
	strlcpy(job->load, load_name, sizeof(job->load));
	job->source_off = MAXALIGN(sizeof(LoadJob));
	memcpy((char *) job + job->source_off, load->source, srclen);
	job->guc_off = job->source_off + MAXALIGN(srclen);
	job->guc_len = guclen;
	SerializeGUCState(guclen, (char *) job + job->guc_off);
	job->error_queue_offset = job->guc_off + MAXALIGN(guclen);
	errq = pgetl_error_queue_create(seg, (char *) job + job->error_queue_offset);

	if (!pgetl_bgworker_register("pgetl_load_worker_main", PGETL_LOAD_TYPE,
								 psprintf("pgetl load %s", load_name),
								 UInt32GetDatum(dsm_segment_handle(seg)), NULL, 0, true, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start a background worker for load \"%s\"", load_name),
				 errdetail("A load with commit_every runs in a background worker of its own, and all of max_worker_processes are in use."),
				 errhint("Retry later, or raise max_worker_processes.")));
	PG_TRY();
	{
		/*
		 * its error, if it sends one (raised here); the queue notices when it
		 * exits
		 */
		shm_mq_set_handle(errq, handle);
		(void) pgetl_error_receive(errq, true);
		(void) WaitForBackgroundWorkerShutdown(handle);
	}
	PG_CATCH();
	{
		/* cancelled: stop the worker; its committed stretches stay */
		TerminateBackgroundWorker(handle);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (!job->finished)
		ereport(ERROR,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("the background worker of load \"%s\" stopped before the end of \"%s\"",
						load_name, load->source),
				 errdetail("The stretches it committed stay loaded."),
				 errhint("Continue it with pgetl_load(..., resume => true).")));
	load->load_id = job->load_id;
	load->rows_read = job->rows_read;
	load->rows_loaded = job->rows_loaded;
	load->rows_rejected = job->rows_rejected;
	load->rows_skipped_by_trigger = job->rows_skipped_by_trigger;
	load->rows_skipped_on_conflict = job->rows_skipped_on_conflict;
	load->rows_warned = job->rows_warned;
	dsm_detach(seg);
}

/*
 * find_interrupted - for resume: the latest unfinished load of this spec
 * and source that has a checkpoint, which the caller may see; its counts,
 * checkpoint, header and commit_every go to load.  None: a clear error.
 */
static void
find_interrupted(Load *load)
{
	Oid			types[3] = {TEXTOID, TEXTOID, OIDOID};
	Datum		values[3];
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	values[0] = CStringGetTextDatum(load->spec->name);
	values[1] = CStringGetTextDatum(load->source);
	values[2] = ObjectIdGetDatum(GetUserId());
	load_owner_exec("SELECT load_id, checkpoint_offset, checkpoint_line, rows_read, rows_loaded, "
					"rows_rejected, coalesce(rows_skipped_by_trigger, 0) AS rows_skipped_by_trigger, "
					"coalesce(rows_skipped_on_conflict, 0) AS rows_skipped_on_conflict, header, commit_every, "
					"coalesce(rows_warned, 0) AS rows_warned "
					"FROM pgetl.load_record "
					"WHERE load_name OPERATOR(pg_catalog.=) $1 AND source OPERATOR(pg_catalog.=) $2 "
					"AND finished_at IS NULL AND checkpoint_line IS NOT NULL "
					"AND pg_catalog.pg_has_role($3, owner, 'MEMBER') "
					"ORDER BY load_id DESC LIMIT 1",
					3, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("load \"%s\" has no interrupted load of \"%s\" to resume",
						load->spec->name, load->source),
				 errdetail("Only a load with commit_every that stopped before the end of its source (cancelled, failed or killed) can be resumed."),
				 errhint("See SELECT * FROM pgetl.load_history WHERE finished_at IS NULL; "
						 "to load the whole source, call pgetl_load without resume => true.")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	load->load_id = DatumGetInt64(pgetl_spi_getbinval(tup, desc, "load_id", &isnull));
	load->offset = DatumGetInt64(pgetl_spi_getbinval(tup, desc, "checkpoint_offset", &isnull));
	load->line = DatumGetInt64(pgetl_spi_getbinval(tup, desc, "checkpoint_line", &isnull));
	d = pgetl_spi_getbinval(tup, desc, "rows_read", &isnull);
	load->rows_read = isnull ? 0 : DatumGetInt64(d);
	d = pgetl_spi_getbinval(tup, desc, "rows_loaded", &isnull);
	load->rows_loaded = isnull ? 0 : DatumGetInt64(d);
	d = pgetl_spi_getbinval(tup, desc, "rows_rejected", &isnull);
	load->rows_rejected = isnull ? 0 : DatumGetInt64(d);
	load->rows_skipped_by_trigger = DatumGetInt64(pgetl_spi_getbinval(tup, desc, "rows_skipped_by_trigger", &isnull));
	load->rows_skipped_on_conflict = DatumGetInt64(pgetl_spi_getbinval(tup, desc, "rows_skipped_on_conflict", &isnull));
	d = pgetl_spi_getbinval(tup, desc, "header", &isnull);
	if (!isnull)
		load->header = MemoryContextStrdup(load->cxt, TextDatumGetCString(d));
	load->rows_warned = DatumGetInt64(pgetl_spi_getbinval(tup, desc, "rows_warned", &isnull));
	d = pgetl_spi_getbinval(tup, desc, "commit_every", &isnull);
	if (load->commit_every <= 0 && !isnull)
		load->commit_every = DatumGetInt64(d);
	if (load->commit_every <= 0)
		load->commit_every = INT64CONST(1000000);
	load->committed = true;
}

/*
 * pgetl_load_worker_main - the background worker of a load with
 * commit_every: one transaction per stretch, until the end of the source.
 */
void
pgetl_load_worker_main(Datum main_arg)
{
	dsm_segment *seg;
	LoadJob    *job;
	Load		load;
	MemoryContext cxt;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	CurrentResourceOwner = ResourceOwnerCreate(NULL, "pgetl load worker");
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not map the shared memory of a pgetl load")));
	job = dsm_segment_address(seg);
	BackgroundWorkerInitializeConnectionByOid(job->dbid, job->session_user, 0);

	cxt = AllocSetContextCreate(TopMemoryContext, "pgetl load", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);
	load_init(&load, (char *) job + job->source_off);
	load.run_id = job->run_id;

	PG_TRY();
	{
		/* the caller's settings and roles */
		StartTransactionCommand();
		RestoreGUCState((char *) job + job->guc_off);
		CommitTransactionCommand();
		SetCurrentRoleId(job->outer_user, job->outer_is_super);
		SetUserIdAndSecContext(job->user, job->sec_context);
		pgstat_report_activity(STATE_RUNNING, psprintf("pgetl load %s", job->load));

		while (!load.done)
		{
			pgetl_xact_begin();
			load.spec = load_spec_fetch(job->load, false);
			if (load.load_id == 0 && job->resume)
				find_interrupted(&load);
			else if (load.commit_every <= 0 || load.load_id == 0)
				load.commit_every = load_spec_commit_every(load.spec);
			if (load.commit_every <= 0)
				load.commit_every = INT64CONST(1000000);
			load.reject_plan = NULL;
			load_run_stretch(&load, job->purge);
			pgetl_xact_commit();
			load.committed = true;
			MemoryContextSwitchTo(cxt);
		}
		job->finished = true;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		/* to the waiting caller, whole (and to the server log) */
		pgetl_error_send_prepare(seg, (char *) job + job->error_queue_offset);
		pgetl_error_send(NULL);
		FlushErrorState();
		load_source_reset();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	job->load_id = load.load_id;
	job->rows_read = load.rows_read;
	job->rows_loaded = load.rows_loaded;
	job->rows_rejected = load.rows_rejected;
	job->rows_skipped_by_trigger = load.rows_skipped_by_trigger;
	job->rows_skipped_on_conflict = load.rows_skipped_on_conflict;
	job->rows_warned = load.rows_warned;
	pgstat_report_activity(STATE_IDLE, NULL);
	dsm_detach(seg);
	proc_exit(0);
}
