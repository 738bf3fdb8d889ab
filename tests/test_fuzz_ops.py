"""Fuzzing the public ops (``fastnn.functional``) and the layers with hypothesis.

Random shapes (0 to 4 dimensions, sizes 0 to 4: empty and single-element axes included),
dtypes (float32, float64, int32, int64, bool, and now and then object or string arrays),
values (nan, inf, huge, out-of-range ids and labels) and argument values (axes, rates,
kernel sizes, strides, paddings, momenta...) go to every op and layer, on the numpy and
the cpu backends. Each call must either

  * succeed, with the shape (and dtype) its documented rule gives, computed here on its
    own from the docstrings' formulas, or
  * raise a ValueError or a TypeError with a message,

never another exception (IndexError, AttributeError, ZeroDivisionError, a numba error),
a crash or a hang. NumPy's ``AxisError`` is a ValueError subclass (and an IndexError), so
an axis error from NumPy counts as a ValueError: its message names the axis and the
dimensions, which is what a user needs.

Inputs go to the ops as tensors, and sometimes as NumPy arrays, object and string arrays
included: the ops that take arrays where a tensor goes (activations, softmax, dropout,
linear, conv2d, pooling) take them; those that need a tensor (batch_norm's x, embedding's
weight, the losses' predictions) refuse them with a TypeError naming the argument. The
bugs the fuzzing found have one test each at the end of the file, with what the input
does now; the property tests leave no input out for them. Most draws are valid with one
argument wrong now and then, so that valid calls are checked often
(``pytest --hypothesis-show-statistics`` shows the share that succeeded;
FASTNN_FUZZ_MESSAGES=1 adds the refusals' messages).
"""

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import fastnn as fnn
import fastnn.functional as F
from backend_params import require
from fastnn import layers as L

BACKENDS = ["numpy", "cpu"]
FUZZ = settings(deadline=None, max_examples=150, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
LAYER_FUZZ = settings(FUZZ, max_examples=300)

# nan and inf inputs are part of the fuzzing: the kernels' warnings about them are expected
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(autouse=True, scope="module")
def _rng_and_backend_restored():
    """Dropout draws from the global stream: put it (and the backend) back after the module."""
    state, backend = fnn.get_rng_state(), fnn.get_backend()
    yield
    fnn.set_rng_state(state)
    fnn.set_backend(backend)


# -- what a call may do ----------------------------------------------------------------------
_MESSAGES = bool(os.environ.get("FASTNN_FUZZ_MESSAGES"))   # the refusals' messages in the statistics


def outcome(call, counted=True):
    """``call()``'s result, or None when it raised a ValueError or TypeError (with a message);
    any other exception propagates and fails the test with the example that caused it.
    ``pytest --hypothesis-show-statistics`` shows the share of calls that succeeded."""
    try:
        result = call()
    except (ValueError, TypeError) as error:   # numpy.exceptions.AxisError is a ValueError
        assert str(error), f"{type(error).__name__} without a message"
        if counted:
            event(f"refused: {type(error).__name__}" + (f" {str(error)[:70]}" if _MESSAGES else ""))
        return None
    if counted:
        event("succeeded")
    return result


def check(result, shape, dtype=None):
    assert result is not None
    assert tuple(result.shape) == tuple(shape), (tuple(result.shape), tuple(shape))
    if dtype is not None:
        assert np.dtype(result.dtype) == np.dtype(dtype), (result.dtype, dtype)


def host(result):
    return result.numpy() if isinstance(result, fnn.Tensor) else np.asarray(result)


# -- strategies ------------------------------------------------------------------------------
# Most draws are valid, with one argument wrong now and then (``mostly``): the valid paths
# run often enough to check their shapes, and every refusal still meets the same rule.
def mostly(good, bad, odds=9):
    """``good`` about odds times in odds + 1, else ``bad`` (the last value, not the first:
    hypothesis draws small integers more often than others)."""
    return st.integers(0, odds).flatmap(lambda i: bad if i == odds else good)


# sampled_from draws its first entries more often: the empty axis comes last, but comes
SIZES = st.sampled_from([2, 1, 3, 1, 4, 2, 0])
POSITIVE = st.integers(1, 4)
SPATIAL = st.sampled_from([4, 5, 3, 6, 2, 1, 0])   # image heights and widths
FLOATS = ["float32", "float64"]
ALL_DTYPES = ["float32", "float64", "int32", "int64", "bool", "object", "str"]
DTYPES = mostly(st.sampled_from(FLOATS), st.sampled_from(ALL_DTYPES), odds=4)


def same_or_other(dtype):
    """The dtype of a second array of an op: the first one's, or now and then any."""
    return mostly(st.just(dtype), st.sampled_from(ALL_DTYPES), odds=6)


def shapes(min_dims=0, max_dims=4, sizes=SIZES):
    """Shapes of min_dims to max_dims axes, each number of axes as likely as the others."""
    return st.integers(min_dims, max_dims).flatmap(lambda n: st.tuples(*[sizes] * n))


@st.composite
def arrays(draw, shape=None, dtype=None, min_dims=0, max_dims=4, special=True, low=-3, high=10):
    """A NumPy array: normal values, sometimes huge, with a nan or an inf now and then;
    integers in [low, high); object arrays of Python floats; string arrays of numbers."""
    shape = draw(shapes(min_dims, max_dims)) if shape is None else tuple(shape)
    dtype = draw(DTYPES) if dtype is None else dtype
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = np.asarray(rng.standard_normal(shape) * draw(st.sampled_from([1.0, 1.0, 1.0, 1e3, 1e30])))
    if special and values.size and draw(st.integers(0, 4)) == 4:
        values.flat[int(rng.integers(values.size))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    if dtype in ("int32", "int64"):
        return np.asarray(rng.integers(low, max(high, low + 1), shape)).astype(dtype)
    if dtype == "bool":
        return np.asarray(values > 0)
    if dtype == "object":
        return values.astype(object)
    if dtype == "str":
        return values.astype(str)
    with np.errstate(over="ignore"):
        return values.astype(dtype)


def as_input(draw, array, backend, raw_ok=True):
    """The array as an op gets it: a tensor on ``backend``, or with ``raw_ok`` now and then
    (and always for object and string arrays, which fnn.tensor refuses) the NumPy array itself."""
    if raw_ok and (array.dtype.kind in "OU" or draw(st.integers(0, 5)) == 5):
        return array
    made = outcome(lambda: fnn.tensor(array, backend=backend), counted=False)
    if made is None:
        assert array.dtype.kind in "OU", f"fnn.tensor refused an array of {array.dtype}"
        return array if raw_ok else fnn.tensor(np.zeros(array.shape, "float32"), backend=backend)
    return made


def is_float(x):
    return np.dtype(x.dtype).kind == "f"


def dtype_of(x):
    return np.dtype(x.dtype)


BAD_AXES = st.sampled_from([-9, 7, None, 1.5, "0", (0,), True])
RATES = mostly(st.floats(0, 1), st.sampled_from([-0.1, 1.5, math.nan, math.inf, "0.5", None, True, 0, 1]))
BAD_WINDOW = st.sampled_from([0, -1, 1.5, "2", None, (1, 2, 3), (1,), True, (0, 1)])
WINDOW = mostly(st.sampled_from([1, 2, 3, (1, 2), (2, 1), np.int64(2)]), BAD_WINDOW)
STRIDE = mostly(st.sampled_from([1, 1, 2, (1, 2), (2, 1)]), BAD_WINDOW)
BAD_PADDING = st.sampled_from([-1, "full", (1, 2, 3), (-1, 0), (0, 0, -1, 0), 1.5, None, True, 5])
CONV_PADDING = mostly(st.sampled_from(["valid", "same", 0, 1, 2, (1, 0), (0, 1, 1, 0)]), BAD_PADDING)
POOL_PADDING = mostly(st.sampled_from(["valid", "same", 0, 0, 1]), BAD_PADDING)
ACTIVATION = mostly(st.sampled_from([None, "relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear", "gelu",
                                     "leaky_relu", F.relu]), st.sampled_from(["bogus", 3, ""]))


def _pair(value):
    """The (rows, cols) of a window argument the ops accept, or None."""
    def ok(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
    if ok(value):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(ok(v) for v in value):
        return int(value[0]), int(value[1])
    return None


def _pads(padding, kernel, stride, spatial):
    """(top, bottom, left, right) by conv2d's documented rule, or None for a padding it refuses."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        pads = []
        for size, k, s in zip(spatial, kernel, stride):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        if all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in padding):
            return tuple(padding)
        return None
    pair = _pair(padding)
    if pair is None or min(pair) < 0:
        return None
    return (pair[0], pair[0], pair[1], pair[1])


def _window_output(spatial, kernel, stride, pads):
    oh = (spatial[0] + pads[0] + pads[1] - kernel[0]) // stride[0] + 1
    ow = (spatial[1] + pads[2] + pads[3] - kernel[1]) // stride[1] + 1
    return oh, ow


# -- element-wise activations --------------------------------------------------------------------
ELEMENTWISE = ["relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "softplus", "step"]


@pytest.mark.parametrize("backend", BACKENDS)
@FUZZ
@given(data=st.data(), name=st.sampled_from(ELEMENTWISE), array=arrays())
def test_elementwise_activations(backend, data, name, array):
    require(backend)
    x = as_input(data.draw, array, backend)
    kwargs = {}
    if name in ("leaky_relu", "elu") and data.draw(st.booleans()):
        kwargs["alpha"] = data.draw(mostly(st.floats(-2, 2), st.sampled_from(["x", None, math.inf, math.nan, True])))
    with fnn.use_backend(backend):
        result = outcome(lambda: getattr(F, name)(x, **kwargs))
    if result is None:
        return
    check(result, array.shape, dtype_of(x))
    assert is_float(x), f"{name} took {x.dtype}"
    if "alpha" in kwargs:
        alpha = kwargs["alpha"]
        assert isinstance(alpha, float) and math.isfinite(alpha), f"{name} took alpha={alpha!r}"


# -- softmax / log_softmax -------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@FUZZ
@given(data=st.data(), name=st.sampled_from(["softmax", "log_softmax"]),
       array=arrays(min_dims=0, max_dims=4, shape=None))
def test_softmax_along_any_axis(backend, data, name, array):
    require(backend)
    x = as_input(data.draw, array, backend)
    axis = data.draw(mostly(st.integers(-array.ndim, array.ndim - 1) if array.ndim else BAD_AXES, BAD_AXES))
    with fnn.use_backend(backend):
        result = outcome(lambda: getattr(F, name)(x, axis=axis))
    if result is None:
        return
    check(result, array.shape, dtype_of(x))
    assert isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) and -array.ndim <= axis < array.ndim
    if name == "softmax" and array.size and np.isfinite(array).all() and np.abs(array).max() < 1e30:
        np.testing.assert_allclose(host(result).sum(axis=int(axis)), 1.0, rtol=1e-4)


# -- dropout ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@FUZZ
@given(data=st.data(), array=arrays(), rate=RATES,
       training=mostly(st.booleans(), st.sampled_from([1, "yes", None])))
def test_dropout(backend, data, array, rate, training):
    require(backend)
    x = as_input(data.draw, array, backend)
    with fnn.use_backend(backend):
        result = outcome(lambda: F.dropout(x, rate, training))
    if result is None:
        return
    check(result, array.shape, dtype_of(x))
    assert isinstance(rate, (int, float)) and 0 <= rate <= 1
    if array.dtype.kind == "f" and np.isfinite(array).all() and array.size:
        assert np.isfinite(host(result)).all()   # rate 1 zeroes everything, never 0 / 0


# -- linear -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@FUZZ
@given(data=st.data(), activation=ACTIVATION, dtype=DTYPES)
def test_linear(backend, data, activation, dtype):
    require(backend)
    in_features, units = data.draw(SIZES), data.draw(SIZES)
    x_shape = data.draw(mostly(shapes(0, 2, POSITIVE).map(lambda s: s + (in_features,)), shapes(0, 3)))
    w_shape = data.draw(mostly(st.just((in_features, units)), st.sampled_from([(in_features,), (2, 2, 2), ()])))
    b_shape = data.draw(mostly(st.sampled_from([(units,), None]), st.sampled_from([(units + 1,), (1, 1)])))
    x = as_input(data.draw, data.draw(arrays(shape=x_shape, dtype=dtype)), backend)
    w = as_input(data.draw, data.draw(arrays(shape=w_shape, dtype=data.draw(same_or_other(dtype)))), backend)
    b = None if b_shape is None else as_input(
        data.draw, data.draw(arrays(shape=b_shape, dtype=data.draw(same_or_other(dtype)))), backend)
    with fnn.use_backend(backend):
        result = outcome(lambda: F.linear(x, w, b, activation=activation))
    if result is None:
        return
    assert len(w_shape) == 2 and len(x_shape) >= 1 and x_shape[-1] == w_shape[0]
    assert all(is_float(a) and dtype_of(a) == dtype_of(x) for a in (x, w) + ((b,) if b is not None else ()))
    check(result, x_shape[:-1] + (w_shape[1],), dtype_of(x))


# -- conv2d -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@FUZZ
@given(data=st.data(), stride=STRIDE, padding=CONV_PADDING, activation=ACTIVATION, dtype=DTYPES)
def test_conv2d(backend, data, stride, padding, activation, dtype):
    require(backend)
    n, c = data.draw(SIZES), data.draw(SIZES)
    h, w_ = data.draw(SPATIAL), data.draw(SPATIAL)
    filters = data.draw(SIZES)
    kh, kw = data.draw(mostly(st.integers(1, 3), st.just(0))), data.draw(mostly(st.integers(1, 3), st.just(0)))
    x_shape = data.draw(mostly(st.just((n, c, h, w_)), st.sampled_from([(c, h, w_), (n, c, h, w_, 1)])))
    w_shape = data.draw(mostly(st.just((filters, c, kh, kw)),
                               st.sampled_from([(filters, c + 1, kh, kw), (filters, c, kh)])))
    x = as_input(data.draw, data.draw(arrays(shape=x_shape, dtype=dtype)), backend)
    weight = as_input(data.draw, data.draw(arrays(shape=w_shape, dtype=data.draw(same_or_other(dtype)))), backend)
    b_shape = data.draw(mostly(st.sampled_from([None, (filters,)]), st.just((filters + 1,))))
    b = None if b_shape is None else as_input(
        data.draw, data.draw(arrays(shape=b_shape, dtype=data.draw(same_or_other(dtype)))), backend)
    with fnn.use_backend(backend):
        result = outcome(lambda: F.conv2d(x, weight, b, stride=stride, padding=padding, activation=activation))
    if result is None:
        return
    assert len(x_shape) == 4 and len(w_shape) == 4 and w_shape[1] == x_shape[1]
    s = _pair(stride)
    assert s is not None and min(s) >= 1, stride
    pads = _pads(padding, w_shape[2:], s, x_shape[2:])
    assert pads is not None, padding
    oh, ow = _window_output(x_shape[2:], w_shape[2:], s, pads)
    assert oh >= 1 and ow >= 1
    check(result, (x_shape[0], w_shape[0], oh, ow), dtype_of(x))


# -- pooling -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@FUZZ
@given(data=st.data(), name=st.sampled_from(["max_pool2d", "avg_pool2d"]), kernel=WINDOW,
       stride=mostly(st.one_of(st.none(), STRIDE), BAD_WINDOW), padding=POOL_PADDING)
def test_pooling(backend, data, name, kernel, stride, padding):
    require(backend)
    x_shape = data.draw(mostly(st.tuples(SIZES, SIZES, SPATIAL, SPATIAL), shapes(0, 5)))
    x = as_input(data.draw, data.draw(arrays(shape=x_shape)), backend)
    with fnn.use_backend(backend):
        result = outcome(lambda: getattr(F, name)(x, kernel, stride, padding))
    if result is None:
        return
    k = _pair(kernel)
    s = k if stride is None else _pair(stride)
    assert len(x_shape) == 4 and k is not None and s is not None and min(k) >= 1 and min(s) >= 1
    pads = _pads(padding, k, s, x_shape[2:])
    assert pads is not None
    if padding != "same":
        assert max(pads[:2]) <= k[0] // 2 and max(pads[2:]) <= k[1] // 2
    oh, ow = _window_output(x_shape[2:], k, s, pads)
    assert oh >= 1 and ow >= 1
    check(result, x_shape[:2] + (oh, ow), dtype_of(x))


# -- batch_norm ------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@FUZZ
@given(data=st.data(), training=mostly(st.booleans(), st.sampled_from([1, "yes", None])), dtype=DTYPES,
       momentum=mostly(st.floats(0, 1), st.sampled_from([-0.5, 1.5, math.nan, "0.1", None, True])),
       eps=mostly(st.floats(1e-8, 1), st.sampled_from([0.0, -1e-5, math.inf, math.nan, "x", None])))
def test_batch_norm(backend, data, training, dtype, momentum, eps):
    require(backend)
    ndim = data.draw(mostly(st.sampled_from([2, 4]), st.sampled_from([1, 3, 5])))
    x_shape = tuple(data.draw(SIZES) for _ in range(ndim))   # empty batches, channels and images too
    channels = x_shape[1] if ndim > 1 else 1
    array = data.draw(arrays(shape=x_shape, dtype=dtype))
    x = as_input(data.draw, array, backend)   # now and then a NumPy x: a TypeError naming x
    float_dtype = dtype if dtype in FLOATS else "float32"

    def param(fill, may_be_none=True):
        kind = data.draw(mostly(st.sampled_from(["ok", "ok", "none"] if may_be_none else ["ok"]),
                                st.sampled_from(["wrong", "dtype"])))
        if kind == "none":
            return None
        shape = (channels + 1,) if kind == "wrong" else (channels,)
        other = "float64" if float_dtype == "float32" else "float32"
        return fnn.tensor(np.full(shape, fill, dtype=other if kind == "dtype" else float_dtype), backend=backend)

    gamma, beta = param(1.0), param(0.0)
    stats = data.draw(mostly(st.sampled_from(["both", "both", "none"]), st.just("one")))
    running_mean = None if stats == "none" else param(0.0, False)
    running_var = None if stats in ("none", "one") else param(1.0, False)
    with fnn.use_backend(backend):
        result = outcome(lambda: F.batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps))
    if result is None:
        return
    assert isinstance(x, fnn.Tensor) and ndim in (2, 4) and is_float(x) and isinstance(training, bool)
    assert isinstance(eps, float) and 0 < eps < math.inf and isinstance(momentum, float) and 0 <= momentum <= 1
    if training or running_mean is None:   # batch statistics: at least two values in each of >= 1 channels
        assert channels >= 1 and x_shape[0] * math.prod(x_shape[2:]) >= 2
    check(result, x_shape, dtype_of(x))
    if array.size and np.isfinite(array).all() and np.abs(array).max() < 1e6:
        assert np.isfinite(host(result)).all()


# -- embedding -------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@FUZZ
@given(data=st.data(), rows=mostly(st.integers(1, 6), st.just(0)), dim=SIZES,
       ids_dtype=mostly(st.sampled_from(["int64", "int32"]), st.sampled_from(ALL_DTYPES), odds=2),
       weight_dtype=mostly(st.sampled_from(FLOATS), st.just("int64")))
def test_embedding(backend, data, rows, dim, ids_dtype, weight_dtype):
    require(backend)
    out_of_range = data.draw(st.integers(0, 4)) == 4
    indices = data.draw(arrays(dtype=ids_dtype, max_dims=3, low=-2 if out_of_range else 0,
                               high=rows + 2 if out_of_range else rows))
    ids = as_input(data.draw, indices, backend)
    # the weight: (rows, dim), now and then of another rank (0-d included) or a NumPy array
    weight_shape = data.draw(mostly(st.just((rows, dim)), st.sampled_from([(), (rows,), (rows, dim, 1)])))
    weight = np.ones(weight_shape, weight_dtype)
    if data.draw(st.integers(0, 5)) < 5:
        weight = fnn.tensor(weight, backend=backend)
    with fnn.use_backend(backend):
        result = outcome(lambda: F.embedding(ids, weight))
    if result is None:
        return
    assert isinstance(weight, fnn.Tensor) and weight.ndim == 2
    assert indices.dtype.kind in "iu" and weight_dtype in FLOATS
    assert indices.size == 0 or (indices.min() >= 0 and indices.max() < rows)
    check(result, indices.shape + (dim,), weight_dtype)


# -- losses ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@FUZZ
@given(data=st.data(), dtype=DTYPES,
       labels_kind=mostly(st.just("ok"), st.sampled_from(["high", "negative", "float", "bool", "shape", "list",
                                                          "tensor"]), odds=2))
def test_sparse_categorical_crossentropy(backend, data, dtype, labels_kind):
    require(backend)
    shape = data.draw(mostly(st.tuples(SIZES, SIZES), shapes(0, 4)))
    logits = data.draw(arrays(shape=shape, dtype=dtype))
    z = as_input(data.draw, logits, backend)   # NumPy logits: a TypeError naming them (ops/checks.require_float)
    label_shape = logits.shape[:-1] if logits.ndim else ()
    classes = logits.shape[-1] if logits.ndim else 0
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    labels = rng.integers(0, max(classes, 1), label_shape)
    if labels_kind == "high":
        labels = labels + classes
    elif labels_kind == "negative":
        labels = labels - 1
    elif labels_kind == "float":
        labels = labels.astype("float32")
    elif labels_kind == "bool":
        labels = labels > 0
    elif labels_kind == "shape":
        labels = labels.reshape(-1)[:1] if labels.size else np.zeros(3, "int64")
    elif labels_kind == "list":
        labels = labels.tolist()
    elif labels_kind == "tensor":
        labels = fnn.tensor(labels, backend=backend)
    with fnn.use_backend(backend):
        result = outcome(lambda: F.sparse_categorical_crossentropy(z, labels))
    if result is None:
        return
    assert isinstance(z, fnn.Tensor) and is_float(z) and logits.ndim >= 2 and logits.size > 0
    check(result, (), dtype_of(z))
    if np.isfinite(logits).all() and np.abs(logits).max() < 1e30:
        assert np.isfinite(host(result))


@pytest.mark.parametrize("backend", BACKENDS)
@FUZZ
@given(data=st.data(), name=st.sampled_from(["categorical_crossentropy", "binary_crossentropy", "mse", "mae"]),
       dtype=DTYPES)
def test_losses_of_two_arrays(backend, data, name, dtype):
    require(backend)
    pred = data.draw(arrays(shape=data.draw(mostly(st.tuples(SIZES, SIZES), shapes(0, 4))), dtype=dtype))
    p = as_input(data.draw, pred, backend)   # now and then NumPy predictions: a TypeError naming them
    target_shape = data.draw(mostly(st.just(pred.shape), st.sampled_from([pred.shape + (1,), pred.shape[:-1],
                                                                           (2, 2)])))
    form = data.draw(mostly(st.sampled_from(["array", "tensor"]), st.sampled_from([None, "a", 1.0])))
    target = form
    if form in ("array", "tensor"):
        target = data.draw(arrays(shape=target_shape, dtype=data.draw(same_or_other(dtype))))
        if form == "tensor":
            target = as_input(data.draw, target, backend, raw_ok=False)
    with fnn.use_backend(backend):
        result = outcome(lambda: getattr(F, name)(p, target))
    if result is None:
        return
    assert isinstance(p, fnn.Tensor) and is_float(p) and pred.size > 0 and tuple(np.shape(target)) == pred.shape
    if name == "categorical_crossentropy":
        assert pred.ndim >= 2
    check(result, (), dtype_of(p))


@pytest.mark.parametrize("backend", BACKENDS)
@FUZZ
@given(data=st.data(), weight=arrays(),
       lam=mostly(st.floats(0, 10), st.sampled_from([-1.0, math.inf, math.nan, "x", None, True])))
def test_l2(backend, data, weight, lam):
    require(backend)
    w = as_input(data.draw, weight, backend)
    with fnn.use_backend(backend):
        result = outcome(lambda: F.l2(w, lam))
    if result is None:
        return
    assert isinstance(w, fnn.Tensor) and is_float(w)
    assert isinstance(lam, float) and 0 <= lam < math.inf, lam
    check(result, (), dtype_of(w))


# -- layers -------------------------------------------------------------------------------------------
def _layer_strategy():
    units = st.one_of(st.integers(1, 3), st.sampled_from([0, -1, 2.5, "3", None, True]))
    window = st.one_of(st.integers(1, 3), st.sampled_from([(1, 2), (2, 1), 0, -1, 1.5, "2", (1, 2, 3), None]))
    padding = st.sampled_from(["valid", "same", "valid", "same", "full", 1, None])
    rate = st.one_of(st.floats(0, 0.99), st.sampled_from([1.0, -0.1, math.nan, "x", None]))
    return st.one_of(
        st.builds(L.Dense, units, activation=ACTIVATION),
        st.builds(L.Conv2D, units, window, strides=window, padding=padding),
        st.builds(L.MaxPooling2D, window, strides=st.one_of(st.none(), window), padding=padding),
        st.builds(L.AveragePooling2D, window, strides=st.one_of(st.none(), window), padding=padding),
        st.builds(L.GlobalAveragePooling2D), st.builds(L.GlobalMaxPooling2D),
        st.builds(L.BatchNormalization, momentum=st.one_of(st.floats(0, 1), st.sampled_from([1.5, math.nan, "x"])),
                  epsilon=st.one_of(st.floats(1e-6, 1), st.sampled_from([0.0, -1.0, math.nan]))),
        st.builds(L.Dropout, rate),
        st.builds(L.Embedding, st.one_of(st.integers(1, 12), st.sampled_from([0, 2.5])), units),
        st.builds(L.SimpleRNN, units, return_sequences=st.sampled_from([True, False, "yes"])),
        st.builds(L.LSTM, units, return_sequences=st.sampled_from([True, False])),
        st.builds(L.GRU, units, return_sequences=st.sampled_from([True, False])),
        st.builds(L.Flatten),
        st.builds(L.Activation, st.sampled_from(["relu", "softmax", "sigmoid", "linear", "log_softmax", "bogus", 3])),
    )


@st.composite
def layers(draw):
    """A layer made from random arguments (None when its constructor refused them)."""
    try:
        return draw(_layer_strategy())
    except (ValueError, TypeError) as error:
        assert str(error)
        event("constructor refused")
        return None


def _expected_dtype(layer, x, layer_dtype):
    """The output dtype: an Embedding's weights' (float32 unless given, or the float dtype of
    the first input it was called with, even a call that then refused float ids), else the
    dtype the input has as a tensor: floats of a NumPy array take the layer's dtype before
    the call (float32 for a new layer), integers and bools what fnn.tensor makes of them."""
    if isinstance(layer, L.Embedding):
        return dtype_of(layer.embeddings)
    if isinstance(x, fnn.Tensor):
        return dtype_of(x)
    return (layer_dtype or np.dtype("float32")) if x.dtype.kind == "f" else fnn.tensor(x).dtype


@pytest.mark.parametrize("backend", BACKENDS)
@LAYER_FUZZ
@given(data=st.data(), layer=layers(), training=st.booleans())
def test_layers(backend, data, layer, training):
    require(backend)
    if layer is None:
        return
    with fnn.use_backend(backend):
        first = None
        for _ in range(2):   # the second call meets the built layer: the same or another shape
            if first is not None and data.draw(st.booleans()):
                shape = first
            else:
                shape = data.draw(shapes(1, 5))
            array = data.draw(arrays(shape=shape))
            if isinstance(layer, L.Embedding) and data.draw(st.booleans()):
                array = np.random.default_rng(0).integers(0, layer.input_dim + 1, shape)
            x = as_input(data.draw, array, backend)
            layer_dtype = layer.dtype
            result = outcome(lambda: layer(x, training=training))
            if result is None:
                continue
            first = shape
            if isinstance(layer, L.GlobalAveragePooling2D):
                assert array.dtype.kind == "f", f"GlobalAveragePooling2D took {array.dtype} images"
            expected = layer.compute_output_shape(shape[1:])
            check(result, (shape[0],) + tuple(expected), _expected_dtype(layer, x, layer_dtype))
            if isinstance(layer, L.Embedding):
                assert array.min(initial=0) >= 0 and array.max(initial=0) < layer.input_dim


# -- the bugs the fuzzing found ------------------------------------------------------------------------
# One input each, the case the fuzzing met first, with what it now does. The property tests
# above cover these inputs again.

def _raises(error, pattern, call):
    with pytest.raises(error, match=pattern):
        call()


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_norm_with_zero_channels_in_training(backend):
    """Batch statistics need values in a channel: no channel is a ValueError, not 0 // 0."""
    require(backend)
    x = fnn.tensor(np.zeros((3, 0), np.float32), backend=backend)
    _raises(ValueError, r"batch_norm: training needs more than one value per channel, x has shape \(3, 0\)",
            lambda: F.batch_norm(x, None, None, None, None, True))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(0, 2, 3, 3), (2, 0, 3, 3), (2, 2, 0, 3), (0, 2), (2, 0)])
def test_batch_norm_of_an_empty_batch_in_inference(backend, shape):
    """Inference normalises each value on its own: empty in, empty out (and empty gradients,
    zero ones for gamma and beta), on every backend (the cpu kernel divided by zero, the
    reference reshaped with a -1 it could not infer)."""
    require(backend)
    c = shape[1]
    x = fnn.tensor(np.zeros(shape, np.float32), backend=backend, requires_grad=True)
    gamma, beta = (fnn.tensor(np.full(c, v, np.float32), backend=backend, requires_grad=True) for v in (1.0, 0.0))
    stats = [fnn.tensor(np.full(c, v, np.float32), backend=backend) for v in (0.0, 1.0)]
    y = F.batch_norm(x, gamma, beta, *stats, False)
    assert y.shape == shape and y.dtype == np.float32
    y.backward(fnn.tensor(np.zeros(shape, np.float32), backend=backend))
    assert x.grad.shape == shape
    np.testing.assert_array_equal(host(gamma.grad), np.zeros(c, np.float32))
    np.testing.assert_array_equal(host(beta.grad), np.zeros(c, np.float32))


def test_batch_norm_of_a_numpy_array():
    x = np.ones((4, 2), np.float32)
    stats = [fnn.tensor(np.full(2, v, np.float32), backend="numpy") for v in (0.0, 1.0)]
    _raises(TypeError, r"batch_norm: x must be a tensor, got ndarray", lambda: F.batch_norm(x, None, None, *stats, True))
    x = fnn.tensor(x, backend="numpy")
    _raises(TypeError, r"batch_norm: running_var must be a tensor, got ndarray",
            lambda: F.batch_norm(x, None, None, stats[0], np.ones(2, np.float32), True))


@pytest.mark.parametrize("kwargs,error,pattern", [
    (dict(momentum="x"), TypeError, r"batch_norm: momentum must be a real number, got 'x'"),
    (dict(momentum=math.nan), ValueError, r"batch_norm: momentum must be a finite number in \[0, 1\], got nan"),
    (dict(eps=math.nan), ValueError, r"batch_norm: eps must be a finite number > 0, got nan"),
    (dict(eps=None), TypeError, r"batch_norm: eps must be a real number, got None"),
    (dict(training="yes"), TypeError, r"batch_norm: training must be True or False, got 'yes'"),
])
def test_batch_norm_arguments(kwargs, error, pattern):
    """nan hyperparameters are refused (eps=nan made every output nan); a wrong kind is a
    TypeError naming the op and the argument, not Python's own comparison error."""
    x = fnn.tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32), backend="numpy")
    call = dict(training=True) | kwargs
    _raises(error, pattern, lambda: F.batch_norm(x, None, None, None, None, **call))


def test_embedding_with_a_numpy_weight():
    _raises(TypeError, r"embedding: weight must be a tensor, got ndarray",
            lambda: F.embedding(np.zeros(2, np.int64), np.ones((5, 3), np.float32)))


def test_embedding_with_a_0d_weight():
    _raises(ValueError, r"embedding: weight must be 2-D, got shape \(\)",
            lambda: F.embedding(np.zeros(2, np.int64), fnn.tensor(np.float32(1.0))))


@pytest.mark.parametrize("name,argument", [("mse", "pred"), ("mae", "pred"), ("binary_crossentropy", "logits"),
                                           ("categorical_crossentropy", "logits"),
                                           ("sparse_categorical_crossentropy", "logits")])
def test_losses_of_numpy_predictions(name, argument):
    targets = np.zeros(2, np.int64) if name.startswith("sparse") else np.ones((2, 3), np.float32)
    _raises(TypeError, rf"{name}: {argument} must be a tensor, got ndarray",
            lambda: getattr(F, name)(np.ones((2, 3), np.float32), targets))


@pytest.mark.parametrize("lam,error", [(math.nan, ValueError), (math.inf, ValueError), (None, TypeError),
                                       (True, TypeError), (-1, ValueError)])
def test_lam_of_l2(lam, error):
    _raises(error, r"l2: lam must be", lambda: F.l2(fnn.tensor(np.ones(3, np.float32), backend="numpy"), lam))


@pytest.mark.parametrize("name", ["leaky_relu", "elu"])
@pytest.mark.parametrize("alpha,error", [(math.nan, ValueError), (math.inf, ValueError), ("x", TypeError),
                                         (None, TypeError)])
def test_alpha_of_leaky_relu_and_elu(name, alpha, error):
    """alpha=nan made nan outputs for negative inputs; now it is refused, naming the op."""
    x = fnn.tensor(-np.ones(3, np.float32), backend="numpy")
    _raises(error, rf"{name}: alpha must be", lambda: getattr(F, name)(x, alpha=alpha))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["int32", "bool"])
def test_global_average_pooling_of_integer_images(backend, dtype):
    """As MaxPooling2D and AveragePooling2D: a TypeError naming x, not a float64 mean."""
    require(backend)
    with fnn.use_backend(backend):
        _raises(TypeError, r"GlobalAveragePooling2D .*: x must be float32 or float64",
                lambda: L.GlobalAveragePooling2D()(np.ones((2, 3, 2, 2), dtype)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,axis", [((3, 0), -1), ((0, 3), 0), ((2, 0, 4), 1), ((0, 3), -1)])
def test_softmax_of_an_empty_axis(backend, name, shape, axis):
    """Rows of no element, or no row: an empty result (NumPy's reshape refused the first)."""
    require(backend)
    x = fnn.tensor(np.zeros(shape, np.float32), backend=backend, requires_grad=True)
    y = getattr(F, name)(x, axis=axis)
    assert y.shape == shape and y.dtype == np.float32
    y.backward(fnn.tensor(np.zeros(shape, np.float32), backend=backend))
    assert x.grad.shape == shape


def test_softmax_axis_errors_name_the_op_and_the_axis():
    x = fnn.tensor(np.zeros((2, 3), np.float32), backend="numpy")
    _raises(ValueError, r"softmax: axis must be in \[-2, 1\] for x of shape \(2, 3\), got 2",
            lambda: F.softmax(x, axis=2))
    _raises(ValueError, r"log_softmax: axis must be in \[-2, 1\] for x of shape \(2, 3\), got -3",
            lambda: F.log_softmax(x, axis=-3))
    _raises(TypeError, r"softmax: axis must be an int, got True", lambda: F.softmax(x, axis=True))
    _raises(ValueError, r"softmax: x must have at least one axis", lambda: F.softmax(x.sum(), axis=0))
    assert F.softmax is fnn.ops.activations.softmax and F.log_softmax is fnn.ops.activations.log_softmax


@pytest.mark.parametrize("op", ["linear", "conv2d"])
def test_unknown_activation_names_the_op(op):
    if op == "linear":
        x, w = np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)
    else:
        x, w = np.ones((1, 1, 3, 3), np.float32), np.ones((2, 1, 2, 2), np.float32)
    call = getattr(F, op)
    _raises(ValueError, rf"{op}: activation must be None, a callable or one of 'elu', .*, got 'bogus'",
            lambda: call(x, w, activation="bogus"))
    _raises(TypeError, rf"{op}: activation must be .*, got 3", lambda: call(x, w, activation=3))


# -- found by the fuzzing in dropout, the reference pooling and conv kernels, and Flatten ---------------------

def test_dropout_training_must_be_a_bool():
    x = fnn.tensor(np.ones(4, np.float32), backend="numpy")
    _raises(TypeError, r"dropout: training must be True or False, got 'yes'", lambda: F.dropout(x, 0.5, "yes"))


@pytest.mark.parametrize("shape", [(0, 2, 4, 4), (2, 0, 4, 4)])
def test_max_pool2d_of_an_empty_batch_on_numpy(shape):
    x = fnn.tensor(np.zeros(shape, np.float32), backend="numpy")
    assert F.max_pool2d(x, 2).shape == shape[:2] + (2, 2)


def test_conv2d_with_zero_filters_on_numpy():
    x = fnn.tensor(np.zeros((2, 2, 4, 4), np.float32), backend="numpy")
    w = fnn.tensor(np.zeros((0, 2, 2, 2), np.float32), backend="numpy")
    assert F.conv2d(x, w).shape == (2, 0, 3, 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_flatten_of_an_empty_batch(backend):
    require(backend)
    with fnn.use_backend(backend):
        assert L.Flatten()(fnn.tensor(np.zeros((0, 2, 3), np.float32))).shape == (0, 6)
