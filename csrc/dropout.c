/* dropout.c: inverted dropout with caller-drawn uniforms, forward next to
 * backward, for float and double (bodies in dropout_impl.h). The mask is
 * recomputed from u in backward, so nothing else is saved.
 */
/* SPDX-License-Identifier: MIT */
#include "common.h"

#define T float
#define CG_SFX _f32
#include "dropout_impl.h"
#undef T
#undef CG_SFX

#define T double
#define CG_SFX _f64
#include "dropout_impl.h"
#undef T
#undef CG_SFX
