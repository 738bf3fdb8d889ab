"""GEMM through cuBLAS with one library call and no temporaries (imports cupy).

``gemm`` and ``gemm_batched`` call cublas{S,D}gemm / cublas{S,D}gemmStridedBatched on
row-major (C-contiguous) operands, with the transposes expressed as cuBLAS operation
flags instead of copies. A self-check on first use compares them with ``cupy.matmul``;
if the low-level binding is missing or disagrees, every call goes through
``cupy.matmul`` instead (same results, more host overhead).
"""

from ._lazy import cupy
import numpy as np

_ONE = {np.dtype(np.float32): np.ones(1, np.float32), np.dtype(np.float64): np.ones(1, np.float64)}
_ZERO = {np.dtype(np.float32): np.zeros(1, np.float32), np.dtype(np.float64): np.zeros(1, np.float64)}
# host addresses of the alpha = 1 / beta = 0 scalars (numpy's .ctypes costs microseconds a call)
_ALPHA_BETA = {dt: (_ONE[dt].ctypes.data, _ZERO[dt].ctypes.data) for dt in _ONE}
_state = {"direct": None}
# per dtype: (gemm, gemmStridedBatched) of cuBLAS, filled by _direct()
_FNS: dict = {}
_lib: dict = {}


def _op(a, trans):
    return a.T if trans else a


def _direct():
    if _state["direct"] is None:
        try:
            from cupy_backends.cuda.libs import cublas

            _state["direct"] = hasattr(cublas, "sgemmStridedBatched")
            _lib["cublas"], _lib["handle"] = cublas, cupy.cuda.device.get_cublas_handle
            _FNS[np.dtype(np.float32)] = (cublas.sgemm, cublas.sgemmStridedBatched)
            _FNS[np.dtype(np.float64)] = (cublas.dgemm, cublas.dgemmStridedBatched)
            rng = np.random.default_rng(0)
            a = cupy.asarray(rng.standard_normal((3, 5)))
            b = cupy.asarray(rng.standard_normal((4, 5)))
            ok = bool(cupy.allclose(gemm(a, b, False, True), a @ b.T))
            ok &= bool(cupy.allclose(gemm(a, b.T.copy(), False, False), a @ b.T))
            ok &= bool(cupy.allclose(gemm(a.T.copy(), b, True, True), a @ b.T))
            c = cupy.asarray(rng.standard_normal((2, 5, 3)))
            ok &= bool(cupy.allclose(gemm_batched(b, c, False, False, 2, 0, 15), cupy.matmul(b, c)))
            _state["direct"] = ok
        except Exception:
            _state["direct"] = False
    return _state["direct"]


def gemm(a, b, trans_a=False, trans_b=False):
    """op(a) @ op(b) for C-contiguous 2-D arrays of one float dtype."""
    if not (_state["direct"] or _direct()):
        return cupy.matmul(_op(a, trans_a), _op(b, trans_b))
    if not a.flags.c_contiguous:
        a = cupy.ascontiguousarray(a)
    if not b.flags.c_contiguous:
        b = cupy.ascontiguousarray(b)
    dtype = a.dtype
    a_rows, a_cols = a.shape
    m, k = (a_cols, a_rows) if trans_a else (a_rows, a_cols)
    n = b.shape[0] if trans_b else b.shape[1]
    out = cupy.empty((m, n), dtype=dtype)
    if m == 0 or n == 0:
        return out
    if k == 0:
        out.fill(0)
        return out
    handle = _lib["handle"]()
    _lib["cublas"].setPointerMode(handle, 0)  # host scalars
    alpha, beta = _ALPHA_BETA[dtype]
    # column-major view: out^T (n x m) = op(b)^T (n x k) @ op(a)^T (k x m)
    _FNS[dtype][0](handle, 1 if trans_b else 0, 1 if trans_a else 0, n, m, k, alpha, b.data.ptr, b.shape[1],
                   a.data.ptr, a_cols, beta, out.data.ptr, n)
    return out


def gemm_batched(a, b, trans_a, trans_b, batch, stride_a, stride_b):
    """out[i] = op(A_i) @ op(B_i) for i < batch, A_i = a's last two axes at offset i*stride_a
    elements (stride 0: one matrix for all), likewise B_i; returns (batch, m, n)."""
    a, b = cupy.ascontiguousarray(a), cupy.ascontiguousarray(b)
    a2 = a.reshape(a.shape[-2:]) if a.ndim == 2 else a[0]
    b2 = b.reshape(b.shape[-2:]) if b.ndim == 2 else b[0]
    if not (_state["direct"] or _direct()):
        def batch_of(x, x2, stride, trans):
            x = x2 if stride == 0 else x
            return x.swapaxes(-1, -2) if trans else x

        return cupy.ascontiguousarray(cupy.matmul(batch_of(a, a2, stride_a, trans_a),
                                                  batch_of(b, b2, stride_b, trans_b)))
    m, k = (a2.shape[1], a2.shape[0]) if trans_a else a2.shape
    n = b2.shape[0] if trans_b else b2.shape[1]
    out = cupy.empty((batch, m, n), dtype=a.dtype)
    if out.size == 0:
        return out
    if k == 0:
        out.fill(0)
        return out
    handle = _lib["handle"]()
    _lib["cublas"].setPointerMode(handle, 0)
    alpha, beta = _ALPHA_BETA[a.dtype]
    _FNS[a.dtype][1](handle, int(trans_b), int(trans_a), n, m, k, alpha, b.data.ptr, b2.shape[1], stride_b,
                     a.data.ptr, a2.shape[1], stride_a, beta, out.data.ptr, n, m * n, batch)
    return out
