"""Kernel-level parity of the Numba cpu kernels for activations, linear, softmax and
cross-entropy, Philox, dropout and the optimizers, against kernels/reference.

Every kernel runs in float32 and float64, on odd small sizes (serial path) and on sizes
above PARALLEL_MIN (parallel path). Tolerances: tests/tolerances.py. Philox words and
dropout masks must be bit-identical. Kernels take C-contiguous arrays (the op layer
makes inputs contiguous), so these tests use contiguous arrays.
"""

import itertools
import warnings

import numpy as np
import pytest

from tolerances import assert_close

from fastnn.kernels import contract
from fastnn.kernels.cpu import activations as cact
from fastnn.kernels.cpu import dropout as cdrop
from fastnn.kernels.cpu import linear as clin
from fastnn.kernels.cpu import optim as copt
from fastnn.kernels.cpu import philox as cphil
from fastnn.kernels.cpu import softmax as csm
from fastnn.kernels.cpu import _jit
from fastnn.kernels.reference import activations as ract
from fastnn.kernels.reference import dropout as rdrop
from fastnn.kernels.reference import linear as rlin
from fastnn.kernels.reference import optim as ropt
from fastnn.kernels.reference import philox as rphil
from fastnn.kernels.reference import softmax as rsm

DTYPES = ["float32", "float64"]
ALPHA = {"leaky_relu": 0.1, "elu": 1.3}
# Small odd shapes run the serial kernels, the last one the parallel kernels: these tests
# lower the threshold to TEST_PARALLEL_MIN (the production one is sized for training
# steps, bench/RESULTS.md), so that both compiled twins run on test-sized arrays.
TEST_PARALLEL_MIN = 32768
ACT_SHAPES = [(5, 7), (1, 1), (3, 1000), (2, 137, 181)]
assert np.prod(ACT_SHAPES[-1]) >= TEST_PARALLEL_MIN > 3 * 1000


@pytest.fixture(autouse=True)
def _test_sized_parallel_threshold(monkeypatch):
    monkeypatch.setattr(_jit, "PARALLEL_MIN", TEST_PARALLEL_MIN)


@pytest.fixture(autouse=True)
def _quiet_reference():
    # The reference warns on NaN/inf arithmetic that these tests feed it on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def rand(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def with_specials(x):
    """x with NaN, +-inf, +-0, tiny and large values at its first elements."""
    flat = x.reshape(-1)
    specials = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -40.0, 40.0, 1e4, -1e4]
    k = min(flat.size, len(specials))
    flat[:k] = specials[:k]
    return x


# -- activations ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["as chosen", "compiled"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ACT_SHAPES, ids=str)
@pytest.mark.parametrize("name", contract.ACTIVATIONS)
def test_activation_matches_reference(name, shape, dtype, path, monkeypatch):
    if path == "compiled":   # the Numba kernels also below the size where NumPy is chosen
        monkeypatch.setattr(cact, "NUMPY_BELOW", 0)
    rng = np.random.default_rng(1)
    alpha = ALPHA.get(name, 0.0)
    x = with_specials(rand(rng, shape, dtype, 3.0))
    gy = rand(rng, shape, dtype)
    x0, gy0 = x.copy(), gy.copy()
    y_ref = getattr(ract, f"{name}_fwd")(x, alpha)
    y = getattr(cact, f"{name}_fwd")(x, alpha)
    assert_close(y, y_ref, dtype, what=f"{name}_fwd")
    x_arg = None if name in contract.GRAD_FROM_OUTPUT else x
    gx = getattr(cact, f"{name}_bwd")(x_arg, y_ref, gy, alpha)
    assert_close(gx, getattr(ract, f"{name}_bwd")(x, y_ref, gy, alpha), dtype, what=f"{name}_bwd")
    assert np.array_equal(x, x0, equal_nan=True) and np.array_equal(gy, gy0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_vectorised_math_is_accurate_over_the_range(dtype):
    # The vectorised exp over the whole range where its result is a normal number, seen
    # through softmax_fwd on rows (0, x): y[1] = exp(x) / (1 + exp(x)). (expm1, log1p and
    # erf are covered by the activation parity tests, specials included.)
    x = np.linspace(-700 if dtype == "float64" else -100, 0, 200001).astype(dtype).reshape(-1, 1)
    rows = np.concatenate([np.zeros_like(x), x], axis=1)     # max is 0: y = exp(row) / (1 + exp(x))
    y = csm.softmax_fwd(rows)
    expected = (np.exp(x.astype(np.float64)) / (1 + np.exp(x.astype(np.float64)))).astype(dtype)
    tiny = np.finfo(dtype).tiny
    keep = expected[:, 0] > tiny
    rel = np.abs(y[keep, 1].astype(np.float64) - expected[keep, 0]) / expected[keep, 0]
    assert rel.max() < (1e-14 if dtype == "float64" else 5e-7)   # a few ulp: exp, sum, divide


# -- linear ----------------------------------------------------------------------------------
LIN_SIZES = [(5, 7, 3), (1, 1, 1), (3, 1000, 2), (300, 20, 200)]
assert 300 * 200 >= TEST_PARALLEL_MIN


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", LIN_SIZES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("activation", [None, *contract.ACTIVATIONS])
def test_linear_matches_reference(activation, bias, size, dtype):
    rng = np.random.default_rng(2)
    n, i, o = size
    alpha = ALPHA.get(activation, 0.0)
    x = rand(rng, (n, i), dtype)
    w = rand(rng, (i, o), dtype, 1 / np.sqrt(i))
    b = rand(rng, (o,), dtype) if bias else None
    y_ref, z_ref = rlin.linear_fwd(x, w, b, activation, alpha)
    y, z = clin.linear_fwd(x, w, b, activation, alpha)
    assert_close(y, y_ref, dtype, what="y")
    assert (z is None) == (z_ref is None) == (activation is None or activation in contract.GRAD_FROM_OUTPUT)
    if z_ref is not None:
        assert_close(z, z_ref, dtype, what="z")
    gy = rand(rng, y.shape, dtype)
    saved = [a.copy() for a in (x, w, y, gy)]
    for need in itertools.product([True, False], repeat=3):
        got = clin.linear_bwd(x, w, z, y, gy, activation, alpha, *need)
        want = rlin.linear_bwd(x, w, z_ref, y_ref, gy, activation, alpha, *need)
        for name, g, e, wanted in zip(("gx", "gw", "gb"), got, want, need):
            assert (g is None) == (not wanted), name
            if wanted:
                assert_close(g, e, dtype, what=f"{name} need={need}")
    # The caller's arrays are left alone (gy and y may be shared with other nodes).
    for a, s in zip((x, w, y, gy), saved):
        assert np.array_equal(a, s)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_propagates_nan_and_inf(dtype):
    rng = np.random.default_rng(3)
    x = rand(rng, (4, 6), dtype)
    x[0, 0], x[1, 2] = np.nan, np.inf
    w = rand(rng, (6, 5), dtype)
    b = rand(rng, (5,), dtype)
    for act in ["relu", "sigmoid", "gelu", "elu", None]:
        y_ref, z_ref = rlin.linear_fwd(x, w, b, act, 1.0)
        y, z = clin.linear_fwd(x, w, b, act, 1.0)
        assert_close(y, y_ref, dtype, what=f"{act} y")
        gy = rand(rng, y.shape, dtype)
        for g, e in zip(clin.linear_bwd(x, w, z, y, gy, act, 1.0, True, True, True),
                        rlin.linear_bwd(x, w, z_ref, y_ref, gy, act, 1.0, True, True, True)):
            assert_close(g, e, dtype, what=f"{act} grad")


# -- softmax family and cross-entropy --------------------------------------------------------
SM_SHAPES = [(5, 7), (1, 1), (3, 1000), (64, 601)]
assert 64 * 601 >= TEST_PARALLEL_MIN


def logits_for(rng, shape, dtype, specials):
    x = rand(rng, shape, dtype, 3.0)
    if specials and shape[0] >= 3 and shape[1] >= 3:
        x[0, 1] = np.nan        # a NaN logit: its row is NaN
        x[1, 0] = np.inf        # +inf: inf - inf = NaN in its row
        x[2, :] = -np.inf       # a row of -inf
        x[-1, 2] = -np.inf      # one -inf among finite logits: exp = 0
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SM_SHAPES, ids=str)
@pytest.mark.parametrize("specials", [False, True], ids=["finite", "nan_inf"])
def test_softmax_cross_entropy_matches_reference(shape, dtype, specials):
    rng = np.random.default_rng(4)
    x = logits_for(rng, shape, dtype, specials)
    labels = rng.integers(0, shape[1], shape[0]).astype(np.int64)
    targets = rng.random(shape).astype(dtype)
    for want_grad in (True, False):
        loss, grad = csm.softmax_ce_fwd_bwd(x, labels, want_grad)
        loss_ref, grad_ref = rsm.softmax_ce_fwd_bwd(x, labels, want_grad)
        assert_close(loss, loss_ref, dtype, what="sparse loss")
        assert (grad is None) == (not want_grad)
        if want_grad:
            assert_close(grad, grad_ref, dtype, what="sparse grad")
        loss, grad = csm.softmax_ce_soft_fwd_bwd(x, targets, want_grad)
        loss_ref, grad_ref = rsm.softmax_ce_soft_fwd_bwd(x, targets, want_grad)
        assert_close(loss, loss_ref, dtype, what="soft loss")
        assert (grad is None) == (not want_grad)
        if want_grad:
            assert_close(grad, grad_ref, dtype, what="soft grad")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 3, 64, 1001])
@pytest.mark.parametrize("contiguous", [True, False], ids=["contiguous", "strided"])
def test_mean_rows_and_scale_by_mean_grad_equal_reference(n, dtype, contiguous):
    rng = np.random.default_rng(5)
    loss = rng.standard_normal(2 * n).astype(dtype)
    loss = loss[:n] if contiguous else loss[::2]
    got, want = csm.mean_rows(loss), rsm.mean_rows(loss)
    assert got.shape == () and got.dtype == want.dtype == dtype
    assert got == want        # the same pairwise sum and one division
    dlogits = rng.standard_normal((n, 5)).astype(dtype)
    if not contiguous:
        dlogits = np.asfortranarray(dlogits)
    g = np.asarray(rng.standard_normal(), dtype=dtype)
    want = rsm.scale_by_mean_grad(dlogits.copy(), g, n)      # each is handed its own array
    got = csm.scale_by_mean_grad(dlogits.copy(), g, n)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SM_SHAPES, ids=str)
@pytest.mark.parametrize("specials", [False, True], ids=["finite", "nan_inf"])
def test_softmax_and_log_softmax_match_reference(shape, dtype, specials):
    rng = np.random.default_rng(5)
    x = logits_for(rng, shape, dtype, specials)
    gy = rand(rng, shape, dtype)
    y = rsm.softmax_fwd(x)
    assert_close(csm.softmax_fwd(x), y, dtype, what="softmax_fwd")
    assert_close(csm.softmax_bwd(y, gy), rsm.softmax_bwd(y, gy), dtype, what="softmax_bwd")
    ly = rsm.log_softmax_fwd(x)
    assert_close(csm.log_softmax_fwd(x), ly, dtype, what="log_softmax_fwd")
    assert_close(csm.log_softmax_bwd(ly, gy), rsm.log_softmax_bwd(ly, gy), dtype, what="log_softmax_bwd")


# -- Philox and dropout ------------------------------------------------------------------------
# Sizes around the kernels' chunks of cphil.CHUNK blocks (four words each): one partial
# chunk, whole chunks only, whole chunks then whole blocks then a partial block, and a
# parallel run of many chunks.
STREAMS = [(0, 0, 1), (1, 5, 7), (2**40 + 3, 2**33 + 1, 1001), (12345, 7, 4 * TEST_PARALLEL_MIN + 3),
           (2**64 - 1, 2**40, 50), (9, 2, 4 * cphil.CHUNK), (3, 1, 2 * 4 * cphil.CHUNK + 22), (7, 0, 0)]


@pytest.mark.parametrize("seed,offset,n", STREAMS)
def test_philox_stream_is_bit_identical(seed, offset, n):
    got = cphil.philox_uint32(seed, offset, n)
    want = rphil.philox_uint32(seed, offset, n)
    assert got.dtype == np.uint32 and got.shape == (n,)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed,offset,n", STREAMS[:-1])
@pytest.mark.parametrize("rate", [0.0, 0.5, 1.0, 0.13])
@pytest.mark.parametrize("lane", [0, 1, 3])
def test_dropout_is_bit_identical(seed, offset, n, rate, dtype, lane):
    rng = np.random.default_rng(6)
    x = rand(rng, (n,), dtype)
    if n > 3:
        x[:3] = [np.nan, np.inf, -np.inf]
    shape = (n,) if n % 3 else (n // 3, 3)          # masks keep x's shape, 1-D or not
    x = x.reshape(shape)
    y, mask = cdrop.dropout_fwd(x, rate, seed, offset, lane)
    y_ref, mask_ref = rdrop.dropout_fwd(x, rate, seed, offset, lane)
    assert mask.dtype == np.uint8 and mask.shape == x.shape
    assert np.array_equal(mask, mask_ref)
    assert y.dtype == x.dtype and np.array_equal(y, y_ref, equal_nan=True)
    if rate == 1.0:
        assert not mask.any() and not y.any()
    if rate == 0.0:
        assert mask.all()
    gy = rand(rng, shape, dtype)
    assert np.array_equal(cdrop.dropout_bwd(gy, mask, rate), rdrop.dropout_bwd(gy, mask_ref, rate))


# -- optimizers ------------------------------------------------------------------------------
OPT_SHAPES = [(5, 7), (1,), (3, 11, 13), (210, 211)]
assert 210 * 211 >= TEST_PARALLEL_MIN
STEPS = 20


def run_both(update_cpu, update_ref, p, buffers, dtype, rng, shape):
    """Apply STEPS updates with fresh gradients to p and copies, return both sides."""
    pc, pr = p.copy(), p.copy()
    bc = [None if b is None else b.copy() for b in buffers]
    br = [None if b is None else b.copy() for b in buffers]
    for step in range(1, STEPS + 1):
        g = rand(rng, shape, dtype)
        g0 = g.copy()
        update_cpu(pc, g, bc, step)
        update_ref(pr, g, br, step)
        assert np.array_equal(g, g0)
    return (pc, bc), (pr, br)


def check_state(cpu, ref, dtype):
    (pc, bc), (pr, br) = cpu, ref
    assert_close(pc, pr, dtype, what="p")
    for a, e in zip(bc, br):
        assert (a is None) == (e is None)
        if e is not None:
            assert_close(a, e, dtype, what="state")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", OPT_SHAPES, ids=str)
@pytest.mark.parametrize("momentum,dampening,nesterov", [(0.0, 0.0, False), (0.9, 0.0, False), (0.9, 0.3, False),
                                                         (0.9, 0.0, True)])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_sgd_matches_reference(momentum, dampening, nesterov, weight_decay, shape, dtype):
    rng = np.random.default_rng(7)
    p = rand(rng, shape, dtype)
    buffers = [np.zeros_like(p) if momentum else None]   # fastnn.optim passes None without momentum

    def upd(mod):
        return lambda p, g, b, step: mod.sgd_update(p, g, b[0], 0.05, momentum, dampening, nesterov,
                                                    weight_decay, step == 1)
    check_state(*run_both(upd(copt), upd(ropt), p, buffers, dtype, rng, shape), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", OPT_SHAPES, ids=str)
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_rmsprop_matches_reference(centered, momentum, weight_decay, shape, dtype):
    rng = np.random.default_rng(8)
    p = rand(rng, shape, dtype)
    buffers = [np.zeros_like(p), np.zeros_like(p) if centered else None, np.zeros_like(p) if momentum else None]

    def upd(mod):
        return lambda p, g, b, step: mod.rmsprop_update(p, g, b[0], b[1], b[2], 0.01, 0.99, 1e-8, weight_decay,
                                                        momentum, centered)
    check_state(*run_both(upd(copt), upd(ropt), p, buffers, dtype, rng, shape), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", OPT_SHAPES, ids=str)
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_matches_reference(amsgrad, decoupled, weight_decay, shape, dtype):
    rng = np.random.default_rng(9)
    p = rand(rng, shape, dtype)
    buffers = [np.zeros_like(p), np.zeros_like(p), np.zeros_like(p) if amsgrad else None]

    def upd(mod):
        return lambda p, g, b, step: mod.adam_update(p, g, b[0], b[1], b[2], step, 0.01, 0.9, 0.999, 1e-8,
                                                     weight_decay, amsgrad, decoupled)
    check_state(*run_both(upd(copt), upd(ropt), p, buffers, dtype, rng, shape), dtype)


def test_optimizers_propagate_nan_and_inf():
    for dtype in DTYPES:
        p = np.array([1.0, np.nan, np.inf, -2.0], dtype=dtype)
        g = np.array([np.nan, 1.0, 0.5, np.inf], dtype=dtype)
        for update in (lambda m, p, s: m.sgd_update(p, g, s[0], 0.1, 0.9, 0.0, False, 0.0, True),
                       lambda m, p, s: m.rmsprop_update(p, g, s[0], s[1], s[2], 0.1, 0.9, 1e-8, 0.0, 0.5, True),
                       lambda m, p, s: m.adam_update(p, g, s[0], s[1], s[2], 1, 0.1, 0.9, 0.99, 1e-8, 0.0, True,
                                                     False)):
            pc, pr = p.copy(), p.copy()
            sc = [np.zeros_like(p) for _ in range(3)]
            sr = [np.zeros_like(p) for _ in range(3)]
            update(copt, pc, sc)
            update(ropt, pr, sr)
            assert np.array_equal(np.isnan(pc), np.isnan(pr)) and np.array_equal(np.isinf(pc), np.isinf(pr))
