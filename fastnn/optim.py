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
"""

from __future__ import annotations

import numpy as np

from .tensor import Tensor


class Optimizer:
    defaults: dict = {}
    #: state buffers each parameter gets, created as zeros on first use
    buffers: tuple = ()

    def __init__(self, params=None, **hyper):
        if "learning_rate" in hyper:  # Keras' name for lr
            hyper["lr"] = hyper.pop("learning_rate")
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
            groups = params if params and isinstance(params[0], dict) else [{"params": params}]
            for group in groups:
                self.add_param_group(group)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.defaults.items())})"

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
        """Apply one update to every parameter that has a gradient."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if g.shape != p.shape or g.dtype != p.dtype:
                    raise ValueError(f"{type(self).__name__}: gradient of shape {g.shape} / {g.dtype} does not "
                                     f"match its parameter {p.shape} / {p.dtype}")
                state = self.state.get(id(p))
                if state is None:
                    xp = p._backend.xp
                    state = {"step": 0, **{name: xp.zeros_like(p.data) for name in self.buffers_for(group)}}
                    self.state[id(p)] = state
                state["step"] += 1
                self._update(p._backend.k, p.data, p._backend.contiguous(g.data), state, group)

    def buffers_for(self, group) -> tuple:
        return self.buffers

    def _update(self, k, p, g, state, group):
        raise NotImplementedError

    def _validate(self, hyper: dict) -> None:
        if hyper["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: lr must be non-negative, got {hyper['lr']}")
        if hyper.get("weight_decay", 0) < 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be non-negative, got {hyper['weight_decay']}")

    # -- checkpoints -------------------------------------------------------------------
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


def get(optimizer, params=None) -> Optimizer:
    """An optimizer from a name ("sgd", "rmsprop", "adam", "adamw") or an Optimizer instance."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if not isinstance(optimizer, str) or optimizer.lower() not in _BY_NAME:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid names are {', '.join(_BY_NAME)}")
    return _BY_NAME[optimizer.lower()](params)
