/*-------------------------------------------------------------------------
 *
 * load.c
 *	  pgetl_load: read a CSV source with PostgreSQL's COPY parser, check each
 *	  record against a load spec, insert the good ones into the target in
 *	  batches and keep every rejected one, with its reason, in pgetl.reject.
 *
 * The whole load is part of the caller's transaction: loaded rows, rejects
 * and the load's history row commit together or not at all.  The load runs
 * as the calling role (its INSERT privilege on the target is checked); only
 * the catalog is read and written as the extension owner.
 *
 * A large server file may be read and checked by a background process
 * while this one inserts (load_parallel.c); the batches, rejects, progress
 * and errors are the same.
 *
 * Memory stays flat: a batch's records and values live in a memory context
 * reset after each batch; only the sets of unique values (when a column has
 * the "unique" rule) and the first few reject reasons grow with the file.
 *
 *-------------------------------------------------------------------------
 */
#include "load.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/progress.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "task_worker.h"
#include "util.h"

PG_FUNCTION_INFO_V1(pgetl_load);

#define LOAD_FIRST_REASONS 5

/* State of one running load */
typedef struct Load
{
	LoadSpec   *spec;
	LoadSource *src;
	CopyFromState cstate;
	LoadTarget *target;
	char	   *source;
	int64		load_id;
	int64		run_id;
	int64		rows_read;
	int64		rows_loaded;
	int64		rows_rejected;
	int64		rows_skipped_by_trigger;	/* a BEFORE trigger returned NULL */
	int64		rows_skipped_on_conflict;	/* upsert, on_conflict nothing */
	StringInfoData reasons;		/* the first few reject reasons */
	int			nreasons;
	SPIPlanPtr	reject_plan;
	MemoryContext batch_cxt;
	LoadPipe   *pipe;			/* the parallel reader, or NULL */
} Load;

/*
 * load_error_context - "pgetl load "x", line N of "source"" for errors
 * raised while reading, e.g. COPY's unterminated quote or invalid encoding.
 */
static void
load_error_context(void *arg)
{
	Load	   *load = (Load *) arg;

	if (load->src)
		errcontext("pgetl load \"%s\", line " INT64_FORMAT " of \"%s\"",
				   load->spec->name,
				   load->pipe ? load_parallel_current_line(load->pipe) :
				   load_source_current_line(load->src), load->source);
}

/*
 * check_privileges - the caller must be able to INSERT into every loaded
 * column of the target (and UPDATE them for upsert); checked up front so
 * that a missing privilege fails the load instead of rejecting every row.
 */
static void
check_privileges(LoadSpec *spec)
{
	AclMode		mode = ACL_INSERT;
	Oid			user = GetUserId();

	if (spec->mode == LOAD_UPSERT && spec->on_conflict_update)
		mode |= ACL_UPDATE;
	if (spec->mode == LOAD_REPLACE && pg_class_aclcheck(spec->target, user, ACL_TRUNCATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", spec->target_name),
				 errdetail("Load \"%s\" has mode replace, which truncates the target as the calling role.",
						   spec->name),
				 errhint("GRANT TRUNCATE ON %s TO the role that runs the load.", spec->target_name)));
	if (pg_class_aclcheck(spec->target, user, mode) == ACLCHECK_OK)
		return;
	for (int i = 0; i < spec->nout; i++)
	{
		LoadColumn *c = spec->outcols[i];

		if (pg_attribute_aclcheck(spec->target, c->attnum, user, mode) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for table %s", spec->target_name),
					 errdetail("Load \"%s\" inserts into column \"%s\"%s as the calling role.",
							   spec->name, c->target,
							   (mode & ACL_UPDATE) ? " and updates it" : ""),
					 errhint("GRANT INSERT%s ON %s TO the role that runs the load.",
							 (mode & ACL_UPDATE) ? ", UPDATE" : "", spec->target_name)));
	}
}

/*
 * owner_exec - a statement on pgetl's catalog as the extension owner.
 */
static void
owner_exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
		   int expected)
{
	PgetlUserSwitch sw;
	int			ret;

	pgetl_become_owner(&sw);
	ret = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	pgetl_restore_user(&sw);
	if (ret != expected)
		elog(ERROR, "pgetl catalog statement failed: %s", SPI_result_code_string(ret));
}

/* start the load's history row; its id is the load_id */
static void
begin_history(Load *load)
{
	Oid			types[6] = {INT8OID, TEXTOID, OIDOID, OIDOID, INT8OID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;

	values[0] = Int64GetDatum(load->spec->spec_id);
	values[1] = CStringGetTextDatum(load->spec->name);
	values[2] = ObjectIdGetDatum(load->spec->owner);
	values[3] = ObjectIdGetDatum(GetUserId());
	values[4] = Int64GetDatum(load->run_id);
	if (load->run_id == 0)
		nulls[4] = 'n';
	values[5] = CStringGetTextDatum(load->source);
	owner_exec("INSERT INTO pgetl.load_record (spec_id, load_name, owner, loaded_by, run_id, source) "
			   "VALUES ($1, $2, $3, $4, $5, $6) RETURNING load_id",
			   6, types, values, nulls, SPI_OK_INSERT_RETURNING);
	load->load_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												1, &isnull));
}

/*
 * has_skip_counts - whether pgetl.load_record has the columns of the
 * skipped counts (added in 0.2): the library of a newer version also runs
 * in a database whose extension is not updated yet.
 */
static bool
has_skip_counts(void)
{
	Oid			nsp = get_namespace_oid("pgetl", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid("load_record", nsp) : InvalidOid;

	return OidIsValid(rel) &&
		get_attnum(rel, "rows_skipped_by_trigger") != InvalidAttrNumber &&
		get_attnum(rel, "rows_skipped_on_conflict") != InvalidAttrNumber;
}

/* finish the load's history row */
static void
end_history(Load *load)
{
	Oid			types[6] = {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID};
	Datum		values[6];

	values[0] = Int64GetDatum(load->load_id);
	values[1] = Int64GetDatum(load->rows_read);
	values[2] = Int64GetDatum(load->rows_loaded);
	values[3] = Int64GetDatum(load->rows_rejected);
	values[4] = Int64GetDatum(load->rows_skipped_by_trigger);
	values[5] = Int64GetDatum(load->rows_skipped_on_conflict);
	if (has_skip_counts())
		owner_exec("UPDATE pgetl.load_record SET finished_at = pg_catalog.clock_timestamp(), "
				   "duration = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started_at, "
				   "rows_read = $2, rows_loaded = $3, rows_rejected = $4, "
				   "rows_skipped_by_trigger = $5, rows_skipped_on_conflict = $6 "
				   "WHERE load_id OPERATOR(pg_catalog.=) $1",
				   6, types, values, NULL, SPI_OK_UPDATE);
	else
		owner_exec("UPDATE pgetl.load_record SET finished_at = pg_catalog.clock_timestamp(), "
				   "duration = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started_at, "
				   "rows_read = $2, rows_loaded = $3, rows_rejected = $4 "
				   "WHERE load_id OPERATOR(pg_catalog.=) $1",
				   4, types, values, NULL, SPI_OK_UPDATE);
}

/*
 * write_reject - store each failure of a rejected row in
 * pgetl.reject_record (as the extension owner), and keep the first few
 * reasons for the error message of a load that rejects too much.
 */
static void
write_reject(Load *load, LoadRow *row)
{
	Oid			types[12] = {INT8OID, INT8OID, TEXTOID, OIDOID, TEXTOID, INT8OID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[12];
	char		nulls[12];
	PgetlUserSwitch sw;

	memset(nulls, ' ', sizeof(nulls));
	if (load->reject_plan == NULL)
	{
		pgetl_become_owner(&sw);
		load->reject_plan = SPI_prepare("INSERT INTO pgetl.reject_record (load_id, run_id, load_name, "
										"owner, source, line_number, record, column_name, rule, value, "
										"message, sqlstate) "
										"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
										12, types);
		pgetl_restore_user(&sw);
		if (load->reject_plan == NULL)
			elog(ERROR, "could not prepare the insertion of rejects");
	}
	values[0] = Int64GetDatum(load->load_id);
	values[1] = Int64GetDatum(load->run_id);
	nulls[1] = load->run_id ? ' ' : 'n';
	values[2] = CStringGetTextDatum(load->spec->name);
	values[3] = ObjectIdGetDatum(load->spec->owner);
	values[4] = CStringGetTextDatum(load->source);
	values[5] = Int64GetDatum(row->line);
	values[6] = CStringGetTextDatum(row->record);
	for (int i = 0; i < row->nfailures; i++)
	{
		LoadFailure *f = &row->failures[i];

		values[7] = f->column ? CStringGetTextDatum(f->column) : (Datum) 0;
		nulls[7] = f->column ? ' ' : 'n';
		values[8] = CStringGetTextDatum(f->rule);
		values[9] = f->value ? CStringGetTextDatum(f->value) : (Datum) 0;
		nulls[9] = f->value ? ' ' : 'n';
		values[10] = CStringGetTextDatum(f->message);
		values[11] = f->sqlerrcode ? CStringGetTextDatum(unpack_sql_state(f->sqlerrcode)) : (Datum) 0;
		nulls[11] = f->sqlerrcode ? ' ' : 'n';
		pgetl_become_owner(&sw);
		if (SPI_execute_plan(load->reject_plan, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not store a reject");
		pgetl_restore_user(&sw);

		if (load->nreasons < LOAD_FIRST_REASONS)
		{
			MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(load->reasons.data));

			appendStringInfo(&load->reasons, "%sline " INT64_FORMAT ": %s%s%s%s",
							 load->nreasons ? "; " : "", row->line,
							 f->column ? "column \"" : "", f->column ? f->column : "",
							 f->column ? "\": " : "", f->message);
			MemoryContextSwitchTo(old);
		}
		load->nreasons++;
	}
	load->rows_rejected++;
}

/* fail the load when it rejected too much */
static void
check_limits(Load *load, bool at_end)
{
	LoadSpec   *spec = load->spec;
	bool		too_many = spec->max_rejects >= 0 && load->rows_rejected > spec->max_rejects;
	bool		too_high = at_end && spec->max_reject_ratio >= 0 && load->rows_read > 0 &&
		(double) load->rows_rejected / load->rows_read > spec->max_reject_ratio;

	if (too_many)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("load \"%s\" rejected more than max_rejects (" INT64_FORMAT ") records",
						spec->name, spec->max_rejects),
				 errdetail("First rejects: %s.", load->reasons.data),
				 errhint("Nothing was loaded. Fix the source, or raise max_rejects with pgetl_define_load().")));
	if (too_high)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("load \"%s\" rejected " INT64_FORMAT " of " INT64_FORMAT " records, more than max_reject_ratio %g",
						spec->name, load->rows_rejected, load->rows_read, spec->max_reject_ratio),
				 errdetail("First rejects: %s.", load->reasons.data),
				 errhint("Nothing was loaded. Fix the source, or raise max_reject_ratio with pgetl_define_load().")));
}

/* a stretch of rows to check optimistically, for load_try */
typedef struct CheckCall
{
	LoadSpec   *spec;
	LoadRow   **rows;
	int			at;				/* the row being checked */
	int			hi;
} CheckCall;

static void
check_call(void *arg)
{
	CheckCall  *cc = (CheckCall *) arg;

	for (; cc->at < cc->hi; cc->at++)
		load_rules_check_row(cc->spec, cc->rows[cc->at], false);
}

/*
 * check_range - check the rules on rows[lo..hi) optimistically in one
 * subtransaction.  When a row raises an error, the rows before it have
 * been checked completely (their results and remembered unique values
 * stand: checking is free of side effects the rollback would undo), so
 * that row alone is checked again carefully (every risky call guarded),
 * and the optimistic check resumes after it.  A few bad values cost a few
 * subtransactions, not one per row, and no row is checked twice but the
 * ones that raised an error.
 */
static void
check_range(LoadSpec *spec, LoadRow **rows, int lo, int hi)
{
	while (lo < hi)
	{
		CheckCall	cc = {spec, rows, lo, hi};
		ErrorData  *edata = load_try(check_call, NULL, &cc, LOAD_ERRORS_RECHECK);

		if (edata == NULL)
			return;
		FreeErrorData(edata);
		load_rules_forget_row(spec, rows[cc.at]);
		load_rules_check_row(spec, rows[cc.at], true);
		lo = cc.at + 1;
		CHECK_FOR_INTERRUPTS();
	}
}

/* check the rules on a batch */
static void
check_batch(Load *load, LoadRow **rows, int n)
{
	check_range(load->spec, rows, 0, n);
}

/*
 * load_check_rows - check the rules on rows[0..n), as the serial path does
 * (how the parallel reader checks its batches; see load_parallel.c).
 */
void
load_check_rows(LoadSpec *spec, LoadRow **rows, int n)
{
	check_range(spec, rows, 0, n);
}

/*
 * process_batch - check (unless the parallel reader has checked them
 * already), insert and account for a batch of rows.
 *
 * Every row read is loaded, rejected or skipped: a row that passed the
 * rules and that the target neither stored nor refused was dropped by a
 * BEFORE trigger returning NULL, or, in upsert mode with on_conflict
 * nothing, by its conflict (an INSERT ... ON CONFLICT DO NOTHING does not
 * tell these two apart; in that mode both count as skipped on conflict).
 */
static void
process_batch(Load *load, LoadRow **rows, int n, bool checked)
{
	LoadRow   **good = palloc(sizeof(LoadRow *) * n);
	int			ngood = 0;
	int64		stored;
	int64		refused = 0;
	int64		skipped;

	if (!checked)
		check_batch(load, rows, n);
	for (int i = 0; i < n; i++)
		if (!rows[i]->rejected)
			good[ngood++] = rows[i];
	stored = load_target_insert(load->target, good, ngood);
	for (int i = 0; i < ngood; i++)
		if (good[i]->rejected)
			refused++;
	skipped = Max(ngood - refused - stored, 0);
	load->rows_loaded += stored;
	if (load_target_skips_conflicts(load->target))
		load->rows_skipped_on_conflict += skipped;
	else
		load->rows_skipped_by_trigger += skipped;
	for (int i = 0; i < n; i++)
		if (rows[i]->rejected)
			write_reject(load, rows[i]);
	load->rows_read += n;
	load_source_report_progress(load->src, load->cstate, RelationGetRelid(load->spec->rel),
								load->rows_read, load->rows_rejected);
	check_limits(load, false);
}

/*
 * make_row - a new row for a record, in the batch's memory (freed when the
 * batch's context is reset): the row, its field pointers, values, nulls
 * and a copy of its fields, in one allocation.  The fields given point
 * into COPY's buffers, valid until the next record is read.  Linear in the
 * record's size and interruptible: a record can have any number of fields
 * (it is then rejected by its field count).
 */
static LoadRow *
make_row(LoadSpec *spec, char **fields, int nfields, int64 line, char *record)
{
	Size		head = MAXALIGN(sizeof(LoadRow));
	Size		valsz = MAXALIGN(sizeof(Datum) * spec->nout);
	Size		ptrsz = MAXALIGN(sizeof(char *) * (nfields + 1));
	Size		nullsz = MAXALIGN(sizeof(bool) * spec->nout);
	Size		textsz = 0;
	Size		lens[64];
	char	   *mem;
	char	   *text;
	LoadRow    *row;

	for (int i = 0; i < nfields; i++)
	{
		Size		len = fields[i] ? strlen(fields[i]) + 1 : 0;

		if (i < lengthof(lens))
			lens[i] = len;
		textsz += len;
		if ((i & 4095) == 4095)
			CHECK_FOR_INTERRUPTS();	/* a record may have millions of fields */
	}
	mem = palloc(head + valsz + ptrsz + nullsz + textsz);
	row = (LoadRow *) mem;
	memset(row, 0, sizeof(LoadRow));
	row->line = line;
	row->record = record;
	row->nfields = nfields;
	row->values = (Datum *) (mem + head);
	row->fields = (char **) (mem + head + valsz);
	row->nulls = (bool *) (mem + head + valsz + ptrsz);
	memset(row->values, 0, sizeof(Datum) * spec->nout);
	memset(row->nulls, 0, sizeof(bool) * spec->nout);
	text = mem + head + valsz + ptrsz + nullsz;
	for (int i = 0; i < nfields; i++)
	{
		Size		len;

		if (fields[i] == NULL)
		{
			row->fields[i] = NULL;
			continue;
		}
		len = i < lengthof(lens) ? lens[i] : strlen(fields[i]) + 1;
		memcpy(text, fields[i], len);
		row->fields[i] = text;
		text += len;
	}
	return row;
}

/*
 * load_read_header - read the header record and match its names to the
 * spec's columns (or bind the columns by position, without a header), and
 * say whether blank lines are records.
 */
void
load_read_header(LoadSpec *spec, LoadSource *src, CopyFromState cstate, const char *source)
{
	char	  **fields;
	int			nfields;
	int64		line;
	char	   *record;
	bool		unterminated;

	if (spec->header)
	{
		if (!load_source_next(src, cstate, &fields, &nfields, &line, &record, &unterminated))
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("source \"%s\" is empty, but load \"%s\" expects a header",
							source, spec->name),
					 errhint("Check the file; for a file without a header, define the load with \"header\": false.")));
		load_spec_bind_header(spec, fields, nfields);
	}
	else
		load_spec_bind_positions(spec);
	/* records of one field: a blank line is a record of one empty field */
	load_source_keep_blank_lines(src, spec->nfields_expected == 1);
}

/*
 * load_read_batch - read the next batch of records into rows[] (room for
 * LOAD_BATCH_ROWS), made in the current memory context: at most
 * LOAD_BATCH_ROWS records or LOAD_BATCH_BYTES of record text.  *more is
 * false once the source is exhausted.  Returns the number of rows read.
 */
int
load_read_batch(LoadSpec *spec, LoadSource *src, CopyFromState cstate, LoadRow **rows,
				bool *more)
{
	int			n = 0;
	Size		bytes = 0;
	char	  **fields;
	int			nfields;
	int64		line;
	char	   *record;
	bool		unterminated;

	*more = true;
	while (n < LOAD_BATCH_ROWS && bytes < LOAD_BATCH_BYTES)
	{
		if (!load_source_next(src, cstate, &fields, &nfields, &line, &record, &unterminated))
		{
			*more = false;
			break;
		}
		rows[n] = make_row(spec, fields, nfields, line, record);
		rows[n]->unterminated = unterminated;
		bytes += strlen(record);
		n++;
	}
	return n;
}

/*
 * run_load - the body of pgetl_load, with an SPI connection open.
 */
static void
run_load(Load *load, bool purge)
{
	LoadSpec   *spec = load->spec;
	LoadRow   **rows = NULL;
	ErrorContextCallback errcb;
	MemoryContext load_cxt = CurrentMemoryContext;

	check_privileges(spec);

	/*
	 * The target is the relation of the spec's OID, for every statement:
	 * lock it by OID first, then name it by its name now (see
	 * load_spec_lock_target), so that TRUNCATE, the privileges checked above
	 * and the inserts all reach the same table, even after a rename.
	 */
	load_spec_lock_target(spec, spec->mode == LOAD_REPLACE ? AccessExclusiveLock : RowExclusiveLock);
	if (spec->mode == LOAD_REPLACE)
	{
#if PG_VERSION_NUM >= 160000
		RangeVar   *rv = makeRangeVarFromNameList(stringToQualifiedNameList(spec->target_name, NULL));
#else
		RangeVar   *rv = makeRangeVarFromNameList(stringToQualifiedNameList(spec->target_name));
#endif

		if (RangeVarGetRelid(rv, NoLock, false) != spec->target)
			elog(ERROR, "%s is no longer the target of load \"%s\"", spec->target_name, spec->name);
		/* as the caller: TRUNCATE checks its own privilege */
		if (SPI_execute(psprintf("TRUNCATE %s", spec->target_name), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not truncate %s", spec->target_name);
	}
	load_spec_open_target(spec, RowExclusiveLock);
	load->src = NULL;
	errcb.callback = load_error_context;
	errcb.arg = load;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	{
		LoadSource *src = load_source_open(load->source, spec->name);

		begin_history(load);
		load->target = load_target_begin(spec);
		load_rules_begin(spec);
		load->cstate = load_source_begin_copy(src, spec);
		load->src = src;
	}

	load->batch_cxt = AllocSetContextCreate(load_cxt, "pgetl load batch", ALLOCSET_DEFAULT_SIZES);
	load_read_header(spec, load->src, load->cstate, load->source);

	/*
	 * A large file is read and checked by a background process while this
	 * one inserts (load_parallel.c); NULL when the serial path is used.
	 */
	load->pipe = load_parallel_start(spec, load->src, load->source, &errcb);

	rows = palloc(sizeof(LoadRow *) * LOAD_BATCH_ROWS);
	for (;;)
	{
		int			n;
		bool		more = true;
		MemoryContext old;

		MemoryContextReset(load->batch_cxt);
		old = MemoryContextSwitchTo(load->batch_cxt);
		if (load->pipe)
		{
			n = load_parallel_next_batch(load->pipe, rows, LOAD_BATCH_ROWS, load->cstate);
			more = n > 0;
		}
		else
			n = load_read_batch(spec, load->src, load->cstate, rows, &more);
		if (n > 0)
			process_batch(load, rows, n, load->pipe != NULL);
		MemoryContextSwitchTo(old);
		CHECK_FOR_INTERRUPTS();
		if (!more)
			break;
	}
	MemoryContextReset(load->batch_cxt);
	check_limits(load, true);
	error_context_stack = errcb.previous;
	if (load->pipe)
		load_parallel_end(load->pipe);

	load_source_end(load->src, load->cstate);
	load_target_end(load->target);
	load_spec_close_target(spec);
	end_history(load);
	if (purge && load_source_is_staged(load->src))
	{
		Oid			types[2] = {OIDOID, TEXTOID};
		Datum		values[2];
		bool		isnull;

		values[0] = ObjectIdGetDatum(GetUserId());
		values[1] = CStringGetTextDatum(load->source);
		pgetl_call_internal_args("_drop_stage", 2, types, values, (bool[2]) {false, false},
								 VOIDOID, &isnull);
	}
}

/*
 * pgetl_load(load text, source text, purge boolean) - load a source with a
 * spec; returns one row: load_id, rows_read, rows_loaded, rows_rejected,
 * duration, rows_skipped_by_trigger, rows_skipped_on_conflict (rows_read is
 * the sum of the loaded, rejected and skipped rows).
 */
Datum
pgetl_load(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz start = GetCurrentTimestamp();
	Load		load;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};
	MemoryContext cxt;
	MemoryContext old;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("load and source must not be null")));
	InitMaterializedSRF(fcinfo, 0);

	cxt = AllocSetContextCreate(CurrentMemoryContext, "pgetl load", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	memset(&load, 0, sizeof(load));
	load.source = text_to_cstring(PG_GETARG_TEXT_PP(1));
	load.run_id = pgetl_current_run_id();
	initStringInfo(&load.reasons);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		load.spec = load_spec_fetch(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
		run_load(&load, PG_GETARG_BOOL(2));
	}
	PG_CATCH();
	{
		load_source_reset();
		PG_RE_THROW();
	}
	PG_END_TRY();
	SPI_finish();

	values[0] = Int64GetDatum(load.load_id);
	values[1] = Int64GetDatum(load.rows_read);
	values[2] = Int64GetDatum(load.rows_loaded);
	values[3] = Int64GetDatum(load.rows_rejected);
	{
		Interval   *iv = DatumGetIntervalP(DirectFunctionCall2(timestamp_mi,
															   TimestampTzGetDatum(GetCurrentTimestamp()),
															   TimestampTzGetDatum(start)));

		MemoryContextSwitchTo(old);
		values[4] = IntervalPGetDatum(iv);
		/* declared by 0.2; a database still on 0.1 takes the first five */
		values[5] = Int64GetDatum(load.rows_skipped_by_trigger);
		values[6] = Int64GetDatum(load.rows_skipped_on_conflict);
		if (rsinfo->setDesc->natts > lengthof(values))
			elog(ERROR, "pgetl_load is declared with %d result columns, this library returns %d",
				 rsinfo->setDesc->natts, (int) lengthof(values));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextDelete(cxt);
	return (Datum) 0;
}
