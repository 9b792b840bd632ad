"""Elementwise and fused kernels at 1M elements (bench/elementwise.py) under pytest-benchmark."""

# SPDX-License-Identifier: MIT
import pytest

from bench import elementwise
from bench.conftest import impl_params, run_case


def test_softmax_ce_agrees():
    elementwise.check()


@pytest.mark.parametrize("kind", elementwise.KINDS)
@pytest.mark.parametrize("impl", impl_params())
def test_elementwise(benchmark, kind, impl):
    run_case(benchmark, elementwise.cases(kind), impl)
