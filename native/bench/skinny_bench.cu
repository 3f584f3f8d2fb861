// skinny_bench.cu: times variants of the skinny decode-batch product (matmul.cu) at Qwen3-8B's shapes, to choose
// among them on the GPU host without the JVM. Not part of the fatbin.
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o skinny_bench native/bench/skinny_bench.cu
//   ./skinny_bench [n ...]          (default n = 16)
// Each variant runs 50 launches captured in a CUDA graph, replayed 4 times, over rotating copies of W that together
// exceed the 50 MB L2 (as in a decode step, where every product reads other weights); the figure is W's bytes over
// the time (TB/s), next to a device-to-device copy measured the same way. Outputs are compared with the default
// variant's, bit for bit.
//   ./skinny_bench [n ...] then, for each n <= 64, the split skinny kernels (fp32 activations) and, last, the tiled
//   prefill products at 2048 tokens (mma.sync and wgmma, bf16 and split) in TFLOP/s.
//   ./skinny_bench prefill          the copy ceiling and the prefill products only.
#include "../all.cu"
#include "bench_util.cuh"
#include "skinny_cp.cuh"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <algorithm>
#include <cstring>
#include <vector>

template <int MT, int NT, bool PIPE, int PU>
__global__ void __launch_bounds__(DMS_SKINNY_WARPS * 32)
    variant(const bf16_t* __restrict__ a, int lda, const bf16_t* __restrict__ w, float* __restrict__ c, int ldc, int n,
            int m, int k, int accumulate) {
    matmul_skinny<MT, NT, PIPE, false, PU>(a, lda, w, c, ldc, n, m, k, accumulate);
}

// The split skinny kernels (fp32 activations).
template <int MT, int NT>
__global__ void __launch_bounds__(DMS_SKINNY_WARPS * 32)
    split_variant(const float* __restrict__ a, int lda, const bf16_t* __restrict__ w, float* __restrict__ c, int ldc,
                  int n, int m, int k, int accumulate) {
    matmul_skinny<MT, NT, true, true, 2>(a, lda, w, c, ldc, n, m, k, accumulate);
}
typedef void (*SplitKernel)(const float*, int, const bf16_t*, float*, int, int, int, int, int);

typedef void (*Kernel)(const bf16_t*, int, const bf16_t*, float*, int, int, int, int, int);

struct Variant {
    const char* name;
    Kernel kernel;
    int nt;
    int smem;  // dynamic shared memory (the cp.async variants)
};

// Two device outputs of count floats compared: how many differ in their bits, and the largest difference relative to
// the largest |reference|.
struct Comparison {
    int differ = 0;
    double maxRel = 0;
};
static Comparison compare(const float* reference, const float* other, size_t count) {
    std::vector<float> x(count), y(count);
    CK(cudaMemcpy(x.data(), reference, count * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(y.data(), other, count * 4, cudaMemcpyDeviceToHost));
    Comparison r;
    double maxDiff = 0, maxRef = 0;
    for (size_t e = 0; e < count; e++) {
        r.differ += std::memcmp(&x[e], &y[e], 4) != 0;
        maxDiff = std::max(maxDiff, std::fabs(double(x[e]) - y[e]));
        maxRef = std::max(maxRef, std::fabs(double(x[e])));
    }
    r.maxRel = maxRef > 0 ? maxDiff / maxRef : 0.0;
    return r;
}

template <int MT>
static std::vector<Variant> variants() {
    std::vector<Variant> v = {
        {"p_n4_pu2 (default, m >= 8192)", variant<MT, 4, true, 2>, 4, 0},
        {"p_n2_pu2 (default, small m)", variant<MT, 2, true, 2>, 2, 0},
        {"n4_u4 (single-buffered)", variant<MT, 4, false, 2>, 4, 0},
        {"p_n2_pu4", variant<MT, 2, true, 4>, 2, 0},
    };
    if (MT == 1) {  // skinny_cp.cuh: W through shared memory by cp.async (n <= 16)
        v.push_back({"cp_n2_s4_k512", skinny_cp<2, 4, 512>, 2, skinny_cp_smem<2, 4, 512>()});
        v.push_back({"cp_n2_s6_k256", skinny_cp<2, 6, 256>, 2, skinny_cp_smem<2, 6, 256>()});
        v.push_back({"cp_n4_s4_k256", skinny_cp<4, 4, 256>, 4, skinny_cp_smem<4, 4, 256>()});
        v.push_back({"cp_n4_s3_k512", skinny_cp<4, 3, 512>, 4, skinny_cp_smem<4, 3, 512>()});
        v.push_back({"cp_n1_s4_k1024", skinny_cp<1, 4, 1024>, 1, skinny_cp_smem<1, 4, 1024>()});
        v.push_back({"cp_n1_s8_k512", skinny_cp<1, 8, 512>, 1, skinny_cp_smem<1, 8, 512>()});
    }
    for (const Variant& x : v) {
        if (x.smem > 48 * 1024) {
            CK(cudaFuncSetAttribute(x.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, x.smem));
        }
    }
    return v;
}

struct Shape {
    const char* name;
    int m, k;
};

// count fp32 activations on the device, varied and finite in [-1, 1) (the same sequence every run).
static float* randomActivations(size_t count) {
    std::vector<float> host(count);
    unsigned x = 777;
    for (auto& v : host) {
        x = x * 1664525u + 1013904223u;
        v = (static_cast<int>(x >> 8) - (1 << 23)) * 0x1.0p-23f;
    }
    float* dev;
    CK(cudaMalloc(&dev, count * 4));
    CK(cudaMemcpy(dev, host.data(), count * 4, cudaMemcpyHostToDevice));
    return dev;
}

// How many copies of a W of wBytes the decode-product timings rotate over: past 400 MB in all (8 L2s), within the pool.
static int rotatingCopies(size_t pool, size_t wBytes) {
    return static_cast<int>(std::max<size_t>(1, std::min<size_t>(pool / wBytes, 400 * (1 << 20) / wBytes + 1)));
}

// The warpgroup decode product at other pipeline depths than the launcher's.
template <bool SPLIT, int STAGES>
__global__ void __launch_bounds__(DMS_WGS_THREADS)
    wgs_stages(const void* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m, int k, int accumulate,
               int splits, float* partial, int* counters) {
    matmul_wgs<SPLIT, 16, STAGES>(a, lda, w, c, ldc, n, m, k, accumulate, splits, partial, counters);
}
typedef void (*WgsKernel)(const void*, int, const bf16_t*, float*, int, int, int, int, int, int, float*, int*);

static void launchWgsStages(bool split, int stages, const void* a, int lda, const bf16_t* w, float* c, int ldc, int n,
                            int m, int k, int splits, float* partial, int* counters, cudaStream_t stream) {
    WgsKernel kernel = split ? (stages == 8 ? wgs_stages<true, 8> : wgs_stages<true, 12>)
                             : (stages == 7 ? wgs_stages<false, 7> : wgs_stages<false, 16>);
    const int smem = matmul_wgs_smem_bytes(split, 16, stages);
    CK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    const int blocks = (m + DMS_WGS_BM - 1) / DMS_WGS_BM * splits;
    kernel<<<blocks, DMS_WGS_THREADS, smem, stream>>>(a, lda, w, c, ldc, n, m, k, 0, splits, partial, counters);
    CK(cudaGetLastError());
}

// ./skinny_bench wgs [n ...]: at each n <= 32 and shape, the skinny kernel the launcher takes (matmul.cu, mma.sync,
// W into registers) against the warpgroup decode product (matmul_sm90_skinny.cu) with k split 1, 2, 3, 4, 6, 8 ways
// and the launcher's choice, bf16 and split activations; TB/s of W as above. The outputs differ from the skinny
// kernel's in their bits (another summation order): max_rel is the largest difference over the largest |value|.
static void benchWgs(cudaStream_t stream, bf16_t* w, size_t pool, const std::vector<int>& ns, const Shape* shapes,
                     int shapeCount) {
    const int maxK = 12288;
    bf16_t* a;
    float* ref;
    float* out;
    float* partial;
    int* counters;
    CK(cudaMalloc(&a, size_t(64) * maxK * 2));
    CK(cudaMemcpy(a, w, size_t(64) * maxK * 2, cudaMemcpyDeviceToDevice));
    float* af = randomActivations(size_t(64) * maxK);
    CK(cudaMalloc(&ref, size_t(64) * 151936 * 4));
    CK(cudaMalloc(&out, size_t(64) * 151936 * 4));
    float* workspace;  // the warpgroup kernel's split-K partial sums: up to 16 splits of 64 x 151936
    CK(cudaMalloc(&workspace, size_t(16) * 64 * 151936 * 4));
    const int maxTiles = (151936 + 63) / 64;
    CK(cudaMalloc(&partial, size_t(8) * maxTiles * 64 * 32 * 4));
    CK(cudaMalloc(&counters, size_t(maxTiles) * 4));
    CK(cudaMemset(counters, 0, size_t(maxTiles) * 4));
    int sms = 0;
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    // One variant: launched once outside the capture (the launchers' cudaFuncSetAttribute), timed over the rotating
    // copies of W, launched again and compared with the reference (the skinny kernel's output, unless it is that one).
    const auto measure = [&](const Shape& s, int n, bool split, const std::function<void(const bf16_t*)>& launch,
                             bool reference, const char* variant, int splits) {
        const size_t wBytes = size_t(s.m) * s.k * 2;
        const int copies = rotatingCopies(pool, wBytes);
        launch(w);
        CK(cudaStreamSynchronize(stream));
        float us = timeGraph(stream, [&](int i) { launch(w + (size_t(i) % copies) * size_t(s.m) * s.k); }, 50);
        launch(w);
        CK(cudaStreamSynchronize(stream));
        const Comparison cmp = reference ? Comparison() : compare(ref, out, size_t(n) * s.m);
        std::printf("{\"what\":\"wgs\",\"n\":%d,\"act\":\"%s\",\"shape\":\"%s\",\"m\":%d,\"k\":%d,\"variant\":\"%s\","
                    "\"splits\":%d,\"us\":%.2f,\"TBps\":%.3f,\"differ\":%d,\"max_rel\":%.3g}\n", n,
                    split ? "split" : "bf16", s.name, s.m, s.k, variant, splits, us, wBytes / us / 1e6, cmp.differ,
                    cmp.maxRel);
        std::fflush(stdout);
    };
    for (int n : ns) {
        if (n > 64) {
            continue;
        }
        if (n > 32) {  // 33 to 64 tokens: the skinny kernel against the warpgroup kernel with k split
            for (int split : {1, 0}) {
                for (int si = 0; si < shapeCount; si++) {
                    const Shape& s = shapes[si];
                    const int tiles = s.m / 32 < 2 * sms ? 2 : 4;  // MatMulKernel.skinnyTiles
                    // MatMulKernel.wgSplits, tiles of 128 features: the most splits in one wave; where the tiles
                    // fill one wave and part of a second, 2 if that fills the last wave better
                    const int wgTiles = (s.m + 127) / 128;
                    const int most = (s.k + 63) / 64 / 4;
                    const int rule = wgTiles < sms ? std::max(1, std::min(std::min(most, 16), sms / wgTiles))
                                     : wgTiles < 2 * sms && most >= 2 &&
                                               2 * wgTiles * ((wgTiles + sms - 1) / sms) >
                                                       wgTiles * ((2 * wgTiles + sms - 1) / sms)
                                         ? 2 : 1;
                    for (int splits : {0, rule, 1, 2, 4, 8}) {  // 0: the skinny kernel
                        float* dst = splits == 0 ? ref : out;
                        const auto launch = [&](const bf16_t* wi) {
                            if (splits == 0) {
                                CK(split ? dms_matmul_skinny_split(af, s.k, wi, dst, s.m, n, s.m, s.k, 0, tiles, 1,
                                                                   stream)
                                         : dms_matmul_skinny(a, s.k, wi, dst, s.m, n, s.m, s.k, 0, tiles, 1, stream));
                            } else {
                                CK(split ? dms_matmul_wg_split(af, s.k, wi, dst, s.m, n, s.m, s.k, 0, 128, splits,
                                                               workspace, stream)
                                         : dms_matmul_wg(a, s.k, wi, dst, s.m, n, s.m, s.k, 0, 128, splits, workspace,
                                                         stream));
                            }
                        };
                        measure(s, n, split != 0, launch, splits == 0,
                                splits == 0 ? "skinny (launcher)" : splits == rule ? "wg split-K (rule)" : "wg split-K",
                                splits);
                    }
                }
            }
            continue;
        }
        for (int split : {1, 0}) {
            for (int si = 0; si < shapeCount; si++) {
                const Shape& s = shapes[si];
                const int tiles = s.m / 32 < 2 * sms ? 2 : 4;  // MatMulKernel.skinnyTiles
                const int chosen = matmul_wgs_splits(s.m, s.k, sms, split != 0, n);
                // variant 0: the skinny kernel; then the warpgroup kernel split 1, 2, 3, 4, 6, 8 ways; then other
                // pipeline depths (split: 8 stages, two blocks a multiprocessor, and 12, one; bf16: 7, three, and 16,
                // one) split 1, 2, 4, 6 ways
                struct WV {
                    int splits, stages;
                };
                std::vector<WV> wvs = {{0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0}, {6, 0}, {8, 0}};
                for (int stages : n > 16 ? std::vector<int>{} : split ? std::vector<int>{8, 12}  // (tiles of 16 only)
                                                                      : std::vector<int>{7, 16}) {
                    for (int sp : {1, 2, 4, 6}) {
                        wvs.push_back({sp, stages});
                    }
                }
                for (size_t v = 0; v < wvs.size(); v++) {
                    const int splits = wvs[v].splits;
                    const int stages = wvs[v].stages;
                    float* dst = v == 0 ? ref : out;
                    const auto launch = [&](const bf16_t* wi) {
                        if (v == 0) {
                            CK(split ? dms_matmul_skinny_split(af, s.k, wi, dst, s.m, n, s.m, s.k, 0, tiles, 1, stream)
                                     : dms_matmul_skinny(a, s.k, wi, dst, s.m, n, s.m, s.k, 0, tiles, 1, stream));
                        } else if (stages == 0) {
                            CK(split ? dms_matmul_wgs_split(af, s.k, wi, dst, s.m, n, s.m, s.k, 0, splits, partial,
                                                            counters, stream)
                                     : dms_matmul_wgs(a, s.k, wi, dst, s.m, n, s.m, s.k, 0, splits, partial, counters,
                                                      stream));
                        } else {
                            launchWgsStages(split != 0, stages, split ? static_cast<const void*>(af) : a, s.k, wi, dst,
                                            s.m, n, s.m, s.k, splits, partial, counters, stream);
                        }
                    };
                    measure(s, n, split != 0, launch, v == 0,
                            v == 0 ? "skinny (launcher)" : stages == 8 ? "wgs 8 stages (2/SM)" : stages == 7
                            ? "wgs 7 stages (3/SM)" : stages != 0 ? "wgs 12-16 stages (1/SM)" : splits == chosen
                            ? "wgs (launcher)" : "wgs", splits);
                }
            }
        }
    }
}

int main(int argc, char** argv) {
    std::vector<int> ns;
    const bool prefillOnly = argc > 1 && std::strcmp(argv[1], "prefill") == 0;  // the copy and the prefill products
    const bool wgsOnly = argc > 1 && std::strcmp(argv[1], "wgs") == 0;  // the copy and the warpgroup decode products
    for (int i = prefillOnly || wgsOnly ? 2 : 1; i < argc; i++) {
        ns.push_back(std::atoi(argv[i]));
    }
    if (ns.empty() && !prefillOnly) {  // wgs: n = 16 too
        ns.push_back(16);
    }
    cudaStream_t stream;
    CK(cudaStreamCreate(&stream));
    const size_t pool = size_t(2) << 30;  // 2 GiB of W copies
    bf16_t* w;
    CK(cudaMalloc(&w, pool));
    {
        std::vector<uint16_t> host(1 << 24);
        unsigned x = 12345;
        for (auto& h : host) {
            x = x * 1664525u + 1013904223u;
            h = static_cast<uint16_t>(0x3c00 + ((x >> 16) & 0x1ff) - 0x100) | ((x >> 31) << 15);  // ±[2^-8, 2^-6)
        }
        for (size_t at = 0; at < pool; at += host.size() * 2) {
            CK(cudaMemcpy(reinterpret_cast<char*>(w) + at, host.data(), std::min(host.size() * 2, pool - at),
                          cudaMemcpyHostToDevice));
        }
    }
    const int maxK = 12288;
    bf16_t* a;
    float* c;
    float* ref;
    CK(cudaMalloc(&a, size_t(64) * maxK * 2));
    CK(cudaMemcpy(a, w, size_t(64) * maxK * 2, cudaMemcpyDeviceToDevice));
    CK(cudaMalloc(&c, size_t(64) * 151936 * 4));
    CK(cudaMalloc(&ref, size_t(64) * 151936 * 4));

    // The copy ceiling, the same way: 50 copies of 64 MB, rotating over the pool.
    {
        const size_t bytes = size_t(64) << 20;
        float us = timeGraph(stream, [&](int i) {
            char* src = reinterpret_cast<char*>(w) + (size_t(2 * i) % 30) * bytes;
            char* dst = reinterpret_cast<char*>(w) + (size_t(2 * i + 1) % 30) * bytes;
            CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream));
        }, 50);
        std::printf("{\"what\":\"copy\",\"MB\":64,\"us\":%.2f,\"TBps\":%.3f}\n", us, 2.0 * bytes / us / 1e6);
    }
    Shape shapes[] = {{"qkv", 6144, 4096}, {"o", 4096, 4096}, {"gate_up", 24576, 4096}, {"down", 4096, 12288},
                  {"lm_head", 151936, 4096}};
    if (wgsOnly) {
        benchWgs(stream, w, pool, ns, shapes, sizeof(shapes) / sizeof(shapes[0]));
        return 0;
    }
    // Batch 1 takes the GEMV (fp32 activations): the launcher's choice (R rows a block, 256 threads for k = 4096)
    // against other rows per block and block sizes.
    if (!prefillOnly) {
        float* x;
        CK(cudaMalloc(&x, size_t(maxK) * 4));
        CK(cudaMemset(x, 0, size_t(maxK) * 4));
        typedef void (*Gemv)(const float*, int, const bf16_t*, float*, int, int, int, int, int);
        struct G {
            const char* name;
            Gemv kernel;
            int rows;
        } gs[] = {{"t1_r1", dms_gemv_bf16_t1_r1, 1}, {"t1_r2", dms_gemv_bf16_t1_r2, 2}, {"t1_r4", dms_gemv_bf16_t1_r4, 4}};
        for (const Shape& s : shapes) {
            const size_t wBytes = size_t(s.m) * s.k * 2;
            const int copies = rotatingCopies(pool, wBytes);
            const int chosen = gemv_rows_per_block(s.m, 132);
            for (const G& g : gs) {
                for (int block : {128, 256}) {
                    const int grid = (s.m + g.rows - 1) / g.rows;
                    float us = timeGraph(stream, [&](int i) {
                        const bf16_t* wi = w + (size_t(i) % copies) * size_t(s.m) * s.k;
                        g.kernel<<<grid, block, 0, stream>>>(x, s.k, wi, c, s.m, 1, s.m, s.k, 0);
                    }, 50);
                    CK(cudaGetLastError());
                    std::printf("{\"what\":\"gemv\",\"n\":1,\"shape\":\"%s\",\"m\":%d,\"k\":%d,\"variant\":\"%s b%d%s\","
                                "\"grid\":%d,\"us\":%.2f,\"TBps\":%.3f}\n", s.name, s.m, s.k, g.name, block,
                                g.rows == chosen && block == gemv_block(s.k) ? " (launcher)" : "", grid, us,
                                wBytes / us / 1e6);
                }
            }
        }
    }
    for (int n : ns) {
        std::vector<Variant> vs = n <= 16 ? variants<1>() : n <= 32 ? variants<2>() : variants<4>();
        for (const Shape& s : shapes) {
            const size_t wBytes = size_t(s.m) * s.k * 2;
            const int copies = rotatingCopies(pool, wBytes);
            for (size_t v = 0; v < vs.size(); v++) {
                const Variant& var = vs[v];
                const int grid = (s.m + 8 * var.nt - 1) / (8 * var.nt);
                float* out = v == 0 ? ref : c;
                float us = timeGraph(stream, [&](int i) {
                    const bf16_t* wi = w + (size_t(i) % copies) * size_t(s.m) * s.k;
                    var.kernel<<<grid, DMS_SKINNY_WARPS * 32, var.smem, stream>>>(a, s.k, wi, out, s.m, n, s.m, s.k, 0);
                }, 50);
                CK(cudaGetLastError());
                // One more launch on copy 0 for the comparison (the graph's last launch read copy 49 % copies).
                var.kernel<<<grid, DMS_SKINNY_WARPS * 32, var.smem, stream>>>(a, s.k, w, out, s.m, n, s.m, s.k, 0);
                CK(cudaStreamSynchronize(stream));
                const Comparison cmp = v > 0 ? compare(ref, c, size_t(n) * s.m) : Comparison();
                std::printf("{\"what\":\"skinny\",\"n\":%d,\"shape\":\"%s\",\"m\":%d,\"k\":%d,\"variant\":\"%s\","
                            "\"grid\":%d,\"copies\":%d,\"us\":%.2f,\"TBps\":%.3f,\"differ\":%d,\"max_rel\":%.3g}\n",
                            n, s.name, s.m, s.k, var.name, grid, copies, us, wBytes / us / 1e6, cmp.differ, cmp.maxRel);
            }
        }
    }
    // The split skinny kernels: fp32 activations (the copy of W's first bytes read as floats: finite, varied).
    float* af = randomActivations(size_t(64) * maxK);
    for (int n : ns) {
        if (n > 64) {
            continue;
        }
        struct SV {
            const char* name;
            SplitKernel kernel;
            int nt;
        };
        std::vector<SV> svs;
        if (n <= 16) {
            svs = {{"split p_n4", split_variant<1, 4>, 4}, {"split p_n2", split_variant<1, 2>, 2}};
        } else if (n <= 32) {
            svs = {{"split p_n4", split_variant<2, 4>, 4}, {"split p_n2", split_variant<2, 2>, 2}};
        } else {
            svs = {{"split p_n4", split_variant<4, 4>, 4}, {"split p_n2", split_variant<4, 2>, 2}};
        }
        for (const Shape& s : shapes) {
            const size_t wBytes = size_t(s.m) * s.k * 2;
            const int copies = rotatingCopies(pool, wBytes);
            for (size_t v = 0; v < svs.size(); v++) {
                const SV& var = svs[v];
                const int grid = (s.m + 8 * var.nt - 1) / (8 * var.nt);
                float* out = v == 0 ? ref : c;  // the second tile width compared with the first
                float us = timeGraph(stream, [&](int i) {
                    const bf16_t* wi = w + (size_t(i) % copies) * size_t(s.m) * s.k;
                    var.kernel<<<grid, DMS_SKINNY_WARPS * 32, 0, stream>>>(af, s.k, wi, out, s.m, n, s.m, s.k, 0);
                }, 50);
                CK(cudaGetLastError());
                var.kernel<<<grid, DMS_SKINNY_WARPS * 32, 0, stream>>>(af, s.k, w, out, s.m, n, s.m, s.k, 0);
                CK(cudaStreamSynchronize(stream));
                const int differ = v > 0 ? compare(ref, c, size_t(n) * s.m).differ : 0;
                std::printf("{\"what\":\"skinny\",\"n\":%d,\"shape\":\"%s\",\"m\":%d,\"k\":%d,\"variant\":\"%s\","
                            "\"grid\":%d,\"copies\":%d,\"us\":%.2f,\"TBps\":%.3f,\"differ\":%d}\n", n, s.name, s.m,
                            s.k, var.name, grid, copies, us, wBytes / us / 1e6, differ);
            }
        }
    }

    // Prefill: the tiled products at 2048 tokens, mma.sync (dms_matmul_{bf16,split}_bm128) and wgmma
    // (dms_matmul_wg_{bf16,split}_n{256,128} and the warp-specialised dms_matmul_ws{,p}_{bf16,split}_n256,
    // matmul_sm90.cu; wsp persistent, a block a multiprocessor);
    // TFLOP/s of 2 n m k. 10 launches a graph, W rotating over
    // its copies. Each wgmma output is compared with the mma.sync kernel's of the same activations.
    {
        const int n = 2048;
        bf16_t* ab;
        float* a32;
        float* refB;
        float* refS;
        float* out;
        CK(cudaMalloc(&ab, size_t(n) * maxK * 2));
        CK(cudaMalloc(&a32, size_t(n) * maxK * 4));
        CK(cudaMemcpy(ab, w, size_t(n) * maxK * 2, cudaMemcpyDeviceToDevice));
        for (int r = 0; r < n; r += 64) {
            CK(cudaMemcpy(a32 + size_t(r) * maxK, af, size_t(64) * maxK * 4, cudaMemcpyDeviceToDevice));
        }
        CK(cudaMalloc(&refB, size_t(n) * 24576 * 4));
        CK(cudaMalloc(&refS, size_t(n) * 24576 * 4));
        CK(cudaMalloc(&out, size_t(n) * 24576 * 4));
        const int smemB = matmul_smem_bytes(128, false), smemS = matmul_smem_bytes(128, true);
        int sms = 0;
        CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
        CK(cudaFuncSetAttribute(dms_matmul_bf16_bm128, cudaFuncAttributeMaxDynamicSharedMemorySize, smemB));
        CK(cudaFuncSetAttribute(dms_matmul_split_bm128, cudaFuncAttributeMaxDynamicSharedMemorySize, smemS));
        for (const Shape& s : shapes) {
            if (s.m > 24576) {
                continue;  // the lm_head runs on the last token only
            }
            const size_t wBytes = size_t(s.m) * s.k * 2;
            const int copies = static_cast<int>(std::max<size_t>(1, std::min<size_t>(pool / wBytes, 8)));
            const dim3 grid((s.m + 127) / 128, (n + 127) / 128);
            static const char* names[] = {"bf16 bm128", "split bm128", "wg bf16 n256", "wg bf16 n128", "wg split n256",
                                          "wg split n128", "ws bf16 n256", "ws split n256", "wsp bf16 n256",
                                          "wsp split n256"};
            for (int v = 0; v < 10; v++) {
                const bool split = v == 1 || v == 4 || v == 5 || v == 7 || v == 9;
                float* dst = v == 0 ? refB : v == 1 ? refS : out;
                const auto launch = [&](const bf16_t* wi) {
                    if (v == 0) {
                        dms_matmul_bf16_bm128<<<grid, 256, smemB, stream>>>(ab, s.k, wi, dst, s.m, n, s.m, s.k, 0, 0,
                                                                            nullptr);
                    } else if (v == 1) {
                        dms_matmul_split_bm128<<<grid, 256, smemS, stream>>>(a32, s.k, wi, dst, s.m, n, s.m, s.k, 0, 0,
                                                                             nullptr);
                    } else if (v == 6) {
                        CK(dms_matmul_ws(ab, s.k, wi, dst, s.m, n, s.m, s.k, 0, 256, 1, nullptr, stream));
                    } else if (v == 8) {
                        CK(dms_matmul_wsp(ab, s.k, wi, dst, s.m, n, s.m, s.k, 0, 256, 1, nullptr, sms, stream));
                    } else if (v == 9) {
                        CK(dms_matmul_wsp_split(a32, s.k, wi, dst, s.m, n, s.m, s.k, 0, 256, 1, nullptr, sms, stream));
                    } else if (v == 7) {
                        CK(dms_matmul_ws_split(a32, s.k, wi, dst, s.m, n, s.m, s.k, 0, 256, 1, nullptr, stream));
                    } else if (split) {
                        CK(dms_matmul_wg_split(a32, s.k, wi, dst, s.m, n, s.m, s.k, 0, v == 4 ? 256 : 128, 1, nullptr,
                                                 stream));
                    } else {
                        CK(dms_matmul_wg(ab, s.k, wi, dst, s.m, n, s.m, s.k, 0, v == 2 ? 256 : 128, 1, nullptr, stream));
                    }
                };
                launch(w);  // outside the capture: the launcher's cudaFuncSetAttribute
                CK(cudaStreamSynchronize(stream));
                float us = timeGraph(stream, [&](int i) { launch(w + (size_t(i) % copies) * size_t(s.m) * s.k); }, 10);
                CK(cudaGetLastError());
                launch(w);
                CK(cudaStreamSynchronize(stream));
                const Comparison cmp = v >= 2 ? compare(split ? refS : refB, out, size_t(n) * s.m) : Comparison();
                std::printf("{\"what\":\"prefill\",\"n\":%d,\"shape\":\"%s\",\"m\":%d,\"k\":%d,\"variant\":\"%s\","
                            "\"us\":%.1f,\"TFLOPs\":%.1f,\"differ_from_mma_sync\":%d,\"max_rel\":%.3g}\n", n, s.name,
                            s.m, s.k, names[v], us, 2.0 * n * s.m * s.k / us / 1e6, cmp.differ, cmp.maxRel);
            }
        }
    }
    return 0;
}
