/* softmax.c: softmax and log_softmax along one axis, forward next to
 * backward, for float and double (bodies in softmax_impl.h).
 */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include "common.h"

#define CG_SM_COLS 64 /* inner columns per task when the axis is not last */

#define CG_IMPL "softmax_impl.h"
#include "instantiate.h"
