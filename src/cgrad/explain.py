"""cg.explain(output): run backward and record the calculus of every tape entry.

For each tape entry, in the order the engine runs them (the reverse of the
forward pass), a `Step` holds:

- the op, the shapes of its inputs and output, and the upstream gradient
  (dL/d output), with the separate contributions when the output was used more
  than once (a fan-out sum);
- the local derivative as a formula (the FORMULAS table below) and, when the
  tensors are small, its values, computed here in NumPy from what the op saved
  on its tape entry, independently of the op's backward;
- the gradient sent to each input, and whether a broadcast was undone (the
  axes that were summed) or a dtype cast back.

Leaves get their total gradient (`Trace.leaves`), with the contributions
listed when there were several. `str(trace)` is a plain-text table and
`trace.to_markdown()` a Markdown one.

    loss = ((w * x).relu() - y).abs().sum()
    print(cg.explain(loss, names={"w": w, "x": x}))
"""

import math
import textwrap
from dataclasses import dataclass, field

import numpy as np

from . import ops as _ops
from . import ops_nn as _ops_nn
from .engine import root_grad, run_backward

# The local derivative of every op, keyed by op name (Node.name). `G` is the
# upstream gradient dL/d(output).
FORMULAS = {
    "add": "d(a + b)/da = 1,  d(a + b)/db = 1",
    "sub": "d(a - b)/da = 1,  d(a - b)/db = -1",
    "mul": "d(a*b)/da = b,  d(a*b)/db = a",
    "div": "d(a/b)/da = 1/b,  d(a/b)/db = -a/b^2",
    "pow": "d(a^b)/da = b*a^(b-1),  d(a^b)/db = a^b*ln(a)",
    "neg": "d(-x)/dx = -1",
    "exp": "d exp(x)/dx = exp(x)",
    "log": "d ln(x)/dx = 1/x",
    "sqrt": "d sqrt(x)/dx = 1/(2*sqrt(x))",
    "abs": "d |x|/dx = sign(x)  (0 at 0)",
    "sin": "d sin(x)/dx = cos(x)",
    "cos": "d cos(x)/dx = -sin(x)",
    "tanh": "d tanh(z)/dz = 1 - tanh(z)^2",
    "sigmoid": "d s(z)/dz = s(z)*(1 - s(z))",
    "relu": "d relu(z)/dz = 1[z > 0]",
    "leaky_relu": "d leaky_relu(z)/dz = 1 if z > 0 else a",
    "softplus": "d softplus(z)/dz = s(beta*z)  (1 where beta*z > threshold)",
    "gelu": "d gelu(z)/dz = Phi(z) + z*phi(z)",
    "clamp": "d clamp(x)/dx = 1[lo <= x <= hi]",
    "cast": "d cast(x)/dx = 1  (cast back to x's dtype)",
    "clone": "d clone(x)/dx = 1",
    "matmul": "C = A @ B:  dL/dA = G @ B^T,  dL/dB = A^T @ G",
    "linear": "z = x W^T + b, y = act(z):  dz = G * act'(z),  dL/dx = dz W,  "
              "dL/dW = dz^T x,  dL/db = sum over rows of dz",
    "sum": "d sum(x)/dx_i = 1  (G broadcast back over the summed axes)",
    "mean": "d mean(x)/dx_i = 1/n  (n = number of elements averaged)",
    "amax": "d max(x)/dx_i = 1[x_i = max] / (number of maxima)",
    "softmax": "y = softmax(x):  dy_i/dx_j = y_i*(1[i=j] - y_j),  dL/dx = y*(G - sum(G*y))",
    "log_softmax": "y = log_softmax(x):  dy_i/dx_j = 1[i=j] - softmax(x)_j,  "
                   "dL/dx = G - softmax(x)*sum(G)",
    "cross_entropy": "l_i = logsumexp(x_i) - x_i[t_i]:  dl_i/dx_i = softmax(x_i) - onehot(t_i)  "
                     "(/N for mean)",
    "nll_loss": "l_i = -x_i[t_i]:  dl_i/dx_i = -onehot(t_i)  (/N for mean)",
    "mse_loss": "l = (x - t)^2:  dl/dx = 2*(x - t),  dl/dt = -2*(x - t)  (/n for mean)",
    "l1_loss": "l = |x - t|:  dl/dx = sign(x - t),  dl/dt = -sign(x - t)  (/n for mean)",
    "binary_cross_entropy": "l = -(t ln x + (1-t) ln(1-x)):  dl/dx = (x - t)/(x*(1 - x))  "
                            "(/n for mean)",
    "binary_cross_entropy_with_logits": "l = -(t ln s(x) + (1-t) ln(1-s(x))):  dl/dx = s(x) - t  "
                                        "(/n for mean)",
    "reshape": "dL/dx = G reshaped back to x's shape",
    "permute": "dL/dx = G with the axes permuted back",
    "expand": "dL/dx = G summed over the broadcast axes",
    "index": "dL/dx = zeros with G added at the indexed positions",
    "cat": "dL/dx_k = the slice of G that x_k filled",
    "stack": "dL/dx_k = G taken at position k along the stacked axis",
    "dropout": "d dropout(x)/dx = 1[kept] / (1 - p)",
    "fill": "d fill(x)/dx = 0",
    "copy": "dL/dx = 0,  dL/dsrc = G (summed back to src's shape)",
    "setitem": "dL/dx = G with the written positions zeroed,  dL/dv = G[key]",
}

SMALL = 8           # show values of arrays with at most this many elements


# ------------------------------------------------------------ local values
def _s(x):
    return 1.0 / (1.0 + np.exp(-x))


def _f(a):
    return np.asarray(a, dtype=np.float64)


def _unary_local(name, ctx):
    x, y, p = _f(ctx.x), _f(ctx.y), ctx.params
    if name == "relu":
        return (x > 0).astype(np.float64)
    if name == "sigmoid":
        return y * (1 - y)
    if name == "tanh":
        return 1 - y * y
    if name == "exp":
        return y
    if name == "log":
        return 1 / x
    if name == "sqrt":
        return 0.5 / y
    if name == "abs":
        return np.sign(x)
    if name == "sin":
        return np.cos(x)
    if name == "cos":
        return -np.sin(x)
    if name == "neg":
        return -np.ones_like(x)
    if name == "leaky_relu":
        return np.where(x > 0, 1.0, p[0])
    if name == "softplus":
        beta, thr = p
        return np.where(beta * x > thr, 1.0, _s(beta * x))
    if name == "clamp":
        lo, hi = p
        return ((x >= lo) & (x <= hi)).astype(np.float64)
    if name == "gelu":
        if p and p[0]:                       # tanh approximation
            c = math.sqrt(2 / math.pi)
            u = c * (x + 0.044715 * x ** 3)
            t = np.tanh(u)
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
        from math import erf
        Phi = 0.5 * (1 + np.vectorize(erf)(x / math.sqrt(2)))
        phi = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return Phi + x * phi
    return None


def _local_values(node, out):
    """[(label, ndarray)] of the local derivative, or [] when not shown."""
    op, name = node.op, node.name
    try:
        if isinstance(op, type) and issubclass(op, _ops.Unary):
            v = _unary_local(name, node)
            return [] if v is None else [(f"{name}'", v)]
        if name == "add":
            return [("da", np.ones(())), ("db", np.ones(()))]
        if name == "sub":
            return [("da", np.ones(())), ("db", -np.ones(()))]
        if name == "mul":
            return [("d/da = b", _f(node.b)), ("d/db = a", _f(node.a))]
        if name == "div":
            a, b = _f(node.a), _f(node.b)
            return [("d/da = 1/b", 1 / b), ("d/db = -a/b^2", -a / (b * b))]
        if name == "pow":
            a, b, o = _f(node.a), _f(node.b), _f(node.out)
            with np.errstate(all="ignore"):
                lna = np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0.0)
                return [("d/da = b*a^(b-1)", b * a ** (b - 1)), ("d/db = a^b ln a", o * lna)]
        if name == "matmul":
            return [("B (dL/dA = G B^T)", _f(node.inputs[1].data)),
                    ("A (dL/dB = A^T G)", _f(node.inputs[0].data))]
        if name == "mean":
            n = node.x.size // max(node.out.size, 1)
            return [("1/n", np.asarray(1.0 / n))]
        if name == "linear":
            act = node.act
            if act == 1:
                return [("relu'(z) = 1[z > 0]", (_f(node.y) > 0).astype(np.float64))]
            return [("act'(z)", np.ones(()))] if act == 0 else []
        if name == "cross_entropy" and isinstance(op, type) and op is _ops_nn.CrossEntropy:
            p = _f(node.p)
            onehot = np.zeros_like(p)
            keep = node.target != node.ignore
            onehot[np.arange(p.shape[0])[keep], node.target[keep]] = 1
            return [("softmax(x) - onehot(t)", (p - onehot) * keep[:, None])]
        if name in ("mse_loss", "l1_loss", "binary_cross_entropy_with_logits"):
            x, t = _f(node.x), _f(node.t)
            d = {"mse_loss": lambda: 2 * (x - t), "l1_loss": lambda: np.sign(x - t),
                 "binary_cross_entropy_with_logits": lambda: _s(x) - t}[name]()
            return [("dl/dx (per element)", d)]
    except Exception:            # a freed or unusual entry: show the formula only
        return []
    return []


# ------------------------------------------------------------ formatting
def fmt(a, small=SMALL):
    """A compact string for an array: its values when small, else a summary."""
    if a is None:
        return "-"
    a = np.asarray(a)
    if a.size <= small:
        if a.ndim == 0:
            return f"{float(a):.6g}"
        return np.array2string(a.astype(np.float64), precision=4, separator=", ",
                               suppress_small=True, max_line_width=60).replace("\n", "")
    a64 = a.astype(np.float64)
    return (f"{a.shape}: |.|={np.linalg.norm(a64):.4g}, "
            f"min={a64.min():.4g}, max={a64.max():.4g}")


def _reduction_axes(raw_shape, shape):
    """The axes of raw_shape that the engine summed to get back to shape."""
    lead = len(raw_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and raw_shape[lead + i] != 1)
    return axes


# ------------------------------------------------------------ the record
@dataclass
class Sent:
    """The gradient one input received from a step."""
    input: str                 # the input's label
    shape: tuple               # the input's shape
    grad: np.ndarray           # what was sent, in the input's shape and dtype
    raw_shape: tuple           # the shape the op's backward returned
    reduced_axes: tuple = ()   # broadcast axes summed by the engine (of raw_shape)
    cast: str = ""             # "float64 -> float32" when cast back


@dataclass
class Step:
    index: int                 # position in execution order (1 = first to run)
    op: str
    output: str                # label of the output tensor
    out_shape: tuple
    inputs: list               # [(label, shape)]; None for a constant input
    upstream: np.ndarray       # dL/d output (the total)
    contributions: list        # [(from, g)] when the output fed several uses
    formula: str
    local: list                # [(label, ndarray)]
    sent: list = field(default_factory=list)   # [Sent]

    @property
    def fanout(self):
        return len(self.contributions) > 1


@dataclass
class Leaf:
    name: str
    shape: tuple
    grad: np.ndarray           # the total added to .grad
    contributions: list        # [(from, g)]


class Trace:
    """What cg.explain recorded: `steps` (execution order) and `leaves`."""

    def __init__(self, steps, leaves, output):
        self.steps = steps
        self.leaves = leaves
        self.output = output

    def __len__(self):
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def step(self, op):
        """The first step whose op name is `op`."""
        for s in self.steps:
            if s.op == op:
                return s
        raise KeyError(op)

    def leaf(self, name):
        for lf in self.leaves:
            if lf.name == name:
                return lf
        raise KeyError(name)

    # rows: (#, op, shapes, upstream, local derivative, sent to inputs)
    def _rows(self, small):
        rows = []
        for s in self.steps:
            ins = ", ".join("const" if i is None else f"{i[0]}{list(i[1])}" for i in s.inputs)
            shapes = [f"{s.output}{list(s.out_shape)} = {s.op}({ins})"]
            up = [fmt(s.upstream, small)]
            if s.fanout:
                up.append(f"fan-out: sum of {len(s.contributions)} uses")
                up += [f"  + {fmt(g, small)} (from {src})" for src, g in s.contributions]
            local = [s.formula] + [f"{lab}: {fmt(v, small)}" for lab, v in s.local]
            sent = []
            for d in s.sent:
                line = f"-> {d.input}: {fmt(d.grad, small)}"
                sent.append(line)
                if d.reduced_axes:
                    sent.append(f"   broadcast reduced: summed axes {d.reduced_axes} "
                                f"of {d.raw_shape} -> {d.shape}")
                if d.cast:
                    sent.append(f"   cast {d.cast}")
            rows.append((str(s.index), s.op, shapes, up, local, sent))
        return rows

    def _leaf_lines(self, small):
        out = []
        for lf in self.leaves:
            line = f"{lf.name}{list(lf.shape)}: .grad += {fmt(lf.grad, small)}"
            if len(lf.contributions) > 1:
                parts = " + ".join(fmt(g, small) for _, g in lf.contributions)
                line += f"   (fan-out: sum of {len(lf.contributions)} uses: {parts})"
            out.append(line)
        return out

    HEAD = ("#", "op", "computes", "upstream dL/d(out)", "local derivative", "sent to inputs")

    def __str__(self):
        rows = self._rows(SMALL)
        cells = [[[c] if isinstance(c, str) else c for c in r] for r in rows]
        head = [[h] for h in self.HEAD]
        width = [max(len(l) for r in [head] + cells for l in r[i]) for i in range(6)]
        width = [min(w, 56) for w in width]

        def wrap(lines, w):
            out = []
            for l in lines:
                lead = " " * (len(l) - len(l.lstrip()) + 2)
                out += textwrap.wrap(l, w, subsequent_indent=lead, break_on_hyphens=False,
                                     drop_whitespace=False) or [""]
            return [x.rstrip() for x in out]

        def block(r):
            cols = [wrap(c, width[i]) for i, c in enumerate(r)]
            n = max(len(c) for c in cols)
            return ["| " + " | ".join((c[k] if k < len(c) else "").ljust(width[i])
                                      for i, c in enumerate(cols)) + " |" for k in range(n)]

        sep = "+-" + "-+-".join("-" * w for w in width) + "-+"
        out = [f"cg.explain: {len(self.steps)} tape entries, run in this order "
               "(reverse of the forward pass)", sep] + block(head) + [sep]
        for r in cells:
            out += block(r) + [sep]
        out.append("Leaves (accumulated into .grad):")
        out += ["  " + l for l in self._leaf_lines(SMALL)]
        return "\n".join(out)

    def to_markdown(self):
        def esc(lines):
            return "<br>".join(l.replace("|", "\\|").replace("*", "\\*") for l in lines)

        out = ["| " + " | ".join(self.HEAD) + " |", "|" + "---|" * 6]
        for r in self._rows(SMALL):
            out.append("| " + " | ".join(esc([c] if isinstance(c, str) else c) for c in r) + " |")
        out.append("")
        out.append("**Leaves** (accumulated into `.grad`):")
        out.append("")
        out += [f"- `{l}`" for l in self._leaf_lines(SMALL)]
        return "\n".join(out)

    def __repr__(self):
        return f"<Trace of {len(self.steps)} steps, {len(self.leaves)} leaves>"


# ------------------------------------------------------------ the observer
class _Recorder:
    def __init__(self, label_of):
        self.label_of = label_of
        self.contrib = {}         # key -> [(from label, g)]
        self.steps = []
        self.leaf_totals = []
        self.current = "output"    # who is sending right now

    def _key(self, t):
        return id(t) if t.grad_fn is None else (id(t.grad_fn), t._out_idx)

    def contribution(self, t, g):
        self.contrib.setdefault(self._key(t), []).append((self.current, np.array(g, copy=True)))

    def node(self, node, upstream, raw, sent):
        out_label, out_shape = self.label_of.get((id(node), 0), (f"{node.name}?", ()))
        g0 = upstream[0] if upstream else None
        if g0 is not None:
            out_shape = g0.shape
        contribs = self.contrib.get((id(node), 0), [])
        ins = []
        for t in node.inputs or ():
            ins.append(None if t is None else (self._label(t), t.shape))
        step = Step(index=len(self.steps) + 1, op=node.name, output=out_label,
                    out_shape=tuple(out_shape), inputs=ins,
                    upstream=None if g0 is None else np.array(g0, copy=True),
                    contributions=contribs,
                    formula=FORMULAS.get(node.name, _custom_formula(node)),
                    local=_local_values(node, None))
        raw = list(raw) + [None] * (len(sent) - len(list(raw)))
        for t, r, s in zip(node.inputs or (), raw, sent):
            if s is None:
                continue
            r = np.asarray(r)
            axes = _reduction_axes(r.shape, s.shape) if r.shape != s.shape else ()
            cast = f"{r.dtype} -> {s.dtype}" if r.dtype != s.dtype else ""
            step.sent.append(Sent(self._label(t), tuple(s.shape), np.array(s, copy=True),
                                  tuple(r.shape), axes, cast))
        self.steps.append(step)
        self.current = f"#{step.index} {node.name}"

    def leaf(self, t, g):
        contribs = self.contrib.get(id(t), [])
        self.leaf_totals.append(Leaf(self._label(t), tuple(t.shape), np.array(g, copy=True),
                                     contribs))

    def _label(self, t):
        key = id(t) if t.grad_fn is None else (id(t.grad_fn), t._out_idx)
        return self.label_of.get(key, ("?", ()))[0]


def _custom_formula(node):
    doc = getattr(getattr(node.op, "fn_cls", None), "__doc__", None) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    return f"custom Function {node.name}" + (f": {first}" if first else "")


def _names_from(names):
    if names is None:
        return {}
    if hasattr(names, "named_parameters"):
        names = dict(names.named_parameters())
    return {id(t): n for n, t in dict(names).items()}


def graph_of(output):
    """Nodes reachable from output, in forward order, and every tensor seen."""
    nodes, tensors, stack, seen = [], {}, [output], set()
    while stack:
        t = stack.pop()
        key = id(t) if t.grad_fn is None else (id(t.grad_fn), t._out_idx)
        tensors.setdefault(key, t)
        node = t.grad_fn
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        for i in node.inputs or ():
            if i is not None:
                stack.append(i)
    nodes.sort(key=lambda n: n.seq)
    return nodes, tensors


def _labels(output, names):
    """(node id, out idx) or leaf id -> (label, shape)."""
    by_id = _names_from(names)
    nodes, tensors = graph_of(output)
    order = {id(n): k + 1 for k, n in enumerate(nodes)}
    labels, k = {}, 0
    for key, t in tensors.items():
        if t.grad_fn is None:
            name = t.name or by_id.get(id(t))
            if name is None and not t.requires_grad and t.data.size == 1:
                name = f"{float(t.data.reshape(-1)[0]):g}"        # a constant
            elif name is None:
                name = f"{'leaf' if t.requires_grad else 'const'}{k}"
                k += 1
        else:
            name = t.name or by_id.get(id(t)) or f"{t.grad_fn.name}{order[id(t.grad_fn)]}"
        labels[key] = (name, t.shape)
    return labels


def explain(output, names=None, gradient=None, retain_graph=False):
    """Run backward from `output` (accumulating into .grad, as backward() does)
    and return a Trace of every tape entry in execution order.

    names: optional labels for tensors, a dict {name: tensor} or a Module (its
    parameter names). Tensors with `.name` set use it."""
    if not output.requires_grad:
        raise RuntimeError("explain: the output does not require grad, so there is nothing to explain")
    labels = _labels(output, names)
    rec = _Recorder(labels)
    run_backward([output], [root_grad(output, gradient, "explain")],
                 retain_graph=retain_graph, observer=rec)
    return Trace(rec.steps, rec.leaf_totals, labels.get(
        id(output) if output.grad_fn is None else (id(output.grad_fn), output._out_idx),
        ("output", ()))[0])
