package io.dmsserve.engine.cuda;

/** Argument checks of the kernel launchers: the message names the argument and its expected shape. */
final class Checks {

    private Checks() {
    }

    static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }

    static void positive(int value, String name) {
        require(value > 0, name + " must be positive, got " + value);
    }

    /** The buffer holds at least {@code elements} elements of {@code elementBytes} bytes each. */
    static void holds(DeviceBuffer buffer, long elements, int elementBytes, String what) {
        require(buffer != null, what + " is required");
        long needed = elements * elementBytes;
        require(buffer.bytes() >= needed, what + " needs " + needed + " bytes (" + elements
                + " elements), the buffer has " + buffer.bytes());
    }

    /** As {@link #holds}, when the buffer is given. */
    static void holdsIfPresent(DeviceBuffer buffer, long elements, int elementBytes, String what) {
        if (buffer != null) {
            holds(buffer, elements, elementBytes, what);
        }
    }

    /** Rows of {@code stride} elements, the last one {@code width} wide. */
    static long rows(int rows, int stride, int width) {
        return rows == 0 ? 0 : (long) (rows - 1) * stride + width;
    }

    static int ceilDiv(long a, long b) {
        return Math.toIntExact((a + b - 1) / b);
    }
}
