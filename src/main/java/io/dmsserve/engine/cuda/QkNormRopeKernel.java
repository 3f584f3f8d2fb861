package io.dmsserve.engine.cuda;

import static io.dmsserve.engine.cuda.Checks.holds;
import static io.dmsserve.engine.cuda.Checks.positive;
import static io.dmsserve.engine.cuda.Checks.require;

/**
 * native/qknorm_rope.cu: per-head RMSNorm of q and k, the DMS decision of each KV head, RoPE (CpuBackend.step:
 * q_norm/k_norm, decide, Rope.rotate, zeroDecisionChannel).
 */
final class QkNormRopeKernel {

    static final String NAME = "dms_qknorm_rope_f32";
    static final String KV_NAME = "dms_qknorm_rope_kv_f32";
    static final int MAX_HEAD_DIM = 512;
    private static final int BLOCK = 128;

    /**
     * The head size with kernels of its own (NAME + "_d128", KV_NAME + "_d128"): two channel pairs a lane instead of
     * eight, fewer registers, the general kernel's bits (native/qknorm_rope.cu; a D = 64 form gave other bits on the
     * H200 and was dropped).
     */
    static final int OWN_KERNEL_HEAD_DIM = 128;

    private final Kernel kernel;
    private final Kernel withKv;
    private final Kernel kernelOwn;    // for OWN_KERNEL_HEAD_DIM
    private final Kernel withKvOwn;

    QkNormRopeKernel(CudaContext context) {
        this.kernel = context.kernel(NAME);
        this.withKv = context.kernel(KV_NAME);
        this.kernelOwn = context.kernel(NAME + "_d" + OWN_KERNEL_HEAD_DIM);
        this.withKvOwn = context.kernel(KV_NAME + "_d" + OWN_KERNEL_HEAD_DIM);
    }

    /**
     * Where a decode step's keys and values go ({@link #applyAndWrite}): as {@link KvWriteKernel#write} takes them.
     *
     * @param v fp32 token rows of stride vStride
     * @param slots int32 (layers, kvHeads, n); prevSlots int32 (layers, kvHeads, S) or null
     */
    record KvTarget(DeviceBuffer v, int vStride, DeviceBuffer slots, DeviceBuffer prevSlots, int sequences,
            AttentionKernel.Cache cache) {
    }

    /**
     * The RoPE table of Rope.java: entry (p, j) = (cos, sin) of p * inv_freq[j], inv_freq[j] =
     * 1 / theta^(2j / D), all in double, rounded to fp32. Upload it once per model.
     *
     * @return float (positions, D/2, 2)
     */
    static float[] ropeTable(int headDim, double theta, int positions) {
        require(headDim > 0 && headDim % 2 == 0, "head_dim must be even, got " + headDim);
        int half = headDim / 2;
        double[] inverseFrequency = new double[half];
        for (int i = 0; i < half; i++) {
            inverseFrequency[i] = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
        }
        float[] table = new float[Math.multiplyExact(positions, headDim)];
        for (int p = 0; p < positions; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * inverseFrequency[i];
                table[2 * (p * half + i)] = (float) Math.cos(angle);
                table[2 * (p * half + i) + 1] = (float) Math.sin(angle);
            }
        }
        return table;
    }

    /**
     * In place on q and k (token rows of stride qStride / kStride floats; with a fused q|k|v projection, k is a
     * slice of the same buffer starting heads * headDim floats in). For a DMS model (dms), the decision of
     * kv head h at token i goes to decisions[(i * layers + layer) * kvHeads + h] and channel D-1 of query head
     * h*G is zeroed before and after RoPE.
     *
     * @param rope float2 (ropePositions, headDim/2) from {@link #ropeTable}
     * @param positions int32 (n)
     * @param seqOfToken int32 (n), thresholds fp32 (S, layers), decisions uint8 (n, layers, kvHeads): DMS only
     */
    void apply(DeviceBuffer q, int qStride, DeviceBuffer k, int kStride, DeviceBuffer qNorm, DeviceBuffer kNorm,
            DeviceBuffer rope, int ropePositions, DeviceBuffer positions, int n, int heads, int kvHeads, int headDim,
            float eps, boolean dms, double alphaScale, double alphaOffset, DeviceBuffer seqOfToken,
            DeviceBuffer thresholds, int sequences, int layers, int layer, DeviceBuffer decisions) {
        check(q, qStride, k, kStride, qNorm, kNorm, rope, ropePositions, positions, n, heads, kvHeads, headDim, dms,
                seqOfToken, thresholds, sequences, layers, layer, decisions);
        int grid = Checks.ceilDiv((long) n * (heads + kvHeads), BLOCK / 32);
        Kernel launched = headDim == OWN_KERNEL_HEAD_DIM ? kernelOwn : kernel;
        launched.launch(grid, 1, 1, BLOCK, 0, args(q, qStride, k, kStride, qNorm, kNorm, rope, ropePositions,
                positions, n, heads, kvHeads, headDim, eps, dms, alphaScale, alphaOffset, seqOfToken, thresholds,
                layers, layer, decisions));
    }

    /**
     * {@link #apply}, then {@link KvWriteKernel#write}'s work, in one launch, for a decode step: every sequence feeds
     * one token (token i of sequence seqOfToken[i]), so its own slot's flag is 0 and the previous token's comes from
     * this step's decision. The same values as the two kernels, bit for bit (native/test, QkNormRopeKernelTest).
     */
    void applyAndWrite(DeviceBuffer q, int qStride, DeviceBuffer k, int kStride, DeviceBuffer qNorm, DeviceBuffer kNorm,
            DeviceBuffer rope, int ropePositions, DeviceBuffer positions, int n, int heads, int kvHeads, int headDim,
            float eps, boolean dms, double alphaScale, double alphaOffset, DeviceBuffer seqOfToken,
            DeviceBuffer thresholds, int layers, int layer, DeviceBuffer decisions, KvTarget kv) {
        checkWrite(q, qStride, k, kStride, qNorm, kNorm, rope, ropePositions, positions, n, heads, kvHeads, headDim,
                dms, seqOfToken, thresholds, layers, layer, decisions, kv);
        AttentionKernel.Cache cache = kv.cache();
        int grid = Checks.ceilDiv((long) n * (heads + kvHeads), BLOCK / 32);
        Kernel launched = headDim == OWN_KERNEL_HEAD_DIM ? withKvOwn : withKv;
        launched.launch(grid, 1, 1, BLOCK, 0, args(q, qStride, k, kStride, qNorm, kNorm, rope, ropePositions,
                positions, n, heads, kvHeads, headDim, eps, dms, alphaScale, alphaOffset, seqOfToken, thresholds,
                layers, layer, decisions)
                .ptr(kv.v()).i32(kv.vStride()).ptr(kv.slots()).ptr(kv.prevSlots()).i32(n)
                .ptr(cache.keyCache()).ptr(cache.valueCache()).ptr(cache.slotPos()).ptr(cache.slotFlag()));
    }

    /**
     * What the tensor-core decode attention folds in instead of {@link #applyAndWrite} ({@link
     * AttentionKernel#decodeFolded}, attention.cu dms_attention_decode_tcq_d*): its arguments, q raw (the product's
     * rows, left as they are: the attention normalises and rotates its own copy), n tokens of as many sequences.
     */
    record Folded(DeviceBuffer k, int kStride, DeviceBuffer qNorm, DeviceBuffer kNorm, DeviceBuffer rope,
            int ropePositions, int n, float eps, boolean dms, double alphaScale, double alphaOffset,
            DeviceBuffer thresholds, DeviceBuffer decisions, KvTarget kv) {

        /** The kernel's DMS_FOLD_PARAMS, after the attention's own. */
        KernelArgs appendTo(KernelArgs args) {
            return args.ptr(k).i32(kStride).ptr(kv.v()).i32(kv.vStride()).ptr(qNorm).ptr(kNorm).ptr(rope)
                    .i32(ropePositions).f32(eps).i32(dms ? 1 : 0).f64(alphaScale).f64(alphaOffset)
                    .ptr(dms ? thresholds : null).ptr(dms ? decisions : null).ptr(kv.slots()).ptr(kv.prevSlots())
                    .i32(n).i32(kv.sequences());
        }
    }

    /** {@link #applyAndWrite}'s arguments, checked as there, for the decode attention to fold in. */
    static Folded fold(DeviceBuffer q, int qStride, DeviceBuffer k, int kStride, DeviceBuffer qNorm,
            DeviceBuffer kNorm, DeviceBuffer rope, int ropePositions, DeviceBuffer positions, int n, int heads,
            int kvHeads, int headDim, float eps, boolean dms, double alphaScale, double alphaOffset,
            DeviceBuffer seqOfToken, DeviceBuffer thresholds, int layers, int layer, DeviceBuffer decisions,
            KvTarget kv) {
        checkWrite(q, qStride, k, kStride, qNorm, kNorm, rope, ropePositions, positions, n, heads, kvHeads, headDim,
                dms, seqOfToken, thresholds, layers, layer, decisions, kv);
        return new Folded(k, kStride, qNorm, kNorm, rope, ropePositions, n, eps, dms, alphaScale, alphaOffset,
                thresholds, decisions, kv);
    }

    private static void checkWrite(DeviceBuffer q, int qStride, DeviceBuffer k, int kStride, DeviceBuffer qNorm,
            DeviceBuffer kNorm, DeviceBuffer rope, int ropePositions, DeviceBuffer positions, int n, int heads,
            int kvHeads, int headDim, boolean dms, DeviceBuffer seqOfToken, DeviceBuffer thresholds, int layers,
            int layer, DeviceBuffer decisions, KvTarget kv) {
        require(kv.sequences() == n, "a decode step has one token a sequence: " + n + " tokens, " + kv.sequences()
                + " sequences");
        require(kv.vStride() >= kvHeads * headDim, "v stride too small for the heads");
        holds(kv.v(), Checks.rows(n, kv.vStride(), kvHeads * headDim), 4, "v (n, kvHeads, D) fp32");
        holds(kv.slots(), (long) layers * kvHeads * n, 4, "slots (layers, kvHeads, n) int32");
        if (kv.prevSlots() != null) {
            holds(kv.prevSlots(), (long) layers * kvHeads * n, 4, "prevSlots (layers, kvHeads, S) int32");
        }
        holds(seqOfToken, n, 4, "seqOfToken (n) int32");
        AttentionKernel.Cache cache = kv.cache();
        require(cache.headDim() == headDim, "the cache holds heads of " + cache.headDim() + ", not " + headDim);
        long slots = cache.slotCount();
        holds(cache.keyCache(), slots * headDim, 2, "keyCache (slots, D) bf16");
        holds(cache.valueCache(), slots * headDim, 2, "valueCache (slots, D) bf16");
        holds(cache.slotPos(), slots, 4, "slotPos (slots) int32");
        holds(cache.slotFlag(), slots, 1, "slotFlag (slots) uint8");
        check(q, qStride, k, kStride, qNorm, kNorm, rope, ropePositions, positions, n, heads, kvHeads, headDim, dms,
                seqOfToken, thresholds, n, layers, layer, decisions);
    }

    private static void check(DeviceBuffer q, int qStride, DeviceBuffer k, int kStride, DeviceBuffer qNorm,
            DeviceBuffer kNorm, DeviceBuffer rope, int ropePositions, DeviceBuffer positions, int n, int heads,
            int kvHeads, int headDim, boolean dms, DeviceBuffer seqOfToken, DeviceBuffer thresholds, int sequences,
            int layers, int layer, DeviceBuffer decisions) {
        positive(n, "n");
        positive(heads, "heads");
        positive(kvHeads, "kvHeads");
        require(heads % kvHeads == 0, "kvHeads (" + kvHeads + ") must divide heads (" + heads + ")");
        require(headDim > 0 && headDim % 2 == 0 && headDim <= MAX_HEAD_DIM,
                "head_dim must be even and at most " + MAX_HEAD_DIM + ", got " + headDim);
        require(qStride >= heads * headDim && kStride >= kvHeads * headDim, "token strides too small for the heads");
        require(layer >= 0 && layer < layers, "layer " + layer + " outside [0, " + layers + ")");
        holds(q, Checks.rows(n, qStride, heads * headDim), 4, "q (n, heads, D) fp32");
        holds(k, Checks.rows(n, kStride, kvHeads * headDim), 4, "k (n, kvHeads, D) fp32");
        holds(qNorm, headDim, 2, "q_norm (D) bf16");
        holds(kNorm, headDim, 2, "k_norm (D) bf16");
        positive(ropePositions, "ropePositions");
        holds(rope, (long) ropePositions * headDim, 4, "rope (positions, D/2) float2");
        holds(positions, n, 4, "positions (n) int32");
        if (dms) {
            holds(seqOfToken, n, 4, "seqOfToken (n) int32");
            holds(thresholds, (long) sequences * layers, 4, "thresholds (S, layers) fp32");
            holds(decisions, (long) n * layers * kvHeads, 1, "decisions (n, layers, kvHeads) uint8");
        }
    }

    private static KernelArgs args(DeviceBuffer q, int qStride, DeviceBuffer k, int kStride, DeviceBuffer qNorm,
            DeviceBuffer kNorm, DeviceBuffer rope, int ropePositions, DeviceBuffer positions, int n, int heads,
            int kvHeads, int headDim, float eps, boolean dms, double alphaScale, double alphaOffset,
            DeviceBuffer seqOfToken, DeviceBuffer thresholds, int layers, int layer, DeviceBuffer decisions) {
        return new KernelArgs().ptr(q).i32(qStride).ptr(k).i32(kStride).ptr(qNorm).ptr(kNorm).ptr(rope)
                .i32(ropePositions).ptr(positions).i32(n).i32(heads).i32(kvHeads).i32(headDim).f32(eps).i32(dms ? 1 : 0)
                .f64(alphaScale).f64(alphaOffset).ptr(dms ? seqOfToken : null).ptr(dms ? thresholds : null).i32(layers)
                .i32(layer).ptr(dms ? decisions : null);
    }
}
