"""The worked backprop problems of the five homework seeds, rebuilt with cgrad.

Every number asserted here was derived by hand and checked against PyTorch
2.13 (float64) and against central finite differences in plain float64 NumPy.
Several seeds get some of these numbers wrong; the expected values below are
the *correct* ones, never the seed's. docs/seeds.md lists each seed's setup,
the correct numbers and every mistake found in the seed's answer.

Each test runs on both backends ("c" and "numpy"). Each test also evaluates
the same loss with plain NumPy and compares cgrad's gradients with central
finite differences. When torch is importable, the test also repeats the
computation in torch; when it is not, only that part is left out.

Losses and SGD steps are built from primitive tensor ops on purpose (no
cg.nn / cg.optim): MSE as ((y_hat - y) ** 2).mean(), cross-entropy from
log_softmax, BCE from log, and updates as p.sub_(lr * p.grad) under no_grad.
"""

import math

import numpy as np
import pytest

import cgrad as cg

try:  # optional third oracle; never a dependency of cgrad
    import torch as _torch
except Exception:  # pragma: no cover - depends on the environment
    _torch = None

BACKENDS = ("c", "numpy")
F64 = np.float64

# tolerances: exact float64 arithmetic vs. hand values, and vs. finite differences
EXACT = dict(rtol=1e-10, atol=1e-12)
FD = dict(rtol=1e-6, atol=1e-8)


@pytest.fixture(params=BACKENDS)
def backend(request):
    with cg.use_backend(request.param):
        assert cg.get_backend() == request.param
        yield request.param


# ----------------------------------------------------------------- helpers


def param(v):
    """A float64 leaf that requires grad."""
    return cg.tensor(np.asarray(v, dtype=F64), dtype=cg.float64, requires_grad=True)


def const(v):
    """A float64 constant (no grad)."""
    return cg.tensor(np.asarray(v, dtype=F64), dtype=cg.float64)


def arr(t):
    """Values of a tensor (or of its .grad) as a float64 ndarray."""
    assert t is not None
    return np.array(t.detach().numpy(), dtype=F64)


def grad_of(t):
    assert t.grad is not None, "no gradient reached this tensor"
    assert tuple(t.grad.shape) == tuple(t.shape)
    return arr(t.grad)


def close(actual, expected, **tol):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=F64), np.asarray(expected, dtype=F64), **(tol or EXACT)
    )


def sgd_step(params, lr):
    """One plain SGD step, in place, exactly as an optimizer would do it."""
    with cg.no_grad():
        for p in params:
            p.sub_(lr * p.grad)


def fd_grads(f, arrays, eps=1e-6):
    """Central finite differences of the scalar f(*arrays), float64 NumPy only."""
    arrays = [np.array(a, dtype=F64) for a in arrays]
    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus = [b.copy() for b in arrays]
            minus = [b.copy() for b in arrays]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            g[idx] = (f(*plus) - f(*minus)) / (2 * eps)
        grads.append(g)
    return grads


def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def np_relu(z):
    return np.maximum(z, 0.0)


def _tt(v):
    """A float64 torch constant (never touches torch's global default dtype)."""
    return _torch.tensor(np.asarray(v, dtype=F64))


def torch_grads(f, values):
    """Gradients of torch-scalar f(*leaves) w.r.t. fresh float64 leaves."""
    leaves = [_torch.tensor(np.asarray(v, dtype=F64), requires_grad=True) for v in values]
    out = f(*leaves)
    out.backward()
    return float(out.detach()), [leaf.grad.numpy() for leaf in leaves]


# ======================================================================
# Seed 000 -- skip-connection network, L1 loss, one SGD step (lr = 1)
#   z0 = w0 x, h0 = relu(z0), z1 = w1 h0, h1 = relu(z1),
#   y_hat = ws h0 + w2 h1, L = |y - y_hat|
#   x = 1, y = -3, w0 = w1 = w2 = ws = 0.5
# ======================================================================

SEED000 = dict(x=1.0, y=-3.0, w0=0.5, w1=0.5, w2=0.5, ws=0.5, lr=1.0)


def _seed000_loss_np(w0, w1, w2, ws, x=1.0, y=-3.0):
    h0 = np_relu(w0 * x)
    h1 = np_relu(w1 * h0)
    return float(np.abs(y - (ws * h0 + w2 * h1)))


def test_seed000_skip_connection_forward_backward_sgd(backend):
    s = SEED000
    w0, w1, w2, ws = (param(s[k]) for k in ("w0", "w1", "w2", "ws"))
    x, y = s["x"], s["y"]

    z0 = w0 * x
    h0 = z0.relu()
    z1 = w1 * h0
    h1 = z1.relu()
    y_hat = ws * h0 + w2 * h1  # h0 fans out: skip path and main path
    loss = (y - y_hat).abs()
    assert loss.dtype == np.float64

    # forward, by hand: 0.5, 0.5, 0.25, 0.25, 0.25 + 0.125, |-3 - 0.375|
    for t, v in ((z0, 0.5), (h0, 0.5), (z1, 0.25), (h1, 0.25), (y_hat, 0.375), (loss, 3.375)):
        close(t.item(), v)

    loss.backward()
    # dL/dy_hat = sign(y_hat - y) = +1 (the seed used (y - y_hat)/|y - y_hat| = -1: wrong sign)
    # dL/dw2 = h1 = 0.25 ; dL/dws = h0 = 0.5 ; dL/dw1 = w2 h0 relu'(z1) = 0.25
    # dL/dw0 = (ws + w2 w1 relu'(z1)) relu'(z0) x = 0.5 + 0.25 = 0.75
    expected = {"w0": 0.75, "w1": 0.25, "w2": 0.25, "ws": 0.5}
    got = {"w0": grad_of(w0), "w1": grad_of(w1), "w2": grad_of(w2), "ws": grad_of(ws)}
    for k in expected:
        close(got[k], expected[k])

    # finite differences of the plain float64 loss
    fd = fd_grads(_seed000_loss_np, [s["w0"], s["w1"], s["w2"], s["ws"]])
    close([got[k] for k in ("w0", "w1", "w2", "ws")], fd, **FD)

    # torch cross-check
    if _torch is not None:

        def tf(w0_, w1_, w2_, ws_):
            h0_ = (w0_ * x).relu()
            return (y - (ws_ * h0_ + w2_ * (w1_ * h0_).relu())).abs()

        tl, tg = torch_grads(tf, [s["w0"], s["w1"], s["w2"], s["ws"]])
        close(loss.item(), tl)
        close([got[k] for k in ("w0", "w1", "w2", "ws")], tg)

    # one SGD step, lr = 1: w - 1 * grad
    sgd_step([w0, w1, w2, ws], s["lr"])
    close(arr(w0), -0.25)  # seed: 1.25 (moved uphill)
    close(arr(w1), 0.25)  # seed: 0.75
    close(arr(w2), 0.25)  # seed: 0.75
    close(arr(ws), 0.0)  # seed: 1.00
    assert w0.is_leaf and w0.requires_grad

    # the correct step lowers the loss 3.375 -> 3.0; the seed's weights raise it to 4.953125
    with cg.no_grad():
        h0n = (w0 * x).relu()
        new_loss = (y - (ws * h0n + w2 * (w1 * h0n).relu())).abs()
    close(new_loss.item(), 3.0)
    close(_seed000_loss_np(1.25, 0.75, 0.75, 1.0), 4.953125)


def test_seed000_skip_path_uses_ws_not_w2(backend):
    """Seed eq. (8d) writes dL/dw0 = s * w2 * (1 + w1 relu'(z1)) relu'(z0) x.
    The skip path carries ws, not w2: dL/dw0 = s * (ws + w2 w1 relu'(z1)) relu'(z0) x.
    With ws = w2 = 0.5 (the seed's numbers) both give 0.75; with ws = 1.5 they differ."""
    w0, w1, w2, ws = param(0.5), param(0.5), param(0.5), param(1.5)
    x, y = 1.0, -3.0
    h0 = (w0 * x).relu()
    y_hat = ws * h0 + w2 * (w1 * h0).relu()  # 0.75 + 0.125 = 0.875
    close(y_hat.item(), 0.875)
    (y - y_hat).abs().backward()
    close(grad_of(w0), 1.75)  # (1.5 + 0.5 * 0.5) * 1 ; the seed's formula would give 0.75
    close(grad_of(ws), 0.5)
    fd = fd_grads(lambda a, b, c, d: _seed000_loss_np(a, b, c, d), [0.5, 0.5, 0.5, 1.5])
    close([grad_of(t) for t in (w0, w1, w2, ws)], fd, **FD)


# ======================================================================
# Seed 001 -- (1b) P = W X with L2 loss ||Y - P||^2, one step of size 0.1
# ======================================================================

W001 = [[0.3, 0.5], [-0.2, 0.4]]
X001 = [[0.0, 2.0], [3.0, 1.0]]
Y001 = [[0.5, 1.0], [1.0, -1.5]]


def test_seed001_matrix_l2_step(backend):
    W = param(W001)
    X, Y = const(X001), const(Y001)
    P = W @ X
    close(arr(P), [[1.5, 1.1], [1.2, 0.0]])  # the seed has this right
    loss = ((Y - P) ** 2).sum()  # ||Y - P||^2, summed over all entries
    close(loss.item(), 1.0 + 0.01 + 0.04 + 2.25)  # 3.3
    loss.backward()
    # dL/dW = -2 (Y - P) X^T = [[2, .2], [.4, 3]] @ [[0, 3], [2, 1]]
    # entry (0,1) = 2*3 + 0.2*1 = 6.2 (the seed wrote 6.1)
    g = grad_of(W)
    close(g, [[0.4, 6.2], [6.0, 4.2]])
    close(g, -2.0 * (np.array(Y001) - np.array(W001) @ np.array(X001)) @ np.array(X001).T)

    fd = fd_grads(lambda w: float(((np.array(Y001) - w @ np.array(X001)) ** 2).sum()), [W001])[0]
    close(g, fd, **FD)
    if _torch is not None:
        Xt, Yt = _tt(X001), _tt(Y001)
        _, (tg,) = torch_grads(lambda w: ((Yt - w @ Xt) ** 2).sum(), [W001])
        close(g, tg)

    sgd_step([W], 0.1)  # W - 0.1 dL/dW (the seed wrote "W + lambda dL/dW")
    close(arr(W), [[0.26, -0.12], [-0.8, -0.02]])  # seed: ... 0.02 in the last entry (sign slip)
    with cg.no_grad():
        close((((Y - W @ X) ** 2).sum()).item(), 2.2376)  # the step lowers the loss 3.3 -> 2.2376


# ======================================================================
# Seed 001 -- (2) sigmoid chains: vanishing (BCE, y=1) and exploding (L2, y=128)
#   w1 = 0.25, w2 = -0.11, w3 = 0.78, x = 0.63
# ======================================================================

W1_, W2_, W3_, X_ = 0.25, -0.11, 0.78, 0.63

# float64 values from torch 2.13, which match the hand chain rule (docs/seeds.md)
S1 = 0.5392938058983595  # sigmoid(0.25 * 0.63)
S2 = 0.4851737680451907  # sigmoid(-0.11 * S1)
SIG3 = 0.5934957186360955  # sigmoid(0.78 * S2)


def _chain_np(kind, y):
    def f(w1, w2, w3):
        s1 = np_sigmoid(w1 * X_)
        s2 = np_sigmoid(w2 * s1)
        if kind == "bce":
            yh = np_sigmoid(w3 * s2)
            return float(-(y * np.log(yh) + (1 - y) * np.log(1 - yh)))
        return float((y - w3 * s2) ** 2)

    return f


def _chain_cg(kind, y):
    w1, w2, w3 = param(W1_), param(W2_), param(W3_)
    s1 = (w1 * X_).sigmoid()
    s2 = (w2 * s1).sigmoid()
    if kind == "bce":
        y_hat = (w3 * s2).sigmoid()
        loss = -(y * y_hat.log() + (1 - y) * (1 - y_hat).log())
    else:
        y_hat = w3 * s2
        loss = (y - y_hat) ** 2
    y_hat.retain_grad()
    loss.backward()
    return (s1, s2, y_hat, loss), (w1, w2, w3)


@pytest.mark.parametrize(
    "kind, y, y_hat, dl_dyhat, grads",
    [
        # (2b) y_hat = sigmoid(w3 s2), cross-entropy, y = 1: dL/dy_hat = -1/y_hat
        #      dL/dw3 = -(1 - y_hat) s2 ; dL/dw2 = -(1 - y_hat) w3 s2(1-s2) s1 ;
        #      dL/dw1 = -(1 - y_hat) w3 s2(1-s2) w2 s1(1-s1) x      (times x, not w1)
        (
            "bce",
            1.0,
            SIG3,
            -1.6849321209899988,
            (0.0013636421727137619, -0.04271133421161386, -0.1972252139158279),
        ),
        # regression, y_hat = w3 s2, L = (y - y_hat)^2, y = 1: dL/dy_hat = -2 (1 - y_hat)
        (
            "l2",
            1.0,
            0.78 * S2,
            -1.2431289218495025,
            (0.004170148019761289, -0.13061533982149084, -0.6031335431796785),
        ),
        # (2c) same, y = 128: every gradient is (128 - y_hat)/(1 - y_hat) = 205.32x larger
        (
            "l2",
            128.0,
            0.78 * S2,
            -255.2431289218495,
            (0.8562278697912766, -26.818351206588748, -123.83727062665811),
        ),
    ],
)
def test_seed001_sigmoid_chain(backend, kind, y, y_hat, dl_dyhat, grads):
    (s1, s2, yh, loss), ws = _chain_cg(kind, y)
    close(s1.item(), S1)
    close(s2.item(), S2)
    close(yh.item(), y_hat)
    close(grad_of(yh), dl_dyhat)
    got = [grad_of(w) for w in ws]
    close(got, grads)
    close(got, fd_grads(_chain_np(kind, y), [W1_, W2_, W3_]), **FD)
    if _torch is not None:

        def tf(w1, w2, w3):
            s2_ = _torch.sigmoid(w2 * _torch.sigmoid(w1 * X_))
            if kind == "bce":
                p = _torch.sigmoid(w3 * s2_)
                return -(y * _torch.log(p) + (1 - y) * _torch.log(1 - p))
            return (y - w3 * s2_) ** 2

        tl, tg = torch_grads(tf, [W1_, W2_, W3_])
        close(loss.item(), tl)
        close(got, tg)


def test_seed001_exploding_vs_vanishing_ratio(backend):
    """(2c): with y = 128 the gradients are NOT small; all three are scaled by
    dL/dy_hat(128) / dL/dy_hat(1) = (128 - y_hat) / (1 - y_hat) ~ 205.3."""
    _, small = _chain_cg("l2", 1.0)
    _, big = _chain_cg("l2", 128.0)
    yh = 0.78 * S2
    ratio = (128 - yh) / (1 - yh)
    close(ratio, 205.3231361893695)
    for a, b in zip(small, big):
        close(grad_of(b) / grad_of(a), ratio)
    assert abs(grad_of(big[2])) > 100  # |dL/dw3| = 123.8


def test_seed001_sigmoid_derivative_maximum(backend):
    """(2a): sigmoid' = s(1-s) has its MAXIMUM 1/4 at x = 0 (the seed says minimum);
    its infimum 0 is approached as |x| -> inf and never reached."""
    grid = np.linspace(-8.0, 8.0, 161)
    x = param(grid)
    x.sigmoid().sum().backward()
    d = grad_of(x)
    close(d, np_sigmoid(grid) * (1 - np_sigmoid(grid)))
    assert grid[np.argmax(d)] == 0.0
    close(d.max(), 0.25)
    assert d.min() > 0 and d.min() < 4e-4
    assert np.all(np.diff(d[:80]) > 0) and np.all(np.diff(d[80:]) < 0)


# ======================================================================
# Seed 002 -- Linear1 -> f -> Linear2 -> g  (x in R^2, hidden 3, output 2)
# The seed is symbolic; these numbers are ours (chosen to have one dead ReLU).
# ======================================================================

X002 = [1.0, -2.0]
W1_002 = [[0.5, -0.5], [1.0, 1.0], [0.25, -0.5]]
B1_002 = [0.1, 0.2, -0.25]
W2_002 = [[0.1, -0.2, 0.3], [-0.4, 0.5, 0.2]]
B2_002 = [0.5, -1.0]


def _net002_cg(f, g):
    W1, b1, W2, b2 = param(W1_002), param(B1_002), param(W2_002), param(B2_002)
    z1 = W1 @ const(X002) + b1
    z2 = f(z1)
    z3 = W2 @ z2 + b2
    y_hat = g(z3)
    y_hat.retain_grad()
    z3.retain_grad()
    return (z1, z2, z3, y_hat), (W1, b1, W2, b2)


def _net002_np(f, g, loss):
    def run(W1, b1, W2, b2):
        return loss(g(W2 @ f(W1 @ np.array(X002) + b1) + b2))

    return run


P002 = [W1_002, B1_002, W2_002, B2_002]


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_seed002_relu5_regression_mse(backend, reduction):
    """1.2: f = 5 ReLU, g = identity, l = ||y_hat - y||^2 (the problem's definition,
    reduction 'sum') and torch's MSELoss mean (divides by k = 2)."""
    y = np.array([2.0, -3.0])
    (z1, z2, z3, y_hat), (W1, b1, W2, b2) = _net002_cg(lambda z: 5 * z.relu(), lambda z: z)
    # by hand: z1 = [0.5+1+0.1, 1-2+0.2, 0.25+1-0.25] = [1.6, -0.8, 1.0];
    # z2 = 5 relu(z1) = [8, 0, 5]
    # z3 = [0.8 + 1.5 + 0.5, -3.2 + 1.0 - 1] = [2.8, -3.2]
    close(arr(z1), [1.6, -0.8, 1.0])
    close(arr(z2), [8.0, 0.0, 5.0])
    close(arr(y_hat), [2.8, -3.2])
    sq = (y_hat - const(y)) ** 2
    loss = sq.sum() if reduction == "sum" else sq.mean()
    close(loss.item(), 0.68 if reduction == "sum" else 0.34)
    loss.backward()
    k = 1.0 if reduction == "sum" else 0.5
    # dl/dy_hat = 2 (y_hat - y) = [1.6, -0.4]   (2/k (y_hat - y) for the mean)
    close(grad_of(y_hat), k * np.array([1.6, -0.4]))
    # dl/dW2 = dl/dz3 z2^T ; dl/dz2 = W2^T dl/dz3 = [0.32, -0.52, 0.40]
    # dl/dz1 = dl/dz2 * 5 * 1[z1 > 0] = [1.6, 0, 2.0] ; dl/dW1 = dl/dz1 x^T
    close(grad_of(W2), k * np.array([[12.8, 0.0, 8.0], [-3.2, 0.0, -2.0]]))
    close(grad_of(b2), k * np.array([1.6, -0.4]))
    close(grad_of(W1), k * np.array([[1.6, -3.2], [0.0, 0.0], [2.0, -4.0]]))
    close(grad_of(b1), k * np.array([1.6, 0.0, 2.0]))

    red = np.sum if reduction == "sum" else np.mean
    fd = fd_grads(
        _net002_np(lambda z: 5 * np_relu(z), lambda z: z, lambda p: float(red((p - y) ** 2))), P002
    )
    for t, e in zip((W1, b1, W2, b2), fd):
        close(grad_of(t), e, **FD)


def test_seed002_jacobian_dz3_dz2_is_W2(backend):
    """1.D.C: dz3/dz2 (numerator layout, shape k x d = 2 x 3) is W2 itself.
    The seed writes W2^T, which is 3 x 2 and contradicts its own 'k x d'."""
    z2 = param([8.0, 0.0, 5.0])
    z3 = const(W2_002) @ z2 + const(B2_002)
    rows = []
    for i in range(2):
        e = const(np.eye(2)[i])
        (gi,) = cg.grad([z3], [z2], grad_outputs=[e], retain_graph=True)
        rows.append(arr(gi))
    J = np.stack(rows)
    assert J.shape == (2, 3)
    close(J, W2_002)
    if _torch is not None:
        tj = _torch.autograd.functional.jacobian(
            lambda v: _tt(W2_002) @ v + _tt(B2_002), _tt([8.0, 0.0, 5.0])
        )
        close(J, tj.numpy())


def test_seed002_tanh_sigmoid_mse(backend):
    """1.3.A: f = tanh, g = sigmoid, l = ||y_hat - y||^2; dy_hat/dz3 = diag(s(1 - s))."""
    y = np.array([1.0, 0.0])
    (z1, z2, z3, y_hat), params = _net002_cg(lambda z: z.tanh(), lambda z: z.sigmoid())
    loss = ((y_hat - const(y)) ** 2).sum()
    loss.backward()
    yh = arr(y_hat)
    # values from torch 2.13 float64 (equal to the chain rule evaluated in NumPy below)
    close(yh, [0.721808964551, 0.175322252764], rtol=1e-11, atol=1e-12)
    close(loss.item(), 0.1081281445185651)
    close(grad_of(y_hat), 2 * (yh - y))
    close(grad_of(z3), 2 * (yh - y) * yh * (1 - yh))
    close(grad_of(z3), [-0.111721955620, 0.050697711577], rtol=1e-10, atol=1e-12)
    expected = {
        "W1": [
            [-0.004734269238, 0.009468538476],
            [0.026663156152, -0.053326312305],
            [-0.009817758818, 0.019635517637],
        ],
        "b1": [-0.004734269238, 0.026663156152, -0.009817758818],
        "W2": [
            [-0.102970613332, 0.074187486578, -0.085086788492],
            [0.046726486541, -0.033665144656, 0.038611080857],
        ],
        "b2": [-0.111721955620, 0.050697711577],
    }
    for t, name in zip(params, ("W1", "b1", "W2", "b2")):
        close(grad_of(t), expected[name], rtol=1e-9, atol=1e-12)
    fd = fd_grads(_net002_np(np.tanh, np_sigmoid, lambda p: float(((p - y) ** 2).sum())), P002)
    for t, e in zip(params, fd):
        close(grad_of(t), e, **FD)


def test_seed002_bce_gradient(backend):
    """1.3.B: BCE l = -(1/K) sum_i [y_i log y_hat_i + (1 - y_i) log(1 - y_hat_i)].
    Correct: dl/dy_hat_i = (1/K) (-y_i/y_hat_i + (1-y_i)/(1-y_hat_i)), so dl/dz3 = (y_hat - y)/K.
    The seed's eq. (60) applies 1/K to the first term only: for y_i = 0 it is K times too big."""
    y = np.array([1.0, 0.0])
    K = 2
    (z1, z2, z3, y_hat), params = _net002_cg(lambda z: z.tanh(), lambda z: z.sigmoid())
    yt = const(y)
    loss = -(yt * y_hat.log() + (1 - yt) * (1 - y_hat).log()).mean()
    loss.backward()
    yh = arr(y_hat)
    close(loss.item(), 0.2593786727505457)
    correct = (1 / K) * (-y / yh + (1 - y) / (1 - yh))
    close(grad_of(y_hat), correct)
    close(grad_of(y_hat), [-0.692704059600, 0.606297431543], rtol=1e-10, atol=1e-12)
    seed_eq60 = (1 / K) * (-y / yh) + (1 - y) / (1 - yh)
    assert not np.allclose(seed_eq60, correct)  # 1.2126 vs 0.6063 for the y = 0 output
    close(grad_of(z3), (yh - y) / K)
    fd = fd_grads(
        _net002_np(
            np.tanh, np_sigmoid, lambda p: float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
        ),
        P002,
    )
    for t, e in zip(params, fd):
        close(grad_of(t), e, **FD)
    if _torch is not None:

        def tf(W1, b1, W2, b2):
            p = _torch.sigmoid(W2 @ _torch.tanh(W1 @ _tt(X002) + b1) + b2)
            return _torch.nn.functional.binary_cross_entropy(p, _tt(y))

        tl, tg = torch_grads(tf, P002)
        close(loss.item(), tl)
        for t, e in zip(params, tg):
            close(grad_of(t), e)


@pytest.mark.parametrize(
    "x, y, z, a, b, w, grads",
    [
        # w = a * b = 2 x a^2 with a = x y + z:
        #   dw/dx = 2 a^2 + 4 x a y ; dw/dy = 4 x^2 a ; dw/dz = 4 x a
        (2.0, -1.0, 0.5, -1.5, -6.0, 9.0, (16.5, -24.0, -12.0)),
        (1.0, 2.0, 3.0, 5.0, 10.0, 50.0, (90.0, 20.0, 20.0)),
    ],
)
def test_seed002_graph_fanout(backend, x, y, z, a, b, w, grads):
    """1.4.B: a = x*y + z, b = (x + x)*a, w = a*b. x is used three times and a twice;
    the fan-out contributions must all be summed."""
    tx, ty, tz = param(x), param(y), param(z)
    ta = tx * ty + tz
    tb = (tx + tx) * ta
    tw = ta * tb
    close([ta.item(), tb.item(), tw.item()], [a, b, w])
    tw.backward()
    close([grad_of(tx), grad_of(ty), grad_of(tz)], grads)
    fd = fd_grads(
        lambda x_, y_, z_: float((x_ * y_ + z_) * ((x_ + x_) * (x_ * y_ + z_))), [x, y, z]
    )
    close([grad_of(tx), grad_of(ty), grad_of(tz)], fd, **FD)


ACT_PTS = [-2.0, -0.5, 0.0, 0.5, 2.0]


@pytest.mark.parametrize(
    "name, fn, expected",
    [
        # 1.4.C: derivative graphs; values from torch 2.13 float64
        ("relu", lambda t: t.relu(), [0.0, 0.0, 0.0, 1.0, 1.0]),  # 1[x > 0]
        ("leaky_relu", lambda t: t.leaky_relu(0.01), [0.01, 0.01, 0.01, 1.0, 1.0]),
        # softplus' = sigmoid(x)
        ("softplus", lambda t: t.softplus(), list(np_sigmoid(np.array(ACT_PTS)))),
        # gelu' = Phi(x) + x phi(x)
        (
            "gelu",
            lambda t: t.gelu(),
            [
                0.5 * (1 + math.erf(v / math.sqrt(2)))
                + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)
                for v in ACT_PTS
            ],
        ),
    ],
)
def test_seed002_activation_derivatives(backend, name, fn, expected):
    x = param(ACT_PTS)
    fn(x).sum().backward()
    close(grad_of(x), expected, rtol=1e-9, atol=1e-12)


def test_seed002_gelu_derivative_torch_values(backend):
    # the same GELU derivative values, as torch 2.13 prints them
    x = param(ACT_PTS)
    x.gelu().sum().backward()
    close(grad_of(x), [-0.0852318, 0.13250488, 0.5, 0.86749512, 1.0852318], rtol=1e-6, atol=1e-8)


# ======================================================================
# Seed 003 -- (a) the 13-parameter two-layer ReLU network, derivatives of y
#             (b) the sin/exp/cos chain with squared loss, and Jacobian shapes
# The seed gives no numbers; these are ours.
# ======================================================================

NAMES13 = [
    "phi0",
    "phi1",
    "phi2",
    "psi01",
    "psi11",
    "psi21",
    "psi02",
    "psi12",
    "psi22",
    "theta01",
    "theta11",
    "theta02",
    "theta12",
]
VALS13 = dict(zip(NAMES13, [0.1, 2.0, -1.0, 0.2, 1.5, 0.7, -0.3, 0.5, -2.0, -0.5, 1.0, 0.5, -1.0]))


def _direct_derivs13(p, x):
    """dy/d(parameter), differentiated directly (no backprop), I = 1[. > 0]."""

    def relu(v):
        return max(v, 0.0)

    def ind(v):
        return 1.0 if v > 0 else 0.0

    pre1, pre2 = p["theta01"] + p["theta11"] * x, p["theta02"] + p["theta12"] * x
    h1, h2 = relu(pre1), relu(pre2)
    u1 = p["psi01"] + p["psi11"] * h1 + p["psi21"] * h2
    u2 = p["psi02"] + p["psi12"] * h1 + p["psi22"] * h2
    g1, g2 = p["phi1"] * ind(u1), p["phi2"] * ind(u2)
    d1 = (g1 * p["psi11"] + g2 * p["psi12"]) * ind(pre1)
    d2 = (g1 * p["psi21"] + g2 * p["psi22"]) * ind(pre2)
    return {
        "phi0": 1.0,
        "phi1": relu(u1),
        "phi2": relu(u2),
        "psi01": g1,
        "psi11": g1 * h1,
        "psi21": g1 * h2,
        "psi02": g2,
        "psi12": g2 * h1,
        "psi22": g2 * h2,
        "theta01": d1,
        "theta11": d1 * x,
        "theta02": d2,
        "theta12": d2 * x,
    }


@pytest.mark.parametrize(
    "x, y_expected, expected",
    [
        # x = 2: unit 2 of layer 1 is dead (0.5 - 2 < 0), both layer-2 units alive
        (
            2.0,
            4.55,
            dict(
                phi0=1.0,
                phi1=2.45,
                phi2=0.45,
                psi01=2.0,
                psi11=3.0,
                psi21=0.0,
                psi02=-1.0,
                psi12=-1.5,
                psi22=0.0,
                theta01=2.5,
                theta11=5.0,
                theta02=0.0,
                theta12=0.0,
            ),
        ),
        # x = -1: unit 1 of layer 1 dead, unit 2 of layer 2 dead
        (
            -1.0,
            2.6,
            dict(
                phi0=1.0,
                phi1=1.25,
                phi2=0.0,
                psi01=2.0,
                psi11=0.0,
                psi21=3.0,
                psi02=0.0,
                psi12=0.0,
                psi22=0.0,
                theta01=0.0,
                theta11=0.0,
                theta02=1.4,
                theta12=-1.4,
            ),
        ),
    ],
)
def test_seed003_thirteen_parameter_relu_net(backend, x, y_expected, expected):
    P = {n: param(VALS13[n]) for n in NAMES13}
    h1 = (P["theta01"] + P["theta11"] * x).relu()
    h2 = (P["theta02"] + P["theta12"] * x).relu()
    y = (
        P["phi0"]
        + P["phi1"] * (P["psi01"] + P["psi11"] * h1 + P["psi21"] * h2).relu()
        + P["phi2"] * (P["psi02"] + P["psi12"] * h1 + P["psi22"] * h2).relu()
    )
    close(y.item(), y_expected)
    y.backward()
    direct = _direct_derivs13(VALS13, x)
    for n in NAMES13:
        close(grad_of(P[n]), expected[n])
        close(grad_of(P[n]), direct[n])
    if _torch is not None:

        def tf(*ps):
            q = dict(zip(NAMES13, ps))
            a1 = (q["theta01"] + q["theta11"] * x).relu()
            a2 = (q["theta02"] + q["theta12"] * x).relu()
            return (
                q["phi0"]
                + q["phi1"] * (q["psi01"] + q["psi11"] * a1 + q["psi21"] * a2).relu()
                + q["phi2"] * (q["psi02"] + q["psi12"] * a1 + q["psi22"] * a2).relu()
            )

        _, tg = torch_grads(tf, [VALS13[n] for n in NAMES13])
        close([grad_of(P[n]) for n in NAMES13], tg)


CHAIN = dict(b0=1.0, w0=0.1, b1=2.0, w1=-0.4, b2=-3.0, w2=2.0, b3=0.4, w3=3.0)
CHAIN_X, CHAIN_Y = 2.3, 2.0


def _chain003_np(b0, w0, b1, w1, b2, w2, b3, w3):
    f0 = b0 + w0 * CHAIN_X
    f1 = b1 + w1 * np.sin(f0)
    f2 = b2 + w2 * np.exp(f1)
    f3 = b3 + w3 * np.cos(f2)
    return float((f3 - CHAIN_Y) ** 2)


def test_seed003_sin_exp_cos_chain(backend):
    P = {k: param(v) for k, v in CHAIN.items()}
    f0 = P["b0"] + P["w0"] * CHAIN_X
    h1 = f0.sin()
    f1 = P["b1"] + P["w1"] * h1
    h2 = f1.exp()
    f2 = P["b2"] + P["w2"] * h2
    h3 = f2.cos()
    f3 = P["b3"] + P["w3"] * h3
    loss = (f3 - CHAIN_Y) ** 2
    inter = (f0, h1, f1, h2, f2, h3, f3)
    for t in inter:
        t.retain_grad()
    # forward (torch 2.13 float64; f0 = 1 + 0.1 * 2.3 = 1.23 by hand)
    close(
        [t.item() for t in inter] + [loss.item()],
        [
            1.23,
            0.9424888019316975,
            1.623004479227321,
            5.068295051170775,
            7.13659010234155,
            0.6574213694719748,
            2.3722641084159246,
            0.13858056641470326,
        ],
    )
    loss.backward()
    v = [t.item() for t in inter]
    # the seed's local derivatives, which are right:
    # dh3/df2 = -sin f2, df2/dh2 = w2, dh2/df1 = exp f1, df1/dh1 = w1, dh1/df0 = cos f0
    dl_df3 = 2 * (v[6] - CHAIN_Y)
    dl_dh3 = CHAIN["w3"] * dl_df3
    dl_df2 = -math.sin(v[4]) * dl_dh3
    dl_dh2 = CHAIN["w2"] * dl_df2
    dl_df1 = math.exp(v[2]) * dl_dh2
    dl_dh1 = CHAIN["w1"] * dl_df1
    dl_df0 = math.cos(v[0]) * dl_dh1
    close([grad_of(t) for t in inter], [dl_df0, dl_dh1, dl_df1, dl_dh2, dl_df2, dl_dh3, dl_df3])
    close(
        [grad_of(t) for t in inter],
        [
            2.280900622169349,
            6.824186610507077,
            -17.060466526267692,
            -3.3661154992006095,
            -1.6830577496003047,
            2.2335846504955477,
            0.7445282168318492,
        ],
    )
    got = [grad_of(P[k]) for k in CHAIN]
    close(
        got,
        [
            2.280900622169349,
            5.246071430989502,
            -17.060466526267692,
            -16.079298656737866,
            -1.6830577496003047,
            -8.530233263133846,
            0.7445282168318492,
            0.48946875992012173,
        ],
    )
    close(got, fd_grads(_chain003_np, list(CHAIN.values())), **FD)


def test_seed003_vector_chain_jacobian_shapes(backend):
    """The seed's sizes for dl/df0 = dh1/df0 df1/dh1 (dh2/df1 df2/dh2 dh3/df2 df3/dh3 dl/df3):
    D1xD1, D1xD2, D2xD2, D2xD3, D3xD3, D3xDf, Dfx1 -> dl/df0 is D1x1. They are right;
    here the product of those matrices (denominator layout) must equal cgrad's dl/df0."""
    Di, D1, D2, D3, Df = 2, 3, 4, 2, 1
    rng = np.random.default_rng(3)
    x = rng.normal(size=Di)
    yv = rng.normal(size=Df)
    shapes = dict(
        B0=(D1,), O0=(D1, Di), B1=(D2,), O1=(D2, D1), B2=(D3,), O2=(D3, D2), B3=(Df,), O3=(Df, D3)
    )
    vals = {k: 0.5 * rng.normal(size=s) for k, s in shapes.items()}
    P = {k: param(v) for k, v in vals.items()}
    f0 = P["B0"] + P["O0"] @ const(x)
    f1 = P["B1"] + P["O1"] @ f0.sin()
    f2 = P["B2"] + P["O2"] @ f1.exp()
    f3 = P["B3"] + P["O3"] @ f2.cos()
    loss = ((f3 - const(yv)) ** 2).sum()
    for t in (f0, f1, f2, f3):
        t.retain_grad()
    loss.backward()
    assert tuple(f0.grad.shape) == (D1,) and tuple(f1.grad.shape) == (D2,)
    assert tuple(f2.grad.shape) == (D3,) and tuple(f3.grad.shape) == (Df,)
    F0, F1, F2, F3 = (arr(t) for t in (f0, f1, f2, f3))
    chain = [
        np.diag(np.cos(F0)),
        vals["O1"].T,
        np.diag(np.exp(F1)),
        vals["O2"].T,
        np.diag(-np.sin(F2)),
        vals["O3"].T,
        (2 * (F3 - yv)).reshape(Df, 1),
    ]
    assert [m.shape for m in chain] == [
        (D1, D1),
        (D1, D2),
        (D2, D2),
        (D2, D3),
        (D3, D3),
        (D3, Df),
        (Df, 1),
    ]
    dl_df0 = np.linalg.multi_dot(chain)
    assert dl_df0.shape == (D1, 1)
    close(grad_of(f0), dl_df0[:, 0])

    def np_loss(B0, O0, B1, O1, B2, O2, B3, O3):
        g0 = B0 + O0 @ x
        g3 = B3 + O3 @ np.cos(B2 + O2 @ np.exp(B1 + O1 @ np.sin(g0)))
        return float(((g3 - yv) ** 2).sum())

    fd = fd_grads(np_loss, [vals[k] for k in shapes])
    for k, e in zip(shapes, fd):
        close(grad_of(P[k]), e, **FD)


# ======================================================================
# Seed 004 -- 2-3-2 network: sigmoid hidden layer, softmax, cross-entropy, lr 0.9
#   x = [1, -1], W = [[1,1,1],[-1,-1,-1]], b = 0, V = [[1,1],[-1,-1],[-1,-1]], c = 0
#   (the standard setup of this assignment; the seed's table is consistent with it)
# ======================================================================

X004 = [1.0, -1.0]
W004 = [[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]
B004 = [0.0, 0.0, 0.0]
V004 = [[1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0]]
C004 = [0.0, 0.0]
H = 0.8807970779778823  # sigmoid(2)


def _net004_np(target):
    def f(W, b, V, c):
        o = np_sigmoid(np.array(X004) @ W + b) @ V + c
        return float(-(o[target] - np.log(np.exp(o).sum())))

    return f


@pytest.mark.parametrize("target", [0, 1])
def test_seed004_softmax_cross_entropy_sgd(backend, target):
    W, b, V, c = param(W004), param(B004), param(V004), param(C004)
    k = const(X004) @ W + b
    h = k.sigmoid()
    o = h @ V + c
    y = o.softmax(dim=-1)
    for t in (h, o, y):
        t.retain_grad()
    onehot = const(np.eye(2)[target])
    # the seed's formulation: l = -log y_c with y = softmax(o)
    loss = -(onehot * y.log()).sum()
    close(arr(k), [2.0, 2.0, 2.0])
    close(arr(h), [H] * 3)
    close(arr(o), [-H, -H])
    close(arr(y), [0.5, 0.5])
    close(loss.item(), math.log(2.0))
    loss.backward()
    sign = 1.0 if target == 0 else -1.0
    # dl/dy = -onehot / y: [-2, 0] for target 0 (the seed: [-2, -2], impossible for one target)
    close(grad_of(y), -2.0 * np.eye(2)[target])
    # dl/do = y - onehot = [-0.5, 0.5] for target 0 (the seed: [0.5, -0.5], flipped)
    close(grad_of(o), sign * np.array([-0.5, 0.5]))
    close(grad_of(c), sign * np.array([-0.5, 0.5]))
    # dl/dV[j, i] = h_j dl/do_i = +-0.4404 (the seed: rows [0.440, -0.440], flipped for target 0)
    close(grad_of(V), sign * np.array([[-H / 2, H / 2]] * 3))
    close(grad_of(V)[0, 1], sign * 0.44039853898894116)
    # dl/dh = V dl/do = 0 because each row of V has equal entries: first layer gets nothing
    close(grad_of(h), [0.0, 0.0, 0.0])
    close(grad_of(W), np.zeros((2, 3)))
    close(grad_of(b), np.zeros(3))

    fd = fd_grads(_net004_np(target), [W004, B004, V004, C004])
    for t, e in zip((W, b, V, c), fd):
        close(grad_of(t), e, **FD)

    # the same gradients through log_softmax (what a cross_entropy op would use)
    W2, b2, V2, c2 = param(W004), param(B004), param(V004), param(C004)
    o2 = (const(X004) @ W2 + b2).sigmoid() @ V2 + c2
    loss2 = -(onehot * o2.log_softmax(dim=-1)).sum()
    close(loss2.item(), math.log(2.0))
    loss2.backward()
    for t1, t2 in ((W, W2), (b, b2), (V, V2), (c, c2)):
        close(grad_of(t2), grad_of(t1))

    if _torch is not None:

        def tf(W_, b_, V_, c_):
            o_ = _torch.sigmoid(_tt(X004) @ W_ + b_) @ V_ + c_
            return -_torch.log_softmax(o_, -1)[target]

        tl, tg = torch_grads(tf, [W004, B004, V004, C004])
        close(loss.item(), tl)
        for t, e in zip((W, b, V, c), tg):
            close(grad_of(t), e)

    # one SGD step with the assignment's learning rate 0.9
    sgd_step([W, b, V, c], 0.9)
    close(arr(W), W004)  # zero gradient: unchanged
    close(arr(b), B004)
    d = 0.9 * H / 2  # 0.39636...
    Vexp = np.array(V004) + sign * np.array([[d, -d]] * 3)
    close(arr(V), Vexp)
    close(
        arr(V)[0],
        [1.396358685090, 0.603641314910] if target == 0 else [0.603641314910, 1.396358685090],
        rtol=1e-11,
        atol=1e-12,
    )
    close(arr(c), sign * np.array([0.45, -0.45]))
    with cg.no_grad():
        o_new = (const(X004) @ W + b).sigmoid() @ V + c
        new_loss = -(onehot * o_new.log_softmax(dim=-1)).sum()
    close(new_loss.item(), 0.04884080139313646)  # ln 2 = 0.693 -> 0.0488
