/* reduce.c: sum, mean and amax over any set of axes of a contiguous x,
 * forward next to backward, for float and double (bodies in reduce_impl.h).
 *
 * The shape is first coalesced (red_plan_make): size-1 dims are dropped and
 * neighbouring dims that are both kept or both reduced are merged. Two loop
 * shapes remain:
 *   case A, last dim reduced: each output element sums contiguous rows;
 *   case B, last dim kept:    each output row accumulates whole rows of x,
 *                             in column chunks of CG_RED_CHUNK.
 * Every output element is reduced in one fixed order by one thread, so the
 * results never depend on the thread count. A full reduction to one value is
 * split into a number of chunks fixed by its length alone, for the same
 * reason.
 */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include "common.h"

#define CG_RED_CHUNK 256          /* columns per task in case B */
#define CG_RED_SPLIT 32768        /* elements per partial in a full reduction */
#define CG_RED_MAX_PARTS 64

typedef struct {
    int64_t nout, nred;      /* kept / reduced element counts */
    int last_reduced;        /* case A (1) or case B (0) */
    int64_t inner;           /* length of the last coalesced dim */
    int nk, nr;              /* kept / reduced coalesced dims */
    int64_t kshape[CG_MAX_NDIM], kstride[CG_MAX_NDIM];
    int64_t rshape[CG_MAX_NDIM], rstride[CG_MAX_NDIM];
} red_plan;

static int red_plan_make(red_plan *p, int64_t ndim, const int64_t *shape,
                         const int64_t *axes, int64_t naxes)
{
    int flag[CG_MAX_NDIM];
    int64_t stride[CG_MAX_NDIM];
    if (ndim < 0 || ndim > CG_MAX_NDIM || naxes < 0 || naxes > ndim) return CG_EINVAL;
    for (int64_t d = 0; d < ndim; d++) {
        if (shape[d] < 0) return CG_EINVAL;
        flag[d] = 0;
    }
    for (int64_t i = 0; i < naxes; i++) {
        if (axes[i] < 0 || axes[i] >= ndim) return CG_EINVAL;
        flag[axes[i]] = 1;
    }
    int64_t s = 1;
    p->nout = p->nred = 1;
    for (int64_t d = ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= shape[d];
        if (flag[d]) p->nred *= shape[d]; else p->nout *= shape[d];
    }
    /* coalesce: skip size-1 dims, merge runs with the same flag */
    int nd = 0, last = -1;
    int64_t cshape[CG_MAX_NDIM], cstride[CG_MAX_NDIM];
    int cflag[CG_MAX_NDIM];
    for (int64_t d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue;
        if (nd > 0 && cflag[nd - 1] == flag[d]) {
            cshape[nd - 1] *= shape[d];
            cstride[nd - 1] = stride[d];
        } else {
            cshape[nd] = shape[d];
            cstride[nd] = stride[d];
            cflag[nd] = flag[d];
            nd++;
        }
    }
    if (nd == 0) { cshape[0] = 1; cstride[0] = 1; cflag[0] = 0; nd = 1; }
    last = nd - 1;
    p->last_reduced = cflag[last];
    p->inner = cshape[last];
    p->nk = p->nr = 0;
    for (int d = 0; d < nd; d++) {
        if (cflag[d]) { p->rshape[p->nr] = cshape[d]; p->rstride[p->nr] = cstride[d]; p->nr++; }
        else { p->kshape[p->nk] = cshape[d]; p->kstride[p->nk] = cstride[d]; p->nk++; }
    }
    return CG_OK;
}

/* Offset in x of flat index f over the n dims (shape, stride). */
static inline int64_t flat_offset(int64_t f, int n, const int64_t *shape, const int64_t *stride)
{
    int64_t off = 0;
    for (int d = n - 1; d >= 0; d--) {
        off += (f % shape[d]) * stride[d];
        f /= shape[d];
    }
    return off;
}

/* max that propagates NaN: a NaN in either argument wins. */
#define CG_NANMAX(m, v) (((v) > (m) || (v) != (v)) ? (v) : (m))
/* x == max, literally (docs/kernels.md): in a group whose max is NaN nothing
 * matches, so the whole group gets no gradient. (torch differs: amax gives
 * the group NaN, max() without dim gives it to the NaN positions.) */
#define CG_ISMAX(v, m) ((v) == (m))

enum { CG_OP_SUM, CG_OP_MEAN, CG_OP_MAX };

#define CG_IMPL "reduce_impl.h"
#include "instantiate.h"
