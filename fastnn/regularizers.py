"""Weight regularizers: penalties added to the training loss (Keras' ``kernel_regularizer=``).

    l2(lam):        lam * sum(w^2)          (gradient 2 lam w: weight decay)
    l1(lam):        lam * sum(|w|)          (gradient lam sign(w): drives weights to zero)
    l1_l2(l1, l2):  l1 * sum(|w|) + l2 * sum(w^2)

A regularizer is a callable ``reg(weight) -> 0-d Tensor``. Layers accept one through
``kernel_regularizer=`` (and the other ``*_regularizer`` arguments) as

* a regularizer object, ``fastnn.regularizers.l2(0.01)``,
* any callable ``weight -> Tensor``,
* a float ``lam``, meaning ``l2(lam)``,
* the strings ``"l2"`` / ``"l1"`` / ``"l1_l2"`` (Keras' default factor 0.01).

The penalties appear in ``layer.losses`` / ``model.losses``, computed from the current
weights each time they are read. As in Keras, a hand-written training loop adds them:
``loss = criterion(model(x), y) + sum(model.losses)``.
"""

from __future__ import annotations

import math
import numbers

from . import arguments
from .ops.losses import l2 as _l2_penalty

DEFAULT_FACTOR = 0.01  # Keras' default for "l1" / "l2"


def _factor(value, where, name):
    """A penalty factor: a finite number >= 0 (NaN or inf would make every loss NaN or inf)."""
    if not arguments.is_real(value):
        raise TypeError(f"{where}: {name} must be a non-negative finite number, got {arguments._show(value)}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{where}: {name} must be a non-negative finite number, got {value!r}")
    return float(value)


class Regularizer:
    """Base class: ``__call__(weight) -> 0-d Tensor`` and a JSON-able ``get_config()``."""

    def __call__(self, weight):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"class_name": type(self).__name__}

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "class_name")
        return f"{type(self).__name__}({args})"


class L2(Regularizer):
    """lam * sum(w^2); runs through the ``l2`` op (F.l2), so its gradient is 2 lam w."""

    def __init__(self, l2=DEFAULT_FACTOR):
        self.l2 = _factor(l2, "L2", "l2")

    def __call__(self, weight):
        return _l2_penalty(weight, self.l2)

    def get_config(self):
        return {"class_name": "L2", "l2": self.l2}


class L1(Regularizer):
    """lam * sum(|w|); the gradient lam sign(w) is a subgradient (0 at w = 0)."""

    def __init__(self, l1=DEFAULT_FACTOR):
        self.l1 = _factor(l1, "L1", "l1")

    def __call__(self, weight):
        return weight.abs().sum() * self.l1

    def get_config(self):
        return {"class_name": "L1", "l1": self.l1}


class L1L2(Regularizer):
    """l1 * sum(|w|) + l2 * sum(w^2)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "L1L2", "l1")
        self.l2 = _factor(l2, "L1L2", "l2")

    def __call__(self, weight):
        penalty = _l2_penalty(weight, self.l2)
        if self.l1:
            penalty = penalty + weight.abs().sum() * self.l1
        return penalty

    def get_config(self):
        return {"class_name": "L1L2", "l1": self.l1, "l2": self.l2}


def l2(l2=DEFAULT_FACTOR) -> L2:  # noqa: E741 - Keras' name
    """The L2 penalty ``l2 * sum(w^2)``."""
    return L2(l2)


def l1(l1=DEFAULT_FACTOR) -> L1:
    """The L1 penalty ``l1 * sum(|w|)``."""
    return L1(l1)


def l1_l2(l1=DEFAULT_FACTOR, l2=DEFAULT_FACTOR) -> L1L2:
    """Both penalties: ``l1 * sum(|w|) + l2 * sum(w^2)`` (Keras' defaults 0.01 each)."""
    return L1L2(l1, l2)


_BY_NAME = {"l2": l2, "l1": l1, "l1_l2": l1_l2}
_CLASSES = {"L2": L2, "L1": L1, "L1L2": L1L2}


_EXPECTED = (f"None, a factor >= 0 (l2), a name ({', '.join(map(repr, _BY_NAME))}), a config dict "
             f"or a callable weight -> Tensor")


def get(identifier, where="regularizers.get", name="identifier"):
    """A regularizer (or None) from None, a regularizer/callable, a float, a name or a config dict.

    A bad identifier raises a TypeError/ValueError that names ``where`` (the layer class
    that was given it, e.g. "Dense") and ``name`` (its argument, "kernel_regularizer")."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"{where}: {name} must be {_EXPECTED}, got unknown regularizer {identifier!r}; "
                             f"valid names are {', '.join(_BY_NAME)}")
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict):
        return deserialize(identifier, where, name)
    if isinstance(identifier, numbers.Real) and not isinstance(identifier, bool):
        return L2(_factor(identifier, where, name))
    if callable(identifier):
        return identifier
    raise TypeError(f"{where}: {name} must be {_EXPECTED}, got {arguments._show(identifier)}")


def serialize(regularizer):
    """JSON-able description of a regularizer (None stays None)."""
    if regularizer is None:
        return None
    if isinstance(regularizer, Regularizer):
        return regularizer.get_config()
    # A user's function cannot be rebuilt from JSON; its name at least says what it was.
    return {"class_name": "callable", "name": getattr(regularizer, "__qualname__", repr(regularizer))}


def deserialize(config, where="regularizers.deserialize", name="config"):
    """The regularizer of ``serialize``'s output (None stays None)."""
    if config is None:
        return None
    config = dict(arguments.mapping(config, where, name))
    cls = _CLASSES.get(config.pop("class_name", None))
    if cls is None:
        raise ValueError(f"{where}: {name} must be the config of one of {', '.join(_CLASSES)}, got {config!r}: "
                         f"cannot rebuild the regularizer")
    fields = set(cls().get_config()) - {"class_name"}
    unknown = sorted(set(config) - fields, key=str)
    if unknown:
        raise ValueError(f"{where}: {name} must hold only the keys {sorted(fields)} of {cls.__name__}, "
                         f"got {unknown[0]!r}")
    for key, value in config.items():
        _factor(value, where, f"{name}[{key!r}]")
    return cls(**config)


__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize", "deserialize"]
