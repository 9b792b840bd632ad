"""cgrad: a small, fast, tape-based autodiff library for the CPU.

    import cgrad as cg
    x = cg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()        # x.grad == [2, 4]

The arithmetic runs in compiled C kernels (`cg.get_backend() == "c"`); a
pure-NumPy twin of every kernel (`cg.use_backend("numpy")`) is the reference.
"""

import numpy as np

# The imports go bottom up, in the layer order of _wiring.py's docstring
# (the compiled tape connected before the Tensor methods are built), not
# alphabetically.
# isort: off
from ._version import __version__
from .backend import get_backend, use_backend, set_num_threads, get_num_threads, config as _config
from .grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from .tensor import Tensor
from . import _wiring  # noqa: F401  (connects the compiled tape to the layers above it)
from . import autograd
from .autograd import grad
from .creation import (
    tensor,
    from_numpy,
    zeros,
    ones,
    empty,
    full,
    zeros_like,
    ones_like,
    full_like,
    randn,
    rand,
    randint,
    arange,
    linspace,
    eye,
    manual_seed,
)
from . import methods  # noqa: F401  (Tensor methods built from the op table)
from .functional_core import *  # noqa: F403  (cg.exp, cg.sum, cg.cat, ...)
from . import functional_core
from .gradcheck import gradcheck, GradcheckError
from .serialization import save, load
from . import nn, optim
from . import viz
from .explain import explain, Trace
from .inspect_tools import check_grads, grad_health
# isort: on

float32 = np.float32
float64 = np.float64
int64 = np.int64
bool_ = np.bool_

__all__ = [
    "__version__",
    "show_config",
    # backend and grad mode
    "get_backend",
    "use_backend",
    "set_num_threads",
    "get_num_threads",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    # tensors
    "Tensor",
    "tensor",
    "from_numpy",
    "zeros",
    "ones",
    "empty",
    "full",
    "zeros_like",
    "ones_like",
    "full_like",
    "randn",
    "rand",
    "randint",
    "arange",
    "linspace",
    "eye",
    "manual_seed",
    "float32",
    "float64",
    "int64",
    "bool_",
    # autograd
    "autograd",
    "grad",
    "gradcheck",
    "GradcheckError",
    # modules, optimizers, saving
    "nn",
    "optim",
    "save",
    "load",
    # inspection
    "viz",
    "explain",
    "Trace",
    "check_grads",
    "grad_health",
]
# The function forms (cg.exp, cg.sum, cg.cat, ...): one per op-table row with
# function=True, and a few more (functional_core.py).
__all__ += functional_core.__all__


def show_config():
    """Print the version, backend, SIMD path, thread count and OpenMP."""
    c = _config()
    print(f"cgrad {__version__}")
    print(f"  backend      : {get_backend()}")
    print(f"  simd         : {c.get('simd')}")
    print(f"  threads      : {c.get('num_threads')}")
    print(f"  openmp       : {c.get('openmp')}")
    print(f"  numpy        : {np.__version__}")
