// stream_bench.cu: can one persistent block a multiprocessor stream a one-token product's weights as fast as the GEMV's
// many short blocks, and keep streaming through a grid barrier? The twenty-fourth pass's persistent chain
// (decode_chain.cuh) streamed 7% slower than the GEMVs with its loads in registers and lost 5.7 µs at each barrier.
// Here a producer warp fills a ring of shared-memory stages with bulk copies (cp.async.bulk, completion counted on an
// mbarrier: no registers hold loads in flight, 6 x 32 KB a multiprocessor), sixteen consumer warps sum the stages, and
// the producer runs ahead across the barrier into the next product's rows. Not part of the fatbin; sm_90 only.
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o stream_bench native/bench/stream_bench.cu
//   ./stream_bench [launches=36] [sets=8]   (key=value)
// Output, one JSON line each: the variant, µs a launch (the mean of 4 replays of a graph), TB/s of its weights, and
// for the streamed products the largest difference from the GEMV's outputs relative to their largest value.
// Measured (H200, 2026-12-02, docs/benchmarks.md twenty-fourth pass): slower than the GEMVs, 51.1 against 47.0 µs for
// gate|up's 201 MB (3.94 against 4.28 TB/s), 14.5 against 10.3 for o's 33.5 MB; o, barrier, gate|up in one launch 62.8
// against 57.2 for the two GEMV launches. The GEMV at 2 rows a block 1.6-1.8% faster than at the launcher's 4 on the
// o- and q|k|v-shaped products (10.08 against 10.24 µs, 13.85 against 14.10).
#include "../all.cu"
#include "bench_util.cuh"
#include "decode_chain.cuh"  // chain::grid_arrive_wait

#include <cmath>

#define ST_CONSUMERS 16                      // consumer warps
#define ST_THREADS (32 * (ST_CONSUMERS + 1))  // and one producer warp (warp 0)
#define ST_STAGES 6
#define ST_ROWS 4                            // rows a stage (k = 4096: 32 KB)

namespace st {

DMS_DEVICE void mbar_init(uint64_t* bar, unsigned count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(dms::smem_addr(bar)), "r"(count));
}
DMS_DEVICE void mbar_expect(uint64_t* bar, unsigned bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(dms::smem_addr(bar)), "r"(bytes)
                 : "memory");
}
DMS_DEVICE void mbar_arrive(uint64_t* bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(dms::smem_addr(bar)) : "memory");
}
DMS_DEVICE void mbar_wait(uint64_t* bar, unsigned parity) {
    asm volatile(
        "{\n"
        ".reg .pred done;\n"
        "wait_%=:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
        "@!done bra wait_%=;\n"
        "}\n" ::"r"(dms::smem_addr(bar)),
        "r"(parity)
        : "memory");
}
DMS_DEVICE void bulk_copy(void* dst, const void* src, unsigned bytes, uint64_t* bar) {
    asm volatile(
        "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(
            dms::smem_addr(dst)),
        "l"(src), "r"(bytes), "r"(dms::smem_addr(bar))
        : "memory");
}

// The consumers' own barrier (named barrier 1: the producer never waits in it).
DMS_DEVICE void consumers_sync() {
    asm volatile("bar.sync 1, %0;\n" ::"n"(32 * ST_CONSUMERS) : "memory");
}

// A product of `rows` rows of k = 4096 weights; block b takes rows [b m / B, (b + 1) m / B).
struct Product {
    const bf16_t* w;
    const float* x;
    float* y;
    int m;
};

// One or two products (phases); with two, the consumers pass a grid barrier between them while the producer keeps
// copying the second's rows. k = 4096 (stage = ST_ROWS whole rows).
__global__ void __launch_bounds__(ST_THREADS, 1)
    streamed(Product p0, Product p1, int phases, unsigned* barrier) {
    constexpr int K = 4096;
    constexpr int STAGE = ST_ROWS * K;  // weights
    extern __shared__ __align__(128) unsigned char smem[];
    bf16_t* ring = reinterpret_cast<bf16_t*>(smem);                         // [ST_STAGES][STAGE]
    float* xs = reinterpret_cast<float*>(ring + ST_STAGES * STAGE);           // [K]
    float* part = xs + K;                                                   // [rows of a share][4]
    __shared__ __align__(8) uint64_t full[ST_STAGES], empty[ST_STAGES];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const Product ps[2] = {p0, p1};
    const auto share = [&](int p, int& r0, int& n) {
        r0 = static_cast<int>(static_cast<long long>(blockIdx.x) * ps[p].m / gridDim.x);
        n = static_cast<int>(static_cast<long long>(blockIdx.x + 1) * ps[p].m / gridDim.x) - r0;
    };
    if (threadIdx.x == 0) {
        for (int s = 0; s < ST_STAGES; s++) {
            mbar_init(&full[s], 1);
            mbar_init(&empty[s], ST_CONSUMERS);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    if (warp == 0) {
        // Producer: every stage of every phase, in order, each into the next free slot.
        if (lane == 0) {
            int i = 0;
            for (int p = 0; p < phases; p++) {
                int r0, n;
                share(p, r0, n);
                for (int r = 0; r < n; r += ST_ROWS, i++) {
                    const int slot = i % ST_STAGES;
                    if (i >= ST_STAGES) {
                        mbar_wait(&empty[slot], ((i / ST_STAGES) + 1) & 1);
                    }
                    const unsigned bytes = static_cast<unsigned>(min(ST_ROWS, n - r)) * K * 2;
                    mbar_expect(&full[slot], bytes);
                    bulk_copy(ring + static_cast<size_t>(slot) * STAGE, ps[p].w + static_cast<size_t>(r0 + r) * K,
                              bytes, &full[slot]);
                }
            }
            dms::pdl_trigger();  // every copy issued: the next launch may be scheduled (it fits nowhere before we exit)
        }
        return;
    }
    dms::pdl_wait();  // the consumers read x and write y only after the launch before (weights need no wait)
    // Consumers: warp c sums row c / 4 of each stage, quarter c % 4 (1024 weights: 4 loads a lane).
    const int c = warp - 1;
    const int tid = threadIdx.x - 32;
    int i = 0;
    for (int p = 0; p < phases; p++) {
        if (p > 0) {  // the grid barrier: consumers only (the producer is already copying phase p's rows)
            consumers_sync();
            if (tid == 0) {
                chain::grid_arrive_wait(barrier);
            }
            consumers_sync();
        }
        int r0, n;
        share(p, r0, n);
        for (int e = tid; e < K / 4; e += 32 * ST_CONSUMERS) {
            reinterpret_cast<float4*>(xs)[e] = __ldcg(reinterpret_cast<const float4*>(ps[p].x) + e);
        }
        consumers_sync();
        for (int r = 0; r < n; r += ST_ROWS, i++) {
            const int slot = i % ST_STAGES;
            mbar_wait(&full[slot], (i / ST_STAGES) & 1);
            const int row = c / 4, q = c % 4;
            if (r + row < n) {
                const bf16_t* w = ring + static_cast<size_t>(slot) * STAGE + row * K + q * 1024;
                float sum = 0.f;
#pragma unroll
                for (int u = 0; u < 4; u++) {
                    const int j = lane + 32 * u;  // 16-byte piece of the quarter
                    float wf[8];
                    dms::unpack_bf16x8(*reinterpret_cast<const uint4*>(w + 8 * j), wf);
                    const float* xv = xs + q * 1024 + 8 * j;
#pragma unroll
                    for (int e = 0; e < 8; e++) {
                        sum = fmaf(wf[e], xv[e], sum);
                    }
                }
                sum = dms::warp_sum(sum);
                if (lane == 0) {
                    part[(r + row) * 4 + q] = sum;
                }
            }
            __syncwarp();
            if (lane == 0) {
                mbar_arrive(&empty[slot]);
            }
        }
        consumers_sync();
        for (int e = tid; e < n; e += 32 * ST_CONSUMERS) {
            ps[p].y[r0 + e] = part[e * 4] + part[e * 4 + 1] + part[e * 4 + 2] + part[e * 4 + 3];
        }
    }
}

int smem_bytes(int largestShare) {
    return ST_STAGES * ST_ROWS * 4096 * 2 + 4096 * 4 + largestShare * 4 * 4;
}

}  // namespace st



int main(int argc, char** argv) {
    int launches = 36, sets = 8;
    forEachOption(argc, argv, [&](const std::string& key, const char* v) {
        int* target = key == "launches" ? &launches : key == "sets" ? &sets : nullptr;
        if (target != nullptr) {
            *target = std::atoi(v);
        }
        return target != nullptr;
    });
    const int K = 4096, mO = 4096, mGu = 24576;
    int multiprocessors = 0;
    CK(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, 0));
    cudaStream_t stream;
    CK(cudaStreamCreate(&stream));
    const size_t setN = size_t(mO + mGu) * K;
    bf16_t* weights;
    CK(cudaMalloc(&weights, sizeof(bf16_t) * setN * sets));
    fill_bf16<<<1024, 256, 0, stream>>>(weights, setN * sets, 5);
    float *x, *yO, *yGu, *ref;
    CK(cudaMalloc(&x, 4 * K));
    CK(cudaMalloc(&yO, 4 * mO));
    CK(cudaMalloc(&yGu, 4 * mGu));
    CK(cudaMalloc(&ref, 4 * (mO + mGu)));
    fill_floats<<<16, 256, 0, stream>>>(x, K, 3);
    unsigned* barrier;
    CK(cudaMalloc(&barrier, 8));
    CK(cudaMemsetAsync(barrier, 0, 8, stream));
    CK(cudaStreamSynchronize(stream));
    const auto wO = [&](int l) { return weights + setN * (l % sets); };
    const auto wGu = [&](int l) { return wO(l) + size_t(mO) * K; };
    const int trigger = 4;  // the backend's default (gemv)
    CK(cudaMemcpyToSymbol(dms_pdl_trigger_at, &trigger, sizeof(int)));
    const int block = gemv_block(K);
    const int largest = (mGu + multiprocessors - 1) / multiprocessors + 1;
    const int smem = st::smem_bytes(largest);
    CK(cudaFuncSetAttribute(st::streamed, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    const auto report = [&](const char* what, float us, double bytes) {
        std::printf("{\"what\":\"%s\",\"launches\":%d,\"us\":%.2f,\"TBps\":%.3f}\n", what, launches, us, bytes / us / 1e6);
    };
    // The GEMVs as the step launches them: o-shaped (4096 x 4096) and gate|up-shaped (24576 x 4096), plain products.
    const float gemvO = timeGraph(stream, [&](int l) {
        launchPdl(true, dms_gemv_bf16_t1_r4, mO / 4, block, 0, stream, x, K, wO(l), yO, mO, 1, mO, K, 0);
    }, launches);
    report("gemv o", gemvO, 2.0 * mO * K);
    const float gemvGu = timeGraph(stream, [&](int l) {
        launchPdl(true, dms_gemv_bf16_t1_r4, mGu / 4, block, 0, stream, x, K, wGu(l), yGu, mGu, 1, mGu, K, 0);
    }, launches);
    report("gemv gate|up", gemvGu, 2.0 * mGu * K);
    const float gemvBoth = timeGraph(stream, [&](int l) {
        launchPdl(true, dms_gemv_bf16_t1_r4, mO / 4, block, 0, stream, x, K, wO(l), yO, mO, 1, mO, K, 0);
        launchPdl(true, dms_gemv_bf16_t1_r4, mGu / 4, block, 0, stream, x, K, wGu(l), yGu, mGu, 1, mGu, K, 0);
    }, launches);
    report("gemv o then gate|up", gemvBoth, 2.0 * (mO + mGu) * K);
    // The GEMV's rows a block (1, 2 or 4: the launcher takes 4 for these shapes) on the o-shaped and the q|k|v-shaped
    // (6144 x 4096, inside the gate|up rows) products, in graphs of programmatic launches.
    for (int m : {mO, 6144}) {
        const float r1 = timeGraph(stream, [&](int l) {
            launchPdl(true, dms_gemv_bf16_t1_r1, m, block, 0, stream, x, K, wGu(l), yGu, mGu, 1, m, K, 0);
        }, launches);
        const float r2 = timeGraph(stream, [&](int l) {
            launchPdl(true, dms_gemv_bf16_t1_r2, m / 2, block, 0, stream, x, K, wGu(l), yGu, mGu, 1, m, K, 0);
        }, launches);
        const float r4 = timeGraph(stream, [&](int l) {
            launchPdl(true, dms_gemv_bf16_t1_r4, m / 4, block, 0, stream, x, K, wGu(l), yGu, mGu, 1, m, K, 0);
        }, launches);
        std::printf("{\"what\":\"gemv rows a block\",\"m\":%d,\"r1_us\":%.2f,\"r2_us\":%.2f,\"r4_us\":%.2f}\n", m, r1,
                    r2, r4);
    }
    // The GEMVs' outputs of set 0, then the streamed kernel's against them.
    launchPdl(false, dms_gemv_bf16_t1_r4, mO / 4, block, 0, stream, x, K, wO(0), ref, mO, 1, mO, K, 0);
    launchPdl(false, dms_gemv_bf16_t1_r4, mGu / 4, block, 0, stream, x, K, wGu(0), ref + mO, mGu, 1, mGu, K, 0);
    std::vector<float> want(mO + mGu), got(mO + mGu);
    CK(cudaMemcpy(want.data(), ref, 4 * (mO + mGu), cudaMemcpyDeviceToHost));
    const auto difference = [&]() {
        CK(cudaMemcpy(got.data(), yO, 4 * mO, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(got.data() + mO, yGu, 4 * mGu, cudaMemcpyDeviceToHost));
        double most = 0, top = 0;
        for (size_t e = 0; e < got.size(); e++) {
            most = std::max(most, std::fabs(static_cast<double>(got[e]) - want[e]));
            top = std::max(top, std::fabs(static_cast<double>(want[e])));
        }
        return most / top;
    };
    const st::Product none{wO(0), x, yO, 0};
    const float streamO = timeGraph(stream, [&](int l) {
        launchPdl(true, st::streamed, multiprocessors, ST_THREADS, smem, stream, st::Product{wO(l), x, yO, mO}, none, 1,
               barrier);
    }, launches);
    report("streamed o", streamO, 2.0 * mO * K);
    const float streamGu = timeGraph(stream, [&](int l) {
        launchPdl(true, st::streamed, multiprocessors, ST_THREADS, smem, stream, st::Product{wGu(l), x, yGu, mGu}, none, 1,
               barrier);
    }, launches);
    report("streamed gate|up", streamGu, 2.0 * mGu * K);
    const float streamBoth = timeGraph(stream, [&](int l) {
        launchPdl(true, st::streamed, multiprocessors, ST_THREADS, smem, stream, st::Product{wO(l), x, yO, mO},
               st::Product{wGu(l), x, yGu, mGu}, 2, barrier);
    }, launches);
    report("streamed o, barrier, gate|up (one launch)", streamBoth, 2.0 * (mO + mGu) * K);
    launchPdl(false, st::streamed, multiprocessors, ST_THREADS, smem, stream, st::Product{wO(0), x, yO, mO},
           st::Product{wGu(0), x, yGu, mGu}, 2, barrier);
    CK(cudaStreamSynchronize(stream));
    std::printf("{\"what\":\"streamed check\",\"relative_difference\":%.3g}\n", difference());
    CK(cudaDeviceSynchronize());
    return 0;
}
