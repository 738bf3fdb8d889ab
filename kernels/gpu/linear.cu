// Dense layer backward, the part after the activation: for a (rows, cols) gradient,
//     dz = act'(.) * gy  (written when act >= 0; act < 0 is the identity, dz = gy)
//     gb[col] = sum over rows of dz[:, col]
// in one pass. Block (32, 8) owns 32 columns: thread (tx, ty) walks rows ty, ty + 8, ...
// of column 32*blockIdx.x + tx (coalesced across tx), then the 8 partial sums of each
// column are added in a fixed order: deterministic, no atomics.
// `first` is x (the pre-activation z) or y, as fnn_bwd_code's activation needs.

extern "C" __global__ void fastnn_bias_grad(
        const real* __restrict__ z, const real* __restrict__ y, const real* __restrict__ gy,
        real* __restrict__ dz, real* __restrict__ gb, int rows, int cols, int act, real alpha) {
    __shared__ acc_t part[8][33];
    int col = blockIdx.x * 32 + threadIdx.x;
    acc_t acc = 0;
    if (col < cols) {
        for (int r = threadIdx.y; r < rows; r += 8) {
            i64 i = (i64)r * cols + col;
            real g = gy[i];
            if (act >= 0) {
                g = fnn_bwd_code(act, z != 0 ? z[i] : real(0), y != 0 ? y[i] : real(0), g, alpha);
                dz[i] = g;
            }
            acc += g;
        }
    }
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && col < cols) {
        acc_t total = part[0][threadIdx.x];
        for (int k = 1; k < 8; ++k) total += part[k][threadIdx.x];
        gb[col] = (real)total;
    }
}
