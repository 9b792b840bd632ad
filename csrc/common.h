/* common.h: internal helpers shared by the kernel files (not public API).
 *
 * Type-generic kernels live in <family>_impl.h and are written in terms of
 *   T          the element type (float or double)
 *   CG_NAME(x) x with the type suffix pasted on (x_f32 / x_f64)
 *   CG_M(f)    the libm function for T (expf / exp)
 * The including .c file sets CG_IMPL to the impl header and includes
 * instantiate.h, which defines these, includes CG_IMPL, undefines them and
 * repeats for the other type. Accumulators are double for both types (ACC).
 */
/* SPDX-License-Identifier: MIT */
#ifndef CGRAD_COMMON_H
#define CGRAD_COMMON_H

#include <stdint.h>
#include <stddef.h>
#include "cgrad.h"

#define CG_RESTRICT restrict
#define CG_CAT_(a, b) a##b
#define CG_CAT(a, b) CG_CAT_(a, b)
#define CG_NAME(x) CG_CAT(x, CG_SFX)
#define ACC double

/* Elementwise and reduction loops go parallel above this many elements. */
#define CG_PAR_MIN 32768

#define CG_PRAGMA(x) _Pragma(#x)

/* for (int64_t i = 0; i < n; i++) { body }, split over threads (static
 * contiguous ranges) when work > CG_PAR_MIN and more than one thread is
 * configured. The test is a plain branch rather than an OpenMP if() clause:
 * measured with libgomp, entering even an if(0) region costs ~0.3 us, which
 * is 50x a 64-element kernel. Without OpenMP the pragma is ignored. */
#define CG_PARALLEL_FOR(work, i, n, ...)                                               \
    do {                                                                               \
        const int64_t cg_n_ = (n);                                                     \
        if ((work) > CG_PAR_MIN && cg_get_num_threads() > 1) {                         \
            CG_PRAGMA(omp parallel for schedule(static) num_threads(cg_get_num_threads())) \
            for (int64_t i = 0; i < cg_n_; i++) { __VA_ARGS__ }                        \
        } else {                                                                       \
            for (int64_t i = 0; i < cg_n_; i++) { __VA_ARGS__ }                        \
        }                                                                              \
    } while (0)

/* parallel.c: index of the calling thread in its OpenMP team (0 outside). */
int cg_thread_num(void);

static inline int64_t cg_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t cg_max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t cg_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

#endif /* CGRAD_COMMON_H */
