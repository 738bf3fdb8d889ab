"""Optimizers with PyTorch's update rules and defaults. Each ``step()`` runs one
fused update kernel per parameter, in place, on the parameter's backend.

Notation: p parameter, g its gradient, t the step count (from 1), lr the learning rate.

SGD(lr=1e-3, momentum=0, dampening=0, nesterov=False, weight_decay=0)
    g <- g + weight_decay p
    with momentum mu: b <- g at t = 1, else b <- mu b + (1 - dampening) g
                      g <- g + mu b (nesterov) or g <- b
    p <- p - lr g
RMSprop(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False)
    g <- g + weight_decay p;  v <- alpha v + (1 - alpha) g^2
    centered: m <- alpha m + (1 - alpha) g, d = sqrt(v - m^2) + eps;  else d = sqrt(v) + eps
    momentum mu > 0: b <- mu b + g / d, p <- p - lr b;  else p <- p - lr g / d
Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False)
    g <- g + weight_decay p   (L2 added to the gradient)
    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  amsgrad: vmax <- max(vmax, v), use vmax
    p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
AdamW(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False)
    p <- p (1 - lr weight_decay)   (decoupled decay), then Adam's update without L2

Parameters come as an iterable of tensors or of parameter groups (dicts with
"params" and per-group hyperparameters), as in PyTorch. ``params`` may be left
out and added later with ``add_param_group`` (Keras style: ``Adam(learning_rate=1e-3)``).

Frozen weights (``layer.trainable = False``; requires_grad False) are skipped by
``step()`` as parameters without a gradient are: not decayed, not moved by momentum or
Adam's moments, their state kept as it was, so unfreezing resumes from it. An optimizer
made by ``Model.compile`` holds every weight declared trainable, frozen or not, so that
unfreezing needs no new compile; one made from ``model.parameters()`` holds the weights
trainable at that moment.

Every optimizer also takes Keras' gradient clipping keywords, applied to the
gradients in ``step()`` before the update (formulas in ``fastnn.optim.clipping``);
at most one of them may be set:

    clipnorm=c         each parameter's gradient g <- g * c / max(||g||_2, c)
    global_clipnorm=c  all gradients g_i <- g_i * c / max(N, c), N = sqrt(sum_i ||g_i||_2^2)
    clipvalue=c        element-wise g <- min(max(g, -c), c)

The clipped gradient feeds the update only; ``p.grad`` keeps the gradient as computed.

Every hyperparameter is checked where it is set (constructor, ``add_param_group``, the
``lr`` setter, an assignment into ``param_groups[i]``, ``load_state_dict``), never in
``step()``: lr, weight_decay and momentum finite and >= 0, eps finite and > 0 (0 would
make 0 / 0 for a weight whose gradient is zero), alpha in [0, 1), dampening in [0, 1],
betas a pair in [0, 1), nesterov/centered/amsgrad bools. A
bad value raises a TypeError or ValueError naming the class and the argument, and
leaves the optimizer as it was.

``get_config()`` describes an optimizer as JSON-able data (class name and
hyperparameters, clipping included) and ``from_config`` rebuilds it without
parameters; the buffers travel separately in ``state_dict()``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import arguments
from ..tensor import Tensor
from .clipping import check_threshold, clip_by_global_norm, clip_by_norm, clip_by_value

#: the gradient clipping keywords every optimizer accepts (Keras' names)
CLIP_ARGUMENTS = ("clipnorm", "global_clipnorm", "clipvalue")

#: class name -> optimizer class, for from_config; every subclass registers itself
_REGISTRY: dict[str, type] = {}


def _refuse(error, where, name, expected, got: str):
    """The validators' message form with a described (not repr'd) value: "got shape (3,) float64"."""
    raise error(f"{where}: {name} must be {expected}, got {got}")


def _non_negative(value, where, name) -> float:
    """A finite real >= 0 (lr, weight_decay, momentum)."""
    if not arguments.is_real(value):
        arguments._fail(TypeError, where, name, "a non-negative number", value)
    if not (math.isfinite(value) and value >= 0):
        arguments._fail(ValueError, where, name, "non-negative (a finite number >= 0)", value)
    return float(value)


def _fraction(value, where, name, include_one=False) -> float:
    """A real in [0, 1) ([0, 1] with ``include_one``): a decay rate (alpha, dampening)."""
    return arguments.probability(value, where, name, include_one=include_one)


def _betas(value, where, name) -> tuple:
    """Two reals in [0, 1): Adam's (beta1, beta2). A JSON list reads back as the tuple."""
    expected = "a pair (beta1, beta2) of numbers in [0, 1)"
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        arguments._fail(TypeError, where, name, expected, value)
    if not all(arguments.is_real(b) for b in value):
        arguments._fail(TypeError, where, name, expected, value)
    if not all(math.isfinite(b) and 0 <= b < 1 for b in value):
        arguments._fail(ValueError, where, name, expected, value)
    return tuple(float(b) for b in value)


class ParamGroup(dict):
    """A parameter group: a dict ("params" and the hyperparameters) whose edits are checked
    before they are made, so ``opt.param_groups[0]["lr"] = "fast"`` raises and leaves the
    group as it was. Reads are plain dict reads: ``step()`` pays nothing for the checks."""

    def _checker(self):
        return self.__dict__.get("_optimizer_class")

    def _checked(self, changes: dict) -> dict:
        cls = self._checker()
        if cls is None:  # being rebuilt by pickle: the items come before the class
            return changes
        where = f"{cls.__name__} param group"
        if "learning_rate" in changes:
            if "lr" in changes:
                raise TypeError(f"{where}: give lr or learning_rate, not both")
            changes = {("lr" if k == "learning_rate" else k): v for k, v in changes.items()}
        unknown = sorted(set(changes) - set(cls.defaults) - {"params"}, key=str)
        if unknown:
            arguments._fail(ValueError, where, "a key", f"'params' or a hyperparameter of {cls.__name__} "
                  f"({', '.join(map(repr, cls.defaults))})", unknown[0])
        if "params" in changes:
            held = {id(p) for p in self.get("params", ())}   # frozen weights it holds may stay
            changes["params"] = _check_params(changes["params"], where, "params", held)
        checked = cls._validate({**self, **changes}, where)
        return {k: checked[k] for k in changes}

    def __setitem__(self, key, value):
        for k, v in self._checked({key: value}).items():
            dict.__setitem__(self, k, v)

    def update(self, *args, **kwargs):
        for k, v in self._checked(dict(*args, **kwargs)).items():
            dict.__setitem__(self, k, v)

    def __ior__(self, other):
        self.update(other)
        return self

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def _refuse_removal(self, key):
        cls = self._checker()
        if cls is not None and (key == "params" or key in cls.defaults):
            raise TypeError(f"{cls.__name__} param group: {key!r} cannot be removed; assign a new value instead")

    def __delitem__(self, key):
        self._refuse_removal(key)
        dict.__delitem__(self, key)

    def pop(self, key, *default):
        if key in self:
            self._refuse_removal(key)
        return dict.pop(self, key, *default)

    def popitem(self):
        if self and self._checker() is not None:
            raise TypeError(f"{self._checker().__name__} param group: entries cannot be removed")
        return dict.popitem(self)

    def clear(self):
        if self and self._checker() is not None:
            raise TypeError(f"{self._checker().__name__} param group: entries cannot be removed")
        dict.clear(self)


def _check_params(params, where, name, allow_frozen=False) -> list:
    """``params`` (a Tensor or an iterable of them) as a list of leaf tensors with
    requires_grad=True, each once. ``allow_frozen``: requires_grad may be False, for the
    weights of frozen layers that compile hands over (True), or for those tensors alone (a
    set of ids: what a parameter group already holds, when its "params" are edited)."""
    if isinstance(params, Tensor):
        params = [params]
    elif isinstance(params, (str, bytes, dict)) or not hasattr(params, "__iter__"):
        arguments._fail(TypeError, where, name, "a Tensor or an iterable of Tensors", params)
    params = list(params)
    seen = set()
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: {name}[{i}] must be a Tensor, got {type(p).__name__}")
        frozen_ok = allow_frozen is True or (bool(allow_frozen) and id(p) in allow_frozen)
        if not p.is_leaf or not (p.requires_grad or frozen_ok):
            frozen = " (a weight of a frozen layer has requires_grad=False)" if p.is_leaf and p.name else ""
            raise ValueError(f"{where}: {name}[{i}] (shape {p.shape}) must be a leaf "
                             f"tensor with requires_grad=True{frozen}")
        if id(p) in seen:
            raise ValueError(f"{where}: {name}[{i}] (shape {p.shape}) appears more than once")
        seen.add(id(p))
    return params


class Optimizer:
    defaults: dict = {}
    #: state buffers each parameter gets, created as zeros on first use
    buffers: tuple = ()
    #: hyperparameter -> check(value, where, name) returning the value in its working form;
    #: subclasses extend it (a hyperparameter without a rule is kept as given)
    rules: dict = {"lr": _non_negative, "weight_decay": _non_negative}
    #: buffers that hold averages of squares: never negative (their square root is taken)
    square_buffers: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def __init__(self, params=None, *, clipnorm=None, global_clipnorm=None, clipvalue=None, **hyper):
        owner = type(self).__name__
        if "learning_rate" in hyper:  # Keras' name for lr
            if "lr" in hyper:
                raise TypeError(f"{owner}: give lr or learning_rate, not both")
            hyper["lr"] = hyper.pop("learning_rate")
        self.clipnorm = check_threshold("clipnorm", clipnorm, owner)
        self.global_clipnorm = check_threshold("global_clipnorm", global_clipnorm, owner)
        self.clipvalue = check_threshold("clipvalue", clipvalue, owner)
        chosen = [name for name in CLIP_ARGUMENTS if getattr(self, name) is not None]
        if len(chosen) > 1:
            # Keras refuses the combination too: the order of two clippings would be a hidden choice
            raise ValueError(f"{owner}: set at most one of clipnorm, global_clipnorm and clipvalue, "
                             f"got {', '.join(chosen)}")
        unknown = set(hyper) - set(self.defaults)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown arguments {sorted(unknown)}; "
                            f"valid ones are {sorted(self.defaults)}")
        self.defaults = self._validate({**self.defaults, **hyper}, owner)
        self.param_groups: list[dict] = []
        self.state: dict[int, dict] = {}  # id(param) -> buffers and step
        if params is not None:
            if isinstance(params, Tensor) or isinstance(params, (str, bytes, dict)) or not (
                    hasattr(params, "parameters") or hasattr(params, "__iter__")):
                arguments._fail(TypeError, owner, "params", "an iterable of Tensors, a list of param group dicts, "
                      "a model or None", params)
            params = list(params.parameters() if hasattr(params, "parameters") else params)
            if not params:
                # as in PyTorch: an optimizer over nothing would train nothing without a word. The
                # usual cause is a model whose layers build on their first call.
                raise ValueError(f"{owner}: params is empty; a model makes its weights on its first call, "
                                 f"so call it once on a sample (or start it with Input(shape)) before "
                                 f"making the optimizer, or pass params=None and let compile() attach them")
            dicts = [isinstance(p, dict) for p in params]
            if any(dicts) and not all(dicts):
                arguments._fail(TypeError, owner, "params", "either Tensors or param group dicts, not both", params)
            groups = params if dicts[0] else [{"params": params}]
            for group in groups:
                self.add_param_group(group)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self._hyperparameters().items())})"

    def _hyperparameters(self) -> dict:
        clipping = {name: getattr(self, name) for name in CLIP_ARGUMENTS if getattr(self, name) is not None}
        return {**self.defaults, **clipping}

    # -- parameters ------------------------------------------------------------
    def add_param_group(self, group: dict) -> None:
        """Add ``{"params": [...], **hyperparameters}``; the hyperparameters not given are the
        optimizer's defaults. Everything is checked before the group joins."""
        self._add_param_group(group, allow_frozen=False)

    def _add_param_group(self, group: dict, allow_frozen: bool) -> None:
        """``add_param_group``; ``allow_frozen``: the parameters may have requires_grad=False
        (what ``Model.compile`` and checkpoint loading hand over: every weight declared
        trainable, frozen ones included, so that unfreezing needs no new optimizer)."""
        owner = type(self).__name__
        where = f"{owner}.add_param_group"
        group = dict(arguments.mapping(group, where, "group"))
        if "params" not in group:
            arguments._fail(ValueError, where, "group", "a dict with the key 'params'", group)
        if "learning_rate" in group:
            if "lr" in group:
                raise TypeError(f"{where}: give lr or learning_rate, not both")
            group["lr"] = group.pop("learning_rate")
        unknown = sorted(set(group) - set(self.defaults) - {"params"}, key=str)
        if unknown:
            raise TypeError(f"{where}: unknown keys {unknown}; valid ones are ['params'] and "
                            f"{sorted(self.defaults)}")
        params = _check_params([] if group["params"] is None else group["params"], owner, "params", allow_frozen)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if id(p) in seen:
                raise ValueError(f"{owner}: params[{i}] (shape {p.shape}) appears more than once")
        checked = self._validate({**self.defaults, **group, "params": params}, owner)
        new = ParamGroup(checked)
        new._optimizer_class = type(self)
        self.param_groups.append(new)

    def parameters(self):
        return [p for g in self.param_groups for p in g["params"]]

    @property
    def lr(self) -> float:
        return self.param_groups[0]["lr"] if self.param_groups else self.defaults["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        """The learning rate of every group (and of groups added later); checked first, so a
        bad value changes nothing."""
        rule = self.rules.get("lr", _non_negative)
        value = rule(value, type(self).__name__, "lr")
        self.defaults["lr"] = value
        for group in self.param_groups:
            dict.__setitem__(group, "lr", value)

    def zero_grad(self) -> None:
        """Forget the gradients of every parameter (they accumulate otherwise)."""
        for p in self.parameters():
            p.grad = None

    # -- the update ----------------------------------------------------------------
    def step(self) -> None:
        """Apply one update to every parameter that has a gradient (clipped first, when asked).
        A parameter without one, or frozen (requires_grad=False: a weight of a frozen layer),
        is left exactly as it is: no weight decay, no momentum or Adam moments carried from
        earlier steps, and its state (step count, buffers) does not advance."""
        work = []  # (group, parameter, gradient array)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None or not p._requires_grad:
                    continue
                g = p.grad
                if g.shape != p.shape or g.dtype != p.dtype:
                    raise ValueError(f"{type(self).__name__}: gradient of shape {g.shape} / {g.dtype} does not "
                                     f"match its parameter {p.shape} / {p.dtype}")
                work.append((group, p, g.data))
        self._apply(work)

    def _apply(self, work) -> None:
        """Clip and apply the gradients of ``work`` ([(group, parameter, gradient array)], checked
        by the caller: ``step``, or fit's direct step whose kernels made them)."""
        if self.clipnorm is None and self.global_clipnorm is None and self.clipvalue is None:
            grads = [g for _, _, g in work]
        else:
            grads = self._clip([(p._backend.xp, g) for _, p, g in work])
        states, update = self.state, self._update
        for (group, p, _), g in zip(work, grads):
            backend = p._backend
            if not p.data.flags.c_contiguous:
                # The compiled updates write through flat views (reshape(-1)); of a non-C-contiguous
                # array (e.g. orthogonal's transposed q, a transposed array given to set_weights)
                # that is a copy, and the update would be lost. Store the parameter C-contiguous.
                p.data = backend.contiguous(p.data)
            state = states.get(id(p))
            if state is None:
                state = {"step": 0, **{name: backend.xp.zeros_like(p.data) for name in self.buffers_for(group)}}
                states[id(p)] = state
            state["step"] += 1
            update(backend.k, p.data, backend.contiguous(g), state, group)

    def _clip(self, pairs) -> list:
        """The gradient arrays of ``pairs`` ([(xp, g), ...]) after this optimizer's clipping."""
        if self.clipnorm is not None:
            return [clip_by_norm(xp, g, self.clipnorm) for xp, g in pairs]
        if self.global_clipnorm is not None:
            return clip_by_global_norm(pairs, self.global_clipnorm)
        if self.clipvalue is not None:
            return [clip_by_value(xp, g, self.clipvalue) for xp, g in pairs]
        return [g for _, g in pairs]

    def buffers_for(self, group) -> tuple:
        return self.buffers

    def _update(self, k, p, g, state, group):
        raise NotImplementedError

    @classmethod
    def _validate(cls, hyper: dict, where: str | None = None, label: str = "{}") -> dict:
        """``hyper`` (a group or the defaults) with every hyperparameter checked by its rule and
        put in its working form (floats, bools, a tuple of betas); raises before anything is
        changed. ``label`` formats the argument names of the errors ("{}" -> "lr")."""
        where = where or cls.__name__
        checked = dict(hyper)
        for key, rule in cls.rules.items():
            if key in checked:
                checked[key] = rule(checked[key], where, label.format(key))
        cls._check_together(checked, where)
        return checked

    @classmethod
    def _check_together(cls, hyper: dict, where: str) -> None:
        """Rules that tie several hyperparameters (SGD's nesterov)."""

    # -- configuration and checkpoints ---------------------------------------------------
    def get_config(self) -> dict:
        """``{"class_name": "Adam", "config": {"lr": ..., "betas": [...], ..., "clipnorm": ...}}``:
        the optimizer-wide hyperparameters as JSON-able values (tuples become lists; a
        clipping keyword appears when set). Per-group overrides and the buffers are in
        ``state_dict()``."""
        config = {key: (list(value) if isinstance(value, tuple) else value)
                  for key, value in self._hyperparameters().items()}
        return {"class_name": type(self).__name__, "config": config}

    @classmethod
    def from_config(cls, config: dict) -> "Optimizer":
        """A new optimizer, without parameters, from ``get_config()``'s output (or just its
        "config" part when called on the class itself)."""
        if "class_name" in config:
            return from_config(config)
        return cls(**config)

    def state_dict(self) -> dict:
        """Hyperparameters and buffers (host numpy arrays), parameters referred to by index."""
        index = {id(p): i for i, p in enumerate(self.parameters())}
        state = {}
        for p in self.parameters():
            s = self.state.get(id(p))
            if s is not None:
                state[index[id(p)]] = {k: (v if k == "step" else p._backend.to_numpy(v).copy()) for k, v in s.items()}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore ``state_dict()``'s output: the groups' hyperparameters and the buffers.

        The whole of it is checked before anything changes (its keys, each group's parameter
        count and hyperparameters, each buffer's name, shape, dtype and finiteness against its
        parameter, the step counts), so after an error the optimizer is as it was. Saved
        parameter indices map to this optimizer's parameters by position, group by group."""
        where = f"{type(self).__name__}.load_state_dict"
        arguments.mapping(state_dict, where, "state_dict")
        if set(state_dict) != {"state", "param_groups"}:
            _refuse(ValueError, where, "state_dict", "a dict with the keys 'param_groups' and 'state' "
                    "(state_dict()'s output)", f"a dict with the keys {sorted(state_dict, key=str)}")
        groups = state_dict["param_groups"]
        if not isinstance(groups, (list, tuple)):
            arguments._fail(TypeError, where, "state_dict['param_groups']", "a list of group dicts", groups)
        if len(groups) != len(self.param_groups):
            _refuse(ValueError, where, "state_dict['param_groups']",
                    f"a list of {len(self.param_groups)} group(s), one per group of this optimizer",
                    f"{len(groups)}")
        new_groups, owner_group, param_of = [], {}, {}
        for g, (mine, saved) in enumerate(zip(self.param_groups, groups)):
            name = f"state_dict['param_groups'][{g}]"
            arguments.mapping(saved, where, name)
            indices = saved.get("params")
            if not isinstance(indices, (list, tuple)) or not all(arguments.is_int(i) for i in indices):
                arguments._fail(TypeError, where, f"{name}['params']", "a list of parameter indices (ints)", indices)
            if len(indices) != len(mine["params"]):
                _refuse(ValueError, where, f"{name}['params']", f"{len(mine['params'])} parameter index(es), "
                        f"one per parameter of this optimizer's group {g}", f"{len(indices)}")
            for i, p in zip(indices, mine["params"]):
                if int(i) in param_of:
                    arguments._fail(ValueError, where, f"{name}['params']", "indices that appear once", int(i))
                param_of[int(i)], owner_group[int(i)] = p, g
            hyper = {k: v for k, v in saved.items() if k != "params"}
            unknown = sorted(set(hyper) - set(self.defaults), key=str)
            if unknown:
                arguments._fail(ValueError, where, f"{name} key", f"'params' or a hyperparameter of "
                      f"{type(self).__name__} ({', '.join(map(repr, self.defaults))})", unknown[0])
            new_groups.append(self._validate({**mine, **hyper}, where, label=name + "[{!r}]"))

        state = state_dict["state"]
        arguments.mapping(state, where, "state_dict['state']")
        new_state = {}
        for key, buffers in state.items():
            name = f"state_dict['state'][{key!r}]"
            if arguments.is_int(key) or (isinstance(key, str) and key.isdecimal()):
                index = int(key)
            else:
                arguments._fail(TypeError, where, "a key of state_dict['state']", "a parameter index (an int)", key)
            if index not in param_of:
                arguments._fail(ValueError, where, "a key of state_dict['state']",
                      f"a parameter index of state_dict['param_groups'] (one of its {len(param_of)})", key)
            p, group = param_of[index], new_groups[owner_group[index]]
            arguments.mapping(buffers, where, name)
            expected = {"step", *self.buffers_for(group)}
            if set(buffers) != expected:
                _refuse(ValueError, where, name, f"a dict of the entries {sorted(expected)} (the buffers of "
                        f"its group's settings)", f"the entries {sorted(buffers, key=str)}")
            restored = {"step": arguments.integer(buffers["step"], where, f"{name}['step']", low=1)}
            for buffer in sorted(expected - {"step"}):
                value = buffers[buffer]
                label = f"{name}[{buffer!r}]"
                if not isinstance(value, np.ndarray):
                    arguments._fail(TypeError, where, label, "a numpy array", value)
                if value.shape != p.shape or value.dtype != p.dtype:
                    _refuse(ValueError, where, label, "an array of its parameter's shape and dtype",
                            f"shape {value.shape} {value.dtype} for a parameter of shape {p.shape} {p.dtype}")
                if not np.isfinite(value).all():
                    _refuse(ValueError, where, label, "finite", "an array with NaN or infinite values")
                if buffer in self.square_buffers and (value < 0).any():
                    _refuse(ValueError, where, label, "non-negative (an average of squares)",
                            "an array with negative values")
                # a C-ordered copy of our own: the updates write through flat views, in place
                restored[buffer] = p._backend.xp.asarray(np.array(value, order="C"))
            new_state[id(p)] = restored

        # everything checked: now change
        for mine, new in zip(self.param_groups, new_groups):
            for k, v in new.items():
                dict.__setitem__(mine, k, v)
        self.state = new_state


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum; see the module docstring."""

    defaults = {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0}

    def buffers_for(self, group):
        return ("momentum_buffer",) if group["momentum"] else ()

    def _update(self, k, p, g, state, group):
        k.sgd_update(p, g, state.get("momentum_buffer"), group["lr"], group["momentum"], group["dampening"],
                     group["nesterov"], group["weight_decay"], state["step"] == 1)

    rules = {**Optimizer.rules, "momentum": _non_negative,
             "dampening": lambda value, where, name: _fraction(value, where, name, include_one=True),
             "nesterov": arguments.boolean}

    @classmethod
    def _check_together(cls, hyper, where):
        if hyper.get("nesterov") and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
            raise ValueError(f"{where}: nesterov needs momentum > 0 and dampening = 0, got "
                             f"momentum={hyper['momentum']}, dampening={hyper['dampening']}")


class RMSprop(Optimizer):
    """RMSprop (Hinton), optionally centered and with momentum; see the module docstring."""

    defaults = {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0, "centered": False}

    def buffers_for(self, group):
        return ("square_avg",) + (("grad_avg",) if group["centered"] else ()) + \
            (("momentum_buffer",) if group["momentum"] > 0 else ())

    def _update(self, k, p, g, state, group):
        k.rmsprop_update(p, g, state["square_avg"], state.get("grad_avg"), state.get("momentum_buffer"),
                         group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"],
                         group["centered"])

    rules = {**Optimizer.rules, "alpha": _fraction, "eps": arguments.positive, "momentum": _non_negative,
             "centered": arguments.boolean}
    square_buffers = ("square_avg",)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with L2 weight decay added to the gradient; see the module docstring."""

    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False}
    decoupled = False

    def buffers_for(self, group):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def _update(self, k, p, g, state, group):
        beta1, beta2 = group["betas"]
        k.adam_update(p, g, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"), state["step"],
                      group["lr"], beta1, beta2, group["eps"], group["weight_decay"], group["amsgrad"],
                      self.decoupled)

    # a list of betas (from a JSON config) reads back as the tuple the defaults use
    rules = {**Optimizer.rules, "betas": _betas, "eps": arguments.positive, "amsgrad": arguments.boolean}
    square_buffers = ("exp_avg_sq", "max_exp_avg_sq")


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter); see the module docstring."""

    defaults = {**Adam.defaults, "weight_decay": 1e-2}
    decoupled = True


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}


def from_config(config: dict) -> Optimizer:
    """A new optimizer without parameters from ``optimizer.get_config()``'s output
    (``{"class_name": ..., "config": {...}}``); add parameters with ``add_param_group``.
    Subclasses of ``Optimizer`` defined by users are found by class name once imported."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"from_config: config must be a dict with 'class_name' and 'config', got {config!r}")
    name = config["class_name"]
    cls = _REGISTRY.get(name) or _BY_NAME.get(str(name).lower())
    if cls is None:
        raise ValueError(f"from_config: unknown optimizer class {name!r}; known ones are {', '.join(sorted(_REGISTRY))}")
    hyper = config.get("config") or {}
    arguments.mapping(hyper, "from_config", "config['config']")
    if not all(isinstance(key, str) for key in hyper):
        arguments._fail(TypeError, "from_config", "config['config']", "a dict with str keys", hyper)
    return cls(**dict(hyper))


def get(optimizer, params=None) -> Optimizer:
    """An optimizer from a name ("sgd", "rmsprop", "adam", "adamw"), a config dict
    (``get_config()``'s output) or an Optimizer instance (returned as it is)."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, dict):
        opt = from_config(optimizer)
        if params is not None:
            opt.add_param_group({"params": list(params.parameters() if hasattr(params, "parameters") else params)})
        return opt
    if not isinstance(optimizer, str):
        arguments._fail(TypeError, "optim.get", "optimizer", f"an Optimizer, a config dict or a name "
              f"({', '.join(_BY_NAME)})", optimizer)
    if optimizer.lower() not in _BY_NAME:
        raise ValueError(f"optim.get: optimizer must be an Optimizer, a config dict or a name, got unknown optimizer "
                         f"{optimizer!r}; valid names are {', '.join(_BY_NAME)}")
    return _BY_NAME[optimizer.lower()](params)
