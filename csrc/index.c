/* index.c: scatter-add (index_add), the backward of every gather, for float
 * and double. The body is written once in index_impl.h.
 */
/* SPDX-License-Identifier: MIT */
#include "common.h"

#define CG_INDEX_COLS 512 /* columns per parallel task */

#define T float
#define CG_SFX _f32
#include "index_impl.h"
#undef T
#undef CG_SFX

#define T double
#define CG_SFX _f64
#include "index_impl.h"
#undef T
#undef CG_SFX
