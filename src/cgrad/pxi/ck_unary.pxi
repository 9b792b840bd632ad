# cgrad._ckernels: elementwise unary kernels, with and without parameters.
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

# ---- elementwise unary ---------------------------------------------------------
# Every unary op has one C signature and is reached through the table
# cg_unary_ops() returns (csrc/unary.c). For each entry this section defines
#   <name>_forward(y, x, *params)           y = f(x)
#   <name>_backward(dx, dy, x, y, *params)  dx += dy * f'(x)
# with the entry's parameter count and what its backward reads (x or y; the
# other may be None) checked here, so an op added to csrc/unary_impl.h needs
# no code in this file.

DEF MAX_UNARY_PARAMS = 4

cdef int _N_UNARY = 0
cdef const cg_unary_op *_UNARY = cg_unary_ops(&_N_UNARY)


cdef struct Unary:
    int t
    int64_t n
    void *dst       # y or dx
    void *src       # x or dy
    void *x
    void *y
    double p[MAX_UNARY_PARAMS]


cdef int _unary_fwd_args(str fn, object y, object x, Unary *u) except -1:
    u.t = _check(fn, y, "y", -1, CONTIG | WRITE)
    _check(fn, x, "x", u.t, CONTIG)
    _same_shape(fn, x, "x", y, "y")
    u.n = _size(y)
    u.dst = _data(y)
    u.src = _data(x)
    return 0


cdef int _unary_bwd_args(str fn, object dx, object dy, object x, object y, int need,
                         Unary *u) except -1:
    """Check every array given; returns 0 when dx is None (nothing to do).
    x and y may be None when the derivative does not read them."""
    cdef object ref = dx
    if dx is not None:
        u.t = _check(fn, dx, "dx", -1, CONTIG | WRITE)
        _check(fn, dy, "dy", u.t, CONTIG)
        _same_shape(fn, dy, "dy", dx, "dx")
        u.dst = _data(dx)
    else:
        u.t = _check(fn, dy, "dy", -1, CONTIG)
        ref = dy
        u.dst = NULL
    u.n = _size(dy)
    u.src = _data(dy)
    u.x = NULL
    u.y = NULL
    if x is not None:
        _check(fn, x, "x", u.t, CONTIG)
        _same_shape(fn, x, "x", ref, "dx" if dx is not None else "dy")
        u.x = _data(x)
    elif need & CG_READS_X:
        raise ValueError(f"{fn}: x is required")
    if y is not None:
        _check(fn, y, "y", u.t, CONTIG)
        _same_shape(fn, y, "y", ref, "dx" if dx is not None else "dy")
        u.y = _data(y)
    elif need & CG_READS_Y:
        raise ValueError(f"{fn}: y is required")
    return dx is not None


cdef int _unary_params(str fn, const cg_unary_op *k, tuple params, Unary *u) except -1:
    cdef Py_ssize_t i, n = len(params)
    if n != k.nparams:
        raise TypeError(f"{fn}: expected {k.nparams} parameter(s) after the arrays, got {n}")
    for i in range(n):
        u.p[i] = params[i]          # a TypeError for anything but a real number
    return 0


cdef void _unary_fwd_call(const cg_unary_op *k, Unary *u) noexcept nogil:
    if u.t == F32:
        k.forward_f32(<float *>u.dst, <const float *>u.src, u.n, u.p)
    else:
        k.forward_f64(<double *>u.dst, <const double *>u.src, u.n, u.p)


cdef void _unary_bwd_call(const cg_unary_op *k, Unary *u) noexcept nogil:
    if u.t == F32:
        k.backward_f32(<float *>u.dst, <const float *>u.src, <const float *>u.x,
                       <const float *>u.y, u.n, u.p)
    else:
        k.backward_f64(<double *>u.dst, <const double *>u.src, <const double *>u.x,
                       <const double *>u.y, u.n, u.p)


cdef object _unary_fwd(int i, str fn, object y, object x, tuple params):
    cdef const cg_unary_op *k = &_UNARY[i]
    cdef Unary u
    _unary_fwd_args(fn, y, x, &u)
    _unary_params(fn, k, params, &u)
    if u.n >= NOGIL_MIN:
        with nogil:
            _unary_fwd_call(k, &u)
    else:
        _unary_fwd_call(k, &u)


cdef object _unary_bwd(int i, str fn, object dx, object dy, object x, object y, tuple params):
    cdef const cg_unary_op *k = &_UNARY[i]
    cdef Unary u
    if not _unary_bwd_args(fn, dx, dy, x, y, k.reads, &u):
        _unary_params(fn, k, params, &u)
        return
    _unary_params(fn, k, params, &u)
    if u.n >= NOGIL_MIN:
        with nogil:
            _unary_bwd_call(k, &u)
    else:
        _unary_bwd_call(k, &u)


def _unary_pair(int i, str name):
    """The Python functions of table entry i: <name>_forward, <name>_backward."""
    fwd_name, bwd_name = name + "_forward", name + "_backward"

    def forward(y, x, *params):
        _unary_fwd(i, fwd_name, y, x, params)

    def backward(dx, dy, x, y, *params):
        _unary_bwd(i, bwd_name, dx, dy, x, y, params)

    forward.__name__ = forward.__qualname__ = fwd_name
    backward.__name__ = backward.__qualname__ = bwd_name
    forward.__doc__ = f"y = {name}(x), elementwise (csrc/unary_impl.h)"
    backward.__doc__ = f"dx += dy * {name}'(x), elementwise (csrc/unary_impl.h)"
    return forward, backward


def unary_ops():
    """{name: (reads, nparams)} of the C unary table: what each op's backward
    reads ("x", "y" or "") and how many parameters it takes."""
    out = {}
    for i in range(_N_UNARY):
        r = _UNARY[i].reads
        reads = ("x" if r & CG_READS_X else "") + ("y" if r & CG_READS_Y else "")
        out[_UNARY[i].name.decode()] = (reads, _UNARY[i].nparams)
    return out


def _unary_table():
    """The C unary table, for the compiled tape's fast path: (capsule, count)."""
    return PyCapsule_New(<void *><cg_unary_op *>_UNARY, b"cgrad.cg_unary_ops", NULL), _N_UNARY


for _i in range(_N_UNARY):
    if _UNARY[_i].nparams > MAX_UNARY_PARAMS:
        raise ImportError(f"cgrad._ckernels: unary op {_UNARY[_i].name.decode()!r} takes "
                          f"{_UNARY[_i].nparams} parameters; at most {MAX_UNARY_PARAMS} fit")
    _f, _b = _unary_pair(_i, _UNARY[_i].name.decode())
    globals()[_f.__name__] = _f
    globals()[_b.__name__] = _b
del _i, _f, _b
