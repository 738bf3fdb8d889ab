"""examples/rnn.py: SimpleRNN, LSTM and GRU all continue sine waves far better than repeating
the last value (a short lag); on delayed recall across 15+ steps LSTM and GRU recall the
marked value while SimpleRNN stays at the predict-the-mean baseline (a long lag)."""

import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import run_quick

CELLS = ("simplernn", "lstm", "gru")


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("rnn")
    return run_quick("rnn", request.param, out), out


def last_value_baseline(min_period, max_period):
    """E[(s(T) - s(T-1))^2] = E[1 - cos(2 pi / P)] for P ~ U[min_period, max_period], by quadrature."""
    periods = np.linspace(min_period, max_period, 100001)
    return float(np.mean(1 - np.cos(2 * np.pi / periods)))


def test_baselines_are_the_trivial_predictors(results):
    numbers, _ = results
    expected = last_value_baseline(numbers["sine_min_period"], numbers["sine_max_period"])
    assert numbers["sine_baseline_last_mse"] == pytest.approx(expected, rel=0.2)
    assert numbers["sine_baseline_zero_mse"] == pytest.approx(0.5, rel=0.2)        # E[sin^2] = 1/2
    assert numbers["recall_baseline_mse"] == pytest.approx(1 / 3, rel=0.2)         # Var U[-1, 1) = 1/3


@pytest.mark.parametrize("cell", CELLS)
def test_every_cell_continues_a_sine_wave_far_better_than_repeating_the_last_value(results, cell):
    numbers, _ = results
    mse = numbers[f"sine_mse_{cell}"]
    expected_baseline = last_value_baseline(numbers["sine_min_period"], numbers["sine_max_period"])
    assert mse < expected_baseline / 4
    assert mse < numbers["sine_baseline_last_mse"] / 4
    assert mse < 0.5 / 20                                          # and the predict-0 baseline by far


def test_the_recall_task_has_a_long_lag(results):
    numbers, _ = results
    # The marked step is one of the first `window`; the answer is read at the last step.
    assert numbers["recall_length"] - numbers["recall_window"] >= 15


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_recall_across_the_long_lag(results, cell):
    numbers, _ = results
    assert numbers[f"recall_mse_{cell}"] < (1 / 3) / 4
    assert numbers[f"recall_mse_{cell}"] < numbers["recall_baseline_mse"] / 4


def test_simple_rnn_does_not_bridge_the_long_lag(results):
    numbers, _ = results
    simple = numbers["recall_mse_simplernn"]
    assert simple > 0.6 * (1 / 3)                      # it stays near the predict-0 baseline
    assert simple > 4 * max(numbers["recall_mse_lstm"], numbers["recall_mse_gru"])


def test_return_sequences_hands_on_every_step(results):
    numbers, _ = results
    batch, units = numbers["lstm_output_shape"]                       # the last state only
    assert numbers["lstm_sequences_output_shape"] == [batch, numbers["recall_length"], units]


def test_plots_written(results):
    _, out = results
    for name in ("learning_curves.png", "predictions.png"):
        assert (out / name).stat().st_size > 0
