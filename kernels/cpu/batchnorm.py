"""Batch normalisation over axis 1 of (N, C) or (N, C, H, W) (Numba cpu backend);
semantics of ``kernels/reference/batchnorm.py``. Per channel c, over its m = N*H*W values:

Train forward:  mu = mean(x),  var = mean((x - mu)^2)  (biased),  invstd = 1 / sqrt(var + eps)
                y = (x - mu) (invstd gamma) + beta
                running_mean <- (1 - momentum) running_mean + momentum mu
                running_var  <- (1 - momentum) running_var  + momentum var m / (m - 1)
Eval forward:   y = (x - running_mean) (gamma / sqrt(running_var + eps)) + beta
Train backward: dbeta = sum dy,  dgamma = invstd sum dy (x - mu),
                dx = gamma invstd (dy - dbeta / m - (x - mu) invstd dgamma / m)
Eval backward:  dx = dy gamma / sqrt(running_var + eps),  dgamma = sum dy xhat_running,  dbeta = sum dy

Statistics in one pass: with a per-channel shift s (the channel's first value),
    S1 = sum (x - s),  S2 = sum (x - s)^2,   mu = s + S1/m,  var = S2/m - (S1/m)^2,
accumulated in float64. The shift keeps the one-pass formula accurate when |mu| >> std
(the cancellation is in terms of (mu - s)^2 / var, not mu^2 / var); float64 sums keep
float32 inputs exact to well below their own rounding.

Layouts. (N, C, H, W) is parallel over channels: one iteration reads its channel
(N strided blocks of H*W) for the statistics and, while that channel is still in L2,
writes y (forward) or dx (backward) in a second pass; the running-statistics update is
done by the same iteration. (N, C) with few channels and many rows would leave threads
idle that way and read with stride C, so it is split by row blocks instead: each block
accumulates per-channel partial sums (contiguous rows, vectorised over C), the partials
are combined per channel, and a second pass over row blocks writes the output.
"""

import math

import numpy as np

from ._jit import dual, prange

#: rows per block of the (N, C) kernels: enough work per block to amortise a task,
#: small enough that 2 threads get a balanced share of a few thousand rows.
_ROWS = 256


def _as3d(x):
    return x.reshape(x.shape[0], x.shape[1], -1)


# ----------------------------------------------------------------------------- (N, C, L), L > 1


@dual
def _fwd_train_ncl(x, gamma, beta, rmean, rvar, momentum, eps, y, mean_out, invstd_out):
    n, c, l = x.shape
    m = n * l
    for ch in prange(c):
        s = x[0, ch, 0]
        s1 = 0.0
        s2 = 0.0
        for i in range(n):
            for k in range(l):
                d = x[i, ch, k] - s
                s1 += d
                s2 += d * d
        dm = s1 / m
        var = s2 / m - dm * dm
        if var < 0.0:  # rounding only; NaN passes through
            var = 0.0
        mu = s + dm
        inv = 1.0 / math.sqrt(var + eps)
        mean_out[ch] = mu
        invstd_out[ch] = inv
        rmean[ch] = (1.0 - momentum) * rmean[ch] + momentum * mu
        rvar[ch] = (1.0 - momentum) * rvar[ch] + momentum * var * (m / (m - 1.0))
        # The elementwise pass in the input dtype, in the reference's order of operations.
        mu_t = mean_out[ch]
        a = invstd_out[ch] * gamma[ch]
        b = beta[ch]
        for i in range(n):
            for k in range(l):
                y[i, ch, k] = (x[i, ch, k] - mu_t) * a + b


@dual
def _bwd_train_ncl(x, gamma, mean, invstd, gy, gx, ggamma, gbeta, coef):
    n, c, l = x.shape
    m = n * l
    for ch in prange(c):
        mu = mean[ch]
        sdy = 0.0
        sdyx = 0.0
        for i in range(n):  # both reductions in one pass
            for k in range(l):
                g = gy[i, ch, k]
                sdy += g
                sdyx += g * (x[i, ch, k] - mu)
        inv = invstd[ch]
        gg = sdyx * inv
        gbeta[ch] = sdy
        ggamma[ch] = gg
        # Coefficients rounded to the array dtype (through coef, this channel's row),
        # so the elementwise pass runs in that dtype.
        coef[ch, 0] = gamma[ch] * inv
        coef[ch, 1] = sdy / m
        coef[ch, 2] = inv * gg / m
        a = coef[ch, 0]
        b1 = coef[ch, 1]
        b2 = coef[ch, 2]
        for i in range(n):
            for k in range(l):
                gx[i, ch, k] = a * (gy[i, ch, k] - b1 - (x[i, ch, k] - mu) * b2)


@dual
def _bwd_eval_ncl(x, scale, rmean, invstd, gy, gx, ggamma, gbeta):
    n, c, l = x.shape
    for ch in prange(c):
        mu = rmean[ch]
        a = scale[ch]
        sdy = 0.0
        sdyx = 0.0
        for i in range(n):  # dx and both reductions in one pass
            for k in range(l):
                g = gy[i, ch, k]
                gx[i, ch, k] = g * a
                sdy += g
                sdyx += g * (x[i, ch, k] - mu)
        gbeta[ch] = sdy
        ggamma[ch] = sdyx * invstd[ch]


@dual
def _affine_ncl(x, shift, scale, beta, y):
    # y = (x - shift[c]) * scale[c] + beta[c], parallel over the N*C rows of length L.
    n, c, l = x.shape
    for r in prange(n * c):
        i = r // c
        ch = r - i * c
        s = shift[ch]
        a = scale[ch]
        b = beta[ch]
        for k in range(l):
            y[i, ch, k] = (x[i, ch, k] - s) * a + b


# ----------------------------------------------------------------------------- (N, C)


@dual
def _partial_sums(x, shift, part1, part2, rows):
    # part1[b, c] = sum over the rows of block b of (x - shift[c]); part2 likewise
    # for the square (or, for the backward, of gy and gy * (x - mean): see callers).
    n, c = x.shape
    nb = part1.shape[0]
    for blk in prange(nb):
        for r in range(blk * rows, min(n, (blk + 1) * rows)):
            for ch in range(c):
                d = x[r, ch] - shift[ch]
                part1[blk, ch] += d
                part2[blk, ch] += d * d


@dual
def _partial_grad_sums(x, mean, gy, part1, part2, rows):
    n, c = x.shape
    nb = part1.shape[0]
    for blk in prange(nb):
        for r in range(blk * rows, min(n, (blk + 1) * rows)):
            for ch in range(c):
                g = gy[r, ch]
                part1[blk, ch] += g
                part2[blk, ch] += g * (x[r, ch] - mean[ch])


@dual
def _affine_nc(x, shift, scale, beta, y, rows):
    n, c = x.shape
    nb = (n + rows - 1) // rows
    for blk in prange(nb):
        for r in range(blk * rows, min(n, (blk + 1) * rows)):
            for ch in range(c):
                y[r, ch] = (x[r, ch] - shift[ch]) * scale[ch] + beta[ch]


@dual
def _dx_train_nc(x, mean, a, b1, b2, gy, gx, rows):
    n, c = x.shape
    nb = (n + rows - 1) // rows
    for blk in prange(nb):
        for r in range(blk * rows, min(n, (blk + 1) * rows)):
            for ch in range(c):
                gx[r, ch] = a[ch] * (gy[r, ch] - b1[ch] - (x[r, ch] - mean[ch]) * b2[ch])


def _blocks(n):
    return (n + _ROWS - 1) // _ROWS


# ----------------------------------------------------------------------------- contract


def batchnorm_fwd_train(x, gamma, beta, running_mean, running_var, momentum, eps):
    c = x.shape[1]
    y = np.empty_like(x)
    mean = np.empty(c, dtype=x.dtype)
    invstd = np.empty(c, dtype=x.dtype)
    if x.ndim > 2 and x.size // (x.shape[0] * c) > 1:
        _fwd_train_ncl(x.size, _as3d(x), gamma, beta, running_mean, running_var, float(momentum), float(eps),
                       _as3d(y), mean, invstd)
        return y, mean, invstd
    x2 = x.reshape(x.shape[0], c)
    n = x2.shape[0]
    shift = x2[0].copy()
    p1 = np.zeros((_blocks(n), c))
    p2 = np.zeros((_blocks(n), c))
    _partial_sums(x2.size, x2, shift, p1, p2, _ROWS)
    dm = p1.sum(axis=0) / n  # float64, C values
    var = np.maximum(p2.sum(axis=0) / n - dm * dm, 0.0)  # clamps rounding; NaN stays NaN
    mu = shift + dm
    mean[:] = mu
    invstd[:] = 1.0 / np.sqrt(var + eps)
    running_mean[:] = (1.0 - momentum) * running_mean + momentum * mu
    running_var[:] = (1.0 - momentum) * running_var + momentum * var * (n / (n - 1.0))
    _affine_nc(x2.size, x2, mean, invstd * gamma, beta, y.reshape(n, c), _ROWS)
    return y, mean, invstd


def batchnorm_fwd_eval(x, gamma, beta, running_mean, running_var, eps):
    if x.size == 0:  # an empty batch (or no channel, or empty images): nothing to write
        return np.empty_like(x)
    c = x.shape[1]
    scale = gamma / np.sqrt(running_var + eps)  # C values, as the reference forms them
    y = np.empty_like(x)
    if x.ndim > 2 and x.size // (x.shape[0] * c) > 1:
        _affine_ncl(x.size, _as3d(x), running_mean, scale, beta, _as3d(y))
    else:
        _affine_nc(x.size, x.reshape(x.shape[0], c), running_mean, scale, beta, y.reshape(x.shape[0], c), _ROWS)
    return y


def batchnorm_bwd_train(x, gamma, mean, invstd, gy):
    c = x.shape[1]
    gx = np.empty_like(gy)
    ggamma = np.empty(c, dtype=gy.dtype)
    gbeta = np.empty(c, dtype=gy.dtype)
    if x.ndim > 2 and x.size // (x.shape[0] * c) > 1:
        coef = np.empty((c, 3), dtype=gy.dtype)
        _bwd_train_ncl(x.size, _as3d(x), gamma, mean, invstd, _as3d(gy), _as3d(gx), ggamma, gbeta, coef)
        return gx, ggamma, gbeta
    x2, g2 = x.reshape(x.shape[0], c), gy.reshape(x.shape[0], c)
    n = x2.shape[0]
    p1 = np.zeros((_blocks(n), c))
    p2 = np.zeros((_blocks(n), c))
    _partial_grad_sums(x2.size, x2, mean, g2, p1, p2, _ROWS)
    sdy = p1.sum(axis=0)
    gg = p2.sum(axis=0) * invstd
    gbeta[:] = sdy
    ggamma[:] = gg
    a = (gamma * invstd).astype(gy.dtype)
    b1 = (sdy / n).astype(gy.dtype)
    b2 = (invstd * gg / n).astype(gy.dtype)
    _dx_train_nc(x2.size, x2, mean, a, b1, b2, g2, gx.reshape(n, c), _ROWS)
    return gx, ggamma, gbeta


def batchnorm_bwd_eval(x, gamma, running_mean, running_var, eps, gy):
    c = x.shape[1]
    if x.size == 0:  # sums over no value: zero gradients for gamma and beta
        return np.empty_like(gy), np.zeros(c, dtype=gy.dtype), np.zeros(c, dtype=gy.dtype)
    invstd = 1 / np.sqrt(running_var + eps)
    scale = gamma * invstd
    gx = np.empty_like(gy)
    ggamma = np.empty(c, dtype=gy.dtype)
    gbeta = np.empty(c, dtype=gy.dtype)
    if x.ndim > 2 and x.size // (x.shape[0] * c) > 1:
        _bwd_eval_ncl(x.size, _as3d(x), scale, running_mean, invstd, _as3d(gy), _as3d(gx), ggamma, gbeta)
        return gx, ggamma, gbeta
    x2, g2 = x.reshape(x.shape[0], c), gy.reshape(x.shape[0], c)
    n = x2.shape[0]
    p1 = np.zeros((_blocks(n), c))
    p2 = np.zeros((_blocks(n), c))
    _partial_grad_sums(x2.size, x2, running_mean, g2, p1, p2, _ROWS)
    gbeta[:] = p1.sum(axis=0)
    ggamma[:] = p2.sum(axis=0) * invstd
    zero = np.zeros(c, dtype=gy.dtype)
    _affine_nc(g2.size, g2, zero, scale, zero, gx.reshape(n, c), _ROWS)
    return gx, ggamma, gbeta
