/* loss_impl.h: loss functions, type-generic body (see common.h and loss.c),
 * included by loss.c once per type.
 *
 * Classification losses take (N,C) rows and int64 targets; one thread owns
 * each row. The row max starts from the first element (no sentinel); exp
 * sums run in ACC. A row of all -inf gives NaN (-inf - -inf), as torch.
 */
/* SPDX-License-Identifier: MIT */

#include "act_impl.h" /* sigmoid1 (bce_logits) */
#include "vexp.h"     /* softmax rows: SIMD max and exp (float and double) */

/* ---- cross-entropy on logits --------------------------------------------- */

/* One row: p = softmax(x) and return L = log(sum exp(x - m)); *m = max. */
static ACC CG_NAME(ce_softmax_row)(T *restrict p, const T *restrict x, int64_t C, T *m)
{
    T mx = x[0];
    if (!CG_NAME(cg_vmax_row)(x, C, &mx))
        for (int64_t c = 1; c < C; c++) mx = x[c] > mx ? x[c] : mx;
    ACC s = 0;
    if (!CG_NAME(cg_vexp_row)(p, x, mx, C, &s))
        for (int64_t c = 0; c < C; c++) {
            const T e = CG_M(exp)(x[c] - mx);
            p[c] = e;
            s += (ACC)e;
        }
    const T inv = (T)(1 / s);
    for (int64_t c = 0; c < C; c++) p[c] *= inv;
    *m = mx;
    return log(s);
}

/* cross_entropy: loss_i = logsumexp(x_i) - x_i[t_i] = log(sum_c exp(x_ic - m)) - (x_i[t_i] - m)
 *                p_i = softmax(x_i)  (saved for backward)
 *                dx_i += (p_i - onehot(t_i)) * dloss_i     (ignored rows: loss 0, no gradient) */
int CG_NAME(cg_cross_entropy_forward)(T *loss, T *p, const T *logits, const int64_t *target,
                                      int64_t N, int64_t C, int64_t ignore_index)
{
    if (N < 0 || C < 0) return CG_EINVAL;
    if (check_targets(target, N, C, ignore_index) != CG_OK) return CG_EINDEX;
    if (C == 0) { /* every row is ignored */
        for (int64_t i = 0; i < N; i++) loss[i] = 0;
        return CG_OK;
    }
    CG_PARALLEL_FOR(N * C, i, N,
        const T *x = logits + i * C;
        T m;
        const ACC lse = CG_NAME(ce_softmax_row)(p + i * C, x, C, &m);
        const int64_t t = target[i];
        loss[i] = t == ignore_index ? (T)0 : (T)(lse - (ACC)(x[t] - m));
    );
    return CG_OK;
}
int CG_NAME(cg_cross_entropy_backward)(T *dlogits, const T *dloss, const T *p, const int64_t *target,
                                       int64_t N, int64_t C, int64_t ignore_index)
{
    if (N < 0 || C < 0) return CG_EINVAL;
    if (check_targets(target, N, C, ignore_index) != CG_OK) return CG_EINDEX;
    CG_PARALLEL_FOR(N * C, i, N,
        const int64_t t = target[i];
        if (t != ignore_index) {
            const T g = dloss[i];
            T *restrict d = dlogits + i * C;
            const T *restrict pi = p + i * C;
            const T dt = d[t];
            for (int64_t c = 0; c < C; c++) d[c] += pi[c] * g; /* (p - 0) g: vectorizes */
            d[t] = dt + (pi[t] - 1) * g;                       /* the target column */
        }
    );
    return CG_OK;
}

/* cross_entropy_prob: L_i = log(sum_c exp(x_ic - m));  log_softmax_ic = (x_ic - m) - L_i
 *                     loss_i = -sum_c t_ic log_softmax_ic
 *                     dx_i += (p_i sum_c t_ic - t_i) * dloss_i */
int CG_NAME(cg_cross_entropy_prob_forward)(T *loss, T *p, const T *logits, const T *target,
                                           int64_t N, int64_t C)
{
    if (N < 0 || C < 0) return CG_EINVAL;
    if (C == 0) { /* empty sum */
        for (int64_t i = 0; i < N; i++) loss[i] = 0;
        return CG_OK;
    }
    CG_PARALLEL_FOR(N * C, i, N,
        const T *x = logits + i * C, *ti = target + i * C;
        T m;
        const ACC lse = CG_NAME(ce_softmax_row)(p + i * C, x, C, &m);
        ACC s = 0;
        for (int64_t c = 0; c < C; c++) s += (ACC)ti[c] * ((ACC)(x[c] - m) - lse);
        loss[i] = (T)(-s);
    );
    return CG_OK;
}
int CG_NAME(cg_cross_entropy_prob_backward)(T *dlogits, const T *dloss, const T *p, const T *target,
                                            int64_t N, int64_t C)
{
    if (N < 0 || C < 0) return CG_EINVAL;
    CG_PARALLEL_FOR(N * C, i, N,
        const T *restrict ti = target + i * C, *restrict pi = p + i * C;
        T *restrict d = dlogits + i * C;
        ACC st = 0;
        for (int64_t c = 0; c < C; c++) st += (ACC)ti[c];
        const T tsum = (T)st, g = dloss[i];
        for (int64_t c = 0; c < C; c++) d[c] += (pi[c] * tsum - ti[c]) * g;
    );
    return CG_OK;
}

/* ---- NLL on log-probabilities ----------------------------------------------- */

/* nll: loss_i = -x[i, t_i] (0 if ignored);  dx[i, t_i] -= dloss_i */
int CG_NAME(cg_nll_forward)(T *loss, const T *x, const int64_t *target,
                            int64_t N, int64_t C, int64_t ignore_index)
{
    if (N < 0 || C < 0) return CG_EINVAL;
    if (check_targets(target, N, C, ignore_index) != CG_OK) return CG_EINDEX;
    CG_PARALLEL_FOR(N, i, N,
        const int64_t t = target[i];
        loss[i] = t == ignore_index ? (T)0 : -x[i * C + t];
    );
    return CG_OK;
}
int CG_NAME(cg_nll_backward)(T *dx, const T *dloss, const int64_t *target,
                             int64_t N, int64_t C, int64_t ignore_index)
{
    if (N < 0 || C < 0) return CG_EINVAL;
    if (check_targets(target, N, C, ignore_index) != CG_OK) return CG_EINDEX;
    CG_PARALLEL_FOR(N, i, N,
        const int64_t t = target[i];
        if (t != ignore_index) dx[i * C + t] -= dloss[i];
    );
    return CG_OK;
}

/* ---- elementwise losses with a fused reduction -------------------------------- */

/* max(log v, -100) keeping NaN (torch clamps each log of bce at -100). */
static inline T CG_NAME(log_clamped)(T v)
{
    const T l = CG_M(log)(v);
    return l < (T)-100 ? (T)-100 : l;
}

/* One forward/backward pair. LOSS is an expression in X = x[i], Y = t[i];
 * GX, GT the gradient terms for x and t in X, Y and DL (the upstream
 * gradient of this element). */
#define X (xp[i])
#define Y (tp[i])
#define CG_LOSS_PAIR(op, LOSS, GX, GT)                                                      \
    int CG_NAME(cg_##op##_forward)(T *out, const T *restrict xp, const T *restrict tp,       \
                                   int64_t n, int reduction)                                \
    {                                                                                       \
        if (n < 0 || reduction < CG_REDUCTION_NONE || reduction > CG_REDUCTION_SUM)         \
            return CG_EINVAL;                                                               \
        if (reduction == CG_REDUCTION_NONE) {                                               \
            CG_PARALLEL_FOR(n, i, n, out[i] = (LOSS););                                     \
            return CG_OK;                                                                   \
        }                                                                                   \
        const int64_t nparts = loss_nparts(n), len = cg_ceil_div(n, nparts);                \
        ACC part[CG_LOSS_MAX_PARTS];                                                        \
        CG_PARALLEL_FOR(nparts > 1 ? n : 0, k, nparts,                                      \
            const int64_t lo = k * len, hi = cg_min64(n, lo + len);                         \
            ACC s = 0;                                                                      \
            for (int64_t i = lo; i < hi; i++) s += (ACC)(LOSS);                             \
            part[k] = s;                                                                    \
        );                                                                                  \
        ACC r = 0;                                                                          \
        for (int64_t k = 0; k < nparts; k++) r += part[k];                                  \
        out[0] = reduction == CG_REDUCTION_MEAN ? (T)(r / (ACC)n) : (T)r;                   \
        return CG_OK;                                                                       \
    }                                                                                       \
    int CG_NAME(cg_##op##_backward)(T *restrict dx, T *restrict dt, const T *restrict dout, \
                                    const T *restrict xp, const T *restrict tp,             \
                                    int64_t n, int reduction)                               \
    {                                                                                       \
        if (n < 0 || reduction < CG_REDUCTION_NONE || reduction > CG_REDUCTION_SUM)         \
            return CG_EINVAL;                                                               \
        if (n == 0 || (!dx && !dt)) return CG_OK;                                           \
        const int each = reduction == CG_REDUCTION_NONE;                                    \
        const T dl0 = reduction == CG_REDUCTION_MEAN ? dout[0] / (T)n : dout[0];            \
        if (dx && dt) {                                                                     \
            CG_PARALLEL_FOR(n, i, n,                                                        \
                const T DL = each ? dout[i] : dl0;                                          \
                dx[i] += (GX);                                                              \
                dt[i] += (GT););                                                            \
        } else if (dx) {                                                                    \
            CG_PARALLEL_FOR(n, i, n, const T DL = each ? dout[i] : dl0; dx[i] += (GX););    \
        } else {                                                                            \
            CG_PARALLEL_FOR(n, i, n, const T DL = each ? dout[i] : dl0; dt[i] += (GT););    \
        }                                                                                   \
        return CG_OK;                                                                       \
    }

/* mse: l = (x - t)^2;   dx += 2 (x - t) dl,   dt -= 2 (x - t) dl */
CG_LOSS_PAIR(mse, (X - Y) * (X - Y), (T)2 * (X - Y) * DL, -((T)2 * (X - Y) * DL))

/* l1: l = |x - t|;   dx += sign(x - t) dl (0 at 0 and NaN, torch's sign),  dt -= the same */
CG_LOSS_PAIR(l1, CG_M(fabs)(X - Y),
             (T)((X - Y > 0) - (X - Y < 0)) * DL, -((T)((X - Y > 0) - (X - Y < 0)) * DL))

/* bce (x probabilities): lx = max(log x, -100), l1x = max(log(1 - x), -100)
 *   l = -(t lx + (1 - t) l1x)
 *   dx += dl (x - t) / max(x (1 - x), 1e-12);   dt += dl (l1x - lx)
 * log(1 - x) is computed as log1p(-x), as torch. */
static inline T CG_NAME(bce_l)(T x, T t)
{
    const T lx = CG_NAME(log_clamped)(x);
    const T l1 = CG_M(log1p)(-x), l1x = l1 < (T)-100 ? (T)-100 : l1;
    return -(t * lx + ((T)1 - t) * l1x);
}
static inline T CG_NAME(bce_gx)(T x, T t, T dl)
{
    const T v = x * ((T)1 - x), d = v < (T)1e-12 ? (T)1e-12 : v;
    return dl * (x - t) / d;
}
static inline T CG_NAME(bce_gt)(T x, T dl)
{
    const T lx = CG_NAME(log_clamped)(x);
    const T l1 = CG_M(log1p)(-x), l1x = l1 < (T)-100 ? (T)-100 : l1;
    return dl * (l1x - lx);
}
CG_LOSS_PAIR(bce, CG_NAME(bce_l)(X, Y), CG_NAME(bce_gx)(X, Y, DL), CG_NAME(bce_gt)(X, DL))

/* bce_logits: l = max(x, 0) - x t + log1p(exp(-|x|))   (stable for any x)
 *   dx += dl (sigmoid(x) - t);   dt += dl (-x) */
CG_LOSS_PAIR(bce_logits, (X > 0 ? X : (T)0) - X * Y + CG_M(log1p)(CG_M(exp)(-CG_M(fabs)(X))),
             DL * (CG_NAME(sigmoid1)(X) - Y), DL * (-X))

#undef CG_LOSS_PAIR
#undef X
#undef Y
