"""Seed 000: a tiny ReLU network with a skip connection, L1 loss, one SGD step.

    z0 = w0*x   h0 = relu(z0)   z1 = w1*h0   h1 = relu(z1)
    y_hat = ws*h0 + w2*h1       (h0 reaches the output twice: skip + main path)
    L = |y - y_hat|             x = 1, y = -3, all weights 0.5, lr = 1

Run from the repo root:  .venv/bin/python examples/seed000_skip_connection.py
"""
import numpy as np

import cgrad as cg

X, Y, LR = 1.0, -3.0, 1.0
INIT = {"w0": 0.5, "w1": 0.5, "w2": 0.5, "ws": 0.5}
SEED_GRADS = {"w0": -0.75, "w1": -0.25, "w2": -0.25, "ws": -0.5}  # what the homework wrote
SEED_NEW = {"w0": 1.25, "w1": 0.75, "w2": 0.75, "ws": 1.00}


def forward(w0, w1, w2, ws):
    z0 = w0 * X
    h0 = z0.relu()
    z1 = w1 * h0
    h1 = z1.relu()
    y_hat = ws * h0 + w2 * h1
    loss = (Y - y_hat).abs()
    return {"z0": z0, "h0": h0, "z1": z1, "h1": h1, "y_hat": y_hat, "loss": loss}


def loss_float64(w0, w1, w2, ws):
    """The same loss in plain float64 Python, for finite differences."""
    h0 = max(w0 * X, 0.0)
    return abs(Y - (ws * h0 + w2 * max(w1 * h0, 0.0)))


def rule(title):
    print(f"\n{title}\n" + "-" * len(title))


w = {k: cg.tensor(v, dtype=cg.float64, requires_grad=True) for k, v in INIT.items()}
print(f"cgrad {cg.__version__}, backend {cg.get_backend()!r}")
rule("Setup")
print(f"x = {X}, y = {Y}, lr = {LR}, " + ", ".join(f"{k} = {v}" for k, v in INIT.items()))

rule("Forward pass")
vals = forward(**w)
for name, t in vals.items():
    print(f"  {name:<6}= {t.item():8.4f}")

vals["loss"].backward()
grads = {k: t.grad.item() for k, t in w.items()}
rule("Gradients (backward pass)")
print(f"  {'':<28}{'cgrad':>10}    {'seed 000':>12}")
for k in w:
    print(f"  {'dL/d' + k:<28}{grads[k]:+10.4f}    {SEED_GRADS[k]:+12.4f}")

eps, fd = 1e-6, {}
for k in w:
    hi, lo = dict(INIT), dict(INIT)
    hi[k] += eps
    lo[k] -= eps
    fd[k] = (loss_float64(**hi) - loss_float64(**lo)) / (2 * eps)
err = max(abs(grads[k] - fd[k]) for k in w)
rule("Check against central finite differences (float64, eps = 1e-6)")
print("  " + ", ".join(f"{k}: {fd[k]:+.6f}" for k in w) + f"   max |diff| = {err:.1e}")
assert err < 1e-6, "gradients disagree with finite differences"
if hasattr(cg, "gradcheck"):
    ins = tuple(cg.tensor(v, dtype=cg.float64, requires_grad=True) for v in INIT.values())
    print(f"  cg.gradcheck: {cg.gradcheck(lambda *p: forward(*p)['loss'], ins)}")

with cg.no_grad():
    for t in w.values():
        t.sub_(LR * t.grad)
rule("After one SGD step, w <- w - lr * dL/dw")
print(f"  {'':<28}{'cgrad':>10}    {'seed 000':>12}")
for k, t in w.items():
    print(f"  {k:<28}{t.item():+10.4f}    {SEED_NEW[k]:+12.4f}")
with cg.no_grad():
    new_loss = forward(**w)["loss"].item()
print(f"  loss {vals['loss'].item():.4f} -> {new_loss:.4f} "
      f"(the seed's weights would give {loss_float64(*SEED_NEW.values()):.4f})")

rule("Where the seed went wrong")
print("""  d|y - y_hat|/dy_hat = -sign(y - y_hat) = sign(y_hat - y) = +1 here (y_hat = 0.375 > y = -3).
  The seed used +(y - y_hat)/|y - y_hat| = -1, so every gradient has the wrong sign and
  the 'descent' step moves every weight uphill (the loss would rise to 4.95).
  Its dL/dw0 formula, w2*(1 + w1*relu'(z1))*relu'(z0)*x, should read
  (ws + w2*w1*relu'(z1))*relu'(z0)*x: the skip path carries ws. The value (0.75) only
  matches because ws = w2 = 0.5. Its relu' definition '1 : x < 0' should be '1 : x > 0'.""")
assert np.allclose([grads[k] for k in w], [0.75, 0.25, 0.25, 0.5])
