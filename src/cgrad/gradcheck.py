"""Central-difference gradient check in float64.

    analytic  J[i, j] = d out_i / d x_j   from backward (one pass per output element)
    numeric   J[i, j] = (out_i(x + eps e_j) - out_i(x - eps e_j)) / (2 eps)

Inputs are copied to float64 first, so a float32 model is checked with
float64 arithmetic. A mismatch raises GradcheckError naming the input, the
element, both values and the largest difference.
"""

import numpy as np

from .autograd import grad as _grad
from .grad_mode import no_grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Analytic and numeric gradients disagree."""


def _outputs(fn, xs):
    out = fn(*xs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return Tensors, got {type(o).__name__}")
    return outs


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True if fn's analytic gradients match central differences, else raise."""
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    xs = []
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            c = Tensor._make(np.array(x.data, dtype=np.float64, copy=True))
            c.requires_grad = x.requires_grad
            xs.append(c)
        else:
            xs.append(x)
    wrt = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")

    outs = _outputs(fn, xs)
    # analytic Jacobians, one backward per output element
    analytic = {i: [np.zeros((o.data.size, xs[i].data.size)) for o in outs] for i in wrt}
    for k, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for r in range(o.data.size):
            seed = np.zeros(o.data.size)
            seed[r] = 1.0
            gs = _grad(
                [o],
                [xs[i] for i in wrt],
                grad_outputs=[Tensor._make(seed.reshape(o.shape).astype(o.dtype))],
                retain_graph=True,
                allow_unused=True,
            )
            for i, g in zip(wrt, gs):
                if g is not None:
                    analytic[i][k][r] = g.data.reshape(-1)

    # numeric Jacobians
    worst = []
    for i in wrt:
        x = xs[i].data
        flat = x.reshape(-1)
        for j in range(flat.size):
            orig = flat[j]
            with no_grad():
                flat[j] = orig + eps
                plus = [np.array(o.data, dtype=np.float64).reshape(-1) for o in _outputs(fn, xs)]
                flat[j] = orig - eps
                minus = [np.array(o.data, dtype=np.float64).reshape(-1) for o in _outputs(fn, xs)]
                flat[j] = orig
            for k in range(len(outs)):
                num = (plus[k] - minus[k]) / (2 * eps)
                ana = analytic[i][k][:, j]
                err = np.abs(ana - num)
                bad = ~(err <= atol + rtol * np.abs(num))
                bad |= np.isnan(ana) != np.isnan(num)
                if bad.any():
                    r = int(np.argmax(np.where(np.isnan(err), np.inf, err)))
                    worst.append((i, k, r, j, ana[r], num[r]))
                    break
    if not worst:
        return True
    if not raise_exception:
        return False
    lines = []
    for i, k, r, j, a, n in worst:
        idx = tuple(int(v) for v in np.unravel_index(j, xs[i].shape)) if xs[i].ndim else ()
        lines.append(
            f"input {i} (shape {xs[i].shape}): d output[{k}] element {r} / d x{list(idx)}"
            f" analytic {a:.8g} vs numeric {n:.8g} (difference {abs(a - n):.3g})"
        )
    raise GradcheckError(
        "gradcheck failed: analytic and numeric gradients differ\n  " + "\n  ".join(lines)
    )
