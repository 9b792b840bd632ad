# cgrad._ckernels: softmax and log-softmax along one axis.
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

# ---- softmax along one axis ----------------------------------------------------

cdef struct Softmax:
    int t
    int op          # 0 softmax fwd, 1 softmax bwd, 2 log_softmax fwd, 3 log_softmax bwd
    int64_t outer
    int64_t n
    int64_t inner
    void *dst
    void *src
    void *y


cdef int _softmax_dims(str fn, object x, object axis, Softmax *s) except -1:
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef int nd = cnp.PyArray_NDIM(a)
    cdef int i
    cdef Py_ssize_t ax
    try:
        ax = _index(axis)
    except TypeError:
        raise TypeError(f"{fn}: axis must be an int, got {type(axis).__name__}") from None
    if ax < 0 or ax >= nd:
        raise ValueError(f"{fn}: axis {ax} out of range for ndim {nd}")
    s.outer = 1
    s.inner = 1
    for i in range(nd):
        if i < ax:
            s.outer *= cnp.PyArray_DIMS(a)[i]
        elif i > ax:
            s.inner *= cnp.PyArray_DIMS(a)[i]
    s.n = cnp.PyArray_DIMS(a)[ax]
    return 0


cdef void _softmax_call(Softmax *s) noexcept nogil:
    if s.t == F32:
        if s.op == 0:
            cg_softmax_forward_f32(<float *>s.dst, <const float *>s.src, s.outer, s.n, s.inner)
        elif s.op == 1:
            cg_softmax_backward_f32(<float *>s.dst, <const float *>s.src,
                                    <const float *>s.y, s.outer, s.n, s.inner)
        elif s.op == 2:
            cg_log_softmax_forward_f32(<float *>s.dst, <const float *>s.src, s.outer, s.n, s.inner)
        else:
            cg_log_softmax_backward_f32(<float *>s.dst, <const float *>s.src,
                                        <const float *>s.y, s.outer, s.n, s.inner)
    else:
        if s.op == 0:
            cg_softmax_forward_f64(<double *>s.dst, <const double *>s.src, s.outer, s.n, s.inner)
        elif s.op == 1:
            cg_softmax_backward_f64(<double *>s.dst, <const double *>s.src,
                                    <const double *>s.y, s.outer, s.n, s.inner)
        elif s.op == 2:
            cg_log_softmax_forward_f64(<double *>s.dst, <const double *>s.src, s.outer,
                                       s.n, s.inner)
        else:
            cg_log_softmax_backward_f64(<double *>s.dst, <const double *>s.src,
                                        <const double *>s.y, s.outer, s.n, s.inner)


cdef object _softmax_fwd(str fn, int op, object y, object x, object axis):
    cdef Softmax s
    s.op = op
    s.t = _check(fn, y, "y", -1, CONTIG | WRITE)
    _check(fn, x, "x", s.t, CONTIG)
    _same_shape(fn, x, "x", y, "y")
    _softmax_dims(fn, y, axis, &s)
    s.dst = _data(y)
    s.src = _data(x)
    s.y = NULL
    if _size(y) < NOGIL_MIN:
        _softmax_call(&s)
    else:
        with nogil:
            _softmax_call(&s)


cdef object _softmax_bwd(str fn, int op, object dx, object dy, object y, object axis):
    cdef Softmax s
    if dx is None:                   # nothing to do; still check what was given
        s.t = _check(fn, dy, "dy", -1, CONTIG)
        _check(fn, y, "y", s.t, CONTIG)
        _same_shape(fn, y, "y", dy, "dy")
        _softmax_dims(fn, dy, axis, &s)
        return
    s.op = op
    s.t = _check(fn, dx, "dx", -1, CONTIG | WRITE)
    _check(fn, dy, "dy", s.t, CONTIG)
    _check(fn, y, "y", s.t, CONTIG)
    _same_shape(fn, dy, "dy", dx, "dx")
    _same_shape(fn, y, "y", dx, "dx")
    _softmax_dims(fn, dx, axis, &s)
    s.dst = _data(dx)
    s.src = _data(dy)
    s.y = _data(y)
    if _size(dx) < NOGIL_MIN:
        _softmax_call(&s)
    else:
        with nogil:
            _softmax_call(&s)


def softmax_forward(y, x, axis):
    _softmax_fwd("softmax_forward", 0, y, x, axis)


def softmax_backward(dx, dy, y, axis):
    _softmax_bwd("softmax_backward", 1, dx, dy, y, axis)


def log_softmax_forward(y, x, axis):
    _softmax_fwd("log_softmax_forward", 2, y, x, axis)


def log_softmax_backward(dx, dy, y, axis):
    _softmax_bwd("log_softmax_backward", 3, dx, dy, y, axis)
