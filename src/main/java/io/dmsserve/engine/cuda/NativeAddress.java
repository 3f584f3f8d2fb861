package io.dmsserve.engine.cuda;

import java.lang.reflect.Method;
import jcuda.NativePointerObject;

/**
 * The address a JCuda object holds (a CUfunction, a CUstream, a device pointer), for the launches {@link PdlLaunch}
 * makes without JCuda. JCuda keeps it in a protected method; its classes are on the class path (an unnamed module,
 * open to reflection).
 */
final class NativeAddress {

    private static final Method NATIVE_POINTER;

    static {
        try {
            NATIVE_POINTER = NativePointerObject.class.getDeclaredMethod("getNativePointer");
            NATIVE_POINTER.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private NativeAddress() {
    }

    static long of(NativePointerObject object) {
        try {
            return (long) NATIVE_POINTER.invoke(object);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read the address JCuda holds in " + object, e);
        }
    }
}
