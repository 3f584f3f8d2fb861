package io.dmsserve.engine.cpu;

/** Element-wise pieces of the Qwen3 forward pass, in fp32 as HF computes them. */
final class Ops {

    private Ops() {
    }

    /** out[i·dim ..] = x[i·dim ..] / rms(x[i·dim ..]) · weight, for rows i in [0, rows). */
    static void rmsNorm(float[] x, float[] out, float[] weight, int rows, int dim, float eps) {
        for (int r = 0; r < rows; r++) {
            rmsNorm(x, r * dim, out, r * dim, weight, dim, eps);
        }
    }

    static void rmsNorm(float[] x, int xOffset, float[] out, int outOffset, float[] weight, int dim, float eps) {
        float sumSquares = 0;
        for (int j = 0; j < dim; j++) {
            float v = x[xOffset + j];
            sumSquares += v * v;
        }
        float scale = (float) (1.0 / Math.sqrt(sumSquares / dim + eps));
        for (int j = 0; j < dim; j++) {
            out[outOffset + j] = weight[j] * (x[xOffset + j] * scale);
        }
    }

    /** gate ← silu(gate) · up, element-wise. */
    static void swiglu(float[] gate, float[] up, int length) {
        for (int i = 0; i < length; i++) {
            float g = gate[i];
            gate[i] = (float) (g / (1.0 + Math.exp(-g))) * up[i];
        }
    }

    static void addInPlace(float[] x, float[] delta, int length) {
        for (int i = 0; i < length; i++) {
            x[i] += delta[i];
        }
    }

    /** In-place softmax of scores[0 .. count). */
    static void softmax(float[] scores, int count) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < count; i++) {
            max = Math.max(max, scores[i]);
        }
        float sum = 0;
        for (int i = 0; i < count; i++) {
            float e = (float) Math.exp(scores[i] - max);
            scores[i] = e;
            sum += e;
        }
        float inverse = 1f / sum;
        for (int i = 0; i < count; i++) {
            scores[i] *= inverse;
        }
    }
}
