/*-------------------------------------------------------------------------
 *
 * load.c
 *	  pgetl_load: read a CSV source with PostgreSQL's COPY parser, check each
 *	  record against a load spec, insert the good ones into the target in
 *	  batches and keep every rejected one, with its reason, in pgetl.reject.
 *
 * The whole load is part of the caller's transaction: loaded rows, rejects
 * and the load's history row commit together or not at all -- unless the
 * spec has commit_every: then a background worker (load_commit.c) runs the
 * load in stretches of that many records, each in a transaction of its own
 * that commits the stretch's rows, its rejects and the history row with a
 * checkpoint (byte offset and line where the next stretch starts); an
 * interrupted load resumes from there.  Each stretch opens the source
 * again and seeks to the checkpoint (load_run_stretch).  The load runs
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
#include "load_run.h"

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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "task_worker.h"
#include "util.h"

PG_FUNCTION_INFO_V1(pgetl_load);

/*
 * Into a Citus table each batch is a distributed statement (a COPY into
 * every shard, ~30 ms whatever its size): batches 20 times larger.
 */
#define LOAD_CITUS_BATCH_FACTOR 20
#define LOAD_FIRST_REASONS 5

/* (struct Load: load_run.h) */

/*
 * load_error_context - "pgetl load "x", line N of "source"" for errors
 * raised while reading, e.g. COPY's unterminated quote or invalid encoding;
 * "lines A to B" while a batch is checked and inserted (the reader is then
 * past the batch's last line, on a target that may be another server's, as
 * a Citus table's shards); "after the last line" once all is read.
 */
static void
load_error_context(void *arg)
{
	Load	   *load = (Load *) arg;

	if (load->src == NULL)
		return;
	if (load->batch_first > 0 && load->batch_first < load->batch_last)
		errcontext("pgetl load \"%s\", batch of lines " INT64_FORMAT " to " INT64_FORMAT " of \"%s\"",
				   load->spec->name, load->batch_first, load->batch_last, load->source);
	else if (load->batch_first > 0)
		errcontext("pgetl load \"%s\", line " INT64_FORMAT " of \"%s\"",
				   load->spec->name, load->batch_first, load->source);
	else if (load->read_all)
		errcontext("pgetl load \"%s\", after the last line of \"%s\"",
				   load->spec->name, load->source);
	else
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
void
load_owner_exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
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
	load_owner_exec("INSERT INTO pgetl.load_record (spec_id, load_name, owner, loaded_by, run_id, source) "
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
	Oid			types[7] = {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID};
	Datum		values[7];

	values[0] = Int64GetDatum(load->load_id);
	values[1] = Int64GetDatum(load->rows_read);
	values[2] = Int64GetDatum(load->rows_loaded);
	values[3] = Int64GetDatum(load->rows_rejected);
	values[4] = Int64GetDatum(load->rows_skipped_by_trigger);
	values[5] = Int64GetDatum(load->rows_skipped_on_conflict);
	values[6] = Int64GetDatum(load->rows_warned);
	if (load_catalog_has_column("load_record", "rows_warned"))
		load_owner_exec("UPDATE pgetl.load_record SET finished_at = pg_catalog.clock_timestamp(), "
						"duration = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started_at, "
						"rows_read = $2, rows_loaded = $3, rows_rejected = $4, "
						"rows_skipped_by_trigger = $5, rows_skipped_on_conflict = $6, rows_warned = $7 "
						"WHERE load_id OPERATOR(pg_catalog.=) $1",
						7, types, values, NULL, SPI_OK_UPDATE);
	else if (has_skip_counts())
		load_owner_exec("UPDATE pgetl.load_record SET finished_at = pg_catalog.clock_timestamp(), "
						"duration = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started_at, "
						"rows_read = $2, rows_loaded = $3, rows_rejected = $4, "
						"rows_skipped_by_trigger = $5, rows_skipped_on_conflict = $6 "
						"WHERE load_id OPERATOR(pg_catalog.=) $1",
						6, types, values, NULL, SPI_OK_UPDATE);
	else
		load_owner_exec("UPDATE pgetl.load_record SET finished_at = pg_catalog.clock_timestamp(), "
						"duration = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started_at, "
						"rows_read = $2, rows_loaded = $3, rows_rejected = $4 "
						"WHERE load_id OPERATOR(pg_catalog.=) $1",
						4, types, values, NULL, SPI_OK_UPDATE);
}

/*
 * The failures of rejected rows, written by one statement (flush_rejects)
 * for many batches: with 1% bad rows (perf, 1M rows, 9,841 rejects), one
 * INSERT per failure took 13% of the loading backend's samples, one per
 * batch (of 1,000 rows, about 10 rejects) 9 to 12%, most of it the
 * statement's own cost (executor start and end, the foreign key check's
 * set-up, the switch to the extension owner).  So failures are kept in
 * load->reject_cxt until REJECT_FLUSH_ROWS of them or REJECT_FLUSH_BYTES of
 * their records and messages are kept, or the stretch ends (before its
 * checkpoint, the whole-load expectations and the history row): the rows
 * stored, their order (reject_id) and the transaction that stores them are
 * the same.  Eight arrays, one element per failure, in the order the rows
 * and their failures come.
 */
#define REJECT_ARRAYS 8
#define REJECT_FLUSH_ROWS 10000
#define REJECT_FLUSH_BYTES (8 * 1024 * 1024)
typedef struct RejectBatch
{
	int			n;
	int			max;
	Size		bytes;			/* of the records and messages kept */
	Datum	   *elems[REJECT_ARRAYS];	/* line, record, column, rule, value,
										 * message, sqlstate, severity */
	bool	   *isnull[REJECT_ARRAYS];
} RejectBatch;

/*
 * write_reject - add each failure of a rejected row, or each warning of a
 * row that was not rejected, to the batch's rejects (rb, in the batch's
 * memory), and keep the first few reasons for the error message of a load
 * that rejects too much.
 */
static void
write_reject(Load *load, LoadRow *row, RejectBatch *rb)
{
	MemoryContext old = MemoryContextSwitchTo(load->reject_cxt);

	for (int i = 0; i < row->nfailures; i++)
	{
		LoadFailure *f = &row->failures[i];
		int			k = rb->n;

		if (rb->n == rb->max)
		{
			rb->max = Max(16, rb->max * 2);
			for (int a = 0; a < REJECT_ARRAYS; a++)
			{
				rb->elems[a] = rb->elems[a] ? repalloc(rb->elems[a], sizeof(Datum) * rb->max) :
					palloc(sizeof(Datum) * rb->max);
				rb->isnull[a] = rb->isnull[a] ? repalloc(rb->isnull[a], sizeof(bool) * rb->max) :
					palloc(sizeof(bool) * rb->max);
			}
		}
		for (int a = 0; a < REJECT_ARRAYS; a++)
			rb->isnull[a][k] = false;
		rb->elems[0][k] = Int64GetDatum(row->line);
		rb->elems[1][k] = CStringGetTextDatum(row->record);
		rb->elems[2][k] = f->column ? CStringGetTextDatum(f->column) : (Datum) 0;
		rb->isnull[2][k] = f->column == NULL;
		rb->elems[3][k] = CStringGetTextDatum(f->rule);
		rb->elems[4][k] = f->value ? CStringGetTextDatum(f->value) : (Datum) 0;
		rb->isnull[4][k] = f->value == NULL;
		rb->elems[5][k] = CStringGetTextDatum(f->message);
		rb->elems[6][k] = f->sqlerrcode ? CStringGetTextDatum(unpack_sql_state(f->sqlerrcode)) : (Datum) 0;
		rb->isnull[6][k] = f->sqlerrcode == 0;
		rb->elems[7][k] = CStringGetTextDatum(f->warn ? "warn" : "error");
		rb->bytes += VARSIZE(DatumGetPointer(rb->elems[1][k])) +
			VARSIZE(DatumGetPointer(rb->elems[5][k])) + (f->value ? strlen(f->value) : 0);
		rb->n++;

		if (f->warn)
			continue;
		if (load->nreasons < LOAD_FIRST_REASONS)
		{
			MemoryContextSwitchTo(GetMemoryChunkContext(load->reasons.data));
			appendStringInfo(&load->reasons, "%sline " INT64_FORMAT ": %s%s%s%s",
							 load->nreasons ? "; " : "", row->line,
							 f->column ? "column \"" : "", f->column ? f->column : "",
							 f->column ? "\": " : "", f->message);
			MemoryContextSwitchTo(load->reject_cxt);
		}
		load->nreasons++;
	}
	MemoryContextSwitchTo(old);
	if (row->rejected)
		load->rows_rejected++;
	else
		load->rows_warned++;
}

/*
 * flush_rejects - store the failures kept in pgetl.reject_record, in their
 * order (identity values included), by one INSERT ... SELECT from unnest
 * of the arrays (unqualified: only the FROM clause's own unnest(a, b, ...)
 * takes several arrays; the owner's search_path is pinned to pg_catalog,
 * pg_temp), as the extension owner (pgetl_become_owner, once per flush:
 * per failure, finding the owner (a scan of pg_extension) and pinning the
 * search_path cost 5% of the backend's time with 1% bad rows); then free
 * them.
 */
static void
flush_rejects(Load *load)
{
	RejectBatch *rb = load->rejects;
	PgetlUserSwitch sw;

	Oid			types[13] = {INT8OID, INT8OID, TEXTOID, OIDOID, TEXTOID, INT8ARRAYOID,
		TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID};
	Datum		values[13];
	char		nulls[13];
	int			narrays = load->has_severity ? REJECT_ARRAYS : REJECT_ARRAYS - 1;
	int			ret;
	MemoryContext old;

	if (rb == NULL || rb->n == 0)
		return;
	pgetl_become_owner(&sw);
	old = MemoryContextSwitchTo(load->reject_cxt);
	memset(nulls, ' ', sizeof(nulls));
	if (load->reject_plan == NULL)
	{
		/* a catalog of 0.1 has no severity, and no warnings either */
		load->reject_plan = SPI_prepare(load->has_severity ?
										"INSERT INTO pgetl.reject_record (load_id, run_id, load_name, "
										"owner, source, line_number, record, column_name, rule, value, "
										"message, sqlstate, severity) "
										"SELECT $1, $2, $3, $4, $5, u.l, u.rec, u.col, u.rule, u.val, "
										"u.msg, u.st, u.sev "
										"FROM unnest($6, $7, $8, $9, $10, $11, $12, $13) "
										"WITH ORDINALITY AS u(l, rec, col, rule, val, msg, st, sev, n) "
										"ORDER BY u.n" :
										"INSERT INTO pgetl.reject_record (load_id, run_id, load_name, "
										"owner, source, line_number, record, column_name, rule, value, "
										"message, sqlstate) "
										"SELECT $1, $2, $3, $4, $5, u.l, u.rec, u.col, u.rule, u.val, "
										"u.msg, u.st "
										"FROM unnest($6, $7, $8, $9, $10, $11, $12) "
										"WITH ORDINALITY AS u(l, rec, col, rule, val, msg, st, n) "
										"ORDER BY u.n",
										5 + narrays, types);
		if (load->reject_plan == NULL)
			elog(ERROR, "could not prepare the insertion of rejects");
	}
	values[0] = Int64GetDatum(load->load_id);
	values[1] = Int64GetDatum(load->run_id);
	nulls[1] = load->run_id ? ' ' : 'n';
	values[2] = CStringGetTextDatum(load->spec->name);
	values[3] = ObjectIdGetDatum(load->spec->owner);
	values[4] = CStringGetTextDatum(load->source);
	for (int a = 0; a < narrays; a++)
	{
		int			dims[1] = {rb->n};
		int			lbs[1] = {1};

		values[5 + a] = PointerGetDatum(a == 0 ?
										construct_md_array(rb->elems[a], rb->isnull[a], 1, dims, lbs,
														   INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE) :
										construct_md_array(rb->elems[a], rb->isnull[a], 1, dims, lbs,
														   TEXTOID, -1, false, TYPALIGN_INT));
	}
	ret = SPI_execute_plan(load->reject_plan, values, nulls, false, 0);
	if (ret != SPI_OK_INSERT || SPI_processed != (uint64) rb->n)
		elog(ERROR, "could not store a reject");
	MemoryContextSwitchTo(old);
	pgetl_restore_user(&sw);
	MemoryContextReset(load->reject_cxt);
	load->rejects = NULL;
}

/* keep a row's failures or warnings, and store them when enough are kept */
static void
keep_rejects(Load *load, LoadRow *row)
{
	if (load->rejects == NULL)
		load->rejects = MemoryContextAllocZero(load->reject_cxt, sizeof(RejectBatch));
	write_reject(load, row, load->rejects);
	if (load->rejects->n >= REJECT_FLUSH_ROWS || load->rejects->bytes >= REJECT_FLUSH_BYTES)
		flush_rejects(load);
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
				 load->committed ?
				 errhint("The stretches of the load committed before this one stay loaded (resume => true continues it). Fix the source, or raise max_rejects with pgetl_define_load().") :
				 errhint("Nothing was loaded. Fix the source, or raise max_rejects with pgetl_define_load().")));
	if (too_high)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("load \"%s\" rejected " INT64_FORMAT " of " INT64_FORMAT " records, more than max_reject_ratio %g",
						spec->name, load->rows_rejected, load->rows_read, spec->max_reject_ratio),
				 errdetail("First rejects: %s.", load->reasons.data),
				 load->committed ?
				 errhint("The stretches of the load committed before this one stay loaded. Fix the source, or raise max_reject_ratio with pgetl_define_load().") :
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
 * note_passed - remember the line of a replayed record that passed the
 * rules (loaded or skipped): its rejects get resolved (load_replay.c).
 */
static void
note_passed(Load *load, int64 line)
{
	if (load->npassed == load->maxpassed)
	{
		load->maxpassed = Max(64, load->maxpassed * 2);
		load->passed = load->passed ?
			repalloc_huge(load->passed, sizeof(int64) * load->maxpassed) :
			MemoryContextAllocHuge(load->cxt, sizeof(int64) * load->maxpassed);
	}
	load->passed[load->npassed++] = line;
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
	/* (a spec with references never takes the parallel path) */
	load_rules_check_references(load->spec, rows, n);
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
	/* rejects, and the warnings of the rows that passed */
	for (int i = 0; i < n; i++)
		if (rows[i]->nfailures > 0)
			keep_rejects(load, rows[i]);
		else if (load->replay_of)
			note_passed(load, rows[i]->line);
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
	char	   *dst;
	LoadRow    *row;

	for (int i = 0; i < nfields; i++)
	{
		Size		len = fields[i] ? strlen(fields[i]) + 1 : 0;

		if (i < lengthof(lens))
			lens[i] = len;
		textsz += len;
		if ((i & 4095) == 4095)
			CHECK_FOR_INTERRUPTS(); /* a record may have millions of fields */
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
	dst = mem + head + valsz + ptrsz + nullsz;
	for (int i = 0; i < nfields; i++)
	{
		Size		len;

		if (fields[i] == NULL)
		{
			row->fields[i] = NULL;
			continue;
		}
		len = i < lengthof(lens) ? lens[i] : strlen(fields[i]) + 1;
		memcpy(dst, fields[i], len);
		row->fields[i] = dst;
		dst += len;
	}
	return row;
}

/*
 * load_read_header - read the header record and match its names to the
 * spec's columns (or bind the columns by position, without a header), and
 * say whether blank lines are records.  *header_record (if not NULL) is set
 * to the header record as read (in the current memory context), or NULL.
 */
void
load_read_header(LoadSpec *spec, LoadSource *src, CopyFromState cstate, const char *source,
				 char **header_record)
{
	char	  **fields;
	int			nfields;
	int64		line;
	char	   *record;
	bool		unterminated;

	if (header_record)
		*header_record = NULL;
	if (spec->header)
	{
		if (!load_source_next(src, cstate, &fields, &nfields, &line, &record, &unterminated))
			ereport(ERROR,
					(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("source \"%s\" is empty, but load \"%s\" expects a header",
							source, spec->name),
					 errhint("Check the file; for a file without a header, define the load with \"header\": false.")));
		load_spec_bind_header(spec, fields, nfields);
		if (header_record)
			*header_record = record;
	}
	else
		load_spec_bind_positions(spec);
	/* records of one field: a blank line is a record of one empty field */
	load_source_keep_blank_lines(src, spec->nfields_expected == 1);
}

/*
 * load_read_batch - read the next batch of records into rows[] (room for
 * maxrows), made in the current memory context: at most maxrows records or
 * maxbytes of record text.  A replay (load_replay.c) passes line_map: the
 * record numbered rows_before + i (from 0) keeps the line
 * line_map[rows_before + i] it had in its source.  *more is
 * false once the source is exhausted.  Returns the number of rows read.
 */
int
load_read_batch(LoadSpec *spec, LoadSource *src, CopyFromState cstate, LoadRow **rows,
				int maxrows, Size maxbytes, const int64 *line_map, int64 nline_map,
				int64 rows_before, bool *more)
{
	int			n = 0;
	Size		bytes = 0;
	char	  **fields;
	int			nfields;
	int64		line;
	char	   *record;
	bool		unterminated;

	*more = true;
	while (n < maxrows && bytes < maxbytes)
	{
		if (!load_source_next(src, cstate, &fields, &nfields, &line, &record, &unterminated))
		{
			*more = false;
			break;
		}
		/* a replayed record keeps the line it had in its source */
		if (line_map && rows_before + n < nline_map)
			line = line_map[rows_before + n];
		rows[n] = make_row(spec, fields, nfields, line, record);
		rows[n]->unterminated = unterminated;
		bytes += strlen(record);
		n++;
	}
	return n;
}

/*
 * has_resume_columns - whether pgetl.load_record has the columns of
 * checkpoints and replays (added in 0.2; see has_skip_counts).
 */
static bool
has_resume_columns(void)
{
	Oid			nsp = get_namespace_oid("pgetl", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid("load_record", nsp) : InvalidOid;

	return OidIsValid(rel) && get_attnum(rel, "checkpoint_line") != InvalidAttrNumber;
}

/*
 * load_spec_commit_every - the spec's option commit_every (records per
 * transaction), 0 when it has none.
 */
int64
load_spec_commit_every(LoadSpec *spec)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	Datum		d;

	values[0] = Int64GetDatum(spec->spec_id);
	load_owner_exec("SELECT (options->>'commit_every')::bigint FROM pgetl.load_spec "
					"WHERE spec_id OPERATOR(pg_catalog.=) $1", 1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
		return 0;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * lock_history - lock the history row of a load that commits as it goes,
 * and check that it is where this process left it: finished_at unset and
 * the checkpoint where the stretch starts.  Another session that resumed
 * the same load moves the checkpoint: this one then stops.
 */
static void
lock_history(Load *load)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		null_off,
				null_line,
				null_end;
	int64		off,
				line;

	values[0] = Int64GetDatum(load->load_id);
	load_owner_exec("SELECT checkpoint_offset, checkpoint_line, finished_at FROM pgetl.load_record "
					"WHERE load_id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
					1, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the history row of load " INT64_FORMAT " was deleted while it ran", load->load_id)));
	off = DatumGetInt64(pgetl_spi_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "checkpoint_offset", &null_off));
	line = DatumGetInt64(pgetl_spi_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "checkpoint_line", &null_line));
	(void) pgetl_spi_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "finished_at", &null_end);
	if (!null_end || null_off || null_line || off != load->offset || line != load->line)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("load " INT64_FORMAT " of \"%s\" was resumed or finished by another session",
						load->load_id, load->spec->name),
				 errdetail("Its checkpoint moved from line " INT64_FORMAT " while this session was loading.",
						   load->line),
				 errhint("See SELECT * FROM pgetl.load_history WHERE load_id = " INT64_FORMAT ".",
						 load->load_id)));
}

/*
 * check_identity - the size, modification time and first 64 kB of the
 * source: stored with the history row when the load starts, compared
 * before each later stretch and before a resume, so that a load never
 * resumes in a file that changed.
 */
static void
check_identity(Load *load, LoadSource *src, bool first)
{
	Oid			types[5] = {INT8OID, INT8OID, TIMESTAMPTZOID, INT8OID, INT8OID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int64		size;
	TimestampTz mtime = 0;
	bool		mtime_null;
	int64		hash;

	load_source_identity(src, load->spec->name, &size, &mtime, &mtime_null, &hash);
	values[0] = Int64GetDatum(load->load_id);
	values[1] = Int64GetDatum(size);
	values[2] = TimestampTzGetDatum(mtime);
	nulls[2] = mtime_null ? 'n' : ' ';
	values[3] = Int64GetDatum(hash);
	values[4] = Int64GetDatum(load->commit_every);
	if (first)
	{
		load_owner_exec("UPDATE pgetl.load_record SET commit_every = $5, checkpoint_offset = 0, "
						"checkpoint_line = 1, source_size = $2, source_mtime = $3, source_hash = $4 "
						"WHERE load_id OPERATOR(pg_catalog.=) $1",
						5, types, values, nulls, SPI_OK_UPDATE);
		return;
	}
	load_owner_exec("SELECT source_size, source_mtime, source_hash FROM pgetl.load_record "
					"WHERE load_id OPERATOR(pg_catalog.=) $1 AND source_size OPERATOR(pg_catalog.=) $2 "
					"AND source_mtime IS NOT DISTINCT FROM $3 AND source_hash OPERATOR(pg_catalog.=) $4",
					4, types, values, nulls, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" changed since load " INT64_FORMAT " of \"%s\" started",
						load->source, load->load_id, load->spec->name),
				 errdetail("Its size, modification time or first 64 kB differ from those of the interrupted load (now " INT64_FORMAT " bytes).",
						   size),
				 errhint("A load resumes only in the very same file. Load the new file without resume => true "
						 "(the rows of load " INT64_FORMAT " stay in the target).", load->load_id)));
}

/* store the checkpoint and the counts reached, with the stretch's rows */
static void
save_checkpoint(Load *load)
{
	Oid			types[10] = {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
	INT8OID, TEXTOID, INT8OID};
	Datum		values[10];
	char		nulls[10] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(load->load_id);
	values[1] = Int64GetDatum(load->rows_read);
	values[2] = Int64GetDatum(load->rows_loaded);
	values[3] = Int64GetDatum(load->rows_rejected);
	values[4] = Int64GetDatum(load->rows_skipped_by_trigger);
	values[5] = Int64GetDatum(load->rows_skipped_on_conflict);
	values[6] = Int64GetDatum(load->offset);
	values[7] = Int64GetDatum(load->line);
	values[8] = load->header ? CStringGetTextDatum(load->header) : (Datum) 0;
	nulls[8] = load->header ? ' ' : 'n';
	values[9] = Int64GetDatum(load->rows_warned);
	load_owner_exec("UPDATE pgetl.load_record SET rows_read = $2, rows_loaded = $3, rows_rejected = $4, "
					"rows_skipped_by_trigger = $5, rows_skipped_on_conflict = $6, "
					"checkpoint_offset = $7, checkpoint_line = $8, header = $9, rows_warned = $10 "
					"WHERE load_id OPERATOR(pg_catalog.=) $1",
					10, types, values, nulls, SPI_OK_UPDATE);
}

/* the header (for replays) and the load replayed, in the history row */
static void
save_header(Load *load)
{
	Oid			types[3] = {INT8OID, TEXTOID, INT8OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	if (!has_resume_columns() || (load->header == NULL && load->replay_of == 0))
		return;
	values[0] = Int64GetDatum(load->load_id);
	values[1] = load->header ? CStringGetTextDatum(load->header) : (Datum) 0;
	nulls[1] = load->header ? ' ' : 'n';
	values[2] = Int64GetDatum(load->replay_of);
	nulls[2] = load->replay_of ? ' ' : 'n';
	load_owner_exec("UPDATE pgetl.load_record SET header = $2, reload_of = $3 "
					"WHERE load_id OPERATOR(pg_catalog.=) $1",
					3, types, values, nulls, SPI_OK_UPDATE);
}

/*
 * load_serial_reason - why a load must take the serial path whatever its
 * source and spec (load_parallel.c decides on those), or NULL:
 *   - commit_every and resume: a stretch ends after commit_every records
 *     and its checkpoint is the byte offset after them, which the leader
 *     finds by reading its own source (load_commit.c); the reader, ahead,
 *     would have to stop there too.  Not supported: serial.
 *   - a replay of rejects reads records from memory with the lines of
 *     their source (load_replay.c): serial.
 *
 * A Citus target goes parallel too (the reader cuts its batches 20 times
 * larger, as the serial path does): the reader's subtransactions (a value
 * an input function refuses) are then its own, whereas in the leader's
 * transaction, once it has written to a distributed table, Citus sends a
 * SAVEPOINT and a RELEASE or ROLLBACK TO to every worker connection at
 * each one.
 */
static const char *
load_serial_reason(Load *load)
{
	if (load->commit_every > 0)
		return "the load commits as it goes (commit_every)";
	if (load->resume)
		return "the load resumes an interrupted one";
	if (load->mem != NULL || load->replay_of != 0)
		return "a replay of rejects";
	return NULL;
}

/*
 * load_run_stretch - the body of pgetl_load, with an SPI connection open:
 * the whole load, or (commit_every) the stretch of up to commit_every
 * records from load->offset, after which load->offset and load->line are
 * the next stretch's start, saved in the history row (load->done tells
 * whether the source was read to its end).  load->spec is fetched anew
 * for each stretch; what outlives a stretch is in load->cxt.
 */
void
load_run_stretch(Load *load, bool purge)
{
	LoadSpec   *spec = load->spec;
	LoadRow   **rows = NULL;
	ErrorContextCallback errcb;
	MemoryContext load_cxt = CurrentMemoryContext;
	bool		first = load->load_id == 0;
	int64		stretch_rows = 0;
	int			batch_rows;
	Size		batch_bytes;

	/* (in a transaction: the catalog says whether rejects have a severity) */
	load->has_severity = load_catalog_has_column("reject_record", "severity");

	check_privileges(spec);
	if (load->commit_every > 0)
		for (int i = 0; i < spec->ncolumns; i++)
			if (spec->columns[i].unique)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("load \"%s\" has commit_every and a unique column \"%s\", which cannot go together",
								spec->name, spec->columns[i].label),
						 errdetail("The unique rule checks a value against the whole file, and a load that commits as it goes can be resumed in another session."),
						 errhint("Use a unique constraint on the target instead (its violations are rejects), or drop commit_every.")));

	/*
	 * The target is the relation of the spec's OID, for every statement: lock
	 * it by OID first, then name it by its name now (see
	 * load_spec_lock_target), so that TRUNCATE, the privileges checked above
	 * and the inserts all reach the same table, even after a rename.  A
	 * stretch after the first, and a replay of rejects, never truncate.
	 */
	load_spec_lock_target(spec, spec->mode == LOAD_REPLACE ? AccessExclusiveLock : RowExclusiveLock);
	if (spec->mode == LOAD_REPLACE && first && load->replay_of == 0)
	{
		RangeVar   *rv = makeRangeVarFromNameList(pgetl_qualified_name_list(spec->target_name));

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
		LoadSource *src = load->mem ?
		load_source_open_memory(load->source, load->mem, load->mem_len) :
		load_source_open(load->source, spec->name);

		if (first)
			begin_history(load);
		else
			lock_history(load);
		if (load->commit_every > 0)
			check_identity(load, src, first);
		load->target = load_target_begin(spec);
		load_rules_begin(spec);
		load->cstate = load_source_begin_copy(src, spec);
		load->src = src;
	}

	load->pipe = NULL;
	load->batch_cxt = AllocSetContextCreate(load_cxt, "pgetl load batch", ALLOCSET_DEFAULT_SIZES);
	load->reject_cxt = AllocSetContextCreate(load_cxt, "pgetl load rejects", ALLOCSET_DEFAULT_SIZES);
	load->rejects = NULL;
	{
		char	   *header_record;

		load_read_header(spec, load->src, load->cstate, load->source, &header_record);
		if (header_record && load->header == NULL && load->cxt)
			load->header = MemoryContextStrdup(load->cxt, header_record);
	}
	/* a later stretch: read on from its checkpoint */
	if (load->line > 1)
	{
		load_source_end_copy(load->src, load->cstate);
		load->cstate = NULL;
		load_source_seek(load->src, load->offset, load->line);
		load->cstate = load_source_begin_copy(load->src, spec);
	}

	/*
	 * A large file is read and checked by a background process while this one
	 * inserts (load_parallel.c); NULL when the serial path is used.
	 */
	batch_rows = LOAD_BATCH_ROWS;
	batch_bytes = LOAD_BATCH_BYTES;
	if (load_target_is_citus(load->target))
	{
		batch_rows *= LOAD_CITUS_BATCH_FACTOR;
		batch_bytes *= LOAD_CITUS_BATCH_FACTOR;
	}
	{
		const char *why = load_serial_reason(load);

		if (why)
			elog(DEBUG1, "pgetl load \"%s\": serial (%s)", spec->name, why);
		else
			load->pipe = load_parallel_start(spec, load->src, load->source, batch_rows,
											 batch_bytes, &errcb);
	}
	rows = palloc(sizeof(LoadRow *) * batch_rows);
	load->done = false;
	for (;;)
	{
		int			n;
		int			limit = batch_rows;
		bool		more = true;
		MemoryContext old;

		if (load->commit_every > 0)
			limit = (int) Min((int64) limit, load->commit_every - stretch_rows);
		MemoryContextReset(load->batch_cxt);
		old = MemoryContextSwitchTo(load->batch_cxt);
		if (load->pipe)
		{
			n = load_parallel_next_batch(load->pipe, rows, batch_rows, load->cstate);
			more = n > 0;
		}
		else
			n = load_read_batch(spec, load->src, load->cstate, rows, limit, batch_bytes,
								load->line_map, load->nline_map, load->rows_read, &more);
		if (n > 0)
		{
			load->batch_first = rows[0]->line;
			load->batch_last = rows[n - 1]->line;
			process_batch(load, rows, n, load->pipe != NULL);
			load->batch_first = load->batch_last = 0;
		}
		stretch_rows += n;
		MemoryContextSwitchTo(old);
		CHECK_FOR_INTERRUPTS();
		if (!more)
		{
			load->done = true;
			break;
		}
		if (load->commit_every > 0 && stretch_rows >= load->commit_every)
			break;
	}
	MemoryContextReset(load->batch_cxt);
	flush_rejects(load);
	MemoryContextDelete(load->reject_cxt);
	load->reject_cxt = NULL;

	if (!load->done)
	{
		/* the stretch is full: the next one starts after its last record */
		int64		next_line = load_source_next_line(load->src);
		int64		next_offset = load_source_line_offset(load->src, load->offset, load->line,
														  next_line);

		error_context_stack = errcb.previous;
		load_source_end(load->src, load->cstate);
		load_target_end(load->target);
		load_spec_close_target(spec);
		load->offset = next_offset;
		load->line = next_line;
		save_checkpoint(load);
		return;
	}
	load->read_all = true;
	check_limits(load, true);
	error_context_stack = errcb.previous;
	if (load->pipe)
		load_parallel_end(load->pipe);

	load_source_end(load->src, load->cstate);
	load_target_end(load->target);
	/* the rows are in: audit them before anyone else can see them */
	load_rules_check_expectations(spec, load->rows_read, load->rows_loaded, load->rows_rejected,
								  load->reasons.data);
	load_spec_close_target(spec);
	end_history(load);
	save_header(load);
	if (purge && load_source_is_staged(load->src))
	{
		Oid			types[2] = {OIDOID, TEXTOID};
		Datum		values[2];
		bool		nulls[2] = {false, false};
		bool		isnull;

		values[0] = ObjectIdGetDatum(GetUserId());
		values[1] = CStringGetTextDatum(load->source);
		pgetl_call_internal_args("_drop_stage", 2, types, values, nulls,
								 VOIDOID, &isnull);
	}
}

/*
 * load_init - a new run of a load of source, in the current memory
 * context (which must outlive it: load->cxt).
 */
void
load_init(Load *load, const char *source)
{
	memset(load, 0, sizeof(Load));
	load->cxt = CurrentMemoryContext;
	load->source = pstrdup(source);
	load->run_id = pgetl_current_run_id();
	load->offset = 0;
	load->line = 1;
	initStringInfo(&load->reasons);
}

/*
 * load_put_result - the one result row of pgetl_load and
 * pgetl_reload_rejects: load_id, rows_read, rows_loaded, rows_rejected,
 * duration (since start), rows_skipped_by_trigger, rows_skipped_on_conflict,
 * rows_warned.
 */
void
load_put_result(FunctionCallInfo fcinfo, Load *load, TimestampTz start)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};
	Interval   *iv = DatumGetIntervalP(DirectFunctionCall2(timestamp_mi,
														   TimestampTzGetDatum(GetCurrentTimestamp()),
														   TimestampTzGetDatum(start)));

	values[0] = Int64GetDatum(load->load_id);
	values[1] = Int64GetDatum(load->rows_read);
	values[2] = Int64GetDatum(load->rows_loaded);
	values[3] = Int64GetDatum(load->rows_rejected);
	values[4] = IntervalPGetDatum(iv);
	/* declared by 0.2; a database still on 0.1 takes the first five */
	values[5] = Int64GetDatum(load->rows_skipped_by_trigger);
	values[6] = Int64GetDatum(load->rows_skipped_on_conflict);
	values[7] = Int64GetDatum(load->rows_warned);
	if (rsinfo->setDesc->natts > lengthof(values))
		elog(ERROR, "%s is declared with %d result columns, this library returns %d",
			 get_func_name(fcinfo->flinfo->fn_oid), rsinfo->setDesc->natts, (int) lengthof(values));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * pgetl_load(load text, source text, purge boolean, resume boolean) - load
 * a source with a spec; returns one row (see load_put_result; rows_read is
 * the sum of the loaded, rejected and skipped rows).  A spec with
 * commit_every, and resume => true, run in a background worker
 * (load_commit.c); any other load runs here, in the caller's transaction.
 */
Datum
pgetl_load(PG_FUNCTION_ARGS)
{
	TimestampTz start = GetCurrentTimestamp();
	Load		load;
	MemoryContext cxt;
	MemoryContext old;
	bool		purge = PG_GETARG_BOOL(2);
	bool		resume = PG_NARGS() > 3 && !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	char	   *name;
	bool		in_worker = false;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("load and source must not be null")));
	InitMaterializedSRF(fcinfo, 0);

	cxt = AllocSetContextCreate(CurrentMemoryContext, "pgetl load", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	load_init(&load, text_to_cstring(PG_GETARG_TEXT_PP(1)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		load.spec = load_spec_fetch(name, false);
		load.commit_every = has_resume_columns() ? load_spec_commit_every(load.spec) : 0;
		if (load.commit_every > 0 || resume)
			in_worker = true;
		else
			load_run_stretch(&load, purge);
	}
	PG_CATCH();
	{
		load_source_reset();
		PG_RE_THROW();
	}
	PG_END_TRY();
	SPI_finish();
	if (in_worker)
		load_in_worker(fcinfo, name, &load, purge, resume);

	MemoryContextSwitchTo(old);
	load_put_result(fcinfo, &load, start);
	MemoryContextDelete(cxt);
	return (Datum) 0;
}
