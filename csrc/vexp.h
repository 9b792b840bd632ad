/* vexp.h: vectorized expf over a row, for the float32 softmax and
 * cross-entropy forward passes (internal; not public API).
 *
 *   cg_vexp_row_f32(y, x, m, n, &sum):  y[i] = expf(x[i] - m) for i < n
 *   (y == NULL: nothing is stored) and *sum = sum_i y[i], summed in double.
 *
 * Returns 1 when a SIMD kernel (AVX-512F or AVX2+FMA, picked by cpu.c's
 * cg_get_isa()) did the row, 0 when the caller must use its scalar libm loop
 * (generic ISA, non-x86, or double). x - m is rounded to float first, as in
 * the scalar loop; each exp is within 2 ulp of libm expf (see vexp_x86.c).
 * The sum runs in fixed lanes combined in a fixed order, so it depends on n
 * and the ISA only, never on the thread count.
 */
/* SPDX-License-Identifier: MIT */
#ifndef CGRAD_VEXP_H
#define CGRAD_VEXP_H
#include <stdint.h>

int cg_vexp_row_f32(float *y, const float *x, float m, int64_t n, double *sum);

/* double keeps libm: never handled here (lets the type-generic bodies call
 * CG_NAME(cg_vexp_row) for both types; the compiler drops the dead branch). */
static inline int cg_vexp_row_f64(double *y, const double *x, double m, int64_t n, double *sum)
{
    (void)y; (void)x; (void)m; (void)n; (void)sum;
    return 0;
}

#endif /* CGRAD_VEXP_H */
