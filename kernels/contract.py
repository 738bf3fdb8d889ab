"""The kernel contract: every kernel's name, signature and whether it is a hot path.

This is the one place the names and signatures are listed. Each backend package
(``reference``, ``cpu``, ``gpu``) implements kernels with exactly these
signatures and semantics; ``kernels/reference`` implements all of them and is
the executable specification.

Conventions shared by every kernel:

* Array arguments are C-contiguous and of one floating dtype (float32 or
  float64); integer arguments (labels, indices, argmax) are int64. The caller
  (a ``Function`` in ``fastnn/ops``) guarantees this; kernels do not convert.
* Kernels allocate and return their outputs, except the ``*_update`` optimizer
  kernels and the running statistics of ``batchnorm_fwd_train``, which update
  their state arrays in place (that is their purpose).
* Images are NCHW. ``stride`` is a pair ``(sh, sw)``; ``pad`` is a 4-tuple
  ``(top, bottom, left, right)`` so that Keras' asymmetric "same" padding is
  expressible; ``kernel`` is a pair ``(kh, kw)``.
* ``alpha`` is the activation parameter (leaky_relu slope, elu scale); other
  activations ignore it.

A compiled backend may lack a kernel that is not a hot path; the registry then
runs the reference kernel on that backend's arrays and a test pins the list of
such fallbacks. A backend missing any hot-path kernel is not available at all.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Activations with a kernel pair ``<name>_fwd`` / ``<name>_bwd``.
ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "softplus", "step")

#: Activations whose derivative is computed from the output ``y`` alone, so a
#: fused op need not keep the pre-activation alive. The others need ``x``.
GRAD_FROM_OUTPUT = frozenset({"relu", "sigmoid", "tanh", "softplus", "step"})


@dataclass(frozen=True)
class KernelSpec:
    """One kernel of the contract: its parameters in order, the names of what it returns
    (empty: it returns None and works in place), whether it is a hot path, and a note on
    the results' meaning."""

    name: str
    params: tuple
    returns: tuple
    hot_path: bool
    note: str = ""

    @property
    def signature(self) -> str:
        """The signature as text, e.g. ``(x, alpha) -> y``, for messages and docs."""
        if not self.returns:
            returns = "None"
        elif len(self.returns) == 1:
            returns = self.returns[0]
        else:
            returns = "(" + ", ".join(self.returns) + ")"
        text = f"({', '.join(self.params)}) -> {returns}"
        return f"{text}    # {self.note}" if self.note else text


def _activation_specs():
    for act in ACTIVATIONS:
        yield KernelSpec(f"{act}_fwd", ("x", "alpha"), ("y",), True)
        yield KernelSpec(f"{act}_bwd", ("x", "y", "gy", "alpha"), ("gx",), True,
                         "x may be None when the activation is in GRAD_FROM_OUTPUT")


_SPECS = [
    *_activation_specs(),
    # Dense layers: GEMM + bias + activation in one op.
    KernelSpec("linear_fwd", ("x", "w", "b", "activation", "alpha"),
               ("y", "z"), True, "z: pre-activation, None unless needed"),
    KernelSpec("linear_bwd",
               ("x", "w", "z", "y", "gy",
                "activation", "alpha", "need_gx", "need_gw", "need_gb"),
               ("gx", "gw", "gb"), True),
    # Convolution with a fused bias and activation: y = act(conv(x, w) + b). z is the
    # pre-activation (None unless the activation's gradient needs it, as in linear);
    # ``saved`` is the backend's own record of x for the backward pass (cols on the
    # reference, whatever the backend's algorithm needs elsewhere): opaque, read only by
    # the same backend's conv2d_bwd.
    KernelSpec("im2col", ("x", "kernel", "stride", "pad"), ("cols",), True, "(N, C*kh*kw, OH*OW)"),
    KernelSpec("col2im", ("cols", "x_shape", "kernel", "stride", "pad"), ("x",), True),
    KernelSpec("conv2d_fwd", ("x", "w", "b", "stride", "pad", "activation", "alpha"),
               ("y", "z", "saved"), True),
    KernelSpec("conv2d_bwd",
               ("x_shape", "w", "saved", "z", "y", "gy",
                "stride", "pad", "activation", "alpha", "need_gx", "need_gw", "need_gb"),
               ("gx", "gw", "gb"), True),
    # Pooling.
    KernelSpec("max_pool2d_fwd", ("x", "kernel", "stride", "pad"),
               ("y", "argmax"), True, "argmax: window offset, int64"),
    KernelSpec("max_pool2d_bwd", ("gy", "argmax", "x_shape", "kernel", "stride", "pad"), ("gx",), True),
    KernelSpec("avg_pool2d_fwd", ("x", "kernel", "stride", "pad", "count_include_pad"), ("y",), True),
    KernelSpec("avg_pool2d_bwd", ("gy", "x_shape", "kernel", "stride", "pad", "count_include_pad"),
               ("gx",), True),
    # Batch normalisation over axis 1 of (N, C) or (N, C, H, W).
    KernelSpec("batchnorm_fwd_train",
               ("x", "gamma", "beta",
                "running_mean", "running_var", "momentum", "eps"),
               ("y", "mean", "invstd"), True, "updates running_* in place"),
    KernelSpec("batchnorm_fwd_eval", ("x", "gamma", "beta", "running_mean", "running_var", "eps"),
               ("y",), True),
    KernelSpec("batchnorm_bwd_train", ("x", "gamma", "mean", "invstd", "gy"),
               ("gx", "ggamma", "gbeta"), True),
    KernelSpec("batchnorm_bwd_eval", ("x", "gamma", "running_mean", "running_var", "eps", "gy"),
               ("gx", "ggamma", "gbeta"), True),
    # Softmax family over the last axis of a 2-D array.
    KernelSpec("softmax_fwd", ("x",), ("y",), False),
    KernelSpec("softmax_bwd", ("y", "gy"), ("gx",), False),
    KernelSpec("log_softmax_fwd", ("x",), ("y",), False),
    KernelSpec("log_softmax_bwd", ("y", "gy"), ("gx",), False),
    KernelSpec("softmax_ce_fwd_bwd", ("logits", "labels", "want_grad"), ("loss_rows", "dlogits"), True),
    KernelSpec("softmax_ce_soft_fwd_bwd", ("logits", "targets", "want_grad"), ("loss_rows", "dlogits"), True),
    KernelSpec("mean_rows", ("loss",), ("mean",), True, "0-d mean of the per-row losses"),
    KernelSpec("scale_by_mean_grad", ("dlogits", "g", "n"), ("gz",), True,
               "dlogits * (g / n): the gradient of a mean over n rows, g one element; dlogits is handed "
               "over and may be scaled in place"),
    # Other losses and penalties.
    KernelSpec("bce_logits_fwd", ("z", "t"), ("loss",), False, "elementwise"),
    KernelSpec("bce_logits_bwd", ("z", "t", "g"), ("gz", "gt"), False),
    KernelSpec("mse_fwd", ("p", "t"), ("loss",), False, "0-d mean"),
    KernelSpec("mse_bwd", ("p", "t", "g"), ("gp",), False),
    KernelSpec("l2_fwd", ("w",), ("s",), False, "0-d sum of squares"),
    KernelSpec("l2_bwd", ("w", "g"), ("gw",), False),
    # Randomness and dropout.
    KernelSpec("philox_uint32", ("seed", "offset", "n"),
               ("u",), True, "uint32[n], blocks offset.. of Philox-4x32-10"),
    KernelSpec("dropout_fwd", ("x", "rate", "seed", "offset", "lane"), ("y", "mask"), True,
               "mask: uint8, 1 = kept; element 0 takes word lane (0-3) of block offset"),
    KernelSpec("dropout_bwd", ("gy", "mask", "rate"), ("gx",), True),
    # Embedding lookup.
    KernelSpec("embedding_fwd", ("weight", "indices"), ("out",), False),
    KernelSpec("embedding_bwd", ("indices", "gy", "num_embeddings"), ("gweight",), False),
    # Optimizer updates, in place on the parameter and its state.
    KernelSpec("sgd_update",
               ("p", "g", "buf", "lr",
                "momentum", "dampening", "nesterov", "weight_decay", "first_step"),
               (), True),
    KernelSpec("rmsprop_update",
               ("p", "g", "square_avg", "grad_avg", "buf",
                "lr", "alpha", "eps", "weight_decay", "momentum", "centered"),
               (), True),
    KernelSpec("adam_update",
               ("p", "g", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step",
                "lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "decoupled"),
               (), True),
]

#: The kernels by family. Every backend package names its submodules after the families
#: and builds its ``PROVIDES`` table from this with :func:`provides`.
FAMILIES: dict[str, tuple] = {
    "linear": ("linear_fwd", "linear_bwd"),
    "conv": ("im2col", "col2im", "conv2d_fwd", "conv2d_bwd"),
    "pooling": ("max_pool2d_fwd", "max_pool2d_bwd", "avg_pool2d_fwd", "avg_pool2d_bwd"),
    "batchnorm": ("batchnorm_fwd_train", "batchnorm_fwd_eval", "batchnorm_bwd_train", "batchnorm_bwd_eval"),
    "softmax": ("softmax_fwd", "softmax_bwd", "log_softmax_fwd", "log_softmax_bwd",
                "softmax_ce_fwd_bwd", "softmax_ce_soft_fwd_bwd", "mean_rows", "scale_by_mean_grad"),
    "losses": ("bce_logits_fwd", "bce_logits_bwd", "mse_fwd", "mse_bwd", "l2_fwd", "l2_bwd"),
    "philox": ("philox_uint32",),
    "dropout": ("dropout_fwd", "dropout_bwd"),
    "embedding": ("embedding_fwd", "embedding_bwd"),
    "optim": ("sgd_update", "rmsprop_update", "adam_update"),
    "activations": tuple(f"{a}_{d}" for a in ACTIVATIONS for d in ("fwd", "bwd")),
}


def provides(families) -> dict[str, str]:
    """kernel name -> submodule, for a backend whose package implements ``families``."""
    return {name: family for family in families for name in FAMILIES[family]}


#: name -> KernelSpec, in contract order.
KERNELS: dict[str, KernelSpec] = {spec.name: spec for spec in _SPECS}

#: Names no compiled backend may fall back on.
HOT_PATHS: frozenset[str] = frozenset(s.name for s in _SPECS if s.hot_path)
