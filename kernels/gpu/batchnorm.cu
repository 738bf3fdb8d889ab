// Batch normalisation over axis 1 of x viewed as (N, C, L); formulas in
// kernels/reference/batchnorm.py.
//
// The values of channel c in row n are x[(n*C + c)*L + l], l < L: contiguous. Grid
// (S, C): block (s, c) owns rows [s*nchunk, min(N, (s+1)*nchunk)) of channel c and walks
// them as one flat range of packs of VN values (16-byte loads where L allows; VN = 1
// otherwise). Every reduction is two launches and deterministic: a partial kernel writes
// one partial per block, then the apply kernel's blocks each add the S partials of their
// channel in order s = 0..S-1 (so all blocks agree) before their elementwise pass.
//
// Training statistics take one pass over x: shifted sums in double,
//     K = x[0, c, 0], s1 = sum (x - K), s2 = sum (x - K)^2,
//     mean = K + s1/m,  var = s2/m - (s1/m)^2,
// exact enough for float32 data and, with the shift, for float64 data too.

constexpr int FNN_VEC = 16 / sizeof(real);

template <int VN> struct alignas(sizeof(real) * VN) fnn_pack { real v[VN]; };

// Calls body(o) for every pack o of channel c in rows [n0, n1) (o counts packs).
template <int VN, typename Body>
__device__ __forceinline__ void fnn_bn_visit(int n0, int n1, int C, int LV, int c, u32 lvm, u32 lvs, Body body) {
    u32 total = (u32)(n1 - n0) * (u32)LV;
    for (u32 t = threadIdx.x; t < total; t += blockDim.x) {
        u32 r = fnn_div(t, lvm, lvs);
        body(((i64)(n0 + (int)r) * C + c) * LV + (t - r * (u32)LV));
    }
}

// Sum of two doubles over the block; thread 0 gets the result.
__device__ __forceinline__ void fnn_block_sum2(double& a, double& b) {
    __shared__ double sa[32], sb[32];
    a = fnn_warp_sum_d(a);
    b = fnn_warp_sum_d(b);
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) { sa[warp] = a; sb[warp] = b; }
    __syncthreads();
    if (warp == 0) {
        int nw = blockDim.x >> 5;
        a = lane < nw ? sa[lane] : 0.0;
        b = lane < nw ? sb[lane] : 0.0;
        a = fnn_warp_sum_d(a);
        b = fnn_warp_sum_d(b);
    }
}

#define FNN_BN_ROWS                          \
    int s = blockIdx.x, c = blockIdx.y;      \
    int n0 = s * nchunk, n1 = min(N, n0 + nchunk);

template <int VN>
__device__ __forceinline__ void fnn_bn_stats(const real* __restrict__ x, int N, int C, int LV, int nchunk, u32 lvm,
                                             u32 lvs, double shift, double& s1, double& s2) {
    FNN_BN_ROWS
    const fnn_pack<VN>* xp = reinterpret_cast<const fnn_pack<VN>*>(x);
    fnn_bn_visit<VN>(n0, n1, C, LV, c, lvm, lvs, [&](i64 o) {
        fnn_pack<VN> v = xp[o];
#pragma unroll
        for (int k = 0; k < VN; ++k) {
            double d = (double)v.v[k] - shift;
            s1 += d;
            s2 += d * d;
        }
    });
}

extern "C" __global__ void fastnn_bn_stats_partial(
        const real* __restrict__ x, double* __restrict__ part, int N, int C, int L, int nchunk, int vn, u32 lvm,
        u32 lvs) {
    int s = blockIdx.x, c = blockIdx.y, S = gridDim.x;
    double shift = (double)x[(i64)c * L];
    double s1 = 0.0, s2 = 0.0;
    if (vn > 1) fnn_bn_stats<FNN_VEC>(x, N, C, L / FNN_VEC, nchunk, lvm, lvs, shift, s1, s2);
    else fnn_bn_stats<1>(x, N, C, L, nchunk, lvm, lvs, shift, s1, s2);
    fnn_block_sum2(s1, s2);
    if (threadIdx.x == 0) {
        part[((i64)c * S + s) * 2] = s1;
        part[((i64)c * S + s) * 2 + 1] = s2;
    }
}

// y = (x - mean) * scale + shift over the block's rows of channel c.
template <int VN>
__device__ __forceinline__ void fnn_bn_affine(const real* __restrict__ x, real* __restrict__ y, int N, int C, int LV,
                                              int nchunk, u32 lvm, u32 lvs, real mean, real scale, real b) {
    FNN_BN_ROWS
    const fnn_pack<VN>* xp = reinterpret_cast<const fnn_pack<VN>*>(x);
    fnn_pack<VN>* yp = reinterpret_cast<fnn_pack<VN>*>(y);
    fnn_bn_visit<VN>(n0, n1, C, LV, c, lvm, lvs, [&](i64 o) {
        fnn_pack<VN> v = xp[o];
#pragma unroll
        for (int k = 0; k < VN; ++k) v.v[k] = (v.v[k] - mean) * scale + b;
        yp[o] = v;
    });
}

extern "C" __global__ void fastnn_bn_train_apply(
        const real* __restrict__ x, const real* __restrict__ gamma, const real* __restrict__ beta,
        const double* __restrict__ part, int N, int C, int L, int nchunk, int vn, u32 lvm, u32 lvs, double eps,
        real momentum, real one_minus_momentum, real unbias, real* __restrict__ y, real* __restrict__ mean_out,
        real* __restrict__ invstd_out, real* __restrict__ running_mean, real* __restrict__ running_var) {
    int s = blockIdx.x, c = blockIdx.y, S = gridDim.x;
    __shared__ real sh_mean, sh_scale, sh_beta;
    if (threadIdx.x == 0) {
        double m = (double)N * L;
        double s1 = 0.0, s2 = 0.0;
        for (int k = 0; k < S; ++k) {
            s1 += part[((i64)c * S + k) * 2];
            s2 += part[((i64)c * S + k) * 2 + 1];
        }
        double dm = s1 / m;
        double var_d = s2 / m - dm * dm;
        if (var_d < 0.0) var_d = 0.0;
        real mean = (real)((double)x[(i64)c * L] + dm);
        real var = (real)var_d;
        real invstd = real(1) / fnn_sqrt(var + (real)eps);
        sh_mean = mean;
        sh_scale = invstd * gamma[c];
        sh_beta = beta[c];
        if (s == 0) {
            mean_out[c] = mean;
            invstd_out[c] = invstd;
            running_mean[c] = running_mean[c] * one_minus_momentum + momentum * mean;
            running_var[c] = running_var[c] * one_minus_momentum + momentum * var * unbias;
        }
    }
    __syncthreads();
    if (vn > 1) fnn_bn_affine<FNN_VEC>(x, y, N, C, L / FNN_VEC, nchunk, lvm, lvs, sh_mean, sh_scale, sh_beta);
    else fnn_bn_affine<1>(x, y, N, C, L, nchunk, lvm, lvs, sh_mean, sh_scale, sh_beta);
}

extern "C" __global__ void fastnn_bn_eval_apply(
        const real* __restrict__ x, const real* __restrict__ gamma, const real* __restrict__ beta,
        const real* __restrict__ running_mean, const real* __restrict__ running_var, real eps, int N, int C, int L,
        int nchunk, int vn, u32 lvm, u32 lvs, real* __restrict__ y) {
    int c = blockIdx.y;
    real scale = gamma[c] / fnn_sqrt(running_var[c] + eps);
    if (vn > 1) fnn_bn_affine<FNN_VEC>(x, y, N, C, L / FNN_VEC, nchunk, lvm, lvs, running_mean[c], scale, beta[c]);
    else fnn_bn_affine<1>(x, y, N, C, L, nchunk, lvm, lvs, running_mean[c], scale, beta[c]);
}

// Partials of sum(gy) and sum(gy * xhat), xhat = (x - mean) * invstd; with x == NULL
// only sum(gy) (a convolution's bias gradient).
template <int VN>
__device__ __forceinline__ void fnn_bn_grad_sums(const real* __restrict__ x, const real* __restrict__ gy, int N,
                                                 int C, int LV, int nchunk, u32 lvm, u32 lvs, real mu, real is,
                                                 double& sg, double& sgx) {
    FNN_BN_ROWS
    const fnn_pack<VN>* gp = reinterpret_cast<const fnn_pack<VN>*>(gy);
    if (x != 0) {
        const fnn_pack<VN>* xp = reinterpret_cast<const fnn_pack<VN>*>(x);
        fnn_bn_visit<VN>(n0, n1, C, LV, c, lvm, lvs, [&](i64 o) {
            fnn_pack<VN> g = gp[o], v = xp[o];
#pragma unroll
            for (int k = 0; k < VN; ++k) {
                real xhat = (v.v[k] - mu) * is;
                sg += (double)g.v[k];
                sgx += (double)(g.v[k] * xhat);
            }
        });
    } else {
        fnn_bn_visit<VN>(n0, n1, C, LV, c, lvm, lvs, [&](i64 o) {
            fnn_pack<VN> g = gp[o];
#pragma unroll
            for (int k = 0; k < VN; ++k) sg += (double)g.v[k];
        });
    }
}

extern "C" __global__ void fastnn_bn_bwd_partial(
        const real* __restrict__ x, const real* __restrict__ gy, const real* __restrict__ mean,
        const real* __restrict__ invstd, double* __restrict__ part, int N, int C, int L, int nchunk, int vn,
        u32 lvm, u32 lvs) {
    int s = blockIdx.x, c = blockIdx.y, S = gridDim.x;
    double sg = 0.0, sgx = 0.0;
    real mu = x != 0 ? mean[c] : real(0), is = x != 0 ? invstd[c] : real(0);
    if (vn > 1) fnn_bn_grad_sums<FNN_VEC>(x, gy, N, C, L / FNN_VEC, nchunk, lvm, lvs, mu, is, sg, sgx);
    else fnn_bn_grad_sums<1>(x, gy, N, C, L, nchunk, lvm, lvs, mu, is, sg, sgx);
    fnn_block_sum2(sg, sgx);
    if (threadIdx.x == 0) {
        part[((i64)c * S + s) * 2] = sg;
        part[((i64)c * S + s) * 2 + 1] = sgx;
    }
}

template <int VN>
__device__ __forceinline__ void fnn_bn_grad_apply(const real* __restrict__ x, const real* __restrict__ gy,
                                                  real* __restrict__ gx, int N, int C, int LV, int nchunk, u32 lvm,
                                                  u32 lvs, int train, real m, real k, real mu, real is, real gb,
                                                  real gg) {
    FNN_BN_ROWS
    const fnn_pack<VN>* gp = reinterpret_cast<const fnn_pack<VN>*>(gy);
    fnn_pack<VN>* op = reinterpret_cast<fnn_pack<VN>*>(gx);
    if (train) {
        const fnn_pack<VN>* xp = reinterpret_cast<const fnn_pack<VN>*>(x);
        fnn_bn_visit<VN>(n0, n1, C, LV, c, lvm, lvs, [&](i64 o) {
            fnn_pack<VN> g = gp[o], v = xp[o];
#pragma unroll
            for (int j = 0; j < VN; ++j) {
                real xhat = (v.v[j] - mu) * is;
                g.v[j] = k * (m * g.v[j] - gb - xhat * gg);
            }
            op[o] = g;
        });
    } else {
        fnn_bn_visit<VN>(n0, n1, C, LV, c, lvm, lvs, [&](i64 o) {
            fnn_pack<VN> g = gp[o];
#pragma unroll
            for (int j = 0; j < VN; ++j) g.v[j] = g.v[j] * k;
            op[o] = g;
        });
    }
}

// train: gx = gamma invstd / m (m gy - gbeta - xhat ggamma);  eval: gx = gy gamma invstd
// (invstd from the running variance). Block (0, c) writes ggamma[c] and gbeta[c].
extern "C" __global__ void fastnn_bn_bwd_apply(
        const real* __restrict__ x, const real* __restrict__ gy, const real* __restrict__ gamma,
        const real* __restrict__ mean, const real* __restrict__ invstd, const double* __restrict__ part, int N,
        int C, int L, int nchunk, int vn, u32 lvm, u32 lvs, int train, real* __restrict__ gx,
        real* __restrict__ ggamma, real* __restrict__ gbeta) {
    int s = blockIdx.x, c = blockIdx.y, S = gridDim.x;
    __shared__ real sh_gg, sh_gb;
    if (threadIdx.x == 0) {
        double sg = 0.0, sgx = 0.0;
        for (int k = 0; k < S; ++k) {
            sg += part[((i64)c * S + k) * 2];
            sgx += part[((i64)c * S + k) * 2 + 1];
        }
        sh_gb = (real)sg;
        sh_gg = (real)sgx;
        if (s == 0) {
            gbeta[c] = (real)sg;
            ggamma[c] = (real)sgx;
        }
    }
    __syncthreads();
    real rm = (real)((double)N * L), is = invstd[c];
    real k = train ? gamma[c] * is / rm : gamma[c] * is;
    if (vn > 1)
        fnn_bn_grad_apply<FNN_VEC>(x, gy, gx, N, C, L / FNN_VEC, nchunk, lvm, lvs, train, rm, k, mean[c], is, sh_gb,
                                   sh_gg);
    else
        fnn_bn_grad_apply<1>(x, gy, gx, N, C, L, nchunk, lvm, lvs, train, rm, k, mean[c], is, sh_gb, sh_gg);
}

// Finish a channel sum from fastnn_bn_bwd_partial: out[c] = sum_s part[c, s, 0].
extern "C" __global__ void fastnn_channel_sum_finish(const double* __restrict__ part, int S, int C,
                                                     real* __restrict__ out) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double acc = 0.0;
    for (int k = 0; k < S; ++k) acc += part[((i64)c * S + k) * 2];
    out[c] = (real)acc;
}
