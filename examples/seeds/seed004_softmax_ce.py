"""Seed 004: a 2-3-2 network, sigmoid hidden layer, softmax, cross-entropy, one SGD step (lr 0.9).

    k = x W + b,  h = s(k),  o = h V + c,  y = softmax(o),  l = -ln y[target]
    x = [1, -1], W = [[1, 1, 1], [-1, -1, -1]], b = 0,
    V = [[1, 1], [-1, -1], [-1, -1]], c = 0, target class 0

Run:  .venv/bin/python examples/seeds/seed004_softmax_ce.py
"""

import numpy as np

import cgrad as cg

X = [[1.0, -1.0]]
W0 = [[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]
V0 = [[1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0]]
LR = 0.9


def net(W, b, V, c, target):
    k = cg.tensor(X, dtype=cg.float64) @ W + b
    h = k.sigmoid()
    o = h @ V + c
    y = o.softmax(dim=-1)
    loss = -y[0, target].log()
    return {"k": k, "h": h, "o": o, "y": y, "loss": loss}


def params():
    return [
        cg.tensor(a, dtype=cg.float64, requires_grad=True)
        for a in (W0, np.zeros(3), V0, np.zeros(2))
    ]


def run(target):
    np.set_printoptions(precision=6, suppress=True)
    W, b, V, c = ps = params()
    v = net(*ps, target)
    for t in ("h", "o", "y"):
        v[t].retain_grad()
    v["loss"].backward()
    print(f"\nTarget class {target}\n--------------")
    print(
        f"  k = {v['k'].numpy()}  h = {v['h'].numpy()}\n  o = {v['o'].numpy()}  "
        f"y = {v['y'].numpy()}  l = {v['loss'].item():.6f}"
    )
    print(
        f"  dl/dy = {v['y'].grad.numpy()}   dl/do = {v['o'].grad.numpy()}   "
        f"dl/dh = {v['h'].grad.numpy()}"
    )
    print(
        f"  dl/dV =\n{V.grad.numpy()}\n  dl/dc = {c.grad.numpy()}   dl/dW = 0: "
        f"{not W.grad.numpy().any()}   dl/db = 0: {not b.grad.numpy().any()}"
    )
    ok = cg.gradcheck(lambda *q: net(*q, target)["loss"], tuple(params()))
    print(f"  cg.gradcheck: {ok}")
    grads = {n: p.grad.numpy().copy() for n, p in zip("WbVc", ps)}
    with cg.no_grad():
        for p in ps:
            p.sub_(LR * p.grad)
        l1 = net(*ps, target)["loss"].item()
    print(
        f"  after one SGD step (lr {LR}): V =\n{V.numpy()}\n  c = {c.numpy()}, "
        f"loss {v['loss'].item():.6f} -> {l1:.6f}"
    )
    return {
        "loss": v["loss"].item(),
        "y": v["y"].numpy().copy(),
        "dy": v["y"].grad.numpy().copy(),
        "do": v["o"].grad.numpy().copy(),
        "dh": v["h"].grad.numpy().copy(),
        "grads": grads,
        "V_new": V.numpy().copy(),
        "c_new": c.numpy().copy(),
        "W_new": W.numpy().copy(),
        "loss_after": l1,
        "gradcheck": ok,
    }


def main():
    out = {0: run(0), 1: run(1)}
    print("""
Where hand derivations go wrong
-------------------------------
  * d(-ln y_t)/dy_i is -1/y_t for i = t and 0 otherwise: [-2, 0] for target 0, not [-2, -2].
  * Through the softmax it collapses to dl/do = y - onehot(t) = [-0.5, +0.5] for target 0;
    the seed's [+0.5, -0.5] is onehot - y (the sign flips dl/dc and dl/dV too).
  * The first layer's gradients are exactly 0, and rightly so: each row of V has equal
    entries, so dl/dh = V dl/do = 0 whatever dl/do is. W and b do not move.
  * A lower learning rate generally needs MORE epochs, not fewer.""")
    return out


if __name__ == "__main__":
    main()
