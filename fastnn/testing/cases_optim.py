"""Optimizer rows of the case table: each optimizer with each combination of the state it
keeps (a momentum buffer or none, a centred average, the AMSGrad maximum, coupled or
decoupled weight decay). tests/test_optim.py checks every row against the documented
algorithm, and the cpu warm-up (``fastnn.precompile``) steps each once, since each
combination of present and absent state is its own compiled specialisation.

A row is ``(name, optimizer class, hyperparameters)``.
"""

from __future__ import annotations

from .. import optim

OPTIMIZER_CASES: list[tuple[str, type, dict]] = [
    ("sgd", optim.SGD, dict(lr=0.1)),
    ("sgd_momentum", optim.SGD, dict(lr=0.05, momentum=0.9)),
    ("sgd_momentum_dampening_decay", optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("sgd_nesterov_decay", optim.SGD, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("rmsprop", optim.RMSprop, dict(lr=0.01)),
    ("rmsprop_momentum", optim.RMSprop, dict(lr=0.01, momentum=0.9)),
    ("rmsprop_centered", optim.RMSprop, dict(lr=0.01, centered=True)),
    ("rmsprop_centered_momentum_decay", optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.02)),
    ("adam", optim.Adam, dict(lr=0.01)),
    ("adam_amsgrad_decay", optim.Adam, dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True)),
    ("adamw", optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
    ("adamw_amsgrad", optim.AdamW, dict(lr=0.02, amsgrad=True, weight_decay=0.05)),
]
