package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** page_table.cu: the delta is applied exactly, fresh pages are reset, bad items are skipped and reported. */
class PageTableKernelTest extends GpuTest {

    @Test
    void appliesTheDeltaAndResetsFreshPages() {
        PageTableKernel kernel = new PageTableKernel(context);
        int pageSize = 4;
        int pageCount = 10;
        int[] table = new int[24];
        Arrays.fill(table, 7);
        int[] lengths = new int[6];
        Arrays.fill(lengths, 1);
        int[] slotPos = new int[pageSize * pageCount];
        Arrays.fill(slotPos, 123);
        byte[] slotFlag = new byte[pageSize * pageCount];
        Arrays.fill(slotFlag, (byte) 1);
        DeviceBuffer dTable = upload(table);
        DeviceBuffer dLen = upload(lengths);
        DeviceBuffer dPos = upload(slotPos);
        DeviceBuffer dFlag = upload(slotFlag);
        DeviceBuffer error = upload(new int[] {0});
        kernel.apply(dTable, 24, dLen, 6, 4, upload(new int[] {0, 3, 5, -1, 23, 9, 24, 1, 2, 10}), 5,
                upload(new int[] {0, 2, 5, 4, 6, 1, 1, 5}), 4, upload(new int[] {2, 9, 11}), 3, pageSize, pageCount,
                dPos, dFlag, error);

        table[0] = 3;
        table[5] = -1;
        table[23] = 9;
        lengths[0] = 2;
        lengths[5] = 4;
        for (int page : new int[] {2, 9}) {
            for (int o = 0; o < pageSize; o++) {
                slotPos[page * pageSize + o] = -1;
                slotFlag[page * pageSize + o] = 0;
            }
        }
        assertThat(dTable.toInts()).containsExactly(table);
        assertThat(dLen.toInts()).containsExactly(lengths);
        assertThat(dPos.toInts()).containsExactly(slotPos);
        assertThat(dFlag.toBytes()).containsExactly(slotFlag);
        assertThat(error.toInts()[0]).isEqualTo(PageTableKernel.BAD_TABLE_INDEX | PageTableKernel.BAD_PAGE_ID
                | PageTableKernel.BAD_LENGTH | PageTableKernel.BAD_FRESH_PAGE);
    }
}
