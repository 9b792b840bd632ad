"""The recorded graph as Graphviz DOT.

    dot = cg.viz.to_dot(loss)          # a string
    cg.viz.render(loss, "graph.svg")   # an image if Graphviz's `dot` is installed,
                                       # else graph.dot (and it says so)

One node per tensor (ellipse: its name when given, shape, dtype and, when it
has at most `small` elements, its value) and one per op (box). Every use of
a tensor is its own edge, so `x + x` draws two edges from x to the add, and a
skip connection shows as two edges out of the shared tensor. Edges are
labelled with the input position when an op takes several inputs.
Call it before backward(): backward frees the inputs of each tape entry
(unless retain_graph=True), and a freed entry is drawn without its inputs.
"""

import os
import shutil
import subprocess

import numpy as np

from .explain import _names_from, graph_of


def _esc(s):
    return str(s).replace("\\", "\\\\").replace('"', '\\"')


def _q(s):
    return '"' + _esc(s) + '"'


def _label(parts):
    """A quoted DOT label with one line per part (DOT's \\n line break)."""
    return '"' + "\\n".join(_esc(p) for p in parts) + '"'


def _value(t, small):
    a = t.data
    if a.size > small:
        return None
    if a.ndim == 0:
        return f"{float(a):.4g}"
    return np.array2string(
        a.astype(np.float64), precision=4, separator=",", suppress_small=True
    ).replace("\n", "")


def to_dot(output, names=None, small=6):
    """Graphviz DOT text for the graph that produced `output`.

    names: optional {name: tensor} or a Module, to label leaves."""
    by_id = _names_from(names)
    nodes, tensors = graph_of(output)
    order = {id(n): k + 1 for k, n in enumerate(nodes)}
    tid = {}
    lines = [
        "digraph cgrad {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for k, (key, t) in enumerate(tensors.items()):
        tid[key] = f"t{k}"
        name = t.name or by_id.get(id(t))
        parts = [name] if name else []
        if not name and t.grad_fn is not None:
            parts.append(f"({t.grad_fn.name}{order[id(t.grad_fn)]})")
        parts.append(f"{tuple(t.shape)} {t.dtype}")
        v = _value(t, small)
        if v is not None:
            parts.append(f"= {v}")
        style = "filled" if t.grad_fn is None else "solid"
        color = (
            "lightblue"
            if (t.grad_fn is None and t.requires_grad)
            else ("lightgrey" if t.grad_fn is None else "white")
        )
        extra = ", penwidth=2" if t is output else ""
        lines.append(
            f"  {tid[key]} [shape=ellipse, style={style}, fillcolor={color}{extra}, "
            f"label={_label(parts)}];"
        )
    for n in nodes:
        oid = f"op{order[id(n)]}"
        label = f"{n.name}" + (" (freed)" if n.freed else "")
        lines.append(f"  {oid} [shape=box, style=rounded, label={_q(label)}];")
        ins = n.inputs or ()
        many = len(ins) > 1
        for pos, i in enumerate(ins):
            if i is None:
                continue
            key = id(i) if i.grad_fn is None else (id(i.grad_fn), i._out_idx)
            lab = f" [label={_q(pos)}]" if many else ""
            lines.append(f"  {tid[key]} -> {oid}{lab};")
    for key, t in tensors.items():
        if t.grad_fn is not None:
            lines.append(f"  op{order[id(t.grad_fn)]} -> {tid[key]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(output, path, names=None, small=6):
    """Write the graph as an image (the format from path's suffix: .svg, .png,
    .pdf) with Graphviz's `dot`. Without Graphviz, write the DOT text next to
    it as <path without suffix>.dot and say so. Returns the path written."""
    path = os.fspath(path)
    text = to_dot(output, names=names, small=small)
    root, ext = os.path.splitext(path)
    fmt = ext.lstrip(".").lower() or "svg"
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    exe = shutil.which("dot")
    if fmt != "dot" and exe is not None:
        subprocess.run([exe, f"-T{fmt}", "-o", path], input=text.encode(), check=True)
        return path
    dot_path = root + ".dot"
    with open(dot_path, "w") as f:
        f.write(text)
    if fmt != "dot":
        print(
            f"cgrad.viz.render: Graphviz 'dot' was not found, so wrote the DOT source to "
            f"{dot_path} (render it with: dot -T{fmt} {dot_path} -o {path})"
        )
    return dot_path
