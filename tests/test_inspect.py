"""cg.check_grads and cg.grad_health: content, not just that they run."""

import math
import warnings

import numpy as np
import pytest

import cgrad as cg
import cgrad.nn as nn
from cgrad.inspect_tools import CheckGradsWarning


class WrongSquare(cg.autograd.Function):
    """y = x^2, with a deliberately wrong backward (x instead of 2x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x


class RightSquare(WrongSquare):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * g * x


class Net(nn.Module):
    def __init__(self, square):
        super().__init__()
        self.square = square
        self.l1 = nn.Linear(3, 4)
        self.l2 = nn.Linear(4, 2)

    def forward(self, x):
        return self.l2(self.square.apply(self.l1(x)).tanh())


def batch():
    return cg.randn(5, 3, dtype=cg.float64), cg.randn(5, 2, dtype=cg.float64)


def test_check_grads_flags_a_wrong_custom_function_and_names_it():
    model = Net(WrongSquare).double()
    rep = cg.check_grads(model, nn.MSELoss(), *batch())
    assert not rep.ok
    # l2 sits after the bad op (its gradients are right); l1 sits before it (wrong)
    assert rep["l2.weight"].ok and rep["l2.bias"].ok
    assert not rep["l1.weight"].ok and not rep["l1.bias"].ok
    # the wrong backward gives half the true derivative of x^2 -> relative error 1/2
    assert rep["l1.weight"].max_rel == pytest.approx(0.5, abs=1e-4)
    assert rep.culprit is not None and "WrongSquare" in rep.culprit
    bad = [name for _, name, st, _ in rep.ops if st == "mismatch"]
    assert bad == ["WrongSquare"]
    text = str(rep)
    assert "MISMATCH" in text and "WrongSquare" in text
    for col in ("parameter", "shape", "max abs err", "max rel err", "worst index", "eps"):
        assert col in text


def test_check_grads_passes_a_correct_model_and_matches_an_independent_fd():
    model = Net(RightSquare).double()
    x, y = batch()
    rep = cg.check_grads(model, nn.MSELoss(), x, y)
    assert rep.ok and rep.culprit is None
    assert {p.name for p in rep.params} == {"l1.weight", "l1.bias", "l2.weight", "l2.bias"}
    p = rep["l1.weight"]
    assert p.shape == (4, 3) and p.checked == p.total == 12 and p.eps == 1e-6
    assert p.max_abs < 1e-7
    # the reported analytic value at the worst index equals a plain-NumPy central difference
    W1, b1 = model.l1.weight.numpy(), model.l1.bias.numpy()
    W2, b2 = model.l2.weight.numpy(), model.l2.bias.numpy()
    X, Y = x.numpy(), y.numpy()

    def loss(W):
        h = np.tanh((X @ W.T + b1) ** 2)
        return np.mean((h @ W2.T + b2 - Y) ** 2)

    i, j = p.worst_index
    E = np.zeros_like(W1)
    E[i, j] = 1e-6
    fd = (loss(W1 + E) - loss(W1 - E)) / 2e-6
    assert p.analytic == pytest.approx(fd, rel=1e-6, abs=1e-9)
    assert model.l1.weight.grad is None  # the user's model is untouched


def test_check_grads_runs_in_float64_and_warns_for_float32():
    model = Net(RightSquare)  # float32
    x, y = cg.randn(5, 3), cg.randn(5, 2)
    with pytest.warns(CheckGradsWarning, match="float32"):
        rep = cg.check_grads(model, nn.MSELoss(), x, y)
    assert rep.ok and rep.dtype == "float64"
    assert model.l1.weight.dtype == np.float32  # the copy was cast, not the model
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cg.check_grads(Net(RightSquare).double(), nn.MSELoss(), *batch())


def test_check_grads_samples_large_parameters_and_handles_class_targets():
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 4)).double()
    x = cg.randn(8, 20, dtype=cg.float64)
    t = cg.tensor([0, 1, 2, 3, 0, 1, 2, 3], dtype=cg.int64)
    rep = cg.check_grads(model, nn.CrossEntropyLoss(), x, t, max_entries=16)
    assert rep.ok
    assert rep["0.weight"].checked <= 16 and rep["0.weight"].total == 600


def seed_chain(y):
    net = nn.Sequential(
        nn.Linear(1, 1, bias=False),
        nn.Sigmoid(),
        nn.Linear(1, 1, bias=False),
        nn.Sigmoid(),
        nn.Linear(1, 1, bias=False),
    ).double()
    with cg.no_grad():
        for lin, w in zip((net[0], net[2], net[4]), (0.25, -0.11, 0.78)):
            lin.weight.fill_(w)
    x = cg.tensor([[0.63]], dtype=cg.float64)
    ((y - net(x)) ** 2).sum().backward()
    return net, x


def test_grad_health_on_the_seed_chain_vanishing_then_exploding():
    net, x = seed_chain(1.0)
    rep = cg.grad_health(net, x)
    assert rep.verdict == "vanishing"
    # docs/seeds.md: |dL/dw1| = 0.00417015, |dL/dw3| = 0.60313354
    assert rep["0"].grad_norm == pytest.approx(0.00417015, abs=1e-8)
    assert rep["4"].grad_norm == pytest.approx(0.60313354, abs=1e-8)
    assert rep["4"].ratio == pytest.approx(0.60313354 / 0.78, abs=1e-8)
    net, x = seed_chain(128.0)
    rep = cg.grad_health(net, x)
    assert rep.verdict == "exploding"
    assert rep["4"].grad_norm == pytest.approx(123.837271, abs=1e-5)
    text = str(rep)
    assert "EXPLODING" in text and "> 10" in text and "thresholds" in text


def test_grad_health_vanishing_on_a_20_layer_sigmoid_chain_healthy_on_relu_mlp():
    cg.manual_seed(0)
    deep = nn.Sequential(*[m for _ in range(20) for m in (nn.Linear(16, 16), nn.Sigmoid())])
    x = cg.randn(32, 16)
    nn.MSELoss()(deep(x), cg.randn(32, 16)).backward()
    rep = cg.grad_health(deep, x)
    assert rep.verdict == "vanishing"
    norms = [
        np.sqrt(
            sum(
                float((p.grad.numpy().astype(np.float64) ** 2).sum())
                for p in (deep[i].weight, deep[i].bias)
            )
        )
        for i in range(0, 40, 2)
    ]
    assert [layer.grad_norm for layer in rep.layers] == pytest.approx(norms, rel=1e-6)
    assert min(norms) < 1e-2 * max(norms)

    mlp = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    x = cg.randn(64, 64)
    nn.CrossEntropyLoss()(mlp(x), cg.randint(0, 10, size=(64,))).backward()
    rep = cg.grad_health(mlp, x)
    assert rep.verdict == "healthy", str(rep)
    assert rep["0"].activation == "relu" and rep["0"].dead is not None


def test_grad_health_counts_dead_and_saturated_units():
    cg.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    with cg.no_grad():
        mlp[0].bias.data[:3] = -100.0  # units 0..2 never fire
    x = cg.randn(16, 4)
    mlp(x).sum().backward()
    rep = cg.grad_health(mlp, x)
    z = x.numpy() @ mlp[0].weight.numpy().T + mlp[0].bias.numpy()
    assert rep["0"].dead == pytest.approx(np.mean(np.all(z <= 0, axis=0)))
    assert rep["0"].dead >= 0.5
    assert rep["0"].zero_grad_units >= 3 and rep["0"].units == 6
    sat = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 1))
    with cg.no_grad():
        sat[0].weight.mul_(200.0)
    sat(x).sum().backward()
    rs = cg.grad_health(sat, x)
    z = x.numpy().astype(np.float64) @ sat[0].weight.numpy().T + sat[0].bias.numpy()
    y = 0.5 * (1 + np.tanh(z / 2))  # the logistic sigmoid, overflow-free
    expected = np.mean((y < 0.01) | (y > 0.99))
    assert rs["0"].saturated == pytest.approx(expected)
    assert expected > 0.8


def test_grad_health_needs_a_backward_first_and_flags_nan():
    m = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="backward"):
        cg.grad_health(m)
    m(cg.randn(3, 2)).sum().backward()
    m.weight.grad.numpy()[0, 0] = math.nan
    assert cg.grad_health(m).verdict == "exploding"
