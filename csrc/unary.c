/* unary.c: elementwise unary kernels (activations and math functions),
 * forward next to backward, for float and double. The bodies are written
 * once in unary_impl.h. Loops over more than CG_PAR_MIN elements run in
 * parallel (each thread owns a contiguous range: deterministic).
 */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include "common.h"

#define T float
#define CG_SFX _f32
#define CG_M(fn) fn##f
#include "unary_impl.h"
#undef T
#undef CG_SFX
#undef CG_M

#define T double
#define CG_SFX _f64
#define CG_M(fn) fn
#include "unary_impl.h"
#undef T
#undef CG_SFX
#undef CG_M
