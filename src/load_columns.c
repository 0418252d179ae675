/*-------------------------------------------------------------------------
 *
 * load_columns.c
 *	  The keys of a load spec's column ("rules"), options and expectations,
 *	  declared once, and the validation of a spec's document against them.
 *
 * column_keys[] below (like file_fdw's valid_options[]) is the one list of
 * what a column of a spec may say: each key's name, the JSON type of its
 * value, whether a "severity" can make it a warning, and whether a column
 * that is not loaded needs a "type" for it.  load_spec_fetch (load_spec.c)
 * asks load_column_key_can_warn which rules a severity "warn" makes
 * warnings.
 *
 * The options of a spec and its expectations are declared the same way
 * (option_keys[], expect_keys[]): each key's name, the JSON type of its
 * value, the values of an option of a fixed set, its default, and the check
 * of its value (dialect, mode and conflict_key, limits, checks, the columns
 * expectations name).  The defaults are read by the loader
 * (load_options_resolve) and by the view pgetl.loads (pgetl._load_options).
 *
 * pgetl._load_check_spec is the one validator of a spec's document:
 * pgetl._define_load (src/sql/60_load.sql) calls it and stores what it
 * accepts.  What runs user code (types, domains, check expressions,
 * references' tables) is compiled later, as the caller, by load_spec.c.
 *
 *-------------------------------------------------------------------------
 */
#include "load.h"

#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_collation.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "regex/regex.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/timestamp.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(pgetl_load_check_spec);
PG_FUNCTION_INFO_V1(pgetl_load_options);

/* The JSON value a column key takes */
typedef enum LoadKeyValue
{
	LKV_STRING,
	LKV_NUMBER,
	LKV_BOOLEAN,
	LKV_ARRAY,
	LKV_OBJECT,
	LKV_SCALAR,					/* a string, number or boolean */
	LKV_OWN						/* checked by code of its own (name, target,
								 * severity) */
} LoadKeyValue;

typedef struct LoadColumnKey
{
	const char *name;
	LoadKeyValue value;
	/* its place in the list of rules a severity can make warnings, or 0 */
	int			warn_rank;
	/* a column that is not loaded needs a "type" to apply it */
	bool		needs_type;
} LoadColumnKey;

/*
 * The keys of a column, in the order the "Valid keys" hint lists them.  The
 * type rule cannot warn: a value that is not of the type cannot be loaded.
 */
static const LoadColumnKey column_keys[] = {
	{"name", LKV_OWN, 0, false},
	{"target", LKV_OWN, 0, false},
	{"required", LKV_BOOLEAN, 1, false},
	{"type", LKV_STRING, 0, false},
	{"format", LKV_STRING, 0, true},
	{"min", LKV_SCALAR, 2, true},
	{"max", LKV_SCALAR, 3, true},
	{"pattern", LKV_STRING, 4, false},
	{"prefix", LKV_STRING, 6, false},
	{"max_length", LKV_NUMBER, 7, false},
	{"max_decimals", LKV_NUMBER, 9, false},
	{"allowed", LKV_ARRAY, 10, true},
	{"unique", LKV_BOOLEAN, 12, false},
	{"min_length", LKV_NUMBER, 8, false},
	{"not_allowed", LKV_ARRAY, 11, true},
	{"not_pattern", LKV_STRING, 5, false},
	{"references", LKV_OBJECT, 13, true},
	{"severity", LKV_OWN, 0, false},
};

#define NUM_COLUMN_KEYS lengthof(column_keys)

static const char *const value_type_names[] = {
	"string", "number", "boolean", "array", "object", NULL, NULL
};

/* the entry of key "name", or NULL */
static const LoadColumnKey *
column_key(const char *name)
{
	for (int i = 0; i < NUM_COLUMN_KEYS; i++)
		if (strcmp(column_keys[i].name, name) == 0)
			return &column_keys[i];
	return NULL;
}

/*
 * load_column_key_can_warn - whether a "severity" can make the rule of
 * column key "name" a warning.
 */
bool
load_column_key_can_warn(const char *name)
{
	const LoadColumnKey *k = column_key(name);

	return k != NULL && k->warn_rank > 0;
}

/* "Valid keys: ..." and "Rules that can warn: ...", palloc'd */
static char *
valid_keys_list(bool warning_rules)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (!warning_rules)
	{
		for (int i = 0; i < NUM_COLUMN_KEYS; i++)
			appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", column_keys[i].name);
		return buf.data;
	}
	for (int rank = 1; rank <= NUM_COLUMN_KEYS; rank++)
		for (int i = 0; i < NUM_COLUMN_KEYS; i++)
			if (column_keys[i].warn_rank == rank)
				appendStringInfo(&buf, "%s%s", rank > 1 ? ", " : "", column_keys[i].name);
	return buf.data;
}

/* jsonb_typeof of a value */
static const char *
jsonb_value_type(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvArray:
			return "array";
		case jbvObject:
			return "object";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "array" : "object";
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return NULL;				/* keep compiler quiet */
}

/* v as jsonb output (the SQL operator ->), palloc'd */
static char *
jsonb_value_out(JsonbValue *v)
{
	Jsonb	   *jb = JsonbValueToJsonb(v);

	return JsonbToCString(NULL, &jb->root, VARSIZE(jb));
}

/* v as text (the SQL operator ->>: a string unquoted), NULL for null */
static char *
jsonb_value_text(JsonbValue *v)
{
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	return jsonb_value_out(v);
}

/* the value of key in object c, or NULL */
static JsonbValue *
json_get(JsonbContainer *c, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(c, JB_FOBJECT, &k);
}

/* the elements of array c */
static List *
json_elements(JsonbContainer *c)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *elems = NIL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
		{
			JsonbValue *copy = palloc(sizeof(JsonbValue));

			*copy = v;
			elems = lappend(elems, copy);
		}
	return elems;
}

/* the container of an object or array value */
static JsonbContainer *
json_container(JsonbValue *v)
{
	Assert(v->type == jbvBinary);
	return v->val.binary.data;
}

/*
 * check_typed - error unless v is null or of the JSON type want
 * (pgetl._load_typed): "<what> must be a <want>, not <type>".
 */
static void
check_typed(JsonbValue *v, const char *what, const char *want)
{
	if (v != NULL && v->type != jbvNull && strcmp(jsonb_value_type(v), want) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a %s, not %s", what, want, jsonb_value_type(v))));
}

/*
 * check_scalar - error unless v is null, a string, a number or a boolean
 * (what 0.1's pgetl._load_scalar checked).
 */
static void
check_scalar(JsonbValue *v, const char *what)
{
	if (v != NULL && (v->type == jbvBinary || v->type == jbvArray || v->type == jbvObject))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a string, number or boolean, not %s", what, jsonb_value_type(v))));
}

/* whether numeric v is negative, or not a whole number */
static bool
negative_or_fraction(JsonbValue *v)
{
	Datum		n = NumericGetDatum(v->val.numeric);
	Datum		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
	Datum		whole = DirectFunctionCall2(numeric_trunc, n, Int32GetDatum(0));

	return DatumGetBool(DirectFunctionCall2(numeric_lt, n, zero)) ||
		!DatumGetBool(DirectFunctionCall2(numeric_eq, n, whole));
}

/* numeric value of key, or NULL when absent or null (after check_typed) */
static JsonbValue *
json_number(JsonbContainer *c, const char *key)
{
	JsonbValue *v = json_get(c, key);

	return v != NULL && v->type == jbvNumeric ? v : NULL;
}

/*
 * check_pattern - error unless key (pattern or not_pattern) of the column
 * is a valid regular expression, as the ~ operator reads it.
 */
static void
check_pattern(JsonbContainer *c, const char *key, const char *label)
{
	char	   *pattern = jsonb_value_text(json_get(c, key));
	int			len;
	pg_wchar   *wpat;
	int			wlen;
	regex_t		re;
	int			rc;

	if (pattern == NULL)
		return;
	len = strlen(pattern);
	wpat = palloc((len + 1) * sizeof(pg_wchar));
	wlen = pg_mb2wchar_with_len(pattern, wpat, len);
	rc = pg_regcomp(&re, wpat, wlen, REG_ADVANCED, DEFAULT_COLLATION_OID);
	if (rc != REG_OKAY)
	{
		char		msg[128];

		pg_regerror(rc, &re, msg, sizeof(msg));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
				 errmsg("invalid %s for column \"%s\": invalid regular expression: %s", key, label, msg),
				 errhint("Patterns are PostgreSQL regular expressions (POSIX ARE), as with the ~ operator.")));
	}
	pg_regfree(&re);
	pfree(wpat);
}

/* whether relation relid has a live user column attname; its attgenerated */
static bool
target_column(Oid relid, const char *attname, char *generated)
{
	HeapTuple	tup = SearchSysCacheAttName(relid, attname);
	bool		found = false;

	*generated = '\0';
	if (HeapTupleIsValid(tup))
	{
		Form_pg_attribute att = (Form_pg_attribute) GETSTRUCT(tup);

		found = att->attnum > 0;
		*generated = att->attgenerated;
		ReleaseSysCache(tup);
	}
	return found;
}

/* a severity value: "error" or "warn" */
static bool
is_severity(JsonbValue *v)
{
	char	   *s;

	if (v == NULL || v->type != jbvString)
		return false;
	s = jsonb_value_text(v);
	return strcmp(s, "error") == 0 || strcmp(s, "warn") == 0;
}

/*
 * check_severity - the severity of a column: "error" or "warn" for all its
 * rules, or an object giving it rule by rule (rules that can warn and that
 * the column has).
 */
static void
check_severity(JsonbContainer *c, const char *label)
{
	JsonbValue *sev = json_get(c, "severity");

	if (sev == NULL || sev->type == jbvNull)
		return;
	if (sev->type == jbvString)
	{
		if (!is_severity(sev))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid severity for column \"%s\": %s", label, jsonb_value_out(sev)),
					 errhint("Valid values: error, warn.")));
		return;
	}
	if (strcmp(jsonb_value_type(sev), "object") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("severity of column \"%s\" must be a string or an object, not %s", label, jsonb_value_type(sev)),
				 errhint("For example \"severity\": \"warn\", or \"severity\": {\"pattern\": \"warn\"}.")));
	{
		ListCell   *lc;

		foreach(lc, pgetl_jsonb_keys(json_container(sev)))
		{
			char	   *rule = lfirst(lc);
			JsonbValue *v = json_get(json_container(sev), rule);

			if (!load_column_key_can_warn(rule))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("severity of column \"%s\" names \"%s\", which is not a rule that can warn", label, rule),
						 errdetail("A value that is not of the column's type (or format) cannot be loaded, so the type rule always rejects."),
						 errhint("Rules that can warn: %s.", valid_keys_list(true))));
			if (json_get(c, rule) == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("severity of column \"%s\" names rule \"%s\", which the column does not have", label, rule)));
			if (!is_severity(v))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid severity for rule \"%s\" of column \"%s\": %s", rule, label, jsonb_value_out(v)),
						 errhint("Valid values: error, warn.")));
		}
	}
}

/*
 * check_column - validate column i (1-based) of a spec: its keys and their
 * values, and the target column it names (relation relid, called qname in
 * messages).  names and targets collect the CSV and target names seen.
 */
static void
check_column(JsonbValue *col, int i, Oid relid, const char *qname, bool header,
			 List **names, List **targets)
{
	JsonbContainer *c;
	char	   *name;
	char	   *label;
	char	   *tgt;
	JsonbValue *v;
	ListCell   *lc;
	List	   *keys;

	if (strcmp(jsonb_value_type(col), "object") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column %d of the spec must be a JSON object, not %s", i, jsonb_value_type(col))));
	c = json_container(col);
	name = jsonb_value_text(json_get(c, "name"));
	label = name ? name : psprintf("%d", i);
	keys = pgetl_jsonb_keys(c);
	foreach(lc, keys)
	{
		if (column_key(lfirst(lc)) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\" in column %s", (char *) lfirst(lc), label),
					 errhint("Valid keys: %s.", valid_keys_list(false))));
	}

	/* name: the CSV header's, needed with a header */
	v = json_get(c, "name");
	check_typed(v, psprintf("name of column %d", i), "string");
	if ((v == NULL || v->type == jbvNull) && header)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column %d has no name", i),
				 errhint("With \"header\": true, each column needs the \"name\" of its CSV header.")));
	if (name != NULL)
	{
		foreach(lc, *names)
		{
			if (strcmp(lfirst(lc), name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("column \"%s\" appears twice in the spec", name)));
		}
		*names = lappend(*names, name);
	}

	/* target: a column of the target table (by default the name), or null */
	v = json_get(c, "target");
	if (v != NULL)
	{
		check_typed(v, psprintf("target of column %s", label), "string");
		tgt = jsonb_value_text(v);
	}
	else
		tgt = name;
	if (tgt != NULL)
	{
		char		generated;

		if (!target_column(relid, tgt, &generated))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation %s does not exist", tgt, qname),
					 errhint("Set \"target\" to the column to load it into, or to null to skip this CSV column.")));
		if (generated != '\0')
			ereport(ERROR,
					(errcode(ERRCODE_GENERATED_ALWAYS),
					 errmsg("column \"%s\" of relation %s is a generated column", tgt, qname)));
		foreach(lc, *targets)
		{
			if (strcmp(lfirst(lc), tgt) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("target column \"%s\" is loaded from two CSV columns", tgt)));
		}
		*targets = lappend(*targets, tgt);
	}
	else if (json_get(c, "type") == NULL)
	{
		for (int k = 0; k < NUM_COLUMN_KEYS; k++)
			if (column_keys[k].needs_type && json_get(c, column_keys[k].name) != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("column \"%s\" is not loaded, so its min, max, format, allowed, not_allowed and references need a \"type\"", label)));
	}

	/* the values' JSON types, key by key in jsonb's order */
	foreach(lc, keys)
	{
		const LoadColumnKey *k = column_key(lfirst(lc));

		v = json_get(c, k->name);
		if (k->value == LKV_SCALAR)
			check_scalar(v, k->name);
		else if (k->value != LKV_OWN)
			check_typed(v, k->name, value_type_names[k->value]);
	}

	/* lengths and decimals are counts */
	if (((v = json_number(c, "max_length")) != NULL && negative_or_fraction(v)) ||
		((v = json_number(c, "max_decimals")) != NULL && negative_or_fraction(v)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_length and max_decimals of column \"%s\" must be non-negative integers", label)));
	if ((v = json_number(c, "min_length")) != NULL && negative_or_fraction(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_length of column \"%s\" must be a non-negative integer, not %s", label, jsonb_value_out(v))));
	if ((v = json_number(c, "min_length")) != NULL && json_number(c, "max_length") != NULL &&
		DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(v->val.numeric),
										 NumericGetDatum(json_number(c, "max_length")->val.numeric))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_length %s of column \"%s\" is greater than max_length %s",
						jsonb_value_text(v), label, jsonb_value_text(json_number(c, "max_length")))));

	check_pattern(c, "pattern", label);
	check_pattern(c, "not_pattern", label);

	/* references: {"table": ..., "column": ...} */
	v = json_get(c, "references");
	if (v != NULL)
	{
		bool		ok = strcmp(jsonb_value_type(v), "object") == 0;

		if (ok)
		{
			JsonbValue *t = json_get(json_container(v), "table");
			JsonbValue *col2 = json_get(json_container(v), "column");

			ok = t != NULL && t->type == jbvString && col2 != NULL && col2->type == jbvString &&
				list_length(pgetl_jsonb_keys(json_container(v))) == 2;
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("references of column \"%s\" must be an object {\"table\": ..., \"column\": ...}", label),
					 errhint("For example: \"references\": {\"table\": \"public.customers\", \"column\": \"customer_id\"}")));
	}

	check_severity(c, label);
}

/*
 * check_columns - validate the columns of a load spec (see check_column)
 * for target relid (called qname in messages); an error on the first
 * problem, in the order pgetl_define_load documents.
 */
static void
check_columns(Jsonb *columns, Oid relid, const char *qname, bool header)
{
	List	   *names = NIL;
	List	   *targets = NIL;
	int			i = 0;
	ListCell   *lc;

	if (columns == NULL || !JB_ROOT_IS_ARRAY(columns) || JB_ROOT_IS_SCALAR(columns) ||
		JB_ROOT_COUNT(columns) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("columns must be a non-empty JSON array of objects"),
				 errhint("For example: '[{\"name\": \"price\", \"type\": \"numeric\", \"min\": 0}]'::jsonb")));
	foreach(lc, json_elements(&columns->root))
		check_column(lfirst(lc), ++i, relid, qname, header, &names, &targets);
}

/*
 * check_column_values - error unless the values listed by allowed and
 * not_allowed are strings, numbers or booleans.  Checked after the checks
 * and expectations (as the rows of 0.1's catalog were made), so that which
 * of two problems is told first did not change.
 */
static void
check_column_values(Jsonb *columns)
{
	ListCell   *lc;

	foreach(lc, json_elements(&columns->root))
	{
		JsonbValue *col = lfirst(lc);

		if (strcmp(jsonb_value_type(col), "object") != 0)
			continue;
		for (int k = 0; k < NUM_COLUMN_KEYS; k++)
		{
			JsonbValue *v;
			ListCell   *lc2;

			if (column_keys[k].value != LKV_ARRAY)
				continue;
			v = json_get(json_container(col), column_keys[k].name);
			if (v == NULL || strcmp(jsonb_value_type(v), "array") != 0)
				continue;
			foreach(lc2, json_elements(json_container(v)))
				check_scalar(lfirst(lc2), psprintf("%s value", column_keys[k].name));
		}
	}
}

/*
 * What the checks of option and expectation values know: the document and
 * the target.
 */
typedef struct SpecCheck
{
	Jsonb	   *options;
	JsonbContainer *expect;		/* the "expect" object, for expect_keys[] */
	Oid			relid;
	char		relkind;
	const char *qname;			/* the target's qualified, quoted name */
	bool		header;
} SpecCheck;

/*
 * The check of an option's (or expectation's) value: v is the value of
 * option key, or
 * NULL when the document does not give it (a check may then still look at
 * other options).  An error on a problem.
 */
typedef void (*OptionCheck) (const char *key, JsonbValue *v, SpecCheck *sc);

/*
 * The options of a spec and the expectations of its "expect" option: each
 * key, the JSON type of its value, for an option of a fixed set of values
 * those values, its default, and the check of its value.  The checks run in
 * the order of the table (options marked after_columns after the columns
 * are checked), which is the order in which pgetl_define_load tells the
 * first problem.
 */
typedef struct LoadOptionKey
{
	const char *name;
	const char *type;
	const char *const *choices;
	/* its value (as text) when the document does not give it, or NULL */
	const char *dflt;
	OptionCheck check;
	bool		after_columns;
} LoadOptionKey;

static void check_unlisted_columns(const char *key, JsonbValue *v, SpecCheck *sc);
static void check_dialect(const char *key, JsonbValue *v, SpecCheck *sc);
static void check_encoding(const char *key, JsonbValue *v, SpecCheck *sc);
static void check_mode(const char *key, JsonbValue *v, SpecCheck *sc);
static void check_conflict(const char *key, JsonbValue *v, SpecCheck *sc);
static void check_max_rejects(const char *key, JsonbValue *v, SpecCheck *sc);
static void check_commit_every(const char *key, JsonbValue *v, SpecCheck *sc);
static void check_max_reject_ratio(const char *key, JsonbValue *v, SpecCheck *sc);
static void check_checks(const char *key, JsonbValue *v, SpecCheck *sc);
static void check_expect(const char *key, JsonbValue *v, SpecCheck *sc);
static void check_row_count(const char *key, JsonbValue *v, SpecCheck *sc);
static void check_row_counts(const char *key, JsonbValue *v, SpecCheck *sc);
static void check_expect_ratio(const char *key, JsonbValue *v, SpecCheck *sc);
static void check_name_list(const char *key, JsonbValue *v, SpecCheck *sc);
static void check_freshness(const char *key, JsonbValue *v, SpecCheck *sc);

static const char *const unlisted_columns_choices[] = {"error", "ignore", NULL};

/*
 * The defaults are the one place that says what a spec without an option
 * does: the loader (load_options_resolve) and the view pgetl.loads
 * (pgetl._load_options) read the document through them.  The hint of an
 * unknown option lists them in alphabetical order.
 */
static const LoadOptionKey option_keys[] = {
	{"unlisted_columns", "string", unlisted_columns_choices, "error", check_unlisted_columns, false},
	{"header", "boolean", NULL, "true", NULL, false},
	/* delimiter, quote and escape are checked together */
	{"delimiter", "string", NULL, ",", check_dialect, false},
	{"quote", "string", NULL, "\"", NULL, false},
	{"escape", "string", NULL, NULL, NULL, false},	/* the quote */
	{"null", "string", NULL, "", NULL, false},
	{"encoding", "string", NULL, "UTF8", check_encoding, false},
	{"mode", "string", NULL, "append", check_mode, false},
	/* conflict_key and on_conflict are checked together */
	{"conflict_key", "array", NULL, NULL, check_conflict, false},
	{"on_conflict", "string", NULL, NULL, NULL, false}, /* update, with mode
														 * upsert */
	{"max_rejects", "number", NULL, NULL, check_max_rejects, false},
	{"commit_every", "number", NULL, NULL, check_commit_every, false},
	{"max_reject_ratio", "number", NULL, NULL, check_max_reject_ratio, false},
	{"checks", "array", NULL, NULL, check_checks, true},
	{"expect", "object", NULL, NULL, check_expect, true},
	{"require_final_newline", "boolean", NULL, "false", NULL, true},
	{NULL, NULL, NULL, NULL, NULL, false}
};

/*
 * The expectations; after their values, the target columns they name are
 * checked (check_expect).
 */
static const LoadOptionKey expect_keys[] = {
	{"min_rows", "number", NULL, NULL, check_row_count, false},
	{"max_rows", "number", NULL, NULL, check_row_counts, false},
	{"max_reject_ratio", "number", NULL, NULL, check_expect_ratio, false},
	{"unique", "array", NULL, NULL, check_name_list, false},
	{"not_null", "array", NULL, NULL, check_name_list, false},
	{"sql", "array", NULL, NULL, check_name_list, false},
	{"freshness", "object", NULL, NULL, check_freshness, false},
	{NULL, NULL, NULL, NULL, NULL, false}
};

/* the entry of key in keys, or NULL */
static const LoadOptionKey *
option_key(const LoadOptionKey *keys, const char *key)
{
	for (; keys->name != NULL; keys++)
		if (strcmp(keys->name, key) == 0)
			return keys;
	return NULL;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* the names of keys, in alphabetical order, separated by ", " */
static char *
option_names(const LoadOptionKey *keys)
{
	const char *names[32];
	int			n = 0;
	StringInfoData buf;

	for (; keys->name != NULL && n < lengthof(names); keys++)
		names[n++] = keys->name;
	qsort(names, n, sizeof(char *), cmp_names);
	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", names[i]);
	return buf.data;
}

/*
 * check_option_types - error unless the options are an object of known
 * options, each of its JSON type (or null).
 */
static void
check_option_types(Jsonb *options)
{
	ListCell   *lc;

	if (options == NULL || !JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object"),
				 errhint("For example: '{\"delimiter\": \";\", \"max_rejects\": 100}'::jsonb")));
	foreach(lc, pgetl_jsonb_keys(&options->root))
	{
		if (option_key(option_keys, lfirst(lc)) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown load option \"%s\"", (char *) lfirst(lc)),
					 errhint("Valid options: %s.", option_names(option_keys))));
	}
	/* every key is known now: check them in jsonb's order */
	foreach(lc, pgetl_jsonb_keys(&options->root))
	{
		const LoadOptionKey *k = option_key(option_keys, lfirst(lc));

		check_typed(json_get(&options->root, k->name), psprintf("option %s", k->name), k->type);
	}
}

/*
 * check_option_values - run the checks of the options (or expectations) of
 * keys whose after_columns is after_columns, in the table's order: the
 * value of an option of a fixed set first, then its check.  c is the
 * options' (or expectations') object.
 */
static void
check_option_values(const LoadOptionKey *keys, JsonbContainer *c, bool after_columns,
					SpecCheck *sc)
{
	for (const LoadOptionKey *k = keys; k->name != NULL; k++)
	{
		JsonbValue *v = json_get(c, k->name);

		if (k->after_columns != after_columns)
			continue;
		if (k->choices != NULL && v != NULL && v->type == jbvString)
		{
			char	   *value = jsonb_value_text(v);
			bool		found = false;
			StringInfoData hint;

			initStringInfo(&hint);
			for (int i = 0; k->choices[i] != NULL; i++)
			{
				found |= strcmp(k->choices[i], value) == 0;
				appendStringInfo(&hint, "%s%s", i > 0 ? ", " : "", k->choices[i]);
			}
			if (!found)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option %s: %s", k->name, jsonb_value_out(v)),
						 errhint("Valid values: %s.", hint.data)));
		}
		if (k->check != NULL)
			k->check(k->name, v, sc);
	}
}

/* option key as text (the operator ->>), NULL when absent or null */
static char *
option_raw(SpecCheck *sc, const char *key)
{
	return jsonb_value_text(json_get(&sc->options->root, key));
}

/* unlisted_columns "ignore" matches CSV columns by the header's names */
static void
check_unlisted_columns(const char *key, JsonbValue *v, SpecCheck *sc)
{
	char	   *s = jsonb_value_text(v);

	if (s != NULL && strcmp(s, "ignore") == 0 && !sc->header)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option unlisted_columns \"ignore\" needs a header"),
				 errdetail("Without a header, CSV columns are matched to the spec by position."),
				 errhint("Set \"header\": true, or list every CSV column (with \"target\": null to skip one).")));
}

/* s as a JSON string (to_json), palloc'd */
static char *
json_string(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	escape_json(&buf, s);
	return buf.data;
}

/* delimiter, quote and escape: one byte each; a delimiter, a quote */
static void
check_dialect(const char *key, JsonbValue *v, SpecCheck *sc)
{
	char	   *delim = load_option_text(sc->options, "delimiter");
	char	   *quote = load_option_text(sc->options, "quote");
	char	   *escape = load_option_text(sc->options, "escape");

	if (strlen(delim) != 1 || strlen(quote) != 1 || strlen(escape ? escape : "\"") != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delimiter, quote and escape must each be a single one-byte character")));
	if (delim[0] == '\r' || delim[0] == '\n' || quote[0] == '\r' || quote[0] == '\n' ||
		delim[0] == quote[0])
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid CSV dialect: delimiter %s, quote %s", json_string(delim), json_string(quote)),
				 errdetail("The delimiter and the quote must differ and cannot be a newline or carriage return.")));
}

static void
check_encoding(const char *key, JsonbValue *v, SpecCheck *sc)
{
	char	   *enc = load_option_text(sc->options, "encoding");

	if (pg_char_to_encoding(enc) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown encoding \"%s\"", enc),
				 errhint("For example UTF8, LATIN1, WIN1252.")));
}

static void
check_mode(const char *key, JsonbValue *v, SpecCheck *sc)
{
	char	   *mode = load_option_text(sc->options, "mode");

	if (strcmp(mode, "append") != 0 && strcmp(mode, "upsert") != 0 && strcmp(mode, "replace") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown load mode \"%s\"", mode),
				 errhint("Valid modes: append, upsert, replace.")));
}

/*
 * unique_index_matches - whether relation relid has a unique index, not
 * partial, whose key columns are exactly the names of ckey (of char *)
 */
static bool
unique_index_matches(Oid relid, List *ckey)
{
	Datum	   *elems = palloc(sizeof(Datum) * list_length(ckey));
	int			n = 0;
	ListCell   *lc;
	Oid			types[2] = {OIDOID, TEXTARRAYOID};
	Datum		values[2];
	bool		found;

	foreach(lc, ckey)
		elems[n++] = CStringGetTextDatum(lfirst(lc));
	values[0] = ObjectIdGetDatum(relid);
	values[1] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT EXISTS (SELECT FROM pg_catalog.pg_index x "
							  "WHERE x.indrelid OPERATOR(pg_catalog.=) $1 AND x.indisunique "
							  "AND x.indpred IS NULL "
							  "AND x.indnkeyatts OPERATOR(pg_catalog.=) pg_catalog.cardinality($2) "
							  "AND (SELECT pg_catalog.array_agg(a.attname::pg_catalog.text "
							  "ORDER BY a.attname::pg_catalog.text COLLATE \"C\") "
							  "FROM pg_catalog.unnest(x.indkey::pg_catalog.int2[]) WITH ORDINALITY AS ik(attnum, o) "
							  "JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) $1 "
							  "AND a.attnum OPERATOR(pg_catalog.=) ik.attnum "
							  "WHERE ik.o OPERATOR(pg_catalog.<=) x.indnkeyatts) "
							  "OPERATOR(pg_catalog.=) (SELECT pg_catalog.array_agg(u ORDER BY u COLLATE \"C\") "
							  "FROM pg_catalog.unnest($2) u)) AS found",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not look up the unique indexes of relation %u", relid);
	{
		bool		isnull;

		found = DatumGetBool(pgetl_spi_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
												 "found", &isnull));
	}
	SPI_finish();
	return found;
}

/*
 * conflict_key and on_conflict: with mode upsert, target columns of a
 * unique index (not of a foreign table), and update or nothing; nothing
 * otherwise.  An empty conflict_key is none.
 */
static void
check_conflict(const char *key, JsonbValue *v, SpecCheck *sc)
{
	char	   *mode = load_option_text(sc->options, "mode");
	char	   *onc = option_raw(sc, "on_conflict");
	List	   *ckey = NIL;
	ListCell   *lc;

	if (v != NULL && strcmp(jsonb_value_type(v), "array") == 0)
		foreach(lc, json_elements(json_container(v)))
			ckey = lappend(ckey, jsonb_value_text(lfirst(lc)));
	if (strcmp(mode, "upsert") != 0)
	{
		if (ckey != NIL || onc != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("conflict_key and on_conflict apply only to mode upsert")));
		return;
	}
	if (ckey == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mode upsert needs a conflict_key"),
				 errhint("Name the target columns of a unique index, e.g. \"conflict_key\": [\"order_id\"].")));
	if (onc != NULL && strcmp(onc, "update") != 0 && strcmp(onc, "nothing") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("on_conflict must be update or nothing, not \"%s\"", onc)));
	foreach(lc, ckey)
	{
		char	   *k = lfirst(lc);
		char		generated;

		if (k == NULL || !target_column(sc->relid, k, &generated))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("conflict_key column \"%s\" does not exist in %s", k ? k : "<NULL>", sc->qname)));
	}
	if (sc->relkind != RELKIND_FOREIGN_TABLE && !unique_index_matches(sc->relid, ckey))
	{
		StringInfoData names;

		initStringInfo(&names);
		foreach(lc, ckey)
			appendStringInfo(&names, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
							 (char *) lfirst(lc));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("no unique index of %s matches conflict_key (%s)", sc->qname, names.data),
				 errhint("Create a unique index or primary key on exactly these columns.")));
	}
}

/* max_rejects: zero or more (a fraction is rounded, as 0.1 stored it) */
static void
check_max_rejects(const char *key, JsonbValue *v, SpecCheck *sc)
{
	int64		n;

	if (v == NULL || v->type != jbvNumeric)
		return;
	n = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rejects must be zero or more, not " INT64_FORMAT, n)));
}

/* numeric v compared with bigint's largest */
static bool
above_int64(JsonbValue *v)
{
	Datum		max = DirectFunctionCall1(int8_numeric, Int64GetDatum(PG_INT64_MAX));

	return DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(v->val.numeric), max));
}

/* commit_every: a positive whole number; not with expectations */
static void
check_commit_every(const char *key, JsonbValue *v, SpecCheck *sc)
{
	if (v != NULL && v->type == jbvNumeric)
	{
		Datum		n = NumericGetDatum(v->val.numeric);
		Datum		one = DirectFunctionCall1(int4_numeric, Int32GetDatum(1));
		Datum		whole = DirectFunctionCall2(numeric_trunc, n, Int32GetDatum(0));

		if (DatumGetBool(DirectFunctionCall2(numeric_lt, n, one)) ||
			!DatumGetBool(DirectFunctionCall2(numeric_eq, n, whole)) || above_int64(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("commit_every must be a positive whole number of records, not %s", jsonb_value_out(v)),
					 errhint("For example: {\"commit_every\": 100000} commits every 100000 records.")));
	}

	/*
	 * expectations judge the whole load, which commit_every commits in
	 * stretches before they could be checked: the two do not combine
	 */
	if (v != NULL && json_get(&sc->options->root, "expect") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options commit_every and expect cannot be combined"),
				 errdetail("Expectations are checked after the last row is in, in the load's transaction, so that a failed one loads nothing; a load with commit_every has committed its earlier stretches by then."),
				 errhint("Drop commit_every to check expectations (write-audit-publish), or drop expect to commit as you go.")));
}

/* numeric v as a double precision (the cast) */
static double
number_float8(JsonbValue *v)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

static void
check_max_reject_ratio(const char *key, JsonbValue *v, SpecCheck *sc)
{
	double		r;

	if (v == NULL || v->type != jbvNumeric)
		return;
	r = number_float8(v);
	if (r < 0 || r > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_reject_ratio must be between 0 and 1, not %s",
						DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(r))))));
}

/* checks: objects {"name", "expression", "severity"}, names unique */
static void
check_checks(const char *key, JsonbValue *v, SpecCheck *sc)
{
	List	   *names = NIL;
	ListCell   *lc;

	if (v == NULL || strcmp(jsonb_value_type(v), "array") != 0)
		return;
	foreach(lc, json_elements(json_container(v)))
	{
		JsonbValue *ck = lfirst(lc);
		bool		ok = strcmp(jsonb_value_type(ck), "object") == 0;
		JsonbValue *sev = NULL;
		char	   *name = NULL;
		ListCell   *lc2;

		if (ok)
		{
			JsonbContainer *c = json_container(ck);
			JsonbValue *n = json_get(c, "name");
			JsonbValue *e = json_get(c, "expression");

			ok = n != NULL && n->type == jbvString && e != NULL && e->type == jbvString;
			foreach(lc2, pgetl_jsonb_keys(c))
			{
				char	   *key = lfirst(lc2);

				if (strcmp(key, "name") != 0 && strcmp(key, "expression") != 0 &&
					strcmp(key, "severity") != 0)
					ok = false;
			}
			if (ok)
			{
				name = jsonb_value_text(n);
				sev = json_get(c, "severity");
			}
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("each check must be an object {\"name\": ..., \"expression\": ...}"),
					 errhint("For example: {\"name\": \"positive_total\", \"expression\": \"quantity * price > 0\"}, optionally with \"severity\": \"warn\".")));
		if (sev != NULL && !is_severity(sev))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid severity for check \"%s\": %s", name, jsonb_value_out(sev)),
					 errhint("Valid values: error, warn.")));
		foreach(lc2, names)
		{
			if (strcmp(lfirst(lc2), name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_OBJECT),
						 errmsg("check \"%s\" appears twice", name)));
		}
		names = lappend(names, name);
	}
}

/* whether the target has a live user column attname */
static bool
has_column(SpecCheck *sc, const char *attname)
{
	char		generated;

	return attname != NULL && target_column(sc->relid, attname, &generated);
}

/*
 * the names an expectation's value lists, NULL for a null value (the
 * column "<NULL>", as 0.1 told it)
 */
static List *
expect_names(SpecCheck *sc, const char *key)
{
	JsonbValue *v = json_get(sc->expect, key);
	List	   *names = NIL;
	ListCell   *lc;

	if (v == NULL)
		return NIL;
	if (v->type == jbvNull)
		return list_make1(NULL);
	foreach(lc, json_elements(json_container(v)))
		names = lappend(names, jsonb_value_text(lfirst(lc)));
	return names;
}

/*
 * expect: the known expectations of their types, their values, then the
 * target columns they name (and the type of freshness's)
 */
static void
check_expect(const char *key, JsonbValue *v, SpecCheck *sc)
{
	JsonbValue *fresh;
	JsonbValue *col = NULL;
	List	   *names;
	ListCell   *lc;

	if (v == NULL || v->type == jbvNull)
		return;
	sc->expect = json_container(v);
	foreach(lc, pgetl_jsonb_keys(sc->expect))
	{
		const LoadOptionKey *k = option_key(expect_keys, lfirst(lc));

		if (k == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown expectation \"%s\"", (char *) lfirst(lc)),
					 errhint("Valid expectations: %s.", option_names(expect_keys))));
		check_typed(json_get(sc->expect, k->name), psprintf("expectation %s", k->name), k->type);
	}
	check_option_values(expect_keys, sc->expect, false, sc);

	fresh = json_get(sc->expect, "freshness");
	if (fresh != NULL && fresh->type != jbvNull)
		col = json_get(json_container(fresh), "column");
	names = list_concat(expect_names(sc, "unique"), expect_names(sc, "not_null"));
	if (col != NULL)
		names = lappend(names, jsonb_value_text(col));
	foreach(lc, names)
	{
		char	   *k = lfirst(lc);

		if (!has_column(sc, k))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("expectation names column \"%s\", which relation %s does not have",
							k ? k : "<NULL>", sc->qname),
					 errhint("Expectations name columns of the target table.")));
	}
	if (col != NULL)
	{
		char	   *name = jsonb_value_text(col);
		HeapTuple	tup = SearchSysCacheAttName(sc->relid, name);
		Oid			type = InvalidOid;

		if (HeapTupleIsValid(tup))
		{
			HeapTuple	ttup;

			type = ((Form_pg_attribute) GETSTRUCT(tup))->atttypid;
			ReleaseSysCache(tup);
			/* a domain over one of them will do (not a domain over a domain) */
			ttup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
			if (HeapTupleIsValid(ttup))
			{
				Form_pg_type t = (Form_pg_type) GETSTRUCT(ttup);

				if (t->typtype == TYPTYPE_DOMAIN)
					type = t->typbasetype;
				ReleaseSysCache(ttup);
			}
		}
		if (type != DATEOID && type != TIMESTAMPOID && type != TIMESTAMPTZOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("expectation freshness needs a date, timestamp or timestamptz column, not \"%s\"", name)));
	}
}

/* min_rows and max_rows: non-negative integers */
static void
check_row_count(const char *key, JsonbValue *v, SpecCheck *sc)
{
	if (v != NULL && v->type == jbvNumeric && negative_or_fraction(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expectation %s must be a non-negative integer, not %s", key, jsonb_value_out(v))));
}

/* max_rows, then min_rows not above it */
static void
check_row_counts(const char *key, JsonbValue *v, SpecCheck *sc)
{
	JsonbValue *min = json_number(sc->expect, "min_rows");

	check_row_count(key, v, sc);
	if (min != NULL && v != NULL && v->type == jbvNumeric &&
		DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(min->val.numeric),
										 NumericGetDatum(v->val.numeric))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expectation min_rows %s is greater than max_rows %s",
						jsonb_value_out(min), jsonb_value_out(v))));
}

static void
check_expect_ratio(const char *key, JsonbValue *v, SpecCheck *sc)
{
	double		r;

	if (v == NULL || v->type != jbvNumeric)
		return;
	r = number_float8(v);
	if (r < 0 || r > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expectation max_reject_ratio must be between 0 and 1, not %s", jsonb_value_out(v))));
}

/* unique, not_null and sql: non-empty arrays of non-empty strings */
static void
check_name_list(const char *key, JsonbValue *v, SpecCheck *sc)
{
	bool		ok;
	ListCell   *lc;

	if (v == NULL || strcmp(jsonb_value_type(v), "array") != 0)
		return;
	ok = JsonContainerSize(json_container(v)) > 0;
	foreach(lc, json_elements(json_container(v)))
	{
		JsonbValue *e = lfirst(lc);

		if (e->type != jbvString || e->val.string.len == 0)
			ok = false;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expectation %s must be a non-empty array of non-empty strings", key),
				 strcmp(key, "sql") == 0 ?
				 errhint("For example: \"sql\": [\"SELECT count(*) > 0 FROM public.sales WHERE region = 'north'\"]") :
				 errhint("Name target columns, e.g. \"%s\": [\"order_id\"].", key)));
}

/* freshness: {"column": ..., "max_age": a positive interval} */
static void
check_freshness(const char *key, JsonbValue *v, SpecCheck *sc)
{
	JsonbContainer *c;
	JsonbValue *col;
	JsonbValue *age;
	bool		ok = true;
	ListCell   *lc;
	char	   *volatile text;
	Interval   *volatile interval = NULL;
	Interval	zero = {0};
	MemoryContext volatile cxt = CurrentMemoryContext;

	if (v == NULL || strcmp(jsonb_value_type(v), "object") != 0)
		return;
	c = json_container(v);
	col = json_get(c, "column");
	age = json_get(c, "max_age");
	if (col == NULL || col->type != jbvString || age == NULL || age->type != jbvString)
		ok = false;
	foreach(lc, pgetl_jsonb_keys(c))
	{
		if (strcmp(lfirst(lc), "column") != 0 && strcmp(lfirst(lc), "max_age") != 0)
			ok = false;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expectation freshness must be an object {\"column\": ..., \"max_age\": ...}"),
				 errhint("For example: \"freshness\": {\"column\": \"sold_on\", \"max_age\": \"2 days\"}")));
	text = jsonb_value_text(age);

	/*
	 * an input that is not an interval is told as such; interval_in holds
	 * nothing to release, and the error is replaced by another at once
	 */
	PG_TRY();
	{
		interval = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum((char *) text),
														 ObjectIdGetDatum(InvalidOid),
														 Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_INVALID_DATETIME_FORMAT &&
			edata->sqlerrcode != ERRCODE_DATETIME_FIELD_OVERFLOW &&
			edata->sqlerrcode != ERRCODE_INTERVAL_FIELD_OVERFLOW)
			PG_RE_THROW();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
				 errmsg("expectation freshness: invalid max_age \"%s\"", (char *) text),
				 errhint("Give an interval, e.g. \"2 days\" or \"36 hours\".")));
	}
	PG_END_TRY();
	if (DatumGetBool(DirectFunctionCall2(interval_le, IntervalPGetDatum((Interval *) interval),
										 IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expectation freshness needs a positive max_age, not \"%s\"", (char *) text)));
}

/*
 * check_target - the target of a spec: a table, a partitioned table or a
 * foreign table, not a system catalog nor pgetl's own; its qualified,
 * quoted name and its relkind.
 */
static char *
check_target(Oid relid, char *relkind)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class rel;
	char	   *nspname;
	char	   *qname;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	rel = (Form_pg_class) GETSTRUCT(tup);
	nspname = get_namespace_name(rel->relnamespace);
	qname = psprintf("%s.%s", quote_identifier(nspname), quote_identifier(NameStr(rel->relname)));
	*relkind = rel->relkind;
	ReleaseSysCache(tup);
	if (strcmp(nspname, "pg_catalog") == 0 || strcmp(nspname, "pg_toast") == 0 ||
		strcmp(nspname, "information_schema") == 0 || strcmp(nspname, "pgetl") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot load into %s", qname),
				 errdetail("System catalogs and pgetl's own tables are not load targets.")));
	if (*relkind != RELKIND_RELATION && *relkind != RELKIND_PARTITIONED_TABLE &&
		*relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", qname),
				 errdetail("A load target must be a table, a partitioned table or a foreign table.")));
	return qname;
}

/*
 * pgetl._load_check_spec(name text, target oid, columns jsonb, options
 * jsonb) - validate a load spec's document for pgetl._define_load, which
 * stores it: its name, its target, the options (their keys and types, then
 * the checks of option_keys[] in order), the columns (column_keys[]), the
 * checks and expectations, the values columns list.  An error on the first
 * problem; returns the target's qualified, quoted name.  What runs user
 * code (types, check expressions, references) is compiled later, as the
 * caller, by load_spec.c.
 */
Datum
pgetl_load_check_spec(PG_FUNCTION_ARGS)
{
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *columns = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	SpecCheck	sc = {0};

	if (name == NULL || name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("load name must not be empty")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("target table must not be null")));
	sc.relid = PG_GETARG_OID(1);
	sc.qname = check_target(sc.relid, &sc.relkind);
	sc.options = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);

	check_option_types(sc.options);
	sc.header = strcmp(load_option_text(sc.options, "header"), "true") == 0;
	check_option_values(option_keys, &sc.options->root, false, &sc);
	check_columns(columns, sc.relid, sc.qname, sc.header);
	check_option_values(option_keys, &sc.options->root, true, &sc);
	check_column_values(columns);

	PG_RETURN_TEXT_P(cstring_to_text(sc.qname));
}

/*
 * load_option_text - option key of a spec's options as text (as the
 * operator ->> gives it), or its default (option_keys[]) when the document
 * does not give it or gives null; NULL without a default.  palloc'd.
 */
char *
load_option_text(Jsonb *options, const char *key)
{
	const LoadOptionKey *k = option_key(option_keys, key);
	JsonbValue *v = json_get(&options->root, key);

	if (k == NULL)
		elog(ERROR, "unknown load option \"%s\"", key);
	if (v == NULL || v->type == jbvNull)
		return k->dflt ? pstrdup(k->dflt) : NULL;
	return jsonb_value_text(v);
}

/*
 * The settings of a spec's options, resolved (defaults applied), as text:
 * what pgetl._load_options shows and load_options_resolve reads.
 * max_rejects is rounded to a whole number (as 0.1 stored it, in a bigint
 * column); an empty conflict_key is none.  Everything is palloc'd.
 */
typedef struct LoadOptionValues
{
	char	   *mode;
	bool		header;
	char	   *delimiter;
	char	   *quote;
	char	   *escape;			/* NULL: the quote */
	char	   *null_string;
	char	   *encoding;
	List	   *conflict_key;	/* of char *, NIL: none */
	char	   *on_conflict;	/* NULL: none (not an upsert) */
	bool		has_max_rejects;
	int64		max_rejects;
	bool		has_max_reject_ratio;
	double		max_reject_ratio;
	char	   *unlisted_columns;
	bool		require_final_newline;
} LoadOptionValues;

static void
option_values(Jsonb *options, LoadOptionValues *o)
{
	JsonbValue *v;

	o->mode = load_option_text(options, "mode");
	o->header = strcmp(load_option_text(options, "header"), "true") == 0;
	o->delimiter = load_option_text(options, "delimiter");
	o->quote = load_option_text(options, "quote");
	o->escape = load_option_text(options, "escape");
	o->null_string = load_option_text(options, "null");
	o->encoding = load_option_text(options, "encoding");
	o->conflict_key = NIL;
	v = json_get(&options->root, "conflict_key");
	if (v != NULL && strcmp(jsonb_value_type(v), "array") == 0)
	{
		ListCell   *lc;

		foreach(lc, json_elements(json_container(v)))
			o->conflict_key = lappend(o->conflict_key, jsonb_value_text(lfirst(lc)));
	}
	o->on_conflict = load_option_text(options, "on_conflict");
	if (o->on_conflict == NULL && strcmp(o->mode, "upsert") == 0)
		o->on_conflict = "update";
	v = json_get(&options->root, "max_rejects");
	o->has_max_rejects = v != NULL && v->type == jbvNumeric;
	if (o->has_max_rejects)
		o->max_rejects = DatumGetInt64(DirectFunctionCall1(numeric_int8,
														   NumericGetDatum(v->val.numeric)));
	v = json_get(&options->root, "max_reject_ratio");
	o->has_max_reject_ratio = v != NULL && v->type == jbvNumeric;
	if (o->has_max_reject_ratio)
		o->max_reject_ratio = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																 NumericGetDatum(v->val.numeric)));
	o->unlisted_columns = load_option_text(options, "unlisted_columns");
	o->require_final_newline =
		strcmp(load_option_text(options, "require_final_newline"), "true") == 0;
}

/*
 * load_options_resolve - set the dialect and behaviour of spec from its
 * options (a validated document: one-byte delimiter, quote and escape),
 * allocated in the current memory context.
 */
void
load_options_resolve(Jsonb *options, LoadSpec *spec)
{
	LoadOptionValues o;

	option_values(options, &o);
	spec->delimiter = o.delimiter[0];
	spec->quote = o.quote[0];
	spec->escape = o.escape ? o.escape[0] : spec->quote;
	spec->header = o.header;
	spec->null_string = o.null_string;
	spec->encoding = o.encoding;
	spec->mode = strcmp(o.mode, "upsert") == 0 ? LOAD_UPSERT :
		strcmp(o.mode, "replace") == 0 ? LOAD_REPLACE : LOAD_APPEND;
	spec->conflict_key = o.conflict_key;
	spec->on_conflict_update = o.on_conflict == NULL || strcmp(o.on_conflict, "update") == 0;
	spec->max_rejects = o.has_max_rejects ? o.max_rejects : -1;
	spec->max_reject_ratio = o.has_max_reject_ratio ? o.max_reject_ratio : -1;
	spec->ignore_unlisted = strcmp(o.unlisted_columns, "ignore") == 0;
	spec->require_final_newline = o.require_final_newline;
}

/*
 * pgetl._load_options(options jsonb) - the settings of a spec's options,
 * defaults applied (OUT mode, header, delimiter, quote, escape,
 * null_string, encoding, conflict_key, on_conflict, max_rejects,
 * max_reject_ratio): what the view pgetl.loads shows.
 */
Datum
pgetl_load_options(PG_FUNCTION_ARGS)
{
	Jsonb	   *options = PG_GETARG_JSONB_P(0);
	LoadOptionValues o;
	TupleDesc	desc;
	Datum		values[11];
	bool		nulls[11] = {0};
	int			i = 0;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	option_values(options, &o);
#define TEXT_OR_NULL(s) \
	do { nulls[i] = (s) == NULL; values[i] = (s) ? CStringGetTextDatum(s) : (Datum) 0; i++; } while (0)
	TEXT_OR_NULL(o.mode);
	values[i++] = BoolGetDatum(o.header);
	TEXT_OR_NULL(o.delimiter);
	TEXT_OR_NULL(o.quote);
	TEXT_OR_NULL(o.escape);
	TEXT_OR_NULL(o.null_string);
	TEXT_OR_NULL(o.encoding);
	if (o.conflict_key == NIL)
		nulls[i++] = true;
	else
	{
		Datum	   *elems = palloc(sizeof(Datum) * list_length(o.conflict_key));
		bool	   *enulls = palloc(sizeof(bool) * list_length(o.conflict_key));
		int			dims[1] = {list_length(o.conflict_key)};
		int			lbs[1] = {1};
		int			n = 0;
		ListCell   *lc;

		foreach(lc, o.conflict_key)
		{
			enulls[n] = lfirst(lc) == NULL;
			elems[n] = enulls[n] ? (Datum) 0 : CStringGetTextDatum(lfirst(lc));
			n++;
		}
		values[i++] = PointerGetDatum(construct_md_array(elems, enulls, 1, dims, lbs,
														 TEXTOID, -1, false, TYPALIGN_INT));
	}
	TEXT_OR_NULL(o.on_conflict);
#undef TEXT_OR_NULL
	nulls[i] = !o.has_max_rejects;
	values[i++] = o.has_max_rejects ? Int64GetDatum(o.max_rejects) : (Datum) 0;
	nulls[i] = !o.has_max_reject_ratio;
	values[i++] = o.has_max_reject_ratio ? Float8GetDatum(o.max_reject_ratio) : (Datum) 0;
	Assert(i == lengthof(values));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
