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

