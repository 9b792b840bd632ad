"""cgrad.autograd: gradients on demand (`grad`, `backward`) and custom ops
(`Function`). The engine's contract is in engine.py; the grad-mode switches
(`no_grad`, ...) live in grad_mode.py and are re-exported here, as in torch.

This module sits above tensor.py: it builds on Tensor, and tensor.py never
imports it.
"""

import numpy as np

from ._tape import Node
from .engine import root_grad, run_backward
from .grad_mode import _mode, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Tensor

__all__ = [
    "grad",
    "backward",
    "Function",
    "FunctionCtx",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "Node",
]


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """Gradients of outputs with respect to inputs, returned as a tuple; .grad untouched."""
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
    gs = [root_grad(t, g, "grad") for t, g in zip(outputs, grad_outputs)]
    return run_backward(
        outputs, gs, retain_graph=retain_graph, inputs=inputs, allow_unused=allow_unused
    )


def backward(tensors, grad_tensors=None, retain_graph=None):
    """Accumulate the gradients of `tensors` into the leaves' .grad, as
    torch.autograd.backward: one backward pass from several roots."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors]
    if len(grad_tensors) != len(tensors):
        raise ValueError(f"backward: {len(tensors)} tensors but {len(grad_tensors)} gradients")
    gs = [root_grad(t, g, "backward") for t, g in zip(tensors, grad_tensors)]
    run_backward(tensors, gs, retain_graph=bool(retain_graph))


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
                "were freed); specify retain_graph=True"
            )
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
            node = Node(op, tuple(tensors), tuple(t.requires_grad for t in tensors))
            node.n_outputs = len(outs)
            node.out_meta = [(o.data.shape, o.data.dtype) for o in outs]
            ctx._node = node
            ctx._saved_tensors = tuple(ctx._to_save)
            node._saved = tuple(
                (t._vc, t._vc[0], "a saved tensor") for t in ctx._to_save if t is not None
            )
            non_diff = {id(t) for t in getattr(ctx, "_non_diff", ())}
            new = []
            for i, o in enumerate(outs):
                if id(o) in non_diff or o.data.dtype.kind != "f":
                    new.append(o)
                    continue
                if o.grad_fn is not None or o.requires_grad or any(o is t for t in tensors):
                    o = Tensor._make(o.data)  # a fresh output tensor owns the node
                o.requires_grad = True
                o.grad_fn = node
                o._out_idx = i
                new.append(o)
            outs = tuple(new)
        return outs if multi else outs[0]
