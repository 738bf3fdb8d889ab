"""Recurrent layers: SimpleRNN, LSTM, GRU, on (N, T, F) sequences.

The time loop is plain Python over differentiable ops, so backward() is backpropagation
through time with no extra code. The input projections of all T steps are one GEMM
(``x W + b`` on the (N, T, F) input) before the loop; each step then adds the recurrent
term ``h_{t-1} U``. Weight layouts are Keras' (gates side by side along the last axis),
so weights copied from Keras give the same outputs:

    kernel            W: (F, gates * units)
    recurrent_kernel  U: (units, gates * units)   initialised "orthogonal"
    bias              b: (gates * units,)         ((2, 3 units) for GRU, see there)

The initial state is zeros. ``return_sequences=True`` returns every step's output
(N, T, units); else the last one (N, units).
"""

from __future__ import annotations

import numpy as np

from .. import arguments
from .. import init as initializers
from .. import regularizers
from ..creation import stack, unstack, zeros
from ..ops import activations
from ..ops.linear import linear
from .base import InputSpec, Layer
from .core import (activation_config, check_activation, check_initializer, check_regularizer, initializer_config,
                   kernel_bias_config, positive_int, set_kernel_bias_options)


class _RNN(Layer):
    gates = 1  # blocks of ``units`` columns in W, U and b

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, return_sequences=False, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.units = positive_int(units, name, "units")
        set_kernel_bias_options(self, activation, use_bias, kernel_initializer, bias_initializer,
                                kernel_regularizer, bias_regularizer)
        self.recurrent_initializer = check_initializer(recurrent_initializer, name, "recurrent_initializer")
        self.recurrent_regularizer = check_regularizer(recurrent_regularizer, name, "recurrent_regularizer")
        self.return_sequences = arguments.boolean(return_sequences, name, "return_sequences")

    # -- weights ------------------------------------------------------------------
    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"{self._label()}: needs sequences (N, T, features) with a known number of features, "
                             f"got feature shape {input_shape}")
        features, width = input_shape[-1], self.gates * self.units
        self.kernel = self.add_weight("kernel", (features, width), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, width), self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer)
        self.bias = (self.add_weight("bias", self._bias_shape(), self._bias_init(), regularizer=self.bias_regularizer)
                     if self.use_bias else None)
        # The number of steps T may change from call to call; the features may not.
        self.input_spec = InputSpec(ndim=2, axes={-1: features})

    # -- the loop -----------------------------------------------------------------
    def _input_bias(self):
        return self.bias

    def _initial_state(self, x):
        h = zeros(x.shape[0], self.units, dtype=x.dtype, backend=x.backend)
        return (h,)

    def step(self, xw_t, state):
        """One time step: (x_t W + b, state_{t-1}) -> (output h_t, state_t)."""
        raise NotImplementedError

    def call(self, x):
        if x.shape[1] == 0:
            raise ValueError(f"{self._label()}: the input sequence is empty (T = 0), shape {x.shape}")
        xw = linear(x, self.kernel, self._input_bias())  # (N, T, gates*units): every step's input term in one GEMM
        state = self._initial_state(x)
        outputs = []
        # One split op: its backward writes each step's gradient once (slicing xw[:, t] per
        # step would allocate a full-size gradient per step, quadratic in T).
        for xw_t in unstack(xw, axis=1):
            h, state = self.step(xw_t, state)
            outputs.append(h)
        return stack(outputs, axis=1) if self.return_sequences else outputs[-1]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def _gate(self, z, k):
        """Columns [k units, (k+1) units) of z: gate k."""
        return z[:, k * self.units:(k + 1) * self.units]

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, **kernel_bias_config(self),
                      recurrent_initializer=initializer_config(self.recurrent_initializer),
                      recurrent_regularizer=regularizers.serialize(regularizers.get(self.recurrent_regularizer)),
                      return_sequences=self.return_sequences)
        return config


class SimpleRNN(_RNN):
    """Elman RNN:  h_t = activation(x_t W + h_{t-1} U + b),  h_0 = 0.

    Parameters: F units + units^2 + units.
    """

    def step(self, xw_t, state):
        (h,) = state
        h = activations.get(self.activation)(xw_t + h @ self.recurrent_kernel)
        return h, (h,)


class LSTM(_RNN):
    """Long short-term memory (Hochreiter & Schmidhuber), Keras' formulation and gate order i, f, c, o:

        z_t = x_t W + h_{t-1} U + b                      (N, 4 units), blocks [i | f | c | o]
        i_t = sigmoid(z_i)        input gate
        f_t = sigmoid(z_f)        forget gate
        g_t = tanh(z_c)           candidate cell
        o_t = sigmoid(z_o)        output gate
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)                            h_0 = c_0 = 0

    (``activation`` replaces the two tanh, ``recurrent_activation`` the sigmoids.)
    ``unit_forget_bias=True`` starts the forget-gate bias at 1 (the rest from
    ``bias_initializer``) so the cell remembers by default early in training (Jozefowicz
    et al., 2015). Parameters: 4 (F units + units^2 + units).
    """

    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = check_activation(recurrent_activation, "LSTM", "recurrent_activation")
        self.unit_forget_bias = arguments.boolean(unit_forget_bias, "LSTM", "unit_forget_bias")

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, base = self.units, self.bias_initializer

        def forget_bias_one(shape, dtype, backend=None):
            # [b_i | 1 | b_c, b_o]: only the forget block is forced to one (Keras' unit_forget_bias).
            first = initializers.initialize(base, (units,), dtype, backend).numpy()
            rest = initializers.initialize(base, (2 * units,), dtype, backend).numpy()
            return np.concatenate([first, np.ones(units, dtype=dtype), rest])

        return forget_bias_one

    def _initial_state(self, x):
        h = zeros(x.shape[0], self.units, dtype=x.dtype, backend=x.backend)
        return (h, h)

    def step(self, xw_t, state):
        h, c = state
        z = xw_t + h @ self.recurrent_kernel
        sigma, act = activations.get(self.recurrent_activation), activations.get(self.activation)
        i = sigma(self._gate(z, 0))
        f = sigma(self._gate(z, 1))
        g = act(self._gate(z, 2))
        o = sigma(self._gate(z, 3))
        c = f * c + i * g
        h = o * act(c)
        return h, (h, c)

    def get_config(self):
        config = super().get_config()
        config.update(recurrent_activation=activation_config(self.recurrent_activation),
                      unit_forget_bias=self.unit_forget_bias)
        return config


class GRU(_RNN):
    """Gated recurrent unit, Keras' default formulation (reset_after=True, the cuDNN one),
    gate order z, r, h:

        x_z, x_r, x_h = blocks of  x_t W + b_in                 (b_in = bias[0])
        u_z, u_r, u_h = blocks of  h_{t-1} U + b_rec            (b_rec = bias[1])
        z_t = sigmoid(x_z + u_z)              update gate
        r_t = sigmoid(x_r + u_r)              reset gate
        n_t = tanh(x_h + r_t * u_h)           candidate (the reset gate applies AFTER the matmul)
        h_t = z_t * h_{t-1} + (1 - z_t) * n_t                  h_0 = 0

    (``activation`` replaces tanh, ``recurrent_activation`` the sigmoids.) The bias has
    shape (2, 3 units): an input and a recurrent bias, both needed because the reset gate
    multiplies the recurrent term including its bias. Parameters: 3 (F units + units^2 + 2 units).
    """

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", **kwargs):
        reset_after = kwargs.pop("reset_after", True)
        if reset_after is not True:
            raise ValueError(f"GRU: reset_after must be True (Keras' default; the only form implemented), "
                             f"got {reset_after!r}")
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = check_activation(recurrent_activation, "GRU", "recurrent_activation")

    def _bias_shape(self):
        return (2, self.gates * self.units)

    def _input_bias(self):
        return None if self.bias is None else self.bias[0]

    def call(self, x):
        # Index the recurrent bias once per call, not once per step.
        self._recurrent_bias = None if self.bias is None else self.bias[1]
        try:
            return super().call(x)
        finally:
            self._recurrent_bias = None

    def step(self, xw_t, state):
        (h,) = state
        hu = h @ self.recurrent_kernel
        if self._recurrent_bias is not None:
            hu = hu + self._recurrent_bias
        sigma, act = activations.get(self.recurrent_activation), activations.get(self.activation)
        z = sigma(self._gate(xw_t, 0) + self._gate(hu, 0))
        r = sigma(self._gate(xw_t, 1) + self._gate(hu, 1))
        n = act(self._gate(xw_t, 2) + r * self._gate(hu, 2))
        h = z * h + (1 - z) * n
        return h, (h,)

    def get_config(self):
        config = super().get_config()
        config.update(recurrent_activation=activation_config(self.recurrent_activation), reset_after=True)
        return config
