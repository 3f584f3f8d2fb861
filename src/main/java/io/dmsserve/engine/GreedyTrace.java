package io.dmsserve.engine;

import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.sampling.Greedy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A prompt run through a backend and continued greedily, with everything DMS did along the way: what the
 * {@code inspect} command prints and what the golden tests compare.
 *
 * <p>The prompt is processed (at once, or in chunks), then {@code maxNewTokens} tokens are chosen by
 * argmax; every chosen token but the last is fed back, so T = prompt + maxNewTokens − 1 tokens are
 * processed in the end.
 *
 * @param promptLogits (prompt positions, vocab), or only the last position unless all were asked for
 * @param decisions (layer, kvHead) token positions flagged, ascending
 * @param kvLive (layer, kvHead) live slots at the end
 * @param evicted (layer) tokens evicted, over the layer's heads
 */
public record GreedyTrace(int[] greedy, float[][] promptLogits, int[][][] decisions, int[][] kvLive,
        long[] evicted, int processed) {

    private static final AtomicLong SEQUENCE_IDS = new AtomicLong(1L << 40);

    /**
     * @param prefillChunk tokens per prefill step; 0 or less processes the prompt in one step
     * @param allPromptLogits keep the logits of every prompt position (else the last only)
     */
    public static GreedyTrace run(Backend backend, EvictionPolicy policy, int[] prompt, int maxNewTokens,
            int prefillChunk, boolean allPromptLogits) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt needs at least one token");
        }
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max new tokens must be at least 1, got " + maxNewTokens);
        }
        ModelConfig config = backend.config();
        List<List<Integer>> flagged = new ArrayList<>();
        for (int i = 0; i < config.numLayers() * config.numKvHeads(); i++) {
            flagged.add(new ArrayList<>());
        }
        long id = SEQUENCE_IDS.incrementAndGet();
        backend.open(id, policy);
        try {
            int chunk = prefillChunk <= 0 ? prompt.length : prefillChunk;
            List<float[]> logits = new ArrayList<>();
            for (int start = 0; start < prompt.length; start += chunk) {
                int[] tokens = Arrays.copyOfRange(prompt, start, Math.min(prompt.length, start + chunk));
                StepResult result = backend.step(List.of(new StepRequest(id, tokens, allPromptLogits, true))).get(0);
                collect(result, flagged, config);
                logits.addAll(Arrays.asList(result.logits()));
            }
            float[][] promptLogits = allPromptLogits ? logits.toArray(float[][]::new)
                    : new float[][] {logits.get(logits.size() - 1)};
            int[] greedy = new int[maxNewTokens];
            greedy[0] = Greedy.argmax(logits.get(logits.size() - 1));
            for (int i = 1; i < maxNewTokens; i++) {
                StepResult result = backend.step(List.of(new StepRequest(id, new int[] {greedy[i - 1]}, false, true)))
                        .get(0);
                collect(result, flagged, config);
                greedy[i] = Greedy.argmax(result.lastLogits());
            }
            int processed = backend.processed(id);
            int[][] live = backend.liveCounts(id);
            long[] evicted = new long[config.numLayers()];
            int[][][] decisions = new int[config.numLayers()][config.numKvHeads()][];
            for (int l = 0; l < config.numLayers(); l++) {
                for (int h = 0; h < config.numKvHeads(); h++) {
                    // Only eviction removes a processed token from a head.
                    evicted[l] += processed - live[l][h];
                    decisions[l][h] = flagged.get(l * config.numKvHeads() + h).stream()
                            .mapToInt(Integer::intValue).sorted().toArray();
                }
            }
            return new GreedyTrace(greedy, promptLogits, decisions, live, evicted, processed);
        } finally {
            backend.release(id);
        }
    }

    private static void collect(StepResult result, List<List<Integer>> flagged, ModelConfig config) {
        for (int l = 0; l < config.numLayers(); l++) {
            for (int h = 0; h < config.numKvHeads(); h++) {
                for (int position : result.flagged()[l][h]) {
                    flagged.get(l * config.numKvHeads() + h).add(position);
                }
            }
        }
    }
}
