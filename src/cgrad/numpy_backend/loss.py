"""Losses: cross-entropy (class and probability targets) and NLL over rows,
and the elementwise losses (mse, l1, bce, bce with logits) with a fused
reduction.
"""
# SPDX-License-Identifier: MIT

import numpy as np

from ._checks import (
    _REDUCTION_NAMES,
    _class_target,
    _contig,
    _dtype_of,
    _int_code,
    _ndim,
    _same_shape,
    _writable,
)
from .unary import _sigmoid_into

# The kernels of this family (the package exports them: the backend interface).
__all__ = [
    "cross_entropy_forward",
    "cross_entropy_backward",
    "cross_entropy_prob_forward",
    "cross_entropy_prob_backward",
    "nll_forward",
    "nll_backward",
    "mse_forward",
    "mse_backward",
    "l1_forward",
    "l1_backward",
    "bce_forward",
    "bce_backward",
    "bce_logits_forward",
    "bce_logits_backward",
]


# ---------------------------------------------------------------- cross-entropy, NLL
# logits, p (N, C); loss, dloss (N,). The mean over rows is the caller's (dloss).


def _softmax_rows(p, logits):
    """p = softmax of each row; returns (shifted, log_s): logits - row max, and the
    log of the row sums of exp(shifted), so log_softmax = shifted - log_s."""
    m = np.max(logits, axis=1, keepdims=True)
    shifted = logits - m  # a new array (p may not alias it)
    np.exp(shifted, out=p)
    s = np.sum(p, axis=1, keepdims=True)
    np.divide(p, s, out=p)
    return shifted, np.log(s)


def _check_ce_logits(fn, loss, p, logits, optional=()):
    _dtype_of(fn, optional, loss=loss, p=p, logits=logits)
    _contig(fn, loss=loss, p=p, logits=logits)
    _ndim(fn, 2, logits=logits)
    _same_shape(fn, logits.shape, p=p)
    _same_shape(fn, logits.shape[:1], loss=loss)
    return logits.shape


def cross_entropy_forward(loss, p, logits, target, ignore_index):
    """p = softmax(logits_i);  loss_i = logsumexp(logits_i) - logits_i[t_i]
    (max subtracted first; 0 for a row whose target is ignore_index)."""
    fn = "cross_entropy_forward"
    N, Cn = _check_ce_logits(fn, loss, p, logits)
    _writable(fn, loss=loss, p=p)
    ignore_index = _class_target(fn, target, N, Cn, ignore_index)
    if N == 0:
        return
    if Cn == 0:  # every row is ignored (checked above)
        loss.fill(0)
        return
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        keep = target != ignore_index
        shifted, log_s = _softmax_rows(p, logits)
        rows = np.arange(N)
        picked = shifted[rows, np.where(keep, target, 0)]
        np.subtract(log_s[:, 0], picked, out=loss)
        loss[~keep] = 0


def cross_entropy_backward(dlogits, dloss, p, target, ignore_index):
    """dlogits_i += (p_i - onehot(t_i)) * dloss_i   (rows with ignore_index: nothing)"""
    fn = "cross_entropy_backward"
    _dtype_of(fn, ("dlogits",), dlogits=dlogits, dloss=dloss, p=p)
    _contig(fn, dlogits=dlogits, dloss=dloss, p=p)
    _writable(fn, dlogits=dlogits)
    _ndim(fn, 2, p=p)
    N, Cn = p.shape
    _same_shape(fn, p.shape, dlogits=dlogits)
    _same_shape(fn, (N,), dloss=dloss)
    ignore_index = _class_target(fn, target, N, Cn, ignore_index)
    if dlogits is None or N == 0 or Cn == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        keep = target != ignore_index
        t = p.copy()
        rows = np.nonzero(keep)[0]
        t[rows, target[rows]] -= 1
        t *= dloss[:, None]
        np.add(dlogits, t, out=dlogits, where=keep[:, None])


def cross_entropy_prob_forward(loss, p, logits, target):
    """p = softmax(logits_i);  loss_i = -sum_c target_ic * log_softmax(logits_i)_c
    (target (N, C): probabilities, same dtype as logits)."""
    fn = "cross_entropy_prob_forward"
    _dtype_of(fn, loss=loss, p=p, logits=logits, target=target)
    N, Cn = _check_ce_logits(fn, loss, p, logits)
    _contig(fn, target=target)
    _writable(fn, loss=loss, p=p)
    _same_shape(fn, logits.shape, target=target)
    if N == 0:
        return
    if Cn == 0:
        loss.fill(0)  # an empty sum
        return
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        logp, log_s = _softmax_rows(p, logits)
        logp -= log_s  # log_softmax
        logp *= target
        np.sum(logp, axis=1, out=loss)
        np.negative(loss, out=loss)


def cross_entropy_prob_backward(dlogits, dloss, p, target):
    """dlogits_i += (p_i * sum_c target_ic - target_i) * dloss_i"""
    fn = "cross_entropy_prob_backward"
    _dtype_of(fn, ("dlogits",), dlogits=dlogits, dloss=dloss, p=p, target=target)
    _contig(fn, dlogits=dlogits, dloss=dloss, p=p, target=target)
    _writable(fn, dlogits=dlogits)
    _ndim(fn, 2, p=p)
    _same_shape(fn, p.shape, dlogits=dlogits, target=target)
    _same_shape(fn, p.shape[:1], dloss=dloss)
    if dlogits is None or p.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        t = p * np.sum(target, axis=1, keepdims=True)
        t -= target
        t *= dloss[:, None]
        dlogits += t


def nll_forward(loss, x, target, ignore_index):
    """loss_i = -x[i, t_i]   (0 for a row whose target is ignore_index)"""
    fn = "nll_forward"
    _dtype_of(fn, loss=loss, x=x)
    _contig(fn, loss=loss, x=x)
    _writable(fn, loss=loss)
    _ndim(fn, 2, x=x)
    N, Cn = x.shape
    _same_shape(fn, (N,), loss=loss)
    ignore_index = _class_target(fn, target, N, Cn, ignore_index)
    if N == 0:
        return
    keep = target != ignore_index
    loss.fill(0)
    rows = np.nonzero(keep)[0]
    loss[rows] = -x[rows, target[rows]]


def nll_backward(dx, dloss, target, ignore_index):
    """dx[i, t_i] -= dloss_i   (rows whose target is ignore_index: nothing)"""
    fn = "nll_backward"
    _dtype_of(fn, ("dx",), dx=dx, dloss=dloss)
    _contig(fn, dx=dx, dloss=dloss)
    _writable(fn, dx=dx)
    _ndim(fn, 1, dloss=dloss)
    _ndim(fn, 2, dx=dx)
    N = dloss.shape[0]
    if dx is not None and dx.shape[0] != N:
        raise ValueError(
            f"{fn}: dx has shape {dx.shape}; expected ({N}, C) for dloss {dloss.shape}"
        )
    ignore_index = _class_target(fn, target, N, None if dx is None else dx.shape[1], ignore_index)
    if dx is None or N == 0:
        return
    rows = np.nonzero(target != ignore_index)[0]
    with np.errstate(over="ignore", invalid="ignore"):
        dx[rows, target[rows]] -= dloss[rows]  # one entry per row: no repeats


# ---------------------------------------------------------------- elementwise losses
# <loss>_forward(out, x, t, reduction);  <loss>_backward(dx, dt, dout, x, t, reduction).
# reduction: 0 none (out, dout shaped like x), 1 mean, 2 sum (out, dout 0-d).
# Backward uses dl = dout (none, sum) or dout / n (mean) for every element.


def _check_loss_forward(fn, out, x, t, reduction):
    _dtype_of(fn, out=out, x=x, t=t)
    reduction = _int_code(fn, "reduction", reduction, _REDUCTION_NAMES)
    _contig(fn, out=out, x=x, t=t)
    _writable(fn, out=out)
    _same_shape(fn, x.shape, t=t)
    _same_shape(fn, x.shape if reduction == 0 else (), out=out)
    return reduction, x.reshape(-1), t.reshape(-1)  # views: contiguous


def _reduce_loss(out, loss, reduction):
    """out = loss (none), mean(loss) or sum(loss); loss is a 1-D temporary."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if reduction == 0:
            np.copyto(out.reshape(-1), loss)
        else:
            s = np.sum(loss)
            if reduction == 1:
                s = np.divide(s, loss.size)  # 0/0 = nan for an empty mean, as torch
            out[...] = s


def _check_loss_backward(fn, dx, dt, dout, x, t, reduction):
    """Returns (reduction, dx, dt, dl, x, t) as 1-D views (dx, dt may be None),
    dl shaped to broadcast; None for dl when there is nothing to do."""
    _dtype_of(fn, ("dx", "dt"), dx=dx, dt=dt, dout=dout, x=x, t=t)
    reduction = _int_code(fn, "reduction", reduction, _REDUCTION_NAMES)
    _contig(fn, dx=dx, dt=dt, dout=dout, x=x, t=t)
    _writable(fn, dx=dx, dt=dt)
    _same_shape(fn, x.shape, dx=dx, dt=dt, t=t)
    _same_shape(fn, x.shape if reduction == 0 else (), dout=dout)
    flat = [None if a is None else a.reshape(-1) for a in (dx, dt, x, t)]
    n = x.size
    if (dx is None and dt is None) or n == 0:
        dl = None
    elif reduction == 0:
        dl = dout.reshape(-1)
    elif reduction == 2:
        dl = dout.reshape(1)
    else:
        dl = dout.reshape(1) / n
    return (reduction, flat[0], flat[1], dl, flat[2], flat[3])


def mse_forward(out, x, t, reduction):
    """l = (x - t)^2, then reduced"""
    reduction, x, t = _check_loss_forward("mse_forward", out, x, t, reduction)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = x - t
        loss *= loss
    _reduce_loss(out, loss, reduction)


def mse_backward(dx, dt, dout, x, t, reduction):
    """dx += 2 (x - t) dl;  dt -= 2 (x - t) dl"""
    _, dx, dt, dl, x, t = _check_loss_backward("mse_backward", dx, dt, dout, x, t, reduction)
    if dl is None:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        g = x - t
        g *= 2
        g *= dl
        if dx is not None:
            dx += g
        if dt is not None:
            dt -= g


def l1_forward(out, x, t, reduction):
    """l = |x - t|, then reduced"""
    reduction, x, t = _check_loss_forward("l1_forward", out, x, t, reduction)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = x - t
        np.abs(loss, out=loss)
    _reduce_loss(out, loss, reduction)


def l1_backward(dx, dt, dout, x, t, reduction):
    """dx += sign(x - t) dl (0 where x == t, and where x - t is NaN: torch's sgn
    in abs' backward);  dt -= the same"""
    _, dx, dt, dl, x, t = _check_loss_backward("l1_backward", dx, dt, dout, x, t, reduction)
    if dl is None:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        g = x - t
        np.sign(g, out=g)
        np.copyto(g, 0, where=np.isnan(g))
        g *= dl
        if dx is not None:
            dx += g
        if dt is not None:
            dt -= g


def _clamped_logs(x):
    """max(log x, -100) and max(log(1 - x), -100), torch's clamp; log(1 - x) is
    taken as log1p(-x) (same value, without the rounding of 1 - x)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_x = np.log(x)
        log_1mx = np.log1p(-x)
    np.maximum(log_x, -100, out=log_x)  # NaN (x outside [0, 1]) propagates
    np.maximum(log_1mx, -100, out=log_1mx)
    return log_x, log_1mx


def bce_forward(out, x, t, reduction):
    """l = -(t max(log x, -100) + (1 - t) max(log(1 - x), -100)); x are probabilities"""
    reduction, x, t = _check_loss_forward("bce_forward", out, x, t, reduction)
    log_x, log_1mx = _clamped_logs(x)
    with np.errstate(over="ignore", invalid="ignore"):
        log_x *= t
        log_1mx *= 1 - t
        loss = log_x
        loss += log_1mx
        np.negative(loss, out=loss)
    _reduce_loss(out, loss, reduction)


def bce_backward(dx, dt, dout, x, t, reduction):
    """dx += dl (x - t) / max(x (1 - x), 1e-12)   (torch's epsilon);
    dt += dl (max(log(1 - x), -100) - max(log x, -100))"""
    _, dx, dt, dl, x, t = _check_loss_backward("bce_backward", dx, dt, dout, x, t, reduction)
    if dl is None:
        return
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if dx is not None:
            den = 1 - x
            den *= x
            np.maximum(den, 1e-12, out=den)
            g = x - t
            g *= dl
            g /= den
            dx += g
        if dt is not None:
            log_x, log_1mx = _clamped_logs(x)
            log_1mx -= log_x
            log_1mx *= dl
            dt += log_1mx


def bce_logits_forward(out, x, t, reduction):
    """l = max(x, 0) - x t + log1p(exp(-|x|))   (stable for any x; x are logits)"""
    reduction, x, t = _check_loss_forward("bce_logits_forward", out, x, t, reduction)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = np.abs(x)
        np.negative(loss, out=loss)
        np.exp(loss, out=loss)
        np.log1p(loss, out=loss)
        loss += np.maximum(x, 0)
        loss -= x * t
    _reduce_loss(out, loss, reduction)


def bce_logits_backward(dx, dt, dout, x, t, reduction):
    """dx += dl (sigmoid(x) - t);  dt += dl (-x)"""
    _, dx, dt, dl, x, t = _check_loss_backward("bce_logits_backward", dx, dt, dout, x, t, reduction)
    if dl is None:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if dx is not None:
            g = np.empty_like(x)
            _sigmoid_into(g, x)
            g -= t
            g *= dl
            dx += g
        if dt is not None:
            dt -= x * dl
