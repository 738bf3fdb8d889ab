"""Backend parity of a function or layer: ``check_parity`` runs it on every compiled backend
and on the reference backend (``numpy``) and compares what comes out.

For each backend B, dtype, mode and input layout, one run on B and one on the reference
(contiguous inputs) are compared item by item:

- every output ``out_k``;
- the gradient of every differentiated input and of every trainable weight of a layer,
  from the backward pass of

      L = sum_k sum(out_k * r_k)

  where r_k is a fixed random array per output (not ones, so no gradient path hides
  behind a plain sum), the same on every backend;
- every state update: a layer's non-trainable weights after the call (batch-norm running
  statistics), and the inputs a function is told it updates in place (``state``).

Each item passes by the parity rule of ``fastnn.testing.tolerances``:

    max |actual - expected| <= rtol * max(1, max |expected|)

with NaN and infinities at exactly the reference's positions, integer results and dtypes
equal. Every run must also leave its other inputs, and a layer's trainable weights,
exactly as given (forward and backward included), and in the ``strided`` layout every
input of one or more axes (state inputs excepted) is a non-contiguous view, every other
element of a wider buffer, whose results must match the reference's on contiguous inputs.
fastnn's generator is reseeded before every run, so dropout draws the same stream on every
backend; the caller's generator state is put back afterwards.

``ParityRunner`` is the core for one subject in one dtype: it runs the reference once per
mode (cached) and compares one (backend, mode, layout) at a time, which is how
tests/test_parity.py checks every row of the case table; ``check_parity`` loops over
everything and returns a ``ParityReport``.
"""

from __future__ import annotations

import copy
import inspect
import math
from dataclasses import dataclass, field

import numpy as np

from .. import arguments
from .. import backend as fnn_backends
from .. import random as fnn_random
from ..grad_mode import enable_grad
from ..layers.base import Layer
from ..tensor import Tensor, tensor
from .tolerances import RTOL, Comparison, compare

#: The backend every other one is compared with.
REFERENCE = "numpy"
MODES = ("train", "eval")
LAYOUTS = ("contiguous", "strided")
DTYPES = ("float32", "float64")
#: The mode shown for a function that takes no ``training`` argument (run once, whatever the mode).
NO_MODE = "-"
#: What fills the skipped elements of a strided input's buffer: a kernel that reads them
#: (a wrong stride) turns its result into NaN, which no tolerance lets through.
_FLOAT_GAP = np.nan

_WHERE = "check_parity"


class ParityError(AssertionError):
    """A backend's result differs from the reference's. ``failures``: the ParityRows that
    failed; ``report``: the whole ParityReport (None from ``ParityRunner``)."""

    def __init__(self, message, failures, report=None):
        super().__init__(message)
        self.failures = list(failures)
        self.report = report


@dataclass(frozen=True)
class ParityRow:
    """One compared item of one run: ``error`` = max |actual - expected| (inf when they
    cannot be compared number by number, ``problem`` then says why), ``tolerance`` = rtol *
    max(1, max |expected|), 0 for what must be exact (integers, inputs left unchanged)."""

    backend: str
    dtype: str
    mode: str
    layout: str
    item: str
    comparison: Comparison

    @property
    def error(self) -> float:
        return self.comparison.error

    @property
    def tolerance(self) -> float:
        return self.comparison.tolerance

    @property
    def rtol(self) -> float:
        return self.comparison.rtol

    @property
    def problem(self) -> str | None:
        return self.comparison.problem

    @property
    def passed(self) -> bool:
        return self.comparison.passed

    @property
    def where(self) -> str:
        return f"{self.backend}, {self.dtype}, mode {self.mode}, {self.layout} inputs"

    def describe(self) -> str:
        """One line: where, what, how far off and what was allowed."""
        c = self.comparison
        if c.problem is not None:
            return f"{self.where}: {self.item}: {c.problem}"
        if c.rtol == 0:
            return f"{self.where}: {self.item}: max |difference| {c.error:.3g}, must be exactly 0"
        verdict = "within" if c.passed else ">"
        return (f"{self.where}: {self.item}: max |difference| {c.error:.3g} {verdict} tolerance "
                f"{c.tolerance:.3g} (rtol {c.rtol:g} * max(1, max |expected|) = {c.scale:.3g})")

    def _badness(self) -> tuple:
        """Sort key: failures first, then by error / tolerance."""
        c = self.comparison
        ratio = c.error / c.tolerance if c.tolerance > 0 else (0.0 if c.error == 0 else math.inf)
        return (not c.passed, ratio)


def failure_message(subject: str, failures, limit: int = 12) -> str:
    """The lines a ParityError shows: each failing row, at most ``limit`` of them."""
    failures = sorted(failures, key=ParityRow._badness, reverse=True)
    lines = [f"{_WHERE}: {subject} differs from the reference ({REFERENCE}) in {len(failures)} "
             f"comparison{'s' if len(failures) != 1 else ''}:"]
    lines += [f"  {row.describe()}" for row in failures[:limit]]
    if len(failures) > limit:
        lines.append(f"  ... and {len(failures) - limit} more")
    return "\n".join(lines)


def raise_failures(rows, subject: str) -> None:
    """Raise ParityError naming every failed row of ``rows``; nothing when all passed."""
    failures = [row for row in rows if not row.passed]
    if failures:
        raise ParityError(failure_message(subject, failures), failures)


def _item_kind(item: str) -> int:
    """Where an item sits in a report: outputs, gradients, state, then what must stay unchanged."""
    for rank, prefix in enumerate(("output", "gradient", "state")):
        if item.startswith(prefix):
            return rank
    return 3


@dataclass
class ParityReport:
    """What check_parity compared: ``rows`` (every item of every run), ``worst`` (the worst
    row per item), ``failures``, ``passed``, ``notes``; ``str()`` is a table of the worst
    difference per item, with where it occurred."""

    subject: str
    backends: tuple
    dtypes: tuple
    modes: tuple
    layouts: tuple
    runs: int
    rows: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def failures(self) -> list:
        return [row for row in self.rows if not row.passed]

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    @property
    def worst(self) -> dict:
        """item -> the ParityRow where that item came out worst (failures first, then the
        largest error relative to its tolerance): outputs, gradients, state updates, then
        the inputs and weights that must stay unchanged."""
        worst: dict = {}
        for row in self.rows:
            if row.item not in worst or row._badness() > worst[row.item]._badness():
                worst[row.item] = row
        return dict(sorted(worst.items(), key=lambda pair: _item_kind(pair[0])))

    def __str__(self) -> str:
        failures = self.failures
        verdict = "all within tolerance" if not failures else f"{len(failures)} comparisons FAIL"
        head = [f"check_parity of {self.subject} against the reference ({REFERENCE}): {self.runs} runs "
                f"(backends {', '.join(self.backends)}; dtypes {', '.join(self.dtypes)}; modes "
                f"{', '.join(self.modes)}; layouts {', '.join(self.layouts)}): {verdict}"]
        table = [("item", "worst |diff|", "tolerance", "where (backend dtype mode layout)", "")]
        for item, row in self.worst.items():
            error = row.problem if row.problem is not None else f"{row.error:.3g}"
            tolerance = "exact" if row.rtol == 0 else f"{row.tolerance:.3g}"
            table.append((item, error, tolerance, f"{row.backend} {row.dtype} {row.mode} {row.layout}",
                          "ok" if row.passed else "FAIL"))
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
        lines = head + ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in table]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


# -- what runs: the inputs and the subject --------------------------------------------------


@dataclass(frozen=True)
class Operand:
    """One input, as host data in the run's dtype: ``grad`` (differentiated), ``state``
    (updated in place by the call: compared with the reference after it, never strided)."""

    array: np.ndarray
    grad: bool = False
    state: bool = False

    @property
    def stridable(self) -> bool:
        return self.array.ndim >= 1 and self.array.shape[-1] > 0 and not self.state


def takes_training(fn) -> bool:
    """Whether ``fn`` has a parameter named ``training`` that a keyword can set. Only a named
    one counts: ``**kwargs`` often forwards to something that takes no such keyword
    (``Function.apply`` hands its keywords to ``forward``)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    param = params.get("training")
    return param is not None and param.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                inspect.Parameter.KEYWORD_ONLY)


class FunctionSubject:
    """A function of tensors: ``fn(*inputs)``, with ``training=`` when it takes one and a mode
    is given. ``training=False`` never passes it (a function made for one mode, whose mode
    is then only a label in the rows)."""

    def __init__(self, fn, label=None, training=None):
        self.fn = fn
        self.takes_training = takes_training(fn) if training is None else bool(training)
        self.label = label or f"function {getattr(fn, '__qualname__', repr(fn))}"

    def instantiate(self, backend):
        return self._call, ()

    def _call(self, arguments_, mode):
        if self.takes_training and mode is not None:
            return self.fn(*arguments_, training=mode == "train")
        return self.fn(*arguments_)


class LayerSubject:
    """A layer, copied afresh for every run from a template on the reference backend (so
    every backend starts from the same weights and the template never changes)."""

    takes_training = True

    def __init__(self, template: Layer, label: str):
        self.template = template
        self.label = label
        entries = template._weight_entries()
        self.names = [f"{owner.name}/{spec.name}" for owner, spec, _ in entries]
        self.before = [t.numpy() for _, _, t in entries]

    def instantiate(self, backend):
        layer = copy_layer(self.template).to(backend)
        # a weight trains when it needs a gradient: declared trainable, of a layer not frozen
        weights = [(name, t, t.requires_grad, before) for name, (_, _, t), before
                   in zip(self.names, layer._weight_entries(), self.before)]

        def call(arguments_, mode):
            inputs = arguments_[0] if len(arguments_) == 1 else list(arguments_)
            return layer(inputs, training=mode == "train")

        return call, weights


def copy_layer(layer: Layer) -> Layer:
    """A deep copy of ``layer`` sharing the backend objects, its weights without gradients."""
    memo = {id(b): b for b in map(fnn_backends.named, fnn_backends.NAMES)}
    try:
        copied = copy.deepcopy(layer, memo)
    except Exception as exc:  # any object deepcopy cannot handle: say what check_parity needs
        raise TypeError(f"{_WHERE}: cannot copy {layer._label()} ({type(exc).__name__}: {exc}); check_parity "
                        f"runs a deep copy of the layer on every backend so that the one given stays unchanged"
                        ) from exc
    for t in copied.weights:
        t.grad = None
    return copied


def layer_in_dtype(template: Layer, dtype: str) -> Layer:
    """A copy of ``template`` (on the reference backend) with its floating weights and its
    declared dtypes in ``dtype``: float32 -> float64 is exact, float64 -> float32 rounds once,
    on the host, the same for every backend."""
    layer = copy_layer(template)
    for sub in layer._walk():
        if sub.dtype is not None:
            sub.dtype = np.dtype(dtype)
    for _, _, t in layer._weight_entries():
        if t.dtype.kind == "f" and t.dtype != dtype:
            t.data = t.data.astype(dtype)
    return layer


# -- one run ----------------------------------------------------------------------------------


@dataclass
class Run:
    """Host copies of one run's results: ``items`` (label -> array, or None for a gradient
    that was not produced) and ``unchanged`` ((label, given, after) for what must not change)."""

    items: dict
    unchanged: list


def _place(operand: Operand, backend, strided: bool):
    """(leaf tensor, the argument passed, the host buffer the leaf was made from)."""
    array = operand.array
    if strided:
        gap = _FLOAT_GAP if array.dtype.kind == "f" else 0
        buffer = np.full(array.shape[:-1] + (2 * array.shape[-1],), gap, dtype=array.dtype)
        buffer[..., ::2] = array
        leaf = tensor(buffer, backend=backend, requires_grad=operand.grad)
        return leaf, leaf[..., ::2], buffer
    leaf = tensor(array, backend=backend, requires_grad=operand.grad)
    return leaf, leaf, array


def _flat_outputs(outputs, found=None) -> list:
    found = [] if found is None else found
    if isinstance(outputs, (tuple, list)):
        for out in outputs:
            _flat_outputs(out, found)
    elif isinstance(outputs, Tensor):
        found.append(outputs)
    else:
        raise TypeError(f"{_WHERE}: the function or layer must return a tensor or a tuple/list of tensors, "
                        f"got {arguments._show(outputs)}")
    return found


def run(subject, operands, backend: str, layout: str, mode, seed: int) -> Run:
    """Forward and backward of ``subject`` on ``operands`` on ``backend``, fastnn's generator
    seeded with ``seed`` (and put back afterwards); the upstream gradient of output k is
    standard normal from NumPy's generator seeded with ``seed + 1``."""
    call, weights = subject.instantiate(backend)
    strided = [layout == "strided" and op.stridable for op in operands]
    placed = [_place(op, backend, s) for op, s in zip(operands, strided)]
    saved = fnn_random.get_rng_state()
    fnn_random.manual_seed(seed)
    try:
        with enable_grad():
            outputs = _flat_outputs(call([argument for _, argument, _ in placed], mode))
            rng = np.random.default_rng(seed + 1)
            total = None
            for out in outputs:
                if out.requires_grad:
                    upstream = tensor(rng.standard_normal(out.shape).astype(out.dtype), backend=backend)
                    term = (out * upstream).sum()
                    total = term if total is None else total + term
            if total is not None:
                total.backward()
    finally:
        fnn_random.set_rng_state(saved)

    items = {f"output {k}": out.numpy() for k, out in enumerate(outputs)}
    for i, (op, (leaf, _, _), s) in enumerate(zip(operands, placed, strided)):
        if op.grad:
            grad = None if leaf.grad is None else leaf.grad.numpy()
            items[f"gradient of input {i}"] = grad[..., ::2] if s and grad is not None else grad
    for name, t, trainable, _ in weights:
        if trainable:
            items[f'gradient of weight "{name}"'] = None if t.grad is None else t.grad.numpy()
    for i, (op, (leaf, _, _)) in enumerate(zip(operands, placed)):
        if op.state:
            items[f"state input {i}"] = leaf.numpy()
    for name, t, trainable, _ in weights:
        if not trainable:
            items[f'state "{name}"'] = t.numpy()
    unchanged = [(f"input {i} unchanged", given, leaf.numpy())
                 for i, (op, (leaf, _, given)) in enumerate(zip(operands, placed)) if not op.state]
    unchanged += [(f'weight "{name}" unchanged', before, t.numpy())
                  for name, t, trainable, before in weights if trainable]
    return Run(items, unchanged)


def _missing(label: str, expected, actual, backend: str) -> str | None:
    if label not in actual:
        return f"not produced on {backend} (the reference produces it)"
    if expected is None and actual[label] is not None:
        return f"a gradient on {backend}, none on the reference"
    if expected is not None and actual[label] is None:
        return f"no gradient on {backend}, the reference gives one"
    return None


def compare_runs(expected: Run, actual: Run, rtol: float, where: tuple) -> list:
    """ParityRows of ``actual`` (one run on a backend) against ``expected`` (the
    reference's); ``where`` = (backend, dtype, mode, layout)."""
    rows = []
    for label, e in expected.items.items():
        problem = _missing(label, e, actual.items, where[0])
        if problem is not None:
            rows.append(ParityRow(*where, label, Comparison(math.inf, 1.0, rtol, problem)))
        elif e is not None:
            rows.append(ParityRow(*where, label, compare(actual.items[label], e, rtol)))
    for label in actual.items.keys() - expected.items.keys():
        rows.append(ParityRow(*where, label, Comparison(math.inf, 1.0, rtol, f"produced on {where[0]} only")))
    rows += unchanged_rows(actual, where)
    return rows


def unchanged_rows(result: Run, where: tuple) -> list:
    """ParityRows saying whether the run left its inputs (and trainable weights) as given."""
    return [ParityRow(*where, label, compare(after, given, 0.0)) for label, given, after in result.unchanged]


class ParityRunner:
    """One subject with its inputs in one dtype: ``check(backend, mode, layout)`` runs it on
    ``backend`` and compares with the reference's run on contiguous inputs (made once per
    mode and kept). ``mode`` is "train", "eval" or None (a function run without ``training``)."""

    def __init__(self, subject, operands, dtype: str, rtol: float, seed: int = 0):
        self.subject = subject
        self.operands = list(operands)
        self.dtype = dtype
        self.rtol = rtol
        self.seed = seed
        self._references: dict = {}

    def _where(self, backend, mode, layout) -> tuple:
        return (backend, self.dtype, NO_MODE if mode is None else mode, layout)

    def _run(self, backend, mode, layout) -> Run:
        try:
            return run(self.subject, self.operands, backend, layout, mode, self.seed)
        except Exception as exc:
            if hasattr(exc, "add_note"):  # Python >= 3.11: say which run raised
                exc.add_note(f"{_WHERE}: raised running {self.subject.label} on "
                             f"{', '.join(self._where(backend, mode, layout))}")
            raise

    def reference(self, mode) -> Run:
        if mode not in self._references:
            self._references[mode] = self._run(REFERENCE, mode, "contiguous")
        return self._references[mode]

    def reference_rows(self, mode) -> list:
        """Whether the reference run itself left its inputs unchanged."""
        return unchanged_rows(self.reference(mode), self._where(REFERENCE, mode, "contiguous"))

    def check(self, backend: str, mode, layout: str) -> list:
        """The ParityRows of one run on ``backend`` against the reference."""
        expected = self.reference(mode)
        return compare_runs(expected, self._run(backend, mode, layout), self.rtol,
                            self._where(backend, mode, layout))


# -- check_parity: arguments and the loop ------------------------------------------------------


def _names(value, options, name, what) -> tuple:
    """A non-empty tuple of distinct names from ``options`` (a single name is a tuple of one)."""
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not value:
        arguments._fail(TypeError if not isinstance(value, (tuple, list)) else ValueError, _WHERE, name,
                        f"a non-empty tuple of {what} ({', '.join(map(repr, options))})", value)
    names = []
    for v in value:
        if isinstance(v, (type, np.dtype)) and name == "dtypes":   # np.float32, np.dtype("float64")
            try:
                v = np.dtype(v).name
            except TypeError:
                pass
        if not isinstance(v, str) or v not in options:
            arguments._fail(ValueError, _WHERE, name, f"{what} from {', '.join(map(repr, options))}", v)
        if v in names:
            arguments._fail(ValueError, _WHERE, name, f"distinct {what}; {v!r} appears twice", tuple(value))
        names.append(v)
    return tuple(names)


def _backends(value) -> tuple:
    """The backends to check, each known and able to run here; None: every available one
    except the reference (with a note for each that cannot run)."""
    notes = []
    if value is None:
        names = []
        for name in fnn_backends.NAMES:
            if name == REFERENCE:
                continue
            reason = fnn_backends.named(name).unavailable_reason()
            if reason:
                notes.append(f"{name} not checked: {reason}")
            else:
                names.append(name)
        if not names:
            raise fnn_backends.BackendError(f"{_WHERE}: no compiled backend can run here to compare with "
                                            f"the reference ({'; '.join(notes)})")
        return tuple(names), notes
    names = _names(value, fnn_backends.NAMES, "backends", "backend names")
    for name in names:
        reason = fnn_backends.named(name).unavailable_reason()
        if reason:
            raise fnn_backends.BackendError(f"{_WHERE}: backends names {name!r}, which cannot run here: {reason}")
    return names, notes


def _host_inputs(inputs) -> list:
    if isinstance(inputs, (np.ndarray, Tensor)):
        inputs = [inputs]
    if not isinstance(inputs, (list, tuple)):
        arguments._fail(TypeError, _WHERE, "inputs", "a list of arrays or tensors", inputs)
    if not inputs:
        arguments._fail(ValueError, _WHERE, "inputs", "a non-empty list of arrays or tensors", inputs)
    arrays = []
    for i, x in enumerate(inputs):
        array = x.numpy() if isinstance(x, Tensor) else x
        try:
            array = np.array(array)
        except (TypeError, ValueError):
            arguments._fail(TypeError, _WHERE, f"inputs[{i}]", "an array or tensor of numbers", x)
        if array.dtype.kind not in "fiub":
            arguments._fail(TypeError, _WHERE, f"inputs[{i}]", "an array or tensor of numbers (floats, ints or "
                            "bools)", x)
        arrays.append(array)
    return arrays


def _flags(value, arrays, name, default) -> list:
    """One bool per input from ``value``: None (``default(array)``), a list of bools, or a
    list of input indices."""
    n = len(arrays)
    if value is None:
        return [default(a) for a in arrays]
    if not isinstance(value, (list, tuple)):
        arguments._fail(TypeError, _WHERE, name, f"a list of {n} bools or a list of input indices", value)
    if all(isinstance(v, (bool, np.bool_)) for v in value) and value:
        if len(value) != n:
            arguments._fail(ValueError, _WHERE, name, f"one bool per input ({n})", value)
        return [bool(v) for v in value]
    flags = [False] * n
    for v in value:
        if not arguments.is_int(v) or not -n <= v < n:
            arguments._fail(ValueError, _WHERE, name, f"input indices in [0, {n})", value)
        flags[v] = True
    return flags


def _rtols(rtol, dtypes) -> dict:
    if rtol is None:
        return {d: RTOL[d] for d in dtypes}
    if isinstance(rtol, dict):
        missing = [d for d in dtypes if d not in rtol]
        if missing:
            arguments._fail(ValueError, _WHERE, "rtol", f"a dict with an entry for every dtype ({', '.join(dtypes)})",
                            rtol)
        return {d: arguments.non_negative(rtol[d], _WHERE, f"rtol[{d!r}]") for d in dtypes}
    value = arguments.non_negative(rtol, _WHERE, "rtol")
    return {d: value for d in dtypes}


def _layer_subjects(layer: Layer, arrays, dtypes) -> dict:
    """dtype -> LayerSubject; an unbuilt layer is built once, on a copy, on the reference
    backend (drawing its initial weights from fastnn's generator, whose state is then put back)."""
    template = copy_layer(layer)
    if not template.built:
        shapes = arrays[0].shape[1:] if len(arrays) == 1 else [a.shape[1:] for a in arrays]
        saved = fnn_random.get_rng_state()
        try:
            template._build_with(shapes, np.dtype(dtypes[0]), fnn_backends.named(REFERENCE))
        finally:
            fnn_random.set_rng_state(saved)
    template.to(REFERENCE)
    return {d: LayerSubject(layer_in_dtype(template, d), layer._label()) for d in dtypes}


def check_parity(fn_or_layer, inputs, backends=None, modes=MODES, dtypes=DTYPES, *, grad=None, state=None,
                 layouts=LAYOUTS, rtol=None, seed=0) -> ParityReport:
    """Run ``fn_or_layer`` on every compiled backend and on the reference (numpy) and compare
    outputs, gradients and state updates; raise ParityError when any differs.

    fn_or_layer: a function of tensors (``fn(*inputs)``, returning a tensor or a tuple/list of
        tensors), or a Layer, called as ``layer(x)`` (one input) or ``layer([x1, x2, ...])``.
        A layer is deep-copied for every run, so the one given is left unchanged (weights,
        gradients, running statistics, built or not); an unbuilt one is built once, on a
        copy, from fastnn's generator, and every backend gets the same weights.
    inputs: a list of NumPy arrays or fastnn tensors (their host values are taken). Floating
        inputs are cast to each dtype of ``dtypes``; integer and boolean inputs (labels,
        indices) stay as they are and get no gradient.
    backends: names of the backends to compare with the reference; None: every compiled
        backend that can run here (a note in the report names those that cannot). Naming one
        that cannot run here (gpu without a CUDA device) is a BackendError saying why; naming
        "numpy" checks the reference against itself (strided inputs, inputs left unchanged).
    modes: "train" and/or "eval": the ``training`` flag of a layer's call, or of a function's
        when it takes a ``training`` argument; a function without one runs once per dtype and
        layout (mode "-" in the report, and a note says so).
    dtypes: "float32" and/or "float64".
    grad: which inputs are differentiated: a bool per input, or a list of input indices;
        default every floating input that is not ``state``.
    state: indices of inputs the function updates in place (running statistics handed to
        ``F.batch_norm``): compared with the reference's after the call instead of having to
        stay unchanged; never strided. Not for layers, whose state is their non-trainable weights.
    layouts: "contiguous" and/or "strided" (every input of one or more axes, state excepted,
        passed as every other element of a wider buffer).
    rtol: the relative tolerance, a number or a dict by dtype; default
        ``fastnn.testing.tolerances.RTOL`` (float32 1e-5, float64 1e-10).
    seed: fastnn's generator is seeded with it before every run; the upstream gradients come
        from NumPy's generator seeded with ``seed + 1``.

    Returns the ParityReport (``str()`` is a table of the worst difference per item).
    """
    is_layer = isinstance(fn_or_layer, Layer)
    if not is_layer and not callable(fn_or_layer):
        arguments._fail(TypeError, _WHERE, "fn_or_layer", "a function of tensors or a Layer", fn_or_layer)
    arrays = _host_inputs(inputs)
    names, notes = _backends(backends)
    modes = _names(modes, MODES, "modes", "modes")
    dtypes = _names(dtypes, DTYPES, "dtypes", "dtypes")
    layouts = _names(layouts, LAYOUTS, "layouts", "layouts")
    rtols = _rtols(rtol, dtypes)
    seed = arguments.integer(seed, _WHERE, "seed", low=0, high=2**63 - 1)
    if is_layer and state:
        arguments._fail(ValueError, _WHERE, "state", "empty for a layer (its state is its non-trainable weights)",
                        state)
    state_flags = _flags(state if state else None, arrays, "state", lambda a: False)
    grad_flags = _flags(grad, arrays, "grad", lambda a: a.dtype.kind == "f")
    if grad is None:
        grad_flags = [g and not s for g, s in zip(grad_flags, state_flags)]
    for i, (a, g) in enumerate(zip(arrays, grad_flags)):
        if g and a.dtype.kind != "f":
            raise TypeError(f"{_WHERE}: grad asks for the gradient of inputs[{i}], which is {a.dtype}; "
                            f"only floating inputs have gradients")

    if is_layer:
        subjects = _layer_subjects(fn_or_layer, arrays, dtypes)
        label = fn_or_layer._label()
        run_modes = modes
    else:
        subject = FunctionSubject(fn_or_layer)
        subjects = {d: subject for d in dtypes}
        label = subject.label
        run_modes = modes if subject.takes_training else (None,)
        if not subject.takes_training:
            notes.append(f"{label} takes no training argument: it ran once per dtype and layout "
                         f"(mode {NO_MODE}), not once per mode")
    operands_for = {d: [Operand(a.astype(d) if a.dtype.kind == "f" else a, g, s)
                        for a, g, s in zip(arrays, grad_flags, state_flags)] for d in dtypes}
    if "strided" in layouts and not any(op.stridable for op in operands_for[dtypes[0]]):
        notes.append("no input has an axis to stride: the strided layout was not run")
        layouts = tuple(x for x in layouts if x != "strided") or ("contiguous",)

    report = ParityReport(label, names, dtypes, tuple(NO_MODE if m is None else m for m in run_modes), layouts,
                          runs=0, notes=notes)
    for dtype in dtypes:
        runner = ParityRunner(subjects[dtype], operands_for[dtype], dtype, rtols[dtype], seed)
        for mode in run_modes:
            report.rows += runner.reference_rows(mode)
            for backend in names:
                for layout in layouts:
                    report.rows += runner.check(backend, mode, layout)
                    report.runs += 1
    if not report.passed:
        raise ParityError(failure_message(label, report.failures) + "\n" + str(report), report.failures, report)
    return report
