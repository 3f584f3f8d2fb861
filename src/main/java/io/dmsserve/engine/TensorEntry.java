package io.dmsserve.engine;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * One tensor as a safetensors header describes it, already validated against its file.
 *
 * @param offset     absolute byte offset of the first element in {@code file}
 * @param byteLength numel * dtype size
 */
record TensorEntry(Path file, String name, DType dtype, long[] shape, long offset, long byteLength) {

    String fileName() {
        return file.getFileName().toString();
    }

    static String format(long[] shape) {
        return Arrays.toString(shape);
    }
}
