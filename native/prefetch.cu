// prefetch.cu: weights into L2 ahead of the product that reads them.      Java: L2PrefetchKernel; CPU: none (a hint)
#include "dms.cuh"

// dms_prefetch_l2: asks the memory system to bring bytes [p, p + bytes) into L2, with the eviction priority
// evict_last (createpolicy.fractional, all of it), and returns without waiting: cp.async.bulk.prefetch.L2 (sm_90;
// elsewhere, and on the emulator, nothing: a prefetch is a hint and changes no result). A decode step launches it just
// before a layer's attention for the o projection's weights: the attention reads its keys and values at a fraction of
// the memory bandwidth (a batch-1 step's lists are short; a long batch's attention leaves some idle too), so W_o can
// arrive in L2 in that time and the o product, next after the attention's merge, reads it from there.
//   p      16-byte aligned, bytes a multiple of 16
// grid ceil(chunks / 32), block 32: a thread a chunk of DMS_PREFETCH_CHUNK bytes. Spread over many blocks: one
// multiprocessor's bulk-copy unit issues them at a fraction of the memory's rate (a single block prefetching 32 MiB
// held every step back by about 125 µs on the H200, 2026-11-30).
#define DMS_PREFETCH_CHUNK (16 * 1024)

extern "C" __global__ void __launch_bounds__(32) dms_prefetch_l2(const unsigned char* p, long long bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && !defined(DMS_EMU)
    uint64_t policy;
    asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;\n" : "=l"(policy));
    const long long chunks = (bytes + DMS_PREFETCH_CHUNK - 1) / DMS_PREFETCH_CHUNK;
    for (long long c = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; c < chunks;
         c += static_cast<long long>(gridDim.x) * blockDim.x) {
        const long long at = c * DMS_PREFETCH_CHUNK;
        const unsigned size = static_cast<unsigned>(bytes - at < DMS_PREFETCH_CHUNK ? bytes - at : DMS_PREFETCH_CHUNK);
        asm volatile("cp.async.bulk.prefetch.L2.global.L2::cache_hint [%0], %1, %2;\n"
                     :
                     : "l"(p + at), "r"(size), "l"(policy)
                     : "memory");
    }
#else
    (void)p;
    (void)bytes;
#endif
}

extern "C" cudaError_t dms_prefetch(const void* p, long long bytes, cudaStream_t stream) {
    DMS_CHECK(p != nullptr && bytes > 0 && bytes % 16 == 0 && dms::aligned16(p));
    const long long chunks = (bytes + DMS_PREFETCH_CHUNK - 1) / DMS_PREFETCH_CHUNK;
    DMS_LAUNCH(dms_prefetch_l2, static_cast<unsigned>((chunks + 31) / 32), 32, 0, stream,
               static_cast<const unsigned char*>(p), bytes);
    return cudaGetLastError();
}
