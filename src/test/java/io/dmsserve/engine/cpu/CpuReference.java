package io.dmsserve.engine.cpu;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The CPU engine's own element-wise math, opened to the CUDA kernels' tests (engine.cuda), which use it as
 * their reference: the kernels must compute what {@link Ops} and {@link Rope} compute.
 */
public final class CpuReference {

    private static final Map<Long, Rope> ROPES = new ConcurrentHashMap<>();

    private CpuReference() {
    }

    /** {@link Ops#rmsNorm(float[], int, float[], int, float[], int, float)}. */
    public static void rmsNorm(float[] x, int xOffset, float[] out, int outOffset, float[] weight, int dim, float eps) {
        Ops.rmsNorm(x, xOffset, out, outOffset, weight, dim, eps);
    }

    /** {@link Ops#swiglu}: gate = silu(gate) * up. */
    public static void swiglu(float[] gate, float[] up, int length) {
        Ops.swiglu(gate, up, length);
    }

    /** {@link Rope#rotate} of one head vector with the engine's table for this head_dim and theta. */
    public static void rotate(int headDim, double theta, float[] x, int offset, int position) {
        ROPES.computeIfAbsent(((long) headDim << 32) ^ Double.doubleToLongBits(theta), k -> new Rope(headDim, theta))
                .rotate(x, offset, position);
    }

    /** {@link Ops#softmax}, in place on scores[0 .. count). */
    public static void softmax(float[] scores, int count) {
        Ops.softmax(scores, count);
    }
}
