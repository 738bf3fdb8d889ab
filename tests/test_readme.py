"""The README's Python examples run as written and do what they say."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_examples_run_and_learn(capsys):
    blocks = _python_blocks()
    assert len(blocks) >= 2
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "[0 1 1 0]"  # the XOR model's predictions, as the comment in the README says
    assert "(2, 8, 5, 5)" in printed and "Total params: 1,168" in printed  # the residual block
    assert namespace["accuracy"] >= 0.95 and "test accuracy:" in printed[-1]  # the Keras-style training block
    np.testing.assert_allclose(namespace["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
    assert namespace["restored"].backend == "numpy"
    f_value, grads = namespace["f"].item(), namespace["w"].grad.numpy()
    sigma = 1 / (1 + np.exp(-1.0))  # w . x = 2*(-1) + (-3)*(-2) + (-3)*1 = 1
    np.testing.assert_allclose(f_value, sigma, rtol=1e-6)
    np.testing.assert_allclose(grads, sigma * (1 - sigma) * np.array([-1.0, -2.0, 1.0]), rtol=1e-5)


def test_readme_test_command_is_what_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text()
    command = 'pip install -e ".[test]" && python -m pytest'
    assert command in README.read_text() and command in ci
