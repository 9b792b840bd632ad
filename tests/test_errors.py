"""Contract tests for API.md section Errors (plus the dtype TypeErrors).

Shape mismatches raise ValueError naming the op and both shapes, before any
kernel runs; bad data types raise TypeError; bad indices raise IndexError; a
freed graph raises RuntimeError saying so; NaN and Inf propagate as in IEEE
arithmetic.
"""

import re

import numpy as np
import pytest

import cgrad as cg

F32, F64 = np.float32, np.float64


def arr(t):
    return np.array(t.detach().numpy(), dtype=F64)


def shape_str(shape):
    return str(tuple(shape))


# ----------------------------------------------------------------------
# Shape mismatches
# ----------------------------------------------------------------------


def test_matmul_message_example(backend):
    a = cg.tensor(np.ones((3, 4)))
    b = cg.tensor(np.ones((5, 2)))
    with pytest.raises(ValueError) as ei:
        a @ b
    msg = str(ei.value)
    assert "matmul" in msg
    assert "(3, 4)" in msg and "(5, 2)" in msg


def test_matmul_mismatch_with_grad_inputs_records_nothing(backend):
    a = cg.tensor(np.ones((3, 4)), requires_grad=True)
    b = cg.tensor(np.ones((5, 2)), requires_grad=True)
    with pytest.raises(ValueError):
        cg.matmul(a, b)
    # the interpreter and the library are still fine afterwards
    y = (a @ cg.tensor(np.ones((4, 2)))).sum()
    y.backward()
    np.testing.assert_array_equal(arr(a.grad), np.full((3, 4), 2.0))
    assert b.grad is None


@pytest.mark.parametrize(
    "sa, sb",
    [
        ((3,), (4,)),
        ((4,), (3, 5)),
        ((3, 4), (3,)),
        ((2, 3, 4), (2, 5, 6)),
        ((2, 3, 4), (3, 4, 5)),
        ((7, 2, 3), (4, 3, 1)),
    ],
)
def test_matmul_mismatches_name_both_shapes(backend, sa, sb):
    a, b = cg.tensor(np.ones(sa)), cg.tensor(np.ones(sb))
    with np.errstate(all="ignore"):
        with pytest.raises(ValueError) as ei:
            a @ b
    msg = str(ei.value)
    assert "matmul" in msg
    assert shape_str(sa) in msg and shape_str(sb) in msg


def test_matmul_zero_dim_operand_raises(backend):
    with pytest.raises((ValueError, RuntimeError)):
        cg.tensor(2.0) @ cg.tensor(np.ones(3))


_BIN = [
    ("add", lambda a, b: a + b, r"add|\+"),
    ("sub", lambda a, b: a - b, r"sub|-"),
    ("mul", lambda a, b: a * b, r"mul|\*"),
    ("div", lambda a, b: a / b, r"div|/"),
    ("pow", lambda a, b: a**b, r"pow|\*\*"),
]


@pytest.mark.parametrize("sa, sb", [((3, 4), (5,)), ((2, 3), (3, 2)), ((4, 1, 3), (2, 2))])
@pytest.mark.parametrize("name, op, pattern", _BIN, ids=[b[0] for b in _BIN])
def test_broadcast_mismatch_raises_value_error(backend, name, op, pattern, sa, sb):
    a = cg.tensor(np.ones(sa), requires_grad=True)
    b = cg.tensor(np.ones(sb))
    for x, y in [(a, b), (a, np.ones(sb))]:
        with pytest.raises(ValueError) as ei:
            op(x, y)
        msg = str(ei.value)
        assert shape_str(sa) in msg and shape_str(sb) in msg, msg
        assert re.search(pattern, msg, re.I), msg


def test_cat_mismatch(backend):
    a, b = cg.tensor(np.ones((2, 3))), cg.tensor(np.ones((2, 4)))
    with pytest.raises(ValueError) as ei:
        cg.cat([a, b], dim=0)
    msg = str(ei.value)
    assert "cat" in msg and "(2, 3)" in msg and "(2, 4)" in msg
    # but along dim 1 they fit
    assert cg.cat([a, b], dim=1).shape == (2, 7)


def test_cat_rank_mismatch(backend):
    with pytest.raises(ValueError):
        cg.cat([cg.tensor(np.ones((2, 3))), cg.tensor(np.ones(3))])


def test_stack_mismatch(backend):
    a, b = cg.tensor(np.ones((2, 3))), cg.tensor(np.ones((3, 2)))
    with pytest.raises(ValueError) as ei:
        cg.stack([a, b])
    msg = str(ei.value)
    assert "stack" in msg and "(2, 3)" in msg and "(3, 2)" in msg


@pytest.mark.parametrize("method", ["reshape", "view"])
def test_reshape_size_mismatch(backend, method):
    t = cg.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError) as ei:
        getattr(t, method)(4, 2)
    msg = str(ei.value)
    assert "(2, 3)" in msg and "(4, 2)" in msg
    assert re.search(r"reshape|view", msg)


@pytest.mark.parametrize(
    "op",
    [
        lambda t: t.add_(cg.tensor(np.ones((3, 2)))),
        lambda t: t.sub_(cg.tensor(np.ones(4))),
        lambda t: t.mul_(cg.tensor(np.ones((2, 2)))),
        lambda t: t.copy_(cg.tensor(np.ones((3, 3)))),
        lambda t: t.add_(cg.tensor(np.ones((1, 2, 3)))),  # would change t's shape
    ],
    ids=["add_", "sub_", "mul_", "copy_", "add_grows"],
)
def test_inplace_shape_mismatch(backend, op):
    t = cg.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError):
        op(t)
    np.testing.assert_array_equal(arr(t), np.zeros((2, 3)))
    assert t.shape == (2, 3)


def test_backward_gradient_of_wrong_shape(backend):
    x = cg.tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises((ValueError, RuntimeError)):
        y.backward(cg.tensor(np.ones((3, 2))))


def test_transpose_and_permute_bad_dims(backend):
    t = cg.tensor(np.ones((2, 3)))
    with pytest.raises((ValueError, IndexError)):
        t.transpose(0, 2)
    with pytest.raises((ValueError, IndexError)):
        t.permute(0, 0)
    with pytest.raises((ValueError, IndexError)):
        t.sum(dim=2)
    with pytest.raises((ValueError, IndexError)):
        t.softmax(dim=3)


# ----------------------------------------------------------------------
# Bad data types
# ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        1 + 2j,
        [1.0, 2j],
        np.array([1 + 1j, 2.0]),
        np.array([1.0], dtype=np.complex64),
        "abc",
        ["a", "b"],
        np.array(["x", "y"]),
        np.array([1, "a"], dtype=object),
        np.array([1.0, 2.0], dtype=object),
        [object()],
        object(),
    ],
    ids=[
        "complex",
        "list_complex",
        "nd_complex128",
        "nd_complex64",
        "str",
        "list_str",
        "nd_str",
        "nd_object_mixed",
        "nd_object_floats",
        "list_object",
        "object",
    ],
)
def test_bad_data_raises_type_error(data):
    with pytest.raises(TypeError):
        cg.tensor(data)


@pytest.mark.parametrize(
    "a",
    [np.array([1 + 1j]), np.array(["a"]), np.array([1.0], dtype=object)],
    ids=["complex", "str", "object"],
)
def test_from_numpy_bad_dtype_raises_type_error(a):
    with pytest.raises(TypeError):
        cg.from_numpy(a)


def test_complex_operand_raises_type_error(backend):
    t = cg.tensor([1.0, 2.0])
    with pytest.raises(TypeError):
        t * 1j
    with pytest.raises(TypeError):
        t + np.array([1j, 2j])


def test_string_operand_raises_type_error(backend):
    t = cg.tensor([1.0, 2.0])
    with pytest.raises(TypeError):
        t + "a"
    with pytest.raises(TypeError):
        "a" * t


# ----------------------------------------------------------------------
# Indexing out of range
# ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "idx",
    [3, -4, (0, 5), (5, 0), [0, 3], [-4], np.array([1, 7]), (0, 0, 0)],
    ids=["int", "neg_int", "second_dim", "first_dim", "list", "neg_list", "ndarray", "too_many"],
)
def test_out_of_range_index_raises_index_error(backend, idx):
    t = cg.tensor(np.arange(9.0).reshape(3, 3), requires_grad=True)
    with pytest.raises(IndexError):
        t[idx]


def test_int64_tensor_index_out_of_range(backend):
    t = cg.tensor(np.arange(6.0).reshape(3, 2))
    with pytest.raises(IndexError):
        t[cg.tensor([0, 3], dtype=cg.int64)]


# ----------------------------------------------------------------------
# Freed graph
# ----------------------------------------------------------------------


def test_freed_graph_runtime_error_says_so(backend):
    x = cg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError) as ei:
        y.backward()
    msg = str(ei.value).lower()
    assert re.search(r"free|retain_graph", msg), msg


def test_freed_graph_error_from_cg_grad(backend):
    x = cg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    cg.grad(y, x)
    with pytest.raises(RuntimeError) as ei:
        cg.grad(y, x)
    assert re.search(r"free|retain_graph", str(ei.value).lower())


# ----------------------------------------------------------------------
# NaN / Inf propagate as in IEEE arithmetic
# ----------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("dtype", [F32, F64])
def test_nan_inf_arithmetic(backend, dtype):
    with np.errstate(all="ignore"):
        t = cg.tensor(np.array([1.0, NAN, INF, -INF, 0.0], dtype=dtype))
        np.testing.assert_array_equal(arr(t * 2), [2.0, NAN, INF, -INF, 0.0])
        np.testing.assert_array_equal(arr(t + 1), [2.0, NAN, INF, -INF, 1.0])
        np.testing.assert_array_equal(arr(t - t), [0.0, NAN, NAN, NAN, 0.0])
        np.testing.assert_array_equal(arr(1.0 / t), [1.0, NAN, 0.0, -0.0, INF])
        np.testing.assert_array_equal(arr(t * 0.0), [0.0, NAN, NAN, NAN, 0.0])
        z = cg.tensor(np.array([0.0, -1.0, 1e30], dtype=dtype))
        np.testing.assert_array_equal(arr(z.log())[:2], [-INF, NAN])
        assert np.isnan(arr(z.sqrt())[1])
        big = cg.tensor(np.array([1000.0], dtype=dtype))
        assert arr(big.exp())[0] == INF


@pytest.mark.parametrize("dtype", [F32, F64])
def test_nan_propagates_through_reductions_and_matmul(backend, dtype):
    a = np.array([[1.0, NAN, 3.0], [4.0, 5.0, 6.0]], dtype=dtype)
    t = cg.tensor(a)
    assert np.isnan(t.sum().item())
    s = arr(t.sum(dim=1))
    assert np.isnan(s[0]) and s[1] == 15.0
    m = arr(t.mean(dim=0))
    assert np.isnan(m[1]) and m[0] == 2.5 and m[2] == 4.5
    mm = arr(t @ cg.tensor(np.ones((3, 2), dtype=dtype)))
    assert np.all(np.isnan(mm[0])) and np.all(mm[1] == 15.0)
    # max-type reductions propagate NaN, as torch does
    assert np.isnan(t.max().item())
    am = arr(t.amax(dim=1))
    assert np.isnan(am[0]) and am[1] == 6.0


@pytest.mark.parametrize("dtype", [F32, F64])
def test_nan_propagates_through_activations(backend, dtype):
    t = cg.tensor(np.array([NAN], dtype=dtype))
    for name in ["exp", "tanh", "sigmoid", "relu", "abs", "sin", "gelu", "softplus"]:
        assert np.isnan(arr(getattr(t, name)())[0]), name
    assert np.isnan(arr(cg.leaky_relu(t))[0])
    assert np.isnan(arr(t.clamp(-1.0, 1.0))[0])  # torch: clamp(NaN) is NaN
    assert np.isnan(arr(t.clamp(min=-1.0, max=1.0))[0])


@pytest.mark.parametrize("dtype", [F32, F64])
def test_inf_limits_of_activations(backend, dtype):
    t = cg.tensor(np.array([-INF, INF], dtype=dtype))
    np.testing.assert_array_equal(arr(t.tanh()), [-1.0, 1.0])
    np.testing.assert_array_equal(arr(t.sigmoid()), [0.0, 1.0])
    np.testing.assert_array_equal(arr(t.relu()), [0.0, INF])
    np.testing.assert_array_equal(arr(t.exp()), [0.0, INF])
    np.testing.assert_array_equal(arr(t.clamp(-2.0, 3.0)), [-2.0, 3.0])


def test_softmax_with_minus_inf_mask(backend):
    t = cg.tensor(np.array([[0.0, -INF, 0.0], [1.0, 1.0, -INF]]))
    s = arr(t.softmax(dim=-1))
    np.testing.assert_allclose(s, [[0.5, 0.0, 0.5], [0.5, 0.5, 0.0]], rtol=1e-15, atol=0)
    ls = arr(t.log_softmax(dim=-1))
    assert ls[0, 1] == -INF and ls[1, 2] == -INF
    np.testing.assert_allclose(ls[0, [0, 2]], np.log(0.5), rtol=1e-15)


def test_nan_in_gradients(backend):
    x = cg.tensor(np.array([NAN, 2.0]), requires_grad=True)
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(arr(x.grad), [3.0, 3.0])  # d(3x)/dx does not depend on x
    x.grad = None
    (x * x).sum().backward()
    g = arr(x.grad)
    assert np.isnan(g[0]) and g[1] == 4.0


@pytest.mark.parametrize("dtype", [F32, F64])
def test_isfinite(backend, dtype):
    a = np.array([[1.0, NAN], [INF, -INF], [0.0, -3.5]], dtype=dtype)
    t = cg.tensor(a, requires_grad=True)
    f = cg.isfinite(t)
    assert isinstance(f, cg.Tensor)
    assert f.shape == (3, 2)
    assert f.requires_grad is False
    np.testing.assert_array_equal(arr(f).astype(bool), np.isfinite(a))


def test_no_crash_on_empty_and_large_mismatch(backend):
    # a big mismatch must be caught before any kernel runs
    a = cg.tensor(np.ones((1000, 300)))
    b = cg.tensor(np.ones((299, 1000)))
    with pytest.raises(ValueError) as ei:
        a @ b
    assert "(1000, 300)" in str(ei.value) and "(299, 1000)" in str(ei.value)
    e = cg.tensor(np.ones((0, 3))) @ cg.tensor(np.ones((3, 2)))
    assert e.shape == (0, 2)
