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
    static final int MAX_HEAD_DIM = 512;
    private static final int BLOCK = 128;

    private final Kernel kernel;

    QkNormRopeKernel(CudaContext context) {
        this.kernel = context.kernel(NAME);
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
        int grid = Checks.ceilDiv((long) n * (heads + kvHeads), BLOCK / 32);
        kernel.launch(grid, 1, 1, BLOCK, 0, new KernelArgs().ptr(q).i32(qStride).ptr(k).i32(kStride).ptr(qNorm)
                .ptr(kNorm).ptr(rope).i32(ropePositions).ptr(positions).i32(n).i32(heads).i32(kvHeads).i32(headDim)
                .f32(eps).i32(dms ? 1 : 0).f64(alphaScale).f64(alphaOffset).ptr(dms ? seqOfToken : null)
                .ptr(dms ? thresholds : null).i32(layers).i32(layer).ptr(dms ? decisions : null));
    }
}
