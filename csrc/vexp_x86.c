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
 * last columns masked, lanes combined in a fixed order the same way.
 * vmax_tail*(m, p, left): m with its first min(left, W) lanes replaced by
 * max(p[lane], m[lane]); lanes past the row are neither read nor changed. */
static inline VM512 __m512 vmax_tail512(__m512 m, const float *p, int64_t left)
{
    const __mmask16 k = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
    return _mm512_mask_max_ps(m, k, _mm512_maskz_loadu_ps(k, p), m);
}
static inline VM512 __m512d vmax_tail512d(__m512d m, const double *p, int64_t left)
{
    const __mmask8 k = left >= 8 ? (__mmask8)0xff : (__mmask8)((1u << left) - 1);
    return _mm512_mask_max_pd(m, k, _mm512_maskz_loadu_pd(k, p), m);
}
static inline VM256 __m256 vmax_tail256(__m256 m, const float *p, int64_t left)
{
    const __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(left < 8 ? left : 8)),
                                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_blendv_ps(m, _mm256_max_ps(_mm256_maskload_ps(p, k), m), _mm256_castsi256_ps(k));
}
static inline VM256 __m256d vmax_tail256d(__m256d m, const double *p, int64_t left)
{
    const __m256i k = _mm256_cmpgt_epi64(_mm256_set1_epi64x(left < 4 ? left : 4),
                                         _mm256_setr_epi64x(0, 1, 2, 3));
    return _mm256_blendv_pd(m, _mm256_max_pd(_mm256_maskload_pd(p, k), m), _mm256_castsi256_pd(k));
}

/* One body for every ISA and type: VT holds W lanes of T. */
#define VMAX_ROW(NAME, TGT, T, VT, W, SET1, LOADU, MAX, STOREU, TAIL)        \
    static TGT void NAME(const T *x, int64_t n, T *m)                         \
    {                                                                         \
        VT a0 = SET1(x[0]), a1 = a0, a2 = a0, a3 = a0;                        \
        int64_t i = 0;                                                        \
        for (; i + 4 * (W) <= n; i += 4 * (W)) {                              \
            a0 = MAX(LOADU(x + i), a0);                                       \
            a1 = MAX(LOADU(x + i + (W)), a1);                                 \
            a2 = MAX(LOADU(x + i + 2 * (W)), a2);                             \
            a3 = MAX(LOADU(x + i + 3 * (W)), a3);                             \
        }                                                                     \
        for (; i < n; i += (W)) a0 = TAIL(a0, x + i, n - i);                  \
        a0 = MAX(MAX(a3, a2), MAX(a1, a0));                                   \
        T l[W];                                                               \
        STOREU(l, a0);                                                        \
        T r = l[0];                                                           \
        for (int q = 1; q < (W); q++) r = l[q] > r ? l[q] : r;                \
        *m = r;                                                               \
    }
VMAX_ROW(vmax_row_avx512, VM512, float, __m512, 16, _mm512_set1_ps, _mm512_loadu_ps,
         _mm512_max_ps, _mm512_storeu_ps, vmax_tail512)
VMAX_ROW(vmaxd_row_avx512, VM512, double, __m512d, 8, _mm512_set1_pd, _mm512_loadu_pd,
         _mm512_max_pd, _mm512_storeu_pd, vmax_tail512d)
VMAX_ROW(vmax_row_avx2, VM256, float, __m256, 8, _mm256_set1_ps, _mm256_loadu_ps,
         _mm256_max_ps, _mm256_storeu_ps, vmax_tail256)
VMAX_ROW(vmaxd_row_avx2, VM256, double, __m256d, 4, _mm256_set1_pd, _mm256_loadu_pd,
         _mm256_max_pd, _mm256_storeu_pd, vmax_tail256d)
#undef VMAX_ROW
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
