/* small_x86.c: AVX2+FMA and AVX-512F row kernels for GEMMs too small to
 * pack (gemm.c's CG_GEMM_IS_SMALL), each compiled with a target attribute
 * and chosen at run time by gemm.c. Body in small_x86_impl.h.
 */
/* SPDX-License-Identifier: MIT */
#include "ukernel.h"

#ifdef CG_HAVE_X86_UKERNELS
#include <immintrin.h>

/* ---- AVX2 + FMA: lanes masked with vmaskmov ------------------------------ */
#define SK_TARGET __attribute__((target("avx2,fma")))
static const int32_t cg_mask_i32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t cg_mask_i64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

#define SK_T float
#define SK_VT __m256
#define SK_W 8
#define SK_MASK_T __m256i
#define SK_MASK(n) _mm256_loadu_si256((const __m256i *)(cg_mask_i32 + 8 - (n)))
#define VZERO() _mm256_setzero_ps()
#define VLOADM(p, m) _mm256_maskload_ps((p), (m))
#define VSTOREM(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(x, y, z) _mm256_fmadd_ps((x), (y), (z))
#define VADD(x, y) _mm256_add_ps((x), (y))
#define SK_NAME cg_small_avx2_f32
#include "small_x86_impl.h"

#define SK_T double
#define SK_VT __m256d
#define SK_W 4
#define SK_MASK_T __m256i
#define SK_MASK(n) _mm256_loadu_si256((const __m256i *)(cg_mask_i64 + 4 - (n)))
#define VZERO() _mm256_setzero_pd()
#define VLOADM(p, m) _mm256_maskload_pd((p), (m))
#define VSTOREM(p, m, v) _mm256_maskstore_pd((p), (m), (v))
#define VSET1(x) _mm256_set1_pd(x)
#define VFMA(x, y, z) _mm256_fmadd_pd((x), (y), (z))
#define VADD(x, y) _mm256_add_pd((x), (y))
#define SK_NAME cg_small_avx2_f64
#include "small_x86_impl.h"
#undef SK_TARGET

/* ---- AVX-512F: lanes masked with k registers ----------------------------- */
#define SK_TARGET __attribute__((target("avx512f")))
#define SK_T float
#define SK_VT __m512
#define SK_W 16
#define SK_MASK_T __mmask16
#define SK_MASK(n) ((__mmask16)((1u << (n)) - 1u))
#define VZERO() _mm512_setzero_ps()
#define VLOADM(p, m) _mm512_maskz_loadu_ps((m), (p))
#define VSTOREM(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(x, y, z) _mm512_fmadd_ps((x), (y), (z))
#define VADD(x, y) _mm512_add_ps((x), (y))
#define SK_NAME cg_small_avx512_f32
#include "small_x86_impl.h"

#define SK_T double
#define SK_VT __m512d
#define SK_W 8
#define SK_MASK_T __mmask8
#define SK_MASK(n) ((__mmask8)((1u << (n)) - 1u))
#define VZERO() _mm512_setzero_pd()
#define VLOADM(p, m) _mm512_maskz_loadu_pd((m), (p))
#define VSTOREM(p, m, v) _mm512_mask_storeu_pd((p), (m), (v))
#define VSET1(x) _mm512_set1_pd(x)
#define VFMA(x, y, z) _mm512_fmadd_pd((x), (y), (z))
#define VADD(x, y) _mm512_add_pd((x), (y))
#define SK_NAME cg_small_avx512_f64
#include "small_x86_impl.h"
#undef SK_TARGET

#else
typedef int cg_small_x86_unused;
#endif
