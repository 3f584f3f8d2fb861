package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.SequenceOutput;
import io.dmsserve.engine.cpu.GoldenCase;
import io.dmsserve.sampling.LogitBias;
import io.dmsserve.sampling.SamplingParams;
import io.dmsserve.scheduler.StepExecutor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Decode steps replayed as CUDA graphs give bit for bit what the same steps give launch by launch: the same
 * kernels with the same arguments, only queued differently. The run mixes what changes a graph's signature
 * (a batch that shrinks, page lists that cross a power of two, prompt steps between decode steps) with what must
 * reach a replayed graph through its buffers only (new tokens and positions, seeded draws, penalties counted
 * step by step, a logit bias, an allowed-token mask, logits and logprobs asked for).
 */
@Tag("gpu")
class CudaStepGraphTest {

    private static final int STEPS = 40;

    @Test
    void graphsReplayTheStepsLaunchByLaunchResultsExactly() {
        GpuTest.requireCuda();
        try (Checkpoint dms = Checkpoint.open(GoldenCase.GOLDEN.resolve("tiny-qwen3-dms"))) {
            Run eager = run(dms, false, 0);
            // Replayed by shape without recording, never checked (what a server does between its checks) ...
            Run graphs = run(dms, true, 0);
            // ... and with every such replay recorded anyway and compared with its graph (a mismatch throws).
            Run checked = run(dms, true, 1);
            assertThat(eager.counts).containsExactly(0, 0, 0, 0);
            assertThat(graphs.counts[1]).as("graphs captured").isGreaterThanOrEqualTo(3);
            assertThat(graphs.counts[0]).as("steps run as a graph").isGreaterThanOrEqualTo(STEPS / 2);
            assertThat(graphs.counts[3]).as("steps replayed by shape alone").isGreaterThanOrEqualTo(STEPS / 3);
            assertThat(checked.counts).containsExactly(graphs.counts);
            for (Run run : List.of(graphs, checked)) {
                assertEquals(eager.lines.size(), run.lines.size());
                for (int i = 0; i < eager.lines.size(); i++) {
                    assertEquals(eager.lines.get(i), run.lines.get(i), "output " + i);
                }
                for (int i = 0; i < eager.logits.size(); i++) {
                    assertArrayEquals(eager.logits.get(i), run.logits.get(i), "logits " + i);
                }
            }
            System.out.printf("[gpu] step graphs: %d steps as a graph (%d of them by shape, no recording, each checked"
                    + " in a second run), %d captured, %d decode steps launch by launch; %d outputs identical to the"
                    + " run without graphs%n", graphs.counts[0], graphs.counts[3], graphs.counts[1], graphs.counts[2],
                    eager.lines.size());
        }
    }

    private record Run(List<String> lines, List<float[]> logits, long[] counts) {
    }

    private static Run run(Checkpoint checkpoint, boolean useGraphs, int checkEvery) {
        CudaBackend backend = new CudaBackend(checkpoint, CudaContext.open(0, true), useGraphs, checkEvery);
        int vocab = checkpoint.config().vocabSize();
        int layers = checkpoint.config().numLayers();
        int kvHeads = checkpoint.config().numKvHeads();
        SplittableRandom random = new SplittableRandom(11);
        List<String> lines = new ArrayList<>();
        List<float[]> logits = new ArrayList<>();
        try (StepExecutor engine = StepExecutor.allocate(backend, 4, 16L << 20, 8)) {
            long[] allowed = new long[(vocab + 63) / 64];
            for (int t = 0; t < vocab; t += 3) {
                allowed[t / 64] |= 1L << (t % 64);
            }
            SamplingParams[] sampling = {
                SamplingParams.GREEDY,
                new SamplingParams(0.8, 0.9, 0, 0.02, 0.5, 0.3, 1.1, LogitBias.of(Map.of(5, 2.5f, 17, -1f)), 7L, 5),
                new SamplingParams(1.0, 1, 20, 0, 0, 0, 1, LogitBias.NONE, 9L, 0),
            };
            long[][] masks = {null, null, allowed};
            int[] prompt = {5, 9, 13};
            int[] next = new int[3];
            for (int s = 0; s < 3; s++) {
                engine.open(s, EvictionPolicies.create("dms", 0f, checkpoint.config().dms()));
                int[] tokens = random.ints(prompt[s], 0, vocab).toArray();
                var out = engine.run(List.of(new StepExecutor.Work(s, tokens, prompt[s], sampling[s], 3 + s, 0,
                        masks[s], LogitsRequest.LAST))).sequences().get(0);
                next[s] = out.token();
                record(out, layers, kvHeads, lines, logits);
            }
            boolean thirdOpen = true;
            for (int t = 1; t <= STEPS; t++) {
                if (t == STEPS / 2) {
                    engine.release(2);  // the batch shrinks: a new signature
                    thirdOpen = false;
                }
                if (t == STEPS / 2 + 5) {
                    // A prompt step between decode steps (run launch by launch), then decode resumes.
                    engine.open(3, EvictionPolicies.create("dms", 0f, checkpoint.config().dms()));
                    var out = engine.run(List.of(StepExecutor.Work.greedy(3, random.ints(7, 0, vocab).toArray(),
                            false, LogitsRequest.NONE))).sequences().get(0);
                    record(out, layers, kvHeads, lines, logits);
                    engine.release(3);
                }
                List<StepExecutor.Work> work = new ArrayList<>();
                for (int s = 0; s < (thirdOpen ? 3 : 2); s++) {
                    work.add(new StepExecutor.Work(s, new int[] {next[s]}, prompt[s], sampling[s], 3 + s, t, masks[s],
                            s == 0 ? LogitsRequest.LAST : LogitsRequest.NONE));
                }
                for (SequenceOutput out : engine.run(work).sequences()) {
                    next[(int) out.sequenceId()] = out.token();
                    record(out, layers, kvHeads, lines, logits);
                }
            }
            return new Run(lines, logits, backend.graphCounts());
        }
    }

    /** One output as a line (token, logprobs, every decision flag) and its logits rows, for bit-for-bit comparisons. */
    static void record(SequenceOutput out, int layers, int kvHeads, List<String> lines, List<float[]> logits) {
        StringBuilder line = new StringBuilder("seq " + out.sequenceId() + " token " + out.token());
        if (out.logprobs() != null) {
            line.append(" logprob ").append(out.logprobs().logprob()).append(' ')
                    .append(java.util.Arrays.toString(out.logprobs().topIds())).append(' ')
                    .append(java.util.Arrays.toString(out.logprobs().topLogprobs()));
        }
        line.append(" flags ");
        for (int c = 0; c < out.decisions().length(); c++) {
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < kvHeads; h++) {
                    line.append(out.decisions().flagged(c, l, h) ? '1' : '0');
                }
            }
        }
        lines.add(line.toString());
        if (out.logits() != null) {
            for (float[] row : out.logits()) {
                logits.add(row);
            }
        }
    }
}
