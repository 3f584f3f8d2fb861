package io.dmsserve.engine.cuda;

import java.nio.ByteBuffer;

/**
 * A step's small inputs (token ids, positions, slots, page-table deltas, thresholds, sampling parameters) packed
 * into one pinned buffer and sent to the device in one asynchronous copy; each part is then a view of the device
 * buffer, 16-byte aligned. Reused step after step: {@link #reset()}, put the arrays, {@link #upload()}.
 */
final class StepUpload implements AutoCloseable {

    private static final int ALIGN = 16;

    // Two host buffers, taken in turn: the copy of one step's inputs may still be queued (behind the step before)
    // while the host fills the next step's. The device buffer is one: the stream runs a step's reads before the
    // next step's copy.
    private final PinnedBuffer[] hosts = new PinnedBuffer[2];
    private final DeviceBuffer device;
    private PinnedBuffer host;
    private int used;

    StepUpload(CudaContext context, int capacityBytes) {
        try {
            hosts[0] = context.allocatePinned(capacityBytes);
            hosts[1] = context.allocatePinned(capacityBytes);
            this.device = context.allocate(capacityBytes);
        } catch (RuntimeException e) {
            for (PinnedBuffer h : hosts) {
                if (h != null) {
                    h.close();
                }
            }
            throw e;
        }
        host = hosts[1];
    }

    /** Starts a step's inputs, in the other host buffer than the step before's. */
    void reset() {
        used = 0;
        host = host == hosts[0] ? hosts[1] : hosts[0];
    }

    /** Where a part lies in the buffer. */
    record Part(int offset, int bytes) {
    }

    Part put(int[] values) {
        Part part = reserve(values.length * 4);
        host.buffer().duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN).position(part.offset()).asIntBuffer()
                .put(values);
        return part;
    }

    Part put(float[] values) {
        Part part = reserve(values.length * 4);
        host.buffer().duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN).position(part.offset()).asFloatBuffer()
                .put(values);
        return part;
    }

    Part put(byte[] values) {
        Part part = reserve(values.length);
        ByteBuffer b = host.buffer().duplicate();
        b.position(part.offset());
        b.put(values);
        return part;
    }

    private Part reserve(int bytes) {
        int offset = (used + ALIGN - 1) / ALIGN * ALIGN;
        if ((long) offset + bytes > host.bytes()) {
            throw new IllegalStateException("step upload of " + host.bytes() + " bytes is full (" + offset + " used, "
                    + bytes + " more asked)");
        }
        used = offset + bytes;
        return new Part(offset, bytes);
    }

    /** Queues the copy of everything put since {@link #reset()}. */
    void upload() {
        if (used > 0) {
            device.copyFromAsync(host, 0, 0, used);
        }
    }

    /** The device view of a part (valid after {@link #upload()} has run on the stream). */
    DeviceBuffer view(Part part) {
        return device.slice(part.offset(), part.bytes());
    }

    @Override
    public void close() {
        device.close();
        hosts[0].close();
        hosts[1].close();
    }
}
