"""Where dataset files are looked for, and the one way they are downloaded.

Environment:

    FASTNN_DATA      a folder of datasets: ``$FASTNN_DATA/mnist``, ``$FASTNN_DATA/fashion_mnist``,
                     ``$FASTNN_DATA/boston.csv`` ...; also where downloads go when it is set
    FASTNN_OFFLINE   ``1`` (or true/yes/on) forbids every download, whatever ``download=`` says
    XDG_CACHE_HOME   downloads go to ``$XDG_CACHE_HOME/fastnn/datasets/<name>`` when FASTNN_DATA
                     is unset (default ``~/.cache/fastnn/datasets/<name>``)
    KERAS_HOME       Keras' folder (default ``~/.keras``); files Keras downloaded into its
                     ``datasets/`` folder are used as they are

A download streams to a temporary file beside the target, checks the byte count and the
SHA-256 published for the file, and only then renames it into place, so a broken or
tampered transfer never leaves a file under the real name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 20


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is in none of the places fastnn looks; the message says how to get it."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset as its publisher distributes it."""

    name: str
    size: int
    sha256: str


def offline() -> bool:
    """True when ``FASTNN_OFFLINE`` forbids downloads."""
    return os.environ.get("FASTNN_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def data_root() -> Path | None:
    """``$FASTNN_DATA`` as a Path, or None when it is unset or empty."""
    root = os.environ.get("FASTNN_DATA", "").strip()
    return Path(root).expanduser() if root else None


def cache_dir(name: str) -> Path:
    """fastnn's download folder for dataset ``name`` when FASTNN_DATA is unset."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    base_path = Path(base).expanduser() if base else Path.home() / ".cache"
    return base_path / "fastnn" / "datasets" / name


def download_dir(name: str) -> Path:
    """Where a download of dataset ``name`` goes: ``$FASTNN_DATA/<name>``, else the cache."""
    root = data_root()
    return root / name if root is not None else cache_dir(name)


def keras_datasets_dir() -> Path:
    """The folder Keras downloads datasets into: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``."""
    base = os.environ.get("KERAS_HOME", "").strip()
    return (Path(base).expanduser() if base else Path.home() / ".keras") / "datasets"


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, target: Path, expected: RemoteFile, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Fetch ``url`` into ``target``, verified against ``expected`` (size and SHA-256).

    Raises ``OSError`` (``urllib.error.URLError`` and timeouts included) or
    ``http.client.HTTPException`` when the transfer fails, and ``ValueError`` when the bytes
    are not the published file; ``target`` is untouched in all cases and no partial file
    is left behind.
    """
    import urllib.request  # here, not at the top: importing fastnn.datasets stays light

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > expected.size:
                    raise ValueError(f"{url}: more than the {expected.size} bytes of {expected.name}; "
                                     f"not the published file")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size != expected.size:
            raise ValueError(f"{url}: got {size} bytes, the published {expected.name} has {expected.size}")
        if digest.hexdigest() != expected.sha256:
            raise ValueError(f"{url}: SHA-256 {digest.hexdigest()} does not match the published "
                             f"{expected.sha256} of {expected.name}")
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return target


def download_all(mirrors, files, folder: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> list[str]:
    """Download each of ``files`` missing from ``folder``, trying ``mirrors`` in order.

    Returns the problems met (empty when every file is now in ``folder``). A SHA-256 or size
    mismatch raises at once: a mirror serving other bytes is an error, not a miss.
    """
    import http.client

    problems = []
    for remote in files:
        target = Path(folder) / remote.name
        if target.is_file():
            continue
        for mirror in mirrors:
            url = mirror + remote.name
            try:
                download(url, target, remote, timeout)
                break
            except (OSError, http.client.HTTPException) as error:  # URLError and timeouts are OSErrors
                problems.append(f"{url}: {getattr(error, 'reason', None) or error}")
        else:
            return problems
    return []


def downloads_refused(download_requested: bool) -> str | None:
    """Why no download will be tried, or None when one may be."""
    if offline():
        return "FASTNN_OFFLINE is set"
    if not download_requested:
        return "download=False"
    return None
