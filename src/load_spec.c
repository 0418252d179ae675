/*-------------------------------------------------------------------------
 *
 * load_spec.c
 *	  Load specs: reading one from pgetl's catalog and compiling it, and
 *	  the user-facing functions that define, drop and stage.
 *
 * A spec is stored by pgetl._define_load (src/sql/60_load.sql), which runs
 * as the extension owner and checks the shape of the JSON; what it stores is
 * the document (pgetl.load_spec's columns and options), which is read back
 * here by key, and nothing derived from it but ref_relids (the tables of
 * "references", resolved here when the spec is defined).  Everything that
 * runs user-defined code -- type input functions for min, max and allowed,
 * domains, check expressions -- is compiled here, as the calling role, both
 * when the spec is defined (so that a bad spec is refused at once) and when
 * it is loaded (so that a spec whose types changed fails clearly).
 * The queries of "references" and of the expectations are the spec owner's:
 * they are planned (and later run, load_rules.c) as the owner, in a
 * restricted security context with search_path pinned, and the owner's
 * SELECT privilege on what they read is checked both times.
 *
 *-------------------------------------------------------------------------
 */
#include "load.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_collation.h"
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_relation.h"
#include "parser/parse_type.h"
#include "parser/parser.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/acl.h"
#include "utils/plancache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "util.h"

PG_FUNCTION_INFO_V1(pgetl_define_load);
PG_FUNCTION_INFO_V1(pgetl_drop_load);
PG_FUNCTION_INFO_V1(pgetl_stage);
PG_FUNCTION_INFO_V1(pgetl_drop_stage);
PG_FUNCTION_INFO_V1(pgetl_check_load_task);

/* What is being compiled, for the error context */
typedef struct CompileContext
{
	const char *load;
	const char *column;
	const char *what;
} CompileContext;

/*
 * compile_error_context - "load spec "x", column "y", min" on errors raised
 * while compiling.
 */
static void
compile_error_context(void *arg)
{
	CompileContext *cc = (CompileContext *) arg;

	if (cc->column && cc->what)
		errcontext("load spec \"%s\", column \"%s\", %s", cc->load, cc->column, cc->what);
	else if (cc->what)
		errcontext("load spec \"%s\", %s", cc->load, cc->what);
}

/*
 * load_owner_query - run a query as the extension owner inside the current
 * SPI connection (the caller has connected); see pgetl_spi_as_owner.
 */
static uint64
load_owner_query(const char *sql, int nargs, Oid *types, Datum *values,
				 const char *nulls)
{
	return pgetl_spi_as_owner(sql, nargs, types, values, nulls, false, 0);
}

/*
 * The catalog's rows are read by column name (pgetl_spi_getvalue and
 * pgetl_spi_getbinval raise an error for a name the query lacks), so that a
 * column added to a query cannot shift another.
 */

/* Text of column "col" of row r of SPI_tuptable, palloc'd in cxt, or NULL */
static char *
spi_text(int r, const char *col, MemoryContext cxt)
{
	char	   *v = pgetl_spi_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, col);
	char	   *copy;

	if (v == NULL)
		return NULL;
	copy = MemoryContextStrdup(cxt, v);
	pfree(v);
	return copy;
}

/* Boolean column "col" of row r of SPI_tuptable (NULL is false) */
static bool
spi_bool(int r, const char *col)
{
	bool		isnull;
	Datum		d = pgetl_spi_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, col, &isnull);

	return !isnull && DatumGetBool(d);
}

/* Oid column "col" of row r of SPI_tuptable (NULL is InvalidOid) */
static Oid
spi_oid(int r, const char *col)
{
	bool		isnull;
	Datum		d = pgetl_spi_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? InvalidOid : DatumGetObjectId(d);
}

/* Array-of-text column "col" of row r as a C string array in cxt */
static char **
spi_text_array(int r, const char *col, int *count, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = pgetl_spi_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, col, &isnull);
	Datum	   *elems;
	bool	   *enulls;
	int			nelems;
	char	  **result;
	MemoryContext old;

	*count = 0;
	if (isnull)
		return NULL;
	old = MemoryContextSwitchTo(cxt);
	deconstruct_array(DatumGetArrayTypePCopy(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &enulls, &nelems);
	result = palloc0(sizeof(char *) * (nelems + 1));
	for (int i = 0; i < nelems; i++)
		result[i] = enulls[i] ? NULL : TextDatumGetCString(elems[i]);
	MemoryContextSwitchTo(old);
	*count = nelems;
	return result;
}

/* free a compiled regex when the load's memory goes away */
static void
free_regex(void *arg)
{
	pg_regfree((regex_t *) arg);
}

/*
 * compile_pattern - compile a PostgreSQL regular expression (ARE) into
 * memory owned by the current memory context; the compiled form, which the
 * regex library allocates on its own, is freed with that context.
 */
static regex_t *
compile_pattern(const char *pattern)
{
	int			len = strlen(pattern);
	pg_wchar   *wpat = palloc((len + 1) * sizeof(pg_wchar));
	int			wlen = pg_mb2wchar_with_len(pattern, wpat, len);
	regex_t    *re = palloc(sizeof(regex_t));
	MemoryContextCallback *cb;
	int			rc;

	rc = pg_regcomp(re, wpat, wlen, REG_ADVANCED, DEFAULT_COLLATION_OID);
	if (rc != REG_OKAY)
	{
		char		msg[128];

		pg_regerror(rc, re, msg, sizeof(msg));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
				 errmsg("invalid regular expression: %s", msg)));
	}
	cb = palloc(sizeof(MemoryContextCallback));
	cb->func = free_regex;
	cb->arg = re;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	pfree(wpat);
	return re;
}

/*
 * set_precheck - pick the fast syntax check for a type whose input function
 * is known, so that most values convert without a subtransaction.  Read on
 * PostgreSQL 15 only: 16+ converts with soft errors (load_rules.c).
 */
static void
set_precheck(LoadColumn *c)
{
	c->precheck = LOAD_PRECHECK_NONE;
	c->text_limit = -1;
	if (c->format_kind != LOAD_FORMAT_NONE)
		return;
	switch (c->typid)
	{
		case INT2OID:
			c->precheck = LOAD_PRECHECK_INT2;
			break;
		case INT4OID:
			c->precheck = LOAD_PRECHECK_INT4;
			break;
		case INT8OID:
			c->precheck = LOAD_PRECHECK_INT8;
			break;
		case NUMERICOID:
			c->precheck = LOAD_PRECHECK_NUMERIC;
			break;
		case FLOAT4OID:
		case FLOAT8OID:
			c->precheck = LOAD_PRECHECK_FLOAT;
			break;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			c->precheck = LOAD_PRECHECK_TEXT;
			if (c->typid != TEXTOID && c->typmod >= VARHDRSZ)
				c->text_limit = c->typmod - VARHDRSZ;
			break;
		default:
			break;
	}
}

/*
 * convert_rule_value - a min or max value of the spec, converted with the
 * column's type input function as the calling role.
 */
static Datum
convert_rule_value(LoadColumn *c, const char *value)
{
	return InputFunctionCall(&c->infunc, (char *) value, c->ioparam, c->typmod);
}

/*
 * load_spec_become_owner - act as the spec's owner, in a restricted
 * security context (no SET ROLE, no temporary objects) and with
 * search_path pinned to pg_catalog, pg_temp, to run the owner's queries
 * (references, expectations): whoever runs the load never lends them
 * their rights, and the caller's search_path never reaches them.  Undo
 * with pgetl_restore_user; on an error, the transaction's (or
 * subtransaction's) abort undoes it.
 */
void
load_spec_become_owner(LoadSpec *spec, PgetlUserSwitch *sw)
{
	GetUserIdAndSecContext(&sw->save_userid, &sw->save_sec_context);
	sw->save_nestlevel = NewGUCNestLevel();
	pgetl_pin_search_path(GUC_ACTION_SAVE);
	SetUserIdAndSecContext(spec->owner, sw->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
}

/*
 * load_catalog_has_column - whether pgetl's table has that column: the
 * library of a newer version also runs in a database whose extension is
 * not updated yet (0.1 lacks the columns of the 0.2 rules).
 */
bool
load_catalog_has_column(const char *table, const char *column)
{
	Oid			nsp = get_namespace_oid("pgetl", true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid(table, nsp) : InvalidOid;

	return OidIsValid(rel) && get_attnum(rel, column) != InvalidAttrNumber;
}

/*
 * owner_can_select - error unless the spec's owner may SELECT the column
 * (what references and expectations read, as the owner).
 */
static void
owner_can_select(LoadSpec *spec, Oid relid, AttrNumber attnum, const char *what)
{
	char	   *rel;

	if (pg_class_aclcheck(relid, spec->owner, ACL_SELECT) == ACLCHECK_OK ||
		pg_attribute_aclcheck(relid, attnum, spec->owner, ACL_SELECT) == ACLCHECK_OK)
		return;
	rel = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for table %s", rel),
			 errdetail("The owner of load \"%s\", %s, reads column \"%s\" of %s for %s.",
					   spec->name, GetUserNameFromId(spec->owner, false),
					   get_attname(relid, attnum, false), rel, what),
			 errhint("GRANT SELECT (%s) ON %s TO %s.", quote_identifier(get_attname(relid, attnum, false)),
					 rel, quote_identifier(GetUserNameFromId(spec->owner, false)))));
}

/*
 * compile_references - resolve the table of a "references" rule (when the
 * spec is defined: by the defining role's search_path, then kept by OID;
 * at load: by that OID), check its column, its type and the owner's SELECT
 * privilege, and prepare the batch query, as the owner: which of a batch's
 * distinct values (as text) exist there.
 */
static void
compile_references(LoadSpec *spec, LoadColumn *c)
{
	AttrNumber	attnum;
	Oid			base;
	TypeCacheEntry *tce;
	HeapTuple	optup;
	Form_pg_operator oper;
	char	   *sql;
	Oid			argtype = TEXTARRAYOID;
	PgetlUserSwitch sw;
	bool		isvarlena;
	Oid			outfunc;

	if (spec->defining)
	{
		List	   *names = pgetl_qualified_name_list(c->ref_table);
		Oid			types[3] = {INT8OID, INT4OID, OIDOID};
		Datum		values[3];

		c->ref_relid = RangeVarGetRelid(makeRangeVarFromNameList(names), AccessShareLock, true);
		if (!OidIsValid(c->ref_relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"%s\" does not exist", c->ref_table),
					 errhint("\"references\" names a table as you would in a query now: schema-qualified, or found in your search_path.")));
		values[0] = Int64GetDatum(spec->spec_id);
		values[1] = Int32GetDatum(c->ordinal);
		values[2] = ObjectIdGetDatum(c->ref_relid);
		/* _define_load made ref_relids an array of one NULL per column */
		load_owner_query("UPDATE pgetl.load_spec SET ref_relids[$2] = $3::pg_catalog.regclass "
						 "WHERE spec_id OPERATOR(pg_catalog.=) $1",
						 3, types, values, NULL);
	}
	else if (!OidIsValid(c->ref_relid) || get_rel_name(c->ref_relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the table that column \"%s\" of load \"%s\" references, %s, no longer exists",
						c->label, spec->name, c->ref_table),
				 errhint("Redefine the load with pgetl_define_load().")));
	else
		LockRelationOid(c->ref_relid, AccessShareLock);
	attnum = get_attnum(c->ref_relid, c->ref_column);
	c->ref_name = psprintf("%s.%s",
						   quote_qualified_identifier(get_namespace_name(get_rel_namespace(c->ref_relid)),
													  get_rel_name(c->ref_relid)),
						   quote_identifier(c->ref_column));
	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation %s does not exist", c->ref_column,
						quote_qualified_identifier(get_namespace_name(get_rel_namespace(c->ref_relid)),
												   get_rel_name(c->ref_relid)))));
	c->ref_typid = get_atttype(c->ref_relid, attnum);
	base = getBaseType(c->ref_typid);
	if (!OidIsValid(c->typid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("references needs a type"),
				 errhint("Give the column a \"type\".")));
	if (getBaseType(c->typid) != base)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" is checked as %s, but %s is of type %s",
						c->label, c->typname, c->ref_name, format_type_be(c->ref_typid)),
				 errhint("Give the column \"type\": \"%s\".", format_type_be(base))));
	tce = lookup_type_cache(base, TYPECACHE_EQ_OPR);
	if (!OidIsValid(tce->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("type %s has no equality operator, so references cannot be checked",
						format_type_be(base))));
	owner_can_select(spec, c->ref_relid, attnum, psprintf("the references rule of column \"%s\"", c->label));
	optup = SearchSysCache1(OPEROID, ObjectIdGetDatum(tce->eq_opr));
	if (!HeapTupleIsValid(optup))
		elog(ERROR, "cache lookup failed for operator %u", tce->eq_opr);
	oper = (Form_pg_operator) GETSTRUCT(optup);
	sql = psprintf("SELECT x.v FROM pg_catalog.unnest($1) AS x(v) "
				   "WHERE EXISTS (SELECT FROM %s r WHERE r.%s OPERATOR(%s.%s) x.v::%s)",
				   quote_qualified_identifier(get_namespace_name(get_rel_namespace(c->ref_relid)),
											  get_rel_name(c->ref_relid)),
				   quote_identifier(c->ref_column),
				   quote_identifier(get_namespace_name(oper->oprnamespace)),
				   NameStr(oper->oprname), format_type_be_qualified(base));
	ReleaseSysCache(optup);
	getTypeOutputInfo(c->typid, &outfunc, &isvarlena);
	fmgr_info(outfunc, &c->ref_outfunc);

	/*
	 * A generic plan: planned once for any batch (an index probe per value
	 * when the column has an index), rather than for each batch's values.
	 */
	load_spec_become_owner(spec, &sw);
	c->ref_plan = SPI_prepare_cursor(sql, 1, &argtype, CURSOR_OPT_GENERIC_PLAN);
	pgetl_restore_user(&sw);
	if (c->ref_plan == NULL)
		elog(ERROR, "could not prepare the references query of column \"%s\": %s",
			 c->label, SPI_result_code_string(SPI_result));
}

/*
 * compile_expectations - check the expectations against the target (the
 * columns they name exist and the owner may read them) and prepare the
 * sql ones as the owner: each must be one SELECT of one boolean column.
 */
static void
compile_expectations(LoadSpec *spec, CompileContext *cc)
{
	LoadExpect *e = &spec->expect;
	char	  **lists[2] = {e->unique, e->not_null};
	int			counts[2] = {e->nunique, e->nnot_null};
	const char *names[2] = {"expectation unique", "expectation not_null"};

	for (int l = 0; l < 2; l++)
		for (int i = 0; i < counts[l]; i++)
		{
			AttrNumber	attnum = get_attnum(spec->target, lists[l][i]);

			cc->what = names[l];
			if (attnum == InvalidAttrNumber)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" of relation %s does not exist", lists[l][i], spec->target_name),
						 errhint("Redefine load \"%s\" with pgetl_define_load().", spec->name)));
			owner_can_select(spec, spec->target, attnum, names[l]);
		}
	if (e->fresh_column)
	{
		AttrNumber	attnum = get_attnum(spec->target, e->fresh_column);
		Oid			base;

		cc->what = "expectation freshness";
		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation %s does not exist", e->fresh_column, spec->target_name),
					 errhint("Redefine load \"%s\" with pgetl_define_load().", spec->name)));
		base = getBaseType(get_atttype(spec->target, attnum));
		if (base != DATEOID && base != TIMESTAMPOID && base != TIMESTAMPTZOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("expectation freshness needs a date, timestamp or timestamptz column, not \"%s\"",
							e->fresh_column)));
		owner_can_select(spec, spec->target, attnum, "expectation freshness");
	}
	e->sql_plans = palloc0(sizeof(SPIPlanPtr) * (e->nsql + 1));
	for (int i = 0; i < e->nsql; i++)
	{
		PgetlUserSwitch sw;
		List	   *sources;
		CachedPlanSource *ps;

		cc->what = psprintf("expectation sql[%d]", i + 1);
		load_spec_become_owner(spec, &sw);
		e->sql_plans[i] = SPI_prepare(e->sql[i], 0, NULL);
		pgetl_restore_user(&sw);
		if (e->sql_plans[i] == NULL)
			elog(ERROR, "could not prepare expectation sql[%d]: %s", i + 1,
				 SPI_result_code_string(SPI_result));
		sources = SPI_plan_get_plan_sources(e->sql_plans[i]);
		ps = list_length(sources) == 1 ? (CachedPlanSource *) linitial(sources) : NULL;
		if (ps != NULL)
		{
			ListCell   *lc;

			/* a read-only SELECT: no data-modifying WITH, no FOR UPDATE */
			foreach(lc, ps->query_list)
			{
				Query	   *q = lfirst_node(Query, lc);

				if (q->commandType != CMD_SELECT || q->hasModifyingCTE || q->rowMarks != NIL)
					ps = NULL;
			}
		}
		if (ps == NULL || ps->commandTag != CMDTAG_SELECT || ps->resultDesc == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("expectation sql[%d] must be one SELECT statement: %s", i + 1, e->sql[i]),
					 errhint("For example: \"SELECT count(*) > 0 FROM public.sales WHERE region = 'north'\".")));
		if (ps->resultDesc->natts != 1 || TupleDescAttr(ps->resultDesc, 0)->atttypid != BOOLOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("expectation sql[%d] must return one boolean column: %s", i + 1, e->sql[i]),
					 errhint("The load fails unless the first row's value is true.")));
	}
	cc->what = NULL;
}

/*
 * compile_column - resolve the types of one spec column and compile its
 * rules.  Everything is allocated in the current memory context.
 */
static void
compile_column(LoadSpec *spec, LoadColumn *c, const char *type, CompileContext *cc)
{
	Oid			infunc;
	Oid			target_collation = InvalidOid;

	cc->column = c->label;
	if (c->target)
	{
		AttrNumber	attnum = get_attnum(spec->target, c->target);

		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation %s does not exist",
							c->target, spec->target_name),
					 errhint("Redefine load \"%s\" with pgetl_define_load().", spec->name)));
		c->attnum = attnum;
		get_atttypetypmodcoll(spec->target, attnum, &c->target_typid,
							  &c->target_typmod, &target_collation);
	}

	/* the type the field is checked as */
	c->typid = InvalidOid;
	c->typmod = -1;
	if (type)
	{
		cc->what = "type";
		parseTypeString(type, &c->typid, &c->typmod, false);
		if (c->target && c->typid == c->target_typid && c->typmod < 0)
			c->typmod = c->target_typmod;
	}
	else if (c->target)
	{
		c->typid = c->target_typid;
		c->typmod = c->target_typmod;
	}
	if (OidIsValid(c->typid))
	{
		if (get_typtype(c->typid) == TYPTYPE_PSEUDO)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" cannot be checked as pseudo-type %s",
							c->label, format_type_be(c->typid))));
		c->typname = format_type_with_typemod(c->typid, c->typmod);
		getTypeInputInfo(c->typid, &infunc, &c->ioparam);
		fmgr_info(infunc, &c->infunc);
		c->collation = OidIsValid(target_collation) ? target_collation : get_typcollation(c->typid);
		if (!OidIsValid(c->collation) && type_is_collatable(c->typid))
			c->collation = DEFAULT_COLLATION_OID;
	}

	/* format: date and time types only */
	c->format_kind = LOAD_FORMAT_NONE;
	if (c->format)
	{
		char	   *fmt = text_to_cstring(c->format);
		text	   *sample;

		cc->what = "format";
		if (c->typid == DATEOID)
			c->format_kind = LOAD_FORMAT_DATE;
		else if (c->typid == TIMESTAMPOID)
			c->format_kind = LOAD_FORMAT_TIMESTAMP;
		else if (c->typid == TIMESTAMPTZOID)
			c->format_kind = LOAD_FORMAT_TIMESTAMPTZ;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("format applies to date, timestamp and timestamptz columns, not to %s",
							OidIsValid(c->typid) ? c->typname : "untyped columns"),
					 errhint("Give the column \"type\": \"date\" (or a timestamp type), or remove \"format\".")));

		/*
		 * A format must name a year (outside "quoted text"), and a sample
		 * timestamp printed with it must read back to the same text.
		 */
		{
			bool		quoted = false;
			bool		year = false;
			text	   *back;

			for (const char *p = fmt; *p; p++)
			{
				if (*p == '"')
					quoted = !quoted;
				else if (!quoted && (*p == 'Y' || *p == 'y'))
					year = true;
			}
			sample = DatumGetTextPP(DirectFunctionCall2(timestamp_to_char,
														TimestampGetDatum((Timestamp) 36993906000000),
														PointerGetDatum(c->format)));
			back = DatumGetTextPP(DirectFunctionCall2(timestamptz_to_char,
													  DirectFunctionCall2(to_timestamp,
																		  PointerGetDatum(sample),
																		  PointerGetDatum(c->format)),
													  PointerGetDatum(c->format)));
			if (!year || strcmp(text_to_cstring(sample), text_to_cstring(back)) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
						 errmsg("format \"%s\" does not describe a date", fmt),
						 errdetail("A format needs at least a year pattern and must read back what it prints."),
						 errhint("Use to_date() template patterns, e.g. \"DD/MM/YY\" or \"YYYY-MM-DD HH24:MI:SS\".")));
		}
	}

	/* the checked value is converted to the target type when types differ */
	c->recast = c->target && OidIsValid(c->typid) &&
		(c->typid != c->target_typid || c->typmod != c->target_typmod);
	if (c->recast)
	{
		Oid			outfunc;
		bool		isvarlena;

		getTypeOutputInfo(c->typid, &outfunc, &isvarlena);
		fmgr_info(outfunc, &c->outfunc);
		getTypeInputInfo(c->target_typid, &infunc, &c->target_ioparam);
		fmgr_info(infunc, &c->target_infunc);
	}
	set_precheck(c);

	/* min and max, compared with the type's btree ordering */
	if (c->min_text || c->max_text)
	{
		TypeCacheEntry *tce;

		cc->what = "min and max";
		if (!OidIsValid(c->typid))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("min and max need a type"),
					 errhint("Give the column a \"type\".")));
		tce = lookup_type_cache(c->typid, TYPECACHE_CMP_PROC_FINFO);
		if (!OidIsValid(tce->cmp_proc_finfo.fn_oid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("type %s has no ordering, so min and max cannot be checked", c->typname)));
		fmgr_info_copy(&c->cmp, &tce->cmp_proc_finfo, CurrentMemoryContext);
		if (c->min_text)
		{
			cc->what = "min";
			c->min = convert_rule_value(c, c->min_text);
			c->has_min = true;
		}
		if (c->max_text)
		{
			cc->what = "max";
			c->max = convert_rule_value(c, c->max_text);
			c->has_max = true;
		}
		if (c->has_min && c->has_max &&
			DatumGetInt32(FunctionCall2Coll(&c->cmp, c->collation, c->min, c->max)) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("min %s is greater than max %s", c->min_text, c->max_text)));
	}
	if (c->max_decimals >= 0 && OidIsValid(c->typid) &&
		!(c->typid == NUMERICOID || c->typid == FLOAT4OID || c->typid == FLOAT8OID))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_decimals applies to numeric and float columns, not to %s", c->typname)));
	if (c->pattern_text)
	{
		cc->what = "pattern";
		c->pattern = compile_pattern(c->pattern_text);
	}
	if (c->not_pattern_text)
	{
		cc->what = "not_pattern";
		c->not_pattern = compile_pattern(c->not_pattern_text);
	}
	if (c->allowed && OidIsValid(c->typid))
	{
		/* each allowed value must be a valid value of the type */
		cc->what = "allowed";
		for (int i = 0; i < c->nallowed; i++)
			if (c->allowed[i])
				(void) convert_rule_value(c, c->allowed[i]);
	}
	if (c->not_allowed && OidIsValid(c->typid))
	{
		cc->what = "not_allowed";
		for (int i = 0; i < c->nnot_allowed; i++)
			if (c->not_allowed[i])
				(void) convert_rule_value(c, c->not_allowed[i]);
	}
	if (c->ref_table)
	{
		cc->what = "references";
		compile_references(spec, c);
	}
	cc->what = NULL;
	cc->column = NULL;
}

/*
 * compile_check - parse and analyze a check expression over the target's
 * columns, as a CHECK constraint would be (no subqueries, no aggregates),
 * and prepare it for execution.
 */
static void
compile_check(LoadSpec *spec, LoadCheck *ck, CompileContext *cc)
{
	ParseState *pstate = make_parsestate(NULL);
	ParseNamespaceItem *nsitem;
	List	   *raw;
	SelectStmt *stmt = NULL;
	Node	   *expr;

	cc->what = psprintf("check \"%s\"", ck->name);
	pstate->p_sourcetext = NULL;	/* positions would be those of the wrapper */
	raw = raw_parser(psprintf("SELECT (%s)", ck->expression), RAW_PARSE_DEFAULT);
	if (list_length(raw) == 1 && IsA(linitial_node(RawStmt, raw)->stmt, SelectStmt))
		stmt = (SelectStmt *) linitial_node(RawStmt, raw)->stmt;
	if (stmt == NULL || list_length(stmt->targetList) != 1 || stmt->fromClause ||
		stmt->whereClause || stmt->groupClause || stmt->havingClause ||
		stmt->windowClause || stmt->sortClause || stmt->limitCount ||
		stmt->limitOffset || stmt->lockingClause || stmt->withClause ||
		stmt->distinctClause || stmt->valuesLists || stmt->op != SETOP_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("check \"%s\" is not a single expression: %s", ck->name, ck->expression),
				 errhint("A check is a boolean SQL expression over the target's columns, e.g. \"quantity * price > 0\".")));
	nsitem = addRangeTableEntryForRelation(pstate, spec->rel, AccessShareLock, NULL, false, true);
	addNSItemToQuery(pstate, nsitem, true, true, true);
	expr = transformExpr(pstate, linitial_node(ResTarget, stmt->targetList)->val,
						 EXPR_KIND_CHECK_CONSTRAINT);
	expr = coerce_to_boolean(pstate, expr, "CHECK");
	assign_expr_collations(pstate, expr);
	ck->state = ExecPrepareExpr((Expr *) expr, spec->estate);
	cc->what = NULL;
}

/*
 * target_current_name - the qualified, quoted name the relation has now, or
 * NULL when it no longer exists; palloc'd in the current memory context.
 */
static char *
target_current_name(Oid relid)
{
	char	   *rel = get_rel_name(relid);
	char	   *nsp;

	if (rel == NULL)
		return NULL;
	nsp = get_namespace_name(get_rel_namespace(relid));
	if (nsp == NULL)
		return NULL;
	return quote_qualified_identifier(nsp, rel);
}

/*
 * target_gone - the error for a spec whose target (kept by OID) was
 * dropped.  When a relation of the name the target had is there now, it is
 * most likely the same table made again under a new OID, as Citus's
 * alter_distributed_table and undistribute_table do: the detail says so,
 * and that the spec must be redefined (a spec never follows a name to
 * another relation by itself).
 */
static void
target_gone(LoadSpec *spec)
{
	List	   *names;
	Oid			now;

	/* target_name is a qualified, quoted name (quote_qualified_identifier) */
	names = pgetl_qualified_name_list(spec->target_name);
	now = RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);
	if (OidIsValid(now))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the target of load \"%s\", %s, no longer exists",
						spec->name, spec->target_name),
				 errdetail("A load spec keeps its target by OID; that relation was dropped, and %s is now another relation (OID %u), "
						   "e.g. the table made again by Citus's alter_distributed_table() or undistribute_table().",
						   spec->target_name, now),
				 errhint("To load into the relation called %s now, redefine the load with pgetl_define_load().",
						 spec->target_name)));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_TABLE),
			 errmsg("the target of load \"%s\", %s, no longer exists",
					spec->name, spec->target_name),
			 errdetail("A load spec keeps its target by OID; that relation was dropped."),
			 errhint("Redefine the load with pgetl_define_load().")));
}

/*
 * load_spec_lock_target - lock the target by its OID (the one identity a
 * spec has: it follows its table through renames, as a view or a foreign
 * key does), check that it still exists, and set spec->target_name to its
 * name now.  While the lock is held the name cannot be given to another
 * relation, so statements that must name the target (TRUNCATE, the batch
 * INSERT) reach this very relation.  The name is allocated in the current
 * memory context.
 */
void
load_spec_lock_target(LoadSpec *spec, LOCKMODE lockmode)
{
	char	   *name;

	LockRelationOid(spec->target, lockmode);
	name = target_current_name(spec->target);
	if (name == NULL)
		target_gone(spec);
	spec->target_name = name;
}

/*
 * load_spec_open_target - open the target (kept open until
 * load_spec_close_target) and compile the check expressions against it.
 *
 * Check expressions are the spec owner's code, so they are compiled (the
 * EXECUTE privilege on the functions they call is checked here) and later
 * evaluated (load_rules.c) as the owner, in a restricted security context,
 * whoever runs the load.
 */
void
load_spec_open_target(LoadSpec *spec, LOCKMODE lockmode)
{
	CompileContext cc = {spec->name, NULL, NULL};
	ErrorContextCallback errcb;
	Oid			save_userid;
	int			save_sec_context;

	spec->rel = table_open(spec->target, lockmode);
	spec->checkdesc = RelationGetDescr(spec->rel);
	spec->estate = CreateExecutorState();
	if (spec->nchecks == 0)
		return;
	errcb.callback = compile_error_context;
	errcb.arg = &cc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(spec->owner, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		for (int i = 0; i < spec->nchecks; i++)
			compile_check(spec, &spec->checks[i], &cc);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
	error_context_stack = errcb.previous;
}

void
load_spec_close_target(LoadSpec *spec)
{
	if (spec->estate)
		FreeExecutorState(spec->estate);
	spec->estate = NULL;
	if (spec->rel)
		table_close(spec->rel, NoLock);
	spec->rel = NULL;
}

/*
 * load_spec_fetch - read the spec "name" from the catalog (as the extension
 * owner; the caller must be a member of its owner) and compile it as the
 * caller.  The caller must be connected to SPI.  The spec is allocated in
 * the current memory context; the target is not opened yet.
 */
LoadSpec *
load_spec_fetch(const char *name, bool for_define)
{
	MemoryContext cxt = CurrentMemoryContext;
	LoadSpec   *spec = palloc0(sizeof(LoadSpec));
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	bool		isnull;
	char	   *s;
	CompileContext cc = {name, NULL, NULL};
	ErrorContextCallback errcb;

	values[0] = ObjectIdGetDatum(GetUserId());
	values[1] = CStringGetTextDatum(name);
	load_owner_query("SELECT spec_id, name, owner, target, target_name, options "
					 "FROM pgetl._load_spec_for($1, $2)", 2, types, values, NULL);
	spec->spec_id = DatumGetInt64(pgetl_spi_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, "spec_id", &isnull));
	spec->name = spi_text(0, "name", cxt);
	spec->owner = spi_oid(0, "owner");
	spec->target = spi_oid(0, "target");
	spec->target_name = spi_text(0, "target_name", cxt);

	/*
	 * the dialect and behaviour, read from the spec's document with the
	 * defaults of load_columns.c's option_keys[] (a catalog of 0.1 keeps the
	 * same document)
	 */
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		Datum		d = pgetl_spi_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											"options", &isnull);

		load_options_resolve(DatumGetJsonbP(d), spec);
		MemoryContextSwitchTo(old);
	}

	spec->defining = for_define;

	/*
	 * its columns, read from the spec's document (a catalog of 0.1 keeps the
	 * same document, without the rules new in 0.2, and has no ref_relids).
	 * warn_rules: a severity "warn" makes every rule of the column that can
	 * warn a warning (warn_all: its keys, filtered by load_columns.c's
	 * table), an object the rules it gives "warn".
	 */
	values[0] = Int64GetDatum(spec->spec_id);
	types[0] = INT8OID;
	load_owner_query(psprintf("SELECT x.o AS ordinal, x.e->>'name' AS name, "
							  "CASE WHEN x.e ? 'target' THEN x.e->>'target' ELSE x.e->>'name' END AS target, "
							  "x.e->>'type' AS type, coalesce((x.e->>'required')::boolean, false) AS required, "
							  "x.e->>'format' AS format, x.e->>'min' AS min, x.e->>'max' AS max, "
							  "x.e->>'pattern' AS pattern, x.e->>'prefix' AS prefix, "
							  "(x.e->>'max_length')::integer AS max_length, "
							  "(x.e->>'max_decimals')::integer AS max_decimals, "
							  "CASE WHEN jsonb_typeof(x.e->'allowed') = 'array' THEN "
							  "ARRAY(SELECT a #>> '{}' FROM jsonb_array_elements(x.e->'allowed') a) END AS allowed, "
							  "coalesce((x.e->>'unique')::boolean, false) AS is_unique, "
							  "(x.e->>'min_length')::integer AS min_length, "
							  "CASE WHEN jsonb_typeof(x.e->'not_allowed') = 'array' THEN "
							  "ARRAY(SELECT a #>> '{}' FROM jsonb_array_elements(x.e->'not_allowed') a) END AS not_allowed, "
							  "x.e->>'not_pattern' AS not_pattern, "
							  "x.e->'references'->>'table' AS ref_table, %s AS ref_relid, "
							  "x.e->'references'->>'column' AS ref_column, "
							  "jsonb_typeof(x.e->'severity') = 'string' AS warn_all, "
							  "CASE jsonb_typeof(x.e->'severity') "
							  "WHEN 'string' THEN CASE WHEN x.e->>'severity' = 'warn' THEN "
							  "ARRAY(SELECT jsonb_object_keys(x.e)) END "
							  "WHEN 'object' THEN ARRAY(SELECT w.key FROM jsonb_each_text(x.e->'severity') w "
							  "WHERE w.value = 'warn') END AS warn_rules "
							  "FROM pgetl.load_spec s, jsonb_array_elements(s.columns) WITH ORDINALITY AS x(e, o) "
							  "WHERE s.spec_id = $1 ORDER BY x.o",
							  load_catalog_has_column("load_spec", "ref_relids") ?
							  "(s.ref_relids[x.o])::oid" : "NULL::oid"),
					 1, types, values, NULL);
	spec->ncolumns = SPI_processed;
	spec->columns = palloc0(sizeof(LoadColumn) * spec->ncolumns);
	{
		char	  **typenames = palloc0(sizeof(char *) * spec->ncolumns);

		for (int i = 0; i < spec->ncolumns; i++)
		{
			LoadColumn *c = &spec->columns[i];

			c->ordinal = i + 1;
			c->name = spi_text(i, "name", cxt);
			c->label = c->name ? c->name : psprintf("column %d", i + 1);
			c->target = spi_text(i, "target", cxt);
			typenames[i] = spi_text(i, "type", cxt);
			c->required = spi_bool(i, "required");
			s = spi_text(i, "format", cxt);
			c->format = s ? cstring_to_text(s) : NULL;
			c->min_text = spi_text(i, "min", cxt);
			c->max_text = spi_text(i, "max", cxt);
			c->pattern_text = spi_text(i, "pattern", cxt);
			c->prefix = spi_text(i, "prefix", cxt);
			s = spi_text(i, "max_length", cxt);
			c->max_length = s ? pg_strtoint32(s) : -1;
			s = spi_text(i, "max_decimals", cxt);
			c->max_decimals = s ? pg_strtoint32(s) : -1;
			c->allowed = spi_text_array(i, "allowed", &c->nallowed, cxt);
			c->unique = spi_bool(i, "is_unique");
			s = spi_text(i, "min_length", cxt);
			c->min_length = s ? pg_strtoint32(s) : -1;
			c->not_allowed = spi_text_array(i, "not_allowed", &c->nnot_allowed, cxt);
			c->not_pattern_text = spi_text(i, "not_pattern", cxt);
			c->ref_table = spi_text(i, "ref_table", cxt);
			c->ref_relid = spi_oid(i, "ref_relid");
			c->ref_column = spi_text(i, "ref_column", cxt);
			c->warn_rules = spi_text_array(i, "warn_rules", &c->nwarn_rules, cxt);
			if (spi_bool(i, "warn_all"))
			{
				int			n = 0;

				for (int k = 0; k < c->nwarn_rules; k++)
					if (load_column_key_can_warn(c->warn_rules[k]))
						c->warn_rules[n++] = c->warn_rules[k];
				c->nwarn_rules = n;
			}
			c->field = -1;
			c->out = -1;
		}

		/* its checks */
		load_owner_query("SELECT x.e->>'name' AS name, x.e->>'expression' AS expression, "
						 "coalesce(x.e->>'severity', 'error') = 'warn' AS warn "
						 "FROM pgetl.load_spec s, jsonb_array_elements(CASE WHEN jsonb_typeof(s.options->'checks') = 'array' "
						 "THEN s.options->'checks' ELSE '[]' END) WITH ORDINALITY AS x(e, o) "
						 "WHERE s.spec_id = $1 ORDER BY x.o", 1, types, values, NULL);
		spec->nchecks = SPI_processed;
		spec->checks = palloc0(sizeof(LoadCheck) * (spec->nchecks + 1));
		for (int i = 0; i < spec->nchecks; i++)
		{
			spec->checks[i].name = spi_text(i, "name", cxt);
			spec->checks[i].expression = spi_text(i, "expression", cxt);
			spec->checks[i].warn = spi_bool(i, "warn");
		}

		/* its expectations, kept in its options */
		load_owner_query("SELECT (e->>'min_rows')::bigint AS min_rows, (e->>'max_rows')::bigint AS max_rows, "
						 "(e->>'max_reject_ratio')::float8 AS max_reject_ratio, "
						 "ARRAY(SELECT jsonb_array_elements_text(e->'unique')) AS unique_columns, "
						 "ARRAY(SELECT jsonb_array_elements_text(e->'not_null')) AS not_null, "
						 "e->'freshness'->>'column' AS fresh_column, e->'freshness'->>'max_age' AS fresh_max_age, "
						 "ARRAY(SELECT jsonb_array_elements_text(e->'sql')) AS sql, "
						 "e IS NOT NULL AND jsonb_typeof(e) = 'object' AS has_expect "
						 "FROM (SELECT options->'expect' AS e FROM pgetl.load_spec WHERE spec_id = $1) x",
						 1, types, values, NULL);
		{
			LoadExpect *e = &spec->expect;

			s = spi_text(0, "min_rows", cxt);
			e->min_rows = s ? pg_strtoint64(s) : -1;
			s = spi_text(0, "max_rows", cxt);
			e->max_rows = s ? pg_strtoint64(s) : -1;
			s = spi_text(0, "max_reject_ratio", cxt);
			e->max_reject_ratio = s ? DatumGetFloat8(DirectFunctionCall1(float8in, CStringGetDatum(s))) : -1;
			e->unique = spi_text_array(0, "unique_columns", &e->nunique, cxt);
			e->not_null = spi_text_array(0, "not_null", &e->nnot_null, cxt);
			e->fresh_column = spi_text(0, "fresh_column", cxt);
			e->fresh_max_age = spi_text(0, "fresh_max_age", cxt);
			e->sql = spi_text_array(0, "sql", &e->nsql, cxt);
			e->any = spi_bool(0, "has_expect");
		}

		/* compile, as the caller */
		errcb.callback = compile_error_context;
		errcb.arg = &cc;
		errcb.previous = error_context_stack;
		error_context_stack = &errcb;
		if (!OidIsValid(get_rel_type_id(spec->target)))
			target_gone(spec);
		/* messages name the table as it is called now (it may be renamed) */
		s = target_current_name(spec->target);
		if (s)
			spec->target_name = s;
		for (int i = 0; i < spec->ncolumns; i++)
			compile_column(spec, &spec->columns[i], typenames[i], &cc);
		if (spec->expect.any)
			compile_expectations(spec, &cc);
		error_context_stack = errcb.previous;
	}

	/* inserted columns, in spec order */
	spec->outcols = palloc0(sizeof(LoadColumn *) * (spec->ncolumns + 1));
	for (int i = 0; i < spec->ncolumns; i++)
	{
		LoadColumn *c = &spec->columns[i];

		if (c->target)
		{
			c->out = spec->nout;
			spec->outcols[spec->nout++] = c;
		}
	}
	if (spec->nout == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("load \"%s\" loads no column", spec->name),
				 errhint("At least one column needs a \"target\" (by default its name).")));
	return spec;
}

/*
 * load_spec_bind_positions - without a header, the CSV fields are the spec's
 * columns in order.
 */
void
load_spec_bind_positions(LoadSpec *spec)
{
	for (int i = 0; i < spec->ncolumns; i++)
		spec->columns[i].field = i;
	spec->nfields_expected = spec->ncolumns;
}

/* An entry of the set of header names: a name and its field */
typedef struct HeaderEntry
{
	char	   *key;			/* the hash key: a pointer to the name */
	int			field;			/* its index in the header */
	bool		known;			/* a spec column has that name */
	bool		twice;			/* the header names it more than once */
} HeaderEntry;

static uint32
header_hash(const void *key, Size keysize)
{
	const char *s = *(char *const *) key;

	return hash_bytes((const unsigned char *) s, strlen(s));
}

static int
header_match(const void *key1, const void *key2, Size keysize)
{
	return strcmp(*(char *const *) key1, *(char *const *) key2);
}

/*
 * load_spec_bind_header - match the header's names to the spec's columns.
 * A header that lacks a required column, names a column twice, or has a
 * column the spec does not know fails the load: a mismatch is reported,
 * never guessed around.  A missing optional column loads as NULL.  With
 * "unlisted_columns": "ignore", columns the spec does not name are skipped
 * (and may repeat); a column it names must still appear once at most.
 *
 * The header is input data, possibly hostile: a header of more columns than
 * a table can have (MaxHeapAttributeNumber) fails at once, and the names are
 * matched through a hash table (in time linear in the header and the spec),
 * checking for interrupts.  The table is freed before returning; the names
 * stay where the caller keeps them.
 */
void
load_spec_bind_header(LoadSpec *spec, char **fields, int nfields)
{
	StringInfoData missing;
	StringInfoData unknown;
	HASHCTL		ctl;
	HTAB	   *names;

	if (nfields > MaxHeapAttributeNumber)
		ereport(ERROR,
				(errcode(ERRCODE_TOO_MANY_COLUMNS),
				 errmsg("header has %d columns, more than the maximum of %d",
						nfields, MaxHeapAttributeNumber),
				 errdetail("A load target cannot have more than %d columns, so neither can the header of its source.",
						   MaxHeapAttributeNumber),
				 errhint("Check the file, and the delimiter and quote of load \"%s\".", spec->name)));
	initStringInfo(&missing);
	initStringInfo(&unknown);
	spec->nfields_expected = nfields;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(HeaderEntry);
	ctl.hash = header_hash;
	ctl.match = header_match;
	ctl.hcxt = CurrentMemoryContext;
	names = hash_create("pgetl header names", Max(nfields, 16), &ctl,
						HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	for (int f = 0; f < nfields; f++)
	{
		HeaderEntry *e;
		bool		found;

		CHECK_FOR_INTERRUPTS();
		if (fields[f] == NULL)
			continue;
		e = hash_search(names, &fields[f], HASH_ENTER, &found);
		if (found)
		{
			/* an ignored column may repeat; a loaded one is checked below */
			if (!spec->ignore_unlisted)
				ereport(ERROR,
						(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
						 errmsg("header names column \"%s\" twice", fields[f])));
			e->twice = true;
			continue;
		}
		e->field = f;
		e->known = false;
		e->twice = false;
	}
	for (int i = 0; i < spec->ncolumns; i++)
	{
		LoadColumn *c = &spec->columns[i];
		HeaderEntry *e;

		CHECK_FOR_INTERRUPTS();
		if (c->name == NULL)
			continue;
		e = hash_search(names, &c->name, HASH_FIND, NULL);
		if (e)
		{
			if (e->twice)
				ereport(ERROR,
						(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
						 errmsg("header names column \"%s\" twice", c->name)));
			c->field = e->field;
			e->known = true;
		}
		else if (c->required)
			appendStringInfo(&missing, "%s\"%s\"", missing.len ? ", " : "", c->label);
	}
	for (int f = 0; f < nfields && !spec->ignore_unlisted; f++)
	{
		HeaderEntry *e = NULL;

		if (fields[f])
			e = hash_search(names, &fields[f], HASH_FIND, NULL);
		if (e == NULL || !e->known)
			appendStringInfo(&unknown, "%s\"%s\"", unknown.len ? ", " : "",
							 fields[f] ? fields[f] : "");
	}
	hash_destroy(names);
	if (missing.len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("header lacks required column %s", missing.data),
				 errdetail("The header has %d column(s); load \"%s\" requires them.", nfields, spec->name),
				 errhint("Check the file, or the \"name\" of the column in the load spec.")));
	if (unknown.len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("header has column(s) not in load \"%s\": %s", spec->name, unknown.data),
				 errhint("Add them to the spec's columns, with \"target\": null to skip them.")));
}

/*
 * pgetl_define_load - store a load spec (as the extension owner) and compile
 * it as the caller in the same transaction, so that an invalid spec is
 * refused at definition time and nothing is stored.
 */
Datum
pgetl_define_load(PG_FUNCTION_ARGS)
{
	Oid			types[5] = {OIDOID, TEXTOID, OIDOID, JSONBOID, JSONBOID};
	Datum		values[5];
	bool		nulls[5];
	bool		isnull;
	Datum		id;
	LoadSpec   *spec;

	values[0] = ObjectIdGetDatum(GetUserId());
	nulls[0] = false;
	for (int i = 0; i < 4; i++)
	{
		values[i + 1] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i + 1] = PG_ARGISNULL(i);
	}
	id = pgetl_call_internal_args("_define_load", 5, types, values, nulls, INT8OID, &isnull);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	spec = load_spec_fetch(text_to_cstring(PG_GETARG_TEXT_PP(0)), true);
	load_spec_open_target(spec, AccessShareLock);
	load_spec_close_target(spec);
	SPI_finish();
	PG_RETURN_DATUM(id);
}

/*
 * load_task_check_config - the one check of a load task's config:
 * {"load": "spec", "source": "/abs/file.csv" or staged data}, both strings,
 * no other key, a source that is not empty.  pgetl_add_task checks it
 * (pgetl._check_load_task) and the task worker again before it loads.  An
 * error on the first problem.
 */
void
load_task_check_config(Jsonb *config)
{
	static const char *const known_keys[] = {"load", "source", NULL};
	JsonbValue	v;
	char	   *unknown;

	if (config == NULL || !JB_ROOT_IS_OBJECT(config) ||
		!getKeyJsonValueFromContainer(&config->root, "load", 4, &v) || v.type != jbvString ||
		!getKeyJsonValueFromContainer(&config->root, "source", 6, &v) || v.type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a load task needs config with string keys \"load\" and \"source\""),
				 errhint("For example: config => '{\"load\": \"sales\", \"source\": \"/srv/in/sales.csv\"}'")));
	unknown = pgetl_config_unknown_keys(config, known_keys);
	if (unknown != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown key in load task config: %s", unknown),
				 errhint("A load task config has keys \"load\" and \"source\".")));
	/* v is "source" */
	if (v.val.string.len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("load task source must not be empty"),
				 errhint("Give an absolute server path (starting with /) or the name of staged data.")));
}

/*
 * pgetl._check_load_task(caller oid, config jsonb) - pgetl_add_task's check
 * of a load task: its config (load_task_check_config), and a spec of that
 * name the caller may use (pgetl._load_spec_for: 42704 when there is none,
 * 42501 when it is not the caller's).  Runs as pgetl._add_task does, as the
 * extension owner.
 */
Datum
pgetl_check_load_task(PG_FUNCTION_ARGS)
{
	Jsonb	   *config = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	char		nulls[3] = "  ";
	JsonbValue	v;

	load_task_check_config(config);
	(void) getKeyJsonValueFromContainer(&config->root, "load", 4, &v);
	values[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';
	values[1] = PointerGetDatum(cstring_to_text_with_len(v.val.string.val, v.val.string.len));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT FROM pgetl._load_spec_for($1, $2)", 2, types, values, nulls,
							  false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read load spec \"%s\"",
			 pnstrdup(v.val.string.val, v.val.string.len));
	SPI_finish();
	PG_RETURN_VOID();
}

#define PGETL_LOAD_TRAMPOLINE(fn, internal) \
	Datum \
	fn(PG_FUNCTION_ARGS) \
	{ \
		return pgetl_call_internal(fcinfo, internal); \
	}

PGETL_LOAD_TRAMPOLINE(pgetl_drop_load, "_drop_load")
PGETL_LOAD_TRAMPOLINE(pgetl_stage, "_stage")
PGETL_LOAD_TRAMPOLINE(pgetl_drop_stage, "_drop_stage")
