"""Tensor creation, dtypes, properties, conversions and the forward values of tensor ops."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastnn as fnn
import fastnn.functional as F


@pytest.fixture(autouse=True)
def _numpy_backend():
    with fnn.use_backend("numpy"):
        yield


# ---------------------------------------------------------------------------------------------
# creation and dtypes
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data,dtype", [
    (1.5, np.float32), ([1.0, 2.5], np.float32), ([[1, 2.0]], np.float32),          # Python floats -> float32
    (np.array([1.0, 2.0]), np.float64), (np.float64(3.0), np.float64),               # NumPy float64 is kept
    (np.array([1.0], dtype=np.float32), np.float32), (np.float32(2.0), np.float32),
    (3, np.int64), ([1, 2, 3], np.int64), (np.array([1, 2], dtype=np.int32), np.int64),  # ints -> int64
    (np.array([1, 2], dtype=np.uint8), np.int64),
    (True, np.bool_), (np.array([True, False]), np.bool_),
])
def test_creation_dtypes(data, dtype):
    t = fnn.tensor(data)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data).astype(dtype))


@pytest.mark.parametrize("data", [np.ones(3, dtype=np.float16), np.float16(1.0), np.ones(2, dtype=np.longdouble)
                                  if np.dtype(np.longdouble) != np.float64 else np.ones(2, dtype=np.float16)])
def test_float16_and_other_floats_are_rejected(data):
    with pytest.raises(TypeError, match="float32 or float64"):
        fnn.tensor(data)


def test_explicit_dtype_argument():
    assert fnn.tensor([1, 2], dtype="float64").dtype == np.float64
    assert fnn.tensor(np.ones(2), dtype="float32").dtype == np.float32
    assert fnn.tensor([1.0], dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="float32 or float64"):
        fnn.tensor([1.0], dtype="float16")
    with pytest.raises(TypeError, match="round it explicitly"):
        fnn.tensor([1.5], dtype="int64")
    with pytest.raises(TypeError):
        fnn.tensor(["a", "b"])
    with pytest.raises(TypeError):
        fnn.tensor([1.0], dtype="complex128")


def test_requires_grad_only_on_floats():
    with pytest.raises(TypeError, match="floating"):
        fnn.tensor([1, 2], requires_grad=True)
    t = fnn.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf
    t.requires_grad = False
    assert not t.requires_grad
    y = fnn.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(ValueError, match="detach"):
        y.requires_grad = False


def test_tensor_copies_its_input():
    a = np.array([1.0, 2.0])
    t = fnn.tensor(a)
    a[0] = 100.0
    assert t.numpy()[0] == 1.0
    u = fnn.tensor(t)
    assert u.data is not t.data
    np.testing.assert_array_equal(u.numpy(), t.numpy())


def test_tensor_class_constructor():
    t = fnn.Tensor([1.0, 2.0], requires_grad=True)
    assert isinstance(t, fnn.Tensor) and t.requires_grad and t.dtype == np.float32


def test_properties():
    t = fnn.tensor(np.zeros((2, 3, 4)))
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple)
    assert t.ndim == 3 and t.size == 24 and len(t) == 2
    assert t.backend == "numpy" and t.dtype == np.float64
    assert t.requires_grad is False and t.grad is None and t.is_leaf
    with pytest.raises(TypeError):
        len(fnn.tensor(1.0))
    assert "backend='numpy'" in repr(t)


def test_numpy_returns_a_copy():
    t = fnn.tensor([1.0, 2.0, 3.0])
    host = t.numpy()
    assert isinstance(host, np.ndarray)
    host[0] = -5.0
    assert t.numpy()[0] == 1.0
    assert t.numpy() is not t.numpy()


def test_item_and_bool():
    assert fnn.tensor(2.5).item() == 2.5 and isinstance(fnn.tensor(2.5).item(), float)
    assert fnn.tensor([[7]]).item() == 7 and isinstance(fnn.tensor([[7]]).item(), int)
    with pytest.raises(ValueError, match=r"\(2,\)"):
        fnn.tensor([1.0, 2.0]).item()
    assert bool(fnn.tensor(1.0)) and not bool(fnn.tensor([0.0]))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(fnn.tensor([1.0, 2.0]))


def test_tolist_and_array_protocol():
    t = fnn.tensor([[1.0, 2.0]])
    assert t.tolist() == [[1.0, 2.0]]
    np.testing.assert_array_equal(np.asarray(t), [[1.0, 2.0]])


def test_detach_shares_data_but_not_graph():
    x = fnn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad is None
    np.testing.assert_array_equal(d.numpy(), [3.0, 6.0])
    z = (d * x).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 6.0])  # d is a constant


def test_creation_helpers():
    z = fnn.zeros(2, 3)
    o = fnn.ones((3,), dtype="float64", requires_grad=True)
    assert z.shape == (2, 3) and z.dtype == np.float32 and not z.numpy().any()
    assert o.dtype == np.float64 and o.requires_grad and (o.numpy() == 1).all()
    zl, ol = fnn.zeros_like(o), fnn.ones_like(z)
    assert zl.shape == (3,) and zl.dtype == np.float64 and ol.shape == (2, 3) and (ol.numpy() == 1).all()
    assert fnn.zeros(2, dtype="int64").dtype == np.int64
    with pytest.raises(TypeError):
        fnn.zeros(2, dtype="int64", requires_grad=True)
    with pytest.raises(TypeError):
        fnn.zeros(2, dtype="float16")


def test_astype():
    t = fnn.tensor([1.0, 2.0], requires_grad=True)
    d = t.double()
    assert d.dtype == np.float64 and t.float() is t
    (d * d).sum().backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_array_equal(t.grad.numpy(), [2.0, 4.0])


# ---------------------------------------------------------------------------------------------
# forward values of tensor ops
# ---------------------------------------------------------------------------------------------

def test_arithmetic_values_and_scalars_on_both_sides():
    a = fnn.tensor([1.0, 2.0, 4.0])
    np.testing.assert_array_equal((a + 1).numpy(), [2, 3, 5])
    np.testing.assert_array_equal((1 + a).numpy(), [2, 3, 5])
    np.testing.assert_array_equal((a - 1).numpy(), [0, 1, 3])
    np.testing.assert_array_equal((1 - a).numpy(), [0, -1, -3])
    np.testing.assert_array_equal((a * 2).numpy(), [2, 4, 8])
    np.testing.assert_array_equal((2 * a).numpy(), [2, 4, 8])
    np.testing.assert_array_equal((a / 2).numpy(), [0.5, 1, 2])
    np.testing.assert_array_equal((2 / a).numpy(), [2, 1, 0.5])
    np.testing.assert_array_equal((a ** 2).numpy(), [1, 4, 16])
    np.testing.assert_array_equal((2 ** a).numpy(), [2, 4, 16])
    np.testing.assert_array_equal((-a).numpy(), [-1, -2, -4])
    assert (+a) is a
    for r in (a + 1, 1 - a, 2.5 * a, a / 3, 2 ** a, a ** 0.5):
        assert r.dtype == np.float32  # Python scalars do not promote


def test_numpy_scalars_do_not_promote_float32():
    a = fnn.tensor([1.0, 2.0])
    for r in (a * np.float64(2.0), np.float64(2.0) * a, a + np.float64(1.0), np.float64(1.0) - a,
              a / np.float64(2.0), a ** np.float64(2.0), a * np.int64(3)):
        assert r.dtype == np.float32
    np.testing.assert_array_equal((np.float64(2.0) * a).numpy(), [2.0, 4.0])
    # and therefore mixing the result with float32 tensors keeps working
    np.testing.assert_array_equal(((a * np.float64(2.0)) + a).numpy(), [3.0, 6.0])


def test_numpy_arrays_as_operands():
    a = fnn.tensor([1.0, 2.0])
    r = a + np.array([1.0, 1.0])
    assert isinstance(r, fnn.Tensor) and r.dtype == np.float32
    r2 = np.array([1.0, 1.0]) + a
    assert isinstance(r2, fnn.Tensor)
    np.testing.assert_array_equal(r2.numpy(), [2.0, 3.0])
    m = fnn.tensor(np.eye(2))
    r3 = np.ones((1, 2)) @ m
    assert isinstance(r3, fnn.Tensor)
    np.testing.assert_array_equal(r3.numpy(), [[1.0, 1.0]])
    with pytest.raises(TypeError, match="unsupported operand"):
        a + "x"
    with pytest.raises(TypeError):
        a @ 2.0


def test_dtype_mismatch_raises_naming_both():
    a32 = fnn.tensor([1.0, 2.0])
    a64 = fnn.tensor(np.array([1.0, 2.0]))
    for op in (lambda: a32 + a64, lambda: a64 * a32, lambda: a32 @ a64, lambda: a64 - a32, lambda: a32 / a64):
        with pytest.raises(TypeError) as err:
            op()
        assert "float32" in str(err.value) and "float64" in str(err.value)


def test_broadcast_values():
    a = fnn.tensor(np.arange(6.0).reshape(2, 3, 1))
    b = fnn.tensor(np.array([10.0, 20.0]))
    r = a * b
    assert r.shape == (2, 3, 2)
    assert r.numpy()[1, 2, 1] == 5 * 20
    with pytest.raises(ValueError, match=r"\(2, 3, 1\).*\(3,\)|broadcast"):
        a + fnn.tensor(np.ones((2, 2)))


def test_matmul_values():
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(3, 4)
    expected = [[sum(a[i, k] * b[k, j] for k in range(3)) for j in range(4)] for i in range(2)]
    np.testing.assert_array_equal((fnn.tensor(a) @ fnn.tensor(b)).numpy(), expected)
    v = fnn.tensor(np.array([1.0, 2.0, 3.0]))
    assert (v @ v).shape == () and (v @ v).item() == 14.0
    np.testing.assert_array_equal((fnn.tensor(a) @ v).numpy(), [8.0, 26.0])
    batched = fnn.tensor(np.ones((5, 2, 3))) @ fnn.tensor(b)
    assert batched.shape == (5, 2, 4)


def test_reductions_values():
    x = np.arange(24.0).reshape(2, 3, 4)
    t = fnn.tensor(x)
    assert t.sum().item() == 276.0 and t.sum().shape == ()
    assert t.mean().item() == 11.5
    assert t.max().item() == 23.0 and t.min().item() == 0.0
    np.testing.assert_array_equal(t.sum(axis=1).numpy(), [[sum(x[a, b, c] for b in range(3)) for c in range(4)]
                                                          for a in range(2)])
    assert t.sum(axis=(0, 2), keepdims=True).shape == (1, 3, 1)
    assert t.mean(axis=-1).shape == (2, 3)
    np.testing.assert_array_equal(t.mean(axis=-1).numpy(), [[1.5, 5.5, 9.5], [13.5, 17.5, 21.5]])
    np.testing.assert_array_equal(t.max(axis=(0, 2)).numpy(), [15.0, 19.0, 23.0])
    assert t.max(axis=1, keepdims=True).shape == (2, 1, 4)
    np.testing.assert_array_equal(t.argmax(axis=2).numpy(), np.full((2, 3), 3))
    assert t.mean().dtype == np.float64 and fnn.tensor([1.0, 2.0]).mean().dtype == np.float32
    with pytest.raises(ValueError, match=r"Tensor.sum: axis must be in \[-3, 2\] .* got 3"):
        t.sum(axis=3)


def test_shape_ops_values():
    x = np.arange(24.0).reshape(2, 3, 4)
    t = fnn.tensor(x)
    assert t.reshape(6, 4).shape == (6, 4) and t.reshape((4, -1)).shape == (4, 6)
    assert t.flatten().shape == (24,) and t.flatten(1).shape == (2, 12)
    np.testing.assert_array_equal(t.transpose(2, 0, 1).numpy(), x.transpose(2, 0, 1))
    np.testing.assert_array_equal(t.T.numpy(), x.T)
    with pytest.raises(ValueError, match=r"Tensor.reshape: shape must hold the 24 elements .* got \(5, 5\)"):
        t.reshape(5, 5)
    with pytest.raises(ValueError, match="permutation"):
        t.transpose(0, 0, 1)


def test_indexing_values():
    x = np.arange(20.0).reshape(4, 5)
    t = fnn.tensor(x)
    np.testing.assert_array_equal(t[1].numpy(), x[1])
    np.testing.assert_array_equal(t[1:, ::2].numpy(), x[1:, ::2])
    np.testing.assert_array_equal(t[[0, 0, 3]].numpy(), x[[0, 0, 3]])
    np.testing.assert_array_equal(t[fnn.tensor([2, 2])].numpy(), x[[2, 2]])
    np.testing.assert_array_equal(t[t > 10.0].numpy(), x[x > 10])
    assert t[-1, -1].item() == 19.0
    with pytest.raises(IndexError, match=r"\(4, 5\)"):
        t[4]


def test_elementwise_math_values():
    x = np.array([0.25, 1.0, 4.0])
    t = fnn.tensor(x)
    np.testing.assert_allclose(t.exp().numpy(), [math.exp(v) for v in x])
    np.testing.assert_allclose(t.log().numpy(), [math.log(v) for v in x])
    np.testing.assert_allclose(t.sqrt().numpy(), [0.5, 1.0, 2.0])
    np.testing.assert_array_equal(fnn.tensor([-2.0, 3.0]).abs().numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(fnn.tensor([-2.0, 0.5, 3.0]).clip(-1.0, 1.0).numpy(), [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(fnn.tensor([-2.0, 3.0]).clip(max=0.0).numpy(), [-2.0, 0.0])
    with pytest.raises(ValueError, match="min and max"):
        t.clip()


def test_comparisons_give_bool_tensors_without_grad():
    t = fnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for r, e in ((t < 2.0, [True, False, False]), (t <= 2.0, [True, True, False]), (t > 2.0, [False, False, True]),
                 (t >= 2.0, [False, True, True])):
        assert r.dtype == np.bool_ and not r.requires_grad
        np.testing.assert_array_equal(r.numpy(), e)


def test_stack_concatenate_where_values():
    a, b = fnn.tensor([[1.0, 2.0]]), fnn.tensor([[3.0, 4.0]])
    np.testing.assert_array_equal(fnn.stack([a, b]).numpy(), [[[1, 2]], [[3, 4]]])
    assert fnn.stack([a, b], axis=-1).shape == (1, 2, 2)
    np.testing.assert_array_equal(fnn.concatenate([a, b], axis=1).numpy(), [[1, 2, 3, 4]])
    np.testing.assert_array_equal(fnn.where(fnn.tensor([True, False]), fnn.tensor([1.0, 2.0]), 0.0).numpy(),
                                  [1.0, 0.0])
    np.testing.assert_array_equal(fnn.where(np.array([False, True]), 5.0, fnn.tensor([1.0, 2.0])).numpy(),
                                  [1.0, 5.0])
    with pytest.raises(ValueError, match="same shape"):
        fnn.stack([a, fnn.tensor([1.0])])
    with pytest.raises(ValueError, match="do not match"):
        fnn.concatenate([a, fnn.tensor([[1.0], [2.0]])], axis=1)
    with pytest.raises(ValueError, match="at least one"):
        fnn.stack([])
    with pytest.raises(ValueError, match="at least one"):
        fnn.concatenate([])
    with pytest.raises(TypeError, match="boolean"):
        fnn.where(fnn.tensor([1, 0]), a, b)


def test_integer_and_bool_tensors_meet_float_tensors_in_the_float_dtype():
    x = fnn.tensor([1.0, 2.0], requires_grad=True)            # float32
    counts = fnn.tensor([1, 2])                                 # int64
    for r in (x / counts, counts * x, x + counts, counts - x, x ** counts, fnn.tensor([True, False]) * x):
        assert r.dtype == np.float32
    np.testing.assert_array_equal((x / counts).numpy(), [1.0, 1.0])
    np.testing.assert_array_equal((fnn.tensor([1, 2]) @ fnn.tensor([0.5, 0.25])).numpy(), 1.0)
    assert (fnn.tensor([1, 2]) @ fnn.tensor([0.5, 0.25])).dtype == np.float32
    (x / counts).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.5])
    assert (fnn.tensor([1, 2]) + fnn.tensor([3, 4])).dtype == np.int64   # integers stay integers


def test_mean_of_integer_and_bool_tensors_is_not_truncated():
    assert fnn.tensor([1, 2]).mean().item() == 1.5
    accuracy = (fnn.tensor([1.0, 2.0, 3.0]) > 1.5).mean()
    assert accuracy.dtype.kind == "f" and math.isclose(accuracy.item(), 2 / 3)
    np.testing.assert_array_equal(fnn.tensor([[1, 2], [4, 4]]).mean(axis=1).numpy(), [1.5, 4.0])


def test_integer_tensors_meet_floats_as_in_pytorch():
    ints = fnn.tensor([1, 2])
    assert (ints * 1.5).dtype == np.float32 and (1.5 + ints).dtype == np.float32   # the default float
    np.testing.assert_array_equal((ints * 1.5).numpy(), [1.5, 3.0])
    assert (ints + fnn.tensor(np.array([0.5, 0.5]))).dtype == np.float64            # a float tensor's dtype wins
    assert (ints * 2).dtype == np.int64                                               # ints stay ints


@pytest.mark.parametrize("symbol", ["+", "-", "*", "/"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_operators_on_equal_tensors_match_the_op_path(symbol, dtype):
    """+ - * / between tensors of one shape, dtype and backend without a gradient take the
    array operator directly (tensor.py's lean path): same values, dtype and backend as the
    Function path; with a gradient needed, or shapes that broadcast, they record a node."""
    from fastnn.ops import math as M

    rng = np.random.default_rng(3)
    a_np = (rng.standard_normal((3, 5)) * 4).astype(dtype) + (dtype == "int64")
    b_np = (rng.standard_normal((3, 5)) * 4).astype(dtype)
    b_np[b_np == 0] = 1
    op = {"+": M.Add, "-": M.Sub, "*": M.Mul, "/": M.Div}[symbol]
    a, b = fnn.tensor(a_np, backend="numpy"), fnn.tensor(b_np, backend="numpy")
    lean = eval(f"a {symbol} b")
    generic = op.apply(a, b)
    assert lean.dtype == generic.dtype and lean.backend == generic.backend and lean._node is None
    np.testing.assert_array_equal(lean.numpy(), generic.numpy())
    if dtype != "int64":
        a.requires_grad = True
        tracked = eval(f"a {symbol} b")
        assert tracked.requires_grad and tracked._node is not None
        tracked.sum().backward()
        assert a.grad is not None
        with fnn.no_grad():
            assert eval(f"a {symbol} b")._node is None
    row = fnn.tensor(b_np[:1], backend="numpy")
    np.testing.assert_array_equal(eval(f"a {symbol} row").numpy(), op.apply(a, row).numpy())


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_zero_dimensional_results_and_gradients_are_arrays(backend):
    # NumPy ufuncs return scalars for 0-d inputs; tensors must still hold arrays.
    x = fnn.tensor(3.0, requires_grad=True, backend=backend)
    for op in (F.relu, F.sigmoid, F.tanh, F.gelu, F.softplus, F.step, lambda t: (t * 2).exp(), lambda t: t.sum()):
        y = op(x)
        y.backward()
        assert type(y.data) is np.ndarray and y.data.shape == ()
        assert type(x.grad.data) is np.ndarray and x.grad.data.shape == ()
        x.grad = None
