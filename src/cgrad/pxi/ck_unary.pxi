# cgrad._ckernels: elementwise unary kernels, with and without parameters.
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

# ---- elementwise unary ---------------------------------------------------------

ctypedef void (*ufwd32)(float *, const float *, int64_t) noexcept nogil
ctypedef void (*ufwd64)(double *, const double *, int64_t) noexcept nogil
ctypedef void (*ubwd32)(float *, const float *, const float *, const float *, int64_t) noexcept nogil
ctypedef void (*ubwd64)(double *, const double *, const double *, const double *, int64_t) noexcept nogil

cdef struct Unary:
    int t
    int64_t n
    void *dst       # y or dx
    void *src       # x or dy
    void *x
    void *y


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
    elif need & NEED_X:
        raise ValueError(f"{fn}: x is required")
    if y is not None:
        _check(fn, y, "y", u.t, CONTIG)
        _same_shape(fn, y, "y", ref, "dx" if dx is not None else "dy")
        u.y = _data(y)
    elif need & NEED_Y:
        raise ValueError(f"{fn}: y is required")
    return dx is not None


cdef object _unary_fwd(str fn, object y, object x, ufwd32 f32, ufwd64 f64):
    cdef Unary u
    _unary_fwd_args(fn, y, x, &u)
    if u.t == F32:
        if u.n >= NOGIL_MIN:
            with nogil:
                f32(<float *>u.dst, <const float *>u.src, u.n)
        else:
            f32(<float *>u.dst, <const float *>u.src, u.n)
    else:
        if u.n >= NOGIL_MIN:
            with nogil:
                f64(<double *>u.dst, <const double *>u.src, u.n)
        else:
            f64(<double *>u.dst, <const double *>u.src, u.n)


cdef object _unary_bwd(str fn, object dx, object dy, object x, object y, int need,
                       ubwd32 f32, ubwd64 f64):
    cdef Unary u
    if not _unary_bwd_args(fn, dx, dy, x, y, need, &u):
        return
    if u.t == F32:
        if u.n >= NOGIL_MIN:
            with nogil:
                f32(<float *>u.dst, <const float *>u.src, <const float *>u.x, <const float *>u.y, u.n)
        else:
            f32(<float *>u.dst, <const float *>u.src, <const float *>u.x, <const float *>u.y, u.n)
    else:
        if u.n >= NOGIL_MIN:
            with nogil:
                f64(<double *>u.dst, <const double *>u.src, <const double *>u.x, <const double *>u.y, u.n)
        else:
            f64(<double *>u.dst, <const double *>u.src, <const double *>u.x, <const double *>u.y, u.n)


def neg_forward(y, x):
    _unary_fwd("neg_forward", y, x, cg_neg_forward_f32, cg_neg_forward_f64)
def neg_backward(dx, dy, x, y):
    _unary_bwd("neg_backward", dx, dy, x, y, 0, cg_neg_backward_f32, cg_neg_backward_f64)

def exp_forward(y, x):
    _unary_fwd("exp_forward", y, x, cg_exp_forward_f32, cg_exp_forward_f64)
def exp_backward(dx, dy, x, y):
    _unary_bwd("exp_backward", dx, dy, x, y, NEED_Y, cg_exp_backward_f32, cg_exp_backward_f64)

def log_forward(y, x):
    _unary_fwd("log_forward", y, x, cg_log_forward_f32, cg_log_forward_f64)
def log_backward(dx, dy, x, y):
    _unary_bwd("log_backward", dx, dy, x, y, NEED_X, cg_log_backward_f32, cg_log_backward_f64)

def sqrt_forward(y, x):
    _unary_fwd("sqrt_forward", y, x, cg_sqrt_forward_f32, cg_sqrt_forward_f64)
def sqrt_backward(dx, dy, x, y):
    _unary_bwd("sqrt_backward", dx, dy, x, y, NEED_Y, cg_sqrt_backward_f32, cg_sqrt_backward_f64)

def abs_forward(y, x):
    _unary_fwd("abs_forward", y, x, cg_abs_forward_f32, cg_abs_forward_f64)
def abs_backward(dx, dy, x, y):
    _unary_bwd("abs_backward", dx, dy, x, y, NEED_X, cg_abs_backward_f32, cg_abs_backward_f64)

def sin_forward(y, x):
    _unary_fwd("sin_forward", y, x, cg_sin_forward_f32, cg_sin_forward_f64)
def sin_backward(dx, dy, x, y):
    _unary_bwd("sin_backward", dx, dy, x, y, NEED_X, cg_sin_backward_f32, cg_sin_backward_f64)

def cos_forward(y, x):
    _unary_fwd("cos_forward", y, x, cg_cos_forward_f32, cg_cos_forward_f64)
def cos_backward(dx, dy, x, y):
    _unary_bwd("cos_backward", dx, dy, x, y, NEED_X, cg_cos_backward_f32, cg_cos_backward_f64)

def tanh_forward(y, x):
    _unary_fwd("tanh_forward", y, x, cg_tanh_forward_f32, cg_tanh_forward_f64)
def tanh_backward(dx, dy, x, y):
    _unary_bwd("tanh_backward", dx, dy, x, y, NEED_Y, cg_tanh_backward_f32, cg_tanh_backward_f64)

def sigmoid_forward(y, x):
    _unary_fwd("sigmoid_forward", y, x, cg_sigmoid_forward_f32, cg_sigmoid_forward_f64)
def sigmoid_backward(dx, dy, x, y):
    _unary_bwd("sigmoid_backward", dx, dy, x, y, NEED_Y, cg_sigmoid_backward_f32, cg_sigmoid_backward_f64)

def relu_forward(y, x):
    _unary_fwd("relu_forward", y, x, cg_relu_forward_f32, cg_relu_forward_f64)
def relu_backward(dx, dy, x, y):
    _unary_bwd("relu_backward", dx, dy, x, y, NEED_Y, cg_relu_backward_f32, cg_relu_backward_f64)


# Unary ops with parameters: a nogil helper picks the dtype's symbol; the
# wrapper decides whether to release the GIL.

cdef void _leaky_relu_fwd(Unary *u, double s) noexcept nogil:
    if u.t == F32:
        cg_leaky_relu_forward_f32(<float *>u.dst, <const float *>u.src, u.n, <float>s)
    else:
        cg_leaky_relu_forward_f64(<double *>u.dst, <const double *>u.src, u.n, s)

cdef void _leaky_relu_bwd(Unary *u, double s) noexcept nogil:
    if u.t == F32:
        cg_leaky_relu_backward_f32(<float *>u.dst, <const float *>u.src, <const float *>u.x,
                                   <const float *>u.y, u.n, <float>s)
    else:
        cg_leaky_relu_backward_f64(<double *>u.dst, <const double *>u.src, <const double *>u.x,
                                   <const double *>u.y, u.n, s)

def leaky_relu_forward(y, x, double negative_slope):
    cdef Unary u
    _unary_fwd_args("leaky_relu_forward", y, x, &u)
    if u.n < NOGIL_MIN:
        _leaky_relu_fwd(&u, negative_slope)
    else:
        with nogil:
            _leaky_relu_fwd(&u, negative_slope)

def leaky_relu_backward(dx, dy, x, y, double negative_slope):
    cdef Unary u
    if not _unary_bwd_args("leaky_relu_backward", dx, dy, x, y, NEED_X, &u):
        return
    if u.n < NOGIL_MIN:
        _leaky_relu_bwd(&u, negative_slope)
    else:
        with nogil:
            _leaky_relu_bwd(&u, negative_slope)


cdef void _softplus_fwd(Unary *u, double beta, double threshold) noexcept nogil:
    if u.t == F32:
        cg_softplus_forward_f32(<float *>u.dst, <const float *>u.src, u.n, <float>beta, <float>threshold)
    else:
        cg_softplus_forward_f64(<double *>u.dst, <const double *>u.src, u.n, beta, threshold)

cdef void _softplus_bwd(Unary *u, double beta, double threshold) noexcept nogil:
    if u.t == F32:
        cg_softplus_backward_f32(<float *>u.dst, <const float *>u.src, <const float *>u.x,
                                 <const float *>u.y, u.n, <float>beta, <float>threshold)
    else:
        cg_softplus_backward_f64(<double *>u.dst, <const double *>u.src, <const double *>u.x,
                                 <const double *>u.y, u.n, beta, threshold)

def softplus_forward(y, x, double beta, double threshold):
    cdef Unary u
    _unary_fwd_args("softplus_forward", y, x, &u)
    if u.n < NOGIL_MIN:
        _softplus_fwd(&u, beta, threshold)
    else:
        with nogil:
            _softplus_fwd(&u, beta, threshold)

def softplus_backward(dx, dy, x, y, double beta, double threshold):
    cdef Unary u
    if not _unary_bwd_args("softplus_backward", dx, dy, x, y, NEED_X, &u):
        return
    if u.n < NOGIL_MIN:
        _softplus_bwd(&u, beta, threshold)
    else:
        with nogil:
            _softplus_bwd(&u, beta, threshold)


cdef void _gelu_fwd(Unary *u, bint approx) noexcept nogil:
    if u.t == F32:
        cg_gelu_forward_f32(<float *>u.dst, <const float *>u.src, u.n, approx)
    else:
        cg_gelu_forward_f64(<double *>u.dst, <const double *>u.src, u.n, approx)

cdef void _gelu_bwd(Unary *u, bint approx) noexcept nogil:
    if u.t == F32:
        cg_gelu_backward_f32(<float *>u.dst, <const float *>u.src, <const float *>u.x,
                             <const float *>u.y, u.n, approx)
    else:
        cg_gelu_backward_f64(<double *>u.dst, <const double *>u.src, <const double *>u.x,
                             <const double *>u.y, u.n, approx)

def gelu_forward(y, x, bint approximate_tanh):
    cdef Unary u
    _unary_fwd_args("gelu_forward", y, x, &u)
    if u.n < NOGIL_MIN:
        _gelu_fwd(&u, approximate_tanh)
    else:
        with nogil:
            _gelu_fwd(&u, approximate_tanh)

def gelu_backward(dx, dy, x, y, bint approximate_tanh):
    cdef Unary u
    if not _unary_bwd_args("gelu_backward", dx, dy, x, y, NEED_X, &u):
        return
    if u.n < NOGIL_MIN:
        _gelu_bwd(&u, approximate_tanh)
    else:
        with nogil:
            _gelu_bwd(&u, approximate_tanh)


cdef void _clamp_fwd(Unary *u, double lo, double hi) noexcept nogil:
    if u.t == F32:
        cg_clamp_forward_f32(<float *>u.dst, <const float *>u.src, u.n, <float>lo, <float>hi)
    else:
        cg_clamp_forward_f64(<double *>u.dst, <const double *>u.src, u.n, lo, hi)

cdef void _clamp_bwd(Unary *u, double lo, double hi) noexcept nogil:
    if u.t == F32:
        cg_clamp_backward_f32(<float *>u.dst, <const float *>u.src, <const float *>u.x,
                              <const float *>u.y, u.n, <float>lo, <float>hi)
    else:
        cg_clamp_backward_f64(<double *>u.dst, <const double *>u.src, <const double *>u.x,
                              <const double *>u.y, u.n, lo, hi)

def clamp_forward(y, x, double lo, double hi):
    cdef Unary u
    _unary_fwd_args("clamp_forward", y, x, &u)
    if u.n < NOGIL_MIN:
        _clamp_fwd(&u, lo, hi)
    else:
        with nogil:
            _clamp_fwd(&u, lo, hi)

def clamp_backward(dx, dy, x, y, double lo, double hi):
    cdef Unary u
    if not _unary_bwd_args("clamp_backward", dx, dy, x, y, NEED_X, &u):
        return
    if u.n < NOGIL_MIN:
        _clamp_bwd(&u, lo, hi)
    else:
        with nogil:
            _clamp_bwd(&u, lo, hi)
