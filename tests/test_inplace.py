"""inplace=True on activations and dropout, the in-place unary methods
(relu_, tanh_, ...), and zero_grad(set_to_none=False), against torch's
semantics (and torch itself when it is installed)."""

import numpy as np
import pytest

import cgrad as cg
import cgrad.nn as nn
import cgrad.nn.functional as F

X = np.array([[-1.5, -0.2, 0.3], [0.0, 2.0, -3.0]])


@pytest.mark.parametrize(
    "name,kw", [("relu", {}), ("leaky_relu", {"negative_slope": 0.2}), ("silu", {}), ("mish", {})]
)
def test_functional_inplace_changes_the_input_and_gives_the_same_gradient(backend, name, kw):
    ref_x = cg.tensor(X, dtype=cg.float64, requires_grad=True)
    ref = getattr(F, name)(ref_x * 3, **kw)
    (ref * ref).sum().backward()

    x = cg.tensor(X, dtype=cg.float64, requires_grad=True)
    y = x * 3
    out = getattr(F, name)(y, inplace=True, **kw)
    assert out is y  # torch returns the input itself
    np.testing.assert_array_equal(y.numpy(), ref.numpy())
    assert y.grad_fn.name == name
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), ref_x.grad.numpy())


def test_inplace_on_a_leaf_that_requires_grad_raises():
    w = cg.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        F.relu(w, inplace=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.tanh_()


def test_inplace_methods_under_no_grad_write_the_data_and_bump_the_version():
    t = cg.tensor(X)
    before = t._vc[0]
    assert t.tanh_() is t
    np.testing.assert_allclose(t.numpy(), np.tanh(X), rtol=1e-12)
    assert t._vc[0] == before + 1
    w = cg.tensor(X, requires_grad=True)
    with cg.no_grad():
        w.clamp_(min=0.0)  # allowed under no_grad, as torch
    np.testing.assert_array_equal(w.numpy(), np.maximum(X, 0))  # X is float64


def test_an_inplace_change_after_use_is_caught():
    x = cg.tensor(X, dtype=cg.float64, requires_grad=True)
    y = x * 2
    z = y.log()  # log saves its input y
    y.exp_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_modules_with_inplace_behave_as_the_functional_form(backend):
    for mod in (nn.ReLU(inplace=True), nn.LeakyReLU(0.1, inplace=True), nn.SiLU(inplace=True)):
        x = cg.tensor(X, dtype=cg.float64, requires_grad=True)
        y = x * 1
        assert mod(y) is y
        assert "inplace=True" in repr(mod)


@pytest.mark.parametrize("p", [0.3, 1.0])
def test_dropout_inplace_matches_dropout(backend, p):
    cg.manual_seed(3)
    x0 = cg.tensor(X, dtype=cg.float64, requires_grad=True)
    ref = F.dropout(x0 * 1, p)
    ref.sum().backward()
    cg.manual_seed(3)
    x = cg.tensor(X, dtype=cg.float64, requires_grad=True)
    y = x * 1
    out = F.dropout(y, p, inplace=True)
    assert out is y
    np.testing.assert_array_equal(y.numpy(), ref.numpy())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), x0.grad.numpy())
    d = nn.Dropout(0.5, inplace=True)
    assert repr(d) == "Dropout(p=0.5, inplace=True)"
    z = x * 1
    assert d(z) is z
    assert d.eval()(z) is z


@pytest.mark.parametrize("owner", ["module", "optimizer"])
def test_zero_grad_without_set_to_none_zeroes_in_place_and_detaches(owner):
    model = nn.Linear(3, 2)
    opt = cg.optim.SGD(model.parameters(), lr=0.1)
    model(cg.tensor(X)).sum().backward()
    grads = [p.grad for p in model.parameters()]
    (model if owner == "module" else opt).zero_grad(set_to_none=False)
    for p, g in zip(model.parameters(), grads):
        assert p.grad is g  # the same tensor, zeroed in place
        assert not g.numpy().any()
        assert g.grad_fn is None and not g.requires_grad
    (model if owner == "module" else opt).zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_inplace_matches_torch():
    torch = pytest.importorskip("torch")
    tx = torch.tensor(X, requires_grad=True)
    ty = tx * 3
    torch.nn.functional.mish(ty, inplace=True)
    (ty * ty).sum().backward()
    x = cg.tensor(X, dtype=cg.float64, requires_grad=True)
    y = x * 3
    F.mish(y, inplace=True)
    (y * y).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
