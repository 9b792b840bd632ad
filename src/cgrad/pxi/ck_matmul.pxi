# cgrad._ckernels: matmul and the GEMM entry points.
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

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
