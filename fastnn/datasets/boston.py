"""The Boston housing table (Harrison and Rubinfeld, 1978) from a file the user has.

506 census tracts, 13 features (CRIM, ZN, INDUS, CHAS, NOX, RM, AGE, DIS, RAD, TAX,
PTRATIO, B, LSTAT) and the target MEDV, the median home value in $1000s. scikit-learn
removed ``load_boston`` in 1.2 (one feature, B, encodes a racial proportion, and the
data is old), and fastnn does not download it; it reads a copy you have:

    path              a file (.csv, .data, .txt, optionally .gz, or Keras' boston_housing.npz)
                      or a folder holding one of the names below
    $FASTNN_DATA      boston.csv, housing.csv, boston_house_prices.csv, BostonHousing.csv,
                      Boston.csv, housing.data, boston_housing.npz, in $FASTNN_DATA or
                      $FASTNN_DATA/boston
    installed copies  scikit-learn < 1.2 (sklearn/datasets/data/boston_house_prices.csv) and
                      Keras' download (~/.keras/datasets/boston_housing.npz, $KERAS_HOME);
                      packages are located, never imported

Accepted layouts of a text table (comma, semicolon or whitespace separated, values may
be quoted):

    - a header row of column names: the target is the column named MEDV (any case) or
      "target", else the last column; the other columns are the features. A first column
      that is a row index (empty name or "Unnamed: 0", or a header one name short, as R
      writes) is dropped. scikit-learn's file, with its "506,13" line above the header,
      is recognised.
    - no header: 14 numeric columns per row, the 13 features then MEDV (UCI's housing.data).

Rows starting with ``#`` and blank rows are skipped; a missing or non-numeric value
raises ValueError naming the file, line and column.
"""

from __future__ import annotations

import gzip
import importlib.util
import re
import zipfile
from pathlib import Path

import numpy as np

from .sources import DatasetNotFoundError, data_root, keras_datasets_dir
from .split import standardize as standardize_features, train_test_split

FEATURE_NAMES = ("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT")
TARGET_NAMES = ("medv", "target")
FILE_NAMES = ("boston.csv", "housing.csv", "boston_house_prices.csv", "BostonHousing.csv", "Boston.csv",
              "housing.data", "boston_housing.npz")
# (package, file inside it) pairs of installed packages known to ship the table
PACKAGED_COPIES = (("sklearn", "datasets/data/boston_house_prices.csv"),)


def load_boston(path=None, standardize: bool = False, test_size=0.2, seed: int = 0):
    """The Boston housing regression table: ``(x_train, y_train), (x_test, y_test)``.

        x  float32, shape (n, 13) for the classic table (a table with a header may carry
           another set of feature columns; they are returned in file order)
        y  float32, shape (n,): MEDV, median home value in $1000s (5 to 50 in the classic table)

    With the 506 rows and the defaults n_test = ceil(0.2 * 506) = 102, n_train = 404.
    ``standardize=True`` z-scores the features with the training part's mean and std.
    ``path`` is the table file or a folder holding it; without it the places in the module
    docstring are searched. Raises ``DatasetNotFoundError`` (a ``FileNotFoundError``) saying
    how to get the table when no copy is found, ``ValueError`` for a malformed file.
    """
    source, looked = find_boston(path)
    if source is None:
        raise DatasetNotFoundError(not_found_message(looked))
    x, y = read_table(source)
    (x_train, y_train), (x_test, y_test) = train_test_split(x, y, test_size, seed)
    if standardize:
        x_train, x_test = standardize_features(x_train, x_test)
    return (x_train, y_train), (x_test, y_test)


def find_boston(path=None):
    """The first copy of the table found, and a description of each place looked at."""
    looked = []
    if path is not None:
        place = Path(path).expanduser()
        if place.is_file():
            return place, looked
        folders = [place]
    else:
        folders = []
        root = data_root()
        if root is not None:
            folders += [root, root / "boston"]
        else:
            looked.append("$FASTNN_DATA (not set)")
    for folder in folders:
        if not folder.is_dir():
            looked.append(f"{folder} (does not exist)")
            continue
        hit = next((folder / name for name in FILE_NAMES if (folder / name).is_file()), None)
        if hit is not None:
            return hit, looked
        looked.append(f"{folder} (none of {', '.join(FILE_NAMES)})")
    if path is not None:
        return None, looked
    for candidate in packaged_copies():
        if candidate.is_file():
            return candidate, looked
        looked.append(f"{candidate} (not there)")
    return None, looked


def packaged_copies() -> list:
    """Where installed packages would keep the table (located without importing them)."""
    candidates = []
    for package, inner in PACKAGED_COPIES:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        for location in (spec.submodule_search_locations or []) if spec is not None else []:
            candidates.append(Path(location) / inner)
    candidates.append(keras_datasets_dir() / "boston_housing.npz")
    return candidates


def read_table(path):
    """Features float32 (n, k) and target float32 (n,) from a Boston table file."""
    path = Path(path)
    if path.suffix == ".npz":
        return read_keras_npz(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable file ({error})") from error
    text = raw.decode("utf-8-sig", errors="replace")
    numbered = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)]
    numbered = [(number, line) for number, line in numbered if line and not line.startswith("#")]
    if not numbered:
        raise ValueError(f"{path}: no rows")
    separator = "," if "," in numbered[-1][1] else ";" if ";" in numbered[-1][1] else None
    rows = [(number, split_fields(line, separator)) for number, line in numbered]

    declared_rows = None
    if len(rows) > 1 and is_count_line(rows[0][1], rows[1][1]):
        declared_rows = int(float(rows[0][1][0]))  # scikit-learn's "506,13" line
        rows = rows[1:]
    header = None
    if not all(is_number(field) for field in rows[0][1]):
        header = [name.strip() for name in rows[0][1]]
        rows = rows[1:]
    if not rows:
        raise ValueError(f"{path}: a header but no data rows")
    n_columns = len(rows[0][1])
    for number, fields in rows:
        if len(fields) != n_columns:
            raise ValueError(f"{path}, line {number}: {len(fields)} columns, the first data row has {n_columns}")
    if declared_rows is not None and declared_rows != len(rows):
        raise ValueError(f"{path}: the first line announces {declared_rows} rows, found {len(rows)}")

    drop_index = False
    if header is not None:
        if len(header) == n_columns - 1:
            drop_index = True
            header = [""] + header
        elif len(header) != n_columns:
            raise ValueError(f"{path}: the header names {len(header)} columns, the rows have {n_columns}")
        drop_index = drop_index or header[0] == "" or header[0].lower().startswith("unnamed")
        lowered = [name.lower() for name in header]
        target = next((lowered.index(t) for t in TARGET_NAMES if t in lowered), n_columns - 1)
    else:
        if n_columns != len(FEATURE_NAMES) + 1:
            raise ValueError(f"{path}: without a header a row must hold the {len(FEATURE_NAMES)} features and "
                             f"MEDV ({len(FEATURE_NAMES) + 1} columns), found {n_columns}")
        target = n_columns - 1
    features = [c for c in range(n_columns) if c != target and not (drop_index and c == 0)]
    if not features:
        raise ValueError(f"{path}: no feature columns besides the target")

    table = np.empty((len(rows), n_columns), dtype=np.float64)
    for i, (number, fields) in enumerate(rows):
        for c in features + [target]:
            try:
                table[i, c] = float(fields[c])
            except ValueError:
                column = header[c] if header is not None else f"column {c + 1}"
                raise ValueError(f"{path}, line {number}: {column} is {fields[c]!r}, not a number") from None
            if not np.isfinite(table[i, c]):
                column = header[c] if header is not None else f"column {c + 1}"
                raise ValueError(f"{path}, line {number}: {column} is {fields[c]!r}, not a finite number")
    return table[:, features].astype(np.float32), table[:, target].astype(np.float32)


def read_keras_npz(path: Path):
    """Keras' ``boston_housing.npz``: arrays ``x`` (506, 13) and ``y`` (506,)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "x" not in archive.files or "y" not in archive.files:
                raise ValueError(f"{path}: a Boston archive holds arrays x and y, found {', '.join(archive.files)}")
            x, y = archive["x"], archive["y"]
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise ValueError(f"{path}: not a readable .npz archive ({error})") from error
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"{path}: x must be (n, features) and y (n,), got {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError(f"{path}: non-finite values in x or y")
    return x.astype(np.float32), y.astype(np.float32)


_QUOTES = "\"'"


def split_fields(line: str, separator):
    fields = line.split(separator) if separator else line.split()
    return [field.strip().strip(_QUOTES).strip() for field in fields]


def is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def is_count_line(first, second) -> bool:
    """scikit-learn's file starts with "506,13" (rows, features) above a longer header."""
    values = [f for f in first if f != ""]
    return (len(values) == 2 and len(second) > 2
            and all(re.fullmatch(r"\d+", v) for v in values))


def not_found_message(looked) -> str:
    lines = ["The Boston housing table was not found. Looked in:"]
    lines += [f"  {line}" for line in looked]
    lines += [
        "fastnn does not download it. To get it, any one of:",
        "  - save it as CSV into $FASTNN_DATA/boston.csv (set the environment variable FASTNN_DATA to a "
        "folder) or pass path=FILE; with scikit-learn online: "
        "sklearn.datasets.fetch_openml(data_id=531, as_frame=True).frame.to_csv('boston.csv', index=False)",
        "  - the original table: http://lib.stat.cmu.edu/datasets/boston (StatLib) or UCI's housing.data",
        "  - Keras' copy: keras.datasets.boston_housing.load_data() leaves ~/.keras/datasets/boston_housing.npz",
    ]
    return "\n".join(lines)
