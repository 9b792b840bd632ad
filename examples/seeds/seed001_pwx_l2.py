"""Seed 001, problem 1(b): P = W X with the loss L = ||Y - W X||^2, one step of size 0.1.

    W = [[0.3, 0.5], [-0.2, 0.4]]   X = [[0, 2], [3, 1]]   Y = [[0.5, 1], [1, -1.5]]

Run:  .venv/bin/python examples/seeds/seed001_pwx_l2.py
"""

import numpy as np

import cgrad as cg

W0 = [[0.3, 0.5], [-0.2, 0.4]]
X = [[0.0, 2.0], [3.0, 1.0]]
Y = [[0.5, 1.0], [1.0, -1.5]]
LR = 0.1


def loss_of(W):
    P = W @ cg.tensor(X, dtype=cg.float64)
    return ((cg.tensor(Y, dtype=cg.float64) - P) ** 2).sum(), P


def rule(title):
    print(f"\n{title}\n" + "-" * len(title))


def main():
    np.set_printoptions(precision=4, suppress=True)
    W = cg.tensor(W0, dtype=cg.float64, requires_grad=True)
    W.name = "W"
    L, P = loss_of(W)
    rule("Forward pass")
    print(f"  P = W X =\n{P.numpy()}\n  Y - P =\n{np.array(Y) - P.numpy()}\n  L = {L.item():.4f}")
    L.backward()
    g = W.grad.numpy().copy()
    rule("Gradient: dL/dW = -2 (Y - P) X^T")
    print(g)
    rule("Self-check against cg.gradcheck")
    ok = cg.gradcheck(
        lambda w: loss_of(w)[0], (cg.tensor(W0, dtype=cg.float64, requires_grad=True),)
    )
    print(f"  cg.gradcheck: {ok}")
    with cg.no_grad():
        W.sub_(LR * W.grad)
        L1 = loss_of(W)[0].item()
    rule("Update W <- W - 0.1 dL/dW")
    print(W.numpy())
    print(f"  loss {L.item():.4f} -> {L1:.4f}")
    rule("Where hand derivations go wrong")
    print("""  * Entry (1,2) of dL/dW is 2*3 + 0.2*1 = 6.2 (the seed writes 6.1, yet its update
    0.5 - 0.62 = -0.12 used 6.2).
  * Gradient DEscent subtracts: W - lr dL/dW. The seed's rule 'W + lr dL/dW' climbs.
  * Entry (2,2) of the update is 0.4 - 0.1*4.2 = -0.02 (the seed has +0.02).
  * In dL/dw_ij = sum_b dL/dp_ib x_jb the index of the upstream term is i, not m:
    the matrix form is dL/dW = (dL/dP) X^T.""")
    return {
        "P": P.numpy().copy(),
        "L": L.item(),
        "grad": g,
        "W_new": W.numpy().copy(),
        "L_new": L1,
        "gradcheck": ok,
    }


if __name__ == "__main__":
    main()
