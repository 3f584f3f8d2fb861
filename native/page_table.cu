// page_table.cu: a step's page-table delta, applied on the device.      Java: PageTableKernel
#include "dms.cuh"

// dms_page_table_apply, one thread per item of the delta (grid-stride):
//   pageTable[tablePairs[2e]] = tablePairs[2e + 1]          e < tableCount   (page id, or -1 for a hole)
//   pageTableLen[lenPairs[2e]] = lenPairs[2e + 1]            e < lenCount     (entries to scan)
//   slotPos[p * pageSize + o] = -1, slotFlag[...] = 0        for every fresh page p = freshPages[e], o < pageSize
//   pageTable     int32 [maxRows][layers][kvHeads][maxPagesPerHead], pageTableSize entries in all
//   pageTableLen  int32 [maxRows][layers][kvHeads], lenSize entries in all
//   slotPos       int32 [pageCount * pageSize], slotFlag uint8 [pageCount * pageSize]
//   error         int32 [1] or null: OR-ed with 1 for a table index out of range, 2 for a page id outside
//                 [-1, pageCount), 4 for a length index out of range or a length outside
//                 [0, maxPagesPerHead], 8 for a fresh page id outside [0, pageCount); a bad item is skipped
// grid (ceil(items / blockDim.x)) or fewer blocks, block a multiple of 32 (256). The three parts write
// different arrays, so their order within the launch does not matter; the launch must come before the
// step's kv_write and attention (stream order).
extern "C" __global__ void dms_page_table_apply(int* __restrict__ pageTable, int pageTableSize,
                                                int* __restrict__ pageTableLen, int lenSize, int maxPagesPerHead,
                                                const int* __restrict__ tablePairs, int tableCount,
                                                const int* __restrict__ lenPairs, int lenCount,
                                                const int* __restrict__ freshPages, int freshCount, int pageSize,
                                                int pageCount, int* __restrict__ slotPos,
                                                unsigned char* __restrict__ slotFlag, int* __restrict__ error) {
    dms::pdl_begin();
    const long long items = static_cast<long long>(tableCount) + lenCount + static_cast<long long>(freshCount) * pageSize;
    for (long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; e < items;
         e += static_cast<long long>(gridDim.x) * blockDim.x) {
        int bad = 0;
        if (e < tableCount) {
            const int index = tablePairs[2 * e];
            const int page = tablePairs[2 * e + 1];
            if (index < 0 || index >= pageTableSize) {
                bad = 1;
            } else if (page < -1 || page >= pageCount) {
                bad = 2;
            } else {
                pageTable[index] = page;
            }
        } else if (e < static_cast<long long>(tableCount) + lenCount) {
            const long long f = e - tableCount;
            const int index = lenPairs[2 * f];
            const int length = lenPairs[2 * f + 1];
            if (index < 0 || index >= lenSize || length < 0 || length > maxPagesPerHead) {
                bad = 4;
            } else {
                pageTableLen[index] = length;
            }
        } else {
            const long long f = e - tableCount - lenCount;
            const int page = freshPages[f / pageSize];
            if (page < 0 || page >= pageCount) {
                bad = 8;
            } else {
                const size_t slot = static_cast<size_t>(page) * pageSize + f % pageSize;
                slotPos[slot] = -1;
                slotFlag[slot] = 0;
            }
        }
        if (bad != 0 && error != nullptr) {
            atomicOr(error, bad);
        }
    }
}

static void launch_page_table(int* pageTable, int pageTableSize, int* pageTableLen, int lenSize, int maxPagesPerHead,
                              const int* tablePairs, int tableCount, const int* lenPairs, int lenCount,
                              const int* freshPages, int freshCount, int pageSize, int pageCount, int* slotPos,
                              unsigned char* slotFlag, int* error, cudaStream_t stream) {
    const long long items = static_cast<long long>(tableCount) + lenCount + static_cast<long long>(freshCount) * pageSize;
    const int block = 256;
    const int grid = static_cast<int>(min(static_cast<long long>(4096), max(1ll, (items + block - 1) / block)));
    DMS_LAUNCH(dms_page_table_apply, grid, block, 0, stream, pageTable, pageTableSize, pageTableLen, lenSize,
               maxPagesPerHead, tablePairs, tableCount, lenPairs, lenCount, freshPages, freshCount, pageSize, pageCount,
               slotPos, slotFlag, error);
}

extern "C" cudaError_t dms_page_table(int* pageTable, int pageTableSize, int* pageTableLen, int lenSize,
                                      int maxPagesPerHead, const int* tablePairs, int tableCount, const int* lenPairs,
                                      int lenCount, const int* freshPages, int freshCount, int pageSize, int pageCount,
                                      int* slotPos, unsigned char* slotFlag, int* error, cudaStream_t stream) {
    DMS_CHECK(pageTable != nullptr && pageTableLen != nullptr && slotPos != nullptr && slotFlag != nullptr);
    DMS_CHECK(tableCount >= 0 && lenCount >= 0 && freshCount >= 0 && pageSize > 0 && pageCount > 0);
    DMS_CHECK(tableCount == 0 || tablePairs != nullptr);
    DMS_CHECK(lenCount == 0 || lenPairs != nullptr);
    DMS_CHECK(freshCount == 0 || freshPages != nullptr);
    if (tableCount + lenCount + freshCount == 0) {
        return cudaSuccess;
    }
    launch_page_table(pageTable, pageTableSize, pageTableLen, lenSize, maxPagesPerHead, tablePairs, tableCount, lenPairs,
                      lenCount, freshPages, freshCount, pageSize, pageCount, slotPos, slotFlag, error, stream);
    return cudaGetLastError();
}
