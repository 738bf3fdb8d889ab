"""Window geometry shared by the convolution and pooling kernels (NCHW).

For an input extent ``size``, window ``k``, stride ``s`` and padding (lo, hi), window
t covers input indices t*s - lo + [0, k); there are output_size(...) windows
(``kernels/reference/conv.output_size``, the one formula of the reference).
"""

import numba

from ..reference.conv import output_size
from ._jit import jit

# Index arithmetic in the innermost loops is unsigned (numba.uint64): with signed indices
# Numba adds a negative-index wraparound select to every access, which stops LLVM from
# vectorising the copy loops (measured: col2im 2x slower). Every index formed is >= 0.
U = numba.uint64


@jit
def span(off, s, size, out):
    """[t0, t1): the outputs t whose input t*s + off lies in [0, size)."""
    t0 = min(max(0, (s - 1 - off) // s), out)
    t1 = min(out, max(t0, (size - 1 - off) // s + 1))
    return t0, t1


def geometry(x_shape, kernel, stride, pad):
    """(n, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow) of a window op on x of ``x_shape``."""
    n, c, h, w = x_shape
    kh, kw = kernel
    sh, sw = stride
    pt, pb, pl, pr = pad
    return n, c, h, w, kh, kw, sh, sw, pt, pl, output_size(h, kh, sh, pt, pb), output_size(w, kw, sw, pl, pr)
