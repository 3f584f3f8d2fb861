// page_copy.cu: a fork's KV pages copied, page to page, on the device.     Java: PageCopyKernel
#include "dms.cuh"

// dms_page_copy_bf16, one block per pair (grid-stride over pairs): for pairs[2e] = source, pairs[2e + 1] = target
// (e < count), page target gets page source's keys, values, slot positions and flags:
//   keyCache/valueCache  bf16 [pageCount * pageSize][headDim]   (slot s = page * pageSize + offset)
//   slotPos int32 [pageCount * pageSize], slotFlag uint8 [pageCount * pageSize]
//   error   int32 [1] or null: OR-ed with 16 for a pair with a page outside [0, pageCount) (the pair is skipped)
// The pairs of one launch must be independent (no page written by one pair and read or written by another):
// PageTableDelta.copyRounds splits a delta's copies into such rounds, one launch each, in order. The launches
// come before the step's page-table launch (which empties fresh pages) and before anything writes a slot.
// grid min(count, 1024), block 256. 16-byte copies when a page's keys are a multiple of 16 bytes (headDim * 2 *
// pageSize, always true for even headDim and pageSize a multiple of 8), 2-byte ones otherwise.
extern "C" __global__ void dms_page_copy_bf16(const int* __restrict__ pairs, int count, int pageSize, int headDim,
                                              int pageCount, bf16_t* __restrict__ keyCache,
                                              bf16_t* __restrict__ valueCache, int* __restrict__ slotPos,
                                              unsigned char* __restrict__ slotFlag, int* __restrict__ error) {
    dms::pdl_begin();
    const long long pageElems = static_cast<long long>(pageSize) * headDim;
    const bool wide = (pageElems * 2) % 16 == 0;
    for (int e = blockIdx.x; e < count; e += gridDim.x) {
        const int source = pairs[2 * e];
        const int target = pairs[2 * e + 1];
        if (source < 0 || source >= pageCount || target < 0 || target >= pageCount) {
            if (threadIdx.x == 0 && error != nullptr) {
                atomicOr(error, 16);
            }
            continue;
        }
        const size_t from = static_cast<size_t>(source) * pageElems;
        const size_t to = static_cast<size_t>(target) * pageElems;
        if (wide) {
            const long long vectors = pageElems * 2 / 16;
            const uint4* ks = reinterpret_cast<const uint4*>(keyCache + from);
            const uint4* vs = reinterpret_cast<const uint4*>(valueCache + from);
            uint4* kt = reinterpret_cast<uint4*>(keyCache + to);
            uint4* vt = reinterpret_cast<uint4*>(valueCache + to);
            for (long long i = threadIdx.x; i < vectors; i += blockDim.x) {
                kt[i] = ks[i];
                vt[i] = vs[i];
            }
        } else {
            for (long long i = threadIdx.x; i < pageElems; i += blockDim.x) {
                keyCache[to + i] = keyCache[from + i];
                valueCache[to + i] = valueCache[from + i];
            }
        }
        for (int o = threadIdx.x; o < pageSize; o += blockDim.x) {
            slotPos[static_cast<size_t>(target) * pageSize + o] = slotPos[static_cast<size_t>(source) * pageSize + o];
            slotFlag[static_cast<size_t>(target) * pageSize + o] = slotFlag[static_cast<size_t>(source) * pageSize + o];
        }
    }
}

static void launch_page_copy(const int* pairs, int count, int pageSize, int headDim, int pageCount, bf16_t* keyCache,
                             bf16_t* valueCache, int* slotPos, unsigned char* slotFlag, int* error,
                             cudaStream_t stream) {
    const int grid = min(count, 1024);
    DMS_LAUNCH(dms_page_copy_bf16, grid, 256, 0, stream, pairs, count, pageSize, headDim, pageCount, keyCache,
               valueCache, slotPos, slotFlag, error);
}

extern "C" cudaError_t dms_page_copy(const int* pairs, int count, int pageSize, int headDim, int pageCount,
                                     bf16_t* keyCache, bf16_t* valueCache, int* slotPos, unsigned char* slotFlag,
                                     int* error, cudaStream_t stream) {
    DMS_CHECK(count >= 0 && pageSize > 0 && headDim > 0 && pageCount > 0);
    DMS_CHECK(keyCache != nullptr && valueCache != nullptr && slotPos != nullptr && slotFlag != nullptr);
    DMS_CHECK(count == 0 || pairs != nullptr);
    if (count == 0) {
        return cudaSuccess;
    }
    launch_page_copy(pairs, count, pageSize, headDim, pageCount, keyCache, valueCache, slotPos, slotFlag, error,
                     stream);
    return cudaGetLastError();
}
