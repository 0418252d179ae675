/*-------------------------------------------------------------------------
 *
 * ownership.c
 *	  What pgetl does when roles and the extension itself are dropped.
 *
 * pgetl's objects (pipelines, load specs, staged data) are rows owned by a
 * role, not catalog objects: PostgreSQL records no dependency on their
 * owner, and roles are global, so DROP ROLE in another database cannot
 * see them.  A ProcessUtility hook (pgetl is preloaded, so the hook is in
 * every backend) does what can be done:
 *
 * - DROP ROLE of a role that owns pgetl objects in the current database
 *   fails (2BP01), as it would for tables, with a hint to run
 *   pgetl_reassign_owned first.  Other databases cannot be checked; the
 *   objects of a role dropped there stay, owned by its OID, and a
 *   superuser can reassign (pgetl_reassign_owned), unschedule or drop
 *   them.
 * - DROP EXTENSION pgetl removes the pg_cron jobs of this database's
 *   pipelines once the extension is dropped (the jobs live in the cron
 *   database, where nothing else would remove them).
 * - DROP DATABASE (and other commands that need a database without
 *   sessions) first asks pgetl's idle processes there to exit.
 *
 *-------------------------------------------------------------------------
 */
#include "ownership.h"

#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "executor/spi.h"
#include "commands/defrem.h"
#include "nodes/parsenodes.h"
#include "pool.h"
#include "shmem.h"
#include "schedule.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "util.h"

static ProcessUtility_hook_type prev_utility_hook = NULL;

/* A cron job to remove once DROP EXTENSION pgetl has succeeded */
typedef struct CronJob
{
	Oid			owner;
	char	   *jobname;
	int64		jobid;
} CronJob;

/*
 * internal_function_exists - is pgetl.<signature> installed (an older
 * version of the extension may lack it)?
 */
static bool
internal_function_exists(const char *signature)
{
	return OidIsValid(DatumGetObjectId(DirectFunctionCall1(to_regprocedure,
														   CStringGetTextDatum(signature))));
}

/*
 * check_drop_role - refuse to drop a role that owns pgetl objects in this
 * database.
 */
static void
check_drop_role(DropRoleStmt *stmt)
{
	ListCell   *lc;

	if (!OidIsValid(get_extension_oid("pgetl", true)) ||
		!internal_function_exists("pgetl._owned_by(oid)"))
		return;
	foreach(lc, stmt->roles)
	{
		RoleSpec   *spec = lfirst(lc);
		Oid			role;
		Oid			types[1] = {OIDOID};
		Datum		values[1];
		char	   *owned = NULL;

		if (spec->roletype != ROLESPEC_CSTRING)
			continue;
		role = get_role_oid(spec->rolename, true);
		if (!OidIsValid(role))
			continue;			/* DROP ROLE reports it */
		values[0] = ObjectIdGetDatum(role);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (pgetl_spi_as_owner("SELECT pgetl._owned_by($1)", 1, types, values, NULL, true, 1) == 1)
		{
			char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

			if (v)
				owned = pstrdup(v);
		}
		SPI_finish();
		if (owned)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("role \"%s\" cannot be dropped because it owns pgetl objects", spec->rolename),
					 errdetail("In database \"%s\" it owns %s.", get_database_name(MyDatabaseId), owned),
					 errhint("Give them a new owner with SELECT pgetl_reassign_owned(%s, 'new_owner'), or drop them, "
							 "in each database where pgetl is installed, as for REASSIGN OWNED and DROP OWNED.",
							 quote_literal_cstr(spec->rolename))));
	}
}

/*
 * drops_pgetl - is this a DROP EXTENSION of pgetl (installed here)?
 */
static bool
drops_pgetl(DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->removeType != OBJECT_EXTENSION)
		return false;
	foreach(lc, stmt->objects)
	{
		Node	   *obj = lfirst(lc);

		if (IsA(obj, String) && strcmp(strVal(obj), "pgetl") == 0)
			return OidIsValid(get_extension_oid("pgetl", true));
	}
	return false;
}

/*
 * scheduled_jobs - the cron jobs of this database's pipelines.
 */
static List *
scheduled_jobs(void)
{
	List	   *jobs = NIL;
	MemoryContext cxt = CurrentMemoryContext;

	if (!internal_function_exists("pgetl._all_schedules()"))
		return NIL;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) pgetl_spi_as_owner("SELECT owner, jobname, jobid FROM pgetl._all_schedules()",
							  0, NULL, NULL, NULL, true, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		CronJob    *job = palloc0(sizeof(CronJob));

		job->owner = DatumGetObjectId(pgetl_spi_getbinval(tup, desc, "owner", &isnull));
		job->jobname = pstrdup(pgetl_spi_getvalue(tup, desc, "jobname"));
		job->jobid = DatumGetInt64(pgetl_spi_getbinval(tup, desc, "jobid", &isnull));
		if (isnull)
			job->jobid = 0;
		jobs = lappend(jobs, job);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return jobs;
}

/*
 * release_database - before a command that needs a database without
 * sessions (DROP DATABASE, ALTER DATABASE ... RENAME / SET TABLESPACE,
 * CREATE DATABASE ... TEMPLATE), ask pgetl's idle processes there (warm
 * task workers, a scheduler without runs) to exit: PostgreSQL waits a few
 * seconds for other sessions to end.  Busy ones stay, and the command
 * fails as it would for any busy session.
 */
static void
release_database(Node *stmt)
{
	const char *dbname = NULL;
	Oid			dboid;

	if (IsA(stmt, DropdbStmt))
		dbname = ((DropdbStmt *) stmt)->dbname;
	else if (IsA(stmt, RenameStmt) && ((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
		dbname = ((RenameStmt *) stmt)->subname;
	else if (IsA(stmt, AlterDatabaseStmt))
		dbname = ((AlterDatabaseStmt *) stmt)->dbname;
	else if (IsA(stmt, CreatedbStmt))
	{
		ListCell   *lc;

		foreach(lc, ((CreatedbStmt *) stmt)->options)
		{
			DefElem    *opt = lfirst(lc);

			if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
				dbname = defGetString(opt);
		}
	}
	if (dbname == NULL || !pgetl_preloaded)
		return;
	dboid = get_database_oid(dbname, true);
	if (!OidIsValid(dboid))
		return;
	pgetl_pool_release_database(dboid);
	pgetl_sched_release(dboid);
}

/*
 * pgetl_utility_hook - the checks above around PostgreSQL's own
 * processing of DROP ROLE and DROP EXTENSION, and the release of a
 * database's idle pgetl processes before it is dropped or changed.
 */
static void
pgetl_utility_hook(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	List	   *jobs = NIL;
	ListCell   *lc;

	if (IsA(stmt, DropRoleStmt))
		check_drop_role((DropRoleStmt *) stmt);
	else if (IsA(stmt, DropStmt) && drops_pgetl((DropStmt *) stmt))
		jobs = scheduled_jobs();
	else
		release_database(stmt);

	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString,
						  readOnlyTree,
						  context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString,
								readOnlyTree,
								context, params, queryEnv, dest, qc);

	/* the extension is gone: its pipelines' cron jobs go too */
	foreach(lc, jobs)
	{
		CronJob    *job = lfirst(lc);

		pgetl_cron_remove(job->owner, job->jobname, job->jobid);
	}
}

/* Install the hook; called from _PG_init while preloading. */
void
pgetl_ownership_init(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = pgetl_utility_hook;
}
