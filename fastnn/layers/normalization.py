"""BatchNormalization over the channel axis (axis 1) of (N, C) or (N, C, H, W), and
SyncBatchNormalization, its statistics taken over the global batch of a world of processes."""

from __future__ import annotations

from .. import arguments
from .. import distributed
from ..ops.normalization import batch_norm
from ..ops.sync_normalization import sync_batch_norm
from .base import InputSpec, Layer
from .core import check_initializer, initializer_config


class BatchNormalization(Layer):
    """Batch normalisation per channel c (axis 1 of (N, C) or (N, C, H, W)):

    training:   mu_B, var_B = mean and biased variance of channel c over the batch (and H, W)
                y = gamma (x - mu_B) / sqrt(var_B + epsilon) + beta
                running_mean <- momentum running_mean + (1 - momentum) mu_B
                running_var  <- momentum running_var  + (1 - momentum) var_B m / (m - 1)
    inference:  y = gamma (x - running_mean) / sqrt(running_var + epsilon) + beta

    Momentum convention: Keras'. ``momentum`` (default 0.99) is the weight of the OLD
    running value. PyTorch's ``momentum`` (and ``F.batch_norm``'s) is the weight of the new
    batch; this layer calls ``F.batch_norm(momentum=1 - momentum)``. So Keras
    ``BatchNormalization(momentum=0.99)`` equals PyTorch ``BatchNorm(momentum=0.01)``.
    The running variance takes the unbiased batch variance (m / (m - 1), m values per
    channel), as PyTorch does; Keras keeps the biased one, a difference of m / (m - 1).

    Weights: ``gamma`` (scale, ones) and ``beta`` (offset, zeros) are trainable;
    ``running_mean`` (zeros) and ``running_var`` (ones) are non-trainable weights, updated
    in place during training calls and used in inference calls. Keras' names
    ``moving_mean`` / ``moving_variance`` are aliases. ``center=False`` drops beta,
    ``scale=False`` drops gamma (Keras). Channels are axis 1 (channels first).

    Frozen (``trainable = False``, Keras' rule): the layer runs in inference mode even in a
    training call, so fine-tuning a model around it neither uses the batch's statistics nor
    moves the running ones, and gamma and beta do not train.
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        if not arguments.is_real(momentum):
            raise TypeError(f"{owner}: momentum must be a number in [0, 1], got {arguments._show(momentum)}")
        if not 0.0 <= momentum <= 1.0:  # NaN fails too
            raise ValueError(f"{owner}: momentum must be a number in [0, 1] (Keras' convention: the weight of "
                             f"the old running value, e.g. 0.99), got {momentum!r}")
        self.momentum = float(momentum)
        self.epsilon = arguments.positive(epsilon, owner, "epsilon")
        self.center = arguments.boolean(center, owner, "center")
        self.scale = arguments.boolean(scale, owner, "scale")
        self.beta_initializer = check_initializer(beta_initializer, owner, "beta_initializer")
        self.gamma_initializer = check_initializer(gamma_initializer, owner, "gamma_initializer")
        self.moving_mean_initializer = check_initializer(moving_mean_initializer, owner, "moving_mean_initializer")
        self.moving_variance_initializer = check_initializer(moving_variance_initializer, owner,
                                                             "moving_variance_initializer")

    def build(self, input_shape):
        if len(input_shape) not in (1, 3) or input_shape[0] is None:
            raise ValueError(f"{self._label()}: needs inputs (N, C) or (N, C, H, W) with a known C, "
                             f"got feature shape {input_shape}")
        channels = input_shape[0]
        self.gamma = self.add_weight("gamma", (channels,), self.gamma_initializer) if self.scale else None
        self.beta = self.add_weight("beta", (channels,), self.beta_initializer) if self.center else None
        self.running_mean = self.add_weight("running_mean", (channels,), self.moving_mean_initializer,
                                            trainable=False)
        self.running_var = self.add_weight("running_var", (channels,), self.moving_variance_initializer,
                                           trainable=False)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={0: channels})

    @property
    def moving_mean(self):
        return self.running_mean

    @property
    def moving_variance(self):
        return self.running_var

    def call(self, x, training=None):
        # A frozen layer normalizes with its running statistics, in training too (Keras).
        return batch_norm(x, self.gamma, self.beta, self.running_mean, self.running_var,
                          training=bool(training) and self.trainable, momentum=1.0 - self.momentum,
                          eps=self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, epsilon=self.epsilon, center=self.center, scale=self.scale,
                      beta_initializer=initializer_config(self.beta_initializer),
                      gamma_initializer=initializer_config(self.gamma_initializer),
                      moving_mean_initializer=initializer_config(self.moving_mean_initializer),
                      moving_variance_initializer=initializer_config(self.moving_variance_initializer))
        return config


class SyncBatchNormalization(BatchNormalization):
    """BatchNormalization whose training statistics are those of the GLOBAL batch when the
    batch is spread over the ranks of a world of processes (``fastnn.distributed``, data-
    parallel training under ``mpiexec``), as if one process normalised the whole batch.

    Training, in a world of R > 1 ranks, rank r holding n_r of the N samples (m_r values
    per channel, M = sum_r m_r):

        mu  = allreduce(sum x_r) / M                  (one allreduce: the sums and the counts)
        var = allreduce(sum (x_r - mu)^2) / M         (biased; the unbiased var M / (M - 1),
                                                       with the global M, goes to running_var)
        y_r = gamma (x_r - mu) / sqrt(var + epsilon) + beta

    and in backward one allreduce of the per-channel sums of dy and dy xhat. Each rank's
    upstream gradient is taken to be that of the mean loss over its own samples, combined
    across ranks with weights n_r / N (what data-parallel ``fit`` does, and, for equal
    shares, PyTorch's DistributedDataParallel); then the input, gamma and beta gradients
    after that reduction are one process's. The derivation is in
    ``fastnn/ops/sync_normalization.py``.

    In a world of one process, and in inference (running statistics, no collective), it is
    ``BatchNormalization`` bit for bit: the same op and kernels. Every rank must call the
    layer in training together, since each call is a collective. Constructor, weights and
    config are BatchNormalization's. Frozen, it runs in inference mode (no collective), as
    BatchNormalization does.
    """

    #: Its running statistics are the global batch's, equal on every rank: data-parallel fit
    #: (fastnn/replicas.py) leaves them alone instead of averaging them over the ranks.
    global_statistics = True

    def call(self, x, training=None):
        world = distributed.world()
        if not training or not self.trainable or world.size == 1:
            return super().call(x, training=training)
        return sync_batch_norm(x, self.gamma, self.beta, self.running_mean, self.running_var, world,
                               momentum=1.0 - self.momentum, eps=self.epsilon)
