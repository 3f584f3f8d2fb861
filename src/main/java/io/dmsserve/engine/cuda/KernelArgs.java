package io.dmsserve.engine.cuda;

import java.util.ArrayList;
import java.util.List;
import jcuda.NativePointerObject;
import jcuda.Pointer;

/** The parameter list of one launch, in the kernel's order: device pointers (null allowed) and scalars. */
final class KernelArgs {

    private static final long[] NULL = {0L};
    private final List<NativePointerObject> values = new ArrayList<>();

    KernelArgs ptr(DeviceBuffer buffer) {
        values.add(buffer == null ? Pointer.to(NULL) : Pointer.to(buffer.pointer()));
        return this;
    }

    KernelArgs i32(int value) {
        values.add(Pointer.to(new int[] {value}));
        return this;
    }

    KernelArgs f32(float value) {
        values.add(Pointer.to(new float[] {value}));
        return this;
    }

    KernelArgs f64(double value) {
        values.add(Pointer.to(new double[] {value}));
        return this;
    }

    Pointer pointer() {
        return Pointer.to(values.toArray(new NativePointerObject[0]));
    }
}
