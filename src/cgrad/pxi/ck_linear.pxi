# cgrad._ckernels: linear with a fused activation.
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

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
        return cg_linear_forward_f32(<float *>L.y, <float *>L.z, <const float *>L.x,
                                     <const float *>L.w, <const float *>L.b, L.N, L.IN,
                                     L.OUT, L.act)
    return cg_linear_forward_f64(<double *>L.y, <double *>L.z, <const double *>L.x,
                                 <const double *>L.w, <const double *>L.b, L.N, L.IN, L.OUT, L.act)


cdef int _linear_bwd_call(Linear *L) noexcept nogil:
    if L.t == F32:
        return cg_linear_backward_f32(<float *>L.dx, <float *>L.dw, <float *>L.db,
                                      <const float *>L.dy, <const float *>L.x, <const float *>L.w,
                                      <const float *>L.z, <const float *>L.y, <float *>L.scratch,
                                      L.N, L.IN, L.OUT, L.act, L.acc)
    return cg_linear_backward_f64(<double *>L.dx, <double *>L.dw, <double *>L.db,
                                  <const double *>L.dy, <const double *>L.x, <const double *>L.w,
                                  <const double *>L.z, <const double *>L.y, <double *>L.scratch,
                                  L.N, L.IN, L.OUT, L.act, L.acc)


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
