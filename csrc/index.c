/* index.c: scatter-add (index_add), the backward of every gather, for float
 * and double. The body is written once in index_impl.h.
 */
/* SPDX-License-Identifier: MIT */
#include "common.h"

#define CG_INDEX_COLS 512 /* columns per parallel task */

#define CG_IMPL "index_impl.h"
#include "instantiate.h"
