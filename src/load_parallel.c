/*-------------------------------------------------------------------------
 *
 * load_parallel.c
 *	  The parallel path of pgetl_load: a background process (the "reader")
 *	  parses the CSV and checks the rules while the loading backend (the
 *	  "leader") inserts, writes rejects and reports progress.
 *
 * Why not PostgreSQL's parallel workers (access/parallel.h): while a
 * parallel context is active the leader is in parallel mode, and there it
 * can neither start a subtransaction nor increment the command counter --
 * yet every batch is inserted in a subtransaction (a refused row is
 * isolated by rolling it back, load_target.c) and the rejects are written
 * into pgetl.reject_record.  So the reader is a dynamic background worker
 * with a read-only transaction of its own, connected to the same database,
 * running as the same role with the leader's settings (GUC state, as
 * parallel workers get it), and it writes nothing: every write stays in the
 * leader's transaction, so a load that fails still leaves nothing.  The
 * two talk through one shm_mq in a dynamic shared memory segment: the
 * reader's errors and notices are redirected to it (pq_redirect_to_shm_mq,
 * as in parallel workers) and the leader raises them again; its batches of
 * checked rows go through it too, in file order, each as one message.
 *
 * The reader compiles the spec itself, from the catalog in its own
 * snapshot, binds the header, and checks its result against the leader's
 * (a fingerprint of the compiled spec): a spec or a target changed by the
 * leader's uncommitted transaction, or by a concurrent one, makes the
 * reader give up, and the load goes serial.  Batches are cut exactly as
 * the serial path cuts them (load_read_batch) and checked by the same code
 * (load_check_rows), so rows, rejects, their reasons and the order in
 * which they are written are the serial path's.
 *
 * The parallel path is used (pgetl.load_parallel = auto) for a server file
 * of at least pgetl.load_parallel_min_size when the spec's checks cannot
 * depend on what the load writes or on the snapshot: no "unique" rule
 * (a row the target refuses frees its value for a later row, which the
 * reader, ahead of the inserts, cannot know), no check calling a function
 * that is not immutable, built-in column types only (no reg* types, which
 * read the catalog), and not in replace mode (the leader's ACCESS
 * EXCLUSIVE lock on the target would keep the reader from opening it).
 * Otherwise, or when no background worker can be started
 * (max_worker_processes exhausted), the serial path is used.
 *
 * Message types (first byte): 'R' ready, 'F' giving up (serial instead),
 * 'B' a batch, 'Z' the end (with the reader's CPU time, for DEBUG1); 'E' and 'N' are the reader's errors and
 * notices in the protocol's format.
 *
 *-------------------------------------------------------------------------
 */
#include "load.h"
#include "util.h"

#include <sys/resource.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/progress.h"
#include "executor/spi.h"
#include "portability/instr_time.h"
#include "libpq/pqmq.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#define PGETL_LOAD_MAGIC 0x70676c64
#define LOAD_QUEUE_SIZE (16 * 1024 * 1024)

/* shm_toc keys */
#define KEY_FIXED 1
#define KEY_GUC 2
#define KEY_QUEUE 3
#define KEY_NAME 4
#define KEY_SOURCE 5
#define KEY_PRINT 6

/* pgetl.load_parallel */
typedef enum
{
	LOAD_PARALLEL_OFF,
	LOAD_PARALLEL_ON,
	LOAD_PARALLEL_AUTO
} LoadParallelSetting;

static const struct config_enum_entry load_parallel_options[] = {
	{"off", LOAD_PARALLEL_OFF, false},
	{"on", LOAD_PARALLEL_ON, false},
	{"auto", LOAD_PARALLEL_AUTO, false},
	{"false", LOAD_PARALLEL_OFF, true},
	{"true", LOAD_PARALLEL_ON, true},
	{NULL, 0, false}
};

int			pgetl_load_parallel = LOAD_PARALLEL_AUTO;
int			pgetl_load_parallel_min_size = 8 * 1024;	/* kB */

/* What the leader tells the reader */
typedef struct LoadShared
{
	Oid			database;
	Oid			authenticated_user;
	Oid			current_user;
	int			sec_context;
	int			batch_rows;		/* the leader's batches (load.c) */
	Size		batch_bytes;
} LoadShared;

/* The leader's side of a parallel load */
struct LoadPipe
{
	dsm_segment *seg;
	shm_mq_handle *mqh;
	BackgroundWorkerHandle *handle;
	LoadSpec   *spec;
	ErrorContextCallback *own;	/* the load's error context */
	int64		line;			/* where the reader is */
	bool		done;
	instr_time	waited;			/* for the reader's batches */
	instr_time	started;
	int64		reader_cpu_us;	/* the reader's CPU time (user + system) */
	int64		reader_minflt;	/* and its minor page faults, from 'Z' */
};

/*
 * load_parallel_define_gucs - pgetl.load_parallel and
 * pgetl.load_parallel_min_size (see README.md, "Parallel loading").
 */
void
load_parallel_define_gucs(void)
{
	DefineCustomEnumVariable("pgetl.load_parallel",
							 "Whether pgetl_load reads and checks a large file in a background process while it inserts.",
							 "auto: for server files of at least pgetl.load_parallel_min_size; on: for any server file; off: never.",
							 &pgetl_load_parallel, LOAD_PARALLEL_AUTO, load_parallel_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgetl.load_parallel_min_size",
							"Size of a source from which pgetl_load reads it in parallel (pgetl.load_parallel = auto).",
							NULL, &pgetl_load_parallel_min_size, 8 * 1024, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
}

/* append "key=value;" to a fingerprint */
static void
print_str(StringInfo buf, const char *key, const char *value)
{
	appendStringInfo(buf, "%s=%s%zu:%s;", key, value ? "" : "null", value ? strlen(value) : 0,
					 value ? value : "");
}

/*
 * spec_fingerprint - everything of a compiled and bound spec that decides
 * how a record is checked and what is inserted, as text (palloc'd): the
 * reader's must equal the leader's.
 */
static char *
spec_fingerprint(LoadSpec *spec)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "id=" INT64_FORMAT ";owner=%u;target=%u;dialect=%d,%d,%d,%d;mode=%d;"
					 "fields=%d;final=%d;unlisted=%d;ncol=%d;nout=%d;nchecks=%d;",
					 spec->spec_id, spec->owner, spec->target, spec->delimiter, spec->quote,
					 spec->escape, spec->header, spec->mode, spec->nfields_expected,
					 spec->require_final_newline, spec->ignore_unlisted, spec->ncolumns,
					 spec->nout, spec->nchecks);
	print_str(&buf, "null", spec->null_string);
	print_str(&buf, "encoding", spec->encoding);
	for (int i = 0; i < spec->ncolumns; i++)
	{
		LoadColumn *c = &spec->columns[i];

		appendStringInfo(&buf, "col=%d,%d,%d,%u,%d,%u,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%u,%d,%d;",
						 c->ordinal, c->field, c->out, c->typid, c->typmod, c->target_typid,
						 c->target_typmod, c->recast, c->required, c->has_min, c->has_max,
						 c->max_length, c->max_decimals, c->nallowed, c->unique, c->precheck,
						 c->collation, c->format_kind, c->attnum);
		print_str(&buf, "name", c->name);
		print_str(&buf, "label", c->label);
		print_str(&buf, "target", c->target);
		print_str(&buf, "min", c->min_text);
		print_str(&buf, "max", c->max_text);
		print_str(&buf, "pattern", c->pattern_text);
		print_str(&buf, "prefix", c->prefix);
		print_str(&buf, "format", c->format ? text_to_cstring(c->format) : NULL);
		for (int k = 0; k < c->nallowed; k++)
			print_str(&buf, "allowed", c->allowed[k]);
		appendStringInfo(&buf, "min_length=%d;not_allowed=%d;warn=%d;", c->min_length,
						 c->nnot_allowed, c->nwarn_rules);
		for (int k = 0; k < c->nnot_allowed; k++)
			print_str(&buf, "not_allowed", c->not_allowed[k]);
		print_str(&buf, "not_pattern", c->not_pattern_text);
		print_str(&buf, "references", c->ref_table);
		print_str(&buf, "ref_column", c->ref_column);
		for (int k = 0; k < c->nwarn_rules; k++)
			print_str(&buf, "warn_rule", c->warn_rules[k]);
	}
	for (int i = 0; i < spec->nchecks; i++)
	{
		print_str(&buf, "check", spec->checks[i].name);
		print_str(&buf, "expr", spec->checks[i].expression);
		appendStringInfo(&buf, "warn=%d;", spec->checks[i].warn);
	}
	return buf.data;
}

/*
 * parallel_safe_type - a type whose input function gives the same result in
 * the reader as in the leader: a built-in type, but none of the reg* types
 * (their input reads the catalog, which the leader may have changed).
 */
static bool
parallel_safe_type(Oid typid)
{
	switch (typid)
	{
		case REGPROCOID:
		case REGPROCEDUREOID:
		case REGOPEROID:
		case REGOPERATOROID:
		case REGCLASSOID:
		case REGTYPEOID:
		case REGCONFIGOID:
		case REGDICTIONARYOID:
		case REGROLEOID:
		case REGNAMESPACEOID:
		case REGCOLLATIONOID:
			return false;
		default:
			return typid < FirstGenbkiObjectId;
	}
}

/*
 * parallel_eligible - whether a load may take the parallel path (see the
 * file header); *why says why not, for the DEBUG1 message.
 */
static bool
parallel_eligible(LoadSpec *spec, LoadSource *src, const char **why)
{
	if (pgetl_load_parallel == LOAD_PARALLEL_OFF)
		return (*why = "pgetl.load_parallel is off", false);
	if (load_source_path(src) == NULL)
		return (*why = "the source is staged data", false);
	if (pgetl_load_parallel == LOAD_PARALLEL_AUTO &&
		load_source_size(src) < (int64) pgetl_load_parallel_min_size * 1024)
		return (*why = "the source is smaller than pgetl.load_parallel_min_size", false);
	if (spec->mode == LOAD_REPLACE)
		return (*why = "the load is in replace mode", false);
	if (IsInParallelMode())
		return (*why = "in parallel mode", false);
	for (int i = 0; i < spec->ncolumns; i++)
	{
		LoadColumn *c = &spec->columns[i];

		if (c->unique)
			return (*why = "a column has the unique rule", false);
		if (c->ref_table != NULL || OidIsValid(c->ref_relid))
			return (*why = "a column has the references rule", false);
		if (c->nwarn_rules > 0)
			return (*why = "a rule has severity warn", false);
		if ((OidIsValid(c->typid) && !parallel_safe_type(c->typid)) ||
			(c->out >= 0 && !parallel_safe_type(c->target_typid)))
			return (*why = "a column's type is not built in, or is a reg* type", false);
	}
	for (int i = 0; i < spec->nchecks; i++)
	{
		if (spec->checks[i].warn)
			return (*why = "a check has severity warn", false);
		if (contain_mutable_functions((Node *) spec->checks[i].state->expr))
			return (*why = "a check calls a function that is not immutable", false);
	}
	return true;
}

/* put a string in the segment under key */
static void
put_string(shm_toc *toc, uint64 key, const char *s)
{
	char	   *p = shm_toc_allocate(toc, strlen(s) + 1);

	strcpy(p, s);
	shm_toc_insert(toc, key, p);
}

/*
 * raise_message - a reader's error ('E') or notice ('N') raised again in
 * the leader, as parallel.c does for its workers' messages.  An error
 * (even the reader's FATAL) fails the load.
 */
static void
raise_message(LoadPipe *pipe, char *data, Size len)
{
	StringInfoData msg;
	ErrorData	edata;
	ErrorContextCallback *save = error_context_stack;

	msg.data = data + 1;
	msg.len = len - 1;
	msg.maxlen = len - 1;
	msg.cursor = 0;
	pq_parse_errornotice(&msg, &edata);
	edata.elevel = Min(edata.elevel, ERROR);

	/*
	 * The message has the reader's context (its line); skip the load's own
	 * context, which would name the line again.
	 */
	if (pipe->own && error_context_stack == pipe->own)
		error_context_stack = pipe->own->previous;
	ThrowErrorData(&edata);
	error_context_stack = save;
}

/*
 * load_parallel_start - start the reader for a load whose spec is bound
 * (after the header), when the load may and should go parallel; wait
 * until it is ready.  Returns NULL for the serial path: not eligible, no
 * background worker slot, or a reader that gave up.  The pipe lives in the
 * current memory context; its segment is detached by load_parallel_end or
 * by the abort of the transaction (or subtransaction), and the reader, which
 * finds the queue detached when it sends its next batch, exits quietly.
 */
LoadPipe *
load_parallel_start(LoadSpec *spec, LoadSource *src, const char *source,
					int batch_rows, Size batch_bytes, ErrorContextCallback *own)
{
	const char *why = NULL;
	char	   *print;
	Size		gucsize;
	shm_toc_estimator e;
	dsm_segment *seg;
	shm_toc    *toc;
	LoadShared *fixed;
	shm_mq	   *mq;
	BackgroundWorkerHandle *handle;
	char		bgw_name[BGW_MAXLEN];
	pid_t		pid;
	LoadPipe   *pipe;

	if (!parallel_eligible(spec, src, &why))
	{
		elog(DEBUG1, "pgetl load \"%s\": serial (%s)", spec->name, why);
		return NULL;
	}
	print = spec_fingerprint(spec);
	gucsize = EstimateGUCStateSpace();
	shm_toc_initialize_estimator(&e);
	shm_toc_estimate_chunk(&e, sizeof(LoadShared));
	shm_toc_estimate_chunk(&e, gucsize);
	shm_toc_estimate_chunk(&e, LOAD_QUEUE_SIZE);
	shm_toc_estimate_chunk(&e, strlen(spec->name) + 1);
	shm_toc_estimate_chunk(&e, strlen(source) + 1);
	shm_toc_estimate_chunk(&e, strlen(print) + 1);
	shm_toc_estimate_keys(&e, 6);
	seg = dsm_create(shm_toc_estimate(&e), 0);
	toc = shm_toc_create(PGETL_LOAD_MAGIC, dsm_segment_address(seg), shm_toc_estimate(&e));
	fixed = shm_toc_allocate(toc, sizeof(LoadShared));
	fixed->database = MyDatabaseId;
	fixed->authenticated_user = GetAuthenticatedUserId();
	GetUserIdAndSecContext(&fixed->current_user, &fixed->sec_context);
	fixed->batch_rows = batch_rows;
	fixed->batch_bytes = batch_bytes;
	shm_toc_insert(toc, KEY_FIXED, fixed);
	{
		char	   *gucstate = shm_toc_allocate(toc, gucsize);

		SerializeGUCState(gucsize, gucstate);
		shm_toc_insert(toc, KEY_GUC, gucstate);
	}
	mq = shm_mq_create(shm_toc_allocate(toc, LOAD_QUEUE_SIZE), LOAD_QUEUE_SIZE);
	shm_toc_insert(toc, KEY_QUEUE, mq);
	shm_mq_set_receiver(mq, MyProc);
	put_string(toc, KEY_NAME, spec->name);
	put_string(toc, KEY_SOURCE, source);
	put_string(toc, KEY_PRINT, print);

	snprintf(bgw_name, BGW_MAXLEN, "pgetl load reader for PID %d", MyProcPid);
	if (!pgetl_bgworker_register("pgetl_load_reader_main", "pgetl load reader", bgw_name,
								 UInt32GetDatum(dsm_segment_handle(seg)), NULL, 0, true,
								 &handle))
	{
		dsm_detach(seg);
		elog(DEBUG1, "pgetl load \"%s\": serial (no background worker slot: max_worker_processes is reached)",
			 spec->name);
		return NULL;
	}
	pipe = palloc0(sizeof(LoadPipe));
	pipe->seg = seg;
	pipe->handle = handle;
	pipe->spec = spec;
	pipe->own = own;
	for (int i = 0; i < spec->nout; i++)
		get_typlenbyval(spec->outcols[i]->target_typid, &spec->outcols[i]->target_typlen,
						&spec->outcols[i]->target_byval);
	pipe->mqh = shm_mq_attach(mq, seg, handle);
	if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
	{
		dsm_detach(seg);
		elog(DEBUG1, "pgetl load \"%s\": serial (the reader could not start)", spec->name);
		return NULL;
	}

	/* the reader's first word: ready, or why not */
	for (;;)
	{
		Size		len;
		void	   *data;
		shm_mq_result res = shm_mq_receive(pipe->mqh, &len, &data, false);

		if (res != SHM_MQ_SUCCESS || len < 1)
		{
			dsm_detach(seg);
			elog(DEBUG1, "pgetl load \"%s\": serial (the reader exited)", spec->name);
			return NULL;
		}
		switch (((char *) data)[0])
		{
			case 'R':
				INSTR_TIME_SET_CURRENT(pipe->started);
				elog(DEBUG1, "pgetl load \"%s\": parallel (reader PID %d)", spec->name, (int) pid);
				return pipe;
			case 'N':
				raise_message(pipe, data, len);
				break;
			case 'E':
			case 'F':
			default:
				{
					const char *reason = "it gave up";
					StringInfoData msg;
					ErrorData	edata;

					if (((char *) data)[0] == 'E')
					{
						msg.data = (char *) data + 1;
						msg.len = msg.maxlen = len - 1;
						msg.cursor = 0;
						pq_parse_errornotice(&msg, &edata);
						reason = edata.message ? pstrdup(edata.message) : "an error";
					}
					else if (((char *) data)[0] == 'F')
						reason = pnstrdup((char *) data + 1, len - 1);
					dsm_detach(seg);
					elog(DEBUG1, "pgetl load \"%s\": serial (the reader did not start: %s)",
						 spec->name, reason);
					return NULL;
				}
		}
	}
}

/* a cursor over a received batch */
typedef struct Reader
{
	char	   *p;
	char	   *end;
} Reader;

static void
take(Reader *r, void *out, Size n)
{
	if (r->p + n > r->end)
		elog(ERROR, "pgetl load reader sent a truncated batch");
	memcpy(out, r->p, n);
	r->p += n;
}

/* a string sent by put_str: points into the batch; NULL for -1 */
static char *
take_str(Reader *r)
{
	int32		len;
	char	   *s;

	take(r, &len, sizeof(len));
	if (len < 0)
		return NULL;
	if (r->p + len + 1 > r->end)
		elog(ERROR, "pgetl load reader sent a truncated batch");
	s = r->p;
	r->p += len + 1;
	return s;
}

/*
 * The reader's batch buffer: one for the reader's life (in
 * TopMemoryContext), emptied for each batch, so that a batch is written with
 * one memcpy per item and no reallocation once the buffer has grown to a
 * batch's size.  (A StringInfo made per batch in the batch's memory was
 * reallocated by doubling and freed with the batch: 45% of the reader's
 * time, mostly copying and page faults of the fresh memory, measured with
 * perf on a 1M-row load.)
 */
typedef struct SendBuf
{
	char	   *data;
	Size		len;
	Size		cap;
} SendBuf;

/* make room for n more bytes (the buffer keeps its size for later batches) */
static void
sb_grow(SendBuf *b, Size n)
{
	Size		cap = Max(b->cap, 64 * 1024);

	while (cap < b->len + n)
		cap *= 2;
	if (b->data == NULL)
		b->data = MemoryContextAllocHuge(TopMemoryContext, cap);
	else
		b->data = repalloc_huge(b->data, cap);
	b->cap = cap;
}

static inline void
put(SendBuf *b, const void *p, Size n)
{
	if (b->len + n > b->cap)
		sb_grow(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static inline void
put_str(SendBuf *b, const char *s)
{
	int32		len = s ? (int32) strlen(s) : -1;

	if (b->len + sizeof(len) + len + 1 > b->cap)
		sb_grow(b, sizeof(len) + len + 1);
	memcpy(b->data + b->len, &len, sizeof(len));
	b->len += sizeof(len);
	if (s)
	{
		memcpy(b->data + b->len, s, len + 1);
		b->len += len + 1;
	}
}

/*
 * put_align - pad the batch so that what follows is MAXALIGNed in the
 * message, which starts with the type byte before the buffer: the leader
 * reads values in place (shm_mq hands out messages MAXALIGNed).
 */
static inline void
put_align(SendBuf *b)
{
	static const char zeros[MAXIMUM_ALIGNOF] = {0};
	Size		pad = (MAXIMUM_ALIGNOF - (b->len + 1) % MAXIMUM_ALIGNOF) % MAXIMUM_ALIGNOF;

	if (pad > 0)
		put(b, zeros, pad);
}

/*
 * load_parallel_next_batch - the next batch of checked rows from the
 * reader, made in the current memory context (the leader's batch memory):
 * fields, records and values point into one copy of the message.  Returns
 * the number of rows, 0 at the end.  Publishes the bytes the reader has
 * read as the COPY progress.  The reader's errors are raised here.
 */
int
load_parallel_next_batch(LoadPipe *pipe, LoadRow **rows, int maxrows, CopyFromState cstate)
{
	LoadSpec   *spec = pipe->spec;

	if (pipe->done)
		return 0;
	for (;;)
	{
		Size		len;
		void	   *data;
		shm_mq_result res;
		char		type;
		Reader		r;
		int64		bytes;
		int32		n;
		char	   *base;
		LoadRow    *allrows;
		Datum	   *allvalues;
		bool	   *allnulls;
		instr_time	t0,
					t1;

		INSTR_TIME_SET_CURRENT(t0);
		res = shm_mq_receive(pipe->mqh, &len, &data, false);
		INSTR_TIME_SET_CURRENT(t1);
		INSTR_TIME_ACCUM_DIFF(pipe->waited, t1, t0);
		if (res != SHM_MQ_SUCCESS)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("pgetl load reader exited unexpectedly"),
					 errdetail("Load \"%s\" was read by a background process, which stopped without an error message.",
							   spec->name),
					 errhint("See the server log; SET pgetl.load_parallel = off loads without it.")));
		if (len < 1)
			continue;
		type = ((char *) data)[0];
		if (type == 'E' || type == 'N')
		{
			raise_message(pipe, data, len);
			continue;
		}
		if (type != 'B' && type != 'Z')
			continue;

		/*
		 * Strings and values point into the message, valid until the next
		 * receive, i.e. while the leader processes this batch (its rows are
		 * not kept after it).  An unaligned message (not expected: shm_mq
		 * aligns them) is copied.
		 */
		base = data;
		if ((uintptr_t) base % MAXIMUM_ALIGNOF != 0)
		{
			base = palloc(len);
			memcpy(base, data, len);
		}
		r.p = base + 1;
		r.end = base + len;
		take(&r, &bytes, sizeof(bytes));
		take(&r, &pipe->line, sizeof(pipe->line));
		load_source_set_bytes_processed(cstate, bytes);
		if (type == 'Z')
		{
			take(&r, &pipe->reader_cpu_us, sizeof(pipe->reader_cpu_us));
			take(&r, &pipe->reader_minflt, sizeof(pipe->reader_minflt));
			pipe->done = true;
			return 0;
		}
		take(&r, &n, sizeof(n));
		if (n < 0 || n > maxrows)
			elog(ERROR, "pgetl load reader sent a batch of %d rows", n);
		allrows = palloc0(sizeof(LoadRow) * Max(n, 1));
		allvalues = palloc(sizeof(Datum) * Max(n * spec->nout, 1));
		allnulls = palloc(sizeof(bool) * Max(n * spec->nout, 1));
		for (int i = 0; i < n; i++)
		{
			LoadRow    *row = &allrows[i];
			uint8		flags;

			take(&r, &row->line, sizeof(row->line));
			take(&r, &flags, 1);
			row->rejected = (flags & 1) != 0;
			row->unterminated = (flags & 2) != 0;
			row->record = take_str(&r);
			row->values = allvalues + i * spec->nout;
			row->nulls = allnulls + i * spec->nout;
			memset(row->values, 0, sizeof(Datum) * spec->nout);
			memset(row->nulls, 0, sizeof(bool) * spec->nout);
			if (row->rejected)
			{
				int32		nf;

				take(&r, &nf, sizeof(nf));
				if (nf < 0 || nf > (r.end - r.p))
					elog(ERROR, "pgetl load reader sent a bad reject");
				row->nfailures = row->maxfailures = nf;
				row->failures = palloc0(sizeof(LoadFailure) * Max(nf, 1));
				for (int k = 0; k < nf; k++)
				{
					LoadFailure *fl = &row->failures[k];
					uint8		warn;

					fl->column = take_str(&r);
					fl->rule = take_str(&r);
					fl->value = take_str(&r);
					fl->message = take_str(&r);
					take(&r, &fl->sqlerrcode, sizeof(fl->sqlerrcode));
					take(&r, &warn, 1);
					fl->warn = warn != 0;
				}
			}
			else
			{
				take(&r, &row->nfields, sizeof(row->nfields));
				if (row->nfields < 0 || row->nfields > (r.end - r.p) / (int) sizeof(int32))
					elog(ERROR, "pgetl load reader sent a bad record");
				row->fields = palloc(sizeof(char *) * (row->nfields + 1));
				for (int f = 0; f < row->nfields; f++)
					row->fields[f] = take_str(&r);
				for (int k = 0; k < spec->nout; k++)
				{
					uint8		isnull;

					take(&r, &isnull, 1);
					row->nulls[k] = isnull != 0;
					if (isnull)
						continue;
					if (spec->outcols[k]->target_byval)
						take(&r, &row->values[k], sizeof(Datum));
					else
					{
						int32		vlen;

						take(&r, &vlen, sizeof(vlen));
						r.p = base + MAXALIGN(r.p - base);
						if (vlen < 0 || r.p + vlen > r.end)
							elog(ERROR, "pgetl load reader sent a bad value");
						row->values[k] = PointerGetDatum(r.p);
						r.p += vlen;
					}
				}
			}
			rows[i] = row;
		}
		if (n > 0)
			return n;
	}
}

/* The line the reader is at, for the load's error context. */
int64
load_parallel_current_line(LoadPipe *pipe)
{
	return pipe->line;
}

/*
 * load_parallel_end - after the last batch: wait for the reader to end its
 * transaction and exit (it holds a lock on the target), then detach.
 */
void
load_parallel_end(LoadPipe *pipe)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, pipe->started);
	elog(DEBUG1, "pgetl load \"%s\": waited %.0f ms of %.0f ms for the reader, which used %.0f ms of CPU (" INT64_FORMAT " minor page faults)",
		 pipe->spec->name, INSTR_TIME_GET_MILLISEC(pipe->waited), INSTR_TIME_GET_MILLISEC(now),
		 pipe->reader_cpu_us / 1000.0, pipe->reader_minflt);
	WaitForBackgroundWorkerShutdown(pipe->handle);
	dsm_detach(pipe->seg);
}

/*
 * send_message - one message of the reader to the leader: its type byte,
 * then len bytes, in the format of the reader's redirected errors and
 * notices (pq_redirect_to_shm_mq); false when the leader is gone.
 * (libpq/libpq.h's pq_putmessage would do the same, but that header needs
 * the GSSAPI headers on PostgreSQL 17 and later.)
 */
static bool
send_message(shm_mq_handle *mqh, char type, const char *data, Size len)
{
	shm_mq_iovec iov[2];

	iov[0].data = &type;
	iov[0].len = 1;
	iov[1].data = data;
	iov[1].len = len;
	return shm_mq_sendv(mqh, iov, len > 0 ? 2 : 1, false, true) == SHM_MQ_SUCCESS;
}

/*
 * send_batch - serialize checked rows for the leader (see
 * load_parallel_next_batch) and send them; false when the leader is gone.
 */
static bool
send_batch(shm_mq_handle *mqh, LoadSpec *spec, LoadRow **rows, int n, int64 bytes, int64 line)
{
	static SendBuf buf;
	int32		n32 = n;

	buf.len = 0;
	put(&buf, &bytes, sizeof(bytes));
	put(&buf, &line, sizeof(line));
	put(&buf, &n32, sizeof(n32));
	for (int i = 0; i < n; i++)
	{
		LoadRow    *row = rows[i];
		uint8		flags = (row->rejected ? 1 : 0) | (row->unterminated ? 2 : 0);

		put(&buf, &row->line, sizeof(row->line));
		put(&buf, &flags, 1);
		put_str(&buf, row->record);
		if (row->rejected)
		{
			int32		nf = row->nfailures;

			put(&buf, &nf, sizeof(nf));
			for (int k = 0; k < nf; k++)
			{
				LoadFailure *fl = &row->failures[k];
				uint8		warn = fl->warn ? 1 : 0;

				put_str(&buf, fl->column);
				put_str(&buf, fl->rule);
				put_str(&buf, fl->value);
				put_str(&buf, fl->message);
				put(&buf, &fl->sqlerrcode, sizeof(fl->sqlerrcode));

				/*
				 * a rejected row's warnings too (a warn rule keeps a load
				 * serial)
				 */
				put(&buf, &warn, 1);
			}
			continue;
		}
		/* fields: the value of a row the target refuses (reject_at_target) */
		put(&buf, &row->nfields, sizeof(row->nfields));
		for (int f = 0; f < row->nfields; f++)
			put_str(&buf, row->fields[f]);
		for (int k = 0; k < spec->nout; k++)
		{
			LoadColumn *c = spec->outcols[k];
			uint8		isnull = row->nulls[k] ? 1 : 0;
			Datum		v = row->values[k];
			const char *p;
			int32		vlen;

			put(&buf, &isnull, 1);
			if (isnull)
				continue;
			if (c->target_byval)
			{
				put(&buf, &v, sizeof(Datum));
				continue;
			}
			if (c->target_typlen == -1)
			{
				struct varlena *vl = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(v));

				p = (const char *) vl;
				vlen = VARSIZE_ANY(vl);
			}
			else
			{
				p = DatumGetPointer(v);
				vlen = datumGetSize(v, false, c->target_typlen);
			}
			put(&buf, &vlen, sizeof(vlen));
			put_align(&buf);
			put(&buf, p, vlen);
		}
	}
	return send_message(mqh, 'B', buf.data, buf.len);
}

/* errors of the reader name the load and line, as the serial path's do */
typedef struct ReaderContext
{
	const char *name;
	const char *source;
	LoadSource *src;
} ReaderContext;

static void
reader_error_context(void *arg)
{
	ReaderContext *rc = (ReaderContext *) arg;

	if (rc->src)
		errcontext("pgetl load \"%s\", line " INT64_FORMAT " of \"%s\"",
				   rc->name, load_source_current_line(rc->src), rc->source);
}

/*
 * pgetl_load_reader_main - the reader: attach to the leader's segment,
 * send errors there, connect as the leader's user with its settings, and
 * read, check and send the source's records batch by batch.
 */
void
pgetl_load_reader_main(Datum main_arg)
{
	dsm_segment *seg;
	shm_toc    *toc;
	LoadShared *fixed;
	shm_mq_handle *mqh;
	char	   *name;
	char	   *source;
	char	   *print;
	LoadSpec   *spec;
	LoadSource *src = NULL;
	CopyFromState cstate = NULL;
	MemoryContext batch_cxt;
	LoadRow   **rows;
	ReaderContext rc = {NULL, NULL, NULL};
	ErrorContextCallback errcb;
	const char *gave_up = NULL;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		proc_exit(0);			/* the leader is gone already */
	toc = shm_toc_attach(PGETL_LOAD_MAGIC, dsm_segment_address(seg));
	if (toc == NULL)
		proc_exit(0);
	fixed = shm_toc_lookup(toc, KEY_FIXED, false);
	{
		shm_mq	   *mq = shm_toc_lookup(toc, KEY_QUEUE, false);

		shm_mq_set_sender(mq, MyProc);
		mqh = shm_mq_attach(mq, seg, NULL);
		pq_redirect_to_shm_mq(seg, mqh);
	}
	name = shm_toc_lookup(toc, KEY_NAME, false);
	source = shm_toc_lookup(toc, KEY_SOURCE, false);
	print = shm_toc_lookup(toc, KEY_PRINT, false);

	BackgroundWorkerInitializeConnectionByOid(fixed->database, fixed->authenticated_user, 0);
	SetClientEncoding(GetDatabaseEncoding());

	/*
	 * The leader's settings, restored in a transaction (check hooks may read
	 * the catalog) that ends before the reader's own, as parallel workers do.
	 */
	StartTransactionCommand();
	RestoreGUCState(shm_toc_lookup(toc, KEY_GUC, false));
	CommitTransactionCommand();

	/*
	 * Never wait long for a lock: the leader, which may hold it (e.g. on a
	 * catalog table it altered), waits for this process, and no deadlock
	 * detector sees that wait.  Before ready, an error means the serial path.
	 */
	SetConfigOption("lock_timeout", "1000", PGC_USERSET, PGC_S_SESSION);
	SetUserIdAndSecContext(fixed->current_user, fixed->sec_context);
	pgstat_report_activity(STATE_RUNNING, "pgetl load reader");
	pgetl_xact_begin();

	spec = load_spec_fetch(name, false);
	/* never wait for a lock: the leader, which may hold it, waits for us */
	if (!ConditionalLockRelationOid(spec->target, AccessShareLock))
		gave_up = "the target is locked";
	else
	{
		load_spec_open_target(spec, NoLock);
		src = load_source_open(source, spec->name);
		cstate = load_source_begin_copy(src, spec);
		/* the progress is the leader's: this process shows none */
		pgstat_progress_end_command();
		rc.name = spec->name;
		rc.source = source;
		rc.src = src;
		errcb.callback = reader_error_context;
		errcb.arg = &rc;
		errcb.previous = error_context_stack;
		error_context_stack = &errcb;
		load_read_header(spec, src, cstate, source, NULL);
		for (int i = 0; i < spec->nout; i++)
			get_typlenbyval(spec->outcols[i]->target_typid, &spec->outcols[i]->target_typlen,
							&spec->outcols[i]->target_byval);
		if (strcmp(spec_fingerprint(spec), print) != 0)
			gave_up = "the spec or its target differ from the leader's";
	}
	if (gave_up)
	{
		send_message(mqh, 'F', gave_up, strlen(gave_up));
		proc_exit(0);
	}
	load_rules_begin(spec);
	if (!send_message(mqh, 'R', NULL, 0))
		proc_exit(0);

	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "pgetl load reader batch",
									  ALLOCSET_DEFAULT_SIZES);
	rows = palloc(sizeof(LoadRow *) * fixed->batch_rows);
	for (;;)
	{
		bool		more;
		int			n;
		MemoryContext old;

		MemoryContextReset(batch_cxt);
		old = MemoryContextSwitchTo(batch_cxt);
		n = load_read_batch(spec, src, cstate, rows, fixed->batch_rows, fixed->batch_bytes,
							NULL, 0, 0, &more);
		if (n > 0)
		{
			load_check_rows(spec, rows, n);
			if (!send_batch(mqh, spec, rows, n, load_source_bytes_processed(cstate),
							load_source_current_line(src)))
				proc_exit(0);	/* the leader is gone */
		}
		MemoryContextSwitchTo(old);
		CHECK_FOR_INTERRUPTS();
		if (!more)
			break;
	}
	{
		int64		end[4];
		struct rusage ru;

		/* bytes and line; the reader's CPU time and page faults (DEBUG1) */
		end[0] = load_source_bytes_processed(cstate);
		end[1] = load_source_current_line(src);
		getrusage(RUSAGE_SELF, &ru);
		end[2] = (int64) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
			ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
		end[3] = ru.ru_minflt;
		error_context_stack = errcb.previous;
		load_source_end(src, cstate);
		load_spec_close_target(spec);
		pgetl_xact_commit();
		send_message(mqh, 'Z', (char *) end, sizeof(end));
	}
	proc_exit(0);
}
