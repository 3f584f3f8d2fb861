// page_copy.cu: KV slots copied on the device: a fork's pages, page to page, and a repack's slots, run by run.
// Java: PageCopyKernel
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

// dms_slot_move_bf16, one warp per triple (grid-stride over triples): for moves[3e] = source, moves[3e + 1] = target,
// moves[3e + 2] = count (e < count), slots target .. target + count - 1 get the keys, values, positions and flags of
// slots source .. source + count - 1; source -1 empties the target slots instead (position -1, flag 0; keys and
// values left). Slots as dms_page_copy_bf16 (slotCount = pageCount * pageSize of them).
//   error int32 [1] or null: OR-ed with 32 for a triple outside the slots or with count < 1 (skipped)
// No two triples of a launch touch the same slot and none reads a slot another writes (a repack reads the pages a
// head held and writes pages it took: PageTableDelta.slotMoves), so they run in any order. The launch comes first
// among a step's KV copies, before the page copies and the page-table launch.
// grid min(ceil(count / 8), 4096), block 256. 16-byte copies when both runs start and end on 16 bytes.
extern "C" __global__ void dms_slot_move_bf16(const int* __restrict__ moves, int count, int headDim, int slotCount,
                                              bf16_t* __restrict__ keyCache, bf16_t* __restrict__ valueCache,
                                              int* __restrict__ slotPos, unsigned char* __restrict__ slotFlag,
                                              int* __restrict__ error) {
    dms::pdl_begin();
    const int lane = threadIdx.x & 31;
    const int warps = blockDim.x >> 5;
    for (long long e = static_cast<long long>(blockIdx.x) * warps + (threadIdx.x >> 5); e < count;
         e += static_cast<long long>(gridDim.x) * warps) {
        const long long source = moves[3 * e];
        const long long target = moves[3 * e + 1];
        const int n = moves[3 * e + 2];
        if (n < 1 || source < -1 || target < 0 || target + n > slotCount || source + n > slotCount) {  // 64-bit sums
            if (lane == 0 && error != nullptr) {
                atomicOr(error, 32);
            }
            continue;
        }
        if (source < 0) {
            for (int i = lane; i < n; i += 32) {
                slotPos[target + i] = -1;
                slotFlag[target + i] = 0;
            }
            continue;
        }
        const long long elems = static_cast<long long>(n) * headDim;
        const size_t from = static_cast<size_t>(source) * headDim;
        const size_t to = static_cast<size_t>(target) * headDim;
        if (from % 8 == 0 && to % 8 == 0 && elems % 8 == 0) {
            const uint4* ks = reinterpret_cast<const uint4*>(keyCache + from);
            const uint4* vs = reinterpret_cast<const uint4*>(valueCache + from);
            uint4* kt = reinterpret_cast<uint4*>(keyCache + to);
            uint4* vt = reinterpret_cast<uint4*>(valueCache + to);
            for (long long i = lane; i < elems / 8; i += 32) {
                kt[i] = ks[i];
                vt[i] = vs[i];
            }
        } else {
            for (long long i = lane; i < elems; i += 32) {
                keyCache[to + i] = keyCache[from + i];
                valueCache[to + i] = valueCache[from + i];
            }
        }
        for (int i = lane; i < n; i += 32) {
            slotPos[target + i] = slotPos[source + i];
            slotFlag[target + i] = slotFlag[source + i];
        }
    }
}

static void launch_slot_move(const int* moves, int count, int headDim, int slotCount, bf16_t* keyCache,
                             bf16_t* valueCache, int* slotPos, unsigned char* slotFlag, int* error,
                             cudaStream_t stream) {
    const int grid = min((count + 7) / 8, 4096);
    DMS_LAUNCH(dms_slot_move_bf16, grid, 256, 0, stream, moves, count, headDim, slotCount, keyCache, valueCache,
               slotPos, slotFlag, error);
}

extern "C" cudaError_t dms_slot_move(const int* moves, int count, int headDim, int slotCount, bf16_t* keyCache,
                                     bf16_t* valueCache, int* slotPos, unsigned char* slotFlag, int* error,
                                     cudaStream_t stream) {
    DMS_CHECK(count >= 0 && headDim > 0 && slotCount > 0);
    DMS_CHECK(keyCache != nullptr && valueCache != nullptr && slotPos != nullptr && slotFlag != nullptr);
    DMS_CHECK(count == 0 || moves != nullptr);
    if (count == 0) {
        return cudaSuccess;
    }
    launch_slot_move(moves, count, headDim, slotCount, keyCache, valueCache, slotPos, slotFlag, error, stream);
    return cudaGetLastError();
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
