package io.dmsserve.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class TensorTest {

    @TempDir
    Path dir;

    /** Odd sizes so the 4-wide loop has a tail; random non-zero values so a misplaced element shows. */
    @ParameterizedTest
    @EnumSource(DType.class)
    void dotRowAndReadRowMatchANaiveDoubleComputation(DType dtype) throws IOException {
        int rows = 7;
        int cols = 37;
        float[] w = random(rows * cols, 1);
        Path file = dir.resolve("w.safetensors");
        new SafetensorsWriter().add("pad", DType.F16, new long[] {3}, new float[] {1, 2, 3}) // unaligned start
                .add("w", dtype, new long[] {rows, cols}, w).write(file);
        Tensor t = SafetensorsWriterTest.map(file).get("w");
        assertThat(t.rows()).isEqualTo(rows);
        assertThat(t.cols()).isEqualTo(cols);
        assertThat(t.numel()).isEqualTo(rows * cols);

        float[] x = random(cols + 5, 2);
        float[] row = new float[cols + 3];
        for (int r = 0; r < rows; r++) {
            t.readRow(r, row, 3);
            double expected = 0;
            double scale = 0;
            for (int j = 0; j < cols; j++) {
                float stored = t.get((long) r * cols + j);
                assertThat(stored).isEqualTo(rounded(dtype, w[r * cols + j]));
                assertThat(row[3 + j]).isEqualTo(stored);
                expected += (double) stored * x[5 + j];
                scale += Math.abs((double) stored * x[5 + j]);
            }
            assertThat((double) t.dotRow(r, x, 5)).isCloseTo(expected, offset(1e-5 * scale));
        }
    }

    /**
     * The bytes a device backend uploads: bf16 tensors as stored (across mappings of three rows each), others
     * rounded to the nearest bf16 (ties to even), checked against the fp32 value of each element.
     */
    @ParameterizedTest
    @EnumSource(DType.class)
    void rowsCopyAsBf16AcrossMappings(DType dtype) throws IOException {
        int rows = 7;
        int cols = 5;
        Path file = dir.resolve("c.safetensors");
        new SafetensorsWriter().add("w", dtype, new long[] {rows, cols}, random(rows * cols, 3)).write(file);
        Tensor t;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            TensorEntry e = SafetensorsHeader.read(file).tensors.get(0);
            t = MappedTensor.map(ch, e, 3L * cols * dtype.byteSize());
        }
        java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(5 * cols * 2 + 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        out.putShort((short) 0x7777);
        t.copyRowsAsBf16(1, 5, out);
        assertThat(out.position()).isEqualTo(2 + 5 * cols * 2);
        for (int r = 1; r < 6; r++) {
            for (int j = 0; j < cols; j++) {
                float value = t.get((long) r * cols + j);
                short bits = out.getShort(2 + ((r - 1) * cols + j) * 2);
                float back = Float.intBitsToFloat(bits << 16);
                // The nearest bf16: no other bf16 lies closer to the value (ties: the even one).
                float up = Float.intBitsToFloat((bits + 1) << 16);
                float down = Float.intBitsToFloat((bits - 1) << 16);
                assertThat(Math.abs(back - value)).as("row %d col %d", r, j)
                        .isLessThanOrEqualTo(Math.min(Math.abs(up - value), Math.abs(down - value)));
                if (dtype == DType.BF16) {
                    assertThat(back).isEqualTo(value);
                }
            }
        }
        assertThat(out.getShort(0)).as("nothing written before the position").isEqualTo((short) 0x7777);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void oneDimensionalTensorIsOneRow(DType dtype) throws IOException {
        Path file = dir.resolve("v.safetensors");
        new SafetensorsWriter().add("v", dtype, new long[] {5}, new float[] {1, 2, 3, 4, 5}).write(file);
        Tensor t = SafetensorsWriterTest.map(file).get("v");
        assertThat(t.rows()).isEqualTo(1);
        assertThat(t.cols()).isEqualTo(5);
        assertThat(t.dotRow(0, new float[] {1, 1, 1, 1, 1}, 0)).isEqualTo(15f);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void threeDimensionalTensorFlattensTrailingDimensions(DType dtype) throws IOException {
        Path file = dir.resolve("c.safetensors");
        new SafetensorsWriter().add("c", dtype, new long[] {2, 3, 4}, i -> i).write(file);
        Tensor t = SafetensorsWriterTest.map(file).get("c");
        assertThat(t.rows()).isEqualTo(2);
        assertThat(t.cols()).isEqualTo(12);
        float[] row = new float[12];
        t.readRow(1, row, 0);
        assertThat(row[0]).isEqualTo(12f);
        assertThat(row[11]).isEqualTo(23f);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void rowsSplitOverSeveralMappingsReadTheSame(DType dtype) throws IOException {
        int rows = 9;
        int cols = 6;
        float[] w = random(rows * cols, 3);
        Path file = dir.resolve("s.safetensors");
        new SafetensorsWriter().add("w", dtype, new long[] {rows, cols}, w).write(file);
        TensorEntry e = SafetensorsHeader.read(file).tensors.get(0);
        Tensor whole;
        Tensor split;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            whole = MappedTensor.map(ch, e, MappedTensor.MAX_CHUNK_BYTES);
            split = MappedTensor.map(ch, e, 2L * cols * dtype.byteSize() + 1); // two rows per mapping
        }
        float[] x = random(cols, 4);
        for (int r = 0; r < rows; r++) {
            assertThat(split.dotRow(r, x, 0)).isEqualTo(whole.dotRow(r, x, 0));
        }
        for (long i = 0; i < whole.numel(); i++) {
            assertThat(split.get(i)).isEqualTo(whole.get(i));
        }
        assertThatThrownBy(() -> split.dotRow(rows, x, 0)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> split.get(rows * cols)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> split.dotRow(0, x, 1)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    private static float rounded(DType dtype, float v) {
        return switch (dtype) {
            case BF16 -> Half.bf16ToFloat(Half.floatToBf16(v));
            case F16 -> Half.f16ToFloat(Half.floatToF16(v));
            case F32 -> v;
        };
    }

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            do {
                v[i] = (float) (r.nextDouble() * 4 - 2);
            } while (v[i] == 0);
        }
        return v;
    }
}
