"""The float32 softmax / log_softmax / cross-entropy forwards use a SIMD expf
(csrc/vexp_x86.c) on AVX2 and AVX-512 and libm on the generic path. Each path
is checked against a float64 oracle within a few ulp, the paths against each
other, over rows with extreme logits (+-1e4, -inf entries, NaN rows, all -inf
rows), lengths around every vector width, and the CGRAD_ISA=generic child
process against the in-process SIMD path. Results must not depend on the
thread count."""

import os
import subprocess
import sys

import numpy as np
import pytest

from cgrad import _ckernels as C

ULP = 4  # exp <= 1 ulp, then 1/sum and the product: a few ulp in all
LENGTHS = [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1000]


from simd_paths import ISAS  # noqa: E402  (the `isa` fixture is in conftest.py)


def _ulps(a, b):
    """|a - b| in float32 ulps (ordered integer keys; +-0 equal); NaN must match."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(a)

    def key(v):
        i = v.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)

    return np.abs(key(a[ok]) - key(b[ok])).max(initial=0)


def _close(y, ref, scale):
    """NaN where ref is NaN, equal infinities, else |y - ref| <= ULP eps scale."""
    assert np.array_equal(np.isnan(y), np.isnan(ref))
    inf = np.isinf(ref)
    assert np.array_equal(y[inf], ref[inf].astype(np.float32))
    ok = ~np.isnan(ref) & ~inf
    assert (np.abs(y[ok] - ref[ok]) <= ULP * np.finfo(np.float32).eps * (scale[ok] + 1e-30)).all()


def _rows(rng, n):
    """Logit rows, float32, with extremes mixed in."""
    rows = [rng.standard_normal(n) * s for s in (1.0, 10.0, 60.0)]
    r = rng.standard_normal(n) * 3
    r[rng.integers(0, n)] = 1e4
    rows.append(r)
    r = rng.standard_normal(n) * 3
    r[rng.integers(0, n)] = -1e4
    rows.append(r)
    rows.append(np.linspace(-110.0, 0.0, n))  # through the subnormal range
    r = rng.standard_normal(n)
    r[rng.random(n) < 0.5] = -np.inf
    r[0] = 0.5  # at least one finite
    rows.append(r)
    r = rng.standard_normal(n)
    r[rng.integers(0, n)] = np.nan
    rows.append(r)  # NaN row -> NaN
    rows.append(np.full(n, -np.inf))  # all -inf -> NaN (as torch)
    rows.append(np.zeros(n))
    return np.array(rows, np.float32)


def _oracle(x):
    """softmax, log_softmax and logsumexp in float64, from the float32 x - max
    the kernels form (the float32 subtraction is part of the contract)."""
    with np.errstate(invalid="ignore", over="ignore"):
        # a NaN row is NaN whatever the max; otherwise the max is exact
        m = np.max(np.where(np.isnan(x), -np.inf, x), axis=1, keepdims=True)
        d = (x - m).astype(np.float64)  # rounded in float32 first
        e = np.exp(d)
        s = e.sum(axis=1, keepdims=True)
        lse = np.log(s)
        return e / s, d - lse, lse, d


def _sm(x, log=False):
    y = np.empty_like(x)
    (C.log_softmax_forward if log else C.softmax_forward)(y, x, 1)
    return y


def _ce(x, t):
    loss = np.empty(x.shape[0], x.dtype)
    p = np.empty_like(x)
    C.cross_entropy_forward(loss, p, x, t, -100)
    return loss, p


@pytest.mark.parametrize("n", LENGTHS)
def test_against_float64(isa, n):
    rng = np.random.default_rng(n)
    x = _rows(rng, n)
    sm, lsm, lse, d = _oracle(x)
    assert _ulps(_sm(x), sm) <= ULP
    # log_softmax = d - lse: the error is ~eps * max(|d|, |lse|), not eps * |y|
    y = _sm(x, log=True)
    with np.errstate(invalid="ignore"):
        _close(y, lsm, np.maximum(np.abs(d), np.abs(lse)))
    t = rng.integers(0, n, x.shape[0]).astype(np.int64)
    t[1] = -100  # an ignored row: loss 0
    loss, p = _ce(x, t)
    assert _ulps(p, sm) <= ULP
    dt = d[np.arange(len(t)), np.maximum(t, 0)]
    ref = lse[:, 0] - dt
    ref[1] = 0.0
    with np.errstate(invalid="ignore"):
        _close(loss, ref, np.maximum(np.abs(lse[:, 0]), np.abs(dt)))
    assert loss[1] == 0


def test_paths_agree():
    """SIMD expf against the generic libm path, row by row, within a few ulp."""
    rng = np.random.default_rng(7)
    x = np.concatenate([_rows(rng, 1000), rng.standard_normal((64, 1000)).astype(np.float32) * 20])
    t = rng.integers(0, 1000, x.shape[0]).astype(np.int64)
    got = {}
    for name in ISAS:
        assert C._set_simd(name) == name
        got[name] = (_sm(x), _ce(x, t)[1])
    C._set_simd(ISAS[-1])  # back to the best path
    for name in ISAS:
        for a, b in zip(got[name], got["generic"]):
            assert _ulps(a, b) <= ULP


def test_thread_count_invariant():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((256, 1000)).astype(np.float32) * 5
    t = rng.integers(0, 1000, 256).astype(np.int64)
    before = C.get_num_threads()
    out = []
    try:
        for nt in (1, 2, 3):
            C.set_num_threads(nt)
            out.append((_sm(x), _sm(x, log=True)) + _ce(x, t))
    finally:
        C.set_num_threads(before)
    for o in out[1:]:
        for a, b in zip(o, out[0]):
            assert np.array_equal(a, b)


CHILD = r"""
import sys, numpy as np
from cgrad import _ckernels as C
assert C.config()["simd"] == "generic", C.config()
x = np.load(sys.argv[1]); y = np.empty_like(x); C.softmax_forward(y, x, 1)
np.save(sys.argv[2], y)
"""


@pytest.mark.skipif(ISAS == ["generic"], reason="no SIMD path on this CPU")
def test_env_generic_child(tmp_path):
    """CGRAD_ISA=generic in a fresh process (libm expf) against this process's SIMD path."""
    rng = np.random.default_rng(11)
    x = np.concatenate([_rows(rng, 333), rng.standard_normal((32, 333)).astype(np.float32) * 30])
    np.save(tmp_path / "x.npy", x)
    env = dict(os.environ, CGRAD_ISA="generic")
    subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
        env=env,
        check=True,
        timeout=120,
    )
    assert C._set_simd("avx512") == ISAS[-1]
    assert _ulps(_sm(x), np.load(tmp_path / "y.npy")) <= ULP
