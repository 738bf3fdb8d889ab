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

Every optimizer also takes Keras' gradient clipping keywords, applied to the
gradients in ``step()`` before the update (formulas in ``fastnn.optim.clipping``);
at most one of them may be set:

    clipnorm=c         each parameter's gradient g <- g * c / max(||g||_2, c)
    global_clipnorm=c  all gradients g_i <- g_i * c / max(N, c), N = sqrt(sum_i ||g_i||_2^2)
    clipvalue=c        element-wise g <- min(max(g, -c), c)

The clipped gradient feeds the update only; ``p.grad`` keeps the gradient as computed.

``get_config()`` describes an optimizer as JSON-able data (class name and
hyperparameters, clipping included) and ``from_config`` rebuilds it without
parameters; the buffers travel separately in ``state_dict()``.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .clipping import check_threshold, clip_by_global_norm, clip_by_norm, clip_by_value

#: the gradient clipping keywords every optimizer accepts (Keras' names)
CLIP_ARGUMENTS = ("clipnorm", "global_clipnorm", "clipvalue")

#: class name -> optimizer class, for from_config; every subclass registers itself
_REGISTRY: dict[str, type] = {}


class Optimizer:
    defaults: dict = {}
    #: state buffers each parameter gets, created as zeros on first use
    buffers: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def __init__(self, params=None, *, clipnorm=None, global_clipnorm=None, clipvalue=None, **hyper):
        if "learning_rate" in hyper:  # Keras' name for lr
            hyper["lr"] = hyper.pop("learning_rate")
        owner = type(self).__name__
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
        self.defaults = {**self.defaults, **hyper}
        self._validate(self.defaults)
        self.param_groups: list[dict] = []
        self.state: dict[int, dict] = {}  # id(param) -> buffers and step
        if params is not None:
            params = list(params.parameters() if hasattr(params, "parameters") else params)
            if not params:
                # as in PyTorch: an optimizer over nothing would train nothing without a word. The
                # usual cause is a model whose layers build on their first call.
                raise ValueError(f"{owner}: params is empty; a model makes its weights on its first call, "
                                 f"so call it once on a sample (or start it with Input(shape)) before "
                                 f"making the optimizer, or pass params=None and let compile() attach them")
            groups = params if params and isinstance(params[0], dict) else [{"params": params}]
            for group in groups:
                self.add_param_group(group)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self._hyperparameters().items())})"

    def _hyperparameters(self) -> dict:
        clipping = {name: getattr(self, name) for name in CLIP_ARGUMENTS if getattr(self, name) is not None}
        return {**self.defaults, **clipping}

    # -- parameters ------------------------------------------------------------
    def add_param_group(self, group: dict) -> None:
        group = dict(group)
        params = group.get("params")
        params = [params] if isinstance(params, Tensor) else list(params or [])
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: params[{i}] must be a Tensor, got {type(p).__name__}")
            if not p.requires_grad or not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: params[{i}] (shape {p.shape}) must be a leaf "
                                 f"tensor with requires_grad=True")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: params[{i}] (shape {p.shape}) appears more than once")
            seen.add(id(p))
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group)
        self.param_groups.append(group)

    def parameters(self):
        return [p for g in self.param_groups for p in g["params"]]

    @property
    def lr(self) -> float:
        return self.param_groups[0]["lr"] if self.param_groups else self.defaults["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        self.defaults["lr"] = float(value)
        for group in self.param_groups:
            group["lr"] = float(value)
        self._validate(self.defaults)

    def zero_grad(self) -> None:
        """Forget the gradients of every parameter (they accumulate otherwise)."""
        for p in self.parameters():
            p.grad = None

    # -- the update ----------------------------------------------------------------
    def step(self) -> None:
        """Apply one update to every parameter that has a gradient (clipped first, when asked)."""
        work = []  # (group, parameter, gradient array)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
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

    def _validate(self, hyper: dict) -> None:
        if hyper["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: lr must be non-negative, got {hyper['lr']}")
        if hyper.get("weight_decay", 0) < 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be non-negative, got {hyper['weight_decay']}")

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
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: the state has {len(groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        params = self.parameters()
        for mine, saved in zip(self.param_groups, groups):
            if len(saved["params"]) != len(mine["params"]):
                raise ValueError(f"load_state_dict: a group has {len(saved['params'])} parameters in the state "
                                 f"but {len(mine['params'])} here")
            mine.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for i, buffers in state_dict["state"].items():
            p = params[int(i)]
            restored = {}
            for name, value in buffers.items():
                if name == "step":
                    restored[name] = int(value)
                    continue
                value = np.asarray(value)
                if value.shape != p.shape:
                    raise ValueError(f"load_state_dict: buffer {name!r} of parameter {i} has shape {value.shape}, "
                                     f"the parameter has {p.shape}")
                restored[name] = p._backend.xp.asarray(value.astype(p.dtype))
            self.state[id(p)] = restored


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum; see the module docstring."""

    defaults = {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0}

    def buffers_for(self, group):
        return ("momentum_buffer",) if group["momentum"] else ()

    def _update(self, k, p, g, state, group):
        k.sgd_update(p, g, state.get("momentum_buffer"), group["lr"], group["momentum"], group["dampening"],
                     group["nesterov"], group["weight_decay"], state["step"] == 1)

    def _validate(self, hyper):
        super()._validate(hyper)
        if hyper["momentum"] < 0:
            raise ValueError(f"SGD: momentum must be non-negative, got {hyper['momentum']}")
        if hyper["nesterov"] and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening = 0")


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

    def _validate(self, hyper):
        super()._validate(hyper)
        if not 0 <= hyper["alpha"] < 1 or hyper["eps"] < 0 or hyper["momentum"] < 0:
            raise ValueError(f"RMSprop: need 0 <= alpha < 1, eps >= 0, momentum >= 0; got alpha={hyper['alpha']}, "
                             f"eps={hyper['eps']}, momentum={hyper['momentum']}")


class Adam(Optimizer):
    """Adam (Kingma & Ba) with L2 weight decay added to the gradient; see the module docstring."""

    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False}
    decoupled = False

    def __init__(self, params=None, **hyper):
        if "betas" in hyper:  # a list from a JSON config reads back as the tuple the defaults use
            hyper["betas"] = tuple(hyper["betas"])
        super().__init__(params, **hyper)

    def buffers_for(self, group):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def _update(self, k, p, g, state, group):
        beta1, beta2 = group["betas"]
        k.adam_update(p, g, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"), state["step"],
                      group["lr"], beta1, beta2, group["eps"], group["weight_decay"], group["amsgrad"],
                      self.decoupled)

    def _validate(self, hyper):
        super()._validate(hyper)
        betas = hyper["betas"]
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"{type(self).__name__}: betas must be two numbers in [0, 1), got {betas}")
        if hyper["eps"] < 0:
            raise ValueError(f"{type(self).__name__}: eps must be non-negative, got {hyper['eps']}")


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
        raise ValueError(f"from_config: expected a dict with 'class_name' and 'config', got {config!r}")
    name = config["class_name"]
    cls = _REGISTRY.get(name) or _BY_NAME.get(str(name).lower())
    if cls is None:
        raise ValueError(f"from_config: unknown optimizer class {name!r}; known ones are {', '.join(sorted(_REGISTRY))}")
    return cls(**dict(config.get("config") or {}))


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
    if not isinstance(optimizer, str) or optimizer.lower() not in _BY_NAME:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid names are {', '.join(_BY_NAME)}")
    return _BY_NAME[optimizer.lower()](params)
