/* linear_impl.h: linear layer with a fused activation, type-generic body
 * (see common.h), included by linear.c once per type.
 *
 * x (N,IN), w (OUT,IN), b (OUT,), y z dy dz (N,OUT), all contiguous.
 * Threads: the GEMMs split C tiles (gemm_impl.h); the row pass splits rows;
 * db splits column blocks, each column summed over rows in order in ACC.
 * Every output has one writer and a fixed order: deterministic.
 */
/* SPDX-License-Identifier: MIT */

#include "act_impl.h" /* relu, gelu: the same functions as unary_impl.h */
#include "vmath.h"    /* float32 SIMD gelu: the same loops as unary_impl.h */

/* One row of the epilogue: v = y + b (stored in z if asked), y = act(v). */
static void CG_NAME(lin_row)(T *restrict y, T *restrict z, const T *restrict b, int64_t n, int act)
{
    if (b)
        for (int64_t j = 0; j < n; j++) y[j] += b[j];
    if (z)
        for (int64_t j = 0; j < n; j++) z[j] = y[j];
    switch (act) {
    case CG_ACT_RELU: /* NaN propagates, as relu_forward */
        for (int64_t j = 0; j < n; j++) y[j] = CG_NAME(relu_fwd)(y[j]);
        break;
    case CG_ACT_GELU:
        if (!CG_NAME(cg_vgelu)(y, y, n))
            for (int64_t j = 0; j < n; j++) y[j] = CG_NAME(gelu_erf_fwd)(y[j]);
        break;
    case CG_ACT_GELU_TANH:
        if (!CG_NAME(cg_vgelu_tanh)(y, y, n))
            for (int64_t j = 0; j < n; j++) y[j] = CG_NAME(gelu_tanh_fwd)(y[j]);
        break;
    default:
        break;
    }
}

/* linear:  z = x w^T + b;  y = act(z)
 *   act none:  y = z
 *   relu:      y = max(z, 0)                    dz = dy where y > 0, else 0
 *   gelu:      y = z Phi(z)                     dz = dy (Phi(z) + z phi(z))
 *   gelu tanh: u = sqrt(2/pi) (z + 0.044715 z^3), y = 0.5 z (1 + tanh u)
 *              dz = dy (s + 2 z s (1 - s) sqrt(2/pi) (1 + 3 * 0.044715 z^2)),
 *              s = sigmoid(2u) = 0.5 (1 + tanh u)   (as gelu_backward)
 * Backward, with dz (N,OUT):
 *   dx += dz w      (N,OUT) @ (OUT,IN)      GEMM, no transposes
 *   dw += dz^T x    (OUT,N) @ (N,IN)        GEMM with trans_a (dz read as stored)
 *   db += sum_i dz[i, :]
 */
int CG_NAME(cg_linear_forward)(T *y, T *z, const T *x, const T *w, const T *b,
                               int64_t N, int64_t IN, int64_t OUT, int act)
{
    if (N < 0 || IN < 0 || OUT < 0 || act < CG_ACT_NONE || act > CG_ACT_GELU_TANH) return CG_EINVAL;
    if (N == 0 || OUT == 0) return CG_OK;
    const int st = CG_NAME(cg_gemm)(y, x, w, N, OUT, IN, 0, 1, 0); /* y = x w^T */
    if (st != CG_OK) return st;
    if (act == CG_ACT_NONE && !b && !z) return CG_OK;
    const int64_t cost = act >= CG_ACT_GELU ? 16 : 1; /* erf / tanh per element */
    CG_PARALLEL_FOR(N * OUT * cost, i, N,
        CG_NAME(lin_row)(y + i * OUT, z ? z + i * OUT : NULL, b, OUT, act);
    );
    return CG_OK;
}

/* dz = dy * act'(.) for n elements (act != none). */
static void CG_NAME(lin_dact)(T *restrict dz, const T *restrict dy, const T *restrict z,
                              const T *restrict y, int64_t n, int act)
{
    if (act == CG_ACT_RELU) {
        CG_PARALLEL_FOR(n, i, n, dz[i] = CG_NAME(relu_bwd)(dy[i], y[i]); );
    } else if (act == CG_ACT_GELU) {
        CG_FOR_CHUNKS(16 * n, lo, len, n,
            if (!CG_NAME(cg_vgelu_grad)(dz + lo, dy + lo, z + lo, len, 0))
                for (int64_t i = lo; i < lo + len; i++) dz[i] = dy[i] * CG_NAME(gelu_erf_grad)(z[i]););
    } else {
        CG_FOR_CHUNKS(16 * n, lo, len, n,
            if (!CG_NAME(cg_vgelu_tanh_grad)(dz + lo, dy + lo, z + lo, len, 0))
                for (int64_t i = lo; i < lo + len; i++) dz[i] = dy[i] * CG_NAME(gelu_tanh_grad)(z[i]););
    }
}

int CG_NAME(cg_linear_backward)(T *dx, T *dw, T *db, const T *dy,
                                const T *x, const T *w, const T *z, const T *y,
                                T *scratch, int64_t N, int64_t IN, int64_t OUT, int act,
                                int accumulate)
{
    if (N < 0 || IN < 0 || OUT < 0 || act < CG_ACT_NONE || act > CG_ACT_GELU_TANH) return CG_EINVAL;
    if (!dx && !dw && !db) return CG_OK;
    if (act != CG_ACT_NONE &&
        (!scratch || (act == CG_ACT_RELU ? !y : !z))) return CG_EINVAL;
    if (N == 0 || OUT == 0) { /* every sum is empty: += 0, or = 0 */
        if (!accumulate) {
            if (dx) memset(dx, 0, (size_t)(N * IN) * sizeof(T));
            if (dw) memset(dw, 0, (size_t)(OUT * IN) * sizeof(T));
            if (db) memset(db, 0, (size_t)OUT * sizeof(T));
        }
        return CG_OK;
    }
    const T *dz = dy;
    if (act != CG_ACT_NONE) {
        CG_NAME(lin_dact)(scratch, dy, z, y, N * OUT, act);
        dz = scratch;
    }
    int st;
    if (dx && (st = CG_NAME(cg_gemm)(dx, dz, w, N, IN, OUT, 0, 0, accumulate)) != CG_OK) return st;
    if (dw && (st = CG_NAME(cg_gemm)(dw, dz, x, OUT, IN, N, 1, 0, accumulate)) != CG_OK) return st;
    if (db) {
        const int64_t ntask = cg_ceil_div(OUT, CG_LIN_COLS);
        CG_PARALLEL_FOR(N * OUT, t, ntask,
            const int64_t c0 = t * CG_LIN_COLS, cn = cg_min64(CG_LIN_COLS, OUT - c0);
            ACC acc[CG_LIN_COLS];
            for (int64_t j = 0; j < cn; j++) acc[j] = 0;
            for (int64_t i = 0; i < N; i++) {
                const T *restrict row = dz + i * OUT + c0;
                for (int64_t j = 0; j < cn; j++) acc[j] += (ACC)row[j];
            }
            for (int64_t j = 0; j < cn; j++) db[c0 + j] = accumulate ? db[c0 + j] + (T)acc[j] : (T)acc[j];
        );
    }
    return CG_OK;
}
