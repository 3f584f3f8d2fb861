package io.dmsserve.engine.cuda;

import java.util.concurrent.atomic.AtomicLong;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/**
 * Device memory: an allocation (freed on close) or a view of part of one (closing a view does nothing).
 * Synchronous copies wait for the work queued before them on the context's stream; the asynchronous ones
 * are queued on it.
 */
public final class DeviceBuffer implements AutoCloseable {

    private final CudaContext context;
    private static final AtomicLong ALLOCATIONS = new AtomicLong();

    private final CUdeviceptr base;   // the allocation
    private final long allocation;    // its number, never reused: a graph's launches name buffers by it
    private final long offset;        // of this buffer in the allocation
    private final long bytes;
    private final boolean owner;
    private boolean closed;
    private long baseAddress;         // of the allocation, read from base when first asked (0: not yet)

    DeviceBuffer(CudaContext context, CUdeviceptr base, long bytes) {
        this(context, base, ALLOCATIONS.incrementAndGet(), 0, bytes, true);
    }

    private DeviceBuffer(CudaContext context, CUdeviceptr base, long allocation, long offset, long bytes,
            boolean owner) {
        this.context = context;
        this.base = base;
        this.allocation = allocation;
        this.offset = offset;
        this.bytes = bytes;
        this.owner = owner;
    }

    public long bytes() {
        return bytes;
    }

    /** Offset from the start of the allocation (allocations are 256-byte aligned). */
    long offset() {
        return offset;
    }

    /**
     * The allocation's number (unique for the process, never reused after a free): with {@link #offset()} it
     * names the device address in a launch's signature, so a recorded graph never matches a freed buffer.
     */
    long allocation() {
        return allocation;
    }

    /** Whether the device address is a multiple of {@code alignment} (a power of two up to 256). */
    boolean aligned(int alignment) {
        return offset % alignment == 0;
    }

    /** The device address of this buffer's first byte (for launches made without JCuda: PdlLaunch). */
    long address() {
        if (closed) {
            throw new IllegalStateException("device buffer used after close");
        }
        if (baseAddress == 0) {
            baseAddress = NativeAddress.of(base);  // by reflection, once: the allocation never moves
        }
        return baseAddress + offset;
    }

    CUdeviceptr pointer() {
        if (closed) {
            throw new IllegalStateException("device buffer used after close");
        }
        return offset == 0 ? base : base.withByteOffset(offset);
    }

    /** A view of {@code length} bytes from {@code start}; valid while this buffer is open. */
    public DeviceBuffer slice(long start, long length) {
        if (start < 0 || length < 0 || start + length > bytes) {
            throw new IndexOutOfBoundsException("slice [" + start + ", " + (start + length) + ") of a buffer of "
                    + bytes + " bytes");
        }
        return new DeviceBuffer(context, base, allocation, offset + start, length, false);
    }

    public void copyFrom(float[] values) {
        copyIn(Pointer.to(values), (long) values.length * Float.BYTES);
    }

    public void copyFrom(int[] values) {
        copyIn(Pointer.to(values), (long) values.length * Integer.BYTES);
    }

    public void copyFrom(short[] values) {
        copyIn(Pointer.to(values), (long) values.length * Short.BYTES);
    }

    public void copyFrom(byte[] values) {
        copyIn(Pointer.to(values), values.length);
    }

    public void copyTo(float[] values) {
        copyOut(Pointer.to(values), (long) values.length * Float.BYTES);
    }

    public void copyTo(int[] values) {
        copyOut(Pointer.to(values), (long) values.length * Integer.BYTES);
    }

    public void copyTo(short[] values) {
        copyOut(Pointer.to(values), (long) values.length * Short.BYTES);
    }

    public void copyTo(byte[] values) {
        copyOut(Pointer.to(values), values.length);
    }

    public float[] toFloats() {
        float[] values = new float[Math.toIntExact(bytes / Float.BYTES)];
        copyTo(values);
        return values;
    }

    public int[] toInts() {
        int[] values = new int[Math.toIntExact(bytes / Integer.BYTES)];
        copyTo(values);
        return values;
    }

    public short[] toShorts() {
        short[] values = new short[Math.toIntExact(bytes / Short.BYTES)];
        copyTo(values);
        return values;
    }

    public byte[] toBytes() {
        byte[] values = new byte[Math.toIntExact(bytes)];
        copyTo(values);
        return values;
    }

    /** Every byte set to {@code value} (0xff gives NaN as fp32 and bf16, -1 as int32). */
    public void fill(int value) {
        context.synchronize();
        CudaContext.check(JCudaDriver.cuMemsetD8(pointer(), (byte) value, bytes), "cuMemsetD8(" + bytes + " bytes)");
    }

    /** Queues a copy of {@code length} bytes from {@code source} at {@code sourceOffset} to {@code at}. */
    public void copyFromAsync(PinnedBuffer source, long sourceOffset, long at, long length) {
        range(at, length);
        source.range(sourceOffset, length);
        CudaContext.check(JCudaDriver.cuMemcpyHtoDAsync(pointer().withByteOffset(at),
                source.pointer().withByteOffset(sourceOffset), length, context.stream()),
                "cuMemcpyHtoDAsync(" + length + " bytes)");
    }

    /** Queues a copy of {@code length} bytes of another device buffer, from {@code sourceOffset}, to {@code at}. */
    public void copyFromAsync(DeviceBuffer source, long sourceOffset, long at, long length) {
        range(at, length);
        source.range(sourceOffset, length);
        CudaContext.check(JCudaDriver.cuMemcpyDtoDAsync(pointer().withByteOffset(at),
                source.pointer().withByteOffset(sourceOffset), length, context.stream()),
                "cuMemcpyDtoDAsync(" + length + " bytes)");
    }

    /** Queues a copy of {@code length} bytes from {@code at} to {@code target} at {@code targetOffset}. */
    public void copyToAsync(long at, PinnedBuffer target, long targetOffset, long length) {
        range(at, length);
        target.range(targetOffset, length);
        CudaContext.check(JCudaDriver.cuMemcpyDtoHAsync(target.pointer().withByteOffset(targetOffset),
                pointer().withByteOffset(at), length, context.stream()), "cuMemcpyDtoHAsync(" + length + " bytes)");
    }

    private void copyIn(Pointer source, long length) {
        range(0, length);
        context.synchronize();
        CudaContext.check(JCudaDriver.cuMemcpyHtoD(pointer(), source, length), "cuMemcpyHtoD(" + length + " bytes)");
    }

    private void copyOut(Pointer target, long length) {
        range(0, length);
        context.synchronize();
        CudaContext.check(JCudaDriver.cuMemcpyDtoH(target, pointer(), length), "cuMemcpyDtoH(" + length + " bytes)");
    }

    private void range(long at, long length) {
        if (at < 0 || length < 0 || at + length > bytes) {
            throw new IndexOutOfBoundsException("bytes [" + at + ", " + (at + length) + ") of a device buffer of "
                    + bytes + " bytes");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (owner && !context.closed()) {
            JCudaDriver.cuMemFree(base);
        }
    }

    @Override
    public String toString() {
        return "DeviceBuffer[" + bytes + " bytes" + (owner ? "" : ", view at " + offset) + "]";
    }
}
