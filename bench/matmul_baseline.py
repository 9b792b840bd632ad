"""First rough baseline: 512x512 float32 matmul, cgrad (C backend) vs numpy.matmul.

Usage:  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/matmul_baseline.py

Both libraries run with 2 threads (cgrad via cg.set_num_threads; OpenBLAS via
its own default on this 2-core machine). Timings are interleaved, repeated,
and the ratio compares the medians of one run. Between the two libraries the
script sleeps 0.3 s so one thread pool goes idle, and the order rotates before the other is timed.
The full benchmark suite (python -m bench) supersedes this script.
"""

import statistics
import time

import numpy as np

import cgrad as cg
from cgrad import _ckernels as C


def once(fn, reps=30):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def main(n=512, rounds=15):
    cg.set_num_threads(2)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((1, n, n), np.float32)
    a3, b3 = a.reshape(1, n, n), b.reshape(1, n, n)
    ta, tb = cg.from_numpy(a), cg.from_numpy(b)
    runs = {
        "numpy.matmul": lambda: np.matmul(a, b),
        "cgrad kernel": lambda: C.matmul(out, a3, b3, False, False, False),
        "cgrad a @ b": lambda: ta @ tb,
    }
    for fn in runs.values():
        fn()
    times = {k: [] for k in runs}
    names = list(runs)
    for r in range(rounds):
        for k in names[r % 3 :] + names[: r % 3]:  # rotate the order every round
            time.sleep(0.3)  # let the other pool go idle
            times[k].append(once(runs[k]))
    med = {k: statistics.median(v) for k, v in times.items()}
    flops = 2 * n**3
    print(f"matmul {n}x{n} float32, 2 threads, median of {rounds} rounds x 30 calls")
    print(f"cgrad config: {cg.backend.config()}")
    for k, t in med.items():
        print(f"  {k:14s} {t * 1e3:8.3f} ms  {flops / t / 1e9:7.1f} GFLOP/s")
    print(
        f"  ratio numpy time / cgrad kernel time = {med['numpy.matmul'] / med['cgrad kernel']:.2f}"
    )


if __name__ == "__main__":
    main()
