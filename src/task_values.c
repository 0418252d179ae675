/*-------------------------------------------------------------------------
 *
 * task_values.c
 *	  Inside a task, the task functions become constants before a query is
 *	  planned.
 *
 * pgetl_logical_date(), pgetl_data_interval_start(),
 * pgetl_data_interval_end(), pgetl_run_id(), pgetl_param(name),
 * pgetl_result(task), pgetl_map_value(column) and pgetl_map_index() answer
 * from the task worker's memory (or its run's record), so they only mean
 * something in the process that runs the task.  A query planner that
 * ships expressions elsewhere -- Citus sends STABLE functions of a SELECT,
 * of a multi-shard query and of the SELECT of an INSERT ... SELECT or a
 * CREATE TABLE AS to the workers inside the shard queries, and only
 * evaluates them on the coordinator for single-shard modifications
 * (citus_clauses.c, ExecuteCoordinatorEvaluableExpressions) -- would have
 * them evaluated in a backend that is not a task, where they raise 55000.
 *
 * Inside a task, pgetl's planner hook therefore replaces every call of
 * these functions whose arguments are constants by its value, computed
 * once, before any other planner (Citus's included: Citus must come first
 * in shared_preload_libraries, so pgetl's hook runs before it) sees the
 * query.  The values cannot change while the task runs (one process per
 * task try), so a cached plan holding them stays right.  A call whose value
 * cannot be computed (an undefined parameter, a task that is not an
 * upstream) is left as it is, to raise its error when, and only if, it is
 * executed; so is a call with a non-constant argument.  Outside a task the
 * hook changes nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "task_values.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/planner.h"
#include "parser/parse_func.h"
#include "task_worker.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "util.h"

static planner_hook_type prev_planner_hook = NULL;

/* the task functions' OIDs, looked up for each planned query */
typedef struct TaskFuncs
{
	Oid			logical_date;
	Oid			interval_start;
	Oid			interval_end;
	Oid			run_id;
	Oid			param;
	Oid			result;
	Oid			map_value;
	Oid			map_index;
	bool		changed;
} TaskFuncs;

/* OID of pgetl's function name(args) in the extension's schema, or InvalidOid */
static Oid
task_func_oid(Oid schema, const char *name, int nargs, Oid argtype)
{
	char	   *nsp = get_namespace_name(schema);
	List	   *qname = list_make2(makeString(nsp), makeString(pstrdup(name)));
	Oid			types[1] = {argtype};

	return LookupFuncName(qname, nargs, types, true);
}

/*
 * try_evaluate - the value of a call whose arguments are constants, as a
 * Const; NULL when evaluating it raised one of the functions' own errors
 * about their arguments or the run (22: a NULL name, 42: an undefined
 * parameter or task, 55: a task that has not succeeded), which is then
 * forgotten: the call stays in the query, to raise it if executed.  Any
 * other error (a cancel, a statement timeout, out of memory) is raised.
 * Evaluated in a subtransaction, since pgetl_result reads the run's
 * history.
 */
static Node *
try_evaluate(FuncExpr *fexpr)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Node	   *value = NULL;
	ErrorData  *edata;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		value = (Node *) evaluate_expr((Expr *) fexpr, fexpr->funcresulttype, -1,
									   fexpr->funccollid);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		int			category;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		category = ERRCODE_TO_CATEGORY(edata->sqlerrcode);
		if (category != ERRCODE_DATA_EXCEPTION &&
			category != ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION &&
			category != ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE)
			ReThrowError(edata);
		FreeErrorData(edata);
		value = NULL;
	}
	PG_END_TRY();
	return value;
}

static Node *
fold_mutator(Node *node, TaskFuncs *funcs)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Query))
		return (Node *) query_tree_mutator((Query *) node, fold_mutator, funcs, 0);
	if (IsA(node, FuncExpr))
	{
		FuncExpr   *fexpr = (FuncExpr *) node;

		if (OidIsValid(fexpr->funcid) &&
			(fexpr->funcid == funcs->logical_date || fexpr->funcid == funcs->run_id ||
			 fexpr->funcid == funcs->interval_start || fexpr->funcid == funcs->interval_end ||
			 fexpr->funcid == funcs->param || fexpr->funcid == funcs->result ||
			 fexpr->funcid == funcs->map_value || fexpr->funcid == funcs->map_index))
		{
			ListCell   *lc;
			bool		constant = true;
			Node	   *value;

			foreach(lc, fexpr->args)
				constant &= IsA(lfirst(lc), Const);
			if (constant && (value = try_evaluate(fexpr)) != NULL)
			{
				if (IsA(value, Const))
					((Const *) value)->location = fexpr->location;
				funcs->changed = true;
				return value;
			}
		}
	}
	return expression_tree_mutator(node, fold_mutator, funcs);
}

/*
 * pgetl_planner - inside a task, replace the task functions by their
 * values (see the file's comment), then plan as usual.
 */
/*
 * The OIDs, looked up once per task try: they cannot change while the task
 * runs (a task that dropped the extension has no calls of them left to
 * plan), but a warm worker's next try may see another extension
 * (pgetl_task_values_reset, at the end of each try).
 */
static TaskFuncs funcs = {InvalidOid, InvalidOid, InvalidOid, InvalidOid, InvalidOid, InvalidOid, false};

/* Forget the OIDs: the next try looks them up again. */
void
pgetl_task_values_reset(void)
{
	memset(&funcs, 0, sizeof(funcs));
}

static PlannedStmt *
pgetl_planner(Query *parse, const char *query_string, int cursorOptions,
			  ParamListInfo boundParams)
{

	if (pgetl_current_run_id() != 0 && parse->commandType != CMD_UTILITY)
	{
		if (!OidIsValid(funcs.run_id) && OidIsValid(get_extension_oid("pgetl", true)))
		{
			Oid			schema = pgetl_extension_schema();

			funcs.logical_date = task_func_oid(schema, "pgetl_logical_date", 0, InvalidOid);
			funcs.interval_start = task_func_oid(schema, "pgetl_data_interval_start", 0, InvalidOid);
			funcs.interval_end = task_func_oid(schema, "pgetl_data_interval_end", 0, InvalidOid);
			funcs.param = task_func_oid(schema, "pgetl_param", 1, TEXTOID);
			funcs.result = task_func_oid(schema, "pgetl_result", 1, TEXTOID);
			funcs.run_id = task_func_oid(schema, "pgetl_run_id", 0, InvalidOid);
			funcs.map_value = task_func_oid(schema, "pgetl_map_value", 1, TEXTOID);
			funcs.map_index = task_func_oid(schema, "pgetl_map_index", 0, InvalidOid);
		}
		if (OidIsValid(funcs.run_id))
		{
			Query	   *folded;

			funcs.changed = false;
			folded = (Query *) fold_mutator((Node *) parse, &funcs);
			if (funcs.changed)
				parse = folded;
		}
	}
	if (prev_planner_hook)
		return prev_planner_hook(parse, query_string, cursorOptions, boundParams);
	return standard_planner(parse, query_string, cursorOptions, boundParams);
}

/* pgetl_task_values_init - install the planner hook (from _PG_init) */
void
pgetl_task_values_init(void)
{
	prev_planner_hook = planner_hook;
	planner_hook = pgetl_planner;
}
