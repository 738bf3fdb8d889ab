"""The whole case table: the op rows (``cases.CASES``) and the layer rows
(``cases_layers.LAYER_CASES``). Gradient checks, backend parity, the benchmarks and
the cpu warm-up (``fastnn.precompile``) all read it from here."""

from __future__ import annotations

from .cases import CASES, Case
from .cases_layers import LAYER_CASES

ALL_CASES: list[Case] = CASES + list(LAYER_CASES)

