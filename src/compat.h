/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The differences between the PostgreSQL versions pgetl supports (15 to
 *	  18), in one place: each is a macro named after what it does, so that
 *	  the code that uses it reads the same on every version.
 *
 * Included by pgetl.h (the version guard is there).  A file that needs a
 * version-specific header includes it here, behind its guard.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_COMPAT_H
#define PGETL_COMPAT_H

/* 18 replaced the suffix pg_attribute_noreturn() by the prefix pg_noreturn */
#if PG_VERSION_NUM < 180000
#define pg_noreturn pg_attribute_noreturn()
#endif

/* 16: stringToQualifiedNameList reports errors softly (escontext) */
#if PG_VERSION_NUM >= 160000
#define pgetl_qualified_name_list(s) stringToQualifiedNameList((s), NULL)
#else
#define pgetl_qualified_name_list(s) stringToQualifiedNameList(s)
#endif

/*
 * 16: input functions with soft errors (nodes/miscnodes.h, ErrorSaveContext):
 * load_rules.c converts every value with them; on 15 it prechecks the
 * syntax and guards the rest with subtransactions
 */
#if PG_VERSION_NUM >= 160000
#define PGETL_HAS_SOFT_INPUT_ERRORS 1
#endif

/* 16: ExecInsertIndexTuples takes onlySummarizing */
#if PG_VERSION_NUM >= 160000
#define pgetl_insert_index_tuples(rri, slot, estate, nodup, arbiters) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, (nodup), NULL, (arbiters), false)
#else
#define pgetl_insert_index_tuples(rri, slot, estate, nodup, arbiters) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, (nodup), NULL, (arbiters))
#endif

/*
 * 16: permissions moved from RangeTblEntry to RTEPermissionInfo (see
 * load_target.c, which builds one or the other); 18: ExecInitRangeTable
 * takes the unpruned relations.
 */
#if PG_VERSION_NUM >= 160000
#define PGETL_HAS_RTE_PERMISSION_INFO 1
#endif
#if PG_VERSION_NUM >= 180000
#define pgetl_init_range_table(estate, rtes, perminfos) \
	ExecInitRangeTable((estate), (rtes), (perminfos), bms_make_singleton(1))
#else
#define pgetl_init_range_table(estate, rtes, perminfos) \
	ExecInitRangeTable((estate), (rtes), (perminfos))
#endif

/* 17: PGPROC numbers are MyProcNumber (was MyProc->pgprocno) */
#if PG_VERSION_NUM >= 170000
#define PGETL_MY_PROC_NUMBER MyProcNumber
#else
#define PGETL_MY_PROC_NUMBER (MyProc->pgprocno)
#endif

/* 18: the postmaster's BackgroundWorkerList is a dlist (was an slist) */
#if PG_VERSION_NUM >= 180000
#define PGETL_BGWORKER_ITER dlist_iter
#define pgetl_bgworker_foreach(iter) dlist_foreach(iter, &BackgroundWorkerList)
#else
#define PGETL_BGWORKER_ITER slist_iter
#define pgetl_bgworker_foreach(iter) slist_foreach(iter, &BackgroundWorkerList)
#endif

/* 18: the module's name and version, shown by pg_get_loaded_modules() */
#if PG_VERSION_NUM >= 180000
#define PGETL_MODULE_MAGIC PG_MODULE_MAGIC_EXT(.name = "pgetl", .version = PGETL_VERSION)
#else
#define PGETL_MODULE_MAGIC PG_MODULE_MAGIC
#endif

#endif							/* PGETL_COMPAT_H */
