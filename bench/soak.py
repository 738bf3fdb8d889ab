"""Soak: train the zoo CNN for a long time and watch for leaks, slow-downs and bad checkpoints.

    python bench/soak.py [--minutes 30] [--checkpoint-every 60] [--backend cpu] [--json soak.json]

The model is ``fastnn.zoo.cnn`` on the 8 x 8 digits bundled with fastnn
(``fastnn.datasets.load_digits``), or on random images of the same shape with ``--data random``,
trained by ``model.fit`` for ``--minutes`` of wall time (the epoch count is open-ended; a
callback ends training when the time is up). Every ``--checkpoint-every`` seconds, between
two steps, the callback

  * saves the whole model (``model.save``: weights, optimizer state, epoch, random state)
    to a new file, then loads it back (``fnn.load_model``, on the same backend) and checks
    that it equals the model at save time: every weight bit for bit, ``model.epoch``, and
    the predictions on a fixed batch of 64 images (inference mode) bit for bit;
  * closes an interval of the table: the steps it ran, their median and 90th-percentile
    step time (the time from ``on_train_batch_begin`` to ``on_train_batch_end``, so the
    checkpoint's own time is left out), the mean batch loss, and the resident set size
    read from ``/proc/self/statm`` (no psutil) at the end of the interval.

At the end every checkpoint file is loaded once more (a file must still load after the
later ones were written), the table is printed, and with ``--json`` everything is
written to that file. The summary compares the last interval with the second one (the
first holds the kernels' compilation and the allocator's warm-up): RSS growth in MB and
the step-time ratio. A steady run has an RSS growth near 0 and a ratio near 1. Each row
also shows the 1-minute load average: on a machine shared with other busy processes the
cpu backend's thread-parallel kernels slow down many times over (FASTNN_NUM_THREADS=1
tells a real slow-down from that).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import fastnn as fnn
from fastnn import zoo

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Resident set size of this process in MB, from /proc/self/statm (its second field, in pages)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def load_data(kind, seed):
    if kind == "digits":   # bundled with fastnn: always there
        (x, y), _ = fnn.datasets.load_digits(flat=False)
        return x, y, "digits"
    rng = np.random.default_rng(seed)
    return rng.random((1437, 1, 8, 8), dtype=np.float32), rng.integers(0, 10, 1437), "random"


def percentile(values, q):
    return float(np.percentile(values, q)) if values else float("nan")


class Soak(fnn.callbacks.Callback):
    """Times the steps, checkpoints on schedule and ends training when the time is up."""

    def __init__(self, seconds, every, folder, probe, backend):
        super().__init__()
        self.seconds, self.every, self.folder = seconds, every, Path(folder)
        self.probe, self.backend = probe, backend
        self.start = self.last = time.perf_counter()
        self.step_start = None
        self.times, self.losses = [], []
        self.steps = 0
        self.intervals, self.checkpoints = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.step_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.times.append(now - self.step_start)
        self.losses.append(float(logs["loss"]))
        self.steps += 1
        done = now - self.start >= self.seconds
        if now - self.last >= self.every or done:
            self.close_interval(now)
            self.last = time.perf_counter()
        if done:
            self.model.stop_training = True

    def close_interval(self, now):
        checkpoint = self.checkpoint(len(self.checkpoints))
        self.checkpoints.append(checkpoint)
        self.intervals.append({
            "interval": len(self.intervals), "elapsed_s": round(now - self.start, 2), "steps": len(self.times),
            "total_steps": self.steps, "epoch": self.model.epoch,
            "step_ms_median": round(1e3 * statistics.median(self.times), 3),
            "step_ms_p90": round(1e3 * percentile(self.times, 90), 3),
            "loss_mean": round(float(np.mean(self.losses)), 5),
            "rss_mb": round(rss_mb(), 1),
            "load_average": round(os.getloadavg()[0], 2),   # other processes slow thread-parallel kernels
            "checkpoint_ok": checkpoint["loads"] and checkpoint["equal"],
        })
        self.times, self.losses = [], []

    def checkpoint(self, index):
        """Save, load back, compare with the model as it was when saved."""
        model = self.model
        path = self.folder / f"soak_{index:04d}.fnn"
        expected = digest(model, self.probe)
        began = time.perf_counter()
        model.save(path)
        saved = time.perf_counter()
        record = {"index": index, "file": str(path), "bytes": path.stat().st_size, "epoch": model.epoch,
                  "save_ms": round(1e3 * (saved - began), 2), "digest": expected}
        record.update(verify(path, expected, self.probe, self.backend))
        record["load_ms"] = round(1e3 * (time.perf_counter() - saved), 2)
        return record


def digest(model, probe) -> str:
    """A fingerprint of what a checkpoint must restore: every weight's bytes (batch-norm
    statistics included), ``model.epoch`` and the predictions on ``probe`` in inference
    mode. A hash, so that keeping one per checkpoint costs no memory the RSS would show."""
    h = hashlib.sha256(str(model.epoch).encode())
    for w in model.get_weights():
        h.update(str((w.shape, w.dtype.str)).encode())
        h.update(np.ascontiguousarray(w).tobytes())
    h.update(np.ascontiguousarray(model.predict(probe, batch_size=len(probe))).tobytes())
    return h.hexdigest()


def verify(path, expected, probe, backend) -> dict:
    """Whether ``path`` loads and equals the saved model (``digest``), with fastnn's random
    state left as it was (load_model restores the saved one, the same here anyway)."""
    state = fnn.get_rng_state()
    try:
        loaded = fnn.load_model(path, backend=backend)
        return {"loads": True, "equal": digest(loaded, probe) == expected}
    except Exception as error:   # a soak records a bad checkpoint and goes on
        return {"loads": False, "equal": False, "error": f"{type(error).__name__}: {error}"}
    finally:
        fnn.set_rng_state(state)


def table(intervals) -> str:
    header = (f"{'#':>3} {'time s':>8} {'steps':>7} {'epoch':>6} {'median ms':>10} {'p90 ms':>8} "
              f"{'loss':>8} {'RSS MB':>8} {'load':>5} {'checkpoint':>10}")
    lines = [header, "-" * len(header)]
    for row in intervals:
        lines.append(f"{row['interval']:>3} {row['elapsed_s']:>8.1f} {row['steps']:>7} {row['epoch']:>6} "
                     f"{row['step_ms_median']:>10.3f} {row['step_ms_p90']:>8.3f} {row['loss_mean']:>8.4f} "
                     f"{row['rss_mb']:>8.1f} {row['load_average']:>5.2f} {'ok' if row['checkpoint_ok'] else 'BAD':>10}")
    return "\n".join(lines)


def summarize(intervals, checkpoints, final_checks, rss_start) -> dict:
    base = intervals[1] if len(intervals) > 2 else intervals[0]   # the first holds compilation and warm-up
    last = intervals[-1]
    return {
        "intervals": len(intervals), "steps": last["total_steps"], "epochs": last["epoch"],
        "rss_start_mb": round(rss_start, 1), "rss_base_mb": base["rss_mb"], "rss_end_mb": last["rss_mb"],
        "rss_growth_mb": round(last["rss_mb"] - base["rss_mb"], 1),
        "step_ms_base": base["step_ms_median"], "step_ms_end": last["step_ms_median"],
        "step_time_ratio": round(last["step_ms_median"] / base["step_ms_median"], 3),
        "checkpoints": len(checkpoints),
        "checkpoints_ok_when_saved": sum(c["loads"] and c["equal"] for c in checkpoints),
        "checkpoints_ok_at_end": sum(c["loads"] and c["equal"] for c in final_checks),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="wall time of training (default 30)")
    parser.add_argument("--checkpoint-every", type=float, default=60.0, help="seconds between checkpoints (60)")
    parser.add_argument("--backend", default=None, help="numpy, cpu or gpu (default: cpu where available)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data", choices=["digits", "random"], default="digits")
    parser.add_argument("--dir", default=None, help="where checkpoints go (default: a temporary folder, removed)")
    parser.add_argument("--json", default=None, help="write the intervals, checkpoints and summary here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.checkpoint_every <= 0:
        parser.error("--minutes and --checkpoint-every must be positive")

    backend = args.backend or ("cpu" if "cpu" in fnn.backend.available_backends() else "numpy")
    fnn.manual_seed(args.seed)
    x, y, data_name = load_data(args.data, args.seed)
    model = zoo.cnn(x.shape[1:], 10, backend=backend)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    probe = x[:64]
    rss_start = rss_mb()
    threads = fnn.runtime.get_num_threads()
    print(f"soak: zoo.cnn on {data_name} {x.shape}, backend {backend} ({threads} threads, {os.cpu_count()} cores), "
          f"batch {args.batch_size}, {args.minutes:g} min, a checkpoint every {args.checkpoint_every:g} s; "
          f"RSS {rss_start:.1f} MB")

    temporary = tempfile.TemporaryDirectory(prefix="fastnn-soak-") if args.dir is None else None
    folder = Path(args.dir or temporary.name)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        soak = Soak(60.0 * args.minutes, args.checkpoint_every, folder, probe, backend)
        model.fit(x, y, batch_size=args.batch_size, epochs=10**9, verbose=0, callbacks=[soak])
        # Every file once more: the later saves must not have spoiled an earlier one.
        final_checks = [{"index": c["index"], **verify(c["file"], c["digest"], probe, backend)}
                        for c in soak.checkpoints]
        summary = summarize(soak.intervals, soak.checkpoints, final_checks, rss_start)
    finally:
        if temporary is not None:
            temporary.cleanup()

    print(table(soak.intervals))
    print("checkpoints: " + ", ".join(
        f"#{c['index']} {c['bytes'] // 1024} KiB save {c['save_ms']:.0f} ms load+check {c['load_ms']:.0f} ms "
        f"{'ok' if c['loads'] and c['equal'] else 'BAD'}" for c in soak.checkpoints))
    print("summary: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    if args.json:
        payload = {"config": {**vars(args), "backend": backend, "data": data_name, "model": "zoo.cnn",
                              "x_shape": list(x.shape), "fastnn": fnn.__version__, "threads": threads,
                              "cores": os.cpu_count()},
                   "intervals": soak.intervals, "checkpoints": soak.checkpoints, "final_checks": final_checks,
                   "summary": summary}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    ok = summary["checkpoints_ok_when_saved"] == summary["checkpoints"] == summary["checkpoints_ok_at_end"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
