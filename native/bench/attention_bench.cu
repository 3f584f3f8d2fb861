// attention_bench.cu: times the decode attention (attention.cu: the tensor-core and the CUDA-core kernels, each with
// its merge) on synthetic page lists shaped like a gpubench run's, across split counts, without the JVM or a model:
// a 16 x 32K gpubench run spends a minute and a half on its prefill before the first decode step, this builds its
// lists directly. Not part of the fatbin.
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o attention_bench native/bench/attention_bench.cu
//   ./attention_bench [key=value ...]
//     batch=16 kvheads=8 heads=32 d=128 page=16   the shape (Qwen3-8B's, 16 sequences)
//     pages=288 spread=0.5                         DMS lists: pages uniform in pages x [1 - spread, 1 + spread]
//     live=0.97                                    the share of listed slots that hold a visible token
//     dense=2048                                   dense lists (32K tokens), all slots visible; 0 skips the case
//     kernels=tc,tc4,g,tcb                         tc: dms_attention_decode_tc, tc4: the same held to 128 registers
//                                                  (4 blocks a multiprocessor; d=128), g: dms_attention_decode,
//                                                  tcb: dms_attention_decode_tc_balanced at 2, 3, 4, 6 blocks a
//                                                  multiprocessor (tcb_per_sm)
//     tcb_per_sm=2,3,4,6                           the balanced grid's blocks a multiprocessor
//     launches=20                                  launches a timed graph holds
// gpubench's "lists" line gives pages (mean_pages), the spread (max_pages / mean_pages - 1 at most) and live
// (live_share_of_listed_slots) of a real run. One layer's lists are about 300 MB (DMS) and 2 GB (dense), beyond the
// 50 MB L2, so consecutive launches read from DRAM as a decode step's layers do.
// Output, one JSON line each: the copy ceiling; per case the lists; per (case, kernel, splits) the µs a launch
// (attention and merge), the merge alone, the visible K/V bytes over the time (TB/s), whether the split count is the
// one CudaBackend's rule picks (waves by the longest list over the mean one, three blocks a multiprocessor), and the
// largest difference from the same kernel unsplit relative to the largest |output| (a wrong split shows here).
#include "../all.cu"
#include "bench_util.cuh"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

// The tensor-core kernel held to at most 128 registers a thread (four blocks, 16 warps a multiprocessor, against
// the fatbin's three at 168): more loads in flight, if the spills cost less. Launched as attention.cu does.
extern "C" __global__ void __launch_bounds__(DMS_ATT_WARPS * 32, 4) bench_attention_decode_tc4_d128(DMS_DECODE_PARAMS) {
    DMS_DECODE_CALL(attention_decode_tc<128>);
}
static cudaError_t decode_tc4(const AttentionArgs& a, int tokenCount, cudaStream_t stream) {
    dim3 grid(a.splits, a.kvHeads, tokenCount);
    bench_attention_decode_tc4_d128<<<grid, DMS_ATT_WARPS * 32, attention_decode_smem(a.heads / a.kvHeads, a.D),
                                      stream>>>(a.q, a.qStride, a.keyCache, a.valueCache, a.slotPos, a.slotFlag,
                                                a.pageTable, a.pageTableLen, a.maxPagesPerHead, a.layers, a.layer,
                                                a.kvHeads, a.pageSize, a.positions, a.seqOfToken, a.seqRow,
                                                a.seqWindow, nullptr, a.heads, a.D, a.scale, a.pagesPerSplit,
                                                a.splits, a.splitStride, a.out, a.outStride, a.outBf16,
                                                a.outBf16Stride, a.partialO, a.partialML);
    if (a.splits > 1) {
        launch_attention_merge(a, nullptr, tokenCount, stream);
    }
    return cudaGetLastError();
}

// CudaBackend's rule for the decode grid (autoWaves, roundPages, AttentionKernel.pagesPerSplit with 256 slots at
// least, splits; a one-token step, oneToken, AttentionKernel.decodePagesPerSplit: down to 64 for lists under 4K).
static int autoWaves(long longest, long total, long lists) {
    const double ratio = static_cast<double>(longest) * lists / total;
    int waves = 1;
    while (waves < 8 && waves < ratio - 0.25) {
        waves <<= 1;
    }
    return waves;
}
static int roundPages(int pages) {
    int high = 1;
    while (high * 2 <= std::max(1, pages)) {
        high *= 2;
    }
    const int step = std::max(1, high / 8);
    return (pages + step - 1) / step * step;
}
static int ruleSplits(int maxPages, int pageSize, long blocks, int multiprocessors, int waves, bool oneToken) {
    const long target = 3L * multiprocessors * waves;
    const int splits = static_cast<int>(std::max(1L, std::min<long>(maxPages, target / std::max(1L, blocks))));
    const int perSplit = (maxPages + splits - 1) / splits;
    const int floorPages = std::max(1, 256 / pageSize);
    const int minPages =
        oneToken ? std::min(floorPages, std::max(std::max(1, floorPages / 4), (maxPages + 15) / 16)) : floorPages;
    const int pagesPerSplit = std::max(1, std::max(perSplit, std::min(minPages, maxPages)));
    return std::max(1, (maxPages + pagesPerSplit - 1) / pagesPerSplit);
}

struct Options {
    int batch = 16, kvHeads = 8, heads = 32, D = 128, pageSize = 16;
    int pages = 288, dense = 2048, launches = 20;
    double spread = 0.5, live = 0.97;
    std::string kernels = "tc,tc4,g,tcb";
    std::vector<int> tcbPerSm = {2, 3, 4, 6};
};

static Options parse(int argc, char** argv) {
    Options o;
    forEachOption(argc, argv, [&](const std::string& key, const char* v) {
        if (key == "batch") o.batch = std::atoi(v);
        else if (key == "kvheads") o.kvHeads = std::atoi(v);
        else if (key == "heads") o.heads = std::atoi(v);
        else if (key == "d") o.D = std::atoi(v);
        else if (key == "page") o.pageSize = std::atoi(v);
        else if (key == "pages") o.pages = std::atoi(v);
        else if (key == "dense") o.dense = std::atoi(v);
        else if (key == "launches") o.launches = std::atoi(v);
        else if (key == "spread") o.spread = std::atof(v);
        else if (key == "live") o.live = std::atof(v);
        else if (key == "kernels") o.kernels = v;
        else if (key == "tcb_per_sm")
            o.tcbPerSm = intList("tcb_per_sm", v, [](long n) { return n >= 1 && n <= 64; }, "whole numbers 1 to 64");
        else return false;
        return true;
    });
    if (o.batch < 1 || o.kvHeads < 1 || o.heads % o.kvHeads != 0 || (o.D != 64 && o.D != 128) || o.pageSize < 1 ||
        o.pages < 1 || o.spread < 0 || o.spread >= 1 || o.live <= 0 || o.live > 1 || o.launches < 1) {
        std::fprintf(stderr,
                     "bad options (heads a multiple of kvheads, d 64 or 128, 0 <= spread < 1, 0 < live <= 1)\n");
        std::exit(2);
    }
    return o;
}

// One case's lists on the device: batch sequences of one token each, one layer, kvHeads lists a sequence.
struct Scene {
    std::vector<int> lengths;  // pages of list (s, h) at s * kvHeads + h
    long visibleSlots = 0;
    int maxPages = 0;
    AttentionArgs args{};
    float* out = nullptr;
    size_t outCount = 0;
};

static Scene makeScene(const Options& o, const std::vector<int>& lengths, unsigned seed) {
    Scene sc;
    sc.lengths = lengths;
    const int lists = o.batch * o.kvHeads;
    const long totalPages = std::accumulate(lengths.begin(), lengths.end(), 0L);
    sc.maxPages = *std::max_element(lengths.begin(), lengths.end());
    const int qpos = 32768 + 100;
    std::mt19937 rng(seed);
    // Pages scattered over the pool as a long run's are: a random permutation.
    std::vector<int> perm(totalPages);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<int> table(static_cast<size_t>(lists) * sc.maxPages, -1), tableLen(lists);
    std::vector<int> slotPos(totalPages * o.pageSize, -1);
    std::vector<unsigned char> slotFlag(totalPages * o.pageSize, 0);
    std::uniform_real_distribution<double> unit(0, 1);
    long next = 0;
    for (int l = 0; l < lists; l++) {
        tableLen[l] = lengths[l];
        for (int e = 0; e < lengths[l]; e++) {
            const int page = perm[next++];
            table[static_cast<size_t>(l) * sc.maxPages + e] = page;
            for (int o2 = 0; o2 < o.pageSize; o2++) {
                if (unit(rng) < o.live) {
                    // Older than the window with no flag, or flagged inside it: visible either way.
                    const bool recent = unit(rng) < 0.1;
                    slotPos[page * o.pageSize + o2] = recent ? qpos - static_cast<int>(unit(rng) * 512)
                                                              : static_cast<int>(unit(rng) * (qpos - 600));
                    slotFlag[page * o.pageSize + o2] = recent ? 1 : 0;
                    sc.visibleSlots++;
                }
            }
        }
    }
    const size_t slots = totalPages * o.pageSize;
    bf16_t *keys = nullptr, *values = nullptr;
    CK(cudaMalloc(&keys, slots * o.D * 2));
    CK(cudaMalloc(&values, slots * o.D * 2));
    fill_bf16<<<1024, 256>>>(keys, slots * o.D, seed * 3 + 1);
    fill_bf16<<<1024, 256>>>(values, slots * o.D, seed * 3 + 2);
    CK(cudaGetLastError());
    std::vector<float> q(static_cast<size_t>(o.batch) * o.heads * o.D);
    for (auto& x : q) {
        x = static_cast<float>(unit(rng) * 2 - 1);
    }
    std::vector<int> positions(o.batch, qpos), seqOfToken(o.batch), seqRow(o.batch), seqWindow(o.batch, 512);
    std::iota(seqOfToken.begin(), seqOfToken.end(), 0);
    std::iota(seqRow.begin(), seqRow.end(), 0);
    sc.outCount = static_cast<size_t>(o.batch) * o.heads * o.D;
    CK(cudaMalloc(&sc.out, sc.outCount * 4));
    AttentionArgs& a = sc.args;
    a.q = upload(q);
    a.qStride = o.heads * o.D;
    a.keyCache = keys;
    a.valueCache = values;
    a.slotPos = upload(slotPos);
    a.slotFlag = upload(slotFlag);
    a.pageTable = upload(table);
    a.pageTableLen = upload(tableLen);
    a.maxPagesPerHead = sc.maxPages;
    a.layers = 1;
    a.layer = 0;
    a.heads = o.heads;
    a.kvHeads = o.kvHeads;
    a.D = o.D;
    a.pageSize = o.pageSize;
    a.positions = upload(positions);
    a.seqOfToken = upload(seqOfToken);
    a.seqRow = upload(seqRow);
    a.seqWindow = upload(seqWindow);
    a.scale = 1.0f / std::sqrt(static_cast<float>(o.D));
    a.out = sc.out;
    a.outStride = o.heads * o.D;
    a.outBf16 = nullptr;
    a.outBf16Stride = 0;
    return sc;
}

static std::vector<float> download(const float* p, size_t count) {
    std::vector<float> host(count);
    CK(cudaMemcpy(host.data(), p, count * 4, cudaMemcpyDeviceToHost));
    return host;
}

static double maxRelDiff(const std::vector<float>& x, const std::vector<float>& y) {
    double diff = 0, ref = 0;
    for (size_t e = 0; e < x.size(); e++) {
        const double d = std::fabs(double(x[e]) - y[e]);
        if (!(d == d)) {
            return INFINITY;  // an output not written (NaN): no maximum would show it
        }
        diff = std::max(diff, d);
        ref = std::max(ref, std::fabs(double(x[e])));
    }
    return ref > 0 ? diff / ref : diff;
}

// One configuration's run: the output of a first launch, then the µs a launch of the whole (attention and merge) and
// of the merge alone (0 unsplit), each over graph-replayed launches.
struct Measured {
    std::vector<float> result;
    float us = 0;
    float mergeUs = 0;
};

static Measured measureLaunches(const Scene& sc, const AttentionArgs& a, int tokens, int launches, cudaStream_t stream,
                                const std::function<cudaError_t()>& entry) {
    Measured m;
    CK(cudaMemsetAsync(sc.out, 0xff, sc.outCount * sizeof(float), stream));  // NaN: an output not written shows
    CK(entry());
    CK(cudaStreamSynchronize(stream));
    m.result = download(sc.out, sc.outCount);
    m.us = timeGraph(stream, [&](int) { CK(entry()); }, launches);
    if (a.splits > 1) {
        m.mergeUs = timeGraph(stream, [&](int) { launch_attention_merge(a, nullptr, tokens, stream); }, launches);
        CK(cudaGetLastError());
    }
    return m;
}

// One JSON line: the configuration, its times, the visible K/V bytes over the time, and the largest difference from
// the reference output relative to its largest |value| (0 without one).
static void report(const std::string& name, const char* kernel, int blocks, int splits, bool rule, const Measured& m,
                   double kvBytes, const std::vector<float>& reference) {
    std::printf("{\"what\":\"attention\",\"case\":\"%s\",\"kernel\":\"%s\",\"blocks\":%d,\"splits\":%d,\"rule\":%s,"
                "\"us\":%.2f,\"merge_us\":%.2f,\"TBps\":%.3f,\"vs_unsplit\":%.2e}\n",
                name.c_str(), kernel, blocks, splits, rule ? "true" : "false", m.us, m.mergeUs, kvBytes / m.us / 1e6,
                reference.empty() ? 0.0 : maxRelDiff(reference, m.result));
    std::fflush(stdout);
}

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    cudaStream_t stream;
    CK(cudaStreamCreate(&stream));
    int device = 0, multiprocessors = 0;
    CK(cudaGetDevice(&device));
    CK(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device));

    {  // The copy ceiling: 20 copies of 256 MB in a graph.
        const size_t bytes = 256u << 20;
        void *src = nullptr, *dst = nullptr;
        CK(cudaMalloc(&src, bytes));
        CK(cudaMalloc(&dst, bytes));
        CK(cudaMemset(src, 1, bytes));
        const float us = timeGraph(
            stream, [&](int) { CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream)); }, 20);
        std::printf("{\"what\":\"copy\",\"MB\":256,\"us\":%.2f,\"TBps\":%.3f}\n", us, 2.0 * bytes / us / 1e6);
        CK(cudaFree(src));
        CK(cudaFree(dst));
    }

    std::vector<std::pair<std::string, std::vector<int>>> cases;
    {
        std::mt19937 rng(11);
        std::uniform_real_distribution<double> factor(1 - o.spread, 1 + o.spread);
        std::vector<int> dms(o.batch * o.kvHeads);
        for (auto& p : dms) {
            p = std::max(1, static_cast<int>(std::lround(o.pages * factor(rng))));
        }
        cases.push_back({"dms", dms});
        if (o.dense > 0) {
            cases.push_back({"dense", std::vector<int>(o.batch * o.kvHeads, o.dense)});
        }
    }
    const int maxSplits = 64;
    float* partialO = nullptr;
    float2* partialML = nullptr;
    CK(cudaMalloc(&partialO, static_cast<size_t>(o.batch) * o.heads * maxSplits * o.D * 4));
    CK(cudaMalloc(&partialML, static_cast<size_t>(o.batch) * o.heads * maxSplits * 8));

    unsigned seed = 5;
    for (const auto& [name, lengths] : cases) {
        Scene sc = makeScene(o, lengths, seed++);
        const long total = std::accumulate(lengths.begin(), lengths.end(), 0L);
        const long lists = static_cast<long>(lengths.size());
        const int waves = autoWaves(sc.maxPages, total, lists);
        const int rulePages = roundPages(sc.maxPages);
        const int rule = ruleSplits(rulePages, o.pageSize, lists, multiprocessors, waves, o.batch == 1);
        const double kvBytes = 2.0 * sc.visibleSlots * o.D * 2;
        const auto measure = [&](const AttentionArgs& a, const std::function<cudaError_t()>& entry) {
            return measureLaunches(sc, a, o.batch, o.launches, stream, entry);
        };
        std::printf("{\"what\":\"lists\",\"case\":\"%s\",\"lists\":%ld,\"mean_pages\":%.1f,\"max_pages\":%d,"
                    "\"visible_slots\":%ld,\"kv_MB\":%.1f,\"rule_waves\":%d,\"rule_splits\":%d}\n",
                    name.c_str(), lists, double(total) / lists, sc.maxPages, sc.visibleSlots, kvBytes / 1e6, waves,
                    rule);
        std::vector<int> splitCounts = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64};
        if (std::find(splitCounts.begin(), splitCounts.end(), rule) == splitCounts.end() && rule <= maxSplits) {
            splitCounts.push_back(rule);
            std::sort(splitCounts.begin(), splitCounts.end());
        }
        for (const char* kernel : {"tc", "tc4", "g"}) {
            if (("," + o.kernels + ",").find("," + std::string(kernel) + ",") == std::string::npos ||
                (std::strcmp(kernel, "tc4") == 0 && o.D != 128)) {
                continue;
            }
            const std::string which = kernel;
            std::vector<float> unsplit;
            for (int splits : splitCounts) {
                if (splits > sc.maxPages) {
                    continue;
                }
                AttentionArgs a = sc.args;
                a.splits = splits;
                a.pagesPerSplit = (rulePages + splits - 1) / splits;  // as CudaBackend: of the rounded longest list
                a.splitStride = splits;
                a.partialO = splits > 1 ? partialO : nullptr;
                a.partialML = splits > 1 ? partialML : nullptr;
                const Measured m = measure(a, [&]() {
                    return which == "tc"    ? dms_attention_decode_tc(a, nullptr, o.batch, stream)
                           : which == "tc4" ? decode_tc4(a, o.batch, stream)
                                            : dms_attention_decode(a, nullptr, o.batch, stream);
                });
                if (splits == 1) {
                    unsplit = m.result;
                }
                report(name, kernel, 0, splits, splits == rule, m, kvBytes, unsplit);
            }
        }
        // The balanced grid (dms_attention_decode_tc_balanced): blocks of the same number of pages, 2 to 6 a
        // multiprocessor's worth, each with the stride its bound gives; compared with the tensor-core kernel unsplit.
        if (("," + o.kernels + ",").find(",tcb,") != std::string::npos) {
            std::vector<float> reference;
            {
                AttentionArgs a = sc.args;
                a.splits = 1;
                a.pagesPerSplit = rulePages;
                a.splitStride = 1;
                a.partialO = nullptr;
                a.partialML = nullptr;
                CK(dms_attention_decode_tc(a, nullptr, o.batch, stream));
                CK(cudaStreamSynchronize(stream));
                reference = download(sc.out, sc.outCount);
            }
            for (int perMultiprocessor : o.tcbPerSm) {
                const int blocks = perMultiprocessor * multiprocessors;
                const long long bound = (static_cast<long long>(sc.maxPages) * std::min<long long>(blocks, total) +
                                         total - 1) / total + 1;
                const int stride = static_cast<int>(std::max(2LL, bound));
                if (stride > maxSplits) {
                    continue;
                }
                AttentionArgs a = sc.args;
                a.splits = stride;
                a.pagesPerSplit = 1;
                a.splitStride = stride;
                a.partialO = partialO;
                a.partialML = partialML;
                const Measured m =
                    measure(a, [&]() { return dms_attention_decode_tc_balanced(a, nullptr, o.batch, blocks, stream); });
                report(name, "tcb", blocks, stride, false, m, kvBytes, reference);
            }
        }
    }
    return 0;
}
