package io.dmsserve.engine.cuda;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodType;
import jdk.incubator.foreign.CLinker;
import jdk.incubator.foreign.FunctionDescriptor;
import jdk.incubator.foreign.MemoryAccess;
import jdk.incubator.foreign.MemoryAddress;
import jdk.incubator.foreign.MemorySegment;
import jdk.incubator.foreign.ResourceScope;
import jdk.incubator.foreign.SymbolLookup;

/**
 * Kernel launches with programmatic dependent launch: {@code cuLaunchKernelEx} with the attribute
 * {@code CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION}, so that a kernel may start while the one before it in
 * the stream drains, and copies its first weight tiles meanwhile (native/dms.cuh, pdl_trigger and pdl_wait, which
 * every kernel of the fatbin calls at its start; native/build.sh checks it). In a captured step the launches become
 * programmatic graph edges.
 *
 * <p>JCuda 12.6 has no {@code cuLaunchKernelEx}, so it is called through the JDK's foreign linker (Java 17:
 * {@code jdk.incubator.foreign}; the JVM needs {@code --add-modules=jdk.incubator.foreign} and
 * {@code --enable-native-access=ALL-UNNAMED}). The symbol is looked up in the libraries of this class loader: JCuda's
 * driver library, which links {@code libcuda.so.1}. This class is loaded only after CudaContext has found the module
 * (its code names the module's classes).
 *
 * <p>One launch at a time (the context's stream is used from one thread): the config, attribute, argument pointers
 * and values are one native block, rewritten each launch.
 */
final class PdlLaunch implements AutoCloseable {

    static final String MODULE = "jdk.incubator.foreign";

    private static final int ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;  // CUlaunchAttributeID (cuda.h)
    // CUlaunchConfig: gridDim x, y, z, blockDim x, y, z, sharedMemBytes (7 unsigned ints), hStream at 32, attrs at 40,
    // numAttrs at 48: 56 bytes. CUlaunchAttribute: id, 4 bytes of padding, a 64-byte value union: 72 bytes.
    private static final long CONFIG = 0;
    private static final long ATTRIBUTE = 64;
    private static final long POINTERS = ATTRIBUTE + 72;  // void* kernelParams[MAX_ARGS]
    private static final int MAX_ARGS = 64;
    private static final long VALUES = POINTERS + 8L * MAX_ARGS;  // 8 bytes an argument
    private static final long BYTES = VALUES + 8L * MAX_ARGS;

    private final MethodHandle launchKernelEx;
    private final ResourceScope scope;  // the native block's, closed with the context
    private final MemorySegment block;
    private final long blockAddress;

    private PdlLaunch(MethodHandle launchKernelEx) {
        this.launchKernelEx = launchKernelEx;
        this.scope = ResourceScope.newSharedScope();
        this.block = MemorySegment.allocateNative(BYTES, 16, scope);
        this.blockAddress = block.address().toRawLongValue();
        // What every launch shares: 1 x 1 of blockDim y and z, the one attribute and where it lies; the rest of the
        // attribute's value (and its padding) zero.
        block.fill((byte) 0);
        MemoryAccess.setIntAtOffset(block, CONFIG + 16, 1);
        MemoryAccess.setIntAtOffset(block, CONFIG + 20, 1);
        MemoryAccess.setLongAtOffset(block, CONFIG + 40, blockAddress + ATTRIBUTE);
        MemoryAccess.setIntAtOffset(block, CONFIG + 48, 1);
        MemoryAccess.setIntAtOffset(block, ATTRIBUTE, ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
        MemoryAccess.setIntAtOffset(block, ATTRIBUTE + 8, 1);  // programmaticStreamSerializationAllowed
    }

    /** Frees the native block (CudaContext.close). */
    @Override
    public synchronized void close() {
        if (scope.isAlive()) {
            scope.close();
        }
    }

    /**
     * The launcher, with JCuda's driver library loaded (any JCuda call loads it).
     *
     * @throws UnsupportedOperationException saying why not: no native access, or no cuLaunchKernelEx in the driver
     */
    static PdlLaunch open() {
        CLinker linker;
        try {
            linker = CLinker.getInstance();
        } catch (IllegalCallerException e) {
            throw new UnsupportedOperationException("the JVM was started without --enable-native-access=ALL-UNNAMED");
        }
        MemoryAddress symbol = SymbolLookup.loaderLookup().lookup("cuLaunchKernelEx")
                .orElseThrow(() -> new UnsupportedOperationException(
                        "the CUDA driver has no cuLaunchKernelEx (CUDA 12.0 or later is needed)"));
        MethodHandle handle = linker.downcallHandle(symbol,
                MethodType.methodType(int.class, MemoryAddress.class, MemoryAddress.class, MemoryAddress.class,
                        MemoryAddress.class),
                FunctionDescriptor.of(CLinker.C_INT, CLinker.C_POINTER, CLinker.C_POINTER, CLinker.C_POINTER,
                        CLinker.C_POINTER));
        return new PdlLaunch(handle);
    }

    /** cuLaunchKernelEx of {@code function} on {@code stream} with the programmatic attribute; the CUresult. */
    synchronized int launch(long function, int gridX, int gridY, int gridZ, int blockX, int sharedBytes, long stream,
            KernelArgs args) {
        int count = args.count();
        if (count > MAX_ARGS) {
            throw new IllegalArgumentException("a launch takes at most " + MAX_ARGS + " arguments, got " + count);
        }
        MemorySegment b = this.block;
        MemoryAccess.setIntAtOffset(b, CONFIG, gridX);
        MemoryAccess.setIntAtOffset(b, CONFIG + 4, gridY);
        MemoryAccess.setIntAtOffset(b, CONFIG + 8, gridZ);
        MemoryAccess.setIntAtOffset(b, CONFIG + 12, blockX);
        MemoryAccess.setIntAtOffset(b, CONFIG + 24, sharedBytes);
        MemoryAccess.setLongAtOffset(b, CONFIG + 32, stream);
        for (int i = 0; i < count; i++) {
            long value = VALUES + 8L * i;
            if (args.wide(i)) {
                MemoryAccess.setLongAtOffset(b, value, args.raw(i));
            } else {
                MemoryAccess.setIntAtOffset(b, value, (int) args.raw(i));
            }
            MemoryAccess.setLongAtOffset(b, POINTERS + 8L * i, blockAddress + value);
        }
        try {
            return (int) launchKernelEx.invokeExact(MemoryAddress.ofLong(blockAddress + CONFIG),
                    MemoryAddress.ofLong(function), MemoryAddress.ofLong(blockAddress + POINTERS), MemoryAddress.NULL);
        } catch (Throwable e) {
            throw new CudaException("cuLaunchKernelEx could not be called: " + e);
        }
    }
}
