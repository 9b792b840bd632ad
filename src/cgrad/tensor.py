"""Tensor: an ndarray for storage plus the autodiff bookkeeping.

A Tensor holds `data` (a NumPy ndarray: memory, shape, strides, views),
`requires_grad`, `grad`, and `grad_fn` (the tape entry that made it, or None
for a leaf). Every differentiable method builds on `ops.apply`, so it records
one tape entry when grad is enabled and an input requires grad.

dtype rules (API.md): float32 is the default; Python numbers and lists become
float32; float64 arrays stay float64; tensor-with-tensor ops promote to the
wider float; Python scalars and 0-d operands never change a tensor's dtype.
Integer and bool tensors (targets, indices, masks) never require grad;
arithmetic on them alone runs in NumPy and records nothing.
"""

import numbers
import weakref

import numpy as np

from . import _tape, ops, ops_nn
from .engine import root_grad, run_backward
from .grad_mode import _mode, no_grad
from .ops import apply

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_ALLOWED = {np.dtype(t) for t in (np.float32, np.float64, np.int64, np.int32, np.bool_)}


def _check_kind(arr, who):
    if arr.dtype.kind in "cOUSVMm":
        raise TypeError(
            f"{who}: unsupported data type {arr.dtype} (cgrad supports "
            "float32, float64, and int64 for indices and class targets)"
        )


def _resolve_dtype(dtype, who):
    if dtype is None:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{who}: unknown dtype {dtype!r}") from None
    if dt not in _ALLOWED:
        raise TypeError(f"{who}: unsupported dtype {dt}; use cg.float32, cg.float64 or cg.int64")
    return dt


def to_array(data, dtype=None, who="tensor", copy=True):
    """Turn user data into an ndarray under cgrad's dtype rules."""
    dt = _resolve_dtype(dtype, who)
    if isinstance(data, Tensor):
        arr = data.data
        if dt is None:
            dt = arr.dtype
    elif isinstance(data, np.ndarray):
        arr = data
        _check_kind(arr, who)
        if dt is None:
            dt = arr.dtype if arr.dtype in (_F32, _F64) else _F32
    else:
        if isinstance(data, (str, bytes, complex)):
            raise TypeError(f"{who}: unsupported data type {type(data).__name__}")
        try:
            arr = np.array(data)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{who}: cannot make a tensor from this data ({e})") from None
        _check_kind(arr, who)
        if dt is None:
            dt = _F32
    if copy or arr.dtype != dt:
        arr = np.array(arr, dtype=dt, copy=True)
    return arr


class Tensor(_tape.FastOps):
    """An n-dimensional array that can record the ops applied to it.

    Its fields (data, _rg, grad, grad_fn, _out_idx, _vc, name) are C slots of
    _tape.TensorBase, so the compiled tape reads them without a lookup."""

    __slots__ = ()
    __array_priority__ = 1000
    __array_ufunc__ = None  # NumPy defers to our reflected operators

    def __init__(self, data, dtype=None, requires_grad=False):
        self.data = to_array(data, dtype, "tensor")
        self._rg = False
        self.grad = None
        self.grad_fn = None
        self._out_idx = 0
        self._vc = [0]
        self.name = None
        if requires_grad:
            self.requires_grad = True

    _make = staticmethod(_tape.make)  # a Tensor around an ndarray: no copy, no checks

    # ------------------------------------------------------------ attributes
    @property
    def requires_grad(self):
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag):
        flag = bool(flag)
        if flag and self.data.dtype.kind != "f":
            raise RuntimeError(
                f"only tensors of floating point dtype can require gradients, got {self.data.dtype}"
            )
        if not flag and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables; "
                "use .detach() for a non-leaf"
            )
        self._rg = flag

    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def device(self):
        return "cpu"

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    def numel(self):
        return int(self.data.size)

    def dim(self):
        return self.data.ndim

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    # ------------------------------------------------------------ conversion
    def numpy(self):
        return self.data

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return np.array(self.data, copy=True) if copy else self.data

    def _one(self, who):
        if self.data.size != 1:
            raise ValueError(
                f"{who}: only one-element tensors can be converted to Python "
                f"scalars, got shape {self.shape}"
            )
        return self.data.reshape(())[()]

    def item(self):
        return self._one("item").item()

    def tolist(self):
        return self.data.tolist()

    def __float__(self):
        return float(self._one("float"))

    def __int__(self):
        return int(self._one("int"))

    def __bool__(self):
        return bool(self._one("bool"))

    def __index__(self):
        if self.data.dtype.kind not in "iu":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._one("index"))

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    __hash__ = object.__hash__

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = f", dtype={self.data.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{self.grad_fn.name}>"
        elif self._rg:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def to(self, dtype):
        """A copy in another dtype (differentiable); `self` if it already is that dtype."""
        if isinstance(dtype, str) and dtype == "cpu":
            return self
        dt = _resolve_dtype(dtype, "to")
        if dt == self.data.dtype:
            return self
        if dt.kind != "f":
            return Tensor._make(self.data.astype(dt))
        return apply(ops.Cast, self, dtype=dt)

    def float(self):
        return self.to(_F32)

    def double(self):
        return self.to(_F64)

    def long(self):
        return self.to(np.int64)

    def cpu(self):
        return self

    def clone(self):
        return apply(ops.Clone, self)

    def contiguous(self):
        return self if self.data.flags.c_contiguous else self.clone()

    # ------------------------------------------------------------ autodiff
    def backward(self, gradient=None, retain_graph=None):
        if not self._rg:
            raise RuntimeError(
                "backward: element 0 of tensors does not require grad and does not have a grad_fn"
            )
        run_backward(
            [self], [root_grad(self, gradient, "backward")], retain_graph=bool(retain_graph)
        )

    def detach(self):
        t = Tensor._make(self.data)
        t._vc = self._vc
        return t

    def detach_(self):
        self.grad_fn = None
        self._rg = False
        return self

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        if self.grad_fn is None:
            return
        if not self._rg:
            raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
        node = self.grad_fn
        if node._retained is None:
            node._retained = {}
        node._retained[self._out_idx] = weakref.ref(self)

    # ------------------------------------------------------------ arithmetic
    # + - * / @ and unary minus are inherited from _tape.FastOps (a compiled
    # fast path that falls back to binary()/matmul()/unary() below for
    # anything but same-dtype float tensors). add/sub/mul/div/pow and the
    # elementwise functions are built from the op table (methods.py).

    def __pow__(self, o):
        return binary(ops.Pow, self, o)

    def __rpow__(self, o):
        return binary(ops.Pow, o, self)

    def __pos__(self):
        return self

    def matmul(self, o):
        return matmul(self, o)

    # comparisons carry no grad and give bool tensors, as in torch
    def _cmp(self, o, fn):
        other = o.data if isinstance(o, Tensor) else _operand(o, self.data.dtype, "compare")[0].data
        try:
            return Tensor._make(np.asarray(fn(self.data, other)))
        except ValueError:
            shape = getattr(other, "shape", ())
            raise ValueError(
                f"compare: shapes {self.shape} and {tuple(shape)} cannot be broadcast together"
            ) from None

    def __lt__(self, o):
        return self._cmp(o, np.less)

    def __le__(self, o):
        return self._cmp(o, np.less_equal)

    def __gt__(self, o):
        return self._cmp(o, np.greater)

    def __ge__(self, o):
        return self._cmp(o, np.greater_equal)

    def __eq__(self, o):
        return self._cmp(o, np.equal)

    def __ne__(self, o):
        return self._cmp(o, np.not_equal)

    # Elementwise functions (exp, tanh, relu, clamp, ...), reductions (sum,
    # mean, amax) and softmax are built from the op table (methods.py).

    def _unary(self, op, *params):
        """Testing aid: op through the generic route (what the fast path falls back to)."""
        return unary(op, self, params)

    def amin(self, dim=None, keepdim=False, axis=None):
        return -((-self).amax(dim, keepdim, axis))

    def max(self, dim=None, keepdim=False):
        """max() over everything; max(dim) gives (values, indices) as torch."""
        if dim is None:
            return self.amax()
        return self.amax(dim, keepdim), self.argmax(dim, keepdim)

    def min(self, dim=None, keepdim=False):
        if dim is None:
            return self.amin()
        return self.amin(dim, keepdim), self.argmin(dim, keepdim)

    def argmax(self, dim=None, keepdim=False, axis=None):
        return self._arg(np.argmax, dim, keepdim, "argmax", axis)

    def argmin(self, dim=None, keepdim=False, axis=None):
        return self._arg(np.argmin, dim, keepdim, "argmin", axis)

    def _arg(self, fn, dim, keepdim, who, axis=None):
        if axis is not None:
            dim = axis
        if self.data.size == 0:
            raise ValueError(f"{who}: cannot take the {who} of an empty tensor")
        if dim is not None and not isinstance(dim, (int, np.integer)):
            _bad_dim(who, dim)
        if dim is None:
            r = np.asarray(fn(self.data), dtype=np.int64)
            return Tensor._make(r.reshape((1,) * self.ndim) if keepdim else r)
        (d,) = ops.norm_axes(who, dim, self.ndim) or (0,)
        return Tensor._make(np.asarray(fn(self.data, axis=d, keepdims=keepdim), dtype=np.int64))

    # ------------------------------------------------------------ shape
    def reshape(self, *shape):
        return _reshape(self, _shape_arg(shape, "reshape"), "reshape")

    def view(self, *shape):
        return _reshape(self, _shape_arg(shape, "view"), "view")

    def flatten(self, start_dim=0, end_dim=-1):
        for d in (start_dim, end_dim):
            if not isinstance(d, (int, np.integer)):
                _bad_dim("flatten", d)
            if not -max(self.ndim, 1) <= d < max(self.ndim, 1):
                raise IndexError(f"flatten: dim {d} is out of range for shape {self.shape}")
        if self.ndim == 0:
            return self.reshape(1)
        s, e = start_dim % self.ndim, end_dim % self.ndim
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        n = 1
        for d in self.shape[s : e + 1]:
            n *= d
        return self.reshape(self.shape[:s] + (n,) + self.shape[e + 1 :])

    def permute(self, *dims):
        dims = _shape_arg(dims, "permute")
        if sorted(d % max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
            raise ValueError(
                f"permute: dims {dims} are not a permutation of the {self.ndim} "
                f"dimensions of shape {self.shape}"
            )
        dims = tuple(d % self.ndim for d in dims)
        return apply(ops.Permute, self, perm=dims)

    def transpose(self, dim0, dim1):
        n = self.ndim
        for d in (dim0, dim1):
            if not isinstance(d, (int, np.integer)):
                _bad_dim("transpose", d)
            if not -max(n, 1) <= d < max(n, 1):  # a 0-d tensor takes -1 and 0, as torch
                raise IndexError(f"transpose: dim {d} is out of range for shape {self.shape}")
        if n == 0:
            return self
        perm = list(range(n))
        perm[dim0 % n], perm[dim1 % n] = perm[dim1 % n], perm[dim0 % n]
        return apply(ops.Permute, self, perm=tuple(perm))

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with <= 2 dimensions, got shape {self.shape}")
        return self.T

    def unsqueeze(self, dim=None, axis=None):
        dim = dim if axis is None else axis
        if dim is None:
            raise TypeError("unsqueeze: missing the dim argument")
        n = self.ndim + 1
        if not isinstance(dim, (int, np.integer)):
            _bad_dim("unsqueeze", dim)
        if not -n <= dim < n:
            raise IndexError(f"unsqueeze: dim {dim} is out of range for shape {self.shape}")
        d = dim % n
        return _reshape(self, self.shape[:d] + (1,) + self.shape[d:], "unsqueeze")

    def squeeze(self, dim=None, axis=None):
        dim = dim if axis is None else axis
        if dim is None:
            shape = tuple(s for s in self.shape if s != 1)
        else:
            axes = ops.norm_axes("squeeze", dim, self.ndim)
            shape = tuple(s for i, s in enumerate(self.shape) if not (i in axes and s == 1))
        if shape == self.shape:
            return self
        return _reshape(self, shape, "squeeze")

    def expand(self, *sizes):
        sizes = _shape_arg(sizes, "expand")
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: cannot expand shape {self.shape} to {sizes}")
        full = tuple(
            self.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes)
        )
        try:
            np.broadcast_shapes(self.shape, full)
            if np.broadcast_shapes(self.shape, full) != full:
                raise ValueError
        except ValueError:
            raise ValueError(f"expand: cannot expand shape {self.shape} to {sizes}") from None
        return apply(ops.Expand, self, shape=full)

    # ------------------------------------------------------------ indexing
    def __getitem__(self, key):
        key, advanced = _norm_key(key)
        return apply(ops.Index, self, key=key, advanced=advanced)

    def __setitem__(self, key, value):
        key, _ = _norm_key(key)
        v = (
            value
            if isinstance(value, Tensor)
            else Tensor._make(
                to_array(value, self.data.dtype if self.data.dtype.kind == "f" else None, "setitem")
            )
        )
        if _mode.enabled and (self._rg or v._rg):
            self._check_inplace("setitem")
            res = apply(ops.SetItem, self._snapshot(), v, key=key)
            self._take(res)
            return
        try:
            self.data[key] = v.data
        except IndexError as e:
            raise IndexError(f"setitem: {e} (tensor shape {self.shape})") from None
        except ValueError as e:
            raise ValueError(f"setitem: {e}") from None
        self._vc[0] += 1

    # ------------------------------------------------------------ in-place
    def _check_inplace(self, who):
        if self.grad_fn is None and self._rg:
            raise RuntimeError(
                f"{who}: a leaf tensor that requires grad is being used in an "
                "in-place operation; wrap the update in `with cg.no_grad():`"
            )

    def _snapshot(self):
        """The tensor's current autograd identity, holding a copy of its data."""
        s = Tensor._make(np.array(self.data, copy=True))
        s._rg, s.grad_fn, s._out_idx = self._rg, self.grad_fn, self._out_idx
        return s

    def _take(self, res):
        """Make `self` hold res's values and (when recording) its graph position."""
        if res.shape != self.shape:
            raise ValueError(
                f"in-place: output with shape {self.shape} doesn't match "
                f"the broadcast shape {res.shape}"
            )
        np.copyto(self.data, res.data, casting="unsafe")
        self._vc[0] += 1
        if res.grad_fn is not None:
            self.grad_fn, self._out_idx, self._rg = res.grad_fn, 0, True
        return self

    def _inplace_binary(self, op, other, who):
        if self.data.dtype.kind != "f":
            raise RuntimeError(
                f"{who}: in-place arithmetic on a {self.data.dtype} tensor is not supported"
            )
        o = other if isinstance(other, Tensor) else None
        if _mode.enabled and (self._rg or (o is not None and o._rg)):
            self._check_inplace(who)
            res = binary(op, self._snapshot(), other, dtype=self.data.dtype)
        else:
            with no_grad():
                res = binary(op, self, other, dtype=self.data.dtype)
        return self._take(res)

    def add_(self, other, alpha=1):
        if alpha != 1:
            other = other * alpha
        return self._inplace_binary(ops.Add, other, "add_")

    def sub_(self, other, alpha=1):
        if alpha != 1:
            other = other * alpha
        return self._inplace_binary(ops.Sub, other, "sub_")

    def mul_(self, other):
        return self._inplace_binary(ops.Mul, other, "mul_")

    def div_(self, other):
        return self._inplace_binary(ops.Div, other, "div_")

    def __iadd__(self, o):
        return self.add_(o)

    def __isub__(self, o):
        return self.sub_(o)

    def __imul__(self, o):
        return self.mul_(o)

    def __itruediv__(self, o):
        return self.div_(o)

    def _inplace_unary(self, op, params, who):
        """self = f(self): the op recorded on self's current autograd identity."""
        return self._inplace_op(lambda t: unary(op, t, params), who)

    def _inplace_op(self, fn, who):
        """self = fn(self) for a float self, fn recorded on self's current
        autograd identity (a copy of its data stands in for it on the tape)."""
        if self.data.dtype.kind != "f":
            raise RuntimeError(
                f"{who}: in-place op on a {self.data.dtype} tensor is not "
                "supported (the result would be float)"
            )
        if _mode.enabled and self._rg:
            self._check_inplace(who)
            res = fn(self._snapshot())
        else:
            with no_grad():
                res = fn(self)
        return self._take(res)

    def fill_(self, value):
        value = _fparam("fill_", "value", value) if self.data.dtype.kind == "f" else value
        if _mode.enabled and self._rg:
            self._check_inplace("fill_")
            return self._take(apply(ops.Fill, self._snapshot(), value=value))
        self.data[...] = value
        self._vc[0] += 1
        return self

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src):
        s = (
            src
            if isinstance(src, Tensor)
            else Tensor._make(to_array(src, self.data.dtype, "copy_"))
        )
        try:
            np.broadcast_shapes(s.shape, self.shape)
            if np.broadcast_shapes(s.shape, self.shape) != self.shape:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"copy_: source of shape {s.shape} cannot be broadcast to {self.shape}"
            ) from None
        if _mode.enabled and (self._rg or s._rg):
            self._check_inplace("copy_")
            return self._take(apply(ops.Copy, self._snapshot(), s))
        self.data[...] = s.data
        self._vc[0] += 1
        return self


# ---------------------------------------------------------------- helpers
def _fparam(who, name, value):
    """A float parameter (slope, bound, fill value...), or a TypeError naming the op."""
    if isinstance(value, Tensor) and value.data.size == 1:
        value = value.data.reshape(()).item()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise TypeError(f"{who}: {name} must be a real number, got an array of {value.dtype}")
        if value.size == 1:
            value = value.reshape(())
    if isinstance(value, (str, bytes)) or not isinstance(value, (numbers.Real, np.ndarray)):
        raise TypeError(f"{who}: {name} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{who}: {name} must be a real number ({e})") from None


def _bad_dim(op, dim):
    raise TypeError(f"{op}: dim must be an int, got {dim!r}")


def _shape_arg(shape, who="shape"):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    out = []
    for s in shape:
        if isinstance(s, Tensor):
            s = int(s)
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"{who}: shape entries must be ints, got {s!r}")
        out.append(int(s))
    return tuple(out)


def _reshape(t, shape, who):
    n = t.data.size
    neg = [i for i, s in enumerate(shape) if s == -1]
    bad = [s for s in shape if s < -1]
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    ok = (
        not bad
        and len(neg) <= 1
        and ((not neg and known == n) or (neg and known > 0 and n % known == 0))
    )
    if not ok:
        raise ValueError(
            f"{who}: cannot reshape a tensor of shape {t.shape} ({n} elements) into shape {shape}"
        )
    if neg:
        shape = tuple(n // known if s == -1 else s for s in shape)
    if shape == t.shape:
        return t if who == "squeeze" else apply(ops.Reshape, t, shape=shape)
    return apply(ops.Reshape, t, shape=shape)


def _norm_key(key):
    """Turn Tensors in an index key into arrays; report whether it is advanced."""
    items = key if isinstance(key, tuple) else (key,)
    out, advanced = [], False
    for k in items:
        if isinstance(k, Tensor):
            k = k.data
        if isinstance(k, (list, np.ndarray)):
            k = np.asarray(k)
            if k.dtype == np.bool_:
                advanced = True
            elif k.dtype.kind in "iu":
                advanced = True
            elif k.size == 0:
                k = k.astype(np.int64)
                advanced = True
            else:
                raise IndexError(
                    f"index: tensors used as indices must be integer or bool, got {k.dtype}"
                )
        elif isinstance(k, float):
            raise IndexError(f"index: float index {k!r}; use an int")
        out.append(k)
    key = tuple(out) if isinstance(key, tuple) else out[0]
    return key, advanced


def _py_scalar(x):
    return isinstance(x, numbers.Number) and not isinstance(x, (np.ndarray, Tensor))


def _operand(x, like_dtype, who="operand"):
    """Python scalar -> 0-d tensor of the partner's dtype; ndarray -> tensor."""
    if isinstance(x, Tensor):
        return x, False
    if _py_scalar(x):
        if isinstance(x, complex):
            raise TypeError(f"{who}: complex scalars are not supported")
        if like_dtype.kind == "f":
            dt = like_dtype
        elif isinstance(x, (float, np.floating)):
            dt = _F32
        else:
            dt = like_dtype
        return Tensor._make(np.array(x, dtype=dt)), True
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{who}: unsupported operand type {type(x).__name__}")
    return Tensor._make(to_array(x, None, who, copy=False)), False


def _result_dtype(a, b, a_scalar, b_scalar):
    fa, fb = a.data.dtype.kind == "f", b.data.dtype.kind == "f"
    if fa and fb:
        if a.data.dtype == b.data.dtype:
            return a.data.dtype
        if a_scalar or (a.ndim == 0 and b.ndim > 0):
            return b.data.dtype
        if b_scalar or (b.ndim == 0 and a.ndim > 0):
            return a.data.dtype
        return np.promote_types(a.data.dtype, b.data.dtype)
    if fa:
        return a.data.dtype
    if fb:
        return b.data.dtype
    return None


_INT_FN = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "pow": np.power}


def binary(op, a, b, dtype=None):
    if isinstance(a, Tensor):
        b, bs = _operand(b, a.data.dtype, op.name)
        as_ = False
    else:
        a, as_ = _operand(a, b.data.dtype, op.name)
        bs = False
    dt = dtype or _result_dtype(a, b, as_, bs)
    if dt is None:  # integer/bool with integer/bool: no grad, NumPy
        ops.broadcast_shape(op.name, a.shape, b.shape)
        if op is ops.Div:
            dt = _F32
        else:
            return Tensor._make(np.asarray(_INT_FN[op.name](a.data, b.data)))
    return apply(op, a, b, dtype=dt)


def matmul(a, b):
    a = a if isinstance(a, Tensor) else Tensor._make(to_array(a, None, "matmul", copy=False))
    b = b if isinstance(b, Tensor) else Tensor._make(to_array(b, None, "matmul", copy=False))
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: both arguments must be at least 1-D, got shapes {a.shape} and {b.shape}"
        )
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned")
    if a.ndim > 2 or b.ndim > 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} have batch dimensions "
                "that cannot be broadcast together"
            ) from None
    dt = _result_dtype(a, b, False, False)
    if dt is None:
        return Tensor._make(np.asarray(np.matmul(a.data, b.data)))
    return apply(ops.MatMul, a, b, dtype=dt)


def unary(op, t, params=()):
    """f(t) through the generic route: integer and bool tensors are computed
    in float32 (the "float" dtype rule), any strides are accepted."""
    x = t if t.data.dtype.kind == "f" else Tensor._make(t.data.astype(_F32))
    return apply(op, x, params=params)


def reduce(op, t, dim=None, keepdim=False, axis=None):
    """A reduction (sum, mean, amax) over dim, as torch; `axis` is an alias of dim."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op.name}: give dim or axis, not both")
        dim = axis
    if op.row.dtypes == "sum" and t.data.dtype.kind in "bi" and not t._rg:
        d = None if dim is None else ops.norm_axes(op.name, dim, t.ndim)
        return Tensor._make(np.asarray(t.data.sum(axis=d, keepdims=keepdim, dtype=np.int64)))
    x = t if t.data.dtype.kind == "f" else Tensor._make(t.data.astype(_F32))
    axes = ops.norm_axes(op.name, dim, x.ndim)
    if "x" in op.row.saves:  # a max-like reduction needs elements
        for a in axes:
            if x.shape[a] == 0:
                raise ValueError(
                    f"{op.name}: cannot reduce over a zero-size dimension "
                    f"(dim {a} of shape {x.shape})"
                )
    return apply(op, x, axes=axes, keepdim=bool(keepdim))


def softmax_like(op, t, dim=-1, axis=None):
    """softmax / log_softmax along one dim (`axis` is an alias)."""
    dim = dim if axis is None else axis
    x = t if t.data.dtype.kind == "f" else Tensor._make(t.data.astype(_F32))
    if x.ndim == 0:
        if not isinstance(dim, (int, np.integer)):
            _bad_dim(op.name, dim)
        ops.norm_axes(op.name, dim, 1)  # a 0-d tensor takes dim -1 or 0, as torch
        return apply(op, x.reshape(1), axis=0).reshape(())
    if not isinstance(dim, (int, np.integer)):
        _bad_dim(op.name, dim)
    (axis,) = ops.norm_axes(op.name, dim, x.ndim)
    return apply(op, x, axis=axis)


def zero_grads(params, set_to_none=True):
    """Module.zero_grad and Optimizer.zero_grad, as torch's: each gradient is
    dropped (set_to_none) or detached from any graph and zeroed in place."""
    for p in params:
        g = p.grad
        if g is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            g.detach_()
            g.data[...] = 0
            g._vc[0] += 1


def _float_tensor(x, who):
    x = x if isinstance(x, Tensor) else Tensor._make(to_array(x, None, who))
    if x.data.dtype.kind != "f":
        raise TypeError(f"{who}: expected a float32 or float64 tensor, got {x.data.dtype}")
    return x


def linear(input, weight, bias=None, activation=None):
    """y = act(input @ weight^T + bias) through the generic route: checks,
    dtype promotion, any leading dims (the fast path takes 2-D float inputs
    of one dtype, see _tape.linear)."""
    x, w = _float_tensor(input, "linear"), _float_tensor(weight, "linear")
    if w.ndim != 2:
        raise ValueError(
            f"linear: weight must be 2-D (out_features, in_features), got shape {w.shape}"
        )
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"linear: input shape {x.shape} and weight shape {w.shape} are not "
            f"aligned (input's last dim must be {w.shape[1]})"
        )
    if activation not in ops_nn.ACT:
        raise ValueError(f"linear: unknown activation {activation!r}")
    dt = np.promote_types(x.data.dtype, w.data.dtype)
    ts = [x, w]
    if bias is not None:
        b = _float_tensor(bias, "linear")
        if b.shape != (w.shape[0],):
            raise ValueError(f"linear: bias shape {b.shape} does not match weight shape {w.shape}")
        ts.append(b)
        dt = np.promote_types(dt, b.data.dtype)
    ts = [t if t.data.dtype == dt else t.to(dt) for t in ts]
    return apply(ops_nn.Linear, *ts, act=ops_nn.ACT[activation])
