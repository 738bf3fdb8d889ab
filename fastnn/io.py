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
    architecture    (checkpoints) JSON of ``model.get_config()`` (with "class_name")
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
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import secrets

import numpy as np
import safetensors.numpy

from . import backend as backends
from . import layers
from . import random as fnn_random
from ._version import __version__
from .grad_mode import no_grad
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
    except (UnicodeDecodeError, ValueError):
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


def _json_field(metadata, key, where, default=None):
    if key not in metadata:
        return default
    try:
        return json.loads(metadata[key])
    except ValueError:
        raise CheckpointError(f"{where}: the metadata {key!r} is not valid JSON") from None


# ---------------------------------------------------------------------------------------
# loading

def load_model(path, backend=None, custom_objects=None, compile=True):
    """The model saved at ``path`` by ``save_model``, rebuilt on ``backend`` (default: the
    current backend, whatever backend it was saved from) with its weights.

    ``custom_objects``: {"ClassName": class} for the model's own class when it subclasses
    ``fnn.Model`` (its ``__init__`` makes its layers, so that class is enough), and for user
    layer classes inside a ``Sequential``; fastnn never imports a class named in a file. ``compile``: re-compile from the saved compile settings and restore the
    optimizer with its state (when the checkpoint has them); False gives the bare model.
    Always restores ``model.epoch`` and, last, fastnn's global random state, so that
    ``model.fit(..., initial_epoch=model.epoch)`` continues exactly.
    """
    metadata, tensors = read_checkpoint(path)
    where = repr(os.fspath(path))
    if metadata["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{where} holds weights only (written by save_weights), not a whole model; build the "
                              f"model in code and call model.load_weights({where})")
    backend = backends.get(backend).name if backend is not None else backends.get_backend()
    custom_objects = dict(custom_objects or {})
    config = _json_field(metadata, "architecture", where)
    if not isinstance(config, dict) or "class_name" not in config:
        raise CheckpointError(f"{where}: the checkpoint has no architecture (metadata 'architecture')")

    with backends.use_backend(backend):
        model = _rebuild(config, custom_objects, metadata, where)
    _build_if_needed(model, _json_field(metadata, "build", where, {}), where)
    _assign_weights(model, metadata, tensors, where)

    if compile:
        optimizer = None
        compile_config = _json_field(metadata, "compile", where)
        if compile_config is not None and hasattr(model, "compile_from_config"):
            try:
                model.compile_from_config(compile_config, custom_objects=custom_objects)
            except (TypeError, ValueError) as error:
                raise CheckpointError(f"{where}: cannot compile the model again from the saved settings ({error}); "
                                      f"pass the user functions or classes it names in custom_objects, or load "
                                      f"with compile=False") from error
            optimizer = getattr(model, "optimizer", None)
        optimizer_meta = _json_field(metadata, "optimizer", where)
        if optimizer_meta is not None:
            model.optimizer = _restore_optimizer(model, optimizer, optimizer_meta, tensors, custom_objects, where)
    model.epoch = int(metadata.get("epoch", 0))
    state = _json_field(metadata, "rng_state", where)
    if state is not None:
        fnn_random.set_rng_state(state)  # last: nothing after it draws
    return model


def load_weights(model, path) -> None:
    """Set the weights of ``model`` from a file of ``save_weights`` (or ``save_model``).

    Weights are matched in ``model.weights`` order; each must have the saved weight's
    kind (the part of its name after the last "/", e.g. "kernel") and shape, else a
    ``CheckpointError`` names the first that does not fit. Values are cast to the model's
    dtypes. An unbuilt model is first built from the input shape recorded in the file
    (one zero batch in inference mode); fastnn's random state is left as it was.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"load_weights: model must be a fastnn model or layer, got {type(model).__name__}")
    metadata, tensors = read_checkpoint(path)
    where = repr(os.fspath(path))
    state = fnn_random.get_rng_state()
    try:
        # building draws initial values that are overwritten at once: leave no trace of them
        _build_if_needed(model, _json_field(metadata, "build", where, {}), where)
    finally:
        fnn_random.set_rng_state(state)
    _assign_weights(model, metadata, tensors, where)


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
        for value in config.get("layers", ()) or ():
            unknown += [n for n in _unknown_classes(value, custom_objects) if n not in unknown]
    return unknown


def _rebuild(config, custom_objects, metadata, where):
    """A fresh, unbuilt (or eagerly built) model from the saved architecture."""
    Model, Sequential = layers.get("Model"), layers.get("Sequential")
    unknown = _unknown_classes(config, custom_objects)
    if unknown:
        origin = metadata.get("model_class", "?")
        hint = ", ".join(f"{n!r}: {n}" for n in unknown)
        raise CheckpointError(f"{where}: the model uses class{'es' if len(unknown) > 1 else ''} "
                              f"{', '.join(map(repr, unknown))} that fastnn does not define (the model was a "
                              f"{origin}); fastnn never imports code named in a file, so pass the classes: "
                              f"load_model(path, custom_objects={{{hint}}})")
    cls = _known_layer_class(config["class_name"], custom_objects)
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise CheckpointError(f"{where}: the architecture's class {config['class_name']!r} is "
                              f"{cls!r}, not a subclass of fastnn.Model")
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
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{where}: cannot rebuild the model from its saved architecture: {error}") from error


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
    shape = (build or {}).get("input_shape")
    if shape is None:
        raise CheckpointError(f"{where}: {model._label()} is not built and the file does not record the input "
                              f"shape to build it; call the model on a batch before loading the weights")
    dtype = np.dtype((build or {}).get("input_dtype") or "float32")

    def zeros(s):
        if s and isinstance(s[0], list):
            return [zeros(part) for part in s]
        return make_tensor(np.zeros((2,) + tuple(1 if d is None else int(d) for d in s), dtype=dtype),
                           dtype=dtype, backend=model.backend)  # a tensor keeps the dtype (arrays are cast)

    with no_grad():
        model(zeros(shape), training=False)


def _assign_weights(model, metadata, tensors, where) -> None:
    """Check the saved weights against the model's, in order, then set them."""
    saved = _json_field(metadata, "weights", where)
    if not isinstance(saved, list):
        raise CheckpointError(f"{where}: the file has no list of weights (metadata 'weights')")
    named = model.named_weights()
    if len(saved) != len(named):
        first = next((i for i, (s, (n, _)) in enumerate(zip(saved, named)) if _kind(s["name"]) != _kind(n)),
                     min(len(saved), len(named)))
        raise CheckpointError(
            f"{where}: the file holds {len(saved)} weights but {model._label()} has {len(named)}; they first "
            f"differ at weight {first}: the model's {_name_at([n for n, _ in named], first)} vs the file's "
            f"{_name_at([s['name'] for s in saved], first)} (the architecture does not match)")
    arrays = []
    for i, (entry, (name, weight)) in enumerate(zip(saved, named)):
        if entry.get("key") not in tensors:
            raise CheckpointError(f"{where}: weight {entry.get('name')!r} is listed but its tensor "
                                  f"{entry.get('key')!r} is missing")
        array = tensors[entry["key"]]
        if tuple(array.shape) != tuple(weight.shape) or _kind(entry["name"]) != _kind(name):
            raise CheckpointError(
                f"{where}: weight {i} does not match: the model's {name!r} has shape {tuple(weight.shape)}, "
                f"the file's {entry['name']!r} has shape {tuple(array.shape)} (the architecture does not match)")
        arrays.append(array)
    model.set_weights(arrays)


def _kind(weight_name: str) -> str:
    """The weight's own name inside its layer ("kernel" of "dense_1/kernel")."""
    return weight_name.rsplit("/", 1)[-1]


def _name_at(names, i) -> str:
    return repr(names[i]) if i < len(names) else "(none: the list ends before)"


def _restore_optimizer(model, optimizer, meta, tensors, custom_objects, where):
    """The saved optimizer (``optimizer``, made by compile, or a new one from the saved
    config) on the model's weights, with its hyperparameters, buffers and step counts."""
    from . import optim

    config = meta.get("config") or {}
    if optimizer is None:
        name = config.get("class_name")
        cls = custom_objects.get(name)
        try:
            if cls is not None:
                optimizer = cls(**dict(config.get("config") or {}))
            else:
                optimizer = optim.from_config(config)
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"{where}: cannot rebuild the optimizer {name!r} ({error}); for an optimizer "
                                  f"class of your own pass load_model(path, custom_objects={{{name!r}: {name}}})"
                                  ) from None
    weights = model.weights
    try:
        params = [weights[i] for i in meta["param_weights"]]
    except IndexError:
        raise CheckpointError(f"{where}: the optimizer state refers to weights the model does not have") from None
    groups = meta.get("param_groups") or []
    if groups:
        # the saved grouping, on the rebuilt weights (a compiled optimizer's own groups are replaced)
        optimizer.param_groups = []
        optimizer.state = {}
        for group in groups:
            optimizer.add_param_group({"params": [params[i] for i in group["params"]]})
        state = {int(i): dict(plain) for i, plain in (meta.get("state") or {}).items()}
        for key, array in tensors.items():
            if key.startswith(_OPTIMIZER_PREFIX):
                index, buffer = key[len(_OPTIMIZER_PREFIX):].split("/", 1)
                state.setdefault(int(index), {})[buffer] = array
        # JSON turned tuples (Adam's betas) into lists: give hyperparameters back their type
        groups = [{k: (tuple(v) if isinstance(v, list) and isinstance(optimizer.defaults.get(k), tuple) else v)
                   for k, v in group.items()} for group in groups]
        try:
            optimizer.load_state_dict({"state": state, "param_groups": groups})
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise CheckpointError(f"{where}: the optimizer state does not fit the model ({error})") from None
    return optimizer


__all__ = ["CheckpointError", "load_model", "load_weights", "read_checkpoint", "save_model", "save_weights",
           "content_sha256", "write_atomically", "FORMAT_VERSION"]
