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

Made-up data for the lessons in ``examples/`` (seeded, offline, no split unless said):

    sine_waves(n, length)       (length, 1) a sine window          float32 (1,)      next value
    adding_problem(n, length)   (length, 2) values and markers     float32 (1,)      sum of the marked two
    delayed_recall(n, length)   (length, 2) values and a marker    float32 (1,)      the marked value
    gaussian_mixture_2d(n)      (2,) a point near one of k modes   (the k centres)   points, centres
    synthetic_ratings()         user id, item id                   rating 1-5        split_ratings()
    read_movielens(path)        MovieLens ``u.data`` ratings, the same ``Ratings`` record
    load_summarization_text()   an article and its reference summary (bundled text files)
    corrupt_labels(y, fraction) a copy of class labels with a share made wrong (label noise)

``(split)``: the dataset has no official test set; ``test_size=0.2`` and ``seed=0`` pick
one reproducibly (``train_test_split``: a Philox permutation, the same on every machine).

Where the files come from: digits and diabetes ship inside fastnn (``data/*.npz``, offline,
no scikit-learn needed; sources and licences in ``data/LICENSE-digits-diabetes.txt``).
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
from .mixtures import gaussian_mixture_2d
from .mnist import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist
from .noise import corrupt_labels
from .sources import DatasetNotFoundError
from .ratings import Ratings, read_movielens, split_ratings, synthetic_ratings
from .sequences import adding_problem, delayed_recall, sine_waves
from .split import train_test_split
from .synthetic import xor
from .texts import load_summarization_text

__all__ = [
    "DatasetNotFoundError", "FASHION_MNIST_CLASSES", "Ratings", "adding_problem", "corrupt_labels", "delayed_recall",
    "gaussian_mixture_2d", "load_boston", "load_diabetes", "load_digits", "load_fashion_mnist", "load_mnist",
    "load_summarization_text", "read_idx", "read_movielens", "sine_waves", "split_ratings", "synthetic_ratings",
    "train_test_split", "xor",
]
