"""Thread safety and determinism.

* Two Python threads, each training its own model, give bitwise the results
  of running the same work sequentially (the kernels release the GIL for
  large arrays, so the two really run at the same time).
* The tape and the no_grad state are per thread.
* set_num_threads(1) and set_num_threads(2) give bitwise-identical results
  for every C kernel, on sizes large enough for the parallel paths:
  reductions must use fixed split points, never atomics or racy sums.
"""
# SPDX-License-Identifier: MIT

import threading
import zlib

import numpy as np
import pytest

import cgrad as cg
import cgrad.nn as nn
import cgrad.nn.functional as F
from cgrad import _ckernels as C

# ------------------------------------------------------------ two trainers


def _init_state(seed, d_in, d_h, d_out):
    r = np.random.default_rng(seed)
    return {
        "0.weight": r.uniform(-0.1, 0.1, (d_h, d_in)).astype(np.float32),
        "0.bias": r.uniform(-0.1, 0.1, d_h).astype(np.float32),
        "2.weight": r.uniform(-0.1, 0.1, (d_out, d_h)).astype(np.float32),
        "2.bias": r.uniform(-0.1, 0.1, d_out).astype(np.float32),
    }


def _train(seed, steps=15, barrier=None):
    """Deterministic training from explicit data and weights (no shared RNG)."""
    d_in, d_h, d_out, n = 128, 256, 10, 256  # 65k-element activations: GIL released
    r = np.random.default_rng(seed + 100)
    x = cg.tensor(r.standard_normal((n, d_in)).astype(np.float32))
    y = cg.tensor(r.integers(0, d_out, n), dtype=cg.int64)
    model = nn.Sequential(nn.Linear(d_in, d_h), nn.GELU(), nn.Linear(d_h, d_out))
    model.load_state_dict({k: v for k, v in _init_state(seed, d_in, d_h, d_out).items()})
    opt = cg.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        if barrier is not None:
            barrier.wait()  # keep the two threads interleaved
        opt.zero_grad()
        h = model(x)
        loss = F.cross_entropy(h, y) + (h.softmax(dim=1) * h).sum(dim=1).mean() * 0.01
        loss.backward()
        opt.step()
        losses.append(loss.numpy().tobytes())
    return losses, {k: v.tobytes() for k, v in model.state_dict().items()}


def test_two_threads_training_match_sequential_bitwise():
    seq = [_train(1), _train(2)]
    results = [None, None]
    errors = []
    barrier = threading.Barrier(2)

    def run(i):
        try:
            results[i] = _train(i + 1, barrier=barrier)
        except BaseException as e:
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    for i in range(2):
        assert results[i][0] == seq[i][0], f"thread {i}: losses differ from the sequential run"
        assert results[i][1] == seq[i][1], f"thread {i}: weights differ from the sequential run"


def test_no_grad_is_per_thread():
    inside = threading.Event()
    done = threading.Event()
    seen = {}

    def a():
        with cg.no_grad():
            seen["a_enabled"] = cg.is_grad_enabled()
            inside.set()
            done.wait(10)
            t = cg.ones(3, requires_grad=True) * 2
            seen["a_records"] = t.requires_grad

    def b():
        inside.wait(10)
        seen["b_enabled"] = cg.is_grad_enabled()
        t = cg.ones(3, requires_grad=True) * 2
        seen["b_records"] = t.requires_grad and t.grad_fn is not None
        done.set()

    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    assert seen == {"a_enabled": False, "b_enabled": True, "a_records": False, "b_records": True}
    assert cg.is_grad_enabled()


def test_tapes_of_two_threads_do_not_mix():
    """Both threads build graphs at the same time, interleaved op by op; each
    backward gives exactly its own gradient."""
    barrier = threading.Barrier(2)
    out = {}

    def work(k):
        x = cg.tensor(np.full(4, float(k + 1)), requires_grad=True)
        y = x
        for _ in range(50):
            barrier.wait()
            y = y * (k + 2.0) / (k + 2.0) + x  # dy/dx accumulates 1 per step
        barrier.wait()
        y.sum().backward()
        out[k] = x.grad.numpy().copy()

    ts = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    for k in range(2):
        np.testing.assert_allclose(out[k], np.full(4, 51.0), rtol=1e-12)


# --------------------------------------------- set_num_threads determinism


def _cases(dt):
    """name -> (function, args builder). Sizes are large (~2^18 elements) so
    every kernel takes its parallel path; values are random, fixed per name."""

    def R(name):
        return np.random.default_rng(zlib.crc32(name.encode()))

    def u(r, *shape, lo=-3, hi=3):
        return r.uniform(lo, hi, shape).astype(dt)

    n = 1 << 18
    cases = {}
    unary = ["neg", "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu"]
    params = {"leaky_relu": (0.1,), "softplus": (1.5, 2.0), "gelu": (False,), "clamp": (-1.0, 1.0)}
    for op in unary + list(params):
        p = params.get(op, ())

        def fwd(r, op=op, p=p):
            x = u(r, n, lo=0.1 if op in ("log", "sqrt") else -3)
            return (np.empty_like(x), x) + p, [0]

        def bwd(r, op=op, p=p):
            x = u(r, n, lo=0.1 if op in ("log", "sqrt") else -3)
            y = np.empty_like(x)
            getattr(C, op + "_forward")(y, x, *p)
            return (u(r, n), u(r, n), x, y) + p, [0]

        cases[op + "_forward"] = fwd
        cases[op + "_backward"] = bwd
    for op in ["add", "sub", "mul", "div", "pow"]:

        def bfwd(r, op=op):
            a = u(r, 512, 512, lo=0.5)
            b = np.broadcast_to(u(r, 512, lo=0.5), (512, 512))
            return (np.empty((512, 512), dt), a, b), [0]

        def bbwd(r, op=op):
            a = u(r, 512, 512, lo=0.5).T  # strided input
            b = np.broadcast_to(u(r, 512, 1, lo=0.5), (512, 512))
            out = np.empty((512, 512), dt)
            getattr(C, op + "_forward")(out, a, b)
            return (u(r, 512, 512), u(r, 512, 512), u(r, 512, 512), a, b, out), [0, 1]

        cases[op + "_forward"] = bfwd
        cases[op + "_backward"] = bbwd
    cases["accumulate"] = lambda r: ((u(r, n), u(r, n)), [0])
    for red in ["sum", "mean", "amax"]:
        for axes in [(0,), (1,), (0, 1), (0, 2)]:

            def rf(r, red=red, axes=axes):
                x = u(r, 64, 64, 64)
                kept = [s for i, s in enumerate(x.shape) if i not in axes]
                return (np.empty(kept, dt), x, axes), [0]

            cases[f"{red}_forward{axes}"] = rf

        def rb(r, red=red):
            x = u(r, 64, 64, 64)
            out = np.empty((64,), dt)
            getattr(C, red + "_forward")(out, x, (0, 2))
            args = (
                (u(r, 64, 64, 64), u(r, 64), x, out, (0, 2))
                if red == "amax"
                else (u(r, 64, 64, 64), u(r, 64), (0, 2))
            )
            return args, [0]

        cases[f"{red}_backward"] = rb
    for sm in ["softmax", "log_softmax"]:
        for axis in (0, 1):

            def sf(r, sm=sm, axis=axis):
                x = u(r, 512, 512)
                return (np.empty_like(x), x, axis), [0]

            def sb(r, sm=sm, axis=axis):
                x = u(r, 512, 512)
                y = np.empty_like(x)
                getattr(C, sm + "_forward")(y, x, axis)
                return (u(r, 512, 512), u(r, 512, 512), y, axis), [0]

            cases[f"{sm}_forward{axis}"] = sf
            cases[f"{sm}_backward{axis}"] = sb
    for ta in (False, True):
        for tb in (False, True):

            def mm(r, ta=ta, tb=tb):
                a = u(r, 1, 300, 257) if ta else u(r, 1, 257, 300)  # (M, K) = (257, 300)
                b = u(r, 4, 263, 300) if tb else u(r, 4, 300, 263)
                return (np.empty((1, 257, 263), dt), a, b, ta, tb, False), [0]  # batch summed

            cases[f"matmul{ta:d}{tb:d}"] = mm

    def idx(r):
        ix = r.integers(0, 100, 5000)
        return (u(r, 100, 257), ix, u(r, 5000, 257)), [0]

    cases["index_add"] = idx
    for act in range(4):

        def lf(r, act=act):
            x, w, b = u(r, 300, 257), u(r, 263, 257), u(r, 263)
            return (np.empty((300, 263), dt), np.empty((300, 263), dt), x, w, b, act), [0, 1]

        def lb(r, act=act):
            x, w, b = u(r, 300, 257), u(r, 263, 257), u(r, 263)
            y, z = np.empty((300, 263), dt), np.empty((300, 263), dt)
            C.linear_forward(y, z, x, w, b, act)
            return (
                (
                    u(r, 300, 257),
                    u(r, 263, 257),
                    u(r, 263),
                    u(r, 300, 263),
                    x,
                    w,
                    z,
                    y,
                    act,
                    np.empty((300, 263), dt) if act else None,
                ),
                [0, 1, 2],
            )

        cases[f"linear_forward{act}"] = lf
        cases[f"linear_backward{act}"] = lb

    def ce(r):
        lg = u(r, 2000, 131)
        t = r.integers(0, 131, 2000)
        t[::7] = -100
        return (np.empty(2000, dt), np.empty_like(lg), lg, t, -100), [0, 1]

    cases["cross_entropy_forward"] = ce

    def ceb(r):
        lg = u(r, 2000, 131)
        p = np.exp(lg - lg.max(1, keepdims=True)).astype(dt)
        p /= p.sum(1, keepdims=True)
        t = r.integers(0, 131, 2000)
        return (u(r, 2000, 131), u(r, 2000), p, t, -100), [0]

    cases["cross_entropy_backward"] = ceb

    def cep(r):
        lg, t = u(r, 2000, 131), u(r, 2000, 131, lo=0, hi=1)
        return (np.empty(2000, dt), np.empty_like(lg), lg, t), [0, 1]

    cases["cross_entropy_prob_forward"] = cep
    cases["nll_forward"] = lambda r: (
        (np.empty(2000, dt), u(r, 2000, 131), r.integers(0, 131, 2000), -100),
        [0],
    )
    for loss in ["mse", "l1", "bce", "bce_logits"]:
        for red in (0, 1, 2):

            def lsf(r, loss=loss, red=red):
                lo = 0.01 if loss == "bce" else -3
                x, t = u(r, n, lo=lo, hi=0.99 if loss == "bce" else 3), u(r, n, lo=0, hi=1)
                out = np.empty(n if red == 0 else (), dt)
                return (out, x, t, red), [0]

            def lsb(r, loss=loss, red=red):
                lo = 0.01 if loss == "bce" else -3
                x, t = u(r, n, lo=lo, hi=0.99 if loss == "bce" else 3), u(r, n, lo=0, hi=1)
                dout = u(r, n) if red == 0 else np.array(1.5, dt)
                return (u(r, n), u(r, n), dout, x, t, red), [0, 1]

            cases[f"{loss}_forward{red}"] = lsf
            cases[f"{loss}_backward{red}"] = lsb
    cases["dropout_forward"] = lambda r: ((np.empty(n, dt), u(r, n), u(r, n, lo=0, hi=1), 0.3), [0])
    cases["dropout_backward"] = lambda r: ((u(r, n), u(r, n), u(r, n, lo=0, hi=1), 0.3), [0])
    cases["sgd_step"] = lambda r: (
        (u(r, n), u(r, n), u(r, n), 0.1, 0.9, 0.1, 0.01, True, False),
        [0, 2],
    )
    cases["adam_step"] = lambda r: (
        (u(r, n), u(r, n), u(r, n), u(r, n, lo=0, hi=1), 1e-3, 0.9, 0.999, 1e-8, 0.01, 5, True),
        [0, 2, 3],
    )
    return cases


def _kernel_fn(name):
    base = name.rstrip("0123456789()., ")
    if base.startswith("matmul"):
        return C.matmul
    return getattr(C, base)


@pytest.fixture
def restore_threads():
    n = C.get_num_threads()
    yield
    C.set_num_threads(n)


@pytest.mark.parametrize(
    "dt", [np.float32, pytest.param(np.float64, marks=pytest.mark.slow)], ids=["f32", "f64"]
)
def test_every_kernel_is_bitwise_identical_for_1_and_2_threads(dt, restore_threads):
    cases = _cases(dt)
    assert len(cases) > 90
    bad = []
    for name, build in cases.items():
        fn = _kernel_fn(name)
        outs = []
        for threads in (1, 2, 1, 2):
            C.set_num_threads(threads)
            args, out_idx = build(np.random.default_rng(zlib.crc32(name.encode())))
            args = tuple(
                np.array(a) if isinstance(a, np.ndarray) and a.flags.writeable else a for a in args
            )
            with np.errstate(all="ignore"):
                fn(*args)
            outs.append(tuple(args[i].tobytes() for i in out_idx))
        if not outs[0] == outs[1] == outs[2] == outs[3]:
            bad.append(name)
    assert not bad, f"results depend on the thread count (or vary run to run): {bad}"
