/* unary_impl.h: elementwise unary kernels, type-generic body (see common.h).
 * Included by unary.c once per type. Each pair is forward then backward:
 *   forward(y, x, n):          y[i]   = f(x[i])
 *   backward(dx, dy, x, y, n): dx[i] += dy[i] * f'(x[i])
 * Derivative conventions are PyTorch's. Backward reads x (X) or the saved
 * output y (Y), never both, so the other pointer may be NULL.
 */
/* SPDX-License-Identifier: MIT */

/* Stable logistic: never evaluates exp of a positive number. */
static inline T CG_NAME(sigmoid1)(T x)
{
    if (x >= 0) return (T)1 / ((T)1 + CG_M(exp)(-x));
    const T e = CG_M(exp)(x);
    return e / ((T)1 + e);
}

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
#define CG_UNARY_PAIR(op, FWD, BWD)                                                \
    void CG_NAME(cg_##op##_forward)(T *restrict y, const T *restrict xp, int64_t n)  \
    {                                                                              \
        CG_PARALLEL_FOR(n, i, n, y[i] = (FWD););                                   \
    }                                                                              \
    void CG_NAME(cg_##op##_backward)(T *restrict dx, const T *restrict dy,          \
                                     const T *restrict xp, const T *restrict yp,   \
                                     int64_t n)                                    \
    {                                                                              \
        (void)xp; (void)yp;                                                        \
        CG_PARALLEL_FOR(n, i, n, dx[i] += (BWD););                                 \
    }

/* neg: y = -x;  dx += -dy */
CG_UNARY_PAIR(neg, -X, -G)

/* exp: y = e^x;  dx += dy * y */
CG_UNARY_PAIR(exp, CG_M(exp)(X), G * Y)

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
CG_UNARY_PAIR(tanh, CG_M(tanh)(X), G * ((T)1 - Y * Y))

/* sigmoid: y = 1 / (1 + e^-x), stable for large |x|;  dx += dy * y (1 - y) */
CG_UNARY_PAIR(sigmoid, CG_NAME(sigmoid1)(X), G * Y * ((T)1 - Y))

/* relu: y = max(x, 0), NaN propagates;  dx += dy where y > 0 (relu'(0) = 0) */
CG_UNARY_PAIR(relu, X < 0 ? (T)0 : X, Y > 0 ? G : (T)0)

#undef CG_UNARY_PAIR

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
    CG_PARALLEL_FOR(n, i, n,
        const T z = X * beta;
        dx[i] += z > threshold ? G : G * CG_NAME(sigmoid1)(z);
    );
}

/* gelu, exact:  y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
 *               dx += dy * (Phi(x) + x phi(x)),  phi(x) = e^(-x^2/2) / sqrt(2 pi)
 * gelu, tanh:   u = sqrt(2/pi) (x + 0.044715 x^3);  y = 0.5 x (1 + tanh u)
 *               dx += dy * (0.5 (1 + tanh u)                                   // term 1
 *                           + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2))  // term 2
 * Backward evaluates the same expression through s = sigmoid(2u), using
 * 0.5 (1 + tanh u) = s and 1 - tanh^2 u = 4 s (1 - s): no cancellation in
 * 1 + tanh u or 1 - tanh^2 u when |u| is large, so float32 keeps its digits. */
#define CG_SQRT1_2 0.70710678118654752440
#define CG_SQRT2_PI 0.79788456080286535588   /* sqrt(2/pi) */
#define CG_INV_SQRT2PI 0.39894228040143267794 /* 1/sqrt(2 pi) */
#define CG_GELU_C 0.044715
void CG_NAME(cg_gelu_forward)(T *restrict y, const T *restrict xp, int64_t n, int approximate_tanh)
{
    if (approximate_tanh) {
        CG_PARALLEL_FOR(n, i, n,
            const T u = (T)CG_SQRT2_PI * (X + (T)CG_GELU_C * X * X * X);
            y[i] = (T)0.5 * X * ((T)1 + CG_M(tanh)(u));
        );
    } else {
        CG_PARALLEL_FOR(n, i, n, y[i] = (T)0.5 * X * ((T)1 + CG_M(erf)(X * (T)CG_SQRT1_2)); );
    }
}
void CG_NAME(cg_gelu_backward)(T *restrict dx, const T *restrict dy, const T *restrict xp,
                               const T *restrict yp, int64_t n, int approximate_tanh)
{
    (void)yp;
    if (approximate_tanh) {
        CG_PARALLEL_FOR(n, i, n,
            const T x = X;
            const T u = (T)CG_SQRT2_PI * (x + (T)CG_GELU_C * x * x * x);
            const T e = CG_M(exp)((T)-2 * CG_M(fabs)(u));       /* in (0, 1] */
            const T r = (T)1 / ((T)1 + e);
            const T s = u >= 0 ? r : e * r;                     /* sigmoid(2u)  */
            const T sc = u >= 0 ? e * r : r;                    /* sigmoid(-2u) */
            const T term1 = s;
            const T term2 = (T)2 * x * s * sc * (T)CG_SQRT2_PI * ((T)1 + (T)(3 * CG_GELU_C) * x * x);
            dx[i] += G * (term1 + term2);
        );
    } else {
        CG_PARALLEL_FOR(n, i, n,
            const T x = X;
            const T cdf = (T)0.5 * ((T)1 + CG_M(erf)(x * (T)CG_SQRT1_2));
            const T pdf = (T)CG_INV_SQRT2PI * CG_M(exp)((T)-0.5 * x * x);
            dx[i] += G * (cdf + x * pdf);
        );
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
