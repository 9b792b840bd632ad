"""The linear layer with a fused activation (none, relu, gelu, gelu tanh),
forward and backward.
"""
# SPDX-License-Identifier: MIT

import numpy as np

from ._checks import _ACT_NAMES, _contig, _dtype_of, _int_code, _ndim, _same_shape, _writable
from .unary import _gelu64, _gelu_grad64

# The kernels of this family (the package exports them: the backend interface).
__all__ = ["linear_forward", "linear_backward"]


# ---------------------------------------------------------------- linear (+ activation)
# x (N, IN), w (OUT, IN) (torch's layout), b (OUT,) or None, y, z, scratch (N, OUT).
# act: 0 none, 1 relu, 2 gelu (erf), 3 gelu (tanh).


def _check_linear_operands(fn, x, w):
    _ndim(fn, 2, x=x, w=w)
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"{fn}: x {x.shape} and w {w.shape} disagree on IN (x is (N, IN), w is (OUT, IN))"
        )
    return x.shape[0], x.shape[1], w.shape[0]


def linear_forward(y, z, x, w, b, act):
    """z = x w^T + b (the pre-activation, stored when z is given);  y = act(z).
    z may be None for act 0 and 1; gelu needs it, its backward reads z."""
    fn = "linear_forward"
    _dtype_of(fn, ("z", "b"), y=y, z=z, x=x, w=w, b=b)
    act = _int_code(fn, "act", act, _ACT_NAMES)
    _contig(fn, y=y, z=z, x=x, w=w, b=b)
    _writable(fn, y=y, z=z)
    N, IN, OUT = _check_linear_operands(fn, x, w)
    _same_shape(fn, (OUT,), b=b)
    _same_shape(fn, (N, OUT), y=y, z=z)
    if z is None and act >= 2:
        raise ValueError(
            f"{fn}: z (N, OUT) is required for act={act} ({_ACT_NAMES[act]}): "
            f"its backward reads the pre-activation"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        t = np.matmul(x, w.T)  # (N, OUT), a new array; w.T is a view
        if b is not None:
            t += b
        if z is not None:
            np.copyto(z, t)
        if act == 0:
            np.copyto(y, t)
        elif act == 1:
            np.maximum(t, 0, out=y)
        else:
            np.copyto(y, _gelu64(t, act == 3), casting="same_kind")


def linear_backward(dx, dw, db, dy, x, w, z, y, act, scratch, accumulate=True):
    """dz = dy * act'(z), written into scratch (act != 0; for act 0, dz is dy);
    dx += dz w;  dw += dz^T x;  db += sum over rows of dz
    (accumulate=False: the three are overwritten, never read).
    relu reads y (dz = dy where y > 0, else 0); gelu reads z."""
    fn = "linear_backward"
    _dtype_of(
        fn,
        ("dx", "dw", "db", "z", "y", "scratch"),
        dx=dx,
        dw=dw,
        db=db,
        dy=dy,
        x=x,
        w=w,
        z=z,
        y=y,
        scratch=scratch,
    )
    act = _int_code(fn, "act", act, _ACT_NAMES)
    _contig(fn, dx=dx, dw=dw, db=db, dy=dy, x=x, w=w, z=z, y=y, scratch=scratch)
    _writable(fn, dx=dx, dw=dw, db=db, scratch=scratch)
    N, IN, OUT = _check_linear_operands(fn, x, w)
    _same_shape(fn, (N, IN), dx=dx)
    _same_shape(fn, (OUT, IN), dw=dw)
    _same_shape(fn, (OUT,), db=db)
    _same_shape(fn, (N, OUT), dy=dy, z=z, y=y, scratch=scratch)
    if act == 1 and y is None:
        raise ValueError(f"{fn}: y is required for act=1 (relu): its backward reads y")
    if act >= 2 and z is None:
        raise ValueError(
            f"{fn}: z is required for act={act} ({_ACT_NAMES[act]}): "
            f"its backward reads the pre-activation"
        )
    if dx is None and dw is None and db is None:
        return  # no gradient wanted: scratch is not needed either
    if act != 0 and scratch is None:
        raise ValueError(f"{fn}: scratch (N, OUT) is required for act={act} ({_ACT_NAMES[act]})")
    if not accumulate:  # overwrite: start the sums from zero
        for o in (dx, dw, db):
            if o is not None:
                o.fill(0)
    if N == 0:
        return  # every sum is empty: dw and db are left as they are
    with np.errstate(over="ignore", invalid="ignore"):
        if act == 0:
            dz = dy
        elif act == 1:
            dz = scratch
            dz.fill(0)
            np.copyto(dz, dy, where=y > 0)
        else:
            d = _gelu_grad64(z, act == 3)
            d *= dy
            dz = scratch
            np.copyto(dz, d, casting="same_kind")
        if dx is not None:
            dx += np.matmul(dz, w)  # (N, OUT) @ (OUT, IN)
        if dw is not None:
            dw += np.matmul(dz.T, x)  # (OUT, N) @ (N, IN); dz.T is a view
        if db is not None:
            db += np.sum(dz, axis=0)
