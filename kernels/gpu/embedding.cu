// Embedding backward without atomics: the positions are sorted by (row index, position),
// so equal rows keep their order; starts[r] .. starts[r + 1] are the positions
// of row r, and thread (r, d) adds gy[position, d] over them in that order: each
// gradient entry is written by one thread, always summing in the same order.

extern "C" __global__ void fastnn_embedding_bwd(
        const i64* order, const i64* starts, const real* gy, real* gw, long long rows, int dim) {
    long long total = rows * dim;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (long long)blockDim.x * gridDim.x) {
        long long r = idx / dim;
        int d = (int)(idx - r * dim);
        real acc = 0;
        for (i64 k = starts[r]; k < starts[r + 1]; ++k) acc += gy[order[k] * dim + d];
        gw[idx] = acc;
    }
}
