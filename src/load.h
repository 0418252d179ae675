/*-------------------------------------------------------------------------
 *
 * load.h
 *	  The validated CSV loader: a compiled load spec, the CSV source, rule
 *	  checking, target insertion and rejects.
 *
 * Modules:
 *	  load_spec.c	 reading a spec from the catalog and compiling it (types,
 *					 rule values, patterns, checks); pgetl_define_load & co.
 *	  load_source.c  opening a server file or staged data and feeding it to
 *					 PostgreSQL's COPY parser; physical line numbers
 *	  load_rules.c	 converting fields and checking rules, one row at a time;
 *					 references, one query per batch; expectations, once
 *					 the rows are in
 *	  load_target.c  inserting batches of good rows, isolating bad ones
 *	  load.c		 pgetl_load: the read loop, batches, rejects, progress
 *	  load_parallel.c a background reader that reads and checks large files
 *					 while pgetl_load inserts
 *	  infer.c		 pgetl_infer_load: a spec proposed from a sample of a source
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_LOAD_H
#define PGETL_LOAD_H

#include "pgetl.h"
#include "util.h"

#include "commands/copy.h"
#include "executor/spi.h"
#include "executor/execdesc.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "regex/regex.h"
#include "storage/lockdefs.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

/* Load modes */
typedef enum LoadMode
{
	LOAD_APPEND,
	LOAD_UPSERT,
	LOAD_REPLACE
} LoadMode;

/* How a field with "format" is converted */
typedef enum LoadFormatKind
{
	LOAD_FORMAT_NONE,
	LOAD_FORMAT_DATE,			/* to_date */
	LOAD_FORMAT_TIMESTAMP,		/* to_timestamp, then to timestamp */
	LOAD_FORMAT_TIMESTAMPTZ		/* to_timestamp */
} LoadFormatKind;

/* A fast syntax check telling that an input function cannot fail */
typedef enum LoadPrecheck
{
	LOAD_PRECHECK_NONE,			/* unknown type: call the input function */
	LOAD_PRECHECK_INT2,
	LOAD_PRECHECK_INT4,
	LOAD_PRECHECK_INT8,
	LOAD_PRECHECK_NUMERIC,
	LOAD_PRECHECK_FLOAT,
	LOAD_PRECHECK_TEXT			/* text, varchar, bpchar with length limit */
} LoadPrecheck;

/* One CSV column of a spec, compiled */
typedef struct LoadColumn
{
	int			ordinal;		/* 1-based position in the spec */
	char	   *name;			/* CSV header name, or NULL */
	char	   *label;			/* name for messages: name, else "column N" */
	char	   *target;			/* target column, or NULL when skipped */
	int			field;			/* index of the CSV field, -1 if absent */
	int			out;			/* index among inserted columns, or -1 */

	/* the type rule: what the field is checked as */
	Oid			typid;
	int32		typmod;
	char	   *typname;		/* for messages */
	FmgrInfo	infunc;
	Oid			ioparam;
	LoadPrecheck precheck;
	int			text_limit;		/* LOAD_PRECHECK_TEXT: max chars, or -1 */
	LoadFormatKind format_kind;
	text	   *format;

	/* conversion to the target column's type, when it differs */
	bool		recast;
	Oid			target_typid;
	int32		target_typmod;
	FmgrInfo	outfunc;		/* checked type's output */
	FmgrInfo	target_infunc;
	Oid			target_ioparam;

	/* rules */
	bool		required;
	bool		has_min;
	bool		has_max;
	Datum		min;
	Datum		max;
	char	   *min_text;
	char	   *max_text;
	FmgrInfo	cmp;			/* btree comparison of typid */
	Oid			collation;
	regex_t    *pattern;
	char	   *pattern_text;
	char	   *prefix;
	int			max_length;		/* -1: none */
	int			max_decimals;	/* -1: none */
	char	  **allowed;
	int			nallowed;
	bool		unique;
	HTAB	   *seen;			/* unique: values seen in this file */
	MemoryContext seen_cxt;		/* where its keys live */
	AttrNumber	attnum;			/* of the target column */
	int			min_length;		/* -1: none */
	char	  **not_allowed;
	int			nnot_allowed;
	regex_t    *not_pattern;
	char	   *not_pattern_text;

	/* references: the value must exist in ref_relid.ref_column */
	char	   *ref_table;		/* as given in the spec */
	Oid			ref_relid;
	char	   *ref_column;
	char	   *ref_name;		/* "schema.table.column", for messages */
	Oid			ref_typid;		/* of the referenced column */
	FmgrInfo	ref_outfunc;	/* output function of typid */
	SPIPlanPtr	ref_plan;		/* the batch query, prepared at load */

	/* the rules whose failures are warnings (severity warn) */
	char	  **warn_rules;
	int			nwarn_rules;
	int16		target_typlen;	/* set for the parallel path */
	bool		target_byval;
} LoadColumn;

/* A row-level check */
typedef struct LoadCheck
{
	char	   *name;
	char	   *expression;
	ExprState  *state;
	bool		warn;			/* severity warn */
} LoadCheck;

/* Whole-load expectations ("expect"), checked after the rows are in */
typedef struct LoadExpect
{
	bool		any;			/* the spec has expectations */
	int64		min_rows;		/* -1: none */
	int64		max_rows;		/* -1: none */
	double		max_reject_ratio;	/* < 0: none */
	char	  **unique;			/* target columns, or NULL */
	int			nunique;
	char	  **not_null;
	int			nnot_null;
	char	   *fresh_column;	/* freshness, or NULL */
	char	   *fresh_max_age;
	char	  **sql;			/* boolean queries, run as the owner */
	SPIPlanPtr *sql_plans;
	int			nsql;
} LoadExpect;

/*
 * What raised an error while a row was checked or inserted: which errors
 * reject the row rather than fail the load (see load_error_is_row_level).
 */
typedef enum LoadErrorKind
{
	LOAD_ERRORS_CONVERSION,		/* a type input function or date format */
	LOAD_ERRORS_ROW,			/* a check expression or the target */
	LOAD_ERRORS_RECHECK,		/* either: the row is checked again carefully */
	LOAD_ERRORS_DISTRIBUTED		/* a batch into a Citus table: as ROW, and
								 * XX000, which Citus's COPY gives every error
								 * of a worker (load_target.c) */
} LoadErrorKind;

/* A compiled load spec */
typedef struct LoadSpec
{
	int64		spec_id;
	char	   *name;
	Oid			owner;
	Oid			target;
	char	   *target_name;	/* qualified and quoted: its name now */
	char		delimiter;
	char		quote;
	char		escape;
	bool		header;
	char	   *null_string;
	char	   *encoding;
	LoadMode	mode;
	List	   *conflict_key;	/* of char * */
	bool		on_conflict_update;
	int64		max_rejects;	/* -1: no limit */
	double		max_reject_ratio;	/* < 0: no limit */
	bool		ignore_unlisted;	/* unlisted_columns: ignore */
	bool		defining;		/* compiled by pgetl_define_load */
	bool		require_final_newline;

	int			ncolumns;
	LoadColumn *columns;
	int			nchecks;
	LoadCheck  *checks;
	LoadExpect	expect;

	/* fields a record must have (the header's count, or ncolumns) */
	int			nfields_expected;

	/* inserted columns, in insertion order */
	int			nout;
	LoadColumn **outcols;

	/* set up by load_spec_prepare_checks */
	Relation	rel;
	TupleDesc	checkdesc;		/* the target's tuple descriptor */
	EState	   *estate;
} LoadSpec;

/* Why a row was rejected: one failed rule or error */
typedef struct LoadFailure
{
	char	   *column;			/* CSV column, or NULL for the whole row */
	char	   *rule;
	char	   *value;
	char	   *message;
	int			sqlerrcode;		/* 0 for a failed rule */
	bool		warn;			/* a warning: the row is not rejected by it */
} LoadFailure;

/* A record read from the source, with its converted values */
typedef struct LoadRow
{
	int64		line;			/* physical line where the record starts */
	char	   *record;			/* raw record text */
	bool		unterminated;	/* the last record, without a line terminator */
	int			nfields;
	char	  **fields;			/* NULL for SQL NULL */
	Datum	   *values;			/* by inserted column */
	bool	   *nulls;
	bool		rejected;
	int			nfailures;		/* every failure (and warning) of the row */
	int			maxfailures;
	LoadFailure *failures;
} LoadRow;

/* load_spec.c */
extern LoadSpec *load_spec_fetch(const char *name, bool for_define);
extern void load_spec_lock_target(LoadSpec *spec, LOCKMODE lockmode);
extern void load_spec_open_target(LoadSpec *spec, LOCKMODE lockmode);
extern void load_spec_close_target(LoadSpec *spec);
extern void load_spec_bind_header(LoadSpec *spec, char **fields, int nfields);
extern void load_spec_bind_positions(LoadSpec *spec);
extern void load_spec_become_owner(LoadSpec *spec, PgetlUserSwitch *sw);
extern bool load_catalog_has_column(const char *table, const char *column);
extern void load_task_check_config(Jsonb *config);

/* load_columns.c */
extern bool load_column_key_can_warn(const char *name);
extern char *load_option_text(Jsonb *options, const char *key);
extern void load_options_resolve(Jsonb *options, LoadSpec *spec);

/* load_source.c */
typedef struct LoadSource LoadSource;
extern LoadSource *load_source_open(const char *source, const char *load_name);
extern CopyFromState load_source_begin_copy(LoadSource *src, LoadSpec *spec);
extern bool load_source_next(LoadSource *src, CopyFromState cstate,
							 char ***fields, int *nfields, int64 *line, char **record,
							 bool *unterminated);
extern void load_source_keep_blank_lines(LoadSource *src, bool keep);
extern void load_source_end(LoadSource *src, CopyFromState cstate);
extern void load_source_report_progress(LoadSource *src, CopyFromState cstate, Oid relid,
										int64 rows_read, int64 rows_rejected);
extern void load_rollback_subtransaction(void);
extern bool load_source_is_staged(LoadSource *src);
extern int64 load_source_current_line(LoadSource *src);
extern int64 load_source_size(LoadSource *src);
extern void load_source_set_bytes_processed(CopyFromState cstate, int64 bytes);
extern int64 load_source_bytes_processed(CopyFromState cstate);
extern const char *load_source_path(LoadSource *src);
extern void load_source_reset(void);
extern int	load_source_read(LoadSource *src, char *buf, int len);
extern void load_source_close(LoadSource *src);
extern LoadSource *load_source_open_memory(const char *label, const char *data, int64 len);
extern void load_source_identity(LoadSource *src, const char *load_name, int64 *size,
								 TimestampTz *mtime, bool *mtime_null, int64 *hash);
extern void load_source_end_copy(LoadSource *src, CopyFromState cstate);
extern void load_source_seek(LoadSource *src, int64 offset, int64 line);
extern int64 load_source_next_line(LoadSource *src);
extern int64 load_source_line_offset(LoadSource *src, int64 from_offset, int64 from_line,
									 int64 line);

/* load_rules.c */
extern void load_rules_check_row(LoadSpec *spec, LoadRow *row, bool careful);
extern void load_rules_forget_row(LoadSpec *spec, LoadRow *row);
extern void load_row_reject(LoadRow *row, const char *column, const char *rule,
							const char *value, int sqlerrcode, const char *fmt,...)
			pg_attribute_printf(6, 7);
extern void load_rules_check_references(LoadSpec *spec, LoadRow **rows, int nrows);
extern void load_rules_check_expectations(LoadSpec *spec, int64 rows_read,
										  int64 rows_loaded, int64 rows_rejected,
										  const char *first_rejects);
extern bool load_error_is_row_level(int sqlerrcode, LoadErrorKind kind);
extern ErrorData *load_try(void (*fn) (void *arg), void (*on_abort) (void *arg), void *arg,
						   LoadErrorKind kind);
extern void load_rules_begin(LoadSpec *spec);

/* load.c */
#define LOAD_BATCH_ROWS 1000
#define LOAD_BATCH_BYTES (4 * 1024 * 1024)
extern void load_read_header(LoadSpec *spec, LoadSource *src, CopyFromState cstate,
							 const char *source, char **header_record);
extern int	load_read_batch(LoadSpec *spec, LoadSource *src, CopyFromState cstate,
							LoadRow **rows, int maxrows, Size maxbytes,
							const int64 *line_map, int64 nline_map, int64 rows_before,
							bool *more);
extern void load_check_rows(LoadSpec *spec, LoadRow **rows, int n);

/* load_parallel.c */
typedef struct LoadPipe LoadPipe;
extern int	pgetl_load_parallel;
extern int	pgetl_load_parallel_min_size;
extern void load_parallel_define_gucs(void);
extern LoadPipe *load_parallel_start(LoadSpec *spec, LoadSource *src, const char *source,
									 int batch_rows, Size batch_bytes,
									 ErrorContextCallback *own);
extern int64 load_parallel_current_line(LoadPipe *pipe);
extern int	load_parallel_next_batch(LoadPipe *pipe, LoadRow **rows, int maxrows,
									 CopyFromState cstate);
extern void load_parallel_end(LoadPipe *pipe);
extern PGDLLEXPORT void pgetl_load_reader_main(Datum main_arg);

/* load_target.c */
typedef struct LoadTarget LoadTarget;
extern LoadTarget *load_target_begin(LoadSpec *spec);
extern int64 load_target_insert(LoadTarget *tgt, LoadRow **rows, int nrows);
extern bool load_target_skips_conflicts(LoadTarget *tgt);
extern bool load_target_is_citus(LoadTarget *tgt);
extern void load_target_define_gucs(void);
extern int	pgetl_citus_load_pool_size;
extern void load_target_end(LoadTarget *tgt);

#endif							/* PGETL_LOAD_H */
