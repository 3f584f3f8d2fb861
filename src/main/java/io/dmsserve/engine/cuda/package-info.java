/**
 * The low level of the CUDA backend (DESIGN.md §5): JCuda's driver API only, plain Java, no Spring.
 *
 * <ul>
 *   <li>{@link io.dmsserve.engine.cuda.CudaAvailability}: whether CUDA can be used here, as a list of reasons
 *       (empty = usable): no fatbin on the classpath (nvcc was not on the PATH at build time), no driver
 *       library, no device, a device too old. No exception, no stack trace.</li>
 *   <li>{@link io.dmsserve.engine.cuda.CudaContext}: the device's primary context, its properties, the kernels'
 *       module loaded from {@code /native/dms-kernels.fatbin}, one stream; errors become
 *       {@link io.dmsserve.engine.cuda.CudaException}s that name the call and the kernel.</li>
 *   <li>{@link io.dmsserve.engine.cuda.DeviceBuffer} (device memory, freed on close, with views) and
 *       {@link io.dmsserve.engine.cuda.PinnedBuffer} (page-locked host staging).</li>
 *   <li>One small launcher class per kernel file of {@code native/}, package-private, for the backend of this
 *       package: {@code EmbeddingKernel} (embedding.cu), {@code RmsNormKernel} (rmsnorm.cu),
 *       {@code QkNormRopeKernel} (qknorm_rope.cu), {@code MatMulKernel} (matmul.cu), {@code SwiGluKernel}
 *       (swiglu.cu), {@code KvWriteKernel} (kv_write.cu), {@code AttentionKernel} (attention.cu),
 *       {@code SamplingKernel} (sampling.cu), {@code PageTableKernel} (page_table.cu). Each checks shapes
 *       and buffer sizes before it launches, with the grid, block and shared memory that native/README.md
 *       gives for the kernel.</li>
 * </ul>
 *
 * <p>All calls of one context come from one thread (the engine thread), which the context is made current on.
 */
package io.dmsserve.engine.cuda;
