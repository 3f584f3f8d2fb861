package io.dmsserve.sampling;

import java.util.Arrays;
import java.util.Map;

/**
 * The reference semantics of sampling, a pure function of one row of logits: every backend must choose
 * the same token from the same logits and draw (the CUDA kernel mirrors this file).
 *
 * <ol>
 *   <li>Processed logits: disallowed tokens (mask) to −∞; logit bias added; repetition penalty on tokens of
 *       the prompt or output (positive logits divided by it, others multiplied); then frequency · count
 *       and presence · [count > 0] subtracted for generated tokens.</li>
 *   <li>Greedy (temperature 0 or top-k 1): the highest processed logit, the lowest id on ties.</li>
 *   <li>Otherwise candidates ranked by falling logit, ties by lower id; weights exp((l − max) / T) in
 *       double; min-p keeps weights ≥ min_p · the largest; top-k keeps k; top-p keeps the smallest prefix
 *       whose share of the kept weight reaches top_p. With u from {@link Draws#uniform}, the token is the
 *       first kept one where u · (kept weight) minus the weights so far drops below 0.</li>
 *   <li>Logprobs: log-softmax of the processed logits divided by T (1 when greedy), over the vocabulary.</li>
 * </ol>
 */
public final class Sampler {

    private Sampler() {
    }

    /**
     * @param logits (vocab) raw logits; not modified
     * @param counts the sequence's token counts; needed when {@link SamplingParams#penalized()}
     * @param allowed bit t of {@code allowed[t >> 6]} allows token t; null allows every token
     * @param seed the sequence's seed
     * @param drawIndex which draw of the sequence this is (its number of generated tokens so far)
     */
    public static Sample sample(float[] logits, SamplingParams params, TokenCounts counts, long[] allowed, long seed,
            long drawIndex) {
        float[] x = process(logits, params, counts, allowed);
        int token = params.greedy() ? Greedy.argmax(x) : draw(x, params, Draws.uniform(seed, drawIndex));
        return new Sample(token, params.wantsLogprobs() ? logprobs(x, params, token) : null);
    }

    /** Step 1: the logits the choice is made from (a copy when anything changes them). */
    static float[] process(float[] logits, SamplingParams params, TokenCounts counts, long[] allowed) {
        if (allowed == null && params.logitBias().isEmpty() && !params.penalized()) {
            return logits;
        }
        float[] x = logits.clone();
        if (allowed != null) {
            boolean any = false;
            for (int t = 0; t < x.length; t++) {
                if ((t >> 6) >= allowed.length || (allowed[t >> 6] & (1L << t)) == 0) {
                    x[t] = Float.NEGATIVE_INFINITY;
                } else {
                    any = true;
                }
            }
            if (!any) {
                throw new IllegalStateException("the allowed-token mask allows no token of the vocabulary");
            }
        }
        params.logitBias().apply(x);
        if (params.penalized()) {
            if (counts == null) {
                throw new IllegalArgumentException("penalties need the sequence's token counts");
            }
            float r = (float) params.repetitionPenalty();
            if (r != 1) {
                for (int t : counts.seen()) {
                    if (t < x.length) {
                        x[t] = x[t] > 0 ? x[t] / r : x[t] * r;
                    }
                }
            }
            for (Map.Entry<Integer, Integer> e : counts.output().entrySet()) {
                int t = e.getKey();
                if (t < x.length) {
                    x[t] -= (float) (params.frequencyPenalty() * e.getValue() + params.presencePenalty());
                }
            }
        }
        return x;
    }

    private static int draw(float[] x, SamplingParams params, double u) {
        int vocab = x.length;
        boolean allTokens = (params.topK() == 0 || params.topK() >= vocab) && params.topP() >= 1 && params.minP() == 0;
        int[] candidates = allTokens ? null
                : ranked(x, params.topK() == 0 || params.topK() >= vocab ? vocab : params.topK());
        int count = candidates == null ? vocab : candidates.length;
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < count; i++) {
            max = Math.max(max, x[id(candidates, i)]);
        }
        double[] weights = new double[count];
        for (int i = 0; i < count; i++) {
            weights[i] = Math.exp((x[id(candidates, i)] - max) / params.temperature());
        }
        int kept = count;
        if (params.minP() > 0) {
            // ranked: weights fall, the first is the largest (1)
            double floor = params.minP() * weights[0];
            kept = 1;
            while (kept < count && weights[kept] >= floor) {
                kept++;
            }
        }
        if (params.topP() < 1) {
            double sum = 0;
            for (int i = 0; i < kept; i++) {
                sum += weights[i];
            }
            double cumulative = 0;
            for (int i = 0; i < kept; i++) {
                cumulative += weights[i] / sum;
                if (cumulative >= params.topP()) {
                    kept = i + 1;
                    break;
                }
            }
        }
        double total = 0;
        int lastPositive = 0;
        for (int i = 0; i < kept; i++) {
            total += weights[i];
            if (weights[i] > 0) {
                lastPositive = i;
            }
        }
        double remaining = u * total;
        for (int i = 0; i < kept; i++) {
            remaining -= weights[i];
            if (remaining < 0) {
                return id(candidates, i);
            }
        }
        return id(candidates, lastPositive);
    }

    private static Logprobs logprobs(float[] x, SamplingParams params, int token) {
        double temperature = params.greedy() ? 1 : params.temperature();
        double max = Double.NEGATIVE_INFINITY;
        for (float v : x) {
            max = Math.max(max, v / temperature);
        }
        double sum = 0;
        for (float v : x) {
            sum += Math.exp(v / temperature - max);
        }
        double logZ = max + Math.log(sum);
        int n = params.topLogprobs();
        int[] top = n == 0 ? new int[0] : ranked(x, Math.min(n, x.length));
        float[] topLogprobs = new float[top.length];
        for (int i = 0; i < top.length; i++) {
            topLogprobs[i] = (float) (x[top[i]] / temperature - logZ);
        }
        return new Logprobs((float) (x[token] / temperature - logZ), top, topLogprobs);
    }

    private static int id(int[] candidates, int i) {
        return candidates == null ? i : candidates[i];
    }

    /** The k token ids with the highest logits, highest first, ties by lower id. */
    static int[] ranked(float[] logits, int k) {
        // Sort keys: logit bits made monotonic, inverted so ascending order means falling logit, id below.
        long[] keys = new long[logits.length];
        for (int i = 0; i < logits.length; i++) {
            int bits = Float.floatToIntBits(logits[i]);
            int monotonic = bits < 0 ? ~bits : bits | Integer.MIN_VALUE;
            int descending = ~monotonic ^ Integer.MIN_VALUE; // unsigned order to signed order
            keys[i] = (long) descending << 32 | i;
        }
        Arrays.sort(keys);
        int[] out = new int[k];
        for (int i = 0; i < k; i++) {
            out[i] = (int) keys[i];
        }
        return out;
    }
}
