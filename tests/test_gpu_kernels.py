"""The gpu kernels against the reference kernels, one by one: float32 and float64, odd
sizes, every option of each kernel; dropout masks and Philox words bit for bit;
optimizer updates over 20 steps; batch-norm running statistics; determinism of the
gather kernels; moving tensors and models; DLPack exchange with CuPy and PyTorch.

Every test is marked ``gpu`` and skips, with the reason fastnn.backend gives, where
no CUDA device answers (or cupy is missing). Tolerances: tests/tolerances.py.
"""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest

import fastnn as fnn
from fastnn import backend as backends
from fastnn.kernels import contract
from tolerances import assert_close

pytestmark = pytest.mark.gpu

DTYPES = ["float32", "float64"]
ACTS = list(contract.ACTIVATIONS)


@pytest.fixture(scope="module", autouse=True)
def cp():
    """cupy, or a skip saying why the gpu backend cannot run here."""
    reason = backends._REGISTRY["gpu"].unavailable_reason()
    if reason:
        pytest.skip(f"no CUDA device: {reason}")
    import cupy

    return cupy


def gpu(name):
    return backends._REGISTRY["gpu"].kernel(name)


def ref(name):
    return backends._REGISTRY["numpy"].kernel(name)


def dev(a):
    import cupy

    return cupy.asarray(a) if isinstance(a, np.ndarray) else a


def host(a):
    if isinstance(a, tuple):
        return tuple(host(v) for v in a)
    if a is None or isinstance(a, np.ndarray):
        return a
    if hasattr(a, "get"):
        return a.get()
    return a


def both(name, *args):
    """(gpu result on the host, reference result) for the same host arguments."""
    expected = ref(name)(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    actual = host(gpu(name)(*[dev(a) for a in args]))
    return actual, expected


def check(actual, expected, dtype, rtol=None, what="result"):
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected), what
        for i, (a, e) in enumerate(zip(actual, expected)):
            check(a, e, dtype, rtol, f"{what}[{i}]")
        return
    if expected is None:
        assert actual is None, f"{what}: expected None"
        return
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    if expected.dtype.kind in "iub":
        assert np.array_equal(actual, expected), f"{what} differs"
    else:
        assert_close(actual, expected, dtype, rtol=rtol, what=what)


def rand(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


# -- registry and availability --------------------------------------------------------------
def test_gpu_is_available_and_falls_back_on_nothing():
    assert "gpu" in fnn.available_backends()
    assert backends.fallbacks("gpu") == []
    assert set(backends._REGISTRY["gpu"].provides) == set(contract.KERNELS)
    with fnn.use_backend("gpu"):
        assert fnn.tensor([1.0, 2.0]).backend == "gpu"


def test_every_contract_kernel_has_a_test_here():
    text = pathlib.Path(__file__).read_text()
    missing = [name for name in contract.KERNELS
               if f'"{name}"' not in text and name.rsplit("_", 1)[0] not in ACTS]
    assert not missing


# -- activations -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("shape", [(3, 5, 7), (1001,)])
def test_activation_forward_and_backward(act, dtype, shape):
    rng = np.random.default_rng(1)
    x = rand(rng, shape, dtype, 3.0)
    alpha = {"leaky_relu": 0.01, "elu": 1.3}.get(act, 0.0)
    y, y_ref = both(f"{act}_fwd", x, alpha)
    check(y, y_ref, dtype, what=f"{act}_fwd")
    gy = rand(rng, shape, dtype)
    xin = None if act in contract.GRAD_FROM_OUTPUT else x
    gx, gx_ref = both(f"{act}_bwd", xin, y_ref, gy, alpha)
    check(gx, gx_ref, dtype, what=f"{act}_bwd")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
def test_activation_special_values(act, dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 80.0, -80.0, 1e-30, 700.0, -700.0], dtype=dtype)
    with np.errstate(all="ignore"):
        y, y_ref = both(f"{act}_fwd", x, 0.2)
    check(y, y_ref, dtype, what=f"{act}_fwd special")


# -- dense ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [None] + ACTS)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_and_backward(activation, bias, dtype):
    rng = np.random.default_rng(2)
    x, w = rand(rng, (7, 13), dtype), rand(rng, (13, 5), dtype, 0.5)
    b = rand(rng, (5,), dtype) if bias else None
    alpha = 0.1 if activation in ("leaky_relu", "elu") else 0.0
    (y, z), (y_ref, z_ref) = both("linear_fwd", x, w, b, activation, alpha)
    check(y, y_ref, dtype, what="y")
    assert (z is None) == (z_ref is None)
    check(z, z_ref, dtype, what="z")
    gy = rand(rng, y_ref.shape, dtype)
    for need in [(True, True, True), (False, True, False), (True, False, True)]:
        got, want = both("linear_bwd", x, w, z_ref, y_ref, gy, activation, alpha, *need)
        check(got, want, dtype, what=f"linear_bwd {need}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_large_odd(dtype):
    rng = np.random.default_rng(3)
    x, w, b = rand(rng, (130, 257), dtype), rand(rng, (257, 129), dtype, 0.05), rand(rng, (129,), dtype)
    (y, z), (y_ref, z_ref) = both("linear_fwd", x, w, b, "gelu", 0.0)
    check(y, y_ref, dtype, rtol=1e-4 if dtype == "float32" else None)
    gy = rand(rng, y_ref.shape, dtype)
    got, want = both("linear_bwd", x, w, z_ref, y_ref, gy, "gelu", 0.0, True, True, True)
    check(got, want, dtype, rtol=1e-4 if dtype == "float32" else None)


# -- convolution ---------------------------------------------------------------------------
GEOMETRIES = [  # x shape, kernel, stride, pad
    ((2, 3, 7, 9), (3, 2), (2, 1), (1, 0, 2, 1)),
    ((3, 2, 8, 8), (3, 3), (1, 1), (1, 1, 1, 1)),
    ((1, 4, 5, 6), (1, 1), (1, 1), (0, 0, 0, 0)),
    ((2, 1, 9, 7), (2, 3), (3, 2), (0, 1, 1, 0)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_im2col_and_col2im(geometry, dtype):
    shape, kernel, stride, pad = geometry
    rng = np.random.default_rng(4)
    x = rand(rng, shape, dtype)
    cols, cols_ref = both("im2col", x, kernel, stride, pad)
    check(cols, cols_ref, dtype, what="im2col")
    g = rand(rng, cols_ref.shape, dtype)
    back, back_ref = both("col2im", g, shape, kernel, stride, pad)
    check(back, back_ref, dtype, what="col2im")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_conv2d_forward_and_backward(geometry, bias, dtype):
    shape, kernel, stride, pad = geometry
    rng = np.random.default_rng(5)
    x = rand(rng, shape, dtype)
    w = rand(rng, (4, shape[1]) + kernel, dtype, 0.5)
    b = rand(rng, (4,), dtype) if bias else None
    (y, _, cols), (y_ref, _, cols_ref) = both("conv2d_fwd", x, w, b, stride, pad, None, 0.0)
    check(y, y_ref, dtype, what="y")
    check(cols, cols_ref, dtype, what="cols")
    gy = rand(rng, y_ref.shape, dtype)
    got, want = both("conv2d_bwd", shape, w, cols_ref, None, None, gy, stride, pad, None, 0.0, True, True, bias)
    check(got, want, dtype, what="conv2d_bwd")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["relu", "elu", "tanh"])
def test_conv2d_fused_activation(activation, dtype):
    shape, kernel, stride, pad = GEOMETRIES[0]
    rng = np.random.default_rng(6)
    x = rand(rng, shape, dtype)
    w = rand(rng, (4, shape[1]) + kernel, dtype, 0.5)
    b = rand(rng, (4,), dtype)
    (y, z, cols), (y_ref, z_ref, cols_ref) = both("conv2d_fwd", x, w, b, stride, pad, activation, 0.3)
    check(y, y_ref, dtype, what="y")
    gy = rand(rng, y_ref.shape, dtype)
    got, want = both("conv2d_bwd", shape, w, cols_ref, z_ref, y_ref, gy, stride, pad, activation, 0.3,
                     True, True, True)
    check(got, want, dtype, what="conv2d_bwd")


# -- pooling ---------------------------------------------------------------------------------
POOLS = [
    ((2, 3, 7, 8), (3, 3), (2, 2), (1, 1, 1, 1)),
    ((2, 2, 8, 6), (2, 2), (2, 2), (0, 0, 0, 0)),
    ((1, 3, 7, 5), (3, 2), (1, 2), (1, 0, 0, 1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("geometry", POOLS, ids=str)
def test_max_pool(geometry, ties, dtype):
    shape, kernel, stride, pad = geometry
    rng = np.random.default_rng(6)
    x = rng.integers(-2, 3, shape).astype(dtype) if ties else rand(rng, shape, dtype)
    (y, arg), (y_ref, arg_ref) = both("max_pool2d_fwd", x, kernel, stride, pad)
    check(y, y_ref, dtype, what="y")
    check(arg, arg_ref, dtype, what="argmax")
    gy = rand(rng, y_ref.shape, dtype)
    gx, gx_ref = both("max_pool2d_bwd", gy, arg_ref, shape, kernel, stride, pad)
    check(gx, gx_ref, dtype, what="gx")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("geometry", POOLS, ids=str)
def test_avg_pool(geometry, include_pad, dtype):
    shape, kernel, stride, pad = geometry
    rng = np.random.default_rng(7)
    x = rand(rng, shape, dtype)
    y, y_ref = both("avg_pool2d_fwd", x, kernel, stride, pad, include_pad)
    check(y, y_ref, dtype)
    gy = rand(rng, y_ref.shape, dtype)
    gx, gx_ref = both("avg_pool2d_bwd", gy, shape, kernel, stride, pad, include_pad)
    check(gx, gx_ref, dtype)


# -- batch norm -------------------------------------------------------------------------------
BN_SHAPES = [(7, 5), (4, 3, 5, 7), (6, 16, 33, 17), (300, 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
def test_batchnorm_train_forward_updates_running_stats(shape, dtype):
    rng = np.random.default_rng(8)
    x = (rand(rng, shape, dtype) * 2 + 3).astype(dtype)
    c = shape[1]
    gamma, beta = rand(rng, (c,), dtype), rand(rng, (c,), dtype)
    rm, rv = rand(rng, (c,), dtype), (rng.random(c) + 0.5).astype(dtype)
    rm_g, rv_g = dev(rm.copy()), dev(rv.copy())
    out = host(gpu("batchnorm_fwd_train")(dev(x), dev(gamma), dev(beta), rm_g, rv_g, 0.1, 1e-5))
    want = ref("batchnorm_fwd_train")(x, gamma, beta, rm, rv, 0.1, 1e-5)  # rm, rv updated in place
    check(out, want, dtype, what="y, mean, invstd")
    check(host(rm_g), rm, dtype, what="running_mean")
    check(host(rv_g), rv, dtype, what="running_var")


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_statistics_are_stable_under_a_large_offset(dtype):
    rng = np.random.default_rng(9)
    x = (1000.0 + 0.01 * rng.standard_normal((64, 3, 9, 9))).astype(dtype)
    ones, zeros = np.ones(3, dtype), np.zeros(3, dtype)
    got = host(gpu("batchnorm_fwd_train")(dev(x), dev(ones), dev(zeros), dev(zeros.copy()), dev(ones.copy()),
                                          0.1, 1e-5))
    x64 = x.astype(np.float64)
    var = x64.var(axis=(0, 2, 3))
    assert np.allclose(got[1], x64.mean(axis=(0, 2, 3)), rtol=1e-7 if dtype == "float32" else 1e-13)
    assert np.allclose(got[2], 1 / np.sqrt(var + 1e-5), rtol=1e-4 if dtype == "float32" else 1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
def test_batchnorm_eval_and_backward(shape, dtype):
    rng = np.random.default_rng(10)
    x = rand(rng, shape, dtype)
    c = shape[1]
    gamma, beta = rand(rng, (c,), dtype), rand(rng, (c,), dtype)
    rm, rv = rand(rng, (c,), dtype), (rng.random(c) + 0.5).astype(dtype)
    y, y_ref = both("batchnorm_fwd_eval", x, gamma, beta, rm, rv, 1e-5)
    check(y, y_ref, dtype, what="eval y")
    _, mean, invstd = ref("batchnorm_fwd_train")(x, gamma, beta, rm.copy(), rv.copy(), 0.1, 1e-5)
    gy = rand(rng, shape, dtype)
    got, want = both("batchnorm_bwd_train", x, gamma, mean, invstd, gy)
    check(got, want, dtype, rtol=1e-4 if dtype == "float32" else None, what="bwd train")
    got, want = both("batchnorm_bwd_eval", x, gamma, rm, rv, 1e-5, gy)
    check(got, want, dtype, what="bwd eval")


# -- softmax family ---------------------------------------------------------------------------
ROWS = [(5, 7), (3, 1500), (257, 1000), (4, 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ROWS, ids=str)
def test_softmax_and_log_softmax(shape, dtype):
    rng = np.random.default_rng(11)
    x = rand(rng, shape, dtype, 4.0)
    gy = rand(rng, shape, dtype)
    for fwd, bwd in (("softmax_fwd", "softmax_bwd"), ("log_softmax_fwd", "log_softmax_bwd")):
        y, y_ref = both(fwd, x)
        check(y, y_ref, dtype, what=fwd)
        gx, gx_ref = both(bwd, y_ref, gy)
        check(gx, gx_ref, dtype, what=bwd)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ROWS, ids=str)
@pytest.mark.parametrize("want_grad", [True, False])
def test_softmax_cross_entropy(shape, want_grad, dtype):
    rng = np.random.default_rng(12)
    z = rand(rng, shape, dtype, 5.0) + 30  # an offset the max subtraction must absorb
    labels = rng.integers(0, shape[1], shape[0]).astype(np.int64)
    got, want = both("softmax_ce_fwd_bwd", z, labels, want_grad)
    check(got, want, dtype, what="sparse CE")
    t = rng.random(shape).astype(dtype)
    got, want = both("softmax_ce_soft_fwd_bwd", z, t, want_grad)
    check(got, want, dtype, what="soft CE")


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy_special_values(dtype):
    z = np.array([[0.0, -np.inf, 1.0, 2.0], [np.nan, 0.0, 1.0, 2.0], [1e4, -1e4, 0.0, 3.0],
                  [-np.inf, -np.inf, 5.0, -np.inf]], dtype=dtype)
    labels = np.array([2, 1, 0, 2], dtype=np.int64)
    with np.errstate(all="ignore"):
        got, want = both("softmax_ce_fwd_bwd", z, labels, True)
        check(got, want, dtype, what="sparse CE special")
        y, y_ref = both("softmax_fwd", z)
        check(y, y_ref, dtype, what="softmax special")


@pytest.mark.parametrize("want_grad", [True, False])
def test_softmax_cross_entropy_records_bad_labels(cp, want_grad):
    """An out-of-range label is never used as an index: its row's loss (and gradient) is
    NaN and the smallest such row is recorded on the device for the op's deferred check."""
    from fastnn.kernels.gpu import softmax as gsm

    recorder = gsm.bad_label_rows()
    assert recorder.take() == -1
    z = cp.asarray(np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32))
    loss, grad = gsm.softmax_ce_fwd_bwd(z, cp.asarray(np.array([0, 3, 4, -1, 9], np.int64)), want_grad)
    loss = loss.get()
    assert np.isfinite(loss[:2]).all() and np.isnan(loss[2:]).all()
    if want_grad:
        grad = grad.get()
        assert np.isfinite(grad[:2]).all() and np.isnan(grad[2:]).all()
    assert recorder.take() == 2
    assert recorder.take() == -1  # reset by the read
    gsm.softmax_ce_fwd_bwd(z, cp.asarray(np.array([0, 1, 2, 3, 3], np.int64)), want_grad)
    assert recorder.take() == -1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 256, 1000, 70001])
def test_softmax_ce_mean_and_its_backward(cp, n, dtype):
    """The one-launch companions of the sparse CE op: the mean over rows and dlogits * (g / n)."""
    from fastnn.kernels.gpu import softmax as gsm

    rng = np.random.default_rng(n)
    loss = rng.random(n).astype(dtype)
    got = gsm.mean_rows(cp.asarray(loss))
    assert got.shape == () and got.dtype == dtype
    assert_close(got.get(), np.asarray(loss.sum() / n, dtype=dtype), dtype, what="mean_rows")
    dl = rand(rng, (n, 3), dtype, 1.0)
    g = np.asarray(rng.random() + 0.5, dtype=dtype)
    got = gsm.scale_by_mean_grad(cp.asarray(dl), cp.asarray(g), n).get()
    assert_close(got, dl * (g / n), dtype, what="scale_by_mean_grad")


def test_sparse_ce_label_range_errors_on_gpu(cp):
    """The gpu op checks labels without synchronising in the forward; the ValueError (same
    text as on numpy and cpu) comes at backward, at a host read of any tensor, or at once
    when no backward can follow; host labels are checked on the host before they move."""
    import fastnn.functional as F
    from fastnn.ops import checks

    rng = np.random.default_rng(4)
    z = fnn.tensor(rng.standard_normal((3, 4)).astype(np.float32), backend="gpu", requires_grad=True)
    bad = fnn.tensor(np.array([0, 4, 5]), backend="gpu")
    loss = F.sparse_categorical_crossentropy(z, bad)  # no error yet: nothing synchronised
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*labels\[1\] = 4.*\[0, 4\)"):
        loss.backward()
    assert z.grad is None and not checks._deferred
    loss = F.sparse_categorical_crossentropy(z, bad)
    with pytest.raises(ValueError, match=r"labels\[1\] = 4"):
        loss.item()
    with fnn.no_grad():
        with pytest.raises(ValueError, match=r"labels\[1\] = 4"):
            F.sparse_categorical_crossentropy(z, bad)
    with pytest.raises(ValueError, match=r"labels\[2\] = -1"):
        F.sparse_categorical_crossentropy(z, np.array([0, 3, -1]))
    z3 = fnn.tensor(rng.standard_normal((2, 2, 4)).astype(np.float32), backend="gpu", requires_grad=True)
    loss = F.sparse_categorical_crossentropy(z3, fnn.tensor(np.array([[0, 1], [9, 9]]), backend="gpu"))
    with pytest.raises(ValueError, match=r"labels\[1, 0\] = 9"):
        loss.backward()
    # good labels afterwards: nothing left over, finite loss and gradient
    good = fnn.tensor(np.array([0, 3, 2]), backend="gpu")
    loss = F.sparse_categorical_crossentropy(z, good)
    loss.backward()
    assert math.isfinite(loss.item()) and np.isfinite(z.grad.numpy()).all()
    expected = F.sparse_categorical_crossentropy(z.to("numpy"), np.array([0, 3, 2])).item()
    assert abs(loss.item() - expected) < 1e-5


# -- losses ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_losses(dtype):
    rng = np.random.default_rng(13)
    z, t = rand(rng, (9, 11), dtype, 30.0), rng.random((9, 11)).astype(dtype)
    got, want = both("bce_logits_fwd", z, t)
    check(got, want, dtype, what="bce fwd")
    g0 = np.asarray(0.37, dtype=dtype)
    got, want = both("bce_logits_bwd", z, t, g0)
    check(got, want, dtype, what="bce bwd 0-d")
    gfull = rand(rng, z.shape, dtype)
    got, want = both("bce_logits_bwd", z, t, gfull)
    check(got, want, dtype, what="bce bwd full")
    got, want = both("mse_fwd", z, t)
    assert got.shape == () and got.dtype == want.dtype
    check(got, want, dtype, what="mse fwd")
    got, want = both("mse_bwd", z, t, g0)
    check(got, want, dtype, what="mse bwd")
    got, want = both("l2_fwd", z)
    assert got.shape == ()
    check(got, want, dtype, what="l2 fwd")
    got, want = both("l2_bwd", z, g0)
    check(got, want, dtype, what="l2 bwd")


# -- randomness -----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed,offset,n", [(0, 0, 1), (0x5EED, 3, 1001), (2**40 + 7, 2**33 + 5, 4099),
                                           (2**64 - 1, 2**64 - 3, 18)])
def test_philox_words_are_bit_identical(seed, offset, n):
    got = host(gpu("philox_uint32")(seed, offset, n))
    want = ref("philox_uint32")(seed, offset, n)
    assert got.dtype == np.uint32 and np.array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rate", [0.0, 0.3, 0.5, 0.999, 1.0])
@pytest.mark.parametrize("shape", [(7, 13), (3, 5, 11, 2), (1,)])
@pytest.mark.parametrize("lane", [0, 1, 3])
def test_dropout_masks_are_bit_identical(shape, rate, dtype, lane):
    rng = np.random.default_rng(14)
    x = rand(rng, shape, dtype)
    (y, mask), (y_ref, mask_ref) = both("dropout_fwd", x, rate, 1234567890123, 77, lane)
    assert mask.dtype == np.uint8 and np.array_equal(mask, mask_ref)
    assert np.array_equal(y, y_ref)
    gy = rand(rng, shape, dtype)
    gx, gx_ref = both("dropout_bwd", gy, mask_ref, rate)
    assert np.array_equal(gx, gx_ref)


# -- embedding ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_forward_and_deterministic_backward(dtype):
    rng = np.random.default_rng(15)
    weight = rand(rng, (11, 6), dtype)
    indices = rng.integers(0, 11, (5, 7)).astype(np.int64)
    indices[0, :3] = 4  # repeated rows
    got, want = both("embedding_fwd", weight, indices)
    check(got, want, dtype, what="embedding fwd")
    gy = rand(rng, (5, 7, 6), dtype)
    got, want = both("embedding_bwd", indices, gy, 11)
    check(got, want, dtype, what="embedding bwd")
    again = host(gpu("embedding_bwd")(dev(indices), dev(gy), 11))
    assert np.array_equal(got, again), "embedding_bwd is not deterministic"


# -- optimizers -----------------------------------------------------------------------------------
def _run_optimizer(name, dtype, make_state, call, steps=20):
    rng = np.random.default_rng(16)
    p = rand(rng, (37, 5), dtype)
    state = make_state(p)
    p_g, state_g = dev(p.copy()), {k: (dev(v.copy()) if v is not None else None) for k, v in state.items()}
    for step in range(1, steps + 1):
        g = rand(rng, p.shape, dtype)
        call(ref(name), p, g, state, step)
        call(gpu(name), p_g, dev(g), state_g, step)
    check(host(p_g), p, dtype, rtol=1e-4 if dtype == "float32" else 1e-9, what=f"{name} parameter")
    for k, v in state.items():
        if v is not None:
            check(host(state_g[k]), v, dtype, rtol=1e-4 if dtype == "float32" else 1e-9, what=f"{name} {k}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum,dampening,nesterov,wd", [(0.0, 0.0, False, 0.0), (0.0, 0.0, False, 0.01),
                                                            (0.9, 0.0, False, 0.0), (0.9, 0.1, False, 1e-3),
                                                            (0.9, 0.0, True, 1e-2)])
def test_sgd_update_over_20_steps(momentum, dampening, nesterov, wd, dtype):
    def make(p):
        return {"buf": np.zeros_like(p) if momentum else None}

    def call(k, p, g, s, step):
        k(p, g, s["buf"], 0.05, momentum, dampening, nesterov, wd, step == 1)

    _run_optimizer("sgd_update", dtype, make, call)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("centered,momentum,wd", [(False, 0.0, 0.0), (True, 0.0, 0.01), (False, 0.9, 0.0),
                                                  (True, 0.5, 1e-3)])
def test_rmsprop_update_over_20_steps(centered, momentum, wd, dtype):
    def make(p):
        return {"sq": np.zeros_like(p), "gavg": np.zeros_like(p) if centered else None,
                "buf": np.zeros_like(p) if momentum else None}

    def call(k, p, g, s, step):
        k(p, g, s["sq"], s["gavg"], s["buf"], 0.01, 0.99, 1e-8, wd, momentum, centered)

    _run_optimizer("rmsprop_update", dtype, make, call)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("amsgrad,decoupled,wd", [(False, False, 0.0), (True, False, 0.01), (False, True, 0.01),
                                                  (True, True, 0.1)])
def test_adam_update_over_20_steps(amsgrad, decoupled, wd, dtype):
    def make(p):
        return {"m": np.zeros_like(p), "v": np.zeros_like(p), "vmax": np.zeros_like(p) if amsgrad else None}

    def call(k, p, g, s, step):
        k(p, g, s["m"], s["v"], s["vmax"], step, 1e-2, 0.9, 0.999, 1e-8, wd, amsgrad, decoupled)

    _run_optimizer("adam_update", dtype, make, call)


# -- determinism of the gathers and reductions ----------------------------------------------------------
def test_gather_and_reduction_kernels_are_deterministic():
    rng = np.random.default_rng(17)
    x = rand(rng, (8, 16, 15, 15), "float32")
    w = rand(rng, (8, 16, 3, 3), "float32")
    y, _, cols = gpu("conv2d_fwd")(dev(x), dev(w), None, (1, 1), (1, 1, 1, 1), None, 0.0)
    gy = dev(rand(rng, tuple(y.shape), "float32"))
    args = (x.shape, dev(w), cols, None, None, gy, (1, 1), (1, 1, 1, 1), None, 0.0, True, True, True)
    first = host(gpu("conv2d_bwd")(*args))
    second = host(gpu("conv2d_bwd")(*args))
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    ones = dev(np.ones(16, "float32"))
    a = host(gpu("batchnorm_fwd_train")(dev(x), ones, ones * 0, ones * 0, ones * 1, 0.1, 1e-5))
    b = host(gpu("batchnorm_fwd_train")(dev(x), ones, ones * 0, ones * 0, ones * 1, 0.1, 1e-5))
    for u, v in zip(a, b):
        assert np.array_equal(u, v)


# -- tensors, models, data movement -------------------------------------------------------------------
def test_tensor_moves_between_backends_with_gradient():
    a = fnn.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True, backend="numpy")
    g = a.to("gpu")
    assert g.backend == "gpu" and type(g.data).__module__.startswith("cupy")
    back = (g * g).sum().to("numpy")
    back.backward()
    assert np.allclose(a.grad.numpy(), 2 * a.numpy())
    assert isinstance(g.numpy(), np.ndarray) and np.array_equal(g.numpy(), a.numpy())
    assert g.to("gpu").data is not g.data


def test_model_moves_with_its_parameters():
    fnn.manual_seed(0)
    model = fnn.Sequential([fnn.layers.Input((4,)), fnn.layers.Dense(3, activation="relu"), fnn.layers.Dense(2)],
                           backend="numpy")
    x = np.random.default_rng(18).standard_normal((5, 4)).astype(np.float32)
    want = model(fnn.tensor(x, backend="numpy")).numpy()
    model.to("gpu")
    assert all(p.backend == "gpu" for p in model.parameters())
    got = model(fnn.tensor(x, backend="gpu")).numpy()
    assert_close(got, want, "float32")
    model.to("numpy")
    assert all(p.backend == "numpy" for p in model.parameters())


def test_dlpack_with_cupy_is_zero_copy(cp):
    a = cp.arange(12, dtype=cp.float32).reshape(3, 4)
    t = fnn.from_dlpack(a)
    assert t.backend == "gpu" and t.data.data.ptr == a.data.ptr
    b = cp.from_dlpack(t)
    assert b.data.ptr == a.data.ptr
    assert t.__dlpack_device__()[0] == 2


def test_dlpack_with_torch_is_zero_copy():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch has no CUDA device")
    a = torch.arange(10, dtype=torch.float32, device="cuda").reshape(2, 5)
    t = fnn.from_dlpack(a)
    assert t.backend == "gpu" and t.data.data.ptr == a.data_ptr()
    b = torch.from_dlpack(t)
    assert b.data_ptr() == a.data_ptr() and b.device.type == "cuda"
    host_tensor = fnn.from_dlpack(torch.ones(3))
    assert host_tensor.backend in ("numpy", "cpu")
    assert math.isclose(float(host_tensor.numpy().sum()), 3.0)
