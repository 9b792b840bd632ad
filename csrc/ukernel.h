/* ukernel.h: the GEMM micro-kernel contract and the SIMD micro-kernels
 * (internal to gemm.c and ukernel_x86.c; not public API).
 *
 * A micro-kernel computes one MR x NR tile of C, following BLIS:
 *   accumulate == 0:  C := A1 * B1      (C is written, never read, so
 *                                        NaN or garbage in C cannot leak)
 *   accumulate != 0:  C := C + A1 * B1
 * A1 is a kc x MR micro-panel packed column by column: a[p*MR + i].
 * B1 is a kc x NR micro-panel packed row by row:       b[p*NR + j].
 * C is row-major with row stride ldc. Edges are handled by the caller
 * (zero-padded panels and a temporary tile), so a kernel has no MR/NR
 * tails. For each C element the products are summed over p in order.
 */
/* SPDX-License-Identifier: MIT */
#ifndef CGRAD_UKERNEL_H
#define CGRAD_UKERNEL_H
#include <stdint.h>

#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
#define CG_HAVE_X86_UKERNELS 1
/* AVX2 + FMA: 16 ymm registers; 6 rows x 2 vectors = 12 accumulators. */
#define CG_AVX2_MR 6
#define CG_AVX2_NR_F32 16
#define CG_AVX2_NR_F64 8
/* AVX-512F: 32 zmm registers; 12 rows x 2 vectors = 24 accumulators. */
#define CG_AVX512_MR 12
#define CG_AVX512_NR_F32 32
#define CG_AVX512_NR_F64 16

void cg_ukernel_avx2_f32(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int accumulate);
void cg_ukernel_avx2_f64(int64_t kc, const double *a, const double *b, double *c, int64_t ldc, int accumulate);
void cg_ukernel_avx512_f32(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int accumulate);
void cg_ukernel_avx512_f64(int64_t kc, const double *a, const double *b, double *c, int64_t ldc, int accumulate);
#endif

#endif /* CGRAD_UKERNEL_H */
