package io.dmsserve.engine.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

/**
 * Page-locked host memory (cuMemHostAlloc), the staging area of asynchronous copies: a step's inputs are
 * written here through {@link #buffer()} and go to the device in one copy.
 */
public final class PinnedBuffer implements AutoCloseable {

    private final Pointer pointer;
    private final long bytes;
    private final ByteBuffer buffer;
    private boolean closed;

    PinnedBuffer(Pointer pointer, long bytes) {
        this.pointer = pointer;
        this.bytes = bytes;
        this.buffer = pointer.getByteBuffer(0, bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    public long bytes() {
        return bytes;
    }

    /** The memory as a little-endian direct buffer (its position and limit are the caller's). */
    public ByteBuffer buffer() {
        if (closed) {
            throw new IllegalStateException("pinned buffer used after close");
        }
        return buffer;
    }

    Pointer pointer() {
        if (closed) {
            throw new IllegalStateException("pinned buffer used after close");
        }
        return pointer;
    }

    void range(long at, long length) {
        if (at < 0 || length < 0 || at + length > bytes) {
            throw new IndexOutOfBoundsException("bytes [" + at + ", " + (at + length) + ") of a pinned buffer of "
                    + bytes + " bytes");
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            JCudaDriver.cuMemFreeHost(pointer);
        }
    }
}
