"""The float32 SIMD loops of csrc/vmath.h (gelu exact and tanh forms, exp,
sigmoid, softplus backward, log_softmax backward) and the float64 exp rows
(softmax / log_softmax / cross-entropy forwards, log_softmax backward), on
every ISA path the CPU has, against float64 (or long double) references over
dense sweeps with the special values mixed in: +-0, +-inf, NaN, denormals,
huge |x|, the underflow tails. The paths agree with each other and with the
generic libm path within the same bounds, and nothing depends on the thread
count or on where an element sits in a vector."""

import math
import os

import numpy as np
import pytest

from cgrad import _ckernels as C
from cgrad import numpy_backend as NB

F32, F64 = np.float32, np.float64
SQ2PI = math.sqrt(2 * math.pi)


from simd_paths import ISAS  # noqa: E402  (the `isa` fixture is in conftest.py)

SIMD = [i for i in ISAS if i != "generic"]


def _ulp(v, dtype=F32):
    """Spacing at |v| in dtype (the subnormal spacing below the normal range)."""
    return np.spacing(np.abs(np.asarray(v, np.float64)).astype(dtype)).astype(np.float64)


def _err_ulps(got, ref, scale=None, dtype=F32):
    """max |got - ref| / ulp(scale or ref); NaN and infinities must match exactly."""
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    assert np.array_equal(np.isnan(got), np.isnan(ref)), (
        got[np.isnan(got) != np.isnan(ref)][:5],
        ref[np.isnan(got) != np.isnan(ref)][:5],
    )
    inf = np.isinf(ref)
    assert np.array_equal(got[inf], ref[inf])
    ok = ~np.isnan(ref) & ~inf
    s = np.abs(ref if scale is None else scale)
    return (np.abs(got[ok] - ref[ok]) / _ulp(s[ok], dtype)).max(initial=0)


def _err_each(got, ref, scale=None):
    """As _err_ulps, elementwise over the finite references of a float32 result."""
    _err_ulps(got, ref, scale)
    ok = np.isfinite(ref)
    s = np.abs(ref if scale is None else scale)
    return np.abs(np.asarray(got, F64)[ok] - ref[ok]) / _ulp(s[ok])


# Every 97th float32 (22.7M points). `make sanitize` sets a coarser step: under
# ASan the sweep is about memory safety (every binade, masked tails), not ulps.
SWEEP_STEP = int(os.environ.get("CGRAD_TEST_SWEEP_STEP", "97"))


def _sweep(lim=16.0, step=SWEEP_STEP):
    """Every step-th float32 in [-lim, lim] by bit pattern (all binades down to
    the denormals), both signs, and the special values."""
    hi = np.float32(lim).view(np.int32)
    pos = np.arange(1, hi + 1, step, dtype=np.int32).view(F32)
    sp = np.array(
        [
            0.0,
            -0.0,
            np.inf,
            -np.inf,
            np.nan,
            1e-45,
            -1e-45,
            1e-38,
            -1e-38,
            1e30,
            -1e30,
            3e38,
            -3e38,
            20.0,
            -20.0,
            50.0,
            -50.0,
            1000.0,
            -1000.0,
        ],
        F32,
    )
    return np.concatenate([pos, -pos, sp])


X = _sweep()


# ---- gelu, exact -----------------------------------------------------------------


def _gelu_ref(x):
    """y, y' and the scale of y' (max(Phi, |x phi|): y' has a root at -0.75)."""
    t = x.astype(F64)
    with np.errstate(invalid="ignore", over="ignore"):
        cdf = NB._ndtr(t)
        xpdf = t * np.exp(-0.5 * t * t) / SQ2PI
        y = t * cdf
        g = cdf + xpdf
    return y, g, np.maximum(cdf, np.abs(xpdf))


GELU_ULP = 8  # SIMD, measured on this sweep (every 97th float32): forward <= 5.5, derivative <= 5.4


def _gelu_bound(isa, x):
    """The generic path (libm erfcf(-x / sqrt 2)) rounds x / sqrt 2 first, which
    costs about x^2 ulp in the tail (d log erfc(a) / d log a = -2 a^2); the SIMD
    path squares x exactly."""
    if isa != "generic":
        return GELU_ULP
    return GELU_ULP * (1 + np.square(x.astype(F64)[np.isfinite(x)]))


@pytest.mark.slow
def test_gelu_against_float64(isa):
    x = X
    y = np.empty_like(x)
    C.gelu_forward(y, x, False)
    ry, rg, gs = _gelu_ref(x)
    # x = -inf: x Phi(x) = -inf * 0 is NaN in both the libm formula and the SIMD one
    # (as torch); the derivative is NaN at +-inf (inf * 0), 0/1 for other huge x.
    ry[x == -np.inf] = np.nan
    rg[np.isinf(x)] = np.nan
    assert (_err_each(y, ry) <= _gelu_bound(isa, x)).all()
    dx0 = np.zeros_like(x)
    C.gelu_backward(dx0, np.ones_like(x), x, y, False)
    assert (_err_each(dx0, rg, gs) <= _gelu_bound(isa, x)).all()
    # accumulating: dx += dy * y'
    dy = np.linspace(-2, 2, x.size).astype(F32)
    dx = np.full_like(x, 0.25)
    C.gelu_backward(dx, dy, x, y, False)
    want = 0.25 + dy.astype(F64) * rg
    ok = np.isfinite(want)
    assert (np.abs(dx[ok] - want[ok]) <= 2 * GELU_ULP * _ulp(0.25 + np.abs(dy[ok] * gs[ok]))).all()


def test_gelu_signs_and_limits(isa):
    x = np.array([0.0, -0.0, 1e30, -1e30, 3e38, 20.0, -20.0, -14.0, -13.0], F32)
    y = np.empty_like(x)
    C.gelu_forward(y, x, False)
    assert np.signbit(y[1]) and not np.signbit(y[0]) and y[0] == 0
    assert y[2] == x[2] and y[4] == x[4] and y[5] == x[5] and y[3] == 0 and y[6] == 0
    assert 0 > y[8] > -1e-36 and 0 >= y[7] > -1e-41  # the subnormal tail, not flushed
    d = np.zeros_like(x)
    C.gelu_backward(d, np.ones_like(x), x, y, False)
    assert d[0] == 0.5 and d[1] == 0.5 and d[2] == 1 and d[4] == 1 and d[3] == 0


@pytest.mark.slow
def test_gelu_paths_agree():
    """SIMD paths against the generic libm path (erfc form): same bounds."""
    got = {}
    for name in ISAS:
        assert C._set_simd(name) == name
        y = np.empty_like(X)
        C.gelu_forward(y, X, False)
        d = np.zeros_like(X)
        C.gelu_backward(d, np.ones_like(X), X, y, False)
        got[name] = (y, d)
    C._set_simd(ISAS[-1])  # back to the best path
    ry, rg, gs = _gelu_ref(X)
    fin = np.isfinite(X)
    for name in SIMD:
        b = 2 * _gelu_bound("generic", X)
        assert (_err_each(got[name][0][fin], got["generic"][0][fin].astype(F64)) <= b).all()
        assert (
            _err_each(got[name][1][fin], got["generic"][1][fin].astype(F64), gs[fin]) <= b
        ).all()


# ---- gelu, tanh form; sigmoid; exp; softplus backward ------------------------------

K_TANH = math.sqrt(2 / math.pi)


def _gelu_tanh_ref(x):
    t = x.astype(F64)
    with np.errstate(invalid="ignore", over="ignore"):
        u = K_TANH * (t + 0.044715 * t**3)
        s = 0.5 * (1 + np.tanh(u))
        sc = 0.5 * (1 - np.tanh(u))
        y = t * s
        g = s + 2 * t * s * sc * K_TANH * (1 + 3 * 0.044715 * t * t)
        g = np.where(np.isfinite(t) & (np.abs(t) > 30), (t > 0).astype(F64), g)
    return y, g


@pytest.mark.slow
def test_gelu_tanh_against_float64(isa):
    # float32 u = c (x + 0.044715 x^3) carries a few ulp of |u|; y and y' move
    # by that times their slope in u, so the tolerance scales with |x| (1 + x^2).
    x = X[np.isfinite(X) & (np.abs(X) < 1e3)]
    y = np.empty_like(x)
    C.gelu_forward(y, x, True)
    ry, rg = _gelu_tanh_ref(x)
    t = np.abs(x.astype(F64))
    eps = np.finfo(F32).eps
    assert (
        np.abs(y - ry) <= 8 * eps * (np.abs(ry) + t * t * (1 + t * t) * np.exp(-t) + 1e-38)
    ).all()
    d = np.zeros_like(x)
    C.gelu_backward(d, np.ones_like(x), x, y, True)
    assert (np.abs(d - rg) <= 8 * eps * (1 + t * t * (1 + t * t) * np.exp(-t))).all()


@pytest.mark.slow
def test_sigmoid_exp_against_float64(isa):
    x = X
    xd = x.astype(F64)
    y = np.empty_like(x)
    C.exp_forward(y, x)
    with np.errstate(over="ignore"):
        ref = np.exp(xd)
    assert _err_ulps(y, np.where(ref > np.finfo(F32).max, np.inf, ref)) <= 2
    C.sigmoid_forward(y, x)
    with np.errstate(over="ignore"):
        ref = np.where(
            xd >= 0, 1 / (1 + np.exp(-np.abs(xd))), np.exp(-np.abs(xd)) / (1 + np.exp(-np.abs(xd)))
        )
    ref[np.isnan(xd)] = np.nan
    assert _err_ulps(y, ref) <= 3


@pytest.mark.slow
@pytest.mark.parametrize("beta,thr", [(1.0, 20.0), (1.5, 4.0), (-2.0, 3.0)])
def test_softplus_backward_against_float64(isa, beta, thr):
    x = X
    dy = np.linspace(-3, 3, x.size).astype(F32)
    dx = np.full_like(x, 0.5)
    C.softplus_backward(dx, dy, x, x, beta, thr)
    with np.errstate(over="ignore", invalid="ignore"):
        z = (x * F32(beta)).astype(F64)  # z is rounded to float32 first
        s = np.where(
            z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z)))
        )
        want = 0.5 + np.where(z > thr, dy, dy * s)
    ok = ~np.isnan(want)
    assert np.array_equal(np.isnan(dx), ~ok)
    assert (np.abs(dx[ok] - want[ok]) <= 4 * _ulp(0.5 + np.abs(dy[ok]))).all()


# ---- log_softmax backward and double softmax rows --------------------------------


def _rows(rng, n, dtype):
    rows = [rng.standard_normal(n) * s for s in (1.0, 10.0, 60.0)]
    rows.append(np.linspace(-800.0, 0.0, n))  # double underflow tail too
    r = rng.standard_normal(n)
    r[rng.random(n) < 0.5] = -np.inf
    r[0] = 0.5
    rows.append(r)
    r = rng.standard_normal(n)
    r[rng.integers(0, n)] = np.nan
    rows.append(r)
    rows.append(np.zeros(n))
    return np.array(rows, dtype)


@pytest.mark.parametrize("dtype", [F32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("n", [1, 3, 4, 7, 8, 9, 16, 17, 33, 1000])
def test_log_softmax_backward_against_reference(isa, dtype, n):
    rng = np.random.default_rng(n)
    x = _rows(rng, n, dtype)
    y = np.empty_like(x)
    C.log_softmax_forward(y, x, 1)
    dy = rng.standard_normal(x.shape).astype(dtype)
    dx = np.full_like(x, 0.125)
    C.log_softmax_backward(dx, dy, y, 1)
    ld = np.longdouble
    # sum(dy) as the kernel forms it: in order, in double, then rounded to T
    s = np.cumsum(dy.astype(F64), axis=1)[:, -1:].astype(dtype).astype(ld)
    with np.errstate(invalid="ignore"):
        want = ld(0.125) + (dy.astype(ld) - np.exp(y.astype(ld)) * s)
    scale = 0.125 + np.abs(dy.astype(F64)) + np.abs((np.exp(y.astype(ld)) * s).astype(F64))
    ok = ~np.isnan(want.astype(F64))
    assert np.array_equal(np.isnan(dx), ~ok)
    err = np.abs(dx[ok].astype(ld) - want[ok]).astype(F64)
    assert (err <= 3 * _ulp(scale[ok], dtype)).all()


def test_double_exp_rows_ulp(isa):
    """softmax float64 rows against long double: exp, the row sum and the
    1/sum product together (the exp core alone: test_double_exp_core_ulp)."""
    rng = np.random.default_rng(5)
    x = np.concatenate(
        [_rows(rng, 1000, F64), rng.uniform(-745, 0, (8, 1000)), rng.uniform(-50, 50, (8, 1000))]
    )
    y = np.empty_like(x)
    C.softmax_forward(y, x, 1)
    ld = np.longdouble
    with np.errstate(invalid="ignore"):
        m = np.max(np.where(np.isnan(x), -np.inf, x), axis=1, keepdims=True)
        d = x - m  # the kernel's rounded x - m
        e = np.exp(d.astype(ld))
        p = (e / e.sum(axis=1, keepdims=True)).astype(F64)
    # (subnormal p: measured against the smallest normal's ulp; the generic
    # path rounds twice there too). The row sums (1000 terms, in double, in
    # each path's own order) carry a few ulp of their own.
    fin = np.isfinite(p)
    assert np.array_equal(np.isnan(y), np.isnan(p))
    err = np.abs(y[fin] - p[fin]) / _ulp(np.maximum(np.abs(p[fin]), 2.0**-1000), F64)
    assert err.max(initial=0) <= 16


def test_double_exp_core_ulp(isa):
    """The double exp core itself, through a one-element softmax-free path:
    log_softmax_backward with dy = 0, s = -1 gives dx = exp(y) exactly rounded
    once more (0 + (0 - e * -1) = e)."""
    rng = np.random.default_rng(9)
    y = np.concatenate(
        [
            rng.uniform(-746, 710, 200000),
            rng.uniform(-1, 1, 100000),
            [0.0, -0.0, -np.inf, np.inf, np.nan, -745.2, -745.0, 709.7, 709.8, 1e-300],
        ]
    )
    y = y.reshape(1, -1)
    dy = np.zeros_like(y)
    dy[0, 0] = -1.0  # sum(dy) = -1
    dx = np.zeros_like(y)
    C.log_softmax_backward(dx, dy, y, 1)
    dx[0, 0] += 1.0  # undo dy[0] (dx = dy + e)
    with np.errstate(over="ignore"):
        ref = np.exp(y.astype(np.longdouble))
        ref = np.where(ref > np.finfo(F64).max, np.inf, ref)
    e = np.array(dx[0, 1:], F64)
    r = ref[0, 1:].astype(F64)
    assert _err_ulps(e, r, dtype=F64) <= 1


# ---- structure: tails, aliasing, threads, linear ---------------------------------


def test_position_and_alias_invariance(isa):
    """An element's result does not depend on its offset or the length (tails)."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(70) * 4).astype(F32)
    full = np.empty_like(x)
    C.gelu_forward(full, x, False)
    for lo in range(0, 20):
        for n in (1, 5, 8, 15, 16, 17, 33):
            part = np.empty(n, F32)
            C.gelu_forward(part, x[lo : lo + n].copy(), False)
            assert np.array_equal(part, full[lo : lo + n])
    z = x.copy()
    C.gelu_forward(z, z, False)  # in place
    assert np.array_equal(z, full)


def test_thread_count_invariant():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(300001) * 5).astype(F32)
    dy = rng.standard_normal(x.size).astype(F32)
    before = C.get_num_threads()
    outs = []
    try:
        for nt in (1, 2, 3, 5):
            C.set_num_threads(nt)
            o = []
            for k in ((False,), (True,)):
                y = np.empty_like(x)
                C.gelu_forward(y, x, *k)
                d = np.zeros_like(x)
                C.gelu_backward(d, dy, x, y, *k)
                o += [y, d]
            for f in (C.exp_forward, C.sigmoid_forward):
                y = np.empty_like(x)
                f(y, x)
                o.append(y)
            d = np.zeros_like(x)
            C.softplus_backward(d, dy, x, x, 1.0, 20.0)
            o.append(d)
            outs.append(o)
    finally:
        C.set_num_threads(before)
    for o in outs[1:]:
        for a, b in zip(o, outs[0]):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("act", [2, 3], ids=["gelu", "gelu_tanh"])
def test_linear_fused_matches_unary_bitwise(isa, act):
    rng = np.random.default_rng(act)
    x = rng.standard_normal((37, 19)).astype(F32)
    w = rng.standard_normal((29, 19)).astype(F32)
    b = rng.standard_normal(29).astype(F32)
    y = np.empty((37, 29), F32)
    z = np.empty_like(y)
    C.linear_forward(y, z, x, w, b, act)
    y2 = np.empty_like(z)
    C.gelu_forward(y2, z, act == 3)
    assert np.array_equal(y, y2)
    dy = rng.standard_normal(y.shape).astype(F32)
    dx, dw, db = np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)
    scratch = np.empty_like(y)
    C.linear_backward(dx, dw, db, dy, x, w, z, y, act, scratch)
    d2 = np.zeros_like(z)
    C.gelu_backward(d2, dy, z, y, act == 3)
    assert np.array_equal(scratch, d2)


@pytest.mark.skipif(not SIMD, reason="no SIMD path on this CPU")
def test_gelu_grad_vs_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(100003) * 3).astype(F32)
    dy = rng.standard_normal(x.size).astype(F32)
    y = np.empty_like(x)
    C.gelu_forward(y, x, False)
    d = np.zeros_like(x)
    C.gelu_backward(d, dy, x, y, False)
    tx = torch.from_numpy(x)
    # torch's 1 + erf cancels for x << 0 (measured: 9e-7 off at x = -3.0, where
    # this kernel matches float64): compare with an absolute floor
    ty = torch.nn.functional.gelu(tx).numpy()
    td = torch.ops.aten.gelu_backward(torch.from_numpy(dy), tx).numpy()
    assert (np.abs(y - ty) <= 2e-6 * np.abs(ty) + 5e-7 * (1 + np.abs(x))).all()
    assert (np.abs(d - td) <= 2e-6 * np.abs(td) + 2e-7 * (1 + x * x) * (1 + np.abs(dy))).all()


# ---- tanh ------------------------------------------------------------------------


@pytest.mark.slow
def test_tanh_against_float64(isa):
    """tanh_forward (SIMD: a fitted odd polynomial for |x| < 0.625, else
    1 - 2 / (1 + e^(2|x|))) within 3 ulp of float64 tanh; libm on generic."""
    x = X
    y = np.empty_like(x)
    C.tanh_forward(y, x)
    ref = np.tanh(x.astype(F64))
    assert _err_ulps(y, ref) <= 3
    assert np.signbit(y[x == 0]).tolist() == np.signbit(x[x == 0]).tolist()  # -0 stays -0
    assert (np.abs(y[~np.isnan(y)]) <= 1).all()


def test_tanh_backward_uses_the_forward_value(isa):
    """dx += dy (1 - y^2), with y from tanh_forward on the same path."""
    x = np.linspace(-6, 6, 10001).astype(F32)
    y = np.empty_like(x)
    C.tanh_forward(y, x)
    dy = np.linspace(-2, 2, x.size).astype(F32)
    dx = np.zeros_like(x)
    C.tanh_backward(dx, dy, x, y)
    want = dy.astype(F64) * (1 - np.tanh(x.astype(F64)) ** 2)
    assert (np.abs(dx - want) <= 8 * np.finfo(F32).eps * (np.abs(dy) + 1e-30)).all()


# ---- row max (softmax / log_softmax / cross-entropy forwards) ----------------------


@pytest.mark.parametrize("dtype", [F32, F64])
def test_row_max_every_length_and_position(isa, dtype):
    """The SIMD row max. Softmax does not depend on the shift mathematically, so
    the rows are built to overflow or underflow when the max is wrong: one
    large value among zeros (a missed max overflows exp), and rows of large
    negative values (a masked-off lane read as 0 would underflow every exp).
    Every length up to 4 vectors and a tail, the max in every position."""
    big = 100.0 if dtype == F32 else 1000.0
    for n in range(1, 70):
        for j in sorted({0, n // 2, n - 1, min(n - 1, 16), min(n - 1, 63)}):
            for base in (0.0, -3 * big):
                x = np.full((1, n), base, dtype)
                x[0, j] = base + big
                d = (x - x.max()).astype(F64)
                lwant = d - np.log(np.exp(d).sum())
                want = np.exp(lwant)
                y = np.empty_like(x)
                C.softmax_forward(y, x, 1)
                np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-30, err_msg=(n, j, base))
                ly = np.empty_like(x)
                C.log_softmax_forward(ly, x, 1)
                np.testing.assert_allclose(ly, lwant, rtol=1e-5, atol=1e-4, err_msg=(n, j))
                rows, p = np.empty(1, dtype), np.empty_like(x)
                C.cross_entropy_forward(rows, p, x, np.array([j], np.int64), -100)
                np.testing.assert_allclose(rows, -lwant[0, j], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [F32, F64])
def test_row_max_nan_inf_and_signed_zero(isa, dtype):
    """NaN anywhere in a row gives a NaN row (as the scalar scan and torch); a
    row of -inf gives NaN; -inf among finite values is exp 0; +-0 maxima."""
    for n in (1, 7, 16, 17, 40):
        for j in (0, n - 1):
            x = np.zeros((1, n), dtype)
            x[0, j] = np.nan
            y = np.empty_like(x)
            C.softmax_forward(y, x, 1)
            assert np.isnan(y).all(), (n, j)
        x = np.full((1, n), -np.inf, dtype)
        y = np.empty_like(x)
        with np.errstate(invalid="ignore"):
            C.softmax_forward(y, x, 1)
        assert np.isnan(y).all()
        if n > 1:
            x = np.zeros((1, n), dtype)
            x[0, ::2] = -0.0
            x[0, 1] = -np.inf
            C.softmax_forward(y, x, 1)
            want = np.where(np.isinf(x), 0.0, 1.0 / (n - 1))
            np.testing.assert_allclose(y, want, rtol=1e-6)
