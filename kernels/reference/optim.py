"""Optimizer updates, in place on the parameter p and its state (PyTorch's algorithms).

SGD:      d = g + wd p;  with momentum: buf = d on the first step, else buf = mu buf + (1 - dampening) d;
          d = d + mu buf (nesterov) or buf;   p -= lr d
RMSprop:  d = g + wd p;  v = alpha v + (1 - alpha) d^2;  centered: gavg = alpha gavg + (1 - alpha) d,
          avg = sqrt(v - gavg^2) + eps, else avg = sqrt(v) + eps;
          momentum: buf = mu buf + d / avg, p -= lr buf;  else p -= lr d / avg
Adam:     AdamW (decoupled): p *= 1 - lr wd, d = g;  Adam: d = g + wd p
          m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) d^2;  amsgrad: vmax = max(vmax, v), use vmax for v
          p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
"""

import math

import numpy as np


def sgd_update(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first_step):
    d = g + weight_decay * p if weight_decay else g
    if momentum:
        if first_step:
            buf[...] = d
        else:
            buf *= momentum
            buf += (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf
    p -= lr * d


def rmsprop_update(p, g, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum, centered):
    d = g + weight_decay * p if weight_decay else g
    square_avg *= alpha
    square_avg += (1 - alpha) * d * d
    if centered:
        grad_avg *= alpha
        grad_avg += (1 - alpha) * d
        avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = np.sqrt(square_avg) + eps
    if momentum > 0:
        buf *= momentum
        buf += d / avg
        p -= lr * buf
    else:
        p -= lr * (d / avg)


def adam_update(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                weight_decay, amsgrad, decoupled):
    if decoupled:
        p *= 1 - lr * weight_decay
        d = g
    else:
        d = g + weight_decay * p if weight_decay else g
    exp_avg *= beta1
    exp_avg += (1 - beta1) * d
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * d * d
    second = exp_avg_sq
    if amsgrad:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second = max_exp_avg_sq
    bias1 = 1 - beta1**step
    bias2_sqrt = math.sqrt(1 - beta2**step)
    p -= (lr / bias1) * (exp_avg / (np.sqrt(second) / bias2_sqrt + eps))
