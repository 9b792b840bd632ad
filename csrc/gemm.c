/* gemm.c: matrix multiply for float and double: cg_gemm (BLIS-style packed
 * and cache-blocked, micro-kernel chosen at run time), cg_gemm_naive (the
 * reference) and cg_matmul (batched, broadcast batch, accumulate). Bodies in
 * gemm_impl.h; SIMD micro-kernels in ukernel_x86.c (contract: ukernel.h).
 */
/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include "common.h"
#include "ukernel.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

/* Blocking, in elements. MC rows of A x KC (~150-300 KB) stay in L2; a
 * KC x NC panel of B stays in L3; a KC x NR micro-panel of B in L1 (or L2:
 * measured on Zen 5, KC = 512 beats 256 for float by ~3%, and neither 128
 * nor 384 beats 256 for double). The K slicing decides the rounding, so it
 * depends on the type only, never on the shape or the thread count. */
#define CG_KC_F32 512
#define CG_KC_F64 256
#define CG_MC 144   /* rounded down to a multiple of MR */
#define CG_NC 3072  /* rounded down to a multiple of NR */
#define CG_KC_T (sizeof(T) == sizeof(float) ? CG_KC_F32 : CG_KC_F64)

/* op(A) / op(B) of at most this many bytes are read in place by the
 * micro-kernel instead of being packed (they stay in L2 anyway; packing a
 * 64^3 product costs about as much as computing it). */
#define CG_DIRECT_A_BYTES (256 * 1024)
#define CG_DIRECT_B_BYTES (1024 * 1024)

/* Portable micro-kernel tile; the SIMD tiles are in ukernel.h. */
#define CG_GEN_MR 4
#define CG_GEN_NR 8
#define CG_MAX_MR 12
#define CG_MAX_NR 32

/* Small problems skip packing and run the row kernel (small_x86.c): at most
 * 32^3 multiply-adds, or at most 4 rows or 2 columns of C (measured on
 * Zen 4: 8^3 takes 0.14 us against 0.29 blocked, 32^3 about the same, 48^3
 * and 64^3 are faster blocked in float64). */
#define CG_SMALL_MACS (32 * 32 * 32)
#define CG_GEMM_IS_SMALL(M, N, K) ((M) * (N) * (K) <= CG_SMALL_MACS || (M) <= 4 || (N) <= 2)
/* Elements of the stack buffer gemm_small transposes a small op(B) = B^T
 * into, so that the SIMD row kernel serves it too. */
#define CG_SMALL_BT 1024
/* Multiply-adds above which one product uses all threads. */
#define CG_PAR_GEMM (1 << 18)
/* Grid parts per thread when nothing is packed (gemm_impl.h, cg_gemm). */
#define CG_PARTS_PER_THREAD 4

/* The SIMD micro-kernels for T and their NR (ukernel.h); expanded inside
 * gemm_impl.h, where T and CG_SFX are defined. */
#ifdef CG_HAVE_X86_UKERNELS
#define CG_UK_AVX2 CG_NAME(cg_ukernel_avx2)
#define CG_UK_AVX2_NR (sizeof(T) == sizeof(float) ? CG_AVX2_NR_F32 : CG_AVX2_NR_F64)
#define CG_UK_AVX512 CG_NAME(cg_ukernel_avx512)
#define CG_UK_AVX512_NR (sizeof(T) == sizeof(float) ? CG_AVX512_NR_F32 : CG_AVX512_NR_F64)
/* the same kernels for 1/3 and 2/3 of MR rows (ukernel.h) */
#define CG_UK_AVX2_M1 CG_NAME(cg_ukernel_avx2_m2)
#define CG_UK_AVX2_M2 CG_NAME(cg_ukernel_avx2_m4)
#define CG_UK_AVX512_M1 CG_NAME(cg_ukernel_avx512_m4)
#define CG_UK_AVX512_M2 CG_NAME(cg_ukernel_avx512_m8)
#define CG_SK_AVX2 CG_NAME(cg_small_avx2)
#define CG_SK_AVX512 CG_NAME(cg_small_avx512)
#endif

#define CG_IMPL "gemm_impl.h"
#include "instantiate.h"
