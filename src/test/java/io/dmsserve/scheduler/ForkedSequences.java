package io.dmsserve.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Backend;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.sampling.LogitBias;
import io.dmsserve.sampling.SamplingParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * The fork's end-to-end check on any backend (the CPU here, CUDA in CudaForkTest): a prefilled DMS sequence is
 * copied three times between steps (one a copy of a copy before any step ran, so its pages are copied in a second
 * round), a fourth time from a copy in the middle of decoding, and every copy then decodes in the same batches as its
 * source: the same greedy tokens and the same live tokens per (layer, kv head) at every step, because its keys,
 * values, positions and flags are its source's, in pages of its own. Afterwards the pool is empty again.
 */
public final class ForkedSequences {

    /** What the run saw: decode steps, tokens of the source, evictions before the fork, pages a fork copied. */
    public record Outcome(int steps, int[] sourceTokens, long evictedBeforeFork, int pagesCopied) {
    }

    private ForkedSequences() {
    }

    /**
     * Runs the check on a backend whose KV store is not yet allocated (pages of 4 tokens); the caller closes it.
     *
     * @param threshold the DMS threshold (the tiny golden DMS model flags often at 0)
     */
    public static Outcome check(Backend backend, float threshold) {
        StepExecutor engine = StepExecutor.allocate(backend, 4, 2048L * backend.kvBytesPerPage(4), 8);
        EvictionPolicy policy = EvictionPolicies.create("dms", threshold, backend.config().dms());
        Random random = new Random(11);
        int vocab = backend.config().vocabSize();
        int[] prompt = random.ints(75, 0, vocab).toArray();
        engine.open(1, policy);
        int next = 0;
        for (int at = 0; at < prompt.length; at += 16) {
            int[] chunk = Arrays.copyOfRange(prompt, at, Math.min(prompt.length, at + 16));
            next = engine.run(List.of(StepExecutor.Work.greedy(1, chunk, at + 16 >= prompt.length,
                    LogitsRequest.NONE))).get(0).token();
        }
        long evicted = Arrays.stream(engine.statistics().evictedTokens()).flatMapToLong(Arrays::stream).sum();
        int sourcePages = engine.cache().pagesHeld(1);
        engine.fork(1, 2);
        engine.fork(2, 3);   // a copy of a copy whose pages are not copied yet
        engine.fork(1, 4);
        List<Long> ids = new ArrayList<>(List.of(1L, 2L, 3L, 4L));
        int[] next4 = {next, next, next, next};
        List<Integer> sourceTokens = new ArrayList<>();
        int steps = 24;
        for (int t = 0; t < steps; t++) {
            if (t == 9) {
                engine.fork(3, 5);   // from a copy, in the middle of decoding
                ids.add(5L);
                next4 = Arrays.copyOf(next4, 5);
                next4[4] = next4[2];
            }
            List<StepExecutor.Work> work = new ArrayList<>();
            for (int i = 0; i < ids.size(); i++) {
                work.add(StepExecutor.Work.greedy(ids.get(i), new int[] {next4[i]}, true, LogitsRequest.NONE));
            }
            StepOutput out = engine.run(work);
            int[][] source = engine.cache().sequence(1).liveCounts();
            for (int i = 0; i < ids.size(); i++) {
                next4[i] = out.get(i).token();
                assertEquals(next4[0], next4[i], "sequence " + ids.get(i) + " at decode step " + t);
                int[][] live = engine.cache().sequence(ids.get(i)).liveCounts();
                for (int l = 0; l < live.length; l++) {
                    assertArrayEquals(source[l], live[l], "live tokens of sequence " + ids.get(i) + ", layer " + l
                            + ", step " + t);
                }
                assertEquals(engine.cache().sequence(1).processed(), engine.cache().sequence(ids.get(i)).processed());
            }
            sourceTokens.add(next4[0]);
        }
        // Penalty counts are the backend's, by row, and a fork does not copy them.
        SamplingParams penalized = new SamplingParams(0, 1, 0, 0, 0.5, 0, 1, LogitBias.NONE, null, -1);
        int token = next4[2];
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> engine.run(List.of(
                new StepExecutor.Work(3, new int[] {token}, Integer.MAX_VALUE, penalized, 0, 0, null,
                        LogitsRequest.NONE))));
        assertTrue(refused.getMessage().contains("penalt"), refused.getMessage());
        for (long id : ids) {
            engine.release(id);
        }
        assertEquals(0, engine.cache().pagesInUse(), "every page back in the pool");
        return new Outcome(steps, sourceTokens.stream().mapToInt(Integer::intValue).toArray(), evicted, sourcePages);
    }
}
