package io.dmsserve.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.cpu.CpuBackend;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Forks on the CPU backend (ForkedSequences): every copy decodes as its source, and the source as the same prompt
 * decoded alone by a fresh engine (the copies change nothing of it).
 */
class ForkedSequencesTest {

    private static final Path MODEL = Path.of("src/test/resources/golden/tiny-qwen3-dms");

    @Test
    void copiesDecodeAsTheirSourceAndTheSourceAsIfAlone() {
        try (Checkpoint checkpoint = Checkpoint.open(MODEL)) {
            ForkedSequences.Outcome outcome;
            try (CpuBackend backend = new CpuBackend(checkpoint, 2)) {
                outcome = ForkedSequences.check(backend, 0f);
            }
            assertTrue(outcome.evictedBeforeFork() > 0, "the source evicted before the fork");
            assertTrue(outcome.pagesCopied() > 0);
            try (CpuBackend backend = new CpuBackend(checkpoint, 2)) {
                assertArrayEquals(alone(backend, outcome.steps()), outcome.sourceTokens());
            }
        }
    }

    /** The same prompt (ForkedSequences' seed and chunks) decoded greedily by a sequence alone. */
    private static int[] alone(CpuBackend backend, int steps) {
        StepExecutor engine = StepExecutor.allocate(backend, 4, 2048L * backend.kvBytesPerPage(4), 8);
        int[] prompt = new Random(11).ints(75, 0, backend.config().vocabSize()).toArray();
        engine.open(1, EvictionPolicies.create("dms", 0f, backend.config().dms()));
        int next = 0;
        for (int at = 0; at < prompt.length; at += 16) {
            int[] chunk = Arrays.copyOfRange(prompt, at, Math.min(prompt.length, at + 16));
            next = engine.run(List.of(StepExecutor.Work.greedy(1, chunk, at + 16 >= prompt.length,
                    LogitsRequest.NONE))).get(0).token();
        }
        int[] tokens = new int[steps];
        for (int t = 0; t < steps; t++) {
            next = engine.run(List.of(StepExecutor.Work.greedy(1, new int[] {next}, true, LogitsRequest.NONE)))
                    .get(0).token();
            tokens[t] = next;
        }
        return tokens;
    }
}
