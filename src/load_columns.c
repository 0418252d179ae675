/*-------------------------------------------------------------------------
 *
 * load_columns.c
 *	  The keys of a load spec's column ("rules"), options and expectations,
 *	  declared once, and the validation of a spec's document against them.
 *
 * column_keys[] below (like file_fdw's valid_options[]) is the one list of
 * what a column of a spec may say: each key's name, the JSON type of its
 * value, whether a "severity" can make it a warning, and whether a column
 * that is not loaded needs a "type" for it.  pgetl._define_load
 * (src/sql/60_load.sql) calls pgetl._load_check_columns to validate the
 * columns (the shape, the keys and their values, the target columns they
 * name) and pgetl._load_check_column_values for the lists' values;
 * load_spec_fetch (load_spec.c) asks load_column_key_can_warn which rules
 * a severity "warn" makes warnings.  What runs user code (types,
 * domains, references' tables) is compiled later, as the caller, by
 * load_spec.c.
 *
 * The options of a spec and its expectations are declared the same way
 * (option_keys[], expect_keys[]: name, JSON type, the values of an option
 * of a fixed set), checked by pgetl._load_check_options and
 * pgetl._load_check_expect; what their values mean (dialect, mode,
 * limits, the columns they name) _define_load checks after.
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
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(pgetl_load_check_columns);
PG_FUNCTION_INFO_V1(pgetl_load_check_column_values);
PG_FUNCTION_INFO_V1(pgetl_load_check_options);
PG_FUNCTION_INFO_V1(pgetl_load_check_expect);
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

/* the keys of object c, in jsonb's order (that of jsonb_object_keys) */
static List *
json_keys(JsonbContainer *c)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *keys = NIL;
	int			depth = 0;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			depth++;
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			depth--;
		else if (tok == WJB_KEY && depth == 1)
			keys = lappend(keys, pnstrdup(v.val.string.val, v.val.string.len));
	}
	return keys;
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

		foreach(lc, json_keys(json_container(sev)))
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
	keys = json_keys(c);
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
				list_length(json_keys(json_container(v))) == 2;
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
 * pgetl._load_check_columns(target oid, target_name text, columns jsonb,
 * header boolean) - validate the columns of a load spec (see check_column);
 * an error on the first problem, in the order pgetl_define_load documents.
 */
Datum
pgetl_load_check_columns(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *qname = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Jsonb	   *columns = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	bool		header = PG_GETARG_BOOL(3);
	List	   *elems;
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
	elems = json_elements(&columns->root);
	foreach(lc, elems)
		check_column(lfirst(lc), ++i, relid, qname, header, &names, &targets);

	PG_RETURN_VOID();
}

/*
 * pgetl._load_check_column_values(columns jsonb) - error unless the values
 * listed by allowed and not_allowed are strings, numbers or booleans.
 * _define_load calls it after the checks and expectations are validated (as
 * the rows of 0.1's catalog were made), so that which of two problems is
 * told first did not change.
 */
Datum
pgetl_load_check_column_values(PG_FUNCTION_ARGS)
{
	Jsonb	   *columns = PG_GETARG_JSONB_P(0);
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
	PG_RETURN_VOID();
}

/*
 * The options of a spec and the expectations of its "expect" option: each
 * key, the JSON type of its value, and for an option of a fixed set of
 * values, those values (the first is its default).  What the values mean
 * (dialect, mode and conflict_key, limits, the columns expectations name)
 * is checked by _define_load after these.
 */
typedef struct LoadOptionKey
{
	const char *name;
	const char *type;
	const char *const *choices;
	/* its value (as text) when the document does not give it, or NULL */
	const char *dflt;
} LoadOptionKey;

static const char *const unlisted_columns_choices[] = {"error", "ignore", NULL};

/*
 * The defaults are the one place that says what a spec without an option
 * does: the loader (load_options_resolve) and the view pgetl.loads
 * (pgetl._load_options) read the document through them.
 */
static const LoadOptionKey option_keys[] = {
	{"delimiter", "string", NULL, ","},
	{"quote", "string", NULL, "\""},
	{"escape", "string", NULL, NULL},	/* the quote */
	{"header", "boolean", NULL, "true"},
	{"null", "string", NULL, ""},
	{"encoding", "string", NULL, "UTF8"},
	{"mode", "string", NULL, "append"},
	{"conflict_key", "array", NULL, NULL},
	{"on_conflict", "string", NULL, NULL},	/* update, with mode upsert */
	{"max_rejects", "number", NULL, NULL},
	{"max_reject_ratio", "number", NULL, NULL},
	{"checks", "array", NULL, NULL},
	{"unlisted_columns", "string", unlisted_columns_choices, "error"},
	{"require_final_newline", "boolean", NULL, "false"},
	{"commit_every", "number", NULL, NULL},
	{"expect", "object", NULL, NULL},
	{NULL, NULL, NULL, NULL}
};

static const LoadOptionKey expect_keys[] = {
	{"min_rows", "number", NULL, NULL},
	{"max_rows", "number", NULL, NULL},
	{"max_reject_ratio", "number", NULL, NULL},
	{"unique", "array", NULL, NULL},
	{"not_null", "array", NULL, NULL},
	{"freshness", "object", NULL, NULL},
	{"sql", "array", NULL, NULL},
	{NULL, NULL, NULL, NULL}
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
 * pgetl._load_check_options(options jsonb) - error unless the options are
 * an object of known options, each of its JSON type (or null), and of its
 * set of values if it has one.
 */
Datum
pgetl_load_check_options(PG_FUNCTION_ARGS)
{
	Jsonb	   *options = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	ListCell   *lc;

	if (options == NULL || !JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object"),
				 errhint("For example: '{\"delimiter\": \";\", \"max_rejects\": 100}'::jsonb")));
	foreach(lc, json_keys(&options->root))
	{
		if (option_key(option_keys, lfirst(lc)) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown load option \"%s\"", (char *) lfirst(lc)),
					 errhint("Valid options: %s.", option_names(option_keys))));
	}
	/* every key is known now: check them in jsonb's order */
	foreach(lc, json_keys(&options->root))
	{
		const LoadOptionKey *k = option_key(option_keys, lfirst(lc));

		check_typed(json_get(&options->root, k->name), psprintf("option %s", k->name), k->type);
	}
	for (const LoadOptionKey *k = option_keys; k->name != NULL; k++)
	{
		JsonbValue *v = json_get(&options->root, k->name);
		char	   *value;
		bool		found = false;
		StringInfoData hint;

		if (k->choices == NULL || v == NULL || v->type != jbvString)
			continue;
		value = jsonb_value_text(v);
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
	PG_RETURN_VOID();
}

/*
 * pgetl._load_check_expect(expect jsonb) - error unless the expectations
 * (an object) are known ones, each of its JSON type (or null).
 */
Datum
pgetl_load_check_expect(PG_FUNCTION_ARGS)
{
	Jsonb	   *expect = PG_GETARG_JSONB_P(0);
	ListCell   *lc;

	if (!JB_ROOT_IS_OBJECT(expect))
		PG_RETURN_VOID();		/* "expect" is checked as an option */
	foreach(lc, json_keys(&expect->root))
	{
		const LoadOptionKey *k = option_key(expect_keys, lfirst(lc));

		if (k == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown expectation \"%s\"", (char *) lfirst(lc)),
					 errhint("Valid expectations: %s.", option_names(expect_keys))));
		check_typed(json_get(&expect->root, k->name), psprintf("expectation %s", k->name), k->type);
	}
	PG_RETURN_VOID();
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
