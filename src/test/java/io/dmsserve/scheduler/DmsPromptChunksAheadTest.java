package io.dmsserve.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.engine.Backend;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.DelegatingBackend;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.PendingStep;
import io.dmsserve.engine.SequenceOutput;
import io.dmsserve.engine.SequenceStep;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.engine.StepPlan;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.engine.cpu.GoldenCase;
import io.dmsserve.sampling.SamplingParams;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A DMS prompt's chunks submitted each before the one before it is read (EngineLoop#continuation, where the window
 * is longer than the chunk in flight: SequenceKv#canReserveAhead), on the CPU backend and the tiny DMS model (window
 * 16), beside four sequences that decode with their tokens fed back: every output of every step, the chunks' rows
 * included, is what the same steps give one at a time: token, logprobs to the last bit, and every (layer, head)
 * decision. The CPU sums attention slot by slot in page-table order, so a chunk that took other slots would move
 * the logprobs' last bits; ReserveAheadTest checks the slots themselves. Deferred, each step runs when it is read,
 * after the next one was reserved, as on a device that is a step behind. CudaOverlapTest runs the same steps on the
 * GPU.
 */
public class DmsPromptChunksAheadTest {

    private static final Path MODEL = GoldenCase.GOLDEN.resolve("tiny-qwen3-dms");
    private static final Path DENSE = GoldenCase.GOLDEN.resolve("tiny-qwen3");
    public static final int DECODING = 4;
    static final int PROMPT = 70;
    private static Checkpoint checkpoint;

    @BeforeAll
    static void load() {
        checkpoint = Checkpoint.open(MODEL);
    }

    @AfterAll
    static void close() {
        checkpoint.close();
    }

    @Test
    void chunksSubmittedAheadGiveWhatChunksOneAtATimeGive() {
        assertThat(checkpoint.config().dms().windowSize()).isEqualTo(16);
        List<String> inTurn = run(12, false, false);
        List<String> ahead = run(12, true, false);
        List<String> deferred = run(12, true, true);
        // 5 first tokens; 6 chunks of the prompt (12 x 5 + 10) beside 4 decodes, then 8 steps of 5 decodes
        assertThat(inTurn).hasSize(DECODING + 6 * (DECODING + 1) + 8 * (DECODING + 1));
        assertThat(inTurn.stream().filter(line -> line.contains(" token -1 ")).count()).as("chunks that do not sample")
                .isEqualTo(5);
        assertThat(String.join("\n", inTurn)).contains("flags ").containsPattern("flags [01]*1");
        assertThat(ahead).isEqualTo(inTurn);
        assertThat(deferred).isEqualTo(inTurn);
    }

    /**
     * The same workload on the dense checkpoint with a policy that never evicts: chunks of 16 (the last of 6 tokens,
     * sampling five rows where the step before it sampled four), and the decode after the last chunk goes ahead too,
     * since no commit can repack. CudaOverlapTest runs it on the GPU.
     */
    @Test
    void denseChunksAndTheDecodeAfterThemGoAheadAsWell() {
        try (Checkpoint dense = Checkpoint.open(DENSE)) {
            List<String> inTurn = run(new CpuBackend(dense, 2), dense, "none", 16, false);
            List<String> ahead = run(new CpuBackend(dense, 2), dense, "none", 16, true);
            assertThat(inTurn).hasSize(DECODING + 5 * (DECODING + 1) + 8 * (DECODING + 1));
            assertThat(ahead).isEqualTo(inTurn);
        }
    }

    /** A chunk as long as the window: the next may not be reserved before its decisions are committed. */
    @Test
    void aChunkAsLongAsTheWindowKeepsTheNextChunkBack() {
        assertThatThrownBy(() -> run(16, true, false)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("DMS window of 16");
    }

    /**
     * Sequences 0 .. 3 (5 prompt tokens each, one step) decode through the prompt's chunks + 8 steps (14 at chunks of
     * 12); sequence 4's 70-token prompt goes in the first ones as chunks of {@code chunk} tokens, the last sampling
     * (seeded, with logprobs), then it decodes.
     * {@code ahead}: step t + 1 is submitted before step t is read, the decoding sequences' tokens fed back, except
     * behind the last chunk. Every output as a line: sequence, token, logprobs, decisions.
     */
    static List<String> run(int chunk, boolean ahead, boolean deferred) {
        CpuBackend cpu = new CpuBackend(checkpoint, 2);
        DelegatingBackend backend = new DelegatingBackend(cpu) {
            @Override
            public PendingStep submit(StepPlan plan) {
                PendingStep pending = deferred ? () -> inner.step(plan) : inner.submit(plan);
                return pending::await;
            }

            @Override
            public StepOutput step(StepPlan plan) {
                return submit(plan).await();
            }
        };
        return run(backend, checkpoint, "dms", chunk, ahead);
    }

    /**
     * {@link #run(int, boolean, boolean)} on any backend and checkpoint (CudaOverlapTest's GPU runs), every sequence
     * under {@code policy}. Under a policy that never evicts, the step after the last chunk goes ahead as well.
     */
    public static List<String> run(Backend backend, Checkpoint checkpoint, String policy, int chunk, boolean ahead) {
        SamplingParams seeded = new SamplingParams(0.8, 0.9, 0, 0.02, 0, 0, 1, io.dmsserve.sampling.LogitBias.NONE,
                11L, 2);
        SplittableRandom random = new SplittableRandom(31);
        int vocab = checkpoint.config().vocabSize();
        int[] prompt = random.ints(PROMPT, 0, vocab).toArray();
        int chunks = (PROMPT + chunk - 1) / chunk;
        List<String> lines = new ArrayList<>();
        try (StepExecutor engine = StepExecutor.allocate(backend, 4, 16L << 20, 8)) {
            int[] next = new int[DECODING + 1];
            List<StepExecutor.Work> starts = new ArrayList<>();
            for (int s = 0; s <= DECODING; s++) {
                engine.open(s, EvictionPolicies.create(policy, 0f, checkpoint.config().dms()));
            }
            for (int s = 0; s < DECODING; s++) {
                starts.add(new StepExecutor.Work(s, random.ints(5, 0, vocab).toArray(), 5, SamplingParams.GREEDY,
                        3 + s, 0, null, LogitsRequest.NONE));
            }
            for (SequenceOutput out : engine.run(starts).sequences()) {
                next[(int) out.sequenceId()] = out.token();
                lines.add(line(out, checkpoint));
            }
            int steps = chunks + 8;
            boolean evicts = EvictionPolicies.create(policy, 0f, checkpoint.config().dms()).evicts();
            StepExecutor.Submitted pending = null;
            for (int t = 1; t <= steps; t++) {
                StepExecutor.Submitted current = pending != null ? pending
                        : engine.submit(step(t, chunk, chunks, next, prompt, seeded, false));
                // Under DMS not behind the last chunk, as EngineLoop#continuation: its commit, with no step in
                // flight, may repack the sequence (which moves the slots decode then sums over: last bits).
                boolean behindLast = t == chunks && evicts;
                pending = ahead && t < steps && !behindLast
                        ? engine.submit(step(t + 1, chunk, chunks, next, prompt, seeded, true)) : null;
                StepOutput output = engine.await(current);
                for (SequenceOutput out : output.sequences()) {
                    if (out.token() >= 0) {
                        next[(int) out.sequenceId()] = out.token();
                    }
                    lines.add(line(out, checkpoint));
                }
            }
            assertThat(engine.inFlight()).isZero();
            assertThat(engine.cache().sequence(DECODING).processed()).isEqualTo(PROMPT + 8);
            for (int s = 0; s <= DECODING; s++) {
                engine.release(s);
            }
            assertThat(engine.statistics().pagesInUse()).isZero();
        }
        return lines;
    }

    /**
     * Step t: the decoding sequences' tokens (fed back where the step goes ahead); sequence 4's chunk t (t ≤ chunks)
     * or, after its last chunk samples, its token. A chunk goes ahead whatever {@code fedBack}: its tokens are known.
     */
    private static List<StepExecutor.Work> step(int t, int chunk, int chunks, int[] next, int[] prompt,
            SamplingParams seeded, boolean fedBack) {
        List<StepExecutor.Work> work = new ArrayList<>();
        for (int s = 0; s < DECODING; s++) {
            work.add(new StepExecutor.Work(s, new int[] {fedBack ? SequenceStep.FED_BACK : next[s]}, 5,
                    SamplingParams.GREEDY, 3 + s, t, null, LogitsRequest.NONE));
        }
        if (t <= chunks) {
            int from = chunk * (t - 1);
            work.add(new StepExecutor.Work(DECODING, Arrays.copyOfRange(prompt, from, Math.min(prompt.length,
                    from + chunk)), prompt.length, seeded, 9, t == chunks ? 0 : -1, null, LogitsRequest.NONE));
        } else {
            work.add(new StepExecutor.Work(DECODING, new int[] {fedBack ? SequenceStep.FED_BACK : next[DECODING]},
                    prompt.length, seeded, 9, t - chunks, null, LogitsRequest.NONE));
        }
        return work;
    }

    /** Sequence, token, logprobs (exact) and every decision of an output. */
    private static String line(SequenceOutput out, Checkpoint checkpoint) {
        StringBuilder line = new StringBuilder("seq " + out.sequenceId() + " token " + out.token() + " ");
        if (out.logprobs() != null) {
            line.append("logprob ").append(Float.floatToIntBits(out.logprobs().logprob())).append(' ')
                    .append(Arrays.toString(out.logprobs().topIds())).append(' ')
                    .append(Arrays.toString(out.logprobs().topLogprobs())).append(' ');
        }
        line.append("flags ");
        int layers = checkpoint.config().numLayers();
        int kvHeads = checkpoint.config().numKvHeads();
        for (int c = 0; c < out.decisions().length(); c++) {
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < kvHeads; h++) {
                    line.append(out.decisions().flagged(c, l, h) ? '1' : '0');
                }
            }
        }
        return line.toString();
    }
}
