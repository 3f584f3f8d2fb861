// matmul_sm90_skinny.cu: decode-batch products (up to 32 tokens) on Hopper's warpgroup tensor cores (sm_90a).
// Java: MatMulKernel (on compute 9.0 it takes these where matmul.cu's skinny kernels run elsewhere); CPU: cpu/MatMul.
//
// C (n, m) fp32 = A (n, k) · W (m, k)ᵀ, or C += when accumulate, n <= 32. A decode batch reads every weight once a
// step, so the product is bound by W's bytes. matmul.cu's skinny kernel holds W's loads in registers (about 32 KB in
// flight a multiprocessor: 2.2-3.5 TB/s at batch 16, docs/benchmarks.md). Here W streams into shared memory by
// cp.async, STAGES deep (48-64 KB of W in flight a multiprocessor, in no registers), and the tensor
// cores read it there with the operands swapped: W is wgmma's A (64 features x 16 k, the M side), the tokens its B
// (the N side, BN = 16 or 32), so one m64nBNk16 per k step of 16 multiplies the block's 64 features by every token.
// Each kernel comes as _n16 (1 to 16 tokens) and _n32 (17 to 32: twice the activation tile, two split blocks a
// multiprocessor where _n16 runs three).
//   dms_matmul_wgs_bf16_n16   a bf16 (n, k): the X tile copied by cp.async into the 128-byte swizzle, as W's
//   dms_matmul_wgs_split_n16  a fp32 (n, k): copied as fp32; each thread converts the values it copied into a bf16 high
//                             tile and a rest tile (dms::split_bf16x2), two wgmma per k step (the fp32 activations to
//                             about 2^-17, as the other split kernels)
//   dms_matmul_wgs_split_norm_n16  as split, with the RMSNorm that makes a its input (rmsnorm.cu) folded in: a is the
//                             residual stream x, and C = diag(s) · (x ⊙ γ) · Wᵀ with s_t = 1 / sqrt(mean_k x_t² + eps).
//                             Each block multiplies its tiles by γ as it converts them and sums the squares of the x it
//                             copied (its k range); the splits' sums of squares go with their partial sums, and the
//                             block that writes C scales the token's sums by s: q|k|v and gate|up without the norm's
//                             launch. s is taken after the products instead of before them, so the values differ from
//                             rmsnorm + product in the last bits (kernel_test matmul_wgs_norm).
//   dms_matmul_wgs_split_swiglu_n16, dms_matmul_wgs_split_swiglu_norm_n16  split (and split_norm) on w1|w3 (m = 2 inter
//                             rows) ending in SwiGLU: h (n, inter) = silu(gate) · up, the MLP's two launches in one. A
//                             block's 64 rows are 32 features' gate and up rows, interleaved by 8 so that each thread's
//                             fragment holds both sums of a (token, feature); the same tiles, splits and k ranges as
//                             the plain product of the 2 inter rows, so h is that product then dms_swiglu, bit for bit
//                             (kernel_test matmul_wgs_swiglu).
//   w bf16 (m, k), rows of k; c fp32 (n, m), rows of ldc.
// Block: one warpgroup (128 threads), 64 features, the k tiles (of 64) [kb, ke) of split z; 1-D grid, block
// b = z tilesM + tile. With splits > 1 (the launcher's choice for small m, so that every multiprocessor gets blocks)
// each block stores its fragments in partial (tile, z: 64 BN floats in fragment order), and the last block of a tile to
// finish (counters[tile], atomic; that block resets it) adds the splits in z order, so the sums are the same from run
// to run. Pipeline: loads STAGES - 2 tiles ahead, as matmul_sm90.cu: a stage is reloaded only after the barrier that
// follows every warp's wgmma.wait_group 1 on the group that read it; split's high/rest pairs rotate over 3 (a pair is
// rewritten two steps after the group that read it was waited for, the barrier between).
// grid ceil(m / 64) splits, block 128, dynamic shared memory matmul_wgs_smem_bytes(split, BN) (1024-aligned inside).
// k % 8 == 0, lda % 8 == 0, 16-byte aligned a, w and partial; 1 <= splits <= ceil(k / 64). Norm: gamma bf16 (k),
// 16-byte aligned; the sums of squares of split z follow every partial sum (partial + splits tilesM 64 BN, BN floats a
// tile and split).
#include "dms.cuh"

#define DMS_WGS_BM 64   // features a block (wgmma's M)
#define DMS_WGS_BN 32   // the most tokens (wgmma's N): kernels _n16 for 1 to 16 tokens, _n32 for 17 to 32
#define DMS_WGS_BK 64   // k a stage: one 128-byte swizzled row
#define DMS_WGS_THREADS 128

// bf16: 10 stages; split: 5 stages (measured faster than 8 stages and two blocks a multiprocessor for every Qwen3-8B
// product at 16 tokens but o, 3% slower: skinny_bench wgs, 2026-11-30).
__host__ __device__ constexpr int matmul_wgs_stages(bool split) {
    return split ? 5 : 10;
}

// One stage: the W tile (64 x 64 bf16, swizzled), then the activations: bf16 bn x 64 swizzled, or fp32 bn x 64 plain.
__host__ __device__ constexpr int matmul_wgs_stage_bytes(bool split, int bn = 16) {
    return DMS_WGS_BM * DMS_WGS_BK * 2 + bn * DMS_WGS_BK * (split ? 4 : 2);
}

__host__ __device__ constexpr int matmul_wgs_smem_bytes(bool split, int bn = 16, int stages = -1) {
    return (stages < 0 ? matmul_wgs_stages(split) : stages) * matmul_wgs_stage_bytes(split, bn) +
           (split ? 3 * 2 * bn * DMS_WGS_BK * 2 : 0) + 1024;  // + the alignment slack
}

// Blocks a multiprocessor runs at once, which the split rule counts as a wave: the bf16 kernels run fastest one to a
// multiprocessor (two of _n16 fit), split _n16 three, split _n32 two (its shared memory).
__host__ __device__ constexpr int matmul_wgs_wave_blocks(bool split, int bn) {
    return split ? (bn == 16 ? 3 : 2) : 1;
}

// MatMulKernel.wgsSharedBytes mirrors these; the blocks a wave counts fit in the H100 / H200's 228 KB (each block also
// takes 1 KB of the system's).
static_assert(matmul_wgs_smem_bytes(false) == 103424 && matmul_wgs_smem_bytes(true) == 74752, "sizes");
static_assert(matmul_wgs_smem_bytes(false, 32) == 123904 && matmul_wgs_smem_bytes(true, 32) == 107520, "sizes");
static_assert(2 * (matmul_wgs_smem_bytes(false) + 1024) <= 228 * 1024, "two bf16 blocks a multiprocessor");
static_assert(3 * (matmul_wgs_smem_bytes(true) + 1024) <= 228 * 1024, "three split blocks a multiprocessor");
static_assert(2 * (matmul_wgs_smem_bytes(true, 32) + 1024) <= 228 * 1024, "two split _n32 blocks a multiprocessor");
static_assert(matmul_wgs_smem_bytes(false, 32) + 1024 <= 227 * 1024, "a bf16 _n32 block within the opt-in limit");

// The RMSNorm scale of a token from its sum of squares over k, as rmsnorm.cu computes it.
__device__ __forceinline__ float wgs_norm_scale(float sumSquares, int k, float eps) {
    const float meanSquare = __fadd_rn(__fdiv_rn(sumSquares, static_cast<float>(k)), eps);
    return static_cast<float>(1.0 / sqrt(static_cast<double>(meanSquare)));
}

// SWIGLU: W is w1|w3 fused (m = 2 inter rows: gate rows, then up rows) and c is h (n, inter), ldc = ldh (the kernels
// dms_matmul_wgs_split_swiglu*_n16 and _n32 below); accumulate is not read.
template <int BN>
__device__ __forceinline__ void wgmma_m64nBNk16(float (&d)[BN / 2], uint64_t descA, uint64_t descB) {
    if constexpr (BN == 16) {
        dms::wgmma_m64n16k16(d, descA, descB);
    } else {
        static_assert(BN == 32, "tiles of 16 or 32 tokens");
        dms::wgmma_m64n32k16(d, descA, descB);
    }
}

template <bool SPLIT, int BN, int STAGES = matmul_wgs_stages(SPLIT), bool NORM = false, bool SWIGLU = false>
__device__ __forceinline__ void matmul_wgs(const void* __restrict__ a, int lda, const bf16_t* __restrict__ w,
                                           float* __restrict__ c, int ldc, int n, int m, int k, int accumulate,
                                           int splits, float* __restrict__ partial, int* __restrict__ counters,
                                           const bf16_t* __restrict__ gamma = nullptr, float eps = 0.f) {
#if defined(DMS_WGMMA)
    static_assert(STAGES >= 3, "tiles are loaded STAGES - 2 ahead");
    static_assert(SPLIT || !NORM, "the norm is folded into the split kernel only");
    static_assert(SPLIT || !SWIGLU, "SwiGLU is folded into the split kernel only");
    static_assert(BN == 16 || BN == 32, "tiles of 16 or 32 tokens");
    constexpr int STAGE = matmul_wgs_stage_bytes(SPLIT, BN);
    constexpr int W_TILE = DMS_WGS_BM * DMS_WGS_BK * 2;
    constexpr int X_TILE = BN * DMS_WGS_BK * 2;  // one bf16 activation tile
    constexpr int PARTIAL = DMS_WGS_BM * BN;     // partial sums a tile and split: the block's 64 x BN fragments
    constexpr int ACC = BN / 2;                  // a thread's fragment
    constexpr int XU = BN * 16 / DMS_WGS_THREADS;  // split: the 16-byte fp32 chunks of a stage's tile a thread copies
    DMS_DYNAMIC_SMEM(raw);
    unsigned char* smem = raw + ((1024 - (dms::smem_addr(raw) & 1023)) & 1023);
    unsigned char* pairs = smem + STAGES * STAGE;  // split: 3 x (high tile, rest tile)
    DMS_SHARED(int, last, 1);
    DMS_SHARED(float, scaleOf, NORM ? BN : 1);  // norm: each token's s
    const int tid = threadIdx.x;
    const int tilesM = (m + DMS_WGS_BM - 1) / DMS_WGS_BM;
    const int tile = static_cast<int>(blockIdx.x) % tilesM;
    const int z = static_cast<int>(blockIdx.x) / tilesM;
    const int row0 = tile * DMS_WGS_BM;
    const int kTiles = (k + DMS_WGS_BK - 1) / DMS_WGS_BK;
    const int kb = static_cast<int>(static_cast<long long>(z) * kTiles / splits);
    const int count = static_cast<int>(static_cast<long long>(z + 1) * kTiles / splits) - kb;
    const bf16_t* a16 = static_cast<const bf16_t*>(a);
    const float* a32 = static_cast<const float*>(a);

    // Tile kb + i into stage i % STAGES: W's 64 rows (8 chunks of 16 bytes each) by loadW, the tokens' BN rows by loadX
    // (apart, so that a launch copies its first W tiles before pdl_wait); zeros past m, n and k (k % 8 == 0: a chunk is
    // all in or all out). SWIGLU: local row r is feature f = 32 tile + 8 (r / 16) + r % 8 of the tile's 32, its gate
    // row f where r & 8 is 0, else its up row inter + f (zeros for f >= inter), so that a thread's fragment holds a
    // feature's gate and up sums (the epilogue); the same 64 rows a block, the same tiles (ceil(2 inter / 64) =
    // ceil(inter / 32)) and k ranges as the plain product of the 2 inter rows.
    auto loadW = [&](int i) {
        unsigned char* st = smem + (i % STAGES) * STAGE;
        const int k0 = (kb + i) * DMS_WGS_BK;
#pragma unroll
        for (int u = 0; u < DMS_WGS_BM * 8 / DMS_WGS_THREADS; u++) {
            const int e = tid + u * DMS_WGS_THREADS;
            const int r = e >> 3;
            const int gk = k0 + (e & 7) * 8;
            if constexpr (SWIGLU) {
                const int inter = m >> 1;
                const int f = tile * (DMS_WGS_BM / 2) + (r >> 4) * 8 + (r & 7);
                const bool valid = f < inter && gk < k;
                const int wr = (r & 8) != 0 ? inter + f : f;
                dms::cp_async16(st + wg_swizzle(r, e & 7), valid ? w + static_cast<size_t>(wr) * k + gk : w, valid);
            } else {
                const bool valid = row0 + r < m && gk < k;
                dms::cp_async16(st + wg_swizzle(r, e & 7), valid ? w + static_cast<size_t>(row0 + r) * k + gk : w,
                                valid);
            }
        }
    };
    auto loadX = [&](int i) {
        unsigned char* st = smem + (i % STAGES) * STAGE;
        const int k0 = (kb + i) * DMS_WGS_BK;
        if constexpr (SPLIT) {
#pragma unroll
            for (int u = 0; u < XU; u++) {
                const int e = tid + u * DMS_WGS_THREADS;
                const int r = e >> 4;
                const int gk = k0 + (e & 15) * 4;
                const bool valid = r < n && gk < k;
                dms::cp_async16(st + W_TILE + e * 16, valid ? a32 + static_cast<size_t>(r) * lda + gk : a32, valid);
            }
        } else {
#pragma unroll
            for (int u = 0; u < BN * 8 / DMS_WGS_THREADS; u++) {
                const int e = tid + u * DMS_WGS_THREADS;
                const int r = e >> 3;
                const int gk = k0 + (e & 7) * 8;
                const bool valid = r < n && gk < k;
                dms::cp_async16(st + W_TILE + wg_swizzle(r, e & 7), valid ? a16 + static_cast<size_t>(r) * lda + gk : a16,
                                valid);
            }
        }
    };
    // Split: the fp32 values this thread copied into stage i % STAGES, as high and rest parts into pair i % 3. Norm:
    // first the sum of their squares into squares[u] (rows tid / 16 + 8 u), then times g, gamma's 4 values at the
    // thread's k (the same for every row), loaded an iteration ahead (gammaAt).
    float squares[XU];
#pragma unroll
    for (int u = 0; u < XU; u++) {
        squares[u] = 0.f;
    }
    auto gammaAt = [&](int i) {
        const int gk = (kb + i) * DMS_WGS_BK + (tid & 15) * 4;
        return NORM && i < count && gk < k ? __ldg(reinterpret_cast<const uint2*>(gamma + gk)) : make_uint2(0u, 0u);
    };
    uint2 g = gammaAt(0);
    auto convert = [&](int i) {
        const unsigned char* src = smem + (i % STAGES) * STAGE + W_TILE;
        unsigned char* hi = pairs + (i % 3) * 2 * X_TILE;
#pragma unroll
        for (int u = 0; u < XU; u++) {
            const int e = tid + u * DMS_WGS_THREADS;
            float4 v = *reinterpret_cast<const float4*>(src + e * 16);
            if constexpr (NORM) {
                squares[u] = fmaf(v.x, v.x, fmaf(v.y, v.y, fmaf(v.z, v.z, fmaf(v.w, v.w, squares[u]))));
                v.x = __fmul_rn(v.x, dms::bf16_lo(g.x));
                v.y = __fmul_rn(v.y, dms::bf16_hi(g.x));
                v.z = __fmul_rn(v.z, dms::bf16_lo(g.y));
                v.w = __fmul_rn(v.w, dms::bf16_hi(g.y));
            }
            const int at = wg_swizzle(e >> 4, (e & 15) >> 1) + (e & 1) * 8;
            uint2 h, r;
            dms::split_bf16x2(v.x, v.y, h.x, r.x);
            dms::split_bf16x2(v.z, v.w, h.y, r.y);
            *reinterpret_cast<uint2*>(hi + at) = h;
            *reinterpret_cast<uint2*>(hi + X_TILE + at) = r;
        }
    };

    float acc[ACC];
#pragma unroll
    for (int i = 0; i < ACC; i++) {
        acc[i] = 0.f;
    }
    // The first STAGES - 2 W tiles before pdl_wait (weights: no kernel writes them), in the first commit group.
#pragma unroll
    for (int s = 0; s < STAGES - 2; s++) {
        if (s < count) {
            loadW(s);
        }
    }
    dms::pdl_begin_long();
#pragma unroll
    for (int s = 0; s < STAGES - 2; s++) {
        if (s < count) {
            loadX(s);
        }
        dms::cp_async_commit();
    }
    for (int i = 0; i < count; i++) {
        dms::cp_async_wait<STAGES - 3>();  // this thread's copies of tile i have landed
        if constexpr (SPLIT) {
            convert(i);  // its own copies: no barrier needed before
        }
        if constexpr (NORM) {
            g = gammaAt(i + 1);  // an iteration to land in
        }
        dms::fence_proxy_async();  // this thread's shared-memory writes visible to the tensor cores
        __syncthreads();           // every thread's; every warp has waited for the group of tile i - 2
        if (i + STAGES - 2 < count) {
            loadW(i + STAGES - 2);  // into stage (i - 2) % STAGES
            loadX(i + STAGES - 2);
        }
        dms::cp_async_commit();
        const uint32_t wAddr = dms::smem_addr(smem + (i % STAGES) * STAGE);
        const uint32_t xAddr = SPLIT ? dms::smem_addr(pairs + (i % 3) * 2 * X_TILE) : wAddr + W_TILE;
        dms::wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < DMS_WGS_BK / 16; kk++) {
            const uint64_t descW = dms::wgmma_desc(wAddr + 32 * kk);  // k step kk: 32 bytes into each row
            wgmma_m64nBNk16<BN>(acc, descW, dms::wgmma_desc(xAddr + 32 * kk));
            if constexpr (SPLIT) {
                wgmma_m64nBNk16<BN>(acc, descW, dms::wgmma_desc(xAddr + X_TILE + 32 * kk));
            }
        }
        dms::wgmma_commit();
        dms::wgmma_wait<1>();  // the group of tile i - 1 is done
    }
    dms::wgmma_wait<0>();
    dms::cp_async_wait<0>();
    dms::pdl_late();
#pragma unroll
    for (int i = 0; i < ACC; i++) {
        dms::wgmma_hold(acc[i]);
    }
    // Norm: a row's squares over the block's k range, summed across the 16 lanes that copied it (lanes 0-15 and
    // 16-31 of a warp hold two rows each u), in the same order in every block.
    // (after the partial sums; only split products have them: unsplit, partial may be null)
    float* const squaresOut = NORM && splits > 1 ? partial + static_cast<size_t>(splits) * tilesM * PARTIAL : nullptr;
    if constexpr (NORM) {
#pragma unroll
        for (int u = 0; u < XU; u++) {
#pragma unroll
            for (int o = 8; o >= 1; o >>= 1) {
                squares[u] += __shfl_xor_sync(0xffffffffu, squares[u], o);
            }
        }
        if ((tid & 15) == 0) {
            const int r = tid >> 4;
            float* mine = splits > 1 ? squaresOut + (static_cast<size_t>(tile) * splits + z) * BN : nullptr;
#pragma unroll
            for (int u = 0; u < XU; u++) {
                if (splits > 1) {  // with the partial sums, for the block that adds them
                    mine[r + 8 * u] = squares[u];
                } else {
                    scaleOf[r + 8 * u] = wgs_norm_scale(squares[u], k, eps);
                }
            }
        }
    }

    if (splits > 1) {
        float* mine = partial + (static_cast<size_t>(tile) * splits + z) * PARTIAL + tid * ACC;
#pragma unroll
        for (int i = 0; i < ACC; i += 4) {
            *reinterpret_cast<float4*>(mine + i) = make_float4(acc[i], acc[i + 1], acc[i + 2], acc[i + 3]);
        }
        __threadfence();  // this thread's partial sums before the block's count
        __syncthreads();
        if (tid == 0) {
            last[0] = atomicAdd(counters + tile, 1) == splits - 1;
        }
        __syncthreads();
        if (last[0] == 0) {
            return;
        }
        __threadfence();  // the other blocks' partial sums after their counts
        const float* sums = partial + static_cast<size_t>(tile) * splits * PARTIAL + tid * ACC;
        for (int s = 0; s < splits; s++) {
#pragma unroll
            for (int i = 0; i < ACC; i += 4) {
                const float4 p = dms::load16f_cg(sums + static_cast<size_t>(s) * PARTIAL + i);
                acc[i] = s == 0 ? p.x : acc[i] + p.x;
                acc[i + 1] = s == 0 ? p.y : acc[i + 1] + p.y;
                acc[i + 2] = s == 0 ? p.z : acc[i + 2] + p.z;
                acc[i + 3] = s == 0 ? p.w : acc[i + 3] + p.w;
            }
        }
        if (tid == 0) {
            counters[tile] = 0;  // for the next launch (stream order)
        }
        if (NORM && tid < BN) {  // the token's sum of squares over every split, in z order
            const float* sums = squaresOut + static_cast<size_t>(tile) * splits * BN + tid;
            float total = 0.f;
            for (int s = 0; s < splits; s++) {
                total += dms::load_cg(sums + static_cast<size_t>(s) * BN);
            }
            scaleOf[tid] = wgs_norm_scale(total, k, eps);
        }
    }
    if constexpr (NORM) {
        __syncthreads();  // scaleOf
    }
    // Fragment of thread t (warp v = t / 32, lane g = t % 32 / 4, q = t % 4): acc[4 j + e] is feature (M row)
    // 16 v + g + 8 (e / 2), token (N column) 8 j + 2 q + e % 2.
    const int lane = tid & 31;
    if constexpr (SWIGLU) {
        // Local rows 16 v + g (the gate) and 16 v + g + 8 (the up) are feature 32 tile + 8 v + g (loadW): acc[4 j +
        // e] and acc[4 j + e + 2], e < 2, are its gate and up sums for token 8 j + 2 q + e. Each sum as the plain
        // product writes it (times s with the norm), then dms_swiglu_f32's formula: the same bits as the two launches.
        const int inter = m >> 1;
        const int feature = tile * (DMS_WGS_BM / 2) + (tid >> 5) * 8 + (lane >> 2);
#pragma unroll
        for (int j = 0; j < BN / 8; j++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int token = 8 * j + 2 * (lane & 3) + e;
                if (token < n && feature < inter) {
                    const float gate = NORM ? __fmul_rn(acc[4 * j + e], scaleOf[token]) : acc[4 * j + e];
                    const float up = NORM ? __fmul_rn(acc[4 * j + e + 2], scaleOf[token]) : acc[4 * j + e + 2];
                    c[static_cast<size_t>(token) * ldc + feature] = dms::silu_mul(gate, up);
                }
            }
        }
    } else {
        // c +=: every old value loaded before any store (the compiler keeps a load after the stores before it, so
        // loaded in the stores' loop each would wait for memory in turn: BN / 2 round trips a thread at the end of
        // the launch); the same sums.
        const int feature0 = row0 + (tid >> 5) * 16 + (lane >> 2);
        float old[BN / 2];
#pragma unroll
        for (int j = 0; j < BN / 8; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int token = 8 * j + 2 * (lane & 3) + (e & 1);
                const int feature = feature0 + 8 * (e >> 1);
                old[4 * j + e] = accumulate != 0 && token < n && feature < m
                                     ? c[static_cast<size_t>(token) * ldc + feature]
                                     : 0.f;
            }
        }
#pragma unroll
        for (int j = 0; j < BN / 8; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int token = 8 * j + 2 * (lane & 3) + (e & 1);
                const int feature = feature0 + 8 * (e >> 1);
                if (token < n && feature < m) {
                    float* out = c + static_cast<size_t>(token) * ldc + feature;
                    const float v = NORM ? __fmul_rn(acc[4 * j + e], scaleOf[token]) : acc[4 * j + e];
                    *out = accumulate != 0 ? old[4 * j + e] + v : v;
                }
            }
        }
    }
#else
    __trap();
#endif
}

// Every kernel twice: _n16 (tiles of 16 tokens, for 1 to 16) and _n32 (17 to 32).
#define DMS_MATMUL_WGS(NAME, SPLIT, AT, BN)                                                                       \
    extern "C" __global__ void __launch_bounds__(DMS_WGS_THREADS)                                                  \
        NAME(const AT* __restrict__ a, int lda, const bf16_t* __restrict__ w, float* __restrict__ c, int ldc,     \
             int n, int m, int k, int accumulate, int splits, float* __restrict__ partial,                        \
             int* __restrict__ counters) {                                                                        \
        matmul_wgs<SPLIT, BN>(a, lda, w, c, ldc, n, m, k, accumulate, splits, partial, counters);                 \
    }

#define DMS_MATMUL_WGS_NORM(NAME, BN)                                                                             \
    extern "C" __global__ void __launch_bounds__(DMS_WGS_THREADS)                                                  \
        NAME(const float* __restrict__ x, int ldx, const bf16_t* __restrict__ w, float* __restrict__ c, int ldc,  \
             int n, int m, int k, int accumulate, int splits, float* __restrict__ partial,                        \
             int* __restrict__ counters, const bf16_t* __restrict__ gamma, float eps) {                           \
        matmul_wgs<true, BN, matmul_wgs_stages(true), true>(x, ldx, w, c, ldc, n, m, k, accumulate, splits,       \
                                                            partial, counters, gamma, eps);                       \
    }

// The gate|up product of the fused w1|w3 (2 inter, k) on split activations, ending in SwiGLU: h (n, inter), rows of
// ldh, = silu(x · W1ᵀ) ⊙ (x · W3ᵀ), the grid, splits, workspace and counters of the plain product of the 2 inter rows.
#define DMS_MATMUL_WGS_SWIGLU(NAME, BN)                                                                           \
    extern "C" __global__ void __launch_bounds__(DMS_WGS_THREADS)                                                  \
        NAME(const float* __restrict__ x, int ldx, const bf16_t* __restrict__ w, float* __restrict__ h, int ldh,  \
             int n, int inter, int k, int splits, float* __restrict__ partial, int* __restrict__ counters) {      \
        matmul_wgs<true, BN, matmul_wgs_stages(true), false, true>(x, ldx, w, h, ldh, n, 2 * inter, k, 0, splits, \
                                                                   partial, counters);                            \
    }

// As above on rmsnorm(x), the norm folded in as in dms_matmul_wgs_split_norm_n*.
#define DMS_MATMUL_WGS_SWIGLU_NORM(NAME, BN)                                                                      \
    extern "C" __global__ void __launch_bounds__(DMS_WGS_THREADS)                                                  \
        NAME(const float* __restrict__ x, int ldx, const bf16_t* __restrict__ w, float* __restrict__ h, int ldh,  \
             int n, int inter, int k, int splits, float* __restrict__ partial, int* __restrict__ counters,        \
             const bf16_t* __restrict__ gamma, float eps) {                                                       \
        matmul_wgs<true, BN, matmul_wgs_stages(true), true, true>(x, ldx, w, h, ldh, n, 2 * inter, k, 0, splits,  \
                                                                  partial, counters, gamma, eps);                 \
    }

DMS_MATMUL_WGS(dms_matmul_wgs_bf16_n16, false, bf16_t, 16)
DMS_MATMUL_WGS(dms_matmul_wgs_split_n16, true, float, 16)
DMS_MATMUL_WGS_NORM(dms_matmul_wgs_split_norm_n16, 16)
DMS_MATMUL_WGS_SWIGLU(dms_matmul_wgs_split_swiglu_n16, 16)
DMS_MATMUL_WGS_SWIGLU_NORM(dms_matmul_wgs_split_swiglu_norm_n16, 16)
DMS_MATMUL_WGS(dms_matmul_wgs_bf16_n32, false, bf16_t, 32)
DMS_MATMUL_WGS(dms_matmul_wgs_split_n32, true, float, 32)
DMS_MATMUL_WGS_NORM(dms_matmul_wgs_split_norm_n32, 32)
DMS_MATMUL_WGS_SWIGLU(dms_matmul_wgs_split_swiglu_n32, 32)
DMS_MATMUL_WGS_SWIGLU_NORM(dms_matmul_wgs_split_swiglu_norm_n32, 32)

// The kernels' tile of tokens for n tokens.
static int matmul_wgs_bn(int n) {
    return n <= 16 ? 16 : 32;
}

// How many ways to split k (MatMulKernel.wgsSplits mirrors it), at most 8 with at least 4 tiles of 64 each. A wave is
// matmul_wgs_wave_blocks a multiprocessor. Tiles fewer than a wave: the most splits whose blocks still fit in one
// wave. Otherwise the split whose blocks fill the last of their waves best, the fewest among equals. Measured on the
// H200 (skinny_bench wgs, 2026-11-30), this picks the fastest split of every Qwen3-8B product at 16 tokens but split o
// (3% slower than its best): bf16 blocks run fastest one to a multiprocessor (two fit), the split kernel's, which
// convert their activations between the copies and the wgmma, three to one.
static int matmul_wgs_splits(int m, int k, int multiprocessors, bool split, int n = 16) {
    const long long tiles = (m + DMS_WGS_BM - 1) / DMS_WGS_BM;
    const int kTiles = (k + DMS_WGS_BK - 1) / DMS_WGS_BK;
    const int most = std::max(1, std::min(8, kTiles / 4));
    const long long wave = static_cast<long long>(multiprocessors) * matmul_wgs_wave_blocks(split, matmul_wgs_bn(n));
    if (tiles <= wave) {
        return static_cast<int>(std::max(1LL, std::min<long long>(most, wave / tiles)));
    }
    int best = 1;
    long long bestNum = 0, bestDen = 1;  // the fill of the last wave: blocks / (waves wave), as a fraction
    for (int s = 1; s <= most; s++) {
        const long long blocks = tiles * s;
        const long long den = (blocks + wave - 1) / wave * wave;
        if (blocks * bestDen > bestNum * den) {
            best = s;
            bestNum = blocks;
            bestDen = den;
        }
    }
    return best;
}

template <typename AT>
static cudaError_t launch_matmul_wgs(const AT* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m, int k,
                                     int accumulate, int splits, float* partial, int* counters, cudaStream_t stream,
                                     const bf16_t* gamma = nullptr, float eps = 0.f) {
    constexpr bool split = sizeof(AT) == 4;
    DMS_CHECK(a != nullptr && w != nullptr && c != nullptr);
    DMS_CHECK(n >= 1 && n <= DMS_WGS_BN && m >= 1 && k >= 8 && k <= DMS_MAX_K &&
              k % 8 == 0 && lda >= k && lda % 8 == 0 && ldc >= m);
    DMS_CHECK(dms::aligned16(a) && dms::aligned16(w) && dms::aligned16(gamma));
    const int kTiles = (k + DMS_WGS_BK - 1) / DMS_WGS_BK;
    DMS_CHECK(splits >= 1 && splits <= kTiles);
    DMS_CHECK(splits == 1 || (partial != nullptr && counters != nullptr && dms::aligned16(partial)));
    const long long blocks = static_cast<long long>((m + DMS_WGS_BM - 1) / DMS_WGS_BM) * splits;
    DMS_CHECK(blocks <= 0x7fffffff);
    if (!dms_compute90()) {  // matmul_sm90.cu
        return cudaErrorNotSupported;
    }
    const bool wide = matmul_wgs_bn(n) == 32;
    const int smem = matmul_wgs_smem_bytes(split, matmul_wgs_bn(n));
    const unsigned grid = static_cast<unsigned>(blocks);
    if constexpr (split) {
        if (gamma != nullptr) {
            if (wide) {
                DMS_LAUNCH_SMEM(dms_matmul_wgs_split_norm_n32, grid, DMS_WGS_THREADS, smem, stream, a, lda, w, c, ldc,
                                n, m, k, accumulate, splits, partial, counters, gamma, eps);
            } else {
                DMS_LAUNCH_SMEM(dms_matmul_wgs_split_norm_n16, grid, DMS_WGS_THREADS, smem, stream, a, lda, w, c, ldc,
                                n, m, k, accumulate, splits, partial, counters, gamma, eps);
            }
        } else if (wide) {
            DMS_LAUNCH_SMEM(dms_matmul_wgs_split_n32, grid, DMS_WGS_THREADS, smem, stream, a, lda, w, c, ldc, n, m, k,
                            accumulate, splits, partial, counters);
        } else {
            DMS_LAUNCH_SMEM(dms_matmul_wgs_split_n16, grid, DMS_WGS_THREADS, smem, stream, a, lda, w, c, ldc, n, m, k,
                            accumulate, splits, partial, counters);
        }
    } else if (wide) {
        DMS_LAUNCH_SMEM(dms_matmul_wgs_bf16_n32, grid, DMS_WGS_THREADS, smem, stream, a, lda, w, c, ldc, n, m, k,
                        accumulate, splits, partial, counters);
    } else {
        DMS_LAUNCH_SMEM(dms_matmul_wgs_bf16_n16, grid, DMS_WGS_THREADS, smem, stream, a, lda, w, c, ldc, n, m, k,
                        accumulate, splits, partial, counters);
    }
    return cudaGetLastError();
}

// c (n, m) = a (n, k) bf16 · Wᵀ (or c +=), n <= 32, on the warpgroup tensor cores with k split `splits` ways (partial:
// splits ceil(m / 64) 64 BN floats, BN = 16 for n <= 16 else 32, counters: ceil(m / 64) ints, zero before the first launch; both unused when
// splits == 1); cudaErrorNotSupported on a device other than compute 9.0.
extern "C" cudaError_t dms_matmul_wgs(const bf16_t* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m, int k,
                                      int accumulate, int splits, float* partial, int* counters, cudaStream_t stream) {
    return launch_matmul_wgs(a, lda, w, c, ldc, n, m, k, accumulate, splits, partial, counters, stream);
}

// As dms_matmul_wgs for fp32 activations, each split into a bf16 high part and its bf16 rest.
extern "C" cudaError_t dms_matmul_wgs_split(const float* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m,
                                            int k, int accumulate, int splits, float* partial, int* counters,
                                            cudaStream_t stream) {
    return launch_matmul_wgs(a, lda, w, c, ldc, n, m, k, accumulate, splits, partial, counters, stream);
}

// As dms_matmul_wgs_split with x the residual stream and RMSNorm (weight gamma bf16 (k), 16-byte aligned; eps) folded in:
// c (n, m) = rmsnorm(x) · Wᵀ (or c +=). Split partial: splits ceil(m / 64) (64 + 1) BN floats.
extern "C" cudaError_t dms_matmul_wgs_split_norm(const float* x, int ldx, const bf16_t* w, float* c, int ldc, int n,
                                                 int m, int k, int accumulate, int splits, float* partial,
                                                 int* counters, const bf16_t* gamma, float eps,
                                                 cudaStream_t stream) {
    DMS_CHECK(gamma != nullptr && eps >= 0.f);
    return launch_matmul_wgs(x, ldx, w, c, ldc, n, m, k, accumulate, splits, partial, counters, stream, gamma, eps);
}

// The split product of the 2 inter rows of w1|w3 ending in SwiGLU (gamma null: no norm): launch_matmul_wgs's checks for
// m = 2 inter, h (n, inter) in place of c (no accumulate), the same grid, splits and workspace.
static cudaError_t launch_matmul_wgs_swiglu(const float* x, int ldx, const bf16_t* w, float* h, int ldh, int n,
                                            int inter, int k, int splits, float* partial, int* counters,
                                            cudaStream_t stream, const bf16_t* gamma, float eps) {
    DMS_CHECK(x != nullptr && w != nullptr && h != nullptr);
    DMS_CHECK(n >= 1 && n <= DMS_WGS_BN && inter >= 1 && inter <= 0x3fffffff && k >= 8 && k <= DMS_MAX_K &&
              k % 8 == 0 && ldx >= k && ldx % 8 == 0 && ldh >= inter);
    DMS_CHECK(dms::aligned16(x) && dms::aligned16(w) && dms::aligned16(gamma));
    const int kTiles = (k + DMS_WGS_BK - 1) / DMS_WGS_BK;
    DMS_CHECK(splits >= 1 && splits <= kTiles);
    DMS_CHECK(splits == 1 || (partial != nullptr && counters != nullptr && dms::aligned16(partial)));
    const long long blocks = static_cast<long long>((2 * inter + DMS_WGS_BM - 1) / DMS_WGS_BM) * splits;
    DMS_CHECK(blocks <= 0x7fffffff);
    if (!dms_compute90()) {
        return cudaErrorNotSupported;
    }
    const bool wide = matmul_wgs_bn(n) == 32;
    const int smem = matmul_wgs_smem_bytes(true, matmul_wgs_bn(n));
    const unsigned grid = static_cast<unsigned>(blocks);
    if (gamma != nullptr) {
        if (wide) {
            DMS_LAUNCH_SMEM(dms_matmul_wgs_split_swiglu_norm_n32, grid, DMS_WGS_THREADS, smem, stream, x, ldx, w, h,
                            ldh, n, inter, k, splits, partial, counters, gamma, eps);
        } else {
            DMS_LAUNCH_SMEM(dms_matmul_wgs_split_swiglu_norm_n16, grid, DMS_WGS_THREADS, smem, stream, x, ldx, w, h,
                            ldh, n, inter, k, splits, partial, counters, gamma, eps);
        }
    } else if (wide) {
        DMS_LAUNCH_SMEM(dms_matmul_wgs_split_swiglu_n32, grid, DMS_WGS_THREADS, smem, stream, x, ldx, w, h, ldh, n,
                        inter, k, splits, partial, counters);
    } else {
        DMS_LAUNCH_SMEM(dms_matmul_wgs_split_swiglu_n16, grid, DMS_WGS_THREADS, smem, stream, x, ldx, w, h, ldh, n,
                        inter, k, splits, partial, counters);
    }
    return cudaGetLastError();
}

// h (n, inter) = silu(x · W1ᵀ) ⊙ (x · W3ᵀ) for w = w1|w3 (2 inter, k), x fp32 (n, k) split, n <= 32, into h's rows of
// ldh (gate|up's first half: ldh = 2 inter): dms_matmul_wgs_split of the 2 inter rows then dms_swiglu, bit for bit, in
// one launch. splits, partial and counters as dms_matmul_wgs_split's for m = 2 inter.
extern "C" cudaError_t dms_matmul_wgs_swiglu(const float* x, int ldx, const bf16_t* w, float* h, int ldh, int n,
                                             int inter, int k, int splits, float* partial, int* counters,
                                             cudaStream_t stream) {
    return launch_matmul_wgs_swiglu(x, ldx, w, h, ldh, n, inter, k, splits, partial, counters, stream, nullptr, 0.f);
}

// As dms_matmul_wgs_swiglu on rmsnorm(x), the norm folded in as in dms_matmul_wgs_split_norm: dms_matmul_wgs_split_norm
// of the 2 inter rows then dms_swiglu, bit for bit. Split partial: splits ceil(inter / 32) (64 + 1) BN floats.
extern "C" cudaError_t dms_matmul_wgs_swiglu_norm(const float* x, int ldx, const bf16_t* w, float* h, int ldh, int n,
                                                  int inter, int k, int splits, float* partial, int* counters,
                                                  const bf16_t* gamma, float eps, cudaStream_t stream) {
    DMS_CHECK(gamma != nullptr && eps >= 0.f);
    return launch_matmul_wgs_swiglu(x, ldx, w, h, ldh, n, inter, k, splits, partial, counters, stream, gamma, eps);
}
