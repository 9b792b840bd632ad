"""cg.explain(output): run backward and record the calculus of every tape entry.

For each tape entry, in the order the engine runs them (the reverse of the
forward pass), a `Step` holds:

- the op, the shapes of its inputs and output, and the upstream gradient
  (dL/d output), with the separate contributions when the output was used more
  than once (a fan-out sum);
- the local derivative as a formula (from the op's row in the op table) and,
  when the tensors are small, its values, computed by the op class from what
  its tape entry saved, with the NumPy reference kernels;
- the gradient sent to each input, and whether a broadcast was undone (the
  axes that were summed) or a dtype cast back.

Leaves get their total gradient (`Trace.leaves`), with the contributions
listed when there were several. `str(trace)` is a plain-text table and
`trace.to_markdown()` a Markdown one.

    loss = ((w * x).relu() - y).abs().sum()
    print(cg.explain(loss, names={"w": w, "x": x}))
"""

import textwrap
from dataclasses import dataclass, field

import numpy as np

from . import numpy_backend, optable
from .engine import root_grad, run_backward

# The derivative of every op, as its row in the op table states it. `G` is
# the upstream gradient dL/d(output).
FORMULAS = {r.name: r.formula for r in optable.rows()}

SMALL = 8  # show values of arrays with at most this many elements


# ------------------------------------------------------------ local values
def _local_values(node, upstream):
    """[(label, ndarray)] of the local derivative, or [] when not shown.
    The op class computes them (Op.local_values) from what the entry saved,
    with the NumPy reference kernels; an array whose values are all equal is
    shown as that one value (d(a + b)/da = 1)."""
    op = node.op
    if upstream is None or not isinstance(op, type):
        return []
    try:
        values = op.local_values(node, np.asarray(upstream), numpy_backend)
    except Exception:  # a freed or unusual entry: show the formula only
        return []
    out = []
    for label, v in values:
        v = np.asarray(v)
        if v.size > 1 and np.all(v == v.reshape(-1)[0]):
            v = v.reshape(-1)[0].copy()
        out.append((label, v))
    return out


# ------------------------------------------------------------ formatting
def fmt(a, small=SMALL):
    """A compact string for an array: its values when small, else a summary."""
    if a is None:
        return "-"
    a = np.asarray(a)
    if a.size <= small:
        if a.ndim == 0:
            return f"{float(a):.6g}"
        return np.array2string(
            a.astype(np.float64),
            precision=4,
            separator=", ",
            suppress_small=True,
            max_line_width=60,
        ).replace("\n", "")
    a64 = a.astype(np.float64)
    return f"{a.shape}: |.|={np.linalg.norm(a64):.4g}, min={a64.min():.4g}, max={a64.max():.4g}"


def _reduction_axes(raw_shape, shape):
    """The axes of raw_shape that the engine summed to get back to shape."""
    lead = len(raw_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and raw_shape[lead + i] != 1
    )
    return axes


# ------------------------------------------------------------ the record
@dataclass
class Sent:
    """The gradient one input received from a step."""

    input: str  # the input's label
    shape: tuple  # the input's shape
    grad: np.ndarray  # what was sent, in the input's shape and dtype
    raw_shape: tuple  # the shape the op's backward returned
    reduced_axes: tuple = ()  # broadcast axes summed by the engine (of raw_shape)
    cast: str = ""  # "float64 -> float32" when cast back


@dataclass
class Step:
    index: int  # position in execution order (1 = first to run)
    op: str
    output: str  # label of the output tensor
    out_shape: tuple
    inputs: list  # [(label, shape)]; None for a constant input
    upstream: np.ndarray  # dL/d output (the total)
    contributions: list  # [(from, g)] when the output fed several uses
    formula: str
    local: list  # [(label, ndarray)]
    sent: list = field(default_factory=list)  # [Sent]

    @property
    def fanout(self):
        return len(self.contributions) > 1


@dataclass
class Leaf:
    name: str
    shape: tuple
    grad: np.ndarray  # the total added to .grad
    contributions: list  # [(from, g)]


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
                    sent.append(
                        f"   broadcast reduced: summed axes {d.reduced_axes} "
                        f"of {d.raw_shape} -> {d.shape}"
                    )
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
        width = [max(len(line) for r in [head] + cells for line in r[i]) for i in range(6)]
        width = [min(w, 56) for w in width]

        def wrap(lines, w):
            out = []
            for line in lines:
                lead = " " * (len(line) - len(line.lstrip()) + 2)
                out += textwrap.wrap(
                    line, w, subsequent_indent=lead, break_on_hyphens=False, drop_whitespace=False
                ) or [""]
            return [x.rstrip() for x in out]

        def block(r):
            cols = [wrap(c, width[i]) for i, c in enumerate(r)]
            n = max(len(c) for c in cols)
            return [
                "| "
                + " | ".join(
                    (c[k] if k < len(c) else "").ljust(width[i]) for i, c in enumerate(cols)
                )
                + " |"
                for k in range(n)
            ]

        sep = "+-" + "-+-".join("-" * w for w in width) + "-+"
        out = (
            [
                f"cg.explain: {len(self.steps)} tape entries, run in this order "
                "(reverse of the forward pass)",
                sep,
            ]
            + block(head)
            + [sep]
        )
        for r in cells:
            out += block(r) + [sep]
        out.append("Leaves (accumulated into .grad):")
        out += ["  " + line for line in self._leaf_lines(SMALL)]
        return "\n".join(out)

    def to_markdown(self):
        def esc(lines):
            return "<br>".join(line.replace("|", "\\|").replace("*", "\\*") for line in lines)

        out = ["| " + " | ".join(self.HEAD) + " |", "|" + "---|" * 6]
        for r in self._rows(SMALL):
            out.append("| " + " | ".join(esc([c] if isinstance(c, str) else c) for c in r) + " |")
        out.append("")
        out.append("**Leaves** (accumulated into `.grad`):")
        out.append("")
        out += [f"- `{line}`" for line in self._leaf_lines(SMALL)]
        return "\n".join(out)

    def __repr__(self):
        return f"<Trace of {len(self.steps)} steps, {len(self.leaves)} leaves>"


# ------------------------------------------------------------ the observer
class _Recorder:
    def __init__(self, label_of):
        self.label_of = label_of
        self.contrib = {}  # key -> [(from label, g)]
        self.steps = []
        self.leaf_totals = []
        self.current = "output"  # who is sending right now

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
        step = Step(
            index=len(self.steps) + 1,
            op=node.name,
            output=out_label,
            out_shape=tuple(out_shape),
            inputs=ins,
            upstream=None if g0 is None else np.array(g0, copy=True),
            contributions=contribs,
            formula=FORMULAS.get(node.name) or _custom_formula(node),
            local=_local_values(node, g0),
        )
        raw = list(raw) + [None] * (len(sent) - len(list(raw)))
        for t, r, s in zip(node.inputs or (), raw, sent):
            if s is None:
                continue
            r = np.asarray(r)
            axes = _reduction_axes(r.shape, s.shape) if r.shape != s.shape else ()
            cast = f"{r.dtype} -> {s.dtype}" if r.dtype != s.dtype else ""
            step.sent.append(
                Sent(
                    self._label(t),
                    tuple(s.shape),
                    np.array(s, copy=True),
                    tuple(r.shape),
                    axes,
                    cast,
                )
            )
        self.steps.append(step)
        self.current = f"#{step.index} {node.name}"

    def leaf(self, t, g):
        contribs = self.contrib.get(id(t), [])
        self.leaf_totals.append(
            Leaf(self._label(t), tuple(t.shape), np.array(g, copy=True), contribs)
        )

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
                name = f"{float(t.data.reshape(-1)[0]):g}"  # a constant
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
        raise RuntimeError(
            "explain: the output does not require grad, so there is nothing to explain"
        )
    labels = _labels(output, names)
    rec = _Recorder(labels)
    run_backward(
        [output], [root_grad(output, gradient, "explain")], retain_graph=retain_graph, observer=rec
    )
    return Trace(
        rec.steps,
        rec.leaf_totals,
        labels.get(
            id(output) if output.grad_fn is None else (id(output.grad_fn), output._out_idx),
            ("output", ()),
        )[0],
    )
