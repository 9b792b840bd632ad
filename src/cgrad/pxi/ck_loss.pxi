# cgrad._ckernels: cross-entropy, NLL and the elementwise losses.
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

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
            return cg_cross_entropy_forward_f32(<float *>r.out, <float *>r.p, <const float *>r.src,
                                                r.ti, r.N, r.C, r.ignore)
        if r.op == 1:
            return cg_cross_entropy_backward_f32(<float *>r.out, <const float *>r.src,
                                                 <const float *>r.p, r.ti, r.N, r.C, r.ignore)
        if r.op == 2:
            return cg_cross_entropy_prob_forward_f32(<float *>r.out, <float *>r.p,
                                                     <const float *>r.src, <const float *>r.tf,
                                                     r.N, r.C)
        if r.op == 3:
            return cg_cross_entropy_prob_backward_f32(<float *>r.out, <const float *>r.src,
                                                      <const float *>r.p, <const float *>r.tf,
                                                      r.N, r.C)
        if r.op == 4:
            return cg_nll_forward_f32(<float *>r.out, <const float *>r.src, r.ti, r.N,
                                      r.C, r.ignore)
        return cg_nll_backward_f32(<float *>r.out, <const float *>r.src, r.ti, r.N, r.C, r.ignore)
    if r.op == 0:
        return cg_cross_entropy_forward_f64(<double *>r.out, <double *>r.p, <const double *>r.src,
                                            r.ti, r.N, r.C, r.ignore)
    if r.op == 1:
        return cg_cross_entropy_backward_f64(<double *>r.out, <const double *>r.src,
                                             <const double *>r.p, r.ti, r.N, r.C, r.ignore)
    if r.op == 2:
        return cg_cross_entropy_prob_forward_f64(<double *>r.out, <double *>r.p,
                                                 <const double *>r.src, <const double *>r.tf,
                                                 r.N, r.C)
    if r.op == 3:
        return cg_cross_entropy_prob_backward_f64(<double *>r.out, <const double *>r.src,
                                                  <const double *>r.p, <const double *>r.tf,
                                                  r.N, r.C)
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
ctypedef int (*lbwd32)(float *, float *, const float *, const float *, const float *,
                       int64_t, int) noexcept nogil
ctypedef int (*lbwd64)(double *, double *, const double *, const double *, const double *,
                       int64_t, int) noexcept nogil


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
            st = f32(<float *>dxp, <float *>dtp, <const float *>dp, <const float *>xp,
                     <const float *>tp, n, red)
        else:
            with nogil:
                st = f32(<float *>dxp, <float *>dtp, <const float *>dp, <const float *>xp,
                         <const float *>tp, n, red)
    else:
        if n < NOGIL_MIN:
            st = f64(<double *>dxp, <double *>dtp, <const double *>dp, <const double *>xp,
                     <const double *>tp, n, red)
        else:
            with nogil:
                st = f64(<double *>dxp, <double *>dtp, <const double *>dp, <const double *>xp,
                         <const double *>tp, n, red)
    _status(fn, st)


def mse_forward(out, x, t, reduction):
    """l = (x - t)^2, reduced (0 none, 1 mean, 2 sum)."""
    _eloss_fwd("mse_forward", out, x, t, reduction, cg_mse_forward_f32, cg_mse_forward_f64)


def mse_backward(dx, dt, dout, x, t, reduction):
    _eloss_bwd("mse_backward", dx, dt, dout, x, t, reduction,
               cg_mse_backward_f32, cg_mse_backward_f64)


def l1_forward(out, x, t, reduction):
    """l = |x - t|, reduced (0 none, 1 mean, 2 sum)."""
    _eloss_fwd("l1_forward", out, x, t, reduction, cg_l1_forward_f32, cg_l1_forward_f64)


def l1_backward(dx, dt, dout, x, t, reduction):
    _eloss_bwd("l1_backward", dx, dt, dout, x, t, reduction, cg_l1_backward_f32, cg_l1_backward_f64)


def bce_forward(out, x, t, reduction):
    """l = -(t max(log x, -100) + (1 - t) max(log(1 - x), -100)), reduced."""
    _eloss_fwd("bce_forward", out, x, t, reduction, cg_bce_forward_f32, cg_bce_forward_f64)


def bce_backward(dx, dt, dout, x, t, reduction):
    _eloss_bwd("bce_backward", dx, dt, dout, x, t, reduction,
               cg_bce_backward_f32, cg_bce_backward_f64)


def bce_logits_forward(out, x, t, reduction):
    """l = max(x, 0) - x t + log1p(exp(-|x|)), reduced."""
    _eloss_fwd("bce_logits_forward", out, x, t, reduction, cg_bce_logits_forward_f32,
               cg_bce_logits_forward_f64)


def bce_logits_backward(dx, dt, dout, x, t, reduction):
    _eloss_bwd("bce_logits_backward", dx, dt, dout, x, t, reduction, cg_bce_logits_backward_f32,
               cg_bce_logits_backward_f64)
