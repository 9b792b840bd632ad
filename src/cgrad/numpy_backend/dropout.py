"""Dropout, forward and backward, with uniforms drawn by the caller."""
# SPDX-License-Identifier: MIT

import numpy as np

from ._checks import _at_least_1d, _contig, _dtype_of, _float_param, _same_shape, _writable

# The kernels of this family (the package exports them: the backend interface).
__all__ = ["dropout_forward", "dropout_backward"]


# ---------------------------------------------------------------- dropout
# u: uniforms in [0, 1) drawn by the caller, same shape and dtype as x.
# p is compared with u in the arrays' dtype (NumPy's rule for a Python float).


def _check_dropout_p(fn, p):
    p = _float_param(fn, "p", p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{fn}: p must be in [0, 1), got {p} (p == 1 is the caller's: all zeros)")
    return p


def dropout_forward(y, x, u, p):
    """y = x * (u >= p) / (1 - p)   (a dropped NaN stays NaN: x * 0)"""
    fn = "dropout_forward"
    _dtype_of(fn, y=y, x=x, u=u)
    _contig(fn, y=y, x=x, u=u)
    _writable(fn, y=y)
    _same_shape(fn, x.shape, y=y, u=u)
    p = _check_dropout_p(fn, p)
    y, x, u = _at_least_1d(y, x, u)
    with np.errstate(over="ignore", invalid="ignore"):
        keep = u >= p
        np.multiply(x, keep, out=y)
        np.divide(y, 1.0 - p, out=y)


def dropout_backward(dx, dy, u, p):
    """dx += dy * (u >= p) / (1 - p)"""
    fn = "dropout_backward"
    _dtype_of(fn, ("dx",), dx=dx, dy=dy, u=u)
    _contig(fn, dx=dx, dy=dy, u=u)
    _writable(fn, dx=dx)
    _same_shape(fn, u.shape, dx=dx, dy=dy)
    p = _check_dropout_p(fn, p)
    if dx is None:
        return
    dx, dy, u = _at_least_1d(dx, dy, u)
    with np.errstate(over="ignore", invalid="ignore"):
        g = np.multiply(dy, u >= p)
        np.divide(g, 1.0 - p, out=g)
        dx += g
