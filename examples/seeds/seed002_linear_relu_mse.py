"""Seed 002, problems 1.2-1.3: Linear -> f -> Linear -> g, three variants.

    z1 = W1 x + b1,  z2 = f(z1),  z3 = W2 z2 + b2,  y_hat = g(z3)
    1.2    f = 5*ReLU, g = identity, l = ||y_hat - y||^2, y = [2, -3]
    1.3.A  f = tanh,   g = sigmoid,  l = ||y_hat - y||^2, y = [1, 0]
    1.3.B  f = tanh,   g = sigmoid,  l = BCE = -(1/K) sum(y ln y_hat + (1-y) ln(1-y_hat))

The seed is symbolic; these concrete numbers (with one dead ReLU unit) are ours.

Run:  .venv/bin/python examples/seeds/seed002_linear_relu_mse.py
"""

import numpy as np

import cgrad as cg

X = [1.0, -2.0]
W1 = [[0.5, -0.5], [1.0, 1.0], [0.25, -0.5]]
B1 = [0.1, 0.2, -0.25]
W2 = [[0.1, -0.2, 0.3], [-0.4, 0.5, 0.2]]
B2 = [0.5, -1.0]
LR = 0.1


def t(v, grad=False):
    return cg.tensor(v, dtype=cg.float64, requires_grad=grad)


def net(w1, b1, w2, b2, variant):
    x = t(X)
    z1 = w1 @ x + b1
    z2 = 5 * z1.relu() if variant == "1.2" else z1.tanh()
    z3 = w2 @ z2 + b2
    y_hat = z3 if variant == "1.2" else z3.sigmoid()
    if variant == "1.2":
        loss = ((y_hat - t([2.0, -3.0])) ** 2).sum()
    elif variant == "1.3.A":
        loss = ((y_hat - t([1.0, 0.0])) ** 2).sum()
    else:
        y = t([1.0, 0.0])
        loss = -(y * y_hat.log() + (1 - y) * (1 - y_hat).log()).sum() / 2
    return {"z1": z1, "z2": z2, "z3": z3, "y_hat": y_hat, "loss": loss}


def _fmt(a):
    return np.array2string(a, precision=6, suppress_small=True, separator=", ").replace("\n", "")


def run(variant, title):
    np.set_printoptions(precision=6, suppress=True)
    ps = [t(W1, True), t(B1, True), t(W2, True), t(B2, True)]
    v = net(*ps, variant)
    for k in ("z3", "y_hat"):
        v[k].retain_grad()
    v["loss"].backward()
    print(f"\n{title}\n" + "-" * len(title))
    for k in ("z1", "z2", "z3", "y_hat"):
        print(f"  {k:<6}= {v[k].numpy()}")
    print(f"  loss  = {v['loss'].item():.12f}")
    print(f"  dl/dy_hat = {v['y_hat'].grad.numpy()}   dl/dz3 = {v['z3'].grad.numpy()}")
    for n, p in zip(("W1", "b1", "W2", "b2"), ps):
        print(f"  dl/d{n} = {_fmt(p.grad.numpy())}")
    ok = cg.gradcheck(
        lambda *q: net(*q, variant)["loss"], tuple(t(a, True) for a in (W1, B1, W2, B2))
    )
    print(f"  cg.gradcheck: {ok}")
    with cg.no_grad():
        for p in ps:
            p.sub_(LR * p.grad)
        new_loss = net(*ps, variant)["loss"].item()
    print(f"  after one SGD step (lr {LR}): W2 = {_fmt(ps[2].numpy())}, loss -> {new_loss:.6f}")
    return {
        "z1": v["z1"].numpy().copy(),
        "z2": v["z2"].numpy().copy(),
        "y_hat": v["y_hat"].numpy().copy(),
        "loss": v["loss"].item(),
        "dy_hat": v["y_hat"].grad.numpy().copy(),
        "dz3": v["z3"].grad.numpy().copy(),
        "grads": {n: np.array(p.grad.numpy()) for n, p in zip(("W1", "b1", "W2", "b2"), ps)},
        "new": {n: p.numpy().copy() for n, p in zip(("W1", "b1", "W2", "b2"), ps)},
        "gradcheck": ok,
    }


def jacobian_dz3_dz2():
    """d z3 / d z2, built row by row with cg.grad: row i = gradient of z3[i]."""
    z2 = t([8.0, 0.0, 5.0], True)
    z3 = t(W2) @ z2 + t(B2)
    rows = [
        cg.grad(z3, z2, grad_outputs=t(np.eye(2)[i]), retain_graph=True)[0].numpy()
        for i in range(2)
    ]
    return np.stack(rows)


def main():
    out = {
        "1.2": run("1.2", "1.2: f = 5 ReLU, g = identity, squared-error loss"),
        "1.3.A": run("1.3.A", "1.3.A: f = tanh, g = sigmoid, squared-error loss"),
        "1.3.B": run("1.3.B", "1.3.B: f = tanh, g = sigmoid, BCE (mean over K = 2)"),
    }
    J = jacobian_dz3_dz2()
    print(
        f"\nThe Jacobian dz3/dz2 (entry [i, j] = dz3_i/dz2_j), from cg.grad:\n{J}\n = W2 (k x d), "
        "not W2^T. W2^T is what multiplies the upstream gradient: dl/dz2 = W2^T dl/dz3."
    )
    out["J"] = J
    print("""
Where hand derivations go wrong
-------------------------------
  * l = ||y_hat - y||^2 has dl/dy_hat = 2(y_hat - y); there is no 1/N unless the loss has one
    (torch's MSELoss averages, which halves every gradient here).
  * dz3/dz2 is W2 (k x d); W2^T appears in the backward product, not as the Jacobian.
  * The ReLU unit with z1 < 0 passes no gradient: its rows of dl/dW1 and dl/db1 are 0.
  * s'(z): d(1 + e^-z)^-1/dz = e^-z / (1 + e^-z)^2 (exponent +2, not -2).
  * BCE: the -(1/K) must cover BOTH terms: dl/dy_hat = (1/K)(-y/y_hat + (1-y)/(1-y_hat)).
    Applying 1/K to the first term only makes the y = 0 output's gradient K times too big.""")
    return out


if __name__ == "__main__":
    main()
