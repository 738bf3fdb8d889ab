"""Input validation for ``fit`` / ``evaluate`` / ``predict``: everything is checked before
the first step, so nothing is ever trained on bad data.

Each check raises a ValueError (wrong values or shapes) or a TypeError (wrong kinds of
data) that names the argument and says what was expected and what was given:

  dtype        numbers only: strings, objects and complex numbers are a TypeError; integer
               and boolean features are converted to the model's float dtype (kept as
               integers for a model that starts with an Embedding, which takes ids)
  empty        at least one sample
  lengths      x and y hold the same number of samples
  finite       no nan or inf in x or y; the message names the first bad element,
               e.g. ``x[17, 3] is nan``
  integers     integers that int64 holds (a uint64 beyond it would wrap around)
  ids          for a model that starts with an Embedding: integer ids (floats are a
               TypeError), all of x in [0, input_dim) before the first step; for a model
               of your own (a subclass of Model) the ids only in [0, the largest
               input_dim of its Embeddings), since which column reaches which Embedding
               shows only when its batch runs
  features     the feature shape (batch axis excluded) is the one a built model takes
  targets      by loss: sparse categorical cross-entropy takes integer labels (floats
               only when integral) in [0, classes) with the output's shape less its class
               axis; categorical cross-entropy targets of the output's shape with values
               in [0, 1]; binary cross-entropy targets in [0, 1] of the output's shape
               ((N,) for an (N, 1) output too); regression targets of the output's shape.
  batches      a model with batch normalisation gets no training batch with a single
               value per channel (``check_batch_statistics``)

Value checks over the whole data set take the minimum and maximum first (one pass each,
no temporary arrays) and look for the first bad element only when there is one.
"""

from __future__ import annotations

import numpy as np

from . import arguments
from . import backend as backends
from . import layers
from .data import as_array
from .grad_mode import no_grad
from .layers.base import Layer, _shapes_match, format_shape
from .layers.core import Input
from .layers.embedding import Embedding
from .layers.normalization import BatchNormalization
from .tensor import Tensor, tensor


def _label_shape_text(label_shape) -> str:
    """``(N,)`` or ``(N, 5)``: the shape of integer labels, batch axis first."""
    return "(" + ", ".join(["N", *map(str, label_shape)]) + ("," if not label_shape else "") + ")"


def _xp_of(array):
    return backends.of_array(array).xp


_host = backends.to_host


def _index_text(what, index) -> str:
    return f"{what}[{', '.join(str(int(i)) for i in index)}]"


def _first_bad(xp, bad):
    """The index of the first True of a boolean array (C order), on the host."""
    return _host(xp.argwhere(bad)[0])


def _check_fits_int64(data, what):
    """Unsigned 64-bit integers beyond int64's range would wrap around to negatives when
    ``as_array`` makes them int64: a ValueError naming the first one. Returns ``data``
    (made an array when it was a list, so that it is converted once)."""
    raw = data.data if isinstance(data, Tensor) else data
    if not backends.is_array(raw):
        try:
            raw = data = np.asarray(raw)
        except (TypeError, ValueError):
            return data  # ragged: as_array says so
    if raw.dtype.kind != "u" or raw.dtype.itemsize < 8 or raw.size == 0:
        return data
    limit = np.iinfo(np.int64).max
    if int(raw.max()) > limit:
        bad = _first_bad(_xp_of(raw), raw > limit)
        raise ValueError(f"{_index_text(what, bad)} is {int(_host(raw[tuple(bad)]))}: {what} must hold integers that "
                         f"int64 holds, in [{np.iinfo(np.int64).min}, {limit}]")
    return data


def to_array(data, what, float_dtype="float32"):
    """``data`` as a numeric numpy/cupy array (see ``fastnn.data.as_array``) with a sample axis."""
    array = as_array(_check_fits_int64(data, what), what, float_dtype)
    if array.ndim == 0:
        raise ValueError(f"{what} must have a sample axis (shape (N, ...)), got a scalar")
    return array


def check_not_empty(array, what) -> None:
    if array.shape[0] == 0:
        raise ValueError(f"{what} is empty: expected at least one sample, got shape {tuple(array.shape)}")


def check_lengths(x, y, x_name="x", y_name="y") -> None:
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{x_name} and {y_name} must hold the same number of samples, got {x.shape[0]} in "
                         f"{x_name} (shape {tuple(x.shape)}) and {y.shape[0]} in {y_name} (shape {tuple(y.shape)})")


def check_finite(array, what) -> None:
    """No nan or inf in a float array; the error names the first bad element (C order)."""
    if array.dtype.kind != "f":
        return
    xp = _xp_of(array)
    finite = xp.isfinite(array)
    if bool(finite.all()):
        return
    bad = _host(xp.argwhere(~finite)[0])
    value = float(_host(array[tuple(bad)]))
    raise ValueError(f"{_index_text(what, bad)} is {value}: {what} must hold finite numbers (no nan or inf)")


def takes_integer_inputs(model) -> bool:
    """True when the model's first layer is an Embedding (it takes integer ids)."""
    return isinstance(_first_layer(model), Embedding)


def _first_layer(layer):
    """The first layer of ``layer``'s tree, depth first, that is not a model, an Input or a
    bare Layer; None if there is none. It stops there: fit asks on every call, and a full
    walk of the tree (``_walk``) costs microseconds a layer."""
    if not (isinstance(layer, (layers.get("Model"), Input)) or type(layer) is Layer):
        return layer
    for child in layer._sublayers():
        found = _first_layer(child)
        if found is not None:
            return found
    return None


def _input_layer(model):
    """The layer a plain stack of layers (a Sequential, or Sequentials nested first in one
    another) hands its input to; None for a model whose ``call`` is its own."""
    layer = model
    while isinstance(layer, layers.get("Model")):
        chain = layer._direct_chain()
        chain = [inner for inner in chain or () if not isinstance(inner, Input)]
        if not chain:
            return None
        layer = chain[0]
    return layer


def check_ids(model, x, what="x") -> None:
    """For a model that starts with an Embedding: ``x`` holds integer ids in range, all of
    it, before anything runs (min and max first; the first bad id named when there is one).

    A stack of layers: ids in [0, input_dim) of its first layer, and floats are a
    TypeError. A model of your own: ids in [0, the largest input_dim of its Embeddings),
    the most that holds whichever Embedding each column reaches."""
    if takes_integer_inputs(model):
        _check_ids(model, x, what)


def _check_ids(model, x, what) -> None:
    first = _input_layer(model)
    if isinstance(first, Embedding):
        if x.dtype.kind not in "iu":
            raise TypeError(f"{what} must hold integer ids for the model's first layer, {first._label()}, got "
                            f"dtype {x.dtype}; convert with .astype('int64')")
        high = first.input_dim
        rule = f"the model's first layer, {first._label()}, takes ids in [0, {high - 1}] (input_dim={high})"
    else:
        dims = [layer.input_dim for layer in model._walk() if isinstance(layer, Embedding)]
        if x.dtype.kind not in "iu" or not dims:
            return
        high = max(dims)
        rule = f"the model's Embedding layers take ids in [0, {high - 1}] (the largest input_dim is {high})"
    if x.size == 0 or (int(x.min()) >= 0 and int(x.max()) < high):
        return
    bad = _first_bad(_xp_of(x), (x < 0) | (x >= high))
    raise ValueError(f"{_index_text(what, bad)} is {int(_host(x[tuple(bad)]))}, out of range: {rule}")


def prepare_features(model, x, what="x", check_values=True):
    """x as an array ready for the model: numeric, non-empty, finite (``check_values``),
    floats in the model's dtype (integers too, unless the model takes ids, which are
    then checked against the Embedding: ``check_ids``)."""
    dtype = model.dtype or np.dtype("float32")
    x = to_array(x, what, dtype)
    check_not_empty(x, what)
    if takes_integer_inputs(model):
        _check_ids(model, x, what)
    elif x.dtype.kind != "f":
        x = x.astype(dtype)
    if check_values:
        check_finite(x, what)
    return x


def static_feature_shape(model):
    """The feature shape a built model takes (None where sizes may vary), else None."""
    if not model.built:
        return None
    shape = model.input_shape
    if shape is None or isinstance(shape, list):
        return None
    return tuple(shape)


def probe(model, x, what="x"):
    """Run the model once on the first sample of ``x``, in inference mode and without a
    graph: it builds an unbuilt model and reports the output shape, with nothing trained.
    A layer's shape or dtype complaint becomes an error about ``what``."""
    sample = tensor(x[:1], backend=model.backend)  # numpy or cupy data, onto the model's backend
    try:
        with no_grad():
            out = model(sample, training=False)
    except (ValueError, TypeError) as exc:
        expected = static_feature_shape(model)
        expect = f"feature shape {format_shape(expected)}" if expected is not None else "another input"
        raise type(exc)(f"{what} has feature shape {format_shape(tuple(x.shape[1:]))} (shape {tuple(x.shape)}), "
                        f"but the model takes {expect}: {exc}") from None
    return out


def _declares_input(model) -> bool:
    """A Sequential that starts with Input(shape) (or input_shape=): its feature shape is fixed."""
    stack = getattr(model, "_layers", None)
    if not stack:
        return False
    return isinstance(stack[0], Input) or stack[0]._declared_input_shape is not None


def check_features(model, x, what="x"):
    """The model's output feature shape for inputs like ``x`` (building the model if needed);
    a ValueError when ``x``'s feature shape is not the one the model takes."""
    expected = static_feature_shape(model)
    actual = tuple(x.shape[1:])
    output = model.output_shape
    if expected is not None and _shapes_match(expected, actual) and isinstance(output, tuple) and output:
        return tuple(output[1:])
    if expected is not None and not _shapes_match(expected, actual) and _declares_input(model):
        raise ValueError(f"{what} has feature shape {format_shape(actual)} (shape {tuple(x.shape)}), but the model "
                         f"takes feature shape {format_shape(expected)} (batch axis excluded)")
    out = probe(model, x, what)
    if isinstance(out, (list, tuple)):
        return None  # several outputs: the loss checks them
    return tuple(out.shape[1:])


def _output_text(output_shape) -> str:
    return format_shape((None,) + tuple(output_shape))


def _shape_for(y_shape, output_shape, column_ok=True) -> bool:
    if _shapes_match(tuple(output_shape), tuple(y_shape)):
        return True
    return column_ok and len(output_shape) == 1 and output_shape[0] == 1 and len(y_shape) == 0


def prepare_targets(loss, y, output_shape, n_x, what="y", float_dtype="float32", check_values=True):
    """y as an array ready for ``loss`` against outputs of feature shape ``output_shape``
    (None: unknown), checked as the module docstring says."""
    task = getattr(loss, "task", None)
    y = to_array(y, what, float_dtype)
    check_not_empty(y, what)
    if check_values:
        check_finite(y, what)
    if task == "sparse":
        return _sparse_labels(y, output_shape, what, check_values)
    if task in ("binary", "categorical", "regression"):
        if y.dtype.kind != "f":
            y = y.astype(float_dtype)
        if output_shape is not None and not _shape_for(tuple(y.shape[1:]), output_shape):
            hint = ""
            if task == "categorical" and y.ndim == 1:
                hint = ("; integer class labels need loss='sparse_categorical_crossentropy' "
                        "(categorical_crossentropy takes one-hot rows)")
            raise ValueError(f"{what} has shape {tuple(y.shape)}, but the model's outputs have shape "
                             f"{_output_text(output_shape)}: {loss.name} expects targets of shape "
                             f"(N, {', '.join('?' if s is None else str(s) for s in output_shape)}){hint}")
        if task in ("binary", "categorical") and check_values:
            _check_unit_interval(y, what, loss.name)
    return y


def _check_unit_interval(y, what, loss_name) -> None:
    if y.size == 0 or (float(y.min()) >= 0 and float(y.max()) <= 1):
        return
    bad = _first_bad(_xp_of(y), (y < 0) | (y > 1))
    value = float(_host(y[tuple(bad)]))
    raise ValueError(f"{_index_text(what, bad)} is {value}: {loss_name} expects targets in [0, 1]")


def _sparse_labels(y, output_shape, what, check_values):
    xp = _xp_of(y)
    if y.dtype.kind == "f":
        fractional = y != xp.floor(y)
        if bool(fractional.any()):
            bad = _host(xp.argwhere(fractional)[0])
            raise ValueError(f"{_index_text(what, bad)} is {float(_host(y[tuple(bad)]))}: "
                             f"sparse_categorical_crossentropy expects integer class labels")
        if y.size and float(xp.abs(y).max()) >= 2.0 ** 63:   # the cast would wrap: say so with the value given
            bad = _first_bad(xp, xp.abs(y) >= 2.0 ** 63)
            raise ValueError(f"{_index_text(what, bad)} is {float(_host(y[tuple(bad)]))}, out of range: "
                             f"sparse_categorical_crossentropy expects integer class labels that int64 holds")
        y = y.astype("int64")
    if output_shape is None:
        return y
    if len(output_shape) == 0:
        raise ValueError(f"sparse_categorical_crossentropy needs outputs with a class axis (N, classes), but the "
                         f"model's outputs have shape {_output_text(output_shape)}")
    label_shape = tuple(output_shape[:-1])
    if not _shapes_match(label_shape, tuple(y.shape[1:])):
        if y.ndim >= 2 and y.shape[-1] == 1 and _shapes_match(label_shape, tuple(y.shape[1:-1])):
            y = y.reshape(y.shape[:-1])  # a column of labels (N, 1)
        else:
            hint = ""
            if tuple(y.shape[1:]) == tuple(output_shape):
                hint = "; one-hot targets need loss='categorical_crossentropy'"
            raise ValueError(f"{what} has shape {tuple(y.shape)}, but the model's outputs have shape "
                             f"{_output_text(output_shape)}: sparse_categorical_crossentropy expects integer "
                             f"labels of shape {_label_shape_text(label_shape)}{hint}")
    classes = output_shape[-1]
    if check_values and classes is not None and y.size and not (int(y.min()) >= 0 and int(y.max()) < classes):
        bad = _first_bad(xp, (y < 0) | (y >= classes))
        raise ValueError(f"{_index_text(what, bad)} is {int(_host(y[tuple(bad)]))}, out of range: the model "
                         f"outputs {classes} classes, so labels must be in [0, {classes - 1}]")
    return y


def check_validation_split(validation_split, n, where="fit") -> int:
    """The number of samples the split keeps for validation (the last ones)."""
    validation_split = arguments.real(validation_split, where, "validation_split", low=0.0, high=1.0,
                                      high_open=True)
    n_val = int(n * validation_split)
    if validation_split > 0 and (n_val == 0 or n_val == n):
        raise ValueError(f"{where}: validation_split={validation_split} of {n} samples leaves {n - n_val} to train "
                         f"on and {n_val} to validate; use a split that keeps at least one sample on each side")
    return n_val


def check_batch_statistics(model, num_samples, batch_size, drop_last=False, where="fit") -> None:
    """Every training batch gives each batch-normalisation layer more than one value per
    channel, else its batch variance is undefined and the step fails when that batch
    comes, after the earlier ones have trained. Checked before the first step on the
    smallest batch an epoch makes (the last one, or a batch_size of 1); the model is built."""
    # a frozen batch norm runs in inference mode (Keras' rule): it takes no batch statistics
    norms = [layer for layer in model._walk() if isinstance(layer, BatchNormalization) and layer.built
             and layer.trainable and isinstance(layer._build_input_shape, tuple)]
    if not norms or num_samples == 0:
        return
    last = num_samples % batch_size
    smallest = min(batch_size, num_samples) if drop_last or not last else last
    for layer in norms:
        spatial = layer._build_input_shape[1:]
        if any(s is None for s in spatial):
            continue
        per_sample = int(np.prod(spatial, dtype=np.int64))   # values per channel one sample brings
        if smallest * per_sample < 2:
            which = "every batch has" if smallest == batch_size else "the last batch has"
            raise ValueError(f"{where}: batch_size={batch_size} with {num_samples} training samples: {which} "
                             f"{smallest} sample, but {layer._label()} normalises a training batch over more than "
                             f"one value per channel (its inputs have feature shape "
                             f"{format_shape(layer._build_input_shape)}); choose a batch_size that leaves no batch "
                             f"of one sample, or drop the last batch (DataLoader(..., drop_last=True))")


__all__ = ["to_array", "check_not_empty", "check_lengths", "check_finite", "prepare_features",
           "prepare_targets", "check_features", "probe", "check_validation_split", "takes_integer_inputs",
           "check_ids", "check_batch_statistics"]
