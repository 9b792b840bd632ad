/* vmath_lanes.h: the float32 loops of vmath.h, written once over a small
 * vector vocabulary and included twice by vmath_x86.c (AVX-512F, AVX2+FMA),
 * which defines before each include:
 *   VF VMASK VW VATTR VN(name)     vector, lane-condition mask, width, target
 *   V_SET V_ADD V_SUB V_MUL V_DIV V_FMA(a,b,c)=a*b+c V_FMS(a,b,c)=a*b-c
 *   V_ABS V_MIN(a,b) (b if either is NaN) V_EXP(x) V_EXPD(x,d) = exp(x + d)
 *   V_GE V_GT V_LT (ordered compares) V_AND(m1,m2) V_SEL(m,a,b) = m ? a : b
 *   V_LOADU V_STOREU, and for tails V_TAILMASK(r) V_MLOAD(k,p) V_MSTORE(p,k,v)
 *   (masked-off lanes load 0 and are not stored).
 * The math is in vmath_x86.c.
 */
/* SPDX-License-Identifier: MIT */

/* for i in [0, n) step VW: full vectors, then one masked tail. In the body,
 * LD(p) loads p[i..] and ST(p, v) stores v to p[i..]. */
#define VLOOP_BEGIN(n)                                                          \
    {                                                                           \
        const int64_t n_ = (n);                                                 \
        for (int64_t i_ = 0; i_ < n_; i_ += VW) {                               \
            const int full_ = n_ - i_ >= VW;                                    \
            const VTAIL k_ = full_ ? V_TAILMASK(VW) : V_TAILMASK(n_ - i_);
#define LD(p) (full_ ? V_LOADU((p) + i_) : V_MLOAD(k_, (p) + i_))
#define ST(p, v)                                                                \
    do {                                                                        \
        if (full_) V_STOREU((p) + i_, (v));                                     \
        else V_MSTORE((p) + i_, k_, (v));                                       \
    } while (0)
#define VLOOP_END \
        }         \
    }

/* gelu parts: e = exp(-t^2 / 2) and m = M(t) / sqrt(2 pi) = w H(w),
 * t = min(|x|, 15), so that Q = 0.5 erfc(t / sqrt 2) = e m, phi = e / sqrt(2 pi). */
static inline VATTR void VN(gelu_parts)(VF x, VF *e, VF *m)
{
    const VF t = V_MIN(V_SET(15.0f), V_ABS(x));
    const VF h = V_MUL(t, t), l = V_FMS(t, t, h);      /* t^2 = h + l exactly */
    *e = V_EXPD(V_MUL(h, V_SET(-0.5f)), V_MUL(l, V_SET(-0.5f)));
    const VF w = V_DIV(V_SET(1.0f), V_FMA(V_SET(0.5f), t, V_SET(1.0f)));
    VF p = V_FMA(V_SET(VM_MH10), w, V_SET(VM_MH9));
    p = V_FMA(p, w, V_SET(VM_MH8));
    p = V_FMA(p, w, V_SET(VM_MH7));
    p = V_FMA(p, w, V_SET(VM_MH6));
    p = V_FMA(p, w, V_SET(VM_MH5));
    p = V_FMA(p, w, V_SET(VM_MH4));
    p = V_FMA(p, w, V_SET(VM_MH3));
    p = V_FMA(p, w, V_SET(VM_MH2));
    p = V_FMA(p, w, V_SET(VM_MH1));
    *m = V_MUL(w, V_FMA(p, w, V_SET(VM_MH0)));
}

/* x >= 0: y = x (1 - e m);  else (NaN too) y = (x e) m, rounded once from
 * normal numbers even where Q is subnormal. */
static inline VATTR VF VN(gelu_lane)(VF x)
{
    VF e, m;
    VN(gelu_parts)(x, &e, &m);
    const VF pos = V_MUL(x, V_SUB(V_SET(1.0f), V_MUL(e, m)));
    return V_SEL(V_GE(x, V_SET(0.0f)), pos, V_MUL(V_MUL(x, e), m));
}

/* x >= 0: y' = (1 - e m) + x phi;  else y' = Q + x phi = e (m + x / sqrt(2 pi)). */
static inline VATTR VF VN(gelu_grad_lane)(VF x)
{
    VF e, m;
    VN(gelu_parts)(x, &e, &m);
    const VF c = V_SET(VM_INV_SQRT2PI);
    const VF pos = V_FMA(x, V_MUL(e, c), V_SUB(V_SET(1.0f), V_MUL(e, m)));
    return V_SEL(V_GE(x, V_SET(0.0f)), pos, V_MUL(e, V_FMA(x, c, m)));
}

/* sigmoid(x) = (x >= 0 ? 1 : e) / (1 + e), e = exp(-|x|): the scalar
 * sigmoid1's two branches in one expression. */
static inline VATTR VF VN(sigmoid_lane)(VF x)
{
    const VF e = V_EXP(V_SUB(V_SET(0.0f), V_ABS(x)));
    return V_DIV(V_SEL(V_GE(x, V_SET(0.0f)), V_SET(1.0f), e), V_ADD(V_SET(1.0f), e));
}

/* tanh: small |x|: x (1 + x^2 P(x^2)); else sign(x) (1 - 2 / (1 + exp(2|x|)))
 * (vmath_x86.c). NaN fails both compares and comes out of the second form. */
static inline VATTR VF VN(tanh_lane)(VF x)
{
    const VF z = V_MUL(x, x);
    VF p = V_FMA(V_SET(VM_TH5), z, V_SET(VM_TH4));
    p = V_FMA(p, z, V_SET(VM_TH3));
    p = V_FMA(p, z, V_SET(VM_TH2));
    p = V_FMA(p, z, V_SET(VM_TH1));
    p = V_FMA(p, z, V_SET(VM_TH0));
    const VF small = V_MUL(x, V_FMA(z, p, V_SET(1.0f)));   /* x (1 + ...): -0 stays -0 */
    const VF a = V_ABS(x);
    const VF e = V_EXP(V_ADD(a, a));
    const VF big = V_SUB(V_SET(1.0f), V_DIV(V_SET(2.0f), V_ADD(V_SET(1.0f), e)));
    const VF sbig = V_SEL(V_LT(x, V_SET(0.0f)), V_SUB(V_SET(0.0f), big), big);
    return V_SEL(V_LT(a, V_SET(VM_TANH_SMALL)), small, sbig);
}

/* gelu tanh: u = sqrt(2/pi) (x + 0.044715 x^3) in the scalar order; with
 * e = exp(-2|u|), r = 1 / (1 + e): s = sigmoid(2u), sc = sigmoid(-2u). */
static inline VATTR void VN(gelu_tanh_parts)(VF x, VF *s, VF *sc)
{
    const VF c3 = V_MUL(V_MUL(V_MUL(V_SET((float)CG_GELU_C), x), x), x);
    const VF u = V_MUL(V_SET((float)CG_SQRT2_PI), V_ADD(x, c3));
    const VF e = V_EXP(V_MUL(V_SET(-2.0f), V_ABS(u)));
    const VF r = V_DIV(V_SET(1.0f), V_ADD(V_SET(1.0f), e));
    const VF er = V_MUL(e, r);
    const VMASK pos = V_GE(u, V_SET(0.0f));
    *s = V_SEL(pos, r, er);
    *sc = V_SEL(pos, er, r);
}

static inline VATTR VF VN(gelu_tanh_lane)(VF x)
{
    VF s, sc;
    VN(gelu_tanh_parts)(x, &s, &sc);
    return V_MUL(x, s);
}

/* As gelu_tanh_grad: s + 2 x s sc sqrt(2/pi) (1 + 3 * 0.044715 x^2), in the
 * scalar order; finite |x| > 30 gives exactly 1 or 0. */
static inline VATTR VF VN(gelu_tanh_grad_lane)(VF x)
{
    VF s, sc;
    VN(gelu_tanh_parts)(x, &s, &sc);
    const VF a = V_MUL(V_MUL(V_MUL(V_MUL(V_SET(2.0f), x), s), sc), V_SET((float)CG_SQRT2_PI));
    const VF b = V_ADD(V_SET(1.0f), V_MUL(V_MUL(V_SET((float)(3 * CG_GELU_C)), x), x));
    const VF g = V_ADD(s, V_MUL(a, b));
    const VF ax = V_ABS(x);
    const VMASK big = V_AND(V_GT(ax, V_SET(30.0f)), V_LT(ax, V_SET(INFINITY)));
    return V_SEL(big, V_SEL(V_GT(x, V_SET(0.0f)), V_SET(1.0f), V_SET(0.0f)), g);
}

/* d (+)= g f(x) for one lane function f. */
#define VN_GRAD_LOOP(d, g, x, n, acc, f)                                        \
    VLOOP_BEGIN(n)                                                              \
        const VF v_ = V_MUL(LD(g), f(LD(x)));                                   \
        ST(d, (acc) ? V_ADD(LD(d), v_) : v_);                                   \
    VLOOP_END

static VATTR void VN(gelu)(float *y, const float *x, int64_t n)
{
    VLOOP_BEGIN(n) ST(y, VN(gelu_lane)(LD(x))); VLOOP_END
}
static VATTR void VN(gelu_grad)(float *d, const float *g, const float *x, int64_t n, int acc)
{
    VN_GRAD_LOOP(d, g, x, n, acc, VN(gelu_grad_lane))
}
static VATTR void VN(gelu_tanh)(float *y, const float *x, int64_t n)
{
    VLOOP_BEGIN(n) ST(y, VN(gelu_tanh_lane)(LD(x))); VLOOP_END
}
static VATTR void VN(gelu_tanh_grad)(float *d, const float *g, const float *x, int64_t n, int acc)
{
    VN_GRAD_LOOP(d, g, x, n, acc, VN(gelu_tanh_grad_lane))
}
static VATTR void VN(exp)(float *y, const float *x, int64_t n)
{
    VLOOP_BEGIN(n) ST(y, V_EXP(LD(x))); VLOOP_END
}
static VATTR void VN(tanh)(float *y, const float *x, int64_t n)
{
    VLOOP_BEGIN(n) ST(y, VN(tanh_lane)(LD(x))); VLOOP_END
}
static VATTR void VN(sigmoid)(float *y, const float *x, int64_t n)
{
    VLOOP_BEGIN(n) ST(y, VN(sigmoid_lane)(LD(x))); VLOOP_END
}
static VATTR void VN(softplus_grad)(float *d, const float *g, const float *x, int64_t n,
                                    float beta, float thr)
{
    VLOOP_BEGIN(n)
        const VF z = V_MUL(LD(x), V_SET(beta)), gv = LD(g);
        const VF v = V_SEL(V_GT(z, V_SET(thr)), gv, V_MUL(gv, VN(sigmoid_lane)(z)));
        ST(d, V_ADD(LD(d), v));
    VLOOP_END
}
static VATTR void VN(lsm_bwd_row)(float *d, const float *g, const float *y, float s, int64_t n)
{
    VLOOP_BEGIN(n)
        ST(d, V_ADD(LD(d), V_SUB(LD(g), V_MUL(V_EXP(LD(y)), V_SET(s)))));
    VLOOP_END
}

#undef VN_GRAD_LOOP
#undef VLOOP_BEGIN
#undef VLOOP_END
#undef LD
#undef ST
