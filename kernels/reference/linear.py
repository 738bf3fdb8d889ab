"""Dense layer kernels: y = act(x @ W + b).

Forward:  z = x W + b,  y = act(z)           x: (N, in), W: (in, out), b: (out,) or None
Backward: dz = act'(z) * dy
          dx = dz W^T,  dW = x^T dz,  db = sum_n dz
The pre-activation ``z`` is returned only for activations whose derivative
needs it (see ``contract.GRAD_FROM_OUTPUT``); otherwise it is None.
"""

from ..contract import GRAD_FROM_OUTPUT
from .activations import BACKWARD, FORWARD


def linear_fwd(x, w, b, activation, alpha):
    z = x @ w
    if b is not None:
        z += b
    if activation is None:
        return z, None
    y = FORWARD[activation](z, alpha)
    return y, (None if activation in GRAD_FROM_OUTPUT else z)


def linear_bwd(x, w, z, y, gy, activation, alpha, need_gx, need_gw, need_gb):
    dz = gy if activation is None else BACKWARD[activation](z, y, gy, alpha)
    gx = dz @ w.T if need_gx else None
    gw = x.T @ dz if need_gw else None
    gb = dz.sum(axis=0) if need_gb else None
    return gx, gw, gb
