"""Property tests over randomly drawn geometries and shapes (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import fastnn as fnn
import fastnn.functional as F
from fastnn.kernels.reference.conv import col2im, im2col


@st.composite
def conv_geometry(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(4))
    h = draw(st.integers(max(1, kh - pad[0] - pad[1]), 9))
    w = draw(st.integers(max(1, kw - pad[2] - pad[3]), 9))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (n, c, h, w), (kh, kw), (sh, sw), pad


@settings(max_examples=60, deadline=None)
@given(conv_geometry(), st.integers(0, 2**32 - 1))
def test_col2im_is_the_adjoint_of_im2col(geometry, seed):
    """<im2col(x), c> = <x, col2im(c)> for every x and c: the defining property of the backward gather."""
    x_shape, kernel, stride, pad = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    cols = im2col(x, kernel, stride, pad)
    oh = (x_shape[2] + pad[0] + pad[1] - kernel[0]) // stride[0] + 1
    ow = (x_shape[3] + pad[2] + pad[3] - kernel[1]) // stride[1] + 1
    assert cols.shape == (x_shape[0], x_shape[1] * kernel[0] * kernel[1], oh * ow)
    c = rng.standard_normal(cols.shape)
    np.testing.assert_allclose(np.vdot(cols, c), np.vdot(x, col2im(c, x_shape, kernel, stride, pad)), rtol=1e-10)


@st.composite
def broadcastable_pair(draw):
    out = draw(st.lists(st.integers(1, 4), min_size=0, max_size=4))
    a = [draw(st.sampled_from([d, 1])) for d in out]
    b = [draw(st.sampled_from([d, 1])) for d in out]
    a = a[draw(st.integers(0, len(a))):]  # drop leading axes: numpy's rule prepends them
    b = b[draw(st.integers(0, len(b))):]
    return tuple(a), tuple(b)


@settings(max_examples=80, deadline=None)
@given(broadcastable_pair(), st.integers(0, 2**32 - 1))
def test_broadcast_gradients_sum_over_the_stretched_axes(shapes, seed):
    """d/da sum(w * (a * b)) = sum of w * b over the axes a was broadcast along."""
    a_shape, b_shape = shapes
    rng = np.random.default_rng(seed)
    a_np, b_np = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    out_shape = np.broadcast_shapes(a_shape, b_shape)
    w_np = rng.standard_normal(out_shape)
    a, b = fnn.tensor(a_np, requires_grad=True), fnn.tensor(b_np, requires_grad=True)
    (fnn.tensor(w_np) * (a * b)).sum().backward()

    def reduce_to(g, shape):
        g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
        return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True).reshape(shape)

    np.testing.assert_allclose(a.grad.numpy(), reduce_to(w_np * np.broadcast_to(b_np, out_shape), a_shape), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), reduce_to(w_np * np.broadcast_to(a_np, out_shape), b_shape), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(2, 7), st.floats(-50, 50), st.integers(0, 2**32 - 1))
def test_softmax_ce_equals_its_definition_for_any_shift(n, classes, shift, seed):
    """Cross-entropy from logits is shift-invariant and equals -log softmax[label]."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, classes)) * 3
    labels = rng.integers(0, classes, n)
    loss = F.sparse_categorical_crossentropy(fnn.tensor(z + shift), labels).item()
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss, -np.log(p[np.arange(n), labels]).mean(), rtol=1e-9, atol=1e-12)
