"""cgrad's benchmark suite: the same work on cgrad (C backend), cgrad's NumPy
backend, hand-written NumPy and PyTorch (when importable), as ratios of
medians taken in one run.

    python -m bench            # full run: table, bench/results/<date>-<host>.json, latest.png
    python -m bench --quick    # under a minute, for development
    pytest bench --benchmark-disable   # every workload once, as a test (CI)

Modules: harness.py (timing, threads, machine info), gemm.py, overhead.py,
elementwise.py, mlp.py (the four training-step implementations), memory.py,
report.py (table, JSON, plot), __main__.py (the runner). The bench_*.py files
are the pytest-benchmark versions of the same workloads.
"""
# SPDX-License-Identifier: MIT
