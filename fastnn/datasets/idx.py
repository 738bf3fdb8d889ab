"""Reading IDX files, the format MNIST and Fashion-MNIST are distributed in.

An IDX file is a header followed by the array, all big-endian:

    bytes 0-1   zero
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    then d      uint32 sizes, then prod(sizes) elements in C order

so the first four bytes read as one big-endian uint32 (the "magic number") are
0x00000803 for a stack of uint8 images (n, rows, cols) and 0x00000801 for a vector
of uint8 labels (n,). A file whose name ends in ``.gz`` is gunzipped first.

Every defect (not gzip, truncated, wrong magic, a byte count that does not match
the header) raises a ValueError that names the file.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

ELEMENT_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_bytes(path) -> bytes:
    """The content of ``path``, gunzipped when the name ends in ``.gz``."""
    path = os.fspath(path)
    if not path.endswith(".gz"):
        with open(path, "rb") as f:
            return f.read()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as error:
        # gzip.BadGzipFile is an OSError; a cut-off stream ends in EOFError
        raise ValueError(f"{path}: not a complete gzip file ({error})") from error


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """The array stored in IDX bytes ``data`` (native byte order); ``name`` labels errors."""
    if len(data) < 4:
        raise ValueError(f"{name}: truncated or empty: {len(data)} bytes, an IDX header has at least 4")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"{name}: not an IDX file (magic number 0x{data[:4].hex()} "
                         f"does not start with two zero bytes)")
    type_code, ndim = data[2], data[3]
    if type_code not in ELEMENT_TYPES:
        raise ValueError(f"{name}: unknown IDX element type 0x{type_code:02X} "
                         f"(known: {', '.join(f'0x{c:02X}' for c in ELEMENT_TYPES)})")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(f"{name}: truncated header ({len(data)} bytes, the {ndim} dimension "
                         f"sizes need {header_size})")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = ELEMENT_TYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header_size
    if found < expected:
        raise ValueError(f"{name}: truncated: shape {shape} needs {expected} bytes of data, "
                         f"found {found}")
    if found > expected:
        raise ValueError(f"{name}: {found - expected} bytes after the {expected} bytes that "
                         f"shape {shape} needs (corrupt or not an IDX file)")
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path, expected_magic: int | None = None) -> np.ndarray:
    """The array in the IDX file ``path`` (``.gz`` or plain).

    ``expected_magic`` (e.g. ``IMAGES_MAGIC`` = 0x00000803, ``LABELS_MAGIC`` = 0x00000801)
    rejects a file of another element type or rank. Returns a read-only array of the
    file's shape and element type (uint8 for MNIST).
    """
    path = os.fspath(path)
    data = read_bytes(path)
    if expected_magic is not None and len(data) >= 4:
        magic = int.from_bytes(data[:4], "big")
        if magic != expected_magic:
            raise ValueError(f"{path}: magic number 0x{magic:08X}, expected 0x{expected_magic:08X} "
                             f"({_describe_magic(expected_magic)})")
    return parse_idx(data, path)


def _describe_magic(magic: int) -> str:
    type_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    dtype = ELEMENT_TYPES.get(type_code)
    kind = dtype.name if dtype is not None else f"type 0x{type_code:02X}"
    return f"{kind} array of {ndim} dimension{'s' if ndim != 1 else ''}"
