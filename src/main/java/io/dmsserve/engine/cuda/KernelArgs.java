package io.dmsserve.engine.cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import jcuda.NativePointerObject;
import jcuda.Pointer;

/**
 * The parameter list of one launch, in the kernel's order: device pointers (null allowed) and scalars. It also
 * keeps a signature of the values (a buffer as its allocation number and offset, a scalar as its bits), so that
 * two launches with equal signatures read and write the same memory with the same scalars: what lets
 * {@link StepGraphs} replay a captured graph in place of a step's launches.
 */
final class KernelArgs {

    private static final long[] NULL = {0L};
    private final List<NativePointerObject> values = new ArrayList<>();
    // The same values as raw bits for PdlLaunch: a scalar's bits (8 bytes wide for f64), a buffer read when asked.
    private final List<DeviceBuffer> buffers = new ArrayList<>();
    private long[] raw = new long[16];
    private long wide;  // bit i: argument i takes 8 bytes (pointers, f64)
    private long[] signature = new long[32];
    private int length;

    KernelArgs ptr(DeviceBuffer buffer) {
        values.add(buffer == null ? Pointer.to(NULL) : Pointer.to(buffer.pointer()));
        raw(0, true, buffer);
        sign(buffer == null ? 0 : buffer.allocation());
        return sign(buffer == null ? 0 : buffer.offset());
    }

    KernelArgs i32(int value) {
        values.add(Pointer.to(new int[] {value}));
        raw(value, false, null);
        return sign(value);
    }

    KernelArgs f32(float value) {
        values.add(Pointer.to(new float[] {value}));
        raw(Float.floatToRawIntBits(value), false, null);
        return sign(Float.floatToRawIntBits(value));
    }

    KernelArgs f64(double value) {
        values.add(Pointer.to(new double[] {value}));
        raw(Double.doubleToRawLongBits(value), true, null);
        return sign(Double.doubleToRawLongBits(value));
    }

    private void raw(long bits, boolean eightBytes, DeviceBuffer buffer) {
        int i = buffers.size();
        if (i == raw.length) {
            raw = Arrays.copyOf(raw, 2 * i);
        }
        raw[i] = bits;
        if (eightBytes && i < 64) {
            wide |= 1L << i;
        }
        buffers.add(buffer);
    }

    /** How many arguments. */
    int count() {
        return buffers.size();
    }

    /** Whether argument i takes 8 bytes (a pointer or a double); otherwise 4. */
    boolean wide(int i) {
        return i < 64 && (wide >>> i & 1) != 0;
    }

    /** Argument i's bits: a buffer's device address (0 for null), a scalar's bits. */
    long raw(int i) {
        DeviceBuffer buffer = buffers.get(i);
        return buffer != null ? buffer.address() : raw[i];
    }

    private KernelArgs sign(long value) {
        if (length == signature.length) {
            signature = Arrays.copyOf(signature, 2 * length);
        }
        signature[length++] = value;
        return this;
    }

    /** The values' signature (a copy). */
    long[] signature() {
        return Arrays.copyOf(signature, length);
    }

    int signatureLength() {
        return length;
    }

    /** Writes {@link #signature()} into {@code target} from {@code at}, without a copy in between. */
    void copySignature(long[] target, int at) {
        System.arraycopy(signature, 0, target, at, length);
    }

    Pointer pointer() {
        return Pointer.to(values.toArray(new NativePointerObject[0]));
    }
}
