package io.dmsserve.engine;

/**
 * A read-only view of one memory-mapped weight tensor. Elements come back as fp32 whatever the stored
 * dtype. The 2-D view treats the first dimension as rows and flattens the rest into columns (a 1-D
 * tensor is one row), which is the layout of a Hugging Face linear weight: (out_features, in_features).
 * Implementations are immutable and safe to share between threads.
 */
public interface Tensor {

    String name();

    DType dtype();

    /** A copy of the shape, as in the safetensors header. */
    long[] shape();

    long numel();

    int rows();

    int cols();

    /** Flat (row-major) element {@code index}, converted to fp32. */
    float get(long index);

    /** Writes the {@code cols()} elements of {@code row} as fp32 into {@code dst[dstOffset ...]}. */
    void readRow(int row, float[] dst, int dstOffset);

    /**
     * Writes rows [firstRow, firstRow + count) as bf16 (little-endian, row-major) at {@code dst}'s position and
     * advances it: what a device backend uploads. bf16 tensors are copied as they are; others are rounded to
     * the nearest bf16 (ties to even).
     */
    default void copyRowsAsBf16(int firstRow, int count, java.nio.ByteBuffer dst) {
        java.util.Objects.checkFromIndexSize(firstRow, count, rows());
        java.nio.ByteBuffer out = dst.order() == java.nio.ByteOrder.LITTLE_ENDIAN ? dst
                : dst.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        float[] row = new float[cols()];
        for (int r = firstRow; r < firstRow + count; r++) {
            readRow(r, row, 0);
            for (float v : row) {
                out.putShort(Half.floatToBf16(v));
            }
        }
        if (out != dst) {
            dst.position(out.position());
        }
    }

    /**
     * {@code sum_j W[row][j] * x[xOffset + j]} over the {@code cols()} columns, accumulated in fp32.
     * This is the inner loop of every matrix-vector product of the CPU engine.
     */
    float dotRow(int row, float[] x, int xOffset);

    /**
     * {@code out[outOffset + i] = dotRow(firstRow + i, x, xOffset)} for i in [0, count): a block of rows in
     * one call, so that checks and look-ups are paid once per block rather than once per row.
     */
    default void dotRows(int firstRow, int count, float[] x, int xOffset, float[] out, int outOffset) {
        java.util.Objects.checkFromIndexSize(outOffset, count, out.length);
        for (int i = 0; i < count; i++) {
            out[outOffset + i] = dotRow(firstRow + i, x, xOffset);
        }
    }
}
