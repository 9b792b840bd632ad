"""Seed 002, problem 1.4.B: the graph a = x*y + z, b = (x + x)*a, w = a*b.

x is used three times (twice in x + x, once in x*y) and a twice, so the
gradients test fan-out accumulation: w = 2 x a^2, so
dw/dx = 2a^2 + 4xay, dw/dy = 4x^2 a, dw/dz = 4xa.

Run:  .venv/bin/python examples/seeds/seed002_fanout_graph.py
"""

import os

import cgrad as cg

HERE = os.path.dirname(os.path.abspath(__file__))


def graph(x, y, z):
    a = x * y + z
    b = (x + x) * a
    w = a * b
    a.name, b.name, w.name = "a", "b", "w"
    return a, b, w


def run(point, show=False, out_dir=None):
    x, y, z = (cg.tensor(v, dtype=cg.float64, requires_grad=True) for v in point)
    x.name, y.name, z.name = "x", "y", "z"
    a, b, w = graph(x, y, z)
    print(f"\n(x, y, z) = {point}: a = {a.item():g}, b = {b.item():g}, w = {w.item():g}")
    dot = None
    if show:
        dot = cg.viz.to_dot(w)
        out_dir = out_dir or os.path.normpath(os.path.join(HERE, "..", "out"))
        path = cg.viz.render(w, os.path.join(out_dir, "seed002_fanout_graph.svg"))
        xid = next(line.split()[0] for line in dot.splitlines() if 'label="x\\n' in line)
        n_x = sum(1 for line in dot.splitlines() if line.strip().startswith(xid + " ->"))
        print(f"  graph written to {path}; x has {n_x} outgoing edges (one per use)")
        trace = cg.explain(w)
        print(trace)
    else:
        w.backward()
    g = (x.grad.item(), y.grad.item(), z.grad.item())
    print(f"  dw/dx = {g[0]:g}, dw/dy = {g[1]:g}, dw/dz = {g[2]:g}")
    ok = cg.gradcheck(
        lambda *p: graph(*p)[2],
        tuple(cg.tensor(v, dtype=cg.float64, requires_grad=True) for v in point),
    )
    print(f"  cg.gradcheck: {ok}")
    lr = 0.01
    print(
        f"  one gradient-descent step (lr {lr}): (x, y, z) -> "
        f"({point[0] - lr * g[0]:g}, {point[1] - lr * g[1]:g}, {point[2] - lr * g[2]:g})"
    )
    return {"a": a.item(), "b": b.item(), "w": w.item(), "grad": g, "gradcheck": ok, "dot": dot}


def main(out_dir=None):
    out = {"p1": run((2.0, -1.0, 0.5), show=True, out_dir=out_dir), "p2": run((1.0, 2.0, 3.0))}
    print("""
Where hand derivations go wrong
-------------------------------
  * x reaches w along three paths (x + x counts twice, and x*y). Its gradient is the SUM of
    all of them: dw/dx = 2a^2 + 4xay. Following only one path gives 2a^2 or 4xay alone.
  * a is used twice (in b and in w = a*b): dw/da = b + a*(x + x), both terms.
  * d(x + x)/dx = 2, not 1.""")
    return out


if __name__ == "__main__":
    main()
