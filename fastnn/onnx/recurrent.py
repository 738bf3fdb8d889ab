"""Converters for the layers exported whole: SimpleRNN, LSTM and GRU, as ONNX's own RNN,
LSTM and GRU ops.

Why the ONNX ops rather than the traced time loop: the loop unrolled op by op would fix
the number of time steps at export and grow the graph with it, and its zero initial state
is a tensor made from the batch size, which a graph cannot hold as a constant. The ONNX
ops take any sequence length and batch size, start from zeros when ``initial_h`` is left
out, and runtimes run them with fused kernels. (onnxruntime's CPU provider runs them in
float32 only; a float64 model is still valid ONNX. See docs/training.md.)

fastnn's layouts are Keras' (see fastnn/layers/recurrent.py): x (N, T, F); W (F, g units)
and U (units, g units) with the g gate blocks side by side; outputs (N, T, units) or the
last step (N, units). ONNX wants x (T, N, F), W (1, g units, F) and R (1, g units, units)
(the transposes, one direction), B (1, 2 g units) = [input bias | recurrent bias], and
returns Y (T, 1, N, units) and Y_h (1, N, units). Gate orders:

    SimpleRNN  h_t = f(x_t W + h_{t-1} U + b)                          B = [b | 0]
    LSTM       fastnn [i | f | c | o]  ->  ONNX [i | o | f | c]        B = [b reordered | 0]
               activations f (gates) = recurrent_activation, g (cell) = h (output) = activation
    GRU        [z | r | h] in both; fastnn's reset_after form is ONNX's linear_before_reset=1:
               n_t = g(x_t W_h + b_in,h + r_t * (h_{t-1} U_h + b_rec,h))   B = [bias[0] | bias[1]]
               activations f (gates) = recurrent_activation, g (candidate) = activation

No peepholes, no clipping, one direction, initial state zeros: what fastnn's layers do.
A subclass that changes the forward pass (its own ``call`` or ``step``) is not converted
here but traced op by op like any other layer.
"""

from __future__ import annotations

import numpy as np

from ..layers.recurrent import GRU, LSTM, SimpleRNN
from . import activations

#: The methods that make up a recurrent layer's forward pass: a subclass that overrides
#: none of them computes what its class computes.
_FORWARD = ("call", "step", "_initial_state", "_input_bias", "_gate", "_bias_shape")

#: LSTM blocks in ONNX's order (i, o, f, c), as indices of fastnn's blocks (i, f, c, o).
_LSTM_ORDER = (0, 3, 1, 2)


def _blocks(matrix, order, units):
    """The rows of ``matrix`` (gates * units, ...) regrouped in ``order`` of gate blocks."""
    return np.concatenate([matrix[k * units:(k + 1) * units] for k in order], axis=0)


def _activations(context, layer, names):
    """The recurrent ops' ``activations`` attribute, and ``activation_alpha`` / ``_beta``
    for those that take them, in order."""
    found, alphas, betas = [], [], []
    for what in names:
        given = getattr(layer, what)
        name = activations.activation_name(given)
        if name not in activations.RECURRENT:
            raise context.fail(f"{what} {given!r} has no form inside ONNX's recurrent ops, which take "
                               f"{', '.join(sorted(activations.RECURRENT))}")
        onnx_name, alpha, beta = activations.RECURRENT[name]
        found.append(onnx_name)
        if alpha is not None:
            alphas.append(alpha)
        if beta is not None:
            betas.append(beta)
    return dict(activations=found, activation_alpha=alphas or None, activation_beta=betas or None)


def _recurrent_node(context, record, op_type, kernel, recurrent, bias, activation_names, **attributes):
    """x (N, T, F) -> the ONNX op -> (N, T, units) or (N, units), as the layer returns."""
    layer, builder = record.layer, context.builder
    x = context.node("Transpose", [context.value(record.inputs[0])], perm=[1, 0, 2])
    inputs = [x, builder.initializer(f"{layer.name}/W", kernel[None]),
              builder.initializer(f"{layer.name}/R", recurrent[None])]
    if bias is not None:
        inputs.append(builder.initializer(f"{layer.name}/B", bias[None]))
    every_step = layer.return_sequences
    # Y (every step) or Y_h (the last): the other output is left out
    y, y_last = context.node(op_type, inputs, outputs=2, unused=(1,) if every_step else (0,),
                             hidden_size=layer.units, **_activations(context, layer, activation_names), **attributes)
    if every_step:
        value = context.node("Transpose", [builder.squeeze(y, [1])], perm=[1, 0, 2])
    else:
        value = builder.squeeze(y_last, [0])
    context.bind(record.outputs[0], value)


def simple_rnn(context, record):
    """SimpleRNN -> RNN: h_t = f(x_t W + h_{t-1} U + b)."""
    layer = record.layer
    kernel, recurrent = layer.kernel.numpy().T, layer.recurrent_kernel.numpy().T
    bias = None
    if layer.use_bias:
        b = layer.bias.numpy()
        bias = np.concatenate([b, np.zeros_like(b)])
    _recurrent_node(context, record, "RNN", kernel, recurrent, bias, ("activation",))


def lstm(context, record):
    """LSTM -> LSTM, the gate blocks reordered from (i, f, c, o) to ONNX's (i, o, f, c)."""
    layer = record.layer
    units = layer.units
    kernel = _blocks(layer.kernel.numpy().T, _LSTM_ORDER, units)
    recurrent = _blocks(layer.recurrent_kernel.numpy().T, _LSTM_ORDER, units)
    bias = None
    if layer.use_bias:
        b = _blocks(layer.bias.numpy(), _LSTM_ORDER, units)
        bias = np.concatenate([b, np.zeros_like(b)])
    _recurrent_node(context, record, "LSTM", kernel, recurrent, bias,
                    ("recurrent_activation", "activation", "activation"))


def gru(context, record):
    """GRU (reset after) -> GRU with linear_before_reset=1, input and recurrent bias as Wb, Rb."""
    layer = record.layer
    bias = layer.bias.numpy().reshape(-1) if layer.use_bias else None   # (2, 3 units): input then recurrent
    _recurrent_node(context, record, "GRU", layer.kernel.numpy().T, layer.recurrent_kernel.numpy().T, bias,
                    ("recurrent_activation", "activation"), linear_before_reset=1)


CONVERTERS = {SimpleRNN: simple_rnn, LSTM: lstm, GRU: gru}


def converter_for(layer):
    """The converter of a layer exported whole, or None (its ops are traced instead)."""
    for cls, converter in CONVERTERS.items():
        if isinstance(layer, cls) and all(getattr(type(layer), m, None) is getattr(cls, m, None) for m in _FORWARD):
            return converter
    return None


def is_whole(layer) -> bool:
    """Whether a layer is recorded whole by the tracer (it has a converter here)."""
    return converter_for(layer) is not None


__all__ = ["CONVERTERS", "converter_for", "is_whole"]
