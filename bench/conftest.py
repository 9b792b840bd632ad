"""pytest configuration for bench/: collects the bench_*.py files (pytest's
default pattern is test_*.py) and pins the thread counts.

    pytest bench --benchmark-disable     # each workload once, as a test (CI; nothing timed)
    pytest bench                          # pytest-benchmark timings

The repository's plain `pytest` does not come here: testpaths is ["tests"].
"""

# SPDX-License-Identifier: MIT
import pytest

from bench.harness import IMPLS, set_threads, torch


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="session", autouse=True)
def _threads():
    set_threads(2)
    yield


def impl_params(impls=IMPLS):
    """Parametrize over implementations; torch's marked skip when it is not importable."""
    return [
        pytest.param(k, marks=pytest.mark.skipif(torch is None, reason="torch not installed"))
        if k == "torch"
        else k
        for k in impls
    ]


def run_case(benchmark, cases, impl):
    """Benchmark one implementation's Case (enter/leave hooks wrap the timed calls)."""
    if impl not in cases:
        pytest.skip(f"{impl} has no implementation of this workload")
    case = cases[impl]
    if case.enter:
        case.enter()
    try:
        benchmark(case.fn)
    finally:
        if case.leave:
            case.leave()
