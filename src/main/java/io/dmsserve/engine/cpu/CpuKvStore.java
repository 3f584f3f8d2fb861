package io.dmsserve.engine.cpu;

import io.dmsserve.engine.KvGeometry;
import io.dmsserve.kvcache.PageTableDelta;
import java.util.Arrays;

/**
 * What a device keeps of the KV cache, in Java memory: keys and values of every physical slot (slot s of
 * page s / pageSize), each slot's metadata (token position, −1 when empty; whether the next token's
 * decision flagged it), and a copy of the page tables kept current by each step's delta. The DMS rule is
 * applied from this metadata alone (DESIGN.md §3 step 6), as the CUDA kernels do. Allocated whole at
 * start, so the pool's size is its real footprint.
 */
final class CpuKvStore {

    private static final int EMPTY = -1;

    private final int pageSize;
    private final int headDim;
    private final float[][] keys;        // (pages, pageSize * headDim)
    private final float[][] values;      // (pages, pageSize * headDim)
    private final int[] slotPosition;    // (pages * pageSize)
    private final boolean[] slotFlagged; // (pages * pageSize)
    private final int[][] tables;        // (rows * layers * kvHeads) -> (entries) page id or −1; grown on demand
    private final int[] tableLength;     // (rows * layers * kvHeads)

    private final boolean bf16;          // round keys and values to bf16, as the CUDA backend stores them

    CpuKvStore(KvGeometry geometry, int layers, int kvHeads, int headDim, boolean bf16) {
        this.bf16 = bf16;
        this.pageSize = geometry.pageSize();
        this.headDim = headDim;
        this.keys = new float[geometry.pageCount()][pageSize * headDim];
        this.values = new float[geometry.pageCount()][pageSize * headDim];
        this.slotPosition = new int[Math.toIntExact(geometry.slots())];
        this.slotFlagged = new boolean[slotPosition.length];
        Arrays.fill(slotPosition, EMPTY);
        this.tables = new int[geometry.rows() * layers * kvHeads][0];
        this.tableLength = new int[tables.length];
    }

    /** The nearest bf16 (ties to even), as an fp32; finite values only. */
    static float bf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        return Float.intBitsToFloat(((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16) << 16);
    }

    /** Keys, values and metadata of one page, in bytes. */
    static long bytesPerPage(int pageSize, int headDim) {
        return 2L * pageSize * headDim * Float.BYTES + pageSize * (Integer.BYTES + 1L);
    }

    /**
     * Applies a step's page-table changes: the repacks' slot moves first, then the forks' page copies one after
     * another; then the fresh pages emptied and the table entries written (distinct entries: their order does not
     * matter).
     */
    void apply(PageTableDelta delta) {
        int[] moves = delta.slotMoves();
        for (int i = 0; i < moves.length; i += 3) {
            int target = moves[i + 1];
            int count = moves[i + 2];
            if (moves[i] < 0) {
                Arrays.fill(slotPosition, target, target + count, EMPTY);
                Arrays.fill(slotFlagged, target, target + count, false);
                continue;
            }
            int source = moves[i];
            System.arraycopy(keys[source / pageSize], offset(source), keys[target / pageSize], offset(target),
                    count * headDim);
            System.arraycopy(values[source / pageSize], offset(source), values[target / pageSize], offset(target),
                    count * headDim);
            System.arraycopy(slotPosition, source, slotPosition, target, count);
            System.arraycopy(slotFlagged, source, slotFlagged, target, count);
        }
        int[] copies = delta.pageCopies();
        for (int i = 0; i < copies.length; i += 2) {
            int source = copies[i];
            int target = copies[i + 1];
            System.arraycopy(keys[source], 0, keys[target], 0, keys[source].length);
            System.arraycopy(values[source], 0, values[target], 0, values[source].length);
            System.arraycopy(slotPosition, source * pageSize, slotPosition, target * pageSize, pageSize);
            System.arraycopy(slotFlagged, source * pageSize, slotFlagged, target * pageSize, pageSize);
        }
        for (int page : delta.freshPages()) {
            Arrays.fill(slotPosition, page * pageSize, (page + 1) * pageSize, EMPTY);
            Arrays.fill(slotFlagged, page * pageSize, (page + 1) * pageSize, false);
        }
        int[] writes = delta.pageWrites();
        for (int i = 0; i < writes.length; i += 3) {
            int[] table = tables[writes[i]];
            if (writes[i + 1] >= table.length) {
                table = Arrays.copyOf(table, Math.max(writes[i + 1] + 1, table.length * 2));
                tables[writes[i]] = table;
            }
            table[writes[i + 1]] = writes[i + 2];
        }
        int[] lengths = delta.lengthWrites();
        for (int i = 0; i < lengths.length; i += 2) {
            tableLength[lengths[i]] = lengths[i + 1];
        }
    }

    int tableLength(int table) {
        return tableLength[table];
    }

    /** Page of an entry of a table, −1 for a hole. */
    int page(int table, int entry) {
        return tables[table][entry];
    }

    int pageSize() {
        return pageSize;
    }

    int position(int slot) {
        return slotPosition[slot];
    }

    boolean flagged(int slot) {
        return slotFlagged[slot];
    }

    void flag(int slot, boolean flagged) {
        slotFlagged[slot] = flagged;
    }

    float[] keyPage(int slot) {
        return keys[slot / pageSize];
    }

    float[] valuePage(int slot) {
        return values[slot / pageSize];
    }

    int offset(int slot) {
        return (slot % pageSize) * headDim;
    }

    /** Stores a token's key and value; its flag stays false until the next token's decision. */
    void write(int slot, int position, float[] key, int keyOffset, float[] value, int valueOffset) {
        int page = slot / pageSize;
        int offset = offset(slot);
        System.arraycopy(key, keyOffset, keys[page], offset, headDim);
        System.arraycopy(value, valueOffset, values[page], offset, headDim);
        if (bf16) {
            for (int j = offset; j < offset + headDim; j++) {
                keys[page][j] = bf16(keys[page][j]);
                values[page][j] = bf16(values[page][j]);
            }
        }
        slotPosition[slot] = position;
        slotFlagged[slot] = false;
    }
}
