"""The packed GEMM and the small-product row kernel against their naive twin
and a float64 oracle, on every ISA path this CPU has, for shapes chosen to
hit every edge of the blocking: 1, MR-1/MR/MR+1, NR-1/NR/NR+1 of each
micro-kernel (and of its 1/3- and 2/3-height variants for the last rows),
KC+1, primes, all four transpose
combinations, and accumulate=False over an output full of NaN. Each
operand is either packed or read in place depending on its size
(csrc/gemm_impl.h, cg_gemm); the shapes here reach all four combinations for
every transpose, and the thread grid is checked to give bitwise the same
result for any thread count."""

import itertools

import numpy as np
import pytest

from cgrad import _ckernels as C

KCS = {np.float32: 512, np.float64: 256}  # csrc/gemm.c CG_KC_F32 / CG_KC_F64
DIRECT_A_BYTES = 256 * 1024  # csrc/gemm.c CG_DIRECT_A_BYTES
DIRECT_B_BYTES = 1024 * 1024  # csrc/gemm.c CG_DIRECT_B_BYTES
SMALL_MACS = 32 * 32 * 32  # csrc/gemm.c CG_SMALL_MACS
SMALL_BT = 1024  # csrc/gemm.c CG_SMALL_BT
EDGES = sorted({1, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15, 16, 17, 31, 32, 33})
PRIMES = [37, 61, 97, 131]


from simd_paths import ISAS  # noqa: E402  (the `isa` fixture is in conftest.py)


def _is_small(m, k, n):
    """Whether cg_gemm takes gemm_small (csrc/gemm.c CG_GEMM_IS_SMALL)."""
    return m * n * k <= SMALL_MACS or m <= 4 or n <= 2


def _packs(m, k, n, ta, tb, dtype):
    """(pack_a, pack_b) as cg_gemm decides them for a product on the packed path."""
    esz = np.dtype(dtype).itemsize
    pack_a = m * k * esz > DIRECT_A_BYTES or (not ta and (k * esz) % 4096 == 0)
    pack_b = tb or k * n * esz > DIRECT_B_BYTES
    return pack_a, pack_b


def _path_shapes(dtype):
    """Awkward shapes that, for every transpose, pack A or not and B or not."""
    kc = KCS[dtype]
    k4k = 4096 // np.dtype(dtype).itemsize  # rows of A 4 KB apart: A packed
    return [
        (37, kc + 1, 531),
        (131, k4k, 257),
        (131, kc + 1, 531),
        (97, kc - 1, 13),
        (13, 2 * kc + 3, 97),
        (64, 64, 64),
        (1 + 12 * 3, k4k + 1, 33),
        (61, k4k, 131),
        (300, kc // 2 + 1, 33),
    ]


def _operands(rng, m, k, n, ta, tb, dtype):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


def _check(m, k, n, ta, tb, dtype, accumulate=False, seed=0):
    rng = np.random.default_rng(seed)
    a, b = _operands(rng, m, k, n, ta, tb, dtype)
    init = rng.standard_normal((1, m, n)).astype(dtype)
    fast = np.full((1, m, n), np.nan, dtype) if not accumulate else init.copy()
    naive = fast.copy()
    C.matmul(fast, a[None], b[None], ta, tb, accumulate)
    C._gemm_naive(naive, a[None], b[None], ta, tb, accumulate)
    A = (a.T if ta else a).astype(np.float64)
    B = (b.T if tb else b).astype(np.float64)
    want = A @ B + (init[0].astype(np.float64) if accumulate else 0)
    tol = 2e-4 * np.sqrt(k + 1) if dtype == np.float32 else 1e-12 * (k + 1)
    assert np.isfinite(fast).all(), "NaN leaked from the output buffer"
    np.testing.assert_allclose(fast[0], want, rtol=tol, atol=tol)
    np.testing.assert_allclose(fast[0], naive[0], rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edges_of_the_micro_tiles(isa, dtype):
    for m, n in itertools.product(EDGES, EDGES):
        if _is_small(m, 2, n) and _is_small(m, 10**6, n):
            continue  # no K sends it to the packed path
        k = max(40, SMALL_MACS // (m * n) + 1)  # the least K past the small path
        assert not _is_small(m, k, n)
        _check(m, k, n, False, False, dtype, seed=m * 100 + n + k)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta,tb", list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("accumulate", [False, True])
def test_small_products_on_the_row_kernel(isa, dtype, ta, tb, accumulate):
    """gemm_small: rows in fours and one by one, the masked last lanes of a
    row (N around the 4-, 8- and 16-lane widths), and B^T transposed on the
    stack or (past SMALL_BT elements) summed as dot products."""
    shapes = [
        (m, k, n)
        for m in (1, 3, 4, 5, 8, 9)
        for n in (1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33)
        for k in (1, 7, 40)
    ]
    shapes += [(3, 700, 5), (2, 40, 600), (30, 36, 30), (37, 5, 3)]
    for m, k, n in shapes:
        assert _is_small(m, k, n), (m, k, n)
        _check(m, k, n, ta, tb, dtype, accumulate, seed=m * 1000 + n * 10 + k)
    assert any(k * n > SMALL_BT for m, k, n in shapes)  # B^T past the stack buffer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta,tb", list(itertools.product([False, True], repeat=2)))
def test_transposes_primes_and_kc_edges(isa, dtype, ta, tb):
    kc = KCS[dtype]
    for m, k, n in [
        (37, kc + 1, 61),
        (97, kc - 1, 13),
        (131, 2 * kc + 3, 33),
        (1, kc + 1, 97),
        (61, 1, 131),
        (13, 97, 1),
    ]:
        _check(m, k, n, ta, tb, dtype, seed=m + k + n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "ta,tb",
    [
        (False, False),
        pytest.param(False, True, marks=pytest.mark.slow),
        pytest.param(True, False, marks=pytest.mark.slow),
        (True, True),
    ],
)
def test_packed_and_in_place_operands(isa, dtype, ta, tb):
    shapes = _path_shapes(dtype)
    got = {_packs(m, k, n, ta, tb, dtype) for m, k, n in shapes}
    want = (
        {(pa, True) for pa in (False, True)}
        if tb
        else set(itertools.product([False, True], repeat=2))
    )
    assert got >= want, f"shapes miss a path: {want - got}"
    for m, k, n in shapes:
        _check(m, k, n, ta, tb, dtype, seed=m + k + n)
    _check(131, KCS[dtype] + 1, 531, ta, tb, dtype, accumulate=True, seed=7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_any_thread_count_gives_bitwise_the_same_product(isa, dtype):
    """The thread grid (rows x columns of tiles) never changes how a tile is summed."""
    import cgrad as cg

    before = cg.get_num_threads()
    rng = np.random.default_rng(11)
    try:
        for m, k, n in _path_shapes(dtype)[:4] + [(300, 77, 35), (25, 90, 700)]:
            for ta, tb in itertools.product([False, True], repeat=2):
                a, b = _operands(rng, m, k, n, ta, tb, dtype)
                outs = []
                for nt in (1, 2, 3, 5):
                    cg.set_num_threads(nt)
                    out = np.full((1, m, n), np.nan, dtype)
                    C.matmul(out, a[None], b[None], ta, tb, False)
                    outs.append(out)
                for nt, out in zip((2, 3, 5), outs[1:]):
                    assert out.tobytes() == outs[0].tobytes(), (m, k, n, ta, tb, nt)
    finally:
        cg.set_num_threads(before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accumulate_adds_to_the_output(isa, dtype):
    for m, k, n in [(33, 17, 65), (145, KCS[dtype] + 1, 40), (5, 3, 2)]:
        _check(m, k, n, True, False, dtype, accumulate=True, seed=k)


def test_every_isa_agrees_on_a_large_product():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((1, 300, 520)).astype(np.float32)
    b = rng.standard_normal((1, 520, 310)).astype(np.float32)
    ref = a[0].astype(np.float64) @ b[0]
    for name in ISAS:
        assert C._set_simd(name) == name
        out = np.full((1, 300, 310), np.nan, np.float32)
        C.matmul(out, a, b, False, False, False)
        np.testing.assert_allclose(out[0], ref, rtol=1e-3, atol=1e-3, err_msg=name)
    C._set_simd(ISAS[-1])  # back to the best path


def test_strided_operands_through_the_tensor_layer():
    """Transposed and sliced views reach the kernel as transposes or copies, never wrong."""
    import cgrad as cg

    rng = np.random.default_rng(5)
    base = rng.standard_normal((70, 90))
    for view in (base.T, base[::2, ::3], base[5:66, 7:80].T):
        other = rng.standard_normal((view.shape[1], 33))
        got = (cg.tensor(view, dtype=cg.float64) @ cg.tensor(other, dtype=cg.float64)).numpy()
        np.testing.assert_allclose(got, view @ other, rtol=1e-12, atol=1e-12)
