/* unary.c: elementwise unary kernels (activations and math functions),
 * forward next to backward, for float and double. The bodies are written
 * once in unary_impl.h. Loops over more than CG_PAR_MIN elements run in
 * parallel (each thread owns a contiguous range: deterministic).
 */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include "common.h"

#define CG_IMPL "unary_impl.h"
#include "instantiate.h"
