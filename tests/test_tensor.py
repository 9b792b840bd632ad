"""Contract tests for API.md sections Package, dtypes, Creating tensors, Tensor.

Expected values come from NumPy (float64) or closed-form formulas, never from
cgrad's own output. Where API.md is silent, PyTorch's documented behaviour is
the reference.
"""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

import cgrad as cg

F32, F64 = np.float32, np.float64


def arr(t):
    """The values of a cgrad tensor as a NumPy array (copy)."""
    return np.array(t.detach().numpy())


def assert_close(t, expected, rtol=None, atol=None, dtype=None):
    a = arr(t)
    exp = np.asarray(expected)
    assert a.shape == exp.shape, f"shape {a.shape} != expected {exp.shape}"
    if dtype is None:
        dtype = a.dtype
    if rtol is None:
        rtol = 1e-12 if np.dtype(dtype) == np.float64 else 1e-5
    if atol is None:
        atol = 1e-12 if np.dtype(dtype) == np.float64 else 1e-6
    np.testing.assert_allclose(a.astype(F64), exp.astype(F64), rtol=rtol, atol=atol)


def t64(a, requires_grad=False):
    return cg.tensor(np.asarray(a, dtype=F64), requires_grad=requires_grad)


# ======================================================================
# Package
# ======================================================================


def test_version_is_nonempty_string():
    assert isinstance(cg.__version__, str)
    assert cg.__version__.strip() != ""


def test_default_backend_is_c():
    assert cg.get_backend() == "c"


def test_use_backend_context_manager_switches_and_restores():
    assert cg.get_backend() == "c"
    with cg.use_backend("numpy"):
        assert cg.get_backend() == "numpy"
        with cg.use_backend("c"):
            assert cg.get_backend() == "c"
        assert cg.get_backend() == "numpy"
    assert cg.get_backend() == "c"


def test_use_backend_restores_after_exception():
    with pytest.raises(ZeroDivisionError):
        with cg.use_backend("numpy"):
            _ = 1 / 0
    assert cg.get_backend() == "c"


def test_use_backend_plain_call_switches_globally():
    try:
        cg.use_backend("numpy")
        assert cg.get_backend() == "numpy"
        y = cg.tensor([1.0, 2.0]) * 3.0
        assert_close(y, [3.0, 6.0])
    finally:
        cg.use_backend("c")
    assert cg.get_backend() == "c"


def test_use_backend_unknown_name_raises():
    with pytest.raises((ValueError, KeyError)):
        cg.use_backend("cuda-please")
    assert cg.get_backend() == "c"


def test_num_threads_roundtrip():
    old = cg.get_num_threads()
    assert isinstance(old, int) and old >= 1
    try:
        cg.set_num_threads(1)
        assert cg.get_num_threads() == 1
        a = np.random.default_rng(0).standard_normal((64, 48))
        b = np.random.default_rng(1).standard_normal((48, 32))
        assert_close(cg.tensor(a) @ cg.tensor(b), a @ b, rtol=1e-10, atol=1e-10)
        cg.set_num_threads(2)
        assert cg.get_num_threads() == 2
        assert_close(cg.tensor(a) @ cg.tensor(b), a @ b, rtol=1e-10, atol=1e-10)
    finally:
        cg.set_num_threads(old)
    assert cg.get_num_threads() == old


def _threads_in_subprocess(env_value):
    env = dict(os.environ)
    env.pop("CGRAD_NUM_THREADS", None)
    if env_value is not None:
        env["CGRAD_NUM_THREADS"] = env_value
    out = subprocess.run(
        [sys.executable, "-c", "import cgrad as cg; print(cg.get_num_threads())"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip().splitlines()[-1])


def test_num_threads_default_from_env_var():
    assert _threads_in_subprocess("3") == 3


def test_num_threads_default_is_cpu_count_without_env():
    n = _threads_in_subprocess(None)
    candidates = {os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        candidates.add(len(os.sched_getaffinity(0)))
    assert n in candidates


_BLOCK_EXTENSION = r"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.startswith("cgrad.") and name.split(".")[-1].startswith("_ckernels"):
            raise ImportError("No module named " + repr(name))
        return None
sys.meta_path.insert(0, Block())
try:
    import cgrad
except ImportError as e:
    print("IMPORTERROR:" + str(e))
else:
    print("IMPORTED")
"""


def test_import_fails_with_build_hint_when_extension_missing():
    out = subprocess.run(
        [sys.executable, "-c", _BLOCK_EXTENSION], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout.strip()
    assert text.startswith("IMPORTERROR:"), "import cgrad must fail without the compiled kernels"
    msg = text.lower()
    assert "build" in msg or "pip install" in msg or "make" in msg, text


def test_manual_seed_makes_random_constructors_reproducible():
    cg.manual_seed(7)
    a1, b1 = arr(cg.randn(4, 5)), arr(cg.rand(3))
    cg.manual_seed(7)
    a2, b2 = arr(cg.randn(4, 5)), arr(cg.rand(3))
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    cg.manual_seed(8)
    assert not np.array_equal(arr(cg.randn(4, 5)), a1)


def test_randn_and_rand_distributions():
    cg.manual_seed(0)
    n = arr(cg.randn(20000))
    assert abs(n.mean()) < 0.05
    assert abs(n.std() - 1.0) < 0.05
    u = arr(cg.rand(20000))
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.02


# ======================================================================
# dtypes
# ======================================================================


def test_dtype_constants_are_numpy_dtypes():
    assert np.dtype(cg.float32) == np.dtype(np.float32)
    assert np.dtype(cg.float64) == np.dtype(np.float64)
    assert np.dtype(cg.int64) == np.dtype(np.int64)
    assert cg.int64 is np.int64


@pytest.mark.parametrize(
    "data",
    [3.5, 3, True, [1.0, 2.0], [1, 2, 3], [[1, 2], [3, 4]], [True, False], [[1.5], [2]]],
    ids=["float", "int", "bool", "list_float", "list_int", "nested_int", "list_bool", "mixed"],
)
def test_python_numbers_and_lists_become_float32(data):
    t = cg.tensor(data)
    assert t.dtype == np.float32
    assert_close(t, np.asarray(data, dtype=F64))


def test_ndarray_float_dtypes_are_kept():
    assert cg.tensor(np.ones(3, dtype=F32)).dtype == np.float32
    assert cg.tensor(np.ones(3, dtype=F64)).dtype == np.float64
    assert cg.from_numpy(np.ones(3, dtype=F64)).dtype == np.float64


@pytest.mark.parametrize("np_dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_integer_and_bool_arrays_become_float32(np_dtype):
    a = np.array([[0, 1], [1, 0]]).astype(np_dtype)
    t = cg.tensor(a)
    assert t.dtype == np.float32
    assert_close(t, a.astype(F64))


def test_dtype_keyword_overrides():
    assert cg.tensor([1, 2], dtype=cg.float64).dtype == np.float64
    assert cg.tensor(np.ones(2, dtype=F64), dtype=cg.float32).dtype == np.float32
    ti = cg.tensor([3, 1, 2], dtype=cg.int64)
    assert ti.dtype == np.int64
    assert ti.tolist() == [3, 1, 2]
    assert ti.requires_grad is False


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a * b,
        lambda a, b: a / b,
        lambda a, b: a**b,
        lambda a, b: a @ b,
    ],
    ids=["add", "sub", "mul", "div", "pow", "matmul"],
)
def test_tensor_tensor_ops_promote_to_wider_float(op):
    a32 = cg.tensor(np.full((2, 2), 1.5, dtype=F32))
    b64 = cg.tensor(np.full((2, 2), 2.0, dtype=F64))
    assert op(a32, b64).dtype == np.float64
    assert op(b64, a32).dtype == np.float64
    assert op(a32, a32).dtype == np.float32
    assert op(b64, b64).dtype == np.float64
    ref = op(np.full((2, 2), 1.5), np.full((2, 2), 2.0))
    assert_close(op(a32, b64), ref)


@pytest.mark.parametrize(
    "op",
    [
        lambda t: t + 1,
        lambda t: 1 + t,
        lambda t: t - 2.5,
        lambda t: 2.5 - t,
        lambda t: t * 3,
        lambda t: 3.0 * t,
        lambda t: t / 7,
        lambda t: 7 / t,
        lambda t: t**2,
        lambda t: t**0.5,
        lambda t: 2**t,
        lambda t: 1.5**t,
        lambda t: -t,
    ],
)
@pytest.mark.parametrize("dtype", [F32, F64])
def test_python_scalars_never_change_dtype(op, dtype):
    t = cg.tensor(np.array([1.0, 2.0, 4.0], dtype=dtype))
    out = op(t)
    assert out.dtype == dtype
    assert_close(out, op(np.array([1.0, 2.0, 4.0])), rtol=1e-6 if dtype == F32 else 1e-12)


# ======================================================================
# Creating tensors
# ======================================================================


def test_tensor_from_scalar_is_0d():
    t = cg.tensor(2.5)
    assert t.shape == ()
    assert t.ndim == 0
    assert t.numel() == 1
    assert t.item() == 2.5


def test_tensor_copies_ndarray():
    a = np.array([1.0, 2.0, 3.0])
    t = cg.tensor(a)
    a[0] = 100.0
    assert t.tolist() == [1.0, 2.0, 3.0]


def test_tensor_copies_tensor():
    src = cg.tensor(np.array([1.0, 2.0, 3.0]))
    t = cg.tensor(src)
    src.numpy()[1] = -7.0
    assert t.tolist() == [1.0, 2.0, 3.0]
    assert t.dtype == np.float64


def test_tensor_requires_grad_keyword():
    t = cg.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad is True
    assert t.is_leaf is True
    assert t.grad is None
    assert t.grad_fn is None


def test_from_numpy_shares_memory_both_ways():
    a = np.arange(6, dtype=F64).reshape(2, 3)
    t = cg.from_numpy(a)
    assert t.shape == (2, 3)
    assert t.dtype == np.float64
    a[0, 0] = 42.0
    assert t.tolist()[0][0] == 42.0
    t.add_(1.0)
    assert a[1, 2] == 6.0
    assert a[0, 0] == 43.0


@pytest.mark.parametrize("ctor", ["zeros", "ones", "randn", "rand"])
def test_shape_constructors_varargs_and_tuple(ctor):
    f = getattr(cg, ctor)
    t = f(2, 3)
    assert t.shape == (2, 3)
    assert t.dtype == np.float32
    assert t.requires_grad is False
    t2 = f((4, 1, 2))
    assert t2.shape == (4, 1, 2)
    t3 = f(3, dtype=cg.float64, requires_grad=True)
    assert t3.shape == (3,)
    assert t3.dtype == np.float64
    assert t3.requires_grad is True and t3.is_leaf is True


def test_zeros_ones_values():
    assert_close(cg.zeros(2, 3), np.zeros((2, 3)))
    assert_close(cg.ones(3, 2), np.ones((3, 2)))


def test_full():
    t = cg.full((2, 3), 7.5)
    assert t.shape == (2, 3)
    assert t.dtype == np.float32
    assert_close(t, np.full((2, 3), 7.5))
    t64_ = cg.full((2,), -1.0, dtype=cg.float64)
    assert t64_.dtype == np.float64
    assert t64_.tolist() == [-1.0, -1.0]


@pytest.mark.parametrize("dtype", [F32, F64])
def test_zeros_like_ones_like_keep_shape_and_dtype(dtype):
    src = cg.tensor(np.arange(6, dtype=dtype).reshape(3, 2))
    z = cg.zeros_like(src)
    o = cg.ones_like(src)
    assert z.shape == o.shape == (3, 2)
    assert z.dtype == o.dtype == dtype
    assert_close(z, np.zeros((3, 2)))
    assert_close(o, np.ones((3, 2)))
    assert z.requires_grad is False


@pytest.mark.parametrize(
    "args, expected",
    [
        ((5,), np.arange(5)),
        ((2, 6), np.arange(2, 6)),
        ((0, 1, 0.25), np.arange(0, 1, 0.25)),
        ((5, 0, -2), np.arange(5, 0, -2)),
    ],
)
def test_arange(args, expected):
    t = cg.arange(*args)
    assert t.shape == expected.shape
    np.testing.assert_allclose(arr(t).astype(F64), expected.astype(F64))


def test_arange_step_keyword():
    np.testing.assert_allclose(arr(cg.arange(1, 2, step=0.5)).astype(F64), [1.0, 1.5])


def test_eye():
    t = cg.eye(3)
    assert t.shape == (3, 3)
    assert_close(t, np.eye(3))


# ======================================================================
# Tensor attributes, conversion, repr
# ======================================================================


def test_attributes():
    t = cg.tensor(np.zeros((2, 3, 4)))
    assert t.shape == (2, 3, 4)
    assert type(t.shape) is tuple
    assert t.ndim == 3
    assert t.numel() == 24
    assert t.dtype == np.float64
    assert t.requires_grad is False
    assert t.grad is None
    assert t.is_leaf is True
    assert t.grad_fn is None


def test_op_result_attributes():
    x = cg.tensor([1.0, 2.0], requires_grad=True)
    w = cg.tensor([[1.0], [2.0]], requires_grad=True)
    y = x @ w
    assert y.shape == (1,)
    assert y.requires_grad is True
    assert y.is_leaf is False
    assert y.grad_fn is not None
    assert y.grad_fn.name == "matmul"
    # ops on tensors that do not require grad give leaves without grad_fn
    c = cg.tensor([1.0, 2.0]) * 2
    assert c.requires_grad is False
    assert c.is_leaf is True
    assert c.grad_fn is None


def test_numpy_shares_memory():
    t = cg.tensor(np.zeros(3))
    a = t.numpy()
    assert isinstance(a, np.ndarray)
    a[1] = 5.0
    assert t.tolist() == [0.0, 5.0, 0.0]


def test_numpy_of_requires_grad_tensor_carries_no_grad():
    t = cg.tensor([1.0, 2.0], requires_grad=True)
    a = t.numpy()
    assert type(a) is np.ndarray
    np.testing.assert_array_equal(a, np.array([1.0, 2.0], dtype=F32))


def test_array_protocol():
    t = cg.tensor(np.arange(6, dtype=F64).reshape(2, 3))
    a = np.asarray(t)
    assert isinstance(a, np.ndarray)
    assert a.shape == (2, 3)
    np.testing.assert_array_equal(a, np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(
        np.asarray(t, dtype=np.float32), np.arange(6, dtype=F32).reshape(2, 3)
    )


def test_item_tolist_float():
    assert cg.tensor(3.25).item() == 3.25
    assert isinstance(cg.tensor(3.25).item(), float)
    assert cg.tensor([[4.5]]).item() == 4.5
    assert float(cg.tensor([1.75])) == 1.75
    assert float(cg.tensor(-2.0)) == -2.0
    assert cg.tensor([[1, 2], [3, 4]]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert cg.tensor(2.0).tolist() == 2.0
    assert cg.tensor([5, 6], dtype=cg.int64).tolist() == [5, 6]
    x = cg.tensor([2.0], requires_grad=True)
    assert (x * 3).item() == 6.0


def test_item_on_many_elements_raises():
    with pytest.raises((ValueError, RuntimeError)):
        cg.tensor([1.0, 2.0]).item()
    with pytest.raises((ValueError, RuntimeError, TypeError)):
        float(cg.tensor([1.0, 2.0]))


def test_repr_shows_data_and_dtype():
    r = repr(cg.tensor([1.5, -2.25]))
    assert "1.5" in r and "2.25" in r
    assert "float32" in r
    r64 = repr(cg.tensor(np.array([0.125])))
    assert "0.125" in r64 and "float64" in r64


def test_repr_shows_requires_grad_and_grad_fn():
    x = cg.tensor([3.5, 1.0], requires_grad=True)
    assert "requires_grad" in repr(x)
    y = x @ cg.tensor([1.0, 1.0])
    ry = repr(y)
    assert "grad_fn" in ry or "matmul" in ry
    assert "4.5" in ry


# ======================================================================
# Indexing (values; gradients are in test_gradcheck.py)
# ======================================================================

_IDX_CASES = [
    1,
    -1,
    slice(1, 3),
    slice(None, None, 2),
    slice(None, None, -1),
    (1, 2),
    (slice(None), 0),
    (-1, slice(1, None)),
    (None,),
    (slice(None), None, 1),
    (Ellipsis, 1),
    (0, Ellipsis),
    [0, 2, 0],
    [3, 1],
    [-1, 0],
    (slice(None), 2, slice(0, 3, 2)),
]


@pytest.mark.parametrize("idx", _IDX_CASES, ids=[repr(i) for i in _IDX_CASES])
def test_indexing_matches_numpy(idx):
    a = np.arange(4 * 3 * 5, dtype=F64).reshape(4, 3, 5)
    t = cg.tensor(a)
    out = t[idx]
    expected = a[idx if not isinstance(idx, list) else np.array(idx)]
    assert out.shape == expected.shape
    np.testing.assert_array_equal(arr(out), expected)


def test_indexing_with_ndarray_gather_repeats():
    a = np.arange(12, dtype=F64).reshape(4, 3)
    t = cg.tensor(a)
    idx = np.array([3, 3, 0, 1, 3], dtype=np.int64)
    np.testing.assert_array_equal(arr(t[idx]), a[idx])
    idx2 = np.array([[0, 1], [2, 2]])
    np.testing.assert_array_equal(arr(t[idx2]), a[idx2])


def test_indexing_with_int64_tensor():
    a = np.arange(12, dtype=F64).reshape(4, 3)
    t = cg.tensor(a)
    idx = cg.tensor([2, 0, 2], dtype=cg.int64)
    np.testing.assert_array_equal(arr(t[idx]), a[[2, 0, 2]])


def test_int_index_gives_0d():
    t = cg.tensor(np.array([1.0, 2.0, 3.0]))
    s = t[1]
    assert s.shape == ()
    assert s.item() == 2.0


# ======================================================================
# Views / shape ops
# ======================================================================


def _a234():
    return np.arange(24, dtype=F64).reshape(2, 3, 4)


@pytest.mark.parametrize(
    "fn, np_fn",
    [
        (lambda t: t.reshape(4, 6), lambda a: a.reshape(4, 6)),
        (lambda t: t.reshape((6, 4)), lambda a: a.reshape(6, 4)),
        (lambda t: t.reshape(-1), lambda a: a.reshape(-1)),
        (lambda t: t.reshape(3, -1), lambda a: a.reshape(3, -1)),
        (lambda t: t.view(2, 12), lambda a: a.reshape(2, 12)),
        (lambda t: t.view(-1, 2), lambda a: a.reshape(-1, 2)),
        (lambda t: t.flatten(), lambda a: a.reshape(-1)),
        (lambda t: t.flatten(1), lambda a: a.reshape(2, 12)),
        (lambda t: t.flatten(start_dim=2), lambda a: a),
        (lambda t: t.transpose(0, 2), lambda a: a.transpose(2, 1, 0)),
        (lambda t: t.transpose(-1, -2), lambda a: a.transpose(0, 2, 1)),
        (lambda t: t.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
        (lambda t: t.permute((1, 2, 0)), lambda a: a.transpose(1, 2, 0)),
        (lambda t: t.unsqueeze(0), lambda a: a[None]),
        (lambda t: t.unsqueeze(-1), lambda a: a[..., None]),
        (lambda t: t.unsqueeze(1), lambda a: a[:, None]),
        (lambda t: t.unsqueeze(1).squeeze(1), lambda a: a),
        (lambda t: t.squeeze(0), lambda a: a),  # squeeze of a non-1 dim is a no-op
        (lambda t: t.reshape(1, 2, 1, 12, 1).squeeze(), lambda a: a.reshape(2, 12)),
        (lambda t: t.reshape(1, 2, 1, 12, 1).squeeze(2), lambda a: a.reshape(1, 2, 12, 1)),
        (lambda t: t.reshape(1, 2, 1, 12, 1).squeeze(-1), lambda a: a.reshape(1, 2, 1, 12)),
        (lambda t: t.reshape(6, 4).T, lambda a: a.reshape(6, 4).T),
    ],
)
def test_shape_ops_match_numpy(fn, np_fn):
    a = _a234()
    out = fn(cg.tensor(a))
    expected = np_fn(a)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(arr(out), expected)


def test_transpose_T_on_2d():
    a = np.arange(6, dtype=F64).reshape(2, 3)
    t = cg.tensor(a).T
    assert t.shape == (3, 2)
    np.testing.assert_array_equal(arr(t), a.T)


@pytest.mark.parametrize(
    "name, args",
    [
        ("reshape", (6, 4)),
        ("view", (6, 4)),
        ("flatten", ()),
        ("transpose", (0, 1)),
        ("permute", (2, 1, 0)),
        ("unsqueeze", (0,)),
        ("squeeze", ()),
    ],
)
def test_shape_ops_function_forms(name, args):
    a = _a234()
    t = cg.tensor(a)
    via_method = getattr(t, name)(*args)
    via_func = getattr(cg, name)(t, *args)
    assert via_func.shape == via_method.shape
    np.testing.assert_array_equal(arr(via_func), arr(via_method))


# ======================================================================
# Operators
# ======================================================================

_BIN = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("pow", lambda a, b: a**b),
]

_BCAST = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 3, 4)),
    ((2, 1, 4), (3, 1)),
    ((), (2, 3)),
]


@pytest.mark.parametrize("shapes", _BCAST, ids=[f"{a}x{b}" for a, b in _BCAST])
@pytest.mark.parametrize("name, op", _BIN, ids=[n for n, _ in _BIN])
def test_binary_operators_broadcast_like_numpy(backend, name, op, shapes, rng):
    a = rng.uniform(0.5, 2.0, size=shapes[0])
    b = rng.uniform(0.5, 2.0, size=shapes[1])
    expected = op(a, b)
    for x, y in [(cg.tensor(a), cg.tensor(b)), (cg.tensor(a), b), (a, cg.tensor(b))]:
        out = op(x, y)
        assert isinstance(out, cg.Tensor)
        assert out.shape == expected.shape
        assert_close(out, expected)


@pytest.mark.parametrize("name, op", _BIN, ids=[n for n, _ in _BIN])
def test_binary_operators_with_python_numbers(backend, name, op):
    a = np.array([[0.5, 1.0, 2.0], [3.0, 1.5, 0.25]])
    t = cg.tensor(a)
    assert_close(op(t, 2.0), op(a, 2.0))
    assert_close(op(2.0, t), op(2.0, a))
    assert_close(op(t, 3), op(a, 3))
    assert_close(op(3, t), op(3, a))


def test_unary_neg(backend):
    a = np.array([1.0, -2.0, 0.0])
    assert_close(-cg.tensor(a), -a)


_MM = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((1, 64, 33), (33, 17)),
]


@pytest.mark.parametrize("shapes", _MM, ids=[f"{a}@{b}" for a, b in _MM])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_matmul_matches_np_matmul(backend, shapes, dtype, rng):
    a = rng.standard_normal(shapes[0]).astype(dtype)
    b = rng.standard_normal(shapes[1]).astype(dtype)
    expected = np.matmul(a.astype(F64), b.astype(F64))
    out = cg.tensor(a) @ cg.tensor(b)
    assert out.shape == expected.shape
    assert out.dtype == dtype
    tol = 1e-11 if dtype == F64 else 2e-5
    assert_close(out, expected, rtol=tol, atol=tol * 10)
    assert_close(cg.matmul(cg.tensor(a), cg.tensor(b)), expected, rtol=tol, atol=tol * 10)
    # ndarray on either side
    assert_close(a @ cg.tensor(b), expected, rtol=tol, atol=tol * 10)
    assert_close(cg.tensor(a) @ b, expected, rtol=tol, atol=tol * 10)


def test_matmul_larger_c_kernel_matches_numpy(backend, rng):
    # big enough to go through blocking / threading paths
    a = rng.standard_normal((130, 257))
    b = rng.standard_normal((257, 67))
    assert_close(cg.tensor(a) @ cg.tensor(b), a @ b, rtol=1e-10, atol=1e-10)
    assert_close(cg.tensor(a.T.copy()).T @ cg.tensor(b), a @ b, rtol=1e-10, atol=1e-10)
    a32, b32 = a.astype(F32), b.astype(F32)
    assert_close(cg.tensor(a32) @ cg.tensor(b32), a @ b, rtol=1e-4, atol=1e-4)


_CMP = [
    ("lt", lambda a, b: a < b),
    ("le", lambda a, b: a <= b),
    ("gt", lambda a, b: a > b),
    ("ge", lambda a, b: a >= b),
    ("eq", lambda a, b: a == b),
    ("ne", lambda a, b: a != b),
]


@pytest.mark.parametrize("name, op", _CMP, ids=[n for n, _ in _CMP])
def test_comparisons_return_tensors_without_grad(name, op):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    x = cg.tensor(a, requires_grad=True)
    out = op(x, cg.tensor(b))
    assert isinstance(out, cg.Tensor)
    assert out.requires_grad is False
    assert out.grad_fn is None
    assert out.shape == (2, 3)
    np.testing.assert_array_equal(arr(out).astype(bool), op(a, b))
    # with an ndarray, and with Python numbers on either side
    np.testing.assert_array_equal(arr(op(x, b)).astype(bool), op(a, b))
    np.testing.assert_array_equal(arr(op(x, 2.0)).astype(bool), op(a, 2.0))
    np.testing.assert_array_equal(arr(op(2.0, x)).astype(bool), op(2.0, a))


# ======================================================================
# Elementwise and reduction methods (forward values; gradients elsewhere)
# ======================================================================


def _np_gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _np_gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


_X = np.array([[-2.5, -1.0, -0.3, 0.2], [0.7, 1.0, 2.0, 3.5]])

_UNARY = [
    ("exp", (), {}, np.exp),
    ("log", (), {}, lambda a: np.log(np.abs(a))),
    ("sqrt", (), {}, lambda a: np.sqrt(np.abs(a))),
    ("abs", (), {}, np.abs),
    ("sin", (), {}, np.sin),
    ("cos", (), {}, np.cos),
    ("tanh", (), {}, np.tanh),
    ("sigmoid", (), {}, lambda a: 1 / (1 + np.exp(-a))),
    ("relu", (), {}, lambda a: np.maximum(a, 0)),
    ("leaky_relu", (), {}, lambda a: np.where(a > 0, a, 0.01 * a)),
    ("leaky_relu", (0.2,), {}, lambda a: np.where(a > 0, a, 0.2 * a)),
    ("leaky_relu", (), {"negative_slope": 0.3}, lambda a: np.where(a > 0, a, 0.3 * a)),
    ("softplus", (), {}, _np_softplus),
    ("softplus", (), {"beta": 2.0, "threshold": 3.0}, lambda a: _np_softplus(a, 2.0, 3.0)),
    ("gelu", (), {}, _np_gelu),
    ("gelu", (), {"approximate": "none"}, _np_gelu),
    ("gelu", (), {"approximate": "tanh"}, _np_gelu_tanh),
    ("clamp", (-1.0, 1.5), {}, lambda a: np.clip(a, -1.0, 1.5)),
    ("clamp", (), {"min": 0.0}, lambda a: np.maximum(a, 0.0)),
    ("clamp", (), {"max": 0.5}, lambda a: np.minimum(a, 0.5)),
    ("softmax", (), {}, lambda a: np.exp(a) / np.exp(a).sum(-1, keepdims=True)),
    ("softmax", (0,), {}, lambda a: np.exp(a) / np.exp(a).sum(0, keepdims=True)),
    ("softmax", (), {"dim": 1}, lambda a: np.exp(a) / np.exp(a).sum(1, keepdims=True)),
    ("log_softmax", (), {}, lambda a: a - np.log(np.exp(a).sum(-1, keepdims=True))),
    ("log_softmax", (), {"dim": 0}, lambda a: a - np.log(np.exp(a).sum(0, keepdims=True))),
]


def _prep_input(name, a):
    return np.abs(a) if name in ("log", "sqrt") else a


@pytest.mark.parametrize(
    "name, args, kwargs, ref", _UNARY, ids=[f"{u[0]}{u[1]}{u[2]}" for u in _UNARY]
)
@pytest.mark.parametrize("dtype", [F32, F64])
def test_elementwise_methods_and_functions(backend, name, args, kwargs, ref, dtype):
    a = _prep_input(name, _X).astype(dtype)
    expected = ref(a.astype(F64))
    t = cg.tensor(a)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == F64 else dict(rtol=2e-6, atol=2e-6)
    m = getattr(t, name)(*args, **kwargs)
    assert m.dtype == dtype
    assert_close(m, expected, **tol)
    f = getattr(cg, name)(t, *args, **kwargs)
    assert f.dtype == dtype
    assert_close(f, expected, **tol)


def test_softmax_is_stable_for_large_inputs(backend):
    for dtype in (F32, F64):
        t = cg.tensor(
            np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1000.0, -1000.0]], dtype=dtype)
        )
        e = np.exp(np.array([0.0, 1.0, 2.0]))
        s = arr(t.softmax(dim=-1))
        assert np.all(np.isfinite(s))
        np.testing.assert_allclose(s[0], e / e.sum(), rtol=1e-5)
        np.testing.assert_allclose(s[1], [1 / 3] * 3, rtol=1e-5)
        ls = arr(t.log_softmax(dim=-1))
        assert np.all(np.isfinite(ls))
        np.testing.assert_allclose(ls[0], np.log(e / e.sum()), rtol=1e-5)


def test_softplus_threshold_is_linear_region(backend):
    t = cg.tensor(np.array([30.0, 100.0, 1000.0]))
    out = arr(t.softplus())
    np.testing.assert_array_equal(out, [30.0, 100.0, 1000.0])
    out2 = arr(cg.tensor(np.array([2.0])).softplus(beta=1.0, threshold=1.0))
    np.testing.assert_array_equal(out2, [2.0])


_RED = [
    ("sum", {}, lambda a: a.sum()),
    ("sum", {"dim": 1}, lambda a: a.sum(1)),
    ("sum", {"dim": -1}, lambda a: a.sum(-1)),
    ("sum", {"dim": (0, 2)}, lambda a: a.sum((0, 2))),
    ("sum", {"dim": (0, 2), "keepdim": True}, lambda a: a.sum((0, 2), keepdims=True)),
    ("sum", {"dim": 1, "keepdim": True}, lambda a: a.sum(1, keepdims=True)),
    ("sum", {"axis": 0}, lambda a: a.sum(0)),
    ("sum", {"axis": (1, 2)}, lambda a: a.sum((1, 2))),
    ("mean", {}, lambda a: a.mean()),
    ("mean", {"dim": 0}, lambda a: a.mean(0)),
    ("mean", {"dim": (-1, -2)}, lambda a: a.mean((-1, -2))),
    ("mean", {"dim": (0, 1), "keepdim": True}, lambda a: a.mean((0, 1), keepdims=True)),
    ("mean", {"axis": 2, "keepdim": True}, lambda a: a.mean(2, keepdims=True)),
    ("amax", {}, lambda a: a.max()),
    ("amax", {"dim": 1}, lambda a: a.max(1)),
    ("amax", {"dim": (0, 2)}, lambda a: a.max((0, 2))),
    ("amax", {"dim": -1, "keepdim": True}, lambda a: a.max(-1, keepdims=True)),
    ("amax", {"axis": 0}, lambda a: a.max(0)),
]


@pytest.mark.parametrize("name, kwargs, ref", _RED, ids=[f"{r[0]}{r[1]}" for r in _RED])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_reductions(backend, name, kwargs, ref, dtype, rng):
    a = rng.standard_normal((2, 3, 4)).astype(dtype)
    expected = ref(a.astype(F64))
    t = cg.tensor(a)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == F64 else dict(rtol=1e-5, atol=1e-5)
    m = getattr(t, name)(**kwargs)
    assert m.dtype == dtype
    assert m.shape == np.shape(expected)
    assert_close(m, expected, **tol)
    f = getattr(cg, name)(t, **kwargs)
    assert f.shape == np.shape(expected)
    assert_close(f, expected, **tol)


def test_sum_positional_dim(backend):
    a = np.arange(6, dtype=F64).reshape(2, 3)
    assert_close(cg.tensor(a).sum(0), a.sum(0))
    assert_close(cg.tensor(a).mean(1, True), a.mean(1, keepdims=True))


def test_max_whole_tensor(backend):
    a = np.array([[1.0, 7.0, -3.0], [2.0, 6.5, 0.0]])
    m = cg.tensor(a).max()
    assert m.shape == ()
    assert m.item() == 7.0
    assert cg.max(cg.tensor(a)).item() == 7.0


def test_argmax(backend):
    a = np.array([[1.0, 7.0, -3.0], [9.0, 6.5, 0.0]])
    t = cg.tensor(a, requires_grad=True)
    am = t.argmax()
    assert am.dtype == np.int64
    assert am.requires_grad is False
    assert am.item() == 3
    am1 = t.argmax(dim=1)
    assert am1.dtype == np.int64
    assert am1.shape == (2,)
    assert am1.tolist() == [1, 0]
    assert cg.argmax(t, dim=0).tolist() == [1, 0, 1]
    assert cg.argmax(t, axis=0).tolist() == [1, 0, 1]


def test_large_reductions_match_numpy(backend, rng):
    a = rng.standard_normal((300, 257))
    t = cg.tensor(a)
    assert_close(t.sum(), a.sum(), rtol=1e-10, atol=1e-9)
    assert_close(t.sum(dim=0), a.sum(0), rtol=1e-10, atol=1e-10)
    assert_close(t.mean(dim=1), a.mean(1), rtol=1e-10, atol=1e-10)
    assert_close(t.amax(dim=0), a.max(0))
    a32 = a.astype(F32)
    assert_close(cg.tensor(a32).sum(), a.astype(F32).astype(F64).sum(), rtol=1e-4, atol=1e-3)


# ======================================================================
# cat / stack
# ======================================================================


def test_cat(backend):
    a = np.arange(6, dtype=F64).reshape(2, 3)
    b = np.arange(9, dtype=F64).reshape(3, 3) + 100
    c = np.arange(4, dtype=F64).reshape(2, 2) - 50
    np.testing.assert_array_equal(arr(cg.cat([cg.tensor(a), cg.tensor(b)])), np.concatenate([a, b]))
    np.testing.assert_array_equal(
        arr(cg.cat([cg.tensor(a), cg.tensor(c)], dim=1)), np.concatenate([a, c], 1)
    )
    np.testing.assert_array_equal(
        arr(cg.cat((cg.tensor(a), cg.tensor(c)), dim=-1)), np.concatenate([a, c], -1)
    )
    one = cg.cat([cg.tensor(a)])
    np.testing.assert_array_equal(arr(one), a)


def test_stack(backend):
    a = np.arange(6, dtype=F64).reshape(2, 3)
    b = a + 10
    for dim in (0, 1, 2, -1):
        out = cg.stack([cg.tensor(a), cg.tensor(b)], dim=dim)
        expected = np.stack([a, b], axis=dim)
        assert out.shape == expected.shape
        np.testing.assert_array_equal(arr(out), expected)


def test_cat_promotes_mixed_float_dtypes():
    a = cg.tensor(np.ones(2, dtype=F32))
    b = cg.tensor(np.ones(3, dtype=F64))
    assert cg.cat([a, b]).dtype == np.float64


# ======================================================================
# In-place ops
# ======================================================================


def test_inplace_ops_values_and_return_self(backend):
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = cg.tensor(a)
    r = t.add_(1.0)
    assert r is t
    assert_close(t, a + 1)
    assert t.sub_(cg.tensor(np.array([1.0, 2.0]))) is t  # broadcast (2,) into (2, 2)
    assert_close(t, a + 1 - np.array([1.0, 2.0]))
    assert t.mul_(2.0) is t
    assert_close(t, (a + 1 - np.array([1.0, 2.0])) * 2)
    assert t.mul_(cg.tensor(np.array([[0.5], [2.0]]))) is t
    assert_close(t, (a + 1 - np.array([1.0, 2.0])) * 2 * np.array([[0.5], [2.0]]))
    assert t.fill_(3.5) is t
    assert_close(t, np.full((2, 2), 3.5))
    assert t.copy_(cg.tensor(np.array([[9.0, 8.0], [7.0, 6.0]]))) is t
    assert_close(t, [[9.0, 8.0], [7.0, 6.0]])
    assert t.zero_() is t
    assert_close(t, np.zeros((2, 2)))
    assert t.shape == (2, 2)
    assert t.dtype == np.float64


def test_inplace_ops_keep_float32_dtype(backend):
    t = cg.tensor(np.ones(3, dtype=F32))
    t.add_(cg.tensor(np.ones(3, dtype=F64)))
    t.mul_(2.5)
    assert t.dtype == np.float32
    assert_close(t, [5.0, 5.0, 5.0])


def test_inplace_is_visible_through_numpy_view(backend):
    t = cg.tensor(np.zeros(3))
    a = t.numpy()
    t.add_(2.0)
    np.testing.assert_array_equal(a, [2.0, 2.0, 2.0])


def test_augmented_assignment_under_no_grad_is_in_place(backend):
    w = cg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    g = cg.tensor(np.array([10.0, 20.0]))
    ident = id(w)
    with cg.no_grad():
        w -= 0.1 * g
    assert id(w) == ident
    assert w.requires_grad is True and w.is_leaf is True
    assert_close(w, [0.0, 0.0], atol=1e-15)


# ======================================================================
# Non-contiguous and foreign-layout inputs reach the kernels correctly
# ======================================================================

_LAYOUTS = {
    "transposed": lambda a: a.T,
    "strided": lambda a: a[:, ::2],
    "fortran": lambda a: np.asfortranarray(a),
    "negative_stride": lambda a: a[::-1],
    "offset": lambda a: a[1:, 1:],
}


@pytest.mark.parametrize("layout", list(_LAYOUTS))
@pytest.mark.parametrize("dtype", [F32, F64])
def test_from_numpy_foreign_layouts(backend, layout, dtype, rng):
    base = rng.uniform(0.5, 2.0, size=(6, 8)).astype(dtype)
    a = _LAYOUTS[layout](base)
    t = cg.from_numpy(a)
    ref = a.astype(F64)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == F64 else dict(rtol=1e-5, atol=1e-5)
    assert_close(t * 2.0 + 1.0, ref * 2.0 + 1.0, **tol)
    assert_close(t.exp(), np.exp(ref), **tol)
    assert_close(t.sum(dim=0), ref.sum(0), **tol)
    assert_close(t.amax(dim=1), ref.max(1), **tol)
    assert_close(t.softmax(dim=-1), np.exp(ref) / np.exp(ref).sum(-1, keepdims=True), **tol)
    assert_close(
        t @ t.T,
        ref @ ref.T,
        rtol=1e-10 if dtype == F64 else 1e-5,
        atol=1e-10 if dtype == F64 else 1e-4,
    )
    assert_close(t + cg.tensor(np.ascontiguousarray(a)), 2 * ref, **tol)


# ======================================================================
# axis= alias: API.md says "`dim` may be an int or a tuple of ints. `axis=`
# is accepted as an alias" -- read here as applying to every method that
# takes `dim` (not only the reductions).
# ======================================================================


@pytest.mark.parametrize(
    "name, dim",
    [
        ("sum", 1),
        ("mean", (0, 1)),
        ("amax", -1),
        ("argmax", 1),
        ("softmax", 1),
        ("log_softmax", 0),
        ("squeeze", 2),
        ("unsqueeze", 0),
    ],
)
def test_axis_alias_on_every_dim_method(name, dim):
    t = cg.tensor(np.arange(6.0).reshape(2, 3, 1) / 7.0)
    via_dim = getattr(t, name)(dim=dim)
    via_axis = getattr(t, name)(axis=dim)
    assert via_axis.shape == via_dim.shape
    np.testing.assert_array_equal(arr(via_axis), arr(via_dim))
    via_func = getattr(cg, name)(t, axis=dim)
    np.testing.assert_array_equal(arr(via_func), arr(via_dim))
