/* vmath_x86.c: the SIMD loops of vmath.h for AVX-512F and AVX2+FMA, each
 * compiled with a target attribute (never -march) and chosen at run time
 * from cpu.c's cg_get_isa(); generic ISA / non-x86: every function returns 0
 * and the caller keeps its libm loop. All float math, no fast-math; exp is
 * vmath_x86.h's core (<= 1 ulp of glibc expf).
 *
 * gelu (exact), per lane, t = min(|x|, 15):
 *   Q(t) = 0.5 erfc(t / sqrt 2) = phi(t) M(t), phi(t) = e^(-t^2/2) / sqrt(2 pi),
 *   M the Mills ratio (smooth, M(0) = sqrt(pi/2), M ~ 1/t). With
 *   w = 1 / (1 + t/2) in (0.117, 1]:  M(t) / sqrt(2 pi) = w H(w), H a degree-10
 *   polynomial fitted here (weighted least squares iterated to minimax on
 *   the relative error, float32 coefficients rounded one at a time and the
 *   rest refitted; fit error 2.6e-8 relative on [0, 15]). The scale t/2 was
 *   picked over tighter fits (t/4: 1.9e-9) for the float32 evaluation: the
 *   rounding of w costs ~1/k ulp-ish at small t and the Horner sum with
 *   alternating coefficients adds more; evaluated in float32, w H(w) is
 *   within 3.5 ulp of M / sqrt(2 pi) over [0, 15] (t/4: 5.8 ulp).
 *   e^(-t^2/2): t^2 = h + l exactly (FMA), exp(-h/2 + -l/2) with -h/2 the
 *   argument and -l/2 added to the reduced argument (vexp core with d), so
 *   the rounding of t^2 (which would cost up to ~80 ulp at t = 13) is gone.
 *   Phi(x) = x >= 0 ? 1 - Q : Q  (no cancellation on either side: Q <= 0.5).
 *   y = x Phi(x);  y' = Phi(x) + x phi(x); for x < 0 grouped as (x e) m and
 *   e (m + x / sqrt(2 pi)) (Q = e m, m = M / sqrt(2 pi)) so that the one
 *   rounding into the subnormal range (x < -13) comes last.
 *   t is clamped at 15 (e^(-112.5) is +0 in float), so |x| huge or inf gives
 *   Q = phi = 0: y = x or x * 0 (-inf -> NaN, as libm's 0.5 x (1 + erf)),
 *   y' = Phi + x * 0 (1 or 0 for finite x, NaN at +-inf, as libm). NaN -> NaN.
 *   Measured over every 97th float32 in [-16, 16] (22.7M points, all binades
 *   down to the denormals, plus +-0, +-inf, NaN, huge |x|) against float64:
 *   forward <= 5.5 ulp everywhere, including the negative tail where libm's
 *   1 + erf cancels; derivative <= 5.4 ulp of max(Phi, |x phi|) (it has a
 *   root at x = -0.7518, so relative error there is unbounded for any
 *   method). The worst cases sit at |x| < 0.01, from rounding w.
 *   tests/test_vmath.py pins 8 ulp.
 * gelu (tanh form), sigmoid, softplus': the scalar expressions of
 *   act_impl.h / unary_impl.h, sigmoid(2u) and sigmoid(z) through
 *   e = exp(-|.|) (never overflows) and one division.
 * tanh: |x| < 0.625: x (1 + x^2 P(x^2)), P a degree-5 polynomial fitted by
 *   least squares to (tanh s - s) / s^3 on Chebyshev nodes of [0, 0.625^2]
 *   (float32 coefficients); else
 *   sign(x) (1 - 2 / (1 + exp(2|x|))), exp(2|x|) = +inf giving +-1 exactly.
 *   Measured on the gelu sweep against float64: <= 1.3 ulp (glibc's tanhf,
 *   the generic path: 2.2). tests/test_vmath.py pins 3. NaN -> NaN, -0 -> -0.
 * log_softmax backward row: d += g - exp(y) s, as the scalar loop; double
 *   rows use vmath_x86.h's double exp (<= 1 ulp).
 */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include "vmath.h"
#include "cgrad.h"

#ifndef CG_GELU_C
#define CG_SQRT2_PI 0.79788456080286535588   /* sqrt(2/pi), as act_impl.h */
#define CG_GELU_C 0.044715
#endif
#define VM_INV_SQRT2PI 0.398942280f           /* 1 / sqrt(2 pi) */
/* H(w) = sum_k MH_k w^k  (see above) */
#define VM_MH10 -0.040543966f
#define VM_MH9 0.19589537f
#define VM_MH8 -0.33237794f
#define VM_MH7 0.1176995f
#define VM_MH6 0.32941702f
#define VM_MH5 -0.39486158f
#define VM_MH4 0.048889253f
#define VM_MH3 0.024036257f
#define VM_MH2 0.15316342f
#define VM_MH1 0.19920306f
#define VM_MH0 0.1994796f
/* tanh, |x| < VM_TANH_SMALL: x (1 + x^2 sum_k TH_k (x^2)^k) */
#define VM_TANH_SMALL 0.625f
#define VM_TH5 0.0022958412f
#define VM_TH4 -0.008346980f
#define VM_TH3 0.021769961f
#define VM_TH2 -0.053959407f
#define VM_TH1 0.13333304f
#define VM_TH0 -0.33333334f

#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
#define CG_VMATH_X86 1
#include <immintrin.h>
#include "vmath_x86.h"

/* ---- AVX-512F ------------------------------------------------------------ */
#define VF __m512
#define VMASK __mmask16
#define VTAIL __mmask16
#define VW 16
#define VATTR VM512
#define VN(name) vm512_##name
#define V_SET _mm512_set1_ps
#define V_ADD _mm512_add_ps
#define V_SUB _mm512_sub_ps
#define V_MUL _mm512_mul_ps
#define V_DIV _mm512_div_ps
#define V_FMA _mm512_fmadd_ps
#define V_FMS _mm512_fmsub_ps
#define V_ABS(x) _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)))
#define V_MIN _mm512_min_ps
#define V_EXP vm_exp512
#define V_EXPD vm_expd512
#define V_GE(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_GE_OQ)
#define V_GT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_GT_OQ)
#define V_LT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ)
#define V_AND(a, b) ((__mmask16)((a) & (b)))
#define V_SEL(m, a, b) _mm512_mask_blend_ps((m), (b), (a))
#define V_LOADU _mm512_loadu_ps
#define V_STOREU _mm512_storeu_ps
#define V_TAILMASK(r) ((__mmask16)((1u << (r)) - 1))
#define V_MLOAD(k, p) _mm512_maskz_loadu_ps((k), (p))
#define V_MSTORE(p, k, v) _mm512_mask_storeu_ps((p), (k), (v))
#include "vmath_lanes.h"
#undef VF
#undef VMASK
#undef VTAIL
#undef VW
#undef VATTR
#undef VN
#undef V_SET
#undef V_ADD
#undef V_SUB
#undef V_MUL
#undef V_DIV
#undef V_FMA
#undef V_FMS
#undef V_ABS
#undef V_MIN
#undef V_EXP
#undef V_EXPD
#undef V_GE
#undef V_GT
#undef V_LT
#undef V_AND
#undef V_SEL
#undef V_LOADU
#undef V_STOREU
#undef V_TAILMASK
#undef V_MLOAD
#undef V_MSTORE

/* ---- AVX2 + FMA ---------------------------------------------------------- */
#define VF __m256
#define VMASK __m256
#define VTAIL __m256i
#define VW 8
#define VATTR VM256
#define VN(name) vm256_##name
#define V_SET _mm256_set1_ps
#define V_ADD _mm256_add_ps
#define V_SUB _mm256_sub_ps
#define V_MUL _mm256_mul_ps
#define V_DIV _mm256_div_ps
#define V_FMA _mm256_fmadd_ps
#define V_FMS _mm256_fmsub_ps
#define V_ABS(x) _mm256_and_ps((x), _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)))
#define V_MIN _mm256_min_ps
#define V_EXP vm_exp256
#define V_EXPD vm_expd256
#define V_GE(a, b) _mm256_cmp_ps((a), (b), _CMP_GE_OQ)
#define V_GT(a, b) _mm256_cmp_ps((a), (b), _CMP_GT_OQ)
#define V_LT(a, b) _mm256_cmp_ps((a), (b), _CMP_LT_OQ)
#define V_AND _mm256_and_ps
#define V_SEL(m, a, b) _mm256_blendv_ps((b), (a), (m))
#define V_LOADU _mm256_loadu_ps
#define V_STOREU _mm256_storeu_ps
#define V_TAILMASK(r) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(r)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define V_MLOAD(k, p) _mm256_maskload_ps((p), (k))
#define V_MSTORE(p, k, v) _mm256_maskstore_ps((p), (k), (v))
#include "vmath_lanes.h"

/* ---- double: log_softmax backward rows ----------------------------------- */
static VM512 void vm512_lsm_bwd_row_d(double *d, const double *g, const double *y, double s, int64_t n)
{
    const __m512d vs = _mm512_set1_pd(s);
    for (int64_t i = 0; i < n; i += 8) {
        const __mmask8 k = n - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - i)) - 1);
        const __m512d e = vm_exp512d(_mm512_maskz_loadu_pd(k, y + i));
        const __m512d v = _mm512_sub_pd(_mm512_maskz_loadu_pd(k, g + i), _mm512_mul_pd(e, vs));
        _mm512_mask_storeu_pd(d + i, k, _mm512_add_pd(_mm512_maskz_loadu_pd(k, d + i), v));
    }
}
static VM256 void vm256_lsm_bwd_row_d(double *d, const double *g, const double *y, double s, int64_t n)
{
    const __m256d vs = _mm256_set1_pd(s);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m256d e = vm_exp256d(_mm256_loadu_pd(y + i));
        const __m256d v = _mm256_sub_pd(_mm256_loadu_pd(g + i), _mm256_mul_pd(e, vs));
        _mm256_storeu_pd(d + i, _mm256_add_pd(_mm256_loadu_pd(d + i), v));
    }
    if (i < n) {
        const __m256i k = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n - i), _mm256_setr_epi64x(0, 1, 2, 3));
        const __m256d e = vm_exp256d(_mm256_maskload_pd(y + i, k));
        const __m256d v = _mm256_sub_pd(_mm256_maskload_pd(g + i, k), _mm256_mul_pd(e, vs));
        _mm256_maskstore_pd(d + i, k, _mm256_add_pd(_mm256_maskload_pd(d + i, k), v));
    }
}
#endif /* x86 + GNU C */

/* Dispatch: 512 / 256 kernel for the current ISA, else return 0. */
#ifdef CG_VMATH_X86
#define CG_VDISPATCH(call512, call256)                                 \
    do {                                                               \
        switch (cg_get_isa()) {                                        \
        case CG_ISA_AVX512: if (n > 0) call512; return 1;              \
        case CG_ISA_AVX2: if (n > 0) call256; return 1;                \
        default: return 0;                                             \
        }                                                              \
    } while (0)
#else
#define CG_VDISPATCH(call512, call256) return 0
#endif

int cg_vgelu_f32(float *y, const float *x, int64_t n)
{
    CG_VDISPATCH(vm512_gelu(y, x, n), vm256_gelu(y, x, n));
}
int cg_vgelu_grad_f32(float *d, const float *g, const float *x, int64_t n, int acc)
{
    CG_VDISPATCH(vm512_gelu_grad(d, g, x, n, acc), vm256_gelu_grad(d, g, x, n, acc));
}
int cg_vgelu_tanh_f32(float *y, const float *x, int64_t n)
{
    CG_VDISPATCH(vm512_gelu_tanh(y, x, n), vm256_gelu_tanh(y, x, n));
}
int cg_vgelu_tanh_grad_f32(float *d, const float *g, const float *x, int64_t n, int acc)
{
    CG_VDISPATCH(vm512_gelu_tanh_grad(d, g, x, n, acc), vm256_gelu_tanh_grad(d, g, x, n, acc));
}
int cg_vexp_f32(float *y, const float *x, int64_t n)
{
    CG_VDISPATCH(vm512_exp(y, x, n), vm256_exp(y, x, n));
}
int cg_vsigmoid_f32(float *y, const float *x, int64_t n)
{
    CG_VDISPATCH(vm512_sigmoid(y, x, n), vm256_sigmoid(y, x, n));
}
int cg_vtanh_f32(float *y, const float *x, int64_t n)
{
    CG_VDISPATCH(vm512_tanh(y, x, n), vm256_tanh(y, x, n));
}
int cg_vsoftplus_grad_f32(float *d, const float *g, const float *x, int64_t n, float beta, float thr)
{
    CG_VDISPATCH(vm512_softplus_grad(d, g, x, n, beta, thr), vm256_softplus_grad(d, g, x, n, beta, thr));
}
int cg_vlsm_bwd_row_f32(float *d, const float *g, const float *y, float s, int64_t n)
{
    CG_VDISPATCH(vm512_lsm_bwd_row(d, g, y, s, n), vm256_lsm_bwd_row(d, g, y, s, n));
}
int cg_vlsm_bwd_row_f64(double *d, const double *g, const double *y, double s, int64_t n)
{
    CG_VDISPATCH(vm512_lsm_bwd_row_d(d, g, y, s, n), vm256_lsm_bwd_row_d(d, g, y, s, n));
}
