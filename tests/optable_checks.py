"""The checks of the op table's completeness test (test_optable.py).

Each check takes a row of the op table (an OpDef) and raises AssertionError
whose message starts with the op's name when a piece of that op is missing
or wrong. They read everything through the row they are given, never
through the table, so test_optable.py can hand them a deliberately broken
copy of a row and see them fail.

Sample calls: the uniform families (unary, binary, reduce, softmax, loss)
are called through their generated public forms on random inputs from the
row's domain, with the row's sample arguments; the special ops have a case
each in SPECIAL below.
"""

import importlib.util
import pathlib
from dataclasses import dataclass, field

import numpy as np

import cgrad as cg
import cgrad.nn.functional as F
from cgrad import _ckernels, numpy_backend, ops
from cgrad.explain import FORMULAS

ROOT = pathlib.Path(__file__).resolve().parents[1]
BACKENDS = {"c": _ckernels, "numpy": numpy_backend}

try:
    import torch
except ImportError:  # torch is an optional oracle
    torch = None


def _gen_api():
    spec = importlib.util.spec_from_file_location("gen_api", ROOT / "tools" / "gen_api.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fail(r, msg):
    raise AssertionError(f"{r.name}: {msg}")


def check(r, cond, msg):
    if not cond:
        fail(r, msg)


# ---------------------------------------------------------------- sample calls
@dataclass
class Case:
    """One call of an op: float inputs (differentiable), how to call it with
    cgrad, and the same with torch (None: no torch counterpart)."""

    inputs: list  # [np.ndarray], float64
    call: object  # call(tensors) -> Tensor
    torch: object = None  # torch(torch_tensors) -> torch.Tensor
    gradcheck: dict = field(default_factory=dict)  # extra cg.gradcheck arguments


def _uniform(r, rng, shape, domain=None):
    lo, hi = domain or r.domain
    return rng.uniform(lo, hi, shape)


def _torch_fn(r):
    if torch is None or r.torch is None:
        return None
    obj = torch
    for part in r.torch.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def cases(r):
    """The sample calls of row r."""
    rng = np.random.default_rng(sum(map(ord, r.name)))
    fam = r.family
    tf = _torch_fn(r)
    if fam == "unary":
        kw = dict(r.sample) or {p.name: p.default for p in r.params}
        x = _uniform(r, rng, (3, 5))
        return [
            Case([x], lambda ts: _unary_form(r)(ts[0], **kw), tf and (lambda ts: tf(*ts, **kw)))
        ]
    if fam == "binary":
        out = []
        for sa, sb in (((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1))):
            a, b = _uniform(r, rng, sa), _uniform(r, rng, sb)
            out.append(
                Case(
                    [a, b], lambda ts: getattr(ts[0], r.method)(ts[1]), tf and (lambda ts: tf(*ts))
                )
            )
        return out
    if fam == "reduce":
        out = []
        for kw in ({}, {"dim": 1}, {"dim": (0, 2), "keepdim": True}):
            x = _uniform(r, rng, (2, 3, 4))
            out.append(
                Case(
                    [x],
                    lambda ts, kw=kw: getattr(ts[0], r.method)(**kw),
                    tf and (lambda ts, kw=kw: tf(*ts, **kw)),
                )
            )
        return out
    if fam == "softmax":
        x = _uniform(r, rng, (3, 4))
        return [
            Case(
                [x],
                lambda ts, d=d: getattr(ts[0], r.method)(d),
                tf and (lambda ts, d=d: tf(ts[0], dim=d)),
            )
            for d in (-1, 0)
        ]
    if fam == "loss":
        out = []
        for red in ("mean", "none", "sum"):
            x = _uniform(r, rng, (3, 4))
            t = _uniform(r, rng, (3, 4), (0.05, 0.95) if "cross_entropy" in r.name else None)
            out.append(
                Case(
                    [x, t],
                    lambda ts, red=red: getattr(F, r.name)(*ts, reduction=red),
                    tf and (lambda ts, red=red: tf(*ts, reduction=red)),
                )
            )
        return out
    maker = SPECIAL.get(r.name)
    if maker is None:
        fail(
            r,
            "no sample call: add a case for this special op to SPECIAL in tests/optable_checks.py",
        )
    return maker(rng)


def _unary_form(r):
    """A public form of unary op r: its Tensor method, else its F or cg form."""
    if r.method:
        return lambda t, **kw: getattr(t, r.method)(**kw)
    return getattr(F, r.name) if r.functional else getattr(cg, r.name)


def _tf():
    return torch.nn.functional if torch is not None else None


def _special():
    tF = _tf()
    targets = np.array([0, 2, 1, 2])
    return {
        "matmul": lambda rng: [
            Case(
                [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))],
                lambda ts: ts[0] @ ts[1],
                torch and (lambda ts: ts[0] @ ts[1]),
            ),
            Case(
                [rng.normal(size=(2, 3, 4)), rng.normal(size=(4,))],
                lambda ts: ts[0] @ ts[1],
                torch and (lambda ts: ts[0] @ ts[1]),
            ),
        ],
        "linear": lambda rng: [
            Case(
                [rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), rng.normal(size=(2,))],
                lambda ts: F.linear(*ts),
                torch and (lambda ts: tF.linear(*ts)),
            ),
            Case(
                [rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), rng.normal(size=(2,))],
                lambda ts: F.linear(*ts, activation="relu"),
                torch and (lambda ts: tF.relu(tF.linear(*ts))),
            ),
            Case(
                [rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 3))],
                lambda ts: F.linear(*ts, activation="gelu_tanh"),
                torch and (lambda ts: tF.gelu(tF.linear(*ts), approximate="tanh")),
            ),
        ],
        "cross_entropy": lambda rng: [
            Case(
                [rng.normal(size=(4, 3))],
                lambda ts: F.cross_entropy(ts[0], cg.tensor(targets, dtype=cg.int64)),
                torch and (lambda ts: tF.cross_entropy(ts[0], torch.tensor(targets))),
            )
        ],
        "cross_entropy_prob": lambda rng: [
            Case(
                [rng.normal(size=(4, 3)), rng.dirichlet(np.ones(3), size=4)],
                lambda ts: F.cross_entropy(*ts),
                torch and (lambda ts: tF.cross_entropy(*ts)),
            )
        ],
        "nll_loss": lambda rng: [
            Case(
                [rng.normal(size=(4, 3))],
                lambda ts: F.nll_loss(ts[0], cg.tensor(targets, dtype=cg.int64)),
                torch and (lambda ts: tF.nll_loss(ts[0], torch.tensor(targets))),
            )
        ],
        "dropout": lambda rng: [Case([rng.normal(size=(3, 4))], _seeded_dropout)],
        "reshape": lambda rng: [
            Case(
                [rng.normal(size=(3, 4))],
                lambda ts: ts[0].reshape(2, 6),
                torch and (lambda ts: ts[0].reshape(2, 6)),
            )
        ],
        "permute": lambda rng: [
            Case(
                [rng.normal(size=(2, 3, 4))],
                lambda ts: ts[0].permute(2, 0, 1),
                torch and (lambda ts: ts[0].permute(2, 0, 1)),
            )
        ],
        "expand": lambda rng: [
            Case(
                [rng.normal(size=(3, 1))],
                lambda ts: ts[0].expand(2, 3, 4),
                torch and (lambda ts: ts[0].expand(2, 3, 4)),
            )
        ],
        "index": lambda rng: [
            Case(
                [rng.normal(size=(4, 3))],
                lambda ts: ts[0][1:3, ::2],
                torch and (lambda ts: ts[0][1:3, ::2]),
            ),
            Case(
                [rng.normal(size=(4, 3))],
                lambda ts: ts[0][[0, 2, 2]],
                torch and (lambda ts: ts[0][[0, 2, 2]]),
            ),
        ],
        "cat": lambda rng: [
            Case(
                [rng.normal(size=(2, 3)), rng.normal(size=(1, 3))],
                lambda ts: cg.cat(ts, 0),
                torch and (lambda ts: torch.cat(ts, 0)),
            )
        ],
        "stack": lambda rng: [
            Case(
                [rng.normal(size=(2, 3)), rng.normal(size=(2, 3))],
                lambda ts: cg.stack(ts, 1),
                torch and (lambda ts: torch.stack(ts, 1)),
            )
        ],
        "cast": lambda rng: [
            Case(
                [rng.normal(size=(2, 3))],
                lambda ts: ts[0].to(cg.float32),
                torch and (lambda ts: ts[0].to(torch.float32)),
                {"eps": 1e-2},
            )
        ],
        "clone": lambda rng: [
            Case(
                [rng.normal(size=(2, 3))],
                lambda ts: ts[0].clone(),
                torch and (lambda ts: ts[0].clone()),
            )
        ],
        "fill": lambda rng: [
            Case(
                [rng.normal(size=(2, 3))],
                lambda ts: (ts[0] * 1).fill_(0.5),
                torch and (lambda ts: (ts[0] * 1).fill_(0.5)),
            )
        ],
        "copy": lambda rng: [
            Case(
                [rng.normal(size=(2, 3)), rng.normal(size=(3,))],
                lambda ts: (ts[0] * 1).copy_(ts[1]),
                torch and (lambda ts: (ts[0] * 1).copy_(ts[1])),
            )
        ],
        "setitem": lambda rng: [
            Case([rng.normal(size=(3, 3)), rng.normal(size=(3,))], _setitem, torch and _setitem)
        ],
    }


def _seeded_dropout(ts):
    cg.manual_seed(7)  # the same mask on every call (gradcheck calls it often)
    return F.dropout(ts[0], 0.25)


def _setitem(ts):
    y = ts[0] * 1
    y[1] = ts[1]
    return y


SPECIAL = _special()


def _tensors(arrays, dtype, requires_grad=True):
    return [cg.tensor(a, dtype=dtype, requires_grad=requires_grad) for a in arrays]


def _entry(r, out):
    """The tape entry of op r that made `out` (or one of its inputs' entries)."""
    node = out.grad_fn
    seen = []
    while node is not None:
        if node.name == r.name:
            return node
        seen.append(node.name)
        nxt = [t for t in (node.inputs or ()) if t is not None and t.grad_fn is not None]
        node = nxt[0].grad_fn if nxt else None
    fail(r, f"its sample call recorded no {r.name!r} entry (entries: {seen})")


# ---------------------------------------------------------------- the checks
def check_kernels(r):
    """Both backends define every kernel the row names."""
    for bname, mod in BACKENDS.items():
        for k in r.kernels:
            check(r, callable(getattr(mod, k, None)), f"the {bname} backend has no kernel {k!r}")


def check_op_class(r):
    """An op class is bound to the row, with the row's name and saves."""
    cls = ops.OP_CLASSES.get(r.name)
    check(r, cls is not None, "no op class is bound to this row (ops.OP_CLASSES)")
    check(
        r,
        cls.name == r.name and cls.row.name == r.name,
        f"op class {cls.__name__} has name {cls.name!r}",
    )
    check(
        r,
        cls.saves == r.saved_inputs and cls.saves_output == r.saves_output,
        f"op class {cls.__name__} saves {cls.saves}/{cls.saves_output}, the row says {r.saves}",
    )


def check_surface(r):
    """Every public form the row declares exists."""
    if r.method:
        check(r, hasattr(cg.Tensor, r.method), f"Tensor.{r.method} does not exist")
        if r.inplace_method:
            check(r, hasattr(cg.Tensor, r.method + "_"), f"Tensor.{r.method}_ does not exist")
        for a in r.aliases:
            check(r, hasattr(cg.Tensor, a), f"the alias Tensor.{a} does not exist")
    if r.function:
        name = r.method or r.name
        check(r, callable(getattr(cg, name, None)), f"cg.{name} does not exist")
    if r.functional:
        check(r, callable(getattr(F, r.name, None)), f"cg.nn.functional.{r.name} does not exist")
    if r.module:
        check(r, isinstance(getattr(cg.nn, r.module, None), type), f"nn.{r.module} does not exist")


def check_formula(r):
    """The derivative as text, for explain and the docs."""
    check(r, bool(r.formula and r.formula.strip()), "no derivative formula (explain shows it)")
    check(r, FORMULAS.get(r.name) == r.formula, "explain has no formula for it")


def check_docs(r):
    """docs/api.md holds the row's generated reference entry, up to date."""
    text = (ROOT / "docs" / "api.md").read_text()
    check(
        r,
        _gen_api().entry(r) in text,
        "docs/api.md has no up-to-date entry: run python tools/gen_api.py",
    )


def check_saves(r):
    """What the row says backward reads is what the kernels read: for a unary
    op, the C table says so, and both backends run backward with only the
    saved arrays given (the others None)."""
    if r.family != "unary":
        return
    table = _ckernels.unary_ops()
    check(r, r.name in table, "the C unary table (csrc/unary_impl.h, CG_UNARY_OPS) has no entry")
    reads, nparams = table[r.name]
    want = ("x" if "x" in r.saves else "") + ("y" if "out" in r.saves else "")
    check(
        r,
        reads == want,
        f"the C kernel's backward reads {reads or 'nothing'!r}, the row saves {r.saves}",
    )
    check(
        r,
        nparams == len(r.params),
        f"the C kernel takes {nparams} parameters, the row declares {len(r.params)}",
    )
    cls = ops.OP_CLASSES[r.name]
    kw = dict(r.sample) or {p.name: p.default for p in r.params}
    params = tuple(p.convert(r.name, p.name, kw[p.name]) for p in r.params)
    x = np.random.default_rng(0).uniform(*r.domain, (4, 3))
    for bname, mod in BACKENDS.items():
        y = np.empty_like(x)
        getattr(mod, cls.kernels[0])(y, x, *params)
        dx = np.zeros_like(x)
        try:
            getattr(mod, cls.kernels[1])(
                dx,
                np.ones_like(x),
                x if "x" in r.saves else None,
                y if "out" in r.saves else None,
                *params,
            )
        except (ValueError, TypeError) as e:
            fail(r, f"the {bname} backward kernel needs more than the row saves ({e})")


def check_forward(r, backend, dtype):
    """The forward on `backend` in `dtype`: against the NumPy reference backend
    (and torch, when installed)."""
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for k, case in enumerate(cases(r)):
        with cg.use_backend(backend):
            got = case.call(_tensors(case.inputs, dtype, False))
        with cg.use_backend("numpy"):
            ref = case.call(_tensors(case.inputs, dtype, False))
        check(
            r,
            got.dtype == ref.dtype and got.shape == ref.shape,
            f"case {k}: {backend} gives {got.dtype} {got.shape}, the NumPy reference "
            f"{ref.dtype} {ref.shape}",
        )
        if not np.allclose(got.numpy(), ref.numpy(), equal_nan=True, **tol):
            fail(
                r,
                f"case {k}: the {backend} forward differs from the NumPy reference by "
                f"{np.nanmax(np.abs(got.numpy() - ref.numpy())):.3g}",
            )
        if case.torch is not None:
            tt = [
                torch.tensor(a, dtype=torch.float32 if dtype == np.float32 else torch.float64)
                for a in case.inputs
            ]
            want = case.torch(tt).detach().numpy()
            if not np.allclose(got.numpy(), want, equal_nan=True, **tol):
                fail(
                    r,
                    f"case {k}: the {backend} forward differs from torch ({r.torch}) by "
                    f"{np.nanmax(np.abs(got.numpy() - want)):.3g}",
                )


def check_gradcheck(r, backend):
    """Float64 central differences against the recorded backward on `backend`,
    and the recorded entry is this op's (a compiled one when the row has a
    fast path)."""
    for k, case in enumerate(cases(r)):
        with cg.use_backend(backend):
            ts = _tensors(case.inputs, cg.float64)
            node = _entry(r, case.call(ts))
            if (
                r.fast
                and r.family in ("unary", "binary")
                and case.inputs[0].shape == case.inputs[-1].shape
            ):
                check(
                    r,
                    node.compiled,
                    f"case {k}: the row has a fast path, but the "
                    "recorded entry is not a compiled one",
                )
            try:
                cg.gradcheck(lambda *xs, case=case: case.call(list(xs)), ts, **case.gradcheck)
            except cg.GradcheckError as e:
                fail(r, f"case {k}: gradcheck on the {backend} backend: {e}")


def check_explain(r):
    """cg.explain shows the row's formula for the op's entry, and the local
    derivative it shows for a unary op is what backward sends with an
    upstream of ones."""
    case = cases(r)[0]
    ts = _tensors(case.inputs, cg.float64)
    out = case.call(ts)
    trace = cg.explain(out.sum())
    steps = [s for s in trace.steps if s.op == r.name]
    check(r, bool(steps), "cg.explain shows no step for it")
    check(
        r,
        steps[0].formula == r.formula,
        f"cg.explain shows the formula {steps[0].formula!r}, the row has {r.formula!r}",
    )
    if r.family == "unary":
        check(r, bool(steps[0].local), "cg.explain shows no local derivative values")
        local = np.broadcast_to(steps[0].local[0][1], case.inputs[0].shape)
        np.testing.assert_allclose(
            local,
            ts[0].grad.numpy(),
            rtol=1e-12,
            atol=1e-15,
            err_msg=f"{r.name}: explain's local derivative",
        )


ROW_CHECKS = [
    check_kernels,
    check_op_class,
    check_surface,
    check_formula,
    check_docs,
    check_saves,
    check_explain,
]
