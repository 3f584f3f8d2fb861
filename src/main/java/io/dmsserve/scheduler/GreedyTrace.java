package io.dmsserve.scheduler;

import io.dmsserve.dms.Decisions;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.ModelConfig;
import io.dmsserve.engine.SequenceOutput;
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
 * @param decisionLogits (layer, kvHead, position) the decision logit computed at each processed position, when
 *     all logits were asked for and the backend reports them; else null
 * @param greedyLogits (maxNewTokens, vocab) the logits each greedy token was chosen from, when all logits were
 *     asked for; else null
 */
public record GreedyTrace(int[] greedy, float[][] promptLogits, int[][][] decisions, int[][] kvLive,
        long[] evicted, int processed, float[][][] decisionLogits, float[][] greedyLogits) {

    private static final AtomicLong SEQUENCE_IDS = new AtomicLong(1L << 40);

    /**
     * @param prefillChunk tokens per prefill step; 0 or less processes the prompt in one step
     * @param allPromptLogits keep the logits of every prompt position (else the last only)
     */
    public static GreedyTrace run(StepExecutor executor, EvictionPolicy policy, int[] prompt, int maxNewTokens,
            int prefillChunk, boolean allPromptLogits) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt needs at least one token");
        }
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max new tokens must be at least 1, got " + maxNewTokens);
        }
        ModelConfig config = executor.backend().config();
        List<List<Integer>> flagged = new ArrayList<>();
        for (int i = 0; i < config.numLayers() * config.numKvHeads(); i++) {
            flagged.add(new ArrayList<>());
        }
        long id = SEQUENCE_IDS.incrementAndGet();
        executor.open(id, policy);
        try {
            int chunk = prefillChunk <= 0 ? prompt.length : prefillChunk;
            List<float[]> decisionRows = new ArrayList<>(); // per step: (tokens, layers, kvHeads)
            List<float[]> logits = new ArrayList<>();
            int position = 0;
            int token = -1;
            for (int start = 0; start < prompt.length; start += chunk) {
                int[] tokens = Arrays.copyOfRange(prompt, start, Math.min(prompt.length, start + chunk));
                boolean last = start + chunk >= prompt.length;
                SequenceOutput out = step(executor, id, tokens, last,
                        allPromptLogits ? LogitsRequest.ALL : last ? LogitsRequest.LAST : LogitsRequest.NONE);
                collect(out.decisions(), position, flagged, config);
                decisionRows.add(out.decisionLogits());
                position += tokens.length;
                if (out.logits() != null) {
                    logits.addAll(Arrays.asList(out.logits()));
                }
                token = out.token();
            }
            float[][] promptLogits = allPromptLogits ? logits.toArray(float[][]::new)
                    : new float[][] {logits.get(logits.size() - 1)};
            int[] greedy = new int[maxNewTokens];
            greedy[0] = token;
            float[][] greedyLogits = allPromptLogits ? new float[maxNewTokens][] : null;
            if (allPromptLogits) {
                greedyLogits[0] = logits.get(logits.size() - 1);
            }
            for (int i = 1; i < maxNewTokens; i++) {
                SequenceOutput out = step(executor, id, new int[] {greedy[i - 1]}, true,
                        allPromptLogits ? LogitsRequest.LAST : LogitsRequest.NONE);
                collect(out.decisions(), position++, flagged, config);
                decisionRows.add(out.decisionLogits());
                greedy[i] = out.token();
                if (allPromptLogits) {
                    greedyLogits[i] = out.logits()[0];
                }
            }
            int processed = executor.cache().sequence(id).processed();
            int[][] live = executor.cache().sequence(id).liveCounts();
            long[] evicted = new long[config.numLayers()];
            int[][][] decisions = new int[config.numLayers()][config.numKvHeads()][];
            for (int l = 0; l < config.numLayers(); l++) {
                for (int h = 0; h < config.numKvHeads(); h++) {
                    // Only eviction removes a processed token from a head.
                    evicted[l] += processed - live[l][h];
                    decisions[l][h] = flagged.get(l * config.numKvHeads() + h).stream()
                            .mapToInt(Integer::intValue).toArray();
                }
            }
            return new GreedyTrace(greedy, promptLogits, decisions, live, evicted, processed,
                    decisionLogits(decisionRows, processed, config), greedyLogits);
        } finally {
            executor.release(id);
        }
    }

    /** The per-step (tokens, layers, kvHeads) rows as (layer, kvHead, position); null if any step had none. */
    private static float[][][] decisionLogits(List<float[]> rows, int processed, ModelConfig config) {
        if (rows.isEmpty() || rows.contains(null)) {
            return null;
        }
        int layers = config.numLayers();
        int kvHeads = config.numKvHeads();
        float[][][] out = new float[layers][kvHeads][processed];
        int position = 0;
        for (float[] row : rows) {
            int tokens = row.length / (layers * kvHeads);
            for (int t = 0; t < tokens; t++, position++) {
                for (int l = 0; l < layers; l++) {
                    for (int h = 0; h < kvHeads; h++) {
                        out[l][h][position] = row[(t * layers + l) * kvHeads + h];
                    }
                }
            }
        }
        return out;
    }

    private static SequenceOutput step(StepExecutor executor, long id, int[] tokens, boolean sample,
            LogitsRequest logits) {
        return executor.run(List.of(StepExecutor.Work.greedy(id, tokens, sample, logits))).get(0);
    }

    private static void collect(Decisions decisions, int first, List<List<Integer>> flagged, ModelConfig config) {
        for (int l = 0; l < config.numLayers(); l++) {
            for (int h = 0; h < config.numKvHeads(); h++) {
                for (int position : decisions.flaggedPositions(first, l, h)) {
                    flagged.get(l * config.numKvHeads() + h).add(position);
                }
            }
        }
    }
}
