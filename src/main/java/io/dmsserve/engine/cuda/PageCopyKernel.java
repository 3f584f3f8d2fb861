package io.dmsserve.engine.cuda;

import static io.dmsserve.engine.cuda.Checks.holds;
import static io.dmsserve.engine.cuda.Checks.positive;
import static io.dmsserve.engine.cuda.Checks.require;

/**
 * native/page_copy.cu: KV slots copied on the device (keys, values, slot positions and flags): a fork's pages page to
 * page, a repack's slots run by run.
 */
final class PageCopyKernel {

    static final String NAME = "dms_page_copy_bf16";
    static final String MOVE_NAME = "dms_slot_move_bf16";
    private static final int BLOCK = 256;

    /** The bit the kernel ORs into {@code error} for a pair naming no page of the pool. */
    static final int BAD_COPY_PAGE = 16;
    /** The bit the move kernel ORs into {@code error} for a triple outside the slots or of no slot. */
    static final int BAD_MOVE = 32;

    private final Kernel kernel;
    private final Kernel move;

    PageCopyKernel(CudaContext context) {
        this.kernel = context.kernel(NAME);
        this.move = context.kernel(MOVE_NAME);
    }

    /**
     * Slots moves[3e + 1] .. + moves[3e + 2] - 1 get the keys, values, positions and flags of slots moves[3e] ..;
     * a source of -1 empties them instead (e < count). No two triples touch the same slot, none reads a slot another
     * writes (PageTableDelta#slotMoves).
     *
     * @param moves int32 (count, 3): (source slot or -1, target slot, slots)
     * @param error int32 [1] or null: a bad triple is skipped and reported here ({@link #BAD_MOVE})
     */
    void move(DeviceBuffer moves, int count, int headDim, int slotCount, DeviceBuffer keyCache, DeviceBuffer valueCache,
            DeviceBuffer slotPos, DeviceBuffer slotFlag, DeviceBuffer error) {
        require(count >= 0, "count must be >= 0, got " + count);
        positive(headDim, "headDim");
        positive(slotCount, "slotCount");
        holds(keyCache, (long) slotCount * headDim, 2, "keyCache (slots, D) bf16");
        holds(valueCache, (long) slotCount * headDim, 2, "valueCache (slots, D) bf16");
        holds(slotPos, slotCount, 4, "slotPos (slots) int32");
        holds(slotFlag, slotCount, 1, "slotFlag (slots) uint8");
        if (count == 0) {
            return;
        }
        holds(moves, 3L * count, 4, "moves (count, 3) int32");
        move.launch(Math.min(Checks.ceilDiv(count, BLOCK / 32), 4096), 1, 1, BLOCK, 0, new KernelArgs().ptr(moves)
                .i32(count).i32(headDim).i32(slotCount).ptr(keyCache).ptr(valueCache).ptr(slotPos).ptr(slotFlag)
                .ptr(error));
    }

    /**
     * Page pairs[2e + 1] gets page pairs[2e]'s keys, values, positions and flags (e < count). The pairs of one call
     * must be independent (PageTableDelta#copyRounds): no page written by one pair is read or written by another.
     *
     * @param pairs int32 (count, 2): (source, target) page ids
     * @param keyCache bf16, valueCache bf16 (pageCount * pageSize, D); slotPos int32, slotFlag uint8 (pageCount *
     *     pageSize)
     * @param error int32 [1] or null: a bad pair is skipped and reported here ({@link #BAD_COPY_PAGE})
     */
    void copy(DeviceBuffer pairs, int count, int pageSize, int headDim, int pageCount, DeviceBuffer keyCache,
            DeviceBuffer valueCache, DeviceBuffer slotPos, DeviceBuffer slotFlag, DeviceBuffer error) {
        require(count >= 0, "count must be >= 0, got " + count);
        positive(pageSize, "pageSize");
        positive(headDim, "headDim");
        positive(pageCount, "pageCount");
        long slots = (long) pageCount * pageSize;
        holds(keyCache, slots * headDim, 2, "keyCache (slots, D) bf16");
        holds(valueCache, slots * headDim, 2, "valueCache (slots, D) bf16");
        holds(slotPos, slots, 4, "slotPos (slots) int32");
        holds(slotFlag, slots, 1, "slotFlag (slots) uint8");
        if (count == 0) {
            return;
        }
        holds(pairs, 2L * count, 4, "pairs (count, 2) int32");
        kernel.launch(Math.min(count, 1024), 1, 1, BLOCK, 0, new KernelArgs().ptr(pairs).i32(count).i32(pageSize)
                .i32(headDim).i32(pageCount).ptr(keyCache).ptr(valueCache).ptr(slotPos).ptr(slotFlag).ptr(error));
    }
}
