package io.dmsserve.engine.cuda;

import static io.dmsserve.engine.cuda.Checks.holds;
import static io.dmsserve.engine.cuda.Checks.positive;
import static io.dmsserve.engine.cuda.Checks.require;

/** native/page_table.cu: a step's page-table delta and the reset of freshly allocated pages. */
final class PageTableKernel {

    static final String NAME = "dms_page_table_apply";
    private static final int BLOCK = 256;

    /** Bits the kernel ORs into {@code error}. */
    static final int BAD_TABLE_INDEX = 1;
    static final int BAD_PAGE_ID = 2;
    static final int BAD_LENGTH = 4;
    static final int BAD_FRESH_PAGE = 8;

    private final Kernel kernel;

    PageTableKernel(CudaContext context) {
        this.kernel = context.kernel(NAME);
    }

    /**
     * pageTable[tablePairs[2e]] = tablePairs[2e+1] (e < tableCount); pageTableLen[lenPairs[2e]] =
     * lenPairs[2e+1] (e < lenCount); every slot of freshPages[e] (e < freshCount) gets position -1, flag 0.
     *
     * @param pageTable int32, pageTableSize entries ([maxRows][layers][kvHeads][maxPagesPerHead])
     * @param pageTableLen int32, lenSize entries ([maxRows][layers][kvHeads])
     * @param error int32 [1] or null: bad items are skipped and reported here (BAD_* bits)
     */
    void apply(DeviceBuffer pageTable, int pageTableSize, DeviceBuffer pageTableLen, int lenSize, int maxPagesPerHead,
            DeviceBuffer tablePairs, int tableCount, DeviceBuffer lenPairs, int lenCount, DeviceBuffer freshPages,
            int freshCount, int pageSize, int pageCount, DeviceBuffer slotPos, DeviceBuffer slotFlag,
            DeviceBuffer error) {
        positive(pageSize, "pageSize");
        positive(pageCount, "pageCount");
        require(tableCount >= 0 && lenCount >= 0 && freshCount >= 0, "counts must be >= 0");
        holds(pageTable, pageTableSize, 4, "pageTable int32");
        holds(pageTableLen, lenSize, 4, "pageTableLen int32");
        holds(slotPos, (long) pageCount * pageSize, 4, "slotPos (pageCount * pageSize) int32");
        holds(slotFlag, (long) pageCount * pageSize, 1, "slotFlag (pageCount * pageSize) uint8");
        if (tableCount > 0) {
            holds(tablePairs, 2L * tableCount, 4, "tablePairs (tableCount, 2) int32");
        }
        if (lenCount > 0) {
            holds(lenPairs, 2L * lenCount, 4, "lenPairs (lenCount, 2) int32");
        }
        if (freshCount > 0) {
            holds(freshPages, freshCount, 4, "freshPages (freshCount) int32");
        }
        long items = (long) tableCount + lenCount + (long) freshCount * pageSize;
        if (items == 0) {
            return;
        }
        int grid = (int) Math.min(4096, (items + BLOCK - 1) / BLOCK);
        kernel.launch(grid, 1, 1, BLOCK, 0, new KernelArgs().ptr(pageTable).i32(pageTableSize).ptr(pageTableLen)
                .i32(lenSize).i32(maxPagesPerHead).ptr(tableCount > 0 ? tablePairs : null).i32(tableCount)
                .ptr(lenCount > 0 ? lenPairs : null).i32(lenCount).ptr(freshCount > 0 ? freshPages : null)
                .i32(freshCount).i32(pageSize).i32(pageCount).ptr(slotPos).ptr(slotFlag).ptr(error));
    }
}
