/*-------------------------------------------------------------------------
 *
 * task_values.h
 *	  Inside a task, the task functions become constants before a query is
 *	  planned (so that distributed planners ship their values, not calls).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_TASK_VALUES_H
#define PGETL_TASK_VALUES_H

#include "pgetl.h"

extern void pgetl_task_values_init(void);
extern void pgetl_task_values_reset(void);

#endif							/* PGETL_TASK_VALUES_H */
