"""Dense layer kernels: y = act(x @ W + b) (formulas: kernels/reference/linear.py).

Forward: the GEMM runs in cuBLAS (one call, _blas.gemm); bias and activation follow in one
elementwise launch over its output, in place where backward needs only y.
Backward: one launch computes dz = act'(.) * dy and the bias gradient db = sum_n dz
together (linear.cu: a deterministic column sum, no atomics), then cuBLAS gives
dx = dz W^T and dW = x^T dz.
"""

from ._lazy import cupy

import numpy as np

from ..contract import ACTIVATIONS, GRAD_FROM_OUTPUT
from . import sources
from ._blas import gemm
from ._rt import cu, elementwise

_LIMIT = 2**31  # element counts the 32-bit index arithmetic of the bias kernels covers


def _add_bias(z, b, activation, alpha):
    """Bias (and activation) over z in place; returns (y, z_kept)."""
    n, cols = z.size, z.shape[-1]
    magic, shift = sources.magic_div(cols)
    if activation is None:
        elementwise("fastnn_bias", z.dtype)(n, b, cols, magic, shift, z)
        return z, None
    name = f"fastnn_bias_{activation}"
    if activation in GRAD_FROM_OUTPUT:
        elementwise(name, z.dtype)(n, b, cols, magic, shift, alpha, z)
        return z, None
    y = cupy.empty_like(z)
    elementwise(name, z.dtype)(n, b, cols, magic, shift, alpha, z, y)
    return y, z


def linear_fwd(x, w, b, activation, alpha):
    z = gemm(x, w)
    if b is not None and z.size >= _LIMIT:  # beyond 32-bit indexing: a broadcast add
        z += b
        b = None
    if b is not None:
        return _add_bias(z, b, activation, alpha)
    if activation is None:
        return z, None
    y = cupy.empty_like(z)  # kernel arguments never alias (they are __restrict__)
    elementwise(f"fastnn_{activation}_fwd", z.dtype)(z.size, z, alpha, y)
    return y, (None if activation in GRAD_FROM_OUTPUT else z)


def linear_bwd(x, w, z, y, gy, activation, alpha, need_gx, need_gw, need_gb):
    rows, cols = gy.shape
    dz = gy if activation is None else cupy.empty_like(gy)
    if activation == "step":
        dz.fill(0)
    if need_gb and activation != "step":  # dz and the bias gradient in one pass (linear.cu)
        gb = cupy.empty(cols, dtype=gy.dtype)
        null = np.uintp(0)
        code = -1 if activation is None else ACTIVATIONS.index(activation)
        first = None if activation in GRAD_FROM_OUTPUT else z
        cu("linear.cu", "fastnn_bias_grad", gy.dtype)(
            (-(-cols // 32),), (32, 8),
            [null if first is None else first, null if y is None else y, gy, dz, gb, np.int32(rows),
             np.int32(cols), np.int32(code), gy.dtype.type(alpha)])
    else:
        gb = cupy.zeros(cols, dtype=gy.dtype) if need_gb else None
        if activation not in (None, "step"):
            first = y if activation in GRAD_FROM_OUTPUT else z
            elementwise(f"fastnn_{activation}_bwd", gy.dtype)(gy.size, first, gy, alpha, dz)
    gx = gemm(dz, w, False, True) if need_gx else None
    gw = gemm(x, dz, True, False) if need_gw else None
    return gx, gw, gb
