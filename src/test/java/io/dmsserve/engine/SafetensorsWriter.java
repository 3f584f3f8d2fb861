package io.dmsserve.engine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Writes a .safetensors file from float arrays or generator functions, converting to each tensor's dtype
 * with round-to-nearest-even. Values are produced and written in blocks of {@value #BLOCK_BYTES} bytes, so
 * memory use does not grow with the file: the benchmark-model generator writes multi-GB checkpoints
 * with it. Tensors are laid out in the order they were added; the data starts 8-byte aligned, as the
 * reference implementation writes it.
 *
 * <pre>{@code
 * new SafetensorsWriter()
 *         .metadata("format", "pt")
 *         .add("model.norm.weight", DType.BF16, new long[] {8}, new float[] {1, 1, 1, 1, 1, 1, 1, 1})
 *         .add("model.embed_tokens.weight", DType.BF16, new long[] {16, 8}, i -> random.nextFloat() - 0.5f)
 *         .write(dir.resolve("model.safetensors"));
 * }</pre>
 */
public final class SafetensorsWriter {

    /** Produces element {@code index} (row-major). Called once per element in increasing order, so it may keep state. */
    @FunctionalInterface
    public interface Values {
        float at(long index);
    }

    static final int BLOCK_BYTES = 1 << 20;

    private record Pending(DType dtype, long[] shape, long numel, long begin, long end, Values values) {
    }

    private final Map<String, Pending> tensors = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private long dataBytes;

    /** Adds a {@code __metadata__} entry (string to string, as the format requires). */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
        return this;
    }

    public SafetensorsWriter add(String name, DType dtype, long[] shape, float[] values) {
        long numel = numel(shape);
        if (values.length != numel) {
            throw new IllegalArgumentException("tensor '" + name + "': " + values.length + " values for shape "
                    + TensorEntry.format(shape) + " (" + numel + " elements)");
        }
        return add(name, dtype, shape, i -> values[(int) i]);
    }

    public SafetensorsWriter add(String name, DType dtype, long[] shape, Values values) {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(values, "values");
        if (name == null || name.isEmpty() || name.equals(SafetensorsHeader.METADATA)) {
            throw new IllegalArgumentException("invalid tensor name: " + name);
        }
        if (tensors.containsKey(name)) {
            throw new IllegalArgumentException("tensor '" + name + "' added twice");
        }
        long numel = numel(shape);
        long bytes = Math.multiplyExact(numel, (long) dtype.byteSize());
        tensors.put(name, new Pending(dtype, shape.clone(), numel, dataBytes, dataBytes + bytes, values));
        dataBytes += bytes;
        return this;
    }

    /** Writes the file, replacing any file of that name; a partial file is deleted on failure. */
    public void write(Path file) {
        byte[] header = header();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            writeFully(ch, length);
            writeFully(ch, ByteBuffer.wrap(header));
            ByteBuffer block = ByteBuffer.allocateDirect(BLOCK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            for (Pending t : tensors.values()) {
                writeTensor(ch, block, t);
            }
            block.flip();
            writeFully(ch, block);
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            if (e instanceof IOException io) {
                throw new UncheckedIOException("cannot write " + file, io);
            }
            throw (RuntimeException) e;
        }
    }

    /** The JSON header, space-padded so that the data starts at a multiple of 8 bytes (without the length prefix). */
    byte[] header() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject(SafetensorsHeader.METADATA);
            metadata.forEach(meta::put);
        }
        tensors.forEach((name, t) -> {
            ObjectNode entry = root.putObject(name);
            entry.put("dtype", t.dtype().name());
            ArrayNode shape = entry.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            entry.putArray("data_offsets").add(t.begin()).add(t.end());
        });
        byte[] json = Json.MAPPER.writeValueAsBytes(root);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = new byte[padded];
        System.arraycopy(json, 0, out, 0, json.length);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /** Absolute file offset of the first byte of tensor {@code name}, for tests that patch files by hand. */
    long fileOffset(String name) {
        return 8L + header().length + tensors.get(name).begin();
    }

    private static void writeTensor(FileChannel ch, ByteBuffer block, Pending t) throws IOException {
        Values values = t.values();
        int size = t.dtype().byteSize();
        for (long i = 0; i < t.numel(); i++) {
            if (block.remaining() < size) {
                block.flip();
                writeFully(ch, block);
                block.clear();
            }
            float v = values.at(i);
            switch (t.dtype()) {
                case BF16 -> block.putShort(Half.floatToBf16(v));
                case F16 -> block.putShort(Half.floatToF16(v));
                case F32 -> block.putFloat(v);
            }
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

    private static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + TensorEntry.format(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }
}
