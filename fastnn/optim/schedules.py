"""Learning-rate schedules: small objects mapping a step (or epoch) count to a learning rate.

    schedule = fnn.optim.schedules.CosineDecay(1e-3, total_steps=20)
    model.fit(x, y, epochs=20, callbacks=[fnn.callbacks.LearningRateScheduler(schedule)])

    for step in range(1000):                       # or by hand, per optimizer step
        optimizer.lr = schedule(step)

A schedule is called with a non-negative count t (0 for the first epoch or step)
and returns the learning rate for it; it keeps no state, so ``schedule(t)`` is the
same whenever it is asked. With lr0 the initial learning rate:

    StepDecay(lr0, step_size, gamma=0.1)           lr0 * gamma^floor(t / step_size)            (PyTorch StepLR)
    ExponentialDecay(lr0, decay_rate, decay_steps=1, staircase=False)
                                                   lr0 * decay_rate^(t / decay_steps)          (Keras)
                                                   (staircase: the exponent is floored)
    CosineDecay(lr0, total_steps, min_lr=0)        min_lr + (lr0 - min_lr) (1 + cos(pi min(t, T) / T)) / 2,
                                                   T = total_steps (PyTorch CosineAnnealingLR's closed form;
                                                   held at min_lr after T, as Keras' CosineDecay does)
    LinearWarmup(schedule_or_lr, warmup_steps, start_lr=0)
                                                   t < W: start_lr + (s(0) - start_lr) t / W;  t >= W: s(t - W)
                                                   (W = warmup_steps, s the wrapped schedule or a constant:
                                                   the wrapped schedule starts where the warmup ends)
    PiecewiseConstant(boundaries, values)          values[i] where i = number of boundaries b with b < t
                                                   (Keras: values[0] up to and including boundaries[0], ...)

``get_config()`` gives ``{"class_name": ..., "config": {...}}`` (JSON-able; a wrapped
schedule nests its own config) and ``from_config`` rebuilds the schedule.
"""

from __future__ import annotations

import math
import numbers

from .. import arguments

__all__ = ["CosineDecay", "ExponentialDecay", "LearningRateSchedule", "LinearWarmup", "PiecewiseConstant",
           "StepDecay", "from_config"]

_REGISTRY: dict[str, type] = {}


def _number(owner, name, value, *, positive=False, integer=False) -> float | int:
    """``value`` checked: a real number (an integer when ``integer``), > 0 when ``positive``, else >= 0."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = "an integer" if integer else "a number"
        raise TypeError(f"{owner}: {name} must be {expected}, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or (value <= 0 if positive else value < 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{owner}: {name} must be finite and {bound}, got {value}")
    return int(value) if integer else float(value)


class LearningRateSchedule:
    """Base class: subclasses define ``lr_at(t)`` and list their constructor arguments in ``_fields``."""

    _fields: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def __call__(self, step) -> float:
        arguments.real(step, type(self).__name__, "the step or epoch", low=0)
        return float(self.lr_at(step))

    def lr_at(self, t) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        config = {}
        for name in self._fields:
            value = getattr(self, name)
            if isinstance(value, LearningRateSchedule):
                value = value.get_config()
            elif isinstance(value, tuple):
                value = list(value)
            config[name] = value
        return {"class_name": type(self).__name__, "config": config}

    def __repr__(self):
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(other) is type(self) and other.get_config() == self.get_config()

    __hash__ = None


class StepDecay(LearningRateSchedule):
    """lr = initial_lr * gamma^floor(t / step_size): multiply by ``gamma`` every ``step_size`` steps."""

    _fields = ("initial_lr", "step_size", "gamma")

    def __init__(self, initial_lr, step_size, gamma=0.1):
        self.initial_lr = _number("StepDecay", "initial_lr", initial_lr)
        self.step_size = _number("StepDecay", "step_size", step_size, positive=True, integer=True)
        self.gamma = _number("StepDecay", "gamma", gamma, positive=True)

    def lr_at(self, t):
        return self.initial_lr * self.gamma ** math.floor(t / self.step_size)


class ExponentialDecay(LearningRateSchedule):
    """lr = initial_lr * decay_rate^(t / decay_steps); with ``staircase`` the exponent is
    floor(t / decay_steps), so the rate changes in jumps every ``decay_steps`` steps."""

    _fields = ("initial_lr", "decay_rate", "decay_steps", "staircase")

    def __init__(self, initial_lr, decay_rate, decay_steps=1, staircase=False):
        self.initial_lr = _number("ExponentialDecay", "initial_lr", initial_lr)
        self.decay_rate = _number("ExponentialDecay", "decay_rate", decay_rate, positive=True)
        self.decay_steps = _number("ExponentialDecay", "decay_steps", decay_steps, positive=True)
        self.staircase = arguments.boolean(staircase, "ExponentialDecay", "staircase")

    def lr_at(self, t):
        exponent = t / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.initial_lr * self.decay_rate ** exponent


class CosineDecay(LearningRateSchedule):
    """Cosine annealing from ``initial_lr`` to ``min_lr`` over ``total_steps`` steps::

        lr = min_lr + (initial_lr - min_lr) * (1 + cos(pi * min(t, total_steps) / total_steps)) / 2

    (the closed form of PyTorch's CosineAnnealingLR with T_max = total_steps, eta_min =
    min_lr); from ``total_steps`` on it stays at ``min_lr``."""

    _fields = ("initial_lr", "total_steps", "min_lr")

    def __init__(self, initial_lr, total_steps, min_lr=0.0):
        self.initial_lr = _number("CosineDecay", "initial_lr", initial_lr)
        self.total_steps = _number("CosineDecay", "total_steps", total_steps, positive=True, integer=True)
        self.min_lr = _number("CosineDecay", "min_lr", min_lr)

    def lr_at(self, t):
        progress = min(t, self.total_steps) / self.total_steps
        return self.min_lr + (self.initial_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2


class LinearWarmup(LearningRateSchedule):
    """A linear ramp over ``warmup_steps`` steps in front of another schedule::

        t <  W:  lr = start_lr + (s(0) - start_lr) * t / W
        t >= W:  lr = s(t - W)

    ``s`` is the wrapped schedule (it starts counting where the warmup ends, so its
    shape is kept whole) or a constant learning rate; W = ``warmup_steps`` (0: no warmup)."""

    _fields = ("schedule", "warmup_steps", "start_lr")

    def __init__(self, schedule_or_lr, warmup_steps, start_lr=0.0):
        if isinstance(schedule_or_lr, dict):  # a nested config, as get_config writes it
            schedule_or_lr = from_config(schedule_or_lr)
        if isinstance(schedule_or_lr, LearningRateSchedule):
            self.schedule = schedule_or_lr
        else:
            self.schedule = _number("LinearWarmup", "schedule_or_lr", schedule_or_lr)
        self.warmup_steps = _number("LinearWarmup", "warmup_steps", warmup_steps, integer=True)
        self.start_lr = _number("LinearWarmup", "start_lr", start_lr)

    def _after(self, t):
        return self.schedule(t) if isinstance(self.schedule, LearningRateSchedule) else self.schedule

    def lr_at(self, t):
        if t >= self.warmup_steps:
            return self._after(t - self.warmup_steps)
        return self.start_lr + (self._after(0) - self.start_lr) * t / self.warmup_steps

    def get_config(self):
        config = super().get_config()
        config["config"]["schedule_or_lr"] = config["config"].pop("schedule")
        return config


class PiecewiseConstant(LearningRateSchedule):
    """``values[i]`` on the i-th interval cut by ``boundaries`` (increasing)::

        t <= boundaries[0]: values[0];  boundaries[0] < t <= boundaries[1]: values[1];  ...
        t > boundaries[-1]: values[-1]

    (Keras' PiecewiseConstantDecay); needs len(values) == len(boundaries) + 1."""

    _fields = ("boundaries", "values")

    def __init__(self, boundaries, values):
        for name, value in (("boundaries", boundaries), ("values", values)):
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"PiecewiseConstant: {name} must be a list of numbers, got {value!r}")
        self.boundaries = tuple(_number("PiecewiseConstant", f"boundaries[{i}]", b) for i, b in enumerate(boundaries))
        self.values = tuple(_number("PiecewiseConstant", f"values[{i}]", v) for i, v in enumerate(values))
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError(f"PiecewiseConstant: needs one more value than boundaries, got {len(self.boundaries)} "
                             f"boundaries and {len(self.values)} values")
        if any(b >= c for b, c in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"PiecewiseConstant: boundaries must increase strictly, got {list(self.boundaries)}")

    def lr_at(self, t):
        return self.values[sum(1 for b in self.boundaries if b < t)]


def from_config(config: dict) -> LearningRateSchedule:
    """A schedule from ``get_config()``'s output ``{"class_name": ..., "config": {...}}``."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"schedules.from_config: expected a dict with 'class_name' and 'config', got {config!r}")
    cls = _REGISTRY.get(config["class_name"])
    if cls is None:
        raise ValueError(f"schedules.from_config: unknown schedule {config['class_name']!r}; known ones are "
                         f"{', '.join(sorted(_REGISTRY))}")
    arguments.mapping(config.get("config") or {}, "schedules.from_config", "config['config']")
    return cls(**dict(config.get("config") or {}))
