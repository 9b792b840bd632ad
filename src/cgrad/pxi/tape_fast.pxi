# ---------------------------------------------------------------- fast paths
# The most common calls, on float32/float64 Tensors of one dtype and shape
# (C-contiguous for unary ops and matmul), skip the generic route (operand
# conversion, dtype promotion, broadcasting, Python op.forward): they call
# the kernel and record the same tape entry, with the same stashed fields,
# that apply() would. Anything else takes the generic route, unchanged.

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


cdef class FastOp:
    """What a fast path needs to know of one op, taken from its op class
    (that is, from its row in the op table): the class it records, the
    kernels it calls, what the entry keeps for backward, and which compiled
    backward runs it."""

    cdef readonly object op
    cdef readonly str name
    cdef str kfwd, kbwd
    cdef int kind
    cdef bint keep_x, keep_y, keep_a, keep_b, keep_out
    cdef const cg_unary_op *ck      # a unary op's entry in the C table (NULL: none)

    def __init__(self, op):
        cdef int i
        row = op.row
        self.op = op
        self.name = op.name
        self.kfwd, self.kbwd = op.kernels[0], op.kernels[1]
        self.ck = NULL
        if row.family == "unary":
            self.kind = K_UNARY
            self.keep_x = "x" in row.saves
            self.keep_y = "out" in row.saves
            for i in range(_N_UNARY):
                if _UNARY_TABLE[i].name.decode() == op.name:
                    self.ck = &_UNARY_TABLE[i]
        elif row.family == "binary":
            self.kind = K_ADD if op.name == "add" else K_SUB if op.name == "sub" else K_BINARY
            self.keep_a = "a" in row.saves
            self.keep_b = "b" in row.saves
            self.keep_out = "out" in row.saves
        else:
            raise ValueError(f"FastOp: no fast path for the {row.family} op {op.name!r}")

    def __repr__(self):
        return f"<FastOp {self.name}>"


cdef object _binary(FastOp r, TensorBase a, object other):
    """a (op) other; the generic route unless both are same-shape float Tensors."""
    if not isinstance(other, TensorBase):
        return _slow_binary(r.op, a, other)
    cdef TensorBase b = <TensorBase>other
    x = a.data
    y = b.data
    if (not _float_array(x) or not _float_array(y)
            or cnp.PyArray_TYPE(<cnp.ndarray>x) != cnp.PyArray_TYPE(<cnp.ndarray>y)
            or not _same_shape(x, y)):
        return _slow_binary(r.op, a, b)
    out = _empty_like(<cnp.ndarray>x)
    _kernel(r.kfwd)(out, x, y)
    cdef TensorBase res = _new_tensor(out)
    cdef Node node
    if (a._rg or b._rg) and _mode.enabled:
        node = _new_node(r.op, (a, b), (a._rg, b._rg))
        node.kind = r.kind
        node.rec = r
        if r.keep_a or r.keep_b or r.keep_out:
            saved = []
            if r.keep_a:
                node.a = x
                saved.append((a._vc, a._vc[0], 0))
            if r.keep_b:
                node.b = y
                saved.append((b._vc, b._vc[0], 1))
            if r.keep_out:
                node.out = out
                saved.append((res._vc, res._vc[0], -1))
            node._saved = saved
        res._rg = True
        res.grad_fn = node
    return res


def binary(FastOp r, TensorBase a, other):
    """a (op) other through the fast path (the generic route when it does not apply)."""
    return _binary(r, a, other)


cdef inline bint _fits(object a, int typenum, object ref):
    """a is an exact, aligned, C-contiguous array of dtype typenum and ref's shape."""
    return (_float_array(a) and cnp.PyArray_TYPE(<cnp.ndarray>a) == typenum
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a) and _same_shape(a, ref))


cdef bint _unary_c(const cg_unary_op *k, bint backward, object dst, object src, object x,
                   object y, tuple params) except -1:
    """Run a C unary kernel on arrays the caller made or checked: dst (y, or
    dx) a fresh C-contiguous float array, src (x, or dy) like it. Returns
    False, having done nothing, when it cannot (no C entry, another dtype, a
    parameter count or a saved array that does not fit): the caller then
    calls the backend's checked Python kernel, which raises if it must."""
    cdef double p[4]
    cdef Py_ssize_t i, n = len(params)
    cdef int t
    cdef int64_t size
    cdef void *pd
    cdef const void *ps
    cdef const void *px = NULL
    cdef const void *py = NULL
    if k == NULL or n != k.nparams or n > 4:
        return False
    t = cnp.PyArray_TYPE(<cnp.ndarray>dst)
    if not _fits(src, t, dst):
        return False
    if backward:
        if k.reads & CG_READS_X:
            if not _fits(x, t, dst):
                return False
            px = cnp.PyArray_DATA(<cnp.ndarray>x)
        if k.reads & CG_READS_Y:
            if not _fits(y, t, dst):
                return False
            py = cnp.PyArray_DATA(<cnp.ndarray>y)
    for i in range(n):
        p[i] = params[i]
    pd = cnp.PyArray_DATA(<cnp.ndarray>dst)
    ps = cnp.PyArray_DATA(<cnp.ndarray>src)
    size = cnp.PyArray_SIZE(<cnp.ndarray>dst)
    if size >= _NOGIL_MIN:
        with nogil:
            _unary_call(k, backward, t == cnp.NPY_FLOAT, pd, ps, px, py, size, p)
    else:
        _unary_call(k, backward, t == cnp.NPY_FLOAT, pd, ps, px, py, size, p)
    return True


cdef inline void _unary_call(const cg_unary_op *k, bint backward, bint f32, void *dst,
                             const void *src, const void *x, const void *y, int64_t n,
                             const double *p) noexcept nogil:
    if backward:
        if f32:
            k.backward_f32(<float *>dst, <const float *>src, <const float *>x, <const float *>y,
                           n, p)
        else:
            k.backward_f64(<double *>dst, <const double *>src, <const double *>x,
                           <const double *>y, n, p)
    elif f32:
        k.forward_f32(<float *>dst, <const float *>src, n, p)
    else:
        k.forward_f64(<double *>dst, <const double *>src, n, p)


cdef object _unary(FastOp r, TensorBase a, tuple params):
    """f(a); the generic route unless a is a C-contiguous float Tensor."""
    x = a.data
    if not _float_array(x) or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>x):
        return _slow_unary(r.op, a, params)
    y = _empty_like(<cnp.ndarray>x)
    if not (_c_active and _unary_c(r.ck, False, y, x, None, None, params)):
        _kernel(r.kfwd)(y, x, *params)
    cdef TensorBase res = _new_tensor(y)
    cdef Node node
    if a._rg and _mode.enabled:
        node = _new_node(r.op, (a,), (True,))
        node.params = params
        node.kind = K_UNARY
        node.rec = r
        if r.keep_x:
            node.x = x
            node._saved = [(a._vc, a._vc[0], 0)]
        if r.keep_y:
            node.y = y
            if r.keep_x:
                node._saved.append((res._vc, res._vc[0], -1))
            else:
                node._saved = [(res._vc, res._vc[0], -1)]
        res._rg = True
        res.grad_fn = node
    return res


def unary(FastOp r, TensorBase a, tuple params=()):
    """f(a, *params) through the fast path (the generic route when it does not apply)."""
    return _unary(r, a, params)


def unary_method(FastOp r, str name, str doc):
    """The Tensor method `name` of a unary op without parameters: a compiled
    function, so t.relu() costs no Python frame (methods.py uses it)."""
    def method(self):
        return _unary(r, <TensorBase?>self, ())
    method.__name__ = name
    method.__qualname__ = "Tensor." + name
    method.__doc__ = doc
    return method


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
    # gelu's backward reads z
    z = cnp.PyArray_EMPTY(2, dims, typenum, 0) if (_ACT_Z >> act) & 1 else None
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
    """The operators with a compiled fast path (tensor.Tensor derives from
    this); the ops' records come from connect()."""

    def __add__(self, o):
        return _binary(_ADD, self, o)

    def __radd__(self, o):
        return _slow_binary(_ADD.op, o, self)

    def __sub__(self, o):
        return _binary(_SUB, self, o)

    def __rsub__(self, o):
        return _slow_binary(_SUB.op, o, self)

    def __mul__(self, o):
        return _binary(_MUL, self, o)

    def __rmul__(self, o):
        return _slow_binary(_MUL.op, o, self)

    def __truediv__(self, o):
        return _binary(_DIV, self, o)

    def __rtruediv__(self, o):
        return _slow_binary(_DIV.op, o, self)

    def __matmul__(self, o):
        return _matmul(self, o)

    def __rmatmul__(self, o):
        return _slow_matmul(o, self)

    def __neg__(self):
        return _unary(_NEG, self, ())


cdef dict _fast_kwargs(Node n):
    """What apply() would have passed to op.forward for an entry a fast path
    recorded (see the stashed fields above)."""
    if n.kind == K_UNARY:
        return {"params": n.params}
    if n.kind == K_LINEAR:
        return {"act": n.act}
    if n.kind:                               # + - * / and 2-D matmul: one dtype
        return {"dtype": (<TensorBase>n.inputs[0]).data.dtype}
    return {}


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
        dx = _zeros_like(<cnp.ndarray>g)
        if not (_c_active and _unary_c((<FastOp>n.rec).ck, True, dx, g, n.x, n.y, n.params)):
            _kernel((<FastOp>n.rec).kbwd)(dx, g, n.x, n.y, *n.params)
        return (dx,)
    da = db = None
    if kind == K_SUB:
        if needs[1]:
            db = _empty_like(<cnp.ndarray>g)
            _kernel("neg_forward")(db, g)
        return (g, db)
    if kind == K_BINARY:
        if needs[0]:
            da = _zeros_like(<cnp.ndarray>g)
        if needs[1]:
            db = _zeros_like(<cnp.ndarray>g)
        _kernel((<FastOp>n.rec).kbwd)(da, db, g, n.a, n.b, n.out)
        return (da, db)
    if kind == K_LINEAR:
        x2, w = n.x2, n.w
        dx = _empty_like(<cnp.ndarray>x2) if needs[0] else None
        dw = _empty_like(<cnp.ndarray>w) if needs[1] else None
        has_b = n.has_b
        if has_b and needs[2]:
            db = cnp.PyArray_EMPTY(1, cnp.PyArray_DIMS(<cnp.ndarray>w),
                                   cnp.PyArray_TYPE(<cnp.ndarray>w), 0)
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
