"""Quick GEMM probe: cgrad's _ckernels.matmul against numpy.matmul (OpenBLAS),
interleaved, at 1 and 2 threads; GFLOP/s from the median over rounds.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=src \
        python -m bench.gemm_probe [--base DIR/_ckernels*.so] [--dtype f32|f64|both]
        [--threads 1,2] [--rounds 7] [--only SUBSTRING] [--stat median|min] [--cpu-clock]

--base loads a second build of the extension (e.g. the unmodified tree built
elsewhere) and times it in the same run as "base", so before/after ratios
come from one measurement. Run with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset.
On a shared machine, --stat min (the least disturbed sample) and, for one
thread, --cpu-clock (the thread's CPU time: immune to preemption) are
steadier than the median of wall times.
"""

# SPDX-License-Identifier: MIT
import argparse
import importlib.machinery
import importlib.util
import os
import statistics
import time

import numpy as np

import cgrad as cg
from cgrad import _ckernels as C

try:
    from bench.harness import settle
except ImportError:  # run as a script from bench/
    from harness import settle

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

SHAPES = [  # label, M, N, K, ta, tb
    ("64^3", 64, 64, 64, False, False),
    ("256^3", 256, 256, 256, False, False),
    ("1024^3", 1024, 1024, 1024, False, False),
    ("A B^T 256^3", 256, 256, 256, False, True),
    ("A B^T 1024^3", 1024, 1024, 1024, False, True),
    ("A^T B 1024^3", 1024, 1024, 1024, True, False),
    ("64x784@784x256", 64, 256, 784, False, False),
    ("256x1024@1024x1024", 256, 1024, 1024, False, False),
    ("32x64@64x128", 32, 128, 64, False, False),
    ("4x16@16x16", 4, 16, 16, False, False),
]


def load_base(path):
    loader = importlib.machinery.ExtensionFileLoader("cgradbase._ckernels", path)
    spec = importlib.util.spec_from_file_location("cgradbase._ckernels", path, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


CLOCK = time.perf_counter


def timeit(fn, target=0.02):
    fn()
    n = 1
    while True:
        t0 = CLOCK()
        for _ in range(n):
            fn()
        dt = CLOCK() - t0
        if dt >= target / 4:
            return max(1, int(target / (dt / n)))
        n *= 4


def sample(fn, n):
    t0 = CLOCK()
    for _ in range(n):
        fn()
    return (CLOCK() - t0) / n


def main():
    global CLOCK
    ap = argparse.ArgumentParser()
    ap.add_argument("--base")
    ap.add_argument("--dtype", default="both")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--only", default="")
    ap.add_argument("--idle", type=float, default=0.1)
    ap.add_argument(
        "--stat",
        choices=("median", "min"),
        default="median",
        help="min is steadier on a shared machine (the least disturbed sample)",
    )
    ap.add_argument(
        "--cpu-clock",
        action="store_true",
        help="time with this thread's CPU time (1 thread only: immune to preemption)",
    )
    args = ap.parse_args()
    if args.cpu_clock:
        CLOCK = time.thread_time
        args.threads = "1"
    base = load_base(args.base) if args.base else None
    dts = {"f32": [np.float32], "f64": [np.float64], "both": [np.float32, np.float64]}[args.dtype]
    print(f"load {os.getloadavg()}; cgrad from {os.path.dirname(cg.__file__)}")
    for nt in [int(x) for x in args.threads.split(",")]:
        cg.set_num_threads(nt)
        if base is not None:
            base.set_num_threads(nt)
        lim = threadpool_limits(limits=nt, user_api="blas") if threadpool_limits else None
        for dt in dts:
            for label, M, N, K, ta, tb in SHAPES:
                if args.only and args.only not in label:
                    continue
                rng = np.random.default_rng(0)
                a = rng.standard_normal((K, M) if ta else (M, K)).astype(dt)
                b = rng.standard_normal((N, K) if tb else (K, N)).astype(dt)
                out = np.empty((1, M, N), dt)
                out2 = np.empty((M, N), dt)
                a3, b3 = a[None], b[None]
                an, bn = (a.T if ta else a), (b.T if tb else b)
                cases = {
                    "cgrad": lambda out=out, a3=a3, b3=b3, ta=ta, tb=tb: C.matmul(
                        out, a3, b3, ta, tb, False
                    ),
                    "numpy": lambda an=an, bn=bn, out2=out2: np.matmul(an, bn, out=out2),
                }
                if base is not None:
                    cases["base"] = lambda out=out, a3=a3, b3=b3, ta=ta, tb=tb: base.matmul(
                        out, a3, b3, ta, tb, False
                    )
                names = list(cases)
                num = {k: timeit(cases[k]) for k in names}
                res = {k: [] for k in names}
                for r in range(args.rounds):
                    k0 = r % len(names)
                    for k in names[k0:] + names[:k0]:
                        if nt > 1:
                            settle(args.idle)  # sleep, then until OpenBLAS stops spinning
                            cases[k]()  # untimed: wake this library's threads
                        for _ in range(3):
                            res[k].append(sample(cases[k], num[k]))
                fl = 2.0 * M * N * K
                stat = statistics.median if args.stat == "median" else min
                g = {k: fl / stat(v) / 1e9 for k, v in res.items()}
                print(
                    f"{nt}T {np.dtype(dt).name:7s} {label:20s} "
                    + "  ".join(f"{k} {g[k]:6.1f}" for k in names)
                    + f"   cgrad/numpy {g['cgrad'] / g['numpy']:.2f}"
                    + (f"  cgrad/base {g['cgrad'] / g['base']:.2f}" if base else ""),
                    flush=True,
                )
        if lim is not None:
            lim.restore_original_limits()


if __name__ == "__main__":
    main()
