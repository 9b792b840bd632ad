"""Reductions over a set of axes: sum, mean and amax, forward and backward."""
# SPDX-License-Identifier: MIT

import math

import numpy as np

from ._checks import _contig, _dtype_of, _same_shape, _writable

# The kernels of this family (the package exports them: the backend interface).
__all__ = [
    "sum_forward",
    "sum_backward",
    "mean_forward",
    "mean_backward",
    "amax_forward",
    "amax_backward",
]


# ---------------------------------------------------------------- reductions
# axes: a sorted tuple of distinct non-negative ints, non-empty. out/dout hold
# prod(kept dims) values, in keepdim or squeezed shape (only size and order count).


def _check_axes(fn, axes, ndim):
    if not isinstance(axes, tuple) or len(axes) == 0:
        raise ValueError(f"{fn}: axes must be a non-empty tuple of ints, got {axes!r}")
    prev = -1
    for ax in axes:
        if isinstance(ax, (bool, np.bool_)) or not isinstance(ax, (int, np.integer)):
            raise ValueError(f"{fn}: axes must be ints, got {axes!r}")
        if not prev < ax < ndim:
            raise ValueError(
                f"{fn}: axes {axes!r} must be sorted, distinct and in [0, {ndim}) "
                f"for an array of {ndim} dims"
            )
        prev = ax


def _kept_shape(shape, axes):
    """The keepdim shape: reduced dims set to 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _check_reduced(fn, name, arr, shape, axes):
    kept = _kept_shape(shape, axes)
    if arr.size != math.prod(kept):
        raise ValueError(
            f"{fn}: {name} has shape {arr.shape} ({arr.size} values); reducing "
            f"shape {shape} over axes {axes} needs {math.prod(kept)} values"
        )
    return arr.reshape(kept)  # a view: arr is C-contiguous


def _check_reduce_forward(fn, out, x, axes):
    _dtype_of(fn, out=out, x=x)
    _contig(fn, out=out, x=x)
    _writable(fn, out=out)
    _check_axes(fn, axes, x.ndim)
    return _check_reduced(fn, "out", out, x.shape, axes)


def sum_forward(out, x, axes):
    """out = sum of x over axes"""
    out_k = _check_reduce_forward("sum_forward", out, x, axes)
    with np.errstate(over="ignore", invalid="ignore"):
        np.sum(x, axis=axes, out=out_k, keepdims=True)


def sum_backward(dx, dout, axes):
    """dx += dout, broadcast back over axes"""
    fn = "sum_backward"
    _dtype_of(fn, ("dx",), dx=dx, dout=dout)
    _contig(fn, dx=dx, dout=dout)
    if dx is None:
        return
    _writable(fn, dx=dx)
    _check_axes(fn, axes, dx.ndim)
    dout_k = _check_reduced(fn, "dout", dout, dx.shape, axes)
    with np.errstate(over="ignore", invalid="ignore"):
        np.add(dx, dout_k, out=dx)


def mean_forward(out, x, axes):
    """out = sum over axes / count   (an empty reduction gives nan, as numpy)"""
    out_k = _check_reduce_forward("mean_forward", out, x, axes)
    count = math.prod(x.shape[ax] for ax in axes)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        np.sum(x, axis=axes, out=out_k, keepdims=True)
        np.divide(out_k, count, out=out_k)


def mean_backward(dx, dout, axes):
    """dx += dout / count, broadcast back over axes"""
    fn = "mean_backward"
    _dtype_of(fn, ("dx",), dx=dx, dout=dout)
    _contig(fn, dx=dx, dout=dout)
    if dx is None:
        return
    _writable(fn, dx=dx)
    _check_axes(fn, axes, dx.ndim)
    dout_k = _check_reduced(fn, "dout", dout, dx.shape, axes)
    count = math.prod(dx.shape[ax] for ax in axes)
    if count == 0:
        return  # dx is empty
    with np.errstate(over="ignore", invalid="ignore"):
        np.add(dx, dout_k / count, out=dx)


def _check_amax_groups(fn, shape, axes):
    if any(shape[ax] == 0 for ax in axes):
        raise ValueError(
            f"{fn}: cannot take the max over an empty group (shape {shape}, axes {axes})"
        )


def amax_forward(out, x, axes):
    """out = max of x over axes   (a NaN in a group gives NaN)"""
    fn = "amax_forward"
    out_k = _check_reduce_forward(fn, out, x, axes)
    _check_amax_groups(fn, x.shape, axes)
    np.max(x, axis=axes, out=out_k, keepdims=True)


def amax_backward(dx, dout, x, out, axes):
    """dx += dout / n where x == max of its group (n = number of maxima there), else 0.
    Ties share the gradient evenly (torch's rule for amax and full max())."""
    fn = "amax_backward"
    _dtype_of(fn, ("dx",), dx=dx, dout=dout, x=x, out=out)
    _contig(fn, dx=dx, dout=dout, x=x, out=out)
    _writable(fn, dx=dx)
    _check_axes(fn, axes, x.ndim)
    _same_shape(fn, x.shape, dx=dx)
    _check_amax_groups(fn, x.shape, axes)
    dout_k = _check_reduced(fn, "dout", dout, x.shape, axes)
    out_k = _check_reduced(fn, "out", out, x.shape, axes)
    if dx is None:
        return
    at_max = x == out_k
    n = np.sum(at_max, axis=axes, keepdims=True, dtype=dx.dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        share = dout_k / n  # n == 0 only for a NaN group: masked out below
        np.add(dx, share, out=dx, where=at_max)
