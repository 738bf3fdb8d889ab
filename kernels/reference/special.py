"""Vectorised special functions NumPy lacks (NumPy has no ``erf``).

``erf`` follows the rational approximations of the Cephes library (S. L. Moshier):
for ``|x| < 1``, ``erf(x) = x T(x^2) / U(x^2)``; above, ``erf(x) = 1 - erfc(x)``
with ``erfc(x) = exp(-x^2) P(x) / Q(x)`` for ``1 <= x < 8`` and
``exp(-x^2) R(x) / S(x)`` beyond. Relative error is of the order of
float64 rounding; the tests compare it against ``math.erf``.
"""

import numpy as np

_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
      7.00332514112805075473e3, 5.55923013010394962768e4)
_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
      2.26290000613890934246e4, 4.92673942608635921086e4)
_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
      4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
      9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
      9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
      1.65666309194161350182e3, 5.57535340817727675546e2)
_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
      6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)
_S = (1.0, 2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
      1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)


def _poly(coeffs, x):
    """Horner evaluation, highest power first."""
    acc = np.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        acc = acc * x + c
    return acc


def erf(x):
    """Error function, elementwise, computed in float64 and returned in ``x``'s dtype."""
    x64 = np.asarray(x, dtype=np.float64)
    ax = np.abs(x64)
    small = ax < 1.0
    inner = np.where(small, x64, 0.0)
    z = inner * inner
    erf_small = inner * _poly(_T, z) / _poly(_U, z)
    # erfc for |x| >= 1. Past 30 erfc underflows to 0 in float64; clamping there keeps the
    # polynomials finite (no inf/inf) for huge or infinite x. `safe` is 1 where the branch is unused.
    safe = np.where(small, 1.0, np.minimum(ax, 30.0))
    gauss = np.exp(-safe * safe)
    mid = gauss * _poly(_P, safe) / _poly(_Q, safe)
    far = gauss * _poly(_R, safe) / _poly(_S, safe)
    erfc_big = np.where(safe < 8.0, mid, far)
    erf_big = np.sign(x64) * (1.0 - erfc_big)
    out = np.where(small, erf_small, erf_big)
    return out.astype(np.asarray(x).dtype, copy=False) if np.asarray(x).dtype.kind == "f" else out
