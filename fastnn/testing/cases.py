"""The one table of cases (docs/design.md, "Tests and benchmarks"): every op and
layer, with odd small shapes and large shapes, drives the reference gradient checks,
the backend parity tests and the benchmarks.

A ``Case`` knows how to make, for a dtype, a size ("small": odd shapes for checks;
"large": benchmark shapes) and a mode ("train" / "eval"), a ``CaseInstance``: host
arrays plus a function of tensors. Runners turn the arrays into tensors on the
backend under test (``instance.tensors(backend)``), so every backend sees the same
numbers. Layer cases live in ``cases_layers.py`` and join the table below.

Inputs are drawn away from the points where an op is not differentiable (relu and
abs at 0, ties of max, clip bounds), so central differences are meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .. import functional as F
from ..creation import concatenate, stack, unstack, where
from ..tensor import tensor

SIZES = ("small", "large")
TRAIN_EVAL = ("train", "eval")


@dataclass
class CaseInstance:
    fn: Callable                      # fn(*tensors) -> Tensor (or tuple of Tensors)
    arrays: Sequence[np.ndarray]      # host inputs, in fn's argument order
    grad: Sequence[bool]              # which inputs are differentiated
    integer: Sequence[bool] = ()      # inputs kept integer (labels, indices)

    def tensors(self, backend):
        return [tensor(a, backend=backend, requires_grad=bool(g)) for a, g in zip(self.arrays, self.grad)]


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[np.random.Generator, str, str, str], CaseInstance]   # (rng, dtype, size, mode)
    modes: tuple = ("train",)
    kernels: tuple = field(default=())  # contract kernels the case exercises (for the fallback audit and benches)

    def instance(self, dtype="float64", size="small", mode="train", seed=0) -> CaseInstance:
        return self.make(np.random.default_rng(seed), dtype, size, mode)


def normal(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def away_from_zero(rng, shape, dtype, gap=0.1):
    """Normal-ish values with |v| >= gap: no input sits on a kink at 0."""
    v = rng.standard_normal(shape)
    return (np.sign(v) * (gap + np.abs(v))).astype(dtype)


def positive(rng, shape, dtype, low=0.5, high=2.0):
    return rng.uniform(low, high, shape).astype(dtype)


def distinct(rng, shape, dtype, spacing=0.01):
    """Values that differ pairwise by at least ``spacing`` (no ties for max or pooling)."""
    size = int(np.prod(shape))
    v = (rng.permutation(size) - size / 2) * spacing
    return v.reshape(shape).astype(dtype)


def pick(size, small, large):
    return small if size == "small" else large


def weight(rng, shape, dtype, size, small_scale=0.5):
    """A weight array: ``small_scale`` N(0, 1) for the gradient checks' small shapes; at large
    sizes N(0, 1/fan_in), as initializers give, so activations keep unit scale. (Unscaled
    large weights make logits so big that softmax gradients underflow to float32
    subnormals, on which BLAS runs many times slower: a benchmark artefact, not a cost.)"""
    if size == "small" or len(shape) < 2:
        return normal(rng, shape, dtype) * small_scale
    fan_in = shape[0] if len(shape) == 2 else int(np.prod(shape[1:]))
    return (normal(rng, shape, dtype) / np.sqrt(fan_in)).astype(dtype)


def _act_kernels(name):
    return (f"{name}_fwd", f"{name}_bwd")


# -- linear ---------------------------------------------------------------------------

def _linear(activation, bias=True, lead=()):
    def make(rng, dtype, size, mode):
        n, i, o = pick(size, (5, 7, 3), (256, 1024, 1024))
        x = normal(rng, lead + (n, i), dtype)
        w = weight(rng, (i, o), dtype, size)
        if bias:
            b = normal(rng, (o,), dtype)
            return CaseInstance(fn=lambda x, w, b: F.linear(x, w, b, activation=activation),
                                arrays=[x, w, b], grad=[True, True, True])
        return CaseInstance(fn=lambda x, w: F.linear(x, w, activation=activation), arrays=[x, w], grad=[True, True])
    return make


def _linear_step(rng, dtype, size, mode):
    """step has zero gradient everywhere: multiply by the pre-activation so the check has
    content (d/dz [H(z) z] = H(z)); any non-zero step gradient would be caught."""
    n, i, o = pick(size, (5, 7, 3), (256, 1024, 1024))
    arrays = [normal(rng, (n, i), dtype), weight(rng, (i, o), dtype, size), normal(rng, (o,), dtype)]
    return CaseInstance(fn=lambda x, w, b: F.linear(x, w, b, activation="step") * (x @ w + b),
                        arrays=arrays, grad=[True, True, True])


# -- activations ---------------------------------------------------------------------

def _activation(fn, kinked=False):
    def make(rng, dtype, size, mode):
        shape = pick(size, (3, 5, 2), (64, 128, 128))
        x = away_from_zero(rng, shape, dtype) * 2 if kinked else normal(rng, shape, dtype) * 2
        return CaseInstance(fn=fn, arrays=[x], grad=[True])
    return make


def _step(rng, dtype, size, mode):
    shape = pick(size, (3, 5, 2), (64, 128, 128))
    return CaseInstance(fn=lambda x: F.step(x) * x, arrays=[away_from_zero(rng, shape, dtype)], grad=[True])


def _rowwise(fn, small, large):
    def make(rng, dtype, size, mode):
        return CaseInstance(fn=fn, arrays=[normal(rng, pick(size, small, large), dtype) * 2], grad=[True])
    return make


# -- convolution and pooling -------------------------------------------------------------

#: Activations with a kink at 0: their gradient jumps there.
KINKED = frozenset({"relu", "leaky_relu", "step"})


def conv_off_kink(rng, x_shape, w_shape, dtype):
    """(x, w, b) for a convolution whose every pre-activation z sits at least 1/512 from 0.

    x takes integer values in [-2, 2], w values on a grid of 1/256 (about N(0, 1/fan_in))
    and b odd multiples of 1/512, so z = conv(x, w) + b is an odd multiple of 1/512. A
    backend that sums in another order (Winograd, a direct kernel) is off by rounding,
    ~1e-5 of the output's scale in float32; on random data that moves some z across 0
    and the gradient of a kinked activation then differs there by a whole gy * w.
    """
    x = rng.integers(-2, 3, size=x_shape).astype(dtype)
    scale = 256 / np.sqrt(2 * np.prod(w_shape[1:]))
    w = (np.round(rng.standard_normal(w_shape) * scale) / 256).astype(dtype)
    b = ((2 * rng.integers(-64, 64, size=w_shape[0]) + 1) / 512).astype(dtype)
    return x, w, b


def _conv(x_small, w_small, stride, padding, bias=True, x_large=(32, 64, 32, 32), w_large=(64, 64, 3, 3),
          activation=None, x_grad=True):
    """A conv2d row; ``activation`` is fused into the kernels, ``x_grad=False`` is a first
    layer (its input is data, so no data gradient is asked for)."""
    def make(rng, dtype, size, mode):
        x_shape, w_shape = pick(size, x_small, x_large), pick(size, w_small, w_large)
        if activation in KINKED:
            x, w, b = conv_off_kink(rng, x_shape, w_shape, dtype)
        else:
            x = normal(rng, x_shape, dtype)
            w = (normal(rng, w_shape, dtype) / np.sqrt(np.prod(w_shape[1:]))).astype(dtype)
            b = normal(rng, (w_shape[0],), dtype) * 0.3
        if bias:
            return CaseInstance(fn=lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding,
                                                            activation=activation),
                                arrays=[x, w, b], grad=[x_grad, True, True])
        return CaseInstance(fn=lambda x, w: F.conv2d(x, w, stride=stride, padding=padding, activation=activation),
                            arrays=[x, w], grad=[x_grad, True])
    return make


def _conv_step(x_small, x_large=(32, 64, 32, 32), w_large=(64, 64, 3, 3)):
    """conv2d with the fused step, times the pre-activation (as ``_linear_step``: step's own
    gradient is zero everywhere, so d/dz [H(z) z] = H(z) gives the check content)."""
    def make(rng, dtype, size, mode):
        x_shape, w_shape = pick(size, x_small, x_large), pick(size, (4, x_small[1], 3, 3), w_large)
        x, w, b = conv_off_kink(rng, x_shape, w_shape, dtype)
        return CaseInstance(fn=lambda x, w, b: F.conv2d(x, w, b, padding=1, activation="step")
                            * F.conv2d(x, w, b, padding=1), arrays=[x, w, b], grad=[True, True, True])
    return make


def _pool(op, kernel, stride=None, padding=0, count_include_pad=None, small=(2, 3, 7, 6),
          large=(32, 64, 32, 32)):
    def make(rng, dtype, size, mode):
        x = distinct(rng, pick(size, small, large), dtype)
        if op == "max":
            fn = lambda x: F.max_pool2d(x, kernel, stride=stride, padding=padding)  # noqa: E731
        else:
            fn = lambda x: F.avg_pool2d(x, kernel, stride=stride, padding=padding,  # noqa: E731
                                        count_include_pad=count_include_pad)
        return CaseInstance(fn=fn, arrays=[x], grad=[True])
    return make


# -- batch norm and dropout -------------------------------------------------------------------

def _batch_norm(small, large, affine=True, running=True):
    def make(rng, dtype, size, mode):
        shape = pick(size, small, large)
        c = shape[1]
        x = (normal(rng, shape, dtype) * 1.5 + 0.3).astype(dtype)
        rm, rv = normal(rng, (c,), dtype) * 0.2, positive(rng, (c,), dtype)
        training = mode == "train"
        if affine and running:
            return CaseInstance(
                fn=lambda x, g, b, rm, rv: F.batch_norm(x, g, b, rm, rv, training=training),
                arrays=[x, positive(rng, (c,), dtype), normal(rng, (c,), dtype), rm, rv],
                grad=[True, True, True, False, False])
        if running:
            return CaseInstance(fn=lambda x, rm, rv: F.batch_norm(x, None, None, rm, rv, training=training),
                                arrays=[x, rm, rv], grad=[True, False, False])
        return CaseInstance(fn=lambda x, g, b: F.batch_norm(x, g, b, None, None, training=True),
                            arrays=[x, positive(rng, (c,), dtype), normal(rng, (c,), dtype)],
                            grad=[True, True, True])
    return make


def _dropout(rate, small, large=(1024, 1024)):
    def make(rng, dtype, size, mode):
        return CaseInstance(fn=lambda x: F.dropout(x, rate, training=(mode == "train")),
                            arrays=[normal(rng, pick(size, small, large), dtype)], grad=[True])
    return make


def _embedding(rng, dtype, size, mode):
    rows, dim = pick(size, (6, 5), (50000, 256))
    idx_shape = pick(size, (3, 4), (256, 128))
    indices = rng.integers(0, rows, idx_shape).astype(np.int64)
    if size == "small":  # make sure rows repeat (their gradients must add) and one row is unused
        indices.reshape(-1)[:3] = [2, 2, 4]
        indices[indices == 5] = 0
    return CaseInstance(fn=lambda idx, w: F.embedding(idx, w), arrays=[indices, normal(rng, (rows, dim), dtype)],
                        grad=[False, True], integer=[True, False])


# -- losses ---------------------------------------------------------------------------------

def _sparse_ce(lead_small, classes_small, lead_large=(1024,), classes_large=1000):
    def make(rng, dtype, size, mode):
        lead, classes = pick(size, lead_small, lead_large), pick(size, classes_small, classes_large)
        logits = normal(rng, lead + (classes,), dtype) * 2
        labels = rng.integers(0, classes, lead).astype(np.int64)
        return CaseInstance(fn=F.sparse_categorical_crossentropy, arrays=[logits, labels],
                            grad=[True, False], integer=[False, True])
    return make


def _soft_probs(rng, shape, dtype):
    e = np.exp(rng.standard_normal(shape))
    return (e / e.sum(axis=-1, keepdims=True)).astype(dtype)


def _categorical_ce(targets_grad):
    def make(rng, dtype, size, mode):
        shape = pick(size, (5, 4), (1024, 1000))
        return CaseInstance(fn=F.categorical_crossentropy,
                            arrays=[normal(rng, shape, dtype) * 2, _soft_probs(rng, shape, dtype)],
                            grad=[True, targets_grad])
    return make


def _binary_ce(rng, dtype, size, mode):
    shape = pick(size, (4, 3), (1024, 1024))
    return CaseInstance(fn=F.binary_crossentropy,
                        arrays=[normal(rng, shape, dtype) * 3, rng.uniform(0.05, 0.95, shape).astype(dtype)],
                        grad=[True, True])


def _regression(fn, kinked=False):
    def make(rng, dtype, size, mode):
        shape = pick(size, (3, 5), (1024, 1024))
        t = normal(rng, shape, dtype)
        p = (t + (away_from_zero(rng, shape, dtype) if kinked else normal(rng, shape, dtype))).astype(dtype)
        return CaseInstance(fn=fn, arrays=[p, t], grad=[True, True])
    return make


def _l2(rng, dtype, size, mode):
    return CaseInstance(fn=lambda w: F.l2(w, 0.03), arrays=[normal(rng, pick(size, (4, 3), (1024, 1024)), dtype)],
                        grad=[True])


# -- tensor arithmetic ----------------------------------------------------------------------------

def _binary(fn, a_small, b_small, a_large, b_large, a_maker=normal, b_maker=normal):
    def make(rng, dtype, size, mode):
        a = a_maker(rng, pick(size, a_small, a_large), dtype)
        b = b_maker(rng, pick(size, b_small, b_large), dtype)
        return CaseInstance(fn=fn, arrays=[a, b], grad=[True, True])
    return make


def _unary(fn, small=(3, 4, 5), large=(64, 128, 128), maker=normal):
    def make(rng, dtype, size, mode):
        return CaseInstance(fn=fn, arrays=[maker(rng, pick(size, small, large), dtype)], grad=[True])
    return make


def _clip_input(rng, shape, dtype):
    """Values in (-2, 2) at least 0.05 away from the clip bounds -0.5 and 0.8."""
    v = rng.uniform(-2, 2, shape)
    for bound in (-0.5, 0.8):
        near = np.abs(v - bound) < 0.05
        v[near] = bound + np.where(v[near] >= bound, 0.05, -0.05)
    return v.astype(dtype)


def _nary(fn, shapes_small, shapes_large, maker=normal):
    def make(rng, dtype, size, mode):
        arrays = [maker(rng, s, dtype) for s in pick(size, shapes_small, shapes_large)]
        return CaseInstance(fn=fn, arrays=arrays, grad=[True] * len(arrays))
    return make


def _where(rng, dtype, size, mode):
    a_shape, b_shape = pick(size, ((3, 4), (4,)), ((1024, 1024), (1024,)))
    condition = rng.random(a_shape) < 0.5
    return CaseInstance(fn=lambda a, b: where(tensor(condition, backend=a.backend), a, b),
                        arrays=[normal(rng, a_shape, dtype), normal(rng, b_shape, dtype)], grad=[True, True])


def _masked(rng, dtype, size, mode):
    shape = pick(size, (4, 5), (1024, 1024))
    mask = rng.random(shape) < 0.5
    return CaseInstance(fn=lambda x: x[tensor(mask, backend=x.backend)] * 2,
                        arrays=[normal(rng, shape, dtype)], grad=[True])


def _scalars_both_sides(x):
    return (2.0 - x) * 3.0 / (1.5 + x * x) + 0.5 * x ** 3 - 1 / (2.0 + x * x) + 2.0 ** x - (-x)


LIN = ("linear_fwd", "linear_bwd")
CONV = ("conv2d_fwd", "conv2d_bwd")   # im2col/col2im run inside the reference conv kernels
MAXP = ("max_pool2d_fwd", "max_pool2d_bwd")
AVGP = ("avg_pool2d_fwd", "avg_pool2d_bwd")
BN_TRAIN = ("batchnorm_fwd_train", "batchnorm_bwd_train")
BN_BOTH = BN_TRAIN + ("batchnorm_fwd_eval", "batchnorm_bwd_eval")
DROPOUT = ("dropout_fwd", "dropout_bwd", "philox_uint32")
SPARSE_CE = ("softmax_ce_fwd_bwd", "mean_rows", "scale_by_mean_grad")


CASES: list[Case] = [
    # -- linear, plain and with every fused activation --------------------------------------------
    Case("linear", _linear(None), kernels=LIN),
    Case("linear_nobias", _linear(None, bias=False), kernels=LIN),
    Case("linear_batched_lead", _linear(None, lead=(2,)), kernels=LIN),
    Case("linear_relu", _linear("relu"), kernels=LIN + _act_kernels("relu")),
    Case("linear_sigmoid", _linear("sigmoid"), kernels=LIN + _act_kernels("sigmoid")),
    Case("linear_tanh", _linear("tanh"), kernels=LIN + _act_kernels("tanh")),
    Case("linear_leaky_relu", _linear("leaky_relu"), kernels=LIN + _act_kernels("leaky_relu")),
    Case("linear_elu", _linear("elu"), kernels=LIN + _act_kernels("elu")),
    Case("linear_gelu", _linear("gelu"), kernels=LIN + _act_kernels("gelu")),
    Case("linear_softplus", _linear("softplus"), kernels=LIN + _act_kernels("softplus")),
    Case("linear_step", _linear_step, kernels=LIN + _act_kernels("step")),
    Case("linear_softmax", _linear("softmax"), kernels=LIN + ("softmax_fwd", "softmax_bwd")),
    # -- standalone activations ---------------------------------------------------------------------
    Case("relu", _activation(F.relu, kinked=True), kernels=_act_kernels("relu")),
    Case("sigmoid", _activation(F.sigmoid), kernels=_act_kernels("sigmoid")),
    Case("tanh", _activation(F.tanh), kernels=_act_kernels("tanh")),
    Case("leaky_relu", _activation(F.leaky_relu, kinked=True), kernels=_act_kernels("leaky_relu")),
    Case("leaky_relu_alpha", _activation(lambda x: F.leaky_relu(x, alpha=0.3), kinked=True),
         kernels=_act_kernels("leaky_relu")),
    Case("elu", _activation(F.elu), kernels=_act_kernels("elu")),
    Case("elu_alpha", _activation(lambda x: F.elu(x, alpha=0.7), kinked=True), kernels=_act_kernels("elu")),
    Case("gelu", _activation(F.gelu), kernels=_act_kernels("gelu")),
    Case("softplus", _activation(F.softplus), kernels=_act_kernels("softplus")),
    Case("step", _step, kernels=_act_kernels("step")),
    Case("softmax", _rowwise(F.softmax, (5, 7), (1024, 1000)), kernels=("softmax_fwd", "softmax_bwd")),
    Case("softmax_axis1", _rowwise(lambda x: F.softmax(x, axis=1), (3, 4, 5), (64, 100, 256)),
         kernels=("softmax_fwd", "softmax_bwd")),
    Case("softmax_axis0", _rowwise(lambda x: F.softmax(x, axis=0), (4, 3), (1000, 1024)),
         kernels=("softmax_fwd", "softmax_bwd")),
    Case("log_softmax", _rowwise(F.log_softmax, (5, 7), (1024, 1000)),
         kernels=("log_softmax_fwd", "log_softmax_bwd")),
    Case("log_softmax_axis0", _rowwise(lambda x: F.log_softmax(x, axis=0), (4, 3, 2), (1000, 64, 16)),
         kernels=("log_softmax_fwd", "log_softmax_bwd")),
    Case("log_softmax_axis_neg2", _rowwise(lambda x: F.log_softmax(x, axis=-2), (2, 5, 3), (64, 1000, 16)),
         kernels=("log_softmax_fwd", "log_softmax_bwd")),
    # -- convolution ------------------------------------------------------------------------------------
    Case("conv2d", _conv((2, 3, 7, 6), (4, 3, 3, 3), 1, 0), kernels=CONV),
    Case("conv2d_stride21_pad1", _conv((2, 3, 7, 6), (2, 3, 3, 3), (2, 1), 1), kernels=CONV),
    Case("conv2d_same_even_kernel", _conv((2, 2, 5, 6), (3, 2, 2, 4), 1, "same", x_large=(32, 64, 32, 32),
                                          w_large=(64, 64, 2, 2)), kernels=CONV),
    Case("conv2d_same_stride2", _conv((1, 2, 7, 6), (2, 2, 3, 3), 2, "same"), kernels=CONV),
    Case("conv2d_pad4_nobias", _conv((2, 2, 5, 7), (3, 2, 3, 2), (1, 2), (1, 0, 2, 1), bias=False), kernels=CONV),
    Case("conv2d_1x1", _conv((2, 5, 3, 4), (3, 5, 1, 1), 1, 0, x_large=(32, 256, 28, 28), w_large=(64, 256, 1, 1)),
         kernels=CONV),
    # fused activations (every one of them: their gradients are checked through the fusion),
    # on a batch of images and on one image (the cpu backend lays the two out differently)
    *[Case(f"conv2d_{act}", _conv((2, 3, 6, 5), (4, 3, 3, 3), 1, (1, 0, 2, 1), activation=act), kernels=CONV)
      for act in ("relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "softplus")],
    Case("conv2d_step", _conv_step((2, 3, 6, 5), x_large=(8, 32, 16, 16), w_large=(32, 32, 3, 3)), kernels=CONV),
    *[Case(f"conv2d_one_image_{act}", _conv((1, 3, 6, 5), (4, 3, 3, 3), 1, 1, activation=act,
                                            x_large=(1, 32, 32, 32), w_large=(32, 32, 3, 3)), kernels=CONV)
      for act in ("relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "softplus")],
    Case("conv2d_one_image_step", _conv_step((1, 3, 6, 5), x_large=(1, 32, 32, 32), w_large=(32, 32, 3, 3)),
         kernels=CONV),
    # shapes the cpu backend's rule sends to Winograd (N*C >= 64, 3x3, stride 1) and the
    # step workloads' convolutions (bench/workloads.py) at benchmark size
    Case("conv2d_winograd_same_relu", _conv((4, 16, 9, 7), (5, 16, 3, 3), 1, "same", activation="relu"),
         kernels=CONV),
    Case("conv2d_winograd_valid_relu", _conv((4, 16, 9, 8), (3, 16, 3, 3), 1, "valid", activation="relu",
                                             x_large=(128, 32, 13, 13), w_large=(64, 32, 3, 3)), kernels=CONV),
    Case("conv2d_cnn_conv2_relu", _conv((3, 8, 7, 7), (5, 8, 3, 3), 1, "same", activation="relu",
                                        x_large=(64, 32, 14, 14), w_large=(64, 32, 3, 3)), kernels=CONV),
    # first layers: 1 or 3 input channels, no data gradient (bench/workloads.py CONV_OPS)
    Case("conv2d_first_c1k3_relu", _conv((3, 1, 9, 8), (4, 1, 3, 3), 1, 1, activation="relu", x_grad=False,
                                         x_large=(64, 1, 28, 28), w_large=(32, 1, 3, 3)), kernels=CONV),
    Case("conv2d_first_c1k5", _conv((2, 1, 9, 7), (3, 1, 5, 5), 1, 2, x_grad=False,
                                    x_large=(64, 1, 28, 28), w_large=(32, 1, 5, 5)), kernels=CONV),
    Case("conv2d_first_c3k3_valid", _conv((2, 3, 8, 9), (4, 3, 3, 3), 1, "valid", x_grad=False,
                                          x_large=(64, 3, 32, 32), w_large=(32, 3, 3, 3)), kernels=CONV),
    Case("conv2d_first_c3k5_relu", _conv((2, 3, 9, 8), (3, 3, 5, 5), 1, 2, activation="relu", x_grad=False,
                                         x_large=(64, 3, 32, 32), w_large=(32, 3, 5, 5)), kernels=CONV),
    Case("conv2d_c3k3_stride2", _conv((2, 3, 9, 8), (4, 3, 3, 3), 2, 1, x_large=(64, 3, 32, 32),
                                      w_large=(32, 3, 3, 3)), kernels=CONV),
    # -- pooling -------------------------------------------------------------------------------------------
    Case("max_pool2d", _pool("max", 2), kernels=MAXP),
    Case("max_pool2d_overlap_pad", _pool("max", 3, stride=2, padding=1), kernels=MAXP),
    Case("max_pool2d_overlap_stride1", _pool("max", (3, 2), stride=1, small=(1, 2, 5, 6)), kernels=MAXP),
    Case("max_pool2d_rect_pad", _pool("max", (3, 2), stride=(1, 2), padding=(1, 0)), kernels=MAXP),
    Case("max_pool2d_same", _pool("max", 3, stride=2, padding="same"), kernels=MAXP),
    Case("avg_pool2d", _pool("avg", 2), kernels=AVGP),
    Case("avg_pool2d_pad_include", _pool("avg", 3, stride=2, padding=1, count_include_pad=True), kernels=AVGP),
    Case("avg_pool2d_pad_exclude", _pool("avg", 3, stride=2, padding=1, count_include_pad=False), kernels=AVGP),
    Case("avg_pool2d_overlap_stride1", _pool("avg", (2, 3), stride=1, small=(1, 2, 5, 6)), kernels=AVGP),
    Case("avg_pool2d_same", _pool("avg", 3, stride=2, padding="same"), kernels=AVGP),
    Case("avg_pool2d_rect_pad_include", _pool("avg", (3, 2), stride=(2, 1), padding=(1, 1), count_include_pad=True),
         kernels=AVGP),
    # -- batch norm --------------------------------------------------------------------------------------
    Case("batch_norm_2d", _batch_norm((7, 5), (1024, 1024)), modes=TRAIN_EVAL, kernels=BN_BOTH),
    Case("batch_norm_4d", _batch_norm((3, 4, 3, 5), (32, 64, 32, 32)), modes=TRAIN_EVAL, kernels=BN_BOTH),
    Case("batch_norm_4d_noaffine", _batch_norm((2, 3, 2, 5), (32, 64, 32, 32), affine=False), modes=TRAIN_EVAL,
         kernels=BN_BOTH),
    Case("batch_norm_batch_stats", _batch_norm((6, 4), (1024, 1024), running=False), kernels=BN_TRAIN),
    # -- dropout ------------------------------------------------------------------------------------------
    Case("dropout", _dropout(0.3, (5, 7)), modes=TRAIN_EVAL, kernels=DROPOUT),
    Case("dropout_4d_high_rate", _dropout(0.7, (2, 3, 3, 5), (32, 64, 32, 32)), modes=TRAIN_EVAL, kernels=DROPOUT),
    # -- embedding ------------------------------------------------------------------------------------------
    Case("embedding", _embedding, kernels=("embedding_fwd", "embedding_bwd")),
    # -- losses -----------------------------------------------------------------------------------------------
    Case("sparse_categorical_crossentropy", _sparse_ce((5,), 4), kernels=SPARSE_CE),
    Case("sparse_categorical_crossentropy_3d", _sparse_ce((2, 3), 5, (64, 128), 1000), kernels=SPARSE_CE),
    Case("categorical_crossentropy", _categorical_ce(False), kernels=("softmax_ce_soft_fwd_bwd",)),
    Case("categorical_crossentropy_soft_targets_grad", _categorical_ce(True),
         kernels=("softmax_ce_soft_fwd_bwd", "log_softmax_fwd")),
    Case("binary_crossentropy", _binary_ce, kernels=("bce_logits_fwd", "bce_logits_bwd")),
    Case("mse", _regression(F.mse), kernels=("mse_fwd", "mse_bwd")),
    Case("mae", _regression(F.mae, kinked=True)),
    Case("l2", _l2, kernels=("l2_fwd", "l2_bwd")),
    # -- tensor arithmetic (array-module glue, no contract kernels) --------------------------------------------
    Case("add_broadcast", _binary(lambda a, b: a + b, (3, 1, 5), (4, 1), (64, 1, 1024), (512, 1))),
    Case("sub_broadcast", _binary(lambda a, b: a - b, (4, 5), (5,), (1024, 1024), (1024,))),
    Case("mul_broadcast", _binary(lambda a, b: a * b, (2, 3, 4), (3, 1), (64, 128, 128), (128, 1))),
    Case("div_broadcast", _binary(lambda a, b: a / b, (3, 4), (1, 4), (1024, 1024), (1, 1024),
                                  b_maker=away_from_zero)),
    Case("pow_broadcast", _binary(lambda a, b: a ** b, (3, 4), (4,), (1024, 1024), (1024,), a_maker=positive)),
    Case("scalar_operators", _unary(_scalars_both_sides, (3, 5), (1024, 1024))),
    Case("neg", _unary(lambda x: -x)),
    Case("matmul", _binary(lambda a, b: a @ b, (3, 4), (4, 5), (1024, 1024), (1024, 1024))),
    Case("matmul_batched", _binary(lambda a, b: a @ b, (2, 3, 4), (2, 4, 5), (32, 256, 256), (32, 256, 256))),
    Case("matmul_broadcast_batch", _binary(lambda a, b: a @ b, (2, 1, 3, 4), (3, 4, 2), (8, 1, 128, 128),
                                           (4, 128, 128))),
    Case("matmul_batched_2d", _binary(lambda a, b: a @ b, (2, 3, 4), (4, 5), (32, 256, 256), (256, 256))),
    Case("matmul_1d_left", _binary(lambda a, b: a @ b, (4,), (4, 5), (1024,), (1024, 1024))),
    Case("matmul_1d_right", _binary(lambda a, b: a @ b, (3, 4), (4,), (1024, 1024), (1024,))),
    Case("matmul_1d_both", _binary(lambda a, b: a @ b, (5,), (5,), (4096,), (4096,))),
    Case("matmul_1d_batched", _binary(lambda a, b: a @ b, (4,), (2, 4, 3), (256,), (32, 256, 256))),
    Case("sum_all", _unary(lambda x: x.sum())),
    Case("sum_axis", _unary(lambda x: x.sum(axis=1))),
    Case("sum_axes_keepdims", _unary(lambda x: x.sum(axis=(0, 2), keepdims=True))),
    Case("mean_all", _unary(lambda x: x.mean())),
    Case("mean_axis_neg", _unary(lambda x: x.mean(axis=-1))),
    Case("mean_axes_keepdims", _unary(lambda x: x.mean(axis=(0, 1), keepdims=True))),
    Case("max_all", _unary(lambda x: x.max(), maker=distinct)),
    Case("max_axis_keepdims", _unary(lambda x: x.max(axis=1, keepdims=True), maker=distinct)),
    Case("max_axes", _unary(lambda x: x.max(axis=(0, 2)), maker=distinct)),
    Case("min_axis", _unary(lambda x: x.min(axis=0), maker=distinct)),
    Case("index_basic", _unary(lambda x: x[1:, ::2, -1])),
    Case("index_int_negative_step", _unary(lambda x: x[1, ::-1] * x[-1, :, ::-2].sum())),
    Case("index_fancy_repeats", _unary(lambda x: x[[0, 2, 0, 1, 2]], (3, 4), (1024, 1024))),
    Case("index_fancy_pairs", _unary(lambda x: x[[0, 1, 1, 2], [3, 0, 0, 3]], (3, 4), (1024, 1024))),
    Case("index_fancy_mixed", _unary(lambda x: x[:, [1, 1, 3], 1:], (3, 4, 5))),
    Case("index_bool_mask", _masked),
    Case("index_tensor_int", _unary(lambda x: x[tensor(np.array([3, 0, 3]), backend=x.backend)], (4, 5),
                                    (1024, 1024))),
    Case("reshape", _unary(lambda x: x.reshape(x.shape[1], -1)
                           * x.reshape(-1)[:x.size // x.shape[1]].reshape(1, -1))),
    Case("flatten", _unary(lambda x: x.flatten(1))),
    Case("transpose_axes", _unary(lambda x: x.transpose(2, 0, 1))),
    Case("transpose_T", _unary(lambda x: x.T @ x, (3, 4), (1024, 1024))),
    Case("exp", _unary(lambda x: x.exp())),
    Case("log", _unary(lambda x: x.log(), maker=positive)),
    Case("sqrt", _unary(lambda x: x.sqrt(), maker=positive)),
    Case("abs", _unary(lambda x: x.abs(), maker=away_from_zero)),
    Case("clip", _unary(lambda x: x.clip(-0.5, 0.8), maker=_clip_input)),
    Case("clip_min_only", _unary(lambda x: x.clip(min=-0.5), maker=_clip_input)),
    Case("stack", _nary(lambda a, b, c: stack([a, b, c], axis=1), [(3, 4)] * 3, [(1024, 1024)] * 3)),
    Case("stack_last_axis", _nary(lambda a, b: stack([a, b * b], axis=-1), [(2, 3)] * 2, [(1024, 1024)] * 2)),
    Case("unstack", _unary(lambda x: stack([s * (i + 1) for i, s in enumerate(unstack(x, axis=1))]))),
    Case("unstack_outputs_unused", _unary(lambda x: unstack(x, axis=-1)[1] * 2 + unstack(x, axis=-1)[3])),
    Case("concatenate", _nary(lambda a, b: concatenate([a, b, a], axis=1), [(3, 2), (3, 4)],
                              [(1024, 512), (1024, 1024)])),
    Case("where", _where),
]
