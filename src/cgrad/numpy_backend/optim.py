"""Optimizer steps (sgd_step, adam_step), in place, one parameter at a time."""
# SPDX-License-Identifier: MIT

import math

import numpy as np

from ._checks import _contig, _dtype_of, _float_param, _int_param, _same_shape, _writable

# The kernels of this family (the package exports them: the backend interface).
__all__ = ["sgd_step", "adam_step"]


# ---------------------------------------------------------------- optimizer steps
# In place, one parameter at a time, following torch.optim's single-tensor rules.
# Scalars (lr, betas, ...) are Python floats, rounded to the arrays' dtype where
# they meet them, as torch does.


def sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    """d = g + weight_decay p   (skipped when weight_decay == 0, as torch)
    if momentum != 0:  buf = d (first step) or momentum buf + (1 - dampening) d
                       d = d + momentum buf (nesterov) or buf
    p -= lr d.   buf may be None when momentum == 0."""
    fn = "sgd_step"
    _dtype_of(fn, ("buf",), p=p, g=g, buf=buf)
    _contig(fn, p=p, g=g, buf=buf)
    _writable(fn, p=p, buf=buf)
    _same_shape(fn, p.shape, g=g, buf=buf)
    lr = _float_param(fn, "lr", lr)
    momentum = _float_param(fn, "momentum", momentum)
    dampening = _float_param(fn, "dampening", dampening)
    weight_decay = _float_param(fn, "weight_decay", weight_decay)
    if momentum != 0 and buf is None:
        raise ValueError(f"{fn}: buf is required when momentum != 0 (momentum={momentum})")
    with np.errstate(over="ignore", invalid="ignore"):
        d = np.array(g, copy=True)
        if weight_decay != 0:
            d += weight_decay * p
        if momentum != 0:
            if first:
                np.copyto(buf, d)
            else:
                buf *= momentum
                buf += (1 - dampening) * d
            if nesterov:
                d += momentum * buf
            else:
                d = buf
        p -= lr * d


def adam_step(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled):
    """decoupled (AdamW): p *= 1 - lr weight_decay;  else g' = g + weight_decay p
    m = beta1 m + (1 - beta1) g';  v = beta2 v + (1 - beta2) g'^2
    p -= (lr / (1 - beta1^step)) m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
    step >= 1 is the count after this update. Weight decay 0 is skipped (torch)."""
    fn = "adam_step"
    _dtype_of(fn, p=p, g=g, m=m, v=v)
    _contig(fn, p=p, g=g, m=m, v=v)
    _writable(fn, p=p, m=m, v=v)
    _same_shape(fn, p.shape, g=g, m=m, v=v)
    lr = _float_param(fn, "lr", lr)
    beta1 = _float_param(fn, "beta1", beta1)
    beta2 = _float_param(fn, "beta2", beta2)
    eps = _float_param(fn, "eps", eps)
    weight_decay = _float_param(fn, "weight_decay", weight_decay)
    step = _int_param(fn, "step", step)
    if step < 1:
        raise ValueError(f"{fn}: step must be >= 1 (the count after this update), got {step}")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if weight_decay != 0:
            if decoupled:
                p *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * p
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * (g * g)
        bias1 = 1 - beta1**step
        bias2_sqrt = math.sqrt(1 - beta2**step)
        denom = np.sqrt(v)
        denom /= bias2_sqrt
        denom += eps
        t = m / denom
        t *= lr / bias1
        p -= t
