"""GEMM (bench/gemm.py) under pytest-benchmark: float32, 2 threads, each shape."""

# SPDX-License-Identifier: MIT
import numpy as np
import pytest

from bench import gemm
from bench.conftest import impl_params, run_case


@pytest.mark.parametrize("shape", gemm.shapes(quick=False), ids=lambda s: s[0])
@pytest.mark.parametrize("impl", impl_params(("cgrad", "numpy", "torch")))
def test_gemm(benchmark, shape, impl):
    _, M, N, K, ta, tb = shape
    cases = gemm.check(M, N, K, ta, tb, np.dtype(np.float32))  # asserts the result first
    benchmark.extra_info["gflop"] = 2 * M * N * K / 1e9
    run_case(benchmark, cases, impl)


def test_peak_positive():
    assert gemm.peak(1, 0.01, tries=1)["float32"] > 0
