package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.HalfAccess;
import io.dmsserve.engine.cpu.GoldenCase;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * Programmatic dependent launch ({@link PdlLaunch}, {@value CudaContext#PDL_PROPERTY}): a kernel may start while the
 * one before it drains, so a kernel that read or wrote before its pdl_wait would race. Here launches are not
 * synchronised (unlike the other kernel tests) so that they do overlap:
 * <ul>
 *   <li>long chains of dependent launches (each reads what the one before wrote, and overwrites what it read) of the
 *       RMSNorm with its residual add, the split warpgroup decode product (its first W tiles copied before the wait;
 *       counters and partials shared from launch to launch) and the GEMV (its W prefetched before the wait), mixed, give
 *       exactly the serial result: integer-valued inputs, so every sum is exact in any order;</li>
 *   <li>the tiny DMS model's overlapped decode steps, replayed as graphs, give bit for bit the tokens, logprobs and
 *       decisions of plain launches.</li>
 * </ul>
 */
class PdlLaunchTest extends GpuTest {

    private static final int CHAIN = 200;

    @Test
    void dependentChainsGiveTheSerialResults() {
        for (String trigger : new String[] {"exit", "late", "start"}) {
            String before = System.getProperty(CudaContext.PDL_TRIGGER_PROPERTY);
            System.setProperty(CudaContext.PDL_TRIGGER_PROPERTY, trigger);
            try {
                withPdl(() -> {
                    try (CudaContext pdl = CudaContext.open(0, false)) {
                        assertThat(pdl.pdlState()).isEqualTo("on, trigger " + trigger);
                        chains(pdl);
                    }
                    return null;
                });
            } finally {
                restore(CudaContext.PDL_TRIGGER_PROPERTY, before);
            }
        }
    }

    @Test
    void decodeStepsGiveWhatPlainLaunchesGive() {
        try (Checkpoint dms = Checkpoint.open(GoldenCase.GOLDEN.resolve("tiny-qwen3-dms"))) {
            List<String> plain = CudaOverlapTest.run(dms, true, false);
            List<String> programmatic = withPdl(() -> CudaOverlapTest.run(dms, true, false));
            assertThat(programmatic).hasSameSizeAs(plain);
            for (int i = 0; i < plain.size(); i++) {
                assertEquals(plain.get(i), programmatic.get(i), "output " + i);
            }
            System.out.printf("[gpu] programmatic launches: %d outputs of overlapped decode steps identical to plain"
                    + " launches%n", plain.size());
        }
    }

    private static <T> T withPdl(Supplier<T> body) {
        String before = System.getProperty(CudaContext.PDL_PROPERTY);
        System.setProperty(CudaContext.PDL_PROPERTY, "true");
        try {
            return body.get();
        } finally {
            restore(CudaContext.PDL_PROPERTY, before);
        }
    }

    private static void restore(String property, String value) {
        if (value == null) {
            System.clearProperty(property);
        } else {
            System.setProperty(property, value);
        }
    }

    private static void chains(CudaContext pdl) {
        SplittableRandom random = new SplittableRandom(71);
        int rows = 37;
        int hidden = 1000;
        int n = 16;
        int m = 4096;  // 64 feature tiles: the product splits k (6 ways on 132 multiprocessors)
        int k = 4096;
        int gemvTokens = 3;
        float[] x0 = ints(random, rows * hidden, 8);
        float[] delta = ints(random, rows * hidden, 3);
        short[] gamma = new short[hidden];
        for (int i = 0; i < hidden; i++) {
            gamma[i] = HalfAccess.floatToBf16(1f);
        }
        float[] a = ints(random, n * k, 2);
        float[] wValues = ints(random, m * k, 2);
        short[] w = new short[m * k];
        for (int i = 0; i < w.length; i++) {
            w[i] = HalfAccess.floatToBf16(wValues[i]);
        }
        try (DeviceBuffer x = pdl.upload(x0); DeviceBuffer d = pdl.upload(delta); DeviceBuffer g = pdl.upload(gamma);
                DeviceBuffer normed = pdl.allocate(4L * rows * hidden); DeviceBuffer aDev = pdl.upload(a);
                DeviceBuffer wDev = pdl.upload(w); DeviceBuffer c = pdl.upload(new float[n * m]);
                DeviceBuffer y = pdl.upload(new float[gemvTokens * m]); MatMulKernel products = new MatMulKernel(pdl)) {
            RmsNormKernel rms = new RmsNormKernel(pdl);
            int splits = MatMulKernel.wgsSplits(m, k, pdl.info().multiprocessors(), true);
            assertThat(splits).isGreaterThan(1);
            products.reserve(products.workspaceBytes(true, n, m, k, k));
            for (int i = 0; i < CHAIN; i++) {
                rms.apply(x, d, g, null, rows, rows, hidden, 1e-6f, normed, null);
                products.warpgroupSkinny(true, aDev, k, wDev, c, m, n, m, k, true, splits);
                products.gemv(aDev, k, wDev, y, m, gemvTokens, m, k, true, null);
            }
            pdl.synchronize();
            float[] xBack = x.toFloats();
            for (int i = 0; i < x0.length; i++) {
                assertEquals(x0[i] + CHAIN * delta[i], xBack[i], "x[" + i + "] after " + CHAIN + " residual adds");
            }
            float[] cBack = c.toFloats();
            float[] yBack = y.toFloats();
            for (int t = 0; t < n; t++) {
                for (int f = 0; f < m; f++) {
                    float dot = 0;
                    for (int j = 0; j < k; j++) {
                        dot += a[t * k + j] * wValues[f * k + j];
                    }
                    assertEquals(CHAIN * dot, cBack[t * m + f], "product (" + t + ", " + f + ")");
                    if (t < gemvTokens) {
                        assertEquals(CHAIN * dot, yBack[t * m + f], "GEMV (" + t + ", " + f + ")");
                    }
                }
            }
            System.out.printf("[gpu] programmatic launches (%s): %d x 3 dependent launches (RMSNorm with its add, split"
                    + " warpgroup product in %d splits, GEMV) give the serial results exactly%n", pdl.pdlState(), CHAIN,
                    splits);
        }
    }

    /** Integer values in [-bound, bound], never zero. */
    private static float[] ints(SplittableRandom random, int count, int bound) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            int v = random.nextInt(1, bound + 1);
            values[i] = random.nextBoolean() ? v : -v;
        }
        return values;
    }
}
