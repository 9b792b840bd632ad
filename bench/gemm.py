"""Workload 1: GEMM throughput in GFLOP/s (2*M*N*K flops per call).

Shapes: square n in {16, 64, 256, 1024}; the MLP shapes 64x784 @ 784x256
and 256x1024 @ 1024x1024; A^T B and A B^T (operands stored transposed,
as backward uses them). float32 and float64, 1 and 2 threads.

Implementations, each writing into a preallocated output so no allocation is
timed: cgrad's compiled kernel (`_ckernels.matmul`, the code behind `a @ b`),
numpy.matmul(out=) on the OpenBLAS NumPy ships, torch.matmul(out=). (cgrad's
NumPy backend computes matmul with numpy.matmul, so it is not repeated.)

The measured peak comes from csrc/peak.c: each thread runs register-resident
FMA chains (24 zmm or 12 ymm accumulators) for a fixed wall time on the ISA
cgrad's GEMM dispatches to; the figure is the sum of the threads' rates.
"""

# SPDX-License-Identifier: MIT
import numpy as np

from cgrad import _ckernels as C

from .harness import Case, measure, set_threads, torch

SQUARE = (16, 64, 256, 1024)


def shapes(quick=False):
    """[(label, M, N, K, trans_a, trans_b)]"""
    out = [(f"{n}^3", n, n, n, False, False) for n in SQUARE]
    out += [
        ("64x784 @ 784x256", 64, 256, 784, False, False),
        ("256x1024 @ 1024x1024", 256, 1024, 1024, False, False),
    ]
    for n in (256,) if quick else (256, 1024):
        out += [(f"A^T B {n}^3", n, n, n, True, False), (f"A B^T {n}^3", n, n, n, False, True)]
    return out


def cases(M, N, K, ta, tb, dtype, seed=0):
    """{impl: Case} computing C (M, N) = op(A) op(B) into a fixed buffer."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    out = np.empty((M, N), dtype)
    a3, b3, out3 = a.reshape((1,) + a.shape), b.reshape((1,) + b.shape), out.reshape(1, M, N)
    an = a.T if ta else a
    bn = b.T if tb else b
    res = {
        "cgrad": Case(lambda: C.matmul(out3, a3, b3, ta, tb, False), lib="cgrad"),
        "numpy": Case(lambda: np.matmul(an, bn, out=out), lib="numpy"),
    }
    if torch is not None:
        at, bt, ot = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(np.empty_like(out))
        at_ = at.t() if ta else at
        bt_ = bt.t() if tb else bt
        res["torch"] = Case(lambda: torch.matmul(at_, bt_, out=ot), lib="torch")
    return res


def check(M, N, K, ta, tb, dtype):
    """The implementations agree before anything is timed."""
    cs = cases(M, N, K, ta, tb, dtype)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    ref = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    out = np.empty((1, M, N), dtype)
    C.matmul(out, a[None], b[None], ta, tb, False)
    tol = 1e-3 if dtype == np.float32 else 1e-10
    assert np.allclose(out[0], ref, rtol=tol, atol=tol * np.sqrt(K)), "cgrad matmul disagrees"
    return cs


def peak(threads, seconds, tries=3):
    """{dtype: GFLOP/s} from the FMA loop (csrc/peak.c): the best of `tries`
    runs, since other load can only lower a peak."""
    return {
        dt: max(C.peak_gflops(dt, threads, seconds) for _ in range(tries))
        for dt in ("float32", "float64")
    }


def run(s, quick=False, log=print):
    """All GEMM figures: a list of rows, plus the measured peaks."""
    rows, peaks = [], {}
    dtypes = ("float32",) if quick else ("float32", "float64")
    thread_counts = (2,) if quick else (1, 2)
    for threads in thread_counts:
        rep = set_threads(threads)
        s.threads = threads
        peaks[threads] = peak(threads, 0.1 if quick else 0.2)
        log(
            f"  threads={threads} {rep}; measured FMA peak "
            + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks[threads].items())
        )
        for dt in dtypes:
            for label, M, N, K, ta, tb in shapes(quick):
                cs = check(M, N, K, ta, tb, np.dtype(dt))
                res = measure(cs, s)
                flops = 2.0 * M * N * K
                row = {
                    "workload": "gemm",
                    "case": label,
                    "dtype": dt,
                    "threads": threads,
                    "M": M,
                    "N": N,
                    "K": K,
                    "trans_a": ta,
                    "trans_b": tb,
                    "time": {k: v["median"] for k, v in res.items()},
                    "gflops": {k: flops / v["median"] / 1e9 for k, v in res.items()},
                    "samples": {k: v["samples"] for k, v in res.items()},
                }
                rows.append(row)
                log(
                    f"  {label:22s} {dt} t={threads}  "
                    + "  ".join(f"{k} {g:7.1f}" for k, g in row["gflops"].items())
                )
    return rows, peaks
