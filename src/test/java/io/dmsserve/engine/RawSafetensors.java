package io.dmsserve.engine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.UnaryOperator;

/** Byte-level surgery on safetensors files, to produce the defects SafetensorsWriter refuses to write. */
final class RawSafetensors {

    private RawSafetensors() {
    }

    static void write(Path file, long headerLength, byte[] header, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLength).put(header).put(data);
        try {
            Files.write(file, b.array());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void write(Path file, String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        write(file, h.length, h, data);
    }

    /** Rewrites the JSON header of {@code file}, keeping its data bytes. */
    static void editHeader(Path file, UnaryOperator<String> edit) {
        try {
            byte[] all = Files.readAllBytes(file);
            int n = (int) ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            String header = new String(all, 8, n, StandardCharsets.UTF_8);
            String edited = edit.apply(header);
            if (edited.equals(header)) {
                throw new IllegalStateException("edit changed nothing in " + header);
            }
            write(file, edited, Arrays.copyOfRange(all, 8 + n, all.length));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Cuts {@code bytes} bytes off the end of the file. */
    static void truncate(Path file, int bytes) {
        try {
            byte[] all = Files.readAllBytes(file);
            Files.write(file, Arrays.copyOf(all, all.length - bytes));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
