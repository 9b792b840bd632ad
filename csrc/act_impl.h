/* act_impl.h: per-element activation math, type-generic (see common.h),
 * written once and included by unary_impl.h, linear_impl.h and loss_impl.h
 * (so once per type in each). One element per call:
 *   <op>_fwd(x) = f(x);   <op>_grad(x) = f'(x), which the caller multiplies by dy.
 * The expressions and their order of evaluation are part of the contract:
 * linear's fused activation gives bit for bit the results of relu_forward /
 * gelu_forward on z, because both kernels call these functions.
 */
/* SPDX-License-Identifier: MIT */

#ifndef CG_GELU_C
#define CG_SQRT1_2 0.70710678118654752440
#define CG_SQRT2_PI 0.79788456080286535588   /* sqrt(2/pi) */
#define CG_INV_SQRT2PI 0.39894228040143267794 /* 1/sqrt(2 pi) */
#define CG_GELU_C 0.044715
#endif

/* Stable logistic: never evaluates exp of a positive number. */
static inline T CG_NAME(sigmoid1)(T x)
{
    if (x >= 0) return (T)1 / ((T)1 + CG_M(exp)(-x));
    const T e = CG_M(exp)(x);
    return e / ((T)1 + e);
}

/* relu: y = max(x, 0), NaN propagates;  dx = dy where y > 0, else 0
 * (relu'(0) = 0). Backward reads the saved output y and selects dy rather
 * than multiplying it, so an inf or NaN dy at y <= 0 gives 0. */
static inline T CG_NAME(relu_fwd)(T x) { return x < 0 ? (T)0 : x; }
static inline T CG_NAME(relu_bwd)(T g, T y) { return y > 0 ? g : (T)0; }

/* gelu, exact:  y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
 *               dy/dx = Phi(x) + x phi(x),  phi(x) = e^(-x^2/2) / sqrt(2 pi)
 * Phi(x) is evaluated as 0.5 erfc(-x / sqrt 2): 1 + erf(x / sqrt 2) cancels
 * for x < -1 (all digits lost below x = -5.9 in float32), erfc does not.
 * The float32 SIMD version (same math, vmath_x86.c) is in vmath.h. */
static inline T CG_NAME(gelu_erf_fwd)(T x)
{
    return (T)0.5 * x * CG_M(erfc)(-x * (T)CG_SQRT1_2);
}
static inline T CG_NAME(gelu_erf_grad)(T x)
{
    const T cdf = (T)0.5 * CG_M(erfc)(-x * (T)CG_SQRT1_2);
    const T pdf = (T)CG_INV_SQRT2PI * CG_M(exp)((T)-0.5 * x * x);
    return cdf + x * pdf;
}

/* gelu, tanh:   u = sqrt(2/pi) (x + 0.044715 x^3);  y = 0.5 x (1 + tanh u)
 *               dy/dx = 0.5 (1 + tanh u)                                      // term 1
 *                       + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)  // term 2
 * The derivative is evaluated through s = sigmoid(2u), using
 * 0.5 (1 + tanh u) = s and 1 - tanh^2 u = 4 s (1 - s): no cancellation in
 * 1 + tanh u or 1 - tanh^2 u when |u| is large, so float32 keeps its digits. */
static inline T CG_NAME(gelu_tanh_fwd)(T x)
{
    const T u = (T)CG_SQRT2_PI * (x + (T)CG_GELU_C * x * x * x);
    return (T)0.5 * x * ((T)1 + CG_M(tanh)(u));
}
static inline T CG_NAME(gelu_tanh_grad)(T x)
{
    /* For finite |x| > 30, tanh u is exactly +-1 in both types, so the
     * derivative is exactly 1 or 0: return it before x^3 can overflow and
     * 0 * inf give NaN. (x = +-inf still gives NaN, as torch.) */
    if (isfinite(x) && x > (T)30) return (T)1;
    if (isfinite(x) && x < (T)-30) return (T)0;
    const T u = (T)CG_SQRT2_PI * (x + (T)CG_GELU_C * x * x * x);
    const T e = CG_M(exp)((T)-2 * CG_M(fabs)(u));       /* in (0, 1] */
    const T r = (T)1 / ((T)1 + e);
    const T s = u >= 0 ? r : e * r;                     /* sigmoid(2u)  */
    const T sc = u >= 0 ? e * r : r;                    /* sigmoid(-2u) */
    const T term1 = s;
    const T term2 = (T)2 * x * s * sc * (T)CG_SQRT2_PI * ((T)1 + (T)(3 * CG_GELU_C) * x * x);
    return term1 + term2;
}
