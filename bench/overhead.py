"""Workload 2: per-op overhead on 8x8 float32, where the arithmetic is free
and the time is the library's own bookkeeping.

- fwd a+b, a@b, a.relu(): one recorded forward op (inputs require grad; the
  result is dropped, which frees its tape entry).
- chain150: a chain of 150 ops (add, mul, tanh in turn) from a leaf, summed,
  then backward(): about 151 forward ops and their backward.
- backward1: backward() through one op (y = a + b, y.backward(g)); the graph
  is kept (retain_graph=True) so only the backward is timed.

Hand-written NumPy does the same arithmetic with out= buffers and no
autodiff: it is the floor a tape can approach, not a competitor with a tape.
"""

# SPDX-License-Identifier: MIT
import numpy as np

import cgrad as cg

from .harness import Case, measure, torch

N = 8
CHAIN = 150


def _cg_backend(name):
    state = {}

    def enter():
        state["ctx"] = cg.use_backend(name)

    def leave():
        state.pop("ctx").__exit__(None, None, None)

    return enter, leave


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((N, N)).astype(np.float32)
    b = rng.standard_normal((N, N)).astype(np.float32)
    c = (0.5 + 0.1 * rng.standard_normal((N, N))).astype(np.float32)
    return a, b, c


def _cg_chain(x, b, c):
    h = x
    for i in range(CHAIN):
        k = i % 3
        h = h + b if k == 0 else (h * c if k == 1 else h.tanh())
    return h.sum()


def _np_chain_buffers():
    return [np.empty((N, N), np.float32) for _ in range(CHAIN + 1)]


def _np_chain(x, b, c, hs, gx, gb, gc, g, tmp):
    """Forward and backward of the same chain by hand; gradients into gx, gb, gc."""
    hs[0][...] = x
    for i in range(CHAIN):
        k = i % 3
        if k == 0:
            np.add(hs[i], b, out=hs[i + 1])
        elif k == 1:
            np.multiply(hs[i], c, out=hs[i + 1])
        else:
            np.tanh(hs[i], out=hs[i + 1])
    loss = hs[CHAIN].sum()
    g.fill(1.0)
    gb.fill(0.0)
    gc.fill(0.0)
    for i in range(CHAIN - 1, -1, -1):
        k = i % 3
        if k == 0:
            gb += g  # d(h + b)/db
        elif k == 1:
            np.multiply(g, hs[i], out=tmp)  # d(h * c)/dc = h
            gc += tmp
            g *= c
        else:
            np.multiply(hs[i + 1], hs[i + 1], out=tmp)  # d tanh = 1 - y^2
            np.subtract(1.0, tmp, out=tmp)
            g *= tmp
    gx[...] = g
    return loss


def cases(kind):
    """{impl: Case} for one overhead workload kind."""
    a, b, c = _inputs()
    res = {}
    for impl in ("cgrad", "cgrad-numpy"):
        enter, leave = _cg_backend("c" if impl == "cgrad" else "numpy")
        ta = cg.tensor(a, requires_grad=True)
        tb = cg.tensor(b, requires_grad=True)
        tc = cg.tensor(c, requires_grad=True)
        res[impl] = Case(_fn(kind, ta, tb, tc, cg.ones), enter, leave, lib="cgrad")
    res["numpy"] = Case(_np_fn(kind, a, b, c), lib="numpy")
    if torch is not None:
        xa = torch.tensor(a, requires_grad=True)
        xb = torch.tensor(b, requires_grad=True)
        xc = torch.tensor(c, requires_grad=True)
        res["torch"] = Case(_fn(kind, xa, xb, xc, torch.ones), lib="torch")
    return res


def _fn(kind, a, b, c, ones):
    """The timed call for one workload; the same code drives cgrad and torch."""
    if kind == "add":
        return lambda: a + b
    if kind == "matmul":
        return lambda: a @ b
    if kind == "relu":
        return lambda: a.relu()
    if kind == "chain150":

        def chain():
            a.grad = b.grad = c.grad = None
            _cg_chain(a, b, c).backward()

        return chain
    if kind == "backward1":
        g = ones(N, N)
        box = {}

        def backward1():
            y = box.get("y")
            if y is None:  # first call (inside the backend being timed): build the one-op graph
                y = box["y"] = a + b
            y.backward(g, retain_graph=True)

        return backward1
    raise ValueError(kind)
    raise ValueError(kind)


def _np_fn(kind, a, b, c):
    out = np.empty((N, N), np.float32)
    if kind == "add":
        return lambda: np.add(a, b, out=out)
    if kind == "matmul":
        return lambda: np.matmul(a, b, out=out)
    if kind == "relu":
        return lambda: np.maximum(a, 0, out=out)
    if kind == "chain150":
        hs = _np_chain_buffers()
        bufs = [np.empty((N, N), np.float32) for _ in range(5)]
        return lambda: _np_chain(a, b, c, hs, *bufs)
    if kind == "backward1":
        g = np.ones((N, N), np.float32)
        ga, gb = np.zeros_like(a), np.zeros_like(b)

        def backward1():  # y = a + b: both inputs receive g
            ga.__iadd__(g)
            gb.__iadd__(g)

        return backward1
    raise ValueError(kind)


KINDS = ("add", "matmul", "relu", "chain150", "backward1")
LABELS = {
    "add": "fwd a+b (recorded)",
    "matmul": "fwd a@b (recorded)",
    "relu": "fwd a.relu() (recorded)",
    "chain150": "150-op chain fwd+bwd",
    "backward1": "backward() of one op",
}


def check():
    """cgrad (both backends), hand-written NumPy and torch give the same chain gradients."""
    a, b, c = _inputs()
    hs = _np_chain_buffers()
    gx, gb, gc, g, tmp = (np.empty((N, N), np.float32) for _ in range(5))
    loss = _np_chain(a, b, c, hs, gx, gb, gc, g, tmp)
    for be in ("c", "numpy"):
        with cg.use_backend(be):
            ta, tb, tc = (cg.tensor(v, requires_grad=True) for v in (a, b, c))
            out = _cg_chain(ta, tb, tc)
            out.backward()
            assert np.allclose(out.item(), loss, rtol=1e-4), (be, out.item(), loss)
            for t, ref in ((ta, gx), (tb, gb), (tc, gc)):
                assert np.allclose(t.grad.numpy(), ref, rtol=1e-3, atol=1e-4), be
    if torch is not None:
        xa, xb, xc = (torch.tensor(v, requires_grad=True) for v in (a, b, c))
        out = _cg_chain(xa, xb, xc)
        out.backward()
        assert np.allclose(out.item(), loss, rtol=1e-4)
        assert np.allclose(xc.grad.numpy(), gc, rtol=1e-3, atol=1e-4)


def run(s, log=print):
    check()
    rows = []
    for kind in KINDS:
        res = measure(cases(kind), s)
        row = {
            "workload": "overhead",
            "case": kind,
            "label": LABELS[kind],
            "dtype": "float32",
            "threads": s.threads,
            "ops": CHAIN + 1 if kind == "chain150" else 1,
            "time": {k: v["median"] for k, v in res.items()},
            "samples": {k: v["samples"] for k, v in res.items()},
        }
        rows.append(row)
        log(
            f"  {LABELS[kind]:26s} "
            + "  ".join(f"{k} {t * 1e6:8.2f} us" for k, t in row["time"].items())
        )
    return rows
