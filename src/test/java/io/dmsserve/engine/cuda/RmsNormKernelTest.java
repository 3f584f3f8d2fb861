package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.engine.HalfAccess;
import io.dmsserve.engine.cpu.CpuReference;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * rmsnorm.cu against cpu/Ops.rmsNorm. The residual add is exact (one fp32 add, as Java); the normed values
 * differ only through the order of the sum of squares: 1e-5 relative. The bf16 copy is within one bf16 step
 * (2^-8 relative) of the fp32 reference (rounding the kernel's own fp32 value may land on the other side).
 */
class RmsNormKernelTest extends GpuTest {

    @Test
    void matchesTheCpuNormWithAndWithoutResidualAddAndGather() {
        SplittableRandom random = new SplittableRandom(2);
        RmsNormKernel kernel = new RmsNormKernel(context);
        float eps = 1e-6f;
        for (int hidden : new int[] {72, 100, 4096}) {
            for (int n : new int[] {1, 3, 17}) {
                for (boolean withDelta : new boolean[] {false, true}) {
                    boolean gather = n == 3;
                    int rows = n + 2;
                    float[] x0 = randomFloats(random, rows * hidden, 2f);
                    float[] delta = randomFloats(random, rows * hidden, 1f);
                    short[] weightBits = randomBf16(random, hidden, 1.5f);
                    int[] rowIndex = new int[n];
                    for (int i = 0; i < n; i++) {
                        rowIndex[i] = (i * 7 + 1) % rows;
                    }
                    DeviceBuffer x = upload(x0);
                    DeviceBuffer out = poisoned(4L * n * hidden);
                    DeviceBuffer outBf16 = poisoned(2L * n * hidden);
                    kernel.apply(x, withDelta ? upload(delta) : null, upload(weightBits), gather ? upload(rowIndex) : null,
                            n, rows, hidden, eps, out, outBf16);

                    float[] weight = widen(weightBits);
                    float[] xs = x0.clone();
                    float[] want = new float[n * hidden];
                    for (int i = 0; i < n; i++) {
                        int r = gather ? rowIndex[i] : i;
                        if (withDelta) {
                            for (int j = 0; j < hidden; j++) {
                                xs[r * hidden + j] += delta[r * hidden + j];
                            }
                        }
                        CpuReference.rmsNorm(xs, r * hidden, want, i * hidden, weight, hidden, eps);
                    }
                    String what = "hidden " + hidden + ", n " + n + (withDelta ? ", delta" : "") + (gather ? ", gather" : "");
                    assertThat(x.toFloats()).as("x after the residual add, " + what).containsExactly(xs);
                    assertClose("out, " + what, out.toFloats(), want, 1e-6, 1e-5);
                    short[] bits = outBf16.toShorts();
                    float[] got = new float[bits.length];
                    for (int e = 0; e < bits.length; e++) {
                        got[e] = bf16(bits[e]);
                        assertThat(HalfAccess.roundToBf16(got[e])).isEqualTo(got[e]);
                    }
                    assertClose("outBf16, " + what, got, want, 1e-6, 1.0 / 256 + 1e-5);
                }
            }
        }
    }
}
