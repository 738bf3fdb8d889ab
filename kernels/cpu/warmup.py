"""Compile every cpu kernel ahead of time (``fastnn.warmup()`` / ``fastnn warmup``).

Kernels otherwise compile lazily, on first use, and land in the on-disk cache. Warm-up
calls every kernel of this package once per dtype on tiny inputs, twice: once with the
parallel threshold at zero (so the threaded builds compile) and once with it out of
reach (the serial twins), covering every activation and optimizer option, so that no
later call compiles anything.
"""

from __future__ import annotations

import numpy as np

from ..contract import ACTIVATIONS
from . import PROVIDES, _jit


def _kernel(name):
    import importlib

    return getattr(importlib.import_module(f"{__package__}.{PROVIDES[name]}"), name)


def _calls(dtype):
    """(kernel name, thunk) pairs that exercise every compiled specialisation for ``dtype``."""
    rng = np.random.default_rng(0)

    def arr(*shape):
        return rng.standard_normal(shape).astype(dtype)

    k = _kernel
    x, w, b = arr(4, 6), arr(6, 5), arr(5)
    for act in ACTIVATIONS:
        y = k(f"{act}_fwd")(x, 0.1)
        yield f"{act}_fwd", lambda act=act: k(f"{act}_fwd")(x, 0.1)
        yield f"{act}_bwd", lambda act=act, y=y: k(f"{act}_bwd")(x, y, np.ones_like(y), 0.1)
    for act in (None, *ACTIVATIONS):
        for bias in (b, None):
            def linear(act=act, bias=bias):
                y, z = k("linear_fwd")(x, w, bias, act, 0.1)
                k("linear_bwd")(x, w, z, y, np.ones_like(y), act, 0.1, True, True, bias is not None)
            yield "linear", linear

    img, wk, bk = arr(2, 3, 6, 5), arr(4, 3, 3, 3), arr(4)
    stride, pad = (1, 1), (1, 1, 1, 1)

    def conv(x, w, bias, stride, pad, act):
        y, z, saved = k("conv2d_fwd")(x, w, bias, stride, pad, act, 0.1)
        k("conv2d_bwd")(x.shape, w, saved, z, y, np.ones_like(y), stride, pad, act, 0.1, True, True, bias is not None)
        kernel = w.shape[2:]
        k("col2im")(k("im2col")(x, kernel, stride, pad), x.shape, kernel, stride, pad)

    def convs(act):
        from . import conv as cpu_conv

        saved = cpu_conv.FORCED
        try:
            for algorithm in cpu_conv.ALGORITHMS:
                cpu_conv.FORCED = algorithm
                # the wide layout (a batch of small images), the batched one (one image), a 1x1 kernel
                for x, w in ((img, wk), (img[:1].copy(), wk), (img, arr(4, 3, 1, 1))):
                    for bias in (bk, None):
                        conv(x, w, bias, stride, pad if w.shape[2] > 1 else (0, 0, 0, 0), act)
        finally:
            cpu_conv.FORCED = saved
    for act in (None, *ACTIVATIONS):
        yield "conv2d", lambda act=act: convs(act)

    def pools():
        for window, step, pad in (((2, 2), (2, 2), (0, 0, 0, 0)), ((3, 3), (2, 2), (1, 1, 1, 1))):
            y, arg = k("max_pool2d_fwd")(img, window, step, pad)   # the 2x2 fast path, then the general one
            k("max_pool2d_bwd")(np.ones_like(y), arg, img.shape, window, step, pad)
        for include in (True, False):
            y = k("avg_pool2d_fwd")(img, (3, 3), (2, 2), (1, 1, 1, 1), include)
            k("avg_pool2d_bwd")(np.ones_like(y), img.shape, (3, 3), (2, 2), (1, 1, 1, 1), include)
    yield "pooling", pools

    def batchnorm():
        for xb in (arr(8, 3), img):
            c = xb.shape[1]
            gamma, beta = np.ones(c, dtype), np.zeros(c, dtype)
            rm, rv = np.zeros(c, dtype), np.ones(c, dtype)
            y, mean, invstd = k("batchnorm_fwd_train")(xb, gamma, beta, rm, rv, 0.1, 1e-5)
            k("batchnorm_bwd_train")(xb, gamma, mean, invstd, np.ones_like(y))
            k("batchnorm_fwd_eval")(xb, gamma, beta, rm, rv, 1e-5)
            k("batchnorm_bwd_eval")(xb, gamma, rm, rv, 1e-5, np.ones_like(y))
    yield "batchnorm", batchnorm

    logits, labels = arr(4, 7), np.array([0, 3, 6, 2], dtype=np.int64)
    yield "softmax_ce", lambda: (k("softmax_ce_fwd_bwd")(logits, labels, True),
                                 k("softmax_ce_soft_fwd_bwd")(logits, np.abs(logits), True))

    def dropout():
        k("philox_uint32")(7, 0, 9)
        y, mask = k("dropout_fwd")(x, 0.5, 7, 0)
        k("dropout_bwd")(np.ones_like(y), mask, 0.5)
    yield "dropout", dropout

    def optimizers():
        # fastnn.optim passes None for state it does not keep (no momentum, not centered,
        # no AMSGrad); each None/array combination is its own compiled specialisation.
        p, g = arr(10), arr(10)

        def z():
            return np.zeros(10, dtype)
        k("sgd_update")(p, g, None, 0.1, 0.0, 0.0, False, 0.0, True)
        k("sgd_update")(p, g, z(), 0.1, 0.9, 0.0, False, 0.01, True)
        k("sgd_update")(p, g, z(), 0.1, 0.9, 0.0, True, 0.0, False)
        k("rmsprop_update")(p, g, z(), None, None, 0.01, 0.99, 1e-8, 0.0, 0.0, False)
        k("rmsprop_update")(p, g, z(), z(), z(), 0.01, 0.99, 1e-8, 0.01, 0.9, True)
        k("rmsprop_update")(p, g, z(), None, z(), 0.01, 0.99, 1e-8, 0.0, 0.9, False)
        k("rmsprop_update")(p, g, z(), z(), None, 0.01, 0.99, 1e-8, 0.0, 0.0, True)
        k("adam_update")(p, g, z(), z(), None, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, False)
        k("adam_update")(p, g, z(), z(), z(), 2, 1e-3, 0.9, 0.999, 1e-8, 0.01, True, True)
    yield "optimizers", optimizers

    for name in ("softmax_fwd", "log_softmax_fwd"):
        if name in PROVIDES:
            yield name, lambda name=name: k(name.replace("_fwd", "_bwd"))(k(name)(logits), logits)


def run(dtypes=("float32", "float64"), verbose=False):
    saved = _jit.PARALLEL_MIN
    try:
        for threshold in (0, 1 << 62):  # threaded builds, then their serial twins
            _jit.PARALLEL_MIN = threshold
            for dtype in dtypes:
                for name, call in _calls(np.dtype(dtype)):
                    if verbose:
                        print(f"  {name} ({dtype}, {'parallel' if threshold == 0 else 'serial'})", flush=True)
                    call()
    finally:
        _jit.PARALLEL_MIN = saved
