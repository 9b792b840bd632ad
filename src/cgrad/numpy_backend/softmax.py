"""Softmax and log-softmax along one axis, forward and backward."""
# SPDX-License-Identifier: MIT

import numpy as np

from ._checks import _contig, _dtype_of, _same_shape, _writable

# The kernels of this family (the package exports them: the backend interface).
__all__ = ["softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward"]


# ---------------------------------------------------------------- softmax


def _check_softmax(fn, axis, **arrays):
    _dtype_of(fn, ("dx",), **arrays)
    _contig(fn, **arrays)
    names = list(arrays)
    _writable(fn, **{names[0]: arrays[names[0]]})
    ref = arrays[names[-1]]
    _same_shape(fn, ref.shape, **arrays)
    if (
        isinstance(axis, (bool, np.bool_))
        or not isinstance(axis, (int, np.integer))
        or not 0 <= axis < ref.ndim
    ):
        raise ValueError(
            f"{fn}: axis must be an int in [0, {ref.ndim}) for shape {ref.shape}, got {axis!r}"
        )
    return int(axis)


def softmax_forward(y, x, axis):
    """y = exp(x - max) / sum exp(x - max) along axis (all -inf rows give nan)"""
    axis = _check_softmax("softmax_forward", axis, y=y, x=x)
    if x.size == 0:
        return
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        np.subtract(x, m, out=y)
        np.exp(y, out=y)
        s = np.sum(y, axis=axis, keepdims=True)
        np.divide(y, s, out=y)


def softmax_backward(dx, dy, y, axis):
    """dx += y * (dy - sum(dy * y)) along axis"""
    axis = _check_softmax("softmax_backward", axis, dx=dx, dy=dy, y=y)
    if dx is None or y.size == 0:
        return
    with np.errstate(invalid="ignore", over="ignore"):
        t = dy * y
        s = np.sum(t, axis=axis, keepdims=True)
        np.subtract(dy, s, out=t)
        t *= y
        dx += t


def log_softmax_forward(y, x, axis):
    """y = x - max - log(sum exp(x - max)) along axis (all -inf rows give nan)"""
    axis = _check_softmax("log_softmax_forward", axis, y=y, x=x)
    if x.size == 0:
        return
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        np.subtract(x, m, out=y)
        lse = np.sum(np.exp(y), axis=axis, keepdims=True)
        np.log(lse, out=lse)
        np.subtract(y, lse, out=y)


def log_softmax_backward(dx, dy, y, axis):
    """dx += dy - exp(y) * sum(dy) along axis"""
    axis = _check_softmax("log_softmax_backward", axis, dx=dx, dy=dy, y=y)
    if dx is None or y.size == 0:
        return
    with np.errstate(invalid="ignore", over="ignore"):
        s = np.sum(dy, axis=axis, keepdims=True)
        t = np.exp(y)
        t *= s
        np.subtract(dy, t, out=t)
        dx += t
