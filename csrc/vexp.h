/* vexp.h: vectorized exp and max over a row, for the softmax, log_softmax and
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

/* cg_vmax_row_<t>(x, n, &m), n >= 1: m = the row max, as the scalar scan
 * m = x[0]; m = x[i] > m ? x[i] : m does it (a NaN in x[0] gives NaN, a NaN
 * elsewhere is passed over; which of +-0 is kept may differ, which changes
 * no x - m). Returns 1 when a SIMD kernel did the row, 0 when the caller
 * must scan. */
int cg_vmax_row_f32(const float *x, int64_t n, float *m);
int cg_vmax_row_f64(const double *x, int64_t n, double *m);

int cg_vexp_row_f64(double *y, const double *x, double m, int64_t n, double *sum);

#endif /* CGRAD_VEXP_H */
