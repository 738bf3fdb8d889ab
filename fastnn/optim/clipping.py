"""Gradient clipping: per-parameter norm, global norm and element-wise value.

Optimizers apply these to the gradients in ``step()`` (``clipnorm``, ``global_clipnorm``,
``clipvalue``, Keras' meanings); ``clip_grad_norm_`` and ``clip_grad_value_`` are the
functional forms with PyTorch's names and semantics, for hand-written training loops.

With g_i the gradient of parameter i and c the threshold:

    clipnorm          g_i <- g_i * c / max(||g_i||_2, c)          each gradient on its own
    global_clipnorm   g_i <- g_i * c / max(N, c),  N = sqrt(sum_i ||g_i||_2^2)   all together
    clipvalue         g_i <- min(max(g_i, -c), c)                 element-wise
    clip_grad_norm_   g_i <- g_i * min(1, c / (N_p + 1e-6))       PyTorch's formula, in place,
                      N_p = (sum_i ||g_i||_p^p)^(1/p) (p = inf: max_i max |g_i|)

The optimizer forms scale by exactly c / N when N > c (TensorFlow/Keras' clip_by_norm
and clip_by_global_norm), so a clipped gradient has norm c. Norms are computed with
the backend's array module and stay on the device: no host round trip. A non-finite
norm is not an error; it makes the scaled gradients non-finite (as in Keras and
PyTorch's default), which ``TerminateOnNaN`` then notices in the loss.
"""

from __future__ import annotations

import math
import numbers

from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "check_threshold", "clip_by_norm", "clip_by_global_norm",
           "clip_by_value"]


def check_threshold(name: str, value, owner: str = "clip") -> float | None:
    """``value`` as a positive finite float (None stays None); a ValueError/TypeError otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a positive number or None, got {type(value).__name__}")
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{owner}: {name} must be a positive finite number, got {value}")
    return value


# -- array level (used by Optimizer.step; arrays of one backend module xp each) -------------------------
def _l2(xp, g):
    """||g||_2 as a 0-d array of g's dtype, on g's device."""
    return xp.sqrt(xp.sum(xp.square(g)))


def clip_by_norm(xp, g, clipnorm: float):
    """g * c / max(||g||_2, c): a new array, g untouched."""
    norm = _l2(xp, g)
    scale = (clipnorm / xp.maximum(norm, clipnorm)).astype(g.dtype)
    return g * scale


def clip_by_global_norm(pairs, clipnorm: float) -> list:
    """[(xp, g), ...] -> the g scaled together by c / max(N, c), N the global L2 norm. New arrays."""
    if not pairs:
        return []
    modules = {id(xp) for xp, _ in pairs}
    if len(modules) == 1:
        xp = pairs[0][0]
        # sum of squares in float64 so a float32 total does not lose the small gradients
        total = xp.sqrt(sum(xp.sum(xp.square(g), dtype="float64") for _, g in pairs))
        scale = clipnorm / xp.maximum(total, clipnorm)
        return [g * scale.astype(g.dtype) for _, g in pairs]
    # parameters on several backends: the per-backend partial sums meet on the host
    total = math.sqrt(sum(float(xp.sum(xp.square(g), dtype="float64")) for xp, g in pairs))
    scale = clipnorm / max(total, clipnorm) if math.isfinite(total) else float("nan")
    return [g * xp.asarray(scale, dtype=g.dtype) for xp, g in pairs]


def clip_by_value(xp, g, clipvalue: float):
    """min(max(g, -c), c): a new array."""
    return xp.clip(g, -clipvalue, clipvalue)


# -- tensor level: PyTorch's torch.nn.utils functions ------------------------------------------------
def _grads(parameters, owner):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    elif hasattr(parameters, "parameters") and callable(parameters.parameters):
        parameters = parameters.parameters()
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{owner}: parameters[{i}] must be a Tensor, got {type(p).__name__}")
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0) -> Tensor:
    """Scale the gradients of ``parameters`` in place so that their total norm is at most
    ``max_norm`` (torch.nn.utils.clip_grad_norm_)::

        N = (sum_i ||g_i||_p^p)^(1/p)   (p = norm_type; inf: max_i max |g_i|)
        g_i <- g_i * min(1, max_norm / (N + 1e-6))

    ``parameters``: a Tensor, an iterable of Tensors or a model; parameters without a
    gradient are skipped. Returns N, the norm before clipping, as a 0-d Tensor on the
    gradients' backend (``.item()`` for a float; no host round trip until then).
    """
    max_norm = check_threshold("max_norm", max_norm, "clip_grad_norm_")
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real) or not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be a positive number or inf, got {norm_type!r}")
    norm_type = float(norm_type)
    params = _grads(parameters, "clip_grad_norm_")
    if not params:
        from ..tensor import tensor

        return tensor(0.0)
    backends = {p.grad._backend.name for p in params}
    if len(backends) != 1:
        raise ValueError(f"clip_grad_norm_: the gradients live on several backends ({', '.join(sorted(backends))}); "
                         f"clip each backend's parameters separately")
    backend = params[0].grad._backend
    xp = backend.xp
    grads = [p.grad.data for p in params]
    if math.isinf(norm_type):
        total = xp.max(xp.stack([xp.max(xp.abs(g)).astype("float64") for g in grads]))
    else:
        total = sum(xp.sum(xp.abs(g).astype("float64") ** norm_type) for g in grads) ** (1.0 / norm_type)
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
    for p in params:
        g = p.grad.data
        # a new array in place of the old one: the gradient may share memory with the caller's data
        p.grad.data = g * coef.astype(g.dtype)
    return Tensor._make(xp.asarray(total), backend)


def clip_grad_value_(parameters, clip_value) -> None:
    """Clip every gradient of ``parameters`` element-wise to [-clip_value, clip_value], in place
    (torch.nn.utils.clip_grad_value_): g <- min(max(g, -c), c)."""
    clip_value = check_threshold("clip_value", clip_value, "clip_grad_value_")
    for p in _grads(parameters, "clip_grad_value_"):
        p.grad.data = clip_by_value(p.grad._backend.xp, p.grad.data, clip_value)
