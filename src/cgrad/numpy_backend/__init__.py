"""cgrad's kernel interface (docs/kernels.md) written in pure NumPy.

It is the reference the compiled kernels (cgrad._ckernels) are tested against,
and the "pure NumPy version" in the benchmarks. Same names, signatures and
semantics as the C backend: outputs first, then inputs, then sizes and flags;
forward kernels assign into their output, backward kernels accumulate (+=)
into gradient buffers and skip a gradient given as None; derivative conventions
follow PyTorch. Arguments are validated like the C backend does: TypeError for
a dtype problem, ValueError for a shape or contiguity problem, IndexError for
a class target out of range (before any write), the message starting with the
function name. Arithmetic runs in the arrays' own dtype
(float32 or float64), except GELU, which evaluates in float64.
Overflow is handled, never warned about: results are the IEEE ones
(log(0) = -inf, 1/0 = inf) and NaN propagates.
"""
# SPDX-License-Identifier: MIT

# One module per kernel family; this namespace is the interface (backend.K).
from .unary import (neg_forward, neg_backward, exp_forward, exp_backward,
                    log_forward, log_backward, sqrt_forward, sqrt_backward,
                    abs_forward, abs_backward, sin_forward, sin_backward,
                    cos_forward, cos_backward, tanh_forward, tanh_backward,
                    sigmoid_forward, sigmoid_backward, relu_forward, relu_backward,
                    leaky_relu_forward, leaky_relu_backward,
                    softplus_forward, softplus_backward,
                    gelu_forward, gelu_backward, clamp_forward, clamp_backward)
from .unary import _erf, _erfc, _ndtr  # not in the interface; the tests call them
from .binary import (add_forward, add_backward, sub_forward, sub_backward,
                     mul_forward, mul_backward, div_forward, div_backward,
                     pow_forward, pow_backward, accumulate)
from .reduce import (sum_forward, sum_backward, mean_forward, mean_backward,
                     amax_forward, amax_backward)
from .softmax import (softmax_forward, softmax_backward,
                      log_softmax_forward, log_softmax_backward)
from .gemm import matmul
from .index import index_add
from .threads import set_num_threads, get_num_threads, config
from .linear import linear_forward, linear_backward
from .loss import (cross_entropy_forward, cross_entropy_backward,
                   cross_entropy_prob_forward, cross_entropy_prob_backward,
                   nll_forward, nll_backward,
                   mse_forward, mse_backward, l1_forward, l1_backward,
                   bce_forward, bce_backward, bce_logits_forward, bce_logits_backward)
from .dropout import dropout_forward, dropout_backward
from .optim import sgd_step, adam_step

__all__ = [
    "neg_forward", "neg_backward", "exp_forward", "exp_backward",
    "log_forward", "log_backward", "sqrt_forward", "sqrt_backward",
    "abs_forward", "abs_backward", "sin_forward", "sin_backward",
    "cos_forward", "cos_backward", "tanh_forward", "tanh_backward",
    "sigmoid_forward", "sigmoid_backward", "relu_forward", "relu_backward",
    "leaky_relu_forward", "leaky_relu_backward",
    "softplus_forward", "softplus_backward",
    "gelu_forward", "gelu_backward", "clamp_forward", "clamp_backward",
    "add_forward", "add_backward", "sub_forward", "sub_backward",
    "mul_forward", "mul_backward", "div_forward", "div_backward",
    "pow_forward", "pow_backward", "accumulate",
    "sum_forward", "sum_backward", "mean_forward", "mean_backward",
    "amax_forward", "amax_backward",
    "softmax_forward", "softmax_backward",
    "log_softmax_forward", "log_softmax_backward",
    "matmul", "index_add", "set_num_threads", "get_num_threads", "config",
    "linear_forward", "linear_backward",
    "cross_entropy_forward", "cross_entropy_backward",
    "cross_entropy_prob_forward", "cross_entropy_prob_backward",
    "nll_forward", "nll_backward",
    "mse_forward", "mse_backward", "l1_forward", "l1_backward",
    "bce_forward", "bce_backward", "bce_logits_forward", "bce_logits_backward",
    "dropout_forward", "dropout_backward", "sgd_step", "adam_step",
]
