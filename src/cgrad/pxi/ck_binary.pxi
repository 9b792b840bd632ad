# cgrad._ckernels: elementwise binary kernels with broadcasting, and accumulate.
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

# ---- elementwise binary with broadcasting ------------------------------------

ctypedef int (*bfwd32)(float *, const float *, const float *, int64_t, const int64_t *,
                       const int64_t *, const int64_t *) noexcept nogil
ctypedef int (*bfwd64)(double *, const double *, const double *, int64_t, const int64_t *,
                       const int64_t *, const int64_t *) noexcept nogil
ctypedef int (*bbwd32)(float *, float *, const float *, const float *, const float *, const float *,
                       int64_t, const int64_t *, const int64_t *, const int64_t *) noexcept nogil
ctypedef int (*bbwd64)(double *, double *, const double *, const double *, const double *,
                       const double *, int64_t, const int64_t *, const int64_t *,
                       const int64_t *) noexcept nogil

cdef struct Binary:
    int t
    int64_t n
    int64_t ndim
    int64_t shape[CG_MAX_NDIM]
    int64_t sa[CG_MAX_NDIM]
    int64_t sb[CG_MAX_NDIM]
    void *out     # out (forward) or dout (backward)
    void *da
    void *db
    void *a
    void *b
    void *o       # out, in backward


cdef int _shape_of(object ref, Binary *q):
    cdef cnp.ndarray r = <cnp.ndarray>ref
    cdef int i
    q.ndim = cnp.PyArray_NDIM(r)
    q.n = cnp.PyArray_SIZE(r)
    for i in range(q.ndim):
        q.shape[i] = cnp.PyArray_DIMS(r)[i]
        q.sa[i] = 0
        q.sb[i] = 0
    return 0


cdef int _operand(str fn, object x, str name, object ref, str refname, Binary *q,
                  int64_t *strides, void **ptr) except -1:
    """A strided operand (a or b): any strides, shape exactly that of ref."""
    _check(fn, x, name, q.t, 0)
    _same_shape(fn, x, name, ref, refname)
    _elem_strides(fn, x, name, strides)
    ptr[0] = _data(x)
    return 0


cdef object _bin_fwd(str fn, object out, object a, object b, bfwd32 f32, bfwd64 f64):
    cdef Binary q
    cdef int st
    q.t = _check(fn, out, "out", -1, CONTIG | WRITE)
    _ndim_ok(fn, out, "out")
    _shape_of(out, &q)
    _operand(fn, a, "a", out, "out", &q, q.sa, &q.a)
    _operand(fn, b, "b", out, "out", &q, q.sb, &q.b)
    q.out = _data(out)
    if q.t == F32:
        if q.n >= NOGIL_MIN:
            with nogil:
                st = f32(<float *>q.out, <const float *>q.a, <const float *>q.b, q.ndim,
                         q.shape, q.sa, q.sb)
        else:
            st = f32(<float *>q.out, <const float *>q.a, <const float *>q.b, q.ndim, q.shape,
                     q.sa, q.sb)
    else:
        if q.n >= NOGIL_MIN:
            with nogil:
                st = f64(<double *>q.out, <const double *>q.a, <const double *>q.b, q.ndim,
                         q.shape, q.sa, q.sb)
        else:
            st = f64(<double *>q.out, <const double *>q.a, <const double *>q.b, q.ndim,
                     q.shape, q.sa, q.sb)
    _status(fn, st)


cdef object _bin_bwd(str fn, object da, object db, object dout, object a, object b, object out,
                     bint need_ab, bint need_out, bbwd32 f32, bbwd64 f64):
    """need_ab: the op reads a and b; need_out: db reads out."""
    cdef Binary q
    cdef int st
    q.t = _check(fn, dout, "dout", -1, CONTIG)
    _ndim_ok(fn, dout, "dout")
    _shape_of(dout, &q)
    q.out = _data(dout)
    q.da = NULL
    q.db = NULL
    q.a = NULL
    q.b = NULL
    q.o = NULL
    if da is not None:
        _check(fn, da, "da", q.t, CONTIG | WRITE)
        _same_shape(fn, da, "da", dout, "dout")
        q.da = _data(da)
    if db is not None:
        _check(fn, db, "db", q.t, CONTIG | WRITE)
        _same_shape(fn, db, "db", dout, "dout")
        q.db = _data(db)
    # every array given is checked, even one this op does not read
    if a is not None:
        _operand(fn, a, "a", dout, "dout", &q, q.sa, &q.a)
    if b is not None:
        _operand(fn, b, "b", dout, "dout", &q, q.sb, &q.b)
    if out is not None:
        _check(fn, out, "out", q.t, CONTIG)
        _same_shape(fn, out, "out", dout, "dout")
        q.o = _data(out)
    if need_ab and (a is None or b is None):
        raise ValueError(f"{fn}: a and b are required")
    if need_out and db is not None and out is None:
        raise ValueError(f"{fn}: out is required")
    if da is None and db is None:
        return
    if q.t == F32:
        if q.n >= NOGIL_MIN:
            with nogil:
                st = f32(<float *>q.da, <float *>q.db, <const float *>q.out, <const float *>q.a,
                         <const float *>q.b, <const float *>q.o, q.ndim, q.shape, q.sa, q.sb)
        else:
            st = f32(<float *>q.da, <float *>q.db, <const float *>q.out, <const float *>q.a,
                     <const float *>q.b, <const float *>q.o, q.ndim, q.shape, q.sa, q.sb)
    else:
        if q.n >= NOGIL_MIN:
            with nogil:
                st = f64(<double *>q.da, <double *>q.db, <const double *>q.out, <const double *>q.a,
                         <const double *>q.b, <const double *>q.o, q.ndim, q.shape, q.sa, q.sb)
        else:
            st = f64(<double *>q.da, <double *>q.db, <const double *>q.out, <const double *>q.a,
                     <const double *>q.b, <const double *>q.o, q.ndim, q.shape, q.sa, q.sb)
    _status(fn, st)


def add_forward(out, a, b):
    _bin_fwd("add_forward", out, a, b, cg_add_forward_f32, cg_add_forward_f64)


def add_backward(da, db, dout, a, b, out):
    _bin_bwd("add_backward", da, db, dout, a, b, out, False, False,
             cg_add_backward_f32, cg_add_backward_f64)


def sub_forward(out, a, b):
    _bin_fwd("sub_forward", out, a, b, cg_sub_forward_f32, cg_sub_forward_f64)


def sub_backward(da, db, dout, a, b, out):
    _bin_bwd("sub_backward", da, db, dout, a, b, out, False, False,
             cg_sub_backward_f32, cg_sub_backward_f64)


def mul_forward(out, a, b):
    _bin_fwd("mul_forward", out, a, b, cg_mul_forward_f32, cg_mul_forward_f64)


def mul_backward(da, db, dout, a, b, out):
    _bin_bwd("mul_backward", da, db, dout, a, b, out, True, False,
             cg_mul_backward_f32, cg_mul_backward_f64)


def div_forward(out, a, b):
    _bin_fwd("div_forward", out, a, b, cg_div_forward_f32, cg_div_forward_f64)


def div_backward(da, db, dout, a, b, out):
    _bin_bwd("div_backward", da, db, dout, a, b, out, True, True,
             cg_div_backward_f32, cg_div_backward_f64)


def pow_forward(out, a, b):
    _bin_fwd("pow_forward", out, a, b, cg_pow_forward_f32, cg_pow_forward_f64)


def pow_backward(da, db, dout, a, b, out):
    _bin_bwd("pow_backward", da, db, dout, a, b, out, True, True,
             cg_pow_backward_f32, cg_pow_backward_f64)


cdef void _accumulate(int t, void *dst, void *src, int64_t n) noexcept nogil:
    if t == F32:
        cg_accumulate_f32(<float *>dst, <const float *>src, n)
    else:
        cg_accumulate_f64(<double *>dst, <const double *>src, n)


def accumulate(dst, src):
    """dst += src (both contig, same shape)."""
    cdef int t = _check("accumulate", dst, "dst", -1, CONTIG | WRITE)
    _check("accumulate", src, "src", t, CONTIG)
    _same_shape("accumulate", src, "src", dst, "dst")
    cdef int64_t n = _size(dst)
    cdef void *d = _data(dst)
    cdef void *s = _data(src)
    if n < NOGIL_MIN:
        _accumulate(t, d, s, n)
    else:
        with nogil:
            _accumulate(t, d, s, n)
