# cgrad._ckernels: scatter-add (index_add).
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

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
        raise ValueError(f"{fn}: idx must be a 1-D contiguous native int64 array, "
                         f"got shape {idx.shape}")
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
