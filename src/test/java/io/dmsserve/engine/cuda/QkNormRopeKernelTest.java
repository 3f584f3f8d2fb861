package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.dms.DmsRules;
import io.dmsserve.engine.cpu.CpuReference;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * qknorm_rope.cu against the CPU backend's sequence: Ops.rmsNorm per head with q_norm/k_norm, the decision of
 * DmsRules.decisionLogit compared with each sequence's threshold, the channel zeroed, Rope.rotate, zeroed again.
 * Values: 2e-6 relative (the sum of squares in another order). Decisions: exact, except where the CPU's
 * logit lies within 1e-3 of the threshold (a last-bit difference of the normed value, times alpha_scale 100,
 * may move it across). The v part of the fused rows is never written.
 */
class QkNormRopeKernelTest extends GpuTest {

    record Case(int heads, int kvHeads, int headDim, int n, boolean dms) {
    }

    @Test
    void matchesTheCpuForDmsAndPlainModels() {
        SplittableRandom random = new SplittableRandom(3);
        QkNormRopeKernel kernel = new QkNormRopeKernel(context);
        double theta = 1e6;
        int ropePositions = 40960;
        for (Case c : new Case[] {new Case(4, 2, 32, 17, true), new Case(32, 8, 128, 3, true),
            new Case(6, 3, 36, 5, false), new Case(4, 4, 4, 1, true), new Case(2, 1, 200, 2, true),
            new Case(16, 8, 128, 17, false)}) {
            int layers = 3;
            int layer = 1;
            float eps = 1e-6f;
            int d = c.headDim();
            int stride = (c.heads() + 2 * c.kvHeads()) * d; // fused q|k|v rows
            float[] qkv0 = randomFloats(random, c.n() * stride, 3f);
            short[] qNormBits = randomBf16(random, d, 1.5f);
            short[] kNormBits = randomBf16(random, d, 1.5f);
            int[] positions = new int[c.n()];
            int[] seqOfToken = new int[c.n()];
            for (int i = 0; i < c.n(); i++) {
                seqOfToken[i] = i < c.n() / 2 ? 0 : 1;
                positions[i] = random.nextInt(ropePositions);
            }
            float[] thresholds = {0.05f, 0f, 0.5f, 0.1f, Float.POSITIVE_INFINITY, 1e30f}; // (S = 2, layers)
            DeviceBuffer qkv = upload(qkv0);
            DeviceBuffer k = qkv.slice(4L * c.heads() * d, qkv.bytes() - 4L * c.heads() * d);
            DeviceBuffer decisions = poisoned((long) c.n() * layers * c.kvHeads());
            DeviceBuffer rope = upload(QkNormRopeKernel.ropeTable(d, theta, ropePositions));
            double alphaScale = 100;
            double alphaOffset = 5;
            kernel.apply(qkv, stride, k, stride, upload(qNormBits), upload(kNormBits), rope, ropePositions,
                    upload(positions), c.n(), c.heads(), c.kvHeads(), d, eps, c.dms(), alphaScale, alphaOffset,
                    upload(seqOfToken), upload(thresholds), 2, layers, layer, decisions);

            float[] want = qkv0.clone();
            float[] qw = widen(qNormBits);
            float[] kw = widen(kNormBits);
            int group = c.heads() / c.kvHeads();
            byte[] got = decisions.toBytes();
            for (int i = 0; i < c.n(); i++) {
                int row = i * stride;
                for (int h = 0; h < c.heads(); h++) {
                    CpuReference.rmsNorm(want, row + h * d, want, row + h * d, qw, d, eps);
                }
                for (int h = 0; h < c.kvHeads(); h++) {
                    CpuReference.rmsNorm(want, row + (c.heads() + h) * d, want, row + (c.heads() + h) * d, kw, d, eps);
                }
                if (c.dms()) {
                    for (int h = 0; h < c.kvHeads(); h++) {
                        int channel = row + h * group * d + d - 1;
                        float logit = DmsRules.decisionLogit(want[channel], alphaScale, alphaOffset);
                        float threshold = thresholds[seqOfToken[i] * layers + layer];
                        if (Math.abs(logit - threshold) > 1e-3) {
                            assertThat(got[(i * layers + layer) * c.kvHeads() + h]).as("decision of token %d head %d", i, h)
                                    .isEqualTo((byte) (logit > threshold ? 1 : 0));
                        }
                        want[channel] = 0f;
                    }
                }
                for (int h = 0; h < c.heads() + c.kvHeads(); h++) {
                    CpuReference.rotate(d, theta, want, row + h * d, positions[i]);
                }
                if (c.dms()) {
                    for (int h = 0; h < c.kvHeads(); h++) {
                        want[row + h * group * d + d - 1] = 0f;
                    }
                }
            }
            assertClose("q|k|v after qknorm_rope " + c, qkv.toFloats(), want, 2e-6, 2e-6);
            if (c.dms()) {
                for (int i = 0; i < c.n(); i++) {
                    for (int l = 0; l < layers; l++) {
                        for (int h = 0; h < c.kvHeads(); h++) {
                            if (l != layer) {
                                assertThat(got[(i * layers + l) * c.kvHeads() + h]).as("other layers untouched")
                                        .isEqualTo((byte) -1);
                            }
                        }
                    }
                }
            }
        }
    }
}
