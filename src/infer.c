/*-------------------------------------------------------------------------
 *
 * infer.c
 *	  pgetl_infer_load: read a sample of a CSV source (a server file or
 *	  staged data) and propose a load spec for it -- dialect, encoding,
 *	  per column a type, a date format and rules -- with a CREATE TABLE
 *	  statement for a new target.
 *
 * The approach is DuckDB's CSV sniffer, simplified:
 *	  1. dialect: every candidate (delimiter , ; | tab; quote " or ';
 *		 escape = quote or \) parses the sample; the one giving the most
 *		 records with the same field count (more than one field) wins, then,
 *		 for the same quote and escape, the one with more fields, then the
 *		 first in that order;
 *	  2. encoding: a UTF-8 byte order mark or valid UTF-8 means UTF8, else
 *		 WIN1252 when bytes 0x80-0x9F occur (C1 controls in LATIN1), else
 *		 LATIN1;
 *	  3. types: every value of a column is tried, with cheap syntactic
 *		 checks, as boolean, integer, bigint, numeric, a date in each format
 *		 of a small table, a timestamp; the first candidate all values fit
 *		 is the column's type, else text.  Two formats that both fit (day
 *		 and month never above 12) are resolved by the table's order and
 *		 noted;
 *	  4. header: the first record is a header when it does not fit the
 *		 types of the other records, or, when every column is text, when its
 *		 values are non-empty, distinct and found nowhere else in their
 *		 columns.
 * Rules come from the sample: required (no empty value), min and max,
 * max_length, allowed (few distinct values), unique (no value repeats).
 *
 * Only the sample is read: records up to sample_rows (plus the header),
 * in 64 kB reads; the result says how many rows and bytes were used.
 *
 *-------------------------------------------------------------------------
 */
#include "load.h"

#include <ctype.h>
#include <limits.h>

#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(pgetl_infer_load);

#define INFER_READ_SIZE 65536
#define INFER_MAX_BYTES (64 * 1024 * 1024)	/* the sample never grows past it */
#define INFER_MAX_FIELDS 1600	/* PostgreSQL's limit on a table's columns */

/* A CSV dialect */
typedef struct InferDialect
{
	char		delimiter;
	char		quote;
	char		escape;
} InferDialect;

/* What reading one record found */
typedef enum InferRecord
{
	REC_OK,						/* a record */
	REC_BLANK,					/* an empty line: not a record */
	REC_INCOMPLETE,				/* the buffer ends inside it, more to read */
	REC_UNTERMINATED,			/* the input ends inside quotes */
	REC_END						/* nothing left */
} InferRecord;

/* Date formats tried, in this order */
typedef struct InferDateFormat
{
	const char *format;			/* to_date template */
	char		order;			/* 'Y': y m d, 'D': d m y, 'M': m d y */
	char		sep;
	int			ylen;			/* digits of the year */
} InferDateFormat;

static const InferDateFormat date_formats[] = {
	{"YYYY-MM-DD", 'Y', '-', 4},
	{"DD/MM/YYYY", 'D', '/', 4},
	{"MM/DD/YYYY", 'M', '/', 4},
	{"DD/MM/YY", 'D', '/', 2},
	{"MM/DD/YY", 'M', '/', 2},
	{"YYYY/MM/DD", 'Y', '/', 4},
	{"DD.MM.YYYY", 'D', '.', 4},
};

#define NDATEFMT lengthof(date_formats)
#define ALL_DATEFMT ((1 << NDATEFMT) - 1)

/* What the sample says about one column */
typedef struct InferColumn
{
	char	   *header;			/* header name, or NULL */
	char	   *target;			/* target column name */
	int64		nvalues;		/* non-blank values */
	int64		nempty;			/* NULL or blank */
	bool		blank;			/* a blank non-NULL value: text only */
	bool		maybe_bool;
	bool		maybe_int4;
	bool		maybe_int8;
	bool		maybe_numeric;
	int64		imin;
	int64		imax;
	double		nmin;
	double		nmax;
	char	   *smin;			/* numeric min and max as written */
	char	   *smax;
	int			date_mask;		/* formats every value fits */
	int			dmin[NDATEFMT]; /* yyyymmdd per format */
	int			dmax[NDATEFMT];
	int			ts_mask;		/* timestamps: formats of the date part */
	bool		ts_sec;			/* some timestamp has seconds */
	bool		ts_nosec;		/* some has none */
	bool		ts_frac;		/* some has fractions of seconds */
	bool		ts_t;			/* some has 'T' between date and time */
	int			max_length;
	char	  **values;			/* non-NULL values, for distinct counts */
	int			nv;
	int			maxv;
} InferColumn;

/* A parsed record */
typedef struct InferRow
{
	int			nfields;
	char	  **fields;			/* NULL for SQL NULL */
} InferRow;

/* Options of pgetl_infer_load */
typedef struct InferOptions
{
	int			delimiter;		/* -1: detect */
	int			quote;
	int			escape;
	int			header;			/* -1: detect, else 0/1 */
	char	   *encoding;		/* NULL: detect */
	char	   *null_string;	/* NULL: '' (not put in options) */
	char	   *table;
	int			allowed_max;
	bool		rules;
} InferOptions;

/*
 * next_record - read the record starting at *pos of buf[0..len) as
 * PostgreSQL's CSV COPY does.  With fields != NULL, its fields are
 * appended there (NULL for an unquoted field equal to null_string).
 * *pos moves past the record only when REC_OK or REC_BLANK is returned.
 */
static InferRecord
next_record(const char *buf, int len, int *pos, const InferDialect *d, bool at_eof,
			const char *null_string, InferRow *row, int *nfields)
{
	int			p = *pos;
	int			nf = 0;
	bool		in_quote = false;
	bool		saw_quote = false;
	int			record_start = p;
	StringInfoData f;
	bool		ended_line = false;

	if (p >= len)
		return REC_END;
	if (row)
	{
		initStringInfo(&f);
		row->nfields = 0;
		row->fields = palloc(sizeof(char *) * 8);
	}
	for (;;)
	{
		bool		end_field = false;
		bool		end_record = false;

		if (p >= len)
		{
			if (in_quote)
				return at_eof ? REC_UNTERMINATED : REC_INCOMPLETE;
			if (!at_eof)
				return REC_INCOMPLETE;
			end_field = end_record = true;
		}
		else
		{
			char		c = buf[p];

			if (in_quote)
			{
				if (c == d->escape && p + 1 >= len && !at_eof)
					return REC_INCOMPLETE;
				if (c == d->escape && p + 1 < len &&
					(buf[p + 1] == d->quote || buf[p + 1] == d->escape))
				{
					if (row)
						appendStringInfoChar(&f, buf[p + 1]);
					p += 2;
					continue;
				}
				if (c == d->quote)
					in_quote = false;
				else if (row)
					appendStringInfoChar(&f, c);
				p++;
				continue;
			}
			if (c == d->delimiter)
			{
				end_field = true;
				p++;
			}
			else if (c == d->quote)
			{
				in_quote = saw_quote = true;
				p++;
				continue;
			}
			else if (c == '\n' || c == '\r')
			{
				if (c == '\r' && p + 1 >= len && !at_eof)
					return REC_INCOMPLETE;
				p += (c == '\r' && p + 1 < len && buf[p + 1] == '\n') ? 2 : 1;
				end_field = end_record = ended_line = true;
			}
			else
			{
				if (row)
					appendStringInfoChar(&f, c);
				p++;
				continue;
			}
		}
		if (end_field)
		{
			if (row)
			{
				bool		isnull = !saw_quote && strcmp(f.data, null_string) == 0;

				if (row->nfields % 8 == 0 && row->nfields > 0)
					row->fields = repalloc(row->fields, sizeof(char *) * (row->nfields + 8));
				row->fields[row->nfields++] = isnull ? NULL : pstrdup(f.data);
				resetStringInfo(&f);
			}
			nf++;
			if (end_record)
				break;
			saw_quote = false;
		}
	}
	*pos = p;
	*nfields = nf;
	/* a line with nothing on it is not a record (COPY's line_buf is empty) */
	if (nf == 1 && !saw_quote && ended_line && p - record_start <= 2 &&
		(buf[record_start] == '\n' || buf[record_start] == '\r'))
		return REC_BLANK;
	return REC_OK;
}

/*
 * score_dialect - parse up to maxrec records of the sample with d: the
 * most common field count and how many records have it.
 */
static void
score_dialect(const char *buf, int len, bool at_eof, const InferDialect *d, int64 maxrec,
			  int *mode, int64 *consistent)
{
	int64	   *counts = palloc0(sizeof(int64) * (INFER_MAX_FIELDS + 2));
	int			pos = 0;
	int64		nrec = 0;

	*mode = 0;
	*consistent = 0;
	while (nrec < maxrec)
	{
		int			nf;
		InferRecord r = next_record(buf, len, &pos, d, at_eof, "", NULL, &nf);

		if (r == REC_BLANK)
			continue;
		if (r != REC_OK)
			break;
		nrec++;
		counts[Min(nf, INFER_MAX_FIELDS + 1)]++;
		if ((nrec & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	for (int i = 1; i <= INFER_MAX_FIELDS; i++)
		if (counts[i] > *consistent)
		{
			*consistent = counts[i];
			*mode = i;
		}
	pfree(counts);
}

/*
 * detect_dialect - the candidate dialect (among those the options leave
 * open) whose records agree best on a field count above one.
 */
static InferDialect
detect_dialect(const char *buf, int len, bool at_eof, int64 maxrec, const InferOptions *o)
{
	static const char delimiters[] = {',', ';', '|', '\t'};
	static const char quotes[] = {'"', '\''};
	InferDialect best = {',', '"', '"'};
	int			best_mode = -1;
	int64		best_consistent = -1;

	if (o->delimiter >= 0)
		best.delimiter = o->delimiter;
	if (o->quote >= 0)
		best.quote = o->quote;
	best.escape = o->escape >= 0 ? o->escape : best.quote;
	for (int i = 0; i < lengthof(delimiters); i++)
		for (int j = 0; j < lengthof(quotes); j++)
			for (int k = 0; k < 2; k++)
			{
				InferDialect d;
				int			mode;
				int64		consistent;
				bool		better;

				d.delimiter = o->delimiter >= 0 ? o->delimiter : delimiters[i];
				d.quote = o->quote >= 0 ? o->quote : quotes[j];
				d.escape = o->escape >= 0 ? o->escape : (k == 0 ? d.quote : '\\');
				/* each combination once */
				if ((o->delimiter >= 0 && i > 0) || (o->quote >= 0 && j > 0) ||
					(o->escape >= 0 && k > 0))
					continue;
				if (d.delimiter == d.quote || d.delimiter == d.escape)
					continue;
				score_dialect(buf, len, at_eof, &d, maxrec, &mode, &consistent);
				if (best_mode < 0)
					better = true;
				else if ((mode > 1) != (best_mode > 1))
					better = mode > 1;
				else if (consistent != best_consistent)
					better = consistent > best_consistent;
				else if (d.quote != best.quote || d.escape != best.escape)
					better = false; /* quoting only merges fields: keep " */
				else
					better = mode > best_mode;
				if (better)
				{
					best = d;
					best_mode = mode;
					best_consistent = consistent;
				}
			}
	return best;
}

/* true when s is empty or only spaces and tabs (the loader's "blank") */
static bool
is_blank(const char *s)
{
	return s[strspn(s, " \t")] == '\0';
}

/* the boolean spellings kept (boolin's, without 1 and 0) */
static bool
looks_boolean(const char *s)
{
	static const char *const words[] = {"true", "false", "t", "f", "yes", "no", "y", "n",
	"on", "off"};
	char		w[8];
	int			n;

	while (*s == ' ' || *s == '\t')
		s++;
	for (n = 0; s[n] && s[n] != ' ' && s[n] != '\t'; n++)
	{
		if (n >= (int) sizeof(w) - 1)
			return false;
		w[n] = pg_ascii_tolower((unsigned char) s[n]);
	}
	w[n] = '\0';
	if (!is_blank(s + n))
		return false;
	for (int i = 0; i < lengthof(words); i++)
		if (strcmp(w, words[i]) == 0)
			return true;
	return false;
}

/*
 * looks_number - blanks, sign, digits with an optional point, an optional
 * exponent of up to three digits, blanks.  A number written with a leading
 * zero (007, 01.5) is an identifier or a code, not a number.  *integer
 * tells whether it has neither point nor exponent.
 */
static bool
looks_number(const char *s, bool *integer)
{
	const char *p = s;
	const char *digits;
	int			i = 0,
				f = 0,
				e = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '+' || *p == '-')
		p++;
	digits = p;
	while (*p >= '0' && *p <= '9')
		i++, p++;
	if (i > 1 && digits[0] == '0')
		return false;
	*integer = true;
	if (*p == '.')
	{
		*integer = false;
		p++;
		while (*p >= '0' && *p <= '9')
			f++, p++;
	}
	if (i + f == 0)
		return false;
	if (*p == 'e' || *p == 'E')
	{
		*integer = false;
		p++;
		if (*p == '+' || *p == '-')
			p++;
		while (*p >= '0' && *p <= '9')
			e++, p++;
		if (e == 0 || e > 3)
			return false;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0';
}

/* days in a month of the proleptic Gregorian calendar */
static int
days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/*
 * date_formats_of - the formats of date_formats that the date s[0..len)
 * fits (as a bit mask), with its value as yyyymmdd in each.
 */
static int
date_formats_of(const char *s, int len, int *ymd)
{
	int			g[3] = {0, 0, 0};
	int			n[3] = {0, 0, 0};
	char		sep = '\0';
	int			k = 0;
	int			mask = 0;

	for (int i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c >= '0' && c <= '9')
		{
			if (++n[k] > 4)
				return 0;
			g[k] = g[k] * 10 + (c - '0');
		}
		else if ((c == '-' || c == '/' || c == '.') && k < 2 && n[k] > 0 &&
				 (sep == '\0' || c == sep))
		{
			sep = c;
			k++;
		}
		else
			return 0;
	}
	if (k != 2 || n[2] == 0)
		return 0;
	for (int f = 0; f < NDATEFMT; f++)
	{
		const InferDateFormat *df = &date_formats[f];
		int			yi = df->order == 'Y' ? 0 : 2;
		int			mi = df->order == 'M' ? 0 : 1;
		int			di = df->order == 'Y' ? 2 : (df->order == 'D' ? 0 : 1);
		int			y = g[yi];

		if (df->sep != sep || n[yi] != df->ylen || n[mi] > 2 || n[di] > 2)
			continue;
		if (df->ylen == 2)
			y += y < 70 ? 2000 : 1900;	/* to_date: nearest to 2020 */
		if (g[mi] < 1 || g[mi] > 12 || g[di] < 1 || g[di] > days_in_month(y, g[mi]))
			continue;
		mask |= 1 << f;
		ymd[f] = y * 10000 + g[mi] * 100 + g[di];
	}
	return mask;
}

/*
 * timestamp_formats_of - like date_formats_of for "date time" (or
 * dateTtime) with time H[H]:MM[:SS[.ffffff]]; sets what the time has.
 */
static int
timestamp_formats_of(const char *s, bool *sec, bool *frac, bool *t)
{
	int			dlen = strcspn(s, " T");
	const char *p = s + dlen;
	int			ymd[NDATEFMT];
	int			h = 0,
				nh = 0;

	if (*p == '\0')
		return 0;
	*t = (*p == 'T');
	p++;
	while (*p >= '0' && *p <= '9' && nh < 3)
		h = h * 10 + (*p++ - '0'), nh++;
	if (nh < 1 || nh > 2 || h > 23 || *p != ':')
		return 0;
	p++;
	if (!(p[0] >= '0' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9'))
		return 0;
	p += 2;
	*sec = *frac = false;
	if (*p == ':')
	{
		if (!(p[1] >= '0' && p[1] <= '5' && p[2] >= '0' && p[2] <= '9'))
			return 0;
		p += 3;
		*sec = true;
		if (*p == '.')
		{
			p++;
			if (!(*p >= '0' && *p <= '9'))
				return 0;
			while (*p >= '0' && *p <= '9')
				p++;
			*frac = true;
		}
	}
	if (*p != '\0')
		return 0;
	return date_formats_of(s, dlen, ymd);
}

/*
 * observe - what one value of a column tells: the candidate types it
 * rules out, bounds, length.  s is NULL for SQL NULL.
 */
static void
observe(InferColumn *col, const char *s)
{
	bool		integer;
	int			ymd[NDATEFMT];
	int			mask;
	int			len;

	if (s == NULL || is_blank(s))
	{
		col->nempty++;
		if (s != NULL)
			col->blank = true;
		if (s == NULL)
			return;
	}
	else
		col->nvalues++;
	len = strlen(s);
	if (col->nv >= col->maxv)
	{
		col->maxv = Max(64, col->maxv * 2);
		col->values = col->values ? repalloc_huge(col->values, sizeof(char *) * col->maxv) :
			palloc(sizeof(char *) * col->maxv);
	}
	col->values[col->nv++] = (char *) s;
	{
		int			chars = pg_mbstrlen_with_len(s, len);

		col->max_length = Max(col->max_length, chars);
	}
	if (col->blank)
		return;
	if (col->maybe_bool && !looks_boolean(s))
		col->maybe_bool = false;
	if (col->maybe_numeric)
	{
		if (!looks_number(s, &integer))
			col->maybe_numeric = col->maybe_int4 = col->maybe_int8 = false;
		else
		{
			double		v = strtod(s, NULL);

			if (col->smin == NULL || v < col->nmin)
			{
				col->nmin = v;
				col->smin = (char *) s;
			}
			if (col->smax == NULL || v > col->nmax)
			{
				col->nmax = v;
				col->smax = (char *) s;
			}
			if (!integer)
				col->maybe_int4 = col->maybe_int8 = false;
			else if (col->maybe_int8)
			{
				long long	iv;

				errno = 0;
				iv = strtoll(s, NULL, 10);
				if (errno == ERANGE)
					col->maybe_int4 = col->maybe_int8 = false;
				else
				{
					if (iv < PG_INT32_MIN || iv > PG_INT32_MAX)
						col->maybe_int4 = false;
					if (col->nvalues == 1 || iv < col->imin)
						col->imin = iv;
					if (col->nvalues == 1 || iv > col->imax)
						col->imax = iv;
				}
			}
		}
	}
	if (col->date_mask)
	{
		mask = date_formats_of(s, len, ymd);
		col->date_mask &= mask;
		for (int f = 0; f < NDATEFMT; f++)
			if (col->date_mask & (1 << f))
			{
				if (col->nvalues == 1 || ymd[f] < col->dmin[f])
					col->dmin[f] = ymd[f];
				if (col->nvalues == 1 || ymd[f] > col->dmax[f])
					col->dmax[f] = ymd[f];
			}
	}
	if (col->ts_mask)
	{
		bool		sec = false,
					frac = false,
					t = false;

		col->ts_mask &= timestamp_formats_of(s, &sec, &frac, &t);
		if (sec)
			col->ts_sec = true;
		else
			col->ts_nosec = true;
		col->ts_frac |= frac;
		col->ts_t |= t;
	}
}

/* a column that has seen nothing yet */
static void
init_column(InferColumn *col)
{
	memset(col, 0, sizeof(InferColumn));
	col->maybe_bool = col->maybe_int4 = col->maybe_int8 = col->maybe_numeric = true;
	col->date_mask = col->ts_mask = ALL_DATEFMT;
}

/* The type a column's values all fit */
typedef enum InferType
{
	T_BOOLEAN,
	T_INTEGER,
	T_BIGINT,
	T_NUMERIC,
	T_DATE,
	T_TIMESTAMP,
	T_TEXT
} InferType;

static const char *const type_names[] = {"boolean", "integer", "bigint", "numeric", "date",
"timestamp", "text"};

/* index of the first bit set */
static int
first_format(int mask)
{
	for (int f = 0; f < NDATEFMT; f++)
		if (mask & (1 << f))
			return f;
	return -1;
}

/*
 * column_type - the first candidate type every value fits; *format is
 * set (or NULL) for dates and timestamps.
 */
static InferType
column_type(const InferColumn *col, char **format)
{
	*format = NULL;
	if (col->nvalues == 0 || col->blank)
		return T_TEXT;
	if (col->maybe_bool)
		return T_BOOLEAN;
	if (col->maybe_int4)
		return T_INTEGER;
	if (col->maybe_int8)
		return T_BIGINT;
	if (col->maybe_numeric)
		return T_NUMERIC;
	if (col->date_mask)
	{
		*format = (char *) date_formats[first_format(col->date_mask)].format;
		return T_DATE;
	}
	if (col->ts_mask)
	{
		int			f = first_format(col->ts_mask);

		/* ISO: timestamp's own input reads every variant */
		if (date_formats[f].order == 'Y' && date_formats[f].sep == '-')
			return T_TIMESTAMP;
		if (col->ts_frac || col->ts_t || (col->ts_sec && col->ts_nosec))
			return T_TEXT;
		*format = psprintf("%s HH24:MI%s", date_formats[f].format, col->ts_sec ? ":SS" : "");
		return T_TIMESTAMP;
	}
	return T_TEXT;
}

/* true when the value s fits type t (with the date format f) */
static bool
value_fits(const char *s, InferType t, int fmt_mask)
{
	InferColumn one;
	char	   *format;

	init_column(&one);
	observe(&one, s);
	if (one.nvalues == 0)
		return true;
	switch (t)
	{
		case T_BOOLEAN:
			return one.maybe_bool;
		case T_INTEGER:
			return one.maybe_int4;
		case T_BIGINT:
			return one.maybe_int8;
		case T_NUMERIC:
			return one.maybe_numeric;
		case T_DATE:
			return (one.date_mask & fmt_mask) != 0;
		case T_TIMESTAMP:
			return (one.ts_mask & fmt_mask) != 0;
		default:
			(void) column_type(&one, &format);
			return true;
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * target_name - a column or table name from a header or file name:
 * lower case, runs of other characters than letters and digits as one _.
 */
static char *
target_name(const char *s, const char *fallback)
{
	StringInfoData b;
	bool		pending = false;

	initStringInfo(&b);
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if (isalnum(*p) && *p < 128)
		{
			if (pending && b.len > 0)
				appendStringInfoChar(&b, '_');
			pending = false;
			appendStringInfoChar(&b, pg_ascii_tolower(*p));
		}
		else if (*p >= 128)
		{
			if (pending && b.len > 0)
				appendStringInfoChar(&b, '_');
			pending = false;
			appendStringInfoChar(&b, (char) *p);
		}
		else
			pending = true;
	}
	if (b.len == 0)
		return pstrdup(fallback);
	if (b.data[0] >= '0' && b.data[0] <= '9')
		return psprintf("_%s", b.data);
	if (b.len >= NAMEDATALEN)
		b.data[pg_mbcliplen(b.data, b.len, NAMEDATALEN - 1)] = '\0';
	return b.data;
}

/* a canonical JSON number for a numeric value written as s */
static char *
json_number(const char *s)
{
	Datum		d = DirectFunctionCall3(numeric_in, CStringGetDatum(s),
										ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));

	return DatumGetCString(DirectFunctionCall1(numeric_out, d));
}

/* yyyymmdd as an ISO date in JSON */
static void
append_iso_date(StringInfo b, int ymd)
{
	appendStringInfo(b, "\"%04d-%02d-%02d\"", ymd / 10000, (ymd / 100) % 100, ymd % 100);
}

/*
 * one_char_option - a one-character option value; -1 when absent.
 */
static int
one_char_option(JsonbValue *v, const char *key)
{
	if (v->type != jbvString || v->val.string.len != 1 ||
		(unsigned char) v->val.string.val[0] >= 128 ||
		v->val.string.val[0] == '\n' || v->val.string.val[0] == '\r')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a single ASCII character other than a line break", key)));
	return v->val.string.val[0];
}

/*
 * parse_options - the options of pgetl_infer_load; unknown keys and bad
 * values are errors (22023).
 */
static void
parse_options(Jsonb *jb, InferOptions *o)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	o->delimiter = o->quote = o->escape = o->header = -1;
	o->encoding = o->null_string = o->table = NULL;
	o->allowed_max = 10;
	o->rules = true;
	if (jb == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object")));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (strcmp(key, "delimiter") == 0)
			o->delimiter = one_char_option(&v, key);
		else if (strcmp(key, "quote") == 0)
			o->quote = one_char_option(&v, key);
		else if (strcmp(key, "escape") == 0)
			o->escape = one_char_option(&v, key);
		else if (strcmp(key, "header") == 0 || strcmp(key, "rules") == 0)
		{
			if (v.type != jbvBool)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be a boolean", key)));
			if (key[0] == 'h')
				o->header = v.val.boolean ? 1 : 0;
			else
				o->rules = v.val.boolean;
		}
		else if (strcmp(key, "encoding") == 0 || strcmp(key, "null") == 0 ||
				 strcmp(key, "table") == 0)
		{
			char	   *s;

			if (v.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be a string", key)));
			s = pnstrdup(v.val.string.val, v.val.string.len);
			if (key[0] == 'e')
			{
				int			enc = pg_char_to_encoding(s);

				if (enc < 0 || !PG_VALID_FE_ENCODING(enc))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("option \"encoding\" names no known encoding: \"%s\"", s)));
				o->encoding = pstrdup(pg_encoding_to_char(enc));
			}
			else if (key[0] == 'n')
				o->null_string = s;
			else
			{
				if (s[0] == '\0')
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("option \"table\" must not be empty")));
				o->table = s;
			}
		}
		else if (strcmp(key, "allowed_max") == 0)
		{
			if (v.type != jbvNumeric ||
				DatumGetInt32(DirectFunctionCall1(numeric_scale,
												  NumericGetDatum(v.val.numeric))) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"allowed_max\" must be an integer")));
			o->allowed_max = DatumGetInt32(DirectFunctionCall1(numeric_int4,
															   NumericGetDatum(v.val.numeric)));
			if (o->allowed_max < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"allowed_max\" must not be negative")));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" of pgetl_infer_load", key),
					 errhint("Options are delimiter, quote, escape, header, encoding, null, table, allowed_max and rules.")));
	}
	if (o->delimiter >= 0 && (o->delimiter == o->quote || o->delimiter == o->escape))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delimiter must differ from quote and escape")));
}

/* count the line breaks of buf[0..len) (CRLF once) */
static int64
count_breaks(const char *buf, int len)
{
	int64		n = 0;

	for (int i = 0; i < len; i++)
		if (buf[i] == '\n' || (buf[i] == '\r' && (i + 1 >= len || buf[i + 1] != '\n')))
			n++;
	return n;
}

/*
 * pgetl_infer_load(source text, sample_rows integer, options jsonb) -
 * propose a load spec for a sample of a source; see the file header.
 */
Datum
pgetl_infer_load(PG_FUNCTION_ARGS)
{
	char	   *source;
	int			sample_rows;
	InferOptions o;
	LoadSource *src;
	char	   *buf;
	int			len = 0;
	int			cap = INFER_READ_SIZE * 4;
	bool		eof = false;
	bool		capped = false;
	int64		want_lines;
	int64		need;
	InferDialect d;
	int			start;
	int			cut;
	int64		nrec;
	bool		bom;
	char	   *encoding;
	char	   *conv;
	int			convlen;
	InferRow   *rows;
	int			nrows = 0;
	int			ncols;
	int			first_data;
	bool		header;
	InferColumn *cols;
	InferType  *types;
	char	  **formats;
	StringInfoData r;
	StringInfoData create;
	StringInfoData notes;
	StringInfoData uniq;
	bool		complete;
	int64		inconsistent = 0;
	char	   *table;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source and sample_rows must not be null")));
	source = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (source[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source must not be empty"),
				 errhint("Give an absolute server path (starting with /) or the name of staged data.")));
	sample_rows = PG_GETARG_INT32(1);
	if (sample_rows < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sample_rows must be at least 1, not %d", sample_rows)));
	parse_options(PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), &o);

	/* read: whole lines, up to the sample's records (and a header) */
	buf = palloc(cap);			/* outlives SPI's memory */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	src = load_source_open(source, "(inferred)");
	need = (int64) sample_rows + (o.header == 0 ? 0 : 1);
	want_lines = need;
	for (;;)
	{
		int64		lines = count_breaks(buf, len);

		while (!eof && !capped && lines < want_lines)
		{
			int			n;

			if (len + INFER_READ_SIZE > cap)
			{
				cap *= 2;
				buf = repalloc_huge(buf, cap);
			}
			n = load_source_read(src, buf + len, INFER_READ_SIZE);
			if (n == 0)
				eof = true;
			lines += count_breaks(buf + len, n);
			len += n;
			if (len >= INFER_MAX_BYTES)
				capped = true;
			CHECK_FOR_INTERRUPTS();
		}
		bom = len >= 3 && (unsigned char) buf[0] == 0xEF && (unsigned char) buf[1] == 0xBB &&
			(unsigned char) buf[2] == 0xBF;
		start = bom ? 3 : 0;
		d = detect_dialect(buf + start, len - start, eof, need, &o);
		/* where the sample's records end */
		{
			int			pos = 0;
			int			nf;

			nrec = 0;
			cut = 0;
			while (nrec < need)
			{
				InferRecord rr = next_record(buf + start, len - start, &pos, &d, eof, "", NULL, &nf);

				if (rr == REC_BLANK)
					continue;
				if (rr != REC_OK)
					break;
				nrec++;
				cut = pos;
			}
		}
		if (nrec >= need || eof || capped)
			break;
		want_lines += need - nrec;	/* quoted line breaks: read on */
	}
	load_source_close(src);
	SPI_finish();
	complete = eof && start + cut >= len;
	if (nrec == 0)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("source \"%s\" has no records", source),
				 errdetail(len == 0 ? "It is empty." : "It has no complete CSV record."),
				 errhint("Give a CSV file or staged data with at least one line.")));

	/* encoding: a BOM or valid UTF-8, else WIN1252 or LATIN1 */
	if (o.encoding)
		encoding = o.encoding;
	else if (bom || pg_verify_mbstr(PG_UTF8, buf + start, cut, true))
		encoding = "UTF8";
	else
	{
		bool		c1 = false;

		for (int i = start; i < start + cut && !c1; i++)
		{
			unsigned char c = buf[i];

			c1 = c >= 0x80 && c <= 0x9F && c != 0x81 && c != 0x8D && c != 0x8F &&
				c != 0x90 && c != 0x9D;
		}
		encoding = c1 ? "WIN1252" : "LATIN1";
	}
	conv = pg_any_to_server(buf + start, cut, pg_char_to_encoding(encoding));
	convlen = (conv == buf + start) ? cut : strlen(conv);

	/* the records, in the database's encoding */
	rows = palloc(sizeof(InferRow) * (nrec + 1));
	{
		int			pos = 0;
		int			nf;
		const char *null_string = o.null_string ? o.null_string : "";

		while (nrows < nrec)
		{
			InferRecord rr = next_record(conv, convlen, &pos, &d, true, null_string,
										 &rows[nrows], &nf);

			if (rr == REC_BLANK)
				continue;
			if (rr != REC_OK)
				break;
			nrows++;
			if ((nrows & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
		}
	}

	if (nrows == 0)
		elog(ERROR, "the sample of \"%s\" changed when converted from %s", source, encoding);

	/* columns: the header's, else the most common field count */
	{
		int			mode;
		int64		consistent;

		score_dialect(conv, convlen, true, &d, nrows, &mode, &consistent);
		ncols = (o.header != 0) ? rows[0].nfields : mode;
		if (o.header < 0 && nrows > 1 && rows[0].nfields != mode)
			ncols = mode;
	}
	if (ncols > INFER_MAX_FIELDS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("source \"%s\" has %d columns, more than the %d a table can have",
						source, ncols, INFER_MAX_FIELDS)));
	cols = palloc(sizeof(InferColumn) * ncols);
	types = palloc(sizeof(InferType) * ncols);
	formats = palloc(sizeof(char *) * ncols);
	for (int c = 0; c < ncols; c++)
		init_column(&cols[c]);
	/* records after the first, up to sample_rows */
	for (int i = 1; i < nrows && i <= sample_rows; i++)
	{
		if (rows[i].nfields != ncols)
		{
			inconsistent++;
			continue;
		}
		for (int c = 0; c < ncols; c++)
			observe(&cols[c], rows[i].fields[c]);
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	for (int c = 0; c < ncols; c++)
		types[c] = column_type(&cols[c], &formats[c]);

	/* header: the first record does not fit, or looks like names */
	if (o.header >= 0)
		header = o.header == 1;
	else if (rows[0].nfields != ncols)
		header = false;
	else
	{
		bool		typed = false;

		header = false;
		for (int c = 0; c < ncols; c++)
		{
			if (types[c] == T_TEXT)
				continue;
			typed = true;
			if (!value_fits(rows[0].fields[c], types[c],
							types[c] == T_DATE ? cols[c].date_mask : cols[c].ts_mask))
				header = true;
		}
		if (!typed)
		{
			header = true;
			for (int c = 0; c < ncols && header; c++)
			{
				char	   *h = rows[0].fields[c];

				if (h == NULL || is_blank(h))
					header = false;
				for (int c2 = 0; c2 < c && header; c2++)
					header = strcmp(rows[0].fields[c2], h) != 0;
				for (int v = 0; v < cols[c].nv && header; v++)
					header = strcmp(cols[c].values[v], h) != 0;
			}
		}
	}
	first_data = header ? 1 : 0;
	if (!header)
	{
		/* the first record is data too; the sample ends at sample_rows */
		if (rows[0].nfields == ncols)
			for (int c = 0; c < ncols; c++)
				observe(&cols[c], rows[0].fields[c]);
		else
			inconsistent++;
		if (nrows > sample_rows)
		{
			nrows = sample_rows;
			complete = false;
		}
		for (int c = 0; c < ncols; c++)
			types[c] = column_type(&cols[c], &formats[c]);
	}
	else if (nrows > sample_rows + 1)
		nrows = sample_rows + 1;

	/* names */
	for (int c = 0; c < ncols; c++)
	{
		char	   *fallback = psprintf("column_%d", c + 1);

		cols[c].header = header ? (rows[0].fields[c] ? rows[0].fields[c] : "") : NULL;
		cols[c].target = header ? target_name(cols[c].header, fallback) : fallback;
		for (int c2 = 0; c2 < c; c2++)
			if (strcmp(cols[c2].target, cols[c].target) == 0)
			{
				cols[c].target = psprintf("%s_%d", cols[c].target, c + 1);
				c2 = -1;		/* check again */
			}
	}
	if (o.table)
		table = o.table;
	else
	{
		const char *base = strrchr(source, '/') ? strrchr(source, '/') + 1 : source;
		char	   *b = pstrdup(base);
		char	   *dot = strrchr(b, '.');

		if (dot && dot != b)
			*dot = '\0';
		table = target_name(b, "loaded");
	}

	/* the result */
	initStringInfo(&r);
	initStringInfo(&create);
	initStringInfo(&notes);
	initStringInfo(&uniq);
	appendStringInfo(&create, "CREATE TABLE %s (", quote_identifier(table));
	appendStringInfoString(&r, "{\"source\": ");
	escape_json(&r, source);
	appendStringInfo(&r, ", \"sample\": {\"rows\": %d, \"bytes\": %d, \"complete\": %s}",
					 nrows - first_data, start + cut, complete ? "true" : "false");
	appendStringInfoString(&r, ", \"encoding\": ");
	escape_json(&r, encoding);
	appendStringInfo(&r, ", \"bom\": %s, \"options\": {\"delimiter\": ", bom ? "true" : "false");
	escape_json(&r, psprintf("%c", d.delimiter));
	appendStringInfoString(&r, ", \"quote\": ");
	escape_json(&r, psprintf("%c", d.quote));
	appendStringInfoString(&r, ", \"escape\": ");
	escape_json(&r, psprintf("%c", d.escape));
	appendStringInfo(&r, ", \"header\": %s, \"encoding\": ", header ? "true" : "false");
	escape_json(&r, encoding);
	if (o.null_string)
	{
		appendStringInfoString(&r, ", \"null\": ");
		escape_json(&r, o.null_string);
	}
	appendStringInfoString(&r, "}, \"columns\": [");
	for (int c = 0; c < ncols; c++)
	{
		InferColumn *col = &cols[c];
		InferType	t = types[c];
		int			f = t == T_DATE ? first_format(col->date_mask) : -1;
		bool		required = col->nempty == 0 && col->nvalues > 0;
		int			ndistinct = 0;
		bool		unique;

		if (col->nv > 0)
		{
			qsort(col->values, col->nv, sizeof(char *), cmp_str);
			ndistinct = 1;
			for (int v = 1; v < col->nv; v++)
				if (strcmp(col->values[v - 1], col->values[v]) != 0)
					ndistinct++;
		}
		unique = required && col->nvalues > 1 && ndistinct == col->nv &&
			(t == T_INTEGER || t == T_BIGINT || t == T_TEXT);

		appendStringInfoString(&r, c > 0 ? ", {" : "{");
		if (col->header)
		{
			appendStringInfoString(&r, "\"name\": ");
			escape_json(&r, col->header);
			appendStringInfoString(&r, ", ");
		}
		appendStringInfoString(&r, "\"target\": ");
		escape_json(&r, col->target);
		appendStringInfo(&r, ", \"type\": \"%s\"", type_names[t]);
		if (formats[c])
		{
			appendStringInfoString(&r, ", \"format\": ");
			escape_json(&r, formats[c]);
		}
		if (o.rules)
		{
			appendStringInfo(&r, ", \"required\": %s", required ? "true" : "false");
			if ((t == T_INTEGER || t == T_BIGINT) && col->nvalues > 0)
				appendStringInfo(&r, ", \"min\": " INT64_FORMAT ", \"max\": " INT64_FORMAT,
								 col->imin, col->imax);
			else if (t == T_NUMERIC)
				appendStringInfo(&r, ", \"min\": %s, \"max\": %s",
								 json_number(col->smin), json_number(col->smax));
			else if (t == T_DATE)
			{
				appendStringInfoString(&r, ", \"min\": ");
				append_iso_date(&r, col->dmin[f]);
				appendStringInfoString(&r, ", \"max\": ");
				append_iso_date(&r, col->dmax[f]);
			}
			if (t == T_TEXT && col->nv > 0)
				appendStringInfo(&r, ", \"max_length\": %d", col->max_length);
			if (t == T_TEXT && !unique && ndistinct > 0 && ndistinct <= o.allowed_max &&
				ndistinct * 2 <= col->nv)
			{
				appendStringInfoString(&r, ", \"allowed\": [");
				for (int v = 0; v < col->nv; v++)
					if (v == 0 || strcmp(col->values[v - 1], col->values[v]) != 0)
					{
						if (v > 0)
							appendStringInfoString(&r, ", ");
						escape_json(&r, col->values[v]);
					}
				appendStringInfoChar(&r, ']');
			}
			if (unique)
				appendStringInfoString(&r, ", \"unique\": true");
		}
		appendStringInfoChar(&r, '}');
		if (unique)
		{
			if (uniq.len > 0)
				appendStringInfoString(&uniq, ", ");
			escape_json(&uniq, col->target);
		}
		if (t == T_DATE && (col->date_mask & ~(1 << f)) != 0)
		{
			int			other = first_format(col->date_mask & ~(1 << f));

			if (notes.len > 0)
				appendStringInfoString(&notes, ", ");
			escape_json(&notes, psprintf("column %s: the dates fit %s and %s; %s was chosen",
										 col->header ? col->header : col->target,
										 date_formats[f].format, date_formats[other].format,
										 date_formats[f].format));
		}
		appendStringInfo(&create, "%s%s %s", c > 0 ? ", " : "", quote_identifier(col->target),
						 type_names[t]);
	}
	appendStringInfoChar(&create, ')');
	if (inconsistent > 0)
	{
		if (notes.len > 0)
			appendStringInfoString(&notes, ", ");
		escape_json(&notes, psprintf(INT64_FORMAT " records of the sample do not have %d fields; they were left out",
									 inconsistent, ncols));
	}
	if (!complete && o.rules)
	{
		if (notes.len > 0)
			appendStringInfoString(&notes, ", ");
		escape_json(&notes, "the sample is not the whole source: rules (required, min, max, max_length, allowed, unique) describe the sample only");
	}
	appendStringInfo(&r, "], \"unique\": [%s], \"create_table\": ", uniq.data);
	escape_json(&r, create.data);
	appendStringInfo(&r, ", \"notes\": [%s]}", notes.data);

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(r.data)));
}
