"""cgrad's kernel interface (docs/kernels.md) written in pure NumPy.

It is the reference the compiled kernels (cgrad._ckernels) are tested against,
and the "pure NumPy version" in the benchmarks. Same names, signatures and
semantics as the C backend: outputs first, then inputs, then sizes and flags;
forward kernels assign into their output, backward kernels accumulate (+=)
into gradient buffers and skip a gradient given as None; derivative conventions
follow PyTorch. Arguments are validated like the C backend does: TypeError for
a dtype problem, ValueError for a shape or contiguity problem, IndexError for
a class target out of range (before any write), the message starting with the
function name. Arithmetic runs in the arrays' own dtype
(float32 or float64), except GELU, which evaluates in float64.
Overflow is handled, never warned about: results are the IEEE ones
(log(0) = -inf, 1/0 = inf) and NaN propagates.
"""
# SPDX-License-Identifier: MIT

import math

import numpy as np

__all__ = [
    "neg_forward", "neg_backward", "exp_forward", "exp_backward",
    "log_forward", "log_backward", "sqrt_forward", "sqrt_backward",
    "abs_forward", "abs_backward", "sin_forward", "sin_backward",
    "cos_forward", "cos_backward", "tanh_forward", "tanh_backward",
    "sigmoid_forward", "sigmoid_backward", "relu_forward", "relu_backward",
    "leaky_relu_forward", "leaky_relu_backward",
    "softplus_forward", "softplus_backward",
    "gelu_forward", "gelu_backward", "clamp_forward", "clamp_backward",
    "add_forward", "add_backward", "sub_forward", "sub_backward",
    "mul_forward", "mul_backward", "div_forward", "div_backward",
    "pow_forward", "pow_backward", "accumulate",
    "sum_forward", "sum_backward", "mean_forward", "mean_backward",
    "amax_forward", "amax_backward",
    "softmax_forward", "softmax_backward",
    "log_softmax_forward", "log_softmax_backward",
    "matmul", "index_add", "set_num_threads", "get_num_threads", "config",
    "linear_forward", "linear_backward",
    "cross_entropy_forward", "cross_entropy_backward",
    "cross_entropy_prob_forward", "cross_entropy_prob_backward",
    "nll_forward", "nll_backward",
    "mse_forward", "mse_backward", "l1_forward", "l1_backward",
    "bce_forward", "bce_backward", "bce_logits_forward", "bce_logits_backward",
    "dropout_forward", "dropout_backward", "sgd_step", "adam_step",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------- validation
# Each check names the function, the argument and what was wrong, so a bad
# call reads the same on both backends.

def _dtype_of(fn, optional=(), **arrays):
    """The one float dtype shared by every array given; None is allowed only for
    the names in `optional` (gradient outputs, which are then skipped)."""
    dtype = None
    first = None
    for name, a in arrays.items():
        if a is None and name in optional:
            continue
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{fn}: {name} must be a numpy.ndarray, got {type(a).__name__}")
        if a.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"{fn}: {name} has dtype {a.dtype}; expected float32 or float64")
        if dtype is None:
            dtype, first = a.dtype, name
        elif a.dtype != dtype:
            raise TypeError(f"{fn}: mixed dtypes: {first} is {dtype} but {name} is {a.dtype}")
    return dtype


def _contig(fn, **arrays):
    for name, a in arrays.items():
        if a is not None and not a.flags.c_contiguous:
            raise ValueError(f"{fn}: {name} must be C-contiguous (strides {a.strides}, shape {a.shape})")


def _writable(fn, **arrays):
    for name, a in arrays.items():
        if a is not None and not a.flags.writeable:
            raise ValueError(f"{fn}: {name} must be writable")


def _same_shape(fn, shape, **arrays):
    for name, a in arrays.items():
        if a is not None and a.shape != shape:
            raise ValueError(f"{fn}: {name} has shape {a.shape}; expected {shape}")


def _at_least_1d(*arrays):
    """0-d arrays as 1-element views (None kept), so that NumPy's temporaries stay
    arrays rather than scalars and out= works in every elementwise kernel."""
    if arrays[-1].ndim:
        return arrays
    return tuple(None if a is None else a.reshape(1) for a in arrays)


def _check_unary_forward(fn, y, x):
    _dtype_of(fn, y=y, x=x)
    _contig(fn, y=y, x=x)
    _writable(fn, y=y)
    _same_shape(fn, x.shape, y=y)
    return _at_least_1d(y, x)


def _check_unary_backward(fn, dx, dy, x, y):
    _dtype_of(fn, ("dx",), dx=dx, dy=dy, x=x, y=y)
    _contig(fn, dx=dx, dy=dy, x=x, y=y)
    _writable(fn, dx=dx)
    _same_shape(fn, x.shape, dx=dx, dy=dy, y=y)
    return _at_least_1d(dx, dy, x, y)


def _check_binary_forward(fn, out, a, b):
    _dtype_of(fn, out=out, a=a, b=b)
    _contig(fn, out=out)
    _writable(fn, out=out)
    _same_shape(fn, out.shape, a=a, b=b)
    return _at_least_1d(out, a, b)


def _check_binary_backward(fn, da, db, dout, a, b, out):
    _dtype_of(fn, ("da", "db"), da=da, db=db, dout=dout, a=a, b=b, out=out)
    _contig(fn, da=da, db=db, dout=dout, out=out)
    _writable(fn, da=da, db=db)
    _same_shape(fn, out.shape, da=da, db=db, dout=dout, a=a, b=b)
    return _at_least_1d(da, db, dout, a, b, out)


def _float_param(fn, name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{fn}: {name} must be a float, got {type(value).__name__}")
    return float(value)


# ---------------------------------------------------------------- elementwise unary
# <op>_forward(y, x): y = f(x).   <op>_backward(dx, dy, x, y): dx += dy * f'(x).

def neg_forward(y, x):
    """y = -x"""
    y, x = _check_unary_forward("neg_forward", y, x)
    np.negative(x, out=y)


def neg_backward(dx, dy, x, y):
    """dx += -dy"""
    dx, dy, x, y = _check_unary_backward("neg_backward", dx, dy, x, y)
    if dx is not None:
        np.subtract(dx, dy, out=dx)


def exp_forward(y, x):
    """y = exp(x)"""
    y, x = _check_unary_forward("exp_forward", y, x)
    with np.errstate(over="ignore"):
        np.exp(x, out=y)


def exp_backward(dx, dy, x, y):
    """dx += dy * y"""
    dx, dy, x, y = _check_unary_backward("exp_backward", dx, dy, x, y)
    if dx is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            dx += dy * y


def log_forward(y, x):
    """y = log(x)   (log(0) = -inf, log(x < 0) = nan)"""
    y, x = _check_unary_forward("log_forward", y, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.log(x, out=y)


def log_backward(dx, dy, x, y):
    """dx += dy / x   (+inf at x = 0 for dy > 0)"""
    dx, dy, x, y = _check_unary_backward("log_backward", dx, dy, x, y)
    if dx is not None:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            dx += dy / x


def sqrt_forward(y, x):
    """y = sqrt(x)"""
    y, x = _check_unary_forward("sqrt_forward", y, x)
    with np.errstate(invalid="ignore"):
        np.sqrt(x, out=y)


def sqrt_backward(dx, dy, x, y):
    """dx += dy / (2 y)   (+inf at x = 0 for dy > 0, as torch)"""
    dx, dy, x, y = _check_unary_backward("sqrt_backward", dx, dy, x, y)
    if dx is not None:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t = y + y
            np.divide(dy, t, out=t)
            dx += t


def abs_forward(y, x):
    """y = |x|"""
    y, x = _check_unary_forward("abs_forward", y, x)
    np.abs(x, out=y)


def abs_backward(dx, dy, x, y):
    """dx += dy * sign(x)   (sign(0) = 0 and sign(nan) = 0 here, as torch)"""
    dx, dy, x, y = _check_unary_backward("abs_backward", dx, dy, x, y)
    if dx is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            t = np.sign(x)
            np.copyto(t, 0, where=np.isnan(t))        # torch: abs'(nan) = sgn(nan) = 0
            t *= dy
            dx += t


def sin_forward(y, x):
    """y = sin(x)"""
    y, x = _check_unary_forward("sin_forward", y, x)
    with np.errstate(invalid="ignore"):
        np.sin(x, out=y)


def sin_backward(dx, dy, x, y):
    """dx += dy * cos(x)"""
    dx, dy, x, y = _check_unary_backward("sin_backward", dx, dy, x, y)
    if dx is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            t = np.cos(x)
            t *= dy
            dx += t


def cos_forward(y, x):
    """y = cos(x)"""
    y, x = _check_unary_forward("cos_forward", y, x)
    with np.errstate(invalid="ignore"):
        np.cos(x, out=y)


def cos_backward(dx, dy, x, y):
    """dx += -dy * sin(x)"""
    dx, dy, x, y = _check_unary_backward("cos_backward", dx, dy, x, y)
    if dx is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            t = np.sin(x)
            t *= dy
            dx -= t


def tanh_forward(y, x):
    """y = tanh(x)"""
    y, x = _check_unary_forward("tanh_forward", y, x)
    np.tanh(x, out=y)


def tanh_backward(dx, dy, x, y):
    """dx += dy * (1 - y^2)"""
    dx, dy, x, y = _check_unary_backward("tanh_backward", dx, dy, x, y)
    if dx is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            t = y * y
            np.subtract(1, t, out=t)
            t *= dy
            dx += t


def _sigmoid_into(s, z):
    """s = 1 / (1 + exp(-z)) without overflow: with e = exp(-|z|) <= 1,
    sigmoid(z) = 1/(1+e) for z >= 0 and e/(1+e) for z < 0 (exact 0/1 limits)."""
    neg = z < 0
    np.abs(z, out=s)
    np.negative(s, out=s)
    np.exp(s, out=s)                       # e, never overflows
    r = s + 1
    np.divide(1, r, out=r)                 # 1/(1+e) = sigmoid(|z|)
    np.multiply(s, r, out=s)               # e/(1+e) = sigmoid(-|z|)
    np.copyto(s, r, where=~neg)


def sigmoid_forward(y, x):
    """y = 1 / (1 + exp(-x)), stable for large |x|"""
    y, x = _check_unary_forward("sigmoid_forward", y, x)
    _sigmoid_into(y, x)


def sigmoid_backward(dx, dy, x, y):
    """dx += dy * y * (1 - y)"""
    dx, dy, x, y = _check_unary_backward("sigmoid_backward", dx, dy, x, y)
    if dx is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            t = np.subtract(1, y)
            t *= y
            t *= dy
            dx += t


def relu_forward(y, x):
    """y = max(x, 0)   (NaN propagates)"""
    y, x = _check_unary_forward("relu_forward", y, x)
    np.maximum(x, 0, out=y)


def relu_backward(dx, dy, x, y):
    """dx += dy where x > 0, else 0   (relu'(0) = 0, as torch)"""
    dx, dy, x, y = _check_unary_backward("relu_backward", dx, dy, x, y)
    if dx is not None:
        np.add(dx, dy, out=dx, where=x > 0)


# ---------------------------------------------------------------- unary with parameters

def leaky_relu_forward(y, x, negative_slope):
    """y = x if x > 0 else negative_slope * x"""
    y, x = _check_unary_forward("leaky_relu_forward", y, x)
    slope = _float_param("leaky_relu_forward", "negative_slope", negative_slope)
    pos = x > 0
    np.copyto(y, x, where=pos)             # this order is also right when y is x
    np.multiply(x, slope, out=y, where=~pos)


def leaky_relu_backward(dx, dy, x, y, negative_slope):
    """dx += dy if x > 0 else negative_slope * dy   (slope at 0, as torch)"""
    dx, dy, x, y = _check_unary_backward("leaky_relu_backward", dx, dy, x, y)
    slope = _float_param("leaky_relu_backward", "negative_slope", negative_slope)
    if dx is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            t = np.multiply(dy, slope)
            np.copyto(t, dy, where=x > 0)
            dx += t


def softplus_forward(y, x, beta, threshold):
    """y = x if beta*x > threshold else log1p(exp(beta*x)) / beta, where
    log1p(exp(z)) is evaluated as max(z, 0) + log1p(exp(-|z|)) (no overflow)."""
    fn = "softplus_forward"
    y, x = _check_unary_forward(fn, y, x)
    beta = _float_param(fn, "beta", beta)
    threshold = _float_param(fn, "threshold", threshold)
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.multiply(x, beta)
        linear = z > threshold
        t = np.abs(z)
        np.negative(t, out=t)
        np.exp(t, out=t)
        np.log1p(t, out=t)                 # log1p(exp(-|z|))
        np.maximum(z, 0, out=z)
        np.add(z, t, out=z)                # log1p(exp(z))
        np.copyto(z, x, where=linear)
        np.divide(z, beta, out=z, where=~linear)
        np.copyto(y, z)


def softplus_backward(dx, dy, x, y, beta, threshold):
    """dx += dy if beta*x > threshold else dy * sigmoid(beta*x)"""
    fn = "softplus_backward"
    dx, dy, x, y = _check_unary_backward(fn, dx, dy, x, y)
    beta = _float_param(fn, "beta", beta)
    threshold = _float_param(fn, "threshold", threshold)
    if dx is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            z = np.multiply(x, beta)
            s = np.empty_like(z)
            _sigmoid_into(s, z)
            np.copyto(s, 1, where=z > threshold)
            s *= dy
            dx += s


def clamp_forward(y, x, lo, hi):
    """y = min(max(x, lo), hi)   (hi wins when lo > hi; NaN propagates)"""
    fn = "clamp_forward"
    y, x = _check_unary_forward(fn, y, x)
    lo = _float_param(fn, "lo", lo)
    hi = _float_param(fn, "hi", hi)
    np.maximum(x, lo, out=y)
    np.minimum(y, hi, out=y)


def clamp_backward(dx, dy, x, y, lo, hi):
    """dx += dy where lo <= x <= hi (bounds inclusive, as torch), else 0"""
    fn = "clamp_backward"
    dx, dy, x, y = _check_unary_backward(fn, dx, dy, x, y)
    lo = _float_param(fn, "lo", lo)
    hi = _float_param(fn, "hi", hi)
    if dx is not None:
        inside = x >= lo
        inside &= x <= hi
        np.add(dx, dy, out=dx, where=inside)


# ---- GELU and the error function
# NumPy has no erf, so here is one accurate to float64 (about 1 ulp).
#  * |x| < 0.5: the Taylor series erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1)),
#    13 terms (the 14th is below 1e-18 relative).
#  * 0.5 <= |x| < 6: erfc(a) = exp(-a^2) R(a), where R(a) = erfc(a) exp(a^2) is smooth
#    (entire) and slowly varying. R is a polynomial on [0.5, 2) and on [2, 6) in
#    u = (a - mid) / halfwidth in [-1, 1]. The coefficients are the Chebyshev
#    interpolant of R at 20 (resp. 24) first-kind nodes, computed in 50-digit
#    arithmetic (mpmath) and converted exactly to powers of u, then rounded once.
#  * a >= 6 (only erfc needs this; erf = +-1 there): erfc(a) = exp(-a^2) / a * S(w),
#    w = 1/a^2 in (0, 1/36], S(w) = a R(a) -> 1/sqrt(pi); a 12-term interpolant of S
#    in u = 72 w - 1, made the same way.
# tests/test_kernels.py checks _erf and _erfc against math.erf/math.erfc on dense grids.

_ERF_TAYLOR = tuple(2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1))
                    for n in range(13))

_ERFC_PIECES = (  # (lo, hi, coefficients of R in powers of u = (a - (lo+hi)/2) / ((hi-lo)/2))
    (0.5, 2.0, (
        0.3678229164523611, -0.15661640697345738, 0.06007250896683709,
        -0.021185834510773556, 0.006964533219988774, -0.0021551128074231833,
        0.0006323772265443285, -0.00017697065842131287, 4.7450548658523766e-05,
        -1.2235801034080474e-05, 3.043976860686883e-06, -7.325300576500216e-07,
        1.7090856600008298e-07, -3.8739624976084095e-08, 8.55445698417564e-09,
        -1.8389844796621545e-09, 3.7825555544472486e-10, -7.769143402587221e-11,
        1.9186770431173552e-11, -3.742011062040615e-12)),
    (2.0, 6.0, (
        0.13699945762506138, -0.06476701219004291, 0.029861732979903317,
        -0.013449456613969249, 0.00592563950387976, -0.002557084169761886,
        0.0010819615534120512, -0.00044932693147525614, 0.00018330768136819641,
        -7.352137574378967e-05, 2.901199590644152e-05, -1.1270914791676502e-05,
        4.313255826876284e-06, -1.6270404669103896e-06, 6.0569179582904e-07,
        -2.222888157304624e-07, 7.984355503810327e-08, -2.8586397069465238e-08,
        1.0824531561065031e-08, -3.764154007466546e-09, 8.205403979036021e-10,
        -2.8716509123715205e-10, 2.7974119179024155e-10, -9.220011805148006e-11)),
)
_ERFC_TAIL = (  # S(w) in powers of u = 72 w - 1, for a >= 6
    0.5603505205560211, -0.003762724873077514, 7.38713831321479e-05,
    -2.357833330709325e-06, 1.0286465741477058e-07, -5.6376551193088024e-09,
    3.6926557128003245e-10, -2.7969670549855024e-11, 2.3922875992320455e-12,
    -2.2726445822587304e-13, 2.4679228766012223e-14, -2.8022377741339723e-15)


def _horner(coefs, u):
    """sum_k coefs[k] u^k (lowest power first), in place on one temporary."""
    p = np.full_like(u, coefs[-1])
    for c in coefs[-2::-1]:
        p *= u
        p += c
    return p


def _exp_neg_sq(a):
    """exp(-a^2) without the rounding error of a*a (which would cost a^2 ulps):
    split a = hi + lo with hi rounded to 24 bits, so hi*hi is exact and
    a^2 = hi^2 + lo (a + hi). Arguments past 64 give 0 anyway, so clip there."""
    a = np.minimum(a, 64.0)
    hi = a.astype(np.float32).astype(np.float64)
    e = np.exp(-hi * hi)
    e *= np.exp(-(a - hi) * (a + hi))
    return e


def _erfc_large(a):
    """erfc(a) for a float64 array with every a >= 0.5 or NaN."""
    r = np.full_like(a, np.nan)
    for lo, hi, coefs in _ERFC_PIECES:
        m = (a >= lo) & (a < hi)
        if m.any():
            ai = a[m]
            r[m] = _exp_neg_sq(ai) * _horner(coefs, (ai - 0.5 * (lo + hi)) / (0.5 * (hi - lo)))
    m = a >= 6.0
    if m.any():
        ai = a[m]
        with np.errstate(over="ignore", under="ignore"):
            w = 1.0 / (ai * ai)
            r[m] = _exp_neg_sq(ai) / ai * _horner(_ERFC_TAIL, 72.0 * w - 1.0)
    return r


def _erf(x):
    """erf(x), elementwise, as a new float64 array."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    y = np.empty_like(x)
    small = a < 0.5
    xs = x[small]
    y[small] = xs * _horner(_ERF_TAYLOR, xs * xs)
    big = ~small
    y[big] = np.copysign(1.0 - _erfc_large(a[big]), x[big])
    return y


def _erfc(x):
    """erfc(x) = 1 - erf(x), elementwise, accurate also where it is tiny; float64."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    y = np.empty_like(x)
    small = a < 0.5
    xs = x[small]
    y[small] = 1.0 - xs * _horner(_ERF_TAYLOR, xs * xs)
    big = ~small
    r = _erfc_large(a[big])
    y[big] = np.where(x[big] < 0, 2.0 - r, r)
    return y


_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


def _ndtr(x):
    """Phi(x), the standard normal CDF, = erfc(-x/sqrt 2) / 2, in float64."""
    p = _erfc(np.multiply(x, -_SQRT1_2, dtype=np.float64))
    p *= 0.5
    return p


def _gelu64(x, approximate_tanh):
    """gelu(x) as a new float64 array (see gelu_forward)."""
    x64 = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        if approximate_tanh:
            t = x64 * x64
            t *= _GELU_C * _SQRT_2_OVER_PI
            t += _SQRT_2_OVER_PI
            t *= x64                        # u
            np.tanh(t, out=t)
            t += 1
            t *= x64
            t *= 0.5
        else:
            t = _ndtr(x64)
            t *= x64
    return t


def _gelu_grad64(x, approximate_tanh):
    """gelu'(x) as a new float64 array (see gelu_backward)."""
    x64 = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        if approximate_tanh:
            x2 = x64 * x64
            th = x2 * (_GELU_C * _SQRT_2_OVER_PI)
            th += _SQRT_2_OVER_PI
            th *= x64
            np.tanh(th, out=th)                       # tanh u
            x2 *= 3 * _GELU_C * _SQRT_2_OVER_PI
            x2 += _SQRT_2_OVER_PI                     # du/dx
            d = th * th
            np.subtract(1, d, out=d)
            d *= x2
            d *= x64                                  # x (1 - tanh^2 u) du/dx   (term 2, x2)
            d += th
            d += 1                                    # + (1 + tanh u)           (term 1, x2)
            d *= 0.5
        else:
            d = np.multiply(x64, x64)
            d *= -0.5
            np.exp(d, out=d)
            d *= _INV_SQRT_2PI                        # phi(x)
            d *= x64
            d += _ndtr(x64)                           # Phi(x) + x phi(x)
    return d


def gelu_forward(y, x, approximate_tanh):
    """exact:  y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
    tanh:   y = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
    Both evaluate in float64 (1 + tanh u and 1 - tanh^2 u cancel badly in float32)."""
    y, x = _check_unary_forward("gelu_forward", y, x)
    np.copyto(y, _gelu64(x, approximate_tanh), casting="same_kind")


def gelu_backward(dx, dy, x, y, approximate_tanh):
    """exact:  dx += dy (Phi(x) + x phi(x)),  phi(x) = exp(-x^2/2) / sqrt(2 pi)
    tanh:   dx += dy (0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3*0.044715 x^2))"""
    dx, dy, x, y = _check_unary_backward("gelu_backward", dx, dy, x, y)
    if dx is None:
        return
    d = _gelu_grad64(x, approximate_tanh)
    with np.errstate(over="ignore", invalid="ignore"):
        d *= dy
        np.add(dx, d, out=dx, casting="same_kind")


# ---------------------------------------------------------------- elementwise binary
# a, b: any strides (0 for broadcast dims), shape exactly that of out.
# da, db: full output shape, or None to skip; the caller sums broadcast dims.

def add_forward(out, a, b):
    """out = a + b"""
    out, a, b = _check_binary_forward("add_forward", out, a, b)
    with np.errstate(over="ignore", invalid="ignore"):
        np.add(a, b, out=out)


def add_backward(da, db, dout, a, b, out):
    """da += dout;  db += dout"""
    da, db, dout, a, b, out = _check_binary_backward("add_backward", da, db, dout, a, b, out)
    with np.errstate(over="ignore", invalid="ignore"):
        if da is not None:
            np.add(da, dout, out=da)
        if db is not None:
            np.add(db, dout, out=db)


def sub_forward(out, a, b):
    """out = a - b"""
    out, a, b = _check_binary_forward("sub_forward", out, a, b)
    with np.errstate(over="ignore", invalid="ignore"):
        np.subtract(a, b, out=out)


def sub_backward(da, db, dout, a, b, out):
    """da += dout;  db -= dout"""
    da, db, dout, a, b, out = _check_binary_backward("sub_backward", da, db, dout, a, b, out)
    with np.errstate(over="ignore", invalid="ignore"):
        if da is not None:
            np.add(da, dout, out=da)
        if db is not None:
            np.subtract(db, dout, out=db)


def mul_forward(out, a, b):
    """out = a * b"""
    out, a, b = _check_binary_forward("mul_forward", out, a, b)
    with np.errstate(over="ignore", invalid="ignore"):
        np.multiply(a, b, out=out)


def mul_backward(da, db, dout, a, b, out):
    """da += dout * b;  db += dout * a"""
    da, db, dout, a, b, out = _check_binary_backward("mul_backward", da, db, dout, a, b, out)
    with np.errstate(over="ignore", invalid="ignore"):
        if da is not None:
            da += dout * b
        if db is not None:
            db += dout * a


def div_forward(out, a, b):
    """out = a / b   (x/0 = +-inf, 0/0 = nan)"""
    out, a, b = _check_binary_forward("div_forward", out, a, b)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        np.divide(a, b, out=out)


def div_backward(da, db, dout, a, b, out):
    """da += dout / b;  db -= dout * a / b^2, written as dout * out / b"""
    da, db, dout, a, b, out = _check_binary_backward("div_backward", da, db, dout, a, b, out)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if da is not None:
            da += dout / b
        if db is not None:
            t = dout * out
            np.divide(t, b, out=t)
            db -= t


def pow_forward(out, a, b):
    """out = a ** b   (nan for a < 0 with non-integer b; 0 ** -1 = inf)"""
    out, a, b = _check_binary_forward("pow_forward", out, a, b)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        np.power(a, b, out=out)


def pow_backward(da, db, dout, a, b, out):
    """da += dout * b * a^(b-1), taken as 0 where b == 0 (torch);
    db += dout * out * log(a), taken as 0 where a == 0 and b >= 0 (torch)."""
    da, db, dout, a, b, out = _check_binary_backward("pow_backward", da, db, dout, a, b, out)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if da is not None:
            t = np.subtract(b, 1, dtype=da.dtype)
            np.power(a, t, out=t)
            t *= b
            t *= dout
            np.add(da, t, out=da, where=b != 0)
        if db is not None:
            t = np.log(a, dtype=db.dtype)
            t *= out
            t *= dout
            zero = a == 0
            zero &= b >= 0
            np.add(db, t, out=db, where=~zero)


# ---------------------------------------------------------------- accumulate

def accumulate(dst, src):
    """dst += src   (the tape sums fan-out gradients with this)"""
    _dtype_of("accumulate", dst=dst, src=src)
    _contig("accumulate", dst=dst, src=src)
    _writable("accumulate", dst=dst)
    _same_shape("accumulate", dst.shape, src=src)
    with np.errstate(over="ignore", invalid="ignore"):
        np.add(dst, src, out=dst)


# ---------------------------------------------------------------- reductions
# axes: a sorted tuple of distinct non-negative ints, non-empty. out/dout hold
# prod(kept dims) values, in keepdim or squeezed shape (only size and order count).

def _check_axes(fn, axes, ndim):
    if not isinstance(axes, tuple) or len(axes) == 0:
        raise ValueError(f"{fn}: axes must be a non-empty tuple of ints, got {axes!r}")
    prev = -1
    for ax in axes:
        if isinstance(ax, (bool, np.bool_)) or not isinstance(ax, (int, np.integer)):
            raise ValueError(f"{fn}: axes must be ints, got {axes!r}")
        if not prev < ax < ndim:
            raise ValueError(f"{fn}: axes {axes!r} must be sorted, distinct and in [0, {ndim}) "
                             f"for an array of {ndim} dims")
        prev = ax


def _kept_shape(shape, axes):
    """The keepdim shape: reduced dims set to 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _check_reduced(fn, name, arr, shape, axes):
    kept = _kept_shape(shape, axes)
    if arr.size != math.prod(kept):
        raise ValueError(f"{fn}: {name} has shape {arr.shape} ({arr.size} values); reducing "
                         f"shape {shape} over axes {axes} needs {math.prod(kept)} values")
    return arr.reshape(kept)               # a view: arr is C-contiguous


def _check_reduce_forward(fn, out, x, axes):
    _dtype_of(fn, out=out, x=x)
    _contig(fn, out=out, x=x)
    _writable(fn, out=out)
    _check_axes(fn, axes, x.ndim)
    return _check_reduced(fn, "out", out, x.shape, axes)


def sum_forward(out, x, axes):
    """out = sum of x over axes"""
    out_k = _check_reduce_forward("sum_forward", out, x, axes)
    with np.errstate(over="ignore", invalid="ignore"):
        np.sum(x, axis=axes, out=out_k, keepdims=True)


def sum_backward(dx, dout, axes):
    """dx += dout, broadcast back over axes"""
    fn = "sum_backward"
    _dtype_of(fn, ("dx",), dx=dx, dout=dout)
    _contig(fn, dx=dx, dout=dout)
    if dx is None:
        return
    _writable(fn, dx=dx)
    _check_axes(fn, axes, dx.ndim)
    dout_k = _check_reduced(fn, "dout", dout, dx.shape, axes)
    with np.errstate(over="ignore", invalid="ignore"):
        np.add(dx, dout_k, out=dx)


def mean_forward(out, x, axes):
    """out = sum over axes / count   (an empty reduction gives nan, as numpy)"""
    out_k = _check_reduce_forward("mean_forward", out, x, axes)
    count = math.prod(x.shape[ax] for ax in axes)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        np.sum(x, axis=axes, out=out_k, keepdims=True)
        np.divide(out_k, count, out=out_k)


def mean_backward(dx, dout, axes):
    """dx += dout / count, broadcast back over axes"""
    fn = "mean_backward"
    _dtype_of(fn, ("dx",), dx=dx, dout=dout)
    _contig(fn, dx=dx, dout=dout)
    if dx is None:
        return
    _writable(fn, dx=dx)
    _check_axes(fn, axes, dx.ndim)
    dout_k = _check_reduced(fn, "dout", dout, dx.shape, axes)
    count = math.prod(dx.shape[ax] for ax in axes)
    if count == 0:
        return                             # dx is empty
    with np.errstate(over="ignore", invalid="ignore"):
        np.add(dx, dout_k / count, out=dx)


def _check_amax_groups(fn, shape, axes):
    if any(shape[ax] == 0 for ax in axes):
        raise ValueError(f"{fn}: cannot take the max over an empty group "
                         f"(shape {shape}, axes {axes})")


def amax_forward(out, x, axes):
    """out = max of x over axes   (a NaN in a group gives NaN)"""
    fn = "amax_forward"
    out_k = _check_reduce_forward(fn, out, x, axes)
    _check_amax_groups(fn, x.shape, axes)
    np.max(x, axis=axes, out=out_k, keepdims=True)


def amax_backward(dx, dout, x, out, axes):
    """dx += dout / n where x == max of its group (n = number of maxima there), else 0.
    Ties share the gradient evenly (torch's rule for amax and full max())."""
    fn = "amax_backward"
    _dtype_of(fn, ("dx",), dx=dx, dout=dout, x=x, out=out)
    _contig(fn, dx=dx, dout=dout, x=x, out=out)
    _writable(fn, dx=dx)
    _check_axes(fn, axes, x.ndim)
    _same_shape(fn, x.shape, dx=dx)
    _check_amax_groups(fn, x.shape, axes)
    dout_k = _check_reduced(fn, "dout", dout, x.shape, axes)
    out_k = _check_reduced(fn, "out", out, x.shape, axes)
    if dx is None:
        return
    at_max = x == out_k
    n = np.sum(at_max, axis=axes, keepdims=True, dtype=dx.dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        share = dout_k / n                 # n == 0 only for a NaN group: masked out below
        np.add(dx, share, out=dx, where=at_max)


# ---------------------------------------------------------------- softmax

def _check_softmax(fn, axis, **arrays):
    _dtype_of(fn, ("dx",), **arrays)
    _contig(fn, **arrays)
    names = list(arrays)
    _writable(fn, **{names[0]: arrays[names[0]]})
    ref = arrays[names[-1]]
    _same_shape(fn, ref.shape, **arrays)
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)) \
            or not 0 <= axis < ref.ndim:
        raise ValueError(f"{fn}: axis must be an int in [0, {ref.ndim}) for shape {ref.shape}, "
                         f"got {axis!r}")
    return int(axis)


def softmax_forward(y, x, axis):
    """y = exp(x - max) / sum exp(x - max) along axis (all -inf rows give nan)"""
    axis = _check_softmax("softmax_forward", axis, y=y, x=x)
    if x.size == 0:
        return
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        np.subtract(x, m, out=y)
        np.exp(y, out=y)
        s = np.sum(y, axis=axis, keepdims=True)
        np.divide(y, s, out=y)


def softmax_backward(dx, dy, y, axis):
    """dx += y * (dy - sum(dy * y)) along axis"""
    axis = _check_softmax("softmax_backward", axis, dx=dx, dy=dy, y=y)
    if dx is None or y.size == 0:
        return
    with np.errstate(invalid="ignore", over="ignore"):
        t = dy * y
        s = np.sum(t, axis=axis, keepdims=True)
        np.subtract(dy, s, out=t)
        t *= y
        dx += t


def log_softmax_forward(y, x, axis):
    """y = x - max - log(sum exp(x - max)) along axis (all -inf rows give nan)"""
    axis = _check_softmax("log_softmax_forward", axis, y=y, x=x)
    if x.size == 0:
        return
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        np.subtract(x, m, out=y)
        lse = np.sum(np.exp(y), axis=axis, keepdims=True)
        np.log(lse, out=lse)
        np.subtract(y, lse, out=y)


def log_softmax_backward(dx, dy, y, axis):
    """dx += dy - exp(y) * sum(dy) along axis"""
    axis = _check_softmax("log_softmax_backward", axis, dx=dx, dy=dy, y=y)
    if dx is None or y.size == 0:
        return
    with np.errstate(invalid="ignore", over="ignore"):
        s = np.sum(dy, axis=axis, keepdims=True)
        t = np.exp(y)
        t *= s
        np.subtract(dy, t, out=t)
        dx += t


# ---------------------------------------------------------------- matmul

def matmul(out, a, b, trans_a, trans_b, accumulate):
    """for i in range(B): out[i % Bo] (+)= op(a)[i % Ba] @ op(b)[i % Bb]

    All three 2-D instead: one product, out (+)= op(a) @ op(b).
    a is (Ba, M, K), or (Ba, K, M) holding A^T when trans_a; b is (Bb, K, N), or
    (Bb, N, K) when trans_b; out is (Bo, M, N). B = max(Ba, Bb, Bo) and each of
    Ba, Bb, Bo is 1 or B. accumulate=False overwrites out first (a NaN already in
    out never leaks); Bo == 1 < B sums the products over the batch.
    """
    fn = "matmul"
    _dtype_of(fn, out=out, a=a, b=b)
    if not (out.ndim == a.ndim == b.ndim and out.ndim in (2, 3)):
        raise ValueError(f"{fn}: out, a and b must be all 3-D or all 2-D, got shapes "
                         f"{out.shape}, {a.shape}, {b.shape}")
    _contig(fn, out=out, a=a, b=b)
    if out.ndim == 2:                                    # one product: batch of 1
        out, a, b = out[None], a[None], b[None]
    _writable(fn, out=out)
    A = a.transpose(0, 2, 1) if trans_a else a          # views: (Ba, M, K), (Bb, K, N)
    Bm = b.transpose(0, 2, 1) if trans_b else b
    (Ba, M, K), (Bb, K2, N), (Bo, Mo, No) = A.shape, Bm.shape, out.shape
    if K != K2 or M != Mo or N != No:
        raise ValueError(f"{fn}: shapes do not match: a {a.shape} (trans_a={bool(trans_a)}), "
                         f"b {b.shape} (trans_b={bool(trans_b)}), out {out.shape}")
    nb = max(Ba, Bb, Bo)
    if any(n not in (1, nb) for n in (Ba, Bb, Bo)):
        raise ValueError(f"{fn}: batch sizes a={Ba}, b={Bb}, out={Bo} must each be 1 or {nb}")
    with np.errstate(over="ignore", invalid="ignore"):
        if Bo == nb and max(Ba, Bb) == nb:
            # One product per output slab: write straight into out.
            if accumulate:
                out += np.matmul(A, Bm)
            else:
                np.matmul(A, Bm, out=out)
            return
        if Bo == nb:
            # Ba == Bb == 1 < Bo: the same product lands in every slab.
            p = np.matmul(A, Bm)
        else:
            # Bo == 1 < B: sum the B products.
            p = np.matmul(A, Bm).sum(axis=0, keepdims=True)
        if accumulate:
            out += p
        else:
            np.copyto(out, p)


# ---------------------------------------------------------------- scatter-add

def index_add(dx, idx, src):
    """dx[idx[i], :] += src[i, :] for i in order (repeated rows accumulate).

    The backward of every gather: dx (R, D) contig, src (n, D) contig, idx a
    contiguous int64 (n,) array with entries in [0, R), checked before any write
    (IndexError otherwise)."""
    fn = "index_add"
    _dtype_of(fn, dx=dx, src=src)
    if not isinstance(idx, np.ndarray) or idx.dtype != np.int64:
        raise TypeError(f"{fn}: idx must be an int64 ndarray, got "
                        f"{getattr(idx, 'dtype', type(idx).__name__)}")
    _contig(fn, dx=dx, src=src, idx=idx)
    _writable(fn, dx=dx)
    if dx.ndim != 2 or src.ndim != 2 or idx.ndim != 1 or src.shape != (idx.shape[0], dx.shape[1]):
        raise ValueError(f"{fn}: expected dx (R, D), src (n, D), idx (n,); got dx {dx.shape}, "
                         f"src {src.shape}, idx {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= dx.shape[0]):
        raise IndexError(f"{fn}: an index is out of range for {dx.shape[0]} rows "
                         f"(min {idx.min()}, max {idx.max()})")
    with np.errstate(over="ignore", invalid="ignore"):
        np.add.at(dx, idx, src)             # unbuffered: repeated rows all add, in order


# ================================================================ nn, losses, optimizers
# The kernels of docs/kernels.md, "Kernels for nn, losses and optimizers (issue 3)".
# Same conventions as above. Class targets are int64 (N,) arrays whose entries are
# in [0, C) or equal to ignore_index; anything else raises IndexError before any write.

_ACT_NAMES = {0: "none", 1: "relu", 2: "gelu", 3: "gelu (tanh)"}
_REDUCTION_NAMES = {0: "none", 1: "mean", 2: "sum"}


def _int_code(fn, name, value, allowed):
    """An int flag (act, reduction) that must be one of the keys of `allowed`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__}")
    if int(value) not in allowed:
        codes = ", ".join(f"{k} {v}" for k, v in allowed.items())
        raise ValueError(f"{fn}: {name} must be one of {codes}; got {value}")
    return int(value)


def _int_param(fn, name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__}")
    return int(value)


def _ndim(fn, ndim, **arrays):
    for name, a in arrays.items():
        if a is not None and a.ndim != ndim:
            raise ValueError(f"{fn}: {name} must be {ndim}-D, got shape {a.shape}")


def _class_target(fn, target, n, ncls, ignore_index):
    """Check an int64 (n,) class target; ncls None skips the range check (nothing
    is written then). Returns ignore_index as an int."""
    if not isinstance(target, np.ndarray) or target.dtype != np.int64:
        raise TypeError(f"{fn}: target must be an int64 ndarray, got "
                        f"{getattr(target, 'dtype', type(target).__name__)}")
    _contig(fn, target=target)
    if target.shape != (n,):
        raise ValueError(f"{fn}: target has shape {target.shape}; expected ({n},)")
    ignore_index = _int_param(fn, "ignore_index", ignore_index)
    if not -2 ** 63 <= ignore_index < 2 ** 63:
        raise ValueError(f"{fn}: ignore_index {ignore_index} does not fit in int64")
    if ncls is not None and n:
        bad = (target < 0) | (target >= ncls)
        bad &= target != ignore_index
        if bad.any():
            i = int(np.argmax(bad))
            raise IndexError(f"{fn}: target[{i}] = {int(target[i])} is out of range for "
                             f"{ncls} classes (and is not ignore_index {ignore_index})")
    return ignore_index


# ---------------------------------------------------------------- linear (+ activation)
# x (N, IN), w (OUT, IN) (torch's layout), b (OUT,) or None, y, z, scratch (N, OUT).
# act: 0 none, 1 relu, 2 gelu (erf), 3 gelu (tanh).

def _check_linear_operands(fn, x, w):
    _ndim(fn, 2, x=x, w=w)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"{fn}: x {x.shape} and w {w.shape} disagree on IN "
                         f"(x is (N, IN), w is (OUT, IN))")
    return x.shape[0], x.shape[1], w.shape[0]


def linear_forward(y, z, x, w, b, act):
    """z = x w^T + b (the pre-activation, stored when z is given);  y = act(z).
    z may be None for act 0 and 1; gelu needs it, its backward reads z."""
    fn = "linear_forward"
    _dtype_of(fn, ("z", "b"), y=y, z=z, x=x, w=w, b=b)
    act = _int_code(fn, "act", act, _ACT_NAMES)
    _contig(fn, y=y, z=z, x=x, w=w, b=b)
    _writable(fn, y=y, z=z)
    N, IN, OUT = _check_linear_operands(fn, x, w)
    _same_shape(fn, (OUT,), b=b)
    _same_shape(fn, (N, OUT), y=y, z=z)
    if z is None and act >= 2:
        raise ValueError(f"{fn}: z (N, OUT) is required for act={act} ({_ACT_NAMES[act]}): "
                         f"its backward reads the pre-activation")
    with np.errstate(over="ignore", invalid="ignore"):
        t = np.matmul(x, w.T)              # (N, OUT), a new array; w.T is a view
        if b is not None:
            t += b
        if z is not None:
            np.copyto(z, t)
        if act == 0:
            np.copyto(y, t)
        elif act == 1:
            np.maximum(t, 0, out=y)
        else:
            np.copyto(y, _gelu64(t, act == 3), casting="same_kind")


def linear_backward(dx, dw, db, dy, x, w, z, y, act, scratch, accumulate=True):
    """dz = dy * act'(z), written into scratch (act != 0; for act 0, dz is dy);
    dx += dz w;  dw += dz^T x;  db += sum over rows of dz
    (accumulate=False: the three are overwritten, never read).
    relu reads y (dz = dy where y > 0, else 0); gelu reads z."""
    fn = "linear_backward"
    _dtype_of(fn, ("dx", "dw", "db", "z", "y", "scratch"),
              dx=dx, dw=dw, db=db, dy=dy, x=x, w=w, z=z, y=y, scratch=scratch)
    act = _int_code(fn, "act", act, _ACT_NAMES)
    _contig(fn, dx=dx, dw=dw, db=db, dy=dy, x=x, w=w, z=z, y=y, scratch=scratch)
    _writable(fn, dx=dx, dw=dw, db=db, scratch=scratch)
    N, IN, OUT = _check_linear_operands(fn, x, w)
    _same_shape(fn, (N, IN), dx=dx)
    _same_shape(fn, (OUT, IN), dw=dw)
    _same_shape(fn, (OUT,), db=db)
    _same_shape(fn, (N, OUT), dy=dy, z=z, y=y, scratch=scratch)
    if act == 1 and y is None:
        raise ValueError(f"{fn}: y is required for act=1 (relu): its backward reads y")
    if act >= 2 and z is None:
        raise ValueError(f"{fn}: z is required for act={act} ({_ACT_NAMES[act]}): "
                         f"its backward reads the pre-activation")
    if dx is None and dw is None and db is None:
        return                             # no gradient wanted: scratch is not needed either
    if act != 0 and scratch is None:
        raise ValueError(f"{fn}: scratch (N, OUT) is required for act={act} ({_ACT_NAMES[act]})")
    if not accumulate:                     # overwrite: start the sums from zero
        for o in (dx, dw, db):
            if o is not None:
                o.fill(0)
    if N == 0:
        return                             # every sum is empty: dw and db are left as they are
    with np.errstate(over="ignore", invalid="ignore"):
        if act == 0:
            dz = dy
        elif act == 1:
            dz = scratch
            dz.fill(0)
            np.copyto(dz, dy, where=y > 0)
        else:
            d = _gelu_grad64(z, act == 3)
            d *= dy
            dz = scratch
            np.copyto(dz, d, casting="same_kind")
        if dx is not None:
            dx += np.matmul(dz, w)         # (N, OUT) @ (OUT, IN)
        if dw is not None:
            dw += np.matmul(dz.T, x)       # (OUT, N) @ (N, IN); dz.T is a view
        if db is not None:
            db += np.sum(dz, axis=0)


# ---------------------------------------------------------------- cross-entropy, NLL
# logits, p (N, C); loss, dloss (N,). The mean over rows is the caller's (dloss).

def _softmax_rows(p, logits):
    """p = softmax of each row; returns (shifted, log_s): logits - row max, and the
    log of the row sums of exp(shifted), so log_softmax = shifted - log_s."""
    m = np.max(logits, axis=1, keepdims=True)
    shifted = logits - m                   # a new array (p may not alias it)
    np.exp(shifted, out=p)
    s = np.sum(p, axis=1, keepdims=True)
    np.divide(p, s, out=p)
    return shifted, np.log(s)


def _check_ce_logits(fn, loss, p, logits, optional=()):
    _dtype_of(fn, optional, loss=loss, p=p, logits=logits)
    _contig(fn, loss=loss, p=p, logits=logits)
    _ndim(fn, 2, logits=logits)
    _same_shape(fn, logits.shape, p=p)
    _same_shape(fn, logits.shape[:1], loss=loss)
    return logits.shape


def cross_entropy_forward(loss, p, logits, target, ignore_index):
    """p = softmax(logits_i);  loss_i = logsumexp(logits_i) - logits_i[t_i]
    (max subtracted first; 0 for a row whose target is ignore_index)."""
    fn = "cross_entropy_forward"
    N, Cn = _check_ce_logits(fn, loss, p, logits)
    _writable(fn, loss=loss, p=p)
    ignore_index = _class_target(fn, target, N, Cn, ignore_index)
    if N == 0:
        return
    if Cn == 0:                            # every row is ignored (checked above)
        loss.fill(0)
        return
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        keep = target != ignore_index
        shifted, log_s = _softmax_rows(p, logits)
        rows = np.arange(N)
        picked = shifted[rows, np.where(keep, target, 0)]
        np.subtract(log_s[:, 0], picked, out=loss)
        loss[~keep] = 0


def cross_entropy_backward(dlogits, dloss, p, target, ignore_index):
    """dlogits_i += (p_i - onehot(t_i)) * dloss_i   (rows with ignore_index: nothing)"""
    fn = "cross_entropy_backward"
    _dtype_of(fn, ("dlogits",), dlogits=dlogits, dloss=dloss, p=p)
    _contig(fn, dlogits=dlogits, dloss=dloss, p=p)
    _writable(fn, dlogits=dlogits)
    _ndim(fn, 2, p=p)
    N, Cn = p.shape
    _same_shape(fn, p.shape, dlogits=dlogits)
    _same_shape(fn, (N,), dloss=dloss)
    ignore_index = _class_target(fn, target, N, Cn, ignore_index)
    if dlogits is None or N == 0 or Cn == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        keep = target != ignore_index
        t = p.copy()
        rows = np.nonzero(keep)[0]
        t[rows, target[rows]] -= 1
        t *= dloss[:, None]
        np.add(dlogits, t, out=dlogits, where=keep[:, None])


def cross_entropy_prob_forward(loss, p, logits, target):
    """p = softmax(logits_i);  loss_i = -sum_c target_ic * log_softmax(logits_i)_c
    (target (N, C): probabilities, same dtype as logits)."""
    fn = "cross_entropy_prob_forward"
    _dtype_of(fn, loss=loss, p=p, logits=logits, target=target)
    N, Cn = _check_ce_logits(fn, loss, p, logits)
    _contig(fn, target=target)
    _writable(fn, loss=loss, p=p)
    _same_shape(fn, logits.shape, target=target)
    if N == 0:
        return
    if Cn == 0:
        loss.fill(0)                       # an empty sum
        return
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        logp, log_s = _softmax_rows(p, logits)
        logp -= log_s                      # log_softmax
        logp *= target
        np.sum(logp, axis=1, out=loss)
        np.negative(loss, out=loss)


def cross_entropy_prob_backward(dlogits, dloss, p, target):
    """dlogits_i += (p_i * sum_c target_ic - target_i) * dloss_i"""
    fn = "cross_entropy_prob_backward"
    _dtype_of(fn, ("dlogits",), dlogits=dlogits, dloss=dloss, p=p, target=target)
    _contig(fn, dlogits=dlogits, dloss=dloss, p=p, target=target)
    _writable(fn, dlogits=dlogits)
    _ndim(fn, 2, p=p)
    _same_shape(fn, p.shape, dlogits=dlogits, target=target)
    _same_shape(fn, p.shape[:1], dloss=dloss)
    if dlogits is None or p.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        t = p * np.sum(target, axis=1, keepdims=True)
        t -= target
        t *= dloss[:, None]
        dlogits += t


def nll_forward(loss, x, target, ignore_index):
    """loss_i = -x[i, t_i]   (0 for a row whose target is ignore_index)"""
    fn = "nll_forward"
    _dtype_of(fn, loss=loss, x=x)
    _contig(fn, loss=loss, x=x)
    _writable(fn, loss=loss)
    _ndim(fn, 2, x=x)
    N, Cn = x.shape
    _same_shape(fn, (N,), loss=loss)
    ignore_index = _class_target(fn, target, N, Cn, ignore_index)
    if N == 0:
        return
    keep = target != ignore_index
    loss.fill(0)
    rows = np.nonzero(keep)[0]
    loss[rows] = -x[rows, target[rows]]


def nll_backward(dx, dloss, target, ignore_index):
    """dx[i, t_i] -= dloss_i   (rows whose target is ignore_index: nothing)"""
    fn = "nll_backward"
    _dtype_of(fn, ("dx",), dx=dx, dloss=dloss)
    _contig(fn, dx=dx, dloss=dloss)
    _writable(fn, dx=dx)
    _ndim(fn, 1, dloss=dloss)
    _ndim(fn, 2, dx=dx)
    N = dloss.shape[0]
    if dx is not None and dx.shape[0] != N:
        raise ValueError(f"{fn}: dx has shape {dx.shape}; expected ({N}, C) for dloss {dloss.shape}")
    ignore_index = _class_target(fn, target, N, None if dx is None else dx.shape[1], ignore_index)
    if dx is None or N == 0:
        return
    rows = np.nonzero(target != ignore_index)[0]
    with np.errstate(over="ignore", invalid="ignore"):
        dx[rows, target[rows]] -= dloss[rows]   # one entry per row: no repeats


# ---------------------------------------------------------------- elementwise losses
# <loss>_forward(out, x, t, reduction);  <loss>_backward(dx, dt, dout, x, t, reduction).
# reduction: 0 none (out, dout shaped like x), 1 mean, 2 sum (out, dout 0-d).
# Backward uses dl = dout (none, sum) or dout / n (mean) for every element.

def _check_loss_forward(fn, out, x, t, reduction):
    _dtype_of(fn, out=out, x=x, t=t)
    reduction = _int_code(fn, "reduction", reduction, _REDUCTION_NAMES)
    _contig(fn, out=out, x=x, t=t)
    _writable(fn, out=out)
    _same_shape(fn, x.shape, t=t)
    _same_shape(fn, x.shape if reduction == 0 else (), out=out)
    return reduction, x.reshape(-1), t.reshape(-1)       # views: contiguous


def _reduce_loss(out, l, reduction):
    """out = l (none), mean(l) or sum(l); l is a 1-D temporary."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if reduction == 0:
            np.copyto(out.reshape(-1), l)
        else:
            s = np.sum(l)
            if reduction == 1:
                s = np.divide(s, l.size)    # 0/0 = nan for an empty mean, as torch
            out[...] = s


def _check_loss_backward(fn, dx, dt, dout, x, t, reduction):
    """Returns (reduction, dx, dt, dl, x, t) as 1-D views (dx, dt may be None),
    dl shaped to broadcast; None for dl when there is nothing to do."""
    _dtype_of(fn, ("dx", "dt"), dx=dx, dt=dt, dout=dout, x=x, t=t)
    reduction = _int_code(fn, "reduction", reduction, _REDUCTION_NAMES)
    _contig(fn, dx=dx, dt=dt, dout=dout, x=x, t=t)
    _writable(fn, dx=dx, dt=dt)
    _same_shape(fn, x.shape, dx=dx, dt=dt, t=t)
    _same_shape(fn, x.shape if reduction == 0 else (), dout=dout)
    flat = [None if a is None else a.reshape(-1) for a in (dx, dt, x, t)]
    n = x.size
    if (dx is None and dt is None) or n == 0:
        dl = None
    elif reduction == 0:
        dl = dout.reshape(-1)
    elif reduction == 2:
        dl = dout.reshape(1)
    else:
        dl = dout.reshape(1) / n
    return (reduction, flat[0], flat[1], dl, flat[2], flat[3])


def mse_forward(out, x, t, reduction):
    """l = (x - t)^2, then reduced"""
    reduction, x, t = _check_loss_forward("mse_forward", out, x, t, reduction)
    with np.errstate(over="ignore", invalid="ignore"):
        l = x - t
        l *= l
    _reduce_loss(out, l, reduction)


def mse_backward(dx, dt, dout, x, t, reduction):
    """dx += 2 (x - t) dl;  dt -= 2 (x - t) dl"""
    _, dx, dt, dl, x, t = _check_loss_backward("mse_backward", dx, dt, dout, x, t, reduction)
    if dl is None:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        g = x - t
        g *= 2
        g *= dl
        if dx is not None:
            dx += g
        if dt is not None:
            dt -= g


def l1_forward(out, x, t, reduction):
    """l = |x - t|, then reduced"""
    reduction, x, t = _check_loss_forward("l1_forward", out, x, t, reduction)
    with np.errstate(over="ignore", invalid="ignore"):
        l = x - t
        np.abs(l, out=l)
    _reduce_loss(out, l, reduction)


def l1_backward(dx, dt, dout, x, t, reduction):
    """dx += sign(x - t) dl (0 where x == t, and where x - t is NaN: torch's sgn
    in abs' backward);  dt -= the same"""
    _, dx, dt, dl, x, t = _check_loss_backward("l1_backward", dx, dt, dout, x, t, reduction)
    if dl is None:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        g = x - t
        np.sign(g, out=g)
        np.copyto(g, 0, where=np.isnan(g))
        g *= dl
        if dx is not None:
            dx += g
        if dt is not None:
            dt -= g


def _clamped_logs(x):
    """max(log x, -100) and max(log(1 - x), -100), torch's clamp; log(1 - x) is
    taken as log1p(-x) (same value, without the rounding of 1 - x)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_x = np.log(x)
        log_1mx = np.log1p(-x)
    np.maximum(log_x, -100, out=log_x)     # NaN (x outside [0, 1]) propagates
    np.maximum(log_1mx, -100, out=log_1mx)
    return log_x, log_1mx


def bce_forward(out, x, t, reduction):
    """l = -(t max(log x, -100) + (1 - t) max(log(1 - x), -100)); x are probabilities"""
    reduction, x, t = _check_loss_forward("bce_forward", out, x, t, reduction)
    log_x, log_1mx = _clamped_logs(x)
    with np.errstate(over="ignore", invalid="ignore"):
        log_x *= t
        log_1mx *= 1 - t
        l = log_x
        l += log_1mx
        np.negative(l, out=l)
    _reduce_loss(out, l, reduction)


def bce_backward(dx, dt, dout, x, t, reduction):
    """dx += dl (x - t) / max(x (1 - x), 1e-12)   (torch's epsilon);
    dt += dl (max(log(1 - x), -100) - max(log x, -100))"""
    _, dx, dt, dl, x, t = _check_loss_backward("bce_backward", dx, dt, dout, x, t, reduction)
    if dl is None:
        return
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if dx is not None:
            den = 1 - x
            den *= x
            np.maximum(den, 1e-12, out=den)
            g = x - t
            g *= dl
            g /= den
            dx += g
        if dt is not None:
            log_x, log_1mx = _clamped_logs(x)
            log_1mx -= log_x
            log_1mx *= dl
            dt += log_1mx


def bce_logits_forward(out, x, t, reduction):
    """l = max(x, 0) - x t + log1p(exp(-|x|))   (stable for any x; x are logits)"""
    reduction, x, t = _check_loss_forward("bce_logits_forward", out, x, t, reduction)
    with np.errstate(over="ignore", invalid="ignore"):
        l = np.abs(x)
        np.negative(l, out=l)
        np.exp(l, out=l)
        np.log1p(l, out=l)
        l += np.maximum(x, 0)
        l -= x * t
    _reduce_loss(out, l, reduction)


def bce_logits_backward(dx, dt, dout, x, t, reduction):
    """dx += dl (sigmoid(x) - t);  dt += dl (-x)"""
    _, dx, dt, dl, x, t = _check_loss_backward("bce_logits_backward", dx, dt, dout, x, t, reduction)
    if dl is None:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if dx is not None:
            g = np.empty_like(x)
            _sigmoid_into(g, x)
            g -= t
            g *= dl
            dx += g
        if dt is not None:
            dt -= x * dl


# ---------------------------------------------------------------- dropout
# u: uniforms in [0, 1) drawn by the caller, same shape and dtype as x.
# p is compared with u in the arrays' dtype (NumPy's rule for a Python float).

def _check_dropout_p(fn, p):
    p = _float_param(fn, "p", p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{fn}: p must be in [0, 1), got {p} (p == 1 is the caller's: all zeros)")
    return p


def dropout_forward(y, x, u, p):
    """y = x * (u >= p) / (1 - p)   (a dropped NaN stays NaN: x * 0)"""
    fn = "dropout_forward"
    _dtype_of(fn, y=y, x=x, u=u)
    _contig(fn, y=y, x=x, u=u)
    _writable(fn, y=y)
    _same_shape(fn, x.shape, y=y, u=u)
    p = _check_dropout_p(fn, p)
    y, x, u = _at_least_1d(y, x, u)
    with np.errstate(over="ignore", invalid="ignore"):
        keep = u >= p
        np.multiply(x, keep, out=y)
        np.divide(y, 1.0 - p, out=y)


def dropout_backward(dx, dy, u, p):
    """dx += dy * (u >= p) / (1 - p)"""
    fn = "dropout_backward"
    _dtype_of(fn, ("dx",), dx=dx, dy=dy, u=u)
    _contig(fn, dx=dx, dy=dy, u=u)
    _writable(fn, dx=dx)
    _same_shape(fn, u.shape, dx=dx, dy=dy)
    p = _check_dropout_p(fn, p)
    if dx is None:
        return
    dx, dy, u = _at_least_1d(dx, dy, u)
    with np.errstate(over="ignore", invalid="ignore"):
        g = np.multiply(dy, u >= p)
        np.divide(g, 1.0 - p, out=g)
        dx += g


# ---------------------------------------------------------------- optimizer steps
# In place, one parameter at a time, following torch.optim's single-tensor rules.
# Scalars (lr, betas, ...) are Python floats, rounded to the arrays' dtype where
# they meet them, as torch does.

def sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    """d = g + weight_decay p   (skipped when weight_decay == 0, as torch)
    if momentum != 0:  buf = d (first step) or momentum buf + (1 - dampening) d
                       d = d + momentum buf (nesterov) or buf
    p -= lr d.   buf may be None when momentum == 0."""
    fn = "sgd_step"
    _dtype_of(fn, ("buf",), p=p, g=g, buf=buf)
    _contig(fn, p=p, g=g, buf=buf)
    _writable(fn, p=p, buf=buf)
    _same_shape(fn, p.shape, g=g, buf=buf)
    lr = _float_param(fn, "lr", lr)
    momentum = _float_param(fn, "momentum", momentum)
    dampening = _float_param(fn, "dampening", dampening)
    weight_decay = _float_param(fn, "weight_decay", weight_decay)
    if momentum != 0 and buf is None:
        raise ValueError(f"{fn}: buf is required when momentum != 0 (momentum={momentum})")
    with np.errstate(over="ignore", invalid="ignore"):
        d = np.array(g, copy=True)
        if weight_decay != 0:
            d += weight_decay * p
        if momentum != 0:
            if first:
                np.copyto(buf, d)
            else:
                buf *= momentum
                buf += (1 - dampening) * d
            if nesterov:
                d += momentum * buf
            else:
                d = buf
        p -= lr * d


def adam_step(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled):
    """decoupled (AdamW): p *= 1 - lr weight_decay;  else g' = g + weight_decay p
    m = beta1 m + (1 - beta1) g';  v = beta2 v + (1 - beta2) g'^2
    p -= (lr / (1 - beta1^step)) m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
    step >= 1 is the count after this update. Weight decay 0 is skipped (torch)."""
    fn = "adam_step"
    _dtype_of(fn, p=p, g=g, m=m, v=v)
    _contig(fn, p=p, g=g, m=m, v=v)
    _writable(fn, p=p, m=m, v=v)
    _same_shape(fn, p.shape, g=g, m=m, v=v)
    lr = _float_param(fn, "lr", lr)
    beta1 = _float_param(fn, "beta1", beta1)
    beta2 = _float_param(fn, "beta2", beta2)
    eps = _float_param(fn, "eps", eps)
    weight_decay = _float_param(fn, "weight_decay", weight_decay)
    step = _int_param(fn, "step", step)
    if step < 1:
        raise ValueError(f"{fn}: step must be >= 1 (the count after this update), got {step}")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if weight_decay != 0:
            if decoupled:
                p *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * p
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * (g * g)
        bias1 = 1 - beta1 ** step
        bias2_sqrt = math.sqrt(1 - beta2 ** step)
        denom = np.sqrt(v)
        denom /= bias2_sqrt
        denom += eps
        t = m / denom
        t *= lr / bias1
        p -= t


# ---------------------------------------------------------------- threads and configuration
# NumPy decides its own threading; these exist so the two backends share one interface.

def set_num_threads(n):
    """Accepted for interface parity; the NumPy backend has no thread setting."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive count, got {n}")


def get_num_threads():
    """Always 1: the NumPy backend does not manage threads."""
    return 1


def config():
    """The backend's capabilities, in the same keys as the C backend."""
    return {"openmp": False, "simd": "numpy", "num_threads": 1}
