/*-------------------------------------------------------------------------
 *
 * load_run.h
 *	  One run of a load, shared by the modules that drive it: load.c (the
 *	  read loop, in one transaction or in stretches that each commit),
 *	  load_commit.c (the background worker that runs a load committing
 *	  every N records, and resumes an interrupted one) and load_replay.c
 *	  (pgetl_reload_rejects).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_LOAD_RUN_H
#define PGETL_LOAD_RUN_H

#include "load.h"

#include "executor/spi.h"

/* State of one running load */
typedef struct Load
{
	LoadSpec   *spec;
	LoadSource *src;
	CopyFromState cstate;
	LoadTarget *target;
	char	   *source;
	int64		load_id;
	int64		run_id;
	int64		rows_read;
	int64		rows_loaded;
	int64		rows_rejected;
	int64		rows_skipped_by_trigger;	/* a BEFORE trigger returned NULL */
	int64		rows_skipped_on_conflict;	/* upsert, on_conflict nothing */
	int64		rows_warned;	/* not rejected, with warnings */
	bool		has_severity;	/* pgetl.reject_record has it (0.2) */
	StringInfoData reasons;		/* the first few reject reasons */
	int			nreasons;
	SPIPlanPtr	reject_plan;
	/* rejects not stored yet (load.c, flush_rejects), in reject_cxt */
	struct RejectBatch *rejects;
	MemoryContext reject_cxt;
	MemoryContext batch_cxt;
	LoadPipe   *pipe;			/* the parallel reader, or NULL */
	/* lines of the batch being checked and inserted (0: none), for errors */
	int64		batch_first;
	int64		batch_last;
	bool		read_all;		/* the source has been read to its end */

	/*
	 * Committing every commit_every records (0: the whole load in the
	 * caller's transaction): where the stretch of this transaction starts, as
	 * a byte offset and the physical line there, and whether the source was
	 * read to its end.  Lives in cxt, which outlives the transactions.
	 */
	MemoryContext cxt;
	int64		commit_every;
	int64		offset;
	int64		line;
	bool		done;
	bool		committed;		/* some stretch of this load has committed */
	bool		resume;			/* continue an interrupted load */
	char	   *header;			/* the header record as read (kept for
								 * replays) */

	/* a replay of the rejects of load replay_of (load_replay.c) */
	int64		replay_of;
	const char *mem;			/* the records, under their header */
	int64		mem_len;
	int64	   *line_map;		/* record i came from line line_map[i] */
	int64		nline_map;
	int64	   *passed;			/* lines of the records that passed */
	int64		npassed;
	int64		maxpassed;
} Load;

/* load.c */
extern void load_run_stretch(Load *load, bool purge);
extern void load_init(Load *load, const char *source);
extern int64 load_spec_commit_every(LoadSpec *spec);
extern void load_owner_exec(const char *sql, int nargs, Oid *types, Datum *values,
							const char *nulls, int expected);
extern void load_put_result(FunctionCallInfo fcinfo, Load *load, TimestampTz start);

/* load_commit.c */
extern void load_in_worker(FunctionCallInfo fcinfo, const char *load_name, Load *load,
						   bool purge, bool resume);

#endif							/* PGETL_LOAD_RUN_H */
