"""Measurements behind the choices in kernels/cpu/{activations,linear,softmax,...}.py.

For every transcendental activation and for the softmax exp, times three ways of
computing it on the cpu backend, interleaved in one process (medians of many rounds,
the machine being shared):

  ours   the kernel as shipped: vectorised exp/expm1/log1p/erf written in Numba
  ufunc  NumPy's SIMD ufuncs with out= (in place), Numba only for what has no ufunc
  libm   the same Numba loop calling math.exp/tanh/erf/log1p (scalar libm calls)

plus the NumPy reference, and the other kernels against the reference.

    python bench/choose_cpu_math.py            # float32, large and small sizes
"""

import math
import sys
import time

import numpy as np

from fastnn.kernels.cpu import activations as A
from fastnn.kernels.cpu import dropout as D
from fastnn.kernels.cpu import linear as L
from fastnn.kernels.cpu import optim as O
from fastnn.kernels.cpu import softmax as S
from fastnn.kernels.cpu._jit import dual, prange
from fastnn.kernels.reference import activations as RA
from fastnn.kernels.reference import dropout as RD
from fastnn.kernels.reference import linear as RL
from fastnn.kernels.reference import optim as RO
from fastnn.kernels.reference import softmax as RS


# -- alternative (b): libm calls in a Numba loop ---------------------------------------------
@dual
def _libm_fwd(code, x, y):
    for i in prange(x.shape[0]):
        v = float(x[i])
        if code == 0:
            e = math.exp(-abs(v))
            y[i] = 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)
        elif code == 1:
            y[i] = math.tanh(v)
        elif code == 2:
            y[i] = v if v > 0 else math.expm1(min(v, 0.0))
        elif code == 3:
            y[i] = v * 0.5 * (1.0 + math.erf(v * 0.7071067811865476))
        else:
            y[i] = max(v, 0.0) + math.log1p(math.exp(-abs(v)))


_LIBM = {"sigmoid": 0, "tanh": 1, "elu": 2, "gelu": 3, "softplus": 4}


def libm_fwd(name, x):
    y = np.empty_like(x)
    _libm_fwd(x.size, _LIBM[name], x.reshape(-1), y.reshape(-1))
    return y


# -- alternative (a): NumPy ufuncs in place, Numba for the select -----------------------------
@dual
def _sigmoid_finish(x, e):
    for i in prange(x.shape[0]):
        ei = e[i]
        e[i] = 1.0 / (1.0 + ei) if x[i] >= 0 else ei / (1.0 + ei)


@dual
def _elu_finish(x, e):
    for i in prange(x.shape[0]):
        e[i] = x[i] if x[i] > 0 else e[i]


def ufunc_fwd(name, x):
    y = np.empty_like(x)
    if name == "sigmoid":
        np.abs(x, out=y)
        np.negative(y, out=y)
        np.exp(y, out=y)
        _sigmoid_finish(x.size, x.reshape(-1), y.reshape(-1))
    elif name == "tanh":
        np.tanh(x, out=y)
    elif name == "elu":
        np.minimum(x, 0, out=y)
        np.expm1(y, out=y)
        _elu_finish(x.size, x.reshape(-1), y.reshape(-1))
    elif name == "softplus":
        np.abs(x, out=y)
        np.negative(y, out=y)
        np.exp(y, out=y)
        np.log1p(y, out=y)
        y += np.maximum(x, 0)
    else:
        return None
    return y


# -- softmax CE alternative (a): max-subtract in Numba, np.exp in place, finish in Numba ------
@dual
def _shift(x, out, mx):
    n, m = x.shape
    for i in prange(n):
        v = x[i, 0]
        for j in range(1, m):
            v = x[i, j] if x[i, j] > v else v
        mx[i] = v
        for j in range(m):
            out[i, j] = x[i, j] - v


@dual
def _finish(x, labels, mx, e, loss):
    n, m = e.shape
    for i in prange(n):
        s = 0.0
        for j in range(m):
            s += e[i, j]
        inv = 1.0 / s
        for j in range(m):
            e[i, j] = e[i, j] * inv
        e[i, labels[i]] -= 1
        loss[i] = math.log(s) - (x[i, labels[i]] - mx[i])


def ce_ufunc(x, labels):
    g = np.empty_like(x)
    mx = np.empty(x.shape[0], x.dtype)
    loss = np.empty(x.shape[0], x.dtype)
    _shift(x.size, x, g, mx)
    np.exp(g, out=g)
    _finish(x.size, x, labels, mx, g, loss)
    return loss, g


def bench(cases, rounds=31, inner=1):
    """Interleave the candidates round by round; median microseconds per call."""
    names = list(cases)
    for f in cases.values():
        f()
    times = {n: [] for n in names}
    for _ in range(rounds):
        for n in names:
            t = time.perf_counter()
            for _ in range(inner):
                cases[n]()
            times[n].append((time.perf_counter() - t) / inner)
    return {n: 1e6 * float(np.median(v)) for n, v in times.items()}


def show(title, res):
    print(f"{title:34s} " + "  ".join(f"{k} {v:9.1f}" for k, v in res.items()), flush=True)


def main(dtype="float32"):
    rng = np.random.default_rng(0)
    dt = np.dtype(dtype)
    for size_name, shape, inner in (("large (64,128,128)", (64, 128, 128), 1), ("small (32,100)", (32, 100), 50)):
        print(f"\n# activations, {dtype}, {size_name}, us per call")
        x = rng.standard_normal(shape).astype(dt)
        gy = rng.standard_normal(shape).astype(dt)
        for name in ("relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "softplus", "step"):
            a = 0.1
            c = {"ref": lambda: getattr(RA, name + "_fwd")(x, a), "ours": lambda: getattr(A, name + "_fwd")(x, a)}
            if name in _LIBM:
                c["libm"] = lambda: libm_fwd(name, x)
            if ufunc_fwd(name, x) is not None:
                c["ufunc"] = lambda: ufunc_fwd(name, x)
            show(f"{name}_fwd", bench(c, inner=inner))
            y = getattr(RA, name + "_fwd")(x, a)
            show(f"{name}_bwd", bench({"ref": lambda: getattr(RA, name + "_bwd")(x, y, gy, a),
                                       "ours": lambda: getattr(A, name + "_bwd")(x, y, gy, a)}, inner=inner))

    for size_name, (n, i, o), inner in (("large 256x1024->1024", (256, 1024, 1024), 1), ("small 32x64->64", (32, 64, 64), 50)):
        print(f"\n# linear, {dtype}, {size_name}, us per call")
        x = rng.standard_normal((n, i)).astype(dt)
        w = (rng.standard_normal((i, o)) / math.sqrt(i)).astype(dt)
        b = rng.standard_normal(o).astype(dt)
        for act in ("relu", None, "gelu", "tanh"):
            y, z = RL.linear_fwd(x, w, b, act, 0.0)
            gy = rng.standard_normal(y.shape).astype(dt)
            show(f"linear_fwd {act}", bench({"ref": lambda: RL.linear_fwd(x, w, b, act, 0.0),
                                            "ours": lambda: L.linear_fwd(x, w, b, act, 0.0),
                                            "gemm only": lambda: x @ w}, inner=inner))
            show(f"linear_bwd {act}", bench({"ref": lambda: RL.linear_bwd(x, w, z, y, gy, act, 0.0, True, True, True),
                                            "ours": lambda: L.linear_bwd(x, w, z, y, gy, act, 0.0, True, True, True),
                                            "2 gemms only": lambda: (gy @ w.T, x.T @ gy)}, inner=inner))

    for size_name, shape, inner in (("large (1024,1000)", (1024, 1000), 1), ("small (32,10)", (32, 10), 50)):
        print(f"\n# softmax family, {dtype}, {size_name}, us per call")
        x = (rng.standard_normal(shape) * 2).astype(dt)
        labels = rng.integers(0, shape[1], shape[0])
        t = rng.random(shape).astype(dt)
        gy = rng.standard_normal(shape).astype(dt)
        show("softmax_ce_fwd_bwd", bench({"ref": lambda: RS.softmax_ce_fwd_bwd(x, labels, True),
                                          "ours": lambda: S.softmax_ce_fwd_bwd(x, labels, True),
                                          "ufunc exp": lambda: ce_ufunc(x, labels)}, inner=inner))
        show("softmax_ce_soft_fwd_bwd", bench({"ref": lambda: RS.softmax_ce_soft_fwd_bwd(x, t, True),
                                               "ours": lambda: S.softmax_ce_soft_fwd_bwd(x, t, True)}, inner=inner))
        y = RS.softmax_fwd(x)
        ly = RS.log_softmax_fwd(x)
        for name, ref, ours in (("softmax_fwd", lambda: RS.softmax_fwd(x), lambda: S.softmax_fwd(x)),
                                ("softmax_bwd", lambda: RS.softmax_bwd(y, gy), lambda: S.softmax_bwd(y, gy)),
                                ("log_softmax_fwd", lambda: RS.log_softmax_fwd(x), lambda: S.log_softmax_fwd(x)),
                                ("log_softmax_bwd", lambda: RS.log_softmax_bwd(ly, gy), lambda: S.log_softmax_bwd(ly, gy))):
            show(name, bench({"ref": ref, "ours": ours}, inner=inner))

    for size_name, shape, inner in (("large (1024,1024)", (1024, 1024), 1), ("small (33,31)", (33, 31), 50)):
        print(f"\n# dropout and optimizers, {dtype}, {size_name}, us per call")
        x = rng.standard_normal(shape).astype(dt)
        _, mask = RD.dropout_fwd(x, 0.5, 1, 0)
        show("dropout_fwd", bench({"ref": lambda: RD.dropout_fwd(x, 0.5, 1, 0),
                                   "ours": lambda: D.dropout_fwd(x, 0.5, 1, 0)}, inner=inner))
        show("dropout_bwd", bench({"ref": lambda: RD.dropout_bwd(x, mask, 0.5),
                                   "ours": lambda: D.dropout_bwd(x, mask, 0.5)}, inner=inner))
        p, g = x.copy(), rng.standard_normal(shape).astype(dt) * dt.type(1e-3)
        st = [np.zeros_like(p) for _ in range(3)]
        show("sgd_update (momentum, nesterov)", bench({
            "ref": lambda: RO.sgd_update(p, g, st[0], 1e-3, 0.9, 0.0, True, 1e-4, False),
            "ours": lambda: O.sgd_update(p, g, st[0], 1e-3, 0.9, 0.0, True, 1e-4, False)}, inner=inner))
        show("rmsprop_update (centered, mom)", bench({
            "ref": lambda: RO.rmsprop_update(p, g, st[0], st[1], st[2], 1e-3, 0.99, 1e-8, 0.0, 0.9, True),
            "ours": lambda: O.rmsprop_update(p, g, st[0], st[1], st[2], 1e-3, 0.99, 1e-8, 0.0, 0.9, True)},
            inner=inner))
        show("adam_update (amsgrad)", bench({
            "ref": lambda: RO.adam_update(p, g, st[0], st[1], st[2], 10, 1e-3, 0.9, 0.999, 1e-8, 0.0, True, False),
            "ours": lambda: O.adam_update(p, g, st[0], st[1], st[2], 10, 1e-3, 0.9, 0.999, 1e-8, 0.0, True, False)},
            inner=inner))


if __name__ == "__main__":
    main(*sys.argv[1:])
