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

/* The table of cgrad.h: one entry per op of CG_UNARY_OPS (unary_impl.h). */
#define CG_UNARY_ENTRY(op, reads, nparams)                                  \
    {#op, reads, nparams, cg_##op##_forward_f32, cg_##op##_forward_f64,      \
     cg_##op##_backward_f32, cg_##op##_backward_f64},
static const cg_unary_op cg_unary_table[] = {CG_UNARY_OPS(CG_UNARY_ENTRY)};
#undef CG_UNARY_ENTRY

const cg_unary_op *cg_unary_ops(int *count)
{
    *count = (int)(sizeof cg_unary_table / sizeof cg_unary_table[0]);
    return cg_unary_table;
}
