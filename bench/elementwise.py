"""Workload 3: elementwise and fused kernels at about 1M elements, float32.

- relu/gelu/tanh backward: dx = dy * f'(.) over 1M elements, at kernel level
  (cgrad's `<op>_backward(dx, dy, x, y)` on each backend; torch's
  aten::threshold_backward / gelu_backward / tanh_backward; NumPy by hand
  with out= buffers). cgrad's backward kernels accumulate into dx (+=), the
  others write a fresh result: cgrad does the extra read. NumPy has no erf,
  so there is no hand-written NumPy gelu (cgrad's NumPy backend carries its
  own erf).
- softmax cross-entropy, forward and backward, on logits (256, 1000) with
  class targets, through the public API (cg.nn.functional.cross_entropy,
  then backward()); by hand in NumPy.
- Adam: one optimizer step over a 1M-element parameter (optim.Adam.step()
  and torch.optim.Adam.step(); NumPy by hand with out= buffers).
"""

# SPDX-License-Identifier: MIT
import numpy as np

import cgrad as cg
from cgrad import _ckernels, numpy_backend
from cgrad.nn import functional as cgF

from .harness import Case, measure, torch
from .overhead import _cg_backend

NUMEL = 1 << 20
CE_SHAPE = (256, 1000)
KINDS = ("relu_backward", "gelu_backward", "tanh_backward", "softmax_ce", "adam")
LABELS = {
    "relu_backward": "relu backward 1M",
    "gelu_backward": "gelu backward 1M",
    "tanh_backward": "tanh backward 1M",
    "softmax_ce": "softmax CE fwd+bwd 256x1000",
    "adam": "Adam step 1M params",
}


def _unary(kind):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(NUMEL).astype(np.float32)
    dy = rng.standard_normal(NUMEL).astype(np.float32)
    op = kind.split("_")[0]
    y = np.empty_like(x)
    res = {}
    for impl, K in (("cgrad", _ckernels), ("cgrad-numpy", numpy_backend)):
        dx = np.zeros_like(x)
        if op == "gelu":
            K.gelu_forward(y, x, False)
            res[impl] = Case(lambda K=K, dx=dx: K.gelu_backward(dx, dy, x, y, False), lib="cgrad")
        else:
            getattr(K, op + "_forward")(y, x)
            fn = getattr(K, kind)
            res[impl] = Case(lambda fn=fn, dx=dx: fn(dx, dy, x, y), lib="cgrad")
    dx, tmp = np.empty_like(x), np.empty_like(x)
    if op == "relu":
        mask = np.empty(x.shape, bool)

        def np_relu():
            np.greater(y, 0, out=mask)
            np.multiply(dy, mask, out=dx)

        res["numpy"] = Case(np_relu, lib="numpy")
    elif op == "tanh":

        def np_tanh():
            np.multiply(y, y, out=tmp)
            np.subtract(1.0, tmp, out=tmp)
            np.multiply(dy, tmp, out=dx)

        res["numpy"] = Case(np_tanh, lib="numpy")
    if torch is not None:
        tx, tdy = torch.from_numpy(x), torch.from_numpy(dy)
        ty = torch.from_numpy(y.copy())
        aten = torch.ops.aten
        if op == "relu":
            fn = lambda: aten.threshold_backward(tdy, ty, 0)  # noqa: E731
        elif op == "gelu":
            fn = lambda: aten.gelu_backward(tdy, tx)  # noqa: E731
        else:
            fn = lambda: aten.tanh_backward(tdy, ty)  # noqa: E731
        res["torch"] = Case(fn, lib="torch")
    return res


def _np_softmax_ce(logits, target, p, m, s, lse, dlogits, rows):
    """loss = mean(logsumexp(z) - z[t]);  dz = (softmax(z) - onehot(t)) / N."""
    n = logits.shape[0]
    np.max(logits, axis=1, keepdims=True, out=m)
    np.subtract(logits, m, out=p)
    np.exp(p, out=p)
    np.sum(p, axis=1, keepdims=True, out=s)
    np.log(s, out=lse)
    loss = float(np.mean(lse[:, 0] + m[:, 0] - logits[rows, target]))
    np.divide(p, s, out=dlogits)
    dlogits[rows, target] -= 1.0
    dlogits *= 1.0 / n
    return loss


def _softmax_ce():
    rng = np.random.default_rng(0)
    n, c = CE_SHAPE
    z = rng.standard_normal(CE_SHAPE).astype(np.float32)
    t = rng.integers(0, c, n)
    res = {}
    for impl in ("cgrad", "cgrad-numpy"):
        enter, leave = _cg_backend("c" if impl == "cgrad" else "numpy")
        lz = cg.tensor(z, requires_grad=True)
        lt = cg.tensor(t, dtype=cg.int64)

        def step(lz=lz, lt=lt):
            lz.grad = None
            cgF.cross_entropy(lz, lt).backward()

        res[impl] = Case(step, enter, leave, lib="cgrad")
    bufs = (
        np.empty_like(z),
        np.empty((n, 1), np.float32),
        np.empty((n, 1), np.float32),
        np.empty((n, 1), np.float32),
        np.empty_like(z),
        np.arange(n),
    )
    res["numpy"] = Case(lambda: _np_softmax_ce(z, t, *bufs), lib="numpy")
    if torch is not None:
        xz = torch.tensor(z, requires_grad=True)
        xt = torch.from_numpy(t)

        def tstep():
            xz.grad = None
            torch.nn.functional.cross_entropy(xz, xt).backward()

        res["torch"] = Case(tstep, lib="torch")
    return res, (z, t, bufs)


def _adam():
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(NUMEL).astype(np.float32)
    g = (0.01 * rng.standard_normal(NUMEL)).astype(np.float32)
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8
    res = {}
    for impl in ("cgrad", "cgrad-numpy"):
        enter, leave = _cg_backend("c" if impl == "cgrad" else "numpy")
        p = cg.nn.Parameter(cg.tensor(p0))
        p.grad = cg.tensor(g)
        opt = cg.optim.Adam([p], lr=lr)
        res[impl] = Case(opt.step, enter, leave, lib="cgrad")
    p, m, v, t1, t2 = (np.zeros_like(p0) for _ in range(5))
    p[...] = p0
    state = {"step": 0}

    def np_adam():
        state["step"] += 1
        k = state["step"]
        np.multiply(m, b1, out=m)  # m = b1 m + (1 - b1) g
        np.multiply(g, 1 - b1, out=t1)
        np.add(m, t1, out=m)
        np.multiply(v, b2, out=v)  # v = b2 v + (1 - b2) g^2
        np.multiply(g, g, out=t1)
        np.multiply(t1, 1 - b2, out=t1)
        np.add(v, t1, out=v)
        np.sqrt(v, out=t2)  # p -= lr/bc1 m / (sqrt(v)/sqrt(bc2) + eps)
        np.multiply(t2, 1 / np.sqrt(1 - b2**k), out=t2)
        np.add(t2, eps, out=t2)
        np.divide(m, t2, out=t1)
        np.multiply(t1, lr / (1 - b1**k), out=t1)
        np.subtract(p, t1, out=p)

    res["numpy"] = Case(np_adam, lib="numpy")
    if torch is not None:
        tp = torch.nn.Parameter(torch.from_numpy(p0.copy()))
        tp.grad = torch.from_numpy(g.copy())
        topt = torch.optim.Adam([tp], lr=lr)
        res["torch"] = Case(topt.step, lib="torch")
    return res


def cases(kind):
    if kind == "softmax_ce":
        return _softmax_ce()[0]
    if kind == "adam":
        return _adam()
    return _unary(kind)


def check():
    """The hand-written softmax cross-entropy matches cgrad's and torch's."""
    res, (z, t, bufs) = _softmax_ce()
    loss = _np_softmax_ce(z, t, *bufs)
    dz = bufs[4]
    for be in ("c", "numpy"):
        with cg.use_backend(be):
            lz = cg.tensor(z, requires_grad=True)
            out = cgF.cross_entropy(lz, cg.tensor(t, dtype=cg.int64))
            out.backward()
            assert np.isclose(out.item(), loss, rtol=1e-5), (be, out.item(), loss)
            assert np.allclose(lz.grad.numpy(), dz, atol=1e-7), be
    if torch is not None:
        xz = torch.tensor(z, requires_grad=True)
        out = torch.nn.functional.cross_entropy(xz, torch.from_numpy(t))
        out.backward()
        assert np.isclose(out.item(), loss, rtol=1e-5)
        assert np.allclose(xz.grad.numpy(), dz, atol=1e-7)


def run(s, log=print):
    check()
    rows = []
    for kind in KINDS:
        res = measure(cases(kind), s)
        row = {
            "workload": "elementwise",
            "case": kind,
            "label": LABELS[kind],
            "dtype": "float32",
            "threads": s.threads,
            "time": {k: v["median"] for k, v in res.items()},
            "samples": {k: v["samples"] for k, v in res.items()},
        }
        rows.append(row)
        log(
            f"  {LABELS[kind]:28s} "
            + "  ".join(f"{k} {t * 1e6:9.1f} us" for k, t in row["time"].items())
        )
    return rows
