/* loss.c: loss functions, forward next to backward, for float and double
 * (bodies in loss_impl.h): cross-entropy on logits (softmax fused), with
 * class targets or probability targets, NLL on log-probabilities, and the
 * elementwise mse, l1, bce, bce_logits with a fused none/mean/sum reduction.
 *
 * Row kernels split rows over threads; the reductions sum fixed chunks (their
 * count depends on n alone) in ACC and combine them in order, so results do
 * not depend on the thread count.
 */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include "common.h"

#define CG_LOSS_SPLIT 32768     /* elements per partial sum in a reduction */
#define CG_LOSS_MAX_PARTS 64

/* Number of partial sums for a reduction over n elements (n alone decides). */
static inline int64_t loss_nparts(int64_t n)
{
    return cg_max64(1, cg_min64(CG_LOSS_MAX_PARTS, n / CG_LOSS_SPLIT));
}

/* 0 if every target is in [0, C) or equals ignore_index, else CG_EINDEX. */
static int check_targets(const int64_t *target, int64_t N, int64_t C, int64_t ignore_index)
{
    for (int64_t i = 0; i < N; i++)
        if (target[i] != ignore_index && (target[i] < 0 || target[i] >= C)) return CG_EINDEX;
    return CG_OK;
}

#define CG_IMPL "loss_impl.h"
#include "instantiate.h"
