/*-------------------------------------------------------------------------
 *
 * load_rules.c
 *	  Converting the fields of a record and checking a spec's rules.
 *
 * A failed rule rejects the row without raising an error.  A type input
 * function, a date format or a check expression can raise one, though.  On
 * PostgreSQL 16 and later every value goes through its type's input
 * function with soft errors (InputFunctionCallSafe): a bad value rejects
 * its row with PostgreSQL's own message and no subtransaction.  On 15, which
 * has no soft errors, a bad value is caught with a subtransaction; to keep
 * those rare, a quick syntax precheck (integers, numeric, float, text
 * lengths: precheck_ok, compiled on 15 only) tells the values whose input
 * function cannot fail, which are converted directly, from those that may
 * fail, which are converted in a subtransaction of their own.  On every
 * version the loader checks a batch "optimistically" first: date formats
 * (to_date, to_timestamp) and check expressions run unguarded, and if
 * anything raises an error, the whole batch is checked again "carefully"
 * with every risky call guarded.
 *
 * Measured cost of the precheck, 2026-12-02, a 300,000-row purchases CSV
 * (test/bench/gen_purchases.py; six rules, four columns with a precheck;
 * serial load, 11 interleaved pairs per case, load average 5.7-7.3 on 2
 * cores, backend CPU from /proc, a build with a temporary switch between
 * the two paths): on 17, the precheck path took 1.07x the backend CPU of
 * soft errors alone on the clean file (median; wall 1.03x) and 1.00x with
 * 1% bad rows (wall 1.09x), with the same rows loaded and
 * the same rejects (md5 of both compared) -- so 16+ has no precheck.  On
 * 15 (5 pairs, load average 4.4-4.7) the precheck path took 0.56x the
 * backend CPU of a subtransaction per value on the clean file (wall 0.67x)
 * and 0.58x with 1% bad rows (wall 0.57x).
 *
 * A rule of severity warn that fails keeps a warning on the row (a
 * LoadFailure with warn set) without rejecting it.  Two kinds of rule need
 * more than the row: "references", checked for a whole batch at once (one
 * query per column with the batch's distinct values), and the whole-load
 * expectations, checked once the rows are in.  Both run their queries as
 * the spec's owner (load_spec_become_owner).
 *
 *-------------------------------------------------------------------------
 */
#include "load.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#ifdef PGETL_HAS_SOFT_INPUT_ERRORS
#include "nodes/miscnodes.h"
#endif
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/formatting.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

/* An entry of a column's set of unique values */
typedef struct SeenEntry
{
	char	   *key;			/* the hash key: a pointer to the value */
	int64		line;			/* where it was first seen */
} SeenEntry;

static uint32
seen_hash(const void *key, Size keysize)
{
	const char *s = *(char *const *) key;

	return hash_bytes((const unsigned char *) s, strlen(s));
}

static int
seen_match(const void *key1, const void *key2, Size keysize)
{
	return strcmp(*(char *const *) key1, *(char *const *) key2);
}

/*
 * load_error_is_row_level - whether an error is about the row being loaded
 * (the row is rejected) rather than about the load (the load fails, as
 * COPY would).  Which errors are about the row depends on what raised it:
 *
 * LOAD_ERRORS_CONVERSION, a type input function or a date format: data
 *	exceptions (22), integrity violations (23: a domain's CHECK), and
 *	undefined objects named by a value (42, e.g. a regclass field), raised
 *	or not from PL/pgSQL (P0, e.g. a domain check calling a function).
 * LOAD_ERRORS_ROW, a check expression or the target (its constraints,
 *	triggers, foreign key, partitions, a foreign table's server): only
 *	data exceptions (22), integrity violations (23), cardinality violations
 *	(21: a row an upsert would change twice) and raise_exception (P0001:
 *	RAISE EXCEPTION in a validation trigger or function).  Anything else --
 *	a schema error (42: a trigger reading a dropped table, a missing
 *	function), permission denied, a PL/pgSQL function ending without
 *	RETURN (2F), an ASSERT (P0004), serialization failures, cancellation,
 *	resource and internal errors -- is a broken target, not bad data, and
 *	fails the load instead of rejecting every row.
 *
 * LOAD_ERRORS_RECHECK, anything while a stretch of rows is checked
 *	optimistically: an error of either kind, as the row is then checked
 *	again carefully, which tells them apart.
 *
 * LOAD_ERRORS_DISTRIBUTED, a batch of rows into a Citus table: as
 *	LOAD_ERRORS_ROW, and also XX000, the code Citus's COPY to the shards
 *	gives every error of a worker; the rows are then inserted again one
 *	at a time, by a statement whose errors keep the worker's SQLSTATE,
 *	which tells them apart (load_target.c).
 *
 * Permission errors (42501) never reject a row.
 */
bool
load_error_is_row_level(int sqlerrcode, LoadErrorKind kind)
{
	int			category = ERRCODE_TO_CATEGORY(sqlerrcode);

	if (sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
		return false;
	if (kind == LOAD_ERRORS_DISTRIBUTED && sqlerrcode == ERRCODE_INTERNAL_ERROR)
		return true;
	if (category == ERRCODE_DATA_EXCEPTION ||
		category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION)
		return true;
	if (kind != LOAD_ERRORS_ROW &&
		(category == ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION ||
		 category == ERRCODE_PLPGSQL_ERROR))
		return true;
	if (kind != LOAD_ERRORS_CONVERSION &&
		(category == ERRCODE_CARDINALITY_VIOLATION ||
		 sqlerrcode == ERRCODE_RAISE_EXCEPTION))
		return true;
	return false;
}

/*
 * load_try - run fn(arg) in a subtransaction, the way the loader isolates a
 * bad row.  Returns NULL when fn succeeded (the subtransaction is released).
 * After a row-level error (see load_error_is_row_level, for errors of the
 * given kind) the subtransaction is rolled back and the error returned,
 * copied into the caller's memory context (the caller frees it); any other
 * error is raised again.  on_abort, if not NULL, runs before the rollback.
 */
ErrorData *
load_try(void (*fn) (void *arg), void (*on_abort) (void *arg), void *arg,
		 LoadErrorKind kind)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (on_abort)
			on_abort(arg);
		load_rollback_subtransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (!load_error_is_row_level(edata->sqlerrcode, kind))
			ReThrowError(edata);
	}
	PG_END_TRY();
	return edata;
}

/*
 * add_failure - keep a failure (or, warn, a warning) of a row, with its
 * message (taken over, not copied).  Strings are copied into the current
 * memory context (the batch's).
 */
static void
add_failure(LoadRow *row, const char *column, const char *rule, const char *value,
			int sqlerrcode, bool warn, char *message)
{
	LoadFailure *f;

	if (row->nfailures >= row->maxfailures)
	{
		row->maxfailures = Max(4, row->maxfailures * 2);
		if (row->failures)
			row->failures = repalloc(row->failures, sizeof(LoadFailure) * row->maxfailures);
		else
			row->failures = palloc(sizeof(LoadFailure) * row->maxfailures);
	}
	f = &row->failures[row->nfailures++];
	if (!warn)
		row->rejected = true;
	f->column = column ? pstrdup(column) : NULL;
	f->rule = pstrdup(rule);
	f->value = value ? pstrdup(value) : NULL;
	f->message = message;
	f->sqlerrcode = sqlerrcode;
	f->warn = warn;
}

/* the message of a failure, formatted in the current memory context */
#define FORMAT_MESSAGE(buf, fmt) \
	do { \
		va_list		args; \
		initStringInfo(&(buf)); \
		for (;;) \
		{ \
			int			needed; \
			va_start(args, fmt); \
			needed = appendStringInfoVA(&(buf), fmt, args); \
			va_end(args); \
			if (needed == 0) \
				break; \
			enlargeStringInfo(&(buf), needed); \
		} \
	} while (0)

/*
 * load_row_reject - record a failure of a row; a row can fail several rules
 * and each failure is kept.  Strings are copied into the current memory
 * context (the batch's).
 */
void
load_row_reject(LoadRow *row, const char *column, const char *rule, const char *value,
				int sqlerrcode, const char *fmt,...)
{
	StringInfoData buf;

	FORMAT_MESSAGE(buf, fmt);
	add_failure(row, column, rule, value, sqlerrcode, false, buf.data);
}

/*
 * rule_failed - a rule of column c failed on value: the row is rejected,
 * or, when the spec gives the rule severity warn, keeps a warning and
 * still loads.  Returns whether the row is rejected by it.
 */
static bool rule_failed(LoadRow *row, LoadColumn *c, const char *rule, const char *value,
						const char *fmt,...) pg_attribute_printf(5, 6);

static bool
rule_failed(LoadRow *row, LoadColumn *c, const char *rule, const char *value,
			const char *fmt,...)
{
	StringInfoData buf;
	bool		warn = false;

	for (int i = 0; i < c->nwarn_rules && !warn; i++)
		warn = c->warn_rules[i] && strcmp(c->warn_rules[i], rule) == 0;
	FORMAT_MESSAGE(buf, fmt);
	add_failure(row, c->label, rule, value, 0, warn, buf.data);
	return !warn;
}

#ifndef PGETL_HAS_SOFT_INPUT_ERRORS
/*
 * The precheck (PostgreSQL 15 only: see the file's header comment).
 */

/* true when s is optional blanks, digits and optional blanks; *digits set */
static bool
simple_integer(const char *s, int64 *value, int *digits)
{
	const char *p = s;
	bool		neg = false;
	int64		v = 0;
	int			n = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '+' || *p == '-')
		neg = (*p++ == '-');
	while (*p >= '0' && *p <= '9')
	{
		if (n < 18)
			v = v * 10 + (*p - '0');
		n++;
		p++;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	*digits = n;
	*value = neg ? -v : v;
	return n > 0 && *p == '\0';
}

/*
 * simple_decimal - true when s is a plain decimal number: blanks, sign,
 * digits with an optional point, an optional short exponent, blanks.
 * Returns the digits before and after the point, and the exponent.
 */
static bool
simple_decimal(const char *s, int *intdigits, int *fracdigits, int *expdigits)
{
	const char *p = s;
	int			i = 0,
				f = 0,
				e = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '+' || *p == '-')
		p++;
	while (*p == '0' && p[1] >= '0' && p[1] <= '9')
		p++;					/* leading zeros do not count */
	while (*p >= '0' && *p <= '9')
		i++, p++;
	if (*p == '.')
	{
		p++;
		while (*p >= '0' && *p <= '9')
			f++, p++;
	}
	if (i + f == 0)
		return false;
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		while (*p >= '0' && *p <= '9')
			e++, p++;
		if (e == 0)
			return false;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	*intdigits = i;
	*fracdigits = f;
	*expdigits = e;
	return *p == '\0';
}

/*
 * precheck_ok - true when the column's input function certainly accepts s;
 * false means "maybe not": convert it guarded.
 */
static bool
precheck_ok(LoadColumn *c, const char *s)
{
	int64		v;
	int			n,
				i,
				f,
				e;

	switch (c->precheck)
	{
		case LOAD_PRECHECK_INT2:
			return simple_integer(s, &v, &n) && n <= 18 && v >= PG_INT16_MIN && v <= PG_INT16_MAX;
		case LOAD_PRECHECK_INT4:
			return simple_integer(s, &v, &n) && n <= 18 && v >= PG_INT32_MIN && v <= PG_INT32_MAX;
		case LOAD_PRECHECK_INT8:
			return simple_integer(s, &v, &n) && n <= 18;
		case LOAD_PRECHECK_NUMERIC:
			if (!simple_decimal(s, &i, &f, &e))
				return false;
			if (c->typmod >= (int32) VARHDRSZ)
			{
				int			precision = ((c->typmod - VARHDRSZ) >> 16) & 0xffff;
				int			scale = (c->typmod - VARHDRSZ) & 0x7ff;

				/* room for the integer digits, and for rounding up */
				return e == 0 && scale >= 0 && scale <= precision && i < precision - scale;
			}
			return e <= 3 && i + f <= 1000;
		case LOAD_PRECHECK_FLOAT:
			if (!simple_decimal(s, &i, &f, &e))
				return false;
			return e == 0 && i + f <= 30;
		case LOAD_PRECHECK_TEXT:
			return c->text_limit < 0 || (int) strlen(s) <= c->text_limit ||
				pg_mbstrlen(s) <= c->text_limit;
		case LOAD_PRECHECK_NONE:
			return true;
	}
	return true;
}
#endif							/* !PGETL_HAS_SOFT_INPUT_ERRORS */

/*
 * convert_value - the field s as a value of the column's checked type:
 * through its format (to_date / to_timestamp) or its input function.
 * Raises the conversion's error.
 */
static Datum
convert_value(LoadColumn *c, char *s)
{
	switch (c->format_kind)
	{
		case LOAD_FORMAT_DATE:
			return DirectFunctionCall2(to_date, CStringGetTextDatum(s), PointerGetDatum(c->format));
		case LOAD_FORMAT_TIMESTAMPTZ:
			return DirectFunctionCall2(to_timestamp, CStringGetTextDatum(s), PointerGetDatum(c->format));
		case LOAD_FORMAT_TIMESTAMP:
			return DirectFunctionCall1(timestamptz_timestamp,
									   DirectFunctionCall2(to_timestamp, CStringGetTextDatum(s),
														   PointerGetDatum(c->format)));
		case LOAD_FORMAT_NONE:
			break;
	}
	return InputFunctionCall(&c->infunc, s, c->ioparam, c->typmod);
}

/* convert_value's arguments and result, for load_try */
typedef struct ConvertCall
{
	LoadColumn *c;
	char	   *s;
	Datum		result;
} ConvertCall;

static void
convert_call(void *arg)
{
	ConvertCall *conv = (ConvertCall *) arg;

	conv->result = convert_value(conv->c, conv->s);
}

/*
 * guarded_convert - convert_value, catching a row-level error: returns false
 * and sets *edata (in the current memory context).  On PostgreSQL 16 and
 * later an input function reports errors softly, without a subtransaction.
 */
static bool
guarded_convert(LoadColumn *c, char *s, Datum *result, ErrorData **edata)
{
	ConvertCall conv;

#ifdef PGETL_HAS_SOFT_INPUT_ERRORS
	if (c->format_kind == LOAD_FORMAT_NONE)
	{
		ErrorSaveContext escontext = {T_ErrorSaveContext};

		escontext.details_wanted = true;
		if (InputFunctionCallSafe(&c->infunc, s, c->ioparam, c->typmod,
								  (Node *) &escontext, result))
			return true;
		*edata = escontext.error_data;
		return false;
	}
#endif
	conv.c = c;
	conv.s = s;
	*edata = load_try(convert_call, NULL, &conv, LOAD_ERRORS_CONVERSION);
	if (*edata != NULL)
		return false;
	*result = conv.result;
	return true;
}

/* count of digits after the decimal point of a number's text */
static int
decimals_of(const char *s)
{
	const char *p = strchr(s, '.');
	int			n = 0;

	if (p == NULL)
		return 0;
	for (p++; *p >= '0' && *p <= '9'; p++)
		n++;
	return n;
}

/* true when the pattern (a column's pattern or not_pattern) matches s */
static bool
pattern_matches(LoadColumn *c, regex_t *pattern, const char *s)
{
	int			len = strlen(s);
	pg_wchar   *w = palloc((len + 1) * sizeof(pg_wchar));
	int			wlen = pg_mb2wchar_with_len(s, w, len);
	int			rc = pg_regexec(pattern, w, wlen, 0, NULL, 0, NULL, 0);

	pfree(w);
	if (rc == REG_OKAY)
		return true;
	if (rc == REG_NOMATCH)
		return false;
	{
		char		msg[128];

		pg_regerror(rc, pattern, msg, sizeof(msg));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
				 errmsg("regular expression failed: %s", msg)));
	}
	return false;
}

/* short form of a value for messages */
static const char *
shown(const char *s)
{
	if (strlen(s) <= 60)
		return s;
	return psprintf("%.*s...", pg_mbcliplen(s, strlen(s), 57), s);
}

/*
 * check_column - convert one field and check its rules; a failure rejects
 * the row.  The converted value goes to row->values[c->out].
 */
static void
check_column(LoadSpec *spec, LoadColumn *c, LoadRow *row, bool careful)
{
	char	   *s = (c->field >= 0 && c->field < row->nfields) ? row->fields[c->field] : NULL;
	Datum		value = (Datum) 0;

	if (c->out >= 0)
	{
		row->nulls[c->out] = true;
		row->values[c->out] = (Datum) 0;
	}
	if (s == NULL || (c->required && s[strspn(s, " \t")] == '\0'))
	{
		/* a blank value that is only warned about loads as it is */
		if (c->required &&
			(rule_failed(row, c, "required", s,
						 s ? "value is blank, but the column is required" :
						 "value is missing, but the column is required") || s == NULL))
			return;
		if (s == NULL)
			return;
	}
	if (c->max_length >= 0 && strlen(s) > (size_t) c->max_length && pg_mbstrlen(s) > c->max_length)
		rule_failed(row, c, "max_length", s,
					"value is %d characters long, more than max_length %d",
					pg_mbstrlen(s), c->max_length);
	if (c->min_length > 0 && strlen(s) < (size_t) c->min_length * MAX_MULTIBYTE_CHAR_LEN &&
		pg_mbstrlen(s) < c->min_length)
		rule_failed(row, c, "min_length", s,
					"value is %d characters long, less than min_length %d",
					pg_mbstrlen(s), c->min_length);
	if (c->prefix && strncmp(s, c->prefix, strlen(c->prefix)) != 0)
		rule_failed(row, c, "prefix", s,
					"value \"%s\" does not start with \"%s\"", shown(s), c->prefix);
	if (c->pattern && !pattern_matches(c, c->pattern, s))
		rule_failed(row, c, "pattern", s,
					"value \"%s\" does not match pattern \"%s\"", shown(s), c->pattern_text);
	if (c->not_pattern && pattern_matches(c, c->not_pattern, s))
		rule_failed(row, c, "not_pattern", s,
					"value \"%s\" matches not_pattern \"%s\"", shown(s), c->not_pattern_text);
	if (c->allowed)
	{
		bool		found = false;

		for (int i = 0; i < c->nallowed && !found; i++)
			found = c->allowed[i] && strcmp(c->allowed[i], s) == 0;
		if (!found)
			rule_failed(row, c, "allowed", s,
						"value \"%s\" is not one of the allowed values", shown(s));
	}
	if (c->not_allowed)
	{
		bool		found = false;

		for (int i = 0; i < c->nnot_allowed && !found; i++)
			found = c->not_allowed[i] && strcmp(c->not_allowed[i], s) == 0;
		if (found)
			rule_failed(row, c, "not_allowed", s,
						"value \"%s\" is one of the values not allowed", shown(s));
	}
	if (c->max_decimals >= 0 && decimals_of(s) > c->max_decimals)
		rule_failed(row, c, "max_decimals", s,
					"value %s has %d decimals, more than max_decimals %d",
					shown(s), decimals_of(s), c->max_decimals);

	if (OidIsValid(c->typid))
	{
		ErrorData  *edata = NULL;
		bool		guarded;

#ifdef PGETL_HAS_SOFT_INPUT_ERRORS

		/*
		 * 16+: every value goes through its input function with soft errors
		 * (no subtransaction); a date format (to_date, to_timestamp, which
		 * raise) is guarded only when careful.
		 */
		guarded = c->format_kind == LOAD_FORMAT_NONE || careful;
#else

		/*
		 * 15: a value the precheck accepts is converted directly, even when
		 * careful: its input function cannot fail.  Others (and, when
		 * careful, values of types without a precheck) are guarded.
		 */
		guarded = !precheck_ok(c, s) || (careful && c->precheck == LOAD_PRECHECK_NONE);
#endif
		if (guarded)
		{
			if (!guarded_convert(c, s, &value, &edata))
			{
				load_row_reject(row, c->label, "type", s, edata->sqlerrcode, "%s", edata->message);
				return;
			}
		}
		else
			value = convert_value(c, s);

		if (c->has_min &&
			DatumGetInt32(FunctionCall2Coll(&c->cmp, c->collation, value, c->min)) < 0)
			rule_failed(row, c, "min", s,
						"value %s is less than min %s", shown(s), c->min_text);
		if (c->has_max &&
			DatumGetInt32(FunctionCall2Coll(&c->cmp, c->collation, value, c->max)) > 0)
			rule_failed(row, c, "max", s,
						"value %s is greater than max %s", shown(s), c->max_text);
		if (c->recast && !row->rejected)
		{
			/* through text I/O; rare, so always guarded */
			char	   *t = OutputFunctionCall(&c->outfunc, value);
			LoadColumn	tc = *c;

			tc.infunc = c->target_infunc;
			tc.ioparam = c->target_ioparam;
			tc.typmod = c->target_typmod;
			tc.format_kind = LOAD_FORMAT_NONE;
			if (!guarded_convert(&tc, t, &value, &edata))
			{
				load_row_reject(row, c->label, "type", s, edata->sqlerrcode, "%s", edata->message);
				return;
			}
		}
	}
	else if (c->out >= 0)
		value = CStringGetTextDatum(s); /* not reached: loaded columns have a
										 * type */

	if (c->out >= 0)
	{
		row->values[c->out] = value;
		row->nulls[c->out] = false;
	}
}

/*
 * unique_value - the text of a `unique` column in a row, or NULL when the
 * column is not unique-checked, the field is missing or NULL.
 */
static char *
unique_value(LoadColumn *c, LoadRow *row)
{
	if (!c->unique || c->seen == NULL || c->field < 0 || c->field >= row->nfields)
		return NULL;
	return row->fields[c->field];
}

/*
 * check_unique - reject the row when a unique column's value was already
 * seen in this file; otherwise remember its values (only when the whole row
 * passed, so that a rejected row does not shadow a later good one).
 */
static void
check_unique(LoadSpec *spec, LoadRow *row)
{
	for (int i = 0; i < spec->ncolumns && !row->rejected; i++)
	{
		LoadColumn *c = &spec->columns[i];
		char	   *s = unique_value(c, row);
		SeenEntry  *e;

		if (s == NULL)
			continue;
		e = hash_search(c->seen, &s, HASH_FIND, NULL);
		if (e)
			rule_failed(row, c, "unique", s,
						"value \"%s\" already appears on line " INT64_FORMAT,
						shown(s), e->line);
	}
	if (row->rejected)
		return;
	for (int i = 0; i < spec->ncolumns; i++)
	{
		LoadColumn *c = &spec->columns[i];
		char	   *s = unique_value(c, row);
		SeenEntry  *e;
		char	   *key;
		bool		found;

		if (s == NULL)
			continue;
		key = MemoryContextStrdup(c->seen_cxt, s);
		e = hash_search(c->seen, &key, HASH_ENTER, &found);
		if (!found)
			e->line = row->line;
	}
}

/*
 * load_rules_forget_row - forget the unique values of a row that passed the
 * rules but was not loaded after all (its batch is checked again, or the
 * target refused it).
 */
void
load_rules_forget_row(LoadSpec *spec, LoadRow *row)
{
	for (int i = 0; i < spec->ncolumns; i++)
	{
		LoadColumn *c = &spec->columns[i];
		char	   *s = unique_value(c, row);
		SeenEntry  *e;

		if (s == NULL)
			continue;
		e = hash_search(c->seen, &s, HASH_FIND, NULL);
		if (e && e->line == row->line)
		{
			char	   *key = e->key;

			hash_search(c->seen, &s, HASH_REMOVE, NULL);
			pfree(key);
		}
	}
}

/*
 * A check expression's evaluation, for load_try.  Check expressions are the
 * spec owner's code: they run as the owner (see eval_call), whoever loads.
 */
typedef struct EvalCall
{
	LoadSpec   *spec;
	ExprState  *state;
	ExprContext *econtext;
	Datum		result;
	bool		isnull;
} EvalCall;

/*
 * eval_call - evaluate a check expression as the spec's owner, in a
 * restricted security context (as a pipeline's tasks run as its owner, and
 * as PostgreSQL runs an index expression as the table's owner): a superuser
 * or a member of the owner who runs the load never lends it their rights.
 * On an error, the abort of the subtransaction the caller runs in (load_try)
 * restores the user.
 */
static void
eval_call(void *arg)
{
	EvalCall   *ev = (EvalCall *) arg;
	Oid			save_userid;
	int			save_sec_context;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(ev->spec->owner, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	ev->result = ExecEvalExpr(ev->state, ev->econtext, &ev->isnull);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/*
 * run_checks - evaluate the spec's row-level checks on the converted row; a
 * check passes only when it is true.  Not careful, an error is raised (the
 * caller runs in a subtransaction, see check_range); careful, each check is
 * evaluated in its own, and an error about the row rejects it.
 */
static void
run_checks(LoadSpec *spec, LoadRow *row, bool careful)
{
	TupleTableSlot *slot;
	ExprContext *econtext;

	if (spec->nchecks == 0 || row->rejected)
		return;
	econtext = GetPerTupleExprContext(spec->estate);
	slot = MakeSingleTupleTableSlot(spec->checkdesc, &TTSOpsVirtual);
	ExecClearTuple(slot);
	for (int a = 0; a < spec->checkdesc->natts; a++)
	{
		slot->tts_values[a] = (Datum) 0;
		slot->tts_isnull[a] = true;
	}
	for (int i = 0; i < spec->nout; i++)
	{
		LoadColumn *c = spec->outcols[i];

		slot->tts_values[c->attnum - 1] = row->values[i];
		slot->tts_isnull[c->attnum - 1] = row->nulls[i];
	}
	ExecStoreVirtualTuple(slot);
	econtext->ecxt_scantuple = slot;
	for (int k = 0; k < spec->nchecks; k++)
	{
		LoadCheck  *ck = &spec->checks[k];
		bool		isnull;
		Datum		d;

		if (careful)
		{
			EvalCall	ev = {spec, ck->state, econtext, (Datum) 0, false};
			ErrorData  *edata = load_try(eval_call, NULL, &ev, LOAD_ERRORS_ROW);

			if (edata != NULL)
			{
				load_row_reject(row, NULL, "check", NULL, edata->sqlerrcode,
								"check \"%s\" raised an error: %s", ck->name, edata->message);
				continue;
			}
			d = ev.result;
			isnull = ev.isnull;
		}
		else
		{
			EvalCall	ev = {spec, ck->state, econtext, (Datum) 0, false};

			eval_call(&ev);
			d = ev.result;
			isnull = ev.isnull;
		}
		if (isnull || !DatumGetBool(d))
			add_failure(row, NULL, "check", NULL, 0, ck->warn,
						psprintf("check \"%s\" is %s: %s", ck->name,
								 isnull ? "null" : "false", ck->expression));
	}
	ExecDropSingleTupleTableSlot(slot);
	ResetExprContext(econtext);
}

/*
 * load_rules_check_row - check a row read from the source: its line
 * terminator (the last record, with require_final_newline), field count,
 * each column's rules, row-level checks and within-file uniqueness.  Sets
 * row->values/nulls (allocated by the caller, in the batch's memory) for
 * rows that pass, and the first failure for those that do not.  When not
 * careful, a type or check error raises (the caller checks the batch again
 * carefully); when careful, only errors that are not about the row raise.
 */
void
load_rules_check_row(LoadSpec *spec, LoadRow *row, bool careful)
{
	row->rejected = false;
	row->nfailures = 0;
	if (row->unterminated && spec->require_final_newline)
	{
		load_row_reject(row, NULL, "final_newline", NULL, ERRCODE_BAD_COPY_FILE_FORMAT,
						"the last record has no line terminator (the source may be incomplete)");
		return;
	}
	if (row->nfields != spec->nfields_expected)
	{
		load_row_reject(row, NULL, "field_count", NULL, ERRCODE_BAD_COPY_FILE_FORMAT,
						"record has %d field(s), expected %d",
						row->nfields, spec->nfields_expected);
		return;
	}
	for (int i = 0; i < spec->ncolumns; i++)
		check_column(spec, &spec->columns[i], row, careful);
	run_checks(spec, row, careful);
	check_unique(spec, row);
}

/*
 * load_rules_begin - set up per-load state of the rules: the sets of
 * values seen for unique columns, in the current memory context.
 */
void
load_rules_begin(LoadSpec *spec)
{
	for (int i = 0; i < spec->ncolumns; i++)
	{
		LoadColumn *c = &spec->columns[i];
		HASHCTL		ctl;

		if (!c->unique)
			continue;
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(char *);
		ctl.entrysize = sizeof(SeenEntry);
		ctl.hash = seen_hash;
		ctl.match = seen_match;
		ctl.hcxt = CurrentMemoryContext;
		c->seen_cxt = CurrentMemoryContext;
		c->seen = hash_create("pgetl unique values", 1024, &ctl,
							  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	}
}

/* An entry of a batch's set of distinct referenced values */
typedef struct RefEntry
{
	char	   *key;			/* the hash key: the value's canonical text */
	bool		found;
} RefEntry;

/*
 * load_rules_check_references - check the "references" rules of a batch
 * whose rows passed the other rules: per column, one query (as the spec's
 * owner, see load_spec_become_owner) asks which of the batch's distinct
 * values exist in the referenced column, and the rows whose value does not
 * fail the rule.  Values are compared as the referenced column's type,
 * sent as the canonical text of the column's checked type (the same base
 * type, checked when the spec is compiled).  NULL values pass, as with a
 * foreign key.  Everything is allocated in the current (batch's) memory.
 */
void
load_rules_check_references(LoadSpec *spec, LoadRow **rows, int nrows)
{
	char	  **keys = palloc(sizeof(char *) * Max(nrows, 1));

	for (int i = 0; i < spec->ncolumns; i++)
	{
		LoadColumn *c = &spec->columns[i];
		HASHCTL		ctl;
		HTAB	   *set;
		Datum	   *elems;
		int			nelems = 0;
		Datum		arg;
		PgetlUserSwitch sw;
		int			ret;

		if (c->ref_plan == NULL)
			continue;
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(char *);
		ctl.entrysize = sizeof(RefEntry);
		ctl.hash = seen_hash;
		ctl.match = seen_match;
		ctl.hcxt = CurrentMemoryContext;
		set = hash_create("pgetl referenced values", Max(nrows, 16), &ctl,
						  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
		elems = palloc(sizeof(Datum) * Max(nrows, 1));
		for (int r = 0; r < nrows; r++)
		{
			LoadRow    *row = rows[r];
			char	   *s = (c->field >= 0 && c->field < row->nfields) ? row->fields[c->field] : NULL;
			RefEntry   *e;
			bool		found;

			keys[r] = NULL;
			if (row->rejected || s == NULL)
				continue;
			/* it converted when the row was checked: it converts again */
			keys[r] = OutputFunctionCall(&c->ref_outfunc, convert_value(c, s));
			e = hash_search(set, &keys[r], HASH_ENTER, &found);
			if (!found)
			{
				e->found = false;
				elems[nelems++] = CStringGetTextDatum(keys[r]);
			}
		}
		if (nelems == 0)
			continue;
		arg = PointerGetDatum(construct_array(elems, nelems, TEXTOID, -1, false, TYPALIGN_INT));
		load_spec_become_owner(spec, &sw);
		ret = SPI_execute_plan(c->ref_plan, &arg, NULL, true, 0);
		pgetl_restore_user(&sw);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "the references query of column \"%s\" failed: %s",
				 c->label, SPI_result_code_string(ret));
		for (uint64 k = 0; k < SPI_processed; k++)
		{
			char	   *v = SPI_getvalue(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 1);
			RefEntry   *e = hash_search(set, &v, HASH_FIND, NULL);

			if (e)
				e->found = true;
		}
		SPI_freetuptable(SPI_tuptable);
		for (int r = 0; r < nrows; r++)
		{
			RefEntry   *e;

			if (keys[r] == NULL)
				continue;
			e = hash_search(set, &keys[r], HASH_FIND, NULL);
			if (e->found)
				continue;
			if (rule_failed(rows[r], c, "references", rows[r]->fields[c->field],
							"value \"%s\" is not in %s", shown(rows[r]->fields[c->field]),
							c->ref_name))
				load_rules_forget_row(spec, rows[r]);
		}
	}
}

/* The failed expectation's context, for expectation_failed */
typedef struct ExpectRun
{
	LoadSpec   *spec;
	const char *first_rejects;
	const char *what;			/* the expectation being run */
} ExpectRun;

static void
expectation_error_context(void *arg)
{
	ExpectRun  *er = (ExpectRun *) arg;

	if (er->what)
		errcontext("load \"%s\", expectation %s", er->spec->name, er->what);
}

/*
 * expectation_failed - fail the load: the expectation named, the value
 * seen, and the first rejects (as a load past its reject limits reports).
 */
static void expectation_failed(ExpectRun *er, const char *fmt,...) pg_attribute_printf(2, 3);

static void
expectation_failed(ExpectRun *er, const char *fmt,...)
{
	StringInfoData buf;
	const char *what = er->what;

	FORMAT_MESSAGE(buf, fmt);
	er->what = NULL;			/* the message names it */
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("load \"%s\" failed expectation %s: %s", er->spec->name, what, buf.data),
			 er->first_rejects[0] ? errdetail("First rejects: %s.", er->first_rejects) : 0,
			 errhint("Nothing was loaded. Fix the source, or change \"expect\" with pgetl_define_load().")));
}

/*
 * owner_select - run a query of the expectations as the spec's owner,
 * with the snapshot the caller pushed; returns SPI_processed.
 */
static uint64
owner_select(LoadSpec *spec, SPIPlanPtr plan, const char *sql, int nargs, Oid *types,
			 Datum *values)
{
	PgetlUserSwitch sw;
	int			ret;

	load_spec_become_owner(spec, &sw);
	if (plan)
		ret = SPI_execute_plan(plan, values, NULL, true, 2);
	else
		ret = SPI_execute_with_args(sql, nargs, types, values, NULL, true, 0);
	pgetl_restore_user(&sw);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "expectation query failed: %s", SPI_result_code_string(ret));
	return SPI_processed;
}

/* text of column n of the first row of SPI_tuptable, or NULL */
static char *
first_value(int n)
{
	return SPI_processed > 0 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, n) : NULL;
}

/*
 * first_bool - column n (a boolean) of the first row of the last owner_select
 * as a Datum read by value, not as text: 1 true, 0 false, -1 NULL or no row.
 */
static int
first_bool(int n)
{
	bool		isnull;
	Datum		d;

	if (SPI_processed == 0)
		return -1;
	Assert(SPI_gettypeid(SPI_tuptable->tupdesc, n) == BOOLOID);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, n, &isnull);
	return isnull ? -1 : DatumGetBool(d) ? 1 : 0;
}

/*
 * load_rules_check_expectations - check the spec's whole-load expectations
 * after the rows are in, in the load's transaction: counts first, then
 * not_null, unique, freshness (over the target as the load leaves it) and
 * the sql queries, in that order.  The first one unmet fails the load (its
 * rows, rejects and history roll back with the transaction): write, audit,
 * publish.  Queries run as the spec's owner (load_spec_become_owner) and
 * see the rows this load wrote.
 */
void
load_rules_check_expectations(LoadSpec *spec, int64 rows_read, int64 rows_loaded,
							  int64 rows_rejected, const char *first_rejects)
{
	LoadExpect *e = &spec->expect;
	ExpectRun	er = {spec, first_rejects, NULL};
	ErrorContextCallback errcb;

	if (!e->any)
		return;
	errcb.callback = expectation_error_context;
	errcb.arg = &er;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	er.what = "min_rows";
	if (e->min_rows >= 0 && rows_loaded < e->min_rows)
		expectation_failed(&er, INT64_FORMAT " rows loaded, fewer than " INT64_FORMAT,
						   rows_loaded, e->min_rows);
	er.what = "max_rows";
	if (e->max_rows >= 0 && rows_loaded > e->max_rows)
		expectation_failed(&er, INT64_FORMAT " rows loaded, more than " INT64_FORMAT,
						   rows_loaded, e->max_rows);
	er.what = "max_reject_ratio";
	if (e->max_reject_ratio >= 0 && rows_read > 0 &&
		(double) rows_rejected / rows_read > e->max_reject_ratio)
		expectation_failed(&er, INT64_FORMAT " of " INT64_FORMAT " records rejected (%g), more than %g",
						   rows_rejected, rows_read, (double) rows_rejected / rows_read,
						   e->max_reject_ratio);

	/* the queries see what this load wrote */
	CommandCounterIncrement();
	PushCopiedSnapshot(GetActiveSnapshot());
	UpdateActiveSnapshotCommandId();
	for (int i = 0; i < e->nnot_null; i++)
	{
		char	   *v;

		er.what = psprintf("not_null (%s)", e->not_null[i]);
		owner_select(spec, NULL,
					 psprintf("SELECT pg_catalog.count(*) FROM %s WHERE %s IS NULL",
							  spec->target_name, quote_identifier(e->not_null[i])), 0, NULL, NULL);
		v = first_value(1);
		if (v && strcmp(v, "0") != 0)
			expectation_failed(&er, "%s row(s) have NULL in column \"%s\"", v, e->not_null[i]);
	}
	if (e->nunique > 0)
	{
		StringInfoData cols;
		StringInfoData notnull;

		initStringInfo(&cols);
		initStringInfo(&notnull);
		for (int i = 0; i < e->nunique; i++)
		{
			appendStringInfo(&cols, "%s%s", i ? ", " : "", quote_identifier(e->unique[i]));
			appendStringInfo(&notnull, "%s%s IS NOT NULL", i ? " AND " : "",
							 quote_identifier(e->unique[i]));
		}
		er.what = psprintf("unique (%s)", cols.data);
		owner_select(spec, NULL,
					 psprintf("SELECT pg_catalog.concat_ws(', ', %s), pg_catalog.count(*) FROM %s "
							  "WHERE %s GROUP BY %s HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1 LIMIT 1",
							  cols.data, spec->target_name, notnull.data, cols.data), 0, NULL, NULL);
		if (SPI_processed > 0)
			expectation_failed(&er, "(%s) appears %s times", first_value(1), first_value(2));
	}
	if (e->fresh_column)
	{
		Oid			type = TEXTOID;
		Datum		age = CStringGetTextDatum(e->fresh_max_age);
		char	   *newest;

		er.what = psprintf("freshness (%s)", e->fresh_column);
		owner_select(spec, NULL,
					 psprintf("SELECT pg_catalog.max(%s)::pg_catalog.text, "
							  "pg_catalog.max(%s)::pg_catalog.timestamptz OPERATOR(pg_catalog.>=) "
							  "(pg_catalog.now() OPERATOR(pg_catalog.-) $1::pg_catalog.interval) FROM %s",
							  quote_identifier(e->fresh_column), quote_identifier(e->fresh_column),
							  spec->target_name), 1, &type, &age);
		newest = first_value(1);
		if (newest == NULL)
			expectation_failed(&er, "column \"%s\" has no value", e->fresh_column);
		if (first_bool(2) != 1)
			expectation_failed(&er, "newest value %s is older than max_age %s", newest, e->fresh_max_age);
	}
	for (int i = 0; i < e->nsql; i++)
	{
		int			v;

		er.what = psprintf("sql[%d]", i + 1);
		owner_select(spec, e->sql_plans[i], NULL, 0, NULL, NULL);
		v = first_bool(1);
		if (v != 1)
			expectation_failed(&er, "%s returned %s", e->sql[i],
							   SPI_processed == 0 ? "no row" : v < 0 ? "NULL" : "false");
	}
	PopActiveSnapshot();
	error_context_stack = errcb.previous;
}
