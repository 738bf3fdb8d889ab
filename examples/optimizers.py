"""Optimizers: momentum and Adam cross a long, narrow valley in far fewer steps than plain SGD.

The problem: linear regression with two weights, y ~ w1 x1 + w2 x2, where x1 varies
10 times more than x2 (standard deviations 1 and 0.1). The mean squared error

    L(w) = (1/n) sum_i (x_i . w - y_i)^2

is a quadratic bowl whose curvature is 100 times larger along w1 than along w2 (the
Hessian is 2 E[x x^T] ~ diag(2, 0.02), condition number kappa ~ 100): a long, narrow
valley. Every optimizer starts at the same point and sees the same samples in the same
order. One step is one parameter update (one optimizer.step()), whatever the batch size.

The update rules (g the gradient of the batch loss, t the step count, lr the learning rate):

    GD (full batch), SGD (batch 1), mini-batch SGD (batch 16), all plain:
        w <- w - lr g
    Momentum (heavy ball, mu = 0.9); textbook form v <- mu v - lr g, w <- w + v. fastnn
    writes it as PyTorch does, b <- mu b + g, w <- w - lr b (b = g at t = 1), which is the
    same sequence of weights (v = -lr b) while lr stays fixed:
        b <- mu b + g;   w <- w - lr b
    Nesterov momentum (PyTorch's form of "look ahead before you step"):
        b <- mu b + g;   w <- w - lr (g + mu b)
    RMSProp (alpha = 0.99): divide each coordinate's step by the root mean square of its
    recent gradients:
        s <- alpha s + (1 - alpha) g^2;   w <- w - lr g / (sqrt(s) + eps)
    Adam (beta1 = 0.9, beta2 = 0.999): momentum on the gradient, RMSProp's scaling, and a
    bias correction for the zero-initialised averages:
        m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
        m_hat = m / (1 - beta1^t);      v_hat = v / (1 - beta2^t)
        w <- w - lr m_hat / (sqrt(v_hat) + eps)

Why the valley is hard for plain gradient descent: the steep direction caps the learning
rate (lr < 2 / L, L the largest curvature, or the steps overshoot and diverge), and with
such a step the error along the flat direction shrinks only by the factor (1 - lr lambda_min)
per step: about kappa steps to make progress. Momentum adds up the small, consistent
gradient along the valley floor (an effective step lr / (1 - mu), ten times larger) while
its zig-zags across the valley cancel, so it needs about sqrt(kappa) steps. RMSProp and
Adam divide each weight's step by the size of its own gradients, which undoes the
difference in scale between w1 and w2 altogether.

The SGD family shares one learning rate, lr = 0.1, small enough that a single sample's
step never overshoots (lr 2 x1^2 < 2 for nearly all samples), so what differs between
them is only the batch size and the momentum; RMSProp (lr = 0.03) and Adam (lr = 0.1)
take steps of about lr in each weight, whatever the gradient's scale. A larger lr would
speed plain GD up to the 2 / L limit, but not past kappa-many steps: the longer the
valley, the larger momentum's and Adam's lead.

Steps to the target: the first step after which the full training loss is within 1% of
the way from the optimum L* (by least squares) to the starting loss,
L <= L* + 0.01 (L(w0) - L*); inf if the step budget runs out first. GD, SGD and mini-batch
SGD need about the same number of steps, although SGD looks at one sample per step and GD
at all of them: per sample seen, the noisy small batches are far ahead.

The script also checks each update rule: three steps of each optimizer on known gradients,
against the formulas above written out in NumPy. Plots: the excess loss L - L* per step,
and the paths of the weights over the loss contours (optimizers.png).

    python examples/optimizers.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

import math

import numpy as np

import lesson
import fastnn as fnn
import fastnn.functional as F
from fastnn.layers import Dense, Input

FEATURE_SCALES = (1.0, 0.1)    # x2 varies 10x less than x1: curvature ratio 100
TRUE_WEIGHTS = (1.0, 1.0)
START = (-1.0, -4.0)           # far along the flat direction, off the valley floor
NOISE = 0.3                    # y = x . w_true + noise: the optimum loss is about NOISE^2
TARGET_FRACTION = 0.01         # the target: 1% of the initial excess loss left

SGD_LR, ADAPTIVE_LR, RMSPROP_LR = 0.1, 0.1, 0.03
MOMENTUM = 0.9
RMSPROP_ALPHA, ADAM_BETAS, EPS = 0.99, (0.9, 0.999), 1e-8
BATCH = 16

# name -> (label, make the optimizer from the parameters, batch size or None for the full batch)
OPTIMIZERS = {
    "gd": ("GD (full batch)", lambda p: fnn.optim.SGD(p, lr=SGD_LR), None),
    "sgd": ("SGD (batch 1)", lambda p: fnn.optim.SGD(p, lr=SGD_LR), 1),
    "minibatch": (f"mini-batch SGD ({BATCH})", lambda p: fnn.optim.SGD(p, lr=SGD_LR), BATCH),
    "momentum": ("momentum", lambda p: fnn.optim.SGD(p, lr=SGD_LR, momentum=MOMENTUM), BATCH),
    "nesterov": ("Nesterov", lambda p: fnn.optim.SGD(p, lr=SGD_LR, momentum=MOMENTUM, nesterov=True), BATCH),
    "rmsprop": ("RMSProp", lambda p: fnn.optim.RMSprop(p, lr=RMSPROP_LR, alpha=RMSPROP_ALPHA, eps=EPS), BATCH),
    "adam": ("Adam", lambda p: fnn.optim.Adam(p, lr=ADAPTIVE_LR, betas=ADAM_BETAS, eps=EPS), BATCH),
}


# --- the problem ---------------------------------------------------------------------------
def make_problem(rng, n):
    x = (rng.normal(size=(n, 2)) * np.array(FEATURE_SCALES)).astype(np.float32)
    y = (x @ np.array(TRUE_WEIGHTS) + NOISE * rng.normal(size=n)).astype(np.float32)
    return x, y


def full_loss(x, y, w):
    """L(w) = mean (x . w - y)^2 over all samples, in float64 on the host."""
    return float(np.mean((x.astype(np.float64) @ np.asarray(w, dtype=np.float64) - y) ** 2))


def least_squares(x, y):
    """w* = argmin L(w), solved directly (numpy.linalg.lstsq): the bottom of the valley."""
    w, *_ = np.linalg.lstsq(x.astype(np.float64), y.astype(np.float64), rcond=None)
    return w


def batches(rng, n, batch_size):
    """Sample indices, batch after batch, reshuffled every pass over the data (endless)."""
    while True:
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start:start + batch_size]


# --- the race ----------------------------------------------------------------------------------
def train(make_optimizer, batch_size, x, y, steps, seed):
    """The loss and the weights after every step of one optimizer on Dense(1) without bias."""
    model = fnn.Sequential([Input((2,)), Dense(1, use_bias=False)])   # y_hat = x . w
    model.set_weights([np.array(START, dtype=np.float32).reshape(2, 1)])
    optimizer = make_optimizer(model.parameters())
    order = batches(np.random.default_rng(seed), len(x), batch_size)   # the same order for every optimizer
    path, losses = [np.array(START)], [full_loss(x, y, START)]
    for _ in range(steps):
        index = next(order)
        optimizer.zero_grad()
        loss = F.mse(model(x[index]), y[index].reshape(-1, 1))
        loss.backward()
        optimizer.step()
        w = model.get_weights()[0].ravel()
        path.append(w)
        losses.append(full_loss(x, y, w))   # judged on all the data, whatever the batch
    return np.array(losses), np.array(path)


def steps_to(losses, target):
    """The first step after which the loss is at or below target (losses[0] is the start), else inf."""
    below = np.flatnonzero(np.asarray(losses) <= target)
    return int(below[0]) if len(below) else math.inf


# --- the update rules, one formula at a time ------------------------------------------------
def rule_by_hand(name, p, grads):
    """The weights after each step of the textbook formulas (module docstring), in NumPy."""
    p, after = p.copy(), []
    b = s = m = v = velocity = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if name == "sgd":
            p = p - SGD_LR * g
        elif name == "momentum":                  # textbook velocity form
            velocity = MOMENTUM * velocity - SGD_LR * g
            p = p + velocity
        elif name == "nesterov":
            b = MOMENTUM * b + g
            p = p - SGD_LR * (g + MOMENTUM * b)
        elif name == "rmsprop":
            s = RMSPROP_ALPHA * s + (1 - RMSPROP_ALPHA) * g ** 2
            p = p - RMSPROP_LR * g / (np.sqrt(s) + EPS)
        elif name == "adam":
            beta1, beta2 = ADAM_BETAS
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g ** 2
            m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
            p = p - ADAPTIVE_LR * m_hat / (np.sqrt(v_hat) + EPS)
        after.append(p.copy())
    return np.array(after)


def rule_in_fastnn(name, p0, grads):
    """The weights after each optimizer.step() on the loss sum(g_t * p), whose gradient is g_t."""
    p = fnn.tensor(p0, dtype="float64", requires_grad=True)
    optimizer = OPTIMIZERS[name][1]([p])
    after = []
    for g in grads:
        optimizer.zero_grad()
        (p * fnn.tensor(g, dtype="float64")).sum().backward()
        optimizer.step()
        after.append(p.numpy().copy())
    return np.array(after)


def check_update_rules(rng):
    p0 = np.round(rng.normal(size=3), 3)
    grads = np.round(rng.normal(size=(3, 3)), 3)    # a different gradient each step
    results = {"update_rule_p0": p0.tolist(), "update_rule_grads": grads.tolist()}
    for name in ("sgd", "momentum", "nesterov", "rmsprop", "adam"):
        fastnn_after = rule_in_fastnn(name, p0, grads)
        results[f"update_rule_after_{name}"] = fastnn_after.tolist()
        results[f"update_rule_max_error_{name}"] = float(np.abs(fastnn_after - rule_by_hand(name, p0, grads)).max())
    return results


# --- the plot -------------------------------------------------------------------------------------
def plot(curves, paths, x, y, optimum, target, out):
    fig, axes = lesson.figure(1, 2, figsize=(12, 4.8))
    loss_axes, path_axes = axes.flat
    for name, losses in curves.items():
        style = {"linestyle": "--", "linewidth": 2} if name == "gd" else {"linewidth": 1}   # GD under mini-batch
        steps = np.arange(1, len(losses) + 1)   # step k+1 plotted at losses[k], so the start fits a log axis
        loss_axes.plot(steps, np.maximum(losses - optimum, 1e-12), label=OPTIMIZERS[name][0], **style)
    loss_axes.axhline(target - optimum, color="black", linestyle=":", linewidth=1, label="target")
    loss_axes.set_xscale("log")
    loss_axes.set_yscale("log")
    loss_axes.set_ylim(bottom=1e-5)
    loss_axes.set_xlabel("step + 1 (parameter updates)")
    loss_axes.set_ylabel("training loss - optimum")
    loss_axes.set_title("the loss per step: momentum and Adam reach the target first")
    loss_axes.legend(fontsize=8)

    w_star = least_squares(x, y)
    w1, w2 = np.meshgrid(np.linspace(-1.5, 2.0, 120), np.linspace(-5.0, 3.0, 120))
    grid = np.stack([w1.ravel(), w2.ravel()], axis=1)
    losses = np.mean((x.astype(np.float64) @ grid.T - y[:, None]) ** 2, axis=0).reshape(w1.shape)
    path_axes.contour(w1, w2, np.log(losses - optimum + 1e-3), levels=20, cmap="Greys", linewidths=0.6)
    for name, path in paths.items():
        style = {"linestyle": "--", "linewidth": 2} if name == "gd" else {"linewidth": 1}
        path_axes.plot(path[:, 0], path[:, 1], label=OPTIMIZERS[name][0], **style)
    path_axes.plot(*START, "ko")
    path_axes.plot(*w_star, "r*", markersize=12)
    path_axes.set_xlabel("w1 (steep)")
    path_axes.set_ylabel("w2 (flat)")
    path_axes.set_title("paths of the weights over the loss contours")
    return lesson.save_figure(fig, out, "optimizers.png")


def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    """Race seven optimizers across the same valley; check each update rule by hand."""
    rng = np.random.default_rng(seed)
    x, y = make_problem(rng, n=256 if quick else 1024)
    optimum = full_loss(x, y, least_squares(x, y))
    start_loss = full_loss(x, y, START)
    target = optimum + TARGET_FRACTION * (start_loss - optimum)
    steps = 800 if quick else 3000

    results = {"optimum_loss": optimum, "start_loss": start_loss, "target_loss": target, "step_budget": steps,
               "lr_sgd": SGD_LR, "lr_rmsprop": RMSPROP_LR, "lr_adam": ADAPTIVE_LR, "momentum": MOMENTUM,
               "rmsprop_alpha": RMSPROP_ALPHA, "adam_betas": list(ADAM_BETAS), "eps": EPS}
    curves, paths = {}, {}
    for name, (label, make_optimizer, batch_size) in OPTIMIZERS.items():
        batch_size = batch_size or len(x)
        curves[name], paths[name] = train(make_optimizer, batch_size, x, y, steps, seed)
        reached = steps_to(curves[name], target)
        results[f"steps_to_target_{name}"] = reached
        results[f"samples_to_target_{name}"] = reached * batch_size
        results[f"final_loss_{name}"] = float(curves[name][-1])
        print(f"{label:<22} target after {reached:>5} steps ({reached * batch_size:>8} samples seen)")
    results.update(check_update_rules(rng))
    plot(curves, paths, x, y, optimum, target, out)
    return results


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
