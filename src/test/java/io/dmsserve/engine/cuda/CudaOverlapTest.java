package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.DelegatingBackend;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.PendingStep;
import io.dmsserve.engine.SequenceOutput;
import io.dmsserve.engine.SequenceStep;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.engine.StepPlan;
import io.dmsserve.engine.cpu.GoldenCase;
import io.dmsserve.kvcache.PageTableDelta;
import io.dmsserve.sampling.SamplingParams;
import io.dmsserve.scheduler.DmsPromptChunksAheadTest;
import io.dmsserve.scheduler.StepExecutor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Decode steps submitted before the step before them is read, their tokens fed back on the device
 * ({@link SequenceStep#FED_BACK}), give bit for bit what the same steps give one at a time with the tokens sent
 * from the host: tokens, logprobs and every decision flag. The run replays graphs by shape (each replay checked),
 * releases a sequence while a step of it is in flight, and then feeds back from rows that are no longer
 * consecutive.
 */
@Tag("gpu")
class CudaOverlapTest {

    private static final int STEPS = 40;
    private static final int SEQUENCES = 4;

    @Test
    void overlappedStepsGiveWhatStepsOneAtATimeGive() {
        GpuTest.requireCuda();
        try (Checkpoint dms = Checkpoint.open(GoldenCase.GOLDEN.resolve("tiny-qwen3-dms"))) {
            List<String> inTurn = run(dms, false, false);
            List<String> overlapped = run(dms, true, false);
            // The device held back before every step submitted ahead: the host fills step n + 2's inputs while step
            // n + 1's copy of its own is still queued, which the double-buffered host memory must survive. This run
            // also times its steps on the device (dms.cuda.step-timing), which must change nothing.
            List<String> lagging = run(dms, true, true);
            assertThat(inTurn).hasSize(SEQUENCES + STEPS * SEQUENCES - (STEPS - STEPS / 2 - 1));
            for (int i = 0; i < inTurn.size(); i++) {
                assertEquals(inTurn.get(i), overlapped.get(i), "output " + i);
                assertEquals(inTurn.get(i), lagging.get(i), "output " + i + ", the device lagging");
            }
            System.out.printf("[gpu] overlapped steps: %d outputs of %d decode steps identical to steps run one at a"
                    + " time, also with the device held back before each step%n", overlapped.size(), STEPS);
        }
    }

    /**
     * A prompt's chunks of 16 submitted each before the one before it is read (a dense checkpoint, a policy that never
     * evicts: EngineLoop#continuation), beside four sequences that decode with their tokens fed back, and decode fed
     * back after the prompt's last chunk, give bit for bit what the same steps give one at a time with every token
     * sent from the host: every output's token and logprobs. The last chunk queued ahead samples five rows where the
     * step before it sampled four (the scratch must hold them without growing under a pending step).
     * DmsPromptChunksAheadTest's workload, which the CPU backend passes the same way.
     */
    @Test
    void promptChunksSubmittedAheadGiveWhatChunksOneAtATimeGive() {
        GpuTest.requireCuda();
        try (Checkpoint dense = Checkpoint.open(GoldenCase.GOLDEN.resolve("tiny-qwen3"))) {
            List<String> inTurn = DmsPromptChunksAheadTest.run(new CudaBackend(dense, CudaContext.open(0, false), true,
                    1), dense, "none", 16, false);
            List<String> ahead = DmsPromptChunksAheadTest.run(new CudaBackend(dense, CudaContext.open(0, false), true,
                    1), dense, "none", 16, true);
            assertThat(inTurn).hasSize(DECODING + 13 * (DECODING + 1));
            assertThat(ahead).isEqualTo(inTurn);
            System.out.printf("[gpu] prompt chunks submitted ahead: %d outputs identical to chunks one at a time%n",
                    ahead.size());
        }
    }

    /**
     * A DMS prompt's chunks of 12 submitted each before the one before it is read (the tiny DMS model's window is 16:
     * SequenceKv#canReserveAhead; EngineLoop#continuation), beside four DMS sequences decoding with their tokens fed
     * back, give bit for bit what the same steps give one at a time: every output's token, logprobs and decisions,
     * the chunks' rows included (DmsPromptChunksAheadTest's workload, which the CPU backend passes the same way).
     */
    @Test
    void dmsPromptChunksSubmittedAheadGiveWhatChunksOneAtATimeGive() {
        GpuTest.requireCuda();
        try (Checkpoint dms = Checkpoint.open(GoldenCase.GOLDEN.resolve("tiny-qwen3-dms"))) {
            List<String> inTurn = DmsPromptChunksAheadTest.run(new CudaBackend(dms, CudaContext.open(0, false), true,
                    1), dms, "dms", 12, false);
            List<String> ahead = DmsPromptChunksAheadTest.run(new CudaBackend(dms, CudaContext.open(0, false), true,
                    1), dms, "dms", 12, true);
            assertThat(inTurn).hasSize(DECODING + 14 * (DECODING + 1));
            assertThat(ahead).isEqualTo(inTurn);
            System.out.printf("[gpu] DMS prompt chunks submitted ahead: %d outputs identical to chunks one at a time%n",
                    ahead.size());
        }
    }

    private static final int DECODING = DmsPromptChunksAheadTest.DECODING;

    /**
     * A page-table delta the device refuses fails its own step, not the step in flight before it: the second step's
     * page-table kernel runs after the first step's error word was copied back, so the first returns its tokens; the
     * second fails naming the kernel; after {@link StepExecutor#abandon} a new sequence runs and the word reads 0.
     */
    @Test
    void aRefusedDeltaFailsItsOwnStepNotTheStepInFlightBeforeIt() {
        GpuTest.requireCuda();
        try (Checkpoint dms = Checkpoint.open(GoldenCase.GOLDEN.resolve("tiny-qwen3-dms"));
                CudaBackend backend = new CudaBackend(dms, CudaContext.open(0, false), true, 1)) {
            AtomicBoolean poison = new AtomicBoolean();
            DelegatingBackend front = new DelegatingBackend(backend) {
                @Override
                public StepOutput step(StepPlan plan) {
                    return submit(plan).await();
                }

                @Override
                public PendingStep submit(StepPlan plan) {
                    if (!poison.getAndSet(false)) {
                        return inner.submit(plan);
                    }
                    PageTableDelta d = plan.pageTables();
                    int[] writes = Arrays.copyOf(d.pageWrites(), d.pageWrites().length + 3);
                    writes[writes.length - 1] = 1 << 30;  // table 0, entry 0 := a page past the pool
                    return inner.submit(new StepPlan(plan.sequences(), new PageTableDelta(writes, d.lengthWrites(),
                            d.freshPages(), d.pageCopies(), d.slotMoves())));
                }
            };
            try (StepExecutor engine = StepExecutor.allocate(front, 4, 16L << 20, 8)) {
                engine.open(0, EvictionPolicies.create("dms", 0f, dms.config().dms()));
                int next = engine.run(List.of(StepExecutor.Work.greedy(0, new int[] {5, 9, 13, 17, 21}, true,
                        LogitsRequest.NONE))).get(0).token();
                StepExecutor.Submitted first = engine.submit(List.of(StepExecutor.Work.greedy(0, new int[] {next},
                        true, LogitsRequest.NONE)));
                poison.set(true);
                StepExecutor.Submitted second = engine.submit(List.of(StepExecutor.Work.greedy(0,
                        new int[] {SequenceStep.FED_BACK}, true, LogitsRequest.NONE)));
                assertThat(engine.inFlight()).isEqualTo(2);
                int token = engine.await(first).get(0).token();
                assertThat(token).as("the step in flight before the refused one").isNotNegative();
                CudaException failure = assertThrows(CudaException.class,
                        () -> engine.await(second));
                assertThat(failure.getMessage()).contains("dms_page_table_apply: a page out of range");
                engine.abandon();
                engine.release(0);
                engine.open(1, EvictionPolicies.create("dms", 0f, dms.config().dms()));
                int after = engine.run(List.of(StepExecutor.Work.greedy(1, new int[] {5, 9, 13}, true,
                        LogitsRequest.NONE))).get(0).token();
                assertThat(after).isNotNegative();
                assertThat(backend.kvMetadata().tableErrors()).isZero();
                System.out.printf("[gpu] a refused delta failed its own step (%s); the step before it returned token"
                        + " %d%n", failure.getMessage(), token);
            }
        }
    }

    /**
     * @param lag queue a 2 GB memset (about half a millisecond) on the stream before each step submitted ahead, with
     *     the steps timed on the device: the memsets must show in the idle gaps the timing reports between them
     */
    static List<String> run(Checkpoint checkpoint, boolean overlap, boolean lag) {
        return run(checkpoint, overlap, lag, folded -> { });
    }

    /** {@link #run(Checkpoint, boolean, boolean)}, telling {@code foldedSteps} the backend's {@code foldedSteps()}. */
    static List<String> run(Checkpoint checkpoint, boolean overlap, boolean lag, LongConsumer foldedSteps) {
        CudaContext context = CudaContext.open(0, false);
        CudaBackend backend = SystemProperty.with(CudaBackend.STEP_TIMING_PROPERTY, String.valueOf(lag),
                () -> new CudaBackend(checkpoint, context, true, 1));
        DeviceBuffer delay = lag ? context.allocate(2L << 30) : null;
        int vocab = checkpoint.config().vocabSize();
        int layers = checkpoint.config().numLayers();
        int kvHeads = checkpoint.config().numKvHeads();
        SplittableRandom random = new SplittableRandom(23);
        List<String> lines = new ArrayList<>();
        try (StepExecutor engine = StepExecutor.allocate(backend, 4, 16L << 20, 8)) {
            SamplingParams[] sampling = {
                SamplingParams.GREEDY,
                new SamplingParams(0.8, 0.9, 0, 0.02, 0, 0, 1, io.dmsserve.sampling.LogitBias.NONE, 7L, 3),
                new SamplingParams(1.0, 1, 20, 0, 0, 0, 1, io.dmsserve.sampling.LogitBias.NONE, 9L, 0),
                SamplingParams.GREEDY,
            };
            int[] next = new int[SEQUENCES];
            for (int s = 0; s < SEQUENCES; s++) {
                engine.open(s, EvictionPolicies.create("dms", 0f, checkpoint.config().dms()));
                int[] tokens = random.ints(5 + 3 * s, 0, vocab).toArray();
                SequenceOutput out = engine.run(List.of(new StepExecutor.Work(s, tokens, tokens.length, sampling[s],
                        3 + s, 0, null, LogitsRequest.NONE))).sequences().get(0);
                next[s] = out.token();
                CudaStepGraphTest.record(out, layers, kvHeads, lines, new ArrayList<>());
            }
            // Sequence 1's last step is STEPS / 2 + 1; the overlapped run releases it while that step is in flight.
            StepExecutor.Submitted ahead = null;
            for (int t = 1; t <= STEPS; t++) {
                List<Integer> batch = batch(t);
                StepExecutor.Submitted current = ahead != null ? ahead
                        : engine.submit(work(batch, next, sampling, t, false));
                if (delay != null && overlap && t < STEPS) {
                    CudaContext.check(jcuda.driver.JCudaDriver.cuMemsetD8Async(delay.pointer(), (byte) t,
                            delay.bytes(), context.stream()), "cuMemsetD8Async");
                }
                ahead = overlap && t < STEPS ? engine.submit(work(batch(t + 1), next, sampling, t + 1, true)) : null;
                StepOutput output = engine.await(current);
                for (int i = 0; i < batch.size(); i++) {
                    SequenceOutput out = output.sequences().get(i);
                    next[(int) out.sequenceId()] = out.token();
                    CudaStepGraphTest.record(out, layers, kvHeads, lines, new ArrayList<>());
                }
                if (t == (overlap ? STEPS / 2 : STEPS / 2 + 1)) {
                    engine.release(1);  // with overlap, while its last step (STEPS / 2 + 1) is in flight
                }
            }
            assertThat(engine.inFlight()).isZero();
            if (delay != null) {
                delay.close();  // every step that followed it was read
            }
            if (overlap) {
                assertThat(backend.graphCounts()[3]).as("steps replayed by shape").isGreaterThan(STEPS / 2);
            }
            CudaBackend.StepTimes times = backend.takeStepTimes();
            if (lag) {
                // Every step awaited, prefill ones included, has a gap before it but the first; STEPS - 1 of those
                // gaps hold a 2 GB memset, which no device writes in under 0.2 ms.
                assertThat(times.gaps()).isEqualTo(SEQUENCES + STEPS - 1);
                assertThat(times.deviceNanos()).isPositive();
                assertThat(times.gapNanos()).as("idle gaps with the memsets in them")
                        .isGreaterThan((STEPS - 1) * 200_000L);
                System.out.printf("[gpu] step timing: %.3f ms of device time a step, %.3f ms before each (a 2 GB"
                        + " memset in most)%n", times.deviceNanos() / 1e6 / (SEQUENCES + STEPS),
                        times.gapNanos() / 1e6 / times.gaps());
            } else {
                assertThat(times.gaps()).as("untimed").isZero();
                assertThat(times.deviceNanos()).isZero();
            }
            foldedSteps.accept(backend.foldedSteps());
            return lines;
        }
    }

    /** Sequences 0 .. 3, without 1 after step STEPS / 2 + 1. */
    private static List<Integer> batch(int t) {
        List<Integer> batch = new ArrayList<>();
        for (int s = 0; s < SEQUENCES; s++) {
            if (s != 1 || t <= STEPS / 2 + 1) {
                batch.add(s);
            }
        }
        return batch;
    }

    private static List<StepExecutor.Work> work(List<Integer> batch, int[] next, SamplingParams[] sampling, int t,
            boolean fedBack) {
        List<StepExecutor.Work> work = new ArrayList<>();
        for (int s : batch) {
            int token = fedBack ? SequenceStep.FED_BACK : next[s];
            work.add(new StepExecutor.Work(s, new int[] {token}, 5 + 3 * s, sampling[s], 3 + s, t, null,
                    LogitsRequest.NONE));
        }
        return work;
    }
}
