"""Linear regression: one linear unit trained by gradient descent on the squared error reaches the normal equations.

A single neuron without an activation (a perceptron with the step function taken
away, Dense(1)) computes an affine function of its inputs:

    y_hat = x . w + b

Trained on the mean squared error over the n training samples,

    MSE(w, b) = (1/n) sum_i (x_i . w + b - y_i)^2,

it is ordinary least-squares linear regression. Append a column of ones to the inputs
(X = [x, 1], theta = [w; b]) and the MSE is a convex quadratic bowl in theta with
gradient and Hessian

    grad MSE = (2/n) X^T (X theta - y)          H = (2/n) X^T X.

Setting the gradient to zero gives the normal equations X^T X theta = X^T y, whose
solution is the least-squares optimum

    theta* = (X^T X)^-1 X^T y

(computed here with numpy.linalg.lstsq, which solves the same problem without forming
the inverse). Full-batch gradient descent, theta <- theta - lr grad MSE, walks down the
bowl to that same point. It is stable for lr < 2 / L, where L is the largest eigenvalue
of H; the script takes lr = 1 / L. Along each eigenvector of H (eigenvalue lambda) the
error then shrinks by the factor (1 - lambda / L) per step, so the flattest direction
(the smallest eigenvalue, from nearly redundant features) sets the pace: with the
condition number kappa = L / lambda_min, k = kappa ln(1 / tol) steps shrink every error
by tol. The training MSE gets close to its minimum long before that (the flat
directions barely change it); the weights themselves need the full k steps.
Standardising the features (zero mean, unit variance) keeps kappa small. In float32 the
weights stop improving at a relative error near 1e-5: the rounding of each gradient
(about 1e-7 relative) is amplified by the flat direction, roughly kappa times.

The data: the diabetes table bundled with fastnn (442 patients, 10 standardised features,
as scikit-learn distributes them; target: disease progression after one year), offline.
With --boston PATH the Boston housing table (13 features, target: median home value in
$1000s) is read from a CSV you have instead (fastnn does not download it; see
fastnn.datasets.load_boston).

What the learner should see: the training MSE falls to the least-squares optimum, the
weights of the trained Dense(1) match theta* to a fraction of a percent, and the test
MSE of both is the same; plots of the loss per step and of predicted against true
values on the test set (regression.png).

    python examples/regression.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N] [--boston PATH]
"""

from pathlib import Path

import numpy as np

import lesson
import fastnn as fnn
import fastnn.functional as F
from fastnn.layers import Dense, Input


def load_data(boston=None):
    """Standardised features and float32 targets: the Boston table from ``boston``, else diabetes."""
    if boston is not None:
        return "boston", fnn.datasets.load_boston(boston, standardize=True)
    return "diabetes", fnn.datasets.load_diabetes(standardize=True)


def with_ones(x):
    """X = [x, 1] in float64: the bias is the weight of a constant feature."""
    return np.column_stack([x.astype(np.float64), np.ones(len(x))])


def normal_equation_solution(x, y):
    """theta* = (X^T X)^-1 X^T y, the least-squares weights and bias, by numpy.linalg.lstsq."""
    theta, *_ = np.linalg.lstsq(with_ones(x), y.astype(np.float64), rcond=None)
    return theta[:-1], theta[-1]


def mse(prediction, y):
    """(1/n) sum_i (prediction_i - y_i)^2, in float64 on the host."""
    return float(np.mean((np.asarray(prediction, dtype=np.float64).ravel() - y.astype(np.float64)) ** 2))


def stable_learning_rate(x):
    """1 / L, L the largest eigenvalue of the MSE's Hessian (2/n) X^T X (GD diverges above 2 / L).
    Also returns the condition number L / lambda_min, which sets how many steps GD needs."""
    X = with_ones(x)
    eigenvalues = np.linalg.eigvalsh(2.0 / len(X) * X.T @ X)
    return 1.0 / eigenvalues[-1], eigenvalues[-1] / eigenvalues[0]


def steps_for(condition_number, tolerance, most=50_000):
    """Steps for GD at lr = 1/L to shrink every direction's error by ``tolerance``:
    the slowest shrinks by (1 - 1/kappa) per step, so k = kappa ln(1/tolerance) steps."""
    return min(most, int(np.ceil(condition_number * np.log(1.0 / tolerance))))


def train_by_gradient_descent(x, y, lr, steps):
    """A Dense(1) trained on all samples at once (one step = one update on the full batch).

    Returns the model and, for the start and after every step, the weights and bias as
    float64 host copies (to follow the path, and to measure the MSE without float32's
    rounding: an MSE near 2700 in float32 is only resolved to about 1e-4)."""
    model = fnn.Sequential([Input((x.shape[1],)), Dense(1)])    # no activation: y_hat = x w + b
    optimizer = fnn.optim.SGD(model.parameters(), lr=lr)         # plain gradient descent, no momentum
    inputs, targets = fnn.tensor(x), fnn.tensor(y.reshape(-1, 1))  # moved to the backend once
    path = [flat_parameters(model)]
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse(model(inputs), targets)
        loss.backward()
        optimizer.step()
        path.append(flat_parameters(model))
    return model, np.array(path)


def flat_parameters(model):
    """theta = [w; b] of the Dense(1), as one float64 host vector."""
    kernel, bias = model.get_weights()
    return np.append(kernel.ravel(), bias).astype(np.float64)


def plot(name, path, x_train, y_train, theta_star, y_test, predicted, out):
    fig, axes = lesson.figure(1, 2, figsize=(11, 4.2))
    curve, scatter = axes.flat
    X = with_ones(x_train)
    excess = np.mean((path @ X.T - y_train) ** 2, axis=1) - np.mean((X @ theta_star - y_train) ** 2)
    weight_error = np.linalg.norm(path[:, :-1] - theta_star[:-1], axis=1) / np.linalg.norm(theta_star[:-1])
    steps = np.arange(len(path))
    curve.plot(steps, np.maximum(excess / excess[0], 1e-16), label="(MSE - optimum) / at the start")
    curve.plot(steps, weight_error, label="||w - w*|| / ||w*||")
    curve.set_yscale("log")
    curve.set_xlabel("gradient-descent step (full batch)")
    curve.set_title(f"{name}: gradient descent reaches the normal equations")
    curve.legend()

    scatter.scatter(y_test, predicted, s=12, alpha=0.7)
    low, high = float(min(y_test.min(), predicted.min())), float(max(y_test.max(), predicted.max()))
    scatter.plot([low, high], [low, high], color="black", linewidth=1, label="perfect prediction")
    scatter.set_xlabel("true target (test set)")
    scatter.set_ylabel("predicted")
    scatter.set_title("predicted against true, test set")
    scatter.legend()
    return lesson.save_figure(fig, out, "regression.png")


def run(backend="cpu", quick=False, out=".", seed=0, boston=None) -> dict:
    """Train Dense(1) by full-batch gradient descent on the MSE; compare with the normal equations."""
    name, ((x_train, y_train), (x_test, y_test)) = load_data(boston)
    w_star, b_star = normal_equation_solution(x_train, y_train)
    optimum_train_mse = mse(x_train @ w_star + b_star, y_train)

    lr, condition_number = stable_learning_rate(x_train)
    steps = steps_for(condition_number, tolerance=1e-3 if quick else 1e-6)
    model, path = train_by_gradient_descent(x_train, y_train, lr, steps)
    kernel, bias = model.get_weights()
    w, b = kernel.ravel().astype(np.float64), float(bias[0])

    results = {
        "dataset": name,
        "features": int(x_train.shape[1]),
        "train_samples": int(len(x_train)),
        "learning_rate": float(lr),
        "condition_number": float(condition_number),
        "steps": steps,
        "weights": w.tolist(),
        "bias": b,
        "weights_normal_equation": w_star.tolist(),
        "bias_normal_equation": float(b_star),
        # ||w - w*|| / ||w*|| over the feature weights (the bias, which converges fast, apart)
        "weight_relative_error": float(np.linalg.norm(w - w_star) / np.linalg.norm(w_star)),
        "bias_error": abs(b - float(b_star)),
        "initial_train_mse": mse(with_ones(x_train) @ path[0], y_train),
        "train_mse": mse(model.predict(x_train), y_train),
        "train_mse_normal_equation": optimum_train_mse,
        "test_mse": mse(model.predict(x_test), y_test),
        "test_mse_normal_equation": mse(x_test @ w_star + b_star, y_test),
        "test_mse_predict_mean": mse(np.full(len(y_test), y_train.mean()), y_test),   # the no-skill baseline
    }
    plot(name, path, x_train, y_train, np.append(w_star, b_star), y_test, model.predict(x_test).ravel(), out)

    print(f"{name}: {results['train_samples']} training samples, {results['features']} features; "
          f"lr = 1/L = {lr:.4f}, condition number {condition_number:.0f}")
    print(f"train MSE after {steps} steps {results['train_mse']:.3f}, normal equations "
          f"{optimum_train_mse:.3f}; weights within {100 * results['weight_relative_error']:.3f}%")
    print(f"test MSE {results['test_mse']:.3f} (normal equations {results['test_mse_normal_equation']:.3f}, "
          f"predicting the mean {results['test_mse_predict_mean']:.3f})")
    return results


def add_arguments(parser):
    parser.add_argument("--boston", type=Path, default=None, metavar="PATH",
                        help="the Boston housing table (CSV, UCI housing.data or Keras' .npz) to use "
                             "instead of the bundled diabetes data")


def main(argv=None) -> dict:
    args = lesson.parse_args(__file__, __doc__, argv, add_arguments=add_arguments)
    return lesson.execute(run, args, boston=args.boston)


if __name__ == "__main__":
    main()
