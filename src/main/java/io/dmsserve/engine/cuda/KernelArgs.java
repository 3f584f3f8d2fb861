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
    private long[] signature = new long[32];
    private int length;

    KernelArgs ptr(DeviceBuffer buffer) {
        values.add(buffer == null ? Pointer.to(NULL) : Pointer.to(buffer.pointer()));
        sign(buffer == null ? 0 : buffer.allocation());
        return sign(buffer == null ? 0 : buffer.offset());
    }

    KernelArgs i32(int value) {
        values.add(Pointer.to(new int[] {value}));
        return sign(value);
    }

    KernelArgs f32(float value) {
        values.add(Pointer.to(new float[] {value}));
        return sign(Float.floatToRawIntBits(value));
    }

    KernelArgs f64(double value) {
        values.add(Pointer.to(new double[] {value}));
        return sign(Double.doubleToRawLongBits(value));
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
