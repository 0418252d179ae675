/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  Crash recovery at server start.
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
 * The launcher then stays idle: a worker that exits would not be started
 * again after a crash restart.
 *
 *-------------------------------------------------------------------------
 */
#include "launcher.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "executor/spi.h"
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
#include "utils/wait_event.h"
#include "util.h"

/* Register the launcher; called from _PG_init while preloading. */
void
pgetl_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	strlcpy(worker.bgw_library_name, PGETL_LIBRARY, BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgetl_launcher_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "pgetl launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, PGETL_LAUNCHER_TYPE, BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
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
 * pgetl_launcher_main - start one recovery worker per database, one after
 * the other, then idle until shutdown.
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
		BackgroundWorker worker;
		BackgroundWorkerHandle *handle;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = BGW_NEVER_RESTART;
		strlcpy(worker.bgw_library_name, PGETL_LIBRARY, BGW_MAXLEN);
		strlcpy(worker.bgw_function_name, "pgetl_recovery_main", BGW_MAXLEN);
		snprintf(worker.bgw_name, BGW_MAXLEN, "pgetl recovery of database %u", lfirst_oid(lc));
		strlcpy(worker.bgw_type, PGETL_RECOVERY_TYPE, BGW_MAXLEN);
		worker.bgw_main_arg = ObjectIdGetDatum(lfirst_oid(lc));
		worker.bgw_notify_pid = MyProcPid;
		if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		{
			ereport(LOG,
					(errmsg("pgetl: no background worker slot for recovery of database %u; it will recover at its next run",
							lfirst_oid(lc))));
			continue;
		}
		if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
			proc_exit(1);
		if (ShutdownRequestPending)
			proc_exit(0);
	}

	while (!ShutdownRequestPending)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		/* e.g. the barrier DROP DATABASE waits for */
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
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

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (OidIsValid(get_extension_oid("pgetl", true)))
	{
		PgetlUserSwitch sw;
		int			n;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		pgetl_become_owner(&sw);
		if (SPI_execute("SELECT pgetl._recover()", false, 1) != SPI_OK_SELECT)
			elog(ERROR, "pgetl._recover() failed");
		n = atoi(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		pgetl_restore_user(&sw);
		SPI_finish();
		if (n > 0)
			ereport(LOG,
					(errmsg("pgetl: marked %d interrupted run(s) failed in database \"%s\"",
							n, get_database_name(MyDatabaseId))));
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	proc_exit(0);
}
