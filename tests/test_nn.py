"""cg.nn: Module, Parameter, layers and activation modules (API.md section nn).

Every expected value is computed here from the defining formula with plain
NumPy (or taken from torch's documented semantics), never from cgrad itself.
Losses live in tests/test_functional.py, next to their functional forms.
"""

import math

import numpy as np
import pytest

import cgrad as cg

nn = cg.nn
F64 = np.float64
EXACT = dict(rtol=1e-12, atol=1e-14)
F32TOL = dict(rtol=2e-6, atol=1e-6)


# ----------------------------------------------------------------- helpers


def arr(t):
    """A float64 copy of a tensor's values (no grad)."""
    assert t is not None
    return np.array(t.detach().numpy(), dtype=F64)


def t64(a, requires_grad=False):
    return cg.tensor(np.asarray(a, dtype=F64), dtype=cg.float64, requires_grad=requires_grad)


def set_param(p, values):
    """Overwrite a parameter in place (as torch users do under no_grad)."""
    values = np.asarray(values, dtype=p.dtype)
    assert values.shape == tuple(p.shape)
    with cg.no_grad():
        p.copy_(cg.tensor(values, dtype=p.dtype))


def names(module):
    return [n for n, _ in module.named_parameters()]


class Net(nn.Module):
    """A user-defined module: a Parameter, a child Module, and a plain tensor."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(cg.ones(3))
        self.inner = nn.Linear(3, 2)
        self.plain = cg.ones(2)  # a plain tensor: NOT a parameter

    def forward(self, x):
        return self.inner(x * self.scale)


# ----------------------------------------------------------------- Parameter


def test_parameter_is_leaf_requiring_grad():
    p = nn.Parameter(cg.tensor([1.0, 2.0, 3.0]))
    assert p.requires_grad is True
    assert p.is_leaf
    assert p.grad is None
    assert p.grad_fn is None
    assert isinstance(p, cg.Tensor)
    np.testing.assert_array_equal(arr(p), [1.0, 2.0, 3.0])
    assert p.dtype == np.float32


def test_parameter_keeps_float64_and_accumulates_grad():
    p = nn.Parameter(t64([1.0, -2.0]))
    assert p.dtype == np.float64
    (p * p).sum().backward()
    np.testing.assert_allclose(arr(p.grad), [2.0, -4.0], **EXACT)


# ----------------------------------------------------------------- registration


def test_module_registers_parameters_and_submodules_in_order():
    net = Net()
    assert names(net) == ["scale", "inner.weight", "inner.bias"]
    params = list(net.parameters())
    assert len(params) == 3
    assert params[0] is net.scale
    assert params[1] is net.inner.weight
    assert params[2] is net.inner.bias
    for (_name, p), q in zip(net.named_parameters(), net.parameters()):
        assert p is q
        assert isinstance(p, nn.Parameter)
    # the plain tensor attribute is reachable but not a parameter
    assert all(p is not net.plain for p in net.parameters())


def test_calling_a_module_calls_forward():
    net = Net()
    set_param(net.inner.weight, [[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]])
    set_param(net.inner.bias, [0.5, -0.5])
    set_param(net.scale, [1.0, 2.0, -1.0])
    x = np.array([[1.0, 1.0, 2.0]], dtype=np.float32)
    y = net(cg.tensor(x))
    xs = x * np.array([1.0, 2.0, -1.0])
    expected = xs @ np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]]).T + [0.5, -0.5]
    np.testing.assert_allclose(arr(y), expected, **F32TOL)
    np.testing.assert_allclose(arr(net.forward(cg.tensor(x))), expected, **F32TOL)


def test_sequential_parameter_names():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert names(model) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(3, 4), (3,), (2, 3), (2,)]


def test_nested_parameter_names():
    model = nn.Sequential(nn.Linear(4, 3), nn.Sequential(nn.Tanh(), nn.Linear(3, 2, bias=False)))
    assert names(model) == ["0.weight", "0.bias", "1.1.weight"]

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = Net()
            self.head = nn.Sequential(nn.Linear(2, 1))

        def forward(self, x):
            return self.head(self.net(x))

    assert names(Outer()) == [
        "net.scale",
        "net.inner.weight",
        "net.inner.bias",
        "head.0.weight",
        "head.0.bias",
    ]


def test_shared_parameter_listed_once():
    lin = nn.Linear(3, 3)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    params = list(model.parameters())
    assert len(params) == 2  # torch de-duplicates shared parameters
    assert params[0] is lin.weight and params[1] is lin.bias


def test_children_and_modules():
    lin1, relu, lin2 = nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)
    inner = nn.Sequential(lin2)
    model = nn.Sequential(lin1, relu, inner)
    children = list(model.children())
    assert len(children) == 3
    assert children[0] is lin1 and children[1] is relu and children[2] is inner
    mods = list(model.modules())
    # torch: self first, then every descendant, depth first, in registration order
    assert len(mods) == 5
    for got, want in zip(mods, [model, lin1, relu, inner, lin2]):
        assert got is want
    assert list(lin1.children()) == []
    assert len(list(lin1.modules())) == 1 and next(iter(lin1.modules())) is lin1


def test_reassigning_attribute_replaces_parameter():
    net = Net()
    new = nn.Parameter(cg.zeros(3))
    net.scale = new
    params = list(net.parameters())
    assert len(params) == 3 and params[0] is new


# ----------------------------------------------------------------- zero_grad


def _grads_populated(model):
    x = cg.randn(5, 4)
    model(x).sum().backward()
    for p in model.parameters():
        assert p.grad is not None


def test_module_zero_grad_default_sets_none():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    _grads_populated(model)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_module_zero_grad_set_to_none_false_zeroes():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    _grads_populated(model)
    model.zero_grad(set_to_none=False)
    for p in model.parameters():
        assert p.grad is not None
        assert tuple(p.grad.shape) == tuple(p.shape)
        np.testing.assert_array_equal(arr(p.grad), np.zeros(p.shape))
    # and the next backward starts from zero, not from the old gradient
    lin = nn.Linear(2, 1)
    x = cg.tensor([[1.0, 2.0]])
    lin(x).sum().backward()
    lin(x).sum().backward()
    np.testing.assert_allclose(arr(lin.weight.grad), [[2.0, 4.0]], **F32TOL)
    lin.zero_grad(set_to_none=False)
    lin(x).sum().backward()
    np.testing.assert_allclose(arr(lin.weight.grad), [[1.0, 2.0]], **F32TOL)
    np.testing.assert_allclose(arr(lin.bias.grad), [1.0], **F32TOL)


def test_module_zero_grad_set_to_none_true():
    lin = nn.Linear(2, 2)
    lin(cg.ones(1, 2)).sum().backward()
    lin.zero_grad(set_to_none=True)
    assert lin.weight.grad is None and lin.bias.grad is None


# ----------------------------------------------------------------- train / eval


def test_train_eval_propagate_to_children():
    drop = nn.Dropout(0.5)
    inner = nn.Sequential(nn.Linear(2, 2), drop)
    model = nn.Sequential(nn.Linear(2, 2), inner)
    assert model.training and inner.training and drop.training
    assert model.eval() is model
    assert all(m.training is False for m in model.modules())
    assert model.train() is model
    assert all(m.training is True for m in model.modules())
    model.train(False)
    assert all(m.training is False for m in model.modules())
    model.train(True)
    inner.eval()  # only the subtree
    assert model.training is True and model[0].training is True
    assert inner.training is False and drop.training is False


def test_new_module_is_in_training_mode():
    assert nn.Linear(2, 2).training is True
    assert Net().training is True


# ----------------------------------------------------------------- state_dict


def test_state_dict_ordered_names_and_arrays():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    sd = model.state_dict()
    assert list(sd.keys()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for n, p in model.named_parameters():
        assert isinstance(sd[n], np.ndarray)
        assert sd[n].shape == tuple(p.shape)
        assert sd[n].dtype == p.dtype
        np.testing.assert_array_equal(sd[n], arr(p).astype(p.dtype))


def test_state_dict_is_a_copy():
    lin = nn.Linear(3, 2)
    sd = lin.state_dict()
    before = arr(lin.weight)
    sd["weight"][...] = 123.0  # mutating the copy ...
    np.testing.assert_array_equal(arr(lin.weight), before)  # ... leaves the model alone
    sd2 = lin.state_dict()
    set_param(lin.weight, np.zeros((2, 3)))  # mutating the model ...
    np.testing.assert_array_equal(sd2["weight"].astype(F64), before)  # ... leaves the copy alone


def test_load_state_dict_roundtrip_in_place():
    src = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    dst = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    params_before = list(dst.parameters())
    sd = src.state_dict()
    dst.load_state_dict(sd)
    # parameters keep their identity (an optimizer built earlier still sees them)
    for p, q in zip(params_before, dst.parameters()):
        assert p is q
        assert q.requires_grad and q.is_leaf
    for n, p in dst.named_parameters():
        np.testing.assert_array_equal(arr(p), sd[n].astype(F64))
    x = cg.randn(5, 4)
    np.testing.assert_array_equal(arr(src(x)), arr(dst(x)))
    # the loaded values were copied, not aliased to the dict's arrays
    sd["0.weight"][...] = 7.0
    assert not np.any(arr(dst[0].weight) == 7.0)


def test_load_state_dict_missing_key_names_it():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    sd = model.state_dict()
    del sd["2.bias"]
    with pytest.raises(Exception) as ei:
        model.load_state_dict(sd)
    assert "2.bias" in str(ei.value)


def test_load_state_dict_unexpected_key_names_it():
    model = nn.Sequential(nn.Linear(4, 3))
    sd = model.state_dict()
    sd["extra.weight"] = np.zeros((2, 2), dtype=np.float32)
    with pytest.raises(Exception) as ei:
        model.load_state_dict(sd)
    assert "extra.weight" in str(ei.value)


def test_load_state_dict_shape_mismatch_names_key():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    sd = model.state_dict()
    sd["2.weight"] = np.zeros((3, 3), dtype=np.float32)
    with pytest.raises(Exception) as ei:
        model.load_state_dict(sd)
    msg = str(ei.value)
    assert "2.weight" in msg
    assert tuple(model[2].weight.shape) == (2, 3)


def test_load_state_dict_shape_mismatch_raises_even_non_strict():
    lin = nn.Linear(4, 3)
    sd = {"weight": np.zeros((4, 3), dtype=np.float32), "bias": np.zeros(3, dtype=np.float32)}
    with pytest.raises(Exception) as ei:
        lin.load_state_dict(sd, strict=False)
    assert "weight" in str(ei.value)
    assert tuple(lin.weight.shape) == (3, 4)


def test_load_state_dict_non_strict_loads_matching_keys():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    old_last_bias = arr(model[2].bias)
    new_w = np.arange(12, dtype=np.float32).reshape(3, 4)
    sd = {"0.weight": new_w, "bogus": np.ones(5, dtype=np.float32)}
    model.load_state_dict(sd, strict=False)  # missing and unexpected keys are fine
    np.testing.assert_array_equal(arr(model[0].weight), new_w.astype(F64))
    np.testing.assert_array_equal(arr(model[2].bias), old_last_bias)


def test_load_state_dict_keeps_parameter_dtype():
    lin = nn.Linear(2, 2)  # float32
    sd = {"weight": np.array([[1.0, 2.0], [3.0, 4.0]]), "bias": np.array([0.5, -0.5])}
    lin.load_state_dict(sd)  # float64 arrays are cast, as torch copies
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32
    np.testing.assert_array_equal(arr(lin.weight), [[1.0, 2.0], [3.0, 4.0]])


# ----------------------------------------------------------------- dtype conversion


def test_double_and_float_convert_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    w32 = [arr(p) for p in model.parameters()]
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model.double() is model
    for p, w in zip(model.parameters(), w32):
        assert p.dtype == np.float64
        assert p.requires_grad and p.is_leaf
        np.testing.assert_array_equal(arr(p), w)  # float32 -> float64 is exact
    x = t64(np.random.default_rng(0).standard_normal((5, 3)))
    y = model(x)
    assert y.dtype == np.float64
    y.sum().backward()
    for p in model.parameters():
        assert p.grad is not None and p.grad.dtype == np.float64
    assert model.float() is model
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model.state_dict()["0.weight"].dtype == np.float32


def test_double_keeps_parameter_identity():
    # torch's Module._apply swaps param.data, so references held elsewhere
    # (an optimizer, a user list) keep pointing at the module's parameters.
    lin = nn.Linear(3, 2)
    before = list(lin.parameters())
    lin.double()
    after = list(lin.parameters())
    assert all(a is b for a, b in zip(before, after))
    assert all(p.dtype == np.float64 for p in before)


# ----------------------------------------------------------------- Linear


def test_linear_shapes_and_forward(backend):
    lin = nn.Linear(4, 3)
    assert tuple(lin.weight.shape) == (3, 4)
    assert tuple(lin.bias.shape) == (3,)
    assert lin.weight.dtype == np.float32
    rng = np.random.default_rng(1)
    W = rng.standard_normal((3, 4))
    b = rng.standard_normal(3)
    lin.double()
    set_param(lin.weight, W)
    set_param(lin.bias, b)
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(arr(lin(t64(x))), x @ W.T + b, **EXACT)


def test_linear_float32_forward(backend):
    lin = nn.Linear(7, 5)
    x = np.random.default_rng(2).standard_normal((6, 7)).astype(np.float32)
    y = lin(cg.tensor(x))
    assert y.dtype == np.float32
    W, b = arr(lin.weight), arr(lin.bias)
    np.testing.assert_allclose(arr(y), x.astype(F64) @ W.T + b, rtol=1e-5, atol=1e-5)


def test_linear_batched_and_1d_input(backend):
    lin = nn.Linear(4, 3).double()
    W, b = arr(lin.weight), arr(lin.bias)
    x3 = np.random.default_rng(3).standard_normal((2, 5, 4))
    y3 = lin(t64(x3))
    assert tuple(y3.shape) == (2, 5, 3)
    np.testing.assert_allclose(arr(y3), x3 @ W.T + b, **EXACT)
    x1 = np.array([1.0, -1.0, 0.5, 2.0])
    y1 = lin(t64(x1))
    assert tuple(y1.shape) == (3,)
    np.testing.assert_allclose(arr(y1), W @ x1 + b, **EXACT)


def test_linear_gradients_hand_formula(backend):
    rng = np.random.default_rng(4)
    lin = nn.Linear(4, 3).double()
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    set_param(lin.weight, W)
    set_param(lin.bias, b)
    x_np = rng.standard_normal((5, 4))
    dy = rng.standard_normal((5, 3))
    x = t64(x_np, requires_grad=True)
    lin(x).backward(t64(dy))
    np.testing.assert_allclose(arr(x.grad), dy @ W, **EXACT)
    np.testing.assert_allclose(arr(lin.weight.grad), dy.T @ x_np, **EXACT)
    np.testing.assert_allclose(arr(lin.bias.grad), dy.sum(0), **EXACT)
    # a second backward accumulates (dW += dy^T x)
    lin(x).backward(t64(dy))
    np.testing.assert_allclose(arr(lin.weight.grad), 2 * dy.T @ x_np, **EXACT)
    np.testing.assert_allclose(arr(lin.bias.grad), 2 * dy.sum(0), **EXACT)


def test_linear_gradcheck(backend):
    lin = nn.Linear(3, 2).double()
    x = t64(np.random.default_rng(5).standard_normal((4, 3)), requires_grad=True)
    assert cg.gradcheck(lambda x: lin(x), (x,))
    assert cg.gradcheck(
        lambda x, w, b: nn.functional.linear(x, w, b),
        (x, t64(arr(lin.weight), True), t64(arr(lin.bias), True)),
    )


def test_linear_without_bias(backend):
    lin = nn.Linear(4, 3, bias=False)
    assert lin.bias is None
    assert names(lin) == ["weight"]
    assert list(lin.state_dict().keys()) == ["weight"]
    lin.double()
    x = np.random.default_rng(6).standard_normal((2, 4))
    np.testing.assert_allclose(arr(lin(t64(x))), x @ arr(lin.weight).T, **EXACT)


def test_linear_default_init_bounds():
    # torch: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)), in = in_features
    fan_in, fan_out = 400, 1500
    lin = nn.Linear(fan_in, fan_out)
    bound = 1.0 / math.sqrt(fan_in)
    for t, n in ((arr(lin.weight), fan_in * fan_out), (arr(lin.bias), fan_out)):
        assert t.size == n
        assert np.all(np.abs(t) <= bound * (1 + 1e-6))
        assert np.abs(t).max() > 0.98 * bound  # fills the interval ...
        se = bound / math.sqrt(3 * n)  # std error of the mean
        assert abs(t.mean()) < 5 * se  # ... centred on 0 ...
        np.testing.assert_allclose(t.std(), bound / math.sqrt(3), rtol=0.05)  # ... uniformly
        # uniform, not normal: a quarter of the mass in each quarter of [-b, b]
        hist, _ = np.histogram(t, bins=4, range=(-bound, bound))
        np.testing.assert_allclose(hist / n, 0.25, atol=0.05)
    assert len(np.unique(arr(lin.weight))) > 0.9 * fan_in * fan_out


def test_linear_init_uses_in_features_not_out_features():
    lin = nn.Linear(10000, 4)  # bound 0.01, whereas 1/sqrt(out) = 0.5
    assert np.abs(arr(lin.weight)).max() <= 0.01 * (1 + 1e-6)
    assert np.abs(arr(lin.bias)).max() <= 0.01 * (1 + 1e-6)


def test_linear_init_reproducible_under_manual_seed():
    cg.manual_seed(7)
    a = nn.Linear(5, 3)
    cg.manual_seed(7)
    b = nn.Linear(5, 3)
    c = nn.Linear(5, 3)
    np.testing.assert_array_equal(arr(a.weight), arr(b.weight))
    np.testing.assert_array_equal(arr(a.bias), arr(b.bias))
    assert not np.array_equal(arr(b.weight), arr(c.weight))


# ----------------------------------------------------------------- Sequential


def test_sequential_indexing_len_iteration():
    mods = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4), nn.Sigmoid()]
    model = nn.Sequential(*mods)
    assert len(model) == 4
    for i, m in enumerate(mods):
        assert model[i] is m
    assert model[-1] is mods[-1]
    assert model[-4] is mods[0]
    assert [m for m in model] == mods or all(a is b for a, b in zip(model, mods))
    assert len(list(iter(model))) == 4
    head = model[:2]
    assert isinstance(head, nn.Sequential)
    assert len(head) == 2 and head[0] is mods[0] and head[1] is mods[1]
    tail = model[-2:]
    assert isinstance(tail, nn.Sequential) and len(tail) == 2 and tail[0] is mods[2]
    with pytest.raises(IndexError):
        model[4]
    with pytest.raises(IndexError):
        model[-5]


def test_sequential_forward_chains_in_order(backend):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.Sigmoid()).double()
    x = np.random.default_rng(8).standard_normal((5, 3))
    W1, b1, W2, b2 = (arr(p) for p in model.parameters())
    expected = 1 / (1 + np.exp(-(np.tanh(x @ W1.T + b1) @ W2.T + b2)))
    np.testing.assert_allclose(arr(model(t64(x))), expected, **EXACT)
    # a slice is a working model of its own, sharing the parameters
    np.testing.assert_allclose(arr(model[:2](t64(x))), np.tanh(x @ W1.T + b1), **EXACT)


def test_empty_sequential_is_identity():
    x = t64([[1.0, 2.0]])
    np.testing.assert_array_equal(arr(nn.Sequential()(x)), [[1.0, 2.0]])


# ----------------------------------------------------------------- Identity, Flatten


def test_identity(backend):
    x = t64([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    y = nn.Identity()(x)
    np.testing.assert_array_equal(arr(y), arr(x))
    (y * t64([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    np.testing.assert_array_equal(arr(x.grad), [[1.0, 2.0], [3.0, 4.0]])
    assert list(nn.Identity().parameters()) == []


def test_flatten_default_keeps_batch_dim(backend):
    x_np = np.arange(24, dtype=F64).reshape(2, 3, 4)
    x = t64(x_np, requires_grad=True)
    y = nn.Flatten()(x)  # torch default start_dim=1
    assert tuple(y.shape) == (2, 12)
    np.testing.assert_array_equal(arr(y), x_np.reshape(2, 12))
    g = np.arange(24, dtype=F64).reshape(2, 12) * 0.5
    y.backward(t64(g))
    assert tuple(x.grad.shape) == (2, 3, 4)
    np.testing.assert_array_equal(arr(x.grad), g.reshape(2, 3, 4))
    assert tuple(nn.Flatten(0)(x).shape) == (24,)
    assert tuple(nn.Flatten()(t64(np.zeros((5, 2, 3, 2)))).shape) == (5, 12)


# ----------------------------------------------------------------- Dropout


def test_dropout_eval_is_identity(backend):
    drop = nn.Dropout(0.5)
    drop.eval()
    x = cg.randn(1000)
    np.testing.assert_array_equal(arr(drop(x)), arr(x))
    model = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.9)).eval()
    xin = cg.randn(4, 10)
    np.testing.assert_array_equal(arr(model(xin)), arr(model(xin)))


def test_dropout_train_zeroes_about_p_and_scales(backend):
    p = 0.3
    n = 200_000
    x_np = np.random.default_rng(9).uniform(1.0, 2.0, n)  # no zeros in the input
    x = t64(x_np, requires_grad=True)
    drop = nn.Dropout(p)
    assert drop.training
    y = drop(x)
    y_np = arr(y)
    zero = y_np == 0.0
    # fraction dropped ~ Binomial(n, p)/n: 5 standard errors
    assert abs(zero.mean() - p) < 5 * math.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y_np[~zero], x_np[~zero] / (1 - p), rtol=1e-12)
    # gradient follows the same mask: 1/(1-p) where kept, 0 where dropped
    w = np.random.default_rng(10).standard_normal(n)
    (y * t64(w)).sum().backward()
    g = arr(x.grad)
    np.testing.assert_allclose(g[~zero], w[~zero] / (1 - p), rtol=1e-12)
    np.testing.assert_array_equal(g[zero], 0.0)


def test_dropout_float32_keeps_dtype(backend):
    y = nn.Dropout(0.5)(cg.ones(1000))
    assert y.dtype == np.float32
    vals = np.unique(arr(y))
    assert set(vals.tolist()) <= {0.0, 2.0}


def test_dropout_p_zero_and_one(backend):
    x = cg.randn(500)
    np.testing.assert_array_equal(arr(nn.Dropout(0.0)(x)), arr(x))
    np.testing.assert_array_equal(arr(nn.Dropout(1.0)(x)), np.zeros(500))


def test_dropout_masks_differ_between_calls_and_reproducible(backend):
    x = cg.ones(1000)
    drop = nn.Dropout(0.5)
    cg.manual_seed(11)
    a = arr(drop(x))
    b = arr(drop(x))
    assert not np.array_equal(a, b)
    cg.manual_seed(11)
    np.testing.assert_array_equal(arr(drop(x)), a)


# ----------------------------------------------------------------- activation modules


def _phi(x):
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _Phi(x):
    return 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def _np_softmax(z, dim):
    e = np.exp(z - z.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def _np_softplus(x, beta, threshold):
    return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


X_ACT = np.array([[-3.0, -1.5, -0.3, 0.2, 0.7, 2.5], [4.0, -0.05, 1.1, -2.2, 0.0001, -7.0]])

ACTIVATIONS = {
    "ReLU": (lambda: nn.ReLU(), lambda x: np.maximum(x, 0)),
    "LeakyReLU": (lambda: nn.LeakyReLU(), lambda x: np.where(x > 0, x, 0.01 * x)),
    "LeakyReLU(0.2)": (lambda: nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "LeakyReLU(slope=-0.5)": (
        lambda: nn.LeakyReLU(negative_slope=-0.5),
        lambda x: np.where(x > 0, x, -0.5 * x),
    ),
    "Sigmoid": (lambda: nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    "Tanh": (lambda: nn.Tanh(), np.tanh),
    "Softplus": (lambda: nn.Softplus(), lambda x: _np_softplus(x, 1.0, 20.0)),
    "Softplus(beta=2,threshold=3)": (
        lambda: nn.Softplus(beta=2, threshold=3),
        lambda x: _np_softplus(x, 2.0, 3.0),
    ),
    "GELU": (lambda: nn.GELU(), lambda x: x * _Phi(x)),
    "GELU(tanh)": (lambda: nn.GELU(approximate="tanh"), _gelu_tanh),
    "Softmax": (lambda: nn.Softmax(), lambda x: _np_softmax(x, -1)),
    "Softmax(dim=0)": (lambda: nn.Softmax(dim=0), lambda x: _np_softmax(x, 0)),
    "Softmax(dim=1)": (lambda: nn.Softmax(dim=1), lambda x: _np_softmax(x, 1)),
    "LogSoftmax": (lambda: nn.LogSoftmax(), lambda x: np.log(_np_softmax(x, -1))),
    "LogSoftmax(dim=0)": (lambda: nn.LogSoftmax(dim=0), lambda x: np.log(_np_softmax(x, 0))),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_module_values(name, backend):
    make, ref = ACTIVATIONS[name]
    mod = make()
    assert isinstance(mod, nn.Module)
    assert list(mod.parameters()) == []
    np.testing.assert_allclose(arr(mod(t64(X_ACT))), ref(X_ACT), rtol=1e-10, atol=1e-12)
    y32 = mod(cg.tensor(X_ACT.astype(np.float32)))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(arr(y32), ref(X_ACT), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_module_gradcheck(name, backend):
    make, _ = ACTIVATIONS[name]
    mod = make()
    # keep away from the kinks at 0 (relu/leaky) and at the softplus threshold
    x = t64(X_ACT + 0.013, requires_grad=True)
    assert cg.gradcheck(lambda x: mod(x), (x,))


def test_activation_derivatives_hand(backend):
    x_np = np.array([-2.0, -0.5, 0.5, 2.0])
    for mod, d in [
        (nn.ReLU(), (x_np > 0).astype(F64)),
        (nn.LeakyReLU(0.1), np.where(x_np > 0, 1.0, 0.1)),
        (nn.Sigmoid(), (1 / (1 + np.exp(-x_np))) * (1 - 1 / (1 + np.exp(-x_np)))),
        (nn.Tanh(), 1 - np.tanh(x_np) ** 2),
        (nn.Softplus(), 1 / (1 + np.exp(-x_np))),
        (
            nn.Softplus(beta=3.0, threshold=1.0),
            np.where(3 * x_np > 1, 1.0, 1 / (1 + np.exp(-3 * x_np))),
        ),
        (nn.GELU(), _Phi(x_np) + x_np * _phi(x_np)),
    ]:
        x = t64(x_np, requires_grad=True)
        mod(x).sum().backward()
        np.testing.assert_allclose(
            arr(x.grad), d, rtol=1e-10, atol=1e-12, err_msg=type(mod).__name__
        )


def test_softmax_module_rows_sum_to_one_and_stable(backend):
    z = t64([[1e4, 1e4 - 1.0, -1e4], [0.0, 0.0, 0.0]])
    p = arr(nn.Softmax(dim=1)(z))
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(
        p[0, :2], [1 / (1 + math.exp(-1)), math.exp(-1) / (1 + math.exp(-1))], rtol=1e-12
    )
    lp = arr(nn.LogSoftmax(dim=1)(z))
    assert np.all(np.isfinite(lp))
    np.testing.assert_allclose(lp[0, 2], -2e4 - math.log1p(math.exp(-1)), rtol=1e-12)


def test_activation_modules_match_torch(backend):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(12).standard_normal((4, 5)) * 3
    pairs = [
        (nn.ReLU(), torch.nn.ReLU()),
        (nn.LeakyReLU(0.3), torch.nn.LeakyReLU(0.3)),
        (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.Tanh(), torch.nn.Tanh()),
        (nn.Softplus(beta=1.5, threshold=2.0), torch.nn.Softplus(beta=1.5, threshold=2.0)),
        (nn.GELU(), torch.nn.GELU()),
        (nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
        (nn.Softmax(dim=0), torch.nn.Softmax(dim=0)),
        (nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1)),
        (nn.Flatten(), torch.nn.Flatten()),
        (nn.Identity(), torch.nn.Identity()),
    ]
    w = np.random.default_rng(13).standard_normal((4, 5))
    for ours, theirs in pairs:
        xc = t64(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        yc, yt = ours(xc), theirs(xt)
        np.testing.assert_allclose(
            arr(yc), yt.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=type(ours).__name__
        )
        (yc * t64(w)).sum().backward()
        (yt * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(
            arr(xc.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=type(ours).__name__
        )


def test_linear_matches_torch(backend):
    torch = pytest.importorskip("torch")
    lin = nn.Linear(5, 3).double()
    tl = torch.nn.Linear(5, 3).double()
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(arr(lin.weight)))
        tl.bias.copy_(torch.tensor(arr(lin.bias)))
    x = np.random.default_rng(14).standard_normal((6, 5))
    yc, yt = lin(t64(x)), tl(torch.tensor(x))
    np.testing.assert_allclose(arr(yc), yt.detach().numpy(), rtol=1e-12)
    (yc**2).sum().backward()
    (yt**2).sum().backward()
    np.testing.assert_allclose(arr(lin.weight.grad), tl.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(arr(lin.bias.grad), tl.bias.grad.numpy(), rtol=1e-12)
    assert [n for n, _ in tl.named_parameters()] == names(lin)


# ----------------------------------------------------------------- nn.init

init = nn.init


def _uniform_ok(values, lo, hi):
    """Values fill [lo, hi] uniformly: range, mean, std and quartile mass."""
    v = np.asarray(values, dtype=F64).ravel()
    n, width = v.size, hi - lo
    assert v.min() >= lo - 1e-7 * abs(width) and v.max() <= hi + 1e-7 * abs(width)
    assert v.min() < lo + 0.02 * width and v.max() > hi - 0.02 * width
    assert abs(v.mean() - (lo + hi) / 2) < 5 * width / math.sqrt(12 * n)
    np.testing.assert_allclose(v.std(), width / math.sqrt(12), rtol=0.03)
    hist, _ = np.histogram(v, bins=4, range=(lo, hi))
    np.testing.assert_allclose(hist / n, 0.25, atol=0.03)


def test_init_uniform_default_and_bounds():
    t = cg.zeros(200, 150)
    out = init.uniform_(t)  # torch default U(0, 1)
    assert out is t
    _uniform_ok(arr(t), 0.0, 1.0)
    init.uniform_(t, -3.0, 5.0)
    _uniform_ok(arr(t), -3.0, 5.0)
    init.uniform_(t, a=-0.5, b=0.25)
    _uniform_ok(arr(t), -0.5, 0.25)


def test_init_normal():
    t = cg.zeros(300, 200, dtype=cg.float64)
    assert init.normal_(t) is t
    v = arr(t)
    assert t.dtype == np.float64
    assert abs(v.mean()) < 5 / math.sqrt(v.size)
    np.testing.assert_allclose(v.std(), 1.0, rtol=0.02)
    init.normal_(t, mean=3.0, std=0.5)
    v = arr(t)
    assert abs(v.mean() - 3.0) < 5 * 0.5 / math.sqrt(v.size)
    np.testing.assert_allclose(v.std(), 0.5, rtol=0.02)
    # normal, not uniform: about 68.3% within one std
    np.testing.assert_allclose(np.mean(np.abs(v - 3.0) < 0.5), 0.6827, atol=0.01)


def test_init_zeros_ones():
    t = cg.randn(4, 5)
    assert init.zeros_(t) is t
    np.testing.assert_array_equal(arr(t), np.zeros((4, 5)))
    assert init.ones_(t) is t
    np.testing.assert_array_equal(arr(t), np.ones((4, 5)))
    assert t.dtype == np.float32


def test_init_xavier_uniform_bound():
    # torch: fan_in = size(1), fan_out = size(0) for a 2-D (out, in) weight
    fan_out, fan_in = 300, 100
    t = cg.zeros(fan_out, fan_in)
    assert init.xavier_uniform_(t) is t
    a = math.sqrt(6.0 / (fan_in + fan_out))
    _uniform_ok(arr(t), -a, a)
    init.xavier_uniform_(t, gain=2.5)
    _uniform_ok(arr(t), -2.5 * a, 2.5 * a)


def test_init_kaiming_uniform_default_bound():
    # torch defaults: a=0, mode="fan_in", nonlinearity="leaky_relu"
    # gain = sqrt(2 / (1 + a^2)) = sqrt(2); bound = gain * sqrt(3 / fan_in) = sqrt(6 / fan_in)
    fan_out, fan_in = 120, 500
    t = cg.zeros(fan_out, fan_in)
    assert init.kaiming_uniform_(t) is t
    _uniform_ok(arr(t), -math.sqrt(6.0 / fan_in), math.sqrt(6.0 / fan_in))


def test_init_kaiming_uniform_options():
    fan_out, fan_in = 120, 500
    t = cg.zeros(fan_out, fan_in)
    # a = sqrt(5) (what torch's Linear uses): gain = sqrt(1/3), bound = 1/sqrt(fan_in)
    init.kaiming_uniform_(t, a=math.sqrt(5))
    _uniform_ok(arr(t), -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))
    init.kaiming_uniform_(t, mode="fan_out")
    _uniform_ok(arr(t), -math.sqrt(6.0 / fan_out), math.sqrt(6.0 / fan_out))
    init.kaiming_uniform_(t, nonlinearity="relu")
    _uniform_ok(arr(t), -math.sqrt(6.0 / fan_in), math.sqrt(6.0 / fan_in))


def test_init_works_on_parameters_in_place():
    lin = nn.Linear(50, 40)
    w = lin.weight
    view = w.numpy()
    init.zeros_(lin.bias)
    init.xavier_uniform_(w)
    assert lin.weight is w
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    np.testing.assert_array_equal(arr(lin.bias), np.zeros(40))
    np.testing.assert_array_equal(view.astype(F64), arr(w))  # same memory, changed in place
    bound = math.sqrt(6.0 / 90)
    assert np.abs(arr(w)).max() <= bound * (1 + 1e-6)
    # still trainable afterwards
    lin(cg.ones(2, 50)).sum().backward()
    np.testing.assert_allclose(arr(w.grad), np.full((40, 50), 2.0))


def test_init_reproducible_under_manual_seed():
    def draw():
        ts = [cg.zeros(20, 30) for _ in range(4)]
        init.uniform_(ts[0], -1, 1)
        init.normal_(ts[1])
        init.xavier_uniform_(ts[2])
        init.kaiming_uniform_(ts[3])
        return [arr(t) for t in ts]

    cg.manual_seed(123)
    first = draw()
    cg.manual_seed(123)
    second = draw()
    third = draw()
    for a, b, c in zip(first, second, third):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(b, c)


def test_init_matches_torch_bounds():
    torch = pytest.importorskip("torch")
    # the bounds above are torch's: check one against torch's own draw
    t = torch.empty(120, 500, dtype=torch.float64)
    torch.nn.init.kaiming_uniform_(t)
    ours = cg.zeros(120, 500, dtype=cg.float64)
    init.kaiming_uniform_(ours)
    np.testing.assert_allclose(np.abs(arr(ours)).max(), t.abs().max().item(), rtol=0.01)
    t2 = torch.empty(300, 100, dtype=torch.float64)
    torch.nn.init.xavier_uniform_(t2)
    ours2 = cg.zeros(300, 100, dtype=cg.float64)
    init.xavier_uniform_(ours2)
    np.testing.assert_allclose(np.abs(arr(ours2)).max(), t2.abs().max().item(), rtol=0.01)


def test_parameter_from_non_leaf_is_a_leaf():
    x = cg.tensor([1.0, 2.0], requires_grad=True)
    p = nn.Parameter(x * 2)
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    np.testing.assert_array_equal(arr(p), [2.0, 4.0])
    (p * 3).sum().backward()
    np.testing.assert_array_equal(arr(p.grad), [3.0, 3.0])
    assert x.grad is None  # the Parameter is cut from x's graph
