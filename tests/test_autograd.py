"""Define-by-run autograd: graph recording, accumulation, graph freeing, broadcasting,
shared subexpressions, long chains, and the gradient of every tensor op against
hand-derived closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F
from fastnn.kernels import contract


@pytest.fixture(autouse=True)
def _numpy_backend():
    with fnn.use_backend("numpy"):
        yield


def t64(values, requires_grad=True):
    return fnn.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def test_leaf_gradient_of_simple_expression():
    x = t64([1.0, 2.0, 3.0])
    y = (x * x * 3 + 2 * x).sum()   # dy/dx = 6x + 2
    assert y.requires_grad and not y.is_leaf and y.shape == ()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [8.0, 14.0, 20.0])
    assert x.grad.dtype == np.float64 and not x.grad.requires_grad


def test_no_grad_records_nothing_and_enable_grad_reenables():
    x = t64([1.0, 2.0])
    with fnn.no_grad():
        assert not fnn.is_grad_enabled()
        y = x * 2
        with fnn.enable_grad():
            z = x * 3
        w = F.relu(x)
    assert fnn.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert not w.requires_grad
    assert z.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_no_grad_restores_state_after_exception():
    with pytest.raises(KeyError):
        with fnn.no_grad():
            raise KeyError("x")
    assert fnn.is_grad_enabled()


def test_constants_do_not_get_gradients():
    x = t64([1.0, 2.0])
    c = t64([5.0, 7.0], requires_grad=False)
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 7.0])


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = t64([1.0, -2.0])
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0 + 3.0, -4.0 + 3.0])
    x.zero_grad()
    assert x.grad is None
    (x * 4).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 4.0])


def test_leaf_gradients_are_independent_arrays():
    a, b = t64([1.0, 2.0]), t64([3.0, 4.0])
    (a + b).sum().backward()
    a.grad.data *= 10   # e.g. an in-place gradient clip on one parameter
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])
    g = t64([1.0, 1.0], requires_grad=False)
    x = t64([0.0, 0.0])
    x.backward(g)
    g.data[0] = 50.0
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_retain_grad_keeps_intermediate_gradients():
    x = t64([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    k = x * 5   # not retained
    (h * h + k).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), 2 * np.array([3.0, 6.0]))
    assert k.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), 18 * np.array([1.0, 2.0]) + 5)


def test_backward_twice_through_freed_graph_raises_and_retain_graph_allows_it():
    x = t64([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    x2 = t64([1.0, 2.0])
    y2 = (x2 * x2).sum()
    y2.backward(retain_graph=True)
    y2.backward()
    np.testing.assert_array_equal(x2.grad.numpy(), 2 * 2 * np.array([1.0, 2.0]))
    with pytest.raises(RuntimeError):
        y2.backward()


def test_non_scalar_backward_needs_a_gradient():
    x = t64([1.0, 2.0, 3.0])
    y = x * 2
    with pytest.raises(ValueError, match=r"\(3,\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        y.backward(np.ones(2))
    y.backward(np.array([1.0, 0.5, -1.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 1.0, -2.0])
    x2 = t64([[1.0]])
    (x2 * 3).backward()   # one element: no gradient needed, shape (1, 1)
    np.testing.assert_array_equal(x2.grad.numpy(), [[3.0]])
    z = t64([1.0, 2.0])
    (z * 2).backward(fnn.tensor(np.array([1.0, 1.0])))
    np.testing.assert_array_equal(z.grad.numpy(), [2.0, 2.0])


@pytest.mark.parametrize("a_shape,b_shape", [((3, 1, 4), (2, 1)), ((4,), (3, 4)), ((1,), (2, 3)), ((), (2, 2)),
                                             ((2, 1, 1), (1, 3, 1))])
def test_broadcast_gradients_are_reduced_to_input_shape(a_shape, b_shape):
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    a, b = t64(a_np), t64(b_np)
    out_shape = np.broadcast_shapes(a_shape, b_shape)
    g = rng.standard_normal(out_shape)
    (a * b).backward(g)
    assert a.grad.shape == a_shape and b.grad.shape == b_shape
    # dL/da_k = sum over every output cell that read a_k of g * b
    ea, eb = np.zeros(a_shape), np.zeros(b_shape)
    for idx in np.ndindex(out_shape):
        ia = tuple(0 if s == 1 else i for s, i in zip(a_shape, idx[len(idx) - len(a_shape):]))
        ib = tuple(0 if s == 1 else i for s, i in zip(b_shape, idx[len(idx) - len(b_shape):]))
        ea[ia] += g[idx] * b_np[ib]
        eb[ib] += g[idx] * a_np[ia]
    np.testing.assert_allclose(a.grad.numpy(), ea, rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), eb, rtol=1e-12)


def test_diamond_graph_sums_both_paths():
    x = t64([0.5, -1.5])
    s = x * x          # shared subexpression
    u = s * 3
    v = s.exp()
    (u + v).sum().backward()
    # d/dx [3 x^2 + exp(x^2)] = 6x + 2x exp(x^2)
    expected = [6 * v_ + 2 * v_ * math.exp(v_ * v_) for v_ in (0.5, -1.5)]
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-14)


def test_same_tensor_used_twice_in_one_op():
    x = t64([3.0])
    (x * x).sum().backward()
    assert x.grad.item() == 6.0
    y = t64([2.0])
    (y + y + y).sum().backward()
    assert y.grad.item() == 3.0


def test_deep_chain_runs_in_reverse_order():
    x = t64([0.3])
    y = x
    for _ in range(3000):  # deeper than Python's recursion limit
        y = y * 1.0005 + 0.0
    y.sum().backward()
    assert math.isclose(x.grad.item(), 1.0005 ** 3000, rel_tol=1e-12)


def test_interleaved_graph_order():
    # a: used early and late; the late use must wait until both contributions reached a
    x = t64([2.0])
    a = x * 3          # 6
    b = a * a          # 36
    c = b * a          # a^3 = 216
    d = c + a          # a^3 + a
    d.sum().backward()
    # d/dx (27 x^3 + 3 x) = 81 x^2 + 3
    assert x.grad.item() == 81 * 4 + 3


def test_step_has_zero_gradient_and_linear_step_too():
    rng = np.random.default_rng(1)
    x = t64(rng.standard_normal((4, 3)))
    F.step(x).backward(np.ones((4, 3)))
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((4, 3)))
    xs, w, b = t64(rng.standard_normal((4, 3))), t64(rng.standard_normal((3, 2))), t64(rng.standard_normal(2))
    y = F.linear(xs, w, b, activation="step")
    np.testing.assert_array_equal(y.numpy(), (xs.numpy() @ w.numpy() + b.numpy() > 0).astype(np.float64))
    y.sum().backward()
    for p in (xs, w, b):
        np.testing.assert_array_equal(p.grad.numpy(), np.zeros(p.shape))


def test_fused_linear_activation_equals_separate_ops():
    rng = np.random.default_rng(2)
    xv, wv, bv = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    for act in contract.ACTIVATIONS:
        x1, w1, b1 = t64(xv), t64(wv), t64(bv)
        x2, w2, b2 = t64(xv), t64(wv), t64(bv)
        F.linear(x1, w1, b1, activation=act).sum().backward()
        getattr(F, act)(x2 @ w2 + b2).sum().backward()
        for p, q in ((x1, x2), (w1, w2), (b1, b2)):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_linear_with_non_fused_activation_names_and_callables():
    rng = np.random.default_rng(3)
    x, w = t64(rng.standard_normal((2, 3))), t64(rng.standard_normal((3, 4)))
    y = F.linear(x, w, activation="softmax").numpy()
    np.testing.assert_allclose(y.sum(axis=1), [1.0, 1.0], rtol=1e-14)
    lin = F.linear(x, w, activation="linear").numpy()
    np.testing.assert_allclose(lin, x.numpy() @ w.numpy(), rtol=1e-14)
    custom = F.linear(x, w, activation=lambda t: t * 2).numpy()
    np.testing.assert_allclose(custom, 2 * lin, rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# closed-form gradients of tensor ops (independent of central differences)
# ---------------------------------------------------------------------------------------------

def grad_of(fn, *values):
    ts = [t64(v) for v in values]
    fn(*ts).sum().backward()
    return [t.grad.numpy() for t in ts]


def test_closed_form_elementwise_gradients():
    x = np.array([0.5, 1.5, 3.0])
    (g,) = grad_of(lambda t: t.exp(), x)
    np.testing.assert_allclose(g, np.exp(x), rtol=1e-15)
    (g,) = grad_of(lambda t: t.log(), x)
    np.testing.assert_allclose(g, 1 / x, rtol=1e-15)
    (g,) = grad_of(lambda t: t.sqrt(), x)
    np.testing.assert_allclose(g, 0.5 / np.sqrt(x), rtol=1e-15)
    (g,) = grad_of(lambda t: (t - 1.0).abs(), x)
    np.testing.assert_array_equal(g, [-1.0, 1.0, 1.0])
    (g,) = grad_of(lambda t: t.clip(1.0, 2.0), x)
    np.testing.assert_array_equal(g, [0.0, 1.0, 0.0])
    (g,) = grad_of(lambda t: t ** 3, x)
    np.testing.assert_allclose(g, 3 * x ** 2, rtol=1e-15)
    ga, gb = grad_of(lambda a, b: a ** b, x, np.array([2.0, 0.5, -1.0]))
    np.testing.assert_allclose(ga, [2 * 0.5, 0.5 * 1.5 ** -0.5, -1 * 3.0 ** -2], rtol=1e-14)
    np.testing.assert_allclose(gb, [0.25 * math.log(0.5), 1.5 ** 0.5 * math.log(1.5), math.log(3.0) / 3],
                               rtol=1e-14)
    ga, gb = grad_of(lambda a, b: a / b, x, np.array([2.0, 4.0, -1.0]))
    np.testing.assert_allclose(ga, [0.5, 0.25, -1.0])
    np.testing.assert_allclose(gb, [-0.5 / 4, -1.5 / 16, -3.0])
    ga, gb = grad_of(lambda a, b: a - b, x, x)
    np.testing.assert_array_equal(ga, np.ones(3))
    np.testing.assert_array_equal(gb, -np.ones(3))


def test_closed_form_reduction_gradients():
    x = np.array([[1.0, 5.0, 2.0], [7.0, 3.0, 7.0]])
    (g,) = grad_of(lambda t: t.mean(axis=1), x)
    np.testing.assert_allclose(g, np.full((2, 3), 1 / 3))
    (g,) = grad_of(lambda t: t.sum(axis=0, keepdims=True) * t.sum(axis=0, keepdims=True), x)
    np.testing.assert_allclose(g, np.tile(2 * x.sum(axis=0), (2, 1)))
    (g,) = grad_of(lambda t: t.max(axis=1), x)
    # ties share the gradient equally (row 2 has two 7s)
    np.testing.assert_array_equal(g, [[0, 1, 0], [0.5, 0, 0.5]])
    (g,) = grad_of(lambda t: t.min(), x)
    np.testing.assert_array_equal(g, [[1, 0, 0], [0, 0, 0]])
    (g,) = grad_of(lambda t: t.max(), x)
    np.testing.assert_array_equal(g, [[0, 0, 0], [0.5, 0, 0.5]])


def test_closed_form_indexing_and_shape_gradients():
    x = np.arange(12.0).reshape(3, 4)
    (g,) = grad_of(lambda t: t[[0, 2, 0, 0]], x)
    np.testing.assert_array_equal(g, [[3] * 4, [0] * 4, [1] * 4])   # row 0 picked three times
    (g,) = grad_of(lambda t: t[[1, 1, 2], [0, 0, 3]], x)
    expected = np.zeros((3, 4))
    expected[1, 0], expected[2, 3] = 2, 1
    np.testing.assert_array_equal(g, expected)
    (g,) = grad_of(lambda t: t[t > 5.0] * 2, x)
    np.testing.assert_array_equal(g, np.where(x > 5, 2.0, 0.0))
    (g,) = grad_of(lambda t: t[:, ::-2], x)
    np.testing.assert_array_equal(g, [[0, 1, 0, 1]] * 3)
    (g,) = grad_of(lambda t: t.T * np.arange(3.0), x)
    np.testing.assert_array_equal(g, np.tile(np.arange(3.0)[:, None], (1, 4)))
    (g,) = grad_of(lambda t: t.reshape(4, 3) * np.arange(3.0), x)
    np.testing.assert_array_equal(g, np.tile(np.arange(3.0), 4).reshape(3, 4))


def test_closed_form_matmul_gradients():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5))
    ga, gb = grad_of(lambda x, y: x @ y, a, b)
    np.testing.assert_allclose(ga, np.broadcast_to(b.sum(axis=1), (2, 3, 4)), rtol=1e-13)
    np.testing.assert_allclose(gb, np.broadcast_to(a.sum(axis=(0, 1))[:, None], (4, 5)), rtol=1e-13)
    u, v = rng.standard_normal(4), rng.standard_normal(4)
    gu, gv = grad_of(lambda x, y: x @ y, u, v)
    np.testing.assert_allclose(gu, v, rtol=1e-15)
    np.testing.assert_allclose(gv, u, rtol=1e-15)


def test_closed_form_stack_concatenate_where_gradients():
    a, b = np.ones((2, 3)), np.ones((2, 3))
    ga, gb = grad_of(lambda x, y: fnn.stack([x, y * 2], axis=1), a, b)
    np.testing.assert_array_equal(ga, np.ones((2, 3)))
    np.testing.assert_array_equal(gb, np.full((2, 3), 2.0))
    ga, gb = grad_of(lambda x, y: fnn.concatenate([x, y, x], axis=0) * np.arange(6.0)[:, None], a, b)
    np.testing.assert_array_equal(ga, [[0 + 4] * 3, [1 + 5] * 3])
    np.testing.assert_array_equal(gb, [[2] * 3, [3] * 3])
    cond = np.array([[True, False, True]])
    ga, gb = grad_of(lambda x, y: fnn.where(cond, x, y), a, np.ones(3))
    np.testing.assert_array_equal(ga, np.tile([1.0, 0.0, 1.0], (2, 1)))
    np.testing.assert_array_equal(gb, [0.0, 2.0, 0.0])


def test_gradient_dtype_follows_input_dtype():
    x = fnn.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (x * 2.5 + x.exp()).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), 2.5 + np.exp([1.0, 2.0]), rtol=1e-6)


def test_gradcheck_detects_a_wrong_gradient():
    from fastnn.function import Function

    class WrongSquare(Function):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, g):
            return (g * self.x,)   # should be 2 x g

    x = t64([0.5, 1.5])
    with pytest.raises(fnn.testing.GradcheckError, match="input 0"):
        fnn.testing.gradcheck(lambda t: WrongSquare.apply(t), [x])
    assert fnn.testing.gradcheck(lambda t: WrongSquare.apply(t), [x], raise_exception=False) is False
    assert fnn.testing.gradcheck(lambda t: t * t, [x])
    with pytest.raises(TypeError, match="float64"):
        fnn.testing.gradcheck(lambda t: t * t, [fnn.tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="requires_grad"):
        fnn.testing.gradcheck(lambda t: t * t, [t64([1.0], requires_grad=False)])


def test_multi_output_op_sums_each_outputs_gradient_and_zeros_the_unused():
    x = t64(np.arange(12.0).reshape(3, 4))
    first, second, third = fnn.unstack(x, axis=0)
    assert [t.shape for t in (first, second, third)] == [(4,)] * 3
    loss = (first * 2).sum() + (first * third).sum()  # second is unused
    loss.backward()
    expected = np.zeros((3, 4))
    expected[0] = 2 + np.arange(8.0, 12.0)  # d/dfirst = 2 + third
    expected[2] = np.arange(4.0)            # d/dthird = first
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_multi_output_op_with_dropped_outputs_and_retained_grad():
    x = t64(np.arange(6.0).reshape(2, 3))
    kept = fnn.unstack(x, axis=1)[2]  # the other two outputs are dropped at once
    kept.retain_grad()
    (kept * kept).sum().backward()
    np.testing.assert_array_equal(kept.grad.numpy(), 2 * np.array([2.0, 5.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 4.0], [0, 0, 10.0]])


def test_intermediates_released_by_their_consumer_still_pass_their_gradient_on():
    # (x * x) is referenced only by the node of (... * 3); releasing that node during the
    # sweep must not lose the gradient still pending for (x * x).
    x = t64([1.0, 2.0])
    ((x * x) * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 12.0])


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_sparse_cross_entropy_gradient_survives_a_second_backward_through_a_retained_graph(backend):
    # The op hands its gradient buffer to a kernel that may scale it in place; a second
    # backward (retain_graph) and an upstream gradient of zero must still give exact gradients.
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((4, 5))
    labels = np.array([0, 1, 2, 3])
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected[np.arange(4), labels] -= 1
    expected /= 4
    for upstream in (3.0, 0.0):
        z = fnn.tensor(logits, requires_grad=True, backend=backend)
        loss = fnn.functional.sparse_categorical_crossentropy(z, labels) * upstream
        loss.backward(retain_graph=True)
        np.testing.assert_allclose(z.grad.numpy(), upstream * expected, atol=1e-12)
        loss.backward()
        np.testing.assert_allclose(z.grad.numpy(), 2 * upstream * expected, atol=1e-12)
