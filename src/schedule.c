/*-------------------------------------------------------------------------
 *
 * schedule.c
 *	  pgetl_schedule and pgetl_unschedule: pipelines run by pg_cron.
 *
 * pg_cron keeps its jobs in one database, named by cron.database_name;
 * pipelines live in any database.  pgetl_schedule checks the pipeline and
 * the caller's rights here (pgetl._schedule_prepare, as the extension
 * owner), then starts a short-lived background worker that connects to the
 * cron database *as the pipeline owner* and creates the job with
 * cron.schedule_in_database (cron.schedule when both databases are the
 * same), so that pg_cron's own privilege model applies; the job runs
 * pgetl_run in this database as the owner.  The worker reports the job id
 * (or its error) through a dynamic shared memory segment and exits; the
 * schedule is then recorded in pgetl.schedule, in the caller's transaction.
 *
 * The cron job is created in the worker's own transaction in the cron
 * database: it stays even if the caller's transaction rolls back.  Calling
 * pgetl_schedule again updates it (pg_cron replaces a job of the same name
 * and user), and pgetl_unschedule removes it whether or not pgetl recorded
 * it.
 *
 * One error is recognized by its text: pg_cron raises every bad argument
 * as 22023 (invalid_parameter_value), so explain_error tells its "invalid
 * schedule" from the others by the message's prefix to add the schedule
 * syntax pg_cron takes.  pgetl validates schedules itself first
 * (_check_schedule), so this is reached only when the installed pg_cron
 * takes less than pgetl does; if pg_cron ever words it differently, the
 * error keeps its own message and only loses the hint.
 *
 *-------------------------------------------------------------------------
 */
#include "schedule.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "util.h"

typedef enum PgetlCronOp
{
	PGETL_CRON_SCHEDULE,		/* create or update a job */
	PGETL_CRON_UNSCHEDULE		/* remove a job, if there is one */
} PgetlCronOp;

/*
 * The request, in a dynamic shared memory segment created by the caller
 * and attached by the worker.  The worker writes its part before it exits;
 * the caller reads it after the worker has stopped, so no lock is needed.
 */
typedef struct PgetlCronRequest
{
	/* set by the caller */
	PgetlCronOp op;
	Oid			dboid;			/* the cron database: the worker connects to
								 * it */
	Oid			owner;			/* ... as this role, the pipeline owner (or
								 * the superuser who calls, see by_superuser) */
	bool		same_database;	/* the pipeline's database is the cron
								 * database */
	bool		by_superuser;	/* unschedule: owner is a superuser acting for
								 * the pipeline owner, who may be dropped */
	int64		match_jobid;	/* ... remove the job of this id */
	char		owner_name[NAMEDATALEN];	/* ... or of this user ("": none) */
	int			schedule_offset;	/* into payload */
	int			command_offset;
	int			database_offset;

	/* set by the worker */
	bool		done;			/* reached the end without error */
	bool		cron_missing;	/* extension pg_cron is not installed there */
	int64		jobid;			/* schedule: the job's id */
	int64		removed;		/* unschedule: number of jobs removed */
	Size		error_queue_offset; /* the worker's error, if any (src/util.c) */

	/* job name, NUL, schedule, NUL, command, NUL, pipeline database, NUL */
	char		payload[FLEXIBLE_ARRAY_MEMBER];
} PgetlCronRequest;

#define CRON_SCHEDULE_IN_DATABASE_SIGNATURE \
	"cron.schedule_in_database(text, text, text, text, text, boolean)"

/* In the worker: the owner (quoted) and the cron database, for hints */
static char *worker_owner = "the pipeline owner";
static char *worker_database = "named by cron.database_name";

/*
 * pgetl_called_by_pg_cron - is this backend running a pg_cron job?
 *
 * With cron.use_background_workers = on, pg_cron runs each job in a
 * background worker of type "pg_cron"; otherwise it connects through libpq
 * with fallback_application_name "pg_cron".  (The application name can be
 * set by any client: it marks who started a run, it grants nothing.)
 */
bool
pgetl_called_by_pg_cron(void)
{
	if (MyBgworkerEntry != NULL)
		return strcmp(MyBgworkerEntry->bgw_type, PG_CRON_JOB_TYPE) == 0;
	return application_name != NULL && strcmp(application_name, PG_CRON_JOB_TYPE) == 0;
}

/*
 * cron_database_name - the database where pg_cron keeps its jobs, or NULL
 * when pg_cron is not loaded (then, if required, raise an error saying how
 * to set it up).  The result points into GUC storage; do not free it.
 */
static const char *
cron_database_name(bool required)
{
	const char *name = NULL;
	int			flags = GetConfigOptionFlags("cron.database_name", true);

	/* a placeholder: set in postgresql.conf, but pg_cron is not loaded */
	if (!(flags & GUC_CUSTOM_PLACEHOLDER))
		name = GetConfigOption("cron.database_name", true, false);
	if (name == NULL && required)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_cron is not loaded"),
				 errdetail("pgetl_schedule creates pg_cron jobs; pg_cron must be in shared_preload_libraries."),
				 errhint("Add pg_cron to shared_preload_libraries in postgresql.conf, set cron.database_name and "
						 "cron.use_background_workers = on, restart the server, and run CREATE EXTENSION pg_cron "
						 "in the cron database.")));
	return name;
}

/*
 * The five fields of a cron schedule, as pg_cron reads them (Vixie cron):
 * each is a comma-separated list of items, an item being "*", a value or a
 * range "a-b", optionally followed by "/step" ("*" and ranges only).
 * Months and days of the week may also be given by their English
 * three-letter names, in any case; day of week 7 is Sunday, like 0.
 */
typedef struct CronField
{
	const char *name;			/* for messages */
	int			low;
	int			high;
	const char *const *names;	/* names of low, low + 1, ...; or NULL */
} CronField;

static const char *const cron_month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const cron_dow_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const CronField cron_fields[5] = {
	{"minute", 0, 59, NULL},
	{"hour", 0, 23, NULL},
	{"day of month", 1, 31, NULL},
	{"month", 1, 12, cron_month_names},
	{"day of week", 0, 7, cron_dow_names},
};

/* pg_cron's macros: each stands for a whole schedule (the next array) */
static const char *const cron_macros[] = {
	"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly", NULL
};
static const char *const cron_macro_schedules[] = {
	"0 0 1 1 *", "0 0 1 1 *", "0 0 1 * *", "0 0 * * 0", "0 0 * * *", "0 0 * * *", "0 * * * *", NULL
};

/*
 * The times a schedule fires: the values of each of the 5 fields as bits
 * (bit v: value v; day of week 0 is Sunday), or every 'seconds' seconds.
 * As in Vixie cron (pg_cron's), a day matches when both its day of month
 * and day of week do if either field starts with "*", else when either
 * does.
 */
typedef struct CronSpec
{
	int			seconds;		/* "N seconds": N; else 0 */
	uint64		mask[5];		/* minute, hour, day of month, month, day of
								 * week */
	bool		dom_star;
	bool		dow_star;
} CronSpec;

#define CRON_FORMAT_HINT \
	"A schedule is 5 fields separated by spaces: minute (0-59), hour (0-23), day of month (1-31), " \
	"month (1-12 or jan-dec), day of week (0-7 or sun-sat, 0 and 7 are Sunday); each field is *, " \
	"a number, a range a-b, a list a,b,c, or */n or a-b/n; e.g. '15 2 * * *' or '*/10 8-18 * * mon-fri'. " \
	"Or one of @hourly, @daily (@midnight), @weekly, @monthly, @yearly (@annually)."

/*
 * cron_value - parse one value of a field (a number, or a name the field
 * has) from *p; advance *p past it.  Returns false when there is none or it
 * is out of range; *why says which.
 */
static bool
cron_value(const char **p, const CronField *f, int *value, const char **why)
{
	const char *s = *p;
	int			len = 0;

	while (isalnum((unsigned char) s[len]))
		len++;
	if (len == 0)
	{
		*why = "a number is missing";
		return false;
	}
	if (f->names != NULL && !isdigit((unsigned char) s[0]))
	{
		for (int i = 0; f->names[i] != NULL; i++)
		{
			if (len == strlen(f->names[i]) && pg_strncasecmp(s, f->names[i], len) == 0)
			{
				*value = f->low + i;
				*p = s + len;
				return true;
			}
		}
		*why = "unknown name";
		return false;
	}
	if ((int) strspn(s, "0123456789") != len || len > 3)
	{
		*why = len > 3 && (int) strspn(s, "0123456789") == len ? "value out of range" : "not a number";
		return false;
	}
	*value = atoi(pnstrdup(s, len));
	if (*value < f->low || *value > f->high)
	{
		*why = "value out of range";
		return false;
	}
	*p = s + len;
	return true;
}

/*
 * cron_field_valid - is text[0..len) a valid value of field f?  *why says
 * what is wrong.  *mask gets bit v set for each value v the field takes
 * (as pg_cron's own parser, bit_set of Vixie cron's entry.c).
 */
static bool
cron_field_valid(const char *text, int len, const CronField *f, const char **why, uint64 *mask)
{
	char	   *field = pnstrdup(text, len);
	const char *p = field;

	*mask = 0;
	for (;;)
	{
		int			a,
					b;
		int			step = 1;
		bool		range = false;

		if (*p == '*')
		{
			p++;
			range = true;
			a = f->low;
			b = f->high;
		}
		else
		{
			if (!cron_value(&p, f, &a, why))
				return false;
			b = a;
			if (*p == '-')
			{
				p++;
				if (!cron_value(&p, f, &b, why))
					return false;
				if (b < a)
				{
					*why = "a range must go from low to high";
					return false;
				}
				range = true;
			}
		}
		if (*p == '/')
		{
			const char *digits = ++p;
			int			n = strspn(digits, "0123456789");

			if (!range)
			{
				*why = "a step needs * or a range before it";
				return false;
			}
			if (n == 0 || n > 3 || atoi(pnstrdup(digits, n)) < 1 ||
				atoi(pnstrdup(digits, n)) > f->high)
			{
				*why = psprintf("a step must be a number from 1 to %d", f->high);
				return false;
			}
			step = atoi(pnstrdup(digits, n));
			p += n;
		}
		for (int v = a; v <= b; v += step)
			*mask |= UINT64CONST(1) << v;
		if (*p == '\0')
			return true;
		if (*p != ',')
		{
			*why = psprintf("unexpected \"%c\"", *p);
			return false;
		}
		p++;
	}
}

/*
 * cron_seconds_supported - does the installed pg_cron take "N seconds"
 * schedules?  pg_cron 1.5 and later do; the version is that of the
 * extension files installed with the server (pg_available_extensions).
 */
static bool
cron_seconds_supported(void)
{
	bool		supported = false;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT pg_catalog.regexp_match(default_version, '^(\\d+)\\.(\\d+)')::int[] "
					"OPERATOR(pg_catalog.>=) '{1,5}' FROM pg_catalog.pg_available_extensions "
					"WHERE name OPERATOR(pg_catalog.=) 'pg_cron'", true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		bool		isnull;
		Datum		v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		supported = !isnull && DatumGetBool(v);
	}
	SPI_finish();
	return supported;
}

/*
 * cron_parse - raise 22023, with the format in the hint, unless schedule
 * is a complete, valid pg_cron schedule: 5 cron fields (see cron_fields),
 * one of pg_cron's macros, or "N seconds" (1 to 59) when the installed
 * pg_cron supports it (check_seconds; else any N from 1 to 59 is taken).
 * pg_cron itself ignores whatever follows the fifth field and stores it;
 * pgetl does not.  Fills *spec, the times the schedule fires (see
 * CronSpec), when spec is not NULL.
 */
static void
cron_parse(const char *schedule, CronSpec *spec, bool check_seconds)
{
	CronSpec	dummy;
	const char *p = schedule;
	int			nfields = 0;
	const char *starts[6];
	int			lens[6];

	while (*p)
	{
		while (isspace((unsigned char) *p))
			p++;
		if (*p == '\0')
			break;
		if (nfields == 6)
		{
			nfields++;
			break;
		}
		starts[nfields] = p;
		while (*p && !isspace((unsigned char) *p))
			p++;
		lens[nfields] = p - starts[nfields];
		nfields++;
	}

	/* a macro */
	if (nfields == 1 && starts[0][0] == '@')
	{
		for (int i = 0; cron_macros[i] != NULL; i++)
			if (lens[0] == strlen(cron_macros[i]) &&
				pg_strncasecmp(starts[0], cron_macros[i], lens[0]) == 0)
			{
				cron_parse(cron_macro_schedules[i], spec, check_seconds);
				return;
			}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid schedule: %s", schedule),
				 errdetail("\"%.*s\" is not a schedule macro pg_cron knows.", lens[0], starts[0]),
				 errhint(CRON_FORMAT_HINT)));
	}

	/* "N seconds" (pg_cron 1.5 and later) */
	if (nfields == 2 && pg_strncasecmp(starts[1], "seconds", lens[1]) == 0 &&
		lens[1] >= 6 && (lens[1] == 6 || lens[1] == 7))
	{
		int			n = strspn(starts[0], "0123456789");
		bool		supported = !check_seconds || cron_seconds_supported();

		if (supported && n == lens[0] && n <= 2 && atoi(pnstrdup(starts[0], n)) >= 1 &&
			atoi(pnstrdup(starts[0], n)) <= 59)
		{
			if (spec != NULL)
			{
				memset(spec, 0, sizeof(CronSpec));
				spec->seconds = atoi(pnstrdup(starts[0], n));
			}
			return;
		}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid schedule: %s", schedule),
				 supported ?
				 errdetail("A schedule in seconds must be from 1 to 59 seconds.") :
				 errdetail("The installed pg_cron schedules by the minute; schedules in seconds need pg_cron 1.5 or later."),
				 errhint(CRON_FORMAT_HINT)));
	}

	if (nfields != 5)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid schedule: %s", schedule),
				 nfields > 5 ?
				 errdetail("A schedule has 5 fields; it has more (\"%.*s\" ...).", lens[5], starts[5]) :
				 errdetail("A schedule has 5 fields, not %d.", nfields),
				 errhint(CRON_FORMAT_HINT)));

	if (spec == NULL)
		spec = &dummy;
	memset(spec, 0, sizeof(CronSpec));
	for (int i = 0; i < 5; i++)
	{
		const char *why = NULL;

		if (!cron_field_valid(starts[i], lens[i], &cron_fields[i], &why, &spec->mask[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid schedule: %s", schedule),
					 errdetail("The %s field \"%.*s\" is not valid: %s (%s is %d to %d%s).",
							   cron_fields[i].name, lens[i], starts[i], why, cron_fields[i].name,
							   cron_fields[i].low, cron_fields[i].high,
							   cron_fields[i].names == NULL ? "" :
							   i == 3 ? ", or jan to dec" : ", or sun to sat"),
					 errhint(CRON_FORMAT_HINT)));
	}
	/* as Vixie cron: day 7 is Sunday; a field starting with * is "any" */
	if (spec->mask[4] & (UINT64CONST(1) << 7))
		spec->mask[4] |= UINT64CONST(1);
	spec->dom_star = starts[2][0] == '*';
	spec->dow_star = starts[4][0] == '*';
}

/*
 * pgetl_check_schedule - raise 22023, with the format in the hint, unless
 * schedule is a schedule the installed pg_cron takes (cron_parse).
 */
void
pgetl_check_schedule(const char *schedule)
{
	cron_parse(schedule, NULL, true);
}

/*
 * The cron evaluator: when a schedule fires, in a time zone.  pg_cron has
 * no SQL function for that, and pgetl's data intervals (from one firing
 * to the next) need it; this is the one place that computes it.  A cron
 * schedule is matched against the wall-clock time of the time zone, minute
 * by minute (pg_cron 1.4 itself reads schedules in UTC: see
 * pgetl_schedule).  A wall-clock time that a daylight-saving change skips
 * or repeats is converted as PostgreSQL converts a timestamp to a
 * timestamptz in that zone.  "N seconds" schedules fire at the multiples
 * of N seconds since 2000-01-01 00:00 UTC.
 */

/* how far the evaluator looks for a firing: a Feb 29 comes within 8 years */
#define CRON_SEARCH_DAYS	(8 * 366)

/* A wall-clock minute: Julian day, hour, minute */
typedef struct CronWall
{
	int			jd;
	int			hour;
	int			minute;
} CronWall;

static bool
cron_day_matches(const CronSpec *c, int jd)
{
	int			y,
				m,
				d;
	bool		dom,
				dow;

	j2date(jd, &y, &m, &d);
	if (!(c->mask[3] & (UINT64CONST(1) << m)))
		return false;
	dom = (c->mask[2] & (UINT64CONST(1) << d)) != 0;
	dow = (c->mask[4] & (UINT64CONST(1) << j2day(jd))) != 0;
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

/*
 * cron_wall_search - the first matching wall-clock minute at or after *w
 * (forward), or at or before it (backward), into *w; false when there is
 * none within CRON_SEARCH_DAYS.
 */
static bool
cron_wall_search(const CronSpec *c, CronWall *w, bool forward)
{
	int			limit = forward ? w->jd + CRON_SEARCH_DAYS : w->jd - CRON_SEARCH_DAYS;

	while (forward ? w->jd <= limit : w->jd >= limit)
	{
		if (cron_day_matches(c, w->jd))
		{
			for (; forward ? w->hour < 24 : w->hour >= 0;
				 w->hour += forward ? 1 : -1, w->minute = forward ? 0 : 59)
			{
				if (!(c->mask[1] & (UINT64CONST(1) << w->hour)))
					continue;
				for (; forward ? w->minute < 60 : w->minute >= 0; w->minute += forward ? 1 : -1)
					if (c->mask[0] & (UINT64CONST(1) << w->minute))
						return true;
			}
		}
		w->jd += forward ? 1 : -1;
		w->hour = forward ? 0 : 23;
		w->minute = forward ? 0 : 59;
	}
	return false;
}

/* move a wall-clock minute one minute on (or back) */
static void
cron_wall_step(CronWall *w, bool forward)
{
	int			m = w->hour * 60 + w->minute + (forward ? 1 : -1);

	if (m < 0)
	{
		w->jd--;
		m += 24 * 60;
	}
	else if (m >= 24 * 60)
	{
		w->jd++;
		m -= 24 * 60;
	}
	w->hour = m / 60;
	w->minute = m % 60;
}

static TimestampTz
cron_wall_to_timestamptz(const CronWall *w, pg_tz *tz)
{
	struct pg_tm tm;
	int			offset;
	TimestampTz result;

	memset(&tm, 0, sizeof(tm));
	j2date(w->jd, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_hour = w->hour;
	tm.tm_min = w->minute;
	offset = DetermineTimeZoneOffset(&tm, tz);
	if (tm2timestamp(&tm, 0, &offset, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return result;
}

/*
 * cron_timezone - the time zone of that name; 22023 with a hint when
 * there is none.
 */
static pg_tz *
cron_timezone(const char *name)
{
	pg_tz	   *tz = name[0] != '\0' ? pg_tzset(name) : NULL;

	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid timezone: \"%s\"", name),
				 errdetail("A schedule's timezone is a time zone name PostgreSQL knows."),
				 errhint("Give a name from SELECT name FROM pg_timezone_names, e.g. 'UTC' or 'Europe/Paris'.")));
	return tz;
}

/*
 * pgetl_cron_step - the schedule's first firing after t (forward), or its
 * last firing before t (backward), in time zone tzname; false when it
 * fires no such time within CRON_SEARCH_DAYS (e.g. '0 0 31 2 *').  Raises
 * 22023 for a bad schedule or time zone.
 */
bool
pgetl_cron_step(const char *schedule, const char *tzname, TimestampTz t, bool forward,
				TimestampTz *result)
{
	CronSpec	c;
	pg_tz	   *tz;
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;
	CronWall	w;

	cron_parse(schedule, &c, false);
	tz = cron_timezone(tzname);
	if (c.seconds > 0)
	{
		int64		step = (int64) c.seconds * USECS_PER_SEC;
		int64		q = t / step - (t % step < 0 ? 1 : 0);	/* floor */

		*result = forward ? (q + 1) * step : (t % step == 0 ? q - 1 : q) * step;
		return true;
	}
	if (timestamp2tm(t, &offset, &tm, &fsec, NULL, tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	w.jd = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday);
	w.hour = tm.tm_hour;
	w.minute = tm.tm_min;
	/* strictly after t: from the next minute; strictly before: this one */
	if (forward)
		cron_wall_step(&w, true);
	else if (tm.tm_sec == 0 && fsec == 0)
		cron_wall_step(&w, false);

	/*
	 * a wall-clock time a daylight-saving change repeats may be on the wrong
	 * side of t
	 */
	for (int i = 0; i < 4; i++)
	{
		if (!cron_wall_search(&c, &w, forward))
			return false;
		*result = cron_wall_to_timestamptz(&w, tz);
		if (forward ? *result > t : *result < t)
			return true;
		cron_wall_step(&w, forward);
	}
	return false;
}

/*
 * pgetl._cron_step(schedule text, timezone text, t timestamptz,
 * forward boolean) returns timestamptz: pgetl_cron_step for SQL, NULL
 * when the schedule never fires (internal: pgetl's interval functions use
 * it).
 */
PG_FUNCTION_INFO_V1(pgetl_cron_step_sql);
Datum
pgetl_cron_step_sql(PG_FUNCTION_ARGS)
{
	TimestampTz result;

	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null",
							i == 0 ? "schedule" : i == 1 ? "timezone" : i == 2 ? "time" : "forward")));
	if (!pgetl_cron_step(text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)),
						 PG_GETARG_TIMESTAMPTZ(2), PG_GETARG_BOOL(3), &result))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(result);
}

/*
 * pgetl._check_schedule(schedule text) returns void: pgetl_check_schedule
 * for SQL (internal; the tests use it).
 */
PG_FUNCTION_INFO_V1(pgetl_check_schedule_sql);
Datum
pgetl_check_schedule_sql(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("schedule must not be null")));
	pgetl_check_schedule(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/*
 * run_cron_worker - start the worker for a request and wait until it has
 * exited; raise its error, if it had one.  The caller owns req.
 */
static void
run_cron_worker(dsm_segment *seg, PgetlCronRequest *req, const char *jobname)
{
	BackgroundWorkerHandle *handle;
	shm_mq_handle *mqh = pgetl_error_queue_create(seg, (char *) req + req->error_queue_offset);

	if (!pgetl_bgworker_register("pgetl_cron_worker_main", PGETL_CRON_TYPE,
								 psprintf("pgetl cron %s of %s",
										  req->op == PGETL_CRON_SCHEDULE ? "schedule" : "unschedule", jobname),
								 UInt32GetDatum(dsm_segment_handle(seg)), NULL, 0, true, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start a pgetl cron worker: no background worker slot is free"),
				 errdetail("max_worker_processes is %d.", max_worker_processes),
				 errhint("Raise max_worker_processes, or try again when fewer runs are active.")));

	/* its error, if it sends one; the queue notices when it exits */
	shm_mq_set_handle(mqh, handle);
	(void) pgetl_error_receive(mqh, false);
	if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
		ereport(FATAL,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("postmaster exited while waiting for the pgetl cron worker")));

	if (req->done)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("pgetl cron worker exited before creating or removing cron job \"%s\"", jobname),
			 errhint("See the server log; the worker connects to the cron database as the pipeline owner.")));
}

/*
 * new_request - a request segment with room for the strings; the caller
 * detaches it (it is also released at the end of the transaction).
 */
static PgetlCronRequest *
new_request(dsm_segment **seg, PgetlCronOp op, Oid dboid, Oid owner,
			const char *jobname, const char *schedule, const char *command,
			const char *database)
{
	Size		lens[4];
	const char *strs[4] = {jobname, schedule, command, database};
	Size		size = offsetof(PgetlCronRequest, payload);
	PgetlCronRequest *req;
	char	   *p;

	Size		queue_offset;

	for (int i = 0; i < 4; i++)
	{
		lens[i] = strs[i] ? strlen(strs[i]) + 1 : 1;
		size += lens[i];
	}
	queue_offset = MAXALIGN(size);
	size = queue_offset + PGETL_ERROR_QUEUE_SIZE;
	*seg = dsm_create(size, 0);
	req = dsm_segment_address(*seg);
	memset(req, 0, queue_offset);
	req->error_queue_offset = queue_offset;
	req->op = op;
	req->dboid = dboid;
	req->owner = owner;
	req->same_database = (dboid == MyDatabaseId);
	p = req->payload;
	for (int i = 0; i < 4; i++)
	{
		if (i == 1)
			req->schedule_offset = p - req->payload;
		else if (i == 2)
			req->command_offset = p - req->payload;
		else if (i == 3)
			req->database_offset = p - req->payload;
		if (strs[i])
			memcpy(p, strs[i], lens[i]);
		p += lens[i];
	}
	return req;
}

/*
 * cron_database_oid - the OID of the cron database; an error if it does
 * not exist (cron.database_name names a missing database).
 */
static Oid
cron_database_oid(const char *crondb)
{
	Oid			dboid = get_database_oid(crondb, true);

	if (!OidIsValid(dboid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_DATABASE),
				 errmsg("database \"%s\" named by cron.database_name does not exist", crondb),
				 errhint("Set cron.database_name to the database where pg_cron is installed, and restart.")));
	return dboid;
}

/*
 * role_exists - is there a role of that OID?
 */
static bool
role_exists(Oid role)
{
	return SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role));
}

/*
 * remove_job - remove the pipeline's cron job of that name, if there is
 * one: the job of that name owned by owner, or the recorded job jobid (0:
 * none recorded).  Returns the number of jobs removed, or -1 when pg_cron
 * is not loaded or not installed in the cron database (so no job can fire).
 *
 * The worker connects to the cron database as the owner, so that pg_cron's
 * own privilege checks apply; but when the caller is a superuser, it
 * connects as the caller, so that a superuser can remove the job of an
 * owner that was dropped (or lost LOGIN or its pg_cron grants).
 */
static int64
remove_job(Oid owner, const char *jobname, int64 jobid)
{
	const char *crondb = cron_database_name(false);
	dsm_segment *seg;
	PgetlCronRequest *req;
	int64		removed;
	bool		by_superuser = superuser();

	if (crondb == NULL)
		return -1;
	req = new_request(&seg, PGETL_CRON_UNSCHEDULE, cron_database_oid(crondb),
					  by_superuser ? GetUserId() : owner,
					  jobname, NULL, NULL, get_database_name(MyDatabaseId));
	req->by_superuser = by_superuser;
	req->match_jobid = jobid;
	if (role_exists(owner))
		strlcpy(req->owner_name, GetUserNameFromId(owner, false), NAMEDATALEN);
	run_cron_worker(seg, req, jobname);
	removed = req->cron_missing ? -1 : req->removed;
	dsm_detach(seg);
	return removed;
}

/*
 * unschedule_prepare - pgetl._unschedule_prepare as the extension owner:
 * checks that the pipeline exists and that the caller may change it, and
 * locks it.  *jobname is palloc'd in the caller's memory context.
 */
static void
unschedule_prepare(text *pipeline, int64 *pipeline_id, Oid *owner, char **jobname,
				   bool *scheduled, int64 *jobid)
{
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	MemoryContext cxt = CurrentMemoryContext;
	TupleDesc	tupdesc;
	HeapTuple	tup;
	bool		isnull;

	values[0] = ObjectIdGetDatum(GetUserId());
	values[1] = PointerGetDatum(pipeline);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (pgetl_spi_as_owner("SELECT u.pipeline_id, u.owner, u.jobname, u.scheduled, s.jobid "
						   "FROM pgetl._unschedule_prepare($1, $2) u LEFT JOIN pgetl.schedule s "
						   "ON s.pipeline_id OPERATOR(pg_catalog.=) u.pipeline_id",
						   2, types, values, NULL, false, 1) != 1)
		elog(ERROR, "pgetl._unschedule_prepare returned no row");
	tupdesc = SPI_tuptable->tupdesc;
	tup = SPI_tuptable->vals[0];
	*pipeline_id = DatumGetInt64(pgetl_spi_getbinval(tup, tupdesc, "pipeline_id", &isnull));
	*owner = DatumGetObjectId(pgetl_spi_getbinval(tup, tupdesc, "owner", &isnull));
	*jobname = MemoryContextStrdup(cxt, pgetl_spi_getvalue(tup, tupdesc, "jobname"));
	*scheduled = DatumGetBool(pgetl_spi_getbinval(tup, tupdesc, "scheduled", &isnull));
	*jobid = DatumGetInt64(pgetl_spi_getbinval(tup, tupdesc, "jobid", &isnull));
	if (isnull)
		*jobid = 0;
	SPI_finish();
}

/*
 * pgetl_schedule_lookup - for pgetl_drop_pipeline: lock the pipeline and
 * tell whether it has a schedule, and its owner and cron job name
 * (*jobname palloc'd).  Raises the usual errors for an unknown pipeline or
 * a caller who is not a member of its owner.  False for a NULL name (the
 * drop itself reports that).
 */
bool
pgetl_schedule_lookup(text *pipeline, Oid *owner, char **jobname, int64 *jobid)
{
	int64		pipeline_id;
	bool		scheduled;

	if (pipeline == NULL)
		return false;
	unschedule_prepare(pipeline, &pipeline_id, owner, jobname, &scheduled, jobid);
	return scheduled;
}

/*
 * pgetl_cron_remove - for pgetl_drop_pipeline: remove a dropped pipeline's
 * cron job.  Nothing to do when pg_cron is gone (no job can fire then).
 */
void
pgetl_cron_remove(Oid owner, const char *jobname, int64 jobid)
{
	(void) remove_job(owner, jobname, jobid);
}

/*
 * pgetl_cron_move - for a change of owner (pgetl_alter_pipeline,
 * pgetl_reassign_owned): recreate the pipeline's cron job as the new
 * owner, then remove the old owner's (which may have been dropped).  The
 * new job is created first, so that a new owner pg_cron refuses leaves the
 * old job in place (and the caller's error rolls the change of owner
 * back).  Nothing to do when the pipeline is not scheduled.
 */
void
pgetl_cron_move(const char *pipeline, Oid old_owner, Oid new_owner)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	MemoryContext cxt = CurrentMemoryContext;
	TupleDesc	tupdesc;
	HeapTuple	tup;
	bool		isnull;
	int64		pipeline_id;
	char	   *schedule;
	char	   *jobname;
	char	   *command;
	int64		old_jobid;
	int64		jobid;
	const char *crondb;
	dsm_segment *seg;
	PgetlCronRequest *req;

	values[0] = CStringGetTextDatum(pipeline);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (pgetl_spi_as_owner("SELECT pipeline_id, schedule, jobname, command, jobid "
						   "FROM pgetl._schedule_job($1)", 1, types, values, NULL, true, 1) != 1)
	{
		SPI_finish();
		return;
	}
	tupdesc = SPI_tuptable->tupdesc;
	tup = SPI_tuptable->vals[0];
	pipeline_id = DatumGetInt64(pgetl_spi_getbinval(tup, tupdesc, "pipeline_id", &isnull));
	schedule = MemoryContextStrdup(cxt, pgetl_spi_getvalue(tup, tupdesc, "schedule"));
	jobname = MemoryContextStrdup(cxt, pgetl_spi_getvalue(tup, tupdesc, "jobname"));
	command = MemoryContextStrdup(cxt, pgetl_spi_getvalue(tup, tupdesc, "command"));
	old_jobid = DatumGetInt64(pgetl_spi_getbinval(tup, tupdesc, "jobid", &isnull));
	if (isnull)
		old_jobid = 0;

	/*
	 * the job's own schedule: every minute for a schedule read in another
	 * time zone than UTC
	 */
	{
		Oid			argtypes[2] = {TEXTOID, TEXTOID};
		Oid			itypes[1] = {INT8OID};
		Datum		ivalues[1];

		ivalues[0] = Int64GetDatum(pipeline_id);
		if (OidIsValid(LookupFuncName(list_make2(makeString("pgetl"), makeString("_cron_schedule_of")),
									  2, argtypes, true)) &&
			pgetl_spi_as_owner("SELECT pgetl._cron_schedule_of(schedule, timezone) AS cron_schedule "
							   "FROM pgetl.schedule WHERE pipeline_id OPERATOR(pg_catalog.=) $1",
							   1, itypes, ivalues, NULL, true, 1) == 1)
			schedule = MemoryContextStrdup(cxt, pgetl_spi_getvalue(SPI_tuptable->vals[0],
																   SPI_tuptable->tupdesc, "cron_schedule"));
	}
	SPI_finish();

	crondb = cron_database_name(true);
	req = new_request(&seg, PGETL_CRON_SCHEDULE, cron_database_oid(crondb), new_owner,
					  jobname, schedule, command, get_database_name(MyDatabaseId));
	run_cron_worker(seg, req, jobname);
	jobid = req->jobid;
	dsm_detach(seg);
	if (old_jobid != jobid)
		(void) remove_job(old_owner, jobname, old_jobid);

	{
		Oid			rtypes[2] = {INT8OID, INT8OID};
		Datum		rvalues[2];

		rvalues[0] = Int64GetDatum(pipeline_id);
		rvalues[1] = Int64GetDatum(jobid);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		(void) pgetl_spi_as_owner("UPDATE pgetl.schedule SET jobid = $2, updated_at = pg_catalog.now() "
								  "WHERE pipeline_id OPERATOR(pg_catalog.=) $1",
								  2, rtypes, rvalues, NULL, false, 0);
		SPI_finish();
	}
}

/*
 * pgetl_schedule(pipeline text, schedule text, params jsonb,
 *				  catchup boolean, start_date date, timezone text) returns bigint
 *
 * Creates or updates the pg_cron job "<pipeline>@<database>" that runs
 * pgetl_run(pipeline, params) in this database as the pipeline owner, and
 * records it in pgetl.schedule with its data interval settings (catchup,
 * start_date, timezone; pgetl_run called by pg_cron starts the due
 * intervals: see pgetl_run_due in run.c).  The job fires on the schedule
 * itself in UTC, every minute in another time zone
 * (pgetl._cron_schedule_of).  Returns the cron job id.  Called with 3
 * arguments by a catalog still at 0.1.
 */
PG_FUNCTION_INFO_V1(pgetl_schedule);
Datum
pgetl_schedule(PG_FUNCTION_ARGS)
{
	text	   *pipeline;
	text	   *schedule;
	Jsonb	   *params;
	const char *crondb;
	Oid			types[8] = {OIDOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, BOOLOID, DATEOID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Oid			rec_types[9] = {INT8OID, TEXTOID, JSONBOID, TEXTOID, TEXTOID, INT8OID,
	BOOLOID, DATEOID, TEXTOID};
	Datum		rec_values[9];
	bool		rec_nulls[9] = {false, false, false, false, false, false, false, false, false};
	char	   *cron_schedule;
	TimestampTz next_fire;
	MemoryContext cxt = CurrentMemoryContext;
	TupleDesc	tupdesc;
	HeapTuple	tup;
	bool		isnull;
	int64		pipeline_id;
	Oid			owner;
	char	   *jobname;
	char	   *command;
	dsm_segment *seg;
	PgetlCronRequest *req;
	int64		jobid;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline name must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("schedule must not be null"),
				 errhint("Give a cron schedule of 5 fields (minute hour day-of-month month day-of-week), e.g. '15 2 * * *'.")));
	pipeline = PG_GETARG_TEXT_PP(0);
	schedule = PG_GETARG_TEXT_PP(1);
	/* as for pgetl_run, no params means the pipeline's defaults */
	params = PG_ARGISNULL(2) ? DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")))
		: PG_GETARG_JSONB_P(2);
	pgetl_require_preload();
	crondb = cron_database_name(true);

	values[0] = ObjectIdGetDatum(GetUserId());
	values[1] = PointerGetDatum(pipeline);
	values[2] = PointerGetDatum(schedule);
	values[3] = JsonbPGetDatum(params);
	values[4] = CStringGetTextDatum(crondb);
	/* catchup, start_date, timezone: NULLs are refused by _schedule_prepare */
	for (int i = 3; i < 6; i++)
	{
		bool		isnull_i = PG_NARGS() <= i || PG_ARGISNULL(i);

		nulls[i + 2] = isnull_i ? 'n' : ' ';
		values[i + 2] = isnull_i ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	if (PG_NARGS() <= 3)
	{
		/* the 0.1 signature (catalog not updated yet): the defaults */
		nulls[5] = nulls[7] = ' ';
		values[5] = BoolGetDatum(false);
		values[7] = CStringGetTextDatum("UTC");
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (pgetl_spi_as_owner(PG_NARGS() <= 3 ?
						   "SELECT pipeline_id, owner, jobname, command "
						   "FROM pgetl._schedule_prepare($1, $2, $3, $4, $5)" :
						   "SELECT pipeline_id, owner, jobname, command, "
						   "pgetl._cron_schedule_of($3, $8) AS cron_schedule "
						   "FROM pgetl._schedule_prepare($1, $2, $3, $4, $5, $6, $7, $8)",
						   PG_NARGS() <= 3 ? 5 : 8, types, values, nulls, false, 1) != 1)
		elog(ERROR, "pgetl._schedule_prepare returned no row");
	tupdesc = SPI_tuptable->tupdesc;
	tup = SPI_tuptable->vals[0];
	pipeline_id = DatumGetInt64(pgetl_spi_getbinval(tup, tupdesc, "pipeline_id", &isnull));
	owner = DatumGetObjectId(pgetl_spi_getbinval(tup, tupdesc, "owner", &isnull));
	jobname = MemoryContextStrdup(cxt, pgetl_spi_getvalue(tup, tupdesc, "jobname"));
	command = MemoryContextStrdup(cxt, pgetl_spi_getvalue(tup, tupdesc, "command"));
	cron_schedule = PG_NARGS() <= 3 ? text_to_cstring(schedule) :
		MemoryContextStrdup(cxt, pgetl_spi_getvalue(tup, tupdesc, "cron_schedule"));
	SPI_finish();

	/* refused here: pg_cron would store a schedule with trailing text */
	pgetl_check_schedule(text_to_cstring(schedule));

	/*
	 * the time zone, and a schedule that fires at all ('0 0 31 2 *' never
	 * does)
	 */
	if (!pgetl_cron_step(text_to_cstring(schedule), TextDatumGetCString(values[7]),
						 GetCurrentTransactionStartTimestamp(), true, &next_fire))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schedule \"%s\" never fires", text_to_cstring(schedule)),
				 errdetail("No date in the next 8 years matches its day of month, month and day of week."),
				 errhint("Check the day of month and the month, e.g. '0 0 31 2 *' asks for February 31.")));

	req = new_request(&seg, PGETL_CRON_SCHEDULE, cron_database_oid(crondb), owner,
					  jobname, cron_schedule, command,
					  get_database_name(MyDatabaseId));
	run_cron_worker(seg, req, jobname);
	jobid = req->jobid;
	dsm_detach(seg);

	rec_values[0] = Int64GetDatum(pipeline_id);
	rec_values[1] = PointerGetDatum(schedule);
	rec_values[2] = JsonbPGetDatum(params);
	rec_values[3] = CStringGetTextDatum(jobname);
	rec_values[4] = CStringGetTextDatum(crondb);
	rec_values[5] = Int64GetDatum(jobid);
	rec_values[6] = values[5];
	rec_values[7] = values[6];
	rec_nulls[7] = nulls[6] == 'n';
	rec_values[8] = values[7];
	(void) pgetl_call_internal_args("_schedule_record", PG_NARGS() <= 3 ? 6 : 9, rec_types, rec_values,
									rec_nulls, VOIDOID, &isnull);
	PG_RETURN_INT64(jobid);
}

/*
 * pgetl_unschedule(pipeline text)
 *
 * Removes the pipeline's pg_cron job and forgets its schedule.  A job left
 * by a pgetl_schedule whose transaction rolled back is removed too.
 */
PG_FUNCTION_INFO_V1(pgetl_unschedule);
Datum
pgetl_unschedule(PG_FUNCTION_ARGS)
{
	text	   *pipeline;
	int64		pipeline_id;
	Oid			owner;
	char	   *jobname;
	bool		scheduled;
	int64		removed;
	int64		jobid;
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	bool		nulls[1] = {false};
	bool		isnull;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline name must not be null")));
	pipeline = PG_GETARG_TEXT_PP(0);
	unschedule_prepare(pipeline, &pipeline_id, &owner, &jobname, &scheduled, &jobid);
	removed = remove_job(owner, jobname, jobid);
	if (!scheduled && removed <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pipeline \"%s\" is not scheduled", text_to_cstring(pipeline)),
				 errhint("See SELECT * FROM pgetl.schedules for scheduled pipelines.")));
	if (removed < 0)
		ereport(NOTICE,
				(errmsg("pg_cron is not installed: pipeline \"%s\" had no cron job to remove",
						text_to_cstring(pipeline))));
	values[0] = Int64GetDatum(pipeline_id);
	(void) pgetl_call_internal_args("_unschedule_record", 1, types, values, nulls,
									VOIDOID, &isnull);
	PG_RETURN_VOID();
}

/*
 * pg_cron_installed - is extension pg_cron installed in the current
 * database?  (In a transaction.)
 */
static bool
pg_cron_installed(void)
{
	return OidIsValid(get_extension_oid("pg_cron", true));
}

/*
 * cron_schedule - create or update the job with pg_cron's own function, as
 * the pipeline owner.  Sets req->jobid.
 */
static void
cron_schedule(PgetlCronRequest *req)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	bool		isnull;
	Datum		d;
	int			ret;

	values[0] = CStringGetTextDatum(req->payload);
	values[1] = CStringGetTextDatum(req->payload + req->schedule_offset);
	values[2] = CStringGetTextDatum(req->payload + req->command_offset);
	values[3] = CStringGetTextDatum(req->payload + req->database_offset);
	if (req->same_database)
		ret = SPI_execute_with_args("SELECT cron.schedule($1, $2, $3)",
									3, types, values, NULL, false, 1);
	else
		ret = SPI_execute_with_args("SELECT cron.schedule_in_database($1, $2, $3, $4)",
									4, types, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pg_cron did not return a job id");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	req->jobid = isnull ? 0 : DatumGetInt64(d);
}

/*
 * cron_unschedule - remove the owner's jobs of that name, if any; acting
 * for a superuser, the job of that name with the recorded id or owned by
 * the pipeline owner.  Sets req->removed.
 */
static void
cron_unschedule(PgetlCronRequest *req)
{
	Oid			types[3] = {TEXTOID, INT8OID, TEXTOID};
	Datum		values[3];
	int			ret;

	values[0] = CStringGetTextDatum(req->payload);
	values[1] = Int64GetDatum(req->match_jobid);
	values[2] = CStringGetTextDatum(req->owner_name);
	if (req->by_superuser)
		ret = SPI_execute_with_args("SELECT cron.unschedule(jobid) FROM cron.job "
									"WHERE jobname OPERATOR(pg_catalog.=) $1 "
									"AND (jobid OPERATOR(pg_catalog.=) $2 OR username OPERATOR(pg_catalog.=) $3)",
									3, types, values, NULL, false, 0);
	else
		ret = SPI_execute_with_args("SELECT cron.unschedule(jobid) FROM cron.job "
									"WHERE jobname OPERATOR(pg_catalog.=) $1 "
									"AND username OPERATOR(pg_catalog.=) CURRENT_USER",
									1, types, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not remove cron job \"%s\"", req->payload);
	req->removed = SPI_processed;
}

/*
 * explain_error - make an error raised in the cron database say what to do
 * about it.  Edits edata in place; runs after the error, so it looks
 * nothing up in the catalogs.
 */
static void
explain_error(PgetlCronRequest *req, ErrorData *edata)
{
	const char *owner = worker_owner;
	const char *crondb = worker_database;

	if (edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
	{
		if (req->op == PGETL_CRON_SCHEDULE && !req->same_database)
			edata->hint = psprintf("The cron job is created as the pipeline owner in database \"%s\" "
								   "(cron.database_name). There, as a superuser: GRANT USAGE ON SCHEMA cron TO %s; "
								   "GRANT EXECUTE ON FUNCTION " CRON_SCHEDULE_IN_DATABASE_SIGNATURE " TO %s;",
								   crondb, owner, owner);
		else
			edata->hint = psprintf("The cron job is managed as the pipeline owner in database \"%s\" "
								   "(cron.database_name). There, as a superuser: GRANT USAGE ON SCHEMA cron TO %s;",
								   crondb, owner);
	}
	else if (edata->sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE &&
			 edata->message != NULL && strncmp(edata->message, "invalid schedule", 16) == 0)
		edata->hint = pstrdup("pg_cron 1.4 takes cron schedules of 5 fields (minute hour day-of-month month "
							  "day-of-week), e.g. '*/5 * * * *' or '15 2 * * *', or @hourly, @daily, @weekly, "
							  "@monthly, @yearly.");
}

/*
 * pgetl_cron_worker_main - entry point of the worker that creates or
 * removes one cron job.
 *
 * main_arg is the handle of the request segment created by the caller.
 * Connects to the cron database as the pipeline owner, does the work in one
 * transaction, reports through the segment and exits.
 */
void
pgetl_cron_worker_main(Datum main_arg)
{
	dsm_segment *seg;
	PgetlCronRequest *req;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	CurrentResourceOwner = ResourceOwnerCreate(NULL, "pgetl cron");
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgetl cron worker could not map its request segment"),
				 errdetail("The backend that asked for the cron job has gone.")));
	req = dsm_segment_address(seg);

	BackgroundWorkerInitializeConnectionByOid(req->dboid, req->owner, 0);
	/* no ALTER DATABASE/ROLE ... SET search_path reaches the SQL run here */
	pgetl_pin_search_path(GUC_ACTION_SET);
	pgstat_report_appname(PGETL_CRON_TYPE);

	PG_TRY();
	{
		pgetl_xact_begin();
		worker_owner = MemoryContextStrdup(TopMemoryContext,
										   quote_identifier(GetUserNameFromId(req->owner, false)));
		worker_database = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
		pgstat_report_activity(STATE_RUNNING, req->op == PGETL_CRON_SCHEDULE ?
							   "pgetl_schedule" : "pgetl_unschedule");

		if (!pg_cron_installed())
		{
			req->cron_missing = true;
			if (req->op == PGETL_CRON_SCHEDULE)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("extension \"pg_cron\" is not installed in database \"%s\"",
								worker_database),
						 errdetail("pg_cron keeps its jobs in the database named by cron.database_name."),
						 errhint("As a superuser, run CREATE EXTENSION pg_cron in database \"%s\".",
								 worker_database)));
		}
		else if (req->op == PGETL_CRON_SCHEDULE)
			cron_schedule(req);
		else
			cron_unschedule(req);

		pgetl_xact_commit();
		pgstat_report_activity(STATE_IDLE, NULL);
		req->done = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		FlushErrorState();
		explain_error(req, edata);
		pgetl_error_send_prepare(seg, (char *) req + req->error_queue_offset);
		pgetl_error_send(edata);
		HOLD_INTERRUPTS();
		AbortOutOfAnyTransaction();
		FlushErrorState();
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();

	dsm_detach(seg);
	proc_exit(0);
}
