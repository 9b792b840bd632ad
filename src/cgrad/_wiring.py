"""How the compiled tape (_tape.pyx) is connected to the Python layers.

The layers, bottom up (each imports only the ones below it):

    _tape (compiled)   Tensor fields, tape entries, apply(), the engine, fast paths
    backend            the active kernel module: _ckernels or numpy_backend
    grad_mode          no_grad & co.: a thread-local flag
    engine             the reverse of broadcasting, the root gradient
    optable            the op table: one row per op
    ops, ops_nn        one class per op, forward and backward, bound to its row
    tensor             Tensor and the generic routes (unary, binary, matmul, ...)
    _wiring            this module
    methods            Tensor methods and function forms built from the table
    autograd           grad(), backward(), Function
    nn, optim, ...     everything else

_tape sits at the bottom but calls back into layers above it: it reads the
grad mode on every op, calls kernels, creates Tensors, and hands calls it
cannot take to the generic route. Those callbacks are connected here, once,
when `cgrad` is imported, before any tensor exists and before methods.py
asks for the fast-path records:

 1. the grad-mode flag, read by apply() and every fast path;
 2. the kernel module (backend.K); backend.use_backend() re-sends it on
    every switch (_tape.set_kernels), the only wiring that changes later;
 3. engine.sum_to, which the engine uses to undo broadcasting;
 4. the Tensor class, the class of every tensor the tape creates;
 5. the generic routes the fast paths fall back to (tensor.unary, .binary,
    .matmul, .linear);
 6. the op classes, and the names of the unary and binary ops whose rows
    have a fast path: _tape makes one FastOp record per name (the operators
    + - * / and unary minus use theirs directly; methods.py asks for the
    others with _tape.fast_op(name));
 7. the activation codes of the fused linear kernel (ops_nn.ACT), and
    which of them keep the pre-activation z for backward;
 8. the C unary table (_ckernels._unary_table()): while the C kernels are
    active, the unary fast path calls its functions directly.
"""

from . import _tape, backend, engine, grad_mode, ops, ops_nn, optable
from . import tensor as _t  # (cgrad.tensor is also the name of a function, once cgrad is imported)


def connect():
    _tape.connect(
        mode=grad_mode._mode,
        kernels=backend.K,
        sum_to=engine.sum_to,
        tensor_cls=_t.Tensor,
        unary=_t.unary,
        binary=_t.binary,
        matmul=_t.matmul,
        linear=_t.linear,
        op_classes=ops.OP_CLASSES,
        fast_ops=[r.name for r in optable.rows() if r.fast and r.family in ("unary", "binary")],
        act_codes=ops_nn.ACT,
        act_needs_z=ops_nn.ACT_NEEDS_Z,
        unary_table=backend._ckernels._unary_table(),
    )


connect()
