"""Function forms of the Tensor methods: cg.exp(t), cg.sum(t, dim), cg.cat(...)."""

import numpy as np

from . import ops
from .methods import function_forms
from .ops import apply
from .tensor import Tensor, matmul, to_array


def _t(x, who):
    if isinstance(x, Tensor):
        return x
    return Tensor._make(to_array(x, None, who))


# exp, log, ..., clamp, clip, sum, mean, amax, softmax, add, sub, mul, div,
# pow: one per op-table row with function=True (methods.py).
_FORMS = function_forms()
globals().update(_FORMS)


def _method(name):
    def fn(t, *args, **kwargs):
        return getattr(_t(t, name), name)(*args, **kwargs)

    fn.__name__ = name
    fn.__doc__ = f"cg.{name}(t, ...) is t.{name}(...)"
    return fn


# Composite methods, as functions.
_NAMES = (
    "amin max min argmax argmin reshape view flatten transpose permute unsqueeze squeeze expand"
).split()
globals().update({n: _method(n) for n in _NAMES})

# Built from the op table, so not a literal list (which PLE0605 asks for).
__all__ = list(_FORMS) + _NAMES  # noqa: PLE0605
__all__ += ["matmul", "isfinite", "isnan", "cat", "stack", "concatenate"]


def isfinite(t):
    """A bool tensor: True where t is neither NaN nor +-Inf."""
    return Tensor._make(np.isfinite(_t(t, "isfinite").data))


def isnan(t):
    return Tensor._make(np.isnan(_t(t, "isnan").data))


def _join(op, tensors, dim, who):
    if isinstance(tensors, (str, bytes)) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"{who}: expected a sequence of tensors, got {type(tensors).__name__}")
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{who}: dim must be an int, got {dim!r}")
    ts = [_t(x, who) for x in tensors]
    if not ts:
        raise ValueError(f"{who}: expected a non-empty sequence of tensors")
    floats = [x.data.dtype for x in ts if x.data.dtype.kind == "f"]
    dtype = np.result_type(*floats) if floats else np.result_type(*[x.data.dtype for x in ts])
    nd = ts[0].ndim + (1 if op is ops.Stack else 0)
    if nd == 0:
        raise ValueError(f"{who}: zero-dimensional tensors cannot be concatenated")
    if not -nd <= dim < nd:
        raise IndexError(f"{who}: dim {dim} is out of range for {nd} dimensions")
    axis = dim % nd
    for x in ts[1:]:
        same = (
            x.shape == ts[0].shape
            if op is ops.Stack
            else (
                x.ndim == ts[0].ndim
                and all(a == b for i, (a, b) in enumerate(zip(x.shape, ts[0].shape)) if i != axis)
            )
        )
        if not same:
            raise ValueError(
                f"{who}: shapes {ts[0].shape} and {x.shape} do not match outside dim {axis}"
            )
    if dtype.kind != "f":
        fn = np.stack if op is ops.Stack else np.concatenate
        return Tensor._make(fn([x.data for x in ts], axis=axis))
    return apply(op, *ts, axis=axis, dtype=dtype)


def cat(tensors, dim=0):
    """Concatenate along an existing dim (differentiable)."""
    return _join(ops.Cat, tensors, dim, "cat")


def stack(tensors, dim=0):
    """Stack along a new dim (differentiable)."""
    return _join(ops.Stack, tensors, dim, "stack")


concatenate = cat
