"""How the compiled tape (_tape.pyx) is connected to the Python layers.

The layers, bottom up (each imports only the ones below it):

    _tape (compiled)   Tensor fields, tape entries, apply(), the engine, fast paths
    backend            the active kernel module: _ckernels or numpy_backend
    grad_mode          no_grad & co.: a thread-local flag
    engine             the reverse of broadcasting, the root gradient
    ops, ops_nn        one class per op, forward and backward
    tensor             Tensor (its fast methods come from _tape)
    autograd           grad(), backward(), Function
    nn, optim, ...     everything else

_tape sits at the bottom but calls back into layers above it: it reads the
grad mode on every op, calls kernels, creates Tensors, and hands calls it
cannot take to the generic route. Those callbacks are connected here, once,
when `cgrad` is imported, before any tensor exists:

 1. the grad-mode flag, read by apply() and every fast path;
 2. the kernel module (backend.K); backend.use_backend() re-sends it on
    every switch (_tape.set_kernels), the only wiring that changes later;
 3. engine.sum_to, which the engine uses to undo broadcasting;
 4. the Tensor class, the class of every tensor the tape creates;
 5. the generic routes of + - * / and @ (tensor.binary, tensor.matmul) and
    the op classes the fast paths record (ops.Add, ...);
 6. the linear op, the activation codes of the fused linear kernel, and
    nn.functional's generic linear, for the fast nn.Linear path.
"""

from . import _tape, backend, engine, grad_mode, ops, ops_nn, tensor
from .nn import functional as _F


def connect():
    _tape.connect(
        mode=grad_mode._mode,
        kernels=backend.K,
        sum_to=engine.sum_to,
        tensor_cls=tensor.Tensor,
        binary=tensor.binary,
        matmul=tensor.matmul,
        ops=ops,
        linear_op=ops_nn.Linear,
        act_codes=ops_nn.ACT,
        linear_fallback=_F._linear_generic,
    )


connect()
