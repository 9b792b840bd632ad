/* gemm.c: matrix multiply for float and double: cg_gemm (BLIS-style packed
 * and cache-blocked, micro-kernel chosen at run time), cg_gemm_naive (the
 * reference) and cg_matmul (batched, broadcast batch, accumulate). Bodies in
 * gemm_impl.h; SIMD micro-kernels in ukernel_x86.c (contract: ukernel.h).
 */
/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include "common.h"
#include "ukernel.h"

/* Blocking, in elements. MC rows of A x KC (~150-300 KB) stay in L2; a
 * KC x NC panel of B stays in L3; a KC x NR micro-panel of B in L1. */
#define CG_KC 256
#define CG_MC 144   /* rounded down to a multiple of MR */
#define CG_NC 3072  /* rounded down to a multiple of NR */

/* Portable micro-kernel tile; the SIMD tiles are in ukernel.h. */
#define CG_GEN_MR 4
#define CG_GEN_NR 8
#define CG_MAX_MR 12
#define CG_MAX_NR 32

/* Below this many multiply-adds, or for a single row/column, skip packing. */
#define CG_GEMM_IS_SMALL(M, N, K) ((M) * (N) * (K) <= 4096 || (M) <= 2 || (N) <= 2)
/* Multiply-adds above which one product uses all threads. */
#define CG_PAR_GEMM (1 << 18)

/* The SIMD micro-kernels for T and their NR (ukernel.h); expanded inside
 * gemm_impl.h, where T and CG_SFX are defined. */
#ifdef CG_HAVE_X86_UKERNELS
#define CG_UK_AVX2 CG_NAME(cg_ukernel_avx2)
#define CG_UK_AVX2_NR (sizeof(T) == sizeof(float) ? CG_AVX2_NR_F32 : CG_AVX2_NR_F64)
#define CG_UK_AVX512 CG_NAME(cg_ukernel_avx512)
#define CG_UK_AVX512_NR (sizeof(T) == sizeof(float) ? CG_AVX512_NR_F32 : CG_AVX512_NR_F64)
#endif

#define CG_IMPL "gemm_impl.h"
#include "instantiate.h"
