"""Looking inside a network: per-layer gradient norms and per-layer outputs.

Two questions come up whenever a deep network trains badly:

1. Does the gradient reach the first layers? Backpropagation multiplies the error
   signal delta_l = dL/dz_l by each layer's Jacobian on its way to the input
   (z_l = a_(l-1) W_l + b_l, a_l = f(z_l), W_l of shape (in, out) as in Dense),

       delta_(l-1) = (delta_l W_l^T) * f'(z_(l-1)),    dL/dW_l = a_(l-1)^T delta_l,

   so a factor below 1 per layer (a sigmoid's f' is at most 1/4) makes the gradients
   of the first layers vanish, and a factor above 1 makes them explode.
   :func:`gradient_norms` reports ||dL/dW_l||_2 for every layer l, input to output.

2. Do the activations keep a sensible scale from layer to layer? A bad initialisation
   makes them shrink to zero, blow up, or saturate. :func:`layer_outputs` runs a
   ``Sequential`` one layer at a time and keeps every layer's output, for histograms;
   :func:`activation_statistics` summarises each one (mean, standard deviation, ...).

Both work on any backend; what they return is on the host (Python floats, numpy arrays).

    from fastnn import diagnostics

    loss = F.sparse_categorical_crossentropy(model(x), y)
    loss.backward()
    diagnostics.gradient_norms(model)          # {"dense": 3.1e-06, ..., "dense_9": 0.42}
    for name, a in diagnostics.layer_outputs(model, x):
        print(name, a.mean(), a.std())
"""

from __future__ import annotations

import numpy as np

from . import validation
from .grad_mode import no_grad
from .layers.base import Layer
from .tensor import Tensor, tensor


def _layers_with_weight(model: Layer, weight: str) -> list:
    """(layer, tensor) for every layer of the tree that owns a trainable weight called ``weight``,
    in the order the layers were added (depth first): input to output for a Sequential."""
    found = []
    for layer in model._walk():
        for spec in layer.__dict__.get("_weight_specs", ()):
            if spec.name == weight and spec.trainable:
                found.append((layer, getattr(layer, spec.name)))
    return found


def _unique_names(layers) -> list:
    """Each layer's name; a name used twice gets its position appended ("dense (3)")."""
    names = [layer.name for layer in layers]
    return [name if names.count(name) == 1 else f"{name} ({i})" for i, name in enumerate(names)]


def gradient_norms(model: Layer, weight: str = "kernel") -> dict:
    """The L2 norm of the gradient of each layer's ``weight`` (the kernel by default),
    after ``loss.backward()``:

        ||g||_2 = sqrt( sum_ij g_ij^2 ),    g = dL/dW of the layer

    Returns ``{layer name: norm}`` as Python floats, ordered input -> output (the order
    the layers were added). Layers without such a trainable weight (activations,
    pooling, batch norm for "kernel") are left out, and so is a layer whose weight got no
    gradient in the last backward pass (it was not used). The sums run in float64.

    Raises ``TypeError`` if ``model`` is not a layer or model, ``ValueError`` if no layer
    has a trainable weight called ``weight``, and ``RuntimeError`` if none of those
    weights has a gradient yet (call ``loss.backward()`` first; ``zero_grad()`` clears them).
    """
    if not isinstance(model, Layer):
        raise TypeError(f"gradient_norms: model must be a fastnn model or layer, got {type(model).__name__}")
    if not isinstance(weight, str):
        raise TypeError(f"gradient_norms: weight must be a weight name such as 'kernel', got {weight!r}")
    entries = _layers_with_weight(model, weight)
    if not entries:
        raise ValueError(f"gradient_norms: no layer of {model._label()} has a trainable weight called {weight!r} "
                         f"(is the model built? Dense and Conv2D call theirs 'kernel')")
    if all(t.grad is None for _, t in entries):
        raise RuntimeError(f"gradient_norms: no {weight!r} of {model._label()} has a gradient yet; compute a loss "
                           f"from the model's output and call loss.backward() first")
    norms = {}
    for name, (_, t) in zip(_unique_names([layer for layer, _ in entries]), entries):
        if t.grad is None:
            continue  # this layer took no part in the last backward pass
        g = t.grad.numpy().astype(np.float64)  # host copy; float64 so that tiny norms do not underflow
        norms[name] = float(np.sqrt(np.sum(g * g)))
    return norms


def _check_features(model, x) -> Tensor:
    """``x`` as a tensor on the model's backend, checked as ``predict`` checks it (numeric,
    non-empty, of the model's feature shape; an unbuilt model is built on it), plus the two
    things only layer_outputs asks: a tensor already on the model's backend, and a batch axis."""
    if isinstance(x, Tensor) and x.backend != model.backend:
        raise ValueError(f"layer_outputs: x lives on the {x.backend!r} backend, the model on {model.backend!r}; "
                         f"move it with x.to({model.backend!r})")
    array = validation.prepare_features(model, x, "layer_outputs: x", check_values=False)
    if array.ndim < 2:
        raise ValueError(f"layer_outputs: x must be a non-empty batch of shape (batch, features...), "
                         f"got shape {tuple(array.shape)}")
    validation.check_features(model, array, "layer_outputs: x")
    return tensor(array, backend=model.backend)


def layer_outputs(model, x, training: bool = False) -> list:
    """Run a ``Sequential`` on the batch ``x`` one layer at a time and keep every output:

        a_0 = x,    a_l = layer_l(a_(l-1))    for l = 1 .. L

    Returns ``[(layer name, a_l as a host numpy array), ...]``, one entry per layer
    (``Input`` left out), in order. A ``Dense(..., activation="relu")`` layer's output
    is after its activation; put an ``Activation`` layer after a plain ``Dense`` to see
    the pre-activations too. No graph is recorded.

    ``training`` is the mode every layer runs in: False (the default) is inference
    (dropout off, batch norm on its running statistics) and changes nothing; True draws
    dropout masks and, like any training-mode call, updates batch norm's running statistics.

    Raises ``TypeError`` for a model that is not a ``Sequential`` (a subclassed Model's
    ``call`` may branch, so there is no single chain of outputs) or a non-numeric ``x``,
    ``ValueError`` for an ``x`` that is not a non-empty batch of the model's input shape.
    """
    from .models import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"layer_outputs: model must be a fastnn.Sequential (a chain of layers), got "
                        f"{type(model).__name__}; for a subclassed Model record what you need inside its call()")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"layer_outputs: training must be True or False, got {training!r}")
    x = _check_features(model, x)
    layers = model.layers
    if not layers:
        raise ValueError(f"layer_outputs: {model._label()} has no layers")
    outputs = []
    with no_grad():
        for name, layer in zip(_unique_names(layers), layers):
            x = layer(x, training=bool(training))
            outputs.append((name, x.numpy()))
    return outputs


def activation_statistics(model, x, training: bool = False) -> list:
    """Summary statistics of every layer's output on the batch ``x`` (see :func:`layer_outputs`):

        mean = (1/n) sum a,    std = sqrt( (1/n) sum (a - mean)^2 )    over all n values of a_l
        rms  = sqrt( (1/n) sum a^2 ) = sqrt(mean^2 + std^2)    (the scale that Glorot and He
               initialisation are designed to keep from layer to layer)
        min, max      = the extremes of a
        zero_fraction = share of values exactly 0 (units a ReLU has switched off)

    How close to saturation a tanh or sigmoid layer runs depends on the activation, so it
    is not guessed here: compute it from :func:`layer_outputs` (e.g. mean(|a| > 0.99) for tanh).

    Returns ``[{"name", "mean", "std", "rms", "min", "max", "zero_fraction"}, ...]``, Python
    floats, one dict per layer in order. Errors as :func:`layer_outputs`.
    """
    stats = []
    for name, a in layer_outputs(model, x, training=training):
        a = a.astype(np.float64)
        stats.append({"name": name, "mean": float(a.mean()), "std": float(a.std()),
                      "rms": float(np.sqrt(np.mean(a * a))), "min": float(a.min()),
                      "max": float(a.max()), "zero_fraction": float(np.mean(a == 0.0))})
    return stats


__all__ = ["activation_statistics", "gradient_norms", "layer_outputs"]
