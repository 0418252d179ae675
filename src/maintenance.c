/*-------------------------------------------------------------------------
 *
 * maintenance.c
 *	  Maintenance: crash recovery at server start, and the purge of old
 *	  history, by a static background worker, the pgetl launcher.
 *
 * A server crash (or a restart) leaves runs that were active in state
 * 'running' with nobody driving them.  The launcher, a static background
 * worker, starts with the server and after every crash restart; it starts
 * one short-lived recovery worker per database that accepts connections,
 * which calls pgetl._recover() where pgetl is installed: those runs are
 * marked failed with the reason "server restarted", their running tasks
 * failed, so that nothing stays 'running' and pgetl_resume() can go on.
 * Every run start also recovers its database first, so a database created
 * or a pgetl installed later is covered as well.
 *
 * The launcher then stays: every pgetl.maintenance_naptime it starts a
 * maintenance worker in each database, one after the other, which deletes
 * the history older than pgetl.history_retention where pgetl is installed
 * (pgetl._purge_expired, in batches of PGETL_PURGE_BATCH rows, each in a
 * transaction of its own, as the extension owner).  (It must not exit: a
 * worker that exits would not be started again after a crash restart.)
 *
 *-------------------------------------------------------------------------
 */
#include "maintenance.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "commands/dbcommands.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/wait_event.h"
#include "export.h"
#include "run.h"
#include "util.h"

/* Register the launcher; called from _PG_init while preloading. */
void
pgetl_register_launcher(void)
{
	(void) pgetl_bgworker_register("pgetl_launcher_main", PGETL_LAUNCHER_TYPE, "pgetl launcher",
								   (Datum) 0, NULL, 0, false, NULL);
}

/* Databases that accept connections (as the autovacuum launcher lists them) */
static List *
database_list(void)
{
	List	   *dbs = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext outer = CurrentMemoryContext;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		if (!db->datallowconn)
			continue;
		old = MemoryContextSwitchTo(outer);
		dbs = lappend_oid(dbs, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return dbs;
}

/*
 * run_in_database - start a worker running function in a database and wait
 * until it has exited.  False when no worker slot is free; exits when the
 * postmaster died.
 */
static bool
run_in_database(Oid dboid, const char *function, const char *type)
{
	BackgroundWorkerHandle *handle;

	if (!pgetl_bgworker_register(function, type, psprintf("%s of database %u", type, dboid),
								 ObjectIdGetDatum(dboid), NULL, 0, true, &handle))
		return false;
	if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
		proc_exit(1);
	return true;
}

/*
 * pgetl_launcher_main - start one recovery worker per database, one after
 * the other, then one maintenance worker per database every
 * pgetl.maintenance_naptime, until shutdown.
 */
void
pgetl_launcher_main(Datum main_arg)
{
	List	   *dbs;
	ListCell   *lc;

	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	dbs = database_list();
	foreach(lc, dbs)
	{
		if (!run_in_database(lfirst_oid(lc), "pgetl_recovery_main", PGETL_RECOVERY_TYPE))
			ereport(LOG,
					(errmsg("pgetl: no background worker slot for recovery of database %u; it will recover at its next run",
							lfirst_oid(lc))));
		if (ShutdownRequestPending)
			proc_exit(0);
	}

	while (!ShutdownRequestPending)
	{
		int			rc;

		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   pgetl_maintenance_naptime * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		/* e.g. the barrier DROP DATABASE waits for */
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!(rc & WL_TIMEOUT) || ShutdownRequestPending || pgetl_retention_seconds() <= 0)
			continue;
		dbs = database_list();
		foreach(lc, dbs)
		{
			/* no free slot: this database is purged at the next pass */
			(void) run_in_database(lfirst_oid(lc), "pgetl_maintenance_main", PGETL_MAINTENANCE_TYPE);
			if (ShutdownRequestPending)
				break;
		}
		list_free(dbs);
	}
	proc_exit(0);
}

/*
 * pgetl_maintenance_main - delete the history older than
 * pgetl.history_retention in one database, if pgetl is installed there:
 * batches of PGETL_PURGE_BATCH rows, each in a transaction of its own, as
 * the extension owner with search_path pinned to pg_catalog, pg_temp.
 */
void
pgetl_maintenance_main(Datum main_arg)
{
	char	   *retention;
	char	   *dbname = NULL;
	int64		total = 0;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg), InvalidOid, 0);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	if (pgetl_retention_seconds() <= 0)
		proc_exit(0);
	retention = pstrdup(pgetl_history_retention);

	for (;;)
	{
		Oid			types[2] = {TEXTOID, INT4OID};
		Datum		values[2];
		int64		n = 0;
		bool		installed;

		pgetl_xact_begin();
		if (dbname == NULL)
			dbname = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
		installed = OidIsValid(get_extension_oid("pgetl", true)) &&
			OidIsValid(DatumGetObjectId(DirectFunctionCall1(to_regprocedure,
															CStringGetTextDatum("pgetl._purge_expired(interval, integer)"))));
		if (installed)
		{
			PgetlUserSwitch sw;
			bool		isnull;

			pgstat_report_activity(STATE_RUNNING, "pgetl: purging old history");
			values[0] = CStringGetTextDatum(retention);
			values[1] = Int32GetDatum(PGETL_PURGE_BATCH);
			pgetl_become_owner(&sw);
			if (SPI_execute_with_args("SELECT pgetl._purge_expired($1::pg_catalog.interval, $2)",
									  2, types, values, NULL, false, 1) != SPI_OK_SELECT)
				elog(ERROR, "pgetl._purge_expired() failed");
			n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			pgetl_restore_user(&sw);
		}
		pgetl_xact_commit();
		pgstat_report_activity(STATE_IDLE, NULL);
		total += n;
		if (n == 0)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	if (total > 0)
		ereport(LOG,
				(errmsg("pgetl: deleted " INT64_FORMAT " row(s) of history older than %s in database \"%s\"",
						total, retention, dbname)));
	proc_exit(0);
}

/* Recover one database, if pgetl is installed in it. */
void
pgetl_recovery_main(Datum main_arg)
{
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg), InvalidOid, 0);
	/* no ALTER DATABASE/ROLE ... SET search_path reaches the SQL run here */
	pgetl_pin_search_path(GUC_ACTION_SET);

	pgetl_xact_begin();
	if (OidIsValid(get_extension_oid("pgetl", true)))
	{
		PgetlUserSwitch sw;
		int			n;

		pgetl_become_owner(&sw);
		if (SPI_execute("SELECT pgetl._recover()", false, 1) != SPI_OK_SELECT)
			elog(ERROR, "pgetl._recover() failed");
		n = atoi(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		/* temporary files of exports that died with the server */
		(void) pgetl_export_recover();
		pgetl_restore_user(&sw);
		if (n > 0)
			ereport(LOG,
					(errmsg("pgetl: marked %d interrupted run(s) failed in database \"%s\"",
							n, get_database_name(MyDatabaseId))));
		/* their pipelines' on_failure: the scheduler runs them */
		if (OidIsValid(LookupFuncName(list_make2(makeString("pgetl"), makeString("_pending_callbacks")),
									  0, NULL, true)))
		{
			/* not read-only: it must see what _recover just wrote */
			if (SPI_execute("SELECT FROM pgetl._pending_callbacks() LIMIT 1", false, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not read the pending pipeline callbacks");
			if (SPI_processed > 0)
				pgetl_scheduler_wake();
		}
	}
	pgetl_xact_commit();
	proc_exit(0);
}
