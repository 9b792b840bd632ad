"""Seed 003 (b): the sin/exp/cos chain, its local derivatives and Jacobian shapes.

    f0 = b0 + w0 x   h1 = sin(f0)   f1 = b1 + w1 h1   h2 = exp(f1)
    f2 = b2 + w2 h2  h3 = cos(f2)   f3 = b3 + w3 h3   l = (f3 - y)^2
    b = (1, 2, -3, 0.4), w = (0.1, -0.4, 2, 3), x = 2.3, y = 2

Then the same chain with vectors, (Di, D1, D2, D3, Df) = (2, 3, 4, 2, 1): the
product of the seven Jacobians (denominator layout) must equal cgrad's dl/df0.

Run:  .venv/bin/python examples/seeds/seed003_sin_exp_cos.py
"""

import numpy as np

import cgrad as cg

B = (1.0, 2.0, -3.0, 0.4)
W = (0.1, -0.4, 2.0, 3.0)
X, Y = 2.3, 2.0
NAMES = ("f0", "h1", "f1", "h2", "f2", "h3", "f3")


def chain(x, b0, w0, b1, w1, b2, w2, b3, w3, matmul=False):
    mm = (lambda w, h: w @ h) if matmul else (lambda w, h: w * h)
    f0 = b0 + mm(w0, x)
    h1 = f0.sin()
    f1 = b1 + mm(w1, h1)
    h2 = f1.exp()
    f2 = b2 + mm(w2, h2)
    h3 = f2.cos()
    f3 = b3 + mm(w3, h3)
    return dict(zip(NAMES, (f0, h1, f1, h2, f2, h3, f3)))


def scalar():
    p = [
        cg.tensor(v, dtype=cg.float64, requires_grad=True) for pair in zip(B, W) for v in pair
    ]  # b0, w0, b1, w1, ...
    v = chain(X, *p)
    for t in v.values():
        t.retain_grad()
    loss = (v["f3"] - Y) ** 2
    loss.backward()
    print("Scalar chain")
    print(
        "  forward:  "
        + ", ".join(f"{k} = {t.item():.7f}" for k, t in v.items())
        + f", l = {loss.item():.7f}"
    )
    print(
        "  dl/d(f0, h1, f1, h2, f2, h3, f3) = "
        + ", ".join(f"{t.grad.item():.7f}" for t in v.values())
    )
    pn = ("b0", "w0", "b1", "w1", "b2", "w2", "b3", "w3")
    print("  dl/d(" + ", ".join(pn) + ") = " + ", ".join(f"{t.grad.item():.7f}" for t in p))
    print(
        "  local derivatives: dh3/df2 = -sin f2, df3/dh3 = w3, dh2/df1 = exp f1, "
        "df2/dh2 = w2, dh1/df0 = cos f0, ..."
    )
    ok = cg.gradcheck(
        lambda *q: (chain(X, *q)["f3"] - Y) ** 2,
        tuple(cg.tensor(t.item(), dtype=cg.float64, requires_grad=True) for t in p),
    )
    print(f"  cg.gradcheck: {ok}")
    lr = 1e-4  # |grad|^2 ~ 660: lr 1e-2 or even 2e-3 overshoots
    with cg.no_grad():
        for t in p:
            t.sub_(lr * t.grad)
        l1 = ((chain(X, *p)["f3"] - Y) ** 2).item()
    print(f"  one SGD step (lr {lr}): l {loss.item():.7f} -> {l1:.7f}")
    return {
        "values": {k: t.item() for k, t in v.items()},
        "loss": loss.item(),
        "d_nodes": [t.grad.item() for t in v.values()],
        "d_params": [t.grad.item() for t in p],
        "gradcheck": ok,
        "loss_after": l1,
    }


def vector(seed=3):
    dims = (2, 3, 4, 2, 1)  # Di, D1, D2, D3, Df
    rng = np.random.default_rng(seed)
    arrays = {}
    for i in range(4):
        arrays[f"b{i}"] = rng.normal(size=dims[i + 1]) * 0.5
        arrays[f"w{i}"] = rng.normal(size=(dims[i + 1], dims[i])) * 0.5
    x, y = rng.normal(size=2), 0.7
    ps = [
        cg.tensor(arrays[k], dtype=cg.float64, requires_grad=True)
        for i in range(4)
        for k in (f"b{i}", f"w{i}")
    ]
    v = chain(cg.tensor(x, dtype=cg.float64), *ps, matmul=True)
    v["f0"].retain_grad()
    loss = ((v["f3"] - y) ** 2).sum()
    loss.backward()
    f0, f1, f2, f3 = (v[k].numpy() for k in ("f0", "f1", "f2", "f3"))
    jac = [
        ("dh1/df0", np.diag(np.cos(f0))),
        ("df1/dh1", arrays["w1"].T),
        ("dh2/df1", np.diag(np.exp(f1))),
        ("df2/dh2", arrays["w2"].T),
        ("dh3/df2", np.diag(-np.sin(f2))),
        ("df3/dh3", arrays["w3"].T),
        ("dl/df3", 2 * (f3 - y).reshape(1, 1)),
    ]
    prod = jac[0][1]
    for _, j in jac[1:]:
        prod = prod @ j
    print("\nVector chain, (Di, D1, D2, D3, Df) = (2, 3, 4, 2, 1): Jacobian shapes")
    print("  " + "  ".join(f"{n}: {j.shape[0]}x{j.shape[1]}" for n, j in jac))
    print(f"  product (D1 x 1) = {prod.ravel()}   cgrad dl/df0 = {v['f0'].grad.numpy()}")
    ok = cg.gradcheck(
        lambda *q: ((chain(cg.tensor(x, dtype=cg.float64), *q, matmul=True)["f3"] - y) ** 2).sum(),
        tuple(cg.tensor(t.numpy(), dtype=cg.float64, requires_grad=True) for t in ps),
    )
    print(f"  cg.gradcheck (all 8 parameter tensors): {ok}")
    return {
        "arrays": arrays,
        "x": x,
        "y": y,
        "product": prod.ravel(),
        "cgrad_df0": v["f0"].grad.numpy().copy(),
        "shapes": [j.shape for _, j in jac],
        "gradcheck": ok,
    }


def main():
    out = {"scalar": scalar(), "vector": vector()}
    print("""
Where hand derivations go wrong
-------------------------------
  * The seed's local derivatives (-sin f2, w2, exp f1, w1, cos f0) and its Jacobian shapes
    (D1xD1, D1xD2, D2xD2, D2xD3, D3xD3, D3xDf, Dfx1) are right. The usual slips are:
  * mixing layouts: in denominator layout df1/dh1 is W1^T (D1 x D2), not W1;
  * multiplying the Jacobians in the wrong order (the shapes must chain: (D1xD1)(D1xD2)...);
  * forgetting that elementwise functions give DIAGONAL Jacobians (sin, exp, cos).""")
    return out


if __name__ == "__main__":
    main()
