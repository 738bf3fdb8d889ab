"""PNG curves: files are real PNG images with the expected panels and curves."""

import numpy as np
import pytest

from fastnn import callbacks as cb

pytest.importorskip("matplotlib")

from fastnn import plot  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _history(epochs=5):
    history = cb.History()
    history.on_train_begin()
    for e in range(epochs):
        history.on_epoch_end(e, {"loss": 1.0 / (e + 1), "accuracy": 0.5 + 0.1 * e,
                                 "val_loss": 1.2 / (e + 1), "val_accuracy": 0.45 + 0.1 * e, "lr": 0.01})
    return history


def _image(path):
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000
    return matplotlib.image.imread(str(path))


# A drawn curve covers several hundred pixels of its colour; a legend entry alone about 70,
# so "> 300 pixels" means the curve itself is there.
def _is_colour(pixels, rgb, tolerance=0.08):
    return np.all(np.abs(pixels[..., :3] - np.asarray(rgb)) < tolerance, axis=-1)


TRAIN_BLUE = (0x1f / 255, 0x77 / 255, 0xb4 / 255)    # matplotlib's first default colour (C0)
VAL_ORANGE = (0xff / 255, 0x7f / 255, 0x0e / 255)    # second (C1)


def test_history_plot_writes_a_png_with_train_and_validation_curves(tmp_path):
    path = tmp_path / "out" / "curves.png"
    returned = _history().plot(str(path), title="run")
    assert returned == str(path)
    image = _image(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    # default: two panels (loss, accuracy; the lr is left out) side by side, 4.8 x 3.6 inches each at 100 dpi
    assert image.shape[:2] == (360, 960)
    left, right = image[:, :480], image[:, 480:]
    for panel in (left, right):
        assert _is_colour(panel, TRAIN_BLUE).sum() > 300, "no training curve"
        assert _is_colour(panel, VAL_ORANGE).sum() > 300, "no validation curve"


def test_plot_history_from_a_dict_with_chosen_keys(tmp_path):
    data = {"loss": [3.0, 2.0, 1.5], "val_loss": [3.5, 2.5, 2.0], "mae": [1.0, 0.8, 0.7], "lr": [0.1, 0.1, 0.01]}
    path = plot.plot_history(data, tmp_path / "loss.png", keys=["val_loss", "lr"])
    image = _image(tmp_path / "loss.png")
    assert path == str(tmp_path / "loss.png") and image.shape[:2] == (360, 960)
    # the lr panel has only a training curve
    assert _is_colour(image[:, 480:], TRAIN_BLUE).sum() > 300
    assert _is_colour(image[:, 480:], VAL_ORANGE).sum() == 0
    assert _is_colour(image[:, :480], VAL_ORANGE).sum() > 300


def test_plot_history_lays_out_many_metrics_in_rows(tmp_path):
    data = {k: [1.0, 2.0] for k in ("loss", "a", "b", "c")}
    plot.plot_history(data, tmp_path / "grid.png")
    assert _image(tmp_path / "grid.png").shape[:2] == (720, 1440)  # 3 columns, 2 rows


def test_plot_curves_draws_every_curve(tmp_path):
    path = plot.plot_curves({"lr": [0.1, 0.05, 0.025], "other": [0.2, 0.1, 0.3]}, tmp_path / "lr.png",
                            ylabel="learning rate", logy=True)
    image = _image(tmp_path / "lr.png")
    assert path.endswith("lr.png") and image.shape[:2] == (420, 640)
    assert _is_colour(image, TRAIN_BLUE).sum() > 300 and _is_colour(image, VAL_ORANGE).sum() > 300


@pytest.mark.parametrize("call,error,match", [
    (lambda p: plot.plot_history({"loss": [1.0]}, p, keys=["accuracy"]), ValueError, "no curve for accuracy"),
    (lambda p: plot.plot_history({}, p), ValueError, "nothing to plot"),
    (lambda p: plot.plot_history([1, 2], p), TypeError, "expected a History or a dict"),
    (lambda p: plot.plot_history({"loss": [1.0, "x"]}, p), TypeError, r"loss\[1\] must be a number"),
    (lambda p: plot.plot_curves({}, p), ValueError, "non-empty dict"),
])
def test_bad_input_is_refused(tmp_path, call, error, match):
    with pytest.raises(error, match=match):
        call(tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_missing_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r'pip install "fastnn\[plot\]"'):
        plot.plot_curves({"a": [1.0]}, tmp_path / "a.png")


def test_pyplot_state_is_left_alone(tmp_path):
    import matplotlib

    backend = matplotlib.get_backend()
    _history().plot(tmp_path / "h.png")
    assert matplotlib.get_backend() == backend
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []
