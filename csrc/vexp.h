/* vexp.h: vectorized exp over a row, for the softmax, log_softmax and
 * cross-entropy forward passes (internal; not public API).
 *
 *   cg_vexp_row_<t>(y, x, m, n, &sum):  y[i] = exp(x[i] - m) for i < n
 *   (y == NULL: nothing is stored) and *sum = sum_i y[i], summed in double.
 *
 * Returns 1 when a SIMD kernel (AVX-512F or AVX2+FMA, picked by cpu.c's
 * cg_get_isa()) did the row, 0 when the caller must use its scalar libm loop
 * (generic ISA, non-x86). x - m is rounded to T first, as in the scalar
 * loop; each exp is within 1 ulp of libm (float: of glibc expf; double: of
 * the correctly rounded exp), see vmath_x86.h.
 * The sum runs in fixed lanes combined in a fixed order, so it depends on n
 * and the ISA only, never on the thread count.
 */
/* SPDX-License-Identifier: MIT */
#ifndef CGRAD_VEXP_H
#define CGRAD_VEXP_H
#include <stdint.h>

int cg_vexp_row_f32(float *y, const float *x, float m, int64_t n, double *sum);

int cg_vexp_row_f64(double *y, const double *x, double m, int64_t n, double *sum);

#endif /* CGRAD_VEXP_H */
