"""The two small tables that ship inside fastnn: digits and diabetes (always offline).

Both are NumPy archives in ``fastnn/datasets/data/``, read through ``importlib.resources``
(so they load from an installed wheel as from a source checkout, with nothing but NumPy):

    digits.npz     pixels  uint8 (1797, 64), the 0-16 counts of the 8 x 8 images, row by row
                   labels  uint8 (1797,), the digit 0-9
    diabetes.npz   features  float32 (442, 10), the columns as scikit-learn's load_diabetes()
                             gives them (centred, each scaled to unit Euclidean norm)
                   target    uint16 (442,), disease progression one year later (25-346)

They hold exactly scikit-learn's copies (``data/README.md`` has the command that wrote
them and their SHA-256); ``data/LICENSE-digits-diabetes.txt`` names the sources and their
licences. Neither table has an official train/test split, so both loaders take
``test_size`` and ``seed`` (see ``fastnn.datasets.split``).
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from .split import standardize as standardize_features, train_test_split

DIGITS_FILE = "digits.npz"
DIABETES_FILE = "diabetes.npz"
DIGITS_SIZE = 8
DIGITS_MAX = 16.0


def read_bundled_arrays(name: str, keys: tuple) -> tuple:
    """The arrays ``keys`` of the bundled archive ``fastnn/datasets/data/<name>``, in that order."""
    with resources.files("fastnn.datasets").joinpath("data").joinpath(name).open("rb") as file:
        with np.load(file, allow_pickle=False) as archive:
            return tuple(archive[key] for key in keys)


def load_digits(flat: bool = True, test_size=0.2, seed: int = 0):
    """The 8 x 8 handwritten digits (1,797 images of 0-9, from UCI's optdigits), bundled.

    Returns ``(x_train, y_train), (x_test, y_test)``:

        x  float32 in [0, 1] (the 0-16 pixel counts / 16), shape (n, 64), or with
           ``flat=False`` NCHW images (n, 1, 8, 8)
        y  int64 labels 0-9, shape (n,)

    With the defaults n_test = ceil(0.2 * 1797) = 360 and n_train = 1437. ``test_size`` is a
    fraction in [0, 1) or a count; ``seed`` fixes the split (the same on every machine).
    """
    pixels, labels = read_bundled_arrays(DIGITS_FILE, ("pixels", "labels"))
    x = (pixels / DIGITS_MAX).astype(np.float32)   # k / 16 is exact in float32 for k = 0..16
    if not flat:
        x = x.reshape(len(x), 1, DIGITS_SIZE, DIGITS_SIZE)
    y = labels.astype(np.int64)
    return train_test_split(x, y, test_size, seed)


def load_diabetes(standardize: bool = False, test_size=0.2, seed: int = 0):
    """The diabetes regression table (Efron et al. 2004): 442 patients, 10 features, bundled.

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
    x, target = read_bundled_arrays(DIABETES_FILE, ("features", "target"))
    y = target.astype(np.float32)
    (x_train, y_train), (x_test, y_test) = train_test_split(x, y, test_size, seed)
    if standardize:
        x_train, x_test = standardize_features(x_train, x_test)
    return (x_train, y_train), (x_test, y_test)
