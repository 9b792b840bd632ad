/* linear.c: fully connected layer y = act(x w^T + b) with the activation
 * fused, forward next to backward, for float and double (bodies in
 * linear_impl.h). Both products go through cg_gemm with transposes handled
 * by its packing (no transposed copies); bias and activation run in one pass
 * over each row of y after the GEMM, while the row is in cache. Activation
 * formulas are the same expressions as unary_impl.h (same results as
 * relu_forward / gelu_forward on z).
 */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include "common.h"

#define CG_LIN_COLS 64 /* db columns per parallel task */

#define CG_SQRT1_2 0.70710678118654752440
#define CG_SQRT2_PI 0.79788456080286535588   /* sqrt(2/pi) */
#define CG_INV_SQRT2PI 0.39894228040143267794 /* 1/sqrt(2 pi) */
#define CG_GELU_C 0.044715

#define T float
#define CG_SFX _f32
#define CG_M(fn) fn##f
#include "linear_impl.h"
#undef T
#undef CG_SFX
#undef CG_M

#define T double
#define CG_SFX _f64
#define CG_M(fn) fn
#include "linear_impl.h"
#undef T
#undef CG_SFX
#undef CG_M
