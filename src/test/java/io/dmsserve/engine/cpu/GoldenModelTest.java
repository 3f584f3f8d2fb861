package io.dmsserve.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.scheduler.GreedyTrace;
import io.dmsserve.scheduler.StepExecutor;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CPU reference engine against golden files from an independent implementation (tools/golden):
 * logits within 1e-5 relative to the row's largest logit (the worst measured is 2.2e-6: fp32 against float64),
 * decisions, greedy tokens and live counts exactly.
 */
class GoldenModelTest {

    static final String DENSE = "tiny-qwen3";
    static final String DMS = "tiny-qwen3-dms";
    private static final double TOLERANCE = 1e-5;

    private static Checkpoint dense;
    private static Checkpoint dms;

    @BeforeAll
    static void open() {
        dense = Checkpoint.open(GoldenCase.GOLDEN.resolve(DENSE));
        dms = Checkpoint.open(GoldenCase.GOLDEN.resolve(DMS));
    }

    @AfterAll
    static void close() {
        dense.close();
        dms.close();
    }

    static Stream<GoldenCase> cases() {
        return Stream.concat(GoldenCase.load(DENSE).stream(), GoldenCase.load(DMS).stream());
    }

    private static Checkpoint checkpoint(GoldenCase golden) {
        return golden.model().equals(DMS) ? dms : dense;
    }

    private static StepExecutor backend(Checkpoint checkpoint) {
        return StepExecutor.allocate(new CpuBackend(checkpoint, 2), 4, 64L << 20, 16);
    }

    private static EvictionPolicy policy(GoldenCase golden, Checkpoint checkpoint) {
        return EvictionPolicies.create(golden.policy(), golden.threshold(), checkpoint.config().dms());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void promptAtOnceMatchesGolden(GoldenCase golden) {
        try (StepExecutor backend = backend(checkpoint(golden))) {
            GreedyTrace trace = GreedyTrace.run(backend, policy(golden, checkpoint(golden)), golden.promptIds(),
                    golden.maxNewTokens(), 0, true);
            assertLogits(golden.promptLogits(), trace.promptLogits(), golden.toString());
            assertMatches(golden, trace);
        }
    }

    /** Token by token and in odd chunks: the same decisions, cache and greedy tokens (DESIGN.md §3 step 8). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void chunkedPrefillMatchesGolden(GoldenCase golden) {
        for (int chunk : new int[] {1, 7}) {
            try (StepExecutor backend = backend(checkpoint(golden))) {
                GreedyTrace trace = GreedyTrace.run(backend, policy(golden, checkpoint(golden)), golden.promptIds(),
                        golden.maxNewTokens(), chunk, true);
                assertLogits(golden.promptLogits(), trace.promptLogits(), golden + " chunk " + chunk);
                assertMatches(golden, trace);
            }
        }
    }

    /** Sequences batched in one step see only their own cache: each row equals its golden logits. */
    @Test
    void batchedSequencesMatchTheirGoldenLogits() {
        List<GoldenCase> cases = GoldenCase.load(DMS);
        try (StepExecutor backend = backend(dms)) {
            List<StepExecutor.Work> work = new ArrayList<>();
            for (int i = 0; i < cases.size(); i++) {
                backend.open(i, policy(cases.get(i), dms));
                work.add(StepExecutor.Work.greedy(i, cases.get(i).promptIds(), true, LogitsRequest.ALL));
            }
            StepOutput results = backend.run(work);
            for (int i = 0; i < cases.size(); i++) {
                assertEquals(i, results.get(i).sequenceId());
                assertLogits(cases.get(i).promptLogits(), results.get(i).logits(), "batched " + cases.get(i));
                assertEquals(cases.get(i).greedy()[0], results.get(i).token(), "first greedy token of " + cases.get(i));
                backend.release(i);
            }
            assertEquals(0, backend.statistics().pagesInUse());
        }
    }

    /** The decision logits come back with the logits, and are what the golden decisions follow from. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void decisionLogitsExplainTheDecisions(GoldenCase golden) {
        try (StepExecutor backend = backend(checkpoint(golden))) {
            GreedyTrace trace = GreedyTrace.run(backend, policy(golden, checkpoint(golden)), golden.promptIds(),
                    golden.maxNewTokens(), 5, true);
            if (!golden.model().equals(DMS)) {
                assertEquals(null, trace.decisionLogits(), "a model without the channel has no decision logits");
                return;
            }
            float[][][] logits = trace.decisionLogits();
            for (int l = 0; l < logits.length; l++) {
                for (int h = 0; h < logits[l].length; h++) {
                    List<Integer> flagged = new ArrayList<>();
                    for (int p = 1; p < trace.processed(); p++) {
                        if (golden.policy().equals("dms") && logits[l][h][p] > golden.threshold()) {
                            flagged.add(p - 1);
                        }
                    }
                    assertArrayEquals(golden.decisions()[l][h], flagged.stream().mapToInt(Integer::intValue).toArray(),
                            golden + ": layer " + l + " head " + h);
                }
            }
        }
    }

    private static void assertMatches(GoldenCase golden, GreedyTrace trace) {
        assertArrayEquals(golden.greedy(), trace.greedy(), golden + ": greedy tokens");
        assertEquals(golden.decisions().length, trace.decisions().length);
        for (int l = 0; l < golden.decisions().length; l++) {
            for (int h = 0; h < golden.decisions()[l].length; h++) {
                assertArrayEquals(golden.decisions()[l][h], trace.decisions()[l][h],
                        golden + ": flagged positions of layer " + l + " head " + h);
                assertEquals(golden.kvLive()[l][h], trace.kvLive()[l][h],
                        golden + ": live slots of layer " + l + " head " + h);
            }
        }
        assertArrayEquals(golden.evicted(), trace.evicted(), golden + ": evicted per layer");
        assertEquals(golden.promptIds().length + golden.maxNewTokens() - 1, trace.processed());
    }

    static void assertLogits(double[][] expected, float[][] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": positions");
        for (int p = 0; p < expected.length; p++) {
            assertEquals(expected[p].length, actual[p].length, what + ": vocab");
            double scale = 1.0;
            for (double value : expected[p]) {
                scale = Math.max(scale, Math.abs(value));
            }
            double worst = 0;
            for (int i = 0; i < expected[p].length; i++) {
                worst = Math.max(worst, Math.abs(expected[p][i] - actual[p][i]));
            }
            assertTrue(worst <= TOLERANCE * scale, what + ": position " + p + " differs by " + worst
                    + " (allowed " + TOLERANCE * scale + ")");
        }
    }
}
