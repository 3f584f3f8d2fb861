package io.dmsserve.engine.cpu;

import java.util.Arrays;

/**
 * Rotate-half rotary embedding (HF Qwen3, no scaling): channel i pairs with i + D/2, angle pos·θ^(−2i/D).
 * The cos/sin table grows on demand up to the highest position seen.
 */
final class Rope {

    private final int half;
    private final double[] inverseFrequency; // (D/2)
    private float[] cos = new float[0];      // (positions, D/2)
    private float[] sin = new float[0];
    private int positions;

    Rope(int headDim, double theta) {
        this.half = headDim / 2;
        this.inverseFrequency = new double[half];
        for (int i = 0; i < half; i++) {
            inverseFrequency[i] = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
        }
    }

    /** Rotates one head vector x[offset .. offset + D) in place for a token at this position. */
    void rotate(float[] x, int offset, int position) {
        ensure(position + 1);
        int base = position * half;
        for (int i = 0; i < half; i++) {
            float c = cos[base + i];
            float s = sin[base + i];
            float x1 = x[offset + i];
            float x2 = x[offset + half + i];
            x[offset + i] = x1 * c - x2 * s;
            x[offset + half + i] = x2 * c + x1 * s;
        }
    }

    private synchronized void ensure(int needed) {
        if (needed <= positions) {
            return;
        }
        int grown = Math.max(needed, Math.max(64, positions * 2));
        cos = Arrays.copyOf(cos, grown * half);
        sin = Arrays.copyOf(sin, grown * half);
        for (int p = positions; p < grown; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * inverseFrequency[i];
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
        }
        positions = grown;
    }
}
