"""tensors.py: rank, shape and dtype of 0-D to 4-D tensors, broadcasting (3,1)+(1,4) -> (3,4)
equal to NumPy's, and moves between backends that keep every value."""
import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import run_quick

import fastnn as fnn


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("tensors")
    return run_quick("tensors", request.param, out), out, request.param


def test_rank_shape_and_dtype_of_each_example(results):
    numbers, _, backend = results
    described = dict(zip(numbers["names"], zip(numbers["ranks"], numbers["shapes"], numbers["dtypes"])))
    assert described["scalar"] == (0, [], "float32")          # Python floats default to float32
    assert described["vector"] == (1, [3], "float32")
    assert described["matrix"] == (2, [2, 3], "float64")      # a float64 array keeps its dtype
    assert described["labels"] == (1, [3], "int64")           # Python ints become int64
    rank, shape, dtype = described["images"]
    assert rank == 4 == len(shape) and shape[1] == 3 and dtype == "float32"   # NCHW, 3 colour channels
    assert numbers["ranks"] == [len(s) for s in numbers["shapes"]]
    assert numbers["tensor_backend"] == backend               # tensors follow the chosen backend


def test_column_plus_row_broadcasts_like_numpy(results):
    numbers, _, _ = results
    column, row = np.array(numbers["broadcast_column"]), np.array(numbers["broadcast_row"])
    assert column.shape == (3, 1) and row.shape == (1, 4)
    assert numbers["broadcast_shape"] == [3, 4] == list(np.broadcast_shapes(column.shape, row.shape))
    np.testing.assert_array_equal(np.array(numbers["broadcast_result"]), column + row)
    # by the rule itself: out[i, j] = column[i] + row[j]
    for i in range(3):
        for j in range(4):
            assert numbers["broadcast_result"][i][j] == column[i, 0] + row[0, j]
    assert numbers["broadcast_matches_numpy"] is True


def test_per_channel_bias_broadcasts_over_nchw(results):
    numbers, _, _ = results
    images_shape = dict(zip(numbers["names"], numbers["shapes"]))["images"]
    assert numbers["channel_bias_shape"] == images_shape
    np.testing.assert_allclose(numbers["channel_shift"], [0.0, 100.0, 200.0], rtol=1e-5)


def test_moves_between_backends_keep_the_values(results):
    numbers, _, _ = results
    assert numbers["backends_visited"] == fnn.available_backends()
    assert {"numpy", "cpu"} <= set(numbers["backends_visited"])
    assert numbers["moves_preserve_values"] is True


def test_plots_written(results):
    _, out, _ = results
    assert (out / "broadcast.png").stat().st_size > 0
