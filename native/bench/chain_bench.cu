// chain_bench.cu: a one-token decode layer's products from o to the next layer's q|k|v (Qwen3-8B's shapes: 386 MB of
// bf16 weights a layer), as the four GEMV launches a step makes today and as the experimental persistent launch of
// decode_chain.cuh (with its variants below), each captured in a CUDA graph of `layers` consecutive layers, with
// programmatic dependent launch (the step's default, trigger `gemv`) and without. Every layer has its own weights (`sets` copies cycled, 8 by
// default: 3.1 GB, far past the 50 MB L2), so that every launch streams from memory as in a step. Each variant's outputs
// of one layer are compared with the chain's (chain_variant_check: the largest difference relative to the largest
// value). Not part of the fatbin.
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o chain_bench native/bench/chain_bench.cu
//   ./chain_bench [layers=36] [sets=8] [hidden=4096] [qdim=4096] [inter=12288] [kvdim=1024]   (key=value)
// Output, one JSON line each: the variant, µs a layer (the mean of 4 replays), the weights' TB/s.
#include "../all.cu"
#include "bench_util.cuh"
#include "decode_chain.cuh"

#include <cmath>



// The chain's shapes measured here: (16-byte loads a lane a slice, slices a lane holds).
// A fourth number: the block's threads (one block a multiprocessor).
#define CHAIN_VARIANTS(X) X(8, 2, 0, 512) X(4, 2, 0, 512) X(4, 3, 0, 512) X(4, 4, 0, 512) X(2, 4, 0, 512) \
    X(4, 1, 4, 512) X(4, 1, 5, 512) X(8, 1, 2, 512) X(2, 1, 8, 512) X(8, 1, 0, 1024) X(4, 2, 0, 1024) X(4, 1, 0, 1024)
#define CHAIN_KERNEL(C, D, S, T)                                                                                   \
    __global__ void __launch_bounds__(T, 1) chain_c##C##_d##D##_s##S##_t##T(ChainArgs a, int first, int last,      \
                                                                            int partials) {                       \
        chain::decode_chain<C, D, S>(a, first, last, partials);                                                   \
    }
CHAIN_VARIANTS(CHAIN_KERNEL)

int main(int argc, char** argv) {
    int layers = 36, sets = 8, hidden = 4096, qDim = 4096, inter = 12288, kvDim = 1024;
    forEachOption(argc, argv, [&](const std::string& key, const char* v) {
        int* target = key == "layers" ? &layers : key == "sets" ? &sets : key == "hidden" ? &hidden
                    : key == "qdim" ? &qDim : key == "inter" ? &inter : key == "kvdim" ? &kvDim : nullptr;
        if (target != nullptr) {
            *target = std::atoi(v);
        }
        return target != nullptr;
    });
    const int qkvDim = qDim + 2 * kvDim;
    int multiprocessors = 0;
    CK(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, 0));
    cudaStream_t stream;
    CK(cudaStreamCreate(&stream));
    const size_t woN = size_t(hidden) * qDim, w13N = size_t(2) * inter * hidden, w2N = size_t(hidden) * inter,
                 wqkvN = size_t(qkvDim) * hidden;
    const size_t layerN = woN + w13N + w2N + wqkvN;
    bf16_t* weights;
    CK(cudaMalloc(&weights, sizeof(bf16_t) * layerN * sets));
    fill_bf16<<<1024, 256, 0, stream>>>(weights, layerN * sets, 7);
    bf16_t* gammas;
    CK(cudaMalloc(&gammas, sizeof(bf16_t) * 2 * hidden));
    fill_bf16<<<16, 256, 0, stream>>>(gammas, 2 * hidden, 9);
    float *att, *x, *gu, *qkv;
    CK(cudaMalloc(&att, sizeof(float) * qDim));
    CK(cudaMalloc(&x, sizeof(float) * hidden));
    CK(cudaMalloc(&gu, sizeof(float) * 2 * inter));
    CK(cudaMalloc(&qkv, sizeof(float) * qkvDim));
    CK(cudaMemsetAsync(att, 0, sizeof(float) * qDim, stream));
    CK(cudaMemsetAsync(x, 0, sizeof(float) * hidden, stream));
    unsigned* barrier;
    CK(cudaMalloc(&barrier, 8));
    CK(cudaMemsetAsync(barrier, 0, 8, stream));
    CK(cudaStreamSynchronize(stream));
    const auto wo = [&](int l) { return weights + layerN * (l % sets); };
    const auto w13 = [&](int l) { return wo(l) + woN; };
    const auto w2 = [&](int l) { return w13(l) + w13N; };
    const auto wqkv = [&](int l) { return w2(l) + w2N; };
    const double layerBytes = 2.0 * layerN;

    const int block = gemv_block(hidden), downBlock = gemv_block(inter);
    const int gridO = (hidden + 3) / 4, gridGu = (inter + 1) / 2, gridDown = (hidden + 3) / 4, gridQkv = (qkvDim + 3) / 4;
    if (gemv_rows_per_block(hidden, multiprocessors) != 4 || gemv_rows_per_block(2 * inter, multiprocessors) != 4 ||
        gemv_rows_per_block(qkvDim, multiprocessors) != 4) {
        std::fprintf(stderr, "these shapes do not take the launcher's four rows a block here\n");
        return 2;
    }
    const float eps = 1e-6f;
    for (int trigger : {0, 4}) {
        CK(cudaMemcpyToSymbol(dms_pdl_trigger_at, &trigger, sizeof(int)));
        const bool pdl = trigger != 0;
        // Today's four launches a layer: o (x +=), gate|up with the norm and SwiGLU, down (x +=), q|k|v with the norm.
        const float gemvs = timeGraph(stream, [&](int l) {
            launchPdl(pdl, dms_gemv_bf16_t1_r4, gridO, block, 0, stream, att, qDim, wo(l), x, hidden, 1, hidden, qDim, 1);
            launchPdl(pdl, dms_gemv_swiglu_norm_bf16_t1_r4, gridGu, block, 0, stream, x, hidden, w13(l), gu, 2 * inter, 1,
                   inter, hidden, gammas, eps);
            launchPdl(pdl, dms_gemv_bf16_t1_r4, gridDown, downBlock, 0, stream, gu, inter, w2(l), x, hidden, 1, hidden,
                   inter, 1);
            launchPdl(pdl, dms_gemv_norm_bf16_t1_r4, gridQkv, block, 0, stream, x, hidden, wqkv(l), qkv, qkvDim, 1,
                   qkvDim, hidden, 0, gammas + hidden, eps);
        }, layers);
        std::printf("{\"what\":\"gemvs\",\"pdl\":%d,\"layers\":%d,\"us\":%.2f,\"TBps\":%.3f}\n", pdl, layers, gemvs,
                    layerBytes / gemvs / 1e6);
        const auto chainArgs = [&](int l) {
            return ChainArgs{att, wo(l), x, gammas, w13(l), gu, w2(l), gammas + hidden, wqkv(l), qkv,
                             hidden, qDim, inter, qkvDim, eps, barrier};
        };
        // launchOne(l, first, last, smem) launches one chain kernel.
        const auto timeChain = [&](const char* name, const void* kernel,
                                   const std::function<void(int, int, int, int)>& launchOne, int copies, int depth,
                                   int slots, int threads, bool phased) {
            const int smem = chain::chain_smem(hidden, qDim, inter, qkvDim, copies, multiprocessors, slots);
            CK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
            const float us = timeGraph(stream, [&](int l) {
                if (phased) {  // one launch a phase: the seams back, the barrier gone
                    for (int p = 0; p < 4; p++) {
                        launchOne(l, p, p, smem);
                    }
                } else {
                    launchOne(l, 0, 3, smem);
                }
            }, layers);
            std::printf("{\"what\":\"%s\",\"pdl\":%d,\"copies\":%d,\"depth\":%d,\"slots\":%d,\"threads\":%d,\"phased\":%d,"
                        "\"layers\":%d,\"us\":%.2f,\"TBps\":%.3f}\n", name, pdl, copies, depth, slots, threads, phased, layers,
                        us, layerBytes / us / 1e6);
        };
        // Each chain's outputs of one layer from the same inputs against the fatbin chain's: the largest difference
        // relative to the largest value of x, h and q|k|v (another slice size sums in another order: about 1e-6).
        std::vector<float> reference;
        const auto outputs = [&](const std::function<void()>& run) {
            fill_floats<<<64, 256, 0, stream>>>(att, qDim, 11);
            fill_floats<<<64, 256, 0, stream>>>(x, hidden, 12);
            run();
            std::vector<float> got(hidden + inter + qkvDim);
            CK(cudaMemcpy(got.data(), x, 4 * hidden, cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(got.data() + hidden, gu, 4 * inter, cudaMemcpyDeviceToHost));
            CK(cudaMemcpy(got.data() + hidden + inter, qkv, 4 * qkvDim, cudaMemcpyDeviceToHost));
            return got;
        };
        const auto difference = [&](const std::vector<float>& got) {
            double most = 0, top = 0;
            for (size_t e = 0; e < got.size(); e++) {
                most = std::max(most, std::fabs(static_cast<double>(got[e]) - reference[e]));
                top = std::max(top, std::fabs(static_cast<double>(reference[e])));
            }
            return most / top;
        };
        const auto fatbinChain = [&](int l, int first, int last, int smem) {
            const ChainArgs a = chainArgs(l);
            launchPdl(pdl, dms_decode_chain_f32, multiprocessors, DMS_CHAIN_THREADS, smem, stream, DMS_CHAIN_FLAT(a),
                   first, last);
        };
        timeChain("chain", reinterpret_cast<const void*>(dms_decode_chain_f32), fatbinChain, DMS_CHAIN_COPIES,
                  DMS_CHAIN_DEPTH, 0, DMS_CHAIN_THREADS, false);
        reference = outputs([&] {
            fatbinChain(0, 0, 3, chain::chain_smem(hidden, qDim, inter, qkvDim, DMS_CHAIN_COPIES, multiprocessors));
        });
        timeChain("chain", reinterpret_cast<const void*>(dms_decode_chain_f32), fatbinChain, DMS_CHAIN_COPIES,
                  DMS_CHAIN_DEPTH, 0, DMS_CHAIN_THREADS, true);
#define CHAIN_TIME(C, D, S, T)                                                                                    \
        timeChain("chain_variant", reinterpret_cast<const void*>(chain_c##C##_d##D##_s##S##_t##T),                \
                  [&](int l, int first, int last, int smem) {                                                     \
                      launchPdl(pdl, chain_c##C##_d##D##_s##S##_t##T, multiprocessors, T, smem, stream,              \
                             chainArgs(l), first, last,                                                           \
                             chain::chain_partials(hidden, qDim, inter, qkvDim, C, multiprocessors));             \
                  }, C, D, S, T, false);                                                                    \
        std::printf("{\"what\":\"chain_variant_check\",\"copies\":%d,\"depth\":%d,\"slots\":%d,\"threads\":%d,"   \
                    "\"relative_difference\":%.3g}\n", C, D, S, T, difference(outputs([&] {                        \
                        launchPdl(false, chain_c##C##_d##D##_s##S##_t##T, multiprocessors, T,                         \
                               chain::chain_smem(hidden, qDim, inter, qkvDim, C, multiprocessors, S), stream,      \
                               chainArgs(0), 0, 3,                                                                 \
                               chain::chain_partials(hidden, qDim, inter, qkvDim, C, multiprocessors));            \
                    })));
        CHAIN_VARIANTS(CHAIN_TIME)
    }
    CK(cudaDeviceSynchronize());
    return 0;
}
