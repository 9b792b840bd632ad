"""Elementwise unary kernels: neg, exp, log, sqrt, abs, sin, cos, tanh,
sigmoid and relu; those with parameters (leaky_relu, softplus, clamp); and
GELU, with the float64 error function it is evaluated with (_erf, _erfc,
_ndtr).
"""
# SPDX-License-Identifier: MIT

import math

import numpy as np

from ._checks import _check_unary_backward, _check_unary_forward, _float_param

# The kernels of this family (the package exports them: the backend interface).
__all__ = [
    "neg_forward",
    "neg_backward",
    "exp_forward",
    "exp_backward",
    "log_forward",
    "log_backward",
    "sqrt_forward",
    "sqrt_backward",
    "abs_forward",
    "abs_backward",
    "sin_forward",
    "sin_backward",
    "cos_forward",
    "cos_backward",
    "tanh_forward",
    "tanh_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "relu_forward",
    "relu_backward",
    "silu_forward",
    "silu_backward",
    "mish_forward",
    "mish_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "softplus_forward",
    "softplus_backward",
    "gelu_forward",
    "gelu_backward",
    "clamp_forward",
    "clamp_backward",
]


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
    dx, dy, x, y = _check_unary_backward("exp_backward", dx, dy, x, y, "y")
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
    dx, dy, x, y = _check_unary_backward("log_backward", dx, dy, x, y, "x")
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
    dx, dy, x, y = _check_unary_backward("sqrt_backward", dx, dy, x, y, "y")
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
    dx, dy, x, y = _check_unary_backward("abs_backward", dx, dy, x, y, "x")
    if dx is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            t = np.sign(x)
            np.copyto(t, 0, where=np.isnan(t))  # torch: abs'(nan) = sgn(nan) = 0
            t *= dy
            dx += t


def sin_forward(y, x):
    """y = sin(x)"""
    y, x = _check_unary_forward("sin_forward", y, x)
    with np.errstate(invalid="ignore"):
        np.sin(x, out=y)


def sin_backward(dx, dy, x, y):
    """dx += dy * cos(x)"""
    dx, dy, x, y = _check_unary_backward("sin_backward", dx, dy, x, y, "x")
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
    dx, dy, x, y = _check_unary_backward("cos_backward", dx, dy, x, y, "x")
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
    dx, dy, x, y = _check_unary_backward("tanh_backward", dx, dy, x, y, "y")
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
    np.exp(s, out=s)  # e, never overflows
    r = s + 1
    np.divide(1, r, out=r)  # 1/(1+e) = sigmoid(|z|)
    np.multiply(s, r, out=s)  # e/(1+e) = sigmoid(-|z|)
    np.copyto(s, r, where=~neg)


def sigmoid_forward(y, x):
    """y = 1 / (1 + exp(-x)), stable for large |x|"""
    y, x = _check_unary_forward("sigmoid_forward", y, x)
    _sigmoid_into(y, x)


def sigmoid_backward(dx, dy, x, y):
    """dx += dy * y * (1 - y)"""
    dx, dy, x, y = _check_unary_backward("sigmoid_backward", dx, dy, x, y, "y")
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
    """dx += dy where y > 0 (that is, x > 0), else 0   (relu'(0) = 0, as torch)"""
    dx, dy, x, y = _check_unary_backward("relu_backward", dx, dy, x, y, "y")
    if dx is not None:
        np.add(dx, dy, out=dx, where=y > 0)


def silu_forward(y, x):
    """y = x * sigmoid(x)"""
    y, x = _check_unary_forward("silu_forward", y, x)
    with np.errstate(invalid="ignore", over="ignore"):
        s = np.empty_like(x)
        _sigmoid_into(s, x)
        np.multiply(x, s, out=y)


def silu_backward(dx, dy, x, y):
    """dx += dy * s * (1 + x * (1 - s)),  s = sigmoid(x)"""
    dx, dy, x, y = _check_unary_backward("silu_backward", dx, dy, x, y, "x")
    if dx is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            s = np.empty_like(x)
            _sigmoid_into(s, x)
            t = np.subtract(1, s)
            t *= x
            t += 1
            t *= s
            t *= dy
            dx += t


def _tanh_softplus(x):
    """tanh(log(1 + e^x)), with log(1 + e^x) = max(x, 0) + log1p(e^-|x|) (no overflow)."""
    t = np.abs(x)
    np.negative(t, out=t)
    np.exp(t, out=t)
    np.log1p(t, out=t)
    t += np.maximum(x, 0)
    return np.tanh(t, out=t)


def mish_forward(y, x):
    """y = x * tanh(softplus(x))"""
    y, x = _check_unary_forward("mish_forward", y, x)
    with np.errstate(invalid="ignore", over="ignore"):
        np.multiply(x, _tanh_softplus(x), out=y)


def mish_backward(dx, dy, x, y):
    """dx += dy * (t + x * s * (1 - t^2)),  t = tanh(softplus(x)), s = sigmoid(x)"""
    dx, dy, x, y = _check_unary_backward("mish_backward", dx, dy, x, y, "x")
    if dx is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            t = _tanh_softplus(x)
            s = np.empty_like(x)
            _sigmoid_into(s, x)
            u = t * t
            np.subtract(1, u, out=u)
            u *= s
            u *= x
            u += t
            u *= dy
            dx += u


# ---------------------------------------------------------------- unary with parameters


def leaky_relu_forward(y, x, negative_slope):
    """y = x if x > 0 else negative_slope * x"""
    y, x = _check_unary_forward("leaky_relu_forward", y, x)
    slope = _float_param("leaky_relu_forward", "negative_slope", negative_slope)
    pos = x > 0
    np.copyto(y, x, where=pos)  # this order is also right when y is x
    np.multiply(x, slope, out=y, where=~pos)


def leaky_relu_backward(dx, dy, x, y, negative_slope):
    """dx += dy if x > 0 else negative_slope * dy   (slope at 0, as torch)"""
    dx, dy, x, y = _check_unary_backward("leaky_relu_backward", dx, dy, x, y, "x")
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
        np.log1p(t, out=t)  # log1p(exp(-|z|))
        np.maximum(z, 0, out=z)
        np.add(z, t, out=z)  # log1p(exp(z))
        np.copyto(z, x, where=linear)
        np.divide(z, beta, out=z, where=~linear)
        np.copyto(y, z)


def softplus_backward(dx, dy, x, y, beta, threshold):
    """dx += dy if beta*x > threshold else dy * sigmoid(beta*x)"""
    fn = "softplus_backward"
    dx, dy, x, y = _check_unary_backward(fn, dx, dy, x, y, "x")
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
    dx, dy, x, y = _check_unary_backward(fn, dx, dy, x, y, "x")
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

_ERF_TAYLOR = tuple(
    2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(13)
)

# The coefficient tables stay in rows (the formatter would put each number on a
# line of its own).
# fmt: off
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
# fmt: on


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
            t *= x64  # u
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
            np.tanh(th, out=th)  # tanh u
            x2 *= 3 * _GELU_C * _SQRT_2_OVER_PI
            x2 += _SQRT_2_OVER_PI  # du/dx
            d = th * th
            np.subtract(1, d, out=d)
            d *= x2
            d *= x64  # x (1 - tanh^2 u) du/dx   (term 2, x2)
            d += th
            d += 1  # + (1 + tanh u)           (term 1, x2)
            d *= 0.5
        else:
            d = np.multiply(x64, x64)
            d *= -0.5
            np.exp(d, out=d)
            d *= _INV_SQRT_2PI  # phi(x)
            d *= x64
            d += _ndtr(x64)  # Phi(x) + x phi(x)
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
    dx, dy, x, y = _check_unary_backward("gelu_backward", dx, dy, x, y, "x")
    if dx is None:
        return
    d = _gelu_grad64(x, approximate_tanh)
    with np.errstate(over="ignore", invalid="ignore"):
        d *= dy
        np.add(dx, d, out=dx, casting="same_kind")
