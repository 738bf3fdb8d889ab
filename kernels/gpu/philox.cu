// Philox-4x32-10 (kernels/reference/philox.py): block b of seed s's stream is
// philox(counter = (b mod 2^32, b div 2^32, 0, 0), key = (s mod 2^32, s div 2^32)).
// Thread t computes block offset + t, i.e. words 4t .. 4t+3 of the stream.

__device__ __forceinline__ void fnn_philox(u64 block, u64 seed, u32 out[4]) {
    u32 c0 = (u32)block, c1 = (u32)(block >> 32), c2 = 0, c3 = 0;
    u32 k0 = (u32)seed, k1 = (u32)(seed >> 32);
#pragma unroll
    for (int r = 0; r < 10; ++r) {
        u32 hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        u32 hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        u32 n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

extern "C" __global__ void fastnn_philox_uint32(u64 seed, u64 offset, long long n, u32* out) {
    long long nblocks = (n + 3) / 4;
    for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < nblocks;
         t += (long long)blockDim.x * gridDim.x) {
        u32 w[4];
        fnn_philox(offset + (u64)t, seed, w);
#pragma unroll
        for (int k = 0; k < 4; ++k)
            if (4 * t + k < n) out[4 * t + k] = w[k];
    }
}

// Inverted dropout: element k is kept when word lane + k >= threshold (round(rate 2^32));
// y = x * scale where kept, else 0.
extern "C" __global__ void fastnn_dropout_fwd(
        const real* x, u64 seed, u64 offset, long long lane, u64 threshold, real scale, long long n,
        real* y, unsigned char* mask) {
    // Word k of block offset + t belongs to element 4 t + k - lane (lane 0..3: the mask
    // may start inside a block, as a data-parallel rank's share of a batch does).
    long long nblocks = (lane + n + 3) / 4;
    for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < nblocks;
         t += (long long)blockDim.x * gridDim.x) {
        u32 w[4];
        fnn_philox(offset + (u64)t, seed, w);
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            long long e = 4 * t + k - lane;
            if (e >= 0 && e < n) {
                bool keep = (u64)w[k] >= threshold;
                mask[e] = keep ? 1 : 0;
                y[e] = keep ? x[e] * scale : real(0);
            }
        }
    }
}
