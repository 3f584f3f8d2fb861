// bench_util.cuh: what the benchmarks in native/bench share: a checked CUDA call, the time of launches captured in a
// CUDA graph, key=value arguments, uploads and random bf16 fills. Included after ../all.cu (bf16_t, dms::).
#pragma once
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

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


// Calls set(key, value) for every key=value argument; exits (2) with a message on another form, or when set returns
// false (an unknown key).
static void forEachOption(int argc, char** argv, const std::function<bool(const std::string&, const char*)>& set) {
    for (int a = 1; a < argc; a++) {
        const char* eq = std::strchr(argv[a], '=');
        if (eq == nullptr) {
            std::fprintf(stderr, "arguments are key=value, got '%s'\n", argv[a]);
            std::exit(2);
        }
        const std::string key(argv[a], eq - argv[a]);
        if (!set(key, eq + 1)) {
            std::fprintf(stderr, "unknown key '%s'\n", key.c_str());
            std::exit(2);
        }
    }
}

// A comma list of whole numbers each of which ok accepts; exits (2) naming the option and what it takes otherwise.
static std::vector<int> intList(const char* option, const char* v, const std::function<bool(long)>& ok,
                                const char* takes) {
    std::vector<int> list;
    for (const char* c = v; *c != 0;) {
        char* end = nullptr;
        const long n = std::strtol(c, &end, 10);
        if (end == c || !ok(n) || (*end != ',' && *end != 0)) {
            std::fprintf(stderr, "%s is a list of %s, got '%s'\n", option, takes, v);
            std::exit(2);
        }
        list.push_back(static_cast<int>(n));
        c = *end == ',' ? end + 1 : end;
    }
    return list;
}

template <typename T>
static T* upload(const std::vector<T>& host) {
    T* p = nullptr;
    CK(cudaMalloc(&p, std::max<size_t>(1, host.size() * sizeof(T))));
    CK(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
    return p;
}

// count bf16 values in [-1, 1) from a hash of the index (the same every run).
__global__ void fill_bf16(bf16_t* p, size_t count, unsigned seed) {
    for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < count;
         e += static_cast<size_t>(gridDim.x) * blockDim.x) {
        unsigned x = static_cast<unsigned>(e) * 2654435761u ^ seed;
        x ^= x >> 15;
        x *= 2246822519u;
        x ^= x >> 13;
        p[e] = dms::f32_to_bf16((static_cast<int>(x >> 8) - (1 << 23)) * 0x1.0p-23f);
    }
}

// count floats in [-1, 1) from a hash of the index (the same every run).
__global__ void fill_floats(float* p, int count, unsigned seed) {
    for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < count; e += gridDim.x * blockDim.x) {
        unsigned x = static_cast<unsigned>(e) * 2654435761u ^ seed;
        x ^= x >> 15;
        x *= 2246822519u;
        p[e] = (static_cast<int>(x >> 8) - (1 << 23)) * 0x1.0p-23f;
    }
}

// A launch with the programmatic-serialization attribute (what PdlLaunch does from Java) when pdl, else plain.
template <typename... Params, typename... Args>
static void launchPdl(bool pdl, void (*kernel)(Params...), int grid, int block, int smem, cudaStream_t stream,
                      Args... args) {
    cudaLaunchConfig_t config = {};
    config.gridDim = dim3(grid);
    config.blockDim = dim3(block);
    config.dynamicSmemBytes = smem;
    config.stream = stream;
    cudaLaunchAttribute attribute[1];
    attribute[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute[0].val.programmaticStreamSerializationAllowed = 1;
    config.attrs = attribute;
    config.numAttrs = pdl ? 1 : 0;
    CK(cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...));
}
