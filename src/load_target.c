/*-------------------------------------------------------------------------
 *
 * load_target.c
 *	  Inserting checked rows into the target, isolating the rows the target
 *	  refuses.
 *
 * A batch of rows is inserted by one statement,
 *	  INSERT INTO target (cols) SELECT * FROM unnest($1, $2, ...)
 * [ON CONFLICT ...], whose parameters are one array per column, run by the
 * executor as the calling role: privileges, partition routing, triggers,
 * constraints, foreign keys and foreign tables all behave as for any
 * INSERT.  The batch runs in a subtransaction; when it fails with an error
 * about the data (NOT NULL, CHECK, unique, foreign key, a trigger's error),
 * it is rolled back and split in halves until the failing rows are alone
 * (pgloader's approach); each of those is rejected with the error.
 *
 *-------------------------------------------------------------------------
 */
#include "load.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

struct LoadTarget
{
	LoadSpec   *spec;
	SPIPlanPtr	plan;
	Oid		   *elemtypes;
	int16	   *typlen;
	bool	   *typbyval;
	char	   *typalign;
	Datum	   *args;
	char	   *argnulls;
};

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
	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s (%s) SELECT * FROM unnest(", spec->target_name, cols.data);
	for (int i = 0; i < spec->nout; i++)
		appendStringInfo(&sql, "%s$%d", i ? ", " : "", i + 1);
	appendStringInfoChar(&sql, ')');
	if (spec->mode == LOAD_UPSERT)
	{
		ListCell   *lc;
		bool		first = true;
		int			updated = 0;

		appendStringInfoString(&sql, " ON CONFLICT (");
		foreach(lc, spec->conflict_key)
		{
			appendStringInfo(&sql, "%s%s", first ? "" : ", ", quote_identifier(lfirst(lc)));
			first = false;
		}
		appendStringInfoChar(&sql, ')');
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
				appendStringInfo(&sql, " DO UPDATE SET %s", set.data);
		}
		if (updated == 0)
			appendStringInfoString(&sql, " DO NOTHING");
	}
	tgt->plan = SPI_prepare(sql.data, spec->nout, argtypes);
	if (tgt->plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql.data, SPI_result_code_string(SPI_result));
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
 * insert_range - insert rows[lo..hi) in a subtransaction; on a row-level
 * error, roll back and split.  Returns the number of rows inserted.
 */
static int64
insert_range(LoadTarget *tgt, LoadRow **rows, int lo, int hi)
{
	LoadSpec   *spec = tgt->spec;
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	int			n = hi - lo;
	int64		inserted = 0;
	ErrorData  *edata = NULL;

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

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		int			ret = SPI_execute_plan(tgt->plan, tgt->args, tgt->argnulls, false, 0);

		if (ret != SPI_OK_INSERT)
			elog(ERROR, "batch insert failed: %s", SPI_result_code_string(ret));
		inserted = SPI_processed;
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (!load_error_is_row_level(edata->sqlerrcode))
			ReThrowError(edata);
	}
	PG_END_TRY();
	for (int i = 0; i < spec->nout; i++)
		pfree(DatumGetPointer(tgt->args[i]));

	if (edata == NULL)
		return inserted;
	if (n == 1)
	{
		reject_at_target(tgt, rows[lo], edata);
		return 0;
	}
	FreeErrorData(edata);
	CHECK_FOR_INTERRUPTS();
	return insert_range(tgt, rows, lo, lo + n / 2) + insert_range(tgt, rows, lo + n / 2, hi);
}

/*
 * load_target_insert - insert the rows (all have passed the rules); rows
 * the target refuses are marked rejected.  Returns the rows inserted (or
 * updated, in upsert mode).
 */
int64
load_target_insert(LoadTarget *tgt, LoadRow **rows, int nrows)
{
	if (nrows == 0)
		return 0;
	return insert_range(tgt, rows, 0, nrows);
}

void
load_target_end(LoadTarget *tgt)
{
	if (tgt->plan)
		SPI_freeplan(tgt->plan);
	tgt->plan = NULL;
}
