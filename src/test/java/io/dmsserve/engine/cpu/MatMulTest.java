package io.dmsserve.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import io.dmsserve.engine.DType;
import io.dmsserve.engine.Tensor;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Both paths of the matrix product (decode: one token, a dot product per weight row; prefill: blocks of
 * weight rows against all tokens) against float64, with odd sizes, one and two threads, and every output
 * element poisoned first.
 */
class MatMulTest {

    private static final Parallel ONE = new Parallel(1);
    private static final Parallel TWO = new Parallel(2);

    @AfterAll
    static void close() {
        ONE.close();
        TWO.close();
    }

    @Test
    void everyTokenCountMatchesFloat64() {
        SplittableRandom random = new SplittableRandom(8);
        for (int rows : new int[] {1, 3, 17, 70}) {
            for (int cols : new int[] {1, 5, 33, 131}) {
                ArrayTensor w = new ArrayTensor(rows, cols, random(rows * cols, random));
                for (int n = 1; n <= 9; n++) {
                    float[] x = random(n * cols, random);
                    for (Parallel parallel : new Parallel[] {ONE, TWO}) {
                        float[] out = new float[n * rows];
                        Arrays.fill(out, Float.NaN);
                        new MatMul(parallel).apply(x, n, w, out);
                        for (int i = 0; i < n; i++) {
                            for (int r = 0; r < rows; r++) {
                                double expected = 0;
                                double scale = 0;
                                for (int j = 0; j < cols; j++) {
                                    expected += (double) w.values[r * cols + j] * x[i * cols + j];
                                    scale += Math.abs((double) w.values[r * cols + j] * x[i * cols + j]);
                                }
                                assertThat((double) out[i * rows + r])
                                        .as("rows=%d cols=%d n=%d threads=%d token %d row %d", rows, cols, n,
                                                parallel.threads(), i, r)
                                        .isCloseTo(expected, offset(1e-5 * scale));
                            }
                        }
                    }
                }
            }
        }
    }

    private static float[] random(int n, SplittableRandom random) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            do {
                v[i] = (float) (random.nextDouble() * 4 - 2);
            } while (v[i] == 0);
        }
        return v;
    }

    /** An fp32 weight in memory, with the plain loops of the interface's contract. */
    private static final class ArrayTensor implements Tensor {
        final int rows;
        final int cols;
        final float[] values;

        ArrayTensor(int rows, int cols, float[] values) {
            this.rows = rows;
            this.cols = cols;
            this.values = values;
        }

        @Override
        public String name() {
            return "w";
        }

        @Override
        public DType dtype() {
            return DType.F32;
        }

        @Override
        public long[] shape() {
            return new long[] {rows, cols};
        }

        @Override
        public long numel() {
            return values.length;
        }

        @Override
        public int rows() {
            return rows;
        }

        @Override
        public int cols() {
            return cols;
        }

        @Override
        public float get(long index) {
            return values[(int) index];
        }

        @Override
        public void readRow(int row, float[] dst, int dstOffset) {
            System.arraycopy(values, row * cols, dst, dstOffset, cols);
        }

        @Override
        public float dotRow(int row, float[] x, int xOffset) {
            float sum = 0;
            for (int j = 0; j < cols; j++) {
                sum += values[row * cols + j] * x[xOffset + j];
            }
            return sum;
        }
    }
}
