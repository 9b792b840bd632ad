# ---------------------------------------------------------------- tensor
cdef class TensorBase:
    """The fields of a Tensor; its methods live in tensor.py (a subclass)."""

    cdef public object data        # the ndarray
    cdef public bint _rg           # requires_grad
    cdef public object grad
    cdef public object grad_fn     # the Node that made it, or None (a leaf)
    cdef public Py_ssize_t _out_idx
    cdef public object _vc         # version counter: a one-element list, shared by views
    cdef public object name
    cdef object __weakref__


cdef inline TensorBase _new_tensor(object arr):
    cdef TensorBase t = TensorBase.__new__(_tensor_cls)
    t.data = arr
    t._vc = [0]
    return t


def make(arr):
    """A Tensor around ndarray `arr` (no copy, no checks): Tensor._make."""
    return _new_tensor(arr)


# ---------------------------------------------------------------- tape entry
cdef class Node:
    """One tape entry. Ops stash what backward needs as attributes on it.

    `inputs` holds the input Tensors (None where an input is a constant);
    `needs_input_grad[i]` says whether input i wants a gradient.
    `_saved` lists (version cell, version at save, which) triples that
    backward checks.
    """

    cdef public object op
    cdef public object name
    cdef public object inputs
    cdef public object needs_input_grad
    cdef public long long seq
    cdef public bint freed
    cdef public Py_ssize_t n_outputs
    cdef public object _saved
    cdef public object _retained    # {output index: weakref to tensor} or None
    cdef object _pending            # while queued: the _Slot (one output) or a list of them
    # What ops stash most often, as C slots (anything else goes to __dict__).
    cdef public object x, y, params, a, b, out, sa, sb, ta, tb, x2, w, z, act, has_b, lead
    cdef int kind                   # a compiled backward (K_*), or 0: op.backward
    cdef object rec                 # the FastOp of a fast-path entry (kernel names)
    cdef public object kwargs       # apply()'s keyword arguments to op.forward (generic route)
    cdef dict __dict__
    cdef object __weakref__

    def __init__(self, op, inputs, needs):
        _init_node(self, op, inputs, needs)

    def __repr__(self):
        return f"<{self.name}>"

    def __lt__(self, Node other):
        # the engine's heap pops the highest sequence number first
        return self.seq > other.seq

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self) >> 4

    @property
    def compiled(self):
        """Whether a fast path recorded this entry (its backward runs in C)."""
        return self.kind != 0

    def forward_kwargs(self):
        """The keyword arguments that run op.forward again as recorded (for
        check_grads' replay): apply()'s, or those a fast path implies."""
        if self.kwargs is not None:
            return self.kwargs
        return _fast_kwargs(self)

    def next_functions(self):
        return tuple(None if t is None else t.grad_fn for t in (self.inputs or ()))

    def check_versions(self):
        _check_versions(self)

    def free(self):
        """Drop inputs and every buffer saved for backward."""
        _free(self)


cdef inline void _free(Node n) except *:
    cdef PyObject **dp = _PyObject_GetDictPtr(n)
    if dp != NULL and dp[0] != NULL:
        PyDict_Clear(<object>dp[0])
    n.inputs = None
    n._saved = ()
    n._retained = None
    n.x = n.y = n.params = n.a = n.b = n.out = n.sa = n.sb = n.x2 = n.w = n.z = None
    n.kwargs = None
    n.freed = True


cdef inline void _init_node(Node n, object op, object inputs, object needs) except *:
    global _next_seq
    n.op = op
    n.name = op.name
    n.inputs = inputs
    n.needs_input_grad = needs
    n.seq = _next_seq
    _next_seq += 1
    n.n_outputs = 1
    n._saved = ()


cdef inline Node _new_node(object op, object inputs, object needs):
    cdef Node n = Node.__new__(Node)
    _init_node(n, op, inputs, needs)
    return n


cdef int _check_versions(Node n) except -1:
    cdef tuple s
    for s in n._saved:
        cell = s[0]
        if cell[0] != s[1]:
            which = s[2]
            what = (which if isinstance(which, str) else
                    "its output" if which < 0 else f"input {which}")
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been "
                f"modified by an inplace operation: {what} saved by '{n.name}' "
                f"is at version {cell[0]}; expected version {s[1]} instead")
    return 0


# ---------------------------------------------------------------- apply
cdef class _NullCtx:
    """Stands in for the tape entry when nothing is recorded: writes vanish."""

    def __setattr__(self, key, value):
        pass


cdef object _NULL = _NullCtx()


def apply(op, *inputs, **params):
    """Run `op` on Tensors; record a tape entry if any input requires grad."""
    cdef TensorBase t, res
    cdef Py_ssize_t i, n = len(inputs)
    cdef bint record = False
    cdef Node node
    if _mode.enabled:
        for i in range(n):
            if (<TensorBase?>inputs[i])._rg:
                record = True
                break
    if record:
        needs = tuple([(<TensorBase?>x)._rg for x in inputs])
        node = _new_node(op, inputs, needs)
        ctx = node
    else:
        ctx = _NULL
    if n == 1:
        out = op.forward(ctx, (<TensorBase?>inputs[0]).data, **params)
    elif n == 2:
        out = op.forward(ctx, (<TensorBase?>inputs[0]).data, (<TensorBase?>inputs[1]).data,
                         **params)
    else:
        out = op.forward(ctx, *[(<TensorBase?>x).data for x in inputs], **params)
    res = _new_tensor(out)
    if n and op.view:
        t = inputs[0]
        if _may_share(out, t.data):
            res._vc = t._vc                 # views share the version counter
    if record:
        node.kwargs = params
        res._rg = True
        res.grad_fn = node
        saves = op.saves
        if saves or op.saves_output:
            saved = []
            for i in saves:
                t = inputs[i]
                saved.append((t._vc, t._vc[0], i))
            if op.saves_output:
                saved.append((res._vc, res._vc[0], -1))
            node._saved = saved
    return res


# Compiled backward kinds (Node.kind); 0 calls op.backward.
DEF K_UNARY = 1      # dx = 0; <name>_backward(dx, g, x, y)
DEF K_ADD = 2        # da = g, db = g
DEF K_SUB = 3        # da = g, db = -g
DEF K_BINARY = 4     # da = db = 0; <name>_backward(da, db, g, a, b, out)
DEF K_MATMUL = 5     # 2-D: dA = G B^T, dB = A^T G
DEF K_LINEAR = 6     # 2-D x: linear_backward(dx, dw, db, g, x, w, z, y, act), overwriting
