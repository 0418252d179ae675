/*-------------------------------------------------------------------------
 *
 * load_replay.c
 *	  pgetl_reload_rejects: check the rejects of a load again with its spec
 *	  as it is now, and load those that pass.
 *
 * A reject keeps its record's raw text (pgetl.reject_record.record, in the
 * database encoding) and the load keeps the header it read
 * (pgetl.load_record.header), so a replay puts the unresolved rejected
 * records of load N, one per line, under that header, in memory, and runs
 * the loader on it as a new load (same spec, same source name, reload_of =
 * N): the same rules, target, modes and limits, in the caller's
 * transaction (a replay never truncates, even in mode replace).  Records
 * keep their line numbers in the source.  The rejects of the records that
 * pass (loaded, or skipped by a trigger or a conflict) are marked
 * resolved_by the new load; those that fail again are rejected again,
 * under the new load, with today's reasons.  The replayed load's own
 * rejects stay the ones to replay (a replay of a replay is refused), and a
 * record that passes later resolves its rejects in both.
 *
 *-------------------------------------------------------------------------
 */
#include "load_run.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "util.h"

PG_FUNCTION_INFO_V1(pgetl_reload_rejects);

/*
 * replay_source - the load to replay: its spec name, source and header,
 * checked (the caller may see it, it is not itself a replay); and its
 * unresolved rejected records, one per record, in line order, in memory
 * under the header.
 */
static char *
replay_source(Load *load, int64 of_load)
{
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2];
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;
	char	   *name;
	bool		has_header;
	char	   *header = NULL;
	Datum		d;
	StringInfoData buf;
	int64		nrec;
	int			last_unterminated = -1;

	values[0] = Int64GetDatum(of_load);
	values[1] = ObjectIdGetDatum(GetUserId());
	load_owner_exec("SELECT load_name, source, header, reload_of, "
					"pg_catalog.pg_has_role($2, owner, 'MEMBER') AS is_member "
					"FROM pgetl.load_record WHERE load_id OPERATOR(pg_catalog.=) $1",
					2, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("load " INT64_FORMAT " does not exist", of_load),
				 errhint("See the loads in SELECT * FROM pgetl.load_history.")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (!DatumGetBool(pgetl_spi_getbinval(tup, desc, "is_member", &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be a member of the owner of load " INT64_FORMAT " to replay its rejects", of_load)));
	d = pgetl_spi_getbinval(tup, desc, "reload_of", &isnull);
	if (!isnull)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("load " INT64_FORMAT " is itself a replay of the rejects of load " INT64_FORMAT,
						of_load, DatumGetInt64(d)),
				 errdetail("The records it rejected are still unresolved rejects of load " INT64_FORMAT ".",
						   DatumGetInt64(d)),
				 errhint("Replay load " INT64_FORMAT " instead: pgetl_reload_rejects(" INT64_FORMAT ").",
						 DatumGetInt64(d), DatumGetInt64(d))));
	name = TextDatumGetCString(pgetl_spi_getbinval(tup, desc, "load_name", &isnull));
	load->source = MemoryContextStrdup(load->cxt, TextDatumGetCString(pgetl_spi_getbinval(tup, desc, "source", &isnull)));
	d = pgetl_spi_getbinval(tup, desc, "header", &isnull);
	if (!isnull)
		header = MemoryContextStrdup(load->cxt, TextDatumGetCString(d));

	load->spec = load_spec_fetch(name, false);
	has_header = load->spec->header;
	if (has_header && header == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("load " INT64_FORMAT " kept no header, so its rejects cannot be checked again with load \"%s\"",
						of_load, name),
				 errdetail("Load \"%s\" matches CSV columns by header, and loads made before pgetl 0.2 did not keep the header they read.",
						   name),
				 errhint("Load the source again with pgetl_load.")));

	/* one record per rejected line (a record has a reject per failed rule) */
	load_owner_exec("SELECT line_number, pg_catalog.min(record) AS record, "
					"pg_catalog.bool_or(rule OPERATOR(pg_catalog.=) 'final_newline') AS unterminated "
					"FROM pgetl.reject_record "
					"WHERE load_id OPERATOR(pg_catalog.=) $1 AND resolved_by IS NULL AND record IS NOT NULL "
					"AND severity OPERATOR(pg_catalog.=) 'error' "
					"GROUP BY line_number ORDER BY line_number",
					1, types, values, NULL, SPI_OK_SELECT);
	nrec = SPI_processed;
	if (nrec == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("load " INT64_FORMAT " has no unresolved rejects to replay", of_load),
				 errhint("See SELECT * FROM pgetl.reject WHERE load_id = " INT64_FORMAT " (resolved_by tells which replay loaded a record).",
						 of_load)));
	initStringInfo(&buf);
	if (has_header)
		appendStringInfo(&buf, "%s\n", header);
	load->line_map = MemoryContextAlloc(load->cxt, sizeof(int64) * nrec);
	load->nline_map = nrec;
	/* the record that lacked a final newline goes last, without one again */
	for (int64 i = 0; i < nrec; i++)
		if (DatumGetBool(pgetl_spi_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, "unterminated", &isnull)))
			last_unterminated = (int) i;
	{
		int64		k = 0;

		for (int64 i = 0; i < nrec; i++)
		{
			if (i == last_unterminated)
				continue;
			load->line_map[k++] = DatumGetInt64(pgetl_spi_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, "line_number", &isnull));
			appendStringInfo(&buf, "%s\n",
							 TextDatumGetCString(pgetl_spi_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, "record", &isnull)));
		}
		if (last_unterminated >= 0)
		{
			load->line_map[k++] = DatumGetInt64(pgetl_spi_getbinval(SPI_tuptable->vals[last_unterminated], SPI_tuptable->tupdesc, "line_number", &isnull));
			appendStringInfoString(&buf, TextDatumGetCString(pgetl_spi_getbinval(SPI_tuptable->vals[last_unterminated], SPI_tuptable->tupdesc, "record", &isnull)));
		}
	}
	load->header = header;
	return buf.data;
}

/* mark the rejects of the records that passed resolved by the replay */
static void
resolve(Load *load)
{
	Oid			types[3] = {INT8OID, INT8OID, INT8ARRAYOID};
	Datum		values[3];
	Datum	   *lines;

	if (load->npassed == 0)
		return;
	lines = palloc(sizeof(Datum) * load->npassed);
	for (int64 i = 0; i < load->npassed; i++)
		lines[i] = Int64GetDatum(load->passed[i]);
	values[0] = Int64GetDatum(load->load_id);
	values[1] = Int64GetDatum(load->replay_of);
	values[2] = PointerGetDatum(construct_array(lines, (int) load->npassed, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	load_owner_exec("UPDATE pgetl.reject_record SET resolved_by = $1, resolved_at = pg_catalog.now() "
					"WHERE resolved_by IS NULL AND severity OPERATOR(pg_catalog.=) 'error' "
					"AND line_number OPERATOR(pg_catalog.=) ANY ($3) "
					"AND load_id OPERATOR(pg_catalog.<>) $1 "
					"AND (load_id OPERATOR(pg_catalog.=) $2 OR load_id IN "
					"(SELECT l.load_id FROM pgetl.load_record l WHERE l.reload_of OPERATOR(pg_catalog.=) $2))",
					3, types, values, NULL, SPI_OK_UPDATE);
}

/*
 * pgetl_reload_rejects(of_load bigint) - replay the unresolved rejects of a
 * load; returns one row, as pgetl_load (load_id is the replay's).
 */
Datum
pgetl_reload_rejects(PG_FUNCTION_ARGS)
{
	TimestampTz start = GetCurrentTimestamp();
	Load		load;
	MemoryContext cxt;
	MemoryContext old;
	int64		of_load;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("load_id must not be null"),
				 errhint("Give the load_id of a load in pgetl.load_history.")));
	of_load = PG_GETARG_INT64(0);
	InitMaterializedSRF(fcinfo, 0);

	cxt = AllocSetContextCreate(CurrentMemoryContext, "pgetl replay", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	load_init(&load, "");
	load.replay_of = of_load;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		char	   *data = replay_source(&load, of_load);

		load.mem = data;
		load.mem_len = strlen(data);
		/* the records are in the database's encoding now */
		load.spec->encoding = pstrdup(GetDatabaseEncodingName());
		load_run_stretch(&load, false);
		resolve(&load);
	}
	PG_CATCH();
	{
		load_source_reset();
		PG_RE_THROW();
	}
	PG_END_TRY();
	SPI_finish();

	MemoryContextSwitchTo(old);
	load_put_result(fcinfo, &load, start);
	MemoryContextDelete(cxt);
	return (Datum) 0;
}
