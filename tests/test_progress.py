"""Progress display of fit: a live tqdm bar with loss and metrics in a terminal (a
pseudo-terminal here), silence in a pipe, one line per epoch with verbose=2, nothing
with verbose=0."""

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastnn as fnn
from fastnn.layers import Dense, Input
from fastnn.progress import epoch_line, format_logs

SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    import fastnn as fnn
    from fastnn.layers import Dense, Input

    verbose = int(sys.argv[1])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = fnn.Sequential([Input((4,)), Dense(8, activation="relu"), Dense(2)], backend="numpy")
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])

    class Slow(fnn.callbacks.Callback):  # slow enough batches for the bar to redraw
        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.06)

    model.fit(x, y, epochs=2, batch_size=10, verbose=verbose, callbacks=[Slow()], validation_split=0.0)
    model.evaluate(x, y, verbose=verbose)
    print("done", flush=True)
""")


def run_in_terminal(verbose):
    """Run SCRIPT with stdout and stderr on a pseudo-terminal 100 columns wide; its output."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {**os.environ, "COLUMNS": "100"}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(verbose)], stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=120) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


def run_in_pipe(verbose):
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(verbose)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout, out.stderr


pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


def test_terminal_shows_a_live_bar_with_loss_and_metrics_then_the_epoch_summary():
    out = run_in_terminal(1)
    # the bar: description, a count of batches, the running loss and accuracy as its postfix
    assert re.search(r"Epoch 1/2:\s+\d+%\|.*\| \d/6 \[.*batch/s, loss: \d\.\d{4} - accuracy: \d\.\d{4}\]", out), out
    assert re.search(r"Epoch 2/2:\s+\d+%\|", out), out
    # one summary line per epoch once its bar closes, and evaluate's result
    lines = [line.strip() for line in re.split(r"[\r\n]+", out)]
    summaries = [line for line in lines if re.fullmatch(r".*Epoch \d/2 - \d+\.\d+s - loss: \d\.\d{4} - accuracy: "
                                                        r"\d\.\d{4} - lr: 0\.0010", line)]
    assert len(summaries) == 2, out
    assert any(re.fullmatch(r".*loss: \d\.\d{4} - accuracy: \d\.\d{4}", line) for line in lines
               if "Epoch" not in line), out
    assert "done" in out


def test_terminal_is_silent_with_verbose_0():
    out = run_in_terminal(0)
    assert out.strip() == "done"


def test_a_pipe_gets_no_bar():
    stdout, stderr = run_in_pipe(1)
    assert stdout == "done\n"
    assert stderr == ""


def test_verbose_2_prints_one_line_per_epoch_even_in_a_pipe():
    stdout, stderr = run_in_pipe(2)
    lines = stdout.splitlines()
    assert len(lines) == 4 and stderr == "", stdout  # two epochs, evaluate's result, done
    for epoch, line in zip((1, 2), lines):
        assert re.fullmatch(rf"Epoch {epoch}/2 - \d+\.\d+s - loss: \d\.\d{{4}} - accuracy: \d\.\d{{4}} - "
                            r"lr: 0\.0010", line), line
    assert re.fullmatch(r"loss: \d\.\d{4} - accuracy: \d\.\d{4}", lines[2])


def _model():
    model = fnn.Sequential([Input((3,)), Dense(2)], backend="numpy")
    model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    return model


def test_verbose_2_in_process_includes_validation_and_verbose_0_is_silent(capsys):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((30, 3)).astype(np.float32), rng.integers(0, 2, 30)
    model = _model()
    history = model.fit(x, y, epochs=3, verbose=2, validation_split=0.2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for epoch, line in enumerate(lines):
        loss = history.history["val_loss"][epoch]
        assert line.startswith(f"Epoch {epoch + 1}/3 - ") and f"val_loss: {loss:.4f} - val_accuracy: " in line
    model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_line_format():
    assert format_logs({"loss": 0.123456, "accuracy": 0.97, "lr": 1e-4}) == \
        "loss: 0.1235 - accuracy: 0.9700 - lr: 1.0000e-04"
    assert epoch_line(2, 10, 0.4, {"loss": 0.5}) == "Epoch 3/10 - 0.40s - loss: 0.5000"
