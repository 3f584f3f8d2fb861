package io.dmsserve.engine.cuda;

import io.dmsserve.engine.cpu.CpuReference;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * swiglu.cu against cpu/Ops.swiglu: silu in double as Java, so within one fp32 ulp (the device's exp may differ
 * from Java's in the last double bit): 2e-7 relative. The bf16 copy is within one bf16 step.
 */
class SwiGluKernelTest extends GpuTest {

    @Test
    void matchesTheCpuOnFusedGateUpRowsAndInPlace() {
        SplittableRandom random = new SplittableRandom(6);
        SwiGluKernel kernel = new SwiGluKernel(context);
        for (int inter : new int[] {100, 101, 12288}) {  // 101: the kernel's element-by-element path
            for (int n : new int[] {1, 3, 17}) {
                float[] gateUp = randomFloats(random, n * 2 * inter, 6f); // (n, 2 inter): gate | up
                float[] want = new float[n * inter];
                for (int t = 0; t < n; t++) {
                    float[] gate = java.util.Arrays.copyOfRange(gateUp, t * 2 * inter, t * 2 * inter + inter);
                    float[] up = java.util.Arrays.copyOfRange(gateUp, t * 2 * inter + inter, (t + 1) * 2 * inter);
                    CpuReference.swiglu(gate, up, inter);
                    System.arraycopy(gate, 0, want, t * inter, inter);
                }
                DeviceBuffer fused = upload(gateUp);
                DeviceBuffer up = fused.slice(4L * inter, fused.bytes() - 4L * inter);
                DeviceBuffer out = poisoned(4L * n * inter);
                DeviceBuffer outBf16 = poisoned(2L * n * inter);
                kernel.apply(fused, 2 * inter, up, 2 * inter, out, inter, outBf16, inter, n, inter);
                String what = "inter " + inter + ", n " + n;
                assertClose("swiglu " + what, out.toFloats(), want, 0, 2e-7);
                assertClose("swiglu bf16 " + what, widen(outBf16.toShorts()), want, 0, 1.0 / 256 + 2e-7);

                kernel.apply(fused, 2 * inter, up, 2 * inter, fused, 2 * inter, null, 0, n, inter);
                float[] all = fused.toFloats();
                float[] inPlace = new float[n * inter];
                for (int t = 0; t < n; t++) {
                    System.arraycopy(all, t * 2 * inter, inPlace, t * inter, inter);
                }
                assertClose("swiglu in place " + what, inPlace, want, 0, 2e-7);
            }
        }
    }
}
