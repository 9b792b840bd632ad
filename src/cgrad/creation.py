"""Tensor constructors and the random generator that `manual_seed` seeds."""

import numpy as np

from .tensor import _F32, Tensor, _resolve_dtype, _shape_arg, to_array

_rng = np.random.default_rng()


def manual_seed(seed):
    """Seed every random constructor and initializer."""
    global _rng
    _rng = np.random.default_rng(int(seed))


def generator():
    return _rng


def _new(arr, requires_grad):
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad = True
    return t


def _float_dtype(dtype, who):
    return _resolve_dtype(dtype, who) or _F32


def _dims(shape, who):
    dims = _shape_arg(shape, who)
    for d in dims:
        if d < 0:
            raise ValueError(f"{who}: negative dimension {d} in shape {dims}")
    return dims


def _alloc(who, make, shape, *args, **kw):
    """Allocate through NumPy; a size NumPy cannot hold raises an error naming the op."""
    try:
        return make(shape, *args, **kw)
    except MemoryError:
        raise RuntimeError(f"{who}: cannot allocate memory for a tensor of shape {shape}") from None
    except (ValueError, TypeError) as e:
        raise type(e)(f"{who}: {e} (shape {shape})") from None


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of data (number, nested list, ndarray or Tensor)."""
    return _new(to_array(data, dtype, "tensor"), requires_grad)


def from_numpy(a):
    """A tensor that shares memory with the ndarray a."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected an ndarray, got {type(a).__name__}")
    if a.dtype.kind in "cOUSVMm":
        raise TypeError(f"from_numpy: unsupported data type {a.dtype}")
    return Tensor._make(a)


def zeros(*shape, dtype=None, requires_grad=False):
    return _new(
        _alloc("zeros", np.zeros, _dims(shape, "zeros"), dtype=_float_dtype(dtype, "zeros")),
        requires_grad,
    )


def ones(*shape, dtype=None, requires_grad=False):
    return _new(
        _alloc("ones", np.ones, _dims(shape, "ones"), dtype=_float_dtype(dtype, "ones")),
        requires_grad,
    )


def empty(*shape, dtype=None, requires_grad=False):
    return _new(
        _alloc("empty", np.empty, _dims(shape, "empty"), dtype=_float_dtype(dtype, "empty")),
        requires_grad,
    )


def full(shape, value, dtype=None, requires_grad=False):
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return _new(
        _alloc("full", np.full, _dims(shape, "full"), value, dtype=_float_dtype(dtype, "full")),
        requires_grad,
    )


def zeros_like(t, dtype=None, requires_grad=False):
    return _new(
        np.zeros(t.shape, dtype=_resolve_dtype(dtype, "zeros_like") or t.dtype), requires_grad
    )


def ones_like(t, dtype=None, requires_grad=False):
    return _new(
        np.ones(t.shape, dtype=_resolve_dtype(dtype, "ones_like") or t.dtype), requires_grad
    )


def full_like(t, value, dtype=None, requires_grad=False):
    return _new(
        np.full(t.shape, value, dtype=_resolve_dtype(dtype, "full_like") or t.dtype), requires_grad
    )


def randn(*shape, dtype=None, requires_grad=False):
    """Standard normal samples."""
    dt = _float_dtype(dtype, "randn")
    return _new(
        _alloc("randn", _rng.standard_normal, _dims(shape, "randn"), dtype=dt), requires_grad
    )


def rand(*shape, dtype=None, requires_grad=False):
    """Uniform samples on [0, 1)."""
    dt = _float_dtype(dtype, "rand")
    return _new(_alloc("rand", _rng.random, _dims(shape, "rand"), dtype=dt), requires_grad)


def randint(low, high=None, size=(), dtype=None):
    if high is None:
        low, high = 0, low
    dt = _resolve_dtype(dtype, "randint") or np.dtype(np.int64)
    return Tensor._make(_rng.integers(low, high, size=tuple(size)).astype(dt))


def arange(start, stop=None, step=1, dtype=None, requires_grad=False):
    """Values from start to stop (exclusive). All-int arguments give int64, as torch."""
    if stop is None:
        start, stop = 0, start
    ints = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
    dt = _resolve_dtype(dtype, "arange") or (np.dtype(np.int64) if ints else _F32)
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    return _new(np.arange(start, stop, step).astype(dt), requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    return _new(
        np.linspace(start, end, int(steps)).astype(_float_dtype(dtype, "linspace")), requires_grad
    )


def eye(n, m=None, dtype=None, requires_grad=False):
    return _new(np.eye(n, m, dtype=_float_dtype(dtype, "eye")), requires_grad)
