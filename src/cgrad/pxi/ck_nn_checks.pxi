# cgrad._ckernels: argument checks for the nn, loss and optimizer kernels.
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

# ---- argument checks for nn, losses and optimizers ------------------------------

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
