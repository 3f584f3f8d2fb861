package io.dmsserve.engine.cuda;

import static io.dmsserve.engine.cuda.Checks.holds;
import static io.dmsserve.engine.cuda.Checks.require;

import jcuda.driver.JCudaDriver;

/**
 * native/decode_chain.cu: a one-token decode step's products from o to the next layer's q|k|v in one persistent launch,
 * four phases separated by a grid barrier: x += Wo att; h = SwiGLU(W1|W3 rmsnorm(x)); x += W2 h; qkv = Wqkv
 * rmsnorm'(x) (cpu/MatMul and Ops, as {@link MatMulKernel#gemv} and {@link MatMulKernel#gemvSwiGlu} with their norms
 * folded, summed in another order). One block of {@value #BLOCK} threads a multiprocessor, every block resident at once
 * (the barrier waits for all of them), so this kernel must never run beside another launch of itself: the barrier's
 * words are this object's, and one context has one stream.
 */
final class ChainKernel {

    static final String NAME = "dms_decode_chain_f32";
    /** DMS_CHAIN_THREADS. */
    static final int BLOCK = 512;
    /** DMS_CHAIN_COPIES: a warp reads a row in slices of 256 of this many weights. */
    static final int COPIES = 8;

    private final int hidden;
    private final int qDim;
    private final int inter;
    private final int qkvDim;
    private final int blocks;
    private final int sharedBytes;
    private final Kernel kernel;
    private final DeviceBuffer barrier;  // [0] arrivals, [1] generation: zero before the first launch

    /**
     * For a model's shape; throws {@link CudaException} when a block of the kernel does not fit on a multiprocessor
     * beside its shared memory (the backend then keeps the four GEMVs).
     */
    ChainKernel(CudaContext context, int hidden, int qDim, int inter, int qkvDim) {
        require(hidden % 8 == 0 && qDim % 8 == 0 && inter % 8 == 0 && hidden >= 8 && qDim >= 8 && inter >= 8
                && qkvDim >= 1, "the chain takes hidden, qDim and inter multiples of 8, got " + hidden + ", " + qDim
                        + ", " + inter);
        this.hidden = hidden;
        this.qDim = qDim;
        this.inter = inter;
        this.qkvDim = qkvDim;
        this.blocks = context.info().multiprocessors();
        this.sharedBytes = sharedBytes(hidden, qDim, inter, qkvDim, blocks);
        this.kernel = context.kernel(NAME, sharedBytes);
        int[] resident = new int[1];
        int result = JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor(resident, kernel.function, BLOCK,
                sharedBytes);
        if (result != 0 || resident[0] < 1) {
            throw new CudaException(NAME + ": no block of " + BLOCK + " threads with " + sharedBytes
                    + " bytes of shared memory fits on a multiprocessor (" + result + ", " + resident[0] + ")");
        }
        this.barrier = context.allocate(8);
        barrier.fill(0);
    }

    /** chain::chain_smem: the staged input vector, then each row's slice sums for the largest share of a block. */
    static int sharedBytes(int hidden, int qDim, int inter, int qkvDim, int blocks) {
        int maxK = Math.max(qDim, Math.max(hidden, inter));
        int slice = 256 * COPIES;
        int[][] shares = {{hidden, 1, qDim}, {inter, 2, hidden}, {hidden, 1, inter}, {qkvDim, 1, hidden}};
        int most = 0;
        for (int[] s : shares) {
            most = Math.max(most, ((s[0] + blocks - 1) / blocks + 1) * s[1] * ((s[2] + slice - 1) / slice));
        }
        return 4 * ((maxK + 3) / 4 * 4) + 4 * most;
    }

    /**
     * Phases 0 to 3 (to 2 when {@code wqkv} is null: the last layer): x (hidden) += wo (hidden, qDim) att; h (inter) =
     * silu(w1 n) (w3 n) for n = rmsnorm(x, ffnGamma); x += w2 (hidden, inter) h; qkv (qkvDim) = wqkv (qkvDim, hidden)
     * rmsnorm(x, attnGamma). Weights bf16, vectors fp32, one token.
     */
    void apply(DeviceBuffer att, DeviceBuffer wo, DeviceBuffer x, DeviceBuffer ffnGamma, DeviceBuffer w13,
            DeviceBuffer h, DeviceBuffer w2, DeviceBuffer attnGamma, DeviceBuffer wqkv, DeviceBuffer qkv, float eps) {
        apply(att, wo, x, ffnGamma, w13, h, w2, attnGamma, wqkv, qkv, eps, 0, wqkv != null ? 3 : 2);
    }

    /** As above, phases {@code first} to {@code last} only (the tests run them one by one). */
    void apply(DeviceBuffer att, DeviceBuffer wo, DeviceBuffer x, DeviceBuffer ffnGamma, DeviceBuffer w13,
            DeviceBuffer h, DeviceBuffer w2, DeviceBuffer attnGamma, DeviceBuffer wqkv, DeviceBuffer qkv, float eps,
            int first, int last) {
        require(0 <= first && first <= last && last <= 3, "chain phases run from 0 to 3, got " + first + " to " + last);
        require(eps >= 0, "eps must be >= 0");
        holds(att, qDim, 4, "att (qDim) fp32");
        holds(wo, (long) hidden * qDim, 2, "wo (hidden, qDim) bf16");
        holds(x, hidden, 4, "x (hidden) fp32");
        holds(ffnGamma, hidden, 2, "ffnGamma (hidden) bf16");
        holds(w13, 2L * inter * hidden, 2, "w13 (2 inter, hidden) bf16");
        holds(h, inter, 4, "h (inter) fp32");
        holds(w2, (long) hidden * inter, 2, "w2 (hidden, inter) bf16");
        if (last == 3) {
            require(attnGamma != null && wqkv != null && qkv != null, "phase 3 needs attnGamma, wqkv and qkv");
            holds(attnGamma, hidden, 2, "attnGamma (hidden) bf16");
            holds(wqkv, (long) qkvDim * hidden, 2, "wqkv (qkvDim, hidden) bf16");
            holds(qkv, qkvDim, 4, "qkv (qkvDim) fp32");
        }
        // The 16-byte loads (the kernel's entry point refuses the rest).
        for (DeviceBuffer b : new DeviceBuffer[] {att, wo, x, w13, h, w2, last == 3 ? wqkv : att}) {
            require(b.aligned(16), "the chain's vectors and weights must be 16-byte aligned");
        }
        kernel.launch(blocks, 1, 1, BLOCK, sharedBytes, new KernelArgs().ptr(att).ptr(wo).ptr(x).ptr(ffnGamma)
                .ptr(w13).ptr(h).ptr(w2).ptr(last == 3 ? attnGamma : null).ptr(last == 3 ? wqkv : null)
                .ptr(last == 3 ? qkv : null).i32(hidden).i32(qDim).i32(inter).i32(qkvDim).f32(eps).ptr(barrier)
                .i32(first).i32(last));
    }

    /** Frees the barrier's words (the backend's close). */
    void close() {
        barrier.close();
    }

    /** The barrier's two words (the tests check that a launch leaves its arrivals at zero). */
    int[] barrierWords() {
        return barrier.toInts();
    }
}
