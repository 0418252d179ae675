/*-------------------------------------------------------------------------
 *
 * state_colors.c
 *	  pgetl_state_colors(): the colour table of state_colors.h, for SQL.
 *
 *-------------------------------------------------------------------------
 */
#include "pgetl.h"

#include "fmgr.h"
#include "funcapi.h"
#include "state_colors.h"
#include "utils/builtins.h"

/*
 * pgetl_state_colors() returns table (state text, color text, text_color text)
 *
 * One row per task run state, in the order of the table (legends), the
 * last one "no_status": a task without a try in the run.
 */
PG_FUNCTION_INFO_V1(pgetl_state_colors_sql);
Datum		pgetl_state_colors_sql(PG_FUNCTION_ARGS);
Datum
pgetl_state_colors_sql(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < PGETL_N_STATE_COLORS; i++)
	{
		PgetlStateColor c = pgetl_state_colors[i];

		values[0] = CStringGetTextDatum(pgetl_state_color_name(&c));
		values[1] = CStringGetTextDatum(c.fill);
		values[2] = CStringGetTextDatum(c.font);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
