/* binary.c: elementwise binary kernels (add, sub, mul, div, pow) with NumPy
 * broadcasting through strides, forward next to backward, plus accumulate.
 * Bodies are written once in binary_impl.h and instantiated for float and
 * double. The shape/stride bookkeeping below is type-independent.
 */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include "common.h"

/* Elements per work block; blocks are the unit of parallel work. */
#define CG_BIN_BLOCK 8192

/* A shape with the strides of a and b, after dropping size-1 dimensions and
 * merging neighbours that are contiguous for both operands. Both-contiguous
 * inputs of any shape become one dimension with strides (1, 1); a scalar
 * operand becomes stride 0. */
typedef struct {
    int nd;
    int64_t n; /* total elements */
    int64_t shape[CG_MAX_NDIM];
    int64_t sa[CG_MAX_NDIM];
    int64_t sb[CG_MAX_NDIM];
} bin_plan;

static int bin_plan_make(bin_plan *p, int64_t ndim, const int64_t *shape,
                         const int64_t *as, const int64_t *bs)
{
    p->nd = 0;
    p->n = 1;
    if (ndim < 0 || ndim > CG_MAX_NDIM) return CG_EINVAL;
    for (int64_t d = 0; d < ndim; d++) {
        if (shape[d] < 0) return CG_EINVAL;
        if (shape[d] == 0) { p->n = 0; return CG_OK; }
        p->n *= shape[d];
        if (shape[d] == 1) continue;
        const int k = p->nd - 1;
        if (k >= 0 && p->sa[k] == as[d] * shape[d] && p->sb[k] == bs[d] * shape[d]) {
            p->shape[k] *= shape[d];
            p->sa[k] = as[d];
            p->sb[k] = bs[d];
            continue;
        }
        p->shape[p->nd] = shape[d];
        p->sa[p->nd] = as[d];
        p->sb[p->nd] = bs[d];
        p->nd++;
    }
    if (p->nd == 0) { /* all dims of size 1 (or ndim == 0): one element */
        p->nd = 1;
        p->shape[0] = 1;
        p->sa[0] = p->sb[0] = 0;
    }
    return CG_OK;
}

#define CG_IMPL "binary_impl.h"
#include "instantiate.h"
