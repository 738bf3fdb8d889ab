"""Layer rows of the case table (``cases.ALL_CASES``).

Each row makes a fresh layer, builds it for the input's feature shape, and draws host
arrays for the input and for every weight. The case function binds the weight tensors it
is given into the layer before calling it, so a gradient check (or a backend parity
test) differentiates with respect to the input AND every trainable weight; non-trainable
weights (batch-norm running statistics) are inputs without gradient, which lets parity
tests compare their in-place updates too.

"small": odd shapes, cheap enough for central differences; "large": benchmark shapes.
Modes: "train" / "eval" set the ``training`` flag of the call.
"""

from __future__ import annotations

import numpy as np

from .. import layers as L
from ..backend import use_backend
from ..models import Model, Sequential
from ..random import get_rng_state, set_rng_state
from .cases import KINKED, Case, CaseInstance, conv_off_kink, normal, pick, weight


def _layer_case(factory, small, large, *, weight_scale=0.5, input_maker=None, weight_maker=None, with_shape=False):
    """A ``make`` for a layer built by ``factory(dtype, size)`` (``factory(dtype, size, feature_shape)``
    when ``with_shape``) on inputs of shape pick(size, small, large).

    input_maker(rng, shape, dtype, size) -> list of input arrays (default: one standard normal array);
    weight_maker(rng, layer, dtype) -> list of weight arrays (default: normal * weight_scale).
    """

    def make(rng, dtype, size, mode):
        shape = pick(size, small, large)
        feature = [s[1:] for s in shape] if isinstance(shape, list) else shape[1:]
        layer = factory(dtype, size, feature) if with_shape else factory(dtype, size)
        # Building draws initial values from fastnn's generator; they are replaced below, and the
        # generator is put back so that making a case never shifts a seeded run (dropout masks).
        state = get_rng_state()
        with use_backend("numpy"):
            layer.build(feature)
        set_rng_state(state)
        if input_maker is not None:
            inputs = input_maker(rng, shape, dtype, size)
        elif isinstance(shape, list):
            inputs = [normal(rng, s, dtype) for s in shape]
        else:
            inputs = [normal(rng, shape, dtype)]
        entries = layer._weight_entries()
        if weight_maker is not None:
            weights = weight_maker(rng, layer, dtype)
        else:
            weights = [weight(rng, t.shape, dtype, size, weight_scale) for _, _, t in entries]
        trainable = [spec.trainable for _, spec, _ in entries]
        n_in = len(inputs)
        training = mode == "train"
        integer = [np.asarray(a).dtype.kind in "iu" for a in inputs] + [False] * len(weights)

        def fn(*tensors):
            layer._bind_weights(tensors[n_in:])
            xs = list(tensors[:n_in])
            if isinstance(layer, Model) and layer.backend != xs[0].backend:
                layer.to(xs[0].backend)  # a model lives on one backend: follow the backend under test
            return layer(xs if isinstance(shape, list) else xs[0], training=training)

        return CaseInstance(fn=fn, arrays=[*inputs, *weights],
                            grad=[not i for i in integer[:n_in]] + trainable, integer=integer)

    return make


def _bn_weights(rng, layer, dtype):
    """gamma, beta ~ N(0, 1) around (1, 0); running mean ~ N(0, 1), running var in [0.5, 1.5]."""
    c = layer.gamma.shape[0]
    return [(1 + 0.3 * normal(rng, (c,), dtype)).astype(dtype), normal(rng, (c,), dtype),
            normal(rng, (c,), dtype), rng.uniform(0.5, 1.5, c).astype(dtype)]


def _ids(high):
    def make(rng, shape, dtype, size):
        return [rng.integers(0, pick(size, *high), size=shape).astype(np.int64)]
    return make


def _pool_input(rng, shape, dtype, size):
    # Distinct values well apart: central differences never cross a tie inside a max window.
    n = int(np.prod(shape))
    values = rng.permutation(n).astype(dtype) * 0.01
    return [values.reshape(shape)]


def _dense(activation):
    return _layer_case(lambda dtype, size: L.Dense(pick(size, 3, 1024), activation=activation, dtype=dtype),
                       (5, 7), (256, 1024))


def _conv(filters, kernel, strides, padding, small, large, activation=None):
    input_maker = weight_maker = None
    if activation in KINKED:   # inputs and weights that keep every pre-activation off the kink
        def input_maker(rng, shape, dtype, size):
            return [rng.integers(-2, 3, size=shape).astype(dtype)]

        def weight_maker(rng, layer, dtype):
            _, w, b = conv_off_kink(rng, (1,) + tuple(layer.kernel.shape[1:]), tuple(layer.kernel.shape), dtype)
            return [w, b]
    return _layer_case(lambda dtype, size: L.Conv2D(pick(size, filters, 64), kernel, strides=strides,
                                                    padding=padding, activation=activation, dtype=dtype),
                       small, large, weight_scale=0.3, input_maker=input_maker, weight_maker=weight_maker)


def _rnn(cls, return_sequences):
    return _layer_case(lambda dtype, size: cls(pick(size, 3, 128), return_sequences=return_sequences, dtype=dtype),
                       (3, 4, 5), (64, 32, 128), weight_scale=0.4)


def _simple(factory, small, large, **kwargs):
    """A row for a layer whose constructor does not depend on the size."""
    return _layer_case(lambda dtype, size: factory(dtype), small, large, **kwargs)


def _embedding(vocab, dim):
    return _layer_case(lambda dtype, size: L.Embedding(pick(size, *vocab), pick(size, *dim), dtype=dtype),
                       (3, 4), (64, 128), input_maker=_ids(vocab))


_LINEAR = ("linear_fwd", "linear_bwd")
_CONV = ("conv2d_fwd", "conv2d_bwd", "im2col", "col2im")
_BN = ("batchnorm_fwd_train", "batchnorm_bwd_train", "batchnorm_fwd_eval", "batchnorm_bwd_eval")
_GATES = _LINEAR + ("sigmoid_fwd", "sigmoid_bwd", "tanh_fwd", "tanh_bwd")


def _cnn_weights(rng, model, dtype):
    conv, bn, dense = model.layers[0], model.layers[1], model.layers[5]
    return ([normal(rng, t.shape, dtype) * 0.4 for t in conv.weights] + _bn_weights(rng, bn, dtype)
            + [normal(rng, t.shape, dtype) * 0.4 for t in dense.weights])


def _small_cnn(dtype, size, feature):
    return Sequential([L.Input(feature, dtype=dtype), L.Conv2D(pick(size, 2, 16), 3, padding="same"),
                           L.BatchNormalization(), L.Activation("tanh"), L.AveragePooling2D(2), L.Flatten(),
                           L.Dense(pick(size, 3, 10))], backend="numpy")


LAYER_CASES: list[Case] = [
    Case("layer_dense", _dense(None), kernels=_LINEAR),
    Case("layer_dense_relu", _dense("relu"), kernels=_LINEAR + ("relu_fwd", "relu_bwd")),
    Case("layer_dense_tanh", _dense("tanh"), kernels=_LINEAR + ("tanh_fwd", "tanh_bwd")),
    Case("layer_dense_softmax", _dense("softmax"), kernels=_LINEAR + ("softmax_fwd", "softmax_bwd")),
    Case("layer_conv2d_valid", _conv(4, 3, 1, "valid", (2, 3, 7, 6), (32, 32, 32, 32)), kernels=_CONV),
    Case("layer_conv2d_stride2_pad1", _conv(3, 3, 2, 1, (2, 2, 7, 5), (32, 32, 32, 32)), kernels=_CONV),
    Case("layer_conv2d_same_even_kernel", _conv(3, (2, 4), 1, "same", (2, 2, 5, 6), (32, 32, 32, 32)),
         kernels=_CONV),
    Case("layer_conv2d_same_stride2", _conv(2, 3, 2, "same", (1, 3, 7, 6), (32, 32, 33, 33)), kernels=_CONV),
    Case("layer_conv2d_relu", _conv(3, 3, 1, "valid", (2, 2, 5, 5), (32, 32, 32, 32), activation="relu"),
         kernels=_CONV),   # the activation is fused into conv2d_fwd/bwd
    Case("layer_max_pooling2d", _simple(lambda dtype: L.MaxPooling2D(2, dtype=dtype), (2, 3, 7, 5),
                                        (32, 32, 64, 64), input_maker=_pool_input),
         kernels=("max_pool2d_fwd", "max_pool2d_bwd")),
    Case("layer_max_pooling2d_same_stride2",
         _simple(lambda dtype: L.MaxPooling2D(3, strides=2, padding="same", dtype=dtype), (2, 2, 7, 6),
                 (32, 32, 63, 63), input_maker=_pool_input),
         kernels=("max_pool2d_fwd", "max_pool2d_bwd")),
    Case("layer_average_pooling2d", _simple(lambda dtype: L.AveragePooling2D(2, dtype=dtype), (2, 3, 7, 5),
                                            (32, 32, 64, 64)),
         kernels=("avg_pool2d_fwd", "avg_pool2d_bwd")),
    Case("layer_average_pooling2d_same_stride2",
         _simple(lambda dtype: L.AveragePooling2D(3, strides=2, padding="same", dtype=dtype), (2, 2, 7, 6),
                 (32, 32, 63, 63)),
         kernels=("avg_pool2d_fwd", "avg_pool2d_bwd")),
    Case("layer_batch_normalization_2d",
         _simple(lambda dtype: L.BatchNormalization(momentum=0.9, dtype=dtype), (6, 5), (256, 1024),
                 weight_maker=_bn_weights),
         modes=("train", "eval"), kernels=_BN),
    Case("layer_batch_normalization_4d",
         _simple(lambda dtype: L.BatchNormalization(dtype=dtype), (3, 4, 3, 5), (64, 32, 32, 32),
                 weight_maker=_bn_weights),
         modes=("train", "eval"), kernels=_BN),
    Case("layer_dropout", _simple(lambda dtype: L.Dropout(0.3, dtype=dtype), (5, 7), (256, 4096)),
         modes=("train", "eval"), kernels=("dropout_fwd", "dropout_bwd", "philox_uint32")),
    Case("layer_embedding", _embedding((7, 10000), (5, 128)), kernels=("embedding_fwd", "embedding_bwd")),
    Case("layer_simple_rnn", _rnn(L.SimpleRNN, False), kernels=_LINEAR + ("tanh_fwd", "tanh_bwd")),
    Case("layer_simple_rnn_sequences", _rnn(L.SimpleRNN, True), kernels=_LINEAR + ("tanh_fwd", "tanh_bwd")),
    Case("layer_lstm", _rnn(L.LSTM, False), kernels=_GATES),
    Case("layer_lstm_sequences", _rnn(L.LSTM, True), kernels=_GATES),
    Case("layer_gru", _rnn(L.GRU, False), kernels=_GATES),
    Case("layer_gru_sequences", _rnn(L.GRU, True), kernels=_GATES),
    Case("layer_add", _simple(lambda dtype: L.Add(dtype=dtype), [(3, 5), (3, 5), (3, 5)], [(256, 1024)] * 2)),
    Case("layer_add_4d", _simple(lambda dtype: L.Add(dtype=dtype), [(2, 3, 2, 3)] * 2, [(32, 64, 32, 32)] * 2)),
    Case("layer_flatten", _simple(lambda dtype: L.Flatten(dtype=dtype), (2, 3, 4, 5), (64, 32, 16, 16))),
    Case("layer_activation_elu", _simple(lambda dtype: L.Activation("elu", dtype=dtype), (4, 5), (256, 4096)),
         kernels=("elu_fwd", "elu_bwd")),
    # A whole model: conv + batch norm + pooling + dense, differentiated w.r.t. every weight.
    Case("model_small_cnn",
         _layer_case(_small_cnn, (2, 2, 5, 4), (32, 3, 32, 32), weight_maker=_cnn_weights, with_shape=True),
         modes=("train", "eval"), kernels=_CONV + _LINEAR + _BN + ("avg_pool2d_fwd", "avg_pool2d_bwd")),
]
