"""Checkpoints: a model (or its weights alone) in one safetensors file, verified on load.

    fnn.io.save_model(model, "run.fnn")          # model.save("run.fnn")
    model = fnn.io.load_model("run.fnn")         # fnn.load_model(...), on any backend
    fnn.io.save_weights(model, "w.safetensors")  # model.save_weights(...)
    fnn.io.load_weights(model, "w.safetensors")  # model.load_weights(...)

A checkpoint holds everything that a resumed ``fit`` needs to continue exactly as an
uninterrupted run would: the architecture, every weight (batch-norm running statistics
included), the optimizer with its buffers and step counts, the compile settings, the
number of finished epochs and fastnn's global random state. Loading a checkpoint with
``load_model`` therefore also *sets fastnn's global random state* (``fnn.get_rng_state()``)
to the saved one, so that shuffling and dropout after ``fit(initial_epoch=model.epoch)``
draw the numbers they would have drawn. ``load_weights`` leaves the random state as it was.

File format (format version 1)
------------------------------
A plain safetensors file (https://github.com/huggingface/safetensors): 8 bytes of header
length N (unsigned, little endian), N bytes of JSON header, then the raw tensor data.
No pickle anywhere: every non-array value is JSON text in the header's ``__metadata__``
(a str -> str map). Tensors, each a C-contiguous little-endian host array:

    <weight name>                  every weight, named as ``model.named_weights()`` names it
                                   ("dense/kernel", "batch_normalization/moving_mean"); a
                                   name met twice gets "#1", "#2"... appended to stay unique
    optimizer/<i>/<buffer>         (checkpoints only) buffer <buffer> ("exp_avg", ...) of the
                                   optimizer's parameter i (index into optimizer.parameters())

Metadata keys (values are strings; "JSON" ones hold JSON text):

    format          "fastnn.checkpoint" (save_model) or "fastnn.weights" (save_weights)
    format_version  "1"
    fastnn_version  the fastnn version that wrote the file
    backend         the backend the model lived on when saved (informative: load anywhere)
    model_class     "<module>.<qualname>" of the model's class (informative: never imported)
    weights         JSON [{"key": tensor key, "name": weight name}, ...] in ``model.weights`` order
    build           JSON {"input_shape": feature shape the model was built for (batch axis
                    excluded; a list of shapes for several inputs; null if unknown),
                    "input_dtype": dtype of the input used to build: the model's float dtype,
                    or "int64" when the model has none (it was built from integer ids)}
    architecture    (checkpoints) JSON of ``model.get_config()`` (with "class_name"; each
                    layer's config holds its "trainable" flag, absent in files written
                    before layers had one, and then read as true)
    trainable       (checkpoints, optional) JSON [true/false, ...]: ``layer.trainable`` of
                    every layer of the model, the model first, in the order ``model.weights``
                    walks them (depth first, in attribute order), so that layers a block
                    makes for itself, which no config lists, are restored too; absent in
                    files written before layers could be frozen, which load as trainable
    optimizer       (checkpoints, when ``model.optimizer`` is set) JSON {"config":
                    optimizer.get_config(), "param_groups": the groups of state_dict() (params
                    as optimizer indices), "state": {i: non-array state such as {"step": 12}},
                    "param_weights": [position in model.weights of optimizer parameter i, ...]}
    compile         (checkpoints, when the model is compiled) JSON of ``model.compile_config()``
    rng_state       (checkpoints) JSON of ``fnn.get_rng_state()``: {"seed": ..., "offset": ...}
    epoch           (checkpoints) decimal count of finished epochs (``model.epoch``)
    sha256          checksum, below

Checksum. ``sha256`` is the hex SHA-256 of this byte string, independent of how the
safetensors writer lays out the file:

    canonical(metadata without "sha256") + b"\\n"
    then, for each tensor in ascending order of key (Python string order):
        canonical([key, dtype, shape]) + b"\\n" + the tensor's bytes (C order, little endian)

where ``canonical(v) = json.dumps(v, sort_keys=True, separators=(",", ":"),
ensure_ascii=True).encode("ascii")``, ``dtype`` is numpy's ``dtype.str`` ("<f4", "<i8",
"|b1") and ``shape`` a list of ints. So every metadata value and every tensor byte is
covered; a flipped byte anywhere in the file either breaks the safetensors structure or
changes the hash, and both are reported.

Loading rebuilds the architecture (``Sequential`` from its layer configs; a subclass of
``fnn.Model`` only from ``custom_objects``), builds a lazily built model with one zero
batch of the recorded input shape and dtype (inference mode, no graph), then matches the
saved weights to ``model.weights`` *by position*: each must have the saved weight's kind
(the name after the last "/": "kernel", "gamma", "running_mean"...) and shape. Full names
are not required to match, because the automatic names of layers made inside a subclass
or a block ("dense_3") depend on how many layers the process made before; they appear in
every error message.

Writes are atomic: the bytes go to a temporary file in the destination's directory,
which is flushed and fsynced, then renamed onto the real name with ``os.replace`` (and the
directory fsynced). A crash leaves the previous file at the real name untouched (at worst
a stray ``.<name>.<pid>.<random>.tmp`` beside it); an error during the write removes the
temporary file.

Errors: a file that is not a safetensors file, not a fastnn file, truncated, corrupt
(checksum mismatch), of an unknown format version, or whose weights do not fit the
model raises ``CheckpointError`` (a ``ValueError``) saying what is wrong.

A checksum proves the file is the one written, not that its writer wrote sense. So before
anything is built, the whole metadata is checked against a schema (``validate_metadata``:
the type, and range, of every field a loader reads, and the agreement of the tensors with
it: each listed weight has its float tensor, each tensor is a weight or a buffer of an
optimizer parameter that exists, with its weight's shape and dtype). A malformed field is
a ``CheckpointError`` naming it by its path, in the form of fastnn's argument errors::

    'run.fnn': checkpoint field 'optimizer.state.3.step' must be an int in [0, ...], got 'two'

Then the weights (count, kind, shape; dtype too for ``load_model``) and the optimizer
state are checked against the model before any is set: a failed ``load_weights`` leaves
the model's weights as they were (an unbuilt model unbuilt), a failed ``load_model``
leaves fastnn's random state as it was.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import inspect
import json
import math
import os
import re
import secrets
from collections.abc import Mapping

import numpy as np
import safetensors.numpy

from . import backend as backends
from . import layers
from . import random as fnn_random
from ._version import __version__
from .grad_mode import no_grad
from .layers.base import FLOAT_DTYPES as _FLOAT_DTYPES
from .layers.base import Layer, float_dtype
from .tensor import tensor as make_tensor

FORMAT_VERSION = 1
CHECKPOINT_FORMAT = "fastnn.checkpoint"
WEIGHTS_FORMAT = "fastnn.weights"
_FORMATS = (CHECKPOINT_FORMAT, WEIGHTS_FORMAT)
_OPTIMIZER_PREFIX = "optimizer/"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: not one, truncated, corrupt, or not fitting the model."""


# ---------------------------------------------------------------------------------------
# saving

def save_model(model, path) -> None:
    """Write ``model`` to ``path`` as one checkpoint file (format in the module docstring):
    architecture, weights, optimizer state, compile settings, ``model.epoch`` and fastnn's
    random state. Atomic: ``path`` holds either the previous file or the new one, whole."""
    if not isinstance(model, layers.get("Model")):
        raise TypeError(f"save_model: model must be a fastnn.Model (Sequential or a subclass), "
                        f"got {type(model).__name__}")
    tensors, metadata = _weights_payload(model, CHECKPOINT_FORMAT, "save_model")
    metadata["architecture"] = _to_json(model.get_config(), "the architecture (model.get_config())")
    metadata["trainable"] = _to_json([layer.trainable for layer in model._walk()], "the trainable flags")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        optimizer_tensors, optimizer_meta = _optimizer_payload(model, optimizer)
        tensors.update(optimizer_tensors)
        metadata["optimizer"] = _to_json(optimizer_meta, "the optimizer state")
    compile_config = _compile_config(model)
    if compile_config is not None:
        metadata["compile"] = _to_json(compile_config, "the compile settings (model.compile_config())")
    metadata["rng_state"] = _to_json(fnn_random.get_rng_state(), "the random state")
    metadata["epoch"] = str(int(getattr(model, "epoch", 0) or 0))
    _write(path, tensors, metadata)


def save_weights(model, path) -> None:
    """Write the weights of ``model`` (any built layer or model) to ``path``: a safetensors
    file with the weight names, the input shape the model was built for and a checksum.
    Atomic, like ``save_model``."""
    if not isinstance(model, Layer):
        raise TypeError(f"save_weights: model must be a fastnn model or layer, got {type(model).__name__}")
    tensors, metadata = _weights_payload(model, WEIGHTS_FORMAT, "save_weights")
    _write(path, tensors, metadata)


def _weights_payload(model, file_format, caller):
    """The weight tensors and the metadata every fastnn file has."""
    if not model.built:
        raise ValueError(f"{caller}: {model._label()} is not built yet, so it has no weights to save; call it on "
                         f"a batch first (or begin a Sequential with Input(shape))")
    tensors, entries = {}, []
    for name, t in model.named_weights():
        key, suffix = name, 0
        while key in tensors or key.startswith(_OPTIMIZER_PREFIX):
            suffix += 1
            key = f"{name}#{suffix}"
        tensors[key] = _host_array(t)
        entries.append({"key": key, "name": name})
    metadata = {
        "format": file_format,
        "format_version": str(FORMAT_VERSION),
        "fastnn_version": __version__,
        "backend": str(model.backend),
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "weights": _to_json(entries, "the weight names"),
        "build": _to_json(_build_info(model), "the input shape"),
    }
    return tensors, metadata


def _build_info(model) -> dict:
    """What a lazily built copy of ``model`` needs to create the same weights: one zero batch
    of this feature shape and dtype."""
    shape = model.input_shape
    dtype = model.dtype.name if model.dtype is not None else "int64"
    return {"input_shape": None if shape is None else _shape_to_json(shape), "input_dtype": dtype}


def _shape_to_json(shape):
    return [_shape_to_json(s) for s in shape] if isinstance(shape, list) else list(shape)


def _host_array(t) -> np.ndarray:
    """A C-contiguous host copy in little-endian byte order (what safetensors stores)."""
    array = np.ascontiguousarray(t.numpy() if hasattr(t, "numpy") else np.asarray(t))
    return array.astype(array.dtype.newbyteorder("<"), copy=False)


def _optimizer_payload(model, optimizer):
    """Buffers as tensors ``optimizer/<i>/<buffer>``; the rest as JSON-able data."""
    position = {id(t): i for i, t in enumerate(model.weights)}
    param_weights = []
    for i, p in enumerate(optimizer.parameters()):
        if id(p) not in position:
            raise ValueError(f"save_model: the optimizer's parameter {i} (shape {p.shape}) is not a weight of "
                             f"{model._label()}; a checkpoint stores the optimizer state of the model's own weights")
        param_weights.append(position[id(p)])
    state_dict = optimizer.state_dict()
    tensors, plain_state = {}, {}
    for i, entries in state_dict["state"].items():
        plain = {}
        for name, value in entries.items():
            if isinstance(value, np.ndarray):
                tensors[f"{_OPTIMIZER_PREFIX}{int(i)}/{name}"] = _host_array(value)
            else:
                plain[name] = value
        plain_state[str(int(i))] = plain
    if hasattr(optimizer, "get_config"):
        config = optimizer.get_config()
    else:  # an optimizer class of a user's without get_config: its defaults are its hyperparameters
        config = {"class_name": type(optimizer).__name__, "config": dict(optimizer.defaults)}
    meta = {"config": config, "param_groups": state_dict["param_groups"], "state": plain_state,
            "param_weights": param_weights}
    return tensors, meta


def _compile_config(model):
    """``model.compile_config()`` of a compiled model, else None."""
    getter = getattr(model, "compile_config", None)
    if not callable(getter) or getattr(model, "optimizer", None) is None:
        return None  # never compiled (compile always sets an optimizer)
    return getter()


def _to_json(value, what) -> str:
    def default(obj):
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        raise TypeError(f"{type(obj).__name__} {obj!r}")

    try:
        return json.dumps(value, default=default, allow_nan=True)
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot save {what}: it holds a value that is not JSON-able ({error})") from None


def _canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def content_sha256(metadata: dict, tensors: dict) -> str:
    """The checksum of a file's content, as defined in the module docstring."""
    digest = hashlib.sha256()
    digest.update(_canonical({k: v for k, v in metadata.items() if k != "sha256"}) + b"\n")
    for key in sorted(tensors):
        array = np.ascontiguousarray(tensors[key])
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)
        digest.update(_canonical([key, array.dtype.str, list(array.shape)]) + b"\n")
        digest.update(array.tobytes(order="C"))
    return digest.hexdigest()


def _write(path, tensors: dict, metadata: dict) -> None:
    metadata = dict(metadata)
    metadata["sha256"] = content_sha256(metadata, tensors)
    payload = safetensors.numpy.save(tensors, metadata=metadata)
    write_atomically(path, payload)


def write_atomically(path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that ``path`` never holds a partial file: write a
    temporary file in the same directory, flush and fsync it, ``os.replace`` it onto
    ``path``, fsync the directory. On any error the temporary file is removed."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path!r}: the directory {directory!r} does not exist")
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # 0o666 filtered by the umask, as for any new file (mkstemp would force 0o600)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems do not fsync directories; the rename is still atomic
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------
# reading and verifying

def read_checkpoint(path) -> tuple[dict, dict]:
    """``(metadata, tensors)`` of a fastnn file after checking its structure, format and
    checksum; ``CheckpointError`` says what is wrong otherwise. ``metadata`` maps str to
    str (JSON text for the JSON keys), ``tensors`` names to host numpy arrays."""
    path = os.fspath(path)
    with open(path, "rb") as file:
        data = file.read()
    where = f"{path!r}"
    if len(data) < 8:
        raise CheckpointError(f"{where} is not a fastnn checkpoint: it has {len(data)} bytes, fewer than the 8-byte "
                              f"header length that starts every safetensors file (empty or truncated)")
    header_length = int.from_bytes(data[:8], "little")
    if header_length > len(data) - 8:
        raise CheckpointError(f"{where} is truncated or not a safetensors file: its first 8 bytes announce a "
                              f"{header_length}-byte header, but only {len(data) - 8} bytes follow")
    try:
        header = json.loads(data[8:8 + header_length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CheckpointError(f"{where} is not a safetensors file, or its header is corrupt: the "
                              f"{header_length}-byte header is not valid JSON") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{where} is not a safetensors file: its header is not a JSON object")
    metadata = header.get("__metadata__")
    if not isinstance(metadata, dict) or metadata.get("format") not in _FORMATS:
        found = "no fastnn metadata" if not isinstance(metadata, dict) else f"format {metadata.get('format')!r}"
        raise CheckpointError(f"{where} is a safetensors file but not a fastnn checkpoint ({found}; expected "
                              f"format {CHECKPOINT_FORMAT!r} or {WEIGHTS_FORMAT!r})")
    version = metadata.get("format_version")
    if version != str(FORMAT_VERSION):
        raise CheckpointError(f"{where} has checkpoint format version {version!r}; this fastnn reads version "
                              f"{FORMAT_VERSION} (written by fastnn {metadata.get('fastnn_version', '?')})")
    data_length = len(data) - 8 - header_length
    offsets = [info.get("data_offsets") for name, info in header.items() if name != "__metadata__"
               and isinstance(info, dict)]
    needed = max((o[1] for o in offsets if isinstance(o, list) and len(o) == 2 and isinstance(o[1], int)),
                 default=0)  # malformed entries are left to the safetensors parser below
    if needed > data_length:
        raise CheckpointError(f"{where} is truncated: its tensors need {needed} bytes of data after the header, "
                              f"the file has {data_length}")
    try:
        tensors = safetensors.numpy.load(data)
    except Exception as error:  # the safetensors parser's own error type varies between versions
        raise CheckpointError(f"{where} is corrupt: its safetensors structure does not parse ({error})") from None
    expected = metadata.get("sha256")
    if not expected:
        raise CheckpointError(f"{where} has no checksum (metadata 'sha256'); it was not written by fastnn")
    actual = content_sha256(metadata, tensors)
    if actual != expected:
        raise CheckpointError(f"{where} is corrupt: its content has SHA-256 {actual}, but the file records "
                              f"{expected} (changed or damaged after it was written)")
    return metadata, tensors


# ---------------------------------------------------------------------------------------
# the metadata schema: every field a loader reads, checked before anything is built

_MISSING = object()                       # a field that is not there
_INDEX = re.compile(r"0|[1-9][0-9]*")     # a list index written as a JSON object key
_MAX_INT64 = 2**63 - 1


def _join(path, key) -> str:
    return f"{path}.{key}" if path else str(key)


def _show(value) -> str:
    try:  # a JSON value as the file spells it; anything else (an argument) as Python does
        text = json.dumps(value) if isinstance(value, (dict, list)) else repr(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Context:
    """What the walker needs besides a value: the file (for messages), its tensors (for the
    cross-checks), and the classes the caller offers (``custom_objects``); ``resolve``:
    a layer class the file names must exist (load_model rebuilds the architecture)."""

    def __init__(self, where, tensors, custom_objects=None, resolve=False, model_class="?"):
        self.where, self.tensors, self.model_class = where, tensors, model_class
        self.custom_objects, self.resolve = dict(custom_objects or {}), resolve
        self.architecture = None  # the whole architecture, for the message about unknown classes

    def fail(self, path, expected, value, got=None):
        if got is None:
            got = "nothing (the field is missing)" if value is _MISSING else _show(value)
        raise CheckpointError(f"{self.where}: checkpoint field '{path}' must be {expected}, got {got}")

    def layer_class(self, name, path, root):
        """The class a layer config names (custom_objects first, then fastnn's), or None
        where it is unknown and the caller does not need it."""
        Model = layers.get("Model")
        if name in self.custom_objects:
            cls = self.custom_objects[name]
            if not (isinstance(cls, type) and issubclass(cls, Layer)):
                raise TypeError(f"load_model: custom_objects[{name!r}] must be a fastnn Layer or Model class (the "
                                f"saved architecture uses {name!r} as one), got {_show(cls)}")
        else:
            cls = _known_layer_class(name, {})
        if cls is None:
            if not self.resolve:
                return None
            unknown = _unknown_classes(self.architecture, self.custom_objects) or [name]
            hint = ", ".join(f"{n!r}: {n}" for n in unknown)
            raise CheckpointError(
                f"{self.where}: checkpoint field '{path}': the model uses class{'es' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))} that fastnn does not define (the model was a "
                f"{self.model_class}); fastnn never imports code named in a file, so pass the classes: "
                f"load_model(path, custom_objects={{{hint}}})")
        if root and not issubclass(cls, Model):
            self.fail(path, "the name of a fastnn.Model class (Sequential, or a subclass from custom_objects)",
                      name, got=f"{name!r}, which is {cls.__module__}.{cls.__qualname__}")
        return cls


class _Node:
    """One node of the schema. ``check(value, path, ctx)`` returns the value (decoded, for
    JSON text and decimal strings) or raises ``CheckpointError`` naming the field by
    ``path``; ``expected`` says what the field must be, in the words of the message."""

    expected = "a JSON value"

    def fits(self, value) -> bool:      # the value's kind (and range, for scalars)
        return value is not _MISSING

    def walk(self, value, path, ctx):   # the parts of a value of the right kind
        return value

    def check(self, value, path, ctx):
        if value is _MISSING or not self.fits(value):
            ctx.fail(path, self.expected, value)
        return self.walk(value, path, ctx)


_ANY = _Node()


class _Is(_Node):
    """A scalar for which ``test(value)`` holds, returned through ``convert``."""

    def __init__(self, test, expected, convert=None):
        self.test, self.expected, self.convert = test, expected, convert

    def fits(self, value):
        return self.test(value)

    def walk(self, value, path, ctx):
        return value if self.convert is None else self.convert(value)


def _str(choices=None, pattern=None, expected="a string") -> _Is:
    if choices is not None:
        return _Is(lambda v: isinstance(v, str) and v in choices, f"one of {', '.join(map(repr, choices))}")
    if pattern is not None:
        return _Is(lambda v: isinstance(v, str) and re.fullmatch(pattern, v) is not None, expected)
    return _Is(lambda v: isinstance(v, str), expected)


def _int(low=0, high=_MAX_INT64) -> _Is:
    return _Is(lambda v: type(v) is int and low <= v <= high, f"an int in [{low}, {high}]")


def _decimal(low=0, high=_MAX_INT64) -> _Is:
    """A metadata string holding a decimal int in [low, high]; checked to that int."""
    return _Is(lambda v: isinstance(v, str) and re.fullmatch(r"[0-9]{1,20}", v) is not None and
               low <= int(v) <= high, f"the decimal digits of an int in [{low}, {high}]", int)


def _real(finite=True) -> _Is:  # JSON's numbers: int or float, not bool
    return _Is(lambda v: type(v) in (int, float) and (not finite or math.isfinite(v)),
               "a finite number" if finite else "a number")


_BOOL = _Is(lambda v: isinstance(v, bool), "true or false")
_STR = _str()


class _Maybe(_Node):
    """``node`` or null."""

    def __init__(self, node):
        self.node, self.expected = node, f"{node.expected} or null"

    def fits(self, value):
        return value is None or self.node.fits(value)

    def walk(self, value, path, ctx):
        return None if value is None else self.node.walk(value, path, ctx)


class _List(_Node):
    def __init__(self, item, min_length=0, length=None, expected=None):
        self.item, self.min_length, self.length = item, min_length, length
        if expected is None:
            expected = f"a list of {length}" if length is not None else "a non-empty list" if min_length else "a list"
        self.expected = expected

    def fits(self, value):
        return isinstance(value, list) and len(value) >= self.min_length and \
            (self.length is None or len(value) == self.length)

    def walk(self, value, path, ctx):
        return [self.item.check(v, _join(path, i), ctx) for i, v in enumerate(value)]


class _Obj(_Node):
    """A JSON object with the ``fields`` (name -> node; those in ``optional`` may be
    absent); other keys are checked by ``extra`` (None: not allowed). ``rule(value, path,
    ctx)`` then checks what ties the fields together."""

    def __init__(self, fields, optional=(), extra=None, rule=None, expected="an object"):
        self.fields, self.optional, self.extra, self.rule = fields, set(optional), extra, rule
        self.expected = expected

    def fits(self, value):
        return isinstance(value, dict)

    def walk(self, value, path, ctx):
        out = {}
        for name, node in self.fields.items():
            item = value.get(name, _MISSING)
            if item is _MISSING and name in self.optional:
                continue
            out[name] = node.check(item, _join(path, name), ctx)
        for name, item in value.items():
            if name not in self.fields:
                if self.extra is None:
                    ctx.fail(_join(path, name), f"absent ('{path or 'the metadata'}' has the fields "
                                                f"{', '.join(self.fields)})", item)
                out[name] = self.extra.check(item, _join(path, name), ctx)
        if self.rule is not None:
            self.rule(out, path, ctx)
        return out


class _Map(_Node):
    """A JSON object from keys matching ``key`` (a regular expression) to ``value`` nodes."""

    def __init__(self, key, key_expected, value):
        self.key, self.key_expected, self.value = re.compile(key), key_expected, value
        self.expected = f"an object keyed by {key_expected}"

    def fits(self, value):
        return isinstance(value, dict)

    def walk(self, value, path, ctx):
        for name in value:
            if not self.key.fullmatch(name):
                ctx.fail(path, self.expected, None, got=f"the key {name!r}")
        return {name: self.value.check(item, _join(path, name), ctx) for name, item in value.items()}


class _Json(_Node):
    """A metadata string holding JSON text of ``node``: returns the decoded value."""

    def __init__(self, node):
        self.node, self.expected = node, f"JSON text of {node.expected}"

    def fits(self, value):
        return isinstance(value, str)

    def walk(self, value, path, ctx):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            ctx.fail(path, self.expected, value, got=f"text that is not JSON: {_show(value)}")
        return self.node.check(decoded, path, ctx)


class _Shape(_Node):
    """A feature shape (a list of sizes >= 0, null for a size known only at call time),
    or a non-empty list of such shapes (a model of several inputs)."""

    expected = "a shape (a list of ints >= 0 or null) or a non-empty list of shapes"
    _DIMS = _List(_Maybe(_int()))

    def fits(self, value):
        return isinstance(value, list)

    def walk(self, value, path, ctx):
        if value and all(isinstance(v, list) for v in value):
            return [self.check(v, _join(path, i), ctx) for i, v in enumerate(value)]
        return self._DIMS.check(value, path, ctx)


class _LayerConfig(_Node):
    """A layer's ``get_config()``: a class name, fastnn's own keys, the class's own keys
    (checked when the layer is made), and for a ``Sequential`` its list of layer configs."""

    expected = "a layer config (an object with 'class_name')"
    _FIELDS = _Obj({"class_name": _STR, "name": _Maybe(_STR), "dtype": _Maybe(_str(("float32", "float64"))),
                    "trainable": _BOOL}, optional=("name", "dtype", "trainable"), extra=_ANY)

    def __init__(self, root=False):
        self.root = root

    def fits(self, value):
        return isinstance(value, dict)

    def walk(self, value, path, ctx):
        if self.root:
            ctx.architecture = value
        out = self._FIELDS.walk(value, path, ctx)
        cls = ctx.layer_class(out["class_name"], _join(path, "class_name"), self.root)
        if cls is not None and issubclass(cls, layers.get("Sequential")):
            out["layers"] = _List(_LAYER).check(value.get("layers", _MISSING), _join(path, "layers"), ctx)
        return out


_LAYER = _LayerConfig()
_CLASS_CONFIG = _Obj({"class_name": _STR, "config": _Obj({}, extra=_ANY)})  # an optimizer's get_config()
_NAMED_CONFIG = _Obj({"class_name": _STR, "config": _Maybe(_Obj({}, extra=_ANY))}, optional=("config",),
                     extra=_ANY)  # a loss's or metric's get_config()


def _check_contents(doc, path, ctx) -> None:
    """What ties the metadata to the tensors: every listed weight has its tensor (floats),
    every tensor is a weight or an optimizer buffer, and the optimizer's entries refer to
    parameters and weights that exist, with buffers of their weights' shape and dtype."""
    checkpoint = doc["format"] == CHECKPOINT_FORMAT  # in a weights file, other keys are free text
    tensors, weights = ctx.tensors, doc["weights"]
    optimizer = doc.get("optimizer") if checkpoint else None
    listed = {}
    for i, entry in enumerate(weights):
        key, field = entry["key"], f"weights.{i}.key"
        if key in listed:
            ctx.fail(field, f"a tensor key no other weight has (weight {listed[key]} has it)", key)
        if key.startswith(_OPTIMIZER_PREFIX):
            ctx.fail(field, f"a weight tensor's key (keys under {_OPTIMIZER_PREFIX!r} hold optimizer buffers)", key)
        if key not in tensors:
            ctx.fail(field, "the key of a tensor in the file", key, got=f"{key!r}, which the file does not hold")
        if tensors[key].dtype not in _FLOAT_DTYPES:
            ctx.fail(f"weights.{i}", "a float32 or float64 tensor", None,
                     got=f"tensor {key!r} of dtype {tensors[key].dtype}")
        listed[key] = i
    n = len(optimizer["param_weights"]) if optimizer is not None else 0
    buffers = []
    for key in sorted(tensors):
        if key in listed:
            continue
        index, _, buffer = key[len(_OPTIMIZER_PREFIX):].partition("/")
        if optimizer is None or not key.startswith(_OPTIMIZER_PREFIX) or not _INDEX.fullmatch(index) or not buffer:
            ctx.fail("weights", "a list naming every weight tensor of the file", None,
                     got=f"a list without the file's tensor {key!r} (and it is no buffer 'optimizer/<i>/<name>' "
                         f"of an optimizer's parameter i)")
        buffers.append((int(index), buffer, key))
    if optimizer is None:
        return
    positions = optimizer["param_weights"]
    owner = {}
    for i, w in enumerate(positions):
        field = f"optimizer.param_weights.{i}"
        if w >= len(weights):
            ctx.fail(field, f"the position of a weight in 'weights' (< {len(weights)})", w)
        if w in owner:
            ctx.fail(field, f"a weight no other optimizer parameter has (parameter {owner[w]} has weight {w})", w)
        owner[w] = i
    order = [j for group in optimizer["param_groups"] for j in group["params"]]
    if order != list(range(n)):
        ctx.fail("optimizer.param_groups", f"groups whose 'params' are, in order, the parameters 0 to {n - 1} "
                                           f"(one for each entry of 'optimizer.param_weights')",
                 None, got=f"params {_show([group['params'] for group in optimizer['param_groups']])}")
    for index in optimizer["state"]:
        if int(index) >= n:
            ctx.fail(f"optimizer.state.{index}", f"absent: the optimizer has {n} parameters (0 to {n - 1})",
                     optimizer["state"][index])
    for i, buffer, key in sorted(buffers):
        field = f"optimizer.state.{i}.{buffer}"
        if i >= n:
            ctx.fail(field, f"absent: the optimizer has {n} parameters (0 to {n - 1})", None,
                     got=f"the tensor {key!r}")
        if str(i) not in optimizer["state"]:
            ctx.fail(f"optimizer.state.{i}", "the state of a parameter that has buffers (an object with 'step')",
                     _MISSING)
        weight = weights[positions[i]]
        array, like = tensors[key], tensors[weight["key"]]
        if array.shape != like.shape or array.dtype != like.dtype:
            ctx.fail(field, f"an array of shape {like.shape} and dtype {like.dtype}, those of the weight "
                            f"{weight['name']!r} it belongs to", None,
                     got=f"tensor {key!r} of shape {array.shape} and dtype {array.dtype}")
    compiled = doc.get("compile") if checkpoint else None
    if compiled is not None and compiled["optimizer"]["class_name"] != optimizer["config"]["class_name"]:
        ctx.fail("optimizer.config.class_name",
                 f"{compiled['optimizer']['class_name']!r}, the class of the compiled optimizer "
                 f"('compile.optimizer.class_name')", optimizer["config"]["class_name"])


_COMMON_FIELDS = {
    "format": _str(_FORMATS),
    "format_version": _str((str(FORMAT_VERSION),)),
    "fastnn_version": _STR,
    "backend": _STR,
    "model_class": _STR,
    "weights": _Json(_List(_Obj({"key": _STR, "name": _STR}), expected="a list of {key, name} objects")),
    "build": _Json(_Obj({"input_shape": _Maybe(_Shape()), "input_dtype": _str(("float32", "float64", "int64"))})),
    "sha256": _str(pattern=r"[0-9a-f]{64}", expected="a SHA-256 in hex"),
}
#: The metadata of a file of save_weights and of save_model (other keys: any string, ignored)
_SCHEMA = {
    WEIGHTS_FORMAT: _Obj(_COMMON_FIELDS, extra=_STR, rule=_check_contents, expected="the metadata"),
    CHECKPOINT_FORMAT: _Obj({
        **_COMMON_FIELDS,
        "architecture": _Json(_LayerConfig(root=True)),
        "trainable": _Json(_List(_BOOL, min_length=1, expected="a non-empty list of true or false (one per layer)")),
        "optimizer": _Json(_Obj({
            "config": _CLASS_CONFIG,
            "param_groups": _List(_Obj({"params": _List(_int())}, extra=_ANY)),
            "state": _Map(_INDEX.pattern, "parameter indices ('0', '1', ...)", _Obj({"step": _int()})),
            "param_weights": _List(_int()),
        })),
        "compile": _Json(_Obj({"optimizer": _CLASS_CONFIG, "loss": _Maybe(_NAMED_CONFIG),
                               "metrics": _List(_NAMED_CONFIG)})),
        # offset: blocks drawn; past 2**63 the rest of the stream could not even hold one more model's draws
        "rng_state": _Json(_Obj({"seed": _int(0, 2**64 - 1), "offset": _int()})),
        "epoch": _decimal(),
    }, optional=("optimizer", "compile", "trainable"), extra=_STR, rule=_check_contents, expected="the metadata"),
}


def _hyperparameter_schema(defaults) -> _Obj:
    """A parameter group of an optimizer with these defaults: each hyperparameter present,
    of its default's kind (the group's other keys, 'params' included, are free)."""
    def node(default):
        if isinstance(default, (bool, np.bool_)):
            return _BOOL
        if isinstance(default, (tuple, list)):
            return _List(_real(), length=len(default), expected=f"a list of {len(default)} finite numbers")
        if isinstance(default, (int, float, np.integer, np.floating)):
            return _real(finite=bool(np.isfinite(default)))
        return _STR if isinstance(default, str) else _ANY

    return _Obj({key: node(value) for key, value in defaults.items()}, extra=_ANY)


def validate_metadata(metadata, tensors, where="the checkpoint", custom_objects=None, resolve=False) -> dict:
    """The metadata of a fastnn file (``read_checkpoint``'s output) checked against the
    schema of its format, with the JSON fields decoded and "epoch" an int. Every field a
    loader reads is checked for its type (and range), the tensors for agreement with the
    metadata; ``CheckpointError`` names the first field that is wrong (its path, such as
    ``optimizer.state.3.exp_avg``). ``resolve``: every layer class the architecture names
    must be fastnn's or in ``custom_objects`` (load_model)."""
    ctx = _Context(where, tensors, custom_objects, resolve, metadata.get("model_class", "?"))
    file_format = metadata.get("format")
    schema = _SCHEMA[file_format if file_format in _FORMATS else CHECKPOINT_FORMAT]  # a wrong one is named
    try:
        return schema.check(metadata, "", ctx)
    except RecursionError:
        raise CheckpointError(f"{where}: the metadata is nested too deeply to be a fastnn checkpoint") from None


# ---------------------------------------------------------------------------------------
# loading

def load_model(path, backend=None, custom_objects=None, compile=True):
    """The model saved at ``path`` by ``save_model``, rebuilt on ``backend`` (default: the
    current backend, whatever backend it was saved from) with its weights.

    ``custom_objects``: a dict {"ClassName": class} for the model's own class when it
    subclasses ``fnn.Model`` (its ``__init__`` makes its layers, so that class is enough),
    for user layer classes inside a ``Sequential``, and for user losses and metrics; fastnn
    never imports a class named in a file (anything but a dict with string keys is a
    ``TypeError``). ``compile`` (True or False): re-compile from the saved compile settings
    and restore the optimizer with its state (when the checkpoint has them); False gives
    the bare model. Always restores ``model.epoch`` and, last, fastnn's global random
    state, so that ``model.fit(..., initial_epoch=model.epoch)`` continues exactly.

    The whole metadata is checked (``validate_metadata``) before anything is made, and the
    weights and optimizer state against the rebuilt model before any is set; on an error
    fastnn's random state is as it was before the call.
    """
    custom_objects = _custom_objects(custom_objects)
    if not isinstance(compile, (bool, np.bool_)):
        raise TypeError(f"load_model: compile must be True or False, got {_show(compile)}")
    metadata, tensors = read_checkpoint(path)
    where = repr(os.fspath(path))
    if metadata["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{where} holds weights only (written by save_weights), not a whole model; build the "
                              f"model in code and call model.load_weights({where})")
    backend = backends.get(backend).name if backend is not None else backends.get_backend()
    doc = validate_metadata(metadata, tensors, where, custom_objects, resolve=True)

    rng_state = fnn_random.get_rng_state()
    try:  # building draws initial values: an error leaves the random state as it was
        with backends.use_backend(backend):
            model = _rebuild(doc["architecture"], custom_objects, where)
        _build_if_needed(model, doc["build"], where)
        if "trainable" in doc:   # files written before layers could be frozen: all trainable
            _restore_trainable(model, doc["trainable"], where)
        arrays = _match_weights(model, doc["weights"], tensors, where, exact_dtype=True)
        optimizer = None
        if compile:
            compile_config = doc.get("compile")
            if compile_config is not None and hasattr(model, "compile_from_config"):
                try:
                    model.compile_from_config(compile_config, custom_objects=custom_objects)
                except Exception as error:
                    raise CheckpointError(
                        f"{where}: checkpoint field 'compile': cannot compile the model again from the saved "
                        f"settings ({error}); pass the user functions or classes it names in custom_objects, or "
                        f"load with compile=False") from error
                optimizer = getattr(model, "optimizer", None)
            if doc.get("optimizer") is not None:
                ctx = _Context(where, tensors, custom_objects)
                optimizer = _restore_optimizer(model, optimizer, doc["optimizer"], tensors, custom_objects, ctx)
        # every check passed: set the weights, the optimizer, the epoch, and last the random state
        model.set_weights(arrays)
        if optimizer is not None:
            model.optimizer = optimizer
        model.epoch = doc["epoch"]
    except BaseException:
        fnn_random.set_rng_state(rng_state)
        raise
    fnn_random.set_rng_state(doc["rng_state"])  # last: nothing after it draws
    return model


def load_weights(model, path) -> None:
    """Set the weights of ``model`` from a file of ``save_weights`` (or ``save_model``).

    Weights are matched in ``model.weights`` order; each must have the saved weight's
    kind (the part of its name after the last "/", e.g. "kernel") and shape, else a
    ``CheckpointError`` names the first that does not fit. Values are cast to the model's
    dtypes. An unbuilt model is first built from the input shape recorded in the file
    (one zero batch in inference mode); fastnn's random state is left as it was.

    Atomic: the file's metadata, the count, kinds and shapes of the weights are all checked
    before any weight is set; after an error the model's weights are those it had (an
    unbuilt model is unbuilt again).
    """
    if not isinstance(model, Layer):
        raise TypeError(f"load_weights: model must be a fastnn model or layer, got {type(model).__name__}")
    metadata, tensors = read_checkpoint(path)
    where = repr(os.fspath(path))
    doc = validate_metadata(metadata, tensors, where)
    saved_layers = None if model.built else _layer_states(model)
    rng_state = fnn_random.get_rng_state()
    try:
        # building draws initial values that are overwritten at once: leave no trace of them
        _build_if_needed(model, doc["build"], where)
        arrays = _match_weights(model, doc["weights"], tensors, where, exact_dtype=False)
    except BaseException:
        if saved_layers is not None:
            _restore_layer_states(saved_layers)
        raise
    finally:
        fnn_random.set_rng_state(rng_state)
    model.set_weights(arrays)


def _custom_objects(custom_objects) -> dict:
    """``load_model``'s custom_objects as a dict of name -> class or function."""
    if custom_objects is None:
        return {}
    if not isinstance(custom_objects, Mapping):
        raise TypeError(f"load_model: custom_objects must be a dict {{name: class or function}}, got "
                        f"{_show(custom_objects)} ({type(custom_objects).__name__})")
    for name in custom_objects:
        if not isinstance(name, str):
            raise TypeError(f"load_model: custom_objects must be a dict {{name: class or function}} with string "
                            f"names, got the key {name!r} ({type(name).__name__})")
    return dict(custom_objects)


def _layer_states(model) -> list:
    """What building changes in ``model`` and its sub-layers: each one's attributes (lists
    and dicts copied one level, since build appends to them)."""
    return [(layer, {k: (copy.copy(v) if isinstance(v, (list, dict, set)) else v) for k, v in vars(layer).items()})
            for layer in model._walk()]


def _restore_layer_states(states) -> None:
    for layer, attributes in states:
        vars(layer).clear()
        vars(layer).update(attributes)


def _known_layer_class(name, custom_objects):
    if name in custom_objects:
        return custom_objects[name]
    try:
        return layers.get(name)
    except ValueError:
        return None


def _unknown_classes(config, custom_objects) -> list:
    """Class names in a (nested) layer config that neither fastnn nor custom_objects provides."""
    unknown = []
    if isinstance(config, dict):
        name = config.get("class_name")
        if isinstance(name, str) and _known_layer_class(name, custom_objects) is None:
            unknown.append(name)
        nested = config.get("layers")
        for value in nested if isinstance(nested, list) else ():
            unknown += [n for n in _unknown_classes(value, custom_objects) if n not in unknown]
    return unknown


def _rebuild(config, custom_objects, where):
    """A fresh, unbuilt (or eagerly built) model from the saved architecture (checked by
    the schema: its classes exist and the outer one is a Model)."""
    Sequential = layers.get("Sequential")
    cls = _known_layer_class(config["class_name"], custom_objects)
    try:
        if issubclass(cls, Sequential):
            # Sequential.from_config itself: fastnn.layers.deserialize drops custom_objects for nested layers
            model = cls.from_config(config, custom_objects)
        else:
            model = _instantiate_subclass(cls, config)
        if config.get("dtype") and model.dtype is None:  # Sequential.from_config leaves it to the first call
            model.dtype = float_dtype(config["dtype"])
        return model
    except CheckpointError:
        raise
    except Exception as error:  # whatever a layer's constructor makes of a value it does not take
        raise CheckpointError(f"{where}: checkpoint field 'architecture': cannot rebuild the model from its saved "
                              f"architecture: {error}") from error


def _instantiate_subclass(cls, config):
    """A subclassed model from its config: ``cls.from_config`` when the class defines one,
    else ``cls(**config)`` with the keys its ``__init__`` accepts (Layer's own keys, name
    and dtype, are set afterwards when ``__init__`` does not take them)."""
    if getattr(cls.from_config, "__func__", None) is not Layer.from_config.__func__:
        return cls.from_config(config)
    kwargs = {k: v for k, v in config.items() if k != "class_name"}
    parameters = inspect.signature(cls.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in parameters}
    try:
        model = cls(**kwargs)
    except TypeError as error:
        raise CheckpointError(
            f"cannot make {cls.__name__}(**{kwargs!r}): {error}. A model whose __init__ takes arguments must "
            f"return them from get_config() (config = super().get_config(); config.update(units=...)) so "
            f"that load_model can pass them back, or define the classmethod from_config(config)") from None
    if "name" in config and "name" not in kwargs:
        model.name = config["name"]
    return model


def _build_if_needed(model, build, where) -> None:
    """Create the weights of a lazily built model: one zero batch of the saved feature shape
    and dtype, in inference mode (no dropout draws, batch norm on its running statistics),
    without a graph."""
    if model.built:
        return
    shape = build["input_shape"]
    if shape is None:
        raise CheckpointError(f"{where}: {model._label()} is not built and the file does not record the input "
                              f"shape to build it (checkpoint field 'build.input_shape' is null); call the model "
                              f"on a batch before loading the weights")
    dtype = np.dtype(build["input_dtype"])

    def zeros(s):
        if s and isinstance(s[0], list):
            return [zeros(part) for part in s]
        return make_tensor(np.zeros((2,) + tuple(1 if d is None else int(d) for d in s), dtype=dtype),
                           dtype=dtype, backend=model.backend)  # a tensor keeps the dtype (arrays are cast)

    try:  # the outputs are thrown away: no warnings about what a model's hyperparameters make of zeros
        with no_grad(), np.errstate(all="ignore"):
            model(zeros(shape), training=False)
    except Exception as error:
        raise CheckpointError(f"{where}: checkpoint field 'build.input_shape': cannot build {model._label()} "
                              f"from a zero batch of feature shape {_show(shape)} and dtype {dtype} "
                              f"({type(error).__name__}: {error})") from error


def _match_weights(model, saved, tensors, where, exact_dtype) -> list:
    """The saved weights (``saved``: the checked 'weights' entries) as arrays for
    ``model.set_weights``, after checking them all against the model's, in order: count,
    kind, shape, and with ``exact_dtype`` (a model rebuilt from the file) dtype."""
    named = model.named_weights()
    if len(saved) != len(named):
        first = next((i for i, (s, (n, _)) in enumerate(zip(saved, named)) if _kind(s["name"]) != _kind(n)),
                     min(len(saved), len(named)))
        raise CheckpointError(
            f"{where}: checkpoint field 'weights': the file holds {len(saved)} weights but {model._label()} has "
            f"{len(named)}; they first differ at weight {first}: the model's "
            f"{_name_at([n for n, _ in named], first)} vs the file's {_name_at([s['name'] for s in saved], first)} "
            f"(the architecture does not match)")
    arrays = []
    for i, (entry, (name, weight)) in enumerate(zip(saved, named)):
        array = tensors[entry["key"]]
        if tuple(array.shape) != tuple(weight.shape) or _kind(entry["name"]) != _kind(name):
            raise CheckpointError(
                f"{where}: checkpoint field 'weights.{i}': weight {i} does not match: the model's {name!r} has "
                f"shape {tuple(weight.shape)}, the file's {entry['name']!r} has shape {tuple(array.shape)} (the "
                f"architecture does not match)")
        if exact_dtype and array.dtype != weight.dtype:
            raise CheckpointError(
                f"{where}: checkpoint field 'weights.{i}': weight {i} does not match: the model rebuilt from the "
                f"file has {name!r} of dtype {weight.dtype}, the file's {entry['name']!r} is {array.dtype}")
        arrays.append(array)
    return arrays


def _restore_trainable(model, flags, where) -> None:
    """Set ``trainable`` of every layer of the rebuilt model (in ``_walk`` order) from the
    checked 'trainable' field, each layer's own flag alone (the field lists them all)."""
    walk = model._walk()
    if len(flags) != len(walk):
        raise CheckpointError(f"{where}: checkpoint field 'trainable' must be a list of {len(walk)} flags, one per "
                              f"layer of the model rebuilt from the file, got {len(flags)} (the architecture "
                              f"does not match)")
    for layer, flag in zip(walk, flags):   # parents first: each layer then sets its own weights' flags
        layer._set_trainable(flag, recursive=False)


def _kind(weight_name: str) -> str:
    """The weight's own name inside its layer ("kernel" of "dense_1/kernel")."""
    return weight_name.rsplit("/", 1)[-1]


def _name_at(names, i) -> str:
    return repr(names[i]) if i < len(names) else "(none: the list ends before)"


def _restore_optimizer(model, optimizer, meta, tensors, custom_objects, ctx):
    """The saved optimizer (``optimizer``, made by compile, or a new one from the saved
    config) on the model's weights, with its hyperparameters, buffers and step counts.
    ``meta`` is the checked 'optimizer' field; what depends on the optimizer's class (its
    hyperparameters, the buffers its state needs) and on the model (trainable weights)
    is checked here, before the optimizer is given its groups."""
    from . import optim

    where, config = ctx.where, meta["config"]
    if optimizer is None:
        name = config["class_name"]
        cls = custom_objects.get(name)
        if cls is not None and not (isinstance(cls, type) and issubclass(cls, optim.Optimizer)):
            raise TypeError(f"load_model: custom_objects[{name!r}] must be an optimizer class (the checkpoint's "
                            f"optimizer is a {name}), got {_show(cls)}")
        try:
            optimizer = cls(**dict(config["config"])) if cls is not None else optim.from_config(config)
        except Exception as error:
            known = cls is not None or name in optim.optimizers._REGISTRY
            hint = "" if known else (f"; for an optimizer class of your own pass load_model(path, "
                                     f"custom_objects={{{name!r}: {name}}})")
            raise CheckpointError(f"{where}: checkpoint field 'optimizer.config': cannot rebuild the optimizer "
                                  f"{name!r} ({error}){hint}") from None
    weights, named = model.weights, model.named_weights()
    # declared trainable, frozen or not: compile hands an optimizer the frozen weights too
    optimizable = {id(t) for t in model._optimizable_weights()}
    params = []
    for i, w in enumerate(meta["param_weights"]):
        if id(weights[w]) not in optimizable or not weights[w].is_leaf:
            ctx.fail(f"optimizer.param_weights.{i}", "the position of a trainable weight", w,
                     got=f"{w}, the position of {named[w][0]!r}, which is not trainable")
        params.append(weights[w])
    groups = meta["param_groups"]
    if not groups:
        return optimizer
    defaults = getattr(optimizer, "defaults", {})
    schema = _hyperparameter_schema(defaults)
    typed = []
    for g, group in enumerate(groups):
        group = schema.check(group, f"optimizer.param_groups.{g}", ctx)
        # JSON turned tuples (Adam's betas) into lists: give hyperparameters back their type
        group = {k: (tuple(v) if isinstance(v, list) and isinstance(defaults.get(k), tuple) else v)
                 for k, v in group.items()}
        validate = getattr(optimizer, "_validate", None)
        try:
            if validate is not None:
                validate({**defaults, **group})
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"{where}: checkpoint field 'optimizer.param_groups.{g}': {error}") from None
        typed.append(group)
    state = {int(i): dict(plain) for i, plain in meta["state"].items()}
    for key, array in tensors.items():
        if key.startswith(_OPTIMIZER_PREFIX):
            index, buffer = key[len(_OPTIMIZER_PREFIX):].split("/", 1)
            state[int(index)][buffer] = array
    group_of = {j: group for group in typed for j in group["params"]}
    buffers_for = getattr(optimizer, "buffers_for", None)
    for i, entry in sorted(state.items()):
        needed = tuple(buffers_for(group_of[i])) if callable(buffers_for) else ()
        for buffer in needed:
            if buffer not in entry:
                ctx.fail(f"optimizer.state.{i}.{buffer}", f"a tensor 'optimizer/{i}/{buffer}' (the state of a "
                                                          f"parameter of {type(optimizer).__name__} with these "
                                                          f"hyperparameters has {', '.join(needed)})", _MISSING)
    try:
        # the saved grouping, on the rebuilt weights (a compiled optimizer's own groups are replaced)
        optimizer.param_groups = []
        optimizer.state = {}
        for group in typed:
            optimizer._add_param_group({**group, "params": [params[j] for j in group["params"]]}, allow_frozen=True)
        optimizer.load_state_dict({"state": state, "param_groups": typed})
    except Exception as error:
        raise CheckpointError(f"{where}: checkpoint field 'optimizer': the optimizer state does not fit the model "
                              f"({error})") from None
    return optimizer


__all__ = ["CheckpointError", "load_model", "load_weights", "read_checkpoint", "save_model", "save_weights",
           "content_sha256", "validate_metadata", "write_atomically", "FORMAT_VERSION"]
