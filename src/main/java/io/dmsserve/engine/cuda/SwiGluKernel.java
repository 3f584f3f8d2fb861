package io.dmsserve.engine.cuda;

import static io.dmsserve.engine.cuda.Checks.holds;
import static io.dmsserve.engine.cuda.Checks.positive;
import static io.dmsserve.engine.cuda.Checks.require;

/** native/swiglu.cu: gate = silu(gate) * up (cpu/Ops.swiglu). */
final class SwiGluKernel {

    static final String NAME = "dms_swiglu_f32";
    static final String IMAGE_NAME = "dms_swiglu_image_f32";
    private static final int BLOCK = 256;
    private static final int MAX_GRID_Y = 65535;

    private final Kernel kernel;
    private final Kernel imageKernel;

    SwiGluKernel(CudaContext context) {
        this.kernel = context.kernel(NAME);
        this.imageKernel = context.kernel(IMAGE_NAME);
    }

    /**
     * out[t][j] = silu(gate[t][j]) * up[t][j] (silu in double, as Ops.swiglu). With the fused gate|up product
     * (n, 2 * inter): up = a slice inter floats in, both strides 2 * inter. out may be gate (in place).
     *
     * @param out fp32 rows of stride ldOut, or null
     * @param outBf16 bf16 rows of stride ldOutBf16, or null: the A operand of the tensor-core w2 product
     */
    void apply(DeviceBuffer gate, int ldGate, DeviceBuffer up, int ldUp, DeviceBuffer out, int ldOut,
            DeviceBuffer outBf16, int ldOutBf16, int n, int inter) {
        positive(n, "n");
        positive(inter, "inter");
        require(out != null || outBf16 != null, "swiglu needs out or outBf16");
        require(ldGate >= inter && ldUp >= inter, "gate/up strides must be >= inter");
        holds(gate, Checks.rows(n, ldGate, inter), 4, "gate (n, inter) fp32");
        holds(up, Checks.rows(n, ldUp, inter), 4, "up (n, inter) fp32");
        if (out != null) {
            require(ldOut >= inter, "ldOut must be >= inter");
            holds(out, Checks.rows(n, ldOut, inter), 4, "out (n, inter) fp32");
        }
        if (outBf16 != null) {
            require(ldOutBf16 >= inter, "ldOutBf16 must be >= inter");
            holds(outBf16, Checks.rows(n, ldOutBf16, inter), 2, "outBf16 (n, inter) bf16");
        }
        // Four features a thread along x, the tokens along y (the kernel loops over rows past 65,535).
        kernel.launch(Checks.ceilDiv(inter, 4 * BLOCK), Math.min(n, MAX_GRID_Y), 1, BLOCK, 0, new KernelArgs()
                .ptr(gate).i32(ldGate).ptr(up).i32(ldUp).ptr(out).i32(ldOut).ptr(outBf16).i32(ldOutBf16).i32(n)
                .i32(inter));
    }

    /**
     * The same values written as the tile image of the down product's activations (native/dms.cuh, act_image_at):
     * split, or bf16 as outBf16 would hold them; the same bytes as the rows made into an image by
     * {@link MatMulKernel}'s tile launch, zeros past n and inter included.
     *
     * @param image {@link MatMulKernel#activationImage}(n, inter, split); inter a multiple of 8
     */
    void applyToImage(DeviceBuffer gate, int ldGate, DeviceBuffer up, int ldUp, int n, int inter, DeviceBuffer image,
            boolean split) {
        positive(n, "n");
        require(MatMulKernel.tileable(inter), "an activation image needs inter a multiple of 8, got " + inter);
        require(ldGate >= inter && ldUp >= inter, "gate/up strides must be >= inter");
        holds(gate, Checks.rows(n, ldGate, inter), 4, "gate (n, inter) fp32");
        holds(up, Checks.rows(n, ldUp, inter), 4, "up (n, inter) fp32");
        require(image != null && image.aligned(16), "the image must be given, 16-byte aligned");
        holds(image, MatMulKernel.imageBytes(n, inter, MatMulKernel.WG_BM, split), 1, "the activations' image");
        // Four features a thread to inter's last k tile of 64, the rows to the last 128-row tile (zeros past both).
        int padded = Checks.ceilDiv(inter, MatMulKernel.WG_BK) * MatMulKernel.WG_BK;
        int rows = Checks.ceilDiv(n, MatMulKernel.WG_BM) * MatMulKernel.WG_BM;
        imageKernel.launch(Checks.ceilDiv(padded, 4 * BLOCK), Math.min(rows, MAX_GRID_Y), 1, BLOCK, 0,
                new KernelArgs().ptr(gate).i32(ldGate).ptr(up).i32(ldUp).i32(n).i32(inter).ptr(image)
                        .i32(split ? 1 : 0));
    }
}
