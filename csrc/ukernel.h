/* ukernel.h: the GEMM micro-kernel contract and the SIMD micro-kernels
 * (internal to gemm.c and ukernel_x86.c; not public API).
 *
 * A micro-kernel computes one MR x NR tile of C, following BLIS:
 *   accumulate == 0:  C := A1 * B1      (C is written, never read, so
 *                                        NaN or garbage in C cannot leak)
 *   accumulate != 0:  C := C + A1 * B1
 * A1(i, p) = a[i*rsa + p*csa]: a packed micro-panel (rsa = 1, csa = MR) or
 *            MR rows of A read in place (rsa = row stride, csa = 1, or the
 *            transpose of that).
 * B1(p, j) = b[p*ldb + j]: a packed micro-panel (ldb = NR) or B read in
 *            place (ldb = row stride); the NR values of a row are contiguous.
 * C is row-major with row stride ldc. Edges are handled by the caller
 * (zero-padded panels and a temporary tile), so a kernel has no MR/NR
 * tails. For each C element the products are summed over p in order, the
 * same way whatever the strides, so packed and in-place operands give
 * bitwise the same tile.
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

#define CG_UK_ARGS(T) int64_t kc, const T *a, int64_t rsa, int64_t csa, const T *b, int64_t ldb, \
                      T *c, int64_t ldc, int accumulate
void cg_ukernel_avx2_f32(CG_UK_ARGS(float));
void cg_ukernel_avx2_f64(CG_UK_ARGS(double));
void cg_ukernel_avx512_f32(CG_UK_ARGS(float));
void cg_ukernel_avx512_f64(CG_UK_ARGS(double));
/* The same kernels for fewer rows (the last rows of C): MR/3 and 2*MR/3
 * rows, same NR, same order of operations per element. */
#define CG_AVX2_MSTEP 2
#define CG_AVX512_MSTEP 4
void cg_ukernel_avx2_m2_f32(CG_UK_ARGS(float));
void cg_ukernel_avx2_m4_f32(CG_UK_ARGS(float));
void cg_ukernel_avx2_m2_f64(CG_UK_ARGS(double));
void cg_ukernel_avx2_m4_f64(CG_UK_ARGS(double));
void cg_ukernel_avx512_m4_f32(CG_UK_ARGS(float));
void cg_ukernel_avx512_m8_f32(CG_UK_ARGS(float));
void cg_ukernel_avx512_m4_f64(CG_UK_ARGS(double));
void cg_ukernel_avx512_m8_f64(CG_UK_ARGS(double));

/* Small products (small_x86.c), nothing packed:
 *   C := [C +] A @ B,  A(i, p) = a[i*rsa + p*csa] (M x K),  B row-major K x N,
 * C row-major M x N. Any M, N, K >= 0; lanes past N are masked. */
#define CG_SK_ARGS(T) const T *a, int64_t rsa, int64_t csa, const T *b, T *c, int64_t M, \
                      int64_t N, int64_t K, int accumulate
void cg_small_avx2_f32(CG_SK_ARGS(float));
void cg_small_avx2_f64(CG_SK_ARGS(double));
void cg_small_avx512_f32(CG_SK_ARGS(float));
void cg_small_avx512_f64(CG_SK_ARGS(double));
#endif

#endif /* CGRAD_UKERNEL_H */
