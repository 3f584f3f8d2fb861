package io.dmsserve.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tensors beyond the 2 GiB limit of one MappedByteBuffer, and a tensor that starts past 2 GiB in its file.
 * The file is sparse (setLength), so it takes no disk beyond the few pages written.
 */
class LargeTensorTest {

    private static final int ROWS = 40_000;
    private static final int COLS = 16_384; // 64 KiB rows; 2.6 GB in all

    @TempDir
    Path dir;

    @Test
    void readsAcrossMappingsAndPastTwoGibibytes() throws IOException {
        Path file = dir.resolve("large.safetensors");
        SafetensorsWriter layout = new SafetensorsWriter()
                .add("big", DType.F32, new long[] {ROWS, COLS}, i -> 0)
                .add("after", DType.F32, new long[] {3, 5}, i -> 0);
        byte[] header = layout.header();
        long bigStart = layout.fileOffset("big");
        long afterStart = layout.fileOffset("after");
        assertThat(afterStart).isGreaterThan(1L << 31);
        // A row-aligned mapping of rows of 65536 bytes holds 32767 rows: row 32767 opens the second buffer.
        int lastOfFirst = 32_766;
        int firstOfSecond = 32_767;
        try {
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(afterStart + 3 * 5 * 4);
                raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
                raf.write(header);
                putFloat(raf, bigStart, 0, 0, 1.25f);
                putFloat(raf, bigStart, lastOfFirst, COLS - 1, -2.5f);
                putFloat(raf, bigStart, firstOfSecond, 0, 3.75f);
                putFloat(raf, bigStart, firstOfSecond, 7, 0.5f);
                putFloat(raf, bigStart, ROWS - 1, COLS - 1, 42f);
                raf.seek(afterStart + (2 * 5 + 4) * 4);
                raf.write(floatBytes(-7f));
            }
            assertThat(Files.size(file)).isGreaterThan(Integer.MAX_VALUE);

            Map<String, Tensor> tensors = SafetensorsWriterTest.map(file);
            Tensor big = tensors.get("big");
            assertThat(big.numel() * 4).isGreaterThan(Integer.MAX_VALUE);
            assertThat(big.get(0)).isEqualTo(1.25f);
            assertThat(big.get((long) lastOfFirst * COLS + COLS - 1)).isEqualTo(-2.5f);
            assertThat(big.get((long) firstOfSecond * COLS)).isEqualTo(3.75f);
            assertThat(big.get((long) ROWS * COLS - 1)).isEqualTo(42f);

            float[] row = new float[COLS];
            big.readRow(firstOfSecond, row, 0);
            assertThat(row[0]).isEqualTo(3.75f);
            assertThat(row[7]).isEqualTo(0.5f);
            assertThat(row[1]).isZero();

            float[] x = new float[COLS];
            Arrays.fill(x, 2f);
            assertThat(big.dotRow(firstOfSecond, x, 0)).isEqualTo(2 * (3.75f + 0.5f));
            assertThat(big.dotRow(lastOfFirst, x, 0)).isEqualTo(2 * -2.5f);
            assertThat(big.dotRow(ROWS - 1, x, 0)).isEqualTo(84f);

            Tensor after = tensors.get("after");
            assertThat(after.get(14)).isEqualTo(-7f);
            assertThat(after.dotRow(2, new float[] {1, 1, 1, 1, 1}, 0)).isEqualTo(-7f);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static void putFloat(RandomAccessFile raf, long start, int row, int col, float v) throws IOException {
        raf.seek(start + ((long) row * COLS + col) * 4);
        raf.write(floatBytes(v));
    }

    private static byte[] floatBytes(float v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(v).array();
    }
}
