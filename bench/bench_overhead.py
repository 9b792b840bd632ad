"""Per-op overhead on 8x8 float32 (bench/overhead.py) under pytest-benchmark."""

# SPDX-License-Identifier: MIT
import pytest

from bench import overhead
from bench.conftest import impl_params, run_case


def test_chain_gradients_agree():
    overhead.check()


@pytest.mark.parametrize("kind", overhead.KINDS)
@pytest.mark.parametrize("impl", impl_params())
def test_overhead(benchmark, kind, impl):
    run_case(benchmark, overhead.cases(kind), impl)
