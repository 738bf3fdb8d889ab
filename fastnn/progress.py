"""Progress display of ``fit`` / ``evaluate`` / ``predict``.

verbose=0  nothing.
verbose=1  one tqdm bar per epoch with the running loss and metrics as its postfix, when
           the output is a terminal (tqdm's ``disable=None``: nothing when it is piped
           to a file); when the bar closes, the epoch's summary line is written in its place.
verbose=2  one line per epoch, terminal or not:
           ``Epoch 3/10 - 0.40s - loss: 0.1234 - accuracy: 0.9700 - val_loss: 0.1500 ...``

The postfix is computed only when tqdm is about to redraw (at most every
``mininterval`` seconds), so a live bar costs no device synchronisation per batch.
Output goes to ``sys.stdout`` as it is when the display starts (Keras prints there too).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from . import arguments


def _format_value(value) -> str:
    if isinstance(value, float) or hasattr(value, "__float__"):
        value = float(value)
        return f"{value:.4e}" if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5) else f"{value:.4f}"
    return str(value)


def format_logs(logs: dict) -> str:
    """``loss: 0.1234 - accuracy: 0.9700`` (lr in scientific notation when small)."""
    return " - ".join(f"{key}: {_format_value(value)}" for key, value in logs.items())


def epoch_line(epoch: int, epochs: int, seconds: float, logs: dict) -> str:
    """``Epoch 3/10 - 0.40s - loss: ...``; ``epoch`` counts from 0 (printed from 1)."""
    text = f"Epoch {epoch + 1}/{epochs} - {seconds:.2f}s" if seconds < 10 else f"Epoch {epoch + 1}/{epochs} - {seconds:.1f}s"
    return f"{text} - {format_logs(logs)}" if logs else text


def check_verbose(verbose, caller="Progress") -> int:
    """0, 1 or 2 (True / False as 1 / 0, and Keras' "auto" as 1); otherwise a TypeError
    (another kind) or a ValueError (another int or name) that names ``caller``."""
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    if isinstance(verbose, str) and verbose == "auto":
        return 1
    if arguments.is_int(verbose) and verbose in (0, 1, 2):
        return int(verbose)
    error = ValueError if arguments.is_int(verbose) or isinstance(verbose, str) else TypeError
    raise error(f"{caller}: verbose must be 0 (silent), 1 (progress bar), 2 (one line per epoch) or 'auto', "
                f"got {verbose!r}")


class Progress:
    """The display of one ``fit`` (or one pass of ``evaluate`` / ``predict``)."""

    def __init__(self, verbose: int, epochs: int = 1, steps: int | None = None, file=None, unit="batch"):
        self.verbose = check_verbose(verbose)
        self.epochs = epochs
        self.steps = steps
        self.file = file if file is not None else sys.stdout
        self.unit = unit
        self.bar = None
        self._next_postfix = 0.0
        self._started = 0.0

    def epoch_begin(self, epoch: int, desc=None) -> None:
        self._started = time.perf_counter()
        if self.verbose != 1:
            return
        from tqdm import tqdm

        self.bar = tqdm(total=self.steps, desc=desc or f"Epoch {epoch + 1}/{self.epochs}", unit=self.unit,
                        file=self.file, disable=None, leave=False, dynamic_ncols=True)
        if self.bar.disable:
            self.bar = None
        else:
            self._next_postfix = time.monotonic()

    def batch_end(self, logs_fn=None) -> None:
        """One batch done; ``logs_fn()`` gives the running logs, called only when the bar redraws."""
        bar = self.bar
        if bar is None:
            return
        now = time.monotonic()
        if logs_fn is not None and now >= self._next_postfix:
            self._next_postfix = now + bar.mininterval
            bar.set_postfix_str(format_logs(logs_fn()), refresh=False)
        bar.update(1)

    def epoch_end(self, epoch: int, logs: dict) -> None:
        """Close the bar and write the summary line (verbose=1 on a terminal, or verbose=2)."""
        seconds = time.perf_counter() - self._started
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            self.write(epoch_line(epoch, self.epochs, seconds, logs))
        elif self.verbose == 2:
            self.write(epoch_line(epoch, self.epochs, seconds, logs))

    def result(self, logs: dict) -> None:
        """Close the bar of an evaluation and write its result line (when a bar was shown, or verbose=2)."""
        shown = self.bar is not None
        self.close()
        if shown or self.verbose == 2:
            self.write(format_logs(logs))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def write(self, text: str) -> None:
        print(text, file=self.file, flush=True)


__all__ = ["Progress", "format_logs", "epoch_line", "check_verbose"]
