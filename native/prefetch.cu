// prefetch.cu: weights into L2 ahead of the product that reads them.      Java: L2PrefetchKernel; CPU: none (a hint)
#include "dms.cuh"

// dms_prefetch_l2: asks the memory system to bring bytes [p, p + bytes) into L2, with the eviction priority
// evict_last (createpolicy.fractional, all of it), and returns without waiting: cp.async.bulk.prefetch.L2 (sm_90;
// elsewhere, and on the emulator, nothing: a prefetch is a hint and changes no result). A decode step launches it just
// before a layer's attention for the o projection's weights: the attention reads its keys and values at a fraction of
// the memory bandwidth (a batch-1 step's lists are short; a long batch's attention leaves some idle too), so W_o can
// arrive in L2 in that time and the o product, next after the attention's merge, reads it from there.
//   p      16-byte aligned, bytes a multiple of 16
// grid 1, block 32; each lane prefetches chunks of DMS_PREFETCH_CHUNK bytes, lane, lane + 32, ...
#define DMS_PREFETCH_CHUNK (64 * 1024)

extern "C" __global__ void __launch_bounds__(32) dms_prefetch_l2(const unsigned char* p, long long bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && !defined(DMS_EMU)
    uint64_t policy;
    asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;\n" : "=l"(policy));
    const long long chunks = (bytes + DMS_PREFETCH_CHUNK - 1) / DMS_PREFETCH_CHUNK;
    for (long long c = threadIdx.x; c < chunks; c += blockDim.x) {
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
    DMS_LAUNCH(dms_prefetch_l2, 1, 32, 0, stream, static_cast<const unsigned char*>(p), bytes);
    return cudaGetLastError();
}
