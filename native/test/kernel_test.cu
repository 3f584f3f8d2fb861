// kernel_test.cu: every kernel of native/ against a scalar C++ reference that follows the Java CPU engine.
//
// Two builds of the same file (native/test/run.sh):
//   on any machine: g++ -DDMS_EMU, the kernels run on the fiber emulator (native/emu/emu.h);
//   on a CUDA host: nvcc, the kernels run on the GPU.
// Inputs are random (never zero), sizes odd, outputs poisoned with NaN before each launch.
// The Java tests tagged "gpu" (src/test/java/io/dmsserve/engine/cuda) are the project's tests of record;
// this driver exists so the kernels' logic can be checked where there is no GPU, and natively where there is.
#include "../all.cu"
#include "../bench/skinny_cp.cuh"  // skinny_bench's experimental product, checked here too
#include "../bench/decode_chain.cuh"  // chain_bench's experimental persistent chain, likewise

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

// ---------------------------------------------------------------------------------------------------
// Device memory, the same calls in both builds.

#ifdef DMS_EMU
static void* dev_malloc(size_t bytes) {
    void* p = aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
    memset(p, 0xff, (bytes + 255) / 256 * 256 + 256);
    return p;
}
static void dev_free(void* p) {
    free(p);
}
static void copy_to_device(void* dst, const void* src, size_t bytes) {
    memcpy(dst, src, bytes);
}
static void copy_to_host(void* dst, const void* src, size_t bytes) {
    memcpy(dst, src, bytes);
}
static void device_sync(const char*) {
}
static int multiprocessors() {
    return 4;
}
#else
static void check_cuda(cudaError_t e, const char* what) {
    if (e != cudaSuccess) {
        fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(e));
        exit(2);
    }
}
static void* dev_malloc(size_t bytes) {
    void* p = nullptr;
    check_cuda(cudaMalloc(&p, bytes + 256), "cudaMalloc");
    return p;
}
static void dev_free(void* p) {
    cudaFree(p);
}
static void copy_to_device(void* dst, const void* src, size_t bytes) {
    check_cuda(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
}
static void copy_to_host(void* dst, const void* src, size_t bytes) {
    check_cuda(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
}
static void device_sync(const char* what) {
    check_cuda(cudaDeviceSynchronize(), what);
}
static int multiprocessors() {
    int count = 0;
    cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, 0);
    return count;
}
#endif

// A device array with a host mirror.
template <class T>
struct Buf {
    std::vector<T> host;
    T* dev = nullptr;
    explicit Buf(size_t n) : host(n) {
        dev = static_cast<T*>(dev_malloc(std::max<size_t>(1, n) * sizeof(T)));
    }
    explicit Buf(const std::vector<T>& v) : host(v) {
        dev = static_cast<T*>(dev_malloc(std::max<size_t>(1, v.size()) * sizeof(T)));
        up();
    }
    Buf(const Buf&) = delete;
    ~Buf() {
        dev_free(dev);
    }
    size_t size() const {
        return host.size();
    }
    void up() {
        copy_to_device(dev, host.data(), host.size() * sizeof(T));
    }
    void down() {
        copy_to_host(host.data(), dev, host.size() * sizeof(T));
    }
    // Fills host and device with NaN bytes (0xff), so an element the kernel should write but does not shows.
    void poison() {
        memset(host.data(), 0xff, host.size() * sizeof(T));
        up();
    }
    T& operator[](size_t i) {
        return host[i];
    }
    const T& operator[](size_t i) const {
        return host[i];
    }
};

// ---------------------------------------------------------------------------------------------------
// Helpers.

struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed) {
    }
    uint64_t next() {
        return s = dms::splitmix64(s);
    }
    double uniform() {  // [0, 1)
        return (next() >> 11) * 0x1.0p-53;
    }
    float sym(float scale = 1.f) {  // (-scale, scale), never exactly 0
        float v;
        do {
            v = static_cast<float>((2.0 * uniform() - 1.0) * scale);
        } while (v == 0.f);
        return v;
    }
    int below(int n) {
        return static_cast<int>(next() % static_cast<uint64_t>(n));
    }
};

static uint16_t to_bf16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return static_cast<uint16_t>((bits >> 16) | 0x40);
    }
    return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}
static float from_bf16(uint16_t h) {
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}
static float round_bf16(float f) {
    return from_bf16(to_bf16(f));
}

static int g_failures = 0;
static int g_checks = 0;

// |got - want| <= atol + rtol |want| for every element; prints the first few failures.
static bool expect_close(const char* what, const float* got, const float* want, size_t n, double atol, double rtol) {
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        g_checks++;
        const double g = got[i], w = want[i];
        const double err = std::fabs(g - w);
        const bool ok = (std::isinf(w) && g == w) || (!std::isnan(g) && err <= atol + rtol * std::fabs(w));
        if (!ok) {
            if (bad < 5) {
                fprintf(stderr, "  %s[%zu]: got %.9g want %.9g\n", what, i, g, w);
            }
            bad++;
        }
        if (std::isfinite(w) && std::isfinite(g)) {
            worst = std::max(worst, err);
        }
    }
    if (bad) {
        fprintf(stderr, "FAIL %s: %d of %zu elements off (worst abs err %.3g)\n", what, bad, n, worst);
        g_failures++;
        return false;
    }
    return true;
}

template <class T>
static bool expect_equal(const char* what, const T* got, const T* want, size_t n) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        g_checks++;
        if (!(got[i] == want[i])) {
            if (bad < 5) {
                fprintf(stderr, "  %s[%zu]: got %lld want %lld\n", what, i, static_cast<long long>(got[i]),
                        static_cast<long long>(want[i]));
            }
            bad++;
        }
    }
    if (bad) {
        fprintf(stderr, "FAIL %s: %d of %zu elements differ\n", what, bad, n);
        g_failures++;
        return false;
    }
    return true;
}

static void expect_ok(cudaError_t e, const char* what) {
    g_checks++;
    if (e != cudaSuccess) {
        fprintf(stderr, "FAIL %s: entry point returned %d (%s)\n", what, static_cast<int>(e), cudaGetErrorString(e));
        g_failures++;
    }
    device_sync(what);
}

// An entry point's own argument check refused the call (and launched nothing).
static void expect_refused(cudaError_t e, const char* what) {
    g_checks++;
    if (e != cudaErrorInvalidValue) {
        fprintf(stderr, "FAIL %s: expected the entry point to refuse, got %d\n", what, static_cast<int>(e));
        g_failures++;
    }
}

static std::vector<uint16_t> random_bf16(Rng& rng, size_t n, float scale) {
    std::vector<uint16_t> v(n);
    for (auto& x : v) {
        uint16_t h;
        do {
            h = to_bf16(rng.sym(scale));
        } while (from_bf16(h) == 0.f);
        x = h;
    }
    return v;
}
static std::vector<float> random_f32(Rng& rng, size_t n, float scale) {
    std::vector<float> v(n);
    for (auto& x : v) {
        x = rng.sym(scale);
    }
    return v;
}

// ---------------------------------------------------------------------------------------------------
// embedding

static void test_embedding() {
    Rng rng(1);
    for (int hidden : {72, 100, 8}) {
        const int vocab = 77, n = 17;
        Buf<uint16_t> emb(random_bf16(rng, static_cast<size_t>(vocab) * hidden, 1.f));
        std::vector<int> ids(n);
        for (auto& t : ids) {
            t = rng.below(vocab);
        }
        ids[3] = vocab;  // out of range: a row of NaN
        Buf<int> tokens(ids);
        Buf<float> x(static_cast<size_t>(n) * hidden);
        x.poison();
        expect_ok(dms_embedding(emb.dev, tokens.dev, n, hidden, vocab, x.dev, nullptr), "embedding");
        x.down();
        std::vector<float> want(static_cast<size_t>(n) * hidden);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < hidden; j++) {
                want[static_cast<size_t>(i) * hidden + j] =
                    i == 3 ? NAN : from_bf16(emb[static_cast<size_t>(ids[i]) * hidden + j]);
            }
        }
        int bad = 0;
        for (size_t e = 0; e < want.size(); e++) {
            g_checks++;
            const bool ok = std::isnan(want[e]) ? std::isnan(x[e]) : x[e] == want[e];
            bad += !ok;
        }
        if (bad) {
            fprintf(stderr, "FAIL embedding hidden %d: %d elements wrong\n", hidden, bad);
            g_failures++;
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// rmsnorm (Ops.rmsNorm)

static void ref_rmsnorm(const float* x, float* out, const float* weight, int dim, float eps) {
    float sumSquares = 0;
    for (int j = 0; j < dim; j++) {
        sumSquares += x[j] * x[j];
    }
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(sumSquares / dim + eps)));
    for (int j = 0; j < dim; j++) {
        out[j] = weight[j] * (x[j] * scale);
    }
}

static void test_rmsnorm() {
    Rng rng(2);
    for (int hidden : {72, 100, 4096}) {
        for (int n : {1, 3, 17}) {
            const float eps = 1e-6f;
            const int rows = n + 2;
            Buf<float> x(random_f32(rng, static_cast<size_t>(rows) * hidden, 2.f));
            Buf<float> delta(random_f32(rng, static_cast<size_t>(rows) * hidden, 1.f));
            Buf<uint16_t> weight(random_bf16(rng, hidden, 1.5f));
            std::vector<int> idx(n);
            for (int i = 0; i < n; i++) {
                idx[i] = (i * 7 + 1) % rows;
            }
            const bool gather = n == 3;
            Buf<int> rowIndex(idx);
            Buf<float> out(static_cast<size_t>(n) * hidden);
            Buf<uint16_t> outB(static_cast<size_t>(n) * hidden);
            out.poison();
            outB.poison();
            std::vector<float> x0 = x.host;
            expect_ok(dms_rmsnorm(x.dev, delta.dev, weight.dev, gather ? rowIndex.dev : nullptr, n, hidden, eps, out.dev,
                                  outB.dev, nullptr),
                      "rmsnorm");
            out.down();
            outB.down();
            x.down();
            std::vector<float> w(hidden), want(static_cast<size_t>(n) * hidden), wantB(want.size()),
                gotB(want.size()), xs(x0);
            for (int j = 0; j < hidden; j++) {
                w[j] = from_bf16(weight[j]);
            }
            for (int i = 0; i < n; i++) {
                const int r = gather ? idx[i] : i;
                float* xr = &xs[static_cast<size_t>(r) * hidden];
                for (int j = 0; j < hidden; j++) {
                    xr[j] += delta[static_cast<size_t>(r) * hidden + j];
                }
                ref_rmsnorm(xr, &want[static_cast<size_t>(i) * hidden], w.data(), hidden, eps);
            }
            for (size_t e = 0; e < want.size(); e++) {
                gotB[e] = from_bf16(outB[e]);
                wantB[e] = want[e];
            }
            expect_close("rmsnorm x+=delta", x.host.data(), xs.data(), xs.size(), 0, 0);
            expect_close("rmsnorm out", out.host.data(), want.data(), want.size(), 1e-6, 2e-6);
            expect_close("rmsnorm outBf16", gotB.data(), wantB.data(), want.size(), 1e-6, 1.0 / 128);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// qknorm_rope (CpuBackend.step: q_norm/k_norm, decide, rotate, zeroDecisionChannel)

static std::vector<float2> rope_table(int D, double theta, int positions) {
    const int half = D / 2;
    std::vector<double> inv(half);
    for (int i = 0; i < half; i++) {
        inv[i] = 1.0 / std::pow(theta, (2.0 * i) / D);
    }
    std::vector<float2> t(static_cast<size_t>(positions) * half);
    for (int p = 0; p < positions; p++) {
        for (int i = 0; i < half; i++) {
            const double angle = p * inv[i];
            t[static_cast<size_t>(p) * half + i] = make_float2(static_cast<float>(std::cos(angle)), static_cast<float>(std::sin(angle)));
        }
    }
    return t;
}

static void ref_rotate(float* x, const float2* row, int half) {
    for (int i = 0; i < half; i++) {
        const float c = row[i].x, s = row[i].y;
        const float x1 = x[i], x2 = x[half + i];
        x[i] = x1 * c - x2 * s;
        x[half + i] = x2 * c + x1 * s;
    }
}

static void test_qknorm_rope() {
    Rng rng(3);
    struct Case {
        int heads, kvHeads, D, n;
        bool dms;
    };
    for (Case c : {Case{4, 2, 32, 17, true}, Case{8, 2, 128, 3, true}, Case{6, 3, 36, 5, false}, Case{4, 4, 4, 1, true},
                   Case{2, 1, 200, 2, true}, Case{6, 2, 64, 9, true}, Case{32, 8, 128, 37, true}}) {
        const int layers = 3, layer = 1, ropePositions = 300;
        const float eps = 1e-6f;
        const int qStride = (c.heads + 2 * c.kvHeads) * c.D;  // fused q|k|v rows
        std::vector<float> qkv0 = random_f32(rng, static_cast<size_t>(c.n) * qStride, 3.f);
        // Some decision channels near the threshold, on both sides.
        Buf<float> qkv(qkv0);
        float* k = qkv.dev + c.heads * c.D;
        Buf<uint16_t> qn(random_bf16(rng, c.D, 1.5f)), kn(random_bf16(rng, c.D, 1.5f));
        auto table = rope_table(c.D, 1e6, ropePositions);
        Buf<float2> rope(table);
        std::vector<int> pos(c.n), seq(c.n);
        for (int i = 0; i < c.n; i++) {
            seq[i] = i < c.n / 2 ? 0 : 1;
            pos[i] = rng.below(ropePositions);
        }
        Buf<int> positions(pos), seqOf(seq);
        std::vector<float> thr = {0.f, 0.f, 0.5f, 0.1f, -0.2f, 1e30f};  // (S, layers)
        thr[static_cast<size_t>(1) * layers + layer] = INFINITY;          // sequence 1: policy none
        thr[layer] = 0.05f;
        Buf<float> thresholds(thr);
        Buf<unsigned char> decisions(static_cast<size_t>(c.n) * layers * c.kvHeads);
        decisions.poison();
        const double alphaScale = 100.0, alphaOffset = 5.0;
        expect_ok(dms_qknorm_rope(qkv.dev, qStride, k, qStride, qn.dev, kn.dev, rope.dev, ropePositions, positions.dev, c.n,
                                  c.heads, c.kvHeads, c.D, eps, c.dms ? 1 : 0, alphaScale, alphaOffset, seqOf.dev,
                                  thresholds.dev, layers, layer, decisions.dev, nullptr),
                  "qknorm_rope");
        qkv.down();
        decisions.down();
        std::vector<float> want = qkv0, qw(c.D), kw(c.D);
        for (int j = 0; j < c.D; j++) {
            qw[j] = from_bf16(qn[j]);
            kw[j] = from_bf16(kn[j]);
        }
        const int G = c.heads / c.kvHeads;
        std::vector<unsigned char> wantDecisions = decisions.host;
        for (int i = 0; i < c.n; i++) {
            float* row = &want[static_cast<size_t>(i) * qStride];
            for (int h = 0; h < c.heads; h++) {
                ref_rmsnorm(row + h * c.D, row + h * c.D, qw.data(), c.D, eps);
            }
            for (int h = 0; h < c.kvHeads; h++) {
                ref_rmsnorm(row + (c.heads + h) * c.D, row + (c.heads + h) * c.D, kw.data(), c.D, eps);
            }
            if (c.dms) {
                for (int h = 0; h < c.kvHeads; h++) {
                    float& ch = row[(h * G) * c.D + c.D - 1];
                    const float logit = static_cast<float>(ch * alphaScale - alphaOffset);
                    wantDecisions[(static_cast<size_t>(i) * layers + layer) * c.kvHeads + h] =
                        logit > thr[static_cast<size_t>(seq[i]) * layers + layer];
                    ch = 0.f;
                }
            }
            for (int h = 0; h < c.heads + c.kvHeads; h++) {
                ref_rotate(row + h * c.D, &table[static_cast<size_t>(pos[i]) * (c.D / 2)], c.D / 2);
            }
            if (c.dms) {
                for (int h = 0; h < c.kvHeads; h++) {
                    row[(h * G) * c.D + c.D - 1] = 0.f;
                }
            }
        }
        expect_close("qknorm_rope q|k (v untouched)", qkv.host.data(), want.data(), want.size(), 2e-6, 2e-6);
        if (c.dms) {
            expect_equal("qknorm_rope decisions", decisions.host.data(), wantDecisions.data(), wantDecisions.size());
        }
    }
}

// A decode step (every sequence one token): dms_qknorm_rope_kv equals dms_qknorm_rope then dms_kv_write, bit for bit:
// q|k|v, decisions, both caches, slot positions and flags (the previous tokens' flags included); skipped slots
// (-1) and sequences without a previous slot too, with and without DMS.
static void test_qknorm_rope_kv() {
    Rng rng(31);
    struct Case {
        int heads, kvHeads, D, n;
        bool dms;
    };
    for (Case c : {Case{4, 2, 32, 7, true}, Case{8, 2, 128, 3, true}, Case{6, 3, 36, 5, false}, Case{4, 4, 4, 1, true},
                   Case{2, 1, 200, 2, true}, Case{6, 2, 64, 5, true}, Case{32, 8, 128, 9, false}}) {
        const int layers = 3, layer = 2, ropePositions = 300, pageSize = 4, pageCount = 40, S = c.n;
        const float eps = 1e-6f;
        const int stride = (c.heads + 2 * c.kvHeads) * c.D;
        std::vector<float> qkv0 = random_f32(rng, static_cast<size_t>(c.n) * stride, 3.f);
        Buf<uint16_t> qn(random_bf16(rng, c.D, 1.5f)), kn(random_bf16(rng, c.D, 1.5f));
        Buf<float2> rope(rope_table(c.D, 1e6, ropePositions));
        std::vector<int> pos(c.n), seq(c.n), firstH(S), lengthH(S, 1);
        for (int i = 0; i < c.n; i++) {
            seq[i] = i;
            firstH[i] = i;
            pos[i] = rng.below(ropePositions);
        }
        std::vector<float> thr(static_cast<size_t>(S) * layers);
        for (auto& t : thr) {
            t = (rng.below(5) - 2) * 0.05f;
        }
        std::vector<int> slotsH(static_cast<size_t>(layers) * c.kvHeads * c.n, -9), prevH(static_cast<size_t>(layers) * c.kvHeads * S, -9);
        std::vector<int> free(pageSize * pageCount);
        for (int i = 0; i < static_cast<int>(free.size()); i++) {
            free[i] = i;
        }
        for (int i = static_cast<int>(free.size()) - 1; i > 0; i--) {
            std::swap(free[i], free[rng.below(i + 1)]);
        }
        int next = 0;
        for (int h = 0; h < c.kvHeads; h++) {
            for (int i = 0; i < c.n; i++) {
                slotsH[(static_cast<size_t>(layer) * c.kvHeads + h) * c.n + i] = (i == 1 && h == 0) ? -1 : free[next++];
                prevH[(static_cast<size_t>(layer) * c.kvHeads + h) * S + i] = i == 0 && c.n > 1 ? -1 : free[next++];
            }
        }
        Buf<int> positions(pos), seqOf(seq), first(firstH), length(lengthH), slots(slotsH), prev(prevH);
        Buf<float> thresholds(thr);
        struct Out {
            Buf<float> qkv;
            Buf<unsigned char> decisions;
            Buf<uint16_t> kc, vc;
            Buf<int> slotPos;
            Buf<unsigned char> slotFlag;
            Out(const std::vector<float>& qkv0, size_t decisionCount, size_t slotCount, int D)
                : qkv(qkv0), decisions(decisionCount), kc(slotCount * D), vc(slotCount * D),
                  slotPos(std::vector<int>(slotCount, -5)), slotFlag(std::vector<unsigned char>(slotCount, 7)) {
                decisions.poison();
                kc.poison();
                vc.poison();
            }
        };
        const size_t decisionCount = static_cast<size_t>(c.n) * layers * c.kvHeads;
        const size_t slotCount = static_cast<size_t>(pageSize) * pageCount;
        Out two(qkv0, decisionCount, slotCount, c.D), one(qkv0, decisionCount, slotCount, c.D);
        unsigned char* dec2 = c.dms ? two.decisions.dev : nullptr;
        unsigned char* dec1 = c.dms ? one.decisions.dev : nullptr;
        const int qh = c.heads * c.D, kvh = c.kvHeads * c.D;
        // the two kernels with qknorm_rope's general kernel, the one launch with the kernel made for D (128)
        launch_qknorm_rope(two.qkv.dev, stride, two.qkv.dev + qh, stride, qn.dev, kn.dev, rope.dev, ropePositions,
                           positions.dev, c.n, c.heads, c.kvHeads, c.D, eps, c.dms ? 1 : 0, 100.0, 5.0, seqOf.dev,
                           thresholds.dev, layers, layer, dec2, false, nullptr);
        expect_ok(cudaGetLastError(), "qknorm_rope (general kernel)");
        expect_ok(dms_kv_write(two.qkv.dev + qh, stride, two.qkv.dev + qh + kvh, stride, slots.dev, prev.dev, dec2,
                               positions.dev, seqOf.dev, first.dev, length.dev, c.n, S, layers, layer, c.kvHeads, c.D,
                               two.kc.dev, two.vc.dev, two.slotPos.dev, two.slotFlag.dev, nullptr),
                  "kv_write");
        expect_ok(dms_qknorm_rope_kv(one.qkv.dev, stride, one.qkv.dev + qh, stride, qn.dev, kn.dev, rope.dev, ropePositions,
                                     positions.dev, c.n, c.heads, c.kvHeads, c.D, eps, c.dms ? 1 : 0, 100.0, 5.0,
                                     seqOf.dev, thresholds.dev, layers, layer, dec1, one.qkv.dev + qh + kvh, stride,
                                     slots.dev, prev.dev, S, one.kc.dev, one.vc.dev, one.slotPos.dev, one.slotFlag.dev,
                                     nullptr),
                  "qknorm_rope_kv");
        for (Out* o : {&two, &one}) {
            o->qkv.down();
            o->decisions.down();
            o->kc.down();
            o->vc.down();
            o->slotPos.down();
            o->slotFlag.down();
        }
        auto same = [&](const char* what, const void* a, const void* b, size_t bytes) {
            g_checks++;
            if (memcmp(a, b, bytes) != 0) {
                fprintf(stderr, "FAIL qknorm_rope_kv heads=%d D=%d n=%d dms=%d: %s differ from the two kernels'\n",
                        c.heads, c.D, c.n, c.dms, what);
                g_failures++;
            }
        };
        same("q|k|v", one.qkv.host.data(), two.qkv.host.data(), qkv0.size() * 4);
        same("decisions", one.decisions.host.data(), two.decisions.host.data(), one.decisions.size());
        same("keys", one.kc.host.data(), two.kc.host.data(), one.kc.size() * 2);
        same("values", one.vc.host.data(), two.vc.host.data(), one.vc.size() * 2);
        same("slot positions", one.slotPos.host.data(), two.slotPos.host.data(), one.slotPos.size() * 4);
        same("slot flags", one.slotFlag.host.data(), two.slotFlag.host.data(), one.slotFlag.size());
        int flagged = 0;
        for (size_t e = 0; e < one.slotFlag.size(); e++) {
            flagged += one.slotFlag[e] == 1;
        }
        g_checks++;
        if (c.dms && flagged == 0) {
            fprintf(stderr, "FAIL qknorm_rope_kv heads=%d D=%d: no previous slot was flagged (the test checks nothing)\n",
                    c.heads, c.D);
            g_failures++;
        }
    }
}

// The kernel made for D = 128 (dms_qknorm_rope_f32_d128, Qwen3's head size) against the general one, bit for bit: q|k
// and the decisions, values near the threshold on both sides, odd token counts, G 1 to 4; and D = 64, which has no
// kernel of its own (the host entry then takes the general one: the case checks the host entry's choice).
static void test_qknorm_rope_dims() {
    Rng rng(47);
    struct Case {
        int heads, kvHeads, D, n;
        bool dms;
    };
    for (Case c : {Case{32, 8, 128, 37, true}, Case{8, 8, 128, 5, true}, Case{6, 2, 64, 23, true},
                   Case{4, 4, 64, 3, false}, Case{16, 4, 128, 1, false}}) {
        const int layers = 2, layer = 1, ropePositions = 500;
        const int stride = (c.heads + 2 * c.kvHeads) * c.D + 3;  // fused q|k|v rows, padded
        std::vector<float> qkv0 = random_f32(rng, static_cast<size_t>(c.n) * stride, 3.f);
        Buf<uint16_t> qn(random_bf16(rng, c.D, 1.5f)), kn(random_bf16(rng, c.D, 1.5f));
        Buf<float2> rope(rope_table(c.D, 1e6, ropePositions));
        std::vector<int> pos(c.n), seq(c.n);
        for (int i = 0; i < c.n; i++) {
            seq[i] = i % 3;
            pos[i] = rng.below(ropePositions);
        }
        Buf<int> positions(pos), seqOf(seq);
        std::vector<float> thr = {0.f, 0.05f, 0.2f, -0.1f, -0.3f, 0.f};  // (S, layers)
        Buf<float> thresholds(thr);
        const size_t decisionCount = static_cast<size_t>(c.n) * layers * c.kvHeads;
        Buf<float> general(qkv0), byDim(qkv0);
        Buf<unsigned char> generalDecisions(decisionCount), byDimDecisions(decisionCount);
        generalDecisions.poison();
        byDimDecisions.poison();
        const int qh = c.heads * c.D;
        // the general kernel through its launcher; the host entry's choice by D
        launch_qknorm_rope(general.dev, stride, general.dev + qh, stride, qn.dev, kn.dev, rope.dev, ropePositions,
                           positions.dev, c.n, c.heads, c.kvHeads, c.D, 1e-6f, c.dms ? 1 : 0, 10.0, 0.5, seqOf.dev,
                           thresholds.dev, layers, layer, generalDecisions.dev, false, nullptr);
        expect_ok(cudaGetLastError(), "qknorm_rope (general kernel)");
        expect_ok(dms_qknorm_rope(byDim.dev, stride, byDim.dev + qh, stride, qn.dev, kn.dev, rope.dev, ropePositions,
                                  positions.dev, c.n, c.heads, c.kvHeads, c.D, 1e-6f, c.dms ? 1 : 0, 10.0, 0.5,
                                  seqOf.dev, thresholds.dev, layers, layer, byDimDecisions.dev, nullptr),
                  "qknorm_rope");
        general.down();
        byDim.down();
        generalDecisions.down();
        byDimDecisions.down();
        g_checks += 2;
        if (memcmp(general.host.data(), byDim.host.data(), qkv0.size() * 4) != 0) {
            fprintf(stderr, "FAIL qknorm_rope_dims heads=%d D=%d n=%d: q|k differ from the general kernel's\n", c.heads,
                    c.D, c.n);
            g_failures++;
        }
        if (memcmp(generalDecisions.host.data(), byDimDecisions.host.data(), decisionCount) != 0) {
            fprintf(stderr, "FAIL qknorm_rope_dims heads=%d D=%d n=%d: decisions differ from the general kernel's\n",
                    c.heads, c.D, c.n);
            g_failures++;
        }
        int flagged = 0;
        for (size_t e = 0; e < decisionCount; e++) {
            flagged += generalDecisions[e] == 1;
        }
        g_checks++;
        if (c.dms && (flagged == 0 || flagged == c.n * c.kvHeads)) {
            fprintf(stderr, "FAIL qknorm_rope_dims heads=%d D=%d: %d of %d decisions flag (the test checks nothing)\n",
                    c.heads, c.D, flagged, c.n * c.kvHeads);
            g_failures++;
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// matmul: GEMV (fp32 x) and tensor cores (bf16 a)

// The GEMV tests' shapes (n tokens, m rows, k), the plain and the norm one alike: odd sizes, k % 8 != 0 for the scalar
// path, 2 to 8 tokens; and the SwiGLU GEMV's (n, inter, k). Rows of x are padded past k (gemv_ldx).
struct GemvCase {
    int n, m, k;
};
static const GemvCase kGemvCases[] = {{1, 77, 72}, {3, 100, 256}, {8, 33, 1000}, {5, 64, 100}, {2, 300, 4096},
                                      {1, 5, 13},  {7, 129, 8}};
static const GemvCase kGemvSwigluCases[] = {{1, 77, 72}, {3, 100, 256}, {8, 33, 1000}, {5, 300, 96},
                                            {1, 5, 13},  {2, 129, 8},   {1, 2048, 512}};

static int gemv_ldx(int k) {
    return k + (k % 8 == 0 ? 8 : 3);
}

// A product's output before its launch: random values to add to when it accumulates, else poisoned; what it held.
static std::vector<float> start_output(Rng& rng, Buf<float>& out, int accumulate) {
    if (accumulate) {
        out.host = random_f32(rng, out.size(), 1.f);
        out.up();
    } else {
        out.poison();
    }
    return out.host;
}

static void test_gemv() {
    Rng rng(4);
    for (const GemvCase& c : kGemvCases) {
        for (int accumulate : {0, 1}) {
            const int ldx = gemv_ldx(c.k), ldy = c.m + 5;
            Buf<float> x(random_f32(rng, static_cast<size_t>(c.n) * ldx, 1.f));
            Buf<uint16_t> w(random_bf16(rng, static_cast<size_t>(c.m) * c.k, 1.f));
            Buf<float> y(static_cast<size_t>(c.n) * ldy);
            std::vector<float> y0 = start_output(rng, y, accumulate);
            expect_ok(dms_gemv(x.dev, ldx, w.dev, y.dev, ldy, c.n, c.m, c.k, accumulate, multiprocessors(), nullptr), "gemv");
            y.down();
            std::vector<float> got, want;
            std::vector<double> mag;
            for (int t = 0; t < c.n; t++) {
                for (int r = 0; r < c.m; r++) {
                    double s = 0, a = 0;
                    for (int j = 0; j < c.k; j++) {
                        const double p = static_cast<double>(from_bf16(w[static_cast<size_t>(r) * c.k + j])) * x[static_cast<size_t>(t) * ldx + j];
                        s += p;
                        a += std::fabs(p);
                    }
                    if (accumulate) {
                        s += y0[static_cast<size_t>(t) * ldy + r];
                    }
                    got.push_back(y[static_cast<size_t>(t) * ldy + r]);
                    want.push_back(static_cast<float>(s));
                    mag.push_back(a);
                }
            }
            // fp32 accumulation of k products: error bound ~ k * 2^-24 * sum |products|.
            for (size_t e = 0; e < got.size(); e++) {
                const float tol = static_cast<float>(mag[e] * 4e-7 * std::sqrt(static_cast<double>(c.k)) + 1e-6);
                g_checks++;
                if (!(std::fabs(got[e] - want[e]) <= tol)) {
                    fprintf(stderr, "FAIL gemv n=%d m=%d k=%d acc=%d [%zu]: got %g want %g\n", c.n, c.m, c.k, accumulate, e,
                            got[e], want[e]);
                    g_failures++;
                    break;
                }
            }
            // Padding between rows stays as it was.
            for (int t = 0; t < c.n; t++) {
                for (int r = c.m; r < ldy; r++) {
                    g_checks++;
                    const float g = y[static_cast<size_t>(t) * ldy + r], w0 = y0[static_cast<size_t>(t) * ldy + r];
                    if (memcmp(&g, &w0, 4) != 0) {
                        fprintf(stderr, "FAIL gemv wrote outside (n, m) at (%d, %d)\n", t, r);
                        g_failures++;
                        t = c.n;
                        break;
                    }
                }
            }
        }
    }
}

// skinny_bench's cp.async-staged product (native/bench/skinny_cp.cuh) against the fatbin's skinny product: the same
// sums in another order, so within 1e-5 of the row's magnitude; a partial last stage, odd m, n from 1 to 16.
template <int NT, int STAGES, int KS>
static void check_skinny_cp(Rng& rng, const char* name) {
    struct Case {
        int n, m, k;
    };
    for (Case c : {Case{16, 77, 96}, Case{1, 40, 512}, Case{9, 300, 1056}, Case{16, 33, 2048}}) {
        const int lda = c.k + 8, ldc = c.m + 3;
        Buf<uint16_t> a(random_bf16(rng, static_cast<size_t>(c.n) * lda, 1.f));
        Buf<uint16_t> w(random_bf16(rng, static_cast<size_t>(c.m) * c.k, 1.f));
        Buf<float> want(static_cast<size_t>(c.n) * ldc), got(static_cast<size_t>(c.n) * ldc);
        want.poison();
        got.poison();
        expect_ok(dms_matmul_skinny(a.dev, lda, w.dev, want.dev, ldc, c.n, c.m, c.k, 0, 2, 1, nullptr), "skinny");
        const int grid = (c.m + 8 * NT - 1) / (8 * NT);
        // past 48 KB of dynamic shared memory for some configurations: opt in (a no-op on the emulator)
        cudaFuncSetAttribute(skinny_cp<NT, STAGES, KS>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             skinny_cp_smem<NT, STAGES, KS>());
        DMS_LAUNCH((skinny_cp<NT, STAGES, KS>), grid, 256, (skinny_cp_smem<NT, STAGES, KS>()), nullptr, a.dev, lda,
                   w.dev, got.dev, ldc, c.n, c.m, c.k, 0);
        want.down();
        got.down();
        for (int t = 0; t < c.n; t++) {
            float scale = 0.f;
            for (int j = 0; j < c.m; j++) {
                scale = std::max(scale, std::fabs(want[static_cast<size_t>(t) * ldc + j]));
            }
            for (int j = 0; j < ldc; j++) {
                const float x = got[static_cast<size_t>(t) * ldc + j], y = want[static_cast<size_t>(t) * ldc + j];
                g_checks++;
                const bool ok = j < c.m ? std::fabs(x - y) <= 1e-5f * scale + 1e-6f : memcmp(&x, &y, 4) == 0;
                if (!ok) {
                    fprintf(stderr, "FAIL %s n=%d m=%d k=%d at (%d, %d): got %g want %g\n", name, c.n, c.m, c.k, t, j, x, y);
                    g_failures++;
                    t = c.n;
                    break;
                }
            }
        }
    }
}

static void test_skinny_cp() {
    Rng rng(61);
    check_skinny_cp<2, 4, 512>(rng, "skinny_cp n2 s4 k512");
    check_skinny_cp<4, 3, 256>(rng, "skinny_cp n4 s3 k256");
    check_skinny_cp<1, 4, 1024>(rng, "skinny_cp n1 s4 k1024");
}

// A product's inputs: bf16 activations and fp32 ones of the same shape (the split kernels'), W, and c (n, ldc), random
// when accumulating, else poisoned; c0 keeps c as it was, padding past m included.
struct ProductInputs {
    int n, m, k, lda, ldc, accumulate;
    Buf<uint16_t> a;
    Buf<float> af;
    Buf<uint16_t> w;
    Buf<float> out;
    std::vector<float> c0;
    ProductInputs(Rng& rng, int n_, int m_, int k_, int lda_, int ldc_, int accumulate_)
        : n(n_), m(m_), k(k_), lda(lda_), ldc(ldc_), accumulate(accumulate_),
          a(random_bf16(rng, static_cast<size_t>(n_) * lda_, 1.f)), af(random_f32(rng, static_cast<size_t>(n_) * lda_, 1.f)),
          w(random_bf16(rng, static_cast<size_t>(m_) * k_, 1.f)), out(static_cast<size_t>(n_) * ldc_) {
        c0 = start_output(rng, out, accumulate);
    }
};

// The product in p.out (brought down here) against double sums of the activations (bf16, or the fp32 ones when split)
// times W: within 1e-6 sqrt(k) of the sum of |products| (plus 2^-16 of it when split, a bound that bf16 activations,
// 2^-9, miss by far), and the padding past m untouched. One failure counted per call, at most 3 elements printed.
static void check_product(const char* what, ProductInputs& p, bool split) {
    p.out.down();
    int bad = 0;
    for (int t = 0; t < p.n && bad < 3; t++) {
        for (int r = 0; r < p.ldc && bad < 3; r++) {
            const float g = p.out[static_cast<size_t>(t) * p.ldc + r];
            const float before = p.c0[static_cast<size_t>(t) * p.ldc + r];
            g_checks++;
            if (r >= p.m) {
                if (memcmp(&g, &before, 4) != 0) {
                    fprintf(stderr, "FAIL %s n=%d m=%d k=%d acc=%d: wrote past m at (%d,%d)\n", what, p.n, p.m, p.k,
                            p.accumulate, t, r);
                    bad++;
                }
                continue;
            }
            double sum = p.accumulate ? before : 0.0, mag = 0;
            for (int j = 0; j < p.k; j++) {
                const size_t at = static_cast<size_t>(t) * p.lda + j;
                const double x = split ? static_cast<double>(p.af[at]) : static_cast<double>(from_bf16(p.a[at]));
                const double product = x * from_bf16(p.w[static_cast<size_t>(r) * p.k + j]);
                sum += product;
                mag += std::fabs(product);
            }
            const double tol = mag * ((split ? 0x1.0p-16 : 0.0) + 1e-6 * std::sqrt(static_cast<double>(p.k))) + 1e-5;
            if (!(std::fabs(g - sum) <= tol)) {
                fprintf(stderr, "FAIL %s n=%d m=%d k=%d acc=%d at (%d,%d): got %g want %g\n", what, p.n, p.m, p.k,
                        p.accumulate, t, r, g, sum);
                bad++;
            }
        }
    }
    if (bad) {
        g_failures++;
    }
}

// The tensor-core products (matmul.cu: tiled, split-K, skinny plain and double-buffered) against double sums, bf16 and
// split activations (checked: the same fp32 activations rounded to bf16 fail the split bound).
static void test_matmul() {
    Rng rng(5);
    struct Case {
        int n, m, k, lda;
    };
    for (Case c : {Case{17, 77, 72, 72}, Case{100, 130, 136, 144}, Case{9, 256, 64, 64}, Case{130, 40, 100, 100},
                   Case{65, 129, 33, 35}, Case{16, 75, 288, 296}, Case{33, 40, 64, 72}, Case{1, 70, 512, 512},
                   Case{64, 33, 96, 96}, Case{24, 48, 2048, 2056}}) {
        for (int split : {0, 1})
        for (int accumulate : {0, 1})
        // split-K (decode batches): the same sums, added split by split; 0: skinny; -1: skinny, double-buffered
        for (int splits : {1, 3, 0, -1}) {
            if (splits <= 0 && (c.n > 64 || c.k % 32 != 0 || c.lda % 8 != 0)) {
                continue;
            }
            Buf<float> workspace(static_cast<size_t>(std::max(splits, 1)) * c.n * c.m);
            workspace.poison();
            ProductInputs p(rng, c.n, c.m, c.k, c.lda, c.m + 3, accumulate);
            const int tiles = c.n % 2 == 0 ? 2 : 4;
            if (splits <= 0) {
                expect_ok(split ? dms_matmul_skinny_split(p.af.dev, c.lda, p.w.dev, p.out.dev, p.ldc, c.n, c.m, c.k,
                                                          accumulate, tiles, splits < 0 ? 1 : 0, nullptr)
                                : dms_matmul_skinny(p.a.dev, c.lda, p.w.dev, p.out.dev, p.ldc, c.n, c.m, c.k, accumulate,
                                                    tiles, splits < 0 ? 1 : 0, nullptr),
                          "matmul_skinny");
            } else {
                expect_ok(split ? dms_matmul_split(p.af.dev, c.lda, p.w.dev, p.out.dev, p.ldc, c.n, c.m, c.k,
                                                   accumulate, splits, workspace.dev, nullptr)
                                : dms_matmul(p.a.dev, c.lda, p.w.dev, p.out.dev, p.ldc, c.n, c.m, c.k, accumulate,
                                             splits, workspace.dev, nullptr),
                          "matmul");
            }
            const std::string what = std::string(split ? "matmul split" : "matmul") + " splits=" + std::to_string(splits);
            check_product(what.c_str(), p, split);
        }
    }
}

// The warpgroup products (matmul_sm90.cu) against double sums: odd n, m and k (partial tiles in every direction, a
// k tail of 8), enough k tiles to reuse every pipeline stage, more token tiles than a raster group, both tile widths,
// bf16 and split, c = and c +=, k unsplit and split 2 and 3 ways (uneven: the last split shorter; 3 ways of 4 k tiles
// gives 2 splits; 1 k tile stays unsplit; a split of one tile) on a poisoned workspace. The emulator runs each wgmma
// when its thread waits for it, so a stage overwritten too early shows here.
static void test_matmul_wg() {
    Rng rng(29);
    struct Case {
        int n, m, k, lda;
    };
    for (Case c : {Case{130, 300, 520, 528}, Case{1, 7, 8, 8}, Case{64, 256, 64, 64}, Case{129, 129, 200, 200},
                   Case{200, 40, 1032, 1040}, Case{70, 136, 136, 136}, Case{1100, 300, 72, 80}}) {
        // Case{70, 136, ...}: 3 k tiles, so 3 ways is a tile a split, the last one's k tail of 8; the last case: two
        // groups of token tiles
        for (int split : {0, 1})
        for (int bn : {128, 256})
        for (int accumulate : {0, 1})
        for (int splits : {1, 2, 3}) {
            if (splits > 1 && c.n > 200) {
                continue;  // the split cases' partial tiles and stages are the small cases'; the big one costs
            }
            Buf<float> workspace(static_cast<size_t>(splits) * c.n * c.m);
            workspace.poison();
            ProductInputs p(rng, c.n, c.m, c.k, c.lda, c.m + 5, accumulate);
            const cudaError_t e = split ? dms_matmul_wg_split(p.af.dev, c.lda, p.w.dev, p.out.dev, p.ldc, c.n, c.m, c.k,
                                                              accumulate, bn, splits, workspace.dev, nullptr)
                                        : dms_matmul_wg(p.a.dev, c.lda, p.w.dev, p.out.dev, p.ldc, c.n, c.m, c.k,
                                                        accumulate, bn, splits, workspace.dev, nullptr);
            if (e == cudaErrorNotSupported) {
                fprintf(stderr, "matmul_wg: not on this device (compute 9.0 only); nothing checked\n");
                return;
            }
            expect_ok(e, "matmul_wg");
            const std::string what = std::string(split ? "matmul_wg split" : "matmul_wg") + " bn=" + std::to_string(bn) +
                                     " splits=" + std::to_string(splits);
            check_product(what.c_str(), p, split);
        }
    }
}

// The product in p.out (already brought down) bit for bit the 256-feature warpgroup kernel's (want) on the same inputs.
static void expect_wg_bits(const std::string& what, const std::vector<float>& want, const ProductInputs& p) {
    g_checks++;
    if (memcmp(want.data(), p.out.host.data(), want.size() * 4) != 0) {
        size_t at = 0;
        while (at < want.size() && memcmp(&want[at], &p.out.host[at], 4) == 0) {
            at++;
        }
        fprintf(stderr, "FAIL %s n=%d m=%d k=%d acc=%d: differs from matmul_wg bn=256 at %zu (%g, want %g)\n",
                what.c_str(), p.n, p.m, p.k, p.accumulate, at, p.out.host[at], want[at]);
        g_failures++;
    }
}

// The warp-specialised 256-feature products (dms_matmul_ws{,_split}: a producer warpgroup filling the stages, two
// consumer warpgroups, mbarriers between them; dms_matmul_wsp{,_split}: persistent, 1 to 3 blocks a split each taking
// several tiles, the stages' phases running on across them) on test_matmul_wg's cases: against double sums, and bit for bit against
// dms_matmul_wg{,_split} with bn 256 on the same inputs (the same sums in the same order). The emulator blocks a
// thread that waits on an mbarrier until an arrive completes its phase, runs each wgmma when its thread waits for it,
// and (DMS_EMU_COPIES=eager) lands a cp.async when issued: a stage refilled before its consumers released it, or read
// before its producer arrived, shows here; a missing arrive deadlocks.
static void test_matmul_ws() {
    Rng rng(31);
    struct Case {
        int n, m, k, lda;
    };
    for (Case c : {Case{130, 300, 520, 528}, Case{1, 7, 8, 8}, Case{64, 256, 64, 64}, Case{129, 129, 200, 200},
                   Case{200, 40, 1032, 1040}, Case{70, 136, 136, 136}, Case{1100, 300, 72, 80},
                   Case{3, 520, 960, 968}}) {
        // the last case: 15 k tiles, each stage refilled four or five times, and three feature tiles for 1 token tile
        for (int split : {0, 1})
        for (int accumulate : {0, 1})
        for (int splits : {1, 2, 3}) {
            if (splits > 1 && c.n > 200) {
                continue;
            }
            Buf<float> workspace(static_cast<size_t>(splits) * c.n * c.m);
            workspace.poison();
            ProductInputs p(rng, c.n, c.m, c.k, c.lda, c.m + 5, accumulate);
            // kind 0: the 256-thread kernel, 1: warp-specialised, 2: persistent with `blocks` blocks a split
            const int blocks = 1 + (c.n + c.m + splits) % 3;
            auto run = [&](int kind) {
                p.out.host = p.c0;
                p.out.up();
                if (kind == 2) {
                    return split ? dms_matmul_wsp_split(p.af.dev, c.lda, p.w.dev, p.out.dev, p.ldc, c.n, c.m, c.k,
                                                        accumulate, 256, splits, workspace.dev, blocks, nullptr)
                                 : dms_matmul_wsp(p.a.dev, c.lda, p.w.dev, p.out.dev, p.ldc, c.n, c.m, c.k, accumulate,
                                                  256, splits, workspace.dev, blocks, nullptr);
                }
                if (split) {
                    return (kind == 1 ? dms_matmul_ws_split : dms_matmul_wg_split)(
                        p.af.dev, c.lda, p.w.dev, p.out.dev, p.ldc, c.n, c.m, c.k, accumulate, 256, splits,
                        workspace.dev, nullptr);
                }
                return (kind == 1 ? dms_matmul_ws : dms_matmul_wg)(p.a.dev, c.lda, p.w.dev, p.out.dev, p.ldc, c.n,
                                                                    c.m, c.k, accumulate, 256, splits, workspace.dev,
                                                                    nullptr);
            };
            const cudaError_t e0 = run(0);
            if (e0 == cudaErrorNotSupported) {
                fprintf(stderr, "matmul_ws: not on this device (compute 9.0 only); nothing checked\n");
                return;
            }
            expect_ok(e0, "matmul_wg");
            p.out.down();
            const std::vector<float> want = p.out.host;
            for (int kind : {1, 2}) {
                expect_ok(run(kind), kind == 1 ? "matmul_ws" : "matmul_wsp");
                const std::string what = std::string(kind == 1 ? "matmul_ws" : "matmul_wsp blocks=" +
                                                     std::to_string(blocks)) + (split ? " split" : "") + " splits=" +
                                         std::to_string(splits);
                check_product(what.c_str(), p, split);  // brings p.out down
                expect_wg_bits(what, want, p);
            }
        }
    }
}

// The bulk-copy products (matmul_sm90_bulk.cu: W's image made once by dms_tile_weights, A's by the launcher, one
// producer thread's cp.async.bulk per stage, two consumer warpgroups, mbarriers with transaction bytes) on
// test_matmul_ws's cases and a few more: against double sums, and bit for bit against dms_matmul_wg{,_split} with bn
// 256 on the same inputs (the same sums in the same order), persistent over 1 to 3 blocks and over every tile; images
// poisoned first, so that a tile the launcher leaves unwritten shows. The emulator lands a bulk copy when its
// mbarrier's phase completes (with DMS_EMU_COPIES=eager also when issued), runs each wgmma when its thread waits for
// it (DMS_EMU_WGMMA=early: when issued): a stage read before its copies completed, or refilled before its consumers
// released it, shows here; a missing arrive deadlocks.
static void test_matmul_bk() {
    Rng rng(37);
    struct Case {
        int n, m, k, lda;
    };
    for (Case c : {Case{130, 300, 520, 528}, Case{1, 7, 8, 8}, Case{64, 256, 64, 64}, Case{129, 129, 200, 200},
                   Case{200, 40, 1032, 1040}, Case{70, 136, 136, 136}, Case{1100, 300, 72, 80},
                   Case{3, 520, 960, 968}, Case{257, 513, 264, 264}}) {
        for (int split : {0, 1})
        for (int accumulate : {0, 1}) {
            // ldc odd or even by case and accumulate: the epilogue's paired stores (and c +='s paired loads of the
            // old values) where c's rows are 8-byte aligned, one float at a time where they are not
            const int ldc = c.m + ((c.n + accumulate) % 2 == 0 ? 6 : 5);
            ProductInputs p(rng, c.n, c.m, c.k, c.lda, ldc, accumulate);
            Buf<unsigned char> wImage(static_cast<size_t>(matmul_bk_image_bytes(c.m, c.k, 256, false)));
            Buf<unsigned char> aImage(static_cast<size_t>(matmul_bk_image_bytes(c.n, c.k, 128, split != 0)));
            wImage.poison();
            const cudaError_t e0 = split ? dms_matmul_wg_split(p.af.dev, c.lda, p.w.dev, p.out.dev, p.ldc, c.n, c.m,
                                                               c.k, accumulate, 256, 1, nullptr, nullptr)
                                         : dms_matmul_wg(p.a.dev, c.lda, p.w.dev, p.out.dev, p.ldc, c.n, c.m, c.k,
                                                         accumulate, 256, 1, nullptr, nullptr);
            if (e0 == cudaErrorNotSupported) {
                fprintf(stderr, "matmul_bk: not on this device (compute 9.0 only); nothing checked\n");
                return;
            }
            expect_ok(e0, "matmul_wg");
            p.out.down();
            const std::vector<float> want = p.out.host;
            expect_ok(dms_tile_weights(p.w.dev, c.m, c.k, wImage.dev, nullptr), "tile_weights");
            const int tiles = (c.n + 127) / 128 * ((c.m + 255) / 256);
            for (int blocks : {1 + (c.n + c.m) % 3, tiles}) {
                p.out.host = p.c0;
                p.out.up();
                aImage.poison();
                expect_ok(split ? dms_matmul_bk_split(p.af.dev, c.lda, wImage.dev, aImage.dev, p.out.dev, p.ldc, c.n,
                                                      c.m, c.k, accumulate, blocks, nullptr)
                                : dms_matmul_bk(p.a.dev, c.lda, wImage.dev, aImage.dev, p.out.dev, p.ldc, c.n, c.m, c.k,
                                                accumulate, blocks, nullptr),
                          "matmul_bk");
                const std::string what = std::string("matmul_bk") + (split ? " split" : "") + " blocks=" +
                                         std::to_string(blocks);
                check_product(what.c_str(), p, split);  // brings p.out down
                expect_wg_bits(what, want, p);
            }
        }
    }
    // The entries refuse what the kernels cannot take, before any launch.
    Buf<float> f(64);
    Buf<uint16_t> h(64);
    Buf<unsigned char> img(64);
    const cudaError_t refused[] = {
        dms_tile_weights(h.dev, 1, 12, img.dev, nullptr),                                       // k % 8
        dms_tile_weights(h.dev, 0, 8, img.dev, nullptr),                                        // m
        dms_matmul_bk(h.dev, 8, img.dev, img.dev, f.dev, 1, 1, 1, 8, 0, 0, nullptr),            // blocks
        dms_matmul_bk_split(f.dev, 4, img.dev, img.dev, f.dev, 1, 1, 1, 8, 0, 1, nullptr),      // lda < k
        dms_matmul_bk_split(f.dev, 8, img.dev + 8, img.dev, f.dev, 1, 1, 1, 8, 0, 1, nullptr),  // image alignment
        dms_matmul_bk(h.dev, DMS_MAX_K + 64, img.dev, img.dev, f.dev, 1, 1, 1, DMS_MAX_K + 64, 0, 1, nullptr),
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        g_checks++;
        if (refused[i] != cudaErrorInvalidValue) {
            fprintf(stderr, "FAIL matmul_bk: entry case %zu not refused (%d)\n", i, static_cast<int>(refused[i]));
            g_failures++;
        }
    }
}

// The warpgroup decode-batch products (matmul_sm90_skinny.cu) against double sums: 1 to 32 tokens (both tiles of
// tokens), odd m (a partial
// feature tile) and k (a k tail of 8), enough k tiles to reuse every stage and rotate the split's high/rest pairs,
// k split 1 to 8 ways and as many as it has tiles (uneven splits, the last-block reduction) on a poisoned workspace,
// bf16 and split, c = and c +=. One counters buffer serves every case, as MatMulKernel's serves every product; each
// case runs twice: the second launch needs the counters the first one's last blocks reset, and gives the same bits.
// Run 0 keeps its output in first; run 1 (the tile counters that run 0's last blocks reset) must give the same bits.
static void expect_repeat(const std::string& what, std::vector<float>& first, const std::vector<float>& got, int run,
                          int n, int m, int k) {
    if (run == 0) {
        first = got;
        return;
    }
    g_checks++;
    if (memcmp(first.data(), got.data(), first.size() * 4) != 0) {
        fprintf(stderr, "FAIL %s n=%d m=%d k=%d: the second launch differs from the first\n", what.c_str(), n, m, k);
        g_failures++;
    }
}

// Every tile counter back at zero after a split product (its last block resets it for the next launch).
static void expect_counters_zero(const char* what, Buf<int>& counters) {
    counters.down();
    for (int t = 0; t < static_cast<int>(counters.size()); t++) {
        g_checks++;
        if (counters.host[t] != 0) {
            fprintf(stderr, "FAIL %s: counter %d left at %d\n", what, t, counters.host[t]);
            g_failures++;
            break;
        }
    }
}

// The producers of a bulk product's input writing its activation image (dms_rmsnorm_image, dms_swiglu_image) against
// the rows they write otherwise made into the image by dms_matmul_bk's own tile launch: the same image, byte for byte
// over all of it (rows past n to a multiple of 128 and columns past k to a multiple of 64 zero; the image poisoned
// first), the same residual stream, and the same product from it through dms_matmul_bk_image, bit for bit. Split and
// bf16; odd n (one row, partial token tiles); k a multiple of 8 but not of 64; with and without the residual add.
static void test_producer_images() {
    Rng rng(41);
    struct Case {
        int n, k;
    };
    const int m = 40;
    std::vector<Case> cases = {Case{1, 8}, Case{127, 72}, Case{129, 200}, Case{130, 64}, Case{300, 136}};
#ifndef DMS_EMU
    cases.push_back(Case{2047, 4096});  // a prompt chunk's shape (too slow for the emulator's wgmma)
#endif
    for (Case c : cases) {
        Buf<uint16_t> w(random_bf16(rng, static_cast<size_t>(m) * c.k, 1.f));
        Buf<unsigned char> wImage(static_cast<size_t>(matmul_bk_image_bytes(m, c.k, 256, false)));
        expect_ok(dms_tile_weights(w.dev, m, c.k, wImage.dev, nullptr), "tile_weights");
        for (int split : {0, 1}) {
            const size_t imageBytes = static_cast<size_t>(matmul_bk_image_bytes(c.n, c.k, 128, split != 0));
            Buf<unsigned char> want(imageBytes), got(imageBytes);
            Buf<float> cWant(static_cast<size_t>(c.n) * m), cGot(static_cast<size_t>(c.n) * m);
            const std::string tag = std::string(split ? " split" : " bf16") + " n=" + std::to_string(c.n) + " k=" +
                                    std::to_string(c.k);
            // The reference product from rows (its tile launch writes `want`); then the producer's image and product.
            auto compare = [&](const char* what, const float* rowsF32, const uint16_t* rowsBf16, int ld) {
                want.poison();
                got.down();
                cWant.poison();
                cGot.poison();
                const cudaError_t e = split ? dms_matmul_bk_split(rowsF32, ld, wImage.dev, want.dev, cWant.dev, m, c.n,
                                                                  m, c.k, 0, 3, nullptr)
                                            : dms_matmul_bk(rowsBf16, ld, wImage.dev, want.dev, cWant.dev, m, c.n, m,
                                                            c.k, 0, 3, nullptr);
                if (e == cudaErrorNotSupported) {
                    return false;
                }
                expect_ok(e, "matmul_bk");
                expect_ok(dms_matmul_bk_image(got.dev, split, wImage.dev, cGot.dev, m, c.n, m, c.k, 0, 3, nullptr),
                          "matmul_bk_image");
                want.down();
                cWant.down();
                cGot.down();
                g_checks += 2;
                if (memcmp(want.host.data(), got.host.data(), imageBytes) != 0) {
                    size_t at = 0;
                    while (want.host[at] == got.host[at]) {
                        at++;
                    }
                    fprintf(stderr, "FAIL %s%s: image byte %zu of %zu is %d, the tile launch's %d\n", what,
                            tag.c_str(), at, imageBytes, got.host[at], want.host[at]);
                    g_failures++;
                }
                if (memcmp(cWant.host.data(), cGot.host.data(), cWant.size() * 4) != 0) {
                    fprintf(stderr, "FAIL %s%s: the product from the producer's image differs\n", what, tag.c_str());
                    g_failures++;
                }
                return true;
            };
            for (int withDelta : {0, 1}) {
                // RMSNorm: rows (out or outBf16) then the tile launch, against the image written by the norm.
                const std::vector<float> x0 = random_f32(rng, static_cast<size_t>(c.n) * c.k, 2.f);
                Buf<float> xA(x0), xB(x0);
                Buf<float> delta(random_f32(rng, static_cast<size_t>(c.n) * c.k, 1.f));
                Buf<uint16_t> gamma(random_bf16(rng, c.k, 1.5f));
                Buf<float> rows(static_cast<size_t>(c.n) * c.k);
                Buf<uint16_t> rowsB(static_cast<size_t>(c.n) * c.k);
                const float* d = withDelta ? delta.dev : nullptr;
                expect_ok(dms_rmsnorm(xA.dev, d, gamma.dev, nullptr, c.n, c.k, 1e-6f, split ? rows.dev : nullptr,
                                      split ? nullptr : rowsB.dev, nullptr),
                          "rmsnorm");
                got.poison();
                expect_ok(dms_rmsnorm_image(xB.dev, d, gamma.dev, c.n, c.k, 1e-6f, got.dev, split, nullptr),
                          "rmsnorm_image");
                if (!compare("rmsnorm_image", rows.dev, rowsB.dev, c.k)) {
                    fprintf(stderr, "producer_images: not on this device (compute 9.0 only); nothing checked\n");
                    return;
                }
                xA.down();
                xB.down();
                g_checks++;
                if (memcmp(xA.host.data(), xB.host.data(), x0.size() * 4) != 0) {
                    fprintf(stderr, "FAIL rmsnorm_image%s: the residual stream differs\n", tag.c_str());
                    g_failures++;
                }
            }
            // SwiGLU on the halves of a fused gate|up product (rows of 2 k), rows then the tile launch, against the
            // image written by SwiGLU.
            Buf<float> gu(random_f32(rng, static_cast<size_t>(c.n) * 2 * c.k, 3.f));
            Buf<float> h(static_cast<size_t>(c.n) * c.k);
            Buf<uint16_t> hB(static_cast<size_t>(c.n) * c.k);
            expect_ok(dms_swiglu(gu.dev, 2 * c.k, gu.dev + c.k, 2 * c.k, split ? h.dev : nullptr, c.k,
                                 split ? nullptr : hB.dev, c.k, c.n, c.k, nullptr),
                      "swiglu");
            got.poison();
            expect_ok(dms_swiglu_image(gu.dev, 2 * c.k, gu.dev + c.k, 2 * c.k, c.n, c.k, got.dev, split, nullptr),
                      "swiglu_image");
            compare("swiglu_image", h.dev, hB.dev, c.k);
        }
    }
    // The entries refuse what the image cannot take, before any launch.
    Buf<float> f(64);
    Buf<uint16_t> g(64);
    Buf<unsigned char> img(64 * 1024);
    expect_refused(dms_rmsnorm_image(f.dev, nullptr, g.dev, 1, 12, 1e-6f, img.dev, 1, nullptr), "rmsnorm_image k % 8");
    expect_refused(dms_rmsnorm_image(f.dev, nullptr, g.dev, 1, 8, 1e-6f, img.dev + 8, 1, nullptr),
                   "rmsnorm_image alignment");
    expect_refused(dms_rmsnorm_image(f.dev, nullptr, g.dev, 0, 8, 1e-6f, img.dev, 0, nullptr), "rmsnorm_image n");
    expect_refused(dms_swiglu_image(f.dev, 24, f.dev + 12, 24, 1, 12, img.dev, 1, nullptr), "swiglu_image k % 8");
    expect_refused(dms_swiglu_image(f.dev, 4, f.dev + 8, 16, 1, 8, img.dev, 1, nullptr), "swiglu_image ldGate");
    expect_refused(dms_swiglu_image(f.dev, 16, f.dev + 8, 16, 1, 8, nullptr, 0, nullptr), "swiglu_image image");
    expect_refused(dms_matmul_bk_image(img.dev + 8, 1, img.dev, f.dev, 1, 1, 1, 8, 0, 1, nullptr),
                   "matmul_bk_image alignment");
    expect_refused(dms_matmul_bk_image(img.dev, 1, img.dev, f.dev, 1, 1, 1, 8, 0, 0, nullptr), "matmul_bk_image blocks");
}

// Every product's entry refuses k past DMS_MAX_K before it launches (its k tile starts would leave int): no memory is
// read, so one small buffer stands for every operand.
static void test_matmul_k_limit() {
    Buf<float> f(64);
    Buf<uint16_t> h(64);
    Buf<int> counters(1);
    const int k = DMS_MAX_K + 64;
    const cudaError_t got[] = {
        dms_gemv(f.dev, k, h.dev, f.dev, 1, 1, 1, k, 0, 1, nullptr),
        dms_gemv_norm(f.dev, k, h.dev, f.dev, 1, 1, 1, k, 0, h.dev, 1e-6f, 1, nullptr),
        dms_gemv_swiglu(f.dev, k, h.dev, f.dev, 1, 1, 1, k, 1, nullptr),
        dms_matmul(h.dev, k, h.dev, f.dev, 1, 1, 1, k, 0, 1, f.dev, nullptr),
        dms_matmul_skinny(h.dev, k, h.dev, f.dev, 1, 1, 1, k, 0, 2, 1, nullptr),
        dms_matmul_wg(h.dev, k, h.dev, f.dev, 1, 1, 1, k, 0, 256, 1, nullptr, nullptr),
        dms_matmul_ws_split(f.dev, k, h.dev, f.dev, 1, 1, 1, k, 0, 256, 1, nullptr, nullptr),
        dms_matmul_wgs(h.dev, k, h.dev, f.dev, 1, 1, 1, k, 0, 1, f.dev, counters.dev, nullptr),
        dms_matmul_wgs_split_norm(f.dev, k, h.dev, f.dev, 1, 1, 1, k, 0, 1, f.dev, counters.dev, h.dev, 1e-6f, nullptr),
        dms_matmul_wgs_swiglu(f.dev, k, h.dev, f.dev, 1, 1, 1, k, 1, f.dev, counters.dev, nullptr),
        dms_matmul_wgs_swiglu_norm(f.dev, k, h.dev, f.dev, 1, 1, 1, k, 1, f.dev, counters.dev, h.dev, 1e-6f, nullptr),
    };
    for (size_t i = 0; i < sizeof(got) / sizeof(got[0]); i++) {
        g_checks++;
        if (got[i] != cudaErrorInvalidValue) {
            fprintf(stderr, "FAIL matmul_k_limit: entry %zu took k = %d (%d)\n", i, k, static_cast<int>(got[i]));
            g_failures++;
        }
    }
}

// The split rule (matmul_wgs_splits) gives MatMulKernel.wgsSplits's choices at Qwen3-8B's shapes (CudaAvailabilityTest).
static void test_matmul_wgs() {
    {
        const int shapes[5][2] = {{6144, 4096}, {4096, 4096}, {24576, 4096}, {4096, 12288}, {151936, 4096}};
        const int bf16[5] = {1, 2, 1, 2, 1}, split[5] = {4, 6, 1, 6, 1};
        for (int i = 0; i < 5; i++) {
            g_checks += 2;
            if (matmul_wgs_splits(shapes[i][0], shapes[i][1], 132, false) != bf16[i] ||
                matmul_wgs_splits(shapes[i][0], shapes[i][1], 132, true) != split[i]) {
                fprintf(stderr, "FAIL matmul_wgs_splits m=%d k=%d: %d and %d, want %d and %d\n", shapes[i][0],
                        shapes[i][1], matmul_wgs_splits(shapes[i][0], shapes[i][1], 132, false),
                        matmul_wgs_splits(shapes[i][0], shapes[i][1], 132, true), bf16[i], split[i]);
                g_failures++;
            }
            // 17 to 32 tokens (tiles of 32: two split blocks a multiprocessor, so a split wave of 264)
            const int wide[5] = {2, 4, 2, 4, 1};
            g_checks += 2;
            if (matmul_wgs_splits(shapes[i][0], shapes[i][1], 132, false, 32) != bf16[i] ||
                matmul_wgs_splits(shapes[i][0], shapes[i][1], 132, true, 32) != wide[i]) {
                fprintf(stderr, "FAIL matmul_wgs_splits n=32 m=%d k=%d: %d and %d, want %d and %d\n", shapes[i][0],
                        shapes[i][1], matmul_wgs_splits(shapes[i][0], shapes[i][1], 132, false, 32),
                        matmul_wgs_splits(shapes[i][0], shapes[i][1], 132, true, 32), bf16[i], wide[i]);
                g_failures++;
            }
        }
    }
    Rng rng(31);
    struct Case {
        int n, m, k, lda;
    };
    Buf<int> counters(std::vector<int>(8, 0));  // every case's tiles (at most 5)
    // 1 to 16 tokens take the _n16 kernels, 17 to 32 the _n32 ones (a tile of 32 with 15 tokens missing, and full).
    for (Case c : {Case{16, 77, 1032, 1040}, Case{9, 128, 64, 64}, Case{1, 200, 712, 712}, Case{13, 64, 8, 8},
                   Case{16, 300, 1600, 1608}, Case{11, 65, 2056, 2064}, Case{17, 77, 1032, 1040},
                   Case{32, 128, 64, 64}, Case{25, 300, 1600, 1608}, Case{32, 65, 712, 720}}) {
        const int kTiles = (c.k + 63) / 64;
        std::vector<int> counts = {1, 2, 3, 8};
        if (kTiles > 8) {
            counts.push_back(kTiles);  // one k tile a split
        }
        for (int split : {0, 1})
        for (int accumulate : {0, 1})
        for (int splits : counts) {
            if (splits > kTiles) {
                continue;
            }
            const int tiles = (c.m + 63) / 64;
            Buf<float> partial(static_cast<size_t>(splits) * tiles * 64 * 32);
            partial.poison();
            ProductInputs p(rng, c.n, c.m, c.k, c.lda, c.m + 5, accumulate);
            std::vector<float> first;
            for (int run = 0; run < 2; run++) {
                if (run == 1) {
                    p.out.host = p.c0;
                    p.out.up();
                }
                const cudaError_t e = split ? dms_matmul_wgs_split(p.af.dev, c.lda, p.w.dev, p.out.dev, p.ldc, c.n, c.m,
                                                                   c.k, accumulate, splits, partial.dev, counters.dev,
                                                                   nullptr)
                                            : dms_matmul_wgs(p.a.dev, c.lda, p.w.dev, p.out.dev, p.ldc, c.n, c.m, c.k,
                                                             accumulate, splits, partial.dev, counters.dev, nullptr);
                if (e == cudaErrorNotSupported) {
                    fprintf(stderr, "matmul_wgs: not on this device (compute 9.0 only); nothing checked\n");
                    return;
                }
                expect_ok(e, "matmul_wgs");
                const std::string what = std::string(split ? "matmul_wgs split" : "matmul_wgs") + " splits=" +
                                         std::to_string(splits) + " run=" + std::to_string(run);
                check_product(what.c_str(), p, split);
                expect_repeat(what, first, p.out.host, run, c.n, c.m, c.k);
            }
            expect_counters_zero("matmul_wgs", counters);
        }
    }
    // 33 tokens are past both tiles: every entry refuses them before it launches.
    Buf<float> f(33 * 72);
    Buf<uint16_t> h(33 * 72);
    const cudaError_t refused[] = {
        dms_matmul_wgs(h.dev, 64, h.dev, f.dev, 64, 33, 8, 64, 0, 1, f.dev, counters.dev, nullptr),
        dms_matmul_wgs_split(f.dev, 64, h.dev, f.dev, 64, 33, 8, 64, 0, 1, f.dev, counters.dev, nullptr),
        dms_matmul_wgs_split_norm(f.dev, 64, h.dev, f.dev, 64, 33, 8, 64, 0, 1, f.dev, counters.dev, h.dev, 1e-6f,
                                  nullptr),
    };
    for (cudaError_t r : refused) {
        expect_refused(r, "matmul_wgs: 33 tokens");
    }
}

// The products with RMSNorm folded in (dms_gemv_norm, dms_gemv_swiglu_norm, dms_matmul_wgs_split_norm) against
// double sums of rmsnorm(x) = gamma x / sqrt(mean x² + eps) times W: within the fp32 bound of the plain products (plus
// 2^-16 of the row's magnitude for the split tensor-core kernel), past m untouched. x is far from unit scale (the
// residual stream's is not), so a missing or wrong s fails by orders of magnitude.
struct NormInputs {
    int n, k, ldx;
    float eps = 1e-6f;
    Buf<float> x;
    Buf<uint16_t> gamma;
    std::vector<double> scale;  // s_t in double
    NormInputs(Rng& rng, int n_, int k_, int ldx_)
        : n(n_), k(k_), ldx(ldx_), x(random_f32(rng, static_cast<size_t>(n_) * ldx_, 7.f)),
          gamma(random_bf16(rng, static_cast<size_t>(k_), 1.f)) {
        for (int t = 0; t < n; t++) {
            double q = 0;
            for (int j = 0; j < k; j++) {
                const double v = x[static_cast<size_t>(t) * ldx + j];
                q += v * v;
            }
            scale.push_back(1.0 / std::sqrt(q / k + eps));
        }
    }
    double normed(int t, int j) const {
        return x[static_cast<size_t>(t) * ldx + j] * scale[t] * from_bf16(gamma[j]);
    }
};

// out (n, ldo) against row r of w dotted with rmsnorm(x) (through f: SwiGLU takes two rows), the first bad printed.
template <typename F>
static void check_norm_product(const char* what, const NormInputs& in, Buf<float>& out, int ldo, int m,
                               const std::vector<float>& before, int accumulate, double extra, F want) {
    out.down();
    int bad = 0;
    for (int t = 0; t < in.n && bad == 0; t++) {
        for (int r = 0; r < ldo && bad == 0; r++) {
            const float g = out[static_cast<size_t>(t) * ldo + r];
            const float b = before[static_cast<size_t>(t) * ldo + r];
            g_checks++;
            if (r >= m) {
                if (memcmp(&g, &b, 4) != 0) {
                    fprintf(stderr, "FAIL %s n=%d m=%d k=%d: wrote past m at (%d, %d)\n", what, in.n, m, in.k, t, r);
                    bad++;
                }
                continue;
            }
            double mag = 0;
            double sum = want(t, r, mag) + (accumulate ? b : 0.0);
            const double tol = mag * (extra + 1e-6 * std::sqrt(static_cast<double>(in.k))) + 1e-5;
            if (!(std::fabs(g - sum) <= tol)) {
                fprintf(stderr, "FAIL %s n=%d m=%d k=%d acc=%d at (%d, %d): got %.9g want %.9g\n", what, in.n, m,
                        in.k, accumulate, t, r, g, sum);
                bad++;
            }
        }
    }
    g_failures += bad;
}

static double norm_dot(const NormInputs& in, const Buf<uint16_t>& w, int t, int r, double& mag) {
    double s = 0;
    for (int j = 0; j < in.k; j++) {
        const double p = in.normed(t, j) * from_bf16(w[static_cast<size_t>(r) * in.k + j]);
        s += p;
        mag += std::fabs(p);
    }
    return s;
}

static void test_gemv_norm() {
    Rng rng(43);
    for (const GemvCase& c : kGemvCases) {
        for (int accumulate : {0, 1}) {
            const int ldx = gemv_ldx(c.k), ldy = c.m + 5;
            NormInputs in(rng, c.n, c.k, ldx);
            Buf<uint16_t> w(random_bf16(rng, static_cast<size_t>(c.m) * c.k, 1.f));
            Buf<float> y(static_cast<size_t>(c.n) * ldy);
            const std::vector<float> y0 = start_output(rng, y, accumulate);
            expect_ok(dms_gemv_norm(in.x.dev, ldx, w.dev, y.dev, ldy, c.n, c.m, c.k, accumulate, in.gamma.dev, in.eps,
                                    multiprocessors(), nullptr),
                      "gemv_norm");
            check_norm_product("gemv_norm", in, y, ldy, c.m, y0, accumulate, 0.0,
                               [&](int t, int r, double& mag) { return norm_dot(in, w, t, r, mag); });
        }
    }
    // The entry point's checks: no gamma, a negative eps.
    Buf<float> x(8), y(8);
    Buf<uint16_t> w(8);
    g_checks += 2;
    if (dms_gemv_norm(x.dev, 8, w.dev, y.dev, 1, 1, 1, 8, 0, nullptr, 1e-6f, 1, nullptr) != cudaErrorInvalidValue ||
        dms_gemv_norm(x.dev, 8, w.dev, y.dev, 1, 1, 1, 8, 0, w.dev, -1.f, 1, nullptr) != cudaErrorInvalidValue) {
        fprintf(stderr, "FAIL gemv_norm: a null gamma or a negative eps was taken\n");
        g_failures++;
    }
}

static void test_gemv_swiglu_norm() {
    Rng rng(47);
    for (const GemvCase& g : kGemvSwigluCases) {
        const struct {
            int n, inter, k;
        } c{g.n, g.m, g.k};
        const int ldx = gemv_ldx(c.k), ldh = c.inter + 3, m = 2 * c.inter;
        NormInputs in(rng, c.n, c.k, ldx);
        Buf<uint16_t> w(random_bf16(rng, static_cast<size_t>(m) * c.k, 1.f));
        Buf<float> h(static_cast<size_t>(c.n) * ldh);
        h.poison();
        const std::vector<float> h0 = h.host;
        expect_ok(dms_gemv_swiglu_norm(in.x.dev, ldx, w.dev, h.dev, ldh, c.n, c.inter, c.k, in.gamma.dev, in.eps,
                                       multiprocessors(), nullptr),
                  "gemv_swiglu_norm");
        // silu(g) u: its error is about |u| times g's plus |silu(g)| times u's.
        check_norm_product("gemv_swiglu_norm", in, h, ldh, c.inter, h0, 0, 0.0, [&](int t, int j, double& mag) {
            double mg = 0, mu = 0;
            const double g = norm_dot(in, w, t, j, mg), u = norm_dot(in, w, t, c.inter + j, mu);
            const double silu = g / (1 + std::exp(-g));
            mag = mg * (std::fabs(u) + 1) + mu * std::fabs(silu);
            return silu * u;
        });
    }
}

// dms_decode_chain (bench/decode_chain.cuh): each phase launched alone against double sums of its inputs as the kernel found
// them (the bounds of the GEMV tests: fp32 sums of k products), buffers poisoned past their ends; then the four phases
// in one launch, whose grid barrier must give the phase-by-phase values bit for bit (every item is summed by one warp
// in one order either way), twice (the barrier's words as a launch expects them after a launch), and phases 0 to 2
// alone. Shapes: odd, fewer items than warps (warps with no work in a phase), k past one 2048-weight slice with a
// partial last one; Qwen3-8B's on the device.
struct ChainCase {
    int hidden, qDim, inter, qkvDim, blocks;  // blocks 0: the multiprocessors
};

static void test_decode_chain() {
    Rng rng(59);
    // Slices of 2048 weights: k of 2056, 2064 and 2072 end in a partial second one (small elsewhere on the emulator).
    std::vector<ChainCase> cases = {{136, 200, 344, 233, 3}, {8, 16, 8, 5, 2}, {2056, 16, 24, 9, 2},
                                    {16, 2064, 2072, 7, 3}};
#ifndef DMS_EMU
    cases.push_back({2056, 1032, 4104, 3079, 0});
    cases.push_back({4096, 4096, 12288, 6144, 0});
#endif
    for (const ChainCase& c : cases) {
        const int blocks = c.blocks > 0 ? c.blocks : multiprocessors();
        const int pad = 5;  // values past each output's end that must stay as they were
        const std::vector<float> x0 = random_f32(rng, c.hidden + pad, 7.f);
        Buf<float> att(random_f32(rng, c.qDim, 1.f));
        Buf<float> x(x0), h(c.inter + pad), qkv(c.qkvDim + pad);
        Buf<uint16_t> wo(random_bf16(rng, static_cast<size_t>(c.hidden) * c.qDim, 1.f));
        Buf<uint16_t> w13(random_bf16(rng, static_cast<size_t>(2) * c.inter * c.hidden, 1.f));
        Buf<uint16_t> w2(random_bf16(rng, static_cast<size_t>(c.hidden) * c.inter, 1.f));
        Buf<uint16_t> wqkv(random_bf16(rng, static_cast<size_t>(c.qkvDim) * c.hidden, 1.f));
        Buf<uint16_t> ffnGamma(random_bf16(rng, c.hidden, 1.f)), attnGamma(random_bf16(rng, c.hidden, 1.f));
        Buf<unsigned> barrier(std::vector<unsigned>{0u, 0u});
        const float eps = 1e-6f;
        ChainArgs a{att.dev, reinterpret_cast<const bf16_t*>(wo.dev), x.dev, reinterpret_cast<const bf16_t*>(ffnGamma.dev),
                    reinterpret_cast<const bf16_t*>(w13.dev), h.dev, reinterpret_cast<const bf16_t*>(w2.dev),
                    reinterpret_cast<const bf16_t*>(attnGamma.dev), reinterpret_cast<const bf16_t*>(wqkv.dev), qkv.dev,
                    c.hidden, c.qDim, c.inter, c.qkvDim, eps, barrier.dev};
        char what[96];
        snprintf(what, sizeof what, "decode_chain hidden=%d qDim=%d inter=%d qkvDim=%d blocks=%d", c.hidden, c.qDim,
                 c.inter, c.qkvDim, blocks);
        int bad = 0;
        const auto check = [&](const char* out, int e, double got, double want, double mag, int k) {
            g_checks++;
            const double tol = mag * 1e-6 * std::sqrt(static_cast<double>(k)) + 1e-5;
            if (!(std::fabs(got - want) <= tol) && bad++ < 3) {
                fprintf(stderr, "FAIL %s: %s[%d] got %.9g want %.9g\n", what, out, e, got, want);
            }
        };
        const auto unchanged = [&](const char* out, const std::vector<float>& got, const std::vector<float>& before,
                                   int from) {
            for (size_t e = from; e < got.size(); e++) {
                g_checks++;
                if (memcmp(&got[e], &before[e], 4) != 0 && bad++ < 3) {
                    fprintf(stderr, "FAIL %s: %s[%zu] written past the end\n", what, out, e);
                }
            }
        };
        // s of rmsnorm over the first hidden values of xs, in double.
        const auto scaleOf = [&](const std::vector<float>& xs) {
            double q = 0;
            for (int j = 0; j < c.hidden; j++) {
                q += static_cast<double>(xs[j]) * xs[j];
            }
            return 1.0 / std::sqrt(q / c.hidden + eps);
        };
        const auto dot = [&](const Buf<uint16_t>& w, int row, int k, const std::function<double(int)>& v, double& mag) {
            double sum = 0;
            for (int j = 0; j < k; j++) {
                const double p = from_bf16(w[static_cast<size_t>(row) * k + j]) * v(j);
                sum += p;
                mag += std::fabs(p);
            }
            return sum;
        };
        // Phase by phase.
        h.poison();
        qkv.poison();
        const std::vector<float> h0 = h.host, qkv0 = qkv.host;
        expect_ok(dms_decode_chain(a, 0, 0, blocks, nullptr), "decode_chain phase 0");
        x.down();
        for (int r = 0; r < c.hidden; r++) {
            double mag = std::fabs(x0[r]);
            const double want = x0[r] + dot(wo, r, c.qDim, [&](int j) { return att[j]; }, mag);
            check("x after o", r, x[r], want, mag, c.qDim);
        }
        unchanged("x", x.host, x0, c.hidden);
        const std::vector<float> x1 = x.host;
        expect_ok(dms_decode_chain(a, 1, 1, blocks, nullptr), "decode_chain phase 1");
        h.down();
        {
            const double s1 = scaleOf(x1);
            for (int j = 0; j < c.inter; j++) {
                double mg = 0, mu = 0;
                const auto normed = [&](int e) { return x1[e] * s1 * from_bf16(ffnGamma[e]); };
                const double g = dot(w13, j, c.hidden, normed, mg), u = dot(w13, c.inter + j, c.hidden, normed, mu);
                const double silu = g / (1 + std::exp(-g));
                check("h", j, h[j], silu * u, mg * (std::fabs(u) + 1) + mu * std::fabs(silu), c.hidden);
            }
        }
        unchanged("h", h.host, h0, c.inter);
        const std::vector<float> hAfter = h.host;
        expect_ok(dms_decode_chain(a, 2, 2, blocks, nullptr), "decode_chain phase 2");
        x.down();
        for (int r = 0; r < c.hidden; r++) {
            double mag = std::fabs(x1[r]);
            const double want = x1[r] + dot(w2, r, c.inter, [&](int j) { return hAfter[j]; }, mag);
            check("x after down", r, x[r], want, mag, c.inter);
        }
        const std::vector<float> x2 = x.host;
        expect_ok(dms_decode_chain(a, 3, 3, blocks, nullptr), "decode_chain phase 3");
        qkv.down();
        {
            const double s3 = scaleOf(x2);
            for (int r = 0; r < c.qkvDim; r++) {
                double mag = 0;
                const double want = dot(wqkv, r, c.hidden, [&](int e) { return x2[e] * s3 * from_bf16(attnGamma[e]); }, mag);
                check("qkv", r, qkv[r], want, mag, c.hidden);
            }
        }
        unchanged("qkv", qkv.host, qkv0, c.qkvDim);
        const std::vector<float> qkvAfter = qkv.host;
        // The whole chain in one launch (on the emulator: one a phase), twice, then phases 0 to 2: the same bits.
        for (int run = 0; run < 3; run++) {
            x.host = x0;
            x.up();
            h.poison();
            qkv.poison();
            const int last = run < 2 ? 3 : 2;
            expect_ok(dms_decode_chain(a, 0, last, blocks, nullptr), "decode_chain");
            device_sync("decode_chain");
            x.down();
            h.down();
            qkv.down();
            barrier.down();
            expect_equal("decode_chain x bits", reinterpret_cast<const uint32_t*>(x.host.data()),
                         reinterpret_cast<const uint32_t*>(x2.data()), x2.size());
            expect_equal("decode_chain h bits", reinterpret_cast<const uint32_t*>(h.host.data()),
                         reinterpret_cast<const uint32_t*>(hAfter.data()), hAfter.size());
            expect_equal("decode_chain qkv bits", reinterpret_cast<const uint32_t*>(qkv.host.data()),
                         reinterpret_cast<const uint32_t*>((last == 3 ? qkvAfter : qkv0).data()), qkv0.size());
            expect_equal("decode_chain barrier arrivals", barrier.host.data(), std::vector<unsigned>{0u}.data(), 1);
        }
        if (bad > 0) {
            g_failures++;
        }
    }
    // The entry point's checks: k not a multiple of 8, phases out of order or past 3, phase 3 without its weights.
    Buf<float> f(64);
    Buf<uint16_t> w(64);
    Buf<unsigned> barrier(2);
    const bf16_t* b = reinterpret_cast<const bf16_t*>(w.dev);
    const ChainArgs ok{f.dev, b, f.dev, b, b, f.dev, b, b, b, f.dev, 8, 8, 8, 8, 1e-6f, barrier.dev};
    ChainArgs odd = ok, noQkv = ok;
    odd.qDim = 12;
    noQkv.wqkv = nullptr;
    g_checks += 4;
    if (dms_decode_chain(odd, 0, 2, 1, nullptr) != cudaErrorInvalidValue ||
        dms_decode_chain(ok, 2, 1, 1, nullptr) != cudaErrorInvalidValue ||
        dms_decode_chain(ok, 0, 4, 1, nullptr) != cudaErrorInvalidValue ||
        dms_decode_chain(noQkv, 0, 3, 1, nullptr) != cudaErrorInvalidValue) {
        fprintf(stderr, "FAIL decode_chain: a bad argument was taken\n");
        g_failures++;
    }
}

// dms_matmul_wgs_split_norm on the warpgroup decode product: 1 to 8 splits, every launch twice (the same bits; the
// counters back at zero), partial poisoned.
static void test_matmul_wgs_norm() {
    Rng rng(53);
    struct Case {
        int n, m, k, ldx;
    };
    Buf<int> counters(std::vector<int>(8, 0));
    for (Case c : {Case{16, 77, 1032, 1040}, Case{9, 128, 64, 64}, Case{1, 200, 712, 712}, Case{13, 64, 8, 8},
                   Case{16, 300, 1600, 1608}, Case{11, 65, 2056, 2064}, Case{32, 77, 1032, 1040},
                   Case{21, 300, 1600, 1608}, Case{17, 64, 8, 8}}) {
        const int kTiles = (c.k + 63) / 64;
        for (int accumulate : {0, 1})
        for (int splits : {1, 2, 3, 8, kTiles}) {
            if (splits > kTiles) {
                continue;
            }
            const int tiles = (c.m + 63) / 64, ldc = c.m + 5;
            NormInputs in(rng, c.n, c.k, c.ldx);
            Buf<uint16_t> w(random_bf16(rng, static_cast<size_t>(c.m) * c.k, 1.f));
            Buf<float> partial(static_cast<size_t>(splits) * tiles * (64 + 1) * 32);
            partial.poison();
            Buf<float> out(static_cast<size_t>(c.n) * ldc);
            const std::vector<float> c0 = start_output(rng, out, accumulate);
            std::vector<float> first;
            for (int run = 0; run < 2; run++) {
                if (run == 1) {
                    out.host = c0;
                    out.up();
                }
                const cudaError_t e = dms_matmul_wgs_split_norm(in.x.dev, c.ldx, w.dev, out.dev, ldc, c.n, c.m, c.k,
                                                                accumulate, splits, partial.dev, counters.dev,
                                                                in.gamma.dev, in.eps, nullptr);
                if (e == cudaErrorNotSupported) {
                    fprintf(stderr, "matmul_wgs_norm: not on this device (compute 9.0 only); nothing checked\n");
                    return;
                }
                expect_ok(e, "matmul_wgs_norm");
                const std::string what = "matmul_wgs_norm splits=" + std::to_string(splits) + " run=" +
                                         std::to_string(run);
                check_norm_product(what.c_str(), in, out, ldc, c.m, c0, accumulate, 0x1.0p-16,
                                   [&](int t, int r, double& mag) { return norm_dot(in, w, t, r, mag); });
                expect_repeat(what, first, out.host, run, c.n, c.m, c.k);
            }
            expect_counters_zero("matmul_wgs_norm", counters);
        }
    }
}

// dms_matmul_wgs_swiglu(_norm): the warpgroup gate|up product with SwiGLU in its epilogue equals the plain split
// product of the 2 inter rows (dms_matmul_wgs_split(_norm)) into gu (n, 2 inter) then dms_swiglu in place, bit for bit,
// in the backend's layout: h is gu's first half (rows of 2 inter), the second half untouched. inter not a multiple of
// 32 (a partial feature-pair tile), k of one tile, a k tail of 8, 1 to 32 tokens (both tiles of tokens), x rows padded or not, k unsplit and
// split (uneven splits, one tile a split, the launcher's rule), partial poisoned; every fused launch twice (the second
// needs the counters the first one's last blocks reset).
static void test_matmul_wgs_swiglu() {
    Rng rng(59);
    struct Case {
        int n, inter, k, ldx;
    };
    Buf<int> counters(std::vector<int>(16, 0));  // every case's tiles (at most 11)
    for (Case c : {Case{16, 333, 1000, 1008}, Case{1, 32, 64, 64}, Case{5, 40, 72, 80}, Case{16, 100, 72, 72},
                   Case{5, 333, 64, 72}, Case{1, 100, 1000, 1000}, Case{16, 40, 1000, 1000}, Case{5, 32, 1000, 1008},
                   Case{1, 333, 72, 72}, Case{13, 40, 8, 8}, Case{32, 333, 1000, 1008}, Case{19, 40, 72, 80},
                   Case{24, 100, 1000, 1000}}) {
        const int m = 2 * c.inter, tiles = (m + 63) / 64, kTiles = (c.k + 63) / 64;
        std::vector<int> counts;
        for (int s : {1, 2, 3, kTiles, matmul_wgs_splits(m, c.k, multiprocessors(), true, c.n)}) {
            if (s <= kTiles && std::find(counts.begin(), counts.end(), s) == counts.end()) {
                counts.push_back(s);
            }
        }
        for (int norm : {0, 1})
        for (int splits : counts) {
            NormInputs in(rng, c.n, c.k, c.ldx);  // x far from unit scale: the norm's input
            Buf<float> plain(random_f32(rng, static_cast<size_t>(c.n) * c.ldx, 1.f));
            const float* x = norm ? in.x.dev : plain.dev;
            Buf<uint16_t> w(random_bf16(rng, static_cast<size_t>(m) * c.k, 1.f));
            Buf<float> partial(static_cast<size_t>(splits) * tiles * (64 + 1) * 32);
            partial.poison();
            Buf<float> gu(static_cast<size_t>(c.n) * m);
            gu.poison();
            const cudaError_t e = norm ? dms_matmul_wgs_split_norm(x, c.ldx, w.dev, gu.dev, m, c.n, m, c.k, 0, splits,
                                                                   partial.dev, counters.dev, in.gamma.dev, in.eps,
                                                                   nullptr)
                                       : dms_matmul_wgs_split(x, c.ldx, w.dev, gu.dev, m, c.n, m, c.k, 0, splits,
                                                              partial.dev, counters.dev, nullptr);
            if (e == cudaErrorNotSupported) {
                fprintf(stderr, "matmul_wgs_swiglu: not on this device (compute 9.0 only); nothing checked\n");
                return;
            }
            expect_ok(e, "matmul_wgs_swiglu: the product");
            expect_ok(dms_swiglu(gu.dev, m, gu.dev + c.inter, m, gu.dev, m, nullptr, 0, c.n, c.inter, nullptr),
                      "matmul_wgs_swiglu: swiglu");
            gu.down();
            Buf<float> h(static_cast<size_t>(c.n) * m);
            for (int run = 0; run < 2; run++) {
                h.poison();
                partial.poison();
                expect_ok(norm ? dms_matmul_wgs_swiglu_norm(x, c.ldx, w.dev, h.dev, m, c.n, c.inter, c.k, splits,
                                                            partial.dev, counters.dev, in.gamma.dev, in.eps, nullptr)
                               : dms_matmul_wgs_swiglu(x, c.ldx, w.dev, h.dev, m, c.n, c.inter, c.k, splits,
                                                       partial.dev, counters.dev, nullptr),
                          "matmul_wgs_swiglu");
                h.down();
                const uint32_t poison = 0xffffffffu;
                for (int t = 0; t < c.n; t++) {
                    for (int j = 0; j < m; j++) {
                        const size_t at = static_cast<size_t>(t) * m + j;
                        g_checks++;
                        if (memcmp(&h[at], j < c.inter ? static_cast<const void*>(&gu[at]) : &poison, 4) != 0) {
                            fprintf(stderr,
                                    "FAIL matmul_wgs_swiglu%s n=%d inter=%d k=%d splits=%d run=%d at (%d, %d): got "
                                    "%.9g want %.9g%s\n", norm ? " norm" : "", c.n, c.inter, c.k, splits, run, t, j, h[at],
                                    j < c.inter ? gu[at] : NAN, j < c.inter ? "" : " (up half, untouched)");
                            g_failures++;
                            t = c.n;
                            break;
                        }
                    }
                }
            }
            expect_counters_zero("matmul_wgs_swiglu", counters);
        }
    }
    // The entry points' checks: no gamma, a negative eps, 33 tokens, ldh < inter, ldx % 8 != 0, splits past k's tiles.
    Buf<float> f(33 * 136);
    Buf<uint16_t> w(2 * 8 * 64);
    const cudaError_t refused[] = {
        dms_matmul_wgs_swiglu_norm(f.dev, 64, w.dev, f.dev, 16, 1, 8, 64, 1, f.dev, counters.dev, nullptr, 1e-6f,
                                   nullptr),
        dms_matmul_wgs_swiglu_norm(f.dev, 64, w.dev, f.dev, 16, 1, 8, 64, 1, f.dev, counters.dev, w.dev, -1.f,
                                   nullptr),
        dms_matmul_wgs_swiglu(f.dev, 64, w.dev, f.dev, 16, 33, 8, 64, 1, f.dev, counters.dev, nullptr),
        dms_matmul_wgs_swiglu(f.dev, 64, w.dev, f.dev, 7, 1, 8, 64, 1, f.dev, counters.dev, nullptr),
        dms_matmul_wgs_swiglu(f.dev, 68, w.dev, f.dev, 16, 1, 8, 64, 1, f.dev, counters.dev, nullptr),
        dms_matmul_wgs_swiglu(f.dev, 64, w.dev, f.dev, 16, 1, 8, 64, 2, f.dev, counters.dev, nullptr),
    };
    for (cudaError_t r : refused) {
        expect_refused(r, "matmul_wgs_swiglu: bad arguments");
    }
}

// ---------------------------------------------------------------------------------------------------
// swiglu (Ops.swiglu)

// The w1|w3 GEMV that ends in SwiGLU equals the plain GEMV of the 2 inter rows followed by dms_swiglu, bit for bit,
// and writes nothing past inter in a row of h.
static void test_gemv_swiglu() {
    Rng rng(41);
    for (const GemvCase& g : kGemvSwigluCases) {
        const struct {
            int n, inter, k;
        } c{g.n, g.m, g.k};
        const int ldx = gemv_ldx(c.k), ldh = c.inter + 3, m = 2 * c.inter;
        Buf<float> x(random_f32(rng, static_cast<size_t>(c.n) * ldx, 1.f));
        Buf<uint16_t> w(random_bf16(rng, static_cast<size_t>(m) * c.k, 1.f));
        Buf<float> gu(static_cast<size_t>(c.n) * m);
        Buf<float> want(static_cast<size_t>(c.n) * c.inter);
        Buf<float> h(static_cast<size_t>(c.n) * ldh);
        gu.poison();
        want.poison();
        h.poison();
        const std::vector<float> h0 = h.host;
        expect_ok(dms_gemv(x.dev, ldx, w.dev, gu.dev, m, c.n, m, c.k, 0, multiprocessors(), nullptr), "gemv");
        expect_ok(dms_swiglu(gu.dev, m, gu.dev + c.inter, m, want.dev, c.inter, nullptr, 0, c.n, c.inter, nullptr),
                  "swiglu");
        expect_ok(dms_gemv_swiglu(x.dev, ldx, w.dev, h.dev, ldh, c.n, c.inter, c.k, multiprocessors(), nullptr),
                  "gemv_swiglu");
        want.down();
        h.down();
        for (int t = 0; t < c.n; t++) {
            for (int j = 0; j < ldh; j++) {
                const float got = h[static_cast<size_t>(t) * ldh + j];
                const float expected = j < c.inter ? want[static_cast<size_t>(t) * c.inter + j] : h0[static_cast<size_t>(t) * ldh + j];
                g_checks++;
                if (memcmp(&got, &expected, 4) != 0) {
                    fprintf(stderr, "FAIL gemv_swiglu n=%d inter=%d k=%d at (%d, %d): got %.9g want %.9g\n", c.n, c.inter,
                            c.k, t, j, got, expected);
                    g_failures++;
                    t = c.n;
                    break;
                }
            }
        }
    }
}

// dms_swiglu against the double formula, bit for bit (fp32, and the bf16 copy as f32_to_bf16 rounds it), on both paths
// of the kernel and their mix: four features a thread where every row of gate, up, out and outBf16 is aligned (with
// an element-by-element last group when inter % 4 != 0, two blocks along x, a gap between rows), element by element
// where one of them is not (the up half of an odd fused row, an odd ldOut or ldOutBf16, a base one element off); out
// apart and in place; more rows than the grid's y (65,537). Every element past a row's features stays poisoned.
static void test_swiglu() {
    struct Case {
        int n, inter, half, ldOut, ldB, offOut, offB;  // gate|up rows of 2 half (up at + half); ldOut 0: in place
                                                        // (out = gate); ldB 0: no bf16 output; off*: base offsets
    };
    const Case cases[] = {{3, 100, 100, 100, 100, 0, 0},    {3, 100, 100, 0, 0, 0, 0},       {2, 101, 101, 103, 101, 0, 0},
                          {5, 37, 37, 0, 38, 0, 0},         {4, 1030, 1030, 1030, 1030, 0, 0}, {1, 6, 6, 6, 7, 0, 0},
                          {7, 1027, 1027, 1029, 1027, 0, 0}, {2, 64, 64, 64, 66, 0, 0},       {3, 1029, 1032, 1032, 1032, 0, 0},
                          {2, 64, 64, 66, 64, 0, 0},        {2, 64, 64, 64, 64, 1, 0},       {2, 64, 64, 64, 64, 0, 2},
                          {65537, 4, 4, 4, 4, 0, 0}};
    Rng rng(6);
    for (const Case& c : cases) {
        const int n = c.n, inter = c.inter, m = 2 * c.half;
        Buf<float> gu(random_f32(rng, static_cast<size_t>(n) * m, 6.f));  // gate|up rows
        const std::vector<float> g0 = gu.host;
        const bool inPlace = c.ldOut == 0;
        const int ldOut = inPlace ? m : c.ldOut;
        const bool bf16 = c.ldB > 0;
        Buf<float> out(static_cast<size_t>(n) * ldOut + 8 + c.offOut);
        Buf<uint16_t> outB(static_cast<size_t>(n) * c.ldB + 8 + c.offB);
        out.poison();
        outB.poison();
        char what[128];
        snprintf(what, sizeof what, "swiglu n=%d inter=%d half=%d ldOut=%d ldB=%d offOut=%d offB=%d", n, inter, c.half,
                 c.ldOut, c.ldB, c.offOut, c.offB);
        expect_ok(dms_swiglu(gu.dev, m, gu.dev + c.half, m, inPlace ? gu.dev : out.dev + c.offOut, ldOut,
                             bf16 ? outB.dev + c.offB : nullptr, c.ldB, n, inter, nullptr),
                  what);
        gu.down();
        out.down();
        outB.down();
        int wrong = 0;
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < inter; j++) {
                const float g = g0[static_cast<size_t>(t) * m + j];
                const float u = g0[static_cast<size_t>(t) * m + c.half + j];
                const float w = static_cast<float>(g / (1.0 + std::exp(-static_cast<double>(g)))) * u;
                const float got = inPlace ? gu[static_cast<size_t>(t) * m + j]
                                          : out[static_cast<size_t>(t) * ldOut + c.offOut + j];
                const bool ok = memcmp(&got, &w, 4) == 0 &&
                                (!bf16 || outB[static_cast<size_t>(t) * c.ldB + c.offB + j] == to_bf16(w)) &&
                                memcmp(&gu[static_cast<size_t>(t) * m + c.half + j], &u, 4) == 0;  // up untouched
                if (!ok && wrong++ == 0) {
                    fprintf(stderr, "FAIL %s at (%d, %d): got %.9g (bf16 %04x) want %.9g\n", what, t, j, got,
                            bf16 ? outB[static_cast<size_t>(t) * c.ldB + c.offB + j] : 0, w);
                }
            }
        }
        // Every element outside the rows' inter features (before an offset base, the stride's gap, 8 past the end).
        int written = 0;
        for (size_t e = 0; e < out.size() && !inPlace; e++) {
            const size_t r = e - c.offOut;
            const bool inRow = e >= static_cast<size_t>(c.offOut) && r < static_cast<size_t>(n) * ldOut &&
                               static_cast<int>(r % ldOut) < inter;
            uint32_t bits;
            memcpy(&bits, &out[e], 4);
            written += !inRow && bits != 0xffffffffu;
        }
        for (size_t e = 0; e < outB.size(); e++) {
            const size_t r = e - c.offB;
            const bool inRow = bf16 && e >= static_cast<size_t>(c.offB) && r < static_cast<size_t>(n) * c.ldB &&
                               static_cast<int>(r % c.ldB) < inter;
            written += !inRow && outB[e] != 0xffff;
        }
        g_checks += 2;
        if (wrong != 0) {
            fprintf(stderr, "FAIL %s: %d of %lld outputs off\n", what, wrong, static_cast<long long>(n) * inter);
            g_failures++;
        }
        if (written != 0) {
            fprintf(stderr, "FAIL %s: %d elements written outside the rows' inter features\n", what, written);
            g_failures++;
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// page table + kv_write

static void test_page_table() {
    const int pageSize = 4, pageCount = 10;
    Buf<int> table(std::vector<int>(24, 7));
    Buf<int> len(std::vector<int>(6, 1));
    Buf<int> slotPos(std::vector<int>(pageSize * pageCount, 123));
    Buf<unsigned char> slotFlag(std::vector<unsigned char>(pageSize * pageCount, 1));
    Buf<int> pairs(std::vector<int>{0, 3, 5, -1, 23, 9, 24, 1, 2, 10});
    Buf<int> lens(std::vector<int>{0, 2, 5, 4, 6, 1, 1, 5});
    Buf<int> fresh(std::vector<int>{2, 9, 11});
    Buf<int> error(std::vector<int>{0});
    expect_ok(dms_page_table(table.dev, 24, len.dev, 6, 4, pairs.dev, 5, lens.dev, 4, fresh.dev, 3, pageSize, pageCount,
                             slotPos.dev, slotFlag.dev, error.dev, nullptr),
              "page_table");
    table.down();
    len.down();
    slotPos.down();
    slotFlag.down();
    error.down();
    std::vector<int> wantTable(24, 7);
    wantTable[0] = 3;
    wantTable[5] = -1;
    wantTable[23] = 9;
    std::vector<int> wantLen(6, 1);
    wantLen[0] = 2;
    wantLen[5] = 4;
    std::vector<int> wantPos(pageSize * pageCount, 123);
    std::vector<unsigned char> wantFlag(pageSize * pageCount, 1);
    for (int p : {2, 9}) {
        for (int o = 0; o < pageSize; o++) {
            wantPos[p * pageSize + o] = -1;
            wantFlag[p * pageSize + o] = 0;
        }
    }
    expect_equal("page_table table", table.host.data(), wantTable.data(), 24);
    expect_equal("page_table len", len.host.data(), wantLen.data(), 6);
    expect_equal("page_table slotPos", slotPos.host.data(), wantPos.data(), wantPos.size());
    expect_equal("page_table slotFlag", slotFlag.host.data(), wantFlag.data(), wantFlag.size());
    const int wantError = 1 | 2 | 4 | 8;
    expect_equal("page_table error bits", error.host.data(), &wantError, 1);
}

// A KV store for the copy kernels' tests: keys and values (slots, headDim) and slot metadata random, the slots
// `poisoned` names poisoned (keys and values 0xffff, position -7, flag 0xff), all uploaded; `want*` start as the
// contents and are edited into what the kernel must leave (copy, empty), then checked (expect).
struct KvStore {
    const int headDim;
    Buf<bf16_t> keys, values;
    Buf<int> slotPos;
    Buf<unsigned char> slotFlag;
    Buf<int> error;
    std::vector<bf16_t> wantKeys, wantValues;
    std::vector<int> wantPos;
    std::vector<unsigned char> wantFlag;

    KvStore(Rng& rng, int slots, int headDim, const std::function<bool(int)>& poisoned)
        : headDim(headDim), keys(static_cast<size_t>(slots) * headDim), values(static_cast<size_t>(slots) * headDim),
          slotPos(slots), slotFlag(slots), error(std::vector<int>{0}) {
        for (int t = 0; t < slots; t++) {
            for (int j = 0; j < headDim; j++) {
                keys[at(t, j)] = poisoned(t) ? 0xffff : static_cast<bf16_t>(rng.next());
                values[at(t, j)] = poisoned(t) ? 0xffff : static_cast<bf16_t>(rng.next());
            }
            slotPos[t] = poisoned(t) ? -7 : static_cast<int>(rng.next() % 100000) - 1;
            slotFlag[t] = poisoned(t) ? 0xff : static_cast<unsigned char>(rng.next() & 1);
        }
        keys.up();
        values.up();
        slotPos.up();
        slotFlag.up();
        wantKeys = keys.host;
        wantValues = values.host;
        wantPos = slotPos.host;
        wantFlag = slotFlag.host;
    }
    size_t at(int slot, int j) const {
        return static_cast<size_t>(slot) * headDim + j;
    }
    // The kernel must copy slot source (as uploaded) into slot target.
    void copy(int source, int target) {
        for (int j = 0; j < headDim; j++) {
            wantKeys[at(target, j)] = keys[at(source, j)];
            wantValues[at(target, j)] = values[at(source, j)];
        }
        wantPos[target] = slotPos[source];
        wantFlag[target] = slotFlag[source];
    }
    // The kernel must empty slot target (position -1, flag 0; keys and values kept).
    void empty(int target) {
        wantPos[target] = -1;
        wantFlag[target] = 0;
    }
    // Downloads everything and compares it with the wants.
    void expect(const char* op, int wantError) {
        keys.down();
        values.down();
        slotPos.down();
        slotFlag.down();
        error.down();
        const std::string name(op);
        expect_equal((name + " keys").c_str(), keys.host.data(), wantKeys.data(), wantKeys.size());
        expect_equal((name + " values").c_str(), values.host.data(), wantValues.data(), wantValues.size());
        expect_equal((name + " slotPos").c_str(), slotPos.host.data(), wantPos.data(), wantPos.size());
        expect_equal((name + " slotFlag").c_str(), slotFlag.host.data(), wantFlag.data(), wantFlag.size());
        expect_equal((name + " error bits").c_str(), error.host.data(), &wantError, 1);
    }
};

// Two shapes: headDim 128, pages of 16 (16-byte copies) and headDim 36, pages of 3 (2-byte copies: 216 bytes a
// page). Random sources, poisoned targets (pages 4, 7, 8); pages not named keep their bytes; the pair (3, 9) names no
// page and is skipped and reported.
static void test_page_copy() {
    Rng rng(31);
    for (int shape = 0; shape < 2; shape++) {
        const int headDim = shape == 0 ? 128 : 36, pageSize = shape == 0 ? 16 : 3, pageCount = 9;
        KvStore kv(rng, pageCount * pageSize, headDim, [&](int slot) {
            const int page = slot / pageSize;
            return page == 4 || page == 7 || page == 8;
        });
        const std::vector<int> pairs = {0, 4, 5, 7, 3, 9, 2, 8};
        for (size_t e = 0; e < pairs.size(); e += 2) {
            for (int o = 0; pairs[e + 1] < pageCount && o < pageSize; o++) {
                kv.copy(pairs[e] * pageSize + o, pairs[e + 1] * pageSize + o);
            }
        }
        Buf<int> pairBuf(pairs);
        expect_ok(dms_page_copy(pairBuf.dev, 4, pageSize, headDim, pageCount, kv.keys.dev, kv.values.dev,
                                kv.slotPos.dev, kv.slotFlag.dev, kv.error.dev, nullptr),
                  "page_copy");
        kv.expect("page_copy", 16);
    }
}

// Runs of slots moved (some 16-byte aligned, some not: headDim 36 and odd starts), one run of slots emptied, one bad
// triple; random sources in [0, 16), poisoned targets in [16, 40); slots not named keep their bytes.
static void test_slot_move() {
    Rng rng(37);
    for (int headDim : {128, 36}) {
        const int slotCount = 40;
        KvStore kv(rng, slotCount, headDim, [](int slot) { return slot >= 16; });
        // (1 -> 17, 3 slots), (8 -> 24, 8), (5 -> 33, 1), empty 34..36, a bad one reaching past the end.
        const std::vector<int> moves = {1, 17, 3, 8, 24, 8, 5, 33, 1, -1, 34, 3, 2, 39, 2};
        for (size_t e = 0; e + 2 < moves.size(); e += 3) {
            const int source = moves[e], target = moves[e + 1], n = moves[e + 2];
            for (int i = 0; target + n <= slotCount && i < n; i++) {
                if (source < 0) {
                    kv.empty(target + i);
                } else {
                    kv.copy(source + i, target + i);
                }
            }
        }
        Buf<int> moveBuf(moves);
        expect_ok(dms_slot_move(moveBuf.dev, 5, headDim, slotCount, kv.keys.dev, kv.values.dev, kv.slotPos.dev,
                                kv.slotFlag.dev, kv.error.dev, nullptr),
                  "slot_move");
        kv.expect("slot_move", 32);
    }
}

static void test_kv_write() {
    Rng rng(7);
    for (int D : {128, 36}) {
        const int heads = 4, kvHeads = 2, layers = 2, layer = 1, pageSize = 8, pageCount = 20;
        // Two sequences: s0 tokens 0..4 (first > 0: has a previous slot), s1 token 5 (first == 0, no previous).
        const int n = 6, S = 2;
        const int stride = (heads + 2 * kvHeads) * D;
        Buf<float> qkv(random_f32(rng, static_cast<size_t>(n) * stride, 2.f));
        const float* k = qkv.dev + heads * D;
        const float* v = qkv.dev + (heads + kvHeads) * D;
        std::vector<int> slotsH(static_cast<size_t>(layers) * kvHeads * n, -7);
        std::vector<int> used;
        for (int h = 0; h < kvHeads; h++) {
            for (int i = 0; i < n; i++) {
                int s;
                do {
                    s = rng.below(pageSize * pageCount);
                } while (std::find(used.begin(), used.end(), s) != used.end());
                used.push_back(s);
                slotsH[(static_cast<size_t>(layer) * kvHeads + h) * n + i] = (i == 2 && h == 1) ? -1 : s;
            }
        }
        std::vector<int> prevH(static_cast<size_t>(layers) * kvHeads * S, -1);
        int prev0 = 0, prev1 = 1;
        while (std::find(used.begin(), used.end(), prev0) != used.end()) prev0++;
        used.push_back(prev0);
        while (std::find(used.begin(), used.end(), prev1) != used.end()) prev1++;
        prevH[(static_cast<size_t>(layer) * kvHeads + 0) * S + 0] = prev0;
        prevH[(static_cast<size_t>(layer) * kvHeads + 1) * S + 0] = prev1;
        std::vector<unsigned char> dec(static_cast<size_t>(n) * layers * kvHeads);
        for (auto& d : dec) {
            d = rng.below(2);
        }
        Buf<int> slots(slotsH), prev(prevH);
        Buf<unsigned char> decisions(dec);
        Buf<int> positions(std::vector<int>{10, 11, 12, 13, 14, 0}), seqOf(std::vector<int>{0, 0, 0, 0, 0, 1});
        Buf<int> first(std::vector<int>{0, 5}), length(std::vector<int>{5, 1});
        Buf<uint16_t> kc(static_cast<size_t>(pageSize) * pageCount * D), vc(kc.size());
        kc.poison();
        vc.poison();
        Buf<int> slotPos(std::vector<int>(pageSize * pageCount, -5));
        Buf<unsigned char> slotFlag(std::vector<unsigned char>(pageSize * pageCount, 7));
        expect_ok(dms_kv_write(k, stride, v, stride, slots.dev, prev.dev, decisions.dev, positions.dev, seqOf.dev,
                               first.dev, length.dev, n, S, layers, layer, kvHeads, D, kc.dev, vc.dev, slotPos.dev,
                               slotFlag.dev, nullptr),
                  "kv_write");
        kc.down();
        vc.down();
        slotPos.down();
        slotFlag.down();
        std::vector<int> wantPos(pageSize * pageCount, -5);
        std::vector<unsigned char> wantFlag(pageSize * pageCount, 7);
        int bad = 0;
        const int lastOf[2] = {4, 5};
        for (int h = 0; h < kvHeads; h++) {
            for (int i = 0; i < n; i++) {
                const int s = slotsH[(static_cast<size_t>(layer) * kvHeads + h) * n + i];
                if (s < 0) {
                    continue;
                }
                const int seqIndex = i < 5 ? 0 : 1;
                wantPos[s] = positions[i];
                wantFlag[s] = i < lastOf[seqIndex] ? dec[(static_cast<size_t>(i + 1) * layers + layer) * kvHeads + h] : 0;
                for (int d = 0; d < D; d++) {
                    g_checks += 2;
                    const float kw = qkv[static_cast<size_t>(i) * stride + (heads + h) * D + d];
                    const float vw = qkv[static_cast<size_t>(i) * stride + (heads + kvHeads + h) * D + d];
                    bad += kc[static_cast<size_t>(s) * D + d] != to_bf16(kw);
                    bad += vc[static_cast<size_t>(s) * D + d] != to_bf16(vw);
                }
            }
        }
        wantFlag[prev0] = dec[(static_cast<size_t>(0) * layers + layer) * kvHeads + 0];
        wantFlag[prev1] = dec[(static_cast<size_t>(0) * layers + layer) * kvHeads + 1];
        if (bad) {
            fprintf(stderr, "FAIL kv_write D=%d: %d cache values wrong\n", D, bad);
            g_failures++;
        }
        expect_equal("kv_write slotPos", slotPos.host.data(), wantPos.data(), wantPos.size());
        expect_equal("kv_write slotFlag", slotFlag.host.data(), wantFlag.data(), wantFlag.size());
    }
}

// ---------------------------------------------------------------------------------------------------
// attention: a random paged cache with holes, empty slots, flags inside and beyond the window, several
// sequences with different windows; reference = scalar masked attention (ChunkAttention's math).

struct AttnScene {
    int heads, kvHeads, D, layers, layer, pageSize, pageCount, maxPagesPerHead, maxRows;
    std::vector<uint16_t> keys, values;           // [pageCount * pageSize][D]
    std::vector<int> slotPos;                     // [slots]
    std::vector<unsigned char> slotFlag;          // [slots]
    std::vector<int> table, tableLen;             // [maxRows][layers][kvHeads][maxPages], [..][..][..]
    std::vector<float> q;                         // (n, heads * D) with stride qStride
    int qStride;
    std::vector<int> positions, seqOfToken, seqRow, seqWindow, seqFirst, seqLength;
    int n;
};

// Sequences s with `lengths[s]` query tokens at the end of a context of `contexts[s]` tokens (the query
// tokens included, as after kv_write). ordered: as a prompt's prefill leaves its pages, token t in list slot t, no
// holes, no spare page (so that whole key tiles hold visible keys), and the page table's entries past a list's length
// name its first page (a kernel that reads past the length sees visible keys twice); else holes, a spare page, random
// slot order, -9 past the length.
static AttnScene make_scene(Rng& rng, int heads, int kvHeads, int D, int pageSize, const std::vector<int>& contexts,
                            const std::vector<int>& lengths, const std::vector<int>& windows, bool ordered = false) {
    AttnScene sc;
    sc.heads = heads;
    sc.kvHeads = kvHeads;
    sc.D = D;
    sc.layers = 2;
    sc.layer = 1;
    sc.pageSize = pageSize;
    const int S = static_cast<int>(contexts.size());
    sc.maxRows = S + 1;
    int maxPages = 0;
    for (int c : contexts) {
        maxPages = std::max(maxPages, (c + pageSize - 1) / pageSize * 2 + 2);
    }
    sc.maxPagesPerHead = maxPages;
    sc.pageCount = sc.maxRows * sc.layers * kvHeads * maxPages;
    const size_t slots = static_cast<size_t>(sc.pageCount) * pageSize;
    sc.keys = random_bf16(rng, slots * D, 1.f);
    sc.values = random_bf16(rng, slots * D, 1.f);
    sc.slotPos.assign(slots, -1);
    sc.slotFlag.assign(slots, 0);
    for (size_t s = 0; s < slots; s++) {
        sc.slotPos[s] = rng.below(50) - 20;  // garbage in unused pages: must never be scanned
        sc.slotFlag[s] = rng.below(2);
    }
    sc.table.assign(static_cast<size_t>(sc.maxRows) * sc.layers * kvHeads * maxPages, -9);
    sc.tableLen.assign(static_cast<size_t>(sc.maxRows) * sc.layers * kvHeads, 0);
    std::vector<int> freePages(sc.pageCount);
    for (int p = 0; p < sc.pageCount; p++) {
        freePages[p] = p;
    }
    for (int p = sc.pageCount - 1; p > 0; p--) {
        std::swap(freePages[p], freePages[rng.below(p + 1)]);
    }
    int nextPage = 0;
    sc.n = 0;
    for (int s = 0; s < S; s++) {
        sc.seqRow.push_back(S - s);  // rows not in sequence order
        sc.seqWindow.push_back(windows[s]);
        sc.seqFirst.push_back(sc.n);
        sc.seqLength.push_back(lengths[s]);
        for (int t = 0; t < lengths[s]; t++) {
            sc.positions.push_back(contexts[s] - lengths[s] + t);
            sc.seqOfToken.push_back(s);
        }
        sc.n += lengths[s];
        const int row = sc.seqRow[s];
        for (int h = 0; h < kvHeads; h++) {
            // Pages: a hole (-1) now and then; tokens placed in random slot order; some slots empty (-1).
            const size_t head = (static_cast<size_t>(row) * sc.layers + sc.layer) * kvHeads + h;
            std::vector<int> pageList;
            const int needPages = (contexts[s] + pageSize - 1) / pageSize + (ordered ? 0 : 1);  // a spare page
            for (int e = 0; e < needPages; e++) {
                if (!ordered && rng.below(4) == 0 && static_cast<int>(pageList.size()) + 1 < maxPages) {
                    pageList.push_back(-1);
                }
                pageList.push_back(freePages[nextPage++]);
            }
            std::vector<int> slotList;
            for (int p : pageList) {
                if (p >= 0) {
                    for (int o = 0; o < pageSize; o++) {
                        slotList.push_back(p * pageSize + o);
                        sc.slotPos[p * pageSize + o] = -1;
                        sc.slotFlag[p * pageSize + o] = rng.below(2);  // flag of an empty slot is irrelevant
                    }
                }
            }
            for (int i = static_cast<int>(slotList.size()) - 1; i > 0 && !ordered; i--) {
                std::swap(slotList[i], slotList[rng.below(i + 1)]);
            }
            for (int pos = 0; pos < contexts[s]; pos++) {
                const int slot = slotList[pos];
                sc.slotPos[slot] = pos;
                sc.slotFlag[slot] = rng.below(3) == 0;  // flagged: visible only within the window
            }
            for (size_t e = 0; e < pageList.size(); e++) {
                sc.table[head * maxPages + e] = pageList[e];
            }
            for (int e = static_cast<int>(pageList.size()); ordered && e < maxPages; e++) {
                sc.table[head * maxPages + e] = pageList[0];
            }
            sc.tableLen[head] = static_cast<int>(pageList.size());
        }
    }
    sc.qStride = heads * D + 8;
    sc.q = random_f32(rng, static_cast<size_t>(sc.n) * sc.qStride, 1.5f);
    return sc;
}

// out (n, heads, D) by ChunkAttention's math over the cache: scores in fp32 times scale, softmax, weighted sum.
static std::vector<float> ref_attention(const AttnScene& sc, bool roundQ) {
    const int G = sc.heads / sc.kvHeads;
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(sc.D)));
    std::vector<float> out(static_cast<size_t>(sc.n) * sc.heads * sc.D, 0.f);
    for (int i = 0; i < sc.n; i++) {
        const int s = sc.seqOfToken[i];
        const int qpos = sc.positions[i];
        for (int qh = 0; qh < sc.heads; qh++) {
            const int h = qh / G;
            const size_t head = (static_cast<size_t>(sc.seqRow[s]) * sc.layers + sc.layer) * sc.kvHeads + h;
            std::vector<double> scores;
            std::vector<int> src;
            for (int e = 0; e < sc.tableLen[head]; e++) {
                const int page = sc.table[head * sc.maxPagesPerHead + e];
                if (page < 0) {
                    continue;
                }
                for (int o = 0; o < sc.pageSize; o++) {
                    const int slot = page * sc.pageSize + o;
                    const int p = sc.slotPos[slot];
                    const bool f = sc.slotFlag[slot] != 0;
                    if (!(p >= 0 && p <= qpos && !(f && qpos - p > sc.seqWindow[s]))) {
                        continue;
                    }
                    double d = 0;
                    for (int c = 0; c < sc.D; c++) {
                        float qv = sc.q[static_cast<size_t>(i) * sc.qStride + qh * sc.D + c];
                        if (roundQ) {
                            qv = round_bf16(qv);
                        }
                        d += static_cast<double>(qv) * from_bf16(sc.keys[static_cast<size_t>(slot) * sc.D + c]);
                    }
                    scores.push_back(d * scale);
                    src.push_back(slot);
                }
            }
            if (scores.empty()) {
                continue;
            }
            const double m = *std::max_element(scores.begin(), scores.end());
            double sum = 0;
            for (auto& x : scores) {
                x = std::exp(x - m);
                sum += x;
            }
            for (int c = 0; c < sc.D; c++) {
                double o = 0;
                for (size_t e = 0; e < scores.size(); e++) {
                    o += scores[e] / sum * from_bf16(sc.values[static_cast<size_t>(src[e]) * sc.D + c]);
                }
                out[(static_cast<size_t>(i) * sc.heads + qh) * sc.D + c] = static_cast<float>(o);
            }
        }
    }
    return out;
}

struct AttnDevice {
    Buf<uint16_t> keys, values;
    Buf<int> slotPos;
    Buf<unsigned char> slotFlag;
    Buf<int> table, tableLen, positions, seqOfToken, seqRow, seqWindow;
    Buf<float> q;
    explicit AttnDevice(const AttnScene& sc)
        : keys(sc.keys), values(sc.values), slotPos(sc.slotPos), slotFlag(sc.slotFlag), table(sc.table),
          tableLen(sc.tableLen), positions(sc.positions), seqOfToken(sc.seqOfToken), seqRow(sc.seqRow),
          seqWindow(sc.seqWindow), q(sc.q) {
    }
    AttentionArgs args(const AttnScene& sc, int pagesPerSplit, int splits, int splitStride, float* out, bf16_t* outB,
                       float* po, float2* pml) {
        AttentionArgs a;
        a.q = q.dev;
        a.qStride = sc.qStride;
        a.keyCache = keys.dev;
        a.valueCache = values.dev;
        a.slotPos = slotPos.dev;
        a.slotFlag = slotFlag.dev;
        a.pageTable = table.dev;
        a.pageTableLen = tableLen.dev;
        a.maxPagesPerHead = sc.maxPagesPerHead;
        a.layers = sc.layers;
        a.layer = sc.layer;
        a.heads = sc.heads;
        a.kvHeads = sc.kvHeads;
        a.D = sc.D;
        a.pageSize = sc.pageSize;
        a.positions = positions.dev;
        a.seqOfToken = seqOfToken.dev;
        a.seqRow = seqRow.dev;
        a.seqWindow = seqWindow.dev;
        a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(sc.D)));
        a.pagesPerSplit = pagesPerSplit;
        a.splits = splits;
        a.splitStride = splitStride;
        a.out = out;
        a.outStride = sc.heads * sc.D;
        a.outBf16 = outB;
        a.outBf16Stride = sc.heads * sc.D;
        a.partialO = po;
        a.partialML = pml;
        return a;
    }
};

// A launch for the token list {n - 1, 0} (outputs poisoned before): those two rows as the reference's, the row
// between them not written.
static void expect_token_list(const char* name, const std::vector<float>& out, const std::vector<float>& want,
                              const AttnScene& sc) {
    const size_t row = static_cast<size_t>(sc.heads) * sc.D;
    char what[96];
    snprintf(what, sizeof what, "%s token list, first", name);
    expect_close(what, &out[(sc.n - 1) * row], &want[(sc.n - 1) * row], row, 2e-6, 2e-5);
    snprintf(what, sizeof what, "%s token list, second", name);
    expect_close(what, &out[0], &want[0], row, 2e-6, 2e-5);
    g_checks++;
    if (sc.n > 2 && !std::isnan(out[row])) {
        fprintf(stderr, "FAIL %s wrote a token not in the list\n", name);
        g_failures++;
    }
}

// The split partials of a scene's tokens, `stride` slots a (token, head), poisoned: partialO and partialML.
struct Partials {
    Buf<float> o;
    Buf<float2> ml;
    Partials(const AttnScene& sc, int stride)
        : o(static_cast<size_t>(sc.n) * sc.heads * stride * sc.D), ml(static_cast<size_t>(sc.n) * sc.heads * stride) {
        o.poison();
        ml.poison();
    }
};

struct DecodeCase {
    int heads, kvHeads, D, pageSize;
    std::vector<int> contexts, lengths, windows;
};
typedef cudaError_t (*DecodeEntry)(AttentionArgs, const int*, int, cudaStream_t);

// A decode entry point against the scalar reference: whole, split (flash-decoding) and for a token list.
static void check_attention_decode(const char* name, DecodeEntry entry, const std::vector<DecodeCase>& cases,
                                   uint64_t seed) {
    Rng rng(seed);
    for (const DecodeCase& c : cases) {
        AttnScene sc = make_scene(rng, c.heads, c.kvHeads, c.D, c.pageSize, c.contexts, c.lengths, c.windows);
        const std::vector<float> want = ref_attention(sc, false);
        AttnDevice dv(sc);
        int maxLen = 0;
        for (int x : sc.tableLen) {
            maxLen = std::max(maxLen, x);
        }
        for (int pagesPerSplit : {1000, 2, 1}) {
            const int splits = (maxLen + pagesPerSplit - 1) / pagesPerSplit;
            const int splitStride = splits + 1;
            Buf<float> out(want.size());
            Buf<uint16_t> outB(want.size());
            Partials part(sc, splitStride);
            out.poison();
            outB.poison();
            AttentionArgs a =
                dv.args(sc, pagesPerSplit, splits, splitStride, out.dev, outB.dev, part.o.dev, part.ml.dev);
            expect_ok(entry(a, nullptr, sc.n, nullptr), name);
            out.down();
            outB.down();
            char what[96];
            snprintf(what, sizeof what, "%s G=%d D=%d splits=%d", name, c.heads / c.kvHeads, c.D, splits);
            expect_close(what, out.host.data(), want.data(), want.size(), 2e-6, 2e-5);
            std::vector<float> gotB(want.size());
            for (size_t e = 0; e < want.size(); e++) {
                gotB[e] = from_bf16(outB[e]);
            }
            expect_close("bf16 output", gotB.data(), want.data(), want.size(), 1e-5, 1.0 / 128);
        }
        // A token list: only some tokens, the rest of out untouched.
        if (sc.n >= 2) {
            Buf<float> out(want.size());
            out.poison();
            Buf<int> list(std::vector<int>{sc.n - 1, 0});
            AttentionArgs a = dv.args(sc, 1000, 1, 1, out.dev, nullptr, nullptr, nullptr);
            expect_ok(entry(a, list.dev, 2, nullptr), name);
            out.down();
            expect_token_list(name, out.host, want, sc);
        }
    }
}

// The merge of split attention against the sequential sum it replaced (flash-decoding: out = Σ O_s e^(m_s − m) /
// Σ l_s e^(m_s − m) in split order, empty splits skipped): bit for bit on the emulator, 1e-6 relative on a GPU;
// up to 300 splits (more than one staged chunk), empty splits (m = −∞, garbage O) and an all-empty head.
static void test_attention_merge() {
    Rng rng(51);
    for (int splits : {1, 7, 129, 300}) {
        for (int D : {128, 36, 256}) {
            const int heads = 3, n = 2, splitStride = splits + 2;
            std::vector<float> o = random_f32(rng, static_cast<size_t>(n) * heads * splitStride * D, 2.f);
            std::vector<float2> ml(static_cast<size_t>(n) * heads * splitStride);
            for (size_t e = 0; e < ml.size(); e++) {
                const bool empty = rng.below(5) == 0 || (e / splitStride == 4);  // head 1 of token 1: all empty
                ml[e] = empty ? make_float2(-INFINITY, 0.f)
                              : make_float2((rng.below(2000) - 1000) * 0.01f, 0.5f + rng.below(1000) * 0.01f);
                if (empty) {
                    for (int d = 0; d < D; d++) {
                        o[e * D + d] = NAN;  // never read into the sum
                    }
                }
            }
            Buf<float> partialO(o);
            Buf<float2> partialML(ml);
            const int outStride = heads * D + 3;
            Buf<float> out(static_cast<size_t>(n) * outStride);
            out.poison();
            dim3 grid(heads, n);
            DMS_LAUNCH(dms_attention_merge, grid, 128, 0, nullptr, partialO.dev, partialML.dev, splits, splitStride,
                       nullptr, heads, D, out.dev, outStride, nullptr, 0);
            out.down();
            for (int i = 0; i < n; i++) {
                for (int h = 0; h < heads; h++) {
                    const size_t base = (static_cast<size_t>(i) * heads + h) * splitStride;
                    float m = -INFINITY;
                    for (int s = 0; s < splits; s++) {
                        m = fmaxf(m, ml[base + s].x);
                    }
                    float l = 0.f;
                    std::vector<float> acc(D, 0.f);
                    if (m != -INFINITY) {
                        for (int s = 0; s < splits; s++) {
                            if (ml[base + s].x != -INFINITY) {
                                const float w = expf(ml[base + s].x - m);
                                l += ml[base + s].y * w;
                                for (int d = 0; d < D; d++) {
                                    acc[d] += o[(base + s) * D + d] * w;
                                }
                            }
                        }
                    }
                    for (int d = 0; d < D; d++) {
                        const float want = l > 0.f ? acc[d] / l : 0.f;
                        const float got = out[static_cast<size_t>(i) * outStride + h * D + d];
                        g_checks++;
#ifdef DMS_EMU
                        const bool ok = memcmp(&got, &want, 4) == 0;
#else
                        const bool ok = std::fabs(got - want) <= 1e-6f * (1.f + std::fabs(want));
#endif
                        if (!ok) {
                            fprintf(stderr, "FAIL attention_merge splits=%d D=%d token %d head %d channel %d: got %.9g want %.9g\n",
                                    splits, D, i, h, d, got, want);
                            g_failures++;
                            d = D;
                            h = heads;
                            i = n;
                        }
                    }
                }
            }
        }
    }
}

static void test_attention_decode() {
    check_attention_decode("attention_decode", dms_attention_decode,
                           {
                               {8, 2, 128, 16, {40, 75, 1}, {1, 3, 1}, {4, 1000000, 0}},
                               {4, 2, 32, 8, {100, 33}, {2, 1}, {16, 3}},
                               {16, 2, 64, 16, {130}, {1}, {20}},
                               {3, 3, 36, 5, {23, 9}, {1, 2}, {2, 4}},
                               {4, 1, 4, 4, {12}, {3}, {1}},
                               {8, 4, 256, 32, {70}, {2}, {8}},
                           },
                           8);
}

// The balanced tensor-core decode grid against the same reference: many block counts (one, fewer than the lists,
// more than the pages), with the split stride its bound gives and one more; a token list.
static void test_attention_decode_tc_balanced() {
    Rng rng(21);
    const std::vector<DecodeCase> cases = {
        {8, 2, 128, 16, {40, 75, 1}, {1, 3, 1}, {4, 1000000, 0}},
        {16, 2, 64, 16, {130}, {1}, {20}},
        {3, 3, 128, 5, {23, 9}, {1, 2}, {2, 4}},
        {4, 2, 64, 8, {100, 33}, {2, 1}, {16, 3}},
        {10, 2, 128, 32, {300, 70}, {2, 1}, {1000000, 8}},
        {8, 2, 128, 16, {1200, 5, 300}, {1, 1, 2}, {100, 4, 1000000}},
    };
    for (const DecodeCase& c : cases) {
        AttnScene sc = make_scene(rng, c.heads, c.kvHeads, c.D, c.pageSize, c.contexts, c.lengths, c.windows);
        const std::vector<float> want = ref_attention(sc, false);
        AttnDevice dv(sc);
        // The lists of the launch: token t's kv head h, its length in pages.
        long long total = 0;
        int longest = 0;
        for (int t = 0; t < sc.n; t++) {
            for (int h = 0; h < sc.kvHeads; h++) {
                const int len = sc.tableLen[(static_cast<size_t>(sc.seqRow[sc.seqOfToken[t]]) * sc.layers + sc.layer) *
                                                sc.kvHeads + h];
                total += len;
                longest = std::max(longest, len);
            }
        }
        for (int blocks : {1, 2, 5, 13, 100, 1000}) {
            // AttentionKernel.balancedStride: the parts of the longest list, at most longest + 1.
            const long long byBlocks = (static_cast<long long>(longest) * blocks + total - 1) / total + 1;
            const int bound = static_cast<int>(std::min<long long>(longest + 1, byBlocks));
            for (int splitStride : {std::max(2, bound), bound + 3}) {
                Buf<float> out(want.size());
                Partials part(sc, splitStride);
                out.poison();
                AttentionArgs a = dv.args(sc, 1, splitStride, splitStride, out.dev, nullptr, part.o.dev, part.ml.dev);
                expect_ok(dms_attention_decode_tc_balanced(a, nullptr, sc.n, blocks, nullptr), "attention_decode_tcb");
                out.down();
                char what[112];
                snprintf(what, sizeof what, "attention_decode_tcb G=%d D=%d blocks=%d stride=%d", c.heads / c.kvHeads,
                         c.D, blocks, splitStride);
                expect_close(what, out.host.data(), want.data(), want.size(), 2e-6, 2e-5);
            }
        }
        if (sc.n >= 2) {  // a token list: only its tokens written
            const int splitStride = longest * 7 + 2;  // above any bound for 7 blocks (T >= 1)
            Buf<float> out(want.size());
            Partials part(sc, splitStride);
            out.poison();
            Buf<int> list(std::vector<int>{sc.n - 1, 0});
            AttentionArgs a = dv.args(sc, 1, splitStride, splitStride, out.dev, nullptr, part.o.dev, part.ml.dev);
            expect_ok(dms_attention_decode_tc_balanced(a, list.dev, 2, 7, nullptr), "attention_decode_tcb");
            out.down();
            expect_token_list("attention_decode_tcb", out.host, want, sc);
        }
    }
    // Bad arguments are refused: a stride of 1, more lists than the shared memory holds.
    AttnScene sc = make_scene(rng, 8, 2, 128, 16, {40}, {1}, {4});
    AttnDevice dv(sc);
    Buf<float> out(static_cast<size_t>(sc.n) * sc.heads * sc.D);
    Partials part(sc, 4);
    expect_refused(dms_attention_decode_tc_balanced(dv.args(sc, 1, 1, 1, out.dev, nullptr, part.o.dev, part.ml.dev),
                                                    nullptr, sc.n, 4, nullptr),
                   "attention_decode_tcb stride 1");
    expect_refused(dms_attention_decode_tc_balanced(dv.args(sc, 1, 4, 4, out.dev, nullptr, part.o.dev, part.ml.dev),
                                                    nullptr, DMS_ATT_TCB_MAX_LISTS, 4, nullptr),
                   "attention_decode_tcb too many lists");
}

// dms_attention_early (dms.cuh) as CudaContext sets it: what the split-grid tensor-core decode does before its wait.
static int g_attention_early = 1;  // what set_attention_early set last (for failure messages)
static void set_attention_early(int early) {
    g_attention_early = early;
#ifdef DMS_EMU
    dms_attention_early = early;
#else
    expect_ok(cudaMemcpyToSymbol(dms_attention_early, &early, sizeof early), "set dms_attention_early");
#endif
}

// The tensor-core decode kernel against the same reference and tolerance as the CUDA-core one, under both of
// dms_attention_early's values: the list read before or after the wait gives the same outputs (without a programmatic
// launch the wait returns at once; PdlLaunchTest overlaps the launches).
static void test_attention_decode_tc() {
    for (int early : {0, 1}) {
        set_attention_early(early);
        char name[48];
        snprintf(name, sizeof name, "attention_decode_tc early=%d", early);
        check_attention_decode(name, dms_attention_decode_tc,
                               {
                                   {8, 2, 128, 16, {40, 75, 1}, {1, 3, 1}, {4, 1000000, 0}},
                                   {16, 2, 64, 16, {130}, {1}, {20}},
                                   {3, 3, 128, 5, {23, 9}, {1, 2}, {2, 4}},
                                   {4, 2, 64, 8, {100, 33}, {2, 1}, {16, 3}},
                                   {10, 2, 128, 32, {300, 70}, {2, 1}, {1000000, 8}},
                                   {7, 1, 64, 4, {37}, {3}, {5}},
                                   // a list of 75 tiles: each warp takes many, some full (two rounds of 16 keys), some
                                   // with few visible slots
                                   {8, 2, 128, 16, {1200}, {1}, {100}},
                               },
                               18);
    }
    set_attention_early(1);
}

// The tensor-core decode with the q/k norm, RoPE, decision and KV write folded in (dms_attention_decode_tcq) against
// dms_qknorm_rope_kv then dms_attention_decode_tc, bit for bit: outputs, keys, values, slot positions and flags,
// decisions. Decode steps (one token a sequence, the token's slot inside its list, as the KV manager reserves it); the
// step's slot holds a stale entry (empty or a later position, flag 1, other key and value bits) and the previous
// token's slot a stale flag, so a block that read them from the cache instead of taking them from itself would differ
// (on the emulator the last split, which writes the cache, runs after the others of its list); windows of 0 make the
// previous token's new flag decide its visibility; one (token, kv head) has no slot (-1: nothing written); the whole
// list, 2 and 1 pages a split; a token list in reverse; DMS off.
static void check_attention_decode_tcq();
static void test_attention_decode_tcq() {
    for (int early : {1, 0, 2}) {  // the list (1), nothing (0), the list and the first slots' metadata (2) early
        set_attention_early(early);
        check_attention_decode_tcq();
    }
    set_attention_early(1);
}

static void check_attention_decode_tcq() {
    Rng rng(61);
    struct Case {
        int heads, kvHeads, D, pageSize;
        std::vector<int> contexts, windows;
        bool dms;
    };
    const std::vector<Case> cases = {
        {8, 2, 128, 16, {40, 75, 2}, {4, 1000000, 0}, true},
        {16, 2, 64, 16, {130}, {0}, true},
        {3, 3, 128, 5, {23, 9}, {0, 4}, true},
        {4, 2, 64, 8, {100, 33}, {16, 0}, false},
        {8, 2, 128, 16, {500}, {0}, true},
    };
    for (const Case& c : cases) {
        const int S = static_cast<int>(c.contexts.size());
        AttnScene sc = make_scene(rng, c.heads, c.kvHeads, c.D, c.pageSize, c.contexts, std::vector<int>(S, 1), c.windows);
        const int n = sc.n, layers = sc.layers, layer = sc.layer, ropePositions = 2048;
        const float eps = 1e-6f;
        const int qh = c.heads * c.D, kvh = c.kvHeads * c.D;
        const int stride = qh + 2 * kvh + 8;
        const std::vector<float> qkv0 = random_f32(rng, static_cast<size_t>(n) * stride, 3.f);
        Buf<uint16_t> qn(random_bf16(rng, c.D, 1.5f)), kn(random_bf16(rng, c.D, 1.5f));
        Buf<float2> rope(rope_table(c.D, 1e6, ropePositions));
        std::vector<float> thr(static_cast<size_t>(S) * layers);
        for (auto& t : thr) {
            t = (rng.below(5) - 2) * 0.05f;
        }
        // The step's slot of (token i, kv head h): the one at the token's position; the previous token's at position - 1.
        std::vector<int> slotsH(static_cast<size_t>(layers) * c.kvHeads * n, -7), prevH(static_cast<size_t>(layers) * c.kvHeads * S, -7);
        for (int i = 0; i < n; i++) {
            const int s = sc.seqOfToken[i];
            const int qpos = sc.positions[i];
            for (int h = 0; h < c.kvHeads; h++) {
                const size_t head = (static_cast<size_t>(sc.seqRow[s]) * layers + layer) * c.kvHeads + h;
                int mine = -1, before = -1;
                for (int e = 0; e < sc.tableLen[head]; e++) {
                    const int page = sc.table[head * sc.maxPagesPerHead + e];
                    for (int o = 0; page >= 0 && o < c.pageSize; o++) {
                        const int slot = page * c.pageSize + o;
                        mine = sc.slotPos[slot] == qpos ? slot : mine;
                        before = sc.slotPos[slot] == qpos - 1 ? slot : before;
                    }
                }
                const bool none = i == 0 && h == c.kvHeads - 1 && n > 1;  // no slot: nothing written, the cache's read
                slotsH[(static_cast<size_t>(layer) * c.kvHeads + h) * n + i] = none ? -1 : mine;
                prevH[(static_cast<size_t>(layer) * c.kvHeads + h) * S + s] = before;
                if (!none) {
                    sc.slotPos[mine] = (i + h) % 2 == 0 ? -1 : qpos + 9;  // stale: an empty slot's, another's
                    sc.slotFlag[mine] = 1;
                }
                if (before >= 0) {
                    sc.slotFlag[before] = rng.below(2);
                }
            }
        }
        Buf<int> slots(slotsH), prev(prevH);
        Buf<float> thresholds(thr);
        int maxLen = 0;
        for (int x : sc.tableLen) {
            maxLen = std::max(maxLen, x);
        }
        for (int pagesPerSplit : {1000, 2, 1}) {
            for (bool reversed : {false, true}) {
                if (reversed && pagesPerSplit != 2) {
                    continue;
                }
                const int splits = (maxLen + pagesPerSplit - 1) / pagesPerSplit;
                const int splitStride = splits + 1;
                std::vector<int> order(n);
                for (int i = 0; i < n; i++) {
                    order[i] = reversed ? n - 1 - i : i;
                }
                Buf<int> list(order);
                struct Run {
                    AttnDevice dv;
                    Buf<float> qkv, out;
                    Buf<uint16_t> outB;
                    Buf<unsigned char> decisions;
                    Partials part;
                    Run(const AttnScene& sc, const std::vector<float>& qkv0, size_t decisionCount, int splitStride)
                        : dv(sc), qkv(qkv0), out(static_cast<size_t>(sc.n) * sc.heads * sc.D),
                          outB(static_cast<size_t>(sc.n) * sc.heads * sc.D), decisions(decisionCount),
                          part(sc, splitStride) {
                        out.poison();
                        outB.poison();
                        decisions.poison();
                    }
                };
                const size_t decisionCount = static_cast<size_t>(n) * layers * c.kvHeads;
                Run two(sc, qkv0, decisionCount, splitStride), one(sc, qkv0, decisionCount, splitStride);
                const int dms = c.dms ? 1 : 0;
                unsigned char* dec2 = c.dms ? two.decisions.dev : nullptr;
                unsigned char* dec1 = c.dms ? one.decisions.dev : nullptr;
                const int* tokens = reversed ? list.dev : nullptr;
                expect_ok(dms_qknorm_rope_kv(two.qkv.dev, stride, two.qkv.dev + qh, stride, qn.dev, kn.dev, rope.dev,
                                             ropePositions, two.dv.positions.dev, n, c.heads, c.kvHeads, c.D, eps, dms,
                                             100.0, 5.0, two.dv.seqOfToken.dev, thresholds.dev, layers, layer, dec2,
                                             two.qkv.dev + qh + kvh, stride, slots.dev, prev.dev, S, two.dv.keys.dev,
                                             two.dv.values.dev, two.dv.slotPos.dev, two.dv.slotFlag.dev, nullptr),
                          "qknorm_rope_kv");
                AttentionArgs a2 = two.dv.args(sc, pagesPerSplit, splits, splitStride, two.out.dev, two.outB.dev,
                                               two.part.o.dev, two.part.ml.dev);
                a2.q = two.qkv.dev;
                a2.qStride = stride;
                expect_ok(dms_attention_decode_tc(a2, tokens, n, nullptr), "attention_decode_tc");
                AttentionArgs a1 = one.dv.args(sc, pagesPerSplit, splits, splitStride, one.out.dev, one.outB.dev,
                                               one.part.o.dev, one.part.ml.dev);
                a1.q = one.qkv.dev;
                a1.qStride = stride;
                const FoldArgs f{one.qkv.dev + qh, stride, one.qkv.dev + qh + kvh, stride, qn.dev, kn.dev, rope.dev,
                                 ropePositions, eps, dms, 100.0, 5.0, thresholds.dev, dec1, slots.dev, prev.dev, n, S};
                expect_ok(dms_attention_decode_tcq(a1, tokens, n, f, nullptr), "attention_decode_tcq");
                for (Run* r : {&two, &one}) {
                    r->out.down();
                    r->outB.down();
                    r->decisions.down();
                    r->dv.keys.down();
                    r->dv.values.down();
                    r->dv.slotPos.down();
                    r->dv.slotFlag.down();
                }
                auto same = [&](const char* what, const void* x, const void* y, size_t bytes) {
                    g_checks++;
                    if (memcmp(x, y, bytes) != 0) {
                        fprintf(stderr, "FAIL attention_decode_tcq early=%d G=%d D=%d splits=%d reversed=%d dms=%d: %s "
                                "differ from qknorm_rope_kv + decode_tc's\n", g_attention_early,
                                c.heads / c.kvHeads, c.D, splits, reversed, c.dms, what);
                        g_failures++;
                    }
                };
                same("outputs", one.out.host.data(), two.out.host.data(), one.out.size() * 4);
                same("bf16 outputs", one.outB.host.data(), two.outB.host.data(), one.outB.size() * 2);
                same("decisions", one.decisions.host.data(), two.decisions.host.data(), one.decisions.size());
                same("keys", one.dv.keys.host.data(), two.dv.keys.host.data(), one.dv.keys.size() * 2);
                same("values", one.dv.values.host.data(), two.dv.values.host.data(), one.dv.values.size() * 2);
                same("slot positions", one.dv.slotPos.host.data(), two.dv.slotPos.host.data(), one.dv.slotPos.size() * 4);
                same("slot flags", one.dv.slotFlag.host.data(), two.dv.slotFlag.host.data(), one.dv.slotFlag.size());
                g_checks++;
                if (std::isnan(one.out[0])) {
                    fprintf(stderr, "FAIL attention_decode_tcq: token 0 not written\n");
                    g_failures++;
                }
            }
        }
    }
}

// The bf16 kernels against the double sums: 2^-9 of rounding in q and in the probabilities; 1.5e-3 the worst on the
// emulator over these cases (outputs up to 1).
#define DMS_CHUNK_BF16_TOLERANCE 4e-3
// bf16: the kernels with q and the probabilities as one bf16 each (dms_attention_chunk_bf16_d*), whose rounding of
// both (2^-9 relative) bounds how close they come: checked against the double sums with a tolerance of that order.
static void test_attention_chunk_with(bool bf16) {
    Rng rng(9);
    struct Case {
        int heads, kvHeads, D, pageSize;
        std::vector<int> contexts, lengths, windows;
        bool ordered = false;
        int splitPages = 0;  // ordered: pages a split in the split run (0: unsplit only)
    };
    std::vector<Case> cases = {
        {8, 2, 128, 16, {40, 90}, {17, 70}, {4, 20}},
        {4, 2, 32, 8, {100, 33}, {33, 2}, {16, 3}},
        {4, 1, 64, 16, {75}, {75}, {6}},
        {10, 2, 64, 4, {50}, {13}, {1000}},
        // Ordered pages, long enough for key tiles that every query of a tile sees (DMS_CHUNK_FULL's unmasked path)
        // beside the diagonal's masked ones; the query tiles end where key tiles end, so a diagonal tile has every key
        // visible to its last query and none past it. Then a window that evicts older flagged keys over three key
        // tiles; then a few queries over six key tiles, whole and split three and two tiles (DMS_CHUNK_META's loads
        // ahead in their steady state, from a split's start, and past the list's end). Few queries: the emulator's time
        // (NativeEmulatorIT).
        {8, 2, 128, 16, {128}, {128}, {1000}, true},
        {8, 2, 64, 8, {160}, {70}, {40}, true},
        {8, 2, 128, 8, {328}, {24}, {1000}, true, 24},
        // DMS_CHUNK_PACK over lists longer than one scan's rounds (1,024 slots): an ordered prompt's last queries
        // past a window of 64, whole and split 40 pages a split; then pages with holes in a random slot order.
        {8, 2, 64, 16, {1400}, {24}, {64}, true, 40},
        {8, 2, 128, 8, {1100}, {16}, {50}},
    };
    for (const Case& c : cases) {
        AttnScene sc =
            make_scene(rng, c.heads, c.kvHeads, c.D, c.pageSize, c.contexts, c.lengths, c.windows, c.ordered);
        const std::vector<float> want = ref_attention(sc, false);
        AttnDevice dv(sc);
        const int G = c.heads / c.kvHeads;
        const int perTile = 64 / G;
        std::vector<int2> tilesH;
        for (size_t s = 0; s < c.lengths.size(); s++) {
            for (int t = 0; t < c.lengths[s]; t += perTile) {
                tilesH.push_back(make_int2(sc.seqFirst[s] + t, std::min(perTile, c.lengths[s] - t)));
            }
        }
        Buf<int2> tiles(tilesH);
        std::vector<int> all(sc.n);
        for (int i = 0; i < sc.n; i++) {
            all[i] = i;
        }
        Buf<int> list(all);
        int maxLen = 0;
        for (int x : sc.tableLen) {
            maxLen = std::max(maxLen, x);
        }
        for (int pagesPerSplit : {1000, c.ordered ? c.splitPages : 3}) {
            if (pagesPerSplit == 0) {
                continue;
            }
            const int splits = (maxLen + pagesPerSplit - 1) / pagesPerSplit;
            const int splitStride = splits;
            Buf<float> out(want.size());
            Buf<uint16_t> outB(want.size());
            Partials part(sc, splitStride);
            out.poison();
            outB.poison();
            AttentionArgs a =
                dv.args(sc, pagesPerSplit, splits, splitStride, out.dev, outB.dev, part.o.dev, part.ml.dev);
            const auto entry = bf16 ? dms_attention_chunk_bf16 : dms_attention_chunk;
            expect_ok(entry(a, tiles.dev, static_cast<int>(tilesH.size()), list.dev, sc.n, nullptr),
                      bf16 ? "attention_chunk_bf16" : "attention_chunk");
            out.down();
            char what[96];
            snprintf(what, sizeof what, "attention_chunk%s G=%d D=%d splits=%d", bf16 ? "_bf16" : "", G, c.D, splits);
            if (bf16) {
                double worst = 0, largest = 0;
                for (size_t e = 0; e < want.size(); e++) {
                    worst = std::max(worst, std::fabs(static_cast<double>(out.host[e]) - want[e]));
                    largest = std::max(largest, std::fabs(static_cast<double>(want[e])));
                }
                if (getenv("DMS_KT_VERBOSE")) {
                    fprintf(stderr, "%s: worst %.3g of largest %.3g\n", what, worst, largest);
                }
                expect_close(what, out.host.data(), want.data(), want.size(), DMS_CHUNK_BF16_TOLERANCE, 0.0);
                continue;
            }
            // q and the probabilities reach the tensor cores as bf16 high + low parts: about fp32 accuracy. The rest of
            // a probability p in [2^e, 2^(e+1)) is within half of hi's ulp, 2^(e-8), and rounding it to bf16 loses up to
            // 2^(e-17) <= 2^-17 p; the largest weight (exactly 1) loses nothing, so over weights summing to l and values
            // within ±1 an output's error stays under 2^-17 (l - 1) / l, about 7.6e-6. Queries that see a few keys of an
            // ordered prompt (large weights) come near it: 2.6e-6 on the H200 at positions 0-2 of the head_dim-128 case,
            // with the old kernel as with the base-2 one (docs/benchmarks.md, twenty-third pass); the other cases keep
            // the tolerance they have always passed.
            expect_close(what, out.host.data(), want.data(), want.size(), c.ordered ? 8e-6 : 2e-6, 2e-5);
        }
    }
}

static void test_attention_chunk() {
    test_attention_chunk_with(false);
}

static void test_attention_chunk_bf16() {
    test_attention_chunk_with(true);
}

// ---------------------------------------------------------------------------------------------------
// sampling: the spec of sampling.cu with a full sort, sums in sequential order.

struct RefSample {
    int token;
    float logprob;
    std::vector<int> topIds;
    std::vector<float> topLogprobs;
    std::vector<float> processed;
};

static RefSample ref_sample(const float* logits, int vocab, const SampleParams& P, const unsigned* mask,
                            const std::vector<int>& biasIds, const std::vector<float>& biasValues, const int* counts,
                            const unsigned* prompt) {
    RefSample out;
    std::vector<float>& L = out.processed;
    L.assign(logits, logits + vocab);
    if (mask) {
        for (int id = 0; id < vocab; id++) {
            if (((mask[id >> 5] >> (id & 31)) & 1u) == 0) {
                L[id] = -INFINITY;
            }
        }
    }
    for (int e = 0; e < P.biasCount; e++) {
        const int id = biasIds[P.biasStart + e];
        if (id >= 0 && id < vocab) {
            L[id] = L[id] + biasValues[P.biasStart + e];
        }
    }
    if (counts) {
        for (int id = 0; id < vocab; id++) {
            const int c = counts[id];
            const bool present = c > 0 || (prompt && ((prompt[id >> 5] >> (id & 31)) & 1u));
            double v = L[id];
            if (present) {
                v = v > 0 ? v / P.repetitionPenalty : v * P.repetitionPenalty;
            }
            v -= P.frequencyPenalty * c + P.presencePenalty * (c > 0 ? 1.0 : 0.0);
            L[id] = static_cast<float>(v);
        }
    }
    int best = 0;
    for (int id = 1; id < vocab; id++) {
        if (L[id] > L[best]) {
            best = id;
        }
    }
    const double T = P.temperature > 0 ? P.temperature : 1.0;
    const double lmax = L[best];
    std::vector<int> cands;
    for (int id = 0; id < vocab; id++) {
        if (L[id] > -INFINITY) {
            cands.push_back(id);
        }
    }
    std::sort(cands.begin(), cands.end(), [&](int a, int b) { return L[a] > L[b] || (L[a] == L[b] && a < b); });
    out.token = best;
    if (P.temperature > 0 && !cands.empty()) {
        std::vector<double> w;
        std::vector<int> kept;
        for (int id : cands) {
            const double x = std::exp((static_cast<double>(L[id]) - lmax) / T);
            if (P.minP > 0 && x < P.minP) {
                break;
            }
            kept.push_back(id);
            w.push_back(x);
        }
        if (P.topK > 0 && static_cast<int>(kept.size()) > P.topK) {
            kept.resize(P.topK);
            w.resize(P.topK);
        }
        double sumK = 0;
        for (double x : w) {
            sumK += x;
        }
        size_t count = kept.size();
        if (P.topP < 1) {
            double cum = 0;
            for (size_t i = 0; i < kept.size(); i++) {
                cum += w[i] / sumK;
                if (cum >= P.topP) {
                    count = i + 1;
                    break;
                }
            }
        }
        double total = 0;
        for (size_t i = 0; i < count; i++) {
            total += w[i];
        }
        double draw = dms::uniform_draw(P.seed, P.drawIndex) * total;
        out.token = kept[count - 1];
        for (size_t i = 0; i < count; i++) {
            draw -= w[i];
            if (draw < 0) {
                out.token = kept[i];
                break;
            }
        }
    }
    double sum = 0;
    for (int id = 0; id < vocab; id++) {
        if (L[id] > -INFINITY) {
            sum += std::exp((static_cast<double>(L[id]) - lmax) / T);
        }
    }
    const double logSum = std::log(sum);
    out.logprob = static_cast<float>((static_cast<double>(L[out.token]) - lmax) / T - logSum);
    for (int e = 0; e < 20; e++) {
        if (e < std::min(P.logprobs, static_cast<int>(cands.size()))) {
            out.topIds.push_back(cands[e]);
            out.topLogprobs.push_back(static_cast<float>((static_cast<double>(L[cands[e]]) - lmax) / T - logSum));
        } else {
            out.topIds.push_back(-1);
            out.topLogprobs.push_back(-INFINITY);
        }
    }
    return out;
}

static SampleParams params(double temperature, double topP, int topK, double minP, uint64_t seed, uint64_t draw) {
    SampleParams p;
    memset(&p, 0, sizeof p);
    p.temperature = temperature;
    p.topP = topP;
    p.topK = topK;
    p.minP = minP;
    p.repetitionPenalty = 1.0;
    p.seed = seed;
    p.drawIndex = draw;
    p.logprobs = -1;
    p.maskOffset = -1;
    p.countsRow = -1;
    return p;
}

// splits > 1: the rows split by vocabulary slices (dms_sample's plain greedy rows); greedy: most rows plain greedy
// (temperature 0, no logprobs), with the same masks, bias and penalties as the mixed rows, one in ten sampled.
static void test_sampling(int vocab, int rowsWanted, uint64_t seedBase, int splits = 1, bool greedy = false) {
    Rng rng(seedBase);
    std::vector<SampleParams> ps;
    // A spread of settings; several rows repeat a setting with other draws.
    for (int r = 0; r < rowsWanted; r++) {
        const uint64_t seed = rng.next();
        switch (r % 10) {
            case 0: ps.push_back(params(0, 1, 0, 0, seed, r)); break;              // greedy
            case 1: ps.push_back(params(1.0, 1, 0, 0, seed, r)); break;            // plain
            case 2: ps.push_back(params(0.7, 0.9, 0, 0, seed, r)); break;          // top-p
            case 3: ps.push_back(params(1.3, 1, 5, 0, seed, r)); break;            // top-k
            case 4: ps.push_back(params(0.8, 0.95, 40, 0.05, seed, r)); break;     // all
            case 5: ps.push_back(params(5.0, 1, 0, 0, seed, r)); break;            // flat: deep walks
            case 6: ps.push_back(params(3.0, 0.999, 0, 0, seed, r)); break;        // deep top-p
            case 7: ps.push_back(params(1.0, 1, 1, 0, seed, r)); break;            // top-k 1
            case 8: ps.push_back(params(2.0, 0.5, 0, 0.2, seed, r)); break;        // min-p
            default: ps.push_back(params(1.0, 1, 100000, 0, seed, r)); break;      // top-k above vocab
        }
        ps.back().logprobs = r % 3 == 0 ? 20 : r % 3 == 1 ? 0 : (r % 2 ? 3 : -1);
        if (greedy && r % 10 != 6) {
            ps.back().temperature = 0;
            ps.back().logprobs = r % 10 == 9 ? 0 : -1;  // one greedy row with a logprob: not split
        }
    }
    const int rows = static_cast<int>(ps.size());
    const int words = (vocab + 31) / 32;
    std::vector<float> logits(static_cast<size_t>(rows) * vocab);
    for (int r = 0; r < rows; r++) {
        for (int id = 0; id < vocab; id++) {
            float v = rng.sym(r % 4 == 1 ? 2.f : 8.f);
            if (rng.below(20) == 0) {
                v = std::round(v);  // ties
            }
            logits[static_cast<size_t>(r) * vocab + id] = v;
        }
    }
    // Masks on rows 2 and 5, bias on 3 and 4, penalties on 1, 4, 8.
    std::vector<unsigned> maskWords(static_cast<size_t>(2) * words, 0);
    for (int m = 0; m < 2; m++) {
        for (int id = 0; id < vocab; id++) {
            if (rng.below(3) != 0) {
                maskWords[static_cast<size_t>(m) * words + id / 32] |= 1u << (id % 32);
            }
        }
    }
    std::vector<int> biasIds;
    std::vector<float> biasValues;
    const int countRows = rows;  // one counts row per sequence (rows sharing one would race)
    std::vector<int> counts(static_cast<size_t>(countRows) * vocab, 0);
    std::vector<unsigned> prompt(static_cast<size_t>(countRows) * words, 0);
    for (int c = 0; c < countRows; c++) {
        for (int e = 0; e < vocab / 4; e++) {
            counts[static_cast<size_t>(c) * vocab + rng.below(vocab)] += 1 + rng.below(3);
            const int t = rng.below(vocab);
            prompt[static_cast<size_t>(c) * words + t / 32] |= 1u << (t % 32);
        }
    }
    for (int r = 0; r < rows; r++) {
        if (r % 10 == 2 || r % 10 == 5) {
            ps[r].maskOffset = (r % 10 == 2 ? 0 : 1) * words;
        }
        if (r % 10 == 3 || r % 10 == 4) {
            ps[r].biasStart = static_cast<int>(biasIds.size());
            for (int e = 0; e < 7; e++) {
                biasIds.push_back((r * 13 + e * 29) % vocab);
                biasValues.push_back(e % 2 ? 100.f : -3.5f);
            }
            biasIds.push_back(vocab + 5);  // ignored
            biasValues.push_back(1.f);
            ps[r].biasCount = 8;
        }
        if (r % 10 == 1 || r % 10 == 4 || r % 10 == 8) {
            ps[r].countsRow = (r * 7 + 3) % countRows;
            ps[r].repetitionPenalty = 1.3;
            ps[r].presencePenalty = 0.4;
            ps[r].frequencyPenalty = 0.25;
            ps[r].flags = 1;
        }
    }
    std::vector<int> countsBefore = counts;
    Buf<float> dl(logits);
    Buf<float> processed(logits.size());
    processed.poison();
    Buf<SampleParams> dp(ps);
    Buf<unsigned> dm(maskWords), dprompt(prompt);
    Buf<int> dbi(biasIds.empty() ? std::vector<int>{0} : biasIds);
    Buf<float> dbv(biasValues.empty() ? std::vector<float>{0} : biasValues);
    Buf<int> dc(counts);
    Buf<int> tokens(rows);
    Buf<float> lps(rows), topL(static_cast<size_t>(rows) * 20);
    Buf<int> topI(static_cast<size_t>(rows) * 20);
    tokens.poison();
    lps.poison();
    topL.poison();
    topI.poison();
    Buf<unsigned long long> splitBest(static_cast<size_t>(rows) * splits);
    Buf<unsigned> arrivals(std::vector<unsigned>(rows, 0));
    splitBest.poison();
    expect_ok(dms_sampling(dl.dev, vocab, processed.dev, vocab, rows, vocab, dp.dev, dm.dev, dbi.dev, dbv.dev,
                           dprompt.dev, dc.dev, tokens.dev, lps.dev, topI.dev, topL.dev, splits, splitBest.dev,
                           arrivals.dev, nullptr),
              "sampling");
    arrivals.down();
    expect_equal("sampling split arrivals reset", arrivals.host.data(), std::vector<unsigned>(rows, 0).data(),
                 static_cast<size_t>(rows));
    tokens.down();
    lps.down();
    topL.down();
    topI.down();
    processed.down();
    dc.down();
    std::vector<int> wantCounts = countsBefore;
    for (int r = 0; r < rows; r++) {
        const SampleParams& P = ps[r];
        const unsigned* mask = P.maskOffset >= 0 ? &maskWords[P.maskOffset] : nullptr;
        const int* cnt = P.countsRow >= 0 ? &countsBefore[static_cast<size_t>(P.countsRow) * vocab] : nullptr;
        const unsigned* pr = P.countsRow >= 0 ? &prompt[static_cast<size_t>(P.countsRow) * words] : nullptr;
        RefSample want = ref_sample(&logits[static_cast<size_t>(r) * vocab], vocab, P, mask, biasIds, biasValues, cnt, pr);
        char what[96];
        snprintf(what, sizeof what, "sampling vocab %d row %d processed", vocab, r);
        expect_close(what, &processed[static_cast<size_t>(r) * vocab], want.processed.data(), vocab, 0, 0);
        snprintf(what, sizeof what, "sampling vocab %d row %d token (T %.2f top-p %.3f top-k %d min-p %.2f)", vocab, r,
                 P.temperature, P.topP, P.topK, P.minP);
        expect_equal(what, &tokens[r], &want.token, 1);
        if (P.logprobs >= 0) {
            snprintf(what, sizeof what, "sampling vocab %d row %d logprob", vocab, r);
            expect_close(what, &lps[r], &want.logprob, 1, 1e-5, 1e-5);
        }
        if (P.logprobs > 0) {
            snprintf(what, sizeof what, "sampling vocab %d row %d top ids", vocab, r);
            expect_equal(what, &topI[static_cast<size_t>(r) * 20], want.topIds.data(), P.logprobs);
            snprintf(what, sizeof what, "sampling vocab %d row %d top logprobs", vocab, r);
            expect_close(what, &topL[static_cast<size_t>(r) * 20], want.topLogprobs.data(), 20, 1e-5, 1e-5);
        }
        if (P.countsRow >= 0 && (P.flags & 1)) {
            wantCounts[static_cast<size_t>(P.countsRow) * vocab + tokens[r]] += 1;
        }
    }
    expect_equal("sampling output counts", dc.host.data(), wantCounts.data(), wantCounts.size());
}

static void test_sampling_counts() {
    const int vocab = 77, words = 3;
    Buf<unsigned> bits(std::vector<unsigned>(2 * words, 0));
    Buf<int> counts(std::vector<int>(2 * vocab, 0));
    Buf<int> ids(std::vector<int>{5, 76, 5, 100, 40, -1}), rowsOf(std::vector<int>{0, 1, 0, 0, -1, 1});
    expect_ok(dms_sampling_counts(ids.dev, rowsOf.dev, 6, vocab, bits.dev, nullptr, nullptr), "sampling_counts bits");
    expect_ok(dms_sampling_counts(ids.dev, rowsOf.dev, 6, vocab, nullptr, counts.dev, nullptr), "sampling_counts counts");
    bits.down();
    counts.down();
    std::vector<unsigned> wantBits(2 * words, 0);
    wantBits[0] = 1u << 5;
    wantBits[words + 2] = 1u << (76 - 64);
    std::vector<int> wantCounts(2 * vocab, 0);
    wantCounts[5] = 2;
    wantCounts[vocab + 76] = 1;
    expect_equal("sampling_counts bits", bits.host.data(), wantBits.data(), wantBits.size());
    expect_equal("sampling_counts counts", counts.host.data(), wantCounts.data(), wantCounts.size());
}

// ---------------------------------------------------------------------------------------------------

int main(int argc, char** argv) {
    std::vector<std::pair<std::string, std::function<void()>>> tests = {
        {"embedding", test_embedding},
        {"rmsnorm", test_rmsnorm},
        {"qknorm_rope", test_qknorm_rope},
        {"qknorm_rope_kv", test_qknorm_rope_kv},
        {"qknorm_rope_dims", test_qknorm_rope_dims},
        {"attention_merge", test_attention_merge},
        {"gemv", test_gemv},
        {"gemv_swiglu", test_gemv_swiglu},
        {"matmul", test_matmul},
        {"matmul_wg", test_matmul_wg},
        {"matmul_ws", test_matmul_ws},
        {"matmul_bk", test_matmul_bk},
        {"producer_images", test_producer_images},
        {"matmul_wgs", test_matmul_wgs},
        {"matmul_wgs_norm", test_matmul_wgs_norm},
        {"matmul_wgs_swiglu", test_matmul_wgs_swiglu},
        {"matmul_k_limit", test_matmul_k_limit},
        {"gemv_norm", test_gemv_norm},
        {"gemv_swiglu_norm", test_gemv_swiglu_norm},
        {"decode_chain", test_decode_chain},
        {"skinny_cp", test_skinny_cp},
        {"swiglu", test_swiglu},
        {"page_table", test_page_table},
        {"page_copy", test_page_copy},
        {"slot_move", test_slot_move},
        {"kv_write", test_kv_write},
        {"attention_decode", test_attention_decode},
        {"attention_decode_tc", test_attention_decode_tc},
        {"attention_decode_tcb", test_attention_decode_tc_balanced},
        {"attention_decode_tcq", test_attention_decode_tcq},
        {"attention_chunk", test_attention_chunk},
#ifndef DMS_EMU
        // The GPU only: attention_chunk's body with two bits of its OPT set, which the emulator's attention_chunk runs
        // otherwise; a minute more of each of NativeEmulatorIT's three runs, which are near their limit on 2 cores.
        {"attention_chunk_bf16", test_attention_chunk_bf16},
#endif
        {"sampling_small", [] { test_sampling(77, 20, 10); }},
        {"sampling_large", [] { test_sampling(5000, 10, 11); }},
        {"sampling_counts", test_sampling_counts},
        {"sampling_split", [] {
             // Small vocabularies on the emulator (NativeEmulatorIT runs every test three times within its limit).
             test_sampling(77, 20, 13, 3, true);
             test_sampling(77, 20, 17, 64, true);   // slices of 2 ids, the last 25 empty
             test_sampling(77, 20, 18, 16, false);  // mixed rows: only the plain greedy ones split
#ifndef DMS_EMU
             test_sampling(5000, 10, 14, 7, true);
             test_sampling(5000, 10, 15, 16, false);
             test_sampling(151936, 10, 16, 32, true);
#endif
         }},
#ifndef DMS_EMU
        {"sampling_vocab", [] { test_sampling(151936, 30, 12); }},
#endif
    };
    for (auto& t : tests) {
        if (argc > 1) {
            bool wanted = false;
            for (int a = 1; a < argc; a++) {
                wanted |= t.first == argv[a];
            }
            if (!wanted) {
                continue;
            }
        }
        const int before = g_failures;
        t.second();
        printf("%-18s %s\n", t.first.c_str(), g_failures == before ? "ok" : "FAILED");
        fflush(stdout);
    }
    printf("%d checks, %d failures\n", g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}
