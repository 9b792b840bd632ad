# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The tape's hot path, compiled: tape entries (`Node`), the fields of a
Tensor (`TensorBase`), `apply` (run an op, record an entry) and the backward
engine. The semantics are the ones autograd.py documents; this module only
makes them cheap: fields are C slots, a tape entry is built without a Python
frame, and the engine's bookkeeping (pending gradients, heap, fan-out sums,
leaf accumulation) runs in C.

Ops still stash what their backward needs as attributes on the entry (the
common names are C slots, the rest go to its `__dict__`), and their
forward/backward stay Python (ops.py, ops_nn.py). The fast paths below run
the most common calls end to end in C, with a compiled backward.
"""

import heapq

import numpy as np
cimport numpy as cnp

cnp.import_array()

from cpython.ref cimport PyObject
from cpython.dict cimport PyDict_Clear
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdint cimport int64_t

cdef extern from "Python.h":
    PyObject **_PyObject_GetDictPtr(object)   # the instance dict slot; never creates it

cdef object _heappush = heapq.heappush
cdef object _heappop = heapq.heappop
cdef object _np_empty = np.empty
cdef object _np_array = np.array
cdef object _may_share = np.may_share_memory

cdef long long _next_seq = 0      # the GIL serializes every increment
cdef object _mode = None           # autograd._mode (per-thread grad switch)
cdef object _tensor_cls = None     # cgrad.Tensor, a Python subclass of TensorBase
cdef object _sum_to = None         # autograd._sum_to


cdef object _K = None              # the active kernel module (backend.K), pushed by _set_backend
cdef dict _kfn = {}                # its functions by name, looked up once


# cg_gemm for float32 / float64 (csrc/gemm.c), taken from the C kernel module
# when it is the active backend (NULL otherwise): the 2-D matmul paths call
# it without the Python call and argument checks of _ckernels.matmul.
ctypedef int (*_gemm_f32_t)(float *, const float *, const float *, int64_t, int64_t, int64_t,
                            int, int, int) noexcept nogil
ctypedef int (*_gemm_f64_t)(double *, const double *, const double *, int64_t, int64_t, int64_t,
                            int, int, int) noexcept nogil
cdef _gemm_f32_t _gemm_f32 = NULL
cdef _gemm_f64_t _gemm_f64 = NULL
DEF _GEMM_NOGIL_MIN = 16384       # multiply-adds from which the GIL is released (as _ckernels)


def _set_backend(K):
    """backend._set tells the tape which kernel module is active."""
    global _K, _gemm_f32, _gemm_f64
    _K = K
    _kfn.clear()
    caps = getattr(K, "_gemm_capsules", None)
    if caps is None:
        _gemm_f32 = NULL
        _gemm_f64 = NULL
    else:
        c32, c64 = caps()
        _gemm_f32 = <_gemm_f32_t>PyCapsule_GetPointer(c32, b"cgrad.cg_gemm_f32")
        _gemm_f64 = <_gemm_f64_t>PyCapsule_GetPointer(c64, b"cgrad.cg_gemm_f64")


cdef inline object _kernel(str name):
    f = _kfn.get(name)
    if f is None:
        f = getattr(_K, name)
        _kfn[name] = f
    return f


def _configure(mode, bk, tensor_cls, sum_to):
    """Called once by autograd.py / tensor.py at import time."""
    global _mode, _tensor_cls, _sum_to
    if mode is not None:
        _mode = mode
    if bk is not None:
        _set_backend(bk.K)
    if tensor_cls is not None:
        _tensor_cls = tensor_cls
    if sum_to is not None:
        _sum_to = sum_to


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
    cdef str kbw                    # the backward kernel's name, for K_UNARY / K_BINARY
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


# ---------------------------------------------------------------- fast paths
# The most common calls, on float32/float64 Tensors of one dtype and shape
# (C-contiguous for unary ops and matmul), skip the generic route (operand
# conversion, dtype promotion, broadcasting, Python op.forward): they call
# the kernel and record the same tape entry, with the same stashed fields,
# that apply() would. Anything else takes the generic route, unchanged.

cdef object _slow_binary = None    # tensor.binary(op, a, b)
cdef object _slow_matmul = None    # tensor.matmul(a, b)
cdef object _slow_linear = None    # nn.functional.linear(x, w, b, activation=)
cdef dict _ACT = None              # activation name -> linear kernel code


cdef object _Add, _Sub, _Mul, _Div, _MatMul
cdef dict _UNARY_OPS = {}          # "Relu" -> ops.Relu, ...


def _configure_fast(ops_module, binary, matmul):
    global _slow_binary, _slow_matmul, _Add, _Sub, _Mul, _Div, _MatMul
    _slow_binary, _slow_matmul = binary, matmul
    _Add, _Sub, _Mul, _Div, _MatMul = (ops_module.Add, ops_module.Sub, ops_module.Mul,
                                       ops_module.Div, ops_module.MatMul)
    for name in ("neg", "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu"):
        _UNARY_OPS[name.capitalize()] = getattr(ops_module, name.capitalize())


def _configure_linear(linear_op, act_codes, slow_linear):
    global _OP_LINEAR, _ACT, _slow_linear
    _OP_LINEAR, _ACT, _slow_linear = linear_op, act_codes, slow_linear


cdef object _OP_LINEAR = None      # ops_nn.Linear


cdef inline bint _same_shape(cnp.ndarray p, cnp.ndarray q):
    cdef int i, nd = cnp.PyArray_NDIM(p)
    if nd != cnp.PyArray_NDIM(q):
        return False
    for i in range(nd):
        if cnp.PyArray_DIMS(p)[i] != cnp.PyArray_DIMS(q)[i]:
            return False
    return True


cdef inline cnp.ndarray _empty_like(cnp.ndarray x):
    return cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), cnp.PyArray_TYPE(x), 0)


cdef inline list _saves(TensorBase a, TensorBase b, TensorBase res, bint out):
    cdef list saved = [(a._vc, a._vc[0], 0)]
    if b is not None:
        saved.append((b._vc, b._vc[0], 1))
    if out:
        saved.append((res._vc, res._vc[0], -1))
    return saved


cdef inline bint _float_array(object x):
    """An exact, aligned ndarray of native-order float32/float64."""
    if not cnp.PyArray_CheckExact(x):
        return False
    cdef int t = cnp.PyArray_TYPE(<cnp.ndarray>x)
    return ((t == cnp.NPY_FLOAT or t == cnp.NPY_DOUBLE) and cnp.PyArray_ISALIGNED(<cnp.ndarray>x)
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>x))


cdef inline bint _float_matrix(object x, int nd, int typenum):
    """_float_array(x), C-contiguous, with nd dims and dtype typenum."""
    return (_float_array(x) and cnp.PyArray_NDIM(<cnp.ndarray>x) == nd
            and cnp.PyArray_TYPE(<cnp.ndarray>x) == typenum
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>x))


cdef inline int _gemm_call(bint f32, void *out, const void *a, const void *b, int64_t M, int64_t N,
                           int64_t K, bint ta, bint tb) noexcept nogil:
    if f32:
        return _gemm_f32(<float *>out, <const float *>a, <const float *>b, M, N, K, ta, tb, 0)
    return _gemm_f64(<double *>out, <const double *>a, <const double *>b, M, N, K, ta, tb, 0)


cdef int _mm(object out, object a, object b, bint ta, bint tb) except -1:
    """out = op(a) @ op(b) on 2-D arrays, out a fresh array. cg_gemm is called
    directly when the C kernels are active and all three are C-contiguous
    arrays of one float dtype with matching shapes; otherwise (and on any
    error) the backend's matmul runs, which checks and raises."""
    cdef int t, st = -1
    cdef int64_t M, N, K
    cdef cnp.npy_intp *da
    cdef cnp.npy_intp *db
    cdef cnp.npy_intp *do
    cdef void *po
    cdef const void *pa
    cdef const void *pb
    if _gemm_f32 != NULL and _float_array(out):
        t = cnp.PyArray_TYPE(<cnp.ndarray>out)
        if _float_matrix(out, 2, t) and _float_matrix(a, 2, t) and _float_matrix(b, 2, t):
            da = cnp.PyArray_DIMS(<cnp.ndarray>a)
            db = cnp.PyArray_DIMS(<cnp.ndarray>b)
            do = cnp.PyArray_DIMS(<cnp.ndarray>out)
            M = da[1] if ta else da[0]
            K = da[0] if ta else da[1]
            N = db[0] if tb else db[1]
            if (db[1] if tb else db[0]) == K and do[0] == M and do[1] == N:
                po = cnp.PyArray_DATA(<cnp.ndarray>out)
                pa = cnp.PyArray_DATA(<cnp.ndarray>a)
                pb = cnp.PyArray_DATA(<cnp.ndarray>b)
                if M * N * K < _GEMM_NOGIL_MIN:
                    st = _gemm_call(t == cnp.NPY_FLOAT, po, pa, pb, M, N, K, ta, tb)
                else:
                    with nogil:
                        st = _gemm_call(t == cnp.NPY_FLOAT, po, pa, pb, M, N, K, ta, tb)
                if st == 0:
                    return 0
    _kernel("matmul")(out, a, b, ta, tb, False)
    return 0


cdef object _binary(object op, str kname, str kbw, int kind, bint saves_inputs,
                    bint saves_out, TensorBase a, object other):
    """a (op) other; the generic route unless both are same-shape float Tensors."""
    if not isinstance(other, TensorBase):
        return _slow_binary(op, a, other)
    cdef TensorBase b = <TensorBase>other
    x = a.data
    y = b.data
    if (not _float_array(x) or not _float_array(y)
            or cnp.PyArray_TYPE(<cnp.ndarray>x) != cnp.PyArray_TYPE(<cnp.ndarray>y)
            or not _same_shape(x, y)):
        return _slow_binary(op, a, b)
    out = _empty_like(<cnp.ndarray>x)
    _kernel(kname)(out, x, y)
    cdef TensorBase res = _new_tensor(out)
    cdef Node node
    if (a._rg or b._rg) and _mode.enabled:
        node = _new_node(op, (a, b), (a._rg, b._rg))
        node.a = x
        node.b = y
        node.out = out
        node.kind = kind
        node.kbw = kbw
        if saves_inputs or saves_out:
            node._saved = _saves(a, b if saves_inputs else None, res, saves_out)
        res._rg = True
        res.grad_fn = node
    return res


cdef object _unary(str opname, str kname, str kbw, TensorBase a):
    """f(a); the generic route unless a is a C-contiguous float Tensor."""
    x = a.data
    op = _UNARY_OPS[opname]
    if not _float_array(x) or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>x):
        return a._unary(op)
    y = _empty_like(<cnp.ndarray>x)
    _kernel(kname)(y, x)
    cdef TensorBase res = _new_tensor(y)
    cdef Node node
    if a._rg and _mode.enabled:
        node = _new_node(op, (a,), (True,))
        node.x = x
        node.y = y
        node.params = ()
        node.kind = K_UNARY
        node.kbw = kbw
        node._saved = _saves(a, None, res, True)
        res._rg = True
        res.grad_fn = node
    return res


cdef object _matmul(TensorBase a, object other):
    """a @ other; the generic route unless both are C-contiguous 2-D float matrices."""
    if not isinstance(other, TensorBase):
        return _slow_matmul(a, other)
    cdef TensorBase b = <TensorBase>other
    x = a.data
    y = b.data
    if (not _float_array(x)
            or not _float_matrix(x, 2, cnp.PyArray_TYPE(<cnp.ndarray>x))
            or not _float_matrix(y, 2, cnp.PyArray_TYPE(<cnp.ndarray>x))):
        return _slow_matmul(a, b)
    cdef cnp.npy_intp *dx = cnp.PyArray_DIMS(<cnp.ndarray>x)
    cdef cnp.npy_intp *dy = cnp.PyArray_DIMS(<cnp.ndarray>y)
    if dx[1] != dy[0]:
        return _slow_matmul(a, b)            # raises the shape error
    cdef cnp.npy_intp dims[2]
    dims[0] = dx[0]
    dims[1] = dy[1]
    out = cnp.PyArray_EMPTY(2, dims, cnp.PyArray_TYPE(<cnp.ndarray>x), 0)
    _mm(out, x, y, False, False)
    cdef TensorBase res = _new_tensor(out)
    cdef Node node
    if (a._rg or b._rg) and _mode.enabled:
        node = _new_node(_MatMul, (a, b), (a._rg, b._rg))
        node.sa = x
        node.ta = False
        node.sb = y
        node.tb = False
        node.kind = K_MATMUL
        node._saved = _saves(a, b, res, False)
        res._rg = True
        res.grad_fn = node
    return res


def linear(x, weight, bias=None, activation=None):
    """nn.Linear's forward: y = act(x W^T + b) in one fused kernel and one
    tape entry. 2-D C-contiguous float inputs of one dtype go straight to the
    kernel; anything else to nn.functional.linear (which checks and converts)."""
    if not (isinstance(x, TensorBase) and isinstance(weight, TensorBase)
            and (bias is None or isinstance(bias, TensorBase))):
        return _slow_linear(x, weight, bias, activation=activation)
    code = _ACT.get(activation) if activation is None or isinstance(activation, str) else None
    xd = (<TensorBase>x).data
    wd = (<TensorBase>weight).data
    bd = None if bias is None else (<TensorBase>bias).data
    if code is None or not _float_array(xd):
        return _slow_linear(x, weight, bias, activation=activation)
    cdef int typenum = cnp.PyArray_TYPE(<cnp.ndarray>xd)
    if (not _float_matrix(xd, 2, typenum) or not _float_matrix(wd, 2, typenum)
            or cnp.PyArray_DIMS(<cnp.ndarray>xd)[1] != cnp.PyArray_DIMS(<cnp.ndarray>wd)[1]
            or (bd is not None and (not _float_matrix(bd, 1, typenum) or
                                    cnp.PyArray_DIMS(<cnp.ndarray>bd)[0]
                                    != cnp.PyArray_DIMS(<cnp.ndarray>wd)[0]))):
        return _slow_linear(x, weight, bias, activation=activation)
    cdef int act = code
    cdef cnp.npy_intp dims[2]
    dims[0] = cnp.PyArray_DIMS(<cnp.ndarray>xd)[0]
    dims[1] = cnp.PyArray_DIMS(<cnp.ndarray>wd)[0]
    y = cnp.PyArray_EMPTY(2, dims, typenum, 0)
    z = cnp.PyArray_EMPTY(2, dims, typenum, 0) if act >= 2 else None   # gelu's backward reads z
    _kernel("linear_forward")(y, z, xd, wd, bd, act)
    cdef TensorBase res = _new_tensor(y)
    cdef TensorBase tx = <TensorBase>x, tw = <TensorBase>weight
    cdef bint rb = bias is not None and (<TensorBase>bias)._rg
    cdef Node node
    if (tx._rg or tw._rg or rb) and _mode.enabled:
        if bias is None:
            node = _new_node(_OP_LINEAR, (x, weight), (tx._rg, tw._rg))
        else:
            node = _new_node(_OP_LINEAR, (x, weight, bias), (tx._rg, tw._rg, rb))
        node.x2 = xd
        node.w = wd
        node.has_b = bias is not None
        node.z = z
        node.y = y
        node.act = act
        node.lead = (dims[0],)
        node.kind = K_LINEAR
        node._saved = _saves(tx, tw, res, True)
        res._rg = True
        res.grad_fn = node
    return res


cdef class FastOps(TensorBase):
    """Tensor methods with a compiled fast path (tensor.Tensor derives from this)."""

    def __add__(self, o):
        return _binary(_Add, "add_forward", None, K_ADD, False, False, self, o)

    def __radd__(self, o):
        return _slow_binary(_Add, o, self)

    def __sub__(self, o):
        return _binary(_Sub, "sub_forward", None, K_SUB, False, False, self, o)

    def __rsub__(self, o):
        return _slow_binary(_Sub, o, self)

    def __mul__(self, o):
        return _binary(_Mul, "mul_forward", "mul_backward", K_BINARY, True, False, self, o)

    def __rmul__(self, o):
        return _slow_binary(_Mul, o, self)

    def __truediv__(self, o):
        return _binary(_Div, "div_forward", "div_backward", K_BINARY, True, True, self, o)

    def __rtruediv__(self, o):
        return _slow_binary(_Div, o, self)

    def __matmul__(self, o):
        return _matmul(self, o)

    def __rmatmul__(self, o):
        return _slow_matmul(o, self)

    def __neg__(self):
        return _unary("Neg", "neg_forward", "neg_backward", self)

    def exp(self):
        return _unary("Exp", "exp_forward", "exp_backward", self)

    def log(self):
        return _unary("Log", "log_forward", "log_backward", self)

    def sqrt(self):
        return _unary("Sqrt", "sqrt_forward", "sqrt_backward", self)

    def abs(self):
        return _unary("Abs", "abs_forward", "abs_backward", self)

    def sin(self):
        return _unary("Sin", "sin_forward", "sin_backward", self)

    def cos(self):
        return _unary("Cos", "cos_forward", "cos_backward", self)

    def tanh(self):
        return _unary("Tanh", "tanh_forward", "tanh_backward", self)

    def sigmoid(self):
        return _unary("Sigmoid", "sigmoid_forward", "sigmoid_backward", self)

    def relu(self):
        return _unary("Relu", "relu_forward", "relu_backward", self)


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


cdef inline cnp.ndarray _zeros_like(cnp.ndarray x):
    return cnp.PyArray_ZEROS(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), cnp.PyArray_TYPE(x), 0)


cdef tuple _compiled_backward(Node n, g):
    """The backward of the entries the fast paths record: the same math as
    the op's Python backward in ops.py (tests/test_tape.py compares them)."""
    cdef int kind = n.kind
    if kind == K_ADD:
        return (g, g)
    g = _contig(g)
    needs = n.needs_input_grad
    if kind == K_UNARY:
        dx = _zeros_like(<cnp.ndarray>n.x)
        _kernel(n.kbw)(dx, g, n.x, n.y)
        return (dx,)
    da = db = None
    if kind == K_SUB:
        if needs[1]:
            db = _empty_like(<cnp.ndarray>g)
            _kernel("neg_forward")(db, g)
        return (g, db)
    if kind == K_BINARY:
        out = n.out
        if needs[0]:
            da = _zeros_like(<cnp.ndarray>out)
        if needs[1]:
            db = _zeros_like(<cnp.ndarray>out)
        _kernel(n.kbw)(da, db, g, n.a, n.b, out)
        return (da, db)
    if kind == K_LINEAR:
        x2, w = n.x2, n.w
        dx = _empty_like(<cnp.ndarray>x2) if needs[0] else None
        dw = _empty_like(<cnp.ndarray>w) if needs[1] else None
        has_b = n.has_b
        if has_b and needs[2]:
            db = cnp.PyArray_EMPTY(1, cnp.PyArray_DIMS(<cnp.ndarray>w), cnp.PyArray_TYPE(<cnp.ndarray>w), 0)
        y = n.y
        scratch = _empty_like(<cnp.ndarray>y) if n.act else None
        _kernel("linear_backward")(dx, dw, db, g, x2, w, n.z, y, n.act, scratch, False)
        return (dx, dw, db) if has_b else (dx, dw)
    # K_MATMUL, operands stored untransposed: A (m, k), B (k, n), G (m, n)
    cdef cnp.npy_intp dims[2]
    sa, sb = n.sa, n.sb
    if needs[0]:
        dims[0] = cnp.PyArray_DIMS(<cnp.ndarray>g)[0]
        dims[1] = cnp.PyArray_DIMS(<cnp.ndarray>sb)[0]
        da = cnp.PyArray_EMPTY(2, dims, cnp.PyArray_TYPE(<cnp.ndarray>g), 0)
        _mm(da, g, sb, False, True)
    if needs[1]:
        dims[0] = cnp.PyArray_DIMS(<cnp.ndarray>sa)[1]
        dims[1] = cnp.PyArray_DIMS(<cnp.ndarray>g)[1]
        db = cnp.PyArray_EMPTY(2, dims, cnp.PyArray_TYPE(<cnp.ndarray>g), 0)
        _mm(db, sa, g, True, False)
    return (da, db)


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
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
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
                    "been used in the graph. Set allow_unused=True if this is the desired behavior.")
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
        if not (cnp.PyArray_ISCONTIGUOUS(<cnp.ndarray>d) and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>d)):
            raise ValueError(f"{who}: parameters must be contiguous and writable arrays")
        if cnp.PyArray_TYPE(<cnp.ndarray>g) != cnp.PyArray_TYPE(<cnp.ndarray>d):
            g = g.astype(d.dtype)
        out.append((p, _contig(g)))
    return out
