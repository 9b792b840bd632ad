/* optim.c: optimizer updates, SGD (momentum, dampening, nesterov, weight
 * decay) and Adam / AdamW, each one in-place pass over a parameter in
 * torch's order, for float and double (bodies in optim_impl.h). Elements are
 * independent: threads split contiguous ranges, results are deterministic.
 */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include "common.h"

#define CG_IMPL "optim_impl.h"
#include "instantiate.h"
