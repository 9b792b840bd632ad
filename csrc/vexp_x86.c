/* vexp_x86.c: vectorized exp and max rows (float and double) (see vexp.h) for AVX-512F and AVX2+FMA,
 * each compiled with a target attribute (never -march) and chosen at run time
 * from cpu.c's cg_get_isa(). Generic ISA / non-x86: the caller keeps libm.
 *
 * The per-lane exp cores (float and double) live in vmath_x86.h, with their
 * math; float: <= 1 ulp against glibc expf over every float in [-104.5, 89.5];
 * double: <= 1 ulp against a correctly rounded exp on dense sweeps.
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

#include "vmath_x86.h" /* the exp cores (math in its header comment) */

/* ---- AVX-512F ------------------------------------------------------------ */
static VM512 double vexp_row_avx512(float *y, const float *x, float m, int64_t n)
{
    const __m512 vm = _mm512_set1_ps(m);
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 e = vm_exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        if (y) _mm512_storeu_ps(y + i, e);
        a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    if (i < n) {
        const __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        const __m512 xv = _mm512_maskz_loadu_ps(k, x + i);
        const __m512 e = _mm512_maskz_mov_ps(k, vm_exp512(_mm512_sub_ps(xv, vm)));
        if (y) _mm512_mask_storeu_ps(y + i, k, e);
        a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    double l[8];
    _mm512_storeu_pd(l, _mm512_add_pd(a0, a1));
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* ---- AVX2 + FMA ---------------------------------------------------------- */
static VM256 double vexp_row_avx2(float *y, const float *x, float m, int64_t n)
{
    const __m256 vm = _mm256_set1_ps(m);
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = vm_exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        if (y) _mm256_storeu_ps(y + i, e);
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    if (i < n) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i)), lane);
        const __m256 xv = _mm256_maskload_ps(x + i, k); /* masked-off lanes: 0 */
        const __m256 e = _mm256_and_ps(vm_exp256(_mm256_sub_ps(xv, vm)), _mm256_castsi256_ps(k));
        if (y) _mm256_maskstore_ps(y + i, k, e);
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double l[4];
    _mm256_storeu_pd(l, _mm256_add_pd(a0, a1));
    return (l[0] + l[1]) + (l[2] + l[3]);
}

/* ---- double rows ---------------------------------------------------------- */
static VM512 double vexpd_row_avx512(double *y, const double *x, double m, int64_t n)
{
    const __m512d vm = _mm512_set1_pd(m);
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512d e0 = vm_exp512d(_mm512_sub_pd(_mm512_loadu_pd(x + i), vm));
        const __m512d e1 = vm_exp512d(_mm512_sub_pd(_mm512_loadu_pd(x + i + 8), vm));
        if (y) { _mm512_storeu_pd(y + i, e0); _mm512_storeu_pd(y + i + 8, e1); }
        a0 = _mm512_add_pd(a0, e0);
        a1 = _mm512_add_pd(a1, e1);
    }
    for (; i < n; i += 8) { /* masked: off lanes load 0, give +0, are not stored */
        const __mmask8 k = n - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - i)) - 1);
        const __m512d e = _mm512_maskz_mov_pd(k, vm_exp512d(_mm512_sub_pd(_mm512_maskz_loadu_pd(k, x + i), vm)));
        if (y) _mm512_mask_storeu_pd(y + i, k, e);
        a0 = _mm512_add_pd(a0, e);
    }
    double l[8];
    _mm512_storeu_pd(l, _mm512_add_pd(a0, a1));
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

static VM256 double vexpd_row_avx2(double *y, const double *x, double m, int64_t n)
{
    const __m256d vm = _mm256_set1_pd(m);
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256d e0 = vm_exp256d(_mm256_sub_pd(_mm256_loadu_pd(x + i), vm));
        const __m256d e1 = vm_exp256d(_mm256_sub_pd(_mm256_loadu_pd(x + i + 4), vm));
        if (y) { _mm256_storeu_pd(y + i, e0); _mm256_storeu_pd(y + i + 4, e1); }
        a0 = _mm256_add_pd(a0, e0);
        a1 = _mm256_add_pd(a1, e1);
    }
    const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
    for (; i < n; i += 4) {
        const __m256i k = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n - i), lane);
        const __m256d xv = _mm256_maskload_pd(x + i, k); /* masked-off lanes: 0 */
        const __m256d e = _mm256_and_pd(vm_exp256d(_mm256_sub_pd(xv, vm)), _mm256_castsi256_pd(k));
        if (y) _mm256_maskstore_pd(y + i, k, e);
        a0 = _mm256_add_pd(a0, e);
    }
    double l[4];
    _mm256_storeu_pd(l, _mm256_add_pd(a0, a1));
    return (l[0] + l[1]) + (l[2] + l[3]);
}

/* ---- row max ---------------------------------------------------------------
 * Lanes start at x[0] and take v > m ? v : m, which is what max_ps(v, m)
 * computes (the second operand when either is NaN); four accumulators, the
 * last columns masked, lanes combined in a fixed order the same way. */
#define VMAX_FOLD(T, l, nl, out)                                              \
    do {                                                                      \
        T r_ = l[0];                                                          \
        for (int q_ = 1; q_ < (nl); q_++) r_ = l[q_] > r_ ? l[q_] : r_;       \
        *(out) = r_;                                                          \
    } while (0)

static VM512 void vmax_row_avx512(const float *x, int64_t n, float *m)
{
    __m512 a0 = _mm512_set1_ps(x[0]), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_max_ps(_mm512_loadu_ps(x + i), a0);
        a1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), a1);
        a2 = _mm512_max_ps(_mm512_loadu_ps(x + i + 32), a2);
        a3 = _mm512_max_ps(_mm512_loadu_ps(x + i + 48), a3);
    }
    for (; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        a0 = _mm512_mask_max_ps(a0, k, _mm512_maskz_loadu_ps(k, x + i), a0);
    }
    a0 = _mm512_max_ps(a1, a0);
    a2 = _mm512_max_ps(a3, a2);
    a0 = _mm512_max_ps(a2, a0);
    float l[16];
    _mm512_storeu_ps(l, a0);
    VMAX_FOLD(float, l, 16, m);
}

static VM256 void vmax_row_avx2(const float *x, int64_t n, float *m)
{
    __m256 a0 = _mm256_set1_ps(x[0]), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_max_ps(_mm256_loadu_ps(x + i), a0);
        a1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_max_ps(_mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_max_ps(_mm256_loadu_ps(x + i + 24), a3);
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (; i < n; i += 8) {
        const __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i < 8 ? n - i : 8)), lane);
        const __m256 v = _mm256_max_ps(_mm256_maskload_ps(x + i, k), a0);
        a0 = _mm256_blendv_ps(a0, v, _mm256_castsi256_ps(k));
    }
    a0 = _mm256_max_ps(a1, a0);
    a2 = _mm256_max_ps(a3, a2);
    a0 = _mm256_max_ps(a2, a0);
    float l[8];
    _mm256_storeu_ps(l, a0);
    VMAX_FOLD(float, l, 8, m);
}

static VM512 void vmaxd_row_avx512(const double *x, int64_t n, double *m)
{
    __m512d a0 = _mm512_set1_pd(x[0]), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_max_pd(_mm512_loadu_pd(x + i), a0);
        a1 = _mm512_max_pd(_mm512_loadu_pd(x + i + 8), a1);
        a2 = _mm512_max_pd(_mm512_loadu_pd(x + i + 16), a2);
        a3 = _mm512_max_pd(_mm512_loadu_pd(x + i + 24), a3);
    }
    for (; i < n; i += 8) {
        const __mmask8 k = n - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - i)) - 1);
        a0 = _mm512_mask_max_pd(a0, k, _mm512_maskz_loadu_pd(k, x + i), a0);
    }
    a0 = _mm512_max_pd(a1, a0);
    a2 = _mm512_max_pd(a3, a2);
    a0 = _mm512_max_pd(a2, a0);
    double l[8];
    _mm512_storeu_pd(l, a0);
    VMAX_FOLD(double, l, 8, m);
}

static VM256 void vmaxd_row_avx2(const double *x, int64_t n, double *m)
{
    __m256d a0 = _mm256_set1_pd(x[0]), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_max_pd(_mm256_loadu_pd(x + i), a0);
        a1 = _mm256_max_pd(_mm256_loadu_pd(x + i + 4), a1);
        a2 = _mm256_max_pd(_mm256_loadu_pd(x + i + 8), a2);
        a3 = _mm256_max_pd(_mm256_loadu_pd(x + i + 12), a3);
    }
    const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
    for (; i < n; i += 4) {
        const __m256i k = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n - i < 4 ? n - i : 4), lane);
        const __m256d v = _mm256_max_pd(_mm256_maskload_pd(x + i, k), a0);
        a0 = _mm256_blendv_pd(a0, v, _mm256_castsi256_pd(k));
    }
    a0 = _mm256_max_pd(a1, a0);
    a2 = _mm256_max_pd(a3, a2);
    a0 = _mm256_max_pd(a2, a0);
    double l[4];
    _mm256_storeu_pd(l, a0);
    VMAX_FOLD(double, l, 4, m);
}
#undef VMAX_FOLD
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

int cg_vexp_row_f64(double *y, const double *x, double m, int64_t n, double *sum)
{
#ifdef CG_VEXP_X86
    switch (cg_get_isa()) {
    case CG_ISA_AVX512: *sum = n > 0 ? vexpd_row_avx512(y, x, m, n) : 0.0; return 1;
    case CG_ISA_AVX2: *sum = n > 0 ? vexpd_row_avx2(y, x, m, n) : 0.0; return 1;
    default: break;
    }
#endif
    (void)y; (void)x; (void)m; (void)n; (void)sum;
    return 0;
}

int cg_vmax_row_f32(const float *x, int64_t n, float *m)
{
#ifdef CG_VEXP_X86
    switch (cg_get_isa()) {
    case CG_ISA_AVX512: vmax_row_avx512(x, n, m); return 1;
    case CG_ISA_AVX2: vmax_row_avx2(x, n, m); return 1;
    default: break;
    }
#endif
    (void)x; (void)n; (void)m;
    return 0;
}

int cg_vmax_row_f64(const double *x, int64_t n, double *m)
{
#ifdef CG_VEXP_X86
    switch (cg_get_isa()) {
    case CG_ISA_AVX512: vmaxd_row_avx512(x, n, m); return 1;
    case CG_ISA_AVX2: vmaxd_row_avx2(x, n, m); return 1;
    default: break;
    }
#endif
    (void)x; (void)n; (void)m;
    return 0;
}
