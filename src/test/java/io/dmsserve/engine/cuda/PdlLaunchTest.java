package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.HalfAccess;
import io.dmsserve.engine.cpu.GoldenCase;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Programmatic dependent launch ({@link PdlLaunch}, {@value CudaContext#PDL_PROPERTY}): a kernel may start while the
 * one before it drains, so a kernel that read or wrote before its pdl_wait would race with the one just before it.
 * Here launches are not synchronised (unlike the other kernel tests), so that they do overlap, under every trigger
 * setting:
 * <ul>
 *   <li>a chain where each launch depends on the one just before it: a GEMV reads the residual stream the RMSNorm's
 *       add just wrote (read after write), the next RMSNorm add overwrites what that GEMV read (write after read), and
 *       the split warpgroup decode product runs twice in a row on the same output, partials and counters (its first W
 *       tiles copied before the wait); integer-valued data, so every sum is exact in any order and the result must be
 *       the serial one exactly;</li>
 *   <li>the tiny DMS model's overlapped decode steps, replayed as graphs, give bit for bit the tokens, logprobs and
 *       decisions of plain launches;</li>
 *   <li>on a head_dim-64 checkpoint, whose decode attention takes the tensor-core split grid (the tiny model's 32 takes
 *       the CUDA-core kernel), the same with that attention reading its page lists before its wait (the default)
 *       while the q/k norm with the KV write before it still runs.</li>
 * </ul>
 */
class PdlLaunchTest extends GpuTest {

    private static final int CHAIN = 100;

    private static final String[] TRIGGERS = {"exit", "late", "start", "short", "gemv"};

    @Test
    void dependentChainsGiveTheSerialResults() {
        for (String trigger : TRIGGERS) {
            withPdl(trigger, () -> {
                try (CudaContext pdl = CudaContext.open(0, false)) {
                    assertThat(pdl.pdlState()).isEqualTo("on, trigger " + trigger);
                    chains(pdl);
                }
                return null;
            });
        }
    }

    @Test
    void decodeStepsGiveWhatPlainLaunchesGive() {
        try (Checkpoint dms = Checkpoint.open(GoldenCase.GOLDEN.resolve("tiny-qwen3-dms"))) {
            List<String> plain = SystemProperty.with(CudaContext.PDL_PROPERTY, "false", () -> {
                try (CudaContext probe = CudaContext.open(0, false)) {
                    assertThat(probe.pdlState()).isEqualTo("off (" + CudaContext.PDL_PROPERTY + " is false)");
                }
                return CudaOverlapTest.run(dms, true, false);
            });
            for (String trigger : TRIGGERS) {
                List<String> programmatic = withPdl(trigger, () -> {
                    try (CudaContext probe = CudaContext.open(0, false)) {  // what the run's own context gets
                        assertThat(probe.pdlState()).isEqualTo("on, trigger " + trigger);
                    }
                    return CudaOverlapTest.run(dms, true, false);
                });
                assertThat(programmatic).hasSameSizeAs(plain);
                for (int i = 0; i < plain.size(); i++) {
                    assertEquals(plain.get(i), programmatic.get(i), "trigger " + trigger + ", output " + i);
                }
            }
            // Some kernels launched plainly among programmatic ones (dms.cuda.pdl-plain), under the late trigger.
            String some = "dms_gemv_norm_bf16_.*|dms_attention_merge|dms_qknorm_rope_kv_f32";
            List<String> mixed = SystemProperty.with(CudaContext.PDL_PLAIN_PROPERTY, some,
                    () -> withPdl("late", () -> {
                        try (CudaContext probe = CudaContext.open(0, false)) {
                            assertThat(probe.pdlState()).isEqualTo("on, trigger late, plain " + some);
                        }
                        return CudaOverlapTest.run(dms, true, false);
                    }));
            assertThat(mixed).isEqualTo(plain);
            System.out.printf("[gpu] programmatic launches (triggers %s; late with %s plain): %d outputs of overlapped"
                    + " decode steps identical to plain launches%n", String.join(", ", TRIGGERS), some,
                    plain.size());
        }
    }

    /**
     * The split-grid tensor-core decode attention reading its page lists before its wait
     * ({@code dms.cuda.attention-early=lists}, the default) under programmatic launch, on a head_dim-64 checkpoint with
     * the balanced grid off: the overlapped decode steps' outputs equal those of plain launches waiting first, bit for
     * bit.
     */
    @Test
    void theAttentionReadingItsListsBeforeItsWaitGivesWhatPlainLaunchesGive(@TempDir Path dir) {
        try (Checkpoint wide = Checkpoint.open(WideDmsCheckpoint.write(dir.resolve("wide-dms")))) {
            List<String> plain = SystemProperty.with(CudaBackend.ATTENTION_BALANCE_PROPERTY, "false",
                    () -> SystemProperty.with(CudaContext.ATTENTION_EARLY_PROPERTY, "off",
                            () -> SystemProperty.with(CudaContext.PDL_PROPERTY, "false",
                                    () -> CudaOverlapTest.run(wide, true, false))));
            List<String> early = SystemProperty.with(CudaBackend.ATTENTION_BALANCE_PROPERTY, "false",
                    () -> withPdl("gemv", () -> {
                        try (CudaContext probe = CudaContext.open(0, false)) {
                            assertThat(probe.attentionEarly()).isEqualTo("lists");
                        }
                        return CudaOverlapTest.run(wide, true, false);
                    }));
            assertThat(early).hasSameSizeAs(plain);
            for (int i = 0; i < plain.size(); i++) {
                assertEquals(plain.get(i), early.get(i), "output " + i);
            }
            System.out.printf("[gpu] the split-grid decode attention's lists read before its wait (head_dim 64,"
                    + " trigger gemv): %d outputs of overlapped decode steps identical to plain launches%n",
                    plain.size());
        }
    }

    /**
     * The split-grid tensor-core decode attention with the q/k norm, RoPE, decisions and KV write folded in
     * ({@code dms.cuda.fold-qknorm}), on the head_dim-64 checkpoint with the balanced grid off: plain and under
     * programmatic launch (the attention starting while the q|k|v product still runs), also with the first tile's slot
     * metadata read before the wait ({@code dms.cuda.attention-early=slots}), the overlapped decode steps' outputs
     * equal those of plain launches without the fold, bit for bit.
     */
    @Test
    void theAttentionWithTheQkNormFoldedInGivesWhatTheTwoKernelsGive(@TempDir Path dir) {
        try (Checkpoint wide = Checkpoint.open(WideDmsCheckpoint.write(dir.resolve("wide-dms")))) {
            long[] folded = new long[4];
            List<String> plain = SystemProperty.with(CudaBackend.ATTENTION_BALANCE_PROPERTY, "false",
                    () -> SystemProperty.with(CudaBackend.FOLD_QKNORM_PROPERTY, "false",
                            () -> SystemProperty.with(CudaContext.PDL_PROPERTY, "false",
                                    () -> CudaOverlapTest.run(wide, true, false, n -> folded[0] = n))));
            List<String> foldedPlain = SystemProperty.with(CudaBackend.ATTENTION_BALANCE_PROPERTY, "false",
                    () -> SystemProperty.with(CudaBackend.FOLD_QKNORM_PROPERTY, "always",
                            () -> SystemProperty.with(CudaContext.PDL_PROPERTY, "false",
                                    () -> CudaOverlapTest.run(wide, true, false, n -> folded[1] = n))));
            List<String> foldedPdl = SystemProperty.with(CudaBackend.ATTENTION_BALANCE_PROPERTY, "false",
                    () -> SystemProperty.with(CudaBackend.FOLD_QKNORM_PROPERTY, "always",
                            () -> withPdl("gemv", () -> CudaOverlapTest.run(wide, true, false, n -> folded[2] = n))));
            List<String> foldedSlots = SystemProperty.with(CudaBackend.ATTENTION_BALANCE_PROPERTY, "false",
                    () -> SystemProperty.with(CudaBackend.FOLD_QKNORM_PROPERTY, "always",
                            () -> SystemProperty.with(CudaContext.ATTENTION_EARLY_PROPERTY, "slots",
                                    () -> withPdl("gemv", () -> {
                                        try (CudaContext probe = CudaContext.open(0, false)) {
                                            assertThat(probe.attentionEarly()).isEqualTo("slots");
                                        }
                                        return CudaOverlapTest.run(wide, true, false, n -> folded[3] = n);
                                    }))));
            assertThat(folded[0]).as("steps folded with the property false").isZero();
            assertThat(folded[1]).as("steps folded, plain launches").isPositive();
            assertThat(folded[2]).as("steps folded, programmatic launches").isEqualTo(folded[1]);
            assertThat(folded[3]).as("steps folded, programmatic launches, slots early").isEqualTo(folded[1]);
            assertThat(foldedPlain).hasSameSizeAs(plain);
            assertThat(foldedPdl).hasSameSizeAs(plain);
            assertThat(foldedSlots).hasSameSizeAs(plain);
            for (int i = 0; i < plain.size(); i++) {
                assertEquals(plain.get(i), foldedPlain.get(i), "output " + i + ", folded, plain launches");
                assertEquals(plain.get(i), foldedPdl.get(i), "output " + i + ", folded, programmatic launches");
                assertEquals(plain.get(i), foldedSlots.get(i),
                        "output " + i + ", folded, programmatic launches, the first slots' metadata before the wait");
            }
            System.out.printf("[gpu] the q/k norm folded into the split-grid decode attention (head_dim 64): %d outputs"
                    + " of overlapped decode steps identical to the two kernels', plain and programmatic (%d steps"
                    + " folded)%n", plain.size(), folded[1]);
        }
    }

    private static <T> T withPdl(String trigger, Supplier<T> body) {
        return SystemProperty.with(CudaContext.PDL_PROPERTY, "true",
                () -> SystemProperty.with(CudaContext.PDL_TRIGGER_PROPERTY, trigger, body));
    }

    private static void chains(CudaContext pdl) {
        SplittableRandom random = new SplittableRandom(71);
        int rows = 37;
        int hidden = 512;
        int gemvTokens = 3;
        int m2 = 1000;  // the GEMV over the residual stream: W2 (m2, hidden)
        int n = 16;
        int m = 4096;  // 64 feature tiles: the product splits k (6 ways on 132 multiprocessors)
        int k = 4096;
        float[] x0 = ints(random, rows * hidden, 2);
        float[] delta = ints(random, rows * hidden, 1);
        short[] gamma = new short[hidden];
        for (int i = 0; i < hidden; i++) {
            gamma[i] = HalfAccess.floatToBf16(1f);
        }
        float[] w2Values = ints(random, m2 * hidden, 1);
        float[] a = ints(random, n * k, 2);
        float[] wValues = ints(random, m * k, 2);
        // Serial results, exact in fp32 (every partial sum an integer below 2^24): after iteration i (from 1) the
        // residual rows are x0 + 2 i delta; the GEMV of iteration i read x0 + (2 i - 1) delta.
        long[] y2 = new long[gemvTokens * m2];
        for (int i = 1; i <= CHAIN; i++) {
            for (int t = 0; t < gemvTokens; t++) {
                for (int f = 0; f < m2; f++) {
                    long dot = 0;
                    for (int j = 0; j < hidden; j++) {
                        long xj = (long) x0[t * hidden + j] + (2L * i - 1) * (long) delta[t * hidden + j];
                        dot += xj * (long) w2Values[f * hidden + j];
                    }
                    y2[t * m2 + f] += dot;
                }
            }
        }
        try (DeviceBuffer x = pdl.upload(x0); DeviceBuffer d = pdl.upload(delta); DeviceBuffer g = pdl.upload(gamma);
                DeviceBuffer normed = pdl.allocate(4L * rows * hidden); DeviceBuffer w2 = pdl.upload(bf16(w2Values));
                DeviceBuffer y2Dev = pdl.upload(new float[gemvTokens * m2]); DeviceBuffer aDev = pdl.upload(a);
                DeviceBuffer wDev = pdl.upload(bf16(wValues)); DeviceBuffer c = pdl.upload(new float[n * m]);
                MatMulKernel products = new MatMulKernel(pdl)) {
            RmsNormKernel rms = new RmsNormKernel(pdl);
            int splits = MatMulKernel.wgsSplits(m, k, pdl.info().multiprocessors(), true);
            assertThat(splits).isGreaterThan(1);
            products.reserve(products.workspaceBytes(true, n, m, k, k));
            for (int i = 0; i < CHAIN; i++) {
                rms.apply(x, d, g, null, rows, rows, hidden, 1e-6f, normed, null);  // x += delta
                products.gemv(x, hidden, w2, y2Dev, m2, gemvTokens, m2, hidden, true, null);  // reads that x
                rms.apply(x, d, g, null, rows, rows, hidden, 1e-6f, normed, null);  // overwrites what it read
                products.warpgroupSkinny(true, aDev, k, wDev, c, m, n, m, k, true, splits);
                products.warpgroupSkinny(true, aDev, k, wDev, c, m, n, m, k, true, splits);  // the same c, counters
            }
            pdl.synchronize();
            float[] xBack = x.toFloats();
            for (int i = 0; i < x0.length; i++) {
                assertEquals(x0[i] + 2 * CHAIN * delta[i], xBack[i], "x[" + i + "] after " + 2 * CHAIN + " adds");
            }
            float[] y2Back = y2Dev.toFloats();
            for (int i = 0; i < y2.length; i++) {
                assertEquals((float) y2[i], y2Back[i], "GEMV of the residual stream, element " + i);
            }
            float[] cBack = c.toFloats();
            for (int t = 0; t < n; t++) {
                for (int f = 0; f < m; f++) {
                    float dot = 0;
                    for (int j = 0; j < k; j++) {
                        dot += a[t * k + j] * wValues[f * k + j];
                    }
                    assertEquals(2 * CHAIN * dot, cBack[t * m + f], "product (" + t + ", " + f + ")");
                }
            }
            System.out.printf("[gpu] programmatic launches (%s): %d rounds of dependent launches (RMSNorm add, GEMV"
                    + " of its output, RMSNorm add, split warpgroup product x2 in %d splits) give the serial results"
                    + " exactly%n", pdl.pdlState(), CHAIN, splits);
        }
    }

    private static short[] bf16(float[] values) {
        short[] bits = new short[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = HalfAccess.floatToBf16(values[i]);
        }
        return bits;
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
