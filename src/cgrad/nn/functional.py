"""cgrad.nn.functional (conventionally F): layers, activations and losses as functions.

Names, argument order and defaults follow torch.nn.functional. Losses take
reduction="mean" | "sum" | "none".
"""

import numbers

import numpy as np

from .. import _tape, ops_nn
from ..creation import generator
from ..methods import functional_forms
from ..ops import apply, broadcast_shape
from ..tensor import Tensor, to_array

_FORMS = functional_forms()

__all__ = list(_FORMS) + [
    "linear",
    "dropout",
    "mse_loss",
    "l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll_loss",
]


def _t(x, who):
    if isinstance(x, Tensor):
        return x
    return Tensor._make(to_array(x, None, who))


def _float(x, who):
    x = _t(x, who)
    if x.data.dtype.kind != "f":
        raise TypeError(f"{who}: expected a float32 or float64 tensor, got {x.data.dtype}")
    return x


# ------------------------------------------------------------ activations
# relu, leaky_relu, sigmoid, tanh, softplus, gelu, softmax, log_softmax, ...:
# one per op-table row with functional=True, with torch's signature.
globals().update(_FORMS)


# ------------------------------------------------------------ layers
def linear(input, weight, bias=None, activation=None):
    """y = input @ weight^T + bias, then an optional fused activation
    (None, "relu", "gelu" or "gelu_tanh": one kernel pass, one tape entry).
    2-D float inputs of one dtype take a compiled path (_tape.linear); the
    rest is checked, converted and flattened by tensor.linear."""
    return _tape.linear(input, weight, bias, activation)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    x = _float(input, "dropout")
    if isinstance(p, (str, bytes)) or not isinstance(p, numbers.Real):
        raise TypeError(f"dropout: p must be a real number, got {type(p).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x.mul_(0.0) if inplace else x * 0.0
    u = generator().random(x.shape, dtype=x.data.dtype)
    if inplace:
        return x._inplace_op(lambda t: apply(ops_nn.Dropout, t, u=u, p=float(p)), "dropout")
    return apply(ops_nn.Dropout, x, u=u, p=float(p))


# ------------------------------------------------------------ losses
def _check_reduction(who, reduction):
    if reduction not in ops_nn.REDUCTION:
        raise ValueError(f"{who}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _pair(who, input, target):
    """input and target as float tensors of one dtype and one (broadcast) shape."""
    x, t = _float(input, who), _t(target, who)
    if t.data.dtype.kind != "f":
        t = t.to(x.data.dtype)
    shape = broadcast_shape(who, x.shape, t.shape)
    dt = np.promote_types(x.data.dtype, t.data.dtype)
    x = x if x.data.dtype == dt else x.to(dt)
    t = t if t.data.dtype == dt else t.to(dt)
    if x.shape != shape:
        x = x.expand(shape).contiguous()
    if t.shape != shape:
        t = t.expand(shape).contiguous()
    return x, t


def _elementwise(op, who, input, target, reduction):
    _check_reduction(who, reduction)
    x, t = _pair(who, input, target)
    return apply(op, x, t, reduction=reduction)


def mse_loss(input, target, reduction="mean"):
    """mean((input - target)^2)"""
    return _elementwise(ops_nn.MseLoss, "mse_loss", input, target, reduction)


def l1_loss(input, target, reduction="mean"):
    """mean(|input - target|)"""
    return _elementwise(ops_nn.L1Loss, "l1_loss", input, target, reduction)


def binary_cross_entropy(input, target, reduction="mean"):
    """-mean(t log p + (1 - t) log(1 - p)), on probabilities p (logs clamped at -100)"""
    x = _float(input, "binary_cross_entropy").data
    if x.size and not ((x >= 0) & (x <= 1) | np.isnan(x)).all():
        raise ValueError(
            "binary_cross_entropy: all elements of input should be between 0 and 1 "
            "(pass logits to binary_cross_entropy_with_logits instead)"
        )
    return _elementwise(ops_nn.BinaryCrossEntropy, "binary_cross_entropy", input, target, reduction)


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """binary_cross_entropy(sigmoid(input), target), computed stably from the logits"""
    return _elementwise(
        ops_nn.BinaryCrossEntropyWithLogits,
        "binary_cross_entropy_with_logits",
        input,
        target,
        reduction,
    )


def _class_target(who, x, target, ignore_index):
    """(N, C) logits with (N,) int64 targets; a 1-D input is one sample."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"{who}: ignore_index must be an int, got {ignore_index!r}")
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{who}: class targets must be integers, got {t.dtype}")
    if t.ndim > 1:
        raise ValueError(
            f"{who}: class targets must be 1-D (one class per row), got shape {t.shape}"
        )
    if t.dtype != np.int64 or t.ndim != 1 or not t.flags.c_contiguous:
        t = (
            np.ascontiguousarray(t, dtype=np.int64).reshape(-1)
            if t.ndim
            else t.astype(np.int64).reshape(1)
        )
    if t.shape[0] != x.shape[0]:
        raise ValueError(
            f"{who}: input has {x.shape[0]} rows but target has {t.shape[0]} entries "
            f"(input shape {x.shape}, target shape {tuple(np.shape(target))})"
        )
    # Each class must be in [0, C) or be ignore_index: the kernels check that
    # (IndexError naming the value, the row and C) before they compute anything.
    return t


def _with_op_name(who, op, x, **params):
    """apply(op, x, **params); a bad class target (IndexError from the kernel,
    which names itself) is re-raised naming the public op too."""
    try:
        return apply(op, x, **params)
    except IndexError as e:
        raise IndexError(f"{who}: {e}") from None


def cross_entropy(input, target, ignore_index=-100, reduction="mean"):
    """Softmax cross-entropy on logits (N, C), fused: class targets (N,) int64,
    or class probabilities (N, C)."""
    who = "cross_entropy"
    _check_reduction(who, reduction)
    x = _float(input, who)
    one = x.ndim == 1
    if one:
        x = x.unsqueeze(0)
    if x.ndim != 2:
        raise ValueError(f"{who}: expected logits of shape (N, C) or (C,), got {x.shape}")
    tdt = target.data.dtype if isinstance(target, Tensor) else np.asarray(target).dtype
    if tdt.kind == "f":
        t = _t(target, who)
        t = t.unsqueeze(0) if one else t
        if t.shape != x.shape:
            raise ValueError(
                f"{who}: probability targets must have the input's shape; "
                f"got input {x.shape} and target {t.shape}"
            )
        t = t if t.data.dtype == x.data.dtype else t.to(x.data.dtype)
        out = apply(ops_nn.CrossEntropyProb, x, t, reduction=reduction)
    else:
        t = _class_target(who, x, target, ignore_index)
        out = _with_op_name(
            who,
            ops_nn.CrossEntropy,
            x,
            target=t,
            ignore_index=int(ignore_index),
            reduction=reduction,
        )
    return out.reshape(()) if one and reduction == "none" else out


def nll_loss(input, target, ignore_index=-100, reduction="mean"):
    """-mean(input[i, target_i]) on log-probabilities (N, C)."""
    who = "nll_loss"
    _check_reduction(who, reduction)
    x = _float(input, who)
    one = x.ndim == 1
    if one:
        x = x.unsqueeze(0)
    if x.ndim != 2:
        raise ValueError(
            f"{who}: expected log-probabilities of shape (N, C) or (C,), got {x.shape}"
        )
    t = _class_target(who, x, target, ignore_index)
    out = _with_op_name(
        who, ops_nn.NLL, x, target=t, ignore_index=int(ignore_index), reduction=reduction
    )
    return out.reshape(()) if one and reduction == "none" else out
