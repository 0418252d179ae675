/*-------------------------------------------------------------------------
 *
 * load_target.c
 *	  Inserting checked rows into the target, isolating the rows the target
 *	  refuses.
 *
 * A batch of rows is inserted by one statement,
 *	  INSERT INTO target (cols) SELECT unnest($1), unnest($2), ...
 * [ON CONFLICT ...], whose parameters are one array per column, run by the
 * executor as the calling role: privileges, partition routing, triggers,
 * constraints, foreign keys and foreign tables all behave as for any
 * INSERT.  The batch runs in a subtransaction; when it fails with an error
 * about the data (NOT NULL, CHECK, unique, foreign key, a trigger's error),
 * it is rolled back and split in halves until the failing rows are alone
 * (pgloader's approach); each of those is rejected with the error.
 *
 * Fast path: a plain table without triggers, rules, row level security or
 * stored generated columns, loaded in append or replace mode, is filled the
 * way COPY fills it (copyfrom.c, CopyMultiInsertBufferFlush): the batch's
 * values go into slots, each slot is checked with ExecConstraints (NOT NULL,
 * CHECK, the partition constraint of a partition), the slots are inserted
 * with table_multi_insert and a BulkInsertState, then their index entries
 * with ExecInsertIndexTuples (unique and exclusion constraints).  The batch
 * still runs in one subtransaction; as the loader knows which row raised the
 * error, it rejects that row with it and inserts the rows before and after
 * it again, instead of splitting the batch in halves.  Since each row is
 * checked against the rows accepted before it, either way rejects the same
 * rows with the same errors.
 *
 * Why COPY's steps are repeated rather than COPY called: COPY FROM converts
 * and inserts in one pass and fails at the first constraint error (its
 * ON_ERROR, 17+, only skips input conversion errors), and its multi-insert
 * buffers (CopyMultiInsertBuffer*) are static in copyfrom.c; what the fast
 * path calls is the executor's and the table AM's public API.  Measured
 * 2026-12-02 on 17 (300,000-row purchases CSV, six rules, serial load, 11
 * interleaved pairs, load average 6.0-6.4 on 2 cores, a build with a
 * temporary switch between the two paths): the fast path took 0.49x the
 * backend CPU (median; wall 0.51x) of the INSERT ... SELECT unnest
 * statement, then written SELECT * FROM unnest($1, $2, ...): a function
 * in FROM, whose rows the executor first stores in a tuplestore.  With
 * unnest() in the select list (ProjectSet, row by row) the statement
 * took 0.83x the time of that form (2026-12-02, 15, serial load of the
 * same file into a partitioned table, 10 runs of each side by side,
 * medians 585 and 705 ms); the 0.49x was not measured again.
 *
 * One BulkInsertState serves the whole load, as in COPY, so that the load
 * goes through one 16 MB ring of shared buffers (BAS_BULKWRITE) instead of
 * evicting the cache.  The pin it keeps on its current buffer belongs to
 * the batch's subtransaction: after a good batch it is released
 * (ReleaseBulkInsertStatePin); when the batch fails, the rollback releases
 * it, and insert_abort first clears bistate->current_buf (access/hio.h),
 * the one field of PostgreSQL's internals the loader writes:
 * ReleaseBulkInsertStatePin cannot be called on the error path (the error
 * may have struck with the buffer still locked; only the rollback releases
 * locks before pins), and no call forgets a pin without releasing it.  The
 * alternative with public calls only, a BulkInsertState per attempt (freed
 * after a good batch, dropped after a failed one), cost nothing measurable
 * (0.98x the backend CPU, wall 1.01x, same rows) but gives every batch a
 * ring of its own, so a large load would go through all of shared buffers.
 *
 * A duplicate key costs no rollback on the fast path when every unique
 * index of the target is an immediate B-tree, no index has expressions or
 * a predicate, the table is a heap and has no exclusion constraint: the
 * index entries are inserted as for a deferred unique constraint
 * (UNIQUE_CHECK_PARTIAL: no error, a possible conflict is reported), and a
 * row with a possible conflict is checked at once, before the next row's
 * entries, as the deferred constraint's check does it (index_insert with
 * UNIQUE_CHECK_EXISTING, in a subtransaction of its own: it raises the very
 * error the immediate check raises, and waits for a conflicting transaction
 * in progress as it does).  A refused row's heap tuple is then deleted by
 * the load itself (its index entries point to a tuple no later row
 * conflicts with, as after a rollback), and the row is rejected with that
 * error once its attempt has succeeded.  With 1% bad rows (1M rows, 1,218
 * duplicate keys), the rollbacks, the re-insertions they caused and the
 * small attempts made to limit them took about 14% of the loading
 * backend's CPU time.
 *
 * Citus: a distributed, reference or Citus local table (any relation in
 * Citus's metadata, pg_dist_partition) is, on the coordinator, a shell whose
 * rows live in shards: it never takes the fast path (which would write into
 * the shell).  Citus runs the batch INSERT ... SELECT unnest(...) as a
 * pull to the coordinator and a COPY into the shards, and reports any error
 * of a worker with SQLSTATE XX000 (multi_copy.c, ReportCopyError), which
 * cannot tell a duplicate key from a broken shard.  So on a Citus table a
 * batch that fails with XX000 is split as for a row-level error, and a
 * single row is inserted by INSERT INTO target (cols) VALUES ($1, ...), a
 * router statement whose errors carry the worker's own SQLSTATE, message
 * and detail (ReportResultError): that error rejects the row, or fails the
 * load, exactly as on a plain table.  An upsert that does nothing on
 * conflict counts the rows it stored with RETURNING, since Citus reports
 * the rows it sent.
 *
 * Isolating a refused row by halving costs a distributed statement per
 * half, ~30 ms each.  So once a batch into a Citus table has failed (and
 * for every batch after the target has refused a row), the loader first
 * foretells, on the coordinator, which rows the shards will refuse -- a
 * NULL in a NOT NULL column; a key of a unique index (of loaded columns,
 * no expression or predicate) that an earlier row of the batch has,
 * compared as the index compares keys (SortSupport of its B-tree
 * ordering and collation); and, only when the other rows still fail as
 * one batch: a one-column key the table already holds, a CHECK
 * constraint of the table (one whose columns are all loaded) that is
 * false, a value of a one-column foreign key the referenced table does
 * not hold (the lookups one query per batch and index or foreign key,
 * made where the loader may read the column; the CHECKs and foreign keys
 * then for every later batch once one of them has foretold a row).  It
 * inserts the other rows as one batch (split in halves if that fails
 * after all), then each row foretold otherwise than by a key alone, by
 * the router statement, which rejects it with the worker's own error,
 * then the rows foretold by a key as described below (where duplicates
 * cannot be skipped, every foretold row alone, in file order).  A foreign
 * key is marked last and its rows go first, so that a row refused by its
 * foreign key is refused for that, not as the duplicate of a later row
 * with its key (on a plain table the unique check comes first, and the
 * foreign key's at the end of the statement).  The foretelling only
 * orders the attempts: what is rejected is decided by the shards.  A
 * foretold row that the shards accept after all is inserted after the
 * other rows of its batch.
 *
 * Duplicate keys without an error: the rows foretold by a unique index's
 * key go to the shards together, as INSERT ... ON CONFLICT (key) DO
 * NOTHING RETURNING key (no two rows of one statement with the same key;
 * a repeated key waits for the next statement, so the first in the file
 * goes first).  A row the shards store is loaded; a row they skip had a
 * duplicate key and is rejected with the error PostgreSQL raises for it
 * on a plain table (SQLSTATE 23505, the message naming the table's index,
 * the key in the detail where the role may read it), built on the
 * coordinator since no worker raised it.  If the statement fails (a row
 * breaks another rule too), its rows are inserted one at a time as above.
 * Not with an upsert (which has its own ON CONFLICT), nor when the table
 * has a row trigger on insert, whose work a skipped row would keep and a
 * refused one undo, or row level security for the role (RETURNING checks
 * SELECT policies), nor for an index whose key columns the role may not
 * SELECT (RETURNING needs it).  Measured on 2026-12-02 (the 1% bad file
 * of test/bench/citus_load_bench.sh, 300,000 rows into 8 shards, 369
 * duplicate ids among its 2,947 rejects; 5 rounds side by side on 2
 * cores): the load took 1.07-1.22 s, against 2.79-2.96 s with the code
 * before, where each duplicate was refused alone (~5 ms of aborted
 * subtransaction each) and the batch's unnest() sat in FROM (which
 * materializes its rows in a tuplestore first).
 *
 * Citus does not pass on the column of a NOT NULL violation:
 * reject_at_target takes it from the worker's (English) message; in
 * another language the reject just names no column.
 *
 * Each row the shards refuse is one aborted subtransaction, and at each
 * abort Citus sends a cancel request (a new connection to the worker's
 * postmaster) and a ROLLBACK TO SAVEPOINT on every connection of the
 * transaction, one after the other (several ms each on a busy machine).
 * Citus opens a connection per shard placement for a COPY, so during a
 * load into a Citus table citus.max_adaptive_executor_pool_size is set to
 * pgetl.citus_load_pool_size (1 by default: one connection per worker
 * node; 0 keeps Citus's setting), restored by load_target_end.
 *
 *-------------------------------------------------------------------------
 */
#include "load.h"

#include <math.h>

#include "access/heapam.h"
#include "nodes/readfuncs.h"
#include "access/stratnum.h"
#include "access/sysattr.h"
#include "utils/syscache.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "access/genam.h"
#include "access/hio.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/sortsupport.h"
#include "utils/typcache.h"
#include "util.h"

typedef struct CitusPredict CitusPredict;

struct LoadTarget
{
	LoadSpec   *spec;
	SPIPlanPtr	plan;
	bool		citus;			/* the target is a Citus table */
	SPIPlanPtr	plan1;			/* Citus: the single-row INSERT ... VALUES */
	char	   *insert_sql;		/* INSERT INTO target (cols) SELECT
								 * unnest($1), ... */
	Oid		   *argtypes;		/* its parameters' (array) types */
	bool		returning;		/* the statements RETURN the rows stored */
	CitusPredict *predict;		/* Citus: what foretells a refused row */
	int			guc_nest;		/* Citus: the GUC level of the pool size, or 0 */
	Oid		   *elemtypes;
	int16	   *typlen;
	bool	   *typbyval;
	char	   *typalign;
	Datum	   *args;
	char	   *argnulls;

	/* the fast path (fast is false when the SPI statement is used) */
	bool		fast;
	bool		do_nothing;		/* upsert that does nothing on conflict */
	EState	   *estate;
	ResultRelInfo *rri;
	BulkInsertState bistate;
	TupleTableSlot **slots;		/* one per row of a batch, created on demand */
	int			nslots;
	int			ndefaults;		/* columns not loaded, filled with defaults */
	int		   *defmap;			/* their attribute numbers - 1 */
	ExprState **defexprs;
	int64		attempted;		/* rows given to the fast path */
	int64		refused;		/* of which the target refused */
	int64		rolled_back;	/* attempts rolled back for a refused row */

	/* duplicate keys without a rollback (see the file header) */
	List	   *arbiters;		/* the unique indexes, or NIL */
	int			npending;		/* rows refused so in the current attempt */
	int		   *pending_row;	/* their indexes in rows[] */
	ErrorData **pending_edata;	/* and their errors */
};

/*
 * fast_path_possible - whether the target can be filled the way COPY fills
 * it, with the same outcome as the INSERT statement: a plain table (no
 * partitioned or foreign table, no view), no triggers (user, foreign key or
 * deferred unique triggers), no rules, no row level security (not even one
 * bypassed by the current role), no stored generated columns, no identity
 * column that is GENERATED ALWAYS among the loaded columns (the INSERT
 * refuses values for it), no unloaded column of a domain type (the INSERT
 * checks the domain on its NULL or default), and append or replace mode.
 * Never a Citus table (a shell on the coordinator).
 * The caller must have INSERT on the table or on every loaded column, as
 * the INSERT would check (check_privileges has failed the load otherwise;
 * checked again here so that the fast path never relies on it).
 */
static bool
fast_path_possible(LoadSpec *spec, bool citus)
{
	Relation	rel = spec->rel;
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			user = GetUserId();
	bool	   *loaded;

	if (citus ||
		spec->mode == LOAD_UPSERT ||
		rel->rd_rel->relkind != RELKIND_RELATION ||
		rel->trigdesc != NULL ||
		rel->rd_rules != NULL ||
		check_enable_rls(RelationGetRelid(rel), InvalidOid, false) != RLS_NONE ||
		(desc->constr && desc->constr->has_generated_stored))
		return false;
	loaded = palloc0(sizeof(bool) * (desc->natts + 1));
	for (int i = 0; i < spec->nout; i++)
	{
		LoadColumn *c = spec->outcols[i];
		Form_pg_attribute att = TupleDescAttr(desc, c->attnum - 1);

		if (c->attnum <= 0 || c->attnum > desc->natts || att->attisdropped ||
			att->attgenerated || att->attidentity == ATTRIBUTE_IDENTITY_ALWAYS ||
			att->atttypid != c->target_typid || att->atttypmod != c->target_typmod)
			return false;
		loaded[c->attnum] = true;
	}
	for (int a = 1; a <= desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a - 1);

		if (!loaded[a] && !att->attisdropped && get_typtype(att->atttypid) == TYPTYPE_DOMAIN)
			return false;
	}
	pfree(loaded);
	if (pg_class_aclcheck(RelationGetRelid(rel), user, ACL_INSERT) != ACLCHECK_OK)
	{
		for (int i = 0; i < spec->nout; i++)
			if (pg_attribute_aclcheck(RelationGetRelid(rel), spec->outcols[i]->attnum, user,
									  ACL_INSERT) != ACLCHECK_OK)
				return false;
	}
	return true;
}

/*
 * unique_arbiters - the unique indexes of a fast-path target whose
 * duplicate keys are found without an error (see the file header), or NIL
 * when the target does not allow it: a table that is not a heap, an index
 * with expressions or a predicate (whose errors could come before the
 * unique check's), a unique index that is not an immediate B-tree, an
 * exclusion constraint.  In the current memory context (the load's).
 */
static List *
unique_arbiters(ResultRelInfo *rri)
{
	Relation	rel = rri->ri_RelationDesc;
	List	   *arbiters = NIL;

	if (rel->rd_rel->relam != HEAP_TABLE_AM_OID)
		return NIL;
	for (int i = 0; i < rri->ri_NumIndices; i++)
	{
		Relation	index = rri->ri_IndexRelationDescs[i];
		IndexInfo  *info = rri->ri_IndexRelationInfo[i];

		if (index == NULL || info->ii_Expressions != NIL || info->ii_Predicate != NIL ||
			info->ii_ExclusionOps != NULL)
		{
			list_free(arbiters);
			return NIL;
		}
		if (!index->rd_index->indisunique)
			continue;
		if (!index->rd_index->indimmediate || index->rd_rel->relam != BTREE_AM_OID)
		{
			list_free(arbiters);
			return NIL;
		}
		arbiters = lappend_oid(arbiters, RelationGetRelid(index));
	}
	return arbiters;
}

/*
 * fast_begin - set up the fast path for the whole load: an executor state
 * with a range table entry of the target (INSERT of the loaded columns, for
 * the "Failing row contains" details of ExecConstraints, which show the
 * inserted columns to a role that may not read the table), a ResultRelInfo
 * with the table's indexes open, a BulkInsertState and the expressions of
 * the defaults of the columns not loaded.  Everything lives in the current
 * memory context (the load's) or the EState; fast_end frees it.
 */
static void
fast_begin(LoadTarget *tgt)
{
	LoadSpec   *spec = tgt->spec;
	Relation	rel = spec->rel;
	TupleDesc	desc = RelationGetDescr(rel);
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	Bitmapset  *inserted = NULL;
	bool	   *loaded = palloc0(sizeof(bool) * (desc->natts + 1));

	for (int i = 0; i < spec->nout; i++)
	{
		inserted = bms_add_member(inserted,
								  spec->outcols[i]->attnum - FirstLowInvalidHeapAttributeNumber);
		loaded[spec->outcols[i]->attnum] = true;
	}
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	tgt->estate = CreateExecutorState();
#ifdef PGETL_HAS_RTE_PERMISSION_INFO
	{
		RTEPermissionInfo *perminfo = makeNode(RTEPermissionInfo);

		perminfo->relid = rte->relid;
		perminfo->inh = false;
		perminfo->requiredPerms = ACL_INSERT;
		perminfo->insertedCols = inserted;
		rte->perminfoindex = 1;
		pgetl_init_range_table(tgt->estate, list_make1(rte), list_make1(perminfo));
	}
#else
	rte->requiredPerms = ACL_INSERT;
	rte->insertedCols = inserted;
	ExecInitRangeTable(tgt->estate, list_make1(rte));
#endif
	tgt->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(tgt->rri, rel, 1, NULL, 0);
	ExecOpenIndices(tgt->rri, false);
	tgt->bistate = GetBulkInsertState();
	tgt->arbiters = unique_arbiters(tgt->rri);

	/* defaults of the columns not loaded, as COPY evaluates them */
	tgt->defmap = palloc(sizeof(int) * desc->natts);
	tgt->defexprs = palloc(sizeof(ExprState *) * desc->natts);
	for (int a = 1; a <= desc->natts; a++)
	{
		Node	   *defexpr;

		if (loaded[a] || TupleDescAttr(desc, a - 1)->attisdropped)
			continue;
		defexpr = build_column_default(rel, a);
		if (defexpr == NULL)
			continue;
		tgt->defmap[tgt->ndefaults] = a - 1;
		tgt->defexprs[tgt->ndefaults] = ExecInitExpr(expression_planner((Expr *) defexpr), NULL);
		tgt->ndefaults++;
	}
	pfree(loaded);
	tgt->fast = true;
}

/*
 * fast_slots - make sure there are n slots for the fast path.  They are made
 * outside any subtransaction (a slot pins its tuple descriptor with the
 * current resource owner) and live in the load's memory until fast_end.
 */
static void
fast_slots(LoadTarget *tgt, int n)
{
	Relation	rel = tgt->rri->ri_RelationDesc;

	if (n > tgt->nslots)
	{
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(tgt));

		if (tgt->slots == NULL)
		{
			tgt->slots = palloc(sizeof(TupleTableSlot *) * n);
			tgt->pending_row = palloc(sizeof(int) * n);
			tgt->pending_edata = palloc(sizeof(ErrorData *) * n);
		}
		else
		{
			tgt->slots = repalloc(tgt->slots, sizeof(TupleTableSlot *) * n);
			tgt->pending_row = repalloc(tgt->pending_row, sizeof(int) * n);
			tgt->pending_edata = repalloc(tgt->pending_edata, sizeof(ErrorData *) * n);
		}
		for (int i = tgt->nslots; i < n; i++)
			tgt->slots[i] = table_slot_create(rel, NULL);
		tgt->nslots = n;
		MemoryContextSwitchTo(old);
	}
}

/* the check of a deferred unique constraint, for load_try */
typedef struct RecheckCall
{
	Relation	index;
	Relation	heap;
	IndexInfo  *info;
	Datum	   *values;
	bool	   *isnull;
	ItemPointer tid;
} RecheckCall;

static void
recheck_call(void *arg)
{
	RecheckCall *rc = (RecheckCall *) arg;

	(void) index_insert(rc->index, rc->values, rc->isnull, rc->tid, rc->heap,
						UNIQUE_CHECK_EXISTING, false, rc->info);
}

/*
 * fast_unique_recheck - rows[row], in slot, may have a duplicate key in the
 * unique indexes listed in recheck (its entries are inserted): check them
 * in the order of the table's indexes, as the immediate checks would, each
 * in a subtransaction.  The first that raises an error refuses the row:
 * its heap tuple is deleted (after a command counter increment: a tuple
 * cannot be deleted by the command that inserted it), and the row and the
 * error are kept for try_insert, which rejects the row once the attempt
 * has succeeded.  An error that is not about the row fails the load.
 */
static void
fast_unique_recheck(LoadTarget *tgt, int row, TupleTableSlot *slot, List *recheck)
{
	ResultRelInfo *rri = tgt->rri;
	ExprContext *econtext = GetPerTupleExprContext(tgt->estate);

	for (int i = 0; i < rri->ri_NumIndices; i++)
	{
		Relation	index = rri->ri_IndexRelationDescs[i];
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];
		RecheckCall rc;
		ErrorData  *edata;

		if (!list_member_oid(recheck, RelationGetRelid(index)))
			continue;
		econtext->ecxt_scantuple = slot;
		FormIndexDatum(rri->ri_IndexRelationInfo[i], slot, tgt->estate, values, isnull);
		rc.index = index;
		rc.heap = rri->ri_RelationDesc;
		rc.info = rri->ri_IndexRelationInfo[i];
		rc.values = values;
		rc.isnull = isnull;
		rc.tid = &slot->tts_tid;
		edata = load_try(recheck_call, NULL, &rc, LOAD_ERRORS_ROW);
		if (edata == NULL)
			continue;			/* the conflicting row went away */
		CommandCounterIncrement();
		simple_table_tuple_delete(rri->ri_RelationDesc, &slot->tts_tid, NULL);
		tgt->pending_row[tgt->npending] = row;
		tgt->pending_edata[tgt->npending] = edata;
		tgt->npending++;
		return;
	}
}

/*
 * fast_insert - insert rows[lo..hi) COPY's way (see the file header).
 * Raises the first error; *at is then the index of the row that raised it,
 * or -1 when it is not known (an error of table_multi_insert itself).  Rows
 * with a duplicate key in tgt->arbiters are refused without an error (see
 * fast_unique_recheck), and counted in tgt->npending.  Runs
 * inside the caller's subtransaction.  Leaks the heap tuples' memory into
 * the current memory context (the batch's).
 */
static void
fast_insert(LoadTarget *tgt, LoadRow **rows, int lo, int hi, volatile int *at)
{
	LoadSpec   *spec = tgt->spec;
	EState	   *estate = tgt->estate;
	ResultRelInfo *rri = tgt->rri;
	Relation	rel = rri->ri_RelationDesc;
	TupleDesc	desc = RelationGetDescr(rel);
	ExprContext *econtext = GetPerTupleExprContext(estate);
	int			n = hi - lo;

	Assert(n <= tgt->nslots);
	for (int i = 0; i < n; i++)
	{
		TupleTableSlot *slot = tgt->slots[i];
		LoadRow    *row = rows[lo + i];

		*at = lo + i;
		ExecClearTuple(slot);
		memset(slot->tts_values, 0, sizeof(Datum) * desc->natts);
		memset(slot->tts_isnull, true, sizeof(bool) * desc->natts);
		for (int k = 0; k < spec->nout; k++)
		{
			AttrNumber	a = spec->outcols[k]->attnum - 1;

			slot->tts_values[a] = row->values[k];
			slot->tts_isnull[a] = row->nulls[k];
		}
		for (int d = 0; d < tgt->ndefaults; d++)
			slot->tts_values[tgt->defmap[d]] =
				ExecEvalExpr(tgt->defexprs[d], econtext, &slot->tts_isnull[tgt->defmap[d]]);
		ExecStoreVirtualTuple(slot);
		if (tgt->ndefaults > 0)
			ExecMaterializeSlot(slot);	/* defaults live in the per-tuple
										 * memory */
		if (desc->constr)
			ExecConstraints(rri, slot, estate);
		if (rel->rd_rel->relispartition)
			ExecPartitionCheck(rri, slot, estate, true);
		ResetPerTupleExprContext(estate);
	}
	*at = -1;
	table_multi_insert(rel, tgt->slots, n, GetCurrentCommandId(true), 0, tgt->bistate);
	if (rri->ri_NumIndices > 0)
	{
		for (int i = 0; i < n; i++)
		{
			List	   *recheck;

			*at = lo + i;
			recheck = pgetl_insert_index_tuples(rri, tgt->slots[i], estate,
												tgt->arbiters != NIL, tgt->arbiters);
			if (recheck != NIL && tgt->arbiters != NIL)
				fast_unique_recheck(tgt, lo + i, tgt->slots[i], recheck);
			list_free(recheck);
			ResetPerTupleExprContext(estate);
		}
	}
	*at = -1;
}

/*
 * fast_end - release what fast_begin set up.
 */
static void
fast_end(LoadTarget *tgt)
{
	if (!tgt->fast)
		return;
	for (int i = 0; i < tgt->nslots; i++)
		ExecDropSingleTupleTableSlot(tgt->slots[i]);
	tgt->nslots = 0;
	FreeBulkInsertState(tgt->bistate);
	table_finish_bulk_insert(tgt->rri->ri_RelationDesc, 0);
	ExecCloseIndices(tgt->rri);
	FreeExecutorState(tgt->estate);
	tgt->fast = false;
}

/* pgetl.citus_load_pool_size (see the file's comment) */
int			pgetl_citus_load_pool_size = 1;

/* load_target_define_gucs - pgetl.citus_load_pool_size */
void
load_target_define_gucs(void)
{
	DefineCustomIntVariable("pgetl.citus_load_pool_size",
							"Connections per Citus worker node that pgetl_load uses for a Citus table (citus.max_adaptive_executor_pool_size during the load).",
							"0 keeps Citus's own setting.  Each row the shards refuse costs a cancel request and a ROLLBACK TO SAVEPOINT on every connection.",
							&pgetl_citus_load_pool_size, 1, 0, 1000, PGC_USERSET, 0,
							NULL, NULL, NULL);
}

/*
 * is_citus_table - whether the relation is in Citus's metadata
 * (pg_catalog.pg_dist_partition: distributed, reference and Citus local
 * tables and their partitions).  False when Citus is not installed in this
 * database.  Read as the extension owner (the catalog is Citus's).
 */
static bool
is_citus_table(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};

	if (!OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE)))
		return false;
	return pgetl_spi_as_owner("SELECT FROM pg_catalog.pg_dist_partition "
							  "WHERE logicalrelid OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) > 0;
}

/*
 * load_target_begin - prepare the batch INSERT (through SPI, which the
 * caller has connected).  Allocated in the current memory context.
 */
LoadTarget *
load_target_begin(LoadSpec *spec)
{
	LoadTarget *tgt = palloc0(sizeof(LoadTarget));
	StringInfoData sql;
	StringInfoData cols;
	StringInfoData conflict;
	Oid		   *argtypes = palloc(sizeof(Oid) * spec->nout);

	tgt->spec = spec;
	tgt->elemtypes = palloc(sizeof(Oid) * spec->nout);
	tgt->typlen = palloc(sizeof(int16) * spec->nout);
	tgt->typbyval = palloc(sizeof(bool) * spec->nout);
	tgt->typalign = palloc(sizeof(char) * spec->nout);
	tgt->args = palloc(sizeof(Datum) * spec->nout);
	tgt->argnulls = palloc(sizeof(char) * spec->nout);
	initStringInfo(&cols);
	for (int i = 0; i < spec->nout; i++)
	{
		LoadColumn *c = spec->outcols[i];

		tgt->elemtypes[i] = c->target_typid;
		argtypes[i] = get_array_type(c->target_typid);
		if (!OidIsValid(argtypes[i]))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot load column \"%s\": type %s has no array type",
							c->target, format_type_be(c->target_typid))));
		get_typlenbyvalalign(c->target_typid, &tgt->typlen[i], &tgt->typbyval[i],
							 &tgt->typalign[i]);
		appendStringInfo(&cols, "%s%s", i ? ", " : "", quote_identifier(c->target));
	}
	tgt->citus = is_citus_table(RelationGetRelid(spec->rel));
	if (tgt->citus && pgetl_citus_load_pool_size > 0)
	{
		/* until load_target_end, or the (sub)transaction's abort */
		tgt->guc_nest = NewGUCNestLevel();
		(void) set_config_option("citus.max_adaptive_executor_pool_size",
								 psprintf("%d", pgetl_citus_load_pool_size),
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, WARNING, false);
	}
	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s (%s) SELECT ", spec->target_name, cols.data);
	for (int i = 0; i < spec->nout; i++)
		appendStringInfo(&sql, "%spg_catalog.unnest($%d)", i ? ", " : "", i + 1);
	tgt->insert_sql = pstrdup(sql.data);
	tgt->argtypes = argtypes;
	initStringInfo(&conflict);
	if (spec->mode == LOAD_UPSERT)
	{
		ListCell   *lc;
		bool		first = true;
		int			updated = 0;

		appendStringInfoString(&conflict, " ON CONFLICT (");
		foreach(lc, spec->conflict_key)
		{
			appendStringInfo(&conflict, "%s%s", first ? "" : ", ", quote_identifier(lfirst(lc)));
			first = false;
		}
		appendStringInfoChar(&conflict, ')');
		if (spec->on_conflict_update)
		{
			StringInfoData set;

			initStringInfo(&set);
			for (int i = 0; i < spec->nout; i++)
			{
				const char *col = spec->outcols[i]->target;
				bool		is_key = false;

				foreach(lc, spec->conflict_key)
					is_key |= strcmp(lfirst(lc), col) == 0;
				if (is_key)
					continue;
				appendStringInfo(&set, "%s%s = EXCLUDED.%s", updated++ ? ", " : "",
								 quote_identifier(col), quote_identifier(col));
			}
			if (updated > 0)
				appendStringInfo(&conflict, " DO UPDATE SET %s", set.data);
		}
		if (updated == 0)
		{
			appendStringInfoString(&conflict, " DO NOTHING");
			tgt->do_nothing = true;
		}
	}

	/*
	 * Citus counts the rows it sent, not those ON CONFLICT DO NOTHING stored:
	 * count the rows RETURNed, read through a CTE (to SPI, Citus's INSERT ...
	 * SELECT sent more rows than it returned, which SPI refuses: XX000
	 * "consistency check on SPI tuple count failed")
	 */
	tgt->returning = tgt->citus && tgt->do_nothing;
	if (tgt->returning)
		appendStringInfoString(&conflict, " RETURNING 1");
	appendStringInfoString(&sql, conflict.data);
	if (tgt->returning)
	{
		char	   *ins = pstrdup(sql.data);

		resetStringInfo(&sql);
		appendStringInfo(&sql, "WITH stored AS (%s) SELECT * FROM stored", ins);
	}
	tgt->plan = SPI_prepare(sql.data, spec->nout, argtypes);
	if (tgt->plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql.data, SPI_result_code_string(SPI_result));
	if (tgt->citus)
	{
		Oid		   *scalartypes = palloc(sizeof(Oid) * spec->nout);

		resetStringInfo(&sql);
		appendStringInfo(&sql, "INSERT INTO %s (%s) VALUES (", spec->target_name, cols.data);
		for (int i = 0; i < spec->nout; i++)
		{
			appendStringInfo(&sql, "%s$%d", i ? ", " : "", i + 1);
			scalartypes[i] = tgt->elemtypes[i];
		}
		appendStringInfo(&sql, ")%s", conflict.data);
		tgt->plan1 = SPI_prepare(sql.data, spec->nout, scalartypes);
		if (tgt->plan1 == NULL)
			elog(ERROR, "could not prepare \"%s\": %s", sql.data, SPI_result_code_string(SPI_result));
	}
	if (fast_path_possible(spec, tgt->citus))
		fast_begin(tgt);
	return tgt;
}

/* the rule name for an error the target raised */
static const char *
target_rule(int sqlerrcode)
{
	switch (sqlerrcode)
	{
		case ERRCODE_NOT_NULL_VIOLATION:
			return "not_null";
		case ERRCODE_CHECK_VIOLATION:
			return "check_constraint";
		case ERRCODE_UNIQUE_VIOLATION:
			return "unique_constraint";
		case ERRCODE_FOREIGN_KEY_VIOLATION:
			return "foreign_key";
		case ERRCODE_EXCLUSION_VIOLATION:
			return "exclusion_constraint";
		case ERRCODE_RAISE_EXCEPTION:
			return "trigger";
		default:
			return "target";
	}
}

/* reject a row with the error the target raised for it alone */
static void
reject_at_target(LoadTarget *tgt, LoadRow *row, ErrorData *edata)
{
	LoadSpec   *spec = tgt->spec;
	const char *column = edata->column_name;
	const char *value = NULL;

	/*
	 * Citus passes a worker's SQLSTATE, message and detail on, not the column
	 * of a NOT NULL violation: take it from the (English) message.
	 */
	if (column == NULL && tgt->citus && edata->sqlerrcode == ERRCODE_NOT_NULL_VIOLATION &&
		edata->message && strncmp(edata->message, "null value in column \"", 22) == 0)
	{
		const char *start = edata->message + 22;
		const char *end = strchr(start, '"');

		if (end)
			column = pnstrdup(start, end - start);
	}

	for (int i = 0; column && i < spec->nout; i++)
	{
		LoadColumn *c = spec->outcols[i];

		if (strcmp(c->target, column) == 0)
		{
			if (c->field >= 0 && c->field < row->nfields)
				value = row->fields[c->field];
			column = c->label;
			break;
		}
	}
	if (edata->detail)
		load_row_reject(row, column, target_rule(edata->sqlerrcode), value, edata->sqlerrcode,
						"%s: %s", edata->message, edata->detail);
	else
		load_row_reject(row, column, target_rule(edata->sqlerrcode), value, edata->sqlerrcode,
						"%s", edata->message);
	load_rules_forget_row(spec, row);
}

/*
 * build_args - the batch INSERT's parameters for rows[lo..hi): one array
 * per column, in the current memory context (the caller frees them).
 */
static void
build_args(LoadTarget *tgt, LoadRow **rows, int lo, int hi)
{
	LoadSpec   *spec = tgt->spec;
	int			n = hi - lo;

	for (int i = 0; i < spec->nout; i++)
	{
		Datum	   *elems = palloc(sizeof(Datum) * n);
		bool	   *enulls = palloc(sizeof(bool) * n);
		int			lb = 1;

		for (int r = 0; r < n; r++)
		{
			elems[r] = rows[lo + r]->values[i];
			enulls[r] = rows[lo + r]->nulls[i];
		}
		tgt->args[i] = PointerGetDatum(construct_md_array(elems, enulls, 1, &n, &lb,
														  tgt->elemtypes[i], tgt->typlen[i],
														  tgt->typbyval[i], tgt->typalign[i]));
		tgt->argnulls[i] = ' ';
		pfree(elems);
		pfree(enulls);
	}
}

/*
 * try_insert - one attempt at inserting rows[lo..hi), in a subtransaction:
 * returns the number of rows inserted, or -1 after a row-level error, which
 * is then in *edata (in the current memory context; the caller frees it)
 * and rolled back, with *at the row that raised it when known (fast path),
 * else -1.  Other errors are raised again.
 */
/* one insert attempt, for load_try */
typedef struct InsertCall
{
	LoadTarget *tgt;
	LoadRow   **rows;
	int			lo;
	int			hi;
	int64		inserted;
	int			where;			/* row that raised the error (fast path) */
} InsertCall;

static void
insert_call(void *arg)
{
	InsertCall *ic = (InsertCall *) arg;
	LoadTarget *tgt = ic->tgt;

	if (tgt->fast)
	{
		fast_insert(tgt, ic->rows, ic->lo, ic->hi, &ic->where);
		ic->inserted = ic->hi - ic->lo - tgt->npending;
		/* a buffer pin must not outlive the subtransaction's resource owner */
		ReleaseBulkInsertStatePin(tgt->bistate);
	}
	else
	{
		bool		single = tgt->citus && ic->hi - ic->lo == 1;
		int			ret = SPI_execute_plan(single ? tgt->plan1 : tgt->plan, tgt->args,
										   tgt->argnulls, false, 0);

		if (ret != (!tgt->returning ? SPI_OK_INSERT :
					single ? SPI_OK_INSERT_RETURNING : SPI_OK_SELECT))
			elog(ERROR, "batch insert failed: %s", SPI_result_code_string(ret));
		ic->inserted = SPI_processed;
	}
}

/*
 * before the rollback, which releases the pin the BulkInsertState may hold:
 * forget it (see the file's header comment)
 */
static void
insert_abort(void *arg)
{
	InsertCall *ic = (InsertCall *) arg;

	if (ic->tgt->fast)
		ic->tgt->bistate->current_buf = InvalidBuffer;
}

static int64
try_insert(LoadTarget *tgt, LoadRow **rows, int lo, int hi, ErrorData **edata, int *at)
{
	LoadSpec   *spec = tgt->spec;
	InsertCall	ic = {tgt, rows, lo, hi, -1, -1};

	bool		single = tgt->citus && hi - lo == 1;

	if (tgt->fast)
		fast_slots(tgt, hi - lo);
	else if (single)
	{
		/* Citus: one row, by the router statement (see the file's comment) */
		for (int i = 0; i < spec->nout; i++)
		{
			tgt->args[i] = rows[lo]->values[i];
			tgt->argnulls[i] = rows[lo]->nulls[i] ? 'n' : ' ';
		}
	}
	else
		build_args(tgt, rows, lo, hi);
	tgt->npending = 0;
	*edata = load_try(insert_call, insert_abort, &ic,
					  tgt->citus && !single ? LOAD_ERRORS_DISTRIBUTED : LOAD_ERRORS_ROW);
	/* the rows refused without a rollback, once their attempt stands */
	for (int i = 0; i < tgt->npending; i++)
	{
		if (*edata == NULL)
			reject_at_target(tgt, rows[tgt->pending_row[i]], tgt->pending_edata[i]);
		FreeErrorData(tgt->pending_edata[i]);
	}
	tgt->npending = 0;
	if (!tgt->fast && !single)
		for (int i = 0; i < spec->nout; i++)
			pfree(DatumGetPointer(tgt->args[i]));
	*at = ic.where;
	return *edata ? -1 : ic.inserted;
}

/*
 * insert_range - insert rows[lo..hi) in a subtransaction; on a row-level
 * error, roll back and isolate the row that failed: when the fast path
 * knows which row raised the error, that row is rejected with it and the
 * rows before and after it are inserted again; otherwise the range is split
 * in halves until the failing row is alone.  Returns the number of rows
 * inserted.
 */
static int64
insert_range(LoadTarget *tgt, LoadRow **rows, int lo, int hi)
{
	int64		total = 0;

	while (lo < hi)
	{
		ErrorData  *edata;
		int			at;
		int64		inserted = try_insert(tgt, rows, lo, hi, &edata, &at);

		if (inserted >= 0)
			return total + inserted;
		tgt->rolled_back++;
		CHECK_FOR_INTERRUPTS();
		if (at >= lo && at < hi)
		{
			/*
			 * Rows before "at" passed every check made before its error (the
			 * ones after it had not been checked); the error is the one this
			 * row raises after the rows accepted before it, as when it is
			 * inserted alone.
			 */
			if (at > lo)
				total += insert_range(tgt, rows, lo, at);
			reject_at_target(tgt, rows[at], edata);
			lo = at + 1;
			continue;
		}
		if (hi - lo == 1)
		{
			reject_at_target(tgt, rows[lo], edata);
			return total;
		}
		FreeErrorData(edata);
		return total + insert_range(tgt, rows, lo, lo + (hi - lo) / 2) +
			insert_range(tgt, rows, lo + (hi - lo) / 2, hi);
	}
	return total;
}

/* ---- Citus: foretelling the rows the shards will refuse ---- */

/* a unique index whose key columns are all loaded */
typedef struct PredictIndex
{
	int			nkeys;
	int		   *outcol;			/* loaded column (spec->outcols) of each key */
	SortSupport ssup;			/* the index's ordering of each key column */
	int16	   *typlen;			/* each key column's type's length */
	bool	   *typbyval;		/* and passing */
	bool		readable;		/* the loader may SELECT every key column (to
								 * look keys up, or RETURN them) */
	char	   *query;			/* one-column key: SELECT key FROM target
								 * WHERE key = ANY($1), or NULL */
	Oid			arraytype;
	Oid			indexoid;
	SPIPlanPtr	skip_plan;		/* the batch INSERT ... ON CONFLICT (key) DO
								 * NOTHING RETURNING key, once prepared */
} PredictIndex;

/* a CHECK constraint whose columns are all loaded */
typedef struct PredictCheck
{
	ExprState  *state;
} PredictCheck;

/* a one-column foreign key of a loaded column */
typedef struct PredictFkey
{
	int			outcol;			/* the loaded column */
	char	   *query;			/* SELECT ref::type FROM referenced WHERE ref
								 * = ANY($1) */
	Oid			arraytype;
	SortSupportData ssup;		/* the column type's ordering */
} PredictFkey;

struct CitusPredict
{
	bool		skip;			/* conflicts may be skipped (see the file's
								 * comment) */
	int			nindexes;
	PredictIndex *indexes;
	int			nchecks;
	PredictCheck *checks;
	bool		checks_found;	/* a CHECK has foretold a refused row */
	int			nfkeys;
	PredictFkey *fkeys;
	bool		fkeys_found;	/* a foreign key has foretold a refused row */
	bool	   *notnull;		/* by loaded column */
	EState	   *estate;
	TupleTableSlot *slot;		/* the table's row type, for the CHECKs */
	int		   *attoutcol;		/* attnum - 1 -> loaded column, or -1 */
};

/* the loaded column of attribute attnum, or -1 */
static int
outcol_of(LoadSpec *spec, AttrNumber attnum)
{
	for (int k = 0; k < spec->nout; k++)
		if (spec->outcols[k]->attnum == attnum)
			return k;
	return -1;
}

/*
 * predict_begin - what can foretell a refused row on this target (see the
 * file's comment), in the load's memory.
 */
static CitusPredict *
predict_begin(LoadTarget *tgt)
{
	LoadSpec   *spec = tgt->spec;
	Relation	rel = spec->rel;
	TupleDesc	desc = RelationGetDescr(rel);
	CitusPredict *p = palloc0(sizeof(CitusPredict));
	List	   *indexes = RelationGetIndexList(rel);
	List	   *fkeys;
	ListCell   *lc;

	/*
	 * Conflicts are skipped only where a refused row and a skipped one leave
	 * the same trace: no upsert (its own ON CONFLICT) and no row trigger on
	 * insert, whose work a skipped row would keep and a refused one undo.
	 */
	p->skip = spec->mode != LOAD_UPSERT &&
		check_enable_rls(RelationGetRelid(rel), InvalidOid, true) != RLS_ENABLED;
	for (int i = 0; rel->trigdesc && i < rel->trigdesc->numtriggers; i++)
	{
		Trigger    *trig = &rel->trigdesc->triggers[i];

		if (!trig->tgisinternal && TRIGGER_FOR_ROW(trig->tgtype) &&
			TRIGGER_FOR_INSERT(trig->tgtype))
			p->skip = false;
	}
	p->notnull = palloc0(sizeof(bool) * spec->nout);
	for (int k = 0; k < spec->nout; k++)
		p->notnull[k] = TupleDescAttr(desc, spec->outcols[k]->attnum - 1)->attnotnull;
	p->attoutcol = palloc(sizeof(int) * desc->natts);
	for (int a = 0; a < desc->natts; a++)
		p->attoutcol[a] = outcol_of(spec, a + 1);

	p->indexes = palloc0(sizeof(PredictIndex) * (list_length(indexes) + 1));
	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index ind;
		PredictIndex *pi = &p->indexes[p->nindexes];
		bool		usable = true;

		if (!HeapTupleIsValid(tup))
			continue;
		ind = (Form_pg_index) GETSTRUCT(tup);
		if (!ind->indisunique || !ind->indimmediate ||
			!heap_attisnull(tup, Anum_pg_index_indexprs, NULL) ||
			!heap_attisnull(tup, Anum_pg_index_indpred, NULL))
		{
			ReleaseSysCache(tup);
			continue;
		}
		pi->indexoid = ind->indexrelid;
		pi->nkeys = ind->indnkeyatts;
		pi->outcol = palloc(sizeof(int) * pi->nkeys);
		pi->typlen = palloc(sizeof(int16) * pi->nkeys);
		pi->typbyval = palloc(sizeof(bool) * pi->nkeys);
		for (int i = 0; i < pi->nkeys; i++)
		{
			pi->outcol[i] = outcol_of(spec, ind->indkey.values[i]);
			usable &= pi->outcol[i] >= 0;
			if (pi->outcol[i] >= 0)
				get_typlenbyval(spec->outcols[pi->outcol[i]]->target_typid,
								&pi->typlen[i], &pi->typbyval[i]);
		}
		ReleaseSysCache(tup);
		if (!usable)
			continue;
		pi->readable = true;
		if (pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			for (int i = 0; i < pi->nkeys; i++)
				pi->readable &= pg_attribute_aclcheck(RelationGetRelid(rel),
													  spec->outcols[pi->outcol[i]]->attnum,
													  GetUserId(), ACL_SELECT) == ACLCHECK_OK;
		/* keys are equal as the index (a B-tree: unique) finds them equal */
		{
			Relation	irel = index_open(pi->indexoid, AccessShareLock);

			pi->ssup = palloc0(sizeof(SortSupportData) * pi->nkeys);
			for (int i = 0; i < pi->nkeys; i++)
			{
				pi->ssup[i].ssup_cxt = CurrentMemoryContext;
				pi->ssup[i].ssup_collation = irel->rd_indcollation[i];
				pi->ssup[i].ssup_nulls_first = false;
				pi->ssup[i].ssup_attno = i + 1;
				PrepareSortSupportFromIndexRel(irel, BTLessStrategyNumber, &pi->ssup[i]);
			}
			index_close(irel, AccessShareLock);
		}
		if (pi->nkeys == 1 && pi->readable &&
			OidIsValid(pi->arraytype = get_array_type(spec->outcols[pi->outcol[0]]->target_typid)))
		{
			LoadColumn *c = spec->outcols[pi->outcol[0]];

			pi->query = psprintf("SELECT %s FROM %s WHERE %s OPERATOR(pg_catalog.=) ANY ($1)",
								 quote_identifier(c->target), spec->target_name,
								 quote_identifier(c->target));
		}
		p->nindexes++;
	}
	list_free(indexes);

	/* one-column foreign keys the loader may look up */
	fkeys = RelationGetFKeyList(rel);
	p->fkeys = palloc0(sizeof(PredictFkey) * (list_length(fkeys) + 1));
	foreach(lc, fkeys)
	{
		ForeignKeyCacheInfo *fk = lfirst_node(ForeignKeyCacheInfo, lc);
		PredictFkey *pf = &p->fkeys[p->nfkeys];
		LoadColumn *c;
		TypeCacheEntry *tc;
		const char *ref;

		if (fk->nkeys != 1 || (pf->outcol = outcol_of(spec, fk->conkey[0])) < 0)
			continue;
		c = spec->outcols[pf->outcol];
		pf->arraytype = get_array_type(c->target_typid);
		tc = lookup_type_cache(c->target_typid, TYPECACHE_LT_OPR);
		if (!OidIsValid(pf->arraytype) || !OidIsValid(tc->lt_opr) ||
			(pg_class_aclcheck(fk->confrelid, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
			 pg_attribute_aclcheck(fk->confrelid, fk->confkey[0], GetUserId(), ACL_SELECT) != ACLCHECK_OK))
			continue;
		pf->ssup.ssup_cxt = CurrentMemoryContext;
		pf->ssup.ssup_collation = TupleDescAttr(desc, c->attnum - 1)->attcollation;
		PrepareSortSupportFromOrderingOp(tc->lt_opr, &pf->ssup);
		ref = quote_identifier(get_attname(fk->confrelid, fk->confkey[0], false));
		pf->query = psprintf("SELECT %s::%s FROM %s.%s WHERE %s OPERATOR(pg_catalog.=) ANY ($1)",
							 ref, format_type_be_qualified(c->target_typid),
							 quote_identifier(get_namespace_name(get_rel_namespace(fk->confrelid))),
							 quote_identifier(get_rel_name(fk->confrelid)), ref);
		p->nfkeys++;
	}

	p->estate = CreateExecutorState();
	p->slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	if (desc->constr && desc->constr->num_check > 0)
	{
		p->checks = palloc0(sizeof(PredictCheck) * desc->constr->num_check);
		for (int i = 0; i < desc->constr->num_check; i++)
		{
			ConstrCheck *cc = &desc->constr->check[i];
			Node	   *expr;
			Bitmapset  *atts = NULL;
			int			a = -1;
			bool		usable = true;

			if (!cc->ccvalid)
				continue;
			expr = stringToNode(cc->ccbin);
			pull_varattnos(expr, 1, &atts);
			while ((a = bms_next_member(atts, a)) >= 0)
			{
				AttrNumber	attnum = a + FirstLowInvalidHeapAttributeNumber;

				usable &= attnum > 0 && p->attoutcol[attnum - 1] >= 0;
			}
			if (!usable)
				continue;
			p->checks[p->nchecks++].state = ExecPrepareCheck(list_make1(expr), p->estate);
		}
	}
	return p;
}

/*
 * Keys of a unique index, compared as the index compares them (its B-tree
 * ordering, collation included), so that what it finds equal is a
 * duplicate here too.
 */
typedef struct KeyRow
{
	Datum	   *vals;			/* the key's values, one per key column */
	int			row;			/* its row in the batch (or entry) */
} KeyRow;

static int
key_cmp(const Datum *x, const Datum *y, PredictIndex *pi)
{
	for (int i = 0; i < pi->nkeys; i++)
	{
		int			c = ApplySortComparator(x[i], false, y[i], false, &pi->ssup[i]);

		if (c != 0)
			return c;
	}
	return 0;
}

/* by key */
static int
keyrow_key_cmp(const void *a, const void *b, void *arg)
{
	return key_cmp(((const KeyRow *) a)->vals, ((const KeyRow *) b)->vals, (PredictIndex *) arg);
}

/* by key, then row */
static int
keyrow_cmp(const void *a, const void *b, void *arg)
{
	int			c = keyrow_key_cmp(a, b, arg);

	return c != 0 ? c : (((const KeyRow *) a)->row > ((const KeyRow *) b)->row) -
		(((const KeyRow *) a)->row < ((const KeyRow *) b)->row);
}

/* whether keys[0..n), sorted, holds the key vals */
static bool
key_found(const KeyRow *keys, int n, Datum *vals, PredictIndex *pi)
{
	KeyRow		probe = {vals, -1};

	return bsearch_arg(&probe, keys, n, sizeof(KeyRow), keyrow_key_cmp, pi) != NULL;
}

/*
 * row_key - the key of rows[r] into *key (values in vals, nkeys of them),
 * or false when a key column is NULL (never a duplicate)
 */
static bool
row_key(PredictIndex *pi, LoadRow **rows, int r, Datum *vals, KeyRow *key)
{
	for (int i = 0; i < pi->nkeys; i++)
	{
		if (rows[r]->nulls[pi->outcol[i]])
			return false;
		vals[i] = rows[r]->values[pi->outcol[i]];
	}
	key->vals = vals;
	key->row = r;
	return true;
}

/*
 * foretelling_failed - in a PG_CATCH of the foretelling's subtransaction:
 * roll it back and go on (an error only means that less is foretold), but
 * raise a cancel, a shutdown or a lack of resources again (SQLSTATE
 * classes 57 and 53), which are not about the rows.
 */
static void
foretelling_failed(MemoryContext cxt, ResourceOwner owner)
{
	ErrorData  *edata = CopyErrorData();

	FlushErrorState();
	load_rollback_subtransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION ||
		ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_INSUFFICIENT_RESOURCES)
		ReThrowError(edata);
	FreeErrorData(edata);
}

/*
 * lookup_values - run query (SELECT v FROM ... WHERE ... = ANY ($1)) with
 * $1 the array of elems[0..n) of type elemtype, as the caller, and return
 * the non-NULL values it returns (copies, of type elemtype, in the current
 * memory context; *nfound of them).  An error (a policy, a broken shard, a
 * missing operator) just returns nothing: what is looked up only orders
 * the attempts.
 */
static Datum *
lookup_values(const char *query, Oid arraytype, Oid elemtype, Datum *elems, int n, int *nfound)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Datum	   *volatile found = NULL;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			lb = 1;

	*nfound = 0;
	if (n == 0)
		return NULL;
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		Oid			argtypes[1] = {arraytype};
		Datum		args[1];

		args[0] = PointerGetDatum(construct_md_array(elems, NULL, 1, &n, &lb, elemtype,
													 typlen, typbyval, typalign));
		if (SPI_execute_with_args(query, 1, argtypes, args, NULL, true, 0) == SPI_OK_SELECT)
		{
			found = palloc(sizeof(Datum) * (SPI_processed + 1));
			for (uint64 i = 0; i < SPI_processed; i++)
			{
				bool		isnull;
				Datum		v = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

				if (!isnull)
					found[(*nfound)++] = datumCopy(v, typbyval, typlen);
			}
		}
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		foretelling_failed(cxt, owner);
		*nfound = 0;
	}
	PG_END_TRY();
	return found;
}

/*
 * predict_existing - mark the rows whose one-column key the table already
 * holds (one query, lookup_values).
 */
static void
predict_existing(LoadTarget *tgt, int index, LoadRow **rows, int nrows, bool *suspect, int *why)
{
	PredictIndex *pi = &tgt->predict->indexes[index];
	int			k = pi->outcol[0];
	Datum	   *elems = palloc(sizeof(Datum) * nrows);
	int			n = 0;
	Datum	   *vals;
	KeyRow	   *found;
	int			nfound;

	for (int r = 0; r < nrows; r++)
		if (!suspect[r] && !rows[r]->nulls[k])
			elems[n++] = rows[r]->values[k];
	vals = lookup_values(pi->query, pi->arraytype, tgt->spec->outcols[k]->target_typid,
						 elems, n, &nfound);
	pfree(elems);
	if (nfound == 0)
		return;
	found = palloc(sizeof(KeyRow) * nfound);
	for (int i = 0; i < nfound; i++)
	{
		found[i].vals = &vals[i];
		found[i].row = i;
	}
	qsort_arg(found, nfound, sizeof(KeyRow), keyrow_cmp, pi);
	for (int r = 0; r < nrows; r++)
	{
		if (suspect[r] || rows[r]->nulls[k])
			continue;
		if (key_found(found, nfound, &rows[r]->values[k], pi))
		{
			suspect[r] = true;
			why[r] = index;
		}
	}
	pfree(found);
}

static int
datum_cmp(const void *a, const void *b, void *arg)
{
	return ApplySortComparator(*(const Datum *) a, false, *(const Datum *) b, false,
							   (SortSupport) arg);
}

/*
 * predict_fkeys - mark the rows whose value of a one-column foreign key the
 * referenced table does not hold (one query per foreign key,
 * lookup_values).
 */
static void
predict_fkeys(LoadTarget *tgt, LoadRow **rows, int nrows, bool *suspect)
{
	CitusPredict *p = tgt->predict;
	Datum	   *elems = palloc(sizeof(Datum) * nrows);

	for (int f = 0; f < p->nfkeys; f++)
	{
		PredictFkey *pf = &p->fkeys[f];
		int			k = pf->outcol;
		int			n = 0;
		int			nfound;
		Datum	   *found;

		for (int r = 0; r < nrows; r++)
			if (!suspect[r] && !rows[r]->nulls[k])
				elems[n++] = rows[r]->values[k];
		if (n == 0)
			continue;
		found = lookup_values(pf->query, pf->arraytype, tgt->spec->outcols[k]->target_typid,
							  elems, n, &nfound);
		if (found == NULL)
			continue;			/* the query failed: nothing foretold */
		qsort_arg(found, nfound, sizeof(Datum), datum_cmp, &pf->ssup);
		for (int r = 0; r < nrows; r++)
			if (!suspect[r] && !rows[r]->nulls[k] &&
				!bsearch_arg(&rows[r]->values[k], found, nfound, sizeof(Datum), datum_cmp, &pf->ssup))
			{
				suspect[r] = true;
				p->fkeys_found = true;
			}
		pfree(found);
	}
	pfree(elems);
}

/*
 * predict_checks - mark the rows a CHECK constraint (of loaded columns)
 * refuses; an error while evaluating them foretells nothing more.
 */
static void
predict_checks(LoadTarget *tgt, LoadRow **rows, int nrows, bool *suspect)
{
	CitusPredict *p = tgt->predict;
	TupleDesc	desc = p->slot->tts_tupleDescriptor;
	ExprContext *econtext = GetPerTupleExprContext(p->estate);
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		for (int r = 0; r < nrows; r++)
		{
			if (suspect[r])
				continue;
			ExecClearTuple(p->slot);
			for (int a = 0; a < desc->natts; a++)
			{
				int			k = p->attoutcol[a];

				p->slot->tts_values[a] = k >= 0 ? rows[r]->values[k] : (Datum) 0;
				p->slot->tts_isnull[a] = k >= 0 ? rows[r]->nulls[k] : true;
			}
			ExecStoreVirtualTuple(p->slot);
			econtext->ecxt_scantuple = p->slot;
			for (int i = 0; i < p->nchecks && !suspect[r]; i++)
				if (!ExecCheck(p->checks[i].state, econtext))
				{
					suspect[r] = true;
					p->checks_found = true;
				}
			ResetExprContext(econtext);
		}
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		foretelling_failed(cxt, owner);
	}
	PG_END_TRY();
}

/*
 * predict_refused - mark in suspect[] the rows the shards will probably
 * refuse (see the file's comment), and in why[] the unique index (its
 * number in predict->indexes) whose key foretold a row (the caller has set
 * why[] to -1).  The keys the table already holds (a distributed query
 * per index) only when existing; the CHECK constraints and foreign keys
 * only then too, or once one has foretold a row (rows that break one are
 * rarer than duplicates, as a load's rules usually check the same).
 */
static void
predict_refused(LoadTarget *tgt, LoadRow **rows, int nrows, bool *suspect, int *why,
				bool existing)
{
	CitusPredict *p = tgt->predict;

	for (int r = 0; r < nrows; r++)
		for (int k = 0; k < tgt->spec->nout && !suspect[r]; k++)
			if (p->notnull[k] && rows[r]->nulls[k])
				suspect[r] = true;
	if (p->nchecks > 0 && (existing || p->checks_found))
		predict_checks(tgt, rows, nrows, suspect);
	for (int i = 0; i < p->nindexes; i++)
	{
		PredictIndex *pi = &p->indexes[i];
		KeyRow	   *keys = palloc(sizeof(KeyRow) * nrows);
		Datum	   *vals = palloc(sizeof(Datum) * nrows * pi->nkeys);
		int			n = 0;

		/*
		 * a key an earlier row of the batch has (rows refused for another
		 * reason aside)
		 */
		for (int r = 0; r < nrows; r++)
			if (!suspect[r] && row_key(pi, rows, r, &vals[n * pi->nkeys], &keys[n]))
				n++;
		qsort_arg(keys, n, sizeof(KeyRow), keyrow_cmp, pi);
		for (int j = 1; j < n; j++)
			if (key_cmp(keys[j].vals, keys[j - 1].vals, pi) == 0)
			{
				suspect[keys[j].row] = true;
				why[keys[j].row] = i;
			}
		pfree(keys);
		pfree(vals);
		/* a key the table holds */
		if (existing && pi->query)
			predict_existing(tgt, i, rows, nrows, suspect, why);
	}

	/*
	 * Last, as a row refused by its foreign key (checked after its unique
	 * keys) still has its keys: a later row with the same key is its
	 * duplicate.
	 */
	if (p->nfkeys > 0 && (existing || p->fkeys_found))
		predict_fkeys(tgt, rows, nrows, suspect);
}

/* one INSERT ... ON CONFLICT (key) DO NOTHING RETURNING key, for load_try */
typedef struct SkipCall
{
	LoadTarget *tgt;
	PredictIndex *pi;
	KeyRow	   *stored;			/* out: the keys of the rows stored */
	int			nstored;
} SkipCall;

static void
skip_call(void *arg)
{
	SkipCall   *sc = (SkipCall *) arg;
	PredictIndex *pi = sc->pi;
	int			ret = SPI_execute_plan(pi->skip_plan, sc->tgt->args, sc->tgt->argnulls, false, 0);

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "batch insert failed: %s", SPI_result_code_string(ret));
	sc->stored = palloc(sizeof(KeyRow) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		KeyRow	   *key = &sc->stored[sc->nstored++];

		key->vals = palloc(sizeof(Datum) * pi->nkeys);
		key->row = i;
		for (int k = 0; k < pi->nkeys; k++)
		{
			bool		isnull;
			Datum		v = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, k + 1, &isnull);

			/* (a key the statement stored has no NULL) */
			key->vals[k] = isnull ? (Datum) 0 : datumCopy(v, pi->typbyval[k], pi->typlen[k]);
		}
	}
}

/*
 * reject_conflict - reject a row the shards skipped as a duplicate key of
 * index pi, with the error PostgreSQL raises for it (_bt_check_unique: the
 * same SQLSTATE, message and detail, the detail only where the role may
 * see the key, BuildIndexValueDescription), naming the table's index.
 */
static void
reject_conflict(LoadTarget *tgt, PredictIndex *pi, LoadRow *row)
{
	Relation	irel = index_open(pi->indexoid, AccessShareLock);
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	ErrorData  *edata = palloc0(sizeof(ErrorData));
	char	   *key;

	for (int i = 0; i < pi->nkeys; i++)
	{
		values[i] = row->values[pi->outcol[i]];
		isnull[i] = row->nulls[pi->outcol[i]];
	}
	key = BuildIndexValueDescription(irel, values, isnull);
	edata->elevel = ERROR;
	edata->sqlerrcode = ERRCODE_UNIQUE_VIOLATION;
	edata->message = psprintf(_("duplicate key value violates unique constraint \"%s\""),
							  RelationGetRelationName(irel));
	if (key)
		edata->detail = psprintf(_("Key %s already exists."), key);
	index_close(irel, AccessShareLock);
	reject_at_target(tgt, row, edata);
	FreeErrorData(edata);
}

static int
keyrow_row_cmp(const void *a, const void *b)
{
	const KeyRow *x = a;
	const KeyRow *y = b;

	return (x->row > y->row) - (x->row < y->row);
}

/*
 * skip_conflicts - insert the rows foretold by a unique index's key
 * (why[r] >= 0) without an error per duplicate: per index, one statement
 * INSERT ... ON CONFLICT (its key) DO NOTHING RETURNING the key, whose
 * rows all have different keys (a key repeated among them waits for the
 * next statement, so the first in the file is tried first).  The shards
 * decide: a row they store is loaded, a row they skip is rejected with
 * the unique violation it would have raised (reject_conflict).  A
 * statement that fails (the rows break another rule too) leaves its rows,
 * and the rest of that index's, to the caller (why[] -1 and suspect[]
 * still set).  Clears suspect[] of the rows it decided; returns the rows
 * inserted.
 */
static int64
skip_conflicts(LoadTarget *tgt, LoadRow **rows, int nrows, bool *suspect, int *why)
{
	CitusPredict *p = tgt->predict;
	LoadRow   **round = palloc(sizeof(LoadRow *) * nrows);
	KeyRow	   *keys = palloc(sizeof(KeyRow) * nrows);
	int64		inserted = 0;

	for (int i = 0; i < p->nindexes; i++)
	{
		PredictIndex *pi = &p->indexes[i];
		Datum	   *vals;

		/* (its rows, still suspect, are then inserted alone by the caller) */
		if (!pi->readable)
			continue;
		vals = palloc(sizeof(Datum) * nrows * pi->nkeys);
		for (;;)
		{
			SkipCall	sc = {tgt, pi, NULL, 0};
			ErrorData  *edata;
			int			n = 0;
			int			m = 0;

			for (int r = 0; r < nrows; r++)
			{
				if (!suspect[r] || why[r] != i)
					continue;
				if (row_key(pi, rows, r, &vals[n * pi->nkeys], &keys[n]))
					n++;
				else
					why[r] = -1;
			}
			if (n == 0)
				break;
			/* the first row of each key, in file order */
			qsort_arg(keys, n, sizeof(KeyRow), keyrow_cmp, pi);
			for (int j = 0; j < n; j++)
				if (j == 0 || key_cmp(keys[j].vals, keys[j - 1].vals, pi) != 0)
					keys[m++] = keys[j];
			qsort(keys, m, sizeof(KeyRow), keyrow_row_cmp);
			for (int j = 0; j < m; j++)
				round[j] = rows[keys[j].row];

			if (pi->skip_plan == NULL)
			{
				StringInfoData sql;

				initStringInfo(&sql);
				appendStringInfo(&sql, "WITH stored AS (%s ON CONFLICT (", tgt->insert_sql);
				for (int k = 0; k < pi->nkeys; k++)
					appendStringInfo(&sql, "%s%s", k ? ", " : "",
									 quote_identifier(tgt->spec->outcols[pi->outcol[k]]->target));
				appendStringInfoString(&sql, ") DO NOTHING RETURNING ");
				for (int k = 0; k < pi->nkeys; k++)
					appendStringInfo(&sql, "%s%s", k ? ", " : "",
									 quote_identifier(tgt->spec->outcols[pi->outcol[k]]->target));
				appendStringInfoString(&sql, ") SELECT * FROM stored");
				pi->skip_plan = SPI_prepare(sql.data, tgt->spec->nout, tgt->argtypes);
				if (pi->skip_plan == NULL)
					elog(ERROR, "could not prepare \"%s\": %s", sql.data,
						 SPI_result_code_string(SPI_result));
			}
			build_args(tgt, round, 0, m);
			edata = load_try(skip_call, NULL, &sc, LOAD_ERRORS_DISTRIBUTED);
			for (int k = 0; k < tgt->spec->nout; k++)
				pfree(DatumGetPointer(tgt->args[k]));
			if (edata)
			{
				/* each row alone, by the caller */
				FreeErrorData(edata);
				for (int r = 0; r < nrows; r++)
					if (suspect[r] && why[r] == i)
						why[r] = -1;
				break;
			}
			qsort_arg(sc.stored, sc.nstored, sizeof(KeyRow), keyrow_cmp, pi);
			for (int j = 0; j < m; j++)
			{
				int			r = keys[j].row;

				suspect[r] = false;
				if (key_found(sc.stored, sc.nstored, keys[j].vals, pi))
					inserted++;
				else
					reject_conflict(tgt, pi, rows[r]);
			}
		}
		pfree(vals);
	}
	pfree(round);
	pfree(keys);
	return inserted;
}

/* the rows of rows[] that suspect[] does not mark, in order, into out[] */
static int
unmarked_rows(LoadRow **rows, int nrows, const bool *suspect, LoadRow **out)
{
	int			n = 0;

	for (int r = 0; r < nrows; r++)
		if (!suspect[r])
			out[n++] = rows[r];
	return n;
}

/*
 * citus_insert - insert a batch into a Citus table: as one statement while
 * the target has refused nothing; else (or when that fails) the rows not
 * foretold to be refused as one batch, then each row foretold otherwise
 * than by a key alone, in file order, then the rows foretold by a key
 * (skip_conflicts; alone, in file order, where it does not apply).  The
 * keys the table already holds and the foreign keys are looked up
 * (distributed queries), and the CHECKs evaluated, only when the rows
 * foretold otherwise -- NULLs, keys repeated in the batch -- have been
 * set aside and the others still fail as one batch (the CHECKs and
 * foreign keys for every batch once one has foretold a row).  Returns the
 * rows inserted.
 */
static int64
citus_insert(LoadTarget *tgt, LoadRow **rows, int nrows)
{
	int64		inserted = 0;
	bool	   *suspect;
	int		   *why;
	LoadRow   **likely;
	int			nlikely;
	bool		more = false;	/* the second foretelling may foretell more */
	ErrorData  *edata;
	int			at;

	if (tgt->refused == 0 || nrows == 1)
	{
		inserted = try_insert(tgt, rows, 0, nrows, &edata, &at);
		if (inserted >= 0)
			return inserted;
		if (nrows == 1)
		{
			reject_at_target(tgt, rows[0], edata);
			return 0;
		}
		FreeErrorData(edata);
		inserted = 0;
	}
	if (tgt->predict == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(tgt));

		tgt->predict = predict_begin(tgt);
		MemoryContextSwitchTo(old);
	}
	for (int i = 0; i < tgt->predict->nindexes; i++)
		more |= tgt->predict->indexes[i].query != NULL;
	more |= tgt->predict->nchecks > 0 && !tgt->predict->checks_found;
	more |= tgt->predict->nfkeys > 0 && !tgt->predict->fkeys_found;
	suspect = palloc0(sizeof(bool) * nrows);
	why = palloc(sizeof(int) * nrows);
	for (int r = 0; r < nrows; r++)
		why[r] = -1;
	likely = palloc(sizeof(LoadRow *) * nrows);
	predict_refused(tgt, rows, nrows, suspect, why, false);
	nlikely = unmarked_rows(rows, nrows, suspect, likely);
	if (more && nlikely > 0)
	{
		int64		n = try_insert(tgt, likely, 0, nlikely, &edata, &at);

		if (n >= 0)
		{
			inserted += n;
			nlikely = 0;
		}
		else
		{
			/* look the keys up and evaluate the CHECKs, then as above */
			FreeErrorData(edata);
			predict_refused(tgt, rows, nrows, suspect, why, true);
			nlikely = unmarked_rows(rows, nrows, suspect, likely);
		}
	}
	inserted += insert_range(tgt, likely, 0, nlikely);
	if (tgt->predict->skip)
	{
		/*
		 * the rows foretold otherwise first, so that a row refused by its
		 * foreign key is refused for that, not as a duplicate of a later row
		 */
		for (int r = 0; r < nrows; r++)
			if (suspect[r] && why[r] < 0)
			{
				inserted += insert_range(tgt, rows, r, r + 1);
				suspect[r] = false;
			}
		inserted += skip_conflicts(tgt, rows, nrows, suspect, why);
	}
	for (int r = 0; r < nrows; r++)
		if (suspect[r])
			inserted += insert_range(tgt, rows, r, r + 1);
	pfree(suspect);
	pfree(why);
	pfree(likely);
	return inserted;
}

/*
 * load_target_insert - insert the rows (all have passed the rules); rows
 * the target refuses are marked rejected.  Returns the rows inserted (or
 * updated, in upsert mode).
 *
 * On the fast path, a refused row (but a duplicate key found without an
 * error, see the file header) costs the rollback of every row inserted
 * with it in the attempt (the whole attempt's heap tuples, and the index
 * entries before it) and their second insertion.  Once attempts have been
 * rolled back, the batch is therefore inserted in chunks (each one
 * attempt, i.e. one subtransaction) of about sqrt(s / 1.5p) rows, where p is
 * the share of rows that caused a rollback so far and s the cost of a
 * subtransaction in rows, which minimizes s / chunk + 1.5 p chunk per row.  Rows are still
 * tried in file order against the rows accepted before them, so the
 * outcome is the same whatever the chunks.
 */
#define LOAD_SUBXACT_ROWS 8.0
#define LOAD_MIN_CHUNK 16

int64
load_target_insert(LoadTarget *tgt, LoadRow **rows, int nrows)
{
	int64		inserted = 0;
	int			chunk = nrows;

	if (nrows == 0)
		return 0;
	if (tgt->citus)
	{
		inserted = citus_insert(tgt, rows, nrows);
		tgt->attempted += nrows;
		tgt->refused += nrows - inserted;
		return inserted;
	}
	if (!tgt->fast)
		return insert_range(tgt, rows, 0, nrows);
	if (tgt->rolled_back > 0)
	{
		double		p = (double) tgt->rolled_back / tgt->attempted;
		double		best = sqrt(LOAD_SUBXACT_ROWS / (1.5 * p));

		chunk = best >= nrows ? nrows : Max((int) best, LOAD_MIN_CHUNK);
	}
	for (int lo = 0; lo < nrows; lo += chunk)
		inserted += insert_range(tgt, rows, lo, Min(lo + chunk, nrows));
	tgt->attempted += nrows;
	tgt->refused += nrows - inserted;
	return inserted;
}

/*
 * load_target_skips_conflicts - whether the target's INSERT silently skips
 * conflicting rows (upsert with on_conflict nothing, or with only key
 * columns to update).
 */
bool
load_target_skips_conflicts(LoadTarget *tgt)
{
	return tgt->do_nothing;
}

/* load_target_is_citus - whether the target is a Citus table (see above) */
bool
load_target_is_citus(LoadTarget *tgt)
{
	return tgt->citus;
}

/*
 * load_target_end - release the prepared statement and the fast path's
 * executor state, indexes and slots.
 */
void
load_target_end(LoadTarget *tgt)
{
	fast_end(tgt);
	if (tgt->predict)
	{
		for (int i = 0; i < tgt->predict->nindexes; i++)
			if (tgt->predict->indexes[i].skip_plan)
				SPI_freeplan(tgt->predict->indexes[i].skip_plan);
		ExecDropSingleTupleTableSlot(tgt->predict->slot);
		FreeExecutorState(tgt->predict->estate);
		tgt->predict = NULL;
	}
	if (tgt->plan)
		SPI_freeplan(tgt->plan);
	tgt->plan = NULL;
	if (tgt->plan1)
		SPI_freeplan(tgt->plan1);
	tgt->plan1 = NULL;
	if (tgt->guc_nest > 0)
		AtEOXact_GUC(true, tgt->guc_nest);
	tgt->guc_nest = 0;
}
