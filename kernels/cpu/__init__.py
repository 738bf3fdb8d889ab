"""The Numba ``cpu`` backend.

``PROVIDES`` maps each kernel name to the submodule of this package that defines
it; the registry imports a submodule (and with it numba, see ``_jit``) only when
one of its kernels is first called. Every kernel of the contract is provided, so
nothing falls back to the reference on this backend.
"""

from ..contract import ACTIVATIONS

_MODULES = {
    "linear": ("linear_fwd", "linear_bwd"),
    "conv": ("im2col", "col2im", "conv2d_fwd", "conv2d_bwd"),
    "pooling": ("max_pool2d_fwd", "max_pool2d_bwd", "avg_pool2d_fwd", "avg_pool2d_bwd"),
    "batchnorm": ("batchnorm_fwd_train", "batchnorm_fwd_eval", "batchnorm_bwd_train", "batchnorm_bwd_eval"),
    "softmax": ("softmax_fwd", "softmax_bwd", "log_softmax_fwd", "log_softmax_bwd",
                "softmax_ce_fwd_bwd", "softmax_ce_soft_fwd_bwd"),
    "philox": ("philox_uint32",),
    "dropout": ("dropout_fwd", "dropout_bwd"),
    "optim": ("sgd_update", "rmsprop_update", "adam_update"),
    "activations": tuple(f"{a}_{d}" for a in ACTIVATIONS for d in ("fwd", "bwd")),
}

#: kernel name -> submodule of this package that defines it.
PROVIDES = {name: module for module, names in _MODULES.items() for name in names}
