package io.dmsserve.engine.cpu;

import io.dmsserve.dms.DmsRules;
import io.dmsserve.engine.simd.FloatKernels;
import io.dmsserve.engine.simd.Kernels;
import io.dmsserve.kvcache.HeadCache;
import io.dmsserve.kvcache.SequenceKv;

/**
 * GQA attention of one sequence's chunk in one layer, with the DMS visibility mask: each query sees the
 * cached tokens of its KV head plus the chunk's own tokens up to itself, minus flagged tokens that are
 * more than w positions behind it (DESIGN.md §3, sparse prefill).
 */
final class ChunkAttention {

    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int group;
    private final float scale;
    private final CpuKvStore store;
    private final Parallel parallel;
    private final FloatKernels kernels = Kernels.get();

    ChunkAttention(int heads, int kvHeads, int headDim, CpuKvStore store, Parallel parallel) {
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.group = heads / kvHeads;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        this.store = store;
        this.parallel = parallel;
    }

    /**
     * @param q (rows, heads · headDim) after norm and RoPE; this chunk is rows [rowStart, rowStart + length)
     * @param k (rows, kvHeads · headDim)
     * @param v (rows, kvHeads · headDim)
     * @param chunkFlags (kvHeads, length) whether chunk token c is flagged (decided by chunk token c + 1)
     * @param out (rows, heads · headDim) attention output of the chunk's rows
     */
    void run(SequenceKv sequence, int layer, float[] q, float[] k, float[] v, int rowStart, int length,
            boolean[][] chunkFlags, float[] out) {
        int firstPosition = sequence.processed();
        int window = sequence.policy().window();
        parallel.forRange(heads, 1, (from, to) -> {
            for (int head = from; head < to; head++) {
                int kvHead = head / group;
                HeadCache cache = sequence.head(layer, kvHead);
                int capacity = cache.slotCapacity();
                float[] scores = new float[capacity + length]; // (visible keys)
                int[] source = new int[capacity + length];     // physical slot, or −1 − chunk index
                for (int c = 0; c < length; c++) {
                    int query = firstPosition + c;
                    int qOffset = (rowStart + c) * heads * headDim + head * headDim;
                    int count = 0;
                    for (int slot = 0; slot < capacity; slot++) {
                        int key = cache.position(slot);
                        if (key < 0 || !DmsRules.visible(query, key, cache.flagged(slot), window)) {
                            continue;
                        }
                        int physical = cache.physicalSlot(slot);
                        scores[count] = kernels.dot(q, qOffset, store.keyPage(physical), store.offset(physical),
                                headDim) * scale;
                        source[count++] = physical;
                    }
                    for (int kc = 0; kc <= c; kc++) {
                        if (!DmsRules.visible(query, firstPosition + kc, chunkFlags[kvHead][kc], window)) {
                            continue;
                        }
                        int kOffset = (rowStart + kc) * kvHeads * headDim + kvHead * headDim;
                        scores[count] = kernels.dot(q, qOffset, k, kOffset, headDim) * scale;
                        source[count++] = -1 - kc;
                    }
                    Ops.softmax(scores, count);
                    int outOffset = (rowStart + c) * heads * headDim + head * headDim;
                    java.util.Arrays.fill(out, outOffset, outOffset + headDim, 0f);
                    for (int i = 0; i < count; i++) {
                        float weight = scores[i];
                        float[] values;
                        int vOffset;
                        if (source[i] >= 0) {
                            values = store.valuePage(source[i]);
                            vOffset = store.offset(source[i]);
                        } else {
                            values = v;
                            vOffset = (rowStart - 1 - source[i]) * kvHeads * headDim + kvHead * headDim;
                        }
                        kernels.axpy(weight, values, vOffset, out, outOffset, headDim);
                    }
                }
            }
        });
    }
}
