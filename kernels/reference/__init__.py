"""The NumPy reference backend: the executable specification of every kernel.

Every kernel of :mod:`fastnn.kernels.contract` is implemented here, vectorised
(no Python loop over elements; the only loops run over the kh*kw offsets of a
convolution window). ``PROVIDES`` maps each kernel name to the submodule that
defines it; the backend registry imports submodules lazily from it.
"""

from ..contract import ACTIVATIONS

_MODULES = {
    "linear": ("linear_fwd", "linear_bwd"),
    "conv": ("im2col", "col2im", "conv2d_fwd", "conv2d_bwd"),
    "pooling": ("max_pool2d_fwd", "max_pool2d_bwd", "avg_pool2d_fwd", "avg_pool2d_bwd"),
    "batchnorm": ("batchnorm_fwd_train", "batchnorm_fwd_eval", "batchnorm_bwd_train", "batchnorm_bwd_eval"),
    "softmax": ("softmax_fwd", "softmax_bwd", "log_softmax_fwd", "log_softmax_bwd",
                "softmax_ce_fwd_bwd", "softmax_ce_soft_fwd_bwd"),
    "losses": ("bce_logits_fwd", "bce_logits_bwd", "mse_fwd", "mse_bwd", "l2_fwd", "l2_bwd"),
    "philox": ("philox_uint32",),
    "dropout": ("dropout_fwd", "dropout_bwd"),
    "embedding": ("embedding_fwd", "embedding_bwd"),
    "optim": ("sgd_update", "rmsprop_update", "adam_update"),
    "activations": tuple(f"{a}_{d}" for a in ACTIVATIONS for d in ("fwd", "bwd")),
}

#: kernel name -> submodule of this package that defines it.
PROVIDES = {name: module for module, names in _MODULES.items() for name in names}
