"""fastnn.datasets: shapes, dtypes, ranges, reproducible splits, file formats and errors.

Offline only: every test runs with FASTNN_OFFLINE=1, HOME/XDG_CACHE_HOME/KERAS_HOME in a
temporary folder, Debian's folder pointed elsewhere and ``urllib.request.urlopen``
replaced by a function that fails the test; the download tests serve bytes from memory.
MNIST-format data are tiny IDX/npz files written here; digits and diabetes are the
archives bundled in fastnn/datasets/data (compared with scikit-learn's where it is installed).
"""

import dataclasses
import gzip
import hashlib
import io
import struct
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest

import fastnn as fnn
from fastnn import datasets
from fastnn.datasets import boston as boston_module
from fastnn.datasets import mnist as mnist_module
from fastnn.datasets.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from fastnn.datasets.sources import RemoteFile

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def no_network(*args, **kwargs):
    raise AssertionError(f"the network was used: urlopen{args}")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No network, no user folders, no system dataset folders."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("KERAS_HOME", str(home / ".keras"))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    monkeypatch.setenv("FASTNN_OFFLINE", "1")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", dataclasses.replace(
        mnist_module.FASHION_MNIST, system_folders=(tmp_path / "usr-share-datasets-fashion-mnist",)))
    monkeypatch.setattr(boston_module, "PACKAGED_COPIES", ())


# ---------------------------------------------------------------- helpers writing files

def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array, written from the format description, not the reader."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def tiny_mnist(n_train=5, n_test=3, seed=0):
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8)
    x_train[0, 0, 0], x_train[0, 0, 1] = 0, 255  # the extremes of the scale
    y_train = np.arange(n_train, dtype=np.uint8) % 10
    y_test = (np.arange(n_test, dtype=np.uint8) + 7) % 10
    return x_train, y_train, x_test, y_test


def write_idx_set(folder, arrays, gz=True, dotted=False):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, array in zip(FILES, arrays):
        if dotted:
            name = name.replace("-idx", ".idx")
        data = idx_bytes(array)
        path = folder / (name + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data) if gz else data)
        paths.append(path)
    return paths


def assert_matches(loaded, arrays, flat=False):
    (x_train, y_train), (x_test, y_test) = loaded
    raw_x_train, raw_y_train, raw_x_test, raw_y_test = arrays
    for x, raw in ((x_train, raw_x_train), (x_test, raw_x_test)):
        assert x.dtype == np.float32
        assert x.shape == ((len(raw), 784) if flat else (len(raw), 1, 28, 28))
        np.testing.assert_allclose(x.reshape(raw.shape) * 255.0, raw, atol=1e-4)
        assert 0.0 <= x.min() and x.max() <= 1.0
    for y, raw in ((y_train, raw_y_train), (y_test, raw_y_test)):
        assert y.dtype == np.int64 and y.shape == raw.shape
        np.testing.assert_array_equal(y, raw)


# ---------------------------------------------------------------- digits, diabetes, xor, split

def test_digits_shapes_dtypes_ranges_and_content():
    (x_train, y_train), (x_test, y_test) = datasets.load_digits()
    assert x_train.shape == (1437, 64) and x_test.shape == (360, 64)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64 and y_test.shape == (360,)
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    # pixels are counts of 16 bitmap pixels, so every value is k / 16 for a whole k
    together = np.concatenate([x_train, x_test]) * 16
    np.testing.assert_array_equal(together, np.round(together))
    assert set(np.unique(y_train)) == set(range(10)) and set(np.unique(y_test)) <= set(range(10))


def test_bundled_tables_are_scikit_learns_bit_for_bit():
    """The loaders give exactly what they gave when they read scikit-learn's copies: the
    same arrays, dtypes and bytes, split by the same permutation."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets", reason="the reference copies ship with scikit-learn")
    digits, diabetes = sklearn_datasets.load_digits(), sklearn_datasets.load_diabetes()
    for flat in (True, False):
        pixels = (digits.data / 16.0).astype(np.float32)
        expected = datasets.train_test_split(pixels if flat else pixels.reshape(-1, 1, 8, 8),
                                             digits.target.astype(np.int64), 0.2, 3)
        assert_same_parts(datasets.load_digits(flat=flat, seed=3), expected)
    expected = datasets.train_test_split(diabetes.data.astype(np.float32), diabetes.target.astype(np.float32),
                                         0.25, 1)
    assert_same_parts(datasets.load_diabetes(test_size=0.25, seed=1), expected)


def assert_same_parts(loaded, expected):
    for got, want in zip(loaded[0] + loaded[1], expected[0] + expected[1]):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()


def test_digits_and_diabetes_load_without_scikit_learn(tmp_path):
    """A bare install has no scikit-learn: the bundled archives are all the loaders read."""
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import fastnn as fnn\n"
            "(x, y), (xt, yt) = fnn.datasets.load_digits(flat=False)\n"
            "(d, t), (dt, tt) = fnn.datasets.load_diabetes(standardize=True)\n"
            "print(x.shape, xt.shape, int(y.max()), d.shape, dt.shape, int(t.min()), int(t.max()))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(1437,", "1,", "8,", "8)", "(360,", "1,", "8,", "8)", "9",
                                   "(353,", "10)", "(89,", "10)", "25", "346"]


def test_digits_images_are_the_flat_rows_reshaped():
    (flat, y_flat), _ = datasets.load_digits()
    (images, y_images), _ = datasets.load_digits(flat=False)
    assert images.shape == (1437, 1, 8, 8)
    np.testing.assert_array_equal(images.reshape(1437, 64), flat)
    np.testing.assert_array_equal(y_images, y_flat)


def test_split_is_reproducible_and_seed_dependent():
    first = datasets.load_digits(seed=3)
    again = datasets.load_digits(seed=3)
    other = datasets.load_digits(seed=4)
    for a, b in zip(first[0] + first[1], again[0] + again[1]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1][0], other[1][0])


def test_split_ignores_and_keeps_the_global_random_stream():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    state = fnn.get_rng_state()
    try:
        fnn.manual_seed(1)
        (_, a_train), (_, a_test) = datasets.train_test_split(x, y, 0.3, seed=5)
        after = fnn.get_rng_state()
        fnn.manual_seed(2)
        (_, b_train), (_, b_test) = datasets.train_test_split(x, y, 0.3, seed=5)
        assert after == {"seed": 1, "offset": 0}
    finally:
        fnn.set_rng_state(state)
    np.testing.assert_array_equal(a_test, b_test)
    assert len(a_test) == 3 and len(a_train) == 7
    assert sorted(np.concatenate([a_train, a_test])) == list(range(10))


@pytest.mark.parametrize("test_size, n_test", [(0.0, 0), (0.25, 3), (0.5, 5), (4, 4)])
def test_split_sizes(test_size, n_test):
    x = np.zeros((10, 3), dtype=np.float32)
    (x_train, y_train), (x_test, y_test) = datasets.train_test_split(x, np.arange(10), test_size)
    assert len(x_test) == len(y_test) == n_test and len(x_train) == len(y_train) == 10 - n_test


@pytest.mark.parametrize("test_size, error", [(1.0, ValueError), (-0.1, ValueError), (10, ValueError),
                                              ("0.2", TypeError), (True, TypeError)])
def test_split_rejects_bad_test_size(test_size, error):
    with pytest.raises(error, match="test_size"):
        datasets.train_test_split(np.zeros((10, 2)), np.zeros(10), test_size)


def test_split_rejects_length_mismatch():
    with pytest.raises(ValueError, match="same length"):
        datasets.train_test_split(np.zeros((10, 2)), np.zeros(9))


def test_diabetes_shapes_and_target():
    (x_train, y_train), (x_test, y_test) = datasets.load_diabetes()
    assert x_train.shape == (353, 10) and x_test.shape == (89, 10)
    assert x_train.dtype == y_train.dtype == np.float32 and y_test.shape == (89,)
    y = np.concatenate([y_train, y_test])
    assert y.min() == 25.0 and y.max() == 346.0
    # scikit-learn's scaling: every column has unit norm over all rows
    x = np.concatenate([x_train, x_test])
    np.testing.assert_allclose((x.astype(np.float64) ** 2).sum(axis=0), 1.0, rtol=1e-4)


def test_diabetes_standardize_uses_training_statistics():
    (raw_train, y_raw), (raw_test, _) = datasets.load_diabetes()
    (x_train, y_train), (x_test, _) = datasets.load_diabetes(standardize=True)
    np.testing.assert_array_equal(y_train, y_raw)
    np.testing.assert_allclose(x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x_train.std(axis=0), 1.0, rtol=1e-4)
    mean, std = raw_train.mean(axis=0), raw_train.std(axis=0)
    np.testing.assert_allclose(x_test, (raw_test - mean) / std, rtol=1e-4, atol=1e-5)
    assert x_test.dtype == np.float32


def test_xor_truth_table():
    x, y = datasets.xor()
    np.testing.assert_array_equal(x, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])
    assert x.dtype == np.float32 and y.dtype == np.int64


def test_xor_noisy_samples_are_reproducible_and_near_their_corner():
    x, y = datasets.xor(n=400, noise=0.1, seed=7)
    again, _ = datasets.xor(n=400, noise=0.1, seed=7)
    other, _ = datasets.xor(n=400, noise=0.1, seed=8)
    np.testing.assert_array_equal(x, again)
    assert not np.array_equal(x, other)
    corners = np.round(x)  # noise 0.1 stays well inside the half-way line
    np.testing.assert_array_equal(y, np.logical_xor(corners[:, 0], corners[:, 1]))
    assert 0.08 < np.std(x - np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 100)) < 0.12


def test_xor_as_float_targets_suit_one_sigmoid_output():
    x, y = datasets.xor(n=6, as_float=True)
    assert y.dtype == np.float32 and y.shape == (6, 1)
    np.testing.assert_array_equal(y[:, 0], [0, 1, 1, 0, 0, 1])


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"noise": -1.0}, {"n": 2.5}])
def test_xor_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        datasets.xor(**kwargs)


# ---------------------------------------------------------------- IDX files

@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, gz):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("a.idx" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(idx_bytes(array)) if gz else idx_bytes(array))
    np.testing.assert_array_equal(read_idx(path, IMAGES_MAGIC), array)


def test_read_idx_big_endian_element_types(tmp_path):
    values = np.array([[1.5, -2.0], [3.25, 1e6]], dtype=">f4")
    path = tmp_path / "floats.idx"
    path.write_bytes(bytes([0, 0, 0x0D, 2]) + struct.pack(">II", 2, 2) + values.tobytes())
    np.testing.assert_array_equal(read_idx(path), values.astype(np.float32))


def test_read_idx_rejects_the_wrong_kind_of_file(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(idx_bytes(np.zeros(5, dtype=np.uint8)))
    with pytest.raises(ValueError, match=r"labels\.idx.*0x00000801.*0x00000803"):
        read_idx(path, IMAGES_MAGIC)


@pytest.mark.parametrize("cut", [1, 100, 790, 797, 800])
def test_read_idx_truncated_file_names_the_file(tmp_path, cut):
    data = idx_bytes(np.zeros((1, 28, 28), dtype=np.uint8))
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(data[:-cut])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*truncated"):
        read_idx(path, IMAGES_MAGIC)


def test_read_idx_trailing_bytes_are_an_error(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros(4, dtype=np.uint8)) + b"\x00\x01")
    with pytest.raises(ValueError, match="labels: 2 bytes after"):
        read_idx(path, LABELS_MAGIC)


def test_read_idx_not_an_idx_file(tmp_path):
    path = tmp_path / "page.html"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(ValueError, match=r"page\.html.*not an IDX file"):
        read_idx(path)


def test_read_idx_cut_gzip_names_the_file(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz.*gzip"):
        read_idx(path)
    path.write_bytes(b"plainly not gzip")
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz.*gzip"):
        read_idx(path)


# ---------------------------------------------------------------- MNIST and Fashion-MNIST

@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("flat", [False, True])
def test_mnist_from_idx_files_in_fastnn_data(tmp_path, monkeypatch, gz, flat):
    arrays = tiny_mnist()
    write_idx_set(tmp_path / "data" / "mnist", arrays, gz=gz)
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "data"))
    loaded = datasets.load_mnist(flat=flat)
    assert_matches(loaded, arrays, flat)
    assert loaded[0][0][0].ravel()[0] == 0.0 and loaded[0][0][0].ravel()[1] == 1.0


def test_mnist_from_idx_files_directly_in_fastnn_data_with_dotted_names(tmp_path, monkeypatch):
    arrays = tiny_mnist(seed=1)
    write_idx_set(tmp_path / "data", arrays, gz=False, dotted=True)
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "data"))
    assert_matches(datasets.load_mnist(), arrays)


def test_mnist_from_keras_npz_given_as_path_or_folder(tmp_path):
    arrays = tiny_mnist(seed=2)
    archive = tmp_path / "mnist.npz"
    np.savez(archive, **dict(zip(("x_train", "y_train", "x_test", "y_test"), arrays)))
    assert_matches(datasets.load_mnist(path=archive), arrays)
    assert_matches(datasets.load_mnist(path=tmp_path, flat=True), arrays, flat=True)


def test_mnist_from_keras_cache(tmp_path):
    arrays = tiny_mnist(seed=3)
    folder = tmp_path / "home" / ".keras" / "datasets"
    folder.mkdir(parents=True)
    np.savez(folder / "mnist.npz", **dict(zip(("x_train", "y_train", "x_test", "y_test"), arrays)))
    assert_matches(datasets.load_mnist(), arrays)


def test_explicit_path_wins_over_fastnn_data(tmp_path, monkeypatch):
    in_data, in_path = tiny_mnist(seed=4), tiny_mnist(seed=5)
    write_idx_set(tmp_path / "data" / "mnist", in_data)
    write_idx_set(tmp_path / "mine", in_path)
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "data"))
    assert_matches(datasets.load_mnist(path=tmp_path / "mine"), in_path)


def test_fashion_mnist_folders(tmp_path, monkeypatch):
    arrays = tiny_mnist(seed=6)
    write_idx_set(tmp_path / "data" / "fashion-mnist", arrays)
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "data"))
    assert_matches(datasets.load_fashion_mnist(), arrays)
    assert len(datasets.FASHION_MNIST_CLASSES) == 10


def test_fashion_mnist_from_the_debian_package_folder(tmp_path):
    arrays = tiny_mnist(seed=7)
    write_idx_set(tmp_path / "usr-share-datasets-fashion-mnist", arrays)
    assert_matches(datasets.load_fashion_mnist(), arrays)


def test_mnist_files_are_not_taken_for_fashion_mnist(tmp_path, monkeypatch):
    write_idx_set(tmp_path / "data" / "mnist", tiny_mnist())
    write_idx_set(tmp_path / "data", tiny_mnist())
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "data"))
    with pytest.raises(datasets.DatasetNotFoundError):
        datasets.load_fashion_mnist()


def test_incomplete_folder_says_what_is_missing(tmp_path, monkeypatch):
    paths = write_idx_set(tmp_path / "data" / "mnist", tiny_mnist())
    paths[3].unlink()
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "data"))
    with pytest.raises(datasets.DatasetNotFoundError, match=r"missing t10k-labels-idx1-ubyte\[\.gz\]"):
        datasets.load_mnist()


@pytest.mark.parametrize("defect, message", [
    ("label_range", r"t10k-labels-idx1-ubyte\.gz: labels must lie in 0\.\.9"),
    ("count", r"train-labels-idx1-ubyte\.gz: 4 labels for the 5 images"),
    ("size", r"train-images-idx3-ubyte\.gz: images must be uint8 of shape \(n, 28, 28\)"),
    ("swapped", r"t10k-images-idx3-ubyte\.gz: magic number 0x00000801, expected 0x00000803"),
])
def test_bad_mnist_content_is_a_value_error_naming_the_file(tmp_path, defect, message):
    x_train, y_train, x_test, y_test = tiny_mnist()
    if defect == "label_range":
        y_test = y_test.copy()
        y_test[1] = 10
    elif defect == "count":
        y_train = y_train[:4]
    elif defect == "size":
        x_train = np.zeros((5, 28, 27), dtype=np.uint8)
    elif defect == "swapped":
        x_test = y_test
    write_idx_set(tmp_path, (x_train, y_train, x_test, y_test))
    with pytest.raises(ValueError, match=message):
        datasets.load_mnist(path=tmp_path)


def test_bad_npz_archives(tmp_path):
    archive = tmp_path / "mnist.npz"
    np.savez(archive, x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match=r"mnist\.npz: missing arrays x_test, y_test"):
        datasets.load_mnist(path=archive)
    archive.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(ValueError, match=r"mnist\.npz: not a readable \.npz"):
        datasets.load_mnist(path=archive)


def test_not_found_offline_says_where_it_looked_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "data"))
    with pytest.raises(datasets.DatasetNotFoundError) as caught:
        datasets.load_mnist()  # download=True by default, but FASTNN_OFFLINE=1 (fixture)
    assert isinstance(caught.value, FileNotFoundError)
    text = str(caught.value)
    assert str(tmp_path / "data" / "mnist") in text and "FASTNN_DATA" in text
    assert "FASTNN_OFFLINE is set" in text
    assert "https://storage.googleapis.com/cvdf-datasets/mnist/" in text
    assert "train-images-idx3-ubyte.gz" in text and "mnist.npz" in text


def test_fashion_not_found_mentions_the_debian_package():
    with pytest.raises(datasets.DatasetNotFoundError) as caught:
        datasets.load_fashion_mnist()
    text = str(caught.value)
    assert "apt install dataset-fashion-mnist" in text and "$FASTNN_DATA (not set)" in text
    assert "fashion-mnist.s3-website.eu-central-1.amazonaws.com" in text


def test_download_false_is_offline_even_without_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("FASTNN_OFFLINE")
    with pytest.raises(datasets.DatasetNotFoundError, match="download=False"):
        datasets.load_mnist(path=tmp_path / "nothing", download=False)


# ---------------------------------------------------------------- downloads (served from memory)

class FakeResponse(io.BytesIO):
    def __exit__(self, *exc):
        self.close()


def serve(monkeypatch, payloads, calls):
    def fake_urlopen(url, timeout=None):
        calls.append((url, timeout))
        if url not in payloads:
            raise urllib.error.URLError("no route to host")
        return FakeResponse(payloads[url])
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)


def served_mnist(monkeypatch, arrays, corrupt=None):
    """Point MNIST's download table at gzipped tiny files; returns {url: bytes}."""
    mirror = "https://mirror.test/mnist/"
    remote, payloads = [], {}
    for name, array in zip(FILES, arrays):
        data = gzip.compress(idx_bytes(array))
        remote.append(RemoteFile(name + ".gz", len(data), hashlib.sha256(data).hexdigest()))
        if name == corrupt:
            data = data[:-1] + bytes([data[-1] ^ 1])  # same size, other bytes
        payloads[mirror + name + ".gz"] = data
    monkeypatch.setattr(mnist_module, "MNIST", dataclasses.replace(
        mnist_module.MNIST, mirrors=(mirror,), files=tuple(remote)))
    return payloads


def test_download_fetches_verifies_and_stores_in_fastnn_data(tmp_path, monkeypatch):
    monkeypatch.delenv("FASTNN_OFFLINE")
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "data"))
    arrays = tiny_mnist(seed=8)
    calls = []
    serve(monkeypatch, served_mnist(monkeypatch, arrays), calls)
    assert_matches(datasets.load_mnist(), arrays)
    assert len(calls) == 4 and all(0 < timeout <= 60 for _, timeout in calls)
    assert sorted(p.name for p in (tmp_path / "data" / "mnist").iterdir()) == sorted(f + ".gz" for f in FILES)
    calls.clear()
    assert_matches(datasets.load_mnist(), arrays)  # the second load reads the stored files
    assert calls == []


def test_download_goes_to_the_cache_when_fastnn_data_is_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("FASTNN_OFFLINE")
    arrays = tiny_mnist(seed=9)
    serve(monkeypatch, served_mnist(monkeypatch, arrays), [])
    assert_matches(datasets.load_mnist(), arrays)
    assert (tmp_path / "home" / ".cache" / "fastnn" / "datasets" / "mnist" / "t10k-labels-idx1-ubyte.gz").is_file()


def test_download_with_a_wrong_checksum_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("FASTNN_OFFLINE")
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "data"))
    serve(monkeypatch, served_mnist(monkeypatch, tiny_mnist(), corrupt="t10k-images-idx3-ubyte"), [])
    with pytest.raises(ValueError, match="SHA-256"):
        datasets.load_mnist()
    stored = sorted(p.name for p in (tmp_path / "data" / "mnist").iterdir())
    assert stored == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


def test_failed_download_is_reported_in_the_not_found_error(tmp_path, monkeypatch):
    monkeypatch.delenv("FASTNN_OFFLINE")
    served_mnist(monkeypatch, tiny_mnist())
    serve(monkeypatch, {}, [])
    with pytest.raises(datasets.DatasetNotFoundError, match="(?s)download failed.*no route to host"):
        datasets.load_mnist(path=tmp_path / "target")
    assert list((tmp_path / "target").iterdir()) == []  # no partial file left behind


def test_offline_variable_beats_download_true(monkeypatch):
    served_mnist(monkeypatch, tiny_mnist())
    with pytest.raises(datasets.DatasetNotFoundError, match="FASTNN_OFFLINE"):
        datasets.load_mnist(download=True)  # urlopen is the failing guard of the fixture


# ---------------------------------------------------------------- Boston housing

COLUMNS = ["CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT", "MEDV"]


def boston_table(n=20):
    """Rows whose 13 features are i + column / 100 and whose MEDV is 10 + i."""
    i = np.arange(n, dtype=np.float64)[:, None]
    return np.hstack([i + np.arange(13) / 100.0, 10.0 + i])


def rows_of(loaded):
    (x_train, y_train), (x_test, y_test) = loaded
    return np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])


def assert_boston(loaded, table):
    (x_train, y_train), (x_test, y_test) = loaded
    assert x_train.dtype == y_train.dtype == np.float32 and x_train.shape[1] == 13
    assert y_train.ndim == 1 and len(y_train) == len(x_train) and len(y_test) == len(x_test)
    x, y = rows_of(loaded)
    order = np.argsort(y)
    np.testing.assert_allclose(x[order], table[:, :13], rtol=1e-6)
    np.testing.assert_allclose(y[order], table[:, 13], rtol=1e-6)


def csv_text(table, header=True, sep=","):
    lines = [sep.join(COLUMNS)] if header else []
    lines += [sep.join(f"{v:g}" for v in row) for row in table]
    return "\n".join(lines) + "\n"


def test_boston_csv_with_header_in_fastnn_data(tmp_path, monkeypatch):
    table = boston_table()
    (tmp_path / "boston.csv").write_text(csv_text(table))
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path))
    loaded = datasets.load_boston()
    assert_boston(loaded, table)
    assert len(loaded[1][0]) == 4 and len(loaded[0][0]) == 16  # ceil(0.2 * 20)


def test_boston_split_is_reproducible(tmp_path):
    path = tmp_path / "housing.csv"
    path.write_text(csv_text(boston_table()))
    a, b = datasets.load_boston(path, seed=1), datasets.load_boston(path, seed=1)
    np.testing.assert_array_equal(a[1][1], b[1][1])
    assert not np.array_equal(a[1][1], datasets.load_boston(path, seed=2)[1][1])


def test_boston_uci_housing_data_without_header(tmp_path):
    table = boston_table(7)
    path = tmp_path / "data" / "boston" / "housing.data"
    path.parent.mkdir(parents=True)
    path.write_text(csv_text(table, header=False, sep="   "))
    assert_boston(datasets.load_boston(path.parent.parent / "boston"), table)


def test_boston_sklearn_layout_with_count_line(tmp_path):
    table = boston_table(9)
    path = tmp_path / "boston_house_prices.csv"
    path.write_text("9,13\n" + csv_text(table))
    assert_boston(datasets.load_boston(path, test_size=0.0), table)
    path.write_text("8,13\n" + csv_text(table))
    with pytest.raises(ValueError, match="announces 8 rows, found 9"):
        datasets.load_boston(path)


def test_boston_index_column_quotes_and_target_by_name(tmp_path):
    table = boston_table(6)
    names = ["medv"] + [c.lower() for c in COLUMNS[:-1]]  # target first, lower case
    lines = [",".join(f'"{n}"' for n in [""] + names)]
    lines += [",".join([f'"{k + 1}"', f"{row[13]:g}"] + [f"{v:g}" for v in row[:13]]) for k, row in enumerate(table)]
    path = tmp_path / "Boston.csv"
    path.write_text("\n".join(lines) + "\n")
    assert_boston(datasets.load_boston(path), table)


def test_boston_keras_npz_and_installed_package(tmp_path, monkeypatch):
    table = boston_table(10)
    keras = tmp_path / "home" / ".keras" / "datasets"
    keras.mkdir(parents=True)
    np.savez(keras / "boston_housing.npz", x=table[:, :13], y=table[:, 13])
    assert_boston(datasets.load_boston(), table)

    # a package shipping the table is located without being imported
    package = tmp_path / "site" / "fake_boston_package"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('imported')\n")
    other = boston_table(5)
    (package / "data" / "boston_house_prices.csv").write_text(csv_text(other))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(boston_module, "PACKAGED_COPIES", (("fake_boston_package", "data/boston_house_prices.csv"),))
    assert_boston(datasets.load_boston(), other)
    assert "fake_boston_package" not in sys.modules


@pytest.mark.parametrize("content, message", [
    (",".join(COLUMNS) + "\n" + ",".join(["1"] * 13) + ",NA\n", r"bad\.csv, line 2: MEDV is 'NA'"),
    ("# comment\n\n" + ",".join(COLUMNS) + "\n" + ",".join(["1"] * 4) + ",,1" * 5 + "\n", r"line 4: NOX is ''"),
    ("\n".join([" ".join(["1"] * 13)] * 3) + "\n", "14 columns"),
    (",".join(COLUMNS) + "\n" + ",".join(["1"] * 14) + "\n" + ",".join(["1"] * 13) + "\n",
     "line 3: 13 columns"),
    (",".join(COLUMNS) + "\n", "no data rows"),
    (",".join(COLUMNS) + "\n" + ",".join(["1"] * 13) + ",inf\n", "not a finite number"),
])
def test_boston_malformed_tables(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        datasets.load_boston(path)


def test_boston_not_found_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path))
    with pytest.raises(datasets.DatasetNotFoundError) as caught:
        datasets.load_boston()
    text = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    assert "FASTNN_DATA" in text and "boston.csv" in text and str(tmp_path) in text
    assert "data_id=531" in text and "lib.stat.cmu.edu" in text


def test_boston_missing_explicit_path(tmp_path):
    with pytest.raises(datasets.DatasetNotFoundError, match="does not exist"):
        datasets.load_boston(tmp_path / "nope.csv")
