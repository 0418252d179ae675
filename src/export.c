/*-------------------------------------------------------------------------
 *
 * export.c
 *	  The export task kind: COPY (query) TO a server file as CSV.
 *
 * An export task's command is a query; config.path is the file to write,
 * with {logical_date}, {run_id} and {pipeline} placeholders.  The rows are
 * written by PostgreSQL's own COPY (so COPY's CSV quoting, encoding and
 * privilege check apply: the pipeline owner needs pg_write_server_files)
 * into a hidden temporary file beside the target, and renamed over the
 * target only when the task succeeds.  A failed or cancelled task, or a
 * crash, never leaves a half-written file under the final name; the
 * temporary file is removed when the task fails.
 *
 *-------------------------------------------------------------------------
 */
#include "export.h"

#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_authid.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/memutils.h"

/* The temporary file of the export in progress (TopMemoryContext), if any */
static char *pending_temp = NULL;

/*
 * pgetl_export_path - expand the placeholders of an export path.
 *
 * {logical_date} becomes YYYY-MM-DD, {run_id} the run's id and {pipeline}
 * the pipeline's name.  Any other {word} is an error, so that a typo does
 * not silently become part of a file name.  Returns a palloc'd string.
 */
char *
pgetl_export_path(const char *pattern, const PgetlExportRun *run)
{
	StringInfoData buf;
	const char *p = pattern;

	initStringInfo(&buf);
	while (*p)
	{
		const char *close;

		if (*p == '{' && (close = strchr(p + 1, '}')) != NULL &&
			close - p - 1 > 0 && strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_") == close - p - 1)
		{
			char	   *name = pnstrdup(p + 1, close - p - 1);

			if (strcmp(name, "logical_date") == 0)
				appendStringInfoString(&buf,
									   DatumGetCString(DirectFunctionCall1(date_out,
																		   DateADTGetDatum(run->logical_date))));
			else if (strcmp(name, "run_id") == 0)
				appendStringInfo(&buf, INT64_FORMAT, run->run_id);
			else if (strcmp(name, "pipeline") == 0)
				appendStringInfoString(&buf, run->pipeline);
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown placeholder {%s} in export path \"%s\"", name, pattern),
						 errhint("Export paths may use {logical_date}, {run_id} and {pipeline}.")));
			p = close + 1;
			continue;
		}
		appendStringInfoChar(&buf, *p++);
	}
	return buf.data;
}

/* config.header as a boolean: true when absent */
static bool
config_header(Jsonb *config)
{
	JsonbValue	v;

	if (config && getKeyJsonValueFromContainer(&config->root, "header", 6, &v))
	{
		if (v.type != jbvBool)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("export config \"header\" must be true or false")));
		return v.val.boolean;
	}
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

	if (config == NULL || !getKeyJsonValueFromContainer(&config->root, "path", 4, &v) ||
		v.type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("export task needs config with a string \"path\"")));
	path = pgetl_export_path(pnstrdup(v.val.string.val, v.val.string.len), run);
	if (!is_absolute_path(path))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("export path \"%s\" is not absolute", path),
				 errhint("Give the full path of a file on the database server, starting with /.")));

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
 * pgetl_export_finish - move the complete file into place, durably: the
 * file and its directory are fsync'ed around an atomic rename that replaces
 * any earlier file of the same name (a rerun for the same logical date).
 */
void
pgetl_export_finish(PgetlExport *exp)
{
	durable_rename(exp->temp_path, exp->path, ERROR);
	if (pending_temp)
		pfree(pending_temp);
	pending_temp = NULL;
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
