/* vmath_x86.h: per-lane exp cores shared by vexp_x86.c and vmath_x86.c
 * (internal; include only inside the CG_VEXP_X86 / CG_VMATH_X86 blocks, after
 * <immintrin.h>). Each function carries its own target attribute.
 *
 * float exp(x + d), d a tiny correction (|d| < 1e-5) or absent:
 *   1. Clamp x to [-104, 89] (max/min ordered so that NaN passes). expf is +0
 *      below -103.98 and +inf above 88.73, so the clamp changes nothing.
 *   2. x = n ln2 + r: n = rint(x log2 e), r = (x - n LN2_HI) - n LN2_LO
 *      (Cody-Waite, two FMAs; LN2_HI has 12 trailing zero bits, so n LN2_HI is
 *      exact for |n| <= 150), then r += d. |r| <= ln2/2 + a hair.
 *   3. exp(r) = sum_{k<=7} r^k / k! (Horner, FMAs): truncation r^8/8! <= 5.2e-9
 *      relative (0.04 ulp).
 *   4. Times 2^n in two exact halves n1 = n >> 1, n2 = n - n1 (both normal
 *      scale factors): the first product is exact, the second rounds once, so
 *      subnormal results are rounded once, underflow gives +0, overflow +inf.
 *   Measured against glibc expf over every float in [-104.5, 89.5]: <= 1 ulp.
 *
 * double exp(x), same scheme: clamp to [-746, 710] (exp is +0 below -745.14,
 * +inf above 709.79); LN2_HI with 11 trailing zero bits (n LN2_HI exact for
 * |n| <= 2048); Taylor to r^13/13! (truncation r^14/14! < 5e-18 relative);
 * 2^n in two halves. Measured: <= 1 ulp against a correctly rounded exp
 * (tests/test_vmath.py).
 */
/* SPDX-License-Identifier: MIT */
#ifndef CGRAD_VMATH_X86_H
#define CGRAD_VMATH_X86_H

#define VM512 __attribute__((target("avx512f")))
#define VM256 __attribute__((target("avx2,fma")))

#define VM_XLO -104.0f
#define VM_XHI 89.0f
#define VM_LOG2E 1.44269504088896341f
#define VM_LN2_HI 0.693145751953125f        /* 0x3f317200 */
#define VM_LN2_LO 1.42860682030941723212e-6f /* ln2 - LN2_HI */

#define VMD_XLO -746.0
#define VMD_XHI 710.0
#define VMD_LOG2E 1.44269504088896338700e+00
#define VMD_LN2_HI 6.93147180369123816490e-01 /* 0x3fe62e42fee00000 */
#define VMD_LN2_LO 1.90821492927058770002e-10 /* ln2 - LN2_HI */

/* ---- AVX-512F ------------------------------------------------------------ */

/* exp(x + d); use_d is a compile-time constant (0: d ignored, bit for bit the
 * plain exp). */
static inline VM512 __m512 vm_exp512_(__m512 x, __m512 d, const int use_d)
{
    /* max/min return the second operand when either is NaN: x goes second. */
    x = _mm512_max_ps(_mm512_set1_ps(VM_XLO), x);
    x = _mm512_min_ps(_mm512_set1_ps(VM_XHI), x);
    const __m512 t = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(VM_LOG2E)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(t, _mm512_set1_ps(VM_LN2_HI), x);
    r = _mm512_fnmadd_ps(t, _mm512_set1_ps(VM_LN2_LO), r);
    if (use_d) r = _mm512_add_ps(r, d);
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 5040), r, _mm512_set1_ps(1.0f / 720));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 120));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 24));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 6));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 2));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f));
    const __m512i n = _mm512_cvtps_epi32(t); /* exact: t is an integer */
    const __m512i n1 = _mm512_srai_epi32(n, 1), n2 = _mm512_sub_epi32(n, n1);
    const __m512i bias = _mm512_set1_epi32(127);
    const __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
    const __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(q, s1), s2);
}
static inline VM512 __m512 vm_exp512(__m512 x) { return vm_exp512_(x, x, 0); }
static inline VM512 __m512 vm_expd512(__m512 x, __m512 d) { return vm_exp512_(x, d, 1); }

static inline VM512 __m512d vm_exp512d(__m512d x)
{
    x = _mm512_max_pd(_mm512_set1_pd(VMD_XLO), x);
    x = _mm512_min_pd(_mm512_set1_pd(VMD_XHI), x);
    const __m512d t = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(VMD_LOG2E)),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(t, _mm512_set1_pd(VMD_LN2_HI), x);
    r = _mm512_fnmadd_pd(t, _mm512_set1_pd(VMD_LN2_LO), r);
    __m512d q = _mm512_fmadd_pd(_mm512_set1_pd(1.0 / 6227020800.0), r, _mm512_set1_pd(1.0 / 479001600.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 39916800.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 3628800.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 362880.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 40320.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 5040.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 720.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 120.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 24.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 6.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0.5));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0));
    q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0));
    /* n in [-1077, 1025]: n1 = floor(n / 2), n2 = n - n1 in [-539, 513] */
    const __m512i n = _mm512_cvtepi32_epi64(_mm512_cvtpd_epi32(t));
    const __m512i n1 = _mm512_srai_epi64(n, 1), n2 = _mm512_sub_epi64(n, n1);
    const __m512i bias = _mm512_set1_epi64(1023);
    const __m512d s1 = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(n1, bias), 52));
    const __m512d s2 = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(n2, bias), 52));
    return _mm512_mul_pd(_mm512_mul_pd(q, s1), s2);
}

/* ---- AVX2 + FMA ---------------------------------------------------------- */

static inline VM256 __m256 vm_exp256_(__m256 x, __m256 d, const int use_d)
{
    x = _mm256_max_ps(_mm256_set1_ps(VM_XLO), x);
    x = _mm256_min_ps(_mm256_set1_ps(VM_XHI), x);
    const __m256 t = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(VM_LOG2E)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(t, _mm256_set1_ps(VM_LN2_HI), x);
    r = _mm256_fnmadd_ps(t, _mm256_set1_ps(VM_LN2_LO), r);
    if (use_d) r = _mm256_add_ps(r, d);
    __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 5040), r, _mm256_set1_ps(1.0f / 720));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 120));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 24));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 6));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 2));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f));
    const __m256i n = _mm256_cvtps_epi32(t);
    const __m256i n1 = _mm256_srai_epi32(n, 1), n2 = _mm256_sub_epi32(n, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(q, s1), s2);
}
static inline VM256 __m256 vm_exp256(__m256 x) { return vm_exp256_(x, x, 0); }
static inline VM256 __m256 vm_expd256(__m256 x, __m256 d) { return vm_exp256_(x, d, 1); }

static inline VM256 __m256d vm_exp256d(__m256d x)
{
    x = _mm256_max_pd(_mm256_set1_pd(VMD_XLO), x);
    x = _mm256_min_pd(_mm256_set1_pd(VMD_XHI), x);
    const __m256d t = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(VMD_LOG2E)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(t, _mm256_set1_pd(VMD_LN2_HI), x);
    r = _mm256_fnmadd_pd(t, _mm256_set1_pd(VMD_LN2_LO), r);
    __m256d q = _mm256_fmadd_pd(_mm256_set1_pd(1.0 / 6227020800.0), r, _mm256_set1_pd(1.0 / 479001600.0));
    q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 39916800.0));
    q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 3628800.0));
    q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 362880.0));
    q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 40320.0));
    q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 5040.0));
    q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 720.0));
    q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 120.0));
    q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 24.0));
    q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 6.0));
    q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(0.5));
    q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0));
    q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0));
    /* AVX2 has no 64-bit arithmetic shift: halve n in int32, then widen. */
    const __m128i n = _mm256_cvtpd_epi32(t);
    const __m128i n1 = _mm_srai_epi32(n, 1), n2 = _mm_sub_epi32(n, n1);
    const __m256i bias = _mm256_set1_epi64x(1023);
    const __m256d s1 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(n1), bias), 52));
    const __m256d s2 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(n2), bias), 52));
    return _mm256_mul_pd(_mm256_mul_pd(q, s1), s2);
}

#endif /* CGRAD_VMATH_X86_H */
