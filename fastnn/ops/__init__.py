"""Differentiable ops. ``math`` holds tensor arithmetic; the other modules hold the
neural-network ops that run through named kernels and are re-exported by
``fastnn.functional``."""
