/* common.h: internal helpers shared by the kernel files (not public API).
 *
 * Type-generic kernels live in <family>_impl.h and are written in terms of
 *   T          the element type (float or double)
 *   CG_NAME(x) x with the type suffix pasted on (x_f32 / x_f64)
 *   CG_M(f)    the libm function for T (expf / exp)
 * The including .c file defines these, includes the impl header, undefines
 * them and repeats for the other type. Accumulators are double for both
 * types (ACC).
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
/* A parallel-for over `work` elements; serial below CG_PAR_MIN, or when
 * built without OpenMP (the pragma is then ignored). */
#define CG_OMP_FOR(work) \
    CG_PRAGMA(omp parallel for schedule(static) if((work) > CG_PAR_MIN) num_threads(cg_get_num_threads()))

static inline int64_t cg_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t cg_max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t cg_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

#endif /* CGRAD_COMMON_H */
