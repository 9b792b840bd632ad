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
# Each module lists its kernels in its __all__; a new kernel needs no edit here.
from . import binary, dropout, gemm, index, linear, loss, optim, reduce, softmax, threads, unary
from .binary import *  # noqa: F403
from .dropout import *  # noqa: F403
from .gemm import *  # noqa: F403
from .index import *  # noqa: F403
from .linear import *  # noqa: F403
from .loss import *  # noqa: F403
from .optim import *  # noqa: F403
from .reduce import *  # noqa: F403
from .softmax import *  # noqa: F403
from .threads import *  # noqa: F403
from .unary import *  # noqa: F403
from .unary import _erf, _erfc, _ndtr  # noqa: F401  (not in the interface; the tests call them)

__all__ = [
    name
    for m in (unary, binary, reduce, softmax, gemm, index, threads, linear, loss, dropout, optim)
    for name in m.__all__
]
