// Max and average pooling over NCHW windows (kernels/reference/pooling.py).
// Forward: one thread per output. Backward: a gather, one thread per input element,
// adding the gradient of every window that covers it (no atomics: deterministic).

// Range of window rows i covering input row h: i*s - pad <= h <= i*s - pad + k - 1.
__device__ __forceinline__ void fnn_cover(int h, int k, int s, int pad, int O, int& lo, int& hi) {
    int num = h + pad - k + 1;
    lo = num <= 0 ? 0 : (num + s - 1) / s;
    hi = (h + pad) / s;
    if (hi > O - 1) hi = O - 1;
}

template <typename IT>
__device__ __forceinline__ void fnn_max_pool_fwd(
        const real* __restrict__ x, real* __restrict__ y, i64* __restrict__ argmax, IT total, int H, int W, int kh,
        int kw, int sh, int sw, int pt, int pl, int OH, int OW) {
    for (IT idx = (IT)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (IT)blockDim.x * gridDim.x) {
        IT t = idx / OW;
        int j = (int)(idx - t * OW);
        IT nc = t / OH;
        int i = (int)(t - nc * OH);
        const real* xp = x + (i64)nc * H * W;
        real best = -fnn_inf(real(0));
        int arg = 0;
        for (int p = 0; p < kh; ++p) {
            int h = i * sh - pt + p;
            for (int q = 0; q < kw; ++q) {
                int w = j * sw - pl + q;
                real v = (h >= 0 && h < H && w >= 0 && w < W) ? xp[h * W + w] : -fnn_inf(real(0));
                // first maximum; a NaN counts as the maximum (numpy.argmax)
                if (v > best || (v != v && best == best)) { best = v; arg = p * kw + q; }
            }
        }
        y[idx] = best;
        argmax[idx] = arg;
    }
}

extern "C" __global__ void fastnn_max_pool_fwd(
        const real* __restrict__ x, real* __restrict__ y, i64* __restrict__ argmax, long long total, int H, int W,
        int kh, int kw, int sh, int sw, int pt, int pl, int OH, int OW) {
    if (total < 2147483648LL) fnn_max_pool_fwd<u32>(x, y, argmax, (u32)total, H, W, kh, kw, sh, sw, pt, pl, OH, OW);
    else fnn_max_pool_fwd<u64>(x, y, argmax, (u64)total, H, W, kh, kw, sh, sw, pt, pl, OH, OW);
}

template <typename IT>
__device__ __forceinline__ void fnn_max_pool_bwd(
        const real* __restrict__ gy, const i64* __restrict__ argmax, real* __restrict__ gx, IT total, int H, int W,
        int kh, int kw, int sh, int sw, int pt, int pl, int OH, int OW) {
    for (IT idx = (IT)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (IT)blockDim.x * gridDim.x) {
        IT t = idx / W;
        int w = (int)(idx - t * W);
        IT nc = t / H;
        int h = (int)(t - nc * H);
        int i0, i1, j0, j1;
        fnn_cover(h, kh, sh, pt, OH, i0, i1);
        fnn_cover(w, kw, sw, pl, OW, j0, j1);
        real acc = 0;
        for (int i = i1; i >= i0; --i) {  // ascending kernel row p = h + pt - i*sh
            for (int j = j1; j >= j0; --j) {
                i64 o = ((i64)nc * OH + i) * OW + j;
                int p = h + pt - i * sh, q = w + pl - j * sw;
                if (argmax[o] == p * kw + q) acc += gy[o];
            }
        }
        gx[idx] = acc;
    }
}

extern "C" __global__ void fastnn_max_pool_bwd(
        const real* __restrict__ gy, const i64* __restrict__ argmax, real* __restrict__ gx, long long total, int H,
        int W, int kh, int kw, int sh, int sw, int pt, int pl, int OH, int OW) {
    if (total < 2147483648LL) fnn_max_pool_bwd<u32>(gy, argmax, gx, (u32)total, H, W, kh, kw, sh, sw, pt, pl, OH, OW);
    else fnn_max_pool_bwd<u64>(gy, argmax, gx, (u64)total, H, W, kh, kw, sh, sw, pt, pl, OH, OW);
}

// Divisor of an average-pooling window: kh*kw, or the cells inside the unpadded input.
__device__ __forceinline__ real fnn_avg_div(int i, int j, int H, int W, int kh, int kw, int sh, int sw, int pt,
                                            int pl, int include_pad) {
    if (include_pad) return real(kh * kw);
    int h0 = i * sh - pt, w0 = j * sw - pl;
    int hs = min(h0 + kh, H) - max(h0, 0), ws = min(w0 + kw, W) - max(w0, 0);
    return real(hs * ws);
}

extern "C" __global__ void fastnn_avg_pool_fwd(
        const real* x, real* y, long long total, int H, int W, int kh, int kw, int sh, int sw, int pt, int pl,
        int OH, int OW, int include_pad) {
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (long long)blockDim.x * gridDim.x) {
        int j = (int)(idx % OW);
        int i = (int)((idx / OW) % OH);
        long long nc = idx / ((long long)OW * OH);
        const real* xp = x + nc * H * W;
        real acc = 0;
        for (int p = 0; p < kh; ++p) {
            int h = i * sh - pt + p;
            if (h < 0 || h >= H) continue;
            for (int q = 0; q < kw; ++q) {
                int w = j * sw - pl + q;
                if (w >= 0 && w < W) acc += xp[h * W + w];
            }
        }
        y[idx] = acc / fnn_avg_div(i, j, H, W, kh, kw, sh, sw, pt, pl, include_pad);
    }
}

extern "C" __global__ void fastnn_avg_pool_bwd(
        const real* gy, real* gx, long long total, int H, int W, int kh, int kw, int sh, int sw, int pt, int pl,
        int OH, int OW, int include_pad) {
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (long long)blockDim.x * gridDim.x) {
        int w = (int)(idx % W);
        int h = (int)((idx / W) % H);
        long long nc = idx / ((long long)W * H);
        int i0, i1, j0, j1;
        fnn_cover(h, kh, sh, pt, OH, i0, i1);
        fnn_cover(w, kw, sw, pl, OW, j0, j1);
        real acc = 0;
        for (int i = i1; i >= i0; --i)
            for (int j = j1; j >= j0; --j)
                acc += gy[(nc * OH + i) * OW + j] / fnn_avg_div(i, j, H, W, kh, kw, sh, sw, pt, pl, include_pad);
        gx[idx] = acc;
    }
}
