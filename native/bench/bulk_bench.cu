// bulk_bench.cu: can the prefill products feed their tensor cores from bulk copies of pre-laid tiles? The 256-thread
// warpgroup kernels (dms_matmul_wg_*_n256, matmul_sm90.cu) load their tiles with every thread's cp.async and, split,
// convert the fp32 activations in the loop; the twenty-sixth pass's warp-specialised form, whose producer warpgroup
// still issued each 16-byte copy and converted, was 15-35% slower. Here the operands are laid out in global memory as
// the shared-memory image of each tile (128-byte swizzle included): W as (feature tile of 256, k tile of 64) images of
// 32 KB, the activations as (token tile of 128, k tile) images of 16 KB, split ones as a high image and a rest image
// side by side (32 KB). One producer thread then fills a stage with two cp.async.bulk copies counted on an mbarrier
// (no tensor map: JCuda 12.6 has no cuTensorMapEncodeTiled), and two consumer warpgroups only issue wgmma, in the
// 256-thread kernels' order (k step, high then rest), so the same sums: every output is compared bit for bit with
// dms_matmul_wg_{split,}_n256's. Not part of the fatbin; sm_90a only.
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o bulk_bench native/bench/bulk_bench.cu
//   ./bulk_bench [n=2048]
// Output, one JSON line each: product shape, variant, µs a launch (10 launches a graph over rotating copies of W, the
// mean of 4 replays), TFLOP/s of 2 n m k, and how many outputs differ from the 256-thread kernel's.
#include "../all.cu"
#include "bench_util.cuh"

#include <cmath>

namespace bk {

constexpr int BM = 128, BN = 256, BK = 64;
constexpr int A_TILE = BM * BK * 2;  // 16 KB: one bf16 activation tile image
constexpr int W_TILE = BN * BK * 2;  // 32 KB

__host__ __device__ constexpr int a_bytes(bool split) {
    return (split ? 2 : 1) * A_TILE;
}
__host__ __device__ constexpr int stage_bytes(bool split) {
    return a_bytes(split) + W_TILE;
}
__host__ __device__ constexpr int stages(bool split) {
    return split ? 3 : 4;
}
__host__ __device__ constexpr int smem_bytes(bool split) {
    return stages(split) * stage_bytes(split) + 1024;
}

// The mbarrier and bulk-copy primitives are the backend's (dms::, matmul_sm90.cu and matmul_sm90_bulk.cu).

// W (m, k) bf16 into tile images: image (f, t) at ((f kTiles + t) W_TILE), rows f 256 .. +256, k t 64 .. +64.
// m % 256 == 0, k % 64 == 0 here (Qwen3-8B's products). grid (m / 256, k / 64), block 256.
__global__ void tile_rows_bf16(const bf16_t* __restrict__ src, int k, int rows, unsigned char* __restrict__ dst) {
    const int f = blockIdx.x, t = blockIdx.y, kTiles = gridDim.y;
    unsigned char* image = dst + (static_cast<size_t>(f) * kTiles + t) * (rows * BK * 2);
    for (int e = threadIdx.x; e < rows * 8; e += blockDim.x) {
        const int r = e >> 3, ch = e & 7;
        *reinterpret_cast<uint4*>(image + wg_swizzle(r, ch)) =
            *reinterpret_cast<const uint4*>(src + static_cast<size_t>(f * rows + r) * k + t * BK + ch * 8);
    }
}

// A (n, k) fp32 into split images: image (b, t) at ((b kTiles + t) 2 A_TILE), the high tile then the rest tile,
// each value split as the 256-thread kernel splits it (wg_fetch_f32, wg_store_split). grid (n / 128, k / 64), 256.
__global__ void tile_split(const float* __restrict__ a, int k, unsigned char* __restrict__ dst) {
    const int b = blockIdx.x, t = blockIdx.y, kTiles = gridDim.y;
    unsigned char* image = dst + (static_cast<size_t>(b) * kTiles + t) * (2 * A_TILE);
    float4 v[8];
    wg_fetch_f32(v, a, k, b * BM, 1 << 30, t * BK, k);
    wg_store_split(image, image + A_TILE, v);
}

// C (n, m) fp32 = A · Wᵀ from the images. 384 threads: warpgroup 0's first thread the producer, warpgroups 1 and 2
// the consumers (tokens [0, 64) and [64, 128) of the tile). PERSIST: gridDim.x blocks, each taking every gridDim.x-th
// tile in the 256-thread kernel's grouped raster, the stages' phases running on across tiles.
template <bool SPLIT, bool PERSIST>
__global__ void __launch_bounds__(384, 1)
    bulk_mm(const unsigned char* __restrict__ aImg, const unsigned char* __restrict__ wImg, float* __restrict__ c,
            int n, int m, int k) {
    constexpr int S = stages(SPLIT);
    constexpr int STAGE = stage_bytes(SPLIT);
    constexpr int AB = a_bytes(SPLIT);
    DMS_DYNAMIC_SMEM(raw);
    unsigned char* smem = raw + ((1024 - (dms::smem_addr(raw) & 1023)) & 1023);
    __shared__ __align__(8) uint64_t full[S], empty[S];
    if (threadIdx.x == 0) {
        for (int s = 0; s < S; s++) {
            dms::mbarrier_init(&full[s], 1);
            dms::mbarrier_init(&empty[s], 256);
        }
        dms::mbarrier_init_fence();
    }
    __syncthreads();
    const int tilesM = n / BM, tilesN = m / BN, kTiles = k / BK;
    const int tiles = tilesM * tilesN;
    const int perGroup = DMS_WG_GROUP * tilesN;
    const int wg = threadIdx.x >> 7;
    int g = 0;  // this block's k tiles so far, over its tiles: stage g % S, round g / S
    for (int tile = blockIdx.x; tile < tiles; tile += PERSIST ? gridDim.x : tiles) {
        const int first = tile / perGroup * DMS_WG_GROUP;
        const int rows = min(tilesM - first, DMS_WG_GROUP);
        const int inGroup = tile % perGroup;
        const int tm = first + inGroup % rows, tn = inGroup / rows;
        if (wg == 0) {
            if (threadIdx.x == 0) {
                const unsigned char* aSrc = aImg + static_cast<size_t>(tm) * kTiles * AB;
                const unsigned char* wSrc = wImg + static_cast<size_t>(tn) * kTiles * W_TILE;
                for (int kt = 0; kt < kTiles; kt++, g++) {
                    const int s = g % S;
                    dms::mbarrier_wait(&empty[s], ((g / S) & 1) ^ 1);  // round 0: at once
                    unsigned char* st = smem + s * STAGE;
                    dms::mbarrier_expect_tx(&full[s], STAGE);
                    dms::bulk_copy(st, aSrc + static_cast<size_t>(kt) * AB, AB, &full[s]);
                    dms::bulk_copy(st + AB, wSrc + static_cast<size_t>(kt) * W_TILE, W_TILE, &full[s]);
                }
            }
            continue;
        }
        float acc[128];
#pragma unroll
        for (int i = 0; i < 128; i++) {
            acc[i] = 0.f;
        }
        int prev = -1;
        for (int kt = 0; kt < kTiles; kt++, g++) {
            const int s = g % S;
            dms::mbarrier_wait(&full[s], (g / S) & 1);
            const uint32_t base = dms::smem_addr(smem + s * STAGE);
            const uint32_t aAddr = base + (wg - 1) * (64 * 128);
            const uint32_t wAddr = base + AB;
            dms::wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < BK / 16; kk++) {
                const uint64_t descW = dms::wgmma_desc(wAddr + 32 * kk);
                dms::wgmma_m64n256k16(acc, dms::wgmma_desc(aAddr + 32 * kk), descW);
                if constexpr (SPLIT) {
                    dms::wgmma_m64n256k16(acc, dms::wgmma_desc(aAddr + A_TILE + 32 * kk), descW);
                }
            }
            dms::wgmma_commit();
            dms::wgmma_wait<1>();  // this warpgroup's previous k tile is done: its stage goes back
            if (prev >= 0) {
                dms::mbarrier_arrive(&empty[prev]);
            }
            prev = s;
        }
        dms::wgmma_wait<0>();
        if (prev >= 0) {
            dms::mbarrier_arrive(&empty[prev]);
        }
#pragma unroll
        for (int i = 0; i < 128; i++) {
            dms::wgmma_hold(acc[i]);
        }
        const int t = threadIdx.x - 128;
        const int lane = t & 31, v = (t >> 5) & 3;
        wg_store_acc<256>(acc, c, static_cast<size_t>(m), false, n, m, tm * BM + (wg - 1) * 64 + v * 16 + (lane >> 2),
                          tn * BN + 2 * (lane & 3));
    }
}

}  // namespace bk

static int differ(const float* x, const float* y, size_t count) {
    std::vector<float> a(count), b(count);
    CK(cudaMemcpy(a.data(), x, count * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(b.data(), y, count * 4, cudaMemcpyDeviceToHost));
    int d = 0;
    for (size_t e = 0; e < count; e++) {
        d += std::memcmp(&a[e], &b[e], 4) != 0;
    }
    return d;
}

int main(int argc, char** argv) {
    int n = 2048;
    forEachOption(argc, argv, [&](const std::string& key, const char* v) {
        if (key == "n") {
            n = std::atoi(v);
            return n >= 128 && n % 128 == 0;
        }
        return false;
    });
    cudaStream_t stream;
    CK(cudaStreamCreate(&stream));
    int sms = 0;
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    struct Shape {
        const char* name;
        int m, k;
    } shapes[] = {{"qkv", 6144, 4096}, {"o", 4096, 4096}, {"gate_up", 24576, 4096}, {"down", 4096, 12288}};
    const int maxK = 12288, maxM = 24576;
    const size_t pool = size_t(1600) << 20;  // W copies, past the L2 many times over
    bf16_t* w;
    unsigned char* wImg;
    CK(cudaMalloc(&w, pool));
    CK(cudaMalloc(&wImg, pool));
    fill_bf16<<<1024, 256, 0, stream>>>(w, pool / 2, 0x9e3779b9u);
    float* a32;
    bf16_t* a16;
    unsigned char* aSplit;
    unsigned char* aBf16;
    CK(cudaMalloc(&a32, size_t(n) * maxK * 4));
    CK(cudaMalloc(&a16, size_t(n) * maxK * 2));
    CK(cudaMalloc(&aSplit, size_t(n) * maxK * 4));
    CK(cudaMalloc(&aBf16, size_t(n) * maxK * 2));
    fill_bf16<<<1024, 256, 0, stream>>>(a16, size_t(n) * maxK, 0x1234567u);
    {
        std::vector<float> host(size_t(n) * maxK);
        unsigned x = 777;
        for (auto& v : host) {
            x = x * 1664525u + 1013904223u;
            v = (static_cast<int>(x >> 8) - (1 << 23)) * 0x1.0p-23f * (1.0f + (x & 7));
        }
        CK(cudaMemcpy(a32, host.data(), host.size() * 4, cudaMemcpyHostToDevice));
    }
    float *ref, *out;
    CK(cudaMalloc(&ref, size_t(n) * maxM * 4));
    CK(cudaMalloc(&out, size_t(n) * maxM * 4));
    const int smemS = bk::smem_bytes(true), smemB = bk::smem_bytes(false);
    CK(cudaFuncSetAttribute(bk::bulk_mm<true, false>, cudaFuncAttributeMaxDynamicSharedMemorySize, smemS));
    CK(cudaFuncSetAttribute(bk::bulk_mm<true, true>, cudaFuncAttributeMaxDynamicSharedMemorySize, smemS));
    CK(cudaFuncSetAttribute(bk::bulk_mm<false, false>, cudaFuncAttributeMaxDynamicSharedMemorySize, smemB));
    CK(cudaFuncSetAttribute(bk::bulk_mm<false, true>, cudaFuncAttributeMaxDynamicSharedMemorySize, smemB));
    for (const Shape& s : shapes) {
        const size_t wBytes = size_t(s.m) * s.k * 2;
        const int copies = static_cast<int>(std::max<size_t>(1, std::min<size_t>(pool / wBytes, 8)));
        for (int i = 0; i < copies; i++) {
            bk::tile_rows_bf16<<<dim3(s.m / bk::BN, s.k / bk::BK), 256, 0, stream>>>(
                w + i * (wBytes / 2), s.k, bk::BN, wImg + i * wBytes);
        }
        bk::tile_split<<<dim3(n / bk::BM, s.k / bk::BK), 256, 0, stream>>>(a32, s.k, aSplit);
        bk::tile_rows_bf16<<<dim3(n / bk::BM, s.k / bk::BK), 256, 0, stream>>>(a16, s.k, bk::BM, aBf16);
        CK(cudaStreamSynchronize(stream));
        CK(cudaGetLastError());
        const int tiles = (n / bk::BM) * (s.m / bk::BN);
        for (int v = 0; v < 6; v++) {
            static const char* names[] = {"wg split n256", "bulk split", "bulk split persistent",
                                          "wg bf16 n256",  "bulk bf16",  "bulk bf16 persistent"};
            const bool split = v < 3;
            const int kind = v % 3;  // 0 the 256-thread kernel, 1 bulk, 2 bulk persistent
            const int grid = kind == 2 ? std::min(tiles, sms) : tiles;
            const auto launch = [&](int i, float* dst) {
                const bf16_t* wi = w + size_t(i) * (wBytes / 2);
                const unsigned char* wim = wImg + size_t(i) * wBytes;
                if (kind == 0) {
                    if (split) {
                        CK(dms_matmul_wg_split(a32, s.k, wi, dst, s.m, n, s.m, s.k, 0, 256, 1, nullptr, stream));
                    } else {
                        CK(dms_matmul_wg(a16, s.k, wi, dst, s.m, n, s.m, s.k, 0, 256, 1, nullptr, stream));
                    }
                } else if (split) {
                    (kind == 2 ? bk::bulk_mm<true, true> : bk::bulk_mm<true, false>)<<<grid, 384, smemS, stream>>>(
                        aSplit, wim, dst, n, s.m, s.k);
                } else {
                    (kind == 2 ? bk::bulk_mm<false, true> : bk::bulk_mm<false, false>)<<<grid, 384, smemB, stream>>>(
                        aBf16, wim, dst, n, s.m, s.k);
                }
            };
            float* dst = kind == 0 ? ref : out;
            launch(0, dst);  // outside the capture: the launcher's cudaFuncSetAttribute
            CK(cudaStreamSynchronize(stream));
            CK(cudaGetLastError());
            const float us = timeGraph(stream, [&](int i) { launch(i % copies, dst); }, 10);
            CK(cudaGetLastError());
            CK(cudaMemset(dst, 0xff, size_t(n) * s.m * 4));  // poison, then copy 0 once more for the comparison
            launch(0, dst);
            CK(cudaStreamSynchronize(stream));
            const int d = kind == 0 ? 0 : differ(ref, out, size_t(n) * s.m);
            std::printf("{\"what\":\"prefill\",\"n\":%d,\"shape\":\"%s\",\"m\":%d,\"k\":%d,\"variant\":\"%s\","
                        "\"grid\":%d,\"us\":%.1f,\"TFLOPs\":%.1f,\"differ_from_wg\":%d}\n",
                        n, s.name, s.m, s.k, names[v], grid, us, 2.0 * n * s.m * s.k / us / 1e6, d);
            std::fflush(stdout);
        }
    }
    return 0;
}
