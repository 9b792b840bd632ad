/* linear.c: fully connected layer y = act(x w^T + b) with the activation
 * fused, forward next to backward, for float and double (bodies in
 * linear_impl.h). Both products go through cg_gemm with transposes handled
 * by its packing (no transposed copies); bias and activation run in one pass
 * over each row of y after the GEMM, while the row is in cache. The
 * activation math is act_impl.h's, shared with unary_impl.h (same results as
 * relu_forward / gelu_forward on z, bit for bit).
 */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <string.h>
#include "common.h"

#define CG_LIN_COLS 64 /* db columns per parallel task */

#define CG_IMPL "linear_impl.h"
#include "instantiate.h"
