/* unary_impl.h: elementwise unary kernels, type-generic body (see common.h).
 * Included by unary.c once per type. Each pair is forward then backward:
 *   forward(y, x, n, p):          y[i]   = f(x[i])
 *   backward(dx, dy, x, y, n, p): dx[i] += dy[i] * f'(x[i])
 * Derivative conventions are PyTorch's. Backward reads x (X) or the saved
 * output y (Y), never both, so the other pointer may be NULL; which one is
 * listed in CG_UNARY_OPS at the end, next to the op's parameter count.
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

/* min(max(x, lo), hi): lo > hi gives hi, NaN propagates. */
static inline T CG_NAME(clamp1)(T x, T lo, T hi)
{
    const T v = x < lo ? lo : x;
    return v > hi ? hi : v;
}

/* Every op has the one signature of cgrad.h (cg_unary_op):
 *   cg_<op>_forward(y, x, n, p)           y[i]   = f(x[i])
 *   cg_<op>_backward(dx, dy, x, y, n, p)  dx[i] += dy[i] * f'(x[i])
 * p holds the op's parameters as doubles (P(k) reads the k-th as T).
 * CG_UNARY_PAIR defines a pair from expressions: FWD in X = x[i], BWD in
 * G = dy[i] and X or Y = y[i] (what the op reads, CG_UNARY_OPS below). */
#define X (xp[i])
#define Y (yp[i])
#define G (dy[i])
#define P(k) ((T)p[k])
#define CG_UNARY_FORWARD_DECL(op)                                                  \
    void CG_NAME(cg_##op##_forward)(T *restrict y, const T *restrict xp, int64_t n, \
                                    const double *p)
#define CG_UNARY_BACKWARD_DECL(op)                                                 \
    void CG_NAME(cg_##op##_backward)(T *restrict dx, const T *restrict dy,          \
                                     const T *restrict xp, const T *restrict yp,   \
                                     int64_t n, const double *p)
#define CG_UNARY_BACKWARD(op, BWD)                                                 \
    CG_UNARY_BACKWARD_DECL(op)                                                     \
    {                                                                              \
        (void)xp; (void)yp; (void)p;                                               \
        CG_PARALLEL_FOR(n, i, n, dx[i] += (BWD););                                 \
    }
#define CG_UNARY_PAIR(op, FWD, BWD)                                                \
    CG_UNARY_FORWARD_DECL(op)                                                      \
    {                                                                              \
        (void)p;                                                                   \
        CG_PARALLEL_FOR(n, i, n, y[i] = (FWD););                                   \
    }                                                                              \
    CG_UNARY_BACKWARD(op, BWD)

/* The same, with the forward through vmath.h's VFN(y, x, len) when it runs. */
#define CG_UNARY_PAIR_V(op, VFN, FWD, BWD)                                         \
    CG_UNARY_FORWARD_DECL(op)                                                      \
    {                                                                              \
        (void)p;                                                                   \
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

/* silu: y = x sigmoid(x);  dx += dy * s (1 + x (1 - s)),  s = sigmoid(x) */
static inline T CG_NAME(silu_grad)(T x)
{
    const T s = CG_NAME(sigmoid1)(x);
    return s * ((T)1 + x * ((T)1 - s));
}
CG_UNARY_PAIR(silu, X * CG_NAME(sigmoid1)(X), G * CG_NAME(silu_grad)(X))

/* mish: y = x tanh(softplus(x)), softplus(x) = log(1 + e^x) (log1pexp: no overflow)
 *       dx += dy * (t + x s (1 - t^2)),  t = tanh(softplus(x)), s = sigmoid(x) */
static inline T CG_NAME(mish_grad)(T x)
{
    const T t = CG_M(tanh)(CG_NAME(log1pexp)(x));
    return t + x * CG_NAME(sigmoid1)(x) * ((T)1 - t * t);
}
CG_UNARY_PAIR(mish, X * CG_M(tanh)(CG_NAME(log1pexp)(X)), G * CG_NAME(mish_grad)(X))

/* leaky_relu, p = (slope): y = x if x > 0 else slope * x
 *                          dx += dy if x > 0 else slope * dy   (slope at 0, as torch) */
CG_UNARY_PAIR(leaky_relu, X > 0 ? X : X * P(0), X > 0 ? G : G * P(0))

/* clamp, p = (lo, hi): y = min(max(x, lo), hi) (lo > hi gives hi; NaN propagates)
 *                      dx += dy where lo <= x <= hi, else 0 */
CG_UNARY_PAIR(clamp, CG_NAME(clamp1)(X, P(0), P(1)), (X >= P(0) && X <= P(1)) ? G : (T)0)

/* softplus, p = (beta, threshold): z = beta x;
 *   y = x if z > threshold else log(1 + e^z) / beta
 *   dx += dy if z > threshold else dy * sigmoid(z)
 * log(1 + e^z) is computed as log1pexp (no overflow for any threshold). */
CG_UNARY_FORWARD_DECL(softplus)
{
    const T beta = P(0), threshold = P(1);
    CG_PARALLEL_FOR(n, i, n,
        const T z = X * beta;
        y[i] = z > threshold ? X : CG_NAME(log1pexp)(z) / beta;
    );
}
CG_UNARY_BACKWARD_DECL(softplus)
{
    const T beta = P(0), threshold = P(1);
    (void)yp;
    CG_FOR_CHUNKS(n, lo, len, n,
        if (!CG_NAME(cg_vsoftplus_grad)(dx + lo, dy + lo, xp + lo, len, beta, threshold))
            for (int64_t i = lo; i < lo + len; i++) {
                const T z = X * beta;
                dx[i] += z > threshold ? G : G * CG_NAME(sigmoid1)(z);
            });
}

/* gelu, p = (approximate_tanh: 0 or 1)
 * exact:  y = x Phi(x);  dx += dy * (Phi(x) + x phi(x))
 * tanh:   y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 *         dx += dy * (term 1 + term 2), computed through sigmoid(2u)
 * The formulas, the derivation and the constants are in act_impl.h; the
 * float32 SIMD loops (same math, see vmath_x86.c) in vmath.h. */
CG_UNARY_FORWARD_DECL(gelu)
{
    if (p[0] != 0) {
        CG_FOR_CHUNKS(n, lo, len, n,
            if (!CG_NAME(cg_vgelu_tanh)(y + lo, xp + lo, len))
                for (int64_t i = lo; i < lo + len; i++) y[i] = CG_NAME(gelu_tanh_fwd)(X););
    } else {
        CG_FOR_CHUNKS(n, lo, len, n,
            if (!CG_NAME(cg_vgelu)(y + lo, xp + lo, len))
                for (int64_t i = lo; i < lo + len; i++) y[i] = CG_NAME(gelu_erf_fwd)(X););
    }
}
CG_UNARY_BACKWARD_DECL(gelu)
{
    (void)yp;
    if (p[0] != 0) {
        CG_FOR_CHUNKS(n, lo, len, n,
            if (!CG_NAME(cg_vgelu_tanh_grad)(dx + lo, dy + lo, xp + lo, len, 1))
                for (int64_t i = lo; i < lo + len; i++) dx[i] += G * CG_NAME(gelu_tanh_grad)(X););
    } else {
        CG_FOR_CHUNKS(n, lo, len, n,
            if (!CG_NAME(cg_vgelu_grad)(dx + lo, dy + lo, xp + lo, len, 1))
                for (int64_t i = lo; i < lo + len; i++) dx[i] += G * CG_NAME(gelu_erf_grad)(X););
    }
}

#undef CG_UNARY_PAIR
#undef CG_UNARY_PAIR_V
#undef CG_UNARY_BACKWARD
#undef CG_UNARY_FORWARD_DECL
#undef CG_UNARY_BACKWARD_DECL
#undef X
#undef Y
#undef G
#undef P

/* The ops of this file, for the table in unary.c (cgrad.h: cg_unary_ops):
 * name, what backward reads (CG_READS_X, CG_READS_Y or neither), and how
 * many parameters p holds. */
#ifndef CG_UNARY_OPS
#define CG_UNARY_OPS(OP)                  \
    OP(neg,        0,          0)         \
    OP(exp,        CG_READS_Y, 0)         \
    OP(log,        CG_READS_X, 0)         \
    OP(sqrt,       CG_READS_Y, 0)         \
    OP(abs,        CG_READS_X, 0)         \
    OP(sin,        CG_READS_X, 0)         \
    OP(cos,        CG_READS_X, 0)         \
    OP(tanh,       CG_READS_Y, 0)         \
    OP(sigmoid,    CG_READS_Y, 0)         \
    OP(relu,       CG_READS_Y, 0)         \
    OP(silu,       CG_READS_X, 0)         \
    OP(mish,       CG_READS_X, 0)         \
    OP(leaky_relu, CG_READS_X, 1)         \
    OP(clamp,      CG_READS_X, 2)         \
    OP(softplus,   CG_READS_X, 2)         \
    OP(gelu,       CG_READS_X, 1)
#endif
