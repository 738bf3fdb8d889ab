"""The curriculum as a whole: every lesson in examples/ has its test, shares the command
line (--backend, --quick, --out, --seed), is listed in the README, and runs as a script file;
and the quick-start job, train_digits.py, which shares that command line too."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastnn as fnn
from example_scripts import EXAMPLES, QUICK_START, load, lesson_names, run_quick

ROOT = EXAMPLES.parent
TESTS = Path(__file__).resolve().parent

# the lessons the course teaches, in its order (issue 6); a new lesson is added here and to the README
CURRICULUM = [
    "tensors", "perceptron", "xor_mlp", "backprop_by_hand", "sigmoid_vs_relu", "weight_init", "batch_norm",
    "dropout", "softmax_crossentropy", "regression", "optimizers", "regularization", "ensemble", "cnn",
    "resnet", "rnn", "gan", "recommender", "summarization", "tensorboard_and_graph",
]


def test_every_lesson_of_the_curriculum_is_a_script():
    assert sorted(CURRICULUM) == lesson_names()


@pytest.mark.parametrize("name", CURRICULUM)
def test_every_lesson_has_its_own_test_file(name):
    test_file = TESTS / f"test_example_{name}.py"
    assert test_file.exists(), f"{name}.py has no {test_file.name}"
    assert f'run_quick("{name}"' in test_file.read_text(), f"{test_file.name} does not run {name}.py"


@pytest.mark.parametrize("name", CURRICULUM + [QUICK_START])
def test_every_lesson_shares_the_command_line(name, capsys):
    module = load(name)
    with pytest.raises(SystemExit) as stopped:
        module.main(["--help"])
    assert stopped.value.code == 0
    shown = capsys.readouterr().out
    for option in ("--backend", "--quick", "--out", "--seed"):
        assert option in shown
    assert module.__doc__.strip(), f"{name}.py needs a docstring that teaches the lesson"


def test_readme_lists_every_lesson_in_course_order():
    readme = (ROOT / "README.md").read_text()
    listed = re.findall(r"^\| \[`(\w+)\.py`\]\(examples/\1\.py\) \|", readme, flags=re.MULTILINE)
    assert listed == CURRICULUM


def test_a_lesson_runs_as_a_script_file(tmp_path):
    """``python examples/<name>.py`` works from any folder (the scripts find ``lesson.py`` beside them)."""
    done = subprocess.run([sys.executable, str(EXAMPLES / "perceptron.py"), "--quick", "--backend", "numpy",
                           "--out", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "seconds" in done.stdout
    assert list(tmp_path.glob("*.png"))


def test_the_quick_start_job_learns_digits_and_leaves_its_model_and_curves(tmp_path):
    """``python examples/train_digits.py --quick``: the hand-written loop learns, and the saved
    model scores on the test digits what the script printed."""
    results = run_quick(QUICK_START, "numpy", tmp_path)
    assert results["epochs"] == 8 and (results["train_size"], results["test_size"]) == (1437, 360)
    assert results["test_accuracy"] >= 0.93   # ten classes: chance is 0.1
    assert results["final_loss"] < results["first_epoch_loss"] / 5
    assert (tmp_path / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = fnn.load_model(tmp_path / "digits_mlp.safetensors", backend="numpy")
    _, (x_test, y_test) = fnn.datasets.load_digits()
    predicted = np.asarray(model.predict(x_test)).argmax(axis=1)
    assert float((predicted == y_test).mean()) == pytest.approx(results["test_accuracy"], abs=1e-9)
