/* unary_impl.h: elementwise unary kernels, type-generic body (see common.h).
 * Included by unary.c once per type. Each pair is forward then backward:
 *   forward(y, x, n):          y[i]   = f(x[i])
 *   backward(dx, dy, x, y, n): dx[i] += dy[i] * f'(x[i])
 * Derivative conventions are PyTorch's. Backward reads x (X) or the saved
 * output y (Y), never both, so the other pointer may be NULL.
 * Ops with a vmath.h loop run in fixed chunks: the SIMD loop where it exists
 * (float32 on AVX2/AVX-512), else the scalar expression, element by element.
 */
/* SPDX-License-Identifier: MIT */

#include "act_impl.h" /* sigmoid1, relu, gelu: the per-element math */
#include "vmath.h"    /* float32 SIMD loops (gelu, exp, sigmoid, tanh, softplus'); double keeps libm */

/* log(1 + exp(z)) without overflow: z + log1p(exp(-z)) for z > 0. */
static inline T CG_NAME(log1pexp)(T z)
{
    if (z > 0) return z + CG_M(log1p)(CG_M(exp)(-z));
    return CG_M(log1p)(CG_M(exp)(z));
}

/* One forward/backward pair for an op without parameters. FWD is an
 * expression in X = x[i]; BWD an expression in G = dy[i] and X or Y. */
#define X (xp[i])
#define Y (yp[i])
#define G (dy[i])
#define CG_UNARY_BACKWARD(op, BWD)                                                 \
    void CG_NAME(cg_##op##_backward)(T *restrict dx, const T *restrict dy,          \
                                     const T *restrict xp, const T *restrict yp,   \
                                     int64_t n)                                    \
    {                                                                              \
        (void)xp; (void)yp;                                                        \
        CG_PARALLEL_FOR(n, i, n, dx[i] += (BWD););                                 \
    }
#define CG_UNARY_PAIR(op, FWD, BWD)                                                \
    void CG_NAME(cg_##op##_forward)(T *restrict y, const T *restrict xp, int64_t n)  \
    {                                                                              \
        CG_PARALLEL_FOR(n, i, n, y[i] = (FWD););                                   \
    }                                                                              \
    CG_UNARY_BACKWARD(op, BWD)

/* The same, with the forward through vmath.h's VFN(y, x, len) when it runs. */
#define CG_UNARY_PAIR_V(op, VFN, FWD, BWD)                                         \
    void CG_NAME(cg_##op##_forward)(T *restrict y, const T *restrict xp, int64_t n)  \
    {                                                                              \
        CG_FOR_CHUNKS(n, lo, len, n,                                               \
            if (!CG_NAME(VFN)(y + lo, xp + lo, len))                               \
                for (int64_t i = lo; i < lo + len; i++) y[i] = (FWD););            \
    }                                                                              \
    CG_UNARY_BACKWARD(op, BWD)

/* neg: y = -x;  dx += -dy */
CG_UNARY_PAIR(neg, -X, -G)

/* exp: y = e^x;  dx += dy * y */
CG_UNARY_PAIR_V(exp, cg_vexp, CG_M(exp)(X), G * Y)

/* log: y = ln x;  dx += dy / x   (x = 0 gives +-inf, as torch) */
CG_UNARY_PAIR(log, CG_M(log)(X), G / X)

/* sqrt: y = sqrt x;  dx += dy / (2 y)   (x = 0 gives +inf, as torch) */
CG_UNARY_PAIR(sqrt, CG_M(sqrt)(X), G / ((T)2 * Y))

/* abs: y = |x|;  dx += dy * sign(x), sign(0) = sign(NaN) = 0 (torch's sign) */
CG_UNARY_PAIR(abs, CG_M(fabs)(X), G * (T)((X > 0) - (X < 0)))

/* sin: dx += dy * cos x;  cos: dx += -dy * sin x */
CG_UNARY_PAIR(sin, CG_M(sin)(X), G * CG_M(cos)(X))
CG_UNARY_PAIR(cos, CG_M(cos)(X), -G * CG_M(sin)(X))

/* tanh: dx += dy * (1 - y^2) */
CG_UNARY_PAIR_V(tanh, cg_vtanh, CG_M(tanh)(X), G * ((T)1 - Y * Y))

/* sigmoid: y = 1 / (1 + e^-x), stable for large |x|;  dx += dy * y (1 - y) */
CG_UNARY_PAIR_V(sigmoid, cg_vsigmoid, CG_NAME(sigmoid1)(X), G * Y * ((T)1 - Y))

/* relu: y = max(x, 0), NaN propagates;  dx += dy where y > 0 (relu'(0) = 0) */
CG_UNARY_PAIR(relu, CG_NAME(relu_fwd)(X), CG_NAME(relu_bwd)(G, Y))

#undef CG_UNARY_PAIR
#undef CG_UNARY_PAIR_V
#undef CG_UNARY_BACKWARD

/* leaky_relu: y = x if x > 0 else slope * x
 *             dx += dy if x > 0 else slope * dy   (slope at 0, as torch) */
void CG_NAME(cg_leaky_relu_forward)(T *restrict y, const T *restrict xp, int64_t n, T slope)
{
    CG_PARALLEL_FOR(n, i, n, y[i] = X > 0 ? X : X * slope; );
}
void CG_NAME(cg_leaky_relu_backward)(T *restrict dx, const T *restrict dy, const T *restrict xp,
                                     const T *restrict yp, int64_t n, T slope)
{
    (void)yp;
    CG_PARALLEL_FOR(n, i, n, dx[i] += X > 0 ? G : G * slope; );
}

/* softplus: z = beta x;  y = x if z > threshold else log(1 + e^z) / beta
 *           dx += dy if z > threshold else dy * sigmoid(z)
 * log(1 + e^z) is computed as log1pexp (no overflow for any threshold). */
void CG_NAME(cg_softplus_forward)(T *restrict y, const T *restrict xp, int64_t n, T beta, T threshold)
{
    CG_PARALLEL_FOR(n, i, n,
        const T z = X * beta;
        y[i] = z > threshold ? X : CG_NAME(log1pexp)(z) / beta;
    );
}
void CG_NAME(cg_softplus_backward)(T *restrict dx, const T *restrict dy, const T *restrict xp,
                                   const T *restrict yp, int64_t n, T beta, T threshold)
{
    (void)yp;
    CG_FOR_CHUNKS(n, lo, len, n,
        if (!CG_NAME(cg_vsoftplus_grad)(dx + lo, dy + lo, xp + lo, len, beta, threshold))
            for (int64_t i = lo; i < lo + len; i++) {
                const T z = X * beta;
                dx[i] += z > threshold ? G : G * CG_NAME(sigmoid1)(z);
            });
}

/* gelu, exact:  y = x Phi(x);  dx += dy * (Phi(x) + x phi(x))
 * gelu, tanh:   y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 *               dx += dy * (term 1 + term 2), computed through sigmoid(2u)
 * The formulas, the derivation and the constants are in act_impl.h; the
 * float32 SIMD loops (same math, see vmath_x86.c) in vmath.h. */
void CG_NAME(cg_gelu_forward)(T *restrict y, const T *restrict xp, int64_t n, int approximate_tanh)
{
    if (approximate_tanh) {
        CG_FOR_CHUNKS(n, lo, len, n,
            if (!CG_NAME(cg_vgelu_tanh)(y + lo, xp + lo, len))
                for (int64_t i = lo; i < lo + len; i++) y[i] = CG_NAME(gelu_tanh_fwd)(X););
    } else {
        CG_FOR_CHUNKS(n, lo, len, n,
            if (!CG_NAME(cg_vgelu)(y + lo, xp + lo, len))
                for (int64_t i = lo; i < lo + len; i++) y[i] = CG_NAME(gelu_erf_fwd)(X););
    }
}
void CG_NAME(cg_gelu_backward)(T *restrict dx, const T *restrict dy, const T *restrict xp,
                               const T *restrict yp, int64_t n, int approximate_tanh)
{
    (void)yp;
    if (approximate_tanh) {
        CG_FOR_CHUNKS(n, lo, len, n,
            if (!CG_NAME(cg_vgelu_tanh_grad)(dx + lo, dy + lo, xp + lo, len, 1))
                for (int64_t i = lo; i < lo + len; i++) dx[i] += G * CG_NAME(gelu_tanh_grad)(X););
    } else {
        CG_FOR_CHUNKS(n, lo, len, n,
            if (!CG_NAME(cg_vgelu_grad)(dx + lo, dy + lo, xp + lo, len, 1))
                for (int64_t i = lo; i < lo + len; i++) dx[i] += G * CG_NAME(gelu_erf_grad)(X););
    }
}

/* clamp: y = min(max(x, lo), hi) (lo > hi gives hi; NaN propagates)
 *        dx += dy where lo <= x <= hi, else 0 */
void CG_NAME(cg_clamp_forward)(T *restrict y, const T *restrict xp, int64_t n, T lo, T hi)
{
    CG_PARALLEL_FOR(n, i, n,
        const T v = X < lo ? lo : X;
        y[i] = v > hi ? hi : v;
    );
}
void CG_NAME(cg_clamp_backward)(T *restrict dx, const T *restrict dy, const T *restrict xp,
                                const T *restrict yp, int64_t n, T lo, T hi)
{
    (void)yp;
    CG_PARALLEL_FOR(n, i, n, dx[i] += (X >= lo && X <= hi) ? G : (T)0; );
}

#undef X
#undef Y
#undef G
