"""Optimizer updates (Numba), one fused in-place pass over p and its state (PyTorch's rules).

SGD:      d = g + wd p;  with momentum: buf = d on the first step, else buf = mu buf + (1 - dampening) d;
          d = d + mu buf (nesterov) or buf;   p -= lr d
RMSprop:  d = g + wd p;  v = alpha v + (1 - alpha) d^2;  centered: gavg = alpha gavg + (1 - alpha) d,
          avg = sqrt(v - gavg^2) + eps, else avg = sqrt(v) + eps;
          momentum: buf = mu buf + d / avg, p -= lr buf;  else p -= lr d / avg
Adam:     AdamW (decoupled): p *= 1 - lr wd, d = g;  Adam: d = g + wd p
          m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) d^2;  amsgrad: vmax = max(vmax, v), use vmax for v
          p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

The reference runs these as a sequence of NumPy array operations, each a pass over
memory with Python scalars rounded to the array's dtype (NEP 50); here every element is
read and written once. The wrappers round the scalar coefficients (1 - alpha, lr / (1 -
b1^t), ...) to the parameter's dtype exactly as the reference's expressions do, so
float32 updates are computed in float32. Arrays of any shape are flattened with
reshape(-1) (views: parameters and state are C-contiguous). State arrays the optimizer
does not create (``buf`` without momentum, ``grad_avg`` when not centered,
``max_exp_avg_sq`` without AMSGrad) arrive as None and are replaced by an empty array
the kernel never touches. Options are loop-invariant flags; weight decay 0 leaves
d = g exactly (as the reference does: no 0 * p, which would turn an inf p into NaN).
"""

import math

from ._jit import dual, prange


def _flat(a, like):
    return like[:0] if a is None else a.reshape(-1)


@dual
def _sgd(p, g, buf, lr, momentum, one_minus_damp, nesterov, wd, first_step):
    for i in prange(p.shape[0]):
        d = g[i]
        if wd != 0:
            d = d + wd * p[i]
        if momentum != 0:
            if first_step:
                b = d
            else:
                b = momentum * buf[i] + one_minus_damp * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        p[i] -= lr * d


def sgd_update(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first_step):
    t = p.dtype.type
    pf = p.reshape(-1)
    _sgd(p.size, pf, g.reshape(-1), _flat(buf, pf), t(lr), t(momentum), t(1 - dampening), bool(nesterov),
         t(weight_decay), bool(first_step))


@dual
def _rmsprop(p, g, sq, gavg, buf, lr, alpha, one_minus_alpha, eps, wd, momentum, centered):
    for i in prange(p.shape[0]):
        d = g[i]
        if wd != 0:
            d = d + wd * p[i]
        v = alpha * sq[i] + one_minus_alpha * d * d
        sq[i] = v
        if centered:
            a = alpha * gavg[i] + one_minus_alpha * d
            gavg[i] = a
            avg = math.sqrt(v - a * a) + eps
        else:
            avg = math.sqrt(v) + eps
        if momentum > 0:
            b = momentum * buf[i] + d / avg
            buf[i] = b
            p[i] -= lr * b
        else:
            p[i] -= lr * (d / avg)


def rmsprop_update(p, g, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum, centered):
    t = p.dtype.type
    pf = p.reshape(-1)
    _rmsprop(p.size, pf, g.reshape(-1), square_avg.reshape(-1), _flat(grad_avg, pf), _flat(buf, pf), t(lr),
             t(alpha), t(1 - alpha), t(eps), t(weight_decay), t(momentum), bool(centered))


@dual
def _adam(p, g, m, v, vmax, step_size, beta1, one_minus_b1, beta2, one_minus_b2, bias2_sqrt, eps, wd,
          p_scale, amsgrad, decoupled):
    for i in prange(p.shape[0]):
        d = g[i]
        if decoupled:
            p[i] *= p_scale
        elif wd != 0:
            d = d + wd * p[i]
        mi = beta1 * m[i] + one_minus_b1 * d
        m[i] = mi
        vi = beta2 * v[i] + one_minus_b2 * d * d
        v[i] = vi
        if amsgrad:
            # np.maximum propagates NaN; so does this select (NaN > x is false only for x).
            mx = vmax[i]
            mx = vi if (vi > mx or vi != vi) else mx
            vmax[i] = mx
            vi = mx
        p[i] -= step_size * (mi / (math.sqrt(vi) / bias2_sqrt + eps))


def adam_update(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                weight_decay, amsgrad, decoupled):
    t = p.dtype.type
    pf = p.reshape(-1)
    bias1 = 1 - beta1**step
    bias2_sqrt = math.sqrt(1 - beta2**step)
    _adam(p.size, pf, g.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1), _flat(max_exp_avg_sq, pf),
          t(lr / bias1), t(beta1), t(1 - beta1), t(beta2), t(1 - beta2), t(bias2_sqrt), t(eps), t(weight_decay),
          t(1 - lr * weight_decay), bool(amsgrad), bool(decoupled))
