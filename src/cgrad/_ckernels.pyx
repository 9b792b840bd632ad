# cython: boundscheck=False, wraparound=False, initializedcheck=False, language_level=3
"""cgrad._ckernels: the compiled backend (interface in docs/kernels.md).

Marshalling only. Every function checks each argument (an ndarray, float32
or float64, one dtype per call, aligned and native-endian, C-contiguous where
the contract says "contig", shapes and sizes, axes, ndim), raises TypeError
(dtype) or ValueError (anything else) with a message that starts with the
function name, then passes raw pointers to the C kernels in csrc/, without
the GIL when the work is large enough. A gradient output given as None is
skipped. No arithmetic on array data happens here.
"""
# SPDX-License-Identifier: MIT

cimport numpy as cnp
from libc.stdint cimport int64_t
from cpython.pycapsule cimport PyCapsule_New
from operator import index as _index

cnp.import_array()

# Release the GIL only for calls touching at least this many elements.
cdef enum:
    NOGIL_MIN = 16384
    F32 = cnp.NPY_FLOAT
    F64 = cnp.NPY_DOUBLE
    CONTIG = 1      # must be C-contiguous
    WRITE = 2       # must be writable (an output)
    NEED_X = 1      # unary backward reads x
    NEED_Y = 2      # unary backward reads y


# ---- argument checks --------------------------------------------------------

cdef str _tname(int t):
    return "float32" if t == F32 else "float64"


cdef int _check(str fn, object x, str name, int t, int req) except -1:
    """Check one float array argument; return its type number. t is the
    dtype the call already has (-1 for the first array)."""
    if not cnp.PyArray_Check(x):
        raise TypeError(f"{fn}: {name} must be a numpy.ndarray, got {type(x).__name__}")
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef int xt = cnp.PyArray_TYPE(a)
    if xt != F32 and xt != F64:
        raise TypeError(f"{fn}: expected float32 or float64, got {a.dtype} for {name}")
    if t >= 0 and xt != t:
        raise TypeError(f"{fn}: dtype mismatch: {name} is {a.dtype}, expected {_tname(t)} "
                        f"like the other arrays")
    if not cnp.PyArray_ISALIGNED(a) or not cnp.PyArray_ISNOTSWAPPED(a):
        raise ValueError(f"{fn}: {name} must be aligned and in native byte order")
    if (req & CONTIG) and not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"{fn}: {name} must be C-contiguous")
    if (req & WRITE) and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{fn}: {name} must be writable")
    return xt


cdef int _same_shape(str fn, object x, str name, object ref, str refname) except -1:
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef cnp.ndarray r = <cnp.ndarray>ref
    cdef int nd = cnp.PyArray_NDIM(a)
    cdef int i
    if nd == cnp.PyArray_NDIM(r):
        for i in range(nd):
            if cnp.PyArray_DIMS(a)[i] != cnp.PyArray_DIMS(r)[i]:
                break
        else:
            return 0
    raise ValueError(f"{fn}: {name} has shape {x.shape}, expected {ref.shape} (the shape of {refname})")


cdef int _ndim_ok(str fn, object x, str name) except -1:
    cdef int nd = cnp.PyArray_NDIM(<cnp.ndarray>x)
    if nd > CG_MAX_NDIM:
        raise ValueError(f"{fn}: {name} has {nd} dimensions; at most {CG_MAX_NDIM} are supported")
    return nd


cdef int _elem_strides(str fn, object x, str name, int64_t *out) except -1:
    """Byte strides of x in elements (NumPy strides are in bytes)."""
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef int64_t item = cnp.PyArray_ITEMSIZE(a)
    cdef int i
    for i in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_STRIDES(a)[i] % item != 0:
            raise ValueError(f"{fn}: {name} has strides {x.strides} that are not a multiple "
                             f"of its item size {item}")
        out[i] = cnp.PyArray_STRIDES(a)[i] // item
    return 0


cdef int _status(str fn, int st) except -1:
    if st == CG_OK:
        return 0
    if st == CG_ENOMEM:
        raise MemoryError(f"{fn}: could not allocate the packing workspace")
    raise ValueError(f"{fn}: invalid sizes passed to the kernel (status {st})")


cdef inline void *_data(object x):
    return cnp.PyArray_DATA(<cnp.ndarray>x)


cdef inline int64_t _size(object x):
    return cnp.PyArray_SIZE(<cnp.ndarray>x)


# ---- threads and configuration ---------------------------------------------

def set_num_threads(n):
    """Threads used by the kernels (clamped to 256)."""
    cdef long v = _index(n)
    if v < 1:
        raise ValueError(f"set_num_threads: expected a positive count, got {v}")
    cg_set_num_threads(<int>min(v, 1 << 20))


def get_num_threads():
    return cg_get_num_threads()


def config():
    """{"openmp": bool, "simd": "avx512"|"avx2"|"generic", "num_threads": int}"""
    return {"openmp": bool(cg_have_openmp()),
            "simd": cg_isa_name(cg_get_isa()).decode(),
            "num_threads": cg_get_num_threads()}


def _set_simd(str name):
    """Testing aid: cap the GEMM micro-kernel ISA at run time ("generic",
    "avx2", "avx512"); returns the ISA actually selected."""
    cdef int isa
    if name == "generic":
        isa = CG_ISA_GENERIC
    elif name == "avx2":
        isa = CG_ISA_AVX2
    elif name == "avx512":
        isa = CG_ISA_AVX512
    else:
        raise ValueError(f"_set_simd: unknown ISA {name!r}; choose generic, avx2 or avx512")
    return cg_isa_name(cg_set_isa(isa)).decode()


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
                st = f32(<float *>q.out, <const float *>q.a, <const float *>q.b, q.ndim, q.shape, q.sa, q.sb)
        else:
            st = f32(<float *>q.out, <const float *>q.a, <const float *>q.b, q.ndim, q.shape, q.sa, q.sb)
    else:
        if q.n >= NOGIL_MIN:
            with nogil:
                st = f64(<double *>q.out, <const double *>q.a, <const double *>q.b, q.ndim, q.shape, q.sa, q.sb)
        else:
            st = f64(<double *>q.out, <const double *>q.a, <const double *>q.b, q.ndim, q.shape, q.sa, q.sb)
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
    _bin_bwd("add_backward", da, db, dout, a, b, out, False, False, cg_add_backward_f32, cg_add_backward_f64)

def sub_forward(out, a, b):
    _bin_fwd("sub_forward", out, a, b, cg_sub_forward_f32, cg_sub_forward_f64)
def sub_backward(da, db, dout, a, b, out):
    _bin_bwd("sub_backward", da, db, dout, a, b, out, False, False, cg_sub_backward_f32, cg_sub_backward_f64)

def mul_forward(out, a, b):
    _bin_fwd("mul_forward", out, a, b, cg_mul_forward_f32, cg_mul_forward_f64)
def mul_backward(da, db, dout, a, b, out):
    _bin_bwd("mul_backward", da, db, dout, a, b, out, True, False, cg_mul_backward_f32, cg_mul_backward_f64)

def div_forward(out, a, b):
    _bin_fwd("div_forward", out, a, b, cg_div_forward_f32, cg_div_forward_f64)
def div_backward(da, db, dout, a, b, out):
    _bin_bwd("div_backward", da, db, dout, a, b, out, True, True, cg_div_backward_f32, cg_div_backward_f64)

def pow_forward(out, a, b):
    _bin_fwd("pow_forward", out, a, b, cg_pow_forward_f32, cg_pow_forward_f64)
def pow_backward(da, db, dout, a, b, out):
    _bin_bwd("pow_backward", da, db, dout, a, b, out, True, True, cg_pow_backward_f32, cg_pow_backward_f64)


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


# ---- reductions ------------------------------------------------------------------

cdef enum:
    R_SUM_F = 0
    R_SUM_B = 1
    R_MEAN_F = 2
    R_MEAN_B = 3
    R_AMAX_F = 4
    R_AMAX_B = 5

cdef struct Reduce:
    int t
    int op
    int64_t ndim
    int64_t shape[CG_MAX_NDIM]
    int64_t axes[CG_MAX_NDIM]
    int64_t naxes
    int64_t work
    void *dst     # out (forward) or dx (backward)
    void *src     # x (forward) or dout (backward)
    void *x       # amax backward
    void *o       # amax backward: out


cdef int _reduce_plan(str fn, object x, str xname, object axes, object small, str sname,
                      Reduce *r) except -1:
    """Shape of x, checked axes, and small.size == product of the kept dims.
    Returns the reduced element count through r.work (x.size)."""
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef int64_t kept = 1
    cdef int64_t i, v, prev = -1
    cdef bint red
    r.ndim = _ndim_ok(fn, x, xname)
    if not isinstance(axes, (tuple, list)):
        raise TypeError(f"{fn}: axes must be a tuple of ints, got {type(axes).__name__}")
    r.naxes = len(axes)
    if r.naxes == 0:
        raise ValueError(f"{fn}: axes must not be empty")
    if r.naxes > r.ndim:
        raise ValueError(f"{fn}: axes {tuple(axes)} out of range for ndim {r.ndim}")
    for i in range(r.naxes):
        try:
            v = _index(axes[i])
        except TypeError:
            raise TypeError(f"{fn}: axes must be ints, got {axes!r}") from None
        if v < 0 or v >= r.ndim:
            raise ValueError(f"{fn}: axis {v} out of range for ndim {r.ndim}")
        if v <= prev:
            raise ValueError(f"{fn}: axes must be sorted and distinct, got {tuple(axes)}")
        r.axes[i] = v
        prev = v
    v = 0
    for i in range(r.ndim):
        r.shape[i] = cnp.PyArray_DIMS(a)[i]
        red = v < r.naxes and r.axes[v] == i
        if red:
            v += 1
        else:
            kept *= r.shape[i]
    if _size(small) != kept:
        raise ValueError(f"{fn}: {sname} has size {_size(small)} (shape {small.shape}), expected "
                         f"{kept}: the kept dims of {xname} {x.shape} over axes {tuple(axes)}")
    r.work = _size(x)
    return 0


cdef int _reduce_call(Reduce *r) noexcept nogil:
    if r.t == F32:
        if r.op == R_SUM_F:
            return cg_sum_forward_f32(<float *>r.dst, <const float *>r.src, r.ndim, r.shape, r.axes, r.naxes)
        if r.op == R_SUM_B:
            return cg_sum_backward_f32(<float *>r.dst, <const float *>r.src, r.ndim, r.shape, r.axes, r.naxes)
        if r.op == R_MEAN_F:
            return cg_mean_forward_f32(<float *>r.dst, <const float *>r.src, r.ndim, r.shape, r.axes, r.naxes)
        if r.op == R_MEAN_B:
            return cg_mean_backward_f32(<float *>r.dst, <const float *>r.src, r.ndim, r.shape, r.axes, r.naxes)
        if r.op == R_AMAX_F:
            return cg_amax_forward_f32(<float *>r.dst, <const float *>r.src, r.ndim, r.shape, r.axes, r.naxes)
        return cg_amax_backward_f32(<float *>r.dst, <const float *>r.src, <const float *>r.x,
                                    <const float *>r.o, r.ndim, r.shape, r.axes, r.naxes)
    if r.op == R_SUM_F:
        return cg_sum_forward_f64(<double *>r.dst, <const double *>r.src, r.ndim, r.shape, r.axes, r.naxes)
    if r.op == R_SUM_B:
        return cg_sum_backward_f64(<double *>r.dst, <const double *>r.src, r.ndim, r.shape, r.axes, r.naxes)
    if r.op == R_MEAN_F:
        return cg_mean_forward_f64(<double *>r.dst, <const double *>r.src, r.ndim, r.shape, r.axes, r.naxes)
    if r.op == R_MEAN_B:
        return cg_mean_backward_f64(<double *>r.dst, <const double *>r.src, r.ndim, r.shape, r.axes, r.naxes)
    if r.op == R_AMAX_F:
        return cg_amax_forward_f64(<double *>r.dst, <const double *>r.src, r.ndim, r.shape, r.axes, r.naxes)
    return cg_amax_backward_f64(<double *>r.dst, <const double *>r.src, <const double *>r.x,
                                <const double *>r.o, r.ndim, r.shape, r.axes, r.naxes)


cdef int _reduce_run(str fn, Reduce *r) except -1:
    cdef int st
    if r.work < NOGIL_MIN:
        st = _reduce_call(r)
    else:
        with nogil:
            st = _reduce_call(r)
    return _status(fn, st)


cdef int _empty_group_check(str fn, Reduce *r, object out) except -1:
    """amax over an empty group is an error (as torch)."""
    cdef int64_t i
    if _size(out) == 0:
        return 0
    for i in range(r.naxes):
        if r.shape[r.axes[i]] == 0:
            raise ValueError(f"{fn}: cannot take the max over an empty group "
                             f"(axis {r.axes[i]} has size 0)")
    return 0


cdef object _reduce_fwd(str fn, int op, object out, object x, object axes):
    cdef Reduce r
    r.op = op
    r.t = _check(fn, out, "out", -1, CONTIG | WRITE)
    _check(fn, x, "x", r.t, CONTIG)
    _reduce_plan(fn, x, "x", axes, out, "out", &r)
    if op == R_AMAX_F:
        _empty_group_check(fn, &r, out)
    r.dst = _data(out)
    r.src = _data(x)
    _reduce_run(fn, &r)


cdef object _reduce_bwd(str fn, int op, object dx, object dout, object axes):
    cdef Reduce r
    if dx is None:                   # nothing to do; still check what was given
        _check(fn, dout, "dout", -1, CONTIG)
        return
    r.op = op
    r.t = _check(fn, dx, "dx", -1, CONTIG | WRITE)
    _check(fn, dout, "dout", r.t, CONTIG)
    _reduce_plan(fn, dx, "dx", axes, dout, "dout", &r)
    r.dst = _data(dx)
    r.src = _data(dout)
    _reduce_run(fn, &r)


def sum_forward(out, x, axes):
    _reduce_fwd("sum_forward", R_SUM_F, out, x, axes)
def sum_backward(dx, dout, axes):
    _reduce_bwd("sum_backward", R_SUM_B, dx, dout, axes)

def mean_forward(out, x, axes):
    _reduce_fwd("mean_forward", R_MEAN_F, out, x, axes)
def mean_backward(dx, dout, axes):
    _reduce_bwd("mean_backward", R_MEAN_B, dx, dout, axes)

def amax_forward(out, x, axes):
    _reduce_fwd("amax_forward", R_AMAX_F, out, x, axes)

def amax_backward(dx, dout, x, out, axes):
    cdef str fn = "amax_backward"
    cdef Reduce r
    if dx is None:                   # nothing to do; still check what was given
        r.t = _check(fn, dout, "dout", -1, CONTIG)
        _check(fn, x, "x", r.t, CONTIG)
        _check(fn, out, "out", r.t, CONTIG)
        return
    r.op = R_AMAX_B
    r.t = _check(fn, dx, "dx", -1, CONTIG | WRITE)
    _check(fn, dout, "dout", r.t, CONTIG)
    _check(fn, x, "x", r.t, CONTIG)
    _check(fn, out, "out", r.t, CONTIG)
    _same_shape(fn, x, "x", dx, "dx")
    _reduce_plan(fn, dx, "dx", axes, dout, "dout", &r)
    if _size(out) != _size(dout):
        raise ValueError(f"{fn}: out has size {_size(out)}, expected {_size(dout)} (the size of dout)")
    _empty_group_check(fn, &r, out)
    r.dst = _data(dx)
    r.src = _data(dout)
    r.x = _data(x)
    r.o = _data(out)
    _reduce_run(fn, &r)


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
            cg_softmax_backward_f32(<float *>s.dst, <const float *>s.src, <const float *>s.y, s.outer, s.n, s.inner)
        elif s.op == 2:
            cg_log_softmax_forward_f32(<float *>s.dst, <const float *>s.src, s.outer, s.n, s.inner)
        else:
            cg_log_softmax_backward_f32(<float *>s.dst, <const float *>s.src, <const float *>s.y, s.outer, s.n, s.inner)
    else:
        if s.op == 0:
            cg_softmax_forward_f64(<double *>s.dst, <const double *>s.src, s.outer, s.n, s.inner)
        elif s.op == 1:
            cg_softmax_backward_f64(<double *>s.dst, <const double *>s.src, <const double *>s.y, s.outer, s.n, s.inner)
        elif s.op == 2:
            cg_log_softmax_forward_f64(<double *>s.dst, <const double *>s.src, s.outer, s.n, s.inner)
        else:
            cg_log_softmax_backward_f64(<double *>s.dst, <const double *>s.src, <const double *>s.y, s.outer, s.n, s.inner)


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


# ---- matmul ------------------------------------------------------------------------

cdef struct Matmul:
    int t
    int naive
    int64_t Bo, Ba, Bb, M, N, K
    int ta, tb, acc
    void *out
    void *a
    void *b


cdef bint _overlap(object x, object y):
    """Whether two contiguous arrays share any byte."""
    cdef char *xs = <char *>_data(x)
    cdef char *ys = <char *>_data(y)
    cdef int64_t xn = cnp.PyArray_NBYTES(<cnp.ndarray>x)
    cdef int64_t yn = cnp.PyArray_NBYTES(<cnp.ndarray>y)
    return xn > 0 and yn > 0 and xs < ys + yn and ys < xs + xn


cdef int _matmul_args(str fn, object out, object a, object b, bint ta, bint tb, bint acc,
                      Matmul *m) except -1:
    cdef cnp.npy_intp *da
    cdef cnp.npy_intp *db
    cdef cnp.npy_intp *do
    cdef int64_t B, K2
    m.t = _check(fn, out, "out", -1, CONTIG | WRITE)
    _check(fn, a, "a", m.t, CONTIG)
    _check(fn, b, "b", m.t, CONTIG)
    cdef int nd = cnp.PyArray_NDIM(<cnp.ndarray>out)
    if ((nd != 3 and nd != 2) or cnp.PyArray_NDIM(<cnp.ndarray>a) != nd
            or cnp.PyArray_NDIM(<cnp.ndarray>b) != nd):
        raise ValueError(f"{fn}: out, a and b must be all 3-D or all 2-D, got shapes "
                         f"{out.shape}, {a.shape}, {b.shape}")
    da = cnp.PyArray_DIMS(<cnp.ndarray>a)
    db = cnp.PyArray_DIMS(<cnp.ndarray>b)
    do = cnp.PyArray_DIMS(<cnp.ndarray>out)
    if nd == 3:
        m.Ba = da[0]
        m.Bb = db[0]
        m.Bo = do[0]
        da += 1
        db += 1
        do += 1
    else:       # 2-D: one product
        m.Ba = m.Bb = m.Bo = 1
    m.M = da[1] if ta else da[0]
    m.K = da[0] if ta else da[1]
    K2 = db[0] if not tb else db[1]
    m.N = db[0] if tb else db[1]
    if K2 != m.K:
        raise ValueError(f"{fn}: inner dimensions differ: a {a.shape} (trans_a={bool(ta)}) and "
                         f"b {b.shape} (trans_b={bool(tb)})")
    if do[0] != m.M or do[1] != m.N:
        raise ValueError(f"{fn}: out has shape {out.shape}, expected ({m.Bo}, {m.M}, {m.N}) for "
                         f"a {a.shape} (trans_a={bool(ta)}) and b {b.shape} (trans_b={bool(tb)})")
    B = max(m.Ba, m.Bb, m.Bo)
    if (m.Ba != 1 and m.Ba != B) or (m.Bb != 1 and m.Bb != B) or (m.Bo != 1 and m.Bo != B):
        raise ValueError(f"{fn}: batch sizes {m.Bo} (out), {m.Ba} (a), {m.Bb} (b) must each be "
                         f"1 or {B}")
    if _overlap(out, a) or _overlap(out, b):
        raise ValueError(f"{fn}: out must not share memory with a or b")
    m.ta = ta
    m.tb = tb
    m.acc = acc
    m.out = _data(out)
    m.a = _data(a)
    m.b = _data(b)
    return 0


cdef int _matmul_call(Matmul *m) noexcept nogil:
    if m.naive:
        if m.t == F32:
            cg_gemm_naive_f32(<float *>m.out, <const float *>m.a, <const float *>m.b,
                              m.M, m.N, m.K, m.ta, m.tb, m.acc)
        else:
            cg_gemm_naive_f64(<double *>m.out, <const double *>m.a, <const double *>m.b,
                              m.M, m.N, m.K, m.ta, m.tb, m.acc)
        return CG_OK
    if m.t == F32:
        return cg_matmul_f32(<float *>m.out, <const float *>m.a, <const float *>m.b,
                             m.Bo, m.Ba, m.Bb, m.M, m.N, m.K, m.ta, m.tb, m.acc)
    return cg_matmul_f64(<double *>m.out, <const double *>m.a, <const double *>m.b,
                         m.Bo, m.Ba, m.Bb, m.M, m.N, m.K, m.ta, m.tb, m.acc)


def matmul(out, a, b, bint trans_a, bint trans_b, bint accumulate):
    """for i in range(B): out[i % Bo] (+)= op(a[i % Ba]) @ op(b[i % Bb])"""
    cdef Matmul m
    cdef int st
    _matmul_args("matmul", out, a, b, trans_a, trans_b, accumulate, &m)
    m.naive = 0
    if max(m.Ba, m.Bb, m.Bo) * m.M * m.N * m.K < NOGIL_MIN:
        st = _matmul_call(&m)
    else:
        with nogil:
            st = _matmul_call(&m)
    _status("matmul", st)


def _gemm_naive(out, a, b, bint trans_a, bint trans_b, bint accumulate):
    """Testing aid: the naive reference kernel, for batch sizes of 1 only."""
    cdef Matmul m
    _matmul_args("_gemm_naive", out, a, b, trans_a, trans_b, accumulate, &m)
    if m.Ba != 1 or m.Bb != 1 or m.Bo != 1:
        raise ValueError("_gemm_naive: batch sizes must be 1")
    m.naive = 1
    with nogil:
        _matmul_call(&m)


def _gemm_capsules():
    """(cg_gemm_f32, cg_gemm_f64) as PyCapsules, for the compiled tape
    (_tape.pyx), which calls them directly on 2-D operands it has checked."""
    return (PyCapsule_New(<void *>cg_gemm_f32, b"cgrad.cg_gemm_f32", NULL),
            PyCapsule_New(<void *>cg_gemm_f64, b"cgrad.cg_gemm_f64", NULL))


# ---- scatter-add -----------------------------------------------------------------

cdef int _index_add_call(int t, void *dx, const int64_t *idx, void *src, int64_t R, int64_t D,
                         int64_t n) noexcept nogil:
    if t == F32:
        return cg_index_add_f32(<float *>dx, idx, <const float *>src, R, D, n)
    return cg_index_add_f64(<double *>dx, idx, <const double *>src, R, D, n)


def index_add(dx, idx, src):
    """for i in range(n): dx[idx[i], :] += src[i, :]  (in order; repeats accumulate)"""
    cdef str fn = "index_add"
    cdef int t = _check(fn, dx, "dx", -1, CONTIG | WRITE)
    cdef int st
    cdef int64_t R, D, n
    _check(fn, src, "src", t, CONTIG)
    if not cnp.PyArray_Check(idx) or cnp.PyArray_TYPE(<cnp.ndarray>idx) != cnp.NPY_INT64:
        raise TypeError(f"{fn}: idx must be an int64 ndarray, got "
                        f"{getattr(idx, 'dtype', type(idx).__name__)}")
    if (cnp.PyArray_NDIM(<cnp.ndarray>idx) != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>idx)
            or not cnp.PyArray_ISALIGNED(<cnp.ndarray>idx)
            or not cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>idx)):
        raise ValueError(f"{fn}: idx must be a 1-D contiguous native int64 array, got shape {idx.shape}")
    if cnp.PyArray_NDIM(<cnp.ndarray>dx) != 2 or cnp.PyArray_NDIM(<cnp.ndarray>src) != 2:
        raise ValueError(f"{fn}: expected dx (R, D), src (n, D), idx (n,); got dx {dx.shape}, "
                         f"src {src.shape}, idx {idx.shape}")
    R = cnp.PyArray_DIMS(<cnp.ndarray>dx)[0]
    D = cnp.PyArray_DIMS(<cnp.ndarray>dx)[1]
    n = cnp.PyArray_DIMS(<cnp.ndarray>idx)[0]
    if cnp.PyArray_DIMS(<cnp.ndarray>src)[0] != n or cnp.PyArray_DIMS(<cnp.ndarray>src)[1] != D:
        raise ValueError(f"{fn}: expected dx (R, D), src (n, D), idx (n,); got dx {dx.shape}, "
                         f"src {src.shape}, idx {idx.shape}")
    cdef void *dp = _data(dx)
    cdef const int64_t *ip = <const int64_t *>_data(idx)
    cdef void *sp = _data(src)
    if n * D < NOGIL_MIN:
        st = _index_add_call(t, dp, ip, sp, R, D, n)
    else:
        with nogil:
            st = _index_add_call(t, dp, ip, sp, R, D, n)
    if st == CG_EINDEX:
        raise IndexError(f"{fn}: an index is out of range for {R} rows")
    _status(fn, st)


# ==== nn, losses and optimizers (issue 3) ==========================================

cdef int _opt(str fn, object x, str name, int t, int req) except -2:
    """_check for an argument that may be None (returns -1 for None)."""
    if x is None:
        return -1
    return _check(fn, x, name, t, req)


cdef int _dims(str fn, object x, str name, int nd, int64_t d0, int64_t d1) except -1:
    """x has ndim nd (0, 1 or 2) and dims (d0, d1)[:nd]."""
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef bint ok = cnp.PyArray_NDIM(a) == nd
    if ok and nd >= 1:
        ok = cnp.PyArray_DIMS(a)[0] == d0
    if ok and nd >= 2:
        ok = cnp.PyArray_DIMS(a)[1] == d1
    if not ok:
        want = (d0, d1)[:nd]
        raise ValueError(f"{fn}: {name} has shape {x.shape}, expected {want}")
    return 0


cdef int _is2d(str fn, object x, str name, str dims) except -1:
    if cnp.PyArray_NDIM(<cnp.ndarray>x) != 2:
        raise ValueError(f"{fn}: {name} must be 2-D {dims}, got shape {x.shape}")
    return 0


cdef int _code(str fn, object v, str name, int hi) except -1:
    """An int flag in [0, hi] (act, reduction)."""
    cdef Py_ssize_t c
    try:
        c = _index(v)
    except TypeError:
        raise TypeError(f"{fn}: {name} must be an int, got {type(v).__name__}") from None
    if c < 0 or c > hi:
        raise ValueError(f"{fn}: {name} must be an int in 0..{hi}, got {c}")
    return <int>c


cdef double _float(str fn, object v, str name) except? -1:
    try:
        return v
    except TypeError:
        raise TypeError(f"{fn}: {name} must be a float, got {type(v).__name__}") from None


cdef int _no_overlap(str fn, object x, str xname, object y, str yname) except -1:
    if x is not None and y is not None and _overlap(x, y):
        raise ValueError(f"{fn}: {xname} must not share memory with {yname}")
    return 0


cdef int64_t _ignore(str fn, object v) except? -1:
    cdef object i
    try:
        i = _index(v)
    except TypeError:
        raise TypeError(f"{fn}: ignore_index must be an int, got {type(v).__name__}") from None
    if not (-(1 << 63) <= i < (1 << 63)):
        raise ValueError(f"{fn}: ignore_index {i} does not fit in int64")
    return <int64_t>i


cdef const int64_t *_targets(str fn, object target, int64_t N, int64_t C, int64_t ignore,
                             bint check_range) except NULL:
    """target: int64 (N,) contiguous; every entry in [0, C) or == ignore
    (IndexError naming the first bad value otherwise)."""
    cdef const int64_t *tp
    cdef int64_t i, bad = -1
    if not cnp.PyArray_Check(target) or cnp.PyArray_TYPE(<cnp.ndarray>target) != cnp.NPY_INT64:
        raise TypeError(f"{fn}: target must be an int64 ndarray, got "
                        f"{getattr(target, 'dtype', type(target).__name__)}")
    if (not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>target)
            or not cnp.PyArray_ISALIGNED(<cnp.ndarray>target)
            or not cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>target)):
        raise ValueError(f"{fn}: target must be a contiguous native int64 array")
    _dims(fn, target, "target", 1, N, 0)
    tp = <const int64_t *>_data(target)
    if check_range:
        with nogil:
            for i in range(N):
                if tp[i] != ignore and (tp[i] < 0 or tp[i] >= C):
                    bad = i
                    break
        if bad >= 0:
            raise IndexError(f"{fn}: target {tp[bad]} (at row {bad}) is out of range for {C} "
                             f"classes (expected 0 <= target < {C} or ignore_index {ignore})")
    return tp


cdef int _loss_status(str fn, int st) except -1:
    if st == CG_EINDEX:
        raise IndexError(f"{fn}: a target is out of range")
    return _status(fn, st)


# ---- linear with a fused activation ---------------------------------------------

cdef struct Linear:
    int t
    int act
    int acc
    int64_t N, IN, OUT
    void *y
    void *z
    void *x
    void *w
    void *b
    void *dx
    void *dw
    void *db
    void *dy
    void *scratch


cdef int _linear_fwd_call(Linear *L) noexcept nogil:
    if L.t == F32:
        return cg_linear_forward_f32(<float *>L.y, <float *>L.z, <const float *>L.x, <const float *>L.w,
                                     <const float *>L.b, L.N, L.IN, L.OUT, L.act)
    return cg_linear_forward_f64(<double *>L.y, <double *>L.z, <const double *>L.x, <const double *>L.w,
                                 <const double *>L.b, L.N, L.IN, L.OUT, L.act)


cdef int _linear_bwd_call(Linear *L) noexcept nogil:
    if L.t == F32:
        return cg_linear_backward_f32(<float *>L.dx, <float *>L.dw, <float *>L.db, <const float *>L.dy,
                                      <const float *>L.x, <const float *>L.w, <const float *>L.z,
                                      <const float *>L.y, <float *>L.scratch, L.N, L.IN, L.OUT, L.act, L.acc)
    return cg_linear_backward_f64(<double *>L.dx, <double *>L.dw, <double *>L.db, <const double *>L.dy,
                                  <const double *>L.x, <const double *>L.w, <const double *>L.z,
                                  <const double *>L.y, <double *>L.scratch, L.N, L.IN, L.OUT, L.act, L.acc)


cdef int _linear_xw(str fn, object x, object w, Linear *L) except -1:
    """x (N, IN) and w (OUT, IN): sets N, IN, OUT."""
    _check(fn, x, "x", L.t, CONTIG)
    _check(fn, w, "w", L.t, CONTIG)
    _is2d(fn, x, "x", "(N, IN)")
    _is2d(fn, w, "w", "(OUT, IN)")
    L.N = cnp.PyArray_DIMS(<cnp.ndarray>x)[0]
    L.IN = cnp.PyArray_DIMS(<cnp.ndarray>x)[1]
    L.OUT = cnp.PyArray_DIMS(<cnp.ndarray>w)[0]
    if cnp.PyArray_DIMS(<cnp.ndarray>w)[1] != L.IN:
        raise ValueError(f"{fn}: w has shape {w.shape}, expected (OUT, {L.IN}) to match "
                         f"x {x.shape}")
    L.x = _data(x)
    L.w = _data(w)
    return 0


def linear_forward(y, z, x, w, b, act):
    """z = x @ w.T + b;  y = act(z)  (act: 0 none, 1 relu, 2 gelu, 3 gelu tanh)."""
    cdef str fn = "linear_forward"
    cdef Linear L
    cdef int st
    L.t = _check(fn, y, "y", -1, CONTIG | WRITE)
    _linear_xw(fn, x, w, &L)
    _dims(fn, y, "y", 2, L.N, L.OUT)
    L.act = _code(fn, act, "act", 3)
    L.b = NULL
    if _opt(fn, b, "b", L.t, CONTIG) >= 0:
        _dims(fn, b, "b", 1, L.OUT, 0)
        L.b = _data(b)
    L.z = NULL
    if _opt(fn, z, "z", L.t, CONTIG | WRITE) >= 0:
        _dims(fn, z, "z", 2, L.N, L.OUT)
        L.z = _data(z)
    elif L.act >= CG_ACT_GELU:
        raise ValueError(f"{fn}: z is required for act {L.act} (gelu's backward reads z)")
    for o, oname in ((y, "y"), (z, "z")):
        _no_overlap(fn, o, oname, x, "x")
        _no_overlap(fn, o, oname, w, "w")
        _no_overlap(fn, o, oname, b, "b")
    _no_overlap(fn, y, "y", z, "z")
    L.y = _data(y)
    if L.N * L.OUT * max(L.IN, 1) < NOGIL_MIN:
        st = _linear_fwd_call(&L)
    else:
        with nogil:
            st = _linear_fwd_call(&L)
    _status(fn, st)


def linear_backward(dx, dw, db, dy, x, w, z, y, act, scratch, bint accumulate=True):
    """dz = dy * act'(z) (into scratch unless act == 0);
    dx += dz @ w;  dw += dz.T @ x;  db += dz.sum(0)
    (accumulate=False: dx, dw, db are overwritten, never read)."""
    cdef str fn = "linear_backward"
    cdef Linear L
    cdef int st
    L.acc = accumulate
    L.t = _check(fn, dy, "dy", -1, CONTIG)
    _linear_xw(fn, x, w, &L)
    _dims(fn, dy, "dy", 2, L.N, L.OUT)
    L.act = _code(fn, act, "act", 3)
    L.dy = _data(dy)
    L.z = NULL
    L.y = NULL
    L.dx = NULL
    L.dw = NULL
    L.db = NULL
    L.scratch = NULL
    if _opt(fn, z, "z", L.t, CONTIG) >= 0:
        _dims(fn, z, "z", 2, L.N, L.OUT)
        L.z = _data(z)
    if _opt(fn, y, "y", L.t, CONTIG) >= 0:
        _dims(fn, y, "y", 2, L.N, L.OUT)
        L.y = _data(y)
    if _opt(fn, dx, "dx", L.t, CONTIG | WRITE) >= 0:
        _dims(fn, dx, "dx", 2, L.N, L.IN)
        L.dx = _data(dx)
    if _opt(fn, dw, "dw", L.t, CONTIG | WRITE) >= 0:
        _dims(fn, dw, "dw", 2, L.OUT, L.IN)
        L.dw = _data(dw)
    if _opt(fn, db, "db", L.t, CONTIG | WRITE) >= 0:
        _dims(fn, db, "db", 1, L.OUT, 0)
        L.db = _data(db)
    if _opt(fn, scratch, "scratch", L.t, CONTIG | WRITE) >= 0:
        _dims(fn, scratch, "scratch", 2, L.N, L.OUT)
        L.scratch = _data(scratch)
    if L.act == CG_ACT_RELU and y is None:
        raise ValueError(f"{fn}: y is required for act 1 (relu's backward reads y)")
    if L.act >= CG_ACT_GELU and z is None:
        raise ValueError(f"{fn}: z is required for act {L.act} (gelu's backward reads z)")
    if dx is None and dw is None and db is None:
        return
    if L.act != CG_ACT_NONE and scratch is None:
        raise ValueError(f"{fn}: scratch (N, OUT) is required for act {L.act}")
    for o, oname in ((dx, "dx"), (dw, "dw"), (db, "db"), (scratch, "scratch")):
        for i, iname in ((dy, "dy"), (x, "x"), (w, "w"), (z, "z"), (y, "y")):
            _no_overlap(fn, o, oname, i, iname)
    for o, oname in ((dx, "dx"), (dw, "dw"), (db, "db")):
        _no_overlap(fn, o, oname, scratch, "scratch")
    if L.N * L.OUT * max(L.IN, 1) < NOGIL_MIN:
        st = _linear_bwd_call(&L)
    else:
        with nogil:
            st = _linear_bwd_call(&L)
    _status(fn, st)


# ---- cross-entropy and NLL (class targets) ----------------------------------------

cdef struct Rows:
    int t
    int op          # 0 ce fwd, 1 ce bwd, 2 ce_prob fwd, 3 ce_prob bwd, 4 nll fwd, 5 nll bwd
    int64_t N, C, ignore
    void *out       # loss / dlogits / dx
    void *p
    void *src       # logits / dloss / x
    void *tf        # float target (ce_prob)
    const int64_t *ti


cdef int _rows_call(Rows *r) noexcept nogil:
    if r.t == F32:
        if r.op == 0:
            return cg_cross_entropy_forward_f32(<float *>r.out, <float *>r.p, <const float *>r.src, r.ti, r.N, r.C, r.ignore)
        if r.op == 1:
            return cg_cross_entropy_backward_f32(<float *>r.out, <const float *>r.src, <const float *>r.p, r.ti, r.N, r.C, r.ignore)
        if r.op == 2:
            return cg_cross_entropy_prob_forward_f32(<float *>r.out, <float *>r.p, <const float *>r.src, <const float *>r.tf, r.N, r.C)
        if r.op == 3:
            return cg_cross_entropy_prob_backward_f32(<float *>r.out, <const float *>r.src, <const float *>r.p, <const float *>r.tf, r.N, r.C)
        if r.op == 4:
            return cg_nll_forward_f32(<float *>r.out, <const float *>r.src, r.ti, r.N, r.C, r.ignore)
        return cg_nll_backward_f32(<float *>r.out, <const float *>r.src, r.ti, r.N, r.C, r.ignore)
    if r.op == 0:
        return cg_cross_entropy_forward_f64(<double *>r.out, <double *>r.p, <const double *>r.src, r.ti, r.N, r.C, r.ignore)
    if r.op == 1:
        return cg_cross_entropy_backward_f64(<double *>r.out, <const double *>r.src, <const double *>r.p, r.ti, r.N, r.C, r.ignore)
    if r.op == 2:
        return cg_cross_entropy_prob_forward_f64(<double *>r.out, <double *>r.p, <const double *>r.src, <const double *>r.tf, r.N, r.C)
    if r.op == 3:
        return cg_cross_entropy_prob_backward_f64(<double *>r.out, <const double *>r.src, <const double *>r.p, <const double *>r.tf, r.N, r.C)
    if r.op == 4:
        return cg_nll_forward_f64(<double *>r.out, <const double *>r.src, r.ti, r.N, r.C, r.ignore)
    return cg_nll_backward_f64(<double *>r.out, <const double *>r.src, r.ti, r.N, r.C, r.ignore)


cdef int _rows_run(str fn, Rows *r) except -1:
    cdef int st
    if r.N * r.C < NOGIL_MIN:
        st = _rows_call(r)
    else:
        with nogil:
            st = _rows_call(r)
    return _loss_status(fn, st)


cdef int _rows_nc(str fn, object x, str name, Rows *r) except -1:
    """x (N, C): sets N and C."""
    _is2d(fn, x, name, "(N, C)")
    r.N = cnp.PyArray_DIMS(<cnp.ndarray>x)[0]
    r.C = cnp.PyArray_DIMS(<cnp.ndarray>x)[1]
    return 0


cdef object _ce_fwd(str fn, int op, object loss, object p, object logits, object target,
                    object ignore_index):
    cdef Rows r
    r.op = op
    r.t = _check(fn, loss, "loss", -1, CONTIG | WRITE)
    _check(fn, p, "p", r.t, CONTIG | WRITE)
    _check(fn, logits, "logits", r.t, CONTIG)
    _rows_nc(fn, logits, "logits", &r)
    _dims(fn, p, "p", 2, r.N, r.C)
    _dims(fn, loss, "loss", 1, r.N, 0)
    if op == 0:
        r.ignore = _ignore(fn, ignore_index)
        r.ti = _targets(fn, target, r.N, r.C, r.ignore, True)
        r.tf = NULL
    else:
        _check(fn, target, "target", r.t, CONTIG)
        _dims(fn, target, "target", 2, r.N, r.C)
        r.tf = _data(target)
        r.ti = NULL
    for i, iname in ((logits, "logits"), (target, "target")):
        _no_overlap(fn, loss, "loss", i, iname)
        _no_overlap(fn, p, "p", i, iname)
    _no_overlap(fn, loss, "loss", p, "p")
    r.out = _data(loss)
    r.p = _data(p)
    r.src = _data(logits)
    _rows_run(fn, &r)


cdef object _ce_bwd(str fn, int op, object dlogits, object dloss, object p, object target,
                    object ignore_index):
    cdef Rows r
    r.op = op
    r.t = _check(fn, p, "p", -1, CONTIG)
    _check(fn, dloss, "dloss", r.t, CONTIG)
    _rows_nc(fn, p, "p", &r)
    _dims(fn, dloss, "dloss", 1, r.N, 0)
    if op == 1:
        r.ignore = _ignore(fn, ignore_index)
        r.ti = _targets(fn, target, r.N, r.C, r.ignore, True)
        r.tf = NULL
    else:
        _check(fn, target, "target", r.t, CONTIG)
        _dims(fn, target, "target", 2, r.N, r.C)
        r.tf = _data(target)
        r.ti = NULL
    if dlogits is None:
        return
    _check(fn, dlogits, "dlogits", r.t, CONTIG | WRITE)
    _dims(fn, dlogits, "dlogits", 2, r.N, r.C)
    for i, iname in ((dloss, "dloss"), (p, "p"), (target, "target")):
        _no_overlap(fn, dlogits, "dlogits", i, iname)
    r.out = _data(dlogits)
    r.src = _data(dloss)
    r.p = _data(p)
    _rows_run(fn, &r)


def cross_entropy_forward(loss, p, logits, target, ignore_index):
    """loss_i = logsumexp(logits_i) - logits_i[t_i] (0 where t_i == ignore_index); p = softmax."""
    _ce_fwd("cross_entropy_forward", 0, loss, p, logits, target, ignore_index)
def cross_entropy_backward(dlogits, dloss, p, target, ignore_index):
    """dlogits_i += (p_i - onehot(t_i)) * dloss_i (ignored rows: nothing)."""
    _ce_bwd("cross_entropy_backward", 1, dlogits, dloss, p, target, ignore_index)

def cross_entropy_prob_forward(loss, p, logits, target):
    """loss_i = -sum_c target_ic log_softmax(logits_i)_c; p = softmax."""
    _ce_fwd("cross_entropy_prob_forward", 2, loss, p, logits, target, None)
def cross_entropy_prob_backward(dlogits, dloss, p, target):
    """dlogits_i += (p_i sum_c target_ic - target_i) * dloss_i."""
    _ce_bwd("cross_entropy_prob_backward", 3, dlogits, dloss, p, target, None)


def nll_forward(loss, x, target, ignore_index):
    """loss_i = -x[i, t_i] (0 where t_i == ignore_index)."""
    cdef str fn = "nll_forward"
    cdef Rows r
    r.op = 4
    r.t = _check(fn, loss, "loss", -1, CONTIG | WRITE)
    _check(fn, x, "x", r.t, CONTIG)
    _rows_nc(fn, x, "x", &r)
    _dims(fn, loss, "loss", 1, r.N, 0)
    r.ignore = _ignore(fn, ignore_index)
    r.ti = _targets(fn, target, r.N, r.C, r.ignore, True)
    _no_overlap(fn, loss, "loss", x, "x")
    r.out = _data(loss)
    r.src = _data(x)
    _rows_run(fn, &r)


def nll_backward(dx, dloss, target, ignore_index):
    """dx[i, t_i] -= dloss_i (ignored rows: nothing)."""
    cdef str fn = "nll_backward"
    cdef Rows r
    r.op = 5
    r.t = _check(fn, dloss, "dloss", -1, CONTIG)
    if cnp.PyArray_NDIM(<cnp.ndarray>dloss) != 1:
        raise ValueError(f"{fn}: dloss must be 1-D (N,), got shape {dloss.shape}")
    r.N = cnp.PyArray_DIMS(<cnp.ndarray>dloss)[0]
    r.ignore = _ignore(fn, ignore_index)
    if dx is None:                   # nothing to do; C is unknown, check the rest
        _targets(fn, target, r.N, 0, r.ignore, False)
        return
    _check(fn, dx, "dx", r.t, CONTIG | WRITE)
    _rows_nc(fn, dx, "dx", &r)
    if r.N != cnp.PyArray_DIMS(<cnp.ndarray>dloss)[0]:
        raise ValueError(f"{fn}: dx has shape {dx.shape}, expected ({dloss.shape[0]}, C) to "
                         f"match dloss {dloss.shape}")
    r.ti = _targets(fn, target, r.N, r.C, r.ignore, True)
    _no_overlap(fn, dx, "dx", dloss, "dloss")
    _no_overlap(fn, dx, "dx", target, "target")
    r.out = _data(dx)
    r.src = _data(dloss)
    _rows_run(fn, &r)


# ---- elementwise losses with a fused reduction --------------------------------------

ctypedef int (*lfwd32)(float *, const float *, const float *, int64_t, int) noexcept nogil
ctypedef int (*lfwd64)(double *, const double *, const double *, int64_t, int) noexcept nogil
ctypedef int (*lbwd32)(float *, float *, const float *, const float *, const float *, int64_t, int) noexcept nogil
ctypedef int (*lbwd64)(double *, double *, const double *, const double *, const double *, int64_t, int) noexcept nogil


cdef int _red_out(str fn, object out, str name, object x, int red) except -1:
    """out/dout: the shape of x for reduction 0, shape () for 1 and 2."""
    if red == CG_REDUCTION_NONE:
        return _same_shape(fn, out, name, x, "x")
    if cnp.PyArray_NDIM(<cnp.ndarray>out) != 0:
        raise ValueError(f"{fn}: {name} has shape {out.shape}, expected () for reduction {red}")
    return 0


cdef object _eloss_fwd(str fn, object out, object x, object t, object reduction,
                       lfwd32 f32, lfwd64 f64):
    cdef int st
    cdef int ty = _check(fn, out, "out", -1, CONTIG | WRITE)
    _check(fn, x, "x", ty, CONTIG)
    _check(fn, t, "t", ty, CONTIG)
    _same_shape(fn, t, "t", x, "x")
    cdef int red = _code(fn, reduction, "reduction", 2)
    _red_out(fn, out, "out", x, red)
    cdef int64_t n = _size(x)
    cdef void *o = _data(out)
    cdef void *xp = _data(x)
    cdef void *tp = _data(t)
    if ty == F32:
        if n < NOGIL_MIN:
            st = f32(<float *>o, <const float *>xp, <const float *>tp, n, red)
        else:
            with nogil:
                st = f32(<float *>o, <const float *>xp, <const float *>tp, n, red)
    else:
        if n < NOGIL_MIN:
            st = f64(<double *>o, <const double *>xp, <const double *>tp, n, red)
        else:
            with nogil:
                st = f64(<double *>o, <const double *>xp, <const double *>tp, n, red)
    _status(fn, st)


cdef object _eloss_bwd(str fn, object dx, object dt, object dout, object x, object t,
                       object reduction, lbwd32 f32, lbwd64 f64):
    cdef int st
    cdef int ty = _check(fn, dout, "dout", -1, CONTIG)
    _check(fn, x, "x", ty, CONTIG)
    _check(fn, t, "t", ty, CONTIG)
    _same_shape(fn, t, "t", x, "x")
    cdef int red = _code(fn, reduction, "reduction", 2)
    _red_out(fn, dout, "dout", x, red)
    cdef void *dxp = NULL
    cdef void *dtp = NULL
    if _opt(fn, dx, "dx", ty, CONTIG | WRITE) >= 0:
        _same_shape(fn, dx, "dx", x, "x")
        dxp = _data(dx)
    if _opt(fn, dt, "dt", ty, CONTIG | WRITE) >= 0:
        _same_shape(fn, dt, "dt", x, "x")
        dtp = _data(dt)
    if dx is None and dt is None:
        return
    _no_overlap(fn, dx, "dx", dt, "dt")
    cdef int64_t n = _size(x)
    cdef void *dp = _data(dout)
    cdef void *xp = _data(x)
    cdef void *tp = _data(t)
    if ty == F32:
        if n < NOGIL_MIN:
            st = f32(<float *>dxp, <float *>dtp, <const float *>dp, <const float *>xp, <const float *>tp, n, red)
        else:
            with nogil:
                st = f32(<float *>dxp, <float *>dtp, <const float *>dp, <const float *>xp, <const float *>tp, n, red)
    else:
        if n < NOGIL_MIN:
            st = f64(<double *>dxp, <double *>dtp, <const double *>dp, <const double *>xp, <const double *>tp, n, red)
        else:
            with nogil:
                st = f64(<double *>dxp, <double *>dtp, <const double *>dp, <const double *>xp, <const double *>tp, n, red)
    _status(fn, st)


def mse_forward(out, x, t, reduction):
    """l = (x - t)^2, reduced (0 none, 1 mean, 2 sum)."""
    _eloss_fwd("mse_forward", out, x, t, reduction, cg_mse_forward_f32, cg_mse_forward_f64)
def mse_backward(dx, dt, dout, x, t, reduction):
    _eloss_bwd("mse_backward", dx, dt, dout, x, t, reduction, cg_mse_backward_f32, cg_mse_backward_f64)

def l1_forward(out, x, t, reduction):
    """l = |x - t|, reduced (0 none, 1 mean, 2 sum)."""
    _eloss_fwd("l1_forward", out, x, t, reduction, cg_l1_forward_f32, cg_l1_forward_f64)
def l1_backward(dx, dt, dout, x, t, reduction):
    _eloss_bwd("l1_backward", dx, dt, dout, x, t, reduction, cg_l1_backward_f32, cg_l1_backward_f64)

def bce_forward(out, x, t, reduction):
    """l = -(t max(log x, -100) + (1 - t) max(log(1 - x), -100)), reduced."""
    _eloss_fwd("bce_forward", out, x, t, reduction, cg_bce_forward_f32, cg_bce_forward_f64)
def bce_backward(dx, dt, dout, x, t, reduction):
    _eloss_bwd("bce_backward", dx, dt, dout, x, t, reduction, cg_bce_backward_f32, cg_bce_backward_f64)

def bce_logits_forward(out, x, t, reduction):
    """l = max(x, 0) - x t + log1p(exp(-|x|)), reduced."""
    _eloss_fwd("bce_logits_forward", out, x, t, reduction, cg_bce_logits_forward_f32,
               cg_bce_logits_forward_f64)
def bce_logits_backward(dx, dt, dout, x, t, reduction):
    _eloss_bwd("bce_logits_backward", dx, dt, dout, x, t, reduction, cg_bce_logits_backward_f32,
               cg_bce_logits_backward_f64)


# ---- dropout -----------------------------------------------------------------------

cdef double _dropout_p(str fn, object p) except? -1:
    cdef double v = _float(fn, p, "p")
    if not (0 <= v < 1):
        raise ValueError(f"{fn}: p must satisfy 0 <= p < 1, got {v}")
    return v


cdef void _dropout_call(int t, bint bwd, void *dst, void *src, void *u, int64_t n, double p) noexcept nogil:
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


# ---- optimizer steps -----------------------------------------------------------------

cdef struct Step:
    int t
    int64_t n
    void *p
    void *g
    void *a         # buf (sgd) or m (adam)
    void *v
    double lr, momentum, dampening, weight_decay, beta1, beta2, eps
    int64_t step
    int nesterov, first, decoupled


cdef int _step_call(Step *s, bint adam) noexcept nogil:
    if adam:
        if s.t == F32:
            return cg_adam_step_f32(<float *>s.p, <const float *>s.g, <float *>s.a, <float *>s.v, s.n,
                                    s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, s.step, s.decoupled)
        return cg_adam_step_f64(<double *>s.p, <const double *>s.g, <double *>s.a, <double *>s.v, s.n,
                                s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, s.step, s.decoupled)
    if s.t == F32:
        return cg_sgd_step_f32(<float *>s.p, <const float *>s.g, <float *>s.a, s.n, s.lr, s.momentum,
                               s.dampening, s.weight_decay, s.nesterov, s.first)
    return cg_sgd_step_f64(<double *>s.p, <const double *>s.g, <double *>s.a, s.n, s.lr, s.momentum,
                           s.dampening, s.weight_decay, s.nesterov, s.first)


cdef int _step_run(str fn, Step *s, bint adam) except -1:
    cdef int st
    if s.n < NOGIL_MIN:
        st = _step_call(s, adam)
    else:
        with nogil:
            st = _step_call(s, adam)
    return _status(fn, st)


def sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    """torch.optim.SGD, one step in place (buf may be None when momentum == 0)."""
    cdef str fn = "sgd_step"
    cdef Step s
    s.t = _check(fn, p, "p", -1, CONTIG | WRITE)
    _check(fn, g, "g", s.t, CONTIG)
    _same_shape(fn, g, "g", p, "p")
    s.lr = _float(fn, lr, "lr")
    s.momentum = _float(fn, momentum, "momentum")
    s.dampening = _float(fn, dampening, "dampening")
    s.weight_decay = _float(fn, weight_decay, "weight_decay")
    s.nesterov = bool(nesterov)
    s.first = bool(first)
    s.a = NULL
    if _opt(fn, buf, "buf", s.t, CONTIG | WRITE) >= 0:
        _same_shape(fn, buf, "buf", p, "p")
        s.a = _data(buf)
    elif s.momentum != 0:
        raise ValueError(f"{fn}: buf is required when momentum != 0 (got momentum {s.momentum})")
    _no_overlap(fn, p, "p", g, "g")
    _no_overlap(fn, buf, "buf", p, "p")
    _no_overlap(fn, buf, "buf", g, "g")
    s.n = _size(p)
    s.p = _data(p)
    s.g = _data(g)
    _step_run(fn, &s, False)


def adam_step(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled):
    """torch.optim.Adam (decoupled=False) / AdamW (True), one step in place;
    step >= 1 is the step count after this update."""
    cdef str fn = "adam_step"
    cdef Step s
    cdef object k
    s.t = _check(fn, p, "p", -1, CONTIG | WRITE)
    _check(fn, g, "g", s.t, CONTIG)
    _check(fn, m, "m", s.t, CONTIG | WRITE)
    _check(fn, v, "v", s.t, CONTIG | WRITE)
    _same_shape(fn, g, "g", p, "p")
    _same_shape(fn, m, "m", p, "p")
    _same_shape(fn, v, "v", p, "p")
    s.lr = _float(fn, lr, "lr")
    s.beta1 = _float(fn, beta1, "beta1")
    s.beta2 = _float(fn, beta2, "beta2")
    s.eps = _float(fn, eps, "eps")
    s.weight_decay = _float(fn, weight_decay, "weight_decay")
    try:
        k = _index(step)
    except TypeError:
        raise TypeError(f"{fn}: step must be an int, got {type(step).__name__}") from None
    if not (1 <= k < (1 << 63)):
        raise ValueError(f"{fn}: step must be >= 1 (the count after this update), got {k}")
    s.step = <int64_t>k
    s.decoupled = bool(decoupled)
    for a, an in ((p, "p"), (g, "g"), (m, "m"), (v, "v")):
        for b, bn in ((p, "p"), (g, "g"), (m, "m"), (v, "v")):
            if an < bn:
                _no_overlap(fn, a, an, b, bn)
    s.n = _size(p)
    s.p = _data(p)
    s.g = _data(g)
    s.a = _data(m)
    s.v = _data(v)
    _step_run(fn, &s, True)


# ---- measured FMA peak (benchmark suite) -------------------------------------

def peak_gflops(dtype, n_threads, seconds):
    """GFLOP/s of register-resident FMA chains on n_threads threads for
    `seconds` of wall time, on the GEMM ISA in use (csrc/peak.c)."""
    cdef str fn = "peak_gflops"
    cdef int t
    cdef long nt = _index(n_threads)
    cdef double sec = _float(fn, seconds, "seconds")
    cdef double r
    import numpy
    try:
        t = numpy.dtype(dtype).num
    except TypeError:
        raise TypeError(f"{fn}: expected float32 or float64, got {dtype!r}") from None
    if t != F32 and t != F64:
        raise TypeError(f"{fn}: expected float32 or float64, got {dtype!r}")
    if nt < 1 or nt > 256:
        raise ValueError(f"{fn}: n_threads must be in 1..256, got {nt}")
    if not (0 < sec <= 60):
        raise ValueError(f"{fn}: seconds must be in (0, 60], got {sec}")
    with nogil:
        if t == F32:
            r = cg_peak_gflops_f32(<int>nt, sec)
        else:
            r = cg_peak_gflops_f64(<int>nt, sec)
    return r
