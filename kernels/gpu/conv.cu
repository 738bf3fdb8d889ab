// im2col and col2im as gather kernels (kernels/reference/conv.py for the layout):
//     cols[n, (c, p, q), (i, j)] = xpad[n, c, i*sh + p, j*sw + q]
// im2col: one thread per element of cols. col2im: one thread per element of x, which
// adds, in (p, q) order, every column entry that was read from it. Each output is
// written by exactly one thread: no atomics, so the result is deterministic.
// Index arithmetic is 32-bit where the array allows it (IT = unsigned), else 64-bit.

template <typename IT>
__device__ __forceinline__ void fnn_im2col(const real* __restrict__ x, real* __restrict__ cols, IT total, int C,
                                           int H, int W, int kh, int kw, int sh, int sw, int pt, int pl, int OH,
                                           int OW) {
    for (IT idx = (IT)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (IT)blockDim.x * gridDim.x) {
        IT t = idx;
        int j = (int)(t % OW); t /= OW;
        int i = (int)(t % OH); t /= OH;
        int q = (int)(t % kw); t /= kw;
        int p = (int)(t % kh); t /= kh;  // t = n*C + c
        int h = i * sh - pt + p, w = j * sw - pl + q;
        cols[idx] = (h >= 0 && h < H && w >= 0 && w < W) ? x[((i64)t * H + h) * W + w] : real(0);
    }
}

extern "C" __global__ void fastnn_im2col(
        const real* __restrict__ x, real* __restrict__ cols, long long total, int C, int H, int W, int kh, int kw,
        int sh, int sw, int pt, int pl, int OH, int OW) {
    if (total < 2147483648LL) fnn_im2col<u32>(x, cols, (u32)total, C, H, W, kh, kw, sh, sw, pt, pl, OH, OW);
    else fnn_im2col<u64>(x, cols, (u64)total, C, H, W, kh, kw, sh, sw, pt, pl, OH, OW);
}

template <typename IT>
__device__ __forceinline__ void fnn_col2im(const real* __restrict__ cols, real* __restrict__ x, IT total, int C,
                                           int H, int W, int kh, int kw, int sh, int sw, int pt, int pl, int OH,
                                           int OW) {
    for (IT idx = (IT)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (IT)blockDim.x * gridDim.x) {
        IT t = idx;
        int w = (int)(t % W); t /= W;
        int h = (int)(t % H); t /= H;  // t = n*C + c
        i64 L = (i64)OH * OW;
        const real* base = cols + (i64)t * kh * kw * L;
        real acc = 0;
        for (int p = 0; p < kh; ++p) {
            int hp = h + pt - p;
            if (hp < 0 || hp % sh != 0) continue;
            int i = hp / sh;
            if (i >= OH) continue;
            for (int q = 0; q < kw; ++q) {
                int wq = w + pl - q;
                if (wq < 0 || wq % sw != 0) continue;
                int j = wq / sw;
                if (j >= OW) continue;
                acc += base[((i64)p * kw + q) * L + (i64)i * OW + j];
            }
        }
        x[idx] = acc;
    }
}

extern "C" __global__ void fastnn_col2im(
        const real* __restrict__ cols, real* __restrict__ x, long long total, int C, int H, int W, int kh, int kw,
        int sh, int sw, int pt, int pl, int OH, int OW) {
    if (total < 2147483648LL) fnn_col2im<u32>(cols, x, (u32)total, C, H, W, kh, kw, sh, sw, pt, pl, OH, OW);
    else fnn_col2im<u64>(cols, x, (u64)total, C, H, W, kh, kw, sh, sw, pt, pl, OH, OW);
}
