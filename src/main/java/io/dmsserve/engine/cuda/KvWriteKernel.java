package io.dmsserve.engine.cuda;

import static io.dmsserve.engine.cuda.Checks.holds;
import static io.dmsserve.engine.cuda.Checks.positive;
import static io.dmsserve.engine.cuda.Checks.require;

/**
 * native/kv_write.cu: this step's roped keys and values of one layer into their reserved slots, with slot
 * metadata (position, and the flag the next token's decision gave it). See native/README.md, KV contract.
 */
final class KvWriteKernel {

    static final String NAME = "dms_kv_write_bf16";
    private static final int BLOCK = 128;

    private final Kernel kernel;

    KvWriteKernel(CudaContext context) {
        this.kernel = context.kernel(NAME);
    }

    /**
     * @param k fp32 token rows of stride kStride, kv head h at h * headDim (n, kvHeads, D)
     * @param v fp32 token rows of stride vStride
     * @param slots int32 (layers, kvHeads, n): the slot of token i, kv head h in layer l is
     *     slots[(l * kvHeads + h) * n + i]; < 0 = not stored
     * @param prevSlots int32 (layers, kvHeads, S) or null: the slot of each sequence's token before this step
     * @param decisions uint8 (n, layers, kvHeads) or null (no DMS)
     * @param positions int32 (n); seqOfToken int32 (n); seqFirst, seqLength int32 (S)
     * @param keyCache bf16, valueCache bf16 (slots, D); slotPos int32, slotFlag uint8 (slots)
     */
    void write(DeviceBuffer k, int kStride, DeviceBuffer v, int vStride, DeviceBuffer slots, DeviceBuffer prevSlots,
            DeviceBuffer decisions, DeviceBuffer positions, DeviceBuffer seqOfToken, DeviceBuffer seqFirst,
            DeviceBuffer seqLength, int n, int sequences, int layers, int layer, int kvHeads, int headDim,
            DeviceBuffer keyCache, DeviceBuffer valueCache, DeviceBuffer slotPos, DeviceBuffer slotFlag,
            long slotCount) {
        positive(n, "n");
        positive(sequences, "sequences");
        positive(kvHeads, "kvHeads");
        require(headDim > 0 && headDim % 2 == 0, "head_dim must be even, got " + headDim);
        require(layer >= 0 && layer < layers, "layer " + layer + " outside [0, " + layers + ")");
        require(kStride >= kvHeads * headDim && vStride >= kvHeads * headDim, "k/v strides too small for the heads");
        holds(k, Checks.rows(n, kStride, kvHeads * headDim), 4, "k (n, kvHeads, D) fp32");
        holds(v, Checks.rows(n, vStride, kvHeads * headDim), 4, "v (n, kvHeads, D) fp32");
        holds(slots, (long) layers * kvHeads * n, 4, "slots (layers, kvHeads, n) int32");
        if (prevSlots != null) {
            holds(prevSlots, (long) layers * kvHeads * sequences, 4, "prevSlots (layers, kvHeads, S) int32");
        }
        if (decisions != null) {
            holds(decisions, (long) n * layers * kvHeads, 1, "decisions (n, layers, kvHeads) uint8");
        }
        holds(positions, n, 4, "positions (n) int32");
        holds(seqOfToken, n, 4, "seqOfToken (n) int32");
        holds(seqFirst, sequences, 4, "seqFirst (S) int32");
        holds(seqLength, sequences, 4, "seqLength (S) int32");
        holds(keyCache, slotCount * headDim, 2, "keyCache (slots, D) bf16");
        holds(valueCache, slotCount * headDim, 2, "valueCache (slots, D) bf16");
        holds(slotPos, slotCount, 4, "slotPos (slots) int32");
        holds(slotFlag, slotCount, 1, "slotFlag (slots) uint8");
        int grid = Checks.ceilDiv((long) n * kvHeads, BLOCK / 32);
        kernel.launch(grid, 1, 1, BLOCK, 0, new KernelArgs().ptr(k).i32(kStride).ptr(v).i32(vStride).ptr(slots)
                .ptr(prevSlots).ptr(decisions).ptr(positions).ptr(seqOfToken).ptr(seqFirst).ptr(seqLength).i32(n)
                .i32(sequences).i32(layers).i32(layer).i32(kvHeads).i32(headDim).ptr(keyCache).ptr(valueCache)
                .ptr(slotPos).ptr(slotFlag));
    }
}
