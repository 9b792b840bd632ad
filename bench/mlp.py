"""Workload 4: one full MLP training step, float32:
zero_grad, forward, loss, backward, SGD step (lr 0.01, no momentum).

Configurations (name: batch, layer sizes, activation, loss):
  tiny:  4,   2-16-16-1,           tanh, MSE
  small: 32,  64-128-10,           relu, cross-entropy
  mnist: 64,  784-256-128-10,      relu, cross-entropy
  large: 256, 1024-1024-1024-10,   relu, cross-entropy

Four implementations start from the same initial weights (torch's Linear
init, drawn once with NumPy) and the same batch, and `check` asserts that
their first losses agree, and that they still agree after a few steps,
before anything is timed:
- cgrad: cg.nn.Sequential of Linear and activation modules, nn loss,
  optim.SGD, on the C backend;
- cgrad-numpy: the same code on cgrad's NumPy backend;
- numpy: `NumpyMLP`, hand-written forward and backward with every buffer
  preallocated and every ufunc writing through out= (no autodiff; gradients
  are written, not accumulated, so it needs no zero_grad);
- torch: torch.nn.Sequential, the same loss, torch.optim.SGD.
"""

# SPDX-License-Identifier: MIT
from dataclasses import dataclass

import numpy as np

import cgrad as cg

from .elementwise import _np_softmax_ce
from .harness import Case, measure, torch
from .overhead import _cg_backend

LR = 0.01


@dataclass(frozen=True)
class Config:
    name: str
    batch: int
    sizes: tuple
    act: str  # "tanh" | "relu"
    loss: str  # "mse" | "ce"


CONFIGS = (
    Config("tiny", 4, (2, 16, 16, 1), "tanh", "mse"),
    Config("small", 32, (64, 128, 10), "relu", "ce"),
    Config("mnist", 64, (784, 256, 128, 10), "relu", "ce"),
    Config("large", 256, (1024, 1024, 1024, 10), "relu", "ce"),
)
BY_NAME = {c.name: c for c in CONFIGS}


def init(cfg, seed=0):
    """Weights [(W (out, in), b (out,))] with torch's Linear init, a batch x and targets y."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(cfg.sizes[:-1], cfg.sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        params.append(
            (
                rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32),
                rng.uniform(-bound, bound, fan_out).astype(np.float32),
            )
        )
    x = rng.standard_normal((cfg.batch, cfg.sizes[0])).astype(np.float32)
    if cfg.loss == "mse":
        y = rng.standard_normal((cfg.batch, cfg.sizes[-1])).astype(np.float32)
    else:
        y = rng.integers(0, cfg.sizes[-1], cfg.batch).astype(np.int64)
    return params, x, y


# ---- hand-written NumPy --------------------------------------------------------


class NumpyMLP:
    """Forward and backward written out by hand; all buffers allocated once.

    Layer i: z_i = h_{i-1} W_i^T + b_i, h_i = act(z_i) (not after the last).
    Backward: dW_i = dz_i^T h_{i-1}, db_i = sum_rows dz_i, dh_{i-1} = dz_i W_i,
    dz_{i-1} = dh_{i-1} * act'(z_{i-1}) (relu: h > 0; tanh: 1 - h^2).
    """

    def __init__(self, cfg, params, x, y, lr=LR):
        self.cfg, self.x, self.y, self.lr = cfg, x, y, np.float32(lr)
        self.W = [w.copy() for w, _ in params]
        self.b = [b.copy() for _, b in params]
        n = cfg.batch
        self.h = [np.empty((n, w.shape[0]), np.float32) for w in self.W]  # z, then act in place
        self.dz = [np.empty((n, w.shape[0]), np.float32) for w in self.W]
        self.dW = [np.empty_like(w) for w in self.W]
        self.db = [np.empty_like(b) for b in self.b]
        self.mask = [np.empty((n, w.shape[0]), bool) for w in self.W]
        self.tmp = [np.empty((n, w.shape[0]), np.float32) for w in self.W]
        c = cfg.sizes[-1]
        self.ce_bufs = (
            np.empty((n, c), np.float32),
            np.empty((n, 1), np.float32),
            np.empty((n, 1), np.float32),
            np.empty((n, 1), np.float32),
            self.dz[-1],
            np.arange(n),
        )

    def step(self):
        W, b, h, dz = self.W, self.b, self.h, self.dz
        last = len(W) - 1
        inp = self.x
        for i in range(last + 1):  # forward
            np.matmul(inp, W[i].T, out=h[i])
            np.add(h[i], b[i], out=h[i])
            if i < last:
                if self.cfg.act == "relu":
                    np.maximum(h[i], 0, out=h[i])
                else:
                    np.tanh(h[i], out=h[i])
            inp = h[i]
        if self.cfg.loss == "mse":  # loss and dloss/dout
            d = dz[last]
            np.subtract(h[last], self.y, out=d)
            loss = float(np.vdot(d, d)) / d.size
            np.multiply(d, np.float32(2.0 / d.size), out=d)
        else:
            loss = _np_softmax_ce(h[last], self.y, *self.ce_bufs)
        for i in range(last, -1, -1):  # backward
            prev = h[i - 1] if i > 0 else self.x
            np.matmul(dz[i].T, prev, out=self.dW[i])
            np.sum(dz[i], axis=0, out=self.db[i])
            if i > 0:
                np.matmul(dz[i], W[i], out=dz[i - 1])  # dh_{i-1}
                if self.cfg.act == "relu":
                    np.greater(prev, 0, out=self.mask[i - 1])
                    np.multiply(dz[i - 1], self.mask[i - 1], out=dz[i - 1])
                else:
                    t = self.tmp[i - 1]
                    np.multiply(prev, prev, out=t)
                    np.subtract(1.0, t, out=t)
                    np.multiply(dz[i - 1], t, out=dz[i - 1])
        for i in range(last + 1):  # SGD
            np.multiply(self.dW[i], self.lr, out=self.dW[i])
            np.subtract(W[i], self.dW[i], out=W[i])
            np.multiply(self.db[i], self.lr, out=self.db[i])
            np.subtract(b[i], self.db[i], out=b[i])
        return loss


# ---- cgrad and torch -----------------------------------------------------------


class CgradMLP:
    def __init__(self, cfg, params, x, y, lr=LR):
        nn = cg.nn
        layers = []
        for i, (w, b) in enumerate(params):
            lin = nn.Linear(w.shape[1], w.shape[0])
            lin.weight.data[...] = w
            lin.bias.data[...] = b
            layers.append(lin)
            if i < len(params) - 1:
                layers.append(nn.ReLU() if cfg.act == "relu" else nn.Tanh())
        self.model = nn.Sequential(*layers)
        self.loss_fn = nn.MSELoss() if cfg.loss == "mse" else nn.CrossEntropyLoss()
        self.opt = cg.optim.SGD(self.model.parameters(), lr=lr)
        self.x = cg.tensor(x)
        self.y = cg.tensor(y) if cfg.loss == "mse" else cg.tensor(y, dtype=cg.int64)

    def step(self):
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss


class TorchMLP:
    def __init__(self, cfg, params, x, y, lr=LR):
        nn = torch.nn
        layers = []
        for i, (w, b) in enumerate(params):
            lin = nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            layers.append(lin)
            if i < len(params) - 1:
                layers.append(nn.ReLU() if cfg.act == "relu" else nn.Tanh())
        self.model = nn.Sequential(*layers)
        self.loss_fn = nn.MSELoss() if cfg.loss == "mse" else nn.CrossEntropyLoss()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.x, self.y = torch.from_numpy(x.copy()), torch.from_numpy(y.copy())

    def step(self):
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss


def build(cfg, impl, seed=0):
    """(step callable returning the loss, enter, leave) for one implementation."""
    params, x, y = init(cfg, seed)
    if impl in ("cgrad", "cgrad-numpy"):
        enter, leave = _cg_backend("c" if impl == "cgrad" else "numpy")
        enter()  # the model is built on the backend it will run on
        try:
            m = CgradMLP(cfg, params, x, y)
        finally:
            leave()
        return m.step, enter, leave
    if impl == "numpy":
        return NumpyMLP(cfg, params, x, y).step, None, None
    if impl == "torch":
        return TorchMLP(cfg, params, x, y).step, None, None
    raise ValueError(impl)


def impls():
    return ("cgrad", "cgrad-numpy", "numpy") + (("torch",) if torch is not None else ())


def _scalar(v):
    return float(v.item()) if hasattr(v, "item") else float(v)


def losses(cfg, impl, steps=3):
    step, enter, leave = build(cfg, impl)
    if enter:
        enter()
    try:
        return [_scalar(step()) for _ in range(steps)]
    finally:
        if leave:
            leave()


def check(cfg):
    """First losses agree across implementations (and the next two, looser)."""
    ref = losses(cfg, "numpy")
    for impl in impls():
        got = losses(cfg, impl)
        assert np.isclose(got[0], ref[0], rtol=1e-4, atol=1e-6), (
            f"{cfg.name}: first loss {impl} {got[0]} != hand-written NumPy {ref[0]}"
        )
        assert np.allclose(got, ref, rtol=1e-3, atol=1e-5), (
            f"{cfg.name}: losses {impl} {got} != hand-written NumPy {ref}"
        )
    return ref[0]


def cases(cfg):
    res = {}
    for impl in impls():
        step, enter, leave = build(cfg, impl)
        res[impl] = Case(
            step,
            enter,
            leave,
            lib="numpy" if impl == "numpy" else ("torch" if impl == "torch" else "cgrad"),
        )
    return res


def run(s, configs=CONFIGS, log=print):
    rows = []
    for cfg in configs:
        loss0 = check(cfg)
        res = measure(cases(cfg), s)
        row = {
            "workload": "mlp",
            "case": cfg.name,
            "dtype": "float32",
            "threads": s.threads,
            "batch": cfg.batch,
            "sizes": list(cfg.sizes),
            "first_loss": loss0,
            "time": {k: v["median"] for k, v in res.items()},
            "samples": {k: v["samples"] for k, v in res.items()},
        }
        rows.append(row)
        log(
            f"  {cfg.name:6s} first loss {loss0:.5f}  "
            + "  ".join(f"{k} {t * 1e6:9.1f} us" for k, t in row["time"].items())
        )
    return rows
