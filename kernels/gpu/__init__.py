"""The CuPy ``gpu`` backend.

``PROVIDES`` maps every kernel of the contract to the submodule that defines it; the
registry imports a submodule (and with it cupy) only when one of its kernels is first
called, so importing fastnn never imports cupy. The backend is available when cupy
imports, a CUDA device answers and every hot-path kernel is provided (all are: the gpu
backend falls back to the reference for no kernel).

Sources: elementwise definitions and reductions in ``sources.py`` (plain strings,
importable without cupy, so the test suite compiles them with nvcc on machines without
a GPU), block-level kernels in the ``*.cu`` files beside it.
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
PROVIDES: dict[str, str] = {name: module for module, names in _MODULES.items() for name in names}
