package io.dmsserve.engine.simd;

import java.nio.ByteBuffer;

/**
 * The inner loops of the CPU engine: dot products, conversions of stored weights to fp32, and the block
 * of a matrix product. All arithmetic is fp32; the summation order is the implementation's own, so two
 * implementations agree to rounding, not bit for bit. Weights are read at an absolute byte
 * {@code position} of a buffer in little-endian order, as every mapping of the engine is (the buffer's own
 * position and limit play no part). Implementations are stateless and safe to share between threads.
 * {@link Kernels#get()} gives the one in use.
 */
public interface FloatKernels {

    /** "scalar", or "vector-" and the vector width in bits. */
    String name();

    /** {@code sum_j a[aOffset + j] * b[bOffset + j]} for j in [0, length). */
    float dot(float[] a, int aOffset, float[] b, int bOffset, int length);

    /** {@code y[yOffset + j] += alpha * x[xOffset + j]} for j in [0, length). */
    void axpy(float alpha, float[] x, int xOffset, float[] y, int yOffset, int length);

    /** {@code sum_j w[j] * x[xOffset + j]}, w being {@code length} bf16 values at byte {@code position}. */
    float dotBf16(ByteBuffer w, int position, float[] x, int xOffset, int length);

    /** As {@link #dotBf16} for fp16 (IEEE binary16) weights. */
    float dotF16(ByteBuffer w, int position, float[] x, int xOffset, int length);

    /** As {@link #dotBf16} for fp32 weights. */
    float dotF32(ByteBuffer w, int position, float[] x, int xOffset, int length);

    /**
     * {@code rows} dot products as {@link #dotBf16}: row i starts at byte {@code position + i * rowBytes},
     * its result goes to {@code out[outOffset + i]}.
     */
    default void dotRowsBf16(ByteBuffer w, int position, int rowBytes, int rows, float[] x, int xOffset,
            int length, float[] out, int outOffset) {
        // Row by row, each in dotBf16's order; four rows interleaved measured slower (97–102 against
        // 66–73 ms per decode step of a 0.6B model).
        for (int i = 0; i < rows; i++) {
            out[outOffset + i] = dotBf16(w, position + i * rowBytes, x, xOffset, length);
        }
    }

    /** As {@link #dotRowsBf16} for fp16 weights. */
    default void dotRowsF16(ByteBuffer w, int position, int rowBytes, int rows, float[] x, int xOffset,
            int length, float[] out, int outOffset) {
        // Row by row, each in dotF16's order; four rows interleaved measured slower (97–102 against
        // 66–73 ms per decode step of a 0.6B model).
        for (int i = 0; i < rows; i++) {
            out[outOffset + i] = dotF16(w, position + i * rowBytes, x, xOffset, length);
        }
    }

    /** As {@link #dotRowsBf16} for fp32 weights. */
    default void dotRowsF32(ByteBuffer w, int position, int rowBytes, int rows, float[] x, int xOffset,
            int length, float[] out, int outOffset) {
        // Row by row, each in dotF32's order; four rows interleaved measured slower (97–102 against
        // 66–73 ms per decode step of a 0.6B model).
        for (int i = 0; i < rows; i++) {
            out[outOffset + i] = dotF32(w, position + i * rowBytes, x, xOffset, length);
        }
    }

    /** Widens {@code length} bf16 values at byte {@code position} into {@code dst[dstOffset ...]}; exact. */
    void bf16ToF32(ByteBuffer w, int position, float[] dst, int dstOffset, int length);

    /** Widens {@code length} fp16 values; exact for every bit pattern, subnormals, infinities and NaNs included. */
    void f16ToF32(ByteBuffer w, int position, float[] dst, int dstOffset, int length);

    /** Copies {@code length} fp32 values. */
    void f32ToF32(ByteBuffer w, int position, float[] dst, int dstOffset, int length);

    /**
     * One block of out = x · Wᵀ: {@code out[outOffset + t * outStride + r] = dot(w row r, x row t)} for
     * r in [0, rows) and t in [0, tokens).
     *
     * @param w (rows, cols) weight rows already in fp32
     * @param x (tokens, cols)
     * @param out (tokens, outStride); this block writes columns [outOffset, outOffset + rows)
     */
    void matmulBlock(float[] w, int rows, float[] x, int tokens, int cols, float[] out, int outOffset, int outStride);
}
