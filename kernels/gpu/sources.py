"""Every CUDA source of the gpu backend, as plain text (this module never imports cupy).

Three kinds of source exist:

* **Elementwise kernels**, written as CuPy ``ElementwiseKernel``-style definitions
  ``(name, in_params, out_params, body)`` in :data:`ELEMENTWISE`. :func:`render_group`
  turns a group of them into complete ``__global__`` functions (a grid-stride loop over
  ``i``; each non-``raw`` array parameter is bound to its element ``i``), which the
  runtime compiles once per dtype and launches as raw kernels: the code the tests
  compile with nvcc is exactly the code that runs.
* **Reduction kernels** in :data:`REDUCTIONS`, CuPy ``ReductionKernel`` definitions
  ``(name, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity)``,
  run through ``cupy.ReductionKernel``; :func:`render_reduction` renders each as a
  one-block ``__global__`` reduction so that nvcc checks their expressions.
* **CUDA files** (``*.cu`` beside this module, package data) for the kernels with
  block-level structure: the dense layer's bias gradient, batch norm, softmax cross-entropy, im2col/col2im, pooling,
  Philox and dropout, embedding backward.

Parameter syntax of the definitions (CuPy's, with the scalar types spelt apart from the
array types so a definition alone says what each parameter is):

* arrays: ``T`` (the floating type), ``uint8``, ``int64``, ``uint32``; with the prefix
  ``raw`` an array is passed as a pointer and indexed by the body, else the body sees
  its element ``i`` (an input as a value, an output as a reference);
* scalars: ``S`` (a scalar of the floating type), ``i32``, ``i64``, ``u32``, ``u64``.

Every module starts with :func:`prelude`: ``#define FASTNN_REAL float|double``,
``common.cuh`` and the activation functions of :data:`ACT_FWD` / :data:`ACT_BWD`
(one definition of each formula, shared by every kernel that applies it). Kernel
names start with ``fastnn_``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..contract import ACTIVATIONS, GRAD_FROM_OUTPUT

HERE = Path(__file__).resolve().parent
DTYPES = ("float32", "float64")
REAL = {"float32": "float", "float64": "double"}

ARRAY_TYPES = {"T": "T", "uint8": "unsigned char", "int64": "long long", "uint32": "unsigned int"}
SCALAR_TYPES = {"S": "T", "i32": "int", "i64": "long long", "u32": "unsigned int", "u64": "unsigned long long"}

# -- activations: one formula each -----------------------------------------------------
# Forward: r from the pre-activation v. Backward: r = dL/dx from x (pre-activation; not
# valid for the activations in GRAD_FROM_OUTPUT, which get y instead), y and g = dL/dy.
# Operation order follows kernels/reference/activations.py so roundings agree.
ACT_FWD = {
    "relu": "r = fnn_pos(v);",
    "sigmoid": "real e = fnn_exp(-fnn_abs(v)); r = v >= real(0) ? real(1) / (real(1) + e) : e / (real(1) + e);",
    "tanh": "r = fnn_tanh(v);",
    "leaky_relu": "r = v > real(0) ? v : v * alpha;",
    "elu": "r = v > real(0) ? v : alpha * fnn_expm1(v);",
    "gelu": "r = v * (real(0.5) * (real(1) + fnn_erf(v * real(0.7071067811865476))));",
    "softplus": "r = fnn_pos(v) + fnn_log1p(fnn_exp(-fnn_abs(v)));",
    "step": "r = v > real(0) ? real(1) : real(0);",
}
ACT_BWD = {
    "relu": "r = g * real(y > real(0));",
    "sigmoid": "r = g * y * (real(1) - y);",
    "tanh": "r = g * (real(1) - y * y);",
    "leaky_relu": "r = x > real(0) ? g : g * alpha;",
    "elu": "r = x > real(0) ? g : g * alpha * fnn_exp(x);",
    "gelu": ("real cdf = real(0.5) * (real(1) + fnn_erf(x * real(0.7071067811865476)));"
             " real pdf = real(0.3989422804014327) * fnn_exp(real(-0.5) * x * x); r = g * (cdf + x * pdf);"),
    "softplus": "r = g * -fnn_expm1(-y);",
    "step": "r = g * real(0);",
}
assert set(ACT_FWD) == set(ACT_BWD) == set(ACTIVATIONS)


def activation_functions() -> str:
    """``fnn_fwd_<act>(v, alpha)`` and ``fnn_bwd_<act>(x, y, g, alpha)`` for every activation."""
    out = []
    for act in ACTIVATIONS:
        out.append(f"__device__ __forceinline__ real fnn_fwd_{act}(real v, real alpha) "
                   f"{{ real r; {ACT_FWD[act]} return r; }}")
        out.append(f"__device__ __forceinline__ real fnn_bwd_{act}(real x, real y, real g, real alpha) "
                   f"{{ real r; {ACT_BWD[act]} return r; }}")
    # dispatch by the activation's index in contract.ACTIVATIONS (-1: identity)
    cases = " ".join(f"case {i}: return fnn_bwd_{act}(x, y, g, alpha);" for i, act in enumerate(ACTIVATIONS))
    out.append("__device__ __forceinline__ real fnn_bwd_code(int code, real x, real y, real g, real alpha) "
               f"{{ switch (code) {{ {cases} default: return g; }} }}")
    return "\n".join(out) + "\n"


def read(name: str) -> str:
    return (HERE / name).read_text()


def prelude(dtype: str) -> str:
    return (f"#define FASTNN_REAL {REAL[dtype]}\n" + read("common.cuh") + activation_functions()
            + "typedef real T;\n")


# -- elementwise definitions -------------------------------------------------------------
@dataclass(frozen=True)
class Elementwise:
    name: str
    in_params: str
    out_params: str
    body: str

    def params(self):
        """[(direction, raw, type, name)] in kernel argument order (inputs, then outputs)."""
        return _parse(self.in_params, "in") + _parse(self.out_params, "out")


@dataclass(frozen=True)
class Reduction:
    name: str
    in_params: str
    out_params: str
    map_expr: str
    reduce_expr: str
    post_map_expr: str
    identity: str


def _parse(spec: str, direction: str):
    params = []
    for item in filter(None, (p.strip() for p in spec.split(","))):
        words = item.split()
        raw = words[0] == "raw"
        if raw:
            words = words[1:]
        if len(words) != 2:
            raise ValueError(f"bad parameter {item!r}")
        typ, name = words
        if typ not in ARRAY_TYPES and typ not in SCALAR_TYPES:
            raise ValueError(f"unknown type {typ!r} in {item!r}")
        if typ in SCALAR_TYPES and (raw or direction == "out"):
            raise ValueError(f"scalar {item!r} cannot be raw or an output")
        params.append((direction, raw, typ, name))
    return params


_BIAS_COL = "u32 ii = (u32)i; u32 col = ii - fnn_div(ii, magic, shift) * ncol; "
_BIAS_CHAN = ("u32 ii = (u32)i; u32 q = fnn_div(ii, lmagic, lshift); "
              "u32 chan = q - fnn_div(q, cmagic, cshift) * nchan; ")


def _activation_kernels():
    for act in ACTIVATIONS:
        yield Elementwise(f"fastnn_{act}_fwd", "T x, S alpha", "T y", f"y = fnn_fwd_{act}(x, alpha);")
        if act == "step":
            continue  # zero gradient: the wrapper returns zeros
        first = "y" if act in GRAD_FROM_OUTPUT else "x"
        yield Elementwise(f"fastnn_{act}_bwd", f"T {first}, T gy, S alpha", "T gx",
                          f"gx = fnn_bwd_{act}({'T(0)' if first == 'y' else 'x'}, "
                          f"{'y' if first == 'y' else 'T(0)'}, gy, alpha);")


def _linear_kernels():
    bias = "raw T b, u32 ncol, u32 magic, u32 shift"
    yield Elementwise("fastnn_bias", bias, "T z", _BIAS_COL + "z = z + b[col];")
    yield Elementwise("fastnn_bias_channel", "raw T b, u32 nchan, u32 lmagic, u32 lshift, u32 cmagic, u32 cshift",
                      "T z", _BIAS_CHAN + "z = z + b[chan];")
    for act in ACTIVATIONS:
        if act in GRAD_FROM_OUTPUT:  # y overwrites z: backward needs y only
            yield Elementwise(f"fastnn_bias_{act}", bias + ", S alpha", "T z",
                              _BIAS_COL + f"z = fnn_fwd_{act}(z + b[col], alpha);")
        else:  # z is kept for backward
            yield Elementwise(f"fastnn_bias_{act}", bias + ", S alpha", "T z, T y",
                              _BIAS_COL + f"z = z + b[col]; y = fnn_fwd_{act}(z, alpha);")


def _other_kernels():
    yield Elementwise("fastnn_dropout_bwd", "T gy, uint8 mask, S scale", "T gx",
                      "gx = mask != 0 ? gy * scale : T(0);")
    yield Elementwise("fastnn_bce_logits_fwd", "T z, T t", "T loss",
                      "loss = fnn_pos(z) - z * t + fnn_log1p(fnn_exp(-fnn_abs(z)));")
    yield Elementwise("fastnn_bce_logits_bwd", "T z, T t, raw T g, i64 gstride", "T gz, T gt",
                      "T gg = g[i * gstride]; gz = (fnn_fwd_sigmoid(z, T(0)) - t) * gg; gt = -z * gg;")
    yield Elementwise("fastnn_mse_bwd", "T p, T t, raw T g, S count", "T gp",
                      "gp = (p - t) * (T(2) * g[0] / count);")
    yield Elementwise("fastnn_l2_bwd", "T w, raw T g", "T gw", "gw = w * (T(2) * g[0]);")


def _optim_kernels():
    decay = "T d = has_wd ? g + wd * p : g; "
    yield Elementwise("fastnn_sgd", "T g, S lr, S wd, i32 has_wd", "T p", decay + "p = p - lr * d;")
    yield Elementwise(
        "fastnn_sgd_momentum", "T g, S lr, S mu, S damp1, S wd, i32 has_wd, i32 nesterov, i32 first", "T p, T buf",
        decay + "if (first) { buf = d; } else { buf = buf * mu + damp1 * d; } "
        "T u = nesterov ? d + mu * buf : buf; p = p - lr * u;")
    yield Elementwise(
        "fastnn_rmsprop",
        "T g, S lr, S alpha, S oma, S eps, S wd, i32 has_wd, S mu, i32 use_mom, i32 centered",
        "T p, T sq, raw T gavg, raw T buf",
        decay + "sq = sq * alpha + oma * d * d; T avg; "
        "if (centered) { T ga = gavg[i] * alpha + oma * d; gavg[i] = ga; avg = fnn_sqrt(sq - ga * ga) + eps; } "
        "else { avg = fnn_sqrt(sq) + eps; } "
        "if (use_mom) { T bb = buf[i] * mu + d / avg; buf[i] = bb; p = p - lr * bb; } else { p = p - lr * (d / avg); }")
    yield Elementwise(
        "fastnn_adam",
        "T g, S decay, i32 decoupled, S wd, i32 has_wd, S b1, S omb1, S b2, S omb2, S step_size, S b2s, S eps, "
        "i32 amsgrad",
        "T p, T m, T v, raw T vmax",
        "T d; if (decoupled) { p = p * decay; d = g; } else { d = has_wd ? g + wd * p : g; } "
        "m = m * b1 + omb1 * d; v = v * b2 + omb2 * d * d; T second = v; "
        "if (amsgrad) { second = fnn_max(vmax[i], v); vmax[i] = second; } "
        "p = p - step_size * (m / (fnn_sqrt(second) / b2s + eps));")


#: group -> elementwise definitions; one compiled module per (group, dtype).
ELEMENTWISE = {
    "activations": tuple(_activation_kernels()),
    "linear": tuple(_linear_kernels()),
    "misc": tuple(_other_kernels()),
    "optim": tuple(_optim_kernels()),
}

#: name -> definition, over every group.
ELEMENTWISE_BY_NAME = {k.name: (group, k) for group, ks in ELEMENTWISE.items() for k in ks}

REDUCTIONS = {
    "fastnn_sq_diff_sum": Reduction("fastnn_sq_diff_sum", "T p, T t", "T y", "(p - t) * (p - t)", "a + b",
                                    "y = a", "0"),
    "fastnn_sq_sum": Reduction("fastnn_sq_sum", "T w", "T y", "w * w", "a + b", "y = a", "0"),
}

#: the CUDA files, compiled whole once per dtype.
CU_FILES = ("linear.cu", "batchnorm.cu", "softmax.cu", "conv.cu", "pooling.cu", "philox.cu", "embedding.cu")


# -- rendering -------------------------------------------------------------------------------
#: elements per thread of an elementwise kernel: independent loads in flight per thread
UNROLL = 4


def render_elementwise(k: Elementwise) -> str:
    """One complete ``extern "C" __global__`` function for an elementwise definition; its
    last argument is the element count ``_n``. Each thread handles UNROLL elements a block
    apart (coalesced); every pointer is ``__restrict__`` (no argument may alias another),
    so the compiler issues all of a thread's loads before its first store."""
    args, binds = [], []
    for direction, raw, typ, name in k.params():
        if typ in SCALAR_TYPES:
            args.append(f"{SCALAR_TYPES[typ]} {name}")
            continue
        ctype = ARRAY_TYPES[typ]
        const = "const " if direction == "in" else ""
        if raw:
            args.append(f"{const}{ctype}* __restrict__ {name}")
        else:
            args.append(f"{const}{ctype}* __restrict__ {name}_")
            binds.append(f"const {ctype} {name} = {name}_[i];" if direction == "in"
                         else f"{ctype}& {name} = {name}_[i];")
    args.append("long long _n")
    return (f'extern "C" __global__ void {k.name}({", ".join(args)}) {{\n'
            f"  const long long _step = (long long)blockDim.x * gridDim.x * {UNROLL};\n"
            f"  for (long long _base = (long long)blockIdx.x * blockDim.x * {UNROLL} + threadIdx.x; _base < _n;\n"
            f"       _base += _step) {{\n"
            f"#pragma unroll\n"
            f"    for (int _u = 0; _u < {UNROLL}; ++_u) {{\n"
            f"      const long long i = _base + (long long)_u * blockDim.x;\n"
            f"      if (i < _n) {{\n"
            f"        {' '.join(binds)}\n"
            f"        {k.body}\n"
            f"      }}\n    }}\n  }}\n}}\n")


def render_group(group: str, dtype: str) -> str:
    """The module of one elementwise group for one dtype."""
    return prelude(dtype) + "\n".join(render_elementwise(k) for k in ELEMENTWISE[group])


def render_reduction(r: Reduction, dtype: str) -> str:
    """A one-block ``__global__`` reduction with CuPy's ``REDUCE`` / ``POST_MAP`` macros,
    for compiling a ReductionKernel definition without CuPy."""
    ins = _parse(r.in_params, "in")
    outs = _parse(r.out_params, "out")
    args = [f"const {ARRAY_TYPES[t]}* {n}_" for _, _, t, n in ins] + [f"{ARRAY_TYPES[t]}* {n}_" for _, _, t, n in outs]
    binds = " ".join(f"const {ARRAY_TYPES[t]} {n} = {n}_[i];" for _, _, t, n in ins)
    out_binds = " ".join(f"{ARRAY_TYPES[t]}& {n} = {n}_[0];" for _, _, t, n in outs)
    return (prelude(dtype)
            + f"typedef T _type_reduce;\n#define REDUCE(a, b) ({r.reduce_expr})\n#define POST_MAP(a) ({r.post_map_expr})\n"
            + f'extern "C" __global__ void {r.name}({", ".join(args)}, long long _n) {{\n'
            + "  __shared__ _type_reduce sdata[256];\n"
            + f"  _type_reduce a = _type_reduce({r.identity});\n"
            + "  for (long long i = threadIdx.x; i < _n; i += blockDim.x) {\n"
            + f"    {binds} _type_reduce b = _type_reduce({r.map_expr}); a = REDUCE(a, b);\n  }}\n"
            + "  sdata[threadIdx.x] = a; __syncthreads();\n"
            + "  for (int s = blockDim.x / 2; s > 0; s >>= 1) {\n"
            + "    if (threadIdx.x < s) { _type_reduce b = sdata[threadIdx.x + s]; a = sdata[threadIdx.x];"
            + " sdata[threadIdx.x] = REDUCE(a, b); }\n    __syncthreads();\n  }\n"
            + f"  if (threadIdx.x == 0) {{ a = sdata[0]; {out_binds} POST_MAP(a); }}\n}}\n")


def cu_source(filename: str, dtype: str) -> str:
    return prelude(dtype) + read(filename)


def all_units():
    """(label, CUDA source) for every compiled unit of the backend: each elementwise group,
    each reduction and each CUDA file, in float32 and float64."""
    units = []
    for dtype in DTYPES:
        for group in ELEMENTWISE:
            units.append((f"ew_{group}_{dtype}", render_group(group, dtype)))
        for r in REDUCTIONS.values():
            units.append((f"red_{r.name}_{dtype}", render_reduction(r, dtype)))
        for filename in CU_FILES:
            units.append((f"cu_{filename[:-3]}_{dtype}", cu_source(filename, dtype)))
    return units


def magic_div(d: int) -> tuple[int, int]:
    """(magic, shift) for ``fnn_div(n, magic, shift) == n // d`` with 0 <= n < 2**31."""
    if not 1 <= d < 2**31:
        raise ValueError(f"divisor {d} out of range")
    shift = (d - 1).bit_length()
    magic = ((1 << 32) * ((1 << shift) - d)) // d + 1
    return magic & 0xFFFFFFFF, shift
