"""Ready-to-train datasets, returned like Keras' ``keras.datasets.<name>.load_data()``.

    import fastnn as fnn
    (x_train, y_train), (x_test, y_test) = fnn.datasets.load_digits()

Every loader returns numpy arrays: float32 features, int64 class labels (float32
targets for regression). Images are scaled to [0, 1] and laid out NCHW.

    loader                      x (per sample)                     y                 train / test
    load_digits()               (64,) or flat=False (1, 8, 8)      int64 0-9         1437 / 360 (split)
    load_mnist()                (1, 28, 28) or flat=True (784,)    int64 0-9         60000 / 10000
    load_fashion_mnist()        (1, 28, 28) or flat=True (784,)    int64 0-9         60000 / 10000
    load_diabetes()             (10,)                              float32 25-346    353 / 89 (split)
    load_boston(path)           (13,)                              float32 MEDV      404 / 102 (split)
    xor()                       (2,)                               int64 0/1         4 points, no split

``(split)``: the dataset has no official test set; ``test_size=0.2`` and ``seed=0`` pick
one reproducibly (``train_test_split``: a Philox permutation, the same on every machine).

Where the files come from: digits and diabetes ship inside scikit-learn (offline).
MNIST and Fashion-MNIST are read from IDX or ``.npz`` files in ``path``, ``$FASTNN_DATA``,
fastnn's cache, Keras' cache or Debian's ``dataset-fashion-mnist``, and otherwise
downloaded from the publisher's mirror and checked against the published SHA-256
(``download=False`` or ``FASTNN_OFFLINE=1`` forbid that). The Boston table is read from a
file you have. A dataset found nowhere raises ``DatasetNotFoundError`` (a
``FileNotFoundError``) saying where fastnn looked and how to get it.
"""

from .boston import load_boston
from .bundled import load_digits, load_diabetes
from .idx import read_idx
from .mnist import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist
from .sources import DatasetNotFoundError
from .split import train_test_split
from .synthetic import xor

__all__ = [
    "DatasetNotFoundError", "FASHION_MNIST_CLASSES", "load_boston", "load_diabetes", "load_digits",
    "load_fashion_mnist", "load_mnist", "read_idx", "train_test_split", "xor",
]
