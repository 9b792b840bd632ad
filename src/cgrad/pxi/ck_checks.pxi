# cgrad._ckernels: argument checks shared by every kernel wrapper.
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

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
    raise ValueError(f"{fn}: {name} has shape {x.shape}, expected {ref.shape} "
                     f"(the shape of {refname})")


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
