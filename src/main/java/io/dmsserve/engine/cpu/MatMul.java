package io.dmsserve.engine.cpu;

import io.dmsserve.engine.Tensor;
import io.dmsserve.engine.simd.FloatKernels;
import io.dmsserve.engine.simd.Kernels;

/** out = x · Wᵀ for a memory-mapped weight W (rows = out features, cols = in features). */
final class MatMul {

    private static final int ROWS_PER_BLOCK = 16;
    /**
     * Multiply-adds a block must hold before it is worth handing to another thread: below that, waking a
     * worker costs more than the block (a hidden size of 64 gives blocks of 256 rows, most of such a model
     * runs inline; 1024 and up keeps blocks of 16 rows).
     */
    private static final int MIN_BLOCK_WORK = 16 * 1024;
    /** Weight rows converted to fp32 at a time in prefill; each of the batch's tokens then meets all of them. */
    private static final int ROW_GROUP = 4;

    private final Parallel parallel;
    private final FloatKernels kernels;
    private final ThreadLocal<float[]> rowBuffer = ThreadLocal.withInitial(() -> new float[0]);

    MatMul(Parallel parallel) {
        this.parallel = parallel;
        this.kernels = Kernels.get(); // here, so a bad dms.cpu.kernels value fails when the backend is built
    }

    /**
     * @param x (n, cols)
     * @param out (n, rows)
     */
    void apply(float[] x, int n, Tensor w, float[] out) {
        int rows = w.rows();
        int cols = w.cols();
        int minBlock = (int) Math.max(ROWS_PER_BLOCK, MIN_BLOCK_WORK / Math.max(1L, (long) cols * n));
        if (n == 1) {
            // Decode: stream each weight row once, straight from the mapped file.
            parallel.forRange(rows, minBlock, (from, to) -> w.dotRows(from, to - from, x, 0, out, from));
            return;
        }
        // Prefill: convert a few weight rows to fp32 at a time and reuse them for every token of the batch;
        // the kernel tiles rows by tokens so each loaded vector feeds several multiply-adds.
        parallel.forRange(rows, minBlock, (from, to) -> {
            float[] block = rowBuffer(ROW_GROUP * cols); // (ROW_GROUP, cols)
            for (int r = from; r < to; r += ROW_GROUP) {
                int count = Math.min(ROW_GROUP, to - r);
                for (int i = 0; i < count; i++) {
                    w.readRow(r + i, block, i * cols);
                }
                kernels.matmulBlock(block, count, x, n, cols, out, r, rows);
            }
        });
    }

    private float[] rowBuffer(int length) {
        float[] row = rowBuffer.get();
        if (row.length < length) {
            row = new float[length];
            rowBuffer.set(row);
        }
        return row;
    }
}
