/* vexp_x86.c: vectorized expf rows (see vexp.h) for AVX-512F and AVX2+FMA,
 * each compiled with a target attribute (never -march) and chosen at run time
 * from cpu.c's cg_get_isa(). Generic ISA / non-x86: the caller keeps libm.
 *
 * The math, per lane (all in float, no fast-math):
 *   1. Clamp x to [XLO, XHI] = [-104, 89] with max/min ordered so that NaN
 *      passes through. Below -103.98 expf rounds to +0, above 88.73 it is
 *      +inf, so clamping does not change the result; -inf -> -104 -> 0.
 *   2. Range reduction x = n ln2 + r:  n = rint(x log2(e)),
 *      r = (x - n LN2_HI) - n LN2_LO  (two FMAs, Cody-Waite). LN2_HI has its
 *      low 12 mantissa bits zero, so n LN2_HI is exact for |n| <= 150 and r
 *      is accurate to ~1e-12 absolute; |r| <= ln2/2 (+ a hair when rint sees
 *      a rounded x log2(e)).
 *   3. exp(r) = sum_{k=0..7} r^k / k!  (Taylor, Horner with FMAs). The
 *      truncation error is r^8/8! <= 0.3466^8/40320 = 5.2e-9 relative, about
 *      0.04 ulp; the Horner roundings add < 1 ulp in total. exp(0) == 1 exactly.
 *   4. Scale by 2^n via exponent bits, in two exact halves so that every
 *      factor is a normal float: n1 = n >> 1, n2 = n - n1 (n in [-150, 128],
 *      so n1, n2 in [-75, 64]), 2^k = bits((k + 127) << 23), and
 *      y = (p * 2^n1) * 2^n2. The first product is exact; the second rounds
 *      once, so results in the subnormal range (x < -87.34) are correctly
 *      rounded from p, underflow gives +0 and overflow gives +inf.
 *   NaN: the clamp keeps it, rint(NaN) = NaN, and NaN * (any scale) = NaN.
 * Measured against glibc expf over every float in [-104, 0]: <= 1 ulp.
 *
 * Row sums convert each vector to double and add into fixed lanes (two
 * accumulators of 8 or 4 doubles), combined in a fixed order at the end.
 * Tail elements are masked (loaded as 0, result forced to +0, not stored).
 */
/* SPDX-License-Identifier: MIT */
#include "vexp.h"
#include "cgrad.h"

#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
#define CG_VEXP_X86 1
#include <immintrin.h>

#define VX_XLO -104.0f
#define VX_XHI 89.0f
#define VX_LOG2E 1.44269504088896341f
#define VX_LN2_HI 0.693145751953125f        /* 0x3f317200 */
#define VX_LN2_LO 1.42860682030941723212e-6f /* ln2 - LN2_HI */
#define VX_C2 (1.0f / 2)
#define VX_C3 (1.0f / 6)
#define VX_C4 (1.0f / 24)
#define VX_C5 (1.0f / 120)
#define VX_C6 (1.0f / 720)
#define VX_C7 (1.0f / 5040)

/* ---- AVX-512F ------------------------------------------------------------ */
#define VX512 __attribute__((target("avx512f")))

static inline VX512 __m512 vexp_avx512(__m512 x)
{
    /* max/min return the second operand when either is NaN: x goes second. */
    x = _mm512_max_ps(_mm512_set1_ps(VX_XLO), x);
    x = _mm512_min_ps(_mm512_set1_ps(VX_XHI), x);
    const __m512 t = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(VX_LOG2E)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(t, _mm512_set1_ps(VX_LN2_HI), x);
    r = _mm512_fnmadd_ps(t, _mm512_set1_ps(VX_LN2_LO), r);
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(VX_C7), r, _mm512_set1_ps(VX_C6));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(VX_C5));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(VX_C4));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(VX_C3));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(VX_C2));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f));
    const __m512i n = _mm512_cvtps_epi32(t); /* exact: t is an integer */
    const __m512i n1 = _mm512_srai_epi32(n, 1), n2 = _mm512_sub_epi32(n, n1);
    const __m512i bias = _mm512_set1_epi32(127);
    const __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
    const __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(q, s1), s2);
}

static VX512 double vexp_row_avx512(float *y, const float *x, float m, int64_t n)
{
    const __m512 vm = _mm512_set1_ps(m);
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 e = vexp_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        if (y) _mm512_storeu_ps(y + i, e);
        a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    if (i < n) {
        const __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        const __m512 xv = _mm512_maskz_loadu_ps(k, x + i);
        const __m512 e = _mm512_maskz_mov_ps(k, vexp_avx512(_mm512_sub_ps(xv, vm)));
        if (y) _mm512_mask_storeu_ps(y + i, k, e);
        a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    double l[8];
    _mm512_storeu_pd(l, _mm512_add_pd(a0, a1));
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* ---- AVX2 + FMA ---------------------------------------------------------- */
#define VX256 __attribute__((target("avx2,fma")))

static inline VX256 __m256 vexp_avx2(__m256 x)
{
    x = _mm256_max_ps(_mm256_set1_ps(VX_XLO), x);
    x = _mm256_min_ps(_mm256_set1_ps(VX_XHI), x);
    const __m256 t = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(VX_LOG2E)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(t, _mm256_set1_ps(VX_LN2_HI), x);
    r = _mm256_fnmadd_ps(t, _mm256_set1_ps(VX_LN2_LO), r);
    __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(VX_C7), r, _mm256_set1_ps(VX_C6));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(VX_C5));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(VX_C4));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(VX_C3));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(VX_C2));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f));
    const __m256i n = _mm256_cvtps_epi32(t);
    const __m256i n1 = _mm256_srai_epi32(n, 1), n2 = _mm256_sub_epi32(n, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(q, s1), s2);
}

static VX256 double vexp_row_avx2(float *y, const float *x, float m, int64_t n)
{
    const __m256 vm = _mm256_set1_ps(m);
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = vexp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        if (y) _mm256_storeu_ps(y + i, e);
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    if (i < n) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i)), lane);
        const __m256 xv = _mm256_maskload_ps(x + i, k); /* masked-off lanes: 0 */
        const __m256 e = _mm256_and_ps(vexp_avx2(_mm256_sub_ps(xv, vm)), _mm256_castsi256_ps(k));
        if (y) _mm256_maskstore_ps(y + i, k, e);
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double l[4];
    _mm256_storeu_pd(l, _mm256_add_pd(a0, a1));
    return (l[0] + l[1]) + (l[2] + l[3]);
}
#endif /* x86 + GNU C */

int cg_vexp_row_f32(float *y, const float *x, float m, int64_t n, double *sum)
{
#ifdef CG_VEXP_X86
    switch (cg_get_isa()) {
    case CG_ISA_AVX512: *sum = n > 0 ? vexp_row_avx512(y, x, m, n) : 0.0; return 1;
    case CG_ISA_AVX2: *sum = n > 0 ? vexp_row_avx2(y, x, m, n) : 0.0; return 1;
    default: break;
    }
#endif
    (void)y; (void)x; (void)m; (void)n; (void)sum;
    return 0;
}
