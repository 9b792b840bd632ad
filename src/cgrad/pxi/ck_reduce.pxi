# cgrad._ckernels: reductions (sum, mean, amax).
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

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
            return cg_sum_forward_f32(<float *>r.dst, <const float *>r.src, r.ndim, r.shape,
                                      r.axes, r.naxes)
        if r.op == R_SUM_B:
            return cg_sum_backward_f32(<float *>r.dst, <const float *>r.src, r.ndim,
                                       r.shape, r.axes, r.naxes)
        if r.op == R_MEAN_F:
            return cg_mean_forward_f32(<float *>r.dst, <const float *>r.src, r.ndim,
                                       r.shape, r.axes, r.naxes)
        if r.op == R_MEAN_B:
            return cg_mean_backward_f32(<float *>r.dst, <const float *>r.src, r.ndim,
                                        r.shape, r.axes, r.naxes)
        if r.op == R_AMAX_F:
            return cg_amax_forward_f32(<float *>r.dst, <const float *>r.src, r.ndim,
                                       r.shape, r.axes, r.naxes)
        return cg_amax_backward_f32(<float *>r.dst, <const float *>r.src, <const float *>r.x,
                                    <const float *>r.o, r.ndim, r.shape, r.axes, r.naxes)
    if r.op == R_SUM_F:
        return cg_sum_forward_f64(<double *>r.dst, <const double *>r.src, r.ndim, r.shape,
                                  r.axes, r.naxes)
    if r.op == R_SUM_B:
        return cg_sum_backward_f64(<double *>r.dst, <const double *>r.src, r.ndim, r.shape,
                                   r.axes, r.naxes)
    if r.op == R_MEAN_F:
        return cg_mean_forward_f64(<double *>r.dst, <const double *>r.src, r.ndim, r.shape,
                                   r.axes, r.naxes)
    if r.op == R_MEAN_B:
        return cg_mean_backward_f64(<double *>r.dst, <const double *>r.src, r.ndim, r.shape,
                                    r.axes, r.naxes)
    if r.op == R_AMAX_F:
        return cg_amax_forward_f64(<double *>r.dst, <const double *>r.src, r.ndim, r.shape,
                                   r.axes, r.naxes)
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
        raise ValueError(f"{fn}: out has size {_size(out)}, expected {_size(dout)} "
                         "(the size of dout)")
    _empty_group_check(fn, &r, out)
    r.dst = _data(dx)
    r.src = _data(dout)
    r.x = _data(x)
    r.o = _data(out)
    _reduce_run(fn, &r)
