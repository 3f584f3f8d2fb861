// matmul_sm90_bulk.cu: the prefill products fed by bulk copies of tile images (sm_90a). Java: MatMulKernel (where the
// 256-thread warpgroup kernel would run with 256-feature tiles and k unsplit, and the weight has its images: prompt
// chunks of the 8B model); CPU: cpu/MatMul.
//
// C (n, m) fp32 = A (n, k) · W (m, k)ᵀ, or C += when accumulate, the same sums in the same order as
// dms_matmul_wg_{bf16,split}_n256 (matmul_sm90.cu), so the same bits:
//   dms_matmul_bk_bf16_n256    A bf16 (dense checkpoints)
//   dms_matmul_bk_split_n256   A fp32, each value its bf16 high part and its bf16 rest (DMS checkpoints)
// The operands are read not as rows but as tile images: the 128-byte-swizzled shared-memory image of each tile the
// kernel multiplies, laid out so that one k tile of one tile row is one contiguous block of global memory.
//   W image: (feature tile f of 256 rows, k tile t of 64) at (f kTiles + t) 32 KB; rows past m and k past k zero.
//            Made once at load (dms_tile_rows_bf16 with 256 rows a tile): a second copy of the layer's weights.
//   A image: (token tile b of 128 rows, k tile t) at (b kTiles + t) A bytes: bf16, 16 KB (dms_tile_rows_bf16 with 128
//            rows a tile), or split, the high image then the rest image, 32 KB (dms_tile_split_f32, the split of
//            dms::split_bf16x2 as the 256-thread kernel makes it); made before each product.
// Why: the 256-thread kernels load their tiles with every thread's 16-byte cp.async and, split, read and convert the
// fp32 activations between their wgmma; the twenty-sixth pass's warp-specialised form, whose producer warpgroup still
// issued each copy and converted, was slower. Here one producer thread fills a stage with two cp.async.bulk copies (the
// A image's k tile, the W image's) counted on the stage's `full` mbarrier (expect_tx), and two consumer warpgroups only
// wait and issue wgmma. On the H200 (2026-12-03, native/bench/bulk_bench.cu, 2048 tokens, Qwen3-8B's products): split
// 350-405 TFLOP/s against the 256-thread kernel's 252-274, bf16 612-759 against 429-497, every output bit for bit.
// Block: 384 threads; warpgroup 0's first thread the producer, warpgroups 1 and 2 the consumers (tokens [0, 64) and
// [64, 128) of the tile), accumulators in registers (128 fp32 a thread). Persistent: grid = min(tiles, blocks asked),
// block b taking tiles b, b + gridDim.x, ... in the 256-thread kernel's grouped raster, the stages and their mbarrier
// phases running on across its tiles (g counts its k tiles). Stages: 3 of 64 KB split, 4 of 48 KB bf16, then the
// mbarriers full[STAGES] (1 arrival: the producer's expect_tx; the copies' bytes complete it) and empty[STAGES]
// (256 arrivals: every consumer thread once its wgmma that read the stage are complete).
// Other architectures: the kernels exist (sm_80 and PTX builds of the fatbin) but trap; Java never launches them there.

#define DMS_BK_BN 256

__host__ __device__ constexpr int matmul_bk_stages(bool split) {
    return split ? 3 : 4;
}

// Bytes of one stage: the A image's k tile (split: high, rest), then the W image's; 1024-byte aligned each.
__host__ __device__ constexpr int matmul_bk_a_bytes(bool split) {
    return (split ? 2 : 1) * DMS_WG_BM * DMS_WG_BK * 2;
}
__host__ __device__ constexpr int matmul_bk_stage_bytes(bool split) {
    return matmul_bk_a_bytes(split) + DMS_BK_BN * DMS_WG_BK * 2;
}
__host__ __device__ constexpr int matmul_bk_smem_bytes(bool split) {
    return matmul_bk_stages(split) * matmul_bk_stage_bytes(split) + 1024 + 2 * matmul_bk_stages(split) * 8;
}
// MatMulKernel.bulkSharedBytes mirrors these (CudaAvailabilityTest checks the Java side).
static_assert(matmul_bk_smem_bytes(true) == 197680 && matmul_bk_smem_bytes(false) == 197696, "bulk");

// Bytes of the image of `rows` rows of k columns in tiles of tileRows rows (x2 split).
__host__ __device__ constexpr long long matmul_bk_image_bytes(long long rows, long long k, int tileRows, bool split) {
    return (rows + tileRows - 1) / tileRows * ((k + DMS_WG_BK - 1) / DMS_WG_BK) * tileRows * DMS_WG_BK * 2 *
           (split ? 2 : 1);
}

namespace dms {
#ifndef DMS_EMU
// mbarrier.arrive.expect_tx: the phase also waits for `bytes` more bytes of asynchronous copies, then this arrival.
DMS_DEVICE void mbarrier_expect_tx(void* bar, unsigned bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(bytes)
                 : "memory");
}
// cp.async.bulk global -> shared of `bytes` (a multiple of 16, both ends 16-byte aligned), its bytes counted on bar.
DMS_DEVICE void bulk_copy(void* dst, const void* src, unsigned bytes, void* bar) {
    asm volatile(
        "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(
            smem_addr(dst)),
        "l"(src), "r"(bytes), "r"(smem_addr(bar))
        : "memory");
}
#else
DMS_DEVICE void mbarrier_expect_tx(void* bar, unsigned bytes) {
    emu::mbarrier_expect_tx(bar, bytes);
}
DMS_DEVICE void bulk_copy(void* dst, const void* src, unsigned bytes, void* bar) {
    emu::bulk_copy(dst, src, bytes, bar);
}
#endif
}  // namespace dms

// rows x k bf16 of src (rows of ld) into its image of tiles of tileRows (128 or 256) rows: grid (ceil(rows /
// tileRows), ceil(k / 64)), block 256; zeros past rows and past k (k % 8 == 0: a 16-byte chunk is all in or out).
extern "C" __global__ void __launch_bounds__(256)
    dms_tile_rows_bf16(const bf16_t* __restrict__ src, int ld, int rows, int k, int tileRows,
                       unsigned char* __restrict__ image) {
    dms::pdl_begin();
    const int f = static_cast<int>(blockIdx.x), t = static_cast<int>(blockIdx.y);
    unsigned char* dst = image + (static_cast<size_t>(f) * gridDim.y + t) * (static_cast<size_t>(tileRows) * 128);
    for (int e = static_cast<int>(threadIdx.x); e < tileRows * 8; e += static_cast<int>(blockDim.x)) {
        const int r = e >> 3, ch = e & 7;
        const int gr = f * tileRows + r, gk = t * DMS_WG_BK + ch * 8;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (gr < rows && gk < k) {
            v = *reinterpret_cast<const uint4*>(src + static_cast<size_t>(gr) * ld + gk);
        }
        *reinterpret_cast<uint4*>(dst + wg_swizzle(r, ch)) = v;
    }
}

// a (n, k) fp32 (rows of lda) into its split image: grid (ceil(n / 128), ceil(k / 64)), block 256; each value its
// bf16 high part and rest as the 256-thread kernel splits it (wg_fetch_f32, wg_store_split), zeros past n and k.
extern "C" __global__ void __launch_bounds__(256)
    dms_tile_split_f32(const float* __restrict__ a, int lda, int n, int k, unsigned char* __restrict__ image) {
    dms::pdl_begin();
    const int b = static_cast<int>(blockIdx.x), t = static_cast<int>(blockIdx.y);
    unsigned char* dst = image + (static_cast<size_t>(b) * gridDim.y + t) * matmul_bk_a_bytes(true);
    float4 v[8];
    wg_fetch_f32(v, a, lda, b * DMS_WG_BM, n, t * DMS_WG_BK, k);
    wg_store_split(dst, dst + DMS_WG_BM * DMS_WG_BK * 2, v);
}

template <bool SPLIT>
__device__ __forceinline__ void matmul_bk(const unsigned char* __restrict__ aImage,
                                          const unsigned char* __restrict__ wImage, float* __restrict__ c, int ldc,
                                          int n, int m, int k, int accumulate) {
    dms::pdl_begin_long();
#if defined(DMS_WGMMA)
    constexpr int BN = DMS_BK_BN;
    constexpr int STAGES = matmul_bk_stages(SPLIT);
    constexpr int STAGE = matmul_bk_stage_bytes(SPLIT);
    constexpr int AB = matmul_bk_a_bytes(SPLIT);
    constexpr int W_BYTES = BN * DMS_WG_BK * 2;
    constexpr int A_TILE = DMS_WG_BM * DMS_WG_BK * 2;  // one bf16 A tile (split: the rest tile follows)
    constexpr int R = BN / 2;                          // accumulators a consumer thread
    DMS_DYNAMIC_SMEM(raw);
    unsigned char* smem = raw + ((1024 - (dms::smem_addr(raw) & 1023)) & 1023);
    uint64_t* full = reinterpret_cast<uint64_t*>(smem + STAGES * STAGE);
    uint64_t* empty = full + STAGES;
    const int wg = threadIdx.x >> 7;
    const int tilesM = (n + DMS_WG_BM - 1) / DMS_WG_BM;
    const int tilesN = (m + BN - 1) / BN;
    const int tiles = tilesM * tilesN;
    const int perGroup = DMS_WG_GROUP * tilesN;
    const int kTiles = (k + DMS_WG_BK - 1) / DMS_WG_BK;
    auto origin = [&](int tile, int& tm, int& tn) {  // the 256-thread kernel's raster
        const int first = tile / perGroup * DMS_WG_GROUP;
        const int rows = min(tilesM - first, DMS_WG_GROUP);
        const int inGroup = tile % perGroup;
        tm = first + inGroup % rows;
        tn = inGroup / rows;
    };

    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) {
            dms::mbarrier_init(&full[s], 1);
            dms::mbarrier_init(&empty[s], 256);
        }
        dms::mbarrier_init_fence();
    }
    __syncthreads();

    if (wg == 0) {
        // Producer: k tile g into stage g % STAGES once the consumers have released its previous tile g - STAGES.
        if (threadIdx.x == 0) {
            int g = 0;
            for (int tile = static_cast<int>(blockIdx.x); tile < tiles; tile += static_cast<int>(gridDim.x)) {
                int tm, tn;
                origin(tile, tm, tn);
                const unsigned char* a = aImage + static_cast<size_t>(tm) * kTiles * AB;
                const unsigned char* w = wImage + static_cast<size_t>(tn) * kTiles * W_BYTES;
                for (int kt = 0; kt < kTiles; kt++, g++) {
                    const int s = g % STAGES;
                    dms::mbarrier_wait(&empty[s], ((g / STAGES) & 1) ^ 1);  // the first round passes at once
                    unsigned char* st = smem + s * STAGE;
                    dms::mbarrier_expect_tx(&full[s], STAGE);
                    dms::bulk_copy(st, a + static_cast<size_t>(kt) * AB, AB, &full[s]);
                    dms::bulk_copy(st + AB, w + static_cast<size_t>(kt) * W_BYTES, W_BYTES, &full[s]);
                }
            }
        }
        return;
    }

    // Consumers: warpgroup cg = wg - 1 the tokens [64 cg, 64 cg + 64) of each tile.
    const int cg = wg - 1;
    const int lane = threadIdx.x & 31;
    const int v = (threadIdx.x >> 5) & 3;
    const bool add = accumulate != 0;
    const bool pairs = ldc % 2 == 0 && (reinterpret_cast<uintptr_t>(c) & 7) == 0;  // c's rows in 8-byte pairs
    int g = 0;
    for (int tile = static_cast<int>(blockIdx.x); tile < tiles; tile += static_cast<int>(gridDim.x)) {
        int tm, tn;
        origin(tile, tm, tn);
        float acc[R];
#pragma unroll
        for (int i = 0; i < R; i++) {
            acc[i] = 0.f;
        }
        for (int kt = 0; kt < kTiles; kt++, g++) {
            const int s = g % STAGES;
            dms::mbarrier_wait(&full[s], (g / STAGES) & 1);
            const unsigned char* st = smem + s * STAGE;
            const uint32_t aAddr = dms::smem_addr(st) + cg * (64 * 128);
            const uint32_t wAddr = dms::smem_addr(st + AB);
            dms::wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < DMS_WG_BK / 16; kk++) {
                // the 256-thread kernel's order: k step kk, the high part then the rest
                const uint64_t descW = dms::wgmma_desc(wAddr + 32 * kk);
                dms::wgmma_m64n256k16(acc, dms::wgmma_desc(aAddr + 32 * kk), descW);
                if constexpr (SPLIT) {
                    dms::wgmma_m64n256k16(acc, dms::wgmma_desc(aAddr + A_TILE + 32 * kk), descW);
                }
            }
            dms::wgmma_commit();
            dms::wgmma_wait<1>();  // this warpgroup's k tile g - 1 is done: its stage goes back to the producer
            if (kt > 0) {
                dms::mbarrier_arrive(&empty[(g - 1) % STAGES]);
            }
        }
        dms::wgmma_wait<0>();
        dms::mbarrier_arrive(&empty[(g - 1) % STAGES]);  // the tile's last stage (kTiles >= 1)
#pragma unroll
        for (int i = 0; i < R; i++) {
            dms::wgmma_hold(acc[i]);
        }
        // The 256-thread kernel's epilogue (its values and sums; wg_store_acc_pairs: paired stores, c +='s old values
        // loaded ahead), warpgroup cg in place of wg.
#if DMS_BK_EPI_J == 0
        wg_store_acc<BN>(acc, c, static_cast<size_t>(ldc), add, n, m, tm * DMS_WG_BM + cg * 64 + v * 16 + (lane >> 2),
                         tn * BN + 2 * (lane & 3));
#else
        wg_store_acc_pairs<BN, DMS_BK_EPI_J>(
            acc, c, static_cast<size_t>(ldc), add, n, m, tm * DMS_WG_BM + cg * 64 + v * 16 + (lane >> 2),
            tn * BN + 2 * (lane & 3), pairs);
#endif
    }
#else
    __trap();
#endif
}

#define DMS_MATMUL_BK(NAME, SPLIT)                                                                                \
    extern "C" __global__ void __launch_bounds__(384, 1)                                                          \
        NAME(const unsigned char* __restrict__ aImage, const unsigned char* __restrict__ wImage,                  \
             float* __restrict__ c, int ldc, int n, int m, int k, int accumulate) {                               \
        matmul_bk<SPLIT>(aImage, wImage, c, ldc, n, m, k, accumulate);                                            \
    }
DMS_MATMUL_BK(dms_matmul_bk_bf16_n256, false)
DMS_MATMUL_BK(dms_matmul_bk_split_n256, true)

// W (m, k) bf16 into its image (matmul_bk_image_bytes(m, k, 256, false) bytes at `image`, 16-byte aligned).
extern "C" cudaError_t dms_tile_weights(const bf16_t* w, int m, int k, unsigned char* image, cudaStream_t stream) {
    DMS_CHECK(w != nullptr && image != nullptr && m >= 1 && k >= 8 && k <= DMS_MAX_K && k % 8 == 0);
    DMS_CHECK(dms::aligned16(w) && dms::aligned16(image));
    DMS_CHECK((m + DMS_BK_BN - 1) / DMS_BK_BN <= 0x7fffffff / ((k + DMS_WG_BK - 1) / DMS_WG_BK));
    const dim3 grid((m + DMS_BK_BN - 1) / DMS_BK_BN, (k + DMS_WG_BK - 1) / DMS_WG_BK);
    DMS_CHECK(grid.y <= 65535);
    DMS_LAUNCH(dms_tile_rows_bf16, grid, 256, 0, stream, w, k, m, k, DMS_BK_BN, image);
    return cudaGetLastError();
}

// The bulk kernel on both images (arguments checked by the caller).
static cudaError_t launch_matmul_bk_images(bool split, const unsigned char* aImage, const unsigned char* wImage,
                                           float* c, int ldc, int n, int m, int k, int accumulate, int blocks,
                                           cudaStream_t stream) {
    const long long tiles = static_cast<long long>((n + DMS_WG_BM - 1) / DMS_WG_BM) * ((m + DMS_BK_BN - 1) / DMS_BK_BN);
    const dim3 grid(static_cast<unsigned>(tiles < blocks ? tiles : blocks));
    const int smem = matmul_bk_smem_bytes(split);
    if (split) {
        DMS_LAUNCH_SMEM(dms_matmul_bk_split_n256, grid, 384, smem, stream, aImage, wImage, c, ldc, n, m, k,
                        accumulate);
    } else {
        DMS_LAUNCH_SMEM(dms_matmul_bk_bf16_n256, grid, 384, smem, stream, aImage, wImage, c, ldc, n, m, k,
                        accumulate);
    }
    return cudaGetLastError();
}

// c (n, m) = a (n, k) · Wᵀ (or c +=) from W's image: a's image made into aImage (matmul_bk_image_bytes(n, k, 128,
// split) bytes), then the bulk kernel on at most `blocks` blocks (a device's multiprocessors).
// cudaErrorNotSupported on a device other than compute 9.0.
template <typename AT>
static cudaError_t launch_matmul_bk(const AT* a, int lda, const unsigned char* wImage, unsigned char* aImage, float* c,
                                   int ldc, int n, int m, int k, int accumulate, int blocks, cudaStream_t stream) {
    constexpr bool split = sizeof(AT) == 4;
    DMS_CHECK(a != nullptr && wImage != nullptr && aImage != nullptr && c != nullptr && blocks >= 1);
    DMS_CHECK(n >= 1 && m >= 1 && k >= 8 && k <= DMS_MAX_K && k % 8 == 0 && lda >= k && lda % 8 == 0 && ldc >= m);
    DMS_CHECK(dms::aligned16(a) && dms::aligned16(wImage) && dms::aligned16(aImage));
    const long long kTiles = (k + DMS_WG_BK - 1) / DMS_WG_BK;
    DMS_CHECK(kTiles <= 65535 && static_cast<long long>((n + DMS_WG_BM - 1) / DMS_WG_BM) * ((m + DMS_BK_BN - 1) / DMS_BK_BN) <= 0x7fffffff);
    if (!dms_compute90()) {
        return cudaErrorNotSupported;
    }
    const dim3 tileGrid((n + DMS_WG_BM - 1) / DMS_WG_BM, static_cast<unsigned>(kTiles));
    if constexpr (split) {
        DMS_LAUNCH(dms_tile_split_f32, tileGrid, 256, 0, stream, a, lda, n, k, aImage);
    } else {
        DMS_LAUNCH(dms_tile_rows_bf16, tileGrid, 256, 0, stream, a, lda, n, k, DMS_WG_BM, aImage);
    }
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) {
        return e;
    }
    return launch_matmul_bk_images(split, aImage, wImage, c, ldc, n, m, k, accumulate, blocks, stream);
}

extern "C" cudaError_t dms_matmul_bk(const bf16_t* a, int lda, const unsigned char* wImage, unsigned char* aImage,
                                     float* c, int ldc, int n, int m, int k, int accumulate, int blocks,
                                     cudaStream_t stream) {
    return launch_matmul_bk(a, lda, wImage, aImage, c, ldc, n, m, k, accumulate, blocks, stream);
}

// As dms_matmul_bk for fp32 activations, each split into a bf16 high part and its bf16 rest.
extern "C" cudaError_t dms_matmul_bk_split(const float* a, int lda, const unsigned char* wImage, unsigned char* aImage,
                                           float* c, int ldc, int n, int m, int k, int accumulate, int blocks,
                                           cudaStream_t stream) {
    return launch_matmul_bk(a, lda, wImage, aImage, c, ldc, n, m, k, accumulate, blocks, stream);
}

// As dms_matmul_bk (split: dms_matmul_bk_split) with a's image already made (matmul_bk_image_bytes(n, k, 128, split)
// bytes at aImage), by its producer (dms_rmsnorm_image, dms_swiglu_image) or a tile launch: the bulk kernel alone.
extern "C" cudaError_t dms_matmul_bk_image(const unsigned char* aImage, int split, const unsigned char* wImage, float* c,
                                           int ldc, int n, int m, int k, int accumulate, int blocks,
                                           cudaStream_t stream) {
    DMS_CHECK(aImage != nullptr && wImage != nullptr && c != nullptr && blocks >= 1);
    DMS_CHECK(n >= 1 && m >= 1 && k >= 8 && k <= DMS_MAX_K && k % 8 == 0 && ldc >= m);
    DMS_CHECK(dms::aligned16(wImage) && dms::aligned16(aImage));
    const long long kTiles = (k + DMS_WG_BK - 1) / DMS_WG_BK;
    DMS_CHECK(kTiles <= 65535 && static_cast<long long>((n + DMS_WG_BM - 1) / DMS_WG_BM) * ((m + DMS_BK_BN - 1) / DMS_BK_BN) <= 0x7fffffff);
    if (!dms_compute90()) {
        return cudaErrorNotSupported;
    }
    return launch_matmul_bk_images(split != 0, aImage, wImage, c, ldc, n, m, k, accumulate, blocks, stream);
}
