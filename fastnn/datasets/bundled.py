"""The small datasets that ship inside scikit-learn: digits and diabetes (always offline).

scikit-learn is imported only when one of these is loaded; without it a
``DatasetNotFoundError`` says how to install it. Neither has an official train/test
split, so both take ``test_size`` and ``seed`` (see ``fastnn.datasets.split``).
"""

from __future__ import annotations

import numpy as np

from .sources import DatasetNotFoundError
from .split import standardize as standardize_features, train_test_split

DIGITS_SIZE = 8
DIGITS_MAX = 16.0


def _sklearn_datasets(name: str):
    try:
        import sklearn.datasets
    except ImportError as error:
        raise DatasetNotFoundError(
            f"the {name} dataset ships with scikit-learn, which is not installed: "
            f"pip install scikit-learn (or pip install 'fastnn[examples]')") from error
    return sklearn.datasets


def load_digits(flat: bool = True, test_size=0.2, seed: int = 0):
    """scikit-learn's 8 x 8 handwritten digits (1,797 images of 0-9, from UCI's optdigits).

    Returns ``(x_train, y_train), (x_test, y_test)``:

        x  float32 in [0, 1] (the 0-16 pixel counts / 16), shape (n, 64), or with
           ``flat=False`` NCHW images (n, 1, 8, 8)
        y  int64 labels 0-9, shape (n,)

    With the defaults n_test = ceil(0.2 * 1797) = 360 and n_train = 1437. ``test_size`` is a
    fraction in [0, 1) or a count; ``seed`` fixes the split (the same on every machine).
    """
    bunch = _sklearn_datasets("digits").load_digits()
    x = (bunch.data / DIGITS_MAX).astype(np.float32)
    if not flat:
        x = x.reshape(len(x), 1, DIGITS_SIZE, DIGITS_SIZE)
    y = bunch.target.astype(np.int64)
    return train_test_split(x, y, test_size, seed)


def load_diabetes(standardize: bool = False, test_size=0.2, seed: int = 0):
    """scikit-learn's diabetes regression data (Efron et al. 2004): 442 patients, 10 features.

    Returns ``(x_train, y_train), (x_test, y_test)``:

        x  float32, shape (n, 10): age, sex, body mass index, blood pressure and six blood
           serum measurements, as scikit-learn ships them: each column centred and scaled
           to unit Euclidean norm over all 442 rows (so values are about +-0.1)
        y  float32, shape (n,): disease progression one year later (25 to 346)

    ``standardize=True`` rescales each feature to z = (x - mean) / std with the mean and
    (population) std of ``x_train``, applied to both parts, so the test set does not leak
    into the scaling; networks train faster on such inputs. The target is left as it is.
    With the defaults n_test = ceil(0.2 * 442) = 89 and n_train = 353.
    """
    bunch = _sklearn_datasets("diabetes").load_diabetes()
    x = bunch.data.astype(np.float32)
    y = bunch.target.astype(np.float32)
    (x_train, y_train), (x_test, y_test) = train_test_split(x, y, test_size, seed)
    if standardize:
        x_train, x_test = standardize_features(x_train, x_test)
    return (x_train, y_train), (x_test, y_test)
