"""The tape: entries, sequence numbers, backward(), grad(), no_grad, Function.

Every op that runs with grad enabled and an input that requires grad records
one `Node` (a tape entry): the op, its input tensors, what it saved for
backward, and a sequence number from a counter that only grows. The output
tensor points to its node (`grad_fn`). `backward()` keeps a heap of the
entries that have pending gradients and always runs the one with the highest
sequence number next. An entry's inputs were all made before it, so every
gradient reaching an entry has arrived by the time it runs: this is a
topological order with no recursion, no graph walk and no sort.

Conventions:
- Gradients inside the engine are plain ndarrays in the dtype of the op.
- An op's backward returns one gradient per input, in the op's output
  (broadcast) shape if it likes; the engine sums it back to the input's shape
  (`_sum_to`) and casts it to the input's dtype. That is where broadcasting
  and type promotion are undone, for every op at once.
- Fan-out: a tensor used twice gets two gradients, and the engine adds them.
- After backward the nodes drop their inputs and saved buffers, unless
  `retain_graph=True`; a second backward through them raises.
- Each saved tensor is checked against its version counter, so an in-place
  change to it makes the backward raise instead of using the wrong numbers.
"""

import heapq
import itertools
import threading

import numpy as np

from . import backend as _bk

_seq = itertools.count()          # shared by all threads: next() is atomic


# ---------------------------------------------------------------- grad mode
class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled():
    return _mode.enabled


class _GradSwitch:
    """Base of no_grad / enable_grad: a context manager and a decorator."""

    flag = True

    def __new__(cls, fn=None, *args, **kwargs):
        self = super().__new__(cls)
        if fn is not None and callable(fn) and cls is not set_grad_enabled:
            return self(fn)                 # bare decorator: @cg.no_grad
        return self

    def __enter__(self):
        self._prev = _mode.enabled
        _mode.enabled = self.flag
        return self

    def __exit__(self, *exc):
        _mode.enabled = self._prev
        return False

    def __call__(self, fn):
        import functools

        switch = type(self)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with switch():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradSwitch):
    """Ops run inside record nothing. `with cg.no_grad():` or `@cg.no_grad()`."""

    flag = False


class enable_grad(_GradSwitch):
    flag = True


class set_grad_enabled(_GradSwitch):
    def __init__(self, mode):
        self.flag = bool(mode)
        self._prev = _mode.enabled
        _mode.enabled = self.flag      # torch: takes effect on construction too


# ---------------------------------------------------------------- tape entry
class Node:
    """One tape entry. Ops stash what backward needs as attributes on it.

    `inputs` holds the input Tensors (None where an input is a constant);
    `needs_input_grad[i]` says whether input i wants a gradient.
    `_saved` lists (version cell, version at save) pairs that backward checks.
    """

    def __init__(self, op, inputs, needs):
        self.op = op
        self.name = op.name
        self.inputs = inputs
        self.needs_input_grad = needs
        self.seq = next(_seq)
        self.freed = False
        self.n_outputs = 1
        self._saved = ()
        self._retained = None      # {output index: weakref to tensor}

    def __repr__(self):
        return f"<{self.name}>"

    def next_functions(self):
        return tuple(None if t is None else t.grad_fn for t in (self.inputs or ()))

    def check_versions(self):
        for cell, version, which in self._saved:
            if cell[0] != version:
                what = (which if isinstance(which, str) else
                        "its output" if which < 0 else f"input {which}")
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been "
                    f"modified by an inplace operation: {what} saved by '{self.name}' "
                    f"is at version {cell[0]}; expected version {version} instead")

    def free(self):
        """Drop inputs and every buffer saved for backward."""
        d = self.__dict__
        keep = (self.op, self.name, self.seq, self.n_outputs, self.needs_input_grad)
        d.clear()
        self.op, self.name, self.seq, self.n_outputs, self.needs_input_grad = keep
        self.inputs = None
        self._saved = ()
        self._retained = None
        self.freed = True


def _c(x):
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def _sum_to(g, shape):
    """Sum a broadcast gradient back to `shape` (the reverse of broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    g = _c(g)
    if not axes:
        return g.reshape(shape)
    kept = [g.shape[i] for i in range(g.ndim) if i not in axes]
    out = np.empty(kept, dtype=g.dtype)
    _bk.K.sum_forward(out, g, axes)
    return out.reshape(shape)


class _Slot:
    """A pending gradient: the array, and whether the engine owns it (may += into it)."""

    __slots__ = ("g", "owned")

    def __init__(self, g):
        self.g = g
        self.owned = False

    def add(self, g):
        if not self.owned:
            s = np.empty(self.g.shape, dtype=self.g.dtype)
            _bk.K.add_forward(s, _c(self.g), _c(g))
            self.g, self.owned = s, True
        else:
            _bk.K.accumulate(self.g, _c(g))


def _prepare_grad(g, t):
    """Bring a gradient to tensor t's shape and dtype."""
    if g.shape != t.data.shape:
        g = _sum_to(g, t.data.shape)
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    return g


def run_backward(roots, root_grads, retain_graph=False, inputs=None, allow_unused=False,
                 observer=None):
    """The engine. Accumulates into leaves' .grad, or, when `inputs` is given
    (cg.grad), returns their gradients and leaves .grad untouched.

    `observer` (optional, used by cg.explain) is told what happens, in order:
    `observer.contribution(t, g)` for every gradient sent to a tensor (two or
    more for one tensor = a fan-out sum); `observer.node(node, upstream, raw,
    sent)` per tape entry, before it is freed: the upstream gradient(s), what
    the op's backward returned, and what was sent to each input after the
    broadcast reduction and cast; `observer.leaf(t, g)` for each leaf's total.
    When it is None nothing extra runs."""
    heap = []
    pending = {}     # node -> [ _Slot | None ] per output
    leaves = {}      # id(tensor) -> (tensor, _Slot)
    capture = None
    if inputs is not None:
        capture = {}
        for i, t in enumerate(inputs):
            key = id(t) if t.grad_fn is None else (t.grad_fn, t._out_idx)
            capture.setdefault(key, []).append(i)
    captured = [None] * (len(inputs) if inputs is not None else 0)

    def send(t, g):
        node = t.grad_fn
        if node is None:
            slot = leaves.get(id(t))
            if slot is None:
                leaves[id(t)] = (t, _Slot(g))
            else:
                slot[1].add(g)
            return
        if node.freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time: the saved "
                f"buffers of '{node.name}' were freed by the first backward(). "
                "Specify retain_graph=True on the first call if you need to "
                "backward twice.")
        slots = pending.get(node)
        if slots is None:
            slots = pending[node] = [None] * node.n_outputs
            heapq.heappush(heap, (-node.seq, node.seq, node))
        slot = slots[t._out_idx]
        if slot is None:
            slots[t._out_idx] = _Slot(g)
        else:
            slot.add(g)

    if observer is not None:
        _send = send

        def send(t, g):
            observer.contribution(t, g)
            _send(t, g)

    for t, g in zip(roots, root_grads):
        if not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        send(t, g)

    try:
        while heap:
            _, _, node = heapq.heappop(heap)
            slots = pending.pop(node)
            if node._retained:
                for idx, ref in node._retained.items():
                    t = ref()
                    if t is not None and slots[idx] is not None:
                        _accumulate_grad(t, slots[idx])
            if capture is not None:
                for idx, slot in enumerate(slots):
                    for pos in capture.get((node, idx), ()):
                        if slot is not None:
                            captured[pos] = slot.g
            node.check_versions()
            gouts = [s.g if s is not None else None for s in slots]
            grads = node.op.backward(node, *gouts)
            if observer is None:
                for t, need, g in zip(node.inputs, node.needs_input_grad, grads):
                    if g is None or not need or t is None:
                        continue
                    send(t, _prepare_grad(g, t))
            else:
                sent = [None if g is None or not need or t is None else _prepare_grad(g, t)
                        for t, need, g in zip(node.inputs, node.needs_input_grad, grads)]
                observer.node(node, gouts, grads, sent)
                for t, g in zip(node.inputs, sent):
                    if g is not None:
                        send(t, g)
            if not retain_graph:
                node.free()
    finally:
        pending.clear()

    if observer is not None:
        for t, slot in leaves.values():
            observer.leaf(t, slot.g)

    if capture is not None:
        for key, (t, slot) in leaves.items():
            for pos in capture.get(key, ()):
                captured[pos] = slot.g
        out = []
        for pos, t in enumerate(inputs):
            g = captured[pos]
            if g is None and not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {pos}) appears to not have "
                    "been used in the graph. Set allow_unused=True if this is the desired behavior.")
            out.append(None if g is None else _wrap(np.array(g, copy=True)))
        return tuple(out)

    for t, slot in leaves.values():
        _accumulate_grad(t, slot)
    return None


def _wrap(a):
    from .tensor import Tensor
    return Tensor._make(a)


def _accumulate_grad(t, slot):
    """t.grad += g, as torch: the first gradient is copied in, later ones added in place."""
    g = slot.g
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    if t.grad is None:
        t.grad = _wrap(g if slot.owned and g.flags.c_contiguous else np.array(g, copy=True, order="C"))
        slot.owned = False       # t.grad now owns it
    else:
        dst = t.grad.data
        if dst.flags.c_contiguous and dst.flags.writeable and dst.shape == g.shape:
            _bk.K.accumulate(dst, _c(g))
        else:
            s = np.empty(g.shape, dtype=g.dtype)
            _bk.K.add_forward(s, _c(dst), _c(g))
            t.grad = _wrap(s)


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """Gradients of outputs with respect to inputs, returned as a tuple; .grad untouched."""
    from .tensor import Tensor

    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad: one of the inputs does not require grad")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    gs = [_root_grad(t, g, "grad") for t, g in zip(outputs, grad_outputs)]
    return run_backward(outputs, gs, retain_graph=retain_graph, inputs=inputs,
                        allow_unused=allow_unused)


def _root_grad(t, g, who):
    """The starting gradient: ones for a scalar, else the given `gradient`."""
    if g is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"{who}: grad can be implicitly created only for scalar outputs; "
                f"got an output of shape {t.shape}: pass `gradient=`")
        return np.ones(t.data.shape, dtype=t.data.dtype)
    ga = g.data if hasattr(g, "data") and not isinstance(g, np.ndarray) else np.asarray(g)
    if ga.shape != t.data.shape:
        raise ValueError(f"{who}: gradient has shape {ga.shape} but the output has shape {t.shape}")
    return _c(ga.astype(t.data.dtype, copy=False))


# ---------------------------------------------------------------- custom ops
class FunctionCtx:
    """The `ctx` a custom Function's forward and backward share."""

    def save_for_backward(self, *tensors):
        self._to_save = tensors

    @property
    def saved_tensors(self):
        node = self._node
        if node is None or node.freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (saved tensors "
                "were freed); specify retain_graph=True")
        node.check_versions()
        return self._saved_tensors

    def mark_non_differentiable(self, *tensors):
        self._non_diff = tensors


class _CustomOp:
    """Adapter: lets the engine call a user Function's backward on Tensors."""

    def __init__(self, fn_cls, ctx, arg_is_tensor):
        self.fn_cls = fn_cls
        self.name = fn_cls.__name__
        self.ctx = ctx
        self.arg_is_tensor = arg_is_tensor

    def backward(self, node, *gouts):
        from .tensor import Tensor

        gts = []
        for g, shape_dtype in zip(gouts, node.out_meta):
            if g is None:
                g = np.zeros(shape_dtype[0], dtype=shape_dtype[1])
            gts.append(Tensor._make(g))
        with no_grad():
            res = self.fn_cls.backward(self.ctx, *gts)
        if not isinstance(res, tuple):
            res = (res,)
        n_args = len(self.arg_is_tensor)
        if len(res) < n_args:
            res = res + (None,) * (n_args - len(res))
        out = []
        for is_t, r in zip(self.arg_is_tensor, res):
            if not is_t:
                continue
            if r is None:
                out.append(None)
            else:
                out.append(r.data if isinstance(r, Tensor) else np.asarray(r))
        return out


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grads)`;
    call it through `MyFn.apply(*args)`."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("subclasses of cg.autograd.Function define forward")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("subclasses of cg.autograd.Function define backward")

    @classmethod
    def apply(cls, *args):
        from .tensor import Tensor

        ctx = FunctionCtx()
        ctx._node = None
        ctx._to_save = ()
        is_t = tuple(isinstance(a, Tensor) for a in args)
        tensors = [a for a in args if isinstance(a, Tensor)]
        record = _mode.enabled and any(t.requires_grad for t in tensors)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        outs = tuple(o if isinstance(o, Tensor) else Tensor._make(np.asarray(o)) for o in outs)
        if record:
            op = _CustomOp(cls, ctx, is_t)
            node = Node(op, tuple(tensors),
                        tuple(t.requires_grad for t in tensors))
            node.n_outputs = len(outs)
            node.out_meta = [(o.data.shape, o.data.dtype) for o in outs]
            ctx._node = node
            ctx._saved_tensors = tuple(ctx._to_save)
            node._saved = tuple((t._vc, t._vc[0], "a saved tensor")
                                for t in ctx._to_save if t is not None)
            non_diff = {id(t) for t in getattr(ctx, "_non_diff", ())}
            new = []
            for i, o in enumerate(outs):
                if id(o) in non_diff or o.data.dtype.kind != "f":
                    new.append(o)
                    continue
                if o.grad_fn is not None or o.requires_grad or any(o is t for t in tensors):
                    o = Tensor._make(o.data)          # a fresh output tensor owns the node
                o.requires_grad = True
                o.grad_fn = node
                o._out_idx = i
                new.append(o)
            outs = tuple(new)
        return outs if multi else outs[0]
