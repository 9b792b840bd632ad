"""Timing harness shared by every workload.

How a figure is taken (`measure`):
- Each implementation of one workload is a `Case`: a callable doing the work
  once, plus optional `enter`/`leave` hooks run around a batch of calls (to
  switch cgrad's backend, for example) and not timed.
- The number of calls per sample is calibrated once, so that one sample
  lasts about `target` seconds.
- Then `rounds` rounds run. In each, every case takes `per_round` samples;
  the order of the cases rotates by one every round, so no implementation is
  always first (cold) or always after a given other one.
- Before a case runs, when the previous case was a different library using
  more than one thread, the harness sleeps `idle` seconds and then waits
  until the process's other threads are quiet (`settle`): OpenBLAS, libgomp
  and torch keep their worker threads spinning after a call, and on a
  2-core machine those spinning threads steal the cores of whoever runs
  next. Measured here: libgomp's workers (cgrad's and torch's) stop within
  10 ms, OpenBLAS's spin at a full core for about 0.11 s, longer than a
  fixed 0.08 s sleep, which left the cell after numpy timed against it.
  Then one untimed call wakes the next library's own threads (a parked
  worker, and the idle virtual CPU under it, take milliseconds to wake).
- The figure is the median over all samples (time per call). Ratios are
  always between medians from the same `measure` call.

Threads are set explicitly, for all libraries at once, with `set_threads`:
cgrad via cg.set_num_threads, OpenBLAS via threadpoolctl, torch via
torch.set_num_threads.
"""

# SPDX-License-Identifier: MIT
import os
import platform
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field

import numpy as np

import cgrad as cg

try:
    import torch
except ImportError:  # torch is an optional peer; every workload skips it cleanly
    torch = None

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl is in the test extra
    threadpool_info = threadpool_limits = None


IMPLS = ("cgrad", "cgrad-numpy", "numpy", "torch")
LABELS = {
    "cgrad": "cgrad (C)",
    "cgrad-numpy": "cgrad NumPy backend",
    "numpy": "hand-written NumPy",
    "torch": "PyTorch",
}


@dataclass
class Case:
    fn: object  # does the work once
    enter: object = None  # called before a batch of calls (untimed)
    leave: object = None  # called after it (untimed)
    lib: str = ""  # the library whose thread pool runs: "cgrad", "numpy", "torch"


@dataclass
class Settings:
    rounds: int = 7
    per_round: int = 3
    target: float = 0.02  # seconds per sample
    idle: float = 0.08  # seconds of sleep before switching libraries (threads > 1)
    threads: int = 2
    extra: dict = field(default_factory=dict)


# ---- threads -------------------------------------------------------------------

_blas_limit = None


def set_threads(n):
    """Set cgrad's, OpenBLAS's and torch's thread counts to n; return what each reports."""
    global _blas_limit
    cg.set_num_threads(n)
    if threadpool_limits is not None:
        if _blas_limit is not None:
            _blas_limit.restore_original_limits()
        _blas_limit = threadpool_limits(limits=n, user_api="blas")
    if torch is not None:
        torch.set_num_threads(n)
    return thread_report()


def thread_report():
    rep = {"cgrad": cg.get_num_threads()}
    if threadpool_info is not None:
        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        rep["openblas"] = [p.get("num_threads") for p in blas]
    if torch is not None:
        rep["torch"] = torch.get_num_threads()
    return rep


# ---- measuring -----------------------------------------------------------------


def _batch(case, number):
    if case.enter is not None:
        case.enter()
    try:
        fn = case.fn
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        dt = time.perf_counter() - t0
    finally:
        if case.leave is not None:
            case.leave()
    return dt / number


def _calibrate(case, target):
    _batch(case, 1)  # warm-up: caches, pools, lazy init
    number = 1
    while True:
        t = _batch(case, number)
        if t * number >= target / 4 or number >= 1 << 20:
            break
        number *= 4
    return max(1, int(target / max(t, 1e-9)))


def _other_threads_runtime_ns():
    """CPU time (ns) of this process's threads other than the calling one,
    from /proc/self/task/*/schedstat; None where that is not available."""
    me = threading.get_native_id()
    total = 0
    try:
        for tid in os.listdir("/proc/self/task"):
            if int(tid) == me:
                continue
            try:
                with open(f"/proc/self/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except FileNotFoundError:  # the thread has just exited
                continue
    except OSError:  # pragma: no cover - not Linux
        return None
    return total


def settle(idle, cap=1.0, window=0.01, busy=0.05):
    """Sleep `idle` s, then until the other threads of the process used less
    than `busy` of a core over the last `window` s (at most `cap` s more)."""
    time.sleep(idle)
    prev = _other_threads_runtime_ns()
    if prev is None:  # pragma: no cover - not Linux: the fixed sleep only
        return
    t_end = time.perf_counter() + cap
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        time.sleep(window)
        cur = _other_threads_runtime_ns()
        if cur - prev < busy * (time.perf_counter() - t0) * 1e9:
            return
        prev = cur


def measure(cases, s):
    """{name: Case} -> {name: {"median": s per call, "samples": [...], "number": int}}."""
    names = list(cases)
    number = {k: _calibrate(cases[k], s.target) for k in names}
    samples = {k: [] for k in names}
    prev = None
    for r in range(s.rounds):
        k0 = r % len(names)
        for k in names[k0:] + names[:k0]:
            lib = cases[k].lib or k
            if prev is not None and prev != lib and s.threads > 1 and s.idle > 0:
                settle(s.idle)
                # untimed: wakes this library's threads (and the idle vCPU, which
                # takes ms in a VM) before timing
                _batch(cases[k], 1)
            for _ in range(s.per_round):
                samples[k].append(_batch(cases[k], number[k]))
            prev = lib
    return {
        k: {"median": statistics.median(v), "samples": v, "number": number[k]}
        for k, v in samples.items()
    }


def rss_bytes():
    """Resident set size of this process now (Linux /proc; else the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---- the machine ---------------------------------------------------------------


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover
        pass
    return platform.processor() or platform.machine()


def _git_rev():
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run(
            ["git", "-C", here, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        dirty = subprocess.run(
            ["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def machine_info():
    cfg = cg.backend.config()
    blas = []
    if threadpool_info is not None:
        blas = [
            f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')})"
            for p in threadpool_info()
            if p.get("user_api") == "blas"
        ]
    return {
        "host": platform.node(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "cgrad": cg.__version__,
        "cgrad_git": _git_rev(),
        "cgrad_simd": cfg.get("simd"),
        "cgrad_openmp": cfg.get("openmp"),
        "numpy": np.__version__,
        "blas": blas,
        "torch": torch.__version__ if torch is not None else None,
        "env": {
            k: os.environ[k]
            for k in sorted(os.environ)
            if k.startswith(("OPENBLAS", "OMP_", "MKL_", "CGRAD_", "GOMP"))
        },
        "load_average": load_average(),
    }
