"""Contract tests for API.md section Autograd (tape semantics), on both backends.

Every expected gradient here is derived by hand (formulas in the comments) or
by central finite differences in plain NumPy; none is copied from cgrad.
"""

import gc
import re
import threading
import warnings

import numpy as np
import pytest

import cgrad as cg

F32, F64 = np.float32, np.float64


def arr(t):
    assert t is not None
    return np.array(t.detach().numpy(), dtype=F64)


def leaf(v, dtype=F64):
    return cg.tensor(np.asarray(v, dtype=dtype), requires_grad=True)


def const(v, dtype=F64):
    return cg.tensor(np.asarray(v, dtype=dtype))


def close(actual, expected, rtol=1e-12, atol=1e-12):
    if isinstance(actual, cg.Tensor):
        actual = arr(actual)
    np.testing.assert_allclose(
        np.asarray(actual, dtype=F64), np.asarray(expected, dtype=F64), rtol=rtol, atol=atol
    )


def grad_of(t):
    assert t.grad is not None, "no gradient reached this tensor"
    assert isinstance(t.grad, cg.Tensor)
    assert t.grad.shape == t.shape
    return arr(t.grad)


# ----------------------------------------------------------------------
# Recording
# ----------------------------------------------------------------------


def test_op_with_grad_input_records(backend):
    x = leaf([1.0, 2.0])
    c = const([3.0, 4.0])
    y = x * c
    assert y.requires_grad is True
    assert y.is_leaf is False
    assert y.grad_fn is not None
    assert isinstance(y.grad_fn.name, str) and y.grad_fn.name


def test_op_without_grad_inputs_records_nothing(backend):
    a, b = const([1.0, 2.0]), const([3.0, 4.0])
    y = (a * b).exp().sum()
    assert y.requires_grad is False
    assert y.grad_fn is None
    assert y.is_leaf is True


def test_backward_on_tensor_without_grad_raises(backend):
    y = (const([1.0, 2.0]) * 2).sum()
    with pytest.raises(RuntimeError):
        y.backward()


@pytest.mark.parametrize(
    "fn, name",
    [
        (lambda x, w: x @ w, "matmul"),
    ],
)
def test_grad_fn_name_matmul(backend, fn, name):
    x, w = leaf(np.ones((2, 3))), leaf(np.ones((3, 4)))
    assert fn(x, w).grad_fn.name == name


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x + 1,
        lambda x: x - x,
        lambda x: x * 2,
        lambda x: x / 2,
        lambda x: x**2,
        lambda x: 2**x,
        lambda x: -x,
        lambda x: x.exp(),
        lambda x: x.sum(),
        lambda x: x.mean(dim=0),
        lambda x: x.amax(),
        lambda x: x.relu(),
        lambda x: x.softmax(),
        lambda x: x.reshape(-1),
        lambda x: x.T,
        lambda x: x[0],
        lambda x: cg.cat([x, x]),
        lambda x: cg.stack([x, x]),
    ],
)
def test_grad_fn_name_is_string_for_every_op(backend, fn):
    x = leaf(np.ones((2, 3)))
    y = fn(x)
    assert y.grad_fn is not None
    assert isinstance(y.grad_fn.name, str) and len(y.grad_fn.name) > 0


def test_grad_fn_names_distinguish_ops(backend):
    x = leaf(np.ones((2, 2)))
    names = {(x + 1).grad_fn.name, (x * 2).grad_fn.name, x.exp().grad_fn.name, (x @ x).grad_fn.name}
    assert len(names) == 4


# ----------------------------------------------------------------------
# backward() accumulation, non-leaf grads, retain_grad
# ----------------------------------------------------------------------


def test_backward_accumulates_across_calls(backend):
    x = leaf([1.0, -2.0, 3.0])
    (x * x).sum().backward()  # d/dx sum x^2 = 2x
    close(grad_of(x), [2.0, -4.0, 6.0])
    (3.0 * x).sum().backward()  # + 3
    close(grad_of(x), [5.0, -1.0, 9.0])
    x.grad = None
    (x * x).sum().backward()
    close(grad_of(x), [2.0, -4.0, 6.0])


def test_grad_is_a_tensor_without_grad_and_same_dtype(backend):
    for dtype in (F32, F64):
        x = leaf([1.0, 2.0], dtype=dtype)
        (x * x).sum().backward()
        assert isinstance(x.grad, cg.Tensor)
        assert x.grad.requires_grad is False
        assert x.grad.dtype == dtype


def test_grad_dtype_follows_input_under_promotion(backend):
    x32 = leaf([1.0, 2.0], dtype=F32)
    y64 = leaf([3.0, 4.0], dtype=F64)
    out = (x32 * y64).sum()
    assert out.dtype == np.float64
    out.backward()
    assert x32.grad.dtype == np.float32
    assert y64.grad.dtype == np.float64
    close(grad_of(x32), [3.0, 4.0])
    close(grad_of(y64), [1.0, 2.0])


def test_non_leaf_grad_is_none(backend):
    x = leaf([1.0, 2.0])
    h = x * 3.0
    y = (h * h).sum()
    y.backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert h.grad is None
        assert y.grad is None
    close(grad_of(x), 18.0 * np.array([1.0, 2.0]))  # y = 9 x^2


def test_retain_grad_keeps_non_leaf_grad(backend):
    x = leaf([1.0, 2.0])
    h = x * 3.0
    h.retain_grad()
    y = (h * h).sum()
    y.backward()
    close(grad_of(h), 2 * np.array([3.0, 6.0]))  # dy/dh = 2h
    close(grad_of(x), [18.0, 36.0])


def test_constant_input_gets_no_grad(backend):
    x = leaf([1.0, 2.0])
    c = const([5.0, 6.0])
    (x * c).sum().backward()
    assert c.grad is None
    close(grad_of(x), [5.0, 6.0])


# ----------------------------------------------------------------------
# Fan-out
# ----------------------------------------------------------------------


def test_fan_out_x_plus_x(backend):
    x = leaf([1.0, -2.0])
    (x + x).sum().backward()
    close(grad_of(x), [2.0, 2.0])


def test_fan_out_x_times_x(backend):
    x = leaf([1.5, -2.0])
    (x * x).sum().backward()
    close(grad_of(x), [3.0, -4.0])


def test_fan_out_intermediate_used_three_times(backend):
    x = leaf([0.5, 2.0])
    h = x * 2.0
    y = (h + h * h + h.exp()).sum()  # dy/dh = 1 + 2h + e^h ; dh/dx = 2
    y.backward()
    h_ = 2 * np.array([0.5, 2.0])
    close(grad_of(x), 2 * (1 + 2 * h_ + np.exp(h_)))


def test_fan_out_skip_connection(backend):
    # y = sum(relu(x @ W) + x) ; dy/dx = (1[xW>0]) @ W^T + 1 ; dy/dW = x^T @ 1[xW>0]
    xv = np.array([[1.0, -2.0], [0.5, 3.0]])
    Wv = np.array([[1.0, -1.0], [2.0, 0.5]])
    x, W = leaf(xv), leaf(Wv)
    h = (x @ W).relu()
    y = (h + x).sum()
    y.backward()
    mask = (xv @ Wv > 0).astype(F64)
    close(grad_of(x), mask @ Wv.T + 1.0)
    close(grad_of(W), xv.T @ mask)


def test_same_leaf_in_two_branches_of_matmul(backend):
    # y = sum(A @ A), dy/dA = 1 @ A^T + A^T @ 1
    Av = np.array([[1.0, 2.0], [3.0, 4.0]])
    A = leaf(Av)
    (A @ A).sum().backward()
    ones = np.ones((2, 2))
    close(grad_of(A), ones @ Av.T + Av.T @ ones)


# ----------------------------------------------------------------------
# Broadcast reduction
# ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sa, sb",
    [
        ((3, 1), (1, 4)),
        ((2, 3, 4), (4,)),
        ((2, 3, 4), (3, 1)),
        ((), (2, 3)),
        ((1,), (5,)),
        ((2, 1, 4), (1, 3, 1)),
    ],
)
@pytest.mark.parametrize("opname", ["add", "sub", "mul", "div"])
def test_broadcast_grad_is_summed_back_to_shape(backend, sa, sb, opname, rng):
    av = rng.uniform(0.5, 2.0, size=sa)
    bv = rng.uniform(0.5, 2.0, size=sb)
    a, b = leaf(av), leaf(bv)
    out_shape = np.broadcast_shapes(sa, sb)
    g = rng.standard_normal(out_shape)
    if opname == "add":
        y, da, db = a + b, g, g
    elif opname == "sub":
        y, da, db = a - b, g, -g
    elif opname == "mul":
        y, da, db = a * b, g * bv, g * av
    else:
        y, da, db = a / b, g / bv, -g * av / bv**2
    y.backward(const(g))

    def reduce_to(x, shape):
        while x.ndim > len(shape):
            x = x.sum(0)
        for i, s in enumerate(shape):
            if s == 1:
                x = x.sum(i, keepdims=True)
        return x

    assert a.grad.shape == a.shape == sa
    assert b.grad.shape == b.shape == sb
    close(grad_of(a), reduce_to(np.broadcast_to(da, out_shape), sa), rtol=1e-12, atol=1e-12)
    close(grad_of(b), reduce_to(np.broadcast_to(db, out_shape), sb), rtol=1e-12, atol=1e-12)


def test_bias_broadcast_in_linear_layer(backend):
    # y = sum(x @ W + b) with x (5, 3), W (3, 2), b (2,): db = 5 (rows), dW = x^T @ 1
    xv = np.arange(15, dtype=F64).reshape(5, 3) / 10
    x, W, b = const(xv), leaf(np.ones((3, 2))), leaf([0.1, 0.2])
    (x @ W + b).sum().backward()
    close(grad_of(b), [5.0, 5.0])
    close(grad_of(W), xv.T @ np.ones((5, 2)))


def test_broadcast_with_ndarray_and_scalar_operands(backend):
    x = leaf(np.ones((2, 1)))
    y = (x * np.array([1.0, 2.0, 3.0]) + 1.0).sum()
    y.backward()
    close(grad_of(x), [[6.0], [6.0]])


# ----------------------------------------------------------------------
# backward() argument handling
# ----------------------------------------------------------------------


def test_backward_non_scalar_without_gradient_raises(backend):
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError):
        y.backward()


def test_backward_non_scalar_with_gradient(backend):
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    y.backward(const([1.0, 0.5, -1.0]))
    close(grad_of(x), 2 * np.array([1.0, 2.0, 3.0]) * np.array([1.0, 0.5, -1.0]))


def test_backward_scalar_with_explicit_gradient(backend):
    x = leaf([1.0, 2.0])
    (x * x).sum().backward(const(3.0))
    close(grad_of(x), [6.0, 12.0])


def test_backward_keyword_arguments(backend):
    x = leaf([1.0, 2.0])
    y = x * x
    y.backward(gradient=const([1.0, -1.0]), retain_graph=True)
    close(grad_of(x), [2.0, -4.0])
    y.backward(gradient=const([1.0, 1.0]), retain_graph=False)
    close(grad_of(x), [4.0, 0.0])


def test_backward_gradient_shape_mismatch_raises(backend):
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2
    with pytest.raises((RuntimeError, ValueError)):
        y.backward(const([1.0, 2.0]))


# ----------------------------------------------------------------------
# Freed graphs and retain_graph
# ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: (x * x).sum(),
        lambda x: x.exp().sum(),
        lambda x: (x @ x.T).sum(),
        lambda x: x.tanh().sum(),
    ],
    ids=["mul", "exp", "matmul", "tanh"],
)
def test_second_backward_through_freed_graph_raises(backend, fn):
    x = leaf(np.array([[0.5, -1.0], [2.0, 0.25]]))
    y = fn(x)
    y.backward()
    g1 = grad_of(x).copy()
    with pytest.raises(RuntimeError) as ei:
        y.backward()
    msg = str(ei.value).lower()
    assert re.search(r"free|retain_graph|second time", msg), msg
    close(grad_of(x), g1)  # the failed backward did not change .grad


def test_retain_graph_allows_second_backward(backend):
    x = leaf([1.0, 2.0])
    y = (x * x).exp().sum()  # dy/dx = 2x e^{x^2}
    y.backward(retain_graph=True)
    expected = 2 * np.array([1.0, 2.0]) * np.exp(np.array([1.0, 4.0]))
    close(grad_of(x), expected, rtol=1e-12)
    y.backward(retain_graph=True)
    close(grad_of(x), 2 * expected, rtol=1e-12)
    y.backward()  # last one frees
    close(grad_of(x), 3 * expected, rtol=1e-12)
    with pytest.raises(RuntimeError):
        y.backward()


def test_shared_subgraph_freed_by_first_backward(backend):
    x = leaf([1.0, 2.0])
    h = x.exp()
    a = (h * 2).sum()
    b = (h * 3).sum()
    a.backward()
    with pytest.raises(RuntimeError):
        b.backward()


def test_shared_subgraph_with_retain_graph(backend):
    x = leaf([1.0, 2.0])
    h = x.exp()
    a = (h * 2).sum()
    b = (h * 3).sum()
    a.backward(retain_graph=True)
    b.backward()
    close(grad_of(x), 5 * np.exp([1.0, 2.0]), rtol=1e-12)


# ----------------------------------------------------------------------
# cg.grad
# ----------------------------------------------------------------------


def test_cg_grad_returns_tuple_and_leaves_grad_untouched(backend):
    x = leaf([1.0, 2.0])
    w = leaf([3.0, -1.0])
    y = (x * w * x).sum()  # dy/dx = 2 x w, dy/dw = x^2
    gs = cg.grad(y, (x, w))
    assert isinstance(gs, tuple) and len(gs) == 2
    close(gs[0], 2 * np.array([1.0, 2.0]) * np.array([3.0, -1.0]))
    close(gs[1], [1.0, 4.0])
    assert x.grad is None and w.grad is None


def test_cg_grad_does_not_touch_existing_grad(backend):
    x = leaf([1.0, 2.0])
    (x * 5).sum().backward()
    before = grad_of(x).copy()
    (g,) = cg.grad((x * x).sum(), [x])
    close(g, [2.0, 4.0])
    close(grad_of(x), before)


def test_cg_grad_single_tensor_input(backend):
    x = leaf([1.0, 2.0])
    gs = cg.grad((x**3).sum(), x)
    assert isinstance(gs, tuple) and len(gs) == 1
    close(gs[0], 3 * np.array([1.0, 4.0]), rtol=1e-12)


def test_cg_grad_unused_input(backend):
    x = leaf([1.0, 2.0])
    z = leaf([5.0])
    with pytest.raises(RuntimeError):
        cg.grad((x * x).sum(), (x, z))
    y = (x * x).sum()
    gx, gz = cg.grad(y, (x, z), allow_unused=True)
    close(gx, [2.0, 4.0])
    assert gz is None


def test_cg_grad_grad_outputs(backend):
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    (g,) = cg.grad(y, x, grad_outputs=const([1.0, -1.0, 0.5]))
    close(g, [2.0, -4.0, 3.0])


def test_cg_grad_non_scalar_without_grad_outputs_raises(backend):
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError):
        cg.grad(x * 2, x)


def test_cg_grad_retain_graph(backend):
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    (g1,) = cg.grad(y, x, retain_graph=True)
    (g2,) = cg.grad(y, x)
    close(g1, g2)
    close(g2, [2.0, 4.0])
    with pytest.raises(RuntimeError):
        cg.grad(y, x)


def test_cg_grad_wrt_intermediate(backend):
    x = leaf([1.0, 2.0])
    h = x * 2
    y = (h * h).sum()
    (gh,) = cg.grad(y, h)
    close(gh, 2 * np.array([2.0, 4.0]))
    assert x.grad is None


def test_cg_grad_result_carries_no_grad(backend):
    x = leaf([1.0, 2.0])
    (g,) = cg.grad((x * x).sum(), x)
    assert isinstance(g, cg.Tensor)
    assert g.shape == x.shape


# ----------------------------------------------------------------------
# no_grad / enable_grad / is_grad_enabled
# ----------------------------------------------------------------------


def test_is_grad_enabled_default_true():
    assert cg.is_grad_enabled() is True


def test_no_grad_context_manager(backend):
    x = leaf([1.0, 2.0])
    with cg.no_grad():
        assert cg.is_grad_enabled() is False
        y = x * 2
        z = x @ x
    assert cg.is_grad_enabled() is True
    for t in (y, z):
        assert t.requires_grad is False
        assert t.grad_fn is None
    close(y, [2.0, 4.0])
    close(z, 5.0)
    w = x * 2
    assert w.requires_grad is True and w.grad_fn is not None


def test_no_grad_restores_on_exception():
    with pytest.raises(KeyError):
        with cg.no_grad():
            raise KeyError("boom")
    assert cg.is_grad_enabled() is True


def test_no_grad_as_decorator(backend):
    x = leaf([1.0, 2.0])

    @cg.no_grad()
    def f(t):
        assert cg.is_grad_enabled() is False
        return t * 3

    y = f(x)
    assert cg.is_grad_enabled() is True
    assert y.requires_grad is False
    assert y.grad_fn is None
    close(y, [3.0, 6.0])
    assert f.__name__ == "f"


def test_no_grad_and_enable_grad_as_bare_decorators(backend):
    # torch.no_grad / torch.enable_grad also work without parentheses
    x = leaf([1.0, 2.0])

    @cg.no_grad
    def f(t):
        return t * 3

    @cg.enable_grad
    def g(t):
        return t * 3

    y = f(x)
    assert y.requires_grad is False
    close(y, [3.0, 6.0])
    with cg.no_grad():
        z = g(x)
    assert z.requires_grad is True


def test_no_grad_nested_and_enable_grad(backend):
    x = leaf([1.0, 2.0])
    with cg.no_grad():
        with cg.no_grad():
            assert cg.is_grad_enabled() is False
        assert cg.is_grad_enabled() is False
        with cg.enable_grad():
            assert cg.is_grad_enabled() is True
            y = x * 2
        assert cg.is_grad_enabled() is False
    assert cg.is_grad_enabled() is True
    assert y.requires_grad is True
    y.sum().backward()
    close(grad_of(x), [2.0, 2.0])


def test_enable_grad_as_decorator(backend):
    x = leaf([1.0, 2.0])

    @cg.enable_grad()
    def f(t):
        return t * t

    with cg.no_grad():
        y = f(x)
    assert y.requires_grad is True
    y.sum().backward()
    close(grad_of(x), [2.0, 4.0])


def test_no_grad_inplace_update_of_leaf(backend):
    w = leaf([1.0, 2.0])
    (w * w).sum().backward()
    with cg.no_grad():
        w.sub_(0.5 * w.grad)  # w - 0.5 * 2w = 0
    close(w, [0.0, 0.0])
    assert w.requires_grad is True and w.is_leaf is True and w.grad_fn is None
    w.grad = None
    (w * 3).sum().backward()
    close(grad_of(w), [3.0, 3.0])


# ----------------------------------------------------------------------
# Custom autograd.Function
# ----------------------------------------------------------------------


class _Square(cg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x


class _MulAdd(cg.autograd.Function):
    """f(a, b, c) = a * b + c, with c a Python number."""

    @staticmethod
    def forward(ctx, a, b, c):
        ctx.save_for_backward(a, b)
        ctx.c = c
        return a * b + c

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b, g * a, None


def test_custom_function_square(backend):
    x = leaf([1.0, -2.0, 3.0])
    y = _Square.apply(x)
    assert y.requires_grad is True
    assert y.grad_fn is not None
    close(y, [1.0, 4.0, 9.0])
    (y * const([1.0, 2.0, 3.0])).sum().backward()
    close(grad_of(x), 2 * np.array([1.0, -2.0, 3.0]) * np.array([1.0, 2.0, 3.0]))


def test_custom_function_multiple_inputs_and_non_tensor_arg(backend):
    a = leaf([1.0, 2.0])
    b = leaf([3.0, 4.0])
    y = _MulAdd.apply(a, b, 10.0)
    close(y, [13.0, 18.0])
    y.sum().backward()
    close(grad_of(a), [3.0, 4.0])
    close(grad_of(b), [1.0, 2.0])


def test_custom_function_composes_with_builtin_ops(backend):
    x = leaf([0.5, 1.5])
    y = (_Square.apply(x.exp()) + x).sum()  # d/dx e^{2x} + x = 2 e^{2x} + 1
    y.backward()
    close(grad_of(x), 2 * np.exp(2 * np.array([0.5, 1.5])) + 1, rtol=1e-12)


def test_custom_function_no_grad_input(backend):
    x = const([1.0, 2.0])
    y = _Square.apply(x)
    close(y, [1.0, 4.0])
    assert y.requires_grad is False


def test_custom_function_saved_tensors(backend):
    seen = {}

    class Probe(cg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            saved = ctx.saved_tensors
            seen["n"] = len(saved)
            seen["vals"] = [arr(s) for s in saved]
            return g * saved[1], g * saved[0]

    a, b = leaf([2.0]), leaf([5.0])
    Probe.apply(a, b).sum().backward()
    assert seen["n"] == 2
    close(seen["vals"][0], [2.0])
    close(seen["vals"][1], [5.0])
    close(grad_of(a), [5.0])
    close(grad_of(b), [2.0])


# ----------------------------------------------------------------------
# In-place changes and version counters
# ----------------------------------------------------------------------


def test_inplace_change_to_saved_constant_makes_backward_raise(backend):
    x = leaf([1.0, 2.0])
    c = const([3.0, 4.0])
    y = (x * c).sum()  # mul saves c to compute dx
    c.mul_(2.0)
    with pytest.raises(RuntimeError):
        y.backward()


def test_inplace_change_to_saved_matmul_operand_raises(backend):
    W = leaf(np.ones((3, 2)))
    inp = const(np.arange(6.0).reshape(2, 3))
    y = (inp @ W).sum()  # dW = inp^T @ g needs inp
    inp.fill_(0.0)
    with pytest.raises(RuntimeError):
        y.backward()


def test_inplace_change_to_saved_leaf_under_no_grad_raises(backend):
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    with cg.no_grad():
        x.add_(1.0)
    with pytest.raises(RuntimeError):
        y.backward()


def test_inplace_change_to_saved_intermediate_raises(backend):
    x = leaf([1.0, 2.0])
    h = x * 2
    y = (h * h).sum()
    with cg.no_grad():
        h.zero_()
    with pytest.raises(RuntimeError):
        y.backward()


def test_inplace_change_to_saved_tensor_in_custom_function_raises(backend):
    x = leaf([1.0, 2.0])
    y = _Square.apply(x).sum()
    with cg.no_grad():
        x.mul_(3.0)
    with pytest.raises(RuntimeError):
        y.backward()


def test_inplace_change_to_unrelated_tensor_is_fine(backend):
    x = leaf([1.0, 2.0])
    c = const([3.0, 4.0])
    other = const([0.0, 0.0])
    y = (x * c).sum()
    other.add_(1.0)
    y.backward()
    close(grad_of(x), [3.0, 4.0])


@pytest.mark.parametrize(
    "op",
    [
        lambda t: t.add_(1.0),
        lambda t: t.sub_(1.0),
        lambda t: t.mul_(2.0),
        lambda t: t.zero_(),
        lambda t: t.fill_(3.0),
        lambda t: t.copy_(cg.tensor(np.array([7.0, 8.0]))),
    ],
    ids=["add_", "sub_", "mul_", "zero_", "fill_", "copy_"],
)
def test_inplace_on_leaf_requiring_grad_outside_no_grad_raises(backend, op):
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError):
        op(w)
    close(w, [1.0, 2.0])  # unchanged
    with cg.no_grad():
        op(w)  # allowed under no_grad
    assert w.requires_grad is True and w.is_leaf is True


# ----------------------------------------------------------------------
# Integer tensors, detach, requires_grad_
# ----------------------------------------------------------------------


def test_integer_tensor_never_requires_grad():
    t = cg.tensor([1, 2, 3], dtype=cg.int64)
    assert t.requires_grad is False
    try:
        t2 = cg.tensor([1, 2, 3], dtype=cg.int64, requires_grad=True)
    except (RuntimeError, TypeError, ValueError):
        pass
    else:
        assert t2.requires_grad is False
    try:
        t.requires_grad_()
    except (RuntimeError, TypeError, ValueError):
        pass
    assert t.requires_grad is False


def test_integer_results_never_require_grad(backend):
    x = leaf([[1.0, 5.0], [3.0, 2.0]])
    am = x.argmax(dim=1)
    assert am.dtype == np.int64
    assert am.requires_grad is False
    assert am.grad_fn is None
    cmp = x > 2.0
    assert cmp.requires_grad is False


def test_detach(backend):
    x = leaf([1.0, 2.0])
    d = x.detach()
    assert d.requires_grad is False
    assert d.grad_fn is None
    assert d.is_leaf is True
    close(d, [1.0, 2.0])
    h = x * 3
    hd = h.detach()
    assert hd.requires_grad is False and hd.grad_fn is None
    (x * hd).sum().backward()  # hd is a constant: d/dx = hd = 3x
    close(grad_of(x), [3.0, 6.0])


def test_detach_shares_data(backend):
    x = leaf([1.0, 2.0])
    d = x.detach()
    d.numpy()[0] = 10.0
    close(x, [10.0, 2.0])


def test_requires_grad_(backend):
    t = const([1.0, 2.0])
    r = t.requires_grad_()
    assert r is t
    assert t.requires_grad is True and t.is_leaf is True
    (t * t).sum().backward()
    close(grad_of(t), [2.0, 4.0])
    t.requires_grad_(False)
    assert t.requires_grad is False
    y = t * 2
    assert y.requires_grad is False


def test_requires_grad_attribute_setter(backend):
    t = const([1.0, 2.0])
    t.requires_grad = True
    (t * t).sum().backward()
    close(grad_of(t), [2.0, 4.0])


def test_inplace_on_non_leaf_is_recorded(backend):
    # torch records in-place ops on non-leaves: h = 2x; h += 1; h *= 3 -> d/dx sum h = 6
    x = leaf([1.0, 2.0])
    h = x * 2
    h.add_(1.0)
    h.mul_(3.0)
    close(h, [9.0, 15.0])
    h.sum().backward()
    close(grad_of(x), [6.0, 6.0])


def test_cat_stack_with_mixed_requires_grad(backend):
    a = leaf([1.0, 2.0])
    b = const([3.0, 4.0])
    w = const([1.0, 2.0, 3.0, 4.0])
    (cg.cat([a, b]) * w).sum().backward()
    close(grad_of(a), [1.0, 2.0])
    assert b.grad is None
    a.grad = None
    (cg.stack([b, a]) * const([[1.0, 1.0], [5.0, 7.0]])).sum().backward()
    close(grad_of(a), [5.0, 7.0])


def test_grad_can_be_zeroed_in_place(backend):
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    x.grad.zero_()
    (x * 3).sum().backward()
    close(grad_of(x), [3.0, 3.0])


def test_backward_on_leaf_scalar_and_on_an_index(backend):
    x = leaf(2.0)
    x.backward()
    close(grad_of(x), 1.0)
    v = leaf([2.0, 3.0, 4.0])
    v[1].backward()
    close(grad_of(v), [0.0, 1.0, 0.0])


def test_cg_grad_of_several_outputs_sums_them(backend):
    x = leaf([2.0, 3.0])
    (g,) = cg.grad([(x * x).sum(), (3 * x).sum()], [x])
    close(g, [7.0, 9.0])


def test_retained_non_leaf_grad_accumulates(backend):
    x = leaf([1.0, 2.0])
    h = x * 2
    h.retain_grad()
    y = (h * h).sum()
    y.backward(retain_graph=True)
    y.backward()
    close(grad_of(h), 2 * 2 * np.array([2.0, 4.0]))


def test_requires_grad_false_on_non_leaf_raises(backend):
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError):
        y.requires_grad_(False)


def test_backward_of_graph_built_in_another_thread(backend):
    x = leaf([1.5])
    y = (x * x).sum()
    res = {}

    def worker():
        try:
            y.backward()
            res["g"] = arr(x.grad)
        except Exception as e:  # pragma: no cover - reported below
            res["e"] = repr(e)

    th = threading.Thread(target=worker)
    th.start()
    th.join(10)
    assert "e" not in res, res
    close(res["g"], [3.0])


def test_grad_can_be_set_to_none(backend):
    x = leaf([1.0])
    (x * 2).sum().backward()
    x.grad = None
    assert x.grad is None


# ----------------------------------------------------------------------
# Deep graphs
# ----------------------------------------------------------------------


@pytest.mark.slow
def test_chain_of_100000_ops_no_recursion_error(backend):
    x = leaf([1.0, 2.0])
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y = y.sum()
    y.backward()
    close(grad_of(x), [1.0, 1.0])
    del y
    gc.collect()


def test_long_chain_gradient_value(backend):
    # y = x * a^n: dy/dx = a^n
    x = leaf([1.0])
    y = x
    a = 1.0001
    n = 5000
    for _ in range(n):
        y = y * a
    y.sum().backward()
    close(grad_of(x), [a**n], rtol=1e-9)


# ----------------------------------------------------------------------
# Threads: tape and grad mode are per thread
# ----------------------------------------------------------------------


def test_no_grad_is_per_thread(backend):
    in_no_grad = threading.Event()
    release = threading.Event()
    result = {}

    def worker():
        with cg.no_grad():
            result["worker_enabled"] = cg.is_grad_enabled()
            in_no_grad.set()
            release.wait(10)

    th = threading.Thread(target=worker)
    th.start()
    try:
        assert in_no_grad.wait(10)
        # the worker is inside no_grad; this thread is not
        assert cg.is_grad_enabled() is True
        x = leaf([1.0, 2.0])
        y = x * 2
        assert y.requires_grad is True
    finally:
        release.set()
        th.join(10)
    assert result["worker_enabled"] is False


def test_new_thread_starts_with_grad_enabled(backend):
    result = {}

    def worker():
        result["enabled"] = cg.is_grad_enabled()
        x = leaf([3.0])
        y = (x * x).sum()
        y.backward()
        result["grad"] = arr(x.grad)

    with cg.no_grad():
        th = threading.Thread(target=worker)
        th.start()
        th.join(10)
    assert result["enabled"] is True
    close(result["grad"], [6.0])


def test_concurrent_backward_in_threads(backend):
    errors = []
    results = {}

    def worker(k):
        try:
            for _ in range(20):
                x = leaf(np.full(8, float(k)))
                w = leaf(np.arange(8.0))
                y = ((x * w).tanh() * x).sum()
                y.backward()
                xv, wv = np.full(8, float(k)), np.arange(8.0)
                t = np.tanh(xv * wv)
                gx = (1 - t**2) * wv * xv + t
                np.testing.assert_allclose(arr(x.grad), gx, rtol=1e-12, atol=1e-12)
            results[k] = True
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    ths = [threading.Thread(target=worker, args=(k,)) for k in (1, 2, 3)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(30)
    assert not errors, errors
    assert len(results) == 3
