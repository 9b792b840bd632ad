"""The backward engine's contract and its Python helpers.

Every op that runs with grad enabled and an input that requires grad records
one tape entry (a `Node`, compiled in _tape.pyx): the op, its inputs, what
its backward reads (the op table's `saves`), and a sequence number from a
counter that only grows. The output tensor points to its entry (`grad_fn`).
`run_backward()` keeps a heap of the entries that have pending gradients and
always runs the one with the highest sequence number next. An entry's inputs
were all made before it, so every gradient reaching an entry has arrived by
the time it runs: a topological order with no recursion, no graph walk and
no sort.

Conventions:
- Gradients inside the engine are plain ndarrays in the dtype of the op.
- An op's backward returns one gradient per input, in the op's output
  (broadcast) shape if it likes; the engine sums it back to the input's
  shape (`sum_to`) and casts it to the input's dtype. That is where
  broadcasting and type promotion are undone, for every op at once.
- Fan-out: a tensor used twice gets two gradients, and the engine adds them.
- After backward the entries drop their inputs and saved buffers, unless
  `retain_graph=True`; a second backward through them raises.
- Each saved tensor is checked against its version counter, so an in-place
  change to it makes the backward raise instead of using the wrong numbers.

This module sits below tensor.py: it knows ndarrays and the tape, not the
Tensor class.
"""

import numpy as np

from . import backend as _bk
from ._tape import run_backward

__all__ = ["run_backward", "sum_to", "root_grad", "contiguous"]


def contiguous(x):
    """x as a C-contiguous array (np.ascontiguousarray would turn 0-d into 1-d)."""
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def sum_to(g, shape):
    """Sum a broadcast gradient back to `shape` (the reverse of broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    g = contiguous(g)
    if not axes:
        return g.reshape(shape)
    kept = [g.shape[i] for i in range(g.ndim) if i not in axes]
    out = np.empty(kept, dtype=g.dtype)
    _bk.K.sum_forward(out, g, axes)
    return out.reshape(shape)


def root_grad(t, g, who):
    """The gradient backward starts from at output t: ones for a one-element
    output, else the given `gradient` (a Tensor or array of t's shape)."""
    if g is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"{who}: grad can be implicitly created only for scalar outputs; "
                f"got an output of shape {t.shape}: pass `gradient=`"
            )
        return np.ones(t.data.shape, dtype=t.data.dtype)
    ga = g.data if hasattr(g, "data") and not isinstance(g, np.ndarray) else np.asarray(g)
    if ga.shape != t.data.shape:
        raise ValueError(f"{who}: gradient has shape {ga.shape} but the output has shape {t.shape}")
    return contiguous(ga.astype(t.data.dtype, copy=False))
