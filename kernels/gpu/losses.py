"""Elementwise losses and the L2 penalty (formulas: kernels/reference/losses.py).
bce: one elementwise launch each way; mse and l2: a CuPy reduction kernel (sum) and
one elementwise launch for the gradient."""

from ._lazy import cupy

from ._rt import elementwise, reduction


def _device(g, like):
    return g if isinstance(g, cupy.ndarray) else cupy.asarray(g, dtype=like.dtype)


def bce_logits_fwd(z, t):
    loss = cupy.empty_like(z)
    elementwise("fastnn_bce_logits_fwd", z.dtype)(z.size, z, t, loss)
    return loss


def bce_logits_bwd(z, t, g):
    g = _device(g, z).astype(z.dtype, copy=False)
    if g.size == 1:
        stride = 0
    else:
        stride = 1
        if g.shape != z.shape:
            g = cupy.broadcast_to(g, z.shape)
        g = cupy.ascontiguousarray(g)
    gz, gt = cupy.empty_like(z), cupy.empty_like(z)
    elementwise("fastnn_bce_logits_bwd", z.dtype)(z.size, z, t, g, stride, gz, gt)
    return gz, gt


def mse_fwd(p, t):
    out = reduction("fastnn_sq_diff_sum")(p, t)
    out /= p.size
    return out


def mse_bwd(p, t, g):
    gp = cupy.empty_like(p)
    elementwise("fastnn_mse_bwd", p.dtype)(p.size, p, t, _device(g, p).astype(p.dtype, copy=False), p.size, gp)
    return gp


def l2_fwd(w):
    return reduction("fastnn_sq_sum")(w)


def l2_bwd(w, g):
    gw = cupy.empty_like(w)
    elementwise("fastnn_l2_bwd", w.dtype)(w.size, w, _device(g, w).astype(w.dtype, copy=False), gw)
    return gw
