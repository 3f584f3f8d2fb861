package io.dmsserve.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import java.io.IOException;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Mapped tensors through the kernels the process uses (the vector ones under the build's
 * --add-modules): rows long enough for every vector loop plus a tail, at an unaligned file offset.
 */
class TensorKernelsTest {

    @TempDir
    Path dir;

    /** Every non-NaN bit pattern of the 16-bit formats, read back exactly as {@link Half} decodes it. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void everySixteenBitValueReadsBackExactly(DType dtype) throws IOException {
        int rows = 64;
        int cols = 1024;
        float[] values = new float[rows * cols];
        for (int h = 0; h < values.length; h++) {
            float v = dtype == DType.F16 ? Half.f16ToFloat((short) h) : Half.bf16ToFloat((short) h);
            values[h] = Float.isNaN(v) ? 1f : v;
        }
        Tensor t = write(dtype, rows, cols, values);
        float[] row = new float[cols + 1];
        float[] ones = new float[cols];
        java.util.Arrays.fill(ones, 1f);
        for (int r = 0; r < rows; r++) {
            t.readRow(r, row, 1);
            for (int j = 0; j < cols; j++) {
                assertThat(Float.floatToRawIntBits(row[1 + j])).as("0x%04x", r * cols + j)
                        .isEqualTo(Float.floatToRawIntBits(values[r * cols + j]));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void longRowsMatchFloat64(DType dtype) throws IOException {
        int rows = 5;
        int cols = 1027; // 64 vectors of 16 and a tail of 3, or 128 of 8 and 3
        SplittableRandom random = new SplittableRandom(7);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            do {
                w[i] = (float) (random.nextDouble() * 4 - 2);
            } while (w[i] == 0);
        }
        Tensor t = write(dtype, rows, cols, w);
        float[] x = new float[cols + 2];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextDouble() * 2 - 1) + (i % 2 == 0 ? 0.5f : -0.5f);
        }
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            t.readRow(r, row, 0);
            double expected = 0;
            double scale = 0;
            for (int j = 0; j < cols; j++) {
                float stored = t.get((long) r * cols + j);
                assertThat(row[j]).isEqualTo(stored);
                expected += (double) stored * x[2 + j];
                scale += Math.abs((double) stored * x[2 + j]);
            }
            assertThat((double) t.dotRow(r, x, 2)).isCloseTo(expected, offset(1e-5 * scale));
        }
    }

    /** A block of rows that straddles mappings gives what one row at a time gives. */
    @ParameterizedTest
    @EnumSource(DType.class)
    void rowBlocksAcrossMappingsMatchSingleRows(DType dtype) throws IOException {
        int rows = 9;
        int cols = 37;
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (i % 11 - 5) / 4f + 0.125f;
        }
        Path file = dir.resolve("split.safetensors");
        new SafetensorsWriter().add("w", dtype, new long[] {rows, cols}, w).write(file);
        TensorEntry e = SafetensorsHeader.read(file).tensors.get(0);
        Tensor split;
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file)) {
            split = MappedTensor.map(ch, e, 2L * cols * dtype.byteSize() + 1); // two rows per mapping
        }
        float[] x = new float[cols + 1];
        for (int j = 0; j < x.length; j++) {
            x[j] = (j % 7 - 3) / 8f + 0.0625f;
        }
        float[] out = new float[rows + 2];
        java.util.Arrays.fill(out, Float.NaN);
        split.dotRows(1, 7, x, 1, out, 2);
        assertThat(out[0]).isNaN();
        assertThat(out[1]).isNaN();
        for (int i = 0; i < 7; i++) {
            assertThat(out[2 + i]).isEqualTo(split.dotRow(1 + i, x, 1));
        }
        assertThatThrownBy(() -> split.dotRows(3, 7, x, 1, out, 0)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> split.dotRows(0, 2, x, 2, out, 0)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> split.dotRows(0, 9, x, 1, out, 3)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    /** A tensor after a 3-element f16 one, so its bytes start at an offset that is not a multiple of 4. */
    private Tensor write(DType dtype, int rows, int cols, float[] values) throws IOException {
        Path file = dir.resolve(dtype + ".safetensors");
        new SafetensorsWriter().add("pad", DType.F16, new long[] {3}, new float[] {1, 2, 3})
                .add("w", dtype, new long[] {rows, cols}, values).write(file);
        return SafetensorsWriterTest.map(file).get("w");
    }
}
