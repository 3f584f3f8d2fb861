package io.dmsserve.engine;

import java.util.Optional;

/** Element types of weight tensors that the engine reads; the names are those of the safetensors header. */
public enum DType {
    BF16(2),
    F16(2),
    F32(4);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    public int byteSize() {
        return byteSize;
    }

    /**
     * Maps a safetensors dtype string. This overload knows no file, so its message cannot name one; the
     * checkpoint reader uses {@link #lookup} and reports the file and tensor itself.
     */
    public static DType fromSafetensors(String s) {
        return lookup(s).orElseThrow(() -> new CheckpointException(
                "unsupported dtype " + quote(s) + " (supported: " + supportedList() + ")"));
    }

    static Optional<DType> lookup(String s) {
        for (DType t : values()) {
            if (t.name().equals(s)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    static String supportedList() {
        return "BF16, F16, F32";
    }

    private static String quote(String s) {
        return s == null ? "null" : "'" + s + "'";
    }
}
