"""Seed 003 (a): the 13-parameter two-layer ReLU network, dy/d(every parameter).

    h1 = relu(th01 + th11 x)          h2 = relu(th02 + th12 x)
    u1 = ps01 + ps11 h1 + ps21 h2     u2 = ps02 + ps12 h1 + ps22 h2
    y  = ph0 + ph1 relu(u1) + ph2 relu(u2)

phi = (0.1, 2, -1), psi.1 = (0.2, 1.5, 0.7), psi.2 = (-0.3, 0.5, -2),
(th01, th11, th02, th12) = (-0.5, 1, 0.5, -1); evaluated at x = 2 and x = -1.

Run:  .venv/bin/python examples/seeds/seed003_thirteen_params.py
"""

import cgrad as cg

P0 = {
    "ph0": 0.1,
    "ph1": 2.0,
    "ph2": -1.0,
    "ps01": 0.2,
    "ps11": 1.5,
    "ps21": 0.7,
    "ps02": -0.3,
    "ps12": 0.5,
    "ps22": -2.0,
    "th01": -0.5,
    "th11": 1.0,
    "th02": 0.5,
    "th12": -1.0,
}
NAMES = list(P0)


def net(x, ph0, ph1, ph2, ps01, ps11, ps21, ps02, ps12, ps22, th01, th11, th02, th12):
    h1 = (th01 + th11 * x).relu()
    h2 = (th02 + th12 * x).relu()
    u1 = ps01 + ps11 * h1 + ps21 * h2
    u2 = ps02 + ps12 * h1 + ps22 * h2
    return ph0 + ph1 * u1.relu() + ph2 * u2.relu()


def run(x):
    p = {k: cg.tensor(v, dtype=cg.float64, requires_grad=True) for k, v in P0.items()}
    y = net(x, **p)
    y.backward()
    g = {k: t.grad.item() for k, t in p.items()}
    print(f"\nx = {x:g}: y = {y.item():g}")
    for group in (NAMES[0:3], NAMES[3:6], NAMES[6:9], NAMES[9:13]):
        print("  " + "   ".join(f"dy/d{k} = {g[k]:+g}" for k in group))
    ok = cg.gradcheck(
        lambda *q: net(x, *q),
        tuple(cg.tensor(v, dtype=cg.float64, requires_grad=True) for v in P0.values()),
    )
    print(f"  cg.gradcheck: {ok}")
    lr = 0.05
    with cg.no_grad():
        for t in p.values():
            t.sub_(lr * t.grad)
        y1 = net(x, **p).item()
    print(f"  one step of gradient descent on y (lr {lr}): y {y.item():g} -> {y1:.6g}")
    return {"y": y.item(), "grads": g, "gradcheck": ok, "y_after": y1}


def main():
    out = {"x=2": run(2.0), "x=-1": run(-1.0)}
    print("""
Where hand derivations go wrong
-------------------------------
  * A unit whose pre-activation is negative (h2 at x = 2, u2 at x = -1) blocks its whole
    branch: every parameter that reaches y only through it gets exactly 0.
  * dy/dth01 collects BOTH second-layer units: (ph1 I[u1>0] ps11 + ph2 I[u2>0] ps12) I[h1>0];
    dropping the ph2 path is the common slip. dy/dth11 is the same times x.
  * dy/dps11 ends in h1 (the activation), not in th01 + th11 x (the pre-activation).""")
    return out


if __name__ == "__main__":
    main()
