"""The NumPy reference kernels (the executable specification) against independent naive
implementations: explicit Python loops over output cells, textbook formulas evaluated
with the ``math`` module, and hand-computed values at extreme inputs."""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F
from fastnn.kernels import contract
from fastnn.kernels.reference import activations as act
from fastnn.kernels.reference import batchnorm as bn
from fastnn.kernels.reference import conv, embedding, linear, losses, optim, pooling, softmax
from fastnn.kernels.reference.special import erf


@pytest.fixture(autouse=True)
def _numpy_backend():
    with fnn.use_backend("numpy"):
        yield


def rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------
# naive helpers
# ---------------------------------------------------------------------------------------------

def naive_pad(x, pad, value=0.0):
    n, c, h, w = x.shape
    pt, pb, pl, pr = pad
    out = np.full((n, c, h + pt + pb, w + pl + pr), value, dtype=np.float64)
    for a, b, i, j in itertools.product(range(n), range(c), range(h), range(w)):
        out[a, b, i + pt, j + pl] = x[a, b, i, j]
    return out


def out_size(size, k, s, lo, hi):
    return (size + lo + hi - k) // s + 1


def naive_conv2d(x, w, b, stride, pad):
    xp = naive_pad(x, pad)
    n, c = x.shape[:2]
    f, _, kh, kw = w.shape
    oh = out_size(x.shape[2], kh, stride[0], pad[0], pad[1])
    ow = out_size(x.shape[3], kw, stride[1], pad[2], pad[3])
    y = np.zeros((n, f, oh, ow))
    for a, o, i, j in itertools.product(range(n), range(f), range(oh), range(ow)):
        s = 0.0 if b is None else float(b[o])
        for ch, p, q in itertools.product(range(c), range(kh), range(kw)):
            s += w[o, ch, p, q] * xp[a, ch, i * stride[0] + p, j * stride[1] + q]
        y[a, o, i, j] = s
    return y


def naive_conv2d_bwd(x, w, gy, stride, pad):
    xp = naive_pad(x, pad)
    gxp = np.zeros_like(xp)
    gw = np.zeros(w.shape)
    n, c = x.shape[:2]
    f, _, kh, kw = w.shape
    _, _, oh, ow = gy.shape
    for a, o, i, j in itertools.product(range(n), range(f), range(oh), range(ow)):
        for ch, p, q in itertools.product(range(c), range(kh), range(kw)):
            r, s = i * stride[0] + p, j * stride[1] + q
            gw[o, ch, p, q] += gy[a, o, i, j] * xp[a, ch, r, s]
            gxp[a, ch, r, s] += gy[a, o, i, j] * w[o, ch, p, q]
    gb = np.array([gy[:, o].sum() for o in range(f)])
    pt, _, pl, _ = pad
    gx = gxp[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]]
    return gx, gw, gb


CONV_CONFIGS = [
    # x shape, w shape, stride, pad (top, bottom, left, right)
    ((2, 3, 5, 6), (4, 3, 3, 3), (1, 1), (0, 0, 0, 0)),
    ((2, 2, 7, 6), (3, 2, 3, 3), (2, 1), (1, 1, 1, 1)),
    ((1, 2, 5, 7), (2, 2, 2, 4), (1, 1), (0, 1, 1, 2)),   # "same" with an even kernel
    ((2, 3, 6, 5), (2, 3, 3, 2), (3, 2), (2, 0, 1, 1)),   # stride leaves rows unused
    ((1, 1, 4, 4), (1, 1, 4, 4), (1, 1), (0, 0, 0, 0)),   # kernel as large as the input
]


@pytest.mark.parametrize("x_shape,w_shape,stride,pad", CONV_CONFIGS)
def test_conv2d_forward_and_backward_match_loops(x_shape, w_shape, stride, pad):
    r = rng(1)
    x, w, b = r.standard_normal(x_shape), r.standard_normal(w_shape), r.standard_normal(w_shape[0])
    y, z, cols = conv.conv2d_fwd(x, w, b, stride, pad, None, 0.0)
    assert z is None
    np.testing.assert_allclose(y, naive_conv2d(x, w, b, stride, pad), rtol=1e-12, atol=1e-12)
    y_nobias, _, _ = conv.conv2d_fwd(x, w, None, stride, pad, None, 0.0)
    np.testing.assert_allclose(y_nobias, naive_conv2d(x, w, None, stride, pad), rtol=1e-12, atol=1e-12)

    gy = r.standard_normal(y.shape)
    gx, gw, gb = conv.conv2d_bwd(x.shape, w, cols, None, None, gy, stride, pad, None, 0.0, True, True, True)
    ex, ew, eb = naive_conv2d_bwd(x, w, gy, stride, pad)
    np.testing.assert_allclose(gx, ex, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gw, ew, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb, eb, rtol=1e-12, atol=1e-12)
    assert gx.shape == x.shape and gw.shape == w.shape and gb.shape == (w.shape[0],)

    none = conv.conv2d_bwd(x.shape, w, cols, None, None, gy, stride, pad, None, 0.0, False, False, False)
    assert none == (None, None, None)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "softplus"])
def test_conv2d_fused_activation_is_the_activation_of_the_convolution(activation):
    """y = act(conv(x)); the gradient is that of the convolution at act'(z) * gy."""
    r = rng(3)
    x, w, b = r.standard_normal((2, 3, 6, 5)), r.standard_normal((4, 3, 3, 3)), r.standard_normal(4)
    stride, pad, alpha = (1, 1), (1, 0, 2, 1), 0.2
    z_want = naive_conv2d(x, w, b, stride, pad)
    y_want = getattr(act, f"{activation}_fwd")(z_want, alpha)
    y, z, cols = conv.conv2d_fwd(x, w, b, stride, pad, activation, alpha)
    np.testing.assert_allclose(y, y_want, rtol=1e-12, atol=1e-12)
    gy = r.standard_normal(y.shape)
    gz = getattr(act, f"{activation}_bwd")(z_want, y_want, gy, alpha)
    got = conv.conv2d_bwd(x.shape, w, cols, z, y, gy, stride, pad, activation, alpha, True, True, True)
    for g, e in zip(got, naive_conv2d_bwd(x, w, gz, stride, pad)):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


def test_conv2d_float32_keeps_dtype():
    r = rng(2)
    x, w, b = (r.standard_normal(s).astype(np.float32) for s in ((2, 3, 5, 5), (2, 3, 3, 3), (2,)))
    y, _, cols = conv.conv2d_fwd(x, w, b, (1, 1), (1, 1, 1, 1), None, 0.0)
    assert y.dtype == np.float32 and cols.dtype == np.float32
    np.testing.assert_allclose(y, naive_conv2d(x, w, b, (1, 1), (1, 1, 1, 1)), rtol=1e-5, atol=1e-5)
    gx, gw, gb = conv.conv2d_bwd(x.shape, w, cols, None, None, np.ones_like(y), (1, 1), (1, 1, 1, 1), None, 0.0,
                                 True, True, True)
    assert gx.dtype == gw.dtype == gb.dtype == np.float32


def naive_im2col(x, kernel, stride, pad):
    xp = naive_pad(x, pad)
    n, c = x.shape[:2]
    kh, kw = kernel
    oh = out_size(x.shape[2], kh, stride[0], pad[0], pad[1])
    ow = out_size(x.shape[3], kw, stride[1], pad[2], pad[3])
    cols = np.zeros((n, c * kh * kw, oh * ow))
    for a, ch, p, q, i, j in itertools.product(range(n), range(c), range(kh), range(kw), range(oh), range(ow)):
        cols[a, (ch * kh + p) * kw + q, i * ow + j] = xp[a, ch, i * stride[0] + p, j * stride[1] + q]
    return cols


@pytest.mark.parametrize("x_shape,w_shape,stride,pad", CONV_CONFIGS)
def test_im2col_layout_and_col2im_is_its_adjoint(x_shape, w_shape, stride, pad):
    r = rng(3)
    kernel = w_shape[2:]
    x = r.standard_normal(x_shape)
    cols = conv.im2col(x, kernel, stride, pad)
    np.testing.assert_array_equal(cols, naive_im2col(x, kernel, stride, pad))
    assert cols.flags.c_contiguous

    c = r.standard_normal(cols.shape)
    back = conv.col2im(c, x_shape, kernel, stride, pad)
    assert back.shape == x_shape and back.flags.c_contiguous
    # <im2col(x), c> == <x, col2im(c)>
    assert math.isclose(float((cols * c).sum()), float((x * back).sum()), rel_tol=1e-12, abs_tol=1e-12)

    # col2im(im2col(x)) multiplies every pixel by the number of windows that cover it
    cover = naive_im2col(np.ones(x_shape), kernel, stride, pad)
    counts = np.zeros(x_shape)
    xp_shape = (x_shape[2] + pad[0] + pad[1], x_shape[3] + pad[2] + pad[3])
    oh, ow = out_size(x_shape[2], kernel[0], stride[0], pad[0], pad[1]), out_size(x_shape[3], kernel[1], stride[1],
                                                                                    pad[2], pad[3])
    for i, j, p, q in itertools.product(range(oh), range(ow), range(kernel[0]), range(kernel[1])):
        r_, s_ = i * stride[0] + p - pad[0], j * stride[1] + q - pad[2]
        if 0 <= r_ < x_shape[2] and 0 <= s_ < x_shape[3]:
            counts[:, :, r_, s_] += 1
    assert xp_shape[0] >= x_shape[2] and cover.sum() == counts.sum()
    np.testing.assert_allclose(conv.col2im(cols, x_shape, kernel, stride, pad), x * counts, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------------

def naive_max_pool(x, kernel, stride, pad):
    n, c, h, w = x.shape
    kh, kw = kernel
    oh, ow = out_size(h, kh, stride[0], pad[0], pad[1]), out_size(w, kw, stride[1], pad[2], pad[3])
    y = np.zeros((n, c, oh, ow))
    arg = np.zeros((n, c, oh, ow), dtype=np.int64)
    src = {}
    for a, ch, i, j in itertools.product(range(n), range(c), range(oh), range(ow)):
        best, where, pos = None, None, None
        for p, q in itertools.product(range(kh), range(kw)):
            r, s = i * stride[0] + p - pad[0], j * stride[1] + q - pad[2]
            v = x[a, ch, r, s] if 0 <= r < h and 0 <= s < w else -math.inf
            if best is None or v > best:   # strict: the first maximum wins
                best, where, pos = v, p * kw + q, (r, s)
        y[a, ch, i, j], arg[a, ch, i, j] = best, where
        src[a, ch, i, j] = pos
    return y, arg, src


def naive_max_pool_bwd(gy, src, x_shape):
    gx = np.zeros(x_shape)
    for (a, ch, i, j), (r, s) in src.items():
        gx[a, ch, r, s] += gy[a, ch, i, j]
    return gx


def naive_avg_pool(x, kernel, stride, pad, include):
    n, c, h, w = x.shape
    kh, kw = kernel
    oh, ow = out_size(h, kh, stride[0], pad[0], pad[1]), out_size(w, kw, stride[1], pad[2], pad[3])
    y = np.zeros((n, c, oh, ow))
    cells = {}
    for i, j in itertools.product(range(oh), range(ow)):
        inside = [(i * stride[0] + p - pad[0], j * stride[1] + q - pad[2])
                  for p, q in itertools.product(range(kh), range(kw))]
        inside = [(r, s) for r, s in inside if 0 <= r < h and 0 <= s < w]
        d = kh * kw if include else len(inside)
        cells[i, j] = (inside, d)
        for a, ch in itertools.product(range(n), range(c)):
            y[a, ch, i, j] = sum(x[a, ch, r, s] for r, s in inside) / d
    return y, cells


def naive_avg_pool_bwd(gy, cells, x_shape):
    gx = np.zeros(x_shape)
    for (i, j), (inside, d) in cells.items():
        for r, s in inside:
            gx[:, :, r, s] += gy[:, :, i, j] / d
    return gx


POOL_CONFIGS = [
    # kernel, stride, pad
    ((2, 2), (2, 2), (0, 0, 0, 0)),
    ((3, 3), (2, 2), (1, 1, 1, 1)),
    ((3, 2), (1, 2), (1, 1, 0, 0)),
    ((3, 3), (1, 1), (0, 1, 1, 0)),   # asymmetric, overlapping
    ((2, 3), (2, 1), (1, 0, 1, 1)),
    ((4, 4), (3, 3), (2, 2, 2, 2)),
]


@pytest.mark.parametrize("kernel,stride,pad", POOL_CONFIGS)
def test_max_pool_matches_loops(kernel, stride, pad):
    r = rng(4)
    x = r.standard_normal((2, 3, 7, 6))
    y, argmax = pooling.max_pool2d_fwd(x, kernel, stride, pad)
    ey, earg, src = naive_max_pool(x, kernel, stride, pad)
    np.testing.assert_array_equal(y, ey)
    np.testing.assert_array_equal(argmax, earg)
    assert argmax.dtype == np.int64 and y.flags.c_contiguous
    gy = r.standard_normal(y.shape)
    gx = pooling.max_pool2d_bwd(gy, argmax, x.shape, kernel, stride, pad)
    np.testing.assert_allclose(gx, naive_max_pool_bwd(gy, src, x.shape), rtol=1e-13, atol=1e-13)


def test_max_pool_ties_go_to_the_first_real_cell_of_the_window():
    x = np.zeros((1, 1, 4, 4))
    y, argmax = pooling.max_pool2d_fwd(x, (3, 3), (2, 2), (1, 1, 1, 1))
    np.testing.assert_array_equal(y, np.zeros((1, 1, 2, 2)))
    # window (0,0) starts in the padding: its first real cell is offset (1,1) -> 4; the others start inside
    # (window (0,1) covers padded row -1: first real cell is (1, 0) -> 3; window (1,0): (0, 1) -> 1)
    np.testing.assert_array_equal(argmax[0, 0], [[4, 3], [1, 0]])
    gx = pooling.max_pool2d_bwd(np.ones((1, 1, 2, 2)), argmax, x.shape, (3, 3), (2, 2), (1, 1, 1, 1))
    expected = np.zeros((4, 4))
    expected[0, 0] = expected[0, 1] = expected[1, 0] = expected[1, 1] = 1
    np.testing.assert_array_equal(gx[0, 0], expected)


def test_max_pool_padding_never_wins_over_negative_inputs():
    x = -np.arange(1, 17, dtype=np.float64).reshape(1, 1, 4, 4) - 100
    y, _ = pooling.max_pool2d_fwd(x, (3, 3), (1, 1), (1, 1, 1, 1))
    assert (y <= -100).all()
    assert y[0, 0, 0, 0] == -101  # max of x[0:2, 0:2] = -101


@pytest.mark.parametrize("kernel,stride,pad", POOL_CONFIGS)
@pytest.mark.parametrize("include", [True, False])
def test_avg_pool_matches_loops(kernel, stride, pad, include):
    r = rng(5)
    x = r.standard_normal((2, 2, 7, 6))
    y = pooling.avg_pool2d_fwd(x, kernel, stride, pad, include)
    ey, cells = naive_avg_pool(x, kernel, stride, pad, include)
    np.testing.assert_allclose(y, ey, rtol=1e-13, atol=1e-13)
    gy = r.standard_normal(y.shape)
    gx = pooling.avg_pool2d_bwd(gy, x.shape, kernel, stride, pad, include)
    np.testing.assert_allclose(gx, naive_avg_pool_bwd(gy, cells, x.shape), rtol=1e-13, atol=1e-13)


def test_avg_pool_count_include_pad_hand_values():
    x = np.ones((1, 1, 2, 2))
    inc = pooling.avg_pool2d_fwd(x, (3, 3), (1, 1), (1, 1, 1, 1), True)
    exc = pooling.avg_pool2d_fwd(x, (3, 3), (1, 1), (1, 1, 1, 1), False)
    np.testing.assert_allclose(inc, np.full((1, 1, 2, 2), 4 / 9))   # 4 ones and 5 padded zeros
    np.testing.assert_allclose(exc, np.ones((1, 1, 2, 2)))          # mean of the 4 real cells
    x32 = x.astype(np.float32)
    assert pooling.avg_pool2d_fwd(x32, (3, 3), (1, 1), (1, 1, 1, 1), False).dtype == np.float32


def test_functional_avg_pool_default_count_include_pad():
    x = fnn.tensor(np.ones((1, 1, 3, 3)))
    # numeric padding counts the zeros (PyTorch), "same" does not (Keras)
    corner_numeric = F.avg_pool2d(x, 3, stride=1, padding=1).numpy()[0, 0, 0, 0]
    corner_same = F.avg_pool2d(x, 3, stride=1, padding="same").numpy()[0, 0, 0, 0]
    assert math.isclose(corner_numeric, 4 / 9) and math.isclose(corner_same, 1.0)
    forced = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False).numpy()
    np.testing.assert_allclose(forced, np.ones((1, 1, 3, 3)))


def test_functional_same_padding_follows_tensorflow():
    r = rng(6)
    x = r.standard_normal((1, 2, 5, 6))
    w = r.standard_normal((3, 2, 2, 4))
    y = F.conv2d(fnn.tensor(x), fnn.tensor(w), padding="same").numpy()
    # total padding rows 1 -> (0 top, 1 bottom); cols 3 -> (1 left, 2 right)
    np.testing.assert_allclose(y, naive_conv2d(x, w, None, (1, 1), (0, 1, 1, 2)), rtol=1e-12, atol=1e-12)
    y2 = F.conv2d(fnn.tensor(x), fnn.tensor(w), stride=2, padding="same").numpy()
    assert y2.shape == (1, 3, 3, 3)  # ceil(5/2), ceil(6/2)
    # stride 2, H=5, k=2: total = max((3-1)*2 + 2 - 5, 0) = 1; W=6, k=4: total = (3-1)*2 + 4 - 6 = 2
    np.testing.assert_allclose(y2, naive_conv2d(x, w, None, (2, 2), (0, 1, 1, 1)), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# batch norm
# ---------------------------------------------------------------------------------------------

def channel_values(x, ch):
    return [float(v) for v in np.moveaxis(x, 1, 0)[ch].reshape(-1)]


def naive_bn_train(x, gamma, beta, eps):
    y = np.zeros_like(x, dtype=np.float64)
    means, vars_ = [], []
    for ch in range(x.shape[1]):
        vals = channel_values(x, ch)
        mu = math.fsum(vals) / len(vals)
        var = math.fsum((v - mu) ** 2 for v in vals) / len(vals)
        means.append(mu)
        vars_.append(var)
        sl = (slice(None), ch)
        y[sl] = gamma[ch] * (x[sl] - mu) / math.sqrt(var + eps) + beta[ch]
    return y, np.array(means), np.array(vars_)


@pytest.mark.parametrize("shape", [(7, 3), (4, 3, 2, 5)])
def test_batchnorm_train_forward_and_running_stats(shape):
    r = rng(7)
    x = r.standard_normal(shape) * 2 + 1
    c = shape[1]
    gamma, beta = r.uniform(0.5, 2, c), r.standard_normal(c)
    rm0, rv0 = r.standard_normal(c), r.uniform(0.5, 2, c)
    rm, rv = rm0.copy(), rv0.copy()
    eps, momentum = 1e-3, 0.1
    y, mean, invstd = bn.batchnorm_fwd_train(x, gamma, beta, rm, rv, momentum, eps)
    ey, emean, evar = naive_bn_train(x, gamma, beta, eps)
    np.testing.assert_allclose(y, ey, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mean, emean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(evar + eps), rtol=1e-12)
    for ch in range(c):
        vals = channel_values(x, ch)
        # PyTorch convention: momentum weighs the new batch; the running variance is unbiased
        assert math.isclose(rm[ch], 0.9 * rm0[ch] + 0.1 * statistics.fmean(vals), rel_tol=1e-12)
        assert math.isclose(rv[ch], 0.9 * rv0[ch] + 0.1 * statistics.variance(vals), rel_tol=1e-12)
        # normalised output has zero mean and unit (biased) variance per channel before the affine map
        xhat = (np.array(channel_values(y, ch)) - beta[ch]) / gamma[ch]
        assert abs(xhat.mean()) < 1e-12
        assert math.isclose(xhat.var(), evar[ch] / (evar[ch] + eps), rel_tol=1e-10)


def test_batchnorm_running_stats_momentum_edges():
    x = np.array([[1.0, 10.0], [3.0, 14.0]])
    rm, rv = np.array([5.0, 5.0]), np.array([7.0, 7.0])
    bn.batchnorm_fwd_train(x, np.ones(2), np.zeros(2), rm, rv, 0.0, 1e-5)
    np.testing.assert_array_equal(rm, [5.0, 5.0])
    np.testing.assert_array_equal(rv, [7.0, 7.0])
    bn.batchnorm_fwd_train(x, np.ones(2), np.zeros(2), rm, rv, 1.0, 1e-5)
    np.testing.assert_allclose(rm, [2.0, 12.0])
    np.testing.assert_allclose(rv, [2.0, 8.0])  # unbiased: ((1-2)^2 + (3-2)^2) / 1


def test_batchnorm_eval_forward_and_backward():
    r = rng(8)
    x = r.standard_normal((3, 4, 2, 3))
    gamma, beta = r.uniform(0.5, 2, 4), r.standard_normal(4)
    rm, rv = r.standard_normal(4), r.uniform(0.5, 2, 4)
    eps = 1e-4
    y = bn.batchnorm_fwd_eval(x, gamma, beta, rm, rv, eps)
    gy = r.standard_normal(x.shape)
    gx, gg, gb = bn.batchnorm_bwd_eval(x, gamma, rm, rv, eps, gy)
    for ch in range(4):
        s = gamma[ch] / math.sqrt(rv[ch] + eps)
        np.testing.assert_allclose(y[:, ch], (x[:, ch] - rm[ch]) * s + beta[ch], rtol=1e-12)
        np.testing.assert_allclose(gx[:, ch], gy[:, ch] * s, rtol=1e-12)
        assert math.isclose(gb[ch], gy[:, ch].sum(), rel_tol=1e-12)
        xhat = (x[:, ch] - rm[ch]) / math.sqrt(rv[ch] + eps)
        assert math.isclose(gg[ch], (gy[:, ch] * xhat).sum(), rel_tol=1e-12, abs_tol=1e-13)


@pytest.mark.parametrize("shape", [(6, 3), (3, 2, 2, 3)])
def test_batchnorm_train_backward_matches_numerical_derivative_of_naive_forward(shape):
    r = rng(9)
    x = r.standard_normal(shape)
    c = shape[1]
    gamma, beta = r.uniform(0.5, 2, c), r.standard_normal(c)
    eps = 1e-3
    gy = r.standard_normal(shape)
    _, mean, invstd = bn.batchnorm_fwd_train(x, gamma, beta, np.zeros(c), np.ones(c), 0.1, eps)
    gx, ggamma, gbeta = bn.batchnorm_bwd_train(x, gamma, mean, invstd, gy)

    def objective(xv, g, b):
        return float((naive_bn_train(xv, g, b, eps)[0] * gy).sum())

    h = 1e-6
    num_x = np.zeros(shape)
    for idx in np.ndindex(shape):
        xp_, xm = x.copy(), x.copy()
        xp_[idx] += h
        xm[idx] -= h
        num_x[idx] = (objective(xp_, gamma, beta) - objective(xm, gamma, beta)) / (2 * h)
    np.testing.assert_allclose(gx, num_x, rtol=1e-6, atol=1e-7)
    for ch in range(c):
        e = np.zeros(c)
        e[ch] = h
        dg = (objective(x, gamma + e, beta) - objective(x, gamma - e, beta)) / (2 * h)
        db = (objective(x, gamma, beta + e) - objective(x, gamma, beta - e)) / (2 * h)
        assert math.isclose(ggamma[ch], dg, rel_tol=1e-6, abs_tol=1e-7)
        assert math.isclose(gbeta[ch], db, rel_tol=1e-6, abs_tol=1e-7)


# ---------------------------------------------------------------------------------------------
# softmax family and cross-entropy
# ---------------------------------------------------------------------------------------------

def naive_softmax_row(z):
    m = max(z)
    e = [math.exp(v - m) for v in z]
    s = math.fsum(e)
    return [v / s for v in e]


def naive_logsumexp(z):
    m = max(z)
    return m + math.log(math.fsum(math.exp(v - m) for v in z))


def test_softmax_and_log_softmax_forward_backward():
    r = rng(10)
    x = r.standard_normal((5, 7)) * 3
    gy = r.standard_normal((5, 7))
    y = softmax.softmax_fwd(x)
    ly = softmax.log_softmax_fwd(x)
    gx = softmax.softmax_bwd(y, gy)
    lgx = softmax.log_softmax_bwd(ly, gy)
    for i in range(5):
        p = naive_softmax_row(list(x[i]))
        np.testing.assert_allclose(y[i], p, rtol=1e-13)
        np.testing.assert_allclose(ly[i], [v - naive_logsumexp(list(x[i])) for v in x[i]], rtol=1e-13, atol=1e-14)
        # Jacobians: d softmax_k / d x_j = p_k (delta_kj - p_j);  d logsoftmax_k / d x_j = delta_kj - p_j
        for j in range(7):
            expect = sum(gy[i, k] * p[k] * ((k == j) - p[j]) for k in range(7))
            assert math.isclose(gx[i, j], expect, rel_tol=1e-11, abs_tol=1e-14)
            lexpect = sum(gy[i, k] * ((k == j) - p[j]) for k in range(7))
            assert math.isclose(lgx[i, j], lexpect, rel_tol=1e-11, abs_tol=1e-14)


def test_sparse_softmax_ce_matches_naive():
    r = rng(11)
    z = r.standard_normal((6, 5)) * 2
    labels = np.array([0, 4, 2, 2, 1, 3], dtype=np.int64)
    loss, grad = softmax.softmax_ce_fwd_bwd(z, labels, True)
    for i in range(6):
        assert math.isclose(loss[i], naive_logsumexp(list(z[i])) - z[i, labels[i]], rel_tol=1e-13)
        p = naive_softmax_row(list(z[i]))
        p[labels[i]] -= 1
        np.testing.assert_allclose(grad[i], p, rtol=1e-12, atol=1e-15)
    loss2, grad2 = softmax.softmax_ce_fwd_bwd(z, labels, False)
    assert grad2 is None
    np.testing.assert_array_equal(loss2, loss)


@pytest.mark.parametrize("n", [1, 7, 1000])
def test_mean_rows_and_its_gradient_match_exact_sums(n):
    loss = rng(13).standard_normal(n) * 3
    mean = softmax.mean_rows(loss)
    assert mean.shape == () and mean.dtype == loss.dtype
    assert math.isclose(float(mean), math.fsum(loss) / n, rel_tol=1e-13)
    dlogits = rng(14).standard_normal((n, 3))
    expected = [[v * 0.75 / n for v in row] for row in dlogits.tolist()]
    scaled = softmax.scale_by_mean_grad(dlogits, np.asarray(0.75), n)   # dlogits handed over
    np.testing.assert_allclose(scaled, expected, rtol=1e-15)


def test_soft_softmax_ce_matches_naive():
    r = rng(12)
    z = r.standard_normal((4, 5)) * 2
    t = r.uniform(0, 1, (4, 5))   # not normalised: the formula must still hold
    loss, grad = softmax.softmax_ce_soft_fwd_bwd(z, t, True)
    for i in range(4):
        lse = naive_logsumexp(list(z[i]))
        assert math.isclose(loss[i], -math.fsum(t[i, k] * (z[i, k] - lse) for k in range(5)), rel_tol=1e-12)
        p = naive_softmax_row(list(z[i]))
        np.testing.assert_allclose(grad[i], [p[k] * t[i].sum() - t[i, k] for k in range(5)], rtol=1e-12, atol=1e-15)
    assert softmax.softmax_ce_soft_fwd_bwd(z, t, False)[1] is None


def test_softmax_family_is_stable_at_plus_minus_1000():
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, 999.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        y = softmax.softmax_fwd(z)
        ly = softmax.log_softmax_fwd(z)
        loss, grad = softmax.softmax_ce_fwd_bwd(z, np.array([2, 1, 2], dtype=np.int64), True)
        onehot = np.eye(3)[[1, 0, 0]]
        sloss, sgrad = softmax.softmax_ce_soft_fwd_bwd(z, onehot, True)
    for arr in (y, ly, loss, grad, sloss, sgrad):
        assert np.isfinite(arr).all()
    np.testing.assert_allclose(y[0], [1.0, 0.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(y[1], [1 / 3] * 3, rtol=1e-15)
    e = math.exp(-1)
    np.testing.assert_allclose(y[2], [1 / (2 + e), 1 / (2 + e), e / (2 + e)], rtol=1e-14)
    np.testing.assert_allclose(ly[0], [0.0, -2000.0, -1000.0], rtol=1e-15)
    np.testing.assert_allclose(ly[1], [-math.log(3)] * 3, rtol=1e-15)
    np.testing.assert_allclose(loss, [1000.0, math.log(3), 1 + math.log(2 + e)], rtol=1e-14)
    np.testing.assert_allclose(grad[0], [1.0, 0.0, -1.0], atol=1e-300)
    np.testing.assert_allclose(sloss, [2000.0, math.log(3), math.log(2 + e)], rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# activations, special functions and elementwise losses
# ---------------------------------------------------------------------------------------------

def phi_cdf(v):
    # erfc keeps full relative accuracy in the left tail (1 + erf would cancel)
    return 0.5 * math.erfc(-v / math.sqrt(2))


def sigmoid_math(v):
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


NAIVE = {
    # name: (forward(v, alpha), derivative(v, alpha))
    "relu": (lambda v, a: max(v, 0.0), lambda v, a: 1.0 if v > 0 else 0.0),
    "sigmoid": (lambda v, a: sigmoid_math(v), lambda v, a: sigmoid_math(v) * (1 - sigmoid_math(v))),
    "tanh": (lambda v, a: math.tanh(v), lambda v, a: 1 - math.tanh(v) ** 2),
    "leaky_relu": (lambda v, a: v if v > 0 else a * v, lambda v, a: 1.0 if v > 0 else a),
    "elu": (lambda v, a: v if v > 0 else a * (math.exp(v) - 1), lambda v, a: 1.0 if v > 0 else a * math.exp(v)),
    "gelu": (lambda v, a: v * phi_cdf(v),
             lambda v, a: phi_cdf(v) + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)),
    "softplus": (lambda v, a: math.log1p(math.exp(-abs(v))) + max(v, 0.0), lambda v, a: sigmoid_math(v)),
    "step": (lambda v, a: 1.0 if v > 0 else 0.0, lambda v, a: 0.0),
}


def test_every_contract_activation_has_a_naive_check():
    assert set(NAIVE) == set(contract.ACTIVATIONS)


@pytest.mark.parametrize("name", contract.ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activation_kernels_match_math(name, dtype):
    r = rng(13)
    x = np.concatenate([r.standard_normal(50) * 3, [-5.5, -0.25, 0.25, 5.5]]).astype(dtype)
    alpha = 0.2 if name in ("leaky_relu", "elu") else 0.0
    gy = r.standard_normal(x.shape).astype(dtype)
    fwd, deriv = NAIVE[name]
    y = act.FORWARD[name](x, alpha)
    # gradient-from-output activations must work without x (the contract lets fused ops drop it)
    gx = act.BACKWARD[name](None if name in contract.GRAD_FROM_OUTPUT else x, y, gy, alpha)
    assert y.dtype == dtype and gx.dtype == dtype and y.shape == x.shape
    tol = 1e-13 if dtype == np.float64 else 2e-6
    for k, v in enumerate(x.astype(np.float64)):
        assert math.isclose(y[k], fwd(v, alpha), rel_tol=tol, abs_tol=tol), (name, v)
        assert math.isclose(gx[k], gy[k] * deriv(v, alpha), rel_tol=10 * tol, abs_tol=10 * tol), (name, v)


def test_activation_kernel_names_follow_the_contract():
    assert all(hasattr(act, f"{a}_fwd") and hasattr(act, f"{a}_bwd") for a in contract.ACTIVATIONS)
    assert set(act.FORWARD) == set(act.BACKWARD) == set(contract.ACTIVATIONS)


def test_erf_matches_math_erf_over_a_wide_grid():
    grid = np.concatenate([np.linspace(-10, 10, 40001), np.geomspace(1e-300, 1, 500),
                           -np.geomspace(1e-300, 1, 500), [0.5, 1.0, -1.0, 8.0, -8.0, 27.0, -27.0]])
    got = erf(grid)
    expected = np.array([math.erf(v) for v in grid])
    np.testing.assert_allclose(got, expected, rtol=2e-15, atol=1e-300)
    assert erf(np.float32(0.5)).dtype == np.float32
    assert math.isclose(float(erf(np.array([0.5], dtype=np.float32))[0]), math.erf(0.5), rel_tol=1e-7)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(erf(np.array([np.inf, -np.inf])), [1.0, -1.0])
    assert erf(np.array([0.0]))[0] == 0.0


def test_gelu_equals_x_times_normal_cdf():
    x = np.linspace(-8, 8, 1601)
    y = act.gelu_fwd(x, 0.0)
    # the kernel forms 1 + erf, so in the left tail its error is absolute (a few ulp of 1), not relative
    np.testing.assert_allclose(y, [v * phi_cdf(v) for v in x], rtol=5e-14, atol=2e-15)
    # the derivative agrees with central differences of x Phi(x)
    h = 1e-6
    num = [((v + h) * phi_cdf(v + h) - (v - h) * phi_cdf(v - h)) / (2 * h) for v in x]
    np.testing.assert_allclose(act.gelu_bwd(x, y, np.ones_like(x), 0.0), num, rtol=1e-7, atol=1e-8)


def test_sigmoid_softplus_at_extreme_inputs():
    x = np.array([-1000.0, -745.0, -40.0, -30.0, 0.0, 30.0, 40.0, 745.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        s = act.sigmoid_fwd(x, 0.0)
        sp = act.softplus_fwd(x, 0.0)
        dsp = act.softplus_bwd(None, sp, np.ones_like(x), 0.0)
        ds = act.sigmoid_bwd(None, s, np.ones_like(x), 0.0)
    assert np.isfinite(s).all() and np.isfinite(sp).all() and np.isfinite(dsp).all() and np.isfinite(ds).all()
    assert s[0] == 0.0 and s[-1] == 1.0 and s[4] == 0.5
    for k, v in enumerate(x):
        assert math.isclose(s[k], sigmoid_math(v), rel_tol=1e-14, abs_tol=0.0)
    assert sp[0] == 0.0 and sp[-1] == 1000.0 and sp[-2] == 745.0
    assert math.isclose(sp[3], math.log1p(math.exp(-30)), rel_tol=1e-14)   # 9.357e-14, not 0
    assert math.isclose(sp[4], math.log(2), rel_tol=1e-15)
    # softplus' = sigmoid, accurate even where sigmoid is tiny
    assert math.isclose(dsp[3], sigmoid_math(-30.0), rel_tol=1e-12)
    assert math.isclose(dsp[2], sigmoid_math(-40.0), rel_tol=1e-12)
    assert dsp[-1] == 1.0


def naive_bce(z, t):
    p = sigmoid_math(z)
    return -(t * math.log(p) + (1 - t) * math.log(1 - p))


def test_bce_logits_matches_naive_and_is_stable():
    r = rng(14)
    z = r.standard_normal(40) * 4
    t = r.uniform(0, 1, 40)
    g = r.standard_normal(40)
    loss = losses.bce_logits_fwd(z, t)
    gz, gt = losses.bce_logits_bwd(z, t, g)
    for k in range(40):
        assert math.isclose(loss[k], naive_bce(z[k], t[k]), rel_tol=1e-12)
        assert math.isclose(gz[k], (sigmoid_math(z[k]) - t[k]) * g[k], rel_tol=1e-12, abs_tol=1e-15)
        # d/dt of -(t log p + (1-t) log(1-p)) = log(1-p) - log p = -z
        assert math.isclose(gt[k], -z[k] * g[k], rel_tol=1e-12)
    zx = np.array([1000.0, 1000.0, -1000.0, -1000.0, 1000.0])
    tx = np.array([1.0, 0.0, 0.0, 1.0, 0.25])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        lx = losses.bce_logits_fwd(zx, tx)
        gzx, _ = losses.bce_logits_bwd(zx, tx, np.ones(5))
    np.testing.assert_array_equal(lx, [0.0, 1000.0, 0.0, 1000.0, 750.0])
    np.testing.assert_array_equal(gzx, [0.0, 1.0, 0.0, -1.0, 0.75])
    # a confident, correct prediction still has a tiny positive loss (log1p, not log(1 + .))
    tiny = losses.bce_logits_fwd(np.array([-40.0, 40.0, -745.0]), np.array([0.0, 1.0, 0.0]))
    assert math.isclose(tiny[0], math.log1p(math.exp(-40.0)), rel_tol=1e-14)
    assert math.isclose(tiny[1], math.log1p(math.exp(-40.0)), rel_tol=1e-14)
    assert 0.0 < tiny[2] < 1e-320


def test_mse_and_l2_kernels():
    r = rng(15)
    p, t = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    loss = losses.mse_fwd(p, t)
    assert loss.shape == () and loss.dtype == np.float64
    assert math.isclose(float(loss), math.fsum((a - b) ** 2 for a, b in zip(p.flat, t.flat)) / 12, rel_tol=1e-13)
    np.testing.assert_allclose(losses.mse_bwd(p, t, 0.5), 2 * (p - t) * 0.5 / 12, rtol=1e-14)
    assert losses.mse_fwd(p.astype(np.float32), t.astype(np.float32)).dtype == np.float32
    w = r.standard_normal((5, 2))
    assert math.isclose(float(losses.l2_fwd(w)), math.fsum(v * v for v in w.flat), rel_tol=1e-13)
    np.testing.assert_allclose(losses.l2_bwd(w, 3.0), 6.0 * w, rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# linear and embedding
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("activation", [None, *contract.ACTIVATIONS])
def test_linear_kernels_match_loops(activation):
    r = rng(16)
    n, i, o = 4, 5, 3
    x, w, b = r.standard_normal((n, i)), r.standard_normal((i, o)), r.standard_normal(o)
    gy = r.standard_normal((n, o))
    alpha = 0.2
    y, z = linear.linear_fwd(x, w, b, activation, alpha)
    if activation is None or activation in contract.GRAD_FROM_OUTPUT:
        assert z is None
    else:
        assert z is not None and z.shape == (n, o)
    fwd, deriv = NAIVE.get(activation, (lambda v, a: v, lambda v, a: 1.0))
    pre = np.zeros((n, o))
    for a_, c in itertools.product(range(n), range(o)):
        pre[a_, c] = b[c] + sum(x[a_, k] * w[k, c] for k in range(i))
        assert math.isclose(y[a_, c], fwd(pre[a_, c], alpha), rel_tol=1e-12, abs_tol=1e-13)
    dz = np.array([[gy[a_, c] * deriv(pre[a_, c], alpha) for c in range(o)] for a_ in range(n)])
    gx, gw, gb = linear.linear_bwd(x, w, z, y, gy, activation, alpha, True, True, True)
    for a_, k in itertools.product(range(n), range(i)):
        assert math.isclose(gx[a_, k], sum(dz[a_, c] * w[k, c] for c in range(o)), rel_tol=1e-10, abs_tol=1e-12)
    for k, c in itertools.product(range(i), range(o)):
        assert math.isclose(gw[k, c], sum(x[a_, k] * dz[a_, c] for a_ in range(n)), rel_tol=1e-10, abs_tol=1e-12)
    np.testing.assert_allclose(gb, dz.sum(axis=0), rtol=1e-12, atol=1e-13)
    assert linear.linear_bwd(x, w, z, y, gy, activation, alpha, False, False, False) == (None, None, None)
    y_nob, _ = linear.linear_fwd(x, w, None, activation, alpha)
    np.testing.assert_allclose(y_nob, act.FORWARD[activation](x @ w, alpha) if activation else x @ w, rtol=1e-13)


def test_embedding_kernels_with_repeated_indices():
    w = np.arange(12.0).reshape(4, 3)
    idx = np.array([[1, 3, 1], [0, 1, 3]], dtype=np.int64)
    out = embedding.embedding_fwd(w, idx)
    assert out.shape == (2, 3, 3)
    for a, b in np.ndindex(idx.shape):
        np.testing.assert_array_equal(out[a, b], w[idx[a, b]])
    gy = np.arange(18.0).reshape(2, 3, 3)
    gw = embedding.embedding_bwd(idx, gy, 4)
    expected = np.zeros((4, 3))
    for a, b in np.ndindex(idx.shape):
        expected[idx[a, b]] += gy[a, b]
    np.testing.assert_array_equal(gw, expected)
    np.testing.assert_array_equal(gw[2], [0, 0, 0])   # never looked up
    np.testing.assert_array_equal(gw[1], gy[0, 0] + gy[0, 2] + gy[1, 1])


# ---------------------------------------------------------------------------------------------
# optimizer update kernels against PyTorch's documented algorithms (per element, Python floats)
# ---------------------------------------------------------------------------------------------

def _grads(shape, steps, seed=17):
    r = rng(seed)
    return [r.standard_normal(shape) for _ in range(steps)]


@pytest.mark.parametrize("momentum,dampening,nesterov,wd", [(0.0, 0.0, False, 0.0), (0.9, 0.0, False, 0.01),
                                                            (0.9, 0.0, True, 0.0), (0.8, 0.3, False, 0.1)])
def test_sgd_update_matches_pytorch_algorithm(momentum, dampening, nesterov, wd):
    p0 = rng(18).standard_normal(5)
    grads = _grads(5, 4)
    p, buf = p0.copy(), np.zeros(5)
    for step, g in enumerate(grads):
        optim.sgd_update(p, g, buf, 0.1, momentum, dampening, nesterov, wd, step == 0)
    for k in range(5):
        pk, bk = float(p0[k]), 0.0
        for step, g in enumerate(grads):
            d = g[k] + wd * pk
            if momentum:
                bk = d if step == 0 else momentum * bk + (1 - dampening) * d
                d = d + momentum * bk if nesterov else bk
            pk -= 0.1 * d
        assert math.isclose(p[k], pk, rel_tol=1e-13, abs_tol=1e-14)


@pytest.mark.parametrize("centered,momentum,wd", [(False, 0.0, 0.0), (True, 0.0, 0.01), (False, 0.9, 0.0),
                                                  (True, 0.5, 0.1)])
def test_rmsprop_update_matches_pytorch_algorithm(centered, momentum, wd):
    p0 = rng(19).standard_normal(5)
    grads = _grads(5, 4)
    p, sq, ga, buf = p0.copy(), np.zeros(5), np.zeros(5), np.zeros(5)
    lr, alpha, eps = 0.01, 0.99, 1e-8
    for g in grads:
        optim.rmsprop_update(p, g, sq, ga, buf, lr, alpha, eps, wd, momentum, centered)
    for k in range(5):
        pk, v, gavg, b = float(p0[k]), 0.0, 0.0, 0.0
        for g in grads:
            d = g[k] + wd * pk
            v = alpha * v + (1 - alpha) * d * d
            if centered:
                gavg = alpha * gavg + (1 - alpha) * d
                avg = math.sqrt(v - gavg * gavg) + eps
            else:
                avg = math.sqrt(v) + eps
            if momentum > 0:
                b = momentum * b + d / avg
                pk -= lr * b
            else:
                pk -= lr * d / avg
        assert math.isclose(p[k], pk, rel_tol=1e-12, abs_tol=1e-14)


@pytest.mark.parametrize("amsgrad,decoupled,wd", [(False, False, 0.0), (False, False, 0.05), (True, False, 0.0),
                                                  (False, True, 0.01), (True, True, 0.1)])
def test_adam_update_matches_pytorch_algorithm(amsgrad, decoupled, wd):
    p0 = rng(20).standard_normal(5)
    grads = _grads(5, 5)
    grads[3] = grads[3] * 0.01   # a small gradient after large ones: amsgrad's max then matters
    p, m, v, vmax = p0.copy(), np.zeros(5), np.zeros(5), np.zeros(5)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    for t, g in enumerate(grads, start=1):
        optim.adam_update(p, g, m, v, vmax, t, lr, b1, b2, eps, wd, amsgrad, decoupled)
    for k in range(5):
        pk, mk, vk, vm = float(p0[k]), 0.0, 0.0, 0.0
        for t, g in enumerate(grads, start=1):
            d = g[k]
            if decoupled:
                pk *= 1 - lr * wd
            else:
                d = d + wd * pk
            mk = b1 * mk + (1 - b1) * d
            vk = b2 * vk + (1 - b2) * d * d
            m_hat = mk / (1 - b1 ** t)
            if amsgrad:
                vm = max(vm, vk)
                v_hat = vm / (1 - b2 ** t)
            else:
                v_hat = vk / (1 - b2 ** t)
            pk -= lr * m_hat / (math.sqrt(v_hat) + eps)
        assert math.isclose(p[k], pk, rel_tol=1e-12, abs_tol=1e-14)


# ---------------------------------------------------------------------------------------------
# the case table: its ``kernels`` field says what really runs, and it covers every op
# ---------------------------------------------------------------------------------------------

from fastnn.testing.cases import CASES  # noqa: E402
from fastnn.testing.table import ALL_CASES  # noqa: E402

from fastnn import backend as backends  # noqa: E402

NOT_IN_CASES = {"sgd_update", "rmsprop_update", "adam_update",   # optimizers: tests of their own
                "im2col", "col2im"}                              # called inside conv2d_fwd/bwd (tested above)


def _outputs(result):
    return result if isinstance(result, (tuple, list)) else (result,)


def test_case_names_are_unique():
    names = [c.name for c in ALL_CASES]
    assert len(names) == len(set(names))


def test_every_functional_op_has_a_case():
    names = [c.name for c in CASES]
    missing = [op for op in F.__all__ if not any(n == op or n.startswith(op + "_") for n in names)]
    assert not missing


def test_cases_cover_every_contract_kernel():
    declared = set().union(*(set(c.kernels) for c in CASES))
    assert declared <= set(contract.KERNELS)
    assert set(contract.KERNELS) - NOT_IN_CASES <= declared


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_kernels_field_lists_the_kernels_that_run(case, monkeypatch):
    called = set()
    reference = backends.named("numpy")

    class Recording:
        """A kernel namespace that records every lookup (the real one keeps resolved
        kernels as attributes, so it sees only the first)."""

        def __getattr__(self, name):
            called.add(name)
            return reference.kernel(name)

    monkeypatch.setattr(reference, "k", Recording())
    for mode in case.modes:
        inst = case.instance(dtype="float64", size="small", mode=mode)
        tensors = inst.tensors("numpy")
        fnn.manual_seed(0)
        outs = _outputs(inst.fn(*tensors))
        total = outs[0].sum()
        for o in outs[1:]:
            total = total + o.sum()
        if total.requires_grad:
            total.backward()
    declared = set(case.kernels)
    assert called <= declared, f"{case.name} runs kernels it does not declare: {sorted(called - declared)}"
    implied = {"philox_uint32"} if "dropout_fwd" in called else set()
    if called & {"linear_fwd", "conv2d_fwd"}:   # a fused activation runs inside linear/conv2d fwd/bwd
        implied |= {f"{a}_{d}" for a in contract.ACTIVATIONS for d in ("fwd", "bwd")}
    assert declared - called <= implied, f"{case.name} declares kernels that never run: {sorted(declared - called)}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_instances_follow_dtype_and_keep_float32(case):
    for mode in case.modes:
        inst = case.instance(dtype="float32", size="small", mode=mode)
        integer = list(inst.integer) or [False] * len(inst.arrays)
        assert len(integer) == len(inst.arrays) == len(inst.grad)
        for a, is_int, g in zip(inst.arrays, integer, inst.grad):
            assert a.dtype == (np.int64 if is_int else np.float32)
            assert not (is_int and g)
        fnn.manual_seed(0)
        for out in _outputs(inst.fn(*inst.tensors("numpy"))):
            assert out.dtype == np.float32, f"{case.name} ({mode}) promoted float32 to {out.dtype}"
        assert case.instance(dtype="float32", size="small", mode=mode, seed=0).arrays[0].tobytes() == \
            inst.arrays[0].tobytes()   # instances are reproducible


def test_large_instances_are_benchmark_shapes_that_run():
    """The benchmark shapes are much larger than the check shapes, and each op runs on them."""
    for case in CASES:
        small = case.instance(dtype="float32", size="small")
        for mode in case.modes:
            large = case.instance(dtype="float32", size="large", mode=mode)
            assert len(large.arrays) == len(small.arrays)
            assert sum(a.size for a in large.arrays) >= 100 * sum(a.size for a in small.arrays), case.name
            for s, l in zip(small.arrays, large.arrays):
                assert s.dtype == l.dtype and s.ndim == l.ndim, case.name
            fnn.manual_seed(0)
            with fnn.no_grad():
                outs = _outputs(large.fn(*large.tensors("numpy")))
            for out in outs:
                assert out.dtype == np.float32 and np.isfinite(out.numpy()).all(), (case.name, mode)


def test_erf_is_exact_and_silent_at_huge_and_infinite_arguments():
    import warnings

    from fastnn.kernels.reference.special import erf

    xs = np.array([-np.inf, -1e300, -40.0, -8.5, 8.0, 27.0, 1e300, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / invalid-value warnings on the unused branches
        got = erf(xs)
    np.testing.assert_array_equal(got, [math.erf(v) for v in xs])
