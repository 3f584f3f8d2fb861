// matmul.cu: y = x · Wᵀ for bf16 weights W (out_features, in_features) as stored in the checkpoint.
// Java: MatMulKernel; CPU: cpu/MatMul (wq wk wv wo, w1 = gate_proj, w2 = down_proj, w3 = up_proj, lm_head)
//
// Two paths:
//   dms_gemv_bf16_t{T}_r{R}  small n (1..8 tokens: decode): fp32 activations, bandwidth-bound
//   dms_matmul_bf16_bm{64,128}  larger n (prefill, big decode batches): bf16 activations on tensor cores
//                               (mma.sync m16n8k16, fp32 accumulators), the same code on sm_80 and sm_90a
#include "dms.cuh"

// ===================================================================================================
// GEMV (decode, n <= 8 tokens), streaming W at memory bandwidth.
//   x    fp32 (n, k), row stride ldx
//   w    bf16 (m, k), row-major (row stride k)
//   y    fp32 (n, m), row stride ldy; y = xWᵀ, or y += xWᵀ when accumulate != 0 (the residual add of wo/w2)
// Work split: a warp owns R consecutive rows (template: R = 1, 2, 4; the launcher takes R from n so that each
// x value loaded serves R rows) for all n <= T tokens. S warps (S = gemv_splits(m, k, R) in {1, 2, 4}, a pure
// function of the shape that kernel and launchers compute alike) share the same rows and split k between
// them, for shapes with too few rows to fill the machine; a block of DMS_GEMV_BLOCK threads holds
// DMS_GEMV_WARPS / S such row groups. In the 16-byte path each lane streams 32-lane-coalesced 16-byte chunks
// (8 bf16) of its rows, U = 8 / R chunks per row per step: 8 independent 16-byte loads of W (128 bytes) in
// flight per thread, all issued before the first is used, through the read-only path without allocating in
// L1 (x, read by every warp, stays there). x is read through L1 (__ldg): it is small and shared by all
// blocks. Each lane sums in fp32; the R * T sums of a warp are reduced by a butterfly reduce-scatter (R*T - 1
// + 5 - log2(R*T) shuffles instead of 5 * R * T), then across the S warps through shared memory in a fixed
// order: deterministic, no atomics.
// grid (ceil(m / (R * DMS_GEMV_WARPS / S))), block DMS_GEMV_BLOCK, no dynamic shared memory. Any m, n <= T,
// k >= 1. k % 8 == 0, ldx % 4 == 0 and 16-byte aligned x, w take the 16-byte path; anything else takes the
// scalar path (correct, slower). Variants: T in {1, 2, 4, 8} (smallest T >= n), R in {1, 2, 4}.
#define DMS_GEMV_BLOCK 128
#define DMS_GEMV_WARPS (DMS_GEMV_BLOCK / 32)
// Warps (row groups x k-splits) a launch should have to keep enough loads in flight: 4.3 MB in flight
// device-wide at 4.3 TB/s and ~1 us of latency is ~33 KB per multiprocessor, ~260 threads at 128 bytes
// each; 4096 warps are ~31 per multiprocessor of an H200 (132), about 4x that.
#define DMS_GEMV_TARGET_WARPS 4096

// The warps sharing each row group (k-splits): the fewest of 1, 2, 4 that reach DMS_GEMV_TARGET_WARPS, as
// long as every lane keeps at least one full step (U chunks) per row.
__host__ __device__ __forceinline__ int gemv_splits(int m, int k, int rows) {
    const int unroll = 8 / rows;
    const int chunks = (k + 7) / 8;
    const long long groups = (static_cast<long long>(m) + rows - 1) / rows;
    int s = 1;
    while (s < DMS_GEMV_WARPS && groups * s < DMS_GEMV_TARGET_WARPS && chunks >= 32 * 2 * s * unroll) {
        s *= 2;
    }
    return s;
}

// Butterfly reduce-scatter of C values per lane over the lanes at xor distances O, O/2, ..., 1: afterwards
// v[0] of lane l holds the warp's sum of value index l >> (5 - log2 C) (C a power of two <= 32).
template <int C, int O>
struct GemvReduce {
    static DMS_DEVICE void run(float* v, int lane) {
        constexpr int H = C / 2;
        const bool up = (lane & O) != 0;
#pragma unroll
        for (int i = 0; i < H; i++) {
            const float send = up ? v[i] : v[i + H];
            const float keep = up ? v[i + H] : v[i];
            v[i] = keep + __shfl_xor_sync(DMS_FULL_MASK, send, O);
        }
        GemvReduce<H, O / 2>::run(v, lane);
    }
};
template <int O>
struct GemvReduce<1, O> {
    static DMS_DEVICE void run(float* v, int lane) {
        v[0] += __shfl_xor_sync(DMS_FULL_MASK, v[0], O);
        GemvReduce<1, O / 2>::run(v, lane);
    }
};
template <>
struct GemvReduce<1, 0> {
    static DMS_DEVICE void run(float*, int) {
    }
};

DMS_DEVICE void gemv_fma8(float& s, const float wf[8], const float4& x0, const float4& x1) {
    s = fmaf(wf[0], x0.x, s);
    s = fmaf(wf[1], x0.y, s);
    s = fmaf(wf[2], x0.z, s);
    s = fmaf(wf[3], x0.w, s);
    s = fmaf(wf[4], x1.x, s);
    s = fmaf(wf[5], x1.y, s);
    s = fmaf(wf[6], x1.z, s);
    s = fmaf(wf[7], x1.w, s);
}

template <int T, int R>
__device__ __forceinline__ void gemv_bf16(const float* __restrict__ x, int ldx, const bf16_t* __restrict__ w,
                                          float* __restrict__ y, int ldy, int n, int m, int k, int accumulate) {
    constexpr int U = 8 / R;  // chunks per row per step: R * U = 8 loads of 16 bytes in flight
    constexpr int V = R * T;  // sums per warp
    constexpr int LOG_V = V == 1 ? 0 : V == 2 ? 1 : V == 4 ? 2 : V == 8 ? 3 : V == 16 ? 4 : 5;
    DMS_SHARED(float, partial, DMS_GEMV_WARPS * V);  // (warp, V), only when S > 1
    const int S = gemv_splits(m, k, R);
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int split = warp % S;
    const int row0 = (blockIdx.x * (DMS_GEMV_WARPS / S) + warp / S) * R;

    float acc[V];  // acc[r * T + t]
#pragma unroll
    for (int e = 0; e < V; e++) {
        acc[e] = 0.f;
    }
    if (row0 < m) {  // warp-uniform: the last block may hold row groups past m
        const bf16_t* rows[R];
#pragma unroll
        for (int r = 0; r < R; r++) {
            rows[r] = w + static_cast<size_t>(min(row0 + r, m - 1)) * k;  // a row past m is read, never stored
        }
        const int stride = 32 * S;
        const bool vec = (k & 7) == 0 && (ldx & 3) == 0 && dms::aligned16(x) && dms::aligned16(w);
        if (vec) {
            const int chunks = k >> 3;
            for (int c = split * 32 + lane; c < chunks; c += U * stride) {
                uint4 wv[U][R];
#pragma unroll
                for (int u = 0; u < U; u++) {
                    const int cu = c + u * stride;
#pragma unroll
                    for (int r = 0; r < R; r++) {
                        wv[u][r] = cu < chunks ? dms::load16_stream(rows[r] + 8 * cu) : make_uint4(0, 0, 0, 0);
                    }
                }
#pragma unroll
                for (int u = 0; u < U; u++) {
                    const int cu = c + u * stride;
                    if (cu < chunks) {
                        float wf[R][8];
#pragma unroll
                        for (int r = 0; r < R; r++) {
                            dms::unpack_bf16x8(wv[u][r], wf[r]);
                        }
#pragma unroll
                        for (int t = 0; t < T; t++) {
                            if (t < n) {
                                const float* xr = x + static_cast<size_t>(t) * ldx + 8 * cu;
                                const float4 x0 = dms::load16f_ro(xr);
                                const float4 x1 = dms::load16f_ro(xr + 4);
#pragma unroll
                                for (int r = 0; r < R; r++) {
                                    gemv_fma8(acc[r * T + t], wf[r], x0, x1);
                                }
                            }
                        }
                    }
                }
            }
        } else {
            for (int j = split * 32 + lane; j < k; j += stride) {
                float wf[R];
#pragma unroll
                for (int r = 0; r < R; r++) {
                    wf[r] = dms::bf16_to_f32(rows[r][j]);
                }
#pragma unroll
                for (int t = 0; t < T; t++) {
                    if (t < n) {
                        const float xv = x[static_cast<size_t>(t) * ldx + j];
#pragma unroll
                        for (int r = 0; r < R; r++) {
                            acc[r * T + t] = fmaf(wf[r], xv, acc[r * T + t]);
                        }
                    }
                }
            }
        }
    }

    GemvReduce<V, 16>::run(acc, lane);
    const int idx = lane >> (5 - LOG_V);                         // the sum this lane now holds
    const bool holder = (lane & ((1 << (5 - LOG_V)) - 1)) == 0;  // the first lane holding it
    if (S == 1) {
        const int r = idx / T;
        const int t = idx % T;
        if (holder && row0 + r < m && t < n) {
            float* out = y + static_cast<size_t>(t) * ldy + row0 + r;
            *out = accumulate != 0 ? *out + acc[0] : acc[0];
        }
        return;
    }
    if (holder) {
        partial[warp * V + idx] = acc[0];
    }
    __syncthreads();
    for (int e = threadIdx.x; e < DMS_GEMV_WARPS * V / S; e += blockDim.x) {
        const int group = e / V;
        const int i = e % V;
        const int r = i / T;
        const int t = i % T;
        const int row = (blockIdx.x * (DMS_GEMV_WARPS / S) + group) * R + r;
        if (row < m && t < n) {
            float s = 0.f;
            for (int j = 0; j < S; j++) {
                s += partial[(group * S + j) * V + i];
            }
            float* out = y + static_cast<size_t>(t) * ldy + row;
            *out = accumulate != 0 ? *out + s : s;
        }
    }
}

#define DMS_GEMV(T, R)                                                                                            \
    extern "C" __global__ void __launch_bounds__(DMS_GEMV_BLOCK)                                                  \
        dms_gemv_bf16_t##T##_r##R(const float* __restrict__ x, int ldx, const bf16_t* __restrict__ w,             \
                                  float* __restrict__ y, int ldy, int n, int m, int k, int accumulate) {          \
        gemv_bf16<T, R>(x, ldx, w, y, ldy, n, m, k, accumulate);                                                  \
    }
DMS_GEMV(1, 1)
DMS_GEMV(1, 2)
DMS_GEMV(1, 4)
DMS_GEMV(2, 1)
DMS_GEMV(2, 2)
DMS_GEMV(2, 4)
DMS_GEMV(4, 1)
DMS_GEMV(4, 2)
DMS_GEMV(4, 4)
DMS_GEMV(8, 1)
DMS_GEMV(8, 2)
DMS_GEMV(8, 4)

// ===================================================================================================
// Tensor-core matmul: C (n, m) fp32 = A (n, k) bf16 · W (m, k)ᵀ bf16, fp32 accumulators.
//   a    bf16 (n, k), row stride lda (activations: rmsnorm/swiglu/attention bf16 outputs)
//   w    bf16 (m, k), row stride k
//   c    fp32 (n, m), row stride ldc; c = AWᵀ, or c += AWᵀ when accumulate != 0
// Block tile BM tokens x 128 features x 32 k, 8 warps (2 along tokens x 4 along features, each warp
// BM/2 x 32), 4-stage cp.async pipeline, ldmatrix fragments, mma.sync.m16n8k16 bf16.
// grid (ceil(m / 128), ceil(n / BM)), block 256, dynamic shared memory kMatmulSmem(BM) bytes (> 48 KB:
// the launcher raises cudaFuncAttributeMaxDynamicSharedMemorySize; Java: cuFuncSetAttribute).
// Any n, m, k: k % 8 == 0, lda % 8 == 0 and 16-byte aligned a, w take cp.async; otherwise tiles are
// loaded element by element with bounds checks (correct, slower). Out-of-range rows and k are zero-filled.
#define DMS_MM_BN 128
#define DMS_MM_BK 32
#define DMS_MM_PAD 8  // bf16 per smem row beyond BK: rows 80 bytes apart, so ldmatrix has no bank conflicts
#define DMS_MM_LD (DMS_MM_BK + DMS_MM_PAD)
#define DMS_MM_STAGES 4

__host__ __device__ constexpr int matmul_smem_bytes(int bm) {
    return DMS_MM_STAGES * (bm + DMS_MM_BN) * DMS_MM_LD * 2;
}

template <int BM>
__device__ __forceinline__ void matmul_load_stage(bf16_t* As, bf16_t* Ws, const bf16_t* __restrict__ a, int lda,
                                                  const bf16_t* __restrict__ w, int n, int m, int k, int row0,
                                                  int col0, int k0, bool async) {
    // A: BM rows x 4 chunks of 8; W: 128 rows x 4 chunks.
    constexpr int aChunks = BM * 4;
    constexpr int wChunks = DMS_MM_BN * 4;
    for (int e = threadIdx.x; e < aChunks + wChunks; e += 256) {
        const bool isA = e < aChunks;
        const int c = isA ? e : e - aChunks;
        const int r = c >> 2;
        const int kc = (c & 3) * 8;
        const int gk = k0 + kc;
        bf16_t* dst = (isA ? As : Ws) + r * DMS_MM_LD + kc;
        const int grow = (isA ? row0 : col0) + r;
        const int limit = isA ? n : m;
        const bf16_t* base = isA ? a : w;
        const size_t ld = isA ? static_cast<size_t>(lda) : static_cast<size_t>(k);
        if (async) {
            const bool valid = grow < limit && gk < k;  // k % 8 == 0: a chunk is all in or all out
            const bf16_t* src = valid ? base + static_cast<size_t>(grow) * ld + gk : base;
            dms::cp_async16(dst, src, valid);
        } else {
            uint32_t packed[4];
#pragma unroll
            for (int p = 0; p < 4; p++) {
                uint32_t lo = 0, hi = 0;
                if (grow < limit && gk + 2 * p < k) {
                    lo = base[static_cast<size_t>(grow) * ld + gk + 2 * p];
                }
                if (grow < limit && gk + 2 * p + 1 < k) {
                    hi = base[static_cast<size_t>(grow) * ld + gk + 2 * p + 1];
                }
                packed[p] = lo | (hi << 16);
            }
            *reinterpret_cast<uint4*>(dst) = make_uint4(packed[0], packed[1], packed[2], packed[3]);
        }
    }
}

template <int BM>
__device__ __forceinline__ void matmul_bf16(const bf16_t* __restrict__ a, int lda, const bf16_t* __restrict__ w,
                                            float* __restrict__ c, int ldc, int n, int m, int k, int accumulate) {
    constexpr int MT = BM / 32;  // m16 tiles per warp along tokens (warp tile BM/2 rows)
    constexpr int NT = 4;        // n8 tiles per warp along features (warp tile 32 columns)
    DMS_DYNAMIC_SMEM(smem);
    bf16_t* As = reinterpret_cast<bf16_t*>(smem);                                   // [STAGES][BM][LD]
    bf16_t* Ws = As + DMS_MM_STAGES * BM * DMS_MM_LD;                               // [STAGES][BN][LD]
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int wm = warp >> 2;  // 0..1
    const int wn = warp & 3;   // 0..3
    const int row0 = blockIdx.y * BM;
    const int col0 = blockIdx.x * DMS_MM_BN;
    const int kTiles = (k + DMS_MM_BK - 1) / DMS_MM_BK;
    const bool async = (k & 7) == 0 && (lda & 7) == 0 && dms::aligned16(a) && dms::aligned16(w);

    float acc[MT][NT][4];
#pragma unroll
    for (int i = 0; i < MT; i++) {
#pragma unroll
        for (int j = 0; j < NT; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                acc[i][j][e] = 0.f;
            }
        }
    }

    // Prologue: stages 0 .. STAGES-2 in flight.
#pragma unroll
    for (int s = 0; s < DMS_MM_STAGES - 1; s++) {
        if (s < kTiles) {
            matmul_load_stage<BM>(As + s * BM * DMS_MM_LD, Ws + s * DMS_MM_BN * DMS_MM_LD, a, lda, w, n, m, k, row0, col0,
                                  s * DMS_MM_BK, async);
        }
        dms::cp_async_commit();
    }

    for (int kt = 0; kt < kTiles; kt++) {
        dms::cp_async_wait<DMS_MM_STAGES - 2>();
        __syncthreads();  // stage kt is visible to all; every warp is done with stage kt - 1
        {
            const int next = kt + DMS_MM_STAGES - 1;
            if (next < kTiles) {
                const int s = next % DMS_MM_STAGES;
                matmul_load_stage<BM>(As + s * BM * DMS_MM_LD, Ws + s * DMS_MM_BN * DMS_MM_LD, a, lda, w, n, m, k, row0,
                                      col0, next * DMS_MM_BK, async);
            }
            dms::cp_async_commit();
        }
        const bf16_t* At = As + (kt % DMS_MM_STAGES) * BM * DMS_MM_LD;
        const bf16_t* Wt = Ws + (kt % DMS_MM_STAGES) * DMS_MM_BN * DMS_MM_LD;
#pragma unroll
        for (int kk = 0; kk < DMS_MM_BK; kk += 16) {
            uint32_t af[MT][4];
#pragma unroll
            for (int i = 0; i < MT; i++) {
                const bf16_t* p = At + (wm * (BM / 2) + i * 16 + (lane & 15)) * DMS_MM_LD + kk + (lane >> 4) * 8;
                dms::ldmatrix_x4(af[i], p);
            }
            uint32_t bfr[NT][2];
#pragma unroll
            for (int jp = 0; jp < NT / 2; jp++) {
                uint32_t r[4];
                const bf16_t* p =
                    Wt + (wn * 32 + jp * 16 + (lane & 7) + (lane >> 4) * 8) * DMS_MM_LD + kk + ((lane >> 3) & 1) * 8;
                dms::ldmatrix_x4(r, p);
                bfr[2 * jp][0] = r[0];
                bfr[2 * jp][1] = r[1];
                bfr[2 * jp + 1][0] = r[2];
                bfr[2 * jp + 1][1] = r[3];
            }
#pragma unroll
            for (int i = 0; i < MT; i++) {
#pragma unroll
                for (int j = 0; j < NT; j++) {
                    dms::mma_bf16_16816(acc[i][j], af[i], bfr[j]);
                }
            }
        }
    }
    dms::cp_async_wait<0>();

    const int g = lane >> 2;
    const int q = lane & 3;
#pragma unroll
    for (int i = 0; i < MT; i++) {
#pragma unroll
        for (int j = 0; j < NT; j++) {
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int row = row0 + wm * (BM / 2) + i * 16 + g + 8 * h;
                const int col = col0 + wn * 32 + j * 8 + 2 * q;
                if (row < n) {
                    float* out = c + static_cast<size_t>(row) * ldc + col;
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        if (col + e < m) {
                            const float v = acc[i][j][2 * h + e];
                            out[e] = accumulate != 0 ? out[e] + v : v;
                        }
                    }
                }
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(256) dms_matmul_bf16_bm128(const bf16_t* __restrict__ a, int lda,
                                                                        const bf16_t* __restrict__ w,
                                                                        float* __restrict__ c, int ldc, int n, int m,
                                                                        int k, int accumulate) {
    matmul_bf16<128>(a, lda, w, c, ldc, n, m, k, accumulate);
}

extern "C" __global__ void __launch_bounds__(256) dms_matmul_bf16_bm64(const bf16_t* __restrict__ a, int lda,
                                                                       const bf16_t* __restrict__ w,
                                                                       float* __restrict__ c, int ldc, int n, int m,
                                                                       int k, int accumulate) {
    matmul_bf16<64>(a, lda, w, c, ldc, n, m, k, accumulate);
}

// ===================================================================================================
// Launchers and checked entry points.

// Rows per warp: each x value loaded serves R rows (x is read through L1 once per row group; at n = 8 and
// R = 4 that is 4 bytes of L1 traffic per byte of W).
static int gemv_rows_per_warp(int n) {
    return n <= 1 ? 1 : n <= 2 ? 2 : 4;
}

typedef void (*GemvKernel)(const float*, int, const bf16_t*, float*, int, int, int, int, int);

static void launch_gemv(const float* x, int ldx, const bf16_t* w, float* y, int ldy, int n, int m, int k,
                        int accumulate, int multiprocessors, cudaStream_t stream) {
    (void)multiprocessors;  // the plan depends on the shape only (gemv_splits)
    const int R = gemv_rows_per_warp(n);
    const int T = n <= 1 ? 1 : n <= 2 ? 2 : n <= 4 ? 4 : 8;
    const int rowsPerBlock = R * (DMS_GEMV_WARPS / gemv_splits(m, k, R));
    const int grid = (m + rowsPerBlock - 1) / rowsPerBlock;
    const int block = DMS_GEMV_BLOCK;
#define DMS_GEMV_CASE(TT, RR)                                                                                    \
    if (T == TT && R == RR) {                                                                                    \
        DMS_LAUNCH(dms_gemv_bf16_t##TT##_r##RR, grid, block, 0, stream, x, ldx, w, y, ldy, n, m, k, accumulate); \
        return;                                                                                                  \
    }
    DMS_GEMV_CASE(1, 1)
    DMS_GEMV_CASE(1, 2)
    DMS_GEMV_CASE(1, 4)
    DMS_GEMV_CASE(2, 1)
    DMS_GEMV_CASE(2, 2)
    DMS_GEMV_CASE(2, 4)
    DMS_GEMV_CASE(4, 1)
    DMS_GEMV_CASE(4, 2)
    DMS_GEMV_CASE(4, 4)
    DMS_GEMV_CASE(8, 1)
    DMS_GEMV_CASE(8, 2)
    DMS_GEMV_CASE(8, 4)
#undef DMS_GEMV_CASE
}

static void launch_matmul(const bf16_t* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m, int k,
                          int accumulate, cudaStream_t stream) {
    const bool wide = n > 64;
    dim3 grid((m + DMS_MM_BN - 1) / DMS_MM_BN, wide ? (n + 127) / 128 : (n + 63) / 64);
    if (wide) {
        cudaFuncSetAttribute(dms_matmul_bf16_bm128, cudaFuncAttributeMaxDynamicSharedMemorySize, matmul_smem_bytes(128));
        DMS_LAUNCH(dms_matmul_bf16_bm128, grid, 256, matmul_smem_bytes(128), stream, a, lda, w, c, ldc, n, m, k,
                   accumulate);
    } else {
        cudaFuncSetAttribute(dms_matmul_bf16_bm64, cudaFuncAttributeMaxDynamicSharedMemorySize, matmul_smem_bytes(64));
        DMS_LAUNCH(dms_matmul_bf16_bm64, grid, 256, matmul_smem_bytes(64), stream, a, lda, w, c, ldc, n, m, k,
                   accumulate);
    }
}

// y (n, m) = x (n, k) fp32 · Wᵀ, n <= 8.
extern "C" cudaError_t dms_gemv(const float* x, int ldx, const bf16_t* w, float* y, int ldy, int n, int m, int k,
                                int accumulate, int multiprocessors, cudaStream_t stream) {
    DMS_CHECK(x != nullptr && w != nullptr && y != nullptr);
    DMS_CHECK(n >= 1 && n <= 8 && m >= 1 && k >= 1 && ldx >= k && ldy >= m && multiprocessors >= 1);
    launch_gemv(x, ldx, w, y, ldy, n, m, k, accumulate, multiprocessors, stream);
    return cudaGetLastError();
}

// c (n, m) = a (n, k) bf16 · Wᵀ on tensor cores.
extern "C" cudaError_t dms_matmul(const bf16_t* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m, int k,
                                  int accumulate, cudaStream_t stream) {
    DMS_CHECK(a != nullptr && w != nullptr && c != nullptr);
    DMS_CHECK(n >= 1 && m >= 1 && k >= 1 && lda >= k && ldc >= m);
    DMS_CHECK((n + 63) / 64 <= 65535);
    launch_matmul(a, lda, w, c, ldc, n, m, k, accumulate, stream);
    return cudaGetLastError();
}
