package io.dmsserve.scheduler;

import io.dmsserve.dms.DmsRule;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.ModelConfig;
import io.dmsserve.engine.SequenceOutput;
import io.dmsserve.kvcache.HeadCache;
import io.dmsserve.kvcache.SequenceKv;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the KV cache kept of one prompt continued greedily, per layer and KV head, read from the bookkeeping
 * itself at the end of the run (which positions its slots still hold), with the decision logit behind every
 * token's fate. The admin dashboard's retention view.
 *
 * @param tokens (T) the processed tokens: the prompt and every generated token but the last
 * @param generated (maxNewTokens) the greedy continuation
 * @param rule the rule in force at the last step (threshold, offsets, window)
 * @param held (layer, kvHead, T) whether the cache still holds token k at the end
 * @param flagged (layer, kvHead, T) whether the decision about token k (made at k + 1) flagged it
 * @param decisionLogits (layer, kvHead, T) the logit of the decision about token k, made at position k + 1; NaN
 *     for the last token, about which nothing is decided yet
 * @param live (layer, kvHead) live entries by the bookkeeping's own count (equal to the held tokens)
 */
public record RetentionTrace(int[] tokens, int[] generated, DmsRule rule, boolean[][][] held, boolean[][][] flagged,
        float[][][] decisionLogits, int[][] live) {

    // Outside the scheduler's ids (which count from 1) and GreedyTrace's (from 2^40).
    private static final AtomicLong SEQUENCE_IDS = new AtomicLong(1L << 50);

    /** Engine thread only: runs the prompt as one chunk, then {@code maxNewTokens − 1} greedy decode steps. */
    static RetentionTrace run(StepExecutor executor, EvictionPolicy policy, int[] prompt, int maxNewTokens) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt needs at least one token");
        }
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max new tokens must be at least 1, got " + maxNewTokens);
        }
        ModelConfig config = executor.backend().config();
        int layers = config.numLayers();
        int kvHeads = config.numKvHeads();
        int total = prompt.length + maxNewTokens - 1;
        int[] tokens = Arrays.copyOf(prompt, total);
        int[] generated = new int[maxNewTokens];
        boolean[][][] flagged = new boolean[layers][kvHeads][total];
        float[][][] logits = new float[layers][kvHeads][total];
        for (float[][] layer : logits) {
            for (float[] head : layer) {
                Arrays.fill(head, Float.NaN);
            }
        }
        long id = SEQUENCE_IDS.incrementAndGet();
        executor.open(id, policy);
        try {
            int position = 0;
            int[] chunk = prompt;
            for (int i = 0; i < maxNewTokens; i++) {
                // LAST: the one logits row that makes a backend report the chunk's decision logits as well.
                SequenceOutput out = executor.run(List.of(StepExecutor.Work.greedy(id, chunk, true,
                        LogitsRequest.LAST))).get(0);
                record(out, position, chunk.length, flagged, logits, layers, kvHeads);
                position += chunk.length;
                generated[i] = out.token();
                if (i + 1 < maxNewTokens) {
                    tokens[position] = out.token();
                    chunk = new int[] {out.token()};
                }
            }
            SequenceKv kv = executor.cache().sequence(id);
            boolean[][][] held = new boolean[layers][kvHeads][total];
            int[][] live = kv.liveCounts();
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < kvHeads; h++) {
                    HeadCache head = kv.head(l, h);
                    for (int slot = 0; slot < head.slotCapacity(); slot++) {
                        int p = head.position(slot);
                        if (p >= 0) {
                            held[l][h][p] = true;
                        }
                    }
                }
            }
            return new RetentionTrace(tokens, generated, policy.rule(), held, flagged, logits, live);
        } finally {
            executor.release(id);
        }
    }

    /** Chunk token c (position first + c) decided about position first + c − 1. */
    private static void record(SequenceOutput out, int first, int length, boolean[][][] flagged, float[][][] logits,
            int layers, int kvHeads) {
        float[] raw = out.decisionLogits(); // (tokens, layers, kvHeads), null for a model without the channel
        for (int c = 0; c < length; c++) {
            int about = first + c - 1;
            if (about < 0) {
                continue;
            }
            for (int l = 0; l < layers; l++) {
                for (int h = 0; h < kvHeads; h++) {
                    flagged[l][h][about] = out.decisions().flagged(c, l, h);
                    if (raw != null) {
                        logits[l][h][about] = raw[(c * layers + l) * kvHeads + h];
                    }
                }
            }
        }
    }
}
