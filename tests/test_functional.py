"""cg.nn.functional and the loss modules (API.md section nn).

Each loss is checked, for every reduction and on both backends, against
  * a formula written out here in NumPy (values and hand-derived gradients),
  * central finite differences (cg.gradcheck, float64),
  * torch.nn.functional in float64, when torch is importable.
The module form (e.g. nn.MSELoss(reduction=...)) and the functional form
(F.mse_loss(..., reduction=...)) must both agree with the references.
"""

import math

import numpy as np
import pytest

import cgrad as cg

nn = cg.nn
F = cg.nn.functional
F64 = np.float64
REDUCTIONS = ("mean", "sum", "none")
TOL = dict(rtol=1e-10, atol=1e-12)


def arr(t):
    assert t is not None
    return np.array(t.detach().numpy(), dtype=F64)


def t64(a, requires_grad=False):
    return cg.tensor(np.asarray(a, dtype=F64), dtype=cg.float64, requires_grad=requires_grad)


def tint(a):
    return cg.tensor(np.asarray(a, dtype=np.int64), dtype=cg.int64)


def np_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_log_softmax(z):
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ============================================================ loss references
#
# Each case: make(rng) -> (input ndarray, target ndarray), whether the target is
# integer class indices, the per-item loss ("none"), and the hand-derived
# derivative of each per-item loss w.r.t. the input, weighted by upstream w.


def _mse_make(rng):
    return rng.standard_normal((4, 3)), rng.standard_normal((4, 3))


def _l1_make(rng):
    x = rng.standard_normal((4, 3))
    return x, x + rng.choice([-1.0, 1.0], size=(4, 3)) * rng.uniform(0.1, 1.0, (4, 3))


def _bce_make(rng):
    return rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0.0, 1.0, (4, 3))


def _bcel_make(rng):
    return rng.standard_normal((4, 3)) * 2, rng.uniform(0.0, 1.0, (4, 3))


def _ce_make(rng):
    return rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2], dtype=np.int64)


def _ce_prob_make(rng):
    p = rng.uniform(0.0, 1.0, (5, 4))
    return rng.standard_normal((5, 4)), p / p.sum(1, keepdims=True)


def _nll_make(rng):
    return np_log_softmax(rng.standard_normal((5, 4))), np.array([2, 0, 3, 3, 1], dtype=np.int64)


def _ce_none(x, t):
    return -np_log_softmax(x)[np.arange(len(t)), t]


def _ce_grad(x, t, w):
    g = np_softmax(x)
    g[np.arange(len(t)), t] -= 1.0
    return g * w[:, None]


def _nll_grad(x, t, w):
    g = np.zeros_like(x)
    g[np.arange(len(t)), t] = -1.0
    return g * w[:, None]


LOSSES = {
    "mse": dict(
        make=_mse_make,
        cls=False,
        module=lambda r: nn.MSELoss(reduction=r),
        fn=lambda x, y, r: F.mse_loss(x, y, reduction=r),
        none=lambda x, y: (x - y) ** 2,
        grad=lambda x, y, w: 2 * (x - y) * w,
        torch="mse_loss",
    ),
    "l1": dict(
        make=_l1_make,
        cls=False,
        module=lambda r: nn.L1Loss(reduction=r),
        fn=lambda x, y, r: F.l1_loss(x, y, reduction=r),
        none=lambda x, y: np.abs(x - y),
        grad=lambda x, y, w: np.sign(x - y) * w,
        torch="l1_loss",
    ),
    "bce": dict(
        make=_bce_make,
        cls=False,
        module=lambda r: nn.BCELoss(reduction=r),
        fn=lambda x, y, r: F.binary_cross_entropy(x, y, reduction=r),
        none=lambda x, y: -(y * np.log(x) + (1 - y) * np.log(1 - x)),
        grad=lambda x, y, w: (x - y) / (x * (1 - x)) * w,
        torch="binary_cross_entropy",
    ),
    "bce_logits": dict(
        make=_bcel_make,
        cls=False,
        module=lambda r: nn.BCEWithLogitsLoss(reduction=r),
        fn=lambda x, y, r: F.binary_cross_entropy_with_logits(x, y, reduction=r),
        none=lambda x, y: np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))),
        grad=lambda x, y, w: (np_sigmoid(x) - y) * w,
        torch="binary_cross_entropy_with_logits",
    ),
    "cross_entropy": dict(
        make=_ce_make,
        cls=True,
        module=lambda r: nn.CrossEntropyLoss(reduction=r),
        fn=lambda x, y, r: F.cross_entropy(x, y, reduction=r),
        none=_ce_none,
        grad=_ce_grad,
        torch="cross_entropy",
    ),
    "cross_entropy_probs": dict(
        make=_ce_prob_make,
        cls=False,
        module=lambda r: nn.CrossEntropyLoss(reduction=r),
        fn=lambda x, y, r: F.cross_entropy(x, y, reduction=r),
        none=lambda x, p: -(p * np_log_softmax(x)).sum(1),
        grad=lambda x, p, w: (np_softmax(x) * p.sum(1, keepdims=True) - p) * w[:, None],
        torch="cross_entropy",
    ),
    "nll": dict(
        make=_nll_make,
        cls=True,
        module=lambda r: nn.NLLLoss(reduction=r),
        fn=lambda x, y, r: F.nll_loss(x, y, reduction=r),
        none=lambda x, t: -x[np.arange(len(t)), t],
        grad=_nll_grad,
        torch="nll_loss",
    ),
}


def _data(name, seed=0):
    case = LOSSES[name]
    x, y = case["make"](np.random.default_rng(seed))
    return case, x, y


def _target(case, y, dtype=cg.float64):
    return tint(y) if case["cls"] else cg.tensor(np.asarray(y, dtype=dtype), dtype=dtype)


def _reduce(v, reduction):
    return {"none": v, "sum": v.sum(), "mean": v.mean()}[reduction]


def _upstream(none_shape, reduction, rng):
    """Upstream gradient on the loss output, and the weights it puts on each item."""
    if reduction == "none":
        w = rng.standard_normal(none_shape)
        return w, w
    n = int(np.prod(none_shape))
    return None, np.full(none_shape, 1.0 if reduction == "sum" else 1.0 / n)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("form", ["module", "functional"])
def test_loss_value_and_hand_gradient(name, reduction, form, backend):
    case, x_np, y_np = _data(name)
    expected_none = case["none"](x_np, y_np)
    x = t64(x_np, requires_grad=True)
    y = _target(case, y_np)
    if form == "module":
        mod = case["module"](reduction)
        assert isinstance(mod, nn.Module)
        out = mod(x, y)
    else:
        out = case["fn"](x, y, reduction)
    assert out.dtype == np.float64
    expected = _reduce(expected_none, reduction)
    assert tuple(out.shape) == np.shape(expected)
    np.testing.assert_allclose(arr(out), expected, **TOL)

    gout, w = _upstream(expected_none.shape, reduction, np.random.default_rng(1))
    if gout is None:
        out.backward()
    else:
        out.backward(t64(gout))
    np.testing.assert_allclose(arr(x.grad), case["grad"](x_np, y_np, w), **TOL)


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_default_reduction_is_mean(name, backend):
    case, x_np, y_np = _data(name, seed=2)
    out = case["module"]("mean")(t64(x_np), _target(case, y_np))
    mod = {
        "mse": nn.MSELoss,
        "l1": nn.L1Loss,
        "bce": nn.BCELoss,
        "bce_logits": nn.BCEWithLogitsLoss,
        "cross_entropy": nn.CrossEntropyLoss,
        "cross_entropy_probs": nn.CrossEntropyLoss,
        "nll": nn.NLLLoss,
    }[name]()
    fn = {
        "mse": F.mse_loss,
        "l1": F.l1_loss,
        "bce": F.binary_cross_entropy,
        "bce_logits": F.binary_cross_entropy_with_logits,
        "cross_entropy": F.cross_entropy,
        "cross_entropy_probs": F.cross_entropy,
        "nll": F.nll_loss,
    }[name]
    expected = case["none"](x_np, y_np).mean()
    np.testing.assert_allclose(arr(mod(t64(x_np), _target(case, y_np))), expected, **TOL)
    np.testing.assert_allclose(arr(fn(t64(x_np), _target(case, y_np))), expected, **TOL)
    np.testing.assert_allclose(arr(out), expected, **TOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_gradcheck(name, reduction, backend):
    case, x_np, y_np = _data(name, seed=3)
    x = t64(x_np, requires_grad=True)
    y = _target(case, y_np)
    mod = case["module"](reduction)
    assert cg.gradcheck(lambda x: mod(x, y), (x,))
    assert cg.gradcheck(lambda x: case["fn"](x, y, reduction), (x,))


@pytest.mark.parametrize("name", ["mse", "l1"])
def test_regression_loss_gradient_wrt_target(name, backend):
    # torch differentiates MSE and L1 w.r.t. the target too (d/dy = -d/dx)
    case, x_np, y_np = _data(name, seed=4)
    x = t64(x_np, requires_grad=True)
    y = t64(y_np, requires_grad=True)
    case["fn"](x, y, "sum").backward()
    np.testing.assert_allclose(arr(y.grad), -arr(x.grad), **TOL)
    assert cg.gradcheck(lambda x, y: case["fn"](x, y, "mean"), (x, y))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_float32(name, reduction, backend):
    case, x_np, y_np = _data(name, seed=5)
    x = cg.tensor(x_np.astype(np.float32), requires_grad=True)
    y = _target(case, y_np, dtype=cg.float32)
    out = case["module"](reduction)(x, y)
    assert out.dtype == np.float32
    x32, y32 = (
        x_np.astype(np.float32).astype(F64),
        y_np if case["cls"] else y_np.astype(np.float32).astype(F64),
    )
    np.testing.assert_allclose(
        arr(out), _reduce(case["none"](x32, y32), reduction), rtol=2e-5, atol=1e-6
    )
    (out.sum() if reduction == "none" else out).backward()
    assert x.grad.dtype == np.float32
    w = np.full(
        case["none"](x32, y32).shape,
        1.0 / case["none"](x32, y32).size if reduction == "mean" else 1.0,
    )
    np.testing.assert_allclose(arr(x.grad), case["grad"](x32, y32, w), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_matches_torch(name, reduction, backend):
    torch = pytest.importorskip("torch")
    case, x_np, y_np = _data(name, seed=6)
    x = t64(x_np, requires_grad=True)
    out = case["fn"](x, _target(case, y_np), reduction)
    xt = torch.tensor(x_np, requires_grad=True)
    yt = torch.tensor(y_np)
    ref = getattr(torch.nn.functional, case["torch"])(xt, yt, reduction=reduction)
    np.testing.assert_allclose(arr(out), ref.detach().numpy(), **TOL)
    g = np.random.default_rng(7).standard_normal(tuple(ref.shape))
    if reduction == "none":
        out.backward(t64(g))
        ref.backward(torch.tensor(g))
    else:
        out.backward()
        ref.backward()
    np.testing.assert_allclose(arr(x.grad), xt.grad.numpy(), **TOL)


# ============================================================ loss edge cases


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_log_clamped_at_minus_100(reduction, backend):
    # torch clamps each log term at -100, so x = 0 or 1 gives 100, not inf/nan
    x_np = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y_np = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    expected_none = np.array([100.0, 100.0, 0.0, 0.0, math.log(2.0)])
    out = F.binary_cross_entropy(t64(x_np), t64(y_np), reduction=reduction)
    np.testing.assert_allclose(arr(out), _reduce(expected_none, reduction), **TOL)
    out = nn.BCELoss(reduction=reduction)(t64(x_np), t64(y_np))
    np.testing.assert_allclose(arr(out), _reduce(expected_none, reduction), **TOL)


def test_bce_tiny_probability_clamped(backend):
    # log(1e-50) = -115 is clamped to -100
    out = F.binary_cross_entropy(t64([1e-50]), t64([1.0]), reduction="sum")
    np.testing.assert_allclose(arr(out), 100.0, **TOL)
    out = F.binary_cross_entropy(t64([1e-30]), t64([1.0]), reduction="sum")
    np.testing.assert_allclose(arr(out), -math.log(1e-30), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_stable_for_large_logits(reduction, backend):
    x_np = np.array([100.0, -100.0, 100.0, -100.0, 800.0, -800.0, 0.0])
    y_np = np.array([0.0, 1.0, 1.0, 0.0, 0.25, 0.75, 1.0])
    # max(x,0) - x y + log(1 + exp(-|x|)), expanded by hand for each entry
    e100 = math.log1p(math.exp(-100.0))
    expected_none = np.array([100.0 + e100, 100.0 + e100, e100, e100, 600.0, 600.0, math.log(2.0)])
    x = t64(x_np, requires_grad=True)
    out = nn.BCEWithLogitsLoss(reduction=reduction)(x, t64(y_np))
    assert np.all(np.isfinite(arr(out)))
    # torch itself returns 0 (not 3.7e-44) for x = 100, y = 1, so allow absolute 1e-15
    np.testing.assert_allclose(arr(out), _reduce(expected_none, reduction), rtol=1e-12, atol=1e-15)
    (out.sum() if reduction == "none" else out).backward()
    g = arr(x.grad)
    assert np.all(np.isfinite(g))
    w = 1.0 / 7 if reduction == "mean" else 1.0
    sig = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.5])  # sigmoid, exact to double precision
    np.testing.assert_allclose(g, (sig - y_np) * w, rtol=1e-12, atol=1e-40)


def test_bce_with_logits_float32_stable(backend):
    x = cg.tensor(np.array([100.0, -100.0, 50.0], dtype=np.float32), requires_grad=True)
    out = F.binary_cross_entropy_with_logits(
        x, cg.tensor(np.array([0.0, 1.0, 1.0], dtype=np.float32)), reduction="sum"
    )
    np.testing.assert_allclose(arr(out), 200.0, rtol=1e-6)
    out.backward()
    np.testing.assert_allclose(arr(x.grad), [1.0, -1.0, 0.0], atol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_stable_for_huge_logits(reduction, backend):
    x_np = np.array([[1e4, 1e4 - 2.0, -1e4], [-1e4, 1e4, 1e4]])
    t = np.array([1, 0])
    # rows: logsumexp = 1e4 + log(1 + e^-2); 1e4 + log 2
    lse = np.array([1e4 + math.log1p(math.exp(-2.0)), 1e4 + math.log(2.0)])
    expected_none = lse - x_np[np.arange(2), t]
    x = t64(x_np, requires_grad=True)
    out = F.cross_entropy(x, tint(t), reduction=reduction)
    assert np.all(np.isfinite(arr(out)))
    np.testing.assert_allclose(arr(out), _reduce(expected_none, reduction), rtol=1e-12)
    (out.sum() if reduction == "none" else out).backward()
    p0 = 1 / (1 + math.exp(-2.0))
    sm = np.array([[p0, 1 - p0, 0.0], [0.0, 0.5, 0.5]])
    onehot = np.eye(3)[t]
    w = 0.5 if reduction == "mean" else 1.0
    np.testing.assert_allclose(arr(x.grad), (sm - onehot) * w, rtol=1e-12, atol=1e-300)


def test_cross_entropy_float32_huge_logits(backend):
    x = cg.tensor(np.array([[1e4, 0.0, -1e4]], dtype=np.float32), requires_grad=True)
    out = nn.CrossEntropyLoss()(x, tint([1]))
    np.testing.assert_allclose(arr(out), 1e4, rtol=1e-6)
    out.backward()
    np.testing.assert_allclose(arr(x.grad), [[1.0, -1.0, 0.0]], atol=1e-6)


@pytest.mark.parametrize("bad", [4, 5, -1, 100])
@pytest.mark.parametrize("form", ["module", "functional"])
def test_cross_entropy_out_of_range_class_raises(bad, form, backend):
    x = t64(np.zeros((3, 4)), requires_grad=True)
    t = tint([0, bad, 1])
    fn = nn.CrossEntropyLoss() if form == "module" else F.cross_entropy
    with pytest.raises((IndexError, ValueError)):
        fn(x, t)  # raises in the forward call, before computing
    assert x.grad is None
    # and the library is still usable afterwards
    ok = fn(x, tint([0, 3, 1]))
    np.testing.assert_allclose(arr(ok), math.log(4.0), **TOL)


@pytest.mark.parametrize("bad", [4, -1])
def test_nll_out_of_range_class_raises(bad, backend):
    x = t64(np.zeros((2, 4)), requires_grad=True)
    with pytest.raises((IndexError, ValueError)):
        F.nll_loss(x, tint([bad, 0]))
    with pytest.raises((IndexError, ValueError)):
        nn.NLLLoss(reduction="sum")(x, tint([0, bad]))


def test_cross_entropy_is_log_softmax_then_nll(backend):
    rng = np.random.default_rng(8)
    x_np, t = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    a = F.cross_entropy(t64(x_np), tint(t))
    b = F.nll_loss(F.log_softmax(t64(x_np), dim=1), tint(t))
    np.testing.assert_allclose(arr(a), arr(b), **TOL)


def test_cross_entropy_onehot_probs_equal_class_targets(backend):
    rng = np.random.default_rng(9)
    x_np, t = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    for r in REDUCTIONS:
        a = nn.CrossEntropyLoss(reduction=r)(t64(x_np), tint(t))
        b = nn.CrossEntropyLoss(reduction=r)(t64(x_np), t64(np.eye(5)[t]))
        np.testing.assert_allclose(arr(a), arr(b), **TOL)


def test_losses_same_on_both_backends():
    rng = np.random.default_rng(10)
    for name, case in LOSSES.items():
        x_np, y_np = case["make"](rng)
        results = []
        for b in ("c", "numpy"):
            with cg.use_backend(b):
                x = t64(x_np, requires_grad=True)
                out = case["fn"](x, _target(case, y_np), "mean")
                out.backward()
                results.append((arr(out), arr(x.grad)))
        np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(
            results[0][1], results[1][1], rtol=1e-12, atol=1e-15, err_msg=name
        )


# ============================================================ F.linear, F.dropout


def test_functional_linear(backend):
    rng = np.random.default_rng(11)
    x_np, W, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    np.testing.assert_allclose(arr(F.linear(t64(x_np), t64(W), t64(b))), x_np @ W.T + b, **TOL)
    np.testing.assert_allclose(arr(F.linear(t64(x_np), t64(W))), x_np @ W.T, **TOL)
    np.testing.assert_allclose(arr(F.linear(t64(x_np), t64(W), bias=None)), x_np @ W.T, **TOL)
    x, w, bb = t64(x_np, True), t64(W, True), t64(b, True)
    dy = rng.standard_normal((5, 3))
    F.linear(x, w, bb).backward(t64(dy))
    np.testing.assert_allclose(arr(x.grad), dy @ W, **TOL)
    np.testing.assert_allclose(arr(w.grad), dy.T @ x_np, **TOL)
    np.testing.assert_allclose(arr(bb.grad), dy.sum(0), **TOL)
    assert cg.gradcheck(lambda x, w: F.linear(x, w), (t64(x_np, True), t64(W, True)))
    assert cg.gradcheck(
        lambda x, w, b: F.linear(x, w, b), (t64(x_np, True), t64(W, True), t64(b, True))
    )


def test_functional_linear_shape_mismatch_raises(backend):
    with pytest.raises(ValueError):
        F.linear(t64(np.ones((2, 4))), t64(np.ones((3, 5))))


def test_functional_linear_matches_torch(backend):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    x_np, W, b = rng.standard_normal((2, 5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    ref = torch.nn.functional.linear(torch.tensor(x_np), torch.tensor(W), torch.tensor(b)).numpy()
    np.testing.assert_allclose(arr(F.linear(t64(x_np), t64(W), t64(b))), ref, **TOL)


def test_functional_dropout(backend):
    x_np = np.random.default_rng(13).uniform(1.0, 2.0, 100_000)
    x = t64(x_np)
    np.testing.assert_array_equal(arr(F.dropout(x, 0.4, training=False)), x_np)
    np.testing.assert_array_equal(arr(F.dropout(x, p=0.4, training=False)), x_np)
    y = arr(F.dropout(x, 0.4, training=True))
    zero = y == 0
    assert abs(zero.mean() - 0.4) < 5 * math.sqrt(0.24 / x_np.size)
    np.testing.assert_allclose(y[~zero], x_np[~zero] / 0.6, rtol=1e-12)
    # torch's F.dropout defaults to training=True and p=0.5
    y = arr(F.dropout(x))
    assert abs((y == 0).mean() - 0.5) < 5 * math.sqrt(0.25 / x_np.size)
    np.testing.assert_allclose(y[y != 0], x_np[y != 0] * 2.0, rtol=1e-12)


def test_functional_dropout_gradient_matches_mask(backend):
    x = t64(np.ones(10_000), requires_grad=True)
    y = F.dropout(x, 0.25, training=True)
    y.sum().backward()
    kept = arr(y) != 0
    np.testing.assert_allclose(arr(x.grad)[kept], 1 / 0.75, rtol=1e-12)
    np.testing.assert_array_equal(arr(x.grad)[~kept], 0.0)


# ============================================================ functional activations


def _Phi(x):
    return 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


X = np.array([[-3.0, -1.5, -0.3, 0.2, 0.7, 2.5], [4.0, -0.05, 1.1, -2.2, 0.0001, -7.0]])

FUNCS = {
    "relu": (lambda x: F.relu(x), lambda x: np.maximum(x, 0)),
    "leaky_relu": (lambda x: F.leaky_relu(x), lambda x: np.where(x > 0, x, 0.01 * x)),
    "leaky_relu(0.2)": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "leaky_relu(negative_slope=0.3)": (
        lambda x: F.leaky_relu(x, negative_slope=0.3),
        lambda x: np.where(x > 0, x, 0.3 * x),
    ),
    "sigmoid": (lambda x: F.sigmoid(x), np_sigmoid),
    "tanh": (lambda x: F.tanh(x), np.tanh),
    "softplus": (lambda x: F.softplus(x), lambda x: np.where(x > 20, x, np.log1p(np.exp(x)))),
    "softplus(beta=2,threshold=4)": (
        lambda x: F.softplus(x, beta=2.0, threshold=4.0),
        lambda x: np.where(2 * x > 4, x, np.log1p(np.exp(2 * x)) / 2),
    ),
    "gelu": (lambda x: F.gelu(x), lambda x: x * _Phi(x)),
    "gelu(tanh)": (
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    ),
    "softmax(dim=1)": (lambda x: F.softmax(x, dim=1), np_softmax),
    "softmax(dim=0)": (lambda x: F.softmax(x, dim=0), lambda x: np_softmax(x.T).T),
    "softmax(-1)": (lambda x: F.softmax(x, -1), np_softmax),
    "log_softmax(dim=1)": (lambda x: F.log_softmax(x, dim=1), np_log_softmax),
    "log_softmax(dim=0)": (lambda x: F.log_softmax(x, dim=0), lambda x: np_log_softmax(x.T).T),
}


@pytest.mark.parametrize("name", list(FUNCS))
def test_functional_activation(name, backend):
    fn, ref = FUNCS[name]
    np.testing.assert_allclose(arr(fn(t64(X))), ref(X), **TOL)
    x = t64(X + 0.013, requires_grad=True)
    assert cg.gradcheck(fn, (x,))


def test_functional_activations_match_modules(backend):
    x = t64(np.random.default_rng(14).standard_normal((3, 4)))
    pairs = [
        (F.relu(x), nn.ReLU()(x)),
        (F.sigmoid(x), nn.Sigmoid()(x)),
        (F.tanh(x), nn.Tanh()(x)),
        (F.leaky_relu(x, 0.2), nn.LeakyReLU(0.2)(x)),
        (F.softplus(x, beta=2.0, threshold=1.0), nn.Softplus(beta=2.0, threshold=1.0)(x)),
        (F.gelu(x, approximate="tanh"), nn.GELU(approximate="tanh")(x)),
        (F.softmax(x, dim=0), nn.Softmax(dim=0)(x)),
        (F.log_softmax(x, dim=1), nn.LogSoftmax(dim=1)(x)),
    ]
    for a, b in pairs:
        np.testing.assert_array_equal(arr(a), arr(b))


# ============================================================ large, odd and strided inputs
# Kernels have SIMD bodies, scalar tails and per-thread chunks: odd sizes that
# are not multiples of any vector width, and transposed (non-contiguous) views.


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_losses_large_odd_shapes(dtype, backend):
    rng = np.random.default_rng(15)
    dt = getattr(cg, dtype)
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-13)
    N, C = 1037, 13
    x_np = rng.standard_normal((N, C)).astype(dtype)
    t = rng.integers(0, C, N)
    y_np = rng.uniform(0, 1, (N, C)).astype(dtype)
    x64, y64 = x_np.astype(F64), y_np.astype(F64)
    cases = [
        ("cross_entropy", lambda x: F.cross_entropy(x, tint(t)), LOSSES["cross_entropy"], x64, t),
        ("nll", lambda x: F.nll_loss(x, tint(t)), LOSSES["nll"], x64, t),
        ("mse", lambda x: F.mse_loss(x, cg.tensor(y_np, dtype=dt)), LOSSES["mse"], x64, y64),
        ("l1", lambda x: F.l1_loss(x, cg.tensor(y_np, dtype=dt)), LOSSES["l1"], x64, y64),
        (
            "bce_logits",
            lambda x: F.binary_cross_entropy_with_logits(x, cg.tensor(y_np, dtype=dt)),
            LOSSES["bce_logits"],
            x64,
            y64,
        ),
    ]
    for name, fn, case, xr, yr in cases:
        x = cg.tensor(x_np, dtype=dt, requires_grad=True)
        out = fn(x)
        out.backward()
        none = case["none"](xr, yr)
        np.testing.assert_allclose(arr(out), none.mean(), err_msg=name, **tol)
        w = np.full(none.shape, 1.0 / none.size)
        np.testing.assert_allclose(
            arr(x.grad),
            case["grad"](xr, yr, w),
            err_msg=name,
            rtol=tol["rtol"],
            atol=tol["atol"] / 100,
        )


def test_bce_large_odd_shape(backend):
    rng = np.random.default_rng(16)
    x_np, y_np = rng.uniform(0.01, 0.99, 10007), rng.uniform(0, 1, 10007)
    x = t64(x_np, requires_grad=True)
    out = F.binary_cross_entropy(x, t64(y_np), reduction="sum")
    out.backward()
    case = LOSSES["bce"]
    np.testing.assert_allclose(arr(out), case["none"](x_np, y_np).sum(), rtol=1e-10)
    np.testing.assert_allclose(arr(x.grad), case["grad"](x_np, y_np, 1.0), rtol=1e-9)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_large_odd_shapes(dtype, backend):
    rng = np.random.default_rng(17)
    dt = getattr(cg, dtype)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-10, atol=1e-11)
    x_np = rng.standard_normal((67, 131)).astype(dtype)
    W = rng.standard_normal((29, 131)).astype(dtype)
    b = rng.standard_normal(29).astype(dtype)
    dy = rng.standard_normal((67, 29)).astype(dtype)
    x, w, bb = (cg.tensor(a, dtype=dt, requires_grad=True) for a in (x_np, W, b))
    y = F.linear(x, w, bb)
    assert y.dtype == np.dtype(dtype)
    xd, Wd, dyd = x_np.astype(F64), W.astype(F64), dy.astype(F64)
    np.testing.assert_allclose(arr(y), xd @ Wd.T + b.astype(F64), **tol)
    y.backward(cg.tensor(dy, dtype=dt))
    np.testing.assert_allclose(arr(x.grad), dyd @ Wd, **tol)
    np.testing.assert_allclose(arr(w.grad), dyd.T @ xd, **tol)
    np.testing.assert_allclose(arr(bb.grad), dyd.sum(0), **tol)


def test_linear_with_transposed_input_and_weight(backend):
    rng = np.random.default_rng(18)
    xT_np, Wt_np, b = (
        rng.standard_normal((4, 6)),
        rng.standard_normal((4, 3)),
        rng.standard_normal(3),
    )
    xT = t64(xT_np, requires_grad=True)
    Wt = t64(Wt_np, requires_grad=True)
    y = F.linear(xT.T, Wt.T, t64(b))  # x (6, 4) and W (3, 4) as transposed views
    np.testing.assert_allclose(arr(y), xT_np.T @ Wt_np + b, **TOL)
    dy = rng.standard_normal((6, 3))
    y.backward(t64(dy))
    np.testing.assert_allclose(arr(xT.grad), (dy @ Wt_np.T).T, **TOL)
    np.testing.assert_allclose(arr(Wt.grad), (dy.T @ xT_np.T).T, **TOL)


def test_losses_on_transposed_views(backend):
    rng = np.random.default_rng(19)
    zT_np = rng.standard_normal((4, 7))  # logits (7, 4) seen through .T
    t = rng.integers(0, 4, 7)
    zT = t64(zT_np, requires_grad=True)
    out = F.cross_entropy(zT.T, tint(t), reduction="sum")
    np.testing.assert_allclose(arr(out), _ce_none(zT_np.T, t).sum(), **TOL)
    out.backward()
    np.testing.assert_allclose(arr(zT.grad), _ce_grad(zT_np.T, t, np.ones(7)).T, **TOL)
    yT_np = rng.standard_normal((4, 7))
    for name in ("mse", "l1", "bce_logits"):
        case = LOSSES[name]
        zT = t64(zT_np, requires_grad=True)
        out = case["fn"](zT.T, t64(yT_np).T, "sum")
        np.testing.assert_allclose(
            arr(out), case["none"](zT_np.T, yT_np.T).sum(), err_msg=name, **TOL
        )
        out.backward()
        np.testing.assert_allclose(
            arr(zT.grad), case["grad"](zT_np.T, yT_np.T, 1.0).T, err_msg=name, **TOL
        )


def test_cross_entropy_ignore_index_default_minus_100(backend):
    # torch: targets equal to ignore_index (default -100) contribute nothing,
    # and "mean" divides by the number of non-ignored targets
    rng = np.random.default_rng(20)
    x_np = rng.standard_normal((4, 3))
    t = np.array([2, -100, 0, -100])
    keep = t != -100
    per = np.zeros(4)
    per[keep] = -np_log_softmax(x_np)[np.arange(4)[keep], t[keep]]
    x = t64(x_np, requires_grad=True)
    out = F.cross_entropy(x, tint(t))
    np.testing.assert_allclose(arr(out), per.sum() / keep.sum(), **TOL)
    np.testing.assert_allclose(
        arr(F.cross_entropy(t64(x_np), tint(t), reduction="none")), per, **TOL
    )
    out.backward()
    g = np_softmax(x_np) - np.eye(3)[np.where(keep, t, 0)]
    g[~keep] = 0
    np.testing.assert_allclose(arr(x.grad), g / keep.sum(), **TOL)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_invalid_p_raises(p):
    with pytest.raises(ValueError):
        nn.Dropout(p)
    with pytest.raises(ValueError):
        F.dropout(t64([1.0, 2.0]), p, training=True)


# ============================================================ shape errors (API.md "Errors")


@pytest.mark.parametrize(
    "name,fn,a,b",
    [
        ("mse_loss", lambda a, b: F.mse_loss(a, b), (3, 4), (4, 3)),
        ("l1_loss", lambda a, b: F.l1_loss(a, b), (3, 4), (3, 5)),
        ("binary_cross_entropy", lambda a, b: F.binary_cross_entropy(a, b), (3, 4), (3, 5)),
        (
            "binary_cross_entropy_with_logits",
            lambda a, b: F.binary_cross_entropy_with_logits(a, b),
            (3, 4),
            (2, 4),
        ),
        ("cross_entropy", lambda a, b: F.cross_entropy(a, b), (3, 4), (3, 5)),
    ],
)
def test_loss_shape_mismatch_raises_value_error(name, fn, a, b, backend):
    x = t64(np.full(a, 0.5), requires_grad=True)
    y = t64(np.full(b, 0.5))
    with pytest.raises(ValueError) as ei:
        fn(x, y)
    msg = str(ei.value)
    assert name in msg
    assert str(a) in msg and str(b) in msg


@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss])
def test_class_target_length_mismatch_raises(fn, backend):
    with pytest.raises(ValueError):
        fn(t64(np.zeros((3, 4))), tint([0, 1, 2, 3]))


def test_cross_entropy_unbatched_input(backend):
    # torch accepts logits (C,) with a 0-d class target
    z = np.array([0.5, -1.0, 2.0, 0.1])
    x = t64(z, requires_grad=True)
    out = F.cross_entropy(x, cg.tensor(2, dtype=cg.int64))
    np.testing.assert_allclose(arr(out), -np_log_softmax(z[None])[0, 2], **TOL)
    out.backward()
    np.testing.assert_allclose(arr(x.grad), np_softmax(z[None])[0] - np.eye(4)[2], **TOL)
