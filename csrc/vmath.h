/* vmath.h: vectorized transcendental loops for the elementwise kernels
 * (internal; not public API). Implemented in vmath_x86.c for AVX-512F and
 * AVX2+FMA, chosen at run time from cpu.c's cg_get_isa().
 *
 * Every function returns 1 when a SIMD kernel did all n elements, 0 when the
 * caller must run its scalar libm loop (generic ISA, non-x86, or a type
 * without a SIMD version: the _f64 stubs below, so that type-generic bodies
 * can call CG_NAME(cg_v...) for both types; the compiler drops the dead
 * branch). Each element's result depends on its inputs and the ISA only
 * (lanes are independent, tails are masked), never on n, the chunking or the
 * thread count. Outputs may alias inputs exactly (in-place activations).
 *
 *   cg_vgelu_<t>(y, x, n)               y = x Phi(x)                (exact gelu)
 *   cg_vgelu_grad_<t>(d, g, x, n, acc)  d (+)= g (Phi(x) + x phi(x))
 *   cg_vgelu_tanh_<t>(y, x, n)          y = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3)
 *   cg_vgelu_tanh_grad_<t>(d, g, x, n, acc)   d (+)= g gelu_tanh'(x)
 *   cg_vexp_<t>(y, x, n)                y = exp(x)
 *   cg_vsigmoid_<t>(y, x, n)            y = 1 / (1 + exp(-x))
 *   cg_vtanh_<t>(y, x, n)               y = tanh(x)
 *   cg_vsoftplus_grad_<t>(d, g, x, n, beta, thr)
 *                                       d += z > thr ? g : g sigmoid(z),  z = beta x
 *   cg_vlsm_bwd_row_<t>(d, g, y, s, n)  d += g - exp(y) s       (log_softmax backward)
 * (acc: 1 accumulates d += ..., 0 assigns d = ....) The math and the
 * measured errors are in vmath_x86.c.
 */
/* SPDX-License-Identifier: MIT */
#ifndef CGRAD_VMATH_H
#define CGRAD_VMATH_H
#include <stdint.h>

int cg_vgelu_f32(float *y, const float *x, int64_t n);
int cg_vgelu_grad_f32(float *d, const float *g, const float *x, int64_t n, int acc);
int cg_vgelu_tanh_f32(float *y, const float *x, int64_t n);
int cg_vgelu_tanh_grad_f32(float *d, const float *g, const float *x, int64_t n, int acc);
int cg_vexp_f32(float *y, const float *x, int64_t n);
int cg_vsigmoid_f32(float *y, const float *x, int64_t n);
int cg_vtanh_f32(float *y, const float *x, int64_t n);
int cg_vsoftplus_grad_f32(float *d, const float *g, const float *x, int64_t n, float beta, float thr);
int cg_vlsm_bwd_row_f32(float *d, const float *g, const float *y, float s, int64_t n);
int cg_vlsm_bwd_row_f64(double *d, const double *g, const double *y, double s, int64_t n);

/* double keeps libm for these. */
static inline int cg_vgelu_f64(double *y, const double *x, int64_t n)
{ (void)y; (void)x; (void)n; return 0; }
static inline int cg_vgelu_grad_f64(double *d, const double *g, const double *x, int64_t n, int acc)
{ (void)d; (void)g; (void)x; (void)n; (void)acc; return 0; }
static inline int cg_vgelu_tanh_f64(double *y, const double *x, int64_t n)
{ (void)y; (void)x; (void)n; return 0; }
static inline int cg_vgelu_tanh_grad_f64(double *d, const double *g, const double *x, int64_t n, int acc)
{ (void)d; (void)g; (void)x; (void)n; (void)acc; return 0; }
static inline int cg_vexp_f64(double *y, const double *x, int64_t n)
{ (void)y; (void)x; (void)n; return 0; }
static inline int cg_vsigmoid_f64(double *y, const double *x, int64_t n)
{ (void)y; (void)x; (void)n; return 0; }
static inline int cg_vtanh_f64(double *y, const double *x, int64_t n)
{ (void)y; (void)x; (void)n; return 0; }
static inline int cg_vsoftplus_grad_f64(double *d, const double *g, const double *x, int64_t n,
                                        double beta, double thr)
{ (void)d; (void)g; (void)x; (void)n; (void)beta; (void)thr; return 0; }

/* Elementwise loops over n elements in fixed chunks of CG_VCHUNK, split over
 * threads like CG_PARALLEL_FOR (needs common.h); the body sees lo and len.
 * Results never depend on the split (lanes are independent). */
#define CG_VCHUNK 4096
#define CG_FOR_CHUNKS(work, lo, len, n, ...)                                         \
    do {                                                                             \
        const int64_t cg_nv_ = (n);                                                  \
        CG_PARALLEL_FOR(work, cg_c_, cg_ceil_div(cg_nv_, CG_VCHUNK),                 \
            const int64_t lo = cg_c_ * CG_VCHUNK;                                    \
            const int64_t len = cg_min64(CG_VCHUNK, cg_nv_ - lo);                    \
            __VA_ARGS__);                                                            \
    } while (0)

#endif /* CGRAD_VMATH_H */
