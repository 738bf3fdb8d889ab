"""Training curves as PNG files, drawn with matplotlib's Agg renderer.

    history = model.fit(x, y, epochs=20, validation_split=0.2)
    history.plot("curves.png")                          # = fastnn.plot.plot_history(history, "curves.png")
    fastnn.plot.plot_curves({"lr": lrs}, "lr.png", ylabel="learning rate")

matplotlib is an optional dependency (``pip install "fastnn[plot]"``). The figures are
made with the object API (``Figure`` + ``FigureCanvasAgg``), so pyplot's global state and
the user's chosen matplotlib backend are left as they were, and no window ever opens.
"""

from __future__ import annotations

import math
import numbers
import os

__all__ = ["plot_curves", "plot_history"]


def _figure(width, height):
    """A matplotlib Figure attached to an Agg canvas, or an ImportError saying how to install it."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError('plotting needs matplotlib: pip install "fastnn[plot]" (or pip install matplotlib)') from error
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _values(owner, name, values) -> list:
    values = list(values)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{owner}: {name}[{i}] must be a number, got {type(v).__name__} {v!r}")
    return [float(v) for v in values]


def _save(figure, path) -> str:
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def plot_history(history_or_dict, path, keys=None, title=None) -> str:
    """Draw one subplot per metric, with the training curve and, where logged, the
    validation curve ("val_<metric>"), against the epoch (counted from 1); write a PNG.

    ``history_or_dict``: a ``fastnn.callbacks.History`` (what ``fit`` returns) or a dict
    of per-epoch lists such as ``history.history``. ``keys``: the metrics to draw
    ("loss", "accuracy", ...; a "val_" prefix is ignored); default every logged metric
    except the learning rate "lr" (ask for it by name). Returns ``path``.
    """
    if hasattr(history_or_dict, "history") and isinstance(history_or_dict.history, dict):
        data = dict(history_or_dict.history)
        epochs = [e + 1 for e in getattr(history_or_dict, "epoch", [])]
    elif isinstance(history_or_dict, dict):
        data, epochs = dict(history_or_dict), []
    else:
        raise TypeError(f"plot_history: expected a History or a dict of per-epoch lists, "
                        f"got {type(history_or_dict).__name__}")
    data = {key: _values("plot_history", key, values) for key, values in data.items()}
    if keys is None:
        keys = [key for key in data if not key.startswith("val_") and key != "lr"]
        # a metric logged only for validation still gets its subplot
        keys += [key[4:] for key in data if key.startswith("val_") and key[4:] not in data]
    else:
        keys = [keys] if isinstance(keys, str) else list(keys)
        keys = list(dict.fromkeys(key[4:] if key.startswith("val_") else key for key in keys))
        missing = [key for key in keys if key not in data and f"val_{key}" not in data]
        if missing:
            raise ValueError(f"plot_history: no curve for {', '.join(missing)}; the history has "
                             f"{', '.join(data) or 'nothing'}")
    if not keys:
        raise ValueError(f"plot_history: nothing to plot; the history has {', '.join(data) or 'no entries'}")

    columns = min(len(keys), 3)
    rows = math.ceil(len(keys) / columns)
    figure = _figure(4.8 * columns, 3.6 * rows)
    for index, key in enumerate(keys):
        axes = figure.add_subplot(rows, columns, index + 1)
        for label, name in (("train", key), ("validation", f"val_{key}")):
            values = data.get(name)
            if values:
                x = epochs if len(epochs) == len(values) else list(range(1, len(values) + 1))
                axes.plot(x, values, marker="o" if len(values) < 30 else None, markersize=3, label=label)
        axes.set_title(key)
        axes.set_xlabel("epoch")
        axes.grid(True, alpha=0.3)
        axes.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _save(figure, path)


def plot_curves(curves, path, title=None, xlabel="epoch", ylabel=None, logy=False) -> str:
    """Draw every curve of ``curves`` (a dict name -> list of numbers, x = 1, 2, ...) on
    one set of axes and write a PNG; ``logy`` uses a logarithmic y axis. Returns ``path``."""
    if not isinstance(curves, dict) or not curves:
        raise ValueError(f"plot_curves: curves must be a non-empty dict of name -> list of numbers, got {curves!r}")
    figure = _figure(6.4, 4.2)
    axes = figure.add_subplot(1, 1, 1)
    for name, values in curves.items():
        values = _values("plot_curves", str(name), values)
        axes.plot(range(1, len(values) + 1), values, label=str(name))
    if logy:
        axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    if ylabel:
        axes.set_ylabel(ylabel)
    if title:
        axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return _save(figure, path)
