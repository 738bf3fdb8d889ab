// Device helpers shared by every CUDA source of the gpu backend.
//
// Every module is compiled once per floating type: the loader puts
// `#define FASTNN_REAL float` (or double) in front of this header, so `real` is
// the element type of the arrays and `acc_t` the accumulator of sums (float
// sums in float, as cuBLAS and cuDNN do; double sums in double). Only builtins
// are used (no standard headers), so the same text compiles with NVRTC at run
// time and with nvcc in the test suite.

typedef FASTNN_REAL real;
typedef FASTNN_REAL acc_t;
typedef long long i64;
typedef unsigned long long u64;
typedef unsigned int u32;

// -- math overloads (float -> the f-suffixed builtin) ---------------------------
__device__ __forceinline__ float fnn_exp(float x) { return expf(x); }
__device__ __forceinline__ double fnn_exp(double x) { return exp(x); }
__device__ __forceinline__ float fnn_log(float x) { return logf(x); }
__device__ __forceinline__ double fnn_log(double x) { return log(x); }
__device__ __forceinline__ float fnn_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double fnn_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float fnn_expm1(float x) { return expm1f(x); }
__device__ __forceinline__ double fnn_expm1(double x) { return expm1(x); }
__device__ __forceinline__ float fnn_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double fnn_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float fnn_erf(float x) { return erff(x); }
__device__ __forceinline__ double fnn_erf(double x) { return erf(x); }
__device__ __forceinline__ float fnn_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double fnn_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float fnn_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double fnn_abs(double x) { return fabs(x); }

// NaN-propagating max / min (as numpy.maximum / minimum): a NaN operand wins.
__device__ __forceinline__ real fnn_max(real a, real b) { return (a > b || a != a) ? a : b; }
__device__ __forceinline__ real fnn_min(real a, real b) { return (a < b || a != a) ? a : b; }
// max(x, 0) keeping NaN.
__device__ __forceinline__ real fnn_pos(real x) { return x < real(0) ? real(0) : x; }

__device__ __forceinline__ float fnn_inf(float) { return __int_as_float(0x7f800000); }
__device__ __forceinline__ double fnn_inf(double) { return __longlong_as_double(0x7ff0000000000000LL); }
__device__ __forceinline__ float fnn_nan(float) { return __int_as_float(0x7fffffff); }
__device__ __forceinline__ double fnn_nan(double) { return __longlong_as_double(0x7fffffffffffffffLL); }

// -- division by a run-time constant d via a multiply-high (n < 2^31) --------------
// The host computes shift = ceil(log2 d) and magic = floor(2^32 (2^shift - d) / d) + 1.
__device__ __forceinline__ u32 fnn_div(u32 n, u32 magic, u32 shift) {
    return (__umulhi(n, magic) + n) >> shift;
}

// -- warp and block reductions -----------------------------------------------------
__device__ __forceinline__ acc_t fnn_warp_sum(acc_t v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ double fnn_warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
