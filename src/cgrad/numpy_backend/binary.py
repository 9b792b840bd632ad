"""Elementwise binary kernels with broadcasting (add, sub, mul, div, pow) and
accumulate (dst += src).
"""
# SPDX-License-Identifier: MIT

import numpy as np

from ._checks import (
    _check_binary_backward,
    _check_binary_forward,
    _contig,
    _dtype_of,
    _same_shape,
    _writable,
)

# The kernels of this family (the package exports them: the backend interface).
__all__ = [
    "add_forward",
    "add_backward",
    "sub_forward",
    "sub_backward",
    "mul_forward",
    "mul_backward",
    "div_forward",
    "div_backward",
    "pow_forward",
    "pow_backward",
    "accumulate",
]


# ---------------------------------------------------------------- elementwise binary
# a, b: any strides (0 for broadcast dims), shape exactly that of out.
# da, db: full output shape, or None to skip; the caller sums broadcast dims.


def add_forward(out, a, b):
    """out = a + b"""
    out, a, b = _check_binary_forward("add_forward", out, a, b)
    with np.errstate(over="ignore", invalid="ignore"):
        np.add(a, b, out=out)


def add_backward(da, db, dout, a, b, out):
    """da += dout;  db += dout"""
    da, db, dout, a, b, out = _check_binary_backward("add_backward", da, db, dout, a, b, out)
    with np.errstate(over="ignore", invalid="ignore"):
        if da is not None:
            np.add(da, dout, out=da)
        if db is not None:
            np.add(db, dout, out=db)


def sub_forward(out, a, b):
    """out = a - b"""
    out, a, b = _check_binary_forward("sub_forward", out, a, b)
    with np.errstate(over="ignore", invalid="ignore"):
        np.subtract(a, b, out=out)


def sub_backward(da, db, dout, a, b, out):
    """da += dout;  db -= dout"""
    da, db, dout, a, b, out = _check_binary_backward("sub_backward", da, db, dout, a, b, out)
    with np.errstate(over="ignore", invalid="ignore"):
        if da is not None:
            np.add(da, dout, out=da)
        if db is not None:
            np.subtract(db, dout, out=db)


def mul_forward(out, a, b):
    """out = a * b"""
    out, a, b = _check_binary_forward("mul_forward", out, a, b)
    with np.errstate(over="ignore", invalid="ignore"):
        np.multiply(a, b, out=out)


def mul_backward(da, db, dout, a, b, out):
    """da += dout * b;  db += dout * a"""
    da, db, dout, a, b, out = _check_binary_backward("mul_backward", da, db, dout, a, b, out, "ab")
    with np.errstate(over="ignore", invalid="ignore"):
        if da is not None:
            da += dout * b
        if db is not None:
            db += dout * a


def div_forward(out, a, b):
    """out = a / b   (x/0 = +-inf, 0/0 = nan)"""
    out, a, b = _check_binary_forward("div_forward", out, a, b)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        np.divide(a, b, out=out)


def div_backward(da, db, dout, a, b, out):
    """da += dout / b;  db -= dout * a / b^2, written as dout * out / b"""
    da, db, dout, a, b, out = _check_binary_backward("div_backward", da, db, dout, a, b, out, "abo")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if da is not None:
            da += dout / b
        if db is not None:
            t = dout * out
            np.divide(t, b, out=t)
            db -= t


def pow_forward(out, a, b):
    """out = a ** b   (nan for a < 0 with non-integer b; 0 ** -1 = inf)"""
    out, a, b = _check_binary_forward("pow_forward", out, a, b)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        np.power(a, b, out=out)


def pow_backward(da, db, dout, a, b, out):
    """da += dout * b * a^(b-1), taken as 0 where b == 0 (torch);
    db += dout * out * log(a), taken as 0 where a == 0 and b >= 0 (torch)."""
    da, db, dout, a, b, out = _check_binary_backward("pow_backward", da, db, dout, a, b, out, "abo")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if da is not None:
            t = np.subtract(b, 1, dtype=da.dtype)
            np.power(a, t, out=t)
            t *= b
            t *= dout
            np.add(da, t, out=da, where=b != 0)
        if db is not None:
            t = np.log(a, dtype=db.dtype)
            t *= out
            t *= dout
            zero = a == 0
            zero &= b >= 0
            np.add(db, t, out=db, where=~zero)


# ---------------------------------------------------------------- accumulate


def accumulate(dst, src):
    """dst += src   (the tape sums fan-out gradients with this)"""
    _dtype_of("accumulate", dst=dst, src=src)
    _contig("accumulate", dst=dst, src=src)
    _writable("accumulate", dst=dst)
    _same_shape("accumulate", dst.shape, src=src)
    with np.errstate(over="ignore", invalid="ignore"):
        np.add(dst, src, out=dst)
