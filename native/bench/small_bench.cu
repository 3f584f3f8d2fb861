// small_bench.cu: the floor of the decode step's small kernels at 16 tokens, without the JVM or a model. A 16 x 32K
// step runs 73 rmsnorms at 5.8 µs each (Nsight Compute, H200, 2026-11-30: 0.42 ms of the 9.9 ms step); this times
// them in a graph of dependent launches as a step does, at every block size the kernel allows, next to an empty
// kernel (the cost of a graph node alone), SwiGLU, and greedy sampling over Qwen3's vocabulary (logits processed in
// place, as the backend does). Not part of the fatbin.
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o small_bench native/bench/small_bench.cu
//   ./small_bench [n=16] [hidden=4096]
// Output, one JSON line each: the kernel, its block, the µs a launch (the mean of 4 replays of a graph of 73).
#include "../all.cu"
#include "bench_util.cuh"

#include <cstdlib>
#include <cstring>
#include <vector>

__global__ void empty_kernel(int* sink) {
    if (sink != nullptr && threadIdx.x == 1024) {
        *sink = 1;
    }
}

__global__ void fill_f32(float* p, size_t count, unsigned seed) {
    for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < count;
         e += static_cast<size_t>(gridDim.x) * blockDim.x) {
        unsigned x = static_cast<unsigned>(e) * 2654435761u ^ seed;
        x ^= x >> 15;
        p[e] = static_cast<float>(x & 0xffff) / 32768.f - 1.f;
    }
}

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 16;
    const int hidden = argc > 2 ? std::atoi(argv[2]) : 4096;
    const int inter = 3 * hidden;  // Qwen3-8B: 12288 = 3 x 4096
    const int launches = 73;
    cudaStream_t stream;
    CK(cudaStreamCreate(&stream));
    float *x, *delta, *out, *gate, *up;
    bf16_t *weight, *outBf16;
    CK(cudaMalloc(&x, sizeof(float) * n * hidden));
    CK(cudaMalloc(&delta, sizeof(float) * n * hidden));
    CK(cudaMalloc(&out, sizeof(float) * n * inter));
    CK(cudaMalloc(&gate, sizeof(float) * n * inter));
    CK(cudaMalloc(&up, sizeof(float) * n * inter));
    CK(cudaMalloc(&weight, sizeof(bf16_t) * hidden));
    CK(cudaMalloc(&outBf16, sizeof(bf16_t) * n * hidden));
    fill_f32<<<64, 256, 0, stream>>>(x, size_t(n) * hidden, 1);
    fill_f32<<<64, 256, 0, stream>>>(delta, size_t(n) * hidden, 2);
    fill_f32<<<64, 256, 0, stream>>>(gate, size_t(n) * inter, 3);
    fill_f32<<<64, 256, 0, stream>>>(up, size_t(n) * inter, 4);
    CK(cudaMemsetAsync(weight, 0x3f, sizeof(bf16_t) * hidden, stream));
    CK(cudaStreamSynchronize(stream));

    const float empty = timeGraph(stream, [&](int) { empty_kernel<<<n, 128, 0, stream>>>(nullptr); }, launches);
    std::printf("{\"what\":\"empty\",\"grid\":%d,\"block\":128,\"us\":%.2f}\n", n, empty);
    for (int block : {128, 256, 512, 1024}) {
        // As a decode step: the residual add, then fp32 out (the split activations) or bf16 out (bf16 products).
        for (int bf16 = 0; bf16 < 2; bf16++) {
            const float us = timeGraph(stream, [&](int) {
                dms_rmsnorm_f32<<<n, block, 0, stream>>>(x, delta, weight, nullptr, n, hidden, 1e-6f,
                                                         bf16 ? nullptr : out, bf16 ? outBf16 : nullptr);
            }, launches);
            std::printf("{\"what\":\"rmsnorm\",\"rows\":%d,\"hidden\":%d,\"block\":%d,\"out\":\"%s\",\"us\":%.2f,"
                        "\"launcher_block\":%d}\n", n, hidden, block, bf16 ? "bf16" : "f32", us,
                        rmsnorm_block(n, hidden));
        }
        CK(cudaGetLastError());
    }
    const float swiglu = timeGraph(stream, [&](int) {
        CK(dms_swiglu(gate, inter, up, inter, out, inter, nullptr, 0, n, inter, stream));
    }, launches);
    std::printf("{\"what\":\"swiglu\",\"rows\":%d,\"width\":%d,\"us\":%.2f}\n", n, inter, swiglu);
    // Greedy sampling of every row over the 151,936-entry vocabulary, in place (processed = logits).
    {
        const int vocab = 151936;
        float* logits;
        SampleParams* params;
        int* tokens;
        CK(cudaMalloc(&logits, sizeof(float) * n * vocab));
        CK(cudaMalloc(&params, sizeof(SampleParams) * n));
        CK(cudaMalloc(&tokens, sizeof(int) * n));
        fill_f32<<<256, 256, 0, stream>>>(logits, size_t(n) * vocab, 5);
        std::vector<SampleParams> host(n);
        for (auto& p : host) {
            std::memset(&p, 0, sizeof p);
            p.topP = 1;
            p.repetitionPenalty = 1;
            p.logprobs = -1;
            p.maskOffset = -1;
            p.countsRow = -1;
        }
        CK(cudaMemcpy(params, host.data(), sizeof(SampleParams) * n, cudaMemcpyHostToDevice));
        unsigned long long* splitBest;
        unsigned* splitArrivals;
        CK(cudaMalloc(&splitBest, sizeof(unsigned long long) * n * 64));
        CK(cudaMalloc(&splitArrivals, sizeof(unsigned) * n));
        CK(cudaMemset(splitArrivals, 0, sizeof(unsigned) * n));
        for (int splits : {1, 8, 16, 32, 64}) {
            const float us = timeGraph(stream, [&](int) {
                CK(dms_sampling(logits, vocab, logits, vocab, n, vocab, params, nullptr, nullptr, nullptr, nullptr,
                                nullptr, tokens, nullptr, nullptr, nullptr, splits, splitBest, splitArrivals,
                                stream));
            }, launches);
            std::printf("{\"what\":\"sample_greedy\",\"rows\":%d,\"vocab\":%d,\"splits\":%d,\"us\":%.2f}\n", n,
                        vocab, splits, us);
        }
    }
    CK(cudaStreamSynchronize(stream));
    return 0;
}
