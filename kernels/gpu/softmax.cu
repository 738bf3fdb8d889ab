// Softmax family over the rows of a (rows, cols) array; formulas in
// kernels/reference/softmax.py.
//
// A row is handled by `tpr` threads: a warp (tpr = 32, one to eight rows to a block,
// fewer when there are few rows) or the whole block (tpr = 256, for long rows). The first pass keeps a running
// (max, sum of exp(v - max)) per thread, merged across the row (the max is subtracted
// before any exponent is taken, so nothing overflows); the second pass re-reads the row
// (from cache) and writes. NaN/inf follow the reference: a NaN anywhere in a row makes
// that row NaN, and so does a +inf (exp(inf - inf) is NaN in the reference).

__device__ __forceinline__ void fnn_ms_push(acc_t& m, acc_t& s, acc_t v) {
    if (v > m) {
        s = s * fnn_exp(m - v) + acc_t(1);
        m = v;
    } else if (!(v == m && v == -fnn_inf(v))) {
        s += fnn_exp(v - m);
    }
}

__device__ __forceinline__ void fnn_ms_merge(acc_t& m, acc_t& s, acc_t m2, acc_t s2) {
    acc_t mm = m2 > m ? m2 : m;
    acc_t a = s == acc_t(0) ? acc_t(0) : s * fnn_exp(m - mm);
    acc_t b = s2 == acc_t(0) ? acc_t(0) : s2 * fnn_exp(m2 - mm);
    m = mm;
    s = a + b;
}

// Merge (m, s) over the tpr threads of a row; every thread of the row gets the result.
__device__ __forceinline__ void fnn_row_ms(acc_t& m, acc_t& s, int tpr) {
    for (int o = 16; o > 0; o >>= 1) {
        acc_t m2 = __shfl_xor_sync(0xffffffffu, m, o);
        acc_t s2 = __shfl_xor_sync(0xffffffffu, s, o);
        fnn_ms_merge(m, s, m2, s2);
    }
    if (tpr > 32) {
        __shared__ acc_t sm[32], ss[32];
        int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
        __syncthreads();
        if (lane == 0) { sm[warp] = m; ss[warp] = s; }
        __syncthreads();
        m = sm[0];
        s = ss[0];
        for (int w = 1; w < (int)(blockDim.x >> 5); ++w) fnn_ms_merge(m, s, sm[w], ss[w]);
    }
    if (m == fnn_inf(m)) s = fnn_nan(s);
}

// Sum over the tpr threads of a row; every thread of the row gets the result.
__device__ __forceinline__ acc_t fnn_row_sum(acc_t v, int tpr) {
    v = fnn_warp_sum(v);
    if (tpr > 32) {
        __shared__ acc_t sv[32];
        int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
        __syncthreads();
        if (lane == 0) sv[warp] = v;
        __syncthreads();
        v = sv[0];
        for (int w = 1; w < (int)(blockDim.x >> 5); ++w) v += sv[w];
    }
    return v;
}

#define FNN_ROW_SETUP                                               \
    int rpb = blockDim.x / tpr;                                     \
    long long row = (long long)blockIdx.x * rpb + threadIdx.x / tpr; \
    int lane = threadIdx.x % tpr;                                   \
    if (row >= rows) return;                                        \
    long long base = row * cols;

// Sparse-label cross-entropy: loss[r] = lse(z_r) - z_r[label_r];
// grad[r] = softmax(z_r) - onehot(label_r) when want_grad.
// A label outside [0, cols) is never used as an index: its row gets a NaN loss and a
// NaN gradient and the smallest such row is recorded in *bad_row (atomicMin over the
// bits of an int64 that the host keeps at -1, i.e. the largest unsigned value), which
// the host reads at its next check (fastnn/ops/checks.py: run_deferred_checks).
extern "C" __global__ void fastnn_softmax_ce(
        const real* __restrict__ z, const i64* __restrict__ labels, real* __restrict__ loss, real* __restrict__ grad,
        i64* __restrict__ bad_row, long long rows, int cols, int tpr, int want_grad) {
    FNN_ROW_SETUP
    acc_t m = -fnn_inf(acc_t(0)), s = 0;
    _Pragma("unroll 4") for (int k = lane; k < cols; k += tpr) fnn_ms_push(m, s, (acc_t)z[base + k]);
    fnn_row_ms(m, s, tpr);
    i64 label = labels[row];
    bool ok = label >= 0 && label < (i64)cols;
    if (lane == 0) {
        if (ok) {
            loss[row] = (real)(fnn_log(s) - ((acc_t)z[base + label] - m));
        } else {
            loss[row] = fnn_nan(real(0));
            atomicMin((u64*)bad_row, (u64)row);
        }
    }
    if (want_grad) {
        acc_t nan_or_zero = ok ? acc_t(0) : fnn_nan(acc_t(0));
        _Pragma("unroll 4") for (int k = lane; k < cols; k += tpr) {
            real g = (real)(fnn_exp((acc_t)z[base + k] - m) / s + nan_or_zero);
            grad[base + k] = k == label ? g - real(1) : g;
        }
    }
}

// Soft-target cross-entropy: loss[r] = -sum_k t_rk log_softmax(z_r)_k;
// grad[r] = softmax(z_r) sum_k t_rk - t_r when want_grad.
extern "C" __global__ void fastnn_softmax_ce_soft(
        const real* __restrict__ z, const real* __restrict__ t, real* __restrict__ loss, real* __restrict__ grad, long long rows, int cols, int tpr, int want_grad) {
    FNN_ROW_SETUP
    acc_t m = -fnn_inf(acc_t(0)), s = 0, tsum = 0;
    _Pragma("unroll 4") for (int k = lane; k < cols; k += tpr) {
        fnn_ms_push(m, s, (acc_t)z[base + k]);
        tsum += (acc_t)t[base + k];
    }
    fnn_row_ms(m, s, tpr);
    tsum = fnn_row_sum(tsum, tpr);
    acc_t logs = fnn_log(s), acc = 0;
    _Pragma("unroll 4") for (int k = lane; k < cols; k += tpr) {
        acc_t shifted = (acc_t)z[base + k] - m;
        acc_t tk = (acc_t)t[base + k];
        acc += tk * (shifted - logs);
        if (want_grad) grad[base + k] = (real)(fnn_exp(shifted) / s * tsum - tk);
    }
    acc = fnn_row_sum(acc, tpr);
    if (lane == 0) loss[row] = (real)(-acc);
}

// softmax (log == 0) or log_softmax (log == 1) of each row.
extern "C" __global__ void fastnn_softmax_rows(
        const real* __restrict__ x, real* __restrict__ y, long long rows, int cols, int tpr, int log) {
    FNN_ROW_SETUP
    acc_t m = -fnn_inf(acc_t(0)), s = 0;
    _Pragma("unroll 4") for (int k = lane; k < cols; k += tpr) fnn_ms_push(m, s, (acc_t)x[base + k]);
    fnn_row_ms(m, s, tpr);
    acc_t logs = fnn_log(s);
    _Pragma("unroll 4") for (int k = lane; k < cols; k += tpr) {
        acc_t shifted = (acc_t)x[base + k] - m;
        y[base + k] = (real)(log ? shifted - logs : fnn_exp(shifted) / s);
    }
}

// softmax backward: gx = y (gy - sum(gy y));  log_softmax backward: gx = gy - exp(y) sum(gy).
extern "C" __global__ void fastnn_softmax_rows_bwd(
        const real* __restrict__ y, const real* __restrict__ gy, real* __restrict__ gx, long long rows, int cols, int tpr, int log) {
    FNN_ROW_SETUP
    acc_t acc = 0;
    _Pragma("unroll 4") for (int k = lane; k < cols; k += tpr) acc += log ? (acc_t)gy[base + k] : (acc_t)(gy[base + k] * y[base + k]);
    acc = fnn_row_sum(acc, tpr);
    real r = (real)acc;
    _Pragma("unroll 4") for (int k = lane; k < cols; k += tpr) {
        real yk = y[base + k], gk = gy[base + k];
        gx[base + k] = log ? gk - fnn_exp(yk) * r : yk * (gk - r);
    }
}

// The mean of the per-row losses in one block (a fixed summation order: deterministic);
// out is a single element. Launched with 256 threads.
extern "C" __global__ void fastnn_mean_rows(const real* __restrict__ x, real* __restrict__ out, long long n) {
    acc_t acc = 0;
    for (long long i = threadIdx.x; i < n; i += blockDim.x) acc += (acc_t)x[i];
    acc = fnn_row_sum(acc, blockDim.x);
    if (threadIdx.x == 0) out[0] = (real)acc / (real)n;
}

// y = x * (g / count), g a single element on the device (the backward of the mean).
extern "C" __global__ void fastnn_scale_by_mean_grad(
        const real* __restrict__ x, const real* __restrict__ g, real* __restrict__ y, long long n, long long count) {
    real s = g[0] / (real)count;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        y[i] = x[i] * s;
}
