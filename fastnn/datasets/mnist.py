"""MNIST and Fashion-MNIST from their standard files.

Both are 28 x 28 grey images in ten classes, 60,000 for training and 10,000 for testing,
distributed as four IDX files (see ``fastnn.datasets.idx``), gzipped or not:

    train-images-idx3-ubyte[.gz]   train-labels-idx1-ubyte[.gz]
    t10k-images-idx3-ubyte[.gz]    t10k-labels-idx1-ubyte[.gz]

(the names with a dot before ``idx``, ``train-images.idx3-ubyte``, are accepted too), or
as one Keras ``.npz`` archive with the arrays ``x_train, y_train, x_test, y_test``
(uint8 images (n, 28, 28) and labels (n,)).

Where they are looked for, first hit wins (a folder must hold all four IDX files or
the archive):

    1. ``path`` when given (a folder, or the ``.npz`` file itself); nothing else is searched
    2. ``$FASTNN_DATA/mnist`` (``$FASTNN_DATA/fashion_mnist`` or ``fashion-mnist``), and for
       MNIST also ``$FASTNN_DATA`` itself
    3. fastnn's download folder, ``~/.cache/fastnn/datasets/<name>`` (``$XDG_CACHE_HOME``)
    4. Keras' downloads: ``~/.keras/datasets/mnist.npz`` and ``~/.keras/datasets/fashion-mnist/``
       (``$KERAS_HOME``)
    5. Fashion-MNIST only: Debian's ``dataset-fashion-mnist`` package
       (``/usr/share/datasets/fashion-mnist/``)
    6. a download of the four gzipped IDX files from the publisher's mirror, verified by
       size and SHA-256, into ``path``, else ``$FASTNN_DATA/<name>``, else the cache folder;
       only with ``download=True`` (the default, as in Keras) and ``FASTNN_OFFLINE`` unset.

A dataset found nowhere raises ``DatasetNotFoundError`` listing where it looked and how
to get it. A damaged file raises ``ValueError`` naming the file. Files found on disk are
checked for structure (magic numbers, shapes, byte counts, label range), not hashed:
only downloads are compared with the published SHA-256.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from .sources import (DatasetNotFoundError, RemoteFile, data_root, cache_dir, download_all, download_dir,
                      downloads_refused, keras_datasets_dir)

IMAGE_SIZE = 28
N_CLASSES = 10
ROLES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@dataclass(frozen=True)
class ImageDataset:
    """How to find and fetch one of the MNIST-format datasets."""

    name: str                      # folder name under FASTNN_DATA and the cache
    title: str                     # for messages
    folder_names: tuple            # sub-folders of FASTNN_DATA searched
    search_data_root: bool         # also look at FASTNN_DATA itself
    npz_names: tuple
    keras_folder: str              # sub-folder of Keras' datasets/ folder ("" = the folder itself)
    system_folders: tuple          # folders a system package installs the files into
    system_package: str | None
    mirrors: tuple                 # URL prefixes, file name appended
    files: tuple                   # RemoteFile for each of ROLES + ".gz"
    homepage: str


# Sizes and SHA-256 of the gzipped files as the publishers serve them (the values that
# TensorFlow Datasets and torchvision pin as well).
MNIST = ImageDataset(
    name="mnist", title="MNIST", folder_names=("mnist",), search_data_root=True,
    npz_names=("mnist.npz",), keras_folder="",
    system_folders=(), system_package=None,
    mirrors=("https://storage.googleapis.com/cvdf-datasets/mnist/",
             "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    files=(
        RemoteFile("train-images-idx3-ubyte.gz", 9912422,
                   "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        RemoteFile("train-labels-idx1-ubyte.gz", 28881,
                   "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        RemoteFile("t10k-images-idx3-ubyte.gz", 1648877,
                   "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        RemoteFile("t10k-labels-idx1-ubyte.gz", 4542,
                   "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    ),
    homepage="http://yann.lecun.com/exdb/mnist/",
)

FASHION_MNIST = ImageDataset(
    name="fashion_mnist", title="Fashion-MNIST", folder_names=("fashion_mnist", "fashion-mnist"),
    search_data_root=False, npz_names=("fashion_mnist.npz", "fashion-mnist.npz"),
    keras_folder="fashion-mnist",
    # Debian's dataset-fashion-mnist installs into /usr/share/datasets/fashion-mnist; the
    # second name is where one might expect it from the package name.
    system_folders=(Path("/usr/share/datasets/fashion-mnist"), Path("/usr/share/dataset-fashion-mnist")),
    system_package="dataset-fashion-mnist",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    files=(
        RemoteFile("train-images-idx3-ubyte.gz", 26421880,
                   "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
        RemoteFile("train-labels-idx1-ubyte.gz", 29515,
                   "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
        RemoteFile("t10k-images-idx3-ubyte.gz", 4422102,
                   "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
        RemoteFile("t10k-labels-idx1-ubyte.gz", 5148,
                   "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    ),
    homepage="https://github.com/zalandoresearch/fashion-mnist",
)


def load_mnist(path=None, flat: bool = False, download: bool = True):
    """The MNIST handwritten digits: ``(x_train, y_train), (x_test, y_test)``.

    Returns float32 images scaled to [0, 1] (pixel / 255) and int64 labels 0-9:

        x_train  (60000, 1, 28, 28), or (60000, 784) with ``flat=True``
        y_train  (60000,)
        x_test   (10000, 1, 28, 28), or (10000, 784)
        y_test   (10000,)

    Images are NCHW (one channel), ready for ``Conv2D``; ``flat=True`` gives rows for
    ``Dense``. ``path`` is a folder holding the four IDX files (``.gz`` or not) or
    ``mnist.npz``, or the ``.npz`` file itself; without it the standard places are searched
    (module docstring). ``download=False`` (or the environment variable
    ``FASTNN_OFFLINE=1``) never touches the network. Raises ``DatasetNotFoundError`` (a
    ``FileNotFoundError``) when the files are nowhere, ``ValueError`` for a damaged file.
    """
    return load_image_dataset(MNIST, path, flat, download)


def load_fashion_mnist(path=None, flat: bool = False, download: bool = True):
    """Fashion-MNIST (Zalando's clothing images): ``(x_train, y_train), (x_test, y_test)``.

    Same format as ``load_mnist``: float32 images in [0, 1], (n, 1, 28, 28) or with
    ``flat=True`` (n, 784), int64 labels 0-9 (names in ``FASHION_MNIST_CLASSES``); 60,000
    training and 10,000 test images. Also found where Debian's ``dataset-fashion-mnist``
    package installs it. ``path``, ``download`` and the errors as in ``load_mnist``.
    """
    return load_image_dataset(FASHION_MNIST, path, flat, download)


def load_image_dataset(dataset: ImageDataset, path=None, flat: bool = False, download: bool = True):
    """Find (or fetch) ``dataset`` and return its arrays; see ``load_mnist``."""
    places = [Path(path).expanduser()] if path is not None else search_folders(dataset)
    looked = [] if path is not None or data_root() is not None else ["$FASTNN_DATA (not set)"]
    for place in places:
        found = find_files(dataset, place, looked)
        if found is not None:
            return to_arrays(found, flat)

    refused = downloads_refused(download)
    problems = []
    if refused is None:
        if path is not None and Path(path).suffix == ".npz":
            refused = f"path={os.fspath(path)!r} names an archive; downloads fetch the IDX files"
        else:
            target = Path(path).expanduser() if path is not None else download_dir(dataset.name)
            problems = download_all(dataset.mirrors, dataset.files, target)
            if not problems:
                return to_arrays(find_files(dataset, target, looked), flat)
    raise DatasetNotFoundError(not_found_message(dataset, looked, refused, problems))


def search_folders(dataset: ImageDataset) -> list:
    """The folders searched, in order, when no ``path`` is given."""
    folders = []
    root = data_root()
    if root is not None:
        folders += [root / name for name in dataset.folder_names]
        if dataset.search_data_root:
            folders.append(root)
    folders.append(cache_dir(dataset.name))
    keras = keras_datasets_dir()
    folders.append(keras / dataset.keras_folder if dataset.keras_folder else keras)
    folders += list(dataset.system_folders)
    return folders


def find_files(dataset: ImageDataset, place: Path, looked: list):
    """``("npz", file)`` or ``("idx", [four files])`` found at ``place``, else None.

    Appends to ``looked`` a line saying what was missing there.
    """
    if place.is_file():
        if place.suffix == ".npz":
            return ("npz", place)
        looked.append(f"{place} (a file; expected a folder or a .npz archive)")
        return None
    if not place.is_dir():
        looked.append(f"{place} (does not exist)")
        return None
    for name in dataset.npz_names:
        if (place / name).is_file():
            return ("npz", place / name)
    files, missing = [], []
    for role in ROLES:
        candidates = [place / f"{stem}{gz}" for stem in (role, role.replace("-idx", ".idx"))
                      for gz in (".gz", "")]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            missing.append(f"{role}[.gz]")
        files.append(hit)
    if not missing:
        return ("idx", files)
    if len(missing) == len(ROLES):
        looked.append(f"{place} (no {' or '.join(dataset.npz_names)}, no IDX files)")
    else:
        looked.append(f"{place} (incomplete: missing {', '.join(missing)})")
    return None


def to_arrays(found, flat: bool):
    kind, where = found
    if kind == "npz":
        x_train, y_train, x_test, y_test = read_npz(where)
        names = [str(where)] * 4
    else:
        x_train = read_idx(where[0], IMAGES_MAGIC)
        y_train = read_idx(where[1], LABELS_MAGIC)
        x_test = read_idx(where[2], IMAGES_MAGIC)
        y_test = read_idx(where[3], LABELS_MAGIC)
        names = [str(f) for f in where]
    train = images_and_labels(x_train, y_train, names[0], names[1], flat)
    test = images_and_labels(x_test, y_test, names[2], names[3], flat)
    return train, test


def read_npz(path):
    """The four arrays of a Keras-style MNIST ``.npz`` archive (no pickles are loaded)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in NPZ_KEYS if key not in archive.files]
            if missing:
                raise ValueError(f"{path}: missing arrays {', '.join(missing)} "
                                 f"(an MNIST archive holds {', '.join(NPZ_KEYS)}; found {', '.join(archive.files)})")
            return tuple(archive[key] for key in NPZ_KEYS)
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise ValueError(f"{path}: not a readable .npz archive ({error})") from error


def images_and_labels(images: np.ndarray, labels: np.ndarray, images_name: str, labels_name: str, flat: bool):
    """Check one split and convert it: float32 images / 255 (NCHW or flat), int64 labels."""
    expected = (IMAGE_SIZE, IMAGE_SIZE)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != expected:
        raise ValueError(f"{images_name}: images must be uint8 of shape (n, {IMAGE_SIZE}, {IMAGE_SIZE}), "
                         f"got {images.dtype} {images.shape}")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{labels_name}: labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if len(labels) != len(images):
        raise ValueError(f"{labels_name}: {len(labels)} labels for the {len(images)} images of {images_name}")
    if len(labels) and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise ValueError(f"{labels_name}: labels must lie in 0..{N_CLASSES - 1}, "
                         f"found {labels.min()}..{labels.max()}")
    x = images.astype(np.float32) / np.float32(255.0)
    x = x.reshape(len(x), -1) if flat else x.reshape(len(x), 1, IMAGE_SIZE, IMAGE_SIZE)
    return x, labels.astype(np.int64)


def not_found_message(dataset: ImageDataset, looked: list, refused, problems: list) -> str:
    names = ", ".join(f.name for f in dataset.files)
    lines = [f"{dataset.title} was not found. Looked in:"]
    lines += [f"  {line}" for line in looked]
    if refused is not None:
        lines.append(f"No download was tried: {refused}.")
    elif problems:
        lines.append("The download failed:")
        lines += [f"  {p}" for p in problems]
    lines.append("To get it, any one of:")
    lines.append(f"  - put the four IDX files ({names}; gzipped or not) or a Keras-style "
                 f"{dataset.npz_names[0]} into $FASTNN_DATA/{dataset.folder_names[0]} "
                 f"(set the environment variable FASTNN_DATA to a folder), or pass path=FOLDER")
    lines.append(f"  - download them from {dataset.mirrors[0]} (see {dataset.homepage})")
    lines.append("  - let fastnn download them: a machine online, download=True and FASTNN_OFFLINE unset")
    if dataset.system_package:
        lines.append(f"  - on Debian or Ubuntu: apt install {dataset.system_package} "
                     f"(installs into {dataset.system_folders[0]})")
    return "\n".join(lines)
