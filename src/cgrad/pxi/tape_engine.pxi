# ---------------------------------------------------------------- backward
cdef inline object _contig(object x):
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


cdef class _Slot:
    """A pending gradient: the array, and whether the engine owns it (may += into it)."""

    cdef public object g
    cdef public bint owned

    cdef add(self, g):
        if not self.owned:
            s = _np_empty(self.g.shape, dtype=self.g.dtype)
            _kernel("add_forward")(s, _contig(self.g), _contig(g))
            self.g = s
            self.owned = True
        else:
            _kernel("accumulate")(self.g, _contig(g))


cdef inline _Slot _new_slot(object g, bint owned):
    cdef _Slot s = _Slot.__new__(_Slot)
    s.g = g
    s.owned = owned
    return s


cpdef prepare_grad(g, TensorBase t):
    """Bring a gradient to tensor t's shape and dtype."""
    d = t.data
    if not (cnp.PyArray_Check(g) and cnp.PyArray_Check(d) and _same_shape(g, d)):
        g = _sum_to(g, d.shape)
    if g.dtype is not d.dtype and g.dtype != d.dtype:
        g = g.astype(d.dtype)
    return g


cdef class _Engine:
    cdef list heap
    cdef dict leaves       # id(tensor) -> (tensor, _Slot)
    cdef object observer

    cdef int send(self, TensorBase t, g, bint owned) except -1:
        """Queue gradient g for t; `owned`: g is a fresh array nobody else holds
        (the engine may then add into it and hand it to a leaf without a copy)."""
        cdef Node node
        cdef tuple entry
        if self.observer is not None:
            self.observer.contribution(t, g)
        if t.grad_fn is None:
            entry = self.leaves.get(id(t))
            if entry is None:
                self.leaves[id(t)] = (t, _new_slot(g, owned))
            else:
                (<_Slot>entry[1]).add(g)
            return 0
        node = <Node?>t.grad_fn
        if node.freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time: the saved "
                f"buffers of '{node.name}' were freed by the first backward(). "
                "Specify retain_graph=True on the first call if you need to "
                "backward twice.")
        if node.n_outputs == 1:
            if node._pending is None:
                node._pending = _new_slot(g, owned)
                _heappush(self.heap, node)
            else:
                (<_Slot>node._pending).add(g)
            return 0
        if node._pending is None:
            node._pending = [None] * node.n_outputs
            _heappush(self.heap, node)
        cur = node._pending[t._out_idx]
        if cur is None:
            node._pending[t._out_idx] = _new_slot(g, owned)
        else:
            (<_Slot>cur).add(g)
        return 0


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
    cdef _Engine e = _Engine.__new__(_Engine)
    cdef Node node
    cdef TensorBase t
    cdef list slots, gouts, sent
    cdef Py_ssize_t i, idx, n_in
    cdef int kind
    cdef bint retain = bool(retain_graph)
    e.heap = []
    e.leaves = {}
    e.observer = observer
    capture = None
    if inputs is not None:
        capture = {}
        for i, x in enumerate(inputs):
            key = id(x) if x.grad_fn is None else (x.grad_fn, x._out_idx)
            capture.setdefault(key, []).append(i)
    captured = [None] * (len(inputs) if inputs is not None else 0)

    for x, g in zip(roots, root_grads):
        t = <TensorBase?>x
        if not t._rg:
            raise RuntimeError("element 0 of tensors does not require grad and does not have "
                               "a grad_fn")
        e.send(t, g, False)

    try:
        while e.heap:
            node = <Node>_heappop(e.heap)
            slots = [node._pending] if node.n_outputs == 1 else node._pending
            node._pending = None
            if node._retained:
                for idx, ref in node._retained.items():
                    x = ref()
                    if x is not None and slots[idx] is not None:
                        _accumulate_grad(x, slots[idx])
            if capture is not None:
                for idx in range(len(slots)):
                    if slots[idx] is not None:
                        for pos in capture.get((node, idx), ()):
                            captured[pos] = (<_Slot>slots[idx]).g
            _check_versions(node)
            if node.n_outputs == 1:
                g0 = (<_Slot>slots[0]).g
                if node.kind:
                    grads = _compiled_backward(node, g0)
                else:
                    grads = node.op.backward(node, g0)
                gouts = None
            else:
                gouts = [None if s is None else (<_Slot>s).g for s in slots]
                grads = node.op.backward(node, *gouts)
            ins = node.inputs
            needs = node.needs_input_grad
            n_in = len(ins)
            if observer is None:
                # compiled backwards return fresh arrays (add's and sub's da are g
                # itself); a Python backward does when its op says so (fresh_grads)
                kind = node.kind
                fresh = kind != 0 or getattr(node.op, "fresh_grads", False) is True
                for i in range(n_in):
                    x = ins[i]
                    if x is None or not needs[i]:
                        continue
                    g = grads[i]
                    if g is None:
                        continue
                    e.send(<TensorBase>x, prepare_grad(g, <TensorBase>x),
                           fresh and kind != K_ADD and not (kind == K_SUB and i == 0))
            else:
                if gouts is None:
                    gouts = [g0]
                sent = [None] * n_in
                for i in range(n_in):
                    x = ins[i]
                    g = grads[i]
                    if g is not None and needs[i] and x is not None:
                        sent[i] = prepare_grad(g, <TensorBase>x)
                observer.node(node, gouts, grads, sent)
                for i in range(n_in):
                    if sent[i] is not None:
                        e.send(<TensorBase>ins[i], sent[i], False)
            if not retain:
                _free(node)
    finally:
        for item in e.heap:                      # an exception left entries queued
            (<Node>item)._pending = None
        e.heap = []

    if observer is not None:
        for x, s in e.leaves.values():
            observer.leaf(x, (<_Slot>s).g)

    if capture is not None:
        for key, (x, s) in e.leaves.items():
            for pos in capture.get(key, ()):
                captured[pos] = (<_Slot>s).g
        out = []
        for pos in range(len(inputs)):
            g = captured[pos]
            if g is None and not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {pos}) appears to not have "
                    "been used in the graph. Set allow_unused=True if this is the desired "
                    "behavior.")
            out.append(None if g is None else _new_tensor(_np_array(g, copy=True)))
        return tuple(out)

    for x, s in e.leaves.values():
        _accumulate_grad(x, s)
    return None


cpdef _accumulate_grad(TensorBase t, _Slot slot):
    """t.grad += g, as torch: the first gradient is copied in, later ones added in place."""
    g = slot.g
    d = t.data
    if g.dtype != d.dtype:
        g = g.astype(d.dtype)
    if t.grad is None:
        t.grad = _new_tensor(g if slot.owned and g.flags.c_contiguous
                             else _np_array(g, copy=True, order="C"))
        slot.owned = False       # t.grad now owns it
    else:
        dst = (<TensorBase?>t.grad).data
        if dst.flags.c_contiguous and dst.flags.writeable and dst.shape == g.shape:
            _kernel("accumulate")(dst, _contig(g))
        else:
            s = _np_empty(g.shape, dtype=g.dtype)
            _kernel("add_forward")(s, _contig(dst), _contig(g))
            t.grad = _new_tensor(s)


# ---------------------------------------------------------------- optimizers
def grad_pairs(params, str who):
    """[(p, g)] for the parameters with a gradient: g is p.grad's array, in p's
    dtype and C-contiguous. Raises, naming `who`, for a gradient of the wrong
    shape or a parameter array the in-place kernels cannot update."""
    cdef list out = []
    cdef TensorBase p, gt
    for obj in params:
        p = <TensorBase?>obj
        if p.grad is None:
            continue
        gt = <TensorBase?>p.grad
        d = p.data
        g = gt.data
        if not (cnp.PyArray_Check(g) and cnp.PyArray_Check(d) and _same_shape(g, d)):
            raise ValueError(f"{who}: a gradient of shape {g.shape} for a parameter of shape "
                             f"{d.shape}")
        if not (cnp.PyArray_ISCONTIGUOUS(<cnp.ndarray>d)
                and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>d)):
            raise ValueError(f"{who}: parameters must be contiguous and writable arrays")
        if cnp.PyArray_TYPE(<cnp.ndarray>g) != cnp.PyArray_TYPE(<cnp.ndarray>d):
            g = g.astype(d.dtype)
        out.append((p, _contig(g)))
    return out
