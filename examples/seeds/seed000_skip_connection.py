"""Seed 000: a ReLU network with a skip connection, L1 loss, one SGD step.

    z0 = w0*x   h0 = relu(z0)   z1 = w1*h0   h1 = relu(z1)
    y_hat = ws*h0 + w2*h1        (h0 is used twice: the skip path and the main path)
    L = |y - y_hat|              x = 1, y = -3, w0 = w1 = w2 = ws = 0.5, lr = 1

Run:  .venv/bin/python examples/seeds/seed000_skip_connection.py
"""

import cgrad as cg

X, Y, LR = 1.0, -3.0, 1.0
INIT = {"w0": 0.5, "w1": 0.5, "w2": 0.5, "ws": 0.5}


def forward(w0, w1, w2, ws):
    z0 = w0 * X
    h0 = z0.relu()
    z1 = w1 * h0
    h1 = z1.relu()
    y_hat = ws * h0 + w2 * h1
    out = {"z0": z0, "h0": h0, "z1": z1, "h1": h1, "y_hat": y_hat, "L": (Y - y_hat).abs()}
    for k, t in out.items():
        t.name = k  # cg.explain and cg.viz show these names
    return out


def rule(title):
    print(f"\n{title}\n" + "-" * len(title))


def main():
    w = {k: cg.tensor(v, dtype=cg.float64, requires_grad=True) for k, v in INIT.items()}
    for k, t in w.items():
        t.name = k
    rule("Seed 000: forward pass (x = 1, y = -3, every weight 0.5)")
    vals = forward(**w)
    for k, t in vals.items():
        print(f"  {k:<6}= {t.item():+.4f}")

    rule("Backward pass, step by step (cg.explain)")
    trace = cg.explain(vals["L"])
    print(trace)
    grads = {k: t.grad.item() for k, t in w.items()}
    relu_h0 = [s for s in trace.steps if s.op == "relu"][-1]  # h0 = relu(z0) runs last
    print(
        f"\n  h0 feeds two ops, so dL/dh0 = "
        f"{' + '.join(f'{float(g):g}' for _, g in relu_h0.contributions)} = "
        f"{float(relu_h0.upstream):g}  (ws from the skip path + w2*relu'(z1)*w1 from the main path)"
    )

    rule("Self-check against cg.gradcheck (central differences, float64)")
    ok = cg.gradcheck(
        lambda *p: forward(*p)["L"],
        tuple(cg.tensor(v, dtype=cg.float64, requires_grad=True) for v in INIT.values()),
    )
    print(f"  cg.gradcheck: {ok}")

    with cg.no_grad():
        for t in w.values():
            t.sub_(LR * t.grad)
    new = {k: t.item() for k, t in w.items()}
    with cg.no_grad():
        new_loss = forward(**w)["L"].item()
    rule("One SGD step, w <- w - lr * dL/dw (lr = 1)")
    for k in w:
        print(f"  {k}: {INIT[k]:+.2f} - 1*({grads[k]:+.2f}) = {new[k]:+.2f}")
    print(f"  loss {vals['L'].item():.4f} -> {new_loss:.4f}")

    rule("Where hand derivations go wrong")
    print("""  * d|y - y_hat|/dy_hat is sign(y_hat - y) = +1 here, NOT (y - y_hat)/|y - y_hat| = -1:
    u = y - y_hat has du/dy_hat = -1. The seed's sign flips every gradient
    (it has -0.75, -0.25, -0.25, -0.5) and its 'descent' step raises the loss to 4.95.
  * The skip path carries ws: dL/dh0 = dL/dy_hat * (ws + w2*relu'(z1)*w1). Writing
    w2*(1 + w1*relu'(z1)) only gives the right number because ws = w2 = 0.5.
  * relu'(z) = 1 for z > 0 (not z < 0), and 0 at z = 0 by convention, as in torch.
  * h0 is used twice: its gradient is the SUM of both uses (the fan-out row above).""")
    return {
        "forward": {k: t.item() for k, t in vals.items()},
        "grads": grads,
        "new": new,
        "new_loss": new_loss,
        "gradcheck": ok,
        "fanout": [float(g) for _, g in relu_h0.contributions],
        "trace": trace,
    }


if __name__ == "__main__":
    main()
