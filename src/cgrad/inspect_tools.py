"""Gradient diagnostics: cg.check_grads and cg.grad_health.

check_grads(model, loss_fn, *batch)
    Compares every parameter's analytic gradient with central finite
    differences, in float64 (the model and the float inputs are copied to
    float64 first; a float32 finite-difference check would be dominated by
    round-off, and a warning says so). When a parameter disagrees it also
    checks every tape entry of the loss on its own (a directional derivative
    test of that op's backward) and names the first entry, in the order
    backward runs them, whose backward disagrees with its forward.
    The loss is `loss_fn(model(batch[0]), *batch[1:])`.

grad_health(model, *inputs)
    Call after backward(). Per layer: the gradient norm, the ratio of gradient
    to weight norm, the units whose gradient is exactly zero, and (when the
    inputs of the last forward are passed) the fraction of dead ReLU units and
    of saturated sigmoid/tanh units. The verdict, with its thresholds:
      exploding  a gradient is NaN/Inf, or some layer's gradient norm > explode_norm (10)
      vanishing  every gradient norm < tiny (1e-7), or the smallest layer norm is
                 < vanish_ratio (1e-2) times the largest (gradients die with depth)
      healthy    otherwise
"""

import copy
import math
import types
import warnings

import numpy as np

from ._tape import prepare_grad as _prepare_grad
from .autograd import FunctionCtx, _CustomOp
from .explain import FORMULAS, graph_of
from .grad_mode import no_grad
from .optable import LINEAR_ACTS
from .tensor import Tensor


class CheckGradsWarning(UserWarning):
    """A float32 finite-difference check would be unreliable."""


# ------------------------------------------------------------ op replay
def _replay(node, out, xs):
    """Run node's forward again on arrays xs, with the arguments it was
    recorded with; None when it cannot be replayed."""
    op, ns = node.op, types.SimpleNamespace(needs_input_grad=node.needs_input_grad)
    if isinstance(op, _CustomOp):
        if not all(op.arg_is_tensor):
            return None
        ctx = FunctionCtx()
        ctx._node, ctx._to_save = None, ()
        ctx.needs_input_grad = node.needs_input_grad
        with no_grad():
            r = op.fn_cls.forward(ctx, *[Tensor._make(x) for x in xs])
        r = r[out._out_idx] if isinstance(r, tuple) else r
        return np.asarray(r.data if isinstance(r, Tensor) else r)
    if not isinstance(op, type):
        return None
    return op.forward(ns, *xs, **node.forward_kwargs())


def _check_op(node, out, rng, eps, tol):
    """Directional-derivative test of one tape entry's backward.

    With a random upstream g and a random direction d for input i,
    <backward(g)_i, d> must equal (<g, f(x + eps d)> - <g, f(x - eps d)>) / (2 eps).
    Returns (status, worst relative error, the input that disagrees or None)."""
    ins = node.inputs or ()
    xs = [None if t is None else t.data for t in ins]
    if any(x is None for x in xs):
        return "skipped", 0.0, None
    g = rng.standard_normal(out.shape).astype(out.data.dtype)
    if isinstance(node.op, _CustomOp):
        gouts = [g if k == out._out_idx else None for k in range(node.n_outputs)]
        raw = node.op.backward(node, *gouts)
    else:
        raw = node.op.backward(node, g)
    raw = list(raw) + [None] * (len(ins) - len(raw))
    worst, bad = 0.0, None
    for i, t in enumerate(ins):
        if not node.needs_input_grad[i] or raw[i] is None or t.data.dtype.kind != "f":
            continue
        vjp = _prepare_grad(np.asarray(raw[i]), t)
        d = rng.standard_normal(t.shape)
        plus, minus = list(xs), list(xs)
        plus[i] = (t.data + eps * d).astype(t.data.dtype)
        minus[i] = (t.data - eps * d).astype(t.data.dtype)
        fp, fm = _replay(node, out, plus), _replay(node, out, minus)
        if fp is None:
            return "skipped", 0.0, None
        num = (float(np.sum(g * fp)) - float(np.sum(g * fm))) / (2 * eps)
        ana = float(np.sum(vjp * d))
        rel = abs(ana - num) / max(1.0, abs(ana), abs(num))
        if not rel <= tol:
            rel = math.inf if math.isnan(rel) else rel
            if rel > worst:
                worst, bad = rel, i
    return ("mismatch" if bad is not None else "ok"), worst, bad


# ------------------------------------------------------------ check_grads
class ParamCheck:
    __slots__ = (
        "name",
        "shape",
        "max_abs",
        "max_rel",
        "worst_index",
        "analytic",
        "numeric",
        "eps",
        "checked",
        "total",
        "ok",
    )

    def __init__(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)


class GradReport:
    """check_grads' result: `.params` (one ParamCheck per parameter), `.ops`
    ([(step, op name, status, worst error)] in backward order), `.culprit`
    (the first op whose backward disagrees, or None), `.ok`, `.notes`."""

    def __init__(self, params, ops, culprit, notes, dtype):
        self.params, self.ops, self.culprit, self.notes, self.dtype = (
            params,
            ops,
            culprit,
            notes,
            dtype,
        )

    @property
    def ok(self):
        return all(p.ok for p in self.params)

    def __bool__(self):
        return self.ok

    def __getitem__(self, name):
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def __str__(self):
        head = (
            "parameter",
            "shape",
            "max abs err",
            "max rel err",
            "worst index",
            "analytic",
            "numeric",
            "eps",
            "checked",
            "",
        )
        rows = [head]
        for p in self.params:
            rows.append(
                (
                    p.name,
                    str(p.shape),
                    f"{p.max_abs:.2e}",
                    f"{p.max_rel:.2e}",
                    str(p.worst_index),
                    f"{p.analytic:.6g}",
                    f"{p.numeric:.6g}",
                    f"{p.eps:g}",
                    f"{p.checked}/{p.total}",
                    "ok" if p.ok else "MISMATCH",
                )
            )
        w = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = [f"cg.check_grads: central differences in {self.dtype}"]
        for k, r in enumerate(rows):
            lines.append("  " + "  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip())
            if k == 0:
                lines.append("  " + "  ".join("-" * x for x in w))
        if self.ok:
            lines.append("All parameter gradients agree with finite differences.")
        elif self.culprit:
            lines.append(
                f"The first op whose backward disagrees (in backward order): {self.culprit}"
            )
        else:
            lines.append("Gradients disagree, but every replayable op checked out on its own.")
        if self.ops and not self.ok:
            lines.append(
                "Per-op check (backward order): "
                + ", ".join(f"{name}: {st}" for _, name, st, _ in self.ops)
            )
        lines += self.notes
        return "\n".join(lines)

    __repr__ = __str__


def _to64(x):
    if isinstance(x, Tensor):
        if x.data.dtype.kind == "f":
            t = Tensor._make(np.array(x.data, dtype=np.float64, copy=True))
            t.requires_grad = False
            return t
        return x
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return Tensor._make(x.astype(np.float64))
    return x


def _loss(model, loss_fn, batch):
    out = model(batch[0])
    loss = loss_fn(out, *batch[1:])
    if loss.data.size != 1:
        raise ValueError(f"check_grads: loss_fn must return a scalar, got shape {loss.shape}")
    return loss


def check_grads(
    model, loss_fn, *batch, eps=1e-6, atol=1e-6, rtol=1e-4, max_entries=64, op_tol=1e-5, seed=0
):
    """Central-difference check of every parameter's gradient, in float64.

    Returns a GradReport (print it). `max_entries` caps the entries checked
    per parameter (a seeded random subset plus the largest analytic entry)."""
    if not batch:
        raise TypeError("check_grads: pass the batch, e.g. check_grads(model, loss_fn, x, y)")
    rng = np.random.default_rng(seed)
    notes = []
    f32 = [n for n, p in model.named_parameters() if p.data.dtype == np.float32]
    f32 += [
        f"input {i}"
        for i, b in enumerate(batch)
        if isinstance(b, (Tensor, np.ndarray)) and np.asarray(b).dtype == np.float32
    ]
    if f32:
        msg = (
            "check_grads: float32 finite differences are unreliable (round-off of about "
            f"{np.finfo(np.float32).eps:.1e} x |loss| / eps swamps the derivative; "
            f"float32 in: {', '.join(f32[:4])}{'...' if len(f32) > 4 else ''}), "
            "so the check re-runs on a float64 copy of the model and the batch"
        )
        warnings.warn(msg, CheckGradsWarning, stacklevel=2)
        notes.append("Note: " + msg + ".")
    m = copy.deepcopy(model).double()
    b64 = [_to64(b) for b in batch]
    params = list(m.named_parameters())
    for _, p in params:
        p.grad = None

    loss = _loss(m, loss_fn, b64)
    nodes, tensors = graph_of(loss)
    outs = {id(t.grad_fn): t for key, t in tensors.items() if t.grad_fn is not None}
    loss.backward(retain_graph=True)
    analytic = {
        n: (np.zeros(p.shape) if p.grad is None else np.array(p.grad.data, dtype=np.float64))
        for n, p in params
    }

    results = []
    for name, p in params:
        flat = p.data.reshape(-1)
        a = analytic[name].reshape(-1)
        n = flat.size
        idx = (
            np.arange(n)
            if n <= max_entries
            else np.unique(
                np.concatenate(
                    [rng.choice(n, max_entries - 1, replace=False), [int(np.argmax(np.abs(a)))]]
                )
            )
        )
        num = np.empty(len(idx))
        with no_grad():
            for k, j in enumerate(idx):
                orig = flat[j]
                flat[j] = orig + eps
                lp = float(_loss(m, loss_fn, b64).item())
                flat[j] = orig - eps
                lm = float(_loss(m, loss_fn, b64).item())
                flat[j] = orig
                num[k] = (lp - lm) / (2 * eps)
        ana = a[idx]
        err = np.abs(ana - num)
        rel = err / np.maximum(np.maximum(np.abs(ana), np.abs(num)), 1e-12)
        bad = ~(err <= atol + rtol * np.abs(num))
        w = int(np.argmax(np.where(np.isnan(err), np.inf, err))) if len(idx) else 0
        worst = tuple(int(v) for v in np.unravel_index(int(idx[w]), p.shape)) if len(idx) else ()
        results.append(
            ParamCheck(
                name=name,
                shape=tuple(p.shape),
                max_abs=float(err.max()) if len(idx) else 0.0,
                max_rel=float(rel.max()) if len(idx) else 0.0,
                worst_index=worst,
                analytic=float(ana[w]) if len(idx) else 0.0,
                numeric=float(num[w]) if len(idx) else 0.0,
                eps=eps,
                checked=len(idx),
                total=n,
                ok=not bool(bad.any()),
            )
        )

    op_results, culprit = [], None
    if not all(r.ok for r in results):
        order = {id(nd): k + 1 for k, nd in enumerate(nodes)}
        for nd in sorted(nodes, key=lambda x: -x.seq):
            out = outs.get(id(nd))
            try:
                st, errv, bad_in = (
                    _check_op(nd, out, rng, 1e-6, op_tol)
                    if out is not None
                    else ("skipped", 0.0, None)
                )
            except Exception as e:  # an op we cannot replay
                st, errv, bad_in = f"skipped ({type(e).__name__})", 0.0, None
            op_results.append((order[id(nd)], nd.name, st, errv))
            if st == "mismatch" and culprit is None:
                formula = FORMULAS.get(nd.name)
                culprit = (
                    f"'{nd.name}' (forward step {order[id(nd)]} of {len(nodes)}; "
                    f"its gradient for input {bad_in} fails a directional-derivative test, "
                    f"relative error {errv:.2g})"
                    + (f"; its derivative should be: {formula}" if formula else "")
                )
    return GradReport(results, op_results, culprit, notes, "float64")


# ------------------------------------------------------------ grad_health
class LayerHealth:
    __slots__ = (
        "name",
        "grad_norm",
        "weight_norm",
        "ratio",
        "zero_grad_units",
        "units",
        "dead",
        "saturated",
        "activation",
    )

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


class HealthReport:
    """grad_health's result: `.layers` (input side first), `.verdict`
    ("vanishing", "exploding" or "healthy"), `.reason` and `.thresholds`."""

    def __init__(self, layers, verdict, reason, thresholds):
        self.layers, self.verdict, self.reason, self.thresholds = (
            layers,
            verdict,
            reason,
            thresholds,
        )

    def __getitem__(self, name):
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(name)

    def __str__(self):
        head = (
            "layer",
            "|grad|",
            "|grad|/|w|",
            "zero-grad units",
            "activation",
            "dead",
            "saturated",
        )
        rows = [head]
        for layer in self.layers:
            rows.append(
                (
                    layer.name,
                    f"{layer.grad_norm:.3e}",
                    f"{layer.ratio:.3e}",
                    "-" if layer.units is None else f"{layer.zero_grad_units}/{layer.units}",
                    layer.activation or "-",
                    "-" if layer.dead is None else f"{layer.dead:.0%}",
                    "-" if layer.saturated is None else f"{layer.saturated:.0%}",
                )
            )
        w = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = ["cg.grad_health (input side first)"]
        for k, r in enumerate(rows):
            lines.append("  " + "  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip())
            if k == 0:
                lines.append("  " + "  ".join("-" * x for x in w))
        t = self.thresholds
        lines.append(f"verdict: {self.verdict.upper()} - {self.reason}")
        lines.append(
            f"thresholds: exploding if a gradient is NaN/Inf or a layer's |grad| > "
            f"{t['explode_norm']:g}; vanishing if every |grad| < {t['tiny']:g} or the "
            f"smallest layer |grad| < {t['vanish_ratio']:g} x the largest; "
            f"dead ReLU unit = 0 for every sample; saturated = sigmoid outside "
            f"[{t['sat']:g}, {1 - t['sat']:g}] or |tanh| > {1 - 2 * t['sat']:g}"
        )
        return "\n".join(lines)

    __repr__ = __str__


def _layers(model):
    """[(name, [params], module or None)] in registration order (input side first)."""
    if hasattr(model, "named_modules"):
        out = []
        for prefix, mod in model.named_modules():
            ps = [(n, p) for n, p in mod._parameters.items() if p is not None]
            if not ps:
                continue
            if {n for n, _ in ps} <= {"weight", "bias"}:
                out.append((prefix or type(mod).__name__, [p for _, p in ps], mod))
            else:
                out += [(f"{prefix}.{n}" if prefix else n, [p], None) for n, p in ps]
        return out
    items = (
        model.items()
        if isinstance(model, dict)
        else [(getattr(p, "name", None) or f"param{i}", p) for i, p in enumerate(model)]
    )
    return [(n, [p], None) for n, p in items]


_ACTS = {"ReLU": "relu", "LeakyReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}
FUSED_ACTS = [name for name in LINEAR_ACTS if name is not None]  # Linear(..., activation=)


def _capture(model, inputs):
    """Run model(*inputs) under no_grad and record each activation's output.
    Returns [(activation kind, output ndarray, the layer it follows)]."""
    seen, patched = [], []
    last_layer = [None]
    names = {id(m): (p or type(m).__name__) for p, m in model.named_modules()}

    def wrap(mod):
        fwd = mod.forward
        kind = _ACTS.get(type(mod).__name__)

        def forward(*a, **k):
            y = fwd(*a, **k)
            if kind is not None:
                seen.append((kind, np.array(y.data), last_layer[0]))
            elif k.get("activation") in FUSED_ACTS:
                last_layer[0] = names[id(mod)]
                if k["activation"] == "relu":
                    seen.append(("relu", np.array(y.data), last_layer[0]))
            elif mod._parameters:
                last_layer[0] = names[id(mod)]
            return y

        object.__setattr__(mod, "forward", forward)
        patched.append(mod)

    for _, mod in model.named_modules():
        if not mod._modules:  # leaves of the module tree
            wrap(mod)
    try:
        with no_grad():
            model(*inputs)
    finally:
        for mod in patched:
            mod.__dict__.pop("forward", None)
    return seen


def grad_health(model, *inputs, vanish_ratio=1e-2, explode_norm=10.0, tiny=1e-7, sat=0.01):
    """Per-layer gradient health after backward(); see the module docstring.

    model: a Module, a dict {name: tensor} or a list of tensors. inputs: the
    batch of the last forward (optional) to measure dead and saturated units."""
    layers = []
    for name, ps, mod in _layers(model):
        gsq = wsq = 0.0
        finite = True
        for p in ps:
            if p.grad is not None:
                g = p.grad.data.astype(np.float64)
                finite &= bool(np.isfinite(g).all())
                gsq += float(np.sum(g * g))
            wsq += float(np.sum(p.data.astype(np.float64) ** 2))
        gn = math.sqrt(gsq) if finite else math.inf
        wn = math.sqrt(wsq)
        units = zero = None
        w = ps[0]
        if mod is not None and w.ndim == 2 and w.grad is not None:
            rows = np.abs(w.grad.data).sum(axis=1)
            for p in ps[1:]:
                if p.grad is not None and p.ndim == 1:
                    rows = rows + np.abs(p.grad.data)
            units, zero = int(rows.size), int(np.count_nonzero(rows == 0))
        layers.append(
            LayerHealth(
                name=name,
                grad_norm=gn,
                weight_norm=wn,
                ratio=gn / wn if wn > 0 else math.inf,
                zero_grad_units=zero,
                units=units,
            )
        )

    if inputs and hasattr(model, "named_modules"):
        by_name = {layer.name: layer for layer in layers}
        for kind, y, after in _capture(model, inputs):
            y2 = y.reshape(-1, y.shape[-1]) if y.ndim > 1 else y.reshape(1, -1)
            target = by_name.get(after)
            if target is None:
                continue
            target.activation = kind
            if kind == "relu":
                target.dead = float(np.mean(np.all(y2 <= 0, axis=0)))
            elif kind == "sigmoid":
                target.saturated = float(np.mean((y2 < sat) | (y2 > 1 - sat)))
            else:
                target.saturated = float(np.mean(np.abs(y2) > 1 - 2 * sat))

    norms = [layer.grad_norm for layer in layers]
    if not norms:
        raise ValueError("grad_health: the model has no parameters")
    if all(p.grad is None for _, ps, _ in _layers(model) for p in ps):
        raise RuntimeError("grad_health: no parameter has a gradient; call backward() first")
    hi, lo = max(norms), min(norms)
    big = max(layers, key=lambda layer: layer.grad_norm)
    small = min(layers, key=lambda layer: layer.grad_norm)
    if not all(math.isfinite(n) for n in norms):
        verdict, reason = "exploding", "a gradient is NaN or Inf"
    elif hi > explode_norm:
        verdict, reason = (
            "exploding",
            (
                f"layer {big.name} has |grad| = {hi:.3g} > {explode_norm:g} "
                f"(|grad|/|w| = {big.ratio:.3g})"
            ),
        )
    elif hi < tiny:
        verdict, reason = "vanishing", f"every layer has |grad| < {tiny:g} (largest {hi:.3g})"
    elif lo < vanish_ratio * hi:
        verdict, reason = (
            "vanishing",
            (
                f"layer {small.name} has |grad| = {lo:.3g}, "
                f"{lo / hi:.2g} x the largest ({big.name}: {hi:.3g}) "
                f"< {vanish_ratio:g}"
            ),
        )
    else:
        verdict, reason = (
            "healthy",
            (
                f"layer |grad| spans {lo:.3g} to {hi:.3g} "
                f"(ratio {lo / hi:.2g} >= {vanish_ratio:g}, max <= "
                f"{explode_norm:g})"
            ),
        )
    if verdict == "exploding" and len(norms) > 1 and lo < vanish_ratio * hi:
        reason += (
            f"; the gradients also shrink {hi / max(lo, 1e-300):.3g}x toward layer {small.name}"
        )
    return HealthReport(
        layers,
        verdict,
        reason,
        dict(vanish_ratio=vanish_ratio, explode_norm=explode_norm, tiny=tiny, sat=sat),
    )
