"""Seed 002, problem 1.4.C: the derivatives of ReLU, LeakyReLU(0.01), Softplus(beta=1), GELU.

cgrad's backward computes each derivative over a grid of inputs (the gradient
of sum(f(x)) with respect to x is f'(x) elementwise); the closed forms are

    ReLU'(x)      = 1[x > 0]                  (0 at x = 0, as torch)
    LeakyReLU'(x) = 1 if x > 0 else 0.01      (0.01 at x = 0, as torch)
    Softplus'(x)  = s(x) = 1 / (1 + e^-x)
    GELU'(x)      = Phi(x) + x phi(x)         (Phi, phi: the standard normal CDF and density)

Both are plotted to examples/out/derivative_curves.png.

Run:  .venv/bin/python examples/seeds/seed002_derivative_curves.py
"""

import math
import os

import numpy as np

import cgrad as cg

HERE = os.path.dirname(os.path.abspath(__file__))
POINTS = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])

ACTS = {
    "ReLU": (lambda t: t.relu(), lambda x: (x > 0).astype(float)),
    "LeakyReLU(0.01)": (lambda t: t.leaky_relu(0.01), lambda x: np.where(x > 0, 1.0, 0.01)),
    "Softplus(beta=1)": (lambda t: t.softplus(beta=1.0), lambda x: 1 / (1 + np.exp(-x))),
    "GELU": (
        lambda t: t.gelu(),
        lambda x: (
            0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
            + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        ),
    ),
}


def derivative(f, xs):
    x = cg.tensor(xs, dtype=cg.float64, requires_grad=True)
    f(x).sum().backward()
    return x.grad.numpy().copy()


def main(out_dir=None):
    grid = np.linspace(-4, 4, 801)  # includes x = 0 exactly
    out = {"max_diff": {}, "at_points": {}, "gradcheck": {}}
    print(f"{'x':>18}" + "".join(f"{x:>9g}" for x in POINTS))
    for name, (f, closed) in ACTS.items():
        d = derivative(f, grid)
        out["max_diff"][name] = float(np.max(np.abs(d - closed(grid))))
        out["at_points"][name] = derivative(f, POINTS)
        print(f"{name:>18}" + "".join(f"{v:9.5f}" for v in out["at_points"][name]))
        # gradcheck away from the kinks of ReLU / LeakyReLU at 0
        probe = cg.tensor([-1.3, -0.2, 0.3, 1.7], dtype=cg.float64, requires_grad=True)
        out["gradcheck"][name] = cg.gradcheck(f, (probe,))
    print("\nmax |cgrad backward - closed form| over 801 points in [-4, 4]:")
    for name, v in out["max_diff"].items():
        print(f"  {name:<18} {v:.2e}   cg.gradcheck: {out['gradcheck'][name]}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4), sharey=True)
    for ax, (name, (f, closed)) in zip(axes, ACTS.items()):
        ax.plot(grid, derivative(f, grid), lw=2.5, label="cgrad backward")
        ax.plot(grid, closed(grid), "k--", lw=1, label="closed form")
        ax.plot(POINTS, out["at_points"][name], "o", ms=4, color="C3")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set(title=f"{name}'", xlabel="x")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("f'(x)")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Activation derivatives: cgrad's backward over a grid vs the closed forms")
    fig.tight_layout()
    out_dir = out_dir or os.path.normpath(os.path.join(HERE, "..", "out"))
    os.makedirs(out_dir, exist_ok=True)
    png = os.path.join(out_dir, "derivative_curves.png")
    fig.savefig(png, dpi=100)
    plt.close(fig)
    print(f"\nwrote the plot to {png}")
    out["png"] = png
    print("""
Where hand derivations go wrong
-------------------------------
  * At x = 0 ReLU is not differentiable; frameworks pick ReLU'(0) = 0 (and LeakyReLU'(0) = 0.01).
  * Softplus' is the logistic sigmoid s(x), not e^x / (1 + e^x)^2 (that is s'(x)).
  * GELU' = Phi(x) + x phi(x) is NOT monotone and not bounded by 1: it dips below 0
    (min -0.129 at x = -sqrt 2, where GELU's second derivative phi(x)(2 - x^2) is 0)
    and overshoots 1 (max 1.129 at x = +sqrt 2).""")
    return out


if __name__ == "__main__":
    main()
