/* ukernel_x86.c: AVX2+FMA and AVX-512F GEMM micro-kernels for float and
 * double, each compiled with a target attribute (never -march) and chosen
 * at run time by gemm.c from cpu.c's detection. The kernel body is written
 * once in ukernel_x86_impl.h; this file only supplies the vector macros and
 * instantiates it for MR rows and for 1/3 and 2/3 of MR (the last rows of C).
 */
/* SPDX-License-Identifier: MIT */
#include "ukernel.h"

#ifdef CG_HAVE_X86_UKERNELS
#include <immintrin.h>

#define UK_ROWS2(X) X(0) X(1)
#define UK_ROWS4(X) UK_ROWS2(X) X(2) X(3)
#define UK_ROWS6(X) UK_ROWS4(X) X(4) X(5)
#define UK_ROWS8(X) UK_ROWS6(X) X(6) X(7)
#define UK_ROWS12(X) UK_ROWS8(X) X(8) X(9) X(10) X(11)

/* ---- AVX2 + FMA: MR = 6, and 4 / 2 rows for the last rows of C ---------- */
#define UK_TARGET __attribute__((target("avx2,fma")))
#define UK_T float
#define UK_VT __m256
#define UK_W 8
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(x, y, z) _mm256_fmadd_ps((x), (y), (z))
#define VADD(x, y) _mm256_add_ps((x), (y))
#define UK_MR 6
#define UK_ROWS UK_ROWS6
#define UK_NAME cg_ukernel_avx2_f32
#include "ukernel_x86_impl.h"
#define UK_MR 4
#define UK_ROWS UK_ROWS4
#define UK_NAME cg_ukernel_avx2_m4_f32
#include "ukernel_x86_impl.h"
#define UK_MR 2
#define UK_ROWS UK_ROWS2
#define UK_NAME cg_ukernel_avx2_m2_f32
#include "ukernel_x86_impl.h"
#undef UK_T
#undef UK_VT
#undef UK_W
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VFMA
#undef VADD

#define UK_T double
#define UK_VT __m256d
#define UK_W 4
#define VZERO() _mm256_setzero_pd()
#define VLOAD(p) _mm256_loadu_pd(p)
#define VSTORE(p, v) _mm256_storeu_pd((p), (v))
#define VSET1(x) _mm256_set1_pd(x)
#define VFMA(x, y, z) _mm256_fmadd_pd((x), (y), (z))
#define VADD(x, y) _mm256_add_pd((x), (y))
#define UK_MR 6
#define UK_ROWS UK_ROWS6
#define UK_NAME cg_ukernel_avx2_f64
#include "ukernel_x86_impl.h"
#define UK_MR 4
#define UK_ROWS UK_ROWS4
#define UK_NAME cg_ukernel_avx2_m4_f64
#include "ukernel_x86_impl.h"
#define UK_MR 2
#define UK_ROWS UK_ROWS2
#define UK_NAME cg_ukernel_avx2_m2_f64
#include "ukernel_x86_impl.h"
#undef UK_T
#undef UK_VT
#undef UK_W
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VFMA
#undef VADD

#undef UK_TARGET

/* ---- AVX-512F: MR = 12, and 8 / 4 rows for the last rows of C ------------ */
#define UK_TARGET __attribute__((target("avx512f")))
#define UK_T float
#define UK_VT __m512
#define UK_W 16
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(x, y, z) _mm512_fmadd_ps((x), (y), (z))
#define VADD(x, y) _mm512_add_ps((x), (y))
#define UK_MR 12
#define UK_ROWS UK_ROWS12
#define UK_NAME cg_ukernel_avx512_f32
#include "ukernel_x86_impl.h"
#define UK_MR 8
#define UK_ROWS UK_ROWS8
#define UK_NAME cg_ukernel_avx512_m8_f32
#include "ukernel_x86_impl.h"
#define UK_MR 4
#define UK_ROWS UK_ROWS4
#define UK_NAME cg_ukernel_avx512_m4_f32
#include "ukernel_x86_impl.h"
#undef UK_T
#undef UK_VT
#undef UK_W
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VFMA
#undef VADD

#define UK_T double
#define UK_VT __m512d
#define UK_W 8
#define VZERO() _mm512_setzero_pd()
#define VLOAD(p) _mm512_loadu_pd(p)
#define VSTORE(p, v) _mm512_storeu_pd((p), (v))
#define VSET1(x) _mm512_set1_pd(x)
#define VFMA(x, y, z) _mm512_fmadd_pd((x), (y), (z))
#define VADD(x, y) _mm512_add_pd((x), (y))
#define UK_MR 12
#define UK_ROWS UK_ROWS12
#define UK_NAME cg_ukernel_avx512_f64
#include "ukernel_x86_impl.h"
#define UK_MR 8
#define UK_ROWS UK_ROWS8
#define UK_NAME cg_ukernel_avx512_m8_f64
#include "ukernel_x86_impl.h"
#define UK_MR 4
#define UK_ROWS UK_ROWS4
#define UK_NAME cg_ukernel_avx512_m4_f64
#include "ukernel_x86_impl.h"
#undef UK_T
#undef UK_VT
#undef UK_W
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VFMA
#undef VADD

#undef UK_TARGET

#else
/* Not x86 or not a GNU-compatible compiler: only the portable kernel. */
typedef int cg_ukernel_x86_unused;
#endif
