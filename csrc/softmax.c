/* softmax.c: softmax and log_softmax along one axis, forward next to
 * backward, for float and double (bodies in softmax_impl.h).
 */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include "common.h"

#define CG_SM_COLS 64 /* inner columns per task when the axis is not last */

#define T float
#define CG_SFX _f32
#define CG_M(fn) fn##f
#include "softmax_impl.h"
#undef T
#undef CG_SFX
#undef CG_M

#define T double
#define CG_SFX _f64
#define CG_M(fn) fn
#include "softmax_impl.h"
#undef T
#undef CG_SFX
#undef CG_M
