package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.SequenceOutput;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.engine.cpu.GoldenCase;
import io.dmsserve.kvcache.KvCacheManager;
import io.dmsserve.scheduler.GreedyTrace;
import io.dmsserve.scheduler.LongMixedWorkload;
import io.dmsserve.scheduler.StepExecutor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The CUDA backend against the CPU reference on the golden checkpoints (and, through the CPU's own golden
 * test, against the independent reference). The CPU runs with the CUDA backend's storage precision: bf16 keys and
 * values, and, when the backend's tensor-core products take bf16 activations ({@code dms.cuda.activations=bf16}),
 * those activations rounded the same way (by default, on the dense checkpoint). On the DMS checkpoint they take fp32
 * activations split into bf16 high parts and rests by default, the CPU computes in fp32, and what is left is summation
 * order and the rest's 2^-17 (the attention kernels keep fp32 accuracy the same way for q and the probabilities).
 * Measured on the H200 2026-11-29 (split): 0 of the long run's 30,000 decisions differ.
 * <ul>
 *   <li>logits within {@value #LOGIT_TOLERANCE} of the row's largest magnitude (at least 1);</li>
 *   <li>greedy tokens identical up to the first step where the CPU's top-two margin is below
 *       {@value #MARGIN} of that scale (such a step is counted, not failed: the two may pick differently);</li>
 *   <li>DMS decisions identical up to there, except where the CPU's decision logit lies within
 *       {@value #DECISION_NEAR} of the threshold (counted). With bf16 activations a last-bit difference in fp32 can
 *       send an activation to the other bf16 neighbour; a decision logit is q · 100 − 5, so the relative error of q,
 *       amplified a hundredfold, moves it by up to about 1 (H200, 2026-11-29: 9 of 30,000 decisions of the long run
 *       differed, the farthest 0.56 from the threshold); in that mode a difference within {@value #DECISION_BF16}
 *       is counted as a precision case;</li>
 *   <li>in the long mixed run (4,800 tokens), DMS decisions identical except within {@value #DECISION_LONG} of the
 *       threshold (counted), and each (sequence, layer, head)'s live count within its differing decisions of the
 *       CPU's (identical when none differs). Over thousands of tokens a last-bit difference in a key or value before
 *       its bf16 rounding sends it to the other neighbour, and later layers carry that on: on the CPU alone, noise of
 *       2^-17 on the stored keys and values (the split products' own agreement) moves that run's decision logits by up
 *       to 0.019 and flips one, and repacking on against off (another summation order) moves them by up to 0.021
 *       (RepackLongRunTest). So 1e-3 is kept for the golden traces above and the long run is held to about twice
 *       the measured movement; the H200 (2026-11-30, repacking on in both engines, its device metadata checked equal
 *       to the bookkeeping at every other step by CudaRepackTest) differed in 1 of 30,000 (sequence 0's last token),
 *       0.019 from the threshold.</li>
 * </ul>
 * Each case prints one line of counts for the notes.
 */
@Tag("gpu")
class CudaGoldenTest {

    static final double LOGIT_TOLERANCE = 0.03;
    static final double MARGIN = 0.06;
    static final float DECISION_NEAR = 1e-3f;
    static final float DECISION_BF16 = 2f;
    static final float DECISION_LONG = 0.05f;

    private static Checkpoint dense;
    private static Checkpoint dms;

    @BeforeAll
    static void open() {
        List<String> reasons = CudaAvailability.check();
        if (!reasons.isEmpty()) {
            fail("CUDA is not available: " + String.join("; ", reasons));
        }
        dense = Checkpoint.open(GoldenCase.GOLDEN.resolve("tiny-qwen3"));
        dms = Checkpoint.open(GoldenCase.GOLDEN.resolve("tiny-qwen3-dms"));
    }

    @AfterAll
    static void close() {
        dense.close();
        dms.close();
    }

    static Stream<GoldenCase> cases() {
        return Stream.concat(GoldenCase.load("tiny-qwen3").stream(), GoldenCase.load("tiny-qwen3-dms").stream());
    }

    private static Checkpoint checkpoint(GoldenCase golden) {
        return golden.model().equals("tiny-qwen3-dms") ? dms : dense;
    }

    static StepExecutor cuda(Checkpoint checkpoint) {
        return StepExecutor.allocate(new CudaBackend(checkpoint, CudaContext.open(0, true)), 4, 64L << 20, 16);
    }

    static StepExecutor cpu(Checkpoint checkpoint) {
        return StepExecutor.allocate(new CpuBackend(checkpoint, 2, true, bf16Activations(checkpoint)), 4, 64L << 20,
                16);
    }

    /**
     * Whether this run's CUDA backend rounds its tensor-core activations to bf16 on this checkpoint (the system
     * property; by default split for a DMS checkpoint, bf16 for a dense one).
     */
    static boolean bf16Activations(Checkpoint checkpoint) {
        return !CudaBackend.splitActivations(System.getProperty(CudaBackend.ACTIVATIONS_PROPERTY, "auto"),
                checkpoint.config().isDms());
    }

    /** How far from the threshold a CPU decision logit may lie where the GPU's decision differs. */
    static float decisionBound(Checkpoint checkpoint) {
        return bf16Activations(checkpoint) ? DECISION_BF16 : DECISION_NEAR;
    }

    /** {@link #decisionBound} for the long mixed run (see the class comment). */
    static float longRunBound(Checkpoint checkpoint) {
        return bf16Activations(checkpoint) ? DECISION_BF16 : DECISION_LONG;
    }

    private static EvictionPolicy policy(GoldenCase golden) {
        return EvictionPolicies.create(golden.policy(), golden.threshold(), checkpoint(golden).config().dms());
    }

    static double scale(float[] row) {
        double scale = 1;
        for (float v : row) {
            scale = Math.max(scale, Math.abs(v));
        }
        return scale;
    }

    static double worst(float[] a, float[] b) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }

    /** The gap between the best and second-best logit, relative to the row's scale. */
    static double margin(float[] row) {
        float first = Float.NEGATIVE_INFINITY;
        float second = Float.NEGATIVE_INFINITY;
        for (float v : row) {
            if (v > first) {
                second = first;
                first = v;
            } else if (v > second) {
                second = v;
            }
        }
        return (first - second) / scale(row);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void promptAtOnceAndInChunksMatchTheCpu(GoldenCase golden) {
        for (int chunk : new int[] {0, 7}) {
            GreedyTrace want;
            GreedyTrace got;
            try (StepExecutor cpu = cpu(checkpoint(golden)); StepExecutor gpu = cuda(checkpoint(golden))) {
                want = GreedyTrace.run(cpu, policy(golden), golden.promptIds(), golden.maxNewTokens(), chunk, true);
                got = GreedyTrace.run(gpu, policy(golden), golden.promptIds(), golden.maxNewTokens(), chunk, true);
                assertEquals(0, gpu.statistics().pagesInUse(), "every page back after the trace");
            }
            compare(golden + " chunk " + chunk, want, got, golden.threshold(), golden.policy().equals("dms"),
                    decisionBound(checkpoint(golden)));
        }
    }

    /** @param decisionBound how far from the threshold a CPU decision logit may lie where the decisions differ */
    static void compare(String what, GreedyTrace want, GreedyTrace got, float threshold, boolean evicts,
            float decisionBound) {
        double worstPrompt = 0;
        for (int p = 0; p < want.promptLogits().length; p++) {
            double error = worst(want.promptLogits()[p], got.promptLogits()[p]) / scale(want.promptLogits()[p]);
            worstPrompt = Math.max(worstPrompt, error);
        }
        assertThat(worstPrompt).as(what + ": prompt logits, relative to the row's scale").isLessThan(LOGIT_TOLERANCE);
        int diverged = want.greedy().length;
        double worstStep = 0;
        int lowMargin = 0;
        for (int i = 0; i < want.greedy().length; i++) {
            worstStep = Math.max(worstStep, worst(want.greedyLogits()[i], got.greedyLogits()[i])
                    / scale(want.greedyLogits()[i]));
            if (want.greedy()[i] != got.greedy()[i]) {
                if (margin(want.greedyLogits()[i]) >= MARGIN) {
                    fail(what + ": greedy token " + i + " is " + got.greedy()[i] + ", the CPU's " + want.greedy()[i]
                            + " with a margin of " + margin(want.greedyLogits()[i]));
                }
                lowMargin++;
                diverged = i;
                break;
            }
        }
        // Up to and including a divergence the steps are fed the CPU's tokens (a decision that may differ near the
        // threshold moves later logits only slightly), so their logits obey the prompt's bound.
        assertThat(worstStep).as(what + ": step logits, relative to the row's scale").isLessThan(LOGIT_TOLERANCE);
        // Positions processed identically: the prompt and the greedy tokens fed before the divergence.
        int sameUntil = want.promptLogits().length + diverged;
        int decisionExceptions = 0;
        int decisionsNear = 0;
        int decisionsCompared = 0;
        if (evicts) {
            for (int l = 0; l < want.decisions().length; l++) {
                for (int h = 0; h < want.decisions()[l].length; h++) {
                    boolean[] a = flags(want.decisions()[l][h], sameUntil);
                    boolean[] b = flags(got.decisions()[l][h], sameUntil);
                    for (int k = 0; k + 1 < sameUntil; k++) {
                        decisionsCompared++;
                        if (a[k] != b[k]) {
                            float logit = want.decisionLogits()[l][h][k + 1];
                            if (Math.abs(logit - threshold) >= decisionBound) {
                                fail(what + ": layer " + l + " head " + h + " token " + k + " flagged " + b[k]
                                        + " on the GPU, " + a[k] + " on the CPU, whose decision logit " + logit
                                        + " is " + Math.abs(logit - threshold) + " from the threshold");
                            }
                            decisionExceptions++;
                            decisionsNear += Math.abs(logit - threshold) < DECISION_NEAR ? 1 : 0;
                        }
                    }
                }
            }
        }
        if (diverged == want.greedy().length && decisionExceptions == 0) {
            assertThat(got.kvLive()).as(what + ": live slots").isDeepEqualTo(want.kvLive());
            assertThat(got.evicted()).as(what + ": evicted").isEqualTo(want.evicted());
        }
        System.out.printf("[gpu] %s: prompt logits %.2e, step logits %.2e (of scale), greedy %d/%d identical"
                + " (%d low-margin divergence), decisions %d compared, %d differ (%d within 1e-3 of the threshold)%n",
                what, worstPrompt, worstStep, diverged, want.greedy().length, lowMargin, decisionsCompared,
                decisionExceptions, decisionsNear);
    }

    private static boolean[] flags(int[] positions, int limit) {
        boolean[] out = new boolean[limit];
        for (int p : positions) {
            if (p < limit) {
                out[p] = true;
            }
        }
        return out;
    }

    /** All the DMS golden prompts in one step: each sequence's first token and logits as alone on the CPU. */
    @Test
    void batchedPromptsMatchTheCpu() {
        List<GoldenCase> cases = GoldenCase.load("tiny-qwen3-dms");
        try (StepExecutor cpu = cpu(dms); StepExecutor gpu = cuda(dms)) {
            List<StepExecutor.Work> work = new ArrayList<>();
            for (int i = 0; i < cases.size(); i++) {
                cpu.open(i, policy(cases.get(i)));
                gpu.open(i, policy(cases.get(i)));
                work.add(StepExecutor.Work.greedy(i, cases.get(i).promptIds(), true, LogitsRequest.LAST));
            }
            StepOutput want = cpu.run(work);
            StepOutput got = gpu.run(work);
            for (int i = 0; i < cases.size(); i++) {
                float[] w = want.get(i).logits()[0];
                assertThat(worst(w, got.get(i).logits()[0]) / scale(w)).as(cases.get(i).name())
                        .isLessThan(LOGIT_TOLERANCE);
                if (margin(w) >= MARGIN) {
                    assertEquals(want.get(i).token(), got.get(i).token(), cases.get(i).name());
                }
                cpu.release(i);
                gpu.release(i);
            }
            assertEquals(0, gpu.statistics().pagesInUse());
        }
    }

    /**
     * A long mixed run: three sequences of 1,200 to 1,500 prompt tokens in interleaved chunks of up to 96, then
     * 300 decode steps each, the same tokens fed to both backends (4,800 tokens in all). Decisions are compared
     * at every step; at the end the live slots per (layer, head) of every sequence must equal the CPU's.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aLongMixedRunKeepsTheCpusLiveCounts(boolean repack) {
        longMixedRun(dms, "true", null, repack);
    }

    /**
     * The same run with every tensor-core product the warpgroup kernels can take on them ({@code dms.cuda.wgmma=always}
     * on an H100 / H200): the tiny model's products are too small for the automatic choice, which gives them only to
     * products whose tiles fill the device (prefill of the 8B model).
     */
    @Test
    void aLongMixedRunOnTheWarpgroupKernelsKeepsTheCpusLiveCounts() {
        longMixedRun(dms, "always", null, KvCacheManager.REPACK_DEFAULT);
    }

    /**
     * The same run with those products on the bulk-copy kernels ({@code dms.cuda.bulk=always}: the weights' tile
     * images made at load, each product's activations laid out as images first), which the automatic choice gives only
     * the 8B model's prompt chunks.
     */
    @Test
    void aLongMixedRunOnTheBulkKernelsKeepsTheCpusLiveCounts() {
        SystemProperty.with(MatMulKernel.BULK_PROPERTY, "always",
                () -> longMixedRun(dms, "always", null, KvCacheManager.REPACK_DEFAULT));
    }

    /**
     * The same run with the decode attention over the balanced grid ({@code dms.cuda.attention-balance}), on a
     * checkpoint with head_dim 64 ({@link WideDmsCheckpoint}: the golden checkpoints' 32 has no balanced grid), with
     * plain launches and with programmatic ones whose short kernels trigger at their start, so that the attention's
     * blocks lay out their lists before their wait while the launch before them (q/k norm and RoPE with the KV write)
     * still runs (native/dms.cuh). That run leaves launches unchecked, so that launches outside graphs overlap too.
     */
    @ParameterizedTest
    @ValueSource(strings = {"plain", "short"})
    void aLongMixedRunWithBalancedDecodeAttentionKeepsTheCpusLiveCounts(String launch, @TempDir Path dir) {
        try (Checkpoint wide = Checkpoint.open(WideDmsCheckpoint.write(dir.resolve("wide-dms")))) {
            boolean plain = launch.equals("plain");
            long balanced = SystemProperty.with(CudaBackend.ATTENTION_BALANCE_PROPERTY, "true",
                    () -> SystemProperty.with(CudaContext.PDL_PROPERTY, String.valueOf(!plain),
                            () -> SystemProperty.with(CudaContext.PDL_TRIGGER_PROPERTY, plain ? "exit" : launch,
                                    () -> longMixedRun(wide, "true", launch, KvCacheManager.REPACK_DEFAULT))))
                    .balancedSteps();
            assertThat(balanced).as("decode steps on the balanced grid").isGreaterThanOrEqualTo(300);
        }
    }

    /**
     * The same run with a decode step's q/k norm, RoPE, decisions and KV write folded into the split-grid tensor-core
     * decode attention ({@code dms.cuda.fold-qknorm}, attention.cu dms_attention_decode_tcq_d*), on the head_dim-64
     * checkpoint with the balanced grid off, with plain launches and with programmatic ones (the attention then starts
     * while the q|k|v product it reads still runs, its lists read before its wait).
     */
    @ParameterizedTest
    @ValueSource(strings = {"plain", "gemv", "slots"})
    void aLongMixedRunWithTheQkNormFoldedIntoTheAttentionKeepsTheCpusLiveCounts(String mode, @TempDir Path dir) {
        // slots: programmatic launches (trigger gemv) with the first tile's slot metadata read before the wait too
        // (dms.cuda.attention-early=slots)
        try (Checkpoint wide = Checkpoint.open(WideDmsCheckpoint.write(dir.resolve("wide-dms")))) {
            boolean plain = mode.equals("plain");
            String launch = plain ? "plain" : "gemv";
            String early = mode.equals("slots") ? "slots" : "lists";
            long folded = SystemProperty.with(CudaBackend.FOLD_QKNORM_PROPERTY, "always",
                    () -> SystemProperty.with(CudaBackend.ATTENTION_BALANCE_PROPERTY, "false",
                            () -> SystemProperty.with(CudaContext.ATTENTION_EARLY_PROPERTY, early,
                                    () -> SystemProperty.with(CudaContext.PDL_PROPERTY, String.valueOf(!plain),
                                            () -> SystemProperty.with(CudaContext.PDL_TRIGGER_PROPERTY,
                                                    plain ? "exit" : launch, () -> longMixedRun(wide, "true", launch,
                                                            KvCacheManager.REPACK_DEFAULT))))))
                    .foldedSteps();
            assertThat(folded).as("decode steps with the q/k norm folded into the attention")
                    .isGreaterThanOrEqualTo(300);
        }
    }

    /**
     * Returns the backend, whose step counts (balanced grid, folded q/k norm) the caller may ask. {@code launch}: null
     * for the defaults (launches checked), {@code plain} (checked) or a trigger of programmatic launch, which the
     * context must then be running (launches unchecked: a check synchronises after each launch outside a graph). Both
     * engines repack heads or not ({@code repack}). Every decision that differs farther than the bound from the
     * threshold is listed before failing.
     */
    private CudaBackend longMixedRun(Checkpoint dms, String wgmma, String launch, boolean repack) {
        EvictionPolicy policy = EvictionPolicies.create("dms", 0f, dms.config().dms());
        int layers = dms.config().numLayers();
        int kvHeads = dms.config().numKvHeads();
        int compared = 0;
        int near = 0;
        int differ = 0;
        float farthest = 0f;  // the largest distance from the threshold of a CPU logit whose decision differs
        CudaContext context = CudaContext.open(0, launch == null || launch.equals("plain"));
        CudaBackend backend;
        try {
            if (launch != null) {
                assertThat(context.pdlState()).isEqualTo(launch.equals("plain")
                        ? "off (" + CudaContext.PDL_PROPERTY + " is false)" : "on, trigger " + launch);
            }
            backend = SystemProperty.with(MatMulKernel.WGMMA_PROPERTY, wgmma, () -> new CudaBackend(dms, context));
        } catch (RuntimeException | AssertionError e) {
            context.close();  // the backend owns it once made
            throw e;
        }
        List<String> beyond = new ArrayList<>();  // the first 20 decisions that differ by the bound or more
        try (StepExecutor cpu = StepExecutor.allocate(new CpuBackend(dms, 2, true, bf16Activations(dms)), 16, 64L << 20,
                        4, repack);
                StepExecutor gpu = StepExecutor.allocate(backend, 16, 64L << 20, 4, repack)) {

            LongMixedWorkload workload = new LongMixedWorkload(dms.config().vocabSize());
            int[][][] flips = new int[workload.sequences()][layers][kvHeads];  // (sequence, layer, head): differing
            for (int s = 0; s < workload.sequences(); s++) {
                cpu.open(s, policy);
                gpu.open(s, policy);
            }
            for (List<StepExecutor.Work> work = workload.next(); !work.isEmpty(); work = workload.next()) {
                StepOutput want = cpu.run(work);
                StepOutput got = gpu.run(work);
                for (int i = 0; i < work.size(); i++) {
                    int s = (int) work.get(i).sequenceId();
                    SequenceOutput w = want.get(i);
                    SequenceOutput g = got.get(i);
                    int length = work.get(i).tokens().length;
                    for (int c = 0; c < length; c++) {
                        for (int l = 0; l < layers; l++) {
                            for (int h = 0; h < kvHeads; h++) {
                                compared++;
                                if (w.decisions().flagged(c, l, h) != g.decisions().flagged(c, l, h)) {
                                    float logit = w.decisionLogits()[(c * layers + l) * kvHeads + h];
                                    flips[s][l][h]++;
                                    if (Math.abs(logit) >= longRunBound(dms) && beyond.size() < 20) {
                                        beyond.add("sequence " + s + " position " + (workload.fed(s) + c) + " layer "
                                                + l + " head " + h + " (CPU logit " + logit + ")");
                                    }
                                    differ++;
                                    near += Math.abs(logit) < DECISION_NEAR ? 1 : 0;
                                    farthest = Math.max(farthest, Math.abs(logit));
                                }
                            }
                        }
                    }
                }
                workload.advance(work);
            }
            System.out.printf("[gpu] long mixed run (%s, %s activations, wgmma=%s, attention-balance=%s, programmatic"
                    + " launch %s, attention-early %s, repack %s): %d decisions compared, %d differ (%d within 1e-3 of"
                    + " the threshold, the farthest %.4g from it); %d steps on the balanced grid, %d folded%n",
                    dms.directory().getFileName(), bf16Activations(dms) ? "bf16" : "split", wgmma,
                    System.getProperty(CudaBackend.ATTENTION_BALANCE_PROPERTY, "auto"), context.pdlState(),
                    context.attentionEarly(), repack,
                    compared, differ, near, farthest, backend.balancedSteps(), backend.foldedSteps());
            assertThat(beyond).as("decisions that differ " + longRunBound(dms) + " or more from the threshold")
                    .isEmpty();
            for (int s = 0; s < workload.sequences(); s++) {
                int[][] got = gpu.cache().sequence(s).liveCounts();
                int[][] want = cpu.cache().sequence(s).liveCounts();
                for (int l = 0; l < layers; l++) {
                    for (int h = 0; h < kvHeads; h++) {
                        assertThat(Math.abs(got[l][h] - want[l][h])).as("sequence " + s + " layer " + l + " head " + h
                                + ": live count " + got[l][h] + " against the CPU's " + want[l][h] + ", "
                                + flips[s][l][h] + " decisions differing").isLessThanOrEqualTo(flips[s][l][h]);
                    }
                }
                cpu.release(s);
                gpu.release(s);
            }
            assertEquals(0, gpu.statistics().pagesInUse());
        }
        return backend;
    }
}
