/* softmax_impl.h: softmax and log_softmax along one axis, type-generic body
 * (see common.h), included by softmax.c once per type.
 *
 * Buffers are contiguous (outer, n, inner); the axis has length n. A task is
 * one (outer index, block of up to CG_SM_COLS inner columns); with inner == 1
 * a task is one contiguous row. Each task owns its outputs: deterministic.
 * The max starts from the first element of the row (no sentinel); the sums
 * run in ACC. A row of all -inf gives NaN (-inf - -inf), as torch.
 */
/* SPDX-License-Identifier: MIT */

#include "vexp.h"  /* rows (inner == 1): SIMD max and exp (float and double) */
#include "vmath.h" /* log_softmax backward rows: SIMD exp */

/* softmax:      y = exp(x - max) / sum exp(x - max)
 *               dx += y * (dy - sum(dy * y))
 * log_softmax:  y = x - max - log(sum exp(x - max))
 *               dx += dy - exp(y) * sum(dy)
 * Forward saves y; both backwards need only y. */
static void CG_NAME(softmax_fwd)(T *restrict y, const T *restrict x, int64_t outer, int64_t n,
                                 int64_t inner, int log_out)
{
    if (outer <= 0 || n <= 0 || inner <= 0) return;
    const int64_t ncb = cg_ceil_div(inner, CG_SM_COLS), ntask = outer * ncb;
    CG_PARALLEL_FOR(outer * n * inner, t, ntask,
        const int64_t o = t / ncb, j0 = (t % ncb) * CG_SM_COLS;
        const int64_t cb = cg_min64(CG_SM_COLS, inner - j0);
        const T *xo = x + o * n * inner + j0;
        T *yo = y + o * n * inner + j0;
        T m[CG_SM_COLS];
        ACC s[CG_SM_COLS];
        m[0] = xo[0]; /* cb >= 1 */
        s[0] = 0;
        for (int64_t j = 1; j < cb; j++) { m[j] = xo[j]; s[j] = 0; }
        if (inner == 1) { /* contiguous row: same max, kept in a register */
            T mx = xo[0];
            if (!CG_NAME(cg_vmax_row)(xo, n, &mx))
                for (int64_t k = 1; k < n; k++) mx = xo[k] > mx ? xo[k] : mx;
            m[0] = mx;
        } else {
            for (int64_t k = 1; k < n; k++)
                for (int64_t j = 0; j < cb; j++) {
                    const T v = xo[k * inner + j];
                    m[j] = v > m[j] ? v : m[j];
                }
        }
        if (log_out) {
            if (!(inner == 1 && CG_NAME(cg_vexp_row)(NULL, xo, m[0], n, &s[0])))
                for (int64_t k = 0; k < n; k++)
                    for (int64_t j = 0; j < cb; j++) s[j] += (ACC)CG_M(exp)(xo[k * inner + j] - m[j]);
            if (inner == 1) {
                const T mx = m[0], l = (T)log(s[0]);
                for (int64_t k = 0; k < n; k++) yo[k] = (xo[k] - mx) - l;
            } else {
                T lse[CG_SM_COLS];
                for (int64_t j = 0; j < cb; j++) lse[j] = (T)log(s[j]);
                for (int64_t k = 0; k < n; k++)
                    for (int64_t j = 0; j < cb; j++) yo[k * inner + j] = (xo[k * inner + j] - m[j]) - lse[j];
            }
        } else {
            if (!(inner == 1 && CG_NAME(cg_vexp_row)(yo, xo, m[0], n, &s[0])))
                for (int64_t k = 0; k < n; k++)
                    for (int64_t j = 0; j < cb; j++) {
                        const T e = CG_M(exp)(xo[k * inner + j] - m[j]);
                        yo[k * inner + j] = e;
                        s[j] += (ACC)e;
                    }
            if (inner == 1) {
                const T iv = (T)(1 / s[0]);
                for (int64_t k = 0; k < n; k++) yo[k] *= iv;
            } else {
                T inv[CG_SM_COLS];
                for (int64_t j = 0; j < cb; j++) inv[j] = (T)(1 / s[j]);
                for (int64_t k = 0; k < n; k++)
                    for (int64_t j = 0; j < cb; j++) yo[k * inner + j] *= inv[j];
            }
        }
    );
}

static void CG_NAME(softmax_bwd)(T *restrict dx, const T *restrict dy, const T *restrict y,
                                 int64_t outer, int64_t n, int64_t inner, int log_out)
{
    if (outer <= 0 || n <= 0 || inner <= 0) return;
    const int64_t ncb = cg_ceil_div(inner, CG_SM_COLS), ntask = outer * ncb;
    CG_PARALLEL_FOR(outer * n * inner, t, ntask,
        const int64_t o = t / ncb, j0 = (t % ncb) * CG_SM_COLS;
        const int64_t cb = cg_min64(CG_SM_COLS, inner - j0);
        const int64_t base = o * n * inner + j0;
        ACC s[CG_SM_COLS];
        T st[CG_SM_COLS];
        for (int64_t j = 0; j < cb; j++) s[j] = 0;
        if (log_out) {
            /* sum(dy) */
            for (int64_t k = 0; k < n; k++)
                for (int64_t j = 0; j < cb; j++) s[j] += (ACC)dy[base + k * inner + j];
            for (int64_t j = 0; j < cb; j++) st[j] = (T)s[j];
            if (!(inner == 1 && CG_NAME(cg_vlsm_bwd_row)(dx + base, dy + base, y + base, st[0], n)))
                for (int64_t k = 0; k < n; k++)
                    for (int64_t j = 0; j < cb; j++) {
                        const int64_t i = base + k * inner + j;
                        dx[i] += dy[i] - CG_M(exp)(y[i]) * st[j];
                    }
        } else {
            /* sum(dy * y) */
            for (int64_t k = 0; k < n; k++)
                for (int64_t j = 0; j < cb; j++) {
                    const int64_t i = base + k * inner + j;
                    s[j] += (ACC)dy[i] * (ACC)y[i];
                }
            for (int64_t j = 0; j < cb; j++) st[j] = (T)s[j];
            for (int64_t k = 0; k < n; k++)
                for (int64_t j = 0; j < cb; j++) {
                    const int64_t i = base + k * inner + j;
                    dx[i] += y[i] * (dy[i] - st[j]);
                }
        }
    );
}

void CG_NAME(cg_softmax_forward)(T *y, const T *x, int64_t outer, int64_t n, int64_t inner)
{
    CG_NAME(softmax_fwd)(y, x, outer, n, inner, 0);
}
void CG_NAME(cg_softmax_backward)(T *dx, const T *dy, const T *y, int64_t outer, int64_t n, int64_t inner)
{
    CG_NAME(softmax_bwd)(dx, dy, y, outer, n, inner, 0);
}

void CG_NAME(cg_log_softmax_forward)(T *y, const T *x, int64_t outer, int64_t n, int64_t inner)
{
    CG_NAME(softmax_fwd)(y, x, outer, n, inner, 1);
}
void CG_NAME(cg_log_softmax_backward)(T *dx, const T *dy, const T *y, int64_t outer, int64_t n, int64_t inner)
{
    CG_NAME(softmax_bwd)(dx, dy, y, outer, n, inner, 1);
}
