/* instantiate.h: compiles one type-generic body twice, for float and for
 * double. The including .c file names the body and includes this header:
 *
 *   #define CG_IMPL "linear_impl.h"
 *   #include "instantiate.h"
 *
 * Each pass defines T, CG_SFX (so CG_NAME pastes _f32 / _f64) and CG_M (the
 * libm function for T: expf / exp), includes CG_IMPL, and undefines them
 * again; CG_IMPL is undefined at the end. Anything else the body needs must
 * be defined by the .c file before the include (see common.h).
 */
/* SPDX-License-Identifier: MIT */
#ifndef CG_IMPL
#error "define CG_IMPL (the *_impl.h to instantiate) before including instantiate.h"
#endif

#define T float
#define CG_SFX _f32
#define CG_M(fn) fn##f
#include CG_IMPL
#undef T
#undef CG_SFX
#undef CG_M

#define T double
#define CG_SFX _f64
#define CG_M(fn) fn
#include CG_IMPL
#undef T
#undef CG_SFX
#undef CG_M

#undef CG_IMPL
