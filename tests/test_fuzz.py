"""Bad-input fuzzing of the public API.

Every public op and loss is driven with randomly wrong (and some right)
inputs: mismatched shapes, int/bool/complex/object/str data, None, negative
or huge dims, out-of-range indices and class targets, non-contiguous and
read-only arrays, tensors of the other dtype, zero-size tensors. Each call
must either

  * succeed with the right answer (checked against a NumPy float64 reference
    computed here, never against cgrad's own output), or
  * raise TypeError, ValueError, IndexError or RuntimeError whose message
    names the op.

The loop runs in a CHILD process (this file run as a script), so a crash (a
segfault, an abort, a sanitizer report) fails the test instead of killing
pytest. Before each case the child writes a one-line description of it to a
log file, so a crash names the case that caused it. Fixed seed: 10,000+ cases
per run, the same ones every run.

Reproduce a run by hand:  python tests/test_fuzz.py --seed 20240607 --cases 12000
"""
# SPDX-License-Identifier: MIT

import json
import os
import subprocess
import sys

SEED = 20240607
CASES = 12000
ALLOWED = (TypeError, ValueError, IndexError, RuntimeError)


# =============================================================================
# The child: the fuzz loop itself.
# =============================================================================


def _child(seed, n_cases, log_path):
    import math
    import random
    import traceback

    import numpy as np

    import cgrad as cg
    import cgrad.nn.functional as F

    R = random.Random(seed)
    nrng = np.random.default_rng(seed)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    flags = set()  # per case: "int" when an int64 tensor was passed

    class Invalid(Exception):
        """The reference says this input is not valid for the op."""

    # ---------------------------------------------------------------- inputs
    SHAPES = [
        (),
        (1,),
        (3,),
        (4,),
        (0,),
        (2, 3),
        (3, 2),
        (3, 4),
        (1, 4),
        (3, 1),
        (0, 4),
        (4, 0),
        (2, 3, 4),
        (2, 1, 4),
        (5, 7),
        (1, 1, 1, 1),
        (2, 2, 2, 2, 2),
    ]

    def floats(shape, dtype):
        return (nrng.standard_normal(shape) * 2).astype(dtype)

    def probs(shape, dtype):
        return nrng.uniform(0.05, 0.95, size=shape).astype(dtype)

    def make_arg(kind_of_good, shape, pos=False, prob=False):
        """A random argument: usually a float tensor of the wanted shape,
        often something wrong. Returns the argument object."""
        gen = probs if prob else floats
        k = R.random()
        dt = R.choice([np.float32, np.float64])
        if k < 0.30:
            a = gen(shape, dt)
            if pos:
                a = np.abs(a) + dt(0.1)
            return cg.tensor(a, requires_grad=R.random() < 0.5)
        if k < 0.38:  # mismatched shape
            return cg.tensor(gen(R.choice(SHAPES), dt), requires_grad=R.random() < 0.3)
        if k < 0.44:  # plain ndarray, maybe strided/read-only
            a = (
                gen(tuple(reversed(shape)), dt).T
                if len(shape) >= 2 and R.random() < 0.5
                else gen(shape, dt)
            )
            if R.random() < 0.4:
                a = np.array(a)
                a.flags.writeable = False
            return a
        if k < 0.48:  # non-contiguous view wrapped in a tensor
            big = gen(tuple(2 * s for s in shape), dt)
            view = big[tuple(slice(None, None, 2) for _ in shape)] if shape else big
            return cg.from_numpy(view)
        if k < 0.52:
            return nrng.integers(-3, 4, size=shape)  # int64 ndarray
        if k < 0.55:
            return nrng.integers(0, 2, size=shape).astype(bool)
        if k < 0.58:
            return (floats(shape, np.float64) + 1j).astype(np.complex128)
        if k < 0.61:
            a = np.empty(shape, dtype=object)
            a.fill(1.5)
            return a
        if k < 0.63:
            return np.full(shape, "ab")
        if k < 0.65:
            return "abc"
        if k < 0.68:
            return None
        if k < 0.73:
            return R.choice([0.5, -2.0, 3, 0, True, float("nan"), float("inf"), 1e30])
        if k < 0.77:
            return floats(shape, np.float64).tolist()
        if k < 0.79:
            return [[1.0, 2.0], [3.0]]  # ragged
        if k < 0.83:
            flags.add("int")  # torch rejects Long tensors in float ops; so may cgrad
            return cg.tensor(nrng.integers(-3, 4, size=shape), dtype=cg.int64)
        if k < 0.86:
            return cg.tensor(gen(shape, np.float16 if False else dt)).detach()
        if k < 0.90:  # a float16 ndarray (not supported by kernels)
            return floats(shape, np.float16)
        if k < 0.93:
            return (
                cg.tensor(gen(shape, dt)).transpose(0, -1)
                if len(shape) >= 2
                else cg.tensor(gen(shape, dt))
            )
        return cg.tensor(
            gen(shape, np.float64 if dt == np.float32 else np.float32), requires_grad=True
        )

    def rand_dim(ndim):
        k = R.random()
        if k < 0.6 and ndim > 0:
            return R.randrange(-ndim, ndim)
        return R.choice(
            [
                None,
                0,
                -1,
                5,
                -7,
                2**40,
                -(2**63),
                1.5,
                "a",
                (0, 0),
                (0, 1),
                (),
                [0],
                (1, -1),
                np.int64(0),
            ]
        )

    def rand_int_param():
        return R.choice(
            [
                -(2**63),
                -(10**12),
                -3,
                -1,
                0,
                1,
                2,
                3,
                4,
                6,
                12,
                24,
                2**31,
                10**12,
                2**62,
                1.5,
                None,
                "2",
                np.int64(3),
                -0.0,
            ]
        )

    # ----------------------------------------------------------- references
    def ref_array(x, allow_int=True):
        """What cgrad should make of an argument, as float64 (or raise Invalid)."""
        if isinstance(x, cg.Tensor):
            a = x.numpy()
            if a.dtype.kind not in "fib":
                raise Invalid
            return a.astype(np.float64)
        if x is None or isinstance(x, (str, bytes)):
            raise Invalid
        if isinstance(x, (bool, int, float)):
            return np.float64(x)
        try:
            a = np.asarray(x)
        except ValueError:
            raise Invalid from None
        if a.dtype.kind not in "fiub" or (a.dtype.kind in "iub" and not allow_int):
            raise Invalid
        if a.dtype == np.float16:
            return a.astype(np.float64)
        return a.astype(np.float64)

    def out_dtype(*args):
        """torch's rule: wider float among tensor/array args; scalars do not count."""
        dts = []
        for x in args:
            if isinstance(x, cg.Tensor):
                dts.append(x.dtype)
            elif isinstance(x, np.ndarray):
                dts.append(x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float32))
            elif isinstance(x, list):
                dts.append(np.dtype(np.float32))
        dts = [d if d in (np.float32, np.float64) else np.dtype(np.float32) for d in dts]
        return np.dtype(np.float64) if np.dtype(np.float64) in dts else np.dtype(np.float32)

    def bshape(*arrs):
        try:
            return np.broadcast_shapes(*[np.shape(a) for a in arrs])
        except ValueError:
            raise Invalid from None

    def axes_of(dim, ndim, allow_tuple=True):
        """Normalised axes for dim (None = all), or raise Invalid."""
        if dim is None or (isinstance(dim, tuple) and dim == ()):  # torch: () = everything
            return tuple(range(ndim))
        dims = dim if isinstance(dim, (tuple, list)) and allow_tuple else (dim,)
        out = []
        for d in dims:
            if not isinstance(d, (int, np.integer)):
                raise Invalid
            d = int(d)
            if not -max(ndim, 1) <= d < max(ndim, 1):
                raise Invalid
            out.append(d % max(ndim, 1))
        if len(set(out)) != len(out):
            raise Invalid
        if ndim == 0:
            return ()
        return tuple(sorted(out))

    def T(x):
        return cg.tensor(x)

    def E_():
        return np.errstate(all="ignore")

    # ------------------------------------------------------------ the ops
    # Each entry: (name, names allowed in messages, builder) where the builder
    # returns (call, reference) - two thunks. The reference raises Invalid when
    # cgrad must reject the input.
    OPS = []

    def op(name, *aliases):
        def deco(fn):
            OPS.append((name, (name,) + aliases, fn))
            return fn

        return deco

    def unary(name, np_fn, pos=False, params=None):
        @op(name)
        def build(shape):
            x = make_arg(True, shape, pos=pos)
            p = params() if params else ()

            def call():
                return getattr(cg, name)(x, *p)

            def ref():
                with E_():
                    return np_fn(ref_array(x), *p), out_dtype(x)

            return call, ref

    def _sig(a):
        return 1 / (1 + np.exp(-a))

    unary("exp", np.exp)
    unary("log", np.log, pos=True)
    unary("sqrt", np.sqrt, pos=True)
    unary("abs", np.abs)
    unary("sin", np.sin)
    unary("cos", np.cos)
    unary("tanh", np.tanh)
    unary("sigmoid", _sig)
    unary("relu", lambda a: np.maximum(a, 0))

    def slope_param():
        return (R.choice([0.01, 0.2, -1.0, 0, 2, None, "x", float("nan")]),)

    def leaky(a, s):
        if isinstance(s, bool) or not isinstance(s, (int, float)):
            raise Invalid
        return np.where(a > 0, a, a * s)

    unary("leaky_relu", leaky, params=slope_param)

    def softplus_params():
        return (R.choice([1.0, 2.0, 0.5, "b", None]), R.choice([20.0, 1.0, 5, None, "t"]))

    def softplus(a, beta, thr):
        for v in (beta, thr):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise Invalid
        z = a * beta
        return np.where(z > thr, a, np.logaddexp(0, z) / beta)

    unary("softplus", softplus, params=softplus_params)

    def gelu_param():
        return (R.choice(["none", "tanh", "exact", None, 1]),)

    def gelu(a, approx):
        if approx == "none":
            erf = np.vectorize(math.erf, otypes=[np.float64])
            return 0.5 * a * (1 + erf(a / math.sqrt(2))) if a.size else a
        if approx == "tanh":
            return 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a**3)))
        raise Invalid

    unary("gelu", gelu, params=gelu_param)

    @op("clamp")
    def build_clamp(shape):
        x = make_arg(True, shape)
        lo = R.choice([None, -0.5, 0, -1, "a"])
        hi = R.choice([None, 0.5, 1, 2.0, "b", -2.0])

        def call():
            return cg.clamp(x, min=lo, max=hi)

        def ref():
            a = ref_array(x)
            if lo is None and hi is None:
                raise Invalid
            for v in (lo, hi):
                if v is not None and not isinstance(v, (int, float)):
                    raise Invalid
            r = a
            if lo is not None:
                r = np.where(np.isnan(r), r, np.maximum(r, lo))
            if hi is not None:
                r = np.where(np.isnan(r), r, np.minimum(r, hi))
            return r, out_dtype(x)

        return call, ref

    BIN = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power}
    OPER = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b,
        "pow": lambda a, b: a**b,
    }

    for _name in BIN:

        def _mk(name):
            @op(name)
            def build(shape):
                x = make_arg(True, shape, pos=(name == "pow"))
                y = make_arg(True, shape, pos=(name == "pow"))
                if not isinstance(x, cg.Tensor) and not isinstance(y, cg.Tensor):
                    x = T(floats(shape, np.float32))  # one side must be a tensor
                which = R.random()

                def call():
                    if which < 0.5:
                        return OPER[name](x, y)
                    if isinstance(x, cg.Tensor):
                        return getattr(x, name)(y)
                    return OPER[name](x, y)

                def ref():
                    a, b = ref_array(x), ref_array(y)
                    bshape(a, b)
                    with E_():
                        return BIN[name](a, b), out_dtype(x, y)

                return call, ref

        _mk(_name)

    CMP = {
        "lt": (np.less, lambda a, b: a < b),
        "le": (np.less_equal, lambda a, b: a <= b),
        "gt": (np.greater, lambda a, b: a > b),
        "ge": (np.greater_equal, lambda a, b: a >= b),
    }
    for _name in CMP:

        def _mkc(name):
            @op(name, "compare")
            def build(shape):
                x = T(floats(shape, R.choice([np.float32, np.float64])))
                y = make_arg(True, shape)

                def call():
                    r = CMP[name][1](x, y)
                    return r

                def ref():
                    a, b = ref_array(x), ref_array(y)
                    bshape(a, b)
                    return CMP[name][0](a, b).astype(np.float64), None

                return call, ref

        _mkc(_name)

    @op("matmul")
    def build_matmul(shape):
        sa = R.choice([(3,), (2, 3), (3, 4), (4, 3), (2, 3, 4), (0, 3), (3, 0), (), (5, 2, 3)])
        sb = R.choice([(3,), (4,), (3, 4), (4, 2), (2, 4, 5), (3, 0), (0, 2), (), (1, 3, 2)])
        x = make_arg(True, sa)
        y = make_arg(True, sb)
        if not isinstance(x, cg.Tensor):
            x = T(floats(sa, np.float64))

        def call():
            return x @ y if R.random() < 0.7 else cg.matmul(x, y)

        def ref():
            a, b = ref_array(x), ref_array(y)
            if a.ndim == 0 or b.ndim == 0:
                raise Invalid
            try:
                return np.matmul(a, b), out_dtype(x, y)
            except ValueError:
                raise Invalid from None

        return call, ref

    def reduction(name, np_fn, empty_ok=True):
        @op(name)
        def build(shape):
            x = make_arg(True, shape)
            dim = rand_dim(len(shape))
            keep = R.choice([False, True, False, 1])

            def call():
                return getattr(cg, name)(x, dim=dim, keepdim=keep)

            def ref():
                a = ref_array(x)
                if keep not in (True, False):
                    raise Invalid
                ax = axes_of(dim, a.ndim)
                if not empty_ok and any(a.shape[i] == 0 for i in ax):
                    raise Invalid
                if not empty_ok and a.ndim == 0:
                    pass
                with E_():
                    return np_fn(a, axis=ax, keepdims=bool(keep)), out_dtype(x)

            return call, ref

    reduction("sum", np.sum)
    reduction("mean", np.mean)
    reduction("amax", np.max, empty_ok=False)

    @op("max")
    def build_max(shape):
        x = make_arg(True, shape)

        def call():
            return cg.max(x) if hasattr(cg, "max") else x.max()

        def ref():
            a = ref_array(x)
            if a.size == 0:
                raise Invalid
            return np.max(a), out_dtype(x)

        return call, ref

    @op("argmax")
    def build_argmax(shape):
        x = make_arg(True, shape)
        dim = R.choice([None, rand_dim(len(shape))])

        def call():
            return cg.argmax(x, dim=dim)

        def ref():
            a = ref_array(x)
            if a.size == 0 or isinstance(dim, (tuple, list)):
                raise Invalid
            if a.ndim == 0 and dim in (0, -1):
                return np.float64(0), None
            if dim is None:
                return np.float64(np.argmax(a)), None
            (ax,) = axes_of(dim, a.ndim, allow_tuple=False) or (None,)
            if ax is None:
                return np.float64(np.argmax(a)), None
            return np.argmax(a, axis=ax).astype(np.float64), None

        return call, ref

    def softmax_like(name, log):
        @op(name)
        def build(shape):
            x = make_arg(True, shape)
            dim = rand_dim(len(shape))
            if R.random() < 0.5:
                fn = getattr(F, name)
            else:
                fn = getattr(cg, name)

            def call():
                return fn(x, dim=dim)

            def ref():
                a = ref_array(x)
                if isinstance(dim, (tuple, list)) or dim is None:
                    raise Invalid
                (ax,) = axes_of(dim, a.ndim, allow_tuple=False) or (0,)
                if a.ndim == 0:
                    a2 = a.reshape(1)
                else:
                    a2 = a
                m = np.max(a2, axis=ax, keepdims=True) if a2.size else 0
                z = a2 - m
                with E_():
                    ls = z - np.log(np.sum(np.exp(z), axis=ax, keepdims=True))
                r = ls if log else np.exp(ls)
                return r.reshape(a.shape), out_dtype(x)

            return call, ref

    softmax_like("softmax", False)
    softmax_like("log_softmax", True)

    @op("reshape", "view")
    def build_reshape(shape):
        x = make_arg(True, shape)
        new = R.choice(
            [
                (-1,),
                (2, -1),
                (-1, -1),
                (0,),
                (-2, 3),
                (4, 3),
                (3, 4),
                (24,),
                (1, 12),
                (2**40, 0),
                (2**63,),
                (1.5,),
                ("a",),
                (6,),
                (12,),
                (),
            ]
        )
        how = R.choice(["reshape", "view"])

        def call():
            return getattr(x, how)(*new) if isinstance(x, cg.Tensor) else cg.reshape(x, new)

        def ref():
            a = ref_array(x)
            if not all(isinstance(d, int) for d in new) or any(d < -1 for d in new):
                raise Invalid
            try:
                r = a.reshape(new)
            except ValueError:
                raise Invalid from None
            if (
                how == "view"
                and isinstance(x, cg.Tensor)
                and not x.numpy().flags.c_contiguous
                and x.numel() > 1
            ):
                return ("view-or-error", r), out_dtype(x)
            return r, out_dtype(x)

        return call, ref

    @op("transpose")
    def build_transpose(shape):
        x = T(floats(shape, np.float32))
        d0, d1 = rand_dim(len(shape)), rand_dim(len(shape))

        def call():
            return x.transpose(d0, d1)

        def ref():
            a = ref_array(x)
            if not isinstance(d0, (int, np.integer)) or not isinstance(d1, (int, np.integer)):
                raise Invalid
            (i,) = axes_of(d0, a.ndim, False) or (0,)
            (j,) = axes_of(d1, a.ndim, False) or (0,)
            if (
                isinstance(d0, (tuple, list))
                or isinstance(d1, (tuple, list))
                or d0 is None
                or d1 is None
            ):
                raise Invalid
            return np.swapaxes(a, i, j) if a.ndim else a, None

        return call, ref

    @op("permute")
    def build_permute(shape):
        x = T(floats(shape, np.float32))
        n = len(shape)
        perm = R.choice(
            [
                tuple(R.sample(range(n), n)),
                tuple(range(n + 1)),
                (0,) * n,
                tuple(range(-n, 0)),
                (None,) * n,
                ("a",),
            ]
        )

        def call():
            return x.permute(*perm)

        def ref():
            a = ref_array(x)
            if not all(isinstance(p, int) for p in perm) or len(perm) != n:
                raise Invalid
            if sorted(p % n for p in perm) != list(range(n)) if n else perm != ():
                raise Invalid
            if any(not -n <= p < n for p in perm):
                raise Invalid
            return np.transpose(a, perm), None

        return call, ref

    @op("unsqueeze")
    def build_unsqueeze(shape):
        x = T(floats(shape, np.float32))
        d = R.choice([rand_dim(len(shape) + 1), len(shape), -len(shape) - 1, len(shape) + 1])

        def call():
            return x.unsqueeze(d)

        def ref():
            a = ref_array(x)
            if not isinstance(d, (int, np.integer)):
                raise Invalid
            if not -(a.ndim + 1) <= d <= a.ndim:
                raise Invalid
            return np.expand_dims(a, int(d) % (a.ndim + 1)), None

        return call, ref

    @op("squeeze")
    def build_squeeze(shape):
        x = T(floats(shape, np.float32))
        d = rand_dim(len(shape))

        def call():
            return x.squeeze(d)

        def ref():
            a = ref_array(x)
            if d is None:
                return np.squeeze(a), None
            ax = axes_of(d, a.ndim)
            ax = tuple(i for i in ax if a.shape[i] == 1)  # torch: non-1 dims are left alone
            return np.squeeze(a, axis=ax), None

        return call, ref

    @op("flatten")
    def build_flatten(shape):
        x = T(floats(shape, np.float32))
        d = rand_dim(len(shape))

        def call():
            return x.flatten(d)

        def ref():
            a = ref_array(x)
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
                raise Invalid
            n = max(a.ndim, 1)
            if not -n <= d < n:
                raise Invalid
            if a.ndim == 0:
                return a.reshape(1), None
            s = int(d) % n
            return a.reshape(a.shape[:s] + (-1,)) if a.size else a.reshape(
                a.shape[:s] + (int(np.prod(a.shape[s:])),)
            ), None

        return call, ref

    @op("index", "getitem")
    def build_index(shape):
        x = make_arg(True, shape)
        if not isinstance(x, cg.Tensor):
            x = T(floats(shape, np.float64))
        n0 = shape[0] if shape else 0
        key = R.choice(
            [
                0,
                -1,
                n0,
                -n0 - 1,
                2**62,
                slice(None, None, 2),
                slice(None, None, -1),
                [0, 0, 1],
                [n0],
                [-1, 0],
                np.array([0, n0 + 5]),
                np.array([1.5]),
                (0, 0),
                (0, 0, 0, 0, 0, 0),
                None,
                Ellipsis,
                "a",
                (slice(None), 7),
                np.array([], dtype=np.int64),
                [True, False],
                1.0,
                slice(0, 2**62),
                (Ellipsis, None, 0),
            ]
        )

        def call():
            return x[key]

        def ref():
            a = ref_array(x)
            if isinstance(key, float) or isinstance(key, str):
                raise Invalid
            if isinstance(key, list) and key and isinstance(key[0], bool):
                return ("any", None), None
            if isinstance(key, slice) and key.step is not None and key.step < 0:
                return ("any", None), None  # torch rejects; cgrad may support it
            if isinstance(key, np.ndarray) and key.dtype.kind == "f":
                raise Invalid
            try:
                r = a[key]
            except (IndexError, ValueError, TypeError):
                raise Invalid from None
            return np.array(r), out_dtype(x)

        return call, ref

    def join(name):
        @op(name)
        def build(shape):
            k = R.randint(0, 3)
            xs = [
                make_arg(True, shape) if R.random() < 0.3 else T(floats(shape, np.float32))
                for _ in range(k)
            ]
            if R.random() < 0.15:
                xs = R.choice([None, "ab", xs and xs[0]])
            dim = rand_dim(len(shape) + (1 if name == "stack" else 0))

            def call():
                return getattr(cg, name)(xs, dim=dim)

            def ref():
                if isinstance(xs, cg.Tensor):
                    return ("any", None), None  # a tensor iterated as a sequence of rows
                if not isinstance(xs, list) or not xs:
                    raise Invalid
                arrs = [ref_array(t) for t in xs]
                if not isinstance(xs, list) or not all(isinstance(t, cg.Tensor) for t in xs):
                    # numpy arrays / lists inside cat: accepted as data or rejected; both fine
                    return ("any", None), None
                if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
                    raise Invalid
                try:
                    r = (np.concatenate if name == "cat" else np.stack)(arrs, axis=dim)
                except (ValueError, OverflowError, np.exceptions.AxisError):
                    raise Invalid from None
                if name == "cat" and any(a.ndim == 0 for a in arrs):
                    raise Invalid
                return r, out_dtype(*xs)

            return call, ref

    join("cat")
    join("stack")

    def creation(name):
        @op(name)
        def build(shape):
            dims = R.choice(
                [
                    shape,
                    (-1,),
                    (2, -3),
                    (2**62,),
                    (2**31, 2**31),
                    (1.5,),
                    ("3",),
                    (None,),
                    (3, 4),
                    (np.int64(2), 3),
                    ((2, 3),),
                    (10**12,),
                ]
            )
            dt = R.choice([None, cg.float32, cg.float64, np.int32, "float64", np.complex64, 3])

            def call():
                if name == "full":
                    return cg.full(dims, 2.5, dtype=dt)
                return getattr(cg, name)(*dims, dtype=dt)

            def ref():
                d = dims[0] if len(dims) == 1 and isinstance(dims[0], tuple) else dims
                if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in d):
                    raise Invalid
                if any(v < 0 for v in d) or math.prod(int(v) for v in d) > 10**8:
                    raise Invalid
                if dt in (np.int32,):
                    return ("any", None), None  # an integer dtype: allowed either way
                if dt not in (None, cg.float32, cg.float64, "float64"):
                    raise Invalid
                want = np.dtype(dt) if dt is not None else np.dtype(np.float32)
                if name == "zeros":
                    return np.zeros(d), want
                if name == "ones":
                    return np.ones(d), want
                if name == "full":
                    return np.full(d, 2.5), want
                return ("shape", tuple(int(v) for v in d)), want

            return call, ref

    for _c in ("zeros", "ones", "full", "randn", "rand"):
        creation(_c)

    @op("tensor")
    def build_tensor(shape):
        x = make_arg(True, shape)
        dt = R.choice([None, None, cg.float32, cg.float64, cg.int64, np.complex64, "x", np.int8])

        def call():
            return cg.tensor(x, dtype=dt)

        def ref():
            a = ref_array(x)
            if dt not in (None, cg.float32, cg.float64, cg.int64):
                raise Invalid
            if dt is cg.int64:
                return ("any", None), None
            return a, None

        return call, ref

    @op("linear")
    def build_linear(shape):
        n, i, o = R.choice([(3, 4, 5), (0, 4, 2), (2, 0, 3), (1, 1, 1)])
        x = make_arg(True, R.choice([(n, i), (i,), (2, n, i)]))
        w = make_arg(True, (o, i))
        b = R.choice([None, make_arg(True, (o,))])

        def call():
            return F.linear(x, w, b)

        def ref():
            a, ww = ref_array(x), ref_array(w)
            if a.ndim < 1 or ww.ndim != 2 or a.shape[-1] != ww.shape[1]:
                raise Invalid
            r = a @ ww.T
            if b is not None:
                bb = ref_array(b)
                if bb.shape != (ww.shape[0],):
                    raise Invalid
                r = r + bb
            return r, out_dtype(x, w, *([b] if b is not None else []))

        return call, ref

    RED = ["mean", "sum", "none", "avg", None, 1]

    def reduce_ref(losses, red):
        if red == "mean":
            with E_():
                return np.mean(losses) if losses.size else np.float64(np.nan)
        if red == "sum":
            return np.sum(losses)
        if red == "none":
            return losses
        raise Invalid

    def eltwise_loss(name, fn, prob=False):
        @op(name)
        def build(shape):
            x = make_arg(True, shape, prob=prob)
            t = make_arg(True, shape if R.random() < 0.8 else R.choice(SHAPES), prob=prob)
            red = R.choice(RED)

            def call():
                return getattr(F, name)(x, t, reduction=red)

            def ref():
                a, b = ref_array(x), ref_array(t)
                s = bshape(a, b)
                if prob and ((a < 0) | (a > 1)).any():
                    raise Invalid
                a, b = np.broadcast_to(a, s), np.broadcast_to(b, s)
                with E_():
                    losses = fn(a, b)
                return reduce_ref(losses, red), out_dtype(x, t)

            return call, ref

    eltwise_loss("mse_loss", lambda a, b: (a - b) ** 2)
    eltwise_loss("l1_loss", lambda a, b: np.abs(a - b))
    eltwise_loss(
        "binary_cross_entropy",
        lambda a, b: -(b * np.maximum(np.log(a), -100) + (1 - b) * np.maximum(np.log1p(-a), -100)),
        prob=True,
    )
    eltwise_loss(
        "binary_cross_entropy_with_logits",
        lambda a, b: np.maximum(a, 0) - a * b + np.log1p(np.exp(-np.abs(a))),
    )

    def class_loss(name):
        @op(name)
        def build(shape):
            n, c = R.choice([(3, 4), (1, 1), (0, 3), (5, 2), (2, 0)])
            x = make_arg(True, (n, c))
            kind = R.random()
            if kind < 0.5:
                t = cg.tensor(nrng.integers(0, max(c, 1), size=n), dtype=cg.int64)
            elif kind < 0.65:
                t = cg.tensor(nrng.integers(-2, c + 3, size=n), dtype=cg.int64)
            elif kind < 0.75:
                t = cg.tensor(
                    nrng.integers(0, max(c, 1), size=max(n - 1, 0) + R.randint(0, 2) * 2),
                    dtype=cg.int64,
                )
            elif kind < 0.85:
                t = make_arg(True, (n, c))
            else:
                t = R.choice(
                    [
                        None,
                        "a",
                        np.array([2**62] * n),
                        [0] * n,
                        np.array([0.5] * n),
                        cg.tensor(nrng.integers(0, max(c, 1), size=(n, 1)), dtype=cg.int64),
                    ]
                )
            red = R.choice(RED)
            ign = R.choice([-100, -100, 0, 1, "x"])

            def call():
                return getattr(F, name)(x, t, reduction=red, ignore_index=ign)

            def ref():
                a = ref_array(x)
                if a.ndim == 1:
                    return ("any", None), None  # one sample (torch allows (C,) input)
                if a.ndim != 2:
                    raise Invalid
                if isinstance(ign, str):
                    raise Invalid
                ls = (
                    a
                    - np.log(
                        np.sum(np.exp(a - a.max(axis=1, keepdims=True)), axis=1, keepdims=True)
                    )
                    - a.max(axis=1, keepdims=True)
                    if name == "cross_entropy" and a.size
                    else a
                )
                is_int = (
                    (isinstance(t, cg.Tensor) and t.dtype == cg.int64)
                    or (isinstance(t, np.ndarray) and t.dtype.kind == "i")
                    or (isinstance(t, list) and all(isinstance(v, int) for v in t))
                )
                if is_int:
                    tt = np.asarray(t.numpy() if isinstance(t, cg.Tensor) else t)
                    if tt.shape != (a.shape[0],):
                        raise Invalid
                    valid = tt != ign
                    if ((tt[valid] < 0) | (tt[valid] >= a.shape[1])).any():
                        raise Invalid
                    losses = np.zeros(a.shape[0])
                    idx = np.nonzero(valid)[0]
                    losses[idx] = -ls[idx, tt[idx]]
                    if red == "mean":
                        cnt = valid.sum()
                        with E_():
                            return (losses.sum() / cnt if cnt else np.float64(np.nan)), out_dtype(x)
                    return reduce_ref(losses, red), out_dtype(x)
                if not isinstance(t, cg.Tensor):
                    return ("any", None), None  # list/ndarray targets: either outcome
                if name != "cross_entropy":
                    raise Invalid
                p = ref_array(t)
                if (
                    isinstance(t, list)
                    or (isinstance(t, np.ndarray) and t.dtype.kind != "f")
                    or (isinstance(t, cg.Tensor) and t.dtype.kind != "f")
                ):
                    raise Invalid
                if p.shape != a.shape:
                    raise Invalid
                losses = -(p * ls).sum(axis=1)
                return reduce_ref(losses, red), None

            return call, ref

    class_loss("cross_entropy")
    class_loss("nll_loss")

    @op("dropout")
    def build_dropout(shape):
        x = make_arg(True, shape)
        p = R.choice([0.0, 0.5, 1.0, -0.1, 1.5, "a", None, float("nan")])

        def call():
            return F.dropout(x, p=p, training=True)

        def ref():
            a = ref_array(x)
            if not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise Invalid
            if p == 0:
                return a, out_dtype(x)
            if p == 1:
                return a * 0.0, out_dtype(x)  # torch: x * 0 (NaN/Inf give NaN)
            return ("dropout", a, p), out_dtype(x)

        return call, ref

    def inplace(name, np_fn):
        @op(name, name.rstrip("_"), "fill_", "in-place")
        def build(shape):
            base = floats(shape, R.choice([np.float32, np.float64]))
            x = cg.tensor(base.copy())
            if R.random() < 0.2:
                x.requires_grad_(True)
            y = make_arg(True, shape)

            def call():
                if name == "zero_":
                    x.zero_()
                else:
                    getattr(x, name)(y)
                return x

            def ref():
                if x.requires_grad:
                    raise Invalid  # a leaf requiring grad: RuntimeError
                if name == "zero_":
                    return np.zeros_like(base, dtype=np.float64), x.dtype
                if name == "fill_":
                    v = ref_array(y, allow_int=True)
                    if np.size(v) == 1 and np.ndim(v) > 0:
                        return ("any", None), None  # torch wants a 0-d value; either is fine
                    if np.size(v) != 1:
                        raise Invalid
                    return np.full(base.shape, float(np.reshape(v, ()))), x.dtype
                b = ref_array(y)
                if (
                    np.broadcast_shapes(base.shape, np.shape(b)) != base.shape
                    if _bc(base, b)
                    else True
                ):
                    raise Invalid
                with E_():
                    return np_fn(base.astype(np.float64), b), x.dtype

            return call, ref

    def _bc(a, b):
        try:
            np.broadcast_shapes(a.shape, np.shape(b))
            return True
        except ValueError:
            return False

    inplace("add_", np.add)
    inplace("sub_", np.subtract)
    inplace("mul_", np.multiply)
    inplace("copy_", lambda a, b: np.broadcast_to(b, a.shape).copy())
    inplace("fill_", None)
    inplace("zero_", None)

    @op("Linear", "linear", "empty")
    def build_linear_module(shape):
        i = R.choice([4, 0, 1, -1, 2**40, 3.5, None])
        o = R.choice([3, 0, 2, -5, "a"])

        def call():
            m = cg.nn.Linear(i, o)
            return m(cg.randn(2, 4))

        def ref():
            for v in (i, o):
                if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v > 10**6:
                    raise Invalid
            if i != 4:
                raise Invalid
            return ("shape", (2, o)), None

        return call, ref

    # ------------------------------------------------------------ checking
    def check_success(res, expected, want_dtype, name):
        """None if the result is right, else a description of what is wrong."""
        if not isinstance(res, cg.Tensor):
            return f"returned {type(res).__name__}, not a Tensor"
        got = res.numpy()
        if isinstance(expected, tuple) and expected and isinstance(expected[0], str):
            tag = expected[0]
            if tag == "any":
                return None
            if tag == "shape":
                return None if got.shape == expected[1] else f"shape {got.shape} != {expected[1]}"
            if tag == "view-or-error":
                expected = expected[1]
            if tag == "dropout":
                a, p = expected[1], expected[2]
                g = got.astype(np.float64)
                if g.shape != a.shape:
                    return f"shape {g.shape} != {a.shape}"
                kept = g != 0
                with E_():
                    ok = np.isclose(
                        g[kept], a[kept] / (1 - p), rtol=1e-4, atol=1e-6, equal_nan=True
                    ).all()
                return None if ok else "dropout values are not x / (1 - p) or 0"
        exp = np.asarray(expected, dtype=np.float64)
        if got.shape != exp.shape:
            return f"shape {got.shape}, expected {exp.shape}"
        if (
            want_dtype is not None
            and got.dtype != want_dtype
            and not ("int" in flags and got.dtype.kind == "i")
        ):
            return f"dtype {got.dtype}, expected {want_dtype}"
        if got.dtype.kind not in "fib":
            return f"dtype {got.dtype}"
        g = got.astype(np.float64)
        tol = 2e-3 if got.dtype == np.float32 or want_dtype == np.float32 else 1e-6
        if want_dtype is None or got.dtype == np.float32:
            # inputs may have been rounded to float32 before the op: compare loosely
            tol = 2e-3
        with E_():
            scale = np.maximum(np.abs(exp), 1.0)
            ok = (g == exp) | (np.isnan(g) & np.isnan(exp)) | (np.abs(g - exp) <= tol * scale)
            # float32 overflow where float64 did not: only for huge results
            ok |= np.isinf(g) & (np.abs(exp) > 3e38)
            ok |= (np.abs(exp) > 3e38) & np.isinf(exp) & np.isinf(g)
        if not ok.all():
            bad = np.argwhere(~ok)[:3] if ok.ndim else [()]
            return "wrong values: " + "; ".join(
                f"at {tuple(int(v) for v in ix)} got {g[tuple(ix)]!r} want {exp[tuple(ix)]!r}"
                for ix in bad
            )
        return None

    def backward_check(res, args_grad):
        """Backward through a successful float result must not crash and must
        give every leaf a gradient of its own shape."""
        if not (isinstance(res, cg.Tensor) and res.requires_grad):
            return None
        res.sum().backward()
        for t in args_grad:
            if t.grad is not None and t.grad.shape != t.shape:
                return f"grad shape {t.grad.shape} != {t.shape}"
        return None

    # ------------------------------------------------------------ the loop
    stats = {"cases": 0, "ok": 0, "raised": {}, "per_op": {}}
    failures = []
    import gc

    for case in range(n_cases):
        name, names, build = OPS[R.randrange(len(OPS))]
        shape = R.choice(SHAPES)
        flags.clear()
        try:
            call, ref = build(shape)
        except Exception:  # (argument making)
            # cg.tensor() itself rejecting an argument while building: not a case
            continue
        os.write(log, f"case {case}: {name} shape={shape}\n".encode())
        stats["cases"] += 1
        stats["per_op"][name] = stats["per_op"].get(name, 0) + 1
        try:
            expected, want_dtype = ref()
            valid = True
        except Invalid:
            valid = False
        except Exception as e:
            failures.append(f"case {case} {name}: the test's reference failed: {e!r}")
            continue
        try:
            with np.errstate(all="ignore"):
                res = call()
        except ALLOWED as e:
            msg = str(e)
            stats["raised"][type(e).__name__] = stats["raised"].get(type(e).__name__, 0) + 1
            if not any(n.lower() in msg.lower() for n in names):
                failures.append(
                    f"case {case} {name}: {type(e).__name__} message does not name the op: {msg!r}"
                )
            elif (
                valid
                and "int" not in flags
                and not (
                    isinstance(expected, tuple)
                    and expected
                    and expected[0] in ("view-or-error", "any")
                )
            ):
                failures.append(
                    f"case {case} {name}: rejected a valid input with {type(e).__name__}: {msg}"
                )
            continue
        except Exception as e:
            failures.append(
                f"case {case} {name}: raised {type(e).__name__}, not one of "
                f"TypeError/ValueError/IndexError/RuntimeError: {e!r}\n"
                + traceback.format_exc(limit=3)
            )
            continue
        stats["ok"] += 1
        if not valid:
            failures.append(
                f"case {case} {name}: accepted an invalid input "
                f"(returned {getattr(res, 'shape', res)!r})"
            )
            continue
        problem = check_success(res, expected, want_dtype, name)
        if problem is None:
            try:
                with np.errstate(all="ignore"):
                    problem = backward_check(res, [])
            except ALLOWED as e:
                problem = f"backward raised {type(e).__name__}: {e}"
            except Exception as e:
                problem = f"backward raised {e!r}"
        if problem:
            failures.append(f"case {case} {name}: {problem}")
        if case % 500 == 0:
            gc.collect()

    os.close(log)
    return stats, failures


# =============================================================================
# The test (parent side).
# =============================================================================


def run_child(seed=SEED, cases=CASES, tmp=None, timeout=240):
    import cgrad

    tmp = tmp or os.getcwd()
    log_path = os.path.join(str(tmp), "fuzz-cases.log")
    env = dict(os.environ)
    # the child must import the same cgrad as this process (also in `make sanitize`)
    src = os.path.dirname(os.path.dirname(os.path.abspath(cgrad.__file__)))
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONFAULTHANDLER"] = "1"
    proc = subprocess.run(
        [
            sys.executable,
            os.path.abspath(__file__),
            "--seed",
            str(seed),
            "--cases",
            str(cases),
            "--log",
            log_path,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    return proc, log_path


def test_fuzz_public_api_in_child(tmp_path):
    proc, log_path = run_child(tmp=tmp_path)
    if proc.returncode != 0:
        last = ""
        if os.path.exists(log_path):
            with open(log_path) as f:
                lines = f.read().splitlines()
            last = lines[-1] if lines else ""
        raise AssertionError(
            f"the fuzz child died with exit status {proc.returncode} (a crash) during "
            f"{last!r}\nstderr tail:\n{proc.stderr[-4000:]}"
        )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    stats, failures = report["stats"], report["failures"]
    print(f"fuzz: {stats['cases']} cases, {stats['ok']} succeeded, raised {stats['raised']}")
    assert stats["cases"] >= 10_000, stats
    assert len(stats["per_op"]) >= 50, sorted(stats["per_op"])
    assert not failures, f"{len(failures)} bad outcomes, first ones:\n" + "\n".join(failures[:25])


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--cases", type=int, default=CASES)
    ap.add_argument("--log", default="fuzz-cases.log")
    ns = ap.parse_args()
    st, fl = _child(ns.seed, ns.cases, ns.log)
    print(json.dumps({"stats": st, "failures": fl}))
