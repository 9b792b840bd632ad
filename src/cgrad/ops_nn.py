"""Ops for layers and losses, forward and backward side by side.

Same rules as ops.py: each op calls only the backend interface (fused
kernels: linear, cross-entropy, elementwise losses with their reduction,
dropout); NumPy does storage only. Integer targets are not tape inputs (they
never need a gradient); they travel as parameters.
"""

import numpy as np

from . import backend as _bk
from . import optable
from .ops import Op, _broadcast, _c, _zeros_if, build_family, class_name, implements

ACT = {name: code for name, (code, _, _) in optable.LINEAR_ACTS.items()}
REDUCTION = optable.REDUCTIONS
# the act codes whose backward reads the pre-activation z (their row saves x)
ACT_NEEDS_Z = frozenset(
    code
    for code, r, _ in optable.LINEAR_ACTS.values()
    if r is not None and "x" in optable.row(r).saves
)
_ACT_BY_CODE = {code: (name, r, p) for name, (code, r, p) in optable.LINEAR_ACTS.items()}


@implements("linear")
class Linear(Op):
    """z = x W^T + b, y = act(z);  dz = dy * act'(z), dx = dz W, dW = dz^T x, db = sum_rows dz.

    x is (..., IN); the leading dims are flattened into rows for the kernel."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, x, w, b=None, act=0):
        lead = x.shape[:-1]
        # explicit row count: with in_features == 0 a -1 could not be inferred
        x2 = _c(x).reshape(int(np.prod(x.shape[:-1], dtype=np.int64)), x.shape[-1])
        y = np.empty((x2.shape[0], w.shape[0]), dtype=x.dtype)
        z = np.empty_like(y) if act in ACT_NEEDS_Z else None  # gelu's backward reads z
        _bk.K.linear_forward(y, z, x2, _c(w), None if b is None else _c(b), act)
        ctx.x2, ctx.w, ctx.has_b, ctx.z, ctx.y, ctx.act = x2, _c(w), b is not None, z, y, act
        ctx.lead = lead
        return y.reshape(lead + (w.shape[0],))

    @staticmethod
    def backward(ctx, g):
        needs = ctx.needs_input_grad
        x2, w, y = ctx.x2, ctx.w, ctx.y
        g2 = _c(g).reshape(y.shape)
        dx = np.empty(x2.shape, dtype=x2.dtype) if needs[0] else None
        dw = np.empty(w.shape, dtype=w.dtype) if needs[1] else None
        db = np.empty(w.shape[0], dtype=w.dtype) if ctx.has_b and needs[2] else None
        scratch = np.empty_like(y) if ctx.act else None
        _bk.K.linear_backward(
            dx, dw, db, g2, x2, w, ctx.z, y, ctx.act, scratch, False
        )  # overwrites
        if dx is not None:
            dx = dx.reshape(ctx.lead + (x2.shape[1],))
        return (dx, dw, db) if ctx.has_b else (dx, dw)

    @classmethod
    def local_values(cls, node, upstream, K):
        """act'(z): the activation row's backward kernel with an upstream of ones."""
        name, rname, params = _ACT_BY_CODE[node.act]
        ones = np.ones_like(node.y)
        if rname is None:
            return [("act'(z) = 1", ones)]
        r = optable.row(rname)
        d = np.zeros_like(ones)
        getattr(K, r.kernels[1])(
            d,
            ones,
            node.z if "x" in r.saves else None,
            node.y if "out" in r.saves else None,
            *params,
        )
        return [(f"{name}'(z)", d)]


def _reduced(rows, reduction, count):
    """Reduce per-row losses (N,) with the sum kernel: mean divides by count."""
    if reduction == "none":
        return rows
    out = np.empty((), dtype=rows.dtype)
    if rows.size:
        _bk.K.sum_forward(out.reshape(1), rows.reshape(1, -1), (1,))
    else:
        out[...] = 0
    if reduction == "mean":
        total = out
        out = np.empty((), dtype=rows.dtype)
        _bk.K.div_forward(out, total, np.array(count, dtype=rows.dtype))
    return out


def _row_grads(g, reduction, n, count, dtype):
    """Upstream gradient of the reduced loss, spread back to one per row."""
    if reduction == "none":
        return _c(g)
    dl = np.empty(n, dtype=dtype)
    gb = _broadcast(np.asarray(g, dtype=dtype), (n,))
    if reduction == "mean":
        _bk.K.div_forward(dl, gb, _broadcast(np.array(count, dtype=dtype), (n,)))
    else:
        dl[...] = gb
    return dl


@implements("cross_entropy")
class CrossEntropy(Op):
    """loss_i = logsumexp(x_i) - x_i[t_i];  dx_i = (softmax(x_i) - onehot(t_i)) * dloss_i"""

    fresh_grads = True

    @staticmethod
    def forward(ctx, logits, target, ignore_index, reduction):
        logits = _c(logits)
        n = logits.shape[0]
        rows = np.empty(n, dtype=logits.dtype)
        p = np.empty_like(logits)
        _bk.K.cross_entropy_forward(rows, p, logits, target, ignore_index)
        count = int(np.count_nonzero(target != ignore_index))
        ctx.p, ctx.target, ctx.ignore, ctx.reduction, ctx.count = (
            p,
            target,
            ignore_index,
            reduction,
            count,
        )
        return _reduced(rows, reduction, count)

    @staticmethod
    def backward(ctx, g):
        p = ctx.p
        dl = _row_grads(g, ctx.reduction, p.shape[0], ctx.count, p.dtype)
        dx = np.zeros(p.shape, dtype=p.dtype)
        _bk.K.cross_entropy_backward(dx, dl, p, ctx.target, ctx.ignore)
        return (dx,)

    @staticmethod
    def local_values(node, upstream, K):
        dx = np.zeros_like(node.p)
        K.cross_entropy_backward(
            dx, np.ones(dx.shape[0], dx.dtype), node.p, node.target, node.ignore
        )
        return [("softmax(x) - onehot(t)", dx)]


@implements("cross_entropy_prob")
class CrossEntropyProb(Op):
    """loss_i = -sum_c t_ic log_softmax(x_i)_c;
    dx_i = (p_i sum_c t_ic - t_i) * dloss_i,  dt_i = -log_softmax(x_i) * dloss_i"""

    fresh_grads = True

    @staticmethod
    def forward(ctx, logits, target, reduction):
        logits, target = _c(logits), _c(target)
        n = logits.shape[0]
        rows = np.empty(n, dtype=logits.dtype)
        p = np.empty_like(logits)
        _bk.K.cross_entropy_prob_forward(rows, p, logits, target)
        ctx.x, ctx.p, ctx.target, ctx.reduction = logits, p, target, reduction
        return _reduced(rows, reduction, n)

    @staticmethod
    def backward(ctx, g):
        p = ctx.p
        dl = _row_grads(g, ctx.reduction, p.shape[0], p.shape[0], p.dtype)
        dx = dt = None
        if ctx.needs_input_grad[0]:
            dx = np.zeros_like(p)
            _bk.K.cross_entropy_prob_backward(dx, dl, p, ctx.target)
        if ctx.needs_input_grad[1]:  # dt = -log_softmax(x) * dloss
            ls = np.empty_like(p)
            _bk.K.log_softmax_forward(ls, ctx.x, 1)
            ndl = np.empty_like(dl)
            _bk.K.neg_forward(ndl, dl)
            dt = np.empty_like(p)
            _bk.K.mul_forward(dt, ls, _broadcast(ndl.reshape(-1, 1), p.shape))
        return dx, dt


@implements("nll_loss")
class NLL(Op):
    """loss_i = -x_i[t_i];  dx_i[t_i] = -dloss_i"""

    fresh_grads = True

    @staticmethod
    def forward(ctx, x, target, ignore_index, reduction):
        x = _c(x)
        rows = np.empty(x.shape[0], dtype=x.dtype)
        _bk.K.nll_forward(rows, x, target, ignore_index)
        count = int(np.count_nonzero(target != ignore_index))
        ctx.shape, ctx.dtype, ctx.target = x.shape, x.dtype, target
        ctx.ignore, ctx.reduction, ctx.count = ignore_index, reduction, count
        return _reduced(rows, reduction, count)

    @staticmethod
    def backward(ctx, g):
        dl = _row_grads(g, ctx.reduction, ctx.shape[0], ctx.count, ctx.dtype)
        dx = np.zeros(ctx.shape, dtype=ctx.dtype)
        _bk.K.nll_backward(dx, dl, ctx.target, ctx.ignore)
        return (dx,)

    @staticmethod
    def local_values(node, upstream, K):
        dx = np.zeros(node.shape, dtype=node.dtype)
        K.nll_backward(dx, np.ones(dx.shape[0], dx.dtype), node.target, node.ignore)
        return [("-onehot(t)", dx)]


class ElementwiseLoss(Op):
    """l = f(x, t) per element, reduced by the kernel itself: kernels
    <k>_forward(out, x, t, code) and <k>_backward(dx, dt, dout, x, t, code),
    code 0/1/2 for none/mean/sum (see docs/kernels.md)."""

    fresh_grads = True

    @classmethod
    def forward(cls, ctx, x, t, reduction):
        x, t = _c(x), _c(t)
        code = REDUCTION[reduction]
        out = np.empty(x.shape if code == 0 else (), dtype=x.dtype)
        getattr(_bk.K, cls.kernels[0])(out, x, t, code)
        ctx.x, ctx.t, ctx.code = x, t, code
        return out

    @classmethod
    def backward(cls, ctx, g):
        nx, nt = ctx.needs_input_grad
        dx = _zeros_if(nx, ctx.x.shape, ctx.x.dtype)
        dt = _zeros_if(nt, ctx.t.shape, ctx.t.dtype)
        g = _c(np.asarray(g, dtype=ctx.x.dtype))
        getattr(_bk.K, cls.kernels[1])(dx, dt, g, ctx.x, ctx.t, ctx.code)
        return dx, dt

    @classmethod
    def local_values(cls, node, upstream, K):
        """dl/dx and dl/dt per element (for reduction="mean" divided by n)."""
        dx, dt = np.zeros_like(node.x), np.zeros_like(node.t)
        getattr(K, cls.kernels[1])(dx, dt, np.ones_like(upstream), node.x, node.t, node.code)
        return [("dl/dx", dx), ("dl/dt", dt)]


for _r in optable.rows("loss"):
    globals()[class_name(_r.name)] = build_family(_r, ElementwiseLoss)
del _r


@implements("dropout")
class Dropout(Op):
    """y = x * 1[u >= p] / (1 - p);  dx = dy * 1[u >= p] / (1 - p)"""

    fresh_grads = True

    @staticmethod
    def forward(ctx, x, u, p):
        x = _c(x)
        y = np.empty_like(x)
        _bk.K.dropout_forward(y, x, u, p)
        ctx.u, ctx.p = u, p
        return y

    @staticmethod
    def backward(ctx, g):
        dx = np.zeros_like(ctx.u)
        _bk.K.dropout_backward(dx, _c(g), ctx.u, ctx.p)
        return (dx,)

    @staticmethod
    def local_values(node, upstream, K):
        dx = np.zeros_like(node.u)
        K.dropout_backward(dx, np.ones_like(node.u), node.u, node.p)
        return [("1[kept] / (1 - p)", dx)]
