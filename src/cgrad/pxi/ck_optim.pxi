# cgrad._ckernels: optimizer steps (sgd, adam).
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

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
            return cg_adam_step_f32(<float *>s.p, <const float *>s.g, <float *>s.a, <float *>s.v,
                                    s.n, s.lr, s.beta1, s.beta2, s.eps, s.weight_decay,
                                    s.step, s.decoupled)
        return cg_adam_step_f64(<double *>s.p, <const double *>s.g, <double *>s.a, <double *>s.v,
                                s.n, s.lr, s.beta1, s.beta2, s.eps, s.weight_decay,
                                s.step, s.decoupled)
    if s.t == F32:
        return cg_sgd_step_f32(<float *>s.p, <const float *>s.g, <float *>s.a, s.n, s.lr,
                               s.momentum, s.dampening, s.weight_decay, s.nesterov, s.first)
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
