// matmul.cu: y = x · Wᵀ for bf16 weights W (out_features, in_features) as stored in the checkpoint.
// Java: MatMulKernel; CPU: cpu/MatMul (wq wk wv wo, w1 = gate_proj, w2 = down_proj, w3 = up_proj, lm_head)
//
// Two paths:
//   dms_gemv_bf16_t{T}_r{R}  small n (1..8 tokens: decode): fp32 activations, bandwidth-bound
//   dms_matmul_bf16_bm{64,128}  larger n (prefill, big decode batches): bf16 activations on tensor cores
//                               (mma.sync m16n8k16, fp32 accumulators), the same code on sm_80 and sm_90a
//   dms_matmul_skinny_*         9..64 tokens (decode batches): W streamed into the mma fragments
//   *_split_*                   the two above on fp32 activations, each a bf16 high part plus its bf16 rest: the
//                               CPU's fp32 products to about 2^-17 instead of 2^-9, for twice the mma work
#include "dms.cuh"

// ===================================================================================================
// GEMV: block b computes rows [b*R, b*R + R) of y for all n <= T tokens. Its threads stride along k in
// chunks of 8 elements (one 16-byte load of W per row), keeping 2*R loads of W in flight, and read x
// through L1 (x is small and read by every block). Partial sums are reduced across the block at the end.
//   x    fp32 (n, k), row stride ldx
//   w    bf16 (m, k), row-major (row stride k)
//   y    fp32 (n, m), row stride ldy; y = xWᵀ, or y += xWᵀ when accumulate != 0 (the residual add of wo/w2)
// grid (ceil(m / R)), block a multiple of 32 up to 256 (the launcher: min(256, k/16 rounded up to 32)),
// no dynamic shared memory. Any m, n <= T, k >= 1. k % 8 == 0, ldx % 4 == 0 and 16-byte aligned x, w
// take the 16-byte path; anything else takes the scalar path (correct, slower).
// Variants: T in {1, 2, 4, 8} (smallest T >= n), R in {1, 2, 4} (the launcher: most rows per block that
// still give >= 4 blocks per multiprocessor).
// SWIGLU (dms_gemv_swiglu_*): W is w1|w3 fused, m = 2 inter rows; block b takes the R / 2 gate rows from
// j0 = b R / 2 and the up rows inter + j0 ... of the same features, and writes y[t][j] = silu(gate) · up
// (dms::silu_mul) for its R / 2 features instead of the 2 inter sums: the SwiGLU kernel's launch saved. Each row
// sums as in the plain kernel of the same block size, so the results are those of gemv + dms_swiglu, bit for bit.
// NORM (dms_gemv_norm_*, dms_gemv_swiglu_norm_*): x is the residual stream and the RMSNorm that makes the product's
// input (rmsnorm.cu, weight gamma bf16 (k)) is folded in: each thread multiplies the x it reads by gamma and sums its
// squares; the block adds the squares as it adds the partial sums (the same order in every block) and scales each
// token's sums by s_t = 1 / sqrt(mean_k x_t² + eps). The norm's launch saved; s comes after the sums instead of before
// them, so the values differ from rmsnorm + gemv in the last bits (kernel_test gemv_norm).
template <int T, int R, bool SWIGLU = false, bool NORM = false>
__device__ __forceinline__ void gemv_bf16(const float* __restrict__ x, int ldx, const bf16_t* __restrict__ w,
                                          float* __restrict__ y, int ldy, int n, int m, int k, int accumulate,
                                          const bf16_t* __restrict__ gamma = nullptr, float eps = 0.f) {
    DMS_SHARED(float, partial, 32 * R * T);  // (warps, R * T)
    DMS_SHARED(float, squaresOf, NORM ? 32 * T : 1);  // (warps, T)
    constexpr int H = SWIGLU ? R / 2 : R;  // outputs a block writes
    const int inter = m / 2;
    const int row0 = blockIdx.x * H;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;

    float acc[R][T];
    float squares[T];
#pragma unroll
    for (int t = 0; t < T; t++) {
        squares[t] = 0.f;
#pragma unroll
        for (int r = 0; r < R; r++) {
            acc[r][t] = 0.f;
        }
    }
    const bf16_t* rows[R];
#pragma unroll
    for (int r = 0; r < R; r++) {
        // A row past the end is read, never stored.
        const int row = SWIGLU ? (r < H ? min(row0 + r, inter - 1) : inter + min(row0 + r - H, inter - 1))
                               : min(row0 + r, m - 1);
        rows[r] = w + static_cast<size_t>(row) * k;
    }

    const bool vec = (k & 7) == 0 && (ldx & 3) == 0 && dms::aligned16(x) && dms::aligned16(w) && dms::aligned16(gamma);
    dms::pdl_begin_long();
    // Norm: the squares of x's 8 values at chunk c into squares[t], then the values times gamma's.
    auto normed = [&](int t, int c, float4& x0, float4& x1) {
        if constexpr (NORM) {
            float q = squares[t];
            q = fmaf(x0.x, x0.x, q);
            q = fmaf(x0.y, x0.y, q);
            q = fmaf(x0.z, x0.z, q);
            q = fmaf(x0.w, x0.w, q);
            q = fmaf(x1.x, x1.x, q);
            q = fmaf(x1.y, x1.y, q);
            q = fmaf(x1.z, x1.z, q);
            q = fmaf(x1.w, x1.w, q);
            squares[t] = q;
            float gf[8];
            dms::unpack_bf16x8(dms::load16_ro(gamma + 8 * c), gf);
            x0.x = __fmul_rn(x0.x, gf[0]);
            x0.y = __fmul_rn(x0.y, gf[1]);
            x0.z = __fmul_rn(x0.z, gf[2]);
            x0.w = __fmul_rn(x0.w, gf[3]);
            x1.x = __fmul_rn(x1.x, gf[4]);
            x1.y = __fmul_rn(x1.y, gf[5]);
            x1.z = __fmul_rn(x1.z, gf[6]);
            x1.w = __fmul_rn(x1.w, gf[7]);
        }
    };
    if (vec) {
        const int chunks = k >> 3;
        const int stride = blockDim.x;
        int c = threadIdx.x;
        for (; c + stride < chunks; c += 2 * stride) {
            uint4 wv[2][R];
#pragma unroll
            for (int u = 0; u < 2; u++) {
#pragma unroll
                for (int r = 0; r < R; r++) {
                    wv[u][r] = dms::load16_stream(rows[r] + 8 * (c + u * stride));
                }
            }
#pragma unroll
            for (int u = 0; u < 2; u++) {
                float wf[R][8];
#pragma unroll
                for (int r = 0; r < R; r++) {
                    dms::unpack_bf16x8(wv[u][r], wf[r]);
                }
#pragma unroll
                for (int t = 0; t < T; t++) {
                    if (t < n) {
                        const float* xr = x + static_cast<size_t>(t) * ldx + 8 * (c + u * stride);
                        float4 x0 = dms::load16f_ro(xr);
                        float4 x1 = dms::load16f_ro(xr + 4);
                        normed(t, c + u * stride, x0, x1);
#pragma unroll
                        for (int r = 0; r < R; r++) {
                            float s = acc[r][t];
                            s = fmaf(wf[r][0], x0.x, s);
                            s = fmaf(wf[r][1], x0.y, s);
                            s = fmaf(wf[r][2], x0.z, s);
                            s = fmaf(wf[r][3], x0.w, s);
                            s = fmaf(wf[r][4], x1.x, s);
                            s = fmaf(wf[r][5], x1.y, s);
                            s = fmaf(wf[r][6], x1.z, s);
                            s = fmaf(wf[r][7], x1.w, s);
                            acc[r][t] = s;
                        }
                    }
                }
            }
        }
        if (c < chunks) {
            uint4 wv[R];
#pragma unroll
            for (int r = 0; r < R; r++) {
                wv[r] = dms::load16_stream(rows[r] + 8 * c);
            }
            float wf[R][8];
#pragma unroll
            for (int r = 0; r < R; r++) {
                dms::unpack_bf16x8(wv[r], wf[r]);
            }
#pragma unroll
            for (int t = 0; t < T; t++) {
                if (t < n) {
                    const float* xr = x + static_cast<size_t>(t) * ldx + 8 * c;
                    float4 x0 = dms::load16f_ro(xr);
                    float4 x1 = dms::load16f_ro(xr + 4);
                    normed(t, c, x0, x1);
#pragma unroll
                    for (int r = 0; r < R; r++) {
                        float s = acc[r][t];
                        s = fmaf(wf[r][0], x0.x, s);
                        s = fmaf(wf[r][1], x0.y, s);
                        s = fmaf(wf[r][2], x0.z, s);
                        s = fmaf(wf[r][3], x0.w, s);
                        s = fmaf(wf[r][4], x1.x, s);
                        s = fmaf(wf[r][5], x1.y, s);
                        s = fmaf(wf[r][6], x1.z, s);
                        s = fmaf(wf[r][7], x1.w, s);
                        acc[r][t] = s;
                    }
                }
            }
        }
    } else {
        for (int j = threadIdx.x; j < k; j += blockDim.x) {
            float wf[R];
#pragma unroll
            for (int r = 0; r < R; r++) {
                wf[r] = dms::bf16_to_f32(rows[r][j]);
            }
#pragma unroll
            for (int t = 0; t < T; t++) {
                if (t < n) {
                    float xv = x[static_cast<size_t>(t) * ldx + j];
                    if constexpr (NORM) {
                        squares[t] = fmaf(xv, xv, squares[t]);
                        xv = __fmul_rn(xv, dms::bf16_to_f32(gamma[j]));
                    }
#pragma unroll
                    for (int r = 0; r < R; r++) {
                        acc[r][t] = fmaf(wf[r], xv, acc[r][t]);
                    }
                }
            }
        }
    }
    dms::pdl_late_gemv<T>();

#pragma unroll
    for (int r = 0; r < R; r++) {
#pragma unroll
        for (int t = 0; t < T; t++) {
            const float s = dms::warp_sum(acc[r][t]);
            if (lane == 0) {
                partial[warp * R * T + r * T + t] = s;
            }
        }
    }
    if constexpr (NORM) {
#pragma unroll
        for (int t = 0; t < T; t++) {
            const float q = dms::warp_sum(squares[t]);
            if (lane == 0) {
                squaresOf[warp * T + t] = q;
            }
        }
    }
    __syncthreads();
    // Norm: token t's s, from the warps' squares in warp order.
    auto scale = [&](int t) {
        float q = 0.f;
        for (int v = 0; v < warps; v++) {
            q += squaresOf[v * T + t];
        }
        const float meanSquare = __fadd_rn(__fdiv_rn(q, static_cast<float>(k)), eps);
        return static_cast<float>(1.0 / sqrt(static_cast<double>(meanSquare)));
    };
    if (SWIGLU) {
        for (int e = threadIdx.x; e < H * T; e += blockDim.x) {
            const int r = e / T;
            const int t = e % T;
            if (row0 + r < inter && t < n) {
                float g = 0.f;
                float u = 0.f;
                for (int v = 0; v < warps; v++) {
                    g += partial[v * R * T + e];
                    u += partial[v * R * T + H * T + e];
                }
                if constexpr (NORM) {
                    const float st = scale(t);
                    g = __fmul_rn(g, st);
                    u = __fmul_rn(u, st);
                }
                y[static_cast<size_t>(t) * ldy + row0 + r] = dms::silu_mul(g, u);
            }
        }
        return;
    }
    for (int e = threadIdx.x; e < R * T; e += blockDim.x) {
        const int r = e / T;
        const int t = e % T;
        if (row0 + r < m && t < n) {
            float s = 0.f;
            for (int v = 0; v < warps; v++) {
                s += partial[v * R * T + e];
            }
            if constexpr (NORM) {
                s = __fmul_rn(s, scale(t));
            }
            float* out = y + static_cast<size_t>(t) * ldy + row0 + r;
            *out = accumulate != 0 ? *out + s : s;
        }
    }
}

#define DMS_GEMV(T, R)                                                                                            \
    extern "C" __global__ void __launch_bounds__(256)                                                             \
        dms_gemv_bf16_t##T##_r##R(const float* __restrict__ x, int ldx, const bf16_t* __restrict__ w,             \
                                  float* __restrict__ y, int ldy, int n, int m, int k, int accumulate) {          \
        gemv_bf16<T, R>(x, ldx, w, y, ldy, n, m, k, accumulate);                                                  \
    }
// The GEMV's (tokens, rows) variants, and the SwiGLU GEMV's (rows of one or two (gate, up) pairs): each kernel list
// and launcher below walks these.
#define DMS_GEMV_SHAPES(X) X(1, 1) X(1, 2) X(1, 4) X(2, 1) X(2, 2) X(2, 4) X(4, 1) X(4, 2) X(4, 4) X(8, 1) X(8, 2) X(8, 4)
#define DMS_GEMV_SWIGLU_SHAPES(X) X(1, 2) X(1, 4) X(2, 2) X(2, 4) X(4, 2) X(4, 4) X(8, 2) X(8, 4)
DMS_GEMV_SHAPES(DMS_GEMV)

#define DMS_GEMV_SWIGLU(T, R)                                                                                     \
    extern "C" __global__ void __launch_bounds__(256)                                                             \
        dms_gemv_swiglu_bf16_t##T##_r##R(const float* __restrict__ x, int ldx, const bf16_t* __restrict__ w,      \
                                         float* __restrict__ h, int ldh, int n, int inter, int k) {               \
        gemv_bf16<T, R, true>(x, ldx, w, h, ldh, n, 2 * inter, k, 0);                                            \
    }
DMS_GEMV_SWIGLU_SHAPES(DMS_GEMV_SWIGLU)

#define DMS_GEMV_NORM(T, R)                                                                                       \
    extern "C" __global__ void __launch_bounds__(256)                                                             \
        dms_gemv_norm_bf16_t##T##_r##R(const float* __restrict__ x, int ldx, const bf16_t* __restrict__ w,        \
                                       float* __restrict__ y, int ldy, int n, int m, int k, int accumulate,       \
                                       const bf16_t* __restrict__ gamma, float eps) {                             \
        gemv_bf16<T, R, false, true>(x, ldx, w, y, ldy, n, m, k, accumulate, gamma, eps);                         \
    }
DMS_GEMV_SHAPES(DMS_GEMV_NORM)

#define DMS_GEMV_SWIGLU_NORM(T, R)                                                                                \
    extern "C" __global__ void __launch_bounds__(256)                                                             \
        dms_gemv_swiglu_norm_bf16_t##T##_r##R(const float* __restrict__ x, int ldx, const bf16_t* __restrict__ w, \
                                              float* __restrict__ h, int ldh, int n, int inter, int k,            \
                                              const bf16_t* __restrict__ gamma, float eps) {                      \
        gemv_bf16<T, R, true, true>(x, ldx, w, h, ldh, n, 2 * inter, k, 0, gamma, eps);                          \
    }
DMS_GEMV_SWIGLU_SHAPES(DMS_GEMV_SWIGLU_NORM)

// ===================================================================================================
// Tensor-core matmul: C (n, m) fp32 = A (n, k) · W (m, k)ᵀ bf16, fp32 accumulators.
//   a    bf16 (n, k), row stride lda (activations: rmsnorm/swiglu/attention bf16 outputs); or, in the split
//        kernels (dms_matmul_split_*), fp32 (n, k): each value goes to the tensor cores as its bf16 high part and
//        the bf16 rest (dms::split_bf16x2), two mma each, so the product sees the activations to about 2^-17
//        instead of bf16's 2^-9 (what the CPU reference computes in fp32; the DMS decisions follow it)
//   w    bf16 (m, k), row stride k
//   c    fp32 (n, m), row stride ldc; c = AWᵀ, or c += AWᵀ when accumulate != 0
// Block tile BM tokens x 128 features x 32 k, 8 warps (2 along tokens x 4 along features, each warp
// BM/2 x 32), cp.async pipeline of 4 stages (3 for split: fp32 A tiles take twice the bytes, and two blocks
// of 128 tokens still fit an H100 / H200 multiprocessor), ldmatrix fragments, mma.sync.m16n8k16 bf16. Split: once a stage
// has landed, the block converts its fp32 A tile (rows of 40 floats) into a bf16 high tile and a bf16 rest tile
// (one element per thread and pass, not once per warp that reads it), then a barrier, then the warps take both
// by ldmatrix as the bf16 kernels take their A tile.
// grid (ceil(m / 128), ceil(n / BM), splits), block 256, dynamic shared memory matmul_smem_bytes(BM, split)
// bytes (> 48 KB: the launcher raises cudaFuncAttributeMaxDynamicSharedMemorySize; Java: cuFuncSetAttribute).
// Split-K (small n: a decode batch has too few tiles of 128 features to fill the device): with partial !=
// null, block z sums only k tiles [z * kTilesPerSplit, (z + 1) * kTilesPerSplit) and stores its fp32 sums
// to partial (splits, n, m); dms_matmul_reduce then adds the splits in order (deterministic: no atomics).
// Any n, m, k: k % 8 == 0, lda % 8 == 0 and 16-byte aligned a, w take cp.async; otherwise tiles are
// loaded element by element with bounds checks (correct, slower). Out-of-range rows and k are zero-filled.
#define DMS_MM_BN 128
#define DMS_MM_BK 32
#define DMS_MM_PAD 8  // bf16 per smem row beyond BK: rows 80 bytes apart, so ldmatrix has no bank conflicts
#define DMS_MM_LD (DMS_MM_BK + DMS_MM_PAD)
#define DMS_MM_LDF (DMS_MM_BK + 8)  // floats per smem row of a split kernel's fp32 A tile (160 bytes)

__host__ __device__ constexpr int matmul_stages(bool split) {
    return split ? 3 : 4;
}

// Bytes of one stage's A tile (BM rows) and of a whole stage.
__host__ __device__ constexpr int matmul_a_tile_bytes(int bm, bool split) {
    return split ? bm * DMS_MM_LDF * 4 : bm * DMS_MM_LD * 2;
}

// The stages, and for split the converted high and rest tiles of the current stage (bm rows of LD bf16 each).
__host__ __device__ constexpr int matmul_smem_bytes(int bm, bool split = false) {
    return matmul_stages(split) * (matmul_a_tile_bytes(bm, split) + DMS_MM_BN * DMS_MM_LD * 2) +
           (split ? 2 * bm * DMS_MM_LD * 2 : 0);
}

// MatMulKernel.sharedBytes mirrors these (CudaAvailabilityTest checks the Java side).
static_assert(matmul_smem_bytes(128, false) == 81920 && matmul_smem_bytes(64, false) == 61440, "bf16 tiles");
static_assert(matmul_smem_bytes(128, true) == 112640 && matmul_smem_bytes(64, true) == 71680, "split tiles");

// One stage: the A tile (BM rows x 32 k, bf16 or fp32) into As, the W tile (128 rows x 32 k) into Ws.
template <int BM, bool SPLIT>
__device__ __forceinline__ void matmul_load_stage(unsigned char* As, bf16_t* Ws, const void* __restrict__ a, int lda,
                                                  const bf16_t* __restrict__ w, int n, int m, int k, int row0,
                                                  int col0, int k0, bool async) {
    // 16-byte chunks: A rows hold 4 (bf16) or 8 (fp32), W rows 4.
    constexpr int aEl = SPLIT ? 4 : 2;        // bytes of an A element
    constexpr int aPerChunk = 16 / aEl;       // A elements a chunk
    constexpr int aPerRow = DMS_MM_BK / aPerChunk;
    constexpr int aLd = SPLIT ? DMS_MM_LDF : DMS_MM_LD;  // A elements per smem row
    constexpr int aChunks = BM * aPerRow;
    constexpr int wChunks = DMS_MM_BN * 4;
    const unsigned char* ab = static_cast<const unsigned char*>(a);
    for (int e = threadIdx.x; e < aChunks + wChunks; e += 256) {
        const bool isA = e < aChunks;
        const int c = isA ? e : e - aChunks;
        const int per = isA ? aPerRow : 4;
        const int r = c / per;
        const int kc = (c % per) * (isA ? aPerChunk : 8);
        const int gk = k0 + kc;
        const int el = isA ? aEl : 2;
        unsigned char* dst = isA ? As + (static_cast<size_t>(r) * aLd + kc) * aEl
                                 : reinterpret_cast<unsigned char*>(Ws + r * DMS_MM_LD + kc);
        const int grow = (isA ? row0 : col0) + r;
        const int limit = isA ? n : m;
        const unsigned char* base = isA ? ab : reinterpret_cast<const unsigned char*>(w);
        const size_t ld = isA ? static_cast<size_t>(lda) : static_cast<size_t>(k);
        if (async) {
            const bool valid = grow < limit && gk < k;  // k % 8 == 0: a chunk is all in or all out
            const unsigned char* src = valid ? base + (static_cast<size_t>(grow) * ld + gk) * el : base;
            dms::cp_async16(dst, src, valid);
        } else {
            // Element by element: 16 bytes of 8 bf16 or 4 fp32, zeros past n, m or k.
            uint32_t words[4];
#pragma unroll
            for (int p = 0; p < 4; p++) {
                if (el == 4) {
                    words[p] = grow < limit && gk + p < k
                                   ? reinterpret_cast<const uint32_t*>(base)[static_cast<size_t>(grow) * ld + gk + p]
                                   : 0u;
                } else {
                    const bf16_t* b16 = reinterpret_cast<const bf16_t*>(base);
                    uint32_t lo = 0, hi = 0;
                    if (grow < limit && gk + 2 * p < k) {
                        lo = b16[static_cast<size_t>(grow) * ld + gk + 2 * p];
                    }
                    if (grow < limit && gk + 2 * p + 1 < k) {
                        hi = b16[static_cast<size_t>(grow) * ld + gk + 2 * p + 1];
                    }
                    words[p] = lo | (hi << 16);
                }
            }
            *reinterpret_cast<uint4*>(dst) = make_uint4(words[0], words[1], words[2], words[3]);
        }
    }
}

template <int BM, bool SPLIT>
__device__ __forceinline__ void matmul_tc(const void* __restrict__ a, int lda, const bf16_t* __restrict__ w,
                                          float* __restrict__ c, int ldc, int n, int m, int k, int accumulate,
                                          int kTilesPerSplit, float* __restrict__ partial) {
    dms::pdl_begin_long();
    constexpr int MT = BM / 32;  // m16 tiles per warp along tokens (warp tile BM/2 rows)
    constexpr int NT = 4;        // n8 tiles per warp along features (warp tile 32 columns)
    constexpr int STAGES = matmul_stages(SPLIT);
    constexpr int A_TILE = matmul_a_tile_bytes(BM, SPLIT);
    DMS_DYNAMIC_SMEM(smem);
    unsigned char* As = smem;                                                        // [STAGES][BM][LD or LDF]
    bf16_t* Ws = reinterpret_cast<bf16_t*>(smem + STAGES * A_TILE);                  // [STAGES][BN][LD]
    bf16_t* Ahi = Ws + STAGES * DMS_MM_BN * DMS_MM_LD;  // split: [2][BM][LD], the high tile, then the rest tile
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int wm = warp >> 2;  // 0..1
    const int wn = warp & 3;   // 0..3
    const int row0 = blockIdx.y * BM;
    const int col0 = blockIdx.x * DMS_MM_BN;
    const int kTilesAll = (k + DMS_MM_BK - 1) / DMS_MM_BK;
    const int kt0 = partial != nullptr ? blockIdx.z * kTilesPerSplit : 0;
    const int kTiles = partial != nullptr ? max(0, min(kTilesAll - kt0, kTilesPerSplit)) : kTilesAll;  // this block's
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
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < kTiles) {
            matmul_load_stage<BM, SPLIT>(As + s * A_TILE, Ws + s * DMS_MM_BN * DMS_MM_LD, a, lda, w, n, m, k, row0,
                                         col0, (kt0 + s) * DMS_MM_BK, async);
        }
        dms::cp_async_commit();
    }

    const int g = lane >> 2;
    const int q = lane & 3;
    for (int kt = 0; kt < kTiles; kt++) {
        dms::cp_async_wait<STAGES - 2>();
        __syncthreads();  // stage kt is visible to all; every warp is done with stage kt - 1
        {
            const int next = kt + STAGES - 1;
            if (next < kTiles) {
                const int s = next % STAGES;
                matmul_load_stage<BM, SPLIT>(As + s * A_TILE, Ws + s * DMS_MM_BN * DMS_MM_LD, a, lda, w, n, m, k, row0,
                                             col0, (kt0 + next) * DMS_MM_BK, async);
            }
            dms::cp_async_commit();
        }
        const unsigned char* At = As + (kt % STAGES) * A_TILE;
        const bf16_t* Wt = Ws + (kt % STAGES) * DMS_MM_BN * DMS_MM_LD;
        if constexpr (SPLIT) {
            // The fp32 tile into the high and rest tiles: 4 values a thread and pass.
            const float* Af = reinterpret_cast<const float*>(At);
            for (int e = threadIdx.x; e < BM * (DMS_MM_BK / 4); e += 256) {
                const int r = e / (DMS_MM_BK / 4);
                const int c = (e % (DMS_MM_BK / 4)) * 4;
                const float4 v = *reinterpret_cast<const float4*>(Af + r * DMS_MM_LDF + c);
                uint2 hi, lo;
                dms::split_bf16x2(v.x, v.y, hi.x, lo.x);
                dms::split_bf16x2(v.z, v.w, hi.y, lo.y);
                *reinterpret_cast<uint2*>(Ahi + r * DMS_MM_LD + c) = hi;
                *reinterpret_cast<uint2*>(Ahi + BM * DMS_MM_LD + r * DMS_MM_LD + c) = lo;
            }
            __syncthreads();  // the converted tiles are visible to every warp
        }
#pragma unroll
        for (int kk = 0; kk < DMS_MM_BK; kk += 16) {
            uint32_t af[MT][4];
            uint32_t afRest[SPLIT ? MT : 1][4];  // split: the bf16 rest of each A value
#pragma unroll
            for (int i = 0; i < MT; i++) {
                const int offset = (wm * (BM / 2) + i * 16 + (lane & 15)) * DMS_MM_LD + kk + (lane >> 4) * 8;
                if constexpr (SPLIT) {
                    dms::ldmatrix_x4(af[i], Ahi + offset);
                    dms::ldmatrix_x4(afRest[i], Ahi + BM * DMS_MM_LD + offset);
                } else {
                    dms::ldmatrix_x4(af[i], reinterpret_cast<const bf16_t*>(At) + offset);
                }
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
                    if constexpr (SPLIT) {
                        dms::mma_bf16_16816(acc[i][j], afRest[i], bfr[j]);
                    }
                }
            }
        }
    }
    dms::cp_async_wait<0>();

#pragma unroll
    for (int i = 0; i < MT; i++) {
#pragma unroll
        for (int j = 0; j < NT; j++) {
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int row = row0 + wm * (BM / 2) + i * 16 + g + 8 * h;
                const int col = col0 + wn * 32 + j * 8 + 2 * q;
                if (row < n) {
                    if (partial != nullptr) {
                        float* out = partial + (static_cast<size_t>(blockIdx.z) * n + row) * m + col;
#pragma unroll
                        for (int e = 0; e < 2; e++) {
                            if (col + e < m) {
                                out[e] = acc[i][j][2 * h + e];
                            }
                        }
                        continue;
                    }
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

#define DMS_MATMUL(NAME, BM, SPLIT, AT)                                                                           \
    extern "C" __global__ void __launch_bounds__(256)                                                             \
        NAME(const AT* __restrict__ a, int lda, const bf16_t* __restrict__ w, float* __restrict__ c, int ldc,     \
             int n, int m, int k, int accumulate, int kTilesPerSplit, float* __restrict__ partial) {              \
        matmul_tc<BM, SPLIT>(a, lda, w, c, ldc, n, m, k, accumulate, kTilesPerSplit, partial);                    \
    }
DMS_MATMUL(dms_matmul_bf16_bm128, 128, false, bf16_t)
DMS_MATMUL(dms_matmul_bf16_bm64, 64, false, bf16_t)
DMS_MATMUL(dms_matmul_split_bm128, 128, true, float)
DMS_MATMUL(dms_matmul_split_bm64, 64, true, float)

// c (n, m) = (accumulate ? c : 0) + sum over z = 0 .. splits-1 of partial (splits, n, m), in that order.
// grid ceil(n m / 256), block 256.
extern "C" __global__ void __launch_bounds__(256) dms_matmul_reduce(const float* __restrict__ partial, int splits,
                                                                    int n, int m, float* __restrict__ c, int ldc,
                                                                    int accumulate) {
    dms::pdl_begin();
    const size_t e = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const size_t count = static_cast<size_t>(n) * m;
    if (e >= count) {
        return;
    }
    const int row = static_cast<int>(e / m);
    const int col = static_cast<int>(e % m);
    float sum = 0.f;
    for (int z = 0; z < splits; z++) {
        sum += partial[static_cast<size_t>(z) * count + e];
    }
    float* out = c + static_cast<size_t>(row) * ldc + col;
    *out = accumulate != 0 ? *out + sum : sum;
}

// The split-K products' second launch (here and in matmul_sm90.cu): dms_matmul_reduce over the n x m outputs.
static void launch_matmul_reduce(const float* partial, int splits, int n, int m, float* c, int ldc, int accumulate,
                                 cudaStream_t stream) {
    const size_t count = static_cast<size_t>(n) * m;
    DMS_LAUNCH(dms_matmul_reduce, static_cast<unsigned>((count + 255) / 256), 256, 0, stream, partial, splits, n, m, c,
               ldc, accumulate);
}

// ===================================================================================================
// Skinny tensor-core product for decode batches: c (n, m) fp32 = a (n, k) bf16 · Wᵀ (or c +=), n <= 16 MT.
// Bandwidth-bound like the GEMV: W streams from memory straight into mma fragments, no shared-memory tiles.
// Block b computes features [8 NT b, 8 NT (b + 1)) (NT tiles of 8: 4, or 2 for more blocks when m is small) for
// all tokens; its 8 warps take k in chunks
// of 32 (warp w: chunks w, w + 8, ...), 4 chunks of loads in flight per warp, and sum their fragments in
// warp order through shared memory at the end (deterministic).
// The trick that lets a lane load 16 bytes of a W row: m16n8k16 sums over k, so any permutation of k that A
// and B share gives the same sum. Lane (g = lane / 4, q = lane % 4) loads W[col g][8q .. 8q + 8) and
// a[row g or g + 8][8q .. 8q + 8) of the chunk; its registers hold physical k 8q + {0-1, 2-3} for step 0 and
// 8q + {4-5, 6-7} for step 1, which the fragment layout reads as logical k 2q + {0-1} and 2q + 8 + {0-1}.
//   a   bf16 (n, k), rows of lda (activations; read through L1, every block reads them); fp32 in the split kernels
//       (dms_matmul_skinny_split_*: high parts and rests, four mma a chunk and tile instead of two, as the tiled
//       split kernels)
//   w   bf16 (m, k)
//   c   fp32 (n, m), rows of ldc
// grid ceil(m / 8 NT), block 256, no dynamic shared memory. k % 32 == 0, lda % 8 == 0, a and w 16-byte aligned.
#define DMS_SKINNY_WARPS 8
#define DMS_SKINNY_U 4

// W chunks of this warp into registers: wv[u][j] = 16 bytes of row j's chunk c0 + u WARPS (zeros past the end).
template <int NT, int U>
__device__ __forceinline__ void skinny_load_w(uint4 (&wv)[U][NT], const bf16_t* const (&rows)[NT], int c0, int chunks) {
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int ch = c0 + u * DMS_SKINNY_WARPS;
#pragma unroll
        for (int j = 0; j < NT; j++) {
            wv[u][j] = ch < chunks ? dms::load16_stream(rows[j] + 32 * ch) : make_uint4(0, 0, 0, 0);
        }
    }
}

// acc += the tokens' chunks c0 + u WARPS (u < U, those before `chunks`) times the W fragments held in wv.
// SPLIT: a is fp32; each lane's 8 values of a row go to the tensor cores as bf16 high parts and rests
// (dms::split_bf16x2), the rests in a second pair of mma.
template <int MT, int NT, int U, bool SPLIT>
__device__ __forceinline__ void skinny_mma(float (&acc)[MT][NT][4], const uint4 (&wv)[U][NT],
                                           const void* __restrict__ a, int lda, int n, int c0, int chunks, int g,
                                           int q) {
#pragma unroll
    for (int u = 0; u < U; u++) {
        const int ch = c0 + u * DMS_SKINNY_WARPS;
        if (ch >= chunks) {
            break;  // uniform across the warp
        }
#pragma unroll
        for (int t = 0; t < MT; t++) {
            const int r0 = 16 * t + g;
            // Row g's and row g + 8's k 8q .. 8q + 8 of the chunk as bf16 pairs (hi), and their rests (rest).
            uint4 lo, hi;
            uint4 loRest = make_uint4(0, 0, 0, 0), hiRest = make_uint4(0, 0, 0, 0);
            if constexpr (SPLIT) {
                const float* af = static_cast<const float*>(a);
                float v[2][8];
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const int r = r0 + 8 * h;
                    const float4 z = make_float4(0.f, 0.f, 0.f, 0.f);
                    const float* src = af + static_cast<size_t>(r) * lda + 32 * ch + 8 * q;
                    const float4 x0 = r < n ? dms::load16f_ro(src) : z;
                    const float4 x1 = r < n ? dms::load16f_ro(src + 4) : z;
                    v[h][0] = x0.x, v[h][1] = x0.y, v[h][2] = x0.z, v[h][3] = x0.w;
                    v[h][4] = x1.x, v[h][5] = x1.y, v[h][6] = x1.z, v[h][7] = x1.w;
                }
                dms::split_bf16x2(v[0][0], v[0][1], lo.x, loRest.x);
                dms::split_bf16x2(v[0][2], v[0][3], lo.y, loRest.y);
                dms::split_bf16x2(v[0][4], v[0][5], lo.z, loRest.z);
                dms::split_bf16x2(v[0][6], v[0][7], lo.w, loRest.w);
                dms::split_bf16x2(v[1][0], v[1][1], hi.x, hiRest.x);
                dms::split_bf16x2(v[1][2], v[1][3], hi.y, hiRest.y);
                dms::split_bf16x2(v[1][4], v[1][5], hi.z, hiRest.z);
                dms::split_bf16x2(v[1][6], v[1][7], hi.w, hiRest.w);
            } else {
                const bf16_t* ab = static_cast<const bf16_t*>(a);
                lo = r0 < n ? dms::load16_ro(ab + static_cast<size_t>(r0) * lda + 32 * ch + 8 * q) : make_uint4(0, 0, 0, 0);
                hi = r0 + 8 < n ? dms::load16_ro(ab + static_cast<size_t>(r0 + 8) * lda + 32 * ch + 8 * q)
                                : make_uint4(0, 0, 0, 0);
            }
            const uint32_t a0[4] = {lo.x, hi.x, lo.y, hi.y};
            const uint32_t a1[4] = {lo.z, hi.z, lo.w, hi.w};
            const uint32_t a0Rest[4] = {loRest.x, hiRest.x, loRest.y, hiRest.y};
            const uint32_t a1Rest[4] = {loRest.z, hiRest.z, loRest.w, hiRest.w};
#pragma unroll
            for (int j = 0; j < NT; j++) {
                const uint32_t b0[2] = {wv[u][j].x, wv[u][j].y};
                const uint32_t b1[2] = {wv[u][j].z, wv[u][j].w};
                dms::mma_bf16_16816(acc[t][j], a0, b0);
                dms::mma_bf16_16816(acc[t][j], a1, b1);
                if constexpr (SPLIT) {
                    dms::mma_bf16_16816(acc[t][j], a0Rest, b0);
                    dms::mma_bf16_16816(acc[t][j], a1Rest, b1);
                }
            }
        }
    }
}

// The block's warps' fragments summed in warp order, one m16 tile at a time, into c (or c +=).
template <int MT, int NT>
__device__ __forceinline__ void skinny_store(const float (&acc)[MT][NT][4], float* red, float* __restrict__ c, int ldc,
                                             int n, int m, int col0, int accumulate, int warp, int lane) {
#pragma unroll
    for (int t = 0; t < MT; t++) {
        if (16 * t >= n) {
            break;  // uniform across the block
        }
#pragma unroll
        for (int j = 0; j < NT; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                red[((warp * NT + j) * 4 + e) * 32 + lane] = acc[t][j][e];
            }
        }
        __syncthreads();
        for (int f = threadIdx.x; f < NT * 4 * 32; f += blockDim.x) {
            const int l = f & 31;
            const int e = (f >> 5) & 3;
            const int j = f >> 7;
            float sum = 0.f;
            for (int v = 0; v < DMS_SKINNY_WARPS; v++) {
                sum += red[((v * NT + j) * 4 + e) * 32 + l];
            }
            const int row = 16 * t + (l >> 2) + 8 * (e >> 1);
            const int col = col0 + 8 * j + 2 * (l & 3) + (e & 1);
            if (row < n && col < m) {
                float* out = c + static_cast<size_t>(row) * ldc + col;
                *out = accumulate != 0 ? *out + sum : sum;
            }
        }
        __syncthreads();
    }
}

// PIPE false: a warp loads U = 4 chunks of W, waits, multiplies, loads the next 4. PIPE true (dms_matmul_skinny_p_*):
// double-buffered, PU = 2 chunks a buffer: the next 2 chunks' loads are issued before the current 2 are multiplied, so
// every warp keeps W requests in flight while it computes, in as many registers. The chunks are summed in the same
// order either way: the same bits.
template <int MT, int NT, bool PIPE, bool SPLIT = false, int PU = 2>
__device__ __forceinline__ void matmul_skinny(const void* __restrict__ a, int lda, const bf16_t* __restrict__ w,
                                              float* __restrict__ c, int ldc, int n, int m, int k, int accumulate) {
    dms::pdl_begin_long();
    constexpr int WARPS = DMS_SKINNY_WARPS;
    DMS_SHARED(float, red, WARPS * NT * 4 * 32);  // (warp, tile, register, lane) of one m16 tile
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int g = lane >> 2;
    const int q = lane & 3;
    const int col0 = blockIdx.x * (8 * NT);
    const int chunks = k >> 5;

    const bf16_t* rows[NT];
#pragma unroll
    for (int j = 0; j < NT; j++) {
        rows[j] = w + static_cast<size_t>(min(col0 + 8 * j + g, m - 1)) * k + 8 * q;  // a row past m: read, not stored
    }
    float acc[MT][NT][4];
#pragma unroll
    for (int t = 0; t < MT; t++) {
#pragma unroll
        for (int j = 0; j < NT; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                acc[t][j][e] = 0.f;
            }
        }
    }

    if (PIPE) {
        constexpr int U = PU;
        uint4 wv[U][NT];
        skinny_load_w<NT, U>(wv, rows, warp, chunks);
        for (int c0 = warp; c0 < chunks; c0 += WARPS * U) {
            uint4 next[U][NT];
            skinny_load_w<NT, U>(next, rows, c0 + WARPS * U, chunks);
            skinny_mma<MT, NT, U, SPLIT>(acc, wv, a, lda, n, c0, chunks, g, q);
#pragma unroll
            for (int u = 0; u < U; u++) {
#pragma unroll
                for (int j = 0; j < NT; j++) {
                    wv[u][j] = next[u][j];
                }
            }
        }
    } else {
        constexpr int U = DMS_SKINNY_U;
        for (int c0 = warp; c0 < chunks; c0 += WARPS * U) {
            uint4 wv[U][NT];
            skinny_load_w<NT, U>(wv, rows, c0, chunks);
            skinny_mma<MT, NT, U, SPLIT>(acc, wv, a, lda, n, c0, chunks, g, q);
        }
    }
    skinny_store<MT, NT>(acc, red, c, ldc, n, m, col0, accumulate, warp, lane);
}

#define DMS_SKINNY(MT, NT)                                                                                        \
    extern "C" __global__ void __launch_bounds__(DMS_SKINNY_WARPS * 32)                                          \
        dms_matmul_skinny_m##MT##_n##NT(const bf16_t* __restrict__ a, int lda, const bf16_t* __restrict__ w,     \
                                        float* __restrict__ c, int ldc, int n, int m, int k, int accumulate) {    \
        matmul_skinny<MT, NT, false>(a, lda, w, c, ldc, n, m, k, accumulate);                                     \
    }                                                                                                             \
    extern "C" __global__ void __launch_bounds__(DMS_SKINNY_WARPS * 32)                                          \
        dms_matmul_skinny_p_m##MT##_n##NT(const bf16_t* __restrict__ a, int lda, const bf16_t* __restrict__ w,   \
                                          float* __restrict__ c, int ldc, int n, int m, int k, int accumulate) {  \
        matmul_skinny<MT, NT, true>(a, lda, w, c, ldc, n, m, k, accumulate);                                      \
    }                                                                                                             \
    extern "C" __global__ void __launch_bounds__(DMS_SKINNY_WARPS * 32)                                          \
        dms_matmul_skinny_split_m##MT##_n##NT(const float* __restrict__ a, int lda, const bf16_t* __restrict__ w, \
                                              float* __restrict__ c, int ldc, int n, int m, int k,                \
                                              int accumulate) {                                                   \
        matmul_skinny<MT, NT, false, true>(a, lda, w, c, ldc, n, m, k, accumulate);                               \
    }                                                                                                             \
    extern "C" __global__ void __launch_bounds__(DMS_SKINNY_WARPS * 32)                                          \
        dms_matmul_skinny_split_p_m##MT##_n##NT(const float* __restrict__ a, int lda,                             \
                                                const bf16_t* __restrict__ w, float* __restrict__ c, int ldc,     \
                                                int n, int m, int k, int accumulate) {                            \
        matmul_skinny<MT, NT, true, true>(a, lda, w, c, ldc, n, m, k, accumulate);                                \
    }
DMS_SKINNY(1, 2)
DMS_SKINNY(1, 4)
DMS_SKINNY(2, 2)
DMS_SKINNY(2, 4)
DMS_SKINNY(4, 2)
DMS_SKINNY(4, 4)

// ===================================================================================================
// Launchers and checked entry points.

static int gemv_rows_per_block(int m, int multiprocessors) {
    const int target = 4 * multiprocessors;
    if ((m + 3) / 4 >= target) {
        return 4;
    }
    if ((m + 1) / 2 >= target) {
        return 2;
    }
    return 1;
}

static int gemv_block(int k) {
    const int chunks = (k + 7) / 8;
    const int threads = ((chunks / 2 + 31) / 32) * 32;
    return max(32, min(256, threads));
}

typedef void (*GemvKernel)(const float*, int, const bf16_t*, float*, int, int, int, int, int);

// gamma != null: the norm kernels (dms_gemv_norm_*).
static void launch_gemv(const float* x, int ldx, const bf16_t* w, float* y, int ldy, int n, int m, int k,
                        int accumulate, int multiprocessors, cudaStream_t stream, const bf16_t* gamma = nullptr,
                        float eps = 0.f) {
    const int R = gemv_rows_per_block(m, multiprocessors);
    const int T = n <= 1 ? 1 : n <= 2 ? 2 : n <= 4 ? 4 : 8;
    const int grid = (m + R - 1) / R;
    const int block = gemv_block(k);
#define DMS_GEMV_CASE(TT, RR)                                                                                    \
    if (T == TT && R == RR) {                                                                                    \
        if (gamma != nullptr) {                                                                                  \
            DMS_LAUNCH(dms_gemv_norm_bf16_t##TT##_r##RR, grid, block, 0, stream, x, ldx, w, y, ldy, n, m, k,      \
                       accumulate, gamma, eps);                                                                  \
        } else {                                                                                                 \
            DMS_LAUNCH(dms_gemv_bf16_t##TT##_r##RR, grid, block, 0, stream, x, ldx, w, y, ldy, n, m, k,           \
                       accumulate);                                                                              \
        }                                                                                                        \
        return;                                                                                                  \
    }
    DMS_GEMV_SHAPES(DMS_GEMV_CASE)
#undef DMS_GEMV_CASE
}

template <typename AT>
static void launch_matmul(const AT* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m, int k,
                          int accumulate, int splits, float* workspace, cudaStream_t stream) {
    constexpr bool split = sizeof(AT) == 4;  // fp32 activations: the split kernels
    const bool wide = n > 64;
    const int kTiles = (k + DMS_MM_BK - 1) / DMS_MM_BK;
    const int perSplit = (kTiles + splits - 1) / splits;
    splits = (kTiles + perSplit - 1) / perSplit;  // no empty split
    float* partial = splits > 1 ? workspace : nullptr;
    dim3 grid((m + DMS_MM_BN - 1) / DMS_MM_BN, wide ? (n + 127) / 128 : (n + 63) / 64, splits);
    const int smem = matmul_smem_bytes(wide ? 128 : 64, split);
#define DMS_MATMUL_LAUNCH(KERNEL)                                                                                \
    cudaFuncSetAttribute(KERNEL, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);                             \
    DMS_LAUNCH(KERNEL, grid, 256, smem, stream, a, lda, w, c, ldc, n, m, k, accumulate, perSplit, partial);
    if constexpr (split) {
        if (wide) {
            DMS_MATMUL_LAUNCH(dms_matmul_split_bm128)
        } else {
            DMS_MATMUL_LAUNCH(dms_matmul_split_bm64)
        }
    } else {
        if (wide) {
            DMS_MATMUL_LAUNCH(dms_matmul_bf16_bm128)
        } else {
            DMS_MATMUL_LAUNCH(dms_matmul_bf16_bm64)
        }
    }
#undef DMS_MATMUL_LAUNCH
    if (partial != nullptr) {
        launch_matmul_reduce(partial, splits, n, m, c, ldc, accumulate, stream);
    }
}

// y (n, m) = x (n, k) fp32 · Wᵀ, n <= 8.
extern "C" cudaError_t dms_gemv(const float* x, int ldx, const bf16_t* w, float* y, int ldy, int n, int m, int k,
                                int accumulate, int multiprocessors, cudaStream_t stream) {
    DMS_CHECK(x != nullptr && w != nullptr && y != nullptr);
    DMS_CHECK(n >= 1 && n <= 8 && m >= 1 && k >= 1 && k <= DMS_MAX_K && ldx >= k && ldy >= m && multiprocessors >= 1);
    launch_gemv(x, ldx, w, y, ldy, n, m, k, accumulate, multiprocessors, stream);
    return cudaGetLastError();
}

// h (n, inter) = silu(x · W1ᵀ) ⊙ (x · W3ᵀ) for w = w1|w3 (2 inter, k), n <= 8: the GEMV of the plain launcher (rows per
// block for 2 inter rows, at least 2; the same block size), then dms_swiglu's formula on each feature's two sums.
static cudaError_t launch_gemv_swiglu(const float* x, int ldx, const bf16_t* w, float* h, int ldh, int n, int inter,
                                      int k, int multiprocessors, cudaStream_t stream, const bf16_t* gamma,
                                      float eps) {
    DMS_CHECK(x != nullptr && w != nullptr && h != nullptr);
    DMS_CHECK(n >= 1 && n <= 8 && inter >= 1 && k >= 1 && k <= DMS_MAX_K &&
              ldx >= k && ldh >= inter && multiprocessors >= 1);
    const int R = max(2, gemv_rows_per_block(2 * inter, multiprocessors));
    const int T = n <= 1 ? 1 : n <= 2 ? 2 : n <= 4 ? 4 : 8;
    const int grid = (inter + R / 2 - 1) / (R / 2);
    const int block = gemv_block(k);
#define DMS_GEMV_SWIGLU_CASE(TT, RR)                                                                              \
    if (T == TT && R == RR) {                                                                                    \
        if (gamma != nullptr) {                                                                                  \
            DMS_LAUNCH(dms_gemv_swiglu_norm_bf16_t##TT##_r##RR, grid, block, 0, stream, x, ldx, w, h, ldh, n,     \
                       inter, k, gamma, eps);                                                                    \
        } else {                                                                                                 \
            DMS_LAUNCH(dms_gemv_swiglu_bf16_t##TT##_r##RR, grid, block, 0, stream, x, ldx, w, h, ldh, n, inter,   \
                       k);                                                                                       \
        }                                                                                                        \
        return cudaGetLastError();                                                                               \
    }
    DMS_GEMV_SWIGLU_SHAPES(DMS_GEMV_SWIGLU_CASE)
#undef DMS_GEMV_SWIGLU_CASE
    return cudaGetLastError();
}

extern "C" cudaError_t dms_gemv_swiglu(const float* x, int ldx, const bf16_t* w, float* h, int ldh, int n, int inter,
                                       int k, int multiprocessors, cudaStream_t stream) {
    return launch_gemv_swiglu(x, ldx, w, h, ldh, n, inter, k, multiprocessors, stream, nullptr, 0.f);
}

// y (n, m) = rmsnorm(x) (n, k) · Wᵀ (or y +=), n <= 8, with RMSNorm (weight gamma bf16 (k); eps) folded in: x is the
// residual stream (gemv_bf16's NORM).
extern "C" cudaError_t dms_gemv_norm(const float* x, int ldx, const bf16_t* w, float* y, int ldy, int n, int m, int k,
                                     int accumulate, const bf16_t* gamma, float eps, int multiprocessors,
                                     cudaStream_t stream) {
    DMS_CHECK(x != nullptr && w != nullptr && y != nullptr && gamma != nullptr && eps >= 0.f);
    DMS_CHECK(n >= 1 && n <= 8 && m >= 1 && k >= 1 && k <= DMS_MAX_K && ldx >= k && ldy >= m && multiprocessors >= 1);
    launch_gemv(x, ldx, w, y, ldy, n, m, k, accumulate, multiprocessors, stream, gamma, eps);
    return cudaGetLastError();
}

// As dms_gemv_swiglu on rmsnorm(x), the norm folded in as in dms_gemv_norm.
extern "C" cudaError_t dms_gemv_swiglu_norm(const float* x, int ldx, const bf16_t* w, float* h, int ldh, int n,
                                            int inter, int k, const bf16_t* gamma, float eps, int multiprocessors,
                                            cudaStream_t stream) {
    DMS_CHECK(gamma != nullptr && eps >= 0.f);
    return launch_gemv_swiglu(x, ldx, w, h, ldh, n, inter, k, multiprocessors, stream, gamma, eps);
}

template <typename AT>
static cudaError_t launch_skinny(const AT* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m, int k,
                                 int accumulate, int tiles, int pipelined, cudaStream_t stream) {
    constexpr bool split = sizeof(AT) == 4;
    DMS_CHECK(a != nullptr && w != nullptr && c != nullptr);
    DMS_CHECK(n >= 1 && n <= 64 && m >= 1 && k >= 32 && k <= DMS_MAX_K &&
              k % 32 == 0 && lda >= k && lda % 8 == 0 && ldc >= m);
    DMS_CHECK(dms::aligned16(a) && dms::aligned16(w));
    DMS_CHECK(tiles == 2 || tiles == 4);
    const int grid = (m + 8 * tiles - 1) / (8 * tiles);
#define DMS_SKINNY_LAUNCH(NAME)                                                                                  \
    DMS_LAUNCH(NAME, grid, DMS_SKINNY_WARPS * 32, 0, stream, a, lda, w, c, ldc, n, m, k, accumulate)
#define DMS_SKINNY_CASE(MT, NT)                                                                                  \
    if ((n + 15) / 16 <= MT && (MT == 1 || (n + 15) / 16 > MT / 2) && tiles == NT) {                            \
        if constexpr (split) {                                                                                   \
            if (pipelined != 0) {                                                                                \
                DMS_SKINNY_LAUNCH(dms_matmul_skinny_split_p_m##MT##_n##NT);                                      \
            } else {                                                                                             \
                DMS_SKINNY_LAUNCH(dms_matmul_skinny_split_m##MT##_n##NT);                                        \
            }                                                                                                    \
        } else {                                                                                                 \
            if (pipelined != 0) {                                                                                \
                DMS_SKINNY_LAUNCH(dms_matmul_skinny_p_m##MT##_n##NT);                                            \
            } else {                                                                                             \
                DMS_SKINNY_LAUNCH(dms_matmul_skinny_m##MT##_n##NT);                                              \
            }                                                                                                    \
        }                                                                                                        \
        return cudaGetLastError();                                                                               \
    }
    DMS_SKINNY_CASE(1, 2)
    DMS_SKINNY_CASE(1, 4)
    DMS_SKINNY_CASE(2, 2)
    DMS_SKINNY_CASE(2, 4)
    DMS_SKINNY_CASE(4, 2)
    DMS_SKINNY_CASE(4, 4)
#undef DMS_SKINNY_CASE
#undef DMS_SKINNY_LAUNCH
    return cudaGetLastError();
}

// c (n, m) = a (n, k) bf16 · Wᵀ, n <= 64, on tensor cores with W streamed into the fragments (decode batches).
extern "C" cudaError_t dms_matmul_skinny(const bf16_t* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m,
                                         int k, int accumulate, int tiles, int pipelined, cudaStream_t stream) {
    return launch_skinny(a, lda, w, c, ldc, n, m, k, accumulate, tiles, pipelined, stream);
}

// As dms_matmul_skinny for fp32 activations, each split into bf16 high part and rest.
extern "C" cudaError_t dms_matmul_skinny_split(const float* a, int lda, const bf16_t* w, float* c, int ldc, int n,
                                               int m, int k, int accumulate, int tiles, int pipelined,
                                               cudaStream_t stream) {
    return launch_skinny(a, lda, w, c, ldc, n, m, k, accumulate, tiles, pipelined, stream);
}

template <typename AT>
static cudaError_t checked_matmul(const AT* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m, int k,
                                  int accumulate, int splits, float* workspace, cudaStream_t stream) {
    DMS_CHECK(a != nullptr && w != nullptr && c != nullptr);
    DMS_CHECK(n >= 1 && m >= 1 && k >= 1 && k <= DMS_MAX_K && lda >= k && ldc >= m);
    DMS_CHECK((n + 63) / 64 <= 65535);
    DMS_CHECK(splits >= 1 && splits <= 65535 && (splits == 1 || workspace != nullptr));
    launch_matmul(a, lda, w, c, ldc, n, m, k, accumulate, splits, workspace, stream);
    return cudaGetLastError();
}

// c (n, m) = a (n, k) bf16 · Wᵀ on tensor cores; k split `splits` ways (1: no split) through workspace fp32
// (splits, n, m).
extern "C" cudaError_t dms_matmul(const bf16_t* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m, int k,
                                  int accumulate, int splits, float* workspace, cudaStream_t stream) {
    return checked_matmul(a, lda, w, c, ldc, n, m, k, accumulate, splits, workspace, stream);
}

// As dms_matmul for fp32 activations, each split into bf16 high part and rest (the split kernels).
extern "C" cudaError_t dms_matmul_split(const float* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m,
                                        int k, int accumulate, int splits, float* workspace, cudaStream_t stream) {
    return checked_matmul(a, lda, w, c, ldc, n, m, k, accumulate, splits, workspace, stream);
}
