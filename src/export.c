/*-------------------------------------------------------------------------
 *
 * export.c
 *	  The export task kind: COPY (query) TO a server file as CSV.
 *
 * An export task's command is a query; config.path is the file to write,
 * with {logical_date}, {run_id} and {pipeline} placeholders.  The rows are
 * written by PostgreSQL's own COPY (so COPY's CSV quoting, encoding and
 * privilege check apply: the pipeline owner needs pg_write_server_files)
 * into a hidden temporary file beside the target (.<name>.pgetl-<pid>.tmp),
 * and renamed over the target only once the transaction that records the
 * task's success has committed (a transaction callback, at
 * XACT_EVENT_COMMIT).  A failed, cancelled or timed-out task, a
 * transaction that fails at COMMIT (e.g. a deferred constraint trigger), or
 * a crash never leaves a file under the final name.  The temporary file is
 * removed when the transaction aborts (which a terminated worker does on
 * its way out); what a crash, kill -9 or immediate shutdown leaves is
 * removed by pgetl_export_sweep: at the next run of an export into that
 * directory, and by the recovery worker at server start.
 *
 * A rename that fails after the commit cannot undo it: the task stays
 * successful, the rows stay in the temporary file, and the failure is
 * recorded on the task run (error, and "rename_error" in its result) and
 * in the server log.
 *
 *-------------------------------------------------------------------------
 */
#include "export.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/procarray.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"
#include "utils/memutils.h"
#include "util.h"

/* The temporary file of the export in progress (TopMemoryContext), if any */
static char *pending_temp = NULL;

/* Its final name, once pgetl_export_finish armed the rename at commit */
static char *pending_final = NULL;

/* A rename that failed after its transaction committed (TopMemoryContext) */
static char *rename_error = NULL;
static char *rename_temp = NULL;

static bool callback_registered = false;

/*
 * export_xact_callback - rename the finished export into place once its
 * transaction has committed; remove the temporary file when it aborts.
 * Runs after the commit record is flushed: it must not raise an error, so
 * a failed rename is kept in rename_error for pgetl_export_report.
 */
static void
export_xact_callback(XactEvent event, void *arg)
{
	if (pending_temp == NULL)
		return;
	if (event == XACT_EVENT_COMMIT && pending_final != NULL)
	{
		/* durable: fsync the file, rename, fsync the directory */
		if (durable_rename(pending_temp, pending_final, LOG) != 0)
		{
			rename_error = MemoryContextStrdup(TopMemoryContext,
											   psprintf("could not rename file \"%s\" to \"%s\": %s",
														pending_temp, pending_final, strerror(errno)));
			rename_temp = pending_temp;
			pending_temp = NULL;

			/*
			 * The coordinator may terminate this worker as soon as it sees
			 * the success committed: hold interrupts (CommitTransaction holds
			 * them while it calls us) until pgetl_export_report has recorded
			 * the failure.
			 */
			HOLD_INTERRUPTS();
		}
		else
		{
			pfree(pending_temp);
			pending_temp = NULL;
		}
		pfree(pending_final);
		pending_final = NULL;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT)
	{
		/* aborted, or committed without reaching pgetl_export_finish */
		if (pending_final)
			pfree(pending_final);
		pending_final = NULL;
		pgetl_export_abort();
	}
}

/*
 * pgetl_export_sweep - remove the temporary files that dead exports left
 * in a directory: hidden files named .<name>.pgetl-<pid>.tmp whose pid is
 * not a live backend of this server (a kill -9, a crash or an immediate
 * shutdown gives its worker no chance to remove its own).  Never raises an
 * error for the directory or a file (it logs them).  Returns the number of
 * files removed.
 */
int
pgetl_export_sweep(const char *dir)
{
	DIR		   *d;
	struct dirent *de;
	int			removed = 0;

	d = AllocateDir(dir);
	if (d == NULL)
		return 0;
	while ((de = ReadDirExtended(d, dir, LOG)) != NULL)
	{
		const char *name = de->d_name;
		size_t		len = strlen(name);
		const char *tag;
		char	   *path;
		int			pid;

		if (name[0] != '.' || len < 12 || strcmp(name + len - 4, ".tmp") != 0)
			continue;
		tag = strstr(name, ".pgetl-");
		if (tag == NULL || tag == name)
			continue;
		while (strstr(tag + 1, ".pgetl-") != NULL)
			tag = strstr(tag + 1, ".pgetl-");
		tag += 7;
		if (strspn(tag, "0123456789") != (size_t) (name + len - 4 - tag) || name + len - 4 == tag)
			continue;
		pid = atoi(tag);
		if (pid == MyProcPid || BackendPidGetProc(pid) != NULL)
			continue;
		path = psprintf("%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
		if (unlink(path) == 0)
		{
			removed++;
			ereport(LOG,
					(errmsg("pgetl: removed temporary file \"%s\" left by export worker %d, which is gone",
							path, pid)));
		}
		else if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("pgetl: could not remove temporary export file \"%s\": %m", path)));
		pfree(path);
	}
	FreeDir(d);
	return removed;
}

/*
 * pgetl_export_recover - for the recovery worker at server start: sweep
 * the directory of every export task's path (those without placeholders in
 * the directory part; the others are swept at their next run).  SPI
 * connected, as the extension owner.  Returns the number of files removed.
 */
int
pgetl_export_recover(void)
{
	List	   *dirs = NIL;
	ListCell   *lc;
	int			removed = 0;

	if (SPI_execute("SELECT DISTINCT pg_catalog.regexp_replace(config OPERATOR(pg_catalog.->>) 'path', '/[^/]*$', '') "
					"FROM pgetl.task WHERE kind OPERATOR(pg_catalog.=) 'export'",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the export tasks");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *dir = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		if (dir == NULL || strchr(dir, '{') != NULL)
			continue;
		dirs = lappend(dirs, pstrdup(dir[0] ? dir : "/"));
	}
	foreach(lc, dirs)
		removed += pgetl_export_sweep(lfirst(lc));
	return removed;
}

/*
 * The placeholders an export path may use, in the order hints list them:
 * the one list, read by the check of a task's config (pgetl_add_task) and
 * by the expansion when the task runs.
 */
static const char *const export_placeholders[] = {"logical_date", "run_id", "pipeline", NULL};

/*
 * next_placeholder - the next {word} of p (word: lower-case letters and
 * underscores), as the regular expression \{([a-z_]+)\} finds it: *start
 * set to its "{", the word returned palloc'd; NULL when there is none.
 */
static char *
next_placeholder(const char *p, const char **start)
{
	for (; *p; p++)
	{
		const char *close;
		size_t		len;

		if (*p != '{' || (close = strchr(p + 1, '}')) == NULL)
			continue;
		len = close - p - 1;
		if (len > 0 && strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_") == len)
		{
			*start = p;
			return pnstrdup(p + 1, len);
		}
	}
	return NULL;
}

/* whether word is one of export_placeholders[] */
static bool
is_placeholder(const char *word)
{
	for (int i = 0; export_placeholders[i] != NULL; i++)
		if (strcmp(export_placeholders[i], word) == 0)
			return true;
	return false;
}

/* "Export paths may use {logical_date}, {run_id} and {pipeline}." */
static char *
placeholders_hint(void)
{
	StringInfoData buf;
	int			n = 0;

	while (export_placeholders[n] != NULL)
		n++;
	initStringInfo(&buf);
	appendStringInfoString(&buf, "Export paths may use ");
	for (int i = 0; i < n; i++)
		appendStringInfo(&buf, "%s{%s}", i == 0 ? "" : i == n - 1 ? " and " : ", ",
						 export_placeholders[i]);
	appendStringInfoChar(&buf, '.');
	return buf.data;
}

/*
 * pgetl_export_check_config - the one check of an export task's config:
 * {"path": "/abs/file_{logical_date}.csv", "header": true}, no other key,
 * an absolute path whose placeholders are known.  With a valid owner (the
 * pipeline's, when the task is defined), also that the owner may write
 * server files.  An error on the first problem.
 */
void
pgetl_export_check_config(Jsonb *config, Oid owner)
{
	JsonbValue	v;
	static const char *const known_keys[] = {"path", "header", NULL};
	char	   *path;
	char	   *unknown;
	StringInfoData bad;
	const char *p;
	char	   *word;

	if (config == NULL || !JB_ROOT_IS_OBJECT(config) ||
		!getKeyJsonValueFromContainer(&config->root, "path", 4, &v) ||
		v.type != jbvString || v.val.string.len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an export task needs config with a string key \"path\""),
				 errhint("For example: config => '{\"path\": \"/srv/out/orders_{logical_date}.csv\"}'")));
	path = pnstrdup(v.val.string.val, v.val.string.len);

	/* keys: path and header */
	unknown = pgetl_config_unknown_keys(config, known_keys);
	if (unknown != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown key in export task config: %s", unknown),
				 errhint("An export task config has keys \"path\" and \"header\" (default true).")));
	if (getKeyJsonValueFromContainer(&config->root, "header", 6, &v) && v.type != jbvBool)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("export task config \"header\" must be true or false")));
	if (path[0] != '/')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("export path \"%s\" is not absolute", path),
				 errhint("Give the full path of a file on the database server, starting with /.")));
	initStringInfo(&bad);
	for (p = path; (word = next_placeholder(p, &p)) != NULL; p += strlen(word) + 2)
	{
		if (!is_placeholder(word))
			appendStringInfo(&bad, "%s%s", bad.len > 0 ? ", " : "", word);
	}
	if (bad.len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown placeholder in export path \"%s\": %s", path, bad.data),
				 errhint("%s", placeholders_hint())));
	if (OidIsValid(owner) && !has_privs_of_role(owner, ROLE_PG_WRITE_SERVER_FILES))
	{
		char	   *role = (char *) quote_identifier(GetUserNameFromId(owner, false));

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" cannot export to server files", role),
				 errdetail("Export tasks run COPY ... TO a file as the pipeline owner, which needs the privileges of pg_write_server_files."),
				 errhint("GRANT pg_write_server_files TO %s;", role)));
	}
}

/*
 * pgetl._check_export_task(owner oid, config jsonb) - pgetl_add_task's
 * check of an export task's config (pgetl_export_check_config).
 */
PG_FUNCTION_INFO_V1(pgetl_check_export_task);
Datum
pgetl_check_export_task(PG_FUNCTION_ARGS)
{
	pgetl_export_check_config(PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
							  PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0));
	PG_RETURN_VOID();
}

/*
 * pgetl_export_path - expand the placeholders of an export path (checked
 * by pgetl_export_check_config).
 *
 * {logical_date} becomes YYYY-MM-DD, {run_id} the run's id and {pipeline}
 * the pipeline's name.  Returns a palloc'd string.
 */
char *
pgetl_export_path(const char *pattern, const PgetlExportRun *run)
{
	StringInfoData buf;
	const char *p = pattern;
	const char *start;
	char	   *name;

	initStringInfo(&buf);
	while ((name = next_placeholder(p, &start)) != NULL)
	{
		appendBinaryStringInfo(&buf, p, start - p);
		if (strcmp(name, "logical_date") == 0)
			appendStringInfoString(&buf,
								   DatumGetCString(DirectFunctionCall1(date_out,
																	   DateADTGetDatum(run->logical_date))));
		else if (strcmp(name, "run_id") == 0)
			appendStringInfo(&buf, INT64_FORMAT, run->run_id);
		else if (strcmp(name, "pipeline") == 0)
			appendStringInfoString(&buf, run->pipeline);
		else
			elog(ERROR, "unknown placeholder {%s} in export path \"%s\"", name, pattern);
		p = start + strlen(name) + 2;
	}
	appendStringInfoString(&buf, p);
	return buf.data;
}

/* config.header as a boolean (a checked config): true when absent */
static bool
config_header(Jsonb *config)
{
	JsonbValue	v;

	if (getKeyJsonValueFromContainer(&config->root, "header", 6, &v))
		return v.val.boolean;
	return true;
}

/*
 * pgetl_export_write - run COPY (query) TO a temporary file beside the
 * export's path, as the current user (the pipeline owner).
 *
 * Fills *out with the final and temporary paths (palloc'd in the current
 * context) and the row count; the caller renames the file into place with
 * pgetl_export_finish() once the task's success is recorded, or removes it
 * with pgetl_export_abort() on error.  Must be called with SPI connected.
 */
void
pgetl_export_write(const char *query, Jsonb *config, const PgetlExportRun *run,
				   PgetlExport *out)
{
	JsonbValue	v;
	char	   *path;
	char	   *dir;
	char	   *slash;
	char	   *q;
	int			len;
	struct stat st;
	char	   *sql;

	/* the config was checked when the task was defined; it is again */
	pgetl_export_check_config(config, InvalidOid);
	(void) getKeyJsonValueFromContainer(&config->root, "path", 4, &v);
	path = pgetl_export_path(pnstrdup(v.val.string.val, v.val.string.len), run);

	/* COPY checks this too; checking first gives the pgetl-specific hint */
	if (!has_privs_of_role(GetUserId(), ROLE_PG_WRITE_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to export to file \"%s\"", path),
				 errdetail("Only roles with privileges of the \"pg_write_server_files\" role may write server files, as with COPY TO."),
				 errhint("GRANT pg_write_server_files TO %s;",
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));

	dir = pstrdup(path);
	slash = strrchr(dir, '/');
	if (slash[1] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("export path \"%s\" names a directory, not a file", path)));
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("directory \"%s\" of export path \"%s\" does not exist", dir, path),
				 errhint("Create it first; the database server's operating system user must be able to write to it.")));
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("export path \"%s\" exists and is not a regular file", path)));

	/* what dead exports left here before */
	(void) pgetl_export_sweep(dir);

	/* a hidden file in the same directory, so that the rename is atomic */
	out->path = path;
	out->temp_path = psprintf("%s/.%s.pgetl-%d.tmp", strcmp(dir, "/") == 0 ? "" : dir,
							  strrchr(path, '/') + 1, MyProcPid);

	/* the query as a COPY source: without trailing semicolons */
	q = pstrdup(query);
	len = strlen(q);
	while (len > 0 && (q[len - 1] == ';' || isspace((unsigned char) q[len - 1])))
		q[--len] = '\0';
	sql = psprintf("COPY (%s) TO %s WITH (FORMAT csv, HEADER %s)", q,
				   quote_literal_cstr(out->temp_path), config_header(config) ? "true" : "false");

	if (!callback_registered)
	{
		RegisterXactCallback(export_xact_callback, NULL);
		callback_registered = true;
	}
	pending_temp = MemoryContextStrdup(TopMemoryContext, out->temp_path);
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "COPY for export did not run as a utility statement");
	out->rows = SPI_processed;
}

/*
 * pgetl_export_result - the task's result: {"path": ..., "rows": n}.
 * Returns a palloc'd Jsonb.
 */
Jsonb *
pgetl_export_result(const PgetlExport *exp)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"path\": ");
	escape_json(&buf, exp->path);
	appendStringInfo(&buf, ", \"rows\": " UINT64_FORMAT "}", exp->rows);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * pgetl_export_finish - arm the rename of the complete file into place at
 * the commit of the current transaction (the one that records the task's
 * success), over any earlier file of the same name (a rerun for the same
 * logical date).  The file is fsync'ed now, so that a failure to do so
 * still fails the task; the rename itself is atomic.
 */
void
pgetl_export_finish(PgetlExport *exp)
{
	fsync_fname(exp->temp_path, false);
	if (pending_final)
		pfree(pending_final);
	pending_final = MemoryContextStrdup(TopMemoryContext, exp->path);
}

/*
 * pgetl_export_report - after the commit: when the rename into place
 * failed, say so in the server log (LOG) and record it on the task run (its
 * error, and "rename_error" and "temp_path" in its result), in a
 * transaction of its own, as the extension owner.  Nothing to do
 * otherwise.  Interrupts are held from the failed rename until the
 * failure is recorded.
 */
void
pgetl_export_report(int64 task_run_id)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	PgetlUserSwitch sw;

	if (rename_error == NULL)
		return;
	ereport(LOG,
			(errmsg("pgetl: export of task run " INT64_FORMAT " committed, but %s", task_run_id, rename_error),
			 errdetail("The rows are in \"%s\".", rename_temp)));
	values[0] = Int64GetDatum(task_run_id);
	values[1] = CStringGetTextDatum(psprintf("export committed, but %s", rename_error));
	values[2] = CStringGetTextDatum(rename_temp);
	pgetl_xact_begin();
	pgetl_become_owner(&sw);
	if (SPI_execute_with_args("UPDATE pgetl.task_run_record SET error = $2, "
							  "result = COALESCE(result, '{}') OPERATOR(pg_catalog.||) "
							  "pg_catalog.jsonb_build_object('rename_error', $2, 'temp_path', $3) "
							  "WHERE task_run_id OPERATOR(pg_catalog.=) $1",
							  3, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the failed rename of task run " INT64_FORMAT, task_run_id);
	pgetl_restore_user(&sw);
	pgetl_xact_commit();
	rename_error = NULL;
	rename_temp = NULL;
	RESUME_INTERRUPTS();
}

/*
 * pgetl_export_abort - remove the temporary file of a failed export, if
 * any.  Safe to call at any time, and more than once.
 */
void
pgetl_export_abort(void)
{
	if (pending_temp == NULL)
		return;
	if (unlink(pending_temp) != 0 && errno != ENOENT)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not remove temporary export file \"%s\": %m", pending_temp)));
	pfree(pending_temp);
	pending_temp = NULL;
}
