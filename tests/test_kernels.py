"""Kernel tests for the backend interface in docs/kernels.md.

Two kinds of test live here:
  * C against NumPy: every function of cgrad._ckernels is compared with
    cgrad.numpy_backend on both dtypes, odd sizes (1, 7, 33, 257), zero-size
    arrays, strided and broadcast (zero-stride) inputs, every axis set, every
    matmul transpose and batch-broadcast combination.
  * NumPy against independent oracles, so the reference cannot be silently
    wrong: the math module elementwise, hand-derived derivative formulas,
    central differences in float64 for every backward kernel, loops over
    np.matmul, hand values for PyTorch's edge conventions, and PyTorch itself
    when it is installed.
Expected values never come from the code under test. If cgrad._ckernels does
not import, this module fails to collect (on purpose: no silent skip).
"""
# SPDX-License-Identifier: MIT

import itertools
import math
import pathlib
import re
import sys
import warnings
import zlib
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest

try:
    import cgrad  # noqa: F401  (runs the package __init__ when there is one)
except ModuleNotFoundError as exc:  # not installed: use the source tree
    if exc.name != "cgrad":
        raise
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "src"))

from cgrad import _ckernels as C  # (no skip: a missing build must fail)
from cgrad import numpy_backend as N

F32, F64 = np.float32, np.float64
DTYPES = [F32, F64]
EPS = {F32: float(np.finfo(F32).eps), F64: float(np.finfo(F64).eps)}
# Per-dtype tolerances for C against NumPy: |got - want| <= rtol |want| + atol * scale.
TOL = {F32: (1e-5, 1e-6), F64: (1e-12, 1e-12)}


def rng_for(*key):
    """A generator seeded from the test's parameters, so every case is reproducible."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def assert_close(got, want, rtol, atol, what=""):
    """Elementwise |got - want| <= atol + rtol |want|, with NaN only where want is NaN
    and infinities equal. atol may be an array (a per-element scale)."""
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


def assert_match(got, want, dtype, what="", scale=1.0):
    """C against NumPy at the dtype's tolerance (atol multiplied by scale)."""
    rtol, atol = TOL[dtype]
    assert_close(got, want, rtol, atol * np.asarray(scale, dtype=np.float64), what)


def uniform(rng, shape, dtype, lo=-3.0, hi=3.0):
    return rng.uniform(lo, hi, size=shape).astype(dtype)


# =====================================================================================
# Elementwise unary: the table of ops, with math-module oracles written independently
# of the backend (forward f and derivative df, on Python floats).
# =====================================================================================

SQ2PI = math.sqrt(2 * math.pi)
K_TANH = math.sqrt(2 / math.pi)


def _sigmoid(x):
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _gelu_tanh(x):
    u = K_TANH * (x + 0.044715 * x**3)
    return 0.5 * x * (1 + math.tanh(u))


def _gelu_tanh_d(x):
    t = math.tanh(K_TANH * (x + 0.044715 * x**3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * K_TANH * (1 + 3 * 0.044715 * x * x)


class Unary(NamedTuple):
    id: str
    kernel: str
    params: tuple
    lo: float  # sampling range for x
    hi: float
    f: Callable  # math-module forward
    df: Callable  # hand-derived derivative
    kinks: tuple = ()  # points where the derivative jumps (kept away from in FD)


SP_BETA, SP_THRESH = 1.5, 4.0  # threshold inside the sampled range, so both branches run
CL_LO, CL_HI = -0.75, 1.25  # exactly representable in float32

# One row per case (id, kernel, params, sampling range, f, f', kinks); the
# formatter would put each field of most rows on a line of its own.
# fmt: off
UNARY = [
    Unary("neg", "neg", (), -4, 4, lambda x: -x, lambda x: -1.0),
    Unary("exp", "exp", (), -4, 4, math.exp, math.exp),
    Unary("log", "log", (), 0.05, 5, math.log, lambda x: 1 / x),
    Unary("sqrt", "sqrt", (), 0.05, 5, math.sqrt, lambda x: 0.5 / math.sqrt(x)),
    Unary("abs", "abs", (), -4, 4, abs, lambda x: float((x > 0) - (x < 0)), (0.0,)),
    Unary("sin", "sin", (), -4, 4, math.sin, math.cos),
    Unary("cos", "cos", (), -4, 4, math.cos, lambda x: -math.sin(x)),
    Unary("tanh", "tanh", (), -4, 4, math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    Unary("sigmoid", "sigmoid", (), -6, 6, _sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    Unary("relu", "relu", (), -4, 4, lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0,
          (0.0,)),
    Unary("leaky_relu", "leaky_relu", (0.1,), -4, 4, lambda x: x if x > 0 else 0.1 * x,
          lambda x: 1.0 if x > 0 else 0.1, (0.0,)),
    Unary("leaky_relu[-2]", "leaky_relu", (-2.0,), -4, 4, lambda x: x if x > 0 else -2.0 * x,
          lambda x: 1.0 if x > 0 else -2.0, (0.0,)),
    Unary("softplus", "softplus", (SP_BETA, SP_THRESH), -4, 4,
          lambda x: x if SP_BETA * x > SP_THRESH else math.log1p(math.exp(SP_BETA * x)) / SP_BETA,
          lambda x: 1.0 if SP_BETA * x > SP_THRESH else 1 / (1 + math.exp(-SP_BETA * x)),
          (SP_THRESH / SP_BETA,)),
    Unary("gelu", "gelu", (False,), -6, 6, lambda x: 0.5 * x * math.erfc(-x / math.sqrt(2)),
          lambda x: 0.5 * math.erfc(-x / math.sqrt(2)) + x * math.exp(-x * x / 2) / SQ2PI),
    Unary("gelu[tanh]", "gelu", (True,), -6, 6, _gelu_tanh, _gelu_tanh_d),
    Unary("clamp", "clamp", (CL_LO, CL_HI), -3, 3, lambda x: min(max(x, CL_LO), CL_HI),
          lambda x: 1.0 if CL_LO <= x <= CL_HI else 0.0, (CL_LO, CL_HI)),
    Unary("clamp[lo>hi]", "clamp", (1.0, -1.0), -3, 3, lambda x: min(max(x, 1.0), -1.0),
          lambda x: 0.0, (-1.0, 1.0)),
]
# fmt: on
UNARY_IDS = [u.id for u in UNARY]


def unary_fwd(mod, u, y, x):
    getattr(mod, u.kernel + "_forward")(y, x, *u.params)


def unary_bwd(mod, u, dx, dy, x, y):
    getattr(mod, u.kernel + "_backward")(dx, dy, x, y, *u.params)


def sample_unary(u, rng, shape, dtype, kink_gap=0.0):
    x = rng.uniform(u.lo, u.hi, size=shape)
    for k in u.kinks:  # push samples off the kinks
        near = np.abs(x - k) < kink_gap
        x[near] = k + np.copysign(kink_gap, x[near] - k + 1e-300) * 2
    return x.astype(dtype)


def math_map(fn, x):
    return np.array([fn(float(v)) for v in np.ravel(x)], dtype=np.float64).reshape(np.shape(x))


UNARY_SHAPES = [(), (0,), (1,), (7,), (33,), (257,), (3, 5, 7), (2, 0, 3), (70001,)]


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("u", UNARY, ids=UNARY_IDS)
def test_unary_c_matches_numpy(u, dtype, shape):
    rng = rng_for("unary", u.id, dtype, shape)
    x = sample_unary(u, rng, shape, dtype)
    if x.size:  # hit the kinks exactly too
        flat = x.reshape(-1)
        for i, k in enumerate(u.kinks):
            flat[(3 * i) % flat.size] = k
    yc = np.full(shape, np.nan, dtype)
    yn = np.full(shape, np.nan, dtype)
    unary_fwd(C, u, yc, x)
    unary_fwd(N, u, yn, x)
    assert_match(yc, yn, dtype, f"{u.kernel}_forward", scale=1 + np.abs(x))

    dy = uniform(rng, shape, dtype)
    dx0 = uniform(rng, shape, dtype)
    dxc, dxn = dx0.copy(), dx0.copy()
    unary_bwd(C, u, dxc, dy, x, yn)
    unary_bwd(N, u, dxn, dy, x, yn)
    assert_match(
        dxc,
        dxn,
        dtype,
        f"{u.kernel}_backward (accumulating)",
        scale=1 + np.abs(dx0) + np.abs(dxn - dx0),
    )
    unary_bwd(C, u, None, dy, x, yn)  # a None gradient is skipped, not an error


SPECIALS = [
    0.0,
    -0.0,
    np.inf,
    -np.inf,
    np.nan,
    1e-30,
    -1e-30,
    0.5,
    -0.5,
    20.0,
    -20.0,
    50.0,
    -50.0,
    100.0,
    -100.0,
    1000.0,
    -1000.0,
    1e30,
    -1e30,
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("u", UNARY, ids=UNARY_IDS)
def test_unary_special_values_c_matches_numpy(u, dtype):
    """Zeros, infinities, NaN and huge values: same results, no warnings, NaN where NaN.
    GELU at +-inf and +-1e30 is left out: there torch's formula (and the C kernel) gives
    NaN from 0 * inf, or from x^3 overflowing float32, while the limit is 0 or 1 (what the
    float64 NumPy evaluation returns); the contract does not fix this corner."""
    vals = [v for v in SPECIALS if not (u.kernel == "gelu" and abs(v) >= 1e30)]
    x = np.array(vals, dtype=dtype)
    yc, yn = np.empty_like(x), np.empty_like(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unary_fwd(N, u, yn, x)
        unary_fwd(C, u, yc, x)
    assert_match(yc, yn, dtype, f"{u.kernel}_forward on {vals}")
    dy = np.ones_like(x)
    dxc, dxn = np.zeros_like(x), np.zeros_like(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unary_bwd(N, u, dxn, dy, x, yn)
        unary_bwd(C, u, dxc, dy, x, yn)
    assert_match(dxc, dxn, dtype, f"{u.kernel}_backward on {vals}")


def test_unary_forward_in_place_aliasing():
    """y may be x itself (an in-place activation): both backends give f(x)."""
    rng = rng_for("alias")
    for u in UNARY:
        x = sample_unary(u, rng, (33,), F64)
        want = math_map(u.f, x)
        for mod in (N, C):
            z = x.copy()
            unary_fwd(mod, u, z, z)
            assert_close(z, want, 1e-13, 1e-15, f"{mod.__name__}.{u.kernel}_forward(x, x)")


# ---- NumPy backend against the math module and hand-derived derivatives


@pytest.mark.parametrize("u", UNARY, ids=UNARY_IDS)
def test_numpy_unary_against_math(u):
    rng = rng_for("math", u.id)
    x = np.concatenate(
        [
            sample_unary(u, rng, (400,), F64),
            np.linspace(u.lo, u.hi, 101),
            np.array(u.kinks, dtype=F64),
        ]
    )
    y = np.full_like(x, np.nan)
    unary_fwd(N, u, y, x)
    assert_close(y, math_map(u.f, x), 1e-14, 1e-15, f"{u.kernel}_forward vs math")
    dy = rng.uniform(-2, 2, x.shape)
    dx0 = rng.uniform(-1, 1, x.shape)
    dx = dx0.copy()
    unary_bwd(N, u, dx, dy, x, y)
    assert_close(
        dx - dx0, dy * math_map(u.df, x), 1e-12, 1e-14, f"{u.kernel}_backward vs hand derivative"
    )
    # float32 evaluates to float32 accuracy against the same oracles (off the kinks:
    # rounding x to float32 may move it across a threshold, e.g. softplus's jump)
    x32 = x[: x.size - len(u.kinks)].astype(F32)
    y32 = np.empty_like(x32)
    unary_fwd(N, u, y32, x32)
    assert y32.dtype == F32
    assert_close(y32, math_map(u.f, x32), 2e-6, 2e-6, f"{u.kernel}_forward float32 vs math")
    dx32 = np.zeros_like(x32)
    unary_bwd(N, u, dx32, np.ones_like(x32), x32, y32)
    assert_close(
        dx32, math_map(u.df, x32), 1e-5, 1e-5, f"{u.kernel}_backward float32 vs hand derivative"
    )


@pytest.mark.parametrize("u", UNARY, ids=UNARY_IDS)
def test_numpy_unary_backward_finite_differences(u):
    """dx from backward equals dy * (f(x+h) - f(x-h)) / 2h, f being the forward kernel."""
    rng = rng_for("fd-unary", u.id)
    x = sample_unary(u, rng, (200,), F64, kink_gap=1e-3)
    dy = rng.uniform(-2, 2, x.shape)
    y = np.empty_like(x)
    unary_fwd(N, u, y, x)
    dx = np.zeros_like(x)
    unary_bwd(N, u, dx, dy, x, y)
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    yp, ym = np.empty_like(x), np.empty_like(x)
    unary_fwd(N, u, yp, x + h)
    unary_fwd(N, u, ym, x - h)
    fd = dy * (yp - ym) / (2 * h)
    assert_close(dx, fd, 1e-6, 1e-8, f"{u.kernel}_backward vs central differences")


def test_numpy_unary_nan_propagates():
    for u in UNARY:
        if u.id == "clamp[lo>hi]":
            continue  # min(max(nan, 1), -1): NaN too, checked below
        x = np.array([np.nan, 1.0])
        y = np.zeros_like(x)
        unary_fwd(N, u, y, x)
        assert np.isnan(y[0]), u.id
    y = np.zeros(1)
    N.clamp_forward(y, np.array([np.nan]), 1.0, -1.0)
    assert np.isnan(y[0])


# ---- the error function behind exact GELU


def test_erf_matches_math_erf_to_a_few_ulp():
    x = np.concatenate(
        [
            np.linspace(-7, 7, 140001),
            np.geomspace(1e-310, 30, 4000),
            -np.geomspace(1e-310, 30, 4000),
            [
                0.0,
                -0.0,
                0.5,
                2.0,
                6.0,
                -0.5,
                -2.0,
                -6.0,
                np.nextafter(0.5, 0),
                np.nextafter(2.0, 0),
                np.nextafter(6.0, 0),
                1e300,
                -1e300,
            ],
        ]
    )
    got = N._erf(x)
    want = math_map(math.erf, x)
    ulp = np.spacing(np.abs(want))
    err = np.abs(got - want) / np.maximum(ulp, 5e-324)
    assert err.max() <= 3, f"erf off by {err.max()} ulp at x = {x[err.argmax()]!r}"
    assert np.all(np.signbit(got[x == 0]) == np.signbit(x[x == 0]))
    assert N._erf(np.array([np.inf]))[0] == 1.0 and N._erf(np.array([-np.inf]))[0] == -1.0
    assert np.isnan(N._erf(np.array([np.nan]))[0])


def test_erfc_matches_math_erfc_to_a_few_ulp():
    x = np.concatenate([np.linspace(-6, 27, 100001), np.geomspace(1e-300, 26, 2000)])
    got = N._erfc(x)
    want = math_map(math.erfc, x)
    err = np.abs(got - want) / np.spacing(want)
    assert err.max() <= 8, f"erfc off by {err.max()} ulp at x = {x[err.argmax()]!r}"
    special = N._erfc(np.array([np.inf, -np.inf, 40.0, 1e300, np.nan]))
    assert special[0] == 0 and special[1] == 2 and special[2] == 0 and special[3] == 0
    assert np.isnan(special[4])


# ---- PyTorch's edge conventions, by hand


def _bwd(mod, kernel, x, *params, dy=None):
    x = np.asarray(x, dtype=F64)
    y = np.empty_like(x)
    getattr(mod, kernel + "_forward")(y, x, *params)
    dx = np.zeros_like(x)
    getattr(mod, kernel + "_backward")(dx, np.ones_like(x) if dy is None else dy, x, y, *params)
    return y, dx


@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_torch_conventions_unary(mod):
    x = [0.0, -0.0, 2.0, -2.0]
    assert _bwd(mod, "relu", x)[1].tolist() == [0, 0, 1, 0]  # relu'(0) = 0
    assert _bwd(mod, "abs", x)[1].tolist() == [0, 0, 1, -1]  # abs'(0) = 0
    assert _bwd(mod, "abs", [np.nan])[1].tolist() == [0.0]  # torch: sgn(nan) = 0
    assert _bwd(mod, "leaky_relu", x, 0.01)[1].tolist() == [0.01, 0.01, 1, 0.01]  # slope at 0
    y, dx = _bwd(mod, "clamp", [-1.0, 2.0, -1.5, 2.5, 0.0, np.nan], -1.0, 2.0)
    assert dx.tolist() == [1, 1, 0, 0, 1, 0]  # bounds inclusive
    assert y[:5].tolist() == [-1, 2, -1, 2, 0] and np.isnan(y[5])
    y, dx = _bwd(mod, "clamp", [0.5, 3.0, -3.0], 2.0, 1.0)  # lo > hi: hi wins
    assert y.tolist() == [1, 1, 1]
    assert _bwd(mod, "clamp", [5.0, -5.0], -np.inf, np.inf)[1].tolist() == [1, 1]  # absent bounds
    y, dx = _bwd(mod, "sqrt", [0.0, 4.0])
    assert dx.tolist() == [np.inf, 0.25]  # sqrt'(0) = +inf
    y, dx = _bwd(mod, "log", [0.0, 4.0])
    assert y[0] == -np.inf and dx.tolist() == [np.inf, 0.25]  # log(0), log'(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, dx = _bwd(mod, "sigmoid", [1000.0, -1000.0, 0.0])
        assert y.tolist() == [1.0, 0.0, 0.5] and dx.tolist() == [0.0, 0.0, 0.25]
        y32 = np.empty(2, F32)
        mod.sigmoid_forward(y32, np.array([100.0, -200.0], F32))
        assert y32.tolist() == [1.0, 0.0]
        # softplus far beyond any threshold: log1p(exp(z)) evaluated without overflow
        y, dx = _bwd(mod, "softplus", [1000.0, -1000.0, -50.0, 30.0], 1.0, np.inf)
        assert y[0] == 1000.0 and y[1] == 0.0 and dx[0] == 1.0 and dx[1] == 0.0
        assert math.isclose(y[2], math.exp(-50.0), rel_tol=1e-14)  # log1p(e^-50) ~ e^-50
        assert math.isclose(y[3], 30.0 + math.log1p(math.exp(-30.0)), rel_tol=1e-15)
        y, dx = _bwd(mod, "softplus", [10.0, 2.0], 2.0, 5.0)  # beta x > threshold: x
        assert y[0] == 10.0 and dx[0] == 1.0
        assert math.isclose(y[1], math.log1p(math.exp(4.0)) / 2, rel_tol=1e-14)
        assert math.isclose(dx[1], 1 / (1 + math.exp(-4.0)), rel_tol=1e-14)


# =====================================================================================
# Elementwise binary with broadcasting
# =====================================================================================

BINARY = ["add", "sub", "mul", "div", "pow"]
BINARY_SHAPES = [
    (),
    (0,),
    (1,),
    (7,),
    (33,),
    (257,),
    (3, 5, 7),
    (4, 0, 3),
    (2, 3, 1, 4),
    (2, 1, 2, 1, 3, 1, 2, 2),
    (40, 1001),
]


def binary_operand(rng, op, which, shape, dtype, layout):
    """An operand of the given shape in one memory layout. Values keep pow's base
    positive and div's divisor away from 0."""

    def draw(s):
        if op == "pow" and which == "a":
            v = rng.uniform(0.2, 3.0, s)
        elif op == "pow":
            v = rng.uniform(-2.5, 2.5, s)
        elif op == "div" and which == "b":
            v = rng.choice([-1.0, 1.0], s) * rng.uniform(0.5, 2.0, s)
        else:
            v = rng.uniform(-3.0, 3.0, s)
        return np.asarray(v)

    nd = len(shape)
    if layout == "contig" or nd == 0 and layout != "scalar":
        return draw(shape).astype(dtype)
    if layout == "scalar":  # every stride 0
        return np.broadcast_to(draw(()).astype(dtype), shape)
    if layout == "bcast":  # every other dim broadcast (stride 0)
        small = tuple(1 if i % 2 == 0 else n for i, n in enumerate(shape))
        return np.broadcast_to(draw(small).astype(dtype), shape)
    if layout == "strided":  # every dim stepped by 2
        big = draw(tuple(2 * n + 1 for n in shape)).astype(dtype)
        return big[tuple(slice(None, None, 2) for _ in shape)][tuple(slice(0, n) for n in shape)]
    if layout == "reversed":  # Fortran order, first dim walked backwards
        v = draw(shape[::-1]).astype(dtype).T
        return v[::-1]
    raise AssertionError(layout)


BINARY_LAYOUTS = [
    ("contig", "contig"),
    ("bcast", "contig"),
    ("contig", "scalar"),
    ("strided", "reversed"),
    ("reversed", "bcast"),
    ("scalar", "strided"),
]


@pytest.mark.parametrize("layouts", BINARY_LAYOUTS, ids=lambda t: "-".join(t))
@pytest.mark.parametrize("shape", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("op", BINARY)
def test_binary_c_matches_numpy(op, dtype, shape, layouts):
    rng = rng_for("binary", op, dtype, shape, layouts)
    a = binary_operand(rng, op, "a", shape, dtype, layouts[0])
    b = binary_operand(rng, op, "b", shape, dtype, layouts[1])
    oc = np.full(shape, np.nan, dtype)
    on = np.full(shape, np.nan, dtype)
    getattr(C, op + "_forward")(oc, a, b)
    getattr(N, op + "_forward")(on, a, b)
    assert_match(oc, on, dtype, f"{op}_forward", scale=1 + np.abs(on))

    dout = uniform(rng, shape, dtype)
    da0, db0 = uniform(rng, shape, dtype), uniform(rng, shape, dtype)
    dac, dbc, dan, dbn = da0.copy(), db0.copy(), da0.copy(), db0.copy()
    getattr(C, op + "_backward")(dac, dbc, dout, a, b, on)
    getattr(N, op + "_backward")(dan, dbn, dout, a, b, on)
    assert_match(dac, dan, dtype, f"{op}_backward da", scale=1 + np.abs(da0) + np.abs(dan - da0))
    assert_match(dbc, dbn, dtype, f"{op}_backward db", scale=1 + np.abs(db0) + np.abs(dbn - db0))
    # one gradient at a time: the other, None, is skipped
    dac2, dbc2 = da0.copy(), db0.copy()
    getattr(C, op + "_backward")(dac2, None, dout, a, b, on)
    getattr(C, op + "_backward")(None, dbc2, dout, a, b, on)
    assert_match(
        dac2, dan, dtype, f"{op}_backward da alone", scale=1 + np.abs(da0) + np.abs(dan - da0)
    )
    assert_match(
        dbc2, dbn, dtype, f"{op}_backward db alone", scale=1 + np.abs(db0) + np.abs(dbn - db0)
    )


@pytest.mark.parametrize("ndim", [9, 12, 32])
@pytest.mark.parametrize("op", ["add", "mul", "pow"])
def test_binary_high_ndim_correct_or_rejected(op, ndim):
    """More dims than a kernel supports must give ValueError, never a wrong answer or a crash."""
    rng = rng_for("ndim", op, ndim)
    shape = tuple([2, 1] * (ndim // 2) + [3] * (ndim % 2))
    a = np.broadcast_to(rng.uniform(0.5, 2.0, shape[:1] + (1,) * (ndim - 1)), shape)
    b = rng.uniform(0.5, 2.0, shape)[..., ::-1] if shape[-1] > 1 else rng.uniform(0.5, 2.0, shape)
    outn = np.empty(shape)
    getattr(N, op + "_forward")(outn, a, b)
    outc = np.full(shape, np.nan)
    try:
        getattr(C, op + "_forward")(outc, a, b)
    except ValueError as exc:
        assert op + "_forward" in str(exc)
        return
    assert_match(outc, outn, F64, f"{op}_forward with {ndim} dims")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("op", BINARY)
def test_binary_special_values_c_matches_numpy(op, dtype):
    vals = np.array(
        [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, 3.0, np.inf, -np.inf, np.nan, 1e-30, 1e30],
        dtype=dtype,
    )
    a, b = (v.ravel() for v in np.meshgrid(vals, vals, indexing="ij"))
    on, oc = np.empty_like(a), np.empty_like(a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(N, op + "_forward")(on, a, b)
        getattr(C, op + "_forward")(oc, a, b)
    assert_match(oc, on, dtype, f"{op}_forward on special values")
    dout = np.ones_like(a)
    dan, dbn, dac, dbc = (np.zeros_like(a) for _ in range(4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(N, op + "_backward")(dan, dbn, dout, a, b, on)
        getattr(C, op + "_backward")(dac, dbc, dout, a, b, on)
    assert_match(dac, dan, dtype, f"{op}_backward da on special values (a, b) = {list(zip(a, b))}")
    assert_match(dbc, dbn, dtype, f"{op}_backward db on special values (a, b) = {list(zip(a, b))}")


def _numpy_binary_math(op):
    return {
        "add": (lambda a, b: a + b, lambda a, b: 1.0, lambda a, b: 1.0),
        "sub": (lambda a, b: a - b, lambda a, b: 1.0, lambda a, b: -1.0),
        "mul": (lambda a, b: a * b, lambda a, b: b, lambda a, b: a),
        "div": (lambda a, b: a / b, lambda a, b: 1 / b, lambda a, b: -a / (b * b)),
        "pow": (
            math.pow,
            lambda a, b: b * math.pow(a, b - 1),
            lambda a, b: math.pow(a, b) * math.log(a),
        ),
    }[op]


@pytest.mark.parametrize("op", BINARY)
def test_numpy_binary_against_math_and_finite_differences(op):
    rng = rng_for("np-binary", op)
    shape = (4, 5, 6)
    a = binary_operand(rng, op, "a", shape, F64, "strided")
    b = binary_operand(rng, op, "b", shape, F64, "reversed")
    f, dfa, dfb = _numpy_binary_math(op)
    out = np.empty(shape)
    getattr(N, op + "_forward")(out, a, b)
    want = np.array([f(x, y) for x, y in zip(a.ravel(), b.ravel())]).reshape(shape)
    assert_close(out, want, 1e-14, 1e-15, f"{op}_forward vs math")
    dout = rng.uniform(-2, 2, shape)
    da, db = np.zeros(shape), np.zeros(shape)
    getattr(N, op + "_backward")(da, db, dout, a, b, out)
    wa = dout * np.array([dfa(x, y) for x, y in zip(a.ravel(), b.ravel())]).reshape(shape)
    wb = dout * np.array([dfb(x, y) for x, y in zip(a.ravel(), b.ravel())]).reshape(shape)
    assert_close(da, wa, 1e-13, 1e-14, f"{op}_backward da vs hand derivative")
    assert_close(db, wb, 1e-13, 1e-14, f"{op}_backward db vs hand derivative")
    # central differences, perturbing one operand at a time
    h = 1e-6
    for grad, which in ((da, 0), (db, 1)):
        pp, mm = [np.array(a), np.array(b)], [np.array(a), np.array(b)]
        pp[which] = pp[which] + h
        mm[which] = mm[which] - h
        op_, om_ = np.empty(shape), np.empty(shape)
        getattr(N, op + "_forward")(op_, *pp)
        getattr(N, op + "_forward")(om_, *mm)
        assert_close(
            grad, dout * (op_ - om_) / (2 * h), 1e-6, 1e-8, f"{op}_backward arg {which} vs FD"
        )


@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_torch_conventions_pow(mod):
    """pow: db = 0 where a == 0 and b >= 0; da = 0 where b == 0 (both torch's rules)."""
    a = np.array([0.0, 0.0, 0.0, 2.0, -2.0, 0.0, 4.0])
    b = np.array([0.0, 2.0, -1.0, 0.0, 0.5, 0.5, 0.5])
    out = np.empty_like(a)
    mod.pow_forward(out, a, b)
    assert (
        out[:4].tolist() == [1.0, 0.0, np.inf, 1.0]
        and np.isnan(out[4])
        and out[5:].tolist() == [0.0, 2.0]
    )
    da, db = np.zeros_like(a), np.zeros_like(a)
    mod.pow_backward(da, db, np.ones_like(a), a, b, out)
    # da = b a^(b-1): 0 at b == 0 (torch), 2*0 = 0, -1 * 0^-2 = -inf, nan for a < 0,
    # 0.5*0^-0.5 = inf
    assert da[:4].tolist() == [0.0, 0.0, -np.inf, 0.0] and np.isnan(da[4])
    assert da[5] == np.inf and da[6] == 0.25
    # db = out log a: 0 where a == 0 and b >= 0; inf * -inf = -inf at (0, -1); nan for a < 0
    assert db[:2].tolist() == [0.0, 0.0] and db[2] == -np.inf and math.isclose(db[3], math.log(2.0))
    assert np.isnan(db[4]) and db[5] == 0.0 and math.isclose(db[6], 2.0 * math.log(4.0))


@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_div_by_zero_is_ieee(mod):
    a = np.array([1.0, -1.0, 0.0])
    b = np.array([0.0, 0.0, 0.0])
    out = np.empty(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mod.div_forward(out, a, b)
    assert out[0] == np.inf and out[1] == -np.inf and np.isnan(out[2])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("shape", [(), (0,), (7,), (257,), (3, 33), (70001,)], ids=str)
def test_accumulate(shape, dtype):
    rng = rng_for("acc", shape, dtype)
    dst0, src = uniform(rng, shape, dtype), uniform(rng, shape, dtype)
    want = dst0.astype(F64) + src.astype(F64)  # independent: float64 sum
    for mod in (N, C):
        dst = dst0.copy()
        mod.accumulate(dst, src)
        assert_close(dst, want, EPS[dtype], 0, f"{mod.__name__}.accumulate")


# =====================================================================================
# Reductions
# =====================================================================================


def axis_sets(ndim):
    """Every non-empty sorted axis tuple (all of them up to 3-D, a spread for 4-D)."""
    sets = [c for r in range(1, ndim + 1) for c in itertools.combinations(range(ndim), r)]
    if ndim >= 4:
        sets = [s for s in sets if len(s) in (1, ndim) or s in ((0, 2), (1, 3), (0, 1, 3), (1, 2))]
    return sets


REDUCE_SHAPES = [(1,), (7,), (257,), (3, 5, 7), (1, 33, 1), (2, 3, 4, 5), (65, 33), (5, 0, 3), (0,)]
# (op, shape, axes, keepdims): out alternates between the keepdim and squeezed shapes;
# amax over an empty group is an error (test_errors_axes_and_batches), so not here.
REDUCE_CASES = [
    (op, s, ax, i % 2 == 0)
    for op in ("sum", "mean", "amax")
    for s in REDUCE_SHAPES
    for i, ax in enumerate(axis_sets(len(s)))
    if not (op == "amax" and math.prod(s[a] for a in ax) == 0)
]


def kept_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def group_count(shape, axes):
    return math.prod(shape[a] for a in axes)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize(
    "case", REDUCE_CASES, ids=lambda c: f"{c[0]}-{c[1]}-ax{c[2]}-{'keep' if c[3] else 'sq'}"
)
def test_reduce_c_matches_numpy(case, dtype):
    op, shape, axes, keep = case
    n = group_count(shape, axes)
    rng = rng_for("reduce", dtype, case)
    if op == "amax":  # small integers: many ties
        x = rng.integers(-3, 4, size=shape).astype(dtype)
    else:
        x = uniform(rng, shape, dtype)
    oshape = kept_shape(shape, axes, keep)
    oc, on = np.full(oshape, np.nan, dtype), np.full(oshape, np.nan, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(C, op + "_forward")(oc, x, axes)
        getattr(N, op + "_forward")(on, x, axes)
    # summation order differs between backends: allow eps * sqrt(n) * sum|x| per group
    abs_sum = np.sum(np.abs(x.astype(F64)), axis=axes).reshape(oshape)
    scale = (
        (8 * math.sqrt(max(n, 1)) * EPS[dtype] / TOL[dtype][1])
        * abs_sum
        / max(n if op == "mean" else 1, 1)
    )
    assert_match(oc, on, dtype, f"{op}_forward", scale=scale)
    if op == "amax":  # a max is exact
        assert_close(oc, on, 0, 0, "amax_forward")

    dout = uniform(rng, oshape, dtype)
    dx0 = uniform(rng, shape, dtype)
    dxc, dxn = dx0.copy(), dx0.copy()
    if op == "amax":
        C.amax_backward(dxc, dout, x, on, axes)
        N.amax_backward(dxn, dout, x, on, axes)
    else:
        getattr(C, op + "_backward")(dxc, dout, axes)
        getattr(N, op + "_backward")(dxn, dout, axes)
    assert_match(dxc, dxn, dtype, f"{op}_backward", scale=1 + np.abs(dx0) + np.abs(dxn - dx0))


@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_amax_nan_and_infinities(mod):
    x = np.array(
        [
            [1.0, np.nan, 3.0, 3.0],
            [2.0, 2.0, 2.0, -1.0],
            [-np.inf, -np.inf, -np.inf, -np.inf],
            [np.inf, 0.0, np.inf, 5.0],
        ]
    )
    out = np.empty(4)
    mod.amax_forward(out, x, (1,))
    assert np.isnan(out[0]) and out[1:].tolist() == [2.0, -np.inf, np.inf]
    dx = np.zeros_like(x)
    mod.amax_backward(dx, np.ones(4), x, out, (1,))
    # ties share evenly, infinities included
    assert_close(
        dx[1:],
        [[1 / 3, 1 / 3, 1 / 3, 0], [0.25] * 4, [0.5, 0, 0.5, 0]],
        1e-15,
        0,
        f"{mod.__name__} amax_backward with ties and infinities",
    )


@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_amax_backward_nan_group_follows_contract(mod):
    """docs/kernels.md: dx += dout / count where x == max, else 0. In a group whose max is
    NaN no x equals the max (NaN != NaN), so the whole group gets 0. (torch's amax gives
    NaN to the whole group instead; torch.max(dim) gives it to the NaN's index. The
    contract picks neither; see the report.)"""
    x = np.array([[1.0, np.nan, 3.0, 3.0], [np.nan, 2.0, np.nan, 1.0]])
    out = np.array([np.nan, np.nan])
    dx = np.zeros_like(x)
    mod.amax_backward(dx, np.ones(2), x, out, (1,))
    assert_close(dx, np.zeros_like(x), 0, 0, f"{mod.__name__} amax_backward on NaN groups")


@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_amax_ties_split_evenly(mod):
    x = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 0.0]])
    out = np.empty(2)
    mod.amax_forward(out, x, (1,))
    assert out.tolist() == [3.0, 5.0]
    dx = np.full_like(x, 10.0)
    mod.amax_backward(dx, np.array([1.0, 3.0]), x, out, (1,))
    assert_close(dx, [[10, 10.5, 10.5, 10], [11, 11, 11, 10]], 1e-15, 0, "amax tie split")
    out = np.empty(())
    mod.amax_forward(out, x, (0, 1))  # full max(): all three 5s share
    dx = np.zeros_like(x)
    mod.amax_backward(dx, np.array(6.0), x, out, (0, 1))
    assert_close(dx, [[0, 0, 0, 0], [2, 2, 2, 0]], 1e-15, 0, "full max tie split")


def _fd_check_linear_map(fwd, x, dout, grad, what, h=1e-6, rtol=1e-6, atol=1e-8):
    """grad[i] == sum(dout * (fwd(x + h e_i) - fwd(x - h e_i))) / 2h for every i."""
    fd = np.empty(x.size)
    xf = x.reshape(-1)
    for i in range(x.size):
        old = xf[i]
        xf[i] = old + h
        fp = fwd(x)
        xf[i] = old - h
        fm = fwd(x)
        xf[i] = old
        fd[i] = np.sum(dout * (fp - fm)) / (2 * h)
    assert_close(grad.reshape(-1), fd, rtol, atol, what)


@pytest.mark.parametrize("op", ["sum", "mean", "amax"])
def test_numpy_reduce_against_numpy_and_finite_differences(op):
    rng = rng_for("np-reduce", op)
    shape = (3, 4, 5)
    x = rng.permutation(np.linspace(-3, 3, 60)).reshape(shape)  # distinct: no amax ties
    ref = {"sum": np.sum, "mean": np.mean, "amax": np.max}[op]
    for axes in axis_sets(3):
        out = np.empty(kept_shape(shape, axes, False))
        getattr(N, op + "_forward")(out, x, axes)
        # independent: loop over the groups in pure Python
        want = np.empty(out.shape)
        kept = [i for i in range(3) if i not in axes]
        for idx in itertools.product(*[range(shape[i]) for i in kept]):
            sl = [slice(None)] * 3
            for i, v in zip(kept, idx):
                sl[i] = v
            vals = [float(v) for v in np.ravel(x[tuple(sl)])]
            want[idx] = {"sum": math.fsum, "mean": lambda v: math.fsum(v) / len(v), "amax": max}[
                op
            ](vals)
        assert_close(out, want, 1e-14, 1e-14, f"{op}_forward axes {axes}")
        assert_close(out, ref(x, axis=axes), 1e-14, 1e-14, f"{op}_forward axes {axes} vs numpy")

        dout = rng.uniform(-1, 1, out.shape)
        dx = np.zeros(shape)
        if op == "amax":
            N.amax_backward(dx, dout, x, out, axes)
        else:
            getattr(N, op + "_backward")(dx, dout, axes)

        def fwd(z, out=out, axes=axes):
            o = np.empty(out.shape)
            getattr(N, op + "_forward")(o, z, axes)
            return o

        _fd_check_linear_map(fwd, x.copy(), dout, dx, f"{op}_backward axes {axes} vs FD")


@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_mean_of_empty_is_nan(mod):
    x = np.zeros((3, 0))
    out = np.zeros(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mod.mean_forward(out, x, (1,))
        s = np.ones(3)
        mod.sum_forward(s, x, (1,))
    assert np.isnan(out).all() and s.tolist() == [0, 0, 0]


# =====================================================================================
# Softmax and log-softmax
# =====================================================================================

SOFTMAX_CASES = [((3, 5, 7), ax) for ax in range(3)] + [
    ((1,), 0),
    ((257,), 0),
    ((2, 257, 3), 0),
    ((2, 257, 3), 1),
    ((2, 257, 3), 2),
    ((33, 65), 0),
    ((33, 65), 1),
    ((1, 1, 1), 1),
    ((0, 4), 1),
    ((4, 0), 1),
    ((4, 0), 0),
]


@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=lambda c: f"{c[0]}-axis{c[1]}")
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_c_matches_numpy(op, dtype, case):
    shape, axis = case
    rng = rng_for("softmax", op, dtype, case)
    x = uniform(rng, shape, dtype, -6, 6)
    yc, yn = np.full(shape, np.nan, dtype), np.full(shape, np.nan, dtype)
    getattr(C, op + "_forward")(yc, x, axis)
    getattr(N, op + "_forward")(yn, x, axis)
    n = shape[axis]
    assert_match(yc, yn, dtype, f"{op}_forward", scale=1 + math.sqrt(n) * (1 + np.abs(yn)))
    dy = uniform(rng, shape, dtype)
    dx0 = uniform(rng, shape, dtype)
    dxc, dxn = dx0.copy(), dx0.copy()
    getattr(C, op + "_backward")(dxc, dy, yn, axis)
    getattr(N, op + "_backward")(dxn, dy, yn, axis)
    assert_match(dxc, dxn, dtype, f"{op}_backward", scale=1 + np.abs(dx0) + math.sqrt(n) * 3)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_softmax_stable_and_masked(mod, dtype):
    """Logits around 1e4 (no overflow), -inf entries (probability exactly 0),
    and an all -inf row (NaN, as torch)."""
    x = np.array(
        [
            [1e4, 1e4 + 1, 1e4 - 1],
            [-np.inf, 0.0, 1.0],
            [-np.inf, -np.inf, -np.inf],
            [-1e4, -1e4 - 1, -1e4 + 1],
        ],
        dtype=dtype,
    )
    ls = np.log(np.exp(0.0) + np.exp(1.0) + np.exp(-1.0))  # log-sum-exp of [0, 1, -1]
    want_log = np.array(
        [
            [0 - ls, 1 - ls, -1 - ls],
            [-np.inf, -math.log1p(math.e), 1 - math.log1p(math.e)],
            [np.nan] * 3,
            [0 - ls, -1 - ls, 1 - ls],
        ]
    )
    tol = 1e-6 if dtype == F32 else 1e-13
    y = np.empty_like(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mod.log_softmax_forward(y, x, 1)
    assert_close(y, want_log, tol, tol, "log_softmax_forward")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mod.softmax_forward(y, x, 1)
    assert_close(y, np.exp(want_log), tol, tol, "softmax_forward")
    assert y[1, 0] == 0.0


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_numpy_softmax_against_math_and_finite_differences(op):
    rng = rng_for("np-softmax", op)
    shape = (3, 4, 5)
    x = rng.uniform(-3, 3, shape)
    for axis in range(3):
        y = np.empty(shape)
        getattr(N, op + "_forward")(y, x, axis)
        xm = np.moveaxis(x, axis, -1)
        want = np.empty(xm.shape)
        for idx in np.ndindex(xm.shape[:-1]):
            row = [float(v) for v in xm[idx]]
            lse = math.log(math.fsum(math.exp(v) for v in row))
            want[idx] = [v - lse if op == "log_softmax" else math.exp(v - lse) for v in row]
        assert_close(
            y, np.moveaxis(want, -1, axis), 1e-14, 1e-15, f"{op}_forward axis {axis} vs math"
        )

        dy = rng.uniform(-1, 1, shape)
        dx = np.zeros(shape)
        getattr(N, op + "_backward")(dx, dy, y, axis)

        def fwd(z, axis=axis):
            o = np.empty(shape)
            getattr(N, op + "_forward")(o, z, axis)
            return o

        _fd_check_linear_map(fwd, x.copy(), dy, dx, f"{op}_backward axis {axis} vs FD")


# =====================================================================================
# Matmul
# =====================================================================================


def matmul_operands(rng, dtype, Ba, Bb, M, K, N_, ta, tb):
    a = uniform(rng, (Ba, K, M) if ta else (Ba, M, K), dtype, -1, 1)
    b = uniform(rng, (Bb, N_, K) if tb else (Bb, K, N_), dtype, -1, 1)
    return a, b


def matmul_loop_reference(out0, a, b, ta, tb, accumulate):
    """The contract's loop, in float64 with np.matmul on one matrix pair at a time."""
    A = np.swapaxes(a, 1, 2) if ta else a
    B = np.swapaxes(b, 1, 2) if tb else b
    Ba, Bb, Bo = A.shape[0], B.shape[0], out0.shape[0]
    nb = max(Ba, Bb, Bo)
    ref = out0.astype(F64) if accumulate else np.zeros(out0.shape)
    mag = np.zeros(out0.shape)  # sum of |terms|, for rounding bounds
    for i in range(nb):
        ref[i % Bo] += A[i % Ba].astype(F64) @ B[i % Bb].astype(F64)
        mag[i % Bo] += np.abs(A[i % Ba].astype(F64)) @ np.abs(B[i % Bb].astype(F64))
    return ref, mag, nb


def check_matmul(mod, dtype, a, b, ta, tb, accumulate, out0, what):
    out = out0.copy()
    mod.matmul(out, a, b, ta, tb, accumulate)
    ref, mag, nb = matmul_loop_reference(out0, a, b, ta, tb, accumulate)
    K = a.shape[1] if ta else a.shape[2]
    base = np.abs(out0.astype(F64)) if accumulate else 0.0
    # rounding: a few eps * sqrt(terms) per unit of sum |a||b| (+ the accumulated out value)
    bound = 4 * EPS[dtype] * (math.sqrt(K * nb + 1) * mag + base) + 1e-30
    assert_close(out, ref, 0, bound, what)
    return out


MATMUL_MKN = [
    (1, 1, 1),
    (1, 7, 33),
    (7, 1, 1),
    (7, 33, 65),
    (33, 7, 257),
    (65, 257, 7),
    (257, 65, 33),
    (1, 257, 1),
    (257, 1, 257),
    (33, 33, 33),
    (65, 65, 65),
    (7, 65, 1),
    (1, 33, 257),
    (257, 257, 65),
    (129, 100, 97),
]
TRANS = [(False, False), (True, False), (False, True), (True, True)]


@pytest.mark.parametrize("trans", TRANS, ids=lambda t: f"ta{int(t[0])}tb{int(t[1])}")
@pytest.mark.parametrize("mkn", MATMUL_MKN, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_matmul_shapes_and_transposes(dtype, mkn, trans):
    M, K, N_ = mkn
    ta, tb = trans
    rng = rng_for("mm", dtype, mkn, trans)
    a, b = matmul_operands(rng, dtype, 1, 1, M, K, N_, ta, tb)
    nan_out = np.full((1, M, N_), np.nan, dtype)
    acc_out = uniform(rng, (1, M, N_), dtype, -1, 1)
    for mod in (C, N):
        o1 = check_matmul(
            mod, dtype, a, b, ta, tb, False, nan_out, f"{mod.__name__} matmul overwrite"
        )
        o2 = check_matmul(
            mod, dtype, a, b, ta, tb, True, acc_out, f"{mod.__name__} matmul accumulate"
        )
        if mod is C:
            c1, c2 = o1, o2
    n1 = nan_out.copy()
    N.matmul(n1, a, b, ta, tb, False)
    assert_match(c1, n1, dtype, "matmul C vs numpy", scale=math.sqrt(K + 1) * (1 + np.abs(n1)))
    n2 = acc_out.copy()
    N.matmul(n2, a, b, ta, tb, True)
    assert_match(
        c2, n2, dtype, "matmul C vs numpy (accumulate)", scale=math.sqrt(K + 1) * (1 + np.abs(n2))
    )


@pytest.mark.parametrize("trans", TRANS, ids=lambda t: f"ta{int(t[0])}tb{int(t[1])}")
@pytest.mark.parametrize(
    "mkn", [(1, 1, 1), (7, 33, 65), (65, 257, 7), (8, 8, 8)], ids=lambda s: "x".join(map(str, s))
)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_matmul_2d_form_matches_np_matmul(dtype, mkn, trans):
    """All-2-D arguments: one product, the same contract as batch 1."""
    M, K, N_ = mkn
    ta, tb = trans
    rng = rng_for("mm2d", dtype, mkn, trans)
    a, b = matmul_operands(rng, dtype, 1, 1, M, K, N_, ta, tb)
    a2, b2 = a[0], b[0]
    A = (a2.T if ta else a2).astype(F64)
    B = (b2.T if tb else b2).astype(F64)
    ref = A @ B
    mag = np.abs(A) @ np.abs(B)
    acc0 = uniform(rng, (M, N_), dtype, -1, 1)
    for mod in (C, N):
        out = np.full((M, N_), np.nan, dtype)
        mod.matmul(out, a2, b2, ta, tb, False)
        assert_close(
            out,
            ref,
            0,
            4 * EPS[dtype] * math.sqrt(K + 1) * mag + 1e-30,
            f"{mod.__name__} 2-D matmul",
        )
        out = acc0.copy()
        mod.matmul(out, a2, b2, ta, tb, True)
        assert_close(
            out,
            ref + acc0.astype(F64),
            0,
            4 * EPS[dtype] * (math.sqrt(K + 1) * mag + np.abs(acc0)) + 1e-30,
            f"{mod.__name__} 2-D matmul accumulate",
        )


@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_matmul_mixed_ndim_raises(mod):
    out = np.zeros((1, 2, 2), np.float32)
    with pytest.raises(ValueError, match="matmul.*all 3-D or all 2-D"):
        mod.matmul(
            out, np.zeros((2, 2), np.float32), np.zeros((1, 2, 2), np.float32), False, False, False
        )
    with pytest.raises(ValueError, match="matmul.*all 3-D or all 2-D"):
        mod.matmul(
            np.zeros((2,), np.float32),
            np.zeros((2,), np.float32),
            np.zeros((2,), np.float32),
            False,
            False,
            False,
        )


BATCHES = list(itertools.product([1, 3], repeat=3))


@pytest.mark.parametrize("accumulate", [False, True], ids=["set", "acc"])
@pytest.mark.parametrize("trans", TRANS, ids=lambda t: f"ta{int(t[0])}tb{int(t[1])}")
@pytest.mark.parametrize("batches", BATCHES, ids=lambda t: "Ba{}Bb{}Bo{}".format(*t))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_matmul_batch_broadcast(dtype, batches, trans, accumulate):
    Ba, Bb, Bo = batches
    ta, tb = trans
    M, K, N_ = 9, 17, 13
    rng = rng_for("mmb", dtype, batches, trans, accumulate)
    a, b = matmul_operands(rng, dtype, Ba, Bb, M, K, N_, ta, tb)
    out0 = (
        uniform(rng, (Bo, M, N_), dtype, -1, 1)
        if accumulate
        else np.full((Bo, M, N_), np.nan, dtype)
    )
    check_matmul(N, dtype, a, b, ta, tb, accumulate, out0, "numpy matmul vs loop of np.matmul")
    check_matmul(C, dtype, a, b, ta, tb, accumulate, out0, "C matmul vs loop of np.matmul")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_matmul_empty_dims(mod, dtype):
    # K = 0: out becomes zeros (even over NaN), or is left alone when accumulating
    a, b = np.zeros((2, 4, 0), dtype), np.zeros((2, 0, 5), dtype)
    out = np.full((2, 4, 5), np.nan, dtype)
    mod.matmul(out, a, b, False, False, False)
    assert (out == 0).all()
    out = np.full((1, 4, 5), 7.0, dtype)
    mod.matmul(out, a, b, False, False, True)
    assert (out == 7).all()
    out = np.full((1, 4, 5), np.nan, dtype)
    mod.matmul(out, a, b, False, False, False)  # Bo = 1 < B = 2, K = 0
    assert (out == 0).all()
    # M = 0 or N = 0: nothing to do, no error
    mod.matmul(
        np.empty((2, 0, 5), dtype),
        np.zeros((2, 0, 3), dtype),
        np.zeros((2, 3, 5), dtype),
        False,
        False,
        False,
    )
    mod.matmul(
        np.empty((1, 4, 0), dtype),
        np.zeros((1, 3, 4), dtype),
        np.zeros((1, 0, 3), dtype),
        True,
        True,
        True,
    )


def test_numpy_matmul_backward_calls_match_finite_differences():
    """The contract's backward recipe, matmul(dA, dC, B, F, T, T) and matmul(dB, A, dC, T, F, T),
    equals central differences of the forward, including a broadcast operand (Bo == 1 sums)."""
    rng = rng_for("mm-fd")
    for Ba, Bb in ((2, 2), (2, 1), (1, 2)):
        A = rng.uniform(-1, 1, (Ba, 3, 4))
        Bm = rng.uniform(-1, 1, (Bb, 4, 5))
        nb = max(Ba, Bb)
        dC = rng.uniform(-1, 1, (nb, 3, 5))
        dA, dB = np.zeros_like(A), np.zeros_like(Bm)
        N.matmul(dA, dC, Bm, False, True, True)
        N.matmul(dB, A, dC, True, False, True)

        def fwd_a(z, nb=nb, Bm=Bm):
            o = np.empty((nb, 3, 5))
            N.matmul(o, z, Bm, False, False, False)
            return o

        def fwd_b(z, nb=nb, A=A):
            o = np.empty((nb, 3, 5))
            N.matmul(o, A, z, False, False, False)
            return o

        _fd_check_linear_map(fwd_a, A.copy(), dC, dA, f"dA (Ba={Ba}, Bb={Bb}) vs FD")
        _fd_check_linear_map(fwd_b, Bm.copy(), dC, dB, f"dB (Ba={Ba}, Bb={Bb}) vs FD")


# =====================================================================================
# Scatter-add
# =====================================================================================


def index_add_loop(dx0, idx, src):
    """The contract's loop, row by row, in float64."""
    ref = dx0.astype(F64)
    for i, r in enumerate(idx):
        ref[r] += src[i].astype(F64)
    return ref


@pytest.mark.parametrize(
    "rdn",
    [
        (1, 1, 1),
        (1, 7, 33),
        (7, 33, 257),
        (33, 1, 7),
        (257, 65, 1000),
        (5, 3, 0),
        (4, 0, 6),
        (3, 2, 70001),
    ],
    ids=lambda t: "R{}D{}n{}".format(*t),
)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_index_add(dtype, rdn):
    R, D, n = rdn
    rng = rng_for("index_add", dtype, rdn)
    idx = rng.integers(0, R, n).astype(np.int64)  # with repeats whenever n > R
    src = uniform(rng, (n, D), dtype)
    dx0 = uniform(rng, (R, D), dtype)
    ref = index_add_loop(dx0, idx, src)
    count = np.bincount(idx, minlength=R)[:, None] if n else np.zeros((R, 1))
    bound = 2 * EPS[dtype] * (count + 1) * (np.abs(ref) + 3 * (count + 1)) + 1e-30
    results = {}
    for mod in (N, C):
        dx = dx0.copy()
        mod.index_add(dx, idx, src)
        assert_close(dx, ref, 0, bound, f"{mod.__name__}.index_add vs loop")
        results[mod] = dx
    assert_match(results[C], results[N], dtype, "index_add C vs numpy", scale=1 + count)


@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_index_add_checks_indices_before_writing(mod):
    dx = np.zeros((3, 2))
    src = np.ones((4, 2))
    for bad in ([0, 1, 3, 0], [0, -1, 1, 2]):
        with pytest.raises(IndexError, match="index_add"):
            mod.index_add(dx, np.array(bad, np.int64), src)
        assert (dx == 0).all(), "index_add wrote before rejecting an index"
    with pytest.raises(TypeError, match="index_add"):
        mod.index_add(dx, np.array([0, 1, 2, 0], np.int32), src)
    with pytest.raises(ValueError, match="index_add"):
        mod.index_add(dx, np.zeros(8, np.int64)[::2], src)  # idx not contiguous
    mod.index_add(dx, np.array([2, 2, 0, 2], np.int64), src)
    assert dx.tolist() == [[1, 1], [0, 0], [3, 3]]


# =====================================================================================
# Threads and configuration
# =====================================================================================


def test_config_and_threads():
    assert N.config() == {"openmp": False, "simd": "numpy", "num_threads": 1}
    assert N.get_num_threads() == 1
    N.set_num_threads(4)
    assert N.get_num_threads() == 1
    cfg = C.config()
    assert isinstance(cfg["openmp"], bool) and isinstance(cfg["simd"], str)
    assert isinstance(cfg["num_threads"], int) and cfg["num_threads"] >= 1
    before = C.get_num_threads()
    try:
        C.set_num_threads(1)
        assert C.get_num_threads() == 1
        if cfg["openmp"]:
            C.set_num_threads(2)
            assert C.get_num_threads() == 2
    finally:
        C.set_num_threads(before)


def test_results_do_not_depend_on_thread_count():
    rng = rng_for("threads")
    x = rng.uniform(-3, 3, (300, 301))
    a, b = rng.uniform(-1, 1, (2, 130, 257)), rng.uniform(-1, 1, (2, 257, 70))
    before = C.get_num_threads()
    results = []
    try:
        for n in (1, max(2, before)):
            C.set_num_threads(n)
            y, s, m = np.empty_like(x), np.empty(301), np.empty((2, 130, 70))
            C.gelu_forward(y, x, False)
            C.sum_forward(s, x, (0,))
            C.matmul(m, a, b, False, False, False)
            results.append((y, s, m))
    finally:
        C.set_num_threads(before)
    for r1, r2 in zip(*results):
        assert_close(r1, r2, 1e-13, 1e-13, "1 thread vs several")


# =====================================================================================
# Bad calls: TypeError for dtype, ValueError for shape or contiguity, naming the function
# =====================================================================================


class Call(NamedTuple):
    args: list
    out_i: int  # the output (or first gradient output)
    in_i: int  # an input array
    contig_i: int  # an input the contract says must be contiguous


def _good_calls(dtype):
    """fn name -> a valid Call with small (4, 6) arrays."""
    s = (4, 6)

    def a():
        return np.ones(s, dtype)

    calls = {}
    for u in UNARY:
        calls[u.kernel + "_forward"] = Call([a(), a(), *u.params], 0, 1, 1)
        calls[u.kernel + "_backward"] = Call([a(), a(), a(), a(), *u.params], 0, 2, 1)
    for op in BINARY:
        calls[op + "_forward"] = Call([a(), a(), a()], 0, 1, None)
        # add/sub backward never read a and b: mutate dout there (see test_errors_unused_operands)
        calls[op + "_backward"] = Call(
            [a(), a(), a(), a(), a(), a()], 0, 2 if op in ("add", "sub") else 3, 2
        )
    calls["accumulate"] = Call([a(), a()], 0, 1, 1)
    for op in ("sum", "mean", "amax"):
        calls[op + "_forward"] = Call([np.ones(4, dtype), a(), (1,)], 0, 1, 1)
    calls["sum_backward"] = Call([a(), np.ones(4, dtype), (1,)], 0, 1, 1)
    calls["mean_backward"] = Call([a(), np.ones(4, dtype), (1,)], 0, 1, 1)
    calls["amax_backward"] = Call([a(), np.ones(4, dtype), a(), np.ones(4, dtype), (1,)], 0, 2, 2)
    for op in ("softmax", "log_softmax"):
        calls[op + "_forward"] = Call([a(), a(), 1], 0, 1, 1)
        calls[op + "_backward"] = Call([a(), a(), a(), 1], 0, 2, 1)
    calls["matmul"] = Call(
        [
            np.ones((1, 4, 5), dtype),
            np.ones((1, 4, 3), dtype),
            np.ones((1, 3, 5), dtype),
            False,
            False,
            False,
        ],
        0,
        1,
        2,
    )
    calls["index_add"] = Call([a(), np.array([3, 0, 3, 1], np.int64), a()], 0, 2, 2)
    return calls


ALL_FUNCS = sorted(_good_calls(F64))


def _call(mod, fn, args):
    getattr(mod, fn)(*args)


def _resized(arr, fn):
    """Same dtype, wrong shape: dim 0 grows by 2 (for matmul and index_add the last dim,
    since a batch of 1 vs 3, or more rows in dx, would still be a valid call)."""
    shape = list(arr.shape)
    shape[-1 if fn in ("matmul", "index_add") else 0] += 2
    return np.ones(shape, arr.dtype)


def _strided(arr):
    """Same dtype and shape, not C-contiguous."""
    return np.ones(arr.shape[:-1] + (2 * arr.shape[-1],), arr.dtype)[..., ::2]


def test_every_contract_function_exists_on_both_backends():
    names = set(ALL_FUNCS) | {"set_num_threads", "get_num_threads", "config"}
    for mod in (C, N):
        missing = sorted(n for n in names if not callable(getattr(mod, n, None)))
        assert not missing, f"{mod.__name__} lacks {missing}"


@pytest.mark.parametrize("fn", ALL_FUNCS)
@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_errors_dtype(mod, fn):
    call = _good_calls(F64)[fn]
    _call(mod, fn, call.args)  # the unmutated call works
    for i, bad_dtype in itertools.product(
        (call.in_i, call.out_i), (np.int64, np.float16, np.complex128)
    ):
        bad = list(call.args)
        bad[i] = bad[i].astype(bad_dtype)
        with pytest.raises(TypeError, match=re.escape(fn)):
            _call(mod, fn, bad)
    for i in (call.in_i, call.out_i):  # mixed float dtypes
        bad = list(call.args)
        bad[i] = bad[i].astype(F32)
        with pytest.raises(TypeError, match=re.escape(fn)):
            _call(mod, fn, bad)


@pytest.mark.parametrize("fn", ALL_FUNCS)
@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_errors_shape_and_contiguity(mod, fn):
    call = _good_calls(F32)[fn]
    for i in (call.in_i, call.out_i):  # a wrong shape, on an input and on the output
        bad = list(call.args)
        bad[i] = _resized(bad[i], fn)
        with pytest.raises(ValueError, match=re.escape(fn)):
            _call(mod, fn, bad)
    contig = [call.out_i] + ([call.contig_i] if call.contig_i is not None else [])
    for i in contig:  # right shape, not contiguous
        bad = list(call.args)
        bad[i] = _strided(bad[i])
        with pytest.raises(ValueError, match=re.escape(fn)):
            _call(mod, fn, bad)


@pytest.mark.parametrize("fn", ALL_FUNCS)
@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_errors_readonly_output(mod, fn):
    call = _good_calls(F64)[fn]
    bad = list(call.args)
    bad[call.out_i] = bad[call.out_i].copy()
    bad[call.out_i].flags.writeable = False
    with pytest.raises(ValueError, match=re.escape(fn)):
        _call(mod, fn, bad)


@pytest.mark.parametrize("fn", ALL_FUNCS)
@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_errors_not_an_array(mod, fn):
    call = _good_calls(F64)[fn]
    bad = list(call.args)
    bad[call.in_i] = bad[call.in_i].tolist()
    with pytest.raises((TypeError, ValueError), match=re.escape(fn)):
        _call(mod, fn, bad)


@pytest.mark.parametrize("fn", ["add_backward", "sub_backward"])
@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_errors_unused_operands(mod, fn):
    """add/sub backward do not read a, b (or out), but the contract checks every argument,
    so a call that is wrong on one backend is wrong on both."""
    s = (4, 6)
    good = [np.ones(s) for _ in range(6)]
    for i, bad_arr, exc in (
        (3, np.ones(s, np.int64), TypeError),
        (4, np.ones(s, F32), TypeError),
        (3, np.ones((5, 6)), ValueError),
        (5, np.ones((4, 7)), ValueError),
    ):
        bad = list(good)
        bad[i] = bad_arr
        with pytest.raises(exc, match=re.escape(fn)):
            _call(mod, fn, bad)


@pytest.mark.parametrize("mod", [N, C], ids=["numpy", "c"])
def test_errors_axes_and_batches(mod):
    x = np.ones((2, 3, 4))
    for axes in [(1, 0), (0, 0), (3,), (), (-1,)]:
        for fn in ("sum_forward", "mean_forward", "amax_forward"):
            with pytest.raises(ValueError, match=fn):
                getattr(mod, fn)(np.ones(12), x, axes)
    with pytest.raises(ValueError, match="amax_forward"):  # empty group
        mod.amax_forward(np.ones(2), np.ones((2, 0)), (1,))
    with pytest.raises(ValueError, match="amax_backward"):
        mod.amax_backward(np.ones((2, 0)), np.ones(2), np.ones((2, 0)), np.ones(2), (1,))
    with pytest.raises(ValueError, match="softmax_forward"):
        mod.softmax_forward(np.ones((2, 3)), np.ones((2, 3)), 2)
    with pytest.raises(ValueError, match="log_softmax_backward"):
        mod.log_softmax_backward(np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3)), 5)
    with pytest.raises(ValueError, match="matmul"):  # batches 2 and 3
        mod.matmul(np.ones((3, 2, 2)), np.ones((2, 2, 2)), np.ones((3, 2, 2)), False, False, False)
    with pytest.raises(ValueError, match="matmul"):  # inner dims 3 vs 4
        mod.matmul(np.ones((1, 2, 2)), np.ones((1, 2, 3)), np.ones((1, 4, 2)), False, False, False)
    with pytest.raises(ValueError, match="matmul"):  # transposed operand checked as such
        mod.matmul(np.ones((1, 2, 2)), np.ones((1, 2, 3)), np.ones((1, 3, 2)), True, False, False)
    with pytest.raises(ValueError, match="matmul"):  # 2-D out, 3-D operands
        mod.matmul(np.ones((2, 2)), np.ones((1, 2, 2)), np.ones((1, 2, 2)), False, False, False)
    with pytest.raises(ValueError, match="matmul"):  # 2-D, inner dims 2 vs 3
        mod.matmul(np.ones((2, 2)), np.ones((2, 2)), np.ones((3, 2)), False, False, False)
    with pytest.raises(ValueError, match="add_forward"):  # shape not exactly S
        mod.add_forward(np.ones((2, 3)), np.ones((1, 3)), np.ones((2, 3)))


# =====================================================================================
# PyTorch as a further oracle (skipped when torch is not installed)
# =====================================================================================


def _torch_grad(torch, fn, *arrays, dout=None):
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn(*ts)
    g = torch.ones_like(out) if dout is None else torch.tensor(dout, dtype=torch.float64)
    out.backward(g)
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def test_torch_unary_gradients():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = rng_for("torch-unary")
    x = np.concatenate(
        [rng.uniform(-8, 8, 300), [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 3.0, 30.0, -30.0]]
    )
    dy = rng.uniform(-2, 2, x.shape)
    cases = [
        ("gelu", (False,), lambda t: F.gelu(t)),
        ("gelu", (True,), lambda t: F.gelu(t, approximate="tanh")),
        ("softplus", (1.0, 20.0), lambda t: F.softplus(t)),
        ("softplus", (2.5, 3.0), lambda t: F.softplus(t, beta=2.5, threshold=3.0)),
        ("leaky_relu", (0.01,), lambda t: F.leaky_relu(t, 0.01)),
        ("leaky_relu", (0.3,), lambda t: F.leaky_relu(t, 0.3)),
        ("clamp", (-1.0, 2.0), lambda t: torch.clamp(t, -1.0, 2.0)),
        ("clamp", (1.0, -1.0), lambda t: torch.clamp(t, 1.0, -1.0)),
        ("sigmoid", (), torch.sigmoid),
        ("tanh", (), torch.tanh),
        ("relu", (), torch.relu),
        ("abs", (), torch.abs),
        ("sin", (), torch.sin),
        ("cos", (), torch.cos),
        ("exp", (), torch.exp),
        ("neg", (), torch.neg),
    ]
    for kernel, params, tf in cases:
        want_y, (want_dx,) = _torch_grad(torch, tf, x, dout=dy)
        y, dx = np.empty_like(x), np.zeros_like(x)
        getattr(N, kernel + "_forward")(y, x, *params)
        getattr(N, kernel + "_backward")(dx, dy, x, y, *params)
        # atol: GELU's 1 + tanh(u) cancels for x << 0 in torch's formula too
        assert_close(y, want_y, 1e-13, 1e-14, f"{kernel}{params} forward vs torch")
        assert_close(dx, want_dx, 1e-12, 1e-14, f"{kernel}{params} backward vs torch")
    xp = np.abs(x) + 0.1
    for kernel, tf in (("log", torch.log), ("sqrt", torch.sqrt)):
        want_y, (want_dx,) = _torch_grad(torch, tf, xp, dout=dy)
        y, dx = np.empty_like(xp), np.zeros_like(xp)
        getattr(N, kernel + "_forward")(y, xp)
        getattr(N, kernel + "_backward")(dx, dy, xp, y)
        assert_close(y, want_y, 1e-14, 0, f"{kernel} forward vs torch")
        assert_close(dx, want_dx, 1e-13, 0, f"{kernel} backward vs torch")


def test_torch_pow_gradients():
    torch = pytest.importorskip("torch")
    rng = rng_for("torch-pow")
    a = np.concatenate([rng.uniform(0.1, 3, 100), [0.0, 0.0, 0.0, 0.0, 2.0, -2.0, -2.0, 3.0]])
    b = np.concatenate([rng.uniform(-2, 3, 100), [0.0, 2.0, 0.5, 3.0, 0.0, 2.0, 3.0, -1.0]])
    want, (wa, wb) = _torch_grad(torch, torch.pow, a, b)
    out, da, db = np.empty_like(a), np.zeros_like(a), np.zeros_like(a)
    N.pow_forward(out, a, b)
    N.pow_backward(da, db, np.ones_like(a), a, b, out)
    assert_close(out, want, 1e-14, 0, "pow forward vs torch")
    assert_close(da, wa, 1e-13, 0, "pow da vs torch")
    assert_close(db, wb, 1e-13, 0, "pow db vs torch")


def test_torch_amax_gradients():
    torch = pytest.importorskip("torch")
    rng = rng_for("torch-amax")
    x = rng.integers(-2, 3, (4, 5, 6)).astype(F64)  # many ties
    for axes in axis_sets(3):
        dout = rng.uniform(-1, 1, kept_shape(x.shape, axes, False))
        want, (wx,) = _torch_grad(torch, lambda t, axes=axes: torch.amax(t, dim=axes), x, dout=dout)
        out, dx = np.empty(dout.shape), np.zeros_like(x)
        N.amax_forward(out, x, axes)
        N.amax_backward(dx, dout, x, out, axes)
        assert_close(out, want, 0, 0, f"amax axes {axes} vs torch")
        assert_close(dx, wx, 1e-14, 1e-15, f"amax backward axes {axes} vs torch")
    # full max() spreads over ties the same way
    want, (wx,) = _torch_grad(torch, lambda t: t.max(), x, dout=np.array(2.0))
    out, dx = np.empty(()), np.zeros_like(x)
    N.amax_forward(out, x, (0, 1, 2))
    N.amax_backward(dx, np.array(2.0), x, out, (0, 1, 2))
    assert_close(dx, wx, 1e-14, 1e-15, "full max backward vs torch")


def test_torch_softmax_and_matmul():
    torch = pytest.importorskip("torch")
    rng = rng_for("torch-sm")
    x = rng.uniform(-5, 5, (3, 4, 5))
    for axis in range(3):
        for op, tf in (("softmax", torch.softmax), ("log_softmax", torch.log_softmax)):
            dy = rng.uniform(-1, 1, x.shape)
            want, (wx,) = _torch_grad(torch, lambda t, tf=tf, axis=axis: tf(t, axis), x, dout=dy)
            y, dx = np.empty_like(x), np.zeros_like(x)
            getattr(N, op + "_forward")(y, x, axis)
            getattr(N, op + "_backward")(dx, dy, y, axis)
            assert_close(y, want, 1e-14, 1e-15, f"{op} axis {axis} vs torch")
            assert_close(dx, wx, 1e-13, 1e-15, f"{op} backward axis {axis} vs torch")
    A, B = rng.uniform(-1, 1, (3, 4, 6)), rng.uniform(-1, 1, (1, 6, 5))
    dC = rng.uniform(-1, 1, (3, 4, 5))
    want, (wa, wb) = _torch_grad(torch, torch.matmul, A, B, dout=dC)
    out, dA, dB = np.empty((3, 4, 5)), np.zeros_like(A), np.zeros_like(B)
    N.matmul(out, A, B, False, False, False)
    N.matmul(dA, dC, B, False, True, True)
    N.matmul(dB, A, dC, True, False, True)
    assert_close(out, want, 1e-14, 1e-15, "matmul vs torch")
    assert_close(dA, wa, 1e-13, 1e-15, "matmul dA vs torch")
    assert_close(dB, wb, 1e-13, 1e-15, "matmul dB (broadcast operand) vs torch")
