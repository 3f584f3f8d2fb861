package io.dmsserve.engine.cpu;

import io.dmsserve.dms.DmsRules;
import io.dmsserve.engine.simd.FloatKernels;
import io.dmsserve.engine.simd.Kernels;

/**
 * GQA attention of one sequence's chunk in one layer, over its KV head's page table after the chunk's own
 * keys and values were written: a query at position q sees slot k when k ≤ q and not (k is flagged and
 * q − k > w) (DESIGN.md §3: the same mask serves decode and sparse prefill). Slots are visited in
 * page-table order, so a sequence sums in the same order alone or batched.
 */
final class ChunkAttention {

    private final int heads;
    private final int kvHeads;
    private final int layers;
    private final int headDim;
    private final int group;
    private final float scale;
    private final CpuKvStore store;
    private final Parallel parallel;
    private final FloatKernels kernels = Kernels.get();

    ChunkAttention(int heads, int kvHeads, int layers, int headDim, CpuKvStore store, Parallel parallel) {
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.layers = layers;
        this.headDim = headDim;
        this.group = heads / kvHeads;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        this.store = store;
        this.parallel = parallel;
    }

    /**
     * @param q (rows, heads · headDim) after norm and RoPE; this chunk is rows [rowStart, rowStart + length)
     * @param first position of the chunk's first token
     * @param window the sequence's DMS window w
     * @param out (rows, heads · headDim) attention output of the chunk's rows
     */
    void run(int row, int layer, float[] q, int rowStart, int length, int first, int window, float[] out) {
        parallel.forRange(heads, 1, (from, to) -> {
            for (int head = from; head < to; head++) {
                int table = (row * layers + layer) * kvHeads + head / group;
                int entries = store.tableLength(table);
                int pageSize = store.pageSize();
                float[] scores = new float[entries * pageSize]; // (visible slots)
                int[] source = new int[entries * pageSize];     // physical slot of each score
                for (int c = 0; c < length; c++) {
                    int query = first + c;
                    int qOffset = (rowStart + c) * heads * headDim + head * headDim;
                    int count = 0;
                    for (int e = 0; e < entries; e++) {
                        int page = store.page(table, e);
                        if (page < 0) {
                            continue;
                        }
                        for (int slot = page * pageSize; slot < (page + 1) * pageSize; slot++) {
                            int key = store.position(slot);
                            if (key < 0 || !DmsRules.visible(query, key, store.flagged(slot), window)) {
                                continue;
                            }
                            scores[count] = kernels.dot(q, qOffset, store.keyPage(slot), store.offset(slot), headDim)
                                    * scale;
                            source[count++] = slot;
                        }
                    }
                    Ops.softmax(scores, count);
                    int outOffset = (rowStart + c) * heads * headDim + head * headDim;
                    java.util.Arrays.fill(out, outOffset, outOffset + headDim, 0f);
                    for (int i = 0; i < count; i++) {
                        kernels.axpy(scores[i], store.valuePage(source[i]), store.offset(source[i]), out, outOffset,
                                headDim);
                    }
                }
            }
        });
    }
}
