package io.dmsserve.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {

    @TempDir
    Path dir;

    @Test
    void writesKnownBytes() throws IOException {
        Path file = dir.resolve("t.safetensors");
        new SafetensorsWriter()
                .add("a", DType.BF16, new long[] {2}, new float[] {1.5f, -2.25f})
                .add("b", DType.F16, new long[] {1}, new float[] {1.5f})
                .add("c", DType.F32, new long[] {}, new float[] {0.1f})
                .write(file);
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int n = (int) b.getLong(0);
        assertThat(n % 8).as("data starts 8-byte aligned").isZero();
        String header = new String(b.array(), 8, n).strip();
        assertThat(header).isEqualTo("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[4,6]},"
                + "\"c\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[6,10]}}");
        int data = 8 + n;
        assertThat(b.getShort(data) & 0xFFFF).isEqualTo(0x3FC0);
        assertThat(b.getShort(data + 2) & 0xFFFF).isEqualTo(0xC010);
        assertThat(b.getShort(data + 4) & 0xFFFF).isEqualTo(0x3E00);
        assertThat(b.getFloat(data + 6)).isEqualTo(0.1f);
        assertThat(b.capacity()).isEqualTo(data + 10);
    }

    @Test
    void roundTripsThroughTheReader() throws IOException {
        Path file = dir.resolve("t.safetensors");
        float[] values = {1.5f, -2.25f, 0x1p-24f, 3 * 0x1p-25f, 65504f, -0f};
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        for (DType t : DType.values()) {
            w.add(t.name(), t, new long[] {2, 3}, values);
        }
        w.write(file);
        SafetensorsHeader header = SafetensorsHeader.read(file);
        assertThat(header.metadata).isEqualTo(Map.of("format", "pt"));
        Map<String, Tensor> tensors = map(file);
        // bf16 has the fp32 exponent range but 8 significant bits: 65504 rounds to 65536.
        assertThat(values(tensors.get("BF16"))).containsExactly(1.5f, -2.25f, 0x1p-24f, 3 * 0x1p-25f, 65536f, -0f);
        // f16: 1.5 * 2^-24 is a tie between subnormals 1 and 2 and goes to even; 65504 is the largest f16.
        assertThat(values(tensors.get("F16"))).containsExactly(1.5f, -2.25f, 0x1p-24f, 0x1p-23f, 65504f, -0f);
        assertThat(values(tensors.get("F32"))).containsExactly(values);
    }

    @Test
    void streamsGeneratedValuesInIndexOrderAcrossBlocks() throws IOException {
        Path file = dir.resolve("big.safetensors");
        long n = 3L * SafetensorsWriter.BLOCK_BYTES / 4 + 7; // 3 blocks of f32 and a bit
        AtomicLong next = new AtomicLong();
        new SafetensorsWriter().add("g", DType.F32, new long[] {n}, i -> {
            assertThat(i).isEqualTo(next.getAndIncrement());
            return i;
        }).write(file);
        assertThat(next.get()).isEqualTo(n);
        Tensor t = map(file).get("g");
        for (long i : new long[] {0, 1, n / 2, SafetensorsWriter.BLOCK_BYTES / 4, n - 1}) {
            assertThat(t.get(i)).isEqualTo((float) i);
        }
    }

    @Test
    void refusesBadInput() {
        SafetensorsWriter w = new SafetensorsWriter().add("a", DType.F32, new long[] {1}, new float[] {1});
        assertThatThrownBy(() -> w.add("a", DType.F32, new long[] {1}, new float[] {1}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("added twice");
        assertThatThrownBy(() -> w.add("b", DType.F32, new long[] {2}, new float[] {1}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1 values for shape [2]");
        assertThatThrownBy(() -> w.add("__metadata__", DType.F32, new long[] {1}, new float[] {1}))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void failedWriteLeavesNoFile() {
        Path file = dir.resolve("partial.safetensors");
        SafetensorsWriter w = new SafetensorsWriter().add("a", DType.F32, new long[] {4}, i -> {
            if (i == 2) {
                throw new IllegalStateException("generator failed");
            }
            return i;
        });
        assertThatThrownBy(() -> w.write(file)).hasMessage("generator failed");
        assertThat(file).doesNotExist();
    }

    static Map<String, Tensor> map(Path file) throws IOException {
        Map<String, Tensor> out = new HashMap<>();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            for (TensorEntry e : SafetensorsHeader.read(file).tensors) {
                out.put(e.name(), MappedTensor.map(ch, e, MappedTensor.MAX_CHUNK_BYTES));
            }
        }
        return out;
    }

    private static float[] values(Tensor t) {
        float[] v = new float[(int) t.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = t.get(i);
        }
        return v;
    }
}
