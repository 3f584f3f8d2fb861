package io.dmsserve.engine;

import java.nio.file.Path;

/**
 * A checkpoint that cannot be served as it is. The message names the file (relative to the checkpoint
 * directory) and the tensor or field at fault, so that an operator can fix the checkpoint without a
 * debugger; the cause, when there is one, is kept for logs but never becomes the message.
 */
public final class CheckpointException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }

    /** {@code "<file name>: <detail>"}. */
    public CheckpointException(Path file, String detail) {
        super(prefix(file) + detail);
    }

    public CheckpointException(Path file, String detail, Throwable cause) {
        super(prefix(file) + detail, cause);
    }

    private static String prefix(Path file) {
        Path name = file.getFileName();
        return (name == null ? file.toString() : name.toString()) + ": ";
    }
}
