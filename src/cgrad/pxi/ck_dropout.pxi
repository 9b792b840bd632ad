# cgrad._ckernels: dropout.
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

# ---- dropout -----------------------------------------------------------------------

cdef double _dropout_p(str fn, object p) except? -1:
    cdef double v = _float(fn, p, "p")
    if not (0 <= v < 1):
        raise ValueError(f"{fn}: p must satisfy 0 <= p < 1, got {v}")
    return v


cdef void _dropout_call(int t, bint bwd, void *dst, void *src, void *u, int64_t n,
                        double p) noexcept nogil:
    if t == F32:
        if bwd:
            cg_dropout_backward_f32(<float *>dst, <const float *>src, <const float *>u, n, <float>p)
        else:
            cg_dropout_forward_f32(<float *>dst, <const float *>src, <const float *>u, n, <float>p)
    else:
        if bwd:
            cg_dropout_backward_f64(<double *>dst, <const double *>src, <const double *>u, n, p)
        else:
            cg_dropout_forward_f64(<double *>dst, <const double *>src, <const double *>u, n, p)


def dropout_forward(y, x, u, p):
    """y = x * (u >= p) / (1 - p);  0 <= p < 1."""
    cdef str fn = "dropout_forward"
    cdef int t = _check(fn, y, "y", -1, CONTIG | WRITE)
    _check(fn, x, "x", t, CONTIG)
    _check(fn, u, "u", t, CONTIG)
    _same_shape(fn, x, "x", y, "y")
    _same_shape(fn, u, "u", y, "y")
    cdef double pv = _dropout_p(fn, p)
    cdef int64_t n = _size(y)
    cdef void *yp = _data(y)
    cdef void *xp = _data(x)
    cdef void *up = _data(u)
    if n < NOGIL_MIN:
        _dropout_call(t, False, yp, xp, up, n, pv)
    else:
        with nogil:
            _dropout_call(t, False, yp, xp, up, n, pv)


def dropout_backward(dx, dy, u, p):
    """dx += dy * (u >= p) / (1 - p)."""
    cdef str fn = "dropout_backward"
    cdef int t = _check(fn, dy, "dy", -1, CONTIG)
    _check(fn, u, "u", t, CONTIG)
    _same_shape(fn, u, "u", dy, "dy")
    cdef double pv = _dropout_p(fn, p)
    if dx is None:
        return
    _check(fn, dx, "dx", t, CONTIG | WRITE)
    _same_shape(fn, dx, "dx", dy, "dy")
    cdef int64_t n = _size(dy)
    cdef void *dxp = _data(dx)
    cdef void *dyp = _data(dy)
    cdef void *up = _data(u)
    if n < NOGIL_MIN:
        _dropout_call(t, True, dxp, dyp, up, n, pv)
    else:
        with nogil:
            _dropout_call(t, True, dxp, dyp, up, n, pv)
