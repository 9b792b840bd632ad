/* peak.c: a measured floating-point peak, for the benchmark suite only.
 *
 * Each thread runs independent chains of fused multiply-adds held in
 * registers (no memory traffic) for a given wall time and counts the flops
 * it did (an FMA is 2 flops per lane). The result is the sum of the
 * threads' rates, in GFLOP/s. The SIMD path is the one cpu.c picked for
 * GEMM (so CGRAD_ISA caps it too): AVX-512F, AVX2+FMA, or plain C.
 *
 * Why enough accumulators: an FMA has a latency of about 4 cycles and up to
 * 2 issue per cycle, so at least 8 chains must be in flight to keep both
 * pipes busy. The AVX-512 loop keeps 24 (of 32 zmm), AVX2 12 (of 16 ymm).
 * Each chain computes acc = acc * m + c with m just below 1, which converges
 * to c / (1 - m): no overflow, no denormals, nothing the compiler may fold
 * (no -ffast-math). The plain C loop uses separate multiply and add (the
 * build is ISO C99, so they are not contracted) and counts 2 flops for them.
 */
/* SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L
#include <time.h>
#include "common.h"
#include "ukernel.h" /* CG_HAVE_X86_UKERNELS: x86-64 with a GNU-compatible compiler */

#ifdef CG_HAVE_X86_UKERNELS
#include <immintrin.h>
#endif

#define PEAK_MAX_THREADS 256
#define PEAK_BLOCK 4096 /* inner iterations between two clock reads */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- one block of FMA chains per ISA --------------------------------------
 * Each function runs `iters` iterations, folds its accumulators into one
 * number (so the work is observable) and returns it; *flops gets the count. */

#define UNROLL4(X) X(0) X(1) X(2) X(3)
#define UNROLL8(X) UNROLL4(X) X(4) X(5) X(6) X(7)
#define UNROLL12(X) UNROLL8(X) X(8) X(9) X(10) X(11)
#define UNROLL24(X) UNROLL12(X) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) \
    X(20) X(21) X(22) X(23)

#ifdef CG_HAVE_X86_UKERNELS
/* Intel Skylake-SP and later, AMD Zen 4 and later: 24 zmm chains. */
#define DECL(i) __m512 a##i = _mm512_set1_ps(0.001f * (float)(i));
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, m, c);
#define FOLD(i) s = _mm512_add_ps(s, a##i);
__attribute__((target("avx512f")))
static double block_avx512_f32(int64_t iters, double *flops)
{
    const __m512 m = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(0.001f);
    UNROLL24(DECL)
    for (int64_t k = 0; k < iters; k++) { UNROLL24(STEP) }
    __m512 s = _mm512_setzero_ps();
    UNROLL24(FOLD)
    *flops = (double)iters * 24 * 16 * 2;
    return (double)_mm512_reduce_add_ps(s);
}
#undef DECL
#undef STEP
#undef FOLD

#define DECL(i) __m512d a##i = _mm512_set1_pd(0.001 * (double)(i));
#define STEP(i) a##i = _mm512_fmadd_pd(a##i, m, c);
#define FOLD(i) s = _mm512_add_pd(s, a##i);
__attribute__((target("avx512f")))
static double block_avx512_f64(int64_t iters, double *flops)
{
    const __m512d m = _mm512_set1_pd(0.999), c = _mm512_set1_pd(0.001);
    UNROLL24(DECL)
    for (int64_t k = 0; k < iters; k++) { UNROLL24(STEP) }
    __m512d s = _mm512_setzero_pd();
    UNROLL24(FOLD)
    *flops = (double)iters * 24 * 8 * 2;
    return _mm512_reduce_add_pd(s);
}
#undef DECL
#undef STEP
#undef FOLD

/* Intel Haswell and later, AMD Zen 1 and later: 12 ymm chains. */
#define DECL(i) __m256 a##i = _mm256_set1_ps(0.001f * (float)(i));
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, m, c);
#define FOLD(i) s = _mm256_add_ps(s, a##i);
__attribute__((target("avx2,fma")))
static double block_avx2_f32(int64_t iters, double *flops)
{
    const __m256 m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(0.001f);
    UNROLL12(DECL)
    for (int64_t k = 0; k < iters; k++) { UNROLL12(STEP) }
    __m256 s = _mm256_setzero_ps();
    UNROLL12(FOLD)
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    *flops = (double)iters * 12 * 8 * 2;
    return (double)lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}
#undef DECL
#undef STEP
#undef FOLD

#define DECL(i) __m256d a##i = _mm256_set1_pd(0.001 * (double)(i));
#define STEP(i) a##i = _mm256_fmadd_pd(a##i, m, c);
#define FOLD(i) s = _mm256_add_pd(s, a##i);
__attribute__((target("avx2,fma")))
static double block_avx2_f64(int64_t iters, double *flops)
{
    const __m256d m = _mm256_set1_pd(0.999), c = _mm256_set1_pd(0.001);
    UNROLL12(DECL)
    for (int64_t k = 0; k < iters; k++) { UNROLL12(STEP) }
    __m256d s = _mm256_setzero_pd();
    UNROLL12(FOLD)
    double lanes[4];
    _mm256_storeu_pd(lanes, s);
    *flops = (double)iters * 12 * 4 * 2;
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#undef DECL
#undef STEP
#undef FOLD
#endif /* CG_HAVE_X86_UKERNELS */

/* Portable C: 8 scalar chains of multiply then add (2 flops each). */
#define DECL(i) T a##i = (T)0.001 * (T)(i);
#define STEP(i) a##i = a##i * m + c;
#define FOLD(i) s += a##i;
#define T float
static double block_generic_f32(int64_t iters, double *flops)
{
    const T m = (T)0.999, c = (T)0.001;
    UNROLL8(DECL)
    for (int64_t k = 0; k < iters; k++) { UNROLL8(STEP) }
    T s = 0;
    UNROLL8(FOLD)
    *flops = (double)iters * 8 * 2;
    return (double)s;
}
#undef T
#define T double
static double block_generic_f64(int64_t iters, double *flops)
{
    const T m = (T)0.999, c = (T)0.001;
    UNROLL8(DECL)
    for (int64_t k = 0; k < iters; k++) { UNROLL8(STEP) }
    T s = 0;
    UNROLL8(FOLD)
    *flops = (double)iters * 8 * 2;
    return s;
}
#undef T
#undef DECL
#undef STEP
#undef FOLD

/* ---- the timed loop ---------------------------------------------------- */

typedef double (*block_fn)(int64_t, double *);

static block_fn pick_block(int is_f64)
{
#ifdef CG_HAVE_X86_UKERNELS
    switch (cg_get_isa()) {
    case CG_ISA_AVX512: return is_f64 ? block_avx512_f64 : block_avx512_f32;
    case CG_ISA_AVX2: return is_f64 ? block_avx2_f64 : block_avx2_f32;
    default: break;
    }
#endif
    return is_f64 ? block_generic_f64 : block_generic_f32;
}

/* The thread's own rate: blocks until `seconds` of wall time have passed. */
static double thread_rate(block_fn block, double seconds, volatile double *sink)
{
    double flops = 0, f = 0, acc = 0;
    block(PEAK_BLOCK, &f); /* warm up: raise the clock and the SIMD unit's power state */
    const double t0 = now_seconds();
    double t = t0;
    do {
        acc += block(PEAK_BLOCK, &f);
        flops += f;
        t = now_seconds();
    } while (t - t0 < seconds);
    *sink = acc;
    return flops / (t - t0) * 1e-9;
}

static double peak_gflops(int is_f64, int n_threads, double seconds)
{
    double rate[PEAK_MAX_THREADS] = {0};
    volatile double sink[PEAK_MAX_THREADS];
    block_fn block = pick_block(is_f64);
    if (n_threads < 1) n_threads = 1;
    if (n_threads > PEAK_MAX_THREADS) n_threads = PEAK_MAX_THREADS;
    if (n_threads == 1) {
        rate[0] = thread_rate(block, seconds, &sink[0]);
    } else {
        CG_PRAGMA(omp parallel num_threads(n_threads))
        {
            int t = cg_thread_num();
            if (t < n_threads) rate[t] = thread_rate(block, seconds, &sink[t]);
        }
    }
    double total = 0;
    for (int t = 0; t < n_threads; t++) total += rate[t];
    return total;
}

double cg_peak_gflops_f32(int n_threads, double seconds) { return peak_gflops(0, n_threads, seconds); }
double cg_peak_gflops_f64(int n_threads, double seconds) { return peak_gflops(1, n_threads, seconds); }
