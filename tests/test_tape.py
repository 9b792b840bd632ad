"""The compiled tape's fast paths (_tape.FastOps) against the generic route.

`a + b`, `a @ b`, `a.relu()`... take a compiled fast path for same-dtype float
tensors; `tensor.binary`, `tensor.matmul` and `Tensor._unary` are the generic
route every other call takes. Both must record entries that give the same
values, the same gradients and the same in-place checks."""

import numpy as np
import pytest

import cgrad as cg
from cgrad import ops
from cgrad.tensor import binary, matmul

BINARY = [
    ("add", ops.Add, lambda a, b: a + b),
    ("sub", ops.Sub, lambda a, b: a - b),
    ("mul", ops.Mul, lambda a, b: a * b),
    ("div", ops.Div, lambda a, b: a / b),
]
UNARY = ["exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "neg"]
UNARY_OP = {
    "exp": ops.Exp,
    "log": ops.Log,
    "sqrt": ops.Sqrt,
    "abs": ops.Abs,
    "sin": ops.Sin,
    "cos": ops.Cos,
    "tanh": ops.Tanh,
    "sigmoid": ops.Sigmoid,
    "relu": ops.Relu,
    "neg": ops.Neg,
}


def _pair(dtype, shape=(5, 7), seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shape).astype(dtype)
    b = rng.uniform(0.5, 2.0, shape).astype(dtype)
    return a, b


def _grads(fn, a, b, g):
    ta = cg.tensor(a, requires_grad=True)
    tb = cg.tensor(b, requires_grad=True)
    y = fn(ta, tb)
    y.backward(cg.tensor(g))
    return y.data, ta.grad.data, tb.grad.data, y.grad_fn.name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,op,fn", BINARY, ids=[b[0] for b in BINARY])
def test_binary_fast_path_equals_generic_route(backend, dtype, name, op, fn):
    a, b = _pair(dtype)
    g = np.random.default_rng(1).standard_normal(a.shape).astype(dtype)
    fast = _grads(fn, a, b, g)
    slow = _grads(lambda x, y: binary(op, x, y), a, b, g)
    assert fast[3] == slow[3] == name
    for f, s in zip(fast[:3], slow[:3]):
        assert f.dtype == s.dtype == dtype
        np.testing.assert_array_equal(f, s)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", UNARY)
def test_unary_fast_path_equals_generic_route(backend, dtype, name):
    a, _ = _pair(dtype)
    g = np.random.default_rng(2).standard_normal(a.shape).astype(dtype)
    out = []
    for fast in (True, False):
        t = cg.tensor(a, requires_grad=True)
        y = getattr(t, name)() if fast else t._unary(UNARY_OP[name])
        y.backward(cg.tensor(g))
        out.append((y.data, t.grad.data, y.grad_fn.name))
    assert out[0][2] == out[1][2]
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mkn", [(1, 1, 1), (8, 8, 8), (3, 17, 5), (33, 1, 9)])
def test_matmul_fast_path_equals_numpy_and_generic_route(backend, dtype, mkn):
    m, k, n = mkn
    rng = np.random.default_rng(3)
    a = rng.standard_normal((m, k))
    b = rng.standard_normal((k, n))
    g = rng.standard_normal((m, n))
    fast = _grads(lambda x, y: x @ y, a.astype(dtype), b.astype(dtype), g.astype(dtype))
    slow = _grads(matmul, a.astype(dtype), b.astype(dtype), g.astype(dtype))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    # the oracle: float64 NumPy with the hand-derived gradients
    for got, want in zip(fast[:3], (a @ b, g @ b.T, a.T @ g)):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * k)
    for f, s in zip(fast[:3], slow[:3]):
        np.testing.assert_allclose(f, s, rtol=tol, atol=tol * k)


def test_fast_paths_fall_back_for_everything_else(backend):
    an = np.arange(6.0).reshape(2, 3)
    a = cg.tensor(an, requires_grad=True)  # float32
    d = cg.tensor(np.ones((2, 3)), dtype=cg.float64)
    r = a + d  # promotion
    assert r.dtype == cg.float64
    np.testing.assert_array_equal(r.data, an + 1)
    np.testing.assert_array_equal((a + 1).data, an + 1)  # scalars
    np.testing.assert_array_equal((1 - a).data, 1 - an)
    np.testing.assert_array_equal(
        (a * cg.tensor([1.0, 2.0, 3.0])).data,  # broadcasting
        an * [1.0, 2.0, 3.0],
    )
    np.testing.assert_allclose((a.T @ a).data, an.T @ an, rtol=1e-6)  # transposed view
    i = cg.tensor([1, 2, 3], dtype=cg.int64)
    assert (i + i).dtype == cg.int64 and not (i + i).requires_grad  # integers
    np.testing.assert_array_equal((i + i).data, [2, 4, 6])
    assert i.relu().dtype == cg.float32  # cast, as _unary
    # gradients through the generic routes
    (r.sum() + (a.T @ a).sum()).backward()
    np.testing.assert_allclose(
        a.grad.data, 1 + 2 * an.sum(axis=1, keepdims=True) * np.ones((2, 3)), rtol=1e-6
    )
    with pytest.raises(ValueError, match="matmul"):
        a @ a
    with pytest.raises(ValueError, match="add"):
        a + cg.ones(4)


@pytest.mark.parametrize(
    "make",
    [
        lambda a, b: a * b,
        lambda a, b: a / b,
        lambda a, b: a @ b,
        lambda a, b: a.log() + b,
        lambda a, b: a.sin() + b,
    ],
    ids=["mul", "div", "matmul", "log", "sin"],
)
def test_fast_paths_check_saved_versions(backend, make):
    a = cg.tensor(np.full((3, 3), 0.5), requires_grad=True)
    x = a * 1.0  # a non-leaf, so it may be changed in place
    b = cg.tensor(np.full((3, 3), 2.0), requires_grad=True)
    y = make(x, b)
    x.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# f'(x) written in the output y, by hand: these ops save y only, as torch does
READS_Y = {
    "tanh": lambda x: 1 - np.tanh(x) ** 2,
    "exp": np.exp,
    "sigmoid": lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,
    "sqrt": lambda x: 0.5 / np.sqrt(x),
    "relu": lambda x: (x > 0).astype(float),
}


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "generic"])
@pytest.mark.parametrize("name", sorted(READS_Y))
def test_ops_that_read_only_their_output_ignore_changes_to_their_input(backend, name, fast):
    """x = a * 2; y = f(x); x.add_(1); y.sum().backward() runs, as in torch,
    and gives f'(2a) * 2: f's backward never reads x, so changing x is fine."""
    av = np.array([0.3, 0.9, 1.7])
    a = cg.tensor(av, dtype=cg.float64, requires_grad=True)
    x = a * 2
    op = getattr(ops, "".join(p.capitalize() for p in name.split("_")))
    y = getattr(x, name)() if fast else x._unary(op)
    x.add_(1)
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), READS_Y[name](2 * av) * 2, rtol=1e-12)
    # but changing y itself is caught
    a2 = cg.tensor(av, dtype=cg.float64, requires_grad=True)
    y2 = getattr(a2 * 2, name)() if fast else (a2 * 2)._unary(op)
    y2.mul_(3)
    with pytest.raises(RuntimeError, match=f"its output saved by '{name}'"):
        y2.sum().backward()


def test_fast_paths_record_nothing_under_no_grad(backend):
    a = cg.tensor(np.ones((2, 2)), requires_grad=True)
    with cg.no_grad():
        for y in (a + a, a * a, a @ a, a.relu(), -a):
            assert y.grad_fn is None and not y.requires_grad


@pytest.mark.parametrize(
    "make",
    [
        lambda z, t: cg.nn.functional.cross_entropy(z, t),
        lambda z, t: z.softmax(1).sum() * 3 + z.log_softmax(1).mean(),
        lambda z, t: (z * z).sum() + z.sum(),  # Binary (Mul), Reduce, Add's dout
        lambda z, t: cg.nn.functional.mse_loss(z, z * 2) + z.exp().mean(),
    ],
)
def test_leaf_gradients_handed_over_uncopied_stay_correct(backend, make):
    """Ops whose backward allocates its gradients (Op.fresh_grads) give them
    to a leaf's .grad without a copy. The grads must still be right, a
    fan-out must sum each branch once, and later backwards must add to one
    leaf's .grad only. Oracle: float64 central differences."""
    rng = np.random.default_rng(2)
    z0 = rng.standard_normal((4, 6))
    t = cg.tensor(rng.integers(0, 6, 4), dtype=cg.int64)
    z = cg.tensor(z0, dtype=cg.float64, requires_grad=True)
    w = cg.tensor(z0, dtype=cg.float64, requires_grad=True)

    def f(a):
        with cg.no_grad():
            return float(make(cg.tensor(a, dtype=cg.float64), t).data)

    want = np.zeros_like(z0)
    for idx in np.ndindex(z0.shape):
        e = np.zeros_like(z0)
        e[idx] = 1e-6
        want[idx] = (f(z0 + e) - f(z0 - e)) / 2e-6
    make(z, t).backward()
    np.testing.assert_allclose(z.grad.data, want, rtol=1e-6, atol=1e-8)
    first = z.grad.data.copy()
    # fan-out: the engine adds the second branch's gradient into the first,
    # owned one; an array the op still shared would be counted twice
    (make(w, t) + make(w, t)).backward()
    np.testing.assert_allclose(w.grad.data, 2 * first, rtol=1e-12, atol=1e-14)
    make(z, t).backward()  # accumulates into .grad
    np.testing.assert_allclose(z.grad.data, 2 * first, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(w.grad.data, 2 * first, rtol=1e-12, atol=1e-14)
