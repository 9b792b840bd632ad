"""One MLP training step per config (bench/mlp.py) under pytest-benchmark; the
first losses of every implementation are checked to agree before timing."""

# SPDX-License-Identifier: MIT
import pytest

from bench import mlp
from bench.conftest import impl_params, run_case


@pytest.mark.parametrize("cfg", mlp.CONFIGS, ids=lambda c: c.name)
def test_first_losses_agree(cfg):
    mlp.check(cfg)


@pytest.mark.parametrize("cfg", mlp.CONFIGS, ids=lambda c: c.name)
@pytest.mark.parametrize("impl", impl_params())
def test_mlp_step(benchmark, cfg, impl):
    if impl == "torch":
        pytest.importorskip("torch")
    step, enter, leave = mlp.build(cfg, impl)
    from bench.harness import Case

    run_case(benchmark, {impl: Case(step, enter, leave)}, impl)
