"""Optimizer updates in place, one elementwise launch per parameter (formulas:
kernels/reference/optim.py; the operation order follows it so roundings agree).
Hyperparameter arithmetic (bias corrections, 1 - beta) is done once on the host."""

import math

from ._rt import elementwise


def sgd_update(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first_step):
    if momentum:
        elementwise("fastnn_sgd_momentum", p.dtype)(
            p.size, g, lr, momentum, 1 - dampening, weight_decay, bool(weight_decay), bool(nesterov),
            bool(first_step), p, buf)
    else:
        elementwise("fastnn_sgd", p.dtype)(p.size, g, lr, weight_decay, bool(weight_decay), p)


def rmsprop_update(p, g, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum, centered):
    use_momentum = momentum > 0
    elementwise("fastnn_rmsprop", p.dtype)(
        p.size, g, lr, alpha, 1 - alpha, eps, weight_decay, bool(weight_decay), momentum, use_momentum,
        bool(centered), p, square_avg, grad_avg if centered else p, buf if use_momentum else p)


def adam_update(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                weight_decay, amsgrad, decoupled):
    bias1 = 1 - beta1**step
    bias2_sqrt = math.sqrt(1 - beta2**step)
    elementwise("fastnn_adam", p.dtype)(
        p.size, g, 1 - lr * weight_decay, bool(decoupled), weight_decay, bool(weight_decay), beta1, 1 - beta1,
        beta2, 1 - beta2, lr / bias1, bias2_sqrt, eps, bool(amsgrad), p, exp_avg, exp_avg_sq,
        max_exp_avg_sq if amsgrad else p)
