/*-------------------------------------------------------------------------
 *
 * ownership.h
 *	  DROP ROLE of an owner of pgetl objects, DROP EXTENSION pgetl.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGETL_OWNERSHIP_H
#define PGETL_OWNERSHIP_H

#include "pgetl.h"

extern void pgetl_ownership_init(void);

#endif							/* PGETL_OWNERSHIP_H */
