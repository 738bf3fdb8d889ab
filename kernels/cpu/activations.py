"""Activation kernels (Numba): ``<name>_fwd(x, alpha) -> y`` and ``<name>_bwd(x, y, gy, alpha) -> gx``.

Formulas (the same as kernels/reference/activations.py; ``alpha`` is used by leaky_relu and elu):

* relu:        y = max(x, 0)                        dy/dx = [y > 0]
* sigmoid:     y = 1 / (1 + e^-x), via e = exp(-|x|): 1/(1+e) for x >= 0, e/(1+e) below
               dy/dx = y (1 - y)
* tanh:        y = tanh(x)                          dy/dx = 1 - y^2
* leaky_relu:  y = x if x > 0 else alpha x          dy/dx = 1 if x > 0 else alpha
* elu:         y = x if x > 0 else alpha expm1(x)   dy/dx = 1 if x > 0 else alpha e^x
* gelu:        y = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2
               dy/dx = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
* softplus:    y = max(x, 0) + log1p(e^-|x|)        dy/dx = sigmoid(x) = -expm1(-y)
* step:        y = [x > 0]                          dy/dx = 0

Why the transcendental functions are written here. Numba's ``math.exp``/``tanh``/
``erf``/``log1p`` are scalar libm calls (no SVML here), so a loop that calls them does
not vectorise; measured on the 2-core AVX-512 machine they are 3-40x slower per element
than NumPy's SIMD ufuncs (bench/choose_cpu_math.py). Instead this module defines
vectorisable versions, :func:`vexp`, :func:`vexpm1` and :func:`vlog1p_unit`, built from Cody-Waite range reduction, polynomials and exponent-bit
construction (no table look-ups, no branches: every case is a select, so LLVM
vectorises the loops that inline them). Accuracy: float64 within a few ulp (relative
error < 1e-15 over the whole range, subnormal results excepted), float32 inputs are
evaluated in float64 (``vexp`` has a float32 polynomial, exact to float32 rounding).
NaN and +-inf propagate as in NumPy.

Decided per activation by measurement (bench/choose_cpu_math.py): tanh forward, softplus
forward and backward, and the expm1 of elu forward below the threaded size use NumPy's
SIMD ufuncs in place (plus one Numba select pass); gelu calls libm erf (the vectorised
Cephes erf measured slower); relu, leaky_relu, step, sigmoid forward, large elu forward
and the other backward passes are Numba kernels, elu's backward with vexp. The linear
epilogue (linear.py) uses the fused Numba path for every activation but tanh and
softplus. Below ``NUMPY_BELOW`` elements relu and step forward, relu and tanh backward and softplus
run the reference's NumPy expression instead (the call overhead decides there).

One kernel serves every activation: the activation is passed as a *tag*, a tuple of
zeros whose length names it (:data:`TAG`). A tuple's length is part of its Numba type,
so each activation gets its own compiled specialisation in which the ``if`` chain of
:func:`act_fwd`/:func:`act_grad` folds to one branch and the loop vectorises; the tag
is an ordinary argument, so the specialisations are cached on disk like any other.
(A function passed as an argument, or ``numba.literally``, would not be cached or would
cost milliseconds per call.) linear.py fuses the same scalar functions into its GEMM
epilogue.
"""

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from ..reference import activations as _reference
from . import _jit
from ._jit import FASTMATH, dual, jit, prange
from ._windows import U

#: activation name -> tag (see the module docstring). ``None`` (identity) is the empty tuple.
TAG = {None: (), "relu": (0,), "sigmoid": (0,) * 2, "tanh": (0,) * 3, "leaky_relu": (0,) * 4,
       "elu": (0,) * 5, "gelu": (0,) * 6, "softplus": (0,) * 7, "step": (0,) * 8}
_RELU, _SIGMOID, _TANH, _LEAKY, _ELU, _GELU, _SOFTPLUS, _STEP = range(1, 9)


# -- bit casts (so 2^n can be built from its exponent bits) ----------------------------------
@intrinsic
def _i64_as_f64(typingctx, x):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _i32_as_f32(typingctx, x):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


# -- exp ---------------------------------------------------------------------------------------
# x = n ln2 + r with |r| <= ln2/2 (ln2 split in a high part exact in n ln2_hi and a low
# part: Cody-Waite), e^r by its Taylor polynomial (degree 13 in float64: truncation
# < 2e-16; degree 7 in float32: < 1e-8), 2^n from exponent bits. 2^n is applied as
# 2^h 2^(n-h), h = n >> 1, so that results down to the subnormals stay exact without an
# intermediate overflow, in any association order (fastmath may reassociate).
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_EXP64 = tuple(1.0 / math.factorial(k) for k in range(13, -1, -1))

_LOG2E_F = np.float32(1.4426950408889634)
_LN2_HI_F = np.float32(0.693359375)
_LN2_LO_F = np.float32(-2.12194440e-4)
_HALF_F = np.float32(0.5)
_EXP32 = tuple(np.float32(1.0 / math.factorial(k)) for k in range(7, -1, -1))


def _exp64(x):
    # Clamp through comparisons that send NaN to a finite bound, so n is always a valid
    # integer; the NaN then propagates through r.
    t = x * _LOG2E
    t = t if t < 1023.0 else 1023.0
    t = t if t > -1100.0 else -1100.0
    n = np.floor(t + 0.5)
    ni = np.int64(n)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    c = _EXP64
    p = c[0]
    p = p * r + c[1]
    p = p * r + c[2]
    p = p * r + c[3]
    p = p * r + c[4]
    p = p * r + c[5]
    p = p * r + c[6]
    p = p * r + c[7]
    p = p * r + c[8]
    p = p * r + c[9]
    p = p * r + c[10]
    p = p * r + c[11]
    p = p * r + c[12]
    p = p * r + c[13]
    h = ni >> 1
    s1 = _i64_as_f64((h + 1023) << 52)
    s2 = _i64_as_f64((ni - h + 1023) << 52)
    res = p * s1 * s2
    # Below -746 the result underflows to 0 (and p of a huge |r| is meaningless).
    return 0.0 if x < -746.0 else res


def _exp32(x):
    t = x * _LOG2E_F
    t = t if t < np.float32(127.0) else np.float32(127.0)
    t = t if t > np.float32(-150.0) else np.float32(-150.0)
    # np.floor keeps float32 and the int32 conversion is one vector instruction;
    # math.floor would go through int64 and keep the loop from vectorising well.
    n = np.floor(t + _HALF_F)
    ni = np.int32(n)
    r = (x - n * _LN2_HI_F) - n * _LN2_LO_F
    c = _EXP32
    p = c[0]
    p = p * r + c[1]
    p = p * r + c[2]
    p = p * r + c[3]
    p = p * r + c[4]
    p = p * r + c[5]
    p = p * r + c[6]
    p = p * r + c[7]
    h = ni >> np.int32(1)
    s1 = _i32_as_f32((h + np.int32(127)) << np.int32(23))
    s2 = _i32_as_f32((ni - h + np.int32(127)) << np.int32(23))
    res = p * s1 * s2
    return np.float32(0.0) if x < np.float32(-104.0) else res


def vexp(x):
    """e^x, vectorisable; float32 in, float32 out (see the module docstring)."""
    return math.exp(x)


# No "reassoc" here: it would fold (x - n ln2_hi) - n ln2_lo into x - n ln2 and lose the
# Cody-Waite split (2e-14 relative error near x = -700). The flags stay on these
# instructions when LLVM inlines them into kernels compiled with reassoc.
@overload(vexp, jit_options={"fastmath": FASTMATH - {"reassoc"}})
def _vexp_overload(x):
    if x == types.float32:
        return _exp32
    return _exp64


@jit
def vexpm1(x):
    """e^x - 1 (float64): Taylor series where |x| < ln2/2 (no cancellation), else e^x - 1."""
    p = 1.0 / 6227020800.0
    p = p * x + 1.0 / 479001600.0
    p = p * x + 1.0 / 39916800.0
    p = p * x + 1.0 / 3628800.0
    p = p * x + 1.0 / 362880.0
    p = p * x + 1.0 / 40320.0
    p = p * x + 1.0 / 5040.0
    p = p * x + 1.0 / 720.0
    p = p * x + 1.0 / 120.0
    p = p * x + 1.0 / 24.0
    p = p * x + 1.0 / 6.0
    p = p * x + 0.5
    small = x + x * x * p
    big = vexp(x) - 1.0
    return small if abs(x) < 0.34657359027997264 else big


@jit
def vlog1p_unit(u):
    """log(1 + u) for u in [0, 1] (float64), as softplus needs for u = e^-|x|.

    log(w) = 2 atanh(s), s = (w - 1) / (w + 1); w = 1 + u, or (1 + u) / 2 (plus ln 2)
    above u = sqrt 2 - 1, so |s| <= 0.172 and 11 odd terms reach float64 rounding.
    s is formed from u directly (u / (2 + u) or (u - 1) / (u + 3)): no rounding of 1 + u.
    """
    big = u > 0.41421356237309503
    s = (u - 1.0) / (u + 3.0) if big else u / (2.0 + u)
    s2 = s * s
    q = 1.0 / 21.0
    q = q * s2 + 1.0 / 19.0
    q = q * s2 + 1.0 / 17.0
    q = q * s2 + 1.0 / 15.0
    q = q * s2 + 1.0 / 13.0
    q = q * s2 + 1.0 / 11.0
    q = q * s2 + 1.0 / 9.0
    q = q * s2 + 1.0 / 7.0
    q = q * s2 + 1.0 / 5.0
    q = q * s2 + 1.0 / 3.0
    v = 2.0 * (s + s * s2 * q)
    return v + 0.6931471805599453 if big else v


# -- the activations as scalar functions of a tag ---------------------------------------------
@jit
def act_fwd(tag, v, alpha):
    """The activation named by ``tag`` at v (float64 for the transcendental ones)."""
    code = len(tag)
    if code == _RELU:
        return 0.0 if v <= 0 else v          # NaN fails the test and passes through
    if code == _SIGMOID:
        e = vexp(-abs(v))
        return 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)
    if code == _TANH:
        # tanh|x| = -expm1(-2|x|) / (2 + expm1(-2|x|)): no cancellation near 0.
        m = vexpm1(-2.0 * abs(float(v)))
        return math.copysign(-m / (2.0 + m), v)
    if code == _LEAKY:
        return v if v > 0 else v * alpha
    if code == _ELU:
        return v if v > 0 else alpha * vexpm1(min(float(v), 0.0))
    if code == _GELU:
        # libm erf: measured faster here than a branch-free Cephes erf written in Numba.
        return v * (0.5 * (1.0 + math.erf(float(v) * 0.7071067811865476)))
    if code == _SOFTPLUS:
        return max(v, 0.0) + vlog1p_unit(vexp(-abs(float(v))))
    if code == _STEP:
        return 1.0 if v > 0 else 0.0
    return v


@jit
def act_grad(tag, x, y, alpha):
    """dy/dx of the activation named by ``tag``, from x or y (GRAD_FROM_OUTPUT: from y)."""
    code = len(tag)
    if code == _RELU:
        return 1.0 if y > 0 else 0.0
    if code == _SIGMOID:
        return y * (1.0 - y)
    if code == _TANH:
        return 1.0 - y * y
    if code == _LEAKY:
        return 1.0 if x > 0 else alpha
    if code == _ELU:
        return 1.0 if x > 0 else alpha * vexp(min(float(x), 0.0))
    if code == _GELU:
        xf = float(x)
        cdf = 0.5 * (1.0 + math.erf(xf * 0.7071067811865476))
        return cdf + xf * (0.3989422804014327 * vexp(-0.5 * xf * xf))
    if code == _SOFTPLUS:
        return -vexpm1(-float(y))
    if code == _STEP:
        return 0.0
    return 1.0


@jit
def act_bwd_one(tag, x, y, gy, alpha):
    """gx for one element: gy times the derivative, with the reference's NaN behaviour."""
    code = len(tag)
    if code == _LEAKY:
        return gy if x > 0 else gy * alpha           # np.where(x > 0, gy, gy alpha)
    if code == _ELU:
        return gy if x > 0 else gy * alpha * vexp(min(float(x), 0.0))
    return gy * act_grad(tag, x, y, alpha)


@jit(inline=True)
def epilogue_run(src, s0, bias, y, z, d0, count, tag, alpha, keep_z):
    """The fused epilogue over one contiguous run: v = src[s0 + j] + bias, z[d0 + j] = v
    (when keep_z), y[d0 + j] = act(v), for j < count. src may be y itself (in place)."""
    s, d = U(s0), U(d0)
    for j in range(U(count)):
        val = src[s + j] + bias
        if keep_z:
            z[d + j] = val
        y[d + j] = act_fwd(tag, val, alpha)


@jit(inline=True)
def grad_run(gy, zz, y, s0, gz, d0, count, tag, alpha):
    """gz[d0 + j] = act'(z) gy at s0 + j for j < count (zz: z, or y where the gradient
    reads the output); returns the run's sum, for the bias gradient."""
    s, d = U(s0), U(d0)
    total = 0.0
    for j in range(U(count)):
        v = act_bwd_one(tag, zz[s + j], y[s + j], gy[s + j], alpha)
        gz[d + j] = v
        total += v
    return total


# -- kernels ----------------------------------------------------------------------------------
@dual
def _fwd_kernel(tag, x, y, alpha):
    for i in prange(x.shape[0]):
        y[i] = act_fwd(tag, x[i], alpha)


@dual
def _bwd_kernel(tag, x, y, gy, gx, alpha):
    for i in prange(gy.shape[0]):
        gx[i] = act_bwd_one(tag, x[i], y[i], gy[i], alpha)


def _fwd(name, x, alpha):
    y = np.empty_like(x)
    _fwd_kernel(x.size, TAG[name], x.reshape(-1), y.reshape(-1), float(alpha))
    return y


def _bwd(name, x, y, gy, alpha):
    gx = np.empty_like(gy)
    # x is None for GRAD_FROM_OUTPUT activations; y stands in (the kernel never reads it).
    xx = y if x is None else x
    _bwd_kernel(gy.size, TAG[name], xx.reshape(-1), y.reshape(-1), gy.reshape(-1), gx.reshape(-1), float(alpha))
    return gx


#: Elements below which relu and step forward, and relu and tanh backward, run the
#: reference's NumPy expression: a compiled call's dispatch (about 1.5 us) is then more
#: than NumPy's whole pass. Measured (AMD EPYC, 2026-12-05, float32, us, reference /
#: Numba): relu forward 0.9 / 1.4 at 16 and 256 elements, 1.4 / 1.5 at 1024, 2.5 / 1.8 at
#: 4096; relu backward 1.5 / 1.8 at 256, 1.9 / 1.9 at 1024; tanh backward 1.6 / 1.9 at
#: 256, 2.0 / 2.0 at 1024; step forward 1.2 / 1.6 at 256, 1.5 / 1.7 at 1024. The other
#: activations' kernels win at every size (sigmoid 1.5 against 4.7 at 16).
NUMPY_BELOW = 1024


def relu_fwd(x, alpha):
    if x.size < NUMPY_BELOW:
        return _reference.relu_fwd(x, alpha)
    return _fwd("relu", x, alpha)


def relu_bwd(x, y, gy, alpha):
    if gy.size < NUMPY_BELOW:
        return _reference.relu_bwd(x, y, gy, alpha)
    return _bwd("relu", x, y, gy, alpha)


def sigmoid_fwd(x, alpha):
    # The fused kernel (vexp and the select in one pass). NumPy's SIMD exp in place plus
    # a Numba select pass won while kernels compiled with Numba's Python error model,
    # whose division-by-zero check kept the fused loop scalar; under error_model="numpy"
    # the fused one is faster (AMD EPYC, 2026-12-05, float32: 0.37 against 0.83 ms for
    # 64x128x128, 3.5 against 5.2 us for 32x100; float64 0.59 against 1.46 ms).
    return _fwd("sigmoid", x, alpha)


def sigmoid_bwd(x, y, gy, alpha):
    return _bwd("sigmoid", x, y, gy, alpha)


def tanh_fwd(x, alpha):
    # NumPy's SIMD tanh runs at memory speed here (0.39 ms per 1M float32 against
    # 4.7 ms for the Numba loop and 8.8 ms for libm tanh): use it, in place.
    return np.tanh(x)


def tanh_bwd(x, y, gy, alpha):
    if gy.size < NUMPY_BELOW:
        return _reference.tanh_bwd(x, y, gy, alpha)
    return _bwd("tanh", x, y, gy, alpha)


def leaky_relu_fwd(x, alpha):
    return _fwd("leaky_relu", x, alpha)


def leaky_relu_bwd(x, y, gy, alpha):
    return _bwd("leaky_relu", x, y, gy, alpha)


@dual
def _elu_finish(x, e, alpha):
    for i in prange(x.shape[0]):
        e[i] = x[i] if x[i] > 0 else alpha * e[i]


def elu_fwd(x, alpha):
    # Large arrays take the fused kernel (vexpm1 and the select in one threaded pass);
    # smaller ones NumPy's SIMD expm1 in place, then one Numba select pass, which the
    # serial fused loop does not match (AMD EPYC, 2026-12-05: 64x128x128 fused 0.83
    # against 0.89 ms in float32, 0.86 against 2.03 ms in float64; 32x100 fused 17.6
    # against 5.4 us in float32).
    if x.size >= _jit.PARALLEL_MIN:
        return _fwd("elu", x, alpha)
    y = np.minimum(x, 0, out=np.empty_like(x))
    np.expm1(y, out=y)
    _elu_finish(x.size, x.reshape(-1), y.reshape(-1), x.dtype.type(alpha))
    return y


def elu_bwd(x, y, gy, alpha):
    return _bwd("elu", x, y, gy, alpha)


def gelu_fwd(x, alpha):
    return _fwd("gelu", x, alpha)


def gelu_bwd(x, y, gy, alpha):
    return _bwd("gelu", x, y, gy, alpha)


def softplus_fwd(x, alpha):
    # NumPy ufuncs in place (one temporary for max(x, 0)) measured faster than the
    # Numba kernel, whose log1p divides (see sigmoid_fwd); below NUMPY_BELOW the
    # reference's expression, whose calls pass no out= (0.8 us less a forward+backward
    # at 3x5x2, AMD EPYC, 2026-12-05).
    if x.size < NUMPY_BELOW:
        return _reference.softplus_fwd(x, alpha)
    y = np.abs(x, out=np.empty_like(x))  # out=: a 0-d x still gives an array
    np.negative(y, out=y)
    np.exp(y, out=y)
    np.log1p(y, out=y)
    y += np.maximum(x, 0)
    return y


def softplus_bwd(x, y, gy, alpha):
    # gx = gy * -expm1(-y), in place in gx: the same roundings as the reference.
    if gy.size < NUMPY_BELOW:
        return _reference.softplus_bwd(x, y, gy, alpha)
    gx = np.negative(y, out=np.empty_like(y))
    np.expm1(gx, out=gx)
    np.negative(gx, out=gx)
    gx *= gy
    return gx


def step_fwd(x, alpha):
    if x.size < NUMPY_BELOW:
        return _reference.step_fwd(x, alpha)
    return _fwd("step", x, alpha)


def step_bwd(x, y, gy, alpha):
    # The derivative is 0 everywhere and the reference returns zeros (not gy * 0).
    return np.zeros_like(gy)


def as_type_of(value, like):
    """``value`` converted to the float type of ``like`` (compile-time choice in kernels)."""
    return type(like)(value)


@overload(as_type_of)
def _as_type_of_overload(value, like):
    if like == types.float32:
        return lambda value, like: np.float32(value)
    return lambda value, like: np.float64(value)
