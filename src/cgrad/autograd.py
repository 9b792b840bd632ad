"""The tape: entries, sequence numbers, backward(), grad(), no_grad, Function.

Every op that runs with grad enabled and an input that requires grad records
one `Node` (a tape entry): the op, its input tensors, what it saved for
backward, and a sequence number from a counter that only grows. The output
tensor points to its node (`grad_fn`). `backward()` keeps a heap of the
entries that have pending gradients and always runs the one with the highest
sequence number next. An entry's inputs were all made before it, so every
gradient reaching an entry has arrived by the time it runs: this is a
topological order with no recursion, no graph walk and no sort.

Conventions:
- Gradients inside the engine are plain ndarrays in the dtype of the op.
- An op's backward returns one gradient per input, in the op's output
  (broadcast) shape if it likes; the engine sums it back to the input's shape
  (`_sum_to`) and casts it to the input's dtype. That is where broadcasting
  and type promotion are undone, for every op at once.
- Fan-out: a tensor used twice gets two gradients, and the engine adds them.
- After backward the nodes drop their inputs and saved buffers, unless
  `retain_graph=True`; a second backward through them raises.
- Each saved tensor is checked against its version counter, so an in-place
  change to it makes the backward raise instead of using the wrong numbers.
"""

import threading

import numpy as np

from . import backend as _bk



# ---------------------------------------------------------------- grad mode
class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled():
    return _mode.enabled


class _GradSwitch:
    """Base of no_grad / enable_grad: a context manager and a decorator."""

    flag = True

    def __new__(cls, fn=None, *args, **kwargs):
        self = super().__new__(cls)
        if fn is not None and callable(fn) and cls is not set_grad_enabled:
            return self(fn)                 # bare decorator: @cg.no_grad
        return self

    def __enter__(self):
        self._prev = _mode.enabled
        _mode.enabled = self.flag
        return self

    def __exit__(self, *exc):
        _mode.enabled = self._prev
        return False

    def __call__(self, fn):
        import functools

        switch = type(self)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with switch():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradSwitch):
    """Ops run inside record nothing. `with cg.no_grad():` or `@cg.no_grad()`."""

    flag = False


class enable_grad(_GradSwitch):
    flag = True


class set_grad_enabled(_GradSwitch):
    def __init__(self, mode):
        self.flag = bool(mode)
        self._prev = _mode.enabled
        _mode.enabled = self.flag      # torch: takes effect on construction too


# ---------------------------------------------------------------- tape entry
# Node (a tape entry), the engine and leaf accumulation are compiled
# (_tape.pyx); the contract is the one above.
from ._tape import Node, run_backward, prepare_grad as _prepare_grad  # noqa: E402,F401
from . import _tape  # noqa: E402


def _c(x):
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def _sum_to(g, shape):
    """Sum a broadcast gradient back to `shape` (the reverse of broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    g = _c(g)
    if not axes:
        return g.reshape(shape)
    kept = [g.shape[i] for i in range(g.ndim) if i not in axes]
    out = np.empty(kept, dtype=g.dtype)
    _bk.K.sum_forward(out, g, axes)
    return out.reshape(shape)


def _wrap(a):
    from .tensor import Tensor
    return Tensor._make(a)


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """Gradients of outputs with respect to inputs, returned as a tuple; .grad untouched."""
    from .tensor import Tensor

    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad: one of the inputs does not require grad")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    gs = [_root_grad(t, g, "grad") for t, g in zip(outputs, grad_outputs)]
    return run_backward(outputs, gs, retain_graph=retain_graph, inputs=inputs,
                        allow_unused=allow_unused)


_tape._configure(_mode, _bk, None, _sum_to)


def _root_grad(t, g, who):
    """The starting gradient: ones for a scalar, else the given `gradient`."""
    if g is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"{who}: grad can be implicitly created only for scalar outputs; "
                f"got an output of shape {t.shape}: pass `gradient=`")
        return np.ones(t.data.shape, dtype=t.data.dtype)
    ga = g.data if hasattr(g, "data") and not isinstance(g, np.ndarray) else np.asarray(g)
    if ga.shape != t.data.shape:
        raise ValueError(f"{who}: gradient has shape {ga.shape} but the output has shape {t.shape}")
    return _c(ga.astype(t.data.dtype, copy=False))


# ---------------------------------------------------------------- custom ops
class FunctionCtx:
    """The `ctx` a custom Function's forward and backward share."""

    def save_for_backward(self, *tensors):
        self._to_save = tensors

    @property
    def saved_tensors(self):
        node = self._node
        if node is None or node.freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (saved tensors "
                "were freed); specify retain_graph=True")
        node.check_versions()
        return self._saved_tensors

    def mark_non_differentiable(self, *tensors):
        self._non_diff = tensors


class _CustomOp:
    """Adapter: lets the engine call a user Function's backward on Tensors."""

    def __init__(self, fn_cls, ctx, arg_is_tensor):
        self.fn_cls = fn_cls
        self.name = fn_cls.__name__
        self.ctx = ctx
        self.arg_is_tensor = arg_is_tensor

    def backward(self, node, *gouts):
        from .tensor import Tensor

        gts = []
        for g, shape_dtype in zip(gouts, node.out_meta):
            if g is None:
                g = np.zeros(shape_dtype[0], dtype=shape_dtype[1])
            gts.append(Tensor._make(g))
        with no_grad():
            res = self.fn_cls.backward(self.ctx, *gts)
        if not isinstance(res, tuple):
            res = (res,)
        n_args = len(self.arg_is_tensor)
        if len(res) < n_args:
            res = res + (None,) * (n_args - len(res))
        out = []
        for is_t, r in zip(self.arg_is_tensor, res):
            if not is_t:
                continue
            if r is None:
                out.append(None)
            else:
                out.append(r.data if isinstance(r, Tensor) else np.asarray(r))
        return out


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grads)`;
    call it through `MyFn.apply(*args)`."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("subclasses of cg.autograd.Function define forward")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("subclasses of cg.autograd.Function define backward")

    @classmethod
    def apply(cls, *args):
        from .tensor import Tensor

        ctx = FunctionCtx()
        ctx._node = None
        ctx._to_save = ()
        is_t = tuple(isinstance(a, Tensor) for a in args)
        tensors = [a for a in args if isinstance(a, Tensor)]
        record = _mode.enabled and any(t.requires_grad for t in tensors)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        outs = tuple(o if isinstance(o, Tensor) else Tensor._make(np.asarray(o)) for o in outs)
        if record:
            op = _CustomOp(cls, ctx, is_t)
            node = Node(op, tuple(tensors),
                        tuple(t.requires_grad for t in tensors))
            node.n_outputs = len(outs)
            node.out_meta = [(o.data.shape, o.data.dtype) for o in outs]
            ctx._node = node
            ctx._saved_tensors = tuple(ctx._to_save)
            node._saved = tuple((t._vc, t._vc[0], "a saved tensor")
                                for t in ctx._to_save if t is not None)
            non_diff = {id(t) for t in getattr(ctx, "_non_diff", ())}
            new = []
            for i, o in enumerate(outs):
                if id(o) in non_diff or o.data.dtype.kind != "f":
                    new.append(o)
                    continue
                if o.grad_fn is not None or o.requires_grad or any(o is t for t in tensors):
                    o = Tensor._make(o.data)          # a fresh output tensor owns the node
                o.requires_grad = True
                o.grad_fn = node
                o._out_idx = i
                new.append(o)
            outs = tuple(new)
        return outs if multi else outs[0]
