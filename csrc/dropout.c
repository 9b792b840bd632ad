/* dropout.c: inverted dropout with caller-drawn uniforms, forward next to
 * backward, for float and double (bodies in dropout_impl.h). The mask is
 * recomputed from u in backward, so nothing else is saved.
 */
/* SPDX-License-Identifier: MIT */
#include "common.h"

#define CG_IMPL "dropout_impl.h"
#include "instantiate.h"
