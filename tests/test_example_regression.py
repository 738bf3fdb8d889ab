"""Regression lesson: a Dense(1) trained by full-batch gradient descent on the MSE reaches the
least-squares solution of the normal equations, theta* = (X^T X)^-1 X^T y, computed here
independently (numpy.linalg.solve on the normal equations themselves) from the same data."""

import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import run_quick

import fastnn as fnn


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("regression")
    return run_quick("regression", request.param, out), out


def least_squares(x, y):
    """Weights, bias and training MSE from X^T X theta = X^T y with X = [x, 1], in float64."""
    X = np.column_stack([x.astype(np.float64), np.ones(len(x))])
    theta = np.linalg.solve(X.T @ X, X.T @ y.astype(np.float64))
    return theta[:-1], theta[-1], float(np.mean((X @ theta - y) ** 2))


@pytest.fixture(scope="module")
def diabetes_optimum():
    (x_train, y_train), (x_test, y_test) = fnn.datasets.load_diabetes(standardize=True)
    w, b, train_mse = least_squares(x_train, y_train)
    return w, b, train_mse, float(np.mean((x_test @ w + b - y_test) ** 2))


def test_gradient_descent_reaches_the_normal_equation_weights(results, diabetes_optimum):
    numbers, _ = results
    w_star, b_star, _, _ = diabetes_optimum
    assert numbers["dataset"] == "diabetes" and len(numbers["weights"]) == 10
    w = np.array(numbers["weights"])
    assert np.linalg.norm(w - w_star) / np.linalg.norm(w_star) < 0.01
    assert numbers["bias"] == pytest.approx(b_star, rel=1e-3)
    np.testing.assert_allclose(numbers["weights_normal_equation"], w_star, rtol=1e-6, atol=1e-6)


def test_training_mse_is_within_one_percent_of_the_least_squares_optimum(results, diabetes_optimum):
    numbers, _ = results
    _, _, optimum, _ = diabetes_optimum
    assert numbers["initial_train_mse"] > 5 * optimum          # training started far from it ...
    assert numbers["train_mse"] <= 1.01 * optimum              # ... and ended at it
    assert numbers["train_mse"] >= optimum * (1 - 1e-5)        # nothing beats least squares on its own data
    assert numbers["train_mse_normal_equation"] == pytest.approx(optimum, rel=1e-6)


def test_test_mse_matches_the_least_squares_fit_and_beats_the_mean(results, diabetes_optimum):
    numbers, _ = results
    _, _, _, optimum_test = diabetes_optimum
    assert numbers["test_mse"] == pytest.approx(optimum_test, rel=0.01)
    assert numbers["test_mse"] < 0.8 * numbers["test_mse_predict_mean"]


def test_learning_rate_is_one_over_the_largest_curvature(results, diabetes_optimum):
    numbers, _ = results
    (x_train, _), _ = fnn.datasets.load_diabetes(standardize=True)
    X = np.column_stack([x_train.astype(np.float64), np.ones(len(x_train))])
    eigenvalues = np.linalg.eigvalsh(2 / len(X) * X.T @ X)
    assert numbers["learning_rate"] == pytest.approx(1 / eigenvalues[-1], rel=1e-6)
    assert numbers["condition_number"] == pytest.approx(eigenvalues[-1] / eigenvalues[0], rel=1e-4)


def test_plots_written(results):
    _, out = results
    assert (out / "regression.png").stat().st_size > 0


def write_boston_like_table(path, rows=120, seed=3):
    """A table in the Boston layout (13 named features and MEDV, header row) with a known linear
    relation, correlated features and noise: what ``--boston PATH`` reads."""
    rng = np.random.default_rng(seed)
    names = ["CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT"]
    x = rng.normal(size=(rows, 13)) * rng.uniform(0.5, 50, size=13) + rng.uniform(-10, 100, size=13)
    x[:, 9] = 20 * x[:, 8] + 0.5 * x[:, 8].std() * 20 * rng.normal(size=rows)   # TAX follows RAD (r ~ 0.9)
    medv = 22 + (x - x.mean(0)) / x.std(0) @ rng.normal(scale=3, size=13) + rng.normal(scale=2, size=rows)
    lines = [",".join(names + ["MEDV"])]
    lines += [",".join(f"{v:.6f}" for v in row) for row in np.column_stack([x, medv])]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_boston_table_given_by_path_reaches_its_normal_equations(tmp_path):
    table = write_boston_like_table(tmp_path / "boston.csv")
    numbers = run_quick("regression", "numpy", tmp_path / "out", "--boston", str(table))
    (x_train, y_train), _ = fnn.datasets.load_boston(table, standardize=True)
    w_star, _, optimum = least_squares(x_train, y_train)
    assert numbers["dataset"] == "boston" and numbers["features"] == 13
    assert np.linalg.norm(np.array(numbers["weights"]) - w_star) / np.linalg.norm(w_star) < 0.01
    assert optimum * (1 - 1e-5) <= numbers["train_mse"] <= 1.01 * optimum
