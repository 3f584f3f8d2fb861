package io.dmsserve.engine.cuda;

import static io.dmsserve.engine.cuda.Checks.require;

/**
 * native/prefetch.cu: asks for a weight's bytes in L2 ahead of the product that reads them, without waiting for them
 * (a hint: no result changes; nothing off compute 9.0). The backend issues it for a layer's W_o just before the
 * decode attention, whose reads leave memory bandwidth idle ({@link CudaBackend#PREFETCH_WO_PROPERTY}).
 */
final class L2PrefetchKernel {

    static final String NAME = "dms_prefetch_l2";
    private static final long CHUNK = 16 * 1024;  // native DMS_PREFETCH_CHUNK: a thread's

    private final Kernel kernel;

    L2PrefetchKernel(CudaContext context) {
        this.kernel = context.kernel(NAME);
    }

    /** The whole of {@code bytes}: 16-byte aligned, a multiple of 16 bytes long. */
    void prefetch(DeviceBuffer bytes) {
        require(bytes.aligned(16) && bytes.bytes() > 0 && bytes.bytes() % 16 == 0,
                "a prefetch takes a 16-byte aligned buffer of a multiple of 16 bytes");
        long chunks = Checks.ceilDiv(bytes.bytes(), CHUNK);
        kernel.launch(Checks.ceilDiv(chunks, 32), 1, 1, 32, 0, new KernelArgs().ptr(bytes).i64(bytes.bytes()));
    }
}
