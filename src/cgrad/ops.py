"""Every primitive op, forward and backward side by side.

An op is a class with `forward(ctx, *arrays, **params) -> ndarray` and
`backward(ctx, g) -> one gradient per input (or None)`. Forward stashes what
backward reads on `ctx` (the tape entry), and only what its row in the op
table (optable.py) lists under `saves`. Both call only the backend interface
(`_bk.K`, docs/kernels.md), never NumPy arithmetic; NumPy is used for
storage: allocation, views, broadcasting views and copies.

The classes of the uniform families (unary, binary, reduce, softmax, loss)
are built from their rows by `build_family()`; the rest are written here
(and in ops_nn.py) and bound to their row with `@implements(name)`, which
sets the class's name and what apply() version-checks. `OP_CLASSES` maps
every op name to its class.

Gradients may come back in the op's broadcast shape and promoted dtype; the
engine reduces and casts them to each input's shape and dtype (engine.py).
"""

import numpy as np

from . import backend as _bk
from . import optable
from ._tape import apply  # noqa: F401  (runs an op, records its entry: compiled)
from .engine import contiguous as _c

OP_CLASSES = {}  # op name -> op class, for every row of the op table


class Op:
    name = "op"
    row = None  # the op's row in the op table
    saves = ()  # indices of inputs whose data backward reads (from the row)
    saves_output = False  # whether backward reads the output (from the row)
    view = False  # whether the output may be a view of input 0
    # whether backward returns only arrays it allocated: the engine may then give
    # them to a leaf's .grad uncopied
    fresh_grads = False

    @classmethod
    def local_values(cls, node, upstream, K):
        """[(label, array)]: the local derivative of a recorded entry, as
        values, for cg.explain; computed with kernel module K from what the
        entry saved. [] when it is not a small set of arrays (the formula
        alone explains it)."""
        return []


def _bind(cls, r):
    cls.name, cls.row, cls.kernels = r.name, r, r.kernels
    cls.saves, cls.saves_output = r.saved_inputs, r.saves_output
    for n in r.inputs:  # keep_x, keep_a, ...: what forward stashes
        setattr(cls, "keep_" + n, n in r.saves)
    cls.keep_out = r.saves_output
    OP_CLASSES[r.name] = cls
    return cls


def implements(name):
    """Class decorator: `cls` is the op of row `name` (its name and saves come from the row)."""
    r = optable.row(name)

    def bind(cls):
        return _bind(cls, r)

    return bind


def class_name(name):
    """The op class's name for op `name`: leaky_relu -> LeakyRelu."""
    return "".join(p.capitalize() for p in name.split("_"))


def _zeros_if(flag, shape, dtype):
    return np.zeros(shape, dtype=dtype) if flag else None


# ------------------------------------------------------------ unary
class Unary(Op):
    """y = f(x), elementwise;  dx = dy * f'(x). Kernels <name>_forward(y, x, *params)
    and <name>_backward(dx, dy, x, y, *params); x or y is None when the row
    does not save it."""

    fresh_grads = True
    keep_x = keep_out = False

    @classmethod
    def forward(cls, ctx, x, params=()):
        x = _c(x)
        y = np.empty_like(x)
        getattr(_bk.K, cls.kernels[0])(y, x, *params)
        if cls.keep_x:
            ctx.x = x
        if cls.keep_out:
            ctx.y = y
        ctx.params = params
        return y

    @classmethod
    def backward(cls, ctx, g, K=None):
        g = _c(g)
        dx = np.zeros_like(g)
        getattr(K or _bk.K, cls.kernels[1])(dx, g, ctx.x, ctx.y, *ctx.params)
        return (dx,)

    @classmethod
    def local_values(cls, node, upstream, K):
        """f'(x): the backward with an upstream of ones."""
        return [(f"{cls.name}'", cls.backward(node, np.ones_like(upstream), K)[0])]


@implements("cast")
class Cast(Op):
    """y = x in another dtype;  dx = dy (cast back by the engine)."""

    @staticmethod
    def forward(ctx, x, dtype):
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return (g,)


@implements("clone")
class Clone(Op):
    """y = copy of x;  dx = dy"""

    @staticmethod
    def forward(ctx, x):
        return np.array(x, copy=True)

    @staticmethod
    def backward(ctx, g):
        return (g,)


# ------------------------------------------------------------ binary
def broadcast_shape(op, sa, sb):
    if sa == sb:
        return sa
    try:
        return np.broadcast_shapes(sa, sb)
    except ValueError:
        raise ValueError(f"{op}: shapes {sa} and {sb} cannot be broadcast together") from None


def _broadcast(x, shape):
    """A zero-copy view of x broadcast to shape (read by the kernels, never written).
    A one-element x, the common scalar case, skips np.broadcast_to's ~1.5 us."""
    if x.size == 1 and shape:
        return np.ndarray(shape, x.dtype, x, 0, (0,) * len(shape))
    return np.broadcast_to(x, shape)


class Binary(Op):
    """out = a (op) b with NumPy broadcasting, through zero-stride views.
    Kernels <name>_forward(out, a, b) and <name>_backward(da, db, dout, a, b,
    out); a, b and out are stashed when the row saves them."""

    fresh_grads = True
    keep_a = keep_b = keep_out = False

    @classmethod
    def forward(cls, ctx, a, b, dtype):
        if a.dtype != dtype:
            a = a.astype(dtype)
        if b.dtype != dtype:
            b = b.astype(dtype)
        shape = broadcast_shape(cls.name, a.shape, b.shape)
        if a.shape != shape:
            a = _broadcast(a, shape)
        if b.shape != shape:
            b = _broadcast(b, shape)
        out = np.empty(shape, dtype=dtype)
        getattr(_bk.K, cls.kernels[0])(out, a, b)
        if cls.keep_a:
            ctx.a = a
        if cls.keep_b:
            ctx.b = b
        if cls.keep_out:
            ctx.out = out
        return out

    @classmethod
    def backward(cls, ctx, g, K=None, needs=None):
        na, nb = needs or ctx.needs_input_grad
        g = _c(g)
        da = _zeros_if(na, g.shape, g.dtype)
        db = _zeros_if(nb, g.shape, g.dtype)
        getattr(K or _bk.K, cls.kernels[1])(da, db, g, ctx.a, ctx.b, ctx.out)
        return da, db

    @classmethod
    def local_values(cls, node, upstream, K):
        """d out/da and d out/db, elementwise: the backward kernel with ones."""
        da, db = Binary.backward.__func__(cls, node, np.ones_like(upstream), K, (True, True))
        return [("d/da", da), ("d/db", db)]


@implements("add")
class Add(Binary):
    """out = a + b;  da = dout, db = dout (no kernel call: dout itself)"""

    fresh_grads = False  # returns dout itself

    @staticmethod
    def backward(ctx, g):
        return g, g


@implements("sub")
class Sub(Binary):
    """out = a - b;  da = dout, db = -dout (da is dout itself)"""

    fresh_grads = False  # returns dout itself for a

    @staticmethod
    def backward(ctx, g):
        db = None
        if ctx.needs_input_grad[1]:
            g = _c(g)
            db = np.empty_like(g)
            _bk.K.neg_forward(db, g)
        return g, db


# ------------------------------------------------------------ reductions
def norm_axes(op, dim, ndim):
    """dim (None, int or tuple) -> sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        dims = (dim,)
    elif isinstance(dim, (tuple, list)):
        dims = tuple(dim)
    else:
        raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {dim!r}")
    if len(dims) == 0:
        return tuple(range(ndim))
    rank = max(ndim, 1)
    out = set()
    for d in dims:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
            raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {d!r}")
        if not -rank <= d < rank:
            raise IndexError(f"{op}: dim {d} is out of range for a tensor of {ndim} dimensions")
        d = int(d) % rank
        if d in out:
            raise ValueError(f"{op}: dim {d} appears more than once in {dims}")
        out.add(d)
    return tuple(sorted(a for a in out if a < ndim))


class Reduce(Op):
    """out = a reduction of x over `axes`. Kernels <name>_forward(out, x, axes)
    and <name>_backward(dx, dout, *saved, axes), where saved is x and/or out
    as the row says."""

    fresh_grads = True
    keep_x = keep_out = False

    @classmethod
    def forward(cls, ctx, x, axes, keepdim):
        x = _c(x)
        shape = x.shape
        if not axes:  # 0-d input: reduce the lone element
            x, axes = x.reshape(1), (0,)
        kept = (
            tuple(1 if i in axes else n for i, n in enumerate(shape))
            if keepdim
            else tuple(n for i, n in enumerate(shape) if i not in axes)
        )
        out = np.empty(kept, dtype=x.dtype)
        getattr(_bk.K, cls.kernels[0])(out, x, axes)
        ctx.axes, ctx.shape, ctx.xshape = axes, shape, x.shape
        if cls.keep_x:
            ctx.x = x
        if cls.keep_out:
            ctx.out = out
        return out

    @classmethod
    def backward(cls, ctx, g, K=None):
        dx = np.zeros(ctx.xshape, dtype=g.dtype)
        kernel = getattr(K or _bk.K, cls.kernels[1])
        if cls.keep_x or cls.keep_out:
            saved = [a for a, keep in ((ctx.x, cls.keep_x), (ctx.out, cls.keep_out)) if keep]
            kernel(dx, _c(g), *saved, ctx.axes)
        else:
            kernel(dx, _c(g), ctx.axes)
        return (dx.reshape(ctx.shape),)

    @classmethod
    def local_values(cls, node, upstream, K):
        """d out/dx_i: the backward with an upstream of ones."""
        return [("d out/dx_i", cls.backward(node, np.ones_like(upstream), K)[0])]


# ------------------------------------------------------------ softmax
class Softmax(Op):
    """y = softmax-like along one axis. Kernels <name>_forward(y, x, axis)
    and <name>_backward(dx, dy, y, axis)."""

    fresh_grads = True

    @classmethod
    def forward(cls, ctx, x, axis):
        x = _c(x)
        y = np.empty_like(x)
        getattr(_bk.K, cls.kernels[0])(y, x, axis)
        ctx.y, ctx.axis = y, axis
        return y

    @classmethod
    def backward(cls, ctx, g):
        dx = np.zeros_like(ctx.y)
        getattr(_bk.K, cls.kernels[1])(dx, _c(g), ctx.y, ctx.axis)
        return (dx,)


# ------------------------------------------------------------ matmul
def _as_matrices(x, batch, batch_size):
    """x (..., R, C) -> (stored 3-D array, transposed?) with no copy when x is
    C-contiguous or a transposed C-contiguous array (then stored = x^T)."""
    r, c = x.shape[-2:]
    xb = x.shape[:-2]
    if xb != batch and not all(d == 1 for d in xb):
        # a batch broadcast along some dims only: materialize that operand
        x = np.broadcast_to(x, batch + (r, c))
        return _c(x).reshape(batch_size, r, c), False
    n = batch_size if xb == batch else 1
    if x.flags.c_contiguous:
        return x.reshape(n, r, c), False
    xt = np.swapaxes(x, -1, -2)
    if xt.flags.c_contiguous:
        return xt.reshape(n, c, r), True
    return _c(x).reshape(n, r, c), False


def _as_matrix(x):
    """2-D x -> (stored C-contiguous matrix, transposed?), copying only when
    neither x nor x^T is C-contiguous."""
    if x.flags.c_contiguous:
        return x, False
    if x.flags.f_contiguous:
        return x.T, True
    return np.ascontiguousarray(x), False


@implements("matmul")
class MatMul(Op):
    """C = A @ B (batched, broadcast batch dims);  dA = dC B^T, dB = A^T dC.

    The backward passes the stored operands with transpose flags: no copy."""

    @classmethod
    def local_values(cls, node, upstream, K):
        a, b = (t.data for t in node.inputs)
        return [("B (dL/dA = G B^T)", b), ("A (dL/dB = A^T G)", a)]

    @staticmethod
    def forward(ctx, a, b, dtype):
        if a.dtype != dtype:
            a = a.astype(dtype)
        if b.dtype != dtype:
            b = b.astype(dtype)
        ctx.ashape, ctx.bshape = ashape, bshape = a.shape, b.shape
        if a.ndim == 1:  # (k,) @ ... : a row vector, dropped after
            a = a.reshape(1, -1)
        if b.ndim == 1:  # ... @ (k,) : a column vector, dropped after
            b = b.reshape(-1, 1)
        m, k = a.shape[-2:]
        k2, n = b.shape[-2:]
        if k != k2:
            raise ValueError(f"matmul: shapes {ashape} and {bshape} are not aligned")
        if len(ashape) == 2 and len(bshape) == 2:  # the common case: 2-D kernel calls
            sa, ta = _as_matrix(a)
            sb, tb = _as_matrix(b)
            out = np.empty((m, n), dtype=dtype)
            _bk.K.matmul(out, sa, sb, ta, tb, False)
            ctx.sa, ctx.ta, ctx.sb, ctx.tb = sa, ta, sb, tb
            return out
        if a.ndim == 2 and b.ndim == 2:  # a 1-D operand: no batch bookkeeping
            batch, nb = (), 1
        else:
            batch = broadcast_shape("matmul", a.shape[:-2], b.shape[:-2])
            nb = int(np.prod(batch, dtype=np.int64))
        sa, ta = _as_matrices(a, batch, nb)
        sb, tb = _as_matrices(b, batch, nb)
        out = np.empty((nb, m, n), dtype=dtype)
        _bk.K.matmul(out, sa, sb, ta, tb, False)
        ctx.sa, ctx.ta, ctx.sb, ctx.tb = sa, ta, sb, tb
        ctx.m, ctx.k, ctx.n, ctx.batch, ctx.nb = m, k, n, batch, nb
        shape = batch + ((m,) if len(ashape) > 1 else ()) + ((n,) if len(bshape) > 1 else ())
        return out.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        sa, ta, sb, tb = ctx.sa, ctx.ta, ctx.sb, ctx.tb
        if sa.ndim == 2:  # 2-D A and B (also _tape's fast path)
            g = _c(g)
            da = db = None
            if ctx.needs_input_grad[0]:
                da = np.empty((g.shape[0], sb.shape[1] if tb else sb.shape[0]), dtype=g.dtype)
                _bk.K.matmul(da, g, sb, False, not tb, False)  # dA = dC B^T
            if ctx.needs_input_grad[1]:
                db = np.empty((sa.shape[0] if ta else sa.shape[1], g.shape[1]), dtype=g.dtype)
                _bk.K.matmul(db, sa, g, not ta, False, False)  # dB = A^T dC
            return da, db
        m, k, n, batch = ctx.m, ctx.k, ctx.n, ctx.batch
        # explicit batch size: with m * n == 0 a -1 could not be inferred
        g3 = _c(g).reshape(ctx.nb, m, n)  # explicit: -1 fails when m * n == 0
        da = db = None
        if ctx.needs_input_grad[0]:
            da = np.zeros((sa.shape[0], m, k), dtype=g3.dtype)
            _bk.K.matmul(da, g3, sb, False, not tb, True)  # dA = dC B^T
            da = da.reshape(batch + (m, k)) if sa.shape[0] > 1 else da.reshape(ctx.ashape)
        if ctx.needs_input_grad[1]:
            db = np.zeros((sb.shape[0], k, n), dtype=g3.dtype)
            _bk.K.matmul(db, sa, g3, not ta, False, True)  # dB = A^T dC
            db = db.reshape(batch + (k, n)) if sb.shape[0] > 1 else db.reshape(ctx.bshape)
        return da, db


# ------------------------------------------------------------ data movement
@implements("reshape")
class Reshape(Op):
    """y = x viewed with a new shape;  dx = dy reshaped back"""

    view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return (g.reshape(ctx.shape),)


@implements("permute")
class Permute(Op):
    """y = x with axes permuted;  dx = dy permuted back"""

    view = True

    @staticmethod
    def forward(ctx, x, perm):
        ctx.inv = tuple(np.argsort(perm))
        return x.transpose(perm)

    @staticmethod
    def backward(ctx, g):
        return (g.transpose(ctx.inv),)


@implements("expand")
class Expand(Op):
    """y = x broadcast to a larger shape (a view);  dx = dy summed back (engine)"""

    view = True

    @staticmethod
    def forward(ctx, x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return (g,)


@implements("index")
class Index(Op):
    """y = x[key] (a gather);  dx = scatter-add of dy to the gathered positions.

    Basic keys (ints, slices, None, Ellipsis) give a view, whose backward
    writes dy into a zero array at the same key (no position repeats).
    Keys with integer arrays may repeat positions: backward scatter-adds
    through the index_add kernel, using the flat position of every element."""

    view = True

    @staticmethod
    def forward(ctx, x, key, advanced):
        try:
            y = x[key]
        except IndexError as e:
            raise IndexError(f"index: {e} (tensor shape {x.shape})") from None
        ctx.shape, ctx.dtype, ctx.key, ctx.advanced = x.shape, x.dtype, key, advanced
        if not isinstance(y, np.ndarray):  # all-int keys give a NumPy scalar
            y = np.asarray(y)
        if advanced:
            ctx.pos = np.arange(x.size, dtype=np.int64).reshape(x.shape)[key]
        return y

    @staticmethod
    def backward(ctx, g):
        dx = np.zeros(ctx.shape, dtype=g.dtype)
        if not ctx.advanced:
            dx[ctx.key] = g
            return (dx,)
        _bk.K.index_add(dx.reshape(-1, 1), _c(ctx.pos).reshape(-1), _c(g).reshape(-1, 1))
        return (dx,)


@implements("cat")
class Cat(Op):
    """y = concatenate(xs, axis);  dx_i = the slice of dy that x_i filled"""

    @staticmethod
    def forward(ctx, *xs, axis, dtype):
        ctx.sizes = [x.shape[axis] for x in xs]
        ctx.axis = axis
        return np.concatenate([x.astype(dtype, copy=False) for x in xs], axis=axis)

    @staticmethod
    def backward(ctx, g):
        out, start = [], 0
        idx = [slice(None)] * g.ndim
        for n in ctx.sizes:
            idx[ctx.axis] = slice(start, start + n)
            out.append(g[tuple(idx)])
            start += n
        return out


@implements("stack")
class Stack(Op):
    """y = stack(xs, axis);  dx_i = dy taken at position i along axis"""

    @staticmethod
    def forward(ctx, *xs, axis, dtype):
        ctx.axis, ctx.n = axis, len(xs)
        return np.stack([x.astype(dtype, copy=False) for x in xs], axis=axis)

    @staticmethod
    def backward(ctx, g):
        return [np.take(g, i, axis=ctx.axis) for i in range(ctx.n)]


# ------------------------------------------------------------ in-place helpers
@implements("fill")
class Fill(Op):
    """y = value everywhere;  dx = 0 (the old values are gone)"""

    @staticmethod
    def forward(ctx, x, value):
        return np.full_like(x, value)

    @staticmethod
    def backward(ctx, g):
        return (None,)


@implements("copy")
class Copy(Op):
    """y = src broadcast into x's shape;  dx = 0, dsrc = dy (summed back by the engine)"""

    @staticmethod
    def forward(ctx, x, src):
        out = np.empty_like(x)
        out[...] = src
        return out

    @staticmethod
    def backward(ctx, g):
        return None, g


@implements("setitem")
class SetItem(Op):
    """y = x with y[key] = v;  dx = dy with dy[key] zeroed, dv = dy[key]"""

    @staticmethod
    def forward(ctx, x, v, key):
        out = np.array(x, copy=True)
        out[key] = v
        ctx.key = key
        return out

    @staticmethod
    def backward(ctx, g):
        dx = np.array(g, copy=True)
        dx[ctx.key] = 0
        return dx, np.asarray(g[ctx.key])


# ------------------------------------------------------------ the families' classes
_FAMILY_BASE = {"unary": Unary, "binary": Binary, "reduce": Reduce, "softmax": Softmax}


def build_family(r, base):
    """The op class of row r in a uniform family: `base` with the row's name,
    kernels and saves (ops_nn builds the loss family the same way)."""
    cls = type(
        class_name(r.name),
        (base,),
        {"__doc__": f"{r.math};  {r.formula}", "__module__": base.__module__},
    )
    return _bind(cls, r)


for _r in optable.rows():
    if _r.family in _FAMILY_BASE and _r.name not in OP_CLASSES:
        globals()[class_name(_r.name)] = build_family(_r, _FAMILY_BASE[_r.family])
del _r
