package io.dmsserve.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.engine.Backend;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.cpu.CpuBackend;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Repacking on the CPU backend changes where tokens lie, not what the model decides: the tiny DMS model, three
 * sequences prefilled in chunks and decoded together, with repacking on and off, give the same greedy tokens and the
 * same live tokens per (layer, kv head) at every step of this workload, while the repacked pool holds fewer pages.
 * A prompt chunk that another follows is not repacked (the next chunk refills its free slots): each sequence holds the
 * same pages after those chunks either way, and fewer only from its last chunk, which samples, on.
 * (Logits may differ in their last bits: after a repack new tokens take the tail, not the holes, so the attention's
 * sums change order; RepackLongRunTest bounds that over a long run.)
 */
public class RepackedSequencesTest {

    private static final Path MODEL = Path.of("src/test/resources/golden/tiny-qwen3-dms");

    /**
     * Per step: every sequence's token, then its live counts; the pages in use after the prefill; and the pages each
     * sequence holds after each of its prompt chunks but the last.
     */
    public record Run(List<int[]> tokens, List<int[][]> live, int pagesAfterPrefill, List<Integer> chunkPages) {
    }

    @Test
    void repackedAndUnrepackedRunsDecodeAlike() {
        try (Checkpoint checkpoint = Checkpoint.open(MODEL)) {
            Run on;
            Run off;
            try (CpuBackend backend = new CpuBackend(checkpoint, 2)) {
                on = run(backend, true);
            }
            try (CpuBackend backend = new CpuBackend(checkpoint, 2)) {
                off = run(backend, false);
            }
            assertEquals(off.tokens().size(), on.tokens().size());
            for (int t = 0; t < on.tokens().size(); t++) {
                assertArrayEquals(off.tokens().get(t), on.tokens().get(t), "step " + t);
                for (int l = 0; l < on.live().get(t).length; l++) {
                    assertArrayEquals(off.live().get(t)[l], on.live().get(t)[l], "step " + t + ", row " + l);
                }
            }
            assertTrue(on.pagesAfterPrefill() < off.pagesAfterPrefill(),
                    on.pagesAfterPrefill() + " pages repacked against " + off.pagesAfterPrefill());
            assertEquals(off.chunkPages(), on.chunkPages(), "pages held after the chunks that another follows");
        }
    }

    /** The workload on a backend whose KV store is not yet allocated (the caller closes it). */
    public static Run run(Backend backend, boolean repack) {
        StepExecutor engine = StepExecutor.allocate(backend, 4, 2048L * backend.kvBytesPerPage(4), 4, repack);
        Random random = new Random(3);
        int[] next = new int[3];
        List<Integer> chunkPages = new ArrayList<>();
        for (int s = 0; s < 3; s++) {
            engine.open(s, EvictionPolicies.create("dms", 0f, backend.config().dms()));
            int[] prompt = random.ints(90 + 17 * s, 0, backend.config().vocabSize()).toArray();
            for (int at = 0; at < prompt.length; at += 24) {
                int[] chunk = Arrays.copyOfRange(prompt, at, Math.min(prompt.length, at + 24));
                boolean last = at + 24 >= prompt.length;
                next[s] = engine.run(List.of(StepExecutor.Work.greedy(s, chunk, last, LogitsRequest.NONE))).get(0)
                        .token();
                if (!last) {
                    chunkPages.add(engine.cache().pagesHeld(s));
                }
            }
        }
        int pages = engine.cache().pagesInUse();
        List<int[]> tokens = new ArrayList<>();
        List<int[][]> live = new ArrayList<>();
        for (int t = 0; t < 40; t++) {
            List<StepExecutor.Work> work = new ArrayList<>();
            for (int s = 0; s < 3; s++) {
                work.add(StepExecutor.Work.greedy(s, new int[] {next[s]}, true, LogitsRequest.NONE));
            }
            var out = engine.run(work);
            for (int s = 0; s < 3; s++) {
                next[s] = out.get(s).token();
                live.add(engine.cache().sequence(s).liveCounts());
            }
            tokens.add(next.clone());
        }
        List<int[][]> perStep = new ArrayList<>();
        for (int t = 0; t < tokens.size(); t++) {
            int[][] rows = new int[3 * live.get(0).length][];
            for (int s = 0; s < 3; s++) {
                for (int l = 0; l < live.get(0).length; l++) {
                    rows[s * live.get(0).length + l] = live.get(3 * t + s)[l];
                }
            }
            perStep.add(rows);
        }
        return new Run(tokens, perStep, pages, chunkPages);
    }
}
