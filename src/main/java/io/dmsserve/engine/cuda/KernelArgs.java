package io.dmsserve.engine.cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
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

    // Each argument once: a buffer (null for a scalar or a null pointer) and a scalar's bits (8 bytes wide for f64).
    // JCuda's pointer objects are made from them only when JCuda launches (pointer()); PdlLaunch reads raw().
    private final List<DeviceBuffer> buffers = new ArrayList<>();
    private long[] raw = new long[16];
    private final BitSet wide = new BitSet();  // bit i: argument i takes 8 bytes (pointers, f64)
    private long[] signature = new long[32];
    private int length;

    KernelArgs ptr(DeviceBuffer buffer) {
        add(0, true, buffer);
        sign(buffer == null ? 0 : buffer.allocation());
        return sign(buffer == null ? 0 : buffer.offset());
    }

    KernelArgs i32(int value) {
        add(value, false, null);
        return sign(value);
    }

    KernelArgs f32(float value) {
        add(Float.floatToRawIntBits(value), false, null);
        return sign(Float.floatToRawIntBits(value));
    }

    KernelArgs f64(double value) {
        add(Double.doubleToRawLongBits(value), true, null);
        return sign(Double.doubleToRawLongBits(value));
    }

    private void add(long bits, boolean eightBytes, DeviceBuffer buffer) {
        int i = buffers.size();
        if (i == raw.length) {
            raw = Arrays.copyOf(raw, 2 * i);
        }
        raw[i] = bits;
        wide.set(i, eightBytes);
        buffers.add(buffer);
    }

    /** How many arguments. */
    int count() {
        return buffers.size();
    }

    /** Whether argument i takes 8 bytes (a pointer or a double); otherwise 4. */
    boolean wide(int i) {
        return wide.get(i);
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

    /** The arguments as JCuda's kernelParams: a pointer to each value (a device pointer, 4 or 8 bytes of bits). */
    Pointer pointer() {
        NativePointerObject[] values = new NativePointerObject[buffers.size()];
        for (int i = 0; i < values.length; i++) {
            DeviceBuffer buffer = buffers.get(i);
            values[i] = buffer != null ? Pointer.to(buffer.pointer())
                    : wide(i) ? Pointer.to(new long[] {raw[i]}) : Pointer.to(new int[] {(int) raw[i]});
        }
        return Pointer.to(values);
    }
}
