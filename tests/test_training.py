"""End-to-end training loops with cg.nn + cg.optim.

* Seed 004 (docs/seeds.md): the 2-3-2 network with a sigmoid hidden layer,
  softmax cross-entropy and SGD lr 0.9, built from Sequential/Linear/
  CrossEntropyLoss/SGD. The seed writes the layers as x W (in -> out); torch's
  Linear stores weight as (out, in), so weight = W^T.
* A 784-256-128-10 ReLU MLP trained with Adam gives the same loss curve on
  the C and NumPy backends (float64, 1e-5 relative).
* A torch training loop ported by changing the import trains to the same
  losses as torch (float64).
"""

import math

import numpy as np
import pytest

import cgrad as cg

nn = cg.nn


def arr(t):
    assert t is not None
    return np.array(t.detach().numpy(), dtype=np.float64)


def set_param(p, values):
    with cg.no_grad():
        p.copy_(cg.tensor(np.asarray(values, dtype=p.dtype), dtype=p.dtype))


def np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ================================================================= seed 004

X004 = np.array([[1.0, -1.0]])
W004 = np.array([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]])  # in (2) -> hidden (3), as x W
V004 = np.array([[1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0]])  # hidden (3) -> out (2), as h V
LR004 = 0.9


def seed004_model():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 2)).double()
    set_param(model[0].weight, W004.T)  # torch layout (out, in) = (3, 2)
    set_param(model[0].bias, np.zeros(3))
    set_param(model[2].weight, V004.T)  # (2, 3)
    set_param(model[2].bias, np.zeros(2))
    return model


def np_seed004_loss(W, b, V, c, target):
    """The seed's own formulation: k = xW + b, h = sigma(k), o = hV + c, l = -log softmax(o)_t."""
    h = 1 / (1 + np.exp(-(X004 @ W + b)))
    o = h @ V + c
    return -np.log(np_softmax(o)[0, target])


@pytest.mark.parametrize("target", [0, 1])
def test_seed004_first_step(target, backend):
    model = seed004_model()
    loss_fn = nn.CrossEntropyLoss()
    opt = cg.optim.SGD(model.parameters(), lr=LR004)
    x = cg.tensor(X004, dtype=cg.float64)
    t = cg.tensor([target], dtype=cg.int64)

    opt.zero_grad()
    logits = model(x)
    logits.retain_grad()
    loss = loss_fn(logits, t)
    loss.backward()

    h = 1 / (1 + math.exp(-2.0))  # k = [2, 2, 2] for every hidden unit
    np.testing.assert_allclose(arr(logits), [[-h, -h]], rtol=1e-14)
    np.testing.assert_allclose(loss.item(), math.log(2.0), rtol=1e-14)
    onehot = np.eye(2)[[target]]
    do = np.array([[0.5, 0.5]]) - onehot  # softmax - onehot, N = 1
    np.testing.assert_allclose(arr(logits.grad), do, rtol=1e-14)
    np.testing.assert_allclose(arr(logits.grad), np_softmax(arr(logits)) - onehot, rtol=1e-14)
    # dl/dV[j, i] = h_j do_i, i.e. the (out, in) weight gets do^T h
    np.testing.assert_allclose(arr(model[2].weight.grad), do.T @ np.full((1, 3), h), rtol=1e-14)
    np.testing.assert_allclose(arr(model[2].bias.grad), do[0], rtol=1e-14)
    # V's rows have equal entries, so V do = 0 and the first layer gets nothing
    np.testing.assert_allclose(arr(model[0].weight.grad), np.zeros((3, 2)), atol=1e-15)
    np.testing.assert_allclose(arr(model[0].bias.grad), np.zeros(3), atol=1e-15)

    opt.step()
    dV = np.full((3, 1), h) @ do  # seed layout (3, 2)
    V1 = V004 - LR004 * dV
    c1 = -LR004 * do[0]
    np.testing.assert_allclose(arr(model[2].weight), V1.T, rtol=1e-14)
    np.testing.assert_allclose(arr(model[2].bias), c1, rtol=1e-14)
    np.testing.assert_array_equal(arr(model[0].weight), W004.T)
    np.testing.assert_array_equal(arr(model[0].bias), np.zeros(3))
    if target == 0:
        # the table in docs/seeds.md
        np.testing.assert_allclose(V1[0], [1.396359, 0.603641], atol=1e-6)
        np.testing.assert_allclose(V1[1], [-0.603641, -1.396359], atol=1e-6)
        np.testing.assert_allclose(c1, [0.45, -0.45], rtol=1e-14)
    after = loss_fn(model(x), t).item()
    np.testing.assert_allclose(after, np_seed004_loss(W004, 0, V1, c1, target), rtol=1e-12)
    np.testing.assert_allclose(after, 0.048841, atol=1e-6)


@pytest.mark.parametrize("target", [0, 1])
def test_seed004_fifty_steps_monotone(target, backend):
    model = seed004_model()
    loss_fn = nn.CrossEntropyLoss()
    opt = cg.optim.SGD(model.parameters(), lr=LR004)
    x = cg.tensor(X004, dtype=cg.float64)
    t = cg.tensor([target], dtype=cg.int64)
    losses = []
    # a plain NumPy copy of the same training, seed layout, hand-derived gradients
    W, b, V, c = W004.copy(), np.zeros(3), V004.copy(), np.zeros(2)
    onehot = np.eye(2)[[target]]
    for _step in range(50):
        opt.zero_grad()
        logits = model(x)
        logits.retain_grad()
        loss = loss_fn(logits, t)
        loss.backward()
        losses.append(loss.item())
        # softmax - onehot at every step
        np.testing.assert_allclose(
            arr(logits.grad), np_softmax(arr(logits)) - onehot, rtol=1e-12, atol=1e-15
        )
        opt.step()

        k = X004 @ W + b
        h = 1 / (1 + np.exp(-k))
        o = h @ V + c
        np.testing.assert_allclose(losses[-1], -np.log(np_softmax(o)[0, target]), rtol=1e-10)
        do = np_softmax(o) - onehot
        dV, dc = h.T @ do, do[0]
        dk = (do @ V.T) * h * (1 - h)
        dW, db = X004.T @ dk, dk[0]
        W, b, V, c = W - LR004 * dW, b - LR004 * db, V - LR004 * dV, c - LR004 * dc
    losses = np.array(losses)
    assert np.all(np.diff(losses) < 0), f"loss not monotonically decreasing: {losses}"
    assert losses[0] == pytest.approx(math.log(2.0), rel=1e-14)
    assert losses[-1] < 0.01
    np.testing.assert_allclose(arr(model[2].weight), V.T, rtol=1e-10)
    np.testing.assert_allclose(arr(model[0].weight), W.T, rtol=1e-10, atol=1e-14)


# ================================================================= C vs NumPy, 784-256-128-10


def _mlp784():
    return nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    )


def _train_784(backend_name, init, x_np, t_np, steps):
    with cg.use_backend(backend_name):
        model = _mlp784().double()
        for p, w in zip(model.parameters(), init):
            set_param(p, w)
        opt = cg.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        x = cg.tensor(x_np, dtype=cg.float64)
        t = cg.tensor(t_np, dtype=cg.int64)
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            loss = loss_fn(model(x), t)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return np.array(losses), [arr(p) for p in model.parameters()]


@pytest.mark.slow
def test_mlp784_same_loss_curve_on_both_backends():
    cg.manual_seed(0)
    init = [arr(p) for p in _mlp784().double().parameters()]
    rng = np.random.default_rng(3)
    x_np = rng.standard_normal((64, 784))
    t_np = rng.integers(0, 10, 64)
    steps = 100
    c_losses, c_params = _train_784("c", init, x_np, t_np, steps)
    n_losses, n_params = _train_784("numpy", init, x_np, t_np, steps)
    assert np.all(np.isfinite(c_losses))
    np.testing.assert_allclose(c_losses[0], math.log(10.0), rtol=0.1)  # near-uniform at init
    assert c_losses[-1] < 0.5 * c_losses[0]  # it learns (memorises)
    np.testing.assert_allclose(c_losses, n_losses, rtol=1e-5)
    for a, b in zip(c_params, n_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)


# ================================================================= ported torch loop


def _small_mlp(mod):
    return mod.Sequential(
        mod.Linear(12, 32), mod.ReLU(), mod.Linear(32, 16), mod.Tanh(), mod.Linear(16, 4)
    )


@pytest.mark.parametrize("opt_name", ["Adam", "SGD", "AdamW"])
def test_ported_torch_loop_same_losses(opt_name, backend):
    torch = pytest.importorskip("torch")
    cg.manual_seed(5)
    model = _small_mlp(nn).double()
    tmodel = _small_mlp(torch.nn).double()
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in tmodel.named_parameters()]
    with torch.no_grad():
        for (n, p), (_, q) in zip(model.named_parameters(), tmodel.named_parameters()):
            assert tuple(p.shape) == tuple(q.shape), n
            q.copy_(torch.tensor(arr(p)))
    rng = np.random.default_rng(6)
    x_np, t_np = rng.standard_normal((32, 12)), rng.integers(0, 4, 32)
    kw = {
        "Adam": dict(lr=1e-2, weight_decay=1e-3),
        "SGD": dict(lr=0.1, momentum=0.9, nesterov=True),
        "AdamW": dict(lr=1e-2, weight_decay=0.05),
    }[opt_name]

    # --- the torch loop ...
    topt = getattr(torch.optim, opt_name)(tmodel.parameters(), **kw)
    tloss_fn = torch.nn.CrossEntropyLoss()
    xt, tt = torch.tensor(x_np), torch.tensor(t_np)
    want = []
    for _ in range(20):
        topt.zero_grad()
        loss = tloss_fn(tmodel(xt), tt)
        loss.backward()
        topt.step()
        want.append(loss.item())

    # --- ... and the same loop with the import changed
    opt = getattr(cg.optim, opt_name)(model.parameters(), **kw)
    loss_fn = nn.CrossEntropyLoss()
    x, t = cg.tensor(x_np, dtype=cg.float64), cg.tensor(t_np, dtype=cg.int64)
    got = []
    for _ in range(20):
        opt.zero_grad()
        loss = loss_fn(model(x), t)
        loss.backward()
        opt.step()
        got.append(loss.item())

    assert want[-1] < want[0]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    for (n, p), (_, q) in zip(model.named_parameters(), tmodel.named_parameters()):
        np.testing.assert_allclose(arr(p), q.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=n)


def test_float32_training_loop_learns(backend):
    # the default dtype path: float32 model, MSE regression to a linear target
    cg.manual_seed(9)
    model = nn.Sequential(nn.Linear(3, 16), nn.GELU(), nn.Linear(16, 1))
    opt = cg.optim.Adam(model.parameters(), lr=0.02)
    rng = np.random.default_rng(9)
    x_np = rng.standard_normal((64, 3)).astype(np.float32)
    y_np = (x_np @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)).astype(np.float32)
    x, y = cg.tensor(x_np), cg.tensor(y_np)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = nn.MSELoss()(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert losses[-1] < 0.05 * losses[0]
