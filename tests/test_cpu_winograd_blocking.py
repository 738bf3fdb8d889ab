"""The cpu Winograd kernels' blocking (kernels/cpu/winograd.py): lane counts that leave a
partial block of LANES and a partial CHUNK, odd and even tile-row counts (the data
gradient's two calls), padding that clips tiles on every side, both tile sizes and both
compiled twins, in float64 against the reference backend's convolution."""

import numpy as np
import pytest

from fastnn.kernels.cpu import _jit, _workspace, winograd
from fastnn.kernels.reference import conv as rconv

CASES = [
    # (x shape, filters, pad): N*C of 300 and 5 (partial chunk and block), N*F of 270
    ((3, 100, 9, 13), 90, (1, 1, 1, 1)),
    ((1, 5, 14, 6), 3, (2, 0, 0, 2)),
    ((2, 3, 8, 8), 17, (0, 0, 0, 0)),
    ((1, 2, 3, 3), 1, (1, 1, 1, 1)),
]


@pytest.mark.parametrize("twin", ["serial", "parallel"])
@pytest.mark.parametrize("m", winograd.TILE_SIZES)
@pytest.mark.parametrize("xs,f,pad", CASES)
def test_winograd_matches_reference_convolution(xs, f, pad, m, twin, monkeypatch):
    monkeypatch.setattr(_jit, "PARALLEL_MIN", 0 if twin == "parallel" else 1 << 62)
    rng = np.random.default_rng(7)
    x = rng.standard_normal(xs)
    w = rng.standard_normal((f, xs[1], 3, 3))
    b = rng.standard_normal(f)
    y, z, saved = winograd.forward(x, w, b, pad, (), 0.0, False, m, _workspace.scratch, _workspace.recycled)
    gz = rng.standard_normal(y.shape)
    ey, _, cols = rconv.conv2d_fwd(x, w, b, (1, 1), pad, None, 0.0)
    egx, egw, egb = rconv.conv2d_bwd(xs, w, cols, None, None, gz, (1, 1), pad, None, 0.0, True, True, True)
    np.testing.assert_allclose(y, ey, rtol=0, atol=1e-10 * np.abs(ey).max())
    gx, gw, gb = winograd.backward(xs, saved, None, y.copy(), gz, pad, (), 0.0, True, True, True,
                                   _workspace.scratch, _workspace.recycled)
    for got, expected in ((gx, egx), (gw, egw), (gb, egb)):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10 * np.abs(expected).max())
