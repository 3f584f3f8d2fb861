package io.dmsserve.engine;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectReader;

/**
 * The header of one .safetensors file: an 8-byte little-endian length N, N bytes of JSON
 * ({@code {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}}}), then the data,
 * with offsets relative to the byte after the header. Only the header is read into the heap; every
 * entry is checked against the file size so that a truncated download fails here, not in a matmul.
 */
final class SafetensorsHeader {

    /** The limit of the reference implementation (safetensors' Rust crate). */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA = "__metadata__";

    // The top level is walked by hand, to report a duplicate as a duplicate tensor by name (duplicates
    // inside an entry still fail while building its tree) and to read one entry at a time.
    private static final ObjectReader READER = Json.MAPPER.reader()
            .without(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .without(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .with(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);

    final Path file;
    final List<TensorEntry> tensors;
    final Map<String, String> metadata;

    private SafetensorsHeader(Path file, List<TensorEntry> tensors, Map<String, String> metadata) {
        this.file = file;
        this.tensors = List.copyOf(tensors);
        this.metadata = Map.copyOf(metadata);
    }

    static SafetensorsHeader read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(file, "not found in " + file.toAbsolutePath().getParent());
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new CheckpointException(file, "is " + size + " bytes long, too short for a safetensors header");
            }
            long n = readFully(ch, 0, 8).getLong(0);
            if (n < 0 || n > size - 8) {
                throw new CheckpointException(file, "header length " + Long.toUnsignedString(n)
                        + " does not fit in the file (" + size + " bytes); corrupt or not a safetensors file");
            }
            if (n > MAX_HEADER_BYTES) {
                throw new CheckpointException(file, "header length " + n + " exceeds the limit of " + MAX_HEADER_BYTES + " bytes");
            }
            byte[] json = new byte[(int) n];
            readFully(ch, 8, (int) n).get(json);
            return parse(file, json, 8 + n, size - 8 - n);
        } catch (IOException e) {
            throw new CheckpointException(file, "cannot be read (" + e + ")", e);
        }
    }

    private static ByteBuffer readFully(FileChannel ch, long position, int length) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (buf.hasRemaining()) {
            if (ch.read(buf, position + buf.position()) < 0) {
                throw new EOFException("end of file at byte " + (position + buf.position()));
            }
        }
        return buf.flip();
    }

    private static SafetensorsHeader parse(Path file, byte[] json, long dataStart, long dataSize) {
        List<TensorEntry> tensors = new ArrayList<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        Set<String> seen = new HashSet<>();
        String name = null; // the entry being read, for the error message
        try (JsonParser p = READER.createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new CheckpointException(file, "header is not a JSON object");
            }
            while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                name = p.currentName();
                p.nextToken();
                JsonNode value = READER.readTree(p);
                if (!seen.add(name)) {
                    throw new CheckpointException(file, "duplicate tensor '" + name + "' in the header");
                }
                if (name.equals(METADATA)) {
                    readMetadata(file, value, metadata);
                } else {
                    tensors.add(new EntryReader(file, name, dataStart, dataSize).read(value));
                }
                name = null;
            }
            if (p.nextToken() != null) {
                throw new CheckpointException(file, "header has content after its JSON object");
            }
        } catch (JacksonException e) {
            String where = name == null ? "" : " in the entry of tensor '" + name + "'";
            throw new CheckpointException(file, "header is not valid JSON" + where + " (" + Json.describe(e) + ")", e);
        }
        checkNoOverlap(file, tensors);
        return new SafetensorsHeader(file, tensors, metadata);
    }

    private static void readMetadata(Path file, JsonNode value, Map<String, String> into) {
        if (!value.isObject()) {
            throw new CheckpointException(file, "header field '" + METADATA + "' must be an object of strings");
        }
        value.properties().forEach(e -> {
            if (!e.getValue().isString()) {
                throw new CheckpointException(file, "header field '" + METADATA + "." + e.getKey() + "' must be a string");
            }
            into.put(e.getKey(), e.getValue().stringValue());
        });
    }

    /** Two tensors sharing bytes means a corrupt header; a read through one would see the other's data. */
    private static void checkNoOverlap(Path file, List<TensorEntry> tensors) {
        List<TensorEntry> byOffset = new ArrayList<>(tensors);
        byOffset.removeIf(t -> t.byteLength() == 0);
        byOffset.sort(Comparator.comparingLong(TensorEntry::offset));
        for (int i = 1; i < byOffset.size(); i++) {
            TensorEntry a = byOffset.get(i - 1);
            TensorEntry b = byOffset.get(i);
            if (b.offset() < a.offset() + a.byteLength()) {
                throw new CheckpointException(file, "tensors '" + a.name() + "' and '" + b.name() + "' overlap in data_offsets");
            }
        }
    }

    /** Validates one header entry; every message names the file and the tensor. */
    private record EntryReader(Path file, String name, long dataStart, long dataSize) {

        TensorEntry read(JsonNode v) {
            if (!v.isObject()) {
                throw fail("must be described by an object, found " + Json.kind(v));
            }
            DType dtype = dtype(v.get("dtype"));
            long[] shape = longs(v.get("shape"), "shape", -1);
            long[] offsets = longs(v.get("data_offsets"), "data_offsets", 2);
            long begin = offsets[0];
            long end = offsets[1];
            if (begin > end) {
                throw fail("has data_offsets [" + begin + ", " + end + "] that end before they begin");
            }
            long needed = byteLength(shape, dtype);
            if (end - begin != needed) {
                throw fail("has data_offsets [" + begin + ", " + end + "] spanning " + (end - begin)
                        + " bytes, but shape " + TensorEntry.format(shape) + " of " + dtype + " needs " + needed);
            }
            if (end > dataSize) {
                throw fail("needs data bytes [" + begin + ", " + end + ") but the file holds only " + dataSize
                        + " bytes of data after its header (truncated?)");
            }
            return new TensorEntry(file, name, dtype, shape, dataStart + begin, needed);
        }

        private DType dtype(JsonNode d) {
            if (d == null || !d.isString()) {
                throw fail("has no dtype string");
            }
            return DType.lookup(d.stringValue()).orElseThrow(() -> fail(
                    "has unsupported dtype " + d.stringValue() + " (supported: " + DType.supportedList() + ")"));
        }

        private long[] longs(JsonNode array, String field, int requiredLength) {
            if (array == null || !array.isArray() || (requiredLength >= 0 && array.size() != requiredLength)) {
                String what = requiredLength >= 0 ? "an array of " + requiredLength + " integers" : "an array of integers";
                throw fail("has " + field + " " + (array == null ? "missing" : array.toString()) + ", expected " + what);
            }
            long[] out = new long[array.size()];
            for (int i = 0; i < out.length; i++) {
                JsonNode x = array.get(i);
                if (!x.isIntegralNumber() || !x.canConvertToLong() || x.longValue() < 0) {
                    throw fail("has " + field + " " + array + " with an entry that is not a non-negative integer");
                }
                out[i] = x.longValue();
            }
            return out;
        }

        private long byteLength(long[] shape, DType dtype) {
            try {
                long n = dtype.byteSize();
                for (long d : shape) {
                    n = Math.multiplyExact(n, d);
                }
                return n;
            } catch (ArithmeticException e) {
                throw fail("has shape " + TensorEntry.format(shape) + " whose size overflows 64 bits");
            }
        }

        private CheckpointException fail(String detail) {
            return new CheckpointException(file, "tensor '" + name + "' " + detail);
        }
    }
}
