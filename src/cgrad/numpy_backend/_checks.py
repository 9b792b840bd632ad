"""Argument checks shared by the NumPy kernels: dtype, contiguity,
writability and shape checks, the unary and binary argument checks, float
parameters, and the helpers of the nn, loss and optimizer kernels (int flags,
ndim, class targets).
"""
# SPDX-License-Identifier: MIT

import numpy as np

from ..optable import LINEAR_ACTS, REDUCTIONS

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------- validation
# Each check names the function, the argument and what was wrong, so a bad
# call reads the same on both backends.


def _dtype_of(fn, optional=(), **arrays):
    """The one float dtype shared by every array given; None is allowed only for
    the names in `optional` (gradient outputs, which are then skipped)."""
    dtype = None
    first = None
    for name, a in arrays.items():
        if a is None and name in optional:
            continue
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{fn}: {name} must be a numpy.ndarray, got {type(a).__name__}")
        if a.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"{fn}: {name} has dtype {a.dtype}; expected float32 or float64")
        if dtype is None:
            dtype, first = a.dtype, name
        elif a.dtype != dtype:
            raise TypeError(f"{fn}: mixed dtypes: {first} is {dtype} but {name} is {a.dtype}")
    return dtype


def _contig(fn, **arrays):
    for name, a in arrays.items():
        if a is not None and not a.flags.c_contiguous:
            raise ValueError(
                f"{fn}: {name} must be C-contiguous (strides {a.strides}, shape {a.shape})"
            )


def _writable(fn, **arrays):
    for name, a in arrays.items():
        if a is not None and not a.flags.writeable:
            raise ValueError(f"{fn}: {name} must be writable")


def _same_shape(fn, shape, **arrays):
    for name, a in arrays.items():
        if a is not None and a.shape != shape:
            raise ValueError(f"{fn}: {name} has shape {a.shape}; expected {shape}")


def _at_least_1d(*arrays):
    """0-d arrays as 1-element views (None kept), so that NumPy's temporaries stay
    arrays rather than scalars and out= works in every elementwise kernel."""
    if next(a for a in arrays if a is not None).ndim:
        return arrays
    return tuple(None if a is None else a.reshape(1) for a in arrays)


def _required(fn, needs, **arrays):
    """The arrays a kernel reads must be given: a ValueError naming the first missing."""
    for name, a in arrays.items():
        if a is None and name in needs:
            raise ValueError(f"{fn}: {name} is required")


def _check_unary_forward(fn, y, x):
    _dtype_of(fn, y=y, x=x)
    _contig(fn, y=y, x=x)
    _writable(fn, y=y)
    _same_shape(fn, x.shape, y=y)
    return _at_least_1d(y, x)


def _check_unary_backward(fn, dx, dy, x, y, reads=""):
    """reads: "x", "y" or "" (what the derivative is written in); the other
    may be None."""
    _dtype_of(fn, ("dx", "x", "y"), dx=dx, dy=dy, x=x, y=y)
    _required(fn, reads, x=x, y=y)
    _contig(fn, dx=dx, dy=dy, x=x, y=y)
    _writable(fn, dx=dx)
    _same_shape(fn, dy.shape, dx=dx, x=x, y=y)
    return _at_least_1d(dx, dy, x, y)


def _check_binary_forward(fn, out, a, b):
    _dtype_of(fn, out=out, a=a, b=b)
    _contig(fn, out=out)
    _writable(fn, out=out)
    _same_shape(fn, out.shape, a=a, b=b)
    return _at_least_1d(out, a, b)


def _check_binary_backward(fn, da, db, dout, a, b, out, reads=""):
    """reads: which of "a", "b", "o" (out) the derivatives are written in; the
    others may be None."""
    _dtype_of(fn, ("da", "db", "a", "b", "out"), da=da, db=db, dout=dout, a=a, b=b, out=out)
    _required(fn, reads.replace("o", "out"), a=a, b=b, out=out)
    _contig(fn, da=da, db=db, dout=dout, out=out)
    _writable(fn, da=da, db=db)
    _same_shape(fn, dout.shape, da=da, db=db, a=a, b=b, out=out)
    return _at_least_1d(da, db, dout, a, b, out)


def _float_param(fn, name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{fn}: {name} must be a float, got {type(value).__name__}")
    return float(value)


# ================================================================ nn, losses, optimizers
# The kernels of docs/kernels.md's section on nn, losses and optimizers.
# Same conventions as above. Class targets are int64 (N,) arrays whose entries are
# in [0, C) or equal to ignore_index; anything else raises IndexError before any write.

_ACT_NAMES = {code: name or "none" for name, (code, _, _) in LINEAR_ACTS.items()}
_REDUCTION_NAMES = {code: name for name, code in REDUCTIONS.items()}


def _int_code(fn, name, value, allowed):
    """An int flag (act, reduction) that must be one of the keys of `allowed`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__}")
    if int(value) not in allowed:
        codes = ", ".join(f"{k} {v}" for k, v in allowed.items())
        raise ValueError(f"{fn}: {name} must be one of {codes}; got {value}")
    return int(value)


def _int_param(fn, name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__}")
    return int(value)


def _ndim(fn, ndim, **arrays):
    for name, a in arrays.items():
        if a is not None and a.ndim != ndim:
            raise ValueError(f"{fn}: {name} must be {ndim}-D, got shape {a.shape}")


def _class_target(fn, target, n, ncls, ignore_index):
    """Check an int64 (n,) class target; ncls None skips the range check (nothing
    is written then). Returns ignore_index as an int."""
    if not isinstance(target, np.ndarray) or target.dtype != np.int64:
        raise TypeError(
            f"{fn}: target must be an int64 ndarray, got "
            f"{getattr(target, 'dtype', type(target).__name__)}"
        )
    _contig(fn, target=target)
    if target.shape != (n,):
        raise ValueError(f"{fn}: target has shape {target.shape}; expected ({n},)")
    ignore_index = _int_param(fn, "ignore_index", ignore_index)
    if not -(2**63) <= ignore_index < 2**63:
        raise ValueError(f"{fn}: ignore_index {ignore_index} does not fit in int64")
    if ncls is not None and n:
        bad = (target < 0) | (target >= ncls)
        bad &= target != ignore_index
        if bad.any():
            i = int(np.argmax(bad))
            raise IndexError(
                f"{fn}: target[{i}] = {int(target[i])} is out of range for "
                f"{ncls} classes (and is not ignore_index {ignore_index})"
            )
    return ignore_index
