"""Recurrent networks: SimpleRNN, LSTM and GRU all learn a short-range sequence task, but
only the gated cells (LSTM, GRU) carry information across a long lag.

A recurrent layer reads a sequence x_1, ..., x_T (input shape (N, T, features)) one step
at a time and keeps a state h_t, a summary of everything it has seen so far:

    SimpleRNN   h_t = tanh(x_t W + h_{t-1} U + b)

    LSTM        i, f, o = sigmoid(...), g = tanh(...)         all four from x_t W + h_{t-1} U + b
                c_t = f * c_{t-1} + i * g                      the cell: a gated running memory
                h_t = o * tanh(c_t)

    GRU         z, r = sigmoid(...)                            update and reset gates
                n_t  = tanh(x_t W_n + r * (h_{t-1} U_n + b_n))
                h_t  = z * h_{t-1} + (1 - z) * n_t

A Dense layer on the last state h_T makes the prediction (``return_sequences=False``, the
default; ``return_sequences=True`` would hand on every h_t instead, to stack another
recurrent layer). Training unrolls the loop over time and backpropagates through it
(backpropagation through time). The gradient that reaches step t from the loss at step T is
a product of T - t step Jacobians:

    dh_T / dh_t = prod_{s=t+1..T} dh_s / dh_{s-1}
        SimpleRNN:  dh_s / dh_{s-1} = diag(1 - h_s^2) U      -> shrinks (or explodes) geometrically
        LSTM:       dc_s / dc_{s-1} = diag(f_s)  (+ terms through h)  -> stays near 1 while f_s ~ 1

so a SimpleRNN cannot learn what depends on inputs far back (the vanishing gradient,
Hochreiter 1991; Bengio, Simard & Frasconi 1994), and it cannot shut its state against the
inputs in between either: every x_t is added into h_t. The LSTM's cell and the GRU's
h_t = z * h_{t-1} + ... are additive paths guarded by gates: with its forget gate open
(f = 1, or z = 1 in the GRU) and its input gate shut, the cell copies its content, and
its gradient, unchanged from step to step.

Two tasks (fastnn.datasets.sequences), mean squared error on held-out sequences:

  (a) short lag: sine-wave continuation. Each sequence is T steps of
      sin(2 pi t / P + phi) with its own period P in [10, 20] and phase phi; predict the next
      value. It depends only on the last few steps. Baselines: repeat the last value,
      MSE = E[1 - cos(2 pi / P)] ~ 0.1; predict 0 (the mean), MSE = 1/2.
      All three cells beat the last-value baseline many times over.

  (b) long lag: delayed recall. Every step shows a random value in [-1, 1) and a marker
      channel; one of the first few steps is marked, and the target is its value, read at
      the end, 15 or more steps later, with fresh random values at every step in between.
      Baseline: predict 0, MSE = Var(v) = 1/3. LSTM and GRU recall it; SimpleRNN stays at
      the baseline.

On (b) the gated cells start as "chrono" memories (Tallec & Ollivier, 2018): with
b = ln(T - 1), the LSTM's forget-gate bias starts at b and its input-gate bias at -b, so
f = sigmoid(b) = 1 - 1/T and i = 1/T: a memory whose time scale 1 / (1 - f) is the sequence
length T, and that lets little in until it learns what to let in. The GRU's update gate z
does both jobs (keep z, write 1 - z); its bias starts at b. With Keras' default biases (the
LSTM's forget bias 1, every other gate bias 0) the gated cells start on a plateau at the
baseline instead: at f = sigmoid(1) = 0.73 the marked value fades to 0.73^15 ~ 1% of its
size in 15 steps, drowned by the values written after it, and the optimizer first has to
discover that it matters. At T = 20 they leave the plateau after a few hundred steps on most
seeds, more than the quick run takes; in the full run (T = 40, dotted curves) not within its
15 epochs.
SimpleRNN has no gate to set: its memory passes through U and tanh' at every step, and every
new value is added in.

The script trains each cell on each task with Adam, prints the test MSEs and the baselines,
and plots the learning curves per cell and sample predictions (learning_curves.png,
predictions.png). What to see in the quick run (T = 5 for the sines, T = 20 for the recall):
sine MSEs of 0.001-0.01 for all three cells against 0.1 for repeating the last value; recall
MSEs of about 0.01-0.03 for LSTM and GRU against 1/3 for predicting 0, while SimpleRNN ends
at about 1/3, its predictions a flat cloud around 0. The full run uses longer sequences
(T = 10 and T = 40), more data and more epochs.

    python examples/rnn.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

import math

import numpy as np
from matplotlib.ticker import MaxNLocator

import lesson
import fastnn as fnn
from fastnn.data import DataLoader
from fastnn.datasets.sequences import delayed_recall, sine_waves
from fastnn.layers import GRU, LSTM, Dense, Input, SimpleRNN

CELLS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
UNITS = 16
PERIODS = (10.0, 20.0)  # of the sine waves, in steps

# Per task and mode: sequence length, training/test sequences, epochs, batch size, Adam's lr.
SETTINGS = {
    "sine": {True: dict(length=5, train=256, test=500, epochs=8, batch=32, lr=0.05),
             False: dict(length=10, train=2048, test=1000, epochs=20, batch=32, lr=0.02)},
    "recall": {True: dict(length=20, window=5, train=512, test=500, epochs=6, batch=64, lr=0.05),
               False: dict(length=40, window=10, train=2048, test=1000, epochs=15, batch=64, lr=0.01)},
}


# -- the models -----------------------------------------------------------------------
def gate_bias(units, blocks):
    """A bias initializer: zeros, except ``value`` on the gate blocks given as
    ``{block: value}`` (columns [block units, (block + 1) units) of the input bias)."""
    def initializer(shape, dtype):
        bias = np.zeros(shape, dtype=dtype)
        input_bias = bias.reshape(-1, shape[-1])[0]   # the GRU's bias is (2, 3 units): row 0 is the input bias
        for block, value in blocks.items():
            input_bias[block * units:(block + 1) * units] = value
        return bias
    return initializer


def make_cell(kind, memory=None):
    """One recurrent layer of UNITS units. With ``memory`` = T, a gated cell starts as a memory
    of time scale T (chrono initialisation, b = ln(T - 1)): the LSTM's forget gate starts at
    sigmoid(b) = 1 - 1/T and its input gate at sigmoid(-b) = 1/T; the GRU's update gate z,
    which does both jobs (keep z, write 1 - z), at 1 - 1/T."""
    if memory is None or kind == "SimpleRNN":
        return CELLS[kind](UNITS)
    b = math.log(memory - 1)
    if kind == "LSTM":   # gate order i, f, c, o
        return LSTM(UNITS, unit_forget_bias=False, bias_initializer=gate_bias(UNITS, {0: -b, 1: b}))
    return GRU(UNITS, bias_initializer=gate_bias(UNITS, {0: b}))   # gate order z, r, h


def train(kind, data, settings, chrono=False):
    """Fit ``Input -> cell -> Dense(1)`` with MSE; returns (model, validation MSE per epoch)."""
    (x_train, y_train), (x_test, y_test) = data
    length, features = x_train.shape[1:]
    model = fnn.Sequential([Input((length, features)),
                            make_cell(kind, memory=length if chrono else None),
                            Dense(1)])
    model.compile(optimizer=fnn.optim.Adam(lr=settings["lr"]), loss="mse")
    # The whole test set as one batch: one forward pass per epoch for the learning curve.
    validation = DataLoader(x_test, y_test, batch_size=len(x_test))
    history = model.fit(x_train, y_train, epochs=settings["epochs"], batch_size=settings["batch"],
                        validation_data=validation, verbose=0)
    return model, [float(v) for v in history.history["val_loss"]]


def mse(prediction, target):
    return float(np.mean((np.asarray(prediction, dtype=np.float64) - target) ** 2))


# -- the two tasks ----------------------------------------------------------------------
def sine_task(settings, seed):
    """Train and test sets of sine windows (the next value is the target), from two seeds."""
    def make(n, data_seed):
        return sine_waves(n, settings["length"], seed=data_seed, min_period=PERIODS[0], max_period=PERIODS[1])
    return make(settings["train"], seed), make(settings["test"], seed + 1000)


def recall_task(settings, seed):
    """Train and test sets of delayed recall (the marked value is the target), from two seeds."""
    def make(n, data_seed):
        return delayed_recall(n, settings["length"], seed=data_seed, window=settings["window"])
    return make(settings["train"], seed), make(settings["test"], seed + 1000)


def output_shapes(length, features, batch=4):
    """What a recurrent layer hands on: the last state (N, units), or with
    ``return_sequences=True`` every step's state (N, T, units), e.g. for a second recurrent layer."""
    x = fnn.tensor(np.zeros((batch, length, features), dtype=np.float32))
    last = LSTM(UNITS)(x).shape
    every = LSTM(UNITS, return_sequences=True)(x).shape
    print(f"LSTM({UNITS}) on input {x.shape}: output {last}; with return_sequences=True: {every}")
    return list(last), list(every)


def run_task(name, data, settings, chrono, cells=tuple(CELLS)):
    """Each cell on one task: test MSE, learning curve and test predictions per cell."""
    results = {}
    for kind in cells:
        model, curve = train(kind, data, settings, chrono)
        x_test, y_test = data[1]
        prediction = model.predict(x_test, batch_size=len(x_test))
        results[kind] = dict(mse=mse(prediction, y_test), curve=curve, prediction=prediction[:, 0])
        init = "chrono gate biases" if chrono and kind != "SimpleRNN" else "default init"
        print(f"{name:6s} {kind:9s} {init:18s} test MSE {results[kind]['mse']:.4f}")
    return results


# -- plots -----------------------------------------------------------------------------
COLORS = {"SimpleRNN": "tab:red", "LSTM": "tab:blue", "GRU": "tab:green"}


def plot_learning_curves(sine, recall, recall_default_init, baselines, out, lag):
    fig, axes = lesson.figure(1, 2, figsize=(11, 4.2))
    ax_sine, ax_recall = axes[0]
    for ax, results, title in ((ax_sine, sine, "(a) sine continuation: short lag"),
                               (ax_recall, recall, f"(b) delayed recall: lag >= {lag} steps")):
        for kind, result in results.items():
            epochs = np.arange(1, len(result["curve"]) + 1)
            ax.plot(epochs, result["curve"], marker="o", color=COLORS[kind], label=kind)
        ax.set(title=title, xlabel="epoch", ylabel="test MSE", yscale="log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for kind, result in recall_default_init.items():
        epochs = np.arange(1, len(result["curve"]) + 1)
        ax_recall.plot(epochs, result["curve"], ls=":", marker="x", color=COLORS[kind],
                       label=f"{kind}, default gate biases")
    ax_sine.axhline(baselines["sine_last"], color="gray", ls="--", label="baseline: repeat last value")
    ax_recall.axhline(baselines["recall_zero"], color="gray", ls="--", label="baseline: predict 0")
    for ax in (ax_sine, ax_recall):
        ax.legend(fontsize=8)
    return lesson.save_figure(fig, out, "learning_curves.png")


def plot_predictions(sine, sine_data, recall, recall_data, out):
    fig, axes = lesson.figure(1, 2, figsize=(11, 4.2))
    ax_sine, ax_recall = axes[0]
    # (a) three test windows, the true next value and each cell's prediction.
    x_test, y_test = sine_data[1]
    length = x_test.shape[1]
    for row, offset in enumerate((0, length + 3, 2 * (length + 3))):
        steps = offset + np.arange(length)
        ax_sine.plot(steps, x_test[row, :, 0], color="black", marker=".", label="input" if row == 0 else None)
        ax_sine.plot([offset + length - 1, offset + length], [x_test[row, -1, 0], y_test[row, 0]], "k:")
        ax_sine.plot(offset + length, y_test[row, 0], "k*", ms=12, label="true next value" if row == 0 else None)
        for kind, result in sine.items():
            ax_sine.plot(offset + length, result["prediction"][row], "o", color=COLORS[kind], mfc="none",
                         ms=9, label=kind if row == 0 else None)
    ax_sine.set(title="(a) three test windows and the predicted next value", xlabel="step (windows side by side)")
    ax_sine.legend(fontsize=8)
    # (b) predicted against true marked value: the diagonal is perfect recall, a flat line
    # at 0 is the baseline that has forgotten.
    y_test = recall_data[1][1][:, 0]
    for kind, result in recall.items():
        ax_recall.scatter(y_test[:200], result["prediction"][:200], s=10, color=COLORS[kind], label=kind, alpha=0.7)
    ax_recall.plot([-1, 1], [-1, 1], color="gray", ls="--", label="perfect recall")
    ax_recall.set(title="(b) recalled against marked value (test)", xlabel="marked value", ylabel="prediction")
    ax_recall.legend(fontsize=8)
    return lesson.save_figure(fig, out, "predictions.png")


# -- the lesson -------------------------------------------------------------------------
def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    sine_settings, recall_settings = SETTINGS["sine"][quick], SETTINGS["recall"][quick]

    sine_data = sine_task(sine_settings, seed)
    x_test, y_test = sine_data[1]
    baselines = {"sine_last": mse(x_test[:, -1, :], y_test), "sine_zero": mse(0.0, y_test)}
    sine = run_task("sine", sine_data, sine_settings, chrono=False)

    recall_data = recall_task(recall_settings, seed)
    baselines["recall_zero"] = mse(0.0, recall_data[1][1])
    recall = run_task("recall", recall_data, recall_settings, chrono=True)
    # The full run also trains the gated cells from Keras' default gate biases, to show the
    # plateau that the chrono initialisation avoids (too slow for the quick run).
    recall_default_init = {} if quick else run_task("recall", recall_data, recall_settings, chrono=False,
                                                    cells=("LSTM", "GRU"))

    lag = recall_settings["length"] - recall_settings["window"]
    plot_learning_curves(sine, recall, recall_default_init, baselines, out, lag)
    plot_predictions(sine, sine_data, recall, recall_data, out)
    last_shape, sequence_shape = output_shapes(recall_settings["length"], features=2)

    results = {"lstm_output_shape": last_shape, "lstm_sequences_output_shape": sequence_shape,
               "sine_length": sine_settings["length"],
               "sine_min_period": PERIODS[0], "sine_max_period": PERIODS[1],
               "sine_baseline_last_mse": baselines["sine_last"], "sine_baseline_zero_mse": baselines["sine_zero"]}
    results.update({f"sine_mse_{kind.lower()}": r["mse"] for kind, r in sine.items()})
    results.update({"recall_length": recall_settings["length"], "recall_window": recall_settings["window"],
                    "recall_baseline_mse": baselines["recall_zero"]})
    results.update({f"recall_mse_{kind.lower()}": r["mse"] for kind, r in recall.items()})
    results.update({f"recall_mse_{kind.lower()}_default_init": r["mse"] for kind, r in recall_default_init.items()})
    return results


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
