package io.dmsserve.engine.cuda;

import static io.dmsserve.engine.cuda.Checks.holds;
import static io.dmsserve.engine.cuda.Checks.holdsIfPresent;
import static io.dmsserve.engine.cuda.Checks.positive;
import static io.dmsserve.engine.cuda.Checks.require;

/** native/rmsnorm.cu: the residual add fused with RMSNorm (cpu/Ops.rmsNorm). */
final class RmsNormKernel {

    static final String NAME = "dms_rmsnorm_f32";
    static final String IMAGE_NAME = "dms_rmsnorm_image_f32";

    private final Kernel kernel;
    private final Kernel imageKernel;

    RmsNormKernel(CudaContext context) {
        this.kernel = context.kernel(NAME);
        this.imageKernel = context.kernel(IMAGE_NAME);
    }

    /**
     * For output row i of residual row r = rowIndex[i] (or i): x[r] += delta[r] when delta is given; then
     * out[i][j] = weight[j] * (x[r][j] / rms(x[r])).
     *
     * @param x fp32 (rows, hidden), the residual stream
     * @param delta fp32 (rows, hidden) or null
     * @param weight bf16 (hidden)
     * @param rowIndex int32 (n) or null; only the rows it names get delta added
     * @param out fp32 (n, hidden) or null
     * @param outBf16 bf16 (n, hidden) or null (at least one of out, outBf16)
     */
    void apply(DeviceBuffer x, DeviceBuffer delta, DeviceBuffer weight, DeviceBuffer rowIndex, int n, int rows,
            int hidden, float eps, DeviceBuffer out, DeviceBuffer outBf16) {
        positive(n, "n");
        positive(hidden, "hidden");
        require(rows >= (rowIndex == null ? n : 1), "rows (" + rows + ") must cover the rows read");
        require(eps >= 0, "eps must be >= 0");
        require(out != null || outBf16 != null, "rmsnorm needs out or outBf16");
        holds(x, (long) rows * hidden, 4, "x (rows, hidden) fp32");
        holdsIfPresent(delta, (long) rows * hidden, 4, "delta (rows, hidden) fp32");
        holds(weight, hidden, 2, "weight (hidden) bf16");
        holdsIfPresent(rowIndex, n, 4, "rowIndex (n) int32");
        holdsIfPresent(out, (long) n * hidden, 4, "out (n, hidden) fp32");
        holdsIfPresent(outBf16, (long) n * hidden, 2, "outBf16 (n, hidden) bf16");
        kernel.launch(n, 1, 1, block(n, hidden), 0, new KernelArgs().ptr(x).ptr(delta).ptr(weight).ptr(rowIndex)
                .i32(n).i32(hidden).f32(eps).ptr(out).ptr(outBf16));
    }

    /**
     * As {@link #apply} without rowIndex, out written as the tile image of a bulk-copy product's activations
     * (native/dms.cuh, act_image_at): split, or bf16 as outBf16 would hold them; the same bytes as the rows made into
     * an image by {@link MatMulKernel}'s tile launch, zeros past n and hidden included.
     *
     * @param image {@link MatMulKernel#activationImage}(n, hidden, split); hidden a multiple of 8
     */
    void applyToImage(DeviceBuffer x, DeviceBuffer delta, DeviceBuffer weight, int n, int hidden, float eps,
            DeviceBuffer image, boolean split) {
        positive(n, "n");
        require(MatMulKernel.tileable(hidden), "an activation image needs hidden a multiple of 8, got " + hidden);
        require(eps >= 0, "eps must be >= 0");
        holds(x, (long) n * hidden, 4, "x (n, hidden) fp32");
        holdsIfPresent(delta, (long) n * hidden, 4, "delta (n, hidden) fp32");
        holds(weight, hidden, 2, "weight (hidden) bf16");
        require(image != null && image.aligned(16), "the image must be given, 16-byte aligned");
        holds(image, MatMulKernel.imageBytes(n, hidden, MatMulKernel.WG_BM, split), 1, "the activations' image");
        // A block a row, the rows past n to the image's 128-row tile writing its zeros.
        imageKernel.launch(Checks.ceilDiv(n, MatMulKernel.WG_BM) * MatMulKernel.WG_BM, 1, 1, block(n, hidden), 0,
                new KernelArgs().ptr(x).ptr(delta).ptr(weight).i32(n).i32(hidden).f32(eps).ptr(image)
                        .i32(split ? 1 : 0));
    }

    /**
     * One row per block; fewer rows than a wave of blocks (a decode step) get 512 threads to shorten their latency:
     * at 16 rows of 4096, 2.68 µs a launch against 3.21 at 256 threads and 2.80 at 1024; one row 2.59 against 2.75 at
     * 1024 (small_bench, H200, 2026-11-30). native/rmsnorm.cu's rmsnorm_block is the same rule.
     */
    static int block(int n, int hidden) {
        int threads = n < 128 ? 512 : 256;
        int useful = (hidden / 4 + 31) / 32 * 32;
        return Math.max(32, Math.min(threads, useful));
    }
}
