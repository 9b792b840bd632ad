"""Kernel tests for the nn, loss and optimizer kernels (docs/kernels.md).

Four kinds of test live here:
  * NumPy backend against PyTorch (float64; each test skips if torch is absent):
    linear with relu/gelu/gelu-tanh, cross-entropy (class targets with
    ignore_index, probability targets), nll, mse/l1/bce/bce_with_logits with
    every reduction, and several steps of torch.optim.SGD/Adam/AdamW.
  * NumPy backend against torch-free oracles: formulas written out by hand
    (math module, loops), float64 central differences for every backward
    kernel, and a plain NumPy transcription of the update rules that
    torch.optim documents for SGD, Adam and AdamW.
  * C against NumPy for every new function (skipped until cgrad._ckernels has
    them): both dtypes, odd sizes, zero sizes, ties, large logits, every
    reduction, None gradients, accumulation, NaN pre-filled outputs.
  * Bad calls, on both backends: dtypes, int64 targets, out-of-range targets,
    shapes, contiguity, read-only outputs, flag codes, p and step.
Expected values never come from the code under test.
"""
# SPDX-License-Identifier: MIT

import math
import pathlib
import re
import sys
import zlib

import numpy as np
import pytest

try:
    import cgrad  # noqa: F401
except ModuleNotFoundError as exc:  # not installed: use the source tree
    if exc.name != "cgrad":
        raise
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "src"))

from cgrad import _ckernels as C
from cgrad import numpy_backend as N

F32, F64 = np.float32, np.float64
DTYPES = [F32, F64]
DT_IDS = ["float32", "float64"]
EPS = {F32: float(np.finfo(F32).eps), F64: float(np.finfo(F64).eps)}

NEW_KERNELS = [
    "linear_forward",
    "linear_backward",
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
    "dropout_forward",
    "dropout_backward",
    "sgd_step",
    "adam_step",
]
HAVE_C = all(hasattr(C, k) for k in NEW_KERNELS)
needs_c = pytest.mark.skipif(
    not HAVE_C, reason="cgrad._ckernels lacks the nn, loss and optimizer kernels"
)
# The two backends, for tests that run on both; the C one skips until it exists.
MODS = [pytest.param(N, id="numpy"), pytest.param(C, id="c", marks=needs_c)]
LOSSES = ["mse", "l1", "bce", "bce_logits"]


def rng_for(*key):
    """A generator seeded from the test's parameters, so every case is reproducible."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def assert_close(got, want, rtol, atol, what=""):
    """Elementwise |got - want| <= atol + rtol |want|, NaN only where want is NaN,
    infinities equal. atol may be an array (a per-element scale)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    with np.errstate(invalid="ignore", over="ignore"):
        allowed = np.broadcast_to(
            np.asarray(atol, dtype=np.float64) + rtol * np.abs(want), want.shape
        )
        ok = (got == want) | (np.isnan(got) & np.isnan(want)) | (np.abs(got - want) <= allowed)
    if not ok.all():
        bad = np.argwhere(~ok) if ok.ndim else [()]
        lines = [
            f"  at {tuple(int(i) for i in ix)}: got {got[tuple(ix)]!r}, want {want[tuple(ix)]!r}, "
            f"allowed {allowed[tuple(ix)]:.3g}"
            for ix in bad[:5]
        ]
        raise AssertionError(
            f"{what}: {int((~ok).sum())} of {ok.size} values differ\n" + "\n".join(lines)
        )


def assert_match(got, want, dtype, what="", scale=1.0, ulps=64):
    """C against NumPy: within `ulps` units of the dtype's eps, relative to |want|
    and to `scale` (the sum of absolute terms behind each value)."""
    e = ulps * EPS[dtype]
    assert_close(got, want, e, e * np.asarray(scale, dtype=np.float64), what)


def nan_like(shape, dtype):
    return np.full(shape, np.nan, dtype=dtype)


def central_diff(f, a, h=1e-6):
    """d f / d a by central differences, a float64 array perturbed in place."""
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + h
        fp = f()
        a[i] = old - h
        fm = f()
        a[i] = old
        g[i] = (fp - fm) / (2 * h)
    return g


def torch_or_skip():
    return pytest.importorskip("torch")


def T(torch, a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


# =====================================================================================
# Hand-written oracles (float64, no code shared with the backend)
# =====================================================================================


def ref_act(z, act):
    if act == 0:
        return z.copy()
    if act == 1:
        return np.where(z > 0, z, 0.0)
    if act == 2:
        return np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))(z)
    k = math.sqrt(2 / math.pi)
    return np.vectorize(lambda v: 0.5 * v * (1 + math.tanh(k * (v + 0.044715 * v**3))))(z)


def ref_act_d(z, act):
    if act == 0:
        return np.ones_like(z)
    if act == 1:
        return (z > 0).astype(np.float64)
    if act == 2:
        return np.vectorize(
            lambda v: (
                0.5 * (1 + math.erf(v / math.sqrt(2)))
                + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)
            )
        )(z)
    k = math.sqrt(2 / math.pi)

    def d(v):
        t = math.tanh(k * (v + 0.044715 * v**3))
        return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v)

    return np.vectorize(d)(z)


def ref_ce_rows(logits, target, ignore_index):
    """Per-row loss and softmax, with Python floats row by row."""
    n, c = logits.shape
    loss = np.zeros(n)
    p = np.zeros((n, c))
    for i in range(n):
        row = [float(v) for v in logits[i]]
        m = max(row)
        s = math.fsum(math.exp(v - m) for v in row)
        p[i] = [math.exp(v - m) / s for v in row]
        if target[i] != ignore_index:
            loss[i] = m + math.log(s) - row[target[i]]
    return loss, p


def ref_elementwise_loss(name, x, t):
    """Unreduced loss, element by element with the math module."""

    def one(a, b):
        if name == "mse":
            return (a - b) ** 2
        if name == "l1":
            return abs(a - b)
        if name == "bce":
            la = math.log(a) if a > 0 else -math.inf
            lb = math.log(1 - a) if a < 1 else -math.inf
            return -(b * max(la, -100.0) + (1 - b) * max(lb, -100.0))

        # bce with logits: -(b log sigmoid(a) + (1 - b) log sigmoid(-a)), done stably
        def log_sig(v):
            return -math.log1p(math.exp(-v)) if v >= 0 else v - math.log1p(math.exp(v))

        return -(b * log_sig(a) + (1 - b) * log_sig(-a))

    return np.array([one(float(a), float(b)) for a, b in zip(x.ravel(), t.ravel())]).reshape(
        x.shape
    )


def reduce_ref(losses, reduction):
    if reduction == 0:
        return losses
    s = math.fsum(losses.ravel())
    return (
        np.array(s / losses.size if reduction == 1 else s)
        if losses.size or reduction == 2
        else np.array(np.nan)
    )


def ref_sgd(p, grads, lr, momentum, dampening, weight_decay, nesterov):
    """torch.optim.SGD as its documentation writes the algorithm (float64)."""
    p = p.astype(np.float64).copy()
    b = None
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        if weight_decay != 0:
            g = g + weight_decay * p
        if momentum != 0:
            b = g.copy() if t == 1 else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
    return p, b


def ref_adam(p, grads, lr, beta1, beta2, eps, weight_decay, decoupled):
    """torch.optim.Adam / AdamW as their documentation writes the algorithm (float64)."""
    p = p.astype(np.float64).copy()
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        if decoupled:
            p = p - lr * weight_decay * p
        elif weight_decay != 0:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p, m, v


# =====================================================================================
# Small runners: call one backend's kernel with fresh outputs
# =====================================================================================


def run_linear(mod, x, w, b, act, dy=None, keep_z=True, grads0=None, fill=np.nan):
    n, out = x.shape[0], w.shape[0]
    dt = x.dtype
    y = np.full((n, out), fill, dt)
    z = np.full((n, out), fill, dt) if (keep_z or act >= 2) else None
    mod.linear_forward(y, z, x, w, b, act)
    if dy is None:
        return y, z
    dx, dw, db = (g.copy() for g in grads0)
    scratch = nan_like((n, out), dt) if act else None
    mod.linear_backward(dx, dw, None if b is None else db, dy, x, w, z, y, act, scratch)
    return y, z, dx, dw, db


def loss_fwd(mod, name, x, t, reduction):
    out = nan_like(x.shape if reduction == 0 else (), x.dtype)
    getattr(mod, f"{name}_forward")(out, x, t, reduction)
    return out


def loss_bwd(mod, name, dout, x, t, reduction, dx0=None, dt0=None):
    dx = np.zeros_like(x) if dx0 is None else dx0.copy()
    dt = np.zeros_like(x) if dt0 is None else dt0.copy()
    getattr(mod, f"{name}_backward")(dx, dt, dout, x, t, reduction)
    return dx, dt


def loss_inputs(rng, name, shape, dtype):
    """x, t in each loss's domain (bce: x in (0, 1), t in [0, 1])."""
    if name == "bce":
        x = rng.uniform(0.02, 0.98, shape)
        t = rng.uniform(0, 1, shape)
    elif name == "bce_logits":
        x = rng.uniform(-6, 6, shape)
        t = rng.uniform(0, 1, shape)
    else:
        x = rng.uniform(-3, 3, shape)
        t = rng.uniform(-3, 3, shape)
    return x.astype(dtype), t.astype(dtype)


# =====================================================================================
# A. NumPy backend against PyTorch (float64)
# =====================================================================================


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("act", [0, 1, 2, 3], ids=["none", "relu", "gelu", "gelu_tanh"])
def test_linear_numpy_vs_torch(act, bias):
    torch = torch_or_skip()
    F = torch.nn.functional
    rng = rng_for("lin-torch", act, bias)
    n, i, o = 7, 5, 4
    x, w, b = rng.normal(size=(n, i)), rng.normal(size=(o, i)), rng.normal(size=o) if bias else None
    x[0, :] = 0  # a row of z equal to b (or 0): relu at 0 when no bias
    dy = rng.normal(size=(n, o))
    g0 = (rng.normal(size=(n, i)), rng.normal(size=(o, i)), rng.normal(size=o))
    y, z, dx, dw, db = run_linear(N, x, w, b, act, dy, grads0=g0)

    tx, tw = T(torch, x, True), T(torch, w, True)
    tb = T(torch, b, True) if bias else None
    tz = F.linear(tx, tw, tb)
    ty = [lambda v: v, F.relu, lambda v: F.gelu(v), lambda v: F.gelu(v, approximate="tanh")][act](
        tz
    )
    ty.backward(T(torch, dy))
    tol = dict(rtol=1e-12, atol=1e-12)
    assert_close(z, tz.detach().numpy(), what="z", **tol)
    assert_close(y, ty.detach().numpy(), what="y", **tol)
    assert_close(dx, g0[0] + tx.grad.numpy(), what="dx", **tol)
    assert_close(dw, g0[1] + tw.grad.numpy(), what="dw", **tol)
    if bias:
        assert_close(db, g0[2] + tb.grad.numpy(), what="db", **tol)


@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_cross_entropy_numpy_vs_torch(ignore_index):
    torch = torch_or_skip()
    rng = rng_for("ce-torch", ignore_index)
    n, c = 9, 5
    logits = rng.normal(scale=3, size=(n, c))
    logits[1] = 0.5  # a row of ties
    logits[2, 3] = 1e4  # large logits: max must be subtracted
    logits[3] = -1e4
    target = rng.integers(0, c, n).astype(np.int64)
    target[[4, 6]] = ignore_index
    dloss = rng.normal(size=n)
    loss, p = nan_like(n, F64), nan_like((n, c), F64)
    N.cross_entropy_forward(loss, p, logits, target, ignore_index)
    g0 = rng.normal(size=(n, c))
    dlogits = g0.copy()
    N.cross_entropy_backward(dlogits, dloss, p, target, ignore_index)

    tl = T(torch, logits, True)
    tloss = torch.nn.functional.cross_entropy(
        tl, torch.from_numpy(target), ignore_index=ignore_index, reduction="none"
    )
    tloss.backward(T(torch, dloss))
    assert_close(loss, tloss.detach().numpy(), 1e-12, 1e-12, "loss")
    assert_close(p, torch.softmax(T(torch, logits), 1).numpy(), 1e-12, 1e-15, "p")
    assert_close(dlogits, g0 + tl.grad.numpy(), 1e-12, 1e-12, "dlogits")


@pytest.mark.parametrize("normalized", [True, False], ids=["sum1", "unnormalized"])
def test_cross_entropy_prob_numpy_vs_torch(normalized):
    torch = torch_or_skip()
    rng = rng_for("ce-prob-torch", normalized)
    n, c = 8, 6
    logits = rng.normal(scale=3, size=(n, c))
    logits[0, 2] = 1e4
    target = rng.uniform(0, 1, (n, c))
    if normalized:
        target /= target.sum(axis=1, keepdims=True)
    target[1] = 0  # an all-zero row: loss 0, gradient 0
    dloss = rng.normal(size=n)
    loss, p = nan_like(n, F64), nan_like((n, c), F64)
    N.cross_entropy_prob_forward(loss, p, logits, target)
    g0 = rng.normal(size=(n, c))
    dlogits = g0.copy()
    N.cross_entropy_prob_backward(dlogits, dloss, p, target)

    tl = T(torch, logits, True)
    tloss = torch.nn.functional.cross_entropy(tl, T(torch, target), reduction="none")
    tloss.backward(T(torch, dloss))
    assert_close(loss, tloss.detach().numpy(), 1e-12, 1e-11, "loss")
    assert_close(dlogits, g0 + tl.grad.numpy(), 1e-12, 1e-12, "dlogits")


def test_nll_numpy_vs_torch():
    torch = torch_or_skip()
    rng = rng_for("nll-torch")
    n, c = 9, 4
    x = rng.normal(size=(n, c))
    target = rng.integers(0, c, n).astype(np.int64)
    target[[0, 5]] = -1
    dloss = rng.normal(size=n)
    loss = nan_like(n, F64)
    N.nll_forward(loss, x, target, -1)
    g0 = rng.normal(size=(n, c))
    dx = g0.copy()
    N.nll_backward(dx, dloss, target, -1)
    tx = T(torch, x, True)
    tloss = torch.nn.functional.nll_loss(
        tx, torch.from_numpy(target), ignore_index=-1, reduction="none"
    )
    tloss.backward(T(torch, dloss))
    assert_close(loss, tloss.detach().numpy(), 0, 0, "loss")
    assert_close(dx, g0 + tx.grad.numpy(), 1e-15, 0, "dx")


def _torch_loss(torch, name):
    F = torch.nn.functional
    return {
        "mse": F.mse_loss,
        "l1": F.l1_loss,
        "bce": F.binary_cross_entropy,
        "bce_logits": F.binary_cross_entropy_with_logits,
    }[name]


@pytest.mark.parametrize("reduction", [0, 1, 2], ids=["none", "mean", "sum"])
@pytest.mark.parametrize("name", LOSSES)
def test_elementwise_loss_numpy_vs_torch(name, reduction):
    torch = torch_or_skip()
    rng = rng_for("loss-torch", name, reduction)
    x, t = loss_inputs(rng, name, (5, 7), F64)
    if name == "l1":
        x[0, :3] = t[0, :3]  # ties: sign(0) = 0
    if name == "bce":
        x[0, 0], t[0, 0] = 0.0, 0.3  # log 0 clamped at -100
        x[0, 1], t[0, 1] = 1.0, 0.6  # log(1 - 1) clamped
        x[0, 2], t[0, 2] = 1e-14, 0.9  # x (1 - x) below torch's 1e-12 in backward
        x[0, 3], t[0, 3] = 1e-50, 1.0  # log x = -115: clamped
        x[0, 4], t[0, 4] = math.exp(-99.5), 0.2  # log x = -99.5, not clamped
    if name == "bce_logits":
        x[0, :4] = [80.0, -80.0, 1e4, -1e4]
    out = loss_fwd(N, name, x, t, reduction)
    dout = rng.normal(size=x.shape if reduction == 0 else ())
    dx0, dt0 = rng.normal(size=x.shape), rng.normal(size=x.shape)
    dx, dt = loss_bwd(N, name, dout, x, t, reduction, dx0, dt0)

    tx, tt = T(torch, x, True), T(torch, t, True)
    tout = _torch_loss(torch, name)(tx, tt, reduction=["none", "mean", "sum"][reduction])
    tout.backward(T(torch, dout))
    assert_close(out, tout.detach().numpy(), 1e-13, 1e-13, "out")
    rtol = np.full(x.shape, 1e-12)
    want_dt = dt0 + tt.grad.numpy()
    if name == "bce":
        # torch's EPSILON is a C float: max(x (1 - x), 1e-12) floors at float32(1e-12)
        # = 9.99999996e-13, a relative 4e-9 away from the contract's 1e-12.
        rtol[x * (1 - x) < 1e-12] = 5e-9
        # torch's target gradient is -logit(x), unclamped (inf at x = 0); the contract's
        # is the derivative of the clamped forward. Compare where no log is clamped
        # (test_bce_numpy_clamps_by_hand covers the rest).
        with np.errstate(divide="ignore"):
            clamped = (np.log(x) < -100) | (np.log1p(-x) < -100)
        assert clamped.sum() == 3
        want_dt = np.where(clamped, dt, want_dt)
    assert_close(dx, dx0 + tx.grad.numpy(), rtol, 1e-12, "dx")
    assert tt.grad is not None, f"torch gave no target gradient for {name}"
    assert_close(dt, want_dt, 1e-12, 1e-12, "dt")


@pytest.mark.parametrize("name", LOSSES)
def test_elementwise_loss_nan_numpy_vs_torch(name):
    """NaN in x or t: the loss is NaN; the gradients follow torch (l1's is 0 there,
    torch's sgn(NaN) = 0; the others propagate NaN)."""
    torch = torch_or_skip()
    x = np.array([np.nan, 0.25, 0.75, np.nan])
    t = np.array([0.5, 0.5, np.nan, np.nan])
    out = loss_fwd(N, name, x, t, 0)
    dx, dt = loss_bwd(N, name, np.ones(4), x, t, 0)
    if name == "bce":  # torch refuses NaN probabilities: by hand
        nan = np.nan
        assert_close(
            out, [nan, -0.5 * (math.log(0.25) + math.log(0.75)), nan, nan], 1e-15, 0, "out"
        )
        assert_close(dx, [nan, -0.25 / (0.25 * 0.75), nan, nan], 1e-15, 0, "dx")
        assert_close(dt, [nan, math.log(0.75 / 0.25), math.log(0.25 / 0.75), nan], 1e-15, 0, "dt")
        return
    tx, tt = T(torch, x, True), T(torch, t, True)
    tout = _torch_loss(torch, name)(tx, tt, reduction="none")
    tout.backward(T(torch, np.ones(4)))
    assert_close(out, tout.detach().numpy(), 1e-15, 0, "out")
    assert_close(dx, tx.grad.numpy(), 1e-15, 0, "dx")
    assert_close(dt, tt.grad.numpy(), 1e-15, 0, "dt")


def _torch_steps(torch, opt_cls, p0, grads, **kw):
    tp = T(torch, p0, True)
    opt = opt_cls([tp], foreach=False, **kw)
    for g in grads:
        tp.grad = T(torch, g)
        opt.step()
    return tp.detach().numpy(), opt.state[tp]


SGD_CASES = [
    dict(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False),
    dict(lr=0.05, momentum=0.0, dampening=0.0, weight_decay=0.1, nesterov=False),
    dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False),
    dict(lr=0.1, momentum=0.8, dampening=0.3, weight_decay=0.01, nesterov=False),
    dict(lr=0.02, momentum=0.9, dampening=0.0, weight_decay=0.05, nesterov=True),
]
SGD_IDS = ["plain", "wd", "momentum", "dampening-wd", "nesterov-wd"]


def _numpy_sgd(p0, grads, dtype, kw):
    p = p0.astype(dtype)
    buf = np.full_like(p, np.nan) if kw["momentum"] else None  # first=True must overwrite it
    for k, g in enumerate(grads):
        N.sgd_step(
            p,
            g.astype(dtype),
            buf,
            kw["lr"],
            kw["momentum"],
            kw["dampening"],
            kw["weight_decay"],
            kw["nesterov"],
            k == 0,
        )
    return p, buf


@pytest.mark.parametrize("kw", SGD_CASES, ids=SGD_IDS)
def test_sgd_numpy_vs_torch(kw):
    torch = torch_or_skip()
    rng = rng_for("sgd-torch", kw)
    p0 = rng.normal(size=(4, 5))
    grads = [rng.normal(size=(4, 5)) for _ in range(5)]
    p, buf = _numpy_sgd(p0, grads, F64, kw)
    tp, state = _torch_steps(torch, torch.optim.SGD, p0, grads, **kw)
    assert_close(p, tp, 1e-13, 1e-14, "p")
    if kw["momentum"]:
        assert_close(buf, state["momentum_buffer"].numpy(), 1e-13, 1e-14, "buf")


ADAM_CASES = [
    dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0),
    dict(lr=3e-3, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1),
    dict(lr=0.1, beta1=0.0, beta2=0.5, eps=1e-3, weight_decay=0.02),
]
ADAM_IDS = ["default", "wd", "beta1=0"]


def _numpy_adam(p0, grads, dtype, kw, decoupled):
    p = p0.astype(dtype)
    m, v = np.zeros_like(p), np.zeros_like(p)
    for k, g in enumerate(grads, start=1):
        N.adam_step(
            p,
            g.astype(dtype),
            m,
            v,
            kw["lr"],
            kw["beta1"],
            kw["beta2"],
            kw["eps"],
            kw["weight_decay"],
            k,
            decoupled,
        )
    return p, m, v


@pytest.mark.parametrize("decoupled", [False, True], ids=["adam", "adamw"])
@pytest.mark.parametrize("kw", ADAM_CASES, ids=ADAM_IDS)
def test_adam_numpy_vs_torch(kw, decoupled):
    torch = torch_or_skip()
    rng = rng_for("adam-torch", kw, decoupled)
    p0 = rng.normal(size=(3, 7))
    grads = [rng.normal(size=(3, 7)) for _ in range(6)]
    grads[2][0, 0] = 0.0  # a zero gradient: v may be tiny, eps matters
    p, m, v = _numpy_adam(p0, grads, F64, kw, decoupled)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    tp, state = _torch_steps(
        torch,
        cls,
        p0,
        grads,
        lr=kw["lr"],
        betas=(kw["beta1"], kw["beta2"]),
        eps=kw["eps"],
        weight_decay=kw["weight_decay"],
    )
    assert_close(p, tp, 1e-12, 1e-13, "p")
    assert_close(m, state["exp_avg"].numpy(), 1e-12, 1e-14, "m")
    assert_close(v, state["exp_avg_sq"].numpy(), 1e-12, 1e-14, "v")


# =====================================================================================
# B. NumPy backend against torch-free oracles: hand formulas and finite differences
# =====================================================================================


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("act", [0, 1, 2, 3], ids=["none", "relu", "gelu", "gelu_tanh"])
def test_linear_numpy_vs_hand_and_finite_differences(act, bias):
    rng = rng_for("lin-hand", act, bias)
    n, i, o = 4, 3, 5
    x, w = rng.normal(size=(n, i)), rng.normal(size=(o, i))
    b = rng.normal(size=o) if bias else None
    dy = rng.normal(size=(n, o))
    zero = (np.zeros((n, i)), np.zeros((o, i)), np.zeros(o))
    y, z, dx, dw, db = run_linear(N, x, w, b, act, dy, grads0=zero)
    # Hand formula: z_kj = sum_m x_km w_jm + b_j, by loops.
    zh = np.array(
        [
            [
                math.fsum(x[k, m] * w[j, m] for m in range(i)) + (b[j] if bias else 0.0)
                for j in range(o)
            ]
            for k in range(n)
        ]
    )
    assert_close(z, zh, 1e-14, 1e-14, "z")
    assert_close(y, ref_act(zh, act), 1e-14, 1e-14, "y")
    dz = dy * ref_act_d(zh, act)
    assert_close(dx, dz @ w, 1e-13, 1e-13, "dx (hand)")
    assert_close(dw, dz.T @ x, 1e-13, 1e-13, "dw (hand)")
    if bias:
        assert_close(db, dz.sum(axis=0), 1e-13, 1e-13, "db (hand)")

    def f():
        yy, _ = run_linear(N, x, w, b, act)
        return float(np.sum(yy * dy))

    assert_close(dx, central_diff(f, x), 1e-6, 1e-7, "dx (finite differences)")
    assert_close(dw, central_diff(f, w), 1e-6, 1e-7, "dw (finite differences)")
    if bias:
        assert_close(db, central_diff(f, b), 1e-6, 1e-7, "db (finite differences)")


def test_linear_numpy_zero_sizes_follow_contract():
    """IN = 0 gives y = act(b); N = 0 leaves dw and db untouched."""
    b = np.array([-1.0, 0.5, 2.0])
    y, z = run_linear(N, np.zeros((2, 0)), np.zeros((3, 0)), b, 1)
    assert_close(y, [[0.0, 0.5, 2.0]] * 2, 0, 0, "y = relu(b)")
    assert_close(z, [b, b], 0, 0, "z = b")
    g0 = (np.zeros((0, 4)), np.full((3, 4), 7.0), np.full(3, -2.0))
    _, _, dx, dw, db = run_linear(
        N, np.zeros((0, 4)), np.ones((3, 4)), np.ones(3), 2, np.zeros((0, 3)), grads0=g0
    )
    assert (dw == 7.0).all() and (db == -2.0).all()


@pytest.mark.parametrize("ignore_index", [-100, 1])
def test_cross_entropy_numpy_vs_hand_and_finite_differences(ignore_index):
    rng = rng_for("ce-hand", ignore_index)
    n, c = 6, 4
    logits = rng.normal(scale=2, size=(n, c))
    target = np.array([0, 3, ignore_index, 2, 1, ignore_index], dtype=np.int64)
    dloss = rng.normal(size=n)
    loss, p = nan_like(n, F64), nan_like((n, c), F64)
    N.cross_entropy_forward(loss, p, logits, target, ignore_index)
    lh, ph = ref_ce_rows(logits, target, ignore_index)
    assert_close(loss, lh, 1e-14, 1e-14, "loss")
    assert_close(p, ph, 1e-14, 1e-16, "p")
    dl = np.zeros((n, c))
    N.cross_entropy_backward(dl, dloss, p, target, ignore_index)
    hand = np.zeros((n, c))  # (p - onehot) dloss, rows ignored: 0
    for r in range(n):
        if target[r] != ignore_index:
            hand[r] = ph[r] * dloss[r]
            hand[r, target[r]] -= dloss[r]
    assert_close(dl, hand, 1e-14, 1e-15, "dlogits (hand)")

    def f():
        ll, pp = nan_like(n, F64), nan_like((n, c), F64)
        N.cross_entropy_forward(ll, pp, logits, target, ignore_index)
        return float(np.sum(ll * dloss))

    assert_close(dl, central_diff(f, logits), 1e-6, 1e-8, "dlogits (finite differences)")


def test_cross_entropy_numpy_extreme_logits_are_stable():
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [3.0, 3.0, 3.0]])
    target = np.array([1, 0, 2], dtype=np.int64)
    for dt in DTYPES:
        loss, p = nan_like(3, dt), nan_like((3, 3), dt)
        N.cross_entropy_forward(loss, p, logits.astype(dt), target, -100)
        assert_close(loss, [1e4, math.log(3), math.log(3)], 1e-6, 0, f"loss {dt.__name__}")
        assert_close(p, [[1, 0, 0], [1 / 3] * 3, [1 / 3] * 3], 1e-6, 0, f"p {dt.__name__}")


@pytest.mark.parametrize("normalized", [True, False], ids=["sum1", "unnormalized"])
def test_cross_entropy_prob_numpy_vs_hand_and_finite_differences(normalized):
    rng = rng_for("ce-prob-hand", normalized)
    n, c = 5, 4
    logits = rng.normal(scale=2, size=(n, c))
    target = rng.uniform(0, 1, (n, c))
    if normalized:
        target /= target.sum(axis=1, keepdims=True)
    dloss = rng.normal(size=n)
    loss, p = nan_like(n, F64), nan_like((n, c), F64)
    N.cross_entropy_prob_forward(loss, p, logits, target)
    hand = np.zeros(n)
    for r in range(n):
        lse = max(logits[r]) + math.log(math.fsum(math.exp(v - max(logits[r])) for v in logits[r]))
        hand[r] = -math.fsum(target[r, k] * (logits[r, k] - lse) for k in range(c))
    assert_close(loss, hand, 1e-13, 1e-14, "loss")
    dl = np.zeros((n, c))
    N.cross_entropy_prob_backward(dl, dloss, p, target)

    def f():
        ll, pp = nan_like(n, F64), nan_like((n, c), F64)
        N.cross_entropy_prob_forward(ll, pp, logits, target)
        return float(np.sum(ll * dloss))

    assert_close(dl, central_diff(f, logits), 1e-6, 1e-8, "dlogits (finite differences)")


def test_nll_numpy_vs_hand_and_finite_differences():
    rng = rng_for("nll-hand")
    x = rng.normal(size=(5, 3))
    target = np.array([2, -7, 0, 0, 1], dtype=np.int64)
    dloss = rng.normal(size=5)
    loss = nan_like(5, F64)
    N.nll_forward(loss, x, target, -7)
    assert_close(loss, [-x[0, 2], 0.0, -x[2, 0], -x[3, 0], -x[4, 1]], 0, 0, "loss")
    dx = np.zeros((5, 3))
    N.nll_backward(dx, dloss, target, -7)

    def f():
        ll = nan_like(5, F64)
        N.nll_forward(ll, x, target, -7)
        return float(np.sum(ll * dloss))

    assert_close(dx, central_diff(f, x), 1e-7, 1e-9, "dx (finite differences)")


@pytest.mark.parametrize("reduction", [0, 1, 2], ids=["none", "mean", "sum"])
@pytest.mark.parametrize("name", LOSSES)
def test_elementwise_loss_numpy_vs_hand_and_finite_differences(name, reduction):
    rng = rng_for("loss-hand", name, reduction)
    x, t = loss_inputs(rng, name, (3, 4), F64)
    if name == "l1":
        x = np.where(np.abs(x - t) < 0.05, x + 0.1, x)  # keep away from the kink for FD
    out = loss_fwd(N, name, x, t, reduction)
    assert_close(
        out, reduce_ref(ref_elementwise_loss(name, x, t), reduction), 1e-13, 1e-14, "out (hand)"
    )
    dout = rng.normal(size=x.shape if reduction == 0 else ())
    dx, dt = loss_bwd(N, name, dout, x, t, reduction)
    # Hand derivatives of the unreduced loss, times dl = dout (or dout / n).
    dl = dout if reduction != 1 else dout / x.size
    hx, ht = {
        "mse": lambda: (2 * (x - t), -2 * (x - t)),
        "l1": lambda: (np.sign(x - t), -np.sign(x - t)),
        "bce": lambda: ((x - t) / (x * (1 - x)), np.log(1 - x) - np.log(x)),
        "bce_logits": lambda: (1 / (1 + np.exp(-x)) - t, -x),
    }[name]()
    assert_close(dx, hx * dl, 1e-13, 1e-14, "dx (hand)")
    assert_close(dt, ht * dl, 1e-13, 1e-14, "dt (hand)")

    def f():
        o = loss_fwd(N, name, x, t, reduction)
        return float(np.sum(o * dout))

    assert_close(dx, central_diff(f, x), 1e-6, 1e-8, "dx (finite differences)")
    assert_close(dt, central_diff(f, t), 1e-6, 1e-8, "dt (finite differences)")


def test_bce_numpy_clamps_by_hand():
    """torch's conventions, written out: logs clamped at -100, x (1 - x) at 1e-12."""
    x = np.array([0.0, 1.0, 1e-14, 0.5])
    t = np.array([0.25, 0.75, 1.0, 1.0])
    out = loss_fwd(N, "bce", x, t, 0)
    assert_close(
        out,
        [-(0.25 * -100 + 0.75 * 0.0), -(0.75 * 0.0 + 0.25 * -100), -math.log(1e-14), math.log(2)],
        1e-14,
        0,
        "out",
    )
    dx, dt = loss_bwd(N, "bce", np.ones(4), x, t, 0)
    assert_close(
        dx, [-0.25 / 1e-12, 0.25 / 1e-12, (1e-14 - 1) / 1e-12, -0.5 / 0.25], 1e-12, 0, "dx"
    )
    assert_close(dt, [0.0 - -100, -100 - 0.0, -1e-14 - math.log(1e-14), 0.0], 1e-12, 1e-15, "dt")


def test_elementwise_loss_empty_mean_is_nan_and_sum_zero():
    x = np.zeros((0, 3))
    for name in LOSSES:
        assert np.isnan(loss_fwd(N, name, x, x, 1)), name
        assert loss_fwd(N, name, x, x, 2) == 0, name


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 0.9])
def test_dropout_numpy_vs_hand_and_finite_differences(p):
    rng = rng_for("dropout-hand", p)
    x = rng.normal(size=(6, 5))
    u = rng.uniform(0, 1, (6, 5))
    u[0, :2] = p  # ties are kept: u >= p
    y = nan_like(x.shape, F64)
    N.dropout_forward(y, x, u, p)
    hand = np.array(
        [[x[i, j] / (1 - p) if u[i, j] >= p else 0.0 for j in range(5)] for i in range(6)]
    )
    assert_close(y, hand, 1e-15, 0, "y")
    dy = rng.normal(size=x.shape)
    dx = np.ones_like(x)
    N.dropout_backward(dx, dy, u, p)

    def f():
        yy = nan_like(x.shape, F64)
        N.dropout_forward(yy, x, u, p)
        return float(np.sum(yy * dy))

    assert_close(dx - 1, central_diff(f, x), 1e-7, 1e-9, "dx (finite differences)")


def test_dropout_numpy_in_place_and_nan():
    x = np.array([np.nan, 2.0, np.inf, 4.0])
    u = np.array([0.1, 0.1, 0.9, 0.9])
    N.dropout_forward(x, x, u, 0.5)  # y may be x
    assert np.isnan(x[0]) and x[1] == 0 and x[2] == np.inf and x[3] == 8.0


@pytest.mark.parametrize("kw", SGD_CASES, ids=SGD_IDS)
def test_sgd_numpy_vs_documented_rule(kw):
    rng = rng_for("sgd-hand", kw)
    p0 = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(4)]
    p, buf = _numpy_sgd(p0, grads, F64, kw)
    ph, bh = ref_sgd(p0, grads, **kw)
    assert_close(p, ph, 1e-13, 1e-14, "p")
    if kw["momentum"]:
        assert_close(buf, bh, 1e-13, 1e-14, "buf")


@pytest.mark.parametrize("decoupled", [False, True], ids=["adam", "adamw"])
@pytest.mark.parametrize("kw", ADAM_CASES, ids=ADAM_IDS)
def test_adam_numpy_vs_documented_rule(kw, decoupled):
    rng = rng_for("adam-hand", kw, decoupled)
    p0 = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) for _ in range(5)]
    p, m, v = _numpy_adam(p0, grads, F64, kw, decoupled)
    ph, mh, vh = ref_adam(p0, grads, **kw, decoupled=decoupled)
    assert_close(p, ph, 1e-12, 1e-13, "p")
    assert_close(m, mh, 1e-13, 1e-15, "m")
    assert_close(v, vh, 1e-13, 1e-15, "v")


def test_adam_first_step_moves_by_lr_by_hand():
    """With no weight decay, step 1 moves each entry by lr * g / (|g| + eps')."""
    p = np.array([1.0, -2.0, 3.0])
    g = np.array([0.5, -4.0, 0.0])
    m, v = np.zeros(3), np.zeros(3)
    N.adam_step(p, g, m, v, 0.1, 0.9, 0.999, 1e-8, 0.0, 1, False)
    assert_close(
        p, [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 * 4 / (4 + 1e-8), 3.0], 1e-14, 0, "p"
    )


# =====================================================================================
# C. C against NumPy (both dtypes, odd and zero sizes)
# =====================================================================================

LINEAR_SHAPES = [
    (1, 1, 1),
    (7, 33, 1),
    (1, 7, 257),
    (33, 257, 7),
    (257, 7, 33),
    (257, 257, 33),
    (0, 7, 33),
    (7, 0, 33),
    (7, 33, 0),
    (0, 0, 0),
]


@needs_c
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("act", [0, 1, 2, 3], ids=["none", "relu", "gelu", "gelu_tanh"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shape", LINEAR_SHAPES, ids=lambda s: "N{}-IN{}-OUT{}".format(*s))
def test_linear_c_matches_numpy(shape, dtype, act, bias):
    n, i, o = shape
    rng = rng_for("lin-c", shape, dtype, act, bias)
    x = rng.uniform(-2, 2, (n, i)).astype(dtype)
    w = (rng.uniform(-2, 2, (o, i)) / math.sqrt(max(i, 1))).astype(dtype)
    b = rng.uniform(-1, 1, o).astype(dtype) if bias else None
    if n and i:
        x[0] = 0  # z == b exactly in row 0 (relu at 0 without bias)
    dy = rng.uniform(-1, 1, (n, o)).astype(dtype)
    g0 = tuple(rng.uniform(-1, 1, s).astype(dtype) for s in ((n, i), (o, i), (o,)))
    keep_z = bias  # act 0/1: z given or None, both run
    got = run_linear(C, x, w, b, act, dy, keep_z=keep_z, grads0=g0)
    want = run_linear(N, x, w, b, act, dy, keep_z=keep_z, grads0=g0)
    zs = np.abs(x.astype(F64)) @ np.abs(w.astype(F64)).T + (np.abs(b) if bias else 0)
    dzs = 1.2 * np.abs(dy.astype(F64))
    scales = [
        zs,
        zs,
        np.abs(g0[0]) + dzs @ np.abs(w),
        np.abs(g0[1]) + dzs.T @ np.abs(x),
        np.abs(g0[2]) + dzs.sum(axis=0),
    ]
    for name, g, wnt, s in zip(["y", "z", "dx", "dw", "db"], got, want, scales):
        if name == "z" and wnt is None:
            continue
        if name == "db" and not bias:
            continue
        assert_match(g, wnt, dtype, name, s)


@needs_c
@pytest.mark.parametrize("act", [0, 1, 2, 3], ids=["none", "relu", "gelu", "gelu_tanh"])
@pytest.mark.parametrize("skip", ["dx", "dw", "db", "all"])
def test_linear_backward_c_none_gradients_skipped(act, skip):
    rng = rng_for("lin-none", act, skip)
    n, i, o = 7, 33, 5
    x, w, b = rng.normal(size=(n, i)), rng.normal(size=(o, i)), rng.normal(size=o)
    dy = rng.normal(size=(n, o))
    results = []
    for mod in (C, N):
        y, z = nan_like((n, o), F64), nan_like((n, o), F64)
        mod.linear_forward(y, z, x, w, b, act)
        grads = {"dx": np.ones((n, i)), "dw": np.ones((o, i)), "db": np.ones(o)}
        for k in grads:
            if skip in (k, "all"):
                grads[k] = None
        mod.linear_backward(
            grads["dx"],
            grads["dw"],
            grads["db"],
            dy,
            x,
            w,
            z,
            y,
            act,
            nan_like((n, o), F64) if act else None,
        )
        results.append(grads)
    for k in ("dx", "dw", "db"):
        if results[1][k] is not None:
            assert_match(results[0][k], results[1][k], F64, k, 100.0)


@pytest.mark.parametrize("mod", [C, N], ids=["c", "numpy"])
@pytest.mark.parametrize("act", [0, 1, 2, 3], ids=["none", "relu", "gelu", "gelu_tanh"])
@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("n,i,o", [(7, 33, 5), (64, 20, 33), (0, 5, 3), (4, 5, 0), (3, 0, 4)])
def test_linear_backward_overwrite_equals_accumulate_into_zeros(mod, act, dtype, n, i, o):
    """accumulate=False writes dx, dw, db without reading them (NaN in them
    must not leak; the empty sums of N = 0 or OUT = 0 give zeros): bitwise
    what accumulating into zeros gives, and 0 + s is s."""
    rng = rng_for("lin-overwrite", act, n, i, o)
    x, w, b = (rng.normal(size=s).astype(dtype) for s in ((n, i), (o, i), (o,)))
    dy = rng.normal(size=(n, o)).astype(dtype)
    y, z = nan_like((n, o), dtype), nan_like((n, o), dtype)
    mod.linear_forward(y, z, x, w, b, act)
    got = [nan_like(s, dtype) for s in ((n, i), (o, i), (o,))]
    want = [np.zeros(s, dtype) for s in ((n, i), (o, i), (o,))]
    for outs, acc in ((got, False), (want, True)):
        mod.linear_backward(
            *outs, dy, x, w, z, y, act, nan_like((n, o), dtype) if act else None, acc
        )
    for g, wv, name in zip(got, want, ("dx", "dw", "db")):
        assert np.array_equal(g, wv), name
    # and accumulate=True still adds to what is there
    again = [v.copy() for v in want]
    mod.linear_backward(*again, dy, x, w, z, y, act, nan_like((n, o), dtype) if act else None)
    for a2, wv in zip(again, want):
        np.testing.assert_allclose(a2, 2 * wv, rtol=1e-5 if dtype == F32 else 1e-12, atol=1e-5)


CE_SHAPES = [(1, 1), (7, 33), (33, 7), (257, 7), (1, 257), (7, 1), (0, 7), (33, 257), (2049, 33)]


def ce_inputs(rng, n, c, dtype, ignore_index):
    logits = rng.normal(scale=3, size=(n, c))
    target = rng.integers(0, c, n).astype(np.int64) if c else np.full(n, ignore_index, np.int64)
    if n >= 4:
        logits[1] = 0.75  # ties
        logits[2, rng.integers(0, c)] = 1e4  # stability
        logits[3] = rng.choice([-1e4, 1e4], size=c)
        target[::5] = ignore_index
    if n >= 9:  # NaN and infinities give NaN rows (or 0 if ignored)
        logits[5, c - 1] = np.nan
        logits[6] = -np.inf
        logits[7, 0] = np.inf
        logits[8, c // 2] = -np.inf
    return logits.astype(dtype), target


@needs_c
@pytest.mark.parametrize("ignore_index", [-100, 0])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shape", CE_SHAPES, ids=lambda s: "N{}-C{}".format(*s))
def test_cross_entropy_c_matches_numpy(shape, dtype, ignore_index):
    n, c = shape
    rng = rng_for("ce-c", shape, dtype, ignore_index)
    logits, target = ce_inputs(rng, n, c, dtype, ignore_index)
    dloss = rng.normal(size=n).astype(dtype)
    g0 = rng.normal(size=(n, c)).astype(dtype)
    res = []
    for mod in (C, N):
        loss, p = nan_like(n, dtype), nan_like((n, c), dtype)
        mod.cross_entropy_forward(loss, p, logits, target, ignore_index)
        dl = g0.copy()
        mod.cross_entropy_backward(dl, dloss, p, target, ignore_index)
        res.append((loss, p, dl))
    lscale = np.abs(logits.astype(F64)).max(axis=1, initial=0) + math.log(max(c, 1)) + 1
    assert_match(res[0][0], res[1][0], dtype, "loss", lscale)
    assert_match(res[0][1], res[1][1], dtype, "p", 1.0)
    assert_match(res[0][2], res[1][2], dtype, "dlogits", np.abs(g0) + 2 * np.abs(dloss)[:, None])
    # Also None skipped and NumPy's accumulate: dl(g0) = g0 + dl(0).
    for mod in (C, N):
        mod.cross_entropy_backward(None, dloss, res[1][1], target, ignore_index)
    dl0 = np.zeros_like(g0)
    N.cross_entropy_backward(dl0, dloss, res[1][1], target, ignore_index)
    assert_match(res[1][2], g0 + dl0, dtype, "accumulate", 4.0)


@needs_c
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_cross_entropy_c_all_rows_ignored_and_empty_classes(dtype):
    for c in (0, 3):
        logits = np.ones((4, c), dtype)
        target = np.full(4, -1, np.int64)
        for mod in (C, N):
            loss, p = nan_like(4, dtype), nan_like((4, c), dtype)
            mod.cross_entropy_forward(loss, p, logits, target, -1)
            assert (loss == 0).all(), (mod.__name__, c)
            dl = np.full((4, c), 5.0, dtype)
            mod.cross_entropy_backward(dl, np.ones(4, dtype), p, target, -1)
            assert (dl == 5.0).all(), (mod.__name__, c)


@needs_c
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shape", CE_SHAPES, ids=lambda s: "N{}-C{}".format(*s))
def test_cross_entropy_prob_c_matches_numpy(shape, dtype):
    n, c = shape
    rng = rng_for("ce-prob-c", shape, dtype)
    logits, _ = ce_inputs(rng, n, c, dtype, -100)
    target = rng.uniform(0, 1, (n, c))
    if n:
        target[0] = 0
        target[n // 2] /= max(target[n // 2].sum(), 1e-300)
    target = target.astype(dtype)
    dloss = rng.normal(size=n).astype(dtype)
    g0 = rng.normal(size=(n, c)).astype(dtype)
    res = []
    for mod in (C, N):
        loss, p = nan_like(n, dtype), nan_like((n, c), dtype)
        mod.cross_entropy_prob_forward(loss, p, logits, target)
        dl = g0.copy()
        mod.cross_entropy_prob_backward(dl, dloss, p, target)
        mod.cross_entropy_prob_backward(None, dloss, p, target)
        res.append((loss, p, dl))
    tsum = target.astype(F64).sum(axis=1)
    lscale = tsum * (
        2 * np.abs(logits.astype(F64)).max(axis=1, initial=0) + math.log(max(c, 1)) + 1
    )
    assert_match(res[0][0], res[1][0], dtype, "loss", lscale)
    assert_match(res[0][1], res[1][1], dtype, "p", 1.0)
    assert_match(
        res[0][2], res[1][2], dtype, "dlogits", np.abs(g0) + ((tsum + 1) * np.abs(dloss))[:, None]
    )


@needs_c
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shape", CE_SHAPES, ids=lambda s: "N{}-C{}".format(*s))
def test_nll_c_matches_numpy(shape, dtype):
    n, c = shape
    rng = rng_for("nll-c", shape, dtype)
    x, target = ce_inputs(rng, n, c, dtype, -3)
    dloss = rng.normal(size=n).astype(dtype)
    g0 = rng.normal(size=(n, c)).astype(dtype)
    res = []
    for mod in (C, N):
        loss = nan_like(n, dtype)
        mod.nll_forward(loss, x, target, -3)
        dx = g0.copy()
        mod.nll_backward(dx, dloss, target, -3)
        mod.nll_backward(None, dloss, target, -3)
        res.append((loss, dx))
    assert_match(res[0][0], res[1][0], dtype, "loss", 0.0, ulps=0)
    assert_match(res[0][1], res[1][1], dtype, "dx", 0.0, ulps=0)


LOSS_SHAPES = [(), (0,), (1,), (7,), (33,), (257,), (7, 33), (33, 257), (70001,)]


@needs_c
@pytest.mark.parametrize("reduction", [0, 1, 2], ids=["none", "mean", "sum"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shape", LOSS_SHAPES, ids=str)
@pytest.mark.parametrize("name", LOSSES)
def test_elementwise_loss_c_matches_numpy(name, shape, dtype, reduction):
    rng = rng_for("loss-c", name, shape, dtype, reduction)
    x, t = loss_inputs(rng, name, shape, dtype)
    if x.size >= 8:
        flat_x, flat_t = x.reshape(-1), t.reshape(-1)
        if name == "l1" or name == "mse":
            flat_x[:3] = flat_t[:3]  # ties
        if name == "bce":
            flat_x[:4] = [0.0, 1.0, 1e-30, 1 - 2**-20]  # clamps and the 1e-12 floor
        if name == "bce_logits":
            flat_x[:4] = [80.0, -80.0, 1e4, -1e4]
        flat_x[5], flat_t[6] = np.nan, np.nan
    n = max(x.size, 1)
    dout = rng.normal(size=shape if reduction == 0 else ()).astype(dtype)
    dx0, dt0 = rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)
    res = []
    for mod in (C, N):
        out = loss_fwd(mod, name, x, t, reduction)
        assert out.shape == (shape if reduction == 0 else ())
        dx, dt = loss_bwd(mod, name, dout, x, t, reduction, dx0, dt0)
        res.append((out, dx, dt))
    l64 = np.nan_to_num(np.abs(ref_elementwise_loss(name, x.astype(F64), t.astype(F64)))) + 1
    oscale = l64 if reduction == 0 else (l64.sum() / (n if reduction == 1 else 1))
    ulps = 64 if reduction == 0 else 64 + 4 * math.sqrt(n)
    assert_match(res[0][0], res[1][0], dtype, "out", oscale, ulps=ulps)
    gs = (
        np.nan_to_num(np.abs(res[1][1] - dx0) + np.abs(res[1][2] - dt0))
        + np.abs(dx0)
        + np.abs(dt0)
        + 1
    )
    assert_match(res[0][1], res[1][1], dtype, "dx", gs)
    assert_match(res[0][2], res[1][2], dtype, "dt", gs)


@needs_c
@pytest.mark.parametrize("which", ["dx", "dt", "both"])
@pytest.mark.parametrize("name", LOSSES)
def test_elementwise_loss_c_none_gradients_skipped(name, which):
    rng = rng_for("loss-none", name, which)
    x, t = loss_inputs(rng, name, (5, 3), F64)
    dout = np.array(0.7)
    res = []
    for mod in (C, N):
        dx = None if which in ("dx", "both") else np.ones((5, 3))
        dt = None if which in ("dt", "both") else np.ones((5, 3))
        getattr(mod, f"{name}_backward")(dx, dt, dout, x, t, 1)
        res.append((dx, dt))
    for k in range(2):
        if res[1][k] is not None:
            assert_match(res[0][k], res[1][k], F64, ["dx", "dt"][k], 2.0)


@needs_c
@pytest.mark.parametrize("name", LOSSES)
def test_elementwise_loss_c_empty(name):
    x = np.zeros((0, 4))
    for mod in (C, N):
        assert np.isnan(loss_fwd(mod, name, x, x, 1)), mod.__name__
        assert loss_fwd(mod, name, x, x, 2) == 0, mod.__name__
        assert loss_fwd(mod, name, x, x, 0).shape == (0, 4)
        loss_bwd(mod, name, np.array(1.0), x, x, 1)


@needs_c
@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 0.7, 0.875])  # 0.7: float32(0.7) < 0.7
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shape", [(), (0,), (1,), (7,), (33, 257), (70001,)], ids=str)
def test_dropout_c_matches_numpy(shape, dtype, p):
    rng = rng_for("dropout-c", shape, dtype, p)
    x = rng.normal(size=shape).astype(dtype)
    u = rng.uniform(0, 1, shape).astype(dtype)
    if u.size > 4:
        # ties, p rounded to the dtype: kept (both backends compare u >= p in the
        # arrays' dtype)
        u.reshape(-1)[:4] = p
    dy = rng.normal(size=shape).astype(dtype)
    g0 = rng.normal(size=shape).astype(dtype)
    res = []
    for mod in (C, N):
        y = nan_like(shape, dtype)
        mod.dropout_forward(y, x, u, p)
        dx = g0.copy()
        mod.dropout_backward(dx, dy, u, p)
        mod.dropout_backward(None, dy, u, p)
        res.append((y, dx))
    assert_match(res[0][0], res[1][0], dtype, "y", 0.0, ulps=4)
    assert_match(res[0][1], res[1][1], dtype, "dx", np.abs(g0), ulps=4)


@needs_c
def test_dropout_c_in_place_and_nan():
    for mod in (C, N):
        x = np.array([np.nan, 2.0, np.inf, 4.0])
        mod.dropout_forward(x, x, np.array([0.1, 0.1, 0.9, 0.9]), 0.5)
        assert np.isnan(x[0]) and x[1] == 0 and x[2] == np.inf and x[3] == 8.0, (mod.__name__, x)


OPT_SHAPES = [(), (1,), (7,), (33, 257), (70001,)]


@needs_c
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shape", OPT_SHAPES, ids=str)
@pytest.mark.parametrize("kw", SGD_CASES, ids=SGD_IDS)
def test_sgd_c_matches_numpy(kw, shape, dtype):
    rng = rng_for("sgd-c", kw, shape, dtype)
    p0 = rng.normal(size=shape).astype(dtype)
    grads = [rng.normal(size=shape).astype(dtype) for _ in range(3)]
    res = []
    for mod in (C, N):
        p = p0.copy()
        buf = nan_like(shape, dtype) if kw["momentum"] else None
        for k, g in enumerate(grads):
            mod.sgd_step(
                p,
                g,
                buf,
                kw["lr"],
                kw["momentum"],
                kw["dampening"],
                kw["weight_decay"],
                kw["nesterov"],
                k == 0,
            )
        res.append((p, buf))
    assert_match(res[0][0], res[1][0], dtype, "p", np.abs(p0) + 1.0, ulps=16)
    if kw["momentum"]:
        assert_match(res[0][1], res[1][1], dtype, "buf", 10.0, ulps=16)


@needs_c
@pytest.mark.parametrize("decoupled", [False, True], ids=["adam", "adamw"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("shape", OPT_SHAPES, ids=str)
@pytest.mark.parametrize("kw", ADAM_CASES, ids=ADAM_IDS)
def test_adam_c_matches_numpy(kw, shape, dtype, decoupled):
    rng = rng_for("adam-c", kw, shape, dtype, decoupled)
    p0 = rng.normal(size=shape).astype(dtype)
    grads = [rng.normal(size=shape).astype(dtype) for _ in range(3)]
    if grads[0].size > 2:
        for g in grads:
            g.reshape(-1)[:2] = 0.0  # v stays 0: the update is m / eps = 0
    res = []
    for mod in (C, N):
        p, m, v = p0.copy(), np.zeros(shape, dtype), np.zeros(shape, dtype)
        for k, g in enumerate(grads, start=1):
            mod.adam_step(
                p,
                g,
                m,
                v,
                kw["lr"],
                kw["beta1"],
                kw["beta2"],
                kw["eps"],
                kw["weight_decay"],
                k,
                decoupled,
            )
        res.append((p, m, v))
    assert_match(res[0][0], res[1][0], dtype, "p", np.abs(p0) + 10 * kw["lr"], ulps=16)
    assert_match(res[0][1], res[1][1], dtype, "m", 5.0, ulps=16)
    assert_match(res[0][2], res[1][2], dtype, "v", 20.0, ulps=16)


# =====================================================================================
# D. Bad calls, on both backends
# =====================================================================================
# A valid call for each kernel, as (name -> value). Each mutation below breaks exactly
# one thing, so the exception type is determined.


def valid_call(fn, dtype=F64):
    rng = rng_for("valid", fn, dtype)
    n, c, i, o = 4, 3, 5, 3

    def a(*shape):
        return rng.uniform(0.1, 0.9, shape).astype(dtype)

    tgt = np.array([0, 2, -100, 1], dtype=np.int64)
    if fn == "linear_forward":
        return dict(y=a(n, o), z=a(n, o), x=a(n, i), w=a(o, i), b=a(o), act=2)
    if fn == "linear_backward":
        return dict(
            dx=a(n, i),
            dw=a(o, i),
            db=a(o),
            dy=a(n, o),
            x=a(n, i),
            w=a(o, i),
            z=a(n, o),
            y=a(n, o),
            act=2,
            scratch=a(n, o),
        )
    if fn == "cross_entropy_forward":
        return dict(loss=a(n), p=a(n, c), logits=a(n, c), target=tgt, ignore_index=-100)
    if fn == "cross_entropy_backward":
        return dict(dlogits=a(n, c), dloss=a(n), p=a(n, c), target=tgt, ignore_index=-100)
    if fn == "cross_entropy_prob_forward":
        return dict(loss=a(n), p=a(n, c), logits=a(n, c), target=a(n, c))
    if fn == "cross_entropy_prob_backward":
        return dict(dlogits=a(n, c), dloss=a(n), p=a(n, c), target=a(n, c))
    if fn == "nll_forward":
        return dict(loss=a(n), x=a(n, c), target=tgt, ignore_index=-100)
    if fn == "nll_backward":
        return dict(dx=a(n, c), dloss=a(n), target=tgt, ignore_index=-100)
    if fn.endswith("_forward") and fn[:-8] in LOSSES:
        return dict(out=a(), x=a(n, c), t=a(n, c), reduction=1)
    if fn.endswith("_backward") and fn[:-9] in LOSSES:
        return dict(dx=a(n, c), dt=a(n, c), dout=a(), x=a(n, c), t=a(n, c), reduction=1)
    if fn == "dropout_forward":
        return dict(y=a(n, c), x=a(n, c), u=a(n, c), p=0.25)
    if fn == "dropout_backward":
        return dict(dx=a(n, c), dy=a(n, c), u=a(n, c), p=0.25)
    if fn == "sgd_step":
        return dict(
            p=a(n, c),
            g=a(n, c),
            buf=a(n, c),
            lr=0.1,
            momentum=0.9,
            dampening=0.1,
            weight_decay=0.01,
            nesterov=False,
            first=False,
        )
    if fn == "adam_step":
        return dict(
            p=a(n, c),
            g=a(n, c),
            m=a(n, c),
            v=a(n, c),
            lr=0.01,
            beta1=0.9,
            beta2=0.999,
            eps=1e-8,
            weight_decay=0.01,
            step=3,
            decoupled=True,
        )
    raise AssertionError(fn)


OUTPUTS = {  # the arrays each kernel writes
    "linear_forward": ("y", "z"),
    "linear_backward": ("dx", "dw", "db", "scratch"),
    "cross_entropy_forward": ("loss", "p"),
    "cross_entropy_backward": ("dlogits",),
    "cross_entropy_prob_forward": ("loss", "p"),
    "cross_entropy_prob_backward": ("dlogits",),
    "nll_forward": ("loss",),
    "nll_backward": ("dx",),
    "dropout_forward": ("y",),
    "dropout_backward": ("dx",),
    "sgd_step": ("p", "buf"),
    "adam_step": ("p", "m", "v"),
}
for _l in LOSSES:
    OUTPUTS[f"{_l}_forward"] = ("out",)
    OUTPUTS[f"{_l}_backward"] = ("dx", "dt")
CLASS_TARGET = ["cross_entropy_forward", "cross_entropy_backward", "nll_forward", "nll_backward"]


def call(mod, fn, args):
    return getattr(mod, fn)(*args.values())


def float_arrays(args):
    return [
        k
        for k, v in args.items()
        if isinstance(v, np.ndarray) and v.dtype.kind == "f" and not (k == "target" and v.ndim == 1)
    ]


def raises(exc, fn):
    return pytest.raises(exc, match=rf"^{re.escape(fn)}\b")


def _array_cases():
    out = []
    for fn in NEW_KERNELS:
        for name in float_arrays(valid_call(fn)):
            out.append((fn, name))
    return out


@pytest.mark.parametrize("mod", MODS)
@pytest.mark.parametrize("fn", NEW_KERNELS)
def test_valid_call_works_with_read_only_inputs(mod, fn):
    """The baseline for the mutations below; inputs may be read-only."""
    args = valid_call(fn)
    for k, v in args.items():
        if isinstance(v, np.ndarray) and k not in OUTPUTS[fn]:
            v.setflags(write=False)
    call(mod, fn, args)


@pytest.mark.parametrize("mod", MODS)
@pytest.mark.parametrize("fn,name", _array_cases(), ids=lambda v: v if isinstance(v, str) else None)
def test_bad_dtype(mod, fn, name):
    for bad in (np.float16, np.int64, np.complex128):
        args = valid_call(fn)
        args[name] = args[name].astype(bad)
        with raises(TypeError, fn):
            call(mod, fn, args)
    args = valid_call(fn, F32)  # mixed: one float64 among float32
    args[name] = args[name].astype(F64)
    with raises(TypeError, fn):
        call(mod, fn, args)


@pytest.mark.parametrize("mod", MODS)
@pytest.mark.parametrize("fn,name", _array_cases(), ids=lambda v: v if isinstance(v, str) else None)
def test_bad_shape_and_layout(mod, fn, name):
    args = valid_call(fn)
    a = args[name]
    grown = np.zeros((2,) if a.ndim == 0 else (a.shape[0] + 1,) + a.shape[1:], a.dtype) + 0.5
    args[name] = grown
    with raises(ValueError, fn):
        call(mod, fn, args)
    if a.ndim and a.shape[0] > 1:
        args = valid_call(fn)
        args[name] = a[:-1]  # one row short (a kernel must not read past it)
        with raises(ValueError, fn):
            call(mod, fn, args)
    args = valid_call(fn)
    args[name] = a[None]  # one more dimension, same values
    with raises(ValueError, fn):
        call(mod, fn, args)
    if a.ndim:
        args = valid_call(fn)
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        wide[..., ::2] = a
        args[name] = wide[..., ::2]  # same shape and values, not contiguous
        with raises(ValueError, fn):
            call(mod, fn, args)
    if name in OUTPUTS[fn]:
        args = valid_call(fn)
        args[name].setflags(write=False)
        with raises(ValueError, fn):
            call(mod, fn, args)


@pytest.mark.parametrize("mod", MODS)
@pytest.mark.parametrize("fn", CLASS_TARGET)
def test_class_target_must_be_int64_contiguous(mod, fn):
    for bad in (np.int32, np.float64, np.uint64):
        args = valid_call(fn)
        args["target"] = np.array([0, 2, 1, 1], dtype=bad)
        with raises(TypeError, fn):
            call(mod, fn, args)
    args = valid_call(fn)
    args["target"] = [0, 2, 1, 1]
    with raises(TypeError, fn):
        call(mod, fn, args)
    args = valid_call(fn)
    args["target"] = np.array([0, 9, 2, 9, 1, 9, 1, 9], dtype=np.int64)[::2]
    with raises(ValueError, fn):
        call(mod, fn, args)
    args = valid_call(fn)
    args["target"] = np.array([0, 2, 1], dtype=np.int64)
    with raises(ValueError, fn):
        call(mod, fn, args)


@pytest.mark.parametrize("mod", MODS)
@pytest.mark.parametrize("bad", [3, -1, 2**40, -(2**62)])
@pytest.mark.parametrize("fn", CLASS_TARGET)
def test_class_target_out_of_range_raises_before_any_write(mod, fn, bad):
    args = valid_call(fn)
    args["target"] = np.array([0, 2, bad, 1], dtype=np.int64)
    before = {k: args[k].copy() for k in OUTPUTS[fn]}
    with raises(IndexError, fn):
        call(mod, fn, args)
    for k, v in before.items():
        assert np.array_equal(args[k], v, equal_nan=True), f"{fn} wrote {k} before raising"
    args = valid_call(fn)  # the same value as ignore_index is fine
    args["target"] = np.array([0, 2, bad, 1], dtype=np.int64)
    args["ignore_index"] = bad
    call(mod, fn, args)


@pytest.mark.parametrize("mod", MODS)
@pytest.mark.parametrize("fn", CLASS_TARGET)
def test_bad_ignore_index(mod, fn):
    for bad, exc in (
        (1.0, TypeError),
        (None, TypeError),
        ("x", TypeError),
        (2**63, ValueError),
        (-(2**63) - 1, ValueError),
    ):
        args = valid_call(fn)
        args["ignore_index"] = bad
        args["target"] = np.array([0, 2, 1, 1], dtype=np.int64)
        with raises(exc, fn):
            call(mod, fn, args)


@pytest.mark.parametrize("mod", MODS)
@pytest.mark.parametrize("fn", ["linear_forward", "linear_backward"])
def test_bad_act_code(mod, fn):
    for bad, exc in ((4, ValueError), (-1, ValueError), ("relu", TypeError), (1.0, TypeError)):
        args = valid_call(fn)
        args["act"] = bad
        with raises(exc, fn):
            call(mod, fn, args)


@pytest.mark.parametrize("mod", MODS)
@pytest.mark.parametrize("fn", [f"{loss}_{d}" for loss in LOSSES for d in ("forward", "backward")])
def test_bad_reduction_code(mod, fn):
    for bad, exc in ((3, ValueError), (-1, ValueError), ("mean", TypeError), (None, TypeError)):
        args = valid_call(fn)
        args["reduction"] = bad
        with raises(exc, fn):
            call(mod, fn, args)
    args = valid_call(fn)  # reduction none needs out/dout shaped like x
    args["reduction"] = 0
    with raises(ValueError, fn):
        call(mod, fn, args)


@pytest.mark.parametrize("mod", MODS)
def test_linear_missing_required_buffers(mod):
    args = valid_call("linear_forward")
    for act in (2, 3):
        args.update(z=None, act=act)
        with raises(ValueError, "linear_forward"):
            call(mod, "linear_forward", args)
    for act in (2, 3):
        args = valid_call("linear_backward")
        args.update(z=None, act=act)
        with raises(ValueError, "linear_backward"):
            call(mod, "linear_backward", args)
    for act in (1, 2, 3):
        args = valid_call("linear_backward")
        args.update(scratch=None, act=act)
        with raises(ValueError, "linear_backward"):
            call(mod, "linear_backward", args)
        args.update(dx=None, dw=None, db=None)  # no gradient wanted: no scratch needed
        call(mod, "linear_backward", args)
    args = valid_call("linear_backward")  # y is read by relu only
    args.update(y=None, act=1)
    with raises(ValueError, "linear_backward"):
        call(mod, "linear_backward", args)
    args = valid_call("linear_forward")  # z may be None for act 0 and 1
    for act in (0, 1):
        args.update(z=None, act=act)
        call(mod, "linear_forward", args)


@pytest.mark.parametrize("mod", MODS)
@pytest.mark.parametrize("fn", ["dropout_forward", "dropout_backward"])
def test_dropout_bad_p(mod, fn):
    for bad in (1.0, 1.5, -0.1, float("nan"), float("inf")):
        args = valid_call(fn)
        args["p"] = bad
        before = {k: args[k].copy() for k in OUTPUTS[fn]}
        with raises(ValueError, fn):
            call(mod, fn, args)
        for k, v in before.items():
            assert np.array_equal(args[k], v), f"{fn} wrote {k} before raising"


@pytest.mark.parametrize("mod", MODS)
def test_optimizer_bad_arguments(mod):
    for bad in (0, -1):
        args = valid_call("adam_step")
        args["step"] = bad
        with raises(ValueError, "adam_step"):
            call(mod, "adam_step", args)
    args = valid_call("sgd_step")  # buf None only without momentum
    args["buf"] = None
    with raises(ValueError, "sgd_step"):
        call(mod, "sgd_step", args)
    args["momentum"] = 0.0
    call(mod, "sgd_step", args)
    args = valid_call("sgd_step")
    args["lr"] = "0.1"
    with raises(TypeError, "sgd_step"):
        call(mod, "sgd_step", args)


@pytest.mark.parametrize("mod", MODS)
def test_optimizer_zero_weight_decay_is_skipped(mod):
    """torch adds weight_decay * p only when weight_decay != 0, so an infinite
    parameter with a zero gradient stays infinite instead of becoming NaN (0 * inf)."""
    p = np.array([np.inf, 1.0])
    mod.sgd_step(p, np.array([0.0, 1.0]), None, 0.1, 0.0, 0.0, 0.0, False, True)
    assert p[0] == np.inf and p[1] == 1.0 - 0.1 * 1.0
    p, m, v = np.array([np.inf, 1.0]), np.zeros(2), np.zeros(2)
    mod.adam_step(p, np.array([0.0, 2.0]), m, v, 0.1, 0.9, 0.999, 1e-8, 0.0, 1, True)
    assert p[0] == np.inf and m[0] == 0 and v[0] == 0
    assert_close(p[1], 1.0 - 0.1 * 2 / (2 + 1e-8), 1e-15, 0, "p[1]")


@pytest.mark.parametrize("mod", MODS)
@pytest.mark.parametrize("rows", [3, 5])
def test_nll_backward_dloss_rows_must_match_dx(mod, rows):
    """dloss with fewer rows than dx must be refused: reading dloss[i] for every
    row of dx would run past its end."""
    backing = np.arange(10.0) + 100  # dloss is a view into it
    dx = np.zeros((4, 3))
    with raises(ValueError, "nll_backward"):
        mod.nll_backward(dx, backing[:rows], np.array([0, 2, 1, 1], dtype=np.int64), -100)
    assert (dx == 0).all()
