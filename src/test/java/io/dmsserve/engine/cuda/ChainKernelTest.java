package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import java.util.function.IntToDoubleFunction;
import org.junit.jupiter.api.Test;

/**
 * decode_chain.cu: each phase launched alone against sums in double of its inputs as the kernel found them (the
 * GEMVs' bound: 2e-6 sqrt(k) of the sum of |products|, plus 1e-5), outputs poisoned; then the four phases in one
 * launch, whose grid barrier must give the phase-by-phase values bit for bit (each row is summed by one warp per slice
 * and its slices added in one order, whatever the launch), twice (the barrier's arrivals back at zero after each), and
 * phases 0 to 2 alone, which leave q|k|v as it was. Shapes: odd multiples of 8, fewer rows than warps, and Qwen3-8B's.
 */
class ChainKernelTest extends GpuTest {

    private record Shape(int hidden, int qDim, int inter, int qkvDim) {
    }

    @Test
    void phasesMatchDoubleSumsAndOneLaunchGivesThePhasesBitForBit() {
        SplittableRandom random = new SplittableRandom(67);
        float eps = 1e-6f;
        for (Shape s : new Shape[] {new Shape(136, 200, 344, 233), new Shape(8, 16, 8, 5),
            new Shape(4096, 4096, 12288, 6144)}) {
            ChainKernel kernel = new ChainKernel(context, s.hidden(), s.qDim(), s.inter(), s.qkvDim());
            try {
                float[] x0 = randomFloats(random, s.hidden(), 7f);
                float[] att = randomFloats(random, s.qDim(), 1f);
                short[] wo = randomBf16(random, s.hidden() * s.qDim(), 1f);
                short[] w13 = randomBf16(random, 2 * s.inter() * s.hidden(), 1f);
                short[] w2 = randomBf16(random, s.hidden() * s.inter(), 1f);
                short[] wqkv = randomBf16(random, s.qkvDim() * s.hidden(), 1f);
                short[] ffnGamma = randomBf16(random, s.hidden(), 1f);
                short[] attnGamma = randomBf16(random, s.hidden(), 1f);
                DeviceBuffer dAtt = upload(att);
                DeviceBuffer dWo = upload(wo);
                DeviceBuffer dW13 = upload(w13);
                DeviceBuffer dW2 = upload(w2);
                DeviceBuffer dWqkv = upload(wqkv);
                DeviceBuffer dFfn = upload(ffnGamma);
                DeviceBuffer dAttn = upload(attnGamma);
                DeviceBuffer x = upload(x0);
                DeviceBuffer h = poisoned(4L * s.inter());
                DeviceBuffer qkv = poisoned(4L * s.qkvDim());
                String what = "chain " + s;

                kernel.apply(dAtt, dWo, x, dFfn, dW13, h, dW2, dAttn, dWqkv, qkv, eps, 0, 0);
                float[] x1 = x.toFloats();
                float[] wof = widen(wo);
                for (int r = 0; r < s.hidden(); r++) {
                    int row = r;
                    check(what + " x after o", r, x1[r], x0[r], s.qDim(), j -> wof[row * s.qDim() + j] * (double) att[j]);
                }
                kernel.apply(dAtt, dWo, x, dFfn, dW13, h, dW2, dAttn, dWqkv, qkv, eps, 1, 1);
                float[] h1 = h.toFloats();
                double s1 = scale(x1, eps);
                float[] w13f = widen(w13);
                float[] ffn = widen(ffnGamma);
                for (int j = 0; j < s.inter(); j++) {
                    double g = 0;
                    double u = 0;
                    double mg = 0;
                    double mu = 0;
                    for (int i = 0; i < s.hidden(); i++) {
                        double n = x1[i] * s1 * ffn[i];
                        double pg = w13f[j * s.hidden() + i] * n;
                        double pu = w13f[(s.inter() + j) * s.hidden() + i] * n;
                        g += pg;
                        u += pu;
                        mg += Math.abs(pg);
                        mu += Math.abs(pu);
                    }
                    double silu = g / (1 + Math.exp(-g));
                    double tolerance = (mg * (Math.abs(u) + 1) + mu * Math.abs(silu)) * 2e-6 * Math.sqrt(s.hidden())
                            + 1e-5;
                    if (!(Math.abs(h1[j] - silu * u) <= tolerance)) {
                        fail(String.format("%s h[%d] = %.9g, expected %.9g", what, j, h1[j], silu * u));
                    }
                }
                kernel.apply(dAtt, dWo, x, dFfn, dW13, h, dW2, dAttn, dWqkv, qkv, eps, 2, 2);
                float[] x2 = x.toFloats();
                float[] w2f = widen(w2);
                for (int r = 0; r < s.hidden(); r++) {
                    int row = r;
                    check(what + " x after down", r, x2[r], x1[r], s.inter(),
                            j -> w2f[row * s.inter() + j] * (double) h1[j]);
                }
                kernel.apply(dAtt, dWo, x, dFfn, dW13, h, dW2, dAttn, dWqkv, qkv, eps, 3, 3);
                float[] q3 = qkv.toFloats();
                double s3 = scale(x2, eps);
                float[] wqkvf = widen(wqkv);
                float[] attn = widen(attnGamma);
                for (int r = 0; r < s.qkvDim(); r++) {
                    int row = r;
                    check(what + " qkv", r, q3[r], 0, s.hidden(),
                            i -> wqkvf[row * s.hidden() + i] * (x2[i] * s3 * attn[i]));
                }

                for (int run = 0; run < 3; run++) {
                    boolean last = run == 2;  // phases 0 to 2: the last layer's launch
                    x.copyFrom(x0);
                    h.fill(-1);
                    qkv.fill(-1);
                    float[] poison = qkv.toFloats();
                    kernel.apply(dAtt, dWo, x, dFfn, dW13, h, dW2, last ? null : dAttn, last ? null : dWqkv,
                            last ? null : qkv, eps);
                    assertThat(bits(x.toFloats())).as(what + " x, one launch").isEqualTo(bits(x2));
                    assertThat(bits(h.toFloats())).as(what + " h, one launch").isEqualTo(bits(h1));
                    assertThat(bits(qkv.toFloats())).as(what + " qkv, one launch")
                            .isEqualTo(bits(last ? poison : q3));
                    assertThat(kernel.barrierWords()[0]).as(what + " the barrier's arrivals after a launch").isZero();
                }
                assertThatThrownBy(() -> kernel.apply(dAtt, dWo, x, dFfn, dW13, h, dW2, dAttn, null, qkv, eps, 0, 3))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("phase 3 needs");
            } finally {
                kernel.close();
            }
        }
    }

    private static double scale(float[] x, float eps) {
        double squares = 0;
        for (float v : x) {
            squares += (double) v * v;
        }
        return 1 / Math.sqrt(squares / x.length + eps);
    }

    /** got against before + Σ_j product(j) in double, within the GEMVs' bound. */
    private static void check(String what, int e, float got, double before, int k, IntToDoubleFunction product) {
        double sum = before;
        double magnitude = Math.abs(before);
        for (int j = 0; j < k; j++) {
            double p = product.applyAsDouble(j);
            sum += p;
            magnitude += Math.abs(p);
        }
        if (!(Math.abs(got - sum) <= magnitude * 2e-6 * Math.sqrt(k) + 1e-5)) {
            fail(String.format("%s [%d] = %.9g, expected %.9g", what, e, got, sum));
        }
    }

    private static int[] bits(float[] values) {
        int[] bits = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Float.floatToRawIntBits(values[i]);
        }
        return bits;
    }
}
