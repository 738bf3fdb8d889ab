"""Optimizers, gradient clipping and learning-rate schedules.

    opt = fnn.optim.Adam(model.parameters(), lr=1e-3, clipnorm=1.0)
    fnn.optim.clip_grad_norm_(model.parameters(), max_norm=1.0)
    schedule = fnn.optim.schedules.CosineDecay(1e-3, total_steps=50)

``optimizers`` holds the update rules (PyTorch's algorithms), ``clipping`` the
gradient clipping formulas, ``schedules`` the learning-rate schedules.
"""

from . import schedules
from .clipping import clip_grad_norm_, clip_grad_value_
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop, from_config, get

__all__ = ["Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "clip_grad_norm_", "clip_grad_value_", "from_config",
           "get", "schedules"]
