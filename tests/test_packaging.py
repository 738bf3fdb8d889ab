"""Packaging and import hygiene: fastnn.kernels comes from the top-level kernels/
folder, and importing fastnn loads neither numba nor cupy."""

import pathlib
import subprocess
import sys

import fastnn
import fastnn.kernels


def test_kernels_package_is_the_top_level_kernels_folder():
    here = pathlib.Path(fastnn.kernels.__file__).resolve().parent
    assert here.name == "kernels"
    assert (here / "contract.py").exists() and (here / "reference").is_dir()


def test_import_loads_neither_numba_nor_cupy():
    code = ("import sys, fastnn, fastnn.functional, fastnn.layers, fastnn.optim; "
            "print(sorted(m for m in ('numba', 'cupy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_public_names_of_the_api_contract_exist():
    import fastnn.functional as F

    for name in ("set_backend", "get_backend", "use_backend", "available_backends", "manual_seed", "tensor",
                 "no_grad", "Sequential", "Model", "init", "optim", "layers", "testing"):
        assert hasattr(fastnn, name), name
    for name in ("linear", "relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "softplus", "step", "softmax",
                 "log_softmax", "conv2d", "max_pool2d", "avg_pool2d", "batch_norm", "dropout",
                 "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "mse"):
        assert callable(getattr(F, name)), name
    for name in ("Input", "Dense", "Conv2D", "MaxPooling2D", "AveragePooling2D", "Flatten", "Activation", "Dropout",
                 "BatchNormalization", "Embedding", "SimpleRNN", "LSTM", "GRU", "Add"):
        assert hasattr(fastnn.layers, name), name
    for name in ("zeros", "ones", "normal", "uniform", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
                 "xavier_normal", "xavier_uniform", "kaiming_normal", "kaiming_uniform"):
        assert callable(getattr(fastnn.init, name)), name
    for name in ("SGD", "RMSprop", "Adam", "AdamW"):
        assert hasattr(fastnn.optim, name), name


def test_every_package_folder_is_listed_for_installation():
    # A subpackage missing from pyproject's list imports in an editable install and fails
    # in a built wheel, where its files are simply absent.
    import tomllib

    root = pathlib.Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for folder, package in (("fastnn", ("fastnn",)), ("kernels", ("fastnn", "kernels"))):
        found |= {".".join(package + p.parent.relative_to(root / folder).parts)
                  for p in (root / folder).rglob("__init__.py")}
    assert found == listed


def test_the_licence_metadata_names_the_code_and_the_bundled_data():
    """The installed distribution states fastnn's licence and the bundled data's as one SPDX
    expression and ships both texts (PEP 639; setuptools refuses the old table form from
    2027). An install made before pyproject.toml changed fails here: install again."""
    import importlib.metadata

    root = pathlib.Path(fastnn.__file__).resolve().parent.parent
    assert "MIT License" in (root / "LICENSE").read_text()
    meta = importlib.metadata.metadata("fastnn")
    assert meta["License-Expression"] == "MIT AND BSD-3-Clause AND CC-BY-4.0"
    files = meta.get_all("License-File") or []
    assert "LICENSE" in files
    assert any(name.endswith("LICENSE-digits-diabetes.txt") for name in files)
