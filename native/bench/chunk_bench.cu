// chunk_bench.cu: times the prefill chunk attention (attention.cu, attention_chunk) and its variants (the bits of OPT
// there) on one sequence's contiguous prompt, without the JVM or a model: a 4K prefill's two chunks of 2048 queries,
// the first over its own 2048 keys, the last over all 4096, as gpubench's batch-1 run makes them. Not part of the
// fatbin.
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o chunk_bench native/bench/chunk_bench.cu
//   ./chunk_bench [key=value ...]
//     tokens=4096 chunk=2048 kvheads=8 heads=32 page=16   the shape (Qwen3-8B's, head_dim 128)
//     evict=0 window=512                                  the share of tokens flagged, the DMS window
//     freed=0                                             1: the last chunk's list without the keys evicted before it
//                                                         (flagged, window positions before its first query), as the
//                                                         engine frees them
//     opts=0,1,2,3,16,19,23,27,31,51,95,159,223,211,      the variants (DMS_CHUNK_FULL 1, EXP2 2, P_BF16 4, Q_BF16 8,
//          1000,1003,1019,1031,1095                       META 16, PACK 32, FOLD 64, FTZ 128; 1000 and up: 1000 plus
//                                                         a variant held to three blocks a multiprocessor; the
//                                                         variants without PACK launch without its shared memory)
//     launches=10                                         launches a timed graph holds
// Output, one JSON line each: per (case, variant) the µs a launch, the useful TFLOP/s (4 head_dim flops a visible
// (query head, key) pair: S = Q Kᵀ and P V, without the split's second mma), the registers, spilled bytes and blocks
// a multiprocessor, the largest difference from variant 0 (the fatbin's before these variants) relative to its
// largest |output| (-1 for the variants listed before 0, or all of them when 0 is not listed), and a hash of the
// output's bits.
#include "../all.cu"
#include "bench_util.cuh"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

// Variant O held to at least MIN_BLOCKS blocks a multiprocessor (1: as the fatbin's kernels, which take up to 255
// registers and so run two; 3: at most 168 registers).
#define CHUNK_BENCH_KERNEL(NAME, O, MIN_BLOCKS)                                                                   \
    extern "C" __global__ void __launch_bounds__(DMS_ATT_WARPS * 32, MIN_BLOCKS) NAME(                            \
        DMS_CACHE_PARAMS, const int2* __restrict__ tiles, int heads, float scale, int pagesPerSplit, int splits,  \
        int splitStride, float* __restrict__ out, int outStride, bf16_t* __restrict__ outBf16, int outBf16Stride, \
        float* __restrict__ partialO, float2* __restrict__ partialML) {                                           \
        attention_chunk<128, O>(DMS_CACHE_ARGS, tiles, heads, scale, pagesPerSplit, splits, splitStride, out,     \
                                outStride, outBf16, outBf16Stride, partialO, partialML);                          \
    }
CHUNK_BENCH_KERNEL(bench_chunk_o0, 0, 1)
CHUNK_BENCH_KERNEL(bench_chunk_o1, 1, 1)
CHUNK_BENCH_KERNEL(bench_chunk_o2, 2, 1)
CHUNK_BENCH_KERNEL(bench_chunk_o3, 3, 1)
CHUNK_BENCH_KERNEL(bench_chunk_o16, 16, 1)
CHUNK_BENCH_KERNEL(bench_chunk_o19, 19, 1)
CHUNK_BENCH_KERNEL(bench_chunk_o23, 23, 1)
CHUNK_BENCH_KERNEL(bench_chunk_o27, 27, 1)
CHUNK_BENCH_KERNEL(bench_chunk_o31, 31, 1)
CHUNK_BENCH_KERNEL(bench_chunk_o51, 51, 1)
CHUNK_BENCH_KERNEL(bench_chunk_o95, 95, 1)
CHUNK_BENCH_KERNEL(bench_chunk_o159, 159, 1)
CHUNK_BENCH_KERNEL(bench_chunk_o223, 223, 1)
CHUNK_BENCH_KERNEL(bench_chunk_o211, 211, 1)
CHUNK_BENCH_KERNEL(bench_chunk_o0_b3, 0, 3)
CHUNK_BENCH_KERNEL(bench_chunk_o3_b3, 3, 3)
CHUNK_BENCH_KERNEL(bench_chunk_o19_b3, 19, 3)
CHUNK_BENCH_KERNEL(bench_chunk_o31_b3, 31, 3)
CHUNK_BENCH_KERNEL(bench_chunk_o95_b3, 95, 3)

using ChunkKernel = void (*)(DMS_CACHE_PARAMS, const int2*, int, float, int, int, int, float*, int, bf16_t*, int,
                             float*, float2*);
// The variants by their opts number: the OPT bits, or (1000 and up: the OPT bits reach 255) 1000 plus those of a
// variant held to three blocks a multiprocessor.
static const std::vector<std::pair<int, ChunkKernel>> kVariants = {
    {0, bench_chunk_o0},       {1, bench_chunk_o1},       {2, bench_chunk_o2},         {3, bench_chunk_o3},
    {16, bench_chunk_o16},     {19, bench_chunk_o19},     {23, bench_chunk_o23},       {27, bench_chunk_o27},
    {31, bench_chunk_o31},     {51, bench_chunk_o51},     {95, bench_chunk_o95},       {159, bench_chunk_o159},
    {223, bench_chunk_o223},   {211, bench_chunk_o211},   {1000, bench_chunk_o0_b3},   {1003, bench_chunk_o3_b3},
    {1019, bench_chunk_o19_b3},   {1031, bench_chunk_o31_b3},   {1095, bench_chunk_o95_b3},
};
static ChunkKernel kernelOf(int opt) {
    for (const auto& [number, kernel] : kVariants) {
        if (number == opt) {
            return kernel;
        }
    }
    return nullptr;
}
// "0, 1, 2, ..." for the message that refuses another number.
static std::string variantNames() {
    std::string names;
    for (const auto& variant : kVariants) {
        names += (names.empty() ? "" : ", ") + std::to_string(variant.first);
    }
    return names;
}
static std::vector<int> allVariants() {
    std::vector<int> numbers;
    for (const auto& variant : kVariants) {
        numbers.push_back(variant.first);
    }
    return numbers;
}

struct Options {
    int tokens = 4096, chunk = 2048, kvHeads = 8, heads = 32, pageSize = 16, window = 512, launches = 10, freed = 0;
    double evict = 0;
    std::vector<int> opts = allVariants();
};

static Options parse(int argc, char** argv) {
    Options o;
    forEachOption(argc, argv, [&](const std::string& key, const char* v) {
        if (key == "tokens") o.tokens = std::atoi(v);
        else if (key == "chunk") o.chunk = std::atoi(v);
        else if (key == "kvheads") o.kvHeads = std::atoi(v);
        else if (key == "heads") o.heads = std::atoi(v);
        else if (key == "page") o.pageSize = std::atoi(v);
        else if (key == "window") o.window = std::atoi(v);
        else if (key == "launches") o.launches = std::atoi(v);
        else if (key == "freed") o.freed = std::atoi(v);
        else if (key == "evict") o.evict = std::atof(v);
        else if (key == "opts")
            o.opts = intList("opts", v, [](long n) { return kernelOf(static_cast<int>(n)) != nullptr; },
                             variantNames().c_str());
        else return false;
        return true;
    });
    if (o.tokens < 1 || o.chunk < 1 || o.chunk > o.tokens || o.kvHeads < 1 || o.heads % o.kvHeads != 0 ||
        o.heads / o.kvHeads > DMS_CHUNK_ROWS || o.pageSize < 1 || o.window < 0 || o.evict < 0 || o.evict > 1 ||
        o.launches < 1) {
        std::fprintf(stderr, "bad options (chunk <= tokens, heads a multiple of kvheads, 0 <= evict <= 1)\n");
        std::exit(2);
    }
    return o;
}

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    constexpr int D = 128;
    cudaStream_t stream;
    CK(cudaStreamCreate(&stream));
    const int G = o.heads / o.kvHeads;
    const int pages = (o.tokens + o.pageSize - 1) / o.pageSize;
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> unit(0, 1);
    // The prompt's slots: token t of kv head h in page table[h][t / page], the pages a random permutation (as a
    // pool's), flagged with probability evict.
    std::vector<int> perm(static_cast<size_t>(pages) * o.kvHeads);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    const size_t slots = perm.size() * o.pageSize;
    std::vector<int> table(perm.size()), slotPos(slots, -1);
    std::vector<unsigned char> slotFlag(slots, 0);
    for (int h = 0; h < o.kvHeads; h++) {
        for (int e = 0; e < pages; e++) {
            const int page = perm[static_cast<size_t>(h) * pages + e];
            table[static_cast<size_t>(h) * pages + e] = page;
            for (int x = 0; x < o.pageSize; x++) {
                const int t = e * o.pageSize + x;
                if (t < o.tokens) {
                    slotPos[static_cast<size_t>(page) * o.pageSize + x] = t;
                    slotFlag[static_cast<size_t>(page) * o.pageSize + x] = unit(rng) < o.evict ? 1 : 0;
                }
            }
        }
    }
    bf16_t *keys = nullptr, *values = nullptr;
    CK(cudaMalloc(&keys, slots * D * 2));
    CK(cudaMalloc(&values, slots * D * 2));
    fill_bf16<<<1024, 256>>>(keys, slots * D, 11);
    fill_bf16<<<1024, 256>>>(values, slots * D, 12);
    CK(cudaGetLastError());
    int* dSlotPos = upload(slotPos);
    unsigned char* dSlotFlag = upload(slotFlag);
    int* dTable = upload(table);
    const int n = o.chunk;
    std::vector<float> q(static_cast<size_t>(n) * o.heads * D);
    for (auto& x : q) {
        x = static_cast<float>(unit(rng) * 2 - 1);
    }
    float* dq = upload(q);
    float* out = nullptr;
    CK(cudaMalloc(&out, q.size() * 4));
    std::vector<int> seqOfToken(n, 0), seqRow(1, 0), seqWindow(1, o.window);
    int* dSeqOfToken = upload(seqOfToken);
    int* dSeqRow = upload(seqRow);
    int* dSeqWindow = upload(seqWindow);
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));

    for (const char* which : {"first", "last"}) {
        // first: the prompt's first chunk, its own keys only; last: the last chunk over the whole prompt.
        const int first = std::strcmp(which, "first") == 0 ? 0 : o.tokens - n;
        int keysListed = first + n;
        std::vector<int> positions(n), tableLen(o.kvHeads, (keysListed + o.pageSize - 1) / o.pageSize);
        std::iota(positions.begin(), positions.end(), first);
        if (o.freed != 0 && first > 0) {
            // The engine's list before the last chunk: the keys evicted for its first query's predecessor gone, the
            // rest moved up in order (as repacking leaves it), then the chunk's own keys.
            std::vector<int> keptPos, keptFlag;
            for (int h = 0; h < o.kvHeads; h++) {
                keptPos.clear();
                keptFlag.clear();
                for (int t = 0; t < keysListed; t++) {
                    const size_t slot = static_cast<size_t>(table[static_cast<size_t>(h) * pages + t / o.pageSize]) *
                                            o.pageSize + t % o.pageSize;
                    if (!(slotFlag[slot] != 0 && first - 1 - slotPos[slot] > o.window)) {
                        keptPos.push_back(slotPos[slot]);
                        keptFlag.push_back(slotFlag[slot]);
                    }
                }
                for (int t = 0; t < pages * o.pageSize; t++) {
                    const size_t slot = static_cast<size_t>(table[static_cast<size_t>(h) * pages + t / o.pageSize]) *
                                            o.pageSize + t % o.pageSize;
                    const bool kept = t < static_cast<int>(keptPos.size());
                    slotPos[slot] = kept ? keptPos[t] : -1;
                    slotFlag[slot] = kept ? static_cast<unsigned char>(keptFlag[t]) : 0;
                }
                tableLen[h] = (static_cast<int>(keptPos.size()) + o.pageSize - 1) / o.pageSize;
            }
            CK(cudaMemcpy(dSlotPos, slotPos.data(), slotPos.size() * 4, cudaMemcpyHostToDevice));
            CK(cudaMemcpy(dSlotFlag, slotFlag.data(), slotFlag.size(), cudaMemcpyHostToDevice));
            keysListed = tableLen[0] * o.pageSize;  // head 0's, as the flops below count head 0's keys
        }
        int* dPositions = upload(positions);
        int* dTableLen = upload(tableLen);
        const int perTile = DMS_CHUNK_ROWS / G;
        std::vector<int2> tilesH;
        for (int t = 0; t < n; t += perTile) {
            tilesH.push_back(make_int2(t, std::min(perTile, n - t)));
        }
        int2* dTiles = upload(tilesH);
        double flops = 0;
        for (int i = 0; i < n; i++) {
            long visible = 0;
            for (int t = 0; t < keysListed; t++) {
                const int h = 0;  // the flags differ per kv head; head 0's count stands for all
                const int page = table[static_cast<size_t>(h) * pages + t / o.pageSize];
                const size_t slot = static_cast<size_t>(page) * o.pageSize + t % o.pageSize;
                visible += slotPos[slot] >= 0 && slotPos[slot] <= positions[i] &&
                           !(slotFlag[slot] != 0 && positions[i] - slotPos[slot] > o.window);
            }
            flops += 4.0 * D * o.heads * visible;
        }
        std::vector<float> reference;
        for (int opt : o.opts) {
            const ChunkKernel kernel = kernelOf(opt);
            // Without PACK a variant never touches the packed slots' 32 KB: 71 KB a block, so that three fit a
            // multiprocessor where the registers allow (the 1000s).
            const int smem = attention_chunk_smem(D, ((opt % 1000) & DMS_CHUNK_PACK) != 0);
            CK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
            cudaFuncAttributes attributes{};
            CK(cudaFuncGetAttributes(&attributes, kernel));
            int perSm = 0;
            CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, kernel, DMS_ATT_WARPS * 32, smem));
            const dim3 grid(static_cast<unsigned>(tilesH.size()), o.kvHeads, 1);
            const auto launch = [&]() {
                kernel<<<grid, DMS_ATT_WARPS * 32, smem, stream>>>(
                    dq, o.heads * D, keys, values, dSlotPos, dSlotFlag, dTable, dTableLen, pages, 1, 0, o.kvHeads,
                    o.pageSize, dPositions, dSeqOfToken, dSeqRow, dSeqWindow, dTiles, o.heads, scale, pages, 1, 1,
                    out, o.heads * D, nullptr, 0, nullptr, nullptr);
            };
            CK(cudaMemsetAsync(out, 0xff, q.size() * 4, stream));  // NaN: an output not written shows
            launch();
            CK(cudaGetLastError());
            CK(cudaStreamSynchronize(stream));
            std::vector<float> result(q.size());
            CK(cudaMemcpy(result.data(), out, q.size() * 4, cudaMemcpyDeviceToHost));
            double diff = 0, ref = 0;
            if (reference.empty() && opt == 0) {
                reference = result;
            }
            if (!reference.empty()) {
                for (size_t e = 0; e < result.size(); e++) {
                    const double d = std::fabs(double(result[e]) - reference[e]);
                    diff = d == d ? std::max(diff, d) : INFINITY;
                    ref = std::max(ref, std::fabs(double(reference[e])));
                }
            }
            // FNV-1a of the output's bits: two builds of a variant (before and after a change that should keep its
            // bits) compare by this field, run against the same inputs (a fixed seed).
            uint64_t bits = 0xcbf29ce484222325ull;
            for (float v : result) {
                uint32_t w;
                std::memcpy(&w, &v, 4);
                for (int b = 0; b < 4; b++) {
                    bits = (bits ^ ((w >> (8 * b)) & 0xffu)) * 0x100000001b3ull;
                }
            }
            const float us = timeGraph(stream, [&](int) { launch(); }, o.launches);
            std::printf("{\"what\":\"chunk\",\"case\":\"%s\",\"queries\":%d,\"keys\":%d,\"evict\":%.3f,\"opt\":%d,"
                        "\"registers\":%d,\"spill_bytes\":%zu,\"blocks_per_sm\":%d,\"us\":%.1f,\"TFLOPs\":%.1f,\"vs_opt0\":%.2e,"
                        "\"bits\":\"%016llx\"}\n",
                        which, n, keysListed, o.evict, opt, attributes.numRegs, attributes.localSizeBytes, perSm, us,
                        flops / us / 1e6, reference.empty() ? -1.0 : (ref > 0 ? diff / ref : diff),
                        static_cast<unsigned long long>(bits));
            std::fflush(stdout);
        }
        CK(cudaFree(dPositions));
        CK(cudaFree(dTableLen));
        CK(cudaFree(dTiles));
    }
    return 0;
}
