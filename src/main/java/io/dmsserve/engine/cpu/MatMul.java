package io.dmsserve.engine.cpu;

import io.dmsserve.engine.Tensor;

/** out = x · Wᵀ for a memory-mapped weight W (rows = out features, cols = in features). */
final class MatMul {

    private static final int ROWS_PER_BLOCK = 16;

    private final Parallel parallel;
    private final ThreadLocal<float[]> rowBuffer = ThreadLocal.withInitial(() -> new float[0]);

    MatMul(Parallel parallel) {
        this.parallel = parallel;
    }

    /**
     * @param x (n, cols)
     * @param out (n, rows)
     */
    void apply(float[] x, int n, Tensor w, float[] out) {
        int rows = w.rows();
        int cols = w.cols();
        if (n == 1) {
            // Decode: stream each weight row once, straight from the mapped file.
            parallel.forRange(rows, ROWS_PER_BLOCK, (from, to) -> {
                for (int r = from; r < to; r++) {
                    out[r] = w.dotRow(r, x, 0);
                }
            });
            return;
        }
        // Prefill: convert each weight row to fp32 once and reuse it for every token of the batch.
        parallel.forRange(rows, ROWS_PER_BLOCK, (from, to) -> {
            float[] row = rowBuffer(cols);
            for (int r = from; r < to; r++) {
                w.readRow(r, row, 0);
                for (int i = 0; i < n; i++) {
                    out[i * rows + r] = dot(row, x, i * cols, cols);
                }
            }
        });
    }

    private float[] rowBuffer(int cols) {
        float[] row = rowBuffer.get();
        if (row.length < cols) {
            row = new float[cols];
            rowBuffer.set(row);
        }
        return row;
    }

    static float dot(float[] a, float[] b, int bOffset, int length) {
        // Four independent sums let the CPU overlap the multiply-adds.
        float s0 = 0;
        float s1 = 0;
        float s2 = 0;
        float s3 = 0;
        int j = 0;
        for (; j + 3 < length; j += 4) {
            s0 += a[j] * b[bOffset + j];
            s1 += a[j + 1] * b[bOffset + j + 1];
            s2 += a[j + 2] * b[bOffset + j + 2];
            s3 += a[j + 3] * b[bOffset + j + 3];
        }
        for (; j < length; j++) {
            s0 += a[j] * b[bOffset + j];
        }
        return (s0 + s1) + (s2 + s3);
    }

    static float dot(float[] a, int aOffset, float[] b, int bOffset, int length) {
        float s0 = 0;
        float s1 = 0;
        float s2 = 0;
        float s3 = 0;
        int j = 0;
        for (; j + 3 < length; j += 4) {
            s0 += a[aOffset + j] * b[bOffset + j];
            s1 += a[aOffset + j + 1] * b[bOffset + j + 1];
            s2 += a[aOffset + j + 2] * b[bOffset + j + 2];
            s3 += a[aOffset + j + 3] * b[bOffset + j + 3];
        }
        for (; j < length; j++) {
            s0 += a[aOffset + j] * b[bOffset + j];
        }
        return (s0 + s1) + (s2 + s3);
    }
}
