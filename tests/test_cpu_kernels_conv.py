"""Kernel-level parity of the Numba cpu convolution, pooling and batch-norm kernels
against the reference kernels (kernels/reference), float32 and float64.

Every test runs twice, once forcing the serial twin of every ``@dual`` kernel and once
forcing the parallel one (``PARALLEL_MIN`` patched), so both compiled paths are
checked on odd small shapes as well as on the larger ones.
"""

import itertools
import zlib

import numpy as np
import pytest

from fastnn.kernels.cpu import _jit
from fastnn.kernels.cpu import batchnorm as cbn
from fastnn.kernels.cpu import conv as cconv
from fastnn.kernels.cpu import pooling as cpool
from fastnn.kernels.cpu import winograd
from fastnn.kernels.reference import batchnorm as rbn
from fastnn.kernels.reference import conv as rconv
from fastnn.kernels.reference import pooling as rpool
from fastnn.testing.cases import KINKED, conv_off_kink
from tolerances import RTOL, WINOGRAD_FLOAT32_ERROR, assert_close

DTYPES = ["float32", "float64"]


@pytest.fixture(params=["serial", "parallel"])
def path(request, monkeypatch):
    # 0 sends every call to the parallel twin (the machine has > 1 thread; asserted),
    # a huge threshold to the serial one.
    if request.param == "parallel":
        import numba
        assert numba.get_num_threads() > 1, "the parallel path needs more than one thread"
    monkeypatch.setattr(_jit, "PARALLEL_MIN", 0 if request.param == "parallel" else 1 << 62)
    return request.param


def _rng(*key):
    # A seed that is the same in every process: hash() of a str is salted per process
    # (PYTHONHASHSEED), which drew new inputs on every run.
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _normal(rng, shape, dtype, scale=1.0, shift=0.0):
    return (rng.standard_normal(shape) * scale + shift).astype(dtype)


# ----------------------------------------------------------------------------- convolution

# (x shape, w shape, stride, pad)
CONV_GEOMETRIES = [
    ((3, 5, 7, 6), (4, 5, 3, 2), (2, 1), (1, 0, 2, 1)),   # odd everything, asymmetric pad
    ((2, 3, 7, 6), (4, 3, 3, 3), (1, 1), (0, 0, 0, 0)),   # valid
    ((2, 2, 5, 6), (3, 2, 2, 4), (1, 1), (0, 1, 1, 2)),   # even kernel, "same"-like pad
    ((1, 2, 7, 6), (2, 2, 3, 3), (2, 2), (1, 1, 1, 1)),   # single image, stride 2
    ((2, 5, 3, 4), (3, 5, 1, 1), (1, 1), (0, 0, 0, 0)),   # 1x1 (cols aliases x)
    ((3, 4, 5, 5), (2, 4, 1, 1), (2, 2), (1, 0, 0, 1)),   # 1x1 with stride and pad
    ((2, 3, 4, 5), (2, 3, 4, 5), (1, 1), (0, 0, 0, 0)),   # kernel = input: 1x1 output
    ((2, 1, 6, 5), (3, 1, 3, 3), (3, 2), (2, 2, 2, 2)),   # pad as large as the kernel allows
    ((8, 6, 12, 11), (5, 6, 3, 3), (1, 1), (1, 1, 1, 1)),  # big enough for the parallel path
]


def _conv_inputs(xs, ws, dtype, key, off_kink=False):
    """(x, w, b); ``off_kink`` keeps every pre-activation at least 1/512 from 0 (see
    cases.conv_off_kink), for activations whose gradient jumps there."""
    rng = _rng("conv", xs, ws, dtype, key)
    if off_kink:
        return conv_off_kink(rng, xs, ws, dtype)
    x = _normal(rng, xs, dtype)
    w = _normal(rng, ws, dtype, 1 / np.sqrt(np.prod(ws[1:])))
    b = _normal(rng, ws[0], dtype, 0.5)
    return x, w, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,stride,pad", CONV_GEOMETRIES)
def test_im2col_col2im(xs, ws, stride, pad, dtype, path):
    x, _, _ = _conv_inputs(xs, ws, dtype, "im2col")
    kernel = ws[2:]
    cols = cconv.im2col(x, kernel, stride, pad)
    ref = rconv.im2col(x, kernel, stride, pad)
    assert cols.dtype == x.dtype and cols.flags.c_contiguous
    np.testing.assert_array_equal(cols, ref)  # a pure copy: bit-exact
    g = _normal(_rng("col2im", xs, ws), ref.shape, dtype)
    gx = cconv.col2im(g, xs, kernel, stride, pad)
    assert gx.shape == xs and gx.dtype == x.dtype
    assert_close(gx, rconv.col2im(g, xs, kernel, stride, pad), dtype, what="col2im")


# 3x3 stride-1 geometries, where every algorithm applies (Winograd included): odd sizes,
# batch 1, channels 1 and 3, "valid", "same", asymmetric and larger-than-kernel padding.
WINOGRAD_GEOMETRIES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), (1, 1), (1, 1, 1, 1)),    # "same", odd sizes
    ((1, 1, 5, 9), (3, 1, 3, 3), (1, 1), (0, 0, 0, 0)),    # batch 1, one channel, "valid"
    ((3, 3, 8, 8), (2, 3, 3, 3), (1, 1), (0, 1, 2, 0)),    # asymmetric padding
    ((2, 4, 6, 7), (5, 4, 3, 3), (1, 1), (4, 2, 1, 3)),    # padding beyond the kernel
    ((1, 5, 3, 3), (2, 5, 3, 3), (1, 1), (0, 0, 0, 0)),    # a 1x1 output
    ((4, 8, 13, 11), (6, 8, 3, 3), (1, 1), (1, 1, 1, 1)),  # several tiles a row, partial tiles
]

ACTIVATION_CASES = [None, "relu", "leaky_relu", "sigmoid", "tanh", "elu", "gelu", "softplus", "step"]


def _reference_conv(x, w, b, stride, pad, activation, alpha, gy, need):
    y, z, cols = rconv.conv2d_fwd(x, w, b, stride, pad, activation, alpha)
    grads = rconv.conv2d_bwd(x.shape, w, cols, z, y, gy, stride, pad, activation, alpha, *need)
    return y, z, grads


def _winograd_rtol(dtype, algorithm):
    """RTOL, or for Winograd in float32 its stated error twice over (tests/tolerances.py):
    the float32 reference is off the exact result too."""
    if dtype == "float32" and algorithm.startswith("winograd"):
        return max(RTOL[dtype], 2 * WINOGRAD_FLOAT32_ERROR[int(algorithm[-1])])
    return RTOL[dtype]


def _check_conv(xs, ws, stride, pad, dtype, algorithm, activation, monkeypatch, layout=None):
    monkeypatch.setattr(cconv, "FORCED", algorithm)
    if layout is not None:
        monkeypatch.setattr(cconv, "_WIDE_MAX_P", 1 << 40 if layout == "wide" else 0)
        monkeypatch.setattr(cconv, "_WIDE_MIN_K", 0 if layout == "wide" else 1 << 40)
    alpha = 0.2 if activation in ("leaky_relu", "elu") else 0.0
    # ELU with alpha != 1 has a gradient that jumps at 0 too (1 above, alpha below).
    kinked = activation in KINKED or activation == "elu"
    x, w, b = _conv_inputs(xs, ws, dtype, "conv", off_kink=kinked)
    expected_algorithm = cconv.choose_algorithm(xs, ws, stride, pad)
    rtol = _winograd_rtol(dtype, expected_algorithm)
    # Without a bias the off-kink inputs can sum to exactly 0, where another summation
    # order lands on either side: kinked activations run with their bias only (the
    # no-bias path is the same code whatever the activation, and the smooth ones cover it).
    for bias in ((b,) if kinked else (b, None)):
        y, z, saved = cconv.conv2d_fwd(x, w, bias, stride, pad, activation, alpha)
        assert saved.algorithm == expected_algorithm
        gy = _normal(_rng("gy", xs, ws, dtype), y.shape, dtype)
        y_ref, z_ref, _ = _reference_conv(x, w, bias, stride, pad, activation, alpha, gy, (False,) * 3)
        assert y.dtype == x.dtype and y.flags.c_contiguous
        assert_close(y, y_ref, dtype, rtol=rtol, what=f"conv2d_fwd y ({expected_algorithm}, {activation})")
        assert (z is None) == (z_ref is None), "z kept exactly when the activation's gradient needs it"
        if z is not None:
            assert_close(z, z_ref, dtype, rtol=rtol, what="conv2d_fwd z")
        for need in itertools.product([False, True], repeat=3):
            got = cconv.conv2d_bwd(xs, w, saved, z, y, gy, stride, pad, activation, alpha, *need)
            _, _, exp = _reference_conv(x, w, bias, stride, pad, activation, alpha, gy, need)
            for name, n_, g, e in zip(("gx", "gw", "gb"), need, got, exp):
                if not n_ or (name == "gb" and bias is None):
                    if not n_:
                        assert g is None, f"{name} computed though not needed"
                    continue
                assert g.dtype == x.dtype and g.shape == e.shape
                assert_close(g, e, dtype, rtol=rtol,
                             what=f"conv2d_bwd {name} need={need} ({expected_algorithm}, {activation})")


@pytest.mark.parametrize("layout", ["batched", "wide"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,stride,pad", CONV_GEOMETRIES)
def test_conv2d_im2col(xs, ws, stride, pad, dtype, layout, path, monkeypatch):
    _check_conv(xs, ws, stride, pad, dtype, "im2col", None, monkeypatch, layout)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,stride,pad", CONV_GEOMETRIES + WINOGRAD_GEOMETRIES[:2])
def test_conv2d_direct(xs, ws, stride, pad, dtype, path, monkeypatch):
    _check_conv(xs, ws, stride, pad, dtype, "direct", None, monkeypatch)


# First-layer shapes (C_in 1 and 3, stride 1, both twins by the path fixture): filter counts
# that leave 3, 1 and 2 filters after the 4-filter blocks of the forward tiles and of the
# filter gradient, an odd output height (the forward's second tile row past the end), kernel
# widths 3 and 5 (their register-blocked gradient passes), 7 and 4 (a pass per tap), and
# a 70-column output (several vector runs per row, the last one partly past OW).
FIRST_LAYER_GEOMETRIES = [
    ((9, 1, 28, 27), (7, 1, 3, 3), (1, 1), (1, 1, 1, 1)),
    ((5, 3, 21, 20), (9, 3, 5, 5), (1, 1), (2, 1, 2, 2)),
    ((4, 3, 17, 19), (6, 3, 7, 7), (1, 1), (3, 3, 3, 3)),
    ((2, 2, 9, 70), (5, 2, 2, 4), (1, 1), (0, 1, 1, 2)),
]


@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,stride,pad", FIRST_LAYER_GEOMETRIES)
def test_conv2d_direct_first_layers(xs, ws, stride, pad, dtype, activation, path, monkeypatch):
    _check_conv(xs, ws, stride, pad, dtype, "direct", activation, monkeypatch)


@pytest.mark.parametrize("algorithm", ["winograd2", "winograd4", "im2col", "direct"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,ws,stride,pad", WINOGRAD_GEOMETRIES)
def test_conv2d_every_algorithm_3x3(xs, ws, stride, pad, dtype, algorithm, path, monkeypatch):
    _check_conv(xs, ws, stride, pad, dtype, algorithm, None, monkeypatch)


@pytest.mark.parametrize("activation", ACTIVATION_CASES)
@pytest.mark.parametrize("algorithm,layout", [("winograd2", None), ("winograd4", None), ("direct", None),
                                              ("im2col", "wide"), ("im2col", "batched")])
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_fused_activation(activation, algorithm, layout, dtype, path, monkeypatch):
    xs, ws, stride, pad = (3, 4, 7, 9), (5, 4, 3, 3), (1, 1), (1, 1, 0, 2)
    _check_conv(xs, ws, stride, pad, dtype, algorithm, activation, monkeypatch, layout)


def test_forced_winograd_falls_back_where_it_cannot_run(monkeypatch):
    # A 5x5 kernel or a stride of 2 has no F(m, 3) form: the rule decides instead.
    monkeypatch.setattr(cconv, "FORCED", "winograd4")
    assert cconv.choose_algorithm((8, 16, 9, 9), (8, 16, 5, 5), (1, 1), (0, 0, 0, 0)) == "im2col"
    assert cconv.choose_algorithm((8, 16, 9, 9), (8, 16, 3, 3), (2, 2), (1, 1, 1, 1)) == "im2col"
    assert cconv.choose_algorithm((8, 16, 9, 9), (8, 16, 3, 3), (1, 1), (1, 1, 1, 1)) == "winograd4"


def test_rule_follows_its_measurements(monkeypatch):
    # The decisions choose_algorithm's table justifies: F(4x4, 3x3) where 4x4 tiles cover
    # at least 3/4 of the tiled output and there are 8 channels or more; the direct kernel
    # for first layers; im2col for few channels, outputs that 4x4 tiles cover badly, and
    # whatever Winograd cannot compute.
    monkeypatch.setattr(cconv, "FORCED", None)
    same = (1, 1, 1, 1)
    assert cconv.choose_algorithm((32, 64, 32, 32), (64, 64, 3, 3), (1, 1), same) == "winograd4"
    assert cconv.choose_algorithm((32, 64, 8, 8), (64, 64, 3, 3), (1, 1), same) == "winograd4"
    assert cconv.choose_algorithm((64, 1, 28, 28), (32, 1, 3, 3), (1, 1), same) == "direct"
    assert cconv.choose_algorithm((64, 3, 32, 32), (32, 3, 5, 5), (1, 1), same) == "direct"
    assert cconv.choose_algorithm((64, 3, 32, 32), (32, 3, 5, 5), (2, 2), same) == "im2col"
    assert cconv.choose_algorithm((64, 4, 32, 32), (32, 4, 3, 3), (1, 1), same) == "im2col"
    assert cconv.choose_algorithm((32, 8, 16, 16), (16, 8, 3, 3), (1, 1), same) == "winograd4"
    assert cconv.choose_algorithm((32, 7, 16, 16), (16, 7, 3, 3), (1, 1), same) == "im2col"
    assert cconv.choose_algorithm((64, 32, 14, 14), (64, 32, 3, 3), (1, 1), same) == "winograd4"
    assert cconv.choose_algorithm((128, 32, 13, 13), (64, 32, 3, 3), (1, 1), (0, 0, 0, 0)) == "winograd4"
    assert cconv.choose_algorithm((64, 32, 6, 6), (64, 32, 3, 3), (1, 1), same) == "im2col"    # 6x6 in 8x8 tiles
    assert cconv.choose_algorithm((2, 16, 32, 32), (16, 16, 3, 3), (1, 1), same) == "im2col"   # N*C < 64
    assert cconv.choose_algorithm((32, 64, 32, 32), (64, 64, 3, 3), (2, 2), same) == "im2col"
    assert cconv.choose_algorithm((32, 64, 32, 32), (64, 64, 5, 5), (1, 1), same) == "im2col"


def test_algorithm_from_the_environment(monkeypatch):
    monkeypatch.setenv("FASTNN_CONV_ALGORITHM", "Direct")
    assert cconv._forced_from_environment() == "direct"
    monkeypatch.setenv("FASTNN_CONV_ALGORITHM", "auto")
    assert cconv._forced_from_environment() is None
    monkeypatch.setenv("FASTNN_CONV_ALGORITHM", "fft")
    with pytest.raises(ValueError, match="FASTNN_CONV_ALGORITHM must be 'auto' or one of .*got 'fft'"):
        cconv._forced_from_environment()


def test_winograd_matrices_compute_the_correlation():
    # Y = A^T [(G g) * (B^T d)] for 1-D signals: the identity every 2-D transform is built on,
    # checked in float64 against the direct sum, independently of the kernels.
    rng = np.random.default_rng(3)
    for m, (bt, g_mat, at) in winograd.MATRICES.items():
        d, g = rng.standard_normal(m + 2), rng.standard_normal(3)
        direct = np.array([d[i:i + 3] @ g for i in range(m)])
        np.testing.assert_allclose(at @ ((g_mat @ g) * (bt @ d)), direct, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_bwd_accepts_contiguous_cols(dtype):
    # conv2d_bwd works from any (N, K, P) cols: here the reference's C-contiguous one.
    xs, ws, stride, pad = (4, 3, 9, 8), (5, 3, 3, 2), (1, 2), (1, 1, 0, 1)
    x, w, b = _conv_inputs(xs, ws, dtype, "contig")
    y_ref, _, cols_ref = rconv.conv2d_fwd(x, w, b, stride, pad, None, 0.0)
    gy = _normal(_rng("gy-contig"), y_ref.shape, dtype)
    got = cconv.conv2d_bwd(xs, w, cols_ref, None, y_ref, gy, stride, pad, None, 0.0, True, True, True)
    exp = rconv.conv2d_bwd(xs, w, cols_ref, None, y_ref, gy, stride, pad, None, 0.0, True, True, True)
    for g, e in zip(got, exp):
        assert_close(g, e, dtype)


@pytest.mark.parametrize("algorithm", [None, *cconv.ALGORITHMS])
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_large(dtype, algorithm, monkeypatch):
    # Shapes of the training benchmarks, under the default rule and under each algorithm,
    # on the parallel path: the threshold is lowered to a size these arrays reach (the
    # production threshold is sized for whole training steps, see kernels/cpu/_jit.py).
    monkeypatch.setattr(_jit, "PARALLEL_MIN", 32768)
    monkeypatch.setattr(cconv, "FORCED", algorithm)
    seen = set()
    for xs, ws in [((16, 1, 28, 28), (8, 1, 3, 3)), ((8, 16, 14, 14), (12, 16, 3, 3)),
                   ((2, 8, 70, 70), (4, 8, 3, 3))]:
        # ReLU: off-kink inputs, or a z within rounding of 0 flips its mask between the
        # two summation orders and the gradients differ there by a whole gy * w.
        x, w, b = _conv_inputs(xs, ws, dtype, "large", off_kink=True)
        pad = (1, 1, 1, 1)
        y, z, saved = cconv.conv2d_fwd(x, w, b, (1, 1), pad, "relu", 0.0)
        seen.add(saved.algorithm)
        rtol = _winograd_rtol(dtype, saved.algorithm)
        y_ref, _, cols_ref = rconv.conv2d_fwd(x, w, b, (1, 1), pad, "relu", 0.0)
        assert y.size * 9 >= _jit.PARALLEL_MIN
        assert_close(y, y_ref, dtype, rtol=rtol)
        gy = _normal(_rng("gy-large", xs), y.shape, dtype)
        for g, e in zip(cconv.conv2d_bwd(xs, w, saved, z, y, gy, (1, 1), pad, "relu", 0.0, True, True, True),
                        rconv.conv2d_bwd(xs, w, cols_ref, None, y_ref, gy, (1, 1), pad, "relu", 0.0, True, True, True)):
            assert_close(g, e, dtype, rtol=rtol)
    assert algorithm is None or seen == {algorithm}


@pytest.mark.parametrize("algorithm,layout", [("im2col", "batched"), ("im2col", "wide"), ("winograd4", None),
                                              ("direct", None)])
def test_conv2d_buffers_reused_only_when_free(algorithm, layout, monkeypatch):
    """Two forward passes of one shape alive at once (a layer applied twice in one graph),
    then both backward passes, twice over: the kernels take y, z, cols and the gradients
    from recycled buffers (kernels/cpu/_workspace.py), and none may overwrite an array
    that a tensor or a saved record still holds, nor hand out one gradient twice."""
    monkeypatch.setattr(cconv, "FORCED", algorithm)
    if layout is not None:
        monkeypatch.setattr(cconv, "_WIDE_MAX_P", 1 << 40 if layout == "wide" else 0)
        monkeypatch.setattr(cconv, "_WIDE_MIN_K", 0 if layout == "wide" else 1 << 40)
    xs, ws, pad = (3, 4, 9, 9), (5, 4, 3, 3), (1, 1, 1, 1)
    inputs = [_conv_inputs(xs, ws, "float64", ("reuse", k), off_kink=True) for k in range(2)]
    w, b = inputs[0][1], inputs[0][2]
    expected = []
    for x, _, _ in inputs:
        y_ref, z_ref, cols_ref = rconv.conv2d_fwd(x, w, b, (1, 1), pad, "elu", 1.0)
        gy = _normal(_rng("reuse-gy", len(expected)), y_ref.shape, "float64")
        expected.append((y_ref, gy, rconv.conv2d_bwd(xs, w, cols_ref, z_ref, y_ref, gy, (1, 1), pad, "elu", 1.0,
                                                     True, True, True)))
    for _ in range(2):
        forwards = [cconv.conv2d_fwd(x, w, b, (1, 1), pad, "elu", 1.0) for x, _, _ in inputs]
        assert forwards[0][2].algorithm == algorithm
        grads = []
        for (y, z, saved), (y_ref, gy, _) in zip(forwards, expected):
            assert_close(y, y_ref, "float64", what="y after the other forward pass")
            grads.append(cconv.conv2d_bwd(xs, w, saved, z, y, gy, (1, 1), pad, "elu", 1.0, True, True, True))
        for (y, _, _), got, (y_ref, _, exp) in zip(forwards, grads, expected):
            assert_close(y, y_ref, "float64", what="y after both backward passes")
            for name, g, e in zip(("gx", "gw", "gb"), got, exp):
                assert_close(g, e, "float64", what=f"{name} after the other backward pass")
        assert not np.shares_memory(grads[0][0], grads[1][0]), "one gx buffer handed out twice"


@pytest.mark.parametrize("m", sorted(WINOGRAD_FLOAT32_ERROR))
def test_winograd_float32_error_against_float64(m, monkeypatch):
    """F(m x m, 3x3) in float32 on a benchmark shape, against the float64 result: within the
    bound stated in tests/tolerances.py (larger for F(4, 3)), never far from the parity tolerance."""
    assert WINOGRAD_FLOAT32_ERROR[m] <= RTOL["float32"] * 5
    rng = np.random.default_rng(8)
    xs, ws, pad = (16, 128, 14, 14), (32, 128, 3, 3), (1, 1, 1, 1)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws) / np.sqrt(9 * 128), rng.standard_normal(32)
    y64, _, cols = rconv.conv2d_fwd(x, w, b, (1, 1), pad, None, 0.0)
    gy = rng.standard_normal(y64.shape)
    exact = (y64,) + rconv.conv2d_bwd(xs, w, cols, None, None, gy, (1, 1), pad, None, 0.0, True, True, True)
    monkeypatch.setattr(cconv, "FORCED", f"winograd{m}")
    x32, w32, b32, gy32 = (a.astype(np.float32) for a in (x, w, b, gy))
    y, z, saved = cconv.conv2d_fwd(x32, w32, b32, (1, 1), pad, None, 0.0)
    assert saved.algorithm == f"winograd{m}"
    got = (y,) + cconv.conv2d_bwd(xs, w32, saved, z, y, gy32, (1, 1), pad, None, 0.0, True, True, True)
    for name, g, e in zip(("y", "gx", "gw", "gb"), got, exact):
        err = np.abs(g.astype(np.float64) - e).max() / max(1.0, np.abs(e).max())
        assert err <= WINOGRAD_FLOAT32_ERROR[m], f"{name}: {err:.2e}"


@pytest.mark.parametrize("algorithm", ["im2col", "direct", "winograd2", "winograd4"])
def test_conv2d_nan_propagates(algorithm, monkeypatch):
    xs, ws = (2, 2, 5, 5), (3, 2, 3, 3)
    x, w, b = _conv_inputs(xs, ws, "float64", "nan")
    x[1, 0, 2, 2] = np.nan
    monkeypatch.setattr(cconv, "FORCED", algorithm)
    y_ref, _, _ = rconv.conv2d_fwd(x, w, b, (1, 1), (1, 1, 1, 1), None, 0.0)
    assert np.isnan(y_ref).sum() == 3 * 9  # the 3x3 neighbourhood, every filter, image 1
    for layout in (0, 1 << 40):
        monkeypatch.setattr(cconv, "_WIDE_MAX_P", layout)
        monkeypatch.setattr(cconv, "_WIDE_MIN_K", 1 << 40)
        y, _, _ = cconv.conv2d_fwd(x, w, b, (1, 1), (1, 1, 1, 1), None, 0.0)
        if algorithm.startswith("winograd"):
            # A transform mixes a whole tile: the NaN reaches every output of the tiles that
            # read it (a superset of the reference's positions), and nothing else changes.
            assert np.isnan(y[np.isnan(y_ref)]).all()
            assert not np.isnan(y[0]).any()
            finite = ~np.isnan(y)
            assert_close(y[finite], y_ref[finite], "float64")
        else:
            assert_close(y, y_ref, "float64")


# ----------------------------------------------------------------------------- pooling

# (x shape, kernel, stride, pad)
POOL_GEOMETRIES = [
    ((3, 5, 7, 6), (3, 2), (2, 1), (1, 0, 1, 1)),   # odd sizes, rectangular, asymmetric pad
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0, 0, 0)),   # kernel = stride, non-overlapping
    ((2, 3, 7, 9), (2, 3), (2, 3), (0, 0, 0, 0)),   # non-overlapping with a ragged edge
    ((2, 3, 9, 7), (3, 3), (1, 1), (1, 1, 1, 1)),   # overlapping, stride 1, pad 1
    ((1, 2, 6, 7), (3, 3), (2, 2), (0, 1, 1, 0)),   # overlapping, stride 2, one-sided pad
    ((2, 2, 5, 5), (1, 1), (2, 2), (0, 0, 0, 0)),   # 1x1 subsampling
    ((3, 2, 7, 9), (2, 2), (2, 2), (0, 0, 0, 0)),   # 2x2 with a row and a column left over
    ((8, 16, 28, 28), (2, 2), (2, 2), (0, 0, 0, 0)),  # parallel-sized, the CNN's pool
]



def _pool_input(xs, dtype, key):
    rng = _rng("pool", xs, dtype, key)
    x = _normal(rng, xs, dtype)
    # Ties: repeat a value inside windows, so "first maximum" is exercised.
    x[..., ::2, 1::2] = x[..., ::2, 0:-1:2][..., : x[..., ::2, 1::2].shape[-1]]
    x[0, 0, 0, 0] = -np.inf
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,kernel,stride,pad", POOL_GEOMETRIES)
def test_max_pool2d(xs, kernel, stride, pad, dtype, path):
    x = _pool_input(xs, dtype, "max")
    y, am = cpool.max_pool2d_fwd(x, kernel, stride, pad)
    y_ref, am_ref = rpool.max_pool2d_fwd(x, kernel, stride, pad)
    assert am.dtype == np.int64 and y.dtype == x.dtype
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(am, am_ref)
    gy = _normal(_rng("gy", xs, kernel), y_ref.shape, dtype)
    gx = cpool.max_pool2d_bwd(gy, am, xs, kernel, stride, pad)
    assert gx.shape == xs and gx.dtype == x.dtype
    assert_close(gx, rpool.max_pool2d_bwd(gy, am_ref, xs, kernel, stride, pad), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_2x2_fast_path_nan_ties_and_inf(dtype, path):
    # The 2x2 / stride 2 / unpadded windows take their own kernel: same rules for the
    # first maximum, NaN (the first NaN wins) and -inf planes as the general one.
    xs = (2, 3, 6, 8)
    x = _pool_input(xs, dtype, "nan2x2")
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 1, 0] = np.nan
    x[0, 1, 2, 3] = np.nan
    x[1, 2] = -np.inf
    x[1, 0, 4:6, 4:6] = 7.0       # a window of four equal values: argmax 0
    # Windows whose first maximum lies across the diagonal from a later equal one: the
    # kernel compares down the rows first, so its tie-break must still give offset 1.
    x[1, 1, 0:2, 0:2] = [[0.0, 5.0], [5.0, 1.0]]              # tie of offsets 1 and 2: 1
    x[1, 1, 0:2, 2:4] = [[0.0, np.nan], [np.nan, 1.0]]        # NaN at 1 and 2: the first, 1
    x[1, 1, 2:4, 0:2] = [[0.0, 1.0], [np.nan, 5.0]]           # NaN at 2 only: 2
    x[1, 1, 2:4, 2:4] = [[3.0, 1.0], [3.0, 3.0]]              # 3 at 0, 2 and 3: 0
    x[1, 1, 4:6, 0:2] = [[-np.inf, -np.inf], [-np.inf, -np.inf]]  # all -inf: 0
    y, am = cpool.max_pool2d_fwd(x, (2, 2), (2, 2), (0, 0, 0, 0))
    y_ref, am_ref = rpool.max_pool2d_fwd(x, (2, 2), (2, 2), (0, 0, 0, 0))
    assert np.isnan(y_ref).any() and np.isneginf(y_ref).any()
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(am, am_ref)
    np.testing.assert_array_equal(am[1, 1, :3, :2], [[1, 1], [2, 0], [0, am_ref[1, 1, 2, 1]]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_nan_inf_and_padding(dtype, path):
    xs, kernel, stride, pad = (2, 2, 5, 6), (3, 3), (2, 2), (1, 1, 1, 1)
    x = _pool_input(xs, dtype, "nan")
    x[0, 0, 1, 1] = np.nan          # NaN wins its windows (first NaN, as numpy.argmax)
    x[0, 0, 1, 2] = np.nan
    x[0, 1] = -np.inf               # a plane of -inf: argmax 0, which may be a padded cell
    x[1, 1, :2, :2] = np.inf
    y, am = cpool.max_pool2d_fwd(x, kernel, stride, pad)
    y_ref, am_ref = rpool.max_pool2d_fwd(x, kernel, stride, pad)
    assert np.isnan(y_ref).any() and np.isneginf(y_ref).any()
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(am, am_ref)
    gy = _normal(_rng("gy-nan"), y.shape, dtype)
    gy[1, 0, 0, 0] = np.nan  # flows only to its own argmax cell
    assert_close(cpool.max_pool2d_bwd(gy, am, xs, kernel, stride, pad),
                 rpool.max_pool2d_bwd(gy, am_ref, xs, kernel, stride, pad), dtype)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs,kernel,stride,pad", POOL_GEOMETRIES)
def test_avg_pool2d(xs, kernel, stride, pad, dtype, count_include_pad, path):
    x = _pool_input(xs, dtype, "avg")
    x[0, 0, 0, 0] = 0.5
    y = cpool.avg_pool2d_fwd(x, kernel, stride, pad, count_include_pad)
    y_ref = rpool.avg_pool2d_fwd(x, kernel, stride, pad, count_include_pad)
    assert y.dtype == x.dtype
    assert_close(y, y_ref, dtype)
    gy = _normal(_rng("gy", xs, kernel), y_ref.shape, dtype)
    gx = cpool.avg_pool2d_bwd(gy, xs, kernel, stride, pad, count_include_pad)
    assert gx.shape == xs and gx.dtype == x.dtype
    assert_close(gx, rpool.avg_pool2d_bwd(gy, xs, kernel, stride, pad, count_include_pad), dtype)


def test_avg_pool2d_nan_propagates(path):
    xs, kernel, stride, pad = (1, 1, 6, 6), (3, 3), (1, 1), (1, 1, 1, 1)
    x = _pool_input(xs, "float64", "avgnan")
    x[0, 0, 3, 3] = np.nan
    for inc in (True, False):
        y = cpool.avg_pool2d_fwd(x, kernel, stride, pad, inc)
        y_ref = rpool.avg_pool2d_fwd(x, kernel, stride, pad, inc)
        assert np.isnan(y_ref).sum() == 9
        assert_close(y, y_ref, "float64")


# ----------------------------------------------------------------------------- batch norm

BN_SHAPES = [(5, 3), (2, 1), (3000, 4), (700, 130), (3, 5, 7, 6), (4, 3, 1, 1), (16, 8, 20, 20)]


def _bn_params(c, dtype, key):
    rng = _rng("bnp", c, dtype, key)
    return _normal(rng, c, dtype), _normal(rng, c, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batchnorm_train_and_running_stats(shape, dtype, path):
    c = shape[1]
    gamma, beta = _bn_params(c, dtype, "train")
    run_c = [np.zeros(c, dtype), np.ones(c, dtype)]
    run_r = [np.zeros(c, dtype), np.ones(c, dtype)]
    rng = _rng("bn", shape, dtype)
    for step in range(4):  # successive calls move the running statistics
        # A mean far from 0 relative to the spread checks the one-pass variance.
        x = _normal(rng, shape, dtype, scale=2.0 + step, shift=40.0 * (step - 1))
        got = cbn.batchnorm_fwd_train(x, gamma, beta, run_c[0], run_c[1], 0.1 + 0.2 * step, 1e-5)
        exp = rbn.batchnorm_fwd_train(x, gamma, beta, run_r[0], run_r[1], 0.1 + 0.2 * step, 1e-5)
        for name, g, e in zip(("y", "mean", "invstd"), got, exp):
            assert g.dtype == x.dtype and g.shape == e.shape
            assert_close(g, e, dtype, what=f"step {step} {name}")
        assert_close(run_c[0], run_r[0], dtype, what=f"step {step} running_mean")
        assert_close(run_c[1], run_r[1], dtype, what=f"step {step} running_var")
        gy = _normal(rng, shape, dtype)
        got = cbn.batchnorm_bwd_train(x, gamma, exp[1], exp[2], gy)
        want = rbn.batchnorm_bwd_train(x, gamma, exp[1], exp[2], gy)
        for name, g, e in zip(("gx", "ggamma", "gbeta"), got, want):
            assert g.dtype == x.dtype and g.shape == e.shape
            assert_close(g, e, dtype, what=f"step {step} {name}")
    assert not np.allclose(run_c[0], 0)  # the statistics really moved


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batchnorm_eval(shape, dtype, path):
    c = shape[1]
    gamma, beta = _bn_params(c, dtype, "eval")
    rng = _rng("bne", shape, dtype)
    rmean = _normal(rng, c, dtype)
    rvar = (rng.random(c) + 0.5).astype(dtype)
    x = _normal(rng, shape, dtype, 2.0, 1.0)
    gy = _normal(rng, shape, dtype)
    rm0, rv0 = rmean.copy(), rvar.copy()
    y = cbn.batchnorm_fwd_eval(x, gamma, beta, rmean, rvar, 1e-5)
    assert y.dtype == x.dtype
    assert_close(y, rbn.batchnorm_fwd_eval(x, gamma, beta, rmean, rvar, 1e-5), dtype)
    got = cbn.batchnorm_bwd_eval(x, gamma, rmean, rvar, 1e-5, gy)
    exp = rbn.batchnorm_bwd_eval(x, gamma, rmean, rvar, 1e-5, gy)
    for name, g, e in zip(("gx", "ggamma", "gbeta"), got, exp):
        assert g.dtype == x.dtype
        assert_close(g, e, dtype, what=name)
    np.testing.assert_array_equal(rmean, rm0)  # eval never touches the statistics
    np.testing.assert_array_equal(rvar, rv0)


@pytest.mark.parametrize("shape", [(6, 3), (3, 3, 4, 5)])
def test_batchnorm_nan_propagates(shape, path):
    c = shape[1]
    gamma, beta = _bn_params(c, "float64", "nan")
    x = _normal(_rng("bnnan", shape), shape, "float64")
    x[1, 1] = np.nan  # channel 1 (all of it, for 4-D) turns NaN, the others do not
    outs = []
    for mod in (cbn, rbn):
        rm, rv = np.zeros(c), np.ones(c)
        y, mean, invstd = mod.batchnorm_fwd_train(x, gamma, beta, rm, rv, 0.1, 1e-5)
        outs.append((y, mean, invstd, rm, rv))
    for g, e in zip(*outs):
        assert_close(g, e, "float64")
    assert np.isnan(outs[1][0][:, 1]).all() and not np.isnan(outs[1][0][:, 0]).any()
    gy = _normal(_rng("bnnan-gy", shape), shape, "float64")
    for g, e in zip(cbn.batchnorm_bwd_train(x, gamma, outs[1][1], outs[1][2], gy),
                    rbn.batchnorm_bwd_train(x, gamma, outs[1][1], outs[1][2], gy)):
        assert_close(g, e, "float64")
