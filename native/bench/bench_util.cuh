// bench_util.cuh: what the benchmarks in native/bench share: a checked CUDA call, and the time of launches
// captured in a CUDA graph.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <functional>

#define CK(x)                                                                                \
    do {                                                                                     \
        cudaError_t e_ = (x);                                                                \
        if (e_ != cudaSuccess) {                                                             \
            std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            std::exit(1);                                                                    \
        }                                                                                    \
    } while (0)

// µs a launch of `launches` launches captured in a graph: one warm replay, then the mean of 4 timed replays.
static float timeGraph(cudaStream_t stream, const std::function<void(int)>& launch, int launches) {
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    CK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < launches; i++) {
        launch(i);
    }
    CK(cudaStreamEndCapture(stream, &graph));
    CK(cudaGraphInstantiate(&exec, graph, 0));
    CK(cudaGraphLaunch(exec, stream));  // warm
    cudaEvent_t start, stop;
    CK(cudaEventCreate(&start));
    CK(cudaEventCreate(&stop));
    CK(cudaEventRecord(start, stream));
    const int replays = 4;
    for (int r = 0; r < replays; r++) {
        CK(cudaGraphLaunch(exec, stream));
    }
    CK(cudaEventRecord(stop, stream));
    CK(cudaEventSynchronize(stop));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, start, stop));
    CK(cudaGraphExecDestroy(exec));
    CK(cudaGraphDestroy(graph));
    return ms * 1000.f / (replays * launches);  // µs a launch
}

