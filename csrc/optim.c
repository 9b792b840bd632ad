/* optim.c: optimizer updates, SGD (momentum, dampening, nesterov, weight
 * decay) and Adam / AdamW, each one in-place pass over a parameter in
 * torch's order, for float and double (bodies in optim_impl.h). Elements are
 * independent: threads split contiguous ranges, results are deterministic.
 */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include "common.h"

#define T float
#define CG_SFX _f32
#define CG_M(fn) fn##f
#include "optim_impl.h"
#undef T
#undef CG_SFX
#undef CG_M

#define T double
#define CG_SFX _f64
#define CG_M(fn) fn
#include "optim_impl.h"
#undef T
#undef CG_SFX
#undef CG_M
